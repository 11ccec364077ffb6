// Member-end webhooks: per-domain configuration through the API (cross-domain 404s, secret shown
// once), and delivery through the real Temporal workflows: a receiver that fails first still gets
// the event exactly as recorded, signed, once; another domain's events never reach it. Targets:
// loopback, private and metadata URLs are refused at creation and at delivery (after resolving the
// name: DNS rebinding) unless allow-listed; the local receivers here are admitted by allow-listing
// 127.0.0.1/32 (config.webhooks.allowHosts). No traffic leaves 127.0.0.1.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NativeConnection, Worker } from '@temporalio/worker';
import pino from 'pino';
import { createWebhookActivities, signBody } from '../activities/webhooks';
import { config } from '../lib/config';
import { Webhook } from '../models/webhook';
import { WORKFLOWS_PATH } from '../services/dialer-worker';
import { MemberEnd } from '../models';
import { Delivery } from '../models/webhook';
import { dialerBody, requireEnv, startApi, type ApiHarness, type Cred } from './api-support';
import { startReceiver, type Receiver } from './support/receiver';
import { waitFor } from './support/env';

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
let receiver: Receiver;
let receiverUrl: string;

const ALLOW_LOCAL = '127.0.0.1/32';

before(async () => {
  config.webhooks.allowHosts = ALLOW_LOCAL;
  h = await startApi('api_webhooks_test', { webhookDispatcher: { pollMs: 200, retry: { initialIntervalMs: 300, maximumIntervalMs: 1000 } } });
  acme = await h.credential('acme');
  other = await h.credential('other');
  receiver = await startReceiver((req, body) => {
    const status = failFirst-- > 0 ? 503 : 200;
    received.push({ body, headers: req.headers, status });
    return status;
  });
  receiverUrl = `${receiver.url}/hook`;
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

  const ok = await waitFor('a delivered event', async () => received.find((r) => r.status === 200), 30_000);
  const stored = (await MemberEnd.findOne({ member: m }).lean()) as any;
  assert.deepEqual(JSON.parse(ok.body), stored.event);
  assert.equal(ok.headers['x-dialer-signature'], signBody(secret, ok.body));
  assert.equal(ok.headers['x-dialer-event-id'], stored._id);
  assert.equal(ok.headers['x-tenant'], 'acme');
  assert.equal(received.filter((r) => r.status === 503).length, 2, 'the first two attempts failed and were retried');
  const delivery = await waitFor('the delivery record', async () => Delivery.findOne({ event: stored._id, status: 'delivered' }).lean(), 30_000);
  assert.equal(delivery.attempts, 3);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(received.filter((r) => r.status === 200).length, 1, 'delivered once');
  assert.ok(!received.some((r) => r.body.includes('"endCause":"X"')), 'another domain\'s event was not delivered');
  const g = await h.req('GET', `/api/v2/hooks/${hook.body.data._id}`, { cred: acme });
  assert.deepEqual(g.body.data.deliveries, { delivered: 1 });
});

/** Runs `fn` with WEBHOOK_ALLOW_HOSTS set to `spec`. */
async function withAllowList<T>(spec: string, fn: () => Promise<T>): Promise<T> {
  const before_ = config.webhooks.allowHosts;
  config.webhooks.allowHosts = spec;
  try {
    return await fn();
  } finally {
    config.webhooks.allowHosts = before_;
  }
}

