// Metrics and logs after real calls through the stack: the REST API (createApp) and a dialer worker
// (createDialerWorker, with the Temporal SDK's Prometheus exporter installed as worker.ts does)
// dial two members of a campaign into the FreeSWITCH simulator — one answered, one busy; then
// both /metrics pages are scraped and the worker's JSON log lines of the calls are read.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Attempt, Campaign, MemberEnd } from '../models';
import { createLogger } from '../lib/logger';
import { TEMPORAL_METRICS, serveMetrics, type MetricsServer } from '../lib/metrics';
import { installTemporalMetrics } from '../services/dialer-worker';
import { startApi, type ApiHarness, type Cred } from './api-support';
import { startDevDialer, type DevDialer } from './support/dev-dialer';
import { waitFor } from './support/env';

let api: ApiHarness;
let apiMetrics: MetricsServer;
let dev: DevDialer;
let cred: Cred;
const logLines: Record<string, unknown>[] = [];

before(async () => {
  // First, before any Temporal native connection exists in this process (as in worker.ts).
  const temporalSdk = await installTemporalMetrics();
  api = await startApi('metrics');
  apiMetrics = await serveMetrics({ host: '127.0.0.1', port: 0 });
  process.env.LOG_LEVEL = 'debug';
  const log = createLogger('worker', { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
  dev = await startDevDialer({
    taskQueue: api.taskQueue,
    simulator: { rules: { default: { type: 'answer', ringSec: 0.2, talkSec: 1 }, rules: [{ prefix: '0999', outcome: { type: 'busy' } }] } },
    worker: { log, metrics: { host: '127.0.0.1', port: 0, temporalSdk } },
  });
  cred = await api.credential('metrics.local');
});

after(async () => {
  await dev?.stop();
  await apiMetrics?.close();
  await api?.close();
});

function logDir(): string {
  const dir = path.join(process.env.DIALER_DATA_DIR ?? '/tmp', 'logs');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Prometheus text → { 'name{labels}': value } (labels as printed). */
async function scrape(url: string): Promise<{ text: string; value(name: string, labels?: Record<string, string>): number | undefined }> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  const text = await res.text();
  fs.writeFileSync(path.join(logDir(), `metrics-test-${new URL(url).port}.prom`), text);
  const value = (name: string, labels: Record<string, string> = {}) => {
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][\w:]*)(\{.*\})? (\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const have = m[2] ?? '';
      if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) return Number(m[3]);
    }
    return undefined;
  };
  return { text, value };
}

let campaignId = '';
let answeredMember = '';

