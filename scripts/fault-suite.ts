// Fault-injection suite (issue 6): runs a campaign of several hundred call attempts with random
// outcomes on the real stack — FerretDB, Temporal dev server, FreeSWITCH simulator, worker and REST
// API, each a child process with its own temporary data and free ports — while killing and
// restarting them at random moments, then checks the invariants and exits non-zero on a violation:
//   every attempt has exactly one outcome (stored, applied by its workflow, counted once);
//   every member reached an end cause or is legitimately waiting; no lease held by a dead owner;
//   from the switch's complete call log (every originate, answer, hangup, result and CDR, appended by
//   the simulator to a file that survives its kill -9; checks in scripts/fault-invariants.ts):
//   no second originate for any origination_uuid; no redial of a member after one of its calls was
//   answered; no LOST_CALL for a call the switch ended and reported; every call has its attempt and
//   the switch's cause; the campaign limit never exceeded (calls in progress, across restarts);
//   campaign stats equal a recount from the attempt records;
//   graceful SIGTERM exits 0 (worker mid-run, and every process at the end).
// With --agents N the campaign is progressive (issue 15): N agents whose phones answer, miss,
// are busy or reject at random; extra worker kill -9s are aimed at moments when an agent holds an
// offer; and the agents' invariants are checked too: no agent rung for two calls at once, no
// double offer, no agent rung without its reservation, none left reserved at the end.
//
//   npm run fault-suite                       defaults: 150 members, ≤3 attempts each, limit 15
//   npm run fault-suite -- --ci               the CI configuration `npm test` runs (see CI_PRESET)
//   npm run fault-suite -- --members 60 --faults 10 --seed 7 --keep
//   npm run fault-suite -- --members 4 --faults 0 --plant duplicate,lost-answer   must FAIL
//   npm run fault-suite -- --agents 6 --members 60   progressive, 6 agents (3 extra worker kills during offers)
// Options: --members N, --limit N, --max-try N, --workers N (1 or 2 worker processes on the task
// queue; with 2, each worker fault hits one of them at random, the second has no CDR endpoint), --apis N (1 or 2
// REST API processes on the one store; with 2, requests alternate between them, each api-kill hits one at
// random, and every wave adds reads, a dialer PUT and a member edit whose stored result is checked), --faults N (≥ 9 = every kind once; 0 = none),
// --seed N, --timeout-min N (whole run), --keep (keep the temp dir and logs even on success), --ci
// (the preset below; explicit options override it), --plant LIST (proves the checks can fail:
// `duplicate` makes the simulator repeat an originate, `lost-answer` overwrites an answered
// attempt's result with LOST_CALL before the checks, `lost-edit` (with --apis 2) undoes a member edit
// an API answered 200 to).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { apiRequest } from './api-request';
import mongoose from 'mongoose';
import { Client, Connection } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { connectMongo } from '../lib/db';
import { Attempt, Campaign, Member, storedResultsOf, type CampaignDoc, type MemberDoc } from '../models';
import { createCredential } from '../models/credential';
import { LineLeases } from '../models/lines';
import { readCallLog } from '../simulator';
import { readWorkerStatus } from '../lib/readiness';
import { Agent, AgentEvent } from '../models/agent';
import { checkAgents, checkSwitch, recountStats, type AgentCheck, type AgentEventRow, type AgentRow } from './fault-invariants';
import { campaignInfoQuery, campaignWorkflowId, memberInfoQuery, memberWorkflowId } from '../workflows/messages';
import {
  freePort as freePortOutside, logTail, portOpen, startFerret, startProcess, startTemporalDev, waitReady, type FerretServer, type Proc, type TemporalServer,
} from './servers';

// ---- options -----------------------------------------------------------------------------------

