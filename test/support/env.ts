// Shared helpers for server-backed tests: the environment `npm test` provides, a per-file Mongo
// database, one workflow bundle per process, and campaign/member fixtures.
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { connectMongo } from '../../lib/db';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Attempt, Campaign, Member } from '../../models';
import { enqueueMembers } from '../../models/ready-queue';
import { WORKFLOWS_PATH } from '../../services/dialer-worker';
import { bundleWorkflows, saveHistory } from '../../lib/histories';

export function requireEnv(name: string): string {
  const v = process.env[name];
  assert.ok(v, `${name} is not set: run the tests with \`npm test\` (scripts/test.ts starts the servers)`);
  return v;
}

/** Connects mongoose to a database of this test file's own, emptied first. */
export async function connectTestDb(name: string): Promise<void> {
  const base = new URL(requireEnv('MONGODB_URI'));
  base.pathname = `/${name}`;
  await connectMongo(base.toString());
  await mongoose.connection.db!.dropDatabase();
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflows(WORKFLOWS_PATH);
  return bundle;
}

/** A voice-broadcasting campaign routed to the simulator's gateway `gw1`, open all day. */
export async function createCampaign(overrides: Record<string, unknown> = {}, parameters: Record<string, unknown> = {}) {
  const doc = await Campaign.create({
    domain: 'test.local',
    name: 'Test campaign',
    type: 'Voice Broadcasting',
    parameters: { limit: 10, intervalTryCount: 60, maxTryCount: 3, minBillSec: 0, originateTimeout: 5, ...parameters },
    resources: [
      { dialedNumber: '^(\\d+)$', destinations: [{ gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit: 10, callerIdNumber: '15550000000' }] },
    ],
    ...overrides,
  });
  return doc;
}

/** A member stored as the API stores it: the document, then its ready-queue entry. */
export async function createMember(campaignId: string, numbers: string[], overrides: Record<string, unknown> = {}) {
  const doc = await Member.create({
    dialer: campaignId,
    domain: 'test.local',
    name: 'Test member',
    variables: { debt: '20000' },
    communications: numbers.map((number, i) => ({ number, priority: numbers.length - i })),
    ...overrides,
  });
  await enqueueMembers(campaignId, [doc.toObject()]);
  return doc;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export { historyFromFile, historyToFile } from '../../lib/histories';

/** With RECORD_HISTORIES=1, saves a finished workflow's history as a replay fixture (test/replay). */
export async function recordHistory(handle: { workflowId: string; fetchHistory(): Promise<unknown> }, name: string, kind = 'member'): Promise<void> {
  if (!process.env.RECORD_HISTORIES) return;
  const path = await import('node:path');
  saveHistory(path.join(__dirname, '..', 'replay', kind), name, handle.workflowId, await handle.fetchHistory());
}

/** The time-skipping test server starts without our search attributes: register them. */
export async function registerSearchAttributes(connection: { operatorService: { addSearchAttributes(req: object): Promise<unknown> } }): Promise<void> {
  const { encodeSearchAttributeIndexedValueType } = await import('@temporalio/common/lib/search-attributes');
  const { searchAttributes } = await import('../../lib/search-attributes');
  const map: Record<string, number> = {};
  for (const k of Object.values(searchAttributes)) map[k.name] = encodeSearchAttributeIndexedValueType(k.type) as unknown as number;
  await connection.operatorService.addSearchAttributes({ namespace: 'default', searchAttributes: map });
}

/** The attempt record once its result is applied. endAttempt stores the member's outcome and gives
 *  its lease back first, then the result with the attempt's `counted` flag: a test that saw the member
 *  end (or wait) waits for the record rather than reading it once. */
export function appliedAttempt<T>(uuid: string, timeoutMs = 20_000): Promise<T> {
  return waitFor(`the result applied to attempt ${uuid}`, async () => {
    const a = await Attempt.findById(uuid).lean<T & { counted?: boolean }>();
    return a?.counted ? a : null;
  }, timeoutMs);
}
