// What a members reset (§8.7) costs per member on FerretDB v1 (SQLite), FerretDB alone: the reset as
// the project runs it (services/members.ts: read a batch of 500 in `_id` order, one `updateOne` per
// member, 50 per `bulkWrite`) beside two write paths it could take instead, each on its own --n ended
// members. The figures that decide are the CPU per member of FerretDB and of the client (this process,
// as the API would be), since the box's load moves the wall time.
//   npx tsx bench/reset-writes.ts [--n 5000] [--paths update,delete+insert,staged,uniform]
// - update: the project's reset (services/members.ts resetMembers).
// - delete+insert: each batch deleted by `_id $in` and inserted again reset (one statement and a few
//   100-document inserts per batch instead of one transaction per member). NOT crash-safe: a process
//   that stops between the two loses the batch — measured only to show what the per-member
//   transactions cost.
// - staged delete+insert: the same, with the reset documents first inserted into a side collection
//   and removed after (what a crash-safe version would at least have to write).
// - uniform updateMany: one `updateMany` by `_id $in` per batch with the same `$set` for all, leaving
//   the numbers and the attempt log as they are — the floor of an update, for comparison (a reset
//   must also reset each member's numbers and add to its log).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { memberDocument } from '../api/member-docs';
import { connectMongo } from '../lib/db';
import { Member } from '../models';
import { MemberStore } from '../models/member-store';
import { batchesById } from '../models/pages';
import { resetMembers } from '../services/members';
import { startFerret } from '../scripts/servers';
import { arg, cpuSec, log } from './lib/stack';

const N = Number(arg('--n', '5000'));
/** Which write paths to run (their names' first word). */
const PATHS = arg('--paths', 'update,delete+insert,staged,uniform').split(',');

async function fill(campaign: string): Promise<void> {
  for (let i = 0; i < N; i += 5000) {
    const docs: Record<string, unknown>[] = [];
    for (let j = i; j < Math.min(N, i + 5000); j++) {
      const d: Record<string, unknown> = memberDocument({ name: `M ${j}`, priority: j % 10, variables: { debt: String(j) }, communications: [{ number: `3805${String(j).padStart(7, '0')}`, priority: 1 }] }, campaign, 'bench.local');
      Object.assign(d, { _endCause: 'MANAGER_REQUEST', communications: [{ ...(d.communications as object[])[0], state: 2 }] });
      docs.push(d);
    }
    await MemberStore.insert(docs);
  }
}

/** A member as the reset leaves it (the fields MemberStore.resetEnded sets). */
function resetDoc(d: Record<string, unknown>, now: number): Record<string, unknown> {
  return {
    ...d,
    communications: (d.communications as Record<string, unknown>[]).map((c) => (c.stopCommunication ? c : { ...c, state: 0, _probe: 0, lastCall: 0, rangeId: null, rangeAttempts: 0, checkResult: null })),
    _endCause: null, _probeCount: 0, callSuccessful: false, _lastMinusProbe: false, _lostRedials: 0, _nextTryTime: null,
    lastCall: 0, _waitingForResultStatus: null, _waitingForResultStatusCb: null, _readyAt: null, lastModified: now,
    _log: [{ state: 'reset', time: now, steps: [{ time: now, data: 'Reset by bench' }] }, ...((d._log as unknown[]) ?? [])],
  };
}

async function rewrite(campaign: string, staged: boolean): Promise<number> {
  const side = mongoose.connection.collection('bench_reset_staged');
  const now = Date.now();
  let n = 0;
  for await (const docs of batchesById<Record<string, unknown> & { _id: mongoose.Types.ObjectId }>(Member, { dialer: campaign, _endCause: { $ne: null }, _lock: null }, {}, 500)) {
    const ids = docs.map((d) => d._id);
    const next = docs.map((d) => resetDoc(d, now));
    if (staged) await side.insertMany(next as never[]);
    await Member.collection.deleteMany({ _id: { $in: ids }, _endCause: { $ne: null }, _lock: null });
    await Member.collection.insertMany(next);
    if (staged) await side.deleteMany({ _id: { $in: ids } } as never);
    n += next.length;
  }
  return n;
}

/** One `updateMany` per batch of 500, the same `$set` for each member. */
async function uniform(campaign: string): Promise<number> {
  const now = Date.now();
  let n = 0;
  for await (const docs of batchesById<Record<string, unknown> & { _id: mongoose.Types.ObjectId }>(Member, { dialer: campaign, _endCause: { $ne: null }, _lock: null }, { _id: 1 }, 500)) {
    const ids = docs.map((d) => d._id);
    const r = await Member.collection.updateMany({ _id: { $in: ids }, _endCause: { $ne: null }, _lock: null }, { $set: { _endCause: null, _probeCount: 0, callSuccessful: false, _lastMinusProbe: false, _lostRedials: 0, _nextTryTime: null, lastCall: 0, _waitingForResultStatus: null, _waitingForResultStatusCb: null, _readyAt: null, lastModified: now, _resetGen: now } });
    n += r.modifiedCount;
  }
  return n;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialer-bench-reset-'));
  const ferret = await startFerret({ port: Number(process.env.BENCH_FERRETDB_PORT ?? 27217), dataDir: path.join(dir, 'ferret'), logDir: path.join(dir, 'logs'), portSetting: 'BENCH_FERRETDB_PORT' });
  const rows: string[] = [];
  try {
    await connectMongo(`${ferret.uri}bench`);
    await Member.init();
    const paths: [string, (campaign: string) => Promise<number>][] = [
      ['update (the project\'s reset)', (c) => resetMembers({ waker: { wake: () => undefined } } as never, { _id: c, domain: 'bench.local', active: false } as never, { from: 0, replaceLog: false, user: 'bench' })],
      ['delete+insert (not crash-safe)', (c) => rewrite(c, false)],
      ['staged delete+insert', (c) => rewrite(c, true)],
      ['uniform updateMany (numbers and log untouched)', (c) => uniform(c)],
    ];
    for (const [name, run] of paths.filter(([name]) => PATHS.includes(name.split(' ')[0]))) {
      const campaign = new mongoose.Types.ObjectId().toString();
      await fill(campaign);
      const t0 = performance.now();
      const c0 = cpuSec(ferret.pid);
      const self0 = process.cpuUsage();
      const n = await run(campaign);
      const ms = performance.now() - t0;
      const cpuMs = (cpuSec(ferret.pid) - c0) * 1000;
      const selfUs = process.cpuUsage(self0);
      const nodeMs = (selfUs.user + selfUs.system) / 1000;
      const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
      log(`${name}: ${n} members in ${(ms / 1000).toFixed(1)} s, FerretDB CPU ${(cpuMs / n).toFixed(2)} ms/member, this process ${(nodeMs / n).toFixed(2)} ms/member (load ${load})`);
      rows.push(`| ${name} | ${n} | ${(ms / 1000).toFixed(1)} s | ${(ms / n).toFixed(2)} ms | ${(cpuMs / n).toFixed(2)} ms | ${(nodeMs / n).toFixed(2)} ms | ${load} |`);
    }
    console.log(`\n=== Members reset write paths on FerretDB alone, ${N} ended members each ===`);
    console.log('| write path | members | wall | wall / member | FerretDB CPU / member | client CPU / member | load |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(r);
  } finally {
    await mongoose.disconnect();
    await ferret.stop();
    if (!process.env.BENCH_KEEP) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
