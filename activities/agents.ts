// Activities of the agent workflow (its document and events: it is their only writer) and the
// hunter that reserves an agent for a member (§7.3) by asking the agents' workflows.
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { Agent, AgentEvent, agentId, storedEventData, type AgentDoc } from '../models/agent';
import { isDuplicateKeyError } from '../lib/db';
import { Campaign } from '../models/campaign';
import { busyTierAgent, huntOrder, isLogged, notOfferable, statsOfDay, tierList, type BusyTierAgent, type TierEntry } from '../rules';
import {
  agentFreeSignal, agentInfoQuery, agentWorkflowId, CAMPAIGN_STATE, campaignWorkflowId, memberWorkflowId, reserveAgentUpdate, type Reservation,
} from '../workflows/messages';
import type { ActivityDeps } from './deps';
import type { AgentActivities, HuntInput } from './types';

/** One reservation Update waits this long at most: an agent workflow nobody can run now (its worker
 *  draining, the server slow) must not hold the hunt, nor a worker's graceful shutdown. The activity
 *  fails and is retried with the same offerId, which the agent that took it answers again. */
const RESERVE_WAIT_MS = 10_000;

/** The agent's events, once each (a retry after a crash leaves those already stored as they were). */
async function recordAgentEvents(domain: string, name: string, events: Parameters<AgentActivities['saveAgent']>[0]['events']): Promise<void> {
  // The stream's cursor: insertion order (ms, then position in the batch).
  const base = Date.now() * 1000;
  try {
    await AgentEvent.insertMany(
      events.map((e, i) => ({ _id: e.id, domain, agent: agentId(domain, name), type: e.type, at: e.at, seq: base + i, data: storedEventData(e.data) })),
      { ordered: false },
    );
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
}

export function createAgentActivities(deps: ActivityDeps): AgentActivities {
  return {
    async saveAgent({ domain, name, agent, events }) {
      const { id: _id, ...fields } = agent;
      // The events first: whoever reads the agent's new state finds the events that led to it.
      if (events.length) await recordAgentEvents(domain, name, events);
      await Agent.replaceOne({ _id: agentId(domain, name) }, { ...fields, _id: agentId(domain, name), domain, name, updatedAt: Date.now() }, { upsert: true });
    },

    async removeAgent({ id }) {
      await Agent.deleteOne({ _id: id });
    },

    async huntAgent(i: HuntInput): Promise<Reservation | null> {
      const ctx = Context.current();
      return huntAgent(deps, i, Date.now(), ctx.cancellationSignal, ctx.info.attempt > 1);
    },

    async memberRunning({ campaignId, memberId }) {
      try {
        return (await deps.client.workflow.getHandle(memberWorkflowId(campaignId, memberId)).describe()).status.name === 'RUNNING';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },

    async wakeCampaigns({ domain, name }) {
      // The domain's working campaigns (an index lookup on `domain`; a domain has few campaigns),
      // then the tiers in memory: `agents` mixes names and {name, level}, no index serves it.
      const docs = await Campaign.find({ domain, state: CAMPAIGN_STATE.Work }, { agents: 1 }).lean<{ _id: unknown; agents?: TierEntry[] }[]>();
      const mine = docs.filter((d) => tierList(d.agents).some((t) => t.name === name));
      let woken = 0;
      for (const d of mine) {
        try {
          await deps.client.workflow.getHandle(campaignWorkflowId(String(d._id))).signal(agentFreeSignal, { agent: name });
          woken += 1;
        } catch (err) {
          // Ended meanwhile: nothing to wake. Anything else: its 1-s re-check finds the agent.
          if (!(err instanceof WorkflowNotFoundError)) deps.log.warn({ campaignId: String(d._id), agent: name, err: String(err) }, 'agent-free signal not delivered; the campaign re-checks on its own');
        }
      }
      return woken;
    },

    async agentCounts({ domain, campaignId, tiers, now }) {
      if (!tiers.length) return { available: 0, logged: 0, busy: [] };
      const docs = await Agent.find({ domain, name: { $in: tiers.map((t) => t.name) } }, { status: 1, state: 1, offer: 1, readyAt: 1, readyReason: 1 }).lean<AgentDoc[]>();
      return {
        available: docs.filter((d) => notOfferable(d, now) === null).length,
        logged: docs.filter((d) => isLogged(d.status)).length,
        busy: docs.map((d) => busyTierAgent(d, campaignId, now)).filter((b): b is BusyTierAgent => b !== null),
      };
    },
  };
}

/** Tries the campaign's agents that look free in the read model, in §7.3 order; each agent's
 *  workflow decides (its validator refuses one that is no longer free, and the next is tried). */
export async function huntAgent(
  deps: Pick<ActivityDeps, 'client' | 'log'>, i: HuntInput, now = Date.now(), cancelled?: AbortSignal, retry = false,
): Promise<Reservation | null> {
  const levels = new Map(i.tiers.map((t) => [t.name, t.level]));
  if (!levels.size) return null;
  const docs = await Agent.find({ domain: i.domain, name: { $in: [...levels.keys()] } }).lean<AgentDoc[]>();
  // A retry of this activity: the agent already reserved for this offer answers again. Its document
  // may not show it yet, so a retry asks the agents' workflows (an agent reserved by a lost answer
  // would otherwise wait for this member workflow to end).
  const holds = async (d: AgentDoc) =>
    d.offer?.offerId === i.offerId ||
    (retry && (await deps.client.workflow.getHandle(agentWorkflowId(i.domain, d.name)).query(agentInfoQuery).then((v) => v.offer?.offerId === i.offerId, () => false)));
  const mine = (await Promise.all(docs.map(async (d) => ((await holds(d)) ? d : null)))).filter((d): d is AgentDoc => d !== null);
  const free = docs.filter((d) => notOfferable(d, now) === null);
  const order = [
    ...mine,
    ...huntOrder(free.map((d) => ({ doc: d, name: d.name, level: levels.get(d.name) ?? 1, stats: statsOfDay(d.stats?.[i.campaignId], i.statsDay) })), i.strategy, Math.random).map((c) => c.doc),
  ];
  const request = {
    offerId: i.offerId, campaignId: i.campaignId, memberId: i.memberId, overrides: i.overrides, offered: i.offered,
    ...(i.previewSec ? { previewSec: i.previewSec } : {}), ...(i.statsDay ? { statsDay: i.statsDay } : {}),
  };
  for (const d of order) {
    const handle = deps.client.workflow.getHandle(agentWorkflowId(i.domain, d.name));
    const reserve = () => deps.client.withDeadline(Date.now() + RESERVE_WAIT_MS, () => handle.executeUpdate(reserveAgentUpdate, { args: [request] }));
    try {
      return await (cancelled ? deps.client.withAbortSignal(cancelled, reserve) : reserve());
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError) continue;
      throw err;
    }
  }
  return null;
}
