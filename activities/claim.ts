// Claiming ready members for a campaign's free lines: the ready queue is the members collection
// itself (members due, not leased, not locked, not waiting for a result status), read in the
// campaign's order (§5.4 membersStrategy). See docs/architecture.md, "Dispatch design".
//
// One claim batch = ONE ordered read of the next candidates ("the ready window"), then one atomic
// findOneAndUpdate per candidate by `_id` that re-checks every ready condition, so a candidate that
// changed meanwhile (taken, edited, ended) is skipped, never double-granted. Previously every grant
// was its own sorted findOneAndUpdate over the whole ready set: 50 sorts per batch.
//
// Where the sort runs depends on the server. MongoDB walks the index of models/member.ts (the
// equality prefix, then the whole sort key with `_id`) and stops after `k` keys. FerretDB v1
// (SQLite) uses no index for any filter or sort (it pushes down only a filter that is exactly
// `{_id}`): it decodes every document of the collection (~0.3 ms each on the 2-core bench machine,
// bench/ferret-queries.ts) and, for a sort, keeps all matches in memory. There the window is chosen
// here from a streamed cursor with a bounded top-k instead: the same scan, but FerretDB's memory
// stays flat on a million members. Both give the same order: the comparison below follows MongoDB's
// sort rules for the values these fields hold (null/missing < numbers < strings < ObjectIds).
import { Context } from '@temporalio/activity';
import mongoose from 'mongoose';
import { Member } from '../models';

/** Tells Temporal the claim is alive while it reads (no-op outside an activity). */
function heartbeat(): void {
  try {
    Context.current().heartbeat();
  } catch {
    /* not in an activity */
  }
}

/** Heartbeats every 5 s while fn runs: on FerretDB one query can take longer than the timeout. */
export async function heartbeating<T>(fn: () => Promise<T>): Promise<T> {
  heartbeat();
  const timer = setInterval(heartbeat, 5_000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

export type MembersStrategy = 'next-tries-circuit' | 'strict-circuit';

export const CLAIM_SORTS: Record<MembersStrategy, Record<string, 1 | -1>> = {
  // §5.4: retries (latest due first) before never-called members, then priority.
  'next-tries-circuit': { _nextTryTime: -1, priority: -1, _id: 1 },
  // §5.4: the whole list is circled (never-called first) before retries.
  'strict-circuit': { lastCall: 1, priority: -1, _id: 1 },
};

/** Members the campaign may grant a line now. */
export function readyFilter(campaignId: string, now: number): Record<string, unknown> {
  return {
    dialer: campaignId, _endCause: null, _lock: null, _dispatch: null, _waitingForResultStatusCb: null,
    $or: [{ _readyAt: null }, { _readyAt: { $lte: now } }],
  };
}

let sortsOnServer: Promise<boolean> | undefined;
/** True on MongoDB; false on FerretDB, whose buildInfo carries `ferretdbVersion`. Asked once. */
export function serverSortsWithIndexes(): Promise<boolean> {
  sortsOnServer ??= mongoose.connection.db!.admin().command({ buildInfo: 1 })
    .then((info) => !('ferretdbVersion' in info) && !('ferretdbFeatures' in info))
    .catch(() => true);
  return sortsOnServer;
}
/** Tests and benches can force either path. */
export function setServerSortsWithIndexes(v: boolean | undefined): void {
  sortsOnServer = v === undefined ? undefined : Promise.resolve(v);
}

function rank(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return 1;
  if (typeof v === 'string') return 2;
  return 3; // ObjectId
}
function cmpValue(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 0) return 0;
  if (ra === 1) return (a as number) - (b as number);
  const sa = String(a);
  const sb = String(b); // ObjectIds of one process compare as their hex strings do
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}
export function compareBySort(sort: Record<string, 1 | -1>): (a: Record<string, unknown>, b: Record<string, unknown>) => number {
  const keys = Object.entries(sort);
  return (a, b) => {
    for (const [k, dir] of keys) {
      const c = cmpValue(a[k], b[k]);
      if (c !== 0) return dir * c;
    }
    return 0;
  };
}

/** The first `k` ready members in the campaign's order: `_id`s only. */
export async function readyWindow(campaignId: string, strategy: MembersStrategy, now: number, k: number): Promise<unknown[]> {
  return heartbeating(() => readWindow(campaignId, strategy, now, k));
}

async function readWindow(campaignId: string, strategy: MembersStrategy, now: number, k: number): Promise<unknown[]> {
  const sort = CLAIM_SORTS[strategy];
  const filter = readyFilter(campaignId, now);
  if (k <= 0) return [];
  if (await serverSortsWithIndexes()) {
    const docs = await Member.find(filter, { _id: 1 }).sort(sort).limit(k).lean<{ _id: unknown }[]>();
    return docs.map((d) => d._id);
  }
  const cmp = compareBySort(sort);
  const projection = Object.fromEntries(Object.keys(sort).map((f) => [f, 1]));
  const top: Record<string, unknown>[] = []; // sorted, at most k
  for await (const d of Member.find(filter, projection).lean().cursor({ batchSize: 2000 })) {
    const doc = d as Record<string, unknown>;
    if (top.length === k && cmp(doc, top[k - 1]) >= 0) continue;
    let lo = 0;
    let hi = top.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cmp(top[mid], doc) <= 0) lo = mid + 1;
      else hi = mid;
    }
    top.splice(lo, 0, doc);
    if (top.length > k) top.pop();
  }
  return top.map((d) => d._id);
}

