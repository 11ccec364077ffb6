// Building new member documents (§5.1) for the REST insert and the CSV import.
import mongoose from 'mongoose';
import { MemberStore } from '../models/member-store';

export interface NewMember {
  name?: string;
  priority?: number;
  timezone?: string;
  expire?: number | null;
  variables?: Record<string, unknown>;
  communications: { number: string; priority?: number; type?: string | null; description?: string | null }[];
}

/** The full stored document: client fields plus every engine field at its initial value. */
export function memberDocument(m: NewMember, dialer: string, domain: string, now = Date.now()): Record<string, unknown> {
  const priority = m.priority ?? 0;
  return {
    _id: new mongoose.Types.ObjectId(),
    dialer,
    domain,
    // v3: `'` is replaced by `_`; no name → `_undef_`.
    name: m.name === undefined || m.name === '' ? '_undef_' : m.name.replace(/'/g, '_'),
    priority,
    timezone: m.timezone ?? '',
    expire: m.expire ?? null,
    variables: m.variables ?? {},
    communications: m.communications.map((c) => ({
      number: c.number,
      priority: c.priority ?? 0,
      type: c.type ?? null,
      description: c.description ?? null,
      state: 0,
      status: 0,
      _probe: 0,
      lastCall: 0,
      rangeId: null,
      rangeAttempts: 0,
      checkResult: null,
      stopCommunication: false,
    })),
    createdOn: now,
    randomValue: Math.random(),
    _score: now + priority,
    _probeCount: 0,
    _lock: null,
    _lastSession: null,
    _nextTryTime: null,
    _endCause: null,
    _lastNumberId: null,
    _lastMinusProbe: false,
    callSuccessful: false,
    successfulCount: 0,
    lastCall: 0,
    _waitingForResultStatus: null,
    _waitingForResultStatusCb: null,
    _log: [],
    lastModified: now,
  };
}

// Storing them is models/member-store.ts's (the one writer of members and the ready queue).
export const insertAllOrNothing = MemberStore.insert;
export const flushQueue = MemberStore.flushQueue;
export const queueStored = MemberStore.queueStored;
