// models/group-commit.ts: writes queued together are stored with one write per tick, each caller
// waits for its own batch, a failed batch fails every caller in it, and writes of one document are
// applied in the order they were queued (also against FerretDB).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { batchedUpdate, batchedWrites, GroupCommit, perTick } from '../models/group-commit';
import { connectTestDb } from './support/env';

const tick = () => new Promise<void>((r) => setImmediate(r));

/** A writer whose writes stay open until `release()`. */
function gatedWriter<T>() {
  const batches: T[][] = [];
  const gates: { open: () => void; fail: (e: unknown) => void }[] = [];
  const gc = new GroupCommit<T>((items) => {
    batches.push(items);
    return new Promise<void>((open, fail) => gates.push({ open, fail }));
  });
  return { gc, batches, gates };
}

test('writes queued in one event-loop turn go out as one batch; callers resolve only when it is stored', async () => {
  const { gc, batches, gates } = gatedWriter<number>();
  let done = 0;
  const all = [1, 2, 3].map((n) => gc.add(n).then(() => done++));
  await tick();
  assert.deepEqual(batches, [[1, 2, 3]], 'one write for the three');
  assert.equal(done, 0, 'nobody returns before the batch is stored');
  gates[0].open();
  await Promise.all(all);
  assert.equal(done, 3);
});

test('writes queued while a batch is in flight form the next batch, written after it', async () => {
  const { gc, batches, gates } = gatedWriter<string>();
  const first = gc.add('a');
  await tick();
  const second = [gc.add('b'), gc.add('c')];
  await tick();
  assert.deepEqual(batches, [['a']], 'the second batch waits for the first');
  gates[0].open();
  await first;
  await tick();
  assert.deepEqual(batches, [['a'], ['b', 'c']]);
  gates[1].open();
  await Promise.all(second);
  assert.deepEqual(gc.stats, { batches: 2, items: 3 });
});

test('a failed batch rejects every caller in it with its error, and the next batch still goes', async () => {
  const { gc, batches, gates } = gatedWriter<number>();
  const failed = [gc.add(1), gc.add(2)];
  await tick();
  const later = gc.add(3);
  const boom = new Error('write failed');
  gates[0].fail(boom);
  for (const p of failed) await assert.rejects(p, (e) => e === boom);
  await tick();
  assert.deepEqual(batches, [[1, 2], [3]]);
  gates[1].open();
  await later;
});

test('a batch is at most maxBatch writes', async () => {
  const batches: number[][] = [];
  const gc = new GroupCommit<number>(async (items) => { batches.push(items); }, 2);
  await Promise.all([1, 2, 3, 4, 5].map((n) => gc.add(n)));
  assert.deepEqual(batches, [[1, 2], [3, 4], [5]]);
});

test('with a tick, writes of later event-loop turns within it join the batch', async () => {
  const batches: number[][] = [];
  const gc = new GroupCommit<number>(async (items) => { batches.push(items); }, 50, 30);
  const first = gc.add(1);
  await tick();
  const second = gc.add(2);
  await Promise.all([first, second]);
  assert.deepEqual(batches, [[1, 2]]);
});

test('against FerretDB: one bulkWrite per tick, writes of one document applied in queued order', async (t) => {
  await connectTestDb('group_commit_test');
  t.after(() => mongoose.disconnect());
  const coll = mongoose.connection.collection('gc_docs');
  const w = batchedWrites('gc_docs');
  const before = { ...w.stats };
  // Upsert, then two $set of the same field and an $inc, all in one tick: the last $set wins.
  await Promise.all([
    batchedUpdate('gc_docs', { _id: 'a' }, { $setOnInsert: { n: 0 } }, { upsert: true }),
    batchedUpdate('gc_docs', { _id: 'a' }, { $set: { v: 'first' } }),
    batchedUpdate('gc_docs', { _id: 'a' }, { $set: { v: 'second' } }),
    batchedUpdate('gc_docs', { _id: 'a' }, { $inc: { n: 1 } }),
    batchedUpdate('gc_docs', { _id: 'b' }, { $set: { v: 'b' } }, { upsert: true }),
  ]);
  assert.deepEqual({ batches: w.stats.batches - before.batches, items: w.stats.items - before.items }, { batches: 1, items: 5 });
  assert.deepEqual(await coll.find({}).sort({ _id: 1 }).toArray(), [{ _id: 'a', n: 1, v: 'second' }, { _id: 'b', v: 'b' }]);
  // A write the server refuses fails its whole batch.
  await assert.rejects(Promise.all([
    batchedUpdate('gc_docs', { _id: 'a' }, { $set: { v: 'third' } }),
    batchedUpdate('gc_docs', { _id: 'a' }, { $inc: { v: 1 } }), // $inc of a string
  ]));
});

