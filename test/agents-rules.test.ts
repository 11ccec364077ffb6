// The agent rules of spec §7 (rules/agents.ts) as pure functions: parameters and overrides, the
// after-offer bookkeeping of §7.4 (each of the six parameters), status changes, and the hunting
// order of §7.3 with tier levels.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  agentConnected,
  agentDialString,
  resultForm,
  agentLegOutcome,
  emptyAgentStats,
  endOffer,
  huntOrder,
  newAgentRuntime,
  notOfferable,
  reserveAgent,
  resolveAgentParams,
  setAgentStatus,
  statsOfDay,
  statusChangeProblem,
  statusSent,
  tierList,
  type AgentCampaignStats,
  type AgentParams,
  type AgentRuntime,
} from '../rules';

const T0 = 1_700_000_000_000;
const params = (p: Partial<AgentParams> = {}) => resolveAgentParams(p);

function available(over: Partial<AgentRuntime> = {}): AgentRuntime {
  return { ...setAgentStatus(newAgentRuntime(), { status: 'Available', state: 'Waiting' }, T0 - 10_000), ...over };
}

function reserved(p: Partial<AgentParams> = {}, over: Partial<AgentRuntime> = {}): AgentRuntime {
  return reserveAgent(available(over), { offerId: 'o1', campaignId: 'c1', memberId: 'm1', at: T0, params: params(p) }, T0);
}

describe('agent parameters (§7.2)', () => {
  test('the campaign value wins when it is a finite number; callTimeout only when > 0; defaults otherwise', () => {
    assert.deepEqual(resolveAgentParams({}), { callTimeout: 60, wrapUpTime: 0, maxNoAnswer: 0, busyDelayTime: 0, rejectDelayTime: 0, noAnswerDelayTime: 0 });
    const agent = { callTimeout: 20, wrapUpTime: 30, maxNoAnswer: 3, busyDelayTime: 5, rejectDelayTime: 6, noAnswerDelayTime: 7 };
    assert.deepEqual(resolveAgentParams(agent, { wrapUpTime: 0, callTimeout: 0, maxNoAnswer: null, noAnswerDelayTime: Number.NaN, rejectDelayTime: '9', busyDelayTime: 1 }), {
      callTimeout: 20, wrapUpTime: 0, maxNoAnswer: 3, busyDelayTime: 1, rejectDelayTime: 6, noAnswerDelayTime: 7,
    });
    assert.equal(resolveAgentParams(agent, { callTimeout: 15 }).callTimeout, 15);
  });
});

describe('the contact dials in the agent\'s own domain', () => {
  test('user/<ext> gets the domain (FreeSWITCH would use its default domain); another domain is refused; other endpoints as given', () => {
    assert.deepEqual(agentDialString('user/1000', 'acme.local'), { dial: 'user/1000@acme.local' });
    assert.deepEqual(agentDialString('user/1000@ACME.local', 'acme.local'), { dial: 'user/1000@ACME.local' });
    assert.match((agentDialString('User/1000@other.local', 'acme.local') as { problem: string }).problem, /another domain \(other\.local\)/);
    assert.deepEqual(agentDialString('sofia/gateway/gw1/1000', 'acme.local'), { dial: 'sofia/gateway/gw1/1000' });
    // WebRTC agents (mod_verto): the same rule.
    assert.deepEqual(agentDialString('verto.rtc/1000', 'acme.local'), { dial: 'verto.rtc/1000@acme.local' });
    assert.deepEqual(agentDialString('verto.rtc/1000@acme.local', 'acme.local'), { dial: 'verto.rtc/1000@acme.local' });
    assert.match((agentDialString('verto.rtc/1000@other.local', 'acme.local') as { problem: string }).problem, /another domain \(other\.local\).*verto\.rtc\/<ext>@acme\.local/);
  });
});

