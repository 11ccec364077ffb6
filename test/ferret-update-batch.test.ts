// The FerretDB build's `sqlite-update-batch` patch (docs/setup.md): an update command's documents are
// written in batches, and each statement's read ends with the statement. What must hold is what
// MongoDB answers: counts, every document's new value, statements on one `_id` seeing each other,
// a failing statement reported. The first test hung on the unpatched build (a command of more than
// ~100 statements never finished). On a real MongoDB (MONGODB_URI) the same results are checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';

type Doc = { _id: mongoose.Types.ObjectId; k: number; n: number; tag?: string };

async function withCollection(fn: (c: mongoose.mongo.Collection<Doc>) => Promise<void>): Promise<void> {
  await mongoose.connect(process.env.MONGODB_URI!, { serverSelectionTimeoutMS: 10_000 });
  const c = mongoose.connection.db!.collection<Doc>(`update_batch_${process.pid}_${Date.now()}`);
  try {
    await fn(c);
  } finally {
    await c.drop().catch(() => undefined);
    await mongoose.disconnect();
  }
}

const docsOf = (n: number): Doc[] => Array.from({ length: n }, (_, k) => ({ _id: new mongoose.Types.ObjectId(), k, n: 0 }));

test('a command of 300 statements by distinct _id completes, counts right and writes each document', { timeout: 60_000 }, async () => {
  await withCollection(async (c) => {
    const docs = docsOf(300);
    await c.insertMany(docs);
    // Every third statement's extra condition does not match: it is matched by nothing, changes nothing.
    const r = await c.bulkWrite(
      docs.map((d) => ({ updateOne: { filter: { _id: d._id, ...(d.k % 3 === 0 ? { n: 99 } : {}) }, update: { $set: { n: d.k * 2, tag: `t${d.k}` } } } })),
      { ordered: false },
    );
    assert.equal(r.matchedCount, 200);
    assert.equal(r.modifiedCount, 200);
    const after = await c.find({}).sort({ k: 1 }).toArray();
    for (const d of after) assert.deepEqual([d.n, d.tag], d.k % 3 === 0 ? [0, undefined] : [d.k * 2, `t${d.k}`], `document ${d.k}`);
    // A statement that changes nothing is matched and not modified.
    const same = await c.bulkWrite(docs.slice(1, 3).map((d) => ({ updateOne: { filter: { _id: d._id }, update: { $set: { n: d.k * 2 } } } })));
    assert.deepEqual([same.matchedCount, same.modifiedCount], [2, 0]);
  });
});

test('statements naming the same _id see each other (ordered, as MongoDB)', { timeout: 60_000 }, async () => {
  await withCollection(async (c) => {
    const [a, b] = docsOf(2);
    await c.insertMany([a, b]);
    const r = await c.bulkWrite([
      { updateOne: { filter: { _id: a._id }, update: { $inc: { n: 1 } } } },
      { updateOne: { filter: { _id: b._id }, update: { $inc: { n: 5 } } } },
      { updateOne: { filter: { _id: a._id, n: 1 }, update: { $inc: { n: 10 } } } },
    ]);
    assert.equal(r.modifiedCount, 3);
    assert.deepEqual((await c.find({}).sort({ k: 1 }).toArray()).map((d) => d.n), [11, 5]);
  });
});

test('an updateMany over 2,500 documents modifies every one; a failing statement is reported', { timeout: 60_000 }, async () => {
  await withCollection(async (c) => {
    await c.insertMany(docsOf(2500));
    const r = await c.updateMany({ n: 0 }, { $set: { n: 7 } });
    assert.deepEqual([r.matchedCount, r.modifiedCount], [2500, 2500]);
    assert.equal(await c.countDocuments({ n: 7 }), 2500);
    // $inc on a string field fails on MongoDB and FerretDB alike; the command reports it.
    const [first] = await c.find({}).sort({ k: 1 }).limit(1).toArray();
    await c.updateOne({ _id: first._id }, { $set: { tag: 'text' } });
    await assert.rejects(c.bulkWrite([{ updateOne: { filter: { _id: first._id }, update: { $inc: { tag: 1 } } as never } }, { updateOne: { filter: { k: 1 }, update: { $set: { n: 8 } } } }]));
    assert.equal((await c.findOne({ _id: first._id }))!.tag, 'text');
  });
});
