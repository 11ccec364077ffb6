// Bounded concurrency over a (possibly async) list.
/** Runs fn over items with at most `limit` in flight. */
export async function mapLimit<T>(items: AsyncIterable<T> | Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  let firstError: unknown = null;
  for await (const item of items as AsyncIterable<T>) {
    if (firstError) break;
    const p: Promise<void> = fn(item)
      .catch((err: unknown) => {
        firstError ??= err;
      })
      .finally(() => running.delete(p));
    running.add(p);
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
  if (firstError) throw firstError;
}
