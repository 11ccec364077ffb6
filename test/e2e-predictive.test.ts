// Predictive dialing end to end (§2.4, §7.5): campaigns and agents through the REST API, the
// campaign pacing with rules/predictive.ts, the member leg called first and parked on answer, an
// agent located and bridged (uuid_bridge), or the member dropped (LOSE_RACE) or lost while its agent
// rang (hupall ORIGINATOR_CANCEL); the abandon counters and the pacing mode on the dialer document.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, type AgentDoc } from '../models/agent';
import { Campaign, Member, type MemberDoc } from '../models';
import { Attempt } from '../models/attempt';
import type { Pacing } from '../rules';
import type { Simulator } from '../simulator';
import type { ApiHarness, Cred } from './api-support';
import { answeringPhones, e2eFile } from './support/e2e-stack';
import { appliedAttempt, recordHistory, waitFor } from './support/env';
import { afterEachSignal } from './support/history-order';
import { campaignWorkflowId, memberInfoQuery, memberWorkflowId } from '../workflows/messages';

const DOMAIN = 'pred.local';
let api: ApiHarness;
let sim: Simulator;
let cred: Cred;

e2eFile('e2e_predictive', {
  domain: DOMAIN,
    simulator: {
      rules: {
        users: {
        ...answeringPhones(0.3, [1000, 1001, 1002]),
          // Rings 2.5 s: the bridge comes seconds after the member's answer, so talk time from the
          // bridge differs from talk time from the answer even in FreeSWITCH's whole-second epochs.
          1004: { type: 'answer', ringSec: 2.5 },
          2001: { type: 'answer', ringSec: 0.3 },
          2002: { type: 'answer', ringSec: 0.3 },
          2003: { type: 'answer', ringSec: 0.3 },
          // Slow to answer: longer than the campaigns' maxLocateAgentSec, or than the member waits.
          3000: { type: 'answer', ringSec: 15 },
          3001: { type: 'answer', ringSec: 15 },
          1006: { type: 'answer', ringSec: 0.3 },
        },
        rules: [
          { prefix: '100', outcome: { type: 'answer', ringSec: 0.3, talkSec: 8 } },
          // Answers and hangs up after 6 s (while a slow agent rings).
          { prefix: '300', outcome: { type: 'answer', ringSec: 0.3, talkSec: 6 } },
          { prefix: '400', outcome: { type: 'answer', ringSec: 0.3, talkSec: 30 } },
          { prefix: '800', outcome: { type: 'answer', ringSec: 1, talkSec: 5 } },
          // AMD (§3.7): mod_amd decides 3 s after the answer.
          { prefix: '500', outcome: { type: 'answer', ringSec: 0.3, talkSec: 30, amd: { result: 'machine', sec: 3, cause: 'LONGGREETING' } } },
          { prefix: '600', outcome: { type: 'answer', ringSec: 0.3, talkSec: 8, amd: { result: 'human', sec: 3 } } },
          // Rings 2 s: time to send the campaign's only agent on a break before the member answers.
          { prefix: '700', outcome: { type: 'answer', ringSec: 2, talkSec: 4 } },
          // mod_amd cannot decide: NOTSURE (TOOLONG) at total_analysis_time.
          { prefix: '900', outcome: { type: 'answer', ringSec: 0.3, talkSec: 10, amd: { result: 'notsure' } } },
        ],
      },
    },
    worker: { cdr: false, reconcile: false },
}, (s) => ({ api, sim, cred } = s));

