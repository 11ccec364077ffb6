// Tenant isolation in the REST API (issue 11 §5; not a timed test), loopback only, bounded:
//   npx tsx bench/tenant-isolation.ts [--members 10000] [--seconds 20] [--listers 2] [--api-dir DIR]
//                                     [--ferret-port N] [--temporal-port N] [--api-port N] [--env K=V,…]
// Starts its own FerretDB, Temporal dev server and REST API (child processes; free ports unless
// given; temp dir). Tenant A has one campaign of --members members (stored directly), tenant B a
// small campaign. Then, in one run:
//   1. baseline: B sends GET /api/v2/dialer/:id every 100 ms (a console polling) for --seconds, alone;
//   2. contention: the same while A lists all its members in pages of 1000 (GET …/members?limit=1000
//      &page=N, --listers loops in parallel, with A's own credential) — what a console exporting a
//      list does.
// Prints B's p50/p90/p99/max alone and under A's load, and A's list times and status codes (a
// query over API_QUERY_TIMEOUT_MS is a 422). --api-dir runs the API of another checkout (e.g. the
// old main) against the same bench; --env passes settings to the API (e.g. API_QUERY_TIMEOUT_MS=2000).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { memberDocument } from '../api/member-docs';
import { connectMongo } from '../lib/db';
import { createCredential } from '../models/credential';
import { apiRequest, type ApiCredential } from '../scripts/api-request';
import { freePort, portOpen, startFerret, startProcess, startTemporalDev, waitReady, type Proc } from '../scripts/servers';
import { arg } from './lib/util';

const MEMBERS = Number(arg('--members', '10000'));
const SECONDS = Number(arg('--seconds', '20'));
const LISTERS = Number(arg('--listers', '2'));
const API_DIR = path.resolve(arg('--api-dir', path.join(__dirname, '..')));
const EXTRA_ENV = Object.fromEntries(arg('--env', '').split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
const HARD_LIMIT_MS = 15 * 60_000;

const port = async (name: string) => Number(arg(`--${name}-port`, '0')) || freePort();

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
function stats(lat: number[]): string {
  const s = [...lat].sort((a, b) => a - b);
  const f = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(0)} ms`);
  return `n ${s.length}, p50 ${f(percentile(s, 50))}, p90 ${f(percentile(s, 90))}, p99 ${f(percentile(s, 99))}, max ${f(s[s.length - 1] ?? NaN)}`;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialer-isolation-'));
  const logDir = path.join(dir, 'logs');
  const ports = { ferret: await port('ferret'), temporal: await port('temporal'), api: await port('api') };
  console.log(`tenant-isolation: API from ${API_DIR}, data and logs in ${dir}`);
  const procs: Proc[] = [];
  const hardStop = setTimeout(() => {
    console.error('tenant-isolation: hard time limit reached');
    process.exit(2);
  }, HARD_LIMIT_MS);
  try {
    const ferret = await startFerret({ port: ports.ferret, dataDir: path.join(dir, 'ferret'), logDir });
    procs.push(ferret);
    const temporal = await startTemporalDev({ port: ports.temporal, dbFile: path.join(dir, 'temporal.db'), logDir });
    procs.push(temporal);
    const env = {
      ...process.env,
      LOG_LEVEL: 'warn',
      MONGODB_URI: `${ferret.uri}dialer`,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_TASK_QUEUE: 'dialer-isolation',
      API_HOST: '127.0.0.1',
      API_PORT: String(ports.api),
      API_METRICS_PORT: '0',
      ...EXTRA_ENV,
    };
    const api = startProcess({ name: 'api', command: process.execPath, args: ['--import', 'tsx', 'api/main.ts'], env, cwd: API_DIR, logFile: path.join(logDir, 'api.log') });
    procs.push(api);
    await waitReady(api, `api on ${ports.api}`, portOpen(ports.api), 90_000);
    await connectMongo(`${ferret.uri}dialer`);
    const base = `http://127.0.0.1:${ports.api}`;
    const a: ApiCredential = await createCredential({ domain: 'tenant-a', name: 'A' });
    const b: ApiCredential = await createCredential({ domain: 'tenant-b', name: 'B' });
    const dialer = async (cred: ApiCredential) => {
      const r = await apiRequest<{ data: { insertedIds: string[] } }>(base, 'POST', '/api/v2/dialer', {
        cred, body: { name: 'Isolation', type: 'Voice Broadcasting', resources: [{ dialedNumber: '.*', destinations: [{ dialString: 'sofia/gateway/x/$1' }] }] },
      });
      if (r.status !== 200) throw new Error(`dialer POST ${r.status}`);
      return r.body.data.insertedIds[0];
    };
    const da = await dialer(a);
    const db = await dialer(b);
    const t0 = Date.now();
    for (let i = 0; i < MEMBERS; i += 1000) {
      const docs = Array.from({ length: Math.min(1000, MEMBERS - i) }, (_, k) =>
        memberDocument({ name: `member ${i + k}`, variables: { crm: i + k }, communications: [{ number: `38050${String(i + k).padStart(7, '0')}` }] }, da, 'tenant-a'));
      await mongoose.connection.collection('members').insertMany(docs);
    }
    console.log(`tenant A: ${MEMBERS} members stored in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    /** B's GET /dialer/:id every 100 ms (the next one when the last has answered) until `until`. */
    const probeB = async (until: number) => {
      const lat: number[] = [];
      const codes: Record<number, number> = {};
      while (Date.now() < until) {
        const s = performance.now();
        const r = await apiRequest(base, 'GET', `/api/v2/dialer/${db}`, { cred: b, timeoutMs: 60_000 }).catch(() => ({ status: 0 }));
        const ms = performance.now() - s;
        lat.push(ms);
        codes[r.status] = (codes[r.status] ?? 0) + 1;
        if (ms < 100) await new Promise((r_) => setTimeout(r_, 100 - ms));
      }
      return { lat, codes };
    };
    await probeB(Date.now() + 2000); // warm-up
    const alone = await probeB(Date.now() + SECONDS * 1000);
    console.log(`B alone:            GET /dialer/:id ${stats(alone.lat)} ${JSON.stringify(alone.codes)}`);

    const listLat: number[] = [];
    const listCodes: Record<number, number> = {};
    let listing = true;
    const lister = async () => {
      for (let page = 1; listing; page = (page % Math.ceil(MEMBERS / 1000)) + 1) {
        const s = performance.now();
        const r = await apiRequest(base, 'GET', `/api/v2/dialer/${da}/members?limit=1000&page=${page}`, { cred: a, timeoutMs: 120_000 }).catch(() => ({ status: 0 }));
        listLat.push(performance.now() - s);
        listCodes[r.status] = (listCodes[r.status] ?? 0) + 1;
      }
    };
    const listers = Array.from({ length: LISTERS }, () => lister());
    await new Promise((r) => setTimeout(r, 1000));
    const loaded = await probeB(Date.now() + SECONDS * 1000);
    listing = false;
    await Promise.all(listers);
    console.log(`B while A lists:    GET /dialer/:id ${stats(loaded.lat)} ${JSON.stringify(loaded.codes)}`);
    console.log(`A's pages of 1000:  ${stats(listLat)} ${JSON.stringify(listCodes)} (${LISTERS} in parallel)`);
  } finally {
    clearTimeout(hardStop);
    await mongoose.disconnect().catch(() => undefined);
    for (const p of procs.reverse()) await p.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
