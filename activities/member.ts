// Activities of the member workflow: Mongo reads and writes, the ESL commands, and giving the
// campaign's lease back. Each is idempotent, because Temporal may run an activity more than once.
import { bridgeApp, buildOriginate, EslNotConnectedError } from '../esl';
import { coalescer } from '../lib/coalesce';
import { Attempt, Campaign, loadCampaignRules, updateAttemptIf, Member, MemberEnd, memberState, memberStateSet, type CampaignDoc, type MemberDoc } from '../models';
import { LineLeases } from '../models/lines';
import { gatewayOf, paceOrigination } from '../models/rate';
import { channelVariablesToSend, LOST_CALL, NOT_SENT_CAUSE } from '../rules';
import { config } from '../lib/config';
import { campaignWorkflowId, releaseSignal, wakeSignal, type CallResult } from '../workflows/messages';
import { dropTimed, notBeforeStatus, putTimed, requeue, REQUEUE_FIELDS } from '../models/ready-queue';
import type { DispatchFields } from '../rules/dispatch';
import { isMongoDB } from '../lib/db';
import type { ActivityDeps } from './deps';
import type { AttemptLogEntry, MemberActivities, MemberEndedInput, PlaceCallInput } from './types';

type LogArray = (AttemptLogEntry & Record<string, unknown>)[];

/** `_log` is newest-first (v3). Read-modify-write is safe: only the member's workflow writes it. */
async function readLog(memberId: string): Promise<LogArray> {
  const doc = await Member.findById(memberId, { _log: 1 }).lean<{ _log?: LogArray }>();
  return doc?._log ?? [];
}

/** Progressive (§2.3): the member leg the answered agent leg bridges to, with v3's member-leg
 *  variables (the member counts as answered at its 200 OK: ignore_early_media). */
function memberBridge(i: PlaceCallInput, route: PlaceCallInput['routes'][number]): string {
  return bridgeApp(route.dialString, {
    ignore_early_media: 'true', originate_timeout: i.timeoutSec, cc_side: 'member', ignore_display_updates: 'true',
    origination_caller_id_number: route.callerId, origination_callee_id_number: i.number,
  });
}

export function storedResult(
  uuid: string,
  r: {
    cause?: string | null; answered?: boolean | null; billsec?: number | null; duration?: number | null; source?: string | null;
    bridged?: boolean | null; agentAnswered?: boolean | null;
  } | null | undefined,
): CallResult | null {
  if (!r || !r.cause) return null;
  return {
    uuid, cause: r.cause, answered: !!r.answered, billsec: r.billsec ?? 0, answersec: 0, duration: r.duration ?? 0,
    source: (r.source as CallResult['source']) ?? 'reconcile',
    // Progressive: which leg the stored result is about (services/call-results.ts agentLegResult).
    ...(typeof r.agentAnswered === 'boolean' ? { agentAnswered: r.agentAnswered, bridged: !!r.bridged } : {}),
  };
}

/** The result of a call that vanished with nothing reported: LOST_CALL, answered if its
 *  CHANNEL_ANSWER was recorded (then its talk time is unknown: billsec null in the store). */
export function lostResult(uuid: string, answeredOn: number | null | undefined): CallResult {
  return { uuid, cause: LOST_CALL, answered: !!answeredOn, billsec: 0, answersec: 0, duration: 0, source: 'reconcile' };
}

/** Settles an open attempt as lost, first-wins; null when another result was stored first. */
export async function settleLost(uuid: string): Promise<CallResult | null> {
  const doc = await Attempt.findById(uuid, { answeredOn: 1 }).lean<{ answeredOn?: number | null }>();
  const lost = lostResult(uuid, doc?.answeredOn);
  const won = await updateAttemptIf(uuid, {}, {
    result: { cause: lost.cause, answered: lost.answered, billsec: lost.answered ? null : 0, duration: 0, source: lost.source, settledOn: Date.now() },
  });
  return won ? lost : null;
}

/**
 * Adds `inc` to the campaign counters exactly once per attempt and `flag`, even if the activity is
 * retried or dies half-way: the increment and its marker (`stats._counting`) are ONE update of the
 * campaign document, the attempt's flag follows (with `set`), then the marker goes. (Flagging the
 * attempt first lost the increment when the activity died in between.)
 */
