// Import/export templates (spec §9.2) through the API and the real Temporal workflows: the WEB
// request carries v3's headers and the callback path, `end/:pid` closes the job and chains
// `next_process_id` (with the end body as `success_data`), a job survives a worker restart, `cron`
// becomes a Temporal schedule in the calendar's time zone, and a URL outside the allow-list is
// refused (SSRF). The receiver listens on 127.0.0.1 only, admitted by allow-listing 127.0.0.1/32.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { NativeConnection, Worker } from '@temporalio/worker';
import pino from 'pino';
import { createTemplateActivities } from '../activities/templates';
import { config } from '../lib/config';
import { TemplateJob } from '../models/template';
import { templateJobWorkflowId, templateScheduleId } from '../workflows/messages';
import { requireEnv, startApi, type ApiHarness, type Cred } from './api-support';
import { recordHistory, waitFor, workflowBundle } from './support/env';
import { startReceiver, type Receiver } from './support/receiver';

let h: ApiHarness;
let acme: Cred;
let other: Cred;
let nativeConn: NativeConnection;
let worker: Worker | undefined;
let workerRun: Promise<void> | undefined;

interface Received {
  method: string;
  url: string;
  body: string;
  headers: http.IncomingHttpHeaders;
}
const received: Received[] = [];
let receiver: Receiver;
let receiverUrl: string;

async function startWorker(): Promise<void> {
  worker = await Worker.create({
    connection: nativeConn,
    namespace: process.env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: h.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createTemplateActivities({ log: pino({ level: 'silent' }), timeoutMs: 2000, publicUrl: 'http://dialer.test:10022' }),
  });
  workerRun = worker.run();
}
async function stopWorker(): Promise<void> {
  worker?.shutdown();
  await workerRun?.catch(() => undefined);
  worker = undefined;
}

before(async () => {
  config.webhooks.allowHosts = '127.0.0.1/32';
  h = await startApi('api_templates_test');
  acme = await h.credential('acme');
  other = await h.credential('other');
  receiver = await startReceiver((req, body) => {
    received.push({ method: req.method ?? '', url: req.url ?? '', body, headers: req.headers });
    return 202;
  });
  receiverUrl = receiver.url;
  nativeConn = await NativeConnection.connect({ address: requireEnv('TEMPORAL_ADDRESS') });
  await startWorker();
});

after(async () => {
  await stopWorker();
  await nativeConn?.close();
  receiver?.close();
  await h?.close();
});

const web = (over: Record<string, unknown> = {}) => ({
  name: 'export to CRM',
  type: 'WEB',
  action: 'export',
  template: { method: 'POST', url: `${receiverUrl}/export`, headers: { 'X-Tenant': 'acme' }, body: { format: 'csv' } },
  ...over,
});

