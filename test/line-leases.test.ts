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
import { commandsSent } from './support/commands';

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

/** Commands sent to the store while fn runs, as `<command> <collection>` (turns left out: they
 *  are the cost of sharing the document between processes, not of the lease). */
const commandsOf = async (fn: () => Promise<unknown>): Promise<string[]> =>
  (await commandsSent(fn)).filter((c) => c.collection !== 'dialer_turns').map((c) => `${c.name} ${c.collection}`);

test('a free line costs a read and one write; a retried acquire gets its own line back; a full first destination passes to the next', async () => {
  const dest = [{ uuid: 'd1', limit: 1 }, { uuid: 'd2', limit: 5 }];
  // The campaign's first acquire creates its document.
  assert.deepEqual(await LineLeases.acquire('c2', 'a1', 3, dest), { destinationId: 'd1' });
  assert.deepEqual(await commandsOf(() => LineLeases.acquire('c2', 'a2', 3, dest).then((r) => assert.deepEqual(r, { destinationId: 'd2' })))
    .then((c) => c.filter((x) => x.startsWith('findAndModify'))).then((c) => c.length), 2, 'd1 full: tried, then d2');
  // Retried while lines are free and two leases are held (FerretDB's `$ne` on `leases.id` would let it in).
  assert.deepEqual(await LineLeases.acquire('c2', 'a2', 3, dest), { destinationId: 'd2' });
  assert.deepEqual((await LineLeases.snapshot('c2'))!.active, 2, 'a retried acquire takes no second line');
  const free = await commandsOf(() => LineLeases.acquire('c2', 'a3', 3, [{ uuid: 'd2', limit: 5 }]));
  assert.deepEqual(free, ['find dialer_lines', 'findAndModify dialer_lines'], 'a free line is a read and a write');
  const retried = await commandsOf(async () => assert.deepEqual(await LineLeases.acquire('c2', 'a2', 3, dest), { destinationId: 'd2' }));
  assert.deepEqual(retried, ['find dialer_lines'], retried.join(', '));
  assert.equal(await LineLeases.acquire('c2', 'a4', 3, dest), null, 'limit 3 reached');
  const snap = await LineLeases.snapshot('c2');
  assert.deepEqual([snap!.active, snap!.dest.d1, snap!.dest.d2, snap!.leases.length], [3, 1, 2, 3], 'the retry took no second line');
});
