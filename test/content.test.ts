// Broadcast content (rules/content.ts): the originate's application part for each way, the checks
// that keep tenant input from becoming other applications, and what a menu digit decides.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  applyOutcome, contentApp, contentProblems, DEFAULT_CAUSES, effectiveContent, menuResult, planAttempt, NUMBER_IDLE,
  type BroadcastContent, type CampaignRules, type MemberState,
} from '../rules';
import { buildOriginate } from '../esl/format';
import { contentReached } from '../services/call-results';
import { resultFromCdr } from '../services/cdr';
import { loadCampaignRules, type CampaignDoc } from '../models/campaign';
import type { EslEvent } from '../esl';

const NOW = Date.UTC(2024, 5, 3, 10);

function campaign(over: Partial<CampaignRules> = {}): CampaignRules {
  return {
    id: 'd1', name: 'Promo', domain: 'acme', type: 'Voice Broadcasting', limit: 10, maxTryCount: 3, intervalTryCount: 60,
    minBillSec: 0, waitingForResultStatus: false, wrapUpTime: 60, originateTimeout: 30, eternalQueue: false, oneDayTask: false,
    retriesByNumber: false, numberStrategy: 'by-priority', membersStrategy: 'next-tries-circuit', statusTimeoutMode: 'refund',
    lostCallRedials: 2, ...DEFAULT_CAUSES, communicationTypes: [],
    calendar: { timeZone: 'UTC', accept: [1, 2, 3, 4, 5, 6, 7].map((weekDay) => ({ weekDay, startTime: 0, endTime: 1440 })), except: [] },
    resources: [{ dialedNumber: '.*', disabled: false, strategy: 'top_down', destinations: [{ uuid: 'g', enabled: true, limit: 5, gwProto: 'sip', gwName: 'gw', dialString: 'sofia/gateway/gw/$1', callerIdNumber: '100', callerIdNumbers: [] }] }],
    variables: {}, ...over,
  };
}

function member(): MemberState {
  return {
    name: 'Ann', priority: 0, expire: null, variables: {}, probeCount: 0, successfulCount: 0, callSuccessful: false, nextTryTime: null,
    endCause: null, lastNumberIndex: null, lastMinusProbe: false, lastCall: 0,
    communications: [{ number: '380501112233', priority: 0, state: NUMBER_IDLE, probe: 0, lastCall: 0, rangeAttempts: 0 }],
  };
}

const CALLFLOW: BroadcastContent = {
  mode: 'callflow',
  play: ['ivr/hello.wav', 'tone_stream://%(500,0,440)', 'say:en number pronounced 42'],
  menu: { prompt: 'ivr/press1.wav', digits: '12', results: { 1: { success: true }, 2: { next_after_sec: 3600 } } },
};

