// What the routes need from outside, injected by createApp (api/app.ts) so tests can mount the app
// on a real Temporal server and a per-test database.
import type { Client } from '@temporalio/client';
import type { Logger } from '../lib/logger';
import type { Waker } from './wake';
import type { RateLimit } from './limits';
import type { ClientReads, ReadLimits } from './reads';
import type { WebhookDispatcherInput } from '../workflows/webhook';

export interface ApiDeps {
  /** Temporal client (member workflows: start, signal, update, terminate). */
  client: Client;
  log: Logger;
  /** Task queue member workflows are started on (default config.temporal.taskQueue). */
  taskQueue?: string;
  /** POST /login session lifetime (default 24 h). */
  sessionTtlMs?: number;
  /** How long status/terminate wait for the member workflow before answering 503 (default 10 s). */
  updateTimeoutMs?: number;
  /** Largest JSON body accepted (default 16 MiB; bulk member inserts). */
  maxJsonBytes?: number;
  /** Largest CSV upload accepted (default 2 GiB). */
  maxCsvBytes?: number;
  /** maxTimeMS of the queries a client shapes (lists, counts, pipelines); over it → 422 (default config.api.queryTimeoutMs). */
  queryTimeoutMs?: number;
  /** The client-shaped queries' own pool and per-domain share (api/reads.ts); default config.api. */
  reads?: Partial<ReadLimits>;
  /** Requests per credential (default config.api.rateLimit / rateBurst). */
  rateLimit?: RateLimit;
  /** Settings of the webhook dispatcher workflow started with the first webhook (tests: short retries). */
  webhookDispatcher?: WebhookDispatcherInput;
}

export interface RouteDeps extends Required<Omit<ApiDeps, 'taskQueue' | 'webhookDispatcher' | 'rateLimit' | 'reads'>> {
  taskQueue: string | undefined;
  webhookDispatcher: WebhookDispatcherInput | undefined;
  waker: Waker;
  reads: ClientReads;
}
