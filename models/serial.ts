// Writes to one document, one at a time.
//
// Within a process (`serially`): FerretDB v1 applies an update as a read and then a write of the
// whole document, so two updates of one document that overlap (on two connections of the pool) can
// lose one of them. Every write of a document with more than one writer in this process goes
// through `serially(<document key>, …)`; writes of different documents still run in parallel on the
// pool (docs/architecture.md, "FerretDB and atomicity").
//
// Across processes (`exclusively`): a document that several processes write (a campaign's lines and
// counters: the member activities of every worker; the campaign document: the API too; a member the
// claim, the API and its workflow may each write while it holds no lease) is written
// only in this process's *turn* on it: a document `{_id: <key>, owner, until}` in `dialer_turns`,
// taken by inserting it — an insert of an `_id` that exists fails on FerretDB too, where an
// update's condition is no lock — and deleted when this process has no more writes of that key
// queued, or has held it MAX_HOLD_MS while the other processes wait. The turns taken (and given
// back) in one event-loop turn go out as one insertMany (one deleteMany). A turn whose process died
// is taken over after TURN_TTL_MS (renewed while it is held).
//
// The turns of the hot shared documents (`keptTurn`: a campaign's lines, counters, member counts),
// written many times a second by every attempt, are kept after their last write for KEEP_MS in case
// another comes, up to HOLD_MS from their taking (then given back, so the other processes get in):
// a busy process takes and gives back such a turn about once per HOLD_MS instead of once per write.
// While it holds one, nobody else writes the document, so a copy read in the turn stays current
// (`turnHeld` tells which taking of the turn the code runs in; models/lines.ts keeps its copy so).
//
// Turns are re-entrant: code running inside `exclusively`/`exclusivelyAll` (awaited, in sequence)
// holds their keys, and a nested call on a held key just runs. Order, so that no two holders wait on
// each other: a member's turn first, the shared documents' (a campaign's lines, counters, member
// counts) inside it; code holding a shared turn takes no other. An attempt's record and a leased
// member's writes need no turn: one writer (docs/architecture.md, "Who writes what").
import { setTimeout as sleep } from 'node:timers/promises';
import { AsyncLocalStorage } from 'node:async_hooks';
import crypto from 'node:crypto';
import os from 'node:os';
import mongoose from 'mongoose';
import { createLogger } from '../lib/logger';
import { isDuplicateKeyError, writeErrorsOf } from '../lib/db';

const log = createLogger('serial');

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

/** The turn keys of the documents each store writes (one place for their names). */
export const turnKey = {
  member: (memberId: unknown) => `member:${String(memberId)}`,
  campaign: (campaignId: string) => `campaign:${campaignId}`,
  lines: (campaignId: string) => `lines:${campaignId}`,
  counts: (countsDocId: string) => `counts:${countsDocId}`,
};
/** The turns kept between writes (see the top of this file). */
const keptTurn = (key: string) => /^(lines|campaign|counts):/.test(key);

/** The turns the running code holds, each scope its own keys inside the scopes around it. `open`
 *  turns false when its turns are given back, so a callback created inside (a timer, a later
 *  promise) that runs afterwards does not think it holds them. */
type Scope = { keys: Set<string>; open: boolean; outer?: Scope };
const scope = new AsyncLocalStorage<Scope>();
const holds = (key: string) => {
  for (let s = scope.getStore(); s; s = s.outer) if (s.open && s.keys.has(key)) return true;
  return false;
};
async function holding<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
  const s: Scope = { keys: new Set(keys), open: true, outer: scope.getStore() };
  try {
    return await scope.run(s, fn);
  } finally {
    s.open = false;
  }
}

/** This process, as the owner of the turns it holds. */
export const PROCESS_ID = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
export const TURN_TTL_MS = 15_000;
/** How long a process keeps a turn while it has more writes of the key queued. */
const MAX_HOLD_MS = 50;
/** A kept turn: given back after KEEP_MS without a write, or at its first write after HOLD_MS. */
export const KEEP_MS = 200;
export const HOLD_MS = 1000;
/** The longest pause between two tries of a turn another process holds (of a kept turn: longer, as
 *  it is held longer). A process giving back a turn that others may wait for pauses longer than
 *  that before taking it again, so that a waiting process gets in. */
