// The member lifecycle rules of spec §5.6, §6.2–§6.6 and §8.5 as pure functions over MemberState.
// Each returns a new state and a decision; the member workflow only sleeps, dials and persists.
import { boundaries, calendarState, inMemberZone, localTime, openWindow } from './clock';
import { classifyCause, END, type CauseCategory } from './causes';
import { candidateNumbers, type NumberChoice } from './numbers';
import type { CallOutcome, CampaignRules, Communication, MemberState } from './types';
import { NUMBER_END, NUMBER_IDLE } from './types';

export type Decision =
  | { kind: 'end'; cause: string; success: boolean }
  | { kind: 'retry'; at: number }
  | { kind: 'await-status'; deadline: number };

export interface Applied {
  member: MemberState;
  decision: Decision;
  /** Human-readable trace lines for the attempt log (`_log[].steps`). */
  steps: string[];
}

const clone = (m: MemberState): MemberState => JSON.parse(JSON.stringify(m)) as MemberState;

export function idleNumbers(m: MemberState): number {
  return m.communications.filter((c) => c.state === NUMBER_IDLE).length;
}

/** Ends the member: every number → End (§5.3 "Finished"). */
function endMember(m: MemberState, cause: string, success: boolean): Decision {
  m.endCause = cause;
  if (success) m.callSuccessful = true;
  for (const c of m.communications) c.state = NUMBER_END;
  return { kind: 'end', cause, success };
}

function sameTypeNumbers(m: MemberState, comm: Communication): Communication[] {
  return comm.type ? m.communications.filter((c) => c !== comm && c.type === comm.type) : [];
}

// ---------------------------------------------------------------------------------------------
// Before an attempt

export type NextAction =
  | { kind: 'dial'; choice: NumberChoice }
  | { kind: 'wait'; until: number | null; reason: string }
  | { kind: 'end'; cause: string };

/** What the member should do at `now`: dial a number, wait (until a time, or for an outside event
 *  when `until` is null), or end. Covers expiry (§5.6), one-day task (§8.5), retry time, calendar and
 *  communication windows (§3.2, §5.5). */
export function nextAction(m: MemberState, campaign: CampaignRules, now: number): NextAction {
  const camp = inMemberZone(campaign, m);
  if (m.endCause) return { kind: 'end', cause: m.endCause };
  if (m.expire && now >= m.expire) return { kind: 'end', cause: END.MEMBER_EXPIRED };
  if (idleNumbers(m) === 0) return { kind: 'end', cause: END.NO_COMMUNICATIONS };
  if (camp.oneDayTask && !hasWorkToday(m, camp, now)) return { kind: 'end', cause: END.MEMBER_EXPIRED };
  const dialable = (t: number) =>
    (m.nextTryTime === null || m.nextTryTime <= t) &&
    calendarState(camp.calendar, t) === 'working' &&
    candidateNumbers(m, camp, t).length > 0;
  if (dialable(now)) {
    const best = candidateNumbers(m, camp, now)[0];
    return { kind: 'dial', choice: { index: best.index, window: best.window } };
  }
  if (candidateNumbersIgnoringTime(m, camp) === 0) {
    // Idle numbers exist but no resource routes any of them: v3 silently never dials such a member.
    return { kind: 'end', cause: END.NO_ROUTE };
  }
  const cal = calendarState(camp.calendar, now);
  if (cal === 'expired') return { kind: 'wait', until: null, reason: 'calendar expired' };
  // Scan forward over the instants where something can open (retry time, calendar, windows).
  const from = Math.max(now, m.nextTryTime ?? now);
  const startDate = camp.calendar.startDate && camp.calendar.startDate > from ? [camp.calendar.startDate] : [];
  const candidates = [from, ...startDate, ...boundaries(camp, from, 370)].sort((a, b) => a - b);
  // One-day task: also wake when today's work runs out, so the member expires then (§8.5)
  // instead of sleeping into the next day and being dialled again.
  const noWorkLeft = (t: number) => camp.oneDayTask && !hasWorkToday(m, camp, t);
  let until = candidates.find((t) => dialable(t) || noWorkLeft(t)) ?? null;
  if (until !== null && m.expire && until >= m.expire) until = m.expire;
  const reason = m.nextTryTime !== null && m.nextTryTime > now ? 'retry wait' : 'outside dialing window';
  return { kind: 'wait', until: until ?? m.expire ?? null, reason };
}

