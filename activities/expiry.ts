// The expiry sweep (spec §5.6, v3's 5-minute timer): members whose `expire` has passed and that no
// workflow owns end with MEMBER_EXPIRED and a member-end event with reason "expire" — this matters
// for stopped and sleeping campaigns, whose members no reservation looks at. Only the members the
// expiry index (models/expiry-index.ts) lists for the slots that ended since the last sweep are read,
// by `_id`; a member owned by a running workflow is left to it (its next reservation ends it).
import { heartbeat } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Schema } from 'mongoose';
import type { Logger } from 'pino';
import { mapLimit } from '../lib/map-limit';
import { Campaign, Member, memberState, type MemberDoc } from '../models';
import { ExpiryIndex, lastSweepableSlot, slotDir } from '../models/expiry-index';
import { recordMemberEnd } from '../models/member-end';
import { MemberStore } from '../models/member-store';
import { model } from '../models/model';
import { END, endWithoutCall, memberEndEvent } from '../rules';
import { memberWorkflowId } from '../workflows/messages';

/** Where the sweep got to (written only by this activity; the schedule runs one sweep at a time). */
const SweepCursor = model('SweepCursor', new Schema({ _id: String, slot: Number }, { collection: 'dialer_sweeps', versionKey: false }));
const CURSOR_ID = 'member-expiry';
/** The first sweep looks back this many slots (one day). */
const FIRST_SWEEP_SLOTS = 288;

export interface SweepResult {
  slots: number;
  ended: number;
  /** Expired members left to their running workflow. */
  owned: number;
}
export interface ExpiryActivities {
  sweepExpiredMembers(i: { now: number }): Promise<SweepResult>;
}

export function createExpiryActivities(deps: { client: Client; log: Logger }): ExpiryActivities {
  const workflowRuns = async (workflowId: string): Promise<boolean> => {
    try {
      return (await deps.client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  };

  async function endExpired(c: { _id: unknown; name: string; domain: string }, ids: unknown[], now: number, out: SweepResult): Promise<void> {
    const campaignId = String(c._id);
    for (let i = 0; i < ids.length; i += 500) {
      const docs = await Member.find({ _id: { $in: ids.slice(i, i + 500) } }).lean<MemberDoc[]>();
      const expired = docs.filter((m) => String(m.dialer) === campaignId && !m._endCause && !m._lock && !m._dispatch && !m._waitingForResultStatusCb && typeof m.expire === 'number' && m.expire > 0 && m.expire <= now);
      await mapLimit(expired, 10, async (m) => {
        const memberId = String(m._id);
        if (await workflowRuns(memberWorkflowId(campaignId, memberId))) {
          out.owned++;
          return;
        }
        const ended = endWithoutCall(memberState(m), END.MEMBER_EXPIRED).member;
        if (!(await MemberStore.endUnclaimed(m, ended))) return; // claimed or ended meanwhile
        const event = memberEndEvent({ domain: c.domain, campaignId, campaignName: c.name, memberId, member: ended, cause: END.MEMBER_EXPIRED, session: m._lastSession ?? '', reason: 'expire' });
        await recordMemberEnd(`expiry:${campaignId}:${memberId}`, { domain: c.domain, dialer: campaignId, member: memberId, event });
        out.ended++;
      });
      heartbeat();
    }
  }

  return {
    async sweepExpiredMembers({ now }) {
      const out: SweepResult = { slots: 0, ended: 0, owned: 0 };
      const last = lastSweepableSlot(now);
      const cursor = await SweepCursor.findById(CURSOR_ID).lean<{ slot: number }>();
      const first = cursor ? cursor.slot + 1 : last - FIRST_SWEEP_SLOTS;
      if (first > last) return out;
      const campaigns = await Campaign.find({}, { _id: 1, name: 1, domain: 1 }).lean<{ _id: unknown; name: string; domain: string }[]>();
      // Only the directories there are are read (the first sweep looks back a day: 288 slots).
      const slots = Array.from({ length: last - first + 1 }, (_, i) => first + i);
      const dirs = await ExpiryIndex.existing(slots.flatMap((slot) => campaigns.map((c) => slotDir(String(c._id), slot))));
      for (const slot of slots) {
        for (const c of campaigns) {
          const dir = slotDir(String(c._id), slot);
          const parts = dirs.get(dir);
          if (!parts) continue;
          const ids = await ExpiryIndex.idsIn(parts);
          if (ids.length) await endExpired(c, ids, now, out);
          await ExpiryIndex.drop(dir, parts);
          heartbeat();
        }
        out.slots++;
      }
      await SweepCursor.updateOne({ _id: CURSOR_ID }, { $set: { slot: last } }, { upsert: true });
      if (out.ended || out.owned) deps.log.info(out, 'expiry sweep');
      return out;
    },
  };
}
