// Abandoned-call compliance (rules/pacing/compliance.ts): the US 30-day and UK 24-hour windows, the
// gate that slows a campaign to progressive, the per-number contact rules. Pure, simulated time.
// Run: npm test -- pacing-compliance
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  abandonRates,
  complianceGate,
  complianceOnEvent,
  contactAllowed,
  forecast,
  newComplianceState,
  newForecastState,
  newG2State,
  webitelG2,
  withCompliance,
  type ComplianceState,
  type Observation,
  type PacingController,
  type PacingEvent,
} from '../rules/pacing';
import { simulate } from '../bench/pacing/sim';
import { W1 } from '../bench/pacing/workloads';

const H = 3600;
const D = 86400;

/** `live` answers at time t, `abandoned` of them abandoned, and `machines` AMD machine results. */
function feed(s0: ComplianceState, t: number, live: number, abandoned: number, machines = 0): ComplianceState {
  let s = s0;
  const events: PacingEvent[] = [];
  for (let i = 0; i < live; i++) events.push(i < abandoned ? { type: 'abandoned', at: t + 2, liveAt: t } : { type: 'bridged', at: t, liveAt: t });
  for (let i = 0; i < machines; i++) events.push({ type: 'ended', at: t, placedAt: t - 20, answered: true, amdMachine: true });
  events.push({ type: 'ended', at: t, placedAt: t - 30, answered: false });
  for (const e of events) s = complianceOnEvent(s, e);
  return s;
}

const rate = (s: ComplianceState, now: number, w: string) => abandonRates(s, now).find((r) => r.window === w)!;

describe('abandon rate windows (US 30 days, UK 24 h)', () => {
  test('abandoned / live answers per window; old hours leave the 24 h window, not the 30-day one', () => {
    let s = newComplianceState();
    s = feed(s, 10 * H, 100, 4); // day 0
    s = feed(s, 2 * D + 10 * H, 200, 2); // day 2
    const now = 2 * D + 11 * H;
    assert.deepEqual({ ...rate(s, now, 'us-30d') }, { window: 'us-30d', label: 'US 30-day', live: 300, abandoned: 6, amdPersons: 0, rate: 0.02 });
    assert.equal(rate(s, now, 'ofcom-24h').live, 200);
    assert.equal(rate(s, now, 'ofcom-24h').rate, 0.01);
    // 31 days after day 0 only day 2 is left in the 30-day window
    assert.equal(rate(s, 31 * D + 11 * H, 'us-30d').live, 200);
  });

  test('Ofcom counts the estimated persons among AMD machine results; the US rule does not', () => {
    let s = newComplianceState({ amdPersonShare: 0.1 });
    s = feed(s, H, 100, 1, 50); // 50 machine results, ~5 of them persons
    assert.equal(rate(s, H + 60, 'us-30d').rate, 0.01);
    const uk = rate(s, H + 60, 'ofcom-24h');
    assert.equal(uk.amdPersons, 5);
    assert.equal(uk.rate, 6 / 105);
  });

  test('the state is plain JSON', () => {
    const s = feed(newComplianceState({ amdPersonShare: 0.05 }), 5 * H, 80, 2, 10);
    const back = JSON.parse(JSON.stringify(s)) as ComplianceState;
    assert.deepEqual(back, s);
    assert.deepEqual(abandonRates(back, 6 * H), abandonRates(s, 6 * H));
  });
});

