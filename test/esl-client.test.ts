// Tests for esl/ (EslClient over modesl 1.2.1, buildOriginate, parseJobResult, hangupFromEvent).
// Run: node --import tsx --test test/esl-client.test.ts
//
// Most client tests use FakeFs below: a deliberately small raw `net` server speaking the
// inbound ESL wire format of /work/shared/spec/esl-protocol.md §1 (auth/request, command/reply,
// api/response, text/event-json, disconnect notice), with switches for exact failure modes
// (RST, half-open silence, slow replies, refused handshakes, Core-UUID change). Where the
// golden captures in /work/shared/golden/esl exist, real FreeSWITCH bytes are replayed through
// it. Tests against the shared simulator live in test/esl-client-simulator.test.ts.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  EslClient,
  EslNotConnectedError,
  EslTimeoutError,
  EslConnectionLostError,
  buildOriginate,
  dialEndpointProblem,
  dialStringProblem,
  parseJobResult,
  hangupFromEvent,
  reconnectDelay,
  subscriptionCommand,
  type EslClientOptions,
  type EslConnectedInfo,
  type EslEvent,
} from '../esl';
import { connected, nextEvent, withTimeout } from './support/esl-waits';

// ------------------------------------------------------------------ fake FreeSWITCH

const NOTICE = 'Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n';
const STATUS_BODY = 'UP 0 years, 0 days, 0 hours, 0 minutes, 1 second, 0 milliseconds, 0 microseconds\nFreeSWITCH (Version 1.10.12-release 64bit) is ready\n';

interface FakeCommand {
  line: string;
  headers: Record<string, string>;
}

class FakeConn {
  authed = false;
  events = new Set<string>();
  silent = false; // half-open: read nothing, answer nothing, send nothing
  commands: FakeCommand[] = [];
  private buf = '';
  private queue: Promise<void> = Promise.resolve();
  constructor(
    readonly fs: FakeFs,
    readonly socket: net.Socket,
  ) {
    socket.on('error', () => {});
    socket.setNoDelay(true); // like mod_event_socket (TCP_NODELAY)
    socket.on('data', (d) => this.onData(d.toString('utf8')));
    this.write('Content-Type: auth/request\n\n');
  }
  get alive(): boolean {
    return !this.socket.destroyed;
  }
  write(s: string | Buffer): void {
    if (!this.silent && this.alive) this.socket.write(s);
  }
  reply(text: string, extra = ''): void {
    this.write(`Content-Type: command/reply\nReply-Text: ${text}\n${extra}\n`);
  }
  apiResponse(body: string): void {
    this.write(`Content-Type: api/response\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}`);
  }
  sendEvent(ev: Record<string, string>): void {
    const json = JSON.stringify(ev);
    this.write(`Content-Length: ${Buffer.byteLength(json)}\nContent-Type: text/event-json\n\n${json}`);
  }
  wants(name: string): boolean {
    return this.authed && !this.silent && (this.events.has(name) || this.events.has('ALL'));
  }
  private onData(s: string): void {
    if (this.silent) return;
    this.buf += s.replace(/\r/g, '');
    let i: number;
    while ((i = this.buf.indexOf('\n\n')) >= 0) {
      const block = this.buf.slice(0, i).replace(/^\n+/, '');
      this.buf = this.buf.slice(i + 2);
      if (!block) continue;
      const [line, ...rest] = block.split('\n');
      const headers: Record<string, string> = {};
      for (const h of rest) {
        const k = h.indexOf(': ');
        if (k > 0) headers[h.slice(0, k)] = h.slice(k + 2);
      }
      const cmd = { line: line!, headers };
      this.commands.push(cmd);
      // FreeSWITCH handles one command at a time per connection; `api` blocks the rest.
      this.queue = this.queue.then(() => this.handle(cmd));
    }
  }
  private async handle({ line, headers }: FakeCommand): Promise<void> {
    if (this.silent || !this.alive) return;
    const [word = '', ...args] = line.split(' ');
    const rest = args.join(' ');
    if (!this.authed) {
      if (word === 'auth') {
        if (rest === this.fs.password) {
          this.authed = true;
          this.reply('+OK accepted');
        } else {
          this.reply('-ERR invalid');
          this.write(`Content-Type: text/disconnect-notice\nContent-Length: ${Buffer.byteLength(NOTICE)}\n\n${NOTICE}`);
          this.socket.end();
        }
      } else this.reply('-ERR command not found');
      return;
    }
    switch (word) {
      case 'event': {
        if (args[0] !== 'json') throw new Error('client must only subscribe json');
        for (const n of args.slice(1)) this.events.add(n.toUpperCase());
        this.reply('+OK event listener enabled json');
        return;
      }
      case 'api': {
        const body = await this.fs.onApi(rest, this);
        if (body !== null) this.apiResponse(body);
        else await new Promise(() => {}); // never answers: blocks the connection like FS would
        return;
      }
      case 'bgapi': {
        const job = headers['Job-UUID'] ?? randomUUID();
        this.reply(`+OK Job-UUID: ${job}`, `Job-UUID: ${job}\n`);
        const result = this.fs.onBgapi(rest);
        if (result !== null) {
          setTimeout(() => {
            const [cmd, ...a] = rest.split(' ');
            this.fs.broadcast('BACKGROUND_JOB', {
              'Job-UUID': job,
              'Job-Command': cmd!,
              ...(a.length ? { 'Job-Command-Arg': a.join(' ') } : {}),
              'Content-Length': String(Buffer.byteLength(result)),
              _body: result,
            });
          }, this.fs.jobDelayMs);
        }
        return;
      }
      case 'exit':
        this.reply('+OK bye');
        this.write(`Content-Type: text/disconnect-notice\nContent-Length: ${Buffer.byteLength(NOTICE)}\n\n${NOTICE}`);
        this.socket.end();
        return;
      default:
        this.reply('-ERR command not found');
    }
  }
}

