// Activities of the member workflow: Mongo reads and writes, the ESL commands, and giving the
// campaign's lease back. Each is idempotent, because Temporal may run an activity more than once.
import { Context } from '@temporalio/activity';
import { bridgeApp, buildOriginate, dialEndpointProblem, EslNotConnectedError } from '../esl';
import { batcher, coalescer } from '../lib/coalesce';
import { answeredOnOf, appliedResult, Campaign, loadCampaignRules, recordAttempt, resultRecord, settleResult, storedResultOf, unrecordAttempt, Member, memberState, type CampaignDoc, type MemberDoc } from '../models';
import { CampaignStore } from '../models/campaign-store';
import { recordMemberEnd } from '../models/member-end';
import { MemberStore } from '../models/member-store';
import { LineLeases } from '../models/lines';
import { GatewayLines } from '../models/gateway-lines';
import { gatewayOf, paceOrigination } from '../models/rate';
import { Compliance, ContactCounts, DoNotCall } from '../models/compliance';
import { channelVariablesToSend, DEFAULT_CAMPAIGN_PRIORITY, RUN_ID_VAR, DO_NOT_CALL_CAUSE, LOST_CALL, NOT_SENT_CAUSE } from '../rules';
import { config } from '../lib/config';
import { campaignWorkflowId, releaseSignal, wakeSignal, type CallResult } from '../workflows/messages';
import { attemptEnded, callStarted } from '../lib/metrics';
import type { ActivityDeps } from './deps';
import type { AttemptLogEntry, MemberActivities, MemberEndedInput, PlaceCallInput } from './types';

/** Progressive (§2.3): the member leg the answered agent leg bridges to, with v3's member-leg
 *  variables (the member counts as answered at its 200 OK: ignore_early_media). */
function memberBridge(i: PlaceCallInput, route: PlaceCallInput['routes'][number], endpoints: readonly string[]): string {
  if (dialEndpointProblem(route.dialString, endpoints)) throw new Error(`bridgeApp: invalid dial string ${JSON.stringify(route.dialString)}`);
  return bridgeApp(route.dialString, {
    ignore_early_media: 'true', originate_timeout: i.timeoutSec, cc_side: 'member', ignore_display_updates: 'true',
    origination_caller_id_number: route.callerId, origination_callee_id_number: i.number,
  });
}

export function storedResult(
  uuid: string,
  r: {
    cause?: string | null; answered?: boolean | null; billsec?: number | null; duration?: number | null; source?: string | null;
    bridged?: boolean | null; agentAnswered?: boolean | null; amd?: CallResult['amd'] | null;
  } | null | undefined,
): CallResult | null {
  if (!r || !r.cause) return null;
  return {
    uuid, cause: r.cause, answered: !!r.answered, billsec: r.billsec ?? 0, answersec: 0, duration: r.duration ?? 0,
    source: (r.source as CallResult['source']) ?? 'reconcile',
    // Progressive: which leg the stored result is about (services/call-results.ts agentLegResult).
    ...(typeof r.agentAnswered === 'boolean' ? { agentAnswered: r.agentAnswered, bridged: !!r.bridged } : {}),
    ...(r.amd ? { amd: r.amd, bridged: !!r.bridged } : {}),
  };
}

/** The result of a call that vanished with nothing reported: LOST_CALL, answered if its
 *  CHANNEL_ANSWER was recorded (then its talk time is unknown: billsec null in the store). */
export function lostResult(uuid: string, answeredOn: number | null | undefined): CallResult {
  return { uuid, cause: LOST_CALL, answered: !!answeredOn, billsec: 0, answersec: 0, duration: 0, source: 'reconcile' };
}

/** Settles an open attempt as lost, first-wins; null when another result was stored first. */
export async function settleLost(uuid: string): Promise<CallResult | null> {
  const lost = lostResult(uuid, await answeredOnOf(uuid));
  return (await settleResult(uuid, resultRecord(lost))) ? lost : null;
}

/** §11.1: the success or failure of an attempt whose result status decided it (status, timeout,
 *  terminate), once; its marker's removal (`unmarked`) still to await (models/campaign-store.ts). */
function countOutcome(campaignId: string, uuid: string, outcome: 'success' | 'error'): Promise<{ unmarked: Promise<void> }> {
  return CampaignStore.count(campaignId, uuid, 'outcome', `${uuid}:outcome`, {
    'stats.successCall': outcome === 'success' ? 1 : 0,
    'stats.errorCall': outcome === 'error' ? 1 : 0,
  }, { outcome });
}

