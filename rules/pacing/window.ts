// Counters over a rolling window of whole minutes (plain arrays, so they survive JSON).

export interface RollingCounts {
  /** Minute index (floor(t / 60)) of the newest bucket. */
  minute: number;
  /** One array per counter name, `minutes` buckets each, bucket i holds minute `minute - i`. */
  buckets: Record<string, number[]>;
}

export function newRolling(names: string[], minutes: number): RollingCounts {
  const buckets: Record<string, number[]> = {};
  for (const n of names) buckets[n] = new Array<number>(minutes).fill(0);
  return { minute: 0, buckets };
}

/** The window moved to time `t` (older buckets shifted out). */
function advance(w: RollingCounts, t: number): RollingCounts {
  const m = Math.floor(t / 60);
  if (m <= w.minute) return w;
  const shift = m - w.minute;
  const buckets: Record<string, number[]> = {};
  for (const [name, b] of Object.entries(w.buckets)) {
    buckets[name] = shift >= b.length ? new Array<number>(b.length).fill(0) : [...new Array<number>(shift).fill(0), ...b.slice(0, b.length - shift)];
  }
  return { minute: m, buckets };
}

export function addCount(w: RollingCounts, name: string, t: number, by = 1): RollingCounts {
  const a = advance(w, t);
  const i = a.minute - Math.floor(t / 60);
  const b = a.buckets[name];
  if (!b || i >= b.length) return a; // older than the window
  const nb = b.slice();
  nb[i] += by;
  return { minute: a.minute, buckets: { ...a.buckets, [name]: nb } };
}

/** Sum of a counter over the window ending at time `t`. */
export function windowSum(w: RollingCounts, name: string, t: number): number {
  const b = w.buckets[name];
  if (!b) return 0;
  const skip = Math.floor(t / 60) - w.minute;
  let s = 0;
  for (let i = 0; i < b.length - Math.max(0, skip); i++) s += b[i];
  return s;
}