function candidateNumbersIgnoringTime(m: MemberState, camp: CampaignRules): number {
  const openAll: CampaignRules = {
    ...camp,
    communicationTypes: camp.communicationTypes.map((t) => ({
      ...t,
      ranges: [{ startTime: 0, endTime: 1440, attempts: 1, priority: 0 }],
    })),
  };
  const fresh = clone(m);
  for (const c of fresh.communications) c.rangeId = null;
  return candidateNumbers(fresh, openAll, 0).length;
}

/** §8.5: an idle number of a configured type has work left today unless its type's last window of
 *  the day has ended or it used up its attempts in that window (a rangeId from an earlier day counts
 *  as used up while that window is open); an untyped/unknown-type number always has, whatever its state. */
export function hasWorkToday(m: MemberState, campaign: CampaignRules, now: number): boolean {
  const camp = inMemberZone(campaign, m);
  const lt = localTime(now, camp.calendar.timeZone);
  return m.communications.some((c) => {
    const type = c.type ? camp.communicationTypes.find((t) => t.code === c.type) : undefined;
    if (!type) return true;
    if (c.state !== NUMBER_IDLE) return false;
    const ranges = type.ranges.filter((r) => r.attempts > 0);
    if (ranges.length === 0) return false;
    const last = ranges.reduce((a, b) => (b.endTime > a.endTime ? b : a));
    if (lt.minuteOfDay >= last.endTime) return false;
    const open = openWindow(type, lt);
    if (open && open.range === last) {
      if (c.rangeId === open.id && c.rangeAttempts >= last.attempts) return false;
      const usedOn = /^\d{4}-\d{2}-\d{2}_/.test(c.rangeId ?? '') ? c.rangeId!.slice(0, 10) : null;
      if (usedOn !== null && usedOn < lt.day) return false;
    }
    return true;
  });
}

/** §5.4: counts the attempt (member and number) and the window budget, before the call is placed. */
export function reserveAttempt(m0: MemberState, camp: CampaignRules, choice: NumberChoice): MemberState {
  const m = clone(m0);
  const comm = m.communications[choice.index];
  m.probeCount += 1;
  comm.probe += 1;
  if (choice.window) {
    comm.rangeAttempts = comm.rangeId === choice.window.id ? comm.rangeAttempts + 1 : 1;
    comm.rangeId = choice.window.id;
    // Unless retriesByNumber, the window budget is shared by all numbers of the type (§5.5).
    if (!camp.retriesByNumber) {
      for (const other of sameTypeNumbers(m, comm)) {
        other.rangeId = comm.rangeId;
        other.rangeAttempts = comm.rangeAttempts;
      }
    }
  }
  return m;
}

function refund(m: MemberState, camp: CampaignRules, comm: Communication): void {
  m.probeCount = Math.max(0, m.probeCount - 1);
  comm.probe = Math.max(0, comm.probe - 1);
  if (comm.rangeId) {
    comm.rangeAttempts = Math.max(0, comm.rangeAttempts - 1);
    if (!camp.retriesByNumber) for (const o of sameTypeNumbers(m, comm)) o.rangeAttempts = comm.rangeAttempts;
  }
}

// ---------------------------------------------------------------------------------------------
// After an attempt

export interface AttemptInfo {
  numberIndex: number;
  /** The attempt number (`currentProbe`): the probe count right after reservation. */
  attempt: number;
  /** Idle numbers when the attempt started (step 7 "was it the last idle number"). */
  idleAtStart: number;
  /** Operator terminate (§9.4). */
  terminated?: boolean;
}

/** §2.3: a member whose agent leg failed is tried again this soon. */
export const AGENT_FAILED_RETRY_MS = 1000;

