// API load run (issue 6; not a timed test), loopback only, bounded in count and time:
//   npx tsx bench/load-api.ts [--posts 2000] [--concurrency 16] [--rates 1,2,5] [--seconds 10] [--dial-limit 15]
//                             [--preload 0] [--keep]
// Starts its own FerretDB, Temporal dev server, FreeSWITCH simulator, worker and REST API (child
// processes, free ports, temp dir), then:
//   1. status PUT: for each rate R of --rates, R × --seconds members of a campaign with
//      waitingForResultStatus are dialled (answered 0.5 s calls) until every one waits in wrap-up,
//      then PUT /api/v2/dialer/:id/members/:mid/status {success:true} is sent to each at R requests/s
//      (open loop: latency counted from the scheduled send time, so a slow server is not hidden).
//      The PUT returns once the member workflow's Update handler has applied and stored the status,
//      so its latency is "status PUT → acknowledged by the workflow". The part spent in Temporal
//      (Update accepted → completed, from the workflow histories) is reported beside it, split into
//      the activities' own run time, their queue time (scheduled → started) and the rest (workflow
//      tasks); before the PUTs, GET …/members/:id at the same rate gives the API's own share (the
//      same credential, dialer and member lookups, no Temporal);
//   --preload N first stores N idle members of another (stopped) dialer straight into Mongo, so the
//   status PUTs run against a members collection of that size (FerretDB v1 scans a collection for
//   any filter it cannot push down: only `{_id}` lookups stay cheap as it grows);
//   2. member POST: --posts single-member POST /api/v2/dialer/:id/members requests to a stopped
//      campaign (so only the API and the database work), --concurrency in flight (closed loop).
// Prints throughput, p50/p90/p99/max and errors of each; the goal is p99 ≤ 200 ms for the status PUT.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { Client, Connection } from '@temporalio/client';
import { memberWorkflowId } from '../workflows/messages';
import { connectMongo } from '../lib/db';
import { Member } from '../models';
import { createCredential } from '../models/credential';
import { freePort, portOpen, startFerret, startProcess, startTemporalDev, waitReady, type Proc } from '../scripts/servers';
import { arg } from './lib/util';

const POSTS = Number(arg('--posts', '2000'));
const CONCURRENCY = Number(arg('--concurrency', '16'));
const RATES = arg('--rates', '1,2,5').split(',').map(Number).filter((n) => n > 0);
const SECONDS = Number(arg('--seconds', '10'));
/** Calls in parallel while members are dialled into wrap-up (one Mongo connection per process: keep it modest). */
const DIAL_LIMIT = Number(arg('--dial-limit', '15'));
const PRELOAD = Number(arg('--preload', '0'));
const KEEP = process.argv.includes('--keep');
const HARD_LIMIT_MS = 30 * 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
function summary(name: string, lat: number[], errors: number, ms: number, extra = ''): string {
  const s = [...lat].sort((a, b) => a - b);
  const f = (n: number) => n.toFixed(1);
  return `${name}: ${lat.length + errors} requests in ${(ms / 1000).toFixed(1)} s = ${f(((lat.length + errors) * 1000) / ms)} req/s${extra}, ` +
    `p50 ${f(percentile(s, 50))} ms, p90 ${f(percentile(s, 90))} ms, p99 ${f(percentile(s, 99))} ms, max ${f(s[s.length - 1] ?? NaN)} ms, errors ${errors}`;
}

