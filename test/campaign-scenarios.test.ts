// Scenario tests of issue 5 on the real stack (time-skipping Temporal test server, FerretDB through
// the real activities, the FreeSWITCH simulator through the real ESL client): the calendar puts the
// campaign to sleep overnight and wakes it at the opening in its zone, also on a DST switch day; a
// campaign whose members never had workflows completes; a lease whose member vanished is reclaimed.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import type { WorkflowHandle } from '@temporalio/client';
import { EslClient } from '../esl';
import { Campaign, Member, MemberEnd, type MemberDoc } from '../models';
import { History } from '../models/history';
import { LineLeases } from '../models/lines';
import { campaignInfoQuery, wakeSignal, type MemberWorkflowResult } from '../workflows/messages';
import type { Rule } from '../simulator';
import { createCampaign, createMember, recordHistory, waitFor } from './support/env';
import { nextDstChangeDay, Scenarios, scheduledActivities } from './support/scenarios';
import { closed, startStack, type Stack } from './support/stack';

const RULES: Rule[] = [
  { prefix: '1', outcome: { type: 'busy', ringSec: 0 } },
  { prefix: '2', outcome: { type: 'answer', ringSec: 0, talkSec: 0 } },
  // Answered and never hung up by the far end.
  { prefix: '5', outcome: { type: 'answer', ringSec: 0, talkSec: null } },
];

let stack: Stack;
let env: Stack['env'];
let sc: Scenarios;
/** A second ESL connection of the test's own, to hang calls up as the far end would. */
let esl: EslClient;

before(async () => {
  stack = await startStack('campaign_scenarios_test', { rules: RULES });
  env = stack.env;
  sc = new Scenarios(stack);
  esl = new EslClient({ host: '127.0.0.1', port: stack.sim.eslPort, password: stack.sim.password });
  esl.start();
  await esl.waitConnected(10_000);
});
afterEach(() => sc.cleanup());
after(async () => {
  await esl?.stop();
  await stack?.stop();
});

const actions = async (id: string) => (await History.find({ dialer: id }).sort({ createdOn: 1, _id: 1 }).lean()).map((x) => x.action);

/** Waits until a workflow has no activity or workflow task in flight (safe to terminate, see
 *  Scenarios.cleanup). */
async function idle(h: WorkflowHandle): Promise<void> {
  await waitFor(`${h.workflowId} idle`, async () => {
    const d = await h.describe();
    return !d.raw.pendingActivities?.length && !d.raw.pendingWorkflowTask;
  });
}

