// Regression (found by the fault suite in CI): the campaign grants each member while its claim goes
// on, so a fast member can give its lease back before the claim has returned that lease to the
// workflow. The release used to be ignored as unknown and the lease then taken up, held by nobody
// until its 10-minute deadline (checkLease), which delayed QUEUE_COMPLETE. The claim here is
// scripted to release its first grant before it returns; everything else is the real workflow and
// its real activities on FerretDB and the time-skipping test server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import mongoose from 'mongoose';
import pino from 'pino';
import { createActivities } from '../activities';
import type { CampaignActivities } from '../activities/types';
import { wakeCampaignWorkflow } from '../workflows/start';
import { releaseSignal, campaignWorkflowId } from '../workflows/messages';
import { Member } from '../models';
import { connectTestDb, createCampaign, createMember, recordHistory, registerSearchAttributes, requireEnv, workflowBundle } from './support/env';

let env: TestWorkflowEnvironment;

before(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: requireEnv('TEMPORAL_TEST_SERVER_PATH') } },
  });
  await registerSearchAttributes(env.connection);
  await connectTestDb('campaign_early_release_test');
});
after(async () => {
  await env?.teardown();
  await mongoose.disconnect();
});

test('a lease given back before its claim returned is not held: the campaign completes without a lease sweep', async () => {
  const taskQueue = `early-release-${process.pid}`;
  const real = createActivities({ esl: {} as never, log: pino({ level: 'silent' }), client: env.client, taskQueue });
  const checked: string[] = [];
  let claims = 0;
  const claimAndGrant: CampaignActivities['claimAndGrant'] = async (i) => {
    claims += 1;
    if (claims > 1) return { granted: [], nextReadyAt: null, openMembers: 0 };
    // The member's call ended at once and its lease came back while the claim was still running.
    await env.client.workflow.getHandle(campaignWorkflowId(i.campaignId)).signal(releaseSignal, { leaseIds: [i.leaseIds[0]] });
    return { granted: [{ leaseId: i.leaseIds[0], memberId: 'm1' }], nextReadyAt: null, openMembers: -1 };
  };
  const checkLease: CampaignActivities['checkLease'] = async (i) => {
    checked.push(i.leaseId);
    return { held: false };
  };
  const worker = await Worker.create({
    connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(),
    activities: { ...real, claimAndGrant, checkLease },
  });
  const camp = await createCampaign();
  await worker.runUntil(async () => {
    await wakeCampaignWorkflow(env.client, { domain: 'test.local', campaignId: String(camp._id) }, taskQueue);
    const out = await env.client.workflow.getHandle(campaignWorkflowId(String(camp._id))).result();
    assert.equal((out as { cause: string }).cause, 'QUEUE_COMPLETE');
  });
  assert.equal(claims, 2);
  assert.deepEqual(checked, [], 'no lease was left to sweep');
  await recordHistory(env.client.workflow.getHandle(campaignWorkflowId(String(camp._id))), 'early-release', 'campaign');
});

// Regression (e2e-amd in CI): a member posted while the campaign waited for its last calls to end
// (the list had run out) woke nobody: the campaign ended QUEUE_COMPLETE and the new member waited
// for the next start. A wake-up during that wait must make the campaign claim again.
test('members posted while the last calls finish are claimed: a wake-up cancels QUEUE_COMPLETE', async () => {
  const taskQueue = `late-member-${process.pid}`;
  const real = createActivities({ esl: {} as never, log: pino({ level: 'silent' }), client: env.client, taskQueue });
  const leases: string[] = [];
  const claimAndGrant: CampaignActivities['claimAndGrant'] = async (i) => {
    leases.push(i.leaseIds[0]);
    // One member granted, and nothing else left to call: the campaign waits for that call to end.
    return { granted: [{ leaseId: i.leaseIds[0], memberId: `m${leases.length}` }], nextReadyAt: null, openMembers: 0 };
  };
  const worker = await Worker.create({
    connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(),
    activities: { ...real, claimAndGrant },
  });
  const camp = await createCampaign();
  const input = { domain: 'test.local', campaignId: String(camp._id) };
  const handle = env.client.workflow.getHandle(campaignWorkflowId(input.campaignId));
  const until = async (what: string, ok: () => boolean) => {
    for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 50))) {
      if (Date.now() - t0 > 15_000) assert.fail(`timed out waiting for ${what}`);
    }
  };
  await worker.runUntil(async () => {
    await wakeCampaignWorkflow(env.client, input, taskQueue);
    await until('the first claim', () => leases.length === 1);
    // The API posts a member (autoRun) while the first call is still up.
    await wakeCampaignWorkflow(env.client, input, taskQueue);
    await until('a claim after the wake-up', () => leases.length === 2);
    await handle.signal(releaseSignal, { leaseIds: leases });
    const out = await handle.result();
    assert.equal((out as { cause: string }).cause, 'QUEUE_COMPLETE');
  });
  assert.equal(leases.length, 2);
});

// Each release signal is a campaign workflow task: the releases of one campaign that a worker sees
// within a short window go out as one signal carrying them all, and each give-back returns only once
// that signal went (a worker dying before it leaves the activity to run again elsewhere).
test('releases of one campaign within a window go as one signal; other campaigns get their own', async () => {
  const sent: [string, unknown][] = [];
  const client = { workflow: { getHandle: (id: string) => ({ signal: async (_s: unknown, arg: unknown) => void sent.push([id, arg]) }) } };
  const acts = createActivities({ esl: {} as never, log: pino({ level: 'silent' }), client: client as never, taskQueue: 'unused' });
  const [a, b] = [String((await createCampaign())._id), String((await createCampaign())._id)];
  const grants = await Promise.all([a, a, a, b].map(async (campaignId, n) => {
    const m = await createMember(campaignId, ['+15550100']);
    await Member.updateOne({ _id: m._id }, { $set: { _dispatch: `lease-${n}` } });
    return { campaignId, memberId: String(m._id), leaseId: `lease-${n}`, readyAt: null };
  }));
  await Promise.all(grants.map((g) => acts.releaseGrant(g)));
  assert.equal(sent.length, 2, 'one signal per campaign');
  const byCampaign = new Map(sent.map(([id, arg]) => [id, [...(arg as { leaseIds: string[] }).leaseIds].sort()]));
  assert.deepEqual(byCampaign, new Map([[campaignWorkflowId(a), ['lease-0', 'lease-1', 'lease-2']], [campaignWorkflowId(b), ['lease-3']]]));
  for (const g of grants) assert.equal((await Member.findById(g.memberId).lean<{ _dispatch: string | null }>())?._dispatch, null);
});
