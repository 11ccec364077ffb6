// The campaign's ready queue (models/ready-queue.ts) against the real FerretDB: claims come out in
// exactly the order the members collection itself gives (§5.4), without reading that collection
// except by `_id`; stale entries are dropped; members the queue missed are found by the fallback.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { Member, type MemberDoc } from '../models';
import { enqueueMembers, timedEntries } from '../models/ready-queue';
import { MemberStore } from '../models/member-store';
import { claimReady, FALLBACK_INTERVAL_MS, nextReadyAt } from '../activities/claim';
import { CLAIM_SORTS, compareBySort, type MembersStrategy } from '../rules/dispatch';
import { createMemberActivities } from '../activities/member';
import { createLogger } from '../lib/logger';
import { memberState } from '../models';
import { connectTestDb, createMember } from './support/env';

before(() => connectTestDb('ready_queue_test'));
after(() => mongoose.disconnect());

/** Operations on the members collection other than by `_id`, recorded while `fn` runs. */
async function memberScans<T>(fn: () => Promise<T>): Promise<{ result: T; scans: string[] }> {
  const scans: string[] = [];
  mongoose.set('debug', (coll: string, method: string, query: unknown) => {
    const q = (query ?? {}) as Record<string, unknown>;
    if (coll === 'members' && !(Object.keys(q).length === 1 && '_id' in q)) scans.push(`${method} ${JSON.stringify(q)}`);
  });
  try {
    return { result: await fn(), scans };
  } finally {
    mongoose.set('debug', false);
  }
}

async function drain(campaignId: string, strategy: MembersStrategy, now: number, batch: number): Promise<string[]> {
  const order: string[] = [];
  for (let round = 0; round < 100; round++) {
    const leaseIds = Array.from({ length: batch }, (_, i) => `lease-${round}-${i}`);
    const n = await claimReady<{ _id: unknown }>({ campaignId, strategy, now, leaseIds }, (_l, doc) => order.push(String(doc._id)));
    if (n < batch) break;
  }
  return order;
}

const campaign = () => new mongoose.Types.ObjectId().toString();

beforeEach(() => mongoose.set('debug', false));

for (const strategy of ['next-tries-circuit', 'strict-circuit'] as const) {
  test(`${strategy}: the queue gives the members collection's order, reading members only by _id`, async () => {
    const id = campaign();
    const now = Date.now();
    // A deterministic mix: fresh members of 4 priorities, retries due at different times, members
    // not due yet, waiting for a status, ended.
    let x = 12345;
    const rnd = (n: number) => ((x = (x * 1103515245 + 12345) % 2 ** 31) % n);
    for (let i = 0; i < 60; i++) {
      const kind = rnd(6);
      const priority = rnd(4) * 5;
      const o: Record<string, unknown> = { priority };
      if (kind === 1 || kind === 2) Object.assign(o, { _probeCount: 1, _nextTryTime: now - rnd(100_000), _readyAt: now - rnd(1000), lastCall: now - 200_000 + rnd(100_000) });
      if (kind === 3) Object.assign(o, { _probeCount: 1, _nextTryTime: now + 60_000, _readyAt: now + 60_000, lastCall: now - 1000 });
      if (kind === 4 && rnd(2)) Object.assign(o, { _endCause: 'MAX_TRY_COUNT' });
      if (kind === 5 && rnd(3) === 0) Object.assign(o, { _probeCount: 1, _waitingForResultStatusCb: 1, _waitingForResultStatus: now + 60_000, lastCall: now - 5000 });
      await createMember(id, [`3805${String(i).padStart(7, '0')}`], o);
    }
    const docs = await Member.find({ dialer: id }).lean<MemberDoc[]>();
    const ready = docs.filter((d) => !d._endCause && !d._waitingForResultStatusCb && (d._readyAt == null || d._readyAt <= now));
    const expected = ready.sort(compareBySort(CLAIM_SORTS[strategy]) as never).map((d) => String(d._id));
    assert.ok(expected.length > 30, 'most members are ready');

    const { result: order, scans } = await memberScans(() => drain(id, strategy, now, 7));
    assert.deepEqual(order, expected);
    // The last claim found nothing more in the queue, so the fallback ran once (and found nothing).
    assert.equal(scans.filter((s) => s.startsWith('find')).length, 1, `members read other than by _id: ${scans.join('\n')}`);
  });
}

