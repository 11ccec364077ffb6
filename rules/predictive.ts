// Predictive campaigns (§2.4, §7.5): the pacing the campaign workflow runs — the same module the
// bench drives, `withCompliance(forecast)` — and the bookkeeping that turns the campaign's calls in
// flight into that module's Observation. Pure; times in the pacing module are seconds.
import {
  abandonRates,
  complianceGate,
  forecast,
  newComplianceState,
  newForecastState,
  withCompliance,
  type AbandonRate,
  type CompliantState,
  type ForecastState,
  type Observation,
  type PacingEvent,
} from './pacing';
import { isLogged, type AgentRuntime } from './agents';

/** Set on a predictive member leg: its CHANNEL_PARK (answered, or AMD said human) is reported to
 *  the member's workflow, which then locates an agent. */
export const PREDICTIVE_VAR = 'dlr_predictive';

export const predictivePacing = withCompliance(forecast);
export type PredictivePacingState = CompliantState<ForecastState>;

/** The settings of a predictive campaign (models/campaign.ts fills the defaults in). */
export interface PredictiveRules {
  /** §2.4: an answered member waits this long for an agent, then is dropped (LOSE_RACE). */
  maxLocateAgentSec: number;
  /** §6.2 step 2: an abandoned member is retried (true) or ends ABANDONED (false). */
  retryAbandoned: boolean;
  /** Played to the answered member while an agent is located (checked like other content). */
  playbackFile?: string;
  /** Progressive (no call ahead of free agents) below this many logged agents. */
  minAgents: number;
  /** Progressive until this many calls went live and this many talks ended. */
  minLive: number;
  minTalks: number;
  /** Most abandoned / live answers in each legal window (v3 `maxPredictiveSilentCalls`, as a share). */
  capRate: number;
  /** Most calls not yet bridged per logged agent. */
  linesPerAgent: number;
}

export const PREDICTIVE_DEFAULTS: PredictiveRules = {
  maxLocateAgentSec: 10, retryAbandoned: false, minAgents: 2, minLive: 20, minTalks: 10, capRate: 0.03, linesPerAgent: 3,
};

/** One call of the campaign (by lease id), from its grant to the lease's release; seconds. */
export interface PacedCall {
  grantedAt: number;
  placedAt?: number;
  liveAt?: number;
  bridgedAt?: number;
  abandoned?: boolean;
}

/** What the campaign workflow keeps (and carries over continue-as-new; stored on the campaign). */
export interface Pacing {
  state: PredictivePacingState;
  calls: Record<string, PacedCall>;
}

/** What a member workflow reports about its call. `machine`: AMD hung up on a machine (not live,
 *  never an abandon; Ofcom counts an estimated share of them). */
export type CallReportKind = 'placed' | 'live' | 'bridged' | 'abandoned' | 'machine';

export function newPacing(r: PredictiveRules): Pacing {
  return withSettings({ state: { pacing: newForecastState(), compliance: newComplianceState() }, calls: {} }, r);
}

/** The campaign's current settings applied to a kept state (edits take effect at the next look). */
export function withSettings(p: Pacing, r: PredictiveRules): Pacing {
  const { pacing, compliance } = p.state;
  return {
    ...p,
    state: {
      pacing: { ...pacing, params: { ...pacing.params, capRate: r.capRate, minAgents: r.minAgents, minLive: r.minLive, minTalks: r.minTalks } },
      compliance: { ...compliance, params: { ...compliance.params, capRate: r.capRate } },
    },
  };
}

function feed(p: Pacing, events: PacingEvent[]): Pacing {
  let state = p.state;
  for (const e of events) state = predictivePacing.onEvent(state, e);
  return { ...p, state };
}

/** A line granted at `at` (seconds): a call about to be placed. */
export function onGrant(p: Pacing, leaseId: string, at: number): Pacing {
  return { ...p, calls: { ...p.calls, [leaseId]: { grantedAt: at } } };
}

/** A member's report on the call of `leaseId`; reports for unknown leases are ignored. */
export function onCallReport(p: Pacing, leaseId: string, kind: CallReportKind, at: number): Pacing {
  const c = p.calls[leaseId];
  if (!c) return p;
  const calls = (next: PacedCall) => ({ ...p.calls, [leaseId]: next });
  const placedAt = c.placedAt ?? c.grantedAt;
  switch (kind) {
    case 'placed':
      return c.placedAt === undefined ? feed({ ...p, calls: calls({ ...c, placedAt: at }) }, [{ type: 'placed', at }]) : p;
    case 'live':
      return c.liveAt === undefined ? feed({ ...p, calls: calls({ ...c, liveAt: at }) }, [{ type: 'live', at, placedAt }]) : p;
    case 'bridged':
      if (c.liveAt === undefined || c.bridgedAt !== undefined || c.abandoned) return p;
      return feed({ ...p, calls: calls({ ...c, bridgedAt: at }) }, [{ type: 'bridged', at, liveAt: c.liveAt }]);
    case 'abandoned':
      if (c.liveAt === undefined || c.bridgedAt !== undefined || c.abandoned) return p;
      return feed({ ...p, calls: calls({ ...c, abandoned: true }) }, [{ type: 'abandoned', at, liveAt: c.liveAt }]);
    case 'machine': {
      const { [leaseId]: _gone, ...rest } = p.calls;
      return feed({ ...p, calls: rest }, [{ type: 'ended', at, placedAt, answered: true, amdMachine: true }]);
    }
  }
}

