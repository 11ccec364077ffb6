// No v3 dialer field is silently lost (spec §3.1 and the "other top-level fields" table): a whole v3
// dialer document, every field in v3's shape, is stored and returned as sent; the v3 UI's edit
// (GET, change, PUT the whole document back) keeps it; engine-owned fields are ignored; a field that
// is not a v3 dialer field is a 400 naming it and writes nothing; the fields stored for the
// agents/predictive work are checked; parameters.recordSession and parameters.cps take effect.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Campaign, loadCampaignRules, type CampaignDoc } from '../models';
import { startApi, type ApiHarness, type Cred } from './api-support';

let h: ApiHarness;
let acme: Cred;
let calendarId: string;

before(async () => {
  h = await startApi('api_v3_document_test');
  acme = await h.credential('acme');
  const c = await h.req('POST', '/api/v2/calendars', { cred: acme, body: { name: 'Kyiv office', timeZone: 'Europe/Kyiv', accept: [{ weekDay: 1, startTime: 540, endTime: 1020 }] } });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  calendarId = c.body.data.insertedIds[0];
});
after(async () => {
  await h?.close();
});

/** A Webitel v3 dialer as its UI and engine write it (spec §3), every client field set. */
function v3Dialer(): Record<string, unknown> {
  return {
    name: 'Debt reminder',
    description: 'Overdue invoices, Kyiv region',
    number: '7001',
    type: 'Voice Broadcasting',
    priority: 5,
    calendar: { id: calendarId, name: 'Kyiv office' },
    parameters: {
      limit: 20, intervalTryCount: 300, maxTryCount: 4, minBillSec: 10, waitingForResultStatus: false, wrapUpTime: 60,
      originateTimeout: 45, recordSession: true, eternalQueue: false, retryAbandoned: true, retriesByNumber: true, oneDayTask: false,
      predictAdjust: 150, targetPredictiveSilentCalls: 2.5, maxPredictiveSilentCalls: 3, maxLocateAgentSec: 10,
      predictStartBridgedCount: 10, predictStartCallCount: 200, cps: 5, avgProgressSec: 20,
      statusTimeoutMode: 'keep', lostCallRedials: 2,
    },
    numberStrategy: 'top-down',
    membersStrategy: 'strict-circuit',
    causesError: ['UNALLOCATED_NUMBER', 'NO_ROUTE_DESTINATION'],
    causesRetry: ['NO_ANSWER', 'USER_BUSY', 'NORMAL_UNSPECIFIED'],
    causesOK: ['NORMAL_CLEARING'],
    causesMinus: ['ORIGINATOR_CANCEL'],
    communications: { types: [{ code: 'mobile', name: 'Mobile', ranges: [{ startTime: 540, endTime: 1020, attempts: 2, priority: 1 }] }] },
    resources: [{
      dialedNumber: '^\\+?(380\\d{9})$', disabled: false, strategy: 'random',
      destinations: [{ uuid: '2b1c6c0e-3f7e-4a43-9d52-1a8f0f1b8a11', enabled: true, limit: 10, gwProto: 'sip', gwName: 'kyivstar', dialString: '$1', callerIdNumber: '380441234567', callerIdNumbers: ['380441234567', '380441234568'] }],
    }],
    variables: { campaign_code: 'DR-2025', language: 'uk' },
    autoResetStats: true,
    content: { mode: 'transfer' },
    _cf: [{ answer: '' }, { playback: { files: [{ name: 'reminder.wav', type: 'local' }] } }, { hangup: 'NORMAL_CLEARING' }],
    _cfDiagram: { cells: [{ id: 'start', type: 'answer' }] },
    agents: ['1000', '1001'],
    agentStrategy: 'with_fewest_calls',
    agentParams: { callTimeout: 20, wrapUpTime: 15, maxNoAnswer: 3, busyDelayTime: 30, rejectDelayTime: 20, noAnswerDelayTime: 25 },
    callResult: [
      { name: 'Paid', type: 't' },
      { name: 'Refused', type: 'f', items: ['No money', 'Disputes the debt'] },
      { name: 'Call back', type: 'n' },
    ],
    amd: {
      enabled: true, allowNotSure: false, silenceThreshold: 256, maximumWordLength: 5000, maximumNumberOfWords: 3, betweenWordsSilence: 50,
      minWordLength: 100, totalAnalysisTime: 5000, afterGreetingSilence: 800, greeting: 1500, initialSilence: 2500, silenceNotSure: false,
      playbackFile: { uri: 'ivr/ivr-please_hold.wav' }, beforePlaybackFileTime: 1000,
    },
    playbackFile: { uri: 'ivr/ivr-hold_connect_call.wav', name: 'hold.wav' },
    skills: ['debt', 'uk'],
    agentSkills: ['debt'],
    strategy: 'myStrategy',
    owners: ['admin'],
  };
}

