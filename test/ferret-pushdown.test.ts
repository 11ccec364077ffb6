// The FerretDB build's `sqlite-pushdown` patch (docs/setup.md): equality on a field that leads an
// index, `_id` lists and ObjectID ranges are served by SQLite's indexes (EXPLAIN QUERY PLAN, which
// FerretDB returns from `explain`), and every query still returns exactly what MongoDB would —
// arrays matched by element, null matching a missing field, `_id` ranges in `_id` order.
// On a real MongoDB (MONGODB_URI) only the results are checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { isMongoDB } from '../lib/db';

type Doc = { _id: mongoose.Types.ObjectId; dialer?: unknown; state?: unknown; n: number };

async function withCollection(fn: (c: mongoose.mongo.Collection<Doc>) => Promise<void>): Promise<void> {
  await mongoose.connect(process.env.MONGODB_URI!, { serverSelectionTimeoutMS: 10_000 });
  const c = mongoose.connection.db!.collection<Doc>(`pushdown_${process.pid}_${Date.now()}`);
  try {
    await c.createIndex({ dialer: 1, state: 1, _id: 1 });
    await fn(c);
  } finally {
    await c.drop().catch(() => undefined);
    await mongoose.disconnect();
  }
}

/** SQLite's plan lines for a find, from FerretDB's explain (`queryPlanner.Plan`). */
async function plan(c: mongoose.mongo.Collection<Doc>, filter: Record<string, unknown>): Promise<string> {
  const e = (await c.find(filter).explain()) as { queryPlanner?: { Plan?: string[] } };
  return (e.queryPlanner?.Plan ?? []).join('\n');
}

const ids = (docs: Doc[]) => docs.map((d) => d.n);

test('filters on indexed fields are index searches and return what MongoDB returns', { timeout: 120_000 }, async () => {
  await withCollection(async (c) => {
    const docs: Doc[] = [];
    for (let n = 0; n < 3000; n++) docs.push({ _id: new mongoose.Types.ObjectId(), dialer: `d${n % 3}`, state: n % 2 ? 'ended' : null, n });
    await c.insertMany(docs);
    const mongo = await isMongoDB();

    if (!mongo) {
      assert.match(await plan(c, { dialer: 'd1' }), /SEARCH .* USING INDEX/);
      assert.match(await plan(c, { dialer: 'd1', state: null }), /SEARCH .* USING INDEX/);
      assert.match(await plan(c, { _id: { $in: [docs[5]._id, docs[7]._id] } }), /SEARCH .* USING INDEX/);
      assert.match(await plan(c, { dialer: 'd1', _id: { $gt: docs[10]._id } }), /SEARCH .* USING INDEX/);
      // A field that leads no index is not pushed down: the table is scanned as before.
      assert.match(await plan(c, { n: 5 }), /SCAN/);
    }

    assert.equal(await c.countDocuments({ dialer: 'd1' }), 1000);
    assert.equal((await c.find({ dialer: 'd1', state: null }).toArray()).length, 500);
    assert.equal((await c.find({ dialer: { $in: ['d0', 'd2'] }, state: 'ended' }).toArray()).length, 1000);
    assert.deepEqual(ids(await c.find({ _id: { $in: [docs[5]._id, docs[7]._id] } }).sort({ n: 1 }).toArray()), [5, 7]);

    // An _id range without sort comes in _id order (what a cursor page relies on on FerretDB).
    const page = await c.find({ dialer: 'd2', _id: { $gt: docs[2996]._id } }).toArray();
    assert.deepEqual(ids(page), [2999]);
    const firstPage = await c.find({ dialer: 'd0', _id: { $gt: new mongoose.Types.ObjectId('000000000000000000000000') } }).limit(3).toArray();
    if (!mongo) assert.deepEqual(ids(firstPage), [0, 3, 6]);
    const back = await c.find({ dialer: 'd0', _id: { $lt: docs[9]._id } }).toArray();
    if (!mongo) assert.deepEqual(ids(back), [6, 3, 0]);

    // MongoDB semantics the SQL condition alone would break: an array matches by element, null
    // matches a missing field. Once such a value is stored the field is not pushed down.
    await c.insertOne({ _id: new mongoose.Types.ObjectId(), dialer: ['d1', 'x'], state: 'ended', n: -1 });
    await c.insertOne({ _id: new mongoose.Types.ObjectId(), dialer: 'd1', n: -2 });
    assert.equal(await c.countDocuments({ dialer: 'd1' }), 1002);
    assert.equal(await c.countDocuments({ dialer: 'x' }), 1);
    assert.equal(await c.countDocuments({ dialer: 'd1', state: null }), 501);
    assert.equal(await c.countDocuments({ dialer: 'd1', state: 'ended' }), 501);
    // Strings that JSON escapes are compared as stored.
    await c.insertOne({ _id: new mongoose.Types.ObjectId(), dialer: 'a<b>&"\\\u00e9\u2028', state: 'x', n: -3 });
    assert.deepEqual(ids(await c.find({ dialer: 'a<b>&"\\\u00e9\u2028' }).toArray()), [-3]);
  });
});
