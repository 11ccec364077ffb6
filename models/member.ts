// The member document (collection `members`) with Webitel v3 field names (spec §5.1–§5.2, §5.8),
// and its conversion to/from the MemberState the rules and the member workflow work on.
import { model, plainVariables } from './model';
import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import type { MemberState, NumberState } from '../rules';
import { claimIndexKey, MEMBERS_STRATEGIES } from '../rules/dispatch';

const communicationSchema = new Schema(
  {
    number: { type: String, required: true, trim: true, minlength: 1 },
    priority: { type: Number, default: 0 },
    type: { type: String, default: null },
    description: { type: String, default: null },
    state: { type: Number, enum: [0, 1, 2], default: 0 },
    status: { type: Number, default: 0 },
    _probe: { type: Number, default: 0 },
    lastCall: { type: Number, default: 0 },
    rangeId: { type: String, default: null },
    rangeAttempts: { type: Number, default: 0 },
    checkResult: { type: Boolean, default: null },
    stopCommunication: { type: Boolean, default: false },
  },
  { _id: false },
);

export const memberSchema = new Schema(
  {
    dialer: { type: String, required: true },
    domain: { type: String, required: true },
    name: { type: String, default: '_undef_' },
    priority: { type: Number, default: 0 },
    timezone: { type: String, default: '' },
    expire: { type: Number, default: null },
    variables: { type: Schema.Types.Mixed, default: () => ({}) },
    communications: {
      type: [communicationSchema],
      validate: { validator: (v: unknown[]) => Array.isArray(v) && v.length > 0, message: 'must be a non-empty array' },
    },
    createdOn: { type: Number, default: () => Date.now() },
    // Engine-owned (§5.1).
    _probeCount: { type: Number, default: 0 },
    _lock: { type: String, default: null },
    _lastSession: { type: String, default: null },
    _nextTryTime: { type: Number, default: null },
    _endCause: { type: String, default: null },
    _lastNumberId: { type: Number, default: null },
    _lastMinusProbe: { type: Boolean, default: false },
    /** Uncounted LOST_CALL redials used (ours; rules applyOutcome). */
    _lostRedials: { type: Number, default: 0 },
    callSuccessful: { type: Boolean, default: false },
    successfulCount: { type: Number, default: 0 },
    lastCall: { type: Number, default: 0 },
    _waitingForResultStatus: { type: Number, default: null },
    _waitingForResultStatusCb: { type: Number, default: null },
    _log: { type: [Schema.Types.Mixed], default: [] },
    // Dispatch (ours): the campaign's lease this member holds, and the earliest moment the campaign
    // may grant it again (null = now). A member never dialled is only this row (lazy workflows).
    _dispatch: { type: String, default: null },
    _readyAt: { type: Number, default: null },
    lastModified: { type: Number, default: () => Date.now() },
  },
  { collection: 'members', minimize: false, versionKey: false },
);
// One index per dispatch order (rules/dispatch.ts claimIndexKey), so MongoDB reads the ready window
// off the index and stops after k keys instead of sorting every open member of the campaign
// (FerretDB v1 uses no index for this query either way).
for (const strategy of MEMBERS_STRATEGIES) memberSchema.index(claimIndexKey(strategy));
memberSchema.index({ dialer: 1, _dispatch: 1 });
memberSchema.index({ dialer: 1, _endCause: 1, _readyAt: 1 });
memberSchema.index({ domain: 1, dialer: 1 });
// The API's member pages (api/reads.ts findPage): a campaign's members in `_id` order, all or of one
// end state (`_endCause` null = waiting, or one end cause). The embedded store pushes an equality
// down only for a field that leads an index (docs/setup.md, "sqlite-pushdown"), hence `_endCause` first.
memberSchema.index({ dialer: 1, _id: 1 });
memberSchema.index({ _endCause: 1, dialer: 1, _id: 1 });

export type MemberDoc = InferSchemaType<typeof memberSchema> & { _id: mongoose.Types.ObjectId };
export const Member = model('Member', memberSchema);


export function memberState(doc: MemberDoc): MemberState {
  return {
    name: doc.name ?? '_undef_',
    timezone: doc.timezone || null,
    priority: doc.priority ?? 0,
    expire: doc.expire ?? null,
    variables: plainVariables(doc.variables),
    communications: (doc.communications ?? []).map((c) => ({
      number: c.number,
      priority: c.priority ?? 0,
      type: c.type ?? null,
      description: c.description ?? null,
      state: (c.state ?? 0) as NumberState,
      probe: c._probe ?? 0,
      lastCall: c.lastCall ?? 0,
      rangeId: c.rangeId ?? null,
      rangeAttempts: c.rangeAttempts ?? 0,
      stopCommunication: c.stopCommunication ?? false,
      checkResult: c.checkResult ?? false,
    })),
    probeCount: doc._probeCount ?? 0,
    successfulCount: doc.successfulCount ?? 0,
    callSuccessful: doc.callSuccessful ?? false,
    nextTryTime: doc._nextTryTime ?? null,
    endCause: doc._endCause ?? null,
    lastNumberIndex: doc._lastNumberId ?? null,
    lastMinusProbe: doc._lastMinusProbe ?? false,
    lostRedials: doc._lostRedials ?? 0,
    lastCall: doc.lastCall ?? 0,
  };
}

/** The `$set` that writes a MemberState back in v3 field names. Client-owned fields other than the
 *  communications array are left alone. */
export function memberStateSet(s: MemberState): Record<string, unknown> {
  return {
    communications: s.communications.map((c) => ({
      number: c.number,
      priority: c.priority,
      type: c.type ?? null,
      description: c.description ?? null,
      state: c.state,
      status: 0,
      _probe: c.probe,
      lastCall: c.lastCall,
      rangeId: c.rangeId ?? null,
      rangeAttempts: c.rangeAttempts,
      checkResult: c.checkResult ? true : null,
      stopCommunication: c.stopCommunication ?? false,
    })),
    _probeCount: s.probeCount,
    successfulCount: s.successfulCount,
    callSuccessful: s.callSuccessful,
    _nextTryTime: s.nextTryTime,
    _endCause: s.endCause,
    _lastNumberId: s.lastNumberIndex,
    _lastMinusProbe: s.lastMinusProbe,
    _lostRedials: s.lostRedials ?? 0,
    lastCall: s.lastCall,
    lastModified: Date.now(),
  };
}