// `--help`: the usage above (this file's opening comment), instead of a run.
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  const head = fs.readFileSync(__filename, 'utf8').split('\n');
  console.log(head.slice(0, head.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}

/** `--ci`: smaller, for `npm test` (scripts/test.ts) — still every fault kind, a few hundred attempts,
 *  on two worker processes sharing the task queue (each worker fault hits one of them). */
const CI_PRESET: Record<string, number> = { members: 150, faults: 9, workers: 2, 'timeout-min': 12 };
const CI = process.argv.includes('--ci');

function opt(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return (CI ? CI_PRESET[name] : undefined) ?? def;
  const n = Number(process.argv[i + 1]);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a non-negative number`);
  return n;
}
const MEMBERS = opt('members', 150);
const LIMIT = opt('limit', 15);
const MAX_TRY = opt('max-try', 3);
const WORKERS = Math.min(Math.max(opt('workers', 1), 1), 2);
const APIS = Math.min(Math.max(opt('apis', 1), 1), 2);
const SEED = opt('seed', Date.now() % 100000);
/** Progressive campaign with this many agents (0: voice broadcasting). */
const AGENTS = opt('agents', 0);
/** Worker kill -9s added with --agents, each when an agent holds an offer. */
const OFFER_KILLS = AGENTS ? 3 : 0;
const AGENT_DOMAIN = 'fault.local';
const agentNames = Array.from({ length: AGENTS }, (_, i) => String(7000 + i));
const KINDS = [
  'worker-kill', 'worker-sigterm', 'api-kill', 'esl-reset', 'esl-silence', 'sim-restart', 'sim-kill', 'temporal-restart', 'ferret-restart',
] as const;
type Kind = (typeof KINDS)[number];
const FAULTS_ASKED = opt('faults', 14);
/** Every kind at least once, unless no fault at all was asked for (--faults 0). */
const FAULTS = FAULTS_ASKED === 0 ? 0 : Math.max(FAULTS_ASKED, KINDS.length) + OFFER_KILLS;
const PLANT = (() => {
  const i = process.argv.indexOf('--plant');
  const list = i < 0 ? [] : (process.argv[i + 1] ?? '').split(',');
  for (const p of list) if (!['duplicate', 'lost-answer', 'lost-edit'].includes(p)) throw new Error(`--plant: unknown "${p}" (duplicate, lost-answer, lost-edit)`);
  return new Set(list);
})();
const TIMEOUT_MS = opt('timeout-min', 20) * 60_000;
const KEEP = process.argv.includes('--keep');
/** The ESL client declares a silent connection dead after this (the simulator heartbeats every 2 s). */
const HEARTBEAT_TIMEOUT_MS = 6000;
/** Never these (`npm start`'s and the test servers' ports, also as set by TEST_*_PORT and friends). */
const RESERVED_PORTS = new Set([
  27017, 7233, 8233, 10022, 27117, 7333, 8333, 27217, 7433, 8021, 8022, 10023, 10024, 10025,
  ...['TEST_FERRETDB_PORT', 'TEST_TEMPORAL_PORT', 'TEST_TEMPORAL_UI_PORT', 'FERRETDB_PORT', 'TEMPORAL_PORT', 'TEMPORAL_UI_PORT', 'API_PORT']
    .map((k) => Number(process.env[k]))
    .filter((n) => Number.isInteger(n) && n > 0),
]);

// mulberry32: the fault schedule and the member data follow --seed (the simulator's mix too).
let rngState = SEED >>> 0;
function rand(): number {
  rngState = (rngState + 0x6d2b79f5) >>> 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const between = (a: number, b: number) => a + rand() * (b - a);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const stamp = () => `[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s]`;
const say = (msg: string) => console.log(`${stamp()} ${msg}`);

const freePort = () => freePortOutside(RESERVED_PORTS);

// ---- processes ---------------------------------------------------------------------------------

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialer-fault-'));
const logDir = path.join(dataDir, 'logs');
/** The simulator's append-only call log: the switch's complete record of calls, across its restarts. */
const callLog = path.join(dataDir, 'switch-calls.jsonl');
const ports = { ferret: 0, temporal: 0, esl: 0, simControl: 0, api: 0, api2: 0, cdr: 0 };
let ferret: FerretServer;
let temporal: TemporalServer;
const apps: Record<'simulator' | 'worker' | 'worker2' | 'api' | 'api2', Proc | undefined> = {
  simulator: undefined, worker: undefined, worker2: undefined, api: undefined, api2: undefined,
};
/** The second worker's readiness (it has no port to wait for): lib/readiness.ts status file. */
const worker2Status = () => path.join(dataDir, 'worker2-status.json');
/** Exits nobody asked for (a process that dies on its own when a dependency restarts is a finding). */
const unplannedExits: string[] = [];
const planned = new Set<Proc>();
let finishing = false;

function appEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    LOG_LEVEL: 'info',
    DIALER_DATA_DIR: dataDir,
    MONGODB_URI: `${ferret.uri}dialer`,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: 'dialer-fault',
    ESL_HOST: '127.0.0.1',
    ESL_PORT: String(ports.esl),
    ESL_PASSWORD: 'ClueCon',
    ESL_HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS),
    API_HOST: '127.0.0.1',
    API_PORT: String(ports.api),
    CDR_HOST: '127.0.0.1',
    CDR_PORT: String(ports.cdr),
    WORKER_METRICS_PORT: '0', // two workers at once; and never npm start's metrics ports
    API_METRICS_PORT: '0',
    RECONCILE_GRACE_MS: '3000',
    RECONCILE_INTERVAL_MS: '20000',
    SIMULATOR_CONTROL_PORT: String(ports.simControl),
    SIMULATOR_RULES: path.join(dataDir, 'rules.json'),
    SIMULATOR_HEARTBEAT_SEC: '2',
    SIMULATOR_CALL_LOG: callLog,
    SIMULATOR_CDR_URL: `http://127.0.0.1:${ports.cdr}/cdr`,
    SIMULATOR_CDR_RETRIES: '30',
    SIMULATOR_CDR_DELAY_MS: '1000',
  };
}

const ENTRIES = { simulator: 'simulator/main.ts', worker: 'worker.ts', worker2: 'worker.ts', api: 'api/main.ts', api2: 'api/main.ts' } as const;
/** Per-process settings on top of appEnv(): the second worker has no CDR endpoint, the second API its own port. */
function envOf(name: keyof typeof ENTRIES): NodeJS.ProcessEnv {
  if (name === 'worker2') return { ...appEnv(), CDR_PORT: '0', DIALER_WORKER_STATUS_FILE: worker2Status() };
  if (name === 'api2') return { ...appEnv(), API_PORT: String(ports.api2) };
  return appEnv();
}

async function startApp(name: keyof typeof ENTRIES): Promise<Proc> {
  if (name === 'worker2') fs.rmSync(worker2Status(), { force: true });
  const proc = startProcess({
    name, command: process.execPath, args: ['--import', 'tsx', ENTRIES[name]], env: envOf(name), logFile: path.join(logDir, `${name}.log`),
  });
  apps[name] = proc;
  void proc.exited.then((how) => {
    if (!planned.has(proc) && !finishing) {
      unplannedExits.push(`${name} (${String(how)})`);
      say(`!! ${name} exited on its own (${String(how)}); restarting it. Log tail:\n${logTail(proc.logFile, 15)}`);
      void startApp(name).then((p) => readyApp(name, p)).catch((err: unknown) => say(`!! restart of ${name} failed: ${String(err)}`));
    }
  });
  return proc;
}

