// CSV import through HTTP (spec §10): row report with line numbers and reasons, E.164
// normalisation, duplicates within the file and the campaign, v3 column mapping, separators and
// charsets, delete-existing, recovery from broken quoting, and the CLI wrapper.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NumberIndex } from '../api/csv-import';
import { detectSeparator, MAX_RECORD_CHARS, readCsv, type CsvItem } from '../api/csv';
import { Campaign, Member } from '../models';
import { dialerBody, startApi, type ApiHarness, type Cred } from './api-support';

let h: ApiHarness;
let acme: Cred;
let other: Cred;
const EXAMPLE = fs.readFileSync(path.join(__dirname, '..', 'examples', 'members.csv'));

before(async () => {
  h = await startApi('api_csv_test');
  acme = await h.credential('acme');
  other = await h.credential('other');
});
after(async () => {
  await h?.close();
});

async function upload(dialer: string, body: string | Buffer, qs = '', cred: Cred | null = acme, type = 'text/csv') {
  const headers: Record<string, string> = { 'Content-Type': type };
  if (cred) Object.assign(headers, { 'X-Key': cred.key, 'X-Access-Token': cred.secret });
  const r = await fetch(`${h.base}/api/v2/dialer/${dialer}/members/import${qs ? `?${qs}` : ''}`, { method: 'POST', headers, body });
  return { status: r.status, body: (await r.json()) as any };
}

test('the example file: accepted rows stored in E.164, each rejected row reported with its line and reason', async () => {
  const d = await h.createDialer(acme);
  const r = await upload(d, EXAMPLE);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(
    { rows: r.body.data.rows, imported: r.body.data.imported, rejected: r.body.data.rejected, duplicates: r.body.data.duplicates },
    { rows: 7, imported: 4, rejected: 3, duplicates: 1 },
  );
  assert.deepEqual(r.body.data.errors, [
    { line: 5, reason: 'number_1: "12ab" is not a valid phone number (no default region: give the country code or pass region=; normalize=none keeps numbers as written)' },
    { line: 6, reason: 'duplicate number +380501112233 (line 2)' },
    { line: 7, reason: 'no number: every number_N column is empty' },
  ]);
  const ivan = (await Member.findOne({ dialer: d, name: 'Ivan Petrenko' }).lean()) as any;
  assert.equal(ivan.priority, 5);
  assert.deepEqual(ivan.communications.map((c: any) => [c.number, c.priority, c.description, c.type, c.state]), [
    ['+380501112233', 1, 'mobile', '1', 0],
    ['+380441234567', 0, 'office', null, 0],
  ]);
  assert.deepEqual(ivan.variables, { debt: '20000', language: 'uk' });
  assert.equal(ivan.expire, Date.UTC(2030, 11, 31, 18, 0));
  assert.equal(ivan._endCause, null);
  const anna = (await Member.findOne({ dialer: d, name: 'Anna Kowalska' }).lean()) as any;
  assert.equal(anna.communications[0].number, '+48512345678');
  assert.ok(await Member.exists({ dialer: d, name: 'Smith, John' }));
  const multi = (await Member.findOne({ dialer: d, name: 'Multi-line "quoted" note' }).lean()) as any;
  assert.equal(multi.communications[0].description, 'line one\nline two');
  assert.equal(await Member.countDocuments({ dialer: d }), 4);
});

test('duplicates: the campaign scope rejects numbers already there; the file scope only repeats in the file', async () => {
  const d = await h.createDialer(acme);
  const csv = 'Name,number_1\na,+380501112233\nb,+380501112244\n';
  assert.equal((await upload(d, csv)).body.data.imported, 2);
  const again = await upload(d, `${csv}c,+380501112255\n`);
  assert.equal(again.body.data.imported, 1);
  assert.deepEqual(again.body.data.errors, [
    { line: 2, reason: 'duplicate number +380501112233 (already in the campaign)' },
    { line: 3, reason: 'duplicate number +380501112244 (already in the campaign)' },
  ]);
  const fileScope = await upload(d, 'Name,number_1\na,+380501112233\nb,+380501112233\n', 'dedupe=file');
  assert.equal(fileScope.body.data.imported, 1);
  assert.deepEqual(fileScope.body.data.errors, [{ line: 3, reason: 'duplicate number +380501112233 (line 2)' }]);
  const within = await upload(d, 'Name,number_1,number_2\nx,+380501119999,00380501119999\n', 'dedupe=none');
  assert.deepEqual(within.body.data.errors, [{ line: 2, reason: 'number_2: +380501119999 repeats number_1' }]);
});

