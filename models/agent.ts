// Agents of a domain (spec §7.1–§7.2) and the events their applications follow. The zod schemas are
// the one source of what a client may set (API bodies, OpenAPI); everything else on the document
// is the agent workflow's (workflows/agent.ts), which is the document's only writer.
import mongoose, { Schema, type Model } from 'mongoose';
import { z } from 'zod';
import { dialEndpointProblem, dialStringProblem } from '../esl/format';
import { config } from '../lib/config';
import {
  AGENT_SETTABLE_STATES,
  AGENT_STATUSES,
  type AgentParams,
  type AgentRuntime,
  type AgentStatus,
} from '../rules';

/** An extension (the agent is `<name>@<domain>`): also part of its workflow id. */
export const AGENT_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/** The agent's phone: an endpoint (`user/1000`, `sofia/gateway/gw1/…`, `verto.rtc/…`). It becomes the
 *  originate's dial string, so it is checked like every tenant dial string (esl/format.ts). */
const contact = z
  .string({ error: 'required' })
  .max(500)
  .superRefine((v, ctx) => {
    const problem =
      dialStringProblem(v) ??
      (/^[a-z][a-z0-9_.]*\/[^/]/.test(v) ? null : 'must be an endpoint dial string such as user/1000') ??
      dialEndpointProblem(v, config.agentEndpointsAllow, 'AGENT_ENDPOINTS_ALLOW');
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const seconds = z.number().int().min(0).max(86_400);

/** The six parameters (§7.2): on an agent and, as overrides, in a campaign's `agentParams`. */
export const agentParamsSchema = z.object({
  callTimeout: z.number().int().min(0).max(600).optional().describe('ring time of the agent leg, s (0/absent: 60)'),
  wrapUpTime: seconds.optional().describe('no new call this long after a bridged call, s'),
  maxNoAnswer: z.number().int().min(0).max(1000).optional().describe('this many missed offers in a row → On Break (0: never)'),
  busyDelayTime: seconds.optional().describe('after the agent was busy / DND, s'),
  rejectDelayTime: seconds.optional().describe('after the agent rejected or could not be reached, s'),
  noAnswerDelayTime: seconds.optional().describe('after a missed offer, s'),
});

export const agentStatusSchema = z.object({
  status: z.enum(AGENT_STATUSES, { error: `must be one of: ${AGENT_STATUSES.join(', ')}` }).optional(),
  state: z.enum(AGENT_SETTABLE_STATES, { error: `must be one of: ${AGENT_SETTABLE_STATES.join(', ')}` }).optional(),
});

/** POST /api/v2/agents. */
export const agentCreateSchema = z.object({
  name: z.string({ error: 'required' }).regex(AGENT_NAME_RE, 'must be an extension: letters, digits, _ . - (at most 64)'),
  contact,
  description: z.string().max(2000).optional(),
  ...agentParamsSchema.shape,
  ...agentStatusSchema.shape,
});
export type AgentCreate = z.infer<typeof agentCreateSchema>;

/** PUT /api/v2/agents/:name — the agent's settings (status and state have their own route). */
export const agentUpdateSchema = z.object({ contact, description: z.string().max(2000).optional(), ...agentParamsSchema.shape }).partial();
export type AgentConfig = Omit<AgentCreate, 'status' | 'state'>;

/** PUT /api/v2/agents/:name/preview. */
export const previewDecisionSchema = z
  .object({
    offerId: z.string({ error: 'required (the offered event\'s offerId)' }).min(1).max(64),
    decision: z.enum(['accept', 'skip', 'reschedule'], { error: 'must be one of: accept, skip, reschedule' }),
    nextTryAt: z.number().int().min(0).optional().describe('epoch ms; reschedule only'),
  })
  .refine((d) => d.decision !== 'reschedule' || d.nextTryAt !== undefined, { message: 'required with decision reschedule', path: ['nextTryAt'] });

/** POST /api/v2/dialer/:dialer/agents/stats (v3): both arrays required; skills are ignored, as G2 did. */
export const agentStatsSchema = z.object({
  agents: z.array(z.string().max(200), { error: 'required (an array of agent names)' }).max(1000),
  skills: z.array(z.unknown(), { error: 'required (an array; ignored)' }).max(1000),
});

export interface AgentDoc extends AgentRuntime {
  /** `<name>@<domain>`. */
  _id: string;
  domain: string;
  name: string;
  contact: string;
  description: string;
  params: Partial<AgentParams>;
  updatedAt: number;
}

const agentSchema = new Schema(
  {
    _id: { type: String, required: true },
    domain: { type: String, required: true },
    name: { type: String, required: true },
    contact: { type: String, required: true },
    description: { type: String, default: '' },
    params: { type: Schema.Types.Mixed, default: () => ({}) },
    status: { type: String, default: 'Logged Out' },
    state: { type: String, default: 'Idle' },
    readyAt: { type: Number, default: 0 },
    readyReason: { type: String, default: null },
    lastBridgeEnd: { type: Number, default: null },
    noAnswerCount: { type: Number, default: 0 },
    offer: { type: Schema.Types.Mixed, default: null },
    idleSince: { type: Number, default: null },
    breakSince: { type: Number, default: null },
    loggedInAt: { type: Number, default: null },
    loggedOutAt: { type: Number, default: null },
    stats: { type: Schema.Types.Mixed, default: () => ({}) },
    updatedAt: { type: Number, default: () => Date.now() },
  },
  { collection: 'agents', versionKey: false, minimize: false },
);
agentSchema.index({ domain: 1, name: 1 }, { unique: true });

export const Agent: Model<AgentDoc> = (mongoose.models.Agent as Model<AgentDoc> | undefined) ?? mongoose.model<AgentDoc>('Agent', agentSchema);

export function agentId(domain: string, name: string): string {
  return `${name}@${domain}`;
}

/** What agent applications are told (§7.6 for `offered`). */
export const AGENT_EVENT_TYPES = ['status', 'offered', 'preview-decided', 'connected', 'ended', 'wrap-up-started', 'wrap-up-ended'] as const;
export type AgentEventType = (typeof AGENT_EVENT_TYPES)[number];

export interface AgentEventDoc {
  /** `<agent workflow id>:<first run id>:<seq>`: written again after a crash, stored once. */
  _id: string;
  domain: string;
  agent: string;
  type: AgentEventType;
  at: number;
  /** Insertion order across agents of a domain, for the stream's cursor. */
  seq: number;
  data: Record<string, unknown>;
}

const agentEventSchema = new Schema(
  {
    _id: { type: String, required: true },
    domain: { type: String, required: true },
    agent: { type: String, required: true },
    type: { type: String, required: true },
    at: { type: Number, required: true },
    seq: { type: Number, required: true },
    data: { type: Schema.Types.Mixed, default: () => ({}) },
  },
  { collection: 'agent_events', versionKey: false, minimize: false },
);
agentEventSchema.index({ domain: 1, seq: 1 });

/** FerretDB v1 stores no array inside an array, and §7.6's `dlr_dsc_s` has them (`[name, item, …]`):
 *  an event's `webitel_data.dlr_dsc_s` is stored as JSON text (`storedEventData`) and given back to
 *  agent applications as sent (`sentEventData`). */
export function storedEventData(data: Record<string, unknown>): Record<string, unknown> {
  const w = data.webitel_data as Record<string, unknown> | undefined;
  return w && w.dlr_dsc_s !== undefined ? { ...data, webitel_data: { ...w, dlr_dsc_s: JSON.stringify(w.dlr_dsc_s) } } : data;
}
export function sentEventData(data: Record<string, unknown>): Record<string, unknown> {
  const w = data.webitel_data as Record<string, unknown> | undefined;
  return w && typeof w.dlr_dsc_s === 'string' ? { ...data, webitel_data: { ...w, dlr_dsc_s: JSON.parse(w.dlr_dsc_s) as unknown } } : data;
}

export const AgentEvent: Model<AgentEventDoc> =
  (mongoose.models.AgentEvent as Model<AgentEventDoc> | undefined) ?? mongoose.model<AgentEventDoc>('AgentEvent', agentEventSchema);

export type { AgentStatus };
