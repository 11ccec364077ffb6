// What keeps one client from stalling the API or getting a 500 out of it (issue 11 §5): odd field
// names in sort/columns/filters/pipelines are 400s naming the parameter (they were 500s found by
// fuzzing); a query over its time budget is a 422 that says to narrow it; per-credential rate
// limits answer 429 with Retry-After; a bad credential is refused before any of a large body is
// read; slow clients (headers or body dripped) are cut off by the server's deadlines; an Update that
// races the member's natural end maps to "not found", not a 500. Traffic stays on 127.0.0.1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import pino from 'pino';
import mongoose from 'mongoose';
import { ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { createApp } from '../api/app';
import type { ApiDeps } from '../api/deps';
import { createApiServer, TokenBuckets } from '../api/limits';
import { runUpdate } from '../services/workflows';
import { memberDocument } from '../api/member-docs';
import { apiRequest } from '../scripts/api-request';
import { dialerBody, startApi, type ApiHarness, type Cred } from './api-support';

let h: ApiHarness;
let acme: Cred;
let dialer: string;
const servers: Server[] = [];

before(async () => {
  h = await startApi('api_limits_test');
  acme = await h.credential('acme');
  dialer = (await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody() })).body.data.insertedIds[0];
  await h.req('POST', `/api/v2/dialer/${dialer}/members`, { cred: acme, body: { name: 'm', variables: { crm: 1 }, communications: [{ number: '111' }] } });
});

after(async () => {
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  await h?.close();
});

/** Another app on the same database and Temporal client, with its own settings. */
async function otherApp(deps: Partial<ApiDeps>, limits = { requestTimeoutMs: 0, headersTimeoutMs: 60_000, keepAliveTimeoutMs: 5_000 }): Promise<string> {
  const app = createApp({ client: h.client, log: pino({ level: 'silent' }), taskQueue: h.taskQueue, ...deps });
  const server = createApiServer(app, limits);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const q = (o: unknown) => encodeURIComponent(JSON.stringify(o));

describe('odd field names are 400s naming the parameter, never 500s', () => {
  const names = [' ', 'a ', ' a', '\t', '\u00a0', 'a\nb', 'variables. ', 'variables.\u2003x', 'x$', 'a$b', 'a\u0001'];

  test('sort, columns and filter', async (t) => {
    const M = `/api/v2/dialer/${dialer}/members`;
    const wrong: string[] = [];
    let n = 0;
    for (const f of names) {
      for (const [param, path] of [
        ['sort', `${M}?sort=${q({ [f]: 1 })}`],
        ['columns', `${M}?columns=${q({ [f]: 1 })}`],
        ['columns', `${M}?columns=${encodeURIComponent(`name,a${f}b`)}`], // the list form trims around commas only
        ['filter', `${M}?filter=${q({ [f]: 1 })}`],
        ['filter', `${M}/count?filter=${q({ [f]: { $exists: true } })}`],
        ['sort', `/api/v2/dialer?sort=${q({ [f]: -1 })}`],
        ['columns', `/api/v2/dialer/${dialer}/history?columns=${q({ [f]: 0 })}`],
      ] as const) {
        const r = await h.req('GET', path, { cred: acme });
        n++;
        if (r.status !== 400 || !String(r.body.info).startsWith(param)) wrong.push(`${param} ${JSON.stringify(f)} → ${r.status} ${r.body.info}`);
      }
    }
    t.diagnostic(`${n} requests, ${wrong.filter((w) => / → 5\d\d /.test(w)).length} answered 5xx`);
    assert.deepEqual(wrong, []);
  });

  test('aggregate stages', async (t) => {
    const wrong: string[] = [];
    let n = 0;
    for (const f of names) {
      for (const stage of [
        { $sort: { [f]: 1 } },
        { $project: { [f]: 1 } },
        { $project: { out: `$${f}` } },
        { $group: { _id: `$${f}`, n: { $sum: 1 } } },
        { $group: { _id: null, [f]: { $sum: 1 } } },
        { $unwind: `$${f}` },
        { $count: f },
        { $match: { [f]: 1 } },
      ]) {
        const r = await h.req('POST', `/api/v2/dialer/${dialer}/members/aggregate`, { cred: acme, body: [stage] });
        n++;
        if (r.status !== 400 || !/^body\[0\]\.\$/.test(r.body.info)) wrong.push(`${JSON.stringify(stage)} → ${r.status} ${r.body.info}`);
      }
    }
    t.diagnostic(`${n} requests, ${wrong.filter((w) => / → 5\d\d /.test(w)).length} answered 5xx`);
    assert.deepEqual(wrong, []);
    // Ordinary names still work.
    const ok = await h.req('POST', `/api/v2/dialer/${dialer}/members/aggregate`, { cred: acme, body: [{ $group: { _id: '$variables.crm', n: { $sum: 1 } } }] });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body.data, [{ _id: 1, n: 1 }]);
  });
});

