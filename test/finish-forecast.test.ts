// The campaign finish forecast (rules/finish-forecast.ts) on hand-computed cases: lines, retry
// waits, calendar closed hours, expected contacts, and the cases it declines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ATTEMPT_OVERHEAD_SEC, attemptsLeftFor, finishForecast, openHours, type ForecastInput } from '../rules/finish-forecast';
import type { CalendarRule } from '../rules';

const ALWAYS: CalendarRule = { timeZone: 'UTC', accept: [1, 2, 3, 4, 5, 6, 7].map((weekDay) => ({ weekDay, startTime: 0, endTime: 1439 })), except: [] };
/** Mon–Fri 09:00–17:00 UTC (the end minute 16:59 is the last open one). */
const OFFICE: CalendarRule = { timeZone: 'UTC', accept: [1, 2, 3, 4, 5].map((weekDay) => ({ weekDay, startTime: 540, endTime: 1019 })), except: [] };
const NOW = Date.UTC(2026, 11, 2, 12, 0, 0); // Wednesday 12:00 UTC

/** Stats of 10 attempts, `lineSec` s per attempt on the line in all (with the overhead). */
const stats = (contactRate: number, lineSec: number, failRate = 0) => ({
  attempts: 10, contacts: 10 * contactRate, answered: 10 * contactRate, failedEnds: 10 * failRate, lineSec: 10 * (lineSec - ATTEMPT_OVERHEAD_SEC),
});
const input = (o: Partial<ForecastInput>): ForecastInput => ({
  now: NOW, running: true, maxTryCount: 3, intervalTryCount: 60, calendar: ALWAYS, lines: 10, fresh: 0, dialled: [], stats: stats(1, 10), ...o,
});
const sec = (f: { finishAt: number | null }) => (f.finishAt! - NOW) / 1000;

test('attemptsLeftFor: Σ q^j over the attempts left', () => {
  assert.equal(attemptsLeftFor(0, 3, 0.5), 1.75);
  assert.equal(attemptsLeftFor(2, 3, 0.5), 1);
  assert.equal(attemptsLeftFor(0, 4, 1), 4);
  assert.equal(attemptsLeftFor(5, 3, 0.2), 1); // past its limit (a reset member): one more
});

test('lines limit: 100 members, every call a contact, 10 s per call: 10 lines take 100 s, 5 lines 200 s', () => {
  const ten = finishForecast(input({ fresh: 100 }));
  assert.equal(sec(ten), 100);
  assert.equal(ten.remainingSec, 100);
  assert.equal(ten.expectedContacts, 10 + 100);
  assert.equal(ten.inputs.attemptsLeft, 100);
  assert.equal(ten.inputs.lineSecPerAttempt, 10);
  assert.equal(sec(finishForecast(input({ fresh: 100, lines: 5 }))), 200);
});

test('retry waits: 10 members never answering, 3 tries 60 s apart, 10 s calls: 10 + 60 + 10 + 60 + 10 = 150 s', () => {
  const f = finishForecast(input({ fresh: 10, stats: stats(0, 10) }));
  assert.equal(sec(f), 150);
  assert.equal(f.expectedContacts, 0);
  assert.equal(f.inputs.attemptsLeft, 30);
  // Members already dialled once, due in 300 s, one try left each: 300 + 10.
  const d = finishForecast(input({ maxTryCount: 2, dialled: [{ count: 10, attemptsMade: 1, dueAt: NOW + 300_000 }], stats: stats(0, 10) }));
  assert.equal(sec(d), 310);
});

test('expected contacts: 100 members, half the attempts a contact, 2 tries: 50 + 25', () => {
  const f = finishForecast(input({ fresh: 100, maxTryCount: 2, stats: stats(0.5, 10) }));
  assert.equal(Math.round(f.expectedContacts - 5), 75);
  assert.equal(f.inputs.attemptsLeft, 150);
  // Members ended without a contact (error causes) stop early: 20 % fail, 50 % contact: 100·(0.5 + 0.3·0.5) = 65.
  const g = finishForecast(input({ fresh: 100, maxTryCount: 2, stats: stats(0.5, 10, 0.2) }));
  assert.equal(Math.round(g.expectedContacts - 5), 65);
});

test('the tail: one member, half its attempts contacts, stops when less than half a member is left (2 tries)', () => {
  const f = finishForecast(input({ fresh: 1, maxTryCount: 5, intervalTryCount: 100, stats: stats(0.5, 10) }));
  assert.equal(sec(f), 10 + 100 + 10);
});

test('calendar closed hours: 20 members at Friday 16:59 with 10 lines of 60-s calls: 10 before the close, 10 on Monday 09:00', () => {
  const fri = Date.UTC(2026, 11, 4, 16, 59, 0);
  const f = finishForecast(input({ now: fri, calendar: OFFICE, fresh: 20, stats: stats(1, 60) }));
  assert.equal(new Date(f.finishAt!).toISOString(), '2026-12-07T09:01:00.000Z');
  assert.equal(Math.round(f.inputs.calendarOpenHoursPerWeek * 60), 40 * 60);
});

test('openHours: an office week is 40 h; from Friday 16:59 to Monday 09:01 it is 2 minutes', () => {
  assert.equal(openHours(OFFICE, Date.UTC(2026, 11, 7, 0, 0), Date.UTC(2026, 11, 14, 0, 0)), 40);
  assert.equal(openHours(OFFICE, Date.UTC(2026, 11, 4, 16, 59), Date.UTC(2026, 11, 7, 9, 1)) * 60, 2);
});

test('declined: too few attempts, no lines, a calendar that ends first, a stopped campaign', () => {
  const early = finishForecast(input({ fresh: 10, stats: { attempts: 2, contacts: 1, answered: 1, failedEnds: 0, lineSec: 20 } }));
  assert.equal(early.finishAt, null);
  assert.equal(early.remainingSec, null);
  assert.match(early.reason!, /answer rate is not known/);
  assert.match(finishForecast(input({ fresh: 10, lines: 0 })).reason!, /no lines/);
  const ends = finishForecast(input({ fresh: 1000, calendar: { ...ALWAYS, endDate: NOW + 60_000 } }));
  assert.equal(ends.finishAt, null);
  assert.match(ends.reason!, /calendar ends/);
  const stopped = finishForecast(input({ fresh: 100, running: false }));
  assert.equal(stopped.finishAt, null);
  assert.match(stopped.reason!, /not running/);
  assert.equal(stopped.inputs.ifStartedNowSec, 100);
  const done = finishForecast(input({}));
  assert.equal(done.remainingSec, 0);
  assert.equal(done.finishAt, NOW);
});
