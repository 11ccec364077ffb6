// Start and stop the real servers (FerretDB, Temporal dev server) and the project's own
// processes as child processes, with readiness checks and clean shutdown.
// Used by scripts/run.ts (npm start), scripts/test.ts (npm test), benches and fault tests.
// Binaries come from .tools/bin, installed by scripts/setup.sh.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { config } from '../lib/config';
import { SEARCH_ATTRIBUTES } from '../lib/search-attributes';

/** Ports handed out here lie below the kernel's ephemeral range (32768–60999 on Linux), so an outgoing
 *  connection's local port cannot take one between this check and the server's bind. */
const PICK_FROM = 20_000;
const PICK_TO = 32_000;
const picked = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port free on 127.0.0.1 right now, not handed out before by this process, outside `avoid`. */
export async function freePort(avoid: ReadonlySet<number> = new Set()): Promise<number> {
  for (;;) {
    const port = PICK_FROM + Math.floor(Math.random() * (PICK_TO - PICK_FROM));
    if (picked.has(port) || avoid.has(port) || !(await bindable(port))) continue;
    picked.add(port);
    return port;
  }
}

export type ToolName = 'temporal' | 'temporal-test-server' | 'ferretdb';

/** Absolute path of a binary installed by scripts/setup.sh; throws a clear error if it is missing. */
export function toolPath(name: ToolName): string {
  const p = path.join(config.toolsDir, 'bin', name);
  try {
    fs.accessSync(p, fs.constants.X_OK);
  } catch {
    throw new Error(`${name} binary not found at ${p}: run \`npm run setup\` (scripts/setup.sh) to install it`);
  }
  return p;
}

/** Absolute path of the Temporal time-skipping test server (for TestWorkflowEnvironment.createTimeSkipping). */
export function temporalTestServerPath(): string {
  return toolPath('temporal-test-server');
}

export interface Proc {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves with the exit code (or the signal name) when the process has exited. */
  exited: Promise<number | string>;
  running(): boolean;
  /** SIGTERM to the process group, SIGKILL after timeoutMs; resolves once it has exited. */
  stop(timeoutMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
// Safety net: never leave children behind when this process exits on an error path.
process.on('exit', () => {
  for (const c of live) killGroup(c, 'SIGKILL');
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal); // children run in their own process group (detached)
  } catch {
    /* already gone */
  }
}

export interface StartProcessOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Spawns a child in its own process group (so a terminal Ctrl-C reaches only the parent, which
 * then stops children in order), with stdout and stderr appended to logFile.
 */
export function startProcess(o: StartProcessOptions): Proc {
  fs.mkdirSync(path.dirname(o.logFile), { recursive: true });
  const fd = fs.openSync(o.logFile, 'a');
  fs.writeSync(fd, `\n=== ${new Date().toISOString()} ${o.command} ${o.args.join(' ')}\n`);
  let child: ChildProcess;
  try {
    child = spawn(o.command, o.args, {
      cwd: o.cwd ?? config.rootDir,
      env: o.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: true,
    });
  } finally {
    fs.closeSync(fd);
  }
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (err) => {
      done = true;
      live.delete(child);
      fs.appendFileSync(o.logFile, `spawn failed: ${err.message}\n`);
      resolve(`spawn error: ${err.message}`);
    });
    child.once('exit', (code, signal) => {
      done = true;
      live.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  live.add(child);
  return {
    name: o.name,
    pid: child.pid ?? -1,
    logFile: o.logFile,
    exited,
    running: () => !done,
    async stop(timeoutMs = 15_000) {
      if (done) return;
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The last `lines` lines of a log file (for error messages). */
export function logTail(file: string, lines = 30): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

/** Rejects with a message naming the port and the setting that changes it when the port is taken. */
export async function assertPortFree(port: number, what: string, setting: string, host = '127.0.0.1'): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(
              `Port ${port} on ${host} (${what}) is already in use: stop the process using it, ` +
                `or pick another port with the setting ${setting}=<port>`,
            )
          : new Error(`Cannot check port ${port} for ${what} (setting ${setting}): ${err.message}`),
      );
    });
    srv.listen(port, host, () => srv.close(() => resolve()));
  });
}