test('against FerretDB: each caller learns whether every write of its batch found its document', async (t) => {
  await connectTestDb('group_commit_found');
  t.after(() => mongoose.disconnect());
  const coll = mongoose.connection.collection<{ _id: string; v?: number }>('gc_found');
  await coll.insertMany([{ _id: 'a' }, { _id: 'b' }]);
  // All found (an upsert that inserts counts as found).
  assert.deepEqual(await Promise.all([
    batchedUpdate('gc_found', { _id: 'a' }, { $set: { v: 1 } }),
    batchedUpdate('gc_found', { _id: 'c' }, { $set: { v: 1 } }, { upsert: true }),
  ]), [true, true]);
  // A conditional write that matches nothing: every caller of that batch hears it, its own write
  // stored or not; a later batch is judged on its own.
  assert.deepEqual(await Promise.all([
    batchedUpdate('gc_found', { _id: 'a', v: 2 }, { $set: { v: 3 } }),
    batchedUpdate('gc_found', { _id: 'b' }, { $set: { v: 1 } }),
  ]), [false, false]);
  assert.equal(await batchedUpdate('gc_found', { _id: 'b', v: 1 }, { $set: { v: 2 } }), true);
});


test('against FerretDB: 120 writes queued at once go as bulkWrites of at most 50', async (t) => {
  await connectTestDb('group_commit_many');
  t.after(() => mongoose.disconnect());
  const w = batchedWrites('gc_many');
  await Promise.all(Array.from({ length: 120 }, (_, i) => batchedUpdate('gc_many', { _id: `m${i}` }, { $set: { i } }, { upsert: true })));
  assert.deepEqual(w.stats, { batches: 3, items: 120 });
  assert.equal(await mongoose.connection.collection('gc_many').countDocuments({}), 120);
});

test('perTick: a lazy call waits up to lazyMs for another of its key and goes with it; a call that is not lazy goes at once', async () => {
  const writes: string[][] = [];
  const writer = (lazyMs: number) => perTick<string, string>(async (key, items) => {
    writes.push([key, ...items]);
    return items.map((i) => `${i}!`);
  }, lazyMs);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // A release-like call, then (another event-loop turn) one that is not lazy: one write, at once
  // (the lazy call alone would wait 10 s).
  let write = writer(10_000);
  const lazy = write('k', 'r1', true);
  await sleep(10);
  assert.deepEqual(writes, [], 'the lazy call waits');
  const [a, b] = await Promise.all([write('k', 'a1'), lazy]);
  assert.deepEqual([a, b], ['a1!', 'r1!']);
  assert.deepEqual(writes, [['k', 'r1', 'a1']], 'both in one write, in call order');
  // Lazy calls alone go once lazyMs has passed since the first, together; other keys apart.
  write = writer(60);
  const started = Date.now();
  await Promise.all([write('k', 'r2', true), sleep(5).then(() => write('k', 'r3', true)), write('j', 'x', true)]);
  assert.ok(Date.now() - started >= 55, `waited ${Date.now() - started} ms`);
  assert.deepEqual(writes.slice(1).sort(), [['j', 'x'], ['k', 'r2', 'r3']]);
});
