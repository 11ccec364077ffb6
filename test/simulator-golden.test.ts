// Replays every golden capture from a real FreeSWITCH 1.10.12 against the simulator and compares
// what comes back: frame structure, outer header order, Content-Length, exact bodies of
// deterministic replies, event order, header names of every event, and the values that must
// match (states, causes, durations, ...). UUIDs, timestamps and sequence numbers are normalised.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startSimulator, Simulator } from '../simulator/index';
import type { RulesConfig } from '../simulator/rules';
import {
  Frame, GOLDEN_DIR, GoldenCase, header, Header, loadGolden, parseEvent, parseFrames, ParsedEvent, RawEslClient, sleep,
} from './simulator-support';

// The far-end behaviour of each golden case, as the capture README describes the SIPp scenarios.
const SIPP_SCENARIOS: RulesConfig = {
  gateways: { gw1: 'up' },
  rules: [
    { name: 'answer, BYE after 3 s', regex: '^(1001|1009|1011)$', outcome: { type: 'answer', ringSec: 1, talkSec: 3 } },
    { name: '486', regex: '^(1002|1012)$', outcome: { type: 'busy' } },
    { name: '180, never answers', match: '1003', outcome: { type: 'no_answer' } },
    { name: '404', match: '1004', outcome: { type: 'unallocated' } },
    { name: '603', match: '1005', outcome: { type: 'reject' } },
    { name: 'answer, wait for BYE', regex: '^(1006|1010|2000)$', outcome: { type: 'answer', ringSec: 1 } },
  ],
};

const NOISE = new Set(['HEARTBEAT', 'RE_SCHEDULE']);
const UUID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** Values that must be equal to the capture (after UUID normalisation). */
const COMPARED = new Set([
  'Event-Name', 'Event-Calling-File', 'Event-Calling-Function', 'Event-Calling-Line-Number', 'Channel-State',
  'Channel-Call-State', 'Channel-State-Number', 'Original-Channel-Call-State', 'Channel-Call-State-Number',
  'Channel-Name', 'Unique-ID', 'Call-Direction', 'Channel-HIT-Dialplan', 'Answer-State', 'Hangup-Cause',
  'Caller-Caller-ID-Name', 'Caller-Caller-ID-Number', 'Caller-Callee-ID-Name', 'Caller-Callee-ID-Number',
  'Caller-Destination-Number', 'Caller-Source', 'Caller-Context', 'Application', 'Application-Response',
  'API-Command', 'API-Command-Argument', 'Job-Command', 'Job-Command-Arg', 'Content-Length', 'Direction',
  'Session-Count', 'Max-Sessions', 'Event-Info', 'FreeSWITCH-Version', 'Task-Desc', 'Task-Group',
  'variable_direction', 'variable_uuid', 'variable_call_uuid', 'variable_origination_uuid', 'variable_ignore_early_media',
  'variable_originate_timeout', 'variable_dlr_member_id', 'variable_dlr_current_attempt', 'variable_channel_name',
  'variable_sip_gateway_name', 'variable_sip_destination_url', 'variable_sip_req_uri', 'variable_hangup_cause',
  'variable_hangup_cause_q850', 'variable_sip_term_status', 'variable_sip_term_cause', 'variable_proto_specific_hangup_cause',
  'variable_sip_hangup_disposition', 'variable_sip_invite_failure_status', 'variable_sip_invite_failure_phrase',
  'variable_endpoint_disposition', 'variable_current_application', 'variable_last_app', 'variable_caller_id',
  'variable_billsec', 'variable_duration', 'variable_answersec', 'variable_progresssec', 'variable_waitsec',
]);

/** Whole-second CDR values that depend on when the test client decided to hang up (uuid_kill, hupall). */
const CLIENT_TIMED = new Set(['variable_billsec', 'variable_duration']);

function normUuids(s: string, keep: Set<string>): string {
  return s.replace(UUID_RE, (u) => (keep.has(u) ? u : '<uuid>'));
}

