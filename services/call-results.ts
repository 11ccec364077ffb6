// Routes call results from FreeSWITCH events to the member workflows: a failed originate's
// BACKGROUND_JOB (-ERR <cause>) and every CHANNEL_HANGUP_COMPLETE carrying our dlr_workflow_id;
// a CHANNEL_ANSWER of ours is recorded (models/attempt.ts recordAnswer).
// The first source for an attempt settles it in Mongo (an insert: atomic) and signals the workflow;
// later sources are ignored. If the signal fails, the workflow finds the stored result when it
// reconciles an overdue attempt, so a result is never lost.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { hangupFromEvent, parseJobResult, type EslClient, type EslEvent } from '../esl';
import { recordAnswer as storeAnswer, resultRecord, settleResult } from '../models';
import { CONTENT_CONTEXT_VAR, CONTENT_VAR, MENU_DIGIT_VAR } from '../rules/content';
import { PREDICTIVE_VAR } from '../rules/predictive';
import { RUN_ID_VAR } from '../rules/channel-vars';
import { AMD_CANCEL_CAUSE, amdFromVars, amdRoute } from '../rules/amd';
import { callResultSignal, memberParkedSignal, offerEventSignal, type CallResult } from '../workflows/messages';
import { callGone } from '../lib/metrics';
import { withAttemptContext } from '../lib/logger';
import { attemptFields } from './attempt-context';

/** `origination_uuid=…`, `dlr_workflow_id=…` and `dlr_run_id=…` out of a BACKGROUND_JOB's Job-Command-Arg. */
export function originateArg(arg: string): { uuid?: string; workflowId?: string; runId?: string; side?: string } {
  const block = /^\{([^}]*)\}/.exec(arg)?.[1] ?? '';
  const get = (name: string) => new RegExp(`(?:^|,)${name}=([^,]*)`).exec(block)?.[1];
  return { uuid: get('origination_uuid'), workflowId: get('dlr_workflow_id'), runId: get(RUN_ID_VAR) || undefined, side: get('cc_side') };
}

/** A call's result for its member workflow: the run that placed the call when known (the server
 *  then skips looking up the current run), else the workflow's current run. */
export interface FoundResult { workflowId: string; runId?: string; result: CallResult }

/** Signals the result to the run that placed the call; a run that has ended since (continue-as-new,
 *  reset) hands over to the workflow's current run, as a signal by workflow id alone does. */