/** The gateway line an attempt needs besides its campaign's (true when its gateway has no
 *  GATEWAY_LINES limit); the campaign's `priority` orders campaigns competing for it. */
async function takeGatewayLine(campaignId: string, uuid: string, dialString: string, limits: Record<string, number>): Promise<boolean> {
  const gateway = gatewayOf(dialString);
  const limit = gateway ? limits[gateway] : undefined;
  if (!gateway || !limit) return true;
  const doc = await Campaign.findById(campaignId, { priority: 1 }).lean<{ priority?: number }>();
  return GatewayLines.acquire(gateway, uuid, { campaign: campaignId, priority: doc?.priority ?? DEFAULT_CAMPAIGN_PRIORITY }, limit);
}

/** How long a worker collects lease releases of one campaign before it signals them together. */
export const RELEASE_WINDOW_MS = 50;

export function createMemberActivities({ esl, log, client, channelVariablesAllow = config.channelVariablesAllow, dialEndpointsAllow = config.dialEndpointsAllow, agentEndpointsAllow = config.agentEndpointsAllow, gatewayCps: gatewayCpsOf = config.gatewayCps, gatewayLines = config.gatewayLines }: ActivityDeps): MemberActivities {
  /** Clears the member's claim, re-queues it for its next try and tells the campaign; the campaign
   *  ignores unknown lease ids. */
  async function giveBack(campaignId: string, memberId: string, leaseId: string, readyAt: number | null) {
    await MemberStore.release(campaignId, memberId, leaseId, readyAt);
    await tellReleased(campaignId, leaseId);
  }

  /** The releases of one campaign within RELEASE_WINDOW_MS go as one signal (each signal is a
   *  campaign workflow task). The activity waits for it: if this process dies first, the activity
   *  runs again elsewhere and releases again. */
  const release = batcher<string>(RELEASE_WINDOW_MS, (campaignId, leaseIds) =>
    client.workflow.getHandle(campaignWorkflowId(campaignId)).signal(releaseSignal, { leaseIds }).catch((err: unknown) => {
      // The campaign's lease sweep frees them anyway (checkLease sees _dispatch cleared).
      log.warn({ campaignId, leaseIds, err: String(err) }, 'release signal not delivered');
    }));

  async function tellReleased(campaignId: string, leaseId: string) {
    await release(campaignId, leaseId);
  }

  /** The member's end: its dialer_member_end event, once per eventId. (Its queue entry went when
   *  the end was stored: saveMember or the lease give-back of endAttempt.) */
  async function recordEnd({ eventId, domain, campaignId, memberId, event }: MemberEndedInput) {
    if (await recordMemberEnd(eventId, { domain, dialer: campaignId, member: memberId, event })) log.info({ event }, 'engine::dialer_member_end');
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
      // Compliance (models/compliance.ts): a listed number is never dialled; a number at its
      // domain's contact cap waits, and its line goes back. The domain's settings are a cached
      // copy; the list is looked up (by `_id`) only in a domain that has listed numbers.
      const domain = await Compliance.forCall(i.domain);
      const listed = domain.dncListed ? await DoNotCall.find(i.domain, i.number) : null;
      const contactCap = listed ? null : domain.contactCap;
      if (contactCap) {
        const place = await ContactCounts.take(i.domain, i.number, i.uuid, Date.now(), contactCap);
        if (!place.ok) {
          await LineLeases.release(i.campaignId, i.uuid);
          return { placed: false, cappedUntil: place.notBefore };
        }
      }
      // 1b. A line of the carrier's gateway, shared with other campaigns by priority (GATEWAY_LINES);
      // a listed number is not sent, so it takes none.
      if (!listed && !(await takeGatewayLine(i.campaignId, i.uuid, route.dialString, gatewayLines))) {
        if (contactCap) await ContactCounts.giveBack(i.domain, i.number, i.uuid);
        await LineLeases.release(i.campaignId, i.uuid);
        return { placed: false };
      }
      // 2. The member's reservation: its attempt counted, the attempt's log entry. The member and
      // the attempt record are written only by this member's activities, one after the other: no turn.
      const fields = {
        dialer: i.campaignId, domain: i.domain, member: i.memberId, workflowId: i.workflowId, attempt: i.attempt,
        number: i.number, dialString: route.dialString, destinationId: route.destinationId, jobUuid: i.jobUuid,
      };
      // Tenant variables FreeSWITCH would act on never reach it, whatever is stored (defence in depth:
      // the API refuses them, but documents may predate that or be written straight into Mongo).
      const checked = channelVariablesToSend(i.vars, channelVariablesAllow);
      const refusedVariables = checked.refused.map((r) => `variable ${r.name} not sent: ${r.reason}`);
      if (refusedVariables.length) log.warn({ uuid: i.uuid, memberId: i.memberId, refusedVariables }, 'tenant channel variables not sent');
      const refusedSteps = refusedVariables.map((data) => ({ time: i.log.reservedTime ?? Date.now(), data }));
      const entry = { ...i.log, destinationId: route.destinationId, ...(refusedSteps.length ? { steps: [...(i.log.steps ?? []), ...refusedSteps] } : {}) };
      await MemberStore.reserve({ memberId: i.memberId, member: i.member, workflowId: i.workflowId, uuid: i.uuid, entry });
      // 3. The originate — never twice: the attempt record is inserted with its send claim, and a
      // retried (or duplicated) activity whose insert finds it stored does not resend.
      const base = {
        placed: true as const, destinationId: route.destinationId, dialString: route.dialString,
        ...(refusedVariables.length ? { refusedVariables } : {}),
      };
      if (listed) {
        log.info({ uuid: i.uuid, memberId: i.memberId }, 'number on the do-not-call list: not dialled');
        await recordAttempt(i.uuid, fields, null);
        return { ...base, sent: false, cause: DO_NOT_CALL_CAUSE, notSent: 'the number is on the do-not-call list' };
      }
      const runId = currentRunId();
      const vars = { ...checked.vars, ...i.engineVars, origination_caller_id_number: route.callerId, ...(runId ? { [RUN_ID_VAR]: runId } : {}) };
      let command: string;
      try {
        command = i.agent
          ? buildOriginate({ uuid: i.uuid, dialString: i.agent.contact, vars: { ...vars, ...i.agent.vars }, timeoutSec: i.agent.callTimeoutSec, app: memberBridge(i, route, dialEndpointsAllow), endpoints: agentEndpointsAllow })
          : buildOriginate({ uuid: i.uuid, dialString: route.dialString, vars, timeoutSec: i.timeoutSec, app: i.app, endpoints: dialEndpointsAllow });
      } catch (err) {
        // It would fail the same way on every retry: not sent, an Error of this number (rules
        // applyOutcome `notSent`); the workflow stores it and frees the line with endAttempt.
        const notSent = String(err instanceof Error ? err.message : err).replace(/^buildOriginate: /, '');
        log.warn({ uuid: i.uuid, memberId: i.memberId, notSent }, 'originate not sent');
        await recordAttempt(i.uuid, fields, null);
        if (contactCap) await ContactCounts.giveBack(i.domain, i.number, i.uuid);
        return { ...base, sent: false, cause: NOT_SENT_CAUSE, notSent };
      }
      // Originations per second (campaign `cps`, GATEWAY_CPS): wait for this call's place, before
      // the send claim, so a worker dying while it waits leaves the attempt unrecorded and unsent.
      const gateway = gatewayOf(route.dialString);
      const gatewayCps = gateway ? gatewayCpsOf[gateway] : undefined;
      const limits: [string, number][] = [
        ...(i.cps ? [[`campaign:${i.campaignId}`, i.cps] as [string, number]] : []),
        ...(gateway && gatewayCps ? [[`gateway:${gateway}`, gatewayCps] as [string, number]] : []),
      ];
      if (limits.length) await paceOrigination(limits);
      if (!(await recordAttempt(i.uuid, fields, Date.now()))) return { ...base, sent: true };
      try {
        await esl.bgapi(command, i.jobUuid);
        callStarted(i.campaignId, i.uuid);
        return { ...base, sent: true };
      } catch (err) {
        if (err instanceof EslNotConnectedError) {
          // Certainly not sent: the claim goes, so that the retried activity sends it.
          await unrecordAttempt(i.uuid);
          throw err;
        }
        // Timeout or connection lost mid-command: it may have been sent. Keep the claim; the
        // workflow reconciles the attempt (uuid_exists / stored results).
        log.warn({ uuid: i.uuid, err: String(err) }, 'originate outcome unknown; will reconcile');
        return { ...base, sent: true };
      }
    },

    async checkCall(uuid, opts) {
      const read = async () => storedResult(uuid, await storedResultOf(uuid));
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
      // The attempt's own documents (its record, its member) have no writer but this member's
      // activities: no turn. The campaign's counters and line, which every attempt writes, each take
      // a turn only for their writes.
      const r = i.result;
      // The member's outcome, with its lease given back in the same write (claimable again from
      // readyAt; a grant that comes before this activity ends is kept by the workflow). When no
      // earlier try got this far, nothing of the attempt's counting has happened either.
      const first = await MemberStore.settle({
        campaignId: i.campaignId, memberId: i.memberId, member: i.member, uuid: i.uuid, entry: i.log, waitingForStatusUntil: i.waitingForStatusUntil,
        release: { leaseId: i.leaseId, readyAt: i.readyAt },
      });
      // Campaign counters (§11.1): the attempt, and whether it succeeded unless its result status
      // decides that later (countOutcome). The attempt's `counted` flag goes with the result applied
      // (abandoned is the workflow's verdict, not the call's, stored with it): one write.
      const { outcome } = i.stats;
      const result = await appliedResult(i.uuid, resultRecord(r), { abandoned: i.stats.abandoned });
      // The campaign's line was held from the grant to now (the call's own duration when unknown).
      const lineSec = i.grantedAt ? (Date.now() - i.grantedAt) / 1000 : r.duration || 0;
      // The marker's removal waits for a later count to ride on: awaited last (models/campaign-store.ts).
      const { unmarked } = await CampaignStore.count(i.campaignId, i.uuid, 'counted', i.uuid, {
        'stats.callCount': 1,
        ...(i.stats.amd ? { [`stats.amd.${i.stats.amd}`]: 1 } : {}),
        'stats.connectedCall': i.stats.connected ? 1 : 0,
        'stats.bridgedCall': i.stats.bridged ? 1 : 0,
        'stats.successCall': outcome === 'success' ? 1 : 0,
        'stats.errorCall': outcome === 'error' ? 1 : 0,
        ...(i.stats.abandoned ? { 'stats.predictAbandoned': 1 } : {}),
        ...(i.stats.waitSec ? { 'stats.waitSec': i.stats.waitSec } : {}),
        // The finish forecast's line time per attempt (services/forecast.ts).
        'stats.lineSec': Math.max(0, Math.round(lineSec * 1000) / 1000),
      }, { counted: true, ...(outcome ? { outcome } : {}), result }, first ? { counted: false } : undefined);
      await LineLeases.release(i.campaignId, i.uuid);
      // Only a gateway with GATEWAY_LINES holds lines (its release is a search of the gateway documents).
      if (Object.keys(gatewayLines).length) await GatewayLines.release(i.uuid);
      await tellReleased(i.campaignId, i.leaseId);
      if (i.ended) await recordEnd(i.ended);
      attemptEnded(i.campaignId, i.uuid, r.cause, i.stats);
      await unmarked;
    },

    async saveMember({ campaignId, memberId, member, waitingForStatusUntil, readyAt, wakeCampaign, callback, step, decided, edited }) {
      const counted = decided && campaignId ? await countOutcome(campaignId, decided.uuid, decided.outcome) : undefined;
      await MemberStore.save({ campaignId: campaignId ?? wakeCampaign, memberId, member, waitingForStatusUntil, readyAt, edited, callback, step });
      // The campaign may be asleep with no other cue to claim it: the member became due earlier, or
      // a status window closed without ending it.
      const statusClosed = waitingForStatusUntil === null && !member.endCause;
      if (wakeCampaign ?? (statusClosed ? campaignId : undefined)) wake((wakeCampaign ?? campaignId)!);
      await counted?.unmarked;
    },

    async releaseGrant({ campaignId, memberId, leaseId, readyAt }) {
      await giveBack(campaignId, memberId, leaseId, readyAt);
    },

    memberEnded: recordEnd,
  };
}

/** The run of the workflow this activity works for; none when called outside a worker (tests). */
function currentRunId(): string | undefined {
  try {
    return Context.current().info.workflowExecution?.runId;
  } catch {
    return undefined;
  }
}
