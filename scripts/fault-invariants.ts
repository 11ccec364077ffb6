// The fault suite's checks of the switch's side, as a pure function of the switch's complete call
// log (simulator/call-log.ts) and the stored attempts — so a planted log can prove each check fails.
// Every count it returns that should be 0 is also a violation.
import { DEFAULT_CAUSES } from '../rules/causes';
import type { CallLogEntry } from '../simulator/call-log';

export interface AttemptRow {
  _id: string;
  member: string;
  counted?: boolean;
  /** Counted in successCall or errorCall; null while its result status is awaited. */
  outcome?: 'success' | 'error' | null;
  result: { cause: string; answered: boolean; source: string; billsec?: number } | null;
}

/** The campaign counters (§11.1) a recount of the attempt records gives: every counted attempt in
 *  callCount; connected/bridged if answered (voice broadcasting); each decided attempt in exactly
 *  one of successCall/errorCall (one awaiting its status in neither). */
export function recountStats(attempts: AttemptRow[]): Record<'callCount' | 'connectedCall' | 'bridgedCall' | 'successCall' | 'errorCall', number> {
  const counted = attempts.filter((a) => a.counted);
  return {
    callCount: counted.length,
    connectedCall: counted.filter((a) => a.result?.answered).length,
    bridgedCall: counted.filter((a) => a.result?.answered).length,
    successCall: counted.filter((a) => a.outcome === 'success').length,
    errorCall: counted.filter((a) => a.outcome === 'error').length,
  };
}

/** One originate as the switch saw it. */
export interface SwitchCall {
  core: string;
  seq: number;
  uuid: string;
  member: string;
  answered: boolean;
  /** open: still up at the end of the log; vanished: its process crashed or was killed. */
  state: 'open' | 'ended' | 'failed' | 'vanished';
  cause?: string;
  /** mod_json_cdr delivered its CDR (2xx). */
  cdrAccepted: boolean;
  /** Progressive: the agent rung first (`cc_agent`), its offer, and the member leg its `bridge`
   *  originated once the agent answered. `answered`/`cause` above are then the agent leg's. */
  agent?: string;
  offerId?: string;
  memberLeg?: { answered: boolean; state: SwitchCall['state']; cause?: string };
  /** Log times (ms) of the originate and of the end (hangup, failure, vanishing). */
  from: number;
  to?: number;
}

/** Did the member talk? For a progressive call, its own leg answered (the agent's answer is not the member's). */
const memberAnswered = (c: SwitchCall) => (c.agent ? !!c.memberLeg?.answered : c.answered);
/** The cause the dialer must store: for a progressive call whose member leg failed, the member's
 *  (FreeSWITCH ends the agent leg NORMAL_CLEARING after a member NO_ANSWER). */
const expectedCause = (c: SwitchCall) => (c.memberLeg && !c.memberLeg.answered && c.memberLeg.cause ? c.memberLeg.cause : c.cause);

export interface SwitchCheck {
  violations: string[];
  notes: string[];
  calls: SwitchCall[];
  /** origination_uuids originated more than once. */
  duplicates: number;
  /** Originates of a member after one of its calls was answered and ended with an OK cause or vanished. */
  redialsOfAnswered: number;
  /** LOST_CALL stored for a call the switch ended normally and reported (its CDR was accepted). */
  lost: number;
  /** Calls on the switch with no attempt record. */
  unrecorded: number;
  /** Stored causes the switch did not report. */
  wrongCause: number;
  /** Times the campaign's calls in progress went above the limit, and the highest count. */
  limitBreaches: number;
  peak: number;
}

