// The campaign workflow (spec §8, §5.4, §2.5) on the real stack: lines never exceed the limit,
// members are dialled in the campaign's order, the calendar puts the campaign to sleep and wakes
// it, stop lets calls finish, and a limit raised on a running campaign applies at once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Campaign, Member, type CampaignDoc, type MemberDoc } from '../models';
import { localTime, nextDayStart } from '../rules';
import { History } from '../models/history';
import { campaignInfoQuery, stopSignal, wakeSignal, type CampaignInfo } from '../workflows/messages';
import { createCampaign, createMember, recordHistory, waitFor } from './support/env';
import { closed, startStack, type Stack } from './support/stack';
import type { WorkflowHandle } from '@temporalio/client';

let stack: Stack;

before(async () => {
  stack = await startStack('campaign_workflow_test', {
    seed: 7,
    rules: [
      { prefix: '1', outcome: { type: 'busy', ringSec: 0 } },
      { prefix: '2', outcome: { type: 'answer', ringSec: 0, talkSec: 0.3 } },
      { prefix: '5', outcome: { type: 'answer', ringSec: 0, talkSec: null } },
      {
        prefix: '7',
        outcome: {
          type: 'mix',
          choices: [
            { weight: 2, outcome: { type: 'answer', ringSec: 0.2, talkSec: 0.5 } },
            { weight: 1, outcome: { type: 'busy', ringSec: 0.1 } },
            { weight: 1, outcome: { type: 'unallocated', ringSec: 0 } },
            { weight: 1, outcome: { type: 'answer', ringSec: 0.1, talkSec: 1 } },
          ],
        },
      },
    ],
  });
});

after(() => stack?.stop());

function callsOf(campaignId: string) {
  return stack.sim.calls().filter((c) => c.channelVars.dlr_queue === campaignId);
}

async function allEnded(campaignId: string, n: number) {
  return waitFor(`${n} members ended`, async () => {
    const docs = await Member.find({ dialer: campaignId, _endCause: { $ne: null } }).lean<MemberDoc[]>();
    return docs.length === n ? docs : null;
  }, 60_000);
}

/** Simultaneous channels of one campaign, from the simulator's own call records. */
function peakOf(campaignId: string): number {
  const edges = callsOf(campaignId).flatMap((c) =>
    c.uuid ? [[Date.parse(c.startedAt), 1], [c.endedAt ? Date.parse(c.endedAt) : Infinity, -1]] : [],
  ).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, d] of edges) peak = Math.max(peak, (now += d));
  return peak;
}

