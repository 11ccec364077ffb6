// Structured JSON logs (pino): one line per event, easy to ship to any log store.
// Lines written while an attempt's work runs (its activities, its call results) carry the
// attempt's fields — campaignId, memberId, attempt, callUuid — from an async context
// (withAttemptContext), so no call site has to repeat them.
import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type DestinationStream } from 'pino';

export interface AttemptLogFields {
  campaignId?: string;
  memberId?: string;
  /** The member's attempt number (dlr_current_attempt). */
  attempt?: number;
  /** The call's origination uuid (the attempt's id). */
  callUuid?: string;
}

const attemptContext = new AsyncLocalStorage<AttemptLogFields>();

/** Runs fn with `fields` on every log line written meanwhile (by loggers of createLogger). */
export function withAttemptContext<T>(fields: AttemptLogFields, fn: () => T): T {
  const known = Object.fromEntries(Object.entries({ ...attemptContext.getStore(), ...fields }).filter(([, v]) => v !== undefined && v !== ''));
  return attemptContext.run(known, fn);
}

export function createLogger(name: string, destination?: DestinationStream) {
  // A copy: pino merges each line's fields into the object mixin returns.
  const options = { name, level: process.env.LOG_LEVEL ?? 'info', mixin: () => ({ ...attemptContext.getStore() }) };
  return destination ? pino(options, destination) : pino(options);
}
export type { Logger } from 'pino';
