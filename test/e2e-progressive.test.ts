// Progressive dialing end to end (§2.3, §7.4): agents and a campaign created through the REST API,
// the campaign granting lines only while agents are free, each member workflow reserving an agent
// (an Update to its workflow), the simulator ringing the agent's phone first (`user/<ext>`) and
// bridging the member, and the results on the member, the agent and its event stream.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, AgentEvent, sentEventData, type AgentDoc } from '../models/agent';
import { Member, type MemberDoc } from '../models';
import type { Simulator } from '../simulator';
import type { ApiHarness, Cred } from './api-support';
import { answeringPhones, e2eFile } from './support/e2e-stack';
import { recordHistory, waitFor } from './support/env';
import { afterEachSignal } from './support/history-order';
import { agentWorkflowId, campaignWorkflowId, memberWorkflowId } from '../workflows/messages';

const DOMAIN = 'prog.local';
let api: ApiHarness;
let sim: Simulator;
let cred: Cred;

e2eFile('e2e_progressive', {
  domain: DOMAIN,
    simulator: {
      rules: {
        users: {
          // Agent phones.
        ...answeringPhones(0.3, [1000, 1001]),
          1003: { type: 'answer', ringSec: 0.2 },
          1005: { type: 'answer', ringSec: 0.2 },
          2000: { type: 'no_answer' },
          2001: { type: 'busy', ringSec: 0.2 },
        },
        rules: [
          { prefix: '100', outcome: { type: 'answer', ringSec: 0.3, talkSec: 2 } },
          { prefix: '200', outcome: { type: 'busy', ringSec: 0.2 } },
        ],
      },
    },
    worker: { cdr: false, reconcile: false },
}, (s) => ({ api, sim, cred } = s));