async function readyApp(name: keyof typeof ENTRIES, proc: Proc): Promise<void> {
  if (name === 'worker2') {
    await waitReady(proc, 'worker2 polling and connected to ESL', async () => readWorkerStatus(worker2Status())?.esl === true, 90_000);
    return;
  }
  const port = { simulator: ports.esl, worker: ports.cdr, api: ports.api, api2: ports.api2 }[name];
  await waitReady(proc, `${name} listening on ${port}`, portOpen(port), 90_000);
}

async function kill9(proc: Proc): Promise<void> {
  planned.add(proc);
  try {
    process.kill(-proc.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  await proc.exited;
}

// ---- the simulator, watched --------------------------------------------------------------------

const simUrl = () => `http://127.0.0.1:${ports.simControl}`;

async function simGet<T>(p: string): Promise<T | null> {
  try {
    const r = await fetch(simUrl() + p, { signal: AbortSignal.timeout(5000) });
    return r.ok ? ((await r.json()) as T) : null;
  } catch {
    return null;
  }
}
/** Up to 2 min: a graceful restart answers once every CDR post (and its retries) is delivered, which
 *  took over 30 s at load 15 right after the CDR worker was killed; other POSTs took over 5 s at
 *  load 27. */
async function simPost(p: string, body: unknown): Promise<unknown> {
  const r = await fetch(simUrl() + p, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(120_000) });
  if (!r.ok) throw new Error(`simulator ${p}: HTTP ${r.status}`);
  return r.json();
}
// ---- the REST API, as a client that survives its restarts ---------------------------------------

let cred: { key: string; secret: string };
/** Requests sent to each API process (with --apis 2 they alternate; a retry goes to the other one). */
const apiRequests = [0, 0];
let apiTurn = 0;
function api<T = any>(method: string, p: string, body?: unknown) {
  const i = apiTurn++ % APIS;
  apiRequests[i]++;
  return apiRequest<T>(`http://127.0.0.1:${i ? ports.api2 : ports.api}`, method, p, { cred, body, timeoutMs: 30_000 });
}

/** Member edits an API answered 200 to: each must be found stored at the end (an API write is not lost). */
const memberEdits = new Map<string, string>();
const apiTrafficLog = { reads: 0, dialerPuts: 0, memberEdits: 0, memberEditsRefused: 0, failed: 0 };

/** With --apis 2, per wave: reads, a dialer PUT and a member edit, spread over both APIs. A request cut
 *  by a fault is only counted (the edit's result is then unknown, so it is not checked). */
async function apiTraffic(campaignId: string, wave: number, memberName: string): Promise<void> {
  const tally = (res: { status: number }, what: 'reads' | 'dialerPuts') => {
    if (res.status === 200) apiTrafficLog[what]++;
    else throw new Error(`${what}: HTTP ${res.status}`);
  };
  try {
    tally(await api('GET', `/api/v2/dialer/${campaignId}`), 'reads');
    tally(await api('GET', `/api/v2/dialer/${campaignId}/members/count`), 'reads');
    tally(await api('PUT', `/api/v2/dialer/${campaignId}`, { description: `wave ${wave}` }), 'dialerPuts');
    const found = await api<{ data: { _id: string }[] }>('GET', `/api/v2/dialer/${campaignId}/members?filter=${encodeURIComponent(JSON.stringify({ name: memberName }))}`);
    tally(found, 'reads');
    const id = found.body.data?.[0]?._id;
    if (!id) throw new Error(`member ${memberName} not found`);
    const value = `edit-${wave}`;
    for (let tries = 1; ; tries++) {
      const edit = await api('PUT', `/api/v2/dialer/${campaignId}/members/${id}`, { variables: { wave: String(wave), edited: value } });
      if (edit.status === 200) {
        apiTrafficLog.memberEdits++;
        memberEdits.set(String(id), value);
        break;
      }
      if (edit.status !== 406) throw new Error(`member PUT: HTTP ${edit.status} ${JSON.stringify(edit.body).slice(0, 200)}`);
      apiTrafficLog.memberEditsRefused++; // in a call: refused, as documented; tried again after the call
      if (tries === 4) break;
      await sleep(2000);
    }
  } catch (err) {
    apiTrafficLog.failed++;
    say(`API traffic of wave ${wave}: ${String((err as Error).message ?? err)}`);
  }
}

/** POSTs one wave of members; a request cut by a fault is checked (by name) before it is sent again. */
async function postMembers(campaignId: string, members: object[], names: string[]): Promise<number> {
  const filter = encodeURIComponent(JSON.stringify({ name: { $in: names } }));
  for (let tries = 1; ; tries++) {
    try {
      const res = await api('POST', `/api/v2/dialer/${campaignId}/members?autoRun=true`, members);
      if (res.status === 200) return tries;
      say(`member POST answered ${res.status}: ${JSON.stringify(res.body).slice(0, 200)}`);
    } catch (err) {
      say(`member POST failed (${String((err as Error).message ?? err)}); checking whether it was stored`);
    }
    await sleep(2000);
    try {
      const count = await api<{ data: number }>('GET', `/api/v2/dialer/${campaignId}/members/count?filter=${filter}`);
      if (count.status === 200 && count.body.data === names.length) return tries;
      if (count.status === 200 && count.body.data !== 0) throw new Error(`partial member insert: ${count.body.data}/${names.length}`);
    } catch (err) {
      if (String(err).includes('partial')) throw err;
    }
  }
}

// ---- faults ------------------------------------------------------------------------------------

const injected: Record<string, number> = {};
const faultLog: string[] = [];
const gracefulExits: { what: string; code: number | string; ms: number }[] = [];

async function inject(kind: Kind, channelsUp: number): Promise<void> {
  const started = Date.now();
  let detail = '';
  switch (kind) {
    case 'worker-kill': {
      const which = WORKERS === 2 && rand() < 0.5 ? 'worker2' : 'worker';
      detail = which;
      await kill9(apps[which]!);
      await readyApp(which, await startApp(which));
      break;
    }
    case 'worker-sigterm': {
      const which = WORKERS === 2 && rand() < 0.5 ? 'worker2' : 'worker';
      const w = apps[which]!;
      planned.add(w);
      const t = Date.now();
      await w.stop(60_000);
      const code = await w.exited;
      gracefulExits.push({ what: `${which} (mid-run SIGTERM)`, code, ms: Date.now() - t });
      detail = `${which}: exit ${String(code)} after ${Date.now() - t} ms`;
      await readyApp(which, await startApp(which));
      break;
    }
    case 'api-kill': {
      const which = APIS === 2 && rand() < 0.5 ? 'api2' : 'api';
      detail = which;
      await kill9(apps[which]!);
      await readyApp(which, await startApp(which));
      break;
    }
    case 'esl-reset': {
      await simPost('/faults', { resetConnections: true });
      break;
    }
    case 'esl-silence': {
      const ms = HEARTBEAT_TIMEOUT_MS + Math.round(between(2000, 5000));
      await simPost('/faults', { silence: true });
      await sleep(ms);
      await simPost('/faults', { silence: false });
      detail = `half-open for ${ms} ms`;
      break;
    }
    case 'sim-restart': {
      const graceful = rand() < 0.5;
      await simPost('/restart', { graceful });
      detail = graceful ? 'graceful (SYSTEM_SHUTDOWN + CDRs)' : 'crash (calls vanish, no events, no CDRs)';
      break;
    }
    case 'sim-kill': {
      await kill9(apps.simulator!);
      await readyApp('simulator', await startApp('simulator'));
      detail = 'process killed: calls and pending CDR posts gone';
      break;
    }
    case 'temporal-restart': {
      planned.add(temporal);
      try {
        process.kill(-temporal.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await temporal.exited;
      temporal = await startTemporalDev({ port: ports.temporal, dbFile: path.join(dataDir, 'temporal.db'), logDir, portSetting: 'fault-suite' });
      break;
    }
    case 'ferret-restart': {
      planned.add(ferret);
      try {
        process.kill(-ferret.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await ferret.exited;
      ferret = await startFerret({ port: ports.ferret, dataDir: path.join(dataDir, 'ferret'), logDir, portSetting: 'fault-suite' });
      break;
    }
  }
  injected[kind] = (injected[kind] ?? 0) + 1;
  const line = `fault ${kind} with ${channelsUp} call(s) up${detail ? `: ${detail}` : ''} (${Date.now() - started} ms to recover)`;
  const entry = faultLog.push(`${stamp()} ${line}`) - 1;
  say(line);
  // How long until the next originate reaches the switch (dialing resumed), measured in the background.
  const base = (await simGet<{ callsRecorded: number }>('/stats'))?.callsRecorded ?? 0;
  const recovered = Date.now();
  void (async () => {
    while (Date.now() - recovered < 180_000 && !finishing) {
      const now = (await simGet<{ callsRecorded: number }>('/stats'))?.callsRecorded;
      if (now !== undefined && now > base) {
        faultLog[entry] += `, next originate ${((Date.now() - recovered) / 1000).toFixed(1)} s later`;
        return;
      }
      await sleep(250);
    }
  })();
}

// ---- checks ------------------------------------------------------------------------------------

interface AttemptRow {
  _id: string;
  member: string;
  workflowId: string;
  sentOn: number | null;
  counted: boolean;
  outcome?: 'success' | 'error' | null;
  result: { cause: string; answered: boolean; source: string; billsec: number } | null;
}

async function check(campaignId: string, client: Client) {
  const violations: string[] = [];
  const notes: string[] = [];
  const attempts = await Attempt.find({ dialer: campaignId }).lean<AttemptRow[]>();
  const members = await Member.find({ dialer: campaignId }).lean<MemberDoc[]>();
  const camp = await Campaign.findById(campaignId).lean<CampaignDoc>();
  const byMember = new Map(members.map((m) => [String(m._id), m]));

  // 1. Exactly one outcome per attempt: stored (the first-wins record in attempt_results), applied by
  //    the workflow (same cause in the member's log, one log entry, the same result on its record),
  //    counted once.
  const noOutcome = attempts.filter((a) => !a.result);
  const winners = await storedResultsOf(attempts.map((a) => a._id));
  const notWinner = attempts.filter((a) => a.result && winners.get(a._id)?.cause !== a.result.cause)
    .map((a) => `${a._id}: record ${a.result!.cause}, stored ${winners.get(a._id)?.cause ?? 'none'}`);
  if (notWinner.length) violations.push(`${notWinner.length} attempt(s) whose record differs from the first stored result: ${notWinner.slice(0, 5).join('; ')}`);
  const mismatched: string[] = [];
  const notApplied: string[] = [];
  for (const a of attempts) {
    if (!a.result) continue;
    const log = ((byMember.get(a.member)?._log ?? []) as { session: string; cause?: string; state?: string }[]).filter((l) => l.session === a._id);
    if (log.length !== 1 || log[0].state !== 'end') notApplied.push(`${a._id} (${log.length} log entries, state ${log[0]?.state})`);
    else if (log[0].cause !== a.result.cause) mismatched.push(`${a._id}: stored ${a.result.cause}, applied ${log[0].cause}`);
    if (!a.counted) notApplied.push(`${a._id} not counted`);
  }
  if (noOutcome.length) violations.push(`${noOutcome.length} attempt(s) without an outcome: ${noOutcome.slice(0, 5).map((a) => a._id).join(', ')}`);
  if (mismatched.length) violations.push(`${mismatched.length} attempt(s) applied differently from the stored outcome: ${mismatched.slice(0, 5).join('; ')}`);
  if (notApplied.length) violations.push(`${notApplied.length} attempt(s) not applied exactly once: ${notApplied.slice(0, 5).join('; ')}`);

  // 2. Every member ended or legitimately waiting (workflow running, waiting/ready, no open call).
  const stuck: string[] = [];
  let waiting = 0;
  for (const m of members) {
    const id = String(m._id);
    if (m._endCause) continue;
    try {
      const info = await client.workflow.getHandle(memberWorkflowId(campaignId, id)).query(memberInfoQuery);
      if (['waiting', 'ready'].includes(info.phase) && !attempts.some((a) => a.member === id && !a.result)) waiting++;
      else stuck.push(`${id} (${info.phase})`);
    } catch (err) {
      stuck.push(`${id} (no workflow: ${String((err as Error).message).slice(0, 60)})`);
    }
  }
  if (stuck.length) violations.push(`${stuck.length} member(s) stuck: ${stuck.slice(0, 5).join(', ')}`);

  // 3. No lease held by a dead owner: member claims (_dispatch/_lock) and line leases.
  const dead: string[] = [];
  for (const m of members.filter((x) => x._dispatch || x._lock)) {
    const id = String(m._id);
    let runningWf = false;
    try {
      runningWf = (await client.workflow.getHandle(memberWorkflowId(campaignId, id)).describe()).status.name === 'RUNNING';
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    if (!runningWf) dead.push(`member ${id} holds ${m._dispatch ? 'a campaign lease' : 'its lock'} with no running workflow`);
  }
  const lines = await LineLeases.snapshot(campaignId);
  for (const l of lines?.leases ?? []) {
    const a = attempts.find((x) => x._id === l.id);
    if (!a || a.counted) dead.push(`line lease ${l.id} held by a finished attempt`);
  }
  if (lines && lines.active !== (lines.leases ?? []).length) dead.push(`line counter ${lines.active} ≠ ${lines.leases.length} leases`);
  const counting = Object.keys(((camp?.stats ?? {}) as { _counting?: object })._counting ?? {});
  if (counting.length) dead.push(`${counting.length} campaign counter marker(s) left by an interrupted endAttempt`);
  if (dead.length) violations.push(`${dead.length} lease(s) held by a dead owner: ${dead.slice(0, 5).join('; ')}`);
  let campaignState = 'unknown';
  try {
    const info = await client.workflow.getHandle(campaignWorkflowId(campaignId)).query(campaignInfoQuery);
    campaignState = `${info.state}/${info.cause}, ${info.leases} lease(s)`;
    const open = members.filter((m) => !m._endCause).length;
    if (open === 0 && info.leases > 0) violations.push(`the campaign holds ${info.leases} lease(s) though every member has ended`);
  } catch {
    const d = await client.workflow.getHandle(campaignWorkflowId(campaignId)).describe().catch(() => null);
    campaignState = d ? `${d.status.name} (campaign ${camp?.state}/${camp?._cause})` : 'no workflow';
  }

  // 4–6. The switch's side, from its complete call log: duplicates, redials of answered calls,
  //      LOST_CALL for calls it ended and reported, calls without attempts, causes, the limit.
  const sw = checkSwitch(readCallLog(callLog), attempts, { campaignId, limit: LIMIT });
  violations.push(...sw.violations);
  notes.push(...sw.notes);
  let agents: AgentCheck | null = null;
  if (AGENTS) {
    agents = checkAgents(
      sw.calls,
      await AgentEvent.find({ domain: AGENT_DOMAIN }, { agent: 1, type: 1, seq: 1, data: 1 }).lean<AgentEventRow[]>(),
      await Agent.find({ domain: AGENT_DOMAIN }, { status: 1, state: 1, offer: 1 }).lean<AgentRow[]>(),
    );
    violations.push(...agents.violations);
  }

  // 7. Campaign counters = a recount from the attempt records (§11.1: success/error per attempt).
  const recount = recountStats(attempts);
  const waitingFor = new Set(members.filter((m) => m._waitingForResultStatusCb === 1).map((m) => m._lastSession));
  const undecided = attempts.filter((a) => a.counted && !a.outcome && !waitingFor.has(a._id));
  if (undecided.length) violations.push(`${undecided.length} attempt(s) counted in neither successCall nor errorCall though no status is awaited: ${undecided.slice(0, 5).map((a) => a._id).join(', ')}`);
  const stats = (camp?.stats ?? {}) as Record<string, number>;
  const statDiff = Object.entries(recount).filter(([k, v]) => (stats[k] ?? 0) !== v).map(([k, v]) => `${k} ${stats[k] ?? 0} ≠ ${v}`);
  if (statDiff.length) violations.push(`campaign stats differ from the recount: ${statDiff.join(', ')}`);
  const statMismatches = statDiff.length;

  // 8. Member edits an API answered 200 to are stored (no API write lost to another process's write).
  const editsLost = [...memberEdits].filter(([id, v]) => (byMember.get(id)?.variables as Record<string, string> | undefined)?.edited !== v);
  if (editsLost.length) violations.push(`${editsLost.length} member edit(s) answered 200 but not stored: ${editsLost.slice(0, 5).map(([id]) => id).join(', ')}`);

  // 9. The member counts the API answers from (written by every API and worker process, in turns)
  //    equal a count of the members, through each API.
  const open = members.filter((m) => !m._endCause).length;
  for (let i = 0; i < APIS; i++) {
    for (const [filter, want] of [[undefined, members.length], [{ _endCause: null }, open], [{ _endCause: { $ne: null } }, members.length - open]] as const) {
      const q = filter ? `?filter=${encodeURIComponent(JSON.stringify(filter))}` : '';
      const got = await api<{ data: number }>('GET', `/api/v2/dialer/${campaignId}/members/count${q}`).catch(() => null);
      if (got?.body.data !== want) violations.push(`member count${q ? ` ${JSON.stringify(filter)}` : ''}: an API answered ${got ? JSON.stringify(got.body.data) : 'nothing'}, the store has ${want}`);
    }
  }

  // 10. Processes: none died on its own; graceful stops exit 0.
  if (unplannedExits.length) violations.push(`process(es) exited on their own: ${unplannedExits.join(', ')}`);
  for (const g of gracefulExits) if (g.code !== 0) violations.push(`${g.what} exited ${String(g.code)} on SIGTERM`);

  const bySource: Record<string, number> = {};
  const byCause: Record<string, number> = {};
  for (const a of attempts) {
    if (!a.result) continue;
    bySource[a.result.source] = (bySource[a.result.source] ?? 0) + 1;
    byCause[a.result.cause] = (byCause[a.result.cause] ?? 0) + 1;
  }
  const endCauses: Record<string, number> = {};
  for (const m of members) if (m._endCause) endCauses[m._endCause] = (endCauses[m._endCause] ?? 0) + 1;
  return {
    violations, notes, attempts: attempts.length, noOutcome: noOutcome.length, sw, agents,
    members: members.length, ended: members.length - stuck.length - waiting, waiting, stuck: stuck.length,
    bySource, byCause, endCauses, stats, recount, campaignState, statMismatches,
  };
}

// ---- main --------------------------------------------------------------------------------------

async function main(): Promise<number> {
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  fs.mkdirSync(logDir, { recursive: true });
  say(`fault suite${CI ? ' (CI configuration)' : ''}: ${MEMBERS} members, ≤${MAX_TRY} attempts each, limit ${LIMIT}, ${FAULTS} faults, seed ${SEED}; data and logs in ${dataDir}`);
  fs.writeFileSync(path.join(dataDir, 'rules.json'), JSON.stringify({
    seed: SEED,
    // A planted run wants answered calls to plant on; a real one a mix of every outcome.
    default: PLANT.size ? { type: 'answer', ringSec: 1, talkSec: 2 } : {
      type: 'mix',
      choices: [
        { weight: 35, outcome: { type: 'answer', ringSec: 1, talkSec: 6 } },
        { weight: 10, outcome: { type: 'answer', ringSec: 2, talkSec: 12 } },
        { weight: 15, outcome: { type: 'busy', ringSec: 0.5 } },
        { weight: 10, outcome: { type: 'no_answer' } },
        { weight: 8, outcome: { type: 'unallocated' } },
        { weight: 7, outcome: { type: 'reject', ringSec: 1 } },
        { weight: 6, outcome: { type: 'temp_failure' } },
        { weight: 5, outcome: { type: 'gateway_down' } },
        { weight: 4, outcome: { type: 'sip', status: 480, ringSec: 1 } },
      ],
    },
  }, null, 2));

  if (AGENTS) {
    // Agent phones: mostly answering; some miss the call, are busy or reject it (penalties, retries).
    const rules = JSON.parse(fs.readFileSync(path.join(dataDir, 'rules.json'), 'utf8')) as Record<string, unknown>;
    rules.users = Object.fromEntries(agentNames.map((n) => [n, {
      type: 'mix',
      choices: [
        { weight: 80, outcome: { type: 'answer', ringSec: 0.5 } },
        { weight: 8, outcome: { type: 'no_answer' } },
        { weight: 6, outcome: { type: 'busy', ringSec: 0.3 } },
        { weight: 6, outcome: { type: 'reject', ringSec: 0.5 } },
      ],
    }]));
    fs.writeFileSync(path.join(dataDir, 'rules.json'), JSON.stringify(rules, null, 2));
  }

  ferret = await startFerret({ port: ports.ferret, dataDir: path.join(dataDir, 'ferret'), logDir, portSetting: 'fault-suite' });
  temporal = await startTemporalDev({ port: ports.temporal, dbFile: path.join(dataDir, 'temporal.db'), logDir, portSetting: 'fault-suite' });
  for (const name of ['simulator', 'worker', ...(WORKERS === 2 ? ['worker2' as const] : []), 'api', ...(APIS === 2 ? ['api2' as const] : [])] as const) {
    await readyApp(name, await startApp(name));
  }
  say(`stack up: FerretDB :${ports.ferret}, Temporal :${ports.temporal}, simulator ESL :${ports.esl}, worker CDR :${ports.cdr}, API :${ports.api}` +
    `${APIS === 2 ? `, API2 :${ports.api2}` : ''}${WORKERS === 2 ? ', worker2' : ''}`);

  await connectMongo(`${ferret.uri}dialer`);
  cred = await createCredential({ domain: AGENT_DOMAIN, name: 'fault suite' });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: 'default' });

  for (const name of agentNames) {
    // Short ring time and delays, so missed offers and penalties come often and pass quickly.
    const a = await api('POST', '/api/v2/agents', {
      name, contact: `user/${name}`, status: 'Available', state: 'Waiting',
      callTimeout: 4, wrapUpTime: 1, busyDelayTime: 2, rejectDelayTime: 2, noAnswerDelayTime: 2, maxNoAnswer: 0,
    });
    if (a.status !== 200) throw new Error(`agent POST: ${a.status} ${JSON.stringify(a.body)}`);
  }
  const created = await api('POST', '/api/v2/dialer', {
    name: 'Fault suite',
    ...(AGENTS ? { type: 'Progressive Dialer', agents: agentNames, agentStrategy: 'random' } : { type: 'Voice Broadcasting' }),
    parameters: { limit: LIMIT, maxTryCount: MAX_TRY, intervalTryCount: 2, originateTimeout: 6, minBillSec: 0 },
    resources: [{ dialedNumber: '^(\\d+)$', destinations: [{ gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit: LIMIT }] }],
  });
  if (created.status !== 200) throw new Error(`dialer POST: ${created.status} ${JSON.stringify(created.body)}`);
  const campaignId = String(created.body.data.insertedIds[0]);

  if (PLANT.has('duplicate')) await simPost('/faults', { repeatOriginates: 1 });
  const schedule: (Kind | null)[] = FAULTS ? [...KINDS].sort(() => rand() - 0.5) : [null];
  while (schedule.length < FAULTS - OFFER_KILLS) schedule.push(KINDS[Math.floor(rand() * KINDS.length)]);
  for (let k = 0; k < OFFER_KILLS; k++) schedule.splice(1 + Math.floor(rand() * schedule.length), 0, 'worker-kill');
  const perWave = Math.ceil(MEMBERS / schedule.length);
  let posted = 0;
  for (const [i, kind] of schedule.entries()) {
    if (posted < MEMBERS) {
      const n = Math.min(perWave, MEMBERS - posted);
      const names = Array.from({ length: n }, (_, k) => `fault-member-${String(posted + k).padStart(4, '0')}`);
      const body = names.map((name) => ({
        name,
        variables: { wave: String(i) },
        communications: Array.from({ length: rand() < 0.4 ? 2 : 1 }, (_, j) => ({
          number: `3805${String(Math.floor(rand() * 1e8)).padStart(8, '0')}`, priority: 2 - j,
        })),
      }));
      const tries = await postMembers(campaignId, body, names);
      posted += n;
      say(`posted members ${posted - n}..${posted - 1}${tries > 1 ? ` (${tries} tries)` : ''}`);
      if (APIS === 2) await apiTraffic(campaignId, i, names[0]);
    }
    if (!kind) break;
    await sleep(between(4000, 14_000));
    // A random moment, but one with calls up: a fault with nothing in flight proves little.
    let up = 0;
    for (const until = Date.now() + 20_000; Date.now() < until; await sleep(250)) {
      up = (await simGet<{ activeChannels: number }>('/stats'))?.activeChannels ?? 0;
      // With agents, a worker kill waits for an agent that holds an offer not yet connected.
      const offering = AGENTS && kind === 'worker-kill'
        ? await Agent.exists({ domain: AGENT_DOMAIN, 'offer.offerId': { $exists: true }, 'offer.connectedAt': null }).catch(() => null)
        : true;
      if (up > 0 && offering) break;
    }
    await inject(kind, up);
    if (Date.now() - t0 > TIMEOUT_MS / 2) break;
  }
  say(`all ${Object.values(injected).reduce((a, b) => a + b, 0)} faults injected; waiting for the members to finish`);

  const deadline = t0 + TIMEOUT_MS;
  let lastReport = 0;
  let unfinished = '';
  for (;;) {
    const open = await Member.countDocuments({ dialer: campaignId, _endCause: null }).catch(() => -1);
    const total = await Member.countDocuments({ dialer: campaignId }).catch(() => -1);
    if (open === 0 && total === MEMBERS) break;
    if (Date.now() > deadline) {
      // Every member of this campaign can end (no status waits): not ending in time is a finding.
      unfinished = `${open} of ${total} member(s) (${MEMBERS} posted) still open after --timeout-min ${TIMEOUT_MS / 60_000}`;
      say(`deadline reached: ${unfinished}`);
      break;
    }
    if (Date.now() - lastReport > 15_000) {
      lastReport = Date.now();
      say(`${open} of ${total} member(s) still open`);
    }
    await sleep(2000);
  }
  // Let the last releases land: every member has ended, so the campaign must give back every lease
  // and complete (it re-checks at least once a minute).
  const campaignDone = Date.now() + 150_000;
  for (;;) {
    const info = await client.workflow.getHandle(campaignWorkflowId(campaignId)).query(campaignInfoQuery).catch(() => null);
    if (!info || (info.leases === 0 && info.state === 'End')) break;
    if (Date.now() > campaignDone) {
      say(`campaign still ${info.state}/${info.cause} with ${info.leases} lease(s) after 150 s`);
      break;
    }
    await sleep(1000);
  }
  if (AGENTS) {
    // Every member has ended: every offer must end too — at the latest its deadline (ring time +
    // 60 s) releases an offer nobody reported on.
    const agentsDone = Date.now() + 120_000;
    for (;;) {
      const busy = await Agent.countDocuments({ domain: AGENT_DOMAIN, $or: [{ offer: { $ne: null } }, { state: { $in: ['Reserved', 'In a queue call'] } }] }).catch(() => -1);
      if (busy === 0) break;
      if (Date.now() > agentsDone) {
        say(`${busy} agent(s) still reserved 120 s after the last member ended`);
        break;
      }
      await sleep(1000);
    }
  }
  if (PLANT.has('lost-answer')) {
    // Planted: one answered attempt's stored result overwritten with LOST_CALL, as a reconciliation
    // that lost the race with the CDR would leave it.
    const a = await Attempt.findOneAndUpdate({ dialer: campaignId, 'result.answered': true }, { $set: { 'result.cause': 'LOST_CALL' } });
    say(`planted: attempt ${a ? String(a._id) : '(none answered)'} now says LOST_CALL`);
  }
  if (PLANT.has('lost-edit')) {
    // Planted: a member edit an API answered 200 to undone in the store, as a lost write would leave it.
    const [id] = [...memberEdits.keys()];
    if (id) await Member.updateOne({ _id: id }, { $set: { 'variables.edited': 'overwritten' } });
    say(`planted: member ${id ?? '(none edited)'} lost its edit`);
  }
  const r = await check(campaignId, client);
  if (unfinished) r.violations.push(`run not finished: ${unfinished}`);
  const missingKinds = KINDS.filter((k) => !injected[k]);
  if (FAULTS && missingKinds.length) r.violations.push(`fault kind(s) never injected (time ran out): ${missingKinds.join(', ')}`);

  // Graceful shutdown of every project process: SIGTERM → exit 0.
  finishing = true;
  for (const name of ['api', ...(APIS === 2 ? ['api2' as const] : []), 'worker', ...(WORKERS === 2 ? ['worker2' as const] : []), 'simulator'] as const) {
    const p = apps[name]!;
    planned.add(p);
    const t = Date.now();
    await p.stop(60_000);
    const code = await p.exited;
    gracefulExits.push({ what: `${name} (final SIGTERM)`, code, ms: Date.now() - t });
    if (code !== 0) r.violations.push(`${name} exited ${String(code)} on SIGTERM`);
  }
  await connection.close();
  await mongoose.disconnect();
  await temporal.stop();
  await ferret.stop();

  const kinds = Object.fromEntries(KINDS.map((k) => [k, injected[k] ?? 0]));
  console.log('\n==== fault suite result ====');
  console.log(`seed ${SEED}, ${((Date.now() - t0) / 1000).toFixed(0)} s, ${r.members} members (${r.ended} ended, ${r.waiting} legitimately waiting, ${r.stuck} stuck), campaign ${r.campaignState}`);
  console.log(`faults: ${faultLog.length}`);
  for (const f of faultLog) console.log(`  ${f}`);
  console.log(`graceful stops: ${gracefulExits.map((g) => `${g.what} exit ${String(g.code)} in ${g.ms} ms`).join('; ')}`);
  console.log(`results by source ${JSON.stringify(r.bySource)}`);
  console.log(`results by cause ${JSON.stringify(r.byCause)}`);
  console.log(`member end causes ${JSON.stringify(r.endCauses)}`);
  console.log(`switch call log: ${r.sw.calls.length} originates, peak ${r.sw.peak} calls in progress (limit ${LIMIT}), ` +
    `${r.sw.calls.filter((c) => c.answered).length} answered, ${r.sw.calls.filter((c) => c.state === 'vanished').length} vanished in crashes`);
  console.log(`stats ${JSON.stringify(r.recount)} (recount) vs ${JSON.stringify(Object.fromEntries(Object.keys(r.recount).map((k) => [k, r.stats[k] ?? 0])))} (campaign)`);
  if (APIS === 2) {
    console.log(`APIs: 2, requests ${apiRequests.join(' + ')}; per wave ${JSON.stringify(apiTrafficLog)}; member edits checked stored: ${memberEdits.size}`);
  }
  if (r.agents) {
    console.log(`agents: ${AGENTS}, ${r.agents.offers} offers, ${r.sw.calls.filter((c) => c.agent).length} agent legs, ` +
      `${r.sw.calls.filter((c) => c.memberLeg).length} member legs bridged from them (${r.sw.calls.filter((c) => c.memberLeg?.answered).length} answered)`);
  }
  for (const n of r.notes) console.log(`note: ${n}`);
  console.log(`\nattempts=${r.attempts}, faults injected by kind ${JSON.stringify(kinds)}, without outcome=${r.noOutcome}, ` +
    `lost=${r.sw.lost}, duplicates=${r.sw.duplicates}, redials of answered calls=${r.sw.redialsOfAnswered}, ` +
    `limit breaches=${r.sw.limitBreaches}, stuck=${r.stuck}, stats mismatches=${r.statMismatches}` +
    (r.agents ? `, agents double rings=${r.agents.doubleRings}, double offers=${r.agents.doubleOffers}, unreserved rings=${r.agents.unreserved}, left reserved=${r.agents.leftReserved}` : ''));
  if (r.violations.length) {
    console.log(`\nFAILED: ${r.violations.length} violation(s):`);
    for (const v of r.violations) console.log(`  - ${v}`);
    console.log(`logs kept in ${logDir}`);
    return 1;
  }
  console.log('\nPASSED: every invariant holds');
  if (KEEP) console.log(`logs kept in ${logDir}`);
  else fs.rmSync(dataDir, { recursive: true, force: true });
  return 0;
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    finishing = true;
    console.error(`fault suite: ${sig}, stopping (logs in ${logDir})`);
    process.exit(130); // servers.ts kills every child process group on exit
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    finishing = true;
    console.error(`fault suite: ${err instanceof Error ? err.stack ?? err.message : String(err)}\nlogs in ${logDir}`);
    process.exit(1);
  },
);
