// The simulator with mod_json_cdr on, against real FreeSWITCH 1.10.12 as the dialer's own
// connection saw it (golden/esl-dialer): per outcome the frames (event names and order, the
// headers that matter, timing within tolerance — long gaps scripted in simulated time, so a
// time scale keeps the test short), CHANNEL_HANGUP_COMPLETE only after the CDR post and all its
// retries, `retries=N` → N+1 tries, and CDR requests shaped like the captured ones. Also the call
// log (every originate, answer, hangup, result) the fault suite reads.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readCallLog, startSimulator, type Simulator } from '../simulator/index';
import { header, parseFrames, parseEvent, RawEslClient, type ParsedEvent } from './simulator-support';

const DIR = path.resolve(__dirname, '..', '..', 'shared', 'golden', 'esl-dialer');
/** Real seconds per simulated second: the 5-s talk and the 10-s originate timeout take 0.5 s and 1 s. */
const SCALE = 0.1;
const EVENTS = 'CHANNEL_ANSWER CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB';

/** An event's headers, its body as `_body` (as in the JSON on the wire). */
function headerMap(ev: ParsedEvent): Map<string, string> {
  const h = new Map(ev.headers);
  if (ev.body !== undefined) h.set('_body', ev.body);
  return h;
}

interface GoldenFrame { t: number; name: string; h: Map<string, string> }

function golden(name: string): { frames: GoldenFrame[]; command: string } {
  const { frames } = parseFrames(fs.readFileSync(path.join(DIR, `${name}.recv`)));
  const timeline = fs.readFileSync(path.join(DIR, `${name}.timeline.jsonl`), 'utf8').trim().split('\n')
    .map((l) => JSON.parse(l) as { t_ms: number; event: string });
  const out = frames.map((f, i) => {
    const ev = parseEvent(f) as ParsedEvent;
    return { t: timeline[i].t_ms, name: header(ev.headers, 'Event-Name') ?? '?', h: headerMap(ev) };
  });
  assert.deepEqual(out.map((f) => f.name), timeline.map((l) => l.event), `${name}: timeline and frames agree`);
  const job = out.find((f) => f.name === 'BACKGROUND_JOB')!;
  return { frames: out, command: `${job.h.get('Job-Command')} ${job.h.get('Job-Command-Arg')}` };
}

function cdrGolden(name: string): { request_line: string; headers: Record<string, string>; body: Record<string, unknown> } {
  return JSON.parse(fs.readFileSync(path.join(DIR, `cdr-${name}.json`), 'utf8')) as never;
}

interface Post { at: number; line: string; headers: http.IncomingHttpHeaders; raw: string[]; body: string }

