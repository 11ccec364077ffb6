// The five-minute expiry sweep (spec §5.6, §8) on a stopped campaign: members whose `expire` passed
// end with MEMBER_EXPIRED and a member-end event with reason "expire", members not yet expired are
// left, the counts follow, and the sweep reads members only by `_id` list (never a campaign scan:
// FerretDB pushes down only `_id`). It runs as a Temporal schedule every 5 minutes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import pino from 'pino';
import { MockActivityEnvironment } from '@temporalio/testing';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createExpiryActivities, type SweepResult } from '../activities/expiry';
import { Member } from '../models';
import { MemberEnd } from '../models/member-end';
import { MemberStore } from '../models/member-store';
import { ExpiryIndex } from '../models/expiry-index';
import { ensureMemberExpirySweep, MEMBER_EXPIRY_SWEEP_ID } from '../workflows/start';
import { dialerBody, requireEnv, startApi, type ApiHarness, type Cred } from './api-support';
import { recordHistory, workflowBundle } from './support/env';
import { commandsSent } from './support/commands';

let h: ApiHarness;
let acme: Cred;

before(async () => {
  h = await startApi('expiry_sweep_test');
  acme = await h.credential('acme');
});
after(() => h?.close());

/** The filters of the queries the sweep sends to the members collection. */
function watchMemberQueries(): { filters: unknown[]; stop(): void } {
  const filters: unknown[] = [];
  mongoose.set('debug', (coll: string, method: string, query: unknown) => {
    if (coll === 'members' && /^find|count|aggregate/.test(method)) filters.push(query);
  });
  return { filters, stop: () => mongoose.set('debug', false) };
}

test('the schedule starts the sweep workflow, which ends an expired member on the worker', { timeout: 120_000 }, async () => {
  const connection = await NativeConnection.connect({ address: requireEnv('TEMPORAL_ADDRESS') });
  const worker = await Worker.create({
    connection,
    namespace: process.env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: h.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createExpiryActivities({ client: h.client, log: pino({ level: 'silent' }) }),
  });
  const run = worker.run();
  try {
    const now = Date.now();
    const d = (await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody() })).body.data.insertedIds[0];
    const m = (await h.req('POST', `/api/v2/dialer/${d}/members`, { cred: acme, body: { name: 'old', communications: [{ number: '380501112233' }], expire: now - 3600_000 } })).body.data.insertedIds[0];
    // As if it had been stored 20 minutes ago: its slot has passed, so this sweep reads it.
    await ExpiryIndex.add([{ _id: new mongoose.Types.ObjectId(m), dialer: d, expire: now - 3600_000 }], now - 20 * 60_000);
    await ensureMemberExpirySweep(h.client, h.taskQueue);
    const schedule = h.client.schedule.getHandle(MEMBER_EXPIRY_SWEEP_ID);
    await schedule.trigger();
    const end = Date.now() + 60_000;
    while ((await Member.findById(m).lean<{ _endCause: string | null }>())?._endCause !== 'MEMBER_EXPIRED') {
      assert.ok(Date.now() < end, 'the scheduled sweep did not end the member');
      await new Promise((r) => setTimeout(r, 300));
    }
    const action = (await schedule.describe()).info.recentActions.at(-1)!.action;
    const wf = h.client.workflow.getHandle(action.workflow.workflowId);
    await wf.result();
    await recordHistory(wf, 'member-expiry-sweep', 'expiry');
    await schedule.delete();
  } finally {
    worker.shutdown();
    await run;
    await connection.close();
  }
});

test('the sweep ends the expired members of a stopped campaign, reads members by _id only, and is scheduled every 5 minutes', async () => {
  const now = Date.now();
  const d = (await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody() })).body.data.insertedIds[0];
  const add = async (name: string, expire?: number) =>
    (await h.req('POST', `/api/v2/dialer/${d}/members`, { cred: acme, body: { name, communications: [{ number: '380501112233' }], ...(expire ? { expire } : {}) } })).body.data.insertedIds[0];
  const past = await add('past', now - 3600_000);
  const soon = await add('soon', now + 20 * 60_000);
  const never = await add('never');
  // An expire edited later is indexed too.
  const edited = await add('edited');
  assert.equal((await h.req('PUT', `/api/v2/dialer/${d}/members/${edited}`, { cred: acme, body: { expire: now - 60_000 } })).status, 200);
  const acts = createExpiryActivities({ client: h.client, log: pino({ level: 'silent' }) });
  const env = new MockActivityEnvironment();
  const sweep = (now: number): Promise<SweepResult> => env.run(acts.sweepExpiredMembers, { now });

  await mongoose.connection.collection('dialer_sweeps').deleteMany({}); // this sweep is the store's first
  const watch = watchMemberQueries();
  let first!: SweepResult;
  const sent = await commandsSent(async () => void (first = await sweep(now + 7 * 60_000)));
  watch.stop();
  // The first sweep looks back a day (288 slots) but reads only the slot directories there are: one
  // `_id` list query per 500 of them, not a read per slot and campaign.
  const index = sent.filter((c) => c.collection === 'dialer_member_expiry');
  assert.ok(first.slots >= 288, `slots ${first.slots}`);
  assert.ok(index.length <= 12, `index commands: ${index.length}`);
  assert.equal(first.ended, 2, JSON.stringify(first));
  assert.ok(watch.filters.length > 0, 'the watch saw the sweep read members');
  for (const f of watch.filters) {
    assert.deepEqual(Object.keys(f as object), ['_id'], `members read by _id only: ${JSON.stringify(f)}`);
  }
  const state = async (id: string) => (await Member.findById(id).lean<{ _endCause: string | null; communications: { state: number }[] }>())!;
  assert.equal((await state(past))._endCause, 'MEMBER_EXPIRED');
  assert.deepEqual((await state(past)).communications.map((c) => c.state), [2], 'its numbers end');
  assert.equal((await state(edited))._endCause, 'MEMBER_EXPIRED');
  assert.equal((await state(soon))._endCause, null, 'not expired yet');
  assert.equal((await state(never))._endCause, null);
  const ev = (await MemberEnd.findOne({ member: past }).lean<{ event: { reason: string; endCause: string } }>())!;
  assert.equal(ev.event.reason, 'expire');
  assert.equal(ev.event.endCause, 'MEMBER_EXPIRED');
  const counts = await MemberStore.counts(d);
  assert.equal(counts.byCause.MEMBER_EXPIRED, 2);
  assert.equal(counts.notEnded, 2);

  // The next sweep starts where this one ended; 25 minutes on, `soon` has expired.
  assert.equal((await sweep(now + 7 * 60_000)).slots, 0, 'nothing new to sweep');
  const later = await sweep(now + 32 * 60_000);
  assert.equal(later.ended, 1);
  assert.equal((await state(soon))._endCause, 'MEMBER_EXPIRED');
  assert.equal((await state(never))._endCause, null);

  await ensureMemberExpirySweep(h.client, h.taskQueue);
  await ensureMemberExpirySweep(h.client, h.taskQueue); // idempotent (every worker start)
  const desc = await h.client.schedule.getHandle(MEMBER_EXPIRY_SWEEP_ID).describe();
  assert.deepEqual(desc.spec.intervals?.map((i) => i.every), [5 * 60_000]);
  await h.client.schedule.getHandle(MEMBER_EXPIRY_SWEEP_ID).delete();
});
