// Starting and messaging dialer workflows from outside them (API, activities, CLI, tests): typed
// helpers that take the workflow function, never its name as a string.
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { searchAttributes as SA } from '../lib/search-attributes';
import { maskNumber } from '../rules';
export { maskNumber };
import { config } from '../lib/config';
import {
  agentWorkflowId,
  campaignWorkflowId,
  grantSignal,
  memberWorkflowId,
  purgeWorkflowId,
  stopSignal,
  templateJobWorkflowId,
  templateScheduleId,
  wakeSignal,
  type AgentWorkflowInput,
  type CampaignWorkflowInput,
  type GrantedCampaign,
  type MemberWorkflowInput,
  type PurgeMembersInput,
} from './messages';
import { memberWorkflow } from './member';
import { campaignWorkflow } from './campaign';
import { agentWorkflow } from './agent';
import { purgeMembersWorkflow } from './purge';
import { templateJobWorkflow } from './template';
import { memberExpirySweepWorkflow } from './expiry';
import { WEBHOOK_DISPATCHER_ID, webhookDispatcherWorkflow, type WebhookDispatcherInput } from './webhook';

/** What the Temporal UI shows of a member workflow without opening it (static: set at start). */
export interface MemberUiText {
  /** One line in the workflow list: member name, campaign name, the numbers (masked). */
  summary: string;
  /** Markdown on the workflow page. */
  details: string;
}

interface MemberForUi {
  memberId: string;
  name?: string | null;
  campaignId: string;
  campaignName?: string | null;
  domain: string;
  communications?: { number: string; priority?: number; state?: number; lastCall?: number; description?: string | null }[];
}

/**
 * The summary and details of a member workflow for the Temporal UI. Numbers are masked (as in
 * logs) and listed in the order a member without communication types dials them (§5.5: not yet
 * ended, least recently called, then highest priority) — the first is the number dialled first.
 */
export function memberUiText(m: MemberForUi): MemberUiText {
  const open = (m.communications ?? [])
    .filter((c) => (c.state ?? 0) !== 2)
    .sort((a, b) => (a.lastCall ?? 0) - (b.lastCall ?? 0) || (b.priority ?? 0) - (a.priority ?? 0));
  const name = m.name?.trim() || `member ${m.memberId}`;
  const campaign = m.campaignName?.trim() || m.campaignId;
  const numbers = open.length ? open.slice(0, 3).map((c) => maskNumber(c.number)).join(', ') + (open.length > 3 ? ` +${open.length - 3}` : '') : 'no number left';
  // The UI cuts long summaries; keep the list line short.
  const summary = `${name} · ${campaign} · ${numbers}`.slice(0, 200);
  const details = [
    `**${name}** in campaign **${campaign}** (\`${m.campaignId}\`, domain \`${m.domain}\`)`,
    '',
    // A list, not a table: the Temporal UI (2.54) renders no markdown tables.
    ...(m.communications ?? []).map((c) => {
      const description = (c.description ?? '').replace(/\s+/g, ' ').trim();
      return `- ${maskNumber(c.number)}, priority ${c.priority ?? 0}${description ? `: ${description}` : ''}${c.state === 2 ? ' (ended)' : ''}`;
    }),
    '',
    `Member \`${m.memberId}\`: GET /api/v2/dialer/${m.campaignId}/members/${m.memberId}`,
  ].join('\n');
  return { summary, details };
}

function memberStartOptions(input: MemberWorkflowInput, taskQueue: string, ui?: MemberUiText, granted?: GrantedCampaign) {
  return {
    workflowId: memberWorkflowId(input.campaignId, input.memberId),
    taskQueue,
    args: [input] as [MemberWorkflowInput],
    typedSearchAttributes: [
      { key: SA.CampaignId, value: input.campaignId },
      { key: SA.DomainId, value: input.domain },
      { key: SA.MemberId, value: input.memberId },
      ...startState(input, granted),
    ],
    staticSummary: ui?.summary ?? `member ${input.memberId} of campaign ${input.campaignId}`,
    ...(ui ? { staticDetails: ui.details } : {}),
  };
}

/**
 * What the Web UI shows of a member from its start. A member started by its grant, with the member
 * and the campaign's rules as claimed, places its call in its first workflow task: it is shown in
 * that call (the attempt `probeCount + 1`, as the workflow counts it) from the start, so its first
 * attempt needs no upsert. Progressive campaigns hunt an agent first (and preview waits for the
 * agent): shown waiting until the call. The workflow corrects what differs (member.ts setPhase).
 */
function startState(input: MemberWorkflowInput, granted?: GrantedCampaign) {
  if (input.member && granted && granted.rules.type !== 'Progressive Dialer') {
    return [{ key: SA.MemberState, value: 'in-call' }, { key: SA.Attempt, value: input.member.probeCount + 1 }] as const;
  }
  return [{ key: SA.MemberState, value: 'waiting' }] as const;
}

