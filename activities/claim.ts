// Claiming ready members for a campaign's free lines, in the campaign's order (§5.4
// membersStrategy). See docs/architecture.md, "Dispatch design" and "The ready queue".
//
// Candidates come from the ready queue (models/ready-queue.ts: fresh members as id chunks per
// priority, members waiting for a next try as small timed entries), which FerretDB v1 reads without
// decoding the members collection. The candidates of a round are re-read in one query by `_id` list
// and claimed in one conditional bulk write (the ready filter per member), so a candidate that
// changed meanwhile (taken, edited, ended) is skipped, never double-granted.
//
// The fallback when the queue cannot fill a claim is the members collection itself ("the ready
// window"), chosen here from a streamed cursor with a bounded top-k: FerretDB v1 (SQLite) uses no
// index for any filter or sort (it pushes down only a filter that is exactly `{_id}`) and would
// decode and sort every document of the collection in memory; streamed, its memory stays flat on a
// million members. One code path on every server (on MongoDB it reads the ready members' sort keys
// instead of walking an index: the fallback runs at most every FALLBACK_INTERVAL_MS while it finds
// nothing). The comparison follows MongoDB's sort rules for the values these fields hold
// (null/missing < numbers < strings < ObjectIds), and the queue merge uses the same (rules/dispatch.ts).
import { Context } from '@temporalio/activity';
import { Member } from '../models';
import { MemberStore } from '../models/member-store';
import { freshHeads, freshView, timedEntries, type FreshChunk, type FreshView } from '../models/ready-queue';
import { exclusivelyAll, turnKey } from '../models/serial';
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

/** The earliest `_readyAt` still in the future among the members waiting for a next try, or null;
 *  from the timed entries a claim just read, if given. */
