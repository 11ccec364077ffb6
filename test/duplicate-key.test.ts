// isDuplicateKeyError over the error shapes the store really gives: Mongoose's insertMany (items
// `{index, err: {code}}`), the driver's bulk writes (`{index, code}`), a single insert, and a
// failure that is not (only) a duplicate.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { AgentEvent } from '../models/agent';
import { isDuplicateKeyError, writeErrorsOf } from '../lib/db';
import { connectTestDb } from './support/env';

before(() => connectTestDb('duplicate_key_test'));
after(() => mongoose.disconnect());

const doc = (id: string) => ({ _id: id, domain: 'd', agent: 'a@d', type: 'x', at: 1, seq: 1, data: {} });
const errorOf = (write: () => Promise<unknown>) => write().then(() => assert.fail('the write succeeded'), (err: unknown) => err);

test('duplicates are recognised in every shape; the failed items keep their indexes', async () => {
  await AgentEvent.insertMany([doc('e1')]);
  const viaMongoose = await errorOf(() => AgentEvent.insertMany([doc('e2'), doc('e1')], { ordered: false }));
  assert.deepEqual(writeErrorsOf(viaMongoose), [{ index: 1, code: 11000 }]);
  assert.ok(isDuplicateKeyError(viaMongoose));
  const viaDriver = await errorOf(() => AgentEvent.collection.insertMany([doc('e1'), doc('e3'), doc('e2')] as never[], { ordered: false }));
  assert.deepEqual(writeErrorsOf(viaDriver).map((w) => w.index), [0, 2]);
  assert.ok(isDuplicateKeyError(viaDriver));
  assert.ok(isDuplicateKeyError(await errorOf(() => AgentEvent.collection.insertOne(doc('e1') as never))));
});

test('a failure that is not a duplicate, alone or among duplicates, is not taken for one', () => {
  assert.equal(isDuplicateKeyError(new Error('connection closed')), false);
  assert.equal(isDuplicateKeyError({ code: 11000, writeErrors: [{ index: 0, code: 11000 }, { index: 1, code: 121 }] }), false);
  assert.equal(isDuplicateKeyError({ code: 11000, writeErrors: [] }), true);
});
