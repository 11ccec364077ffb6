// Deleting a campaign with many members (issue 13): DELETE answers without deleting the members one
// by one — they leave every read, count and the ready queue at once and the purge workflow
// (workflows/purge.ts) deletes them afterwards, also when no worker ran at the time of the DELETE.
// On the real stack: API, worker, simulator, Temporal, FerretDB.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { Member } from '../models';
import { purgeWorkflowId } from '../workflows/messages';
import { startApi, type ApiHarness, type Cred } from './api-support';
import { startDevDialer, type DevDialer } from './support/dev-dialer';
import { recordHistory, waitFor } from './support/env';

let api: ApiHarness;
let dev: DevDialer | undefined;
let cred: Cred;

// Every call is busy at once: a running campaign dials member after member.
const devDialer = () =>
  startDevDialer({ taskQueue: api.taskQueue, simulator: { rules: { default: { type: 'busy', ringSec: 0 }, rules: [] } }, worker: { cdr: false, reconcile: false } });

before(async () => {
  api = await startApi('campaign_purge');
  dev = await devDialer();
  cred = await api.credential('purge.local');
});

after(async () => {
  await dev?.stop();
  await api?.close();
});

async function campaignWith(n: number, o: { autoRun?: boolean; tag: string }): Promise<string> {
  const r = await api.req('POST', '/api/v2/dialer', {
    cred,
    body: {
      name: `Purge ${o.tag} ${Date.now()}`, type: 'Voice Broadcasting',
      parameters: { limit: 2, maxTryCount: 1, intervalTryCount: 600, originateTimeout: 10 },
      resources: [{ dialedNumber: '^(\\d+)$', destinations: [{ gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit: 2 }] }],
    },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const id = String(r.body.data.insertedIds[0]);
  for (let i = 0; i < n; i += 500) {
    const body = Array.from({ length: Math.min(500, n - i) }, (_, j) => ({ name: `M ${i + j}`, communications: [{ number: `55${o.tag}${String(i + j).padStart(5, '0')}` }] }));
    const res = await api.req('POST', `/api/v2/dialer/${id}/members${o.autoRun && i + 500 >= n ? '?autoRun=true' : ''}`, { cred, body });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  return id;
}

const queueCollections = async (campaign: string) =>
  (await mongoose.connection.db!.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).filter((n) => n.startsWith(`dialer_queue.${campaign}.`));
const lookups = (campaign: string) => mongoose.connection.collection('dialer_member_numbers').countDocuments({ campaign });
const counters = (campaign: string) => mongoose.connection.collection('dialer_member_counts').countDocuments({ campaign });

/** What every route shows of a deleted campaign: nothing. */
async function assertGone(id: string, memberId: string): Promise<void> {
  const M = `/api/v2/dialer/${id}/members`;
  for (const p of [`/api/v2/dialer/${id}`, M, `${M}/count`, `${M}/${memberId}`, `${M}?filter=${encodeURIComponent(JSON.stringify({ 'communications.number': '55x' }))}`]) {
    assert.equal((await api.req('GET', p, { cred })).status, 404, p);
  }
  assert.deepEqual(await queueCollections(id), [], 'no ready queue');
  assert.equal(await counters(id), 0, 'no counts');
}

test('DELETE of a running campaign: members out of every read at once, nothing dialled after, then purged; others untouched', { timeout: 180_000 }, async () => {
  const other = await campaignWith(600, { tag: '71' });
  const id = await campaignWith(1200, { autoRun: true, tag: '72' });
  const dialled = () => dev!.sim.calls().filter((c) => c.channelVars.dlr_queue === id).length;
  await waitFor('the campaign dials', async () => dialled() >= 3, 60_000);
  const someMember = String((await Member.findOne({ dialer: id }, { _id: 1 }).lean<{ _id: unknown }>())!._id);

  const del = await api.req('DELETE', `/api/v2/dialer/${id}?force=true`, { cred });
  assert.equal(del.status, 200, JSON.stringify(del.body));
  assert.equal(del.body.data.deletedMembers, 1200);
  const atDelete = dialled();
  await assertGone(id, someMember);

  const purge = api.client.workflow.getHandle(purgeWorkflowId(id));
  assert.equal(await purge.result(), 1200);
  await recordHistory(purge, 'purge-1200-members', 'purge');
  assert.equal(await Member.countDocuments({ dialer: id }), 0);
  assert.equal(await lookups(id), 0, 'the number lookups went too');
  assert.equal(dialled(), atDelete, 'no call of the deleted campaign was placed after the DELETE answered');

  assert.equal(await Member.countDocuments({ dialer: other }), 600);
  assert.equal(await lookups(other), 600);
  const count = await api.req('GET', `/api/v2/dialer/${other}/members/count`, { cred });
  assert.equal(count.body.data, 600, JSON.stringify(count.body));
});

test('a DELETE while no worker runs: the members are hidden at once and purged when a worker comes back', { timeout: 180_000 }, async () => {
  await dev!.stop();
  dev = undefined;
  const id = await campaignWith(700, { tag: '73' });
  const someMember = String((await Member.findOne({ dialer: id }, { _id: 1 }).lean<{ _id: unknown }>())!._id);

  const del = await api.req('DELETE', `/api/v2/dialer/${id}`, { cred });
  assert.equal(del.status, 200, JSON.stringify(del.body));
  await assertGone(id, someMember);
  assert.equal(await Member.countDocuments({ dialer: id }), 700, 'stored until the purge runs');

  dev = await devDialer();
  assert.equal(await api.client.workflow.getHandle(purgeWorkflowId(id)).result(), 700);
  assert.equal(await Member.countDocuments({ dialer: id }), 0);
  assert.equal(await lookups(id), 0);
});
