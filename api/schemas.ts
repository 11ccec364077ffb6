// Request schemas (zod). Every error names its field (see zodMessage in ./http); engine-owned fields
// are not part of any schema, so a client can never write them. The OpenAPI document is generated
// from these.
import { z } from 'zod';
import { isValidZone } from '../rules';
import { withoutDefaults } from '../lib/zod-mongoose';
import { campaignClientFields, IGNORED_CLIENT_FIELDS, int, variablesSchema as variables } from '../models/campaign-schema';

// The dialer's fields, bounds and defaults are models/campaign-schema.ts; here they are parsed as
// sent (Mongoose fills the defaults on create; a partial update leaves out what it does not name).
const dialerFields = withoutDefaults(z.strictObject(campaignClientFields));

/** POST /api/v2/dialer. A field that is not a v3 dialer field is a 400 naming it. */
export const dialerCreateSchema = dialerFields;
/** PUT /api/v2/dialer/:id — partial. */
export const dialerUpdateSchema = dialerFields.partial();

/** Drops the fields a v3 client sends back with a whole document and the API ignores
 *  (`_id, domain, state, _cause, active, stats, lastModified, nextTick, lockId`). */
export function withoutIgnoredFields(body: Record<string, unknown>): Record<string, unknown> {
  const out = { ...body };
  for (const k of IGNORED_CLIENT_FIELDS) delete out[k];
  return out;
}

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
