// Activities of member-end webhook delivery (workflows/webhook.ts). Events are the stored
// `engine::dialer_member_end` documents (models/member-end.ts); each is POSTed, exactly as recorded,
// to every enabled webhook of its domain. Retries and backoff are the workflow's activity retry policy.
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { ApplicationFailure } from '@temporalio/activity';
import type { Logger } from 'pino';
import { MemberEnd } from '../models/member-end';
import { config } from '../lib/config';
import { configuredAllowList, ForbiddenTargetError, forbiddenUrl, guardedLookup, type AllowList, type Resolver } from '../lib/outbound';
import { Delivery, Webhook } from '../models/webhook';

export interface PendingEvent {
  eventId: string;
  createdOn: number;
  hookIds: string[];
}

export interface WebhookActivities {
  /** Up to `limit` not yet queued events created at/after `since`, with their domain's hook ids. */
  claimMemberEnds(i: { since: number; limit: number }): Promise<PendingEvent[]>;
  /** Marks events as handed to delivery workflows. */
  markQueued(i: { eventIds: string[] }): Promise<void>;
  /** One POST of one event to one webhook; throws (→ retry) unless the receiver answered 2xx. */
  postWebhook(i: { eventId: string; hookId: string }): Promise<'delivered' | 'skipped' | 'gone'>;
}

export const SIGNATURE_HEADER = 'X-Dialer-Signature';

