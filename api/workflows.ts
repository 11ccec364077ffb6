// Talking to member workflows from the API: is one running, terminate, updates with a deadline and
// the mapping of their failures to HTTP codes.
import { WorkflowNotFoundError } from '@temporalio/common';
import { WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, type Client } from '@temporalio/client';
import { HttpError } from './http';
import { memberWorkflowId } from '../workflows/messages';
import { mapLimit } from './wake';

export async function workflowRunning(client: Client, workflowId: string): Promise<boolean> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    return d.status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** Terminates a workflow if it runs; true if it did run. */
export async function terminateIfRunning(client: Client, workflowId: string, reason: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowId).terminate(reason);
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    // Already closed: terminate of a closed run answers "workflow execution already completed".
    if (/already completed|not found/i.test(String((err as Error).message))) return false;
    throw err;
  }
}

/** Running member workflows of a campaign, by the CampaignId search attribute; Infinity when the
 *  visibility query is not available (search attribute missing), so callers terminate by id. */
export async function runningMemberWorkflows(client: Client, campaignId: string): Promise<number> {
  try {
    const { count } = await client.workflow.count(`CampaignId = "${campaignId}" AND ExecutionStatus = "Running"`);
    return count;
  } catch {
    return Infinity;
  }
}

/** Terminates every running member workflow of a campaign (visibility may lag a little). Without
 *  visibility, terminates the workflows of the given fallback member ids. */
export async function terminateCampaignWorkflows(client: Client, campaignId: string, reason: string, fallbackIds?: () => AsyncIterable<string>): Promise<number> {
  let n = 0;
  async function* ids() {
    try {
      for await (const wf of client.workflow.list({ query: `CampaignId = "${campaignId}" AND ExecutionStatus = "Running"` })) yield wf.workflowId;
    } catch (err) {
      if (!fallbackIds) throw err;
      for await (const m of fallbackIds()) yield memberWorkflowId(campaignId, m);
    }
  }
  await mapLimit(ids(), 20, async (id) => {
    if (await terminateIfRunning(client, id, reason)) n += 1;
  });
  return n;
}

export type UpdateOutcome<R> = { ok: true; value: R } | { ok: false; kind: 'not-found' | 'rejected'; message: string };

/**
 * Runs an Update with a deadline. A workflow that does not exist or has closed → not-found; a
 * validator/handler rejection → rejected (its message); no answer in time → 503.
 */
export async function runUpdate<R>(client: Client, timeoutMs: number, fn: () => Promise<R>): Promise<UpdateOutcome<R>> {
  try {
    const value = await client.withDeadline(Date.now() + timeoutMs, fn);
    return { ok: true, value };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { ok: false, kind: 'not-found', message: err.message };
    if (err instanceof WorkflowUpdateFailedError) {
      return { ok: false, kind: 'rejected', message: err.cause?.message ?? err.message };
    }
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || /DEADLINE_EXCEEDED|deadline/i.test(String((err as Error).message))) {
      throw new HttpError(503, 'the member workflow did not answer in time (is a worker running?); retry later');
    }
    const msg = String((err as Error).message);
    if (/not found|already completed|workflow execution already/i.test(msg)) return { ok: false, kind: 'not-found', message: msg };
    throw err;
  }
}
