// Unit tests of the pure Webitel rules (rules/) against spec /work/shared/spec/webitel-v3-dialer.md.
// Run: node --import tsx --test test/rules.test.ts
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import {
  DEFAULT_CAUSES,
  END,
  LOST_CALL,
  NUMBER_END,
  NUMBER_IDLE,
  applyOutcome,
  applyStatus,
  applyStatusTimeout,
  attemptCountsAs,
  attemptVariables,
  calendarOpensAt,
  calendarState,
  callerIdFor,
  candidateNumbers,
  chooseNumber,
  classifyCause,
  dialDigits,
  endWithoutCall,
  hasWorkToday,
  idleNumbers,
  inMemberZone,
  localTime,
  maxResources,
  mergeClientPatch,
  nextAction,
  nextDayStart,
  openWindow,
  planAttempt,
  q850,
  reserveAttempt,
  routesFor,
  settleAttempt,
  terminateIdle,
  typeNotImplemented,
  type Applied,
  type CalendarRule,
  type CallOutcome,
  type CampaignRules,
  type Communication,
  type CommunicationType,
  type Destination,
  type MemberState,
  type Resource,
} from '../rules';
import { buildOriginate } from '../esl/format';

// ---------------------------------------------------------------------------------------------
// Fixtures

const ZONE = 'Europe/Kyiv';
const SEC = 1000;

/** Epoch ms of a wall-clock time in a zone (the campaign's by default): at('2024-06-03T10:00'). */
const at = (iso: string, zone = ZONE) => DateTime.fromISO(iso, { zone }).toMillis();

/** 2024-06-03 is a Monday. */
const MON_10 = at('2024-06-03T10:00');

/** UI default working hours: Mon–Fri 09:00–17:00. */
const WEEKDAYS_9_TO_17 = [1, 2, 3, 4, 5].map((weekDay) => ({ weekDay, startTime: 540, endTime: 1020 }));
const EVERY_DAY_9_TO_17 = [1, 2, 3, 4, 5, 6, 7].map((weekDay) => ({ weekDay, startTime: 540, endTime: 1020 }));

/** Mobile numbers: mornings (2 tries, high priority) and afternoons (1 try, low priority). */
const MOBILE: CommunicationType = {
  code: 'mobile',
  name: 'Mobile',
  ranges: [
    { startTime: 540, endTime: 780, attempts: 2, priority: 10 },
    { startTime: 840, endTime: 1020, attempts: 1, priority: 1 },
  ],
};
/** Home numbers: all working day, 3 tries, medium priority. */
const HOME: CommunicationType = { code: 'home', name: 'Home', ranges: [{ startTime: 540, endTime: 1020, attempts: 3, priority: 5 }] };
/** Office numbers: only 14:00–17:00. */
const OFFICE: CommunicationType = { code: 'office', name: 'Office', ranges: [{ startTime: 840, endTime: 1020, attempts: 1, priority: 0 }] };

function destination(over: Partial<Destination> = {}): Destination {
  return {
    uuid: 'dest-kyivstar',
    enabled: true,
    limit: 10,
    gwProto: 'sip',
    gwName: 'kyivstar',
    dialString: '$1',
    callerIdNumber: '380442000000',
    callerIdNumbers: [],
    ...over,
  };
}

function resource(over: Partial<Resource> = {}): Resource {
  return { dialedNumber: '^(380\\d{9})$', disabled: false, strategy: 'top_down', destinations: [destination()], ...over };
}

function calendar(over: Partial<CalendarRule> = {}): CalendarRule {
  return { timeZone: ZONE, startDate: null, endDate: null, accept: WEEKDAYS_9_TO_17, except: [], ...over };
}

function campaign(over: Partial<CampaignRules> = {}): CampaignRules {
  return {
    id: 'dialer-1',
    name: 'Spring promo',
    domain: 'acme.example.com',
    type: 'Progressive Dialer',
    limit: 30,
    maxTryCount: 5,
    intervalTryCount: 60,
    minBillSec: 10,
    waitingForResultStatus: false,
    wrapUpTime: 60,
    originateTimeout: 60,
    eternalQueue: false,
    oneDayTask: false,
    retriesByNumber: false,
    numberStrategy: 'by-priority',
    membersStrategy: 'next-tries-circuit',
    statusTimeoutMode: 'refund',
    lostCallRedials: 2,
    causesError: [...DEFAULT_CAUSES.causesError],
    causesRetry: [...DEFAULT_CAUSES.causesRetry],
    causesOK: [...DEFAULT_CAUSES.causesOK],
    causesMinus: [...DEFAULT_CAUSES.causesMinus],
    communicationTypes: [],
    calendar: calendar(),
    resources: [resource()],
    variables: {},
    ...over,
  };
}

function num(number: string, over: Partial<Communication> = {}): Communication {
  return {
    number,
    priority: 0,
    type: null,
    description: null,
    state: NUMBER_IDLE,
    probe: 0,
    lastCall: 0,
    rangeId: null,
    rangeAttempts: 0,
    ...over,
  };
}

function member(over: Partial<MemberState> = {}): MemberState {
  return {
    name: 'Olena Petrenko',
    priority: 0,
    expire: null,
    variables: {},
    communications: [num('380501112233')],
    probeCount: 0,
    successfulCount: 0,
    callSuccessful: false,
    nextTryTime: null,
    endCause: null,
    lastNumberIndex: null,
    lastMinusProbe: false,
    lastCall: 0,
    ...over,
  };
}

/** A finished call: answered and bridged, 45 s of talk, NORMAL_CLEARING unless overridden. */
function call(over: Partial<CallOutcome> = {}): CallOutcome {
  return { cause: 'NORMAL_CLEARING', bridged: true, answered: true, talkSec: 45, ...over };
}

/** Reserves an attempt on number `index` at `now` exactly as the member workflow does. */
function reserve(m: MemberState, camp: CampaignRules, index = 0, now = MON_10) {
  const comm = m.communications[index];
  const type = camp.communicationTypes.find((t) => t.code === comm.type);
  const window = type ? openWindow(type, localTime(now, camp.calendar.timeZone)) : null;
  const idleAtStart = idleNumbers(m);
  const reserved = reserveAttempt(m, camp, { index, window });
  return { member: reserved, info: { numberIndex: index, attempt: reserved.probeCount, idleAtStart } };
}

/** Reserve + hang up with `outcome` at `now`. */
function dial(m: MemberState, camp: CampaignRules, outcome: CallOutcome, index = 0, now = MON_10): Applied {
  const r = reserve(m, camp, index, now);
  return applyOutcome(r.member, camp, r.info, outcome, now);
}

const states = (m: MemberState) => m.communications.map((c) => c.state);
const ended = (cause: string, success = false) => ({ kind: 'end', cause, success });

// ---------------------------------------------------------------------------------------------
// §4 cause categories

describe('§4 cause categories', () => {
  test('default lists classify the G2 defaults', () => {
    const lists = campaign();
    assert.equal(classifyCause('NORMAL_CLEARING', lists), 'ok');
    assert.equal(classifyCause('USER_BUSY', lists), 'retry');
    assert.equal(classifyCause('NO_ANSWER', lists), 'retry');
    assert.equal(classifyCause('UNALLOCATED_NUMBER', lists), 'error');
    assert.equal(classifyCause('RECOVERY_ON_TIMER_EXPIRE', lists), 'minus');
    assert.equal(classifyCause('NORMAL_TEMPORARY_FAILURE', lists), 'minus');
    assert.equal(classifyCause('SWITCH_CONGESTION', lists), 'none');
  });

  test('lookup order is Minus → OK → Retry → Error', () => {
    const lists = { causesMinus: ['X'], causesOK: ['X', 'Y'], causesRetry: ['X', 'Y', 'Z'], causesError: ['X', 'Y', 'Z', 'W'] };
    assert.equal(classifyCause('X', lists), 'minus');
    assert.equal(classifyCause('Y', lists), 'ok');
    assert.equal(classifyCause('Z', lists), 'retry');
    assert.equal(classifyCause('W', lists), 'error');
  });

  test('Q.850 codes of §4.3, unknown names map to 0', () => {
    assert.equal(q850('NORMAL_CLEARING'), 16);
    assert.equal(q850('USER_BUSY'), 17);
    assert.equal(q850('ORIGINATOR_CANCEL'), 487);
    assert.equal(q850('ABANDONED'), 687);
    assert.equal(q850('MAX_TRY_COUNT'), 0);
  });
});

// ---------------------------------------------------------------------------------------------
// §6.2 attempt outcome

