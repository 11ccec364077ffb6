// One workflow per campaign (spec §8): its state (Work, Sleep, ProcessStop, End), the calendar, and
// dispatch — it holds at most min(limit, lines) leases and grants them to ready members in the
// campaign's order. The ready queue itself lives in Mongo, so a campaign of a million members costs
// this workflow no more than one of a thousand; members that were never dialled have no workflow.
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { AgentActivities, CampaignActivities, MemberActivities, PredictiveActivities } from '../activities/types';
import { calendarOpensAt, calendarState, localTime, maxResources, nextDayStart, typeNotImplemented, type CampaignRules } from '../rules';
import { awaitingAgent, decideCalls, newPacing, observe, onCallReport, onGrant, onRelease, pacingView, withSettings, type Pacing, type PacingView, type PredictiveRules, type TierAgents } from '../rules/predictive';
import {
  CAMPAIGN_STATE,
  agentFreeSignal,
  callReportSignal,
  campaignEditedSignal,
  memberWorkflowId,
  campaignInfoQuery,
  releaseSignal,
  stopSignal,
  wakeSignal,
  type CampaignStateName,
  type CampaignWorkflowInput,
  type Lease,
} from './messages';

const acts = proxyActivities<CampaignActivities>({
  startToCloseTimeout: '60 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
});
/** The campaign's configuration, read every round: a local activity (one history event, no
 *  task-queue round trip). */
const reads = proxyLocalActivities<Pick<MemberActivities, 'loadCampaign'> & Pick<AgentActivities, 'agentCounts'>>({
  startToCloseTimeout: '60 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
});
/** Predictive: the pacing state, read once per run and stored (rate-limited) for the API. */
const pacingActs = proxyLocalActivities<Pick<PredictiveActivities, 'loadPacing' | 'savePacing'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
});
/** The claim reads the ready window: an index walk on MongoDB, but a scan of the whole members
 *  collection on FerretDB v1 (minutes at a million rows, see activities/claim.ts). It heartbeats
 *  while it reads, so a lost worker is still noticed within the heartbeat timeout. */
const claimActs = proxyActivities<Pick<CampaignActivities, 'claimAndGrant'>>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
});

/** Most members claimed per activity call (one Mongo findOneAndUpdate each). */
const CLAIM_BATCH = 50;
/** A lease not given back by then is checked (ring + a long call; extended while the member lives). */
const LEASE_TTL_MS = 10 * 60_000;
/** Re-check even without a wake-up (members fed by the API, eternal queues). */
const IDLE_RECHECK_MS = 60_000;
const ETERNAL_RECHECK_MS = 5_000;
/** Progressive: with every agent busy, look again this often (§2.3: 1 s). */
const AGENT_RECHECK_MS = 1_000;
/** Predictive: the pacing (abandon counters) is stored at most this often, and when its mode changes. */
const PACING_SAVE_MS = 10_000;