async function main(): Promise<void> {
  const started = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialer-load-'));
  const logDir = path.join(dir, 'logs');
  const ports = { ferret: await freePort(), temporal: await freePort(), esl: await freePort(), simControl: await freePort(), api: await freePort(), cdr: await freePort() };
  console.log(`load-api: data and logs in ${dir}`);
  const procs: Proc[] = [];
  const ferret = await startFerret({ port: ports.ferret, dataDir: path.join(dir, 'ferret'), logDir });
  procs.push(ferret);
  const temporal = await startTemporalDev({ port: ports.temporal, dbFile: path.join(dir, 'temporal.db'), logDir });
  procs.push(temporal);
  fs.writeFileSync(path.join(dir, 'rules.json'), JSON.stringify({ default: { type: 'answer', ringSec: 0.2, talkSec: 0.5 } }));
  const env = {
    ...process.env,
    LOG_LEVEL: 'warn',
    MONGODB_URI: `${ferret.uri}dialer`,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: 'dialer-load',
    ESL_PORT: String(ports.esl),
    SIMULATOR_CONTROL_PORT: String(ports.simControl),
    SIMULATOR_RULES: path.join(dir, 'rules.json'),
    SIMULATOR_SPS: '200',
    API_HOST: '127.0.0.1',
    API_PORT: String(ports.api),
    API_RATE_LIMIT: '0', // the bench measures the stack, not the per-credential rate limit
    CDR_PORT: String(ports.cdr),
    WORKER_METRICS_PORT: '0',
    API_METRICS_PORT: '0',
    SIMULATOR_CDR_URL: `http://127.0.0.1:${ports.cdr}/cdr`,
  };
  const app = async (name: string, entry: string, port: number) => {
    const p = startProcess({ name, command: process.execPath, args: ['--import', 'tsx', entry], env, logFile: path.join(logDir, `${name}.log`) });
    procs.push(p);
    await waitReady(p, `${name} on ${port}`, portOpen(port), 90_000);
  };
  await app('simulator', 'simulator/main.ts', ports.esl);
  await app('worker', 'worker.ts', ports.cdr);
  await app('api', 'api/main.ts', ports.api);
  await connectMongo(`${ferret.uri}dialer`);
  const cred = await createCredential({ domain: 'load.local', name: 'load bench' });
  const base = `http://127.0.0.1:${ports.api}`;
  const headers = { 'X-Key': cred.key, 'X-Access-Token': cred.secret, 'Content-Type': 'application/json' };
  const call = async (method: string, p: string, body?: unknown) => {
    const r = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    const text = await r.text();
    return { status: r.status, json: () => JSON.parse(text) as { data: any } };
  };
  const dialer = async (params: Record<string, unknown>) => {
    const r = await call('POST', '/api/v2/dialer', {
      name: 'Load', type: 'Voice Broadcasting', parameters: params,
      resources: [{ dialedNumber: '^(\\d+)$', destinations: [{ gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit: 100 }] }],
    });
    if (r.status !== 200) throw new Error(`dialer POST ${r.status}`);
    return String(r.json().data.insertedIds[0]);
  };
  const lines: string[] = [];
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });

  // Baseline: one FerretDB round trip (a findById on a small collection) from this process.
  {
    const rt: number[] = [];
    for (let i = 0; i < 30; i++) {
      const s0 = performance.now();
      await Member.findById(new mongoose.Types.ObjectId()).lean();
      rt.push(performance.now() - s0);
    }
    rt.sort((a, b) => a - b);
    lines.push(`FerretDB round trip (findById, idle stack): p50 ${percentile(rt, 50).toFixed(1)} ms, p99 ${percentile(rt, 99).toFixed(1)} ms`);
    console.log(lines[lines.length - 1]);
  }

  if (PRELOAD > 0) {
    const id = await dialer({ limit: 10 });
    const t = Date.now();
    for (let i = 0; i < PRELOAD; i += 1000) {
      await Member.insertMany(Array.from({ length: Math.min(1000, PRELOAD - i) }, (_, k) => ({
        dialer: id, domain: 'load.local', name: `idle ${i + k}`, createdOn: Date.now(),
        communications: [{ number: `38066${String(i + k).padStart(7, '0')}`, priority: 0, state: 0 }],
      })));
    }
    lines.push(`preloaded ${PRELOAD} idle members of another dialer in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    console.log(lines[lines.length - 1]);
  }

  // 1. status PUT at each rate (open loop).
  for (const rate of RATES) {
    const n = Math.round(rate * SECONDS);
    const id = await dialer({ limit: DIAL_LIMIT, maxTryCount: 1, waitingForResultStatus: true, wrapUpTime: 3600, originateTimeout: 10 });
    for (let i = 0; i < n; i += 100) {
      const batch = Array.from({ length: Math.min(100, n - i) }, (_, k) => ({ name: `wrap ${i + k}`, communications: [{ number: `38050${String(rate).padStart(3, '0')}${String(i + k).padStart(4, '0')}` }] }));
      const r = await call('POST', `/api/v2/dialer/${id}/members?autoRun=true`, batch);
      if (r.status !== 200) throw new Error(`members POST ${r.status}`);
    }
    const t0 = Date.now();
    for (;;) {
      const waiting = await Member.countDocuments({ dialer: id, _waitingForResultStatusCb: 1 });
      if (waiting === n) break;
      if (Date.now() - started > HARD_LIMIT_MS) throw new Error(`only ${waiting}/${n} members reached wrap-up`);
      await sleep(1000);
    }
    await sleep(3000); // the last workflows enter their wrap-up wait after storing it
    const ids = (await Member.find({ dialer: id }, { _id: 1 }).lean<{ _id: unknown }[]>()).map((m) => String(m._id));
    console.log(`${n} members in wrap-up after ${((Date.now() - t0) / 1000).toFixed(0)} s; GET member, then PUT status, at ${rate}/s`);
    /** Open loop at `rate`: latency from the scheduled send time; non-200 answers are errors. */
    const openLoop = async (method: string, suffix: string, body?: unknown) => {
      const lat: number[] = [];
      let errors = 0;
      const errorSamples: string[] = [];
      const t = performance.now();
      const inflight: Promise<void>[] = [];
      for (const [i, mid] of ids.entries()) {
        const scheduled = t + (i * 1000) / rate;
        const wait = scheduled - performance.now();
        if (wait > 0) await sleep(wait);
        inflight.push((async () => {
          try {
            const r = await call(method, `/api/v2/dialer/${id}/members/${mid}${suffix}`, body);
            if (r.status === 200) lat.push(performance.now() - scheduled);
            else {
              errors++;
              if (errorSamples.length < 3) errorSamples.push(`${r.status}`);
            }
          } catch (err) {
            errors++;
            if (errorSamples.length < 3) errorSamples.push(String(err));
          }
        })());
      }
      await Promise.all(inflight);
      return { lat, errors, errorSamples, ms: performance.now() - t };
    };
    const get = await openLoop('GET', '');
    lines.push(summary(`  GET member (API lookups only) at ${rate}/s`, get.lat, get.errors, get.ms));
    console.log(lines[lines.length - 1]);
    await sleep(2000);
    const { lat, errors, errorSamples, ms: putMs } = await openLoop('PUT', '/status', { success: true, comment: 'load' });
    const ended = await Member.countDocuments({ dialer: id, _endCause: 'NORMAL_CLEARING' });
    // Inside Temporal: Update accepted → Update completed (the handler stores the status via
    // activities), split into the activities' run time (started → completed), their queue time
    // (scheduled → started) and the rest (workflow tasks, history writes).
    const inWf: number[] = [];
    const actRun: Record<string, number[]> = {};
    const actQueue: number[] = [];
    const rest: number[] = [];
    for (const mid of ids.slice(0, 100)) {
      const h = await client.workflow.getHandle(memberWorkflowId(id, mid)).fetchHistory().catch(() => null);
      const events = h?.events ?? [];
      type Ev = (typeof events)[number];
      const at = (e: Ev | undefined) => (e?.eventTime ? Number(e.eventTime.seconds) * 1000 + Math.round((e.eventTime.nanos ?? 0) / 1e6) : NaN);
      const iAcc = events.findIndex((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
      const iDone = events.findIndex((e) => e.workflowExecutionUpdateCompletedEventAttributes);
      if (iAcc < 0 || iDone < 0) continue;
      const d = at(events[iDone]) - at(events[iAcc]);
      if (!Number.isFinite(d)) continue;
      inWf.push(d);
      let inActivities = 0;
      for (const e of events.slice(iAcc, iDone)) {
        const sched = e.activityTaskScheduledEventAttributes;
        if (!sched) continue;
        const eid = Number(e.eventId);
        const started = events.find((x) => Number(x.activityTaskStartedEventAttributes?.scheduledEventId ?? -1) === eid);
        const done = events.find((x) => Number(x.activityTaskCompletedEventAttributes?.scheduledEventId ?? -1) === eid);
        const q = at(started) - at(e);
        const run = at(done) - at(started);
        if (!Number.isFinite(q) || !Number.isFinite(run)) continue;
        actQueue.push(q);
        (actRun[sched.activityType?.name ?? '?'] ??= []).push(run);
        inActivities += q + run;
      }
      rest.push(d - inActivities);
    }
    const p = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return `p50 ${percentile(s, 50)} / p99 ${percentile(s, 99)} ms`;
    };
    lines.push(summary(`status PUT → workflow ack at ${rate}/s`, lat, errors, putMs, ` (${ended}/${n} members ended by it)`) +
      `; inside Temporal (Update accepted → completed, ${inWf.length} sampled): ${p(inWf)}` +
      (errorSamples.length ? ` [${errorSamples.join(', ')}]` : ''));
    console.log(lines[lines.length - 1]);
    lines.push(`  inside Temporal: ${Object.entries(actRun).map(([k, v]) => `activity ${k} runs ${p(v)}`).join(', ')}; ` +
      `activity queue (scheduled → started) ${p(actQueue)}; the rest (workflow tasks) ${p(rest)}`);
    console.log(lines[lines.length - 1]);
  }

  // 2. member POST (closed loop), after the status runs: FerretDB v1 scans collections, so the
  //    2000 extra members would slow every member lookup of the status PUT.
  {
    const id = await dialer({ limit: 10 });
    const lat: number[] = [];
    let errors = 0;
    let next = 0;
    const t = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < POSTS && Date.now() - started < HARD_LIMIT_MS) {
        const i = next++;
        const s = performance.now();
        try {
          const r = await call('POST', `/api/v2/dialer/${id}/members`, { name: `load ${i}`, communications: [{ number: `38067${String(i).padStart(7, '0')}` }] });
          if (r.status === 200) lat.push(performance.now() - s);
          else errors++;
        } catch {
          errors++;
        }
      }
    }));
    lines.push(summary(`member POST (1 member/request, ${CONCURRENCY} in flight)`, lat, errors, Date.now() - t));
    console.log(lines[lines.length - 1]);
  }

  console.log(`\n==== load-api (${os.cpus().length} CPU, Node ${process.version}) ====`);
  for (const l of lines) console.log(l);
  await mongoose.disconnect();
  await connection.close();
  for (const p of procs.reverse()) await p.stop();
  if (!KEEP) fs.rmSync(dir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`load-api: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
