// The `engine::dialer_member_end` event (spec §10, §11.2) of a member that ends: built here only,
// for the member workflow and for the API's terminate of a member no workflow owns.
import type { MemberState } from './types';

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

export function memberEndEvent(o: {
  domain: string; campaignId: string; campaignName: string; memberId: string; member: MemberState; cause: string; session: string;
  reason?: MemberEndEvent['reason']; from?: string;
}): MemberEndEvent {
  const { member } = o;
  const comm = member.communications[member.lastNumberIndex ?? 0];
  const event: MemberEndEvent = {
    'Event-Name': 'CUSTOM',
    'Event-Subclass': 'engine::dialer_member_end',
    variable_domain_name: o.domain,
    dialerId: o.campaignId,
    dialerName: o.campaignName,
    id: o.memberId,
    name: member.name,
    currentNumber: comm?.number ?? '',
    dlr_member_number_description: comm?.description ?? '',
    currentProbe: member.probeCount,
    session: o.session,
    endCause: o.cause,
    expire: member.expire,
    agentId: null,
  };
  if (o.reason) event.reason = o.reason;
  if (o.from) event.callback_user_id = o.from;
  for (const [k, v] of Object.entries(member.variables)) event[`variable_${k}`] = v;
  return event;
}
