// Every message the dialer workflows understand (member, campaign, agent), in one module shared by the workflows, the worker's
// ESL event router and the REST API.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AmdOutcome, CallReportKind, CampaignRules, ClientPatch, MemberState, Pacing, StatusBody } from '../rules';
import type { AGENT_SETTABLE_STATES, AgentParams, AgentRuntime, AgentStatus, OfferOutcome, PreviewDecision } from '../rules';
import type { AgentConfig } from '../models/agent';

export const TASK_QUEUE_DEFAULT = 'dialer';

export interface MemberWorkflowInput {
  domain: string;
  campaignId: string;
  memberId: string;
  /** Carried over continue-as-new; absent on a fresh start. */
  carried?: { member: MemberState; seq: number; endSeq: number };
  /** A fresh start by the campaign's grant: the member as its claim read it (in the member's turn,
   *  so no edit came between; after the claim, edits come to the workflow). Absent: loaded from Mongo. */
  member?: MemberState;
}

export interface MemberWorkflowResult {
  endCause: string;
  attempts: number;
}

export function memberWorkflowId(campaignId: string, memberId: string): string {
  return `member-${campaignId}-${memberId}`;
}
/** The campaign and member of a member workflow id (ids are ObjectId hex: no `-` inside). */
export function parseMemberWorkflowId(workflowId: string): { campaignId: string; memberId: string } | null {
  const m = /^member-([^-]+)-([^-]+)$/.exec(workflowId);
  return m ? { campaignId: m[1], memberId: m[2] } : null;
}

/** A call result from any source (BACKGROUND_JOB -ERR, CHANNEL_HANGUP_COMPLETE, CDR, reconciliation). */
export interface CallResult {
  /** origination_uuid of the attempt it belongs to; results for other attempts are ignored. */
  uuid: string;
  cause: string;
  answered: boolean;
  billsec: number;
  answersec: number;
  duration: number;
  source: 'job' | 'event' | 'cdr' | 'reconcile' | 'engine';
  minCount?: number;
  /** The content was reached (§2.2; services/call-results.ts contentReached); absent: = answered. */
  bridged?: boolean;
  /** The digit pressed in the campaign's menu (rules/content.ts). */
  digit?: string;
  /** Recorded seconds (record_seconds), when the call was recorded (§3.8). */
  recordSec?: number;
  /** AMD (§3.7) ran on the answered call: its result (rules/amd.ts amdFromVars); `billsec` then
   *  excludes the analysis time, and a CANCEL carries cause ORIGINATOR_CANCEL. */
  amd?: AmdOutcome;
  /** Progressive (§2.3): whether the agent leg answered. False: the agent failed with `cause` and
   *  the member was never called; true: `cause`, `answered`, `bridged` and `billsec` are the
   *  member's, read from the agent leg (originate_failed_cause, bridge time). */
  agentAnswered?: boolean;
}
export const callResultSignal = defineSignal<[CallResult]>('callResult');
/** Predictive: the member leg is parked (answered, or AMD said human) and needs an agent (§2.4). */
export const memberParkedSignal = defineSignal<[{ uuid: string }]>('memberParked');

/** "Call now" / reschedule: moves the next try to `at` (epoch ms; default now) and wakes the member. */
export const rescheduleSignal = defineSignal<[{ at?: number }]>('reschedule');

/** Client-owned fields changed through the API (§5.2: engine-owned number fields are kept). */
export type MemberPatch = ClientPatch;
/** An edit through the API (PUT …/members/:id): the change of the member's state, and the client
 *  fields as the API stores them (variables as sent). The workflow owns the document, so it applies
 *  and stores the edit; the Update returns once it is stored (`stored`), or at once while a call or
 *  a wrap-up is in progress (then it is stored when that ends). */
export interface MemberEdit {
  patch: MemberPatch;
  fields: Record<string, unknown>;
}
export const editUpdate = defineUpdate<{ stored: boolean }, [MemberEdit]>('edit');

/** §6.5 result status. The validator rejects when the member is not waiting for one (→ HTTP 400). */
export const statusUpdate = defineUpdate<{ status: 'OK'; info: 'success' }, [StatusBody & { from?: string }]>('memberStatus');

/** §9.4 terminate: hangs up a live call with MANAGER_REQUEST and ends the member. */
export const terminateUpdate = defineUpdate<{ _id: string; waitHangupCause?: string }, []>('terminate');

