// Regression (found by the fault suite, issue 6): endAttempt flagged the attempt `counted` first and
// incremented the campaign counters second. When the activity died in between (worker killed,
// FerretDB restarted mid-update), its retry found the flag and skipped the increment: the campaign's
// callCount/errorCall fell behind a recount of the attempt records (run seed 3: 302 vs 305). Now the
// increment carries its own marker in the campaign document (one atomic update), the flag follows,
// and a retry at any point counts the attempt exactly once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import pino from 'pino';
import type { Client } from '@temporalio/client';
import { createMemberActivities } from '../activities/member';
import type { EndAttemptInput } from '../activities/types';
import { Attempt, Campaign, memberState, Member, settleResult, type CampaignDoc, type MemberDoc } from '../models';
import { CampaignStore } from '../models/campaign-store';
import { MemberStore } from '../models/member-store';
import { KEEP_MS } from '../models/serial';
import { setTimeout as sleep } from 'node:timers/promises';
import { timedEntries } from '../models/ready-queue';
import { connectTestDb, createCampaign, createMember } from './support/env';
import { commandsSent } from './support/commands';

before(() => connectTestDb('campaign_counters_test'));
after(() => mongoose.disconnect());

const fakeClient = { workflow: { getHandle: () => ({ signal: async () => undefined }) } } as unknown as Client;
const acts = createMemberActivities({
  esl: { bgapi: async () => undefined, uuidExists: async () => false, uuidKill: async () => false },
  client: fakeClient,
  log: pino({ level: 'silent' }),
  taskQueue: 'unused',
});

async function attempt() {
  const camp = await createCampaign();
  const m = await createMember(String(camp._id), ['100001']);
  const uuid = crypto.randomUUID();
  await Attempt.create({
    _id: uuid, dialer: String(camp._id), domain: 'test.local', member: String(m._id), workflowId: 'wf', attempt: 1,
    number: '100001', dialString: 'sofia/gateway/gw1/100001', jobUuid: crypto.randomUUID(), sentOn: Date.now(),
  });
  const doc = await Member.findById(m._id).lean<MemberDoc>();
  const input: EndAttemptInput = {
    uuid, campaignId: String(camp._id), memberId: String(m._id), member: memberState(doc!),
    log: { state: 'end', session: uuid, cause: 'USER_BUSY' } as EndAttemptInput['log'],
    result: { uuid, cause: 'USER_BUSY', answered: false, billsec: 0, answersec: 0, duration: 0, source: 'event' },
    stats: { connected: false, bridged: false, outcome: 'error' },
    waitingForStatusUntil: null, readyAt: null, leaseId: 'lease-1',
  };
  return { campaignId: String(camp._id), input };
}

/** The attempts collection as the group commit writes it (models/attempt.ts setAttempt), and the
 *  `$set`s of a bulk write's updates. */
const attemptsColl = () => mongoose.connection.collection(Attempt.collection.collectionName);
const setsOf = (ops: unknown) => (ops as { updateOne?: { update: { $set?: Record<string, unknown> } } }[]).map((o) => o.updateOne?.update.$set ?? {});

/** Makes the next matching call of a model method throw once, as a crash at that point would. */
function failOnce<T extends object>(model: T, method: keyof T, when: (...args: unknown[]) => boolean): () => void {
  const original = model[method] as (...args: unknown[]) => unknown;
  let armed = true;
  (model as Record<keyof T, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
    if (armed && when(...args)) {
      armed = false;
      throw new Error('simulated crash');
    }
    return original.apply(this, args);
  };
  return () => {
    (model as Record<keyof T, unknown>)[method] = original;
  };
}

const stats = async (id: string) => (await Campaign.findById(id).lean<CampaignDoc>())!.stats as Record<string, unknown>;

