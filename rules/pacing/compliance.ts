// Abandoned-call compliance per campaign (spec dialer-landscape.md §2.5), as hard limits:
//  - US (FTC TSR 16 CFR 310.4(b)(4), FCC 47 CFR 64.1200(a)(7)): abandoned ≤ 3 % of the calls answered
//    by a live person, per campaign, over 30 days. Abandoned = not connected to an agent within 2 s
//    of the greeting.
//  - UK (Ofcom persistent-misuse policy): ≤ 3 % of live calls per campaign per 24 h, and persons that
//    AMD hung up on as machines count as abandoned: (abandoned + AMD false positives) / (live + AMD
//    false positives), the false positives estimated from the AMD's measured accuracy.
// Counted by the hour (24 h) and by the day (30 days) on the time the call went live; plain JSON, kept
// across continue-as-new by the campaign workflow. `withCompliance` wraps any pacing controller: when
// a window's rate reaches `slowShare` of the cap it dials progressively (no new risk) and says why.
// Also the per-number contact rules: at most N attempts per rolling period across campaigns, and
// (Ofcom) no repeat call within 72 h to a number whose call was abandoned.
import { progressiveCalls, type Observation, type PacingController, type PacingEvent } from './types';
import { addCount, newRolling, windowSum, type RollingCounts } from './window';

export interface ComplianceParams {
  /** Most abandoned / live answers allowed in each window. */
  capRate: number;
  /** Dial progressively once a window's rate reaches this share of the cap. */
  slowShare: number;
  /** Estimated share of AMD "machine" results that were persons (Ofcom counts them; 0 = not counted). */
  amdPersonShare: number;
}

export const COMPLIANCE_DEFAULTS: ComplianceParams = { capRate: 0.03, slowShare: 0.9, amdPersonShare: 0 };

/** The two legal windows: name, bucket length, bucket count. */
export const ABANDON_WINDOWS = {
  'ofcom-24h': { label: 'UK Ofcom 24 h', bucketSec: 3600, buckets: 24, countsAmd: true },
  'us-30d': { label: 'US 30-day', bucketSec: 86400, buckets: 30, countsAmd: false },
} as const;
export type AbandonWindowName = keyof typeof ABANDON_WINDOWS;
const WINDOW_NAMES = Object.keys(ABANDON_WINDOWS) as AbandonWindowName[];

export interface ComplianceState {
  params: ComplianceParams;
  windows: Record<AbandonWindowName, RollingCounts>;
}

export function newComplianceState(params: Partial<ComplianceParams> = {}): ComplianceState {
  const windows = {} as Record<AbandonWindowName, RollingCounts>;
  for (const n of WINDOW_NAMES) windows[n] = newRolling(['live', 'abandoned', 'amdMachine'], ABANDON_WINDOWS[n].buckets, ABANDON_WINDOWS[n].bucketSec);
  return { params: { ...COMPLIANCE_DEFAULTS, ...params }, windows };
}

export function complianceOnEvent(s: ComplianceState, e: PacingEvent): ComplianceState {
  const count = (names: [string, number][]): ComplianceState => {
    const windows = { ...s.windows };
    for (const n of WINDOW_NAMES) for (const [name, t] of names) windows[n] = addCount(windows[n], name, t);
    return { ...s, windows };
  };
  switch (e.type) {
    case 'bridged':
      return count([['live', e.liveAt]]);
    case 'abandoned':
      return count([['live', e.liveAt], ['abandoned', e.liveAt]]);
    case 'ended':
      return e.amdMachine ? count([['amdMachine', e.at]]) : s;
    default:
      return s;
  }
}

export interface AbandonRate {
  window: AbandonWindowName;
  label: string;
  live: number;
  abandoned: number;
  /** Estimated persons among the AMD "machine" results (counted only where the window's rule does). */
  amdPersons: number;
  /** (abandoned + amdPersons) / (live + amdPersons); 0 with no answers. */
  rate: number;
}

/** Each legal window's counts and rate as of `now`. */
export function abandonRates(s: ComplianceState, now: number): AbandonRate[] {
  return WINDOW_NAMES.map((n) => {
    const w = s.windows[n];
    const live = windowSum(w, 'live', now);
    const abandoned = windowSum(w, 'abandoned', now);
    const amdPersons = ABANDON_WINDOWS[n].countsAmd ? s.params.amdPersonShare * windowSum(w, 'amdMachine', now) : 0;
    const denominator = live + amdPersons;
    return { window: n, label: ABANDON_WINDOWS[n].label, live, abandoned, amdPersons, rate: denominator > 0 ? (abandoned + amdPersons) / denominator : 0 };
  });
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/**
 * Whether the campaign must dial progressively now, and why: a window's rate is at `slowShare` of
 * the cap, counted once it holds enough answers for one abandon to be within the cap (fewer say
 * little; the pacing controller's own hourly guard holds those).
 */
export function complianceGate(s: ComplianceState, now: number): { progressive: boolean; reason?: string } {
  const p = s.params;
  for (const r of abandonRates(s, now)) {
    const answers = r.live + r.amdPersons;
    if (answers * p.capRate < 1) continue;
    if (r.rate >= p.capRate * p.slowShare) {
      return {
        progressive: true,
        reason: `${r.label} abandon rate ${pct(r.rate)} (${Math.round(r.abandoned + r.amdPersons)} of ${Math.round(answers)} live answers) is at ${pct(p.slowShare)} of the ${pct(p.capRate)} cap: dialing progressively`,
      };
    }
  }
  return { progressive: false };
}

export interface CompliantState<S> {
  pacing: S;
  compliance: ComplianceState;
}

/** `controller` under the legal windows: progressive (and why) while `complianceGate` says so. */
export function withCompliance<S>(controller: PacingController<S>): PacingController<CompliantState<S>> {
  return {
    name: controller.name,
    onEvent: (s, e) => ({ pacing: controller.onEvent(s.pacing, e), compliance: complianceOnEvent(s.compliance, e) }),
    decide(s, obs: Observation) {
      // The controller still sees every decision point (its own timers and samples keep running).
      const d = controller.decide(s.pacing, obs);
      const gate = complianceGate(s.compliance, obs.now);
      return { state: { ...s, pacing: d.state }, callsToPlace: gate.progressive ? progressiveCalls(obs) : d.callsToPlace };
    },
  };
}

export interface ContactLimits {
  /** At most this many attempts to one number (all campaigns of the domain) per `periodSec`. */
  maxAttempts: number;
  periodSec: number;
  /** No new call within this long after a call to the number was abandoned (Ofcom: 72 h). */
  abandonedHoldSec: number;
}

export const CONTACT_DEFAULTS: ContactLimits = { maxAttempts: 3, periodSec: 86400, abandonedHoldSec: 72 * 3600 };

/**
 * Whether a number may be called at `now`, given the times of its earlier attempts (any campaign)
 * and of its last abandoned call; when not, the earliest time it may.
 */
export function contactAllowed(attempts: number[], lastAbandonedAt: number | null, now: number, limits: ContactLimits = CONTACT_DEFAULTS): { allowed: boolean; nextAt?: number } {
  let nextAt = now;
  if (lastAbandonedAt !== null) nextAt = Math.max(nextAt, lastAbandonedAt + limits.abandonedHoldSec);
  const recent = attempts.filter((t) => t > now - limits.periodSec && t <= now).sort((a, b) => a - b);
  if (recent.length >= limits.maxAttempts) nextAt = Math.max(nextAt, recent[recent.length - limits.maxAttempts] + limits.periodSec);
  return nextAt > now ? { allowed: false, nextAt } : { allowed: true };
}
