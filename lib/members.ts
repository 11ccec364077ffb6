// Starting and messaging dialer workflows from outside them (API, activities, CLI, tests).
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { searchAttributes as SA } from './search-attributes';
export { maskNumber } from '../rules';
import { config } from './config';
import {
  campaignWorkflowId,
  grantSignal,
  memberWorkflowId,
  stopSignal,
  wakeSignal,
  type CampaignWorkflowInput,
  type MemberWorkflowInput,
} from '../workflows/messages';

function memberStartOptions(input: MemberWorkflowInput, taskQueue: string, summary?: string) {
  return {
    workflowId: memberWorkflowId(input.campaignId, input.memberId),
    taskQueue,
    args: [input] as [MemberWorkflowInput],
    typedSearchAttributes: [
      { key: SA.CampaignId, value: input.campaignId },
      { key: SA.DomainId, value: input.domain },
      { key: SA.MemberId, value: input.memberId },
      { key: SA.MemberState, value: 'waiting' },
    ],
    staticSummary: summary ?? `member ${input.memberId} of campaign ${input.campaignId}`,
  };
}

/** Starts the member's workflow unless it is already running (idempotent). */
export async function startMemberWorkflow(client: Client, input: MemberWorkflowInput, taskQueue = config.temporal.taskQueue) {
  return client.workflow.start('memberWorkflow', {
    ...memberStartOptions(input, taskQueue),
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
}

/** Grants a member one line: signals its workflow, starting it first if the member was never dialled. */
export async function startMemberWorkflowWithGrant(
  client: Client,
  input: MemberWorkflowInput,
  leaseId: string,
  taskQueue = config.temporal.taskQueue,
  summary?: string,
) {
  return client.workflow.signalWithStart('memberWorkflow', {
    ...memberStartOptions(input, taskQueue, summary),
    signal: grantSignal,
    signalArgs: [{ leaseId }],
  });
}

/** Starts the campaign (§8.2) or wakes it if it runs: members added, configuration changed. */
export async function wakeCampaignWorkflow(client: Client, input: CampaignWorkflowInput, taskQueue = config.temporal.taskQueue) {
  return client.workflow.signalWithStart('campaignWorkflow', {
    workflowId: campaignWorkflowId(input.campaignId),
    taskQueue,
    args: [input],
    signal: wakeSignal,
    signalArgs: [],
    typedSearchAttributes: [
      { key: SA.CampaignId, value: input.campaignId },
      { key: SA.DomainId, value: input.domain },
    ],
    staticSummary: `campaign ${input.campaignId}`,
  });
}

/** §8.2 stop; false when the campaign was not running. */
export async function stopCampaignWorkflow(client: Client, campaignId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(campaignWorkflowId(campaignId)).signal(stopSignal);
    return true;
  } catch (err) {
    if ((err as Error).name === 'WorkflowNotFoundError') return false;
    throw err;
  }
}
