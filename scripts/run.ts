// npm start: FerretDB, Temporal dev server, FreeSWITCH simulator, worker and REST API as child
// processes wired to each other. Ctrl-C / SIGTERM stops them in reverse order; data stays in
// .data/ (DIALER_DATA_DIR). A simulator, worker or API that exits on its own is restarted with
// backoff (scripts/supervise.ts) and the console says so; if FerretDB or Temporal dies, its log
// tail is printed and everything stops (exit 1).
// Settings: lib/config.ts. MONGODB_URI / TEMPORAL_ADDRESS set = use that server, start none.
// Every step prints what it does and how long it took; the banner comes only when the worker is
// connected to Temporal and ESL and the API's /health is OK (lib/readiness.ts).
import fs from 'node:fs';
import path from 'node:path';
import { config } from '../lib/config';
import { notReady, readWorkerStatus, type StackState } from '../lib/readiness';
import {
  assertPortFree, logTail, portOpen, startFerret, startProcess, startTemporalDev, waitReady, type Proc,
} from './servers';
import { supervise, type Supervised } from './supervise';

const dataDir = config.dataDir;
const logDir = path.join(dataDir, 'logs');
const workerStatusFile = path.join(dataDir, 'worker-status.json');
/** How long the stack may take to become ready before the banner is printed with what is missing. */
const READY_TIMEOUT_MS = 120_000;

const say = (line: string) => console.log(line);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Runs one start-up step: says what starts (and how long it usually takes), repeats a "still …"
 * line every 10 s while it runs, and says when it is done.
 */
async function step<T>(what: string, usually: string, run: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  say(`starting ${what} (usually ${usually}) ...`);
  const timer = setInterval(() => say(`  still starting ${what} ... ${Math.round((Date.now() - t0) / 1000)} s`), 10_000);
  try {
    const r = await run();
    say(`  ${what} up in ${secs(Date.now() - t0)}`);
    return r;
  } finally {
    clearInterval(timer);
  }
}

async function apiHealth(url: string): Promise<StackState['apiHealth']> {
  try {
    const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    return { status: r.status, body: (await r.json().catch(() => undefined)) as never };
  } catch (err) {
    const e = err as Error & { cause?: Error };
    return { error: e.cause?.message ?? e.message };
  }
}