describe('§6.2 attempt outcome (applyOutcome)', () => {
  test('step 1: operator terminate ends the member with MANAGER_REQUEST, not as a success', () => {
    const camp = campaign();
    const m = member({ communications: [num('380501112233'), num('380671112233')] });
    const r = reserve(m, camp);
    const out = applyOutcome(r.member, camp, { ...r.info, terminated: true }, call({ talkSec: 120 }), MON_10);
    assert.deepEqual(out.decision, ended('MANAGER_REQUEST'));
    assert.equal(out.member.endCause, 'MANAGER_REQUEST');
    assert.equal(out.member.callSuccessful, false);
    assert.equal(out.member.successfulCount, 0);
    assert.deepEqual(states(out.member), [NUMBER_END, NUMBER_END]);
  });

  test('step 3: waiting for result status on a bridged call → await-status, deadline now + wrapUpTime', () => {
    const camp = campaign({ waitingForResultStatus: true, wrapUpTime: 120, intervalTryCount: 60, minBillSec: 30 });
    // Too short for minBillSec and a Retry cause: both ignored, the status decides.
    const out = dial(member(), camp, call({ cause: 'USER_BUSY', talkSec: 3 }));
    assert.deepEqual(out.decision, { kind: 'await-status', deadline: MON_10 + 120 * SEC });
    assert.equal(out.member.nextTryTime, MON_10 + 60 * SEC);
    assert.equal(out.member.probeCount, 1, 'the attempt stays counted');
    assert.equal(out.member.communications[0].state, NUMBER_IDLE);
    assert.equal(out.member.communications[0].checkResult, true);
    assert.equal(out.member.endCause, null);
    assert.equal(out.member.successfulCount, 0);
  });

  test('step 3: waiting for status, an unbridged call is classified by its cause', () => {
    const camp = campaign({ waitingForResultStatus: true });
    const out = dial(member(), camp, call({ cause: 'NO_ANSWER', bridged: false, answered: false, talkSec: 0 }));
    assert.deepEqual(out.decision, { kind: 'retry', at: MON_10 + 60 * SEC });
    assert.notEqual(out.member.communications[0].checkResult, true);
  });

  test('step 3: MEMBER_EXPIRED is never deferred to a status callback', () => {
    const camp = campaign({ waitingForResultStatus: true });
    const out = dial(member(), camp, call({ cause: 'MEMBER_EXPIRED', talkSec: 0 }));
    assert.deepEqual(out.decision, ended('MEMBER_EXPIRED'));
  });

  // Spec §3.1: v3 forced waitingForResultStatus off for Voice Broadcasting. We deliberately keep it
  // (issue #3: an IVR/CRM posts the result status of a broadcast call); documented in docs/rules.md.
  test('step 3: Voice Broadcasting waits for a status when configured (deliberate deviation from §3.1)', () => {
    const camp = campaign({ type: 'Voice Broadcasting', waitingForResultStatus: true, minBillSec: 10, wrapUpTime: 45 });
    const out = dial(member(), camp, call({ talkSec: 30 }));
    assert.equal(out.decision.kind, 'await-status');
  });

  test('step 4: Minus refunds the attempt and the window counter and sets lastCall 0', () => {
    const camp = campaign({ communicationTypes: [MOBILE], intervalTryCount: 90 });
    const m = member({
      probeCount: 2,
      lastCall: at('2024-06-03T09:30'),
      communications: [
        num('380501112233', { type: 'mobile', probe: 1, lastCall: at('2024-06-03T09:00') }),
        num('380671112233', { type: 'mobile', probe: 1, lastCall: at('2024-06-03T09:30') }),
      ],
    });
    const r = reserve(m, camp, 0);
    assert.equal(r.member.communications[1].rangeAttempts, 1, 'budget shared before the call');
    const out = applyOutcome(r.member, camp, r.info, call({ cause: 'NORMAL_TEMPORARY_FAILURE', bridged: false, talkSec: 0 }), MON_10);
    const [used, other] = out.member.communications;
    assert.deepEqual(out.decision, { kind: 'retry', at: MON_10 + 90 * SEC });
    assert.equal(out.member.nextTryTime, MON_10 + 90 * SEC);
    assert.equal(out.member.probeCount, 2);
    assert.equal(used.probe, 1);
    assert.equal(used.rangeAttempts, 0);
    assert.equal(other.rangeAttempts, 0, 'shared window counter refunded too');
    assert.equal(used.lastCall, 0);
    assert.equal(out.member.lastCall, 0);
    assert.equal(out.member.lastMinusProbe, true);
    assert.equal(used.state, NUMBER_IDLE);
    assert.equal(out.member.endCause, null);
  });

  test('step 4: a Minus cause at the attempt limit does not end the member', () => {
    const camp = campaign({ maxTryCount: 3 });
    const out = dial(member({ probeCount: 2 }), camp, call({ cause: 'RECOVERY_ON_TIMER_EXPIRE', bridged: false, talkSec: 0 }));
    assert.equal(out.decision.kind, 'retry');
    assert.equal(out.member.probeCount, 2);
    assert.equal(out.member.endCause, null);
  });

  test('step 5: OK with talk ≥ minBillSec succeeds and ends all numbers', () => {
    const camp = campaign({ minBillSec: 10 });
    const m = member({ communications: [num('380501112233'), num('380671112233'), num('380931112233')] });
    const out = dial(m, camp, call({ talkSec: 10 }), 1);
    assert.deepEqual(out.decision, ended('NORMAL_CLEARING', true));
    assert.equal(out.member.endCause, 'NORMAL_CLEARING');
    assert.equal(out.member.callSuccessful, true);
    assert.equal(out.member.successfulCount, 1);
    assert.deepEqual(states(out.member), [NUMBER_END, NUMBER_END, NUMBER_END]);
    assert.equal(out.member.lastNumberIndex, 1);
  });

  test('step 5: OK shorter than minBillSec is a retry and counts the attempt', () => {
    const camp = campaign({ minBillSec: 10, intervalTryCount: 120 });
    const out = dial(member(), camp, call({ talkSec: 9 }));
    assert.deepEqual(out.decision, { kind: 'retry', at: MON_10 + 120 * SEC });
    assert.equal(out.member.probeCount, 1);
    assert.equal(out.member.successfulCount, 0);
    assert.equal(out.member.callSuccessful, false);
    assert.equal(out.member.communications[0].state, NUMBER_IDLE);
  });

  test('step 5→6: a too-short OK at the attempt limit ends with MAX_TRY_COUNT', () => {
    const camp = campaign({ minBillSec: 10, maxTryCount: 3 });
    const out = dial(member({ probeCount: 2 }), camp, call({ talkSec: 2 }));
    assert.deepEqual(out.decision, ended('MAX_TRY_COUNT'));
  });

  test('step 5: an OK cause on an unbridged progressive call is not a success (retried)', () => {
    const camp = campaign({ type: 'Progressive Dialer', minBillSec: 0 });
    const out = dial(member(), camp, call({ bridged: false, talkSec: 0 }));
    assert.equal(out.decision.kind, 'retry');
    assert.equal(out.member.successfulCount, 0);
    assert.equal(out.member.communications[0].state, NUMBER_IDLE);
  });

  test('step 5→8: an unbridged OK at the attempt limit ends with MAX_TRY_COUNT', () => {
    const camp = campaign({ maxTryCount: 2 });
    const out = dial(member({ probeCount: 1 }), camp, call({ bridged: false, talkSec: 0 }));
    assert.deepEqual(out.decision, ended('MAX_TRY_COUNT'));
  });

  test('step 5: Voice Broadcasting counts an OK cause even when not flagged bridged', () => {
    const camp = campaign({ type: 'Voice Broadcasting', minBillSec: 5 });
    const out = dial(member(), camp, call({ bridged: false, talkSec: 20 }));
    assert.deepEqual(out.decision, ended('NORMAL_CLEARING', true));
  });

  test('step 5: cc_min_count=2 needs two successful calls', () => {
    const camp = campaign({ minBillSec: 10 });
    const first = dial(member(), camp, call({ talkSec: 30, minCount: 2 }));
    assert.equal(first.decision.kind, 'retry');
    assert.equal(first.member.successfulCount, 1);
    assert.equal(first.member.callSuccessful, false);
    assert.equal(first.member.endCause, null);

    // A too-short call does not count towards cc_min_count.
    const short = dial(first.member, camp, call({ talkSec: 5, minCount: 2 }), 0, MON_10 + 120 * SEC);
    assert.equal(short.member.successfulCount, 1);
    assert.equal(short.decision.kind, 'retry');

    const second = dial(short.member, camp, call({ talkSec: 30, minCount: 2 }), 0, MON_10 + 240 * SEC);
    assert.deepEqual(second.decision, ended('NORMAL_CLEARING', true));
    assert.equal(second.member.successfulCount, 2);
  });

  test('step 5: cc_min_count 0 or absent does not block success', () => {
    const camp = campaign();
    assert.deepEqual(dial(member(), camp, call({ minCount: 0 })).decision, ended('NORMAL_CLEARING', true));
    assert.deepEqual(dial(member(), camp, call({ minCount: 1 })).decision, ended('NORMAL_CLEARING', true));
  });

  test('step 6: Retry cause waits intervalTryCount, number stays idle, attempt counted', () => {
    const camp = campaign({ intervalTryCount: 300 });
    const m = member({ communications: [num('380501112233'), num('380671112233')] });
    const out = dial(m, camp, call({ cause: 'USER_BUSY', bridged: false, answered: false, talkSec: 0 }), 1);
    assert.deepEqual(out.decision, { kind: 'retry', at: MON_10 + 300 * SEC });
    assert.equal(out.member.nextTryTime, MON_10 + 300 * SEC);
    assert.equal(out.member.probeCount, 1);
    assert.equal(out.member.communications[1].probe, 1);
    assert.equal(out.member.communications[1].lastCall, MON_10);
    assert.equal(out.member.lastCall, MON_10);
    assert.equal(out.member.lastNumberIndex, 1);
    assert.equal(out.member.lastMinusProbe, false);
    assert.deepEqual(states(out.member), [NUMBER_IDLE, NUMBER_IDLE]);
    assert.ok(out.steps.includes('Retry: USER_BUSY'));
  });

  test('step 6: the retry time never moves backwards ($max)', () => {
    const camp = campaign({ intervalTryCount: 60 });
    const later = MON_10 + 3600 * SEC;
    const out = dial(member({ nextTryTime: later }), camp, call({ cause: 'NO_ANSWER', bridged: false, talkSec: 0 }));
    assert.deepEqual(out.decision, { kind: 'retry', at: later });
    assert.equal(out.member.nextTryTime, later);
  });

  test('step 6: Retry at the attempt limit ends with MAX_TRY_COUNT and ends every number', () => {
    const camp = campaign({ maxTryCount: 5 });
    const m = member({ probeCount: 4, communications: [num('380501112233'), num('380671112233')] });
    const out = dial(m, camp, call({ cause: 'NO_ANSWER', bridged: false, talkSec: 0 }));
    assert.deepEqual(out.decision, ended('MAX_TRY_COUNT'));
    assert.equal(out.member.endCause, 'MAX_TRY_COUNT');
    assert.equal(out.member.probeCount, 5);
    assert.deepEqual(states(out.member), [NUMBER_END, NUMBER_END]);
    assert.ok(out.steps.includes('max try count'));
  });

  test('step 6: one attempt before the limit still retries', () => {
    const camp = campaign({ maxTryCount: 5 });
    const out = dial(member({ probeCount: 3 }), camp, call({ cause: 'NO_ANSWER', bridged: false, talkSec: 0 }));
    assert.equal(out.decision.kind, 'retry');
  });

  test('step 7: Error retires the number; the member continues on its other idle number', () => {
    const camp = campaign({ intervalTryCount: 60 });
    const m = member({ communications: [num('380501112233'), num('380671112233')] });
    const out = dial(m, camp, call({ cause: 'UNALLOCATED_NUMBER', bridged: false, talkSec: 0 }), 0);
    assert.deepEqual(out.decision, { kind: 'retry', at: MON_10 + 60 * SEC });
    assert.deepEqual(states(out.member), [NUMBER_END, NUMBER_IDLE]);
    assert.equal(out.member.endCause, null);
    assert.equal(out.member.probeCount, 1, 'an Error attempt is counted');
  });

  test('step 7: Error on the last idle number ends the member with that cause', () => {
    const camp = campaign();
    const m = member({ communications: [num('380501112233', { state: NUMBER_END }), num('380671112233')] });
    const out = dial(m, camp, call({ cause: 'INVALID_NUMBER_FORMAT', bridged: false, talkSec: 0 }), 1);
    assert.deepEqual(out.decision, ended('INVALID_NUMBER_FORMAT'));
    assert.equal(out.member.endCause, 'INVALID_NUMBER_FORMAT');
    assert.deepEqual(states(out.member), [NUMBER_END, NUMBER_END]);
  });

  test('step 8: Error at the attempt limit → MAX_TRY_COUNT overrides the Error cause', () => {
    const camp = campaign({ maxTryCount: 3 });
    const single = dial(member({ probeCount: 2 }), camp, call({ cause: 'UNALLOCATED_NUMBER', bridged: false, talkSec: 0 }));
    assert.deepEqual(single.decision, ended('MAX_TRY_COUNT'));
    const two = member({ probeCount: 2, communications: [num('380501112233'), num('380671112233')] });
    const out = dial(two, camp, call({ cause: 'GATEWAY_DOWN', bridged: false, talkSec: 0 }));
    assert.deepEqual(out.decision, ended('MAX_TRY_COUNT'));
    assert.deepEqual(states(out.member), [NUMBER_END, NUMBER_END]);
  });

  test('step 8: an unknown cause behaves as Retry (number stays idle)', () => {
    const camp = campaign({ intervalTryCount: 60 });
    const out = dial(member(), camp, call({ cause: 'SWITCH_CONGESTION', bridged: false, talkSec: 0 }));
    assert.deepEqual(out.decision, { kind: 'retry', at: MON_10 + 60 * SEC });
    assert.equal(out.member.communications[0].state, NUMBER_IDLE);
    assert.equal(out.member.probeCount, 1);
  });

  test('step 8: an unknown cause at the attempt limit ends with MAX_TRY_COUNT', () => {
    const camp = campaign({ maxTryCount: 1 });
    const out = dial(member(), camp, call({ cause: 'SWITCH_CONGESTION', bridged: false, talkSec: 0 }));
    assert.deepEqual(out.decision, ended('MAX_TRY_COUNT'));
  });

  test('custom cause lists are honoured (USER_BUSY moved to Error)', () => {
    const camp = campaign({ causesRetry: ['NO_ANSWER'], causesError: ['USER_BUSY'] });
    const out = dial(member(), camp, call({ cause: 'USER_BUSY', bridged: false, talkSec: 0 }));
    assert.deepEqual(out.decision, ended('USER_BUSY'));
  });

  test('LOST_CALL (no result from any source) refunds the attempt and retries', () => {
    const camp = campaign({ maxTryCount: 2, intervalTryCount: 60 });
    const out = dial(member({ probeCount: 1 }), camp, call({ cause: LOST_CALL, lost: true, answered: false, bridged: false, talkSec: 0 }));
    assert.deepEqual(out.decision, { kind: 'retry', at: MON_10 + 60 * SEC });
    assert.equal(out.member.probeCount, 1);
    assert.equal(out.member.communications[0].probe, 0);
    assert.equal(out.member.lastMinusProbe, true);
    assert.equal(out.member.endCause, null);
    assert.equal(out.member.lostRedials, 1);
    assert.deepEqual(out.steps, ['Lost call, not counted (1/2)']);
  });

  test('LOST_CALL refunds are bounded by lostCallRedials: after them a lost call counts as a failed attempt', () => {
    const camp = campaign({ maxTryCount: 3, intervalTryCount: 60, lostCallRedials: 2 });
    const lost = call({ cause: LOST_CALL, lost: true, answered: false, bridged: false, talkSec: 0 });
    let m = member();
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      const out = dial(m, camp, lost);
      seen.push(`${out.steps.join('; ')} → ${out.decision.kind}/${out.member.probeCount}`);
      m = { ...out.member, nextTryTime: null };
      if (out.decision.kind === 'end') break;
    }
    assert.deepEqual(seen, [
      'Lost call, not counted (1/2) → retry/0',
      'Lost call, not counted (2/2) → retry/0',
      'Lost call, counted (2/2 uncounted redials used); Retry: LOST_CALL → retry/1',
      'Lost call, counted (2/2 uncounted redials used); Retry: LOST_CALL → retry/2',
      'Lost call, counted (2/2 uncounted redials used); max try count → end/3',
    ]);
    assert.equal(m.endCause, 'MAX_TRY_COUNT');
  });

  test('lostCallRedials 0: the first lost call already counts', () => {
    const out = dial(member(), campaign({ maxTryCount: 1, lostCallRedials: 0 }), call({ cause: LOST_CALL, lost: true, answered: false, bridged: false, talkSec: 0 }));
    assert.deepEqual(out.decision, ended('MAX_TRY_COUNT'));
  });

  test('a lost call that had been answered is never redialled: the member ends successful, talk time unknown', () => {
    const camp = campaign({ type: 'Voice Broadcasting', minBillSec: 30, maxTryCount: 5 });
    const m = member({ communications: [num('380501112233'), num('380671112233')] });
    const out = dial(m, camp, call({ cause: LOST_CALL, lost: true, answered: true, bridged: true, talkSec: 0 }));
    assert.deepEqual(out.decision, ended(LOST_CALL, true));
    assert.equal(out.member.callSuccessful, true);
    assert.equal(out.member.probeCount, 1, 'counted');
    assert.deepEqual(states(out.member), [NUMBER_END, NUMBER_END]);
    assert.deepEqual(out.steps, ['Answered, then lost without a result: not dialled again (talk time unknown)']);
  });

  test('an answered lost call in a campaign that waits for a result status waits for it (the status decides)', () => {
    const camp = campaign({ waitingForResultStatus: true });
    const out = dial(member(), camp, call({ cause: LOST_CALL, lost: true, answered: true, bridged: true, talkSec: 0 }));
    assert.equal(out.decision.kind, 'await-status');
  });

  test('an attempt that could not be sent retires its number as an Error whatever the cause lists say', () => {
    // Even with the cause listed as Minus (which would refund and retry it for ever).
    const camp = campaign({ causesMinus: [...DEFAULT_CAUSES.causesMinus, 'INVALID_NUMBER_FORMAT'] });
    const m = member({ communications: [num('380501112233'), num('380671112233')] });
    const notSent = call({ cause: 'INVALID_NUMBER_FORMAT', answered: false, bridged: false, talkSec: 0, notSent: 'invalid dial string "5011 x"' });
    const out = dial(m, camp, notSent);
    assert.equal(out.decision.kind, 'retry', 'the other number goes on');
    assert.deepEqual(states(out.member), [NUMBER_END, NUMBER_IDLE]);
    assert.equal(out.member.probeCount, 1);
    assert.deepEqual(out.steps, ['Not sent: invalid dial string "5011 x"', 'Error: INVALID_NUMBER_FORMAT, number 380501112233 retired']);
    const last = dial(out.member, camp, notSent, 1);
    assert.deepEqual(last.decision, ended('INVALID_NUMBER_FORMAT'));
  });

  test('a gateway FreeSWITCH does not know (-ERR INVALID_GATEWAY) is an Error of the number by default', () => {
    const out = dial(member(), campaign(), call({ cause: 'INVALID_GATEWAY', answered: false, bridged: false, talkSec: 0 }));
    assert.deepEqual(out.decision, ended('INVALID_GATEWAY'));
    assert.equal(q850('INVALID_GATEWAY'), 608);
  });

  test('typeNotImplemented: every v3 type can dial; a stored unknown type says which exist', () => {
    for (const t of ['Voice Broadcasting', 'Progressive Dialer', 'Predictive Dialer']) assert.equal(typeNotImplemented(t), null);
    assert.match(typeNotImplemented('Power Dialer')!, /^"Power Dialer" campaigns are not implemented; the types are Voice Broadcasting, Progressive Dialer, Predictive Dialer$/);
  });

  test('never leaves a member with no idle numbers and no end cause (§12 item 2)', () => {
    const camp = campaign();
    const m = member({ communications: [num('380501112233'), num('380671112233')] });
    const r = reserve(m, camp, 0);
    // The other number was retired while this call was in progress.
    r.member.communications[1].state = NUMBER_END;
    const out = applyOutcome(r.member, camp, r.info, call({ cause: 'UNALLOCATED_NUMBER', bridged: false, talkSec: 0 }), MON_10);
    assert.deepEqual(out.decision, ended('NO_COMMUNICATIONS'));
    assert.equal(out.member.endCause, 'NO_COMMUNICATIONS');
  });

  test('applyOutcome does not mutate its input', () => {
    const camp = campaign();
    const r = reserve(member(), camp);
    const before = JSON.stringify(r.member);
    applyOutcome(r.member, camp, r.info, call(), MON_10);
    assert.equal(JSON.stringify(r.member), before);
  });

  test('terminating an idle member ends it with MANAGER_REQUEST and no success (§12 item 9)', () => {
    const out = terminateIdle(member({ communications: [num('380501112233'), num('380671112233')] }));
    assert.deepEqual(out.decision, ended('MANAGER_REQUEST'));
    assert.equal(out.member.callSuccessful, false);
    assert.deepEqual(states(out.member), [NUMBER_END, NUMBER_END]);
  });
});