test('loopback, private, link-local, metadata and local-name URLs are refused at creation unless allow-listed', async () => {
  const refused = [
    'http://127.0.0.1:8080/x', 'http://127.1/', 'http://2130706433/', 'http://0x7f000001/', 'http://0177.0.0.1/', 'http://0/',
    'http://[::1]/', 'http://[::ffff:127.0.0.1]/', 'http://[::ffff:a9fe:a9fe]/', 'http://[64:ff9b::a00:1]/', 'http://[::]/',
    'http://10.0.0.5/', 'http://172.16.3.4/', 'http://192.168.0.10/', 'http://100.64.1.1/', 'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/', 'http://[fe80::1]/', 'http://224.0.0.251/', 'http://255.255.255.255/',
    'http://metadata.google.internal/computeMetadata/v1/', 'http://localhost:3000/', 'http://api.localhost/', 'http://intranet/',
  ];
  await withAllowList('', async () => {
    for (const url of refused) {
      const r = await h.req('POST', '/api/v2/hooks', { cred: acme, body: { url } });
      assert.equal(r.status, 400, `${url} → ${r.status}`);
      assert.match(r.body.info, /^url: /, url);
    }
    assert.equal((await Webhook.countDocuments({ domain: 'acme', url: { $in: refused } })), 0);
  });
  // The operator's allow-list admits exactly what it names.
  await withAllowList('127.0.0.1/32, hooks.internal', async () => {
    assert.equal((await h.req('POST', '/api/v2/hooks', { cred: acme, body: { url: 'http://127.0.0.1:9/allowed' } })).status, 200);
    assert.equal((await h.req('POST', '/api/v2/hooks', { cred: acme, body: { url: 'http://hooks.internal/x' } })).status, 200);
    assert.equal((await h.req('POST', '/api/v2/hooks', { cred: acme, body: { url: 'http://127.0.0.2:9/not' } })).status, 400);
  });
  await Webhook.deleteMany({ domain: 'acme' });
});

test('header names and values are checked at creation: CRLF, control characters, hop-by-hop and framing headers refused', async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'X-A': 'ok\r\nX-Injected: 1' }, /^headers\.X-A: must be printable ASCII/],
    [{ 'X-A': 'a\nb' }, /^headers\.X-A: /],
    [{ 'X-A': 'nul\0' }, /^headers\.X-A: /],
    [{ 'X A': 'v' }, /^headers\.X A: must be an HTTP header name/],
    [{ 'X-A\r\nB': 'v' }, /^headers\.X-A/],
    [{ Host: 'evil.example' }, /^headers\.Host: is set by the dialer/],
    [{ 'Content-Length': '0' }, /^headers\.Content-Length: /],
    [{ 'Transfer-Encoding': 'chunked' }, /^headers\.Transfer-Encoding: /],
    [{ Connection: 'close' }, /^headers\.Connection: /],
    [{ 'X-Dialer-Signature': 'forged' }, /^headers\.X-Dialer-Signature: /],
  ];
  for (const [headers, re] of cases) {
    const r = await h.req('POST', '/api/v2/hooks', { cred: acme, body: { url: receiverUrl, headers } });
    assert.equal(r.status, 400, JSON.stringify(headers));
    assert.match(r.body.info, re);
  }
  assert.equal(await Webhook.countDocuments({ domain: 'acme' }), 0);
});

test('at most WEBHOOK_MAX_PER_DOMAIN hooks per domain', async () => {
  const cred = await h.credential('many');
  for (let i = 0; i < config.webhooks.maxPerDomain; i++) {
    assert.equal((await h.req('POST', '/api/v2/hooks', { cred, body: { url: `${receiverUrl}?n=${i}`, enabled: false } })).status, 200);
  }
  const r = await h.req('POST', '/api/v2/hooks', { cred, body: { url: receiverUrl } });
  assert.equal(r.status, 400);
  assert.match(r.body.info, /^url: at most 20 webhooks per domain/);
});

/** A hook and a member-end event of `domain`, stored directly (the delivery activity is called without Temporal). */
async function hookAndEvent(domain: string, url: string): Promise<{ eventId: string; hookId: string }> {
  const hook = await Webhook.create({ domain, url, secret: 's' });
  // Marked queued (a field outside the schema, so written raw): the running dispatcher leaves it alone.
  const eventId = `ev-${domain}-${Date.now()}-${Math.random()}`;
  await MemberEnd.collection.insertOne({ _id: eventId as never, domain, dialer: 'd', member: 'm', event: { endCause: 'X' }, createdOn: Date.now(), webhookQueued: true });
  return { eventId, hookId: String(hook._id) };
}

