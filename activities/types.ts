// The activity surface the member workflow calls. Workflow code imports only these types.
import type { AgentView, CallResult, GrantedCampaign, Reservation } from '../workflows/messages';
import type { AgentEventType } from '../models/agent';
import type { SaveInput } from '../models/member-store';
import type { AgentParams } from '../rules';
import type { CampaignRules, MemberState, Pacing, PacingView, TierAgents } from '../rules';
import type { AttemptLogEntry, PlaceCallInput } from '../rules/attempt';

export type { AttemptLogEntry, PlaceCallInput, RouteOption } from '../rules/attempt';
export type PlaceCallResult =
  | {
    placed: false;
    /** The number reached its domain's contact-frequency cap: not before this time (epoch ms). */
    cappedUntil?: number;
  }
  | {
    placed: true; destinationId: string; dialString: string; sent: boolean; cause?: string;
    /** Tenant variables not sent to FreeSWITCH, one attempt-log step each (rules/channel-vars.ts). */
    refusedVariables?: string[];
    /** Not sent because the command could not be built: why (then `sent` is false). */
    notSent?: string;
  };

export interface EndAttemptInput {
  uuid: string;
  campaignId: string;
  memberId: string;
  member: MemberState;
  log: AttemptLogEntry;
  result: CallResult;
  /** For the campaign counters of §11.1; `outcome` null: the result status decides it (saveMember
   *  `decided`). */
  /** `abandoned`: predictive, answered and never bridged (`stats.predictAbandoned`); `amd`: the AMD
   *  result; `waitSec`: the member's wait for an agent (`stats.waitSec`, the log's waitSec). */
  stats: { connected: boolean; bridged: boolean; outcome: 'success' | 'error' | null; abandoned?: boolean; amd?: string; waitSec?: number };
  /** Deadline (epoch ms) of the result status, when the member now waits for one. */
  waitingForStatusUntil: number | null;
  /** Earliest moment the campaign may grant this member again (null: not before an outside event). */
  readyAt: number | null;
  leaseId: string;
  /** When the campaign took the attempt's line (its grant); null: unknown, the call's duration counts. */
  grantedAt?: number | null;
  /** The member ends with this attempt: its end event, recorded here instead of by memberEnded
   *  (one history event less per member). */
  ended?: MemberEndedInput;
}

export interface MemberEndedInput { eventId: string; domain: string; campaignId: string; memberId: string; event: MemberEndEvent }

export type { MemberEndEvent } from '../rules/member-end';
import type { MemberEndEvent } from '../rules/member-end';

export interface MemberActivities {
  loadCampaign(campaignId: string): Promise<CampaignRules | null>;
  loadMember(memberId: string): Promise<MemberState | null>;
  placeCall(i: PlaceCallInput): Promise<PlaceCallResult>;
  /** Reconciliation: is the call still up, or has a result been stored for it meanwhile? With
   *  settleLost, a call that is gone with no result is settled as LOST_CALL first-wins, and the
   *  stored result (LOST_CALL, or whatever source won) is returned. */
  checkCall(uuid: string, opts?: { settleLost?: boolean }): Promise<{ exists: boolean; result: CallResult | null }>;
  hangup(i: { uuid: string; cause: string }): Promise<void>;
  /** Stores the attempt's outcome, frees its line and gives the campaign lease back. */
  endAttempt(i: EndAttemptInput): Promise<void>;
  saveMember(i: SaveInput & {
    /** Campaign to wake because this member became due earlier than it expected. */
    wakeCampaign?: string;
    /** The result status (or its timeout, or a terminate) decided this attempt: counted in
     *  `successCall` or `errorCall` (§11.1), once. */
    decided?: { uuid: string; outcome: 'success' | 'error' };
  }): Promise<void>;
  /** Gives a campaign lease back without an attempt (nothing to dial now). */
  releaseGrant(i: { campaignId: string; memberId: string; leaseId: string; readyAt: number | null }): Promise<void>;
  memberEnded(i: MemberEndedInput): Promise<void>;
}