/** The campaign's calls from a call log, in the order the switch handled them. */
export function callsFromLog(log: CallLogEntry[], campaignId: string): SwitchCall[] {
  const calls: SwitchCall[] = [];
  const open = new Map<string, SwitchCall>(); // `${core}:${seq}`
  const byUuid = new Map<string, SwitchCall>(); // latest call per channel uuid (for cdr entries)
  /** Member legs of progressive calls, by their own `${core}:${seq}`. */
  const legs = new Map<string, NonNullable<SwitchCall['memberLeg']>>();
  const key = (core: string, seq: number) => `${core}:${seq}`;
  for (const e of log) {
    if (e.ev === 'start' || e.ev === 'stop') {
      // A new process (a kill -9 writes no stop) or a crash: what was up in another one vanished.
      for (const [k, c] of open) {
        if (e.ev === 'start' ? c.core !== e.core : c.core === e.core) {
          c.state = 'vanished';
          c.to = e.t;
          open.delete(k);
        }
      }
      for (const [k, l] of legs) {
        if (l.state === 'open' && (e.ev === 'start' ? !k.startsWith(`${e.core}:`) : k.startsWith(`${e.core}:`))) l.state = 'vanished';
      }
      continue;
    }
    if (e.ev === 'originate') {
      if (e.bridgeOf !== undefined) {
        const parent = open.get(key(e.core, e.bridgeOf));
        if (parent) {
          parent.memberLeg = { answered: false, state: 'open' };
          legs.set(key(e.core, e.seq), parent.memberLeg);
        }
        continue;
      }
      if (e.vars.dlr_queue !== campaignId) continue;
      const c: SwitchCall = {
        core: e.core, seq: e.seq, uuid: e.uuid ?? '?', member: e.vars.dlr_member_id ?? '?', answered: false, state: 'open', cdrAccepted: false,
        from: e.t, ...(e.vars.cc_agent ? { agent: e.vars.cc_agent, offerId: e.vars.dlr_offer_id } : {}),
      };
      calls.push(c);
      open.set(key(e.core, e.seq), c);
      byUuid.set(c.uuid, c);
      continue;
    }
    const leg = e.ev !== 'cdr' ? legs.get(key(e.core, e.seq)) : undefined;
    if (leg) {
      if (e.ev === 'answer') leg.answered = true;
      else if (e.ev === 'hangup' && leg.state === 'open') Object.assign(leg, { state: 'ended', cause: e.cause });
      else if (e.ev === 'result' && e.result.startsWith('-ERR') && leg.state === 'open') Object.assign(leg, { state: 'failed', cause: e.result.slice(5).trim() });
      continue;
    }
    if (e.ev === 'cdr') {
      const c = byUuid.get(e.uuid);
      if (c && c.core === e.core && e.accepted) c.cdrAccepted = true;
      continue;
    }
    const c = open.get(key(e.core, e.seq)) ?? calls.find((x) => x.core === e.core && x.seq === e.seq);
    if (!c) continue;
    if (e.ev === 'answer') c.answered = true;
    else if (e.ev === 'hangup') {
      c.state = 'ended';
      c.cause = e.cause;
      c.to ??= e.t;
      open.delete(key(e.core, e.seq));
    } else if (e.ev === 'result' && e.result.startsWith('-ERR') && c.state === 'open') {
      c.state = 'failed';
      c.cause = e.result.slice(5).trim();
      c.to ??= e.t;
      open.delete(key(e.core, e.seq));
    }
  }
  return calls;
}

/** Peak number of the campaign's calls in progress (originate → hangup, failure or vanishing). */
function concurrency(log: CallLogEntry[], calls: SwitchCall[], limit: number): { peak: number; breaches: number } {
  const mine = new Set(calls.map((c) => `${c.core}:${c.seq}`));
  const up = new Set<string>();
  let peak = 0;
  let breaches = 0;
  for (const e of log) {
    if (e.ev === 'start' || e.ev === 'stop') {
      for (const k of up) if (e.ev === 'start' ? !k.startsWith(`${e.core}:`) : k.startsWith(`${e.core}:`)) up.delete(k);
      continue;
    }
    if (!('seq' in e)) continue;
    const k = `${e.core}:${e.seq}`;
    if (!mine.has(k)) continue;
    if (e.ev === 'originate') {
      up.add(k);
      if (up.size > peak) peak = up.size;
      if (up.size === limit + 1) breaches++;
    } else if (e.ev === 'hangup' || (e.ev === 'result' && e.result.startsWith('-ERR'))) {
      up.delete(k);
    }
  }
  return { peak, breaches };
}

