// Every write of a member document (collection `members`), named by the transition it makes, with
// the campaign's ready queue (models/ready-queue.ts) kept in step in the same call. Nothing else
// writes members or the queue (test/single-writer.test.ts).
//
// Who may call which transition (docs/architecture.md, "Who writes what"):
// - the API, for members no workflow owns: `insert`, `editUnclaimed`, `endUnclaimed`, `resetEnded`,
//   `remove`/`removeMany`/`dropCampaign` (the API's routes reach these through services/);
// - the purge workflow's activity, for a deleted campaign's members: `purgeDeleted`;
// - the campaign workflow's claim: `claimMany` (and `passFresh`/`dropQueued` for queue entries it used),
//   `reclaim` for a lease whose member workflow is gone;
// - the member's own workflow, once granted: `reserve` (a call placed), `settle` (the call's outcome
//   stored), `save` (wait, status, edit, end), `release` (the lease given back).
//
// The claim rule, which keeps the API and the campaign from both winning a never-granted member:
// the API writes a member only with `_dispatch: null, _lock: null` in the filter and only when no
// member workflow runs for it; the claim re-reads the member by `_id` and sets `_dispatch` only where
// the ready filter still matches it. A member claimed meanwhile is edited through its workflow instead
// (services/members.ts). Where two writers can meet — a member holding no lease: the claim, the API,
// its workflow's `save`/`release` — its writes run one at a time across the processes (models/serial.ts
// `exclusively`, the claim's bulk write `exclusivelyAll`); `reserve` and `settle` run while the member
// holds its lease, which keeps every other writer out, and take no turn (docs/architecture.md, "Who
// writes a member in which state"). The member workflows' writes (reserve, settle, release, save) and their timed queue entries go
// through the group commit (models/group-commit.ts): one bulkWrite for the members writing at once.
import { setTimeout as sleep } from 'node:timers/promises';
import crypto from 'node:crypto';
import mongoose from 'mongoose';
import { mergeClientPatch, type ClientPatch, type MemberState } from '../rules';
import { isReady, readyFilter, type DispatchFields } from '../rules/dispatch';
import { createLogger } from '../lib/logger';
import { isDuplicateKeyError, isTransientMongoError } from '../lib/db';
import { Member, memberState, memberStateSet, type MemberDoc } from './member';
import { consumeFresh, dropQueues, dropTimed, dropTimedMany, enqueueMembers, notBeforeStatus, putTimed, requeue, asId, REQUEUE_FIELDS, type FreshChunk, type QueueWriter } from './ready-queue';
import { exclusively, exclusivelyAll, turnKey, withTimeout } from './serial';
import { batchedUpdate, perTick } from './group-commit';
import { ExpiryIndex } from './expiry-index';

const log = createLogger('member-store');
type LogEntry = Record<string, unknown> & { session?: string; steps?: { time: number; data: string }[] };
type Id = unknown;

const one = <T>(memberId: Id, fn: () => Promise<T>) => exclusively(turnKey.member(memberId), fn);

// ---- Member counts by state, kept by the transitions below ----
//
// `dialer_member_counts` holds per campaign `{total, endedAll, ended: {<end cause>: n}}` as one document per
// writing process (`<campaign>:<writer>`, writer = api | worker | main), and a count is their sum.
// FerretDB v1 applies `$inc` as a read and a write, so two processes incrementing one document could
// lose a step; here each document has one kind of process writing it, one update at a time across
// the processes (models/serial.ts `exclusively`: several workers share `worker`), and the sum is exact. A process that stops between a member write and its count write leaves the
// counts off by that member until `recountCampaign` (docs/architecture.md, "Member counts").
export const COUNTS_WRITERS = ['api', 'worker', 'main'] as const;
export type CountsWriter = (typeof COUNTS_WRITERS)[number];
let countsWriter: CountsWriter = 'main';
/** Which counter document this process writes (api/main.ts and worker.ts name theirs). */
export function setCountsWriter(w: CountsWriter): void {
  countsWriter = w;
}
const countsColl = () => mongoose.connection.collection<{ _id: string; campaign: string; total?: number; endedAll?: number; ended?: Record<string, number>; ops?: Record<string, number> }>('dialer_member_counts');
const countsId = (campaignId: string, w: CountsWriter = countsWriter) => `${campaignId}:${w}`;
/** End causes kept as field names; any other is counted only in `total` (and answered by a query). */
export const COUNTED_CAUSE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** A member's end state before or after a transition: absent (not stored), null (not ended) or its cause. */
type EndState = string | null | undefined;
const endOf = (v: unknown): EndState => (v == null ? null : String(v));

/** How long a count write, or the read of a member whose write failed, is retried through transient
 *  store errors (a FerretDB restart). */
const COUNT_RETRY_MS = 60_000;
/** One attempt of a count write with no answer by then is retried (an answer that never came held
 *  the turn for good in a fault run: models/serial.ts). */
const COUNT_ATTEMPT_TIMEOUT_MS = 10_000;
/** The id of a change whose write needed more than one attempt stays in the document this long:
 *  an earlier attempt the store still runs after its connection was cut must find it there. */
const RETRIED_ID_KEEP_MS = 10 * 60_000;
/** Per counter document, the ids of this process's finished count writes and from when they may be
 *  `$unset` (by this process's next write of that document, in the same command). */
const finishedOps = new Map<string, Map<string, number>>();

/** fn, tried again after transient store errors (a FerretDB restart) with backoff, for up to
 *  COUNT_RETRY_MS; `onRetry` is told of each retry. */
