// Agents through the REST API on the real stack (dev server, a worker, FerretDB): the directory,
// status/state by REST as Updates to each agent's workflow (the workflow stores the document), bad
// input as 4xx naming the field, domain isolation, and the event stream.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, AgentEvent } from '../models/agent';
import { agentWorkflowId } from '../workflows/messages';
import type { ApiHarness, Cred } from './api-support';
import { e2eFile } from './support/e2e-stack';
import { waitFor } from './support/env';

let api: ApiHarness;
let cred: Cred;
let other: Cred;
let root: Cred;

e2eFile('api_agents', { domain: 'acme.local', simulator: { rules: { rules: [] } }, worker: { cdr: false, reconcile: false } }, async (s) => {
  ({ api, cred } = s);
  other = await api.credential('other.local');
  root = await api.credential(null);
});

const A = '/api/v2/agents';

describe('agent directory', () => {
  test('create: stored by the agent workflow, Logged Out/Idle by default, parameters kept', async () => {
    const res = await api.req('POST', A, { cred, body: { name: '1000', contact: 'user/1000', wrapUpTime: 15, maxNoAnswer: 3 } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.id, '1000@acme.local');
    assert.deepEqual([res.body.data.status, res.body.data.state], ['Logged Out', 'Idle']);
    const doc = await Agent.findById('1000@acme.local').lean();
    assert.ok(doc, 'stored before the answer');
    assert.deepEqual(doc!.params, { wrapUpTime: 15, maxNoAnswer: 3 });
    const d = await api.client.workflow.getHandle(agentWorkflowId('acme.local', '1000')).describe();
    assert.equal(d.status.name, 'RUNNING');

    const dup = await api.req('POST', A, { cred, body: { name: '1000', contact: 'user/1000' } });
    assert.equal(dup.status, 409);
    assert.match(dup.body.info, /^name: /);
  });

  test('bad input is a 400 naming the field; a contact is checked like every dial string', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ name: '1001', contact: 'user/1001,sofia/gateway/x/1' }, /^contact: must not contain ","/],
      [{ name: '1001', contact: '{api_on_answer=system}user/1001' }, /^contact: must not contain "\{"/],
      [{ name: '1001', contact: 'user/1001 &bridge(x)' }, /^contact: must not contain " "/],
      [{ name: '1001', contact: '1001' }, /^contact: must be an endpoint dial string/],
      [{ name: '1001', contact: 'loopback/1001/default' }, /^contact: must dial an allowed endpoint: user\/, verto\.rtc\/, sofia\/gateway\/ \(the operator can allow more in AGENT_ENDPOINTS_ALLOW\)/],
      [{ name: '10 01', contact: 'user/1001' }, /^name: must be an extension/],
      [{ name: '1001', contact: 'user/1001', wrapUpTime: -1 }, /^wrapUpTime: /],
      [{ name: '1001', contact: 'user/1001', status: 'Busy' }, /^status: must be one of/],
      [{ name: '1001', contact: 'user/1001', state: 'Reserved' }, /^state: must be one of: Idle, Waiting/],
      // A domain's agent dials only its own domain's users.
      [{ name: '1001', contact: 'user/1001@other.local' }, /^contact: dials a user of another domain \(other\.local\)/],
    ];
    for (const [body, info] of cases) {
      const res = await api.req('POST', A, { cred, body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.body.info, info, JSON.stringify(res.body));
    }
    assert.equal(await Agent.countDocuments({ name: '1001' }), 0, 'nothing stored');
    assert.equal((await api.req('POST', A, { body: { name: '1002', contact: 'user/1002' } })).status, 401);
    assert.equal((await api.req('POST', A, { cred: root, body: { name: '1002', contact: 'user/1002' } })).status, 400, 'root must name a domain');
  });

  test('status and state by REST (§7.1): v3 integrators set Available/Waiting; dialer-only states are refused', async () => {
    await api.req('POST', A, { cred, body: { name: '2000', contact: 'user/2000' } });
    const res = await api.req('PUT', `${A}/2000/status`, { cred, body: { status: 'Available', state: 'Waiting' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual([res.body.data.status, res.body.data.state], ['Available', 'Waiting']);
    const got = await api.req('GET', `${A}/2000`, { cred });
    assert.deepEqual([got.body.data.status, got.body.data.state], ['Available', 'Waiting'], 'stored before the answer');
    const bad = await api.req('PUT', `${A}/2000/status`, { cred, body: { state: 'In a queue call' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.info, /^state: /);
    const none = await api.req('PUT', `${A}/2000/status`, { cred, body: {} });
    assert.equal(none.status, 400);
    assert.equal((await api.req('PUT', `${A}/nobody/status`, { cred, body: { status: 'Available' } })).status, 404);
    const pb = await api.req('PUT', `${A}/2000/status`, { cred, body: { status: 'On Break' } });
    assert.equal(pb.body.data.status, 'On Break');
  });

  test('settings change through the workflow; delete removes the document and ends the workflow', async () => {
    await api.req('POST', A, { cred, body: { name: '3000', contact: 'user/3000', status: 'Available' } });
    const put = await api.req('PUT', `${A}/3000`, { cred, body: { contact: 'sofia/gateway/gw1/3000', noAnswerDelayTime: 30 } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal((await Agent.findById('3000@acme.local').lean())!.contact, 'sofia/gateway/gw1/3000');
    const bad = await api.req('PUT', `${A}/3000`, { cred, body: { contact: 'user/3000|user/3001' } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.info, /^contact: /);
    const foreign = await api.req('PUT', `${A}/3000`, { cred, body: { contact: 'user/3000@Other.Local' } });
    assert.equal(foreign.status, 400);
    assert.match(foreign.body.info, /^contact: dials a user of another domain/);
    assert.equal((await api.req('PUT', `${A}/3000`, { cred, body: { contact: 'user/3000@ACME.local' } })).status, 200, 'its own domain');
    assert.equal((await api.req('PUT', `${A}/3000`, { cred, body: { contact: 'sofia/gateway/gw1/3000' } })).status, 200);
    assert.equal((await Agent.findById('3000@acme.local').lean())!.contact, 'sofia/gateway/gw1/3000', 'nothing changed');
    const del = await api.req('DELETE', `${A}/3000`, { cred });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.equal((await api.req('GET', `${A}/3000`, { cred })).status, 404);
    const h = api.client.workflow.getHandle(agentWorkflowId('acme.local', '3000'));
    await waitFor('agent workflow completed', async () => (await h.describe()).status.name === 'COMPLETED');
    // The name can be used again, and the new agent's events are its own (not taken for the old one's).
    const before_ = await AgentEvent.countDocuments({ agent: '3000@acme.local' });
    assert.equal((await api.req('POST', A, { cred, body: { name: '3000', contact: 'user/3000', status: 'Available', state: 'Waiting' } })).status, 200);
    assert.equal(await AgentEvent.countDocuments({ agent: '3000@acme.local' }), before_ + 1);
  });

  test('a domain never sees or changes another domain’s agents', async () => {
    await api.req('POST', A, { cred, body: { name: '4000', contact: 'user/4000' } });
    const list = await api.req('GET', A, { cred: other });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.data, []);
    assert.equal((await api.req('GET', `${A}/4000`, { cred: other })).status, 404);
    assert.equal((await api.req('PUT', `${A}/4000/status`, { cred: other, body: { status: 'Available' } })).status, 404);
    assert.equal((await api.req('DELETE', `${A}/4000`, { cred: other })).status, 404);
    // ?domain= of a domain credential is ignored (v3).
    assert.equal((await api.req('GET', `${A}/4000?domain=acme.local`, { cred: other })).status, 404);
    const mine = await api.req('GET', A, { cred });
    assert.ok(mine.body.data.some((a: { id: string }) => a.id === '4000@acme.local'));
    assert.ok((await api.req('GET', `${A}/4000?domain=acme.local`, { cred: root })).status === 200);
  });
});

/** Reads Server-Sent Events until `until` returns true for the collected list (or times out). */
async function readEvents(path: string, c: Cred, act: () => Promise<void>, until: (evs: { event: string; data: any }[]) => boolean, ms = 10_000) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ms);
  const r = await fetch(api.base + path, { headers: { 'X-Key': c.key, 'X-Access-Token': c.secret }, signal: ctl.signal });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /text\/event-stream/);
  const evs: { event: string; data: any; id: string }[] = [];
  const reader = r.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  await act();
  try {
    while (!until(evs)) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const chunk = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const f = Object.fromEntries(chunk.split('\n').filter((l) => !l.startsWith(':') && l.includes(': ')).map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]));
        if (f.event) evs.push({ event: f.event, data: JSON.parse(f.data), id: f.id });
      }
    }
  } catch (err) {
    if (!ctl.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
  return evs;
}

describe('agent event stream', () => {
  test('status changes reach the domain’s stream, never another domain’s; needs credentials', async () => {
    await api.req('POST', A, { cred, body: { name: '5000', contact: 'user/5000' } });
    await api.req('POST', A, { cred: other, body: { name: '5000', contact: 'user/5000' } });
    const evs = await readEvents(`${A}/events`, cred, async () => {
      await api.req('PUT', `${A}/5000/status`, { cred: other, body: { status: 'Available', state: 'Waiting' } });
      await api.req('PUT', `${A}/5000/status`, { cred, body: { status: 'Available', state: 'Waiting' } });
    }, (e) => e.some((x) => x.event === 'status'));
    const status = evs.filter((e) => e.event === 'status');
    assert.equal(status.length, 1, JSON.stringify(evs));
    assert.deepEqual([status[0].data.agent, status[0].data.status, status[0].data.state], ['5000@acme.local', 'Available', 'Waiting']);
    assert.equal((await api.req('GET', `${A}/events`)).status, 401);
    assert.ok(await AgentEvent.exists({ domain: 'other.local' }), 'the other domain has its own event');
  });
});