test('entries whose member changed are dropped, never granted; a moved priority counts', async () => {
  const id = campaign();
  const now = Date.now();
  const a = await createMember(id, ['380501000001'], { priority: 1 });
  const b = await createMember(id, ['380501000002'], { priority: 1 });
  const c = await createMember(id, ['380501000003'], { priority: 1 });
  const d = await createMember(id, ['380501000004'], { priority: 1 });
  await Member.deleteOne({ _id: a._id }); // deleted
  await Member.updateOne({ _id: b._id }, { $set: { _endCause: 'TERMINATED' } }); // ended
  await Member.updateOne({ _id: c._id }, { $set: { priority: 9 } }); // edited: queued again under 9 (as the API does)
  await enqueueMembers(id, [{ _id: c._id, priority: 9 }]);
  const order = await drain(id, 'next-tries-circuit', now, 1);
  assert.deepEqual(order, [String(c._id), String(d._id)]);
  assert.equal(order.length, new Set(order).size, 'no member twice');
});

test('a batched claim skips a member changed between its read and the write, and keeps its timed entry', async () => {
  const id = campaign();
  const now = Date.now();
  const retry = { _probeCount: 1, _nextTryTime: now - 1000, _readyAt: now - 1000, lastCall: now - 60_000 };
  const members = [];
  for (let i = 0; i < 4; i++) members.push(await createMember(id, [`38050300000${i}`], retry));
  const read = await Member.find({ _id: { $in: members.map((m) => m._id) } }).lean<Record<string, unknown>[]>();
  // Between the claim's read and its write: one member is claimed elsewhere, one is ended, one is in a call.
  await Member.updateOne({ _id: members[1]._id }, { $set: { _dispatch: 'lease-of-another-claim' } });
  await Member.updateOne({ _id: members[2]._id }, { $set: { _endCause: 'TERMINATED' } });
  await Member.updateOne({ _id: members[3]._id }, { $set: { _lock: 'attempt-1' } });
  const claims = read.map((doc, i) => ({ doc, leaseId: `lease-${i}` }));
  const won = await MemberStore.claimMany<{ _id: unknown; _dispatch: string }>(claims, { campaignId: id, now });
  assert.deepEqual(won.map((w) => [String(w._id), w._dispatch]), [[String(read[0]._id), 'lease-0']]);
  const after = new Map((await Member.find({ dialer: id }).lean<MemberDoc[]>()).map((m) => [String(m._id), m]));
  assert.equal(after.get(String(members[0]._id))!._dispatch, 'lease-0');
  assert.equal(after.get(String(members[1]._id))!._dispatch, 'lease-of-another-claim', 'never granted twice');
  assert.equal(after.get(String(members[2]._id))!._dispatch ?? null, null);
  assert.equal(after.get(String(members[3]._id))!._dispatch ?? null, null);
  // Only the claimed member leaves the timed queue.
  const timed = (await timedEntries(id)).map((e) => String(e._id)).sort();
  assert.deepEqual(timed, members.slice(1).map((m) => String(m._id)).sort());
});