async function retryingTransient<T>(fn: () => Promise<T>, onRetry: () => void = () => undefined): Promise<T> {
  const started = Date.now();
  for (let pause = 100; ; pause = Math.min(pause * 2, 2000)) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientMongoError(err) || Date.now() - started >= COUNT_RETRY_MS) throw err;
      onRetry();
      await sleep(pause);
    }
  }
}

/** Applies member transitions `[before, after]` of one campaign to this process's counter document,
 *  once. The changes of COUNTS_WINDOW_MS (and those made while the document's previous write was
 *  in flight: `perTick`) are summed into one change, written as one command that every caller
 *  awaits; the change gets an id, and the update applies only where the document does not hold that
 *  id yet and records it (`ops.<id>`) in the same write, so an attempt retried after a lost answer
 *  changes nothing more. Retried on transient store errors for up to COUNT_RETRY_MS, each attempt in
 *  this process's turn on the document; ids of finished changes are removed by the next one. */
async function countChanges(campaignId: string, changes: [EndState, EndState][]): Promise<void> {
  const inc: Record<string, number> = {};
  const add = (k: string, n: number) => (inc[k] = (inc[k] ?? 0) + n);
  for (const [before, after] of changes) {
    if (before === after) continue;
    if (before !== undefined) {
      add('total', -1);
      if (before) add('endedAll', -1);
      if (before && COUNTED_CAUSE.test(before)) add(`ended.${before}`, -1);
    }
    if (after !== undefined) {
      add('total', 1);
      if (after) add('endedAll', 1);
      if (after && COUNTED_CAUSE.test(after)) add(`ended.${after}`, 1);
    }
  }
  if (Object.values(inc).some((n) => n !== 0)) await addCounts(countsId(campaignId), { campaignId, inc }, true);
}

/** How long a count change waits for others of its document to be summed with: at 25–30 member
 *  transitions a second, most came alone in their event-loop turn (one update each). */
const COUNTS_WINDOW_MS = 25;

const addCounts = perTick<{ campaignId: string; inc: Record<string, number> }, void>(async (docId, changes) => {
  const inc: Record<string, number> = {};
  for (const c of changes) for (const [k, n] of Object.entries(c.inc)) inc[k] = (inc[k] ?? 0) + n;
  await writeCounts(docId, changes[0].campaignId, inc);
  return changes.map(() => undefined);
}, COUNTS_WINDOW_MS);

async function writeCounts(docId: string, campaignId: string, inc: Record<string, number>): Promise<void> {
  for (const k of Object.keys(inc)) if (inc[k] === 0) delete inc[k];
  if (!Object.keys(inc).length) return;
  const op = `o${crypto.randomBytes(8).toString('hex')}`;
  let attempts = 1;
  try {
    await retryingTransient(() => exclusively(turnKey.counts(docId), () => writeCountChange(docId, campaignId, op, inc)), () => attempts++);
    if (attempts > 1) log.info({ campaignId, attempts }, 'member counts written after a store error');
  } catch (err) {
    log.warn({ campaignId, attempts, err: String(err) }, 'member counts not updated; recountCampaign repairs them');
  }
  const finished = finishedOps.get(docId) ?? new Map<string, number>();
  finished.set(op, attempts > 1 ? Date.now() + RETRIED_ID_KEEP_MS : 0);
  finishedOps.set(docId, finished);
}

/** One attempt of a count change `op` (in the turn on the document). */
async function writeCountChange(docId: string, campaignId: string, op: string, inc: Record<string, number>): Promise<void> {
  const finished = finishedOps.get(docId);
  const now = Date.now();
  const prune = [...(finished ?? [])].filter(([, from]) => from <= now).map(([id]) => id);
  try {
    await withTimeout(countsColl().updateOne(
      { _id: docId, [`ops.${op}`]: { $exists: false } },
      { $inc: inc, $set: { campaign: campaignId, [`ops.${op}`]: now }, ...(prune.length ? { $unset: Object.fromEntries(prune.map((id) => [`ops.${id}`, ''])) } : {}) },
      { upsert: true },
    ), COUNT_ATTEMPT_TIMEOUT_MS);
  } catch (err) {
    // The filter found the id: an earlier attempt applied this change (its answer was lost), and the
    // upsert then inserts an `_id` that exists (FerretDB and MongoDB alike).
    if (isDuplicateKeyError(err)) return;
    throw err;
  }
  for (const id of prune) finished?.delete(id);
}

// ---- Exact-number lookups ----
//
// `dialer_member_numbers`: one document per member and number, `{_id: <campaign>:<number>:<member>,
// key: <campaign>:<number>, campaign, member}`, written with the member (insert, edits, removal), so
// each has the member's writer. The embedded store pushes an equality on an index's first key down
// to SQLite, so `{key}` is an index lookup where `communications.number` reads every member.
type NumberDoc = { _id: string; key: string; campaign: string; member: unknown };
const numbersColl = () => mongoose.connection.collection<NumberDoc>('dialer_member_numbers');
let numbersIndexed: Promise<unknown> | undefined;
function numbers() {
  numbersIndexed ??= Promise.all([numbersColl().createIndex({ key: 1 }), numbersColl().createIndex({ campaign: 1 })]).catch((err: unknown) => {
    numbersIndexed = undefined;
    throw err;
  });
  return numbersIndexed.then(numbersColl);
}
const numbersOf = (d: { communications?: unknown }): string[] =>
  [...new Set(((d.communications as { number?: unknown }[] | undefined) ?? []).map((c) => c?.number).filter((n): n is string => typeof n === 'string' && n !== ''))];

