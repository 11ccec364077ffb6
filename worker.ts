// The dialer worker process: runs member workflows and their activities, and routes FreeSWITCH
// call results to them. SIGINT/SIGTERM stop taking work, let running activities finish, exit 0.
import mongoose from 'mongoose';
import { createDialerWorker, installTemporalMetrics } from './services/dialer-worker';
import { writeWorkerStatus } from './lib/readiness';
import { config } from './lib/config';
import { checkPushPosition, setCountsWriter } from './models/member-store';
import { giveBackTurns } from './models/serial';
import { ensureMemberExpirySweep } from './workflows/start';

async function main(): Promise<void> {
  const { host, workerPort, temporalSdk } = config.metrics;
  const metrics = workerPort > 0 ? { host, port: workerPort, setting: 'WORKER_METRICS_PORT', temporalSdk: temporalSdk ? await installTemporalMetrics() : undefined } : false;
  // Its member counts go to a document of its own (the API keeps another): models/member-store.ts.
  setCountsWriter('worker');
  const { worker, esl, log, client, close } = await createDialerWorker({ metrics });
  await checkPushPosition();
  // The five-minute member-expiry sweep (spec §5.6) runs as a Temporal schedule on this task queue.
  await ensureMemberExpirySweep(client);
  log.info('worker started');
  // For `npm start` (scripts/run.ts): it says "running" only once the worker is connected.
  const statusFile = process.env.DIALER_WORKER_STATUS_FILE;
  if (statusFile) {
    const report = () => {
      try {
        writeWorkerStatus(statusFile, { temporal: true, esl: esl.isConnected() });
      } catch (err) {
        log.warn({ err: String(err), file: statusFile }, 'worker status file not written');
      }
    };
    esl.on('connected', report);
    esl.on('disconnected', report);
    setImmediate(report); // after run() below has started polling
  }
  // Worker.run() installs its own SIGINT/SIGTERM handlers (graceful shutdown).
  await worker.run();
  await close();
  await giveBackTurns();
  await mongoose.disconnect();
  log.info('worker stopped');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
