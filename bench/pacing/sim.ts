// Discrete-event simulation of a predictive campaign in simulated time (a priority queue of events,
// no real waiting), driving any pacing controller through its pure interface (rules/pacing).
// Seeded: the same workload, controller and seed give the same result.
import { makeRng } from '../../simulator/rules';
import type { PacingController, PacingEvent } from '../../rules/pacing';
import { PREDICTIVE_DEFAULTS, observe, type BusyTierAgent, type PacedCall } from '../../rules/predictive';

export interface BreakWave {
  /** When the wave starts (s from the start), the share of logged agents who leave, for how long. */
  atSec: number;
  share: number;
  durationSec: number;
}

export interface Workload {
  name: string;
  agents: number;
  /** Per placed call: answered by a person, by a machine, busy; the rest ring out unanswered. */
  pHuman: number;
  pMachine: number;
  pBusy: number;
  talkMeanSec: number;
  /** Lognormal with this sigma (log scale), or exponential. */
  talk: { dist: 'lognormal'; sigma: number } | { dist: 'exponential' };
  wrapSec: number;
  /** Time to answer for a person: lognormal with this mean (sigma 0.5), at least 1 s. */
  ringHumanMeanSec: number;
  /** A machine answers uniformly within this range. */
  ringMachineSec: [number, number];
  /** Unanswered calls are given up after this long (≥ 15 s: FTC/Ofcom). */
  noAnswerTimeoutSec: number;
  amd: {
    /** A person classified machine (dropped: counted apart, see README of the bench). */
    humanAsMachine: number;
    /** A machine classified human (goes to an agent, who hangs up after machineTalkSec). */
    machineAsHuman: number;
    humanSec: [number, number];
    machineSec: [number, number];
    machineTalkSec: number;
  };
  breaks: BreakWave[];
}

export interface SimOptions {
  hours: number;
  seed: number;
  waitLimitSec: number;
  linesPerAgent: number;
}

export interface SimResult {
  workload: string;
  controller: string;
  seed: number;
  placed: number;
  live: number;
  abandoned: number;
  /** Persons dropped by AMD as machines (not in `abandoned`; Ofcom counts them: see the bench). */
  amdDroppedHumans: number;
  /** (talk + wrap) / logged time outside breaks. */
  utilisation: number;
  abandonRate: number;
  /** Highest abandoned / live over any full 60-minute window (ending on a whole minute). */
  maxHourAbandonRate: number;
  callsPerAgentHour: number;
  agentHours: number;
}

/** The simulator's seeded generator (mulberry32). */
export const rng = makeRng;

