// Inbound event socket semantics beyond the golden captures: auth timeout, subscriptions (CUSTOM,
// ALL, nixevent, noevents), filters, bgapi fan-out, api blocking, pipelining, misc replies.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSimulator, Simulator } from '../simulator/index';
import { header, RawEslClient, sleep } from './simulator-support';

const replyText = async (c: RawEslClient, cmd: string, extra = '') => header((await c.command(cmd, extra)).headers, 'Reply-Text');
const apiBody = async (c: RawEslClient, cmd: string) => (await c.command(`api ${cmd}`)).body.toString('utf8');

describe('inbound event socket', () => {
  let sim: Simulator;
  const clients: RawEslClient[] = [];
  const authed = async () => {
    const c = await RawEslClient.authed(sim.eslPort);
    clients.push(c);
    return c;
  };

  before(async () => {
    sim = await startSimulator({
      port: 0, timeScale: 0.01, heartbeatSec: 0, authTimeoutSec: 0.3,
      rules: { rules: [{ prefix: '77', outcome: { type: 'answer', ringSec: 2 } }] },
    });
  });
  after(async () => {
    for (const c of clients) c.close();
    await sim.stop();
  });

  it('disconnects a client that sends no command in time', async () => {
    const c = await RawEslClient.connect(sim.eslPort);
    clients.push(c);
    await c.waitClosed(2000);
    const last = c.frames[c.frames.length - 1];
    assert.equal(header(last?.headers ?? [], 'Content-Type'), 'text/disconnect-notice');
  });

  it('compares the password byte-exactly and allows exit before auth', async () => {
    const c = await RawEslClient.connect(sim.eslPort);
    clients.push(c);
    assert.equal(await replyText(c, 'auth ClueCon '), '-ERR invalid');
    await c.waitClosed();
    const d = await RawEslClient.connect(sim.eslPort);
    clients.push(d);
    assert.equal(await replyText(d, 'exit'), '+OK bye');
    await d.waitClosed();
  });

  it('answers event, nixevent, noevents, filter, log and session-only commands with FreeSWITCH texts', async () => {
    const c = await authed();
    assert.equal(await replyText(c, 'event json'), '-ERR no keywords supplied');
    // The format word still switched the connection to json.
    assert.equal(await replyText(c, 'event NO_SUCH_EVENT channel_create'), '+OK event listener enabled json');
    assert.equal(await replyText(c, 'nixevent CHANNEL_CREATE'), '+OK events nixed');
    assert.equal(await replyText(c, 'nixevent bogus'), '-ERR no keywords supplied');
    assert.equal(await replyText(c, 'noevents'), '+OK no longer listening for events');
    assert.equal(await replyText(c, 'noevents'), '-ERR not listening for events');
    assert.equal(await replyText(c, 'filter Unique-ID abc'), '+OK filter added. [Unique-ID]=[abc]');
    assert.equal(await replyText(c, 'filter Unique-ID'), '-ERR invalid syntax');
    assert.equal(await replyText(c, 'filter delete Unique-ID'), '+OK filter deleted. [Unique-ID][]');
    assert.equal(await replyText(c, 'filter delete all'), '+OK filter deleted. [all][]');
    assert.equal(await replyText(c, 'log 7'), '+OK log level 7 [7]');
    assert.equal(await replyText(c, 'nolog'), '+OK no longer logging');
    assert.equal(await replyText(c, 'nolog'), '-ERR not loging');
    assert.equal(await replyText(c, 'linger'), '-ERR not controlling a session');
    assert.equal(await replyText(c, 'divert_events on'), '-ERR not controlling a session.');
    assert.equal(await replyText(c, 'sendmsg ffffffff-0000-4000-8000-000000000000'),
      '-ERR invalid session id [ffffffff-0000-4000-8000-000000000000]');
    assert.equal(await replyText(c, 'myevents ffffffff-0000-4000-8000-000000000000 json'), '-ERR invalid uuid');
    assert.equal(await replyText(c, 'whatever'), '-ERR command not found');
  });

  it('delivers CUSTOM events only for named subclasses; CUSTOM turns later words into subclasses', async () => {
    const c = await authed();
    await c.command('event plain CUSTOM callcenter::info HEARTBEAT');
    const sender = await authed();
    await sender.command('sendevent CUSTOM', 'Event-Subclass: mod_amd::info\nX: 1\n');
    await sender.command('sendevent CUSTOM', 'Event-Subclass: callcenter::info\nCC-Action: agent-offering\n');
    sim.heartbeat();
    const ev = await c.waitEvent((e) => header(e.headers, 'Event-Name') === 'CUSTOM');
    assert.equal(header(ev.headers, 'Event-Subclass'), 'callcenter::info');
    assert.equal(header(ev.headers, 'CC-Action'), 'agent-offering');
    await sleep(50);
    assert.deepEqual(c.eventNames(), ['CUSTOM'], 'mod_amd::info and HEARTBEAT were not delivered');
  });

  it('ALL includes every subclass; nixevent after ALL means "everything but"', async () => {
    const c = await authed();
    await c.command('event json ALL');
    await c.command('nixevent HEARTBEAT RE_SCHEDULE');
    const sender = await authed();
    await sender.command('sendevent CUSTOM', 'Event-Subclass: anything::here\n');
    sim.heartbeat();
    await c.waitEvent((e) => header(e.headers, 'Event-Subclass') === 'anything::here');
    await sleep(50);
    assert.ok(!c.eventNames().includes('HEARTBEAT'));
  });

  it('filters apply to every event: OR of positives, "-" vetoes, /regex/ matches', async () => {
    const c = await authed();
    await c.command('event json HEARTBEAT BACKGROUND_JOB');
    await c.command('filter Event-Name HEARTBEAT');
    const other = await authed();
    await other.command('bgapi status', 'Job-UUID: d0000000-0000-4000-8000-000000000001\n');
    sim.heartbeat();
    await c.waitEvent((e) => header(e.headers, 'Event-Name') === 'HEARTBEAT');
    await sleep(50);
    assert.deepEqual(c.eventNames(), ['HEARTBEAT'], 'BACKGROUND_JOB filtered out');
    await c.command('filter Job-UUID /^d0000000-.*02$/');
    await c.command('filter Event-Name -HEARTBEAT');
    await other.command('bgapi status', 'Job-UUID: d0000000-0000-4000-8000-000000000002\n');
    sim.heartbeat();
    await c.waitEvent((e) => header(e.headers, 'Job-UUID') === 'd0000000-0000-4000-8000-000000000002');
    await sleep(50);
    assert.deepEqual(c.eventNames(), ['HEARTBEAT', 'BACKGROUND_JOB']);
  });

  it('bgapi: client Job-UUID, reply before the result, result to every subscribed connection', async () => {
    const a = await authed();
    const b = await authed();
    await a.command('event json BACKGROUND_JOB');
    await b.command('event plain BACKGROUND_JOB');
    const job = 'e0000000-0000-4000-8000-000000000001';
    const reply = await a.command('bgapi uuid_exists nope', `Job-UUID: ${job}\n`);
    assert.deepEqual(reply.headers, [['Content-Type', 'command/reply'], ['Reply-Text', `+OK Job-UUID: ${job}`], ['Job-UUID', job]]);
    for (const c of [a, b]) {
      const ev = await c.waitEvent((e) => header(e.headers, 'Job-UUID') === job);
      assert.equal(ev.body, 'false');
      assert.equal(header(ev.headers, 'Job-Command'), 'uuid_exists');
      assert.equal(header(ev.headers, 'Job-Command-Arg'), 'nope');
    }
    const replyIdx = a.frames.indexOf(reply);
    const evIdx = a.frames.findIndex((f) => f.body.includes(job));
    assert.ok(replyIdx < evIdx);
  });

  it('api blocks its connection: events wait until the api/response has been sent', async () => {
    const c = await authed();
    await c.command('event json CHANNEL_CREATE CHANNEL_ANSWER');
    const before = c.frames.length;
    const res = await c.command('api originate {origination_uuid=f0000000-0000-4000-8000-000000000001}sofia/gateway/gw/7701 &park()');
    assert.equal(res.body.toString(), '+OK f0000000-0000-4000-8000-000000000001\n');
    assert.equal(c.frames.indexOf(res), before, 'the reply is the first frame after the command');
    await c.waitEvent((e) => header(e.headers, 'Event-Name') === 'CHANNEL_ANSWER');
    assert.deepEqual(c.eventNames(), ['CHANNEL_CREATE', 'CHANNEL_ANSWER']);
    assert.equal(await apiBody(c, 'uuid_kill f0000000-0000-4000-8000-000000000001'), '+OK\n');
  });

  it('answers pipelined commands strictly in order and accepts CRLF', async () => {
    const c = await authed();
    const n = c.frames.length;
    c.write('api uuid_exists x\r\n\r\napi version\n\nevent plain HEARTBEAT\n\n');
    await c.waitFrames(n + 3);
    const [f1, f2, f3] = c.frames.slice(n);
    assert.equal(f1?.body.toString(), 'false');
    assert.match(f2?.body.toString() ?? '', /^FreeSWITCH Version 1\.10\.12-release~64bit/);
    assert.equal(header(f3?.headers ?? [], 'Reply-Text'), '+OK event listener enabled plain');
  });

  it('sendevent fires the event and replies with its Event-UUID', async () => {
    const c = await authed();
    await c.command('event json CUSTOM my::event');
    const r = await replyText(c, 'sendevent CUSTOM', 'Event-Subclass: my::event\nFoo: bar\n');
    const uuid = r?.replace('+OK ', '') ?? '';
    const ev = await c.waitEvent((e) => header(e.headers, 'Event-UUID') === uuid);
    assert.equal(header(ev.headers, 'Foo'), 'bar');
    assert.equal(header(ev.headers, 'Core-UUID'), sim.coreUuid);
  });
});
