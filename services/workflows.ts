// Talking to member workflows from the API's services: is one running, terminate, updates with a deadline and
// the mapping of their failures to HTTP codes.
import { WorkflowNotFoundError } from '@temporalio/common';
import { WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, type Client } from '@temporalio/client';
import { HttpError } from '../lib/http-error';
import { memberWorkflowId } from '../workflows/messages';
import { mapLimit } from '../lib/map-limit';

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

/** gRPC status codes the Temporal service answers with. */
const GRPC = { DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, FAILED_PRECONDITION: 9, ABORTED: 10 } as const;
const CLOSED = /not found|already completed|workflow execution already|completed before the update|aborted|closing|completing/i;

/** The gRPC status code of a Temporal client error (the client wraps it as `cause` of a ServiceError). */
function grpcCode(err: unknown): number | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0; e && i < 3; e = e.cause as typeof e, i++) {
    if (typeof e.code === 'number') return e.code;
  }
  return undefined;
}

/** The whole message chain: "Workflow Update failed" alone does not say why. */
function messages(err: unknown): string {
  const out: string[] = [];
  for (let e = err as { message?: unknown; details?: unknown; cause?: unknown } | undefined, i = 0; e && i < 4; e = e.cause as typeof e, i++) {
    out.push(String(e.message ?? ''), String(e.details ?? ''));
  }
  return out.filter(Boolean).join(': ');
}

/**
 * Runs an Update with a deadline. A workflow that does not exist or closed meanwhile (NOT_FOUND;
 * FAILED_PRECONDITION or ABORTED when it ended while the Update was on its way) → not-found; a
 * validator/handler rejection → rejected (its message); no answer in time → 503.
 */
export async function runUpdate<R>(client: Client, timeoutMs: number, fn: () => Promise<R>): Promise<UpdateOutcome<R>> {
  try {
    const value = await client.withDeadline(Date.now() + timeoutMs, fn);
    return { ok: true, value };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { ok: false, kind: 'not-found', message: err.message };
    if (err instanceof WorkflowUpdateFailedError) {
      const message = err.cause?.message ?? err.message;
      // The workflow completed before the Update did: the member has ended.
      return { ok: false, kind: CLOSED.test(message) ? 'not-found' : 'rejected', message };
    }
    const code = grpcCode(err);
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || code === GRPC.DEADLINE_EXCEEDED || /DEADLINE_EXCEEDED|deadline/i.test(String((err as Error).message))) {
      throw new HttpError(503, 'the member workflow did not answer in time (is a worker running?); retry later');
    }
    const msg = messages(err);
    if (code === GRPC.NOT_FOUND || code === GRPC.FAILED_PRECONDITION || code === GRPC.ABORTED || CLOSED.test(msg)) {
      return { ok: false, kind: 'not-found', message: msg };
    }
    throw err;
  }
}
