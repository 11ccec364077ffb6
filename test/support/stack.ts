// The real stack for workflow tests: the time-skipping Temporal test server (waits are skipped with
// env.sleep, not slept), FerretDB through the real activities, and the FreeSWITCH simulator through
// the real ESL client and call-result router.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import mongoose from 'mongoose';
import pino from 'pino';
import { createActivities } from '../../activities';
import { EslClient } from '../../esl';
import { routeCallResults } from '../../services/call-results';
import { wakeCampaignWorkflow } from '../../workflows/start';
import { startSimulator, type RulesConfig, type Simulator } from '../../simulator';
import { campaignWorkflowId, memberWorkflowId } from '../../workflows/messages';
import { connectTestDb, registerSearchAttributes, requireEnv, waitFor, workflowBundle } from './env';

export interface Stack {
  env: TestWorkflowEnvironment;
  sim: Simulator;
  /** The worker's task queue (workflows started by a test go there). */
  taskQueue: string;
  /** Starts a campaign the real way (signal-with-start); its members get workflows when granted. */
  startCampaign(campaignId: string): Promise<WorkflowHandle>;
  memberHandle(campaignId: string, memberId: string): WorkflowHandle;
  stop(): Promise<void>;
}

export async function startStack(db: string, rules: RulesConfig): Promise<Stack> {
  const taskQueue = `${db}-${process.pid}`;
  const log = pino({ level: 'silent' });
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: requireEnv('TEMPORAL_TEST_SERVER_PATH') } },
  });
  await registerSearchAttributes(env.connection);
  await connectTestDb(db);
  const sim = await startSimulator({ port: 0, controlPort: null, rules });
  const esl = new EslClient({ host: '127.0.0.1', port: sim.eslPort, password: sim.password });
  esl.start();
  await esl.waitConnected(10_000);
  routeCallResults(esl, env.client, log);
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities({ esl, log, client: env.client, taskQueue }),
  });
  const running = worker.run();
  return {
    env,
    sim,
    taskQueue,
    async startCampaign(campaignId) {
      await wakeCampaignWorkflow(env.client, { domain: 'test.local', campaignId }, taskQueue);
      return env.client.workflow.getHandle(campaignWorkflowId(campaignId));
    },
    memberHandle: (campaignId, memberId) => env.client.workflow.getHandle(memberWorkflowId(campaignId, memberId)),
    async stop() {
      worker.shutdown();
      await running;
      await esl.stop();
      await sim.stop();
      await env.teardown();
      await mongoose.disconnect();
    },
  };
}

/** Waits for a workflow to close without result() alone: result() lets the test server skip time,
 *  which would race real calls in the simulator. Time is only skipped by explicit env.sleep(). */
export async function closed<T>(h: WorkflowHandle, timeoutMs = 20_000): Promise<T> {
  await waitFor(`${h.workflowId} to close`, async () => (await h.describe()).status.name !== 'RUNNING', timeoutMs);
  return (await h.result()) as T;
}