// ---------------------------------------------------------------------------------------------
// §6.5 status callback, §6.6 status timeout

/** A member right after a bridged call in a dialer that waits for a status. */
function awaitingStatus(over: Partial<MemberState> = {}, campOver: Partial<CampaignRules> = {}) {
  const camp = campaign({ waitingForResultStatus: true, wrapUpTime: 120, intervalTryCount: 60, ...campOver });
  const m = member({ communications: [num('380501112233'), num('380671112233')], ...over });
  const out = dial(m, camp, call({ talkSec: 80 }));
  assert.equal(out.decision.kind, 'await-status');
  return { camp, m: out.member };
}

const STATUS_AT = MON_10 + 30 * SEC;

describe('§6.5 status callback (applyStatus)', () => {
  test('success:true ends the member with NORMAL_CLEARING; other fields are ignored', () => {
    const { camp, m } = awaitingStatus();
    const out = applyStatus(m, camp, { success: true, next_after_sec: 10, next_communication: '380991234567', reset_retries: true }, STATUS_AT);
    assert.deepEqual(out.decision, ended('NORMAL_CLEARING', true));
    assert.equal(out.member.endCause, 'NORMAL_CLEARING');
    assert.equal(out.member.callSuccessful, true);
    assert.equal(out.member.nextTryTime, null);
    assert.equal(out.member.communications.length, 2, 'next_communication ignored');
    assert.deepEqual(states(out.member), [NUMBER_END, NUMBER_END]);
    assert.ok(out.member.communications.every((c) => !c.checkResult));
  });

  test('success:false with next_after_sec schedules the next try at now + value', () => {
    const { camp, m } = awaitingStatus();
    const out = applyStatus(m, camp, { success: false, next_after_sec: 3600 }, STATUS_AT);
    assert.deepEqual(out.decision, { kind: 'retry', at: STATUS_AT + 3600 * SEC });
    assert.equal(out.member.nextTryTime, STATUS_AT + 3600 * SEC);
    assert.equal(out.member.endCause, null);
    assert.ok(out.member.communications.every((c) => !c.checkResult), 'checkResult cleared');
  });

  test('next_after_sec 0 means immediately (even before the interval retry time)', () => {
    const { camp, m } = awaitingStatus();
    assert.ok(m.nextTryTime! > STATUS_AT);
    const out = applyStatus(m, camp, { success: false, next_after_sec: 0 }, STATUS_AT);
    assert.equal(out.member.nextTryTime, STATUS_AT);
  });

  test('next_after_sec absent or negative → intervalTryCount', () => {
    const { camp, m } = awaitingStatus({}, { intervalTryCount: 90 });
    assert.equal(applyStatus(m, camp, { success: false }, STATUS_AT).member.nextTryTime, STATUS_AT + 90 * SEC);
    assert.equal(applyStatus(m, camp, { success: false, next_after_sec: -5 }, STATUS_AT).member.nextTryTime, STATUS_AT + 90 * SEC);
  });

  test('stop_communications as an array stops exactly the listed numbers', () => {
    const { camp, m } = awaitingStatus({
      communications: [num('380501112233'), num('380671112233'), num('380931112233')],
    });
    const out = applyStatus(m, camp, { success: false, stop_communications: ['380501112233', '380931112233'] }, STATUS_AT);
    assert.deepEqual(states(out.member), [NUMBER_END, NUMBER_IDLE, NUMBER_END]);
    assert.deepEqual(out.member.communications.map((c) => !!c.stopCommunication), [true, false, true]);
    assert.equal(out.decision.kind, 'retry');
  });

  test('stop_communications as a single string, exact string compare', () => {
    const { camp, m } = awaitingStatus({ communications: [num('+380501112233'), num('380671112233')] });
    const noMatch = applyStatus(m, camp, { success: false, stop_communications: '380501112233' }, STATUS_AT);
    assert.deepEqual(states(noMatch.member), [NUMBER_IDLE, NUMBER_IDLE], "'+380…' is not '380…'");
    const out = applyStatus(m, camp, { success: false, stop_communications: '+380501112233' }, STATUS_AT);
    assert.deepEqual(states(out.member), [NUMBER_END, NUMBER_IDLE]);
  });

  test('stop_communications leaving no idle number ends with NO_COMMUNICATIONS', () => {
    const { camp, m } = awaitingStatus();
    const out = applyStatus(m, camp, { success: false, stop_communications: ['380501112233', '380671112233'] }, STATUS_AT);
    assert.deepEqual(out.decision, ended('NO_COMMUNICATIONS'));
    assert.equal(out.member.endCause, 'NO_COMMUNICATIONS');
  });

  test('stop_communications "all" alone ends with NO_COMMUNICATIONS', () => {
    const { camp, m } = awaitingStatus();
    const out = applyStatus(m, camp, { success: false, stop_communications: 'all' }, STATUS_AT);
    assert.deepEqual(out.decision, ended('NO_COMMUNICATIONS'));
    assert.ok(out.member.communications.every((c) => c.stopCommunication));
  });

  test('"all" with next_communication: everything stops, the new number stays callable', () => {
    const { camp, m } = awaitingStatus();
    const out = applyStatus(m, camp, { success: false, stop_communications: 'all', next_communication: '380997654321', next_after_sec: 600 }, STATUS_AT);
    assert.deepEqual(out.decision, { kind: 'retry', at: STATUS_AT + 600 * SEC });
    assert.equal(out.member.endCause, null);
    assert.equal(out.member.communications.length, 3);
    const added = out.member.communications[2];
    assert.equal(added.number, '380997654321');
    assert.equal(added.priority, 100);
    assert.equal(added.state, NUMBER_IDLE);
    assert.deepEqual(states(out.member), [NUMBER_END, NUMBER_END, NUMBER_IDLE]);
  });

  test('next_communication revives an existing number instead of duplicating it (§12 item 10)', () => {
    const { camp, m } = awaitingStatus();
    const out = applyStatus(m, camp, { success: false, stop_communications: 'all', next_communication: '380671112233' }, STATUS_AT);
    assert.equal(out.member.communications.length, 2);
    const revived = out.member.communications[1];
    assert.equal(revived.state, NUMBER_IDLE);
    assert.equal(revived.priority, 100);
    assert.equal(revived.stopCommunication, false);
    assert.equal(out.member.communications[0].state, NUMBER_END);
    assert.equal(out.decision.kind, 'retry');
  });

  test('reset_retries zeroes attempt counters but not number states or window counters', () => {
    const { camp, m } = awaitingStatus(
      {
        probeCount: 4,
        communications: [
          num('380501112233', { probe: 3, rangeId: '2024-06-03_540_780', rangeAttempts: 1 }),
          num('380671112233', { probe: 1, state: NUMBER_END }),
          num('380931112233'),
        ],
      },
      { maxTryCount: 5 },
    );
    assert.equal(m.probeCount, 5, 'at the limit');
    const out = applyStatus(m, camp, { success: false, reset_retries: true }, STATUS_AT);
    assert.equal(out.decision.kind, 'retry');
    assert.equal(out.member.probeCount, 0);
    assert.deepEqual(out.member.communications.map((c) => c.probe), [0, 0, 0]);
    assert.deepEqual(states(out.member), [NUMBER_IDLE, NUMBER_END, NUMBER_IDLE]);
    assert.equal(out.member.communications[0].rangeAttempts, 1);
    assert.equal(out.member.communications[0].rangeId, '2024-06-03_540_780');
  });

  test('without reset, probeCount ≥ maxTryCount ends with MAX_TRY_COUNT', () => {
    const { camp, m } = awaitingStatus({ probeCount: 2 }, { maxTryCount: 3 });
    const out = applyStatus(m, camp, { success: false, next_after_sec: 60 }, STATUS_AT);
    assert.deepEqual(out.decision, ended('MAX_TRY_COUNT'));
    assert.deepEqual(states(out.member), [NUMBER_END, NUMBER_END]);
  });

  test('below the limit a failed status is a plain retry', () => {
    const { camp, m } = awaitingStatus({ probeCount: 1 }, { maxTryCount: 3 });
    assert.equal(applyStatus(m, camp, { success: false }, STATUS_AT).decision.kind, 'retry');
  });

  test('order: MAX_TRY_COUNT is checked before NO_COMMUNICATIONS', () => {
    const { camp, m } = awaitingStatus({ probeCount: 2 }, { maxTryCount: 3 });
    const out = applyStatus(m, camp, { success: false, stop_communications: 'all' }, STATUS_AT);
    assert.deepEqual(out.decision, ended('MAX_TRY_COUNT'));
  });

  test('order: reset_retries does not revive stopped numbers (NO_COMMUNICATIONS)', () => {
    const { camp, m } = awaitingStatus();
    const out = applyStatus(m, camp, { success: false, stop_communications: 'all', reset_retries: true }, STATUS_AT);
    assert.deepEqual(out.decision, ended('NO_COMMUNICATIONS'));
    assert.equal(out.member.probeCount, 0);
  });

  test('order: next_communication comes last and revives a member at MAX_TRY_COUNT (v3)', () => {
    const { camp, m } = awaitingStatus({ probeCount: 2 }, { maxTryCount: 3 });
    const out = applyStatus(m, camp, { success: false, next_communication: '380997654321' }, STATUS_AT);
    assert.equal(out.decision.kind, 'retry');
    assert.equal(out.member.endCause, null);
    assert.deepEqual(states(out.member), [NUMBER_END, NUMBER_END, NUMBER_IDLE]);
  });
});