export async function nextReadyAt(campaignId: string, now: number, timed?: Record<string, unknown>[] | null): Promise<number | null> {
  let min: number | null = null;
  for (const e of timed ?? (await timedEntries(campaignId))) {
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

/** Per campaign, in this process: its fresh queue as the last claim saw it (models/ready-queue.ts
 *  FreshView), so a round neither lists the collections nor reads a priority found empty. It is
 *  made again when the campaign was woken since (its workflow passes a new `generation`: members
 *  stored through the API wake it) and after VIEW_TTL_MS (chunks stored without a wake-up). */
const views = new Map<string, { generation: string | undefined; at: number; view: FreshView }>();
const VIEW_TTL_MS = 10_000;

async function viewOf(campaignId: string, generation: string | undefined): Promise<FreshView> {
  const now = Date.now();
  const known = views.get(campaignId);
  if (known && generation !== undefined && known.generation === generation && now - known.at < VIEW_TTL_MS && now >= known.at) return known.view;
  const view = await freshView(campaignId);
  views.set(campaignId, { generation, at: now, view });
  return view;
}

function fallbackDue(campaignId: string, now: number): boolean {
  const last = fallbackRuns.get(campaignId);
  return !last || last.found || now - last.at >= FALLBACK_INTERVAL_MS || now < last.at;
}

/** What one claim call read, for its caller: the timed entries, last read (nextReadyAt). */
export interface ClaimReads {
  timed: Record<string, unknown>[] | null;
}

interface ClaimOptions {
  campaignId: string;
  strategy: MembersStrategy;
  now: number;
  leaseIds: string[];
  /** Changes whenever the campaign may have new fresh members (see `views`); none: read afresh. */
  generation?: string;
  reads?: ClaimReads;
}

/**
 * Claims up to `leaseIds.length` ready members in order, giving each one lease id (`_dispatch`).
 * `onClaim` runs for each member claimed, after the batch that claimed it.
 * Returns how many were claimed; fewer than asked means no more members are ready now.
 *
 * Candidates come from the ready queue (models/ready-queue.ts): the due timed entries and the head
 * of each fresh priority, merged in the campaign's order. Each is re-read by `_id` and claimed only
 * if the member document still says it is ready; an entry that no longer describes its member is
 * dropped. When the queue cannot fill the request, the members collection itself is read in order
 * (the old ready window) for members the queue missed — at most every FALLBACK_INTERVAL_MS while it
 * finds none.
 *
 * A round costs a few commands whatever its size: the candidates' documents in one find by `_id`
 * list, their claims in bulk writes of ≤ 50 (models/member-store.ts `claimMany`: each update by
 * `_id` with the ready filter, which the patched FerretDB serves from the `_id` index), a re-read of
 * `_dispatch` only when some claim was skipped, the used queue entries.
 */
export async function claimReady<D>(
  o: ClaimOptions,
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

interface Candidate {
  _id: unknown;
  key: Record<string, unknown>;
  /** The fresh chunk it came from; none for a timed entry. */
  chunk?: FreshChunk;
}

/** The first `k` candidates of the queue in the campaign's order. */
async function queueWindow(o: ClaimOptions, view: FreshView, k: number): Promise<Candidate[]> {
  const { campaignId, strategy, now } = o;
  const entries = await timedEntries(campaignId);
  if (o.reads) o.reads.timed = entries;
  const timed = entries
    .filter((e) => e._readyAt === null || e._readyAt === undefined || (e._readyAt as number) <= now)
    .map((e) => ({ _id: e._id, key: e }));
  const fresh = (await freshHeads(campaignId, k, view)).flatMap((chunk) =>
    chunk.ids.slice(0, k).map((_id) => ({ _id, chunk, key: neverDialledKey(_id, chunk.priority) })),
  );
  const cmp = compareBySort(CLAIM_SORTS[strategy]);
  return [...timed, ...fresh].sort((a, b) => cmp(a.key, b.key)).slice(0, k);
}

async function claimFromQueue<D>(o: ClaimOptions, onClaim: (leaseId: string, doc: D) => void): Promise<number> {
  const view = await viewOf(o.campaignId, o.generation);
  const free = [...o.leaseIds]; // lease ids not given yet, in order
  const skipped = new Set<string>(); // timed entries of members not ready now: kept, not re-read
  // A candidate lost to a change is replaced by reading the window again.
  for (let round = 0; round < 5 && free.length; round++) {
    const need = free.length;
    const window = (await queueWindow(o, view, need + skipped.size))
      .filter((c) => !skipped.has(String(c._id)))
      .slice(0, need);
    if (!window.length) break;
    const taken = new Map<FreshChunk, Set<string>>();
    const gone: unknown[] = [];
    const tries: { doc: Record<string, unknown>; leaseId: string; fresh: boolean; c: Candidate }[] = [];
    const claimed = await inTurns(window.map((c) => c._id), async () => {
      const docs = await readMembers(window.map((c) => c._id));
      for (const c of window) {
        const doc = docs.get(String(c._id));
        const isGone = !doc || String(doc.dialer) !== o.campaignId || !!doc._endCause;
        // A fresh entry is used once: claimed now, or its member was claimed, edited or ended meanwhile.
        if (c.chunk) {
          if (!taken.has(c.chunk)) taken.set(c.chunk, new Set());
          taken.get(c.chunk)!.add(String(c._id));
        } else if (isGone) {
          gone.push(c._id);
        }
        const stale = isGone || (c.chunk !== undefined && (doc!.priority ?? 0) !== c.chunk.priority);
        if (!stale && isReady(doc!, o.campaignId, o.now)) tries.push({ doc: doc!, leaseId: free[tries.length], fresh: c.chunk !== undefined, c });
        else if (!c.chunk && !isGone) skipped.add(String(c._id));
      }
      return MemberStore.claimMany<D & { _id: unknown; _dispatch: string }>(tries, o);
    });
    const won = new Set(claimed.map((d) => String(d._id)));
    for (const t of tries) if (!won.has(String(t.doc._id)) && !t.c.chunk) skipped.add(String(t.doc._id));
    const used = new Set(claimed.map((d) => d._dispatch));
    free.splice(0, free.length, ...free.filter((id) => !used.has(id)));
    for (const d of claimed) onClaim(d._dispatch, d);
    for (const [chunk, ids] of taken) await MemberStore.passFresh(chunk, ids);
    if (gone.length) await MemberStore.dropQueued(o.campaignId, gone);
    if (claimed.length === window.length) break;
  }
  return o.leaseIds.length - free.length;
}

/** fn (a read of members and their claim) in the members' turns (models/serial.ts): no API edit of a
 *  never-granted member falls between the claim's read and its write, so the document a claim
 *  returns is the member's state when it was claimed, which the grant hands to its workflow (after
 *  the claim the API edits the member through that workflow). */
async function inTurns<T>(ids: unknown[], fn: () => Promise<T>): Promise<T> {
  return exclusivelyAll(ids.map((id) => turnKey.member(id)), fn);
}

/** Members by `_id`, in one query (FerretDB serves an `_id` list from its index), without their
 *  attempt log (the grant needs the name and numbers, the claim the dispatch fields). */
async function readMembers(ids: unknown[]): Promise<Map<string, Record<string, unknown>>> {
  const docs = await Member.find({ _id: { $in: ids } }, { _log: 0 }).lean<Record<string, unknown>[]>();
  return new Map(docs.map((d) => [String(d._id), d]));
}

/** The fallback: the old ready window, read from the members collection itself. */
async function claimFromMembers<D>(
  o: ClaimOptions,
  onClaim: (leaseId: string, doc: D) => void,
): Promise<number> {
  const free = [...o.leaseIds];
  for (let round = 0; round < 3 && free.length; round++) {
    const ids = await readyWindow(o.campaignId, o.strategy, o.now, free.length);
    if (!ids.length) break;
    const claimed = await inTurns(ids, async () => {
      const docs = await readMembers(ids);
      const found = ids.map((id) => docs.get(String(id))).filter((d): d is Record<string, unknown> => !!d);
      const tries = found.map((doc, i) => ({ doc, leaseId: free[i] }));
      return MemberStore.claimMany<D & { _dispatch: string }>(tries, o);
    });
    const used = new Set(claimed.map((d) => d._dispatch));
    free.splice(0, free.length, ...free.filter((id) => !used.has(id)));
    for (const d of claimed) onClaim(d._dispatch, d);
    if (claimed.length === ids.length) break; // the window held every ready member there was
  }
  return o.leaseIds.length - free.length;
}