describe('the compliance gate', () => {
  test('progressive at 90 % of the cap, saying which window and why', () => {
    const s = feed(newComplianceState(), H, 100, 2);
    assert.deepEqual(complianceGate(s, H + 60), { progressive: false });
    const over = feed(s, 2 * H, 0, 0);
    const s3 = feed(over, 2 * H, 1, 1); // 3 of 101 = 2.97 %
    const g = complianceGate(s3, 2 * H + 60);
    assert.equal(g.progressive, true);
    assert.match(g.reason ?? '', /UK Ofcom 24 h abandon rate 3\.0 % \(3 of 101 live answers\)/);
  });

  test('a window with too few answers for one abandon to fit under the cap is left to the hourly guard', () => {
    const s = feed(newComplianceState(), H, 20, 1); // 5 %, but 20 answers
    assert.equal(complianceGate(s, H + 60).progressive, false);
  });

  test('withCompliance dials progressively while the gate is shut, whatever the controller wants', () => {
    const greedy: PacingController<number> = { name: 'greedy', onEvent: (s) => s + 1, decide: (s) => ({ state: s, callsToPlace: 50 }) };
    const c = withCompliance(greedy);
    let s = { pacing: 0, compliance: newComplianceState() };
    const obs: Observation = { now: H + 60, loggedAgents: 10, freeAgents: 3, busy: [], dialing: [], waiting: 0, talking: 7, maxLines: 30, waitLimitSec: 2 };
    assert.equal(c.decide(s, obs).callsToPlace, 50);
    for (let i = 0; i < 40; i++) s = c.onEvent(s, i < 2 ? { type: 'abandoned', at: H, liveAt: H } : { type: 'bridged', at: H, liveAt: H });
    assert.equal(s.pacing, 40, 'the controller still sees every event');
    assert.equal(c.decide(s, obs).callsToPlace, 3);
  });

  test('G2, which ignores the cap, stays under it on the 24 h window when gated (4 h, 20 agents)', () => {
    const opts = { hours: 4, seed: 3, waitLimitSec: 2, linesPerAgent: 3 };
    const raw = simulate(webitelG2, newG2State(), W1, opts);
    assert.ok(raw.abandonRate > 0.05, `raw G2 abandons ${raw.abandonRate}`);
    let last: ComplianceState | undefined;
    const gated = withCompliance(webitelG2);
    const spy: typeof gated = { ...gated, decide: (s, o) => ((last = s.compliance), gated.decide(s, o)) };
    const r = simulate(spy, { pacing: newG2State(), compliance: newComplianceState() }, W1, opts);
    assert.ok(r.abandonRate <= 0.03, `gated G2 abandons ${r.abandonRate}`);
    assert.ok(r.utilisation > 0.55, `utilisation ${r.utilisation} (progressive ~0.59)`);
    assert.ok(rate(last!, 4 * H, 'ofcom-24h').rate <= 0.03);
  });

  test('forecast under the gate: the same decisions while the windows are well under the cap', () => {
    const opts = { hours: 1, seed: 5, waitLimitSec: 2, linesPerAgent: 3 };
    const plain = simulate(forecast, newForecastState(), { ...W1, agents: 10 }, opts);
    const gated = simulate(withCompliance(forecast), { pacing: newForecastState(), compliance: newComplianceState() }, { ...W1, agents: 10 }, opts);
    assert.deepEqual(gated, plain);
  });
});

describe('per-number contact rules', () => {
  test('at most N attempts per rolling period, across campaigns', () => {
    const limits = { maxAttempts: 3, periodSec: D, abandonedHoldSec: 72 * H };
    assert.deepEqual(contactAllowed([H, 2 * H], null, 3 * H, limits), { allowed: true });
    assert.deepEqual(contactAllowed([H, 2 * H, 5 * H], null, 6 * H, limits), { allowed: false, nextAt: D + H });
    assert.deepEqual(contactAllowed([H, 2 * H, 5 * H], null, D + H, limits), { allowed: true });
    // four attempts: two must leave the period
    assert.deepEqual(contactAllowed([H, 2 * H, 3 * H, 4 * H], null, 5 * H, limits), { allowed: false, nextAt: D + 2 * H });
  });

  test('no new call within 72 h of an abandoned one (Ofcom)', () => {
    assert.deepEqual(contactAllowed([], 10 * H, 20 * H), { allowed: false, nextAt: 82 * H });
    assert.deepEqual(contactAllowed([], 10 * H, 82 * H), { allowed: true });
  });
});
