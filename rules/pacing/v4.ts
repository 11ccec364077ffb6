// Webitel v4 (webitel/call_center) predictive pacing, as read in spec dialer-landscape.md §2.3:
// over a rolling `statistic_time` window, connection_rate = human-answered / attempts and
// over_dial = 1 / connection_rate; `cc_wrap_over_dial(over, current, target, max, q)` keeps it when
// the window's abandon rate is at the target, raises it by over·(target − current)·q/100 below the
// target, scales it down in proportion to (max − current)/(max − target) between target and max, and
// sets 1 (no over-dial) at or above max. Our reading of how the factor is used: the queue keeps
// ceil(free agents × over_dial) calls in flight (not yet bridged), at most `max_agent_line` per free
// agent; progressive until `min_attempts` human answers are in the window.
import type { PacingController } from './types';
import { addCount, newRolling, windowSum, type RollingCounts } from './window';

export interface V4Params {
  targetAbandonedRate: number; // percent
  maxAbandonedRate: number; // percent
  loadFactor: number;
  statisticMinutes: number;
  minAttempts: number;
  maxAgentLine: number;
}

export const V4_DEFAULTS: V4Params = { targetAbandonedRate: 3, maxAbandonedRate: 3, loadFactor: 10, statisticMinutes: 60, minAttempts: 20, maxAgentLine: 3 };

export interface V4State {
  params: V4Params;
  window: RollingCounts;
}

export function newV4State(params: Partial<V4Params> = {}): V4State {
  const p = { ...V4_DEFAULTS, ...params };
  return { params: p, window: newRolling(['attempts', 'answered', 'abandoned'], p.statisticMinutes) };
}

/** `cc_wrap_over_dial` as described above. */
export function wrapOverDial(over: number, current: number, target: number, max: number, q: number): number {
  if (current >= max) return 1;
  if (current < target) return over + (over * (target - current) * q) / 100;
  if (current === target || max === target) return over;
  return Math.max(1, over * ((max - current) / (max - target)));
}

export const webitelV4: PacingController<V4State> = {
  name: 'webitel-v4',
  onEvent(s, e) {
    switch (e.type) {
      case 'placed':
        return { ...s, window: addCount(s.window, 'attempts', e.at) };
      case 'bridged':
        return { ...s, window: addCount(s.window, 'answered', e.liveAt) };
      case 'abandoned':
        return { ...s, window: addCount(addCount(s.window, 'answered', e.liveAt), 'abandoned', e.liveAt) };
      default:
        return s;
    }
  },
  decide(s, obs) {
    const p = s.params;
    const inFlight = obs.dialing.length + obs.waiting;
    const attempts = windowSum(s.window, 'attempts', obs.now);
    const answered = windowSum(s.window, 'answered', obs.now);
    const abandoned = windowSum(s.window, 'abandoned', obs.now);
    let over = 1;
    if (answered >= p.minAttempts) {
      const abandonRate = (100 * abandoned) / answered;
      over = wrapOverDial(attempts / answered, abandonRate, p.targetAbandonedRate, p.maxAbandonedRate, p.loadFactor);
    }
    const want = Math.min(Math.ceil(obs.freeAgents * over), obs.freeAgents * p.maxAgentLine);
    const room = Math.max(0, obs.maxLines - inFlight);
    return { state: s, callsToPlace: Math.min(room, Math.max(0, want - inFlight)) };
  },
};
