// Plain data shapes the Webitel rules work on. They are what the member workflow holds in its
// state and what the Mongoose models store, so they stay JSON-serialisable (no Dates, no classes).

import type { AmdSettings } from './amd';
import type { BroadcastContent, MenuResult, RecordingRule } from './content';

import type { PredictiveRules } from './predictive';

export const DIALER_TYPES = ['Voice Broadcasting', 'Progressive Dialer', 'Predictive Dialer'] as const;
export type DialerType = (typeof DIALER_TYPES)[number];

/** Why a campaign of this type cannot dial (null: it can): a type stored that the dialer does not know. */
export function typeNotImplemented(type: string): string | null {
  return (DIALER_TYPES as readonly string[]).includes(type) ? null : `"${type}" campaigns are not implemented; the types are ${DIALER_TYPES.join(', ')}`;
}

/** Communication (phone number) states of spec §5.2. */
export const NUMBER_IDLE = 0;
export const NUMBER_PROCESS = 1;
export const NUMBER_END = 2;
export type NumberState = 0 | 1 | 2;

export interface CauseLists {
  causesError: string[];
  causesRetry: string[];
  causesOK: string[];
  causesMinus: string[];
}

export interface TimeRange {
  /** Minutes from midnight in the calendar's zone; the window is [startTime, endTime). */
  startTime: number;
  endTime: number;
  /** Attempt budget per number (or per type, see retriesByNumber) inside one daily window. */
  attempts: number;
  priority: number;
}

export interface CommunicationType {
  code: string;
  name: string;
  ranges: TimeRange[];
}

export interface Destination {
  uuid: string;
  enabled: boolean;
  /** Max concurrent calls on this destination. */
  limit: number;
  gwProto: string;
  gwName: string;
  dialString: string;
  callerIdNumber: string;
  /** One caller ID per entry; one is picked per attempt. */
  callerIdNumbers: string[];
}

export interface Resource {
  /** JavaScript regular expression source, matched against the member's number. */
  dialedNumber: string;
  disabled: boolean;
  strategy: 'top_down' | 'random';
  destinations: Destination[];
}

export interface CalendarRule {
  timeZone: string;
  /** Epoch ms bounds; outside them the campaign is expired. */
  startDate?: number | null;
  endDate?: number | null;
  /** ISO weekday 1=Mon..7=Sun, minutes of day, both ends inclusive. */
  accept: { weekDay: number; startTime: number; endTime: number }[];
  /** Holidays: `date` epoch ms of the day; `repeat` true = every year. */
  except: { name?: string; date: number; repeat: boolean }[];
}

/** What the rules need to know about a campaign (a snapshot taken at the start of each attempt). */
export interface CampaignRules extends CauseLists {
  id: string;
  name: string;
  domain: string;
  type: DialerType;
  limit: number;
  maxTryCount: number;
  intervalTryCount: number;
  minBillSec: number;
  waitingForResultStatus: boolean;
  wrapUpTime: number;
  originateTimeout: number;
  eternalQueue: boolean;
  oneDayTask: boolean;
  retriesByNumber: boolean;
  numberStrategy: 'by-priority' | 'top-down';
  membersStrategy: 'next-tries-circuit' | 'strict-circuit';
  /** §6.6: 'refund' = dialerCbMinusAttempt=true (v3 default); 'keep' = save attempts. */
  statusTimeoutMode: 'refund' | 'keep';
  /** Lost calls (LOST_CALL) a member may have redialled without counting them; later ones count. */
  lostCallRedials: number;
  communicationTypes: CommunicationType[];
  calendar: CalendarRule;
  resources: Resource[];
  variables: Record<string, string>;
  /** Zero the counters when the calendar's day changes (§8.3, §11.1). */
  autoResetStats?: boolean;
  /** What an answered call runs (rules/content.ts); absent = park. */
  content?: BroadcastContent;
  /** Originations per second of this campaign (v3.6 `cps`); absent or 0 = no limit of its own. */
  cps?: number;
  /** AMD (§3.7), when enabled on a broadcast or predictive campaign (rules/amd.ts). */
  amd?: AmdSettings;
  /** `recordSession` on: where the recording goes (rules/content.ts recording). */
  record?: RecordingRule;
  /** Progressive/predictive (§3.3, §7): the tiers (v3 `agents`, plus a level per agent), the
   *  hunting strategy and the per-campaign parameter overrides. */
  agents?: { name: string; level: number }[];
  agentStrategy?: string;
  agentParams?: Partial<Record<'callTimeout' | 'wrapUpTime' | 'maxNoAnswer' | 'busyDelayTime' | 'rejectDelayTime' | 'noAnswerDelayTime', number>>;
  /** Preview (beyond v3, progressive campaigns): the agent sees the member this many seconds
   *  before the call and may skip or reschedule it; absent or 0 = no preview. */
  previewTimeoutSec?: number;
  /** §7.6: the result codes of the agent's post-call form (t success, f failure, n call back). */
  callResult?: ResultCode[];
  /** Predictive campaigns (§2.4, §7.5, rules/predictive.ts); absent for the other types. */
  predictive?: PredictiveRules;
}

export interface ResultCode {
  name: string;
  type: 't' | 'f' | 'n';
  items?: string[];
}

export interface Communication {
  number: string;
  priority: number;
  type?: string | null;
  description?: string | null;
  state: NumberState;
  /** Attempts made on this number. */
  probe: number;
  /** Epoch ms of the last attempt on this number; 0 after a refund, -1 after a status timeout. */
  lastCall: number;
  rangeId?: string | null;
  rangeAttempts: number;
  /** Stopped by a status callback (`stop_communications`). */
  stopCommunication?: boolean;
  /** This number's last call awaits a status callback. */
  checkResult?: boolean;
}

/** The engine-owned part of a member plus what the rules read from the client-owned part. */
export interface MemberState {
  name: string;
  /** IANA zone of the member; when set, windows and working hours are the member's local time. */
  timezone?: string | null;
  priority: number;
  expire: number | null;
  variables: Record<string, string>;
  communications: Communication[];
  probeCount: number;
  successfulCount: number;
  callSuccessful: boolean;
  nextTryTime: number | null;
  endCause: string | null;
  lastNumberIndex: number | null;
  lastMinusProbe: boolean;
  lastCall: number;
  /** Uncounted LOST_CALL redials used so far (bounded by CampaignRules.lostCallRedials). */
  lostRedials?: number;
}

/** What FreeSWITCH told us about one attempt (§6.1). */
export interface CallOutcome {
  /** Hangup cause, `-ERR` cause of a failed originate, or an engine pseudo-cause. */
  cause: string;
  /** Voice broadcasting: the call was answered (reached the callflow). */
  bridged: boolean;
  answered: boolean;
  talkSec: number;
  /** Optional `cc_min_count` channel variable (§6.3). */
  minCount?: number;
  /** The call vanished with no result from any source (FreeSWITCH restart, lost events). With
   *  `answered`, it had been answered (CHANNEL_ANSWER recorded) before it vanished. */
  lost?: boolean;
  /** The originate could not even be built for this number (a dial string with whitespace, a bad
   *  variable name …): why. Never sent, so never retried: an Error of the number. */
  notSent?: string;
  /** The digit pressed in the campaign's menu, and what the campaign says it decides. */
  menuDigit?: string;
  menu?: MenuResult;
  /** Progressive: the agent leg failed with this cause before the member was called (§2.3). */
  agentFailed?: string;
  /** Predictive: answered (live) but never bridged to an agent (§6.1). */
  abandoned?: boolean;
}
