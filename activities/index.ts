// Activities of the member workflow, built from injected dependencies (createActivities(deps)) so
// tests can hand in a real ESL client pointed at the simulator and a real Mongo connection.
import type { Logger } from 'pino';
import { buildOriginate, EslNotConnectedError, type EslClient } from '../esl';
import { Attempt, Campaign, campaignRules, Member, MemberEnd, memberState, memberStateSet, type CampaignDoc, type MemberDoc } from '../models';
import { LineLeases } from '../models/lines';
import type { CallResult } from '../workflows/messages';
import type { AttemptLogEntry, DialerActivities } from './types';

export interface ActivityDeps {
  esl: Pick<EslClient, 'bgapi' | 'uuidExists' | 'uuidKill'>;
  log: Logger;
}

type LogArray = (AttemptLogEntry & Record<string, unknown>)[];

/** `_log` is newest-first (v3). Read-modify-write is safe: only the member's workflow writes it. */
async function updateLog(memberId: string, session: string, change: (entry: AttemptLogEntry | undefined, log: LogArray) => LogArray) {
  const doc = await Member.findById(memberId, { _log: 1 }).lean<{ _log?: LogArray }>();
  const log = doc?._log ?? [];
  return change(log.find((e) => e.session === session), log);
}

export function storedResult(uuid: string, r: { cause?: string | null; answered?: boolean | null; billsec?: number | null; duration?: number | null; source?: string | null } | null | undefined): CallResult | null {
  if (!r || !r.cause) return null;
  return {
    uuid, cause: r.cause, answered: !!r.answered, billsec: r.billsec ?? 0, answersec: 0, duration: r.duration ?? 0,
    source: (r.source as CallResult['source']) ?? 'reconcile',
  };
}

export function createActivities(deps: ActivityDeps): DialerActivities {
  const { esl, log } = deps;
  return {
    async loadCampaign(campaignId) {
      const doc = await Campaign.findById(campaignId).lean<CampaignDoc>();
      return doc ? campaignRules(doc) : null;
    },

    async loadMember(memberId) {
      const doc = await Member.findById(memberId).lean<MemberDoc>();
      return doc ? memberState(doc) : null;
    },

    async acquireLine({ campaignId, leaseId, limit, destinations }) {
      return LineLeases.acquire(campaignId, leaseId, limit, destinations);
    },

    async releaseLine({ campaignId, leaseId }) {
      await LineLeases.release(campaignId, leaseId);
    },

    async startAttempt(i) {
      await Attempt.updateOne(
        { _id: i.uuid },
        {
          $setOnInsert: {
            dialer: i.campaignId, domain: i.domain, member: i.memberId, workflowId: i.workflowId, attempt: i.attempt,
            number: i.number, dialString: i.dialString, destinationId: i.destinationId, jobUuid: i.jobUuid, createdOn: Date.now(),
          },
        },
        { upsert: true },
      );
      const newLog = await updateLog(i.memberId, i.uuid, (entry, all) => (entry ? all : [i.log as LogArray[number], ...all]));
      await Member.updateOne(
        { _id: i.memberId },
        { $set: { ...memberStateSet(i.member), _lock: i.workflowId, _lastSession: i.uuid, _log: newLog } },
      );
    },

    async originate(i) {
      // Never dial twice: once an attempt is marked sent, a retry of this activity does not resend.
      const claimed = await Attempt.findOneAndUpdate({ _id: i.uuid, sentOn: null }, { $set: { sentOn: Date.now() } });
      if (!claimed) return { sent: true };
      try {
        await esl.bgapi(buildOriginate({ uuid: i.uuid, dialString: i.dialString, vars: i.vars, timeoutSec: i.timeoutSec }), i.jobUuid);
        log.info({ uuid: i.uuid, dialString: i.dialString }, 'originate sent');
        return { sent: true };
      } catch (err) {
        if (err instanceof EslNotConnectedError) {
          // Certainly not sent: un-claim so the retried activity sends it.
          await Attempt.updateOne({ _id: i.uuid }, { $set: { sentOn: null } });
        }
        // Otherwise (timeout, connection lost mid-command) it may have been sent: keep the claim and
        // let the workflow's reconciliation settle the attempt.
        if (err instanceof EslNotConnectedError) throw err;
        log.warn({ uuid: i.uuid, err: String(err) }, 'originate outcome unknown; will reconcile');
        return { sent: true };
      }
    },

    async checkCall(uuid) {
      const doc = await Attempt.findById(uuid, { result: 1 }).lean<{ result?: Parameters<typeof storedResult>[1] }>();
      const stored = storedResult(uuid, doc?.result);
      if (stored) return { exists: false, result: stored };
      return { exists: await esl.uuidExists(uuid), result: null };
    },

    async hangup({ uuid, cause }) {
      await esl.uuidKill(uuid, cause);
    },

    async finishAttempt(i) {
      // The first source to report a result wins; an engine-made outcome is stored here if none did.
      await Attempt.updateOne(
        { _id: i.uuid, result: null },
        { $set: { result: { cause: i.result.cause, answered: i.result.answered, billsec: i.result.billsec, duration: i.result.duration, source: i.result.source, settledOn: Date.now() } } },
      );
      const newLog = await updateLog(i.memberId, i.uuid, (_entry, all) => [
        i.log as LogArray[number],
        ...all.filter((e) => e.session !== i.uuid),
      ]);
      await Member.updateOne(
        { _id: i.memberId },
        {
          $set: {
            ...memberStateSet(i.member),
            _lock: null,
            _log: newLog,
            _waitingForResultStatus: i.waitingForStatusUntil,
            _waitingForResultStatusCb: i.waitingForStatusUntil ? 1 : null,
          },
        },
      );
      // Campaign counters (§11.1), counted once per attempt even if this activity is retried.
      const first = await Attempt.findOneAndUpdate({ _id: i.uuid, counted: { $ne: true } }, { $set: { counted: true } });
      if (first) {
        await Campaign.updateOne(
          { _id: i.campaignId },
          {
            $inc: {
              'stats.callCount': 1,
              'stats.successCall': i.stats.success ? 1 : 0,
              'stats.errorCall': i.stats.ended && !i.stats.success ? 1 : 0,
              'stats.connectedCall': i.stats.connected ? 1 : 0,
              'stats.bridgedCall': i.stats.bridged ? 1 : 0,
            },
          },
        );
      }
    },

    async saveMember({ memberId, member, waitingForStatusUntil, callback, step }) {
      const set: Record<string, unknown> = { ...memberStateSet(member) };
      if (waitingForStatusUntil !== undefined) {
        set._waitingForResultStatus = waitingForStatusUntil;
        set._waitingForResultStatusCb = waitingForStatusUntil ? 1 : null;
      }
      if (callback || step) {
        const doc = await Member.findById(memberId, { _log: 1 }).lean<{ _log?: LogArray }>();
        const logArr = doc?._log ?? [];
        if (logArr.length > 0) {
          const newest = { ...logArr[0] };
          if (callback) newest.callback = callback;
          if (step) newest.steps = [...(newest.steps ?? []), { time: Date.now(), data: step }];
          set._log = [newest, ...logArr.slice(1)];
        }
      }
      await Member.updateOne({ _id: memberId }, { $set: set });
    },

    async memberEnded({ eventId, domain, campaignId, memberId, event }) {
      const res = await MemberEnd.updateOne(
        { _id: eventId },
        { $setOnInsert: { domain, dialer: campaignId, member: memberId, event, createdOn: Date.now() } },
        { upsert: true },
      );
      if (res.upsertedCount > 0) log.info({ event }, 'engine::dialer_member_end');
    },
  };
}