test('delivery resolves the name, refuses it when it points to a refused address (DNS rebinding), connects only to the checked address', async () => {
  const { port } = receiver;
  const resolved: Record<string, string[]> = {
    'rebind.example': ['127.0.0.1'],
    // One address allowed (127.0.0.2, see below) and one refused: refused. (Only loopback
    // addresses are ever allowed here, so a bug could not send traffic off this machine.)
    'mixed.example': ['127.0.0.2', '10.0.0.1'],
    'meta.example': ['169.254.169.254'],
    'hooks.example': ['127.0.0.1'],
  };
  const acts = createWebhookActivities({
    log: pino({ level: 'silent' }),
    timeoutMs: 2000,
    resolve: async (host) => (resolved[host] ?? []).map((address) => ({ address, family: 4 })),
  });
  const before_ = received.length;
  await withAllowList('127.0.0.2/32', async () => {
    for (const host of ['rebind.example', 'mixed.example', 'meta.example']) {
      // The name passes the creation check: only resolving it shows where it goes.
      const { eventId, hookId } = await hookAndEvent('rebind', `http://${host}:${port}/hook`);
      await assert.rejects(acts.postWebhook({ eventId, hookId }), (err: Error) => /resolves to .*(127\.0\.0\.1|10\.0\.0\.1|169\.254\.169\.254)/.test(err.message), host);
      const d = await Delivery.findById(`${eventId}|${hookId}`).lean();
      assert.equal(d?.status, 'refused', host);
    }
    // A stored URL that is no longer allowed (the allow-list changed) is refused before any lookup.
    const { eventId, hookId } = await hookAndEvent('rebind', `http://127.0.0.1:${port}/hook`);
    await assert.rejects(acts.postWebhook({ eventId, hookId }), /127\.0\.0\.1 is a loopback/);
  });
  assert.equal(received.length, before_, 'nothing reached the local receiver');
  // Allow-listed: the name that exists only in the stub resolver is delivered to the checked address.
  await withAllowList(ALLOW_LOCAL, async () => {
    failFirst = 0;
    const { eventId, hookId } = await hookAndEvent('rebind', `http://hooks.example:${port}/hook`);
    assert.equal(await acts.postWebhook({ eventId, hookId }), 'delivered');
    assert.equal(received.at(-1)?.headers.host, `hooks.example:${port}`);
  });
});

test('a redirect is not followed; deliveries of one domain run at most WEBHOOK_CONCURRENCY_PER_DOMAIN at a time', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const hits: string[] = [];
  const slow = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url === '/redirect') return void res.writeHead(302, { Location: 'http://169.254.169.254/' }).end();
    const mine = req.url!.startsWith('/h'); // the 6 deliveries of domain "conc"
    if (mine) maxInFlight = Math.max(maxInFlight, ++inFlight);
    setTimeout(() => {
      if (mine) inFlight--;
      res.writeHead(200).end();
    }, 150);
  });
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
  try {
    const acts = createWebhookActivities({ log: pino({ level: 'silent' }), timeoutMs: 2000, concurrencyPerDomain: 2 });
    const r = await hookAndEvent('conc', `${base}/redirect`);
    await assert.rejects(acts.postWebhook(r), /HTTP 302: redirects are not followed/);
    assert.deepEqual(hits, ['/redirect']);
    const jobs = await Promise.all(Array.from({ length: 6 }, (_, i) => hookAndEvent('conc', `${base}/h${i}`)));
    const other = await hookAndEvent('conc-other', `${base}/other`);
    const results = await Promise.all([...jobs, other].map((j) => acts.postWebhook(j)));
    assert.deepEqual(results, Array(7).fill('delivered'));
    assert.equal(maxInFlight, 2, 'two deliveries of one domain in flight at most (and they did run in parallel)');
  } finally {
    slow.close();
  }
});
