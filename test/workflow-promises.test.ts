// Promises created by workflow code, counted by replaying recorded histories. The SDK's promise
// hook (@temporalio/worker vm-shared.js) builds a source-mapped stack trace for every promise a
// workflow creates, for the `__stack_trace` query, and cannot be turned off (SDK 1.24): the hook
// was a quarter of the workflow thread's time in the benchmark, so promises per attempt are a cost
// like Mongo commands per attempt. The bounds include the SDK's own promises (activations, signals,
// activities) and may need a new figure after an SDK upgrade. No server needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { historyFromFile, replayAll } from '../lib/histories';
import { workflowBundle } from './support/env';

/** Replays one history of test/replay and counts the promises created in workflow context (the
 *  replay worker runs workflows on this thread: debug mode). */
async function promisesOf(name: string): Promise<number> {
  const root = path.join(__dirname, 'replay');
  const meta = JSON.parse(fs.readFileSync(path.join(root, `${name}.meta.json`), 'utf8')) as { workflowId: string };
  const history = historyFromFile(fs.readFileSync(path.join(root, `${name}.json`), 'utf8'));
  const bundle = await workflowBundle();
  let count = 0;
  const stop = v8.promiseHooks.onInit((promise: Promise<unknown>) => {
    // The same test as the SDK's hook: a promise of a workflow's realm sees its activator.
    const realmFunction = (promise.constructor as unknown as { constructor: FunctionConstructor }).constructor;
    if (realmFunction('return globalThis.__TEMPORAL_ACTIVATOR__')()) count++;
  });
  try {
    for await (const r of replayAll(bundle, [{ workflowId: meta.workflowId, history }])) assert.equal(r.error, null, `${name} replays`);
  } finally {
    stop();
  }
  return count;
}

test('a one-attempt member (busy, last number) creates at most 60 promises in workflow code', async () => {
  // 68 before: async steps that had nothing to do (no pending edit, handlers already finished).
  const n = await promisesOf('member/error-last-number');
  assert.ok(n <= 60, `${n} promises`);
});

test('a campaign keeps one re-check timer across the rounds its members wake', async () => {
  // Ten members on two lines, each release a round: before, every round's pause started a timer
  // and cancelled it (a condition with a timeout: ~15 promises); 454 promises in 23 workflow tasks.
  const name = 'campaign/limit-random-outcomes';
  const history = JSON.parse(fs.readFileSync(path.join(__dirname, 'replay', `${name}.json`), 'utf8')) as { events: { eventType: string }[] };
  const timers = history.events.filter((e) => e.eventType === 'EVENT_TYPE_TIMER_STARTED').length;
  const tasks = history.events.filter((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED').length;
  assert.ok(timers <= 1, `${timers} timers started`);
  const n = await promisesOf(name);
  assert.ok(n / tasks <= 17, `${n} promises in ${tasks} workflow tasks`);
});