test('duplicates across insert batches: a repeat hundreds of rows later is reported with the first line', async () => {
  const d = await h.createDialer(acme);
  const rows = Array.from({ length: 600 }, (_, i) => `m${i},+38050${String(1000000 + i)}`);
  rows[589] = 'again,+380501000000';
  const r = await upload(d, `Name,number_1\n${rows.join('\n')}\n`, 'dedupe=file');
  assert.equal(r.body.data.imported, 599, JSON.stringify(r.body.data.errors));
  assert.deepEqual(r.body.data.errors, [{ line: 591, reason: 'duplicate number +380501000000 (line 2)' }]);
  assert.equal(await Member.countDocuments({ dialer: d }), 599);
});

test('NumberIndex: lines of numbers in the sorted part and in the recent part, overwrites, long and leading-zero keys', () => {
  const idx = new NumberIndex();
  const n = NumberIndex.RECENT * 3 + 17;
  // A scrambled order, so merges interleave with what is already sorted.
  const num = (i: number) => `+38067${String((i * 7919) % n).padStart(7, '0')}`;
  for (let i = 0; i < n; i++) {
    assert.equal(idx.get(num(i)), undefined);
    idx.set(num(i), i + 2);
  }
  assert.equal(idx.size, n);
  for (let i = 0; i < n; i += 97) assert.equal(idx.get(num(i)), i + 2, num(i));
  assert.equal(idx.get(num(n - 1)), n + 1, 'the last number, still in the recent part');
  assert.equal(idx.get('+380679999999'), undefined);
  idx.set(num(5), 0); // already there (sorted part): overwritten, not added
  idx.set(num(n - 1), 0); // recent part
  assert.equal(idx.get(num(5)), 0);
  assert.equal(idx.get(num(n - 1)), 0);
  assert.equal(idx.size, n);
  idx.set('12', 3);
  assert.equal(idx.get('012'), undefined, '"012" and "12" are different numbers');
  idx.set('1234567890123456789', 4); // more than 15 digits: kept as a string
  assert.equal(idx.get('1234567890123456789'), 4);
  assert.equal(idx.get('1234567890123456788'), undefined);
});

test('readCsv: the same records whatever the chunk boundaries (BOM, CRLF, split characters, quoted lines, a too-long line)', async () => {
  async function read(csv: string, size: number): Promise<CsvItem[]> {
    const bytes = Buffer.from(csv);
    async function* chunks() {
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    }
    const items: CsvItem[] = [];
    for await (const records of readCsv(chunks(), { delimiter: ',', charset: 'utf-8' })) for (const item of records) items.push(item);
    return items;
  }
  const csv = '\ufeffName,number_1\r\n"Олена ""О"", 2",+380501110001\r\n\r\n"two\r\nlines",+380501110002\n"open,+380501110003\nok,+380501110004\n';
  const expected: CsvItem[] = [
    { line: 1, fields: ['Name', 'number_1'] },
    { line: 2, fields: ['Олена "О", 2', '+380501110001'] },
    { line: 4, fields: ['two\nlines', '+380501110002'] },
    { line: 6, error: 'quoted field not closed' },
    { line: 7, fields: ['ok', '+380501110004'] },
  ];
  for (const size of [1, 2, 3, 7, 64, 65536]) assert.deepEqual(await read(csv, size), expected, `chunks of ${size} bytes`);
  // A line longer than 4 × MAX_RECORD_CHARS arriving in several chunks is reported and skipped; reading goes on after it.
  const long = `${csv}${'x'.repeat(MAX_RECORD_CHARS * 4 + 70000)}\r\nlast,+380501110005`;
  const tail: CsvItem[] = [{ line: 8, error: `line longer than ${MAX_RECORD_CHARS * 4} characters` }, { line: 9, fields: ['last', '+380501110005'] }];
  for (const size of [4096, 65536]) assert.deepEqual(await read(long, size), [...expected, ...tail], `chunks of ${size} bytes`);
});

