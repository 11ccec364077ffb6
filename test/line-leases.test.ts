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

test('a full first destination passes to the next; a retried acquire gets its own line back and takes no second', async () => {
  const dest = [{ uuid: 'd1', limit: 1 }, { uuid: 'd2', limit: 5 }];
  assert.deepEqual(await LineLeases.acquire('c2', 'a1', 3, dest), { destinationId: 'd1' });
  assert.deepEqual(await LineLeases.acquire('c2', 'a2', 3, dest), { destinationId: 'd2' }, 'd1 full: d2');
  // Retried while lines are free and two leases are held (FerretDB's `$ne` on `leases.id` would let it in).
  assert.deepEqual(await LineLeases.acquire('c2', 'a2', 3, dest), { destinationId: 'd2' });
  assert.deepEqual((await LineLeases.snapshot('c2'))!.active, 2, 'a retried acquire takes no second line');
  assert.deepEqual(await LineLeases.acquire('c2', 'a3', 3, [{ uuid: 'd2', limit: 5 }]), { destinationId: 'd2' });
  assert.equal(await LineLeases.acquire('c2', 'a4', 3, dest), null, 'limit 3 reached');
  const snap = await LineLeases.snapshot('c2');
  assert.deepEqual([snap!.active, snap!.dest.d1, snap!.dest.d2, snap!.leases.length], [3, 1, 2, 3], 'the retry took no second line');
});

test('while this process holds the turn, the lines are read once; the acquires and releases of one tick are one write', async () => {
  const dest = [{ uuid: 'd1', limit: 10 }];
  // A new campaign: read (nothing there), then one insert for the first two lines.
  const first = await commandsOf(() => Promise.all([LineLeases.acquire('c3', 'a1', 4, dest), LineLeases.acquire('c3', 'a2', 4, dest)]));
  assert.deepEqual(first, ['find dialer_lines', 'insert dialer_lines']);
  // The turn is kept: no read; three acquires and a release of one tick are one update.
  const tick = await commandsOf(async () => {
    const got = await Promise.all([
      LineLeases.acquire('c3', 'a3', 4, dest), LineLeases.acquire('c3', 'a4', 4, dest), LineLeases.release('c3', 'a1'),
      LineLeases.acquire('c3', 'a5', 4, dest), LineLeases.acquire('c3', 'a6', 4, dest),
    ]);
    assert.deepEqual(got.map((g) => g?.destinationId ?? null), ['d1', 'd1', null, 'd1', null], 'a1 gone: a5 fits, a6 does not (limit 4)');
  });
  assert.deepEqual(tick, ['update dialer_lines']);
  // A retried acquire and a retried release cost nothing.
  assert.deepEqual(await commandsOf(async () => {
    assert.deepEqual(await LineLeases.acquire('c3', 'a3', 4, dest), { destinationId: 'd1' });
    await LineLeases.release('c3', 'a1');
  }), []);
  const snap = await LineLeases.snapshot('c3');
  assert.deepEqual([snap!.active, snap!.dest.d1, snap!.leases.map((l) => l.id).join()], [4, 4, 'a2,a3,a4,a5']);
});

test('a release waits for the next acquire and goes in its write, before it: the line it frees is the acquire\'s', async () => {
  const dest = [{ uuid: 'd1', limit: 5 }];
  assert.deepEqual(await LineLeases.acquire('c5', 'a1', 1, dest), { destinationId: 'd1' });
  const seen = await commandsOf(async () => {
    const released = LineLeases.release('c5', 'a1');
    await new Promise((r) => setTimeout(r, 5)); // another event-loop turn, within LINE_RELEASE_WINDOW_MS
    assert.deepEqual(await LineLeases.acquire('c5', 'a2', 1, dest), { destinationId: 'd1' }, 'limit 1: a1\'s line, freed first');
    await released;
  });
  assert.deepEqual(seen, ['update dialer_lines'], 'one write for the release and the acquire');
  const snap = await LineLeases.snapshot('c5');
  assert.deepEqual([snap!.active, snap!.dest.d1, snap!.leases.map((l) => l.id).join()], [1, 1, 'a2']);
  // A release with no acquire after it still goes, alone, within the window.
  const alone = await commandsOf(() => LineLeases.release('c5', 'a2'));
  assert.deepEqual(alone, ['update dialer_lines']);
  assert.equal((await LineLeases.snapshot('c5'))!.active, 0);
});

test('a copy gone stale (the document written by another process) is read again: the limit stays exact', async () => {
  const dest = [{ uuid: 'd1', limit: 10 }];
  assert.deepEqual(await LineLeases.acquire('c4', 'a1', 2, dest), { destinationId: 'd1' });
  // Another process took a line meanwhile (it held the turn after this one's lapsed).
  await mongoose.connection.collection<{ _id: string }>('dialer_lines').updateOne(
    { _id: 'c4' }, { $inc: { active: 1, 'dest.d1': 1, v: 1 }, $push: { leases: { id: 'x', dest: 'd1', at: Date.now() } } } as never,
  );
  assert.equal(await LineLeases.acquire('c4', 'a2', 2, dest), null, 'a1 and x hold the 2 lines');
  await LineLeases.release('c4', 'x');
  assert.deepEqual(await LineLeases.acquire('c4', 'a2', 2, dest), { destinationId: 'd1' });
  const snap = await LineLeases.snapshot('c4');
  assert.deepEqual([snap!.active, snap!.dest.d1, snap!.leases.map((l) => l.id).join()], [2, 2, 'a1,a2']);
});
