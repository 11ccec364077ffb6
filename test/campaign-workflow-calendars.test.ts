// The campaign workflow with a calendar document (spec §3.2, §8.3) on the real stack: a campaign
// referring to a calendar (`calendar: {id, name}`) follows that calendar — it ends with QUEUE_EXPIRE
// past its endDate, sleeps outside its hours and dials once an edit of the calendar opens it — and a
// sleeping campaign ends at its endDate, not at a next opening that never comes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Calendar, Campaign } from '../models';
import { History } from '../models/history';
import { campaignInfoQuery, wakeSignal } from '../workflows/messages';
import { createCampaign, createMember, waitFor } from './support/env';
import { closed, startStack, type Stack } from './support/stack';

let stack: Stack;

before(async () => {
  stack = await startStack('campaign_workflow_calendars_test', {
    seed: 11,
    rules: [{ prefix: '2', outcome: { type: 'answer', ringSec: 0, talkSec: 0.3 } }],
  });
});

after(() => stack?.stop());

const ALL_WEEK = [1, 2, 3, 4, 5, 6, 7].map((weekDay) => ({ weekDay, startTime: 0, endTime: 1439 }));

function callsOf(campaignId: string) {
  return stack.sim.calls().filter((c) => c.channelVars.dlr_queue === campaignId);
}

/** A campaign of domain test.local referring to a new calendar document of that domain. */
async function campaignWithCalendar(calendar: Record<string, unknown>) {
  const cal = await Calendar.create({ domain: 'test.local', name: 'Hours', ...calendar });
  const camp = await createCampaign({ calendar: { id: String(cal._id), name: 'Hours' } });
  await createMember(String(camp._id), ['200001']);
  return { calendarId: String(cal._id), id: String(camp._id) };
}

describe('campaign with a calendar document', () => {
  test('past the calendar endDate the campaign ends with QUEUE_EXPIRE and dials nobody (§8.3)', async () => {
    const endDate = (await stack.env.currentTimeMs()) - 3600_000;
    const { id } = await campaignWithCalendar({ accept: ALL_WEEK, endDate });
    const h = await stack.startCampaign(id);
    assert.deepEqual(await closed(h), { state: 'End', cause: 'QUEUE_EXPIRE' });
    assert.equal(callsOf(id).length, 0);
    const doc = await Campaign.findById(id).lean<{ state: number; _cause: string; active: boolean }>();
    assert.deepEqual([doc!.state, doc!._cause, doc!.active], [4, 'QUEUE_EXPIRE', false]);
  });

  test('outside the calendar hours it sleeps; an edit of the calendar applies at its next look', async () => {
    const { id, calendarId } = await campaignWithCalendar({ accept: [] });
    const h = await stack.startCampaign(id);
    await waitFor('campaign asleep', async () => (await h.query(campaignInfoQuery)).state === 'Sleep');
    assert.equal(callsOf(id).length, 0, 'no call while the calendar is closed');
    // What PUT /api/v2/calendars/:id does: store the edit, wake the campaigns using the calendar.
    await Calendar.updateOne({ _id: calendarId }, { $set: { accept: ALL_WEEK } });
    await h.signal(wakeSignal);
    await waitFor('call after the edit', async () => callsOf(id).length === 1);
    assert.deepEqual(await closed(h), { state: 'End', cause: 'QUEUE_COMPLETE' });
  });

  test('a sleeping campaign ends with QUEUE_EXPIRE at its endDate, not a day later', async () => {
    const endDate = (await stack.env.currentTimeMs()) + 3600_000;
    const { id } = await campaignWithCalendar({ accept: [], endDate });
    const h = await stack.startCampaign(id);
    await waitFor('campaign asleep', async () => (await h.query(campaignInfoQuery)).state === 'Sleep');
    await stack.env.sleep('61m');
    await waitFor('QUEUE_EXPIRE', async () => (await h.query(campaignInfoQuery)).cause === 'QUEUE_EXPIRE', 10_000);
    assert.deepEqual(await closed(h), { state: 'End', cause: 'QUEUE_EXPIRE' });
    const actions = (await History.find({ dialer: id }).sort({ createdOn: 1 }).lean()).map((x) => x.action);
    assert.deepEqual([...new Set(actions)], ['QUEUE_SLEEP', 'QUEUE_EXPIRE'], 'never woke to work');
    assert.equal(callsOf(id).length, 0);
  });
});