test('templates: validation names the field, SQL and untrusted targets are refused, other domains get 404', async () => {
  const d = await h.createDialer(acme);
  const post = (body: unknown, cred = acme) => h.req('POST', `/api/v2/dialer/${d}/templates`, { cred, body });
  const cases: [Record<string, unknown>, RegExp][] = [
    [web({ type: 'SQL' }), /^type: SQL jobs/],
    [web({ action: 'sync' }), /^action: must be import or export/],
    [web({ cron: '* * *' }), /^cron: must be a 5-field cron/],
    [web({ cron: 'CRON_TZ=UTC 0 3 * * *' }), /^cron: /],
    [web({ template: { url: `${receiverUrl}/x`, headers: { 'X-Response-Path': '/elsewhere' } } }), /^template\.headers.*is set by the dialer/],
    [web({ next_process_id: '0123456789abcdef01234567' }), /^next_process_id: no other template/],
    [web({ action: 'import', before_delete: true, cron: '0 3 * * *' }), /^before_delete: not with cron/],
  ];
  for (const [body, info] of cases) {
    const r = await post(body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.body.info, info);
  }
  // Without the operator's allow-list, loopback and metadata targets are refused (SSRF).
  config.webhooks.allowHosts = '';
  try {
    for (const url of ['http://127.0.0.1:9/x', 'http://169.254.169.254/latest/meta-data', 'http://localhost/x', 'file:///etc/passwd']) {
      const r = await post(web({ template: { url } }));
      assert.equal(r.status, 400, url);
      assert.match(r.body.info, /^template\.url: /);
    }
  } finally {
    config.webhooks.allowHosts = '127.0.0.1/32';
  }
  const created = await post(web());
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const id = created.body.data.insertedIds[0];
  assert.equal((await h.req('GET', `/api/v2/dialer/${d}/templates/${id}`, { cred: other })).status, 404);
  assert.equal((await h.req('PUT', `/api/v2/dialer/${d}/templates/${id}/execute`, { cred: other })).status, 404);
  assert.equal((await h.req('GET', `/api/v2/dialer/${d}/templates`, { cred: acme })).body.data.length, 1);
  const put = await h.req('PUT', `/api/v2/dialer/${d}/templates/${id}`, { cred: acme, body: { description: 'nightly' } });
  assert.equal(put.status, 200);
  const got = await h.req('GET', `/api/v2/dialer/${d}/templates/${id}`, { cred: acme });
  assert.equal(got.body.data.description, 'nightly');
  assert.equal(got.body.data.template.url, `${receiverUrl}/export`, 'a partial update keeps the other fields');
  assert.equal((await h.req('DELETE', `/api/v2/dialer/${d}/templates/${id}`, { cred: acme })).status, 200);
  assert.equal((await h.req('GET', `/api/v2/dialer/${d}/templates/${id}`, { cred: acme })).status, 404);
});

test('execute sends the request with v3 headers; end closes the job and chains next_process_id with success_data; the job survives a worker restart', { timeout: 120_000 }, async () => {
  const d = await h.createDialer(acme);
  const second = (await h.req('POST', `/api/v2/dialer/${d}/templates`, { cred: acme, body: web({ name: 'import back', action: 'import', template: { url: `${receiverUrl}/import`, body: { mode: 'merge' } } }) })).body.data.insertedIds[0];
  const first = (await h.req('POST', `/api/v2/dialer/${d}/templates`, { cred: acme, body: web({ next_process_id: second }) })).body.data.insertedIds[0];

  const ex = await h.req('PUT', `/api/v2/dialer/${d}/templates/${first}/execute`, { cred: acme });
  assert.equal(ex.status, 200, JSON.stringify(ex.body));
  const pid: string = ex.body.data.pid;
  const req1 = await waitFor('the export request', async () => received.find((r) => r.url === '/export'), 30_000);
  assert.equal(req1.method, 'POST');
  assert.equal(req1.headers['x-action'], 'export');
  assert.equal(req1.headers['x-response-host'], 'http://dialer.test:10022');
  assert.equal(req1.headers['x-response-path'], `/api/v2/dialer/${d}/templates/${first}/end/${pid}`);
  assert.equal(req1.headers['x-dialer-id'], d);
  assert.equal(req1.headers['x-template-id'], first);
  assert.equal(req1.headers['x-tenant'], 'acme');
  assert.deepEqual(JSON.parse(req1.body), { format: 'csv' });
  await waitFor('the job waiting for its end', async () => (await TemplateJob.findById(pid).lean<{ state: string }>())?.state === 'waiting', 30_000);

  // The worker goes away while the receiver works; the job is the workflow's, not the process's.
  await stopWorker();
  await startWorker();

  const endPath = req1.headers['x-response-path'] as string;
  assert.equal((await h.req('PUT', `${endPath}?success=true`, { cred: other })).status, 404, 'another domain cannot close it');
  // Just after a worker restart the job's workflow may answer after the API's Update timeout: the
  // API says 503 "retry later", and a receiver retries (a retry after an end that did land is a 409).
  let end = await h.req('PUT', `${endPath}?success=true&message=exported`, { cred: acme, body: { file: 'members.csv' } });
  let retried = false;
  for (const t0 = Date.now(); end.status === 503 && Date.now() - t0 < 30_000; retried = true) {
    await new Promise((r) => setTimeout(r, 500));
    end = await h.req('PUT', `${endPath}?success=true&message=exported`, { cred: acme, body: { file: 'members.csv' } });
  }
  assert.ok(end.status === 200 || (retried && end.status === 409), `${end.status} ${JSON.stringify(end.body)}`);
  assert.equal((await h.req('PUT', `${endPath}?success=true`, { cred: acme })).status, 409, 'a job ends once');

  const req2 = await waitFor('the chained import request', async () => received.find((r) => r.url === '/import'), 30_000);
  assert.equal(req2.headers['x-action'], 'import');
  assert.deepEqual(JSON.parse(req2.body), { mode: 'merge', success_data: { file: 'members.csv' } });
  const job1 = await waitFor('the first job stored as ended', async () => TemplateJob.findOne({ _id: pid, state: 'success' }).lean<{ next: string; message: string }>(), 30_000);
  assert.equal(job1.message, 'exported');
  assert.match(job1.next, new RegExp(`^${second}-`));
  assert.equal(req2.headers['x-response-path'], `/api/v2/dialer/${d}/templates/${second}/end/${job1.next}`);
  const got = await h.req('GET', `/api/v2/dialer/${d}/templates/${first}`, { cred: acme });
  assert.equal(got.body.data.process.state, 'success');
  await recordHistory(h.client.workflow.getHandle(templateJobWorkflowId(pid)), 'template-job-chained', 'template');

  // A failed end does not chain.
  const fail = await h.req('PUT', `${req2.headers['x-response-path']}?success=false&message=bad%20file`, { cred: acme });
  assert.equal(fail.status, 200);
  const job2 = await waitFor('the second job stored as ended', async () => TemplateJob.findOne({ _id: job1.next, state: 'error' }).lean<{ next: string | null }>(), 30_000);
  assert.equal(job2.next, null);
});

