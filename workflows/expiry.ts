// The five-minute member-expiry sweep (spec §5.6, §8): a Temporal schedule (workflows/start.ts
// ensureMemberExpirySweep) starts this workflow every 5 minutes, one at a time; the work is one
// activity (activities/expiry.ts), so a sweep cut short by a restart is simply run again.
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ExpiryActivities, SweepResult } from '../activities/expiry';

const sweep = proxyActivities<ExpiryActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', maximumAttempts: 3 },
});

export async function memberExpirySweepWorkflow(): Promise<SweepResult> {
  // The scheduled time, not the start time: a late start sweeps what was due when it should have run.
  return sweep.sweepExpiredMembers({ now: workflowInfo().runStartTime.getTime() });
}
