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
import { connectTestDb, createCampaign, recordHistory, registerSearchAttributes, requireEnv, workflowBundle } from './support/env';

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
    await env.client.workflow.getHandle(campaignWorkflowId(i.campaignId)).signal(releaseSignal, { leaseId: i.leaseIds[0] });
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
