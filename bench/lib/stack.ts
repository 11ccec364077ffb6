// The whole dialer stack for the dispatch benchmarks (issue 5), on fresh temporary data so a bench
// never touches `npm start` data: FerretDB (SQLite) and a Temporal dev server as child processes on
// their own ports, the dialer worker (worker.ts, unchanged) as a child process, the REST API
// (createApp) and the FreeSWITCH simulator in this process. Every process keeps ONE Mongo
// connection (config.mongodbPoolSize = 1, see lib/config.ts).
//   BENCH_FERRETDB_PORT (27217), BENCH_TEMPORAL_PORT (7433): server ports.
//   BENCH_KEEP=1: keep the temporary directory (logs, CPU profiles, databases).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { apiRequest } from '../../scripts/api-request';
import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import mongoose from 'mongoose';
import pino from 'pino';
import { createApp, type DialerApi } from '../../api/app';
import { memberDocument, queueStored } from '../../api/member-docs';
import { connectMongo } from '../../lib/db';
import { config } from '../../lib/config';
import { isMongoDB } from '../../lib/db';
import { Attempt, Campaign, Member, MemberEnd } from '../../models';
import { createCredential } from '../../models/credential';
import { assertPortFree, freePort, logTail, portOpen, startFerret, startProcess, startTemporalDev, toolPath, waitReady, type Proc } from '../../scripts/servers';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../simulator';
import { vmBytes } from './util';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export { arg, flag } from './util';

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs: number, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function log(...a: unknown[]): void {
  console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...a);
}

/** /proc/<pid>/status field in MB (VmRSS = resident now, VmHWM = peak resident). */
export function vmMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  return Math.round(vmBytes(pid, field) / 1024 / 1024);
}

/** CPU seconds (user+system) a process has used so far. */
export function cpuSec(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (100/s)
}

export interface Stack {
  dir: string;
  ferret: Proc;
  temporal: Proc & { address: string };
  /** The first worker process; `workers` lists all (StackOptions.workers). */
  worker: Proc;
  workers: Proc[];
  sim: Simulator;
  client: Client;
  app: DialerApi;
  base: string;
  taskQueue: string;
  cred: { key: string; secret: string };
  domain: string;
  req<T = any>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** POST /api/v2/dialer with a voice-broadcast campaign routed to the simulator (one destination). */
  createCampaign(o: { name: string; limit: number; destLimit?: number; maxTryCount?: number; intervalTryCount?: number; originateTimeout?: number }): Promise<string>;
  /** Member documents straight into Mongo (insertMany in batches), as the import would store them. */
  insertMembers(campaignId: string, n: number, o?: { batch?: number; prefix?: string; progress?: boolean }): Promise<number>;
  start(campaignId: string): Promise<void>;
  stop(campaignId: string): Promise<void>;
  /** Mongo commands the worker processes sent so far, per `command collection` (their driver's
   *  command monitoring, lib/db.ts DIALER_MONGO_COMMANDS_FILE; updated every second). */
  /** The worker processes' Mongo commands so far, per `command collection` (or, with `sites`, per
   *  call site: startStack's `commandSites`). */
  workerCommands(sites?: boolean): Record<string, number>;
  /** Restart the worker child (for a CPU profile of one phase, or an RSS reading of a fresh process). */
  restartWorker(nodeFlags?: string[]): Promise<void>;
  close(): Promise<void>;
}

export interface StackOptions {
  sim?: SimulatorOptions;
  /** Node options of the worker process, e.g. ['--cpu-prof', '--cpu-prof-dir=…']. */
  workerNodeFlags?: string[];
  /** Worker processes polling the task queue (default 1). */
  workers?: number;
  workerEnv?: NodeJS.ProcessEnv;
  /** Workers count their Mongo commands per call site too (lib/db.ts DIALER_MONGO_SITES_FILE). */
  commandSites?: boolean;
  /** Add the SQLite index an unpatched FerretDB 1.24 needs for `_id` lookups (see addIdIndexes). */
  idIndex?: boolean;
  /** SQLite `synchronous` of FerretDB (its default, FULL, syncs the WAL on every commit; NORMAL
   *  does not — the trade-off scripts/servers.ts already makes for Temporal with OFF). */
  ferretSync?: 'normal' | 'off';
  /** host:port for FerretDB's /debug/metrics (its count of commands per type); see ferretCommands. */
  ferretMetrics?: string;
}

