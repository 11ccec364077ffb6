// Scenario tests of issue 3 on the real stack, part 2: each field of the §6.5 result status and
// their combination from the seed example, and communication-type windows in the member's own time
// zone across a DST change. Each asserts what is stored and what the simulator saw.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { Member, MemberEnd } from '../models';
import { campaignWorkflowId, NOT_WAITING_FOR_STATUS, statusUpdate, type MemberWorkflowResult } from '../workflows/messages';
import { createCampaign, createMember, recordHistory, waitFor } from './support/env';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { nextDstChangeDay, scenarioFile } from './support/scenarios';
import { closed } from './support/stack';
import type { Rule } from '../simulator';

const DB = 'member_status_scenarios_test';
const RULES: Rule[] = [
  { prefix: '10', outcome: { type: 'busy', ringSec: 0 } },
  // The numbers of the §6.5 seed example.
  { prefix: '380', outcome: { type: 'answer', ringSec: 0, talkSec: 0 } },
];

const f = scenarioFile(DB, RULES);

const ended = (h: WorkflowHandle) => closed<MemberWorkflowResult>(h);

describe('result status fields (§6.5)', () => {
  const statusCampaign = (p: Record<string, unknown> = {}) =>
    createCampaign({}, { waitingForResultStatus: true, wrapUpTime: 300, maxTryCount: 3, intervalTryCount: 600, ...p });

  async function awaitingStatus(h: WorkflowHandle, memberId: string, calls: number) {
    return f.sc.afterCalls(h, memberId, calls, 'awaiting-status');
  }

  test('the seed example: next_after_sec, stop_communications (array), next_communication, reset_retries:false, comment', async () => {
    const camp = await statusCampaign();
    const m = await createMember(String(camp._id), ['380920000000', '380930000000']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    await awaitingStatus(h, String(m._id), 1);
    assert.equal((await f.sc.doc(m._id))._waitingForResultStatusCb, 1);
    const body = {
      success: false, reset_retries: false, next_after_sec: 3600, next_communication: '380910000000',
      stop_communications: ['380920000000', '380930000000'], comment: 'Call back in an hour on the new number',
    };
    assert.deepEqual(await h.executeUpdate(statusUpdate, { args: [body] }), { status: 'OK', info: 'success' });
    await assert.rejects(h.executeUpdate(statusUpdate, { args: [{ success: true }] }), (err: Error) =>
      err instanceof WorkflowUpdateFailedError && (err.cause?.message ?? '').includes(NOT_WAITING_FOR_STATUS),
    );

    const d = await f.sc.doc(m._id);
    const [entry] = await f.sc.log(m._id);
    assert.deepEqual(d.communications.map((c) => [c.number, c.state, c.stopCommunication, c.priority]), [
      ['380920000000', 2, true, 2], ['380930000000', 2, true, 1], ['380910000000', 0, false, 100],
    ]);
    assert.deepEqual([d._endCause, d._probeCount, d._waitingForResultStatusCb, d._waitingForResultStatus], [null, 1, null, null]);
    assert.deepEqual(entry.callback!.data, body);
    assert.equal(entry.callback!.from, 'api');
    assert.equal(d._nextTryTime, entry.callback!.time + 3_600_000, 'next try = status time + next_after_sec');

    await f.env.sleep('59m');
    assert.equal(f.sc.callsTo(String(m._id)).length, 1, 'not dialled before next_after_sec');
    await f.env.sleep('2m');
    await awaitingStatus(h, String(m._id), 2);
    const calls = f.sc.callsTo(String(m._id));
    assert.deepEqual(calls.map((c) => [c.destination, c.channelVars.dlr_current_attempt]), [['380920000000', '1'], ['380910000000', '2']]);
    await h.executeUpdate(statusUpdate, { args: [{ success: true, description: 'sold' }] });
    assert.deepEqual(await ended(h), { endCause: 'NORMAL_CLEARING', attempts: 2 });
    const end = await f.sc.doc(m._id);
    assert.deepEqual([end._endCause, end.callSuccessful, end._nextTryTime], ['NORMAL_CLEARING', true, null]);
    assert.deepEqual(end.communications.map((c) => c.state), [2, 2, 2]);
    assert.equal((await f.sc.log(m._id))[1].callback?.data.description, 'sold');
    await recordHistory(h, 'scn-status-seed-example');
  });

  test('reset_retries:true at the last attempt: counters reset, the member is dialled again as attempt 1', async () => {
    const camp = await statusCampaign({ maxTryCount: 1 });
    const m = await createMember(String(camp._id), ['380940000000']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    await awaitingStatus(h, String(m._id), 1);
    await h.executeUpdate(statusUpdate, { args: [{ success: false, reset_retries: true, next_after_sec: 60 }] });
    const d = await f.sc.doc(m._id);
    assert.deepEqual([d._endCause, d._probeCount, d.communications[0]._probe, d.communications[0].state], [null, 0, 0, 0]);
    await f.env.sleep('61s');
    await awaitingStatus(h, String(m._id), 2);
    assert.deepEqual(f.sc.callsTo(String(m._id)).map((c) => c.channelVars.dlr_current_attempt), ['1', '1']);
    await h.executeUpdate(statusUpdate, { args: [{ success: true }] });
    assert.deepEqual(await ended(h), { endCause: 'NORMAL_CLEARING', attempts: 1 });
    await recordHistory(h, 'scn-status-reset-retries');
  });

  test('reset_retries:false at the last attempt ends the member with MAX_TRY_COUNT', async () => {
    const camp = await statusCampaign({ maxTryCount: 1 });
    const m = await createMember(String(camp._id), ['380950000000', '380950000001']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    await awaitingStatus(h, String(m._id), 1);
    await h.executeUpdate(statusUpdate, { args: [{ success: false, reset_retries: false, next_after_sec: 60 }] });
    assert.deepEqual(await ended(h), { endCause: 'MAX_TRY_COUNT', attempts: 1 });
    const d = await f.sc.doc(m._id);
    assert.deepEqual(d.communications.map((c) => c.state), [2, 2]);
    const event = await MemberEnd.findOne({ member: String(m._id) }).lean<{ event: { reason: string; endCause: string } }>();
    assert.deepEqual([event!.event.endCause, event!.event.reason], ['MAX_TRY_COUNT', 'callback']);
  });

  test('stop_communications "all" with next_communication: every number stopped, the new one is dialled', async () => {
    const camp = await statusCampaign();
    const m = await createMember(String(camp._id), ['380960000000', '380960000001']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    await awaitingStatus(h, String(m._id), 1);
    await h.executeUpdate(statusUpdate, { args: [{ success: false, stop_communications: 'all', next_communication: '380960000009', next_after_sec: 0 }] });
    const d = await f.sc.doc(m._id);
    assert.deepEqual(d.communications.map((c) => [c.number, c.state, c.stopCommunication]), [
      ['380960000000', 2, true], ['380960000001', 2, true], ['380960000009', 0, false],
    ]);
    assert.equal(d._endCause, null);
    await awaitingStatus(h, String(m._id), 2);
    assert.deepEqual(f.sc.callsTo(String(m._id)).map((c) => c.destination), ['380960000000', '380960000009']);
    await h.executeUpdate(statusUpdate, { args: [{ success: true }] });
    assert.deepEqual(await ended(h), { endCause: 'NORMAL_CLEARING', attempts: 2 });
  });

  test('stop_communications "all" alone leaves no idle number: NO_COMMUNICATIONS', async () => {
    const camp = await statusCampaign();
    const m = await createMember(String(camp._id), ['380970000000', '380970000001']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    await awaitingStatus(h, String(m._id), 1);
    await h.executeUpdate(statusUpdate, { args: [{ success: false, stop_communications: 'all' }] });
    assert.deepEqual(await ended(h), { endCause: 'NO_COMMUNICATIONS', attempts: 1 });
    const d = await f.sc.doc(m._id);
    assert.deepEqual(d.communications.map((c) => [c.state, c.stopCommunication]), [[2, true], [2, true]]);
  });

  test('a single-string stop_communications, next_after_sec absent → next try after intervalTryCount', async () => {
    const camp = await statusCampaign({ intervalTryCount: 600 });
    const m = await createMember(String(camp._id), ['380980000000', '380980000001']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    await awaitingStatus(h, String(m._id), 1);
    await h.executeUpdate(statusUpdate, { args: [{ success: false, stop_communications: '380980000000', description: 'wrong person' }] });
    const d = await f.sc.doc(m._id);
    const [entry] = await f.sc.log(m._id);
    assert.deepEqual(d.communications.map((c) => [c.number, c.state, c.stopCommunication]), [
      ['380980000000', 2, true], ['380980000001', 0, false],
    ]);
    assert.equal(d._nextTryTime, entry.callback!.time + 600_000, 'intervalTryCount when next_after_sec is absent');
    assert.equal(entry.callback!.data.description, 'wrong person');
    await f.env.sleep('590s');
    assert.equal(f.sc.callsTo(String(m._id)).length, 1);
    await f.env.sleep('11s');
    await awaitingStatus(h, String(m._id), 2);
    assert.deepEqual(f.sc.callsTo(String(m._id)).map((c) => c.destination), ['380980000000', '380980000001']);
    await h.executeUpdate(statusUpdate, { args: [{ success: true }] });
    assert.deepEqual(await ended(h), { endCause: 'NORMAL_CLEARING', attempts: 2 });
    await recordHistory(h, 'scn-status-single-stop-default-interval');
  });

  test('a status sent the moment the member document shows _waitingForResultStatusCb: 1 is accepted', async () => {
    // Integrators poll the REST read model and send the status as soon as it says "waiting". The
    // read model is written inside endAttempt, before the activity finishes: the workflow must
    // already accept the status then (it applies it once the attempt is stored).
    const camp = await statusCampaign();
    const m = await createMember(String(camp._id), ['380920000001']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    // Poll without pause: the window between the read-model write and the end of the activity is
    // a few milliseconds (the rest of endAttempt), which is where a status used to get a 400.
    const until = Date.now() + 20_000;
    while ((await Member.findById(m._id, { _waitingForResultStatusCb: 1 }).lean<{ _waitingForResultStatusCb?: number }>())?._waitingForResultStatusCb !== 1) {
      assert.ok(Date.now() < until, 'read model never showed waiting for a status');
    }
    assert.deepEqual(await h.executeUpdate(statusUpdate, { args: [{ success: true, description: 'at once' }] }), { status: 'OK', info: 'success' });
    assert.deepEqual(await ended(h), { endCause: 'NORMAL_CLEARING', attempts: 1 });
    const d = await f.sc.doc(m._id);
    const [entry] = await f.sc.log(m._id);
    assert.deepEqual([d._endCause, d._waitingForResultStatusCb, entry.callback?.data.description, entry.callSuccessful], ['NORMAL_CLEARING', null, 'at once', true]);
    await recordHistory(h, 'scn-status-at-once');
  });

  test('a member that ends through its status wakes its campaign: QUEUE_COMPLETE without waiting for a re-check', async () => {
    const camp = await statusCampaign();
    const m = await createMember(String(camp._id), ['380920000002']);
    const h = await f.sc.start(String(camp._id), String(m._id));
    await awaitingStatus(h, String(m._id), 1);
    await h.executeUpdate(statusUpdate, { args: [{ success: true }] });
    const campaign = f.stack.env.client.workflow.getHandle(campaignWorkflowId(String(camp._id)));
    assert.deepEqual(await closed(campaign), { state: 'End', cause: 'QUEUE_COMPLETE' });
    // Workflow time (the test server's clock): without the wake the campaign completes only at its
    // next 60 s re-check.
    const eventTime = async (wf: WorkflowHandle, has: (e: temporal.api.history.v1.IHistoryEvent) => unknown) =>
      tsToMs(((await wf.fetchHistory()) as temporal.api.history.v1.IHistory).events!.find(has)!.eventTime!);
    const statusAt = await eventTime(h, (e) => e.workflowExecutionUpdateAcceptedEventAttributes);
    const completedAt = await eventTime(campaign, (e) => e.workflowExecutionCompletedEventAttributes);
    assert.ok(completedAt - statusAt < 30_000, `campaign completed ${completedAt - statusAt} ms after the member ended`);
  });
});

describe("windows in the member's time zone across a DST change (issue 3, §5.5 + member timezone)", () => {
  test('a 09:00–10:00 window of a Europe/Kyiv member is dialled at 09:00 local the day before and the day of the change', async () => {
    const zone = 'Europe/Kyiv';
    const now = await f.env.currentTimeMs();
    // The first change at least two days ahead (the server clock starts at real time: in
    // November 2026 that is 2027-03-28, when Kyiv goes from UTC+2 to UTC+3).
    const change = nextDstChangeDay(zone, now + 2 * 86_400_000);
    const before = change.minus({ days: 1 }).set({ hour: 9, minute: 0 });
    const onDay = change.set({ hour: 9, minute: 0 });
    assert.notEqual(before.offset, onDay.offset, 'the two 09:00s are on either side of the change');

    // The campaign's calendar is in UTC, the window type is "09:00–10:00" and the member is in
    // Kyiv: only the member's zone puts the calls at 09:00 Kyiv. The calendar (read in the
    // campaign's zone by the campaign, in the member's zone by the member) opens just long enough
    // at the UTC times of 09:00 Kyiv before and after the change and at 09:00, so that the campaign
    // sleeps the rest of the day instead of re-checking every minute.
    const utcMinutes = [before, onDay].map((t) => t.toUTC().hour * 60 + t.toUTC().minute);
    const opens = [...new Set([...utcMinutes, 540])];
    const camp = await createCampaign(
      {
        calendar: {
          timeZone: 'UTC',
          accept: [1, 2, 3, 4, 5, 6, 7].flatMap((weekDay) => opens.map((m) => ({ weekDay, startTime: m, endTime: m + 5 }))),
        },
        communications: { types: [{ code: 'mobile', name: 'Mobile', ranges: [{ startTime: 540, endTime: 600, attempts: 1 }] }] },
      },
      // 20 h between tries: after 09:00 one day, due again before 09:00 the next.
      { maxTryCount: 2, intervalTryCount: 20 * 3600 },
    );
    const id = String(camp._id);

    // Skip the months before the change with nothing running, to 90 minutes before the first call.
    await f.env.sleep(before.toMillis() - 90 * 60_000 - now);
    const m = await createMember(id, [], { timezone: zone, communications: [{ number: '1000031', type: 'mobile' }] });
    const campaign = await f.sc.startCampaign(id);

    const seen: number[] = [];
    for (const [n, at] of [[1, before], [2, onDay]] as const) {
      await f.env.sleep(at.toMillis() + 1000 - (await f.env.currentTimeMs()));
      await waitFor(`call ${n}`, async () => f.sc.callsTo(String(m._id)).length >= n);
      // The simulator stamps calls with its own (wall) clock, not the skipped test-server clock:
      // the server's time when the call showed up in the simulator is the call time.
      seen.push(await f.env.currentTimeMs());
      assert.equal(f.sc.callsTo(String(m._id)).length, n, 'exactly one call per day');
      if (n === 1) await f.sc.afterCalls(f.stack.memberHandle(id, String(m._id)), String(m._id), 1, 'waiting', 'retry wait');
    }
    const h = f.stack.memberHandle(id, String(m._id));
    assert.deepEqual(await ended(h), { endCause: 'MAX_TRY_COUNT', attempts: 2 });
    assert.deepEqual(await closed(campaign), { state: 'End', cause: 'QUEUE_COMPLETE' });

    const local = (t: number) => DateTime.fromMillis(t, { zone });
    for (const [i, t] of seen.entries()) {
      const l = local(t);
      assert.deepEqual([l.toISODate(), l.hour, l.minute], [[before, onDay][i].toISODate(), 9, 0], `call ${i + 1} seen at 09:00 Kyiv (${l.toISO()})`);
    }
    const entries = await f.sc.log(m._id);
    assert.deepEqual(
      entries.map((e) => local(e.reservedTime).toFormat('yyyy-MM-dd HH:mm ZZ')),
      [before, onDay].map((t) => t.toFormat('yyyy-MM-dd HH:mm ZZ')),
      'attempts reserved at 09:00 local on both days, with the offset of each day',
    );
    const utcHours = entries.map((e) => DateTime.fromMillis(e.reservedTime, { zone: 'UTC' }).hour);
    assert.equal(Math.abs(utcHours[0] - utcHours[1]), 1, 'the same local 09:00 is a different UTC hour after the change');
    assert.deepEqual(f.sc.callsTo(String(m._id)).map((c) => c.channelVars.dlr_communication_type_code), ['mobile', 'mobile']);
    const d = await f.sc.doc(m._id);
    assert.equal(d.communications[0].rangeId, `${onDay.toISODate()}_540_600`, 'the window id is the local day');
    await recordHistory(h, 'scn-window-member-zone-dst');
    await recordHistory(campaign, 'scn-window-member-zone-dst', 'campaign');
  });
});
