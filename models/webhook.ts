// Member-end webhooks (issue 4): URLs a domain subscribes to `engine::dialer_member_end` events
// (spec §11.2), and one delivery record per (event, webhook) with its attempts and outcome.
import mongoose, { Schema, type Model } from 'mongoose';

export interface WebhookDoc {
  _id: mongoose.Types.ObjectId;
  domain: string;
  url: string;
  event: string;
  description: string;
  headers: Record<string, string>;
  /** HMAC-SHA256 key for the X-Dialer-Signature header (shown once at creation). */
  secret: string;
  enabled: boolean;
  createdOn: number;
}

export interface DeliveryDoc {
  _id: string; // `${eventId}|${hookId}`
  event: string;
  hook: string;
  domain: string;
  /** `refused`: the URL or what its name resolved to is not an allowed target (never retried). */
  status: 'pending' | 'delivered' | 'gone' | 'skipped' | 'refused';
  attempts: number;
  lastError: string | null;
  lastStatus: number | null;
  deliveredOn: number | null;
  createdOn: number;
}

const webhookSchema = new Schema(
  {
    domain: { type: String, required: true },
    url: { type: String, required: true },
    event: { type: String, default: 'engine::dialer_member_end' },
    description: { type: String, default: '' },
    headers: { type: Schema.Types.Mixed, default: () => ({}) },
    secret: { type: String, required: true },
    enabled: { type: Boolean, default: true },
    createdOn: { type: Number, default: () => Date.now() },
  },
  { collection: 'webhooks', versionKey: false, minimize: false },
);
webhookSchema.index({ domain: 1 });

const deliverySchema = new Schema(
  {
    _id: { type: String, required: true },
    event: { type: String, required: true },
    hook: { type: String, required: true },
    domain: { type: String, required: true },
    status: { type: String, default: 'pending' },
    attempts: { type: Number, default: 0 },
    lastError: { type: String, default: null },
    lastStatus: { type: Number, default: null },
    deliveredOn: { type: Number, default: null },
    createdOn: { type: Number, default: () => Date.now() },
  },
  { collection: 'webhook_deliveries', versionKey: false, minimize: false },
);
deliverySchema.index({ hook: 1, status: 1 });

export const Webhook: Model<WebhookDoc> =
  (mongoose.models.Webhook as Model<WebhookDoc> | undefined) ?? mongoose.model<WebhookDoc>('Webhook', webhookSchema);
export const Delivery: Model<DeliveryDoc> =
  (mongoose.models.WebhookDelivery as Model<DeliveryDoc> | undefined) ?? mongoose.model<DeliveryDoc>('WebhookDelivery', deliverySchema);
