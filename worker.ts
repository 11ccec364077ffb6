// The dialer worker process: runs member workflows and their activities, and routes FreeSWITCH
// call results to them. SIGINT/SIGTERM stop taking work, let running activities finish, exit 0.
import mongoose from 'mongoose';
import { createDialerWorker } from './lib/dialer-worker';

async function main(): Promise<void> {
  const { worker, log, close } = await createDialerWorker();
  log.info('worker started');
  // Worker.run() installs its own SIGINT/SIGTERM handlers (graceful shutdown).
  await worker.run();
  await close();
  await mongoose.disconnect();
  log.info('worker stopped');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
