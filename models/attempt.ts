// One document per call attempt, written before the originate is sent (keyed by its
// origination_uuid) and settled exactly once with the first result that arrives.
import { model } from './model';
import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { isMongoDB } from '../lib/db';

export const attemptSchema = new Schema(
  {
    _id: { type: String, required: true }, // origination_uuid
    dialer: { type: String, required: true },
    domain: { type: String, required: true },
    member: { type: String, required: true },
    workflowId: { type: String, required: true },
    attempt: { type: Number, required: true },
    number: { type: String, required: true },
    dialString: { type: String, required: true },
    destinationId: { type: String, default: null },
    jobUuid: { type: String, required: true },
    createdOn: { type: Number, default: () => Date.now() },
    sentOn: { type: Number, default: null },
    /** When the call was answered (its CHANNEL_ANSWER, services/call-results.ts): such a call is never
     *  redialled as lost. */
    answeredOn: { type: Number, default: null },
    /** Campaign counters were incremented for this attempt (so a retried activity counts once). */
    counted: { type: Boolean, default: false },
    /** Counted in `successCall` or `errorCall` (§11.1); null while its result status is awaited. */
    outcome: { type: String, enum: ['success', 'error', null], default: null },
    // Settled result (null until one arrives).
    result: {
      type: new Schema(
        {
          cause: String,
          q850: Number,
          answered: Boolean,
          billsec: Number,
          duration: Number,
          source: { type: String, enum: ['job', 'event', 'cdr', 'reconcile', 'engine'] },
          // Broadcast content (rules/content.ts): reached, and the menu digit pressed.
          bridged: Boolean,
          digit: String,
          // Progressive: the agent leg answered (false: the agent failed, the member was not called).
          agentAnswered: Boolean,
          settledOn: Number,
        },
        { _id: false },
      ),
      default: null,
    },
  },
  { collection: 'attempts', versionKey: false, minimize: false },
);
attemptSchema.index({ dialer: 1, createdOn: 1 });
attemptSchema.index({ member: 1 });

export type AttemptDoc = InferSchemaType<typeof attemptSchema>;
export const Attempt = model('Attempt', attemptSchema);

/** Per attempt, the tail of this process's conditional writes (see updateAttemptIf). */
const attemptLocks = new Map<string, Promise<unknown>>();

/**
 * Sets `set` on the attempt only while it is unsettled (`result` null) and, with `unsent`, not yet
 * sent; returns the attempt as it was before, or null when the condition failed. This is the
 * first-wins settle of every result source and the once-only send claim.
 * MongoDB: one conditional findOneAndUpdate. FerretDB v1 would decode the whole attempts collection
 * (one document per call ever made) for that filter, so there it is a read and a write by `_id`,
 * serialised per attempt within this process. Across processes this is as atomic as FerretDB's own
 * findAndModify, i.e. not (docs/architecture.md, "FerretDB and atomicity").
 */
export async function updateAttemptIf(uuid: string, o: { unsent?: boolean }, set: Record<string, unknown>): Promise<AttemptDoc | null> {
  const filter = { _id: uuid, result: null, ...(o.unsent ? { sentOn: null } : {}) };
  if (await isMongoDB()) return Attempt.findOneAndUpdate(filter, { $set: set }).lean<AttemptDoc>();
  const prev = attemptLocks.get(uuid) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(async () => {
    const doc = await Attempt.findById(uuid).lean<AttemptDoc>();
    if (!doc || doc.result || (o.unsent && doc.sentOn !== null && doc.sentOn !== undefined)) return null;
    await Attempt.updateOne({ _id: uuid }, { $set: set });
    return doc;
  });
  attemptLocks.set(uuid, run);
  try {
    return await run;
  } finally {
    if (attemptLocks.get(uuid) === run) attemptLocks.delete(uuid);
  }
}
