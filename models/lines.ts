// The concurrency gate of spec §2.1 step 3 and §2.5: a campaign never has more than
// min(limit, sum of destination limits) calls, and a destination never more than its own limit.
// One document per campaign holds the counters and the leases that hold them. This module is its
// only writer; the member activities of every worker acquire and release lines through it, one write
// at a time per campaign across the processes (models/serial.ts `exclusively`: FerretDB v1 applies
// overlapping updates of one document non-atomically), and the API resets or drops it only through
// `reset`/`drop`. A lease id is chosen by
// the caller before the activity runs, so a retried acquire or release is idempotent.
import { Schema } from 'mongoose';
import { model } from './model';
import { exclusively, turnKey } from './serial';

const leaseSchema = new Schema({ id: String, dest: String, at: Number }, { _id: false });
export const linesSchema = new Schema(
  {
    _id: { type: String, required: true }, // campaign id
    active: { type: Number, default: 0 },
    dest: { type: Schema.Types.Mixed, default: () => ({}) },
    leases: { type: [leaseSchema], default: [] },
  },
  { collection: 'dialer_lines', versionKey: false, minimize: false },
);
const Lines = model('Lines', linesSchema);

interface LinesDoc {
  _id: string;
  active: number;
  dest: Record<string, number>;
  leases: { id: string; dest: string; at: number }[];
}

async function ensure(campaignId: string): Promise<void> {
  await Lines.updateOne({ _id: campaignId }, { $setOnInsert: { active: 0, dest: {}, leases: [] } }, { upsert: true });
}

export const LineLeases = {
  async acquire(
    campaignId: string,
    leaseId: string,
    limit: number,
    destinations: { uuid: string; limit: number }[],
  ): Promise<{ destinationId: string } | null> {
    return exclusively(turnKey.lines(campaignId), () => acquire(campaignId, leaseId, limit, destinations));
  },

  async release(campaignId: string, leaseId: string): Promise<void> {
    await exclusively(turnKey.lines(campaignId), () => release(campaignId, leaseId));
  },

  /** Forgets every line and lease (dialer reset with `resetProcess`). */
  async reset(campaignId: string): Promise<void> {
    await exclusively(turnKey.lines(campaignId), () => Lines.updateOne({ _id: campaignId }, { $set: { active: 0, dest: {}, leases: [] } }));
  },

  /** The campaign is being deleted. */
  async drop(campaignId: string): Promise<void> {
    await exclusively(turnKey.lines(campaignId), () => Lines.deleteOne({ _id: campaignId }));
  },

  async snapshot(campaignId: string): Promise<LinesDoc | null> {
    return Lines.findById(campaignId).lean<LinesDoc>();
  },
};

/** A read and a conditional write. The read decides idempotency in code: FerretDB v1 matches
 *  `'leases.id': {$ne: id}` (and `$nin`, `$not: {$elemMatch}`) when ANY lease differs, so a filter
 *  cannot refuse a retried acquire once two leases are held (test/line-leases.test.ts). */
async function acquire(
  campaignId: string,
  leaseId: string,
  limit: number,
  destinations: { uuid: string; limit: number }[],
): Promise<{ destinationId: string } | null> {
  const stored = await Lines.findById(campaignId, { active: 1, leases: 1 }).lean<Pick<LinesDoc, 'active' | 'leases'>>();
  if (!stored) await ensure(campaignId);
  const now = stored ?? { active: 0, leases: [] };
  const mine = now.leases.find((l) => l.id === leaseId);
  if (mine) return { destinationId: mine.dest };
  if (now.active >= limit) return null;
  for (const d of destinations) {
    const key = `dest.${d.uuid}`;
    // Inside the campaign's turn: nobody else writes the document between the read and this write.
    const won = await Lines.findOneAndUpdate(
      { _id: campaignId, active: { $lt: limit }, $or: [{ [key]: { $exists: false } }, { [key]: { $lt: d.limit } }] },
      { $inc: { active: 1, [key]: 1 }, $push: { leases: { id: leaseId, dest: d.uuid, at: Date.now() } } },
    );
    if (won) return { destinationId: d.uuid };
  }
  return null;
}

async function release(campaignId: string, leaseId: string): Promise<void> {
  const doc = await Lines.findOne({ _id: campaignId, 'leases.id': leaseId }, { leases: 1 }).lean<LinesDoc>();
  const lease = doc?.leases.find((l) => l.id === leaseId);
  if (!lease) return; // already released
  // $pull of the exact element as read: FerretDB v1 silently ignores a $pull condition
  // ({ id: leaseId }), which left the lease in place — and a retried release decremented again.
  await Lines.updateOne(
    { _id: campaignId, 'leases.id': leaseId },
    { $inc: { active: -1, [`dest.${lease.dest}`]: -1 }, $pull: { leases: lease } },
  );
}
