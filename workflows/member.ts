// One durable workflow per campaign member: waits (retry, windows, calendar), takes a line, dials,
// waits for the call result and the optional result status, and applies the Webitel rules
// (../rules) to decide what comes next. All I/O is in activities; all rules are in ../rules.
//
// The workflow is one loop (memberWorkflow) over one state object (MemberRun) that the message
// handlers (setHandlers) and the steps below share: wait until due, await the campaign's grant,
// dial once, await the result, apply the outcome, wrap up (result status), end.
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
  allHandlersFinished,
  getExternalWorkflowHandle,
  setCurrentDetails,
  sleep,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { AgentActivities, MemberActivities, MemberEndEvent, PredictiveActivities } from '../activities/types';
import {
  applyOutcome,
  menuResult,
  applyStatus,
  applyStatusTimeout,
  attemptCountsAs,
  endWithoutCall,
  maskNumber,
  memberEndEvent,
  mergeClientPatch,
  nextAction,
  planAttempt,
  q850,
  settleAttempt,
  END,
  LOST_CALL,
  NOT_SENT_CAUSE,
  terminateIdle,
  agentLegOutcome,
  resultForm,
  amdMaxMs,
  amdRoute,
  AGENT_FAILED_RETRY_MS,
  localTime,
  type Applied,
  type AttemptPlan,
  type CampaignRules,
  type MemberState,
  type NextAction,
  type NumberChoice,
  type PredictiveRules,
  type StatusBody,
  type CallReportKind,
} from '../rules';
import { searchAttributes as SA } from '../lib/search-attributes';
import {
  agentFreeSignal,
  callResultSignal,
  callReportSignal,
  campaignWorkflowId,
  memberParkedSignal,
  editUpdate,
  grantSignal,
  campaignEditedSignal,
  previewDecisionSignal,
  memberInfoQuery,
  MEMBER_ALREADY_ENDED,
  NOT_WAITING_FOR_STATUS,
  rescheduleSignal,
  statusUpdate,
  terminateUpdate,
  agentWorkflowId,
  offerEventSignal,
  type CallResult,
  type OfferEvent,
  type PreviewDecision,
  type OfferOutcome,
  type Reservation,
  type MemberInfo,
  type MemberPhase,
  type MemberWorkflowInput,
  type MemberWorkflowResult,
  type GrantedCampaign,
} from './messages';

/** The steps that only touch Mongo (and placeCall's one bgapi): short and idempotent, so local
 *  activities (one history event each, no task-queue round trip) rather than activities (six events
 *  and two workflow tasks each). A worker that dies during one fails its workflow task; the next
 *  worker runs it again, which they are written for (see activities/member.ts). */
const local = proxyLocalActivities<Omit<MemberActivities, 'hangup' | 'checkCall'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
});
const esl = proxyActivities<MemberActivities>({
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '15 seconds', backoffCoefficient: 2 },
});

/** How long to wait, after the ring timeout, before asking FreeSWITCH whether the call still exists. */
const RESULT_GRACE_MS = 15_000;
/** How often a live (answered) call is re-checked while no result has arrived. */
const LIVE_CALL_RECHECK_MS = 5 * 60_000;
/** Back-off when every line is busy. */
const LINE_BUSY_MIN_MS = 1_000;
/** `_readyAt` of a member that waits for an outside event (a status, an edit): never due by itself. */
const FAR_FUTURE = 8.64e15;
/** A grant that arrives this soon after the campaign was read dials without reading it again. */
const FRESH_READ_MS = 5_000;

/** What one run of the member workflow knows; its handlers and steps read and change it. */
interface MemberRun {
  readonly domain: string;
  readonly campaignId: string;
  readonly memberId: string;
  readonly workflowId: string;
  /** Null only until it is loaded (a fresh start) or if it does not exist. */
  member: MemberState | null;
  /** Attempts started by this workflow, never decremented. */
  seq: number;
  /** End events made by this workflow: the suffix of their ids. */
  endSeq: number;
  phase: MemberPhase;
  /** Something the current wait should look at arrived (reschedule, edit, terminate). */
  wake: boolean;
  terminateRequested: boolean;
  /** Set once the member has ended (the terminate Update waits for it). */
  endCause: string | null;
  /** The campaign's lease for the next attempt, if granted, and when the campaign took its line. */
  grant: string | null;
  grantedAt: number | null;
  /** The campaign's rules that came with the grant of `leaseId`. */
  grantedCampaign: (GrantedCampaign & { leaseId: string }) | null;
  /** `_readyAt` as last stored, so it is only written when it changes. */
  readyAtStored: number | null | undefined;
  /** The campaign as read just before: no need to read it again. */
  justRead: CampaignRules | null;
  /** Client edits received through the API, not applied yet, with their stored form. */
  pendingPatch: Parameters<typeof mergeClientPatch>[1] | null;
  pendingFields: Record<string, unknown> | null;
  /** Edits accepted and edits stored so far (an edit's Update waits for its number to be stored). */
  editsAccepted: number;
  editsStored: number;
  waitUntil: number | null;
  waitReason: string | null;
  /** The call in progress and its result, once one source reported it. */
  currentUuid: string | null;
  result: CallResult | null;
  /** When the result came (predictive: a member who hung up waited until then). */
  resultAt: number;
  /** The uuid of this run's last attempt: the `session` of the member's end event (§11.2). */
  lastUuid: string | null;
  /** The in-call timer still running after the result came (see firstCallWait). */
  callTimer: CancellationScope | null;
  /** The current attempt's campaign waits for result statuses: one may come while the call is up. */
  statusExpected: boolean;
  /** A result status accepted while the call was up, applied when the attempt ends (§6.5). */
  earlyStatus: { body: StatusBody & { from?: string }; at: number } | null;
  /** Wrap-up: the campaign of the attempt whose result status is awaited. */
  awaitingStatus: { camp: CampaignRules } | null;
  statusApplied: boolean;
  /** The attempt's outcome is being stored (endAttempt): a status accepted meanwhile waits for it. */
  writeBackPending: boolean;
  /** Progressive: the agent of the attempt awaiting its status, held in wrap-up until it comes (§7.4). */
  heldAgent: Reservation | null;
  /** Preview: the offer whose agent decides now, and its decision once it came. */
  previewOfferId: string | null;
  previewDecision: PreviewDecision | null;
  /** Predictive: the call whose member leg is parked (answered, waiting for an agent). */
  parked: string | null;
  /** Predictive: an agent became free since the last hunt (the campaign passes it on). */
  agentFree: boolean;
}
/** A run whose member is loaded: every step after the start. */
type Run = MemberRun & { member: MemberState };