test('separator detection: the most frequent of , ; TAB outside quotes in the first non-empty line, whatever the chunks', async () => {
  assert.equal(detectSeparator('Name;number_1;Expire'), ';');
  assert.equal(detectSeparator('"Smith, John, Jr";+380501110001;x'), ';', 'commas inside quotes do not count');
  assert.equal(detectSeparator('Name\tnumber_1'), '\t');
  assert.equal(detectSeparator('a,b;c'), ',', 'a tie keeps ,');
  assert.equal(detectSeparator('Name'), ',');
  const csv = Buffer.from('\ufeff\r\n"Name; the full one";number_1\r\nx;+380501110001\r\n');
  for (const size of [1, 2, 5, 64]) {
    async function* chunks() {
      for (let i = 0; i < csv.length; i += size) yield csv.subarray(i, i + size);
    }
    const items: CsvItem[] = [];
    let separator: string | null = null;
    for await (const reader of readCsv(chunks(), { charset: 'utf-8' })) {
      for (const item of reader) items.push(item);
      separator = reader.delimiter;
    }
    assert.equal(separator, ';', `chunks of ${size}`);
    assert.deepEqual(items, [{ line: 2, fields: ['Name; the full one', 'number_1'] }, { line: 3, fields: ['x', '+380501110001'] }], `chunks of ${size}`);
  }
});

test('default region, explicit mapping without header, separator and charset', async () => {
  const d = await h.createDialer(acme);
  const r = await upload(d, 'Олена;050 111 22 33;15-01-2031 10:00\nБогдан;(044) 123-45-67;\nX;123;\n', 'region=UA&separator=%3B&mapping=Name,number_1,Expire&skipHeader=false');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.data.imported, 2);
  assert.deepEqual(r.body.data.errors, [{ line: 3, reason: 'number_1: "123" is not a valid phone number (default region UA; normalize=none keeps numbers as written)' }]);
  const olena = (await Member.findOne({ dialer: d, name: 'Олена' }).lean()) as any;
  assert.equal(olena.communications[0].number, '+380501112233');
  assert.equal(olena.expire, Date.UTC(2031, 0, 15, 10, 0));
  // windows-1251 bytes of "Петро;+380501112200", with a custom Expire format and zone.
  const cp1251 = Buffer.concat([Buffer.from([0xcf, 0xe5, 0xf2, 0xf0, 0xee]), Buffer.from(';+380501112200;2031/02/03 04:05\n')]);
  const r2 = await upload(d, cp1251, 'charset=windows-1251&separator=%3B&mapping=Name,number_1,Expire&expireFormat=YYYY%2FMM%2FDD%20HH%3Amm&timezone=Europe%2FKyiv');
  assert.equal(r2.body.data.imported, 1, JSON.stringify(r2.body));
  const petro = (await Member.findOne({ dialer: d, name: 'Петро' }).lean()) as any;
  assert.ok(petro, 'the windows-1251 name is decoded');
  assert.equal(petro.expire, Date.UTC(2031, 1, 3, 2, 5));
  const tsv = await upload(d, 'Name\tnumber_1\tpriority_1\nT\t+380501112211\tx\n', 'separator=tab');
  assert.deepEqual(tsv.body.data.errors, [{ line: 2, reason: 'priority_1: "x" is not an integer' }]);
  const exp = await upload(d, 'Name,number_1,Expire\nE,+380501112212,tomorrow\n');
  assert.deepEqual(exp.body.data.errors, [{ line: 2, reason: 'Expire: "tomorrow" does not match DD-MM-YYYY HH:mm, DD.MM.YYYY HH:mm or ISO 8601' }]);
});