describe('campaign workflow', () => {
  test('never more calls than the limit under random outcomes; completes with exact stats', async () => {
    const camp = await createCampaign({}, { limit: 3, maxTryCount: 1 });
    const id = String(camp._id);
    for (let i = 0; i < 12; i++) await createMember(id, [`70000${String(i).padStart(2, '0')}`]);
    const h = await stack.startCampaign(id);
    const docs = await allEnded(id, 12);
    assert.deepEqual(await closed(h, 30_000), { state: 'End', cause: 'QUEUE_COMPLETE' });
    assert.equal(peakOf(id), 3, 'the limit is reached and never exceeded');
    const c = await Campaign.findById(id).lean<{ stats: { callCount: number; successCall: number; errorCall: number; active: number } }>();
    const success = docs.filter((d) => d.callSuccessful).length;
    assert.deepEqual(
      [c!.stats.callCount, c!.stats.successCall, c!.stats.errorCall, c!.stats.active],
      [12, success, 12 - success, 0],
    );
    await recordHistory(h, 'limit-random-outcomes', 'campaign');
  });

  test('next-tries-circuit: priority first; a retry that is due goes before fresh members (§5.4)', async () => {
    const camp = await createCampaign({}, { limit: 1, maxTryCount: 2, intervalTryCount: 0 });
    const id = String(camp._id);
    for (const [n, p] of [['100001', 1], ['100002', 10], ['100003', 5]] as const) await createMember(id, [n], { priority: p });
    await closed(await stack.startCampaign(id), 30_000);
    assert.deepEqual(callsOf(id).map((c) => c.destination), ['100002', '100002', '100003', '100003', '100001', '100001']);
  });

  test('strict-circuit: the whole list is circled before retries (§5.4)', async () => {
    const camp = await createCampaign({ membersStrategy: 'strict-circuit' }, { limit: 1, maxTryCount: 2, intervalTryCount: 0 });
    const id = String(camp._id);
    for (const [n, p] of [['100011', 1], ['100012', 10], ['100013', 5]] as const) await createMember(id, [n], { priority: p });
    await closed(await stack.startCampaign(id), 30_000);
    assert.deepEqual(callsOf(id).map((c) => c.destination), ['100012', '100013', '100011', '100012', '100013', '100011']);
  });

  test('outside the calendar the campaign sleeps, and wakes when it opens (§8.3)', async () => {
    const startDate = (await stack.env.currentTimeMs()) + 3600_000;
    const camp = await createCampaign({ calendar: { timeZone: 'Europe/Kyiv', startDate } });
    const id = String(camp._id);
    await createMember(id, ['200001']);
    const h = await stack.startCampaign(id);
    await waitFor('campaign asleep', async () => (await h.query(campaignInfoQuery)).state === 'Sleep');
    assert.equal(callsOf(id).length, 0, 'no call before the calendar opens');
    // The query shows the state as the workflow enters it; the stored cause follows (its activity).
    await waitFor('cause QUEUE_SLEEP stored', async () => (await Campaign.findById(id).lean<{ _cause: string }>())!._cause === 'QUEUE_SLEEP');
    await stack.env.sleep('61m');
    await waitFor('call after opening', async () => callsOf(id).length === 1);
    assert.deepEqual(await closed(h), { state: 'End', cause: 'QUEUE_COMPLETE' });
    const actions = (await History.find({ dialer: id }).sort({ createdOn: 1 }).lean()).map((x) => x.action);
    assert.deepEqual(actions, ['QUEUE_SLEEP', 'QUEUE_HUNTING', 'QUEUE_COMPLETE']);
  });

  test('stop lets the call in progress finish, dials nobody else, then ends with QUEUE_STOP (§8.2)', async () => {
    const camp = await createCampaign({}, { limit: 1 });
    const id = String(camp._id);
    await createMember(id, ['500001']);
    const waiting = await createMember(id, ['500002'], { priority: -1 });
    const h = await stack.startCampaign(id);
    const live = await waitFor('answered call', async () => callsOf(id).find((c) => c.answeredAt));
    await h.signal(stopSignal);
    await waitFor('stopping', async () => (await h.query(campaignInfoQuery)).state === 'ProcessStop');
    assert.equal(stack.sim.call(live.originationUuid!)?.state, 'answered', 'the live call is not killed');
    assert.equal(callsOf(id).length, 1);
    stack.sim.reset(); // the callee hangs up (reset also forgets the simulator's call records)
    assert.deepEqual(await closed(h), { state: 'End', cause: 'QUEUE_STOP' });
    assert.equal(callsOf(id).length, 0, 'nobody else was dialled after stop');
    const untouched = await Member.findById(waiting._id).lean<MemberDoc>();
    assert.equal(untouched!._probeCount, 0, 'a member not yet dialled is not charged an attempt');
    await recordHistory(h, 'stop-queue-stop', 'campaign');
  });

  test('a campaign of a type the dialer does not know (written straight into Mongo) never dials: state Error, the history says why', async () => {
    const camp = await createCampaign();
    const id = String(camp._id);
    await Campaign.collection.updateOne({ _id: camp._id }, { $set: { type: 'Power Dialer' } });
    const m = await createMember(id, ['200002']);
    const h = await stack.startCampaign(id);
    assert.deepEqual(await closed(h), { state: 'Error', cause: 'QUEUE_ERROR' });
    assert.equal(callsOf(id).length, 0);
    const doc = await Campaign.findById(id).lean<{ state: number; _cause: string; active: boolean }>();
    assert.deepEqual([doc!.state, doc!._cause, doc!.active], [5, 'QUEUE_ERROR', false]);
    const [entry] = await History.find({ dialer: id }).lean();
    assert.equal(entry.action, 'QUEUE_ERROR');
    assert.match(String(entry.value), /^"Power Dialer" campaigns are not implemented; the types are /);
    assert.equal((await Member.findById(m._id).lean<MemberDoc>())!._probeCount, 0);
    await recordHistory(h, 'type-not-implemented', 'campaign');
  });

  test('raising the limit of a running campaign takes effect at once', async () => {
    const camp = await createCampaign({}, { limit: 1 });
    const id = String(camp._id);
    for (let i = 0; i < 3; i++) await createMember(id, [`50001${i}`]);
    const h = await stack.startCampaign(id);
    await waitFor('first call', async () => callsOf(id).length === 1);
    await Campaign.updateOne({ _id: id }, { $set: { 'parameters.limit': 3 } });
    await h.signal(wakeSignal);
    await waitFor('three live calls', async () => stack.sim.activeChannels() >= 3);
    const info: CampaignInfo = await h.query(campaignInfoQuery);
    assert.deepEqual([info.limit, info.leases], [3, 3]);
    await h.signal(stopSignal);
    stack.sim.reset();
    await closed(h);
  });
});