function canConnect(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` until it returns true. Fails (and stops the process) if the process exits first
 * or the deadline passes; the error carries the tail of the process log.
 */
export async function waitReady(proc: Proc, what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!proc.running()) {
      throw new Error(`${proc.name} exited (${String(await proc.exited)}) before ${what}; log ${proc.logFile}:\n${logTail(proc.logFile)}`);
    }
    if (await check()) return;
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`${proc.name}: no ${what} after ${timeoutMs / 1000} s; log ${proc.logFile}:\n${logTail(proc.logFile)}`);
    }
    await sleep(250);
  }
}

/** Resolves true once something accepts TCP connections on host:port. */
export const portOpen = (port: number, host = '127.0.0.1') => () => canConnect(port, host);

export interface FerretOptions {
  port: number;
  /** SQLite files go here (created if missing). */
  dataDir: string;
  /** Where ferretdb.log goes; default <dataDir>/../logs. */
  logDir?: string;
  /** Setting named in the "port in use" error; default FERRETDB_PORT. */
  portSetting?: string;
  /** host:port of FerretDB's metrics/pprof HTTP handler (`/debug/metrics`); default none. */
  debugAddr?: string;
  /** SQLite's `synchronous` pragma (FerretDB's default: full, an fsync of the WAL per commit). */
  synchronous?: 'full' | 'normal' | 'off';
}
export interface FerretServer extends Proc {
  port: number;
  /** mongodb://127.0.0.1:<port>/ (append the database name). */
  uri: string;
}

/** FerretDB with the SQLite backend on 127.0.0.1:port; resolves once it accepts connections. */
export async function startFerret(o: FerretOptions): Promise<FerretServer> {
  const bin = toolPath('ferretdb');
  await assertPortFree(o.port, 'FerretDB', o.portSetting ?? 'FERRETDB_PORT');
  const dataDir = path.resolve(o.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const proc = startProcess({
    name: 'ferretdb',
    command: bin,
    args: [
      '--handler=sqlite',
      `--sqlite-url=file:${dataDir}/${o.synchronous ? `?_pragma=synchronous(${o.synchronous})` : ''}`,
      `--listen-addr=127.0.0.1:${o.port}`,
      `--state-dir=${dataDir}`,
      `--debug-addr=${o.debugAddr ?? '-'}`, // by default no metrics/pprof port (one more to collide)
      '--telemetry=disable',
      '--log-level=warn',
    ],
    logFile: path.join(o.logDir ?? path.join(dataDir, '..', 'logs'), 'ferretdb.log'),
    env: { ...process.env, DO_NOT_TRACK: '1' },
  });
  await waitReady(proc, `FerretDB listening on port ${o.port}`, portOpen(o.port), 30_000);
  return { ...proc, port: o.port, uri: `mongodb://127.0.0.1:${o.port}/` };
}

export interface TemporalDevOptions {
  port: number;
  /** Web UI port; omit for no UI (--headless). */
  uiPort?: number;
  /** SQLite file (its directory is created). Flags like --search-attribute are ignored for an existing file. */
  dbFile: string;
  namespace?: string;
  /** Where temporal.log goes; default <dir of dbFile>/logs. */
  logDir?: string;
  /** Settings named in "port in use" errors; default TEMPORAL_PORT / TEMPORAL_UI_PORT. */
  portSetting?: string;
  uiPortSetting?: string;
  /** Set on the one restart that loads search attributes added after the server started. */
  restarted?: boolean;
}
export interface TemporalServer extends Proc {
  port: number;
  /** host:port for Connection.connect({ address }) */
  address: string;
  namespace: string;
  uiUrl?: string;
}

/** Runs the Temporal CLI; resolves with { ok, out } (stdout+stderr). */
function temporalCli(args: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile(toolPath('temporal'), args, { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ ok: !err, out: `${stdout}${stderr}${err && !stderr ? err.message : ''}` }),
    );
  });
}

/**
 * `temporal server start-dev` on 127.0.0.1:port with SQLite at dbFile; resolves once
 * `temporal operator cluster health` answers and the project's search attributes are registered.
 */
