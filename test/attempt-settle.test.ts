// The first-wins settle of an attempt's result (models/attempt.ts settleResult) on FerretDB, where an
// update is a read and a whole-document write and so no lock: the result router on two workers (two
// settles of the same hangup at once), a CDR and the member workflow's own LOST_CALL (checkCall's
// settleLost) race on a pool of several connections, and exactly one result is stored, signalled
// and applied. The attempt record's send claim is an insert too: made once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import pino from 'pino';
import type { Client } from '@temporalio/client';
import { appliedResult, Attempt, recordAttempt, resultRecord, setAttempt, storedResultOf, type AttemptDoc } from '../models';
import { settleLost } from '../activities/member';
import { routeCallResults, settleAndSignal } from '../services/call-results';
import type { CallResult } from '../workflows/messages';
import { EventEmitter } from 'node:events';
import { commandsSent } from './support/commands';
import { connectTestDb, waitFor } from './support/env';

before(() => connectTestDb('attempt_settle_test'));
after(() => mongoose.disconnect());

const fields = (id: string) => ({ dialer: 'd1', domain: 'x', member: 'm1', workflowId: `w-${id}`, attempt: 1, number: '1', dialString: '1', jobUuid: `j-${id}` });
const hangup = (uuid: string, cause: string): CallResult => ({ uuid, cause, answered: false, billsec: 0, answersec: 0, duration: 0, source: 'event' });

/** A Temporal client that records the call results signalled to each workflow. */
function signals() {
  const sent: CallResult[] = [];
  const client = { workflow: { getHandle: () => ({ signal: async (_s: unknown, r: CallResult) => void sent.push(r) }) } } as unknown as Client;
  return { sent, client };
}

test('two routers, a CDR and the workflow\'s own LOST_CALL racing: exactly one result is stored, signalled and applied', async () => {
  const log = pino({ level: 'silent' });
  for (let round = 0; round < 5; round++) {
    const uuid = `race-${round}`;
    assert.equal(await recordAttempt(uuid, fields(uuid), Date.now()), true);
    const { sent, client } = signals();
    // Worker 1's and worker 2's router hear the same hangup (10 events each), a CDR arrives, and the
    // member's overdue check settles the call as lost — all at once, on the pool's connections.
    const racers = [
      ...Array.from({ length: 10 }, (_, i) => () => settleAndSignal(client, { workflowId: `w-${uuid}`, result: hangup(uuid, `W1_${i}`) }, log)),
      ...Array.from({ length: 10 }, (_, i) => () => settleAndSignal(client, { workflowId: `w-${uuid}`, result: hangup(uuid, `W2_${i}`) }, log)),
      () => settleAndSignal(client, { workflowId: `w-${uuid}`, result: { ...hangup(uuid, 'CDR'), source: 'cdr' } }, log),
      async () => (await settleLost(uuid)) !== null,
    ];
    const won = await Promise.all(racers.map((r) => r()));
    assert.equal(won.filter(Boolean).length, 1, `round ${round}: one winner, got ${won.filter(Boolean).length}`);
    const stored = await storedResultOf(uuid);
    const winner = won.indexOf(true);
    const want = winner === racers.length - 1 ? 'LOST_CALL' : winner === racers.length - 2 ? 'CDR' : `W${winner < 10 ? 1 : 2}_${winner % 10}`;
    assert.equal(stored?.cause, want, 'the stored result is the winner\'s');
    assert.deepEqual(sent.map((r) => r.cause), winner === racers.length - 1 ? [] : [want], 'only the winner signals (settleLost returns its result instead)');
    // The workflow applies what it heard (the stored result) and its endAttempt copies it.
    const applied = winner === racers.length - 1 ? { ...hangup(uuid, 'LOST_CALL'), source: 'reconcile' as const } : sent[0];
    await setAttempt(uuid, { result: await appliedResult(uuid, resultRecord(applied), {}) });
    assert.equal((await Attempt.findById(uuid).lean<AttemptDoc>())!.result!.cause, want);
  }
});

test('an engine outcome loses to a result stored before it, and the record keeps the stored one', async () => {
  const uuid = 'engine-late';
  await recordAttempt(uuid, fields(uuid), Date.now());
  const { client } = signals();
  assert.equal(await settleAndSignal(client, { workflowId: `w-${uuid}`, result: hangup(uuid, 'USER_BUSY') }, pino({ level: 'silent' })), true);
  await setAttempt(uuid, { result: await appliedResult(uuid, resultRecord({ ...hangup(uuid, 'NOT_SENT'), source: 'engine' }), { abandoned: true }) });
  const doc = (await Attempt.findById(uuid).lean<AttemptDoc>())!;
  assert.equal(doc.result!.cause, 'USER_BUSY');
  assert.equal(doc.result!.abandoned, true, 'with the workflow\'s verdict');
});

test('the send claim (the record\'s insert) is made once of 20 concurrent placeCall runs', async () => {
  const claims = await Promise.all(Array.from({ length: 20 }, () => recordAttempt('sent-once', fields('sent-once'), Date.now())));
  assert.equal(claims.filter(Boolean).length, 1);
});

test('two workers\' routers hear a failed call twice each (job -ERR, hangup): one result stored and signalled, one settle per worker', async () => {
  const uuid = 'routed-once';
  await recordAttempt(uuid, fields(uuid), Date.now());
  const { sent, client } = signals();
  const workers = [new EventEmitter(), new EventEmitter()];
  for (const esl of workers) routeCallResults(esl as never, client, pino({ level: 'silent' }));
  const job = { 'Job-Command': 'originate', 'Job-Command-Arg': `{origination_uuid=${uuid},dlr_workflow_id=w-${uuid}}sofia/gateway/gw1/1 &park()`, _body: '-ERR USER_BUSY\n' };
  const hangupEv = { 'Unique-ID': uuid, 'Hangup-Cause': 'USER_BUSY', variable_dlr_workflow_id: `w-${uuid}` };
  const seen = await commandsSent(async () => {
    for (const esl of workers) {
      esl.emit('BACKGROUND_JOB', job);
      esl.emit('CHANNEL_HANGUP_COMPLETE', hangupEv);
    }
    await waitFor('the result signalled', async () => sent.length > 0 || null);
    await new Promise((r) => setTimeout(r, 300));
  });
  assert.equal(sent.length, 1, 'signalled once');
  assert.equal((await storedResultOf(uuid))?.cause, 'USER_BUSY');
  // (Both routers are in this process: their settles may share one insert command.)
  const settles = seen.filter((c) => c.collection === 'attempt_results' && c.name === 'insert').flatMap((c) => c.command.documents as unknown[]);
  assert.equal(settles.length, 2, 'one settle per worker, none for the repeated report');
});