test('a campaign runs two calls through the API and the worker', { timeout: 90_000 }, async () => {
  const campaign = await Campaign.create({
    domain: 'metrics.local',
    name: 'Metrics',
    type: 'Voice Broadcasting',
    parameters: { limit: 5, maxTryCount: 1, intervalTryCount: 600, originateTimeout: 10 },
    resources: [{ dialedNumber: '^(\\d+)$', destinations: [{ gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit: 5, callerIdNumber: '15550001' }] }],
  });
  campaignId = String(campaign._id);
  for (const number of ['3434534534531', '0999988881']) {
    const res = await api.req('POST', `/api/v2/dialer/${campaignId}/members?autoRun=true`, { cred, body: { name: number, communications: [{ number }] } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    if (number.startsWith('34')) answeredMember = String(res.body.data.insertedIds[0]);
  }
  // The member-end events are recorded last by the endAttempt activity.
  await waitFor('both members ended', async () => (await MemberEnd.countDocuments({ dialer: campaignId })) === 2, 60_000);
  const res = await api.req('GET', `/api/v2/dialer/${campaignId}`, { cred });
  assert.equal(res.status, 200);
  const list = await api.req('GET', `/api/v2/dialer/${campaignId}/members`, { cred });
  assert.equal(list.status, 200);
  await dev.dialer.reconciler!.runOnce('test');
});

test("the worker's /metrics counts the calls by cause, the ESL state, Mongo commands, reconciliation and Temporal's own metrics", async () => {
  const m = await scrape(dev.dialer.metrics!.url);
  const c = { campaign_id: campaignId };
  assert.equal(m.value('dialer_originations_total', c), 2);
  assert.equal(m.value('dialer_call_results_total', { ...c, cause: 'NORMAL_CLEARING' }), 1);
  assert.equal(m.value('dialer_call_results_total', { ...c, cause: 'USER_BUSY' }), 1);
  assert.equal(m.value('dialer_calls_answered_total', c), 1);
  assert.equal(m.value('dialer_calls_bridged_total', c), 1, 'parked broadcast: bridged = answered');
  assert.equal(m.value('dialer_calls_abandoned_total', c), 0);
  assert.equal(m.value('dialer_active_calls', c), 0);
  assert.equal(m.value('dialer_esl_connected'), 1);
  assert.equal(m.value('dialer_reconcile_passes_total', { result: 'ok' }), 2, 'the pass on connecting, and the test\'s');
  assert.ok(m.value('dialer_reconcile_attempts_total', { outcome: 'lost' }) !== undefined);
  assert.ok((m.value('dialer_mongo_command_duration_seconds_count', { command: 'update', pool: 'main', outcome: 'ok' }) ?? 0) > 0);
  assert.ok((m.value('dialer_mongo_command_duration_seconds_count', { command: 'find', pool: 'main', outcome: 'ok' }) ?? 0) > 0);
  // The Temporal SDK's worker metrics, appended from Core's exporter; the dashboard's among them.
  for (const name of TEMPORAL_METRICS) assert.match(m.text, new RegExp(`^${name}[{ _]`, 'm'), `${name} in the worker's /metrics`);
  assert.doesNotMatch(m.text, new RegExp(answeredMember), 'no member id in any label');
});

test("the API's /metrics has request latency by route pattern, not by raw path", async () => {
  const m = await scrape(apiMetrics.url);
  assert.ok((m.value('dialer_http_request_duration_seconds_count', { method: 'POST', route: '/api/v2/dialer/:dialer/members', status: '200' }) ?? 0) >= 2);
  assert.equal(m.value('dialer_http_request_duration_seconds_count', { method: 'GET', route: '/api/v2/dialer/:id', status: '200' }), 1);
  assert.doesNotMatch(m.text.split('\n').filter((l) => l.startsWith('dialer_http')).join('\n'), new RegExp(campaignId), 'no campaign id in a route label');
  assert.ok((m.value('dialer_mongo_command_duration_seconds_count', { pool: 'main' }) ?? 0) > 0);
  assert.ok((m.value('dialer_mongo_command_duration_seconds_count', { pool: 'reads' }) ?? 0) > 0, 'the list queries\' own pool');
  // Only /metrics is served there.
  assert.equal((await fetch(apiMetrics.url.replace('/metrics', '/health'))).status, 404);
});

test('every JSON log line of a call carries campaignId, memberId, attempt and callUuid', async () => {
  fs.writeFileSync(path.join(logDir(), 'metrics-test-worker.log'), logLines.map((l) => JSON.stringify(l)).join('\n'));
  // A line of a call: one that mentions the call's uuid anywhere.
  const uuids = (await Attempt.find({ dialer: campaignId }, { _id: 1 }).lean<{ _id: string }[]>()).map((a) => String(a._id));
  assert.equal(uuids.length, 2);
  const ofCalls = logLines.filter((l) => uuids.some((u) => JSON.stringify(l).includes(u)));
  assert.ok(ofCalls.length >= 4, `the calls' result and member-end lines at least (${ofCalls.length})`);
  const result = logLines.find((l) => l.msg === 'call result' && l.memberId === answeredMember);
  assert.ok(result, `a "call result" line of member ${answeredMember}`);
  for (const l of ofCalls) {
    assert.equal(l.campaignId, campaignId, JSON.stringify(l));
    assert.equal(typeof l.memberId, 'string', JSON.stringify(l));
    assert.equal(l.attempt, 1, JSON.stringify(l));
    assert.match(String(l.callUuid), /^[0-9a-f-]{36}$/, JSON.stringify(l));
  }
  const ended = logLines.find((l) => l.msg === 'engine::dialer_member_end' && l.memberId === answeredMember);
  assert.ok(ended, 'the member end line, written inside the endAttempt activity');
  assert.equal(ended.callUuid, result.callUuid);
});
