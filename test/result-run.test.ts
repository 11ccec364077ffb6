// The call result goes to the member workflow's run that placed the call (dlr_run_id, set by
// placeCall), so the Temporal server need not look up the current run for every result; a run that
// has ended since (continue-as-new, reset) hands the result over to the workflow's current run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { EslEvent } from '../esl';
import { resultFromHangup, resultFromJob, signalResult } from '../services/call-results';
import { resultFromCdr } from '../services/cdr';
import type { CallResult } from '../workflows/messages';

const RUN = '0191c7a2-5b7e-7c3e-9d7a-3f1b2c4d5e6f';
const result: CallResult = { uuid: 'u1', cause: 'USER_BUSY', answered: false, billsec: 0, answersec: 0, duration: 0, source: 'event' };

/** A Temporal client recording each signal's target; `ended` runs answer NOT_FOUND as the server does. */
function client(ended: string[] = []) {
  const sent: { workflowId: string; runId?: string }[] = [];
  const c = {
    workflow: {
      getHandle: (workflowId: string, runId?: string) => ({
        signal: async () => {
          if (runId && ended.includes(runId)) throw new WorkflowNotFoundError('workflow execution already completed', workflowId, runId);
          sent.push({ workflowId, ...(runId ? { runId } : {}) });
        },
      }),
    },
  } as unknown as Client;
  return { sent, client: c };
}

test('the hangup, the failed originate\'s job and the CDR name the run that placed the call', () => {
  const hangup = { 'Event-Name': 'CHANNEL_HANGUP_COMPLETE', 'Unique-ID': 'u1', 'Hangup-Cause': 'USER_BUSY', variable_dlr_workflow_id: 'w1', variable_dlr_run_id: RUN } as EslEvent;
  assert.deepEqual([resultFromHangup(hangup)?.workflowId, resultFromHangup(hangup)?.runId], ['w1', RUN]);
  const job = { 'Event-Name': 'BACKGROUND_JOB', 'Job-Command': 'originate', 'Job-Command-Arg': `{origination_uuid=u1,dlr_workflow_id=w1,dlr_run_id=${RUN}}sofia/gateway/gw1/1 &park()`, _body: '-ERR USER_BUSY\n' } as EslEvent;
  assert.deepEqual([resultFromJob(job)?.workflowId, resultFromJob(job)?.runId], ['w1', RUN]);
  const cdr = { variables: { uuid: 'u1', dlr_workflow_id: 'w1', dlr_run_id: RUN, hangup_cause: 'USER_BUSY', billsec: '0', answersec: '0', duration: '0' } };
  assert.deepEqual([resultFromCdr(cdr)?.workflowId, resultFromCdr(cdr)?.runId, resultFromCdr(cdr)?.result.source], ['w1', RUN, 'cdr']);
  // A call placed before the run was known (or by another engine version): the current run.
  const { variable_dlr_run_id: _, ...old } = hangup;
  assert.equal(resultFromHangup(old as EslEvent)?.runId, undefined);
});

test('the result is signalled to the named run; without one, to the workflow\'s current run', async () => {
  const { sent, client: c } = client();
  await signalResult(c, 'w1', RUN, result);
  await signalResult(c, 'w2', undefined, result);
  assert.deepEqual(sent, [{ workflowId: 'w1', runId: RUN }, { workflowId: 'w2' }]);
});

test('a run that has ended since the call was placed hands the result to the current run', async () => {
  const { sent, client: c } = client([RUN]);
  await signalResult(c, 'w1', RUN, result);
  assert.deepEqual(sent, [{ workflowId: 'w1' }]);
});

test('another signal error is not retried by workflow id (the workflow reconciles the stored result)', async () => {
  const c = { workflow: { getHandle: () => ({ signal: async () => { throw new Error('unavailable'); } }) } } as unknown as Client;
  await assert.rejects(signalResult(c, 'w1', RUN, result), /unavailable/);
});