test('a query over its time budget is a 422 that says what to narrow; a domain\'s share of such queries is bounded', async () => {
  // A few thousand members, so the scan of a filtered, sorted list outlasts a 1 ms budget.
  const docs = Array.from({ length: 3000 }, (_, i) => memberDocument({ name: `n${i}`, communications: [{ number: String(1000 + i) }] }, dialer, 'acme'));
  await mongoose.connection.collection('members').insertMany(docs);
  const base = await otherApp({ queryTimeoutMs: 1 });
  const M = `/api/v2/dialer/${dialer}/members`;
  for (const [method, path, body] of [
    ['GET', `${M}?filter=${q({ name: { $regex: '9$' } })}&sort=${q({ name: -1 })}`, undefined],
    ['GET', `${M}/count?filter=${q({ name: { $regex: '9$' } })}`, undefined],
    ['POST', `${M}/aggregate`, [{ $match: { name: { $regex: '9$' } } }, { $group: { _id: '$name', n: { $sum: 1 } } }]],
  ] as const) {
    const r = await apiRequest(base, method, path, { cred: acme, body });
    assert.equal(r.status, 422, `${method} ${path}: ${JSON.stringify(r.body)}`);
    assert.match((r.body as { info: string }).info, /time budget of 1 ms: narrow the filter/);
  }
  // The default budget answers the same requests.
  assert.equal((await h.req('GET', `${M}/count?filter=${q({ name: { $regex: '9$' } })}`, { cred: acme })).body.data, 300);

  // One domain has at most 2 such queries running (429 beyond); another domain is not held up by them.
  const base2 = await otherApp({ reads: { perDomain: 2 } });
  const beta = await h.credential('beta');
  const dBeta = (await h.req('POST', '/api/v2/dialer', { cred: beta, body: dialerBody() })).body.data.insertedIds[0];
  const [burst, otherDomain] = await Promise.all([
    Promise.all(Array.from({ length: 6 }, () => apiRequest(base2, 'GET', `${M}/count?filter=${q({ name: { $regex: '9$' } })}`, { cred: acme }))),
    apiRequest(base2, 'GET', `/api/v2/dialer/${dBeta}/members/count`, { cred: beta }),
  ]);
  const codes = burst.map((r) => r.status).sort();
  assert.ok(codes.filter((c) => c === 200).length >= 2 && codes.includes(429), `codes ${codes}`);
  const limited = burst.find((r) => r.status === 429)!;
  assert.equal(limited.headers.get('retry-after'), '1');
  assert.match((limited.body as { info: string }).info, /^at most 2 list, count or aggregate queries of one domain/);
  assert.equal(otherDomain.status, 200);
  await mongoose.connection.collection('members').deleteMany({ _id: { $in: docs.map((d) => d._id as never) } });
});

test('rate limit per credential: 429 with Retry-After once the bucket is empty; other credentials unaffected', async () => {
  const base = await otherApp({ rateLimit: { perSecond: 1, burst: 3 } });
  const other = await h.credential('acme');
  const codes: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 5; i++) {
    const r = await apiRequest(base, 'GET', '/api/v2/dialer', { cred: acme });
    codes.push(r.status);
    if (r.status === 429) {
      retryAfter = r.headers.get('retry-after');
      assert.match((r.body as { info: string }).info, /^rate limit: at most 1 requests\/s/);
    }
  }
  assert.deepEqual(codes.slice(0, 3), [200, 200, 200]);
  assert.equal(codes[4], 429);
  assert.ok(Number(retryAfter) >= 1, `Retry-After: ${retryAfter}`);
  assert.equal((await apiRequest(base, 'GET', '/api/v2/dialer', { cred: other })).status, 200);
  // The bucket refills at the configured rate.
  let t = 0;
  const b = new TokenBuckets({ perSecond: 2, burst: 2 }, () => t);
  assert.deepEqual([b.take('k'), b.take('k'), b.take('k')], [0, 0, 1]);
  t = 500;
  assert.equal(b.take('k'), 0);
});

