// Agents (spec §7): statuses and states, the six parameters and their per-campaign overrides, the
// reservation and after-offer bookkeeping of §7.4, and the hunting order of §7.3 with tier levels.
// Pure functions: the agent workflow holds an AgentRuntime and applies these.
import type { ResultCode } from './types';

export const AGENT_STATUSES = ['Logged Out', 'Available', 'Available (On Demand)', 'On Break'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];
export const AGENT_STATES = ['Idle', 'Waiting', 'Reserved', 'In a queue call'] as const;
export type AgentState = (typeof AGENT_STATES)[number];
/** The states an agent (or its application) may put itself in (§7.1); the others are the dialer's. */
export const AGENT_SETTABLE_STATES = ['Idle', 'Waiting'] as const;

export const AGENT_STRATEGIES = [
  'random',
  'with_fewest_calls',
  'with_least_talk_time',
  'longest_idle_agent',
  'with_least_utilization',
  'with_highest_waiting_time',
] as const;
export type AgentStrategy = (typeof AGENT_STRATEGIES)[number];

/** The six parameters of §7.2, in seconds (maxNoAnswer: a count; 0 = never On Break). */
export interface AgentParams {
  callTimeout: number;
  wrapUpTime: number;
  maxNoAnswer: number;
  busyDelayTime: number;
  rejectDelayTime: number;
  noAnswerDelayTime: number;
}
export const AGENT_PARAM_NAMES = ['callTimeout', 'wrapUpTime', 'maxNoAnswer', 'busyDelayTime', 'rejectDelayTime', 'noAnswerDelayTime'] as const;

/** mod_callcenter's agent defaults (0), and §7.2's 60 s ring time when neither side sets one. */
export const AGENT_PARAM_DEFAULTS: AgentParams = {
  callTimeout: 60, wrapUpTime: 0, maxNoAnswer: 0, busyDelayTime: 0, rejectDelayTime: 0, noAnswerDelayTime: 0,
};

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** §7.2: the campaign's `agentParams` value wins when it is a finite number (callTimeout: when
 *  > 0); otherwise the agent's own value; otherwise the default. */
export function resolveAgentParams(agent: Partial<AgentParams>, campaign: Partial<Record<keyof AgentParams, unknown>> = {}): AgentParams {
  const out = { ...AGENT_PARAM_DEFAULTS };
  for (const k of AGENT_PARAM_NAMES) {
    const c = campaign[k];
    const a = agent[k];
    if (finite(c) && (k !== 'callTimeout' || c > 0)) out[k] = c;
    else if (finite(a) && (k !== 'callTimeout' || a > 0)) out[k] = a;
  }
  return out;
}

/** What an agent's contact dials in its domain. FreeSWITCH's user endpoint dials `user/<ext>` in
 *  the switch's default domain (mod_dptools user_outgoing_channel), which may be another tenant's
 *  directory, and mod_verto's `verto.rtc/<user>@<domain>` names the directory domain too: a domain's
 *  agent dials `user/<ext>@<its domain>` (`verto.rtc/<ext>@<its domain>`), never another domain's users. */
export function agentDialString(contact: string, domain: string): { dial: string } | { problem: string } {
  const endpoint = /^(user|verto\.rtc)\//i.exec(contact)?.[0];
  if (!endpoint) return { dial: contact };
  const rest = contact.slice(endpoint.length);
  const at = rest.indexOf('@');
  if (at < 0) return { dial: `${endpoint}${rest}@${domain}` };
  const other = rest.slice(at + 1);
  if (other.toLowerCase() !== domain.toLowerCase()) return { problem: `dials a user of another domain (${other}): an agent dials only users of its own domain (${endpoint}<ext> or ${endpoint}<ext>@${domain})` };
  return { dial: contact };
}

/** §7.6 `dlr_dsc_s`: the post-call form's result codes by type, each a name or `[name, item, …]`. */
export function resultForm(codes: ResultCode[]): Record<ResultCode['type'], (string | string[])[]> {
  const form: Record<ResultCode['type'], (string | string[])[]> = { t: [], f: [], n: [] };
  for (const c of codes) form[c.type].push(c.items?.length ? [c.name, ...c.items] : c.name);
  return form;
}

