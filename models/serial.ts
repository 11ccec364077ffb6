// Writes to one document, one at a time within this process. FerretDB v1 applies an update as a
// read and then a write of the whole document, so two updates of one document that overlap (on two
// connections of the pool) can lose one of them. Every write of a document with more than one
// writer in this process goes through `serially(<document key>, …)`; writes of different documents
// still run in parallel on the pool (docs/architecture.md, "FerretDB and atomicity").
const tails = new Map<string, Promise<unknown>>();

export async function serially<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = tails.get(key) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(fn);
  tails.set(key, run);
  try {
    return await run;
  } finally {
    if (tails.get(key) === run) tails.delete(key);
  }
}

/** fn in the turn of every key at once (taken in sorted order, so two callers cannot wait on each other). */
export async function seriallyAll<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
  const sorted = [...new Set(keys)].sort();
  const take = (i: number): Promise<T> => (i === sorted.length ? fn() : serially(sorted[i], () => take(i + 1)));
  return take(0);
}
