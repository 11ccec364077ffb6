// The activity surface the member workflow calls. Workflow code imports only these types.
import type { CallResult } from '../workflows/messages';
import type { CampaignRules, MemberState } from '../rules';

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
  talkSec?: number;
  steps?: { time: number; data: string }[];
  callback?: { from: string; time: number; data: unknown };
}

export interface StartAttemptInput {
  uuid: string;
  jobUuid: string;
  domain: string;
  campaignId: string;
  memberId: string;
  workflowId: string;
  attempt: number;
  number: string;
  dialString: string;
  destinationId: string | null;
  member: MemberState;
  log: AttemptLogEntry;
}

export interface OriginateInput {
  uuid: string;
  jobUuid: string;
  dialString: string;
  vars: Record<string, string>;
  timeoutSec: number;
}

export interface FinishAttemptInput {
  uuid: string;
  campaignId: string;
  memberId: string;
  member: MemberState;
  log: AttemptLogEntry;
  result: CallResult;
  /** For the campaign counters of §11.1. */
  stats: { success: boolean; connected: boolean; bridged: boolean; ended: boolean };
  /** Deadline (epoch ms) of the result status, when the member now waits for one. */
  waitingForStatusUntil: number | null;
}

export interface MemberEndEvent {
  'Event-Name': 'CUSTOM';
  'Event-Subclass': 'engine::dialer_member_end';
  variable_domain_name: string;
  dialerId: string;
  dialerName: string;
  id: string;
  name: string;
  currentNumber: string;
  dlr_member_number_description: string;
  currentProbe: number;
  session: string;
  endCause: string;
  expire: number | null;
  agentId: string | null;
  reason?: 'expire' | 'callback' | 'terminate';
  callback_user_id?: string;
  [variable: `variable_${string}`]: string;
}

export interface DialerActivities {
  loadCampaign(campaignId: string): Promise<CampaignRules | null>;
  loadMember(memberId: string): Promise<MemberState | null>;
  /** Takes one line of the campaign (limit) and one of a destination, idempotently per leaseId.
   *  Returns the destination that carries the call, or null when every line is busy. */
  acquireLine(i: { campaignId: string; leaseId: string; limit: number; destinations: { uuid: string; limit: number }[] }): Promise<{ destinationId: string } | null>;
  releaseLine(i: { campaignId: string; leaseId: string }): Promise<void>;
  startAttempt(i: StartAttemptInput): Promise<void>;
  /** Sends `bgapi originate` unless this attempt was already sent. `sent:false` carries the cause
   *  when FreeSWITCH could not be asked at all. */
  originate(i: OriginateInput): Promise<{ sent: boolean; cause?: string }>;
  /** Reconciliation: is the call still up, or has a result been stored for it meanwhile? */
  checkCall(uuid: string): Promise<{ exists: boolean; result: CallResult | null }>;
  hangup(i: { uuid: string; cause: string }): Promise<void>;
  finishAttempt(i: FinishAttemptInput): Promise<void>;
  saveMember(i: { memberId: string; member: MemberState; waitingForStatusUntil?: number | null; callback?: AttemptLogEntry['callback']; step?: string }): Promise<void>;
  memberEnded(i: { eventId: string; domain: string; campaignId: string; memberId: string; event: MemberEndEvent }): Promise<void>;
}
