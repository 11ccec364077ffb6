// The API keeps the campaign's ready queue (models/ready-queue.ts) in step with what it stores:
// created and imported members are queued by priority, a priority edit of a member no workflow owns
// moves it, reset members are queued again, a deleted dialer takes its queue collections along.
// Checked through the claim itself (activities/claim.ts), which reads the queue.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { Member } from '../models';
import { claimReady } from '../activities/claim';
import { startApi, type ApiHarness, type Cred } from './api-support';

let h: ApiHarness;
let acme: Cred;

before(async () => {
  h = await startApi('api_ready_queue_test');
  acme = await h.credential('acme');
});
after(() => h?.close());

/** Claims every ready member, one at a time, and returns their names in claim order. */
async function claimAll(dialer: string, now = Date.now()): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < 50; i++) {
    const n = await claimReady<{ name: string }>({ campaignId: dialer, strategy: 'next-tries-circuit', now, leaseIds: [`l${i}`] }, (_l, d) => names.push(d.name));
    if (n === 0) break;
  }
  return names;
}

const queueCollections = async (dialer: string) =>
  (await mongoose.connection.db!.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).filter((n) => n.includes(dialer)).sort();

test('members are claimed by priority through the queue the API writes; a priority edit moves a member', async () => {
  const d = await h.createDialer(acme);
  const r = await h.req('POST', `/api/v2/dialer/${d}/members`, {
    cred: acme,
    body: [
      { name: 'a', priority: 1, communications: [{ number: '1001' }] },
      { name: 'b', priority: 5, communications: [{ number: '1002' }] },
      { name: 'c', priority: 1, communications: [{ number: '1003' }] },
      { name: 'd', priority: 3, communications: [{ number: '1004' }] },
    ],
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const ids = r.body.data.insertedIds as string[];
  assert.deepEqual(await queueCollections(d), [`dialer_queue.${d}.p1`, `dialer_queue.${d}.p3`, `dialer_queue.${d}.p5`]);

  const put = await h.req('PUT', `/api/v2/dialer/${d}/members/${ids[2]}`, { cred: acme, body: { priority: 9 } });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const imp = await h.req('POST', `/api/v2/dialer/${d}/members/import`, {
    cred: acme, body: 'Name,Priority,number_1\ne,4,+380501112205\n', headers: { 'Content-Type': 'text/csv' },
  });
  assert.equal(imp.status, 200, JSON.stringify(imp.body));
  assert.equal(imp.body.data?.imported ?? imp.body.imported, 1, JSON.stringify(imp.body));
  assert.deepEqual(await claimAll(d), ['c', 'b', 'e', 'd', 'a']);
});

test('reset members are queued again; deleting the dialer drops its queue', async () => {
  const d = await h.createDialer(acme);
  const r = await h.req('POST', `/api/v2/dialer/${d}/members`, { cred: acme, body: [{ name: 'x', communications: [{ number: '2001' }] }] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(await claimAll(d), ['x']);
  // As a workflow leaves a member that ended.
  await Member.updateOne({ name: 'x', dialer: d }, { $set: { _dispatch: null, _endCause: 'MAX_TRY_COUNT', _probeCount: 3, lastCall: Date.now() } });
  assert.deepEqual(await claimAll(d, Date.now() + 10 * 60_000), [], 'an ended member is not claimed (the fallback finds nothing either)');

  const reset = await h.req('PUT', `/api/v2/dialer/${d}/members/reset?from=0`, { cred: acme });
  assert.equal(reset.status, 200, JSON.stringify(reset.body));
  assert.deepEqual(await claimAll(d, Date.now() + 10 * 60_000 + 1), ['x'], 'queued again by the reset, not only by the fallback');

  const del = await h.req('DELETE', `/api/v2/dialer/${d}`, { cred: acme });
  assert.equal(del.status, 200, JSON.stringify(del.body));
  assert.deepEqual(await queueCollections(d), []);
});