function normal(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

function lognormalWithMean(r: () => number, mean: number, sigma: number): number {
  return Math.exp(Math.log(mean) - (sigma * sigma) / 2 + sigma * normal(r));
}

function uniform(r: () => number, [lo, hi]: [number, number]): number {
  return lo + (hi - lo) * r();
}

type EvKind = 'tick' | 'resolve' | 'abandon' | 'talkEnd' | 'wrapEnd' | 'breakStart' | 'breakEnd';
interface SimEvent {
  t: number;
  seq: number;
  kind: EvKind;
  id: number;
}

class Heap {
  private a: SimEvent[] = [];
  get size(): number {
    return this.a.length;
  }
  push(e: SimEvent): void {
    const a = this.a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): SimEvent | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l], a[m])) m = l;
        if (r < a.length && less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

function less(x: SimEvent, y: SimEvent): boolean {
  return x.t < y.t || (x.t === y.t && x.seq < y.seq);
}

interface Agent {
  state: 'idle' | 'talk' | 'wrap' | 'break';
  since: number;
  until: number;
  /** End of a break that starts when the current call and wrap-up are done (0 = none). */
  breakUntil: number;
  call: number;
}

interface Call {
  placedAt: number;
  /** Answered and classified machine by AMD (a machine, or a person AMD got wrong). */
  amdMachine: boolean;
  /** What happens at `resolve`: goes live (needs an agent) or ends. */
  live: boolean;
  answered: boolean;
  droppedHuman: boolean;
  liveAt: number;
  talkSec: number;
}

export function simulate<S>(controller: PacingController<S>, initial: S, w: Workload, opt: SimOptions): SimResult {
  const r = rng(opt.seed);
  const T = opt.hours * 3600;
  const heap = new Heap();
  let seq = 0;
  const at = (t: number, kind: EvKind, id: number) => heap.push({ t, seq: seq++, kind, id });

  let state = initial;
  const feed = (e: PacingEvent) => {
    state = controller.onEvent(state, e);
  };

  const agents: Agent[] = Array.from({ length: w.agents }, () => ({ state: 'idle', since: 0, until: 0, breakUntil: 0, call: -1 }));
  const spent = { idle: 0, talk: 0, wrap: 0, break: 0 };
  const calls = new Map<number, Call>();
  const dialing = new Map<number, number>();
  /** The calls in flight as a campaign keeps them (rules/predictive.ts), for its observe(). */
  const paced: Record<string, PacedCall> = {};
  const rules = { ...PREDICTIVE_DEFAULTS, maxLocateAgentSec: opt.waitLimitSec, linesPerAgent: opt.linesPerAgent };
  const waiting: number[] = [];
  let nextCall = 0;
  let placed = 0;
  let live = 0;
  let abandoned = 0;
  let amdDroppedHumans = 0;
  const minutes = Math.ceil(T / 60);
  const liveByMin = new Array<number>(minutes).fill(0);
  const abByMin = new Array<number>(minutes).fill(0);

  const setState = (a: Agent, s: Agent['state'], now: number) => {
    spent[a.state] += now - a.since;
    a.state = s;
    a.since = now;
  };

  const bridge = (a: Agent, id: number, now: number) => {
    const c = calls.get(id);
    if (!c) return;
    setState(a, 'talk', now);
    a.call = id;
    paced[id].bridgedAt = now;
    feed({ type: 'bridged', at: now, liveAt: c.liveAt });
    at(now + c.talkSec, 'talkEnd', agents.indexOf(a));
  };

  const freeAgent = (a: Agent, now: number) => {
    if (a.breakUntil > now) {
      setState(a, 'break', now);
      at(a.breakUntil, 'breakEnd', agents.indexOf(a));
      a.breakUntil = 0;
      return;
    }
    a.breakUntil = 0;
    setState(a, 'idle', now);
    const id = waiting.shift();
    if (id !== undefined) bridge(a, id, now);
  };

  const place = (now: number) => {
    const id = nextCall++;
    placed++;
    const u = r();
    const c: Call = { placedAt: now, amdMachine: false, live: false, answered: false, droppedHuman: false, liveAt: 0, talkSec: 0 };
    let resolveAt: number;
    if (u < w.pHuman) {
      const ring = Math.min(w.noAnswerTimeoutSec - 1, Math.max(1, lognormalWithMean(r, w.ringHumanMeanSec, 0.5)));
      c.answered = true;
      resolveAt = now + ring + uniform(r, w.amd.humanSec);
      if (r() < w.amd.humanAsMachine) {
        c.droppedHuman = true;
        c.amdMachine = true;
      }
      else {
        c.live = true;
        c.talkSec = w.talk.dist === 'lognormal' ? lognormalWithMean(r, w.talkMeanSec, w.talk.sigma) : -w.talkMeanSec * Math.log(Math.max(r(), 1e-12));
      }
    } else if (u < w.pHuman + w.pMachine) {
      c.answered = true;
      resolveAt = now + uniform(r, w.ringMachineSec) + uniform(r, w.amd.machineSec);
      if (r() < w.amd.machineAsHuman) {
        c.live = true;
        c.talkSec = w.amd.machineTalkSec;
      } else c.amdMachine = true;
    } else if (u < w.pHuman + w.pMachine + w.pBusy) {
      resolveAt = now + uniform(r, [2, 6]);
    } else {
      resolveAt = now + w.noAnswerTimeoutSec;
    }
    calls.set(id, c);
    dialing.set(id, now);
    paced[id] = { grantedAt: now, placedAt: now };
    feed({ type: 'placed', at: now });
    at(resolveAt, 'resolve', id);
  };

  // What the campaign workflow passes the controller: its own calls (talking agents among them) and
  // the tier agents' documents (those in wrap-up free at a known time; epoch ms).
  const decide = (now: number) => {
    let free = 0;
    let talking = 0;
    const wrapping: BusyTierAgent[] = [];
    for (const a of agents) {
      if (a.state === 'idle') free++;
      else if (a.state === 'talk') talking++;
      else if (a.state === 'wrap') wrapping.push({ state: 'wrap', until: a.until * 1000 });
    }
    const obs = observe({ calls: paced }, rules, { logged: free + talking + wrapping.length, available: free, busy: wrapping }, w.wrapSec, now);
    const d = controller.decide(state, obs);
    state = d.state;
    const room = Math.max(0, obs.maxLines - dialing.size - waiting.length);
    const n = Math.min(room, Math.max(0, Math.floor(d.callsToPlace)));
    for (let i = 0; i < n; i++) place(now);
  };

  for (let s = 1; s <= T; s++) at(s, 'tick', 0);
  w.breaks.forEach((b, i) => at(b.atSec, 'breakStart', i));

  for (let e = heap.pop(); e && e.t <= T; e = heap.pop()) {
    const now = e.t;
    switch (e.kind) {
      case 'tick':
        break;
      case 'resolve': {
        const c = calls.get(e.id);
        if (!c) break;
        dialing.delete(e.id);
        if (!c.live) {
          if (c.droppedHuman) amdDroppedHumans++;
          calls.delete(e.id);
          delete paced[e.id];
          feed({ type: 'ended', at: now, placedAt: c.placedAt, answered: c.answered, ...(c.amdMachine ? { amdMachine: true } : {}) });
          break;
        }
        c.liveAt = now;
        paced[e.id].liveAt = now;
        live++;
        liveByMin[Math.min(minutes - 1, Math.floor(now / 60))]++;
        feed({ type: 'live', at: now, placedAt: c.placedAt });
        const a = agents.find((x) => x.state === 'idle');
        if (a) bridge(a, e.id, now);
        else {
          waiting.push(e.id);
          at(now + opt.waitLimitSec, 'abandon', e.id);
        }
        break;
      }
      case 'abandon': {
        const i = waiting.indexOf(e.id);
        if (i < 0) break;
        waiting.splice(i, 1);
        const c = calls.get(e.id);
        calls.delete(e.id);
        delete paced[e.id];
        abandoned++;
        abByMin[Math.min(minutes - 1, Math.floor((c?.liveAt ?? now) / 60))]++;
        feed({ type: 'abandoned', at: now, liveAt: c?.liveAt ?? now });
        break;
      }
      case 'talkEnd': {
        const a = agents[e.id];
        const c = calls.get(a.call);
        calls.delete(a.call);
        delete paced[a.call];
        a.call = -1;
        setState(a, 'wrap', now);
        a.until = now + w.wrapSec;
        feed({ type: 'talkEnded', at: now, talkSec: c?.talkSec ?? 0 });
        at(a.until, 'wrapEnd', e.id);
        break;
      }
      case 'wrapEnd':
        freeAgent(agents[e.id], now);
        break;
      case 'breakStart': {
        const b = w.breaks[e.id];
        const present = agents.filter((a) => a.state !== 'break' && a.breakUntil === 0);
        let leave = Math.round(b.share * present.length);
        while (leave > 0 && present.length > 0) {
          const a = present.splice(Math.floor(r() * present.length), 1)[0];
          leave--;
          if (a.state === 'idle') {
            setState(a, 'break', now);
            at(now + b.durationSec, 'breakEnd', agents.indexOf(a));
          } else a.breakUntil = now + b.durationSec;
        }
        break;
      }
      case 'breakEnd':
        freeAgent(agents[e.id], now);
        break;
    }
    decide(now);
  }
  for (const a of agents) setState(a, a.state, T);

  let maxHour = 0;
  let wl = 0;
  let wa = 0;
  for (let m = 0; m < minutes; m++) {
    wl += liveByMin[m];
    wa += abByMin[m];
    if (m >= 60) {
      wl -= liveByMin[m - 60];
      wa -= abByMin[m - 60];
    }
    if (m >= 59 && wl > 0) maxHour = Math.max(maxHour, wa / wl);
  }
  const logged = spent.idle + spent.talk + spent.wrap;
  return {
    workload: w.name,
    controller: controller.name,
    seed: opt.seed,
    placed,
    live,
    abandoned,
    amdDroppedHumans,
    utilisation: logged > 0 ? (spent.talk + spent.wrap) / logged : 0,
    abandonRate: live > 0 ? abandoned / live : 0,
    maxHourAbandonRate: maxHour,
    callsPerAgentHour: logged > 0 ? placed / (logged / 3600) : 0,
    agentHours: logged / 3600,
  };
}
