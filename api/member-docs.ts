// Building new member documents (§5.1) for the REST insert and the CSV import, and inserting a
// batch all-or-nothing: ids are chosen before the insert, so a failed batch is removed again.
import mongoose from 'mongoose';
import { Member } from '../models';
import { enqueueMembers, type QueueWriter } from '../models/ready-queue';
import { createLogger } from '../lib/logger';

const log = createLogger('api');

export interface NewMember {
  name?: string;
  priority?: number;
  timezone?: string;
  expire?: number | null;
  variables?: Record<string, unknown>;
  communications: { number: string; priority?: number; type?: string | null; description?: string | null }[];
}

/** The full stored document: client fields plus every engine field at its initial value. */
export function memberDocument(m: NewMember, dialer: string, domain: string, now = Date.now()): Record<string, unknown> {
  const priority = m.priority ?? 0;
  return {
    _id: new mongoose.Types.ObjectId(),
    dialer,
    domain,
    // v3: `'` is replaced by `_`; no name → `_undef_`.
    name: m.name === undefined || m.name === '' ? '_undef_' : m.name.replace(/'/g, '_'),
    priority,
    timezone: m.timezone ?? '',
    expire: m.expire ?? null,
    variables: m.variables ?? {},
    communications: m.communications.map((c) => ({
      number: c.number,
      priority: c.priority ?? 0,
      type: c.type ?? null,
      description: c.description ?? null,
      state: 0,
      status: 0,
      _probe: 0,
      lastCall: 0,
      rangeId: null,
      rangeAttempts: 0,
      checkResult: null,
      stopCommunication: false,
    })),
    createdOn: now,
    randomValue: Math.random(),
    _score: now + priority,
    _probeCount: 0,
    _lock: null,
    _lastSession: null,
    _nextTryTime: null,
    _endCause: null,
    _lastNumberId: null,
    _lastMinusProbe: false,
    callSuccessful: false,
    successfulCount: 0,
    lastCall: 0,
    _waitingForResultStatus: null,
    _waitingForResultStatusCb: null,
    _log: [],
    lastModified: now,
  };
}

/** Inserts every document or none: on a failure the part already written is deleted again. Then
 *  queues them (through `queue` when the caller batches queue writes, as the CSV import does). */
export async function insertAllOrNothing(docs: Record<string, unknown>[], queue?: QueueWriter): Promise<void> {
  if (!docs.length) return;
  try {
    await Member.collection.insertMany(docs, { ordered: true });
  } catch (err) {
    await Member.collection.deleteMany({ _id: { $in: docs.map((d) => d._id as mongoose.Types.ObjectId) } }).catch(() => undefined);
    throw err;
  }
  if (queue) await queue.add(docs as never).catch(notQueued(String(docs[0].dialer), docs.length));
  else await queueStored(docs);
}

/** Writes the queue ids a QueueWriter still holds; a failure is logged (the fallback finds them). */
export async function flushQueue(queue: QueueWriter): Promise<void> {
  await queue.flush().catch(notQueued(queue.campaignId, -1));
}

const notQueued = (dialer: string, n: number) => (err: unknown) => {
  log.warn({ dialer, n, err: String(err) }, 'members stored but not queued; the claim fallback will find them');
};

/** Puts members just stored into their campaign's ready queue (models/ready-queue.ts). A failure
 *  loses nothing: the claim's fallback read of the members collection finds what the queue lacks. */
export async function queueStored(docs: Record<string, unknown>[]): Promise<void> {
  const byDialer = new Map<string, Record<string, unknown>[]>();
  for (const d of docs) {
    const k = String(d.dialer);
    if (!byDialer.has(k)) byDialer.set(k, []);
    byDialer.get(k)!.push(d);
  }
  for (const [dialer, list] of byDialer) {
    await enqueueMembers(dialer, list as never).catch(notQueued(dialer, list.length));
  }
}
