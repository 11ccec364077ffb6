// First-wins inserts of a moment go as one command (models/attempt.ts `firstInserts`), and each caller still
// learns whether its own insert won: the call results of the result router, the attempt records
// with their send claim, the answers (models/attempt.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import mongoose from 'mongoose';
import { recordAnswer, recordAttempt, resultRecord, settleResult, storedResultOf, type AttemptFields } from '../models';
import { commandsSent } from './support/commands';
import { connectTestDb } from './support/env';

before(() => connectTestDb('first_insert_test'));
after(() => mongoose.disconnect());

/** The insert commands sent to `collection` while fn runs, with their document count each. */
async function inserts(collection: string, fn: () => Promise<unknown>): Promise<number[]> {
  const sent = await commandsSent(fn);
  return sent.filter((c) => c.name === 'insert' && c.collection === collection).map((c) => (c.command.documents as unknown[]).length);
}

const busy = (uuid: string, source: 'job' | 'event' = 'job') =>
  resultRecord({ uuid, cause: 'USER_BUSY', answered: false, billsec: 0, answersec: 0, duration: 0, source });

test('results settled at one moment are one insert; the first of each attempt wins, a stored one stays', async () => {
  const [a, b, c] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
  assert.equal(await settleResult(c, busy(c, 'event')), true);
  let won: boolean[] = [];
  const sent = await inserts('attempt_results', async () => {
    won = await Promise.all([settleResult(a, busy(a)), settleResult(a, busy(a, 'event')), settleResult(b, busy(b)), settleResult(c, busy(c))]);
  });
  assert.deepEqual(won, [true, false, true, false]);
  assert.deepEqual(sent, [4], 'one command for the four');
  assert.equal((await storedResultOf(a))?.source, 'job', 'the first queued of one attempt is stored');
  assert.equal((await storedResultOf(c))?.source, 'event', 'a result stored earlier is kept');
});

test('attempt records (the send claim) and answers of one moment are one insert each; a second claim of an attempt loses', async () => {
  const fields = (n: number): AttemptFields => ({
    dialer: 'c1', domain: 'test.local', member: `m${n}`, workflowId: `member-${n}`, attempt: 1,
    number: `10000${n}`, dialString: `sofia/gateway/gw1/10000${n}`, jobUuid: crypto.randomUUID(),
  });
  const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
  let claimed: boolean[] = [];
  const sent = await inserts('attempts', async () => {
    claimed = await Promise.all([...ids.map((id, n) => recordAttempt(id, fields(n), 1)), recordAttempt(ids[1], fields(1), 2)]);
  });
  assert.deepEqual(claimed, [true, true, true, false]);
  assert.deepEqual(sent, [4]);
  assert.deepEqual(await Promise.all(ids.map((id) => recordAttempt(id, fields(0), 3))), [false, false, false], 'a retried claim finds each stored');
  const answered = await inserts('attempt_answers', () => Promise.all([recordAnswer(ids[0], 5), recordAnswer(ids[1], 6)]));
  assert.deepEqual(answered, [2]);
  assert.equal(await recordAnswer(ids[0], 7), false, 'the first answer stays');
});
