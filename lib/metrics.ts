// Every Prometheus metric of the dialer (prom-client), and the small functions the code calls at
// each instrumentation site (one line there). The worker and the API each serve this process's
// registry on their own metrics port (serveMetrics; README "Metrics and logs"). Labels never carry
// tenant data beyond the campaign id: no member ids, numbers, domains or raw paths.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const originations = new Counter({
  name: 'dialer_originations_total',
  help: 'Originate commands sent to FreeSWITCH',
  labelNames: ['campaign_id'] as const,
  registers: [registry],
});
export const callResults = new Counter({
  name: 'dialer_call_results_total',
  help: 'Attempts ended, by hangup (end) cause',
  labelNames: ['campaign_id', 'cause'] as const,
  registers: [registry],
});
export const callsAnswered = new Counter({
  name: 'dialer_calls_answered_total',
  help: 'Attempts that were answered',
  labelNames: ['campaign_id'] as const,
  registers: [registry],
});
export const callsBridged = new Counter({
  name: 'dialer_calls_bridged_total',
  help: 'Answered attempts that reached the campaign content or an agent',
  labelNames: ['campaign_id'] as const,
  registers: [registry],
});
export const callsAbandoned = new Counter({
  name: 'dialer_calls_abandoned_total',
  help: 'Answered calls dropped for want of an agent (always 0 until predictive dialling exists)',
  labelNames: ['campaign_id'] as const,
  registers: [registry],
});

/** Calls this process originated and has not yet seen end: uuid → campaign and start time. */
const activeCalls = new Map<string, { campaignId: string; since: number }>();
/** A call not seen to end (its hangup went to another worker, events lost) is dropped after this. */
const ACTIVE_CALL_MAX_MS = 12 * 3600_000;
const campaignsSeen = new Set<string>();
export const activeCallsGauge = new Gauge({
  name: 'dialer_active_calls',
  help: 'Calls originated by this worker and not ended yet, per campaign (sum over workers)',
  labelNames: ['campaign_id'] as const,
  registers: [registry],
  collect() {
    const now = Date.now();
    const counts = new Map<string, number>([...campaignsSeen].map((c) => [c, 0]));
    for (const [uuid, c] of activeCalls) {
      if (now - c.since > ACTIVE_CALL_MAX_MS) activeCalls.delete(uuid);
      else counts.set(c.campaignId, (counts.get(c.campaignId) ?? 0) + 1);
    }
    this.reset();
    for (const [campaignId, n] of counts) this.set({ campaign_id: campaignId }, n);
  },
});

let eslState: (() => boolean) | undefined;
export const eslConnected = new Gauge({
  name: 'dialer_esl_connected',
  help: '1 while the ESL connection to FreeSWITCH is up, else 0',
  registers: [registry],
  collect() {
    if (eslState) this.set(eslState() ? 1 : 0);
  },
});
export const eslDisconnects = new Counter({
  name: 'dialer_esl_disconnects_total',
  help: 'ESL connections lost',
  registers: [registry],
});

