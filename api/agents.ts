// Agents of a domain (spec §7.1–§7.2): the directory, status/state by REST, and the event stream
// for agent applications. Every change is an Update to the agent's workflow, which stores the
// document; the routes only read it.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { Agent, AGENT_NAME_RE, agentCreateSchema, agentId, agentStatsSchema, agentStatusSchema, agentUpdateSchema, previewDecisionSchema, type AgentDoc } from '../models/agent';
import {
  AGENT_BUSY,
  NO_SUCH_PREVIEW,
  previewUpdate,
  agentConfigUpdate,
  agentRemoveUpdate,
  agentStatusUpdate,
  agentWorkflowId,
  type AgentView,
} from '../workflows/messages';
import { startAgentWorkflow } from '../workflows/start';
import { domainOf } from './auth';
import type { RouteDeps } from './deps';
import { badRequest, HttpError, notFound, objectBody, sendData } from './http';
import { runUpdate } from '../services/workflows';
import { findDialer } from './dialers';
import { agentDialString, emptyAgentStats, localTime, statsOfDay, tierList, type TierEntry } from '../rules';
import { loadCampaignRules } from '../models';

import { agentEventStream } from './agent-events';

const P = '/api/v2/agents';

/** The stored agent as clients see it (`id` = `<name>@<domain>`). */
export function publicAgent(d: AgentDoc | AgentView): Record<string, unknown> {
  const { _id, idleSince: _idle, breakSince: _break, ...rest } = d as AgentDoc & { id?: string };
  return { ...rest, id: _id ?? (d as AgentView).id };
}

/** A domain's agent dials only its own users (rules agentDialString). */
function checkContact(contact: string | undefined, domain: string): void {
  const dial = contact === undefined ? null : agentDialString(contact, domain);
  if (dial && 'problem' in dial) throw badRequest(`contact: ${dial.problem}`);
}

function nameParam(ctx: Context): string {
  const name = String(ctx.params.name ?? '');
  if (!AGENT_NAME_RE.test(name)) throw badRequest('name: must be an extension: letters, digits, _ . - (at most 64)');
  return name;
}

