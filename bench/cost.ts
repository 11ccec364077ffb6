// Benchmark 4 (issue 5): cost per attempt and per sleeping member.
//   npx tsx bench/cost.ts [--members 40] [--sleepers 10000] [--id-index] [--ferret-sync normal]
// Part 1: a campaign of --members members, each called twice (busy after 0 s, maxTryCount 2, retry
// after 1 s) until the campaign completes. Counts Temporal history events of every member workflow
// per attempt and of the campaign workflow per grant (dispatch), and times every activity from the
// member histories (scheduled → started = waiting for a worker slot; started → completed = running).
// Part 2: --sleepers members that had an attempt and wait for their retry (next try in 2 h) get their
// workflows started (as after a first busy call: load, decide "retry wait", store `_readyAt`, sleep).
// Reports the worker's RSS before and after all of them are asleep. On FerretDB 1.24 every `_id`
// lookup scans its table (bench/ferret-queries.ts), so part 2 is only practical with --id-index.
import { temporal } from '@temporalio/proto';
import { memberDocument } from '../api/member-docs';
import { startMemberWorkflow } from '../workflows/start';
import { Campaign, Member } from '../models';
import { campaignWorkflowId, memberWorkflowId } from '../workflows/messages';
import { arg, flag, log, median, sleep, startStack, vmMb, waitFor, type Stack } from './lib/stack';

const ET = temporal.api.enums.v1.EventType;

function ms(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
}

