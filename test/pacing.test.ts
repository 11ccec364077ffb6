// Predictive pacing controllers (rules/pacing) and the discrete-event bench that drives them
// (bench/pacing/sim.ts). No servers, no timing: simulated time only.
// Run: node --import tsx --test test/pacing.test.ts
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bernoulliSumPmf,
  forecast,
  forecastDecide,
  g2Limit,
  g2PredictAdjust,
  newForecastState,
  newG2State,
  newProgressiveState,
  newComplianceState,
  newV4State,
  newVicidialState,
  progressive,
  vicidialHardLimit,
  webitelG2,
  webitelV4,
  withCompliance,
  wrapOverDial,
  type ForecastState,
  type Observation,
  type PacingController,
} from '../rules/pacing';
import { simulate, type SimOptions, type Workload } from '../bench/pacing/sim';
import { W1 } from '../bench/pacing/workloads';

const small: Workload = { ...W1, name: 'small', agents: 10 };
const opts = (seed: number, hours = 2): SimOptions => ({ hours, seed, waitLimitSec: 2, linesPerAgent: 3 });

describe('webitel-g2 (§7.5.2)', () => {
  const g2 = (over: Partial<ReturnType<typeof newG2State>>) => ({ ...newG2State(), ...over });

  test('predictAdjust = round(35·40^s), s = target − abandon %, clamped to [0, 1500]', () => {
    // 8/400 = 2 % abandoned, target 2.5 → s = 0.5 → 35·√40 = 221.36
    assert.equal(g2PredictAdjust(g2({ callCount: 400, predictAbandoned: 8 })), 221);
    // 12/400 = 3 % → s = −0.5 → 35/√40 = 5.53
    assert.equal(g2PredictAdjust(g2({ callCount: 400, predictAbandoned: 12 })), 6);
    // at the target: 35
    assert.equal(g2PredictAdjust(g2({ callCount: 400, predictAbandoned: 10 })), 35);
    // 1 % → s = 1.5 → 8854, clamped
    assert.equal(g2PredictAdjust(g2({ callCount: 300, predictAbandoned: 3 })), 1500);
    // 0 % → s = 2.5 → clamped (1000 in master)
    assert.equal(g2PredictAdjust(g2({ callCount: 300, predictAbandoned: 0, params: { ...newG2State().params, maxPredictAdjust: 1000 } })), 1000);
    // not past predictStartCallCount (200): the stored value
    assert.equal(g2PredictAdjust(g2({ callCount: 200, predictAbandoned: 0, predictAdjust: 150 })), 150);
  });

  test('queueLimit = ceil(A + |A/connectRate − A|·adjust/100) + (L − A); dial up to it', () => {
    // connectRate = 400/100 = 4; A = 5: overDial = 3.75; calls = ceil(5 + 3.75·2.21) = 14; queueLimit = 14 + 5
    const s = g2({ callCount: 400, bridgedCall: 100, predictAbandoned: 8 });
    assert.deepEqual(g2Limit(s, 5, 10, 12, 999), { predictAdjust: 221, queueLimit: 19, calls: 7 });
    // the campaign limit caps it
    assert.equal(g2Limit(s, 5, 10, 12, 15).calls, 3);
    // A ≤ 2 (here 1): up to L only
    assert.equal(g2Limit(s, 1, 10, 3, 999).calls, 7);
    // A = 0: nothing (re-check in 1 s)
    assert.equal(g2Limit(s, 0, 10, 3, 999).calls, 0);
  });

  test('warm-up: fewer than 10 bridged calls dial 1:1 with logged agents', () => {
    const s = g2({ callCount: 400, bridgedCall: 9, predictAbandoned: 0 });
    assert.deepEqual(g2Limit(s, 6, 10, 4, 999), { predictAdjust: 150, queueLimit: 10, calls: 6 });
  });

  test('predictAdjust 0 (far above target): queueLimit = L', () => {
    // 40/400 = 10 % → s = −7.5 → 35·40^−7.5 ≈ 0
    const s = g2({ callCount: 400, bridgedCall: 100, predictAbandoned: 40 });
    assert.deepEqual(g2Limit(s, 5, 10, 4, 999), { predictAdjust: 0, queueLimit: 10, calls: 6 });
  });

  test('counters: every finished attempt counts, abandons and bridges apart', () => {
    let s = newG2State();
    s = webitelG2.onEvent(s, { type: 'ended', at: 1, placedAt: 0, answered: false });
    s = webitelG2.onEvent(s, { type: 'bridged', at: 2, liveAt: 2 });
    s = webitelG2.onEvent(s, { type: 'talkEnded', at: 9, talkSec: 7 });
    s = webitelG2.onEvent(s, { type: 'abandoned', at: 12, liveAt: 10 });
    assert.deepEqual([s.callCount, s.bridgedCall, s.predictAbandoned], [3, 1, 1]);
  });
});

