// One document per call attempt, written before the originate is sent (keyed by its
// origination_uuid) and settled exactly once with the first result that arrives.
import { model } from './model';
import mongoose, { Schema, type InferSchemaType } from 'mongoose';

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
    /** Campaign counters were incremented for this attempt (so a retried activity counts once). */
    counted: { type: Boolean, default: false },
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