test('the help page\'s ";" file imports with no separator parameter; a header that cannot be read names the separator and the columns', async () => {
  const d = await h.createDialer(acme);
  // The help page's member (spec §9.3 example): two numbers with priorities, its variables, a v3 Expire.
  const csv =
    'Name;Priority;number_1;priority_1;number_2;priority_2;debt;language;productID;Expire\n' +
    'Ivan Petrenko;0;099998888;1;3434534534534;2;20000;ru;8fd26a17-eb28-4c74-aa6f-a3794f4f466c;31-12-2030 18:00\n' +
    '"Smith, John";3;+14155552671;;;;;en;;\n';
  const r = await upload(d, csv, 'normalize=none');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual([r.body.data.separator, r.body.data.imported, r.body.data.errors], [';', 2, []]);
  const ivan = (await Member.findOne({ dialer: d, name: 'Ivan Petrenko' }).lean()) as any;
  assert.deepEqual(ivan.communications.map((c: any) => [c.number, c.priority]), [['099998888', 1], ['3434534534534', 2]]);
  assert.deepEqual(ivan.variables, { debt: '20000', language: 'ru', productID: '8fd26a17-eb28-4c74-aa6f-a3794f4f466c' });
  assert.equal(ivan.expire, Date.UTC(2030, 11, 31, 18, 0));
  const smith = (await Member.findOne({ dialer: d, name: 'Smith, John' }).lean()) as any;
  assert.deepEqual([smith.priority, smith.variables], [3, { language: 'en' }], 'empty cells set no variable');
  // A separator given wins over detection; a header it cannot split says what it saw.
  const given = await upload(d, csv, 'normalize=none&separator=%2C');
  assert.equal(given.status, 400);
  assert.match(given.body.info, /^mapping: column "Name;Priority;.*\(header row read with separator "," given; 1 column found: "Name;Priority;number_1;priority_1;number_2;priority_2;debt;l…"\)$/);
  const tabs = await upload(d, 'Name\tPhone\nx\t+380501110001\n');
  assert.equal(tabs.status, 400);
  assert.equal(tabs.body.info, 'mapping: at least one number_N column is required (header row read with separator TAB detected from the first line; 2 columns found: "Name", "Phone")');
  assert.equal(await Member.countDocuments({ dialer: d }), 2);
});

test('Expire: DD-MM-YYYY HH:mm and DD.MM.YYYY HH:mm in the campaign calendar\'s zone, ISO 8601 as written; timezone= wins', async () => {
  const created = await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody({ calendar: { timeZone: 'Europe/Kyiv' } }) });
  const d: string = created.body.data.insertedIds[0];
  const csv = 'Name,number_1,Expire\na,+380501114401,15-01-2031 10:00\nb,+380501114402,15.07.2031 10:00\nc,+380501114403,2031-01-15T10:00:00.000Z\nd,+380501114404,32.01.2031 10:00\n';
  const r = await upload(d, csv);
  assert.deepEqual(r.body.data.errors, [{ line: 5, reason: 'Expire: "32.01.2031 10:00" does not match DD-MM-YYYY HH:mm, DD.MM.YYYY HH:mm or ISO 8601' }]);
  const expire = async (name: string) => ((await Member.findOne({ dialer: d, name }).lean()) as any).expire;
  assert.equal(await expire('a'), Date.UTC(2031, 0, 15, 8, 0), 'Kyiv winter time, UTC+2');
  assert.equal(await expire('b'), Date.UTC(2031, 6, 15, 7, 0), 'Kyiv summer time, UTC+3');
  assert.equal(await expire('c'), Date.UTC(2031, 0, 15, 10, 0));
  await upload(d, 'Name,number_1,Expire\ne,+380501114405,15.07.2031 10:00\n', 'timezone=UTC');
  assert.equal(await expire('e'), Date.UTC(2031, 6, 15, 10, 0));
});

test('a broken quote rejects only its own row; the rest of the file is imported', async () => {
  const d = await h.createDialer(acme);
  const csv = 'Name,number_1\n"unterminated,+380501110001\nok1,+380501110002\nbad"close"x,+380501110003\n"bad"close,+380501110004\nok2,+380501110005\n';
  const r = await upload(d, csv);
  assert.equal(r.body.data.imported, 3, JSON.stringify(r.body));
  assert.deepEqual(r.body.data.errors, [
    { line: 2, reason: 'quoted field not closed' },
    { line: 5, reason: 'invalid closing quote in field 1' },
  ]);
  assert.ok(await Member.exists({ dialer: d, name: 'bad"close"x' }), 'quotes inside an unquoted field are literal');
});

