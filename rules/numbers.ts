// Which number is dialled (§5.5), how it is routed (§2.5), and the attempt's channel variables (§2.2).
import { inMemberZone, localTime, openWindow, type OpenWindow } from './clock';
import type { CampaignRules, Communication, Destination, MemberState, Resource } from './types';
import { NUMBER_IDLE } from './types';

/** `•••••0101`: enough to tell numbers apart in the Web UI without showing them. */
export function maskNumber(number: string): string {
  return number.length <= 4 ? '••••' : '•'.repeat(Math.min(number.length - 4, 8)) + number.slice(-4);
}

/** Only digits are dialled (§2.5: `+380…` → `380…`). */
export function dialDigits(number: string): string {
  return number.replace(/\D/g, '');
}

function compileRegex(source: string): RegExp | null {
  try {
    return new RegExp(source);
  } catch {
    return null;
  }
}

export interface Route {
  destination: Destination;
  /** Final dial string: `number.replace(regex, endpoint)`, so `$1`… capture groups work. */
  dialString: string;
}

/** All destinations that could carry this number, in the order they should be tried (§2.5).
 *  `random` resources are shuffled with the given random source (the workflow's deterministic one). */
export function routesFor(number: string, resources: Resource[], random: () => number = Math.random): Route[] {
  const digits = dialDigits(number);
  const routes: Route[] = [];
  for (const res of resources) {
    if (res.disabled) continue;
    const re = compileRegex(res.dialedNumber);
    if (!re || !re.test(digits)) continue;
    const dests = res.destinations.filter((d) => d.enabled && d.limit > 0);
    if (res.strategy === 'random') shuffle(dests, random);
    for (const d of dests) {
      routes.push({ destination: d, dialString: digits.replace(re, destinationEndpoint(d)) });
    }
  }
  return routes;
}

/** A destination's endpoint pattern (§3.4): a Webitel gateway by name, else the dial string as is. */
export function destinationEndpoint(d: { gwProto?: string; gwName?: string; dialString: string }): string {
  return d.gwProto === 'sip' && d.gwName ? `sofia/gateway/${d.gwName}/${d.dialString}` : d.dialString;
}

function shuffle<T>(a: T[], random: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
}

/** §2.5: sum of the line limits of all enabled destinations of enabled resources. */
export function maxResources(resources: Resource[]): number {
  let n = 0;
  for (const r of resources) if (!r.disabled) for (const d of r.destinations) if (d.enabled) n += d.limit;
  return n;
}

export interface NumberChoice {
  index: number;
  window: OpenWindow | null;
}

interface Candidate extends NumberChoice {
  isTypeFound: number;
  rangePriority: number;
  comm: Communication;
}

/** §5.5 candidate numbers at `now`, best first. Unroutable numbers are never candidates. */
export function candidateNumbers(member: MemberState, camp: CampaignRules, now: number): Candidate[] {
  const lt = localTime(now, inMemberZone(camp, member).calendar.timeZone);
  const out: Candidate[] = [];
  member.communications.forEach((comm, index) => {
    if (comm.state !== NUMBER_IDLE) return;
    if (routesFor(comm.number, camp.resources).length === 0) return;
    const type = comm.type ? camp.communicationTypes.find((t) => t.code === comm.type) : undefined;
    if (!type) {
      out.push({ index, window: null, isTypeFound: 0, rangePriority: -1, comm });
      return;
    }
    const window = openWindow(type, lt);
    if (!window) return; // configured type, no open window now
    if (comm.rangeId === window.id && comm.rangeAttempts >= window.range.attempts) return;
    out.push({ index, window, isTypeFound: 1, rangePriority: window.range.priority || 0, comm });
  });
  const byPriority = (a: Candidate, b: Candidate) =>
    b.isTypeFound - a.isTypeFound ||
    b.rangePriority - a.rangePriority ||
    a.comm.lastCall - b.comm.lastCall ||
    b.comm.priority - a.comm.priority ||
    a.comm.probe - b.comm.probe;
  const topDown = (a: Candidate, b: Candidate) =>
    b.isTypeFound - a.isTypeFound ||
    a.comm.lastCall - b.comm.lastCall ||
    b.rangePriority - a.rangePriority ||
    b.comm.priority - a.comm.priority ||
    a.comm.probe - b.comm.probe;
  return out.sort(camp.numberStrategy === 'top-down' ? topDown : byPriority);
}

export function chooseNumber(member: MemberState, camp: CampaignRules, now: number): NumberChoice | null {
  const best = candidateNumbers(member, camp, now)[0];
  return best ? { index: best.index, window: best.window } : null;
}

/** Caller ID (§2.5): member variable, else a random one of the destination's list, else its single number. */
export function callerIdFor(member: MemberState, dest: Destination, random: () => number = Math.random): string {
  const own = member.variables.outbound_caller_id_number;
  if (own) return own;
  if (dest.callerIdNumbers.length > 0) return dest.callerIdNumbers[Math.floor(random() * dest.callerIdNumbers.length)];
  return dest.callerIdNumber;
}

export interface AttemptVarsInput {
  camp: CampaignRules;
  member: MemberState;
  memberId: string;
  workflowId: string;
  attempt: number;
  uuid: string;
  comm: Communication;
  callerId: string;
  typeName?: string;
}

/** The attempt's channel variables (§2.2, §5.9). Dialer variables come first, member variables after
 *  them (later wins), and the engine's own variables last so a member cannot spoof them. Tenant
 *  names FreeSWITCH acts on are dropped before sending (channel-vars.ts channelVariablesToSend, in
 *  placeCall, where the operator's allow list is known). Values are sanitised as v3 does (quotes,
 *  CR, LF, TAB, backslash stripped) by esl/format buildOriginate. */
export function attemptVariables(i: AttemptVarsInput): Record<string, string> {
  const vars: Record<string, string> = {};
  // §2.2: with dialer variables cc_multiple_anonymous=N and cc_anonymous_name, every attempt whose
  // number is divisible by N uses the anonymous caller-ID name.
  const every = Number(i.camp.variables.cc_multiple_anonymous);
  const anonymous = i.camp.variables.cc_anonymous_name;
  const callerName = anonymous && every > 0 && i.attempt % every === 0 ? anonymous : i.camp.name;
  for (const [k, v] of Object.entries(i.camp.variables)) vars[k] = String(v);
  for (const [k, v] of Object.entries(i.member.variables)) vars[k] = String(v);
  Object.assign(vars, {
    domain_name: String(i.camp.domain),
    presence_data: String(i.camp.domain),
    cc_queue: String(i.camp.name),
    dlr_queue: i.camp.id,
    dlr_member_id: i.memberId,
    dlr_current_attempt: String(i.attempt),
    cc_member_attempt_count: String(i.attempt),
    cc_member_successful_count: String(i.member.successfulCount),
    dlr_session_id: i.uuid,
    dlr_workflow_id: i.workflowId,
    dlr_member_number_description: String(i.comm.description ?? ''),
    dlr_communication_type_code: String(i.comm.type ?? ''),
    dlr_communication_type_name: String(i.typeName ?? ''),
    origination_caller_id_number: String(i.callerId),
    origination_caller_id_name: String(callerName),
    origination_callee_id_number: dialDigits(i.comm.number),
    origination_callee_id_name: String(i.member.name),
    webitel_direction: 'dialer',
    cc_side: 'member',
  });
  return vars;
}
