// First-wins inserts, batched: the inserts of one collection queued in one event-loop turn (and
// those queued while its previous batch is being written) go as one unordered insertMany, instead
// of one command each. Each caller learns what its own insert did: stored by it (true), its `_id`
// already taken (false: another writer, or an earlier item of the same batch, came first), or its
// item's error. An insert of an existing `_id` fails atomically on every connection (FerretDB v1
// too), so the first writer still wins with one command and no read.
import type { Collection, Document } from 'mongodb';
import { writeErrorsOf } from '../lib/db';
import { MAX_BATCH } from './group-commit';
import { withTimeout } from './serial';

/** A batch with no answer by then fails its callers (they retry), as models/group-commit.ts. */
const BATCH_TIMEOUT_MS = 20_000;

type Queued<D> = { doc: D; resolve: (stored: boolean) => void; reject: (err: unknown) => void };

/** An insert into `collection` through its batches: true when this call stored `doc`, false when
 *  its `_id` was taken; rejects with the error of its item (or of the whole command). */
export function firstInserts<D extends Document & { _id: unknown }>(collection: () => Collection<D>): (doc: D) => Promise<boolean> {
  let queued: Queued<D>[] = [];
  let busy = false;

  async function flush(): Promise<void> {
    while (queued.length) {
      const batch = queued.slice(0, MAX_BATCH);
      queued = queued.slice(batch.length);
      try {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        await withTimeout(collection().insertMany(batch.map((q) => q.doc) as any[], { ordered: false }), BATCH_TIMEOUT_MS);
        for (const q of batch) q.resolve(true);
      } catch (err) {
        const failed = new Map(writeErrorsOf(err).map((w) => [w.index, w.code]));
        batch.forEach((q, i) => {
          // No per-item errors: the command itself failed (connection, timeout), for every item.
          if (!failed.size) q.reject(err);
          else if (!failed.has(i)) q.resolve(true);
          else if (failed.get(i) === 11000) q.resolve(false);
          else q.reject(err);
        });
      }
    }
    busy = false; // in the same turn as the check that found the queue empty
  }

  return (doc) => new Promise<boolean>((resolve, reject) => {
    queued.push({ doc, resolve, reject });
    if (busy) return;
    busy = true;
    setImmediate(() => void flush());
  });
}