async function countOnce(
  campaignId: string, uuid: string, flag: 'counted' | 'outcome', marker: string, inc: Record<string, number>, set: Record<string, unknown>,
): Promise<void> {
  // `set` includes `flag`.
  const done = await Attempt.findById(uuid, { [flag]: 1 }).lean<Record<string, unknown>>();
  if (!done?.[flag]) {
    await Campaign.updateOne({ _id: campaignId, 'stats._counting': { $ne: marker } }, { $inc: inc, $push: { 'stats._counting': marker } });
    await Attempt.updateOne({ _id: uuid }, { $set: set });
  }
  // Exact-value $pull (FerretDB v1 ignores $pull conditions).
  await Campaign.updateOne({ _id: campaignId, 'stats._counting': marker }, { $pull: { 'stats._counting': marker } });
}

/** §11.1: the success or failure of an attempt whose result status decided it (status, timeout,
 *  terminate), once. */
async function countOutcome(campaignId: string, uuid: string, outcome: 'success' | 'error'): Promise<void> {
  await countOnce(campaignId, uuid, 'outcome', `${uuid}:outcome`, {
    'stats.successCall': outcome === 'success' ? 1 : 0,
    'stats.errorCall': outcome === 'error' ? 1 : 0,
  }, { outcome });
}