const MAX_POLL_MS = 20;
const MAX_POLL_KEPT_MS = 50;

type TurnDoc = { _id: string; owner: string; until: number };
const turns = () => mongoose.connection.collection<TurnDoc>('dialer_turns');
const held = new Map<string, { since: number; renew: NodeJS.Timeout; taking: number; idle?: NodeJS.Timeout }>();
let takings = 0;

/** Which taking of the turn on `key` the calling code runs in (undefined: this process does not hold
 *  it). The same number means nobody else wrote the document since the caller last saw it. */
export function turnHeld(key: string): number | undefined {
  return holds(key) ? held.get(key)?.taking : undefined;
}
const queued = new Map<string, number>();

/** A batch command with no answer by then fails its callers (and the next batch goes): in a fault
 *  run one command's answer never came, and every turn of the process waited behind it. */
const BATCH_TIMEOUT_MS = 10_000;

/** Calls of one event-loop turn go out as one command (at most 500 items), each caller getting its
 *  item's answer. */
export function batched<T, R>(write: (items: T[]) => Promise<R[]>): (item: T) => Promise<R> {
  let queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  let flushing = false;
  const flush = async () => {
    flushing = true;
    while (queue.length) {
      const batch = queue.slice(0, 500);
      queue = queue.slice(500);
      try {
        const out = await withTimeout(write(batch.map((b) => b.item)), BATCH_TIMEOUT_MS);
        batch.forEach((b, i) => b.resolve(out[i]));
      } catch (err) {
        if (String(err).includes('no answer from the database')) log.warn({ items: batch.length, err: String(err) }, 'turn command unanswered');
        for (const b of batch) b.reject(err);
      }
    }
    flushing = false;
  };
  return (item) => new Promise<R>((resolve, reject) => {
    queue.push({ item, resolve, reject });
    if (queue.length === 1 && !flushing) setImmediate(() => void flush());
  });
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the database within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Inserts documents as one unordered insertMany: true for each inserted, false for each whose
 *  `_id` exists already. */
export async function insertNew<D extends { _id: string }>(coll: mongoose.mongo.Collection<D>, docs: D[]): Promise<boolean[]> {
  try {
    await coll.insertMany(docs as never, { ordered: false });
    return docs.map(() => true);
  } catch (err) {
    const failed = writeErrorsOf(err);
    if (failed.length === 0 || !isDuplicateKeyError(err)) throw err;
    const taken = new Set(failed.map((e) => e.index));
    return docs.map((_, i) => !taken.has(i));
  }
}

/** Inserts turns; true for each this process now holds, false for each another holds. */
const insertTurns = batched<string, boolean>(async (keys) => {
  const until = Date.now() + TURN_TTL_MS;
  return insertNew(turns(), keys.map((k) => ({ _id: k, owner: PROCESS_ID, until })));
});

/** Deletes turns this process holds. */
const deleteTurns = batched<string, void>(async (keys) => {
  await turns().deleteMany({ _id: { $in: keys }, owner: PROCESS_ID });
  return keys.map(() => undefined);
});

/** fn in this process's turn on `key`: alone among the processes sharing the database. */
export async function exclusively<T>(key: string, fn: () => Promise<T>): Promise<T> {
  if (holds(key)) return fn();
  queued.set(key, (queued.get(key) ?? 0) + 1);
  return serially(key, async () => {
    const more = queued.get(key)! - 1;
    if (more) queued.set(key, more);
    else queued.delete(key);
    await takeTurn(key);
    try {
      return await holding([key], fn);
    } finally {
      await leaveTurn(key);
    }
  });
}

/** fn in this process's turn on every key at once (the claim's one bulkWrite of many members). The
 *  turns go out as one insertMany; if another process holds one of them, those just taken are given
 *  back and all are taken one by one in sorted order, so two such callers never wait on each other. */
export async function exclusivelyAll<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
  const sorted = [...new Set(keys)].filter((k) => !holds(k)).sort();
  if (!sorted.length) return fn();
  for (const key of sorted) queued.set(key, (queued.get(key) ?? 0) + 1);
  return seriallyAll(sorted, async () => {
    for (const key of sorted) {
      const more = queued.get(key)! - 1;
      if (more) queued.set(key, more);
      else queued.delete(key);
    }
    try {
      const taken = await Promise.all(sorted.map(async (key) => {
        if (reuse(key)) return true;
        const won = await insertTurns(key);
        if (won) holdTurn(key);
        return won;
      }));
      if (taken.includes(false)) {
        await Promise.all(sorted.map((key) => giveTurn(key)));
        for (const key of sorted) await takeTurn(key);
      }
      return await holding(sorted, fn);
    } finally {
      await Promise.all(sorted.map((key) => leaveTurn(key)));
    }
  });
}

