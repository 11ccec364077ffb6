// Workflow histories as files, and replaying them against workflow code: the replay corpus of the
// test suite (test/replay/) and the operators' pre-deploy check (scripts/replay.ts) use these.
import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

/** Histories are stored with protobufjs' own toObject/fromObject (longs and enums as strings,
 *  bytes base64): @temporalio/common's historyToJSON trips over two protobufjs copies in node_modules. */
export function historyToFile(history: unknown): string {
  const H = temporal.api.history.v1.History;
  return JSON.stringify(H.toObject(H.fromObject(history as object), { longs: String, enums: String, bytes: String }), null, 1);
}
export function historyFromFile(text: string): temporal.api.history.v1.History {
  return temporal.api.history.v1.History.fromObject(JSON.parse(text));
}

/** Saves one history in the corpus layout: `<name>.json` and `<name>.meta.json` (its workflow id). */
export function saveHistory(dir: string, name: string, workflowId: string, history: unknown): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.json`), historyToFile(history));
  const meta = { workflowId, recordedAt: new Date().toISOString(), sdk: sdkVersion() };
  fs.writeFileSync(path.join(dir, `${name}.meta.json`), JSON.stringify(meta, null, 2) + '\n');
}

function sdkVersion(): string {
  return (JSON.parse(fs.readFileSync(require.resolve('@temporalio/worker/package.json'), 'utf8')) as { version: string }).version;
}

/** A file name for a workflow id (ids contain `:` and other characters some file systems refuse). */
export function historyFileName(workflowId: string): string {
  return workflowId.replace(/[^A-Za-z0-9._-]/g, '_');
}

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never;

/** Modules the workflow sandbox evaluates once per worker thread instead of once per workflow
 *  (the SDK's `bundlerOptions.preloadModules`; they are shared, and frozen, across workflows): the
 *  Webitel rules, pure functions and constants with no state of a workflow's (and luxon under them).
 *  Each member workflow otherwise re-ran their module code, ~1 ms of the worker per member. */
export const PRELOADED_WORKFLOW_MODULES = [path.join(__dirname, '..', 'rules', 'index.ts')];

export function bundleWorkflows(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath, logger: quiet, preloadModules: PRELOADED_WORKFLOW_MODULES });
}

export interface ReplayOutcome {
  workflowId: string;
  /** null: replayed without error; else the first non-determinism or failure. */
  error: string | null;
}

/** Replays each history against the bundle, in order, reporting each as it is done. */
export async function* replayAll(
  bundle: WorkflowBundleWithSourceMap,
  histories: AsyncIterable<{ workflowId: string; history: unknown }> | Iterable<{ workflowId: string; history: unknown }>,
): AsyncGenerator<ReplayOutcome> {
  async function* typed() {
    for await (const h of histories) yield { workflowId: h.workflowId, history: h.history as never };
  }
  for await (const r of Worker.runReplayHistories({ workflowBundle: bundle, replayName: 'replay' }, typed())) {
    yield { workflowId: r.workflowId, error: r.error ? `${r.error.name}: ${r.error.message}` : null };
  }
}
