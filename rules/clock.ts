// Time in the campaign calendar's zone: working hours (§3.2), communication-type windows (§5.5),
// and "when can this member be dialled next". Pure: `now` is always passed in.
import { DateTime, IANAZone } from 'luxon';
import type { CalendarRule, CampaignRules, CommunicationType, MemberState, TimeRange } from './types';

export interface LocalTime {
  minuteOfDay: number;
  /** ISO weekday 1=Mon..7=Sun. */
  weekday: number;
  /** `YYYY-MM-DD` in the calendar zone. */
  day: string;
}

export function localTime(now: number, zone: string): LocalTime {
  const t = DateTime.fromMillis(now, { zone });
  return { minuteOfDay: t.hour * 60 + t.minute, weekday: t.weekday, day: t.toISODate() ?? '' };
}

/** `except` (§3.2): the day `date` falls on in the calendar's zone; `repeat` = that day and month every year. */
function isHoliday(cal: CalendarRule, now: number): boolean {
  const today = DateTime.fromMillis(now, { zone: cal.timeZone });
  return cal.except.some((e) => {
    const d = DateTime.fromMillis(e.date, { zone: cal.timeZone });
    return d.day === today.day && d.month === today.month && (e.repeat || d.year === today.year);
  });
}

export type CalendarState = 'working' | 'closed' | 'expired' | 'not-started';

/** §3.2: outside [startDate, endDate] → expired/not started; else working iff an accept entry covers now. */
export function calendarState(cal: CalendarRule, now: number): CalendarState {
  if (cal.endDate && now > cal.endDate) return 'expired';
  if (cal.startDate && now < cal.startDate) return 'not-started';
  const lt = localTime(now, cal.timeZone);
  const open = cal.accept.some(
    (a) => a.weekDay === lt.weekday && a.startTime <= lt.minuteOfDay && lt.minuteOfDay <= a.endTime,
  );
  return open && !isHoliday(cal, now) ? 'working' : 'closed';
}

export interface OpenWindow {
  /** Counters reset when this id changes. v3 used `<day-of-month>_<start>_<end>`; we use the full date
   *  so a member untouched for exactly a month does not inherit last month's counter. */
  id: string;
  range: TimeRange;
}

/** §5.5: the first range with startTime ≤ minute < endTime and attempts > 0 is the open window. */
export function openWindow(type: CommunicationType, lt: LocalTime): OpenWindow | null {
  const range = type.ranges.find((r) => r.attempts > 0 && r.startTime <= lt.minuteOfDay && lt.minuteOfDay < r.endTime);
  return range ? { id: `${lt.day}_${range.startTime}_${range.endTime}`, range } : null;
}

/** Instants (epoch ms) over the next `days` days at which something may change: midnights, calendar
 *  starts, window starts and ends. Checking the dial rules at each of these finds the next dialable moment. */
export function boundaries(camp: CampaignRules, from: number, days: number): number[] {
  const zone = camp.calendar.timeZone;
  const minutes = new Set<number>([0]);
  for (const a of camp.calendar.accept) minutes.add(a.startTime);
  for (const t of camp.communicationTypes) {
    for (const r of t.ranges) {
      minutes.add(r.startTime);
      // Window ends matter too: a one-day task runs out of work there (§8.5).
      if (r.endTime < 1440) minutes.add(r.endTime);
    }
  }
  return dailyInstants(minutes, zone, from, days).sort((a, b) => a - b);
}

/** The instants after `from`, over `days` days, at each minute-of-day of `minutes` in `zone`. */
export function dailyInstants(minutes: Iterable<number>, zone: string, from: number, days: number): number[] {
  const start = DateTime.fromMillis(from, { zone }).startOf('day');
  const out: number[] = [];
  for (let d = 0; d <= days; d++) {
    const day = start.plus({ days: d });
    for (const m of minutes) {
      // set() keeps wall-clock time across DST changes, unlike adding minutes to midnight.
      const t = day.set({ hour: Math.floor(m / 60), minute: m % 60 }).toMillis();
      if (t > from) out.push(t);
    }
  }
  return out;
}

/** The next moment (≥ now) a sleeping campaign must look at its calendar again: when it opens, or
 *  when it expires if that comes first (§8.3: the campaign then ends with QUEUE_EXPIRE, not at its
 *  next opening that never comes); null if neither will happen. */
export function calendarOpensAt(camp: CampaignRules, now: number): number | null {
  const { startDate, endDate } = camp.calendar;
  const looksAgain = (t: number) => ['working', 'expired'].includes(calendarState(camp.calendar, t));
  if (looksAgain(now)) return now;
  const start = startDate && startDate > now ? [startDate] : [];
  const expiry = endDate && endDate >= now ? [endDate + 1] : [];
  return [...start, ...expiry, ...boundaries(camp, now, 370)].sort((a, b) => a - b).find(looksAgain) ?? null;
}

/** §8.3: the start of the next day in `zone` after `now` (the calendar's day change), DST included. */
export function nextDayStart(zone: string, now: number): number {
  return DateTime.fromMillis(now, { zone }).startOf('day').plus({ days: 1 }).toMillis();
}

export function isValidZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

/** v3 stored the member's `timezone` but never used it (§13 q4). We do: when it is a valid IANA zone,
 *  the calendar's working hours and the communication-type windows are read in the member's local
 *  time (DST included); otherwise in the calendar's zone. startDate/endDate stay absolute instants;
 *  a holiday stays the same date (the day `date` falls on in the calendar's zone), in local time. */
export function inMemberZone(camp: CampaignRules, m: Pick<MemberState, 'timezone'>): CampaignRules {
  const zone = m.timezone && isValidZone(m.timezone) ? m.timezone : null;
  if (!zone || zone === camp.calendar.timeZone) return camp;
  const except = camp.calendar.except.map((e) => {
    const { year, month, day } = DateTime.fromMillis(e.date, { zone: camp.calendar.timeZone });
    return { ...e, date: DateTime.fromObject({ year, month, day }, { zone }).toMillis() };
  });
  return { ...camp, calendar: { ...camp.calendar, timeZone: zone, except } };
}
