// When will a campaign finish its list, and how many contacts will it have made by then (issue 17)?
// Pure: the service (services/forecast.ts) reads the stored counters and a bounded sample of the
// members in progress; this module plays the rest of the campaign forward.
//
// The model. Each attempt, independently of the member, ends its member with a contact (rate
// `contacts / attempts`), ends it without one (an error cause on its last number, expiry: rate
// `failedEnds / attempts`), or leaves it for a retry `intervalTryCount` s after the call, until
// `maxTryCount` attempts. Calls take the measured line time per attempt, at most `lines` at once,
// and only while the campaign's calendar is open. Members are a fluid: fractions of a member flow
// through the attempts, and the list is done when less than half a member is left (so a retry
// cohort keeps the campaign going while it still holds about one member: the tail of retry waits).
// Not modelled: communication-type windows, members' own time zones, expiry dates, agents.
import type { CalendarRule } from './types';
import { calendarState, dailyInstants } from './clock';

/** Members in progress with the same attempts made and next due time. */
export interface DialledGroup {
  count: number;
  attemptsMade: number;
  /** When they may be dialled again (epoch ms; ≤ now = due). */
  dueAt: number;
}

export interface ForecastInput {
  now: number;
  /** False: the campaign is stopped; the forecast says what would happen if it started now. */
  running: boolean;
  maxTryCount: number;
  /** Seconds between an attempt's end and the member's next try. */
  intervalTryCount: number;
  calendar: CalendarRule;
  /** Calls at once: min(limit, the destinations' lines). */
  lines: number;
  /** Members never dialled. */
  fresh: number;
  /** Members dialled and not ended (waiting for a retry, or in a call). */
  dialled: DialledGroup[];
  /** The campaign's counters (stats): attempts ended, attempts that made a contact (ended the
   *  member successfully), answered attempts, members ended without a contact before their last
   *  attempt, and seconds the attempts held a line (grant to release). */
  stats: { attempts: number; contacts: number; answered: number; failedEnds: number; lineSec: number };
}

export interface ForecastInputsUsed {
  answerRate: number | null;
  contactRate: number | null;
  /** Share of attempts that end the member without a contact before its last attempt. */
  failRate: number | null;
  /** Expected attempts still to make, over every member waiting. */
  attemptsLeft: number;
  membersWaiting: number;
  membersFresh: number;
  membersDialled: number;
  lines: number;
  lineSecPerAttempt: number | null;
  maxTryCount: number;
  retryWaitSec: number;
  /** Hours the calendar is open in the 7 days from now. */
  calendarOpenHoursPerWeek: number;
  /** Hours the calendar is open between now and the forecast finish. */
  calendarOpenHoursUntilFinish: number | null;
  /** The list done as if the campaign ran now: the finish of a stopped campaign started now. */
  ifStartedNowSec: number | null;
  contactsSoFar: number;
  expectedContactsLeft: number;
}

export interface FinishForecast {
  finishAt: number | null;
  remainingSec: number | null;
  /** Contacts made so far plus those expected until the list is done. */
  expectedContacts: number;
  /** Why finishAt is null. */
  reason?: string;
  inputs: ForecastInputsUsed;
}

/** Fewer ended attempts than this: the rates are not known yet. */
export const MIN_ATTEMPTS = 5;
/** Seconds a line is idle per attempt beyond `stats.lineSec` (grant to release): the campaign's next claim. */
export const ATTEMPT_OVERHEAD_SEC = 0.5;
/** Forecasts past this are not given. */
const HORIZON_MS = 366 * 86_400_000;
/** Less than this much of a member left: the list is done. */
const DONE_BELOW = 0.5;

/** Expected attempts a member with `made` attempts still makes: Σ_{j < maxTry-made} q^j. */
export function attemptsLeftFor(made: number, maxTryCount: number, q: number): number {
  const n = Math.max(1, maxTryCount - made);
  return q >= 1 ? n : (1 - q ** n) / (1 - q);
}

/** Instants after `from` at which the calendar may change state (opening, closing, midnight,
 *  start/end date), over `days` days, sorted. Accept ranges include their end minute. */
function calendarEdges(cal: CalendarRule, from: number, days: number): number[] {
  const minutes = new Set<number>([0]);
  for (const a of cal.accept) {
    minutes.add(a.startTime);
    if (a.endTime + 1 < 1440) minutes.add(a.endTime + 1);
  }
  const out = dailyInstants(minutes, cal.timeZone, from, days);
  for (const d of [cal.startDate, cal.endDate == null ? null : cal.endDate + 1]) if (d != null && d > from) out.push(d);
  return out.sort((a, b) => a - b);
}

