// One document per call attempt (keyed by its origination_uuid), written only by its member
// workflow's activities: inserted when the originate is sent (the insert is the send claim), and
// given the attempt's result when the workflow has applied it (endAttempt, with its `counted` flag).
//
// The result sources that race — the worker's result router (every worker hears every hangup), a
// CDR, the reconciler, the member's own LOST_CALL or engine outcome — never write the attempt: each
// inserts the result it saw into `attempt_results` with the attempt's uuid as `_id`. An insert of an
// `_id` that exists fails atomically (FerretDB v1 too, where an update is a read and a whole-document
// write), so the first source wins with one command, no read and no turn. A CHANNEL_ANSWER goes the
// same way into `attempt_answers`. docs/architecture.md, "Who writes what".
import { batchedUpdate } from './group-commit';
import { model } from './model';
import { batched, insertNew } from './serial';
import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { LOST_CALL } from '../rules';
import type { CallResult } from '../workflows/messages';

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
    /** When the originate was sent; null: never sent (not built, a listed number). */
    sentOn: { type: Number, default: null },
    /** Campaign counters were incremented for this attempt (so a retried activity counts once). */
    counted: { type: Boolean, default: false },
    /** Counted in `successCall` or `errorCall` (§11.1); null while its result status is awaited. */
    outcome: { type: String, enum: ['success', 'error', null], default: null },
    // The result the member workflow applied (null until then): the winner in `attempt_results`,
    // with the workflow's abandoned verdict.
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

/** A stored result of a call: the first source's (`_id`: the attempt's uuid). */
export type AttemptResult = {
  cause: string; q850?: number; answered: boolean; billsec: number | null; duration: number;
  source: 'job' | 'event' | 'cdr' | 'reconcile' | 'engine'; bridged?: boolean; digit?: string; agentAnswered?: boolean;
  amd?: CallResult['amd']; abandoned?: boolean; settledOn: number;
};
/** A call result as stored: what its source reported (an answered call whose result was lost has
 *  an unknown talk time: billsec null). */
export function resultRecord(r: CallResult, settledOn = Date.now()): AttemptResult {
  return {
    cause: r.cause, answered: r.answered, billsec: r.cause === LOST_CALL && r.answered ? null : r.billsec, duration: r.duration, source: r.source, settledOn,
    ...(r.bridged !== undefined ? { bridged: r.bridged } : {}), ...(r.digit ? { digit: r.digit } : {}),
    ...(r.agentAnswered !== undefined ? { agentAnswered: r.agentAnswered } : {}),
    ...(r.amd ? { amd: r.amd } : {}),
  };
}

type ResultDoc = AttemptResult & { _id: string };
const results = () => mongoose.connection.collection<ResultDoc>('attempt_results');
const answers = () => mongoose.connection.collection<{ _id: string; answeredOn: number }>('attempt_answers');
/** First-wins inserts into `coll`, those of one moment as one unordered insertMany (models/serial.ts
 *  `batched`): true for the caller whose insert stored its document, false when its `_id` was taken
 *  (by another writer, or an earlier item of the same batch): the same answer as one insert each. */
const firstInserts = <D extends { _id: string }>(coll: () => mongoose.mongo.Collection<D>) => batched<D, boolean>((docs) => insertNew(coll(), docs));
const insertResult = firstInserts(results);
const insertAnswer = firstInserts(answers);

/** The first-wins settle of every result source: true when `result` is the attempt's result (stored
 *  by this call), false when another source's came first. One insert; no read, no turn. A retry
 *  after a lost answer finds its own result stored and gets false (its caller then does not
 *  signal; the workflow finds the stored result when it checks the overdue call). */
export async function settleResult(uuid: string, result: AttemptResult): Promise<boolean> {
  return insertResult({ ...result, _id: uuid });
}

/** The stored result of an attempt, if any source settled it. */
export async function storedResultOf(uuid: string): Promise<AttemptResult | null> {
  const doc = await results().findOne({ _id: uuid });
  if (!doc) return null;
  const { _id, ...r } = doc;
  return r;
}

/** The stored results of some attempts, by uuid (reconcile). */
export async function storedResultsOf(uuids: string[]): Promise<Map<string, AttemptResult>> {
  if (!uuids.length) return new Map();
  const docs = await results().find({ _id: { $in: uuids } }).toArray();
  return new Map(docs.map(({ _id, ...r }) => [_id, r]));
}

