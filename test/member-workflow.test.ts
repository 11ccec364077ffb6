// The member workflow against real parts: the time-skipping Temporal test server (retry waits and
// wrap-up skipped, not slept), FerretDB through the real activities, and the FreeSWITCH simulator
// through the real ESL client. Each test is a scenario of spec §6 driven end to end.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { decodeSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { Attempt, Campaign, Member, MemberEnd, type CampaignDoc, type MemberDoc } from '../models';
import { LineLeases } from '../models/lines';
import { campaignEditedSignal, campaignInfoQuery, campaignWorkflowId, editUpdate, wakeSignal, memberInfoQuery, rescheduleSignal, statusUpdate, terminateUpdate, type MemberWorkflowResult } from '../workflows/messages';
import { createCampaign, createMember, recordHistory, waitFor } from './support/env';
import { closed, startStack, type Stack } from './support/stack';

let stack: Stack;
let env: Stack['env'];
let sim: Stack['sim'];

before(async () => {
  stack = await startStack('member_workflow_test', {
    rules: [
      { prefix: '1000', outcome: { type: 'busy', ringSec: 0 } },
      { prefix: '2000', outcome: { type: 'answer', ringSec: 0, talkSec: 1 } },
      { prefix: '3000', outcome: { type: 'unallocated', ringSec: 0 } },
      { prefix: '4000', outcome: { type: 'temp_failure', ringSec: 0 } },
      { prefix: '5000', outcome: { type: 'answer', ringSec: 0, talkSec: null } },
    ],
  });
  ({ env, sim } = stack);
});

after(() => stack?.stop());

/** Starts the member the real way: its campaign starts and grants it a line (signal-with-start). */
async function start(campaignId: string, memberId: string): Promise<WorkflowHandle> {
  await stack.startCampaign(campaignId);
  const h = stack.memberHandle(campaignId, memberId);
  await waitFor('member workflow started by its campaign', async () => h.describe().then(() => true, () => false));
  return h;
}

async function phaseIs(h: WorkflowHandle, phase: string, reason?: string) {
  return waitFor(`member phase ${phase}`, async () => {
    const info = await h.query(memberInfoQuery);
    return info.phase === phase && (!reason || info.waitReason === reason) ? info : null;
  });
}

function callsTo(memberId: string) {
  return sim.calls().filter((c) => c.channelVars.dlr_member_id === memberId);
}

const ended = (h: WorkflowHandle) => closed<MemberWorkflowResult>(h);

/** The search attributes the member started with, then those of each upsert, in history order. */
async function shownStates(h: WorkflowHandle) {
  const events = (await h.fetchHistory()).events ?? [];
  const started = decodeSearchAttributes(events[0]?.workflowExecutionStartedEventAttributes?.searchAttributes?.indexedFields);
  const upserts = events.flatMap((e) => e.upsertWorkflowSearchAttributesEventAttributes ? [decodeSearchAttributes(e.upsertWorkflowSearchAttributesEventAttributes.searchAttributes?.indexedFields)] : []);
  return { started: { MemberState: started.MemberState, Attempt: started.Attempt }, upserts };
}

/** §11.1 [callCount, successCall, errorCall] of a campaign. */
async function counters(campaignId: unknown): Promise<number[]> {
  const s = (await Campaign.findById(campaignId).lean<CampaignDoc>())!.stats as Record<string, number>;
  return [s.callCount, s.successCall, s.errorCall];
}

