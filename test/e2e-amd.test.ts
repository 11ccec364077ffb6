// AMD end to end (spec §3.7, §2.2): broadcast campaigns POSTed with `amd`, members dialled by the
// workflows, the simulator deciding per number as mod_amd would (human, machine, notsure, cancel)
// and routing through the amd_on_* variables; the result, its cause and analysis time stored, the
// analysis excluded from talk time, MACHINE/NOTSURE routed per §2.2, and `stats.amd.<RESULT>`.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Attempt, Member } from '../models';
import type { Simulator } from '../simulator';
import { dialerBody, type ApiHarness, type Cred } from './api-support';
import { e2eFile } from './support/e2e-stack';
import { appliedAttempt, recordHistory, waitFor } from './support/env';
import { memberWorkflowId } from '../workflows/messages';

let api: ApiHarness;
let sim: Simulator;
let cred: Cred;

e2eFile('e2e_amd', {
  domain: 'acme',
    simulator: {
      timeScale: 0.2,
      rules: {
        playback: { defaultSec: 1 },
        default: { type: 'answer', ringSec: 0.2, talkSec: null },
        rules: [
          { match: '380600000001', outcome: { type: 'answer', ringSec: 0.2, talkSec: null, amd: { result: 'human', sec: 2 } } },
          { match: '380600000002', outcome: { type: 'answer', ringSec: 0.2, talkSec: null, amd: { result: 'machine', sec: 2, cause: 'LONGGREETING' } } },
          { match: '380600000003', outcome: { type: 'answer', ringSec: 0.2, talkSec: null, amd: { result: 'notsure' } } },
          { match: '380600000004', outcome: { type: 'answer', ringSec: 0.2, talkSec: null, amd: { result: 'cancel', sec: 2 } } },
        ],
      },
    },
}, (s) => ({ api, sim, cred } = s));

const CONTENT = { mode: 'callflow', play: ['ivr/hello.wav'] };

async function createDialer(name: string, amd: Record<string, unknown>): Promise<string> {
  const res = await api.req('POST', '/api/v2/dialer', { cred, body: dialerBody({
    name, content: CONTENT, amd: { enabled: true, totalAnalysisTime: 3000, ...amd },
    parameters: { limit: 4, maxTryCount: 1, intervalTryCount: 1, originateTimeout: 10 },
    resources: [{ dialedNumber: '^(\\d+)$', destinations: [{ dialString: 'sofia/gateway/gw1/$1', limit: 4 }] }],
  }) });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return String(res.body.data.insertedIds[0]);
}

type Log = { state: string; callUUID: string; cause: string; talkSec: number; amdResult?: string; amdCause?: string; amdSec?: number; waitSec?: number; callSuccessful?: boolean };