/** Per agent per campaign (§11.3 `agent_in_dialer`), since the campaign's stats day began. */
export interface AgentCampaignStats {
  /** The calendar day (ISO date in the campaign's zone) they count; v3 deleted them when it changed (§8.3). */
  day?: string;
  callCount: number;
  missedCall: number;
  bridgedCount: number;
  callTimeSec: number;
  connectedTimeSec: number;
  wrapTimeSec: number;
  idleSec: number;
  /** Seconds On Break since the day began (absent in statistics stored before it was kept). */
  onBreakSec?: number;
  lastOfferedCall: number | null;
  lastStatus: string;
}
/** The statistics of `day`: none when they belong to an earlier day (the daily reset of §8.3). */
export function statsOfDay(s: AgentCampaignStats | null | undefined, day: string | undefined): AgentCampaignStats | null {
  if (!s) return null;
  return day && s.day && s.day !== day ? null : s;
}

export function emptyAgentStats(): AgentCampaignStats {
  return { callCount: 0, missedCall: 0, bridgedCount: 0, callTimeSec: 0, connectedTimeSec: 0, wrapTimeSec: 0, idleSec: 0, onBreakSec: 0, lastOfferedCall: null, lastStatus: '' };
}

/** The offer an agent is reserved for. */
export interface AgentOffer {
  offerId: string;
  campaignId: string;
  memberId: string;
  /** Epoch ms of the reservation. */
  at: number;
  /** The parameters of this offer (agent's, overridden by the campaign's). */
  params: AgentParams;
  /** The agent's phone answered (epoch ms). */
  connectedAt: number | null;
  /** Preview (beyond v3): the agent decides before the call, until `until` (epoch ms). */
  preview?: { until: number; decision: PreviewDecision['decision'] | null };
}

/** The agent's answer to a previewed member: call it now, skip it (tried again after the campaign's
 *  retry interval, not counted), or reschedule it to `nextTryAt`. */
export interface PreviewDecision {
  decision: 'accept' | 'skip' | 'reschedule';
  /** Epoch ms; reschedule only. */
  nextTryAt?: number;
}

/** When an offer nobody reports on is released: the ring time (after the preview) plus `graceMs`. */
export function offerDeadline(o: AgentOffer, graceMs: number): number {
  return (o.preview?.until ?? o.at) + o.params.callTimeout * 1000 + graceMs;
}

/** What the agent workflow holds and stores (the agent document's engine-owned part). */
export interface AgentRuntime {
  status: AgentStatus;
  state: AgentState;
  /** Not offered a call before this (epoch ms): wrap-up and the delays of §7.2. */
  readyAt: number;
  /** Why readyAt is in the future ('wrap-up', 'no-answer delay', …), for the event stream. */
  readyReason: string | null;
  lastBridgeEnd: number | null;
  /** Consecutive missed offers; reset by a bridged call. */
  noAnswerCount: number;
  offer: AgentOffer | null;
  /** Since when the agent has been free (Available, Waiting, past readyAt): the idle stretch. */
  idleSince: number | null;
  /** Since when the agent is On Break (on_break_sec), and when it last logged in and out (epoch ms).
   *  Optional: a runtime carried over from before they were kept has none. */
  breakSince?: number | null;
  loggedInAt?: number | null;
  loggedOutAt?: number | null;
  stats: Record<string, AgentCampaignStats>;
}

export function newAgentRuntime(): AgentRuntime {
  return { status: 'Logged Out', state: 'Idle', readyAt: 0, readyReason: null, lastBridgeEnd: null, noAnswerCount: 0, offer: null, idleSince: null, breakSince: null, loggedInAt: null, loggedOutAt: null, stats: {} };
}

/** §7.3 eligibility, without the campaign's list: why this agent cannot be offered a call now, or
 *  null. Wrap-up is `readyAt`, set with the offer's resolved wrap-up time (v3 also required the
 *  agent's own mod_callcenter wrap-up since the last bridge, so a campaign could lengthen the
 *  wrap-up but not shorten it; here the campaign's value wins both ways, as §7.2 says). */
