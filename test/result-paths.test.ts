// The call-result paths of spec esl-protocol.md §7 on the real stack (Temporal dev server started by
// `npm test`, FerretDB, the FreeSWITCH simulator, the worker built by createDialerWorker with its
// CDR endpoint and reconciler): a CDR posted over HTTP settles an attempt and signals its workflow
// once; whichever source comes second (event or CDR) is ignored — with mod_json_cdr the CDR comes
// first, as FreeSWITCH fires CHANNEL_HANGUP_COMPLETE only after the post; after a FreeSWITCH restart (new
// Core-UUID) the reconciler settles vanished calls as LOST_CALL, retried without counting.
// Also: the simulator's mod_json_cdr posts, in each body encoding, parse back to the same result.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WorkflowHandle } from '@temporalio/client';
import mongoose from 'mongoose';
import pino from 'pino';
import { EslClient, buildOriginate } from '../esl';
import { parseCdrBody, resultFromCdr } from '../services/cdr';
import { Reconciler } from '../services/reconcile';
import { wakeCampaignWorkflow } from '../workflows/start';
import { answeredOnOf, Attempt, Campaign, Member, storedResultOf, type CampaignDoc, type MemberDoc } from '../models';
import { startSimulator, type CdrEncoding, type Simulator } from '../simulator';
import { memberInfoQuery, memberWorkflowId } from '../workflows/messages';
import { freePort } from '../scripts/servers';
import { startDevDialer, type DevDialer } from './support/dev-dialer';
import { appliedAttempt, connectTestDb, createCampaign, createMember, recordHistory, waitFor } from './support/env';

async function callResultSignals(h: WorkflowHandle): Promise<number> {
  const history = await h.fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'callResult').length;
}

