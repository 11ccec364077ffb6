// Member counts by state are kept by the member store's transitions (models/member-store.ts) and
// answer GET …/members/count for the filters they count exactly. After every step of a scenario that
// runs each transition (insert, terminate, a call placed and ended by the member's workflow, a wait
// saved, reset, delete one, delete by filter), the counts equal a real countDocuments: a transition
// that forgets its counter fails the step that runs it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { memberDocument } from '../api/member-docs';
import { countFromCounters } from '../api/members';
import { isMongoDB } from '../lib/db';
import { Member, memberState, type MemberDoc } from '../models';
import { MemberStore } from '../models/member-store';
import { databaseUri, dialerBody, startApi, type ApiHarness, type Cred } from './api-support';

let h: ApiHarness;
let acme: Cred;

before(async () => {
  h = await startApi('member_counts_test');
  acme = await h.credential('acme');
  await Member.init();
});
after(async () => h?.close());

const FILTERS: Record<string, unknown>[] = [
  {},
  { _endCause: null },
  { _endCause: { $ne: null } },
  { _endCause: 'MANAGER_REQUEST' },
  { _endCause: 'MAX_TRY_COUNT' },
  { _endCause: 'SUCCESSFUL' },
];

async function assertCounts(dialer: string, step: string): Promise<void> {
  const counts = await MemberStore.counts(dialer);
  assert.ok(counts.kept, `${step}: counts kept`);
  for (const f of FILTERS) {
    const real = await Member.countDocuments({ dialer, ...f });
    assert.equal(countFromCounters(f, counts), real, `${step}: counters for ${JSON.stringify(f)}`);
    const r = await h.req('GET', `/api/v2/dialer/${dialer}/members/count?filter=${encodeURIComponent(JSON.stringify(f))}`, { cred: acme });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.data, real, `${step}: route for ${JSON.stringify(f)}`);
  }
}

async function doc(id: string): Promise<MemberDoc> {
  return (await Member.findById(id).lean<MemberDoc>())!;
}

test('counts by state stay equal to countDocuments through every member transition', async () => {
  const created = await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody() });
  const d = created.body.data.insertedIds[0] as string;
  const other = (await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody() })).body.data.insertedIds[0] as string;

  const members = Array.from({ length: 12 }, (_, i) => ({ name: `m${i}`, communications: [{ number: `3805000000${String(i).padStart(2, '0')}` }] }));
  const ins = await h.req('POST', `/api/v2/dialer/${d}/members`, { cred: acme, body: members });
  assert.equal(ins.status, 200, JSON.stringify(ins.body));
  const ids = ins.body.data.insertedIds as string[];
  await h.req('POST', `/api/v2/dialer/${other}/members`, { cred: acme, body: members.slice(0, 5) });
  await assertCounts(d, 'insert');

  // The API's terminate of a member no workflow owns.
  assert.equal((await h.req('PUT', `/api/v2/dialer/${d}/members/${ids[0]}/terminate`, { cred: acme })).status, 200);
  assert.equal((await h.req('PUT', `/api/v2/dialer/${d}/members/${ids[1]}/terminate`, { cred: acme })).status, 200);
  await assertCounts(d, 'terminate');

  // The member workflow's writes: a call placed, its outcome ending the member; a retried settle
  // changes nothing more.
  const m2 = memberState(await doc(ids[2]));
  await MemberStore.reserve({ memberId: ids[2], member: m2, workflowId: 'wf-2', uuid: 'call-2', entry: { session: 'call-2' } });
  await assertCounts(d, 'reserve');
  const settle = { campaignId: d, memberId: ids[2], member: { ...m2, endCause: 'MAX_TRY_COUNT' }, uuid: 'call-2', entry: { session: 'call-2' }, waitingForStatusUntil: null };
  await MemberStore.settle(settle);
  await MemberStore.settle(settle);
  await assertCounts(d, 'settle ends');

  // A wait saved, then an end saved (twice: a retried activity).
  const m3 = memberState(await doc(ids[3]));
  await MemberStore.save({ campaignId: d, memberId: ids[3], member: m3, readyAt: Date.now() + 60_000 });
  await MemberStore.save({ campaignId: d, memberId: ids[3], member: { ...m3, endCause: 'SUCCESSFUL' }, step: 'done' });
  await MemberStore.save({ campaignId: d, memberId: ids[3], member: { ...m3, endCause: 'SUCCESSFUL' } });
  await MemberStore.save({ campaignId: d, memberId: ids[4], member: { ...memberState(await doc(ids[4])), endCause: 'MAX_TRY_COUNT' } });
  await assertCounts(d, 'save ends');

  // Reset: the ended members (not successful) wait again.
  const reset = await h.req('PUT', `/api/v2/dialer/${d}/members/reset?from=0`, { cred: acme });
  assert.equal(reset.status, 200, JSON.stringify(reset.body));
  await assertCounts(d, 'reset');

  // Delete one ended, one waiting; then by filter.
  await MemberStore.save({ campaignId: d, memberId: ids[5], member: { ...memberState(await doc(ids[5])), endCause: 'MAX_TRY_COUNT' } });
  assert.equal((await h.req('DELETE', `/api/v2/dialer/${d}/members/${ids[5]}`, { cred: acme })).status, 200);
  assert.equal((await h.req('DELETE', `/api/v2/dialer/${d}/members/${ids[6]}`, { cred: acme })).status, 200);
  await assertCounts(d, 'delete one');
  await h.req('PUT', `/api/v2/dialer/${d}/members/${ids[7]}/terminate`, { cred: acme });
  const del = await h.req('DELETE', `/api/v2/dialer/${d}/members`, { cred: acme, body: { _endCause: { $ne: null } } });
  assert.equal(del.status, 200, JSON.stringify(del.body));
  await assertCounts(d, 'delete by filter');

  // The other campaign was never touched by any of it.
  await assertCounts(other, 'other campaign');
  assert.equal((await MemberStore.counts(other)).total, 5);
});