export function agentRoutes(router: Router, deps: RouteDeps): void {
  const update = async <R>(ctx: Context, fn: (h: ReturnType<RouteDeps['client']['workflow']['getHandle']>) => Promise<R>): Promise<R> => {
    const domain = domainOf(ctx, { required: true })!;
    const name = nameParam(ctx);
    const out = await runUpdate(deps.client, deps.updateTimeoutMs, () => fn(deps.client.workflow.getHandle(agentWorkflowId(domain, name))));
    if (out.ok) return out.value;
    if (out.kind === 'not-found') throw notFound('agent not found');
    throw new HttpError(out.message.includes(AGENT_BUSY) || out.message.includes(NO_SUCH_PREVIEW) ? 409 : 400, out.message);
  };

  router.get(P, async (ctx) => {
    const d = domainOf(ctx);
    const rows = await Agent.find(d === null ? {} : { domain: d }).sort({ domain: 1, name: 1 }).limit(10_000).maxTimeMS(deps.queryTimeoutMs).lean<AgentDoc[]>();
    sendData(ctx, rows.map(publicAgent));
  });

  // Before /:name: `events` is not an agent.
  router.get(`${P}/events`, agentEventStream());

  router.post(P, async (ctx) => {
    const domain = domainOf(ctx, { required: true })!;
    const { status, state, ...config } = agentCreateSchema.parse(await objectBody(ctx));
    checkContact(config.contact, domain);
    if (await Agent.exists({ _id: agentId(domain, config.name) })) throw new HttpError(409, `name: agent ${config.name} exists`);
    let handle;
    try {
      handle = await startAgentWorkflow(deps.client, { domain, name: config.name, config, initial: { status, state } }, deps.taskQueue);
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw new HttpError(409, `name: agent ${config.name} exists`);
      throw err;
    }
    // Answers once the workflow has stored the document.
    const out = await runUpdate(deps.client, deps.updateTimeoutMs, () => handle.executeUpdate(agentConfigUpdate, { args: [{}] }));
    if (!out.ok) throw new HttpError(503, 'the agent workflow did not answer in time (is a worker running?)');
    sendData(ctx, publicAgent(out.value));
  });

  router.get(`${P}/:name`, async (ctx) => {
    const d = domainOf(ctx, { required: true })!;
    const doc = await Agent.findById(agentId(d, nameParam(ctx))).lean<AgentDoc>();
    if (!doc) throw notFound('agent not found');
    sendData(ctx, publicAgent(doc));
  });

  router.put(`${P}/:name`, async (ctx) => {
    const patch = agentUpdateSchema.parse(await objectBody(ctx));
    checkContact(patch.contact, domainOf(ctx, { required: true })!);
    const view = await update(ctx, (h) => h.executeUpdate(agentConfigUpdate, { args: [patch] }));
    sendData(ctx, publicAgent(view));
  });

  // §7.1: v3 integrators put agents into {"status":"Available","state":"Waiting"}.
  router.put(`${P}/:name/status`, async (ctx) => {
    const change = agentStatusSchema.parse(await objectBody(ctx));
    if (change.status === undefined && change.state === undefined) throw badRequest('status: status or state required');
    const view = await update(ctx, (h) => h.executeUpdate(agentStatusUpdate, { args: [change] }));
    sendData(ctx, publicAgent(view));
  });

  // §9.2, §11.3: per-agent statistics of one dialer, in v3's fields (mod_callcenter's agent columns
  // and `agent_in_dialer`; times in epoch seconds).
  router.post('/api/v2/dialer/:dialer/agents/stats', async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const body = agentStatsSchema.parse(await objectBody(ctx));
    const names = body.agents.map((a) => a.split('@')[0]!).filter((n) => AGENT_NAME_RE.test(n));
    const docs = await Agent.find({ domain: dialer.domain, name: { $in: names } }).maxTimeMS(deps.queryTimeoutMs).lean<AgentDoc[]>();
    const tiers = new Set(tierList((dialer.agents ?? []) as TierEntry[]).map((t) => t.name));
    const sec = (ms: number | null | undefined) => (ms ? Math.floor(ms / 1000) : 0);
    // Statistics of an earlier calendar day are gone (§8.3: v3 deleted them at the day change).
    const today = localTime(Date.now(), (await loadCampaignRules(dialer)).calendar.timeZone).day;
    sendData(ctx, docs.map((d) => {
      const s = statsOfDay(d.stats?.[String(dialer._id)], today) ?? emptyAgentStats();
      return {
        name: d._id, state: d.state, status: d.status, ready_time: sec(d.readyAt), wrap_up_time: d.params?.wrapUpTime ?? 0,
        last_bridge_end: sec(d.lastBridgeEnd), logged_in: sec(d.loggedInAt), logged_out: sec(d.loggedOutAt), last_set_stats: 0,
        call_count: s.callCount, missed_call: s.missedCall, call_time_sec: s.callTimeSec, connected_time_sec: Math.round(s.connectedTimeSec),
        idle_sec: Math.round(s.idleSec), on_break_sec: Math.round(s.onBreakSec ?? 0), wrap_time_sec: s.wrapTimeSec, active: tiers.has(d.name),
        bridged_count: s.bridgedCount, last_offered_call: sec(s.lastOfferedCall),
      };
    }));
  });

  // Preview (beyond v3): the agent's decision on the member offered to it.
  router.put(`${P}/:name/preview`, async (ctx) => {
    const d = previewDecisionSchema.parse(await objectBody(ctx));
    const view = await update(ctx, (h) => h.executeUpdate(previewUpdate, { args: [d] }));
    sendData(ctx, publicAgent(view));
  });

  router.delete(`${P}/:name`, async (ctx) => {
    await update(ctx, (h) => h.executeUpdate(agentRemoveUpdate, { args: [] }));
    sendData(ctx, { result: { ok: 1, n: 1 } });
  });
}
