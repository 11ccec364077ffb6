// Regression (found by the fault suite, issue 6): FerretDB v1 ignores a `$pull` whose value is a
// query condition (`{ leases: { id } }` removes nothing, silently), so released line leases stayed
// in the document: it grew by one entry per call forever, and a retried release (endAttempt runs
// again after a worker crash or a Mongo error) found the lease again and decremented the counter a
// second time — below the real number of calls, letting the campaign exceed its limit.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { LineLeases } from '../models/lines';
import { connectTestDb } from './support/env';

before(() => connectTestDb('line_leases_test'));
after(() => mongoose.disconnect());

test('a released lease leaves the document, and a retried release does not free a second line', async () => {
  const dest = [{ uuid: 'd1', limit: 2 }];
  assert.deepEqual(await LineLeases.acquire('c1', 'a1', 2, dest), { destinationId: 'd1' });
  assert.deepEqual(await LineLeases.acquire('c1', 'a2', 2, dest), { destinationId: 'd1' });
  assert.equal(await LineLeases.acquire('c1', 'a3', 2, dest), null, 'limit 2 reached');

  await LineLeases.release('c1', 'a1');
  await LineLeases.release('c1', 'a1'); // the activity retried
  let snap = await LineLeases.snapshot('c1');
  assert.deepEqual(snap!.leases.map((l) => l.id), ['a2'], 'the released lease is gone');
  assert.equal(snap!.active, 1);
  assert.equal(snap!.dest.d1, 1);

  assert.deepEqual(await LineLeases.acquire('c1', 'a3', 2, dest), { destinationId: 'd1' });
  assert.equal(await LineLeases.acquire('c1', 'a4', 2, dest), null, 'still only 2 lines: the double release freed nothing');
  await LineLeases.release('c1', 'a2');
  await LineLeases.release('c1', 'a3');
  snap = await LineLeases.snapshot('c1');
  assert.deepEqual([snap!.active, snap!.leases.length, snap!.dest.d1], [0, 0, 0]);
});