/** Puts and drops lookups of members' numbers (`add`/`drop` per member). A failure is logged: a
 *  missing lookup makes a search fall back to reading the members (api/members.ts). */
async function keepNumbers(campaignId: string, changes: { member: unknown; add?: string[]; drop?: string[] }[]): Promise<void> {
  const id = (n: string, m: unknown) => `${campaignId}:${n}:${String(m)}`;
  const put = changes.flatMap((c) => (c.add ?? []).map((n) => ({ _id: id(n, c.member), key: `${campaignId}:${n}`, campaign: campaignId, member: c.member })));
  const drop = changes.flatMap((c) => (c.drop ?? []).map((n) => id(n, c.member)));
  try {
    const coll = await numbers();
    if (drop.length) await coll.deleteMany({ _id: { $in: drop } });
    // Inserted, not upserted: FerretDB writes an insert 100 documents per transaction and an upsert
    // one per transaction (~15× the CPU). A lookup is a function of its `_id`, so one that exists
    // (a duplicate key) is already right.
    for (let i = 0; i < put.length; i += 1000) {
      await coll.insertMany(put.slice(i, i + 1000), { ordered: false }).catch((err: unknown) => {
        if (!isDuplicateKeyError(err)) throw err;
      });
    }
  } catch (err) {
    log.warn({ campaignId, err: String(err) }, 'number lookups not updated');
  }
}

/** The members of a campaign that had `number` when last written through the store. */
async function membersWithNumber(campaignId: string, number: string): Promise<unknown[]> {
  return (await (await numbers()).find({ key: `${campaignId}:${number}` }, { projection: { member: 1 } }).limit(10_000).toArray()).map((d) => d.member);
}

// ---- Progress of a members reset ----
//
// `dialer_member_resets`: one document per campaign, the newest reset of its members — written by
// the process running the reset (the API, services/members.ts) after each batch, read by
// `GET …/members/reset` so a console can show how far it is.
export interface ResetProgress {
  _id: string;
  domain: string;
  state: 'running' | 'done' | 'failed';
  /** Members reset so far. */
  reset: number;
  /** Ended members when it started (the counts): at most this many are reset. */
  ended: number;
  startedAt: number;
  updatedAt: number;
  finishedAt?: number;
  error?: string;
}
const resetsColl = () => mongoose.connection.collection<ResetProgress>('dialer_member_resets');

export interface MemberCounts {
  /** False when no counter document exists: no member was ever stored through the store. */
  kept: boolean;
  total: number;
  /** Not ended: waiting for a call, or in one. */
  notEnded: number;
  ended: number;
  /** Ended, per end cause (causes that are plain names: COUNTED_CAUSE). */
  byCause: Record<string, number>;
}

/** The campaign's member counts: the sum of every writer's document (read by `_id` list). */
async function readCounts(campaignId: string): Promise<MemberCounts> {
  const docs = await countsColl().find({ _id: { $in: COUNTS_WRITERS.map((w) => countsId(campaignId, w)) } }, { projection: { ops: 0 } }).toArray();
  const out: MemberCounts = { kept: docs.length > 0, total: 0, notEnded: 0, ended: 0, byCause: {} };
  for (const d of docs) {
    out.total += d.total ?? 0;
    out.ended += d.endedAll ?? 0;
    for (const [c, n] of Object.entries(d.ended ?? {})) out.byCause[c] = (out.byCause[c] ?? 0) + n;
  }
  for (const c of Object.keys(out.byCause)) if (!out.byCause[c]) delete out.byCause[c];
  out.notEnded = out.total - out.ended;
  return out;
}

/** `_log` (newest-first, v3) and the end state a write is about to change. Read-modify-write is
 *  safe: only the member's owner writes it. */
async function readLog(memberId: Id): Promise<{ log: LogEntry[]; dialer?: string; end: EndState; numbers: string[] }> {
  const doc = await Member.findById(memberId, { _log: 1, _endCause: 1, dialer: 1, 'communications.number': 1 }).lean<{ _log?: LogEntry[]; dialer?: string; _endCause?: string | null; communications?: unknown }>();
  return { log: doc?._log ?? [], dialer: doc?.dialer, end: doc ? endOf(doc._endCause) : undefined, numbers: doc ? numbersOf(doc) : [] };
}

/** One member's end state changed by its owner's write (`before` read in the same turn). */
async function countMember(dialer: string | undefined, before: EndState, after: EndState): Promise<void> {
  if (dialer && before !== undefined && before !== after) await countChanges(dialer, [[before, after]]);
}

/** Member updates by `_id` as driver operations (the values are stored as given: no casting, which
 *  cost half the client's CPU of a reset), 500 per command; the embedded store writes a command's
 *  documents in one transaction (docs/setup.md, `sqlite-update-batch`). Returns how many changed. */
async function updateMembers(ops: { updateOne: { filter: { _id: Id }; update: Record<string, unknown> } }[]): Promise<number> {
  let modified = 0;
  for (let i = 0; i < ops.length; i += 500) {
    modified += (await Member.collection.bulkWrite(ops.slice(i, i + 500) as mongoose.mongo.AnyBulkWriteOperation[], { ordered: false })).modifiedCount;
  }
  return modified;
}

/** The owner's write of one member (in the member's turn), then its count. When the write fails —
 *  the store restarting, or a group-commit batch failing after the store applied some of its writes —
 *  the member is read again: a change the store holds is counted now, since the caller's retry reads
 *  the member already changed and counts nothing. The error still goes to the caller. */