class FakeFs {
  password = 'ClueCon';
  coreUuid = randomUUID();
  conns: FakeConn[] = [];
  acceptTimes: number[] = [];
  /** 'normal'; 'destroy': accept then close at once; 'silent': accept, send nothing */
  mode: 'normal' | 'destroy' | 'silent' = 'normal';
  jobDelayMs = 5;
  seq = 1000;
  apiHandlers: Record<string, (args: string) => string | null | Promise<string | null>> = {};
  private server = net.createServer((s) => this.accept(s));
  private hbTimer: NodeJS.Timeout | undefined;

  async listen(port = 0): Promise<number> {
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    return this.port;
  }
  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }
  get live(): FakeConn[] {
    return this.conns.filter((c) => c.alive);
  }
  get last(): FakeConn {
    return this.conns[this.conns.length - 1]!;
  }
  private accept(s: net.Socket): void {
    this.acceptTimes.push(Date.now());
    if (this.mode === 'destroy') {
      s.on('error', () => {});
      s.destroy();
      return;
    }
    const c = new FakeConn(this, s);
    if (this.mode === 'silent') c.silent = true;
    this.conns.push(c);
  }
  onApi(cmdline: string, _conn: FakeConn): string | null | Promise<string | null> {
    const [cmd = '', ...a] = cmdline.split(' ');
    const h = this.apiHandlers[cmd];
    if (h) return h(a.join(' '));
    if (cmd === 'status') return STATUS_BODY;
    if (cmd === 'uuid_exists') return a[0] === 'live-uuid' ? 'true' : 'false';
    if (cmd === 'uuid_kill') return a[0] === 'live-uuid' ? '+OK\n' : '-ERR No such channel!\n';
    if (cmd === 'hupall') {
      const cause = a[0] ?? 'MANAGER_REQUEST';
      return a.length >= 3
        ? `+OK hangup all channels matching [${a[1]}]=[${a[2]}] with cause: ${cause}\n`
        : `+OK hangup all channels with cause ${cause}\n`;
    }
    return `-ERR ${cmd} Command not found!\n`;
  }
  onBgapi(cmdline: string): string | null {
    const [cmd = '', ...a] = cmdline.split(' ');
    if (cmd === 'status') return STATUS_BODY;
    if (cmd === 'originate') {
      const m = /origination_uuid=([^,}]+)/.exec(a.join(' '));
      if (a.join(' ').includes('error/USER_BUSY')) return '-ERR USER_BUSY\n';
      return `+OK ${m ? m[1] : randomUUID()}\n`;
    }
    return `-ERR ${cmd} Command not found!\n`;
  }
  eventHeaders(name: string): Record<string, string> {
    return {
      'Event-Name': name,
      'Core-UUID': this.coreUuid,
      'FreeSWITCH-Hostname': 'fake',
      'Event-Date-Timestamp': String(Date.now() * 1000),
      'Event-Sequence': String(this.seq++),
    };
  }
  broadcast(name: string, extra: Record<string, string> = {}): void {
    const ev = { ...this.eventHeaders(name), ...extra };
    // Body keys last, like FreeSWITCH.
    const { 'Content-Length': cl, _body, ...rest } = ev as Record<string, string>;
    const ordered: Record<string, string> = { ...rest, ...(cl !== undefined ? { 'Content-Length': cl, _body: _body! } : {}) };
    for (const c of this.conns) if (c.wants(name)) c.sendEvent(ordered);
  }
  heartbeats(everyMs: number): void {
    clearInterval(this.hbTimer);
    this.hbTimer = setInterval(() => this.broadcast('HEARTBEAT', { 'Event-Info': 'System Ready' }), everyMs);
  }
  /** RST every live connection (crash / network reset). */
  resetAll(): void {
    for (const c of this.live) c.socket.resetAndDestroy();
  }
  /** Half-open: the sockets stay open but nothing is read or sent any more. */
  silenceAll(): void {
    for (const c of this.live) c.silent = true;
  }
  /** Disconnect notice then FIN (e.g. the event-queue overflow kill, §1.5). */
  kickAll(body: string): void {
    for (const c of this.live) {
      c.write(`Content-Type: text/disconnect-notice\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}`);
      c.socket.end();
    }
  }
  async close(): Promise<void> {
    clearInterval(this.hbTimer);
    for (const c of this.conns) c.socket.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

// ------------------------------------------------------------------ helpers

const started: EslClient[] = [];
const fakes: FakeFs[] = [];
after(async () => {
  await Promise.all(started.map((c) => c.stop()));
  await Promise.all(fakes.map((f) => f.close().catch(() => {})));
});

async function fake(): Promise<FakeFs> {
  const fs = new FakeFs();
  fakes.push(fs);
  await fs.listen();
  return fs;
}

function client(fs: FakeFs, o: Partial<EslClientOptions> = {}): EslClient {
  const c = new EslClient({
    host: '127.0.0.1',
    port: fs.port,
    password: 'ClueCon',
    commandTimeoutMs: 1000,
    reconnectMinMs: 20,
    reconnectMaxMs: 100,
    ...o,
  });
  started.push(c);
  return c;
}

async function startConnected(o: Partial<EslClientOptions> = {}): Promise<{ fs: FakeFs; c: EslClient; info: EslConnectedInfo }> {
  const fs = await fake();
  const c = client(fs, o);
  const p = connected(c);
  c.start();
  const info = await p;
  return { fs, c, info };
}

/** Frames of a golden capture (.recv): outer headers + body. */
function goldenFrames(name: string): { headers: Record<string, string>; body: Buffer; raw: Buffer }[] {
  const data = readFileSync(`${GOLDEN}/${name}.recv`);
  const out: { headers: Record<string, string>; body: Buffer; raw: Buffer }[] = [];
  let i = 0;
  while (i < data.length) {
    const j = data.indexOf('\n\n', i);
    const headers: Record<string, string> = {};
    for (const l of data.subarray(i, j).toString().split('\n')) headers[l.slice(0, l.indexOf(': '))] = l.slice(l.indexOf(': ') + 2);
    const n = Number(headers['Content-Length'] ?? 0);
    out.push({ headers, body: data.subarray(j + 2, j + 2 + n), raw: data.subarray(i, j + 2 + n) });
    i = j + 2 + n;
  }
  return out;
}
const GOLDEN = '/work/shared/golden/esl';
const haveGolden = existsSync(`${GOLDEN}/originate-json-busy-486.recv`);

// ------------------------------------------------------------------ pure functions

describe('buildOriginate', () => {
  test('exact output, fixed variable order, default &park()', () => {
    assert.equal(
      buildOriginate({
        uuid: 'a0000000-0000-4000-8000-000000000002',
        dialString: 'sofia/gateway/gw1/1002',
        vars: { dlr_member_id: 'm1', dlr_current_attempt: 1 },
        timeoutSec: 5,
      }),
      // identical to the command in golden/esl/originate-json-busy-486.sent
      'originate {origination_uuid=a0000000-0000-4000-8000-000000000002,ignore_early_media=true,originate_timeout=5,dlr_member_id=m1,dlr_current_attempt=1}sofia/gateway/gw1/1002 &park()',
    );
  });

  test('sanitises values like Webitel v3 and escapes commas/spaces the way FreeSWITCH parses them', () => {
    const cmd = buildOriginate({
      uuid: 'u1',
      dialString: 'sofia/gateway/gw1/15551234567',
      vars: {
        name: `O'Brien, "Pat"\r\n\tx\\y`,
        note: '  a, b  ',
        br: '${evil}',
        flag: true,
        n: 42,
        empty: '  ',
      },
      timeoutSec: 30,
      app: '&playback(/tmp/x.wav)',
    });
    assert.equal(
      cmd,
      'originate {origination_uuid=u1,ignore_early_media=true,originate_timeout=30,' +
        'name=OBrien\\,\\sPatxy,note=a\\,\\sb,br=$evil,flag=true,n=42}sofia/gateway/gw1/15551234567 &playback(/tmp/x.wav)',
    );
  });

  test('rejects bad input instead of building a broken command', () => {
    const base = { uuid: 'u1', dialString: 'sofia/gateway/gw1/1', vars: {}, timeoutSec: 30 };
    assert.throws(() => buildOriginate({ ...base, vars: { 'bad name': 1 } }));
    assert.throws(() => buildOriginate({ ...base, vars: { 'a=b': 1 } }));
    assert.throws(() => buildOriginate({ ...base, vars: { origination_uuid: 'x' } }));
    assert.throws(() => buildOriginate({ ...base, dialString: 'sofia/gw 1' }));
    assert.throws(() => buildOriginate({ ...base, dialString: '{a=1}sofia/x' }));
    assert.throws(() => buildOriginate({ ...base, timeoutSec: 0 }));
    assert.throws(() => buildOriginate({ ...base, timeoutSec: 1.5 }));
    assert.throws(() => buildOriginate({ ...base, uuid: 'x y' }));
    assert.throws(() => buildOriginate({ ...base, app: '&park()\nexit' }));
  });

  test('a dial string cannot add legs, variable blocks, quoting or expansion', () => {
    const base = { uuid: 'u1', dialString: 'sofia/gateway/gw1/1', vars: {}, timeoutSec: 30 };
    for (const d of [
      'sofia/gateway/gw1/1,[api_on_answer=system\\sid]sofia/gateway/gw1/2', 'sofia/gateway/gw1/1|loopback/1/default',
      'sofia/gateway/gw1/1:_:sofia/gateway/gw1/2', 'sofia/gateway/gw1/<execute_on_answer=x>1', 'sofia/gateway/${system(id)}/1',
      "sofia/gateway/gw1/1'", 'sofia/gateway/gw1/"1"', 'sofia/gateway/gw1/1\\s', '^^:a=b', 'sofia/gateway/gw1/1\t', '',
    ]) {
      assert.throws(() => buildOriginate({ ...base, dialString: d }), /invalid dial string/, d);
      assert.ok(dialStringProblem(d), d);
    }
    for (const d of ['sofia/gateway/gw1/15551234567', 'sofia/external/380501112233@10.0.0.7:5060', 'error/USER_BUSY', 'user/1001@acme']) {
      assert.equal(dialStringProblem(d), null, d);
      assert.match(buildOriginate({ ...base, dialString: d, endpoints: ['sofia/', 'error/', 'user/'] }), new RegExp(`}${d.replace(/[.]/g, '\\.')} &park\\(\\)$`));
    }
  });

  test('only allowed endpoint types are dialled: a gateway by default, more when the operator allows them', () => {
    const base = { uuid: 'u1', vars: {}, timeoutSec: 30 };
    for (const d of ['loopback/1000/default', 'sofia/internal/1000@127.0.0.1', 'user/1001@other.example', 'error/USER_BUSY', 'group/sales', '15551234567', 'sofia/gatewayx/1']) {
      assert.match(dialEndpointProblem(d) ?? '', /allowed endpoint: sofia\/gateway\//, d);
      assert.throws(() => buildOriginate({ ...base, dialString: d }), /invalid dial string/, d);
    }
    for (const d of ['sofia/gateway/gw1/15551234567', 'SOFIA/Gateway/gw1/1']) assert.equal(dialEndpointProblem(d), null, d);
    assert.equal(dialEndpointProblem('user/1001', ['sofia/gateway/', 'user/']), null);
    assert.ok(dialEndpointProblem('loopback/1', ['sofia/gateway/', 'user/']));
  });
});

describe('parseJobResult', () => {
  test('success, failures, odd bodies', () => {
    assert.deepEqual(parseJobResult('+OK 8c1e3a7e-6f2b-4d6a-9a51-2f0f3e1a9b10\n'), {
      ok: true,
      uuid: '8c1e3a7e-6f2b-4d6a-9a51-2f0f3e1a9b10',
    });
    assert.deepEqual(parseJobResult('+OK\n'), { ok: true });
    assert.deepEqual(parseJobResult('-ERR USER_BUSY\n'), { ok: false, cause: 'USER_BUSY' });
    assert.deepEqual(parseJobResult('-ERR NO_ANSWER'), { ok: false, cause: 'NO_ANSWER' });
    assert.deepEqual(parseJobResult('-ERR no reply\n'), { ok: false, cause: 'no reply' });
    assert.deepEqual(parseJobResult('-ERR\n'), { ok: false, cause: 'ERR' });
    assert.deepEqual(parseJobResult('-USAGE: <call url> <exten>\n'), { ok: false, cause: '-USAGE: <call url> <exten>' });
    assert.deepEqual(parseJobResult(''), { ok: false, cause: 'EMPTY' });
  });
});

describe('hangupFromEvent', () => {
  test('answered call', () => {
    const h = hangupFromEvent({
      'Event-Name': 'CHANNEL_HANGUP_COMPLETE',
      'Unique-ID': 'u-1',
      'Hangup-Cause': 'NORMAL_CLEARING',
      'Caller-Channel-Answered-Time': '1795525055092382',
      variable_hangup_cause: 'NORMAL_CLEARING',
      variable_hangup_cause_q850: '16',
      variable_billsec: '3',
      variable_answersec: '1',
      variable_duration: '4',
      variable_campaign_id: '42',
      'Other-Header': 'x',
    });
    assert.deepEqual(h, {
      uuid: 'u-1',
      cause: 'NORMAL_CLEARING',
      q850: 16,
      billsec: 3,
      answersec: 1,
      duration: 4,
      answered: true,
      vars: {
        hangup_cause: 'NORMAL_CLEARING',
        hangup_cause_q850: '16',
        billsec: '3',
        answersec: '1',
        duration: '4',
        campaign_id: '42',
      },
    });
  });

  test('answered with billsec 0 (hung up within a second) still counts as answered; ringing kill does not', () => {
    const base = { 'Event-Name': 'CHANNEL_HANGUP_COMPLETE', 'Unique-ID': 'u', variable_hangup_cause: 'NORMAL_CLEARING' };
    assert.equal(hangupFromEvent({ ...base, variable_billsec: '0', variable_answer_uepoch: '1795525055092382' }).answered, true);
    assert.equal(hangupFromEvent({ ...base, variable_billsec: '0', variable_answer_uepoch: '0', 'Caller-Channel-Answered-Time': '0' }).answered, false);
    const missing = hangupFromEvent({ 'Event-Name': 'CHANNEL_HANGUP', 'Unique-ID': 'u', 'Hangup-Cause': 'USER_BUSY' });
    assert.deepEqual([missing.cause, missing.q850, missing.billsec, missing.answered], ['USER_BUSY', 0, 0, false]);
    assert.throws(() => hangupFromEvent({ 'Event-Name': 'HEARTBEAT' }));
  });
});

test('reconnectDelay doubles from min and is capped at max (jitter only lowers it)', () => {
  const nominal = [0, 1, 2, 3, 4, 5, 10, 50].map((a) => reconnectDelay(a, 250, 10_000, () => 0));
  assert.deepEqual(nominal, [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  for (let a = 0; a < 60; a++) {
    const d = reconnectDelay(a, 250, 10_000);
    assert.ok(d <= 10_000 && d >= 0.8 * Math.min(10_000, 250 * 2 ** a) - 1, `attempt ${a}: ${d}`);
  }
});

test('subscriptionCommand adds HEARTBEAT/BACKGROUND_JOB and keeps CUSTOM last', () => {
  assert.equal(
    subscriptionCommand(['CHANNEL_HANGUP_COMPLETE', 'BACKGROUND_JOB', 'CHANNEL_ANSWER', 'HEARTBEAT']),
    'event json CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB CHANNEL_ANSWER HEARTBEAT',
  );
  assert.equal(
    subscriptionCommand(['CHANNEL_ANSWER', 'CUSTOM', 'callcenter::info', 'mod_amd::info']),
    'event json CHANNEL_ANSWER BACKGROUND_JOB HEARTBEAT CUSTOM callcenter::info mod_amd::info',
  );
});

// ------------------------------------------------------------------ client vs fake FreeSWITCH

describe('EslClient against the fake server', () => {
  test('connects, subscribes in JSON, learns Core-UUID, runs api commands', async () => {
    const { fs, c, info } = await startConnected();
    assert.deepEqual(info, { coreUuid: fs.coreUuid, coreUuidChanged: false });
    assert.equal(c.coreUuid, fs.coreUuid);
    assert.equal(c.isConnected(), true);
    const lines = fs.last.commands.map((x) => x.line);
    assert.deepEqual(lines.slice(0, 3), [
      'auth ClueCon',
      'event json BACKGROUND_JOB', // sent by modesl itself after auth (its CHANNEL_EXECUTE_COMPLETE removed: we never execute())
      'event json CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB CHANNEL_ANSWER CHANNEL_PARK HEARTBEAT',
    ]);
    assert.equal(lines[3], 'bgapi status');
    assert.ok(lines.every((l) => !/^event (plain|xml)/.test(l)));

    assert.equal(await c.api('status'), STATUS_BODY);
    assert.equal(await c.api('nosuch foo'), '-ERR nosuch Command not found!\n');
    assert.equal(await c.uuidExists('live-uuid'), true);
    assert.equal(await c.uuidExists('gone-uuid'), false); // body `false` without newline
    assert.equal(await c.uuidKill('live-uuid'), true);
    assert.equal(await c.uuidKill('gone-uuid', 'NORMAL_CLEARING'), false);
    await c.hupall('MANAGER_REQUEST', 'dlr_queue', '7');
    assert.equal(fs.last.commands.at(-1)!.line, 'api hupall MANAGER_REQUEST dlr_queue 7');
    await assert.rejects(c.api('status\nexit'), /CR or LF/);
    await assert.rejects(c.uuidKill('a b'), /invalid uuid/);
  });

  test('bgapi sends our Job-UUID, resolves on the reply; BACKGROUND_JOB arrives as an event with its body', async () => {
    const { fs, c } = await startConnected();
    const uuid = randomUUID();
    const job = randomUUID();
    const cmd = buildOriginate({ uuid, dialString: 'sofia/gateway/gw1/1002', vars: { attempt_id: 'a1' }, timeoutSec: 5 });
    const ev = nextEvent(c, 'BACKGROUND_JOB', (e) => e['Job-UUID'] === job);
    const all = nextEvent(c, 'event', (e) => e['Job-UUID'] === job);
    await c.bgapi(cmd, job);
    const sent = fs.last.commands.at(-1)!;
    assert.equal(sent.line, `bgapi ${cmd}`);
    assert.equal(sent.headers['Job-UUID'], job);
    const e = await ev;
    assert.equal(await all, e);
    assert.equal(e['Job-Command'], 'originate');
    assert.equal(e['Content-Length'], String(uuid.length + 5)); // a string, not modesl's number
    assert.equal(e._body, `+OK ${uuid}\n`);
    assert.deepEqual(parseJobResult(e._body!), { ok: true, uuid });

    const job2 = randomUUID();
    const ev2 = nextEvent(c, 'BACKGROUND_JOB', (x) => x['Job-UUID'] === job2);
    await c.bgapi(buildOriginate({ uuid: randomUUID(), dialString: 'error/USER_BUSY', vars: {}, timeoutSec: 5, endpoints: ['error/'] }), job2);
    assert.deepEqual(parseJobResult((await ev2)._body!), { ok: false, cause: 'USER_BUSY' });
  });

  test('api/bgapi while disconnected reject at once with EslNotConnectedError', async () => {
    const fs = await fake();
    const c = client(fs);
    let t = Date.now();
    await assert.rejects(c.api('status'), EslNotConnectedError); // before start()
    await assert.rejects(c.bgapi('status', randomUUID()), EslNotConnectedError);
    assert.ok(Date.now() - t < 50);

    const p = connected(c);
    c.start();
    await p;
    fs.mode = 'destroy'; // FreeSWITCH "down": every reconnect attempt fails
    const down = once(c, 'disconnected');
    fs.resetAll();
    await down;
    t = Date.now();
    await assert.rejects(c.api('status'), EslNotConnectedError);
    await assert.rejects(c.uuidExists('live-uuid'), EslNotConnectedError);
    assert.ok(Date.now() - t < 50, 'must not wait for a timeout');
    assert.equal(c.isConnected(), false);
  });

  test('api timeout rejects with EslTimeoutError; a late reply does not shift later replies', async () => {
    const { fs, c } = await startConnected();
    fs.apiHandlers.slow = async () => {
      await sleep(300);
      return 'SLOW-BODY\n';
    };
    const t = Date.now();
    await assert.rejects(c.api('slow', 100), (e: Error) => e instanceof EslTimeoutError && /slow.*100 ms/.test(e.message));
    const took = Date.now() - t;
    assert.ok(took >= 95 && took < 250, `took ${took} ms`);
    // The connection is still usable and the next reply is matched to the next command.
    assert.equal(await c.api('status'), STATUS_BODY);
    assert.equal(c.isConnected(), true);
  });

  test('half-open connection: commands time out, then the silence is detected and the client reconnects', async () => {
    const { fs, c } = await startConnected({ heartbeatTimeoutMs: 400 });
    fs.heartbeats(100);
    await sleep(600); // heartbeats keep a healthy connection alive well past the timeout
    assert.equal(c.isConnected(), true);
    assert.equal(fs.conns.length, 1);

    const disc = once(c, 'disconnected');
    const again = connected(c, 3000);
    fs.silenceAll(); // socket stays open, nothing comes back (no FIN, no RST)
    const t = Date.now();
    await assert.rejects(c.api('status', 150), EslTimeoutError);
    const [reason] = (await disc) as [string];
    const detected = Date.now() - t;
    assert.match(reason, /heartbeat/);
    assert.ok(detected >= 250 && detected < 900, `detected after ${detected} ms`);
    const info = await again;
    assert.equal(info.coreUuidChanged, false);
    assert.equal(fs.live.filter((x) => !x.silent).length, 1);
    assert.equal(await c.api('status'), STATUS_BODY);
  });

  test('connection reset: in-flight commands fail fast, client reconnects and re-subscribes', async () => {
    const { fs, c } = await startConnected({ commandTimeoutMs: 5000 });
    fs.apiHandlers.hang = () => null; // never answered
    const pending = c.api('hang');
    const disc = once(c, 'disconnected');
    const again = connected(c);
    await sleep(20);
    const t = Date.now();
    fs.resetAll();
    await assert.rejects(pending, EslConnectionLostError);
    assert.ok(Date.now() - t < 200, 'rejected on the reset, not after the 5 s timeout');
    await disc;
    await again;
    assert.equal(fs.conns.length, 2);
    assert.deepEqual(fs.last.commands[2]!.line, 'event json CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB CHANNEL_ANSWER CHANNEL_PARK HEARTBEAT');
    // Events flow on the new connection.
    const got = nextEvent(c, 'CHANNEL_HANGUP_COMPLETE');
    fs.broadcast('CHANNEL_HANGUP_COMPLETE', { 'Unique-ID': 'u-9', variable_hangup_cause: 'USER_BUSY', variable_hangup_cause_q850: '17' });
    const h = hangupFromEvent(await got);
    assert.deepEqual([h.uuid, h.cause, h.q850], ['u-9', 'USER_BUSY', 17]);
  });

  test('disconnect notice (e.g. killed for lost events) and plain FIN both lead to a reconnect', async () => {
    const { fs, c } = await startConnected();
    let disc = once(c, 'disconnected');
    let again = connected(c);
    fs.kickAll('killed listener because of lost events\n');
    const [reason] = (await disc) as [string];
    assert.match(reason, /lost events|closed/);
    await again;
    disc = once(c, 'disconnected');
    again = connected(c);
    for (const x of fs.live) x.socket.end(); // FIN without notice
    await disc;
    await again;
    assert.equal(fs.conns.length, 3);
  });

  test('reconnect backoff doubles per failed attempt, is capped, and resets after success', async () => {
    const { fs, c } = await startConnected({ reconnectMinMs: 40, reconnectMaxMs: 160 });
    fs.mode = 'destroy';
    const disc = once(c, 'disconnected');
    fs.resetAll();
    await disc;
    const t0 = fs.acceptTimes.length;
    await sleep(40 + 80 + 160 + 160 + 160 + 100);
    const times = fs.acceptTimes.slice(t0);
    assert.ok(times.length >= 5, `only ${times.length} attempts`);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    const nominal = [80, 160, 160, 160];
    gaps.slice(0, 4).forEach((g, i) => {
      assert.ok(g >= 0.8 * nominal[i]! - 10 && g <= nominal[i]! + 60, `gap ${i}: ${g} ms, expected ~${nominal[i]} (gaps ${gaps})`);
    });
    // FreeSWITCH comes back: the client connects on the next attempt (within the cap).
    fs.mode = 'normal';
    const t = Date.now();
    await connected(c, 1000);
    assert.ok(Date.now() - t <= 160 + 100);
    // After a success the backoff starts again from the minimum.
    const disc2 = once(c, 'disconnected');
    const again = connected(c);
    fs.resetAll();
    await disc2;
    const t2 = Date.now();
    await again;
    assert.ok(Date.now() - t2 < 40 + 60, `reconnect took ${Date.now() - t2} ms`);
  });

  test('a handshake that never completes (silent server) is abandoned and retried', async () => {
    const fs = await fake();
    fs.mode = 'silent';
    const c = client(fs, { commandTimeoutMs: 150 });
    c.start();
    await sleep(500);
    assert.ok(fs.acceptTimes.length >= 2, `attempts: ${fs.acceptTimes.length}`);
    assert.equal(c.isConnected(), false);
    fs.mode = 'normal';
    await connected(c);
  });

  test('wrong password: no crash, no connected event, retried with backoff', async () => {
    const fs = await fake();
    const c = client(fs, { password: 'wrong' });
    let connectedCount = 0;
    c.on('connected', () => connectedCount++);
    c.start();
    await sleep(300);
    assert.ok(fs.conns.length >= 2, `attempts: ${fs.conns.length}`);
    assert.equal(connectedCount, 0);
    // The first connection has answered its auth (the newest may not have sent it yet).
    assert.equal(fs.conns[0]!.commands[0]?.line, 'auth wrong');
    await assert.rejects(c.waitConnected(50), EslTimeoutError);
  });

  test('Core-UUID change after a FreeSWITCH restart is reported on reconnect', async () => {
    const { fs, c, info } = await startConnected();
    const first = info.coreUuid;
    let again = connected(c);
    fs.resetAll(); // network blip: same FreeSWITCH
    assert.deepEqual(await again, { coreUuid: first, coreUuidChanged: false });
    fs.coreUuid = randomUUID(); // FreeSWITCH restarted
    again = connected(c);
    fs.resetAll();
    assert.deepEqual(await again, { coreUuid: fs.coreUuid, coreUuidChanged: true });
    assert.equal(c.coreUuid, fs.coreUuid);
  });

  test('a throwing listener or a malformed JSON event does not break the connection', async () => {
    const { fs, c } = await startConnected();
    c.on('CHANNEL_ANSWER', () => {
      throw new Error('listener bug');
    });
    const ok = nextEvent(c, 'CHANNEL_HANGUP_COMPLETE');
    fs.broadcast('CHANNEL_ANSWER', { 'Unique-ID': 'u1' });
    const bad = '{"Event-Name":"CHANNEL_ANSWER",';
    fs.last.write(`Content-Length: ${bad.length}\nContent-Type: text/event-json\n\n${bad}`);
    fs.broadcast('CHANNEL_HANGUP_COMPLETE', { 'Unique-ID': 'u1' });
    assert.equal((await ok)['Unique-ID'], 'u1');
    assert.equal(c.isConnected(), true);
    assert.equal(await c.api('status'), STATUS_BODY);
  });

  test('a plain event with a malformed %-escape is ignored, not fatal (modesl URI-decoded it and threw, §5.3)', async () => {
    const { fs, c } = await startConnected();
    const ok = nextEvent(c, 'CHANNEL_HANGUP_COMPLETE');
    const plain = 'Event-Name: CHANNEL_ANSWER\nCaller-Caller-ID-Name: 100%%20off\n\n';
    fs.last.write(`Content-Length: ${plain.length}\nContent-Type: text/event-plain\n\n${plain}`);
    fs.broadcast('CHANNEL_HANGUP_COMPLETE', { 'Unique-ID': 'u2' });
    assert.equal((await ok)['Unique-ID'], 'u2');
    assert.equal(c.isConnected(), true);
    assert.equal(await c.api('status'), STATUS_BODY);
  });

  test('stop(): sends exit, rejects later commands, never reconnects', async () => {
    const { fs, c } = await startConnected();
    const disc = once(c, 'disconnected');
    await c.stop();
    await disc;
    assert.equal(fs.conns[0]!.commands.at(-1)!.line, 'exit');
    assert.equal(c.isConnected(), false);
    await assert.rejects(c.api('status'), EslNotConnectedError);
    await sleep(150);
    assert.equal(fs.acceptTimes.length, 1);
  });

  test('real FreeSWITCH bytes (golden capture) are parsed into string headers', { skip: !haveGolden && 'no golden captures' }, async () => {
    const { fs, c } = await startConnected({ events: ['ALL'] });
    const frames = goldenFrames('originate-json-busy-486').filter((f) => f.headers['Content-Type'] === 'text/event-json');
    const names: string[] = [];
    c.on('event', (e: EslEvent) => names.push(e['Event-Name']));
    const hc = nextEvent(c, 'CHANNEL_HANGUP_COMPLETE');
    const job = nextEvent(c, 'BACKGROUND_JOB', (e) => e['Job-Command'] === 'originate');
    fs.last.write(Buffer.concat(frames.map((f) => f.raw))); // all frames in one burst
    const h = hangupFromEvent(await hc);
    assert.deepEqual(
      { uuid: h.uuid, cause: h.cause, q850: h.q850, billsec: h.billsec, answered: h.answered },
      { uuid: 'a0000000-0000-4000-8000-000000000002', cause: 'USER_BUSY', q850: 17, billsec: 0, answered: false },
    );
    assert.equal(h.vars['dlr_member_id'], 'm1');
    assert.equal(h.vars['sip_term_status'], '486');
    assert.deepEqual(parseJobResult((await job)._body!), { ok: false, cause: 'USER_BUSY' });
    await sleep(50);
    assert.equal(names.length, frames.length);
  });
});
