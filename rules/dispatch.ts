// The campaign's dispatch order (§5.4 membersStrategy): which members are ready and in which order
// the campaign grants them lines. One home for the order the claim sorts by (activities/claim.ts),
// the ready queue keeps (models/ready-queue.ts) and the members collection's indexes serve
// (models/member.ts). Field names are the member document's (v3 names, models/member.ts).
import type { CampaignRules } from './types';

export type MembersStrategy = CampaignRules['membersStrategy'];
export const MEMBERS_STRATEGIES = ['next-tries-circuit', 'strict-circuit'] as const satisfies readonly MembersStrategy[];

/** The claim's order per strategy; `_id` last, so the order is total. */
export const CLAIM_SORTS: Record<MembersStrategy, Record<string, 1 | -1>> = {
  // §5.4: retries (latest due first) before never-called members, then priority.
  'next-tries-circuit': { _nextTryTime: -1, priority: -1, _id: 1 },
  // §5.4: the whole list is circled (never-called first) before retries.
  'strict-circuit': { lastCall: 1, priority: -1, _id: 1 },
};

/** The equality fields every ready read filters on (readyFilter), before the sort. */
export const READY_EQUALITY_PREFIX: Record<string, 1> = { dialer: 1, _endCause: 1 };

/** The members index that serves a strategy's ready read: its equality prefix, then the whole sort
 *  key, so MongoDB reads the ready window off the index and stops after k keys. */
export function claimIndexKey(strategy: MembersStrategy): Record<string, 1 | -1> {
  return { ...READY_EQUALITY_PREFIX, ...CLAIM_SORTS[strategy] };
}

/** Members the campaign may grant a line now (a Mongo filter on the members collection). */
export function readyFilter(campaignId: string, now: number): Record<string, unknown> {
  return {
    dialer: campaignId, _endCause: null, _lock: null, _dispatch: null, _waitingForResultStatusCb: null,
    $or: [{ _readyAt: null }, { _readyAt: { $lte: now } }],
  };
}

/** The conditions of readyFilter, checked on a member document already read. */
export function isReady(d: Record<string, unknown> | null, campaignId: string, now: number): boolean {
  if (!d || d.dialer !== campaignId) return false;
  const nul = (k: string) => d[k] === null || d[k] === undefined;
  if (!nul('_endCause') || !nul('_lock') || !nul('_dispatch') || !nul('_waitingForResultStatusCb')) return false;
  return nul('_readyAt') || (typeof d._readyAt === 'number' && d._readyAt <= now);
}

/** A member's fields the dispatch order and the ready queue need. */
export interface DispatchFields {
  _id: unknown;
  priority?: number | null;
  _readyAt?: number | null;
  _nextTryTime?: number | null;
  lastCall?: number | null;
  _probeCount?: number | null;
  _endCause?: string | null;
}

/** Never dialled and nothing to wait for: such members are queued as id chunks per priority
 *  (models/ready-queue.ts), the rest one timed entry each. */
export function isNeverDialled(m: DispatchFields): boolean {
  return !m._probeCount && m._readyAt == null && m._nextTryTime == null;
}

/** The sort key of a never-dialled member: no next try, never called. */
export function neverDialledKey(_id: unknown, priority: number): Record<string, unknown> {
  return { _id, _nextTryTime: null, priority, lastCall: 0 };
}

/** Fresh (never-dialled) chunks are read highest priority first, as every sort above orders
 *  priority descending and never-dialled members tie on the keys before it. */
export function byPriorityDescending(a: { priority: number }, b: { priority: number }): number {
  return b.priority - a.priority;
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

/** A comparison that orders documents as MongoDB's sort does, for the values these fields hold
 *  (null/missing < numbers < strings < ObjectIds): FerretDB v1's claim and the queue merge sort
 *  with it, MongoDB with its index. */
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
