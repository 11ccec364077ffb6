// One document per call attempt, written before the originate is sent (keyed by its
// origination_uuid) and settled exactly once with the first result that arrives.
import { model } from './model';
import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { exclusively, turnKey } from './serial';

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
          // AMD (rules/amd.ts): {result, cause, sec}.
          amd: Schema.Types.Mixed,
          // Predictive: answered and never bridged to an agent (the member workflow's verdict).
          abandoned: Boolean,
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

/**
 * Sets `set` on the attempt only while it is unsettled (`result` null) and, with `unsent`, not yet
 * sent; returns the attempt as it was before, or null when the condition failed. This is the
 * first-wins settle of every result source and the once-only send claim. A read and a write by
 * `_id` (FerretDB v1 decodes the whole attempts collection for any other filter), one at a time per
 * attempt across the worker processes (models/serial.ts `exclusively`: every worker's result router
 * hears every hangup, and a member's local activity may run again on another worker).
 */
export async function updateAttemptIf(uuid: string, o: { unsent?: boolean }, set: Record<string, unknown>): Promise<AttemptDoc | null> {
  return exclusively(turnKey.attempt(uuid), async () => {
    const doc = await Attempt.findById(uuid).lean<AttemptDoc>();
    if (!doc || doc.result || (o.unsent && doc.sentOn !== null && doc.sentOn !== undefined)) return null;
    await Attempt.updateOne({ _id: uuid }, { $set: set });
    return doc;
  });
}

/**
 * The attempt's end as its member workflow stores it, in one turn: `result` if no source settled it
 * first (first-wins), and the workflow's abandoned verdict on whichever result did. Returns the
 * attempt as read (its `counted` flag), or null when no attempt is stored. One read and at most one
 * write.
 */
export async function endAttemptRecord(uuid: string, result: Record<string, unknown>, o: { abandoned?: boolean } = {}): Promise<AttemptDoc | null> {
  return exclusively(turnKey.attempt(uuid), async () => {
    const doc = await Attempt.findById(uuid).lean<AttemptDoc>();
    if (!doc) return null;
    const set: Record<string, unknown> = {};
    if (!doc.result) set.result = { ...result, ...(o.abandoned ? { abandoned: true } : {}) };
    else if (o.abandoned && !doc.result.abandoned) set['result.abandoned'] = true;
    if (Object.keys(set).length) await Attempt.updateOne({ _id: uuid }, { $set: set });
    return doc;
  });
}

/** The attempt record, written once before anything is sent (a retried activity finds it). True when
 *  this call stored it: until its turn is given back it is then certainly unsent and unsettled. */
export async function recordAttempt(uuid: string, fields: Record<string, unknown>): Promise<boolean> {
  return exclusively(turnKey.attempt(uuid), async () =>
    (await Attempt.updateOne({ _id: uuid }, { $setOnInsert: { ...fields, createdOn: Date.now() } }, { upsert: true })).upsertedCount === 1);
}

/** Fields of the attempt outside its result (the send claim undone, the answer seen, counted), and
 *  the workflow's abandoned verdict on it (result.abandoned). */
export async function setAttempt(uuid: string, set: Record<string, unknown>): Promise<void> {
  await exclusively(turnKey.attempt(uuid), () => Attempt.updateOne({ _id: uuid }, { $set: set }));
}