export function checkSwitch(log: CallLogEntry[], attempts: AttemptRow[], opts: { campaignId: string; limit: number; okCauses?: readonly string[] }): SwitchCheck {
  const violations: string[] = [];
  const notes: string[] = [];
  const calls = callsFromLog(log, opts.campaignId);
  const perUuid = new Map<string, SwitchCall[]>();
  for (const c of calls) perUuid.set(c.uuid, [...(perUuid.get(c.uuid) ?? []), c]);

  // No second originate for any attempt.
  const dup = [...perUuid.entries()].filter(([, l]) => l.length > 1);
  if (dup.length) {
    violations.push(`${dup.length} attempt(s) originated more than once: ${dup.slice(0, 5).map(([u, l]) => `${u} ×${l.length}`).join(', ')}`);
  }

  // Nobody who talked is rung again: no originate of a member logged after one of its calls was answered.
  const { redials, byRule } = redialsAfterAnswer(calls, opts.okCauses ?? DEFAULT_CAUSES.causesOK);
  if (redials.length) violations.push(`${redials.length} redial(s) of a member whose call was answered: ${redials.slice(0, 5).join(', ')}`);
  if (byRule.length) notes.push(`${byRule.length} retry(ies) after an answered call the switch cut with a non-OK cause (§6.2 step 8): ${byRule.slice(0, 3).join(', ')}`);

  // Every call the switch saw has an attempt record; the stored cause is the switch's; LOST_CALL
  // only for a call the switch did not end and report.
  const byId = new Map(attempts.map((a) => [a._id, a]));
  const unrecorded = calls.filter((c) => !byId.has(c.uuid));
  if (unrecorded.length) violations.push(`${unrecorded.length} call(s) without an attempt record: ${unrecorded.slice(0, 5).map((c) => c.uuid).join(', ')}`);
  let lost = 0;
  let wrongCause = 0;
  let lostUnreported = 0;
  for (const a of attempts) {
    if (!a.result) continue;
    const c = perUuid.get(a._id)?.[0];
    if (!c) continue;
    if (a.result.cause === 'LOST_CALL') {
      if (c.state === 'ended' && c.cdrAccepted) {
        lost++;
        if (lost <= 5) notes.push(`lost ${a._id}: the switch ended it (${c.cause}${c.answered ? ', answered' : ''}) and its CDR was accepted, stored LOST_CALL`);
      } else if (c.state === 'ended' || c.state === 'failed') lostUnreported++;
      continue;
    }
    if ((c.state === 'ended' || c.state === 'failed') && expectedCause(c) !== a.result.cause) {
      wrongCause++;
      if (wrongCause <= 5) notes.push(`wrong cause ${a._id}: switch ${expectedCause(c)}, stored ${a.result.cause} (${a.result.source})`);
    }
  }
  if (lost) violations.push(`${lost} attempt(s) stored LOST_CALL for a call the switch ended normally and reported`);
  if (lostUnreported) notes.push(`${lostUnreported} LOST_CALL(s) for calls that ended while no result could reach the dialer (no CDR accepted)`);
  if (wrongCause) violations.push(`${wrongCause} attempt(s) stored a cause the switch did not report`);

  const { peak, breaches } = concurrency(log, calls, opts.limit);
  if (breaches) violations.push(`limit ${opts.limit} exceeded ${breaches} time(s): peak ${peak} calls in progress`);

  return {
    violations, notes, calls, duplicates: dup.length, redialsOfAnswered: redials.length, lost, unrecorded: unrecorded.length, wrongCause,
    limitBreaches: breaches, peak,
  };
}

/**
 * Originates of a member after one of its calls was answered and ended as a talk: with a cause of
 * the OK list, or without any hangup the dialer could hear of (the switch crashed with it up, or it
 * is still up). An answered call the switch itself cut with another cause (SYSTEM_SHUTDOWN on a
 * graceful restart) is retried by §6.2 step 8 like v3 does; those redials are returned apart.
 */
