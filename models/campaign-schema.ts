// The campaign ("dialer") document's shape, in zod: the one source of its fields (Webitel v3 names,
// spec §3), their bounds, enums and defaults. The Mongoose schema (models/campaign.ts), the API's
// input schemas (api/schemas.ts, defaults stripped) and the rules' defaults (campaignRules) derive
// from it. Every v3 field is here: honoured now, or stored and checked for the agents/predictive
// work (marked "later" below; docs/api.md lists each field's status).
import { z } from 'zod';
import { AGENT_STRATEGIES, contentProblems, destinationEndpoint, DIALER_TYPES, playItemProblem, variableNameProblem, type BroadcastContent } from '../rules';
import { MEMBERS_STRATEGIES } from '../rules/dispatch';
import { config } from '../lib/config';
import { dialEndpointProblem, dialStringProblem } from '../esl/format';
import { dialerCalendarSchema } from './calendar';
import { AGENT_NAME_RE, agentParamsSchema } from './agent';

const isRegex = (v: string) => {
  try {
    new RegExp(v);
    return true;
  } catch {
    return false;
  }
};

export const int = (min: number, max: number) => z.number().int().min(min).max(max);
const ms = int(0, 60_000);

const causeList = z.array(z.string().regex(/^[A-Z0-9_]{1,64}$/, 'must be FreeSWITCH cause names (A-Z, 0-9, _)')).max(200);
const minute = int(0, 1440);

const range = z
  .object({ startTime: minute, endTime: minute, attempts: int(0, 1000).default(1), priority: int(-1000, 1000).default(0) })
  .refine((r) => r.endTime > r.startTime, { message: 'must be after startTime', path: ['endTime'] });

/** Destinations' gateway names and dial strings end up in the originate's dial string. */
const dialStringRule = (v: string, ctx: z.RefinementCtx) => {
  const problem = v === '' ? null : dialStringProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
};

const GW_PROTO_DEFAULT = 'sip';
const destination = z.object({
  uuid: z.string().min(1).max(64).default(() => crypto.randomUUID()),
  enabled: z.boolean().default(true),
  limit: int(0, 10000).default(10),
  gwProto: z.string().max(32).default(GW_PROTO_DEFAULT),
  gwName: z.string().max(200).superRefine(dialStringRule).default(''),
  dialString: z.string({ error: 'required' }).min(1, 'required').max(1000).superRefine(dialStringRule),
  callerIdNumber: z.string().max(64).default(''),
  callerIdNumbers: z.array(z.string().max(64)).max(1000).default([]),
}).superRefine((d, ctx) => {
  if (dialStringProblem(d.dialString) || (d.gwName && dialStringProblem(d.gwName))) return; // reported on the field
  // The endpoint type of what routesFor will dial (a gateway name makes it sofia/gateway/…).
  const endpoint = destinationEndpoint({ ...d, gwProto: d.gwProto ?? GW_PROTO_DEFAULT });
  const problem = dialEndpointProblem(endpoint, config.dialEndpointsAllow);
  if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['dialString'] });
});

const resource = z.object({
  dialedNumber: z.string({ error: 'required' }).min(1, 'required').max(500).refine(isRegex, 'is not a valid regular expression'),
  disabled: z.boolean().default(false),
  strategy: z.enum(['top_down', 'random']).default('top_down'),
  destinations: z.array(destination).max(100).default([]),
});