describe('offerable (§7.3 eligibility)', () => {
  test('Available or On Demand, Waiting, not reserved, past ready time (wrap-up and delays)', () => {
    assert.equal(notOfferable(available(), T0), null);
    assert.equal(notOfferable(available({ status: 'Available (On Demand)' }), T0), null);
    assert.match(notOfferable(newAgentRuntime(), T0)!, /status is Logged Out/);
    assert.match(notOfferable(available({ status: 'On Break' }), T0)!, /On Break/);
    assert.match(notOfferable(available({ state: 'Idle' }), T0)!, /state is Idle/);
    assert.match(notOfferable(reserved(), T0)!, /already reserved/);
    assert.match(notOfferable(available({ readyAt: T0 + 1, readyReason: 'wrap-up' }), T0)!, /not ready/);
  });
});

describe('after an offer (§7.4)', () => {
  test('reservation: Reserved, call_count +1, last_offered_call', () => {
    const a = reserved();
    assert.equal(a.state, 'Reserved');
    assert.deepEqual([a.stats.c1.callCount, a.stats.c1.lastOfferedCall, a.stats.c1.lastStatus], [1, T0, 'active -> m1']);
  });

  test('daily reset (§8.3): the first offer of a new calendar day starts the campaign\'s statistics again; the hunt ignores an earlier day\'s', () => {
    const offer = (id: string, at: number) => ({ offerId: id, campaignId: 'c1', memberId: 'm1', at, params: params() });
    let a = reserveAgent(available(), offer('o1', T0), T0, '2026-12-05');
    a = endOffer(a, { kind: 'bridged', talkSec: 30, statusPending: false, campaignWrapUpSec: 0 }, T0 + 40_000);
    a = reserveAgent({ ...a, readyAt: 0 }, offer('o2', T0 + 60_000), T0 + 60_000, '2026-12-05');
    assert.deepEqual([a.stats.c1.callCount, a.stats.c1.callTimeSec, a.stats.c1.day], [2, 30, '2026-12-05'], 'same day: counted on');
    a = endOffer(a, { kind: 'no-answer', cause: 'NO_ANSWER' }, T0 + 70_000);
    const next = reserveAgent({ ...a, readyAt: 0 }, offer('o3', T0 + 86_400_000), T0 + 86_400_000, '2026-12-06');
    assert.deepEqual([next.stats.c1.callCount, next.stats.c1.callTimeSec, next.stats.c1.missedCall, next.stats.c1.day], [1, 0, 0, '2026-12-06'], 'a new day: from zero');
    assert.equal(statsOfDay(a.stats.c1, '2026-12-06'), null, 'yesterday\'s statistics do not order today\'s hunt');
    assert.equal(statsOfDay(a.stats.c1, '2026-12-05'), a.stats.c1);
  });

  test('bridged: wrap-up time holds the agent, miss count reset, talk and connect time counted', () => {
    let a = reserved({ wrapUpTime: 30 }, { noAnswerCount: 2 });
    a = agentConnected(a, 'o1', T0 + 4000);
    assert.equal(a.state, 'In a queue call');
    a = endOffer(a, { kind: 'bridged', talkSec: 42, statusPending: false, campaignWrapUpSec: 120 }, T0 + 50_000);
    assert.equal(a.state, 'Waiting');
    assert.equal(a.readyAt, T0 + 80_000);
    assert.equal(a.readyReason, 'wrap-up');
    assert.equal(a.noAnswerCount, 0);
    assert.deepEqual([a.stats.c1.bridgedCount, a.stats.c1.callTimeSec, a.stats.c1.connectedTimeSec, a.stats.c1.wrapTimeSec], [1, 42, 4, 30]);
    assert.match(notOfferable(a, T0 + 79_999)!, /not ready/);
    assert.equal(notOfferable(a, T0 + 80_000), null);
  });

  test('hold rule: a pending result status holds for the campaign wrap-up time; the status shortens it to 2 s', () => {
    let a = endOffer(reserved({ wrapUpTime: 30 }), { kind: 'bridged', talkSec: 1, statusPending: true, campaignWrapUpSec: 120 }, T0);
    assert.equal(a.readyAt, T0 + 120_000);
    a = statusSent(a, T0 + 10_000);
    assert.equal(a.readyAt, T0 + 12_000);
    // Without an agent wrap-up there is no hold.
    assert.equal(endOffer(reserved({ wrapUpTime: 0 }), { kind: 'bridged', talkSec: 1, statusPending: true, campaignWrapUpSec: 120 }, T0).readyAt, T0);
  });

  test('On Demand: stays Reserved after a bridged call until the agent sets itself Waiting', () => {
    let a = endOffer(reserved({}, { status: 'Available (On Demand)' }), { kind: 'bridged', talkSec: 1, statusPending: false, campaignWrapUpSec: 0 }, T0);
    assert.equal(a.state, 'Reserved');
    assert.match(notOfferable(a, T0 + 1)!, /already reserved/);
    assert.equal(statusChangeProblem(a, { state: 'Waiting' }), null);
    a = setAgentStatus(a, { state: 'Waiting' }, T0 + 5000);
    assert.equal(notOfferable(a, T0 + 5000), null);
  });

  test('no answer: no-answer delay, miss count +1; at max no answer → On Break without delay', () => {
    let a = endOffer(reserved({ noAnswerDelayTime: 15, maxNoAnswer: 2 }), { kind: 'no-answer', cause: 'NO_ANSWER' }, T0);
    assert.deepEqual([a.status, a.state, a.readyAt, a.noAnswerCount, a.stats.c1.missedCall], ['Available', 'Waiting', T0 + 15_000, 1, 1]);
    a = reserveAgent({ ...a, readyAt: 0 }, { offerId: 'o2', campaignId: 'c1', memberId: 'm2', at: T0, params: params({ noAnswerDelayTime: 15, maxNoAnswer: 2 }) }, T0 + 20_000);
    a = endOffer(a, { kind: 'no-answer', cause: 'NO_ANSWER' }, T0 + 30_000);
    assert.deepEqual([a.status, a.state, a.noAnswerCount, a.stats.c1.lastStatus], ['On Break', 'Waiting', 2, 'NO_ANSWER -> m2 -> MAX']);
    // maxNoAnswer 0: never On Break.
    const b = endOffer(reserved({ maxNoAnswer: 0 }, { noAnswerCount: 50 }), { kind: 'no-answer', cause: 'NO_ANSWER' }, T0);
    assert.equal(b.status, 'Available');
  });

  test('busy uses the busy delay, other failures the reject delay (v3 used the reject delay for busy)', () => {
    const p = { busyDelayTime: 5, rejectDelayTime: 9 };
    assert.equal(endOffer(reserved(p), { kind: 'busy', cause: 'USER_BUSY' }, T0).readyAt, T0 + 5000);
    assert.equal(endOffer(reserved(p), { kind: 'reject', cause: 'CALL_REJECTED' }, T0).readyAt, T0 + 9000);
    assert.deepEqual(['NO_ANSWER', 'USER_BUSY', 'CALL_REJECTED', 'USER_NOT_REGISTERED'].map(agentLegOutcome), ['no-answer', 'busy', 'reject', 'reject']);
  });

  test('released (member gone): free again, no penalty', () => {
    const a = endOffer(reserved({ rejectDelayTime: 9 }), { kind: 'released', cause: 'ORIGINATOR_CANCEL' }, T0);
    assert.deepEqual([a.state, a.readyAt <= T0, a.noAnswerCount], ['Waiting', true, 0]);
  });

  test('idle seconds accumulate while free and are credited at the next reservation', () => {
    const a = reserveAgent(setAgentStatus(newAgentRuntime(), { status: 'Available', state: 'Waiting' }, T0), { offerId: 'o', campaignId: 'c1', memberId: 'm', at: T0 + 30_000, params: params() }, T0 + 30_000);
    assert.equal(a.stats.c1.idleSec, 30);
  });
});

