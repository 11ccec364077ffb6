// Our predictive pacing ("forecast"): place as many calls as keeps the forecast share of answered
// calls that find no agent within the wait limit under a target, learning everything it needs from
// the campaign's own calls, and holding the hard cap on a rolling window.
//
// Measured online (exponentially forgetting histograms, so they follow a drifting campaign):
//  - call outcome timing: for each call, its age when it went live (answered and classified human)
//    or ended without needing an agent. From these, for a call of age a still dialing, the
//    probability it goes live within the next h seconds is (L(a+h) − L(a)) / S(a) (L: share live by
//    that age; S: share still unresolved), and for a new call it is L(h);
//  - talk time: for an agent talking for e seconds, the probability of being free (after the known
//    wrap-up) by h is (T(e+h−wrap) − T(e)) / (1 − T(e)); agents in wrap-up are free at a known time.
// Decision: for every horizon h up to the time by which calls placed now have (almost all) gone
// live, Z(h) = (live calls by h) − (agents free by h + wait limit) is a sum of independent
// Bernoullis (normal approximation); a live call arriving when Z > 0 finds no agent, so the
// forecast abandons are max_h E[Z(h)⁺] and the forecast answers E[live calls by the horizon]. The
// controller places the largest n (calls now) with abandons(n) ≤ τ · answers(n), never fewer than
// progressive and never more than the line cap.
// τ = setpoint · e^g · guard:
//  - g is an integral term on the measured outcome of every answered call (+η per bridge, −η(1/sp−1)
//    per abandon, so it rests where the measured rate equals the setpoint): it absorbs what the
//    model gets wrong (dependence, normal tails, the greedy sequence of decisions);
//  - guard is the hard cap on the rolling window: with N answers and A abandons in the last hour,
//    the headroom cap·margin·N − A (abandons still allowed) scales τ down to 0 (progressive) as it
//    runs out.
// Until it has seen enough calls (or with too few agents) it dials progressively.
import { progressiveCalls, type Observation, type PacingController } from './types';
import { addCount, newRolling, windowSum, type RollingCounts } from './window';

export interface ForecastParams {
  /** Hard cap on abandoned / answered live calls over the rolling window (legal limit, e.g. 0.03). */
  capRate: number;
  /** Long-run target as a share of the cap. */
  setpointShare: number;
  /** The window guard keeps the window at most cap · this. */
  guardShare: number;
  windowMinutes: number;
  /** Progressive below this many logged agents. */
  minAgents: number;
  /** Progressive until this many calls went live and this many talks ended. */
  minLive: number;
  minTalks: number;
}

export const FORECAST_DEFAULTS: ForecastParams = {
  capRate: 0.03,
  setpointShare: 0.6,
  guardShare: 0.9,
  windowMinutes: 60,
  minAgents: 2,
  minLive: 20,
  minTalks: 10,
};

/** Call-age histogram: 1-s bins, the last one open-ended. */
const AGE_BINS = 181;
/** Talk-time histogram: bin 0 is [0, 1) s, bin k ≥ 1 is [R^(k−1), R^k) s, up to ~3 h. */
const TALK_RATIO = 1.08;
const TALK_BINS = 125;
/** Forgetting: the histograms weigh roughly the last this many samples. */
const CALL_MEMORY = 500;
const TALK_MEMORY = 300;
/** Integral step per answered call (log scale). */
const ETA = 0.005;
const G_MIN = -4;
const G_MAX = 1.5;
/** Horizon: the age by which this share of live calls has gone live. */
const HORIZON_QUANTILE = 0.97;

export interface ForecastState {
  params: ForecastParams;
  liveHist: number[];
  endHist: number[];
  talkHist: number[];
  liveSeen: number;
  talksSeen: number;
  /** Integral term (log of the multiplier on the setpoint). */
  g: number;
  window: RollingCounts;
}

export function newForecastState(params: Partial<ForecastParams> = {}): ForecastState {
  const p = { ...FORECAST_DEFAULTS, ...params };
  return {
    params: p,
    liveHist: new Array<number>(AGE_BINS).fill(0),
    endHist: new Array<number>(AGE_BINS).fill(0),
    talkHist: new Array<number>(TALK_BINS).fill(0),
    liveSeen: 0,
    talksSeen: 0,
    g: 0,
    window: newRolling(['live', 'abandoned'], p.windowMinutes),
  };
}

