// Originations per second (`cps`, spec §3.1; per campaign, and per gateway for the operator), across
// every worker: one document per key and second counts the originations given a place in that
// second, taken with one `$inc` upsert each, one at a time per key across the worker processes
// (models/serial.ts `exclusively`: FerretDB v1 applies overlapping updates of one document
// non-atomically). The n-th place of a second goes at
// `second + (n-1)/cps`, so originations are evenly spaced and no sliding second ever holds more
// than `cps` of them.
import { isDuplicateKeyError } from '../lib/db';
import { Schema } from 'mongoose';
import { model } from './model';
import { exclusively } from './serial';

const rateSchema = new Schema(
  { _id: { type: String, required: true }, n: { type: Number, default: 0 }, at: Number },
  { collection: 'dialer_rate', versionKey: false },
);
const RateSlot = model('RateSlot', rateSchema);

/** How far ahead a place is looked for; beyond, the caller fails and is retried. */
const MAX_AHEAD_SEC = 15;

/**
 * Reserves one origination for `key` at `perSec` per second; returns the epoch ms at which it may
 * be sent (now or later), or null when the next MAX_AHEAD_SEC seconds are full.
 */
export async function reserveOrigination(key: string, perSec: number, now = Date.now()): Promise<number | null> {
  return exclusively(`rate:${key}`, () => reserve(key, perSec, now));
}

async function reserve(key: string, perSec: number, now: number): Promise<number | null> {
  const first = Math.floor(now / 1000);
  const spacing = 1000 / perSec;
  for (let s = first; s < first + MAX_AHEAD_SEC; s++) {
    let n: number;
    try {
      const doc = await RateSlot.findOneAndUpdate(
        { _id: `${key}:${s}` },
        { $inc: { n: 1 }, $setOnInsert: { at: s * 1000 } },
        { upsert: true, new: true },
      ).lean<{ n: number }>();
      n = doc?.n ?? 1;
    } catch (err) {
      // Two workers upserting the same new second: one wins, the other tries it again.
      if (isDuplicateKeyError(err)) { s--; continue; }
      throw err;
    }
    if (n === 1 && s === first) void RateSlot.deleteMany({ _id: { $regex: `^${escapeRegex(key)}:` }, at: { $lt: now - 60_000 } }).catch(() => undefined);
    if (n > perSec) continue;
    const at = s * 1000 + Math.ceil((n - 1) * spacing);
    if (at >= now) return at;
    // A place already past (its second began before us) stays unused, so every origination goes
    // at its own place and the spacing holds: take the next place of the same second.
    s--;
  }
  return null;
}

/** Waits for a place under every limit that applies (`[key, perSec]`, perSec > 0); throws when one
 *  is full for the next seconds (the activity is retried). */
export async function paceOrigination(limits: [string, number][]): Promise<void> {
  let at = 0;
  for (const [key, perSec] of limits) {
    const t = await reserveOrigination(key, perSec);
    if (t === null) throw new Error(`originations per second: ${key} is full for the next ${MAX_AHEAD_SEC} s`);
    at = Math.max(at, t);
  }
  const wait = at - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

/** The sofia gateway a dial string goes through, if any. */
export function gatewayOf(dialString: string): string | undefined {
  return /^sofia\/gateway\/([^/]+)\//.exec(dialString)?.[1];
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