describe('member workflow (spec §6.2)', () => {
  test('busy, retry after intervalTryCount on the next number (rotation), answered → success', async () => {
    const camp = await createCampaign();
    const m = await createMember(String(camp._id), ['100001', '200001']);
    const h = await start(String(camp._id), String(m._id));
    await phaseIs(h, 'waiting', 'retry wait');
    assert.equal(callsTo(String(m._id)).length, 1, 'one call before the retry wait');
    await env.sleep('61s');
    const res = await ended(h);
    assert.deepEqual(res, { endCause: 'NORMAL_CLEARING', attempts: 2 }, JSON.stringify(callsTo(String(m._id)).map((c) => [c.destination, c.hangupCause, c.result, c.startedAt, c.endedAt])) + JSON.stringify((await Member.findById(m._id).lean<MemberDoc>())!._log));
    // Started by its grant, shown in its first call from the start; the retry is shown waiting, then
    // in its second call.
    const shown = await shownStates(h);
    assert.deepEqual(shown.started, { MemberState: ['in-call'], Attempt: [1] });
    assert.deepEqual(shown.upserts.map((u) => [u.MemberState?.[0], u.Attempt?.[0]]), [['waiting', undefined], ['in-call', 2], ['ended', undefined]]);

    const calls = callsTo(String(m._id));
    assert.deepEqual(calls.map((c) => c.destination), ['100001', '200001']);
    assert.deepEqual(calls.map((c) => c.channelVars.dlr_current_attempt), ['1', '2']);
    const attempts = await Attempt.find({ member: String(m._id) }).sort({ attempt: 1 }).lean();
    assert.deepEqual(attempts.map((a) => a._id), calls.map((c) => c.originationUuid), 'origination_uuid is the recorded attempt id');
    assert.deepEqual(attempts.map((a) => a.result?.cause), ['USER_BUSY', 'NORMAL_CLEARING']);

    const doc = await Member.findById(m._id).lean<MemberDoc>();
    assert.equal(doc!._endCause, 'NORMAL_CLEARING');
    assert.equal(doc!.callSuccessful, true);
    assert.equal(doc!._probeCount, 2);
    assert.equal(doc!._lock, null);
    assert.deepEqual(doc!.communications.map((c) => c.state), [2, 2]);
    assert.deepEqual((doc!._log as { cause: string }[]).map((l) => l.cause), ['NORMAL_CLEARING', 'USER_BUSY']);
    const event = await MemberEnd.findOne({ member: String(m._id) }).lean<{ event: Record<string, unknown> }>();
    assert.equal((event!.event as { endCause: string }).endCause, 'NORMAL_CLEARING');
    assert.equal((event!.event as Record<string, unknown>).variable_debt, '20000');
    const c = await Campaign.findById(camp._id).lean<CampaignDoc>();
    assert.equal((c!.stats as { callCount: number }).callCount, 2);
    assert.equal((c!.stats as { successCall: number }).successCall, 1);
    assert.equal((await LineLeases.snapshot(String(camp._id)))!.active, 0, 'every line released');
    await recordHistory(h, 'busy-retry-rotation-success');
    const campaign = env.client.workflow.getHandle(campaignWorkflowId(String(camp._id)));
    assert.deepEqual(await campaign.result(), { state: 'End', cause: 'QUEUE_COMPLETE' }, 'the campaign completes when its last member ends');
    await recordHistory(campaign, 'complete-after-two-attempts', 'campaign');
  });

  test('Retry cause on every attempt ends with MAX_TRY_COUNT', async () => {
    const camp = await createCampaign({}, { maxTryCount: 2 });
    const m = await createMember(String(camp._id), ['100002']);
    const h = await start(String(camp._id), String(m._id));
    await phaseIs(h, 'waiting', 'retry wait');
    await env.sleep('61s');
    assert.deepEqual(await ended(h), { endCause: 'MAX_TRY_COUNT', attempts: 2 });
    assert.equal(callsTo(String(m._id)).length, 2);
    await recordHistory(h, 'max-try-count');
  });

  test('Error cause on the last idle number ends the member with that cause', async () => {
    const camp = await createCampaign();
    const m = await createMember(String(camp._id), ['300001']);
    const h = await start(String(camp._id), String(m._id));
    assert.deepEqual(await ended(h), { endCause: 'UNALLOCATED_NUMBER', attempts: 1 });
    // One attempt, one search-attribute upsert (its end): the start already showed the call.
    const shown = await shownStates(h);
    assert.deepEqual(shown.started, { MemberState: ['in-call'], Attempt: [1] });
    assert.deepEqual(shown.upserts, [{ MemberState: ['ended'], EndCause: ['UNALLOCATED_NUMBER'] }]);
    await recordHistory(h, 'error-last-number');
  });

  test('Error cause on one of two numbers retires it and goes on with the other', async () => {
    const camp = await createCampaign();
    const m = await createMember(String(camp._id), ['300002', '200002']);
    const h = await start(String(camp._id), String(m._id));
    await phaseIs(h, 'waiting', 'retry wait');
    const doc = await Member.findById(m._id).lean<MemberDoc>();
    assert.deepEqual(doc!.communications.map((c) => c.state), [2, 0]);
    await env.sleep('61s');
    assert.deepEqual(await ended(h), { endCause: 'NORMAL_CLEARING', attempts: 2 });
    await recordHistory(h, 'error-one-of-two');
  });

  test('Minus cause refunds the attempt', async () => {
    const camp = await createCampaign({}, { maxTryCount: 1 });
    const m = await createMember(String(camp._id), ['400001']);
    const h = await start(String(camp._id), String(m._id));
    const info = await phaseIs(h, 'waiting', 'retry wait');
    assert.equal(info.member.probeCount, 0, 'NORMAL_TEMPORARY_FAILURE is not counted');
    await env.sleep('61s');
    await waitFor('second call', async () => callsTo(String(m._id)).length >= 2);
    // Still attempt 1: the refunded attempt did not use up maxTryCount = 1.
    assert.deepEqual(callsTo(String(m._id)).map((c) => c.channelVars.dlr_current_attempt), ['1', '1']);
    await h.terminate();
  });

  test('an OK call shorter than minBillSec is a retry', async () => {
    const camp = await createCampaign({}, { minBillSec: 30, maxTryCount: 1 });
    const m = await createMember(String(camp._id), ['200003']);
    const h = await start(String(camp._id), String(m._id));
    assert.deepEqual(await ended(h), { endCause: 'MAX_TRY_COUNT', attempts: 1 });
    await recordHistory(h, 'short-call-retry');
  });

  test('expire during a retry wait ends the member at that moment without another attempt', async () => {
    const camp = await createCampaign();
    const m = await createMember(String(camp._id), ['100003'], { expire: (await env.currentTimeMs()) + 30_000 });
    const h = await start(String(camp._id), String(m._id));
    await phaseIs(h, 'waiting');
    await env.sleep('31s');
    assert.deepEqual(await ended(h), { endCause: 'MEMBER_EXPIRED', attempts: 1 });
    assert.equal(callsTo(String(m._id)).length, 1);
    await recordHistory(h, 'expire-during-wait');
  });

  test('"call now" (reschedule) shortens the retry wait', async () => {
    const camp = await createCampaign({}, { intervalTryCount: 3600 });
    const m = await createMember(String(camp._id), ['100004', '200004']);
    const h = await start(String(camp._id), String(m._id));
    await phaseIs(h, 'waiting', 'retry wait');
    await h.signal(rescheduleSignal, {});
    assert.deepEqual(await ended(h), { endCause: 'NORMAL_CLEARING', attempts: 2 });
    await recordHistory(h, 'reschedule-call-now');
  });

  test('terminate hangs up the live call with MANAGER_REQUEST and ends the member', async () => {
    const camp = await createCampaign();
    const m = await createMember(String(camp._id), ['500001']);
    const h = await start(String(camp._id), String(m._id));
    await waitFor('answered call', async () => callsTo(String(m._id)).find((c) => c.answeredAt));
    const reply = await h.executeUpdate(terminateUpdate, { args: [] });
    assert.deepEqual(reply, { _id: String(m._id), waitHangupCause: 'MANAGER_REQUEST' });
    assert.deepEqual(await ended(h), { endCause: 'MANAGER_REQUEST', attempts: 1 });
    assert.equal(callsTo(String(m._id))[0].hangupCause, 'MANAGER_REQUEST');
    await assert.rejects(h.executeUpdate(terminateUpdate, { args: [] }));
    await recordHistory(h, 'terminate-live-call');
  });
});

