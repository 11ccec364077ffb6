// Request schemas (zod). Every error names its field (see zodMessage in ./http). Unknown fields are
// dropped (v3 clients send whole documents with UI-only fields); engine-owned fields are not part
// of any schema, so a client can never write them. The OpenAPI document is generated from these.
import { z } from 'zod';
import { AGENT_STRATEGIES, contentProblems, DIALER_TYPES, isValidZone, variableNameProblem, type BroadcastContent } from '../rules';
import { config } from '../lib/config';
import { dialStringProblem } from '../esl/format';
import { dialerCalendarSchema } from '../models/calendar';
import { AGENT_NAME_RE, agentParamsSchema } from '../models/agent';

const isRegex = (v: string) => {
  try {
    new RegExp(v);
    return true;
  } catch {
    return false;
  }
};

const int = (min: number, max: number) => z.number().int().min(min).max(max);

const causeList = z.array(z.string().regex(/^[A-Z0-9_]{1,64}$/, 'must be FreeSWITCH cause names (A-Z, 0-9, _)')).max(200);
const minute = int(0, 1440);

const range = z
  .object({ startTime: minute, endTime: minute, attempts: int(0, 1000).optional(), priority: int(-1000, 1000).optional() })
  .refine((r) => r.endTime > r.startTime, { message: 'must be after startTime', path: ['endTime'] });

/** Destinations' gateway names and dial strings end up in the originate's dial string. */
const dialStringRule = (v: string, ctx: z.RefinementCtx) => {
  const problem = v === '' ? null : dialStringProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
};

const destination = z.object({
  uuid: z.string().min(1).max(64).optional(),
  enabled: z.boolean().optional(),
  limit: int(0, 10000).optional(),
  gwProto: z.string().max(32).optional(),
  gwName: z.string().max(200).superRefine(dialStringRule).optional(),
  dialString: z.string({ error: 'required' }).min(1, 'required').max(1000).superRefine(dialStringRule),
  callerIdNumber: z.string().max(64).optional(),
  callerIdNumbers: z.array(z.string().max(64)).max(1000).optional(),
});

const resource = z.object({
  dialedNumber: z.string({ error: 'required' }).min(1, 'required').max(500).refine(isRegex, 'is not a valid regular expression'),
  disabled: z.boolean().optional(),
  strategy: z.enum(['top_down', 'random']).optional(),
  destinations: z.array(destination).max(100).optional(),
});

export const parametersSchema = z.object({
  limit: int(0, 10000),
  intervalTryCount: int(0, 31_536_000),
  maxTryCount: int(1, 999),
  minBillSec: int(0, 86_400),
  waitingForResultStatus: z.boolean(),
  wrapUpTime: int(1, 86_400),
  originateTimeout: int(1, 999),
  eternalQueue: z.boolean(),
  oneDayTask: z.boolean(),
  retriesByNumber: z.boolean(),
  statusTimeoutMode: z.enum(['refund', 'keep']),
  lostCallRedials: int(0, 100),
}).partial();

// Names are checked by rules/channel-vars.ts: they become FreeSWITCH channel variables.
const variables = z
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
const contentSchema = z
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

/** v3's callflow document: stored as given for a dialplan that reads it (by dialer id). */
const callflowDocument = z
  .union([z.array(z.unknown()), z.record(z.string(), z.unknown())], { error: 'must be a callflow array or object' })
  .refine((v) => JSON.stringify(v).length <= 256 * 1024, 'at most 256 KiB');

const agentName = z.string().regex(AGENT_NAME_RE, 'must be an agent name (extension)');

const dialerFields = {
  name: z.string({ error: 'required' }).trim().min(1, 'required').max(200),
  description: z.string().max(4000).optional(),
  type: z.enum(DIALER_TYPES, { error: `must be one of: ${DIALER_TYPES.join(', ')}` }),
  parameters: parametersSchema.optional(),
  numberStrategy: z.enum(['by-priority', 'top-down']).optional(),
  membersStrategy: z.enum(['next-tries-circuit', 'strict-circuit']).optional(),
  causesError: causeList.optional(),
  causesRetry: causeList.optional(),
  causesOK: causeList.optional(),
  causesMinus: causeList.optional(),
  communications: z
    .object({
      types: z.array(z.object({ code: z.string().min(1).max(64), name: z.string().max(200).optional(), ranges: z.array(range).max(48).optional() })).max(100).optional(),
    })
    .optional(),
  calendar: dialerCalendarSchema.optional(),
  resources: z.array(resource).max(100).optional(),
  variables: variables.optional(),
  // §3.1, §8.3: the counters are zeroed when the calendar's day changes.
  autoResetStats: z.boolean().optional(),
  content: contentSchema.nullable().optional(),
  recordSession: z.boolean().optional(),
  cps: int(0, 1000).optional(),
  _cf: callflowDocument.nullable().optional(),
  // Progressive (§3.3, §7): the tiers — v3's agent names, or {name, level} (level 1 offered first).
  agents: z
    .array(z.union([agentName, z.object({ name: agentName, level: int(1, 100).optional() })]))
    .max(1000)
    .optional(),
  // `top-down` (v3's G1 UI) is hunted as with_fewest_calls, as G2 did.
  agentStrategy: z.enum([...AGENT_STRATEGIES, 'top-down'], { error: `must be one of: ${AGENT_STRATEGIES.join(', ')}` }).optional(),
  agentParams: agentParamsSchema.optional(),
  // Preview (beyond v3): seconds the agent has to accept, skip or reschedule before the call; 0 = off.
  previewTimeoutSec: int(0, 600).optional(),
};

