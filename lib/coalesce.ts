// Leading- and trailing-edge throttle per key: the first call for a key runs at once, calls within
// `windowMs` after it collapse into one run at the end of the window, so the last call is never
// dropped. Used for campaign wake-ups (each costs the campaign a claim read).

export function coalescer(windowMs: number, run: (key: string) => void): (key: string) => void {
  const state = new Map<string, { last: number; pending: boolean }>();
  return (key) => {
    const s = state.get(key) ?? { last: -Infinity, pending: false };
    state.set(key, s);
    if (s.pending) return;
    const fire = () => {
      s.pending = false;
      s.last = Date.now();
      run(key);
    };
    const wait = s.last + windowMs - Date.now();
    if (wait <= 0) return fire();
    s.pending = true;
    setTimeout(fire, wait).unref();
  };
}

/** Collects items per key for `windowMs` from the first one, then hands the whole list to `send`
 *  once. Each `add` resolves when the send carrying its item settled (and rejects with its error),
 *  so a caller that awaits it knows its item went out. Used for lease releases: one campaign signal
 *  per window instead of one per attempt. */
export function batcher<T>(windowMs: number, send: (key: string, items: T[]) => Promise<void>): (key: string, item: T) => Promise<void> {
  const open = new Map<string, { items: T[]; sent: Promise<void> }>();
  return (key, item) => {
    let batch = open.get(key);
    if (!batch) {
      const items: T[] = [];
      const sent = new Promise<void>((resolve) => setTimeout(resolve, windowMs)).then(() => {
        open.delete(key);
        return send(key, items);
      });
      batch = { items, sent };
      open.set(key, batch);
    }
    batch.items.push(item);
    return batch.sent;
  };
}
