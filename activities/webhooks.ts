// Activities of member-end webhook delivery (workflows/webhook.ts). Events are the stored
// `engine::dialer_member_end` documents (models/member-end.ts); each is POSTed, exactly as recorded,
// to every enabled webhook of its domain. Retries and backoff are the workflow's activity retry policy.
import crypto from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { Logger } from 'pino';
import { MemberEnd } from '../models/member-end';
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

export function createWebhookActivities(deps: { log: Logger; timeoutMs?: number }): WebhookActivities {
  const { log } = deps;
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
      let status = 0;
      let error: string | null = null;
      try {
        const res = await fetch(hook.url, {
          method: 'POST',
          headers: {
            ...(hook.headers ?? {}),
            'Content-Type': 'application/json',
            'User-Agent': 'durable-dialer-webhooks',
            'X-Dialer-Event': 'engine::dialer_member_end',
            'X-Dialer-Event-Id': eventId,
            [SIGNATURE_HEADER]: signBody(hook.secret, body),
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(deps.timeoutMs ?? 15_000),
        });
        status = res.status;
        await res.arrayBuffer().catch(() => undefined);
      } catch (err) {
        error = String((err as Error).message ?? err);
      }
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
