// Helpers of the scenario tests (test/*-scenarios.test.ts) on the real stack: start a member the real
// way, wait for its calls, read what was stored, and clean up every workflow a test left running.
import { after, afterEach, before } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { DateTime } from 'luxon';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { Campaign, Member, type CampaignDoc, type MemberDoc } from '../../models';
import { campaignWorkflowId, memberInfoQuery, wakeSignal, type MemberInfo } from '../../workflows/messages';
import { waitFor } from './env';
import { closed, startStack, type Stack } from './stack';
import type { Rule } from '../../simulator';

/** One `_log` entry (§5.8) as the member workflow writes it. */
export interface LogEntry {
  state: string;
  session: string;
  cause: string;
  causeQ850: number;
  talkSec: number;
  callSuccessful: boolean;
  callAttempt: number;
  callNumber: string;
  reservedTime: number;
  callTime: number;
  steps: { data: string }[];
  callback?: { from: string; time: number; data: Record<string, unknown> };
}

export type Stats = Record<'active' | 'callCount' | 'successCall' | 'errorCall' | 'connectedCall' | 'bridgedCall', number>;

export class Scenarios {
  /** Campaigns started by the current test (see cleanup). */
  private campaigns: string[] = [];

  constructor(private readonly stack: Stack) {}

  /** Starts the campaign (signal-with-start, as the API does) and remembers it for cleanup. */
  async startCampaign(campaignId: string): Promise<WorkflowHandle> {
    this.campaigns.push(campaignId);
    return this.stack.startCampaign(campaignId);
  }

  /** Starts a member the real way: its campaign starts and grants it a line. */
  async start(campaignId: string, memberId: string): Promise<WorkflowHandle> {
    await this.startCampaign(campaignId);
    const h = this.stack.memberHandle(campaignId, memberId);
    await waitFor('member workflow started by its campaign', async () => h.describe().then(() => true, () => false));
    return h;
  }

  /** Calls the simulator received for this member. */
  callsTo(memberId: string) {
    return this.stack.sim.calls().filter((c) => c.channelVars.dlr_member_id === memberId);
  }

  /** Waits until the member has made `calls` calls (simulator) and is in `phase` again. */
  async afterCalls(h: WorkflowHandle, memberId: string, calls: number, phase: string, reason?: string): Promise<MemberInfo> {
    await waitFor(`${calls} call(s)`, async () => this.callsTo(memberId).length >= calls);
    return waitFor(`member phase ${phase} after ${calls} call(s)`, async () => {
      const info = await h.query(memberInfoQuery);
      return info.phase === phase && (!reason || info.waitReason === reason) ? info : null;
    });
  }

  async doc(memberId: unknown): Promise<MemberDoc> {
    return (await Member.findById(memberId).lean<MemberDoc>())!;
  }

  /** The attempt log oldest first (`_log` is stored newest first, as v3 does). */
  async log(memberId: unknown): Promise<LogEntry[]> {
    return [...((await this.doc(memberId))._log as LogEntry[])].reverse();
  }

  async stats(campaignId: unknown): Promise<Stats> {
    return (await Campaign.findById(campaignId).lean<CampaignDoc>())!.stats as Stats;
  }

  /**
   * After each test: a campaign whose members all ended is woken (a test may stop its members by
   * other means than the campaign sees) and given a moment to complete; any workflow of the test still running then is terminated once it is idle, so no
   * campaign keeps waking every minute through the long time skips of later tests. Terminating a
   * run with an activity in flight leaks a time-skipping lock in the test server (sdk-java #1138):
   * every later env.sleep would then take real time.
   */
  async cleanup(): Promise<void> {
    for (const id of this.campaigns.splice(0)) {
      const campaign = this.stack.env.client.workflow.getHandle(campaignWorkflowId(id));
      await campaign.signal(wakeSignal).catch(() => undefined);
      await closed(campaign, 3_000).catch(() => undefined);
      const members = await Member.find({ dialer: id }, { _id: 1 }).lean();
      for (const h of [campaign, ...members.map((m) => this.stack.memberHandle(id, String(m._id)))]) {
        const state = await waitFor(`${h.workflowId} idle or closed`, async () => {
          const d = await h.describe().catch(() => null);
          if (!d || d.status.name !== 'RUNNING') return 'closed';
          return !d.raw.pendingActivities?.length && !d.raw.pendingWorkflowTask ? 'idle' : null;
        });
        if (state === 'idle') await h.terminate('test cleanup');
      }
    }
  }
}

export const steps = (e: LogEntry): string[] => e.steps.map((s) => s.data);

/** Activities a workflow scheduled, in order, with their input and the workflow time they were
 *  scheduled at (event times are the test server's skipped clock, unlike activities' Date.now()). */
export async function scheduledActivities(h: WorkflowHandle): Promise<{ type: string; at: number; input: unknown; result?: unknown }[]> {
  const history = (await h.fetchHistory()) as temporal.api.history.v1.IHistory;
  const decode = (p?: temporal.api.common.v1.IPayloads | null) =>
    p?.payloads?.[0]?.data?.length ? JSON.parse(Buffer.from(p.payloads[0].data).toString('utf8')) : undefined;
  const out: { type: string; at: number; input: unknown; result?: unknown }[] = [];
  const byEventId = new Map<string, (typeof out)[number]>();
  for (const e of history.events ?? []) {
    const sched = e.activityTaskScheduledEventAttributes;
    if (sched) {
      const a = { type: sched.activityType?.name ?? '', at: tsToMs(e.eventTime!), input: decode(sched.input) };
      out.push(a);
      byEventId.set(String(e.eventId), a);
    }
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const a = byEventId.get(String(done.scheduledEventId));
      if (a) a.result = decode(done.result);
    }
  }
  return out;
}

/** The local day (start of day, in `zone`) during which the UTC offset next changes after `from`. */
export function nextDstChangeDay(zone: string, from: number): DateTime {
  let day = DateTime.fromMillis(from, { zone }).startOf('day');
  for (let i = 0; i < 400; i++) {
    const next = day.plus({ days: 1 });
    if (next.offset !== day.offset) return day;
    day = next;
  }
  throw new Error(`no DST change in ${zone} within 400 days`);
}

/** The hooks of a scenario test file: one stack for the file (database `db`, simulator `rules`),
 *  and every workflow a test left running cleaned up after it. Fields are set once `before` ran. */
export function scenarioFile(db: string, rules: Rule[]): { stack: Stack; env: Stack['env']; sc: Scenarios } {
  const f = {} as { stack: Stack; env: Stack['env']; sc: Scenarios };
  before(async () => {
    f.stack = await startStack(db, { rules });
    f.env = f.stack.env;
    f.sc = new Scenarios(f.stack);
  });
  afterEach(() => f.sc.cleanup());
  after(() => f.stack?.stop());
  return f;
}