/** Starts the member's workflow unless it is already running (idempotent). */
export async function startMemberWorkflow(client: Client, input: MemberWorkflowInput, taskQueue = config.temporal.taskQueue) {
  return client.workflow.start(memberWorkflow, {
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
  ui?: MemberUiText,
  grantedAt = Date.now(),
  campaign?: GrantedCampaign,
) {
  return client.workflow.signalWithStart(memberWorkflow, {
    ...memberStartOptions(input, taskQueue, ui, campaign),
    signal: grantSignal,
    signalArgs: [{ leaseId, grantedAt, ...(campaign ? { campaign } : {}) }],
  });
}

/** Starts the campaign (§8.2) or wakes it if it runs: members added, configuration changed. */
export async function wakeCampaignWorkflow(client: Client, input: CampaignWorkflowInput, taskQueue = config.temporal.taskQueue) {
  return client.workflow.signalWithStart(campaignWorkflow, {
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

/** Starts deleting a deleted campaign's members unless that already runs (idempotent). */
export async function startPurgeWorkflow(client: Client, input: PurgeMembersInput, taskQueue = config.temporal.taskQueue) {
  return client.workflow.start(purgeMembersWorkflow, {
    workflowId: purgeWorkflowId(input.campaignId),
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    staticSummary: `delete the members of deleted campaign ${input.campaignId}`,
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

/** Starts the webhook dispatcher of this task queue unless it runs (idempotent). */
export async function ensureWebhookDispatcher(client: Client, taskQueue = config.temporal.taskQueue, input: WebhookDispatcherInput = {}): Promise<void> {
  await client.workflow.start(webhookDispatcherWorkflow, {
    workflowId: `${WEBHOOK_DISPATCHER_ID}-${taskQueue}`,
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
}

/** Starts an agent's workflow (POST /api/v2/agents); fails with WorkflowExecutionAlreadyStartedError
 *  when the agent exists. */
export async function startAgentWorkflow(client: Client, input: AgentWorkflowInput, taskQueue = config.temporal.taskQueue) {
  return client.workflow.start(agentWorkflow, {
    workflowId: agentWorkflowId(input.domain, input.name),
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
    typedSearchAttributes: [{ key: SA.DomainId, value: input.domain }],
    staticSummary: `agent ${input.name}@${input.domain}`,
  });
}

/** Starts one run of a template now (`PUT …/execute`); returns its pid. */
export async function startTemplateJob(client: Client, templateId: string, pid: string, taskQueue = config.temporal.taskQueue, endTimeoutMs?: number): Promise<string> {
  await client.workflow.start(templateJobWorkflow, {
    workflowId: templateJobWorkflowId(pid),
    taskQueue,
    args: [{ templateId, ...(endTimeoutMs ? { endTimeoutMs } : {}) }],
  });
  return pid;
}

/** A template's `cron` as a Temporal schedule in `timeZone` (created, replaced, or deleted when
 *  `cron` is empty). A run still waiting for its `end` makes the next one skip. Throws the server's
 *  error for an expression it does not accept. */
export async function syncTemplateSchedule(client: Client, t: { id: string; cron?: string | null }, timeZone: string, taskQueue = config.temporal.taskQueue): Promise<void> {
  const scheduleId = templateScheduleId(t.id);
  await deleteTemplateSchedule(client, t.id);
  if (!t.cron) return;
  await client.schedule.create({
    scheduleId,
    spec: { cronExpressions: [t.cron], timezone: timeZone },
    action: { type: 'startWorkflow', workflowType: templateJobWorkflow, workflowId: templateJobWorkflowId(`${t.id}-cron`), taskQueue, args: [{ templateId: t.id }] },
    policies: { overlap: ScheduleOverlapPolicy.SKIP },
  });
}

export async function deleteTemplateSchedule(client: Client, templateId: string): Promise<void> {
  try {
    await client.schedule.getHandle(templateScheduleId(templateId)).delete();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
}

export const MEMBER_EXPIRY_SWEEP_ID = 'member-expiry-sweep';

/** The five-minute expiry sweep's schedule (created once; the worker calls this at start). */
export async function ensureMemberExpirySweep(client: Client, taskQueue = config.temporal.taskQueue): Promise<void> {
  try {
    await client.schedule.create({
      scheduleId: MEMBER_EXPIRY_SWEEP_ID,
      spec: { intervals: [{ every: '5 minutes' }] },
      action: { type: 'startWorkflow', workflowType: memberExpirySweepWorkflow, workflowId: MEMBER_EXPIRY_SWEEP_ID, taskQueue, args: [] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10 minutes' },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
}