async function dial(dialer: string, number: string) {
  const res = await api.req('POST', `/api/v2/dialer/${dialer}/members?autoRun=true`, { cred, body: { name: number, communications: [{ number }] } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const id = String(res.body.data.insertedIds[0]);
  const m = await waitFor(`${number} ended`, async () => {
    const doc = await Member.findById(id).lean<{ _endCause: string | null; _log?: Log[] }>();
    return doc?._endCause ? doc : null;
  }, 60_000);
  const log = m._log![0];
  const attempt = await appliedAttempt<{ result: { cause: string; answered: boolean; bridged?: boolean; billsec: number; amd?: { result: string } } }>(log.callUUID);
  return { id, endCause: m._endCause, log, call: sim.call(log.callUUID)!, result: attempt!.result };
}

describe('AMD on a voice broadcast', () => {
  let strict: string;
  before(async () => {
    strict = await createDialer('amd strict', { maximumNumberOfWords: 4, silenceNotSure: true, playbackFile: { uri: 'ivr/hold.wav' }, beforePlaybackFileTime: 500 });
  });

  test('the amd application gets the §3.7 parameters, then v3\'s waits, then the content', async () => {
    const r = await dial(strict, '380600000001');
    assert.ok(r.call.command.endsWith(
      " 'amd:silence_threshold=256 maximum_word_length=5000 maximum_number_of_words=4 between_words_silence=50 min_word_length=100"
      + ' total_analysis_time=3000 after_greeting_silence=800 greeting=1500 initial_silence=2500 silence_notsure=1,'
      + "sleep:500,playback:ivr/hold.wav,sleep:2600,playback:ivr/hello.wav,hangup:NORMAL_CLEARING' inline",
    ), r.call.command);
    assert.deepEqual(
      [r.call.channelVars.amd_on_human, r.call.channelVars.amd_on_machine, r.call.channelVars.amd_on_notsure],
      ['break', 'hangup::NORMAL_UNSPECIFIED', 'hangup::NORMAL_UNSPECIFIED'],
    );
  });

  test('HUMAN: the wait is cut short, the content plays; analysis time is not talk time; success', async () => {
    const r = await dial(strict, '380600000001');
    assert.equal(r.log.amdResult, 'HUMAN');
    assert.equal(r.log.amdCause, 'SILENCEAFTERGREETING');
    assert.ok(r.call.executed?.includes('playback:ivr/hello.wav'), JSON.stringify(r.call.executed));
    assert.equal(r.result.cause, 'NORMAL_CLEARING');
    assert.equal(r.result.bridged, true);
    // Answered 2 s of analysis + 1 s of content (epochs are whole seconds: ±1).
    assert.ok(r.log.amdSec! >= 1 && r.log.amdSec! <= 3, `amdSec ${r.log.amdSec}`);
    assert.ok(r.log.talkSec <= 2, `talk ${r.log.talkSec} excludes the analysis`);
    assert.equal(r.log.waitSec, 0, 'a broadcast waits for no agent (§5.8: voice 0)');
    assert.equal(r.endCause, 'NORMAL_CLEARING');
  });

  test('MACHINE: hung up NORMAL_UNSPECIFIED before the content (a Retry cause); not bridged', async () => {
    const r = await dial(strict, '380600000002');
    assert.deepEqual([r.log.amdResult, r.log.amdCause], ['MACHINE', 'LONGGREETING']);
    assert.equal(r.result.cause, 'NORMAL_UNSPECIFIED');
    assert.equal(r.result.answered, true);
    assert.equal(r.result.bridged, false);
    assert.ok(!r.call.executed?.includes('playback:ivr/hello.wav'), JSON.stringify(r.call.executed));
    assert.equal(r.endCause, 'MAX_TRY_COUNT', 'retried, and this campaign allows one try');
    await recordHistory(api.client.workflow.getHandle(memberWorkflowId(strict, r.id)), 'amd-machine');
  });

  test('NOTSURE (not allowed): at total_analysis_time, TOOLONG, hung up like a machine', async () => {
    const r = await dial(strict, '380600000003');
    assert.deepEqual([r.log.amdResult, r.log.amdCause], ['NOTSURE', 'TOOLONG']);
    assert.ok(r.log.amdSec! >= 2 && r.log.amdSec! <= 4, `amdSec ${r.log.amdSec} (total_analysis_time 3 s)`);
    assert.equal(r.result.cause, 'NORMAL_UNSPECIFIED');
    assert.equal(r.result.bridged, false);
  });

  test('CANCEL: the callee hung up during the analysis → ORIGINATOR_CANCEL', async () => {
    const r = await dial(strict, '380600000004');
    assert.equal(r.log.amdResult, 'CANCEL');
    assert.equal(r.log.cause, 'ORIGINATOR_CANCEL');
    assert.equal(r.log.talkSec, 0);
    assert.equal(r.result.bridged, false);
  });

  test('stats.amd counts each result', async () => {
    // The campaign's counters are written after the member's end (the last one may still be on its way).
    const want = { HUMAN: 2, MACHINE: 1, NOTSURE: 1, CANCEL: 1 };
    let amd: unknown;
    await waitFor('stats.amd of the five calls', async () => {
      amd = (await api.req('GET', `/api/v2/dialer/${strict}`, { cred })).body.data.stats.amd;
      return JSON.stringify(amd) === JSON.stringify(want);
    }, 10_000).catch(() => undefined);
    assert.deepEqual(amd, want);
  });

  test('NOTSURE with allowNotSure: routed like a person (the content plays)', async () => {
    const lenient = await createDialer('amd lenient', { allowNotSure: true });
    const r = await dial(lenient, '380600000003');
    assert.equal(r.call.channelVars.amd_on_notsure, 'break');
    assert.equal(r.log.amdResult, 'NOTSURE');
    assert.ok(r.call.executed?.includes('playback:ivr/hello.wav'), JSON.stringify(r.call.executed));
    assert.equal(r.result.bridged, true);
    assert.equal(r.endCause, 'NORMAL_CLEARING');
  });
});