/** A sound FreeSWITCH plays (rules/content.ts playItemProblem); `say:` is not a file. */
const soundFile = z.string().max(1000).superRefine((v, ctx) => {
  const problem = v.startsWith('say:') ? 'must be a file, tone_stream:// or silence_stream://' : playItemProblem(v, config.soundsAllow);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
/** v3's `{uri, …}` file reference (the UI's file picker adds its own keys, kept as sent). */
const fileRef = z.looseObject({ uri: soundFile });

/** §3.1. Unknown names are refused (a typo would otherwise be lost). */
export const parametersSchema = z.strictObject({
  limit: int(0, 10000).default(30),
  intervalTryCount: int(0, 31_536_000).default(60),
  maxTryCount: int(1, 999).default(5),
  minBillSec: int(0, 86_400).default(0),
  waitingForResultStatus: z.boolean().default(false),
  wrapUpTime: int(1, 86_400).default(60),
  originateTimeout: int(1, 999).default(60),
  eternalQueue: z.boolean().default(false),
  oneDayTask: z.boolean().default(false),
  retriesByNumber: z.boolean().default(false),
  // §3.8; off unless asked for (v3's UI defaulted it on).
  recordSession: z.boolean().default(false),
  // Originations per second (v3.6); 0 = no limit of its own (v3.6 defaulted to 2).
  cps: int(0, 1000).default(0),
  statusTimeoutMode: z.enum(['refund', 'keep']).default('refund'),
  // No default: unset means the worker's LOST_CALL_REDIALS.
  lostCallRedials: int(0, 100).optional(),
  // Predictive (§2.4, §7.5; README "Predictive dialing").
  retryAbandoned: z.boolean().optional(),
  predictAdjust: int(0, 1000).optional().describe('stored and returned; not used (v3 G2 pacing, replaced: README "Predictive dialing")'),
  targetPredictiveSilentCalls: z.number().min(0).max(100).optional().describe('stored and returned; not used (the pacing aims below maxPredictiveSilentCalls)'),
  maxPredictiveSilentCalls: z.number().min(0.1).max(100).optional().describe('the abandon cap in percent (default 3); v3 read it and never used it'),
  maxLocateAgentSec: int(1, 300).optional(),
  predictStartBridgedCount: int(0, 200).optional().describe('talks seen before calls are placed ahead of free agents (default 10)'),
  predictStartCallCount: int(0, 1000).optional().describe('answered calls seen before calls are placed ahead of free agents (default 20; v3 200)'),
  // Beyond v3: below this many logged agents, no call ahead of free agents.
  predictMinAgents: int(1, 1000).optional(),
  // Unused since 2017 (v3 neither); kept so a v3 document round-trips.
  avgProgressSec: int(0, 86_400).optional().describe('stored and returned; not used (v3 neither)'),
});

// Names are checked by rules/channel-vars.ts: they become FreeSWITCH channel variables.
export const variablesSchema = z
  .record(z.string(), z.union([z.string().max(4096), z.number(), z.boolean(), z.null()]))
  .refine((v) => Object.keys(v).length <= 200, 'at most 200 variables')
  .superRefine((v, ctx) => {
    for (const name of Object.keys(v)) {
      const problem = variableNameProblem(name, config.channelVariablesAllow);
      if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem.reason });
    }
  });

/** What an answered broadcast call runs (rules/content.ts checks every piece FreeSWITCH would see). */
const menuResult = z.object({ success: z.boolean().optional(), next_after_sec: int(0, 315_360_000).optional() });
export const contentSchema = z
  .discriminatedUnion('mode', [
    z.object({ mode: z.literal('park') }),
    z.object({ mode: z.literal('transfer'), extension: z.string().optional(), context: z.string().optional() }),
    z.object({
      mode: z.literal('callflow'),
      play: z.array(z.string()).max(20),
      menu: z.object({
        prompt: z.string({ error: 'required' }),
        digits: z.string({ error: 'required' }),
        timeoutSec: int(1, 60).optional(),
        tries: int(1, 5).optional(),
        results: z.record(z.string(), menuResult).optional(),
      }).optional(),
    }),
  ], { error: 'mode: must be one of park, transfer, callflow' })
  .superRefine((c, ctx) => {
    if (c.mode === 'callflow' && c.play.length === 0 && !c.menu) ctx.addIssue({ code: 'custom', path: ['play'], message: 'play something or set a menu' });
    for (const [path, message] of contentProblems(c as BroadcastContent, config.soundsAllow)) {
      ctx.addIssue({ code: 'custom', path: path.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)), message });
    }
  });

/** A JSON document stored as given, up to a size. */
const document = (what: string, maxBytes: number) =>
  z
    .union([z.array(z.unknown()), z.record(z.string(), z.unknown())], { error: `must be ${what} array or object` })
    .refine((v) => JSON.stringify(v).length <= maxBytes, `at most ${maxBytes / 1024} KiB`);

/** §3.7 (rules/amd.ts). Times in ms; v3's UI defaults in rules/amd.ts AMD_DEFAULTS. */
const amdSchema = z.strictObject({
  enabled: z.boolean().optional(),
  allowNotSure: z.boolean().optional(),
  silenceThreshold: int(0, 65_535).optional(),
  maximumWordLength: ms.optional(),
  maximumNumberOfWords: int(0, 100).optional(),
  betweenWordsSilence: ms.optional(),
  minWordLength: ms.optional(),
  totalAnalysisTime: ms.optional(),
  afterGreetingSilence: ms.optional(),
  greeting: ms.optional(),
  initialSilence: ms.optional(),
  silenceNotSure: z.boolean().optional(),
  playbackFile: fileRef.nullable().optional().describe('played during the analysis (beforePlaybackFileTime ms after it starts)'),
  beforePlaybackFileTime: ms.optional(),
});

/** §7.2 per-campaign overrides of the agents' parameters (models/agent.ts); null = the agent's own value. */
const agentParamsOverrides = z.strictObject(
  Object.fromEntries(Object.entries(agentParamsSchema.shape).map(([k, t]) => [k, t.nullable()])) as {
    [K in keyof typeof agentParamsSchema.shape]: z.ZodNullable<(typeof agentParamsSchema.shape)[K]>;
  },
);

const agentName = z.string().regex(AGENT_NAME_RE, 'must be an extension: letters, digits, _ . - (at most 64)');
const names = z.array(z.string().min(1).max(200)).max(1000);

