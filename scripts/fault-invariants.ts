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
}

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
  const key = (core: string, seq: number) => `${core}:${seq}`;
  for (const e of log) {
    if (e.ev === 'start' || e.ev === 'stop') {
      // A new process (a kill -9 writes no stop) or a crash: what was up in another one vanished.
      for (const [k, c] of open) {
        if (e.ev === 'start' ? c.core !== e.core : c.core === e.core) {
          c.state = 'vanished';
          open.delete(k);
        }
      }
      continue;
    }
    if (e.ev === 'originate') {
      if (e.vars.dlr_queue !== campaignId) continue;
      const c: SwitchCall = {
        core: e.core, seq: e.seq, uuid: e.uuid ?? '?', member: e.vars.dlr_member_id ?? '?', answered: false, state: 'open', cdrAccepted: false,
      };
      calls.push(c);
      open.set(key(e.core, e.seq), c);
      byUuid.set(c.uuid, c);
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
      open.delete(key(e.core, e.seq));
    } else if (e.ev === 'result' && e.result.startsWith('-ERR') && c.state === 'open') {
      c.state = 'failed';
      c.cause = e.result.slice(5).trim();
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
    if ((c.state === 'ended' || c.state === 'failed') && c.cause !== a.result.cause) {
      wrongCause++;
      if (wrongCause <= 5) notes.push(`wrong cause ${a._id}: switch ${c.cause}, stored ${a.result.cause} (${a.result.source})`);
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
    if (c.answered && !talked.has(c.member)) talked.set(c.member, c);
  }
  return { redials, byRule };
}