export function notOfferable(a: AgentRuntime, now: number): string | null {
  if (a.status !== 'Available' && a.status !== 'Available (On Demand)') return `status is ${a.status}`;
  if (a.offer || a.state === 'Reserved') return 'already reserved';
  if (a.state !== 'Waiting') return `state is ${a.state}`;
  if (a.readyAt > now) return `not ready before ${new Date(a.readyAt).toISOString()} (${a.readyReason ?? 'delay'})`;
  return null;
}

/** Is the agent free to take a call (for the idle clock)? */
function isFree(a: AgentRuntime, now: number): boolean {
  return (a.status === 'Available' || a.status === 'Available (On Demand)') && a.state === 'Waiting' && !a.offer && a.readyAt <= now;
}

/** Closes the current idle stretch, crediting it to every campaign the agent has stats in (and `also`). */
function closeIdle(a: AgentRuntime, now: number, also?: string): Record<string, AgentCampaignStats> {
  const stats = { ...a.stats };
  if (also && !stats[also]) stats[also] = emptyAgentStats();
  if (a.idleSince !== null && now > a.idleSince) {
    const sec = (now - a.idleSince) / 1000;
    for (const k of Object.keys(stats)) stats[k] = { ...stats[k], idleSec: stats[k].idleSec + sec };
  }
  return stats;
}

/** Opens or closes the On Break stretch after a status change, crediting a closed one to every
 *  campaign the agent has statistics in (on_break_sec, like idle_sec). */
function settleBreak(a: AgentRuntime, now: number): AgentRuntime {
  const since = a.breakSince ?? null;
  if (a.status === 'On Break') return since === null ? { ...a, breakSince: now } : a;
  if (since === null) return a;
  const sec = Math.max(0, now - since) / 1000;
  const stats = { ...a.stats };
  for (const k of Object.keys(stats)) stats[k] = { ...stats[k], onBreakSec: (stats[k].onBreakSec ?? 0) + sec };
  return { ...a, stats, breakSince: null };
}

/** Recomputes the idle clock after a change. */
export function settleIdle(a: AgentRuntime, now: number): AgentRuntime {
  const free = isFree(a, now);
  if (free && a.idleSince === null) return { ...a, idleSince: Math.max(now, a.readyAt) };
  if (!free && a.idleSince !== null) return { ...a, stats: closeIdle(a, now), idleSince: null };
  return a;
}

/** Reserves the agent for an offer (§7.3): state Reserved, call_count +1, last_offered_call. The
 *  campaign's statistics start again on a new calendar day (`day`, in the campaign's zone). */
export function reserveAgent(a: AgentRuntime, offer: Omit<AgentOffer, 'connectedAt'>, now: number, day?: string): AgentRuntime {
  const stats = closeIdle(a, now, offer.campaignId);
  const s = statsOfDay(stats[offer.campaignId], day) ?? emptyAgentStats();
  stats[offer.campaignId] = {
    ...s, callCount: s.callCount + 1, lastOfferedCall: now, lastStatus: `active -> ${offer.memberId}`, ...(day ? { day } : {}),
  };
  return { ...a, state: 'Reserved', offer: { ...offer, connectedAt: null }, idleSince: null, stats };
}

/** How an offer ended, seen from the agent leg. */
export type OfferOutcome =
  | { kind: 'bridged'; talkSec: number; /** The member waits for a result status not yet sent (§7.4 hold rule). */ statusPending: boolean; campaignWrapUpSec: number }
  | { kind: 'no-answer'; cause: string }
  | { kind: 'busy'; cause: string }
  | { kind: 'reject'; cause: string }
  /** The agent answered but the member was not reached, or the member was gone before the agent
   *  leg: no penalty, the agent is free again. */
  | { kind: 'released'; cause: string };

/** The agent leg's failure cause → how the agent is penalised (§7.4). Busy and DND use the busy
 *  delay (v3 mapped `busyDelayTime` and used the reject delay for them). */
export function agentLegOutcome(cause: string): 'no-answer' | 'busy' | 'reject' {
  if (cause === 'NO_ANSWER' || cause === 'NO_USER_RESPONSE' || cause === 'ALLOTTED_TIMEOUT') return 'no-answer';
  if (cause === 'USER_BUSY' || cause === 'DO_NOT_DISTURB') return 'busy';
  return 'reject';
}

