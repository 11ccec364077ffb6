// Group commit: writes that many activities make at the same moment (attempt records, member-end
// events, counters) go to the database together, one `bulkWrite` per collection per tick, instead of
// one command each. Every caller awaits the batch its write is in, so an activity still returns
// only once its write is stored (or throws if it was not): durability is unchanged, only the
// number of round trips falls as load rises.
//
// A batch is written when the event loop turn that queued its first write ends (setImmediate; or
// `tickMs` later: GROUP_COMMIT_TICK_MS, longer batches for a little latency) or, while an earlier
// batch of the same collection is still being written, as soon as that one is done: at most one batch per collection is in flight, so batches are stored in the order they
// were made, and within a batch in the order the writes were queued (`ordered: true`). Two writes
// of one document are therefore applied in the order they were queued.
//
// At most MAX_BATCH writes per bulkWrite: FerretDB 1.24 keeps each update's read open (one SQLite
// connection of its 100) until the command ends, so a command of ~100 updates never finishes.
//
// A failed batch fails every write in it, even those the server applied before the failing one:
// writes queued here must be idempotent (`$set`, upserts with `$setOnInsert`, marker-guarded
// `$inc`), so the caller's retry (Temporal retries the activity) is safe.
//
// A stored batch tells each caller whether every write in it found the documents it expected (one
// each, unless said otherwise): the server counts matches per command, not per write, so a write with
// a condition learns that it applied only when the whole batch did (models/member-store.ts `settle`).
import mongoose, { type Model } from 'mongoose';
import type { AnyBulkWriteOperation, Document } from 'mongodb';
import { config } from '../lib/config';
import { withTimeout } from './serial';
import { createLogger } from '../lib/logger';

const log = createLogger('group-commit');

/** A batch with no answer by then fails its callers (their activities retry) and the next batch
 *  goes, so one lost answer cannot hold every later write of the collection. */
const BATCH_TIMEOUT_MS = 20_000;

export const MAX_BATCH = 50;

/** Batches items and writes each batch with `write`, one batch in flight at a time. */
export class GroupCommit<T> {
  private queued: { item: T; expect: number; resolve: (allFound: boolean) => void; reject: (err: unknown) => void }[] = [];
  private flushing = false;
  private scheduled = false;
  /** Batches written and items in them, for the benchmarks. */
  readonly stats = { batches: 0, items: 0 };

  /** `write` may return how many documents the batch's writes found (matched, upserted, deleted). */
  constructor(
    private readonly write: (items: T[]) => Promise<number | void>,
    private readonly maxBatch = MAX_BATCH,
    private readonly tickMs = 0,
  ) {}

