// The campaign's ready queue, kept beside the members collection so a claim reads a few small
// documents instead of the members collection (docs/architecture.md, "The ready queue").
//
// Why collections of their own: FerretDB v1 (SQLite) pushes down to SQL only a filter that is
// exactly `{_id}`, and a LIMIT only when there is no filter and no sort. Every other read decodes the
// whole collection (0.33 ms a document: 330 s for a million members). So the queue is shaped for the
// two reads FerretDB does fast, and works the same on MongoDB:
// - fresh members (never claimed) of priority p are chunks of member ids in the collection
//   `dialer_queue.<campaign>.p<p>`, read head first with `find({}).limit(k)` (SQLite stops after k
//   rows), chunk ids in `_id` order, chunks in insertion order; a claim takes ids off the head chunk;
// - members already dialled that wait for their next try are one small document each in
//   `dialer_queue.<campaign>.timed` ({_id, _readyAt, _nextTryTime, priority, lastCall}): read whole,
//   its size is the campaign's members in progress, not its list.
// The members collection stays the truth: every candidate is re-read by `_id` before it is claimed,
// and an entry whose member changed (ended, deleted, claimed, priority edited) is dropped. A member
// the queue misses (inserted straight into the collection, stored before this queue existed) is
// found by the claim's fallback read of the members collection (activities/claim.ts).
import mongoose from 'mongoose';
import { batchedWrite } from './group-commit';
import { byPriorityDescending, isNeverDialled, type DispatchFields } from '../rules/dispatch';

type Id = unknown;
/** Member ids arrive as ObjectIds (documents) or their hex strings (workflow inputs): store ObjectIds. */
export const asId = (id: Id) => (typeof id === 'string' && /^[0-9a-f]{24}$/i.test(id) ? new mongoose.Types.ObjectId(id) : id) as mongoose.Types.ObjectId;
const PREFIX = 'dialer_queue.';
/** Ids per chunk: a bulk POST or an import batch becomes a few chunks, each a small document. */
const CHUNK = 1000;

const coll = (name: string) => mongoose.connection.collection(name);
const freshName = (campaignId: string, priority: number) => `${PREFIX}${campaignId}.p${priority}`;
const timedName = (campaignId: string) => `${PREFIX}${campaignId}.timed`;

/**
 * Queues members just stored (created, imported, reset): fresh ones as chunks per priority, in the
 * order given (callers pass them in `_id` order), the others as timed entries; ended ones are
 * skipped. Fresh ids are collected and written CHUNK per priority at a time, so an import whose
 * 250-row batches spread over ten priorities costs a queue write per thousand rows, not ten per
 * batch; `flush` writes the rest.
 */
export class QueueWriter {
  private pending = new Map<number, Id[]>();
  private pendingCount = 0;
  constructor(readonly campaignId: string) {}

  async add(members: DispatchFields[]): Promise<void> {
    for (const m of members) {
      if (m._endCause) continue;
      if (!isNeverDialled(m)) {
        await putTimed(this.campaignId, { ...m, _readyAt: m._readyAt ?? null });
        continue;
      }
      const p = m.priority ?? 0;
      if (!this.pending.has(p)) this.pending.set(p, []);
      this.pending.get(p)!.push(asId(m._id));
      this.pendingCount++;
    }
    for (const [p, ids] of this.pending) if (ids.length >= CHUNK) await this.write(p);
    if (this.pendingCount >= 10 * CHUNK) await this.flush();
  }

  async flush(): Promise<void> {
    for (const p of [...this.pending.keys()]) await this.write(p);
  }

  private async write(p: number): Promise<void> {
    const ids = this.pending.get(p) ?? [];
    this.pending.delete(p);
    this.pendingCount -= ids.length;
    const chunks = [];
    for (let i = 0; i < ids.length; i += CHUNK) chunks.push({ ids: ids.slice(i, i + CHUNK) });
    if (chunks.length) await coll(freshName(this.campaignId, p)).insertMany(chunks);
  }
}

