// Activities of the campaign workflow: the ready queue lives in Mongo (members with `_readyAt` due
// and no lease), claimed one document at a time with findOneAndUpdate so no member is granted twice.
// (FerretDB v1 supports no projection on findAndModify, so none is used.)
import { WorkflowNotFoundError } from '@temporalio/common';
import { Campaign, Member } from '../models';
import { addHistory } from '../models/history';
import { startMemberWorkflowWithGrant } from '../lib/members';
import { memberWorkflowId } from '../workflows/messages';
import type { ActivityDeps } from './deps';
import type { CampaignActivities } from './types';

const SORTS = {
  // §5.4: retries (latest due first) before never-called members, then priority.
  'next-tries-circuit': { _nextTryTime: -1, priority: -1, _id: 1 },
  // §5.4: the whole list is circled (never-called first) before retries.
  'strict-circuit': { lastCall: 1, priority: -1, _id: 1 },
} as const;

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}

export function createCampaignActivities({ client, taskQueue }: ActivityDeps): CampaignActivities {
  return {
    async claimAndGrant({ campaignId, domain, leaseIds, membersStrategy, activeLeases, now }) {
      const granted: { leaseId: string; memberId: string }[] = [];
      // A retried activity finds the members it already claimed with these lease ids.
      const already = await Member.find({ dialer: campaignId, _dispatch: { $in: leaseIds } }, { _id: 1, _dispatch: 1 }).lean<{ _id: unknown; _dispatch: string }[]>();
      for (const d of already) granted.push({ leaseId: d._dispatch, memberId: String(d._id) });
      const ready = {
        dialer: campaignId, _endCause: null, _lock: null, _dispatch: null, _waitingForResultStatusCb: null,
        $or: [{ _readyAt: null }, { _readyAt: { $lte: now } }],
      };
      for (const leaseId of leaseIds) {
        if (granted.some((g) => g.leaseId === leaseId)) continue;
        const doc = await Member.findOneAndUpdate(ready, { $set: { _dispatch: leaseId } }, { sort: SORTS[membersStrategy] }).lean<{ _id: unknown }>();
        if (!doc) break;
        granted.push({ leaseId, memberId: String(doc._id) });
      }
      await mapLimit(granted, 20, (g) =>
        startMemberWorkflowWithGrant(client, { domain, campaignId, memberId: g.memberId }, g.leaseId, taskQueue).then(() => undefined),
      );
      await Campaign.updateOne({ _id: campaignId }, { $set: { 'stats.active': activeLeases + granted.length } });
      let nextReadyAt: number | null = null;
      let openMembers = -1;
      if (granted.length < leaseIds.length) {
        const next = await Member.findOne(
          { dialer: campaignId, _endCause: null, _dispatch: null, _lock: null, _waitingForResultStatusCb: null, _readyAt: { $gt: now } },
          { _readyAt: 1 },
        ).sort({ _readyAt: 1 }).lean<{ _readyAt: number }>();
        nextReadyAt = next?._readyAt ?? null;
        if (granted.length === 0 && activeLeases === 0) openMembers = await Member.countDocuments({ dialer: campaignId, _endCause: null });
      }
      return { granted, nextReadyAt, openMembers };
    },

    async checkLease({ campaignId, memberId, leaseId }) {
      const holder = await Member.findOne({ _id: memberId, _dispatch: leaseId }, { _id: 1 }).lean();
      if (!holder) return { held: false };
      try {
        const d = await client.workflow.getHandle(memberWorkflowId(campaignId, memberId)).describe();
        if (d.status.name === 'RUNNING') return { held: true };
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
      // The member's workflow is gone while holding the lease (terminated, crashed run): reclaim it.
      await Member.updateOne({ _id: memberId, _dispatch: leaseId }, { $set: { _dispatch: null, _lock: null } });
      return { held: false };
    },

    async setCampaignState({ campaignId, state, cause, active, action }) {
      // Only a real change is recorded: the API already wrote the state it set itself (start/stop).
      const doc = await Campaign.findOneAndUpdate(
        { _id: campaignId, $or: [{ state: { $ne: state } }, { _cause: { $ne: cause } }] },
        { $set: { state, _cause: cause, active } },
      ).lean<{ domain: string }>();
      if (doc) await addHistory({ dialer: campaignId, domain: doc.domain, action: cause, value: action });
    },
  };
}