/** The campaign grants the member one line (a lease) for one attempt. Sent with signal-with-start,
 *  so a member that was never dialled has no workflow until its first grant. `grantedAt`: when the
 *  campaign took the line (epoch ms), for the line time counted when the attempt ends. */
export const grantSignal = defineSignal<[Grant]>('grant');
/** The campaign's rules changed (an edit): the rules a grant brought are not used; read them again. */
export const campaignEditedSignal = defineSignal<[]>('campaignEdited');
export interface Grant {
  leaseId: string;
  grantedAt?: number;
  /** The campaign's rules as the campaign read them for the claim that granted this line: the member
   *  dials with them instead of reading them (unless told of an edit since: campaignEditedSignal). */
  campaign?: GrantedCampaign;
}
export interface GrantedCampaign {
  rules: CampaignRules;
}

export type MemberPhase = 'waiting' | 'ready' | 'dialing' | 'in-call' | 'awaiting-status' | 'ended';
export interface MemberInfo {
  phase: MemberPhase;
  member: MemberState;
  currentUuid: string | null;
  waitUntil: number | null;
  waitReason: string | null;
}
export const memberInfoQuery = defineQuery<MemberInfo>('memberInfo');

/** Error message prefixes the API maps to HTTP codes. */
export const NOT_WAITING_FOR_STATUS = 'Member is not waiting for a result status';
export const MEMBER_ALREADY_ENDED = 'Member already has an end cause';

export type { CampaignRules, MemberState, StatusBody };

// ---- Campaign workflow -----------------------------------------------------------------------

export interface CampaignWorkflowInput {
  domain: string;
  campaignId: string;
  /** Carried over continue-as-new. */
  carried?: {
    leases: Record<string, Lease>; stopping: boolean; dialled: number; state: CampaignStateName; statsDay?: string | null; pacing?: Pacing;
    /** The rules of the last round, as JSON: an edit across continue-as-new is still told. */
    rules?: string;
  };
}

export interface Lease {
  memberId: string;
  /** After this (epoch ms) the campaign asks whether the lease is still held. */
  deadline: number;
}

/** Spec §8.1 states. */
export const CAMPAIGN_STATE = { Idle: 0, Work: 1, Sleep: 2, ProcessStop: 3, End: 4, Error: 5 } as const;
export type CampaignStateName = keyof typeof CAMPAIGN_STATE;

export function campaignWorkflowId(campaignId: string): string {
  return `campaign-${campaignId}`;
}

/** The workflow deleting a deleted campaign's members (workflows/purge.ts). */
export interface PurgeMembersInput { campaignId: string; domain: string; deleted?: number }
export function purgeWorkflowId(campaignId: string): string {
  return `purge-members-${campaignId}`;
}

/** Something changed (members added, configuration edited, start pressed): look again now. */
export const wakeSignal = defineSignal<[]>('wake');
/** §8.2 stop: no new calls; calls in progress finish; then End with QUEUE_STOP. */
export const stopSignal = defineSignal<[]>('stop');
/** Members give their leases back (attempt over, or nothing to dial); a worker sends the releases
 *  of one campaign within a short window together. Unknown lease ids are ignored. */
export const releaseSignal = defineSignal<[{ leaseIds: string[] }]>('release');
/** An agent of the campaign's tiers became free to take a call (its workflow stored it so): the
 *  campaign looks again now, and passes it on to its members waiting for an agent. Unlike `wake`,
 *  it does not reopen a campaign that found no member left (a free agent adds no member). */
export const agentFreeSignal = defineSignal<[{ agent: string }]>('agentFree');
/** Predictive: a member reports its call's progress to the campaign's pacing (rules/predictive.ts). */
export const callReportSignal = defineSignal<[{ leaseId: string; kind: CallReportKind; at: number }]>('callReport');

export interface CampaignInfo {
  state: CampaignStateName;
  cause: string;
  leases: number;
  limit: number;
  dialled: number;
}
export const campaignInfoQuery = defineQuery<CampaignInfo>('campaignInfo');

// ---- Agent workflow ----------------------------------------------------------------------------

export interface AgentWorkflowInput {
  domain: string;
  name: string;
  config: AgentConfig;
  /** Status and state the agent starts in (POST with status). */
  initial?: { status?: AgentStatus; state?: AgentSettableState };
  /** Carried over continue-as-new. */
  carried?: { runtime: AgentRuntime; seq: number };
}

export function agentWorkflowId(domain: string, name: string): string {
  return `agent-${domain}-${name}`;
}