test('webitel-v4 cc_wrap_over_dial reading: at/above max no over-dial, below target boosted by load factor', () => {
  assert.equal(wrapOverDial(4, 3, 3, 3, 10), 1);
  assert.equal(wrapOverDial(4, 1, 3, 3, 10), 4 + (4 * 2 * 10) / 100);
  assert.equal(wrapOverDial(4, 3, 2, 4, 10), 2);
});

/** A controller whose state goes through JSON between every call (continue-as-new, restarts). */
function throughJson<S>(c: PacingController<S>): PacingController<S> {
  const rt = (s: S) => JSON.parse(JSON.stringify(s)) as S;
  return { name: c.name, onEvent: (s, e) => rt(c.onEvent(rt(s), e)), decide: (s, o) => c.decide(rt(s), o) };
}

describe('controller state is plain JSON', () => {
  const cases: [PacingController<never>, () => unknown][] = [
    [progressive as PacingController<never>, newProgressiveState],
    [webitelG2 as PacingController<never>, () => newG2State()],
    [webitelV4 as PacingController<never>, () => newV4State()],
    [vicidialHardLimit as PacingController<never>, () => newVicidialState()],
    [forecast as PacingController<never>, () => newForecastState()],
    [withCompliance(forecast) as PacingController<never>, () => ({ pacing: newForecastState(), compliance: newComplianceState() })],
  ];
  for (const [c, init] of cases) {
    test(`${c.name}: the same run with the state serialised at every step`, () => {
      const direct = simulate(c, init() as never, small, opts(11, 1));
      const viaJson = simulate(throughJson(c), init() as never, small, opts(11, 1));
      assert.deepEqual(viaJson, direct);
      assert.ok(direct.placed > 100);
    });
  }
});

