// The REST API process: `tsx api/main.ts`. Connects to MongoDB and Temporal (lib/config.ts) and
// serves createApp on config.api.host:port. SIGINT/SIGTERM: stop accepting, finish, exit 0.
import { Client, Connection } from '@temporalio/client';
import mongoose from 'mongoose';
import { config } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createApp } from './app';
import { createApiServer } from './limits';
import { ensureWebhookDispatcher } from '../workflows/start';
import { connectMongo } from '../lib/db';
import { setCountsWriter } from '../models/member-store';
import { giveBackTurns } from '../models/serial';
import { serveMetrics } from '../lib/metrics';

async function main(): Promise<void> {
  const log = createLogger('api');
  // One connection for the API's own writes: concurrent requests are its writers, and FerretDB v1
  // applies overlapping updates of one document non-atomically (docs/architecture.md, "FerretDB and
  // atomicity"). Its client-shaped reads have a pool of their own (api/reads.ts).
  await connectMongo(undefined, { maxPoolSize: 1 });
  // Its member counts go to a document of its own (the worker keeps another): models/member-store.ts.
  setCountsWriter('api');
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  // Every query of this process has a deadline (the routes a client shapes set it themselves).
  mongoose.set('maxTimeMS', config.api.queryTimeoutMs);
  const app = createApp({ client, log, taskQueue: config.temporal.taskQueue, reads: { uri: config.mongodbUri } });
  // Member-end webhook delivery runs as a Temporal workflow on the dialer worker's task queue.
  await ensureWebhookDispatcher(client, config.temporal.taskQueue).catch((err: unknown) =>
    log.warn({ err: String(err) }, 'could not start the webhook dispatcher (it is started again with the next webhook)'),
  );
  const server = createApiServer(app, config.api).listen(config.api.port, config.api.host, () => {
    log.info({ host: config.api.host, port: config.api.port }, 'API listening');
  });
  // Unauthenticated, so on its own port (loopback by default: README "Metrics and logs").
  const metrics = config.metrics.apiPort > 0 ? await serveMetrics({ host: config.metrics.host, port: config.metrics.apiPort, setting: 'API_METRICS_PORT' }) : undefined;
  if (metrics) log.info({ url: metrics.url }, 'metrics listening');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'API stopping');
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await metrics?.close();
    await app.close();
    await connection.close();
    await giveBackTurns();
    await mongoose.disconnect();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
