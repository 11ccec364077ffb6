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
// Forecast: on a grid of horizons h (from the age by which a few live calls have gone live to the
// age by which nearly all have), D(h) = answers by h − agents free by h + wait limit. Agents taken
// stay taken within the horizon (talks last longer), so the answers that find no agent are
// max_h D(h)⁺, a random walk's running maximum: computed exactly over the walk's distribution (each
// step's answers and frees are sums of Bernoulli chances, taken as the binomial with the same mean
// and variance: the sure frees of agents in wrap-up have none), as E[max D⁺] and P(max D > budget).
// Decision: add calls one at a time, never fewer than progressive nor more than the line cap, while
// (1) the call's own forecast abandons per live answer (the marginal share) stay ≤ τ, weighted by
// the agents idle now (risk is spent where agents wait for answers), and
// (2) it adds at most burstChance to the chance that the forecast abandons exceed what the rolling
// window can still take.
// τ = setpoint · e^g · guard:
//  - g is an integral term on the measured outcome of every answered call (+η per bridge, −η(1/sp−1)
//    per abandon, so it rests where the measured rate equals the setpoint): it absorbs what the
//    model gets wrong (dependence, distribution tails, the greedy sequence of decisions);
//  - guard holds the hard cap on the rolling window: abandons are whole, so the window allows
//    floor(cap · (live − √live)) (the windows ahead may hold fewer answers); guard is 1 at or below
//    the setpoint, falls to 0 at the cap, and is 0 when no abandon is left or the window allows a
//    single one (agents leaving with calls in flight can spend it unseen). A window not yet full
//    counts as full at the current pace. Guard 0 is progressive: no new risk.
// Until it has seen enough calls (or with too few agents) it dials progressively.
import { progressiveCalls, type Observation, type PacingController } from './types';
import { addCount, newRolling, windowSum, type RollingCounts } from './window';

export interface ForecastParams {
  /** Hard cap on abandoned / answered live calls over the rolling window (legal limit, e.g. 0.03). */
  capRate: number;
  /** Long-run target as a share of the cap. */
  setpointShare: number;
  windowMinutes: number;
  /** Progressive below this many logged agents. */
  minAgents: number;
  /** Progressive until this many calls went live and this many talks ended. */
  minLive: number;
  minTalks: number;
  /** Most each call may add to the chance that the forecast abandons exceed what the window can take. */
  burstChance: number;
}