describe('calendar (§3.2, §8.3)', () => {
  test('sleeps overnight and wakes at 09:00 in its zone on three days, the last one a DST switch day', async () => {
    const zone = 'Europe/Kyiv';
    const now = await env.currentTimeMs();
    // The server clock starts at real time; from November 2026 the next change is 2027-03-28.
    const change = nextDstChangeDay(zone, now + 3 * 86_400_000);
    const days = [change.minus({ days: 2 }), change.minus({ days: 1 }), change].map((d) => d.set({ hour: 9, minute: 0 }));
    assert.notEqual(days[1].offset, days[2].offset);

    // Skip the months before with nothing running; then start the campaign at 08:00 local.
    await env.sleep(days[0].minus({ hours: 1 }).toMillis() - now);
    // Working time 09:00–09:05 every day (ends inclusive, §3.2): short, so the campaign's
    // once-a-minute re-check while it works stays a few iterations a day.
    const camp = await createCampaign(
      { calendar: { timeZone: zone, accept: [1, 2, 3, 4, 5, 6, 7].map((weekDay) => ({ weekDay, startTime: 540, endTime: 545 })) } },
      // 20 h between tries: due again before the next opening.
      { maxTryCount: 3, intervalTryCount: 20 * 3600 },
    );
    const id = String(camp._id);
    const m = await createMember(id, ['1000001']);
    const h = await sc.startCampaign(id);
    await waitFor('asleep before the opening', async () => (await h.query(campaignInfoQuery)).state === 'Sleep');

    for (const [i, day] of days.entries()) {
      await env.sleep(day.toMillis() + 1000 - (await env.currentTimeMs()));
      await waitFor(`call ${i + 1}`, async () => sc.callsTo(String(m._id)).length >= i + 1);
      assert.equal(sc.callsTo(String(m._id)).length, i + 1);
      if (i === 0) {
        // Overnight: asleep across midnight, nothing dialled.
        await sc.afterCalls(stack.memberHandle(id, String(m._id)), String(m._id), 1, 'waiting', 'retry wait');
        await env.sleep(day.plus({ hours: 15, minutes: 30 }).toMillis() - (await env.currentTimeMs())); // 00:30 next day
        assert.equal((await h.query(campaignInfoQuery)).state, 'Sleep');
        const c = await Campaign.findById(id).lean<{ state: number; _cause: string; active: boolean }>();
        assert.deepEqual([c!.state, c!._cause, c!.active], [2, 'QUEUE_SLEEP', true], 'Sleep is still active (§8.1)');
        assert.equal(sc.callsTo(String(m._id)).length, 1);
      } else if (i === 1) {
        await sc.afterCalls(stack.memberHandle(id, String(m._id)), String(m._id), 2, 'waiting', 'retry wait');
      }
    }
    const member = stack.memberHandle(id, String(m._id));
    assert.deepEqual(await closed<MemberWorkflowResult>(member), { endCause: 'MAX_TRY_COUNT', attempts: 3 });
    assert.deepEqual(await closed(h), { state: 'End', cause: 'QUEUE_COMPLETE' });

    // Each transition at workflow time (the activities' own clock is the wall clock).
    const transitions = (await scheduledActivities(h))
      .filter((a) => a.type === 'setCampaignState')
      .map((a) => ({ cause: (a.input as { cause: string }).cause, at: DateTime.fromMillis(a.at, { zone }) }));
    assert.deepEqual(transitions.map((t) => t.cause), [
      'QUEUE_SLEEP', 'QUEUE_HUNTING', 'QUEUE_SLEEP', 'QUEUE_HUNTING', 'QUEUE_SLEEP', 'QUEUE_HUNTING', 'QUEUE_COMPLETE',
    ]);
    const wakes = transitions.filter((t) => t.cause === 'QUEUE_HUNTING');
    for (const [i, w] of wakes.entries()) {
      const ms = w.at.toMillis() - days[i].toMillis();
      assert.ok(ms >= 0 && ms < 5_000, `woke at the opening ${days[i].toISO()}, not ${w.at.toISO()}`);
    }
    for (const s of transitions.filter((t, i) => t.cause === 'QUEUE_SLEEP' && i > 0)) {
      assert.deepEqual([s.at.hour, s.at.minute], [9, 6], `asleep at the first re-check after 09:05 (${s.at.toISO()})`);
    }
    assert.notEqual(wakes[1].at.offset, wakes[2].at.offset, 'the last wake is after the change');
    assert.equal(wakes[1].at.toUTC().hour - wakes[2].at.toUTC().hour, wakes[2].at.offset - wakes[1].at.offset === 60 ? 1 : -1);
    assert.deepEqual(await actions(id), transitions.map((t) => t.cause), 'one history entry per transition');

    const log = await sc.log(m._id);
    assert.deepEqual(log.map((e) => DateTime.fromMillis(e.reservedTime, { zone }).toFormat('yyyy-MM-dd HH:mm')), days.map((d) => d.toFormat('yyyy-MM-dd HH:mm')));
    await recordHistory(h, 'scn-calendar-overnight-dst', 'campaign');
  });
});

describe('completion (§8.2, §8.4)', () => {
  // "A campaign of members whose workflows never started": members that exist only as Mongo rows
  // when the campaign starts and that the campaign can finish without ever dialling. Here every
  // member expired before the start: the campaign grants each (its workflow starts with the grant),
  // which ends MEMBER_EXPIRED at once without a call or an attempt, and the campaign — which did
  // grant members — completes with QUEUE_COMPLETE. (Members already ended before the start are
  // never granted at all: that campaign ends NOT_FOUND_MEMBER, as §8.2 says; second test.)
  test('every member expired before the start: each ends MEMBER_EXPIRED without a call, the campaign QUEUE_COMPLETE', async () => {
    const camp = await createCampaign({}, { limit: 3 });
    const id = String(camp._id);
    const expire = (await env.currentTimeMs()) - 60_000;
    const members = [];
    for (let i = 0; i < 6; i++) members.push(await createMember(id, [`200000${i}`], { expire }));
    const h = await sc.startCampaign(id);
    assert.deepEqual(await closed(h), { state: 'End', cause: 'QUEUE_COMPLETE' });
    for (const m of members) {
      assert.deepEqual(await closed(stack.memberHandle(id, String(m._id))), { endCause: 'MEMBER_EXPIRED', attempts: 0 });
      const d = (await Member.findById(m._id).lean<MemberDoc>())!;
      assert.deepEqual([d._endCause, d._probeCount, d.communications[0].state, d._dispatch, d._lock], ['MEMBER_EXPIRED', 0, 2, null, null]);
      const event = await MemberEnd.findOne({ member: String(m._id) }).lean<{ event: { endCause: string; reason: string } }>();
      assert.deepEqual([event!.event.endCause, event!.event.reason], ['MEMBER_EXPIRED', 'expire']);
    }
    assert.equal(stack.sim.calls().filter((c) => c.channelVars.dlr_queue === id).length, 0, 'nobody was dialled');
    assert.equal((await sc.stats(id)).callCount, 0);
    assert.deepEqual(await actions(id), ['QUEUE_HUNTING', 'QUEUE_COMPLETE']);
    assert.equal((await h.query(campaignInfoQuery)).dialled, 6, 'each member granted once');
    await recordHistory(h, 'scn-complete-all-expired', 'campaign');
    await recordHistory(stack.memberHandle(id, String(members[0]._id)), 'scn-expired-before-start');
  });

  test('every member already ended before the start: NOT_FOUND_MEMBER, no member workflow', async () => {
    const camp = await createCampaign();
    const id = String(camp._id);
    const m = await createMember(id, ['2000010'], { _endCause: 'MANAGER_REQUEST' });
    const h = await sc.startCampaign(id);
    assert.deepEqual(await closed(h), { state: 'End', cause: 'NOT_FOUND_MEMBER' });
    await assert.rejects(stack.memberHandle(id, String(m._id)).describe(), /not found/i);
    assert.deepEqual(await actions(id), ['QUEUE_HUNTING', 'NOT_FOUND_MEMBER']);
    await recordHistory(h, 'not-found-member', 'campaign');
  });
});

