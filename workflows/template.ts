// One run of an import/export template (spec §9.2): send the template's HTTP request, wait for the
// receiver's `PUT …/templates/:id/end/:pid`, store the outcome and, on success, start the template
// named by `next_process_id` with the end body as its `success_data`. A durable workflow: a job
// started before a restart still takes its `end` afterwards. Started by `PUT …/execute` or by the
// template's Temporal schedule (`cron`, in the dialer calendar's time zone).
import { ParentClosePolicy, condition, proxyActivities, setHandler, startChild, uuid4, workflowInfo } from '@temporalio/workflow';
import type { TemplateActivities } from '../activities/templates';
import {
  TEMPLATE_JOB_ENDED,
  templateEndUpdate,
  templateJobWorkflowId,
  templatePidOf,
  type TemplateEnd,
  type TemplateJobInput,
  type TemplateJobResult,
} from './messages';

const send = proxyActivities<TemplateActivities>({
  startToCloseTimeout: '1 minute',
  // A receiver that is down briefly still gets the request; a refused target is not retried.
  retry: { initialInterval: '2 seconds', maximumInterval: '30 seconds', backoffCoefficient: 2, maximumAttempts: 5 },
});
const store = proxyActivities<TemplateActivities>({ startToCloseTimeout: '30 seconds' });

export async function templateJobWorkflow(input: TemplateJobInput): Promise<TemplateJobResult> {
  const pid = templatePidOf(workflowInfo().workflowId);
  let ended: TemplateEnd | undefined;
  let closing = false;
  setHandler(
    templateEndUpdate,
    (end) => {
      ended = end;
      return { pid };
    },
    {
      validator: (_end: TemplateEnd) => {
        if (ended || closing) throw new Error(TEMPLATE_JOB_ENDED);
      },
    },
  );
  let failed: string | undefined;
  try {
    await send.sendTemplateRequest({ templateId: input.templateId, pid, successData: input.successData });
  } catch (err) {
    failed = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : String(err);
  }
  const inTime = failed === undefined && (await condition(() => ended !== undefined, input.endTimeoutMs ?? 24 * 3600_000));
  closing = true;
  const state = failed !== undefined ? 'error' : !inTime ? 'timeout' : ended!.success ? 'success' : 'error';
  // A request that failed is closed without an `end`; one that comes later is rejected.
  ended ??= { success: false };
  const message = failed ?? (inTime ? ended.message : 'no end within the time allowed');
  const { nextTemplateId, nextPid } = await store.finishTemplateJob({ templateId: input.templateId, pid, state, message, data: ended.data, nextSuffix: uuid4() });
  if (nextTemplateId && nextPid) {
    await startChild(templateJobWorkflow, {
      workflowId: templateJobWorkflowId(nextPid),
      args: [{ templateId: nextTemplateId, successData: ended.data, endTimeoutMs: input.endTimeoutMs }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  }
  return { pid, state, next: nextPid };
}
