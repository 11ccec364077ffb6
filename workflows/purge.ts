// Deleting a deleted campaign's members. DELETE of a dialer takes the campaign, its ready queue and
// its counts away at once (so its members are in no read, count or claim any more) and starts this
// workflow, which deletes the members themselves in batches — as long as that takes, and again
// after a worker restart: each activity call deletes up to PURGE_BATCH and is safe to repeat.
import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { PurgeActivities } from '../activities/purge';
import type { PurgeMembersInput } from './messages';

const { purgeDeletedMembers } = proxyActivities<PurgeActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', backoffCoefficient: 2 },
});

/** Returns how many members it deleted. */
export async function purgeMembersWorkflow(input: PurgeMembersInput): Promise<number> {
  let deleted = input.deleted ?? 0;
  for (;;) {
    const r = await purgeDeletedMembers({ campaignId: input.campaignId, domain: input.domain });
    deleted += r.deleted;
    if (r.done) return deleted;
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof purgeMembersWorkflow>({ ...input, deleted });
  }
}