test('recountCampaign repairs counts that drifted, and counts members stored around the store', async () => {
  const d = (await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody() })).body.data.insertedIds[0] as string;
  await h.req('POST', `/api/v2/dialer/${d}/members`, { cred: acme, body: [{ communications: [{ number: '380500000001' }] }] });
  // Seeded straight into Mongo (as benchmarks do): not counted until a recount.
  await Member.collection.insertMany([1, 2, 3].map((i) => ({
    ...memberDocument({ communications: [{ number: `38050000010${i}` }] }, d, 'acme'),
    _endCause: i === 1 ? 'ABANDONED' : null,
  })));
  assert.equal((await MemberStore.counts(d)).total, 1);
  await MemberStore.recountCampaign(d);
  await assertCounts(d, 'recount');
  assert.equal((await MemberStore.counts(d)).byCause.ABANDONED, 1);
});

test('a count write cut by a store error is retried and counted once, applied or not', async () => {
  const d = await h.createDialer(acme);
  const coll = mongoose.connection.collection('dialer_member_counts');
  const write = coll.updateOne;
  let cuts = 0;
  let ids: string[] = [];
  // The next count write fails as at a FerretDB restart: after the server applied it (its answer
  // lost) or before it reached the server.
  const cutNext = (applied: boolean) => {
    coll.updateOne = (async (...args: Parameters<typeof write>) => {
      coll.updateOne = write;
      cuts++;
      if (applied) await write.apply(coll, args);
      throw new mongoose.mongo.MongoNetworkError('read ECONNRESET');
    }) as typeof write;
  };
  try {
    cutNext(true); // the campaign's first count write: the upsert that creates its document
    const ins = await h.req('POST', `/api/v2/dialer/${d}/members`, { cred: acme, body: [1, 2, 3, 4, 5].map((i) => ({ communications: [{ number: `38050000020${i}` }] })) });
    assert.equal(ins.status, 200, JSON.stringify(ins.body));
    ids = ins.body.data.insertedIds as string[];
    await assertCounts(d, 'insert, answer lost');
    cutNext(true);
    assert.equal((await h.req('PUT', `/api/v2/dialer/${d}/members/${ids[0]}/terminate`, { cred: acme })).status, 200);
    await assertCounts(d, 'terminate, answer lost');
    cutNext(false);
    assert.equal((await h.req('PUT', `/api/v2/dialer/${d}/members/${ids[1]}/terminate`, { cred: acme })).status, 200);
    await assertCounts(d, 'terminate, write lost');
  } finally {
    coll.updateOne = write;
  }
  assert.equal(cuts, 3);
  // One command per change (issue 12 counts them). The ids of changes written at the first attempt
  // go with the next write; those of retried ones stay a while (an attempt the store still runs must
  // find them): three, and the newest change's.
  const countCommands: string[] = [];
  const seen = (e: { commandName: string; command: Record<string, unknown> }) => {
    if (e.command[e.commandName] === 'dialer_member_counts') countCommands.push(e.commandName);
  };
  const client = mongoose.connection.getClient();
  client.on('commandStarted', seen);
  try {
    for (const id of ids.slice(2)) assert.equal((await h.req('PUT', `/api/v2/dialer/${d}/members/${id}/terminate`, { cred: acme })).status, 200);
  } finally {
    client.off('commandStarted', seen);
  }
  assert.deepEqual(countCommands, ['update', 'update', 'update']);
  await assertCounts(d, 'terminated at the first attempt');
  const stored = await coll.findOne({ _id: `${d}:main` } as object);
  assert.equal(Object.keys((stored?.ops ?? {}) as object).length, 4, JSON.stringify(stored?.ops));
});

