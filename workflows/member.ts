// One durable workflow per campaign member: waits (retry, windows, calendar), takes a line, dials,
// waits for the call result and the optional result status, and applies the Webitel rules
// (../rules) to decide what comes next. All I/O is in activities; all rules are in ../rules.
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
  setCurrentDetails,
  sleep,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { MemberActivities, AttemptLogEntry, MemberEndEvent } from '../activities/types';
import {
  applyOutcome,
  applyStatus,
  applyStatusTimeout,
  attemptVariables,
  callerIdFor,
  idleNumbers,
  maxResources,
  maskNumber,
  mergeClientPatch,
  nextAction,
  q850,
  LOST_CALL,
  NOT_SENT_CAUSE,
  reserveAttempt,
  routesFor,
  terminateIdle,
  type Applied,
  type CampaignRules,
  type MemberState,
} from '../rules';
import { searchAttributes as SA } from '../lib/search-attributes';
import {
  callResultSignal,
  grantSignal,
  memberChangedSignal,
  memberInfoQuery,
  MEMBER_ALREADY_ENDED,
  NOT_WAITING_FOR_STATUS,
  rescheduleSignal,
  statusUpdate,
  terminateUpdate,
  type CallResult,
  type MemberInfo,
  type MemberPhase,
  type MemberWorkflowInput,
  type MemberWorkflowResult,
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

export async function memberWorkflow(input: MemberWorkflowInput): Promise<MemberWorkflowResult> {
  const { campaignId, memberId, domain } = input;
  const workflowId = workflowInfo().workflowId;

  let member: MemberState | null = input.carried?.member ?? null;
  let seq = input.carried?.seq ?? 0; // attempts started by this workflow, never decremented
  let endSeq = input.carried?.endSeq ?? 0;
  let phase: MemberPhase = 'waiting';
  let wake = false;
  let currentUuid: string | null = null;
  /** The uuid of this run's last attempt: the `session` of the member's end event (§11.2). */
  let lastUuid: string | null = null;
  let result: CallResult | null = null;
  let terminateRequested = false;
  let awaitingStatus: { numberIndex: number; camp: CampaignRules } | null = null;
  let statusApplied = false;
  /** The attempt's outcome is being stored (endAttempt): a status accepted meanwhile waits for it. */
  let writeBackPending = false;
  let waitUntil: number | null = null;
  let waitReason: string | null = null;
  let endCause: string | null = null;
  let pendingPatch: Parameters<typeof mergeClientPatch>[1] | null = null;
  /** The campaign's lease for the next attempt, if granted. */
  let grant: string | null = null;
  /** `_readyAt` as last stored, so it is only written when it changes. */
  let readyAtStored: number | null | undefined;
  /** v5: the in-call timer still running after the result came (see firstCallWait). */
  let callTimer: CancellationScope | null = null;

  /** The campaign as read just before the attempt that just ended: no need to read it again. */
  let justRead: CampaignRules | null = null;

  // Handlers first: Updates with no registered handler are rejected.
  setHandler(
    grantSignal,
    ({ leaseId }) => {
      grant = leaseId;
    },
    { description: 'The campaign grants one line (lease) for the next attempt.' },
  );
  setHandler(
    callResultSignal,
    (r) => {
      if (r.uuid === currentUuid && result === null) result = r;
    },
    { description: 'Result of the current call (BACKGROUND_JOB -ERR, CHANNEL_HANGUP_COMPLETE or CDR); others are ignored.' },
  );
  setHandler(
    rescheduleSignal,
    ({ at }) => {
      if (member && !member.endCause) {
        member.nextTryTime = at ?? Date.now();
        wake = true;
      }
    },
    { description: '"Call now" / reschedule: moves the next try to `at` (default now).' },
  );
  setHandler(
    memberChangedSignal,
    (patch) => {
      pendingPatch = { ...(pendingPatch ?? {}), ...patch };
      wake = true;
    },
    { description: 'Client-owned fields edited through the API; engine-owned number fields are kept.' },
  );
  setHandler(memberInfoQuery, (): MemberInfo => ({ phase, member: member!, currentUuid, waitUntil, waitReason }), {
    description: 'Phase, member state, current call and what the member waits for.',
  });
  setHandler(
    statusUpdate,
    async (body) => {
      const { camp } = awaitingStatus!;
      statusApplied = true;
      // Accepted while the attempt is still being stored (the read model already says "waiting"):
      // apply it on top of the stored attempt, never before it.
      if (writeBackPending) await condition(() => !writeBackPending);
      const applied = applyStatus(member!, camp, body, Date.now());
      member = applied.member;
      awaitingStatus = null;
      await local.saveMember({
        campaignId,
        memberId,
        member,
        waitingForStatusUntil: null,
        callback: { from: body.from ?? 'api', time: Date.now(), data: body },
        step: applied.steps.join('; '),
        // The campaign may be waiting only for this member to finish (QUEUE_COMPLETE).
        wakeCampaign: applied.decision.kind === 'end' ? campaignId : undefined,
      });
      if (applied.decision.kind === 'end') await announceEnd(camp, applied.decision.cause, 'callback', body.from);
      return { status: 'OK', info: 'success' };
    },
    {
      validator: (_body) => {
        if (!awaitingStatus || statusApplied) throw new Error(NOT_WAITING_FOR_STATUS);
      },
      description: 'Result status (PUT …/members/:id/status, spec §6.5); rejected when not waiting for one.',
    },
  );
  setHandler(
    terminateUpdate,
    async () => {
      const inCall = phase === 'in-call' || phase === 'dialing';
      terminateRequested = true;
      wake = true;
      await condition(() => endCause !== null);
      return inCall ? { _id: memberId, waitHangupCause: 'MANAGER_REQUEST' } : { _id: memberId };
    },
    {
      validator: () => {
        if (endCause !== null || member?.endCause) throw new Error(MEMBER_ALREADY_ENDED);
      },
      description: 'Terminate (spec §9.4): hangs up a live call with MANAGER_REQUEST and ends the member.',
    },
  );

  /** Changes the phase shown in the UI; `also` are search attributes upserted with it. */
  function setPhase(p: MemberPhase, also: SearchAttributeUpdatePair[] = []): void {
    if (p !== phase || also.length) upsertSearchAttributes([{ key: SA.MemberState, value: p }, ...also]);
    phase = p;
    setCurrentDetails(details());
  }

  /** Markdown for the Web UI's "current details": what the member is doing and why. */
  function details(): string {
    if (!member) return `**${phase}**`;
    const what: Record<MemberPhase, string> = {
      waiting: waitUntil ? `waiting (${waitReason}) until ${new Date(waitUntil).toISOString()}` : `waiting (${waitReason ?? 'for a change'})`,
      ready: 'due: waiting for the campaign to grant a line',
      dialing: 'placing a call',
      'in-call': `in a call (${currentUuid ?? ''})`,
      'awaiting-status': 'wrap-up: waiting for the result status (PUT …/members/:id/status)',
      ended: `ended: ${endCause ?? member.endCause ?? ''}`,
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

  /** Applies a client update received through the API and stores it (the workflow owns the doc). */
  async function applyPatch(): Promise<void> {
    if (pendingPatch && member) {
      member = mergeClientPatch(member, pendingPatch);
      pendingPatch = null;
      await local.saveMember({ campaignId, memberId, member, step: 'Updated through the API' });
    }
  }

  async function announceEnd(camp: CampaignRules, cause: string, reason?: MemberEndEvent['reason'], from?: string) {
    if (!member) return;
    const ended = endEvent(camp, cause, reason, from);
    markEnded(cause);
    await local.memberEnded(ended);
  }

  /** The end in the workflow's state and the Web UI (the event is stored by the caller). */
  function markEnded(cause: string) {
    endCause = cause;
    const endAttrs: SearchAttributeUpdatePair[] = [
      { key: SA.EndCause, value: cause },
      { key: SA.NextAttemptAt, value: null },
    ];
    setPhase('ended', endAttrs);
  }

  /** The dialer_member_end event (§10) of this member ending now with `cause`. */
  function endEvent(camp: CampaignRules, cause: string, reason?: MemberEndEvent['reason'], from?: string, session = currentUuid ?? lastUuid ?? '') {
    if (!member) throw new Error('no member');
    const comm = member.communications[member.lastNumberIndex ?? 0];
    const event: MemberEndEvent = {
      'Event-Name': 'CUSTOM',
      'Event-Subclass': 'engine::dialer_member_end',
      variable_domain_name: domain,
      dialerId: campaignId,
      dialerName: camp.name,
      id: memberId,
      name: member.name,
      currentNumber: comm?.number ?? '',
      dlr_member_number_description: comm?.description ?? '',
      currentProbe: member.probeCount,
      session,
      endCause: cause,
      expire: member.expire,
      agentId: null,
    };
    if (reason) event.reason = reason;
    if (from) event.callback_user_id = from;
    for (const [k, v] of Object.entries(member.variables)) event[`variable_${k}`] = v;
    endSeq += 1;
    return { eventId: `${workflowId}:${endSeq}`, domain, campaignId, memberId, event };
  }

  async function finish(camp: CampaignRules, applied: Applied, reason?: MemberEndEvent['reason']): Promise<MemberWorkflowResult> {
    member = applied.member;
    // Ends without a call (terminate, expiry, status timeout) wake the campaign, which may be
    // waiting only for this member to finish (QUEUE_COMPLETE).
    await local.saveMember({ campaignId, memberId, member, waitingForStatusUntil: null, step: applied.steps.join('; '), wakeCampaign: campaignId });
    // Only now, with the end stored, can the row not be claimed again.
    await returnGrant(null);
    const cause = applied.decision.kind === 'end' ? applied.decision.cause : (member.endCause ?? 'UNKNOWN');
    await announceEnd(camp, cause, reason);
    setPhase('ended');
    await condition(allHandlersFinished);
    return { endCause: cause, attempts: member.probeCount };
  }

  // CampaignId and DomainId are set by whoever starts the workflow (typedSearchAttributes).
  if (!member) member = await local.loadMember(memberId);
  if (!member) throw ApplicationFailure.nonRetryable(`Member ${memberId} not found`, 'MemberNotFound');

  /** Gives an unused grant back, telling the campaign when this member may be granted again. */
  async function returnGrant(readyAt: number | null): Promise<void> {
    if (grant) {
      const leaseId = grant;
      grant = null;
      await local.releaseGrant({ campaignId, memberId, leaseId, readyAt });
      readyAtStored = readyAt;
    }
  }

  /** Stores `_readyAt`, the campaign's cue for granting this member, when it changed; a member that
   *  became due earlier than the campaign expected wakes the campaign. */
  async function storeReadyAt(readyAt: number | null): Promise<void> {
    if (readyAtStored === readyAt) return;
    const now = Date.now();
    const becameDue = readyAt !== null && readyAt <= now && readyAtStored !== undefined && readyAtStored !== null && readyAtStored > now;
    await local.saveMember({ campaignId, memberId, member: member!, readyAt, wakeCampaign: becameDue ? campaignId : undefined });
    readyAtStored = readyAt;
  }

  for (;;) {
    // Cleared before looking, so a wake-up that arrives while we look is not lost.
    wake = false;
    await applyPatch();
    const camp: CampaignRules | null = justRead ?? (await local.loadCampaign(campaignId));
    justRead = null;
    if (!camp) {
      // Campaign deleted (with its members): nothing left to do.
      return { endCause: 'CAMPAIGN_DELETED', attempts: member.probeCount };
    }
    if (terminateRequested) return finish(camp, terminateIdle(member), 'terminate');

    const now = Date.now();
    const action = nextAction(member, camp, now);
    if (action.kind === 'end') {
      const ended = JSON.parse(JSON.stringify(member)) as MemberState;
      const applied: Applied = { member: ended, decision: { kind: 'end', cause: action.cause, success: false }, steps: [action.cause] };
      ended.endCause = action.cause;
      for (const c of ended.communications) c.state = 2;
      return finish(camp, applied, action.cause === 'MEMBER_EXPIRED' ? 'expire' : undefined);
    }
    if (action.kind === 'wait') {
      // Not dialable now: a grant goes back and the campaign learns when to come back.
      const readyAt = action.until ?? FAR_FUTURE;
      if (grant) await returnGrant(readyAt);
      else await storeReadyAt(readyAt);
      waitUntil = action.until;
      waitReason = action.reason;
      const nextAt: SearchAttributeUpdatePair = { key: SA.NextAttemptAt, value: action.until ? new Date(action.until) : null };
      setPhase('waiting', [nextAt]);
      const summary = action.until
        ? `${action.reason} until ${new Date(action.until).toISOString()}`
        : `${action.reason}: waiting for a change`;
      if (action.until !== null) await condition(() => wake || terminateRequested, Math.max(action.until - now, 1), { summary });
      else await condition(() => wake || terminateRequested);
      waitUntil = null;
      waitReason = null;
      continue;
    }
    if (!grant) {
      // Dialable: wait for the campaign's grant (it orders members and holds the limit). An expiry
      // still ends the member on time.
      await storeReadyAt(Math.min(readyAtStored ?? now, now));
      setPhase('ready');
      const expireIn = member.expire ? Math.max(member.expire - now, 1) : null;
      if (expireIn !== null) await condition(() => grant !== null || wake || terminateRequested, expireIn, { summary: 'ready: waiting for a line' });
      else await condition(() => grant !== null || wake || terminateRequested);
      // A grant that came within seconds dials with the campaign just read (one step less).
      if (grant && !wake && Date.now() - now < 5_000) justRead = camp;
      continue;
    }
    if (workflowInfo().continueAsNewSuggested) {
      await returnGrant(now);
      await condition(allHandlersFinished);
      await continueAsNew<typeof memberWorkflow>({ domain, campaignId, memberId, carried: { member, seq, endSeq } });
    }

    // ---- Dial one attempt -------------------------------------------------------------------
    const leaseId = grant;
    const choice = action.choice;
    const comm = member.communications[choice.index];
    const idleAtStart = idleNumbers(member);
    const reserved = reserveAttempt(member, camp, choice);
    const attemptNo = reserved.probeCount;
    const uuid = uuid4();
    const jobUuid = uuid4();
    const reservedTime = Date.now();
    const typeName = camp.communicationTypes.find((t) => t.code === comm.type)?.name;
    const log: AttemptLogEntry = {
      state: 'reserved',
      session: uuid,
      reservedTime,
      callNumber: comm.number,
      callPriority: comm.priority,
      callDescription: comm.description ?? null,
      callTypeCode: comm.type ?? null,
      callPositionIndex: choice.index,
      callAttempt: attemptNo,
      callUUID: uuid,
      steps: [{ time: reservedTime, data: `set number: ${comm.number}` }],
    };
    const { origination_caller_id_number: _callerId, ...vars } = attemptVariables({
      camp, member: reserved, memberId, workflowId, attempt: attemptNo, uuid, comm, callerId: '', typeName,
    });
    void _callerId;
    currentUuid = uuid;
    lastUuid = uuid;
    result = null;
    phase = 'dialing'; // shown by the query and details; too short-lived for a search attribute
    setCurrentDetails(details());
    const placed = await local.placeCall({
      uuid, jobUuid, domain, campaignId, memberId, workflowId, attempt: attemptNo, number: comm.number,
      limit: Math.min(camp.limit, maxResources(camp.resources)),
      routes: routesFor(comm.number, camp.resources, () => Math.random()).map((r) => ({
        destinationId: r.destination.uuid,
        destinationLimit: r.destination.limit,
        dialString: r.dialString,
        callerId: callerIdFor(member!, r.destination, () => Math.random()),
      })),
      member: reserved, log, vars, timeoutSec: camp.originateTimeout,
    });
    if (!placed.placed) {
      // Every line of this number's destinations is busy: the attempt never happened.
      currentUuid = null;
      await returnGrant(Date.now() + LINE_BUSY_MIN_MS + Math.floor(Math.random() * 2000));
      continue;
    }
    for (const data of placed.refusedVariables ?? []) (log.steps ??= []).push({ time: reservedTime, data });
    member = reserved;
    seq += 1;
    const attemptAttr: SearchAttributeUpdatePair = { key: SA.Attempt, value: attemptNo };
    setPhase('in-call', [attemptAttr]);
    // Not sent (the command could not be built): nothing to wait for, and never sent again.
    const notSent = placed.sent ? undefined : (placed.notSent ?? 'not sent');
    const outcomeResult: CallResult = notSent === undefined
      ? await awaitResult(uuid, camp.originateTimeout * 1000 + RESULT_GRACE_MS)
      : { uuid, cause: placed.cause ?? NOT_SENT_CAUSE, answered: false, billsec: 0, answersec: 0, duration: 0, source: 'engine' };
    const lost = outcomeResult.cause === LOST_CALL;

    // ---- Apply the Webitel rules ----------------------------------------------------------
    const endTime = Date.now();
    const applied = applyOutcome(
      member,
      camp,
      { numberIndex: choice.index, attempt: attemptNo, idleAtStart, terminated: terminateRequested },
      {
        cause: outcomeResult.cause,
        answered: outcomeResult.answered,
        // Voice broadcasting: an answered call has reached the dialer's callflow.
        bridged: outcomeResult.answered,
        talkSec: outcomeResult.billsec,
        minCount: outcomeResult.minCount,
        lost,
        notSent,
      },
      endTime,
    );
    member = applied.member;
    const lapsing = callTimer as CancellationScope | null; // set by firstCallWait
    callTimer = null;
    if (lapsing && applied.decision.kind !== 'end') lapsing.cancel();
    const endLog: AttemptLogEntry = {
      ...log,
      state: 'end',
      callTime: endTime,
      cause: outcomeResult.cause,
      causeQ850: q850(outcomeResult.cause),
      callState: member.communications[choice.index].state,
      callSuccessful: applied.decision.kind === 'end' && applied.decision.success,
      // An answered call whose result was lost: its talk time is unknown.
      talkSec: lost && outcomeResult.answered ? null : outcomeResult.billsec,
      steps: [...(log.steps ?? []), ...applied.steps.map((data) => ({ time: endTime, data }))],
    };
    const waitingForStatusUntil = applied.decision.kind === 'await-status' ? applied.decision.deadline : null;
    const readyAt = applied.decision.kind === 'retry' ? applied.decision.at : member.nextTryTime;
    if (applied.decision.kind === 'await-status') {
      // Open the status window before endAttempt writes `_waitingForResultStatusCb: 1`, so a client
      // that sees it and sends its status at once is accepted (the handler waits for the write).
      awaitingStatus = { numberIndex: choice.index, camp };
      statusApplied = false;
      writeBackPending = true;
    }
    // A member that ends with this attempt stores its end event with it.
    const ended = applied.decision.kind === 'end'
      ? endEvent(camp, applied.decision.cause, terminateRequested ? 'terminate' : undefined)
      : null;
    await local.endAttempt({
      uuid, campaignId, memberId, member, log: endLog, result: outcomeResult, waitingForStatusUntil, leaseId, readyAt,
      ...(ended ? { ended } : {}),
      stats: {
        success: applied.decision.kind === 'end' && applied.decision.success,
        connected: outcomeResult.answered,
        bridged: outcomeResult.answered,
        ended: applied.decision.kind === 'end',
      },
    });
    writeBackPending = false;
    // A grant that arrived during endAttempt (the row was claimable once the lease was given back)
    // is a new one: keep it.
    if (grant === leaseId) grant = null;
    // A retry goes straight on to its wait: the campaign read for this attempt is fresh enough.
    if (applied.decision.kind === 'retry') justRead = camp;
    currentUuid = null;
    readyAtStored = readyAt;

    if (applied.decision.kind === 'end') {
      markEnded(applied.decision.cause);
      setPhase('ended');
      await condition(allHandlersFinished);
      return { endCause: applied.decision.cause, attempts: member.probeCount };
    }

    if (applied.decision.kind === 'await-status') {
      // §6.5–6.6: wrap-up. The status arrives as an Update; no status within wrapUpTime → timeout mode.
      setPhase('awaiting-status');
      const deadline = applied.decision.deadline;
      const got = await condition(() => statusApplied || terminateRequested, Math.max(deadline - Date.now(), 1), {
        summary: `wrap-up: waiting for result status until ${new Date(deadline).toISOString()}`,
      });
      if (!got) {
        awaitingStatus = null;
        const timedOut = applyStatusTimeout(member, camp, choice.index);
        member = timedOut.member;
        if (timedOut.decision.kind === 'end') return finish(camp, timedOut, 'callback');
        await local.saveMember({
          campaignId,
          memberId, member, waitingForStatusUntil: null, step: timedOut.steps.join('; '),
          callback: { from: 'system', time: Date.now(), data: { success: 'timeout', system: timedOut.steps[0] } },
        });
      } else if (terminateRequested && !statusApplied) {
        awaitingStatus = null;
        return finish(camp, terminateIdle(member), 'terminate');
      }
      await condition(allHandlersFinished);
      if (member.endCause) {
        setPhase('ended');
        return { endCause: member.endCause, attempts: member.probeCount };
      }
    }
  }

  /** Waits for this attempt's result from whichever source is first; reconciles when overdue. */
  /**
   * v5: the first in-call wait, as `condition(fn, ms)` but leaving its timer running when the
   * result arrives: `callTimer` is cancelled by the caller only if the member goes on, and a member
   * that ends completes with it pending (one TIMER_CANCELED event less per member).
   */
  async function firstCallWait(fn: () => boolean, ms: number, summary: string): Promise<boolean> {
    const scope = new CancellationScope();
    let fired = false;
    void scope.run(() => sleep(ms, { summary })).then(() => { fired = true; }, () => undefined);
    await condition(() => fired || fn());
    if (fired) return false;
    if (result === null) scope.cancel(); // woken for a hangup: the usual waits take over
    else callTimer = scope;
    return true;
  }

  async function awaitResult(uuid: string, firstWaitMs: number): Promise<CallResult> {
    let waitMs = firstWaitMs;
    let hungUp = false;
    let goneOnce = false;
    for (let first = true; ; first = false) {
      const got = first
        ? await firstCallWait(() => result !== null || (terminateRequested && !hungUp), waitMs, `in call ${uuid}`)
        : await condition(() => result !== null || (terminateRequested && !hungUp), waitMs, {
          summary: `in call ${uuid}`,
        });
      if (result) return result;
      if (got && terminateRequested && !hungUp) {
        hungUp = true;
        await esl.hangup({ uuid, cause: 'MANAGER_REQUEST' });
        waitMs = RESULT_GRACE_MS;
        continue;
      }
      // Overdue: ask FreeSWITCH and the attempt store. The re-check after the grace settles a
      // call still gone as LOST_CALL in the store (first wins), so a result arriving now is not
      // applied differently from what is stored.
      const check = await esl.checkCall(uuid, goneOnce ? { settleLost: true } : undefined);
      if (result) return result;
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
}
