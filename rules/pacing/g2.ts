// Webitel v3 (G2) predictive pacing, spec webitel-v3-dialer.md §7.5.2, for parity.
// `maxPredictiveSilentCalls` is read by v3 and never used, so it is not here either.
import type { Observation, PacingController } from './types';

export interface G2Params {
  /** `targetPredictiveSilentCalls`, percent (default 2.5). */
  targetPredictiveSilentCalls: number;
  /** Initial `predictAdjust` (default 150), used until `predictStartCallCount` calls. */
  predictAdjust: number;
  predictStartBridgedCount: number;
  predictStartCallCount: number;
  /** Upper clamp of predictAdjust: 1500 (1000 in v3 `master`). */
  maxPredictAdjust: number;
}

export const G2_DEFAULTS: G2Params = {
  targetPredictiveSilentCalls: 2.5,
  predictAdjust: 150,
  predictStartBridgedCount: 10,
  predictStartCallCount: 200,
  maxPredictAdjust: 1500,
};

/** The `stats` counters of §7.5.1 that G2 reads and writes. */
export interface G2State {
  params: G2Params;
  /** Attempts finished. */
  callCount: number;
  bridgedCall: number;
  /** Answered, not bridged. */
  predictAbandoned: number;
  predictAdjust: number;
  queueLimit: number;
}

export function newG2State(params: Partial<G2Params> = {}): G2State {
  const p = { ...G2_DEFAULTS, ...params };
  return { params: p, callCount: 0, bridgedCall: 0, predictAbandoned: 0, predictAdjust: p.predictAdjust, queueLimit: 0 };
}

/** Step 3: `round(35·40^s)` clamped to [0, max], s = points below target (only past predictStartCallCount). */
export function g2PredictAdjust(s: G2State): number {
  if (s.callCount <= s.params.predictStartCallCount) return s.predictAdjust;
  const below = s.params.targetPredictiveSilentCalls - (100 * s.predictAbandoned) / s.callCount;
  const v = Math.round((Math.pow(2, below) / Math.pow(0.05, below)) * 35);
  return Math.min(s.params.maxPredictAdjust, Math.max(0, v));
}

/**
 * Steps 2–5 with A free and L logged agents: the queue limit, and how many calls to dial now (the
 * engine dials "one more" and re-evaluates after every start, so this is the count until the
 * condition turns false). `active` counts every member call in progress, bridged ones included.
 */
export function g2Limit(s: G2State, A: number, L: number, active: number, limit: number): { predictAdjust: number; queueLimit: number; calls: number } {
  if (A === 0) return { predictAdjust: s.predictAdjust, queueLimit: s.queueLimit, calls: 0 };
  if (s.bridgedCall < s.params.predictStartBridgedCount) {
    return { predictAdjust: s.predictAdjust, queueLimit: L, calls: Math.max(0, Math.min(L, limit) - active) };
  }
  const predictAdjust = g2PredictAdjust(s);
  let queueLimit: number;
  if (predictAdjust === 0) queueLimit = L;
  else {
    const connectRate = s.bridgedCall > 0 ? s.callCount / s.bridgedCall : 1;
    const overDial = Math.abs(A / connectRate - A);
    const calls = Math.ceil(A + (overDial * predictAdjust) / 100);
    queueLimit = calls + (L - A);
  }
  // Step 5: A ≤ 2 dials up to L, A ≥ 2 up to queueLimit (both hold at A = 2); step 6: min with `limit`.
  let upTo = 0;
  if (A <= 2) upTo = Math.max(upTo, L);
  if (A >= 2) upTo = Math.max(upTo, queueLimit);
  return { predictAdjust, queueLimit, calls: Math.max(0, Math.min(upTo, queueLimit, limit) - active) };
}

function g2Decide(s: G2State, obs: Observation) {
  const active = obs.dialing.length + obs.waiting + obs.talking;
  // `limit` is the campaign's line cap; calls already bridged hold a line too.
  const r = g2Limit(s, obs.freeAgents, obs.loggedAgents, active, obs.maxLines + obs.talking);
  return { state: { ...s, predictAdjust: r.predictAdjust, queueLimit: r.queueLimit }, callsToPlace: r.calls };
}

export const webitelG2: PacingController<G2State> = {
  name: 'webitel-g2',
  onEvent(s, e) {
    switch (e.type) {
      case 'ended':
      case 'abandoned':
      case 'talkEnded':
        return { ...s, callCount: s.callCount + 1, predictAbandoned: s.predictAbandoned + (e.type === 'abandoned' ? 1 : 0) };
      case 'bridged':
        return { ...s, bridgedCall: s.bridgedCall + 1 };
      default:
        return s;
    }
  },
  decide: g2Decide,
};
