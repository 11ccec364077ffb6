// Routes added after the core dialer/member surface: the CSV import (spec §10), the OpenAPI
// document and docs page, and member-end webhooks.
import crypto from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { config } from '../lib/config';
import { configuredAllowList, forbiddenUrl } from '../lib/outbound';
import { Delivery, Webhook } from '../models/webhook';
import { WEBHOOK_DISPATCHER_ID, type WebhookDispatcherInput } from '../workflows/webhook';
import { authOf, domainOf } from './auth';
import { DOCS_HTML, openapiDocument } from './openapi';
import { webhookCreateSchema } from './schemas';
import { importCsv, parseMapping, regionParam } from './csv-import';
import { campaignTimeZone, csvSeparator } from './csv-export';
import type { RouteDeps } from './deps';
import { assertTypeDialable, findDialer } from './dialers';
import { badRequest, HttpError, notFound, objectBody, objectIdParam, queryParam, sendData } from './http';
import { afterImport, deleteMembers } from './members';

function boolParam(ctx: Context, name: string, def: boolean): boolean {
  const v = queryParam(ctx, name);
  if (v === undefined || v === '') return def;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw badRequest(`${name}: must be true or false`);
}

function enumParam<T extends string>(ctx: Context, name: string, allowed: readonly T[], def: T): T {
  const v = queryParam(ctx, name);
  if (v === undefined || v === '') return def;
  if (!(allowed as readonly string[]).includes(v)) throw badRequest(`${name}: must be one of ${allowed.join(', ')}`);
  return v as T;
}

/** Counts bytes through a stream and stops past the limit (413). */
async function* limited(source: AsyncIterable<Buffer>, limit: number): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const chunk of source) {
    n += chunk.length;
    if (n > limit) throw new HttpError(413, `body too large: at most ${limit} bytes`);
    yield chunk;
  }
}

/** Starts the webhook dispatcher of this task queue unless it runs (idempotent). */
export async function ensureWebhookDispatcher(client: Client, taskQueue = config.temporal.taskQueue, input: WebhookDispatcherInput = {}): Promise<void> {
  await client.workflow.start('webhookDispatcherWorkflow', {
    workflowId: `${WEBHOOK_DISPATCHER_ID}-${taskQueue}`,
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
  });
}

function publicHook(h: Record<string, unknown>): Record<string, unknown> {
  const { secret: _secret, ...rest } = h;
  return rest;
}

export function extraRoutes(router: Router, deps: RouteDeps): void {
  let doc: Record<string, unknown> | null = null;
  router.get('/api/v2/openapi.json', (ctx) => {
    doc ??= openapiDocument();
    ctx.body = doc;
  });
  router.get('/api/v2/docs', (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = DOCS_HTML;
  });

  router.get('/api/v2/hooks', async (ctx) => {
    const d = domainOf(ctx);
    const rows = await Webhook.find(d === null ? {} : { domain: d }, { secret: 0 }).sort({ createdOn: 1 }).limit(1000).maxTimeMS(deps.queryTimeoutMs).lean();
    sendData(ctx, rows);
  });

  router.post('/api/v2/hooks', async (ctx) => {
    const domain = domainOf(ctx, { required: true })!;
    const body = webhookCreateSchema.parse(await objectBody(ctx));
    const refused = forbiddenUrl(body.url, configuredAllowList());
    if (refused) throw badRequest(`url: ${refused} (the operator can allow it in WEBHOOK_ALLOW_HOSTS)`);
    const max = config.webhooks.maxPerDomain;
    if ((await Webhook.countDocuments({ domain })) >= max) throw badRequest(`url: at most ${max} webhooks per domain`);
    const secret = crypto.randomBytes(24).toString('base64url');
    const created = await Webhook.create({ ...body, event: 'engine::dialer_member_end', domain, secret });
    await ensureWebhookDispatcher(deps.client, deps.taskQueue, deps.webhookDispatcher);
    // The signing secret is shown once.
    sendData(ctx, { ...created.toObject(), secret });
  });

  router.get('/api/v2/hooks/:id', async (ctx) => {
    const id = objectIdParam(ctx, 'id');
    const d = domainOf(ctx);
    const hook = await Webhook.findOne({ _id: id, ...(d === null ? {} : { domain: d }) }).lean();
    if (!hook) throw notFound('webhook not found');
    const counts = await Delivery.aggregate([{ $match: { hook: id } }, { $group: { _id: '$status', n: { $sum: 1 } } }]);
    sendData(ctx, { ...publicHook(hook as unknown as Record<string, unknown>), deliveries: Object.fromEntries(counts.map((c: { _id: string; n: number }) => [c._id, c.n])) });
  });

  router.delete('/api/v2/hooks/:id', async (ctx) => {
    const id = objectIdParam(ctx, 'id');
    const d = domainOf(ctx);
    const res = await Webhook.deleteOne({ _id: id, ...(d === null ? {} : { domain: d }) });
    if (res.deletedCount === 0) throw notFound('webhook not found');
    sendData(ctx, { result: { ok: 1, n: res.deletedCount } });
  });

  router.post('/api/v2/dialer/:dialer/members/import', async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    if (queryParam(ctx, 'autoRun') === 'true') assertTypeDialable(dialer.type);
    if (!ctx.is('text/csv', 'application/csv', 'text/plain')) {
      throw new HttpError(415, `content-type: must be text/csv (got ${ctx.get('content-type') || 'none'})`);
    }
    if (Number(ctx.get('content-length') || 0) > deps.maxCsvBytes) throw new HttpError(413, `body too large: at most ${deps.maxCsvBytes} bytes`);
    const delimiter = csvSeparator(queryParam(ctx, 'separator'));
    const charset = queryParam(ctx, 'charset') || ctx.request.charset || 'utf-8';
    try {
      new TextDecoder(charset);
    } catch {
      throw badRequest(`charset: "${charset}" is not a known character set`);
    }
    const mappingRaw = queryParam(ctx, 'mapping');
    const mapping = mappingRaw ? parseMapping(mappingRaw) : undefined;
    const skipHeader = boolParam(ctx, 'skipHeader', !mapping);
    if (!mapping && !skipHeader) throw badRequest('mapping: required when skipHeader=false (without it the header row names the columns)');
    const expireZone = queryParam(ctx, 'timezone') || (await campaignTimeZone(dialer));
    try {
      new Intl.DateTimeFormat('en', { timeZone: expireZone });
    } catch {
      throw badRequest('timezone: not an IANA time zone');
    }
    const deleteExisting = boolParam(ctx, 'deleteExisting', false);
    const user = authOf(ctx).key;
    const report = await importCsv(limited(ctx.req, deps.maxCsvBytes), {
      dialer: String(dialer._id),
      domain: dialer.domain,
      delimiter,
      charset,
      mapping,
      skipHeader,
      expireFormat: queryParam(ctx, 'expireFormat') || undefined,
      expireZone,
      region: regionParam(queryParam(ctx, 'region')),
      normalize: enumParam(ctx, 'normalize', ['e164', 'none'] as const, 'e164'),
      dedupe: enumParam(ctx, 'dedupe', ['campaign', 'file', 'none'] as const, 'campaign'),
      deleteExisting,
      deleteMembers: async () => (await deleteMembers(deps, dialer, {})).deleted,
    });
    deps.log.info({ dialer: String(dialer._id), user, ...report, errors: undefined }, 'CSV import');
    if (report.imported > 0) await afterImport(deps, ctx, dialer, queryParam(ctx, 'autoRun') === 'true');
    sendData(ctx, report);
  });
}
