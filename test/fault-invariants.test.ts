// The fault suite's switch-side checks (scripts/fault-invariants.ts) fail on planted call logs: a
// duplicate originate (also one made just before the simulator was killed), a LOST_CALL stored for
// an answered call the switch ended and reported, a redial of a member who talked, a call without
// an attempt, a wrong cause, the limit exceeded — and pass on a clean log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSwitch, recountStats, type AttemptRow } from '../scripts/fault-invariants';
import type { CallLogEntry } from '../simulator/call-log';

const Q = 'campaign1';
let t = 0;
let seq = 0;
/** A small log builder: one call per helper, entries as the simulator writes them. */
function answeredCall(core: string, uuid: string, member: string, opts: { cause?: string; cdr?: boolean } = {}): CallLogEntry[] {
  const s = ++seq;
  return [
    { t: ++t, core, ev: 'originate', seq: s, uuid, destination: '1', vars: { dlr_queue: Q, dlr_member_id: member } },
    { t: ++t, core, ev: 'answer', seq: s, uuid },
    { t: ++t, core, ev: 'result', seq: s, uuid, result: `+OK ${uuid}` },
    { t: ++t, core, ev: 'hangup', seq: s, uuid, cause: opts.cause ?? 'NORMAL_CLEARING', answered: true },
    { t: ++t, core, ev: 'cdr', uuid, accepted: opts.cdr ?? true, tries: 1 },
    { t: ++t, core, ev: 'complete', seq: s, uuid, cause: opts.cause ?? 'NORMAL_CLEARING' },
  ];
}
function busyCall(core: string, uuid: string, member: string): CallLogEntry[] {
  const s = ++seq;
  return [
    { t: ++t, core, ev: 'originate', seq: s, uuid, destination: '1', vars: { dlr_queue: Q, dlr_member_id: member } },
    { t: ++t, core, ev: 'hangup', seq: s, uuid, cause: 'USER_BUSY', answered: false },
    { t: ++t, core, ev: 'result', seq: s, uuid, result: '-ERR USER_BUSY' },
    { t: ++t, core, ev: 'cdr', uuid, accepted: true, tries: 1 },
    { t: ++t, core, ev: 'complete', seq: s, uuid, cause: 'USER_BUSY' },
  ];
}
const attempt = (id: string, member: string, cause: string, answered = false): AttemptRow =>
  ({ _id: id, member, counted: true, result: { cause, answered, source: 'event' } });
const start = (core: string): CallLogEntry => ({ t: ++t, core, ev: 'start' });

const clean = (): { log: CallLogEntry[]; attempts: AttemptRow[] } => ({
  log: [start('A'), ...busyCall('A', 'u1', 'm1'), ...answeredCall('A', 'u2', 'm1'), ...answeredCall('A', 'u3', 'm2')],
  attempts: [attempt('u1', 'm1', 'USER_BUSY'), attempt('u2', 'm1', 'NORMAL_CLEARING', true), attempt('u3', 'm2', 'NORMAL_CLEARING', true)],
});
const check = (log: CallLogEntry[], attempts: AttemptRow[], limit = 5) => checkSwitch(log, attempts, { campaignId: Q, limit });

test('a clean log passes, busy then answered is not a redial', () => {
  const { log, attempts } = clean();
  const r = check(log, attempts);
  assert.deepEqual(r.violations, []);
  assert.deepEqual([r.duplicates, r.redialsOfAnswered, r.lost, r.unrecorded, r.wrongCause, r.limitBreaches, r.peak], [0, 0, 0, 0, 0, 0, 1]);
});

test('a duplicate originate fails the run, also when the simulator was killed right after it', () => {
  const { log, attempts } = clean();
  // Same origination_uuid originated again, then the process is killed (no stop entry): a new one starts.
  const again = answeredCall('A', 'u1', 'm1').slice(0, 1);
  const r = check([...log, ...again, start('B')], attempts);
  assert.equal(r.duplicates, 1);
  assert.match(r.violations.join('\n'), /1 attempt\(s\) originated more than once: u1 ×2/);
  assert.equal(r.calls.filter((c) => c.state === 'vanished').length, 1, 'the call up at the kill vanished');
});