/** Raw HTTP/1.1 on a socket: sends the head, then body chunks until the server answers or closes. */
function pushBody(base: string, head: string, total: number, chunked = false): Promise<{ response: string; sentBeforeAnswer: number; closed: boolean }> {
  const { port } = new URL(base);
  return new Promise((resolve) => {
    const s = net.connect(Number(port), '127.0.0.1');
    let sent = 0;
    let sentBeforeAnswer = -1;
    let response = '';
    let closed = false;
    const data = Buffer.alloc(64 * 1024, 'a');
    const chunk = chunked ? Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]) : data;
    const finish = () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ response, sentBeforeAnswer, closed });
    };
    const timer = setTimeout(finish, 10_000);
    const pump = () => {
      while (sent < total && sentBeforeAnswer < 0 && !closed) {
        sent += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      if (sent >= total) setTimeout(finish, 500);
    };
    s.on('data', (d) => {
      if (sentBeforeAnswer < 0) sentBeforeAnswer = sent;
      response += d.toString();
    });
    s.on('close', () => {
      closed = true;
      finish();
    });
    s.on('error', () => undefined);
    s.write(head, pump);
  });
}

test('a bad credential with a 50 MB body is refused before the body is read, and the connection closed', async (t) => {
  const total = 50 * 1024 * 1024;
  const head = (creds: string, length: string) =>
    `POST /api/v2/dialer/${dialer}/members HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${creds}${length}\r\n`;
  for (const [what, creds, length, status] of [
    ['bad header credentials', 'X-Key: nobody\r\nX-Access-Token: nothing\r\n', `Content-Length: ${total}\r\n`, 401],
    ['credentials expected in a 50 MB body', '', `Content-Length: ${total}\r\n`, 401],
    ['credentials expected in a chunked body', '', 'Transfer-Encoding: chunked\r\n', 401],
  ] as const) {
    const r = await pushBody(h.base, head(creds, length), total, length.startsWith('Transfer'));
    assert.match(r.response, new RegExp(`^HTTP/1.1 ${status} `), what);
    assert.match(r.response, /\r\nConnection: close\r\n/i, what);
    assert.ok(r.sentBeforeAnswer >= 0 && r.sentBeforeAnswer < 8 * 1024 * 1024, `${what}: answered after ${r.sentBeforeAnswer} bytes`);
    assert.ok(r.closed, `${what}: the server closed the connection instead of reading the rest`);
    t.diagnostic(`${what}: answered after ${(r.sentBeforeAnswer / 1048576).toFixed(1)} MB of 50 MB sent, connection closed`);
  }
});

test('slow clients are cut off: headers dripped past headersTimeout, a body dripped past requestTimeout', { timeout: 30_000 }, async (t) => {
  const base = await otherApp({}, { requestTimeoutMs: 2000, headersTimeoutMs: 1000, keepAliveTimeoutMs: 500 });
  const { port } = new URL(base);
  const drip = (parts: string[], everyMs: number) =>
    new Promise<{ ms: number; response: string }>((resolve) => {
      const t = Date.now();
      const s = net.connect(Number(port), '127.0.0.1');
      let response = '';
      let i = 0;
      const timer = setInterval(() => {
        if (i < parts.length) s.write(parts[i++]);
      }, everyMs);
      s.on('data', (d) => (response += d.toString()));
      s.on('error', () => undefined);
      s.on('close', () => {
        clearInterval(timer);
        resolve({ ms: Date.now() - t, response });
      });
    });
  // Slowloris: one header line every 300 ms, never finished.
  const headers = await drip(Array.from({ length: 100 }, (_, i) => (i === 0 ? 'GET /health HTTP/1.1\r\n' : `X-${i}: y\r\n`)), 300);
  assert.ok(headers.ms < 5000, `headers: closed after ${headers.ms} ms`);
  assert.match(headers.response, /^HTTP\/1.1 408 /);
  // A body of 1000 bytes sent 1 byte every 100 ms (with valid credentials).
  const head = `POST /api/v2/dialer HTTP/1.1\r\nHost: x\r\nX-Key: ${acme.key}\r\nX-Access-Token: ${acme.secret}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`;
  const body = await drip([head, ...Array(999).fill('{')], 100);
  assert.ok(body.ms < 6000, `body: closed after ${body.ms} ms`);
  t.diagnostic(`headers dripped: ${headers.response.split('\r\n')[0]} and closed after ${headers.ms} ms; body dripped: closed after ${body.ms} ms (${body.response.split('\r\n')[0] || 'no answer'})`);
});

