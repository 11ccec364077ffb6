// The purge workflow's activity (workflows/purge.ts): one batch of a deleted campaign's members.
import { Context } from '@temporalio/activity';
import { MemberStore } from '../models/member-store';

/** Members one activity call deletes (its heartbeats keep it alive meanwhile). */
export const PURGE_BATCH = 5000;

export interface PurgeActivities {
  /** Deletes up to PURGE_BATCH members of a deleted campaign; `done` when none is left. */
  purgeDeletedMembers(i: { campaignId: string; domain: string }): Promise<{ deleted: number; done: boolean }>;
}

export function createPurgeActivities(): PurgeActivities {
  return {
    async purgeDeletedMembers({ campaignId, domain }) {
      const deleted = await MemberStore.purgeDeleted(campaignId, domain, PURGE_BATCH, () => Context.current().heartbeat());
      return { deleted, done: deleted < PURGE_BATCH };
    },
  };
}