test('deleteExisting removes the dialer\'s members first (after the header is accepted)', async () => {
  const d = await h.createDialer(acme);
  await upload(d, 'Name,number_1\nold,+380501113333\n');
  const bad = await upload(d, 'Name,Priority\nx,1\n', 'deleteExisting=true');
  assert.equal(bad.status, 400);
  assert.match(bad.body.info, /^mapping: at least one number_N column is required/);
  assert.equal(await Member.countDocuments({ dialer: d }), 1, 'a rejected file deletes nothing');
  const r = await upload(d, 'Name,number_1\nnew,+380501113333\n', 'deleteExisting=true');
  assert.equal(r.body.data.deletedBefore, 1);
  assert.equal(r.body.data.imported, 1);
  assert.deepEqual((await Member.find({ dialer: d }).lean()).map((m: any) => m.name), ['new']);
});

test('bad requests: content type, parameters, empty file, credentials, other domain', async () => {
  const d = await h.createDialer(acme);
  const cases: [string, number, RegExp][] = [
    ['region=XX', 400, /^region: /],
    ['separator=ab', 400, /^separator: /],
    ['charset=klingon', 400, /^charset: /],
    ['mapping=Name,bogus', 400, /^mapping: "bogus" is not a column/],
    ['mapping=Name,number_101', 400, /^mapping: "number_101": N must be 1…100/],
    ['mapping=Name,number_1,number_1', 400, /appears twice/],
    ['skipHeader=false', 400, /^mapping: required when skipHeader=false/],
    ['normalize=maybe', 400, /^normalize: /],
    ['dedupe=all', 400, /^dedupe: /],
    ['timezone=Nowhere', 400, /^timezone: /],
  ];
  for (const [qs, status, re] of cases) {
    const r = await upload(d, 'Name,number_1\na,+380501110001\n', qs);
    assert.equal(r.status, status, qs);
    assert.match(r.body.info, re, qs);
  }
  assert.equal((await upload(d, 'Name,number_1\n', '', acme, 'application/json')).status, 415);
  assert.match((await upload(d, '')).body.info, /empty/);
  assert.equal((await upload(d, 'Name,number_1\n')).body.data.rows, 0);
  assert.equal((await upload(d, 'Name,number_1\na,+380501110001\n', '', null)).status, 401);
  assert.equal((await upload(d, 'Name,number_1\na,+380501110001\n', '', other)).status, 404);
  assert.equal(await Member.countDocuments({ dialer: d }), 0);
});

function run(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'scripts', 'import-csv.ts'), ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b) => (stdout += b));
    p.stderr.on('data', (b) => (stderr += b));
    p.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

test('the CLI streams a file and prints the report', async () => {
  const d = await h.createDialer(acme);
  const file = path.join(__dirname, '..', 'examples', 'members.csv');
  const r = await run(['--url', h.base, '--dialer', d, '--region', 'UA', file], { DIALER_KEY: acme.key, DIALER_SECRET: acme.secret });
  assert.equal(r.status, 0, r.stderr);
  // A bar only when the upload took over 2 s or the API already reported rows stored (timing); if
  // there is one, its last line is complete.
  const bars = r.stderr.split('\n').filter((l) => l.startsWith('['));
  if (bars.length) assert.match(bars[bars.length - 1], /100%/);
  assert.match(r.stderr, /rows 7, imported 4, rejected 3/);
  assert.equal(JSON.parse(r.stdout).imported, 4);
  const bad = await run(['--url', h.base, '--dialer', d, file], { DIALER_KEY: acme.key, DIALER_SECRET: 'wrong' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /HTTP 401/);
});

test('autoRun on a campaign type that cannot dial yet: 400 before anything is imported', async () => {
  const old = await Campaign.create({ ...dialerBody(), domain: 'acme' });
  const id = String(old._id);
  // A type the dialer does not know, written straight into Mongo.
  await Campaign.collection.updateOne({ _id: old._id }, { $set: { type: 'Power Dialer' } });
  const r = await upload(id, EXAMPLE, 'autoRun=true');
  assert.equal(r.status, 400);
  assert.match(r.body.info, /^type: "Power Dialer" campaigns are not implemented; the types are /);
  assert.equal(await Member.countDocuments({ dialer: id }), 0);
});