test('the attempt is counted once when endAttempt dies right before the campaign increment', async () => {
  const { campaignId, input } = await attempt();
  const restore = failOnce(Campaign, 'updateOne', (_f, u) => !!(u as { $inc?: object }).$inc);
  try {
    await assert.rejects(acts.endAttempt(input), /simulated crash/);
  } finally {
    restore();
  }
  await acts.endAttempt(input); // Temporal retries the activity
  const s = await stats(campaignId);
  assert.deepEqual([s.callCount, s.errorCall], [1, 1]);
  assert.deepEqual(Object.keys(s._counting ?? {}), []);
});

test('the attempt is counted once when endAttempt dies right after the campaign increment', async () => {
  const { campaignId, input } = await attempt();
  const restore = failOnce(attemptsColl(), 'bulkWrite', (ops) => setsOf(ops).some((set) => set.counted === true));
  try {
    await assert.rejects(acts.endAttempt(input), /simulated crash/);
  } finally {
    restore();
  }
  await acts.endAttempt(input);
  await acts.endAttempt(input); // and once more: still one
  const s = await stats(campaignId);
  assert.deepEqual([s.callCount, s.errorCall], [1, 1]);
  assert.deepEqual(Object.keys(s._counting ?? {}), []);
  assert.equal((await Attempt.findById(input.uuid).lean<{ counted: boolean }>())!.counted, true);
});

test('the attempt is counted once when endAttempt dies after its counted flag, before the marker goes', async () => {
  const { campaignId, input } = await attempt();
  const restore = failOnce(Campaign, 'updateOne', (_f, u) => !!(u as { $unset?: object }).$unset);
  try {
    await assert.rejects(acts.endAttempt(input), /simulated crash/);
  } finally {
    restore();
  }
  await acts.endAttempt(input);
  const s = await stats(campaignId);
  assert.deepEqual([s.callCount, s.errorCall], [1, 1]);
  assert.deepEqual(Object.keys(s._counting ?? {}), []);
  const stored = await Attempt.findById(input.uuid).lean<{ counted: boolean; result: { cause: string } }>();
  assert.deepEqual([stored!.counted, stored!.result.cause], [true, 'USER_BUSY']);
});

// §11.1: successCall/errorCall count attempts. One awaiting its result status is counted in neither
// until the status decides (before, a success by status never reached successCall and errorCall
// counted ended members).
test('an attempt awaiting its status counts in callCount only; the status decides success, once', async () => {
  const { campaignId, input } = await attempt();
  const awaiting = { ...input, stats: { connected: true, bridged: true, outcome: null } };
  await acts.endAttempt(awaiting);
  await acts.endAttempt(awaiting);
  let s = await stats(campaignId);
  assert.deepEqual([s.callCount, s.connectedCall, s.successCall, s.errorCall], [1, 1, 0, 0]);
  const decided = { campaignId, memberId: input.memberId, member: input.member, decided: { uuid: input.uuid, outcome: 'success' as const } };
  const restore = failOnce(attemptsColl(), 'bulkWrite', (ops) => setsOf(ops).some((set) => set.outcome === 'success'));
  try {
    await assert.rejects(acts.saveMember(decided), /simulated crash/);
  } finally {
    restore();
  }
  await acts.saveMember(decided);
  await acts.saveMember(decided);
  s = await stats(campaignId);
  assert.deepEqual([s.callCount, s.successCall, s.errorCall], [1, 1, 0]);
  assert.deepEqual(Object.keys(s._counting ?? {}), []);
  assert.equal((await Attempt.findById(input.uuid).lean<{ outcome: string }>())!.outcome, 'success');
});

test('a failed attempt counts in errorCall whether or not its member ends', async () => {
  const { campaignId, input } = await attempt();
  await acts.endAttempt(input);
  const second = (await attempt()).input;
  await Attempt.updateOne({ _id: second.uuid }, { $set: { dialer: campaignId } });
  await acts.endAttempt({ ...second, campaignId });
  const s = await stats(campaignId);
  assert.deepEqual([s.callCount, s.errorCall, s.successCall], [2, 2, 0]);
});