test('a claim waits for the turn another process holds on a member: an API edit stored in that turn is not undone', async () => {
  // FerretDB v1 writes back the whole document an update read: a claim overlapping an edit made by
  // another process (the API's editUnclaimed) would store the member as it was before the edit.
  const id = campaign();
  const now = Date.now();
  const m = await createMember(id, ['380504000001'], { _probeCount: 1, _nextTryTime: now - 1000, _readyAt: now - 1000, lastCall: now - 60_000 });
  const read = await Member.findById(m._id).lean<Record<string, unknown>>();
  const turns = mongoose.connection.collection<{ _id: string; owner: string; until: number }>('dialer_turns');
  const key = `member:${String(m._id)}`;
  await turns.insertOne({ _id: key, owner: 'the-api-process', until: now + 15_000 });
  const claim = MemberStore.claimMany<{ _id: unknown; _dispatch: string }>([{ doc: read!, leaseId: 'lease-edit' }], { campaignId: id, now });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await Member.findById(m._id).lean<MemberDoc>())!._dispatch ?? null, null, 'no claim write while the other process holds the turn');
  // The other process's edit in its turn, then the turn given back.
  await Member.updateOne({ _id: m._id, _dispatch: null, _lock: null }, { $set: { variables: { edited: 'yes' } } });
  await turns.deleteOne({ _id: key });
  const won = await claim;
  assert.deepEqual(won.map((w) => w._dispatch), ['lease-edit']);
  const stored = (await Member.findById(m._id).lean<MemberDoc>())!;
  assert.equal(stored._dispatch, 'lease-edit');
  assert.deepEqual(stored.variables, { edited: 'yes' }, 'the edit is kept');
  assert.equal(await turns.countDocuments({ _id: key }), 0, 'the claim gave its turn back');
});

test('the member a claim returns is its document as claimed: an API edit waiting for the member\'s turn comes after the claim, not between its read and write', async () => {
  // The grant hands this document to the member's workflow (it does not read the member again), so
  // an edit stored between the claim's read and its write would be lost.
  const id = campaign();
  const now = Date.now();
  const m = await createMember(id, ['380504000002'], { _probeCount: 1, _nextTryTime: now - 1000, _readyAt: now - 1000, lastCall: now - 60_000 });
  const turns = mongoose.connection.collection<{ _id: string; owner: string; until: number }>('dialer_turns');
  const key = `member:${String(m._id)}`;
  await turns.insertOne({ _id: key, owner: 'the-api-process', until: now + 15_000 });
  const claimed: Record<string, unknown>[] = [];
  const claim = claimReady<Record<string, unknown>>({ campaignId: id, strategy: 'next-tries-circuit', now, leaseIds: ['lease-read'] }, (_l, d) => claimed.push(d));
  await new Promise((r) => setTimeout(r, 300));
  // The other process's edit in its turn (the claim rule's filter), then the turn given back.
  await Member.updateOne({ _id: m._id, _dispatch: null, _lock: null }, { $set: { variables: { edited: 'yes' } } });
  await turns.deleteOne({ _id: key });
  assert.equal(await claim, 1);
  const stored = (await Member.findById(m._id).lean<MemberDoc>())!;
  assert.equal(stored._dispatch, 'lease-read');
  assert.deepEqual(claimed[0].variables, { edited: 'yes' }, 'the claim read the member in its turn, after the edit');
  assert.deepEqual(memberState(claimed[0] as MemberDoc), memberState(stored));
});