/** The agent as its workflow knows it (GET /api/v2/agents/:name answers the stored copy). */
export interface AgentView extends AgentRuntime {
  id: string;
  domain: string;
  name: string;
  contact: string;
  description: string;
  params: Partial<AgentParams>;
}

/** A campaign asks to reserve the agent for one member (§7.3). Rejected by the validator (the
 *  hunter tries the next agent) unless the agent can be offered a call now; the same offerId again
 *  returns the same reservation. */
export interface ReserveRequest {
  offerId: string;
  campaignId: string;
  memberId: string;
  /** The campaign's `agentParams` overrides (§7.2). */
  overrides?: Partial<AgentParams>;
  /** What the agent application is shown with the offer (§7.6): member, variables, webitel_data. */
  offered?: Record<string, unknown>;
  /** Preview: the agent has this many seconds to accept, skip or reschedule before the call. */
  previewSec?: number;
  /** The campaign's calendar day now (ISO date in its zone): the agent's statistics of an earlier day start again. */
  statsDay?: string;
}
export interface Reservation {
  offerId: string;
  agent: string;
  name: string;
  contact: string;
  params: AgentParams;
}
export const reserveAgentUpdate = defineUpdate<Reservation, [ReserveRequest]>('reserveAgent');

/** What happened to the offer: the agent's phone answered, or the offer ended (§7.4). Events for
 *  another offer are ignored. */
export type OfferEvent =
  | { offerId: string; kind: 'connected' }
  | { offerId: string; kind: 'ended'; outcome: OfferOutcome }
  /** The member of this (ended) offer got its result status: the §7.4 hold ends in 2 s. */
  | { offerId: string; kind: 'status-sent' };
export const offerEventSignal = defineSignal<[OfferEvent]>('offerEvent');

/** §7.1 status/state by REST; answers once the change is stored. */
export const agentStatusUpdate = defineUpdate<AgentView, [{ status?: AgentStatus; state?: AgentSettableState }]>('agentStatus');
/** The agent's settings (contact, description, parameters); answers once stored. */
export const agentConfigUpdate = defineUpdate<AgentView, [Partial<AgentConfig>]>('agentConfig');
/** Removes the agent (refused while a call is offered); the workflow deletes its document and ends. */
export const agentRemoveUpdate = defineUpdate<{ removed: true }, []>('agentRemove');
export const agentInfoQuery = defineQuery<AgentView>('agentInfo');

export const AGENT_BUSY = 'The agent has a call offered';

/** Preview (beyond v3): the agent's decision on the member offered to it (PUT …/agents/:name/preview). */
export const previewUpdate = defineUpdate<AgentView, [PreviewDecision & { offerId: string }]>('agentPreview');
/** The agent workflow passes the decision on to the member's workflow. */
export const previewDecisionSignal = defineSignal<[PreviewDecision & { offerId: string }]>('previewDecision');
export const NO_SUCH_PREVIEW = 'No preview awaits a decision';

export type { AgentConfig, AgentParams, AgentRuntime, AgentStatus, OfferOutcome, PreviewDecision };
type AgentSettableState = (typeof AGENT_SETTABLE_STATES)[number];

/** A run ("process") of an import/export template (§9.2); its pid is the rest of its workflow id. */
export interface TemplateJobInput {
  templateId: string;
  /** The `end` body of the job that chained to this one (`next_process_id`), sent on as `success_data`. */
  successData?: unknown;
  /** How long to wait for `PUT …/end/:pid` (default 24 h); then the job ends as `timeout`. */
  endTimeoutMs?: number;
}
export interface TemplateEnd {
  success: boolean;
  message?: string;
  data?: unknown;
}
export interface TemplateJobResult {
  pid: string;
  state: 'success' | 'error' | 'timeout';
  next: string | null;
}
/** `PUT …/templates/:id/end/:pid`: closes the job; rejected once it has ended. */
export const templateEndUpdate = defineUpdate<{ pid: string }, [TemplateEnd]>('templateEnd');
export const TEMPLATE_JOB_ENDED = 'this process has already ended';
const TEMPLATE_JOB_PREFIX = 'template-job-';
export function templateJobWorkflowId(pid: string): string {
  return `${TEMPLATE_JOB_PREFIX}${pid}`;
}
export function templatePidOf(workflowId: string): string {
  return workflowId.startsWith(TEMPLATE_JOB_PREFIX) ? workflowId.slice(TEMPLATE_JOB_PREFIX.length) : workflowId;
}
/** The Temporal schedule of a template with `cron`. */
export function templateScheduleId(templateId: string): string {
  return `template-cron-${templateId}`;
}
