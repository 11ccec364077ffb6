// npm modesl 1.2.1, unchanged, against the simulator: connect, auth, api, bgapi, JSON and plain
// events, filters, heartbeats, wrong password.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSimulator, Simulator } from '../simulator/index';

// modesl ships no types; only the part used here is described.
interface EslEvent {
  getHeader(name: string): string | undefined;
  getBody(): string | undefined;
  getType(): string | undefined;
  headers: Array<{ name: string; value: string }>;
}
interface EslConnection {
  on(event: string, fn: (...args: unknown[]) => void): void;
  once(event: string, fn: (...args: unknown[]) => void): void;
  api(cmd: string, args: string, cb: (e: EslEvent) => void): void;
  bgapi(cmd: string, args: string, jobId: string, cb: (e: EslEvent) => void): void;
  events(format: string, names: string, cb?: (e: EslEvent) => void): void;
  filter(header: string, value: string, cb?: (e: EslEvent) => void): void;
  disconnect(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const esl = require('modesl') as { Connection: new (host: string, port: number, pw: string, ready?: () => void) => EslConnection };

function connect(port: number, password = 'ClueCon'): Promise<EslConnection> {
  return new Promise((resolve, reject) => {
    const conn = new esl.Connection('127.0.0.1', port, password, () => resolve(conn));
    conn.on('error', reject);
  });
}

const api = (c: EslConnection, cmd: string, args = '') =>
  new Promise<EslEvent>((resolve) => c.api(cmd, args, resolve));

const nextEvent = (c: EslConnection, name: string) =>
  new Promise<EslEvent>((resolve) => c.once(name, (e) => resolve(e as EslEvent)));

describe('modesl 1.2.1 compatibility', () => {
  let sim: Simulator;
  const conns: EslConnection[] = [];

  before(async () => {
    sim = await startSimulator({
      port: 0, timeScale: 0.01, heartbeatSec: 0,
      rules: { rules: [{ prefix: '555', outcome: { type: 'answer', ringSec: 1, talkSec: 2 } },
        { prefix: '486', outcome: { type: 'busy' } }] },
    });
  });
  after(async () => {
    for (const c of conns) c.disconnect();
    await sim.stop();
  });

  it('authenticates and runs api commands', async () => {
    const c = await connect(sim.eslPort);
    conns.push(c);
    const status = await api(c, 'status');
    assert.equal(status.getHeader('Content-Type'), 'api/response');
    assert.match(status.getBody() ?? '', /^UP \d+ years?, .*\nFreeSWITCH \(Version 1\.10\.12-release {2}64bit\) is ready\n/);
    const exists = await api(c, 'uuid_exists', 'ffffffff-0000-4000-8000-000000000000');
    assert.equal(exists.getBody(), 'false');
    const unknown = await api(c, 'nosuchcommand', 'foo');
    assert.equal(unknown.getBody(), '-ERR nosuchcommand Command not found!\n');
  });

  it('bgapi originate reports through BACKGROUND_JOB and JSON channel events are parsed', async () => {
    const c = await connect(sim.eslPort);
    conns.push(c);
    await new Promise<void>((resolve) => c.events('json', 'CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE', () => resolve()));
    const uuid = 'b0000000-0000-4000-8000-000000000001';
    const hangup = nextEvent(c, `esl::event::CHANNEL_HANGUP_COMPLETE::${uuid}`);
    const job = await new Promise<EslEvent>((resolve) => c.bgapi('originate',
      `{origination_uuid=${uuid},ignore_early_media=true,originate_timeout=5,campaign_id=7}sofia/gateway/gw1/5551234 &park()`,
      'c0000000-0000-4000-8000-000000000001', resolve));
    assert.equal(job.getHeader('Job-UUID'), 'c0000000-0000-4000-8000-000000000001');
    assert.equal(job.getBody(), `+OK ${uuid}\n`);
    const hc = await hangup;
    assert.equal(hc.getHeader('Hangup-Cause'), 'NORMAL_CLEARING');
    assert.equal(hc.getHeader('variable_hangup_cause'), 'NORMAL_CLEARING');
    assert.equal(hc.getHeader('variable_billsec'), '2');
    assert.equal(hc.getHeader('variable_campaign_id'), '7');
  });

  it('plain events are URL-decoded by modesl, including BACKGROUND_JOB bodies', async () => {
    const c = await connect(sim.eslPort);
    conns.push(c);
    await new Promise<void>((resolve) => c.events('plain', 'ALL', () => resolve()));
    const uuid = 'b0000000-0000-4000-8000-000000000002';
    const hangup = nextEvent(c, `esl::event::CHANNEL_HANGUP_COMPLETE::${uuid}`);
    const job = await new Promise<EslEvent>((resolve) => c.bgapi('originate',
      `{origination_uuid=${uuid},ignore_early_media=true,lead='a b&c'}sofia/gateway/gw1/4861 &park()`,
      'c0000000-0000-4000-8000-000000000002', resolve));
    assert.equal(job.getBody(), '-ERR USER_BUSY\n');
    assert.equal(job.getHeader('Job-Command-Arg'),
      `{origination_uuid=${uuid},ignore_early_media=true,lead='a b&c'}sofia/gateway/gw1/4861 &park()`);
    const hc = await hangup;
    assert.equal(hc.getHeader('variable_lead'), 'a b&c');
    assert.equal(hc.getHeader('variable_sip_term_status'), '486');
    assert.equal(hc.getHeader('Event-Date-GMT')?.endsWith(' GMT'), true);
  });

  it('filters keep bgapi results flowing (modesl adds a Job-UUID filter)', async () => {
    const c = await connect(sim.eslPort);
    conns.push(c);
    const uuid = 'b0000000-0000-4000-8000-000000000003';
    await new Promise<void>((resolve) => c.events('json', 'CHANNEL_ANSWER CHANNEL_HANGUP', () => resolve()));
    await new Promise<void>((resolve) => c.filter('Unique-ID', uuid, () => resolve()));
    const answered = nextEvent(c, `esl::event::CHANNEL_ANSWER::${uuid}`);
    const job = await new Promise<EslEvent>((resolve) => c.bgapi('originate',
      `{origination_uuid=${uuid}}sofia/gateway/gw1/5559 &park()`, 'c0000000-0000-4000-8000-000000000003', resolve));
    assert.equal(job.getBody(), `+OK ${uuid}\n`);
    assert.equal((await answered).getHeader('Answer-State'), 'answered');
  });

  it('receives HEARTBEAT events with the current Core-UUID', async () => {
    const c = await connect(sim.eslPort);
    conns.push(c);
    await new Promise<void>((resolve) => c.events('json', 'HEARTBEAT', () => resolve()));
    const hb = nextEvent(c, 'esl::event::HEARTBEAT::*');
    sim.heartbeat();
    const ev = await hb;
    assert.equal(ev.getHeader('Core-UUID'), sim.coreUuid);
    assert.equal(ev.getHeader('Event-Info'), 'System Ready');
  });

  it('reports a wrong password as auth::fail followed by the disconnect notice', async () => {
    const conn = new esl.Connection('127.0.0.1', sim.eslPort, 'wrong');
    conn.on('error', () => undefined);
    const fail = nextEvent(conn, 'esl::event::auth::fail');
    const notice = nextEvent(conn, 'esl::event::disconnect::notice');
    const ended = new Promise<void>((resolve) => conn.once('esl::end', () => resolve()));
    await fail;
    assert.match((await notice).getBody() ?? '', /^Disconnected, goodbye\./);
    await ended;
  });
});