export const FORECAST_DEFAULTS: ForecastParams = {
  capRate: 0.03,
  setpointShare: 0.6,
  windowMinutes: 60,
  minAgents: 2,
  minLive: 20,
  minTalks: 10,
  burstChance: 0.0001,
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
const G_MAX = 1;
/** Horizon: the age by which this share of live calls has gone live. */
const HORIZON_QUANTILE = 0.97;
const HORIZON_FROM = 0.05;
const GRID = 8;

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

/**
 * The pmf of a sum of independent Bernoulli trials with this mean and variance (a Poisson-binomial),
 * as the binomial with the same two moments (Ehm 1991): exact for equal chances, and far closer in
 * the tails than a Poisson (which over-states them when chances are large, i.e. small teams) or a
 * normal (which under-states them). Entries below 1e-13 past the mean are cut off.
 */
export function bernoulliSumPmf(mean: number, variance: number): number[] {
  if (mean <= 1e-12) return [1];
  const p = Math.min(1, Math.max(1e-9, 1 - variance / mean));
  const n = Math.max(1, Math.round(mean / p));
  const pp = Math.min(1, mean / n);
  if (pp >= 1 - 1e-12) return [...new Array<number>(n).fill(0), 1];
  const pmf: number[] = [Math.pow(1 - pp, n)];
  const odds = pp / (1 - pp);
  for (let k = 0; k < n; k++) {
    const next = (pmf[k] * (n - k) * odds) / (k + 1);
    if (k > mean && next < 1e-13) break;
    pmf.push(next);
  }
  return pmf;
}

/**
 * What the controller accepts now: `risk`, the forecast share of answers abandoned that a further
 * call may add (0 = progressive), and `budget`, the abandons the window can still take.
 */
export function forecastLimits(s: ForecastState, now: number): { risk: number; budget: number } {
  const p = s.params;
  const abandoned = windowSum(s.window, 'abandoned', now);
  // A window not yet full will hold about this many answers when it is.
  const elapsed = s.startedAt === null ? 0 : now - s.startedAt;
  const fill = Math.min(1, Math.max(elapsed, 60) / (60 * p.windowMinutes));
  const live = windowSum(s.window, 'live', now) / fill;
  // Abandons are whole, and the windows ahead, which keep today's abandons, may hold fewer answers
  // than this one (by about a Poisson spread): the cap allows floor(cap · (live − √live)).
  const allowed = Math.floor(p.capRate * Math.max(0, live - Math.sqrt(live)) + 1e-9);
  const left = allowed - abandoned;
  // Progressive when nothing is left, and when the window takes a single abandon at most: an agent
  // leaving with calls in flight can spend that one, and no forecast sees it coming.
  if (left <= 0 || allowed < 2) return { risk: 0, budget: left };
  // Proportional: full risk at or below the setpoint, none at the cap.
  const setpoint = p.capRate * p.setpointShare;
  const rate = live > 0 ? abandoned / live : 0;
  return { risk: setpoint * Math.exp(s.g) * clamp01((p.capRate - rate) / (p.capRate - setpoint)), budget: left };
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

  // Per horizon hs[k]: agents free by h + W (sure ones, and the mean and variance of the others),
  // answers expected from the calls in flight (mean, variance), and the chance q that a call placed
  // now has gone live.
  const sure = new Float64Array(K).fill(obs.freeAgents);
  const supplyMean = new Float64Array(K);
  const supplyVar = new Float64Array(K);
  const arrivals = new Float64Array(K);
  const arrivalsVar = new Float64Array(K);
  const q = hs.map((h) => ageCdf(cl, h) / total);
  for (const placedAt of obs.dialing) {
    const a = Math.max(0, obs.now - placedAt);
    const la = ageCdf(cl, a);
    const surv = total - la - ageCdf(ce, a);
    if (surv <= 1e-9 * total) continue;
    for (let k = 0; k < K; k++) {
      const pj = Math.min(1, Math.max(0, (ageCdf(cl, a + hs[k]) - la) / surv));
      arrivals[k] += pj;
      arrivalsVar[k] += pj * (1 - pj);
    }
  }
  for (const b of obs.busy) {
    if (b.state === 'wrap') {
      for (let k = 0; k < K; k++) if (b.until <= obs.now + hs[k] + W) sure[k] += 1;
      continue;
    }
    if (talkTotal <= 0) continue;
    const e = Math.max(0, obs.now - b.since);
    const te = talkCdf(ct, e);
    const surv = talkTotal - te;
    if (surv <= 1e-9 * talkTotal) continue; // longer than any talk seen: no forecast, no supply
    for (let k = 0; k < K; k++) {
      const r = Math.min(1, Math.max(0, (talkCdf(ct, e + hs[k] + W - b.wrapSec) - te) / surv));
      supplyMean[k] += r;
      supplyVar[k] += r * (1 - r);
    }
  }
  // D_k = answers by h_k − agents free by h_k + wait limit is a random walk over the horizons; an
  // answer finds no agent when D reaches a new high (agents taken stay taken within the horizon),
  // so the abandons are max_k D_k⁺. Per step: the frees' pmf (sure + a Bernoulli sum), fixed.
  // Each call goes live (each agent frees) at most once, so its steps are not independent: the steps'
  // variances are the differences of the cumulative ones, which makes the walk's spread right at
  // every horizon (independent steps would overstate it, and the bursts with it).
  const stepVarOf = (cum: Float64Array, k: number) => Math.max(0, cum[k] - (k > 0 ? cum[k - 1] : 0));
  const freePmf: number[][] = [];
  for (let k = 0; k < K; k++) {
    const sureStep = sure[k] - (k > 0 ? sure[k - 1] : 0);
    const stepMean = supplyMean[k] - (k > 0 ? supplyMean[k - 1] : 0);
    const pmf = bernoulliSumPmf(stepMean, Math.min(stepMean, stepVarOf(supplyVar, k)));
    freePmf.push([...new Array<number>(sureStep).fill(0), ...pmf]);
  }
  /** E[max D⁺] and P(max D > budget) with n more calls. */
  const overrun = (n: number): { abandons: number; burst: number } => {
    // Per step: pmf of the increment D_k − D_{k−1}, as an array from its lowest value `low`.
    const steps: { low: number; pmf: number[] }[] = [];
    for (let k = 0; k < K; k++) {
      const qStep = q[k] - (k > 0 ? q[k - 1] : 0);
      const stepMean = arrivals[k] - (k > 0 ? arrivals[k - 1] : 0) + n * qStep;
      const stepVar = Math.min(stepMean, stepVarOf(arrivalsVar, k) + n * Math.max(0, q[k] * (1 - q[k]) - (k > 0 ? q[k - 1] * (1 - q[k - 1]) : 0)));
      const arr = bernoulliSumPmf(stepMean, stepVar);
      const fr = freePmf[k];
      const pmf = new Array<number>(arr.length + fr.length - 1).fill(0);
      for (let i = 0; i < arr.length; i++) for (let j = 0; j < fr.length; j++) pmf[i - j + fr.length - 1] += arr[i] * fr[j];
      steps.push({ low: -(fr.length - 1), pmf });
    }
    const burstLevel = Math.floor(budget + 1e-9) + 1;
    let abandons = 0;
    let burst = burstLevel <= 0 ? 1 : 0;
    // P(max D ≥ m) for m = 1, 2, …: the walk absorbed at m. D below `bottom` is held at it (it
    // cannot climb back within the horizon by more than the answers still to come).
    for (let m = 1; ; m++) {
      const bottom = -(obs.freeAgents + obs.busy.length + 1);
      let dist = new Array<number>(m - bottom).fill(0); // index d − bottom, d in [bottom, m)
      if (obs.waiting >= m) dist = [];
      else dist[obs.waiting - bottom] = 1;
      let hit = dist.length === 0 ? 1 : 0;
      for (let k = 0; k < K && dist.length > 0; k++) {
        const { low, pmf } = steps[k];
        const next = new Array<number>(m - bottom).fill(0);
        for (let i = 0; i < dist.length; i++) {
          const pi = dist[i];
          if (pi < 1e-15) continue;
          for (let j = 0; j < pmf.length; j++) {
            const d = i + bottom + low + j;
            const v = pi * pmf[j];
            if (d >= m) hit += v;
            else next[Math.max(0, d - bottom)] += v;
          }
        }
        dist = next;
      }
      abandons += hit;
      if (m === burstLevel) burst = hit;
      // P(max D ≥ m) falls with m: the higher levels add nothing that matters.
      if (hit < 1e-6) break;
    }
    return { abandons, burst };
  };
  // Each further call adds q live answers and some forecast abandons: place it while its own share
  // of abandons (the marginal one) is within the risk, weighted by the agents idle now (1 when half
  // the team is: an answer is worth most where agents wait for one, while with all of them busy a
  // later call does as well), and while it adds less than burstChance to the chance of more
  // abandons than the window can still take.
  const qAll = q[K - 1];
  const limit = risk * qAll * ((1 + obs.freeAgents) / (1 + obs.loggedAgents / 2));
  let lo = floor;
  let prev = overrun(lo);
  while (lo < room) {
    const next = overrun(lo + 1);
    if (next.abandons - prev.abandons > limit || next.burst - prev.burst > p.burstChance) break;
    lo++;
    prev = next;
  }
  return { callsToPlace: lo, risk, progressive: false };
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
