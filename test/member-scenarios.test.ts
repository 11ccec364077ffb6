// Scenario tests of issue 3 on the real stack (time-skipping Temporal test server, FerretDB through
// the real activities, the FreeSWITCH simulator through the real ESL client): every row of the
// §4.1 cause table, the minBillSec boundary, Minus refunds, MAX_TRY_COUNT across two numbers and
// number rotation for both strategies (§5.5). Each asserts what is stored (member doc, attempts,
// campaign counters) and what the simulator saw. Status fields and windows across a DST change are
// in member-status-scenarios.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import { Attempt, MemberEnd } from '../models';
import { terminateUpdate, type MemberWorkflowResult } from '../workflows/messages';
import { appliedAttempt, createCampaign, createMember, recordHistory } from './support/env';
import { scenarioFile, steps } from './support/scenarios';
import { closed } from './support/stack';
import type { Rule } from '../simulator';

const DB = 'member_scenarios_test';
const RULES: Rule[] = [
  { prefix: '10', outcome: { type: 'busy', ringSec: 0 } },
  { prefix: '20', outcome: { type: 'answer', ringSec: 0, talkSec: 0 } },
  { prefix: '21', outcome: { type: 'answer', ringSec: 0, talkSec: 1 } },
  { prefix: '22', outcome: { type: 'answer', ringSec: 0, talkSec: 2 } },
  { prefix: '30', outcome: { type: 'unallocated', ringSec: 0 } },
  { prefix: '40', outcome: { type: 'temp_failure', ringSec: 0 } },
  // SIP 607 → UNWANTED (mod_sofia), a cause in none of the default lists.
  { prefix: '60', outcome: { type: 'sip', status: 607, ringSec: 0 } },
];

const f = scenarioFile(DB, RULES);

const ended = (h: WorkflowHandle) => closed<MemberWorkflowResult>(h);