test('a claim lists the queue collections and reads an empty priority once per generation (a wake-up of the campaign)', async () => {
  const id = campaign();
  const now = Date.now();
  const a = await createMember(id, ['380505000001'], { priority: 5 });
  const b = await createMember(id, ['380505000002'], { priority: 1 });
  const commands: string[] = [];
  const client = mongoose.connection.getClient();
  const listen = (e: { commandName: string; command: Record<string, unknown> }) => {
    const coll = e.command[e.commandName];
    if (e.commandName === 'listCollections' || (typeof coll === 'string' && coll.startsWith(`dialer_queue.${id}.p`))) {
      commands.push(`${e.commandName} ${typeof coll === 'string' ? coll.slice(`dialer_queue.${id}.`.length) : ''}`.trim());
    }
  };
  client.on('commandStarted', listen);
  const round = async (generation: string) => {
    commands.length = 0;
    const order: string[] = [];
    await claimReady<{ _id: unknown }>({ campaignId: id, strategy: 'next-tries-circuit', now, leaseIds: [`l-${generation}-${Math.random()}`], generation }, (_l, d) => order.push(String(d._id)));
    return { order, reads: commands.filter((c) => !c.startsWith('delete') && !c.startsWith('update') && !c.startsWith('killCursors')) };
  };
  try {
    assert.deepEqual(await round('g1'), { order: [String(a._id)], reads: ['listCollections', 'find p5'] });
    // p5 is empty now: read once more (and noted), then never again in this generation.
    assert.deepEqual(await round('g1'), { order: [String(b._id)], reads: ['find p5', 'find p1'] });
    assert.deepEqual((await round('g1')).reads, ['find p1']);
    assert.deepEqual((await round('g1')).reads, [], 'no listCollections, no read of an empty priority');
    // Members stored in a new priority: the API wakes the campaign, whose next claim has a new generation.
    const c = await createMember(id, ['380505000003'], { priority: 7 });
    assert.deepEqual(await round('g2'), { order: [String(c._id)], reads: ['listCollections', 'find p7'] });
  } finally {
    client.off('commandStarted', listen);
  }
});

test('a member stored without a queue entry is found by the fallback, at most every FALLBACK_INTERVAL_MS while it finds none', async () => {
  const id = campaign();
  const t0 = Date.now();
  const queued = await createMember(id, ['380502000001']);
  const direct = await Member.create({ dialer: id, domain: 'test.local', communications: [{ number: '380502000002' }] });
  assert.deepEqual(await drain(id, 'next-tries-circuit', t0, 5), [String(queued._id), String(direct._id)]);

  // Once the fallback finds nothing, a member stored behind the queue's back waits for the interval.
  assert.deepEqual(await drain(id, 'next-tries-circuit', t0 + 500, 5), []);
  const late = await Member.create({ dialer: id, domain: 'test.local', communications: [{ number: '380502000003' }] });
  assert.deepEqual(await drain(id, 'next-tries-circuit', t0 + 1000, 5), []);
  assert.deepEqual(await drain(id, 'next-tries-circuit', t0 + FALLBACK_INTERVAL_MS + 1000, 5), [String(late._id)]);
});

test('the member activities keep the timed entry: waiting → due at its time, ended → gone', async () => {
  const id = campaign();
  const m = await createMember(id, ['380503000001']);
  const acts = createMemberActivities({ esl: null as never, client: null as never, log: createLogger('test'), taskQueue: 'unused' } as never);
  const now = Date.now();
  // Claimed and dialled once, then the workflow stores its retry time.
  assert.deepEqual(await drain(id, 'next-tries-circuit', now, 1), [String(m._id)]);
  await Member.updateOne({ _id: m._id }, { $set: { _dispatch: null, _probeCount: 1 } });
  const state = memberState((await Member.findById(m._id).lean<MemberDoc>())!);
  await acts.saveMember({ campaignId: id, memberId: String(m._id), member: { ...state, probeCount: 1, nextTryTime: now + 60_000 }, readyAt: now + 60_000 });
  assert.equal(await nextReadyAt(id, now), now + 60_000);
  assert.deepEqual(await drain(id, 'next-tries-circuit', now + 1000, 1), [], 'not due yet');
  assert.deepEqual(await drain(id, 'next-tries-circuit', now + 61_000, 1), [String(m._id)], 'due at its time');
  assert.equal((await timedEntries(id)).length, 0, 'a claimed entry leaves the queue');

  await acts.saveMember({ campaignId: id, memberId: String(m._id), member: { ...state, probeCount: 1 }, readyAt: null });
  assert.equal((await timedEntries(id)).length, 1);
  await acts.saveMember({ campaignId: id, memberId: String(m._id), member: { ...state, endCause: 'MAX_TRY_COUNT' } });
  assert.equal((await timedEntries(id)).length, 0, 'an ended member leaves the queue');
});
