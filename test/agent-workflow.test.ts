// The agent workflow's timers on the time-skipping test server: an offer nobody reports on (its
// member workflow gone) is released after the ring time + 60 s (one whose member workflow still
// runs is kept: it may yet dial the agent), so no agent stays
// Reserved forever; a call in progress whose member workflow is gone (terminated by hand) releases
// the agent within a minute; the end of wrap-up is announced when its timer fires.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, AgentEvent, type AgentDoc } from '../models/agent';
import { agentInfoQuery, memberWorkflowId, offerEventSignal, reserveAgentUpdate } from '../workflows/messages';
import { startAgentWorkflow } from '../workflows/start';
import { startStack, type Stack } from './support/stack';
import { waitFor } from './support/env';

let stack: Stack;

before(async () => {
  stack = await startStack('agent_workflow_test', { rules: [] });
});
after(() => stack?.stop());

async function agent(name: string, params: Record<string, number> = {}) {
  const h = await startAgentWorkflow(stack.env.client, {
    domain: 'timers.local', name, config: { name, contact: `user/${name}`, ...params }, initial: { status: 'Available', state: 'Waiting' },
  }, stack.taskQueue);
  await waitFor('agent stored', async () => (await Agent.findById(`${name}@timers.local`).lean<AgentDoc>())?.state === 'Waiting');
  return h;
}

test('an offer nobody reports on is released after callTimeout + 60 s (never Reserved forever)', async () => {
  const h = await agent('7000', { callTimeout: 10 });
  await h.executeUpdate(reserveAgentUpdate, { args: [{ offerId: 'lost-offer', campaignId: 'c', memberId: 'm' }] });
  assert.equal((await h.query(agentInfoQuery)).state, 'Reserved');
  await stack.env.sleep('60s');
  assert.equal((await h.query(agentInfoQuery)).state, 'Reserved', 'still within ring time + grace');
  await stack.env.sleep('15s');
  const info = await h.query(agentInfoQuery);
  assert.deepEqual([info.state, info.offer], ['Waiting', null]);
  await waitFor('release stored', async () => AgentEvent.exists({ agent: '7000@timers.local', type: 'ended', 'data.cause': 'OFFER_TIMEOUT' }));
  assert.equal(info.noAnswerCount, 0, 'no penalty');
});

test('wrap-up ends on its timer: the agent can be offered again and its application is told', async () => {
  const h = await agent('7001', { wrapUpTime: 300 });
  await h.executeUpdate(reserveAgentUpdate, { args: [{ offerId: 'o1', campaignId: 'c', memberId: 'm' }] });
  await h.signal(offerEventSignal, { offerId: 'o1', kind: 'ended', outcome: { kind: 'bridged', talkSec: 3, statusPending: false, campaignWrapUpSec: 0 } });
  await waitFor('wrap-up', async () => (await h.query(agentInfoQuery)).readyReason === 'wrap-up');
  await assert.rejects(h.executeUpdate(reserveAgentUpdate, { args: [{ offerId: 'o2', campaignId: 'c', memberId: 'm2' }] }), (err: Error) => /not ready before/.test(String(err.cause)));
  await stack.env.sleep('301s');
  await waitFor('wrap-up ended', async () => AgentEvent.exists({ agent: '7001@timers.local', type: 'wrap-up-ended' }));
  const r = await h.executeUpdate(reserveAgentUpdate, { args: [{ offerId: 'o2', campaignId: 'c', memberId: 'm2' }] });
  assert.equal(r.offerId, 'o2');
});

test('a call in progress whose member workflow was terminated by hand releases the agent; a running one keeps it', async () => {
  const h = await agent('7002', { wrapUpTime: 30 });
  // Stands in for the member workflow of the first offer: any running workflow under its id.
  const stand = await stack.env.client.workflow.start('agentWorkflow', {
    taskQueue: stack.taskQueue, workflowId: memberWorkflowId('c', 'm-alive'),
    args: [{ domain: 'timers.local', name: 'stand-in', config: { name: 'stand-in', contact: 'user/1' } }],
  });
  await h.executeUpdate(reserveAgentUpdate, { args: [{ offerId: 'alive', campaignId: 'c', memberId: 'm-alive' }] });
  await h.signal(offerEventSignal, { offerId: 'alive', kind: 'connected' });
  await stack.env.sleep('150s');
  assert.equal((await h.query(agentInfoQuery)).state, 'In a queue call', 'its member workflow runs: the call goes on');

  await stand.terminate('by hand');
  await stack.env.sleep('65s');
  const info = await h.query(agentInfoQuery);
  assert.deepEqual([info.state, info.offer, info.readyReason], ['Waiting', null, null], 'released, no wrap-up, no penalty');
  await waitFor('release stored', async () => AgentEvent.exists({ agent: '7002@timers.local', type: 'ended', 'data.cause': 'MEMBER_GONE' }));
});

test('an offer not yet dialled is kept past its deadline while its member workflow runs (its worker was down), released once it is gone', async () => {
  const h = await agent('7003', { callTimeout: 10 });
  const stand = await stack.env.client.workflow.start('agentWorkflow', {
    taskQueue: stack.taskQueue, workflowId: memberWorkflowId('c', 'm-slow'),
    args: [{ domain: 'timers.local', name: 'stand-in-2', config: { name: 'stand-in-2', contact: 'user/1' } }],
  });
  await h.executeUpdate(reserveAgentUpdate, { args: [{ offerId: 'slow', campaignId: 'c', memberId: 'm-slow' }] });
  await stack.env.sleep('200s');
  assert.equal((await h.query(agentInfoQuery)).offer?.offerId, 'slow', 'still reserved: the member may yet dial it');
  await stand.terminate('by hand');
  await stack.env.sleep('65s');
  const info = await h.query(agentInfoQuery);
  assert.deepEqual([info.state, info.offer], ['Waiting', null]);
});
