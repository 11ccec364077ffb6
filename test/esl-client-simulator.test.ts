// EslClient against the FreeSWITCH simulator in simulator/ (faithful call model and fault switches).
// Run: node --import tsx --test test/esl-client-simulator.test.ts
// Exact failure-mode tests (slow replies, refused handshakes, backoff timing) are in
// test/esl-client.test.ts, against a small fake server.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSimulator, type Simulator, type SimulatorOptions, type RulesConfig } from '../simulator';
import { parseDialString, parseOriginateArgs } from '../simulator/dialstring';
import {
  EslClient,
  EslConnectionLostError,
  buildOriginate,
  parseJobResult,
  hangupFromEvent,
  type EslClientOptions,
  type EslConnectedInfo,
} from '../esl';
import { connected, nextEvent, withTimeout } from './support/esl-waits';

const RULES: RulesConfig = {
  gateways: { gw1: 'up', gwdown: 'down' },
  rules: [
    { match: '1001', outcome: { type: 'answer', ringSec: 1, talkSec: 3 } },
    { match: '1002', outcome: { type: 'busy', ringSec: 1 } },
    { match: '1003', outcome: { type: 'answer', ringSec: 1, talkSec: null } }, // until killed
    { match: '1004', outcome: { type: 'no_answer' } },
  ],
};

const sims: Simulator[] = [];
const clients: EslClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.stop()));
  await Promise.all(sims.map((s) => s.stop()));
});

async function setup(
  simOpts: SimulatorOptions = {},
  clientOpts: Partial<EslClientOptions> = {},
): Promise<{ sim: Simulator; c: EslClient; info: EslConnectedInfo }> {
  // timeScale 0.01: one simulated second lasts 10 ms; durations in events stay consistent.
  const sim = await startSimulator({ port: 0, timeScale: 0.01, heartbeatSec: 0, rules: RULES, ...simOpts });
  sims.push(sim);
  const c = new EslClient({
    host: sim.host,
    port: sim.eslPort,
    password: sim.password,
    commandTimeoutMs: 1000,
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    ...clientOpts,
  });
  clients.push(c);
  const p = connected(c);
  c.start();
  return { sim, c, info: await p };
}

/** bgapi originate; resolves with the job result and (if a channel existed) its hangup-complete. */
async function dial(c: EslClient, number: string, vars: Record<string, string | number> = {}, gw = 'gw1') {
  const uuid = randomUUID();
  const job = randomUUID();
  const result = nextEvent(c, 'BACKGROUND_JOB', (e) => e['Job-UUID'] === job);
  const hangup = nextEvent(c, 'CHANNEL_HANGUP_COMPLETE', (e) => e['Unique-ID'] === uuid);
  hangup.catch(() => {});
  await c.bgapi(buildOriginate({ uuid, dialString: `sofia/gateway/${gw}/${number}`, vars, timeoutSec: 5 }), job);
  return { uuid, job, result, hangup };
}

test('buildOriginate output is parsed back to the exact variables by the simulator\'s port of the FreeSWITCH parser', () => {
  const vars = { name: `O'Brien, "Pat" Jr`, list: 'a,b,,c', eq: 'k=v', path: 'C:\\tmp\\x', n: 7, yes: true };
  const cmd = buildOriginate({ uuid: 'u-1', dialString: 'sofia/gateway/gw1/1001', vars, timeoutSec: 30 });
  const args = parseOriginateArgs(cmd.slice('originate '.length));
  assert.ok(args);
  assert.equal(args.exten, '&park()');
  const d = parseDialString(args.aleg);
  assert.equal(d.url, 'sofia/gateway/gw1/1001');
  assert.equal(d.legCount, 1);
  assert.deepEqual(Object.fromEntries(d.vars), {
    origination_uuid: 'u-1',
    ignore_early_media: 'true',
    originate_timeout: '30',
    name: 'OBrien, Pat Jr',
    list: 'a,b,,c',
    eq: 'k=v',
    path: 'C:tmpx',
    n: '7',
    yes: 'true',
  });
});

