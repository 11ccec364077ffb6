// Import/export job templates of a dialer (spec §9.2, v3 `dialer_templates`): a `WEB` template is
// an HTTP request to the tenant's system, which then imports or exports the dialer's members
// through the REST API and reports back with `PUT …/templates/:id/end/:pid`. The zod schema is the
// one source of a template's shape; the API writes templates, and each run ("process", pid) is a
// job document written only by its job workflow's activities (workflows/template.ts).
import { z } from 'zod';
import { mongooseSchema } from '../lib/zod-mongoose';
import { model } from './model';

/** Headers a template may not set: they belong to the connection or to the job itself. */
export const RESERVED_TEMPLATE_HEADERS = ['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'x-action', 'x-response-host', 'x-response-path', 'x-dialer-id', 'x-template-id'];
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;

const request = z.object({
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
  url: z.string({ error: 'required' }).max(2000),
  headers: z
    .record(z.string(), z.string().max(4000).regex(/^[^\r\n]*$/, 'must be one line'))
    .superRefine((h, ctx) => {
      const names = Object.keys(h);
      if (names.length > 50) ctx.addIssue({ code: 'custom', message: 'at most 50 headers' });
      for (const name of names) {
        if (!HEADER_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'is not an HTTP header name' });
        else if (RESERVED_TEMPLATE_HEADERS.includes(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [name], message: 'is set by the dialer' });
      }
    })
    .default({}),
  body: z.unknown().optional().describe('sent as JSON (a string as it is)'),
});

export const templateFields = {
  name: z.string({ error: 'required' }).trim().min(1, 'required').max(200),
  type: z.enum(['WEB', 'SQL'], { error: 'must be WEB' }).refine((t) => t === 'WEB', "SQL jobs ran against v3's PostgreSQL; only WEB templates run here").default('WEB'),
  action: z.enum(['import', 'export'], { error: 'must be import or export' }),
  template: request,
  description: z.string().max(4000).optional(),
  before_delete: z.boolean().default(false).describe('import: delete the dialer members first (execute only)'),
  cron: z
    .string()
    .trim()
    .max(200)
    .regex(/^(@[a-z]+|[0-9A-Za-z*/,?#-]+( [0-9A-Za-z*/,?#-]+){4})$/, 'must be a 5-field cron expression (minute hour day month weekday) or @daily, @hourly, …')
    .nullable()
    .optional()
    .describe("run on this schedule in the dialer calendar's time zone"),
  next_process_id: z.string().regex(/^[0-9a-fA-F]{24}$/, 'must be the id of a template of this dialer').nullable().optional(),
};
export const templateDocumentSchema = z.object({ ...templateFields, dialer: z.string(), domain: z.string(), createdOn: z.number(), lastModified: z.number() });
export const templateCreateSchema = z.object(templateFields).superRefine((t, ctx) => {
  if (t.cron && t.before_delete) ctx.addIssue({ code: 'custom', path: ['before_delete'], message: 'not with cron: only an execute deletes members (run it through PUT …/execute)' });
});

export type TemplateDoc = z.output<typeof templateDocumentSchema> & { _id: unknown };
export const Template = model('DialerTemplate', mongooseSchema(templateDocumentSchema, { collection: 'dialer_templates', versionKey: false, minimize: false }, { dialer: { index: true } }));

/** One run of a template. */
export const templateJobSchema = z.object({
  _id: z.string(), // the pid
  template: z.string(),
  dialer: z.string(),
  domain: z.string(),
  action: z.enum(['import', 'export']),
  /** sending → waiting (for `end`) → success | error | timeout; `error` also when the request failed. */
  state: z.enum(['sending', 'waiting', 'success', 'error', 'timeout']),
  startedOn: z.number(),
  endedOn: z.number().nullable().default(null),
  httpStatus: z.number().nullable().default(null),
  message: z.string().nullable().default(null),
  success_data: z.unknown().optional(),
  /** The body the receiver sent with `end`. */
  end_data: z.unknown().optional(),
  /** The pid of the job `next_process_id` started. */
  next: z.string().nullable().default(null),
});
export type TemplateJobDoc = z.output<typeof templateJobSchema>;
export const TemplateJob = model('DialerTemplateJob', mongooseSchema(templateJobSchema, { collection: 'dialer_template_jobs', versionKey: false, minimize: false }, { template: { index: true } }));
