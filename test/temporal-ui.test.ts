// In a real browser (headless Chromium, 1280×800): the Temporal Web UI of the dev server `npm test`
// runs lists the member workflows of a campaign that ran when filtered by its CampaignId search
// attribute, each with its static summary (member · campaign · number). Screenshots are kept.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import pino from 'pino';
import mongoose from 'mongoose';
import { memberWorkflowId } from '../workflows/messages';
import { wakeCampaignWorkflow } from '../workflows/start';
import { MemberEnd } from '../models';
import { startDevDialer, type DevDialer } from './support/dev-dialer';
import { connectTestDb, createCampaign, createMember, requireEnv, waitFor } from './support/env';
import { launchBrowser, newPage, screenshot } from './support/browser';

let dev: DevDialer;
let browser: Browser;

before(async () => {
  await connectTestDb('temporal_ui');
  dev = await startDevDialer({
    taskQueue: `temporal-ui-${process.pid}`,
    simulator: { rules: { default: { type: 'answer', ringSec: 0.2, talkSec: 0.5 } } },
    worker: { log: pino({ level: 'silent' }) },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await dev?.stop();
  await mongoose.disconnect();
});

test('the Temporal UI filtered by CampaignId lists the campaign\'s member workflows with their summaries', { timeout: 120_000 }, async () => {
  const campaign = await createCampaign({ name: 'UI campaign', domain: 'test.local' });
  const other = await createCampaign({ name: 'Other campaign', domain: 'test.local' });
  const campaignId = String(campaign._id);
  const members = [await createMember(campaignId, ['5550101'], { name: 'Ada Lovelace' }), await createMember(campaignId, ['5550102'], { name: 'Alan Turing' })];
  const stranger = await createMember(String(other._id), ['5550103'], { name: 'Not In This Campaign' });
  for (const c of [campaignId, String(other._id)]) await wakeCampaignWorkflow(dev.dialer.client, { domain: 'test.local', campaignId: c }, `temporal-ui-${process.pid}`);
  await waitFor('the three members to end', async () => (await MemberEnd.countDocuments({})) === 3, 60_000);

  const summary = await (await dev.dialer.client.workflow.getHandle(memberWorkflowId(campaignId, String(members[0]._id))).describe()).staticSummary();
  assert.match(summary ?? '', /^Ada Lovelace · UI campaign · /, 'the static summary the UI shows');
  const ids = members.map((m) => memberWorkflowId(campaignId, String(m._id)));
  const page = await newPage(browser);
  try {
    await findInUi(page, campaignId, ids, String(stranger._id));
  } catch (err) {
    await screenshot(page, 'temporal-ui-failure');
    throw err;
  }
});

async function findInUi(page: Page, campaignId: string, ids: string[], strangerId: string): Promise<void> {
  await page.goto(`${requireEnv('TEMPORAL_UI_URL')}/namespaces/default/workflows`);
  // As a person does: show the raw query box, type the filter, search.
  await page.locator('[data-testid="toggle-manual-query"], button[aria-label*="query" i]').first().click();
  const box = page.locator('[data-testid="workflow-manual-search-input"]');
  await box.fill(`CampaignId = "${campaignId}"`);
  await box.press('Enter');
  for (const id of ids) await page.getByRole('link', { name: id }).waitFor({ timeout: 20_000 });
  const listed = await page.getByRole('link', { name: /^(member|campaign)-/ }).allInnerTexts();
  await screenshot(page, 'temporal-ui-campaign-members');
  assert.deepEqual(listed.filter((t) => t.startsWith('member-')).sort(), [...ids].sort(), 'exactly the campaign\'s member workflows');
  assert.deepEqual(listed.filter((t) => t.startsWith('campaign-')), [`campaign-${campaignId}`], 'and its campaign workflow');
  assert.ok(!listed.some((t) => t.includes(strangerId)), 'no member of another campaign');

  // A member's page shows its static summary (member · campaign · masked number) under User Metadata.
  await page.getByRole('link', { name: ids[0] }).click();
  await page.getByText('User Metadata', { exact: true }).click();
  // The UI renders the summary's markdown in a frame of its own.
  await waitFor('the summary on the member page', async () => {
    for (const f of page.frames()) if ((await f.locator('body').innerText().catch(() => '')).includes('Ada Lovelace · UI campaign')) return true;
    return false;
  });
  await screenshot(page, 'temporal-ui-member');
}
