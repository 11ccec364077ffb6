// Regression (found while building the fault suite, issue 6): a call that vanished without any
// result is declared LOST_CALL by the member workflow after its overdue check and grace re-check.
// That decision used to be taken in the workflow only and stored later by endAttempt "if no result
// yet" — so a CDR (or late event) arriving between the final check and endAttempt won in Mongo
// while the workflow applied LOST_CALL: the attempt record said NORMAL_CLEARING, the member's log
// and the campaign counters said LOST_CALL (two outcomes for one attempt). Now the final check
// settles LOST_CALL first-wins in the attempt store and the late CDR is a duplicate.
// Time-skipping test server (the 20 s + 15 s waits are skipped), FerretDB, simulator, real ESL client.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import mongoose from 'mongoose';
import pino from 'pino';
import { createActivities } from '../activities';
import type { EndAttemptInput } from '../activities/types';
import { EslClient } from '../esl';
import { routeCallResults } from '../services/call-results';
import { applyCdr, type CdrOutcome } from '../services/cdr';
import { wakeCampaignWorkflow } from '../workflows/start';
import { Attempt, Member, type MemberDoc } from '../models';
import { startSimulator, type Simulator } from '../simulator';
import { memberInfoQuery, memberWorkflowId } from '../workflows/messages';
import { appliedAttempt, connectTestDb, createCampaign, createMember, recordHistory, registerSearchAttributes, requireEnv, waitFor, workflowBundle } from './support/env';

let env: TestWorkflowEnvironment;
let sim: Simulator;
let esl: EslClient;
let worker: Worker;
let running: Promise<void>;
const log = pino({ level: 'silent' });
const taskQueue = `result-race-${process.pid}`;
let lateCdr: CdrOutcome | null = null;

before(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: requireEnv('TEMPORAL_TEST_SERVER_PATH') } },
  });
  await registerSearchAttributes(env.connection);
  await connectTestDb('result_race_test');
  // Ringing calls (an answered one that vanishes is never redialled: result-paths.test.ts).
  sim = await startSimulator({ port: 0, rules: { rules: [{ prefix: '710', outcome: { type: 'no_answer' } }] } });
  esl = new EslClient({ host: '127.0.0.1', port: sim.eslPort, password: sim.password, reconnectMinMs: 50 });
  esl.start();
  await esl.waitConnected(10_000);
  routeCallResults(esl, env.client, log);
  const real = createActivities({ esl, log, client: env.client, taskQueue });
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: {
      ...real,
      // The CDR of the vanished call arrives after the workflow's final check, before endAttempt.
      async endAttempt(i: EndAttemptInput) {
        if (lateCdr === null) {
          const doc = await Attempt.findById(i.uuid).lean<{ workflowId: string }>();
          lateCdr = await applyCdr(env.client, log, {
            variables: {
              uuid: i.uuid, dlr_workflow_id: doc!.workflowId, hangup_cause: 'NORMAL_CLEARING',
              billsec: '42', duration: '42', answersec: '0', answer_epoch: '1700000000',
            },
          }, i.uuid);
        }
        return real.endAttempt(i);
      },
    },
  });
  running = worker.run();
});

after(async () => {
  worker?.shutdown();
  await running;
  await esl?.stop();
  await sim?.stop();
  await env?.teardown();
  await mongoose.disconnect();
});

test('a CDR arriving after the final overdue check does not give the attempt a second outcome', { timeout: 120_000 }, async () => {
  const camp = await createCampaign({}, { maxTryCount: 2, intervalTryCount: 3600 });
  const campaignId = String(camp._id);
  const m = await createMember(campaignId, ['7100001']);
  await wakeCampaignWorkflow(env.client, { domain: 'test.local', campaignId }, taskQueue);
  const h = env.client.workflow.getHandle(memberWorkflowId(campaignId, String(m._id)));
  const call = await waitFor('ringing call', async () => sim.calls().find((c) => c.channelVars.dlr_member_id === String(m._id)));
  // FreeSWITCH crashes: the call vanishes without any event or CDR.
  await sim.restart();
  await env.sleep('21s'); // originateTimeout 5 s + 15 s: the overdue check finds the call gone
  await env.sleep('16s'); // grace: still gone → LOST_CALL
  const info = await waitFor('retry wait after the lost call', async () => {
    const i = await h.query(memberInfoQuery);
    return i.phase === 'waiting' ? i : null;
  }, 30_000);
  const attempt = await appliedAttempt<{ result: { cause: string; source: string } }>(call.originationUuid!);
  const doc = await Member.findById(m._id).lean<MemberDoc>();
  const applied = (doc!._log as { session: string; cause: string }[]).find((l) => l.session === call.originationUuid);
  assert.equal(applied?.cause, attempt!.result.cause, 'the outcome the workflow applied is the one stored for the attempt');
  assert.equal(attempt!.result.cause, 'LOST_CALL');
  assert.equal(lateCdr, 'duplicate', 'the late CDR finds the attempt already settled');
  assert.equal(info.member.probeCount, 0, 'a lost call is not counted');
  await h.terminate();
});

test('lost calls are redialled uncounted only lostCallRedials times; then they count (MAX_TRY_COUNT)', { timeout: 120_000 }, async () => {
  const camp = await createCampaign({}, { maxTryCount: 1, intervalTryCount: 10, lostCallRedials: 1 });
  const campaignId = String(camp._id);
  const m = await createMember(campaignId, ['7101001']);
  const memberId = String(m._id);
  await wakeCampaignWorkflow(env.client, { domain: 'test.local', campaignId }, taskQueue);
  const h = env.client.workflow.getHandle(memberWorkflowId(campaignId, memberId));
  const calls = () => sim.calls().filter((c) => c.channelVars.dlr_member_id === memberId);
  for (let n = 1; n <= 2; n++) {
    await waitFor(`call ${n}`, async () => calls().length === n);
    await sim.restart(); // the ringing call vanishes without any event or CDR
    await env.sleep('21s');
    await env.sleep('16s');
    if (n === 1) {
      await waitFor('retry wait after the first lost call', async () => (await h.query(memberInfoQuery)).phase === 'waiting', 30_000);
      await env.sleep('11s');
    }
  }
  const doc = await waitFor('the member ended', async () => {
    const d = await Member.findById(memberId).lean<MemberDoc>();
    return d?._endCause ? d : null;
  }, 30_000);
  assert.equal(doc._endCause, 'MAX_TRY_COUNT');
  assert.equal(calls().length, 2);
  const log_ = (doc._log as { cause: string; steps: { data: string }[] }[]).map((l) => [l.cause, l.steps.slice(1).map((st) => st.data)]);
  assert.deepEqual(log_, [
    ['LOST_CALL', ['Lost call, counted (1/1 uncounted redials used)', 'max try count']],
    ['LOST_CALL', ['Lost call, not counted (1/1)']],
  ]);
  await waitFor('the member workflow closed', async () => (await h.describe()).status.name !== 'RUNNING');
  await recordHistory(h, 'lost-calls-bounded');
});
