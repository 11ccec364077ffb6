// Starting and messaging member workflows from outside (API, CLI, tests).
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { searchAttributes as SA } from './search-attributes';
import { config } from './config';
import { memberWorkflowId, type MemberWorkflowInput } from '../workflows/messages';

/** Starts the member's workflow unless it is already running (idempotent). */
export async function startMemberWorkflow(client: Client, input: MemberWorkflowInput, taskQueue = config.temporal.taskQueue) {
  const workflowId = memberWorkflowId(input.campaignId, input.memberId);
  return client.workflow.start('memberWorkflow', {
    workflowId,
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    typedSearchAttributes: [
      { key: SA.CampaignId, value: input.campaignId },
      { key: SA.DomainId, value: input.domain },
      { key: SA.MemberState, value: 'waiting' },
    ],
    staticSummary: `member ${input.memberId} of campaign ${input.campaignId}`,
  });
}
