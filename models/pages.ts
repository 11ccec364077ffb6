// Reading a collection a page at a time in `_id` order without reading what comes before: the
// API's member pages and the services' batch work (reset, delete) on lists of any size.
import mongoose, { type Model } from 'mongoose';
import { isMongoDB } from '../lib/db';
import { HttpError } from '../lib/http-error';

/** How deep `page` may go on the embedded store: every skipped document is read and decoded there. */
export const MAX_EMBEDDED_SKIP = 10_000;
const MIN_OBJECT_ID = new mongoose.Types.ObjectId('000000000000000000000000');

export interface PageQuery {
  filter: Record<string, unknown>;
  sort?: Record<string, 1 | -1>;
  projection?: Record<string, 0 | 1>;
  skip: number;
  limit: number;
  /** `_id` of the last document of the previous page: the next page in `_id` order (a cursor). */
  after?: string;
}

/** How the store serves a page in `_id` order: MongoDB sorts with its index; FerretDB built with
 *  the `sqlite-pushdown` patch returns an `_id` range in `_id` order from its index (its plan says
 *  `USING INDEX`); any other FerretDB has to be asked to sort (correct, but it reads every match). */
export type PageStore = 'mongodb' | 'ferretdb-ordered' | 'ferretdb';
let pageStoreKnown: PageStore | undefined;

export async function pageStore(M: Model<any>): Promise<PageStore> {
  if (pageStoreKnown) return pageStoreKnown;
  if (await isMongoDB()) return (pageStoreKnown = 'mongodb');
  const e = (await M.find({ _id: { $gt: MIN_OBJECT_ID } }).limit(1).explain()) as unknown as { queryPlanner?: { Plan?: unknown[] } };
  const plan = JSON.stringify(e.queryPlanner?.Plan ?? []);
  // No plan yet (the collection does not exist): ask again next time.
  if (plan === '[]') return 'ferretdb';
  return (pageStoreKnown = /USING (COVERING )?INDEX/.test(plan) ? 'ferretdb-ordered' : 'ferretdb');
}

/**
 * One page of `model` matching `where` (the server part already merged in, see `scoped`): in the
 * client's sort, else in `_id` order. On FerretDB the `_id` order comes from an `_id` range the
 * store serves from its index in `_id` order (docs/setup.md, "sqlite-pushdown"), so a page reads
 * about `limit` documents whatever the collection holds; a `page` deeper than MAX_EMBEDDED_SKIP
 * is refused there with a 400 that names `after`. MongoDB sorts by `_id` with its index.
 * Returns the page and the cursor of the next one (null when this page is the last).
 */
export async function findPage<T extends { _id: unknown }>(
  M: Model<any>, where: Record<string, unknown>, q: PageQuery, store: PageStore, timeoutMs?: number,
): Promise<{ docs: T[]; next: string | null }> {
  const byId = !q.sort;
  if (store !== 'mongodb' && q.skip > MAX_EMBEDDED_SKIP) {
    throw new HttpError(400, `page: the embedded store reads every skipped member, so at most ${MAX_EMBEDDED_SKIP} are skipped; page with after=<_id of the last member of the previous page> (or add a filter)`);
  }
  const filter = { ...where };
  // The store returns an `_id` range in `_id` order only when the range is the filter's own `_id`.
  const rangeOrdered = byId && store === 'ferretdb-ordered' && !('_id' in where);
  if (rangeOrdered) filter._id = { $gt: q.after ? new mongoose.Types.ObjectId(q.after) : MIN_OBJECT_ID };
  else if (q.after) filter.$and = [...((filter.$and as unknown[]) ?? []), { _id: { $gt: new mongoose.Types.ObjectId(q.after) } }];
  let find = M.find(filter, q.projection);
  if (!rangeOrdered) find = find.sort(q.sort ?? { _id: 1 });
  find = find.skip(q.skip).limit(q.limit);
  if (timeoutMs) find = find.maxTimeMS(timeoutMs);
  const docs = (await find.lean()) as T[];
  const next = byId && docs.length === q.limit && docs[docs.length - 1]._id !== undefined ? String(docs[docs.length - 1]._id) : null;
  return { docs, next };
}

/**
 * The documents matching `where` in `_id` order, `size` at a time, each batch read to the end
 * before the caller works on it: no cursor stays open while the caller writes (on FerretDB an open
 * cursor and writes to the same collection on one connection stalled: a reset of over 500 members
 * never finished). Each batch is one `_id`-range page (see findPage).
 */
export async function* batchesById<T extends { _id: unknown }>(M: Model<any>, where: Record<string, unknown>, projection: Record<string, 0 | 1>, size: number): AsyncGenerator<T[]> {
  const store = await pageStore(M);
  let after: string | undefined;
  for (;;) {
    const { docs, next } = await findPage<T>(M, where, { filter: {}, projection, skip: 0, limit: size, after }, store);
    if (docs.length) yield docs;
    if (!next) return;
    after = next;
  }
}
