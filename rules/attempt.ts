// One attempt as the member workflow plans it before the call is placed: which number, the member
// with the attempt counted, the attempt-log entry, the channel variables and the routes. Pure: the
// ids, the clock and the random source come in, so the workflow's deterministic ones can be passed.
import { idleNumbers, reserveAttempt } from './member';
import { attemptVariables, callerIdFor, maxResources, routesFor, type NumberChoice } from './numbers';
import { CONTENT_CONTEXT_VAR, CONTENT_VAR, contentApp, recording } from './content';
import { amdPlan } from './amd';
import type { CampaignRules, MemberState } from './types';
import { PREDICTIVE_VAR } from './predictive';

/** One entry of the member's attempt log (`_log[]`, spec §5.8). */
export interface AttemptLogEntry {
  state: 'reserved' | 'end';
  session: string;
  reservedTime?: number;
  callTime?: number;
  callNumber?: string;
  callPriority?: number;
  callDescription?: string | null;
  callTypeCode?: string | null;
  callPositionIndex?: number;
  callAttempt?: number;
  callUUID?: string;
  destinationId?: string | null;
  cause?: string;
  causeQ850?: number;
  callState?: number;
  callSuccessful?: boolean;
  /** null: the call was answered but its talk time is unknown (its result was lost). */
  talkSec?: number | null;
  /** The digit pressed in the campaign's menu (rules/content.ts). */
  menuDigit?: string;
  /** Recorded seconds (§3.8, FreeSWITCH's record_seconds). */
  recordSessionSec?: number;
  /** AMD (§3.7): the result (HUMAN, MACHINE, NOTSURE, CANCEL), its cause and analysis seconds. */
  amdResult?: string;
  amdCause?: string;
  amdSec?: number;
  /** Predictive (§5.8): seconds the answered member waited for an agent, AMD analysis included, to
   *  the bridge (or to its drop or hang-up when no agent came); voice broadcasting 0; none for a
   *  machine. */
  waitSec?: number;
  steps?: { time: number; data: string }[];
  callback?: { from: string; time: number; data: unknown };
}

export interface RouteOption {
  destinationId: string;
  destinationLimit: number;
  dialString: string;
  callerId: string;
}

/** The call to place: takes a destination line, records the attempt, and sends the originate (the
 *  placeCall activity, each step idempotent, so a retried activity never takes two lines or dials
 *  twice). */
export interface PlaceCallInput {
  uuid: string;
  jobUuid: string;
  domain: string;
  campaignId: string;
  memberId: string;
  workflowId: string;
  attempt: number;
  number: string;
  /** Campaign-wide cap re-checked atomically with the destination's own line limit. */
  limit: number;
  routes: RouteOption[];
  /** The member with this attempt counted (§5.4). */
  member: MemberState;
  log: AttemptLogEntry;
  /** Channel variables without the caller ID, which depends on the destination. */
  vars: Record<string, string>;
  timeoutSec: number;
  /** The originate's application part (rules/content.ts); absent = `&park()`. */
  app?: string;
  /** Variables the engine sets only for some calls (content mode, recording §3.8): sent as they
   *  are, unlike `vars`, which hold tenant variables and go through the channel-variable check
   *  (a tenant value under one of these names is refused there: `dlr_*`, `record_*`, …). */
  engineVars?: Record<string, string>;
  /** The campaign's originations per second (models/rate.ts), when limited. */
  cps?: number;
  /** Progressive (§2.3): the agent is called first and its leg bridges the member. */
  agent?: AgentLeg;
}

/** The agent leg of an agent-first call. */
export interface AgentLeg {
  /** The agent's contact (checked like every dial string): the originate's first leg. */
  contact: string;
  /** Ring time of the agent leg (§7.2 call timeout). */
  callTimeoutSec: number;
  /** The agent leg's own variables (cc_side=agent, cc_agent, dlr_offer_id, the member as caller ID). */
  vars: Record<string, string>;
}

export interface PlanAttemptInput {
  member: MemberState;
  camp: CampaignRules;
  /** The number nextAction chose. */
  choice: NumberChoice;
  domain: string;
  campaignId: string;
  memberId: string;
  workflowId: string;
  /** origination_uuid of the call, the attempt's id everywhere. */
  uuid: string;
  /** The bgapi job's uuid. */
  jobUuid: string;
  now: number;
  random: () => number;
}

export interface AttemptPlan {
  /** The placeCall input; `call.member` is the member with the attempt counted. */
  call: PlaceCallInput;
  /** Idle numbers before the attempt (applyOutcome: "was it the last idle number"). */
  idleAtStart: number;
  numberIndex: number;
}

export function planAttempt(i: PlanAttemptInput): AttemptPlan {
  const { member, camp, choice, uuid } = i;
  const comm = member.communications[choice.index];
  const reserved = reserveAttempt(member, camp, choice);
  const attempt = reserved.probeCount;
  const log: AttemptLogEntry = {
    state: 'reserved',
    session: uuid,
    reservedTime: i.now,
    callNumber: comm.number,
    callPriority: comm.priority,
    callDescription: comm.description ?? null,
    callTypeCode: comm.type ?? null,
    callPositionIndex: choice.index,
    callAttempt: attempt,
    callUUID: uuid,
    steps: [{ time: i.now, data: `set number: ${comm.number}` }],
  };
  const typeName = camp.communicationTypes.find((t) => t.code === comm.type)?.name;
  // The caller ID is chosen per destination (routes), not here.
  const { origination_caller_id_number: _callerId, ...vars } = attemptVariables({
    camp, member: reserved, memberId: i.memberId, workflowId: i.workflowId, attempt, uuid, comm, callerId: '', typeName,
  });
  void _callerId;
  // Predictive: the answered member is parked until an agent is bridged to it (§2.4).
  const content = camp.content?.mode === 'park' || camp.predictive ? undefined : camp.content;
  const rec = camp.record ? recording(camp.record, camp.id, uuid) : undefined;
  // AMD before the content (§3.7; not on agent-first calls: §2.3 has none).
  const amd = camp.amd?.enabled && camp.type !== 'Progressive Dialer' ? amdPlan(camp.amd) : undefined;
  const first = [...(rec ? [rec.app] : []), ...(amd?.apps ?? [])];
  const engineVars: Record<string, string> = { ...rec?.vars, ...amd?.vars };
  if (content) engineVars[CONTENT_VAR] = content.mode;
  if (camp.predictive) engineVars[PREDICTIVE_VAR] = 'true';
  if (content?.mode === 'transfer') engineVars[CONTENT_CONTEXT_VAR] = content.context ?? 'dialer';
  const routes = routesFor(comm.number, camp.resources, i.random).map((r) => ({
    destinationId: r.destination.uuid,
    destinationLimit: r.destination.limit,
    dialString: r.dialString,
    callerId: callerIdFor(member, r.destination, i.random),
  }));
  return {
    idleAtStart: idleNumbers(member),
    numberIndex: choice.index,
    call: {
      uuid, jobUuid: i.jobUuid, domain: i.domain, campaignId: i.campaignId, memberId: i.memberId, workflowId: i.workflowId,
      attempt, number: comm.number, limit: Math.min(camp.limit, maxResources(camp.resources)), routes,
      member: reserved, log, vars, timeoutSec: camp.originateTimeout,
      ...(content || first.length ? { app: contentApp(content ?? { mode: 'park' }, camp.id, first) } : {}),
      ...(Object.keys(engineVars).length ? { engineVars } : {}),
      ...(camp.cps ? { cps: camp.cps } : {}),
    },
  };
}
