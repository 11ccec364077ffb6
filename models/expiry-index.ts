// Members by the five-minute slot their `expire` falls in, so the expiry sweep (spec §5.6, v3's
// 5-minute timer; activities/expiry.ts) reads only the members that expired since it last ran, by
// `_id`, and never scans a campaign: FerretDB v1 pushes down only `_id` equality
// (docs/architecture.md, "The expiry sweep"). Collection `dialer_member_expiry`:
//   `<campaign>:<slot>`               {parts: [<part id>…]}  the slot's directory
//   `<campaign>:<slot>:<ObjectId>`    {ids: [<member id>…]}  up to 1,000 members stored together
// Written by the member store when the API stores a member with an `expire` (insert, CSV import,
// an edit of a member no workflow owns) into a slot that has not begun to be swept: a past expire
// goes into the current slot. The sweep reads and deletes only slots that ended more than
// SWEEP_GRACE_MS ago, so the two never write the same document. An entry is a hint: the sweep
// re-reads each member and ends it only if it is still unended, unclaimed and expired.
import mongoose, { Schema } from 'mongoose';
import { model } from './model';

export const EXPIRY_SLOT_MS = 5 * 60_000;
/** A slot is swept only this long after it ended (an API write computed `now` just before). */
export const SWEEP_GRACE_MS = 60_000;
const PART_SIZE = 1000;

export const slotOf = (ms: number): number => Math.floor(ms / EXPIRY_SLOT_MS);
/** A campaign's slot directory. */
export const slotDir = (campaignId: string, slot: number): string => `${campaignId}:${slot}`;
/** The last slot the sweep may read at `now`. */
export const lastSweepableSlot = (now: number): number => slotOf(now - SWEEP_GRACE_MS) - 1;

const ExpiryEntry = model(
  'MemberExpiry',
  new Schema({ _id: { type: String, required: true }, parts: [String], ids: [Schema.Types.Mixed] }, { collection: 'dialer_member_expiry', versionKey: false }),
);

export const ExpiryIndex = {
  /** Indexes members just stored with an expire (others are skipped). */
  async add(docs: { _id?: unknown; dialer?: unknown; expire?: unknown }[], now = Date.now()): Promise<void> {
    const groups = new Map<string, unknown[]>();
    for (const d of docs) {
      if (typeof d.expire !== 'number' || d.expire <= 0 || d._id === undefined) continue;
      const key = slotDir(String(d.dialer), Math.max(slotOf(d.expire), slotOf(now)));
      groups.set(key, [...(groups.get(key) ?? []), d._id]);
    }
    for (const [dir, ids] of groups) {
      for (let i = 0; i < ids.length; i += PART_SIZE) {
        const part = `${dir}:${new mongoose.Types.ObjectId().toHexString()}`;
        await ExpiryEntry.collection.insertOne({ _id: part as never, ids: ids.slice(i, i + PART_SIZE) });
        await ExpiryEntry.updateOne({ _id: dir }, { $addToSet: { parts: part } }, { upsert: true });
      }
    }
  },

  /** The slot directories that exist among `dirs` (`<campaign>:<slot>`), with their parts: one
   *  `_id` list query per 500 (served from the `_id` index), so a sweep over many slots and
   *  campaigns reads only the directories there are. */
  async existing(dirs: string[]): Promise<Map<string, string[]>> {
    const found = new Map<string, string[]>();
    for (let i = 0; i < dirs.length; i += 500) {
      const docs = await ExpiryEntry.find({ _id: { $in: dirs.slice(i, i + 500) } }).lean<{ _id: string; parts?: string[] }[]>();
      for (const d of docs) found.set(d._id, d.parts ?? []);
    }
    return found;
  },

  /** The member ids of a slot directory's parts. */
  async idsIn(parts: string[]): Promise<unknown[]> {
    const ids: unknown[] = [];
    for (const part of parts) ids.push(...((await ExpiryEntry.findById(part).lean<{ ids?: unknown[] }>())?.ids ?? []));
    return ids;
  },

  /** Forgets a swept slot directory and its parts. */
  async drop(dir: string, parts: string[]): Promise<void> {
    for (const part of parts) await ExpiryEntry.deleteOne({ _id: part });
    await ExpiryEntry.deleteOne({ _id: dir });
  },
};