/** After a write in the turn: given back unless more writes of the key are queued here (and no other
 *  process has waited past MAX_HOLD_MS). */
async function leaveTurn(key: string): Promise<void> {
  const turn = held.get(key);
  const kept = keptTurn(key);
  const othersWait = turn && Date.now() - turn.since > (kept ? HOLD_MS : MAX_HOLD_MS);
  if (turn && kept && !othersWait && !queued.get(key)) {
    // Kept for the next write; given back in the key's order of writes, after any queued meanwhile.
    turn.idle = setTimeout(() => void serially(key, async () => {
      if (held.get(key) === turn && turn.idle && !queued.get(key)) await giveTurn(key);
    }), KEEP_MS);
    turn.idle.unref();
    return;
  }
  if (!queued.get(key) || othersWait) {
    await giveTurn(key);
    // Let a waiting process in before this one takes the turn again.
    if (othersWait && queued.get(key)) await sleep(kept ? MAX_POLL_KEPT_MS + 10 : 5);
  }
}

/** True when this process holds the turn on `key` (kept from an earlier write): used again. */
function reuse(key: string): boolean {
  const turn = held.get(key);
  if (!turn) return false;
  clearTimeout(turn.idle);
  turn.idle = undefined;
  return true;
}

async function takeTurn(key: string): Promise<void> {
  if (reuse(key)) return;
  let pause = 1;
  // Who holds it is read when the wait gets long: a kept turn is normally given back within HOLD_MS.
  let knownUntil = keptTurn(key) ? Date.now() + 2 * HOLD_MS : 0;
  while (!(await insertTurns(key))) {
    if (Date.now() >= knownUntil) {
      // Who holds it, and until when (read again only once that time has passed).
      const cur = await turns().findOne({ _id: key });
      if (cur?.owner === PROCESS_ID) break; // taken by an earlier try of ours whose answer was lost
      if (cur && cur.until < Date.now()) {
        // Its process died holding it (a live holder renews it).
        await turns().deleteOne({ _id: key, owner: cur.owner, until: cur.until });
        continue;
      }
      knownUntil = cur?.until ?? 0;
    }
    await sleep(pause);
    pause = Math.min(pause * 2, keptTurn(key) ? MAX_POLL_KEPT_MS : MAX_POLL_MS);
  }
  holdTurn(key);
}

/** The turn on `key` is this process's: renewed while held. */
function holdTurn(key: string): void {
  const renew = setInterval(() => {
    turns().updateOne({ _id: key, owner: PROCESS_ID }, { $set: { until: Date.now() + TURN_TTL_MS } }).catch(() => undefined);
  }, TURN_TTL_MS / 3);
  renew.unref();
  held.set(key, { since: Date.now(), renew, taking: ++takings });
}

/** Gives back every turn this process keeps (before it disconnects: another process would wait
 *  TURN_TTL_MS for them). */
export async function giveBackTurns(): Promise<void> {
  await Promise.all([...held.keys()].map((key) => serially(key, () => giveTurn(key))));
}

async function giveTurn(key: string): Promise<void> {
  const turn = held.get(key);
  if (!turn) return;
  clearInterval(turn.renew);
  clearTimeout(turn.idle);
  held.delete(key);
  // If this fails the turn stays ours in the database: our next takeTurn finds it as ours, another
  // process takes it over after TURN_TTL_MS.
  await deleteTurns(key).catch(() => undefined);
}