/** FerretDB's count of client requests per command, read from its Prometheus metrics. */
export async function ferretCommands(addr: string): Promise<Record<string, number>> {
  const text = await (await fetch(`http://${addr}/debug/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^ferretdb_client_requests_total\{[^}]*command="([^"]+)"[^}]*\} (\S+)$/gm)) {
    out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  }
  return out;
}

/** The collections every dispatch path writes. */
const HOT_COLLECTIONS = ['members', 'attempts', 'dialer', 'dialer_lines', 'member_end_events', 'dialerHistory'];

/**
 * FerretDB 1.24 (SQLite) looks documents up by `_ferretdb_sjson->'$._id'` but indexes
 * `_ferretdb_sjson->"_id"`; SQLite matches index expressions textually, so no `_id` lookup, update
 * or delete uses the index: each scans the whole table (bench/ferret-queries.ts). This adds an index
 * on the expression the queries use. scripts/setup.sh now builds FerretDB with that one-line fix of
 * its IDColumn (`sqlite-id-index`, docs/setup.md), so this is only needed to measure an unpatched
 * build (figures before the fix were taken with it); with the patched one it is redundant.
 * Needs the sqlite3 command.
 */
export function addIdIndexes(sqliteFile: string): string[] {
  const tables = execFileSync('sqlite3', [sqliteFile, 'SELECT name || \'|\' || table_name FROM _ferretdb_collections'], { encoding: 'utf8' })
    .trim().split('\n').map((l) => l.split('|')).filter(([name]) => HOT_COLLECTIONS.includes(name));
  for (const [, table] of tables) {
    execFileSync('sqlite3', [sqliteFile, `CREATE UNIQUE INDEX IF NOT EXISTS "${table}__id_path" ON "${table}" (_ferretdb_sjson->'$._id')`]);
  }
  return tables.map(([name]) => name);
}

async function pollersOn(client: Client, taskQueue: string): Promise<boolean> {
  const r = await client.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: taskQueue },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return (r.pollers?.length ?? 0) > 0;
}

export async function startStack(o: StackOptions = {}): Promise<Stack> {
  // Ctrl-C / kill: exit through process.exit so scripts/servers.ts kills the child servers.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialer-bench-dispatch-'));
  const logDir = path.join(dir, 'logs');
  const procs: Proc[] = [];
  const ferretPort = Number(process.env.BENCH_FERRETDB_PORT ?? 27217);
  const ferret = await startFerret({ port: ferretPort, dataDir: path.join(dir, 'ferret'), logDir, portSetting: 'BENCH_FERRETDB_PORT', debugAddr: o.ferretMetrics, synchronous: o.ferretSync });
  procs.push(ferret);
  const temporalSrv = await startTemporalDev({
    port: Number(process.env.BENCH_TEMPORAL_PORT ?? 7433), dbFile: path.join(dir, 'temporal.db'), logDir, portSetting: 'BENCH_TEMPORAL_PORT',
  });
  procs.push(temporalSrv);
  const mongoUri = `${ferret.uri}bench`;
  await connectMongo(mongoUri);
  await Promise.all([Member.init(), Campaign.init(), Attempt.init(), MemberEnd.init()]);
  for (const c of ['dialer_lines', 'dialerHistory']) await mongoose.connection.createCollection(c).catch(() => undefined);
  log(`FerretDB ${ferret.uri}${o.ferretSync ? ` (synchronous=${o.ferretSync})` : ''}, Temporal ${temporalSrv.address}, data in ${dir}; server sorts with indexes: ${await isMongoDB()}`);
  if (o.idIndex) log(`_id expression index added to: ${addIdIndexes(path.join(dir, 'ferret', 'bench.sqlite')).join(', ')}`);

  const connection = await Connection.connect({ address: temporalSrv.address });
  const client = new Client({ connection, namespace: 'default' });
  const taskQueue = 'bench';
  // Benchmarks measure the stack, not the per-credential rate limit.
  const app = createApp({ client, log: pino({ level: 'silent' }), taskQueue, rateLimit: { perSecond: 0, burst: 0 } });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // FreeSWITCH's HEARTBEAT every 20 s: the worker reconnects after 60 s without any event.
  const sim = await startSimulator({ port: 0, heartbeatSec: 20, ...o.sim });
  const domain = 'bench.local';
  const cred = await createCredential({ domain, name: 'bench' });

  const workerEnv = {
    ...process.env,
    MONGODB_URI: mongoUri,
    TEMPORAL_ADDRESS: temporalSrv.address,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: taskQueue,
    ESL_HOST: '127.0.0.1',
    ESL_PORT: String(sim.eslPort),
    ESL_PASSWORD: sim.password,
    // Per-call info lines ("call result") would cost the worker more than some activities do.
    LOG_LEVEL: process.env.BENCH_WORKER_LOG_LEVEL ?? 'warn',
    WORKER_METRICS_PORT: '0', // beside npm start's
    // No mod_json_cdr endpoint (the simulator posts none here; two workers would share its port).
    CDR_PORT: '0',
    ...o.workerEnv,
  };
  const workers: Proc[] = [];
  const commandsFile = (n: number, sites = false) => path.join(dir, `mongo-${sites ? 'sites' : 'commands'}-worker${n}.json`);
  async function launchWorker(flags: string[], n: number): Promise<void> {
    const w = startProcess({
      name: `worker${n || ''}`, command: process.execPath, args: [...flags, '--import', 'tsx', path.join(config.rootDir, 'worker.ts')],
      env: { ...workerEnv, DIALER_MONGO_COMMANDS_FILE: commandsFile(n), ...(o.commandSites ? { DIALER_MONGO_SITES_FILE: commandsFile(n, true) } : {}) }, logFile: path.join(logDir, `worker${n || ''}.log`),
    });
    workers[n] = w;
    const t0 = Date.now();
    await waitFor('the worker to poll its task queue and connect to ESL', async () => {
      if (!w.running()) throw new Error(`worker exited: ${logTail(w.logFile)}`);
      return (await pollersOn(client, taskQueue)) && Number(sim.stats().eslConnections) > n;
    }, 120_000, 200);
    log(`worker pid ${w.pid} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  for (let n = 0; n < (o.workers ?? 1); n++) await launchWorker(o.workerNodeFlags ?? [], n);

  const req = <T>(method: string, p: string, body?: unknown) => apiRequest<T>(base, method, p, { cred, body });

  const stack: Stack = {
    dir, ferret, temporal: temporalSrv, get worker() { return workers[0]; }, workers, sim, client, app, base, taskQueue, cred, domain, req,
    async createCampaign(c) {
      const r = await req<{ data: { insertedIds: string[] } }>('POST', '/api/v2/dialer', {
        name: c.name,
        type: 'Voice Broadcasting',
        parameters: {
          limit: c.limit, maxTryCount: c.maxTryCount ?? 3, intervalTryCount: c.intervalTryCount ?? 3600, originateTimeout: c.originateTimeout ?? 30,
        },
        resources: [{ dialedNumber: '^(\\d+)$', destinations: [{ gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit: c.destLimit ?? c.limit, callerIdNumber: '15550000000' }] }],
      });
      if (r.status !== 200) throw new Error(`create campaign: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.data.insertedIds[0];
    },
    async insertMembers(campaignId, n, io = {}) {
      const batch = io.batch ?? 5000;
      const prefix = io.prefix ?? '38050';
      const t0 = Date.now();
      for (let i = 0; i < n; i += batch) {
        const docs: Record<string, unknown>[] = [];
        for (let j = i; j < Math.min(n, i + batch); j++) {
          docs.push(memberDocument({
            name: `Member ${j}`, priority: j % 10, variables: { debt: String(j % 1000) },
            communications: [{ number: `${prefix}${String(j).padStart(7, '0')}`, priority: 1 }],
          }, campaignId, domain));
        }
        await Member.collection.insertMany(docs, { ordered: false });
        await queueStored(docs);
        if (io.progress && (i / batch) % 20 === 19) {
          const s = (Date.now() - t0) / 1000;
          log(`  generated ${i + docs.length} / ${n} members (${Math.round((i + docs.length) / s)}/s)`);
        }
      }
      return (Date.now() - t0) / 1000;
    },
    async start(campaignId) {
      const r = await req('PUT', `/api/v2/dialer/${campaignId}/state/1`);
      if (r.status !== 200) throw new Error(`start: ${r.status} ${JSON.stringify(r.body)}`);
    },
    async stop(campaignId) {
      const r = await req('PUT', `/api/v2/dialer/${campaignId}/state/3`);
      if (r.status !== 200) throw new Error(`stop: ${r.status} ${JSON.stringify(r.body)}`);
    },
    workerCommands(sites = false) {
      const out: Record<string, number> = {};
      for (let n = 0; n < workers.length; n++) {
        let counts: Record<string, number> = {};
        try {
          counts = JSON.parse(fs.readFileSync(commandsFile(n, sites), 'utf8')) as Record<string, number>;
        } catch {
          /* not written yet */
        }
        for (const [k, v] of Object.entries(counts)) out[k] = (out[k] ?? 0) + v;
      }
      return out;
    },
    async restartWorker(flags = []) {
      await workers[0].stop(60_000);
      await launchWorker(flags, 0);
    },
    async close() {
      for (const w of workers) await w.stop(60_000).catch(() => undefined);
      await sim.stop().catch(() => undefined);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.drain();
      await connection.close();
      await mongoose.disconnect();
      for (const p of procs.reverse()) await p.stop();
      if (process.env.BENCH_KEEP) log(`kept ${dir}`);
      else fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** A clean members database for a bench: MONGODB_URI's server when set (database `dialer_<name>`),
 *  else a FerretDB of its own on a free port with its data in `dir`. */
export async function benchDatabase(dir: string, name: string): Promise<{ uri: string; ferret: Proc | null }> {
  let uri = process.env.MONGODB_URI;
  let ferret: Proc | null = null;
  if (!uri) {
    const f = await startFerret({ port: await freePort(), dataDir: path.join(dir, 'ferret'), logDir: path.join(dir, 'logs'), portSetting: 'FERRETDB_PORT' });
    ferret = f;
    uri = `${f.uri}${name}`;
  } else {
    const u = new URL(uri);
    u.pathname = `/dialer_${name}`;
    uri = u.toString();
  }
  await mongoose.connect(uri);
  await mongoose.connection.db!.dropDatabase();
  await Member.createCollection();
  await Member.syncIndexes();
  return { uri, ferret };
}