function ageBin(age: number): number {
  return Math.min(AGE_BINS - 1, Math.max(0, Math.floor(age)));
}

function talkBin(sec: number): number {
  if (sec < 1) return 0;
  return Math.min(TALK_BINS - 1, 1 + Math.floor(Math.log(sec) / Math.log(TALK_RATIO)));
}

function talkEdge(k: number): number {
  return k === 0 ? 0 : Math.pow(TALK_RATIO, k - 1);
}

/** Adds a sample with forgetting: old weights shrink so the sum tends to `memory`. */
function addSample(hist: number[], bin: number, memory: number, others: number[][] = []): [number[], ...number[][]] {
  const k = 1 - 1 / memory;
  const h = hist.map((v) => v * k);
  h[bin] += 1;
  return [h, ...others.map((o) => o.map((v) => v * k))];
}

/** Cumulative sums: c[i] = weight in bins < i (length bins + 1). */
function cumulative(hist: number[]): number[] {
  const c = new Array<number>(hist.length + 1);
  c[0] = 0;
  for (let i = 0; i < hist.length; i++) c[i + 1] = c[i] + hist[i];
  return c;
}

/** Weight at ages ≤ x in a 1-s histogram's cumulative sums (linear inside a bin). */
function ageCdf(c: number[], x: number): number {
  if (x <= 0) return 0;
  const i = Math.floor(x);
  if (i >= AGE_BINS - 1) return c[AGE_BINS - 1] + (c[AGE_BINS] - c[AGE_BINS - 1]) * Math.min(1, x - (AGE_BINS - 1));
  return c[i] + (c[i + 1] - c[i]) * (x - i);
}

function talkCdf(c: number[], x: number): number {
  if (x <= 0) return 0;
  const k = talkBin(x);
  const lo = talkEdge(k);
  const hi = k === TALK_BINS - 1 ? lo : talkEdge(k + 1);
  const f = hi > lo ? Math.min(1, (x - lo) / (hi - lo)) : 1;
  return c[k] + (c[k + 1] - c[k]) * f;
}

/** E[max(0, Z)] for Z ~ Normal(mu, var). */
function expectedPositive(mu: number, v: number): number {
  if (v <= 1e-12) return Math.max(0, mu);
  const sd = Math.sqrt(v);
  const z = mu / sd;
  return sd * Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI) + mu * normalCdf(z);
}