describe('attempts that cannot be sent (poison members)', () => {
  test('a dial string with whitespace: one attempt, never sent, the number ends INVALID_NUMBER_FORMAT; the campaign dials the others', async () => {
    const camp = await createCampaign({
      resources: [
        { dialedNumber: '^(9\\d+)$', destinations: [{ gwProto: 'sip', gwName: 'gw1', dialString: '$1 x', limit: 10 }] },
        { dialedNumber: '^([1-8]\\d+)$', destinations: [{ gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit: 10 }] },
      ],
    }, { limit: 1 });
    const campaignId = String(camp._id);
    const poison = await createMember(campaignId, ['9000001'], { priority: 10 });
    const good = await createMember(campaignId, ['2000011']);
    const campaign = await stack.startCampaign(campaignId);
    const h = stack.memberHandle(campaignId, String(poison._id));
    await waitFor('the poison member workflow', async () => h.describe().then(() => true, () => false));
    assert.deepEqual(await ended(h), { endCause: 'INVALID_NUMBER_FORMAT', attempts: 1 });
    assert.equal(callsTo(String(poison._id)).length, 0, 'nothing reached FreeSWITCH');
    const attempts = await Attempt.find({ member: String(poison._id) }).lean();
    assert.equal(attempts.length, 1);
    assert.deepEqual([attempts[0].sentOn ?? null, attempts[0].result?.cause, attempts[0].result?.source], [null, 'INVALID_NUMBER_FORMAT', 'engine']);
    const doc = await Member.findById(poison._id).lean<MemberDoc>();
    assert.equal(doc!._endCause, 'INVALID_NUMBER_FORMAT');
    assert.equal(doc!._lock, null);
    const [entry] = doc!._log as { cause: string; causeQ850: number; steps: { data: string }[] }[];
    assert.deepEqual([entry.cause, entry.causeQ850], ['INVALID_NUMBER_FORMAT', 28]);
    assert.ok(entry.steps.some((st) => st.data === 'Not sent: invalid dial string "sofia/gateway/gw1/9000001 x"'), JSON.stringify(entry.steps));
    // The line (limit 1) was given back: the other member is dialled and the campaign completes.
    const next = stack.memberHandle(campaignId, String(good._id));
    await waitFor('the other member granted the line', async () => next.describe().then(() => true, () => false));
    assert.deepEqual(await ended(next), { endCause: 'NORMAL_CLEARING', attempts: 1 });
    assert.deepEqual(await closed(campaign), { state: 'End', cause: 'QUEUE_COMPLETE' });
    assert.equal((await LineLeases.snapshot(campaignId))!.active, 0, 'every line released');
    assert.equal(await Attempt.countDocuments({ dialer: campaignId, 'result.cause': 'LOST_CALL' }), 0);
    await recordHistory(h, 'not-sent-invalid-dial-string');
  });
});

