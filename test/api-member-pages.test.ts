// Member lists page by `_id`: `after=<last _id>` gives the next page (X-Next-After names it while
// more may follow), v3's limit/page keeps working, filters on `_endCause` page the same way, and a
// page the embedded store would have to reach by reading every skipped member is a 400 naming
// `after` (api/reads.ts findPage). The store's side (an `_id` range comes in `_id` order from an
// index) is test/ferret-pushdown.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { memberDocument } from '../api/member-docs';
import { MAX_EMBEDDED_SKIP } from '../api/reads';
import { isMongoDB } from '../lib/db';
import { Member } from '../models';
import { startApi, type ApiHarness, type Cred } from './api-support';

let h: ApiHarness;
let acme: Cred;

before(async () => {
  h = await startApi('api_member_pages_test');
  acme = await h.credential('acme');
  await Member.init();
});
after(async () => h?.close());

async function store(dialer: string, n: number, ended = (_i: number) => false): Promise<string[]> {
  const docs = Array.from({ length: n }, (_, i): Record<string, unknown> => ({
    ...memberDocument({ name: `m${i}`, communications: [{ number: `38050${String(i).padStart(7, '0')}` }] }, dialer, 'acme'),
    ...(ended(i) ? { _endCause: 'MANAGER_REQUEST' } : {}),
  }));
  await Member.collection.insertMany(docs);
  return docs.map((d) => String(d._id)).sort();
}

async function allPages(path: string, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let next: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const r: { status: number; body: any; headers: Headers } = await h.req('GET', `${path}${sep}limit=${limit}${next ? `&after=${next}` : ''}`, { cred: acme });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    ids.push(...(r.body.data as { _id: string }[]).map((d) => d._id));
    next = r.headers.get('x-next-after');
    pages++;
  } while (next && pages < 100);
  return { ids, pages };
}

test('after= pages through a campaign in _id order; limit/page gives the same pages', async () => {
  const d = await h.createDialer(acme);
  const other = await h.createDialer(acme);
  const ids = await store(d, 120);
  await store(other, 300);

  const { ids: paged, pages } = await allPages(`/api/v2/dialer/${d}/members`, 50);
  assert.deepEqual(paged, ids);
  assert.equal(pages, 3);

  const page2 = await h.req('GET', `/api/v2/dialer/${d}/members?limit=50&page=2`, { cred: acme });
  assert.deepEqual(page2.body.data.map((m: { _id: string }) => m._id), ids.slice(50, 100));
  const first = await h.req('GET', `/api/v2/dialer/${d}/members?limit=50`, { cred: acme });
  assert.equal(first.headers.get('x-next-after'), ids[49]);
});

test('a filter on _endCause pages the same way', async () => {
  const d = await h.createDialer(acme);
  const ids = await store(d, 90, (i) => i % 3 === 0);
  const ended = (await Member.find({ dialer: d, _endCause: { $ne: null } }, { _id: 1 }).lean()).map((m) => String(m._id)).sort();
  const waiting = ids.filter((id) => !ended.includes(id));
  const filter = (f: unknown) => `/api/v2/dialer/${d}/members?filter=${encodeURIComponent(JSON.stringify(f))}`;
  assert.deepEqual((await allPages(filter({ _endCause: null }), 25)).ids, waiting);
  assert.deepEqual((await allPages(filter({ _endCause: 'MANAGER_REQUEST' }), 25)).ids, ended);
});

test('"ended" pages come from the counted end causes: every ended member in _id order, none when none ended', async () => {
  const { MemberStore } = await import('../models/member-store');
  const counted = async (dialer: string, causes: (i: number) => string | null) => {
    const docs = Array.from({ length: 60 }, (_, i): Record<string, unknown> => ({
      ...memberDocument({ name: `m${i}`, communications: [{ number: `38067${String(i).padStart(7, '0')}` }] }, dialer, 'acme'),
      _endCause: causes(i),
    }));
    await MemberStore.insert(docs);
    return docs.filter((d) => d._endCause).map((d) => String(d._id)).sort();
  };
  const ended = (d: string) => `/api/v2/dialer/${d}/members?filter=${encodeURIComponent(JSON.stringify({ _endCause: { $ne: null } }))}`;

  const none = await h.createDialer(acme);
  await counted(none, () => null);
  assert.deepEqual(await allPages(ended(none), 10), { ids: [], pages: 1 });

  const two = await h.createDialer(acme);
  const want = await counted(two, (i) => (i % 3 === 0 ? 'MANAGER_REQUEST' : i % 5 === 0 ? 'NO_ANSWER' : null));
  assert.deepEqual((await allPages(ended(two), 7)).ids, want);

  // A cause the counts keep only in the total: the counts do not name every ended member, so the
  // filter is run as it is and still finds it.
  const odd = await h.createDialer(acme);
  const wantOdd = await counted(odd, (i) => (i === 7 ? 'cause with spaces' : i % 4 === 0 ? 'NO_ANSWER' : null));
  assert.deepEqual((await allPages(ended(odd), 7)).ids, wantOdd);
});

test('after is checked, and a deep page on the embedded store names after', async () => {
  const d = await h.createDialer(acme);
  const bad = await h.req('GET', `/api/v2/dialer/${d}/members?after=zz`, { cred: acme });
  assert.equal(bad.status, 400);
  assert.match(bad.body.info, /^after: /);
  const withSort = await h.req('GET', `/api/v2/dialer/${d}/members?after=${new mongoose.Types.ObjectId()}&sort=${encodeURIComponent('{"name":1}')}`, { cred: acme });
  assert.equal(withSort.status, 400);
  assert.match(withSort.body.info, /^after: .*sort/);
  const deep = await h.req('GET', `/api/v2/dialer/${d}/members?limit=1000&page=${MAX_EMBEDDED_SKIP / 1000 + 2}`, { cred: acme });
  if (await isMongoDB()) assert.equal(deep.status, 200);
  else {
    assert.equal(deep.status, 400);
    assert.match(deep.body.info, /^page: .*after=/);
  }
});