/** POST /api/v2/dialer. */
export const dialerCreateSchema = z.object(dialerFields);
/** PUT /api/v2/dialer/:id — partial; `_id, domain, stats, active, state, _cause` are not fields here. */
export const dialerUpdateSchema = z.object(dialerFields).partial();

/** v3 numbers are strings; a JSON number is taken as its decimal digits. */
const phoneNumber = (what: string) =>
  z
    .union([z.string(), z.number().int().nonnegative()], { error: what })
    .transform((v) => String(v).trim())
    .superRefine((s, ctx) => {
      const problem =
        s.length === 0 ? what
        : s.length > 64 ? `${what} (at most 64 characters)`
        : !/\d/.test(s) ? `${what} (must contain digits)`
        : /[\0-\x1f]/.test(s) ? `${what} (control characters)`
        : null;
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

export const communicationSchema = z.object({
  number: phoneNumber('Bad communication number'),
  priority: int(-1_000_000, 1_000_000).optional(),
  type: z.union([z.string().max(64), z.number().int()]).transform((v) => String(v)).nullable().optional(),
  description: z.string().max(1000).nullable().optional(),
});

const memberFields = {
  name: z.string().max(500).optional(),
  priority: int(-1_000_000_000, 1_000_000_000).optional(),
  // '' (the seed example) means none; anything else must be an IANA zone, used for the member's windows.
  timezone: z.string().max(64).refine((v) => v === '' || isValidZone(v), 'not an IANA time zone').optional(),
  expire: z.number().int().min(0).nullable().optional(),
  variables: variables.optional(),
  communications: z
    .array(communicationSchema, { error: 'Bad communications (must array)' })
    .min(1, 'Bad communications (must array)')
    .max(100, 'at most 100 numbers'),
};

/** One member of POST …/members (§5.1). */
export const memberCreateSchema = z.object(memberFields);
/** PUT …/members/:id: client-owned fields only (§5.2). */
export const memberUpdateSchema = z.object(memberFields).partial();

const lenientBool = z.union([z.boolean(), z.enum(['true', 'false'])]).transform((v) => v === true || v === 'true');
const lenientInt = z
  .union([z.number(), z.string().regex(/^-?\d+$/, 'must be an integer')])
  .transform((v) => Number(v))
  .pipe(z.number().int('must be an integer').min(-1_000_000_000).max(315_360_000, 'at most 10 years'));

/** PUT …/members/:id/status (§6.5). */
export const statusSchema = z.object({
  success: lenientBool.optional(),
  next_after_sec: lenientInt.optional(),
  stop_communications: z.union([z.array(phoneNumber('must be a phone number')).max(100), z.literal('all'), phoneNumber('must be a phone number or "all"')]).optional(),
  reset_retries: lenientBool.optional(),
  next_communication: phoneNumber('must be a phone number').optional(),
  comment: z.string().max(4000).optional(),
  description: z.string().max(4000).optional(),
  session_id: z.string().max(200).optional(),
});

/** PUT /api/v2/dialer/:id/reset (§8.7). */
export const resetSchema = z.object({
  resetProcess: lenientBool.optional(),
  resetStats: lenientBool.optional(),
  resetAgents: lenientBool.optional(),
  skipActive: lenientBool.optional(),
});

/** Hop-by-hop, framing and routing headers, and the ones each delivery sets itself. */
const RESERVED_HOOK_HEADERS = /^(host|content-length|content-type|transfer-encoding|connection|keep-alive|proxy-.*|te|trailer|upgrade|expect|user-agent|x-dialer-.*)$/i;

/** POST /api/v2/hooks: a member-end webhook of the caller's domain. */
export const webhookCreateSchema = z.object({
  url: z
    .string({ error: 'required' })
    .max(2000)
    .refine((u) => {
      try {
        const p = new URL(u);
        return p.protocol === 'http:' || p.protocol === 'https:';
      } catch {
        return false;
      }
    }, 'must be an http(s) URL'),
  event: z.literal('engine::dialer_member_end', { error: 'must be "engine::dialer_member_end"' }).optional(),
  description: z.string().max(1000).optional(),
  headers: z
    .record(z.string(), z.string().max(2000).regex(/^[\t\x20-\x7e]*$/, 'must be printable ASCII (no CR, LF or control characters)'))
    .superRefine((h, ctx) => {
      for (const name of Object.keys(h)) {
        if (!/^[A-Za-z0-9-]{1,100}$/.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'must be an HTTP header name (A-Z, 0-9, -)' });
        else if (RESERVED_HOOK_HEADERS.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'is set by the dialer or the connection and cannot be given' });
      }
      if (Object.keys(h).length > 20) ctx.addIssue({ code: 'custom', message: 'at most 20 headers' });
    })
    .optional(),
  enabled: z.boolean().optional(),
});