/** G2 `Member.end` (§6.2 steps 1–8) on a reserved member. */
export function applyOutcome(
  m0: MemberState,
  camp: CampaignRules,
  attempt: AttemptInfo,
  outcome: CallOutcome,
  now: number,
): Applied {
  const m = clone(m0);
  const comm = m.communications[attempt.numberIndex];
  const steps: string[] = [];
  const retryAt = now + camp.intervalTryCount * 1000;
  const retry = (): Decision => {
    m.nextTryTime = Math.max(m.nextTryTime ?? 0, retryAt);
    return { kind: 'retry', at: m.nextTryTime };
  };
  m.lastNumberIndex = attempt.numberIndex;
  m.lastMinusProbe = false;
  m.lastCall = now;
  comm.lastCall = now;

  const decide = (): Decision => {
    // 1. Operator terminate.
    if (attempt.terminated) {
      steps.push('Terminated by manager');
      return endMember(m, END.MANAGER_REQUEST, false);
    }
    // 2. The campaign's menu: a digit with a configured effect decides like a status (§6.5).
    if (outcome.menu && outcome.answered && (outcome.menu.success || outcome.menu.next_after_sec !== undefined)) {
      if (outcome.menu.success) {
        m.successfulCount += 1;
        steps.push(`Menu digit ${outcome.menuDigit}: success`);
        return endMember(m, outcome.cause, true);
      }
      if (attempt.attempt >= camp.maxTryCount) {
        steps.push(`Menu digit ${outcome.menuDigit}: max try count`);
        return endMember(m, END.MAX_TRY_COUNT, false);
      }
      m.nextTryTime = now + (outcome.menu.next_after_sec ?? 0) * 1000;
      steps.push(`Menu digit ${outcome.menuDigit}: next try in ${outcome.menu.next_after_sec}s`);
      return { kind: 'retry', at: m.nextTryTime };
    }
    // 2. Predictive: answered, never bridged to an agent (§6.2 step 2).
    if (outcome.abandoned) {
      steps.push(`Abandoned: ${outcome.cause}, no agent connected`);
      if (!camp.predictive?.retryAbandoned) {
        comm.state = NUMBER_END;
        return endMember(m, END.ABANDONED, false);
      }
      if (attempt.attempt >= camp.maxTryCount) {
        steps.push('max try count');
        return endMember(m, END.MAX_TRY_COUNT, false);
      }
      return retry();
    }
    // 3. Waiting for a result status after a bridged call: the status (or its timeout) decides.
    if (camp.waitingForResultStatus && outcome.cause !== END.MEMBER_EXPIRED && outcome.bridged) {
      m.nextTryTime = Math.max(m.nextTryTime ?? 0, retryAt);
      comm.checkResult = true;
      steps.push(`Waiting for result status: ${outcome.cause}`);
      return { kind: 'await-status', deadline: now + camp.wrapUpTime * 1000 };
    }
    let category: CauseCategory;
    if (outcome.agentFailed) {
      // §2.3: the agent's phone failed before the member was called: the attempt is refunded and
      // the member tried again in 1 s (with another agent, or this one after its delay).
      refund(m, camp, comm);
      m.lastMinusProbe = true;
      m.lastCall = 0;
      comm.lastCall = 0;
      m.nextTryTime = now + AGENT_FAILED_RETRY_MS;
      steps.push(`Agent failed: ${outcome.agentFailed}; attempt refunded, next try in 1 s`);
      return { kind: 'retry', at: m.nextTryTime };
    }
    if (outcome.notSent) {
      // Never sent: the same command would fail the same way on every retry.
      steps.push(`Not sent: ${outcome.notSent}`);
      category = 'error';
    } else if (outcome.lost && outcome.answered) {
      // Somebody answered before the call vanished unreported: never ring them again for a result
      // we lost. Its talk time is unknown, so minBillSec cannot be checked.
      steps.push('Answered, then lost without a result: not dialled again (talk time unknown)');
      const success = outcome.bridged || camp.type === 'Voice Broadcasting';
      if (success) m.successfulCount += 1;
      return endMember(m, outcome.cause, success);
    } else if (outcome.lost) {
      // The call vanished unreported: retried without counting, a bounded number of times.
      const used = m.lostRedials ?? 0;
      if (used < camp.lostCallRedials) {
        refund(m, camp, comm);
        m.lostRedials = used + 1;
        m.lastMinusProbe = true;
        steps.push(`Lost call, not counted (${used + 1}/${camp.lostCallRedials})`);
        return retry();
      }
      steps.push(`Lost call, counted (${camp.lostCallRedials}/${camp.lostCallRedials} uncounted redials used)`);
      category = 'retry';
    } else {
      category = classifyCause(outcome.cause, camp);
    }
    // 4. Minus: the attempt does not count.
    if (category === 'minus') {
      refund(m, camp, comm);
      m.lastMinusProbe = true;
      m.lastCall = 0;
      comm.lastCall = 0;
      steps.push(`Minus probe: ${outcome.cause}`);
      return retry();
    }
    // 5. OK: success if long enough (and cc_min_count reached).
    let okFailed = false;
    if (category === 'ok' && (outcome.bridged || camp.type === 'Voice Broadcasting')) {
      if (outcome.talkSec >= camp.minBillSec) {
        m.successfulCount += 1;
        if (!(outcome.minCount && outcome.minCount > 0 && m.successfulCount < outcome.minCount)) {
          steps.push(`Success: ${outcome.cause}, talk ${outcome.talkSec}s`);
          return endMember(m, outcome.cause, true);
        }
        steps.push(`cc_min_count not reached (${m.successfulCount}/${outcome.minCount})`);
      } else {
        steps.push(`Too short: talk ${outcome.talkSec}s < minBillSec ${camp.minBillSec}`);
      }
      okFailed = true;
    }
    // 6. Retry (and unsuccessful OK).
    if (category === 'retry' || okFailed) {
      if (attempt.attempt >= camp.maxTryCount) {
        steps.push('max try count');
        return endMember(m, END.MAX_TRY_COUNT, false);
      }
      steps.push(`Retry: ${outcome.cause}`);
      return retry();
    }
    // 7. Error: retire the number; end the member only if it was its last idle number.
    let errorEnd: string | null = null;
    if (category === 'error') {
      comm.state = NUMBER_END;
      steps.push(`Error: ${outcome.cause}, number ${comm.number} retired`);
      if (attempt.idleAtStart <= 1) errorEnd = outcome.cause;
    } else {
      steps.push(`Unknown cause ${outcome.cause}: handled as retry`);
    }
    // 8. Error or unlisted cause: the attempt limit still applies and overrides step 7.
    if (attempt.attempt >= camp.maxTryCount) {
      steps.push('max try count');
      return endMember(m, END.MAX_TRY_COUNT, false);
    }
    if (errorEnd) return endMember(m, errorEnd, false);
    return retry();
  };

  let decision = decide();
  // v3 could leave a member with every number ended but no end cause (§12 item 2): never do that.
  if (decision.kind === 'retry' && idleNumbers(m) === 0) decision = endMember(m, END.NO_COMMUNICATIONS, false);
  return { member: m, decision, steps };
}

