// Claiming ready members for a campaign's free lines, in the campaign's order (§5.4
// membersStrategy). See docs/architecture.md, "Dispatch design" and "The ready queue".
//
// Candidates come from the ready queue (models/ready-queue.ts: fresh members as id chunks per
// priority, members waiting for a next try as small timed entries), which FerretDB v1 reads without
// decoding the members collection. Every candidate is re-read by `_id` and claimed only if its
// member document says it is ready, so a candidate that changed meanwhile (taken, edited, ended) is
// skipped, never double-granted.
//
// The fallback when the queue cannot fill a claim is the members collection itself ("the ready
// window"). Where its sort runs depends on the server: MongoDB walks the index of models/member.ts
// (the equality prefix, then the whole sort key with `_id`) and stops after `k` keys; FerretDB v1
// (SQLite) uses no index for any filter or sort (it pushes down only a filter that is exactly
// `{_id}`): it decodes every document of the collection (~0.3 ms each on the 2-core bench machine,
// bench/ferret-queries.ts). There the window is chosen here from a streamed cursor with a bounded
// top-k, so FerretDB's memory stays flat on a million members. Both give the same order: the
// comparison below follows MongoDB's sort rules for the values these fields hold (null/missing <
// numbers < strings < ObjectIds), and the queue merge uses the same comparison (rules/dispatch.ts).
import { Context } from '@temporalio/activity';
import { isMongoDB } from '../lib/db';
import { Member } from '../models';
import { consumeFresh, dropTimed, freshHeads, timedEntries, type FreshChunk } from '../models/ready-queue';
import { CLAIM_SORTS, compareBySort, isReady, neverDialledKey, readyFilter, type MembersStrategy } from '../rules/dispatch';

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

/** The first `k` ready members in the campaign's order: `_id`s only. */
export async function readyWindow(campaignId: string, strategy: MembersStrategy, now: number, k: number): Promise<unknown[]> {
  return heartbeating(() => readWindow(campaignId, strategy, now, k));
}