async function writeAndCount(memberId: Id, count: { dialer?: string; before: EndState; after: EndState } | undefined, write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (err) {
    if (count?.dialer && count.before !== undefined && count.before !== count.after) {
      const stored = await retryingTransient(() => Member.findById(memberId, { _endCause: 1 }).lean<{ _endCause?: string | null }>()).catch((readErr: unknown) => {
        log.warn({ memberId, err: String(readErr) }, 'member counts may be off: a member write failed and the member could not be read again');
        return undefined;
      });
      if (stored && endOf(stored._endCause) === count.after) await countChanges(count.dialer, [[count.before, count.after]]);
    }
    throw err;
  }
  if (count) await countMember(count.dialer, count.before, count.after);
}

const byCampaign = <T extends { dialer?: unknown }>(docs: T[]): Map<string, T[]> => {
  const out = new Map<string, T[]>();
  for (const d of docs) {
    const k = String(d.dialer);
    if (!out.has(k)) out.set(k, []);
    out.get(k)!.push(d);
  }
  return out;
};

/** The client-owned fields of a member state, as a `$set` (engine fields: memberStateSet). */
function clientSet(m: MemberState): Record<string, unknown> {
  return { name: m.name, priority: m.priority, timezone: m.timezone ?? '', expire: m.expire, communications: memberStateSet(m).communications };
}

const notQueued = (dialer: string, n: number) => (err: unknown) => {
  log.warn({ dialer, n, err: String(err) }, 'members stored but not queued; the claim fallback will find them');
};

/** The expiry index is a hint for the sweep: a member it lacks still ends at its next reservation. */
const notIndexed = (err: unknown) => log.warn({ err: String(err) }, 'member expiry not indexed; the sweep will not see it');

/** Puts members just stored into their campaign's ready queue. A failure loses nothing: the
 *  claim's fallback read of the members collection finds what the queue lacks. */
async function queueStored(docs: Record<string, unknown>[]): Promise<void> {
  for (const [dialer, list] of byCampaign(docs)) await enqueueMembers(dialer, list as never).catch(notQueued(dialer, list.length));
}

export interface SaveInput {
  campaignId?: string;
  memberId: string;
  member: MemberState;
  waitingForStatusUntil?: number | null;
  readyAt?: number | null;
  /** Client fields edited through the API, as the API stores them (raw variables). */
  edited?: Record<string, unknown>;
  /** Changes the newest attempt-log entry: the result status that decided it, a step. */
  callback?: Record<string, unknown> & { data?: unknown };
  step?: string;
}

/**
 * Sets the campaign's counts from its members (a repair, and the start for members stored around
 * the store: seeded, or before counts were kept). Reads every member of the campaign. This process's
 * document takes the difference to the others', read before and after the count and retried if they
 * moved; exact when no member of the campaign changes meanwhile, so run it on a quiet campaign.
 */
async function recountCampaign(campaignId: string): Promise<MemberCounts> {
  const others = async () =>
    JSON.stringify(await countsColl().find({ _id: { $in: COUNTS_WRITERS.filter((w) => w !== countsWriter).map((w) => countsId(campaignId, w)) } }).sort({ _id: 1 }).toArray());
  await exclusively(turnKey.counts(countsId(campaignId)), async () => {
    for (let i = 0; i < 5; i++) {
      const before = await others();
      const rows = await Member.aggregate<{ _id: string | null; n: number }>([{ $match: { dialer: campaignId } }, { $group: { _id: '$_endCause', n: { $sum: 1 } } }]);
      if (before !== (await others())) continue;
      const inc: Record<string, number> = { total: 0, endedAll: 0 };
      for (const r of rows) {
        inc.total += r.n;
        if (r._id == null) continue;
        inc.endedAll += r.n;
        if (COUNTED_CAUSE.test(r._id)) inc[`ended.${r._id}`] = r.n;
      }
      for (const d of JSON.parse(before) as { total?: number; endedAll?: number; ended?: Record<string, number> }[]) {
        inc.total -= d.total ?? 0;
        inc.endedAll -= d.endedAll ?? 0;
        for (const [c, n] of Object.entries(d.ended ?? {})) inc[`ended.${c}`] = (inc[`ended.${c}`] ?? 0) - n;
      }
      const ended: Record<string, number> = {};
      for (const [k, n] of Object.entries(inc)) if (k.startsWith('ended.')) ended[k.slice(6)] = n;
      // `$set`, not a replace: the ids of count changes (`ops`) stay, so a retried change still applies once.
      await countsColl().updateOne({ _id: countsId(campaignId) }, { $set: { campaign: campaignId, total: inc.total, endedAll: inc.endedAll, ended } }, { upsert: true });
      return;
    }
    log.warn({ campaignId }, 'member counts not recounted: the campaign kept changing');
  });
  return readCounts(campaignId);
}

/** Checks that the store puts a `$push` where `$position` says, as `reserve` needs: MongoDB does,
 *  FerretDB only as our build (scripts/ferretdb/push-position.patch; an older one appends, and the
 *  attempt logs would come out of order). The worker checks once at its start. */
export async function checkPushPosition(): Promise<void> {
  const coll = mongoose.connection.collection<{ _id: string; a: number[] }>('dialer_store_checks');
  const _id = `push-position:${crypto.randomUUID()}`;
  await coll.insertOne({ _id, a: [1] });
  try {
    await coll.updateOne({ _id }, { $push: { a: { $each: [0], $position: 0 } } });
    if ((await coll.findOne({ _id }))?.a[0] !== 0) {
      throw new Error('the store ignores $position in $push: FerretDB was built without scripts/ferretdb/push-position.patch (run npm run setup)');
    }
  } finally {
    await coll.deleteOne({ _id });
  }
}