/** What a v3 client sends back with a whole document and the API ignores. */
const ENGINE_OWNED = { domain: 'other', state: 1, _cause: 'QUEUE_HUNTING', active: true, nextTick: 123, lockId: 'my best lock', stats: { callCount: 99 }, lastModified: 1 };

async function create(body: Record<string, unknown>): Promise<string> {
  const r = await h.req('POST', '/api/v2/dialer', { cred: acme, body });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.insertedIds[0];
}
const get = async (id: string) => (await h.req('GET', `/api/v2/dialer/${id}`, { cred: acme })).body.data as Record<string, unknown>;

describe('a whole v3 dialer document', () => {
  test('every field is stored and returned as sent; engine-owned fields are ignored', async () => {
    const sent = v3Dialer();
    const id = await create({ ...sent, ...ENGINE_OWNED });
    const got = await get(id);
    for (const [field, value] of Object.entries(sent)) assert.deepEqual(got[field], value, field);
    assert.equal(got.domain, 'acme');
    assert.equal(got.state, 0);
    assert.equal(got.active, false);
    assert.equal(got._cause, 'INIT');
    assert.equal(got.nextTick, undefined);
    assert.equal(got.lockId, undefined);
    assert.notEqual((got.stats as { callCount?: number }).callCount, 99);
  });

  test('the v3 UI edit: GET, change one field, PUT the whole document back — nothing else changes', async () => {
    const id = await create(v3Dialer());
    const before_ = await get(id);
    const edited = { ...before_, parameters: { ...(before_.parameters as object), limit: 25 }, description: 'edited' };
    const u = await h.req('PUT', `/api/v2/dialer/${id}`, { cred: acme, body: edited });
    assert.equal(u.status, 200, JSON.stringify(u.body));
    const after_ = await get(id);
    assert.equal((after_.parameters as { limit: number }).limit, 25);
    assert.equal(after_.description, 'edited');
    for (const [field, sent] of Object.entries(v3Dialer())) {
      if (field !== 'parameters' && field !== 'description') assert.deepEqual(after_[field], sent, field);
    }
    assert.deepEqual({ ...(after_.parameters as object), limit: 0 }, { ...(before_.parameters as object), limit: 0 });
  });

  test('a partial PUT of a later field keeps the others (no default fills in)', async () => {
    const id = await create(v3Dialer());
    const r = await h.req('PUT', `/api/v2/dialer/${id}`, { cred: acme, body: { amd: { enabled: false }, parameters: { maxLocateAgentSec: 30 } } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const got = await get(id);
    assert.deepEqual(got.amd, { enabled: false });
    const p = got.parameters as Record<string, unknown>;
    assert.equal(p.maxLocateAgentSec, 30);
    assert.equal(p.predictAdjust, 150);
    assert.equal(p.cps, 5);
    assert.equal(p.recordSession, true);
  });
});

describe('refused by name, nothing written', () => {
  test('a field that is not a v3 dialer field, at the top, in parameters, amd or agentParams', async () => {
    const count = await Campaign.countDocuments({ domain: 'acme' });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ bogus: 1 }, /^bogus: unknown field$/],
      // v3 keeps these two in `parameters`
      [{ recordSession: true }, /^recordSession: unknown field$/],
      [{ cps: 2 }, /^cps: unknown field$/],
      [{ parameters: { maxTryCounts: 3 } }, /^parameters\.maxTryCounts: unknown field$/],
      [{ amd: { enable: true } }, /^amd\.enable: unknown field$/],
      [{ agentParams: { callTimout: 10 } }, /^agentParams\.callTimout: unknown field$/],
      [{ callResult: [{ name: 'Paid', type: 't', colour: 'green' }] }, /^callResult\.0\.colour: unknown field$/],
    ];
    for (const [extra, re] of cases) {
      for (const [method, path] of [['POST', '/api/v2/dialer']] as const) {
        const r = await h.req(method, path, { cred: acme, body: { name: 'x', type: 'Voice Broadcasting', ...extra } });
        assert.equal(r.status, 400, JSON.stringify(extra));
        assert.match(r.body.info, re);
      }
    }
    assert.equal(await Campaign.countDocuments({ domain: 'acme' }), count);
    const id = await create({ name: 'kept', type: 'Voice Broadcasting', parameters: { limit: 3 } });
    const put = await h.req('PUT', `/api/v2/dialer/${id}`, { cred: acme, body: { parameters: { limit: 4, maxTryCounts: 3 } } });
    assert.equal(put.status, 400);
    assert.match(put.body.info, /^parameters\.maxTryCounts: unknown field$/);
    assert.equal(((await get(id)).parameters as { limit: number }).limit, 3, 'nothing written');
  });

  test('the fields stored for agents and predictive dialing are checked', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ agentStrategy: 'fastest' }, /^agentStrategy: must be one of: random, with_fewest_calls/],
      [{ agents: ['1000@acme'] }, /^agents\.0: must be an extension/],
      [{ agentParams: { callTimeout: -1 } }, /^agentParams\.callTimeout: /],
      [{ callResult: [{ name: 'Paid', type: 'x' }] }, /^callResult\.0\.type: must be t \(success\), f \(failure\) or n/],
      [{ amd: { totalAnalysisTime: 600_000 } }, /^amd\.totalAnalysisTime: /],
      [{ amd: { playbackFile: { uri: "hold.wav' inline" } } }, /^amd\.playbackFile\.uri: /],
      [{ playbackFile: { uri: '/etc/passwd' } }, /^playbackFile\.uri: /],
      [{ priority: 1000 }, /^priority: /],
      [{ parameters: { maxLocateAgentSec: 0 } }, /^parameters\.maxLocateAgentSec: /],
      [{ parameters: { targetPredictiveSilentCalls: 101 } }, /^parameters\.targetPredictiveSilentCalls: /],
      [{ skills: 'debt' }, /^skills: /],
    ];
    for (const [extra, re] of cases) {
      const r = await h.req('POST', '/api/v2/dialer', { cred: acme, body: { name: 'x', type: 'Voice Broadcasting', ...extra } });
      assert.equal(r.status, 400, JSON.stringify(extra));
      assert.match(r.body.info, re, JSON.stringify(extra));
    }
  });
});

describe('honoured from v3 places', () => {
  test('parameters.recordSession and parameters.cps reach the rules the member workflow dials with', async () => {
    const id = await create(v3Dialer());
    const rules = await loadCampaignRules((await Campaign.findById(id).lean<CampaignDoc>())!);
    assert.equal(rules.cps, 5);
    assert.ok(rules.record, 'recording on');
    assert.equal(rules.membersStrategy, 'strict-circuit');
    assert.equal(rules.statusTimeoutMode, 'keep');
    const plain = await create({ name: 'plain', type: 'Voice Broadcasting' });
    const defaults = await loadCampaignRules((await Campaign.findById(plain).lean<CampaignDoc>())!);
    assert.equal(defaults.cps, undefined);
    assert.equal(defaults.record, undefined);
    assert.equal(defaults.limit, 30);
    assert.equal(defaults.membersStrategy, 'next-tries-circuit');
  });
});