// The finish forecast's line time: from the grant the workflow was signalled (the claim's time) to
// the attempt's end, with no read of the member for it.
test('the line time counts from the grant carried in the input', async () => {
  const { campaignId, input } = await attempt();
  await acts.endAttempt({ ...input, grantedAt: Date.now() - 5_000 });
  const lineSec = (await stats(campaignId)).lineSec as number;
  assert.ok(lineSec >= 5 && lineSec < 30, `lineSec ${lineSec}`);
  const other = await attempt();
  await acts.endAttempt({ ...other.input, result: { ...other.input.result, duration: 7 } });
  assert.equal((await stats(other.campaignId)).lineSec, 7, 'no grant time: the call\'s duration');
});

test('endAttempt does not read the attempt: the result applied, the abandoned verdict and the counted flag in one write', async () => {
  const { campaignId, input } = await attempt();
  const seen = (await commandsSent(() => acts.endAttempt({ ...input, stats: { ...input.stats, abandoned: true } }))).filter((c) => c.collection === 'attempts').map((c) => c.name);
  assert.deepEqual(seen, ['update']);
  const stored = await Attempt.findById(input.uuid).lean<{ result: { cause: string; source: string; abandoned: boolean }; counted: boolean }>();
  assert.deepEqual([stored!.result.cause, stored!.result.source, stored!.result.abandoned, stored!.counted], ['USER_BUSY', 'event', true, true]);
  assert.deepEqual([(await stats(campaignId)).callCount, (await stats(campaignId)).predictAbandoned], [1, 1]);
  // A retried endAttempt finds its member settled: it reads the counted flag, counts nothing again.
  const again = (await commandsSent(() => acts.endAttempt({ ...input, stats: { ...input.stats, abandoned: true } }))).filter((c) => c.collection === 'attempts').map((c) => c.name);
  assert.deepEqual(again, ['find']);
  assert.equal((await stats(campaignId)).callCount, 1);
  // An outcome the engine made loses to a result a source stored first; the verdict is added to it.
  const other = await attempt();
  assert.equal(await settleResult(other.input.uuid, { cause: 'NORMAL_CLEARING', answered: true, billsec: 3, duration: 5, source: 'event', settledOn: Date.now() }), true);
  await acts.endAttempt({ ...other.input, result: { ...other.input.result, source: 'engine' }, stats: { ...other.input.stats, abandoned: true } });
  const kept = await Attempt.findById(other.input.uuid).lean<{ result: { cause: string; abandoned: boolean } }>();
  assert.deepEqual([kept!.result.cause, kept!.result.abandoned], ['NORMAL_CLEARING', true]);
});

test('endAttempt writes the member once, no read: its outcome and the lease given back together, then queued for its next try', async () => {
  const { campaignId, input } = await attempt();
  await Member.updateOne({ _id: input.memberId }, { $set: { _dispatch: 'lease-1' } });
  await MemberStore.reserve({ memberId: input.memberId, member: input.member, workflowId: 'wf', uuid: input.uuid, entry: { session: input.uuid } });
  const readyAt = Date.now() + 60_000;
  const seen = (await commandsSent(() => acts.endAttempt({ ...input, readyAt }))).filter((c) => c.collection === 'members').map((c) => c.name);
  assert.deepEqual(seen, ['update']);
  const m = await Member.findById(input.memberId).lean<MemberDoc & { _readyAt: number; _log: { session: string }[] }>();
  assert.deepEqual([m!._dispatch, m!._lock, m!._readyAt, m!._log[0].session], [null, null, readyAt, input.uuid]);
  const timed = await timedEntries(campaignId);
  assert.deepEqual(timed.map((t) => [String(t._id), t._readyAt]), [[input.memberId, readyAt]]);
  // A lease taken back meanwhile (checkLease) is not cleared by the late give-back.
  const other = await attempt();
  await Member.updateOne({ _id: other.input.memberId }, { $set: { _dispatch: 'lease-2' } });
  await acts.endAttempt(other.input);
  assert.equal((await Member.findById(other.input.memberId).lean<MemberDoc>())!._dispatch, 'lease-2');
});