export interface SettleInput {
  campaignId: string; memberId: string; member: MemberState; uuid: string; entry: object; waitingForStatusUntil: number | null;
  release?: { leaseId: string; readyAt: number | null };
}

/** `settle` with the member read first: the session's entry replaced wherever it is, the lease given
 *  back only if still this one, the end counted from the stored state. */
async function settleRead(i: SettleInput): Promise<boolean> {
  const { release } = i;
  const doc = await Member.findById(i.memberId, { _log: 1, dialer: 1, ...REQUEUE_FIELDS })
    .lean<DispatchFields & { _log?: LogEntry[]; dialer?: string; _dispatch?: string | null }>();
  const set: Record<string, unknown> = {
    ...memberStateSet(i.member),
    _lock: null,
    _log: [i.entry as LogEntry, ...(doc?._log ?? []).filter((e) => e.session !== i.uuid)],
    _waitingForResultStatus: i.waitingForStatusUntil,
    _waitingForResultStatusCb: i.waitingForStatusUntil ? 1 : null,
  };
  if (release && doc?._dispatch === release.leaseId) Object.assign(set, { _dispatch: null, _readyAt: release.readyAt });
  await writeAndCount(i.memberId, { dialer: doc?.dialer, before: doc ? endOf(doc._endCause) : undefined, after: endOf(i.member.endCause) }, () =>
    batchedUpdate(Member, { _id: i.memberId }, { $set: set }));
  const after = doc ? { ...doc, ...set } : null;
  if (release) await requeue(i.campaignId, i.memberId, after as Parameters<typeof requeue>[2], release.readyAt);
  return !!doc && !(doc._log ?? []).some((e) => e.session === i.uuid && e.state === 'end');
}

