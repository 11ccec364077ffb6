// The operator commands as a new user meets them: --help prints the usage and exits 0, a wrong
// command line exits 2, and a server that is down gets a message naming the address and what to do
// (not a bare `fetch failed` / `connect ECONNREFUSED`). The import command prints the API's
// message whole and says how to keep numbers that are not real phone numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..');
const csv = path.join(root, 'examples', 'members.csv');

function run(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', script), ...args],
      { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

/** A stand-in API answering every request with `status` and `body` (after reading the upload). */
async function fakeApi(status: number, body: unknown): Promise<{ url: string; close: () => Promise<void> }> {
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => srv.close(() => r())) };
}

const creds = { DIALER_KEY: 'k', DIALER_SECRET: 's' };

test('credentials --help: usage on stdout, exit 0', async () => {
  for (const args of [['--help'], ['-h'], ['create', '--help']]) {
    const r = await run('credentials.ts', args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /usage:\n\s+credentials create/);
    assert.equal(r.stderr, '');
  }
});

test('credentials: an unknown command, option or argument exits 2 with the usage', async () => {
  for (const args of [[], ['bogus'], ['create', '--domain', 'd', '--bogus'], ['list', 'extra'], ['revoke', 'a', 'b'], ['create'], ['toString']]) {
    const r = await run('credentials.ts', args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /usage:/);
  }
});

test('credentials with MongoDB down: names the URI and says to run npm start or set MONGODB_URI', async () => {
  const port = await closedPort();
  const r = await run('credentials.ts', ['list'], { MONGODB_URI: `mongodb://user:pw@127.0.0.1:${port}/dialer` });
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`cannot reach MongoDB at mongodb://user:\\*\\*\\*@127\\.0\\.0\\.1:${port}/dialer: start the stack with \`npm start\``));
  assert.match(r.stderr, /MONGODB_URI/);
  assert.doesNotMatch(r.stderr, /pw/, 'the password is not printed');
});

test('import-csv --help: usage on stdout, exit 0; a wrong command line exits 2', async () => {
  const h = await run('import-csv.ts', ['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /usage: import-csv --dialer/);
  assert.match(h.stdout, /--normalize none/);
  const bad = await run('import-csv.ts', ['--dialer', 'd', '--bogus', csv], creds);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown option --bogus/);
});

test('import-csv with the API down: names the URL and says to run npm start or set API_URL', async () => {
  const port = await closedPort();
  const r = await run('import-csv.ts', ['--dialer', 'd', csv], { ...creds, API_URL: `http://127.0.0.1:${port}` });
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`cannot reach the API at http://127\\.0\\.0\\.1:${port}: is \`npm start\` running\\?`));
  assert.match(r.stderr, /API_URL/);
});

test("import-csv prints the API's refusal whole", async () => {
  const info = 'no number column: the mapping or header needs at least one number_N column (the header row has 1 column; is the file separated by ";"? pass separator=;)';
  const api = await fakeApi(400, { status: 'error', info });
  try {
    const r = await run('import-csv.ts', ['--dialer', 'd', csv], { ...creds, API_URL: api.url });
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`HTTP 400 from ${api.url}: ${info}`), r.stderr);
    assert.doesNotMatch(r.stderr, /--separator/, 'a comma file gets no separator hint');
    const semi = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cli-')), 'semi.csv');
    fs.writeFileSync(semi, 'Name;number_1\nIvan;1005550101\n');
    const s = await run('import-csv.ts', ['--dialer', 'd', semi], { ...creds, API_URL: api.url });
    assert.equal(s.code, 1);
    assert.match(s.stderr, /the first line has no "," but has ";": try --separator ';'/);
  } finally {
    await api.close();
  }
});

test('import-csv: rows rejected as invalid numbers get a hint about --region and --normalize none', async () => {
  const report = {
    rows: 2, imported: 0, rejected: 2, duplicates: 0, deletedBefore: 0, errorsTruncated: false, durationMs: 3,
    errors: [{ line: 2, reason: 'number_1: "1005550101" is not a valid phone number (no default region: give the country code or pass region=; normalize=none keeps numbers as written)' }],
  };
  const api = await fakeApi(200, { status: 'OK', data: report });
  try {
    const r = await run('import-csv.ts', ['--dialer', 'd', csv], { ...creds, API_URL: api.url });
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout), report);
    assert.match(r.stderr, /--normalize none/);
    assert.match(r.stderr, /--region CC/);
    // Asked for already: no hint.
    const none = await run('import-csv.ts', ['--dialer', 'd', '--normalize', 'none', csv], { ...creds, API_URL: api.url });
    assert.doesNotMatch(none.stderr, /hint:/);
  } finally {
    await api.close();
  }
});