// ---------------------------------------------------------------------------------------------
// Result status (§6.5, §6.6)

export interface StatusBody {
  success?: boolean;
  next_after_sec?: number;
  stop_communications?: string[] | string;
  reset_retries?: boolean;
  next_communication?: string;
  comment?: string;
  description?: string;
}

/** §6.5 in its order: success → next_after_sec → stop_communications → reset_retries/max check →
 *  NO_COMMUNICATIONS → next_communication. */
export function applyStatus(m0: MemberState, camp: CampaignRules, body: StatusBody, now: number): Applied {
  const m = clone(m0);
  const steps: string[] = [];
  for (const c of m.communications) c.checkResult = false;
  if (body.success === true) {
    m.nextTryTime = null;
    steps.push('Status: success');
    return { member: m, decision: endMember(m, END.NORMAL_CLEARING, true), steps };
  }
  const after = typeof body.next_after_sec === 'number' && body.next_after_sec >= 0 ? body.next_after_sec : camp.intervalTryCount;
  m.nextTryTime = now + after * 1000;
  steps.push(`Status: next try in ${after}s`);

  const stop = body.stop_communications;
  if (stop !== undefined) {
    const all = stop === 'all';
    const list = Array.isArray(stop) ? stop : [stop];
    for (const c of m.communications) {
      if (all || list.includes(c.number)) {
        c.state = NUMBER_END;
        c.stopCommunication = true;
      }
    }
    steps.push(`Status: stop ${all ? 'all numbers' : list.join(', ')}`);
  }
  let decision: Decision = { kind: 'retry', at: m.nextTryTime };
  if (body.reset_retries === true) {
    m.probeCount = 0;
    m.endCause = null;
    for (const c of m.communications) c.probe = 0;
    steps.push('Status: retries reset');
  } else if (m.probeCount >= camp.maxTryCount) {
    decision = endMember(m, END.MAX_TRY_COUNT, false);
  }
  if (!m.endCause && idleNumbers(m) === 0) decision = endMember(m, END.NO_COMMUNICATIONS, false);
  if (body.next_communication) {
    // v3 appends even a number the member already has (§12 item 10); we revive the existing one instead.
    const existing = m.communications.find((c) => c.number === body.next_communication);
    if (existing) {
      Object.assign(existing, { state: NUMBER_IDLE, priority: 100, stopCommunication: false });
    } else {
      m.communications.push({
        number: body.next_communication, priority: 100, state: NUMBER_IDLE, probe: 0, lastCall: 0, rangeAttempts: 0,
      });
    }
    m.endCause = null;
    m.callSuccessful = false;
    decision = { kind: 'retry', at: m.nextTryTime };
    steps.push(`Status: next communication ${body.next_communication}`);
  }
  return { member: m, decision, steps };
}

/** §6.6: no status within wrapUpTime. 'refund' (v3 default) does not count the attempt; 'keep' may end
 *  the member with MAX_TRY_COUNT. The member is next callable at its retry time. */
