// Activities of the campaign workflow: claiming ready members from the campaign's ready queue and
// granting them (activities/claim.ts), lease checks, the campaign's run state and counters. Writes go
// through the owning modules (models/member-store.ts, models/campaign-store.ts, models/lines.ts).
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/common';
import { Attempt, Member, memberState, type MemberDoc } from '../models';
import { CampaignStore } from '../models/campaign-store';
import { LineLeases } from '../models/lines';
import { GatewayLines } from '../models/gateway-lines';
import { MemberStore } from '../models/member-store';
import { hasQueued } from '../models/ready-queue';
import { memberUiText, startMemberWorkflowWithGrant, type MemberUiText } from '../workflows/start';
import { memberWorkflowId } from '../workflows/messages';
import type { MemberState } from '../rules';
import { mapLimit } from '../lib/map-limit';
import { claimReady, heartbeating, nextReadyAt as nextReadyAtOf, type ClaimReads } from './claim';
import type { ActivityDeps } from './deps';
import type { CampaignActivities } from './types';

/** A claimed member's document, without its attempt log. */
type Claimed = MemberDoc & { _id: unknown; _dispatch?: string };

/**
 * How long before a member's `_readyAt` the campaign grants it. The member holds the grant until its
 * own retry timer fires and dials then, so its call is not earlier; the grant is simply already
 * there, which spares the member a "waiting for a line" phase (a search-attribute upsert and a
 * workflow task per retry: benchmark 4). A line is held that long before the call.
 */
export const GRANT_LEAD_MS = 2_000;

/** Grants (signal-with-start) in flight at once from one claim. */
const GRANTS_IN_FLIGHT = 20;

export function createCampaignActivities({ client, esl, taskQueue }: ActivityDeps): CampaignActivities {
  async function claimAndGrant(
    { campaignId, campaignName, domain, leaseIds, membersStrategy, activeLeases, now, campaign, generation }: Parameters<CampaignActivities['claimAndGrant']>[0],
  ) {
    const granted: { leaseId: string; memberId: string; ui: MemberUiText; member: MemberState }[] = [];
    const grantOf = (d: Claimed) => ({
      leaseId: d._dispatch!,
      memberId: String(d._id),
      ui: memberUiText({ memberId: String(d._id), name: d.name, campaignId, campaignName, domain, communications: d.communications }),
      // The member's state as claimed: its workflow starts with it instead of reading it.
      member: memberState(d),
    });
    // A retried activity finds the members it already claimed with these lease ids (the workflow
    // made them up for this call, so on a first attempt no member can hold one: the query — a
    // scan of the whole collection on FerretDB — is skipped).
    const already = Context.current().info.attempt > 1
      ? await Member.find({ dialer: campaignId, _dispatch: { $in: leaseIds } }, { _log: 0 }).lean<Claimed[]>()
      : [];
    for (const d of already) granted.push(grantOf(d));
    // The ready window (activities/claim.ts): candidates read and claimed in batches; every claimed
    // member is then granted (signal-with-start), a bounded number at a time.
    const wanted = leaseIds.filter((id) => !granted.some((g) => g.leaseId === id));
    let claimError: unknown = null;
    const reads: ClaimReads = { timed: null };
    await claimReady<Claimed>({ campaignId, strategy: membersStrategy, now: now + GRANT_LEAD_MS, leaseIds: wanted, generation, reads }, (_leaseId, doc) => {
      granted.push(grantOf(doc));
    }).catch((err: unknown) => {
      claimError = err;
    });
    // The members claimed are granted before the activity ends, even when the claim failed part way
    // (a retry finds the claimed members by lease id and grants them).
    await mapLimit(granted, GRANTS_IN_FLIGHT, (g) =>
      startMemberWorkflowWithGrant(client, { domain, campaignId, memberId: g.memberId, member: g.member }, g.leaseId, taskQueue, g.ui, now, campaign).then(() => undefined),
    );
    if (claimError) throw claimError;
    await CampaignStore.setActive(campaignId, activeLeases + granted.length);
    let nextReadyAt: number | null = null;
    let openMembers = -1;
    if (granted.length < leaseIds.length) {
      const at = await nextReadyAtOf(campaignId, now + GRANT_LEAD_MS, reads.timed);
      nextReadyAt = at === null ? null : at - GRANT_LEAD_MS;
      // Open members: the queue knows them (members in progress have timed entries); only when it
      // is empty is the members collection asked (a scan up to the first match on FerretDB v1).
      if (granted.length === 0 && activeLeases === 0) {
        openMembers = (await hasQueued(campaignId)) || (await Member.exists({ dialer: campaignId, _endCause: null })) ? 1 : 0;
      }
    }
    return { granted: granted.map(({ leaseId, memberId }) => ({ leaseId, memberId })), nextReadyAt, openMembers };
  }

  return {
    claimAndGrant: (i) => heartbeating(() => claimAndGrant(i)),

    async checkLease({ campaignId, memberId, leaseId }) {
      const holder = await Member.findOne({ _id: memberId, _dispatch: leaseId }, { _id: 1 }).lean();
      if (!holder) return { held: false };
      try {
        const d = await client.workflow.getHandle(memberWorkflowId(campaignId, memberId)).describe();
        if (d.status.name === 'RUNNING') return { held: true };
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
      // The member's workflow is gone while holding the lease (terminated, crashed run). The line of
      // its attempt (models/lines.ts, keyed by the attempt uuid) is freed only by that workflow's
      // endAttempt, so free it here — but only once its call is over: a call still up in FreeSWITCH
      // keeps its line, and the lease stays held until the next deadline, so the limit holds.
      const lines = await LineLeases.snapshot(campaignId);
      const ids = (lines?.leases ?? []).map((l) => l.id);
      const open = ids.length
        ? await Attempt.find({ _id: { $in: ids }, member: memberId }, { _id: 1, sentOn: 1, result: 1 }).lean<{ _id: string; sentOn: number | null; result: unknown }[]>()
        : [];
      for (const a of open) {
        if (a.sentOn !== null && !a.result && (await esl.uuidExists(a._id))) return { held: true };
      }
      for (const a of open) {
        await LineLeases.release(campaignId, a._id);
        await GatewayLines.release(a._id);
      }
      // Claimable again (its queue entries went when it was claimed): back into the queue.
      await MemberStore.reclaim(campaignId, memberId, leaseId);
      return { held: false };
    },

    async startStatsDay({ campaignId, day }) {
      await CampaignStore.startStatsDay(campaignId, day);
    },

    async setCampaignState({ campaignId, state, cause, active, action }) {
      await CampaignStore.setState(campaignId, { state, cause, active, action });
    },
  };
}