describe('waiting for result status (spec §6.5, §6.6)', () => {
  test('status PUT in wrap-up applies next_after_sec, stop_communications and next_communication', async () => {
    const camp = await createCampaign({}, { waitingForResultStatus: true, wrapUpTime: 120 });
    const m = await createMember(String(camp._id), ['200005', '200006']);
    const h = await start(String(camp._id), String(m._id));
    await phaseIs(h, 'awaiting-status');
    const before = Date.now();
    const reply = await h.executeUpdate(statusUpdate, {
      args: [{ success: false, next_after_sec: 3600, stop_communications: ['200005', '200006'], next_communication: '200007', comment: 'call later' }],
    });
    assert.deepEqual(reply, { status: 'OK', info: 'success' });
    await assert.rejects(h.executeUpdate(statusUpdate, { args: [{ success: true }] }), WorkflowUpdateFailedError);
    const doc = await Member.findById(m._id).lean<MemberDoc>();
    assert.deepEqual(doc!.communications.map((c) => [c.number, c.state, c.stopCommunication]), [
      ['200005', 2, true], ['200006', 2, true], ['200007', 0, false],
    ]);
    assert.equal(doc!._endCause, null);
    assert.ok(doc!._nextTryTime! >= before + 3_590_000, 'next try about an hour later');
    assert.equal(doc!._waitingForResultStatusCb, null);
    assert.equal((doc!._log as { callback?: { data: { comment: string } } }[])[0].callback?.data.comment, 'call later');
    await h.executeUpdate(terminateUpdate, { args: [] });
    assert.equal((await ended(h)).endCause, 'MANAGER_REQUEST');
    await recordHistory(h, 'status-next-communication');
  });

  test('status success:true ends the member with NORMAL_CLEARING', async () => {
    const camp = await createCampaign({}, { waitingForResultStatus: true });
    const m = await createMember(String(camp._id), ['200008']);
    const h = await start(String(camp._id), String(m._id));
    await phaseIs(h, 'awaiting-status');
    await h.executeUpdate(statusUpdate, { args: [{ success: true }] });
    assert.deepEqual(await ended(h), { endCause: 'NORMAL_CLEARING', attempts: 1 });
    const [attempt] = (await Member.findById(m._id).lean<MemberDoc>())!._log as { callSuccessful: boolean; callState: number }[];
    assert.deepEqual([attempt.callSuccessful, attempt.callState], [true, 2], 'the status marks its own attempt');
    const event = await MemberEnd.findOne({ member: String(m._id) }).lean<{ event: Record<string, unknown> }>();
    assert.equal((event!.event as { reason: string }).reason, 'callback');
    assert.equal((event!.event as { session: string }).session, (attempt as unknown as { session: string }).session, 'the end event names the last attempt');
    assert.deepEqual(await counters(camp._id), [1, 1, 0], '§11.1: the success decided by the status is counted');
    await recordHistory(h, 'status-success');
  });

  test('no status within wrapUpTime refunds the attempt (default mode) and dials again', async () => {
    const camp = await createCampaign({}, { waitingForResultStatus: true, wrapUpTime: 60, intervalTryCount: 10 });
    const m = await createMember(String(camp._id), ['200009']);
    const h = await start(String(camp._id), String(m._id));
    await phaseIs(h, 'awaiting-status');
    await env.sleep('61s');
    await waitFor('second call', async () => callsTo(String(m._id)).length >= 2);
    assert.deepEqual(callsTo(String(m._id)).map((c) => c.channelVars.dlr_current_attempt), ['1', '1']);
    const doc = await Member.findById(m._id).lean<MemberDoc>();
    const timeout = (doc!._log as { callback?: { from: string } }[]).find((l) => l.callback)?.callback;
    assert.equal(timeout?.from, 'system');
    // (The second attempt, if it ended yet, awaits its own status: counted in neither.)
    assert.deepEqual((await counters(camp._id)).slice(1), [0, 1], 'the attempt whose status timed out counts as an error');
    await h.terminate();
    await recordHistory(h, 'status-timeout-refund');
  });

  test('keep mode: no status at the last attempt ends with MAX_TRY_COUNT', async () => {
    const camp = await createCampaign({}, { waitingForResultStatus: true, wrapUpTime: 60, maxTryCount: 1, statusTimeoutMode: 'keep' });
    const m = await createMember(String(camp._id), ['200010']);
    const h = await start(String(camp._id), String(m._id));
    await phaseIs(h, 'awaiting-status');
    await env.sleep('61s');
    assert.deepEqual(await ended(h), { endCause: 'MAX_TRY_COUNT', attempts: 1 });
    assert.deepEqual(await counters(camp._id), [1, 0, 1]);
    await recordHistory(h, 'status-timeout-keep');
  });
});