describe('status changes (§7.1)', () => {
  test('only Waiting/Idle may be set; not during an offer', () => {
    assert.match(statusChangeProblem(newAgentRuntime(), { state: 'Reserved' })!, /^state: must be one of Idle, Waiting/);
    assert.match(statusChangeProblem(newAgentRuntime(), { status: 'Busy' })!, /^status: must be one of/);
    assert.match(statusChangeProblem(reserved(), { state: 'Idle' })!, /call offered/);
    assert.equal(statusChangeProblem(reserved(), { status: 'On Break' }), null);
    assert.match(statusChangeProblem(newAgentRuntime(), {})!, /required/);
  });

  test('logged in/out times and On Break seconds (§11.3); max no answer starts the break too', () => {
    let a = setAgentStatus(newAgentRuntime(), { status: 'Available', state: 'Waiting' }, T0);
    a = reserveAgent(a, { offerId: 'o', campaignId: 'c1', memberId: 'm', at: T0, params: params({ maxNoAnswer: 1 }) }, T0 + 1000);
    a = endOffer(a, { kind: 'no-answer', cause: 'NO_ANSWER' }, T0 + 2000);
    assert.equal(a.status, 'On Break');
    a = setAgentStatus(a, { status: 'Available' }, T0 + 32_000);
    assert.equal(a.stats.c1.onBreakSec, 30);
    a = setAgentStatus(setAgentStatus(a, { status: 'On Break' }, T0 + 40_000), { status: 'Logged Out' }, T0 + 50_000);
    assert.deepEqual([a.stats.c1.onBreakSec, a.loggedInAt, a.loggedOutAt], [40, T0, T0 + 50_000]);
  });
});