export const MemberStore = {
  // ---- Member counts (kept by the transitions below) ----
  counts: readCounts,
  recountCampaign,
  membersWithNumber,

  // ---- Reset progress (the process running a reset writes it) ----
  async resetStarted(campaignId: string, domain: string, ended: number, now: number): Promise<void> {
    await resetsColl().replaceOne({ _id: campaignId }, { domain, state: 'running', reset: 0, ended, startedAt: now, updatedAt: now }, { upsert: true });
  },
  async resetProgressed(campaignId: string, reset: number): Promise<void> {
    await resetsColl().updateOne({ _id: campaignId }, { $set: { reset, updatedAt: Date.now() } });
  },
  async resetFinished(campaignId: string, reset: number, error?: string): Promise<void> {
    const now = Date.now();
    await resetsColl().updateOne({ _id: campaignId }, { $set: { reset, state: error ? 'failed' : 'done', updatedAt: now, finishedAt: now, ...(error ? { error } : {}) } });
  },
  async resetProgress(campaignId: string): Promise<ResetProgress | null> {
    return resetsColl().findOne({ _id: campaignId });
  },

  // ---- The API: members no workflow owns ----

  /** New members (POST, CSV import): every document or none (ids are chosen before the insert, so
   *  a failed batch is deleted again), then queued (through `queue` when the caller batches). */
  async insert(docs: Record<string, unknown>[], queue?: QueueWriter): Promise<void> {
    if (!docs.length) return;
    try {
      await Member.collection.insertMany(docs, { ordered: true });
    } catch (err) {
      await Member.collection.deleteMany({ _id: { $in: docs.map((d) => d._id as mongoose.Types.ObjectId) } }).catch(() => undefined);
      throw err;
    }
    for (const [dialer, list] of byCampaign(docs)) {
      await countChanges(dialer, list.map((d) => [undefined, endOf(d._endCause)]));
      await keepNumbers(dialer, list.map((d) => ({ member: d._id, add: numbersOf(d) })));
    }
    if (queue) await queue.add(docs as never).catch(notQueued(String(docs[0].dialer), docs.length));
    else await queueStored(docs);
    await ExpiryIndex.add(docs).catch(notIndexed);
  },

  /** Writes the queue ids a QueueWriter still holds (the end of an import). */
  async flushQueue(queue: QueueWriter): Promise<void> {
    await queue.flush().catch(notQueued(queue.campaignId, -1));
  },

  /** Queues members stored elsewhere (benchmarks and tests seed documents directly). */
  queueStored,

  /** An edit of a member that no workflow owns and no claim holds: false when it is claimed or in
   *  a call (then its workflow owns it). Numbers merge as §5.2 says; a new priority re-queues it. */
  async editUnclaimed(doc: MemberDoc, patch: ClientPatch, fields: Record<string, unknown>): Promise<{ matched: number; modified: number }> {
    const set: Record<string, unknown> = { ...fields, lastModified: Date.now() };
    if (patch.communications !== undefined) set.communications = clientSet(mergeClientPatch(memberState(doc), { communications: patch.communications })).communications;
    const res = await one(doc._id, () => Member.updateOne({ _id: doc._id, _dispatch: null, _lock: null }, { $set: set }));
    if (res.matchedCount && set.communications) {
      const was = numbersOf(doc);
      const now = numbersOf(set);
      await keepNumbers(String(doc.dialer), [{ member: doc._id, add: now.filter((n) => !was.includes(n)), drop: was.filter((n) => !now.includes(n)) }]);
    }
    if (res.matchedCount && typeof fields.expire === 'number') await ExpiryIndex.add([{ _id: doc._id, dialer: doc.dialer, expire: fields.expire }]).catch(notIndexed);
    if (res.matchedCount && fields.priority !== undefined && fields.priority !== doc.priority) await queueStored([{ ...doc, priority: fields.priority }]);
    return { matched: res.matchedCount, modified: res.modifiedCount };
  },

  /** §9.4 terminate of a member no workflow owns: ended with MANAGER_REQUEST; false if it ended,
   *  was claimed or is in a call meanwhile. */
  async endUnclaimed(doc: MemberDoc, ended: MemberState): Promise<boolean> {
    const res = await one(doc._id, () => Member.updateOne({ _id: doc._id, _endCause: null, _lock: null, _dispatch: null }, { $set: memberStateSet(ended) }));
    if (res.matchedCount) {
      await countChanges(String(doc.dialer), [[null, endOf(ended.endCause)]]);
      await dropTimed(String(doc.dialer), doc._id);
    }
    return res.matchedCount > 0;
  },

  /** §8.7 members reset, one batch: each ended member back to never dialled (numbers not stopped by
   *  a callback), then queued again. Returns how many changed. */
  async resetEnded(
    batch: { _id: Id; dialer: string; _endCause: string | null; priority?: number; communications: Record<string, unknown>[]; _log?: unknown[]; lastModified?: number }[],
    o: { step: Record<string, unknown>; replaceLog: boolean; now: number },
  ): Promise<number> {
    if (!batch.length) return 0;
    const ops = batch.map((d) => ({
      updateOne: {
        // Unchanged since it was read (an API edit sets lastModified): the new value is computed from that read.
        filter: { _id: d._id, _endCause: { $ne: null }, _lock: null, lastModified: d.lastModified ?? null },
        update: {
          $set: {
            communications: d.communications.map((c) =>
              c.stopCommunication ? c : { ...c, state: 0, _probe: 0, lastCall: 0, rangeId: null, rangeAttempts: 0, checkResult: null },
            ),
            _endCause: null, _probeCount: 0, callSuccessful: false, _lastMinusProbe: false, _lostRedials: 0, _nextTryTime: null,
            lastCall: 0, _waitingForResultStatus: null, _waitingForResultStatusCb: null, _readyAt: null, lastModified: o.now,
            _log: o.replaceLog ? [o.step] : [o.step, ...(d._log ?? [])],
          },
        },
      },
    }));
    // In the members' turns: FerretDB v1 writes back the whole document it read, so an API edit
    // stored meanwhile by another connection would be undone.
    const modified = await exclusivelyAll(batch.map((d) => turnKey.member(d._id)), () => updateMembers(ops));
    // Which were reset: all of them, or (one changed meanwhile) those now not ended.
    let reset = batch;
    if (modified !== batch.length) {
      const now = await Member.find({ _id: { $in: batch.map((d) => d._id) } }, { _endCause: 1 }).lean<{ _id: Id; _endCause?: string | null }[]>();
      const open = new Set(now.filter((d) => d._endCause == null).map((d) => String(d._id)));
      reset = batch.filter((d) => open.has(String(d._id)));
    }
    for (const [dialer, list] of byCampaign(reset)) await countChanges(dialer, list.map((d) => [endOf(d._endCause), null]));
    await queueStored(batch.map((d) => ({ _id: d._id, dialer: d.dialer, priority: d.priority ?? 0 })));
    return modified;
  },

  /** Deletes one member not in a call; its timed queue entry goes (a fresh id is dropped when the
   *  claim reaches it). */
  async remove(campaignId: string, memberId: Id): Promise<boolean> {
    const gone = await one(memberId, () => Member.findOneAndDelete({ _id: memberId, _lock: null }).lean<{ _endCause?: string | null; communications?: unknown }>());
    if (!gone) return false;
    await countChanges(campaignId, [[endOf(gone._endCause), undefined]]);
    await keepNumbers(campaignId, [{ member: memberId, drop: numbersOf(gone) }]);
    await dropTimed(campaignId, memberId);
    return true;
  },

  /** Deletes members not in a call (their workflows are stopped first by the caller). */
  async removeMany(campaignId: string, ids: Id[]): Promise<number> {
    const before = await Member.find({ _id: { $in: ids }, _lock: null }, { _endCause: 1, 'communications.number': 1 }).lean<{ _id: Id; _endCause?: string | null; communications?: unknown }[]>();
    const res = await Member.deleteMany({ _id: { $in: before.map((d) => d._id) }, _lock: null });
    // Which went: all read, or (one was locked meanwhile) those no longer stored.
    let gone = before;
    if (res.deletedCount !== before.length) {
      const left = new Set((await Member.find({ _id: { $in: before.map((d) => d._id) } }, { _id: 1 }).lean<{ _id: Id }[]>()).map((d) => String(d._id)));
      gone = before.filter((d) => !left.has(String(d._id)));
    }
    await countChanges(campaignId, gone.map((d) => [endOf(d._endCause), undefined]));
    await keepNumbers(campaignId, gone.map((d) => ({ member: d._id, drop: numbersOf(d) })));
    for (const id of ids) await dropTimed(campaignId, id);
    return res.deletedCount;
  },

  /** The campaign is being deleted: its members leave every read, count and the ready queue at once
   *  (the caller removes the campaign document, which every member route looks up first; its queue,
   *  counts and reset progress go here) and are deleted afterwards by `purgeDeleted`, which the
   *  purge workflow runs. Returns how many members the counts hold. */
  async dropCampaign(campaignId: string): Promise<number> {
    const { total } = await readCounts(campaignId);
    await dropQueues(campaignId);
    await countsColl().deleteMany({ _id: { $in: COUNTS_WRITERS.map((w) => countsId(campaignId, w)) } });
    await resetsColl().deleteOne({ _id: campaignId });
    return total;
  },

  /** Deletes up to about `max` members of a campaign `dropCampaign` dropped, then (none left) their
   *  number lookups, 500 per command; `onBatch` after each. Returns how many members went: fewer
   *  than `max` when none is left. Only the purge workflow's activity calls it. */
  async purgeDeleted(campaignId: string, domain: string, max: number, onBatch: () => void = () => undefined): Promise<number> {
    let n = 0;
    while (n < max) {
      // Read first, then delete by `_id`: each command reads at most 500 documents.
      const ids = (await Member.find({ dialer: campaignId, domain }, { _id: 1 }).limit(500).lean<{ _id: Id }[]>()).map((d) => d._id);
      if (!ids.length) break;
      const gone = (await Member.deleteMany({ _id: { $in: ids as mongoose.Types.ObjectId[] } })).deletedCount;
      // Read but not deleted: fail, so the activity is retried later rather than loop here.
      if (!gone) throw new Error(`members of deleted campaign ${campaignId} were found but not deleted`);
      n += gone;
      onBatch();
    }
    if (n >= max) return n;
    const coll = await numbers();
    for (;;) {
      const ids = (await coll.find({ campaign: campaignId }, { projection: { _id: 1 } }).limit(500).toArray()).map((d) => d._id);
      if (!ids.length) return n;
      await coll.deleteMany({ _id: { $in: ids } });
      onBatch();
    }
  },

  // ---- The campaign workflow's claim ----

  /** Gives each member just read by `_id` its lease id (`_dispatch`) and takes the claimed ones out of
   *  the timed queue. Each write is conditional on the ready filter (by `_id`, which FerretDB serves
   *  from its index; the rest is checked on that one document), so a member changed since it was read
   *  — claimed, locked, ended, waiting — is skipped, never granted twice. Returns the claimed
   *  documents, in the order given. */
  async claimMany<D>(
    claims: { doc: Record<string, unknown>; leaseId: string; fresh?: boolean }[],
    o: { campaignId: string; now: number },
  ): Promise<D[]> {
    const ready = claims.filter((c) => isReady(c.doc, o.campaignId, o.now));
    if (!ready.length) return [];
    const filter = readyFilter(o.campaignId, o.now);
    const ops = ready.map((c) => ({ updateOne: { filter: { ...filter, _id: c.doc._id }, update: { $set: { _dispatch: c.leaseId } } } }));
    let modified = 0;
    // In the members' turns: FerretDB v1 writes the whole document it read, so an API edit stored
    // between that read and this write would be undone (the claim rule alone is not atomic there).
    await exclusivelyAll(ready.map((c) => turnKey.member(c.doc._id)), async () => {
      modified = await updateMembers(ops);
    });
    let won = ready;
    if (modified < ready.length) {
      // Some were skipped: the lease ids say which were claimed (each lease id is new).
      const held = await Member.find({ _id: { $in: ready.map((c) => c.doc._id) } }, { _dispatch: 1 }).lean<{ _id: unknown; _dispatch?: string | null }[]>();
      const holder = new Map(held.map((d) => [String(d._id), d._dispatch]));
      won = ready.filter((c) => holder.get(String(c.doc._id)) === c.leaseId);
    }
    // A member taken off a fresh chunk has no timed entry.
    await dropTimedMany(o.campaignId, won.filter((c) => !c.fresh).map((c) => c.doc._id));
    return won.map((c) => ({ ...c.doc, _dispatch: c.leaseId }) as D);
  },

  /** Fresh ids the claim used (claimed, or found stale) leave their chunk. */
  async passFresh(chunk: FreshChunk, ids: Set<string>): Promise<void> {
    await consumeFresh(chunk, ids);
  },

  /** Timed entries whose members are gone or ended. */
  async dropQueued(campaignId: string, memberIds: Id[]): Promise<void> {
    await dropTimedMany(campaignId, memberIds);
  },

  /** A lease whose member workflow is gone (checkLease): the member is unclaimed and queued again. */
  async reclaim(campaignId: string, memberId: string, leaseId: string): Promise<void> {
    const doc = await one(memberId, async () => {
      const d = await Member.findById(memberId, REQUEUE_FIELDS).lean<DispatchFields & { _dispatch: string | null }>();
      if (d?._dispatch !== leaseId) return d;
      await Member.updateOne({ _id: memberId }, { $set: { _dispatch: null, _lock: null } });
      return { ...d, _dispatch: null };
    });
    await requeue(campaignId, memberId, doc);
  },

  // ---- The member's own workflow ----

  /** A call is being placed: the member's state with the attempt counted, the call's session and
   *  its attempt-log entry put first (`_log` is newest-first, v3), once per session: a retried
   *  activity finds `_lastSession` set and writes nothing. No read, and no count: a member being
   *  dialled is not ended, before or after. No turn: the member holds its campaign's lease
   *  (`_dispatch`), so neither the claim nor the API writes it (their filters require `_dispatch:
   *  null`), and its workflow's activities run one at a time. (`$position` needs MongoDB or our
   *  FerretDB build: scripts/ferretdb/push-position.patch.) */
  async reserve(i: { memberId: string; member: MemberState; workflowId: string; uuid: string; entry: object }): Promise<void> {
    await batchedUpdate(Member, { _id: asId(i.memberId), _lastSession: { $ne: i.uuid } }, {
      $set: { ...memberStateSet(i.member), _lock: i.workflowId, _lastSession: i.uuid },
      $push: { _log: { $each: [i.entry], $position: 0 } },
    }, { stored: true });
  },

  /** The call's outcome: the member's state, the attempt's final log entry, unlocked, and the
   *  result-status window (§6.5) if one is awaited; with `release`, the lease given back in the same
   *  write. No turn, as `reserve`: until this write gives the lease back, only the member's workflow
   *  writes it. Returns false when an earlier try of this settle was stored (the attempt's final
   *  entry is in the log) or the member is gone: then what endAttempt does after it may have been done.
   *
   *  No read when the member is as `reserve` left it: locked, not ended, this session's entry first
   *  and (`release`) this lease held. The write is conditional on that, and its group-commit batch
   *  says whether every write in it found its document; when one did not, or the write failed, the
   *  member is read, and `lastModified` (this try's own value) tells whether this write is the one
   *  stored. Otherwise (an earlier try's write stored, or a member not as expected) `settleRead`. */
  async settle(i: SettleInput): Promise<boolean> {
    const { release } = i;
    const lastModified = Date.now();
    const set: Record<string, unknown> = {
      ...memberStateSet(i.member), lastModified, _lock: null, '_log.0': i.entry,
      _waitingForResultStatus: i.waitingForStatusUntil, _waitingForResultStatusCb: i.waitingForStatusUntil ? 1 : null,
      ...(release ? { _dispatch: null, _readyAt: release.readyAt } : {}),
    };
    const reserved = { _id: asId(i.memberId), _lock: { $ne: null }, _endCause: null, '_log.0.session': i.uuid, ...(release ? { _dispatch: release.leaseId } : {}) };
    const after = endOf(i.member.endCause);
    const mine = () => retryingTransient(() => Member.findById(i.memberId, { lastModified: 1 }).lean<{ lastModified?: number }>())
      .then((d) => d?.lastModified === lastModified, (err: unknown) => {
        log.warn({ memberId: i.memberId, err: String(err) }, 'member counts may be off: a member write was not confirmed and the member could not be read');
        throw err;
      });
    let stored: boolean;
    try {
      stored = await batchedUpdate(Member, reserved, { $set: set }, { stored: true });
    } catch (err) {
      // Stored though the batch failed: counted now, as the retry finds it stored and counts nothing.
      if (after !== null && (await mine().catch(() => false))) await countChanges(i.campaignId, [[null, after]]);
      throw err;
    }
    if (!stored && !(await mine())) return settleRead(i);
    await countMember(i.campaignId, null, after);
    if (release) await requeue(i.campaignId, i.memberId, { ...set, priority: i.member.priority } as Parameters<typeof requeue>[2], release.readyAt);
    return true;
  },

  /** The lease goes back (`_dispatch` cleared if it is still this lease) and the member into the
   *  queue as its document says, claimable from `readyAt`. */
  async release(campaignId: string, memberId: string, leaseId: string, readyAt: number | null): Promise<void> {
    const doc = await one(memberId, async () => {
      const d = await Member.findById(memberId, REQUEUE_FIELDS).lean<DispatchFields & { _dispatch: string | null }>();
      if (d?._dispatch === leaseId) await batchedUpdate(Member, { _id: memberId }, { $set: { _dispatch: null, _readyAt: readyAt } });
      return d;
    });
    await requeue(campaignId, memberId, doc, readyAt);
  },

  /**
   * Everything else the member's workflow stores: its state (a wait, `_readyAt`, a result status,
   * its timeout, the end), client fields edited through the API, a callback/step on the newest
   * attempt-log entry. The timed queue entry follows: dropped at the end, otherwise refreshed —
   * claimable from `readyAt` when given (and not before a result status it now awaits).
   */
  async save({ campaignId, memberId, member, waitingForStatusUntil, readyAt, edited, callback, step }: SaveInput): Promise<void> {
    await one(memberId, async () => {
      const set: Record<string, unknown> = { ...memberStateSet(member), ...(edited ?? {}) };
      if (waitingForStatusUntil !== undefined) {
        set._waitingForResultStatus = waitingForStatusUntil;
        set._waitingForResultStatusCb = waitingForStatusUntil ? 1 : null;
      }
      if (readyAt !== undefined) set._readyAt = readyAt;
      // Only a reset (resetEnded) takes an end back, and only an edit changes numbers, so a save
      // that does neither and reads no log changes no count and no number lookup.
      const prev = callback || step || edited || member.endCause ? await readLog(memberId) : undefined;
      if (callback || step) {
        const logArr = prev!.log;
        if (logArr.length > 0) {
          const newest = { ...logArr[0] };
          if (callback) newest.callback = callback;
          // §12 item 15: a successful status marks the attempt it belongs to (v3 marked the oldest).
          if ((callback?.data as { success?: unknown } | undefined)?.success === true) {
            newest.callSuccessful = true;
            newest.callState = 2;
          }
          if (step) newest.steps = [...(newest.steps ?? []), { time: Date.now(), data: step }];
          set._log = [newest, ...logArr.slice(1)];
        }
      }
      await writeAndCount(memberId, prev && { dialer: prev.dialer, before: prev.end, after: endOf(member.endCause) }, () => batchedUpdate(Member, { _id: memberId }, { $set: set }));
      if (prev?.dialer && edited) {
        const now = numbersOf(set);
        await keepNumbers(prev.dialer, [{ member: memberId, add: now.filter((n) => !prev.numbers.includes(n)), drop: prev.numbers.filter((n) => !now.includes(n)) }]);
      }
    });
    if (!campaignId) return;
    if (member.endCause) return dropTimed(campaignId, memberId);
    await putTimed(campaignId, {
      _id: memberId, priority: member.priority, _nextTryTime: member.nextTryTime, lastCall: member.lastCall,
      ...(readyAt !== undefined ? { _readyAt: notBeforeStatus(readyAt, waitingForStatusUntil) } : {}),
    });
  },
};

export { clientSet };
