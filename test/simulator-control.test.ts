// HTTP control interface and fault injection, plus the stand-alone process (simulator/main.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startSimulator, Simulator } from '../simulator/index';
import type { CallRecord } from '../simulator/calls';
import { header, httpJson, RawEslClient, sleep } from './simulator-support';

describe('control interface', () => {
  let sim: Simulator;
  let port: number;

  before(async () => {
    sim = await startSimulator({ port: 0, controlPort: 0, timeScale: 0.01, heartbeatSec: 0,
      rules: { rules: [{ prefix: '7', outcome: { type: 'answer', ringSec: 1 } }] } });
    port = sim.controlPort as number;
  });
  after(async () => {
    await sim.stop();
  });

  it('exposes calls and stats (current and peak channels)', async () => {
    const c = await RawEslClient.authed(sim.eslPort);
    const uuid = randomUUID();
    const job = randomUUID();
    await c.command('event json BACKGROUND_JOB');
    await c.command(`bgapi originate {origination_uuid=${uuid},lead_id=9}sofia/gateway/gw1/700 &park()`, `Job-UUID: ${job}\n`);
    await c.waitEvent((e) => header(e.headers, 'Job-UUID') === job);
    const stats = (await httpJson(port, 'GET', '/stats')).json as Record<string, unknown>;
    assert.equal(stats.activeChannels, 1);
    assert.equal(stats.peakChannels, 1);
    assert.equal(stats.coreUuid, sim.coreUuid);
    const active = (await httpJson(port, 'GET', '/calls?state=active')).json as CallRecord[];
    assert.equal(active.length, 1);
    const rec = (await httpJson(port, 'GET', `/calls/${job}`)).json as CallRecord;
    assert.equal(rec.uuid, uuid);
    assert.equal(rec.via, 'bgapi');
    assert.equal(rec.channelVars.lead_id, '9');
    assert.equal(rec.dialString, `{origination_uuid=${uuid},lead_id=9}sofia/gateway/gw1/700`);
    assert.equal((await httpJson(port, 'GET', '/calls/nope')).status, 404);
    assert.deepEqual((await httpJson(port, 'POST', '/reset', {})).json, { ok: true });
    await c.waitFor(() => sim.activeChannels() === 0);
    assert.equal(((await httpJson(port, 'GET', '/calls')).json as CallRecord[]).length, 0);
    c.close();
  });

  it('replaces rules with PUT /rules and rejects invalid ones', async () => {
    const bad = await httpJson(port, 'PUT', '/rules', { rules: [{ prefix: '1', outcome: { type: 'teleport' } }] });
    assert.equal(bad.status, 400);
    assert.match(String((bad.json as { error: string }).error), /unknown outcome type/);
    const good = await httpJson(port, 'PUT', '/rules', { rules: [{ prefix: '1', outcome: { type: 'reject' } }] });
    assert.equal(good.status, 200);
    const c = await RawEslClient.authed(sim.eslPort);
    assert.equal((await c.command('api originate sofia/gateway/gw1/123 &park()')).body.toString(), '-ERR CALL_REJECTED\n');
    assert.deepEqual(((await httpJson(port, 'GET', '/rules')).json as { rules: unknown[] }).rules.length, 1);
    c.close();
    sim.setRules({ rules: [{ prefix: '7', outcome: { type: 'answer', ringSec: 1 } }] });
  });

  it('silence: a half-open connection gets nothing, not even heartbeats', async () => {
    const c = await RawEslClient.authed(sim.eslPort);
    await c.command('event json HEARTBEAT');
    const n = c.frames.length;
    await httpJson(port, 'POST', '/faults', { silence: true });
    c.write('api status\n\n');
    sim.heartbeat();
    await sleep(150);
    assert.equal(c.frames.length, n);
    assert.equal(c.closed, false);
    assert.deepEqual((await httpJson(port, 'POST', '/faults', { silence: false })).json, { silence: false, chunkSize: 0, jobDelayMs: 0 });
    assert.match((await c.command('api status')).body.toString(), /^UP /);
    c.close();
  });

  it('resetConnections drops clients with a reset; jobDelayMs holds BACKGROUND_JOB back', async () => {
    const c = await RawEslClient.authed(sim.eslPort);
    await httpJson(port, 'POST', '/faults', { resetConnections: true });
    await c.waitClosed();
    const d = await RawEslClient.authed(sim.eslPort);
    await d.command('event json BACKGROUND_JOB');
    sim.faults({ jobDelayMs: 200 });
    const t0 = Date.now();
    await d.command('bgapi originate error/NO_ANSWER &park()');
    const ev = await d.waitEvent((e) => header(e.headers, 'Event-Name') === 'BACKGROUND_JOB');
    assert.ok(Date.now() - t0 >= 190);
    assert.equal(ev.body, '-ERR NO_ANSWER\n');
    sim.faults({ jobDelayMs: 0 });
    d.close();
  });

  it('chunked writes still frame correctly', async () => {
    sim.faults({ chunkSize: 1 });
    const c = await RawEslClient.authed(sim.eslPort);
    assert.equal((await c.command('api uuid_exists x')).body.toString(), 'false');
    sim.faults({ chunkSize: 0 });
    c.close();
  });

  it('restart: new Core-UUID, calls dropped without events, connections closed', async () => {
    const c = await RawEslClient.authed(sim.eslPort);
    await c.command('event json ALL');
    const uuid = randomUUID();
    assert.match((await c.command(`api originate {origination_uuid=${uuid}}sofia/gateway/gw1/777 &park()`)).body.toString(), /^\+OK/);
    const oldCore = sim.coreUuid;
    const res = (await httpJson(port, 'POST', '/restart', {})).json as { coreUuid: string };
    assert.notEqual(res.coreUuid, oldCore);
    await c.waitClosed();
    assert.ok(!c.eventNames().includes('CHANNEL_HANGUP'));
    assert.equal(sim.call(uuid)?.state, 'lost');
    const d = await RawEslClient.authed(sim.eslPort);
    assert.equal((await d.command(`api uuid_exists ${uuid}`)).body.toString(), 'false');
    await d.command('event json HEARTBEAT');
    sim.heartbeat();
    const hb = await d.waitEvent((e) => header(e.headers, 'Event-Name') === 'HEARTBEAT');
    assert.equal(header(hb.headers, 'Core-UUID'), res.coreUuid);
    d.close();
  });

  it('graceful restart hangs calls up with SYSTEM_SHUTDOWN and sends the shutdown notice', async () => {
    const c = await RawEslClient.authed(sim.eslPort);
    await c.command('event json CHANNEL_HANGUP_COMPLETE');
    await c.command('api originate sofia/gateway/gw1/778 &park()');
    await sim.restart({ graceful: true });
    await c.waitClosed();
    const hc = c.events().find((e) => header(e.headers, 'Event-Name') === 'CHANNEL_HANGUP_COMPLETE');
    assert.equal(hc && header(hc.headers, 'Hangup-Cause'), 'SYSTEM_SHUTDOWN');
    assert.equal(c.frames[c.frames.length - 1]?.body.toString(), 'The system is being shut down.\n');
  });
});

describe('stand-alone process', () => {
  it('starts from environment variables with the demo rules and stops on SIGTERM', async () => {
    const root = path.resolve(__dirname, '..');
    const child = spawn(process.execPath, ['--import', 'tsx', 'simulator/main.ts'], {
      cwd: root, env: { ...process.env, ESL_PORT: '0', SIMULATOR_CONTROL_PORT: '0', ESL_PASSWORD: 'secret' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      const deadline = Date.now() + 15000;
      while (!/ESL 127\.0\.0\.1:(\d+), control http:\/\/127\.0\.0\.1:(\d+)/.test(out)) {
        if (Date.now() > deadline) throw new Error(`no start line: ${out}`);
        await sleep(50);
      }
      const m = /ESL 127\.0\.0\.1:(\d+), control http:\/\/127\.0\.0\.1:(\d+)/.exec(out) as RegExpExecArray;
      const c = await RawEslClient.authed(Number(m[1]), 'secret');
      assert.equal((await c.command('api originate sofia/gateway/gw1/2001 &park()')).body.toString(), '-ERR USER_BUSY\n');
      c.close();
      const health = (await httpJson(Number(m[2]), 'GET', '/health')).json as { ok: boolean };
      assert.equal(health.ok, true);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
