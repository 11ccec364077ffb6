// CSV export of members (spec §10): the exact text (columns, quoting, formula cells escaped, state
// columns), columns/separator/filter parameters, domain isolation, an export imported into a new
// campaign gives the same members, and the file is streamed (chunked, read as it is sent).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { escapeCell, unescapeCell } from '../api/csv';
import { CsvRows, defaultColumns } from '../api/csv-export';
import { memberDocument } from '../api/member-docs';
import { Member } from '../models';
import { startApi, type ApiHarness, type Cred } from './api-support';

let h: ApiHarness;
let acme: Cred;
let other: Cred;

before(async () => {
  h = await startApi('api_csv_export_test');
  acme = await h.credential('acme');
  other = await h.credential('other');
});
after(async () => {
  await h?.close();
});

async function addMembers(dialer: string, members: unknown[]): Promise<void> {
  const r = await h.req('POST', `/api/v2/dialer/${dialer}/members`, { cred: acme, body: members });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function exportCsv(dialer: string, qs = '', cred: Cred | null = acme) {
  const headers: Record<string, string> = cred ? { 'X-Key': cred.key, 'X-Access-Token': cred.secret } : {};
  const r = await fetch(`${h.base}/api/v2/dialer/${dialer}/members/export${qs ? `?${qs}` : ''}`, { headers });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

const iso = (ms: number) => new Date(ms).toISOString();

test('a small campaign: the exact CSV, with quoting, formula cells escaped and the state columns', async () => {
  const d = await h.createDialer(acme);
  await addMembers(d, [
    {
      name: 'Smith, John', priority: 5, expire: Date.UTC(2030, 11, 31, 18, 0),
      variables: { debt: '20000', note: 'said "call later"\nafter 6' },
      communications: [{ number: '+380501112233', priority: 1, description: 'mobile', type: '1' }, { number: '+380441234567', description: 'office' }],
    },
    { name: '=HYPERLINK("http://x","y")', priority: -1, variables: { debt: '@SUM(A1)', lang: 'uk' }, communications: [{ number: '0501112244' }] },
  ]);
  const [a, b] = (await Member.find({ dialer: d }).sort({ _id: 1 }).lean()) as any[];
  await Member.updateOne({ _id: a._id }, { $set: { _endCause: 'NORMAL_CLEARING', _probeCount: 2, callSuccessful: true, lastCall: Date.UTC(2030, 0, 1, 9, 0), 'communications.0.state': 1, 'communications.0._probe': 2 } });
  const r = await exportCsv(d);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('content-type'), 'text/csv; charset=utf-8');
  assert.match(r.headers.get('content-disposition') ?? '', new RegExp(`attachment; filename="members-${d}\\.csv"`));
  assert.equal(
    r.text,
    'Name,Priority,Expire,Timezone,number_1,priority_1,description_1,type_1,number_2,priority_2,description_2,type_2,debt,note,lang,' +
      '_id,_endCause,_probeCount,callSuccessful,lastCall,_nextTryTime,createdOn,state_1,attempts_1,state_2,attempts_2\r\n' +
      `"Smith, John",5,2030-12-31T18:00:00.000Z,,'+380501112233,1,mobile,1,'+380441234567,0,office,,20000,"said ""call later""\nafter 6",,` +
      `${a._id},NORMAL_CLEARING,2,true,2030-01-01T09:00:00.000Z,,${iso(a.createdOn)},1,2,0,0\r\n` +
      `"'=HYPERLINK(""http://x"",""y"")",'-1,,,0501112244,0,,,,,,,'@SUM(A1),,uk,` +
      `${b._id},,0,false,,,${iso(b.createdOn)},0,0,,\r\n`,
  );
});

test('columns, separator and filter; bad parameters are 400s naming them; another domain gets 404', async () => {
  const d = await h.createDialer(acme);
  await addMembers(d, [
    { name: 'a;b', variables: { name: 'shadowed', debt: '1' }, communications: [{ number: '+380501110001' }] },
    { name: 'c', communications: [{ number: '+380501110002' }] },
  ]);
  const semi = await exportCsv(d, `separator=%3B&columns=${encodeURIComponent('name,number_1,debt,Variable:name,_endCause')}`);
  assert.equal(semi.text, `Name;number_1;debt;Variable:name;_endCause\r\n"a;b";'+380501110001;1;shadowed;\r\nc;'+380501110002;;;\r\n`);
  // A variable called like a column is exported as Variable:<name>, so it imports as the variable.
  assert.match((await exportCsv(d)).text, /^Name,Priority,Expire,Timezone,number_1,priority_1,description_1,type_1,Variable:name,debt,_id,/);
  const empty = await exportCsv(await h.createDialer(acme));
  assert.equal(empty.text, 'Name,Priority,Expire,Timezone,number_1,priority_1,description_1,type_1,_id,_endCause,_probeCount,callSuccessful,lastCall,_nextTryTime,createdOn,state_1,attempts_1\r\n');
  const refused = await exportCsv(d, `columns=Name&filter=${encodeURIComponent('{"name":{"$type":"bogus"}}')}`);
  assert.deepEqual([refused.status, refused.headers.get('content-type')], [400, 'application/json; charset=utf-8'], 'a query the database refuses is an error envelope, not a cut CSV');
  const tab = await exportCsv(d, `separator=tab&columns=Name&filter=${encodeURIComponent('{"name":"c"}')}`);
  assert.equal(tab.text, 'Name\r\nc\r\n');
  for (const [qs, re] of [
    ['separator=ab', /^separator: /],
    ['columns=Name,number_0', /^columns: "number_0": N must be 1…100/],
    ['columns=Name,,debt', /^columns: /],
    ['columns=Name,name', /^columns: Name appears twice/],
    ['columns=a%3Db', /^columns: column "a=b"/],
    ['filter=%7B%22%24where%22%3A1%7D', /^filter/],
  ] as [string, RegExp][]) {
    const r = await exportCsv(d, qs);
    assert.equal(r.status, 400, qs);
    assert.match(JSON.parse(r.text).info, re, qs);
  }
  assert.equal((await exportCsv(d, '', other)).status, 404);
  assert.equal((await exportCsv(d, '', null)).status, 401);
  const root = await h.credential(null);
  assert.match((await exportCsv(d, 'domain=acme&columns=Name', root)).text, /^Name\r\na;b\r\nc\r\n$/);
});

test('round trip: an export imported into a new campaign gives the same members', async () => {
  const d = await h.createDialer(acme);
  const originals = [
    {
      name: 'Ivan, "the" Petrenko', priority: 5, timezone: 'Europe/Kyiv', expire: Date.UTC(2031, 0, 2, 3, 4, 5, 678),
      variables: { debt: '-20000', formula: '=1+2', quoted: "'=x", apostrophes: "''y", plain: "'z", multi: 'one\ntwo', name: 'var called name' },
      communications: [
        { number: '+380501112233', priority: 1, description: 'mobile, "main"', type: '1' },
        { number: '+380441234567', priority: -2, description: 'line one\nline two' },
        { number: '+14155552671', priority: 0, type: 'sms' },
      ],
    },
    { name: '@attacker', priority: -1, communications: [{ number: '+48512345678' }] },
    { name: '+plus', communications: [{ number: '+442079460958' }], variables: { debt: '7', tab: '\tx' } },
  ];
  await addMembers(d, originals);
  await Member.updateMany({ dialer: d }, { $set: { _endCause: 'NORMAL_CLEARING', _probeCount: 3, 'communications.0.state': 1 } });
  const exported = await exportCsv(d);
  assert.equal(exported.status, 200);

  const d2 = await h.createDialer(acme);
  const r = await fetch(`${h.base}/api/v2/dialer/${d2}/members/import`, {
    method: 'POST', body: exported.text, headers: { 'Content-Type': 'text/csv', 'X-Key': acme.key, 'X-Access-Token': acme.secret },
  });
  const report = ((await r.json()) as any).data;
  assert.deepEqual({ imported: report.imported, rejected: report.rejected, errors: report.errors }, { imported: 3, rejected: 0, errors: [] });
  const client = (m: any) => ({
    name: m.name, priority: m.priority, timezone: m.timezone, expire: m.expire, variables: m.variables,
    communications: m.communications.map((c: any) => ({ number: c.number, priority: c.priority, description: c.description, type: c.type })),
  });
  const before = ((await Member.find({ dialer: d }).sort({ _id: 1 }).lean()) as any[]).map(client);
  const afterImport = (await Member.find({ dialer: d2 }).sort({ _id: 1 }).lean()) as any[];
  assert.deepEqual(afterImport.map(client), before);
  assert.equal(before[0].variables.name, 'var called name');
  assert.ok(afterImport.every((m) => m._endCause === null && m._probeCount === 0 && m.communications[0].state === 0), 'state columns are not imported');
});

test('streaming: a few thousand members arrive chunked, with every row', async () => {
  const d = await h.createDialer(acme);
  const n = 3000;
  const docs = Array.from({ length: n }, (_, i) => memberDocument({ name: `m${i}`, variables: { i: String(i) }, communications: [{ number: `+38050${1000000 + i}` }] }, d, 'acme'));
  await Member.collection.insertMany(docs);
  const r = await exportCsv(d, 'columns=Name,number_1,i');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('transfer-encoding'), 'chunked');
  assert.equal(r.headers.get('content-length'), null);
  const lines = r.text.split('\r\n');
  assert.equal(lines.length, n + 2); // header, n rows, '' after the last CRLF
  assert.equal(lines[1], "m0,'+380501000000,0");
  assert.deepEqual(new Set(lines.slice(1, -1).map((l) => l.split(',')[0])).size, n);
});

