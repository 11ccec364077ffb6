// CSV import of member variables (rules/channel-vars.ts): `First Name` becomes `First_Name`; a
// column name that still cannot be sent rejects the file (400 naming it, nothing deleted or
// imported); a column FreeSWITCH or the dialer acts on rejects, per row, the rows that give it a value.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Member } from '../models';
import { startApi, type ApiHarness, type Cred } from './api-support';

let h: ApiHarness;
let acme: Cred;

before(async () => {
  h = await startApi('api_csv_vars_test');
  acme = await h.credential('acme');
});
after(async () => {
  await h?.close();
});

async function upload(dialer: string, body: string, qs = '') {
  const headers = { 'Content-Type': 'text/csv', 'X-Key': acme.key, 'X-Access-Token': acme.secret };
  const r = await fetch(`${h.base}/api/v2/dialer/${dialer}/members/import${qs ? `?${qs}` : ''}`, { method: 'POST', headers, body });
  return { status: r.status, body: (await r.json()) as any };
}

test('header names: spaces become _; columns FreeSWITCH or the dialer act on reject the rows that set them', async () => {
  const d = await h.createDialer(acme);
  const csv = [
    'Name,number_1,First Name,api_on_answer,DLR_QUEUE,Execute_On_Answer,debt',
    'a,+380501110001,Ivan,system touch /tmp/pwned,,,1',
    'b,+380501110002,Olena,,,,2',
    'c,+380501110003,Petro,,spoofed,,3',
    'd,+380501110004,Anna,, ,system id,4',
  ].join('\n');
  const r = await upload(d, `${csv}\n`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.data.errors, [
    { line: 2, reason: 'variable "api_on_answer" is in the FreeSWITCH namespace api_*; tenants cannot set it (an operator can allow it with CHANNEL_VARIABLES_ALLOW)' },
    { line: 4, reason: 'variable "DLR_QUEUE" is set by the dialer and cannot be set' },
    { line: 5, reason: 'variable "Execute_On_Answer" is in the FreeSWITCH namespace execute_*; tenants cannot set it (an operator can allow it with CHANNEL_VARIABLES_ALLOW)' },
  ]);
  assert.equal(r.body.data.imported, 1);
  const [m] = (await Member.find({ dialer: d }).lean()) as any[];
  assert.equal(m.name, 'b');
  assert.deepEqual(m.variables, { First_Name: 'Olena', debt: '2' });
});

test('a mapping entry Variable:<name> is mapped the same way', async () => {
  const d = await h.createDialer(acme);
  const r = await upload(d, 'x,+380501110005,Kyiv\n', 'skipHeader=false&mapping=Name,number_1,Variable:Home%20City');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(((await Member.findOne({ dialer: d }).lean()) as any).variables, { Home_City: 'Kyiv' });
});

test('a column name that cannot be sent even so is a 400 naming it; nothing is deleted or imported', async () => {
  const d = await h.createDialer(acme);
  assert.equal((await upload(d, 'Name,number_1\nold,+380501110009\n')).body.data.imported, 1);
  for (const [header, re] of [
    ['Имя', /^mapping: column "Имя": variable "Имя" is not a valid variable name/],
    ['debt,a=b', /^mapping: column "a=b": variable "a=b" is not a valid variable name/],
    ['{x}', /^mapping: column "\{x\}"/],
  ] as const) {
    const r = await upload(d, `Name,number_1,${header}\nnew,+380501110010,1,2\n`, 'deleteExisting=true');
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(r.body.info, re);
  }
  assert.deepEqual((await Member.find({ dialer: d }).lean()).map((m: any) => m.name), ['old']);
});