export async function enqueueMembers(campaignId: string, members: DispatchFields[]): Promise<void> {
  const w = new QueueWriter(campaignId);
  await w.add(members);
  await w.flush();
}

/** Records a member waiting for its next try; without `_readyAt`, only refreshes the order keys of
 *  an entry that exists (a member edited while it is not waiting). */
export async function putTimed(campaignId: string, m: DispatchFields): Promise<void> {
  const keys = { _nextTryTime: m._nextTryTime ?? null, priority: m.priority ?? 0, lastCall: m.lastCall ?? 0 };
  // Group commit (models/group-commit.ts): the entries of many members go out in one write.
  const name = timedName(campaignId);
  if (m._readyAt === undefined) await batchedWrite(name, { updateOne: { filter: { _id: asId(m._id) }, update: { $set: keys } } });
  else await batchedWrite(name, { replaceOne: { filter: { _id: asId(m._id) }, replacement: { _readyAt: m._readyAt, ...keys }, upsert: true } });
}

/** A member waiting for a result status is not claimable before the status or its deadline. */
export function notBeforeStatus(readyAt: number | null, statusUntil: number | null | undefined): number | null {
  return statusUntil ? Math.max(readyAt ?? 0, statusUntil) : readyAt;
}

/** The member's fields `requeue` needs. */
export const REQUEUE_FIELDS = { _dispatch: 1, _endCause: 1, priority: 1, _readyAt: 1, _nextTryTime: 1, lastCall: 1, _waitingForResultStatus: 1, _waitingForResultStatusCb: 1 };

/** Puts a member whose lease was just cleared back in the queue as its document says (gone or
 *  ended: out of it), claimable from `readyAt` (default: its stored `_readyAt`). */
export async function requeue(
  campaignId: string,
  memberId: Id,
  doc: (DispatchFields & { _waitingForResultStatusCb?: number | null; _waitingForResultStatus?: number | null }) | null,
  readyAt: number | null = doc?._readyAt ?? null,
): Promise<void> {
  if (!doc || doc._endCause) return dropTimed(campaignId, memberId);
  await putTimed(campaignId, { ...doc, _id: memberId, _readyAt: notBeforeStatus(readyAt, doc._waitingForResultStatusCb ? doc._waitingForResultStatus : null) });
}

export async function dropTimed(campaignId: string, memberId: Id): Promise<void> {
  await batchedWrite(timedName(campaignId), { deleteOne: { filter: { _id: asId(memberId) } } });
}

/** The timed entries of members just claimed, in one command. */
export async function dropTimedMany(campaignId: string, memberIds: Id[]): Promise<void> {
  if (memberIds.length) await coll(timedName(campaignId)).deleteMany({ _id: { $in: memberIds.map(asId) } });
}

/** Every timed entry of the campaign (the members in progress). */
export async function timedEntries(campaignId: string): Promise<Record<string, unknown>[]> {
  return coll(timedName(campaignId)).find({}).toArray();
}

export interface FreshChunk {
  collection: string;
  chunkId: Id;
  priority: number;
  ids: Id[];
}

/** The names of the campaign's queue collections (fresh priorities and timed). */
async function queueCollections(campaignId: string): Promise<string[]> {
  const prefix = `${PREFIX}${campaignId}.`;
  const all = await mongoose.connection.db!.listCollections({}, { nameOnly: true }).toArray();
  return all.map((c) => c.name).filter((n) => n.startsWith(prefix));
}

/** The campaign's fresh priorities, highest first (from the collection names). */
async function freshPriorities(campaignId: string): Promise<{ name: string; priority: number }[]> {
  const prefix = `${PREFIX}${campaignId}.p`;
  return (await queueCollections(campaignId))
    .filter((name) => name.startsWith(prefix))
    .map((name) => ({ name, priority: Number(name.slice(prefix.length)) }))
    .filter((c) => Number.isFinite(c.priority))
    .sort(byPriorityDescending);
}

