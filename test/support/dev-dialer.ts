// A dialer worker on the Temporal dev server `npm test` started, dialling into a simulator of its
// own: the worker process's real pieces (ESL client, call-result router, CDR endpoint, reconciler)
// running in the test's process.
import { createDialerWorker, type DialerWorkerOptions } from '../../services/dialer-worker';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../simulator';
import { requireEnv, workflowBundle } from './env';

export interface DevDialer {
  sim: Simulator;
  dialer: Awaited<ReturnType<typeof createDialerWorker>>;
  stop(): Promise<void>;
}

export async function startDevDialer(o: {
  taskQueue: string;
  simulator: SimulatorOptions;
  /** ESL client options beside the simulator's address. */
  esl?: Omit<NonNullable<DialerWorkerOptions['esl']>, 'host' | 'port' | 'password'>;
  worker?: Omit<DialerWorkerOptions, 'esl' | 'taskQueue' | 'temporalAddress' | 'workflowBundle'>;
}): Promise<DevDialer> {
  const sim = await startSimulator({ port: 0, ...o.simulator });
  const dialer = await createDialerWorker({
    temporalAddress: requireEnv('TEMPORAL_ADDRESS'),
    taskQueue: o.taskQueue,
    esl: { host: '127.0.0.1', port: sim.eslPort, password: sim.password, ...o.esl },
    workflowBundle: await workflowBundle(),
    ...o.worker,
  });
  const running = dialer.worker.run();
  return {
    sim,
    dialer,
    async stop() {
      dialer.worker.shutdown();
      await running;
      await dialer.close();
      await sim.stop();
    },
  };
}