export interface OpenPeriod {
  open: number;
  close: number;
}

/** The calendar's open periods from `from` on, in order, within a year (the first may start at
 *  `from`): each edge is looked at once, so a forecast over months stays cheap. */
export function* openPeriods(cal: CalendarRule, from: number, to = from + HORIZON_MS): Generator<OpenPeriod> {
  const open = (t: number) => calendarState(cal, t) === 'working';
  if (alwaysOpen(cal) && (!cal.startDate || cal.startDate <= from)) {
    if (cal.endDate == null || cal.endDate >= from) yield { open: from, close: cal.endDate == null ? Infinity : cal.endDate + 1 };
    return;
  }
  const until = Math.min(to, from + HORIZON_MS);
  let openedAt: number | null = open(from) ? from : null;
  for (let chunk = from; chunk < until; chunk += 7 * 86_400_000) {
    const end = chunk + 7 * 86_400_000;
    for (const t of calendarEdges(cal, chunk, 8)) {
      if (t > end) break;
      const o = open(t);
      if (o && openedAt === null) openedAt = t;
      else if (!o && openedAt !== null) {
        yield { open: openedAt, close: t };
        openedAt = null;
      }
    }
  }
  if (openedAt !== null) yield { open: openedAt, close: Infinity };
}

/** Every day, all day, no holidays (the default calendar): nothing to scan. */
function alwaysOpen(cal: CalendarRule): boolean {
  return cal.except.length === 0 && [1, 2, 3, 4, 5, 6, 7].every((d) => cal.accept.some((a) => a.weekDay === d && a.startTime === 0 && a.endTime >= 1439));
}

/** Open hours of the calendar in [from, to). */
export function openHours(cal: CalendarRule, from: number, to: number): number {
  let ms = 0;
  for (const p of openPeriods(cal, from, to)) {
    if (p.open >= to) break;
    ms += Math.min(p.close, to) - p.open;
  }
  return ms / 3_600_000;
}

interface Cohort {
  n: number;
  made: number;
  due: number;
}

/** The campaign played forward from `now`: when less than half a member is left, and contacts made. */
function simulate(i: ForecastInput, p: { contact: number; fail: number; lineSec: number }, workSec: number): { end: number | null; contacts: number; why?: string } {
  const cal = i.calendar;
  const retryMs = i.intervalTryCount * 1000;
  const lineMs = p.lineSec * 1000;
  const rate = i.lines / lineMs; // attempts started per ms while the calendar is open
  // Cohorts closer than `step` merge, which bounds the work to a few thousand steps.
  const step = Math.max(1000, (retryMs + lineMs) / 20, (workSec * 1000) / 2000);
  let cohorts: Cohort[] = [
    ...(i.fresh > 0 ? [{ n: i.fresh, made: 0, due: i.now }] : []),
    ...i.dialled.filter((g) => g.count > 0).map((g) => ({ n: g.count, made: g.attemptsMade, due: Math.max(i.now, g.dueAt) })),
  ];
  let contacts = 0;
  let t = i.now;
  let lastEnd = i.now;
  const periods = openPeriods(cal, i.now);
  let closeAt: number | null = null;
  for (let guard = 0; guard < 200_000; guard++) {
    const left = cohorts.reduce((s, c) => s + c.n, 0);
    if (left < DONE_BELOW) return { end: lastEnd, contacts };
    if (t - i.now > HORIZON_MS) return { end: null, contacts, why: 'the list would take more than a year' };
    if (closeAt === null || t >= closeAt) {
      let p = periods.next();
      while (!p.done && p.value.close <= t) p = periods.next();
      if (p.done) {
        const expired = calendarState(cal, t) === 'expired';
        return { end: null, contacts, why: expired ? 'the calendar ends (endDate) before the list is done' : 'the calendar does not open again within a year' };
      }
      t = Math.max(t, p.value.open);
      closeAt = p.value.close;
    }
    // Once due, only the attempts made tell cohorts apart: merge them.
    const dueBy = new Map<number, Cohort>();
    for (const c of cohorts.filter((x) => x.due <= t)) {
      const m = dueBy.get(c.made);
      if (m) m.n += c.n;
      else dueBy.set(c.made, { ...c, due: t });
    }
    const due = [...dueBy.values()];
    cohorts = [...due, ...cohorts.filter((x) => x.due > t)];
    const dueN = due.reduce((s, c) => s + c.n, 0);
    const next = Math.min(...cohorts.filter((c) => c.due > t).map((c) => c.due));
    if (dueN <= 0) {
      t = next; // nothing due: wait for the next retry (past the close the calendar decides again)
      continue;
    }
    const dt = Math.min(dueN / rate, closeAt - t, Math.max(next - t, step) || step);
    const share = Math.min(1, (rate * dt) / dueN);
    // Attempts start in [t, t+dt] at `rate` (in waves of `lines` when dt is longer than a call): the
    // last ends at t + max(dt, line time), on average a call ends at t + max(line, (dt + line) / 2).
    const endMid = t + Math.max(lineMs, (dt + lineMs) / 2);
    lastEnd = Math.max(lastEnd, t + Math.max(dt, lineMs));
    const out: Cohort[] = [];
    for (const c of due) {
      const x = c.n * share;
      c.n -= x;
      contacts += x * p.contact;
      const again = x * (1 - p.contact - p.fail);
      if (c.made + 1 < i.maxTryCount && again > 0) out.push({ n: again, made: c.made + 1, due: endMid + retryMs });
    }
    cohorts = cohorts.filter((c) => c.n > 1e-9);
    for (const o of out) {
      const same = cohorts.find((c) => c.made === o.made && Math.abs(c.due - o.due) < step && c.due > t);
      if (same) same.n += o.n;
      else cohorts.push(o);
    }
    t += dt;
  }
  return { end: null, contacts, why: 'the forecast did not converge' };
}