/** An attempt that was placed: its plan, the lease it used, and why it was not sent, if it was not. */
interface Placed {
  plan: AttemptPlan;
  leaseId: string;
  grantedAt: number | null;
  notSent?: { reason: string; cause: string };
}

export async function memberWorkflow(input: MemberWorkflowInput): Promise<MemberWorkflowResult> {
  const s: MemberRun = {
    domain: input.domain, campaignId: input.campaignId, memberId: input.memberId, workflowId: workflowInfo().workflowId,
    member: input.carried?.member ?? input.member ?? null, seq: input.carried?.seq ?? 0, endSeq: input.carried?.endSeq ?? 0,
    phase: 'waiting', wake: false, terminateRequested: false, endCause: null, grant: null, grantedAt: null, grantedCampaign: null, readyAtStored: undefined,
    justRead: null, pendingPatch: null, pendingFields: null, editsAccepted: 0, editsStored: 0, waitUntil: null, waitReason: null, currentUuid: null, result: null, resultAt: 0, lastUuid: null,
    callTimer: null, statusExpected: false, earlyStatus: null, awaitingStatus: null, statusApplied: false, writeBackPending: false,
    heldAgent: null, previewOfferId: null, previewDecision: null, parked: null, agentFree: false,
  };
  // Handlers first: Updates with no registered handler are rejected.
  setHandlers(s);
  // CampaignId and DomainId are set by whoever starts the workflow (typedSearchAttributes).
  s.member ??= await local.loadMember(s.memberId);
  if (!isLoaded(s)) throw ApplicationFailure.nonRetryable(`Member ${s.memberId} not found`, 'MemberNotFound');

  for (;;) {
    // Cleared before looking, so a wake-up that arrives while we look is not lost.
    s.wake = false;
    if (s.pendingPatch) await applyPatch(s, s.pendingPatch);
    const camp = grantedRules(s) ?? s.justRead ?? (await local.loadCampaign(s.campaignId));
    s.justRead = null;
    // Campaign deleted (with its members): nothing left to do.
    if (!camp) return { endCause: 'CAMPAIGN_DELETED', attempts: s.member.probeCount };
    if (s.terminateRequested) return finish(s, camp, terminateIdle(s.member), 'terminate');

    const now = Date.now();
    const action = nextAction(s.member, camp, now);
    if (action.kind === 'end') {
      return finish(s, camp, endWithoutCall(s.member, action.cause), action.cause === END.MEMBER_EXPIRED ? 'expire' : undefined);
    }
    if (action.kind === 'wait') {
      await waitUntilDue(s, action, now);
      continue;
    }
    if (!s.grant) {
      await awaitGrant(s, camp, now);
      continue;
    }
    if (workflowInfo().continueAsNewSuggested) await carryOver(s, now);

    // Progressive (§2.3): an agent first; none free: try again in 1 s, keeping the line.
    const agent = camp.type === 'Progressive Dialer' ? await reserveAgent(s, camp) : null;
    if (camp.type === 'Progressive Dialer' && !agent) continue;
    if (agent && camp.previewTimeoutSec && !(await previewAccepted(s, camp, agent))) continue;
    const placed = await dialOnce(s, camp, action.choice, agent);
    if (!placed) {
      if (agent) await offerEnded(s, agent, { kind: 'released', cause: 'LINE_BUSY' });
      continue; // every line busy
    }
    const ringMs = (camp.originateTimeout + (agent?.params.callTimeout ?? 0)) * 1000;
    // Predictive (§2.4): the member first; once it answers, an agent is located and bridged to it.
    const predicted = camp.predictive && !placed.notSent ? await predictiveCall(s, camp, camp.predictive, placed, ringMs) : null;
    const result = placed.notSent ? notSentResult(placed) : (predicted?.result ?? (await awaitResult(s, placed.plan.call.uuid, ringMs + RESULT_GRACE_MS)));
    const applied = await applyResult(s, camp, placed, result, predicted ?? undefined);
    const offered = agent ?? predicted?.agent ?? null;
    if (offered) await offerEnded(s, offered, agentOutcome(camp, result, applied));
    s.heldAgent = offered && applied.decision.kind === 'await-status' ? offered : null;
    if (applied.decision.kind === 'end') return ended(s, applied.decision.cause);
    if (applied.decision.kind === 'await-status') {
      const end = await wrapUp(s, camp, placed.plan.numberIndex, applied.decision.deadline);
      if (end) return end;
    }
  }
}

function isLoaded(s: MemberRun): s is Run {
  return s.member !== null;
}

/** The campaign's rules that came with the grant held now: current unless the campaign was edited
 *  since its claim read them, which the campaign tells its grant holders (campaignEdited). */
function grantedRules(s: MemberRun): CampaignRules | null {
  const g = s.grantedCampaign;
  return g && g.leaseId === s.grant ? g.rules : null;
}

// ---- Messages ----------------------------------------------------------------------------------

