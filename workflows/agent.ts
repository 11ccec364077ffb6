// One durable workflow per agent: the only owner of the agent's state (§7.1–§7.4). A reservation is
// an Update decided synchronously by this workflow, so an agent is never offered two calls at once,
// whichever campaigns and workers hunt it. Status changes by REST are Updates too. The workflow
// stores the agent document and the agent's events (activities) after each decision, and keeps
// the timers: end of wrap-up and delays, and the deadline of an offer nobody reports on.
import { condition, continueAsNew, getExternalWorkflowHandle, proxyLocalActivities, setHandler, workflowInfo, allHandlersFinished } from '@temporalio/workflow';
import type { AgentActivities, AgentEventInput } from '../activities/types';
import {
  agentConnected,
  agentDialString,
  endOffer,
  newAgentRuntime,
  notOfferable,
  reserveAgent,
  resolveAgentParams,
  setAgentStatus,
  offerDeadline,
  settleIdle,
  statusChangeProblem,
  statusSent,
  type AgentOffer,
  type AgentRuntime,
} from '../rules';
import {
  AGENT_BUSY,
  agentConfigUpdate,
  agentInfoQuery,
  agentRemoveUpdate,
  agentStatusUpdate,
  memberWorkflowId,
  NO_SUCH_PREVIEW,
  offerEventSignal,
  previewDecisionSignal,
  previewUpdate,
  reserveAgentUpdate,
  type AgentConfig,
  type AgentView,
  type AgentWorkflowInput,
  type Reservation,
} from './messages';

const local = proxyLocalActivities<AgentActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
});
/** Waking the campaigns is best effort (they re-check every second): one try, not retried for long. */
const wakeActs = proxyLocalActivities<Pick<AgentActivities, 'wakeCampaigns'>>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 2 },
});

/** An offer neither connected nor ended this long after its ring time is released once its member
 *  workflow is gone (terminated by hand, failed). While that workflow runs, the agent stays
 *  reserved: it may still dial the agent (its worker was down) and tells the agent how it ended. */
const OFFER_GRACE_MS = 60_000;
/** How often the member workflow of an offer is looked at after that, and during a call in progress
 *  (an agent must not stay in a queue call for a member workflow that is gone). */
const MEMBER_CHECK_MS = 60_000;