function isNoise(f: Frame): boolean {
  const ev = parseEvent(f);
  return ev !== undefined && NOISE.has(header(ev.headers, 'Event-Name') ?? '');
}

interface Replay {
  frames: Frame[];
  closedByServer: boolean;
}

/**
 * Sends the captured client bytes chunk by chunk; before each chunk it waits until the simulator
 * has sent as many frames as FreeSWITCH had sent at that point of the capture.
 */
async function replay(gc: GoldenCase, port: number, keepNoise: boolean, timeScale: number): Promise<Replay> {
  const golden = parseFrames(gc.recv).frames;
  const ends: number[] = [];
  let off = 0;
  for (const f of golden) {
    off += f.raw.length;
    ends.push(off);
  }
  const counted = (frames: Frame[]) => frames.filter((f) => keepNoise || !isNoise(f)).length;
  const started = Date.now();
  const client = await RawEslClient.connect(port);
  let recvBytes = 0;
  for (const e of gc.timeline) {
    if (e.dir === 'recv') recvBytes = e.off + e.len;
    if (e.dir !== 'sent') continue;
    const needed = counted(golden.filter((_, i) => (ends[i] as number) <= recvBytes));
    await client.waitFor(() => counted(client.frames) >= needed, 8000);
    // Keep the capture's pacing in simulated time (the client decides when to hang up, ...).
    await sleep(Math.max(5, e.dt * 1000 * timeScale - (Date.now() - started)));
    client.write(gc.sent.subarray(e.off, e.off + e.len));
  }
  const serverClosed = gc.timeline.some((e) => e.dir === 'close');
  await client.waitFor(() => counted(client.frames) >= counted(golden) && (!serverClosed || client.closed), 8000);
  await sleep(30);
  const closedByServer = client.closed;
  client.close();
  return { frames: client.frames, closedByServer };
}

function compareEvent(gc: GoldenCase, i: number, g: ParsedEvent, o: ParsedEvent, keep: Set<string>): void {
  const where = `${gc.name} frame ${i} (${header(g.headers, 'Event-Name')})`;
  const clientHangup = /uuid_kill|hupall/.test(gc.name);
  assert.deepEqual(o.headers.map(([n]) => n), g.headers.map(([n]) => n), `${where}: header names and order`);
  g.headers.forEach(([name, gv], k) => {
    if (!COMPARED.has(name)) return;
    const ov = (o.headers[k] as Header)[1];
    if (name === 'Content-Length' && g.body?.startsWith('UP ')) return;
    if (clientHangup && CLIENT_TIMED.has(name)) {
      // Depends on when the test client hung up: check it agrees with the epochs instead.
      const epoch = (n: string) => Number(header(o.headers, `variable_${n}_epoch`));
      const expected = name === 'variable_billsec' ? epoch('end') - epoch('answer') : epoch('end') - epoch('start');
      assert.equal(Number(ov), expected, `${where}: ${name} consistent with the epochs`);
      return;
    }
    assert.equal(normUuids(ov, keep), normUuids(gv, keep), `${where}: value of ${name}`);
  });
  if (g.body !== undefined) assert.equal(normaliseBody(o.body ?? '', keep), normaliseBody(g.body, keep), `${where}: body`);
  // Dates must be well formed and agree with the microsecond timestamp.
  const ts = Number(header(o.headers, 'Event-Date-Timestamp'));
  assert.equal(header(o.headers, 'Event-Date-GMT'), new Date(Math.floor(ts / 1000)).toUTCString(), `${where}: GMT date`);
  assert.match(header(o.headers, 'Event-Date-Local') ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  if (g.format === 'plain') {
    // Same decoded value => same URL-encoded bytes on the wire.
    g.headers.forEach(([name, gv], k) => {
      if ((o.headers[k] as Header)[1] === gv) {
        assert.equal(o.rawValues?.[k], g.rawValues?.[k], `${where}: URL encoding of ${name}`);
      }
    });
  }
}

/** Event-Sequence values must be ordered among themselves exactly as in the capture. */
function sequenceRanks(events: ParsedEvent[]): number[] {
  const seqs = events.map((e) => Number(header(e.headers, 'Event-Sequence')));
  return seqs.map((s) => seqs.filter((x) => x < s).length);
}

function normaliseBody(body: string, keep: Set<string>): string {
  // Creation dates and epochs in `show` output depend on when the test ran.
  const s = normUuids(body, keep).replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, '<date>').replace(/\b\d{10}\b/g, '<epoch>');
  // status: uptime and counters depend on the process history.
  return s.startsWith('UP ') ? s.replace(/\d+/g, 'N').replace(/(years?|days?|hours?|minutes?|seconds?|milliseconds?|microseconds?)/g, 'unit') : s;
}