export function signBody(secret: string, body: string): string {
  return `sha256=${crypto.createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** POSTs `body` once; resolves with the status code. Redirects are not followed (http.request never does). */
function post(url: string, headers: Record<string, string>, body: string, o: { lookup: ReturnType<typeof guardedLookup>; timeoutMs: number }): Promise<number> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = request(u, { method: 'POST', headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) }, lookup: o.lookup, timeout: o.timeoutMs, signal: AbortSignal.timeout(o.timeoutMs) }, (res) => {
      res.resume(); // the receiver's body is not needed
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** At most `limit` tasks at a time per key; the rest wait their turn (a finished task hands its slot on). */
class KeyedSlots {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();
  constructor(private readonly limit: number) {}
  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const n = this.active.get(key) ?? 0;
    if (n >= this.limit) await new Promise<void>((r) => this.waiting.set(key, [...(this.waiting.get(key) ?? []), r]));
    else this.active.set(key, n + 1);
    try {
      return await task();
    } finally {
      this.release(key);
    }
  }
  private release(key: string): void {
    const queue = this.waiting.get(key);
    const next = queue?.shift();
    if (!queue?.length) this.waiting.delete(key);
    if (next) return next();
    const n = (this.active.get(key) ?? 1) - 1;
    if (n) this.active.set(key, n);
    else this.active.delete(key);
  }
}

export interface WebhookActivityDeps {
  log: Logger;
  timeoutMs?: number;
  /** Name resolution for delivery (tests stub it); the system resolver by default. */
  resolve?: Resolver;
  /** The allow-list of otherwise refused targets; WEBHOOK_ALLOW_HOSTS by default. */
  allowList?: () => AllowList;
  /** POSTs in flight per domain in this process (default WEBHOOK_CONCURRENCY_PER_DOMAIN). */
  concurrencyPerDomain?: number;
}

export function createWebhookActivities(deps: WebhookActivityDeps): WebhookActivities {
  const { log } = deps;
  const slots = new KeyedSlots(Math.max(1, deps.concurrencyPerDomain ?? config.webhooks.concurrencyPerDomain));
  /** A target that is not allowed is never retried: the delivery ends as `refused`. */
  const refuse = async (id: string, url: string, why: string): Promise<never> => {
    await Delivery.updateOne({ _id: id }, { $set: { status: 'refused', lastError: why } });
    log.warn({ id, url, why }, 'webhook target refused');
    throw ApplicationFailure.nonRetryable(`webhook ${url}: ${why}`, 'WebhookTargetRefused');
  };
  return {
    async claimMemberEnds({ since, limit }) {
      const rows = await MemberEnd.find({ createdOn: { $gte: since }, webhookQueued: { $ne: true } }, { _id: 1, domain: 1, createdOn: 1 })
        .sort({ createdOn: 1, _id: 1 })
        .limit(limit)
        .lean<{ _id: string; domain: string; createdOn: number }[]>();
      const domains = [...new Set(rows.map((r) => r.domain))];
      const hooks = domains.length
        ? await Webhook.find({ domain: { $in: domains }, enabled: true }, { _id: 1, domain: 1 }).lean()
        : [];
      const byDomain = new Map<string, string[]>();
      for (const h of hooks) byDomain.set(h.domain, [...(byDomain.get(h.domain) ?? []), String(h._id)]);
      return rows.map((r) => ({ eventId: r._id, createdOn: r.createdOn, hookIds: byDomain.get(r.domain) ?? [] }));
    },

    async markQueued({ eventIds }) {
      if (eventIds.length) await MemberEnd.updateMany({ _id: { $in: eventIds } }, { $set: { webhookQueued: true } });
    },

    async postWebhook({ eventId, hookId }) {
      const id = `${eventId}|${hookId}`;
      const [ev, hook] = await Promise.all([
        MemberEnd.findById(eventId).lean<{ _id: string; domain: string; event: unknown }>(),
        Webhook.findById(hookId).lean(),
      ]);
      if (!ev || !hook || !hook.enabled || hook.domain !== ev.domain) {
        await Delivery.updateOne({ _id: id }, { $set: { status: 'skipped' }, $setOnInsert: { event: eventId, hook: hookId, domain: ev?.domain ?? '' } }, { upsert: true });
        return 'skipped';
      }
      const body = JSON.stringify(ev.event);
      await Delivery.updateOne(
        { _id: id },
        { $inc: { attempts: 1 }, $setOnInsert: { event: eventId, hook: hookId, domain: ev.domain, status: 'pending', createdOn: Date.now() } },
        { upsert: true },
      );
      const allow = (deps.allowList ?? configuredAllowList)();
      const refused = forbiddenUrl(hook.url, allow);
      if (refused) return refuse(id, hook.url, refused);
      let status = 0;
      let error: string | null = null;
      try {
        status = await slots.run(ev.domain, () =>
          post(hook.url, {
            ...(hook.headers ?? {}),
            'Content-Type': 'application/json',
            'User-Agent': 'durable-dialer-webhooks',
            'X-Dialer-Event': 'engine::dialer_member_end',
            'X-Dialer-Event-Id': eventId,
            [SIGNATURE_HEADER]: signBody(hook.secret, body),
          }, body, { lookup: guardedLookup(allow, deps.resolve), timeoutMs: deps.timeoutMs ?? 15_000 }),
        );
      } catch (err) {
        if (err instanceof ForbiddenTargetError) return refuse(id, hook.url, err.message);
        error = String((err as Error).message ?? err);
      }
      if (status >= 300 && status < 400) error = `HTTP ${status}: redirects are not followed`;
      if (status >= 200 && status < 300) {
        await Delivery.updateOne({ _id: id }, { $set: { status: 'delivered', lastStatus: status, lastError: null, deliveredOn: Date.now() } });
        return 'delivered';
      }
      if (status === 410) {
        // The receiver says this subscription is gone: stop retrying this delivery.
        await Delivery.updateOne({ _id: id }, { $set: { status: 'gone', lastStatus: status } });
        return 'gone';
      }
      const why = error ?? `HTTP ${status}`;
      await Delivery.updateOne({ _id: id }, { $set: { lastStatus: status || null, lastError: why } });
      log.warn({ eventId, hookId, url: hook.url, why }, 'webhook delivery failed; will retry');
      throw ApplicationFailure.retryable(`webhook ${hook.url}: ${why}`, 'WebhookDeliveryFailed');
    },
  };
}