/** The agent's phone answered: connected_time_sec += ring seconds. */
export function agentConnected(a: AgentRuntime, offerId: string, now: number): AgentRuntime {
  if (!a.offer || a.offer.offerId !== offerId || a.offer.connectedAt !== null) return a;
  const cid = a.offer.campaignId;
  const stats = { ...a.stats, [cid]: { ...(a.stats[cid] ?? emptyAgentStats()) } };
  stats[cid].connectedTimeSec += Math.max(0, (now - a.offer.at) / 1000);
  return { ...a, state: 'In a queue call', offer: { ...a.offer, connectedAt: now }, stats };
}

/** §7.4 bookkeeping when the offer ends. Returns the agent and a line for `last_status`. */
export function endOffer(a: AgentRuntime, outcome: OfferOutcome, now: number): AgentRuntime {
  const offer = a.offer;
  if (!offer) return a;
  const p = offer.params;
  const cid = offer.campaignId;
  const s = { ...(a.stats[cid] ?? emptyAgentStats()) };
  const next: AgentRuntime = { ...a, offer: null, state: 'Waiting', stats: { ...a.stats, [cid]: s } };
  switch (outcome.kind) {
    case 'bridged': {
      // Hold rule (§7.4): while the member waits for its result status, the campaign's wrap-up
      // time holds the agent; the status (agentStatusSent) shortens it to 2 s.
      const wrap = outcome.statusPending && p.wrapUpTime > 0 ? outcome.campaignWrapUpSec : p.wrapUpTime;
      s.bridgedCount += 1;
      s.callTimeSec += outcome.talkSec;
      s.wrapTimeSec += wrap;
      s.lastStatus = `end -> ${offer.memberId}`;
      next.noAnswerCount = 0;
      next.lastBridgeEnd = now;
      next.readyAt = now + wrap * 1000;
      next.readyReason = wrap > 0 ? 'wrap-up' : null;
      // On Demand agents stay reserved until they set themselves Waiting (like mod_callcenter).
      if (a.status === 'Available (On Demand)') next.state = 'Reserved';
      break;
    }
    case 'no-answer': {
      s.missedCall += 1;
      next.noAnswerCount = a.noAnswerCount + 1;
      if (p.maxNoAnswer > 0 && next.noAnswerCount >= p.maxNoAnswer) {
        next.status = 'On Break';
        next.readyReason = null;
        s.lastStatus = `NO_ANSWER -> ${offer.memberId} -> MAX`;
      } else {
        next.readyAt = now + p.noAnswerDelayTime * 1000;
        next.readyReason = p.noAnswerDelayTime > 0 ? 'no-answer delay' : null;
        s.lastStatus = `NO_ANSWER -> ${offer.memberId}`;
      }
      break;
    }
    case 'busy':
    case 'reject': {
      const delay = outcome.kind === 'busy' ? p.busyDelayTime : p.rejectDelayTime;
      s.missedCall += 1;
      next.noAnswerCount = a.noAnswerCount + 1;
      next.readyAt = now + delay * 1000;
      next.readyReason = delay > 0 ? `${outcome.kind} delay` : null;
      s.lastStatus = `${outcome.kind === 'busy' ? 'BUSY' : 'REJECT'} -> ${offer.memberId} -> ${outcome.cause}`;
      break;
    }
    case 'released':
      s.lastStatus = `${outcome.cause} -> ${offer.memberId}`;
      break;
  }
  return settleIdle(settleBreak(next, now), now);
}

/** The member's result status arrived while the agent is held in wrap-up (§7.4: ready in 2 s). */
export function statusSent(a: AgentRuntime, now: number): AgentRuntime {
  if (a.offer || a.readyReason !== 'wrap-up' || a.readyAt <= now + 2000) return a;
  return { ...a, readyAt: now + 2000 };
}

