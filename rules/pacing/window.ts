// Counters over a rolling window of whole buckets (minutes unless said otherwise; plain arrays, so
// they survive JSON).

export interface RollingCounts {
  /** Index (floor(t / bucketSec)) of the newest bucket. */
  minute: number;
  /** One array per counter name, bucket i holds bucket index `minute - i`. */
  buckets: Record<string, number[]>;
  /** Bucket length in seconds (60 when absent). */
  bucketSec?: number;
}

export function newRolling(names: string[], count: number, bucketSec = 60): RollingCounts {
  const buckets: Record<string, number[]> = {};
  for (const n of names) buckets[n] = new Array<number>(count).fill(0);
  return bucketSec === 60 ? { minute: 0, buckets } : { minute: 0, buckets, bucketSec };
}

const bucketOf = (w: RollingCounts, t: number) => Math.floor(t / (w.bucketSec ?? 60));

/** The window moved to time `t` (older buckets shifted out). */
function advance(w: RollingCounts, t: number): RollingCounts {
  const m = bucketOf(w, t);
  if (m <= w.minute) return w;
  const shift = m - w.minute;
  const buckets: Record<string, number[]> = {};
  for (const [name, b] of Object.entries(w.buckets)) {
    buckets[name] = shift >= b.length ? new Array<number>(b.length).fill(0) : [...new Array<number>(shift).fill(0), ...b.slice(0, b.length - shift)];
  }
  return { ...w, minute: m, buckets };
}

export function addCount(w: RollingCounts, name: string, t: number, by = 1): RollingCounts {
  const a = advance(w, t);
  const i = a.minute - bucketOf(a, t);
  const b = a.buckets[name];
  if (!b || i >= b.length) return a; // older than the window
  const nb = b.slice();
  nb[i] += by;
  return { ...a, buckets: { ...a.buckets, [name]: nb } };
}

/** Sum of a counter over the window ending at time `t`. */
export function windowSum(w: RollingCounts, name: string, t: number): number {
  const b = w.buckets[name];
  if (!b) return 0;
  const skip = bucketOf(w, t) - w.minute;
  let s = 0;
  for (let i = 0; i < b.length - Math.max(0, skip); i++) s += b[i];
  return s;
}