test('cron runs as a Temporal schedule in the calendar time zone; deleting the template deletes it', async () => {
  const d = await h.createDialer(acme, { calendar: { timeZone: 'Europe/Kyiv' } });
  const r = await h.req('POST', `/api/v2/dialer/${d}/templates`, { cred: acme, body: web({ cron: '30 2 * * 1-5' }) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const id = r.body.data.insertedIds[0];
  const desc = await h.client.schedule.getHandle(templateScheduleId(id)).describe();
  assert.equal(desc.spec.timezone, 'Europe/Kyiv');
  assert.equal(desc.action.type, 'startWorkflow');
  const next = desc.info.nextActionTimes[0];
  const kyiv = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Kyiv', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(next);
  assert.equal(kyiv, '02:30', 'the next run is at 02:30 in the calendar zone');
  // Removing the cron removes the schedule.
  assert.equal((await h.req('PUT', `/api/v2/dialer/${d}/templates/${id}`, { cred: acme, body: { cron: null } })).status, 200);
  await assert.rejects(h.client.schedule.getHandle(templateScheduleId(id)).describe());
  await h.req('PUT', `/api/v2/dialer/${d}/templates/${id}`, { cred: acme, body: { cron: '0 4 * * *' } });
  // The schedule follows the dialer's calendar zone.
  assert.equal((await h.req('PUT', `/api/v2/dialer/${d}`, { cred: acme, body: { calendar: { timeZone: 'America/New_York' } } })).status, 200);
  assert.equal((await h.client.schedule.getHandle(templateScheduleId(id)).describe()).spec.timezone, 'America/New_York');
  assert.equal((await h.req('DELETE', `/api/v2/dialer/${d}/templates/${id}`, { cred: acme })).status, 200);
  await assert.rejects(h.client.schedule.getHandle(templateScheduleId(id)).describe());
  // Deleting the dialer deletes its templates and their schedules.
  const again = (await h.req('POST', `/api/v2/dialer/${d}/templates`, { cred: acme, body: web({ cron: '0 5 * * *' }) })).body.data.insertedIds[0];
  assert.equal((await h.req('DELETE', `/api/v2/dialer/${d}`, { cred: acme })).status, 200);
  await assert.rejects(h.client.schedule.getHandle(templateScheduleId(again)).describe());
});