describe('§6.5 a status received during the call (settleAttempt)', () => {
  const camp = campaign({ waitingForResultStatus: true, wrapUpTime: 120, intervalTryCount: 60, maxTryCount: 3 });
  const two = () => member({ communications: [num('380501112233'), num('380671112233')] });

  test('success:true decides the bridged attempt at once: ended as a success, no wrap-up', () => {
    const out = settleAttempt(dial(two(), camp, call({ talkSec: 80 })), camp, { success: true }, MON_10);
    assert.deepEqual(out.decision, ended('NORMAL_CLEARING', true));
    assert.equal(out.statusApplied, true);
    assert.equal(out.member.callSuccessful, true);
    assert.ok(out.member.communications.every((c) => !c.checkResult));
    assert.ok(out.steps.includes('Status received during the call'));
  });

  test('success:false with next_after_sec: retried at end of call + next_after_sec, the attempt counted', () => {
    const out = settleAttempt(dial(two(), camp, call({ talkSec: 80 })), camp, { success: false, next_after_sec: 600 }, MON_10);
    assert.deepEqual(out.decision, { kind: 'retry', at: MON_10 + 600 * SEC });
    assert.equal(out.member.probeCount, 1);
    assert.equal(out.member.endCause, null);
  });

  test('not applied when the attempt awaits no status (not answered): the hangup cause decides', () => {
    const unanswered = dial(two(), camp, call({ cause: 'NO_ANSWER', bridged: false, answered: false, talkSec: 0 }));
    const out = settleAttempt(unanswered, camp, { success: true }, MON_10);
    assert.equal(out.statusApplied, false);
    assert.deepEqual(out.decision, unanswered.decision);
    assert.deepEqual(out.member, unanswered.member);
    assert.equal(out.member.callSuccessful, false);
    assert.match(out.steps.at(-1)!, /not applied/);
  });

  test('no status: the outcome unchanged', () => {
    const bridged = dial(two(), camp, call({ talkSec: 80 }));
    assert.deepEqual(settleAttempt(bridged, camp, null, MON_10), { ...bridged, statusApplied: false });
  });
});

describe('§11.1 successCall / errorCall per attempt (attemptCountsAs)', () => {
  test('success, failure (retry, minus, end without success), and undecided while awaiting the status', () => {
    assert.equal(attemptCountsAs({ kind: 'end', cause: 'NORMAL_CLEARING', success: true }), 'success');
    assert.equal(attemptCountsAs({ kind: 'end', cause: 'MANAGER_REQUEST', success: false }), 'error');
    assert.equal(attemptCountsAs({ kind: 'retry', at: MON_10 }), 'error');
    assert.equal(attemptCountsAs({ kind: 'await-status', deadline: MON_10 }), null);
    const minus = dial(member(), campaign(), call({ cause: 'NORMAL_TEMPORARY_FAILURE', bridged: false, answered: false }));
    assert.equal(attemptCountsAs(minus.decision), 'error', 'a refunded attempt did not succeed');
  });
});

describe('§8.3 autoResetStats: the calendar\'s day change (nextDayStart)', () => {
  test('the next local midnight in the zone, also across a DST change', () => {
    assert.equal(nextDayStart(ZONE, MON_10), at('2024-06-04T00:00'));
    assert.equal(nextDayStart(ZONE, at('2024-06-03T23:59:59.999')), at('2024-06-04T00:00'));
    assert.equal(nextDayStart(ZONE, at('2024-06-04T00:00')), at('2024-06-05T00:00'));
    // Kyiv goes to summer time on 2024-03-31 at 03:00: that day has 23 hours.
    assert.equal(nextDayStart(ZONE, at('2024-03-31T12:00')) - at('2024-03-31T00:00'), 23 * 3600 * SEC);
    assert.equal(nextDayStart('UTC', Date.UTC(2024, 0, 1, 22)), Date.UTC(2024, 0, 2));
  });
});

describe('§6.6 no status within the wrap-up time (applyStatusTimeout)', () => {
  test('refund mode (default): attempt and window counters refunded, lastCall −1, retry at the interval time', () => {
    const camp = campaign({ waitingForResultStatus: true, wrapUpTime: 120, intervalTryCount: 60, maxTryCount: 2, communicationTypes: [MOBILE] });
    const m = member({
      probeCount: 1,
      communications: [num('380501112233', { type: 'mobile', probe: 1 }), num('380671112233', { type: 'mobile' })],
    });
    const after = dial(m, camp, call());
    assert.equal(after.member.probeCount, 2, 'at the limit');
    const out = applyStatusTimeout(after.member, camp, 0);
    assert.deepEqual(out.decision, { kind: 'retry', at: MON_10 + 60 * SEC });
    assert.equal(out.member.probeCount, 1);
    assert.equal(out.member.communications[0].probe, 1);
    assert.equal(out.member.communications[0].rangeAttempts, 0);
    assert.equal(out.member.communications[1].rangeAttempts, 0, 'shared budget refunded');
    assert.equal(out.member.communications[0].lastCall, -1);
    assert.equal(out.member.endCause, null);
    assert.ok(out.member.communications.every((c) => !c.checkResult));
    assert.deepEqual(out.steps, ['No response result status, minus attempts']);
  });

  test('keep mode: the attempt stays counted; at the limit the member ends with MAX_TRY_COUNT', () => {
    const camp = campaign({ waitingForResultStatus: true, statusTimeoutMode: 'keep', maxTryCount: 2 });
    const atLimit = dial(member({ probeCount: 1 }), camp, call());
    const out = applyStatusTimeout(atLimit.member, camp, 0);
    assert.deepEqual(out.decision, ended('MAX_TRY_COUNT'));
    assert.equal(out.member.probeCount, 2);
    assert.equal(out.member.communications[0].state, NUMBER_END);
  });

  test('keep mode below the limit: retry at the interval time, attempt kept', () => {
    const camp = campaign({ waitingForResultStatus: true, statusTimeoutMode: 'keep', maxTryCount: 5, intervalTryCount: 60 });
    const after = dial(member(), camp, call());
    const out = applyStatusTimeout(after.member, camp, 0);
    assert.deepEqual(out.decision, { kind: 'retry', at: MON_10 + 60 * SEC });
    assert.equal(out.member.probeCount, 1);
    assert.equal(out.member.communications[0].probe, 1);
  });
});

// ---------------------------------------------------------------------------------------------
// §5.5 number choice

