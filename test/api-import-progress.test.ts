// A CSV import's progress resource (POST …/members/import?importId=…, GET …/members/import/<id>):
// rows stored while the upload is still running, the final report, failures, domains and bad ids;
// and the import-csv command drawing its bar from that resource.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startApi, type ApiHarness, type Cred } from './api-support';
import { waitFor } from './support/env';

let h: ApiHarness;
let acme: Cred;
let other: Cred;

before(async () => {
  h = await startApi('api_import_progress');
  acme = await h.credential('acme');
  other = await h.credential('other');
});
after(async () => {
  await h?.close();
});

const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => `M${from + i},10055${String(from + i).padStart(5, '0')}\n`).join('');

function post(dialer: string, qs: string, body: string | ReadableStream<Uint8Array>, cred: Cred = acme) {
  return fetch(`${h.base}/api/v2/dialer/${dialer}/members/import?${qs}`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/csv', 'X-Key': cred.key, 'X-Access-Token': cred.secret },
    body,
    duplex: 'half',
  } as RequestInit & { duplex: 'half' }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
}

test('progress counts rows stored while the upload is still open, then holds the final report', async () => {
  const d = await h.createDialer(acme);
  let release!: () => void;
  const rest = new Promise<void>((r) => (release = r));
  // 600 rows (two batches of 250 stored), then the upload waits until the test has seen them.
  const body = new ReadableStream<Uint8Array>({
    async start(c) {
      c.enqueue(new TextEncoder().encode(`Name,number_1\n${rows(0, 600)}bad,\n`));
      await rest;
      c.enqueue(new TextEncoder().encode(rows(600, 100)));
      c.close();
    },
  });
  const done = post(d, 'importId=progress_test_1&normalize=none', body);
  const mid = await waitFor('250 rows stored', async () => {
    const r = await h.req('GET', `/api/v2/dialer/${d}/members/import/progress_test_1`, { cred: acme });
    return r.status === 200 && r.body.data.rowsStored >= 250 ? r.body.data : null;
  });
  assert.equal(mid.state, 'running');
  assert.equal(mid.importId, 'progress_test_1');
  assert.ok(mid.rowsStored <= 500 && mid.rowsRead >= mid.rowsStored, JSON.stringify(mid));
  assert.equal(mid.finishedAt, undefined);
  assert.ok(Date.parse(mid.startedAt) <= Date.now());
  release();
  const res = await done;
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.data.imported, 700, 'the response is the import report, as without importId');

  const end = (await h.req('GET', `/api/v2/dialer/${d}/members/import/progress_test_1`, { cred: acme })).body.data;
  assert.equal(end.state, 'done');
  assert.deepEqual([end.rowsRead, end.rowsStored, end.rowsRejected], [701, 700, 1]);
  assert.deepEqual(end.errors, [{ row: 602, reason: 'no number: every number_N column is empty' }]);
  assert.deepEqual(end.report, res.body.data);
  assert.ok(Date.parse(end.finishedAt) >= Date.parse(end.startedAt));
});

test('a failed import is state failed with the reason; ids are checked, reused ids refused, other domains see 404', async () => {
  const d = await h.createDialer(acme);
  const bad = await post(d, 'importId=failed_import_1', 'Name,phone\nIvan,1\n');
  assert.equal(bad.status, 400);
  const f = (await h.req('GET', `/api/v2/dialer/${d}/members/import/failed_import_1`, { cred: acme })).body.data;
  assert.equal(f.state, 'failed');
  assert.equal(f.report.status, 400);
  assert.match(f.report.error, /number/);

  const again = await post(d, 'importId=failed_import_1&normalize=none', 'Name,number_1\nIvan,1005550101\n');
  assert.equal(again.status, 409);
  assert.match(again.body.info, /importId/);
  for (const id of ['short', 'has space!x', 'x'.repeat(65)]) {
    const r = await post(d, `importId=${encodeURIComponent(id)}`, 'Name,number_1\nIvan,1005550101\n');
    assert.equal(r.status, 400, id);
    assert.match(r.body.info, /^importId: /);
  }
  assert.equal((await h.req('GET', `/api/v2/dialer/${d}/members/import/${encodeURIComponent('bad id!')}`, { cred: acme })).status, 400);

  // Another domain: its own dialer does not show acme's import, acme's dialer is not found.
  const od = await h.createDialer(other);
  assert.equal((await h.req('GET', `/api/v2/dialer/${od}/members/import/failed_import_1`, { cred: other })).status, 404);
  assert.equal((await h.req('GET', `/api/v2/dialer/${d}/members/import/failed_import_1`, { cred: other })).status, 404);
  // The same id in another domain is its own import.
  const mine = await post(od, 'importId=failed_import_1&normalize=none', 'Name,number_1\nIvan,1005550101\n', other);
  assert.equal(mine.status, 200, JSON.stringify(mine.body));
  // Another dialer of the same domain does not show it either; without an importId nothing is kept.
  const d2 = await h.createDialer(acme);
  assert.equal((await h.req('GET', `/api/v2/dialer/${d2}/members/import/failed_import_1`, { cred: acme })).status, 404);
});

test('import-csv draws its bar from the rows stored the API reports for its importId', { timeout: 60_000 }, async () => {
  // A stand-in API: the upload answers after 3 s; the progress resource reports more rows each poll.
  const seen: string[] = [];
  let polls = 0;
  const srv = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.method === 'GET') {
      polls++;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'OK', data: { state: 'running', rowsRead: 2 * polls, rowsStored: polls, rowsRejected: polls - 1 } }));
      return;
    }
    req.resume();
    req.on('end', () => setTimeout(() => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'OK', data: { rows: 9, imported: 8, rejected: 1, duplicates: 0, deletedBefore: 0, errors: [], errorsTruncated: false, durationMs: 3000 } }));
    }, 3500));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'imp-')), 'm.csv');
  fs.writeFileSync(file, `Name,number_1\n${rows(0, 9)}`);
  try {
    const root = path.resolve(__dirname, '..');
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'import-csv.ts'), '--dialer', 'd1', '--normalize', 'none', file],
        { cwd: root, env: { ...process.env, API_URL: url, DIALER_KEY: 'k', DIALER_SECRET: 's' }, timeout: 30_000 },
        (err, _out, stderr) => resolve({ code: err ? 1 : 0, stderr }));
    });
    assert.equal(r.code, 0, r.stderr);
    const postUrl = seen.find((s) => s.startsWith('POST'))!;
    const id = /importId=([A-Za-z0-9_-]+)/.exec(postUrl)?.[1];
    assert.ok(id && id.length >= 8, postUrl);
    assert.ok(seen.some((s) => s === `GET /api/v2/dialer/d1/members/import/${id}`), seen.join('\n'));
    // Non-TTY: a line every ~2 s from the polled rows stored, then the final line from the report.
    assert.match(r.stderr, /rows stored [1-9]\d* of ~9, rejected \d+/);
    assert.match(r.stderr, /\[#{30}\] 100%\s+rows stored 8 of ~9, rejected 1/);
  } finally {
    await new Promise((r) => srv.close(r));
  }
});