test('CsvRows reads its source only as fast as the output is consumed (backpressure)', async () => {
  const total = 20_000;
  let produced = 0;
  const source = Readable.from(
    (function* () {
      for (; produced < total; ) {
        produced += 1;
        yield { name: `member ${produced}`, priority: 0, communications: [{ number: `+38050${1000000 + produced}`, priority: 0 }], variables: { note: 'x'.repeat(50) } };
      }
    })(),
  );
  const rows = new CsvRows(defaultColumns(1, ['note']), ',');
  source.pipe(rows);
  const first: Buffer = await new Promise((resolve) => rows.once('data', (chunk) => { rows.pause(); resolve(chunk); }));
  assert.match(first.toString(), /^Name,Priority,/);
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(produced < total / 4, `source read ahead of the consumer: ${produced} of ${total}`);
  let rest = '';
  rows.setEncoding('utf8');
  rows.on('data', (s) => (rest += s));
  rows.resume();
  await new Promise((resolve) => rows.once('end', resolve));
  assert.equal(produced, total);
  assert.equal((first.toString() + rest).split('\r\n').length, total + 2);
});

test('escapeCell / unescapeCell: formula starts escaped, every value restored exactly', () => {
  const cases: [string, string][] = [
    ['=1+2', "'=1+2"], ['+380501112233', "'+380501112233"], ['-5', "'-5"], ['@SUM(A1)', "'@SUM(A1)"],
    ['\tx', "'\tx"], ['\rx', "'\rx"], ["'=x", "''=x"], ["''y", "'''y"], ["'z", "'z"], ["'", "'"], ['plain', 'plain'], ['', ''],
  ];
  for (const [value, escaped] of cases) {
    assert.equal(escapeCell(value), escaped, JSON.stringify(value));
    assert.equal(unescapeCell(escaped), value, JSON.stringify(escaped));
  }
});
