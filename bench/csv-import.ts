// CSV import benchmark (issue 4; not a timed test):
//   npx tsx bench/csv-import.ts [--rows 1000000] [--keep] [--node-flags=<flags of the API process>]
// Generates a CSV of N rows (two numbers each), then in one run:
//   1. import: POSTs the file through HTTP to the real import route (api/app.ts, run with tsx in a
//      child process, bench/import-server.ts), which decodes, parses, normalises to E.164, checks
//      duplicates and inserts in batches (of 250, api/csv-import.ts);
//   2. baseline: inserts the same member documents, already built, with insertMany in batches of
//      1000 (only the insertMany calls are timed).
// Prints rows/s of both, their ratio (goal ≥ 0.7) and the peak RSS of the
// API process during the import (goal ≤ 300 MB; VmHWM of the child process running the app).
// Uses MONGODB_URI if set, else starts its own FerretDB on a free port.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import mongoose from 'mongoose';
import { memberDocument } from '../api/member-docs';
import { Campaign, Member } from '../models';
import { createCredential } from '../models/credential';
import { benchDatabase } from './lib/stack';
import { arg, mb, vmBytes } from './lib/util';

const BATCH = 1000;

/** `--name value` or `--name=value`. */
/** Row i: two distinct valid Ukrainian mobile numbers (050… and 067…), a name, a priority, a variable. */
function row(i: number): { name: string; priority: number; n1: string; n2: string; debt: number } {
  const s = String(i).padStart(7, '0');
  return { name: `Member ${i}`, priority: i % 10, n1: `+38050${s}`, n2: `+38067${s}`, debt: (i * 37) % 100000 };
}

async function writeCsv(file: string, rows: number): Promise<number> {
  const out = fs.createWriteStream(file);
  out.write('Name,Priority,number_1,description_1,number_2,debt\n');
  for (let i = 0; i < rows; i++) {
    const r = row(i);
    if (!out.write(`${r.name},${r.priority},${r.n1},mobile,${r.n2},${r.debt}\n`)) await new Promise<void>((res) => out.once('drain', () => res()));
  }
  await new Promise<void>((res) => out.end(() => res()));
  return fs.statSync(file).size;
}

async function main(): Promise<void> {
  const rows = Number(arg('--rows', '1000000'));
  // Node flags for the API process, e.g. --node-flags=--max-old-space-size=160
  const nodeFlags = arg('--node-flags', '').split(' ').filter(Boolean);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialer-bench-'));
  const { uri, ferret } = await benchDatabase(dir, 'bench');
  try {
    const file = path.join(dir, 'members.csv');
    const size = await writeCsv(file, rows);
    console.log(`generated ${rows} rows, ${mb(size)} (${file}); database ${uri}`);

    // The API runs as a child process (bench/import-server.ts) so its peak RSS (VmHWM) is its own.
    const server = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', path.join(__dirname, 'import-server.ts')], {
      env: { ...process.env, MONGODB_URI: uri },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (b) => {
        if (out.includes('PORT ')) return void process.stdout.write(b); // e.g. --trace-gc output
        out += b;
        const m = /PORT (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      server.once('exit', (c) => reject(new Error(`import server exited (${c})`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const cred = await createCredential({ domain: 'bench' });
    const d1 = await Campaign.create({ domain: 'bench', name: 'import', type: 'Voice Broadcasting' });
    const d2 = await Campaign.create({ domain: 'bench', name: 'baseline', type: 'Voice Broadcasting' });

    const rssBefore = vmBytes(server.pid!, 'VmRSS');
    const t0 = performance.now();
    const res = await fetch(`${base}/api/v2/dialer/${d1._id}/members/import`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/csv', 'X-Key': cred.key, 'X-Access-Token': cred.secret },
      // A Node stream is an async iterable: fetch pulls from it (Readable.toWeb would buffer the whole file).
      body: fs.createReadStream(file, { highWaterMark: 256 * 1024 }) as unknown as RequestInit['body'],
      duplex: 'half',
    } as RequestInit & { duplex: 'half' });
    const report = (await res.json()) as { status: string; data: { imported: number; rejected: number }; info?: string };
    const importSec = (performance.now() - t0) / 1000;
    const peak = vmBytes(server.pid!, 'VmHWM');
    server.kill('SIGTERM');
    if (report.status !== 'OK') throw new Error(`import failed: ${res.status} ${report.info}`);
    console.log(`import:   ${report.data.imported} rows in ${importSec.toFixed(1)} s = ${Math.round(report.data.imported / importSec)} rows/s (rejected ${report.data.rejected}); API process peak RSS ${mb(peak)} (idle ${mb(rssBefore)})${nodeFlags.length ? ` with ${nodeFlags.join(' ')}` : ''}`);

    // Baseline: the same documents, built outside the timed part, inserted with insertMany.
    let insertMs = 0;
    for (let i = 0; i < rows; i += BATCH) {
      const docs = [];
      for (let j = i; j < Math.min(rows, i + BATCH); j++) {
        const r = row(j);
        docs.push(
          memberDocument(
            { name: r.name, priority: r.priority, variables: { debt: String(r.debt) }, communications: [{ number: r.n1, description: 'mobile' }, { number: r.n2 }] },
            String(d2._id),
            'bench',
          ),
        );
      }
      const t = performance.now();
      await Member.collection.insertMany(docs, { ordered: true });
      insertMs += performance.now() - t;
    }
    const baseRate = rows / (insertMs / 1000);
    const importRate = report.data.imported / importSec;
    console.log(`baseline: ${rows} rows in ${(insertMs / 1000).toFixed(1)} s = ${Math.round(baseRate)} rows/s (insertMany of pre-built documents, batches of ${BATCH})`);
    console.log(`ratio import/baseline = ${(importRate / baseRate).toFixed(2)} (goal ≥ 0.7); peak RSS during import ${mb(peak)} (goal ≤ 300 MB)`);
    console.log(
      JSON.stringify({ rows, csvBytes: size, importSec: +importSec.toFixed(1), importRowsPerSec: Math.round(importRate), baselineSec: +(insertMs / 1000).toFixed(1), baselineRowsPerSec: Math.round(baseRate), ratio: +(importRate / baseRate).toFixed(2), peakRssMB: Math.round(peak / 1024 / 1024) }),
    );
  } finally {
    await mongoose.disconnect().catch(() => undefined);
    if (ferret) await ferret.stop();
    if (!process.argv.includes('--keep')) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
