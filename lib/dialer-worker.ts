// Builds the dialer's worker process pieces (ESL client, result router, Temporal worker) so the same
// code runs in `worker.ts` and in integration tests.
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { connectMongo } from './db';
import { createActivities } from '../activities';
import { createWebhookActivities } from '../activities/webhooks';
import { EslClient } from '../esl';
import { routeCallResults } from './call-results';
import { config } from './config';
import { createLogger, type Logger } from './logger';

export interface DialerWorkerOptions {
  temporalAddress?: string;
  namespace?: string;
  taskQueue?: string;
  mongodbUri?: string;
  esl?: { host: string; port: number; password: string };
  /** Pre-built workflow bundle (tests share one to save bundling time). */
  workflowBundle?: WorkerOptions['workflowBundle'];
  log?: Logger;
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
  esl.on('connected', (info: { coreUuid: string; coreUuidChanged: boolean }) => log.info(info, 'ESL connected'));
  esl.on('disconnected', (reason: unknown) => log.warn({ reason: String(reason) }, 'ESL disconnected'));

  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace });
  routeCallResults(esl, client, log);

  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: { ...createActivities({ esl, log, client, taskQueue }), ...createWebhookActivities({ log }) },
    shutdownGraceTime: '30 seconds',
  });

  async function close(): Promise<void> {
    await esl.stop();
    await clientConnection.close();
    await connection.close();
  }
  return { worker, esl, client, log, close };
}