/** What a claim knows of a campaign's fresh queue between its rounds: the priority collections
 *  (listed once) and those it found empty (not read again). It holds while no chunk is added: the
 *  claim makes a new one when the campaign was woken (members stored) and after a while. */
export interface FreshView {
  priorities: { name: string; priority: number }[];
  empty: Set<number>;
}

export async function freshView(campaignId: string): Promise<FreshView> {
  return { priorities: await freshPriorities(campaignId), empty: new Set() };
}

/** The first `k` fresh ids in claim order (priority descending, then `_id`), as the head chunks
 *  holding them: a lower priority is read only while the higher ones hold fewer than `k`. A
 *  priority the view knows empty is skipped; one read empty is noted in the view. */
export async function freshHeads(campaignId: string, k: number, view?: FreshView): Promise<FreshChunk[]> {
  const v = view ?? (await freshView(campaignId));
  const out: FreshChunk[] = [];
  let n = 0;
  for (const { name, priority } of v.priorities) {
    if (n >= k) break;
    if (v.empty.has(priority)) continue;
    // No filter and no sort: the one read FerretDB v1 limits in SQL. A chunk holds ≥ 1 id and
    // usually ≥ k (an import), so chunks come one at a time and reading stops early.
    const cursor = coll(name).find({}).limit(k).batchSize(1);
    let chunks = 0;
    try {
      for await (const c of cursor) {
        chunks++;
        const ids = (c.ids as Id[]) ?? [];
        out.push({ collection: name, chunkId: c._id, priority, ids });
        n += ids.length;
        if (n >= k) break;
      }
    } finally {
      await cursor.close();
    }
    if (!chunks) v.empty.add(priority);
  }
  return out;
}

/** Takes ids off a chunk (claimed, or found stale); an emptied chunk is deleted. Only the
 *  campaign's claim writes chunks after they are inserted, so nothing else changes them meanwhile. */
export async function consumeFresh(chunk: FreshChunk, taken: Set<string>): Promise<void> {
  const rest = chunk.ids.filter((id) => !taken.has(String(id)));
  if (rest.length === chunk.ids.length) return;
  const c = coll(chunk.collection);
  if (rest.length === 0) await c.deleteOne({ _id: chunk.chunkId as mongoose.Types.ObjectId });
  else await c.updateOne({ _id: chunk.chunkId as mongoose.Types.ObjectId }, { $set: { ids: rest } });
  chunk.ids = rest;
}

/** True when the campaign's queue holds an entry (it may be stale: the claim re-checks). */
export async function hasQueued(campaignId: string): Promise<boolean> {
  for (const name of await queueCollections(campaignId)) if (await coll(name).findOne({})) return true;
  return false;
}

/** Drops every queue collection of a campaign (the campaign is being deleted). */
export async function dropQueues(campaignId: string): Promise<void> {
  for (const name of await queueCollections(campaignId)) await coll(name).drop().catch(() => undefined);
}

/** How many ids the campaign's fresh chunks hold (never-dialled members, stale ids included until
 *  a claim reaches them): one small document per thousand members. */
export async function freshCount(campaignId: string): Promise<number> {
  let n = 0;
  for (const { name } of await freshPriorities(campaignId)) {
    // FerretDB v1 has no $size in a $group: the chunks are read (a million members: 1,000 chunks).
    for await (const c of coll(name).find({})) n += ((c.ids as unknown[]) ?? []).length;
  }
  return n;
}

/** Up to `limit` timed entries (no filter, no sort: the one read FerretDB v1 limits in SQL). */
export async function someTimedEntries(campaignId: string, limit: number): Promise<Record<string, unknown>[]> {
  return coll(timedName(campaignId)).find({}).limit(limit).toArray();
}