function setHandlers(s: MemberRun): void {
  setHandler(
    grantSignal,
    ({ leaseId, grantedAt, campaign }) => {
      s.grant = leaseId;
      s.grantedAt = grantedAt ?? null;
      s.grantedCampaign = campaign ? { ...campaign, leaseId } : null;
    },
    { description: 'The campaign grants one line (lease) for the next attempt.' },
  );
  setHandler(
    campaignEditedSignal,
    () => {
      s.grantedCampaign = null;
      s.justRead = null;
    },
    { description: 'The campaign was edited: its rules are read again before the next attempt.' },
  );
  setHandler(
    callResultSignal,
    (r) => {
      if (r.uuid === s.currentUuid && s.result === null) {
        s.result = r;
        s.resultAt = Date.now();
      }
    },
    { description: 'Result of the current call (BACKGROUND_JOB -ERR, CHANNEL_HANGUP_COMPLETE or CDR); others are ignored.' },
  );
  setHandler(
    memberParkedSignal,
    ({ uuid }) => {
      if (uuid === s.currentUuid && s.result === null) s.parked = uuid;
    },
    { description: 'Predictive: the current call was answered (parked) and needs an agent.' },
  );
  setHandler(
    agentFreeSignal,
    () => {
      s.agentFree = true;
    },
    { description: 'Predictive: an agent of the campaign became free; an answered member waiting for one hunts now.' },
  );
  setHandler(
    previewDecisionSignal,
    (d) => {
      if (d.offerId === s.previewOfferId && s.previewDecision === null) s.previewDecision = d;
    },
    { description: 'Preview: the agent accepted, skipped or rescheduled this member (from the agent workflow).' },
  );
  setHandler(
    rescheduleSignal,
    ({ at }) => {
      if (s.member && !s.member.endCause) {
        s.member.nextTryTime = at ?? Date.now();
        s.wake = true;
      }
    },
    { description: '"Call now" / reschedule: moves the next try to `at` (default now).' },
  );
  setHandler(
    editUpdate,
    async ({ patch, fields }) => {
      s.pendingPatch = { ...(s.pendingPatch ?? {}), ...patch };
      s.pendingFields = { ...(s.pendingFields ?? {}), ...fields };
      const n = ++s.editsAccepted;
      s.wake = true;
      // Waiting or ready: the loop stores it now. In a call or wrap-up: when that is over.
      if (s.phase === 'waiting' || s.phase === 'ready') await condition(() => s.editsStored >= n || s.endCause !== null);
      return { stored: s.editsStored >= n };
    },
    {
      validator: (_edit) => {
        if (s.endCause !== null || s.member?.endCause) throw new Error(MEMBER_ALREADY_ENDED);
      },
      description: 'Client-owned fields edited through the API (§5.2; engine-owned number fields are kept), applied and stored by the workflow.',
    },
  );
  setHandler(
    memberInfoQuery,
    (): MemberInfo => ({ phase: s.phase, member: s.member!, currentUuid: s.currentUuid, waitUntil: s.waitUntil, waitReason: s.waitReason }),
    { description: 'Phase, member state, current call and what the member waits for.' },
  );
  setHandler(
    statusUpdate,
    async (body) => {
      // During the call (G2 accepts a status from the reservation on): kept, and applied when the
      // attempt ends (applyResult).
      if (!s.awaitingStatus) {
        s.earlyStatus = { body, at: Date.now() };
        return { status: 'OK', info: 'success' };
      }
      // In wrap-up, after an attempt: the member is loaded.
      const run = s as Run;
      const { camp } = s.awaitingStatus!;
      s.statusApplied = true;
      // Accepted while the attempt is still being stored (the read model already says "waiting"):
      // apply it on top of the stored attempt, never before it.
      if (s.writeBackPending) await condition(() => !s.writeBackPending);
      const applied = applyStatus(run.member, camp, body, Date.now());
      run.member = applied.member;
      s.awaitingStatus = null;
      await local.saveMember({
        campaignId: s.campaignId,
        memberId: s.memberId,
        member: run.member,
        // The status window closes: claimable again from the `_readyAt` stored with the attempt.
        waitingForStatusUntil: null,
        readyAt: s.readyAtStored,
        callback: { from: body.from ?? 'api', time: Date.now(), data: body },
        step: applied.steps.join('; '),
        decided: decidedBy(s, applied),
        // The campaign may be waiting only for this member to finish (QUEUE_COMPLETE).
        wakeCampaign: applied.decision.kind === 'end' ? s.campaignId : undefined,
      });
      if (applied.decision.kind === 'end') await announceEnd(run, camp, applied.decision.cause, 'callback', body.from);
      const held = s.heldAgent;
      s.heldAgent = null;
      if (held) await tellAgent(s, held, { offerId: held.offerId, kind: 'status-sent' });
      return { status: 'OK', info: 'success' };
    },
    {
      validator: (_body) => {
        const duringCall = s.phase === 'in-call' && s.statusExpected && !s.earlyStatus && !s.awaitingStatus;
        if (!duringCall && (!s.awaitingStatus || s.statusApplied)) throw new Error(NOT_WAITING_FOR_STATUS);
      },
      description: 'Result status (PUT …/members/:id/status, spec §6.5): in wrap-up, or during the call of a campaign that waits for one (applied when the call ends); rejected otherwise.',
    },
  );
  setHandler(
    terminateUpdate,
    async () => {
      const inCall = s.phase === 'in-call' || s.phase === 'dialing';
      s.terminateRequested = true;
      s.wake = true;
      await condition(() => s.endCause !== null);
      return inCall ? { _id: s.memberId, waitHangupCause: 'MANAGER_REQUEST' } : { _id: s.memberId };
    },
    {
      validator: () => {
        if (s.endCause !== null || s.member?.endCause) throw new Error(MEMBER_ALREADY_ENDED);
      },
      description: 'Terminate (spec §9.4): hangs up a live call with MANAGER_REQUEST and ends the member.',
    },
  );
}

/** Applies the client edits received through the API and stores them (the workflow owns the doc).
 *  Callers check `s.pendingPatch` first: an async call that has nothing to do still costs promises
 *  (each one a stack trace in the SDK's promise hook). */
async function applyPatch(s: Run, patch: NonNullable<MemberRun['pendingPatch']>): Promise<void> {
  const n = s.editsAccepted;
  s.member = mergeClientPatch(s.member, patch);
  const edited = s.pendingFields ?? undefined;
  s.pendingPatch = null;
  s.pendingFields = null;
  await local.saveMember({ campaignId: s.campaignId, memberId: s.memberId, member: s.member, edited, step: 'Updated through the API' });
  s.editsStored = n;
}

// ---- Waiting -----------------------------------------------------------------------------------

/** Not dialable now: a grant goes back, the campaign learns when to come back, and the member
 *  sleeps until then or until something wakes it. */
async function waitUntilDue(s: Run, action: Extract<NextAction, { kind: 'wait' }>, now: number): Promise<void> {
  const readyAt = action.until ?? FAR_FUTURE;
  if (s.grant) await returnGrant(s, readyAt);
  else await storeReadyAt(s, readyAt);
  s.waitUntil = action.until;
  s.waitReason = action.reason;
  setPhase(s, 'waiting', [{ key: SA.NextAttemptAt, value: action.until ? new Date(action.until) : null }]);
  const woken = () => s.wake || s.terminateRequested;
  if (action.until !== null) {
    await condition(woken, Math.max(action.until - now, 1), { summary: `${action.reason} until ${new Date(action.until).toISOString()}` });
  } else await condition(woken);
  s.waitUntil = null;
  s.waitReason = null;
}

/** Dialable: waits for the campaign's grant (it orders members and holds the limit). An expiry
 *  still ends the member on time. */
async function awaitGrant(s: Run, camp: CampaignRules, now: number): Promise<void> {
  await storeReadyAt(s, Math.min(s.readyAtStored ?? now, now));
  setPhase(s, 'ready');
  const granted = () => s.grant !== null || s.wake || s.terminateRequested;
  const expireIn = s.member.expire ? Math.max(s.member.expire - now, 1) : null;
  if (expireIn !== null) await condition(granted, expireIn, { summary: 'ready: waiting for a line' });
  else await condition(granted);
  // A grant that came within seconds dials with the campaign just read.
  if (s.grant && !s.wake && Date.now() - now < FRESH_READ_MS) s.justRead = camp;
}

