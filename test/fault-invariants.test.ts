// The fault suite's switch-side checks (scripts/fault-invariants.ts) fail on planted call logs: a
// duplicate originate (also one made just before the simulator was killed), a LOST_CALL stored for
// an answered call the switch ended and reported, a redial of a member who talked, a call without
// an attempt, a wrong cause, the limit exceeded — and pass on a clean log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAgents, checkSwitch, recountStats, type AgentEventRow, type AgentRow, type AttemptRow } from '../scripts/fault-invariants';
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

// ---- progressive: agent legs, their member legs, and the agents' invariants ----------------------

/** An agent leg (cc_agent) that bridges a member leg: the member answers, or fails with `memberCause`. */
function agentCall(core: string, uuid: string, member: string, agent: string, offerId: string, memberCause?: string): CallLogEntry[] {
  const s = ++seq;
  const b = ++seq;
  const vars = { dlr_queue: Q, dlr_member_id: member, cc_agent: agent, dlr_offer_id: offerId };
  const end = memberCause ? (memberCause === 'NO_ANSWER' ? 'NORMAL_CLEARING' : memberCause) : 'NORMAL_CLEARING';
  return [
    { t: ++t, core, ev: 'originate', seq: s, uuid, destination: agent, vars },
    { t: ++t, core, ev: 'answer', seq: s, uuid },
    { t: ++t, core, ev: 'result', seq: s, uuid, result: `+OK ${uuid}` },
    { t: ++t, core, ev: 'originate', seq: b, destination: '1', vars: { cc_side: 'member' }, bridgeOf: s },
    ...(memberCause
      ? [{ t: ++t, core, ev: 'hangup', seq: b, uuid: `${uuid}-b`, cause: memberCause, answered: false } as CallLogEntry]
      : [{ t: ++t, core, ev: 'answer', seq: b, uuid: `${uuid}-b` } as CallLogEntry, { t: ++t, core, ev: 'hangup', seq: b, uuid: `${uuid}-b`, cause: 'NORMAL_CLEARING', answered: true } as CallLogEntry]),
    { t: ++t, core, ev: 'hangup', seq: s, uuid, cause: end, answered: true },
    { t: ++t, core, ev: 'cdr', uuid, accepted: true, tries: 1 },
  ];
}
const offered = (agent: string, offerId: string, n: number): AgentEventRow => ({ agent, type: 'offered', seq: n, data: { offerId } });
const endedEv = (agent: string, offerId: string, n: number): AgentEventRow => ({ agent, type: 'ended', seq: n, data: { offerId } });
const free = (id: string): AgentRow => ({ _id: id, status: 'Available', state: 'Waiting', offer: null });

test('progressive: the member leg decides answered and cause; the agent answering a member who did not is no talk', () => {
  const log = [start('A'), ...agentCall('A', 'p1', 'm1', 'a1', 'o1', 'NO_ANSWER'), ...agentCall('A', 'p2', 'm1', 'a1', 'o2')];
  const attempts = [attempt('p1', 'm1', 'NO_ANSWER'), attempt('p2', 'm1', 'NORMAL_CLEARING', true)];
  const r = check(log, attempts);
  assert.deepEqual(r.violations, [], 'NO_ANSWER is the member leg\'s cause; the redial followed no talk');
  assert.deepEqual(r.calls.map((c) => [c.agent, c.memberLeg?.answered]), [['a1', false], ['a1', true]]);
  // The member talked on p1: calling it again is a redial of an answered call.
  const talked = [start('A'), ...agentCall('A', 'p1', 'm1', 'a1', 'o1'), ...agentCall('A', 'p2', 'm1', 'a1', 'o2')];
  assert.equal(check(talked, [attempt('p1', 'm1', 'NORMAL_CLEARING', true), attempt('p2', 'm1', 'NORMAL_CLEARING', true)]).redialsOfAnswered, 1);
});

test('agents: a clean progressive run passes; double ring, double offer, a ring without reservation and an agent left reserved each fail', () => {
  const log = [start('A'), ...agentCall('A', 'p1', 'm1', 'a1', 'o1'), ...agentCall('A', 'p2', 'm2', 'a1', 'o2')];
  const calls = check(log, [attempt('p1', 'm1', 'NORMAL_CLEARING', true), attempt('p2', 'm2', 'NORMAL_CLEARING', true)]).calls;
  const events = [offered('a1', 'o1', 1), endedEv('a1', 'o1', 2), offered('a1', 'o2', 3), endedEv('a1', 'o2', 4)];
  const ok = checkAgents(calls, events, [free('a1')]);
  assert.deepEqual(ok.violations, []);
  assert.equal(ok.offers, 2);

  // Two agent legs of a1 up at once (the second originated before the first hung up).
  const a = agentCall('A', 'p1', 'm1', 'a1', 'o1');
  const b = agentCall('A', 'p2', 'm2', 'a1', 'o2');
  const restamped = [start('A'), a[0]!, b[0]!, ...a.slice(1), ...b.slice(1)].map((e) => ({ ...e, t: ++t }));
  const overlapped = check(restamped, []).calls;
  const r1 = checkAgents(overlapped, events, [free('a1')]);
  assert.equal(r1.doubleRings, 1);
  assert.match(r1.violations.join('\n'), /agent was rung for two calls at once: a1 \(call p2 while p1 was up\)/);

  // o2 offered before o1 ended; a call for an offer a1's workflow never made; a1 still reserved.
  const r2 = checkAgents(calls, [offered('a1', 'o1', 1), offered('a1', 'o2', 2), endedEv('a1', 'o2', 3)], [{ _id: 'a1', status: 'Available', state: 'Reserved', offer: { offerId: 'o9' } }]);
  assert.deepEqual([r2.doubleOffers, r2.unreserved, r2.leftReserved], [1, 0, 1]);
  assert.match(r2.violations.join('\n'), /1 double offer\(s\): a1 \(offer o2 while o1 was open\)/);
  assert.match(r2.violations.join('\n'), /1 agent\(s\) left reserved: a1 \(Reserved, offer o9\)/);
  const r3 = checkAgents(calls, [offered('a1', 'o1', 1), endedEv('a1', 'o1', 2)], [free('a1')]);
  assert.equal(r3.unreserved, 1);
  assert.match(r3.violations.join('\n'), /1 agent call\(s\) without a reservation of that agent: p2 → a1/);
  // A vanished agent leg (switch crash) ends at the next start: no double ring after it.
  const crashed = check([start('A'), ...agentCall('A', 'p1', 'm1', 'a1', 'o1').slice(0, 4), start('B'), ...agentCall('B', 'p2', 'm2', 'a1', 'o2')], []).calls;
  assert.equal(checkAgents(crashed, events, [free('a1')]).doubleRings, 0);
});