describe('broadcast content: the originate application', () => {
  test("transfer: v3's form, into `<dialerId> XML dialer` unless configured", () => {
    assert.equal(contentApp({ mode: 'transfer' }, 'd1'), "'transfer:d1 XML dialer' inline");
    assert.equal(contentApp({ mode: 'transfer', extension: 'survey', context: 'broadcast' }, 'd1'), "'transfer:survey XML broadcast' inline");
  });

  test('callflow: an inline list, TGML commas escaped, the menu stores its digit, then hang up', () => {
    assert.equal(
      contentApp(CALLFLOW, 'd1'),
      "'playback:ivr/hello.wav,playback:tone_stream://%(500\\,0\\,440),say:en number pronounced 42," +
        "play_and_get_digits:1 1 1 5000 # ivr/press1.wav silence_stream://250 dlr_digit [12],hangup:NORMAL_CLEARING' inline",
    );
  });

  test('park when nothing is configured; transfer when only a v3 `_cf` is stored', () => {
    assert.deepEqual(effectiveContent(null, false), { mode: 'park' });
    assert.deepEqual(effectiveContent(undefined, true), { mode: 'transfer' });
    assert.deepEqual(effectiveContent(CALLFLOW, true), CALLFLOW);
  });

  test('planAttempt puts the application and the engine variables on the call; buildOriginate sends it', () => {
    const plan = planAttempt({
      member: member(), camp: campaign({ content: { mode: 'transfer' } }), choice: { index: 0, window: null }, domain: 'acme',
      campaignId: 'd1', memberId: 'm1', workflowId: 'w1', uuid: 'u1', jobUuid: 'j1', now: NOW, random: () => 0,
    });
    assert.equal(plan.call.app, "'transfer:d1 XML dialer' inline");
    assert.deepEqual(plan.call.engineVars, { dlr_content: 'transfer', dlr_content_context: 'dialer' });
    const cmd = buildOriginate({ uuid: 'u1', dialString: 'sofia/gateway/gw/1', vars: {}, timeoutSec: 30, app: plan.call.app });
    assert.ok(cmd.endsWith("}sofia/gateway/gw/1 'transfer:d1 XML dialer' inline"), cmd);
    const parked = planAttempt({
      member: member(), camp: campaign({ content: { mode: 'park' } }), choice: { index: 0, window: null }, domain: 'acme',
      campaignId: 'd1', memberId: 'm1', workflowId: 'w1', uuid: 'u1', jobUuid: 'j1', now: NOW, random: () => 0,
    });
    assert.equal(parked.call.app, undefined);
    assert.equal(parked.call.engineVars, undefined);
  });

  test('recordSession: record_session first, v3\'s recording variables as engine variables (§3.8)', () => {
    const record = { dir: '/rec/', format: 'wav' as const, stereo: false };
    const plan = (content: BroadcastContent) => planAttempt({
      member: member(), camp: campaign({ content, record }), choice: { index: 0, window: null }, domain: 'acme',
      campaignId: 'd1', memberId: 'm1', workflowId: 'w1', uuid: 'u1', jobUuid: 'j1', now: NOW, random: () => 0,
    }).call;
    assert.equal(plan({ mode: 'transfer' }).app, "'record_session:/rec/d1/u1.wav,transfer:d1 XML dialer' inline");
    assert.equal(plan({ mode: 'park' }).app, "'record_session:/rec/d1/u1.wav,park' inline");
    assert.deepEqual(plan({ mode: 'park' }).engineVars, { RECORD_MIN_SEC: '2', RECORD_STEREO: 'false', RECORD_BRIDGE_REQ: 'false', recording_follow_transfer: 'true' });
    assert.equal(plan({ mode: 'park' }).vars.RECORD_MIN_SEC, undefined, 'not among the tenant variables (those are checked)');
  });
});

describe('broadcast content: tenant input never becomes another application', () => {
  const ALLOW = ['/var/lib/dialer/sounds/'];
  const bad: [BroadcastContent, string][] = [
    [{ mode: 'callflow', play: ['ivr/a.wav,hangup:'] }, 'play.0'],
    [{ mode: 'callflow', play: ["ivr/a.wav' &bgapi"] }, 'play.0'],
    [{ mode: 'callflow', play: ['../../etc/passwd'] }, 'play.0'],
    [{ mode: 'callflow', play: ['/etc/passwd'] }, 'play.0'],
    [{ mode: 'callflow', play: ['ok.wav', '${system(id)}'] }, 'play.1'],
    [{ mode: 'callflow', play: ['http://evil/x.wav'] }, 'play.0'],
    [{ mode: 'callflow', play: ['say:en number pronounced 1,hangup:x'] }, 'play.0'],
    [{ mode: 'callflow', play: ['say:en number pronounced 4 2'] }, 'play.0'],
    [{ mode: 'callflow', play: ['tone_stream://%(1,1,1)\'x'] }, 'play.0'],
    [{ mode: 'callflow', play: [], menu: { prompt: 'a.wav', digits: '1 2' } }, 'menu.digits'],
    [{ mode: 'callflow', play: [], menu: { prompt: 'a.wav', digits: '1', results: { 2: { success: true } } } }, 'menu.results.2'],
    [{ mode: 'transfer', context: 'dialer XML x' }, 'context'],
    [{ mode: 'transfer', extension: 'a,b' }, 'extension'],
  ];
  for (const [c, field] of bad) {
    test(`refused: ${JSON.stringify(c)}`, () => {
      assert.deepEqual(contentProblems(c, ALLOW).map(([f]) => f), [field]);
    });
  }

  test('content stored without the API check (written straight into Mongo) parks the call', async () => {
    const rules = async (content: unknown, extra: Record<string, unknown> = {}) =>
      (await loadCampaignRules({ _id: 'd1', name: 'x', domain: 'acme', type: 'Voice Broadcasting', content, ...extra } as unknown as CampaignDoc)).content;
    assert.deepEqual(await rules({ mode: 'callflow', play: ['/etc/passwd'] }), { mode: 'park' });
    assert.deepEqual(await rules({ mode: 'callflow', play: 'x.wav' }), { mode: 'park' });
    assert.deepEqual(await rules({ mode: 'callflow', play: [], menu: { prompt: 7 } }), { mode: 'park' });
    assert.deepEqual(await rules({ mode: 'transfer', context: { $gt: '' } }), { mode: 'park' });
    assert.deepEqual(await rules({ mode: 'lua' }), { mode: 'park' });
    assert.deepEqual(await rules(null, { _cf: [{ answer: '' }] }), { mode: 'transfer' });
    assert.deepEqual(await rules({ mode: 'callflow', play: ['ivr/ok.wav'] }), { mode: 'callflow', play: ['ivr/ok.wav'] });
  });

  test('allowed: relative sound names, allowed absolute prefixes, TGML, say, silence', () => {
    assert.deepEqual(contentProblems({ mode: 'callflow', play: ['ivr/hi.wav', '/var/lib/dialer/sounds/acme/x.mp3', 'tone_stream://L=2;%(500,500,440)', 'silence_stream://500', 'say:en number iterated 42'] }, ALLOW), []);
    assert.deepEqual(contentProblems(CALLFLOW, []), []);
  });
});