async function agent(name: string, body: Record<string, unknown> = {}) {
  const r = await api.req('POST', '/api/v2/agents', { cred, body: { name, contact: `user/${name}`, status: 'Available', state: 'Waiting', ...body } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function campaign(agents: string[], parameters: Record<string, unknown> = {}, over: Record<string, unknown> = {}): Promise<string> {
  const r = await api.req('POST', '/api/v2/dialer', {
    cred,
    body: {
      name: 'Predictive', type: 'Predictive Dialer', agents,
      parameters: { limit: 5, maxTryCount: 3, intervalTryCount: 600, originateTimeout: 10, wrapUpTime: 30, maxLocateAgentSec: 10, ...parameters },
      agentParams: { wrapUpTime: 0 },
      resources: [{ dialedNumber: '^(\\d+)$', destinations: [{ gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit: 5 }] }],
      ...over,
    },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.insertedIds[0];
}

async function members(dialer: string, numbers: string[]): Promise<string[]> {
  const r = await api.req('POST', `/api/v2/dialer/${dialer}/members?autoRun=true`, {
    cred, body: numbers.map((number) => ({ name: `M ${number}`, communications: [{ number }] })),
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.insertedIds;
}

const memberDoc = (id: string) => Member.findById(id).lean<MemberDoc>();
const agentDoc = (name: string) => Agent.findById(`${name}@${DOMAIN}`).lean<AgentDoc>();
const ended = (id: string, ms = 40_000) => waitFor(`member ${id} ended`, async () => { const d = await memberDoc(id); return d?._endCause ? d : null; }, ms);
const legsOf = (memberId: string) => sim.calls().filter((c) => c.channelVars.dlr_member_id === memberId);
const agentLegsFor = (memberUuid: string) => sim.calls().filter((c) => c.channelVars.cc_member_session_uuid === memberUuid);
const completed = async (d: string) => {
  const h = api.client.workflow.getHandle(campaignWorkflowId(d));
  await waitFor('campaign complete', async () => (await h.describe()).status.name === 'COMPLETED', 30_000);
  return h;
};
const dialerDoc = async (d: string) => {
  const r = await api.req('GET', `/api/v2/dialer/${d}`, { cred });
  assert.equal(r.status, 200);
  return r.body.data;
};

describe('predictive dialing', () => {
  test('the member is called first, parked on answer, hears the playbackFile, and is bridged to a located agent', { timeout: 60_000 }, async () => {
    await agent('1004');
    const d = await campaign(['1004'], {}, { playbackFile: { uri: 'ivr/ivr-one_moment_please.wav' } });
    const [m] = await members(d, ['1005550001']);
    const doc = await ended(m);
    assert.equal(doc._endCause, 'NORMAL_CLEARING', JSON.stringify(doc._log));
    assert.equal(doc.callSuccessful, true);
    const [leg] = legsOf(m);
    assert.equal(leg.url, 'sofia/gateway/gw1/1005550001', 'the member is called first');
    assert.equal(leg.channelVars.cc_side, 'member');
    assert.match(leg.command, / &park\(\)$/, 'parked once answered');
    assert.deepEqual(leg.executed, ['broadcast:ivr/ivr-one_moment_please.wav'], 'the playbackFile played to the answered member');
    const [agentLeg] = agentLegsFor(leg.originationUuid!);
    assert.equal(agentLeg?.url, 'user/1004@pred.local', 'the located agent is called, in its own domain');
    assert.equal(agentLeg.channelVars.cc_side, 'agent');
    assert.equal(agentLeg.result?.split(' ')[0], '+OK');
    const talk = doc._log[0].talkSec as number;
    assert.ok(talk >= 0 && talk <= 6, `talk time from the bridge (the member talks 8 s after its answer, the agent answers ≥ 2.5 s after it): ${talk}`);
    const wait = doc._log[0].waitSec as number;
    assert.ok(wait >= 2.5 && wait <= 6, `the member waited from its answer to the bridge (the agent answers after 2.5 s): ${wait}`);
    const a = await waitFor('agent back', async () => { const x = await agentDoc('1004'); return x?.offer === null ? x : null; });
    assert.deepEqual([a.stats[d].callCount, a.stats[d].bridgedCount], [1, 1]);
    const h = await completed(d);
    const dialer = await dialerDoc(d);
    assert.equal(dialer.stats.predictAbandoned ?? 0, 0);
    assert.equal(dialer.stats.waitSec, wait, 'stats.waitSec adds the attempt\'s wait');
    assert.equal(dialer.pacing.abandon.find((w: { window: string }) => w.window === 'us-30d').live, 1, 'one live answer counted');
    assert.equal(dialer._pacingState, undefined, 'the pacing state is not shown');
    await recordHistory(api.client.workflow.getHandle(memberWorkflowId(d, m)), 'predictive-bridged');
    await recordHistory(h, 'predictive-complete', 'campaign');
  });

  test('no agent within maxLocateAgentSec: the member is dropped with LOSE_RACE and ends ABANDONED; its agent leg is cancelled', { timeout: 60_000 }, async () => {
    await agent('3000');
    const d = await campaign(['3000'], { maxLocateAgentSec: 2 });
    const [m] = await members(d, ['4005550002']);
    const doc = await ended(m);
    assert.equal(doc._endCause, 'ABANDONED', JSON.stringify(doc._log));
    assert.equal(doc._log[0].cause, 'LOSE_RACE');
    const [leg] = legsOf(m);
    assert.equal(leg.hangupCause, 'LOSE_RACE');
    const agentLegs = agentLegsFor(leg.originationUuid!);
    assert.equal(agentLegs.length, 1);
    assert.equal(agentLegs[0].result, '-ERR ORIGINATOR_CANCEL', 'the ringing agent leg is cancelled');
    const a = await waitFor('agent free, no penalty', async () => { const x = await agentDoc('3000'); return x?.offer === null ? x : null; });
    assert.equal(a.noAnswerCount ?? 0, 0);
    await completed(d);
    const dialer = await dialerDoc(d);
    assert.equal(dialer.stats.predictAbandoned, 1);
    const wait = doc._log[0].waitSec as number;
    assert.ok(wait >= 2 && wait <= 4, `the dropped member waited maxLocateAgentSec: ${wait}`);
    assert.equal(dialer.stats.waitSec, wait);
    const attempt = await appliedAttempt<{ result?: { abandoned?: boolean } }>(leg.originationUuid!);
    assert.equal(attempt?.result?.abandoned, true, 'the attempt says abandoned (the console counts it)');
    for (const w of dialer.pacing.abandon) assert.deepEqual([w.window, w.abandoned, w.live], [w.window, 1, 1]);
    assert.equal((await Campaign.findById(d).lean<{ _pacingState?: unknown }>())?._pacingState !== undefined, true, 'kept for the next run');
    await recordHistory(api.client.workflow.getHandle(memberWorkflowId(d, m)), 'predictive-abandoned');

    // The next run of the campaign (a new workflow run: a restart) goes on from the stored pacing:
    // its abandon windows still hold the first run's call.
    const [m2] = await members(d, ['4005550012']);
    assert.equal((await ended(m2))._endCause, 'ABANDONED');
    await completed(d);
    const again = await dialerDoc(d);
    for (const w of again.pacing.abandon) assert.deepEqual([w.window, w.abandoned, w.live], [w.window, 2, 2], 'both runs counted');
  });

  test('an answered member waiting for an agent hunts as soon as one becomes free (its campaign passes the agent\'s signal on)', { timeout: 60_000 }, async () => {
    await agent('1006');
    const d = await campaign(['1006'], { maxLocateAgentSec: 20 });
    const [m] = await members(d, ['7005550005']);
    await waitFor('member leg ringing', async () => legsOf(m).length > 0);
    const brk = await api.req('PUT', '/api/v2/agents/1006/status', { cred, body: { status: 'On Break' } });
    assert.equal(brk.status, 200, JSON.stringify(brk.body));
    const wf = api.client.workflow.getHandle(memberWorkflowId(d, m));
    await waitFor('answered, locating an agent', async () => (await wf.query(memberInfoQuery)).waitReason === 'answered: locating an agent', 20_000);
    await new Promise((r) => setTimeout(r, 1500));
    const [leg] = legsOf(m);
    assert.equal(agentLegsFor(leg.originationUuid!).length, 0, 'no agent called while it is on break');
    const back = await api.req('PUT', '/api/v2/agents/1006/status', { cred, body: { status: 'Available', state: 'Waiting' } });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    const doc = await ended(m);
    assert.equal(doc._endCause, 'NORMAL_CLEARING', JSON.stringify(doc._log));
    assert.equal(agentLegsFor(leg.originationUuid!)[0]?.url, 'user/1006@pred.local');
    // The member's wait ended on the signal (its hunt came before any retry timer fired).
    assert.deepEqual(afterEachSignal(await wf.fetchHistory(), 'agentFree', 'huntAgent'), ['activity']);
    await recordHistory(wf, 'predictive-agent-freed');
    await recordHistory(await completed(d), 'predictive-agent-freed', 'campaign');
  });

  test('retryAbandoned: an abandoned member is tried again later', { timeout: 60_000 }, async () => {
    await agent('3001');
    const d = await campaign(['3001'], { maxLocateAgentSec: 1, retryAbandoned: true });
    const [m] = await members(d, ['4005550003']);
    const doc = await waitFor('attempt over', async () => { const x = await memberDoc(m); return x?._log?.[0]?.state === 'end' ? x : null; });
    assert.equal(doc._endCause ?? null, null);
    assert.ok((doc._nextTryTime as number) > Date.now() + 500_000, 'retried after intervalTryCount');
  });

  test('the member hangs up while its agent rings: the agent leg is cancelled (ORIGINATOR_CANCEL), the member is abandoned', { timeout: 60_000 }, async () => {
    const d = await campaign(['3000'], { maxLocateAgentSec: 20 });
    await waitFor('3000 free', async () => ((await agentDoc('3000'))?.offer === null ? true : null));
    const [m] = await members(d, ['3005550004']);
    const doc = await ended(m);
    assert.equal(doc._endCause, 'ABANDONED', JSON.stringify(doc._log));
    const [leg] = legsOf(m);
    assert.equal(leg.hangupCause, 'NORMAL_CLEARING', 'the member hung up');
    const [agentLeg] = agentLegsFor(leg.originationUuid!);
    assert.equal(agentLeg?.result, '-ERR ORIGINATOR_CANCEL');
    const wait = doc._log[0].waitSec as number;
    assert.ok(wait >= 5 && wait <= 7, `the member waited until it hung up, 6 s after its answer: ${wait}`);
    const a = await waitFor('agent free', async () => { const x = await agentDoc('3000'); return x?.offer === null ? x : null; });
    assert.equal(a.noAnswerCount ?? 0, 0, 'no penalty for the agent');
    await recordHistory(api.client.workflow.getHandle(memberWorkflowId(d, m)), 'predictive-member-hangup');
  });

  test('AMD says machine: hung up NORMAL_UNSPECIFIED (a Retry cause), no agent called, neither live nor abandoned', { timeout: 60_000 }, async () => {
    await agent('1002');
    const d = await campaign(['1002'], { maxTryCount: 1 }, { amd: { enabled: true } });
    const [m] = await members(d, ['5005550031']);
    const doc = await ended(m);
    assert.equal(doc._endCause, 'MAX_TRY_COUNT', JSON.stringify(doc._log));
    const log = doc._log[0];
    assert.deepEqual([log.cause, log.amdResult, log.amdCause, log.talkSec], ['NORMAL_UNSPECIFIED', 'MACHINE', 'LONGGREETING', 0]);
    const [leg] = legsOf(m);
    assert.match(leg.command, /'amd:silence_threshold=256 [^']*,sleep:5100,park' inline$/, 'AMD first, then parked');
    assert.deepEqual([leg.channelVars.amd_on_human, leg.channelVars.amd_on_machine], ['break', 'hangup::NORMAL_UNSPECIFIED']);
    assert.equal(agentLegsFor(leg.originationUuid!).length, 0, 'no agent for a machine');
    await completed(d);
    const dialer = await dialerDoc(d);
    assert.deepEqual(dialer.stats.amd, { MACHINE: 1 });
    assert.equal(dialer.stats.predictAbandoned ?? 0, 0);
    assert.equal(log.waitSec, undefined, 'a machine waits for no agent');
    assert.equal(dialer.stats.waitSec ?? 0, 0);
    for (const w of dialer.pacing.abandon) assert.deepEqual([w.window, w.abandoned, w.live], [w.window, 0, 0], 'a machine is not a live answer');
    const kept = await Campaign.findById(d).lean<{ _pacingState?: Pacing }>();
    const machines = kept?._pacingState?.state.compliance.windows['ofcom-24h'].buckets.amdMachine ?? [];
    assert.equal(machines.reduce((a, b) => a + b, 0), 1, 'reported to the pacing as a machine (Ofcom counts a share of them)');
    await recordHistory(api.client.workflow.getHandle(memberWorkflowId(d, m)), 'predictive-amd-machine');
  });

  test('AMD says human: then parked and bridged; the wait for an agent starts after AMD, and AMD is not talk time', { timeout: 60_000 }, async () => {
    await waitFor('1002 free', async () => ((await agentDoc('1002'))?.offer === null ? true : null));
    // maxLocateAgentSec 2 < the 3 s of analysis: the member is bridged only if the clock starts after AMD.
    const d = await campaign(['1002'], { maxLocateAgentSec: 2 }, { amd: { enabled: true } });
    const [m] = await members(d, ['6005550032']);
    const doc = await ended(m);
    assert.equal(doc._endCause, 'NORMAL_CLEARING', JSON.stringify(doc._log));
    const log = doc._log[0];
    assert.equal(log.amdResult, 'HUMAN');
    const talk = log.talkSec as number;
    assert.ok(talk >= 0 && talk <= 6, `talk time from the bridge, without the analysis: ${talk}`);
    const wait = log.waitSec as number;
    assert.ok(wait >= 3 && wait <= 6, `the wait from the answer includes the 3 s of analysis: ${wait}`);
    const [leg] = legsOf(m);
    assert.equal(agentLegsFor(leg.originationUuid!)[0]?.result?.split(' ')[0], '+OK', 'the agent is called');
    await completed(d);
    const dialer = await dialerDoc(d);
    assert.deepEqual(dialer.stats.amd, { HUMAN: 1 });
    assert.equal(dialer.stats.waitSec, wait);
    assert.equal(dialer.stats.predictAbandoned ?? 0, 0);
    assert.equal(dialer.pacing.abandon.find((w: { window: string }) => w.window === 'us-30d').live, 1, 'one live answer counted');
    await recordHistory(api.client.workflow.getHandle(memberWorkflowId(d, m)), 'predictive-amd-human');
  });

  test('AMD says NOTSURE and allowNotSure: parked and bridged to an agent like a person', { timeout: 60_000 }, async () => {
    await waitFor('1002 free', async () => ((await agentDoc('1002'))?.offer === null ? true : null));
    const d = await campaign(['1002'], {}, { amd: { enabled: true, allowNotSure: true, totalAnalysisTime: 2000 } });
    const [m] = await members(d, ['9005550033']);
    const doc = await ended(m);
    assert.equal(doc._endCause, 'NORMAL_CLEARING', JSON.stringify(doc._log));
    const log = doc._log[0];
    assert.deepEqual([log.amdResult, log.amdCause], ['NOTSURE', 'TOOLONG']);
    const [leg] = legsOf(m);
    assert.equal(leg.channelVars.amd_on_notsure, 'break', 'NOTSURE ends the wait like a person');
    assert.equal(agentLegsFor(leg.originationUuid!)[0]?.result?.split(' ')[0], '+OK', 'the agent is called');
    assert.ok((log.waitSec as number) >= 2, `the wait includes the 2 s of analysis: ${log.waitSec}`);
    await completed(d);
    const dialer = await dialerDoc(d);
    assert.deepEqual(dialer.stats.amd, { NOTSURE: 1 });
    assert.equal(dialer.stats.predictAbandoned ?? 0, 0);
    assert.equal(dialer.pacing.abandon.find((w: { window: string }) => w.window === 'us-30d').live, 1, 'one live answer counted');
  });

  test('AMD says NOTSURE, not allowed: hung up NORMAL_UNSPECIFIED like a machine, no agent called', { timeout: 60_000 }, async () => {
    const d = await campaign(['1002'], { maxTryCount: 1 }, { amd: { enabled: true, totalAnalysisTime: 2000 } });
    const [m] = await members(d, ['9005550034']);
    const doc = await ended(m);
    assert.equal(doc._endCause, 'MAX_TRY_COUNT', JSON.stringify(doc._log));
    const log = doc._log[0];
    assert.deepEqual([log.cause, log.amdResult, log.waitSec], ['NORMAL_UNSPECIFIED', 'NOTSURE', undefined]);
    const [leg] = legsOf(m);
    assert.equal(leg.channelVars.amd_on_notsure, 'hangup::NORMAL_UNSPECIFIED');
    assert.equal(agentLegsFor(leg.originationUuid!).length, 0, 'no agent for an unallowed NOTSURE');
    await completed(d);
    const dialer = await dialerDoc(d);
    assert.deepEqual(dialer.stats.amd, { NOTSURE: 1 });
    for (const w of dialer.pacing.abandon) assert.deepEqual([w.window, w.abandoned, w.live], [w.window, 0, 0], 'not a live answer');
    const kept = await Campaign.findById(d).lean<{ _pacingState?: Pacing }>();
    const machines = kept?._pacingState?.state.compliance.windows['ofcom-24h'].buckets.amdMachine ?? [];
    assert.equal(machines.reduce((a, b) => a + b, 0), 1, 'reported to the pacing as a machine');
  });

  test('fewer logged agents than predictMinAgents: progressive, never more calls than free agents, and the dialer says why', { timeout: 90_000 }, async () => {
    await agent('1001');
    const d = await campaign(['1001'], { predictMinAgents: 2 });
    const ids = await members(d, ['1005550011', '1005550012', '1005550013']);
    for (const id of ids) await ended(id);
    const legs = ids.flatMap(legsOf).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    for (let i = 1; i < legs.length; i++) assert.ok(legs[i].startedAt >= legs[i - 1].endedAt!, 'one call at a time with one agent');
    await completed(d);
    const dialer = await dialerDoc(d);
    assert.equal(dialer.pacing.mode, 'progressive');
    assert.match(dialer.pacing.reason, /^1 logged agent\(s\), fewer than 2: dialing progressively$/);
  });

  test('several agents, learnt: calls are placed ahead of free agents (more member legs up than agents)', { timeout: 180_000 }, async () => {
    const team = ['2001', '2002', '2003'];
    for (const a of team) await agent(a);
    // No learning phase, and a cap (50 %) this short run cannot reach: the forecast decides from the start.
    const d = await campaign(team, { limit: 5, predictStartCallCount: 0, predictStartBridgedCount: 0, maxPredictiveSilentCalls: 50 });
    const ids = await members(d, Array.from({ length: 20 }, (_, i) => `80055500${String(i).padStart(2, '0')}`));
    const docs = await Promise.all(ids.map((id) => ended(id, 150_000)));
    for (const x of docs) assert.ok(['NORMAL_CLEARING', 'ABANDONED'].includes(x._endCause as string), JSON.stringify(x._log));
    // Most member legs up at once: progressive never has more than its 3 agents (bridged + in flight ≤ agents).
    const legs = ids.flatMap(legsOf);
    const edges = legs.flatMap((l) => [{ t: l.startedAt, up: 1 }, { t: l.endedAt!, up: -1 }]).sort((a, b) => a.t.localeCompare(b.t) || a.up - b.up);
    let up = 0;
    let most = 0;
    for (const e of edges) most = Math.max(most, (up += e.up));
    assert.ok(most > team.length, `at most ${most} member legs up at once with ${team.length} agents`);
    const bridged = docs.filter((x) => x._endCause === 'NORMAL_CLEARING').length;
    assert.ok(bridged >= ids.length / 2, `${bridged} of ${ids.length} bridged`);
    await completed(d);
    const dialer = await dialerDoc(d);
    assert.equal(dialer.pacing.mode, 'predictive', dialer.pacing.reason);
    assert.equal(dialer.stats.predictAbandoned ?? 0, ids.length - bridged);
  });

  test('over the abandon cap: the campaign slows to progressive and says so', { timeout: 90_000 }, async () => {
    // Cap 50 %: one abandon in two live answers is over 90 % of it. Two agents, two members at once:
    // the member offered the slow agent (3000) hangs up before it answers, the other is bridged to 1000.
    await agent('1000');
    const d = await campaign(['1000', '3000'], { maxPredictiveSilentCalls: 50, predictMinAgents: 1 });
    await waitFor('agents free', async () => ((await agentDoc('3000'))?.offer === null && (await agentDoc('1000'))?.offer === null ? true : null));
    const ids = await members(d, ['3005550021', '1005550022']);
    const docs = await Promise.all(ids.map((id) => ended(id)));
    assert.deepEqual(docs.map((x) => x._endCause).sort(), ['ABANDONED', 'NORMAL_CLEARING']);
    const h = await completed(d);
    const dialer = await dialerDoc(d);
    // The Temporal UI's "current details" of the campaign workflow.
    const meta = await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.match(meta.currentDetails ?? '', /^\*\*Pacing: progressive\*\* — UK Ofcom 24 h abandon rate 50\.0 %/);
    assert.deepEqual(dialer.pacing.abandon.map((w: { abandoned: number; live: number }) => [w.abandoned, w.live]), [[1, 2], [1, 2]]);
    assert.equal(dialer.pacing.mode, 'progressive');
    assert.match(dialer.pacing.reason, /^UK Ofcom 24 h abandon rate 50\.0 % \(1 of 2 live answers\) is at 90\.0 % of the 50\.0 % cap: dialing progressively$/);
  });
});