export async function campaignWorkflow(input: CampaignWorkflowInput): Promise<{ state: CampaignStateName; cause: string }> {
  const { campaignId, domain } = input;
  const leases = new Map<string, Lease>(Object.entries(input.carried?.leases ?? {}));
  let stopping = input.carried?.stopping ?? false;
  let dialled = input.carried?.dialled ?? 0;
  let state: CampaignStateName = input.carried?.state ?? 'Idle';
  let cause = 'INIT';
  let limit = 0;
  let wake = false;
  /** Wake signals received by this run: the claim's view of the fresh queue is kept while it is unchanged. */
  let wakes = 0;
  /** Set by the wake signal only (members added, configuration edited): a finishing campaign looks again. */
  let woken = false;
  /** autoResetStats: the calendar day the counters belong to, and when it ends. */
  let statsDay = input.carried?.statsDay ?? null;
  let dayChangeAt = Infinity;
  // A member is granted while its claim goes on, so it may give the lease back before the claim
  // returns it: such a release is remembered and that lease is not taken up (else it would be held
  // until its 10-min deadline, delaying QUEUE_COMPLETE).
  const earlyReleases = new Set<string>();
  /** Lease ids of the claim in progress. */
  let claiming: Set<string> | null = null;
  /** The pending re-check timer of the pauses (recheckBy). */
  let recheck: { at: number; fired: boolean; scope: CancellationScope } | null = null;
  /** Predictive: the pacing state (null until read or made), and what was last shown and stored. */
  let pacing: Pacing | null = input.carried?.pacing ?? null;
  let pacingRead = pacing !== null;
  let pacingShown: Pick<PacingView, 'mode' | 'reason'> | null = null;
  let pacingLatest: Pick<PacingView, 'mode' | 'reason'> | null = null;
  let pacingSavedAt = 0;
  /** The rules the last round read (JSON), to tell the members holding a grant when they change. */
  let rulesSeen = input.carried?.rules ?? null;

  const on = { description: 'Members added, configuration edited or start pressed: look again now.' };
  setHandler(
    wakeSignal,
    () => {
      wake = true;
      woken = true;
      wakes++;
    },
    on,
  );
  setHandler(
    agentFreeSignal,
    (free) => {
      // Not `woken`: a free agent adds no member, so a completing campaign still completes.
      wake = true;
      // Predictive: answered members waiting for an agent hunt now, not at their next look.
      for (const leaseId of pacing ? awaitingAgent(pacing) : []) {
        const lease = leases.get(leaseId);
        if (lease) getExternalWorkflowHandle(memberWorkflowId(campaignId, lease.memberId)).signal(agentFreeSignal, free).catch(() => undefined);
      }
    },
    { description: 'An agent of the tiers became free: look again now; answered members waiting for an agent hunt now.' },
  );
  setHandler(
    stopSignal,
    () => {
      stopping = true;
      wake = true;
    },
    { description: 'Stop (spec §8.2): no new calls; calls in progress finish; then End with QUEUE_STOP.' },
  );
  setHandler(
    releaseSignal,
    ({ leaseIds }) => {
      for (const leaseId of leaseIds) {
        if (dropLease(leaseId)) wake = true;
        else if (claiming?.has(leaseId)) earlyReleases.add(leaseId);
      }
    },
    { description: 'Members give their lines back; unknown lease ids are ignored.' },
  );
  setHandler(
    callReportSignal,
    ({ leaseId, kind, at }) => {
      if (pacing) pacing = onCallReport(pacing, leaseId, kind, at / 1000);
      // An answer or an abandon changes what the pacing decides: look again now.
      wake = true;
    },
    { description: 'Predictive: a member reports its call (placed, live, bridged, abandoned, machine) to the pacing.' },
  );

  /** The members holding a grant got the rules of the round that granted it: after an edit they
   *  read them again before they dial (an edit wakes the campaign, so this round follows it at once). */
  function tellIfEdited(camp: CampaignRules): void {
    const rules = JSON.stringify(camp);
    if (rulesSeen !== null && rules !== rulesSeen) {
      for (const lease of leases.values()) {
        getExternalWorkflowHandle(memberWorkflowId(campaignId, lease.memberId)).signal(campaignEditedSignal).catch(() => undefined);
      }
    }
    rulesSeen = rules;
  }

  /** A lease given back or found free; the pacing learns how its call ended. */
  function dropLease(leaseId: string): boolean {
    if (!leases.delete(leaseId)) return false;
    if (pacing) pacing = onRelease(pacing, leaseId, Date.now() / 1000);
    return true;
  }
  setHandler(campaignInfoQuery, () => ({ state, cause, leases: leases.size, limit, dialled }), {
    description: 'State, cause, lines held, effective limit and members granted so far.',
  });

  async function enter(next: CampaignStateName, nextCause: string, action: string): Promise<void> {
    if (state === next && cause === nextCause) return;
    state = next;
    cause = nextCause;
    await acts.setCampaignState({
      campaignId,
      state: CAMPAIGN_STATE[next],
      cause: nextCause,
      // §8.2: `active` means "should be running" — true while working or sleeping.
      active: next === 'Work' || next === 'Sleep',
      action,
    });
  }

  /** Waits until `ms` passes, something wakes the campaign, or the earliest lease deadline; then
   *  checks the leases past their deadline: freed if their member no longer holds them, else extended. */
  async function pause(ms: number, summary: string): Promise<void> {
    const now = Date.now();
    const at = Math.max(Math.min(...[...leases.values()].map((l) => l.deadline), now + ms, dayChangeAt), now + 1);
    const timer = recheckBy(at, summary);
    await condition(() => wake || timer.fired);
    const due = [...leases].filter(([, lease]) => lease.deadline <= Date.now());
    for (const [leaseId, lease] of due) {
      const { held } = await acts.checkLease({ campaignId, memberId: lease.memberId, leaseId });
      if (!held) dropLease(leaseId);
      else if (leases.has(leaseId)) lease.deadline = Date.now() + LEASE_TTL_MS;
    }
  }

  /** The re-check timer of the pauses: one due by `at`. A pending one due no later is kept (a
   *  campaign woken before it looks again once more when it fires, which costs one round) instead
   *  of a timer started and cancelled every round: two history events, and a condition with a
   *  timeout is ~15 promises, each a stack trace in the SDK's promise hook. */
  function recheckBy(at: number, summary: string): { at: number; fired: boolean } {
    if (recheck && !recheck.fired && recheck.at <= at) return recheck;
    recheck?.scope.cancel();
    const timer = { at, fired: false, scope: new CancellationScope() };
    void timer.scope.run(() => sleep(at - Date.now(), { summary })).then(() => void (timer.fired = true), () => undefined);
    recheck = timer;
    return timer;
  }

  /** Claims up to `n` ready members in the campaign's order and grants each a lease. */
  async function grantFreeLines(camp: CampaignRules, n: number): Promise<{ filled: boolean; nextReadyAt: number | null; openMembers: number }> {
    const leaseIds = Array.from({ length: n }, () => uuid4());
    claiming = new Set(leaseIds);
    const res = await claimActs.claimAndGrant({
      campaignId, campaignName: camp.name, domain, leaseIds, membersStrategy: camp.membersStrategy, activeLeases: leases.size, now: Date.now(),
      campaign: { rules: camp }, generation: `${workflowInfo().runId}:${wakes}`,
    });
    claiming = null;
    const deadline = Date.now() + LEASE_TTL_MS;
    for (const g of res.granted) {
      if (earlyReleases.delete(g.leaseId)) wake = true; // already given back
      else {
        leases.set(g.leaseId, { memberId: g.memberId, deadline });
        if (pacing) pacing = onGrant(pacing, g.leaseId, Date.now() / 1000);
      }
    }
    earlyReleases.clear();
    dialled += res.granted.length;
    return { filled: res.granted.length === n, nextReadyAt: res.nextReadyAt, openMembers: res.openMembers };
  }

  /** §8.3 `autoResetStats`: at the calendar's day change the counters start again from zero (the
   *  pause wakes the campaign then, working or sleeping). The day whose counters start now, if any
   *  (sync: most rounds have nothing to store, and an async call costs promises all the same). */
  function statsDayToStart(camp: CampaignRules, now: number): string | null {
    if (!camp.autoResetStats) {
      dayChangeAt = Infinity;
      return null;
    }
    const day = localTime(now, camp.calendar.timeZone).day;
    dayChangeAt = nextDayStart(camp.calendar.timeZone, now);
    if (day === statsDay) return null;
    statsDay = day;
    return day;
  }

  /** Predictive (§7.5, rules/predictive.ts): how many calls to place ahead of the free agents;
   *  the campaign shows (Temporal UI) and stores (API `pacing`) whether and why it dials progressively. */
  async function pace(camp: CampaignRules, r: PredictiveRules, agents: TierAgents): Promise<number> {
    if (!pacingRead) {
      const stored = await pacingActs.loadPacing(campaignId);
      // Calls of an earlier run are over: their leases are not this run's.
      pacing = stored ? { ...stored, calls: Object.fromEntries(Object.entries(stored.calls).filter(([id]) => leases.has(id))) } : null;
      pacingRead = true;
    }
    const now = Date.now();
    const kept = withSettings(pacing ?? newPacing(r), r);
    const d = decideCalls(kept, observe(kept, r, agents, camp.agentParams?.wrapUpTime ?? 0, now / 1000));
    pacing = d.pacing;
    pacingLatest = { mode: d.mode, reason: d.reason };
    await showPacing(pacingLatest, now);
    return d.calls;
  }

  async function showPacing(shown: Pick<PacingView, 'mode' | 'reason'>, now: number, force = false): Promise<void> {
    if (!pacing) return;
    // A new mode is shown at once; a new reason (its counts change with every call) or new abandon
    // counts at most every PACING_SAVE_MS.
    const modeChanged = pacingShown?.mode !== shown.mode;
    if (!force && !modeChanged && now - pacingSavedAt < PACING_SAVE_MS) return;
    const view = pacingView(pacing, shown.mode, shown.reason, now);
    pacingShown = shown;
    pacingSavedAt = now;
    setCurrentDetails(pacingDetails(view));
    await pacingActs.savePacing({ campaignId, state: pacing, view });
  }

  /** Calls in progress finish (their members give the leases back), then the campaign ends. With
   *  `unlessWoken`, a wake-up meanwhile (members posted while the list ran out) cancels the end: null. */
  async function drainAndEnd(
    endCause: string, action: string, final: CampaignStateName = 'End', unlessWoken = false,
  ): Promise<{ state: CampaignStateName; cause: string } | null> {
    const reopened = () => unlessWoken && woken;
    while (leases.size > 0 && !reopened()) {
      wake = false;
      await pause(IDLE_RECHECK_MS, `${endCause}: waiting for ${leases.size} call(s) to finish`);
    }
    if (reopened()) return null;
    // The abandon counters of the last calls are kept for the next run and the API.
    if (pacingLatest) await showPacing(pacingLatest, Date.now(), true);
    await enter(final, endCause, action);
    await condition(allHandlersFinished);
    // A wake-up during the last write: look again (after this task a wake-up starts a new run).
    return reopened() ? null : { state, cause };
  }

  for (;;) {
    // Cleared before looking, so a wake-up that arrives while we look is not lost.
    wake = false;
    woken = false;
    const camp: CampaignRules | null = await reads.loadCampaign(campaignId);
    if (!camp) return { state: 'End', cause: 'NOT_FOUND' };
    tellIfEdited(camp);
    if (stopping) {
      await enter('ProcessStop', 'QUEUE_STOP', 'Stop');
      return (await drainAndEnd('QUEUE_STOP', 'Stop'))!;
    }
    // A type that cannot dial yet (stored before the API refused it): state Error, the history
    // entry says why; no member is granted a line.
    const unbuilt = typeNotImplemented(camp.type);
    if (unbuilt) return (await drainAndEnd('QUEUE_ERROR', unbuilt, 'Error'))!;
    const now = Date.now();
    const day = statsDayToStart(camp, now);
    if (day) await acts.startStatsDay({ campaignId, day });
    const cal = calendarState(camp.calendar, now);
    if (cal === 'expired') {
      await enter('ProcessStop', 'QUEUE_EXPIRE', 'Expired');
      return (await drainAndEnd('QUEUE_EXPIRE', 'Expired'))!;
    }
    if (cal !== 'working') {
      // §8.3: sleep outside working hours (calls in progress finish), wake when the calendar opens.
      await enter('Sleep', 'QUEUE_SLEEP', 'Sleeping');
      const opens = calendarOpensAt(camp, now);
      await pause((opens ?? now + 24 * 3600_000) - now, opens ? `outside working hours until ${new Date(opens).toISOString()}` : 'outside working hours');
      continue;
    }
    // Most rounds are working already: no call (an async call costs promises even when it returns at once).
    if (state !== 'Work' || cause !== 'QUEUE_HUNTING') await enter('Work', 'QUEUE_HUNTING', 'Start');

    limit = Math.min(camp.limit, maxResources(camp.resources));
    const progressive = camp.type === 'Progressive Dialer';
    if (progressive) {
      // §2.3: one more call only while `active < logged` and an agent is available.
      const agents = await reads.agentCounts({ domain, campaignId, tiers: camp.agents ?? [], now: Date.now() });
      limit = Math.min(limit, agents.logged, leases.size + agents.available);
    }
    if (camp.predictive) {
      const agents = await reads.agentCounts({ domain, campaignId, tiers: camp.agents ?? [], now: Date.now() });
      limit = Math.min(limit, leases.size + (await pace(camp, camp.predictive, agents)));
    }
    const free = limit - leases.size;
    let nextReadyAt: number | null = null;
    if (free > 0) {
      const res = await grantFreeLines(camp, Math.min(free, CLAIM_BATCH));
      if (res.filled) continue; // maybe more ready members
      nextReadyAt = res.nextReadyAt;
      if (res.openMembers === 0 && !camp.eternalQueue) {
        // §8.2/§8.4: nothing left to call (unless members are posted before the last call ends).
        const ended = await drainAndEnd(dialled === 0 ? 'NOT_FOUND_MEMBER' : 'QUEUE_COMPLETE', 'Complete', 'End', true);
        if (ended) return ended;
        continue;
      }
    }
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof campaignWorkflow>({
        campaignId, domain, carried: {
          leases: Object.fromEntries(leases), stopping, dialled, state, statsDay, ...(pacing ? { pacing } : {}), ...(rulesSeen ? { rules: rulesSeen } : {}),
        },
      });
    }
    const recheck = (progressive || camp.predictive) && free <= 0 ? AGENT_RECHECK_MS : camp.eternalQueue ? ETERNAL_RECHECK_MS : IDLE_RECHECK_MS;
    const until = Math.min(nextReadyAt ?? Infinity, Date.now() + recheck);
    await pause(until - Date.now(), free > 0 ? 'no member ready' : `all ${limit} line(s) busy`);
  }
}

/** The Temporal UI's current details of a predictive campaign: its pacing and abandon rates. */
function pacingDetails(v: PacingView): string {
  const rows = v.abandon.map((a) => `| ${a.label} | ${a.abandoned} | ${a.live} | ${(100 * a.rate).toFixed(1)} % |`);
  return [
    `**Pacing: ${v.mode}**${v.reason ? ` — ${v.reason}` : ''}`,
    '',
    `Abandon cap ${(100 * v.capRate).toFixed(1)} %`,
    '',
    '| window | abandoned | live answers | rate |',
    '|---|---|---|---|',
    ...rows,
  ].join('\n');
}