describe('broadcast content: the result', () => {
  const ev = (h: Record<string, string>) => ({ 'Event-Name': 'CHANNEL_HANGUP_COMPLETE', ...h }) as EslEvent;

  test('bridged = the content was reached: transfer by Caller-Context, callflow by an application run', () => {
    assert.equal(contentReached(ev({ 'Caller-Context': 'dialer' }), { dlr_content: 'transfer', dlr_content_context: 'dialer' }, true), true);
    assert.equal(contentReached(ev({ 'Caller-Context': 'default' }), { dlr_content: 'transfer', dlr_content_context: 'dialer' }, true), false);
    assert.equal(contentReached(ev({}), { dlr_content: 'callflow', current_application: 'playback' }, true), true);
    assert.equal(contentReached(ev({}), { dlr_content: 'callflow' }, false), false);
    assert.equal(contentReached(ev({}), {}, true), undefined, 'parked calls keep bridged = answered');
  });

  test("a CDR carries the same: Caller-Context from the callflow's caller_profile, the digit from its variables", () => {
    const cdr = {
      variables: { uuid: 'u1', dlr_workflow_id: 'w1', hangup_cause: 'NORMAL_CLEARING', billsec: '7', answer_epoch: '100', dlr_content: 'transfer', dlr_content_context: 'dialer', dlr_digit: '1' },
      callflow: [{ caller_profile: { context: 'dialer' }, times: { answered_time: '100000000' } }],
    };
    const r = resultFromCdr(cdr)?.result;
    assert.deepEqual([r?.bridged, r?.digit, r?.billsec, r?.source], [true, '1', 7, 'cdr']);
    cdr.callflow[0]!.caller_profile.context = 'default';
    assert.equal(resultFromCdr(cdr)?.result.bridged, false, 'answered but never transferred: content not reached');
  });

  const outcome = (digit: string | undefined) => ({
    cause: 'NORMAL_CLEARING', answered: true, bridged: true, talkSec: 0,
    ...(digit ? { menuDigit: digit, menu: menuResult(CALLFLOW, digit) } : {}),
  });

  test('digit 1 → success; digit 2 → next try after 3600 s; no digit → the cause decides', () => {
    const camp = campaign({ content: CALLFLOW, minBillSec: 30 });
    const m = { ...member(), probeCount: 1 };
    m.communications[0]!.probe = 1;
    const info = { numberIndex: 0, attempt: 1, idleAtStart: 1 };
    const one = applyOutcome(m, camp, info, outcome('1'), NOW);
    assert.equal(one.decision.kind, 'end');
    assert.ok(one.decision.kind === 'end' && one.decision.success);
    const two = applyOutcome(m, camp, info, outcome('2'), NOW);
    assert.deepEqual(two.decision, { kind: 'retry', at: NOW + 3600_000 });
    assert.ok(two.steps.includes('Menu digit 2: next try in 3600s'));
    // Too short for minBillSec and no digit: a retry at the campaign's interval.
    const none = applyOutcome(m, camp, info, outcome(undefined), NOW);
    assert.deepEqual(none.decision, { kind: 'retry', at: NOW + 60_000 });
    assert.equal(menuResult(CALLFLOW, '9'), undefined);
    assert.equal(menuResult(CALLFLOW, 'toString'), undefined);
  });
});