/** The local activities a workflow ran, by name, from its history's markers. */
function localActivities(history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>): string[] {
  return (history.events ?? []).flatMap((e) => {
    const data = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
    const m = data ? /"activity_?[tT]ype":"([^"]+)"/.exec(Buffer.from(data).toString()) : null;
    return m ? [m[1]] : [];
  });
}

describe('what a grant brings', () => {
  test('an edit of a running campaign reaches the attempts granted after it; a granted member reads neither its campaign nor itself', async () => {
    const camp = await createCampaign({}, { limit: 1 });
    const id = String(camp._id);
    const members: string[] = [];
    for (let i = 0; i < 3; i++) members.push(String((await createMember(id, [`20003${i}`]))._id));
    const h = await stack.startCampaign(id);
    await waitFor('first call', async () => callsOf(id).length === 1);
    // As the API's PUT does: the stored configuration, then a wake-up of the campaign.
    await Campaign.updateOne({ _id: id }, { $set: { 'parameters.originateTimeout': 41 } });
    await h.signal(wakeSignal);
    await allEnded(id, 3);
    const timeouts = callsOf(id).map((c) => c.channelVars.originate_timeout);
    assert.equal(timeouts.length, 3);
    assert.equal(timeouts[0], '5', 'the first call was placed before the edit');
    assert.equal(timeouts[2], '41', 'the last call was granted after the edit (limit 1: after the others ended)');
    for (const memberId of members) {
      const ran = localActivities(await stack.memberHandle(id, memberId).fetchHistory());
      assert.ok(ran.includes('placeCall'), `member ${memberId} dialled: ${ran.join(', ')}`);
      assert.deepEqual(ran.filter((a) => a === 'loadCampaign' || a === 'loadMember'), [], 'the grant brought the campaign\'s rules and the member\'s state');
    }
    await closed(h);
  });
});

describe('autoResetStats (§8.3, §11.1)', () => {
  test('the counters are zeroed at the calendar\'s day change (in its zone), also while the campaign sleeps', async () => {
    const zone = 'America/New_York';
    const camp = await createCampaign({
      autoResetStats: true,
      // Never open: the campaign sleeps, with no other reason to wake before its day changes.
      calendar: { timeZone: zone, accept: [], except: [] },
      stats: { active: 0, callCount: 5, successCall: 2, errorCall: 3, connectedCall: 4, bridgedCall: 4 },
    });
    const id = String(camp._id);
    const stats = async () => (await Campaign.findById(id).lean<CampaignDoc>())!.stats as Record<string, unknown>;
    const t0 = await stack.env.currentTimeMs();
    const h = await stack.startCampaign(id);
    await waitFor('asleep', async () => (await h.query(campaignInfoQuery)).state === 'Sleep');
    // The first day seen is recorded, not reset: these counters may be today's.
    const first = await waitFor('the day recorded', async () => ((await stats()).day ? stats() : null));
    assert.equal(first.day, localTime(t0, zone).day);
    assert.equal(first.callCount, 5);
    const midnight = nextDayStart(zone, await stack.env.currentTimeMs());
    await stack.env.sleep(midnight - (await stack.env.currentTimeMs()) - 60_000);
    assert.equal((await stats()).callCount, 5, 'a minute before midnight in the calendar zone: kept');
    await stack.env.sleep(120_000);
    const next = await waitFor('the counters reset', async () => ((await stats()).callCount === 0 ? stats() : null));
    assert.deepEqual(
      [next.day, next.callCount, next.successCall, next.errorCall, next.connectedCall, next.bridgedCall],
      [localTime(midnight, zone).day, 0, 0, 0, 0, 0],
    );
    assert.equal((await h.query(campaignInfoQuery)).state, 'Sleep');
    await h.signal(stopSignal);
    await closed(h);
    await recordHistory(h, 'auto-reset-stats', 'campaign');
  });
});
