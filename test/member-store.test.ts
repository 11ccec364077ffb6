// The member workflow's two writes per attempt (models/member-store.ts `reserve`, `settle`) send no
// read of the member when it is as the workflow left it (issue 12: Mongo commands per attempt): the
// attempt's log entry goes first with `$push`/`$position` (our FerretDB build: push-position.patch),
// and the final entry replaces it by index. A retried or duplicated try still changes nothing twice:
// one log entry per session, the end counted once, `false` from a settle an earlier try stored.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { Member, memberState, type MemberDoc } from '../models';
import { batchedUpdate } from '../models/group-commit';
import { checkPushPosition, MemberStore, type SettleInput } from '../models/member-store';
import { timedEntries } from '../models/ready-queue';
import { connectTestDb, createCampaign, createMember } from './support/env';
import { commandsSent } from './support/commands';

before(() => connectTestDb('member_store_test'));
after(() => mongoose.disconnect());

type Stored = MemberDoc & { _log: Record<string, unknown>[]; _readyAt: number | null };
const stored = async (id: string) => (await Member.findById(id).lean<Stored>())!;
const memberCommands = async (fn: () => Promise<unknown>) => (await commandsSent(fn)).filter((c) => c.collection === 'members').map((c) => c.name);

/** A member holding lease `lease-1`, with `earlier` attempts in its log, as the claim leaves it. */
async function granted(earlier: string[] = []) {
  const camp = await createCampaign();
  const campaignId = String(camp._id);
  const m = await createMember(campaignId, ['100001']);
  const memberId = String(m._id);
  await Member.updateOne({ _id: memberId }, { $set: { _dispatch: 'lease-1', _log: earlier.map((session) => ({ session, state: 'end' })) } });
  return { campaignId, memberId, member: memberState(await stored(memberId)) };
}

function settleInput(g: Awaited<ReturnType<typeof granted>>, uuid: string, o: Partial<SettleInput> = {}): SettleInput {
  return {
    campaignId: g.campaignId, memberId: g.memberId, member: { ...g.member, endCause: 'MAX_TRY_COUNT' }, uuid,
    entry: { session: uuid, state: 'end' }, waitingForStatusUntil: null, release: { leaseId: 'lease-1', readyAt: 123 }, ...o,
  };
}

test('the store puts a pushed entry where $position says (MongoDB does; our FerretDB build too), as the worker checks at its start', async () => {
  await checkPushPosition();
  const coll = mongoose.connection.collection<{ _id: string; a: number[] }>('push_position');
  await coll.insertOne({ _id: 'x', a: [1, 2] });
  await coll.updateOne({ _id: 'x' }, { $push: { a: { $each: [0], $position: 0 } } });
  await coll.updateOne({ _id: 'x' }, { $push: { a: { $each: [9], $position: -1 } } });
  await coll.updateOne({ _id: 'x' }, { $push: { a: { $each: [7], $position: 99 } } });
  assert.deepEqual((await coll.findOne({ _id: 'x' }))!.a, [0, 1, 9, 2, 7]);
});

test('reserve writes the member once, no read: its entry first in the log, once per session', async () => {
  const g = await granted(['s0']);
  const reserve = (uuid: string) => MemberStore.reserve({ memberId: g.memberId, member: g.member, workflowId: 'wf', uuid, entry: { session: uuid, state: 'reserved' } });
  assert.deepEqual(await memberCommands(() => reserve('s1')), ['update']);
  await reserve('s1'); // a retried try
  let m = await stored(g.memberId);
  assert.deepEqual(m._log.map((e) => e.session), ['s1', 's0']);
  assert.deepEqual([m._lock, m._lastSession], ['wf', 's1']);
  await MemberStore.settle(settleInput(g, 's1', { member: g.member }));
  await reserve('s2');
  m = await stored(g.memberId);
  assert.deepEqual(m._log.map((e) => [e.session, e.state]), [['s2', 'reserved'], ['s1', 'end'], ['s0', 'end']]);
});