/** Waits until notReady() is empty (saying what it waits for every 10 s unless quiet); returns what is still missing at the deadline. */
async function waitStackReady(workerPid: () => number | undefined, apiUrl: string, timeoutMs = READY_TIMEOUT_MS, quiet = false): Promise<string[]> {
  const t0 = Date.now();
  let lastSaid = t0;
  for (;;) {
    const waiting = notReady({
      workerPid: workerPid() ?? -1,
      worker: readWorkerStatus(workerStatusFile),
      eslAddress: `${config.esl.host}:${config.esl.port}`,
      apiUrl,
      apiHealth: await apiHealth(apiUrl),
    });
    if (!waiting.length || Date.now() - t0 > timeoutMs || stopping) return waiting;
    if (!quiet && Date.now() - lastSaid >= 10_000) {
      lastSaid = Date.now();
      say(`  waiting ${Math.round((Date.now() - t0) / 1000)} s for ${waiting.join('; ')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
/** Servers (FerretDB, Temporal): their death stops everything. */
const procs: Proc[] = [];
/** In start order, servers and supervised apps. */
const stopOrder: { name: string; running(): boolean; stop(): Promise<void> }[] = [];
let stopping = false;
/** The worker's supervisor: readiness asks it for the pid now running. */
let workerApp: Supervised | undefined;

async function stopAll(code: number): Promise<never> {
  stopping = true;
  for (const p of [...stopOrder].reverse()) {
    if (!p.running()) continue;
    console.log(`stopping ${p.name} ...`);
    await p.stop();
  }
  console.log(code === 0 ? 'Durable Dialer stopped.' : `Durable Dialer stopped (exit ${code}).`);
  process.exit(code);
}

function addServer(proc: Proc): void {
  procs.push(proc);
  stopOrder.push({ name: proc.name, running: () => proc.running(), stop: () => proc.stop() });
}

/** A project process run with tsx (node --import tsx, one process, so signals reach it directly),
 *  restarted with backoff when it exits on its own. */
async function startApp(name: string, entry: string, env: NodeJS.ProcessEnv, port?: { port: number; setting: string }) {
  if (port) await assertPortFree(port.port, name, port.setting);
  const start = () =>
    startProcess({ name, command: process.execPath, args: ['--import', 'tsx', entry], env, logFile: path.join(logDir, `${name}.log`) });
  const { supervised, first } = await supervise({ name, start, say: (line) => console.log(`${new Date().toISOString()} ${line}`) });
  if (name === 'worker') workerApp = supervised;
  stopOrder.push({ name, running: () => true, stop: () => supervised.stop() }); // also cancels a pending restart
  if (port) await waitReady(first, `${name} listening on port ${port.port}`, portOpen(port.port), 60_000);
  return first;
}

async function main(): Promise<void> {
  const entries = [
    ...(config.simulator.enabled ? [['simulator', 'simulator/main.ts']] : []),
    ['worker', 'worker.ts'],
    ['api', 'api/main.ts'],
  ];
  const missing = entries.filter(([, f]) => !fs.existsSync(path.join(config.rootDir, f)));
  if (missing.length) {
    throw new Error(
      `entry file(s) missing: ${missing.map(([n, f]) => `${f} (${n})`).join(', ')}` +
        (config.simulator.enabled ? '; SIMULATOR=off skips the simulator' : ''),
    );
  }
  fs.mkdirSync(logDir, { recursive: true });
  const lines: string[] = [];

  const tStart = Date.now();
  let mongodbUri = config.mongodbUri;
  if (config.ferretdb.embedded) {
    const ferret = await step(`FerretDB on port ${config.ferretdb.port}`, '1 s', () =>
      startFerret({ port: config.ferretdb.port, dataDir: path.join(dataDir, 'ferret'), logDir }));
    addServer(ferret);
    mongodbUri = `${ferret.uri}dialer`;
    lines.push(`FerretDB      ${mongodbUri}  (data ${path.join(dataDir, 'ferret')}, log ${ferret.logFile})`);
  } else {
    lines.push(`MongoDB       ${mongodbUri}  (external, from MONGODB_URI)`);
  }

  let temporalAddress = config.temporal.address;
  if (config.temporal.embedded) {
    const temporal = await step(`the Temporal dev server on port ${config.temporal.port}`, '5-15 s', () =>
      startTemporalDev({
        port: config.temporal.port,
        uiPort: config.temporal.uiPort,
        dbFile: path.join(dataDir, 'temporal.db'),
        namespace: config.temporal.namespace,
        logDir,
      }));
    addServer(temporal);
    temporalAddress = temporal.address;
    lines.push(`Temporal      ${temporal.address} namespace ${temporal.namespace}  (db ${path.join(dataDir, 'temporal.db')}, log ${temporal.logFile})`);
    lines.push(`Temporal UI   ${temporal.uiUrl}`);
  } else {
    lines.push(`Temporal      ${temporalAddress}  (external, from TEMPORAL_ADDRESS)`);
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DIALER_DATA_DIR: dataDir,
    MONGODB_URI: mongodbUri,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: config.temporal.namespace,
    TEMPORAL_TASK_QUEUE: config.temporal.taskQueue,
    ESL_HOST: config.esl.host,
    ESL_PORT: String(config.esl.port),
    ESL_PASSWORD: config.esl.password,
    API_HOST: config.api.host,
    API_PORT: String(config.api.port),
    // The simulator posts CDRs (mod_json_cdr) to the worker's endpoint (services/cdr.ts).
    SIMULATOR_CDR_URL: config.cdr.enabled ? `http://${config.cdr.host}:${config.cdr.port}/cdr` : '',
    DIALER_WORKER_STATUS_FILE: workerStatusFile,
  };
  fs.rmSync(workerStatusFile, { force: true });
  if (config.simulator.enabled) {
    await assertPortFree(config.simulator.controlPort, 'simulator control', 'SIMULATOR_CONTROL_PORT');
    const sim = await step(`the FreeSWITCH simulator on port ${config.esl.port}`, '2-5 s', () =>
      startApp('simulator', 'simulator/main.ts', env, { port: config.esl.port, setting: 'ESL_PORT' }));
    lines.push(`Simulator     ESL ${config.esl.host}:${config.esl.port}, control port ${config.simulator.controlPort}  (log ${sim.logFile})`);
  } else {
    lines.push(`Simulator     off (SIMULATOR=off); ESL at ${config.esl.host}:${config.esl.port}`);
  }
  const { host: mHost, workerPort, apiPort } = config.metrics;
  if (workerPort > 0) await assertPortFree(workerPort, 'worker metrics', 'WORKER_METRICS_PORT', mHost);
  if (apiPort > 0) await assertPortFree(apiPort, 'API metrics', 'API_METRICS_PORT', mHost);
  // The worker bundles its workflows while the API starts; both are waited for below.
  say('starting the worker (bundles the workflows, then connects to Temporal and ESL; usually 5-20 s) ...');
  const worker = await startApp('worker', 'worker.ts', env);
  lines.push(`Worker        task queue ${config.temporal.taskQueue}  (log ${worker.logFile})`);
  const apiUrl = `http://${config.api.host}:${config.api.port}`;
  const api = await step(`the REST API on port ${config.api.port}`, '2-5 s', () =>
    startApp('api', 'api/main.ts', env, { port: config.api.port, setting: 'API_PORT' }));
  lines.push(`REST API      ${apiUrl}  (log ${api.logFile})`);
  lines.push(`Console       ${apiUrl}/console  (sign in with a credential: npm run credentials -- create --domain <name>)`);
  const metricsUrl = (port: number) => (port > 0 ? `http://${mHost}:${port}/metrics` : 'off');
  lines.push(`Metrics       worker ${metricsUrl(workerPort)}, API ${metricsUrl(apiPort)}  (Prometheus, no credentials)`);

  const tReady = Date.now();
  const notYet = await waitStackReady(() => workerApp?.current()?.pid, apiUrl);
  if (notYet.length) {
    console.log(['', `Durable Dialer started but is NOT READY after ${secs(Date.now() - tReady)}: still waiting for`,
      ...notYet.map((m) => `  - ${m}`), `Logs: ${logDir}`, ...lines.map((l) => `  ${l}`), '', 'Ctrl-C stops everything.'].join('\n'));
    // Say so when it gets there (e.g. FreeSWITCH comes up later).
    void waitStackReady(() => workerApp?.current()?.pid, apiUrl, Number.POSITIVE_INFINITY, true).then((w) => {
      if (!w.length && !stopping) say(`${new Date().toISOString()} Durable Dialer is now ready: worker connected to Temporal and ESL, API healthy.`);
    });
    return;
  }
  say(`  worker connected to Temporal and ESL, API healthy (${secs(Date.now() - tReady)} more)`);
  console.log(['', `Durable Dialer is running (ready in ${secs(Date.now() - tStart)}):`, ...lines.map((l) => `  ${l}`), '',
    'Next: README "Try it" (create a credential, a campaign, a member). Ctrl-C stops everything.'].join('\n'));
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    console.log(`\n${sig}: stopping`);
    void stopAll(0);
  });
}

main().then(
  () => {
    // A server that dies on its own takes the stack down (the apps are supervised).
    for (const p of procs) {
      void p.exited.then((how) => {
        if (stopping) return;
        console.error(`\n${p.name} exited unexpectedly (${String(how)}); last lines of ${p.logFile}:\n${logTail(p.logFile)}`);
        void stopAll(1);
      });
    }
  },
  (err: unknown) => {
    if (stopping) return;
    console.error(`npm start failed: ${err instanceof Error ? err.message : String(err)}`);
    void stopAll(1);
  },
);
