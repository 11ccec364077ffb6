// Routes call results from FreeSWITCH events to the member workflows: a failed originate's
// BACKGROUND_JOB (-ERR <cause>) and every CHANNEL_HANGUP_COMPLETE carrying our dlr_workflow_id;
// a CHANNEL_ANSWER of ours is recorded on its attempt (answeredOn).
// The first source for an attempt settles it in Mongo (atomically) and signals the workflow;
// later sources are ignored. If the signal fails, the workflow finds the stored result when it
// reconciles an overdue attempt, so a result is never lost.
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { hangupFromEvent, parseJobResult, type EslClient, type EslEvent } from '../esl';
import { setAttempt, updateAttemptIf } from '../models';
import { CONTENT_CONTEXT_VAR, CONTENT_VAR, MENU_DIGIT_VAR } from '../rules/content';
import { callResultSignal, type CallResult } from '../workflows/messages';
import { callGone } from '../lib/metrics';
import { withAttemptContext } from '../lib/logger';
import { attemptFields } from './attempt-context';

/** `origination_uuid=…` and `dlr_workflow_id=…` out of a BACKGROUND_JOB's Job-Command-Arg. */
export function originateArg(arg: string): { uuid?: string; workflowId?: string } {
  const block = /^\{([^}]*)\}/.exec(arg)?.[1] ?? '';
  const get = (name: string) => new RegExp(`(?:^|,)${name}=([^,]*)`).exec(block)?.[1];
  return { uuid: get('origination_uuid'), workflowId: get('dlr_workflow_id') };
}

export async function settleAndSignal(client: Client, workflowId: string, result: CallResult, log: Logger): Promise<boolean> {
  const won = await updateAttemptIf(result.uuid, {}, {
    result: {
      cause: result.cause, answered: result.answered, billsec: result.billsec, duration: result.duration, source: result.source, settledOn: Date.now(),
      ...(result.bridged !== undefined ? { bridged: result.bridged } : {}), ...(result.digit ? { digit: result.digit } : {}),
    },
  });
  if (!won) return false;
  await client.workflow.getHandle(workflowId).signal(callResultSignal, result);
  log.info({ workflowId, ...result }, 'call result');
  return true;
}

export function resultFromJob(ev: EslEvent): { workflowId: string; result: CallResult } | null {
  if ((ev['Job-Command'] ?? '') !== 'originate') return null;
  const job = parseJobResult(ev._body ?? '');
  if (job.ok) return null; // answered: the hangup event will carry the result
  const { uuid, workflowId } = originateArg(ev['Job-Command-Arg'] ?? '');
  if (!uuid || !workflowId) return null;
  return { workflowId, result: { uuid, cause: job.cause, answered: false, billsec: 0, answersec: 0, duration: 0, source: 'job' } };
}

/**
 * Whether an answered call reached the campaign's content ("bridged" for a broadcast, §2.2), when
 * the attempt ran content (undefined: parked, bridged = answered as before). Transfer: the hangup
 * event's Caller-Context is the dialplan context transferred to (v3: `dialer`). Built-in callflow:
 * an application of the list ran (current_application / last_app set); FreeSWITCH starts the list
 * right after the answer, so this is "the first playback started".
 */
export function contentReached(ev: EslEvent, vars: Record<string, string>, answered: boolean): boolean | undefined {
  const mode = vars[CONTENT_VAR];
  if (!mode) return undefined;
  if (!answered) return false;
  if (mode === 'transfer') return ev['Caller-Context'] === (vars[CONTENT_CONTEXT_VAR] || 'dialer');
  return !!(vars.current_application || vars.last_app);
}

export function resultFromHangup(ev: EslEvent): { workflowId: string; result: CallResult } | null {
  const workflowId = ev.variable_dlr_workflow_id;
  if (!workflowId) return null;
  const h = hangupFromEvent(ev);
  const minCount = Number(h.vars.cc_min_count);
  const bridged = contentReached(ev, h.vars, h.answered);
  const digit = h.answered && /^[0-9*]$/.test(h.vars[MENU_DIGIT_VAR] ?? '') ? h.vars[MENU_DIGIT_VAR] : undefined;
  const recordSec = /^\d+$/.test(h.vars.record_seconds ?? '') ? Number(h.vars.record_seconds) : undefined;
  return {
    workflowId,
    result: {
      uuid: h.uuid, cause: h.cause, answered: h.answered, billsec: h.billsec, answersec: h.answersec, duration: h.duration,
      source: 'event', ...(minCount > 0 ? { minCount } : {}), ...(bridged !== undefined ? { bridged } : {}), ...(digit ? { digit } : {}),
      ...(recordSec !== undefined ? { recordSec } : {}),
    },
  };
}

/** Our attempt and its answer time (ms, FreeSWITCH's clock) out of a CHANNEL_ANSWER. */
export function answerFromEvent(ev: EslEvent): { uuid: string; answeredOn: number } | null {
  const uuid = ev['Unique-ID'];
  if (!ev.variable_dlr_workflow_id || !uuid) return null;
  const us = Number(ev['Caller-Channel-Answered-Time']);
  return { uuid, answeredOn: us > 0 ? Math.floor(us / 1000) : Date.now() };
}

/** Records the answer on the attempt (one `_id`-keyed write; the attempt exists: it is recorded
 *  before the originate is sent, and the answer can come before the job's +OK). An attempt known
 *  to be answered is never redialled as lost (services/reconcile.ts, activities checkCall). */
export async function recordAnswer(found: { uuid: string; answeredOn: number }): Promise<void> {
  await setAttempt(found.uuid, { answeredOn: found.answeredOn });
}

export function routeCallResults(esl: EslClient, client: Client, log: Logger): void {
  const handle = (found: { workflowId: string; result: CallResult } | null, attempt?: number) => {
    if (!found) return;
    callGone(found.result.uuid);
    void withAttemptContext(attemptFields(found.workflowId, found.result.uuid, attempt), () =>
      settleAndSignal(client, found.workflowId, found.result, log).catch((err: unknown) =>
        log.warn({ err: String(err), ...found }, 'could not deliver call result; the workflow will reconcile'),
      ));
  };
  esl.on('BACKGROUND_JOB', (ev: EslEvent) => handle(resultFromJob(ev)));
  esl.on('CHANNEL_HANGUP_COMPLETE', (ev: EslEvent) => handle(resultFromHangup(ev), Number(ev.variable_dlr_current_attempt)));
  esl.on('CHANNEL_ANSWER', (ev: EslEvent) => {
    const found = answerFromEvent(ev);
    if (found) recordAnswer(found).catch((err: unknown) => log.warn({ err: String(err), ...found }, 'could not record the answer'));
  });
}