describe('§5.5 number choice', () => {
  test('untyped numbers rotate by lastCall (least recently tried first)', () => {
    const camp = campaign();
    const m = member({
      communications: [
        num('380501112233', { priority: 10, lastCall: at('2024-06-03T09:40') }),
        num('380671112233', { priority: 0, lastCall: at('2024-06-03T09:20') }),
        num('380931112233', { priority: 5, lastCall: at('2024-06-03T09:30') }),
      ],
    });
    assert.deepEqual(candidateNumbers(m, camp, MON_10).map((c) => c.index), [1, 2, 0]);
    assert.equal(chooseNumber(m, camp, MON_10)?.index, 1);
  });

  test('never-called and status-timed-out numbers (lastCall 0 / −1) come first', () => {
    const camp = campaign();
    const m = member({
      communications: [
        num('380501112233', { lastCall: at('2024-06-03T09:00') }),
        num('380671112233', { lastCall: 0 }),
        num('380931112233', { lastCall: -1 }),
      ],
    });
    assert.deepEqual(candidateNumbers(m, camp, MON_10).map((c) => c.index), [2, 1, 0]);
  });

  test('priority breaks ties, then fewer attempts', () => {
    const camp = campaign();
    const m = member({
      communications: [
        num('380501112233', { priority: 1, probe: 0 }),
        num('380671112233', { priority: 7, probe: 2 }),
        num('380931112233', { priority: 7, probe: 1 }),
      ],
    });
    assert.deepEqual(candidateNumbers(m, camp, MON_10).map((c) => c.index), [2, 1, 0]);
  });

  test('ended numbers and unroutable numbers are never candidates', () => {
    const camp = campaign();
    const m = member({
      communications: [num('380501112233', { state: NUMBER_END }), num('+1 212 555 0100'), num('380671112233')],
    });
    assert.deepEqual(candidateNumbers(m, camp, MON_10).map((c) => c.index), [2]);
  });

  test('typed numbers are callable only inside their type window', () => {
    const camp = campaign({ communicationTypes: [MOBILE, OFFICE] });
    const m = member({ communications: [num('380501112233', { type: 'mobile' }), num('380441112233', { type: 'office' })] });
    assert.deepEqual(candidateNumbers(m, camp, at('2024-06-03T10:00')).map((c) => c.index), [0]);
    assert.deepEqual(candidateNumbers(m, camp, at('2024-06-03T13:30')).map((c) => c.index), [], 'gap between windows');
    // 14:00: both open; mobile's afternoon range has priority 1, office 0.
    assert.deepEqual(candidateNumbers(m, camp, at('2024-06-03T14:00')).map((c) => c.index), [0, 1]);
    assert.equal(chooseNumber(m, camp, at('2024-06-03T13:30')), null);
  });

  test('window end is exclusive, start inclusive', () => {
    const lt = (iso: string) => localTime(at(iso), ZONE);
    assert.equal(openWindow(MOBILE, lt('2024-06-03T09:00'))?.range.startTime, 540);
    assert.equal(openWindow(MOBILE, lt('2024-06-03T12:59'))?.range.startTime, 540);
    assert.equal(openWindow(MOBILE, lt('2024-06-03T13:00')), null);
  });

  test('the first range with attempts > 0 is the open window; its id uses the full date', () => {
    const type: CommunicationType = {
      code: 'x',
      name: 'X',
      ranges: [
        { startTime: 540, endTime: 1020, attempts: 0, priority: 9 },
        { startTime: 600, endTime: 900, attempts: 2, priority: 3 },
        { startTime: 540, endTime: 1020, attempts: 5, priority: 1 },
      ],
    };
    assert.deepEqual(openWindow(type, localTime(MON_10, ZONE)), { id: '2024-06-03_600_900', range: type.ranges[1] });
    assert.equal(openWindow(type, localTime(at('2024-06-03T09:30'), ZONE))?.id, '2024-06-03_540_1020');
  });

  test('by-priority: window priority beats rotation', () => {
    const camp = campaign({ communicationTypes: [MOBILE, HOME] });
    const m = member({
      communications: [
        num('380441112233', { type: 'home', lastCall: 0 }),
        num('380501112233', { type: 'mobile', lastCall: at('2024-06-03T09:30') }),
      ],
    });
    assert.equal(chooseNumber(m, camp, MON_10)?.index, 1, 'mobile window priority 10 > home 5');
  });

  test('top-down: rotation (lastCall) beats window priority', () => {
    const camp = campaign({ communicationTypes: [MOBILE, HOME], numberStrategy: 'top-down' });
    const m = member({
      communications: [
        num('380441112233', { type: 'home', lastCall: 0 }),
        num('380501112233', { type: 'mobile', lastCall: at('2024-06-03T09:30') }),
      ],
    });
    assert.equal(chooseNumber(m, camp, MON_10)?.index, 0);
    // Same lastCall: window priority decides.
    m.communications[0].lastCall = m.communications[1].lastCall;
    assert.equal(chooseNumber(m, camp, MON_10)?.index, 1);
  });

  test('an exhausted window budget excludes the number until the next window/day', () => {
    const camp = campaign({ communicationTypes: [MOBILE] });
    const used = (rangeId: string, rangeAttempts: number) =>
      member({ communications: [num('380501112233', { type: 'mobile', rangeId, rangeAttempts })] });
    assert.equal(chooseNumber(used('2024-06-03_540_780', 2), camp, MON_10), null, '2 of 2 used');
    assert.equal(chooseNumber(used('2024-06-03_540_780', 1), camp, MON_10)?.index, 0, '1 of 2 used');
    assert.equal(chooseNumber(used('2024-06-02_540_780', 2), camp, MON_10)?.index, 0, "yesterday's window");
    // Same day of month, previous month: a different window (v3 compared day-of-month only).
    assert.equal(chooseNumber(used('2024-05-03_540_780', 2), camp, MON_10)?.index, 0, 'a month ago');
    // The afternoon window is a new budget.
    assert.equal(chooseNumber(used('2024-06-03_540_780', 2), camp, at('2024-06-03T14:10'))?.index, 0);
  });

  test('reserveAttempt counts the window and restarts the counter in a new window', () => {
    const camp = campaign({ communicationTypes: [MOBILE], retriesByNumber: true });
    const m = member({ communications: [num('380501112233', { type: 'mobile', probe: 3, rangeId: '2024-05-31_840_1020', rangeAttempts: 1 })] });
    const r = reserve(m, camp, 0, MON_10);
    const c = r.member.communications[0];
    assert.equal(c.rangeId, '2024-06-03_540_780');
    assert.equal(c.rangeAttempts, 1);
    assert.equal(c.probe, 4);
    assert.equal(r.member.probeCount, 1);
    const again = reserve(r.member, camp, 0, MON_10 + 120 * SEC);
    assert.equal(again.member.communications[0].rangeAttempts, 2);
    assert.equal(again.info.attempt, 2);
  });

  test('the window budget is shared by all numbers of a type unless retriesByNumber', () => {
    const m = member({
      communications: [num('380501112233', { type: 'mobile' }), num('380671112233', { type: 'mobile' }), num('380441112233', { type: 'home' })],
    });
    const shared = campaign({ communicationTypes: [MOBILE, HOME], retriesByNumber: false });
    let s = reserve(m, shared, 0).member;
    s = reserve(s, shared, 1).member;
    assert.deepEqual(s.communications.map((c) => c.rangeAttempts), [2, 2, 0]);
    assert.deepEqual(candidateNumbers(s, shared, MON_10).map((c) => c.index), [2], 'both mobiles used up 2 of 2');

    const perNumber = campaign({ communicationTypes: [MOBILE, HOME], retriesByNumber: true });
    let p = reserve(m, perNumber, 0).member;
    p = reserve(p, perNumber, 1).member;
    assert.deepEqual(p.communications.map((c) => c.rangeAttempts), [1, 1, 0]);
    assert.equal(candidateNumbers(p, perNumber, MON_10).length, 3);
  });

  test('a type unknown to the dialer (or no type) is allowed but sorted after typed numbers', () => {
    const camp = campaign({ communicationTypes: [HOME] });
    const m = member({
      communications: [
        num('380501112233', { type: 'fax', lastCall: 0, priority: 50 }),
        num('380671112233', { type: null, lastCall: 0, priority: 40 }),
        num('380441112233', { type: 'home', lastCall: at('2024-06-03T09:55') }),
      ],
    });
    const cands = candidateNumbers(m, camp, MON_10);
    assert.deepEqual(cands.map((c) => c.index), [2, 0, 1]);
    assert.equal(cands[1].window, null);
    // Outside the home window the unknown-type numbers are still callable.
    assert.deepEqual(candidateNumbers(m, camp, at('2024-06-03T18:00')).map((c) => c.index), [0, 1]);
  });
});

// ---------------------------------------------------------------------------------------------
// §2.5 routing, caller ID, channel variables

describe('§2.5 routing', () => {
  test('regex replace with $1 capture through a SIP gateway endpoint', () => {
    const res = resource({ dialedNumber: '^380(\\d{9})$', destinations: [destination({ gwName: 'kyivstar', dialString: '0$1' })] });
    const routes = routesFor('+380 (50) 111-22-33', [res]);
    assert.equal(routes.length, 1);
    assert.equal(routes[0].dialString, 'sofia/gateway/kyivstar/0501112233');
    assert.equal(routes[0].destination.uuid, 'dest-kyivstar');
  });

  test('a non-SIP destination uses the dial string as is', () => {
    const res = resource({
      dialedNumber: '^(\\d+)$',
      destinations: [destination({ gwProto: '', gwName: '', dialString: 'sofia/external/$1@10.0.0.7' })],
    });
    assert.equal(routesFor('380501112233', [res])[0].dialString, 'sofia/external/380501112233@10.0.0.7');
    const noGw = resource({ dialedNumber: '^(\\d+)$', destinations: [destination({ gwProto: 'sip', gwName: '', dialString: 'user/$1' })] });
    assert.equal(routesFor('1001', [noGw])[0].dialString, 'user/1001');
  });

  test('a partial regex only replaces the matched part (String.replace semantics)', () => {
    const res = resource({ dialedNumber: '^380', destinations: [destination({ gwName: 'lifecell', dialString: '0' })] });
    assert.equal(routesFor('380931112233', [res])[0].dialString, 'sofia/gateway/lifecell/0931112233');
  });

  test('only digits are dialled and matched', () => {
    assert.equal(dialDigits('+380 (50) 111-22-33'), '380501112233');
    const res = resource({ dialedNumber: '^\\+380' });
    assert.deepEqual(routesFor('+380501112233', [res]), [], 'the + is gone before matching');
  });

  test('disabled resources, disabled or zero-limit destinations and bad regexes are skipped', () => {
    const resources = [
      resource({ disabled: true, destinations: [destination({ uuid: 'r0' })] }),
      resource({ dialedNumber: '^(380\\d{9}', destinations: [destination({ uuid: 'bad-regex' })] }),
      resource({
        destinations: [destination({ uuid: 'off', enabled: false }), destination({ uuid: 'zero', limit: 0 }), destination({ uuid: 'ok' })],
      }),
    ];
    assert.deepEqual(routesFor('380501112233', resources).map((r) => r.destination.uuid), ['ok']);
    assert.deepEqual(routesFor('380501112233', [resources[0]]), []);
  });

  test('non-matching numbers have no route; a dialer without resources never dials', () => {
    assert.deepEqual(routesFor('12125550100', [resource()]), []);
    assert.deepEqual(routesFor('380501112233', []), []);
  });

  test('top_down keeps destination order across resources; random shuffles with the given source', () => {
    const dests = ['a', 'b', 'c'].map((uuid) => destination({ uuid }));
    const topDown = [resource({ destinations: dests }), resource({ destinations: [destination({ uuid: 'd' })] })];
    assert.deepEqual(routesFor('380501112233', topDown, () => 0).map((r) => r.destination.uuid), ['a', 'b', 'c', 'd']);

    const random = [resource({ strategy: 'random', destinations: dests })];
    const order = (rnd: () => number) => routesFor('380501112233', random, rnd).map((r) => r.destination.uuid);
    assert.deepEqual([...order(() => 0)].sort(), ['a', 'b', 'c']);
    assert.notDeepEqual(order(() => 0), ['a', 'b', 'c']);
    assert.deepEqual(order(() => 0), order(() => 0), 'deterministic for a given source');
    assert.deepEqual(dests.map((d) => d.uuid), ['a', 'b', 'c'], 'the campaign config is not reordered');
  });

  test('maxResources sums the limits of enabled destinations of enabled resources', () => {
    const resources = [
      resource({ destinations: [destination({ limit: 10 }), destination({ limit: 5, enabled: false })] }),
      resource({ destinations: [destination({ limit: 20 })] }),
      resource({ disabled: true, destinations: [destination({ limit: 100 })] }),
    ];
    assert.equal(maxResources(resources), 30);
    assert.equal(maxResources([]), 0);
  });
});

