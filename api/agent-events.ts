// The agents' event stream for agent applications (Server-Sent Events): status changes, offers
// (§7.6 data), connected, ended, wrap-up started/ended. A domain's credential sees its own agents
// only. Resumable: each event's `id` is its cursor (send it back as Last-Event-ID or ?since=).
import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import { AGENT_NAME_RE, AgentEvent, agentId, sentEventData, type AgentEventDoc } from '../models/agent';
import { domainOf } from './auth';
import { badRequest, queryParam } from './http';

const POLL_MS = 250;
const HEARTBEAT_MS = 15_000;
/** Events of concurrent writers may become visible slightly out of cursor order: look back this
 *  far (cursor units: µs) and skip the ones already sent. */
const LOOK_BACK = 5_000_000;

export function agentEventStream() {
  return async (ctx: Context) => {
    const domain = domainOf(ctx, { required: true })!;
    const agent = queryParam(ctx, 'agent');
    if (agent !== undefined && !AGENT_NAME_RE.test(agent)) throw badRequest('agent: must be an agent name (extension)');
    const since = queryParam(ctx, 'since') ?? ctx.get('last-event-id');
    let cursor = since ? Number(since) : Date.now() * 1000;
    if (!Number.isFinite(cursor) || cursor < 0) throw badRequest('since: must be an event id');

    const out = new PassThrough();
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.status = 200;
    ctx.type = 'text/event-stream';
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('X-Accel-Buffering', 'no');
    ctx.body = out;
    out.write(': agent events\n\n');

    const filter: Record<string, unknown> = { domain, ...(agent ? { agent: agentId(domain, agent) } : {}) };
    const sent = new Map<string, number>();
    // Nothing at or before the client's cursor (or before it connected).
    const floor = cursor;
    let open = true;
    let lastWrite = Date.now();
    const stop = () => {
      open = false;
    };
    ctx.req.on('close', stop);
    out.on('close', stop);
    void (async () => {
      while (open) {
        try {
          const rows = await AgentEvent.find({ ...filter, seq: { $gt: cursor - LOOK_BACK } }).sort({ seq: 1 }).limit(500).lean<AgentEventDoc[]>();
          for (const e of rows) {
            if (sent.has(e._id) || e.seq <= floor) continue;
            sent.set(e._id, e.seq);
            cursor = Math.max(cursor, e.seq);
            out.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ id: e._id, agent: e.agent, type: e.type, at: e.at, ...sentEventData(e.data) })}\n\n`);
            lastWrite = Date.now();
          }
          for (const [id, seq] of sent) if (seq <= cursor - 2 * LOOK_BACK) sent.delete(id);
          if (Date.now() - lastWrite > HEARTBEAT_MS) {
            out.write(': keep-alive\n\n');
            lastWrite = Date.now();
          }
        } catch {
          // Mongo unavailable for a moment: try again at the next poll.
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      out.end();
    })();
  };
}
