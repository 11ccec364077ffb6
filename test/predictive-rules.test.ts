// Predictive campaigns as pure functions (rules/predictive.ts, rules/member.ts §6.2 step 2): the
// campaign's bookkeeping of its calls, the pacing it runs (withCompliance(forecast), the bench's
// code), the progressive fallbacks and why, and the abandoned outcome.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyOutcome,
  awaitingAgent,
  busyTierAgent,
  decideCalls,
  newAgentRuntime,
  newPacing,
  observe,
  onCallReport,
  onGrant,
  onRelease,
  pacingView,
  PREDICTIVE_DEFAULTS,
  type CampaignRules,
  type MemberState,
  type Pacing,
  type PredictiveRules,
} from '../rules';
import { progressiveCalls } from '../rules/pacing';

const R: PredictiveRules = { ...PREDICTIVE_DEFAULTS, minLive: 20, minTalks: 10 };

/** `n` calls through the campaign's bookkeeping, one placed every 10 s: a third not answered
 *  (released after 20 s), the others live after 5 s, bridged (or abandoned when `abandon(i)`) and
 *  released after a 30 s talk. */
function run(p0: Pacing, n: number, t0: number, abandon: (i: number) => boolean = () => false): { p: Pacing; t: number } {
  let p = p0;
  let t = t0;
  for (let i = 0; i < n; i++, t += 10) {
    const id = `l${t}`;
    p = onCallReport(onGrant(p, id, t), id, 'placed', t);
    if (i % 3 === 2) {
      p = onRelease(p, id, t + 20);
      continue;
    }
    p = onCallReport(p, id, 'live', t + 5);
    p = onCallReport(p, id, abandon(i) ? 'abandoned' : 'bridged', t + 6);
    p = onRelease(p, id, t + 36);
  }
  return { p, t: t + 40 };
}

const agents = (logged: number, available: number) => ({ logged, available });

