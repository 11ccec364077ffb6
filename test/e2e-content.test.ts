// Broadcast content end to end (README "Voice broadcast content"): campaigns POSTed with each way of
// configuring what an answered call runs, members dialled by the workflows through the ESL client,
// and the simulator asserting the originate's application part and the applications it executed;
// the menu digit stored on the attempt and applied; bad content refused with a 400 naming the field.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Attempt, Campaign, Member } from '../models';
import type { Simulator } from '../simulator';
import { dialerBody, type ApiHarness, type Cred } from './api-support';
import { e2eFile } from './support/e2e-stack';
import { appliedAttempt, waitFor } from './support/env';

let api: ApiHarness;
let sim: Simulator;
let cred: Cred;

e2eFile('e2e_content', {
  domain: 'acme',
  simulator: {
    timeScale: 0.2,
    rules: {
      playback: { defaultSec: 1 },
      // talkSec null: the callee never hangs up; only the content ends these calls.
      default: { type: 'answer', ringSec: 0.2, talkSec: null, extensionSec: 1 },
      rules: [
        { match: '380500000001', outcome: { type: 'answer', ringSec: 0.2, talkSec: null, dtmf: '1' } },
        { match: '380500000002', outcome: { type: 'answer', ringSec: 0.2, talkSec: null, dtmf: '2' } },
        { match: '380500000003', outcome: { type: 'answer', ringSec: 0.2, talkSec: 3 } },
        { prefix: '3805000001', outcome: { type: 'answer', ringSec: 0.2, talkSec: 1 } },
      ],
    },
  },
}, (s) => ({ api, sim, cred } = s));

async function createDialer(over: Record<string, unknown>): Promise<string> {
  const res = await api.req('POST', '/api/v2/dialer', { cred, body: dialerBody({
    parameters: { limit: 2, maxTryCount: 3, intervalTryCount: 1, originateTimeout: 10 },
    resources: [{ dialedNumber: '^(\\d+)$', destinations: [{ dialString: 'sofia/gateway/gw1/$1', limit: 2 }] }],
    ...over,
  }) });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return String(res.body.data.insertedIds[0]);
}

