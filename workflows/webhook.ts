// Member-end webhook delivery. One long-running dispatcher polls the stored member-end events and
// starts one delivery workflow per event (workflow id `webhook-<eventId>`, never reused, so an
// event is delivered once even if the dispatcher restarts). The delivery workflow POSTs the event to
// each webhook of its domain with retries and exponential backoff for up to `retryForHours`, so a
// receiver that is down for an hour still gets every event, exactly as recorded.
import {
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  continueAsNew,
  proxyActivities,
  sleep,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { WebhookActivities } from '../activities/webhooks';

export interface WebhookDispatcherInput {
  /** Pause between polls when there is nothing new (default 2 s). */
  pollMs?: number;
  /** Events created this long before the newest seen are looked at again (late inserts; default 5 min). */
  lookbackMs?: number;
  retry?: DeliveryRetry;
  /** Carried over continue-as-new. */
  since?: number;
}

export interface DeliveryRetry {
  initialIntervalMs?: number;
  maximumIntervalMs?: number;
  retryForHours?: number;
}

export const WEBHOOK_DISPATCHER_ID = 'webhook-dispatcher';

const poll = proxyActivities<WebhookActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
});

export async function webhookDispatcherWorkflow(input: WebhookDispatcherInput = {}): Promise<void> {
  const pollMs = input.pollMs ?? 2000;
  const lookbackMs = input.lookbackMs ?? 5 * 60_000;
  let since = input.since ?? 0;
  for (let i = 0; i < 500; i++) {
    const batch = await poll.claimMemberEnds({ since: Math.max(0, since - lookbackMs), limit: 100 });
    for (const ev of batch) {
      if (ev.hookIds.length) {
        try {
          await startChild(deliverMemberEndWorkflow, {
            workflowId: `webhook-${ev.eventId}`,
            args: [{ eventId: ev.eventId, hookIds: ev.hookIds, retry: input.retry }],
            parentClosePolicy: ParentClosePolicy.ABANDON,
            workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          });
        } catch (err) {
          // Already started (or already delivered) by an earlier run of this dispatcher.
          if ((err as Error).name !== 'WorkflowExecutionAlreadyStartedError') throw err;
        }
      }
      since = Math.max(since, ev.createdOn);
    }
    await poll.markQueued({ eventIds: batch.map((e) => e.eventId) });
    if (batch.length < 100) await sleep(pollMs);
    if (workflowInfo().continueAsNewSuggested) break;
  }
  await continueAsNew<typeof webhookDispatcherWorkflow>({ ...input, since });
}

export async function deliverMemberEndWorkflow(input: { eventId: string; hookIds: string[]; retry?: DeliveryRetry }): Promise<Record<string, string>> {
  const r = input.retry ?? {};
  const post = proxyActivities<WebhookActivities>({
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: `${r.retryForHours ?? 72} hours`,
    retry: {
      initialInterval: r.initialIntervalMs ?? 5_000,
      maximumInterval: r.maximumIntervalMs ?? 10 * 60_000,
      backoffCoefficient: 2,
    },
  });
  const out: Record<string, string> = {};
  await Promise.all(
    input.hookIds.map(async (hookId) => {
      try {
        out[hookId] = await post.postWebhook({ eventId: input.eventId, hookId });
      } catch {
        out[hookId] = 'failed'; // gave up after retryForHours
      }
    }),
  );
  return out;
}