export async function signalResult(client: Client, workflowId: string, runId: string | undefined, result: CallResult): Promise<void> {
  if (runId) {
    try {
      await client.workflow.getHandle(workflowId, runId).signal(callResultSignal, result);
      return;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  await client.workflow.getHandle(workflowId).signal(callResultSignal, result);
}

export async function settleAndSignal(client: Client, { workflowId, runId, result }: FoundResult, log: Logger): Promise<boolean> {
  const won = await settleResult(result.uuid, resultRecord(result));
  if (!won) return false;
  await signalResult(client, workflowId, runId, result);
  log.info({ workflowId, ...result }, 'call result');
  return true;
}

export function resultFromJob(ev: EslEvent): FoundResult | null {
  if ((ev['Job-Command'] ?? '') !== 'originate') return null;
  const job = parseJobResult(ev._body ?? '');
  if (job.ok) return null; // answered: the hangup event will carry the result
  const { uuid, workflowId, runId, side } = originateArg(ev['Job-Command-Arg'] ?? '');
  if (!uuid || !workflowId) return null;
  return {
    workflowId, ...(runId ? { runId } : {}),
    result: { uuid, cause: job.cause, answered: false, billsec: 0, answersec: 0, duration: 0, source: 'job', ...(side === 'agent' ? { agentAnswered: false } : {}) },
  };
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

/**
 * Progressive (§2.3): the result of the agent leg of an agent-first call. Not answered: the agent
 * failed. Answered: the member's result — bridged when `bridge_uepoch > 0`, talk time from the
 * bridge; unbridged, the member's cause is `originate_failed_cause` (after NO_ANSWER the agent leg
 * itself ends NORMAL_CLEARING).
 */
function agentLegResult(h: ReturnType<typeof hangupFromEvent>): CallResult {
  const base = { uuid: h.uuid, answersec: h.answersec, duration: h.duration, source: 'event' as const };
  if (!h.answered) return { ...base, cause: h.cause, answered: false, bridged: false, billsec: 0, agentAnswered: false };
  const bridged = Number(h.vars.bridge_uepoch) > 0;
  const talk = bridged ? Math.max(0, Number(h.vars.end_epoch) - Number(h.vars.bridge_epoch)) : 0;
  return {
    ...base, cause: bridged ? h.cause : (h.vars.originate_failed_cause || h.cause), answered: bridged, bridged,
    billsec: Number.isFinite(talk) ? talk : 0, agentAnswered: true,
  };
}

/** Predictive (§2.4, §6.1): the member leg's result; bridged to an agent when `bridge_uepoch > 0`,
 *  talk time from the bridge (neither AMD nor the wait for an agent is talk). A callee that hung up
 *  during AMD: ORIGINATOR_CANCEL (§2.4). */
function predictiveMemberResult(h: ReturnType<typeof hangupFromEvent>): CallResult {
  const bridged = h.answered && Number(h.vars.bridge_uepoch) > 0;
  const talk = bridged ? Math.max(0, Number(h.vars.end_epoch) - Number(h.vars.bridge_epoch)) : 0;
  const amd = amdFromVars(h.vars, h.answered, h.billsec);
  return {
    uuid: h.uuid, cause: amd?.result === 'CANCEL' ? AMD_CANCEL_CAUSE : h.cause, answered: h.answered, bridged,
    billsec: Number.isFinite(talk) ? talk : 0, answersec: h.answersec, duration: h.duration, source: 'event', ...(amd ? { amd } : {}),
  };
}

/** Predictive: a member leg of ours parked (answered, or AMD said human): its workflow locates an agent. */
export function parkedFromEvent(ev: EslEvent): { workflowId: string; uuid: string } | null {
  const uuid = ev['Unique-ID'];
  const workflowId = ev.variable_dlr_workflow_id;
  return uuid && workflowId && ev[`variable_${PREDICTIVE_VAR}`] === 'true' ? { workflowId, uuid } : null;
}

export function resultFromHangup(ev: EslEvent): FoundResult | null {
  const workflowId = ev.variable_dlr_workflow_id;
  if (!workflowId) return null;
  const h = hangupFromEvent(ev);
  const runId = h.vars[RUN_ID_VAR] ? { runId: h.vars[RUN_ID_VAR] } : {};
  if (h.vars.cc_side === 'agent') return { workflowId, ...runId, result: agentLegResult(h) };
  if (h.vars[PREDICTIVE_VAR] === 'true') return { workflowId, ...runId, result: predictiveMemberResult(h) };
  const minCount = Number(h.vars.cc_min_count);
  const digit = h.answered && /^[0-9*]$/.test(h.vars[MENU_DIGIT_VAR] ?? '') ? h.vars[MENU_DIGIT_VAR] : undefined;
  const recordSec = /^\d+$/.test(h.vars.record_seconds ?? '') ? Number(h.vars.record_seconds) : undefined;
  // AMD (§2.2): only a person (or an allowed NOTSURE) reaches the content; the analysis is not talk.
  const amd = amdFromVars(h.vars, h.answered, h.billsec);
  const route = amd && amdRoute(amd.result, h.vars.amd_on_notsure === 'break');
  const reached = contentReached(ev, h.vars, h.answered);
  const bridged = route && route !== 'connect' ? false : route ? (reached ?? true) : reached;
  return {
    workflowId, ...runId,
    result: {
      uuid: h.uuid, cause: route === 'cancelled' ? AMD_CANCEL_CAUSE : h.cause, answered: h.answered,
      billsec: h.billsec - (amd?.sec ?? 0), answersec: h.answersec, duration: h.duration,
      source: 'event', ...(minCount > 0 ? { minCount } : {}), ...(bridged !== undefined ? { bridged } : {}), ...(digit ? { digit } : {}),
      ...(recordSec !== undefined ? { recordSec } : {}), ...(amd ? { amd } : {}),
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

/** Records the answer (one insert into `attempt_answers`; the attempt record is its member's). An
 *  attempt known to be answered is never redialled as lost (services/reconcile.ts, activities checkCall). */
export async function recordAnswer(found: { uuid: string; answeredOn: number }): Promise<void> {
  await storeAnswer(found.uuid, found.answeredOn);
}

/** How many calls a router remembers having settled (or lost the settle of). */
const SETTLED_REMEMBERED = 20_000;

export function routeCallResults(esl: EslClient, client: Client, log: Logger): void {
  // A call reports its result more than once (a failed originate: its BACKGROUND_JOB -ERR, then its
  // CHANNEL_HANGUP_COMPLETE): the first one this worker tried to store decided it — stored, or
  // another source's came first — so a later one would only lose the insert. Forgotten on an error.
  const tried = new Set<string>();
  const handle = (found: FoundResult | null, attempt?: number) => {
    if (!found) return;
    const { uuid } = found.result;
    callGone(uuid);
    if (tried.has(uuid)) return;
    tried.add(uuid);
    if (tried.size > SETTLED_REMEMBERED) tried.delete(tried.values().next().value!);
    void withAttemptContext(attemptFields(found.workflowId, uuid, attempt), () =>
      settleAndSignal(client, found, log).catch((err: unknown) => {
        tried.delete(uuid);
        log.warn({ err: String(err), ...found }, 'could not deliver call result; the workflow will reconcile');
      }));
  };
  esl.on('BACKGROUND_JOB', (ev: EslEvent) => handle(resultFromJob(ev)));
  esl.on('CHANNEL_HANGUP_COMPLETE', (ev: EslEvent) => handle(resultFromHangup(ev), Number(ev.variable_dlr_current_attempt)));
  esl.on('CHANNEL_PARK', (ev: EslEvent) => {
    const parked = parkedFromEvent(ev);
    if (!parked) return;
    client.workflow.getHandle(parked.workflowId).signal(memberParkedSignal, { uuid: parked.uuid })
      .catch((err: unknown) => log.warn({ err: String(err), ...parked }, 'could not tell the member its call was answered'));
  });
  esl.on('CHANNEL_ANSWER', (ev: EslEvent) => {
    const found = answerFromEvent(ev);
    if (found) recordAnswer(found).catch((err: unknown) => log.warn({ err: String(err), ...found }, 'could not record the answer'));
    // Progressive: the agent's phone answered (connected time, the agent application's event).
    const offerId = ev.variable_dlr_offer_id;
    const agentWf = ev.variable_dlr_agent_workflow_id;
    if (offerId && agentWf && ev.variable_cc_side === 'agent') {
      client.workflow.getHandle(agentWf).signal(offerEventSignal, { offerId, kind: 'connected' })
        .catch((err: unknown) => log.warn({ err: String(err), offerId }, 'could not tell the agent its call was answered'));
    }
  });
}
