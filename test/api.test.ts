// REST API through HTTP against real FerretDB + Temporal: credentials, domain isolation, dialer and
// member routes, validation (every error names its field, nothing half-written), the filter and
// pipeline allow-lists, member updates that keep engine-owned fields, status/terminate mapping.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Campaign, Member, MemberEnd, type CampaignDoc } from '../models';
import { History } from '../models/history';
import { revokeCredential } from '../models/credential';
import { campaignWorkflowId, memberWorkflowId } from '../workflows/messages';
import { startMemberWorkflow } from '../workflows/start';
import { dialerBody, startApi, type ApiHarness, type Cred } from './api-support';

let h: ApiHarness;
let acme: Cred;
let other: Cred;
let root: Cred;

const SEED_MEMBER = `{
        "name":" ",
        "priority": 0,
        "timezone":"",
        "variables": {
                "debt": 20000,
                "language":"",
                "productID":"8fd26a17-eb28-4c74-aa6f-a3794f4f466c"
        },
    "communications":[
                {
                        "number":"099998888",
                        "priority":1
                }, {
                        "number":"3434534534534",
                        "priority":2
                }
        ]
}`;

const q = (o: unknown) => encodeURIComponent(JSON.stringify(o));

async function newDialer(cred: Cred, over: Record<string, unknown> = {}): Promise<string> {
  const r = await h.req('POST', '/api/v2/dialer', { cred, body: dialerBody(over) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.insertedIds[0];
}

async function addMembers(cred: Cred, dialer: string, members: unknown): Promise<string[]> {
  const r = await h.req('POST', `/api/v2/dialer/${dialer}/members`, { cred, body: members });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.insertedIds;
}

before(async () => {
  h = await startApi('api_test');
  acme = await h.credential('acme');
  other = await h.credential('other');
  root = await h.credential(null);
});
after(async () => {
  await h?.close();
});

describe('identity and access', () => {
  test('health needs no credentials; every other route answers 401 without valid ones', async () => {
    assert.equal((await h.req('GET', '/health')).status, 200);
    for (const [m, p] of [['GET', '/api/v2/dialer'], ['POST', '/api/v2/dialer'], ['GET', '/api/v2/dialer/6b05957ef641feb7744a43c3/members'], ['PUT', '/api/v2/dialer/6b05957ef641feb7744a43c3/members/6b05957ef641feb7744a43c3/status']]) {
      const r = await h.req(m, p, { body: m === 'GET' ? undefined : {} });
      assert.equal(r.status, 401, `${m} ${p}`);
      assert.deepEqual(Object.keys(r.body).sort(), ['info', 'status']);
      assert.equal(r.body.status, 'error');
    }
    const bad = await h.req('GET', '/api/v2/dialer', { cred: { ...acme, secret: 'wrong' } });
    assert.equal(bad.status, 401);
    const noKey = await h.req('GET', '/api/v2/dialer', { headers: { 'X-Access-Token': acme.secret } });
    assert.equal(noKey.status, 401);
  });

  test('v3 query-string and body forms of the credentials work', async () => {
    const r = await h.req('GET', `/api/v2/dialer?access_token=${acme.secret}&x_key=${acme.key}`);
    assert.equal(r.status, 200);
    const created = await h.req('POST', '/api/v2/dialer', { body: { ...dialerBody({ name: 'body-auth' }), access_token: acme.secret, x_key: acme.key } });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(created.body.data.ops[0].access_token, undefined, 'credentials are not stored in the document');
  });

  test('POST /login returns a session token usable as X-Access-Token; revoking kills key and sessions', async () => {
    const c = await h.credential('acme');
    const bad = await h.req('POST', '/login', { body: { username: c.key, password: 'nope' } });
    assert.equal(bad.status, 401);
    const missing = await h.req('POST', '/login', { body: { username: c.key } });
    assert.equal(missing.status, 400);
    assert.match(missing.body.info, /password/);
    const r = await h.req('POST', '/login', { body: { username: c.key, password: c.secret } });
    assert.equal(r.status, 200);
    assert.equal(r.body.key, c.key);
    assert.ok(r.body.token && r.body.expires > Date.now());
    assert.equal(r.body.data.domain, 'acme');
    const withSession = await h.req('GET', '/api/v2/dialer', { cred: { ...c, secret: r.body.token } });
    assert.equal(withSession.status, 200);
    await revokeCredential(c.key);
    assert.equal((await h.req('GET', '/api/v2/dialer', { cred: c })).status, 401);
    assert.equal((await h.req('GET', '/api/v2/dialer', { cred: { ...c, secret: r.body.token } })).status, 401);
  });

  test('a domain never sees another domain\'s dialers or members (404, not 403); root uses ?domain=', async () => {
    const d = await newDialer(acme, { name: 'secret-campaign' });
    const [m] = await addMembers(acme, d, { name: 'x', communications: [{ number: '380501112233' }] });
    const list = await h.req('GET', '/api/v2/dialer', { cred: other });
    assert.equal(list.status, 200);
    assert.ok(!list.body.data.some((x: { name: string }) => x.name === 'secret-campaign'));
    const probes: [string, string, unknown?][] = [
      ['GET', `/api/v2/dialer/${d}`],
      ['PUT', `/api/v2/dialer/${d}`, { name: 'pwned' }],
      ['DELETE', `/api/v2/dialer/${d}`],
      ['PUT', `/api/v2/dialer/${d}/state/1`],
      ['PUT', `/api/v2/dialer/${d}/reset`, {}],
      ['GET', `/api/v2/dialer/${d}/history`],
      ['GET', `/api/v2/dialer/${d}/members`],
      ['GET', `/api/v2/dialer/${d}/members/count`],
      ['POST', `/api/v2/dialer/${d}/members`, { communications: [{ number: '1' }] }],
      ['POST', `/api/v2/dialer/${d}/members/aggregate`, []],
      ['DELETE', `/api/v2/dialer/${d}/members`, {}],
      ['PUT', `/api/v2/dialer/${d}/members/reset?from=0`],
      ['GET', `/api/v2/dialer/${d}/members/${m}`],
      ['PUT', `/api/v2/dialer/${d}/members/${m}`, { name: 'pwned' }],
      ['DELETE', `/api/v2/dialer/${d}/members/${m}`],
      ['PUT', `/api/v2/dialer/${d}/members/${m}/status`, { success: true }],
      ['PUT', `/api/v2/dialer/${d}/members/${m}/terminate`],
    ];
    for (const [method, path, body] of probes) {
      const r = await h.req(method, path, { cred: other, body });
      assert.equal(r.status, 404, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.status, 'error');
    }
    // A domain credential naming another domain acts in its own domain anyway.
    assert.equal((await h.req('GET', `/api/v2/dialer/${d}?domain=acme`, { cred: other })).status, 404);
    // Nothing changed.
    const mine = await h.req('GET', `/api/v2/dialer/${d}`, { cred: acme });
    assert.equal(mine.body.data.name, 'secret-campaign');
    assert.equal(await Member.countDocuments({ dialer: d }), 1);
    // Root: any domain by id, or scoped with ?domain=.
    assert.equal((await h.req('GET', `/api/v2/dialer/${d}`, { cred: root })).status, 200);
    assert.equal((await h.req('GET', `/api/v2/dialer/${d}?domain=acme`, { cred: root })).status, 200);
    assert.equal((await h.req('GET', `/api/v2/dialer/${d}?domain=other`, { cred: root })).status, 404);
    const rootCreate = await h.req('POST', '/api/v2/dialer', { cred: root, body: dialerBody() });
    assert.equal(rootCreate.status, 400);
    assert.match(rootCreate.body.info, /^domain: /);
    const rootCreate2 = await h.req('POST', '/api/v2/dialer?domain=other', { cred: root, body: dialerBody({ name: 'by-root' }) });
    assert.equal(rootCreate2.status, 200);
    assert.equal(rootCreate2.body.data.ops[0].domain, 'other');
  });
});

describe('bad input', () => {
  test('dialer validation names each field; nothing is written', async () => {
    const before_ = (await h.req('GET', '/api/v2/dialer?limit=1000', { cred: acme })).body.data.length;
    const cases: [unknown, RegExp][] = [
      [{ type: 'Voice Broadcasting' }, /^name: required/],
      [{ name: 'x' }, /^type: must be one of/],
      [{ name: 'x', type: 'Voice Broadcasting', parameters: { limit: -1 } }, /parameters\.limit: /],
      [{ name: 'x', type: 'Voice Broadcasting', parameters: { maxTryCount: 'five' } }, /parameters\.maxTryCount: /],
      [{ name: 'x', type: 'Voice Broadcasting', resources: [{ dialedNumber: '([' }] }, /resources\.0\.dialedNumber: is not a valid regular expression/],
      [{ name: 'x', type: 'Voice Broadcasting', calendar: { timeZone: 'Mars/Olympus' } }, /calendar\.timeZone: is not an IANA time zone/],
      [{ name: 'x', type: 'Voice Broadcasting', causesOK: ['normal clearing'] }, /causesOK\.0: must be FreeSWITCH cause names/],
      [{ name: 'x', type: 'Voice Broadcasting', communications: { types: [{ code: '1', ranges: [{ startTime: 600, endTime: 500 }] }] } }, /communications\.types\.0\.ranges\.0\.endTime: must be after startTime/],
      [[1, 2], /^body: must be a JSON object/],
    ];
    for (const [body, re] of cases) {
      const r = await h.req('POST', '/api/v2/dialer', { cred: acme, body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.info, re);
    }
    assert.equal((await h.req('GET', '/api/v2/dialer?limit=1000', { cred: acme })).body.data.length, before_);
  });

  test('malformed JSON → 400, wrong content type → 415, oversized body → 413, bad ids and paging → 400', async () => {
    const r1 = await h.req('POST', '/api/v2/dialer', { cred: acme, body: '{"name": "x",' });
    assert.equal(r1.status, 400);
    assert.match(r1.body.info, /^body: malformed JSON/);
    const r2 = await h.req('POST', '/api/v2/dialer', { cred: acme, body: 'name=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(r2.status, 415);
    assert.match(r2.body.info, /content-type/);
    const d = await newDialer(acme);
    const big = await h.req('POST', '/api/v2/dialer', { cred: acme, body: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }) });
    assert.equal(big.status, 413);
    assert.match(big.body.info, /too large/);
    const r3 = await h.req('GET', '/api/v2/dialer/not-an-id', { cred: acme });
    assert.equal(r3.status, 400);
    assert.match(r3.body.info, /^id: /);
    const r4 = await h.req('GET', `/api/v2/dialer/${d}/members/123`, { cred: acme });
    assert.equal(r4.status, 400);
    assert.match(r4.body.info, /^id: /);
    for (const qs of ['limit=0', 'limit=5000', 'limit=abc', 'page=0', 'page=-1']) {
      const r = await h.req('GET', `/api/v2/dialer/${d}/members?${qs}`, { cred: acme });
      assert.equal(r.status, 400, qs);
      assert.match(r.body.info, /^(limit|page): /);
    }
    assert.equal((await h.req('GET', `/api/v2/dialer/6b05957ef641feb7744a43c3`, { cred: acme })).status, 404);
  });

  test('a bulk insert with one bad member writes nothing and names index and field', async () => {
    const d = await newDialer(acme);
    const r = await h.req('POST', `/api/v2/dialer/${d}/members`, {
      cred: acme,
      body: [
        { name: 'ok', communications: [{ number: '380501112233' }] },
        { name: 'no numbers', communications: [] },
        { name: 'empty number', communications: [{ number: '' }] },
        { name: 'bad priority', priority: 'high', communications: [{ number: '1' }] },
        'not an object',
      ],
    });
    assert.equal(r.status, 400);
    assert.match(r.body.info, /\[1\]\.communications: Bad communications \(must array\)/);
    assert.match(r.body.info, /\[2\]\.communications\.0\.number: Bad communication number/);
    assert.match(r.body.info, /\[3\]\.priority: /);
    assert.match(r.body.info, /\[4\]: must be a member object/);
    assert.equal(await Member.countDocuments({ dialer: d }), 0);
    const single = await h.req('POST', `/api/v2/dialer/${d}/members`, { cred: acme, body: { name: 'x' } });
    assert.equal(single.status, 400);
    assert.match(single.body.info, /^communications: Bad communications \(must array\)/);
    const noBody = await h.req('POST', `/api/v2/dialer/${d}/members`, { cred: acme });
    assert.equal(noBody.status, 400);
    assert.match(noBody.body.info, /^body: /);
  });
});

describe('dialers', () => {
  test('create, get with live stats, partial update ignores engine fields and keeps other parameters', async () => {
    const d = await newDialer(acme, { name: 'c1', parameters: { limit: 7, maxTryCount: 4 } });
    const g = await h.req('GET', `/api/v2/dialer/${d}`, { cred: acme });
    assert.equal(g.status, 200);
    assert.equal(g.body.data.parameters.limit, 7);
    assert.equal(g.body.data.stats.active, 0);
    assert.equal(g.body.data.domain, 'acme');
    const u = await h.req('PUT', `/api/v2/dialer/${d}`, {
      cred: acme,
      body: { parameters: { limit: 9 }, state: 1, active: true, _cause: 'HACK', domain: 'other', stats: { callCount: 99 }, description: 'new' },
    });
    assert.equal(u.status, 200, JSON.stringify(u.body));
    const g2 = (await h.req('GET', `/api/v2/dialer/${d}`, { cred: acme })).body.data;
    assert.equal(g2.parameters.limit, 9);
    assert.equal(g2.parameters.maxTryCount, 4, 'other parameters kept');
    assert.equal(g2.description, 'new');
    assert.equal(g2.state, 0);
    assert.equal(g2.active, false);
    assert.equal(g2.domain, 'acme');
    assert.equal(g2._cause, 'INIT');
    assert.notEqual(g2.stats.callCount, 99);
    const bad = await h.req('PUT', `/api/v2/dialer/${d}`, { cred: acme, body: { parameters: { originateTimeout: 0 } } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.info, /^parameters\.originateTimeout: /);
  });

  test('the counters\' internal exactly-once markers never appear: GET, list, list by stats column', async () => {
    const d = await newDialer(acme, { name: 'markers' });
    // As an endAttempt interrupted between its increment and the marker's removal leaves it.
    await Campaign.updateOne({ _id: d }, { $set: { 'stats.callCount': 3, 'stats._counting': ['an-attempt-uuid'] } });
    const one = (await h.req('GET', `/api/v2/dialer/${d}`, { cred: acme })).body.data;
    assert.equal(one.stats.callCount, 3);
    assert.equal('_counting' in one.stats, false);
    for (const url of [`/api/v2/dialer?filter=${q({ name: 'markers' })}`, `/api/v2/dialer?filter=${q({ name: 'markers' })}&columns=stats`]) {
      const [listed] = (await h.req('GET', url, { cred: acme })).body.data;
      assert.equal(listed.stats.callCount, 3, url);
      assert.equal('_counting' in listed.stats, false, url);
    }
  });

  test('list pages and projects columns (v3 list and JSON forms)', async () => {
    for (let i = 0; i < 3; i++) await newDialer(other, { name: `page-${i}` });
    const p1 = await h.req('GET', '/api/v2/dialer?limit=2&page=1&columns=name,type', { cred: other });
    const p2 = await h.req('GET', `/api/v2/dialer?limit=2&page=2&columns=${q({ name: 1 })}`, { cred: other });
    assert.equal(p1.body.data.length, 2);
    assert.ok(p2.body.data.length >= 1);
    assert.deepEqual(Object.keys(p1.body.data[0]).sort(), ['_id', 'name', 'type']);
    assert.deepEqual(Object.keys(p2.body.data[0]).sort(), ['_id', 'name']);
  });

  test('state 1 starts (campaign workflow), state 3 stops, other states 400; history records them', async () => {
    const d = await newDialer(acme);
    const empty = await h.req('PUT', `/api/v2/dialer/${d}/state/1`, { cred: acme });
    assert.equal(empty.status, 200);
    assert.equal(empty.body.data._cause, 'NOT_FOUND_MEMBER');
    const [m] = await addMembers(acme, d, { communications: [{ number: '380501112233' }] });
    const start = await h.req('PUT', `/api/v2/dialer/${d}/state/1`, { cred: acme });
    assert.equal(start.status, 200);
    assert.deepEqual(start.body.data, { state: 1, _cause: 'QUEUE_HUNTING', active: true });
    await h.app.drain();
    const desc = await h.client.workflow.getHandle(campaignWorkflowId(d)).describe();
    assert.equal(desc.status.name, 'RUNNING');
    assert.equal(desc.taskQueue, h.taskQueue);
    // A member that has been dialled has its own workflow (started here directly: no worker runs).
    await startMemberWorkflow(h.client, { domain: 'acme', campaignId: d, memberId: m }, h.taskQueue);
    assert.equal((await h.req('PUT', `/api/v2/dialer/${d}/state/2`, { cred: acme })).status, 400);
    const stop = await h.req('PUT', `/api/v2/dialer/${d}/state/3`, { cred: acme });
    assert.deepEqual(stop.body.data, { state: 3, _cause: 'QUEUE_STOP', active: false });
    const hist = await h.req('GET', `/api/v2/dialer/${d}/history`, { cred: acme });
    assert.equal(hist.status, 200);
    assert.deepEqual(hist.body.info.map((x: { action: string }) => x.action), ['QUEUE_STOP', 'QUEUE_HUNTING', 'NOT_FOUND_MEMBER']);
    // Deleting the dialer terminates its member workflows and deletes members and history.
    const del = await h.req('DELETE', `/api/v2/dialer/${d}`, { cred: acme });
    assert.equal(del.status, 200);
    assert.equal(del.body.data.deletedMembers, 1);
    const after_ = await h.client.workflow.getHandle(memberWorkflowId(d, m)).describe();
    assert.equal(after_.status.name, 'TERMINATED');
    assert.equal(await History.countDocuments({ dialer: d }), 0);
    assert.equal((await h.req('GET', `/api/v2/dialer/${d}`, { cred: acme })).status, 404);
  });

  test('Predictive: created and started like the other types; its engine fields are not the client\'s', async () => {
    const r = await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody({ type: 'Predictive Dialer', parameters: { maxLocateAgentSec: 5, retryAbandoned: true, maxPredictiveSilentCalls: 2.5, predictMinAgents: 3 } }) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const id = r.body.data.insertedIds[0];
    const d = await newDialer(acme);
    const change = await h.req('PUT', `/api/v2/dialer/${d}`, { cred: acme, body: { type: 'Predictive Dialer', name: 'renamed', pacing: { mode: 'x' }, _pacingState: { x: 1 } } });
    assert.equal(change.status, 200, JSON.stringify(change.body));
    const kept = await Campaign.findById(d).lean<CampaignDoc & { pacing?: unknown; _pacingState?: unknown }>();
    assert.deepEqual([kept!.type, kept!.pacing, kept!._pacingState], ['Predictive Dialer', undefined, undefined], 'engine fields are ignored');
    const bad = await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody({ type: 'Predictive Dialer', parameters: { predictMinAgents: 0 } }) });
    assert.equal(bad.status, 400);
    assert.match(bad.body.info, /^parameters\.predictMinAgents: /);
    const stored = (await h.req('GET', `/api/v2/dialer/${id}`, { cred: acme })).body.data;
    assert.deepEqual([stored.parameters.maxLocateAgentSec, stored.parameters.retryAbandoned, stored.parameters.maxPredictiveSilentCalls], [5, true, 2.5]);
  });

  test('reset: only inactive dialers unless skipActive; resetStats zeroes counters', async () => {
    const d = await newDialer(acme);
    await h.req('PUT', `/api/v2/dialer/${d}`, { cred: acme, body: { description: 'x' } });
    const r = await h.req('PUT', `/api/v2/dialer/${d}/reset`, { cred: acme, body: { resetStats: true, resetProcess: true } });
    assert.equal(r.status, 200);
    assert.equal(r.body.data.result.n, 1);
    const bad = await h.req('PUT', `/api/v2/dialer/${d}/reset`, { cred: acme, body: { resetStats: 'yes' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.info, /^resetStats: /);
  });
});

describe('members', () => {
  test('the seed example request works verbatim (autoRun=true starts the dialer)', async () => {
    const d = await newDialer(acme);
    const r = await h.req('POST', `/api/v2/dialer/${d}/members?autoRun=true`, { cred: acme, body: SEED_MEMBER });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'OK');
    assert.equal(r.body.data.insertedCount, 1);
    const id = r.body.data.insertedIds[0];
    const m = (await h.req('GET', `/api/v2/dialer/${d}/members/${id}`, { cred: acme })).body.data;
    assert.equal(m.variables.debt, 20000);
    assert.deepEqual(m.communications.map((c: { number: string; state: number }) => [c.number, c.state]), [['099998888', 0], ['3434534534534', 0]]);
    assert.equal(m._endCause, null);
    const dd = (await h.req('GET', `/api/v2/dialer/${d}`, { cred: acme })).body.data;
    assert.equal(dd.state, 1);
    assert.equal(dd.active, true);
    await h.app.drain();
    assert.equal((await h.client.workflow.getHandle(campaignWorkflowId(d)).describe()).status.name, 'RUNNING');
    await h.req('DELETE', `/api/v2/dialer/${d}`, { cred: acme });
  });

  test('filters: allow-listed operators work; code-running operators are 400; the dialer scope cannot be escaped', async () => {
    const d1 = await newDialer(acme);
    const d2 = await newDialer(acme);
    await addMembers(acme, d1, [
      { name: 'a', priority: 1, variables: { city: 'Kyiv' }, communications: [{ number: '1001' }] },
      { name: 'b', priority: 5, variables: { city: 'Lviv' }, communications: [{ number: '1002' }, { number: '1003' }] },
      { name: 'c', priority: 3, communications: [{ number: '1004' }] },
    ]);
    await addMembers(acme, d2, [{ name: 'other-dialer', communications: [{ number: '2001' }] }]);
    await addMembers(other, await newDialer(other), [{ name: 'other-domain', communications: [{ number: '3001' }] }]);
    const get = (qs: string) => h.req('GET', `/api/v2/dialer/${d1}/members?${qs}`, { cred: acme });
    const names = (r: { body: { data: { name: string }[] } }) => r.body.data.map((x) => x.name);

    assert.deepEqual(names(await get(`filter=${q({ priority: { $gte: 3 } })}&sort=${q({ priority: -1 })}`)), ['b', 'c']);
    assert.deepEqual(names(await get(`filter=${q({ 'variables.city': { $regex: '^ky', $options: 'i' } })}`)), ['a']);
    assert.deepEqual(names(await get(`filter=${q({ $or: [{ name: 'a' }, { 'communications.number': '1004' }] })}&sort=${q({ name: 1 })}`)), ['a', 'c']);
    assert.deepEqual(names(await get(`filter=${q({ communications: { $size: 2 } })}`)), ['b']);
    assert.deepEqual(names(await get(`filter=${q({ name: { $in: ['a', 'b'] }, _endCause: null })}&sort=${q({ name: 1 })}`)), ['a', 'b']);
    // Escapes: naming another dialer or domain only narrows the result to nothing.
    assert.deepEqual(names(await get(`filter=${q({ dialer: d2 })}`)), []);
    assert.deepEqual(names(await get(`filter=${q({ $or: [{ dialer: d2 }, { domain: 'other' }] })}`)), []);
    assert.deepEqual(names(await get(`filter=${q({ domain: 'other' })}`)), []);

    const rejected: [unknown, RegExp][] = [
      [{ $where: 'sleep(1000)' }, /filter\.\$where: operator \$where is not allowed/],
      [{ $expr: { $gt: ['$priority', 1] } }, /filter\.\$expr/],
      [{ name: { $function: { body: 'return 1', args: [], lang: 'js' } } }, /filter\.name\.\$function/],
      [{ $or: [{ name: 'a' }, { $where: '1' }] }, /filter\.\$or\[1\]\.\$where/],
      [{ name: { $not: { $where: '1' } } }, /\$where/],
      [{ communications: { $elemMatch: { $where: '1' } } }, /\$where/],
      [{ name: { $eq: { $gt: 1 } } }, /operator \$gt is not allowed here/],
      [{ '$comment': 'x' }, /\$comment/],
      [{ 'a.$b': 1 }, /not an allowed field name/],
      [{ name: { $regex: '(' } }, /not a valid regular expression/],
      [{ $or: 'x' }, /must be a non-empty array/],
    ];
    for (const [f, re] of rejected) {
      const r = await get(`filter=${q(f)}`);
      assert.equal(r.status, 400, JSON.stringify(f));
      assert.match(r.body.info, re);
    }
    assert.equal((await get('filter=%7Bnot-json')).status, 400);
    assert.match((await get(`sort=${q({ name: { $meta: 'textScore' } })}`)).body.info, /^sort\.name: must be 1 or -1/);
    assert.match((await get(`columns=${q({ name: { $slice: 1 } })}`)).body.info, /^columns\.name: must be 0 or 1/);

    const count = await h.req('GET', `/api/v2/dialer/${d1}/members/count?filter=${q({ priority: { $gt: 1 } })}`, { cred: acme });
    assert.deepEqual(count.body, { status: 'OK', data: 2 });
    const countBad = await h.req('GET', `/api/v2/dialer/${d1}/members/count?filter=${q({ $where: '1' })}`, { cred: acme });
    assert.equal(countBad.status, 400);
  });

  test('aggregate: safe stages work within the dialer; $lookup, $out, $merge, $function and expressions are 400', async () => {
    const d = await newDialer(acme);
    await addMembers(acme, d, [
      { name: 'a', priority: 1, communications: [{ number: '1' }] },
      { name: 'b', priority: 1, communications: [{ number: '2' }, { number: '3' }] },
      { name: 'c', priority: 2, communications: [{ number: '4' }] },
    ]);
    await addMembers(acme, await newDialer(acme), [{ name: 'z', priority: 1, communications: [{ number: '9' }] }]);
    const agg = (body: unknown) => h.req('POST', `/api/v2/dialer/${d}/members/aggregate`, { cred: acme, body });
    const g = await agg([{ $match: { _endCause: null } }, { $group: { _id: '$priority', n: { $sum: 1 } } }, { $sort: { _id: 1 } }]);
    assert.equal(g.status, 200, JSON.stringify(g.body));
    assert.deepEqual(g.body.data, [{ _id: 1, n: 2 }, { _id: 2, n: 1 }]);
    const u = await agg([{ $unwind: '$communications' }, { $count: 'numbers' }]);
    assert.deepEqual(u.body.data, [{ numbers: 4 }]);
    const p = await agg([{ $sort: { name: 1 } }, { $limit: 1 }, { $project: { name: 1, _id: 0 } }]);
    assert.deepEqual(p.body.data, [{ name: 'a' }]);
    const bad: [unknown, RegExp][] = [
      [[{ $lookup: { from: 'api_credentials', localField: 'x', foreignField: 'y', as: 'z' } }], /body\[0\]: stage \$lookup is not allowed/],
      [[{ $out: 'stolen' }], /stage \$out/],
      [[{ $merge: { into: 'x' } }], /stage \$merge/],
      [[{ $match: { $where: '1' } }], /body\[0\]\.\$match\.\$where/],
      [[{ $group: { _id: null, x: { $accumulator: {} } } }], /accumulator \$accumulator is not allowed/],
      [[{ $group: { _id: { $function: {} } } }], /body\[0\]\.\$group\._id/],
      [[{ $project: { x: { $function: {} } } }], /expressions are not allowed/],
      [[{ $project: { x: '$$ROOT' } }], /field reference/],
      [{ $match: {} }, /body: must be a JSON array of stages/],
    ];
    for (const [body, re] of bad) {
      const r = await agg(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.info, re);
    }
  });

  test('PUT member keeps engine-owned number fields, ignores engine fields, 406 while locked', async () => {
    const d = await newDialer(acme);
    const [id] = await addMembers(acme, d, { name: 'm', communications: [{ number: '111', priority: 1 }, { number: '222' }] });
    // The engine has worked on it: number 111 ended after 3 tries, stopped by a callback.
    await Member.updateOne(
      { _id: id },
      { $set: { 'communications.0.state': 2, 'communications.0._probe': 3, 'communications.0.stopCommunication': true, 'communications.0.rangeAttempts': 2, 'communications.0.rangeId': '24_540_1020', _probeCount: 3 } },
    );
    const r = await h.req('PUT', `/api/v2/dialer/${d}/members/${id}`, {
      cred: acme,
      body: {
        name: "O'Brien",
        priority: 7,
        variables: { k: 'v' },
        _probeCount: 0,
        _endCause: 'HACK',
        communications: [{ number: '111', priority: 9, state: 0, _probe: 0 }, { number: '333', description: 'new' }],
      },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const m = (await Member.findById(id).lean()) as any;
    assert.equal(m.name, 'O_Brien');
    assert.equal(m.priority, 7);
    assert.deepEqual(m.variables, { k: 'v' });
    assert.equal(m._probeCount, 3);
    assert.equal(m._endCause, null);
    assert.equal(m.communications.length, 2);
    assert.deepEqual(
      { n: m.communications[0].number, p: m.communications[0].priority, s: m.communications[0].state, pr: m.communications[0]._probe, stop: m.communications[0].stopCommunication, ra: m.communications[0].rangeAttempts, ri: m.communications[0].rangeId },
      { n: '111', p: 9, s: 2, pr: 3, stop: true, ra: 2, ri: '24_540_1020' },
    );
    assert.deepEqual(
      { n: m.communications[1].number, s: m.communications[1].state, pr: m.communications[1]._probe, d: m.communications[1].description },
      { n: '333', s: 0, pr: 0, d: 'new' },
    );
    const bad = await h.req('PUT', `/api/v2/dialer/${d}/members/${id}`, { cred: acme, body: { communications: [{ priority: 1 }] } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.info, /^communications\.0\.number: Bad communication number/);
    await Member.updateOne({ _id: id }, { $set: { _lock: 'worker-1' } });
    const locked = await h.req('PUT', `/api/v2/dialer/${d}/members/${id}`, { cred: acme, body: { name: 'z' } });
    assert.equal(locked.status, 406);
    const lockedDel = await h.req('DELETE', `/api/v2/dialer/${d}/members/${id}`, { cred: acme });
    assert.equal(lockedDel.status, 406);
    await Member.updateOne({ _id: id }, { $set: { _lock: null } });
    assert.equal((await h.req('DELETE', `/api/v2/dialer/${d}/members/${id}`, { cred: acme })).status, 200);
    assert.equal((await h.req('GET', `/api/v2/dialer/${d}/members/${id}`, { cred: acme })).status, 404);
    assert.equal((await h.req('DELETE', `/api/v2/dialer/${d}/members/${id}`, { cred: acme })).status, 404);
  });

  test('PUT member while its workflow runs: only the workflow may store it (an Update; no worker here → 503, nothing written)', async () => {
    const d = await newDialer(acme);
    const [id] = await addMembers(acme, d, { name: 'm', communications: [{ number: '111' }] });
    await startMemberWorkflow(h.client, { domain: 'acme', campaignId: d, memberId: id }, h.taskQueue);
    // No worker polls this test's task queue: the workflow cannot take the edit, and the API does
    // not write the document behind its back (test/single-writer.test.ts has the edit with a worker).
    const r = await h.req('PUT', `/api/v2/dialer/${d}/members/${id}`, { cred: acme, body: { name: 'renamed', communications: [{ number: '111' }, { number: '444' }] } });
    assert.equal(r.status, 503);
    const m = (await Member.findById(id).lean()) as any;
    assert.equal(m.name, 'm');
    assert.equal(m.communications.length, 1);
    await h.client.workflow.getHandle(memberWorkflowId(d, id)).terminate();
    await h.req('DELETE', `/api/v2/dialer/${d}`, { cred: acme });
  });

  test('status: 404 unknown member, 400 naming bad fields, 400 when not waiting for a status', async () => {
    const d = await newDialer(acme);
    const [id] = await addMembers(acme, d, { communications: [{ number: '111' }] });
    const unknown = await h.req('PUT', `/api/v2/dialer/${d}/members/6b05957ef641feb7744a43c3/status`, { cred: acme, body: { success: true } });
    assert.equal(unknown.status, 404);
    for (const [body, re] of [
      [{ next_after_sec: 'soon' }, /^next_after_sec: /],
      [{ success: 'maybe' }, /^success: /],
      [{ stop_communications: [{}] }, /^stop_communications/],
      [{ next_communication: 'abc' }, /^next_communication: /],
    ] as [unknown, RegExp][]) {
      const r = await h.req('PUT', `/api/v2/dialer/${d}/members/${id}/status`, { cred: acme, body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.info, re);
    }
    // The seed's status example (with the comma its text is missing) on a member not waiting.
    const seedStatus = { success: false, reset_retries: false, next_after_sec: 3600, next_communication: '380910000000', stop_communications: ['380920000000', '380930000000'], comment: '     ' };
    const r = await h.req('PUT', `/api/v2/dialer/${d}/members/${id}/status`, { cred: acme, body: seedStatus });
    assert.equal(r.status, 400);
    assert.equal(r.body.info, 'Member is not waiting for a result status');
  });

  test('terminate an idle member: MANAGER_REQUEST, numbers End, member-end event; again → 405', async () => {
    const d = await newDialer(acme);
    const [id] = await addMembers(acme, d, { name: 't', variables: { crm: 42 }, communications: [{ number: '111' }, { number: '222' }] });
    const r = await h.req('PUT', `/api/v2/dialer/${d}/members/${id}/terminate`, { cred: acme });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { status: 'OK', info: { _id: id } });
    const m = (await Member.findById(id).lean()) as any;
    assert.equal(m._endCause, 'MANAGER_REQUEST');
    assert.deepEqual(m.communications.map((c: { state: number }) => c.state), [2, 2]);
    const ev = (await MemberEnd.findOne({ member: id }).lean()) as any;
    assert.equal(ev.event.endCause, 'MANAGER_REQUEST');
    assert.equal(ev.event.reason, 'terminate');
    assert.equal(ev.event.variable_crm, '42');
    assert.equal(ev.domain, 'acme');
    const again = await h.req('PUT', `/api/v2/dialer/${d}/members/${id}/terminate`, { cred: acme });
    assert.equal(again.status, 405);
  });

  test('members reset revives ended members (not stopped numbers), needs from, _log only for root', async () => {
    const d = await newDialer(acme);
    const [a, b] = await addMembers(acme, d, [
      { name: 'a', communications: [{ number: '111' }, { number: '222' }] },
      { name: 'ok', communications: [{ number: '333' }] },
    ]);
    await Member.updateOne({ _id: a }, { $set: { _endCause: 'MAX_TRY_COUNT', _probeCount: 5, 'communications.0.state': 2, 'communications.0._probe': 5, 'communications.1.state': 2, 'communications.1.stopCommunication': true } });
    await Member.updateOne({ _id: b }, { $set: { _endCause: 'NORMAL_CLEARING', callSuccessful: true } });
    assert.equal((await h.req('PUT', `/api/v2/dialer/${d}/members/reset`, { cred: acme })).status, 400);
    assert.equal((await h.req('PUT', `/api/v2/dialer/${d}/members/reset?from=0&_log=true`, { cred: acme })).status, 403);
    const r = await h.req('PUT', `/api/v2/dialer/${d}/members/reset?from=0`, { cred: acme });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: 'OK', info: 1 });
    const m = (await Member.findById(a).lean()) as any;
    assert.equal(m._endCause, null);
    assert.equal(m._probeCount, 0);
    assert.deepEqual(m.communications.map((c: { state: number; _probe: number }) => [c.state, c._probe]), [[0, 0], [2, 0]]);
    assert.match(m._log[0].steps[0].data, /^Reset by /);
    assert.equal(((await Member.findById(b).lean()) as any)._endCause, 'NORMAL_CLEARING');
  });

  test('delete by filter: body required, allow-listed, scoped to the dialer, locked members kept', async () => {
    const d = await newDialer(acme);
    const d2 = await newDialer(acme);
    await addMembers(acme, d, [
      { name: 'a', communications: [{ number: '1' }] },
      { name: 'b', communications: [{ number: '2' }] },
      { name: 'c', communications: [{ number: '3' }] },
    ]);
    await addMembers(acme, d2, [{ name: 'a', communications: [{ number: '1' }] }]);
    const del = (body?: unknown) => h.req('DELETE', `/api/v2/dialer/${d}/members`, { cred: acme, body });
    assert.equal((await del()).status, 400);
    assert.equal((await del({ $where: '1' })).status, 400);
    const one = await del({ name: 'a' });
    assert.equal(one.body.data.deletedCount, 1);
    await Member.updateOne({ dialer: d, name: 'b' }, { $set: { _lock: 'w' } });
    const all = await del({});
    assert.equal(all.body.data.deletedCount, 1);
    assert.equal(all.body.data.skippedLocked, 1);
    assert.equal(await Member.countDocuments({ dialer: d2 }), 1);
  });
});
