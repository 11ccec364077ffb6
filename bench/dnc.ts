// What the compliance checks cost each originate as the do-not-call list grows (README "Compliance"):
// a listed and an unlisted number looked up (`DoNotCall.find`, one `_id` read) and a contact-cap place
// taken (`ContactCounts.take`), on FerretDB v1 with lists of the given sizes in the same domain.
//   npx tsx bench/dnc.ts [--sizes 0,10000,100000]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { randomUUID } from 'node:crypto';
import { connectMongo } from '../lib/db';
import { ContactCounts, DoNotCall } from '../models/compliance';
import { startFerret } from '../scripts/servers';
import { arg } from './lib/stack';
import { medianMs } from './lib/util';

async function main(): Promise<void> {
  const sizes = arg('--sizes', '0,10000,100000').split(',').map(Number);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialer-bench-dnc-'));
  const ferret = await startFerret({ port: Number(process.env.BENCH_FERRETDB_PORT ?? 27217), dataDir: path.join(dir, 'ferret'), logDir: path.join(dir, 'logs') });
  try {
    await connectMongo(`${ferret.uri}dnc`);
    let have = 0;
    console.log('| listed numbers | lookup, listed | lookup, not listed | contact-cap place |');
    console.log('|---|---|---|---|');
    for (const n of sizes) {
      for (; have < n; have += 1000) {
        await DoNotCall.addMany('acme', Array.from({ length: Math.min(1000, n - have) }, (_, i) => ({ number: String(380500000000 + have + i) })));
      }
      const listed = n > 0 ? String(380500000000 + Math.floor(n / 2)) : '380500000000';
      const hit = await medianMs(() => DoNotCall.find('acme', listed), 21);
      const miss = await medianMs(() => DoNotCall.find('acme', '12345678901'), 21);
      const take = await medianMs(() => ContactCounts.take('acme', `3806${n}`, randomUUID(), Date.now(), { attempts: 1000, windowSec: 86400 }), 21);
      console.log(`| ${n} | ${hit.toFixed(1)} ms | ${miss.toFixed(1)} ms | ${take.toFixed(1)} ms |`);
    }
  } finally {
    await mongoose.disconnect();
    await ferret.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
