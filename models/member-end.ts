// Stored `engine::dialer_member_end` events (spec §11.2), one per member end. Webhook delivery
// reads from here, so an event is never lost even if no receiver is up.
import { model } from './model';
import mongoose, { Schema } from 'mongoose';
import { batched, insertNew } from './serial';

export const memberEndSchema = new Schema(
  {
    _id: { type: String, required: true }, // `<workflowId>:<endSeq>` so a retried activity stores it once
    domain: { type: String, required: true },
    dialer: { type: String, required: true },
    member: { type: String, required: true },
    event: { type: Schema.Types.Mixed, required: true },
    createdOn: { type: Number, default: () => Date.now() },
  },
  { collection: 'member_end_events', versionKey: false, minimize: false },
);
memberEndSchema.index({ domain: 1, createdOn: 1 });

export const MemberEnd = model('MemberEnd', memberEndSchema);

type EndDoc = { _id: string; domain: string; dialer: string; member: string; event: unknown; createdOn: number };
/** The events of one event-loop turn (every member ending at that moment) as one unordered
 *  insertMany; an `_id` already stored (a retried activity) fails alone, as a duplicate key. */
const insertEnds = batched<EndDoc, boolean>((docs) => insertNew(mongoose.connection.collection<EndDoc>(MemberEnd.collection.collectionName), docs));

/** Stores a member's end event once per `eventId`; true when this call stored it. */
export async function recordMemberEnd(eventId: string, e: { domain: string; dialer: string; member: string; event: unknown }): Promise<boolean> {
  return insertEnds({ _id: eventId, domain: e.domain, dialer: e.dialer, member: e.member, event: e.event, createdOn: Date.now() });
}