export function applyStatusTimeout(m0: MemberState, camp: CampaignRules, numberIndex: number): Applied {
  const m = clone(m0);
  const comm = m.communications[numberIndex];
  for (const c of m.communications) c.checkResult = false;
  if (camp.statusTimeoutMode === 'refund') {
    refund(m, camp, comm);
    comm.lastCall = -1;
    return {
      member: m,
      decision: { kind: 'retry', at: m.nextTryTime ?? 0 },
      steps: ['No response result status, minus attempts'],
    };
  }
  if (m.probeCount >= camp.maxTryCount) {
    return { member: m, decision: endMember(m, END.MAX_TRY_COUNT, false), steps: ['No response result status, save attempts'] };
  }
  return { member: m, decision: { kind: 'retry', at: m.nextTryTime ?? 0 }, steps: ['No response result status, save attempts'] };
}

/** Ends the member before any call with a cause nextAction found (expiry, nothing left to dial). */
export function endWithoutCall(m0: MemberState, cause: string): Applied {
  const m = clone(m0);
  return { member: m, decision: endMember(m, cause, false), steps: [cause] };
}

/** §9.4 on a member that is not in a call. v3 set callSuccessful=true here (§12 item 9); we do not. */
export function terminateIdle(m0: MemberState): Applied {
  const m = clone(m0);
  return { member: m, decision: endMember(m, END.MANAGER_REQUEST, false), steps: ['Terminated by manager'] };
}

export interface ClientPatch {
  name?: string;
  timezone?: string | null;
  priority?: number;
  expire?: number | null;
  variables?: Record<string, string>;
  communications?: { number: string; priority?: number; type?: string | null; description?: string | null }[];
}

/** §5.2: a member update from the API replaces client-owned fields; numbers that already exist
 *  (matched by `number`) keep their engine-owned fields (state, attempts, window counters, stop flag). */
export function mergeClientPatch(m0: MemberState, patch: ClientPatch): MemberState {
  const m = clone(m0);
  if (patch.name !== undefined) m.name = patch.name;
  if (patch.timezone !== undefined) m.timezone = patch.timezone;
  if (patch.priority !== undefined) m.priority = patch.priority;
  if (patch.expire !== undefined) m.expire = patch.expire;
  if (patch.variables !== undefined) m.variables = { ...patch.variables };
  if (patch.communications !== undefined) {
    m.communications = patch.communications.map((c) => {
      const old = m.communications.find((o) => o.number === c.number);
      return {
        number: c.number,
        priority: c.priority ?? 0,
        type: c.type ?? null,
        description: c.description ?? null,
        state: old?.state ?? NUMBER_IDLE,
        probe: old?.probe ?? 0,
        lastCall: old?.lastCall ?? 0,
        rangeId: old?.rangeId ?? null,
        rangeAttempts: old?.rangeAttempts ?? 0,
        stopCommunication: old?.stopCommunication ?? false,
        checkResult: old?.checkResult ?? false,
      };
    });
  }
  return m;
}

/**
 * §6.5 with G2's acceptance from the reservation on: a status that arrived while the call was still
 * up is applied when the attempt ends, if the attempt ends waiting for one (a bridged call of a
 * campaign with waitingForResultStatus): it decides at once, with no wrap-up wait. An attempt that
 * ends awaiting no status (not answered, Minus, terminated, never sent) is decided by its hangup
 * cause alone and the early status is only recorded: it cannot be about a conversation that did
 * not happen. `status: null` returns the outcome unchanged.
 */
export function settleAttempt(
  outcome: Applied,
  camp: CampaignRules,
  status: StatusBody | null,
  now: number,
): Applied & { statusApplied: boolean } {
  if (!status) return { ...outcome, statusApplied: false };
  if (outcome.decision.kind !== 'await-status') {
    return { ...outcome, steps: [...outcome.steps, 'Status received during the call not applied: no status expected for this attempt'], statusApplied: false };
  }
  const applied = applyStatus(outcome.member, camp, status, now);
  return { member: applied.member, decision: applied.decision, steps: [...outcome.steps, 'Status received during the call', ...applied.steps], statusApplied: true };
}

/**
 * §11.1 `successCall` / `errorCall`: every attempt counts in exactly one of them, as the attempt
 * that succeeded or not. An attempt waiting for its result status is counted when the status (or
 * its timeout, or a terminate) decides: null until then.
 */
export function attemptCountsAs(decision: Decision): 'success' | 'error' | null {
  if (decision.kind === 'await-status') return null;
  return decision.kind === 'end' && decision.success ? 'success' : 'error';
}
