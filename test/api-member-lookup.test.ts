// The member routes (GET/PUT/DELETE …/members/:id, …/status, …/terminate) look a member up by `_id`
// alone — FerretDB 1.x pushes only an `_id` filter down to SQLite; `{_id, dialer, domain}` made it
// decode the whole members collection on every status PUT — and check dialer and domain in code:
// a member is 404 through another dialer of the same domain, through another domain's dialer (also
// for root), and when its own domain differs from its dialer's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { Member, type MemberDoc } from '../models';
import { startApi, type ApiHarness, type Cred } from './api-support';

let h: ApiHarness;
let acme: Cred;
let other: Cred;
let root: Cred;

before(async () => {
  h = await startApi('api_member_lookup_test');
  acme = await h.credential('acme');
  other = await h.credential('other');
  root = await h.credential(null);
});
after(async () => {
  mongoose.set('debug', false);
  await h?.close();
});

async function newMember(cred: Cred, dialer: string, name: string): Promise<string> {
  const r = await h.req('POST', `/api/v2/dialer/${dialer}/members`, { cred, body: { name, communications: [{ number: '380501112233' }] } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.insertedIds[0];
}
const routes = (d: string, m: string): [string, string, unknown?][] => [
  ['GET', `/api/v2/dialer/${d}/members/${m}`],
  ['PUT', `/api/v2/dialer/${d}/members/${m}`, { name: 'moved' }],
  ['PUT', `/api/v2/dialer/${d}/members/${m}/status`, { success: true }],
  ['PUT', `/api/v2/dialer/${d}/members/${m}/terminate`],
  ['DELETE', `/api/v2/dialer/${d}/members/${m}`],
];

test('a member is found by _id alone, then checked against the dialer and domain of the path', async () => {
  const d1 = await h.createDialer(acme);
  const d2 = await h.createDialer(acme);
  const dOther = await h.createDialer(other);
  const m1 = await newMember(acme, d1, 'one');
  const mOther = await newMember(other, dOther, 'theirs');

  // The lookup sends `{_id}` only to the members collection (no filter FerretDB cannot push down).
  const filters: Record<string, unknown>[] = [];
  mongoose.set('debug', (coll: string, method: string, query: unknown) => {
    if (coll === 'members' && method === 'findOne') filters.push(query as Record<string, unknown>);
  });
  const ok = await h.req('GET', `/api/v2/dialer/${d1}/members/${m1}`, { cred: acme });
  mongoose.set('debug', false);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.data.name, 'one');
  assert.ok(filters.length >= 1, 'the member was looked up');
  for (const f of filters) assert.deepEqual(Object.keys(f), ['_id'], `member lookup filter ${JSON.stringify(f)}`);

  const probes: [Cred, string, string, string][] = [
    [acme, d2, m1, 'another dialer of the same domain'],
    [acme, d1, mOther, 'a member of another domain through an own dialer'],
    [root, dOther, m1, 'root, through another domain\'s dialer'],
    [root, d2, m1, 'root, through another dialer'],
    [acme, d1, new mongoose.Types.ObjectId().toHexString(), 'no such member'],
  ];
  for (const [cred, d, m, what] of probes) {
    for (const [method, path, body] of routes(d, m)) {
      const r = await h.req(method, path, { cred, body });
      assert.equal(r.status, 404, `${what}: ${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.status, 'error');
      assert.match(JSON.stringify(r.body), /member not found/);
    }
  }

  // A member whose own domain differs from its dialer's (not writable through the API) is not served either.
  await Member.updateOne({ _id: m1 }, { $set: { domain: 'other' } });
  assert.equal((await h.req('GET', `/api/v2/dialer/${d1}/members/${m1}`, { cred: acme })).status, 404);
  assert.equal((await h.req('GET', `/api/v2/dialer/${d1}/members/${m1}`, { cred: root })).status, 404);
  await Member.updateOne({ _id: m1 }, { $set: { domain: 'acme' } });

  // Nothing was changed or deleted by the refused requests; the right path still works.
  const m = await Member.findById(m1).lean<MemberDoc>();
  assert.equal(m?.name, 'one');
  assert.equal(m?._endCause ?? null, null);
  assert.ok(await Member.exists({ _id: mOther }));
  assert.equal((await h.req('GET', `/api/v2/dialer/${d1}/members/${m1}`, { cred: root })).status, 200);
  assert.equal((await h.req('GET', `/api/v2/dialer/${dOther}/members/${mOther}`, { cred: other })).status, 200);
});