describe('§4.1 cause categories through the member workflow', () => {
  test('Minus: the attempt is refunded (member, number and window counters), lastCall 0, retry after intervalTryCount', async () => {
    const camp = await createCampaign(
      { communications: { types: [{ code: 'mobile', name: 'Mobile', ranges: [{ startTime: 0, endTime: 1440, attempts: 3 }] }] } },
      { maxTryCount: 1, intervalTryCount: 60 },
    );
    const m = await createMember(String(camp._id), ['4000001'], { communications: [{ number: '4000001', type: 'mobile' }] });
    const h = await f.sc.start(String(camp._id), String(m._id));
    const info = await f.sc.afterCalls(h, String(m._id), 1, 'waiting', 'retry wait');
    assert.equal(info.member.probeCount, 0);

    const d = await f.sc.doc(m._id);
    const [entry] = await f.sc.log(m._id);
    assert.equal(d._probeCount, 0, 'member attempt refunded');
    assert.equal(d._lastMinusProbe, true);
    assert.equal(d.lastCall, 0, 'member lastCall reset to 0');
    assert.equal(d._endCause, null);
    assert.deepEqual(
      d.communications.map((c) => [c.state, c._probe, c.rangeAttempts, c.lastCall]),
      [[0, 0, 0, 0]],
      'number idle, its attempt and window counters decremented, lastCall 0',
    );
    assert.match(d.communications[0].rangeId ?? '', /^\d{4}-\d{2}-\d{2}_0_1440$/, 'the window was used (then refunded)');
    assert.equal(d._nextTryTime, entry.callTime + 60_000, 'next try = end of the call + intervalTryCount');
    assert.deepEqual([entry.cause, entry.causeQ850, entry.callAttempt], ['NORMAL_TEMPORARY_FAILURE', 41, 1]);
    assert.ok(steps(entry).includes('Minus probe: NORMAL_TEMPORARY_FAILURE'));

    const [call] = f.sc.callsTo(String(m._id));
    assert.equal(call.result, '-ERR NORMAL_TEMPORARY_FAILURE', 'the simulator refused the originate with 503');
    const attempt = await appliedAttempt<{ result?: { cause?: string } }>(call.originationUuid!);
    assert.equal(attempt!.result?.cause, 'NORMAL_TEMPORARY_FAILURE');
    // §11.1: every attempt is a success or an error, refunded or not.
    assert.deepEqual([(await f.sc.stats(camp._id)).callCount, (await f.sc.stats(camp._id)).errorCall], [1, 1]);

    // maxTryCount = 1 and the attempt was refunded: the member is dialled again, still as attempt 1.
    await f.env.sleep('61s');
    await f.sc.afterCalls(h, String(m._id), 2, 'waiting', 'retry wait');
    assert.deepEqual(f.sc.callsTo(String(m._id)).map((c) => c.channelVars.dlr_current_attempt), ['1', '1']);
    assert.deepEqual(await h.executeUpdate(terminateUpdate, { args: [] }), { _id: String(m._id) });
    assert.deepEqual(await ended(h), { endCause: 'MANAGER_REQUEST', attempts: 0 });
    await recordHistory(h, 'scn-minus-refund-window');
  });

  test('Minus refund keeps _probeCount: a counted attempt, then a refunded one on the other number', async () => {
    const camp = await createCampaign({}, { maxTryCount: 3, intervalTryCount: 60 });
    const m = await createMember(String(camp._id), ['1000002', '4000002']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    await f.sc.afterCalls(h, String(m._id), 1, 'waiting', 'retry wait');
    assert.equal((await f.sc.doc(m._id))._probeCount, 1, 'USER_BUSY counts');
    await f.env.sleep('61s');
    const info = await f.sc.afterCalls(h, String(m._id), 2, 'waiting', 'retry wait');
    assert.equal(info.member.probeCount, 1);
    let d = await f.sc.doc(m._id);
    assert.equal(d._probeCount, 1, '_probeCount unchanged across the refunded attempt');
    assert.deepEqual(d.communications.map((c) => [c.number, c._probe]), [['1000002', 1], ['4000002', 0]]);
    assert.equal(d.communications[1].lastCall, 0);

    // The refunded number has lastCall 0 again, so rotation picks it first; its attempt number is
    // the same as the refunded one's.
    await f.env.sleep('61s');
    await f.sc.afterCalls(h, String(m._id), 3, 'waiting', 'retry wait');
    const calls = f.sc.callsTo(String(m._id));
    assert.deepEqual(calls.map((c) => [c.destination, c.channelVars.dlr_current_attempt]), [['1000002', '1'], ['4000002', '2'], ['4000002', '2']]);
    d = await f.sc.doc(m._id);
    assert.equal(d._probeCount, 1);
    assert.deepEqual((await f.sc.log(m._id)).map((e) => [e.callAttempt, e.cause]), [[1, 'USER_BUSY'], [2, 'NORMAL_TEMPORARY_FAILURE'], [2, 'NORMAL_TEMPORARY_FAILURE']]);
    await h.executeUpdate(terminateUpdate, { args: [] });
    assert.deepEqual(await ended(h), { endCause: 'MANAGER_REQUEST', attempts: 1 });
  });

  test('OK: a bridged NORMAL_CLEARING ends the member successfully, every number End', async () => {
    const camp = await createCampaign();
    const m = await createMember(String(camp._id), ['2000003', '1000003']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    assert.deepEqual(await ended(h), { endCause: 'NORMAL_CLEARING', attempts: 1 });
    const d = await f.sc.doc(m._id);
    assert.deepEqual([d._endCause, d.callSuccessful, d.successfulCount, d._probeCount], ['NORMAL_CLEARING', true, 1, 1]);
    assert.deepEqual(d.communications.map((c) => c.state), [2, 2]);
    const [entry] = await f.sc.log(m._id);
    assert.deepEqual([entry.state, entry.cause, entry.causeQ850, entry.callSuccessful, entry.talkSec], ['end', 'NORMAL_CLEARING', 16, true, 0]);
    const [call] = f.sc.callsTo(String(m._id));
    assert.deepEqual([call.destination, call.hangupCause, call.billsec], ['2000003', 'NORMAL_CLEARING', 0]);
    const s = await f.sc.stats(camp._id);
    assert.deepEqual([s.callCount, s.successCall, s.errorCall, s.connectedCall, s.bridgedCall], [1, 1, 0, 1, 1]);
    const event = await MemberEnd.findOne({ member: String(m._id) }).lean<{ event: { endCause: string; currentProbe: number; session: string } }>();
    // §11.2: `session` is the member's last attempt (its origination uuid).
    assert.deepEqual([event!.event.endCause, event!.event.currentProbe, event!.event.session], ['NORMAL_CLEARING', 1, entry.session]);
  });

  test('Retry: the number stays idle, next try after intervalTryCount; at maxTryCount MAX_TRY_COUNT', async () => {
    const camp = await createCampaign({}, { maxTryCount: 2, intervalTryCount: 120 });
    const m = await createMember(String(camp._id), ['1000004']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    await f.sc.afterCalls(h, String(m._id), 1, 'waiting', 'retry wait');
    const d = await f.sc.doc(m._id);
    const [first] = await f.sc.log(m._id);
    assert.deepEqual([d._probeCount, d.communications[0].state, d.communications[0]._probe, d._endCause], [1, 0, 1, null]);
    assert.equal(d._nextTryTime, first.callTime + 120_000);
    assert.ok(steps(first).includes('Retry: USER_BUSY'));
    await f.env.sleep('110s');
    assert.equal(f.sc.callsTo(String(m._id)).length, 1, 'not dialled before intervalTryCount');
    await f.env.sleep('11s');
    assert.deepEqual(await ended(h), { endCause: 'MAX_TRY_COUNT', attempts: 2 });
    const [, second] = await f.sc.log(m._id);
    assert.ok(second.reservedTime >= first.callTime + 120_000, 'second attempt after the interval (workflow time)');
    assert.ok(steps(second).includes('max try count'));
    const end = await f.sc.doc(m._id);
    assert.deepEqual([end._endCause, end.callSuccessful, end.communications[0].state], ['MAX_TRY_COUNT', false, 2]);
    assert.deepEqual(f.sc.callsTo(String(m._id)).map((c) => c.result), ['-ERR USER_BUSY', '-ERR USER_BUSY']);
    const s = await f.sc.stats(camp._id);
    assert.deepEqual([s.callCount, s.successCall, s.errorCall], [2, 0, 2], '§11.1: errorCall counts failed attempts');
  });

  test('Error: the only idle number is retired and the member ends with the cause', async () => {
    const camp = await createCampaign();
    const m = await createMember(String(camp._id), ['3000005']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    assert.deepEqual(await ended(h), { endCause: 'UNALLOCATED_NUMBER', attempts: 1 });
    const d = await f.sc.doc(m._id);
    assert.deepEqual([d._endCause, d.callSuccessful, d._probeCount, d.communications[0].state], ['UNALLOCATED_NUMBER', false, 1, 2]);
    const [entry] = await f.sc.log(m._id);
    assert.deepEqual([entry.cause, entry.causeQ850, entry.callSuccessful], ['UNALLOCATED_NUMBER', 1, false]);
    assert.equal(f.sc.callsTo(String(m._id))[0].result, '-ERR UNALLOCATED_NUMBER');
  });

  test('Error at the last allowed attempt: MAX_TRY_COUNT overrides, although another number is idle (§6.2 step 8)', async () => {
    const camp = await createCampaign({}, { maxTryCount: 1 });
    const m = await createMember(String(camp._id), ['3000006', '2000006']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    assert.deepEqual(await ended(h), { endCause: 'MAX_TRY_COUNT', attempts: 1 });
    const d = await f.sc.doc(m._id);
    assert.deepEqual(d.communications.map((c) => [c.number, c.state, c._probe]), [['3000006', 2, 1], ['2000006', 2, 0]]);
    const [entry] = await f.sc.log(m._id);
    assert.deepEqual(steps(entry).slice(-2), ['Error: UNALLOCATED_NUMBER, number 3000006 retired', 'max try count']);
    assert.deepEqual(f.sc.callsTo(String(m._id)).map((c) => c.destination), ['3000006']);
    await recordHistory(h, 'scn-error-max-try-count');
  });

  test('a cause in no list (SIP 607 → UNWANTED) behaves as Retry: number idle, retry, then MAX_TRY_COUNT', async () => {
    const camp = await createCampaign({}, { maxTryCount: 2, intervalTryCount: 60 });
    const m = await createMember(String(camp._id), ['6000007']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    await f.sc.afterCalls(h, String(m._id), 1, 'waiting', 'retry wait');
    const d = await f.sc.doc(m._id);
    const [first] = await f.sc.log(m._id);
    assert.deepEqual([d._probeCount, d.communications[0].state, d._endCause], [1, 0, null]);
    assert.equal(d._nextTryTime, first.callTime + 60_000);
    assert.deepEqual([first.cause, first.causeQ850], ['UNWANTED', 0]);
    assert.ok(steps(first).includes('Unknown cause UNWANTED: handled as retry'));
    assert.equal(f.sc.callsTo(String(m._id))[0].result, '-ERR UNWANTED');
    await f.env.sleep('61s');
    assert.deepEqual(await ended(h), { endCause: 'MAX_TRY_COUNT', attempts: 2 });
    assert.equal(f.sc.callsTo(String(m._id)).length, 2);
    await recordHistory(h, 'scn-unlisted-cause');
  });

  test('custom cause lists on the campaign: USER_BUSY configured as Error retires the number', async () => {
    const camp = await createCampaign({ causesError: ['USER_BUSY'], causesRetry: ['NO_ANSWER'] }, { maxTryCount: 5 });
    const m = await createMember(String(camp._id), ['1000008']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    assert.deepEqual(await ended(h), { endCause: 'USER_BUSY', attempts: 1 });
    const d = await f.sc.doc(m._id);
    assert.deepEqual([d._endCause, d.communications[0].state], ['USER_BUSY', 2]);
    assert.equal(f.sc.callsTo(String(m._id)).length, 1);
  });
});

describe('minimum call duration (§6.3): talk time = minBillSec succeeds, minBillSec − 1 s retries', () => {
  // The simulator reports billsec = talkSec exactly for whole seconds (truncated epochs of exact
  // scripted instants), asserted below on its own call records.
  test('talk time exactly minBillSec (2 s) is a success', async () => {
    const camp = await createCampaign({}, { minBillSec: 2, maxTryCount: 2 });
    const m = await createMember(String(camp._id), ['2200009']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    assert.deepEqual(await ended(h), { endCause: 'NORMAL_CLEARING', attempts: 1 });
    assert.equal(f.sc.callsTo(String(m._id))[0].billsec, 2);
    const [entry] = await f.sc.log(m._id);
    assert.deepEqual([entry.talkSec, entry.callSuccessful], [2, true]);
    assert.equal((await f.sc.doc(m._id)).callSuccessful, true);
  });

  test('talk time minBillSec − 1 s (1 s) is handled as Retry', async () => {
    const camp = await createCampaign({}, { minBillSec: 2, maxTryCount: 2, intervalTryCount: 60 });
    const m = await createMember(String(camp._id), ['2100010']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    await f.sc.afterCalls(h, String(m._id), 1, 'waiting', 'retry wait');
    assert.equal(f.sc.callsTo(String(m._id))[0].billsec, 1);
    const d = await f.sc.doc(m._id);
    const [entry] = await f.sc.log(m._id);
    assert.deepEqual([d._probeCount, d.callSuccessful, d.communications[0].state, d._endCause], [1, false, 0, null]);
    assert.deepEqual([entry.cause, entry.talkSec, entry.callSuccessful], ['NORMAL_CLEARING', 1, false]);
    assert.ok(steps(entry).includes('Too short: talk 1s < minBillSec 2'));
    assert.equal(d._nextTryTime, entry.callTime + 60_000);
    await f.env.sleep('61s');
    assert.deepEqual(await ended(h), { endCause: 'MAX_TRY_COUNT', attempts: 2 });
    await recordHistory(h, 'scn-short-call-then-max');
  });
});

describe('attempt limit and number rotation (§5.5, §6.2)', () => {
  test('MAX_TRY_COUNT after exactly maxTryCount attempts alternating between two numbers', async () => {
    const camp = await createCampaign({}, { maxTryCount: 4, intervalTryCount: 60 });
    const m = await createMember(String(camp._id), ['1000011', '1000012']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    for (let n = 1; n < 4; n++) {
      await f.sc.afterCalls(h, String(m._id), n, 'waiting', 'retry wait');
      await f.env.sleep('61s');
    }
    assert.deepEqual(await ended(h), { endCause: 'MAX_TRY_COUNT', attempts: 4 });
    const calls = f.sc.callsTo(String(m._id));
    assert.deepEqual(calls.map((c) => [c.destination, c.channelVars.dlr_current_attempt]), [
      ['1000011', '1'], ['1000012', '2'], ['1000011', '3'], ['1000012', '4'],
    ]);
    const d = await f.sc.doc(m._id);
    assert.deepEqual([d._probeCount, d._endCause], [4, 'MAX_TRY_COUNT']);
    assert.deepEqual(d.communications.map((c) => [c._probe, c.state]), [[2, 2], [2, 2]]);
    assert.equal(await Attempt.countDocuments({ member: String(m._id) }), 4);
    const s = await f.sc.stats(camp._id);
    assert.deepEqual([s.callCount, s.errorCall], [4, 4]);
    await recordHistory(h, 'scn-max-try-two-numbers');
  });

  // Types "home" (window priority 10) and "work" (window priority 1), both open all day, and an
  // untyped number. by-priority sorts window priority before lastCall, so it rotates only among the
  // "home" numbers; top-down sorts lastCall first, so the "work" number gets its turn. A number
  // without a configured type (isTypeFound 0) comes after every typed candidate in both.
  const types = {
    communications: {
      types: [
        { code: 'home', name: 'Home', ranges: [{ startTime: 0, endTime: 1440, attempts: 10, priority: 10 }] },
        { code: 'work', name: 'Work', ranges: [{ startTime: 0, endTime: 1440, attempts: 10, priority: 1 }] },
      ],
    },
  };
  const numbers = [
    { number: '1000021', type: 'home', priority: 1 },
    { number: '1000022', type: 'home', priority: 2 },
    { number: '1000023', type: 'work', priority: 5 },
    { number: '1000024', priority: 9 },
  ];
  for (const [strategy, expected] of [
    ['by-priority', ['1000022', '1000021', '1000022', '1000021', '1000022']],
    ['top-down', ['1000022', '1000021', '1000023', '1000022', '1000021']],
  ] as const) {
    test(`numberStrategy ${strategy}: rotation order over several numbers and types`, async () => {
      const camp = await createCampaign({ ...types, numberStrategy: strategy }, { maxTryCount: 5, intervalTryCount: 0 });
      const m = await createMember(String(camp._id), [], { communications: numbers });
      const h = await f.sc.start(String(camp._id), String(m._id));
      assert.deepEqual(await ended(h), { endCause: 'MAX_TRY_COUNT', attempts: 5 });
      const calls = f.sc.callsTo(String(m._id));
      assert.deepEqual(calls.map((c) => c.destination), expected);
      assert.deepEqual(calls.map((c) => c.channelVars.dlr_communication_type_code), expected.map((n) => numbers.find((x) => x.number === n)!.type));
      const d = await f.sc.doc(m._id);
      assert.deepEqual(d.communications.map((c) => c._probe), numbers.map((n) => expected.filter((x) => x === n.number).length));
      await recordHistory(h, `scn-rotation-${strategy}`);
    });
  }
});

