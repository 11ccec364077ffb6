// The concurrency gate of spec §2.1 step 3 and §2.5: a campaign never has more than
// min(limit, sum of destination limits) calls, and a destination never more than its own limit.
// One document per campaign holds the counters and the leases that hold them. This module is its
// only writer; the member activities of every worker acquire and release lines through it, one write
// at a time per campaign across the processes (models/serial.ts `exclusively`: FerretDB v1 applies
// overlapping updates of one document non-atomically), and the API resets or drops it only through
// `reset`/`drop`. A lease id is chosen by
// the caller before the activity runs, so a retried acquire or release is idempotent.
import { Schema } from 'mongoose';
import { isDuplicateKeyError } from '../lib/db';
import { model } from './model';
import { exclusively, turnHeld, turnKey } from './serial';
import { perTick } from './group-commit';

const leaseSchema = new Schema({ id: String, dest: String, at: Number }, { _id: false });
export const linesSchema = new Schema(
  {
    _id: { type: String, required: true }, // campaign id
    active: { type: Number, default: 0 },
    dest: { type: Schema.Types.Mixed, default: () => ({}) },
    leases: { type: [leaseSchema], default: [] },
    v: Number,
  },
  { collection: 'dialer_lines', versionKey: false, minimize: false },
);
const Lines = model('Lines', linesSchema);

interface LinesDoc {
  _id: string;
  active: number;
  dest: Record<string, number>;
  leases: { id: string; dest: string; at: number }[];
  /** Bumped by every write: a write applies only to the version it was computed from. */
  v?: number;
}
type LinesState = Omit<LinesDoc, '_id'>;

type Acquire = { leaseId: string; limit: number; destinations: { uuid: string; limit: number }[] };
type LineOp = { acquire: Acquire } | { release: string };
type Result = { destinationId: string } | null;

/** The campaign's document as this process last wrote or read it, with the taking of the turn it
 *  was seen in (models/serial.ts `turnHeld`): current as long as that turn is still held. */
const copies = new Map<string, { taking: number; doc: LinesState }>();

/** How long a release waits for the campaign's next acquire (or release) to go with. An acquire
 *  goes at once, taking the releases queued before it (applied before it: a line just given back
 *  is free for it); a release alone waits at most this long (its caller awaits it), which delays
 *  the next grant of a full campaign by as much (the campaign hears of releases in windows of
 *  RELEASE_WINDOW_MS, activities/member.ts, longer still). At 25–30 attempts a second, most
 *  acquires and releases came alone in their event-loop turn: one write each. */
export const LINE_RELEASE_WINDOW_MS = 40;

/** The acquires and releases of one event-loop turn per campaign (releases: of LINE_RELEASE_WINDOW_MS):
 *  applied to the document together, in call order, in the campaign's turn, as one write. */
const queue = perTick<LineOp, Result>((campaignId, ops) => exclusively(turnKey.lines(campaignId), () => apply(campaignId, ops)), LINE_RELEASE_WINDOW_MS);

export const LineLeases = {
  /** A line for the attempt `leaseId` (idempotent: a retried acquire gets its own line back). */
  async acquire(
    campaignId: string,
    leaseId: string,
    limit: number,
    destinations: { uuid: string; limit: number }[],
  ): Promise<{ destinationId: string } | null> {
    return queue(campaignId, { acquire: { leaseId, limit, destinations } });
  },

  /** Gives the attempt's line back (idempotent). */
  async release(campaignId: string, leaseId: string): Promise<void> {
    await queue(campaignId, { release: leaseId }, true);
  },

  /** Forgets every line and lease (dialer reset with `resetProcess`). */
  async reset(campaignId: string): Promise<void> {
    await exclusively(turnKey.lines(campaignId), async () => {
      copies.delete(campaignId);
      await Lines.updateOne({ _id: campaignId }, { $set: { active: 0, dest: {}, leases: [] }, $inc: { v: 1 } });
    });
  },

  /** The campaign is being deleted. */
  async drop(campaignId: string): Promise<void> {
    await exclusively(turnKey.lines(campaignId), async () => {
      copies.delete(campaignId);
      await Lines.deleteOne({ _id: campaignId });
    });
  },

  async snapshot(campaignId: string): Promise<LinesDoc | null> {
    return Lines.findById(campaignId).lean<LinesDoc>();
  },
};

/** Applies `ops` in order to the campaign's document, in its turn: read only when this process has
 *  no current copy, then one write of the new state, conditional on the version it was computed
 *  from (a copy gone stale, after this process lost its turn without knowing, is read again). The
 *  limits are checked here in code, on the whole document: FerretDB v1 matches `'leases.id': {$ne: id}`
 *  when ANY lease differs, and ignores a `$pull` condition (test/line-leases.test.ts). */
async function apply(campaignId: string, ops: LineOp[]): Promise<Result[]> {
  const key = turnKey.lines(campaignId);
  for (let tries = 1; ; tries++) {
    const taking = turnHeld(key)!;
    const copy = copies.get(campaignId);
    const stored = copy?.taking === taking
      ? copy.doc
      : await Lines.findById(campaignId, { active: 1, dest: 1, leases: 1, v: 1 }).lean<LinesDoc>();
    copies.delete(campaignId);
    const before: LinesState = stored ? { active: stored.active, dest: stored.dest ?? {}, leases: stored.leases ?? [], v: stored.v } : { active: 0, dest: {}, leases: [] };
    const next: LinesState = { active: before.active, dest: { ...before.dest }, leases: [...before.leases], v: (before.v ?? 0) + 1 };
    const results = ops.map((op) => ('acquire' in op ? acquireIn(next, op.acquire) : releaseIn(next, op.release)));
    if (next.active === before.active && next.leases.length === before.leases.length && next.leases.every((l, i) => l === before.leases[i])) {
      if (stored) copies.set(campaignId, { taking, doc: before });
      return results;
    }
    const { v, ...state } = next;
    // Through the driver, as the insert: the state is built here from the stored one, and mongoose
    // casting every lease of a $set costs ~4 µs each (0.7 ms a write with 170 leases held).
    const won = stored
      ? (await Lines.collection.updateOne({ _id: campaignId as never, v: before.v ?? { $exists: false } }, { $set: { ...state, v } })).matchedCount === 1
      : await Lines.collection.insertOne({ _id: campaignId, ...next } as never).then(() => true, (err: unknown) => {
        if (isDuplicateKeyError(err)) return false;
        throw err;
      });
    if (won) {
      copies.set(campaignId, { taking, doc: next });
      return results;
    }
    if (tries === 3) throw new Error(`lines of campaign ${campaignId}: written by another process in this process's turn`);
  }
}

function acquireIn(doc: LinesState, a: Acquire): Result {
  const mine = doc.leases.find((l) => l.id === a.leaseId);
  if (mine) return { destinationId: mine.dest };
  if (doc.active >= a.limit) return null;
  const d = a.destinations.find((x) => (doc.dest[x.uuid] ?? 0) < x.limit);
  if (!d) return null;
  doc.active++;
  doc.dest[d.uuid] = (doc.dest[d.uuid] ?? 0) + 1;
  doc.leases.push({ id: a.leaseId, dest: d.uuid, at: Date.now() });
  return { destinationId: d.uuid };
}

function releaseIn(doc: LinesState, leaseId: string): null {
  const i = doc.leases.findIndex((l) => l.id === leaseId);
  if (i < 0) return null; // already released
  const [lease] = doc.leases.splice(i, 1);
  doc.active--;
  doc.dest[lease.dest] = (doc.dest[lease.dest] ?? 0) - 1;
  return null;
}