describe('leases (issue 5 dispatch)', () => {
  test('a lease whose member vanished is reclaimed once its call is over, and the line goes to the next member', async () => {
    const camp = await createCampaign({}, { limit: 1, maxTryCount: 3 });
    const id = String(camp._id);
    const a = await createMember(id, ['5000001'], { priority: 1 });
    const h = await sc.startCampaign(id);
    const first = await waitFor('A answered', async () => sc.callsTo(String(a._id)).find((c) => c.answeredAt));
    const memberA = stack.memberHandle(id, String(a._id));
    const runA = (await memberA.describe()).runId;
    const b = await createMember(id, ['2000001'], { priority: 10 });
    await h.signal(wakeSignal); // as the API does when members are added
    await waitFor('campaign woken with its line busy', async () => {
      const info = await h.query(campaignInfoQuery);
      return info.leases === 1 && info.limit === 1 ? info : null;
    });

    // The member's workflow vanishes while it holds the lease, in a live call.
    await idle(memberA);
    await memberA.terminate('test: the member workflow vanishes');

    // Past the lease deadline (10 min) the call is still up: its line stays taken, so the lease is
    // kept (the limit holds) and B waits.
    await env.sleep('11m');
    assert.equal((await h.query(campaignInfoQuery)).leases, 1);
    assert.equal(sc.callsTo(String(b._id)).length, 0, 'B not dialled while A\'s call holds the only line');
    assert.equal(stack.sim.activeChannels(), 1);
    assert.ok((await scheduledActivities(h)).some((x) => x.type === 'checkLease' && (x.result as { held: boolean }).held), 'the lease was checked and found held');

    // The far end hangs up; at the next deadline the lease and the line are reclaimed and B, next in
    // order (priority 10), gets the line.
    assert.equal(await esl.uuidKill(first.originationUuid!, 'NORMAL_CLEARING'), true);
    await waitFor('A\'s call over', async () => stack.sim.call(first.originationUuid!)?.endedAt);
    await env.sleep('11m');
    const memberB = stack.memberHandle(id, String(b._id));
    assert.deepEqual(await closed(memberB), { endCause: 'NORMAL_CLEARING', attempts: 1 });
    const checks = (await scheduledActivities(h)).filter((x) => x.type === 'checkLease' && (x.input as { memberId: string }).memberId === String(a._id));
    assert.deepEqual(checks.map((x) => (x.result as { held: boolean }).held).at(-1), false, 'A\'s lease reclaimed');
    const lines = await LineLeases.snapshot(id);
    assert.ok(!lines!.leases.some((l) => l.id === first.originationUuid), 'A\'s line released');
    const [callB] = sc.callsTo(String(b._id));
    assert.ok(Date.parse(callB.startedAt) >= Date.parse(stack.sim.call(first.originationUuid!)!.endedAt!), 'B only after A\'s call ended');

    // A's row is still open, so after B it is granted again: a new run continues it from Mongo
    // (its vanished attempt stays counted). Its call is hung up normally: success; the campaign completes.
    const second = await waitFor('A dialled again', async () => sc.callsTo(String(a._id)).filter((c) => c.answeredAt)[1]);
    assert.notEqual((await memberA.describe()).runId, runA, 'a new run of A');
    assert.equal(second.channelVars.dlr_current_attempt, '2');
    assert.equal(await esl.uuidKill(second.originationUuid!, 'NORMAL_CLEARING'), true);
    assert.deepEqual(await closed(memberA), { endCause: 'NORMAL_CLEARING', attempts: 2 });
    assert.deepEqual(await closed(h), { state: 'End', cause: 'QUEUE_COMPLETE' });
    assert.deepEqual(await h.query(campaignInfoQuery).then((i) => [i.leases, i.dialled]), [0, 3]);
    const calls = stack.sim.calls().filter((c) => c.channelVars.dlr_queue === id);
    assert.deepEqual(calls.map((c) => c.destination), ['5000001', '2000001', '5000001']);
    for (let i = 1; i < calls.length; i++) {
      assert.ok(Date.parse(calls[i].startedAt) >= Date.parse(calls[i - 1].endedAt!), 'never two calls at once (limit 1)');
    }
    assert.equal((await LineLeases.snapshot(id))!.active, 0);
    await recordHistory(h, 'scn-lease-reclaimed', 'campaign');
    await recordHistory(memberA, 'scn-run-after-vanished-run');
  });
});