async function agent(name: string, body: Record<string, unknown> = {}) {
  const r = await api.req('POST', '/api/v2/agents', { cred, body: { name, contact: `user/${name}`, status: 'Available', state: 'Waiting', ...body } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function campaign(agents: unknown[], over: Record<string, unknown> = {}): Promise<string> {
  const r = await api.req('POST', '/api/v2/dialer', {
    cred,
    body: {
      name: 'Progressive', type: 'Progressive Dialer', agents,
      parameters: { limit: 5, maxTryCount: 3, intervalTryCount: 600, originateTimeout: 10, wrapUpTime: 30 },
      resources: [{ dialedNumber: '^(\\d+)$', destinations: [{ gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit: 5 }] }],
      ...over,
    },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.insertedIds[0];
}

async function member(dialer: string, number: string, autoRun = true): Promise<string> {
  const r = await api.req('POST', `/api/v2/dialer/${dialer}/members${autoRun ? '?autoRun=true' : ''}`, {
    cred, body: { name: `M ${number}`, communications: [{ number }], variables: { crm: 'x1' } },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.insertedIds?.[0] ?? r.body.data._id;
}

const memberDoc = (id: string) => Member.findById(id).lean<MemberDoc>();
const agentDoc = (name: string) => Agent.findById(`${name}@${DOMAIN}`).lean<AgentDoc>();
const ended = (id: string, ms = 30_000) => waitFor(`member ${id} ended`, async () => { const d = await memberDoc(id); return d?._endCause ? d : null; }, ms);

describe('progressive dialing', () => {
  test('the agent is rung first, then the member is bridged: success, talk time from the bridge, agent wrap-up and events', { timeout: 60_000 }, async () => {
    await agent('1000', { wrapUpTime: 3 });
    const d = await campaign(['1000']);
    const m = await member(d, '1005550001');
    const doc = await ended(m);
    assert.equal(doc._endCause, 'NORMAL_CLEARING', JSON.stringify(doc._log));
    assert.equal(doc.callSuccessful, true);
    const agentLeg = sim.calls().find((c) => c.channelVars.dlr_member_id === m);
    assert.ok(agentLeg, 'an originate for the member');
    assert.equal(agentLeg.url, `user/1000@${DOMAIN}`, 'the agent is called first, in its own domain (not the switch\'s default domain)');
    assert.equal(agentLeg.channelVars.cc_side, 'agent');
    assert.equal(agentLeg.channelVars.originate_timeout, '60', 'the agent call timeout (default 60 s)');
    assert.equal(agentLeg.channelVars.origination_caller_id_number, '1005550001', 'the agent sees the member');
    assert.match(agentLeg.command, /&bridge\(\{[^)]*cc_side=member[^)]*\}sofia\/gateway\/gw1\/1005550001\)$/);
    const memberLeg = sim.calls().find((c) => c.via === 'bridge' && c.destination === '1005550001');
    assert.equal(memberLeg?.channelVars.originate_timeout, '10', 'the member leg rings originateTimeout');
    assert.equal(doc._log[0].talkSec, 2, 'talk time from the bridge');

    const a = await waitFor('agent back from the call', async () => { const x = await agentDoc('1000'); return x?.offer === null ? x : null; });
    assert.equal(a.readyReason, 'wrap-up');
    assert.deepEqual([a.stats[d].callCount, a.stats[d].bridgedCount, a.stats[d].callTimeSec], [1, 1, 2]);
    assert.ok(a.stats[d].connectedTimeSec > 0, 'ring time of the agent leg counted');
    const types = (await AgentEvent.find({ agent: `1000@${DOMAIN}`, type: { $ne: 'status' } }).sort({ seq: 1 }).lean()).map((e) => e.type);
    assert.deepEqual(types.slice(0, 4), ['offered', 'connected', 'ended', 'wrap-up-started']);
    const offered = await AgentEvent.findOne({ agent: `1000@${DOMAIN}`, type: 'offered' }).lean();
    assert.equal((offered!.data.webitel_data as Record<string, unknown>).dlr_member_id, m);
    assert.equal((offered!.data.variables as Record<string, unknown>).crm, 'x1');
    // v3's per-agent statistics route (§11.3 fields).
    const st = await api.req('POST', `/api/v2/dialer/${d}/agents/stats`, { cred, body: { agents: [`1000@${DOMAIN}`], skills: [] } });
    assert.equal(st.status, 200, JSON.stringify(st.body));
    const row = st.body.data[0];
    assert.deepEqual([row.name, row.call_count, row.bridged_count, row.call_time_sec, row.missed_call, row.active], [`1000@${DOMAIN}`, 1, 1, 2, 0, true]);
    assert.equal(row.wrap_up_time, 3);
    const bad = await api.req('POST', `/api/v2/dialer/${d}/agents/stats`, { cred, body: { agents: [] } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.info, /^skills: /);
    await recordHistory(api.client.workflow.getHandle(memberWorkflowId(d, m)), 'progressive-bridged');
    // Once the agent's wrap-up is over the campaign finds no member left.
    const camp = api.client.workflow.getHandle(campaignWorkflowId(d));
    await waitFor('campaign complete', async () => (await camp.describe()).status.name === 'COMPLETED', 20_000);
    await recordHistory(camp, 'progressive-complete', 'campaign');
  });

  test('an agent that does not answer: the attempt is refunded, the member goes to the next agent; the agent gets its no-answer delay', { timeout: 90_000 }, async () => {
    await agent('2000', { callTimeout: 1, noAnswerDelayTime: 600 });
    await agent('1001');
    // Tier levels: 2000 is offered first.
    const d = await campaign([{ name: '2000', level: 1 }, { name: '1001', level: 2 }]);
    const m = await member(d, '1005550002');
    const doc = await ended(m, 60_000);
    assert.equal(doc._endCause, 'NORMAL_CLEARING', JSON.stringify(doc._log));
    assert.equal(doc._probeCount, 1, 'the failed agent leg did not count');
    const legs = sim.calls().filter((c) => c.channelVars.dlr_member_id === m).map((c) => [c.url, c.result?.split(' ')[0]]);
    assert.deepEqual(legs, [[`user/2000@${DOMAIN}`, '-ERR'], [`user/1001@${DOMAIN}`, '+OK']]);
    const rang = sim.calls().find((c) => c.channelVars.dlr_member_id === m && c.url === `user/2000@${DOMAIN}`);
    assert.equal(rang?.channelVars.originate_timeout, '1', 'the agent leg rings for the agent\'s callTimeout');
    const a = await waitFor('2000 penalised', async () => { const x = await agentDoc('2000'); return x?.offer === null ? x : null; });
    assert.equal(a.readyReason, 'no-answer delay');
    assert.deepEqual([a.noAnswerCount, a.stats[d].missedCall], [1, 1]);
    await recordHistory(api.client.workflow.getHandle(memberWorkflowId(d, m)), 'progressive-agent-no-answer');
    assert.equal((await api.req('DELETE', '/api/v2/agents/2000', { cred })).status, 200);
    const h = api.client.workflow.getHandle(agentWorkflowId(DOMAIN, '2000'));
    await waitFor('agent workflow completed', async () => (await h.describe()).status.name === 'COMPLETED');
    await recordHistory(h, 'agent-no-answer-removed', 'agent');
  });

  test('member busy: the agent answered, is released without penalty, the member retries later', { timeout: 60_000 }, async () => {
    const d = await campaign(['1000']);
    // 1000 may still be in wrap-up from the first test.
    const m = await member(d, '2005550003');
    const doc = await waitFor('member retry wait', async () => { const x = await memberDoc(m); return x && x._probeCount === 1 && !x._lock ? x : null; }, 40_000);
    assert.equal(doc._log[0].cause, 'USER_BUSY', JSON.stringify(doc._log));
    const a = await waitFor('agent released', async () => { const x = await agentDoc('1000'); return x?.offer === null && x.stats[d] ? x : null; });
    assert.equal(a.stats[d].missedCall, 0);
    assert.equal(a.noAnswerCount, 0);
  });

  test('hold rule (§7.4): while the member waits for its result status the campaign wrap-up holds the agent; the status frees it in 2 s', { timeout: 60_000 }, async () => {
    await agent('1003', { wrapUpTime: 5 });
    const d = await campaign(['1003'], {
      parameters: { limit: 5, maxTryCount: 3, intervalTryCount: 600, originateTimeout: 10, wrapUpTime: 120, waitingForResultStatus: true },
      callResult: [{ name: 'Paid', type: 't' }, { name: 'Refused', type: 'f', items: ['price', 'other'] }, { name: 'Call back', type: 'n' }],
    });
    const m = await member(d, '1005550005');
    await waitFor('member waits for its status', async () => (await memberDoc(m))?._waitingForResultStatusCb === 1, 30_000);
    // §7.6: the agent's application gets the post-call form and the wrap-up with the offer (stored
    // with the form as JSON text: FerretDB keeps no array inside an array; the stream sends it as is).
    const offered = await waitFor('offered event', () => AgentEvent.findOne({ agent: `1003@${DOMAIN}`, type: 'offered' }).lean());
    const data = sentEventData(offered.data).webitel_data as Record<string, unknown>;
    assert.deepEqual([data.dlr_wrap, data.dlr_dsc_s], [120, { t: ['Paid'], f: [['Refused', 'price', 'other']], n: ['Call back'] }]);
    const held = await waitFor('agent held', async () => { const x = await agentDoc('1003'); return x?.offer === null && x.readyReason === 'wrap-up' ? x : null; });
    assert.ok(held.readyAt - Date.now() > 100_000, `held for the campaign wrap-up (${held.readyAt - Date.now()} ms left)`);
    const put = await api.req('PUT', `/api/v2/dialer/${d}/members/${m}/status`, { cred, body: { success: true } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const freed = await waitFor('hold shortened', async () => { const x = await agentDoc('1003'); return x && x.readyAt - Date.now() < 3000 ? x : null; });
    assert.equal(freed.readyReason, 'wrap-up');
    await waitFor('wrap-up ended', async () => AgentEvent.exists({ agent: `1003@${DOMAIN}`, type: 'wrap-up-ended' }), 10_000);
    await ended(m);
    const h = api.client.workflow.getHandle(memberWorkflowId(d, m));
    await waitFor('member workflow completed', async () => (await h.describe()).status.name === 'COMPLETED');
    await recordHistory(h, 'progressive-hold-status');
  });

  test('an agent that sets itself Waiting wakes its campaign at once: the next member is granted on that signal, not on the 1-s re-check', { timeout: 60_000 }, async () => {
    await agent('1005', { status: 'Available (On Demand)' });
    const d = await campaign(['1005']);
    const [m1, m2] = [await member(d, '1005550011'), await member(d, '1005550012')];
    const first = await waitFor('one member ended', async () => ((await memberDoc(m1))?._endCause ? m1 : (await memberDoc(m2))?._endCause ? m2 : null), 30_000);
    const second = first === m1 ? m2 : m1;
    // On Demand: after its call the agent holds itself Reserved; the campaign re-checks every second.
    await waitFor('agent reserved after its call', async () => { const x = await agentDoc('1005'); return x?.offer === null && x.state === 'Reserved'; });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(sim.calls().filter((c) => c.channelVars.dlr_member_id === second).length, 0, 'nobody called while the agent is Reserved');
    const put = await api.req('PUT', '/api/v2/agents/1005/status', { cred, body: { state: 'Waiting' } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    await waitFor('the next member called', async () => sim.calls().some((c) => c.channelVars.dlr_member_id === second), 20_000);
    // The campaign's wait ended on the agent's signal (the claim came before any timer fired). The
    // last signal is the PUT's (one may come earlier: the agent's first store is a login too).
    const camp = api.client.workflow.getHandle(campaignWorkflowId(d));
    assert.equal(afterEachSignal(await camp.fetchHistory(), 'agentFree', 'claimAndGrant').at(-1), 'activity');
    await ended(second);
    await waitFor('agent back from the second call', async () => (await agentDoc('1005'))?.offer === null);
    assert.equal((await api.req('DELETE', '/api/v2/agents/1005', { cred })).status, 200);
    const h = api.client.workflow.getHandle(agentWorkflowId(DOMAIN, '1005'));
    await waitFor('agent workflow completed', async () => (await h.describe()).status.name === 'COMPLETED');
    await recordHistory(h, 'agent-on-demand-waiting', 'agent');
  });

  test('no agent logged in: the campaign grants no line and nobody is called', { timeout: 30_000 }, async () => {
    await agent('3000', { status: 'Logged Out', state: 'Idle' });
    const d = await campaign(['3000']);
    const m = await member(d, '1005550004');
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(sim.calls().filter((c) => c.channelVars.dlr_member_id === m).length, 0);
    assert.equal((await memberDoc(m))!._probeCount, 0);
    // The agent logs in: the member is called.
    await api.req('PUT', '/api/v2/agents/3000/status', { cred, body: { status: 'Available', state: 'Waiting' } });
    await waitFor('member called once an agent is available', async () => sim.calls().some((c) => c.channelVars.dlr_member_id === m), 20_000);
  });
});