/** Long histories continue as new, carrying the member's state; the grant goes back first. */
async function carryOver(s: Run, now: number): Promise<never> {
  await returnGrant(s, now);
  if (s.pendingPatch) await applyPatch(s, s.pendingPatch);
  if (!allHandlersFinished()) await condition(allHandlersFinished);
  return continueAsNew<typeof memberWorkflow>({
    domain: s.domain, campaignId: s.campaignId, memberId: s.memberId, carried: { member: s.member, seq: s.seq, endSeq: s.endSeq },
  });
}

/** Gives an unused grant back, telling the campaign when this member may be granted again. */
async function returnGrant(s: Run, readyAt: number | null): Promise<void> {
  if (!s.grant) return;
  const leaseId = s.grant;
  s.grant = null;
  await local.releaseGrant({ campaignId: s.campaignId, memberId: s.memberId, leaseId, readyAt });
  s.readyAtStored = readyAt;
}

/** Stores `_readyAt`, the campaign's cue for granting this member, when it changed; a member that
 *  became due earlier than the campaign expected wakes the campaign. */
async function storeReadyAt(s: Run, readyAt: number | null): Promise<void> {
  if (s.readyAtStored === readyAt) return;
  const now = Date.now();
  const stored = s.readyAtStored;
  const becameDue = readyAt !== null && readyAt <= now && stored !== undefined && stored !== null && stored > now;
  await local.saveMember({ campaignId: s.campaignId, memberId: s.memberId, member: s.member, readyAt, wakeCampaign: becameDue ? s.campaignId : undefined });
  s.readyAtStored = readyAt;
}

// ---- One attempt -------------------------------------------------------------------------------

/** Places one call with the granted line; null when every line of the number's destinations was
 *  busy (the attempt never happened and the grant went back). */
async function dialOnce(s: Run, camp: CampaignRules, choice: NumberChoice, agent: Reservation | null = null): Promise<Placed | null> {
  const leaseId = s.grant!;
  const grantedAt = s.grantedAt;
  const uuid = uuid4();
  const jobUuid = uuid4();
  const plan = planAttempt({
    member: s.member, camp, choice, domain: s.domain, campaignId: s.campaignId, memberId: s.memberId, workflowId: s.workflowId,
    uuid, jobUuid, now: Date.now(), random: () => Math.random(),
  });
  const { call } = plan;
  if (agent) call.agent = agentLeg(s, agent, call.number);
  s.currentUuid = uuid;
  s.lastUuid = uuid;
  s.result = null;
  s.earlyStatus = null;
  s.statusExpected = camp.waitingForResultStatus;
  s.phase = 'dialing'; // shown by the query and details; too short-lived for a search attribute
  setCurrentDetails(details(s));
  const placed = await local.placeCall(call);
  if (!placed.placed) {
    s.currentUuid = null;
    if (placed.cappedUntil) await cappedWait(s, placed.cappedUntil);
    else await lineBusyPause(s);
    return null;
  }
  for (const data of placed.refusedVariables ?? []) (call.log.steps ??= []).push({ time: call.log.reservedTime!, data });
  s.member = call.member;
  s.seq += 1;
  setPhase(s, 'in-call', [{ key: SA.Attempt, value: call.attempt }]);
  // Not sent (the command could not be built): nothing to wait for, and never sent again.
  const notSent = placed.sent ? undefined : { reason: placed.notSent ?? 'not sent', cause: placed.cause ?? NOT_SENT_CAUSE };
  return { plan, leaseId, grantedAt, notSent };
}

/** Every line of the number's destinations is busy (held by calls of other campaigns sharing the
 *  gateway, or by attempts not settled yet): the member keeps its grant and tries again after a
 *  short pause, or at once when something wakes it. (Giving the grant back would have the campaign
 *  grant it again at once: placeCall in a tight loop.) */
async function lineBusyPause(s: Run): Promise<void> {
  const pauseMs = LINE_BUSY_MIN_MS + Math.floor(Math.random() * 2000);
  s.waitReason = 'every line busy';
  // Shown 'ready' (an upsert only when the start showed the call it expected: startMemberWorkflowWithGrant).
  setPhase(s, 'ready');
  await condition(() => s.wake || s.terminateRequested, pauseMs, { summary: 'every line busy: trying again' });
  s.waitReason = null;
}

/** The number reached its domain's contact-frequency cap (models/compliance.ts): nothing was dialled
 *  or counted; the grant goes back and the member waits, not ended, until the number has a place. */
async function cappedWait(s: Run, until: number): Promise<void> {
  await returnGrant(s, until);
  s.waitUntil = until;
  s.waitReason = 'contact cap of the number';
  setPhase(s, 'waiting');
  await condition(() => s.wake || s.terminateRequested, Math.max(until - Date.now(), 1), { summary: 'waiting: contact cap of the number' });
  s.waitUntil = null;
  s.waitReason = null;
}

function notSentResult(placed: Placed): CallResult {
  return { uuid: placed.plan.call.uuid, cause: placed.notSent!.cause, answered: false, billsec: 0, answersec: 0, duration: 0, source: 'engine' };
}

/** Waits for the attempt's result from whichever source is first; reconciles when overdue. */
async function awaitResult(s: Run, uuid: string, firstWaitMs: number): Promise<CallResult> {
  let waitMs = firstWaitMs;
  let hungUp = false;
  let goneOnce = false;
  const heard = () => s.result !== null || (s.terminateRequested && !hungUp);
  for (let first = true; ; first = false) {
    const got = first
      ? await firstCallWait(s, heard, waitMs, `in call ${uuid}`)
      : await condition(heard, waitMs, { summary: `in call ${uuid}` });
    if (s.result) return s.result;
    if (got && s.terminateRequested && !hungUp) {
      hungUp = true;
      await esl.hangup({ uuid, cause: 'MANAGER_REQUEST' });
      waitMs = RESULT_GRACE_MS;
      continue;
    }
    // Overdue: ask FreeSWITCH and the attempt store. The re-check after the grace settles a call
    // still gone as LOST_CALL in the store (first wins), so a result arriving now is not applied
    // differently from what is stored.
    const check = await esl.checkCall(uuid, goneOnce ? { settleLost: true } : undefined);
    if (s.result) return s.result;
    if (check.result) return check.result;
    if (!check.exists && !goneOnce) {
      // Gone, but its hangup event may still be on its way to us: give it a moment.
      goneOnce = true;
      waitMs = RESULT_GRACE_MS;
      continue;
    }
    if (!check.exists) {
      // The call is gone and no source reported it: a documented outcome, never silence —
      // retried without counting the attempt (see rules applyOutcome, `lost`).
      return { uuid, cause: LOST_CALL, answered: false, billsec: 0, answersec: 0, duration: 0, source: 'reconcile' };
    }
    waitMs = LIVE_CALL_RECHECK_MS;
  }
}

