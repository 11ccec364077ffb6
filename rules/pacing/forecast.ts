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
// Decision: for horizons h from the age by which a few live calls have gone live (sooner, new calls
// add no risk) to the age by which nearly all have, answers by h are the waiting calls plus a
// Poisson number with mean Σ p_j(h) + n·L(h) (n = calls placed now; Poisson because a normal
// approximation of this sum of rare events was ~4× optimistic about over-runs), agents free by
// h + wait limit are normal (the sure ones with no variance). An answer arriving when answers
// outrun agents finds none, so E[(answers − agents)⁺] / E[answers] is the forecast share abandoned
// by h. The controller places the largest n for which that share is ≤ τ at every h and the chance
// of more abandons than the rolling window can still take is under 1 %, never fewer than
// progressive and never more than the line cap.
// τ = setpoint · e^g · guard:
//  - g is an integral term on the measured outcome of every answered call (+η per bridge, −η(1/sp−1)
//    per abandon, so it rests where the measured rate equals the setpoint): it absorbs what the
//    model gets wrong (dependence, distribution tails, the greedy sequence of decisions);
//  - guard holds the hard cap on the rolling window: 1 at or below the setpoint, falling to 0 when
//    the window's rate reaches cap·guardShare, and 0 as soon as fewer than two abandons fit under
//    that ceiling (one for the calls already in flight); a window not yet full counts as full at the
//    current pace. Guard 0 is progressive: no new risk.
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
const G_MIN = -7;
const G_MAX = 1.5;
/** Horizon: the age by which this share of live calls has gone live. */
const HORIZON_QUANTILE = 0.97;
const HORIZON_FROM = 0.05;
const GRID = 8;
/** The window guard goes progressive when fewer than this many abandons fit under its ceiling. */
const GUARD_RESERVE = 2;
/** Largest accepted chance that the forecast abandons exceed what the window can still take. */
const BURST_CHANCE = 0.01;

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
  /** Time of the first event seen (the window is not full before startedAt + window). */
  startedAt: number | null;
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
    startedAt: null,
  };
}

function ageBin(age: number): number {
  return Math.min(AGE_BINS - 1, Math.max(0, Math.floor(age)));
}

const LOG_TALK_RATIO = Math.log(TALK_RATIO);
/** Lower edge of each talk bin (and the last bin's lower edge repeated as its upper edge). */
const TALK_EDGES = Array.from({ length: TALK_BINS + 1 }, (_, k) => (k === 0 ? 0 : Math.pow(TALK_RATIO, Math.min(k, TALK_BINS - 1) - 1)));

function talkBin(sec: number): number {
  if (sec < 1) return 0;
  return Math.min(TALK_BINS - 1, 1 + Math.floor(Math.log(sec) / LOG_TALK_RATIO));
}

/** Adds a sample with forgetting: old weights shrink so the sum tends to `memory`. */
function addSample(hist: number[], bin: number, memory: number, others: number[][] = []): [number[], ...number[][]] {
  const k = 1 - 1 / memory;
  // Weights under 1e-9 are dropped: left to decay they turn subnormal, which is slow to compute with.
  const decay = (v: number) => (v * k < 1e-9 ? 0 : v * k);
  const h = hist.map(decay);
  h[bin] += 1;
  return [h, ...others.map((o) => o.map(decay))];
}

/** Histograms are never changed in place (events make new arrays), so their sums can be kept. */
const cumulativeCache = new WeakMap<number[], number[]>();

/** Cumulative sums: c[i] = weight in bins < i (length bins + 1). */
function cumulative(hist: number[]): number[] {
  const cached = cumulativeCache.get(hist);
  if (cached) return cached;
  const c = new Array<number>(hist.length + 1);
  c[0] = 0;
  for (let i = 0; i < hist.length; i++) c[i + 1] = c[i] + hist[i];
  cumulativeCache.set(hist, c);
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
  const lo = TALK_EDGES[k];
  const hi = TALK_EDGES[k + 1];
  const f = hi > lo ? Math.min(1, (x - lo) / (hi - lo)) : 1;
  return c[k] + (c[k + 1] - c[k]) * f;
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

/** E[max(0, Z)] for Z ~ Normal(mu, var). */
function expectedPositive(mu: number, v: number): number {
  if (v <= 1e-12) return Math.max(0, mu);
  const sd = Math.sqrt(v);
  const z = mu / sd;
  if (z < -8) return 0;
  if (z > 8) return mu;
  return sd * Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI) + mu * normalCdf(z);
}