test('a member write whose answer is lost is counted once, by it or by its retry', async () => {
  const d = await h.createDialer(acme);
  const ins = await h.req('POST', `/api/v2/dialer/${d}/members`, { cred: acme, body: [1, 2, 3].map((i) => ({ communications: [{ number: `38050000030${i}` }] })) });
  const ids = ins.body.data.insertedIds as string[];
  const bulkWrite = Member.collection.bulkWrite;
  // The next group-commit batch of members fails as at a FerretDB restart: after the server applied
  // it (its answer lost) or before it reached the server. The activity fails; Temporal retries it.
  const cutNext = (applied: boolean) => {
    Member.collection.bulkWrite = (async (...args: Parameters<typeof bulkWrite>) => {
      Member.collection.bulkWrite = bulkWrite;
      if (applied) await bulkWrite.apply(Member.collection, args);
      throw new mongoose.mongo.MongoNetworkError('read ECONNRESET');
    }) as typeof bulkWrite;
  };
  try {
    const m0 = memberState(await doc(ids[0]));
    const save = { campaignId: d, memberId: ids[0], member: { ...m0, endCause: 'MAX_TRY_COUNT' } };
    cutNext(true);
    await assert.rejects(MemberStore.save(save), /ECONNRESET/);
    await assertCounts(d, 'save, answer lost');
    await MemberStore.save(save);
    await assertCounts(d, 'save retried');

    const m1 = memberState(await doc(ids[1]));
    await MemberStore.reserve({ memberId: ids[1], member: m1, workflowId: 'wf-1', uuid: 'call-1', entry: { session: 'call-1' } });
    const settle = { campaignId: d, memberId: ids[1], member: { ...m1, endCause: 'SUCCESSFUL' }, uuid: 'call-1', entry: { session: 'call-1' }, waitingForStatusUntil: null };
    cutNext(false);
    await assert.rejects(MemberStore.settle(settle), /ECONNRESET/);
    await assertCounts(d, 'settle, write lost');
    await MemberStore.settle(settle);
    await assertCounts(d, 'settle retried');
  } finally {
    Member.collection.bulkWrite = bulkWrite;
  }
});

test('a filter the counters do not answer exactly is counted by a query', () => {
  const c = { kept: true, total: 10, notEnded: 6, ended: 4, byCause: { MAX_TRY_COUNT: 4 } };
  assert.equal(countFromCounters({ name: 'x' }, c), undefined);
  assert.equal(countFromCounters({ _endCause: null, name: 'x' }, c), undefined);
  assert.equal(countFromCounters({ _endCause: { $in: ['A'] } }, c), undefined);
  assert.equal(countFromCounters({ _endCause: { $ne: 'A' } }, c), undefined);
  assert.equal(countFromCounters({ _endCause: 'NOT_SEEN' }, c), 0);
  assert.equal(countFromCounters({ _endCause: { $ne: null } }, c), 4);
});

// Exact-number search reads small lookup documents the member store keeps with each member.
async function lookups(dialer: string): Promise<string[]> {
  const docs = await Member.db.collection('dialer_member_numbers').find({ campaign: dialer }).toArray();
  return docs.map((d) => `${String(d.key).split(':')[1]}>${String(d.member)}`).sort();
}

