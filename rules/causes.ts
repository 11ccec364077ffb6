// Hangup-cause categories of spec §4. Lookup order is Minus → OK → Retry → Error → none.
import type { CauseLists } from './types';

export type CauseCategory = 'minus' | 'ok' | 'retry' | 'error' | 'none';

/** G2 defaults (spec §4.2, from 2017-05-29). */
export const DEFAULT_CAUSES: CauseLists = {
  causesError: [
    'UNALLOCATED_NUMBER', 'NO_ROUTE', 'MEMBER_EXPIRED', 'INVALID_NUMBER_FORMAT', 'NETWORK_OUT_OF_ORDER',
    'OUTGOING_CALL_BARRED', 'SERVICE_UNAVAILABLE', 'CHAN_NOT_IMPLEMENTED', 'SERVICE_NOT_IMPLEMENTED',
    'INCOMPATIBLE_DESTINATION', 'MANDATORY_IE_MISSING', 'PROGRESS_TIMEOUT', 'GATEWAY_DOWN',
    // Ours: a gateway FreeSWITCH does not know fails every retry the same way (not in G2's list).
    'INVALID_GATEWAY',
  ],
  causesRetry: [
    'NO_ROUTE_DESTINATION', 'DESTINATION_OUT_OF_ORDER', 'USER_BUSY', 'CALL_REJECTED', 'NO_USER_RESPONSE', 'NO_ANSWER',
    'SUBSCRIBER_ABSENT', 'NUMBER_CHANGED', 'NORMAL_UNSPECIFIED', 'NORMAL_CIRCUIT_CONGESTION', 'ORIGINATOR_CANCEL',
    'LOSE_RACE', 'USER_NOT_REGISTERED',
  ],
  causesOK: ['NORMAL_CLEARING'],
  causesMinus: ['RECOVERY_ON_TIMER_EXPIRE', 'NORMAL_TEMPORARY_FAILURE'],
};

export function classifyCause(cause: string, lists: CauseLists): CauseCategory {
  if (lists.causesMinus.includes(cause)) return 'minus';
  if (lists.causesOK.includes(cause)) return 'ok';
  if (lists.causesRetry.includes(cause)) return 'retry';
  if (lists.causesError.includes(cause)) return 'error';
  return 'none';
}

/** Q.850 codes of spec §4.3 (name → code; unknown names map to 0, as the engine's HANGUP_CODES does). */
const Q850: Record<string, number> = {
  UNSPECIFIED: 0, UNALLOCATED_NUMBER: 1, NO_ROUTE_TRANSIT_NET: 2, NO_ROUTE_DESTINATION: 3, CHANNEL_UNACCEPTABLE: 6,
  CALL_AWARDED_DELIVERED: 7, NORMAL_CLEARING: 16, USER_BUSY: 17, NO_USER_RESPONSE: 18, NO_ANSWER: 19,
  SUBSCRIBER_ABSENT: 20, CALL_REJECTED: 21, NUMBER_CHANGED: 22, REDIRECTION_TO_NEW_DESTINATION: 23,
  EXCHANGE_ROUTING_ERROR: 25, DESTINATION_OUT_OF_ORDER: 27, INVALID_NUMBER_FORMAT: 28, FACILITY_REJECTED: 29,
  RESPONSE_TO_STATUS_ENQUIRY: 30, NORMAL_UNSPECIFIED: 31, NORMAL_CIRCUIT_CONGESTION: 34, NETWORK_OUT_OF_ORDER: 38,
  NORMAL_TEMPORARY_FAILURE: 41, SWITCH_CONGESTION: 42, ACCESS_INFO_DISCARDED: 43, REQUESTED_CHAN_UNAVAIL: 44,
  PRE_EMPTED: 45, FACILITY_NOT_SUBSCRIBED: 50, OUTGOING_CALL_BARRED: 52, INCOMING_CALL_BARRED: 54,
  BEARERCAPABILITY_NOTAUTH: 57, BEARERCAPABILITY_NOTAVAIL: 58, SERVICE_UNAVAILABLE: 63, BEARERCAPABILITY_NOTIMPL: 65,
  CHAN_NOT_IMPLEMENTED: 66, FACILITY_NOT_IMPLEMENTED: 69, SERVICE_NOT_IMPLEMENTED: 79, INVALID_CALL_REFERENCE: 81,
  INCOMPATIBLE_DESTINATION: 88, INVALID_MSG_UNSPECIFIED: 95, MANDATORY_IE_MISSING: 96, MESSAGE_TYPE_NONEXIST: 97,
  WRONG_MESSAGE: 98, IE_NONEXIST: 99, INVALID_IE_CONTENTS: 100, WRONG_CALL_STATE: 101, RECOVERY_ON_TIMER_EXPIRE: 102,
  MANDATORY_IE_LENGTH_ERROR: 103, PROTOCOL_ERROR: 111, INTERWORKING: 127, ORIGINATOR_CANCEL: 487, CRASH: 500,
  SYSTEM_SHUTDOWN: 501, LOSE_RACE: 502, MANAGER_REQUEST: 503, BLIND_TRANSFER: 600, ATTENDED_TRANSFER: 601,
  ALLOTTED_TIMEOUT: 602, USER_CHALLENGE: 603, MEDIA_TIMEOUT: 604, PICKED_OFF: 605, USER_NOT_REGISTERED: 606,
  PROGRESS_TIMEOUT: 607, INVALID_GATEWAY: 608, GATEWAY_DOWN: 609, ABANDONED: 687,
};

export function q850(cause: string): number {
  return Q850[cause] ?? 0;
}

/** Engine pseudo-cause for a call that vanished without any result being reported. */
export const LOST_CALL = 'LOST_CALL';
/** Cause of an attempt whose originate could not be built (never sent): the number as it would be
 *  dialled is malformed. An Error whatever the campaign's cause lists say (rules applyOutcome). */
export const NOT_SENT_CAUSE = 'INVALID_NUMBER_FORMAT';
/** Cause of an attempt whose number is on its domain's do-not-call list (models/compliance.ts):
 *  not sent, an Error of that number like NOT_SENT_CAUSE (the member goes on with its other numbers). */
export const DO_NOT_CALL_CAUSE = 'DO_NOT_CALL';

/** Member end causes produced by the engine itself (§5.7). */

export const END = {
  MAX_TRY_COUNT: 'MAX_TRY_COUNT',
  MEMBER_EXPIRED: 'MEMBER_EXPIRED',
  NO_COMMUNICATIONS: 'NO_COMMUNICATIONS',
  MANAGER_REQUEST: 'MANAGER_REQUEST',
  NO_ROUTE: 'NO_ROUTE',
  NORMAL_CLEARING: 'NORMAL_CLEARING',
  ABANDONED: 'ABANDONED',
} as const;
