// The OpenAPI 3.1 document of every route (GET /api/v2/openapi.json) and a small self-contained
// docs page (GET /api/v2/docs). Request body schemas are generated from the zod schemas the routes
// validate with, so the document and the validation cannot drift apart; test/api-openapi.test.ts
// fails when a route exists that the document lacks, or the reverse.
import type Router from '@koa/router';
import { z } from 'zod';
import {
  dialerCreateSchema,
  dialerUpdateSchema,
  memberCreateSchema,
  memberUpdateSchema,
  resetSchema,
  statusSchema,
  webhookCreateSchema,
} from './schemas';
import { calendarCreateSchema, calendarUpdateSchema } from '../models/calendar';
import { templateCreateSchema } from '../models/template';
import { complianceSettingsSchema, dncEntrySchema } from '../models/compliance';
import { agentCreateSchema, agentStatsSchema, agentStatusSchema, agentUpdateSchema, previewDecisionSchema } from '../models/agent';

type Json = Record<string, unknown>;

function schema(s: z.ZodType): Json {
  const js = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Json;
  delete js.$schema;
  return js;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (s: Json) => ({ 'application/json': { schema: s } });

const errorResponse = (description: string) => ({ description, content: json(ref('Error')) });
const ok = (data: Json = {}, description = 'OK') => ({
  description,
  content: json({ type: 'object', required: ['status'], properties: { status: { const: 'OK' }, data } }),
});
const okInfo = (info: Json = {}, description = 'OK') => ({
  description,
  content: json({ type: 'object', required: ['status'], properties: { status: { const: 'OK' }, info } }),
});

const P = {
  id: { name: 'id', in: 'path', required: true, description: 'Dialer id (ObjectId)', schema: { type: 'string', pattern: '^[0-9a-fA-F]{24}$' } },
  dialer: { name: 'dialer', in: 'path', required: true, description: 'Dialer id (ObjectId)', schema: { type: 'string', pattern: '^[0-9a-fA-F]{24}$' } },
  member: { name: 'id', in: 'path', required: true, description: 'Member id (ObjectId)', schema: { type: 'string', pattern: '^[0-9a-fA-F]{24}$' } },
  template: { name: 'id', in: 'path', required: true, description: 'Template id (ObjectId)', schema: { type: 'string', pattern: '^[0-9a-fA-F]{24}$' } },
  pid: { name: 'pid', in: 'path', required: true, description: 'Job (process) id, from X-Response-Path', schema: { type: 'string' } },
  hook: { name: 'id', in: 'path', required: true, description: 'Webhook id (ObjectId)', schema: { type: 'string', pattern: '^[0-9a-fA-F]{24}$' } },
  agent: { name: 'name', in: 'path', required: true, description: 'Agent extension (the agent is <name>@<domain>)', schema: { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$' } },
  calendar: { name: 'id', in: 'path', required: true, description: 'Calendar id (ObjectId)', schema: { type: 'string', pattern: '^[0-9a-fA-F]{24}$' } },
  state: { name: 'state', in: 'path', required: true, description: '1 = start, 3 = stop (anything else: 400)', schema: { type: 'string' } },
  domain: { name: 'domain', in: 'query', description: 'Root credentials only: the domain to act in', schema: { type: 'string' } },
  limit: { name: 'limit', in: 'query', description: 'Page size, 1-1000 (default 40)', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
  page: { name: 'page', in: 'query', description: '1-based page', schema: { type: 'integer', minimum: 1 } },
  columns: { name: 'columns', in: 'query', description: 'Projection: JSON {"field":1} or "a,b,c"', schema: { type: 'string' } },
  sort: { name: 'sort', in: 'query', description: 'JSON {"field": 1|-1}', schema: { type: 'string' } },
  filter: {
    name: 'filter', in: 'query',
    description: 'MongoDB filter JSON; only field comparisons ($eq $ne $gt $gte $lt $lte $in $nin $exists $regex $options $not $elemMatch $size $all $type) and $and/$or/$nor',
    schema: { type: 'string' },
  },
};
const listParams = [P.limit, P.page, P.columns, P.sort, P.filter, P.domain];

const pipelineSchema: Json = {
  type: 'array',
  maxItems: 20,
  description: 'Stages: $match, $sort, $limit, $skip, $count, $project (fields only), $group ($sum $avg $min $max $first $last $count), $unwind. A $match on the dialer is prepended.',
  items: { type: 'object' },
};

interface Op {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;
  tag: string;
  summary: string;
  params?: Json[];
  body?: Json | { content: Json; required?: boolean };
  bodyRequired?: boolean;
  responses: Json;
  public?: boolean;
}

const common = {
  401: errorResponse('Missing, invalid or revoked credentials'),
  400: errorResponse('Bad input; `info` names the field'),
  429: errorResponse('Rate limit of the credential (or of the domain\'s list/count/aggregate queries); see Retry-After'),
};
/** Queries a client shapes have a time budget (API_QUERY_TIMEOUT_MS). */
const budget = { 422: errorResponse('The query exceeded its time budget: narrow the filter, lower limit/page or project fewer columns') };
const withDialer = { ...common, 404: errorResponse('Dialer not found (also: belongs to another domain)') };
const withCalendar = { ...common, 404: errorResponse('Calendar not found (also: belongs to another domain)') };
const withMember = { ...withDialer, 404: errorResponse('Dialer or member not found (also: another domain)') };

export const OPERATIONS: Op[] = [
  {
    method: 'get', path: '/health', tag: 'system', summary: 'Health of MongoDB and Temporal (no credentials)', public: true,
    responses: { 200: ok({ type: 'object' }), 503: errorResponse('A dependency is down') },
  },
  {
    method: 'get', path: '/api/v2/openapi.json', tag: 'system', summary: 'This document (no credentials)', public: true,
    responses: { 200: { description: 'OpenAPI 3.1 document', content: json({ type: 'object' }) } },
  },
  {
    method: 'get', path: '/api/v2/docs', tag: 'system', summary: 'HTML docs page (no credentials)', public: true,
    responses: { 200: { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } },
  },
  {
    method: 'post', path: '/login', tag: 'auth', summary: 'Exchange a key and secret for a session token', public: true,
    body: { type: 'object', required: ['username', 'password'], properties: { username: { type: 'string', description: 'credential key' }, password: { type: 'string', description: 'credential secret' } } },
    bodyRequired: true,
    responses: { 200: { description: '{key, token, expires, username, domain, role} at the top level and in `data`', content: json({ type: 'object' }) }, 400: common[400], 401: common[401] },
  },
  {
    method: 'post', path: '/logout', tag: 'auth', summary: 'End the session token the request is made with (a secret stays valid)',
    responses: { 200: ok({ type: 'object', properties: { sessionEnded: { type: 'boolean' } } }), 401: common[401] },
  },
  // Dialers
  { method: 'get', path: '/api/v2/dialer', tag: 'dialers', summary: 'List dialers', params: listParams, responses: { 200: ok({ type: 'array', items: { type: 'object' } }), ...common, ...budget } },
  {
    method: 'post', path: '/api/v2/dialer', tag: 'dialers', summary: 'Create a dialer', params: [P.domain], body: ref('DialerCreate'), bodyRequired: true,
    responses: { 200: ok(ref('InsertResult')), ...common, 413: errorResponse('Body too large'), 415: errorResponse('Not JSON') },
  },
  { method: 'get', path: '/api/v2/dialer/{id}', tag: 'dialers', summary: 'Get a dialer with live line counters (stats.active, stats.resource)', params: [P.id, P.domain], responses: { 200: ok({ type: 'object' }), ...withDialer } },
  {
    method: 'put', path: '/api/v2/dialer/{id}', tag: 'dialers', summary: 'Update a dialer (partial; parameters merged; engine-owned fields ignored)', params: [P.id, P.domain],
    body: ref('DialerUpdate'), bodyRequired: true, responses: { 200: ok(ref('UpdateResult')), ...withDialer, 406: errorResponse('type cannot change while active') },
  },
  {
    method: 'delete', path: '/api/v2/dialer/{id}', tag: 'dialers', summary: 'Delete a dialer, its members and history (409 while members are in a call, unless force); the members leave every read at once and are deleted in the background',
    params: [P.id, P.domain, { name: 'force', in: 'query', description: '"true": the members in a call are ended by their workflows first (calls hung up with MANAGER_REQUEST)', schema: { type: 'string', enum: ['true', 'false'] } }],
    responses: {
      200: ok({ type: 'object' }), ...withDialer, 400: errorResponse('force is not true or false'),
      409: errorResponse('Members are in a call; stop and wait, or use force=true'), 503: errorResponse('A member workflow did not answer the hang-up in time; nothing deleted'),
    },
  },
  {
    method: 'put', path: '/api/v2/dialer/{id}/state/{state}', tag: 'dialers', summary: 'Start (1) or stop (3) a dialer', params: [P.id, P.state, P.domain],
    responses: { 200: ok({ type: 'object', properties: { state: { type: 'integer' }, _cause: { type: 'string' }, active: { type: 'boolean' } } }), ...withDialer },
  },
  { method: 'put', path: '/api/v2/dialer/{id}/reset', tag: 'dialers', summary: 'Reset counters (§8.7)', params: [P.id, P.domain], body: ref('Reset'), responses: { 200: ok(ref('UpdateResult')), ...withDialer } },
  {
    method: 'get', path: '/api/v2/dialer/{dialer}/activity', tag: 'dialers', summary: 'For the console: attempts per minute (calls, answered, abandoned) over `hours` (0-168, default 24), member end causes, lines in use, next wake-up of a sleeping dialer',
    params: [P.dialer, { name: 'hours', in: 'query', description: 'Hours of attempt history, 0-168 (default 24)', schema: { type: 'integer', minimum: 0, maximum: 168 } }, P.domain],
    responses: { 200: ok({ type: 'object' }), ...withDialer, ...budget },
  },
  { method: 'get', path: '/api/v2/dialer/{dialer}/history', tag: 'dialers', summary: 'Start/stop/reset history', params: [P.dialer, ...listParams], responses: { 200: okInfo({ type: 'array', items: { type: 'object' } }), ...withDialer, ...budget } },
  {
    method: 'get', path: '/api/v2/dialer/{dialer}/forecast', tag: 'dialers',
    summary: 'Finish forecast: finishAt (ISO or null with a reason), remainingSec, expectedContacts, and the inputs used (README "Finish forecast")',
    params: [P.dialer, P.domain],
    responses: {
      200: ok({
        type: 'object', required: ['finishAt', 'remainingSec', 'expectedContacts'],
        properties: {
          finishAt: { type: ['string', 'null'], format: 'date-time' }, remainingSec: { type: ['number', 'null'] }, expectedContacts: { type: 'number' },
          reason: { type: 'string', description: 'why finishAt is null' }, answerRate: { type: ['number', 'null'] }, attemptsLeft: { type: 'number' },
          membersWaiting: { type: 'integer' }, lines: { type: 'integer' }, calendarOpenHoursPerWeek: { type: 'number' },
        },
      }),
      ...withDialer,
    },
  },
  // Calendars
  { method: 'get', path: '/api/v2/calendars', tag: 'calendars', summary: "List the domain's calendars", params: listParams, responses: { 200: ok({ type: 'array', items: { type: 'object' } }), ...common, ...budget } },
  {
    method: 'post', path: '/api/v2/calendars', tag: 'calendars', summary: 'Create a working-hours calendar (§3.2); dialers refer to it with calendar: {id}', params: [P.domain],
    body: ref('CalendarCreate'), bodyRequired: true, responses: { 200: ok(ref('InsertResult')), ...common, 413: errorResponse('Body too large'), 415: errorResponse('Not JSON') },
  },
  { method: 'get', path: '/api/v2/calendars/{id}', tag: 'calendars', summary: 'Get a calendar', params: [P.calendar, P.domain], responses: { 200: ok({ type: 'object' }), ...withCalendar } },
  {
    method: 'put', path: '/api/v2/calendars/{id}', tag: 'calendars', summary: 'Update a calendar (the fields given replace the stored ones); running dialers using it look at it at once',
    params: [P.calendar, P.domain], body: ref('CalendarUpdate'), bodyRequired: true, responses: { 200: ok(ref('UpdateResult')), ...withCalendar },
  },
  {
    method: 'delete', path: '/api/v2/calendars/{id}', tag: 'calendars', summary: 'Delete a calendar no dialer uses', params: [P.calendar, P.domain],
    responses: { 200: ok({ type: 'object' }), ...withCalendar, 409: errorResponse('Dialers use this calendar (named in `info`)') },
  },
  // Members
  { method: 'get', path: '/api/v2/dialer/{dialer}/members', tag: 'members', summary: 'List members (in _id order unless sort; next page: after=<X-Next-After>)', params: [P.dialer, ...listParams, { name: 'after', in: 'query', description: '_id of the last member of the previous page (not with sort or page); the X-Next-After response header names it', schema: { type: 'string', pattern: '^[0-9a-fA-F]{24}$' } }], responses: { 200: ok({ type: 'array', items: { type: 'object' } }), ...withDialer, ...budget } },
  {
    method: 'post', path: '/api/v2/dialer/{dialer}/members', tag: 'members', summary: 'Add one member or an array (at most 10000); all or nothing',
    params: [P.dialer, P.domain, { name: 'autoRun', in: 'query', description: '"true" starts the dialer after the insert', schema: { type: 'string', enum: ['true', 'false'] } }],
    body: { oneOf: [ref('MemberCreate'), { type: 'array', items: ref('MemberCreate'), minItems: 1, maxItems: 10000 }] }, bodyRequired: true,
    responses: { 200: ok(ref('InsertResult')), ...withDialer, 413: errorResponse('Body too large'), 415: errorResponse('Not JSON') },
  },
  {
    method: 'delete', path: '/api/v2/dialer/{dialer}/members', tag: 'members', summary: 'Delete the members matching a filter (body; {} = all); members in a call are kept',
    params: [P.dialer, P.domain], body: { type: 'object', description: 'MongoDB filter (allow-listed operators)' }, bodyRequired: true,
    responses: { 200: ok({ type: 'object', properties: { deletedCount: { type: 'integer' }, skippedLocked: { type: 'integer' } } }), ...withDialer },
  },
  { method: 'get', path: '/api/v2/dialer/{dialer}/members/count', tag: 'members', summary: 'Count members', params: [P.dialer, P.filter, P.domain], responses: { 200: ok({ type: 'integer' }), ...withDialer, ...budget } },
  {
    method: 'post', path: '/api/v2/dialer/{dialer}/members/aggregate', tag: 'members', summary: 'Aggregate members (safe stages only; at most 10000 results)',
    params: [P.dialer, P.domain], body: pipelineSchema, bodyRequired: true, responses: { 200: ok({ type: 'array', items: { type: 'object' } }), ...withDialer, ...budget },
  },
  {
    method: 'put', path: '/api/v2/dialer/{dialer}/members/reset', tag: 'members', summary: 'Revive members created since `from` that ended without success (§8.7)',
    params: [
      P.dialer, P.domain, { name: 'from', in: 'query', required: true, schema: { type: 'integer', minimum: 0 } }, { name: '_log', in: 'query', description: 'root only: replace the attempt log', schema: { type: 'string', enum: ['true', 'false'] } },
      { name: 'wait', in: 'query', description: '"false": answer 202 with the progress once the reset is under way (poll GET …/members/reset); default: answer when done', schema: { type: 'string', enum: ['true', 'false'] } },
    ],
    responses: {
      200: okInfo({ type: 'integer' }), 202: ok(ref('ResetProgress')), ...withDialer, 403: errorResponse('_log=true without root credentials'),
      409: errorResponse('A reset of this dialer\'s members is running'),
    },
  },
  {
    method: 'get', path: '/api/v2/dialer/{dialer}/members/reset', tag: 'members', summary: 'Progress of the newest members reset (what a console polls)',
    params: [P.dialer, P.domain], responses: { 200: ok(ref('ResetProgress')), ...withDialer },
  },
  {
    method: 'post', path: '/api/v2/dialer/{dialer}/members/import', tag: 'members', summary: 'Import members from a CSV stream (§10)',
    params: [
      P.dialer, P.domain,
      { name: 'separator', in: 'query', schema: { type: 'string' }, description: 'one character, or "tab"; default: detected from the first line (the most frequent of , ; TAB outside quotes)' },
      { name: 'charset', in: 'query', schema: { type: 'string', default: 'utf-8' } },
      { name: 'mapping', in: 'query', schema: { type: 'string' }, description: 'columns in order: Name, Priority, Expire, Timezone, number_N, priority_N, description_N, type_N (N=1…100), Variable:<name>, - ; default: the header row (state columns of an export are skipped)' },
      { name: 'skipHeader', in: 'query', schema: { type: 'string', enum: ['true', 'false'] } },
      { name: 'expireFormat', in: 'query', schema: { type: 'string' }, description: 'moment.js-style format of Expire; default: DD-MM-YYYY HH:mm or DD.MM.YYYY HH:mm; ISO 8601 is always accepted' },
      { name: 'timezone', in: 'query', schema: { type: 'string' }, description: "zone of the Expire column; default: the campaign calendar's time zone" },
      { name: 'region', in: 'query', schema: { type: 'string' }, description: 'default region (ISO 3166-1 alpha-2) for numbers without a country code' },
      { name: 'normalize', in: 'query', schema: { type: 'string', enum: ['e164', 'none'] } },
      { name: 'dedupe', in: 'query', schema: { type: 'string', enum: ['campaign', 'file', 'none'] } },
      { name: 'deleteExisting', in: 'query', schema: { type: 'string', enum: ['true', 'false'] } },
      { name: 'autoRun', in: 'query', schema: { type: 'string', enum: ['true', 'false'] } },
      { name: 'importId', in: 'query', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{8,64}$' }, description: 'progress of this import under GET …/members/import/{importId}' },
    ],
    body: { content: { 'text/csv': { schema: { type: 'string' } } }, required: true },
    responses: { 200: ok(ref('ImportReport')), ...withDialer, 409: errorResponse('importId already used in this domain'), 413: errorResponse('Body too large'), 415: errorResponse('Not text/csv') },
  },
  {
    method: 'get', path: '/api/v2/dialer/{dialer}/members/import/{importId}', tag: 'members', summary: 'Progress of a CSV import started with importId (rows stored)',
    params: [P.dialer, P.domain, { name: 'importId', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{8,64}$' } }],
    responses: {
      200: ok({
        type: 'object',
        properties: {
          importId: { type: 'string' }, state: { type: 'string', enum: ['running', 'done', 'failed'] }, rowsRead: { type: 'integer' }, rowsStored: { type: 'integer' },
          rowsRejected: { type: 'integer' }, errors: { type: 'array', items: { type: 'object', properties: { row: { type: 'integer' }, reason: { type: 'string' } } } },
          report: { type: 'object' }, startedAt: { type: 'string', format: 'date-time' }, finishedAt: { type: 'string', format: 'date-time' },
        },
      }),
      ...withDialer,
    },
  },
  {
    method: 'get', path: '/api/v2/dialer/{dialer}/members/export', tag: 'members', summary: 'Export members as a CSV stream that the import reads back (§10)',
    params: [
      P.dialer, P.domain, P.filter,
      { name: 'separator', in: 'query', schema: { type: 'string', default: ',' }, description: 'one character, or "tab"' },
      { name: 'columns', in: 'query', schema: { type: 'string' }, description: 'comma-separated column names in order (import names: Name, Priority, Expire, Timezone, number_N, priority_N, description_N, type_N, variable names; state: _id, _endCause, _probeCount, callSuccessful, lastCall, _nextTryTime, createdOn, state_N, attempts_N); default: all, numbers and variables as the members have them' },
    ],
    responses: {
      200: { description: 'CSV (chunked); cells starting with = + - @ TAB CR are prefixed with \'', content: { 'text/csv': { schema: { type: 'string' } } } },
      ...withDialer, 429: errorResponse('The domain already runs its share of list/count/aggregate/export queries'),
    },
  },
  { method: 'get', path: '/api/v2/dialer/{dialer}/members/{id}', tag: 'members', summary: 'Get a member', params: [P.dialer, P.member, P.domain], responses: { 200: ok({ type: 'object' }), ...withMember } },
  {
    method: 'put', path: '/api/v2/dialer/{dialer}/members/{id}', tag: 'members', summary: 'Update a member (client fields; engine-owned number fields kept)',
    params: [P.dialer, P.member, P.domain], body: ref('MemberUpdate'), bodyRequired: true,
    responses: { 200: ok(ref('UpdateResult')), ...withMember, 406: errorResponse('Member is in a call') },
  },
  {
    method: 'delete', path: '/api/v2/dialer/{dialer}/members/{id}', tag: 'members', summary: 'Delete a member', params: [P.dialer, P.member, P.domain],
    responses: { 200: ok({ type: 'object' }), ...withMember, 406: errorResponse('Member is in a call') },
  },
  {
    method: 'put', path: '/api/v2/dialer/{dialer}/members/{id}/status', tag: 'members', summary: 'Result status of the last call (§6.5); during the call it is kept and applied when the call ends',
    params: [P.dialer, P.member, P.domain], body: ref('Status'), bodyRequired: true,
    responses: {
      200: { description: 'Accepted', content: json({ type: 'object', properties: { status: { const: 'OK' }, info: { const: 'success' } } }) },
      ...withMember, 400: errorResponse('Bad body, or the member is not waiting for a result status'), 503: errorResponse('The member workflow did not answer in time'),
    },
  },
  {
    method: 'put', path: '/api/v2/dialer/{dialer}/members/{id}/terminate', tag: 'members', summary: 'End a member with MANAGER_REQUEST (§9.4)',
    params: [P.dialer, P.member, P.domain],
    responses: { 200: okInfo({ type: 'object', properties: { _id: { type: 'string' }, waitHangupCause: { type: 'string' } } }), ...withMember, 405: errorResponse('Already ended'), 503: errorResponse('The member workflow did not answer in time') },
  },
  // Import/export templates (§9.2)
  { method: 'get', path: '/api/v2/dialer/{dialer}/templates', tag: 'templates', summary: "List the dialer's import/export templates", params: [P.dialer, P.domain], responses: { 200: ok({ type: 'array', items: { type: 'object' } }), ...withDialer } },
  {
    method: 'post', path: '/api/v2/dialer/{dialer}/templates', tag: 'templates', summary: 'Create a WEB template (URL checked against the outbound allow-list; cron becomes a schedule in the calendar zone)',
    params: [P.dialer, P.domain], body: ref('TemplateCreate'), bodyRequired: true, responses: { 200: ok(ref('InsertResult')), ...withDialer },
  },
  { method: 'get', path: '/api/v2/dialer/{dialer}/templates/{id}', tag: 'templates', summary: 'Get a template with its last job (`process`)', params: [P.dialer, P.template, P.domain], responses: { 200: ok({ type: 'object' }), ...withDialer } },
  { method: 'put', path: '/api/v2/dialer/{dialer}/templates/{id}', tag: 'templates', summary: 'Update a template (the fields given replace the stored ones)', params: [P.dialer, P.template, P.domain], body: ref('TemplateCreate'), bodyRequired: true, responses: { 200: ok(ref('UpdateResult')), ...withDialer } },
  { method: 'delete', path: '/api/v2/dialer/{dialer}/templates/{id}', tag: 'templates', summary: 'Delete a template and its schedule', params: [P.dialer, P.template, P.domain], responses: { 200: ok({ type: 'object' }), ...withDialer } },
  {
    method: 'put', path: '/api/v2/dialer/{dialer}/templates/{id}/execute', tag: 'templates', summary: 'Run the template now: the HTTP request with X-Action, X-Response-Host, X-Response-Path, X-Dialer-Id, X-Template-Id (import + before_delete deletes the members first)',
    params: [P.dialer, P.template, P.domain], responses: { 200: ok({ type: 'object', properties: { pid: { type: 'string' } } }), ...withDialer },
  },
  {
    method: 'put', path: '/api/v2/dialer/{dialer}/templates/{id}/end/{pid}', tag: 'templates', summary: 'Close a job (the receiver calls X-Response-Path); success=true starts next_process_id with this JSON body as success_data',
    params: [P.dialer, P.template, P.pid, { name: 'success', in: 'query', schema: { type: 'boolean' } }, { name: 'message', in: 'query', schema: { type: 'string' } }, P.domain],
    responses: { 200: ok({ type: 'object', properties: { pid: { type: 'string' } } }), ...withDialer, 409: errorResponse('The job has already ended') },
  },
  // Webhooks
  { method: 'get', path: '/api/v2/hooks', tag: 'webhooks', summary: "List the domain's member-end webhooks", params: [P.domain], responses: { 200: ok({ type: 'array', items: ref('Webhook') }), ...common } },
  {
    method: 'post', path: '/api/v2/hooks', tag: 'webhooks', summary: 'Subscribe a URL to engine::dialer_member_end events of the domain', params: [P.domain],
    body: ref('WebhookCreate'), bodyRequired: true, responses: { 200: ok(ref('Webhook')), ...common },
  },
  { method: 'get', path: '/api/v2/hooks/{id}', tag: 'webhooks', summary: 'Get a webhook with delivery counters', params: [P.hook, P.domain], responses: { 200: ok(ref('Webhook')), ...common, 404: errorResponse('Not found') } },
  { method: 'delete', path: '/api/v2/hooks/{id}', tag: 'webhooks', summary: 'Delete a webhook', params: [P.hook, P.domain], responses: { 200: ok({ type: 'object' }), ...common, 404: errorResponse('Not found') } },
  // Compliance (beyond v3)
  {
    method: 'get', path: '/api/v2/dnc', tag: 'compliance', summary: "A page of the domain's do-not-call list in number order (header X-Next-After: pass it as after= for the next page)",
    params: [P.domain, { name: 'limit', in: 'query', description: '1-1000 (default 100)', schema: { type: 'integer' } }, { name: 'after', in: 'query', description: 'The last number of the previous page', schema: { type: 'string' } }],
    responses: { 200: ok({ type: 'array', items: ref('DncEntry') }), ...common },
  },
  {
    method: 'post', path: '/api/v2/dnc', tag: 'compliance', summary: 'List a number (digits only are kept): it is never dialled by any campaign of the domain', params: [P.domain],
    body: ref('DncEntry'), bodyRequired: true, responses: { 200: ok(ref('DncEntry'), 'Already listed'), 201: ok(ref('DncEntry'), 'Listed'), ...common },
  },
  {
    method: 'post', path: '/api/v2/dnc/import', tag: 'compliance', summary: 'Import numbers from CSV (`number[,note]`, an optional header row); each bad row is rejected with its line', params: [P.domain],
    body: { content: { 'text/csv': { schema: { type: 'string' } } }, required: true },
    responses: { 200: ok({ type: 'object' }), ...common, 413: errorResponse('Body too large'), 415: errorResponse('Not text/csv') },
  },
  {
    method: 'get', path: '/api/v2/dnc/{number}', tag: 'compliance', summary: 'Is this number listed?',
    params: [{ name: 'number', in: 'path', required: true, schema: { type: 'string' } }, P.domain], responses: { 200: ok(ref('DncEntry')), ...common, 404: errorResponse('Not listed') },
  },
  {
    method: 'delete', path: '/api/v2/dnc/{number}', tag: 'compliance', summary: 'Remove a number from the list',
    params: [{ name: 'number', in: 'path', required: true, schema: { type: 'string' } }, P.domain], responses: { 200: ok({ type: 'object' }), ...common, 404: errorResponse('Not listed') },
  },
  { method: 'get', path: '/api/v2/compliance', tag: 'compliance', summary: "The domain's compliance settings", params: [P.domain], responses: { 200: ok(ref('ComplianceSettings')), ...common } },
  {
    method: 'put', path: '/api/v2/compliance', tag: 'compliance', summary: 'Set the contact-frequency cap: at most `attempts` originates per number in any `windowSec`, across the campaigns of the domain', params: [P.domain],
    body: ref('ComplianceSettings'), bodyRequired: true, responses: { 200: ok(ref('ComplianceSettings')), ...common },
  },
  // Agents
  { method: 'get', path: '/api/v2/agents', tag: 'agents', summary: "List the domain's agents (status, state, parameters, per-campaign statistics)", params: [P.domain], responses: { 200: ok({ type: 'array', items: ref('Agent') }), ...common } },
  {
    method: 'post', path: '/api/v2/agents', tag: 'agents', summary: 'Create an agent (starts its workflow; answers once stored)', params: [P.domain],
    body: ref('AgentCreate'), bodyRequired: true, responses: { 200: ok(ref('Agent')), ...common, 409: errorResponse('The agent exists') },
  },
  {
    method: 'get', path: '/api/v2/agents/events', tag: 'agents', summary: 'Server-Sent Events of the domain\'s agents: status, offered (§7.6 data), connected, ended, wrap-up-started, wrap-up-ended',
    params: [P.domain, { name: 'agent', in: 'query', description: 'Only this agent', schema: { type: 'string' } }, { name: 'since', in: 'query', description: 'Resume after this event id (or send Last-Event-ID)', schema: { type: 'string' } }],
    responses: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...common },
  },
  { method: 'get', path: '/api/v2/agents/{name}', tag: 'agents', summary: 'Get an agent', params: [P.agent, P.domain], responses: { 200: ok(ref('Agent')), ...common, 404: errorResponse('Not found') } },
  {
    method: 'put', path: '/api/v2/agents/{name}', tag: 'agents', summary: "Change an agent's contact, description or parameters", params: [P.agent, P.domain],
    body: ref('AgentUpdate'), bodyRequired: true, responses: { 200: ok(ref('Agent')), ...common, 404: errorResponse('Not found') },
  },
  {
    method: 'put', path: '/api/v2/agents/{name}/status', tag: 'agents', summary: 'Set status and/or state (§7.1), e.g. {"status":"Available","state":"Waiting"}', params: [P.agent, P.domain],
    body: ref('AgentStatus'), bodyRequired: true, responses: { 200: ok(ref('Agent')), ...common, 404: errorResponse('Not found') },
  },
  {
    method: 'post', path: '/api/v2/dialer/{dialer}/agents/stats', tag: 'agents', summary: "Per-agent statistics of this dialer in v3's fields (§11.3)", params: [P.dialer, P.domain],
    body: ref('AgentStats'), bodyRequired: true, responses: { 200: ok({ type: 'array', items: { type: 'object' } }), ...common, 404: errorResponse('Dialer not found') },
  },
  {
    method: 'put', path: '/api/v2/agents/{name}/preview', tag: 'agents', summary: 'Preview: accept, skip or reschedule the member offered to the agent (before the call)', params: [P.agent, P.domain],
    body: ref('PreviewDecision'), bodyRequired: true, responses: { 200: ok(ref('Agent')), ...common, 404: errorResponse('Not found'), 409: errorResponse('No preview of this offer awaits a decision') },
  },
  { method: 'delete', path: '/api/v2/agents/{name}', tag: 'agents', summary: 'Remove an agent (409 while a call is offered to it)', params: [P.agent, P.domain], responses: { 200: ok({ type: 'object' }), ...common, 404: errorResponse('Not found'), 409: errorResponse('A call is offered to the agent') } },
];

export function openapiDocument(): Json {
  const paths: Record<string, Json> = {};
  for (const op of OPERATIONS) {
    const o: Json = {
      tags: [op.tag],
      summary: op.summary,
      operationId: `${op.method}${op.path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      parameters: op.params ?? [],
      responses: op.responses,
    };
    if (op.public) o.security = [];
    if (op.body) {
      o.requestBody =
        'content' in op.body
          ? op.body
          : { required: !!op.bodyRequired, content: json(op.body as Json) };
    }
    (paths[op.path] ??= {})[op.method] = o;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Durable Dialer REST API',
      version: '2.0.0',
      description:
        'Webitel v3 compatible dialer API (`/api/v2/dialer…`). Envelopes: `{"status":"OK","data":…}` (some routes use `info`), errors `{"status":"error","info":"<field>: <problem>"}`. Credentials: headers `X-Key` + `X-Access-Token` (or `x_key`/`access_token` in the query string or JSON body).',
    },
    servers: [{ url: '/' }],
    security: [{ XKey: [], XAccessToken: [] }],
    tags: [{ name: 'dialers' }, { name: 'calendars' }, { name: 'members' }, { name: 'templates' }, { name: 'webhooks' }, { name: 'agents' }, { name: 'compliance' }, { name: 'auth' }, { name: 'system' }],
    paths,
    components: {
      securitySchemes: {
        XKey: { type: 'apiKey', in: 'header', name: 'X-Key' },
        XAccessToken: { type: 'apiKey', in: 'header', name: 'X-Access-Token' },
      },
      schemas: {
        Error: { type: 'object', required: ['status', 'info'], properties: { status: { const: 'error' }, info: { type: 'string' } } },
        InsertResult: { type: 'object', properties: { result: { type: 'object' }, insertedCount: { type: 'integer' }, insertedIds: { type: 'array', items: { type: 'string' } }, ops: { type: 'array' } } },
        UpdateResult: { type: 'object', properties: { result: { type: 'object', properties: { ok: { type: 'integer' }, n: { type: 'integer' }, nModified: { type: 'integer' } } } } },
        ImportReport: {
          type: 'object',
          properties: {
            separator: { type: 'string' }, rows: { type: 'integer' }, imported: { type: 'integer' }, rejected: { type: 'integer' }, duplicates: { type: 'integer' }, deletedBefore: { type: 'integer' },
            errors: { type: 'array', items: { type: 'object', properties: { line: { type: 'integer' }, reason: { type: 'string' } } } },
            errorsTruncated: { type: 'boolean' }, durationMs: { type: 'integer' },
          },
        },
        Webhook: { type: 'object' },
        DialerCreate: schema(dialerCreateSchema),
        DialerUpdate: schema(dialerUpdateSchema),
        CalendarCreate: schema(calendarCreateSchema),
        CalendarUpdate: schema(calendarUpdateSchema),
        MemberCreate: schema(memberCreateSchema),
        MemberUpdate: schema(memberUpdateSchema),
        Status: schema(statusSchema),
        Reset: schema(resetSchema),
        ResetProgress: {
          type: 'object',
          properties: {
            state: { type: 'string', enum: ['running', 'done', 'failed', 'interrupted'], description: 'interrupted: its process stopped before the end (no progress for 2 min); a new reset continues' },
            reset: { type: 'integer', description: 'members reset so far' },
            ended: { type: 'integer', description: 'ended members when it began: at most this many are reset' },
            startedAt: { type: 'integer' }, updatedAt: { type: 'integer' }, finishedAt: { type: 'integer' }, error: { type: 'string' },
          },
        },
        WebhookCreate: schema(webhookCreateSchema),
        TemplateCreate: schema(templateCreateSchema),
        DncEntry: schema(dncEntrySchema),
        ComplianceSettings: schema(complianceSettingsSchema),
        Agent: { type: 'object' },
        AgentCreate: schema(agentCreateSchema),
        AgentUpdate: schema(agentUpdateSchema),
        AgentStatus: schema(agentStatusSchema),
        AgentStats: schema(agentStatsSchema),
        PreviewDecision: schema(previewDecisionSchema),
      },
    },
  };
}

export const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Durable Dialer API</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#222}
h1{font-size:1.5em} h2{margin-top:2em;border-bottom:1px solid #ddd} .op{margin:.6em 0;padding:.5em .8em;border:1px solid #e3e3e3;border-radius:6px}
.m{display:inline-block;min-width:4.5em;font-weight:700;text-transform:uppercase} .get{color:#0a7}.post{color:#06c}.put{color:#c70}.delete{color:#c22}
code{background:#f4f4f4;padding:0 .25em;border-radius:3px} details pre{background:#f8f8f8;padding:.6em;overflow:auto;max-height:30em}
table{border-collapse:collapse;margin:.4em 0} td,th{border:1px solid #e3e3e3;padding:.15em .5em;text-align:left;vertical-align:top}
</style></head><body>
<h1>Durable Dialer REST API</h1>
<p>Machine-readable document: <a href="/api/v2/openapi.json">/api/v2/openapi.json</a> (OpenAPI 3.1). Credentials: headers <code>X-Key</code> and <code>X-Access-Token</code>.</p>
<div id="ops">Loading…</div>
<script>
fetch('/api/v2/openapi.json').then(r => r.json()).then(doc => {
  const esc = s => String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
  const resolve = s => s && s.$ref ? doc.components.schemas[s.$ref.split('/').pop()] : s;
  const byTag = {};
  for (const [path, item] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(item)) (byTag[op.tags[0]] ||= []).push({ path, method, op });
  let html = '';
  for (const [tag, ops] of Object.entries(byTag)) {
    html += '<h2>' + esc(tag) + '</h2>';
    for (const { path, method, op } of ops) {
      html += '<div class="op"><span class="m ' + method + '">' + method + '</span> <code>' + esc(path) + '</code> — ' + esc(op.summary);
      if (op.parameters && op.parameters.length) html += '<table><tr><th>parameter</th><th>in</th><th>description</th></tr>' + op.parameters.map(p => '<tr><td><code>' + esc(p.name) + '</code>' + (p.required ? ' *' : '') + '</td><td>' + esc(p.in) + '</td><td>' + esc(p.description || '') + '</td></tr>').join('') + '</table>';
      if (op.requestBody) for (const [type, c] of Object.entries(op.requestBody.content)) html += '<details><summary>body ' + esc(type) + '</summary><pre>' + esc(JSON.stringify(resolve(c.schema), null, 2)) + '</pre></details>';
      html += '<div>responses: ' + Object.entries(op.responses).map(([code, r]) => '<code>' + code + '</code> ' + esc(r.description)).join('; ') + '</div></div>';
    }
  }
  document.getElementById('ops').innerHTML = html;
});
</script></body></html>`;

/** The OpenAPI document and its docs page. */
export function docsRoutes(router: Router): void {
  let doc: Record<string, unknown> | null = null;
  router.get('/api/v2/openapi.json', (ctx) => {
    doc ??= openapiDocument();
    ctx.body = doc;
  });
  router.get('/api/v2/docs', (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = DOCS_HTML;
  });
}