async function historyOf(s: Stack, workflowId: string) {
  return (await s.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
}

async function part1(s: Stack, n: number): Promise<void> {
  const id = await s.createCampaign({ name: 'cost', limit: 10, maxTryCount: 2, intervalTryCount: 1 });
  await s.insertMembers(id, n, { prefix: '38050' });
  const t0 = Date.now();
  await s.start(id);
  await waitFor('the campaign to complete', async () => {
    const d = await Campaign.findById(id, { _cause: 1 }).lean<{ _cause: string }>();
    return d?._cause === 'QUEUE_COMPLETE';
  }, 600_000, 500);
  log(`campaign of ${n} members completed in ${((Date.now() - t0) / 1000).toFixed(0)} s; ${s.sim.calls().length} calls`);
  const members = await Member.find({ dialer: id }, { _id: 1, _probeCount: 1 }).lean<{ _id: unknown; _probeCount: number }[]>();
  let events = 0;
  let attempts = 0;
  const perAttempt: number[] = [];
  const acts = new Map<string, { wait: number[]; run: number[] }>();
  const byType = new Map<string, number>();
  for (const m of members) {
    const h = await historyOf(s, memberWorkflowId(id, String(m._id)));
    events += h.length;
    for (const e of h) {
      const t = ET[e.eventType as number].replace('EVENT_TYPE_', '');
      byType.set(t, (byType.get(t) ?? 0) + 1);
    }
    attempts += m._probeCount;
    perAttempt.push(h.length / Math.max(m._probeCount, 1));
    const scheduled = new Map<string, { type: string; at: number }>();
    const started = new Map<string, number>();
    for (const e of h) {
      const at = ms(e.eventTime as never);
      if (e.eventType === ET.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) scheduled.set(String(e.eventId), { type: e.activityTaskScheduledEventAttributes!.activityType!.name!, at });
      if (e.eventType === ET.EVENT_TYPE_ACTIVITY_TASK_STARTED) started.set(String(e.activityTaskStartedEventAttributes!.scheduledEventId), at);
      if (e.eventType === ET.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
        const sid = String(e.activityTaskCompletedEventAttributes!.scheduledEventId);
        const sch = scheduled.get(sid)!;
        const st = started.get(sid) ?? sch.at;
        const a = acts.get(sch.type) ?? { wait: [], run: [] };
        a.wait.push(st - sch.at);
        a.run.push(at - st);
        acts.set(sch.type, a);
      }
    }
  }
  const camp = await historyOf(s, campaignWorkflowId(id));
  const grants = members.reduce((x, m) => x + m._probeCount, 0);
  const campActs = camp.filter((e) => e.eventType === ET.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED).length;
  const signals = camp.filter((e) => e.eventType === ET.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED).length;
  console.log('\n=== Benchmark 4 (part 1): history events ===');
  console.log(`member workflows: ${events} events for ${attempts} attempts = ${(events / attempts).toFixed(1)} per attempt (median per member ${median(perAttempt).toFixed(1)}; goal ≤ 20)`);
  console.log(`campaign workflow (last run): ${camp.length} events for ${grants} grants = ${(camp.length / grants).toFixed(1)} per dispatch (${campActs} activities, ${signals} signals)`);
  console.log(`member history events per attempt by type: ${[...byType].sort((a, b) => b[1] - a[1]).map(([t, c]) => `${t} ${(c / attempts).toFixed(1)}`).join(', ')}`);
  console.log('activity times from member histories (median ms: waiting for a worker slot / running; count):');
  for (const [type, a] of [...acts].sort((x, y) => median(y[1].run) - median(x[1].run))) {
    console.log(`  ${type.padEnd(14)} ${median(a.wait).toFixed(0).padStart(6)} / ${median(a.run).toFixed(0).padStart(6)}   (${a.run.length})`);
  }
}

async function part2(s: Stack, n: number): Promise<void> {
  const id = await s.createCampaign({ name: 'sleepers', limit: 10, maxTryCount: 3, intervalTryCount: 7200 });
  const next = Date.now() + 2 * 3600_000;
  const ids: string[] = [];
  for (let i = 0; i < n; i += 5000) {
    const docs = [];
    for (let j = i; j < Math.min(n, i + 5000); j++) {
      const d = memberDocument({ name: `Sleeper ${j}`, communications: [{ number: `38066${String(j).padStart(7, '0')}` }] }, id, s.domain);
      // As left by a first busy call: one attempt counted, next try in 2 h, not due for the campaign.
      Object.assign(d, { _probeCount: 1, _nextTryTime: next, _readyAt: next, lastCall: Date.now() - 60_000 });
      (d.communications as { _probe: number; lastCall: number }[])[0]._probe = 1;
      (d.communications as { _probe: number; lastCall: number }[])[0].lastCall = Date.now() - 60_000;
      ids.push(String(d._id));
      docs.push(d);
    }
    await Member.collection.insertMany(docs);
  }
  await sleep(3000);
  const rss0 = vmMb(s.worker.pid, 'VmRSS');
  log(`worker RSS before: ${rss0} MB; starting ${n} member workflows`);
  const t0 = Date.now();
  let next_ = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next_ < ids.length) {
      const memberId = ids[next_++];
      await startMemberWorkflow(s.client, { domain: s.domain, campaignId: id, memberId }, s.taskQueue);
    }
  }));
  log(`started ${n} workflows in ${((Date.now() - t0) / 1000).toFixed(0)} s; waiting for them to fall asleep`);
  // Asleep = its first workflow task and activities are done: the task queue has no backlog and the
  // worker has nothing running. Polled through the member documents' lastModified (set by saveMember).
  let asleep = 0;
  await waitFor(`${n} workflows asleep`, async () => {
    asleep = await Member.countDocuments({ dialer: id, lastModified: { $gt: t0 } });
    log(`  ${asleep} / ${n} asleep (worker RSS ${vmMb(s.worker.pid, 'VmRSS')} MB)`);
    return asleep >= n;
  }, 1_200_000, 10_000);
  const tAsleep = (Date.now() - t0) / 1000;
  await sleep(10_000);
  const rss1 = vmMb(s.worker.pid, 'VmRSS');
  const hwm = vmMb(s.worker.pid, 'VmHWM');
  const running = await s.client.workflow.count(`WorkflowType = "memberWorkflow" AND CampaignId = "${id}" AND ExecutionStatus = "Running"`);
  console.log('\n=== Benchmark 4 (part 2): worker memory with sleeping members ===');
  console.log(`${running.count} member workflows running, all asleep in their retry wait after ${tAsleep.toFixed(0)} s`);
  console.log(`worker RSS: ${rss0} MB before, ${rss1} MB with them asleep (+${rss1 - rss0} MB = ${(((rss1 - rss0) * 1024) / n).toFixed(0)} KB per sleeping member); peak ${hwm} MB`);
}

async function main(): Promise<void> {
  const members = Number(arg('--members', '40'));
  const sleepers = Number(arg('--sleepers', '10000'));
  const s = await startStack({
    idIndex: flag('--id-index'),
    ferretSync: (arg('--ferret-sync', '') || undefined) as 'normal' | 'off' | undefined,
    sim: { rules: { default: { type: 'busy', ringSec: 0 } }, sessionsPerSecond: 5000, maxSessions: 5000 },
  });
  try {
    if (members > 0) await part1(s, members);
    if (sleepers > 0) await part2(s, sleepers);
  } finally {
    await s.close();
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
