// CSV export benchmark (not a timed test):
//   npx tsx bench/csv-export.ts [--rows 1000000] [--columns Name,number_1,…] [--keep] [--node-flags=<flags of the API process>]
// Inserts N members (two numbers and two variables each, pre-built documents, insertMany), then
// downloads GET /api/v2/dialer/:id/members/export through HTTP from the real app (api/app.ts in a
// child process, bench/import-server.ts), counting bytes and lines without keeping them. Prints
// rows/s, MB/s and the API process's peak RSS during the export (VmHWM): it should not grow with N.
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

async function main(): Promise<void> {
  const rows = Number(arg('--rows', '1000000'));
  const nodeFlags = arg('--node-flags', '').split(' ').filter(Boolean);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialer-bench-'));
  const { uri, ferret } = await benchDatabase(dir, 'bench_export');
  try {
    const dialer = await Campaign.create({ domain: 'bench', name: 'export', type: 'Voice Broadcasting' });
    const id = String(dialer._id);
    const t0 = performance.now();
    for (let i = 0; i < rows; i += BATCH) {
      const docs = [];
      for (let j = i; j < Math.min(rows, i + BATCH); j++) {
        const s = String(j).padStart(7, '0');
        docs.push(memberDocument({ name: `Member ${j}`, priority: j % 10, variables: { debt: String(j % 100000), note: 'call after 6, "ask for Ivan"' }, communications: [{ number: `+38050${s}`, description: 'mobile' }, { number: `+38067${s}` }] }, id, 'bench'));
      }
      await Member.collection.insertMany(docs, { ordered: true });
    }
    console.log(`inserted ${rows} members in ${((performance.now() - t0) / 1000).toFixed(1)} s; database ${uri}`);

    const server = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', path.join(__dirname, 'import-server.ts')], {
      env: { ...process.env, MONGODB_URI: uri },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (b) => {
        out += b;
        const m = /PORT (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      server.once('exit', (c) => reject(new Error(`API server exited (${c})`)));
    });
    const cred = await createCredential({ domain: 'bench' });
    const rssBefore = vmBytes(server.pid!, 'VmRSS');
    const t1 = performance.now();
    const columns = arg('--columns', '');
    const qs = columns ? `?columns=${encodeURIComponent(columns)}` : '';
    const res = await fetch(`http://127.0.0.1:${port}/api/v2/dialer/${id}/members/export${qs}`, { headers: { 'X-Key': cred.key, 'X-Access-Token': cred.secret } });
    if (res.status !== 200) throw new Error(`export failed: ${res.status} ${await res.text()}`);
    let bytes = 0;
    let lines = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      for (const b of chunk) if (b === 10) lines += 1;
    }
    const sec = (performance.now() - t1) / 1000;
    const peak = vmBytes(server.pid!, 'VmHWM');
    server.kill('SIGTERM');
    if (lines !== rows + 1) throw new Error(`export has ${lines} lines, expected ${rows + 1}`);
    console.log(`export${columns ? ` of ${columns}` : ' (default columns: two passes)'}: ${rows} rows, ${mb(bytes)} in ${sec.toFixed(1)} s = ${Math.round(rows / sec)} rows/s; API process peak RSS ${mb(peak)} (idle ${mb(rssBefore)})`);
    console.log(JSON.stringify({ rows, csvBytes: bytes, exportSec: +sec.toFixed(1), rowsPerSec: Math.round(rows / sec), peakRssMB: Math.round(peak / 1048576), idleRssMB: Math.round(rssBefore / 1048576) }));
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