test('endAttempt takes no turn for the attempt and its member (one writer each), only for the campaign\'s counters and line', async () => {
  const { campaignId, input } = await attempt();
  await sleep(KEEP_MS + 100); // the turns the tests above kept are given back
  const taken: string[] = [];
  const client = mongoose.connection.getClient();
  const on = (e: { commandName: string; command: Record<string, unknown> }) => {
    if (e.commandName === 'insert' && e.command.insert === 'dialer_turns') taken.push(...(e.command.documents as { _id: string }[]).map((d) => d._id.split(':')[0]));
  };
  client.on('commandStarted', on);
  try {
    await acts.endAttempt(input);
  } finally {
    client.off('commandStarted', on);
  }
  assert.ok(taken.length > 0 && taken.every((k) => k === 'campaign' || k === 'lines'), `turns taken: ${taken.join(', ')}`);
  assert.equal((await stats(campaignId)).callCount, 1);
});


test('attempts counted together are one update of the campaign (and one for their markers); a retry among them counts nothing twice', async () => {
  const camp = await createCampaign();
  const id = String(camp._id);
  const uuids = Array.from({ length: 8 }, () => crypto.randomUUID());
  await Attempt.insertMany(uuids.map((uuid, i) => ({
    _id: uuid, dialer: id, domain: 'test.local', member: 'm', workflowId: 'wf', attempt: 1, number: '1', dialString: '1', jobUuid: `j${i}`,
  })));
  // As endAttempt calls it: with the attempt it has just read (not counted yet).
  const count = (uuid: string) => CampaignStore.countOnce(id, uuid, 'counted', uuid, { 'stats.callCount': 1, 'stats.errorCall': 1 }, { counted: true }, {});
  const countRead = (uuid: string) => Attempt.findById(uuid).lean<Record<string, unknown>>()
    .then((a) => CampaignStore.countOnce(id, uuid, 'counted', uuid, { 'stats.callCount': 1, 'stats.errorCall': 1 }, { counted: true }, a));
  const updates = (await commandsSent(() => Promise.all(uuids.slice(0, 4).map(count)))).filter((c) => c.collection === 'dialer')
    .map((c) => Object.keys((c.command.updates as { u: object }[])[0].u).sort().join());
  // One increment; the markers go as the attempts' flags are stored: one removal for the flags stored
  // in one event-loop turn, so at most one per attempt (how many share a turn depends on the box's load).
  assert.deepEqual(updates.filter((u) => u === '$inc,$set'), ['$inc,$set'], updates.join(' '));
  assert.ok(updates.length <= 5 && updates.slice(1).every((u) => u === '$unset'), updates.join(' '));
  assert.deepEqual([(await stats(id)).callCount, (await stats(id)).errorCall], [4, 4]);
  // Retried together with fresh ones: u0 (flagged), u4 whose increment was stored but not its flag
  // (the answer was lost), u5–u7 fresh.
  await Campaign.updateOne({ _id: id }, { $inc: { 'stats.callCount': 1, 'stats.errorCall': 1 }, $set: { [`stats._counting.${uuids[4]}`]: 1 } });
  await Promise.all([uuids[0], ...uuids.slice(4)].map(countRead));
  const s = await stats(id);
  assert.deepEqual([s.callCount, s.errorCall], [8, 8], 'each attempt once');
  assert.deepEqual(Object.keys(s._counting ?? {}), [], 'no marker left');
  assert.equal(await Attempt.countDocuments({ _id: { $in: uuids }, counted: true }), 8);
});