export interface CampaignActivities {
  /** Claims up to leaseIds.length ready members (one per lease id, idempotently) in the campaign's
   *  order and grants them (signal-with-start of their workflows). */
  claimAndGrant(i: {
    campaignId: string;
    /** For the member workflows' summaries in the Temporal UI (absent in older histories). */
    campaignName?: string;
    domain: string;
    leaseIds: string[];
    membersStrategy: CampaignRules['membersStrategy'];
    activeLeases: number;
    /** The campaign workflow's clock: `_readyAt` values are written in workflow time too. */
    now: number;
    /** The rules this round read, passed on with each grant (the member dials with them). */
    campaign?: GrantedCampaign;
    /** Changes whenever the campaign was woken (members stored): the claim lists its queue again. */
    generation?: string;
  }): Promise<{ granted: { leaseId: string; memberId: string }[]; nextReadyAt: number | null; /** -1: not asked; 0: none; 1: some (not a count) */ openMembers: number }>;
  /** Is this lease still held by a live member workflow? (Lease expiry, lost signals, crashes.) */
  checkLease(i: { campaignId: string; memberId: string; leaseId: string }): Promise<{ held: boolean }>;
  /** Records a state change on the campaign document and in its history (§8.1, §11.4). */
  setCampaignState(i: { campaignId: string; state: number; cause: string; active: boolean; action: string }): Promise<void>;
  /** `autoResetStats` (§8.3): the counters belong to `day` (the calendar's `YYYY-MM-DD`); those of an
   *  earlier day are zeroed. The first day seen is only recorded. */
  startStatsDay(i: { campaignId: string; day: string }): Promise<void>;
}

/** A predictive call (§2.4) and the campaign's pacing (activities/predictive.ts). */
export interface PredictiveActivities {
  /** `uuid_broadcast <member> <file> aleg` (the file checked against the sounds allow-list); false if refused. */
  playToMember(i: { uuid: string; file: string }): Promise<boolean>;
  /** Originates the agent leg (parked once answered) and waits for its outcome. */
  callAgent(i: { uuid: string; jobUuid: string; memberUuid: string; contact: string; vars: Record<string, string>; timeoutSec: number }): Promise<{ answered: boolean; cause?: string }>;
  /** `uuid_bridge <member> <agent>`; false if either leg is gone. */
  bridgeCalls(i: { memberUuid: string; agentUuid: string }): Promise<boolean>;
  /** `hupall ORIGINATOR_CANCEL cc_member_session_uuid <member>`: the agent leg being called for it. */
  cancelAgentLegs(i: { memberUuid: string }): Promise<void>;
  /** The pacing state stored by the campaign's workflow (null: none yet). */
  loadPacing(campaignId: string): Promise<Pacing | null>;
  /** Stores the pacing state and its public view on the campaign (the campaign's workflow only). */
  savePacing(i: { campaignId: string; state: Pacing; view: PacingView }): Promise<void>;
}

export type DialerActivities = MemberActivities & CampaignActivities & AgentActivities & PredictiveActivities;

/** One event for the agent's applications (models/agent.ts AgentEvent). */
export interface AgentEventInput {
  /** `<agent workflow id>:<first run id>:<seq>`. */
  id: string;
  type: AgentEventType;
  at: number;
  data: Record<string, unknown>;
}

export interface HuntInput {
  domain: string;
  campaignId: string;
  memberId: string;
  /** Same on a retry of the activity: an agent already reserved for it answers again. */
  offerId: string;
  /** The campaign's tiers (`agents`, with levels) and `agentStrategy` (§7.3). */
  tiers: { name: string; level: number }[];
  strategy: string;
  overrides?: Partial<AgentParams>;
  offered?: Record<string, unknown>;
  /** Preview: seconds the agent has to decide before the call. */
  previewSec?: number;
  /** The campaign's calendar day (rules/clock.ts localTime): statistics of an earlier day do not order the hunt. */
  statsDay?: string;
}

export interface AgentActivities {
  /** Stores the agent document and its new events (only the agent's workflow calls it). */
  saveAgent(i: { domain: string; name: string; agent: AgentView; events: AgentEventInput[] }): Promise<void>;
  removeAgent(i: { id: string }): Promise<void>;
  /** §7.3: tries the campaign's free agents in hunting order, reserving the first that accepts (an
   *  Update to its workflow); null when none does. */
  huntAgent(i: HuntInput): Promise<Reservation | null>;
  /** §2.3 engine counts of a campaign's tiers: available (could take a call now) and logged (neither
   *  Logged Out nor On Break), and for the predictive pacing the tier agents in wrap-up or on another
   *  campaign's call (rules/predictive.ts busyTierAgent); read from the agents' documents. */
  agentCounts(i: { domain: string; campaignId: string; tiers: { name: string }[]; now: number }): Promise<Required<TierAgents>>;
  /** The agent became free: signals `agentFree` to the working campaigns whose tiers hold it;
   *  answers how many were told. Best effort: their re-check is the fallback. */
  wakeCampaigns(i: { domain: string; name: string }): Promise<number>;
  /** Is the member workflow of an offer still running? (Not when it was terminated by hand or failed.) */
  memberRunning(i: { campaignId: string; memberId: string }): Promise<boolean>;
}
