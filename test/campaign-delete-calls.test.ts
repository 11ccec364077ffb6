// A campaign deleted or stopped while its calls are up (issue: 5 answered calls were still up 27 min
// after a DELETE, owned by nobody). On the real stack (API, worker, simulator, Temporal, FerretDB):
// answered calls that never end by themselves; stop keeps them up and owned by their running member
// workflows (spec §8.2: calls in progress finish); DELETE is refused with 409 while they are up;
// DELETE ?force=true has each member workflow hang its call up (uuid_kill … MANAGER_REQUEST) and
// only then deletes: the simulator has no channel left and the members are gone (purged).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Campaign, Member } from '../models';
import type { Simulator } from '../simulator';
import { memberWorkflowId, purgeWorkflowId } from '../workflows/messages';
import { workflowRunning } from '../services/workflows';
import type { ApiHarness, Cred } from './api-support';
import { e2eFile } from './support/e2e-stack';
import { waitFor } from './support/env';

let api: ApiHarness;
let sim: Simulator;
let cred: Cred;

e2eFile('campaign_delete_calls', {
  domain: 'calls.local',
  api: { updateTimeoutMs: 15_000 },
  // Answered at once, never hung up by the callee: a person who stays on the line.
  simulator: { rules: { default: { type: 'answer', ringSec: 0, talkSec: null }, rules: [] } },
  worker: { cdr: false, reconcile: false },
}, (s) => ({ api, sim, cred } = s));

async function campaignWithAnsweredCalls(n: number) {
  const campaign = await Campaign.create({
    domain: 'calls.local',
    name: `Long calls ${Date.now()}`,
    type: 'Voice Broadcasting',
    parameters: { limit: 10, maxTryCount: 1, intervalTryCount: 600, originateTimeout: 10 },
    resources: [{ dialedNumber: '^(\\d+)$', destinations: [{ gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit: 10 }] }],
  });
  const id = String(campaign._id);
  const body = Array.from({ length: n }, (_, i) => ({ name: `Caller ${i}`, communications: [{ number: `5550${id.slice(-4)}${i}` }] }));
  const res = await api.req('POST', `/api/v2/dialer/${id}/members?autoRun=true`, { cred, body });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const memberIds = (res.body.data.insertedIds as string[]).map(String);
  const up = () => sim.calls().filter((c) => c.channelVars.dlr_queue === id && c.state === 'answered');
  await waitFor(`${n} answered calls`, async () => up().length === n, 30_000);
  return { id, memberIds, up };
}

test('stop lets the answered calls go on, owned by their running member workflows (§8.2)', { timeout: 120_000 }, async () => {
  const { id, memberIds, up } = await campaignWithAnsweredCalls(2);
  const stop = await api.req('PUT', `/api/v2/dialer/${id}/state/3`, { cred });
  assert.equal(stop.status, 200);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(up().length, 2, 'the calls are still up after stop');
  for (const m of memberIds) assert.ok(await workflowRunning(api.client, memberWorkflowId(id, m)), 'and each still has its owner');
  // Ending the calls afterwards is the owners' business: the forced delete below does it.
  assert.equal((await api.req('DELETE', `/api/v2/dialer/${id}?force=true`, { cred })).status, 200);
  assert.equal(up().length, 0);
});

test('DELETE with calls up: 409 unless forced; forced, every call is hung up before the members go', { timeout: 120_000 }, async () => {
  const { id, memberIds, up } = await campaignWithAnsweredCalls(5);

  const refused = await api.req('DELETE', `/api/v2/dialer/${id}`, { cred });
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.match(JSON.stringify(refused.body), /5 member\(s\).*force=true/);
  assert.equal(up().length, 5, 'nothing was hung up');
  assert.equal(await Member.countDocuments({ dialer: id }), 5, 'nothing was deleted');
  assert.equal((await api.req('DELETE', `/api/v2/dialer/${id}?force=yes`, { cred })).status, 400);

  const forced = await api.req('DELETE', `/api/v2/dialer/${id}?force=true`, { cred });
  assert.equal(forced.status, 200, JSON.stringify(forced.body));
  assert.equal(forced.body.data.membersEnded, 5);
  const calls = sim.calls().filter((c) => c.channelVars.dlr_queue === id);
  assert.equal(calls.length, 5);
  assert.deepEqual(calls.map((c) => [c.state, c.hangupCause]), calls.map(() => ['ended', 'MANAGER_REQUEST']), 'the switch has no channel of the campaign left');
  assert.equal(await Campaign.countDocuments({ _id: id }), 0);
  // The members left every read with the campaign; the purge workflow deletes them.
  await api.client.workflow.getHandle(purgeWorkflowId(id)).result();
  assert.equal(await Member.countDocuments({ dialer: id }), 0);
  for (const m of memberIds) assert.equal(await workflowRunning(api.client, memberWorkflowId(id, m)), false);
});