/** A status/state change asked for by the agent (REST, its application). Null state: unchanged. */
export function setAgentStatus(a: AgentRuntime, change: { status?: AgentStatus; state?: (typeof AGENT_SETTABLE_STATES)[number] }, now: number): AgentRuntime {
  const next: AgentRuntime = { ...a };
  if (change.status) next.status = change.status;
  if (change.status && change.status !== a.status) {
    if (a.status === 'Logged Out') next.loggedInAt = now;
    if (change.status === 'Logged Out') next.loggedOutAt = now;
  }
  // Logging out or going on break ends an On Demand hold; during an offer the state stays the
  // dialer's until the offer ends.
  if (!a.offer) {
    if (change.state) next.state = change.state;
    else if (change.status && a.state === 'Reserved') next.state = 'Waiting';
  }
  if (change.status === 'Available' || change.status === 'Available (On Demand)') {
    // Back from a break: the miss count starts again.
    if (a.status === 'On Break' || a.status === 'Logged Out') next.noAnswerCount = 0;
  }
  return settleIdle(settleBreak(next, now), now);
}

/** Why a status change is refused, or null. */
export function statusChangeProblem(a: AgentRuntime, change: { status?: string; state?: string }): string | null {
  if (change.status !== undefined && !(AGENT_STATUSES as readonly string[]).includes(change.status)) return `status: must be one of ${AGENT_STATUSES.join(', ')}`;
  if (change.state !== undefined && !(AGENT_SETTABLE_STATES as readonly string[]).includes(change.state)) return `state: must be one of ${AGENT_SETTABLE_STATES.join(', ')}`;
  if (change.state !== undefined && a.offer) return 'state: the agent has a call offered; the dialer sets its state until the call ends';
  if (change.status === undefined && change.state === undefined) return 'status: status or state required';
  return null;
}

// ---- Hunting (§7.3) ------------------------------------------------------------------------------

/** One agent of a campaign's tiers, as the hunter sees it (from the agents' read model). */
export interface HuntCandidate {
  name: string;
  /** Tier level (beyond v3): level 1 is offered first, higher levels only when lower ones are all busy. */
  level: number;
  stats: AgentCampaignStats | null;
}

/** The order in which a campaign's candidates are tried: by tier level, then by the strategy
 *  (nulls first, as v3's SQL). `random` ∈ [0,1) per call; ties keep the given order. */
export function huntOrder<T extends HuntCandidate>(candidates: T[], strategy: string, random: () => number): T[] {
  const key = strategyKey(strategy);
  const keyed = candidates.map((c, i) => ({ c, i, k: key(c.stats, random) }));
  keyed.sort((x, y) => x.c.level - y.c.level || cmpNullsFirst(x.k, y.k) || x.i - y.i);
  return keyed.map((x) => x.c);
}

function cmpNullsFirst(a: number | null, b: number | null): number {
  if (a === null) return b === null ? 0 : -1;
  if (b === null) return 1;
  return a - b;
}

/** Ascending sort key per strategy (null sorts first). Unknown strategies: with_fewest_calls (v3). */
function strategyKey(strategy: string): (s: AgentCampaignStats | null, random: () => number) => number | null {
  switch (strategy) {
    case 'random':
      return (_s, random) => random();
    case 'with_least_talk_time':
      return (s) => s?.callTimeSec ?? null;
    case 'longest_idle_agent':
      // Accumulated idle seconds in this campaign, descending.
      return (s) => (s ? -s.idleSec : null);
    case 'with_least_utilization':
      // Busy share = 1 − idle/(call+connected+wrap+idle), ascending.
      return (s) => {
        if (!s) return null;
        const total = s.callTimeSec + s.connectedTimeSec + s.wrapTimeSec + s.idleSec;
        return total > 0 ? 1 - s.idleSec / total : null;
      };
    case 'with_highest_waiting_time':
      return (s) => s?.lastOfferedCall ?? null;
    default:
      return (s) => s?.callCount ?? null;
  }
}

/** Campaign tier entry: `agents[]` of v3 holds names; an object adds a level. */
export type TierEntry = string | { name: string; level?: number };
export function tierList(agents: TierEntry[] | undefined): { name: string; level: number }[] {
  return (agents ?? []).map((t) => (typeof t === 'string' ? { name: t, level: 1 } : { name: t.name, level: t.level ?? 1 }));
}

/** §2.3 engine counts: available (could take a call now) and logged (neither Logged Out nor On Break). */
export function isLogged(status: AgentStatus): boolean {
  return status !== 'Logged Out' && status !== 'On Break';
}
