// Member-end webhooks (beyond v3): registration per domain, checked against the outbound allow-list.
import crypto from 'node:crypto';
import type Router from '@koa/router';
import { config } from '../lib/config';
import { configuredAllowList, forbiddenUrl } from '../lib/outbound';
import { Delivery, Webhook } from '../models/webhook';
import { ensureWebhookDispatcher } from '../workflows/start';
import { domainOf } from './auth';
import { webhookCreateSchema } from './schemas';
import type { RouteDeps } from './deps';
import { badRequest, notFound, objectBody, objectIdParam, sendData } from './http';

function publicHook(h: Record<string, unknown>): Record<string, unknown> {
  const { secret: _secret, ...rest } = h;
  return rest;
}

export function webhookRoutes(router: Router, deps: RouteDeps): void {
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
}