test('a LOST_CALL stored for an answered call the switch ended and reported fails the run, and so does its redial', () => {
  const { log, attempts } = clean();
  attempts[2] = attempt('u3', 'm2', 'LOST_CALL');
  const redial = answeredCall('A', 'u4', 'm2');
  const r = check([...log, ...redial], [...attempts, attempt('u4', 'm2', 'NORMAL_CLEARING', true)]);
  assert.equal(r.lost, 1);
  assert.equal(r.redialsOfAnswered, 1);
  assert.match(r.violations.join('\n'), /1 attempt\(s\) stored LOST_CALL for a call the switch ended normally and reported/);
  assert.match(r.violations.join('\n'), /1 redial\(s\) of a member whose call was answered: member m2 \(call u4 after u3 NORMAL_CLEARING\)/);
});

test('a redial after an answered call that vanished in a crash fails; after one the switch cut with SYSTEM_SHUTDOWN it is the §6.2 retry', () => {
  const vanished = [start('A'), ...answeredCall('A', 'v1', 'm1').slice(0, 2), start('B'), ...answeredCall('B', 'v2', 'm1')];
  const r1 = check(vanished, [attempt('v1', 'm1', 'LOST_CALL', true), attempt('v2', 'm1', 'NORMAL_CLEARING', true)]);
  assert.equal(r1.redialsOfAnswered, 1);
  assert.match(r1.violations.join('\n'), /member m1 \(call v2 after v1 vanished\)/);
  const cut = [start('A'), ...answeredCall('A', 's1', 'm1', { cause: 'SYSTEM_SHUTDOWN' }), ...answeredCall('A', 's2', 'm1')];
  const r2 = check(cut, [attempt('s1', 'm1', 'SYSTEM_SHUTDOWN', true), attempt('s2', 'm1', 'NORMAL_CLEARING', true)]);
  assert.equal(r2.redialsOfAnswered, 0);
  assert.deepEqual(r2.violations, []);
  assert.match(r2.notes.join('\n'), /1 retry\(ies\) after an answered call the switch cut with a non-OK cause/);
});

test('LOST_CALL is allowed for a call that vanished in a crash or whose CDR never got through', () => {
  const log = [start('A'), ...answeredCall('A', 'u1', 'm1').slice(0, 2), { t: ++t, core: 'A', ev: 'stop', vanished: 1 } as CallLogEntry, start('B'),
    ...answeredCall('B', 'u2', 'm2', { cdr: false })];
  const r = check(log, [attempt('u1', 'm1', 'LOST_CALL'), attempt('u2', 'm2', 'LOST_CALL')]);
  assert.equal(r.lost, 0);
  assert.deepEqual(r.violations, []);
  assert.deepEqual(r.calls.map((c) => c.state), ['vanished', 'ended']);
});

test('a call without an attempt, a cause the switch did not report, and the limit exceeded each fail', () => {
  const { log, attempts } = clean();
  const r1 = check(log, attempts.slice(1));
  assert.equal(r1.unrecorded, 1);
  const wrong = clean();
  wrong.attempts[0] = attempt('u1', 'm1', 'NO_ANSWER');
  assert.equal(check(wrong.log, wrong.attempts).wrongCause, 1);
  // Two calls up at once with a limit of 1.
  const a = answeredCall('A', 'x1', 'm8');
  const b = answeredCall('A', 'x2', 'm9');
  const overlapped = [start('A'), a[0], b[0], ...a.slice(1), ...b.slice(1)];
  const r3 = check(overlapped, [attempt('x1', 'm8', 'NORMAL_CLEARING', true), attempt('x2', 'm9', 'NORMAL_CLEARING', true)], 1);
  assert.deepEqual([r3.peak, r3.limitBreaches], [2, 1]);
  assert.match(r3.violations.join('\n'), /limit 1 exceeded/);
});

test('the counters recount (§11.1): success/error per decided attempt, an attempt awaiting its status in neither', () => {
  const rows: AttemptRow[] = [
    { ...attempt('a1', 'm1', 'USER_BUSY'), outcome: 'error' },
    { ...attempt('a2', 'm1', 'NORMAL_CLEARING', true), outcome: 'success' },
    // Retried and refunded, then a member that ended: still one error each (not one per member).
    { ...attempt('a3', 'm2', 'NORMAL_TEMPORARY_FAILURE'), outcome: 'error' },
    { ...attempt('a4', 'm2', 'USER_BUSY'), outcome: 'error' },
    // Answered, its result status not in yet.
    { ...attempt('a5', 'm3', 'NORMAL_CLEARING', true), outcome: null },
    // Not counted yet (endAttempt not run): nowhere.
    { _id: 'a6', member: 'm4', counted: false, outcome: null, result: null },
  ];
  assert.deepEqual(recountStats(rows), { callCount: 5, connectedCall: 2, bridgedCall: 2, successCall: 1, errorCall: 3 });
});