export async function startTemporalDev(o: TemporalDevOptions): Promise<TemporalServer> {
  toolPath('temporal');
  const namespace = o.namespace ?? 'default';
  await assertPortFree(o.port, 'Temporal frontend', o.portSetting ?? 'TEMPORAL_PORT');
  if (o.uiPort !== undefined) await assertPortFree(o.uiPort, 'Temporal Web UI', o.uiPortSetting ?? 'TEMPORAL_UI_PORT');
  const dbFile = path.resolve(o.dbFile);
  fs.mkdirSync(path.dirname(dbFile), { recursive: true });
  const address = `127.0.0.1:${o.port}`;
  const args = [
    'server', 'start-dev',
    '--db-filename', dbFile,
    '--ip', '127.0.0.1',
    '--port', String(o.port),
    ...(o.uiPort !== undefined ? ['--ui-port', String(o.uiPort), '--ui-disable-news-fetch'] : ['--headless']),
    ...(namespace !== 'default' ? ['--namespace', namespace] : []),
    '--sqlite-pragma', 'journal_mode=WAL',
    '--sqlite-pragma', 'synchronous=OFF',
    // The project's search attributes are registered as the server starts, so they are in its cache
    // from the first workflow on: no forced refresh of that cache on every read (the dev server's
    // default, which cost the server CPU on every search-attribute upsert).
    ...SEARCH_ATTRIBUTES.flatMap((sa) => ['--search-attribute', `${sa.name}=${sa.type}`]),
    '--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=false',
    // One partition per task queue (default 4): one dev server and its workers gain nothing from a
    // spread queue, and with four, tasks and polls are forwarded between partitions (benchmark 2:
    // half the matching AddWorkflowTask calls and task writes per attempt).
    '--dynamic-config-value', 'matching.numTaskqueueReadPartitions=1',
    '--dynamic-config-value', 'matching.numTaskqueueWritePartitions=1',
    '--log-level', 'warn',
  ];
  const proc = startProcess({
    name: 'temporal',
    command: toolPath('temporal'),
    args,
    logFile: path.join(o.logDir ?? path.join(path.dirname(dbFile), 'logs'), 'temporal.log'),
  });
  const health = async () => (await temporalCli(['operator', 'cluster', 'health', '--address', address])).ok;
  await waitReady(proc, `Temporal health on ${address}`, health, 90_000);
  let added = false;
  try {
    const listed = await temporalCli(['operator', 'search-attribute', 'list', '--address', address, '--namespace', namespace, '-o', 'json']);
    if (!listed.ok) throw new Error(`Listing search attributes failed: ${listed.out.trim()}`);
    const have = (JSON.parse(listed.out.slice(listed.out.indexOf('{'), listed.out.lastIndexOf('}') + 1)) as { customAttributes?: Record<string, string> }).customAttributes ?? {};
    for (const sa of SEARCH_ATTRIBUTES) {
      if (have[sa.name] === sa.listedType) continue;
      if (have[sa.name]) throw new Error(`Search attribute ${sa.name} is ${have[sa.name]} in this database, the code needs ${sa.type}`);
      const r = await temporalCli([
        'operator', 'search-attribute', 'create',
        '--address', address, '--namespace', namespace, '--name', sa.name, '--type', sa.type,
      ]);
      if (!r.ok) throw new Error(`Registering search attribute ${sa.name}=${sa.type} failed: ${r.out.trim()}`);
      added = true;
    }
  } catch (err) {
    await proc.stop();
    throw err;
  }
  // One added now (an existing database, which ignores `--search-attribute`, and a new attribute in
  // lib/search-attributes.ts) is not in the server's cache yet, which is no longer refreshed on every
  // read: a restart loads it.
  if (added && !o.restarted) {
    await proc.stop();
    return startTemporalDev({ ...o, restarted: true });
  }
  return {
    ...proc,
    port: o.port,
    address,
    namespace,
    uiUrl: o.uiPort !== undefined ? `http://localhost:${o.uiPort}` : undefined,
  };
}