/** §7.6 (later: agents): the result codes shown to the agent; t = success, f = failure, n = call back at a time. */
const callResultSchema = z.strictObject({
  name: z.string({ error: 'required' }).min(1, 'required').max(200),
  type: z.enum(['t', 'f', 'n'], { error: 'must be t (success), f (failure) or n (schedule a call time)' }),
  items: z.array(z.string().max(200)).max(100).optional(),
});

/** The fields a client writes (POST/PUT /api/v2/dialer). */
export const campaignClientFields = {
  name: z.string({ error: 'required' }).trim().min(1, 'required').max(200),
  description: z.string().max(4000).optional(),
  // v3: "defaults to name"; stored, not used.
  number: z.string().max(200).optional().describe('stored and returned; not used'),
  type: z.enum(DIALER_TYPES, { error: `must be one of: ${DIALER_TYPES.join(', ')}` }),
  // v3 documented it as the order of campaigns sharing lines and never read it; stored (docs/api.md).
  priority: int(0, 999).optional().describe('orders campaigns competing for the lines of one gateway (GATEWAY_LINES): the higher is granted first; default 1'),
  parameters: parametersSchema.prefault({}),
  numberStrategy: z.enum(['by-priority', 'top-down']).default('by-priority'),
  membersStrategy: z.enum(MEMBERS_STRATEGIES).default('next-tries-circuit'),
  causesError: causeList.optional(),
  causesRetry: causeList.optional(),
  causesOK: causeList.optional(),
  causesMinus: causeList.optional(),
  communications: z
    .object({
      types: z.array(z.object({ code: z.string().min(1).max(64), name: z.string().max(200).optional(), ranges: z.array(range).max(48).default([]) })).max(100).default([]),
    })
    .default({ types: [] }),
  calendar: dialerCalendarSchema.optional(),
  resources: z.array(resource).max(100).default([]),
  variables: variablesSchema.default({}),
  // §3.1, §8.3: the counters are zeroed when the calendar's day changes.
  autoResetStats: z.boolean().default(false),
  content: contentSchema.nullable().default(null),
  // v3's callflow document, stored as given for a dialplan that reads it (by dialer id), and its diagram.
  _cf: document('a callflow', 256 * 1024).nullable().default(null),
  _cfDiagram: document('a diagram', 256 * 1024).nullable().optional().describe('stored and returned; not used (the UI\'s drawing of _cf)'),
  // Progressive (§3.3, §7): the tiers — v3's agent names, or {name, level} (level 1 offered first).
  agents: z.array(z.union([agentName, z.strictObject({ name: agentName, level: int(1, 100).optional() })])).max(1000).optional(),
  // `top-down` (v3's G1 UI) is hunted as with_fewest_calls, as G2 did.
  agentStrategy: z.enum([...AGENT_STRATEGIES, 'top-down'], { error: `must be one of: ${AGENT_STRATEGIES.join(', ')}` }).optional(),
  agentParams: agentParamsOverrides.optional(),
  // Preview (beyond v3): seconds the agent has to accept, skip or reschedule before the call; 0 = off.
  previewTimeoutSec: int(0, 600).optional(),
  callResult: z.array(callResultSchema).max(100).optional().describe('stored; the form codes shown to the agent (§7.6)'),
  amd: amdSchema.optional().describe('answering machine detection before the content of a broadcast (README "Voice broadcast content") or the agent search of a predictive call (README "Predictive dialing")'),
  // Predictive: played to an answered member while an agent is located (§2.4).
  playbackFile: fileRef.nullable().optional(),
  // Stored, not used (v3 G2 ignored them too): skills, the UI's agentSkills/strategy, owners (v3 ACL).
  skills: names.optional().describe('stored and returned; not used (v3 G2 neither)'),
  agentSkills: names.optional().describe('stored and returned; not used'),
  strategy: z.string().max(200).optional().describe('stored and returned; not used'),
  owners: names.optional().describe('stored and returned; not used'),
};

/** Engine-owned (§8.1, §11.1): never written through the API. */
export const campaignEngineFields = {
  domain: z.string(),
  state: z.number().default(0),
  _cause: z.string().default('INIT'),
  active: z.boolean().default(false),
  stats: z.record(z.string(), z.unknown()).default(() => ({ active: 0, callCount: 0, successCall: 0, errorCall: 0, connectedCall: 0, bridgedCall: 0 })),
  lastModified: z.number().default(() => Date.now()),
  // Predictive, written by the campaign's workflow: the pacing as shown (mode, why, abandon rates
  // per legal window) and the pacing state it resumes from (rules/predictive.ts).
  pacing: z.record(z.string(), z.unknown()).optional(),
  _pacingState: z.record(z.string(), z.unknown()).optional(),
};

/** Sent by v3 clients as part of a whole document (GET, edit, PUT back) and ignored: the engine
 *  owns them, or they identify the document. */
export const IGNORED_CLIENT_FIELDS = ['_id', ...Object.keys(campaignEngineFields), 'nextTick', 'lockId'] as const;

export const campaignDocumentSchema = z.object({ ...campaignClientFields, ...campaignEngineFields });