describe('edits, busy lines and terminate in wrap-up', () => {
  test('an edit during the retry wait is applied by the workflow (engine fields kept); the new number is dialled at the retry time', async () => {
    const camp = await createCampaign();
    const m = await createMember(String(camp._id), ['100011']);
    const h = await start(String(camp._id), String(m._id));
    await phaseIs(h, 'waiting', 'retry wait');
    assert.deepEqual(await h.executeUpdate(editUpdate, { args: [{ patch: { name: 'renamed', communications: [{ number: '100011' }, { number: '200011' }] }, fields: { name: 'renamed' } }] }), { stored: true });
    const doc = await waitFor('the edit stored by the workflow', async () => {
      const d = await Member.findById(m._id).lean<MemberDoc>();
      return d!.communications.length === 2 ? d : null;
    });
    assert.deepEqual(doc.communications.map((c) => [c.number, c._probe]), [['100011', 1], ['200011', 0]]);
    const info = await phaseIs(h, 'waiting', 'retry wait');
    assert.equal(info.member.name, 'renamed');
    await env.sleep('61s');
    assert.deepEqual(await ended(h), { endCause: 'NORMAL_CLEARING', attempts: 2 });
    assert.deepEqual(callsTo(String(m._id)).map((c) => c.destination), ['100011', '200011']);
    await recordHistory(h, 'edited-in-retry-wait');
  });

  test('every line busy (held by a lost attempt): no attempt; the member keeps its grant and tries again every 1–3 s; dialled once the line is free', async () => {
    const line = { gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit: 1, callerIdNumber: '15550000000' };
    const camp = await createCampaign({ resources: [{ dialedNumber: '^(\\d+)$', destinations: [line] }] });
    const id = String(camp._id);
    const dest = (camp.resources[0].destinations[0] as { uuid: string }).uuid;
    assert.ok(await LineLeases.acquire(id, 'stale-lease', 1, [{ uuid: dest, limit: 1 }]));
    const m = await createMember(id, ['200012']);
    const h = await start(id, String(m._id));
    const busy = await waitFor('the member pausing with its grant', async () => {
      const info = await h.query(memberInfoQuery);
      return info.waitReason === 'every line busy' ? info : null;
    });
    assert.equal(busy.phase, 'ready');
    await env.sleep('10s'); // several pauses: the member keeps its one grant and tries again
    const campaign = env.client.workflow.getHandle(campaignWorkflowId(id));
    assert.equal((await campaign.query(campaignInfoQuery)).dialled, 1, 'one grant, not given back and granted again in a loop');
    assert.equal(callsTo(String(m._id)).length, 0, 'nothing dialled while the line is held');
    await LineLeases.release(id, 'stale-lease');
    await env.sleep('4s');
    assert.deepEqual(await ended(h), { endCause: 'NORMAL_CLEARING', attempts: 1 });
    assert.equal(callsTo(String(m._id)).length, 1);
    assert.equal(await Attempt.countDocuments({ member: String(m._id) }), 1, 'the busy tries were no attempts');
    // Started shown in the call it expected; shown ready (once) while the lines were busy.
    assert.deepEqual((await shownStates(h)).upserts.map((u) => u.MemberState?.[0]), ['ready', 'in-call', 'ended']);
    await recordHistory(h, 'lines-busy-then-dialled');
  });

  test('a campaign edited while a member holds its grant: the member dials with the edited rules, not those its grant brought', async () => {
    const line = { gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit: 1, callerIdNumber: '15550000000' };
    const camp = await createCampaign({ resources: [{ dialedNumber: '^(\\d+)$', destinations: [line] }] });
    const id = String(camp._id);
    const dest = (camp.resources[0].destinations[0] as { uuid: string }).uuid;
    assert.ok(await LineLeases.acquire(id, 'stale-lease', 1, [{ uuid: dest, limit: 1 }]));
    const m = await createMember(id, ['200013']);
    const h = await start(id, String(m._id));
    await waitFor('the member pausing with its grant', async () => (await h.query(memberInfoQuery)).waitReason === 'every line busy');
    // As the API's PUT does: the stored configuration, then a wake-up of the campaign.
    await Campaign.updateOne({ _id: id }, { $set: { 'parameters.originateTimeout': 41 } });
    await env.client.workflow.getHandle(campaignWorkflowId(id)).signal(wakeSignal);
    await waitFor('the campaign telling its grant holder', async () =>
      (await h.fetchHistory()).events?.some((e) => e.workflowExecutionSignaledEventAttributes?.signalName === campaignEditedSignal.name));
    await LineLeases.release(id, 'stale-lease');
    assert.deepEqual(await ended(h), { endCause: 'NORMAL_CLEARING', attempts: 1 });
    assert.deepEqual(callsTo(String(m._id)).map((c) => c.channelVars.originate_timeout), ['41']);
    await recordHistory(h, 'grant-then-campaign-edited');
  });

  test('terminate in wrap-up ends the member with MANAGER_REQUEST without waiting for the status', async () => {
    const camp = await createCampaign({}, { waitingForResultStatus: true, wrapUpTime: 600 });
    const m = await createMember(String(camp._id), ['200013']);
    const h = await start(String(camp._id), String(m._id));
    await phaseIs(h, 'awaiting-status');
    assert.deepEqual(await h.executeUpdate(terminateUpdate, { args: [] }), { _id: String(m._id) });
    assert.deepEqual(await ended(h), { endCause: 'MANAGER_REQUEST', attempts: 1 });
    const doc = await Member.findById(m._id).lean<MemberDoc>();
    assert.equal(doc!._endCause, 'MANAGER_REQUEST');
    assert.equal(doc!._waitingForResultStatusCb, null);
    assert.deepEqual(await counters(camp._id), [1, 0, 1], 'the attempt decided by the terminate counts as an error');
    await recordHistory(h, 'terminate-in-wrap-up');
  });
});