/**
 * The first in-call wait, as `condition(fn, ms)` but leaving its timer running when the result
 * arrives: `s.callTimer` is cancelled by applyResult only if the member goes on, and a member that
 * ends completes with it pending (one TIMER_CANCELED event less per member).
 */
async function firstCallWait(s: Run, fn: () => boolean, ms: number, summary: string): Promise<boolean> {
  const scope = new CancellationScope();
  let fired = false;
  void scope.run(() => sleep(ms, { summary })).then(() => { fired = true; }, () => undefined);
  await condition(() => fired || fn());
  if (fired) return false;
  if (s.result === null) scope.cancel(); // woken for a hangup: the usual waits take over
  else s.callTimer = scope;
  return true;
}

/** Applies the Webitel rules to the call's result and stores the attempt (which gives the lease
 *  back, and with it the member's end event when it ends). */
async function applyResult(s: Run, camp: CampaignRules, placed: Placed, result: CallResult, predicted?: Pick<Predicted, 'abandoned' | 'waitSec'>): Promise<Applied> {
  const { call, numberIndex, idleAtStart } = placed.plan;
  const abandoned = predicted?.abandoned ?? false;
  // §5.8, §11.1: the member's wait for an agent; a broadcast has none to wait for.
  const waitSec = predicted ? predicted.waitSec : camp.type === 'Voice Broadcasting' && result.answered ? 0 : undefined;
  const lost = result.cause === LOST_CALL;
  const endTime = Date.now();
  const outcome = applyOutcome(
    s.member,
    camp,
    { numberIndex, attempt: call.attempt, idleAtStart, terminated: s.terminateRequested },
    {
      cause: result.cause,
      answered: result.answered,
      // Voice broadcasting: the content was reached (services/call-results.ts contentReached).
      bridged: result.bridged ?? result.answered,
      talkSec: result.billsec,
      minCount: result.minCount,
      lost,
      notSent: placed.notSent?.reason,
      ...(result.digit ? { menuDigit: result.digit, menu: menuResult(camp.content, result.digit) } : {}),
      ...(result.agentAnswered === false ? { agentFailed: result.cause } : {}),
      ...(abandoned ? { abandoned } : {}),
    },
    endTime,
  );
  // A status that came during the call decides now, if this attempt awaits one.
  const early = s.earlyStatus;
  s.earlyStatus = null;
  s.statusExpected = false;
  const applied = settleAttempt(outcome, camp, early?.body ?? null, endTime);
  const byStatus = applied.statusApplied ? early : null;
  s.member = applied.member;
  const lapsing = s.callTimer;
  s.callTimer = null;
  if (lapsing && applied.decision.kind !== 'end') lapsing.cancel();
  const { decision } = applied;
  const success = decision.kind === 'end' && decision.success;
  const readyAt = decision.kind === 'retry' ? decision.at : s.member.nextTryTime;
  if (decision.kind === 'await-status') {
    // Open the status window before endAttempt writes `_waitingForResultStatusCb: 1`, so a client
    // that sees it and sends its status at once is accepted (the handler waits for the write).
    s.awaitingStatus = { camp };
    s.statusApplied = false;
    s.writeBackPending = true;
  }
  await local.endAttempt({
    uuid: call.uuid, campaignId: s.campaignId, memberId: s.memberId, member: s.member, result, leaseId: placed.leaseId, grantedAt: placed.grantedAt, readyAt,
    log: {
      ...call.log,
      state: 'end',
      callTime: endTime,
      cause: result.cause,
      causeQ850: q850(result.cause),
      callState: s.member.communications[numberIndex].state,
      callSuccessful: success,
      // An answered call whose result was lost: its talk time is unknown.
      talkSec: lost && result.answered ? null : result.billsec,
      ...(result.digit ? { menuDigit: result.digit } : {}),
      ...(result.recordSec !== undefined ? { recordSessionSec: result.recordSec } : {}),
      ...(result.amd ? { amdResult: result.amd.result, ...(result.amd.cause ? { amdCause: result.amd.cause } : {}), amdSec: result.amd.sec } : {}),
      ...(waitSec !== undefined ? { waitSec } : {}),
      steps: [...(call.log.steps ?? []), ...applied.steps.map((data) => ({ time: endTime, data }))],
      ...(early ? { callback: { from: early.body.from ?? 'api', time: early.at, data: early.body } } : {}),
    },
    waitingForStatusUntil: decision.kind === 'await-status' ? decision.deadline : null,
    // A member that ends with this attempt stores its end event with it.
    ...(decision.kind === 'end'
      ? { ended: endEvent(s, camp, decision.cause, s.terminateRequested ? 'terminate' : byStatus ? 'callback' : undefined, byStatus?.body.from) }
      : {}),
    stats: { connected: result.answered, bridged: result.bridged ?? result.answered, outcome: attemptCountsAs(decision), ...(abandoned ? { abandoned } : {}), ...(result.amd ? { amd: result.amd.result } : {}), ...(waitSec ? { waitSec } : {}) },
  });
  s.writeBackPending = false;
  // A grant that arrived during endAttempt (the row was claimable once the lease was given back)
  // is a new one: keep it.
  if (s.grant === placed.leaseId) s.grant = null;
  // A retry goes straight on to its wait: the campaign read for this attempt is fresh enough.
  if (decision.kind === 'retry') s.justRead = camp;
  s.currentUuid = null;
  s.readyAtStored = readyAt;
  return applied;
}

/** §6.5–6.6 wrap-up: the status arrives as an Update (statusUpdate); none within wrapUpTime →
 *  the campaign's timeout mode. Returns the workflow's result if the member ended. */
async function wrapUp(s: Run, camp: CampaignRules, numberIndex: number, deadline: number): Promise<MemberWorkflowResult | null> {
  setPhase(s, 'awaiting-status');
  const got = await condition(() => s.statusApplied || s.terminateRequested, Math.max(deadline - Date.now(), 1), {
    summary: `wrap-up: waiting for result status until ${new Date(deadline).toISOString()}`,
  });
  if (!got) {
    s.awaitingStatus = null;
    const timedOut = applyStatusTimeout(s.member, camp, numberIndex);
    s.member = timedOut.member;
    if (timedOut.decision.kind === 'end') return finish(s, camp, timedOut, 'callback', decidedBy(s, timedOut));
    await local.saveMember({
      campaignId: s.campaignId, memberId: s.memberId, member: s.member, waitingForStatusUntil: null, readyAt: s.readyAtStored,
      step: timedOut.steps.join('; '), decided: decidedBy(s, timedOut),
      callback: { from: 'system', time: Date.now(), data: { success: 'timeout', system: timedOut.steps[0] } },
    });
  } else if (s.terminateRequested && !s.statusApplied) {
    s.awaitingStatus = null;
    const terminated = terminateIdle(s.member);
    return finish(s, camp, terminated, 'terminate', decidedBy(s, terminated));
  }
  if (!allHandlersFinished()) await condition(allHandlersFinished);
  return s.member.endCause ? ended(s, s.member.endCause) : null;
}