function normalCdf(z: number): number {
  // Abramowitz–Stegun 7.1.26 on erf; error < 1.5e-7.
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

/** The per-answer abandon risk the controller accepts now (0 = progressive). */
export function forecastRiskTarget(s: ForecastState, now: number): number {
  const p = s.params;
  const live = windowSum(s.window, 'live', now);
  const abandoned = windowSum(s.window, 'abandoned', now);
  const headroom = p.capRate * p.guardShare * live - abandoned;
  const guard = Math.min(1, Math.max(0, headroom / 2));
  return p.capRate * p.setpointShare * Math.exp(s.g) * guard;
}

export interface ForecastDetail {
  callsToPlace: number;
  risk: number;
  progressive: boolean;
}

/** The decision with the numbers behind it (for the bench and tests). */
export function forecastDecide(s: ForecastState, obs: Observation): ForecastDetail {
  const p = s.params;
  const floor = progressiveCalls(obs);
  const room = Math.max(0, obs.maxLines - obs.dialing.length - obs.waiting);
  const risk = forecastRiskTarget(s, obs.now);
  if (obs.loggedAgents < p.minAgents || s.liveSeen < p.minLive || s.talksSeen < p.minTalks || risk <= 0 || room <= floor) {
    return { callsToPlace: floor, risk, progressive: true };
  }
  const cl = cumulative(s.liveHist);
  const ce = cumulative(s.endHist);
  const total = cl[AGE_BINS] + ce[AGE_BINS];
  const liveTotal = cl[AGE_BINS];
  if (liveTotal <= 0) return { callsToPlace: floor, risk, progressive: true };
  // Horizon: the age by which HORIZON_QUANTILE of live calls have gone live, plus the wait limit.
  let hMax = 1;
  while (hMax < AGE_BINS - 1 && ageCdf(cl, hMax) < HORIZON_QUANTILE * liveTotal) hMax++;
  const W = obs.waitLimitSec;
  const ct = cumulative(s.talkHist);
  const talkTotal = ct[TALK_BINS];

  // Per horizon h = 1..hMax: mean and variance of Z(h) without new calls, and new calls' q(h).
  const mu = new Float64Array(hMax + 1);
  const va = new Float64Array(hMax + 1);
  const q = new Float64Array(hMax + 1);
  for (let h = 1; h <= hMax; h++) {
    mu[h] = obs.waiting - obs.freeAgents;
    q[h] = ageCdf(cl, h) / total;
  }
  let answersInFlight = obs.waiting;
  for (const placedAt of obs.dialing) {
    const a = Math.max(0, obs.now - placedAt);
    const la = ageCdf(cl, a);
    const surv = total - la - ageCdf(ce, a);
    if (surv <= 1e-9 * total) continue;
    for (let h = 1; h <= hMax; h++) {
      const pj = Math.min(1, Math.max(0, (ageCdf(cl, a + h) - la) / surv));
      mu[h] += pj;
      va[h] += pj * (1 - pj);
    }
    answersInFlight += Math.min(1, Math.max(0, (ageCdf(cl, a + hMax) - la) / surv));
  }
  for (const b of obs.busy) {
    if (b.state === 'wrap') {
      for (let h = 1; h <= hMax; h++) if (b.until <= obs.now + h + W) mu[h] -= 1;
      continue;
    }
    if (talkTotal <= 0) continue;
    const e = Math.max(0, obs.now - b.since);
    const te = talkCdf(ct, e);
    const surv = talkTotal - te;
    if (surv <= 1e-9 * talkTotal) continue; // longer than any talk seen: no forecast, no supply
    for (let h = 1; h <= hMax; h++) {
      const r = Math.min(1, Math.max(0, (talkCdf(ct, e + h + W - b.wrapSec) - te) / surv));
      mu[h] -= r;
      va[h] += r * (1 - r);
    }
  }
  const excess = (n: number): number => {
    let m = 0;
    for (let h = 1; h <= hMax; h++) {
      const v = expectedPositive(mu[h] + n * q[h], va[h] + n * q[h] * (1 - q[h]));
      if (v > m) m = v;
    }
    return m;
  };
  let n = floor;
  while (n < room) {
    const next = n + 1;
    const answers = answersInFlight + next * q[hMax];
    if (excess(next) > risk * Math.max(answers, 1e-9)) break;
    n = next;
  }
  return { callsToPlace: n, risk, progressive: false };
}

export const forecast: PacingController<ForecastState> = {
  name: 'forecast',
  onEvent(s, e) {
    switch (e.type) {
      case 'live': {
        const [liveHist, endHist] = addSample(s.liveHist, ageBin(e.at - e.placedAt), CALL_MEMORY, [s.endHist]);
        return { ...s, liveHist, endHist, liveSeen: s.liveSeen + 1 };
      }
      case 'ended': {
        const [endHist, liveHist] = addSample(s.endHist, ageBin(e.at - e.placedAt), CALL_MEMORY, [s.liveHist]);
        return { ...s, liveHist, endHist };
      }
      case 'talkEnded': {
        const [talkHist] = addSample(s.talkHist, talkBin(e.talkSec), TALK_MEMORY);
        return { ...s, talkHist, talksSeen: s.talksSeen + 1 };
      }
      case 'bridged':
        return { ...s, g: Math.min(G_MAX, s.g + ETA), window: addCount(s.window, 'live', e.liveAt) };
      case 'abandoned': {
        const sp = s.params.capRate * s.params.setpointShare;
        const g = Math.max(G_MIN, s.g - ETA * (1 / sp - 1));
        return { ...s, g, window: addCount(addCount(s.window, 'live', e.liveAt), 'abandoned', e.liveAt) };
      }
      default:
        return s;
    }
  },
  decide(s, obs) {
    return { state: s, callsToPlace: forecastDecide(s, obs).callsToPlace };
  },
};
