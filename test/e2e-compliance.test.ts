// Compliance end to end (README "Compliance"): the domain's do-not-call list (REST, CSV import,
// domain scope, bad input) checked before every originate, and the per-number contact-frequency cap
// across campaigns; members POSTed through the API, dialled by the workflows against the simulator.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Attempt, Member } from '../models';
import type { Simulator } from '../simulator';
import { dialerBody, type ApiHarness, type Cred } from './api-support';
import { e2eFile } from './support/e2e-stack';
import { recordHistory, waitFor } from './support/env';
import { memberWorkflowId } from '../workflows/messages';

let api: ApiHarness;
let sim: Simulator;
let acme: Cred;
let other: Cred;

e2eFile('e2e_compliance', {
  domain: 'acme',
  simulator: { timeScale: 0.2, rules: { default: { type: 'answer', ringSec: 0.2, talkSec: 1 }, rules: [] } },
}, async (s) => {
  ({ api, sim, cred: acme } = s);
  other = await api.credential('other');
});

async function createDialer(name: string, params: Record<string, unknown> = {}): Promise<string> {
  const res = await api.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody({
    name,
    parameters: { limit: 2, maxTryCount: 3, intervalTryCount: 1, originateTimeout: 10, ...params },
    resources: [{ dialedNumber: '^(\\d+)$', destinations: [{ dialString: 'sofia/gateway/gw1/$1', limit: 2 }] }],
  }) });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return String(res.body.data.insertedIds[0]);
}

