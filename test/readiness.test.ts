// lib/readiness.ts: what `npm start` still waits for before it says "running" — the worker's status
// file (of the worker process now running, connected to Temporal and ESL) and the API's /health.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { notReady, readWorkerStatus, writeWorkerStatus, type StackState } from '../lib/readiness';

const base = (over: Partial<StackState> = {}): StackState => ({
  workerPid: 42,
  worker: { pid: 42, temporal: true, esl: true, at: '2026-01-01T00:00:00Z' },
  eslAddress: '127.0.0.1:8021',
  apiUrl: 'http://127.0.0.1:10022',
  apiHealth: { status: 200, body: { data: { mongo: true, temporal: true } } },
  ...over,
});

test('ready: worker connected to Temporal and ESL, API /health 200', () => {
  assert.deepEqual(notReady(base()), []);
});

test('a worker that has not reported, or a status file of an earlier worker process, is not ready', () => {
  assert.match(notReady(base({ worker: undefined })).join(), /worker to bundle its workflows and connect to Temporal/);
  const stale = base({ workerPid: 43 });
  assert.equal(notReady(stale).length, 1);
  assert.match(notReady(stale)[0], /connect to Temporal/);
});

test('a worker without ESL names the ESL address', () => {
  const s = base();
  s.worker!.esl = false;
  assert.deepEqual(notReady(s), ['the worker to connect to FreeSWITCH ESL at 127.0.0.1:8021']);
});

test('an API that does not answer, or answers 503, is not ready and says why', () => {
  assert.deepEqual(notReady(base({ apiHealth: { error: 'connect ECONNREFUSED 127.0.0.1:10022' } })),
    ['the API to answer http://127.0.0.1:10022/health (connect ECONNREFUSED 127.0.0.1:10022)']);
  assert.deepEqual(notReady(base({ apiHealth: { status: 503, body: { data: { mongo: true, temporal: false } } } })),
    ["the API's /health to be OK (HTTP 503, not connected: temporal)"]);
});

test('the status file round-trips and carries the writing process id', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'readiness-')), 'worker-status.json');
  assert.equal(readWorkerStatus(file), undefined);
  writeWorkerStatus(file, { temporal: true, esl: false });
  const s = readWorkerStatus(file)!;
  assert.equal(s.pid, process.pid);
  assert.deepEqual(notReady(base({ workerPid: process.pid, worker: s })), ['the worker to connect to FreeSWITCH ESL at 127.0.0.1:8021']);
  writeWorkerStatus(file, { temporal: true, esl: true });
  assert.deepEqual(notReady(base({ workerPid: process.pid, worker: readWorkerStatus(file) })), []);
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ['worker-status.json'], 'no temporary file left');
});
