// Member-end webhooks: per-domain configuration through the API (cross-domain 404s, secret shown
// once), and delivery through the real Temporal workflows: a receiver that fails first still gets
// the event exactly as recorded, signed, once; another domain's events never reach it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NativeConnection, Worker } from '@temporalio/worker';
import pino from 'pino';
import { createWebhookActivities, signBody } from '../activities/webhooks';
import { WORKFLOWS_PATH } from '../lib/dialer-worker';
import { MemberEnd } from '../models';
import { Delivery } from '../models/webhook';
import { dialerBody, requireEnv, startApi, type ApiHarness, type Cred } from './api-support';

let h: ApiHarness;
let acme: Cred;
let other: Cred;
let worker: Worker;
let workerRun: Promise<void>;
let nativeConn: NativeConnection;

interface Received {
  body: string;
  headers: http.IncomingHttpHeaders;
  status: number;
}
const received: Received[] = [];
let failFirst = 2;
let receiver: http.Server;
let receiverUrl: string;

before(async () => {
  h = await startApi('api_webhooks_test', { webhookDispatcher: { pollMs: 200, retry: { initialIntervalMs: 300, maximumIntervalMs: 1000 } } });
  acme = await h.credential('acme');
  other = await h.credential('other');
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const status = failFirst-- > 0 ? 503 : 200;
      received.push({ body, headers: req.headers, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  nativeConn = await NativeConnection.connect({ address: requireEnv('TEMPORAL_ADDRESS') });
  worker = await Worker.create({
    connection: nativeConn,
    namespace: process.env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: h.taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities: createWebhookActivities({ log: pino({ level: 'silent' }), timeoutMs: 2000 }),
  });
  workerRun = worker.run();
});

after(async () => {
  worker?.shutdown();
  await workerRun?.catch(() => undefined);
  await nativeConn?.close();
  receiver?.close();
  await h?.close();
});

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('webhooks are per domain: validation, cross-domain 404, secret shown once', async () => {
  const bad = await h.req('POST', '/api/v2/hooks', { cred: acme, body: { url: 'ftp://x' } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.info, /^url: must be an http\(s\) URL/);
  const c = await h.req('POST', '/api/v2/hooks', { cred: other, body: { url: 'http://127.0.0.1:9/never' } });
  assert.equal(c.status, 200);
  assert.ok(c.body.data.secret);
  const id = c.body.data._id;
  assert.equal((await h.req('GET', `/api/v2/hooks/${id}`, { cred: acme })).status, 404);
  assert.equal((await h.req('DELETE', `/api/v2/hooks/${id}`, { cred: acme })).status, 404);
  const mine = await h.req('GET', '/api/v2/hooks', { cred: other });
  assert.equal(mine.body.data.length, 1);
  assert.equal(mine.body.data[0].secret, undefined);
  assert.equal((await h.req('GET', '/api/v2/hooks', { cred: acme })).body.data.length, 0);
  assert.equal((await h.req('DELETE', `/api/v2/hooks/${id}`, { cred: other })).status, 200);
  assert.equal((await h.req('GET', '/api/v2/hooks')).status, 401);
});

test('a member-end event reaches the receiver after it recovers, exactly as recorded, signed, once', { timeout: 90_000 }, async () => {
  const hook = await h.req('POST', '/api/v2/hooks', { cred: acme, body: { url: receiverUrl, headers: { 'X-Tenant': 'acme' } } });
  assert.equal(hook.status, 200, JSON.stringify(hook.body));
  const secret = hook.body.data.secret;
  const d = (await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody() })).body.data.insertedIds[0];
  const m = (await h.req('POST', `/api/v2/dialer/${d}/members`, { cred: acme, body: { name: 'w', variables: { crm: 7 }, communications: [{ number: '111' }] } })).body.data.insertedIds[0];
  assert.equal((await h.req('PUT', `/api/v2/dialer/${d}/members/${m}/terminate`, { cred: acme })).status, 200);
  // Another domain's event: must never reach acme's receiver.
  await MemberEnd.create({ _id: 'other-event-1', domain: 'other', dialer: 'x', member: 'y', event: { endCause: 'X' } });

  const ok = await until('a delivered event', async () => received.find((r) => r.status === 200));
  const stored = (await MemberEnd.findOne({ member: m }).lean()) as any;
  assert.deepEqual(JSON.parse(ok.body), stored.event);
  assert.equal(ok.headers['x-dialer-signature'], signBody(secret, ok.body));
  assert.equal(ok.headers['x-dialer-event-id'], stored._id);
  assert.equal(ok.headers['x-tenant'], 'acme');
  assert.equal(received.filter((r) => r.status === 503).length, 2, 'the first two attempts failed and were retried');
  const delivery = await until('the delivery record', async () => Delivery.findOne({ event: stored._id, status: 'delivered' }).lean());
  assert.equal(delivery.attempts, 3);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(received.filter((r) => r.status === 200).length, 1, 'delivered once');
  assert.ok(!received.some((r) => r.body.includes('"endCause":"X"')), 'another domain\'s event was not delivered');
  const g = await h.req('GET', `/api/v2/hooks/${hook.body.data._id}`, { cred: acme });
  assert.deepEqual(g.body.data.deliveries, { delivered: 1 });
});
