// Builds the dialer's worker process pieces (ESL client, result router, Temporal worker) so the same
// code runs in `worker.ts` and in integration tests.
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { connectMongo } from '../lib/db';
import { createActivities } from '../activities';
import { createWebhookActivities } from '../activities/webhooks';
import { createTemplateActivities } from '../activities/templates';
import { createExpiryActivities } from '../activities/expiry';
import { EslClient, type EslClientOptions } from '../esl';
import { routeCallResults } from './call-results';
import { startCdrServer, type CdrServer } from './cdr';
import { applyInProcess, importCdrDir } from './cdr-import';
import { Reconciler } from './reconcile';
import { config } from '../lib/config';
import { createLogger, type Logger } from '../lib/logger';
import { freeLoopbackPort, serveMetrics, watchEsl, type MetricsServer } from '../lib/metrics';
import { attemptLogInterceptor } from './attempt-context';
import { PRELOADED_WORKFLOW_MODULES } from '../lib/histories';

export interface DialerWorkerOptions {
  temporalAddress?: string;
  namespace?: string;
  taskQueue?: string;
  mongodbUri?: string;
  esl?: { host: string; port: number; password: string } & Partial<Pick<EslClientOptions, 'heartbeatTimeoutMs' | 'reconnectMinMs' | 'reconnectMaxMs' | 'commandTimeoutMs'>>;
  /** Pre-built workflow bundle (tests share one to save bundling time). */
  workflowBundle?: WorkerOptions['workflowBundle'];
  log?: Logger;
  /** mod_json_cdr endpoint (services/cdr.ts); port 0 = a free port; default config.cdr (CDR_PORT=0: none); false = none. */
  cdr?: { host: string; port: number; cred?: string } | false;
  /** mod_json_cdr's err-log-dir, imported at start before reconciliation (default config.cdr.errorDir; '' = none). */
  cdrErrorDir?: string;
  /** Reconciliation of open attempts (services/reconcile.ts); default config.reconcile; false = none. */
  reconcile?: { graceMs?: number; intervalMs?: number } | false;
  /** Prometheus /metrics (lib/metrics.ts) on host:port (0 = a free port); default none (worker.ts
   *  passes config.metrics). `temporalSdk`: the URL installTemporalMetrics returned, appended. */
  metrics?: { host: string; port: number; temporalSdk?: string; setting?: string } | false;
}

/**
 * Makes the Temporal SDK (Core) export its worker metrics in Prometheus format on a loopback port
 * of its own; returns that /metrics URL, which the worker's /metrics appends. Must run before any
 * NativeConnection or Worker is created in this process, and once.
 */
export async function installTemporalMetrics(): Promise<string> {
  const bindAddress = `127.0.0.1:${await freeLoopbackPort()}`;
  Runtime.install({
    telemetryOptions: { metrics: { prometheus: { bindAddress, useSecondsForDurations: true, unitSuffix: true } } },
  });
  return `http://${bindAddress}/metrics`;
}

export const WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows', 'index.ts');

export async function createDialerWorker(o: DialerWorkerOptions = {}) {
  const log = o.log ?? createLogger('worker');
  const address = o.temporalAddress ?? config.temporal.address;
  const namespace = o.namespace ?? config.temporal.namespace;
  const taskQueue = o.taskQueue ?? config.temporal.taskQueue;
  await connectMongo(o.mongodbUri);

  const esl = new EslClient({ ...(o.esl ?? config.esl), logger: log });
  esl.start();
  watchEsl(esl);
  esl.on('connected', (info: { coreUuid: string; coreUuidChanged: boolean }) => log.info(info, 'ESL connected'));
  esl.on('disconnected', (reason: unknown) => log.warn({ reason: String(reason) }, 'ESL disconnected'));

  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace });
  routeCallResults(esl, client, log);
  const cdrOpts = o.cdr ?? (config.cdr.enabled ? config.cdr : false);
  const cdr: CdrServer | undefined = cdrOpts
    ? await startCdrServer({ host: cdrOpts.host, port: cdrOpts.port, cred: cdrOpts.cred || undefined, client, log })
    : undefined;
  if (cdr) log.info({ url: cdr.url }, 'CDR endpoint listening (mod_json_cdr url)');
  // Before reconciliation: a call whose CDR waits in the error directory ended with that result;
  // reconciling it first would call it lost and dial the person again.
  const cdrErrorDir = o.cdrErrorDir ?? config.cdr.errorDir;
  if (cdrErrorDir) {
    await importCdrDir(cdrErrorDir, applyInProcess(client, log), log).catch((err: unknown) =>
      log.error({ err: String(err), dir: cdrErrorDir }, 'CDR error directory not imported (run npm run import-cdrs)'),
    );
  }
  const reconcileOpts = o.reconcile ?? config.reconcile;
  const reconciler = reconcileOpts ? new Reconciler({ esl, client, log, ...reconcileOpts }) : undefined;
  reconciler?.start();

  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : { workflowsPath: WORKFLOWS_PATH, bundlerOptions: { preloadModules: PRELOADED_WORKFLOW_MODULES } }),
    activities: { ...createActivities({ esl, log, client, taskQueue }), ...createWebhookActivities({ log }), ...createTemplateActivities({ log }), ...createExpiryActivities({ client, log }) },
    interceptors: { activity: [attemptLogInterceptor] },
    shutdownGraceTime: '30 seconds',
  });

  const metrics: MetricsServer | undefined = o.metrics
    ? await serveMetrics({ host: o.metrics.host, port: o.metrics.port, extra: o.metrics.temporalSdk ? [o.metrics.temporalSdk] : [], setting: o.metrics.setting })
    : undefined;
  if (metrics) log.info({ url: metrics.url }, 'metrics listening');

  async function close(): Promise<void> {
    await metrics?.close();
    await reconciler?.stop();
    await cdr?.close();
    await esl.stop();
    await clientConnection.close();
    await connection.close();
  }
  return { worker, esl, client, log, cdr, reconciler, metrics, close };
}