/** The call was answered (its CHANNEL_ANSWER, or the switch's channel list): such a call is never
 *  redialled as lost. The first answer stays. */
export async function recordAnswer(uuid: string, answeredOn: number): Promise<boolean> {
  return insertAnswer({ _id: uuid, answeredOn });
}

/** When the attempt's call was answered, or null. */
export async function answeredOnOf(uuid: string): Promise<number | null> {
  return (await answers().findOne({ _id: uuid }))?.answeredOn ?? null;
}

/** Which of these attempts were answered, by uuid (the console). */
export async function answeredOf(uuids: string[]): Promise<Set<string>> {
  if (!uuids.length) return new Set();
  return new Set((await answers().find({ _id: { $in: uuids } }, { projection: { _id: 1 } }).toArray()).map((d) => d._id));
}

/**
 * The attempt record with its send claim, in one insert: true when this call stored it, so the
 * originate is sent now; false when it is stored already (a retried or duplicated placeCall: it was
 * sent, or decided unsent, by the first; never sent twice). `sentOn: null` records an attempt that
 * is not sent (its command could not be built, a listed number). Written after the wait for an
 * originations-per-second place: a worker dying in that wait leaves no record, and the retried
 * activity sends it.
 */
export async function recordAttempt(uuid: string, fields: AttemptFields, sentOn: number | null): Promise<boolean> {
  return insertAttempt(newAttempt(uuid, fields, sentOn));
}

/** What placeCall knows of an attempt when it records it. */
export interface AttemptFields {
  dialer: string; domain: string; member: string; workflowId: string; attempt: number;
  number: string; dialString: string; destinationId?: string | null; jobUuid: string;
}

/** The attempt record as `Attempt.create` would store it (every schema default filled in), built
 *  without a Mongoose document: this insert is on every call's path (test/stored-writes.test.ts
 *  compares the two). */
export function newAttempt(uuid: string, f: AttemptFields, sentOn: number | null): StoredAttempt {
  return {
    _id: uuid, dialer: f.dialer, domain: f.domain, member: f.member, workflowId: f.workflowId, attempt: f.attempt,
    number: f.number, dialString: f.dialString, destinationId: f.destinationId ?? null, jobUuid: f.jobUuid,
    createdOn: Date.now(), sentOn, counted: false, outcome: null, result: null,
  };
}
type StoredAttempt = Required<AttemptFields> & {
  _id: string; createdOn: number; sentOn: number | null; counted: boolean; outcome: 'success' | 'error' | null; result: AttemptResult | null;
};
const attempts = () => Attempt.collection as unknown as mongoose.mongo.Collection<StoredAttempt>;
const insertAttempt = firstInserts(attempts);

/** The send claim undone (the originate certainly did not reach the switch): the retried placeCall
 *  records and sends it again. */
export async function unrecordAttempt(uuid: string): Promise<void> {
  await Attempt.deleteOne({ _id: uuid, result: null });
}

/**
 * The result the member workflow applied, as its attempt record keeps it (with its abandoned
 * verdict); endAttempt stores it with the attempt's `counted` flag, in one write (countOnce). A
 * result the workflow heard from a source (`job`, `event`, `cdr`) or read from the store
 * (`reconcile`: settleLost, the reconciler) is the stored winner: kept as is, no read. One the
 * workflow made itself (`engine`: not sent) first goes through the first-wins settle, and if a
 * source's result won meanwhile the record keeps that one.
 */
export async function appliedResult(uuid: string, result: AttemptResult, o: { abandoned?: boolean }): Promise<AttemptResult> {
  let stored = result;
  if (result.source === 'engine' && !(await settleResult(uuid, result))) stored = (await storedResultOf(uuid)) ?? result;
  return { ...stored, ...(o.abandoned ? { abandoned: true } : {}) };
}

/** Fields of the attempt (counted, outcome, the applied result: an AttemptResult, as the schema
 *  stores it), written by its member's activities; no Mongoose casting, as `recordAttempt`. Through
 *  the group commit: the attempts counted by one write of their campaign come here together. */
export async function setAttempt(uuid: string, set: { counted?: boolean; outcome?: 'success' | 'error'; result?: AttemptResult }): Promise<void> {
  await batchedUpdate(Attempt, { _id: uuid }, { $set: set }, { stored: true });
}
