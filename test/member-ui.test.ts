// What the Temporal UI shows of a member workflow without opening it: the static summary (member
// name, campaign name, numbers masked, the first one dialled first) and details set when its
// campaign grants it a line (workflows/start.ts memberUiText, activities/campaign.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import pino from 'pino';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createCampaignActivities } from '../activities/campaign';
import type { ActivityDeps } from '../activities/deps';
import { memberUiText } from '../workflows/start';
import { memberWorkflowId } from '../workflows/messages';
import { connectTestDb, createCampaign, createMember, requireEnv } from './support/env';

test('summary: name, campaign name, open numbers masked in dialling order; details list every number', () => {
  const ui = memberUiText({
    memberId: 'm1', name: 'Ivan Petrenko', campaignId: 'c1', campaignName: 'Debt reminders', domain: 'acme',
    communications: [
      { number: '+380441234567', priority: 1, description: 'office' },
      { number: '+380501112233', priority: 5, description: 'mobile | main' },
      { number: '+14155552671', priority: 9, state: 2 }, // ended: never dialled again
    ],
  });
  assert.equal(ui.summary, 'Ivan Petrenko · Debt reminders · ••••••••2233, ••••••••4567');
  assert.match(ui.details, /\*\*Ivan Petrenko\*\* in campaign \*\*Debt reminders\*\* \(`c1`, domain `acme`\)/);
  assert.match(ui.details, /^- ••••••••2233, priority 5: mobile \| main$/m, 'one line per number');
  assert.match(ui.details, /^- ••••••••2671, priority 9 \(ended\)$/m);
  assert.doesNotMatch(ui.summary + ui.details, /380501112233|4155552671/, 'numbers are masked');
});

test('summary without names or numbers still says which member and campaign', () => {
  const ui = memberUiText({ memberId: 'm2', name: ' ', campaignId: 'c2', campaignName: null, domain: 'acme', communications: [] });
  assert.equal(ui.summary, 'member m2 · c2 · no number left');
  const numbers = ['1001', '1002', '1003', '1004', '1005'].map((n) => ({ number: `55500${n}` }));
  assert.match(memberUiText({ memberId: 'm3', name: 'Y', campaignId: 'c3', domain: 'acme', communications: numbers }).summary,
    /^Y · c3 · •+1001, •+1002, •+1003 \+2$/, 'three numbers and how many more');
  const long = memberUiText({ memberId: 'm4', name: 'X'.repeat(300), campaignId: 'c4', domain: 'acme', communications: numbers });
  assert.equal(long.summary.length, 200, 'the list line is cut at 200 characters');
});

// The Temporal dev server of `npm test` (the time-skipping test server keeps no user metadata).
let connection: Connection;
let client: Client;
before(async () => {
  await connectTestDb('member_ui_test');
  connection = await Connection.connect({ address: requireEnv('TEMPORAL_ADDRESS') });
  client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
});
after(async () => {
  await connection?.close();
  await mongoose.disconnect();
});

test('a member workflow started by its campaign\'s grant carries the summary and details', async () => {
  const camp = await createCampaign({ name: 'Spring promo' });
  const m = await createMember(String(camp._id), ['200071', '200072'], { name: 'Olena Bondar' });
  // No worker polls this task queue: the member workflow is started and described, never run.
  const taskQueue = `member-ui-${process.pid}`;
  const acts = createCampaignActivities({ client, esl: {} as ActivityDeps['esl'], log: pino({ level: 'silent' }), taskQueue });
  const r: Awaited<ReturnType<typeof acts.claimAndGrant>> = await new MockActivityEnvironment().run(acts.claimAndGrant, {
    campaignId: String(camp._id), campaignName: camp.name, domain: 'test.local', leaseIds: ['lease-1'], membersStrategy: 'next-tries-circuit' as const, activeLeases: 0, now: Date.now(),
  });
  assert.deepEqual(r.granted.map((g) => g.memberId), [String(m._id)]);
  const h = client.workflow.getHandle(memberWorkflowId(String(camp._id), String(m._id)));
  try {
    const desc = await h.describe();
    assert.equal(await desc.staticSummary(), 'Olena Bondar · Spring promo · ••0071, ••0072');
    assert.match((await desc.staticDetails()) ?? '', /\*\*Olena Bondar\*\* in campaign \*\*Spring promo\*\* \(`[0-9a-f]{24}`, domain `test.local`\)/);
  } finally {
    await h.terminate('test done');
  }
});