function normalCdf(z: number): number {
  // Abramowitz–Stegun 7.1.26 on erf; error < 1.5e-7.
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

/**
 * What the controller accepts now: `risk`, the forecast share of answers abandoned (0 =
 * progressive), and `budget`, the forecast abandons (calls in flight and new ones) that still fit
 * under the window's ceiling with one to spare.
 */
export function forecastLimits(s: ForecastState, now: number): { risk: number; budget: number } {
  const p = s.params;
  const abandoned = windowSum(s.window, 'abandoned', now);
  // A window not yet full will hold about this many answers when it is.
  const elapsed = s.startedAt === null ? 0 : now - s.startedAt;
  const fill = Math.min(1, Math.max(elapsed, 60) / (60 * p.windowMinutes));
  const live = windowSum(s.window, 'live', now) / fill;
  const setpoint = p.capRate * p.setpointShare;
  const ceiling = p.capRate * p.guardShare;
  // Abandons the window can still take below the ceiling: fewer than two (one, and one more from
  // the calls already in flight) → progressive.
  const headroom = ceiling * live - abandoned;
  // Proportional: full speed at or below the setpoint, none at the ceiling.
  const rate = live > 0 ? abandoned / live : 0;
  const guard = Math.min(clamp01(headroom - GUARD_RESERVE), clamp01((ceiling - rate) / (ceiling - setpoint)));
  return { risk: setpoint * Math.exp(s.g) * guard, budget: headroom - 1 };
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
  const { risk, budget } = forecastLimits(s, obs.now);
  if (obs.loggedAgents < p.minAgents || s.liveSeen < p.minLive || s.talksSeen < p.minTalks || risk <= 0 || room <= floor) {
    return { callsToPlace: floor, risk, progressive: true };
  }
  const cl = cumulative(s.liveHist);
  const ce = cumulative(s.endHist);
  const total = cl[AGE_BINS] + ce[AGE_BINS];
  const liveTotal = cl[AGE_BINS];
  if (liveTotal <= 0) return { callsToPlace: floor, risk, progressive: true };
  // Horizons: from the age by which a few live calls have gone live (earlier, new calls cannot add
  // to the risk) to the age by which nearly all have, on a grid of at most GRID points.
  let hMin = 1;
  while (hMin < AGE_BINS - 1 && ageCdf(cl, hMin) < HORIZON_FROM * liveTotal) hMin++;
  let hMax = hMin;
  while (hMax < AGE_BINS - 1 && ageCdf(cl, hMax) < HORIZON_QUANTILE * liveTotal) hMax++;
  const step = Math.max(1, Math.ceil((hMax - hMin) / (GRID - 1)));
  const hs: number[] = [];
  for (let h = hMin; h < hMax; h += step) hs.push(h);
  hs.push(hMax);
  const K = hs.length;
  const W = obs.waitLimitSec;
  const ct = cumulative(s.talkHist);
  const talkTotal = ct[TALK_BINS];

  // Per horizon hs[k]: agents free by h + W (mean, variance), answers expected from the calls in
  // flight, and the chance q that a call placed now has gone live.
  const supply = new Float64Array(K).fill(obs.freeAgents);
  const supplyVar = new Float64Array(K);
  const arrivals = new Float64Array(K);
  const q = hs.map((h) => ageCdf(cl, h) / total);
  for (const placedAt of obs.dialing) {
    const a = Math.max(0, obs.now - placedAt);
    const la = ageCdf(cl, a);
    const surv = total - la - ageCdf(ce, a);
    if (surv <= 1e-9 * total) continue;
    for (let k = 0; k < K; k++) {
      const pj = Math.min(1, Math.max(0, (ageCdf(cl, a + hs[k]) - la) / surv));
      arrivals[k] += pj;
    }
  }
  for (const b of obs.busy) {
    if (b.state === 'wrap') {
      for (let k = 0; k < K; k++) if (b.until <= obs.now + hs[k] + W) supply[k] += 1;
      continue;
    }
    if (talkTotal <= 0) continue;
    const e = Math.max(0, obs.now - b.since);
    const te = talkCdf(ct, e);
    const surv = talkTotal - te;
    if (surv <= 1e-9 * talkTotal) continue; // longer than any talk seen: no forecast, no supply
    for (let k = 0; k < K; k++) {
      const r = Math.min(1, Math.max(0, (talkCdf(ct, e + hs[k] + W - b.wrapSec) - te) / surv));
      supply[k] += r;
      supplyVar[k] += r * (1 - r);
    }
  }
  // Forecast share of the answers by h that find no agent, worst h, with n more calls placed now.
  // Answers by h: the waiting calls plus a Poisson number (mean Σ p_j + n·q: the right tail of a sum
  // of rare events, slightly heavier than the exact Poisson-binomial); agents free by h + wait
  // limit: normal (a sum of many agents' chances, the sure ones with no variance).
  const sd = Array.from(supplyVar, (v) => Math.sqrt(v));
  const withinRisk = (n: number): boolean => {
    for (let k = 0; k < K; k++) {
      const lambda = arrivals[k] + n * q[k];
      const x = obs.waiting + lambda;
      if (x <= 1e-9) continue;
      // Z = waiting + j − supply is certainly ≤ 0 while j < from: those terms are 0.
      const from = Math.max(0, Math.floor(supply[k] - obs.waiting - 8 * sd[k]));
      let e = 0;
      let burst = 0;
      let pk = Math.exp(-lambda);
      for (let j = 0; ; j++) {
        if (j > 0) pk *= lambda / j;
        if (j >= from) {
          const z = obs.waiting + j - supply[k];
          e += pk * expectedPositive(z, supplyVar[k]);
          // P(more abandons than the budget): z − budget > 0, supply normal, continuity-corrected.
          burst += pk * (sd[k] > 1e-6 ? normalCdf((z - budget - 0.5) / sd[k]) : z - budget > 0 ? 1 : 0);
        }
        if (j > lambda && pk < 1e-12) break;
      }
      if (e > risk * x || burst > BURST_CHANCE) return false;
    }
    return true;
  };
  let n = floor;
  while (n < room && withinRisk(n + 1)) n++;
  return { callsToPlace: n, risk, progressive: false };
}

export const forecast: PacingController<ForecastState> = {
  name: 'forecast',
  onEvent(s0, e) {
    const s = s0.startedAt === null ? { ...s0, startedAt: e.at } : s0;
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