/** The attempt awaiting its result status, decided by `applied` (a status, its timeout, a
 *  terminate): counted as a success or an error (§11.1). */
function decidedBy(s: MemberRun, applied: Applied): { uuid: string; outcome: 'success' | 'error' } {
  return { uuid: s.lastUuid ?? '', outcome: attemptCountsAs(applied.decision) ?? 'error' };
}

// ---- Progressive: the agent (§2.3, §7) ---------------------------------------------------------

const agentActs = proxyActivities<Pick<AgentActivities, 'huntAgent'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '15 seconds', backoffCoefficient: 2 },
});

/** Reserves an agent of the campaign's tiers (§7.3) for this member; none free: waits 1 s (or
 *  until woken) keeping the line, and answers null so the loop looks again. */
async function reserveAgent(s: Run, camp: CampaignRules): Promise<Reservation | null> {
  const agent = await agentActs.huntAgent({
    domain: s.domain, campaignId: s.campaignId, memberId: s.memberId, offerId: uuid4(), tiers: camp.agents ?? [],
    strategy: camp.agentStrategy ?? 'with_fewest_calls', overrides: camp.agentParams, offered: offeredData(s, camp),
    ...(camp.previewTimeoutSec ? { previewSec: camp.previewTimeoutSec } : {}),
    statsDay: localTime(Date.now(), camp.calendar.timeZone).day,
  });
  if (agent) return agent;
  s.waitReason = 'no agent free';
  setCurrentDetails(details(s));
  await condition(() => s.wake || s.terminateRequested, AGENT_FAILED_RETRY_MS, { summary: 'no agent free: trying again' });
  s.waitReason = null;
  return null;
}

/** What the agent's application is shown with the offer (§7.6): the member, its variables and
 *  `webitel_data` (with the wrap-up deadline when the campaign waits for a result status). */
function offeredData(s: Run, camp: CampaignRules): Record<string, unknown> {
  const variables = { ...camp.variables, ...s.member.variables };
  return {
    member: { id: s.memberId, name: s.member.name, priority: s.member.priority, attempts: s.member.probeCount },
    dialer: { id: s.campaignId, name: camp.name },
    variables,
    webitel_data: {
      dlr_member_id: s.memberId, dlr_id: s.campaignId, domain_name: s.domain, ...variables,
      ...(camp.waitingForResultStatus ? { dlr_wrap: camp.wrapUpTime, ...(camp.callResult ? { dlr_dsc_s: resultForm(camp.callResult) } : {}) } : {}),
    },
  };
}

/** The agent leg of the call: the agent is rung first and shown the member as the caller. */
function agentLeg(s: Run, agent: Reservation, number: string): NonNullable<AttemptPlan['call']['agent']> {
  return {
    contact: agent.contact,
    callTimeoutSec: Math.max(1, agent.params.callTimeout),
    vars: {
      cc_side: 'agent', cc_agent: agent.agent, dlr_offer_id: agent.offerId, dlr_agent_workflow_id: agentWorkflowId(s.domain, agent.name),
      webitel_direction: 'outbound', origination_caller_id_number: number, origination_caller_id_name: s.member.name,
    },
  };
}

/** §7.4 from the agent leg: its own failure, a bridged call (talk time, the hold rule), or a
 *  member not reached (no penalty for the agent). */
function agentOutcome(camp: CampaignRules, result: CallResult, applied: Applied): OfferOutcome {
  if (result.agentAnswered === false) return { kind: agentLegOutcome(result.cause), cause: result.cause };
  if (result.bridged) {
    return { kind: 'bridged', talkSec: result.billsec, statusPending: applied.decision.kind === 'await-status', campaignWrapUpSec: camp.wrapUpTime };
  }
  return { kind: 'released', cause: result.cause };
}

/** Preview (beyond v3): the agent was shown the member with the offer and decides within the
 *  campaign's `previewTimeoutSec`: accept (or no answer in time) calls now; skip tries the member
 *  again after the retry interval, reschedule at the agent's time — neither counts an attempt. */
async function previewAccepted(s: Run, camp: CampaignRules, agent: Reservation): Promise<boolean> {
  s.previewOfferId = agent.offerId;
  s.previewDecision = null;
  s.waitReason = `preview by agent ${agent.agent}`;
  setCurrentDetails(details(s));
  await condition(() => s.previewDecision !== null || s.terminateRequested, camp.previewTimeoutSec! * 1000, { summary: `preview by agent ${agent.agent}` });
  const d = s.previewDecision as PreviewDecision | null; // set by the signal handler meanwhile
  s.previewOfferId = null;
  s.previewDecision = null;
  s.waitReason = null;
  if (s.terminateRequested) {
    await offerEnded(s, agent, { kind: 'released', cause: 'MANAGER_REQUEST' });
    return false;
  }
  if (!d || d.decision === 'accept') return true;
  await offerEnded(s, agent, { kind: 'released', cause: d.decision === 'skip' ? 'PREVIEW_SKIPPED' : 'PREVIEW_RESCHEDULED' });
  const at = d.decision === 'skip' ? Date.now() + camp.intervalTryCount * 1000 : (d.nextTryAt ?? Date.now());
  s.member = { ...s.member, nextTryTime: at };
  await local.saveMember({ campaignId: s.campaignId, memberId: s.memberId, member: s.member, step: `Preview: ${d.decision} by agent ${agent.agent}` });
  await returnGrant(s, at);
  return false;
}

function offerEnded(s: Run, agent: Reservation, outcome: OfferOutcome): Promise<void> {
  return tellAgent(s, agent, { offerId: agent.offerId, kind: 'ended', outcome });
}

async function tellAgent(s: MemberRun, agent: Reservation, e: OfferEvent): Promise<void> {
  try {
    await getExternalWorkflowHandle(agentWorkflowId(s.domain, agent.name)).signal(offerEventSignal, e);
  } catch {
    // The agent's workflow is gone (removed): nothing to tell it.
  }
}

// ---- Predictive: the agent after the answer (§2.4) ----------------------------------------------