describe('predictive pacing in the campaign (rules/predictive.ts)', () => {
  test('the calls in flight become the Observation: dialing, waiting, talking agents', () => {
    let p = newPacing(R);
    p = onGrant(p, 'a', 100);
    p = onGrant(p, 'b', 100);
    p = onCallReport(p, 'b', 'placed', 101);
    p = onGrant(p, 'c', 100);
    p = onCallReport(p, 'c', 'placed', 101);
    p = onCallReport(p, 'c', 'live', 104);
    p = onGrant(p, 'd', 90);
    p = onCallReport(p, 'd', 'placed', 90);
    p = onCallReport(p, 'd', 'live', 95);
    p = onCallReport(p, 'd', 'bridged', 96);
    const o = observe(p, R, agents(4, 1), 15, 110);
    assert.deepEqual([o.dialing, o.waiting, o.talking, o.freeAgents, o.loggedAgents, o.maxLines, o.waitLimitSec], [[100, 101], 1, 1, 1, 4, 12, 10]);
    assert.deepEqual(o.busy, [{ state: 'talk', since: 96, wrapSec: 15 }]);
    // Reports for leases the campaign does not hold are ignored.
    assert.deepEqual(onCallReport(p, 'zz', 'live', 120), p);
  });

  test('the members told when an agent becomes free: answered, neither bridged nor dropped, longest waiting first', () => {
    let p = newPacing(R);
    for (const id of ['ringing', 'late', 'early', 'bridged', 'dropped']) p = onCallReport(onGrant(p, id, 0), id, 'placed', 0);
    p = onCallReport(p, 'late', 'live', 7);
    p = onCallReport(p, 'early', 'live', 3);
    p = onCallReport(onCallReport(p, 'bridged', 'live', 1), 'bridged', 'bridged', 2);
    p = onCallReport(onCallReport(p, 'dropped', 'live', 1), 'dropped', 'abandoned', 9);
    assert.deepEqual(awaitingAgent(p), ['early', 'late']);
    assert.deepEqual(awaitingAgent(onRelease(p, 'early', 10)), ['late']);
  });

  test('a release teaches the pacing how the call ended: a talk, or no answer; an unused grant teaches nothing', () => {
    let p = newPacing(R);
    p = onGrant(p, 'x', 0);
    p = onCallReport(p, 'x', 'placed', 0);
    p = onCallReport(p, 'x', 'live', 4);
    p = onCallReport(p, 'x', 'bridged', 5);
    p = onRelease(p, 'x', 95);
    assert.equal(p.state.pacing.talksSeen, 1);
    assert.equal(p.state.pacing.liveSeen, 1);
    const ends = (q: Pacing) => q.state.pacing.endHist.reduce((a, b) => a + b, 0);
    const before = ends(p);
    p = onRelease(onCallReport(onGrant(p, 'y', 100), 'y', 'placed', 100), 'y', 130);
    assert.ok(ends(p) > before, 'the unanswered call is learnt');
    const unused = onRelease(onGrant(p, 'z', 200), 'z', 201);
    assert.deepEqual(unused.state, p.state);
    assert.deepEqual(Object.keys(unused.calls), []);
  });

  test('progressive, and why: too few logged agents, or still learning the campaign', () => {
    const p = newPacing(R);
    const few = decideCalls(p, observe(p, R, agents(1, 1), 0, 0));
    assert.deepEqual([few.mode, few.reason, few.calls], ['progressive', '1 logged agent(s), fewer than 2: dialing progressively', 1]);
    const learning = decideCalls(p, observe(p, R, agents(5, 5), 0, 0));
    assert.equal(learning.mode, 'progressive');
    assert.equal(learning.reason, 'learning the campaign: 0 of 20 answered calls, 0 of 10 talks seen: dialing progressively');
    assert.equal(learning.calls, 5, 'one call per free agent');
  });

  test('once learnt it dials ahead of free agents; over the abandon cap it slows to progressive and says so', () => {
    const { p, t } = run(newPacing(R), 150, 0);
    const obs = observe(p, R, agents(10, 10), 0, t);
    const d = decideCalls(p, obs);
    assert.equal(d.mode, 'predictive');
    assert.equal(d.reason, null);
    assert.ok(d.calls > progressiveCalls(obs), `more calls than free agents: ${d.calls}`);
    // Abandons over 90 % of the 3 % cap of the legal windows (and the hourly window's own guard).
    const { p: over, t: t2 } = run(p, 45, t, (i) => i % 3 === 0);
    const obs2 = observe(over, R, agents(10, 10), 0, t2);
    const slow = decideCalls(over, obs2);
    assert.equal(slow.mode, 'progressive');
    assert.match(slow.reason!, /^UK Ofcom 24 h abandon rate \d+\.\d % \(\d+ of \d+ live answers\) is at 90\.0 % of the 3\.0 % cap: dialing progressively$/);
    assert.equal(slow.calls, progressiveCalls(obs2));
    const view = pacingView(slow.pacing, slow.mode, slow.reason, t2 * 1000);
    assert.deepEqual(view.abandon.map((w) => w.window), ['ofcom-24h', 'us-30d']);
    assert.equal(view.abandon[0].abandoned, 15);
  });

  test('tier agents busy elsewhere: in wrap-up until its end, on another campaign\'s call; not on break nor on this campaign\'s call', () => {
    const now = 1_000_000;
    const base = { ...newAgentRuntime(), status: 'Available' as const, state: 'Waiting' as const };
    const params = { callTimeout: 60, wrapUpTime: 20, maxNoAnswer: 0, busyDelayTime: 0, rejectDelayTime: 0, noAnswerDelayTime: 0 };
    const offer = (campaignId: string, connectedAt: number | null) => ({ offerId: 'o', campaignId, memberId: 'm', at: now - 9000, params, connectedAt });
    assert.deepEqual(busyTierAgent({ ...base, readyAt: now + 2000 }, 'c1', now), { state: 'wrap', until: now + 2000 });
    assert.deepEqual(busyTierAgent({ ...base, state: 'In a queue call', offer: offer('c2', now - 5000) }, 'c1', now), { state: 'talk', since: now - 5000, wrapSec: 20 });
    assert.deepEqual(busyTierAgent({ ...base, state: 'Reserved', offer: offer('c2', null) }, 'c1', now), { state: 'talk', since: now, wrapSec: 20 });
    assert.equal(busyTierAgent({ ...base, state: 'In a queue call', offer: offer('c1', now - 5000) }, 'c1', now), null, 'its own calls the campaign knows itself');
    assert.equal(busyTierAgent({ ...base, status: 'On Break', readyAt: now + 2000 }, 'c1', now), null);
    assert.equal(busyTierAgent({ ...base, readyAt: now - 1 }, 'c1', now), null, 'free');
    // Epoch ms from the documents, seconds in the observation, after the campaign's own talks.
    const p = onCallReport(onCallReport(onCallReport(onGrant(newPacing(R), 'a', 90), 'a', 'placed', 90), 'a', 'live', 95), 'a', 'bridged', 96);
    const o = observe(p, R, { logged: 4, available: 1, busy: [{ state: 'wrap', until: 112_000 }, { state: 'talk', since: 100_000, wrapSec: 20 }] }, 15, 110);
    assert.deepEqual(o.busy, [{ state: 'talk', since: 96, wrapSec: 15 }, { state: 'wrap', until: 112 }, { state: 'talk', since: 100, wrapSec: 20 }]);
    assert.equal(o.talking, 1);
  });

  test('an agent finishing wrap-up in 2 s is dialled for ahead; one in wrap-up for 60 s more is not', () => {
    // 30-s talks learnt; 3 agents logged: 1 free, 2 in wrap-up.
    const { p, t } = run(newPacing(R), 150, 0);
    const wrapping = (sec: number) => [{ state: 'wrap' as const, until: (t + sec) * 1000 }, { state: 'wrap' as const, until: (t + sec) * 1000 }];
    const soon = decideCalls(p, observe(p, R, { logged: 3, available: 1, busy: wrapping(2) }, 0, t));
    const late = decideCalls(p, observe(p, R, { logged: 3, available: 1, busy: wrapping(60) }, 0, t));
    assert.deepEqual([soon.mode, late.mode], ['predictive', 'predictive']);
    assert.equal(late.calls, 1, 'only the free agent: the others are busy past every horizon');
    assert.ok(soon.calls > late.calls, `more calls for agents about to be free: ${soon.calls} vs ${late.calls}`);
  });

  test('the state is plain JSON: a copy (continue-as-new, the stored state) decides the same', () => {
    const { p, t } = run(newPacing(R), 60, 0);
    const copy = JSON.parse(JSON.stringify(p)) as Pacing;
    const obs = observe(p, R, agents(8, 6), 10, t);
    assert.deepEqual(decideCalls(copy, obs).calls, decideCalls(p, obs).calls);
  });
});