function compareCase(gc: GoldenCase, ours: Replay): void {
  const keepNoise = gc.name.startsWith('heartbeat');
  const sentUuids = new Set(gc.sent.toString('utf8').match(UUID_RE) ?? []);
  const golden = parseFrames(gc.recv).frames.filter((f) => keepNoise || !isNoise(f));
  const mine = ours.frames.filter((f) => keepNoise || !isNoise(f));
  assert.equal(mine.length, golden.length, `${gc.name}: frame count`);
  const gEvents: ParsedEvent[] = [];
  const oEvents: ParsedEvent[] = [];
  golden.forEach((g, i) => {
    const o = mine[i] as Frame;
    assert.deepEqual(o.headers.map(([n]) => n), g.headers.map(([n]) => n), `${gc.name} frame ${i}: outer headers`);
    const clen = header(o.headers, 'Content-Length');
    assert.equal(Number(clen ?? 0), o.body.length, `${gc.name} frame ${i}: Content-Length is the byte length`);
    const ge = parseEvent(g);
    const oe = parseEvent(o);
    if (ge && oe) {
      compareEvent(gc, i, ge, oe, sentUuids);
      gEvents.push(ge);
      oEvents.push(oe);
    } else {
      // The length of a `status` body varies with its numbers; that body is compared normalised below.
      const outer = (f: Frame) => f.headers.map(([n, v]) => [n, n === 'Content-Length' && f.body.toString().startsWith('UP ')
        ? 'N' : normUuids(v, sentUuids)]);
      assert.deepEqual(outer(o), outer(g), `${gc.name} frame ${i}: outer header values`);
      assert.equal(normaliseBody(o.body.toString('utf8'), sentUuids), normaliseBody(g.body.toString('utf8'), sentUuids),
        `${gc.name} frame ${i}: body`);
    }
  });
  assert.deepEqual(sequenceRanks(oEvents), sequenceRanks(gEvents), `${gc.name}: Event-Sequence order`);
  const serverClosed = gc.timeline.some((e) => e.dir === 'close');
  assert.equal(ours.closedByServer, serverClosed, `${gc.name}: server closes the socket`);
}

const CASES = readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.recv')).map((f) => f.slice(0, -5)).sort();

describe('golden transcripts from FreeSWITCH 1.10.12', () => {
  let sim: Simulator;

  const timeScale = 0.01;
  before(async () => {
    sim = await startSimulator({ port: 0, rules: SIPP_SCENARIOS, timeScale, heartbeatSec: 0.3 });
  });
  after(async () => {
    await sim.stop();
  });

  it('has golden cases to replay', () => {
    assert.ok(CASES.length >= 25, `found ${CASES.length} cases in ${GOLDEN_DIR}`);
  });

  for (const name of CASES) {
    it(name, async () => {
      const gc = loadGolden(name);
      const ours = await replay(gc, sim.eslPort, name.startsWith('heartbeat'), timeScale);
      compareCase(gc, ours);
    });
  }
});
