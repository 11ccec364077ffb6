// The standard pacing workloads (issue: W1–W4) and two of our own that no controller was tuned on.
import { rng, type Workload } from './sim';

/** What the issue does not fix, shared by W1–W4: busy 10 %, persons answer after ~8 s, machines after
 * 12–25 s, 30 s no-answer timeout, AMD 3 % persons→machine and 10 % machines→human, talk lognormal. */
const base: Omit<Workload, 'name' | 'agents' | 'pHuman' | 'pMachine' | 'talkMeanSec' | 'wrapSec'> = {
  pBusy: 0.1,
  talk: { dist: 'lognormal', sigma: 0.7 },
  ringHumanMeanSec: 8,
  ringMachineSec: [12, 25],
  noAnswerTimeoutSec: 30,
  amd: { humanAsMachine: 0.03, machineAsHuman: 0.1, humanSec: [1.5, 3], machineSec: [2.5, 5], machineTalkSec: 6 },
  breaks: [],
};

export const W1: Workload = { ...base, name: 'W1', agents: 20, pHuman: 0.25, pMachine: 0.1, talkMeanSec: 120, wrapSec: 10 };
export const W2: Workload = { ...base, name: 'W2', agents: 5, pHuman: 0.3, pMachine: 0.1, talkMeanSec: 90, wrapSec: 10 };
export const W3: Workload = { ...base, name: 'W3', agents: 50, pHuman: 0.15, pMachine: 0.15, talkMeanSec: 180, wrapSec: 15 };
export const W4: Workload = {
  ...W1,
  name: 'W4',
  breaks: [
    { atSec: 2 * 3600, share: 0.3, durationSec: 15 * 60 },
    { atSec: 5 * 3600, share: 0.5, durationSec: 10 * 60 },
  ],
};

/** Short exponential talks, high answer rate, slow answers, a small team with a break wave. */
export const X1: Workload = {
  ...base,
  name: 'X1',
  agents: 12,
  pHuman: 0.4,
  pMachine: 0.05,
  pBusy: 0.05,
  talk: { dist: 'exponential' },
  talkMeanSec: 45,
  wrapSec: 5,
  ringHumanMeanSec: 14,
  ringMachineSec: [15, 28],
  noAnswerTimeoutSec: 40,
  breaks: [{ atSec: 3 * 3600, share: 0.25, durationSec: 20 * 60 }],
};

/** Long, very variable talks, poor lists (many machines, few persons), long wrap-up, worse AMD. */
export const X2: Workload = {
  ...base,
  name: 'X2',
  agents: 8,
  pHuman: 0.12,
  pMachine: 0.25,
  talk: { dist: 'lognormal', sigma: 1.1 },
  talkMeanSec: 300,
  wrapSec: 30,
  ringHumanMeanSec: 6,
  amd: { humanAsMachine: 0.05, machineAsHuman: 0.2, humanSec: [2, 4], machineSec: [3, 6], machineTalkSec: 10 },
  breaks: [{ atSec: 4 * 3600, share: 0.5, durationSec: 30 * 60 }],
};

export const STANDARD = [W1, W2, W3, W4];
export const EXTRA = [X1, X2];

/** Random workloads for robustness sweeps (`--random N`): 3–62 agents, persons 0.10–0.50, machines
 * 0–0.30, busy 0–0.15, talk 30–400 s (exponential or lognormal σ 0.3–1.3), wrap-up 0–59 s, persons
 * answering after 4–18 s on average, and a break wave in about half of them. */
export function randomWorkloads(n: number, seed: number): Workload[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i): Workload => {
    const agents = 3 + Math.floor(r() * 60);
    return {
      ...base,
      name: `R${i + 1}`,
      agents,
      pHuman: 0.1 + r() * 0.4,
      pMachine: r() * 0.3,
      pBusy: r() * 0.15,
      talkMeanSec: 30 + r() * 370,
      talk: r() < 0.5 ? { dist: 'exponential' } : { dist: 'lognormal', sigma: 0.3 + r() },
      wrapSec: Math.floor(r() * 60),
      ringHumanMeanSec: 4 + r() * 14,
      breaks: r() < 0.5 ? [{ atSec: 3600 * (1 + r() * 6), share: r() * 0.5, durationSec: 600 + r() * 1200 }] : [],
    };
  });
}

/** One line describing a workload. */
export function describe(w: Workload): string {
  const talk = w.talk.dist === 'exponential' ? 'exp' : `logn σ${w.talk.sigma.toFixed(1)}`;
  const breaks = w.breaks.map((b) => `${Math.round(b.share * 100)} % for ${Math.round(b.durationSec / 60)} min at ${(b.atSec / 3600).toFixed(1)} h`).join(', ');
  return `${w.name}: ${w.agents} agents, persons ${w.pHuman.toFixed(2)}, machines ${w.pMachine.toFixed(2)}, busy ${w.pBusy.toFixed(2)}, talk ${Math.round(w.talkMeanSec)} s ${talk}, wrap ${w.wrapSec} s, ring ${w.ringHumanMeanSec.toFixed(0)} s${breaks ? `, breaks ${breaks}` : ''}`;
}