describe('EslClient against the simulator', () => {
  test('answered call: BACKGROUND_JOB +OK, CHANNEL_ANSWER, CHANNEL_HANGUP_COMPLETE with our variables', async () => {
    const { sim, c, info } = await setup();
    assert.deepEqual(info, { coreUuid: sim.coreUuid, coreUuidChanged: false });
    const answer = nextEvent(c, 'CHANNEL_ANSWER', () => true);
    const d = await dial(c, '1001', { attempt_id: 'att-1', campaign_id: 42, note: 'a, b' });
    assert.deepEqual(parseJobResult((await d.result)._body ?? ''), { ok: true, uuid: d.uuid });
    assert.equal((await answer)['Unique-ID'], d.uuid);
    const h = hangupFromEvent(await d.hangup);
    assert.equal(h.uuid, d.uuid);
    assert.equal(h.cause, 'NORMAL_CLEARING');
    assert.equal(h.answered, true);
    assert.equal(h.billsec, 3);
    assert.equal(h.vars['attempt_id'], 'att-1');
    assert.equal(h.vars['campaign_id'], '42');
    assert.equal(h.vars['note'], 'a, b');
    assert.equal(sim.call(d.uuid)?.channelVars['note'], 'a, b');
  });

  test('busy and gateway-down failures: -ERR cause in the job result, hangup only when a channel existed', async () => {
    const { c } = await setup();
    const busy = await dial(c, '1002');
    assert.deepEqual(parseJobResult((await busy.result)._body ?? ''), { ok: false, cause: 'USER_BUSY' });
    const h = hangupFromEvent(await busy.hangup);
    assert.deepEqual([h.cause, h.q850, h.answered, h.billsec], ['USER_BUSY', 17, false, 0]);

    const down = await dial(c, '1001', {}, 'gwdown');
    assert.deepEqual(parseJobResult((await down.result)._body ?? ''), { ok: false, cause: 'GATEWAY_DOWN' });
    assert.equal(await c.uuidExists(down.uuid), false);
  });

  test('uuid_exists / uuid_kill / hupall on live calls', async () => {
    const { c } = await setup();
    const d = await dial(c, '1003');
    assert.equal(parseJobResult((await d.result)._body ?? '').ok, true);
    assert.equal(await c.uuidExists(d.uuid), true);
    assert.equal(await c.uuidKill(d.uuid), true);
    assert.equal(hangupFromEvent(await d.hangup).cause, 'NORMAL_CLEARING');
    assert.equal(await c.uuidExists(d.uuid), false);
    assert.equal(await c.uuidKill(d.uuid), false);

    const d2 = await dial(c, '1003', { dlr_queue: 'q7' });
    await d2.result;
    await c.hupall('MANAGER_REQUEST', 'dlr_queue', 'q7');
    assert.equal(hangupFromEvent(await d2.hangup).cause, 'MANAGER_REQUEST');
  });

  test('connection reset (RST) and close (FIN): reconnects, re-subscribes, events flow again', async () => {
    const { sim, c } = await setup();
    for (const fault of [{ resetConnections: true }, { closeConnections: true }]) {
      const disc = once(c, 'disconnected');
      const again = connected(c);
      sim.faults(fault);
      await withTimeout(disc, 2000, 'disconnected');
      assert.equal((await again).coreUuidChanged, false);
      const d = await dial(c, '1002');
      assert.equal(parseJobResult((await d.result)._body ?? '').ok, false);
      await d.hangup;
    }
  });

  test('a job result that finishes after the reconnect still arrives (handled by Job-UUID)', async () => {
    const { sim, c } = await setup();
    sim.faults({ jobDelayMs: 400 });
    const d = await dial(c, '1002');
    const again = connected(c);
    sim.faults({ resetConnections: true });
    await again; // well before the 400 ms delay ends
    assert.deepEqual(parseJobResult((await d.result)._body ?? ''), { ok: false, cause: 'USER_BUSY' });
    sim.faults({ jobDelayMs: 0 });
  });

  test('in-flight api rejected with EslConnectionLostError on reset', async () => {
    const { sim, c } = await setup({}, { commandTimeoutMs: 5000 });
    sim.faults({ silence: true });
    const p = c.api('status');
    await sleep(30);
    sim.faults({ silence: false, resetConnections: true });
    await assert.rejects(p, EslConnectionLostError);
    await connected(c);
  });

  test('Core-UUID change detected after a simulated FreeSWITCH restart', async () => {
    const { sim, c, info } = await setup();
    const again = connected(c);
    await sim.restart({ graceful: true });
    const after = await again;
    assert.notEqual(sim.coreUuid, info.coreUuid);
    assert.deepEqual(after, { coreUuid: sim.coreUuid, coreUuidChanged: true });
    assert.equal(c.coreUuid, sim.coreUuid);
  });

  test('half-open silence is detected through missing HEARTBEATs', async () => {
    const { sim, c } = await setup({ heartbeatSec: 0.1 }, { heartbeatTimeoutMs: 350 });
    await sleep(500); // heartbeats keep it alive
    assert.equal(c.isConnected(), true);
    const disc = once(c, 'disconnected');
    sim.faults({ silence: true });
    const t = Date.now();
    const [reason] = (await withTimeout(disc, 2000, 'disconnected')) as [string];
    assert.match(reason, /heartbeat/);
    assert.ok(Date.now() - t < 1000);
    const again = connected(c);
    sim.faults({ silence: false });
    await again;
    assert.equal(c.isConnected(), true);
  });

  test('1-byte chunked frames are still parsed', async () => {
    const { sim, c } = await setup();
    sim.faults({ chunkSize: 1 });
    const d = await dial(c, '1002', { attempt_id: 'x' });
    assert.deepEqual(parseJobResult((await d.result)._body ?? ''), { ok: false, cause: 'USER_BUSY' });
    assert.equal(hangupFromEvent(await d.hangup).vars['attempt_id'], 'x');
    sim.faults({ chunkSize: 0 });
  });
});