describe('an Update racing the member workflow\'s end is "not found", never a 500', () => {
  const grpc = (code: number, details: string) => Object.assign(new Error(`${code} ${details}`), { code, details });

  test('FAILED_PRECONDITION / ABORTED / NOT_FOUND wrapped by the client, and "completed before the Update"', async () => {
    const cases: Error[] = [
      new ServiceError('Workflow Update failed', { cause: grpc(9, 'FAILED_PRECONDITION: workflow execution already completed') }),
      new ServiceError('Workflow Update failed', { cause: grpc(9, 'FAILED_PRECONDITION: something else') }),
      new ServiceError('Workflow Update failed', { cause: grpc(10, 'ABORTED: Workflow Update was aborted') }),
      new WorkflowNotFoundError('workflow execution already completed', 'wf', undefined),
      new WorkflowUpdateFailedError('Workflow Update failed', new Error('Workflow Update failed because the Workflow completed before the Update completed.')),
    ];
    for (const err of cases) {
      const out = await runUpdate(h.client, 1000, () => Promise.reject(err));
      assert.equal(out.ok, false, err.message);
      assert.equal(!out.ok && out.kind, 'not-found', `${err.message}: ${JSON.stringify(out)}`);
    }
    // A rejection by the workflow's validator stays a rejection.
    const rejected = await runUpdate(h.client, 1000, () => Promise.reject(new WorkflowUpdateFailedError('Workflow Update failed', new Error('Member already has an end cause'))));
    assert.deepEqual(rejected, { ok: false, kind: 'rejected', message: 'Member already has an end cause' });
    // Anything else is not swallowed.
    await assert.rejects(runUpdate(h.client, 1000, () => Promise.reject(new ServiceError('boom', { cause: grpc(13, 'INTERNAL') }))), /boom/);
  });

  test('terminate and status while the workflow ends the member: 405 / 400 with the usual messages', async () => {
    const m = (await h.req('POST', `/api/v2/dialer/${dialer}/members`, { cred: acme, body: { name: 'race', communications: [{ number: '222' }] } })).body.data.insertedIds[0];
    // A client whose Update reaches the workflow just as it ends the member (its last activity has
    // stored the end cause) and completes: the server answers FAILED_PRECONDITION.
    const racing = {
      withDeadline: (_d: number, fn: () => Promise<unknown>) => fn(),
      workflow: {
        getHandle: () => ({
          executeUpdate: async () => {
            await mongoose.connection.collection('members').updateOne({ _id: new mongoose.Types.ObjectId(m) }, { $set: { _endCause: 'MAX_TRY_COUNT' } });
            throw new ServiceError('Workflow Update failed', { cause: grpc(9, 'FAILED_PRECONDITION: workflow execution already completed') });
          },
        }),
      },
    };
    const app = createApp({ client: racing as never, log: pino({ level: 'silent' }), taskQueue: h.taskQueue });
    const server = createApiServer(app, { requestTimeoutMs: 0, headersTimeoutMs: 60_000, keepAliveTimeoutMs: 5_000 });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    servers.push(server);
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const status = await apiRequest(base, 'PUT', `/api/v2/dialer/${dialer}/members/${m}/status`, { cred: acme, body: { success: true } });
    assert.equal(status.status, 400, JSON.stringify(status.body));
    assert.equal((status.body as { info: string }).info, 'Member is not waiting for a result status');
    await mongoose.connection.collection('members').updateOne({ _id: new mongoose.Types.ObjectId(m) }, { $set: { _endCause: null } });
    const term = await apiRequest(base, 'PUT', `/api/v2/dialer/${dialer}/members/${m}/terminate`, { cred: acme });
    assert.equal(term.status, 405, JSON.stringify(term.body));
    assert.equal((term.body as { info: string }).info, 'Member already has an end cause');
    // Nothing was written over the workflow's end.
    const doc = await mongoose.connection.collection('members').findOne({ _id: new mongoose.Types.ObjectId(m) });
    assert.equal(doc?._endCause, 'MAX_TRY_COUNT');
  });
});