test('settle writes the member once, no read: the final entry, unlocked, the lease back, the end counted once', async () => {
  const g = await granted(['s0']);
  await MemberStore.reserve({ memberId: g.memberId, member: g.member, workflowId: 'wf', uuid: 's1', entry: { session: 's1', state: 'reserved' } });
  const before = await MemberStore.counts(g.campaignId);
  let first: boolean | undefined;
  assert.deepEqual(await memberCommands(async () => { first = await MemberStore.settle(settleInput(g, 's1')); }), ['update']);
  assert.equal(first, true);
  const m = await stored(g.memberId);
  assert.deepEqual(m._log.map((e) => [e.session, e.state]), [['s1', 'end'], ['s0', 'end']]);
  assert.deepEqual([m._lock, m._dispatch, m._readyAt, m._endCause], [null, null, 123, 'MAX_TRY_COUNT']);
  // Ended: out of the queue.
  assert.deepEqual((await timedEntries(g.campaignId)).map((t) => String(t._id)), []);
  // A retried try finds it stored: it reads the member, changes nothing, counts nothing, says so.
  assert.equal(await MemberStore.settle(settleInput(g, 's1')), false);
  const after = await MemberStore.counts(g.campaignId);
  assert.deepEqual([after.notEnded, after.byCause.MAX_TRY_COUNT ?? 0], [before.notEnded - 1, (before.byCause.MAX_TRY_COUNT ?? 0) + 1]);
  assert.deepEqual((await stored(g.memberId))._log.map((e) => e.session), ['s1', 's0']);
});

test('settle of a member going on queues it for its next try from readyAt', async () => {
  const g = await granted();
  await MemberStore.reserve({ memberId: g.memberId, member: g.member, workflowId: 'wf', uuid: 's1', entry: { session: 's1' } });
  assert.equal(await MemberStore.settle(settleInput(g, 's1', { member: g.member, release: { leaseId: 'lease-1', readyAt: 456 } })), true);
  assert.deepEqual((await timedEntries(g.campaignId)).map((t) => [String(t._id), t._readyAt]), [[g.memberId, 456]]);
});

test('settle in a batch where another write found no document reads the member to know its own write was stored', async () => {
  const g = await granted();
  await MemberStore.reserve({ memberId: g.memberId, member: g.member, workflowId: 'wf', uuid: 's1', entry: { session: 's1' } });
  const before = await MemberStore.counts(g.campaignId);
  let first: boolean | undefined;
  const seen = await memberCommands(() => Promise.all([
    MemberStore.settle(settleInput(g, 's1')).then((f) => { first = f; }),
    batchedUpdate(Member, { _id: new mongoose.Types.ObjectId() }, { $set: { name: 'gone' } }),
  ]));
  assert.deepEqual(seen, ['update', 'find']);
  assert.equal(first, true);
  assert.equal((await MemberStore.counts(g.campaignId)).byCause.MAX_TRY_COUNT ?? 0, (before.byCause.MAX_TRY_COUNT ?? 0) + 1);
});

test('settle whose write was stored but its answer lost counts the end once, with its retry', async () => {
  const g = await granted();
  await MemberStore.reserve({ memberId: g.memberId, member: g.member, workflowId: 'wf', uuid: 's1', entry: { session: 's1' } });
  const before = await MemberStore.counts(g.campaignId);
  // settle's write is as stored (no casting): it goes to the collection's bulkWrite.
  const bulkWrite = Member.collection.bulkWrite;
  Member.collection.bulkWrite = (async (...args: Parameters<typeof bulkWrite>) => {
    Member.collection.bulkWrite = bulkWrite;
    await bulkWrite.apply(Member.collection, args);
    throw new mongoose.mongo.MongoNetworkError('read ECONNRESET');
  }) as typeof bulkWrite;
  try {
    await assert.rejects(MemberStore.settle(settleInput(g, 's1')), /ECONNRESET/);
  } finally {
    Member.collection.bulkWrite = bulkWrite;
  }
  assert.equal(await MemberStore.settle(settleInput(g, 's1')), false);
  assert.equal((await MemberStore.counts(g.campaignId)).byCause.MAX_TRY_COUNT ?? 0, (before.byCause.MAX_TRY_COUNT ?? 0) + 1);
});

test('settle of a member not as reserve left it takes the read path: the lease another grant holds is kept, the entry replaced where it is', async () => {
  const g = await granted(['s0']);
  await MemberStore.reserve({ memberId: g.memberId, member: g.member, workflowId: 'wf', uuid: 's1', entry: { session: 's1' } });
  // The lease was taken back and granted again meanwhile (checkLease), and the session's entry is
  // not first (an older store that appended it).
  await Member.updateOne({ _id: g.memberId }, { $set: { _dispatch: 'lease-2', _log: [{ session: 's0', state: 'end' }, { session: 's1' }] } });
  assert.deepEqual(await memberCommands(() => MemberStore.settle(settleInput(g, 's1'))), ['update', 'find', 'find', 'update']);
  const m = await stored(g.memberId);
  assert.deepEqual([m._dispatch, m._lock, m._endCause], ['lease-2', null, 'MAX_TRY_COUNT']);
  assert.deepEqual(m._log.map((e) => [e.session, e.state]), [['s1', 'end'], ['s0', 'end']]);
});