describe('hunting order (§7.3)', () => {
  const s = (o: Partial<AgentCampaignStats>): AgentCampaignStats => ({ ...emptyAgentStats(), ...o });
  const names = (xs: { name: string }[]) => xs.map((x) => x.name).join(',');
  const cands = [
    { name: 'a', level: 1, stats: s({ callCount: 5, callTimeSec: 10, idleSec: 100, lastOfferedCall: T0 - 1000, connectedTimeSec: 0, wrapTimeSec: 0 }) },
    { name: 'b', level: 1, stats: s({ callCount: 2, callTimeSec: 300, idleSec: 50, lastOfferedCall: T0 - 5000 }) },
    { name: 'c', level: 1, stats: s({ callCount: 3, callTimeSec: 100, idleSec: 400, lastOfferedCall: T0 - 3000 }) },
  ];

  test('with_fewest_calls (and unknown strategies): call_count ascending, no stats first', () => {
    assert.equal(names(huntOrder(cands, 'with_fewest_calls', Math.random)), 'b,c,a');
    assert.equal(names(huntOrder(cands, 'top-down', Math.random)), 'b,c,a');
    assert.equal(names(huntOrder([...cands, { name: 'new', level: 1, stats: null }], 'with_fewest_calls', Math.random)), 'new,b,c,a');
  });
  test('with_least_talk_time', () => assert.equal(names(huntOrder(cands, 'with_least_talk_time', Math.random)), 'a,c,b'));
  test('longest_idle_agent: accumulated idle seconds descending', () => assert.equal(names(huntOrder(cands, 'longest_idle_agent', Math.random)), 'c,a,b'));
  test('with_least_utilization: highest idle share first', () => {
    // a: busy share 1-100/110; b: 1-50/350; c: 1-400/500.
    assert.equal(names(huntOrder(cands, 'with_least_utilization', Math.random)), 'a,c,b');
  });
  test('with_highest_waiting_time: last offered call ascending', () => assert.equal(names(huntOrder(cands, 'with_highest_waiting_time', Math.random)), 'b,c,a'));
  test('random: follows the random source', () => {
    const r = [0.9, 0.1, 0.5];
    let i = 0;
    assert.equal(names(huntOrder(cands, 'random', () => r[i++])), 'b,c,a');
  });
  test('tier levels first: higher levels only after every lower one', () => {
    const tiered = [{ ...cands[1], level: 2 }, cands[0], { ...cands[2], level: 3 }];
    assert.equal(names(huntOrder(tiered, 'with_fewest_calls', Math.random)), 'a,b,c');
    assert.deepEqual(tierList(['1000', { name: '1001', level: 2 }, { name: '1002' }]), [
      { name: '1000', level: 1 }, { name: '1001', level: 2 }, { name: '1002', level: 1 },
    ]);
  });
});

test('§7.6 dlr_dsc_s: result codes by type, a name or [name, items…]', () => {
  assert.deepEqual(resultForm([{ name: 'Paid', type: 't' }, { name: 'No', type: 'f', items: ['a', 'b'] }, { name: 'Later', type: 'n', items: [] }]), { t: ['Paid'], f: [['No', 'a', 'b']], n: ['Later'] });
  assert.deepEqual(resultForm([]), { t: [], f: [], n: [] });
});
