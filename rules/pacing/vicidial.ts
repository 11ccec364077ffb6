// VICIdial adaptive pacing with `ADAPT_HARD_LIMIT` (AST_VDadapt.pl, as read in spec
// dialer-landscape.md §2.1). Every 15 one-second samples: differential = avg(ready agents) −
// avg(waiting calls); level ×= 1 + (differential + dlDiffTarget) / avg(agents) (intensity 0),
// clamped to [1, maxLevel]; ≥ 20 calls in the last minute with > 50 % dropped halves the level;
// HARD_LIMIT: past 50 calls in the day, drops/answers of the day above the limit forces 1.0.
// Lines: VICIdial keeps ceil(level × active agents) calls up, calls with agents included (the
// auto_calls rows last until hang-up). Active agents = logged-in, not paused, not in wrap-up
// (VICIdial's dispo screen pauses the agent).
import type { PacingController } from './types';

export interface VicidialParams {
  maxLevel: number;
  dlDiffTarget: number;
  droppedPercentage: number;
  startLevel: number;
}

export const VICIDIAL_DEFAULTS: VicidialParams = { maxLevel: 3, dlDiffTarget: 0, droppedPercentage: 3, startLevel: 1 };

export interface VicidialState {
  params: VicidialParams;
  level: number;
  /** Second of the last sample, and the current batch's sums. */
  lastSample: number;
  samples: number;
  sumReady: number;
  sumWaiting: number;
  sumAgents: number;
  dayCalls: number;
  dayAnswers: number;
  dayDrops: number;
  /** Placements and drops per second over the last minute, as [second, placed, dropped] rows. */
  lastMinute: number[][];
}

export function newVicidialState(params: Partial<VicidialParams> = {}): VicidialState {
  const p = { ...VICIDIAL_DEFAULTS, ...params };
  return { params: p, level: p.startLevel, lastSample: -1, samples: 0, sumReady: 0, sumWaiting: 0, sumAgents: 0, dayCalls: 0, dayAnswers: 0, dayDrops: 0, lastMinute: [] };
}

function recent(s: VicidialState, at: number, placed: number, dropped: number): number[][] {
  const sec = Math.floor(at);
  const rows = s.lastMinute.filter((r) => r[0] > sec - 60);
  const last = rows[rows.length - 1];
  if (last && last[0] === sec) rows[rows.length - 1] = [sec, last[1] + placed, last[2] + dropped];
  else rows.push([sec, placed, dropped]);
  return rows;
}

export const vicidialHardLimit: PacingController<VicidialState> = {
  name: 'vicidial-hard',
  onEvent(s, e) {
    switch (e.type) {
      case 'placed':
        return { ...s, dayCalls: s.dayCalls + 1, lastMinute: recent(s, e.at, 1, 0) };
      case 'bridged':
        return { ...s, dayAnswers: s.dayAnswers + 1 };
      case 'abandoned':
        return { ...s, dayAnswers: s.dayAnswers + 1, dayDrops: s.dayDrops + 1, lastMinute: recent(s, e.at, 0, 1) };
      default:
        return s;
    }
  },
  decide(s0, obs) {
    let s = s0;
    const sec = Math.floor(obs.now);
    const wrapping = obs.busy.filter((b) => b.state === 'wrap').length;
    const active = obs.loggedAgents - wrapping;
    if (sec > s.lastSample) {
      s = { ...s, lastSample: sec, samples: s.samples + 1, sumReady: s.sumReady + obs.freeAgents, sumWaiting: s.sumWaiting + obs.waiting, sumAgents: s.sumAgents + obs.loggedAgents };
      if (s.samples >= 15) {
        const avgAgents = s.sumAgents / s.samples;
        const differential = (s.sumReady - s.sumWaiting) / s.samples;
        let level = avgAgents > 0 ? s.level * (1 + (differential + s.params.dlDiffTarget) / avgAgents) : s.level;
        level = Math.min(s.params.maxLevel, Math.max(1, level));
        const rows = s.lastMinute.filter((r) => r[0] > sec - 60);
        const calls = rows.reduce((a, r) => a + r[1], 0);
        const drops = rows.reduce((a, r) => a + r[2], 0);
        if (calls >= 20 && drops / calls > 0.5) level = Math.max(1, level / 2);
        if (s.dayCalls > 50 && s.dayAnswers > 0 && (100 * s.dayDrops) / s.dayAnswers > s.params.droppedPercentage) level = 1;
        s = { ...s, level, samples: 0, sumReady: 0, sumWaiting: 0, sumAgents: 0, lastMinute: rows };
      }
    }
    const up = obs.dialing.length + obs.waiting + obs.talking;
    const room = Math.max(0, obs.maxLines - obs.dialing.length - obs.waiting);
    return { state: s, callsToPlace: Math.min(room, Math.max(0, Math.ceil(s.level * active) - up)) };
  },
};