async function dialOne(dialer: string, number: string) {
  const res = await api.req('POST', `/api/v2/dialer/${dialer}/members?autoRun=true`, { cred, body: { name: number, communications: [{ number }] } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const memberId = String(res.body.data.insertedIds[0]);
  const log = await waitFor(`${number}: first attempt ended`, async () => {
    const m = await Member.findById(memberId).lean<{ _log?: { state: string; callUUID: string; menuDigit?: string; recordSessionSec?: number; steps?: { data: string }[] }[] }>();
    return m?._log?.[0]?.state === 'end' ? m._log[0] : null;
  }, 60_000);
  const call = sim.call(log.callUUID);
  assert.ok(call, 'the simulator saw the call');
  const attempt = await appliedAttempt<{ result: { cause: string; bridged?: boolean; digit?: string; billsec: number } }>(log.callUUID);
  const member = await Member.findById(memberId).lean<{ _endCause: string | null; _nextTryTime: number | null; callSuccessful?: boolean }>();
  return { log, call, attempt: attempt!, member: member! };
}

describe('broadcast content end to end', () => {
  test("v3's way: only `_cf` stored → transfer into `<dialerId> XML dialer`; `_cf` returned unchanged", { timeout: 90_000 }, async () => {
    const cf = [{ answer: '' }, { playback: { name: 'hello.wav', type: 'local' } }, { hangup: '' }];
    const id = await createDialer({ name: 'v3 callflow', _cf: cf });
    const got = await api.req('GET', `/api/v2/dialer/${id}`, { cred });
    assert.deepEqual(got.body.data._cf, cf);
    const r = await dialOne(id, '380500000010');
    assert.ok(r.call.command.endsWith(` 'transfer:${id} XML dialer' inline`), r.call.command);
    assert.equal(r.call.channelVars.dlr_content, 'transfer');
    assert.deepEqual(r.call.executed, [`transfer:${id} XML dialer`]);
    assert.equal(r.attempt.result.cause, 'NORMAL_CLEARING');
    assert.equal(r.attempt.result.bridged, true, 'Caller-Context=dialer: the content was reached');
    assert.equal(r.member._endCause, 'NORMAL_CLEARING');
  });

  test('transfer into a configured context and extension', { timeout: 90_000 }, async () => {
    const id = await createDialer({ name: 'own dialplan', content: { mode: 'transfer', extension: 'survey', context: 'broadcast' } });
    const r = await dialOne(id, '380500000011');
    assert.ok(r.call.command.endsWith(" 'transfer:survey XML broadcast' inline"), r.call.command);
    assert.deepEqual(r.call.executed, ['transfer:survey XML broadcast']);
    assert.equal(r.attempt.result.bridged, true);
  });

  test('recordSession: record_session on the member leg before the content; recorded seconds in the attempt log', { timeout: 90_000 }, async () => {
    const id = await createDialer({ name: 'recorded', parameters: { limit: 2, maxTryCount: 3, intervalTryCount: 1, originateTimeout: 10, recordSession: true } });
    const r = await dialOne(id, '380500000003');
    assert.ok(r.call.command.endsWith(` 'record_session:/var/lib/freeswitch/recordings/dialer/${id}/${r.call.originationUuid}.wav,park' inline`), r.call.command);
    assert.deepEqual(
      [r.call.channelVars.RECORD_MIN_SEC, r.call.channelVars.RECORD_BRIDGE_REQ, r.call.channelVars.recording_follow_transfer],
      ['2', 'false', 'true'],
    );
    assert.deepEqual(r.call.executed, [`record_session:/var/lib/freeswitch/recordings/dialer/${id}/${r.call.originationUuid}.wav`, 'park:']);
    assert.equal(r.log.recordSessionSec, 3);
  });

  const menu = {
    mode: 'callflow',
    play: ['ivr/hello.wav', 'tone_stream://%(300,0,440)'],
    menu: { prompt: 'ivr/press1.wav', digits: '12', timeoutSec: 1, results: { 1: { success: true }, 2: { next_after_sec: 3600 } } },
  };

  test('built-in callflow: files and tone played, digit 1 stored and decides success (minBillSec would not)', { timeout: 90_000 }, async () => {
    const id = await createDialer({ name: 'press 1', content: menu, parameters: { limit: 2, maxTryCount: 3, intervalTryCount: 1, minBillSec: 600 } });
    const r = await dialOne(id, '380500000001');
    assert.ok(r.call.command.endsWith(" 'playback:ivr/hello.wav,playback:tone_stream://%(300\\,0\\,440),play_and_get_digits:1 1 1 1000 # ivr/press1.wav silence_stream://250 dlr_digit [12],hangup:NORMAL_CLEARING' inline"), r.call.command);
    assert.deepEqual(r.call.executed, [
      'playback:ivr/hello.wav', 'playback:tone_stream://%(300,0,440)',
      'play_and_get_digits:1 1 1 1000 # ivr/press1.wav silence_stream://250 dlr_digit [12]',
    ]);
    assert.equal(r.attempt.result.digit, '1');
    assert.equal(r.log.menuDigit, '1');
    assert.equal(r.member._endCause, 'NORMAL_CLEARING', 'the digit made it a success although the call was shorter than minBillSec');
    assert.ok(r.log.steps?.some((s) => s.data === 'Menu digit 1: success'));
  });

  test('built-in callflow: digit 2 → next try in an hour', { timeout: 90_000 }, async () => {
    const id = await createDialer({ name: 'press 2', content: menu });
    const before = Date.now();
    const r = await dialOne(id, '380500000002');
    assert.equal(r.log.menuDigit, '2');
    assert.equal(r.member._endCause, null);
    assert.ok((r.member._nextTryTime ?? 0) >= before + 3590_000, `next try ${r.member._nextTryTime}`);
  });
});

test('cps: a campaign at 2 originations per second spaces its calls 500 ms apart', { timeout: 90_000 }, async () => {
  const id = await createDialer({ name: 'paced', parameters: { limit: 5, maxTryCount: 1, intervalTryCount: 1, originateTimeout: 10, cps: 2 } });
  for (let k = 0; k < 5; k++) {
    const res = await api.req('POST', `/api/v2/dialer/${id}/members?autoRun=true`, { cred, body: { name: `p${k}`, communications: [{ number: `38050000010${k}` }] } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  await waitFor('members ended', async () => ((await Member.countDocuments({ dialer: id, _endCause: { $ne: null } })) === 5 ? true : null), 60_000);
  // When each originate was sent (real time; the simulator's clock runs faster).
  const sent = await Attempt.find({ dialer: id }, { sentOn: 1 }).lean<{ sentOn: number }[]>();
  assert.equal(sent.length, 5);
  const starts = sent.map((a) => a.sentOn).sort((a, b) => a - b);
  for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! - starts[i - 1]! >= 450, `calls ${i - 1} and ${i} ${starts[i]! - starts[i - 1]!} ms apart`);
});

describe('broadcast content validation', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['a path outside the allowed prefixes', { mode: 'callflow', play: ['/etc/passwd'] }, /^content\.play\.0: absolute paths must start with an allowed prefix/],
    ['a comma (another application)', { mode: 'callflow', play: ['a.wav,hangup:'] }, /^content\.play\.0: must be a sound file name/],
    ['a context with spaces', { mode: 'transfer', context: 'dialer XML default' }, /^content\.context: must be/],
    ['an unknown mode', { mode: 'lua' }, /^content(\.mode)?: /],
    ['a menu digit not offered', { mode: 'callflow', play: [], menu: { prompt: 'a.wav', digits: '1', results: { 3: { success: true } } } }, /^content\.menu\.results\.3: /],
  ];
  for (const [what, content, re] of cases) {
    test(`POST and PUT with ${what}: 400 naming the field, nothing stored`, async () => {
      const count = await Campaign.countDocuments();
      const bad = await api.req('POST', '/api/v2/dialer', { cred, body: dialerBody({ content }) });
      assert.equal(bad.status, 400, JSON.stringify(bad.body));
      assert.match(bad.body.info, re);
      assert.equal(await Campaign.countDocuments(), count);
      const id = await createDialer({ name: 'to update', content: { mode: 'transfer' } });
      const put = await api.req('PUT', `/api/v2/dialer/${id}`, { cred, body: { content } });
      assert.equal(put.status, 400, JSON.stringify(put.body));
      assert.match(put.body.info, re);
      assert.deepEqual((await Campaign.findById(id).lean<{ content: unknown }>())?.content, { mode: 'transfer' });
    });
  }
});