/** The earliest `_readyAt` still in the future (members waiting for a retry time), or null. */
export async function nextReadyAt(campaignId: string, now: number): Promise<number | null> {
  return heartbeating(() => earliestReadyAt(campaignId, now));
}

async function earliestReadyAt(campaignId: string, now: number): Promise<number | null> {
  const filter = { dialer: campaignId, _endCause: null, _dispatch: null, _lock: null, _waitingForResultStatusCb: null, _readyAt: { $gt: now } };
  if (await serverSortsWithIndexes()) {
    const next = await Member.findOne(filter, { _readyAt: 1 }).sort({ _readyAt: 1 }).lean<{ _readyAt: number }>();
    return next?._readyAt ?? null;
  }
  let min: number | null = null;
  for await (const d of Member.find(filter, { _readyAt: 1 }).lean().cursor({ batchSize: 2000 })) {
    const at = (d as unknown as { _readyAt: number })._readyAt;
    if (min === null || at < min) min = at;
  }
  return min;
}

/** The claim conditions of readyFilter, checked on a document already read. */
function isReady(d: Record<string, unknown> | null, campaignId: string, now: number): boolean {
  if (!d || d.dialer !== campaignId) return false;
  const nul = (k: string) => d[k] === null || d[k] === undefined;
  if (!nul('_endCause') || !nul('_lock') || !nul('_dispatch') || !nul('_waitingForResultStatusCb')) return false;
  return nul('_readyAt') || (typeof d._readyAt === 'number' && d._readyAt <= now);
}

/**
 * Claims up to `leaseIds.length` ready members in order, giving each one lease id (`_dispatch`).
 * `onClaim` runs as soon as a member is claimed (the caller grants it while the rest are claimed).
 * Returns how many were claimed; fewer than asked means no more members are ready now.
 *
 * MongoDB: the window from the index, and an atomic conditional findOneAndUpdate per candidate.
 * FerretDB v1: every filter but `{_id}` decodes documents until it matches (bench/ferret-queries.ts),
 * so a candidate is read and set by `_id` alone and the conditions are checked here. Safe because
 * this process is the only writer of `_dispatch` while it is null (claims; the member's own workflow
 * writes it only to give its lease back) and its one connection runs its operations in order; the
 * other fields that may change in between (`_readyAt`, `_endCause`, written by the member's
 * workflow) make at worst an unneeded grant, which the member gives back (workflows/member.ts).
 * FerretDB's own findAndModify is a read and then a write too (see "FerretDB and atomicity").
 * The window is not kept between calls: a retry that became due must go before fresh members
 * (§5.4), and only a new read sees it.
 */
export async function claimReady<D>(
  o: { campaignId: string; strategy: MembersStrategy; now: number; leaseIds: string[] },
  onClaim: (leaseId: string, doc: D) => void,
): Promise<number> {
  return heartbeating(() => claimInOrder(o, onClaim));
}

async function claimInOrder<D>(
  o: { campaignId: string; strategy: MembersStrategy; now: number; leaseIds: string[] },
  onClaim: (leaseId: string, doc: D) => void,
): Promise<number> {
  const onServer = await serverSortsWithIndexes();
  let used = 0;
  // A candidate lost to a concurrent change is replaced by reading the window again (rare).
  for (let round = 0; round < 3 && used < o.leaseIds.length; round++) {
    const ids = await readyWindow(o.campaignId, o.strategy, o.now, o.leaseIds.length - used);
    let lost = 0;
    for (const _id of ids) {
      const leaseId = o.leaseIds[used];
      let doc: D | null;
      if (onServer) {
        doc = await Member.findOneAndUpdate({ _id, ...readyFilter(o.campaignId, o.now) }, { $set: { _dispatch: leaseId } }).lean<D>();
      } else {
        const cur = await Member.findById(_id).lean<Record<string, unknown>>();
        doc = isReady(cur, o.campaignId, o.now) ? (cur as D) : null;
        if (doc) await Member.updateOne({ _id }, { $set: { _dispatch: leaseId } });
      }
      if (!doc) {
        lost++;
        continue;
      }
      used++;
      onClaim(leaseId, doc);
    }
    if (lost === 0) break; // the window held every ready member there was
  }
  return used;
}