function redialsAfterAnswer(calls: SwitchCall[], okCauses: readonly string[]): { redials: string[]; byRule: string[] } {
  const redials: string[] = [];
  const byRule: string[] = [];
  const talked = new Map<string, SwitchCall>(); // member → its answered call
  for (const c of calls) {
    const before = talked.get(c.member);
    if (before) {
      const settled = before.state !== 'ended' || okCauses.includes(before.cause ?? '');
      (settled ? redials : byRule).push(`member ${c.member} (call ${c.uuid} after ${before.uuid}${before.cause ? ` ${before.cause}` : ` ${before.state}`})`);
    }
    if (memberAnswered(c) && !talked.has(c.member)) talked.set(c.member, c);
  }
  return { redials, byRule };
}

// ---- Agents (progressive campaigns) ------------------------------------------------------------

/** An agent's stored event (models/agent.ts AgentEvent), as far as the checks need it. */
export interface AgentEventRow {
  agent: string;
  type: string;
  seq: number;
  data: { offerId?: string };
}
/** The agent document at the end of the run. */
export interface AgentRow {
  _id: string;
  status: string;
  state: string;
  offer: { offerId: string } | null;
}

export interface AgentCheck {
  violations: string[];
  /** Agent legs of one agent up at the same time on the switch. */
  doubleRings: number;
  /** `offered` while the agent's previous offer had not ended (its workflow's own record). */
  doubleOffers: number;
  /** Agent legs whose offer the agent's workflow never made (a call the agent was not reserved for). */
  unreserved: number;
  /** Agents still reserved (an offer, or state Reserved / In a queue call) when everything ended. */
  leftReserved: number;
  offers: number;
}

/** The agent invariants of a progressive run: an agent is never rung for two calls at once nor
 *  offered two members at once, is rung only for an offer its workflow made, and none is left
 *  reserved once every member has ended. */
export function checkAgents(calls: SwitchCall[], events: AgentEventRow[], agents: AgentRow[]): AgentCheck {
  const violations: string[] = [];
  const rings: string[] = [];
  const byAgent = new Map<string, SwitchCall[]>();
  for (const c of calls) if (c.agent) byAgent.set(c.agent, [...(byAgent.get(c.agent) ?? []), c]);
  for (const [agent, list] of byAgent) {
    const sorted = [...list].sort((a, b) => a.from - b.from);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      if (prev.to === undefined || sorted[i]!.from < prev.to) rings.push(`${agent} (call ${sorted[i]!.uuid} while ${prev.uuid} was up)`);
    }
  }
  if (rings.length) violations.push(`${rings.length} time(s) an agent was rung for two calls at once: ${rings.slice(0, 5).join(', ')}`);

  const doubles: string[] = [];
  const offered = new Map<string, Set<string>>();
  const openOffer = new Map<string, string>();
  let offers = 0;
  for (const e of [...events].sort((a, b) => a.seq - b.seq)) {
    const id = e.data.offerId;
    if (!id) continue;
    if (e.type === 'offered') {
      offers++;
      const before = openOffer.get(e.agent);
      if (before !== undefined && before !== id) doubles.push(`${e.agent} (offer ${id} while ${before} was open)`);
      openOffer.set(e.agent, id);
      offered.set(e.agent, (offered.get(e.agent) ?? new Set()).add(id));
    } else if (e.type === 'ended' && openOffer.get(e.agent) === id) {
      openOffer.delete(e.agent);
    }
  }
  if (doubles.length) violations.push(`${doubles.length} double offer(s): ${doubles.slice(0, 5).join(', ')}`);

  const unreserved = calls.filter((c) => c.agent && !offered.get(c.agent)?.has(c.offerId ?? ''));
  if (unreserved.length) {
    violations.push(`${unreserved.length} agent call(s) without a reservation of that agent: ${unreserved.slice(0, 5).map((c) => `${c.uuid} → ${c.agent}`).join(', ')}`);
  }

  const left = agents.filter((a) => a.offer || a.state === 'Reserved' || a.state === 'In a queue call');
  if (left.length) violations.push(`${left.length} agent(s) left reserved: ${left.slice(0, 5).map((a) => `${a._id} (${a.state}${a.offer ? `, offer ${a.offer.offerId}` : ''})`).join(', ')}`);
  return { violations, doubleRings: rings.length, doubleOffers: doubles.length, unreserved: unreserved.length, leftReserved: left.length, offers };
}
