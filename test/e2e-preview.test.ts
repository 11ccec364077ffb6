// Preview dialing (beyond v3; v4 and Genesys have it) end to end: a progressive campaign with
// `previewTimeoutSec` offers the member to a reserved agent before the call; the agent accepts
// (or lets the time run out) and the call proceeds as progressive, or skips / reschedules it, which
// costs the member no attempt.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, AgentEvent, type AgentDoc } from '../models/agent';
import { Member, type MemberDoc } from '../models';
import type { Simulator } from '../simulator';
import type { ApiHarness, Cred } from './api-support';
import { answeringPhones, e2eFile } from './support/e2e-stack';
import { recordHistory, waitFor } from './support/env';
import { memberWorkflowId } from '../workflows/messages';

const DOMAIN = 'preview.local';
let api: ApiHarness;
let sim: Simulator;
let cred: Cred;

e2eFile('e2e_preview', {
  domain: DOMAIN,
  simulator: { rules: { users: answeringPhones(0.2, [1000, 1001, 1002]), rules: [{ prefix: '100', outcome: { type: 'answer', ringSec: 0.2, talkSec: 1 } }] } },
  worker: { cdr: false, reconcile: false },
}, (s) => ({ api, sim, cred } = s));

async function setup(agentName: string, previewTimeoutSec: number, number: string): Promise<{ d: string; m: string }> {
  assert.equal((await api.req('POST', '/api/v2/agents', { cred, body: { name: agentName, contact: `user/${agentName}`, status: 'Available', state: 'Waiting' } })).status, 200);
  const c = await api.req('POST', '/api/v2/dialer', {
    cred,
    body: {
      name: 'Preview', type: 'Progressive Dialer', agents: [agentName], previewTimeoutSec,
      parameters: { limit: 2, maxTryCount: 3, intervalTryCount: 3600, originateTimeout: 10 },
      resources: [{ dialedNumber: '^(\\d+)$', destinations: [{ gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit: 5 }] }],
    },
  });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  const d = c.body.data.insertedIds[0];
  const r = await api.req('POST', `/api/v2/dialer/${d}/members?autoRun=true`, { cred, body: { name: 'Previewed', communications: [{ number }] } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { d, m: r.body.data.insertedIds[0] };
}

const offeredTo = (agent: string) =>
  waitFor(`offer to ${agent}`, async () => AgentEvent.findOne({ agent: `${agent}@${DOMAIN}`, type: 'offered' }).lean(), 20_000);
const calls = (m: string) => sim.calls().filter((c) => c.channelVars.dlr_member_id === m);

describe('preview', () => {
  test('accept: nothing is dialled before the agent accepts; then the call proceeds as progressive', { timeout: 60_000 }, async () => {
    const { d, m } = await setup('1000', 300, '1005550101');
    const ev = await offeredTo('1000');
    assert.ok((ev.data.preview as { until: number }).until > Date.now(), 'the offer says until when the agent may decide');
    assert.equal((ev.data.member as { id: string }).id, m);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(calls(m).length, 0, 'not dialled during the preview');
    const bad = await api.req('PUT', '/api/v2/agents/1000/preview', { cred, body: { offerId: 'not-this-one', decision: 'accept' } });
    assert.equal(bad.status, 409);
    const missing = await api.req('PUT', '/api/v2/agents/1000/preview', { cred, body: { offerId: ev.data.offerId, decision: 'reschedule' } });
    assert.equal(missing.status, 400);
    assert.match(missing.body.info, /^nextTryAt: /);
    const ok = await api.req('PUT', '/api/v2/agents/1000/preview', { cred, body: { offerId: ev.data.offerId, decision: 'accept' } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const doc = await waitFor('member ended', async () => { const x = await Member.findById(m).lean<MemberDoc>(); return x?._endCause ? x : null; }, 30_000);
    assert.equal(doc._endCause, 'NORMAL_CLEARING');
    assert.equal(calls(m)[0]?.url, `user/1000@${DOMAIN}`);
    const h = api.client.workflow.getHandle(memberWorkflowId(d, m));
    await waitFor('member workflow completed', async () => (await h.describe()).status.name === 'COMPLETED');
    await recordHistory(h, 'preview-accepted');
  });

  test('skip: no call, no attempt counted, the member waits for the retry interval; the agent is free again', { timeout: 60_000 }, async () => {
    const { m } = await setup('1001', 300, '1005550102');
    const ev = await offeredTo('1001');
    const skip = await api.req('PUT', '/api/v2/agents/1001/preview', { cred, body: { offerId: ev.data.offerId, decision: 'skip' } });
    assert.equal(skip.status, 200, JSON.stringify(skip.body));
    const doc = await waitFor('member rescheduled', async () => { const x = await Member.findById(m).lean<MemberDoc>(); return x && (x._nextTryTime ?? 0) > Date.now() + 3_000_000 ? x : null; });
    assert.equal(doc._probeCount, 0);
    assert.equal(calls(m).length, 0);
    const a = await waitFor('agent free', async () => { const x = await Agent.findById(`1001@${DOMAIN}`).lean<AgentDoc>(); return x?.offer === null ? x : null; });
    assert.deepEqual([a.state, a.noAnswerCount], ['Waiting', 0]);
    const again = await api.req('PUT', '/api/v2/agents/1001/preview', { cred, body: { offerId: ev.data.offerId, decision: 'accept' } });
    assert.equal(again.status, 409, 'decided offers cannot be decided again');
  });

  test('no decision in time: the call proceeds', { timeout: 60_000 }, async () => {
    const { m } = await setup('1002', 1, '1005550103');
    await waitFor('called after the preview time', async () => calls(m).length > 0, 20_000);
  });
});