describe('§2.5 caller ID and §2.2 channel variables', () => {
  test('caller ID: member variable, else a random entry of the list, else the single number', () => {
    const dest = destination({ callerIdNumber: '380442000000', callerIdNumbers: ['380443000001', '380443000002', '380443000003'] });
    const withOwn = member({ variables: { outbound_caller_id_number: '380445555555' } });
    assert.equal(callerIdFor(withOwn, dest, () => 0.99), '380445555555');
    assert.equal(callerIdFor(member(), dest, () => 0), '380443000001');
    assert.equal(callerIdFor(member(), dest, () => 0.99), '380443000003');
    assert.equal(callerIdFor(member(), destination({ callerIdNumbers: [] }), () => 0.5), '380442000000');
  });

  test('attempt variables: dialer vars, then member vars (later wins), engine vars last', () => {
    const camp = campaign({
      communicationTypes: [MOBILE],
      variables: { greeting: 'dialer', RECORD_STEREO: 'true', dlr_member_id: 'spoofed-by-dialer' },
    });
    const m = member({ successfulCount: 1, variables: { greeting: 'member', crm_id: 'C-17', dlr_queue: 'spoofed', cc_side: 'agent' } });
    const comm = num('+380 50 111 22 33', { type: 'mobile', description: 'work cell' });
    const vars = attemptVariables({
      camp, member: m, memberId: 'member-9', workflowId: 'member-wf-9', attempt: 3, uuid: 'uuid-1', comm,
      callerId: '380443000001', typeName: 'Mobile',
    });
    assert.equal(vars.greeting, 'member');
    assert.equal(vars.RECORD_STEREO, 'true');
    assert.equal(vars.crm_id, 'C-17');
    assert.equal(vars.dlr_member_id, 'member-9');
    assert.equal(vars.dlr_queue, 'dialer-1');
    assert.equal(vars.cc_side, 'member');
    assert.equal(vars.webitel_direction, 'dialer');
    assert.equal(vars.domain_name, 'acme.example.com');
    assert.equal(vars.presence_data, 'acme.example.com');
    assert.equal(vars.cc_queue, 'Spring promo');
    assert.equal(vars.origination_caller_id_name, 'Spring promo');
    assert.equal(vars.origination_caller_id_number, '380443000001');
    assert.equal(vars.origination_callee_id_number, '380501112233', 'digits only');
    assert.equal(vars.origination_callee_id_name, 'Olena Petrenko');
    assert.equal(vars.dlr_current_attempt, '3');
    assert.equal(vars.cc_member_attempt_count, '3');
    assert.equal(vars.cc_member_successful_count, '1');
    assert.equal(vars.dlr_session_id, 'uuid-1');
    assert.equal(vars.dlr_member_number_description, 'work cell');
    assert.equal(vars.dlr_communication_type_code, 'mobile');
    assert.equal(vars.dlr_communication_type_name, 'Mobile');
  });

  test('channel-variable values reach FreeSWITCH without quotes, CR, LF, TAB or backslash', () => {
    // attemptVariables keeps raw values; esl/format buildOriginate applies the v3 sanitising.
    const camp = campaign({ name: `Olena's "promo"`, variables: { note: 'C:\\temp\tfile' } });
    const m = member({ name: `O'Brien\r\nJr`, variables: { crm_id: `C-1'7"` } });
    const comm = num('380501112233', { description: 'work\t"cell"' });
    const vars = attemptVariables({ camp, member: m, memberId: 'm', workflowId: 'w', attempt: 1, uuid: 'u', comm, callerId: '380443000001' });
    const cmd = buildOriginate({ uuid: 'u-1', dialString: 'sofia/gateway/kyivstar/380501112233', vars, timeoutSec: 60 });
    const block = cmd.slice(cmd.indexOf('{'), cmd.indexOf('}'));
    assert.doesNotMatch(block, /['"\r\n\t]/);
    assert.match(block, /crm_id=C-17(,|$)/);
    assert.match(block, /origination_callee_id_name=OBrienJr(,|$)/);
    assert.match(block, /dlr_member_number_description=workcell(,|$)/);
    assert.match(block, /note=C:tempfile(,|$)/);
    // The only backslashes left are buildOriginate's own escapes (\s for a space, \, for a comma).
    assert.doesNotMatch(block.replace(/\\[s,]/g, ''), /\\/);
  });

  test('cc_multiple_anonymous: every N-th attempt uses cc_anonymous_name as caller-ID name', () => {
    const camp = campaign({ variables: { cc_multiple_anonymous: '3', cc_anonymous_name: 'Anonymous' } });
    const nameOn = (attempt: number) =>
      attemptVariables({
        camp, member: member(), memberId: 'm', workflowId: 'w', attempt, uuid: 'u', comm: num('380501112233'), callerId: '1',
      }).origination_caller_id_name;
    assert.equal(nameOn(1), 'Spring promo');
    assert.equal(nameOn(3), 'Anonymous');
    assert.equal(nameOn(4), 'Spring promo');
    assert.equal(nameOn(6), 'Anonymous');
  });
});

// ---------------------------------------------------------------------------------------------
// §3.2 calendar

describe('§3.2 calendar', () => {
  test('weekday windows are inclusive at both ends', () => {
    const cal = calendar();
    assert.equal(calendarState(cal, at('2024-06-03T08:59')), 'closed');
    assert.equal(calendarState(cal, at('2024-06-03T09:00')), 'working');
    assert.equal(calendarState(cal, at('2024-06-03T17:00')), 'working');
    assert.equal(calendarState(cal, at('2024-06-03T17:00:59')), 'working');
    assert.equal(calendarState(cal, at('2024-06-03T17:01')), 'closed');
    assert.equal(calendarState(cal, at('2024-06-08T12:00')), 'closed', 'Saturday');
    assert.equal(calendarState(cal, at('2024-06-09T12:00')), 'closed', 'Sunday');
  });

  test('weekday is evaluated in the calendar zone, not UTC', () => {
    // Monday 01:30 in Kyiv is still Sunday in UTC.
    const cal = calendar({ accept: [{ weekDay: 1, startTime: 0, endTime: 120 }] });
    assert.equal(calendarState(cal, at('2024-06-03T01:30')), 'working');
    assert.equal(calendarState({ ...cal, timeZone: 'UTC' }, at('2024-06-03T01:30')), 'closed');
  });

  test('a one-off holiday closes only that date', () => {
    const cal = calendar({ except: [{ name: 'Constitution Day', date: at('2024-06-28T00:00'), repeat: false }] });
    assert.equal(calendarState(cal, at('2024-06-28T10:00')), 'closed');
    assert.equal(calendarState(cal, at('2024-06-27T10:00')), 'working');
    assert.equal(calendarState(cal, at('2027-06-28T10:00')), 'working', 'not repeated (2027-06-28 is a Monday)');
  });

  test('a repeating holiday closes that day every year', () => {
    const cal = calendar({ except: [{ name: 'Independence Day', date: at('2024-08-24T00:00'), repeat: true }] });
    assert.equal(calendarState(cal, at('2026-08-24T10:00')), 'closed', '2026-08-24 is a Monday');
    assert.equal(calendarState(cal, at('2026-08-25T10:00')), 'working');
  });

  test('startDate / endDate bound the campaign', () => {
    const cal = calendar({ startDate: at('2024-06-05T00:00'), endDate: at('2024-06-28T23:59') });
    assert.equal(calendarState(cal, MON_10), 'not-started');
    assert.equal(calendarState(cal, at('2024-06-05T10:00')), 'working');
    assert.equal(calendarState(cal, at('2024-06-28T10:00')), 'working');
    assert.equal(calendarState(cal, at('2024-07-01T10:00')), 'expired');
  });

  test('DST change day in Europe/Kyiv (2024-03-31, 03:00 → 04:00)', () => {
    const cal = calendar({ accept: [{ weekDay: 7, startTime: 540, endTime: 1020 }] });
    // After the change Kyiv is UTC+3: 09:00 local = 06:00Z.
    assert.equal(calendarState(cal, Date.UTC(2024, 2, 31, 5, 59)), 'closed');
    assert.equal(calendarState(cal, Date.UTC(2024, 2, 31, 6, 0)), 'working');
    assert.equal(localTime(Date.UTC(2024, 2, 31, 6, 0), ZONE).minuteOfDay, 540);
    assert.equal(localTime(Date.UTC(2024, 2, 31, 1, 0), ZONE).minuteOfDay, 4 * 60, '01:00Z is 04:00 local');
  });

  test('a holiday is evaluated in the calendar zone across a year boundary, once or every year', () => {
    // Midnight of 1 January in Kyiv is still 31 December in UTC.
    const newYear = { name: 'New Year', date: at('2025-01-01T00:00'), repeat: true };
    const cal = calendar({ accept: EVERY_DAY_9_TO_17, except: [newYear] });
    assert.equal(calendarState(cal, at('2024-12-31T10:00')), 'working');
    assert.equal(calendarState(cal, at('2026-01-01T10:00')), 'closed');
    assert.equal(calendarState(cal, at('2023-01-01T10:00')), 'closed', 'every year, also before the stored one');
    const once = calendar({ accept: EVERY_DAY_9_TO_17, except: [{ ...newYear, repeat: false }] });
    assert.equal(calendarState(once, at('2025-01-01T10:00')), 'closed');
    assert.equal(calendarState(once, at('2026-01-01T10:00')), 'working');
  });

  test("a holiday stays the same date for a member in another zone (year boundary, DST day)", () => {
    const camp = campaign({
      calendar: calendar({
        accept: EVERY_DAY_9_TO_17,
        except: [
          { name: 'New Year', date: at('2024-01-01T00:00'), repeat: true },
          // Kyiv's spring-forward day; midnight Kyiv is 22:00 the day before in London.
          { name: 'Spring', date: at('2024-03-31T00:00'), repeat: true },
        ],
      }),
    });
    const ny = inMemberZone(camp, { timezone: 'America/New_York' }).calendar;
    assert.equal(calendarState(ny, at('2024-12-31T10:00', 'America/New_York')), 'working');
    assert.equal(calendarState(ny, at('2025-01-01T10:00', 'America/New_York')), 'closed');
    const london = inMemberZone(camp, { timezone: 'Europe/London' }).calendar;
    assert.equal(calendarState(london, at('2025-03-30T10:00', 'Europe/London')), 'working');
    assert.equal(calendarState(london, at('2025-03-31T10:00', 'Europe/London')), 'closed');
    assert.equal(camp.calendar.except[0].date, at('2024-01-01T00:00'), 'the campaign snapshot is not changed');
  });

  test('a sleeping campaign looks again when its calendar opens, or at its endDate if that comes first (§8.3)', () => {
    const friday = at('2024-06-07T17:30');
    assert.equal(calendarOpensAt(campaign(), friday), at('2024-06-10T09:00'));
    const endsFriday = campaign({ calendar: calendar({ endDate: at('2024-06-07T20:00') }) });
    assert.equal(calendarOpensAt(endsFriday, friday), at('2024-06-07T20:00') + 1);
    assert.equal(calendarState(endsFriday.calendar, at('2024-06-07T20:00') + 1), 'expired');
    const endsLater = campaign({ calendar: calendar({ endDate: at('2024-06-12T20:00') }) });
    assert.equal(calendarOpensAt(endsLater, friday), at('2024-06-10T09:00'));
    const notYet = campaign({ calendar: calendar({ startDate: at('2024-06-12T12:00'), endDate: at('2024-06-30T00:00') }) });
    assert.equal(calendarOpensAt(notYet, MON_10), at('2024-06-12T12:00'));
    assert.equal(calendarOpensAt(campaign({ calendar: calendar({ accept: [] }) }), MON_10), null, 'never opens, never expires');
  });

  test('DST change day in America/New_York (2024-11-03, 02:00 → 01:00)', () => {
    const cal = calendar({ timeZone: 'America/New_York', accept: [{ weekDay: 7, startTime: 540, endTime: 1020 }] });
    // After the change New York is UTC−5: 09:00 local = 14:00Z.
    assert.equal(calendarState(cal, Date.UTC(2024, 10, 3, 13, 59)), 'closed');
    assert.equal(calendarState(cal, Date.UTC(2024, 10, 3, 14, 0)), 'working');
    assert.equal(calendarState(cal, Date.UTC(2024, 10, 3, 22, 0)), 'working', '17:00 local');
    assert.equal(calendarState(cal, Date.UTC(2024, 10, 3, 22, 1)), 'closed');
  });
});

// ---------------------------------------------------------------------------------------------
// nextAction: expiry (§5.6), retry wait, calendar and windows, NO_ROUTE

describe('nextAction', () => {
  test('dials the best number when everything is open', () => {
    const camp = campaign({ communicationTypes: [MOBILE] });
    const m = member({ communications: [num('380441112233', { lastCall: 0 }), num('380501112233', { type: 'mobile', lastCall: 5 })] });
    const a = nextAction(m, camp, MON_10);
    assert.equal(a.kind, 'dial');
    assert.equal(a.kind === 'dial' && a.choice.index, 1);
    assert.equal(a.kind === 'dial' && a.choice.window?.id, '2024-06-03_540_780');
  });

  test('an ended member stays ended', () => {
    assert.deepEqual(nextAction(member({ endCause: 'NORMAL_CLEARING' }), campaign(), MON_10), { kind: 'end', cause: 'NORMAL_CLEARING' });
  });

  test('expiry ends the member with MEMBER_EXPIRED without spending an attempt (§12 item 8)', () => {
    const m = member({ expire: MON_10, probeCount: 2 });
    assert.deepEqual(nextAction(m, campaign(), MON_10), { kind: 'end', cause: 'MEMBER_EXPIRED' });
    assert.equal(m.probeCount, 2);
    assert.equal(nextAction(member({ expire: MON_10 + 1 }), campaign(), MON_10).kind, 'dial');
  });

  test('no idle number left → NO_COMMUNICATIONS', () => {
    const m = member({ communications: [num('380501112233', { state: NUMBER_END })] });
    assert.deepEqual(nextAction(m, campaign(), MON_10), { kind: 'end', cause: 'NO_COMMUNICATIONS' });
  });

  test('waits until the retry time', () => {
    const m = member({ nextTryTime: MON_10 + 60 * SEC });
    assert.deepEqual(nextAction(m, campaign(), MON_10), { kind: 'wait', until: MON_10 + 60 * SEC, reason: 'retry wait' });
    assert.equal(nextAction(m, campaign(), MON_10 + 60 * SEC).kind, 'dial');
  });

  test('a retry time after closing waits for the next calendar opening (Friday → Monday)', () => {
    const m = member({ nextTryTime: at('2024-06-07T17:01') });
    const a = nextAction(m, campaign(), at('2024-06-07T16:59:30'));
    assert.deepEqual(a, { kind: 'wait', until: at('2024-06-10T09:00'), reason: 'retry wait' });
  });

  test('outside working hours waits for the next opening, skipping a holiday', () => {
    const camp = campaign({ calendar: calendar({ except: [{ date: at('2024-06-10T00:00'), repeat: false }] }) });
    const a = nextAction(member(), camp, at('2024-06-08T11:00'));
    assert.deepEqual(a, { kind: 'wait', until: at('2024-06-11T09:00'), reason: 'outside dialing window' });
  });

  test('waits for the communication-type window to open', () => {
    const camp = campaign({ communicationTypes: [OFFICE] });
    const m = member({ communications: [num('380441112233', { type: 'office' })] });
    assert.deepEqual(nextAction(m, camp, MON_10), { kind: 'wait', until: at('2024-06-03T14:00'), reason: 'outside dialing window' });
  });

  test('an exhausted window budget waits for the next window', () => {
    const camp = campaign({ communicationTypes: [MOBILE] });
    const m = member({ communications: [num('380501112233', { type: 'mobile', rangeId: '2024-06-03_540_780', rangeAttempts: 2 })] });
    assert.equal((nextAction(m, camp, MON_10) as { until: number }).until, at('2024-06-03T14:00'));
    const am = campaign({ communicationTypes: [{ ...MOBILE, ranges: [MOBILE.ranges[0]] }] });
    assert.equal((nextAction(m, am, MON_10) as { until: number }).until, at('2024-06-04T09:00'), 'next day');
  });

  test('a wait never goes past the member expiry', () => {
    const m = member({ expire: at('2024-06-08T12:00') });
    const a = nextAction(m, campaign(), at('2024-06-07T18:00'));
    assert.deepEqual(a, { kind: 'wait', until: at('2024-06-08T12:00'), reason: 'outside dialing window' });
    assert.deepEqual(nextAction(m, campaign(), at('2024-06-08T12:00')), { kind: 'end', cause: 'MEMBER_EXPIRED' });
  });

  test('waits for the calendar start date; an expired calendar waits for an outside change', () => {
    const notYet = campaign({ calendar: calendar({ startDate: at('2024-06-05T00:00') }) });
    assert.equal((nextAction(member(), notYet, MON_10) as { until: number }).until, at('2024-06-05T09:00'));
    const over = campaign({ calendar: calendar({ endDate: at('2024-05-31T23:59') }) });
    assert.deepEqual(nextAction(member(), over, MON_10), { kind: 'wait', until: null, reason: 'calendar expired' });
  });

  test('across a DST change the wait ends at local 09:00 (Kyiv spring forward)', () => {
    const camp = campaign({ calendar: calendar({ accept: [{ weekDay: 7, startTime: 540, endTime: 1020 }] }) });
    const a = nextAction(member(), camp, at('2024-03-30T20:00'));
    assert.equal(a.kind === 'wait' && a.until, Date.UTC(2024, 2, 31, 6, 0));
  });

  test('across a DST change the wait ends at local 09:00 (New York fall back)', () => {
    const ny = 'America/New_York';
    const camp = campaign({ calendar: calendar({ timeZone: ny, accept: [{ weekDay: 7, startTime: 540, endTime: 1020 }] }) });
    const a = nextAction(member(), camp, at('2024-11-02T20:00', ny));
    assert.equal(a.kind === 'wait' && a.until, Date.UTC(2024, 10, 3, 14, 0));
  });

  test('NO_ROUTE when no resource routes any idle number', () => {
    const m = member({ communications: [num('+1 212 555 0100'), num('+44 20 7946 0000')] });
    assert.deepEqual(nextAction(m, campaign(), MON_10), { kind: 'end', cause: 'NO_ROUTE' });
    assert.deepEqual(nextAction(member(), campaign({ resources: [] }), MON_10), { kind: 'end', cause: 'NO_ROUTE' });
    assert.deepEqual(nextAction(member(), campaign({ resources: [resource({ disabled: true })] }), MON_10), { kind: 'end', cause: 'NO_ROUTE' });
  });

  test('not NO_ROUTE when the number is routable but outside hours or windows', () => {
    assert.equal(nextAction(member(), campaign(), at('2024-06-08T11:00')).kind, 'wait');
    const camp = campaign({ communicationTypes: [OFFICE] });
    const m = member({ communications: [num('380441112233', { type: 'office', rangeId: '2024-06-03_840_1020', rangeAttempts: 1 })] });
    assert.equal(nextAction(m, camp, at('2024-06-03T15:00')).kind, 'wait');
  });

  test('an unroutable number is skipped in favour of a routable one', () => {
    const m = member({ communications: [num('+1 212 555 0100'), num('380671112233')] });
    const a = nextAction(m, campaign(), MON_10);
    assert.equal(a.kind === 'dial' && a.choice.index, 1);
  });
});

// ---------------------------------------------------------------------------------------------
// §8.5 one-day task

describe('§8.5 one-day task', () => {
  const mobile = (over: Partial<Communication> = {}) => member({ communications: [num('380501112233', { type: 'mobile', ...over })] });
  const camp = campaign({ communicationTypes: [MOBILE] });

  test('work left while the last window of the day is ahead or open', () => {
    assert.equal(hasWorkToday(mobile(), camp, at('2024-06-03T07:00')), true);
    assert.equal(hasWorkToday(mobile(), camp, MON_10), true);
    assert.equal(hasWorkToday(mobile(), camp, at('2024-06-03T16:59')), true);
  });

  test('no work once the last window (largest endTime with attempts > 0) has ended', () => {
    assert.equal(hasWorkToday(mobile(), camp, at('2024-06-03T17:00')), false);
    const withDeadRange = campaign({
      communicationTypes: [{ ...MOBILE, ranges: [...MOBILE.ranges, { startTime: 1080, endTime: 1260, attempts: 0, priority: 0 }] }],
    });
    assert.equal(hasWorkToday(mobile(), withDeadRange, at('2024-06-03T17:30')), false, 'a 0-attempt range does not count');
  });

  test('no work when the number used up its attempts in the open last window', () => {
    assert.equal(hasWorkToday(mobile({ rangeId: '2024-06-03_840_1020', rangeAttempts: 1 }), camp, at('2024-06-03T15:00')), false);
    assert.equal(hasWorkToday(mobile({ rangeId: '2024-06-03_540_780', rangeAttempts: 2 }), camp, at('2024-06-03T15:00')), true, 'morning budget only');
    assert.equal(hasWorkToday(mobile({ rangeId: '2024-06-03_540_780', rangeAttempts: 2 }), camp, at('2024-06-03T11:00')), true, 'afternoon still ahead');
  });

  test('a rangeId from an earlier day counts as used up while the last window is open', () => {
    assert.equal(hasWorkToday(mobile({ rangeId: '2024-05-31_840_1020', rangeAttempts: 1 }), camp, at('2024-06-03T15:00')), false);
    assert.equal(hasWorkToday(mobile({ rangeId: '2024-05-31_840_1020', rangeAttempts: 1 }), camp, MON_10), true, 'not the last window');
    assert.equal(hasWorkToday(mobile({ rangeId: null }), camp, at('2024-06-03T15:00')), true, 'never dialled in a window');
  });

  test('ended numbers of a configured type have no work', () => {
    assert.equal(hasWorkToday(mobile({ state: NUMBER_END }), camp, MON_10), false);
  });

  test('an untyped or unknown-type number always counts as remaining work (whatever its state)', () => {
    const late = at('2024-06-03T22:00');
    assert.equal(hasWorkToday(member(), camp, late), true);
    assert.equal(hasWorkToday(member({ communications: [num('380501112233', { type: 'fax' })] }), camp, late), true);
    const m = member({ communications: [num('380501112233', { type: 'mobile' }), num('380441112233', { type: 'fax', state: NUMBER_END })] });
    assert.equal(hasWorkToday(m, camp, late), true);
  });

  test('nextAction ends with MEMBER_EXPIRED only when oneDayTask is on', () => {
    const after = at('2024-06-03T17:30');
    assert.deepEqual(nextAction(mobile(), { ...camp, oneDayTask: true }, after), { kind: 'end', cause: 'MEMBER_EXPIRED' });
    assert.deepEqual(nextAction(mobile(), camp, after), { kind: 'wait', until: at('2024-06-04T09:00'), reason: 'outside dialing window' });
  });

  test('a member waiting past the end of the last window wakes then and expires (not dialled tomorrow)', () => {
    const oneDay = campaign({ oneDayTask: true, communicationTypes: [{ ...MOBILE, ranges: [MOBILE.ranges[0], { ...MOBILE.ranges[1], attempts: 2 }] }] });
    const m = mobile({ rangeId: '2024-06-03_840_1020', rangeAttempts: 1, lastCall: at('2024-06-03T16:55') });
    m.nextTryTime = at('2024-06-03T17:05');
    const a = nextAction(m, oneDay, at('2024-06-03T16:56'));
    assert.equal(a.kind, 'wait');
    const until = (a as { until: number }).until;
    assert.ok(until <= at('2024-06-03T17:05'), `woke at ${new Date(until).toISOString()}`);
    assert.deepEqual(nextAction(m, oneDay, until), { kind: 'end', cause: 'MEMBER_EXPIRED' });
  });

  test('a member outside calendar hours wakes when the last window ends and expires', () => {
    // Calendar closes at 15:00 but the mobile afternoon window runs to 17:00.
    const oneDay = campaign({
      oneDayTask: true,
      communicationTypes: [MOBILE],
      calendar: calendar({ accept: [1, 2, 3, 4, 5].map((weekDay) => ({ weekDay, startTime: 540, endTime: 900 })) }),
    });
    const a = nextAction(mobile(), oneDay, at('2024-06-03T15:30'));
    assert.equal(a.kind, 'wait');
    const until = (a as { until: number }).until;
    assert.ok(until <= at('2024-06-03T17:00'), `woke at ${new Date(until).toISOString()}`);
    assert.deepEqual(nextAction(mobile(), oneDay, until), { kind: 'end', cause: 'MEMBER_EXPIRED' });
  });
});

// ---------------------------------------------------------------------------------------------
// §5.2 member update from the API

describe('§5.2 mergeClientPatch', () => {
  const engineState = () =>
    member({
      probeCount: 3,
      successfulCount: 1,
      nextTryTime: MON_10 + 60 * SEC,
      lastCall: MON_10,
      lastNumberIndex: 1,
      communications: [
        num('380501112233', { priority: 1, probe: 2, lastCall: MON_10 - 600 * SEC, rangeId: '2024-06-03_540_780', rangeAttempts: 2, type: 'mobile' }),
        num('380671112233', { state: NUMBER_END, stopCommunication: true, probe: 1, lastCall: MON_10, checkResult: true }),
      ],
    });

  test('existing numbers keep engine-owned fields; client fields are replaced', () => {
    const out = mergeClientPatch(engineState(), {
      communications: [
        { number: '380671112233', priority: 9, description: 'spouse' },
        { number: '380501112233', priority: 4, type: 'mobile' },
        { number: '380931112233' },
      ],
    });
    const [spouse, own, added] = out.communications;
    assert.equal(spouse.priority, 9);
    assert.equal(spouse.description, 'spouse');
    assert.equal(spouse.state, NUMBER_END);
    assert.equal(spouse.stopCommunication, true);
    assert.equal(spouse.probe, 1);
    assert.equal(spouse.lastCall, MON_10);
    assert.equal(spouse.checkResult, true);
    assert.equal(own.priority, 4);
    assert.equal(own.probe, 2);
    assert.equal(own.rangeId, '2024-06-03_540_780');
    assert.equal(own.rangeAttempts, 2);
    assert.equal(own.lastCall, MON_10 - 600 * SEC);
    assert.deepEqual(added, num('380931112233', { stopCommunication: false, checkResult: false }));
  });

  test('numbers left out of the patch are removed', () => {
    const out = mergeClientPatch(engineState(), { communications: [{ number: '380501112233' }] });
    assert.deepEqual(out.communications.map((c) => c.number), ['380501112233']);
  });

  test('member-level engine fields cannot be set through a patch', () => {
    const sneaky = { name: 'New name', _probeCount: 0, probeCount: 0, endCause: 'X', successfulCount: 0, nextTryTime: null } as never;
    const before = engineState();
    const out = mergeClientPatch(before, sneaky);
    assert.equal(out.name, 'New name');
    assert.equal(out.probeCount, 3);
    assert.equal(out.endCause, null);
    assert.equal(out.successfulCount, 1);
    assert.equal(out.nextTryTime, MON_10 + 60 * SEC);
    assert.equal(out.lastCall, MON_10);
    assert.deepEqual(out.communications, before.communications);
  });

  test('client fields: absent keeps, present replaces (variables replaced wholesale)', () => {
    const m = member({ priority: 2, expire: null, variables: { a: '1', b: '2' } });
    const out = mergeClientPatch(m, { priority: 7, expire: at('2024-06-30T00:00'), variables: { c: '3' } });
    assert.equal(out.priority, 7);
    assert.equal(out.expire, at('2024-06-30T00:00'));
    assert.deepEqual(out.variables, { c: '3' });
    assert.equal(out.name, 'Olena Petrenko');
    assert.deepEqual(mergeClientPatch(m, {}), m);
  });
});

// ---------------------------------------------------------------------------------------------
// A whole attempt cycle with a status

describe('attempt cycle', () => {
  test('await status → timeout (refund) → the same number is dialled again at the interval time', () => {
    const camp = campaign({ waitingForResultStatus: true, wrapUpTime: 120, intervalTryCount: 60 });
    const m = member({ communications: [num('380501112233'), num('380671112233')] });
    const first = nextAction(m, camp, MON_10);
    assert.equal(first.kind === 'dial' && first.choice.index, 0);
    const afterCall = dial(m, camp, call(), 0, MON_10);
    assert.equal(afterCall.decision.kind, 'await-status');
    const timedOut = applyStatusTimeout(afterCall.member, camp, 0);
    assert.equal(timedOut.member.probeCount, 0);
    // Number 0 has lastCall −1 now, so it is preferred again over the never-called number 1.
    const next = nextAction(timedOut.member, camp, MON_10 + 30 * SEC);
    assert.deepEqual(next, { kind: 'wait', until: MON_10 + 60 * SEC, reason: 'retry wait' });
    const again = nextAction(timedOut.member, camp, MON_10 + 60 * SEC);
    assert.equal(again.kind === 'dial' && again.choice.index, 0);
  });
});

// ---------------------------------------------------------------------------------------------
// What the member workflow computes before placeCall

describe('planAttempt', () => {
  const ids = { domain: 'acme.example.com', campaignId: 'dialer-1', memberId: 'm-1', workflowId: 'member-dialer-1-m-1', uuid: 'u-1', jobUuid: 'j-1' };

  test('the mobile number in its morning window: the attempt counted, logged, its variables and route', () => {
    const camp = campaign({ communicationTypes: [MOBILE, HOME], limit: 30 });
    const m = member({
      variables: { customer: 'A-17' },
      communications: [num('380501112233', { type: 'home' }), num('380671112233', { type: 'mobile', description: 'cell' })],
    });
    const before = JSON.stringify(m);
    const action = nextAction(m, camp, MON_10);
    assert.ok(action.kind === 'dial');
    const plan = planAttempt({ ...ids, member: m, camp, choice: action.choice, now: MON_10, random: () => 0 });
    assert.equal(JSON.stringify(m), before, 'the member passed in is not changed');
    assert.equal(plan.numberIndex, 1, 'the mobile window has the higher range priority');
    assert.equal(plan.idleAtStart, 2);
    const { call } = plan;
    assert.deepEqual(
      [call.uuid, call.jobUuid, call.domain, call.campaignId, call.memberId, call.workflowId, call.attempt, call.number, call.limit, call.timeoutSec],
      ['u-1', 'j-1', 'acme.example.com', 'dialer-1', 'm-1', 'member-dialer-1-m-1', 1, '380671112233', 10, 60],
      'the campaign limit is capped by the lines of its resources (10)',
    );
    assert.equal(call.member.probeCount, 1);
    assert.deepEqual([call.member.communications[1].probe, call.member.communications[1].rangeAttempts], [1, 1]);
    assert.deepEqual(call.log, {
      state: 'reserved', session: 'u-1', reservedTime: MON_10, callNumber: '380671112233', callPriority: 0, callDescription: 'cell',
      callTypeCode: 'mobile', callPositionIndex: 1, callAttempt: 1, callUUID: 'u-1', steps: [{ time: MON_10, data: 'set number: 380671112233' }],
    });
    assert.equal(call.vars.customer, 'A-17');
    assert.deepEqual(
      [call.vars.dlr_current_attempt, call.vars.dlr_session_id, call.vars.dlr_member_id, call.vars.dlr_communication_type_name, call.vars.dlr_member_number_description],
      ['1', 'u-1', 'm-1', 'Mobile', 'cell'],
    );
    assert.ok(!('origination_caller_id_number' in call.vars), 'the caller ID goes with the route');
    assert.deepEqual(call.routes, [
      { destinationId: 'dest-kyivstar', destinationLimit: 10, dialString: 'sofia/gateway/kyivstar/380671112233', callerId: '380442000000' },
    ]);
  });

  test('the random source orders random destinations and picks each one caller ID; the member\'s own caller ID wins', () => {
    const a = destination({ uuid: 'a', callerIdNumbers: ['1', '2'] });
    const b = destination({ uuid: 'b', callerIdNumbers: ['3', '4'] });
    const camp = campaign({ resources: [resource({ strategy: 'random', destinations: [a, b] })] });
    const choice = { index: 0, window: null };
    const values = [0, 0.9, 0];
    const plan = planAttempt({ ...ids, member: member(), camp, choice, now: MON_10, random: () => values.shift() ?? 0 });
    // Shuffle: j = floor(0 × 2) = 0 swaps b first; then caller IDs: floor(0.9 × 2) = 1 of b, 0 of a.
    assert.deepEqual(plan.call.routes.map((r) => [r.destinationId, r.callerId]), [['b', '4'], ['a', '1']]);
    const own = planAttempt({ ...ids, member: member({ variables: { outbound_caller_id_number: '777' } }), camp, choice, now: MON_10, random: () => 0 });
    assert.deepEqual(own.call.routes.map((r) => r.callerId), ['777', '777']);
  });

  test('a member that already used attempts: the attempt number follows its count', () => {
    const m = member({ probeCount: 3, communications: [num('380501112233', { probe: 3 })] });
    const plan = planAttempt({ ...ids, member: m, camp: campaign(), choice: { index: 0, window: null }, now: MON_10, random: () => 0 });
    assert.deepEqual([plan.call.attempt, plan.call.log.callAttempt, plan.call.vars.dlr_current_attempt, plan.call.member.communications[0].probe], [4, 4, '4', 4]);
  });
});

describe('endWithoutCall', () => {
  test('every number ends, the member ends with the cause, not successful; the input is unchanged', () => {
    const m = member({ communications: [num('380501112233'), num('380671112233', { state: 1 })] });
    const out = endWithoutCall(m, END.MEMBER_EXPIRED);
    assert.deepEqual(out.decision, { kind: 'end', cause: END.MEMBER_EXPIRED, success: false });
    assert.deepEqual(out.steps, [END.MEMBER_EXPIRED]);
    assert.equal(out.member.endCause, END.MEMBER_EXPIRED);
    assert.deepEqual(out.member.communications.map((c) => c.state), [NUMBER_END, NUMBER_END]);
    assert.equal(m.endCause, null);
  });
});
