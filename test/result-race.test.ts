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
import { routeCallResults } from '../lib/call-results';
import { applyCdr, type CdrOutcome } from '../lib/cdr';
import { wakeCampaignWorkflow } from '../lib/members';
import { Attempt, Member, type MemberDoc } from '../models';
import { startSimulator, type Simulator } from '../simulator';
import { memberInfoQuery, memberWorkflowId } from '../workflows/messages';
import { connectTestDb, createCampaign, createMember, registerSearchAttributes, requireEnv, waitFor, workflowBundle } from './support/env';

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
  sim = await startSimulator({ port: 0, rules: { rules: [{ prefix: '7100', outcome: { type: 'answer', ringSec: 0, talkSec: null } }] } });
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
  const call = await waitFor('answered call', async () => sim.calls().find((c) => c.answeredAt && c.channelVars.dlr_member_id === String(m._id)));
  // FreeSWITCH crashes: the call vanishes without any event or CDR.
  await sim.restart();
  await env.sleep('21s'); // originateTimeout 5 s + 15 s: the overdue check finds the call gone
  await env.sleep('16s'); // grace: still gone → LOST_CALL
  const info = await waitFor('retry wait after the lost call', async () => {
    const i = await h.query(memberInfoQuery);
    return i.phase === 'waiting' ? i : null;
  }, 30_000);
  const attempt = await Attempt.findById(call.originationUuid).lean<{ result: { cause: string; source: string } }>();
  const doc = await Member.findById(m._id).lean<MemberDoc>();
  const applied = (doc!._log as { session: string; cause: string }[]).find((l) => l.session === call.originationUuid);
  assert.equal(applied?.cause, attempt!.result.cause, 'the outcome the workflow applied is the one stored for the attempt');
  assert.equal(attempt!.result.cause, 'LOST_CALL');
  assert.equal(lateCdr, 'duplicate', 'the late CDR finds the attempt already settled');
  assert.equal(info.member.probeCount, 0, 'a lost call is not counted');
  await h.terminate();
});