describe('simulator CDR posts (mod_json_cdr)', () => {
  for (const encoding of ['json', 'form', 'base64'] as CdrEncoding[]) {
    test(`${encoding} body parses back to the hangup's result`, async () => {
      const got: { url: string; type: string; body: string }[] = [];
      const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          got.push({ url: req.url ?? '', type: String(req.headers['content-type']), body: Buffer.concat(chunks).toString('utf8') });
          res.end('ok');
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cdr`;
      const sim = await startSimulator({
        port: 0, heartbeatSec: 0, rules: { default: { type: 'answer', ringSec: 0.1, talkSec: 2 } },
        // form + encode-values: FreeSWITCH does not re-encode the values' %XX, so a `"` in a value
        // cannot be told from JSON after decoding (services/cdr.ts) — that combination is not usable.
        cdr: { url, encoding, retries: 1, encodeValues: encoding !== 'form' },
      });
      const esl = new EslClient({ host: '127.0.0.1', port: sim.eslPort, password: sim.password });
      try {
        esl.start();
        await esl.waitConnected(5000);
        const uuid = crypto.randomUUID();
        await esl.bgapi(buildOriginate({
          uuid, dialString: 'sofia/gateway/gw1/5551234', timeoutSec: 10,
          vars: { dlr_workflow_id: 'member-c-m', origination_caller_id_name: 'Say "hi" & 100%' },
        }), crypto.randomUUID());
        await waitFor('the CDR post', async () => got.length === 1, 10_000);
        const post = got[0];
        assert.equal(post.url, `/cdr?uuid=${uuid}`);
        // encode=false sends the JSON itself, yet labelled as a form (golden/esl-dialer/cdr-*.json).
        assert.match(post.type, { json: /x-www-form-urlencoded/, form: /x-www-form-urlencoded/, base64: /base64/ }[encoding]);
        const cdr = parseCdrBody(post.body);
        assert.equal((cdr as { 'core-uuid': string })['core-uuid'], sim.coreUuid);
        const found = resultFromCdr(cdr, uuid);
        const rec = sim.call(uuid)!;
        assert.deepEqual(found, {
          workflowId: 'member-c-m',
          result: { uuid, cause: 'NORMAL_CLEARING', answered: true, billsec: rec.billsec, answersec: rec.answersec, duration: rec.duration, source: 'cdr' },
        });
        assert.equal(rec.billsec, 2);
        // The simulator counts the post once it has read the answer, a moment after the server got it.
        await waitFor('the post counted', async () => (sim.stats() as { cdr: { posted: number } }).cdr.posted === 1, 5000);
      } finally {
        await esl.stop();
        await sim.stop();
        server.close();
      }
    });
  }

  test('a post that fails is retried with the delay', async () => {
    let calls = 0;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        calls++;
        res.statusCode = calls < 3 ? 503 : 200;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const sim = await startSimulator({
      port: 0, heartbeatSec: 0, rules: { default: { type: 'busy' } },
      cdr: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cdr`, retries: 5, delayMs: 50 },
    });
    const esl = new EslClient({ host: '127.0.0.1', port: sim.eslPort, password: sim.password });
    try {
      esl.start();
      await esl.waitConnected(5000);
      await esl.bgapi(buildOriginate({ uuid: crypto.randomUUID(), dialString: 'sofia/gateway/gw1/200', timeoutSec: 5, vars: {} }), crypto.randomUUID());
      await waitFor('three tries', async () => (sim.stats() as { cdr: { posted: number } }).cdr.posted === 1, 5000);
      assert.deepEqual((sim.stats() as { cdr: object }).cdr, { generated: 1, posted: 1, failedTries: 2, givenUp: 0, pending: 0 });
    } finally {
      await esl.stop();
      await sim.stop();
      server.close();
    }
  });
});

describe('result paths through the worker', () => {
  let dev: DevDialer;
  let sim: Simulator;
  let dialer: DevDialer['dialer'];
  const taskQueue = `result-paths-${process.pid}`;

  before(async () => {
    await connectTestDb('result_paths_test');
    const cdrPort = await freePort();
    dev = await startDevDialer({
      taskQueue,
      simulator: {
        rules: {
          rules: [
            { prefix: '7201', outcome: { type: 'answer', ringSec: 0, talkSec: null } },
            { prefix: '7202', outcome: { type: 'answer', ringSec: 0, talkSec: 1 } },
            { prefix: '7203', outcome: { type: 'no_answer' } },
            { prefix: '7204', outcome: { type: 'answer', ringSec: 0, talkSec: null } },
            { prefix: '7205', outcome: { type: 'answer', ringSec: 0, talkSec: null } },
          ],
        },
        cdr: { url: `http://127.0.0.1:${cdrPort}/cdr`, retries: 20, delayMs: 200 },
      },
      esl: { reconnectMinMs: 50 },
      worker: {
        log: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
        cdr: { host: '127.0.0.1', port: cdrPort },
        reconcile: { graceMs: 500, intervalMs: 0 },
      },
    });
    ({ sim, dialer } = dev);
    await dialer.esl.waitConnected(10_000);
  });

  after(async () => {
    await dev?.stop();
    await mongoose.disconnect();
  });

  async function startMember(numbers: string[], parameters: Record<string, unknown> = {}) {
    const camp = await createCampaign({}, { maxTryCount: 2, intervalTryCount: 1, ...parameters });
    const campaignId = String(camp._id);
    const m = await createMember(campaignId, numbers);
    const memberId = String(m._id);
    await wakeCampaignWorkflow(dialer.client, { domain: 'test.local', campaignId }, taskQueue);
    const h = dialer.client.workflow.getHandle(memberWorkflowId(campaignId, memberId));
    return { campaignId, memberId, h };
  }
  const callsOf = (memberId: string) => sim.calls().filter((c) => c.channelVars.dlr_member_id === memberId);
  const ended = (memberId: string, timeoutMs = 20_000) =>
    waitFor(`member ${memberId} to end`, async () => {
      const d = await Member.findById(memberId).lean<MemberDoc>();
      return d?._endCause ? d : null;
    }, timeoutMs);
  test('a CDR post settles the attempt and signals the workflow once; the later hangup event and CDR are ignored', async () => {
    const { memberId, h } = await startMember(['7201001']);
    const call = await waitFor('answered call', async () => callsOf(memberId).find((c) => c.answeredAt));
    const uuid = call.originationUuid!;
    const cdr = {
      variables: { uuid, dlr_workflow_id: h.workflowId, hangup_cause: 'NORMAL_CLEARING', billsec: '7', answersec: '0', duration: '7' },
      callflow: [{ times: { answered_time: String(Date.now() * 1000) } }],
    };
    const post = (body: string, type: string) =>
      fetch(`${dialer.cdr!.url}?uuid=${uuid}`, { method: 'POST', headers: { 'content-type': type }, body }).then(async (r) => ({ status: r.status, body: await r.json() }));
    assert.deepEqual(await post(JSON.stringify(cdr), 'application/json'), { status: 200, body: { ok: true, outcome: 'settled' } });
    assert.deepEqual(
      await post(`cdr=${encodeURIComponent(JSON.stringify(cdr))}`, 'application/x-www-form-urlencoded'),
      { status: 200, body: { ok: true, outcome: 'duplicate' } },
    );
    const doc = await ended(memberId);
    assert.equal(doc._endCause, 'NORMAL_CLEARING');
    assert.equal((doc._log as { talkSec: number }[])[0].talkSec, 7, 'the CDR values were applied');
    const attempt = await appliedAttempt<{ result: { source: string; cause: string; billsec: number } }>(uuid);
    assert.deepEqual([attempt!.result.source, attempt!.result.cause, attempt!.result.billsec], ['cdr', 'NORMAL_CLEARING', 7]);

    // The call itself still runs: hang it up; its CHANNEL_HANGUP_COMPLETE and the simulator's own
    // CDR now arrive for an attempt that is settled.
    const before = dialer.cdr!.stats().duplicate;
    assert.equal(await dialer.esl.uuidKill(uuid, 'NORMAL_CLEARING'), true);
    await waitFor('the simulator CDR of the killed call', async () => dialer.cdr!.stats().duplicate > before, 10_000);
    assert.equal(await callResultSignals(h), 1, 'exactly one callResult signal');
    assert.equal((await Attempt.findById(uuid).lean<{ result: { source: string } }>())!.result.source, 'cdr');
  });

  test('the result is signalled to the run that placed the call: the call carries that run\'s id', async () => {
    const { memberId, h } = await startMember(['7203009'], { maxTryCount: 1 });
    await ended(memberId);
    const [call] = callsOf(memberId);
    const attempt = await appliedAttempt<{ result: { cause: string } }>(call.originationUuid!);
    assert.equal(attempt!.result.cause, 'NO_ANSWER', 'the result was applied');
    const runId = call.channelVars.dlr_run_id;
    assert.match(runId ?? '', /^[0-9a-f-]{36}$/, 'placeCall set dlr_run_id');
    assert.equal((await dialer.client.workflow.getHandle(h.workflowId, runId).describe()).runId, runId, 'a run of the member workflow');
    assert.equal(await callResultSignals(dialer.client.workflow.getHandle(h.workflowId, runId)), 1, 'that run heard the result');
  });

  test('the CDR first, the hangup event second (FreeSWITCH sends CHANNEL_HANGUP_COMPLETE after the post): the workflow hears once', async () => {
    const before = dialer.cdr!.stats();
    const { memberId, h } = await startMember(['7202001']);
    const doc = await ended(memberId);
    assert.equal(doc._endCause, 'NORMAL_CLEARING');
    const uuid = callsOf(memberId)[0].originationUuid!;
    const attempt = await appliedAttempt<{ result: { source: string; billsec: number } }>(uuid);
    assert.equal(attempt!.result.source, 'cdr', 'mod_json_cdr posts before the hangup event is sent');
    const after = dialer.cdr!.stats();
    assert.equal(after.settled - before.settled, 1);
    assert.equal(after.duplicate, before.duplicate);
    await waitFor('the channel destroyed (after its CHANNEL_HANGUP_COMPLETE)', async () => sim.call(uuid)?.state === 'ended' && !sim.activeChannels());
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await callResultSignals(h), 1);
  });

  test('after a FreeSWITCH crash (new Core-UUID) the reconciler settles the vanished (ringing) call as LOST_CALL: retried without counting', async () => {
    const lostBefore = dialer.reconciler!.totals.lost;
    const { campaignId, memberId, h } = await startMember(['7203001'], { maxTryCount: 1 });
    const first = await waitFor('ringing call', async () => callsOf(memberId)[0]);
    const coreBefore = sim.coreUuid;
    const restartedAt = Date.now();
    await sim.restart(); // crash: the call vanishes, no event, no CDR
    assert.notEqual(sim.coreUuid, coreBefore);
    // The retry should succeed: the same number now answers and hangs up.
    sim.setRules({ rules: [
      { prefix: '7203', outcome: { type: 'answer', ringSec: 0, talkSec: 1 } },
      { prefix: '7205', outcome: { type: 'answer', ringSec: 0, talkSec: null } },
    ] });
    const lost = await waitFor('the attempt settled as LOST_CALL', async () => {
      return storedResultOf(first.originationUuid!);
    }, 15_000);
    assert.deepEqual([lost.cause, lost.source], ['LOST_CALL', 'reconcile']);
    // Usually the worker's reconciler settles it right after the reconnect; on a loaded machine the
    // member workflow's own overdue check can get there first. Either way it is settled exactly once.
    // Which reconciliation path wins (the worker's reconciler or the workflow's own check) depends on
    // timing under load; the outcome is asserted, not the path.
    void lostBefore;
    void restartedAt;

    const doc = await ended(memberId);
    assert.equal(doc._endCause, 'NORMAL_CLEARING', 'maxTryCount 1, yet a second call was made: the lost one did not count');
    assert.equal(doc._probeCount, 1);
    assert.deepEqual(callsOf(memberId).map((c) => c.channelVars.dlr_current_attempt), ['1', '1']);
    assert.deepEqual((doc._log as { cause: string }[]).map((l) => l.cause), ['NORMAL_CLEARING', 'LOST_CALL']);
    assert.ok((doc._log as { steps: { data: string }[] }[])[1].steps.some((st) => st.data === 'Lost call, not counted (1/2)'));
    assert.equal(await callResultSignals(h), 2, 'one result per attempt');
    // The campaign counters are written after the member (endAttempt: settle, then count).
    await waitFor('the success counted', async () => {
      const c = await Campaign.findById(campaignId).lean<CampaignDoc>();
      return (c!.stats as { successCall: number }).successCall === 1;
    });
    sim.setRules({ rules: [
      { prefix: '7204', outcome: { type: 'answer', ringSec: 0, talkSec: null } },
      { prefix: '7205', outcome: { type: 'answer', ringSec: 0, talkSec: null } },
    ] });
  });

  test('a call answered (CHANNEL_ANSWER recorded) that vanishes with no event or CDR is never redialled: it ends answered, talk time unknown', async () => {
    const { campaignId, memberId, h } = await startMember(['7205001'], { maxTryCount: 3 });
    const call = await waitFor('answered call', async () => callsOf(memberId).find((c) => c.answeredAt));
    const uuid = call.originationUuid!;
    const answeredOn = await waitFor('the answer recorded', async () => answeredOnOf(uuid));
    assert.ok(Math.abs(answeredOn - Date.parse(call.answeredAt!)) < 2000, `answeredOn ${answeredOn} is the switch's answer time ${call.answeredAt}`);
    await sim.restart(); // crash: the call vanishes, no hangup event, no CDR
    const doc = await ended(memberId);
    assert.equal(doc._endCause, 'LOST_CALL');
    assert.equal(doc.callSuccessful, true);
    assert.equal(doc._probeCount, 1);
    const [entry] = doc._log as { cause: string; talkSec: number | null; steps: { data: string }[] }[];
    assert.equal(entry.talkSec, null, 'talk time unknown');
    assert.ok(entry.steps.some((st) => st.data === 'Answered, then lost without a result: not dialled again (talk time unknown)'), JSON.stringify(entry.steps));
    const attempt = await appliedAttempt<{ result: { cause: string; answered: boolean; billsec: number | null; source: string } }>(uuid);
    assert.deepEqual(attempt!.result && [attempt!.result.cause, attempt!.result.answered, attempt!.result.billsec, attempt!.result.source], ['LOST_CALL', true, null, 'reconcile']);
    const stats = await waitFor('the attempt counted', async () => {
      const s = (await Campaign.findById(campaignId).lean<CampaignDoc>())!.stats as { connectedCall: number; successCall: number; callCount: number };
      return s.callCount >= 1 ? s : null;
    });
    assert.deepEqual([stats.connectedCall, stats.successCall, stats.callCount], [1, 1, 1]);
    await waitFor('the member workflow ended', async () => (await h.query(memberInfoQuery)).phase === 'ended');
    assert.equal(callsOf(memberId).length, 1, 'no second originate');
    assert.equal(await Attempt.countDocuments({ member: memberId }), 1);
    await recordHistory(h, 'answered-then-lost');
  });

  test('an answer nobody heard (no worker listening) is found in the switch\'s channel list at reconciliation: the lost call counts as answered', async () => {
    // A second connection places the call, so the worker's router never sees its CHANNEL_ANSWER.
    const esl = new EslClient({ host: '127.0.0.1', port: sim.eslPort, password: sim.password, reconnectMinMs: 50 });
    const reconciler = new Reconciler({ esl, client: dialer.client, log: pino({ level: 'silent' }), graceMs: 100, intervalMs: 0 });
    const uuid = crypto.randomUUID();
    try {
      esl.start();
      await esl.waitConnected(5000);
      const jobUuid = crypto.randomUUID();
      await Attempt.create({
        _id: uuid, dialer: 'unheard', domain: 'test.local', member: 'unheard-member', workflowId: 'member-unheard', attempt: 1,
        number: '7205999', dialString: 'sofia/gateway/gw1/7205999', jobUuid, sentOn: Date.now(),
      });
      await esl.bgapi(buildOriginate({ uuid, dialString: 'sofia/gateway/gw1/7205999', timeoutSec: 5, vars: {} }), jobUuid);
      await waitFor('the call answered', async () => sim.call(uuid)?.answeredAt);
      assert.equal(await answeredOnOf(uuid), null, 'the answer was not heard');
      const first = await reconciler.runOnce('test');
      assert.equal(first.answeredFound, 1);
      assert.ok(await answeredOnOf(uuid));
      const reconnected = new Promise((resolve) => esl.once('connected', resolve));
      await sim.restart(); // crash: the call vanishes with no event and no CDR
      await reconnected;
      const second = await reconciler.runOnce('test');
      assert.equal(second.answeredLost, 1);
      // Stored (no workflow runs to apply it to the attempt record).
      const stored = await storedResultOf(uuid);
      assert.deepEqual([stored?.cause, stored?.answered], ['LOST_CALL', true]);
    } finally {
      await reconciler.stop();
      await esl.stop();
    }
  });

  test('a graceful FreeSWITCH shutdown: the SYSTEM_SHUTDOWN result (event or CDR) is applied, not LOST_CALL', async () => {
    const { memberId, h } = await startMember(['7204001'], { maxTryCount: 1 });
    const call = await waitFor('answered call', async () => callsOf(memberId).find((c) => c.answeredAt));
    await sim.restart({ graceful: true });
    const doc = await ended(memberId);
    const attempt = await appliedAttempt<{ result: { cause: string; source: string } }>(call.originationUuid!);
    assert.equal(attempt!.result.cause, 'SYSTEM_SHUTDOWN');
    assert.ok(['event', 'cdr'].includes(attempt!.result.source));
    assert.equal((doc._log as { cause: string }[])[0].cause, 'SYSTEM_SHUTDOWN');
    assert.equal(doc._endCause, 'MAX_TRY_COUNT');
    await waitFor('the member workflow ended', async () => (await h.query(memberInfoQuery)).phase === 'ended');
  });
});