describe('the abandoned outcome (§6.2 step 2)', () => {
  const member = (): MemberState => ({
    name: 'm', priority: 0, expire: null, variables: {}, probeCount: 1, successfulCount: 0, callSuccessful: false, nextTryTime: null,
    endCause: null, lastNumberIndex: null, lastMinusProbe: false, lastCall: 0,
    communications: [{ number: '1', priority: 0, state: 0, probe: 1, lastCall: 0, rangeAttempts: 0 }, { number: '2', priority: 0, state: 0, probe: 0, lastCall: 0, rangeAttempts: 0 }],
  });
  const camp = (retryAbandoned: boolean, maxTryCount = 3) => ({
    type: 'Predictive Dialer', maxTryCount, intervalTryCount: 60, minBillSec: 0, waitingForResultStatus: false, wrapUpTime: 10, lostCallRedials: 0,
    causesError: [], causesRetry: [], causesOK: ['NORMAL_CLEARING'], causesMinus: [],
    predictive: { ...PREDICTIVE_DEFAULTS, retryAbandoned },
  }) as unknown as CampaignRules;
  const outcome = { cause: 'LOSE_RACE', answered: true, bridged: false, talkSec: 0, abandoned: true };
  const attempt = (n: number) => ({ numberIndex: 0, attempt: n, idleAtStart: 2, terminated: false });

  test('retryAbandoned off: the member ends ABANDONED, every number ended', () => {
    const a = applyOutcome(member(), camp(false), attempt(1), outcome, 1000);
    assert.deepEqual(a.decision, { kind: 'end', cause: 'ABANDONED', success: false });
    assert.deepEqual(a.member.communications.map((c) => c.state), [2, 2]);
    assert.equal(a.steps[0], 'Abandoned: LOSE_RACE, no agent connected');
  });

  test('retryAbandoned on: tried again after intervalTryCount, until maxTryCount', () => {
    const a = applyOutcome(member(), camp(true), attempt(1), outcome, 1000);
    assert.deepEqual(a.decision, { kind: 'retry', at: 61_000 });
    const last = applyOutcome(member(), camp(true, 1), attempt(1), outcome, 1000);
    assert.deepEqual(last.decision, { kind: 'end', cause: 'MAX_TRY_COUNT', success: false });
  });

  test('an operator terminate still wins (step 1), and a bridged call is not abandoned', () => {
    const t = applyOutcome(member(), camp(false), { ...attempt(1), terminated: true }, outcome, 1000);
    assert.equal((t.decision as { cause: string }).cause, 'MANAGER_REQUEST');
    const ok = applyOutcome(member(), camp(false), attempt(1), { cause: 'NORMAL_CLEARING', answered: true, bridged: true, talkSec: 30 }, 1000);
    assert.deepEqual(ok.decision, { kind: 'end', cause: 'NORMAL_CLEARING', success: true });
  });
});
