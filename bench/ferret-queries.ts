// What a query shape costs on FerretDB v1 (SQLite) as the members collection grows — the evidence
// behind the dispatch design (docs/architecture.md, "Dispatch design"). FerretDB 1.24 pushes down to
// SQLite only a filter that is exactly `{_id: <value>}` (and LIMIT when there is no filter and no
// sort); every other filter is evaluated, and every sort done, in FerretDB after reading and decoding
// the whole table, so indexes are never used for them.
//   npx tsx bench/ferret-queries.ts [--sizes 1000,10000,50000]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { memberDocument } from '../api/member-docs';
import { connectMongo } from '../lib/db';
import { Member } from '../models';
import { startFerret } from '../scripts/servers';
import { arg } from './lib/stack';
import { medianMs } from './lib/util';

async function main(): Promise<void> {
  const sizes = arg('--sizes', '1000,10000,50000').split(',').map(Number);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialer-bench-ferret-'));
  const ferret = await startFerret({ port: Number(process.env.BENCH_FERRETDB_PORT ?? 27217), dataDir: path.join(dir, 'ferret'), logDir: path.join(dir, 'logs') });
  try {
    await connectMongo(`${ferret.uri}probe`);
    await Member.init();
    const campaign = 'c'.repeat(24);
    let have = 0;
    let lastId: unknown = null;
    const rows: string[] = [];
    for (const n of sizes) {
      while (have < n) {
        const docs = [];
        for (let j = have; j < Math.min(n, have + 5000); j++) {
          docs.push(memberDocument({ name: `M ${j}`, priority: j % 10, communications: [{ number: `38050${String(j).padStart(7, '0')}` }] }, campaign, 'probe.local'));
        }
        await Member.collection.insertMany(docs);
        lastId = docs[docs.length - 1]._id;
        have += docs.length;
      }
      const some = await Member.findOne({}, { _id: 1 }).lean<{ _id: mongoose.Types.ObjectId }>();
      const id = some!._id;
      const now = Date.now();
      const ready = { dialer: campaign, _endCause: null, _lock: null, _dispatch: null, _waitingForResultStatusCb: null, $or: [{ _readyAt: null }, { _readyAt: { $lte: now } }] };
      const r = {
        byId: await medianMs(() => Member.findById(id).lean(), 3),
        byIdLast: await medianMs(() => Member.findById(lastId).lean(), 3),
        updateById: await medianMs(() => Member.updateOne({ _id: id }, { $set: { lastModified: Date.now() } }), 3),
        updateByIdAndField: await medianMs(() => Member.updateOne({ _id: id, _dispatch: null }, { $set: { lastModified: Date.now() } }), 3),
        limitNoFilter: await medianMs(() => Member.find({}, { _id: 1 }).limit(100).lean(), 3),
        dialerEq: await medianMs(() => Member.find({ dialer: campaign }, { _id: 1 }).limit(100).lean(), 1),
        readyNoSort: await medianMs(() => Member.findOne(ready, { _id: 1 }).lean(), 1),
        scanNoMatch: await medianMs(() => Member.findOne({ dialer: 'none' }, { _id: 1 }).lean(), 1),
        updateIdAndFieldNoMatch: await medianMs(() => Member.updateOne({ _id: lastId, _dispatch: 'x' }, { $set: { lastModified: 1 } }), 1),
        readyAllStreamed: await medianMs(async () => {
          for await (const d of Member.find(ready, { _nextTryTime: 1, priority: 1 }).lean().cursor({ batchSize: 2000 })) void d;
        }, 1),
        readySorted: await medianMs(() => Member.findOne(ready, { _id: 1 }).sort({ _nextTryTime: -1, priority: -1, _id: 1 }).lean(), 1),
      };
      const line = `${n}\t${Object.entries(r).map(([k, v]) => `${k}=${v.toFixed(1)}`).join('\t')}`;
      console.log(line);
      rows.push(line);
    }
    console.log('\n| members | ' + ['findById (first row)', 'findById (last row)', 'updateOne {_id}', 'updateOne {_id, _dispatch}', 'find({}).limit(100)', 'find({dialer}).limit(100)', 'claim filter, no sort (first row matches)', 'filter matching nothing (full decode)', 'updateOne {_id, _dispatch} (last row)', 'claim filter streamed, all rows', 'claim filter + sort'].join(' | ') + ' |');
    for (const l of rows) {
      const [n, ...v] = l.split('\t');
      console.log(`| ${n} | ${v.map((x) => `${x.split('=')[1]} ms`).join(' | ')} |`);
    }
  } finally {
    await mongoose.disconnect();
    await ferret.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
