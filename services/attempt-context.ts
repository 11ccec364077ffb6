// The attempt's fields on every log line of its path (lib/logger.ts withAttemptContext): an activity
// interceptor sets them for each member-workflow activity from its workflow id and its input, and
// the call-result paths (ESL events, reconciliation) from the attempt they settle.
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { withAttemptContext, type AttemptLogFields } from '../lib/logger';
import { parseMemberWorkflowId } from '../workflows/messages';

/** The fields known from a member workflow id, a call uuid and an attempt number (any may be absent). */
export function attemptFields(workflowId: string | undefined, callUuid?: string, attempt?: number): AttemptLogFields {
  const ids = workflowId ? parseMemberWorkflowId(workflowId) : null;
  return { ...ids, callUuid, attempt: Number.isInteger(attempt) && attempt! > 0 ? attempt : undefined };
}

/** From an activity's first argument: a call uuid (checkCall) or an input object (placeCall, endAttempt, hangup…). */
function fromInput(arg: unknown): AttemptLogFields {
  if (typeof arg === 'string') return /^[0-9a-f-]{36}$/.test(arg) ? { callUuid: arg } : {};
  if (!arg || typeof arg !== 'object') return {};
  const i = arg as { uuid?: unknown; attempt?: unknown; log?: { callAttempt?: unknown }; campaignId?: unknown; memberId?: unknown };
  const attempt = typeof i.attempt === 'number' ? i.attempt : typeof i.log?.callAttempt === 'number' ? i.log.callAttempt : undefined;
  return {
    ...(typeof i.campaignId === 'string' ? { campaignId: i.campaignId } : {}),
    ...(typeof i.memberId === 'string' ? { memberId: i.memberId } : {}),
    ...(typeof i.uuid === 'string' ? { callUuid: i.uuid } : {}),
    ...(attempt !== undefined ? { attempt } : {}),
  };
}

/** Worker interceptor: each activity of a member workflow runs inside its attempt's log context. */
export const attemptLogInterceptor: ActivityInterceptorsFactory = (ctx: Context) => ({
  inbound: {
    execute: (input, next) => withAttemptContext(
      { ...attemptFields(ctx.info.workflowExecution?.workflowId), ...fromInput(input.args[0]) },
      () => next(input),
    ),
  },
});