test('number lookups follow insert, edit and delete; a search for one number is answered from them', async () => {
  const d = (await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody() })).body.data.insertedIds[0] as string;
  const ins = await h.req('POST', `/api/v2/dialer/${d}/members`, {
    cred: acme,
    body: [
      { name: 'a', communications: [{ number: '380501111111' }, { number: '380502222222' }] },
      { name: 'b', communications: [{ number: '380502222222' }] },
    ],
  });
  const [a, b] = ins.body.data.insertedIds as string[];
  assert.deepEqual(await lookups(d), [`380501111111>${a}`, `380502222222>${a}`, `380502222222>${b}`].sort());
  const search = async (n: string) =>
    ((await h.req('GET', `/api/v2/dialer/${d}/members?filter=${encodeURIComponent(JSON.stringify({ 'communications.number': n }))}`, { cred: acme })).body.data as { name: string }[]).map((m) => m.name).sort();
  assert.deepEqual(await search('380502222222'), ['a', 'b']);
  // The embedded store reads a lookup by its key from an index (docs/setup.md, "sqlite-pushdown").
  if (!(await isMongoDB())) {
    const e = (await Member.db.collection('dialer_member_numbers').find({ key: `${d}:380502222222` }).explain()) as { queryPlanner?: { Plan?: string[] } };
    assert.match((e.queryPlanner?.Plan ?? []).join('\n'), /USING (COVERING )?INDEX/);
  }
  // Answered from the lookups: a member stored around the store (no lookup) is not among them.
  await Member.collection.insertOne(memberDocument({ name: 'seeded', communications: [{ number: '380502222222' }] }, d, 'acme'));
  assert.deepEqual(await search('380502222222'), ['a', 'b']);

  const put = await h.req('PUT', `/api/v2/dialer/${d}/members/${b}`, { cred: acme, body: { communications: [{ number: '380503333333' }] } });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const numbersOfB = ((await doc(b)).communications as { number: string }[]).map((c) => c.number);
  assert.deepEqual((await lookups(d)).filter((l) => l.endsWith(b)), numbersOfB.map((n) => `${n}>${b}`).sort());
  assert.deepEqual(await search('380503333333'), numbersOfB.includes('380503333333') ? ['b'] : []);

  await h.req('DELETE', `/api/v2/dialer/${d}/members/${a}`, { cred: acme });
  assert.ok(!(await lookups(d)).some((l) => l.endsWith(a)));
  assert.deepEqual(await search('380501111111'), []);
  await h.req('DELETE', `/api/v2/dialer/${d}/members`, { cred: acme, body: {} });
  assert.deepEqual(await lookups(d), []);
});

test('number lookups already stored do not stop the rest of a batch: the others are written', async () => {
  const d = (await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody() })).body.data.insertedIds[0] as string;
  const docs = Array.from({ length: 6 }, (_, i) => memberDocument({ name: `m${i}`, communications: [{ number: `38050444444${i}` }] }, d, 'acme'));
  // Two of the batch's lookups exist already (as after an import retried past its lookups).
  const id = (i: number) => `${d}:38050444444${i}:${String(docs[i]._id)}`;
  await Member.db.collection<{ _id: string }>('dialer_member_numbers').insertMany([0, 3].map((i) => ({ _id: id(i), key: `${d}:38050444444${i}`, campaign: d, member: docs[i]._id })));
  await MemberStore.insert(docs);
  assert.deepEqual(await lookups(d), docs.map((m, i) => `38050444444${i}>${String(m._id)}`).sort());
});

test('two processes change one campaign at once (the API inserts, the worker ends members): the counts stay exact', async () => {
  const d = (await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody() })).body.data.insertedIds[0] as string;
  const batch = (k: number) => Array.from({ length: 30 }, (_, i) => ({ communications: [{ number: `3805${k}${String(i).padStart(6, '0')}` }] }));
  const ids: string[] = [];
  for (let k = 0; k < 3; k++) ids.push(...(await h.req('POST', `/api/v2/dialer/${d}/members`, { cred: acme, body: batch(k) })).body.data.insertedIds);
  const worker = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'support', 'end-members.ts'), databaseUri('member_counts_test'), d, ...ids], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  worker.stderr.on('data', (b) => (stderr += String(b)));
  const done = new Promise<number | null>((resolve) => worker.on('exit', resolve));
  // Meanwhile the API inserts and terminates members of the same campaign.
  for (let k = 3; k < 6; k++) {
    const more = (await h.req('POST', `/api/v2/dialer/${d}/members`, { cred: acme, body: batch(k) })).body.data.insertedIds as string[];
    await Promise.all(more.map((m) => h.req('PUT', `/api/v2/dialer/${d}/members/${m}/terminate`, { cred: acme })));
  }
  assert.equal(await done, 0, stderr);
  await assertCounts(d, 'two processes');
  assert.equal((await MemberStore.counts(d)).byCause.MAX_TRY_COUNT, ids.length);
});