export function finishForecast(i: ForecastInput): FinishForecast {
  const s = i.stats;
  const dialled = i.dialled.reduce((n, g) => n + g.count, 0);
  const waiting = i.fresh + dialled;
  const known = s.attempts >= MIN_ATTEMPTS;
  const contact = known ? s.contacts / s.attempts : null;
  const fail = known ? Math.min(1 - contact!, s.failedEnds / s.attempts) : null;
  const q = known ? 1 - contact! - fail! : 1;
  const attemptsLeft = i.fresh * attemptsLeftFor(0, i.maxTryCount, q) +
    i.dialled.reduce((n, g) => n + g.count * attemptsLeftFor(g.attemptsMade, i.maxTryCount, q), 0);
  const lineSec = known ? s.lineSec / s.attempts + ATTEMPT_OVERHEAD_SEC : null;
  const inputs: ForecastInputsUsed = {
    answerRate: known ? s.answered / s.attempts : null,
    contactRate: contact,
    failRate: fail,
    attemptsLeft,
    membersWaiting: waiting,
    membersFresh: i.fresh,
    membersDialled: dialled,
    lines: i.lines,
    lineSecPerAttempt: lineSec,
    maxTryCount: i.maxTryCount,
    retryWaitSec: i.intervalTryCount,
    calendarOpenHoursPerWeek: openHours(i.calendar, i.now, i.now + 7 * 86_400_000),
    calendarOpenHoursUntilFinish: null,
    ifStartedNowSec: null,
    contactsSoFar: s.contacts,
    expectedContactsLeft: 0,
  };
  const none = (reason: string, contactsLeft = 0): FinishForecast => {
    inputs.expectedContactsLeft = contactsLeft;
    return { finishAt: null, remainingSec: null, expectedContacts: s.contacts + contactsLeft, reason, inputs };
  };
  if (waiting < DONE_BELOW) return { finishAt: i.now, remainingSec: 0, expectedContacts: s.contacts, inputs };
  if (!known) return none(`fewer than ${MIN_ATTEMPTS} attempts ended: the answer rate is not known yet`);
  if (i.lines <= 0) return none('the campaign has no lines (limit or destination limits are 0)', attemptsLeft * contact!);
  const sim = simulate(i, { contact: contact!, fail: fail!, lineSec: lineSec! }, (attemptsLeft * lineSec!) / i.lines);
  inputs.expectedContactsLeft = sim.contacts;
  if (sim.end === null) return none(sim.why!, sim.contacts);
  const remainingSec = Math.max(0, (sim.end - i.now) / 1000);
  inputs.calendarOpenHoursUntilFinish = openHours(i.calendar, i.now, sim.end);
  if (!i.running) {
    inputs.ifStartedNowSec = remainingSec;
    return none('the campaign is not running (ifStartedNowSec: the time to finish if it started now)', sim.contacts);
  }
  return { finishAt: sim.end, remainingSec, expectedContacts: s.contacts + sim.contacts, inputs };
}