export async function agentWorkflow(input: AgentWorkflowInput): Promise<void> {
  const { domain, name } = input;
  const id = `${name}@${domain}`;
  let config: AgentConfig = input.config;
  let rt: AgentRuntime = input.carried?.runtime ?? newAgentRuntime();
  let seq = input.carried?.seq ?? 0;
  /** Changes not stored yet; `version` counts them, `saved` is the last one stored. */
  let version = 1;
  let saved = 0;
  let events: AgentEventInput[] = [];
  let removed = false;
  let deleted = false;
  /** The offer that ended last: its member's result status ends the hold (§7.4). */
  let lastOfferId: string | null = null;
  /** When the connected offer's member workflow was last seen running. */
  let memberSeenAt = 0;
  /** Whether the stored document shows the agent free to take a call (campaigns read it there). */
  let freeStored = input.carried ? notOfferable(rt, Date.now()) === null : false;

  const view = (): AgentView => ({
    ...rt, id, domain, name, contact: config.contact, description: config.description ?? '', params: agentParamsOf(config),
  });
  const emit = (type: AgentEventInput['type'], data: Record<string, unknown> = {}) => {
    seq += 1;
    // Unique per agent ever created under this name (a removed agent's name may be used again).
    events.push({ id: `${workflowInfo().workflowId}:${workflowInfo().firstExecutionRunId}:${seq}`, type, at: Date.now(), data });
  };
  const changed = (next: AgentRuntime) => {
    if (next.status !== rt.status || next.state !== rt.state) emit('status', { status: next.status, state: next.state });
    rt = next;
    version += 1;
    return version;
  };
  const stored = (v: number) => condition(() => saved >= v);
  /** When the offer's member workflow is next looked at (OFFER_GRACE_MS, MEMBER_CHECK_MS). */
  const memberCheckAt = (o: AgentOffer) =>
    o.connectedAt === null ? Math.max(offerDeadline(o, OFFER_GRACE_MS), memberSeenAt + MEMBER_CHECK_MS) : Math.max(o.connectedAt, memberSeenAt) + MEMBER_CHECK_MS;

  if (!input.carried && (input.initial?.status || input.initial?.state)) changed(setAgentStatus(rt, input.initial, Date.now()));

  setHandler(
    reserveAgentUpdate,
    (req): Reservation => {
      if (rt.offer?.offerId !== req.offerId) {
        const params = resolveAgentParams(agentParamsOf(config), req.overrides);
        const preview = req.previewSec ? { until: Date.now() + req.previewSec * 1000, decision: null } : undefined;
        changed(reserveAgent(rt, { offerId: req.offerId, campaignId: req.campaignId, memberId: req.memberId, at: Date.now(), params, ...(preview ? { preview } : {}) }, Date.now(), req.statsDay));
        emit('offered', { offerId: req.offerId, campaignId: req.campaignId, memberId: req.memberId, ...(req.offered ?? {}), ...(preview ? { preview: { until: preview.until } } : {}) });
      }
      const dial = agentDialString(config.contact, domain);
      return { offerId: req.offerId, agent: id, name, contact: 'dial' in dial ? dial.dial : config.contact, params: rt.offer!.params };
    },
    {
      validator: (req) => {
        if (removed) throw new Error('the agent was removed');
        if (rt.offer?.offerId === req.offerId) return;
        const dial = agentDialString(config.contact, domain);
        if ('problem' in dial) throw new Error(`agent ${id} cannot be offered a call: contact ${dial.problem}`);
        const why = notOfferable(rt, Date.now());
        if (why) throw new Error(`agent ${id} cannot be offered a call: ${why}`);
      },
      description: 'Reserves the agent for one member (§7.3); rejected unless the agent can take a call now.',
    },
  );
  setHandler(
    offerEventSignal,
    (e) => {
      if (e.kind === 'status-sent') {
        if (e.offerId === lastOfferId) changed(statusSent(rt, Date.now()));
        return;
      }
      if (!rt.offer || rt.offer.offerId !== e.offerId) return;
      const offer = rt.offer;
      if (e.kind === 'connected') {
        changed(agentConnected(rt, e.offerId, Date.now()));
        emit('connected', { offerId: offer.offerId, campaignId: offer.campaignId, memberId: offer.memberId });
        return;
      }
      lastOfferId = offer.offerId;
      changed(endOffer(rt, e.outcome, Date.now()));
      emit('ended', { offerId: offer.offerId, campaignId: offer.campaignId, memberId: offer.memberId, outcome: e.outcome.kind, ...('cause' in e.outcome ? { cause: e.outcome.cause } : {}) });
      if (rt.readyReason === 'wrap-up') emit('wrap-up-started', { until: rt.readyAt, campaignId: offer.campaignId, memberId: offer.memberId });
    },
    { description: 'The offered call: the agent answered, or the offer ended with its outcome (§7.4).' },
  );
  setHandler(
    agentStatusUpdate,
    async (change) => {
      const v = changed(setAgentStatus(rt, change, Date.now()));
      await stored(v);
      return view();
    },
    {
      validator: (change) => {
        const why = statusChangeProblem(rt, change);
        if (why) throw new Error(why);
      },
      description: 'Status/state by REST or the agent application (§7.1).',
    },
  );
  setHandler(
    agentConfigUpdate,
    async (patch) => {
      config = { ...config, ...patch };
      version += 1;
      const v = version;
      await stored(v);
      return view();
    },
    { description: 'Contact, description and parameters (§7.2).' },
  );
  setHandler(
    agentRemoveUpdate,
    async () => {
      removed = true;
      await condition(() => deleted);
      return { removed: true as const };
    },
    {
      validator: () => {
        if (rt.offer) throw new Error(AGENT_BUSY);
      },
      description: 'Removes the agent: its document is deleted and the workflow ends.',
    },
  );
  setHandler(
    previewUpdate,
    async (d) => {
      const offer = rt.offer!;
      changed({ ...rt, offer: { ...offer, preview: { ...offer.preview!, decision: d.decision } } });
      emit('preview-decided', { offerId: offer.offerId, campaignId: offer.campaignId, memberId: offer.memberId, decision: d.decision });
      await getExternalWorkflowHandle(memberWorkflowId(offer.campaignId, offer.memberId)).signal(previewDecisionSignal, d);
      return view();
    },
    {
      validator: (d) => {
        const p = rt.offer?.preview;
        if (!rt.offer || rt.offer.offerId !== d.offerId || !p) throw new Error(`${NO_SUCH_PREVIEW}: offerId ${d.offerId}`);
        if (p.decision !== null) throw new Error(`${NO_SUCH_PREVIEW}: already decided (${p.decision})`);
      },
      description: 'Preview: the agent accepts, skips or reschedules the member offered to it.',
    },
  );
  setHandler(agentInfoQuery, view);

  async function wakeCampaigns(): Promise<void> {
    try {
      await wakeActs.wakeCampaigns({ domain, name });
    } catch {
      // Not told: each campaign finds the agent at its next re-check.
    }
  }

  for (;;) {
    if (removed) {
      await local.removeAgent({ id });
      deleted = true;
      await condition(allHandlersFinished);
      return;
    }
    if (saved < version || events.length) {
      const v = version;
      const batch = events;
      events = [];
      const agent = view();
      await local.saveAgent({ domain, name, agent, events: batch });
      saved = Math.max(saved, v);
      // Became free (Waiting after wrap-up or a delay, Available, released, logged in): the
      // campaigns of its tiers look again now instead of at their next re-check.
      const free = notOfferable(agent, Date.now()) === null;
      if (free && !freeStored) await wakeCampaigns();
      freeStored = free;
      continue;
    }
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      if (saved >= version && !events.length && !removed) {
        return continueAsNew<typeof agentWorkflow>({ domain, name, config, carried: { runtime: rt, seq } });
      }
      continue;
    }
    const now = Date.now();
    const timers: number[] = [];
    // End of wrap-up or a delay: tell the agent's application, restart the idle clock.
    if (rt.readyReason && !rt.offer) timers.push(rt.readyAt);
    // An offer nobody reports on, a call in progress: is its member workflow still there?
    if (rt.offer) timers.push(memberCheckAt(rt.offer));
    const due = timers.length ? Math.min(...timers) : null;
    const v = version;
    const woken = () => version !== v || events.length > 0 || removed;
    // Whether a timer is started must not depend on the clock: workflow time moves on when a local
    // activity completes, and a replay (after a worker crash) sees other times there. So a timer
    // for anything due, even when it is due already (found by the fault suite with agents).
    if (due === null) await condition(woken);
    else await condition(woken, Math.max(1, due - now));
    if (version !== v || events.length || removed) continue;
    const at = Date.now();
    if (rt.offer && at >= memberCheckAt(rt.offer)) {
      const offer = rt.offer;
      const running = await local.memberRunning({ campaignId: offer.campaignId, memberId: offer.memberId });
      memberSeenAt = Date.now();
      if (!running && rt.offer?.offerId === offer.offerId) {
        // Released without penalty.
        const cause = offer.connectedAt === null ? 'OFFER_TIMEOUT' : 'MEMBER_GONE';
        changed(endOffer(rt, { kind: 'released', cause }, Date.now()));
        emit('ended', { offerId: offer.offerId, campaignId: offer.campaignId, memberId: offer.memberId, outcome: 'released', cause });
      }
    } else if (rt.readyReason && !rt.offer && at >= rt.readyAt) {
      const reason = rt.readyReason;
      changed(settleIdle({ ...rt, readyReason: null }, at));
      if (reason === 'wrap-up') emit('wrap-up-ended', {});
    }
  }
}

function agentParamsOf(c: AgentConfig) {
  const { callTimeout, wrapUpTime, maxNoAnswer, busyDelayTime, rejectDelayTime, noAnswerDelayTime } = c;
  return Object.fromEntries(
    Object.entries({ callTimeout, wrapUpTime, maxNoAnswer, busyDelayTime, rejectDelayTime, noAnswerDelayTime }).filter(([, v]) => v !== undefined),
  );
}