/** A CDR endpoint that records every request and answers `status()`. */
async function cdrServer(status: () => number) {
  const posts: Post[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({ at: performance.now(), line: `${req.method} ${req.url}`, headers: req.headers, raw: req.rawHeaders, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = status();
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { posts, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cdr`, close: () => server.close() };
}

/** The events of one call as the raw client received them, with real arrival times (ms since the first). */
async function runCall(sim: Simulator, command: string, uuid: string, until: string, timeoutMs = 15_000) {
  const c = await RawEslClient.authed(sim.eslPort);
  const arrivals: number[] = [];
  const count = () => { while (arrivals.length < c.frames.length) arrivals.push(performance.now()); };
  const timer = setInterval(count, 1);
  try {
    await c.command(`event json ${EVENTS}`);
    await c.command(`bgapi ${command}`);
    const mine = () => c.events().filter((e) => header(e.headers, 'Unique-ID') === uuid || header(e.headers, 'Event-Name') === 'BACKGROUND_JOB');
    await c.waitFor(() => mine().some((e) => header(e.headers, 'Event-Name') === until), timeoutMs);
    count();
    const events: Array<{ t: number; name: string; h: Map<string, string> }> = [];
    c.frames.forEach((f, i) => {
      const ev = parseEvent(f);
      if (!ev) return;
      const h = headerMap(ev);
      if (h.get('Unique-ID') !== uuid && h.get('Event-Name') !== 'BACKGROUND_JOB') return;
      events.push({ t: arrivals[i], name: h.get('Event-Name')!, h });
    });
    const t0 = events[0].t;
    return { t0, events: events.map((e) => ({ ...e, t: e.t - t0 })) };
  } finally {
    clearInterval(timer);
    c.close();
  }
}

const RULES = {
  gateways: { '*': 'up' as const },
  rules: [
    { match: '17770001', outcome: { type: 'answer' as const, ringSec: 1, talkSec: 5 } },
    { match: '27770001', outcome: { type: 'busy' as const } },
    { match: '37770001', outcome: { type: 'no_answer' as const, progressSec: 0 } },
  ],
};

/** Headers whose values must equal the capture's (UUIDs are those of the replayed command). */
const SAME = ['Event-Name', 'Hangup-Cause', 'Answer-State', 'Channel-State', 'Channel-Call-State', 'Event-Calling-Function',
  'Job-Command', '_body', 'Application', 'Application-Response', 'variable_hangup_cause', 'variable_billsec',
  'variable_sip_term_status', 'variable_endpoint_disposition', 'variable_dlr_member_id', 'variable_dlr_workflow_id', 'Unique-ID'];

describe('simulator with mod_json_cdr, against golden/esl-dialer', () => {
  let sim: Simulator;
  let cdr: Awaited<ReturnType<typeof cdrServer>>;
  let logFile: string;
  let endpointUp = true;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-cdr-'));

  before(async () => {
    cdr = await cdrServer(() => (endpointUp ? 200 : 503));
    logFile = path.join(dir, 'calls.jsonl');
    sim = await startSimulator({
      port: 0, heartbeatSec: 0, timeScale: SCALE, rules: RULES, hostname: 'vm', callLog: logFile,
      cdr: { url: cdr.url, retries: 10, delayMs: 2000 },
    });
  });
  after(async () => {
    await sim?.stop();
    cdr?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, until, cdrName] of [
    ['answered-5s-json-cdr', 'CHANNEL_HANGUP_COMPLETE', 'answered'],
    ['busy-486-json-cdr', 'CHANNEL_HANGUP_COMPLETE', 'busy'],
    ['no-answer-10s-json-cdr', 'CHANNEL_HANGUP_COMPLETE', 'no-answer'],
  ] as const) {
    it(`${name}: same frames in the same order, timing within tolerance, CDR posted before CHANNEL_HANGUP_COMPLETE`, async () => {
      const g = golden(name);
      const uuid = /origination_uuid=([0-9a-f-]{36})/.exec(g.command)![1];
      const postsBefore = cdr.posts.length;
      const { t0, events: got } = await runCall(sim, g.command, uuid, until);
      assert.deepEqual(got.map((e) => e.name), g.frames.map((f) => f.name), 'event order');
      for (const [i, f] of g.frames.entries()) {
        for (const k of SAME) {
          if (!f.h.has(k)) continue;
          assert.equal(got[i].h.get(k), f.h.get(k), `${f.name} ${k}`);
        }
        assert.deepEqual([...got[i].h.keys()].filter((k) => !f.h.has(k) && !k.startsWith('variable_')), [], `${f.name}: no header FreeSWITCH does not send`);
      }
      // Gaps: seconds-long ones are scripted (simulated time), sub-second ones are processing (real time).
      for (let i = 1; i < g.frames.length; i++) {
        const want = g.frames[i].t - g.frames[i - 1].t;
        const gap = got[i].t - got[i - 1].t;
        if (want > 1000) assert.ok(Math.abs(gap / SCALE - want) < 400, `${g.frames[i].name}: ${gap / SCALE} simulated ms after the previous frame, FreeSWITCH ${want}`);
        else assert.ok(gap < 300, `${g.frames[i].name}: ${gap} ms after the previous frame, FreeSWITCH ${want}`);
      }
      const post = cdr.posts.slice(postsBefore).find((p) => p.line.includes(uuid));
      assert.ok(post, 'the CDR was posted');
      const completeAt = t0 + got[got.length - 1].t;
      assert.ok(post.at <= completeAt + 5, 'the CDR post came before CHANNEL_HANGUP_COMPLETE');
      if (name.startsWith('no-answer')) {
        const created = Number(got[got.length - 1].h.get('Caller-Channel-Created-Time'));
        const hungup = Number(got[got.length - 1].h.get('Caller-Channel-Hangup-Time'));
        assert.ok(Math.abs((hungup - created) / 1e6 - 10) < 0.3, `NO_ANSWER ${(hungup - created) / 1e6} s after the originate (FreeSWITCH 10.0–10.3 s)`);
      }

      // The CDR request as mod_json_cdr makes it.
      const want = cdrGolden(cdrName);
      assert.equal(post.line, want.request_line.replace(/uuid=.*/, `uuid=${uuid}`));
      const names = (raw: string[]) => raw.filter((_, i) => i % 2 === 0);
      assert.deepEqual(names(post.raw).filter((n) => n !== 'Connection'), Object.keys(want.headers), 'request header names and order');
      for (const k of ['User-Agent', 'Accept', 'Content-Type']) assert.equal(post.headers[k.toLowerCase()], want.headers[k], k);
      assert.equal(Number(post.headers['content-length']), Buffer.byteLength(post.body));
      const body = JSON.parse(post.body) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), Object.keys(want.body), 'top-level fields in FreeSWITCH order');
      const keys = (o: unknown) => Object.keys(o as object);
      assert.deepEqual(keys(body.channel_data), keys(want.body.channel_data));
      assert.deepEqual(keys(body.callStats), keys(want.body.callStats));
      const [flow] = body.callflow as Array<Record<string, unknown>>;
      const [wantFlow] = want.body.callflow as Array<Record<string, unknown>>;
      assert.deepEqual(keys(flow), keys(wantFlow));
      assert.deepEqual(keys(flow.caller_profile), keys(wantFlow.caller_profile));
      assert.deepEqual(keys(flow.times), keys(wantFlow.times));
      const vars = body.variables as Record<string, string>;
      const wantVars = want.body.variables as Record<string, string>;
      for (const k of ['uuid', 'origination_uuid', 'dlr_workflow_id', 'dlr_member_id', 'cc_queue', 'origination_caller_id_name',
        'hangup_cause', 'hangup_cause_q850', 'billsec', 'answersec', 'sip_term_status', 'endpoint_disposition']) {
        assert.equal(vars[k], wantVars[k], `variables.${k}`);
      }
      assert.equal((flow.times as Record<string, string>).answered_time !== '0', cdrName === 'answered');
    });
  }

  it('endpoint down: retries=N makes N+1 tries, and CHANNEL_HANGUP_COMPLETE waits for all of them', async () => {
    const fast = await startSimulator({
      port: 0, heartbeatSec: 0, rules: RULES, callLog: logFile, cdr: { url: cdr.url, retries: 4, delayMs: 100 },
    });
    endpointUp = false;
    try {
      const uuid = crypto.randomUUID();
      const before = cdr.posts.length;
      const { events: got } = await runCall(fast, `originate {origination_uuid=${uuid}}sofia/gateway/gw2/27770001 &park()`, uuid, 'CHANNEL_HANGUP_COMPLETE');
      assert.deepEqual(got.map((e) => e.name), ['BACKGROUND_JOB', 'CHANNEL_HANGUP_COMPLETE']);
      assert.equal(got[0].h.get('_body'), '-ERR USER_BUSY\n');
      assert.equal(cdr.posts.length - before, 5, 'retries=4: five tries');
      assert.ok(got[1].t >= 4 * 100 - 10, `CHANNEL_HANGUP_COMPLETE ${got[1].t} ms after the job result: after 4 delays of 100 ms`);
      assert.deepEqual((fast.stats() as { cdr: object }).cdr, { generated: 1, posted: 0, failedTries: 5, givenUp: 1, pending: 0 });
      const entries = readCallLog(logFile).filter((e) => 'uuid' in e && e.uuid === uuid);
      assert.deepEqual(entries.map((e) => e.ev), ['originate', 'hangup', 'result', 'cdr', 'complete']);
      assert.deepEqual(entries.find((e) => e.ev === 'cdr'), { ...entries.find((e) => e.ev === 'cdr'), accepted: false, tries: 5 });
    } finally {
      endpointUp = true;
      await fast.stop();
    }
  });

  it('the call log: every originate, answer, hangup and result, appended across processes; a crash leaves the far end in a dead call', async () => {
    const a = crypto.randomUUID();
    const c = await RawEslClient.authed(sim.eslPort);
    try {
      await c.command(`bgapi originate {origination_uuid=${a},dlr_member_id=m1}sofia/gateway/gw1/17770001 &park()`);
      for (let i = 0; i < 500 && sim.call(a)?.state !== 'answered'; i++) await new Promise((r) => setTimeout(r, 10));
    } finally {
      c.close();
    }
    const coreBefore = sim.coreUuid;
    await sim.restart(); // crash: the call vanishes without events
    const rec = sim.call(a)!;
    assert.equal(rec.state, 'lost');
    // The callee hangs up at its scripted time (answer + 5 s); its BYE then gets 481.
    assert.equal(Date.parse(rec.deadCallUntil!) - Date.parse(rec.answeredAt!), 5000);
    const log = readCallLog(logFile);
    const mine = log.filter((e) => ('uuid' in e && e.uuid === a) || (e.ev === 'stop' && e.core === coreBefore) || (e.ev === 'start' && e.core === sim.coreUuid));
    assert.deepEqual(mine.map((e) => e.ev), ['originate', 'answer', 'result', 'stop', 'start']);
    assert.equal((mine[0] as { vars: Record<string, string> }).vars.dlr_member_id, 'm1');
    assert.equal((mine[2] as { result: string }).result, `+OK ${a}`);
    assert.equal((mine[3] as { vanished: number }).vanished, 1);
  });
});