async function readWindow(campaignId: string, strategy: MembersStrategy, now: number, k: number): Promise<unknown[]> {
  const sort = CLAIM_SORTS[strategy];
  const filter = readyFilter(campaignId, now);
  if (k <= 0) return [];
  if (await isMongoDB()) {
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

/** The earliest `_readyAt` still in the future among the members waiting for a next try, or null. */
export async function nextReadyAt(campaignId: string, now: number): Promise<number | null> {
  let min: number | null = null;
  for (const e of await timedEntries(campaignId)) {
    const at = e._readyAt;
    if (typeof at === 'number' && at > now && (min === null || at < min)) min = at;
  }
  return min;
}

/** Per campaign, in this process: when the fallback read of the members collection last ran, and
 *  whether it found members the queue had missed (then it runs again at once next time). */
const fallbackRuns = new Map<string, { at: number; found: boolean }>();
/** How often, at most, a claim that the queue cannot fill re-reads the members collection for
 *  members missing from the queue (a full decode on FerretDB v1). */
export const FALLBACK_INTERVAL_MS = 5 * 60_000;

function fallbackDue(campaignId: string, now: number): boolean {
  const last = fallbackRuns.get(campaignId);
  return !last || last.found || now - last.at >= FALLBACK_INTERVAL_MS || now < last.at;
}

/**
 * Claims up to `leaseIds.length` ready members in order, giving each one lease id (`_dispatch`).
 * `onClaim` runs as soon as a member is claimed (the caller grants it while the rest are claimed).
 * Returns how many were claimed; fewer than asked means no more members are ready now.
 *
 * Candidates come from the ready queue (models/ready-queue.ts): the due timed entries and the head
 * of each fresh priority, merged in the campaign's order. Each is re-read by `_id` and claimed only
 * if the member document still says it is ready; an entry that no longer describes its member is
 * dropped. When the queue cannot fill the request, the members collection itself is read in order
 * (the old ready window) for members the queue missed — at most every FALLBACK_INTERVAL_MS while it
 * finds none.
 *
 * The claim write: on MongoDB a conditional findOneAndUpdate. FerretDB v1 decodes the collection up to
 * the match for any filter but `{_id}` (bench/ferret-queries.ts), so there the member is read and set
 * by `_id` alone and the conditions are checked here. Safe because this process is the only writer of
 * `_dispatch` while it is null (claims; the member's own workflow writes it only to give its lease
 * back) and its one connection runs its operations in order; the other fields that may change in
 * between (`_readyAt`, `_endCause`, written by the member's workflow) make at worst an unneeded
 * grant, which the member gives back (workflows/member.ts). FerretDB's own findAndModify is a read
 * and then a write too (see "FerretDB and atomicity").
 */
export async function claimReady<D>(
  o: { campaignId: string; strategy: MembersStrategy; now: number; leaseIds: string[] },
  onClaim: (leaseId: string, doc: D) => void,
): Promise<number> {
  return heartbeating(async () => {
    let used = await claimFromQueue(o, onClaim);
    if (used < o.leaseIds.length && fallbackDue(o.campaignId, o.now)) {
      const found = await claimFromMembers({ ...o, leaseIds: o.leaseIds.slice(used) }, onClaim);
      fallbackRuns.set(o.campaignId, { at: o.now, found: found > 0 });
      used += found;
    }
    return used;
  });
}

/** Sets the lease on a member just read as ready; null if it is not ready after all. */
async function claimMember<D>(doc: Record<string, unknown>, o: { campaignId: string; now: number }, leaseId: string): Promise<D | null> {
  if (!isReady(doc, o.campaignId, o.now)) return null;
  if (await isMongoDB()) {
    return Member.findOneAndUpdate({ _id: doc._id, ...readyFilter(o.campaignId, o.now) }, { $set: { _dispatch: leaseId } }).lean<D>();
  }
  await Member.updateOne({ _id: doc._id }, { $set: { _dispatch: leaseId } });
  return doc as D;
}

interface Candidate {
  _id: unknown;
  key: Record<string, unknown>;
  /** The fresh chunk it came from; none for a timed entry. */
  chunk?: FreshChunk;
}

/** The first `k` candidates of the queue in the campaign's order. */
async function queueWindow(campaignId: string, strategy: MembersStrategy, now: number, k: number): Promise<Candidate[]> {
  const timed = (await timedEntries(campaignId))
    .filter((e) => e._readyAt === null || e._readyAt === undefined || (e._readyAt as number) <= now)
    .map((e) => ({ _id: e._id, key: e }));
  const fresh = (await freshHeads(campaignId, k)).flatMap((chunk) =>
    chunk.ids.slice(0, k).map((_id) => ({ _id, chunk, key: neverDialledKey(_id, chunk.priority) })),
  );
  const cmp = compareBySort(CLAIM_SORTS[strategy]);
  return [...timed, ...fresh].sort((a, b) => cmp(a.key, b.key)).slice(0, k);
}

async function claimFromQueue<D>(
  o: { campaignId: string; strategy: MembersStrategy; now: number; leaseIds: string[] },
  onClaim: (leaseId: string, doc: D) => void,
): Promise<number> {
  let used = 0;
  const skipped = new Set<string>(); // timed entries of members not ready now: kept, not re-read
  // A candidate lost to a change is replaced by reading the window again.
  for (let round = 0; round < 5 && used < o.leaseIds.length; round++) {
    const need = o.leaseIds.length - used;
    const window = (await queueWindow(o.campaignId, o.strategy, o.now, need + skipped.size))
      .filter((c) => !skipped.has(String(c._id)))
      .slice(0, need);
    if (!window.length) break;
    const taken = new Map<FreshChunk, Set<string>>();
    let lost = 0;
    for (const c of window) {
      const doc = await Member.findById(c._id).lean<Record<string, unknown>>();
      const gone = !doc || String(doc.dialer) !== o.campaignId || !!doc._endCause;
      // A fresh entry is used once: claimed now, or its member was claimed, edited or ended meanwhile.
      const stale = gone || (c.chunk !== undefined && ((doc!.priority ?? 0) !== c.chunk.priority || !isReady(doc, o.campaignId, o.now)));
      const claimed = !stale && doc ? await claimMember<D>(doc, o, o.leaseIds[used]) : null;
      if (c.chunk) {
        if (!taken.has(c.chunk)) taken.set(c.chunk, new Set());
        taken.get(c.chunk)!.add(String(c._id));
      } else if (gone || claimed) {
        await dropTimed(o.campaignId, c._id);
      } else {
        skipped.add(String(c._id));
      }
      if (!claimed) {
        lost++;
        continue;
      }
      onClaim(o.leaseIds[used], claimed);
      used++;
    }
    for (const [chunk, ids] of taken) await consumeFresh(chunk, ids);
    if (lost === 0) break;
  }
  return used;
}

/** The fallback: the old ready window, read from the members collection itself. */
async function claimFromMembers<D>(
  o: { campaignId: string; strategy: MembersStrategy; now: number; leaseIds: string[] },
  onClaim: (leaseId: string, doc: D) => void,
): Promise<number> {
  let used = 0;
  for (let round = 0; round < 3 && used < o.leaseIds.length; round++) {
    const ids = await readyWindow(o.campaignId, o.strategy, o.now, o.leaseIds.length - used);
    let lost = 0;
    for (const _id of ids) {
      const doc = await Member.findById(_id).lean<Record<string, unknown>>();
      const claimed = doc ? await claimMember<D>(doc, o, o.leaseIds[used]) : null;
      if (!claimed) {
        lost++;
        continue;
      }
      await dropTimed(o.campaignId, _id);
      onClaim(o.leaseIds[used], claimed);
      used++;
    }
    if (lost === 0) break; // the window held every ready member there was
  }
  return used;
}