/** The lease came back: the call is over (its end is what the pacing learns from). */
export function onRelease(p: Pacing, leaseId: string, at: number): Pacing {
  const c = p.calls[leaseId];
  if (!c) return p;
  const { [leaseId]: _gone, ...calls } = p.calls;
  const events: PacingEvent[] = [];
  if (c.bridgedAt !== undefined) events.push({ type: 'talkEnded', at, talkSec: Math.max(0, at - c.bridgedAt) });
  else if (c.liveAt === undefined && c.placedAt !== undefined) events.push({ type: 'ended', at, placedAt: c.placedAt, answered: false });
  return feed({ ...p, calls }, events);
}

/** The leases whose member answered and waits for an agent (live, neither bridged nor dropped),
 *  longest waiting first. */
export function awaitingAgent(p: Pacing): string[] {
  return Object.entries(p.calls)
    .filter(([, c]) => c.liveAt !== undefined && c.bridgedAt === undefined && !c.abandoned)
    .sort(([, a], [, b]) => a.liveAt! - b.liveAt!)
    .map(([leaseId]) => leaseId);
}

/** A tier agent logged in and busy, as its document (its workflow's) says; epoch ms. In wrap-up
 *  (or a delay after a missed call) it is free at a known time; on another campaign's call it frees
 *  after the talk and that offer's wrap-up. */
export type BusyTierAgent = { state: 'wrap'; until: number } | { state: 'talk'; since: number; wrapSec: number };

/** The campaign's agent counts (§2.3) and its tier agents the pacing forecasts to free up. */
export interface TierAgents {
  logged: number;
  available: number;
  busy?: BusyTierAgent[];
}

/** What a tier agent's document tells the pacing of `campaignId`: null when it is free, not logged
 *  in (or on break), Idle, or on this campaign's own call (the campaign knows those calls itself). */
export function busyTierAgent(a: Pick<AgentRuntime, 'status' | 'state' | 'offer' | 'readyAt'>, campaignId: string, now: number): BusyTierAgent | null {
  if (!isLogged(a.status)) return null;
  if (a.offer) {
    if (a.offer.campaignId === campaignId) return null;
    return { state: 'talk', since: a.offer.connectedAt ?? now, wrapSec: a.offer.params.wrapUpTime };
  }
  if (a.state === 'Waiting' && a.readyAt > now) return { state: 'wrap', until: a.readyAt };
  return null;
}

/** The calls in flight and the agents, as the pacing module sees them: agents
 *  talking on this campaign's calls (wrap-up `wrapSec` after) and the tier agents busy elsewhere or
 *  in wrap-up. The pacing bench builds its observations here too. */
export function observe(p: Pick<Pacing, 'calls'>, r: PredictiveRules, agents: TierAgents, wrapSec: number, now: number): Observation {
  const calls = Object.values(p.calls);
  const open = calls.filter((c) => c.bridgedAt === undefined && !c.abandoned);
  const own = calls.filter((c) => c.bridgedAt !== undefined).map((c) => ({ state: 'talk' as const, since: c.bridgedAt!, wrapSec }));
  const others = (agents.busy ?? []).map((b) => (b.state === 'wrap' ? { state: b.state, until: b.until / 1000 } : { ...b, since: b.since / 1000 }));
  return {
    now,
    loggedAgents: agents.logged,
    freeAgents: agents.available,
    busy: [...own, ...others],
    dialing: open.filter((c) => c.liveAt === undefined).map((c) => c.placedAt ?? c.grantedAt),
    waiting: open.filter((c) => c.liveAt !== undefined).length,
    talking: own.length,
    maxLines: r.linesPerAgent * agents.logged,
    waitLimitSec: r.maxLocateAgentSec,
  };
}

export interface PacingDecision {
  pacing: Pacing;
  /** New calls to place now (the caller still applies the campaign's limit and lines). */
  calls: number;
  mode: 'predictive' | 'progressive';
  /** Why the campaign dials progressively (null when predictive). */
  reason: string | null;
}

/** How many calls to place now, and whether (and why) the campaign dials progressively. */
export function decideCalls(p: Pacing, obs: Observation): PacingDecision {
  const d = predictivePacing.decide(p.state, obs);
  const pacing = { ...p, state: d.state };
  const reason = progressiveReason(d.state, obs);
  return { pacing, calls: d.callsToPlace, mode: reason ? 'progressive' : 'predictive', reason };
}

function progressiveReason(s: PredictivePacingState, obs: Observation): string | null {
  const gate = complianceGate(s.compliance, obs.now);
  if (gate.progressive) return gate.reason!;
  const f = s.pacing;
  const p = f.params;
  if (obs.loggedAgents < p.minAgents) return `${obs.loggedAgents} logged agent(s), fewer than ${p.minAgents}: dialing progressively`;
  if (f.liveSeen < p.minLive || f.talksSeen < p.minTalks) {
    return `learning the campaign: ${Math.floor(f.liveSeen)} of ${p.minLive} answered calls, ${Math.floor(f.talksSeen)} of ${p.minTalks} talks seen: dialing progressively`;
  }
  return null;
}

/** The campaign's pacing as the API shows it (`pacing` on the dialer document). */
export interface PacingView {
  mode: 'predictive' | 'progressive';
  reason: string | null;
  /** Abandoned calls per legal window (UK Ofcom 24 h, US 30 days) as of `at`. */
  abandon: AbandonRate[];
  capRate: number;
  at: number;
}

export function pacingView(p: Pacing, mode: PacingView['mode'], reason: string | null, nowMs: number): PacingView {
  return { mode, reason, abandon: abandonRates(p.state.compliance, nowMs / 1000), capRate: p.state.compliance.params.capRate, at: nowMs };
}