const predictiveActs = proxyActivities<Pick<PredictiveActivities, 'playToMember' | 'bridgeCalls' | 'cancelAgentLegs'>>({
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '15 seconds', backoffCoefficient: 2, maximumAttempts: 5 },
});
/** The agent leg rings for the agent's callTimeout; sent once (a retry would ring the agent twice). */
const agentCallActs = proxyActivities<Pick<PredictiveActivities, 'callAgent'>>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 1 },
});
/** The agent leg's outcome never came back (its activity failed). */
const AGENT_LEG_UNKNOWN = 'AGENT_LEG_UNKNOWN';
/** After a cancel, how long the agent leg's outcome may take to come back. */
const AGENT_CANCEL_WAIT_MS = 30_000;

interface Predicted {
  result: CallResult;
  /** Answered (live) and never bridged to an agent. */
  abandoned: boolean;
  /** The agent bridged to the member. */
  agent: Reservation | null;
  /** Seconds from the answer to the bridge, or to the drop or hang-up when no agent came (AMD
   *  analysis included: the person is waiting); absent when AMD hung up on a machine. */
  waitSec?: number;
}

/**
 * The member leg is parked once answered (or once AMD says human): the campaign's playbackFile is
 * played, and agents are hunted (when one becomes free, at the latest every second) until one is bridged or
 * maxLocateAgentSec has passed — then the member is dropped with LOSE_RACE (abandoned). A member
 * that hangs up meanwhile cancels the agent leg being called (ORIGINATOR_CANCEL) and is abandoned
 * too (§6.1: answered, not bridged). Each step is reported to the campaign's pacing.
 */
async function predictiveCall(s: Run, camp: CampaignRules, r: PredictiveRules, placed: Placed, ringMs: number): Promise<Predicted> {
  const { uuid } = placed.plan.call;
  const report = (kind: CallReportKind) => reportCall(s, placed.leaseId, kind);
  await report('placed');
  const gone = () => s.result !== null || s.terminateRequested;
  await condition(() => s.parked === uuid || gone(), ringMs + amdMaxMs(camp.amd) + RESULT_GRACE_MS, { summary: `ringing ${uuid}` });
  // Never parked: not answered (its result is in, or overdue: the usual reconciliation), or AMD hung
  // up on a machine (§2.4) — reported as such, so the pacing counts it neither as a live answer nor
  // as an abandon.
  if (s.parked !== uuid) {
    const result = await awaitResult(s, uuid, RESULT_GRACE_MS);
    if (result.amd && amdRoute(result.amd.result, !!camp.amd?.allowNotSure) === 'drop') {
      await report('machine');
      return { result, abandoned: false, agent: null };
    }
    // A person who hung up during the analysis waited all of it.
    return { result, abandoned: false, agent: null, ...(result.answered ? { waitSec: result.amd?.sec ?? 0 } : {}) };
  }
  // Parked: answered, after AMD said human when it ran; the wait for an agent starts now.
  await report('live');
  const liveAt = Date.now();
  const waited = (result: CallResult, until: number) => Math.round((result.amd?.sec ?? 0) * 1000 + until - liveAt) / 1000;
  const deadline = liveAt + r.maxLocateAgentSec * 1000;
  // No agent in time (§2.4): dropped, at once (an agent leg still ringing is cancelled after).
  let droppedAt: number | null = null;
  const drop = async () => {
    if (droppedAt !== null || gone()) return;
    droppedAt = Date.now();
    await esl.hangup({ uuid, cause: 'LOSE_RACE' });
  };
  if (r.playbackFile) await predictiveActs.playToMember({ uuid, file: r.playbackFile });
  while (!gone() && Date.now() < deadline) {
    s.agentFree = false;
    const agent = await agentActs.huntAgent({
      domain: s.domain, campaignId: s.campaignId, memberId: s.memberId, offerId: uuid4(), tiers: camp.agents ?? [],
      strategy: camp.agentStrategy ?? 'with_fewest_calls', overrides: camp.agentParams, offered: offeredData(s, camp),
    });
    if (!agent) {
      s.waitReason = 'answered: locating an agent';
      await condition(() => gone() || s.agentFree, Math.max(1, Math.min(AGENT_FAILED_RETRY_MS, deadline - Date.now())), { summary: 'answered: no agent free' });
      s.waitReason = null;
      continue;
    }
    if (await connectAgent(s, agent, uuid, placed.plan.call.number, gone, deadline, drop)) {
      const bridgedAt = Date.now();
      await report('bridged');
      const result = await awaitResult(s, uuid, LIVE_CALL_RECHECK_MS);
      return { result: { ...result, bridged: result.bridged ?? true }, abandoned: false, agent, waitSec: waited(result, bridgedAt) };
    }
  }
  // A terminate hangs up with MANAGER_REQUEST instead (awaitResult).
  await drop();
  const waitEnd = droppedAt ?? (s.result !== null ? s.resultAt : Date.now());
  await report('abandoned');
  const result = await awaitResult(s, uuid, RESULT_GRACE_MS);
  return { result: { ...result, bridged: false }, abandoned: true, agent: null, waitSec: waited(result, waitEnd) };
}

/** Calls the reserved agent and bridges it to the parked member; false (the offer ended) when the
 *  agent's phone failed, the member hung up or the wait for an agent ran out meanwhile (the member
 *  is dropped, then the agent leg cancelled), or the bridge failed. */
async function connectAgent(
  s: Run, agent: Reservation, memberUuid: string, number: string, gone: () => boolean, deadline: number, drop: () => Promise<void>,
): Promise<boolean> {
  const agentUuid = uuid4();
  let outcome: { answered: boolean; cause?: string } | null = null;
  void agentCallActs
    .callAgent({
      uuid: agentUuid, jobUuid: uuid4(), memberUuid, contact: agent.contact, timeoutSec: Math.max(1, agent.params.callTimeout),
      vars: {
        cc_side: 'agent', cc_agent: agent.agent, dlr_offer_id: agent.offerId, dlr_agent_workflow_id: agentWorkflowId(s.domain, agent.name),
        webitel_direction: 'inbound', origination_caller_id_number: number, origination_caller_id_name: s.member.name,
      },
    })
    .then((o) => void (outcome = o), () => void (outcome = { answered: false, cause: AGENT_LEG_UNKNOWN }));
  await condition(() => outcome !== null || gone(), Math.max(1, deadline - Date.now()), { summary: `calling agent ${agent.agent}` });
  if (outcome === null) {
    // §2.4: the member hung up (or waited maxLocateAgentSec) while its agent was being called.
    await drop();
    await predictiveActs.cancelAgentLegs({ memberUuid });
    await condition(() => outcome !== null, AGENT_CANCEL_WAIT_MS);
    await offerEnded(s, agent, { kind: 'released', cause: 'ORIGINATOR_CANCEL' });
    return false;
  }
  const o = outcome as { answered: boolean; cause?: string };
  if (o.cause === AGENT_LEG_UNKNOWN) {
    // The worker that called the agent was lost: whatever the leg did, it is not bridged.
    await esl.hangup({ uuid: agentUuid, cause: 'ORIGINATOR_CANCEL' });
    await offerEnded(s, agent, { kind: 'released', cause: AGENT_LEG_UNKNOWN });
    return false;
  }
  if (!o.answered) {
    await offerEnded(s, agent, { kind: agentLegOutcome(o.cause ?? 'NORMAL_CLEARING'), cause: o.cause ?? 'NORMAL_CLEARING' });
    return false;
  }
  if (!gone() && (await predictiveActs.bridgeCalls({ memberUuid, agentUuid }))) return true;
  await esl.hangup({ uuid: agentUuid, cause: 'ORIGINATOR_CANCEL' });
  await offerEnded(s, agent, { kind: 'released', cause: 'ORIGINATOR_CANCEL' });
  return false;
}

