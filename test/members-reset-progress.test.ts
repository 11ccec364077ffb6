// A members reset of a big list (issue 13) shows its progress: `GET …/members/reset` answers how
// many members the newest reset has reset so far, of how many ended when it began; `wait=false`
// answers 202 once the reset is under way; one reset per dialer at a time; a reset cut off by a
// restart shows as interrupted and a new one finishes it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { memberDocument } from '../api/member-docs';
import { isMongoDB } from '../lib/db';
import { MemberStore } from '../models/member-store';
import { dialerBody, startApi, type ApiHarness, type Cred } from './api-support';

let h: ApiHarness;
let acme: Cred;
let other: Cred;

before(async () => {
  h = await startApi('members_reset_progress');
  acme = await h.credential('acme');
  other = await h.credential('other');
});
after(async () => {
  await h?.close();
});

async function dialerWithEnded(ended: number, open: number): Promise<string> {
  const r = await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody() });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const id = String(r.body.data.insertedIds[0]);
  const docs = Array.from({ length: ended + open }, (_, i) => {
    const doc = memberDocument({ name: `M ${i}`, communications: [{ number: `3805${String(i).padStart(6, '0')}` }] }, id, 'acme');
    return i < ended ? { ...doc, _endCause: 'MAX_TRY_COUNT', communications: [{ ...(doc.communications as object[])[0], state: 2 }] } : doc;
  });
  // Stored as the import stores them: counted.
  for (let i = 0; i < docs.length; i += 1000) await MemberStore.insert(docs.slice(i, i + 1000));
  return id;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('wait=false: 202 at once, progress by batch until done, a second reset meanwhile is 409', { timeout: 180_000 }, async () => {
  const d = await dialerWithEnded(1500, 20);
  const R = `/api/v2/dialer/${d}/members/reset`;
  assert.equal((await h.req('GET', R, { cred: acme })).status, 404, 'no reset yet');
  assert.match((await h.req('PUT', `${R}?from=0&wait=later`, { cred: acme })).body.info, /^wait: /);

  const started = await h.req('PUT', `${R}?from=0&wait=false`, { cred: acme });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  assert.equal(started.body.data.state, 'running');
  assert.equal(started.body.data.ended, 1500, 'how many may be reset: the ended members when it began');

  const again = await h.req('PUT', `${R}?from=0`, { cred: acme });
  assert.equal(again.status, 409, JSON.stringify(again.body));
  assert.match(again.body.info, /running/);
  assert.equal((await h.req('GET', R, { cred: other })).status, 404, 'another domain sees no dialer');

  const seen: number[] = [];
  for (;;) {
    const p = await h.req('GET', R, { cred: acme });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    seen.push(p.body.data.reset);
    if (p.body.data.state === 'done') {
      assert.equal(p.body.data.reset, 1500);
      assert.ok(p.body.data.finishedAt >= p.body.data.startedAt);
      break;
    }
    assert.equal(p.body.data.state, 'running');
    await sleep(50);
  }
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b), 'progress only grows');
  // Three batches of 500 take seconds on the embedded store; MongoDB may finish between two polls.
  if (!(await isMongoDB())) assert.ok(seen.some((n) => n > 0 && n < 1500), `a value between start and end was shown: ${[...new Set(seen)].join(', ')}`);
  const count = await h.req('GET', `/api/v2/dialer/${d}/members/count?filter=${encodeURIComponent('{"_endCause":null}')}`, { cred: acme });
  assert.equal(count.body.data, 1520);
});

test('a reset cut off by a restart shows as interrupted; a new reset runs and finishes', async () => {
  const d = await dialerWithEnded(30, 0);
  const R = `/api/v2/dialer/${d}/members/reset`;
  // As a process that stopped ten minutes ago in the middle of a reset leaves it.
  await MemberStore.resetStarted(d, 'acme', 30, Date.now() - 10 * 60_000);
  const cut = await h.req('GET', R, { cred: acme });
  assert.equal(cut.body.data.state, 'interrupted', JSON.stringify(cut.body));

  const r = await h.req('PUT', `${R}?from=0`, { cred: acme });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.info, 30);
  const done = await h.req('GET', R, { cred: acme });
  assert.equal(done.body.data.state, 'done');
  assert.equal(done.body.data.reset, 30);
});

test('a reset does not undo an edit stored after it read the member: that member stays as edited', { timeout: 60_000 }, async () => {
  const id = await dialerWithEnded(3, 0);
  const { Member } = await import('../models');
  const read = await Member.find({ dialer: id }, { communications: 1, _log: 1, priority: 1, dialer: 1, _endCause: 1, lastModified: 1 }).sort({ _id: 1 }).lean<Parameters<typeof MemberStore.resetEnded>[0]>();
  // An edit (PUT member) of the second member lands between the reset's read and its write.
  const edited = read[1];
  const put = await h.req('PUT', `/api/v2/dialer/${id}/members/${String(edited._id)}`, { cred: acme, body: { name: 'Edited', communications: [{ number: '380999000111' }] } });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const now = Date.now();
  const n = await MemberStore.resetEnded(read, { step: { state: 'reset', time: now, steps: [] }, replaceLog: false, now });
  assert.equal(n, 2, 'the edited member is left out of this reset');
  const after = await Member.findById(edited._id).lean<{ name: string; communications: { number: string }[] }>();
  assert.equal(after!.name, 'Edited');
  assert.deepEqual(after!.communications.map((c) => c.number), ['380999000111']);
  const counts = await MemberStore.counts(id);
  assert.deepEqual([counts.total, counts.ended], [3, 1], 'two reset, the edited one still ended');
});