describe('forecast', () => {
  /** A state that has seen a steady campaign: live calls after ~10 s, talks ~100 s. */
  function seasoned(): ForecastState {
    let s = newForecastState();
    for (let i = 0; i < 400; i++) {
      const t = i * 10;
      s = forecast.onEvent(s, i % 4 === 0 ? { type: 'live', at: t + 8 + (i % 5), placedAt: t } : { type: 'ended', at: t + 30, placedAt: t, answered: false });
      if (i % 4 === 0) {
        s = forecast.onEvent(s, { type: 'bridged', at: t + 9, liveAt: t + 8 });
        s = forecast.onEvent(s, { type: 'talkEnded', at: t + 100, talkSec: 60 + (i % 80) });
      }
    }
    return s;
  }
  const obs = (now: number, over: Partial<Observation> = {}): Observation => ({
    now,
    loggedAgents: 10,
    freeAgents: 4,
    busy: Array.from({ length: 6 }, (_, i) => ({ state: 'talk' as const, since: now - 20 - 10 * i, wrapSec: 10 })),
    dialing: [],
    waiting: 0,
    talking: 6,
    maxLines: 30,
    waitLimitSec: 2,
    ...over,
  });

  test('dials ahead of agents about to finish, more when wrap-ups end within the horizon', () => {
    const s = seasoned();
    const now = 4000;
    const base = forecastDecide(s, obs(now));
    assert.equal(base.progressive, false);
    assert.ok(base.callsToPlace > 4, `placed ${base.callsToPlace}`);
    const wrapping = obs(now, { busy: [...obs(now).busy.slice(2), { state: 'wrap', until: now + 3 }, { state: 'wrap', until: now + 4 }] });
    assert.ok(forecastDecide(s, wrapping).callsToPlace > base.callsToPlace);
  });

  test('falls back to progressive when the rolling window has no headroom under the cap', () => {
    let s = seasoned();
    // 3 abandons among the ~93 answers of the last hour: the window allows floor(3 % · (93 − √93)) = 2
    for (let i = 0; i < 3; i++) s = forecast.onEvent(s, { type: 'abandoned', at: 3990 + i, liveAt: 3988 + i });
    const d = forecastDecide(s, obs(4000));
    assert.equal(d.progressive, true);
    assert.equal(d.callsToPlace, 4);
    // an hour later they have left the window
    assert.equal(forecastDecide(s, obs(4000 + 3700)).progressive, true, 'no answers in the window: no headroom');
  });

  test('state → JSON → state (continue-as-new): the same decisions, the same state after more events', () => {
    let s = seasoned();
    s = forecast.onEvent(s, { type: 'abandoned', at: 3995, liveAt: 3993 });
    const back = JSON.parse(JSON.stringify(s)) as ForecastState;
    assert.deepEqual(back, s);
    const busy = obs(4000, { dialing: [3990, 3995, 3998], busy: [...obs(4000).busy.slice(1), { state: 'wrap', until: 4006 }] });
    assert.deepEqual(forecastDecide(back, busy), forecastDecide(s, busy));
    const next = (x: ForecastState) => forecast.onEvent(forecast.onEvent(x, { type: 'live', at: 4010, placedAt: 3998 }), { type: 'talkEnded', at: 4011, talkSec: 95 });
    assert.deepEqual(next(back), next(s));
  });

  test('a sum of Bernoulli chances is the binomial with the same mean and variance (exact for equal chances)', () => {
    // three calls at 0.3: Binomial(3, 0.3)
    const pmf = bernoulliSumPmf(0.9, 0.63);
    [0.343, 0.441, 0.189, 0.027].forEach((v, i) => assert.ok(Math.abs(pmf[i] - v) < 1e-12, `P(${i}) = ${pmf[i]}`));
    // a Poisson would give two answers from one call at 0.3 (3.7 %): the binomial gives none
    assert.deepEqual(bernoulliSumPmf(0.3, 0.21).length, 2);
    assert.deepEqual(bernoulliSumPmf(0, 0), [1]);
  });

  test('progressive before enough samples', () => {
    assert.equal(forecastDecide(newForecastState(), obs(10)).callsToPlace, 4);
  });

  test('small campaign: under the cap in every full hour, busier agents than progressive', () => {
    const ours = simulate(forecast, newForecastState(), small, opts(5, 3));
    const prog = simulate(progressive, newProgressiveState(), small, opts(5, 3));
    assert.equal(prog.abandoned, 0);
    assert.ok(ours.maxHourAbandonRate <= 0.03, `max 1-h abandon ${ours.maxHourAbandonRate}`);
    assert.ok(ours.abandonRate <= 0.03, `abandon ${ours.abandonRate}`);
    assert.ok(ours.utilisation > prog.utilisation + 0.05, `utilisation ${ours.utilisation} vs ${prog.utilisation}`);
  });
});

test('the simulation is deterministic: same seed, same result; another seed, another', () => {
  const a = simulate(forecast, newForecastState(), small, opts(3, 1));
  const b = simulate(forecast, newForecastState(), small, opts(3, 1));
  const c = simulate(forecast, newForecastState(), small, opts(4, 1));
  assert.deepEqual(a, b);
  assert.notDeepEqual({ ...a, seed: 0 }, { ...c, seed: 0 });
});
