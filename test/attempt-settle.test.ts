// The first-wins settle of an attempt (models/attempt.ts updateAttemptIf) on FerretDB: of many
// concurrent settles in one process exactly one wins, a send claim happens once, and the attempts
// collection is only ever asked by `_id` (any other filter decodes every attempt ever made on
// FerretDB v1, which made each settle slower with every call: bench/throughput.ts profile).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { Attempt, updateAttemptIf, type AttemptDoc } from '../models';
import { connectTestDb } from './support/env';

before(() => connectTestDb('attempt_settle_test'));
after(() => mongoose.disconnect());

const attempt = (id: string) => Attempt.create({
  _id: id, dialer: 'd1', domain: 'x', member: 'm1', workflowId: 'w1', attempt: 1, number: '1', dialString: '1', jobUuid: `j-${id}`,
});

test('of 20 concurrent settles exactly one wins; the attempts collection is read and written by _id only', async () => {
  await attempt('a1');
  const filters: unknown[] = [];
  mongoose.set('debug', (coll: string, method: string, query: unknown) => {
    if (coll === 'attempts' && method !== 'createIndex') filters.push(query);
  });
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    updateAttemptIf('a1', {}, { result: { cause: `C${i}`, answered: false, billsec: 0, duration: 0, source: 'event', settledOn: i } })));
  mongoose.set('debug', false);
  assert.equal(results.filter((r) => r !== null).length, 1, 'one winner');
  const winner = results.findIndex((r) => r !== null);
  assert.equal((await Attempt.findById('a1').lean<AttemptDoc>())!.result!.cause, `C${winner}`, 'the stored result is the winner\'s');
  assert.ok(filters.every((q) => JSON.stringify(Object.keys(q as object)) === '["_id"]'), `filters: ${JSON.stringify(filters)}`);
});

test('the send claim succeeds once, and never on a settled attempt', async () => {
  await attempt('a2');
  assert.ok(await updateAttemptIf('a2', { unsent: true }, { sentOn: 1 }));
  assert.equal(await updateAttemptIf('a2', { unsent: true }, { sentOn: 2 }), null);
  await attempt('a3');
  await updateAttemptIf('a3', {}, { result: { cause: 'LOST_CALL', answered: false, billsec: 0, duration: 0, source: 'reconcile', settledOn: 1 } });
  assert.equal(await updateAttemptIf('a3', { unsent: true }, { sentOn: 3 }), null, 'settled as lost before it was sent: never sent');
});
