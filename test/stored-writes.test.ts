// The writes on every call's path skip Mongoose's casting (models/attempt.ts `recordAttempt` and
// `setAttempt`, the member's `reserve` and `settle` through models/group-commit.ts with `stored`):
// each must store exactly what the Mongoose way stores (`Attempt.create`, `Attempt.updateOne`,
// `Member.bulkWrite`), read back raw.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import mongoose from 'mongoose';
import { Attempt, Member, memberState, memberStateSet, recordAttempt, resultRecord, setAttempt, type AttemptFields, type MemberDoc } from '../models';
import { LOST_CALL } from '../rules';
import type { CallResult } from '../workflows/messages';
import { batchedUpdate } from '../models/group-commit';
import { MemberStore } from '../models/member-store';
import { connectTestDb, createCampaign, createMember } from './support/env';

before(() => connectTestDb('stored_writes_test'));
after(() => mongoose.disconnect());

/** A document as stored, without what differs between two writes of it (its id, its clock). */
async function raw(collection: string, _id: string | mongoose.Types.ObjectId) {
  const doc = await mongoose.connection.collection(collection).findOne({ _id } as Record<string, unknown>);
  assert.ok(doc, `${collection} ${String(_id)} stored`);
  const { _id: id, createdOn, lastModified, ...rest } = doc;
  assert.equal(typeof createdOn, 'number');
  if (collection === 'members') assert.equal(typeof lastModified, 'number');
  return rest;
}

test('an attempt recorded without Mongoose is stored as Attempt.create stores it', async () => {
  const base: AttemptFields = {
    dialer: 'c1', domain: 'test.local', member: new mongoose.Types.ObjectId().toHexString(), workflowId: 'member-1', attempt: 2,
    number: '100001', dialString: 'sofia/gateway/gw1/100001', jobUuid: crypto.randomUUID(),
  };
  for (const [fields, sentOn] of [[{ ...base, destinationId: 'd1' }, 1234], [base, null], [{ ...base, destinationId: null }, 5]] as const) {
    const mine = crypto.randomUUID();
    const theirs = crypto.randomUUID();
    assert.equal(await recordAttempt(mine, fields, sentOn), true);
    await Attempt.create({ ...fields, _id: theirs, createdOn: Date.now(), sentOn });
    assert.deepEqual(await raw('attempts', mine), await raw('attempts', theirs));
    assert.equal(await recordAttempt(mine, fields, sentOn), false, 'a second record of one attempt finds it stored');
    // Then its result (endAttempt, countOutcome), as Attempt.updateOne casts it into its subschema.
    const results = [
      { counted: true, result: { ...resultRecord({ uuid: mine, cause: 'USER_BUSY', answered: false, billsec: 0, answersec: 0, duration: 3, source: 'event' }, 42) } },
      { counted: true, outcome: 'success' as const, result: { ...resultRecord({ uuid: mine, cause: LOST_CALL, answered: true, billsec: 9, answersec: 1, duration: 20, source: 'reconcile', bridged: true, digit: '1', agentAnswered: false, amd: { result: 'HUMAN', cause: 'x', sec: 2 } } as CallResult, 43), abandoned: true } },
      { outcome: 'error' as const },
    ];
    for (const set of results) {
      await setAttempt(mine, set);
      await Attempt.updateOne({ _id: theirs }, { $set: set });
      assert.deepEqual(await raw('attempts', mine), await raw('attempts', theirs));
    }
  }
});

test("a member's reserve and settle store what the Mongoose way stores, and skip Model.bulkWrite", async (t) => {
  const camp = await createCampaign();
  const campaignId = String(camp._id);
  const [mine, theirs] = [String((await createMember(campaignId, [' 100001', '100002'])).id), String((await createMember(campaignId, [' 100001', '100002'])).id)];
  for (const id of [mine, theirs]) await Member.updateOne({ _id: id }, { $set: { _dispatch: 'lease-1' } });
  const member = memberState((await Member.findById(mine).lean<MemberDoc>())!);
  const reserved = { ...member, probeCount: 1, lastNumberIndex: 0, communications: member.communications.map((c, i) => (i ? c : { ...c, probe: 1, lastCall: 99 })) };
  const entry = { session: 'u1', state: 'dial', number: '100001', reservedTime: 99 };
  const ended = { ...reserved, endCause: 'MAX_TRY_COUNT', nextTryTime: null };
  const final = { session: 'u1', state: 'end', cause: 'USER_BUSY', callTime: 100 };

  const bulkWrites = t.mock.method(Member, 'bulkWrite');
  await MemberStore.reserve({ memberId: mine, member: reserved, workflowId: 'member-1', uuid: 'u1', entry });
  assert.equal(await MemberStore.settle({
    campaignId, memberId: mine, member: ended, uuid: 'u1', entry: final, waitingForStatusUntil: 500, release: { leaseId: 'lease-1', readyAt: 7 },
  }), true);
  assert.equal(bulkWrites.mock.callCount(), 0, 'no Mongoose bulkWrite on the hot path');
  bulkWrites.mock.restore();

  // The same two writes the Mongoose way (a string `_id`, cast by Model.bulkWrite).
  await batchedUpdate(Member, { _id: theirs, _lastSession: { $ne: 'u1' } }, {
    $set: { ...memberStateSet(reserved), _lock: 'member-1', _lastSession: 'u1' }, $push: { _log: { $each: [entry], $position: 0 } },
  });
  assert.equal(await batchedUpdate(Member, { _id: theirs, _lock: { $ne: null }, _endCause: null, '_log.0.session': 'u1', _dispatch: 'lease-1' }, {
    $set: { ...memberStateSet(ended), _lock: null, '_log.0': final, _waitingForResultStatus: 500, _waitingForResultStatusCb: 1, _dispatch: null, _readyAt: 7 },
  }), true);

  const got = await raw('members', new mongoose.Types.ObjectId(mine));
  assert.deepEqual(got, await raw('members', new mongoose.Types.ObjectId(theirs)));
  assert.equal(got._endCause, 'MAX_TRY_COUNT');
  assert.deepEqual(got._log, [final]);
});