export const reconcilePasses = new Counter({
  name: 'dialer_reconcile_passes_total',
  help: 'Reconciliation passes over open attempts, by result (ok, failed)',
  labelNames: ['result'] as const,
  registers: [registry],
});
export const reconcileAttempts = new Counter({
  name: 'dialer_reconcile_attempts_total',
  help: 'Open attempts looked at by reconciliation, by outcome (alive, lost, answered_lost, settled_meanwhile, answered_found, resignalled)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const mongoDeadSocketWrites = new Counter({
  name: 'dialer_mongo_dead_socket_writes_total',
  help: 'MongoDB commands written on a socket already closed, failed at once instead of waiting forever (lib/mongo-sockets.ts)',
  registers: [registry],
});
export const mongoCommands = new Histogram({
  name: 'dialer_mongo_command_duration_seconds',
  help: 'MongoDB commands (driver command monitoring), by command name, connection pool and outcome',
  labelNames: ['command', 'pool', 'outcome'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const httpRequests = new Histogram({
  name: 'dialer_http_request_duration_seconds',
  help: 'API requests, by method, route pattern and status code',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

/**
 * Metrics of the Temporal SDK (Core) that deploy/grafana uses. Core serves them itself
 * (Runtime telemetry, Prometheus exporter); the worker's /metrics appends them (serveMetrics).
 */
export const TEMPORAL_METRICS = [
  'temporal_worker_task_slots_available',
  'temporal_worker_task_slots_used',
  'temporal_activity_execution_latency_seconds',
  'temporal_activity_schedule_to_start_latency_seconds',
  'temporal_workflow_task_execution_latency_seconds',
  'temporal_workflow_task_schedule_to_start_latency_seconds',
  'temporal_workflow_completed',
  'temporal_sticky_cache_size',
] as const;

// --- Instrumentation sites --------------------------------------------------------------------

/** An originate was sent for the attempt `uuid`. */
export function callStarted(campaignId: string, uuid: string): void {
  originations.inc({ campaign_id: campaignId });
  campaignsSeen.add(campaignId);
  activeCalls.set(uuid, { campaignId, since: Date.now() });
}

/** FreeSWITCH reported the call gone (hangup, failed originate): no longer active here. */
export function callGone(uuid: string): void {
  activeCalls.delete(uuid);
}

/** An attempt's outcome was stored (endAttempt). */
export function attemptEnded(campaignId: string, uuid: string, cause: string, stats: { connected: boolean; bridged: boolean; abandoned?: boolean }): void {
  activeCalls.delete(uuid);
  callResults.inc({ campaign_id: campaignId, cause });
  callsAnswered.inc({ campaign_id: campaignId }, stats.connected ? 1 : 0);
  callsBridged.inc({ campaign_id: campaignId }, stats.bridged ? 1 : 0);
  callsAbandoned.inc({ campaign_id: campaignId }, stats.abandoned ? 1 : 0);
}

/** The ESL client whose state dialer_esl_connected reports. */
export function watchEsl(esl: { isConnected(): boolean; on(event: 'disconnected', fn: () => void): unknown }): void {
  eslState = () => esl.isConnected();
  esl.on('disconnected', () => eslDisconnects.inc());
}

/** A reconciliation pass's report (services/reconcile.ts), or null when the pass failed. */
export function reconciled(r: { alive: number; lost: number; answeredLost: number; settledMeanwhile: number; answeredFound: number; resignalled: number } | null): void {
  reconcilePasses.inc({ result: r ? 'ok' : 'failed' });
  if (!r) return;
  const outcomes = { alive: r.alive, lost: r.lost, answered_lost: r.answeredLost, settled_meanwhile: r.settledMeanwhile, answered_found: r.answeredFound, resignalled: r.resignalled };
  for (const [outcome, n] of Object.entries(outcomes)) reconcileAttempts.inc({ outcome }, n);
}

interface CommandEvent { commandName: string; duration: number }
/** Times every command of a MongoClient (it must be created with `monitorCommands: true`). */
export function monitorMongo(client: { on(event: 'commandSucceeded' | 'commandFailed', fn: (e: CommandEvent) => void): unknown }, pool: string): void {
  const observe = (outcome: string) => (e: CommandEvent) =>
    mongoCommands.observe({ command: e.commandName, pool, outcome }, e.duration / 1000);
  client.on('commandSucceeded', observe('ok'));
  client.on('commandFailed', observe('failed'));
}

// --- Serving ----------------------------------------------------------------------------------

export interface MetricsServer {
  /** http://host:port/metrics */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves GET /metrics on host:port (port 0: a free one), without credentials: bind it to a
 * loopback or management address only. `extra` URLs (another exporter of this process, e.g. the
 * Temporal Core's) are fetched and appended on each scrape; one that does not answer is left out.
 */
export async function serveMetrics(o: { host: string; port: number; extra?: string[]; setting?: string }): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    void (async () => {
      let body = await registry.metrics();
      for (const url of o.extra ?? []) {
        body += await fetch(url, { signal: AbortSignal.timeout(2_000) }).then((r) => (r.ok ? r.text() : ''), () => '');
      }
      res.writeHead(200, { 'Content-Type': registry.contentType }).end(body);
    })().catch((err: unknown) => res.writeHead(500).end(String(err)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE'
      ? new Error(`metrics port ${o.host}:${o.port} is in use: stop what uses it, or set ${o.setting ?? 'its setting'} to another port (0 = no metrics)`)
      : err));
    server.listen(o.port, o.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port free on 127.0.0.1 now (for an exporter that must be given a fixed address). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