export function createMemberActivities({ esl, log, client, channelVariablesAllow = config.channelVariablesAllow, gatewayCps: gatewayCpsOf = config.gatewayCps }: ActivityDeps): MemberActivities {
  /** Clears the member's claim, re-queues it for its next try and tells the campaign; the campaign
   *  ignores unknown lease ids. */
  async function giveBack(campaignId: string, memberId: string, leaseId: string, readyAt: number | null) {
    // Read and written by `_id`: FerretDB v1 decodes the collection up to the match for any other
    // filter (activities/claim.ts). While this lease is on the document nobody else changes
    // `_dispatch` (claims take only null ones; checkLease only a dead member's).
    const doc = await Member.findById(memberId, REQUEUE_FIELDS).lean<DispatchFields & { _dispatch: string | null }>();
    if (doc?._dispatch === leaseId) {
      if (await isMongoDB()) await Member.updateOne({ _id: memberId, _dispatch: leaseId }, { $set: { _dispatch: null, _readyAt: readyAt } });
      else await Member.updateOne({ _id: memberId }, { $set: { _dispatch: null, _readyAt: readyAt } });
    }
    await requeue(campaignId, memberId, doc, readyAt);
    await client.workflow.getHandle(campaignWorkflowId(campaignId)).signal(releaseSignal, { leaseId }).catch((err: unknown) => {
      // The campaign's lease sweep frees it anyway (checkLease sees _dispatch cleared).
      log.warn({ campaignId, leaseId, err: String(err) }, 'release signal not delivered');
    });
  }

  /** The member's end: its dialer_member_end event, once per eventId. (Its queue entry went when
   *  the end was stored: saveMember or the lease give-back of endAttempt.) */
  async function recordEnd({ eventId, domain, campaignId, memberId, event }: MemberEndedInput) {
    const res = await MemberEnd.updateOne(
      { _id: eventId },
      { $setOnInsert: { domain, dialer: campaignId, member: memberId, event, createdOn: Date.now() } },
      { upsert: true },
    );
    if (res.upsertedCount > 0) log.info({ event }, 'engine::dialer_member_end');
  }

  /** Wakes a campaign, at most once per 5 s per campaign and worker (a wake-up costs the campaign
   *  a claim read, a collection scan on FerretDB v1: one per member ending through its status held
   *  the worker's Mongo connection for seconds at 5k members); the last one is sent at the end of
   *  the window. Not awaited: a status PUT is answered without waiting for it. */
  const wake = coalescer(5_000, (campaignId) => {
    client.workflow.getHandle(campaignWorkflowId(campaignId)).signal(wakeSignal).catch((err: unknown) => {
      log.warn({ campaignId, err: String(err) }, 'wake signal not delivered; the campaign re-checks on its own');
    });
  });

  return {
    async loadCampaign(campaignId) {
      const doc = await Campaign.findById(campaignId).lean<CampaignDoc>();
      return doc ? loadCampaignRules(doc) : null;
    },

    async loadMember(memberId) {
      const doc = await Member.findById(memberId).lean<MemberDoc>();
      return doc ? memberState(doc) : null;
    },

    async placeCall(i) {
      // 1. A destination line (idempotent per attempt uuid).
      const line = await LineLeases.acquire(
        i.campaignId,
        i.uuid,
        i.limit,
        i.routes.map((r) => ({ uuid: r.destinationId, limit: r.destinationLimit })),
      );
      if (!line) return { placed: false };
      const route = i.routes.find((r) => r.destinationId === line.destinationId)!;
      // 2. The attempt record, before anything is sent.
      await Attempt.updateOne(
        { _id: i.uuid },
        {
          $setOnInsert: {
            dialer: i.campaignId, domain: i.domain, member: i.memberId, workflowId: i.workflowId, attempt: i.attempt,
            number: i.number, dialString: route.dialString, destinationId: route.destinationId, jobUuid: i.jobUuid,
            createdOn: Date.now(),
          },
        },
        { upsert: true },
      );
      // Tenant variables FreeSWITCH would act on never reach it, whatever is stored (defence in depth:
      // the API refuses them, but documents may predate that or be written straight into Mongo).
      const checked = channelVariablesToSend(i.vars, channelVariablesAllow);
      const refusedVariables = checked.refused.map((r) => `variable ${r.name} not sent: ${r.reason}`);
      if (refusedVariables.length) log.warn({ uuid: i.uuid, memberId: i.memberId, refusedVariables }, 'tenant channel variables not sent');
      const logArr = await readLog(i.memberId);
      const refusedSteps = refusedVariables.map((data) => ({ time: i.log.reservedTime ?? Date.now(), data }));
      const entry = { ...i.log, destinationId: route.destinationId, ...(refusedSteps.length ? { steps: [...(i.log.steps ?? []), ...refusedSteps] } : {}) };
      await Member.updateOne(
        { _id: i.memberId },
        {
          $set: {
            ...memberStateSet(i.member),
            _lock: i.workflowId,
            _lastSession: i.uuid,
            _log: logArr.some((e) => e.session === i.uuid) ? logArr : [entry, ...logArr],
          },
        },
      );
      // 3. The originate — never twice: once marked sent, a retry does not resend.
      const base = {
        placed: true as const, destinationId: route.destinationId, dialString: route.dialString,
        ...(refusedVariables.length ? { refusedVariables } : {}),
      };
      const vars = { ...checked.vars, ...i.engineVars, origination_caller_id_number: route.callerId };
      let command: string;
      try {
        command = i.agent
          ? buildOriginate({ uuid: i.uuid, dialString: i.agent.contact, vars: { ...vars, ...i.agent.vars }, timeoutSec: i.agent.callTimeoutSec, app: memberBridge(i, route) })
          : buildOriginate({ uuid: i.uuid, dialString: route.dialString, vars, timeoutSec: i.timeoutSec, app: i.app });
      } catch (err) {
        // It would fail the same way on every retry: not sent, an Error of this number (rules
        // applyOutcome `notSent`); the workflow stores it and frees the line with endAttempt.
        const notSent = String(err instanceof Error ? err.message : err).replace(/^buildOriginate: /, '');
        log.warn({ uuid: i.uuid, memberId: i.memberId, notSent }, 'originate not sent');
        return { ...base, sent: false, cause: NOT_SENT_CAUSE, notSent };
      }
      // Originations per second (campaign `cps`, GATEWAY_CPS): wait for this call's place, before
      // the send claim, so a worker dying while it waits leaves the attempt unsent.
      const gateway = gatewayOf(route.dialString);
      const gatewayCps = gateway ? gatewayCpsOf[gateway] : undefined;
      const limits: [string, number][] = [
        ...(i.cps ? [[`campaign:${i.campaignId}`, i.cps] as [string, number]] : []),
        ...(gateway && gatewayCps ? [[`gateway:${gateway}`, gatewayCps] as [string, number]] : []),
      ];
      if (limits.length) await paceOrigination(limits);
      // An attempt already settled (reconciled as lost while un-claimed) is never sent.
      const claimed = await updateAttemptIf(i.uuid, { unsent: true }, { sentOn: Date.now() });
      if (!claimed) return { ...base, sent: true };
      try {
        await esl.bgapi(command, i.jobUuid);
        return { ...base, sent: true };
      } catch (err) {
        if (err instanceof EslNotConnectedError) {
          // Certainly not sent: un-claim so that the retried activity sends it.
          await Attempt.updateOne({ _id: i.uuid }, { $set: { sentOn: null } });
          throw err;
        }
        // Timeout or connection lost mid-command: it may have been sent. Keep the claim; the
        // workflow reconciles the attempt (uuid_exists / stored results).
        log.warn({ uuid: i.uuid, err: String(err) }, 'originate outcome unknown; will reconcile');
        return { ...base, sent: true };
      }
    },

    async checkCall(uuid, opts) {
      const read = async () =>
        storedResult(uuid, (await Attempt.findById(uuid, { result: 1 }).lean<{ result?: Parameters<typeof storedResult>[1] }>())?.result);
      const stored = await read();
      if (stored) return { exists: false, result: stored };
      const exists = await esl.uuidExists(uuid);
      if (exists || !opts?.settleLost) return { exists, result: null };
      // Gone with no result: LOST_CALL goes through the same first-wins settle as every source, so
      // what the workflow applies is always the stored result (a CDR or event arriving now loses).
      const lost = await settleLost(uuid);
      return { exists: false, result: lost ?? (await read()) };
    },

    async hangup({ uuid, cause }) {
      await esl.uuidKill(uuid, cause);
    },

    async endAttempt(i) {
      // The first source to report a result wins; an engine-made outcome is stored if none did.
      const r = i.result;
      await updateAttemptIf(i.uuid, {}, { result: { cause: r.cause, answered: r.answered, billsec: r.billsec, duration: r.duration, source: r.source, settledOn: Date.now() } });
      const logArr = await readLog(i.memberId);
      await Member.updateOne(
        { _id: i.memberId },
        {
          $set: {
            ...memberStateSet(i.member),
            _lock: null,
            _log: [i.log as LogArray[number], ...logArr.filter((e) => e.session !== i.uuid)],
            _waitingForResultStatus: i.waitingForStatusUntil,
            _waitingForResultStatusCb: i.waitingForStatusUntil ? 1 : null,
          },
        },
      );
      // Campaign counters (§11.1): the attempt, and whether it succeeded unless its result status
      // decides that later (countOutcome).
      const { outcome } = i.stats;
      await countOnce(i.campaignId, i.uuid, 'counted', i.uuid, {
        'stats.callCount': 1,
        'stats.connectedCall': i.stats.connected ? 1 : 0,
        'stats.bridgedCall': i.stats.bridged ? 1 : 0,
        'stats.successCall': outcome === 'success' ? 1 : 0,
        'stats.errorCall': outcome === 'error' ? 1 : 0,
      }, { counted: true, ...(outcome ? { outcome } : {}) });
      await LineLeases.release(i.campaignId, i.uuid);
      await giveBack(i.campaignId, i.memberId, i.leaseId, i.readyAt);
      if (i.ended) await recordEnd(i.ended);
    },

    async saveMember({ campaignId, memberId, member, waitingForStatusUntil, readyAt, wakeCampaign, callback, step, decided }) {
      if (decided && campaignId) await countOutcome(campaignId, decided.uuid, decided.outcome);
      const set: Record<string, unknown> = { ...memberStateSet(member) };
      if (waitingForStatusUntil !== undefined) {
        set._waitingForResultStatus = waitingForStatusUntil;
        set._waitingForResultStatusCb = waitingForStatusUntil ? 1 : null;
      }
      if (readyAt !== undefined) set._readyAt = readyAt;
      if (callback || step) {
        const logArr = await readLog(memberId);
        if (logArr.length > 0) {
          const newest = { ...logArr[0] };
          if (callback) newest.callback = callback;
          // §12 item 15: a successful status marks the attempt it belongs to (v3 marked the oldest).
          if ((callback?.data as { success?: unknown } | undefined)?.success === true) {
            newest.callSuccessful = true;
            newest.callState = 2;
          }
          if (step) newest.steps = [...(newest.steps ?? []), { time: Date.now(), data: step }];
          set._log = [newest, ...logArr.slice(1)];
        }
      }
      await Member.updateOne({ _id: memberId }, { $set: set });
      // The timed queue entry follows the stored state (the claim re-reads the member anyway).
      const queueAs = campaignId ?? wakeCampaign;
      // A status window that closes without ending the member makes it claimable again at its
      // stored `_readyAt` (until now the entry said "not before the status deadline").
      const statusClosed = waitingForStatusUntil === null && readyAt === undefined && !member.endCause;
      if (queueAs && member.endCause) await dropTimed(queueAs, memberId);
      else if (queueAs) {
        const at = statusClosed ? ((await Member.findById(memberId, { _readyAt: 1 }).lean<{ _readyAt?: number | null }>())?._readyAt ?? null) : readyAt;
        await putTimed(queueAs, {
          _id: memberId, priority: member.priority, _nextTryTime: member.nextTryTime, lastCall: member.lastCall,
          ...(at !== undefined ? { _readyAt: notBeforeStatus(at, waitingForStatusUntil) } : {}),
        });
      }
      // ... and the campaign may be asleep with no other cue to claim it.
      if (wakeCampaign ?? (statusClosed ? campaignId : undefined)) wake((wakeCampaign ?? campaignId)!);
    },

    async releaseGrant({ campaignId, memberId, leaseId, readyAt }) {
      await giveBack(campaignId, memberId, leaseId, readyAt);
    },

    memberEnded: recordEnd,
  };
}
