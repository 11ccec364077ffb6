// Pacing bench: every controller (rules/pacing) on every workload (bench/pacing/workloads.ts),
// simulated in discrete events (bench/pacing/sim.ts), several seeds each.
//   npx tsx bench/pacing.ts [--seeds 5] [--hours 8] [--only forecast,progressive] [--workloads W1,X1] [--runs]
//   npx tsx bench/pacing.ts --random 20 [--random-seed 1] --only forecast,progressive   (random workloads instead)
// Prints per controller × workload: utilisation (talk + wrap share of logged time outside breaks),
// abandon rate overall (abandoned / live answers), the worst full 1-hour window over all seeds, calls
// per agent-hour, and the legal windows as rules/pacing/compliance.ts counts them at the end of each
// run (US 30-day: abandoned / live answers; UK Ofcom 24 h: also counting the persons AMD dropped as
// machines; an 8-h run is inside both windows); --runs prints every run. A live answer waits at most
// 2 s for an agent; at most 3 lines (calls not yet bridged) per logged agent. `forecast` runs under
// the compliance gate (`withCompliance`), as a campaign runs it.
import {
  abandonRates,
  complianceOnEvent,
  forecast,
  newComplianceState,
  newForecastState,
  newG2State,
  newProgressiveState,
  newV4State,
  newVicidialState,
  progressive,
  vicidialHardLimit,
  webitelG2,
  webitelV4,
  withCompliance,
  type ComplianceState,
  type PacingController,
} from '../rules/pacing';
import { simulate, type SimResult, type Workload } from './pacing/sim';
import { EXTRA, STANDARD, describe, randomWorkloads } from './pacing/workloads';
import { arg } from './lib/util';

type Options = Parameters<typeof simulate>[3];
export interface Run extends SimResult {
  /** US 30-day and UK 24 h abandon rates at the end of the run (compliance rules). */
  us30d: number;
  ofcom24h: number;
}

/** Runs `c`, counting the legal windows beside it (the counting does not change any decision). */
function runCounted<S>(c: PacingController<S>, initial: S, w: Workload, o: Options): Run {
  let counts: ComplianceState = newComplianceState();
  const counted: PacingController<S> = { ...c, onEvent: (s, e) => ((counts = complianceOnEvent(counts, e)), c.onEvent(s, e)) };
  const r = simulate(counted, initial, w, o);
  // Ofcom counts the persons AMD dropped; the simulator knows them, a campaign estimates the share.
  const machines = counts.windows['ofcom-24h'].buckets.amdMachine.reduce((a, b) => a + b, 0);
  counts = { ...counts, params: { ...counts.params, amdPersonShare: machines > 0 ? r.amdDroppedHumans / machines : 0 } };
  const rates = abandonRates(counts, o.hours * 3600);
  return { ...r, us30d: rates.find((x) => x.window === 'us-30d')?.rate ?? 0, ofcom24h: rates.find((x) => x.window === 'ofcom-24h')?.rate ?? 0 };
}

/** Each controller with a fresh state per run (the same call each time: runs are independent). */
export const CONTROLLERS = [
  { name: progressive.name, run: (w: Workload, o: Options) => runCounted(progressive, newProgressiveState(), w, o) },
  { name: webitelG2.name, run: (w: Workload, o: Options) => runCounted(webitelG2, newG2State(), w, o) },
  { name: webitelV4.name, run: (w: Workload, o: Options) => runCounted(webitelV4, newV4State(), w, o) },
  { name: vicidialHardLimit.name, run: (w: Workload, o: Options) => runCounted(vicidialHardLimit, newVicidialState(), w, o) },
  { name: forecast.name, run: (w: Workload, o: Options) => runCounted(withCompliance(forecast), { pacing: newForecastState(), compliance: newComplianceState() }, w, o) },
];

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

function main(): void {
  const seeds = Number(arg('--seeds', '5'));
  const hours = Number(arg('--hours', '8'));
  const only = arg('--only', '').split(',').filter(Boolean);
  const wanted = arg('--workloads', '').split(',').filter(Boolean);
  const random = Number(arg('--random', '0'));
  const workloads = random > 0 ? randomWorkloads(random, Number(arg('--random-seed', '1'))) : [...STANDARD, ...EXTRA].filter((w) => wanted.length === 0 || wanted.includes(w.name));
  if (random > 0) for (const w of workloads) console.log(describe(w));
  const controllers = CONTROLLERS.filter((c) => only.length === 0 || only.includes(c.name));
  const started = process.hrtime.bigint();
  console.log(`pacing bench: ${seeds} seeds × ${hours} h simulated per run; wait limit 2 s; 3 lines per agent`);
  console.log('| controller | workload | utilisation | abandon (overall) | max 1-h abandon | calls / agent-hour | AMD-dropped persons | US 30-day (worst run) | Ofcom 24 h incl. AMD (worst run) |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const c of controllers) {
    for (const w of workloads) {
      const runs: Run[] = [];
      for (let s = 1; s <= seeds; s++) runs.push(c.run(w, { hours, seed: s * 7919 + w.agents, waitLimitSec: 2, linesPerAgent: 3 }));
      const sum = (f: (r: SimResult) => number) => runs.reduce((a, r) => a + f(r), 0);
      const hoursLogged = sum((r) => r.agentHours);
      const util = sum((r) => r.utilisation * r.agentHours) / hoursLogged;
      const ab = sum((r) => r.abandoned) / Math.max(1, sum((r) => r.live));
      const maxHour = Math.max(...runs.map((r) => r.maxHourAbandonRate));
      const cph = sum((r) => r.placed) / hoursLogged;
      const dropped = sum((r) => r.amdDroppedHumans) / Math.max(1, sum((r) => r.live + r.amdDroppedHumans));
      const us = Math.max(...runs.map((r) => r.us30d));
      const uk = Math.max(...runs.map((r) => r.ofcom24h));
      const mark = (x: number) => `${pct(x)}${x > 0.03 ? ' ✗' : ''}`;
      console.log(`| ${c.name} | ${w.name} | ${pct(util)} | ${pct(ab)} | ${mark(maxHour)} | ${cph.toFixed(1)} | ${pct(dropped)} | ${mark(us)} | ${mark(uk)} |`);
      if (process.argv.includes('--runs')) {
        for (const r of runs) console.log(`|   seed ${r.seed} | ${w.name} | ${pct(r.utilisation)} | ${pct(r.abandonRate)} | ${pct(r.maxHourAbandonRate)} | ${r.callsPerAgentHour.toFixed(1)} | ${r.amdDroppedHumans} | ${pct(r.us30d)} | ${pct(r.ofcom24h)} |`);
      }
    }
  }
  console.log(`cpu ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`);
}

if (require.main === module) main();