  /** Queues `item`, which expects to find `expect` documents; resolves once the batch holding it is
   *  stored — true unless the batch's writes found fewer or more documents than they expected —
   *  and rejects with that batch's error. */
  add(item: T, expect = 1): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queued.push({ item, expect, resolve, reject });
      if (!this.flushing && !this.scheduled) {
        this.scheduled = true;
        const go = () => {
          this.scheduled = false;
          void this.flush();
        };
        if (this.tickMs > 0) setTimeout(go, this.tickMs);
        else setImmediate(go);
      }
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queued.length) {
        const batch = this.queued.splice(0, this.maxBatch);
        this.stats.batches++;
        this.stats.items += batch.length;
        try {
          const found = await withTimeout(this.write(batch.map((b) => b.item)), BATCH_TIMEOUT_MS);
          const allFound = found === undefined || found === batch.reduce((n, b) => n + b.expect, 0);
          for (const b of batch) b.resolve(allFound);
        } catch (err) {
          if (String(err).includes('no answer from the database')) log.warn({ items: batch.length, err: String(err) }, 'group commit unanswered');
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}

type Op = AnyBulkWriteOperation<Document>;
/** A write, and whether it is already as the model's schema would store it (`stored`: ObjectId
 *  `_id`s, whole values; no casting needed). */
type Queued = { op: Op; stored: boolean };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyModel = Model<any>;
const writers = new Map<string, GroupCommit<Queued>>();

/** The group-commit writer of a model or of a raw collection, one per name in this process. A
 *  model's batch goes through its bulkWrite, which casts each write as updateOne would, unless every
 *  write in it is `stored`: then straight to the collection (Mongoose's casting is a good part of
 *  the worker's CPU per call, and a stored write needs none). */
export function batchedWrites(target: AnyModel | string): GroupCommit<Queued> {
  const name = typeof target === 'string' ? target : target.collection.collectionName;
  let w = writers.get(name);
  if (!w) {
    const found = (r: { matchedCount: number; upsertedCount: number; deletedCount: number }) => r.matchedCount + r.upsertedCount + r.deletedCount;
    const coll = typeof target === 'string' ? mongoose.connection.collection(target) : target.collection;
    const raw = (ops: Op[]) => coll.bulkWrite(ops, { ordered: true });
    w = new GroupCommit<Queued>(typeof target === 'string'
      ? async (items) => found(await raw(items.map((i) => i.op)))
      : async (items) => found(items.every((i) => i.stored)
        ? await raw(items.map((i) => i.op))
        : await (target as AnyModel).bulkWrite(items.map((i) => i.op) as Parameters<AnyModel['bulkWrite']>[0], { ordered: true })), MAX_BATCH, config.groupCommitTickMs);
    writers.set(name, w);
  }
  return w;
}

/** A write through the group commit of `target`'s collection; `stored`: see `batchedWrites`. */
export function batchedWrite(target: AnyModel | string, op: Op, o: { stored?: boolean; expect?: number } = {}): Promise<boolean> {
  return batchedWrites(target).add({ op, stored: typeof target === 'string' || !!o.stored }, o.expect);
}

/** `updateOne` through the group commit (as Model.updateOne / Collection.updateOne); true when every
 *  write of its batch found its document, so this one did. `stored`: the filter and update are
 *  already as the schema stores them (see `batchedWrites`). */
export function batchedUpdate(target: AnyModel | string, filter: Document, update: Document, o: { upsert?: boolean; stored?: boolean } = {}): Promise<boolean> {
  return batchedWrite(target, { updateOne: { filter, update, ...(o.upsert ? { upsert: true } : {}) } }, o);
}

/** Per collection: batches and writes so far (bench/throughput.ts prints them). */
export function groupCommitStats(): Record<string, { batches: number; items: number }> {
  return Object.fromEntries([...writers].map(([name, w]) => [name, { ...w.stats }]));
}

/** Group commit per key: the calls of one event-loop turn with the same key, and those made while a
 *  write of that key is in flight, go to `write(key, items)` together (one command, or a few), each
 *  caller getting its item's answer; a failed write fails every caller in it. One write per key at a
 *  time, in call order. Used for the documents every attempt of a campaign shares (its lines, its
 *  counters). A `lazy` call (one nobody waits on to go on: a release, a marker's removal) waits up
 *  to `lazyMs` for another call of its key and goes with it, so that at a few attempts a second,
 *  when two rarely share an event-loop turn, each write still carries more than one. */
export function perTick<T, R>(write: (key: string, items: T[]) => Promise<R[]>, lazyMs = 0): (key: string, item: T, lazy?: boolean) => Promise<R> {
  type Queued = { item: T; resolve: (r: R) => void; reject: (err: unknown) => void };
  type Pending = { items: Queued[]; eager: boolean; due?: 'now' | 'later' };
  const pending = new Map<string, Pending>();
  const flushing = new Set<string>();
  const schedule = (key: string) => {
    const p = pending.get(key);
    if (!p || flushing.has(key) || p.due === 'now' || (p.due === 'later' && !p.eager)) return;
    p.due = p.eager ? 'now' : 'later';
    const go = () => {
      if (pending.get(key) === p && !flushing.has(key)) void flush(key);
    };
    if (p.eager) setImmediate(go);
    else setTimeout(go, lazyMs);
  };
  const flush = async (key: string) => {
    flushing.add(key);
    try {
      // Calls made while a write is in flight go next, unless all of them are lazy (then they wait).
      for (let p = pending.get(key); p?.items.length; p = pending.get(key)) {
        pending.delete(key);
        const batch = p.items;
        try {
          const out = await write(key, batch.map((b) => b.item));
          batch.forEach((b, i) => b.resolve(out[i]));
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
        if (!pending.get(key)?.eager) break;
      }
    } finally {
      flushing.delete(key);
      schedule(key);
    }
  };
  return (key, item, lazy = false) => new Promise<R>((resolve, reject) => {
    let p = pending.get(key);
    if (!p) pending.set(key, (p = { items: [], eager: false }));
    p.items.push({ item, resolve, reject });
    if (!lazy || lazyMs <= 0) p.eager = true;
    schedule(key);
  });
}