async function addMember(dialer: string, numbers: string[]): Promise<string> {
  const res = await api.req('POST', `/api/v2/dialer/${dialer}/members?autoRun=true`, {
    cred: acme, body: { name: numbers[0], communications: numbers.map((number, i) => ({ number, priority: numbers.length - i })) },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return String(res.body.data.insertedIds[0]);
}

type MemberView = { _endCause: string | null; communications: { number: string; state: number }[]; _log?: { state: string; callNumber: string; cause?: string; steps?: { data: string }[] }[] };
const member = async (id: string) => (await Member.findById(id).lean<MemberView>())!;
const dialled = (number: string) => sim.calls().filter((c) => c.destination.endsWith(number)).length;

describe('do-not-call list', () => {
  test('REST: add, get, page, remove; scoped to the domain; bad input is a 400 naming the field', async () => {
    const add = await api.req('POST', '/api/v2/dnc', { cred: acme, body: { number: '+38 (050) 111-22-01', note: 'asked by phone' } });
    assert.equal(add.status, 201, JSON.stringify(add.body));
    assert.equal(add.body.data.number, '380501112201');
    const again = await api.req('POST', '/api/v2/dnc', { cred: acme, body: { number: '380501112201' } });
    assert.equal(again.status, 200);
    assert.equal(again.body.data.added, false);
    assert.equal((await api.req('GET', '/api/v2/dnc/380501112201', { cred: acme })).status, 200);
    assert.equal((await api.req('GET', '/api/v2/dnc/380501112201', { cred: other })).status, 404, 'another domain does not see it');
    assert.equal((await api.req('GET', '/api/v2/dnc/380501112201')).status, 401, 'credentials are required');
    for (const [body, re] of [
      [{ number: '12a' }, /^number: must be a phone number/],
      [{ number: '12' }, /^number: must have 3-20 digits/],
      [{}, /^number: required/],
      [{ number: '123', extra: 1 }, /^extra: unknown field/],
    ] as const) {
      const bad = await api.req('POST', '/api/v2/dnc', { cred: acme, body });
      assert.equal(bad.status, 400, JSON.stringify(bad.body));
      assert.match(bad.body.info, re);
    }
    await api.req('POST', '/api/v2/dnc', { cred: acme, body: { number: '380501112202' } });
    const page1 = await api.req('GET', '/api/v2/dnc?limit=1', { cred: acme });
    assert.deepEqual(page1.body.data.map((e: { number: string }) => e.number), ['380501112201']);
    const page2 = await api.req('GET', `/api/v2/dnc?limit=1&after=${page1.headers.get('x-next-after')}`, { cred: acme });
    assert.deepEqual(page2.body.data.map((e: { number: string }) => e.number), ['380501112202']);
    assert.deepEqual((await api.req('GET', '/api/v2/dnc', { cred: other })).body.data, []);
    assert.equal((await api.req('DELETE', '/api/v2/dnc/380501112202', { cred: other })).status, 404);
    assert.equal((await api.req('DELETE', '/api/v2/dnc/380501112202', { cred: acme })).status, 200);
    assert.equal((await api.req('GET', '/api/v2/dnc/380501112202', { cred: acme })).status, 404);
  });

  test('CSV import: good rows listed, each bad row rejected with its line', async () => {
    const csv = 'number,note\n380501113301,web form\n+380 50 111 3302\nnot-a-number\n380501113303,"quoted, note"\n';
    const res = await api.req('POST', '/api/v2/dnc/import', { cred: acme, body: csv, headers: { 'Content-Type': 'text/csv' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual({ ...res.body.data, errors: undefined }, { rows: 4, imported: 3, rejected: 1, errors: undefined });
    assert.equal(res.body.data.errors[0].line, 4);
    assert.match(res.body.data.errors[0].error, /^number: must be a phone number/);
    assert.equal((await api.req('GET', '/api/v2/dnc/380501113303', { cred: acme })).body.data.note, 'quoted, note');
    const json = await api.req('POST', '/api/v2/dnc/import', { cred: acme, body: { number: '1' } });
    assert.equal(json.status, 415);
  });

  test('a listed number is never dialled: the member goes on with its next number; one with only listed numbers ends DO_NOT_CALL', { timeout: 90_000 }, async () => {
    await api.req('POST', '/api/v2/dnc', { cred: acme, body: { number: '380501114401' } });
    const dialer = await createDialer('dnc');
    const both = await addMember(dialer, ['380501114401', '380501114402']);
    const only = await addMember(dialer, ['380501114401']);
    await waitFor('both members ended', async () => ((await member(both))._endCause && (await member(only))._endCause ? true : null), 60_000);
    assert.equal(dialled('380501114401'), 0, 'the listed number never reached FreeSWITCH');
    assert.equal(dialled('380501114402'), 1);
    const b = await member(both);
    assert.equal(b._endCause, 'NORMAL_CLEARING');
    const listed = b._log?.find((e) => e.callNumber === '380501114401');
    assert.equal(listed?.cause, 'DO_NOT_CALL');
    assert.ok(listed?.steps?.some((s) => s.data === 'Not sent: the number is on the do-not-call list'), JSON.stringify(listed?.steps));
    assert.equal((await member(only))._endCause, 'DO_NOT_CALL');
    await recordHistory(api.client.workflow.getHandle(memberWorkflowId(dialer, both)), 'do-not-call-next-number');
  });
});

describe('contact-frequency cap', () => {
  test('settings: bad input is a 400 naming the field; per domain', async () => {
    const bad = await api.req('PUT', '/api/v2/compliance', { cred: acme, body: { contactCap: { attempts: 0, windowSec: 86400 } } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.info, /^contactCap\.attempts: /);
    const bad2 = await api.req('PUT', '/api/v2/compliance', { cred: acme, body: { contactCap: { attempts: 1, windowSec: 'day' } } });
    assert.match(bad2.body.info, /^contactCap\.windowSec: /);
    assert.deepEqual((await api.req('GET', '/api/v2/compliance', { cred: acme })).body.data, { contactCap: null });
  });

  test('a number at its cap waits (not ended) across campaigns, and is dialled once a place frees up', { timeout: 120_000 }, async () => {
    const set = await api.req('PUT', '/api/v2/compliance', { cred: acme, body: { contactCap: { attempts: 1, windowSec: 60 } } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual((await api.req('GET', '/api/v2/compliance', { cred: other })).body.data, { contactCap: null }, 'per domain');
    const first = await createDialer('cap A');
    const second = await createDialer('cap B');
    const a = await addMember(first, ['380501115501']);
    await waitFor('A ended', async () => ((await member(a))._endCause ? true : null), 60_000);
    const startedB = Date.now();
    const b = await addMember(second, ['380501115501']);
    await waitFor('B waits for the cap', async () => {
      const m = await Member.findById(b).lean<{ _readyAt?: number }>();
      return (m?._readyAt ?? 0) > Date.now() + 30_000 ? true : null;
    }, 30_000);
    assert.equal(dialled('380501115501'), 1, 'the second campaign did not dial the capped number');
    const mb = await member(b);
    assert.equal(mb._endCause, null, 'a capped member is not ended');
    assert.equal(mb._log?.length ?? 0, 0, 'no attempt was counted');
    await waitFor('B dialled once the window passed', async () => ((await member(b))._endCause ? true : null), 100_000);
    assert.equal(dialled('380501115501'), 2);
    const sentB = await Attempt.findOne({ dialer: second }, { sentOn: 1 }).lean<{ sentOn: number }>();
    assert.ok(sentB!.sentOn - startedB >= 50_000, `B was dialled ${sentB!.sentOn - startedB} ms after it was added`);
    await recordHistory(api.client.workflow.getHandle(memberWorkflowId(second, b)), 'contact-capped-wait');
  });
});