/** Tells the campaign's pacing how this call goes (rules/predictive.ts). */
async function reportCall(s: Run, leaseId: string, kind: CallReportKind): Promise<void> {
  try {
    await getExternalWorkflowHandle(campaignWorkflowId(s.campaignId)).signal(callReportSignal, { leaseId, kind, at: Date.now() });
  } catch {
    // The campaign has ended: nothing paces this call any more.
  }
}

// ---- The end -----------------------------------------------------------------------------------

/** Ends the member without a call (terminate, expiry, status timeout): stores the end, gives an
 *  unused grant back, records the end event. */
async function finish(
  s: Run, camp: CampaignRules, applied: Applied, reason?: MemberEndEvent['reason'], decided?: ReturnType<typeof decidedBy>,
): Promise<MemberWorkflowResult> {
  s.member = applied.member;
  // Ends without a call wake the campaign, which may be waiting only for this member to finish
  // (QUEUE_COMPLETE).
  await local.saveMember({
    campaignId: s.campaignId, memberId: s.memberId, member: s.member, waitingForStatusUntil: null, step: applied.steps.join('; '), wakeCampaign: s.campaignId,
    ...(decided ? { decided } : {}),
  });
  // Only now, with the end stored, can the row not be claimed again.
  await returnGrant(s, null);
  const cause = applied.decision.kind === 'end' ? applied.decision.cause : (s.member.endCause ?? 'UNKNOWN');
  await announceEnd(s, camp, cause, reason);
  return ended(s, cause);
}

/** The member has ended and its end is stored: the workflow completes once its handlers have. */
async function ended(s: Run, cause: string): Promise<MemberWorkflowResult> {
  // Not announced yet when it ended with an attempt (its end event went with endAttempt).
  if (s.endCause === null) markEnded(s, cause);
  // An edit accepted during the last call or wrap-up is stored before the workflow completes.
  if (s.pendingPatch) await applyPatch(s, s.pendingPatch);
  if (!allHandlersFinished()) await condition(allHandlersFinished);
  return { endCause: cause, attempts: s.member.probeCount };
}

async function announceEnd(s: Run, camp: CampaignRules, cause: string, reason?: MemberEndEvent['reason'], from?: string): Promise<void> {
  const event = endEvent(s, camp, cause, reason, from);
  markEnded(s, cause);
  await local.memberEnded(event);
}

/** The end in the workflow's state and the Web UI (the event is stored by the caller). */
function markEnded(s: MemberRun, cause: string): void {
  s.endCause = cause;
  setPhase(s, 'ended', [{ key: SA.EndCause, value: cause }, { key: SA.NextAttemptAt, value: null }]);
}

/** The dialer_member_end event (§10) of this member ending now with `cause`. */
function endEvent(s: Run, camp: CampaignRules, cause: string, reason?: MemberEndEvent['reason'], from?: string) {
  const event = memberEndEvent({
    domain: s.domain, campaignId: s.campaignId, campaignName: camp.name, memberId: s.memberId, member: s.member, cause,
    session: s.currentUuid ?? s.lastUuid ?? '', reason, from,
  });
  s.endSeq += 1;
  return { eventId: `${s.workflowId}:${s.endSeq}`, domain: s.domain, campaignId: s.campaignId, memberId: s.memberId, event };
}

// ---- The Web UI --------------------------------------------------------------------------------

/** Changes the phase shown in the UI; `also` are search attributes upserted with it. */
function setPhase(s: MemberRun, p: MemberPhase, also: SearchAttributeUpdatePair[] = []): void {
  // Only what changes: each upsert is a history event (and a visibility write while the workflow runs).
  const changed = [{ key: SA.MemberState, value: p }, ...also].filter((pair) => !shown(pair));
  if (changed.length) upsertSearchAttributes(changed);
  s.phase = p;
  setCurrentDetails(details(s));
}

/** Whether the Web UI already shows this value (set at start or by an earlier upsert). */
function shown(pair: SearchAttributeUpdatePair): boolean {
  const now: unknown = workflowInfo().typedSearchAttributes.get(pair.key);
  const want: unknown = pair.value;
  if (want === null || want === undefined) return now === undefined;
  if (want instanceof Date) return now instanceof Date && now.getTime() === want.getTime();
  return now === want;
}

/** Markdown for the Web UI's "current details": what the member is doing and why. */
function details(s: MemberRun): string {
  const { member, phase } = s;
  if (!member) return `**${phase}**`;
  const what: Record<MemberPhase, string> = {
    waiting: s.waitUntil ? `waiting (${s.waitReason}) until ${new Date(s.waitUntil).toISOString()}` : `waiting (${s.waitReason ?? 'for a change'})`,
    ready: s.waitReason ? `due: ${s.waitReason}` : 'due: waiting for the campaign to grant a line',
    dialing: 'placing a call',
    'in-call': `in a call (${s.currentUuid ?? ''})`,
    'awaiting-status': 'wrap-up: waiting for the result status (PUT …/members/:id/status)',
    ended: `ended: ${s.endCause ?? member.endCause ?? ''}`,
  };
  const numbers = member.communications
    .map((c) => `| ${maskNumber(c.number)} | ${['idle', 'process', 'end'][c.state]} | ${c.probe} |`)
    .join('\n');
  return [
    `**${what[phase]}**`,
    '',
    `Attempts: ${member.probeCount}${member.nextTryTime ? ` · next try ${new Date(member.nextTryTime).toISOString()}` : ''}`,
    '',
    '| number | state | attempts |',
    '|---|---|---|',
    numbers,
  ].join('\n');
}
