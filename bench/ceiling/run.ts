// Runs the ceiling workload (workflow.ts) on a Temporal server: an in-process worker on its own task
// queue and a starter keeping `window` workflows in flight. Used by bench/temporal-ceiling.ts (its
// own server) and bench/throughput.ts (a fresh server after the stack's run, in the same run).
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { searchAttributes as SA } from '../../lib/search-attributes';
import { ceilingActivities } from './activities';
import { attemptWorkflow, grant, result } from './workflow';
import { cpuSec, log, sleep } from '../lib/stack';

export interface CeilingResult {
  rate: number;
  completed: number;
  seconds: number;
  errors: number;
  /** CPU seconds over the measured window: this process (worker + starter) and the Temporal server. */
  cpu: { bench: number; temporal: number };
}

export async function runCeiling(o: {
  address: string; temporalPid: number; window: number; durationS: number; workerOptions?: Partial<WorkerOptions>; taskQueue?: string;
}): Promise<CeilingResult> {
  const taskQueue = o.taskQueue ?? 'ceiling';
  const connection = await Connection.connect({ address: o.address });
  const client = new Client({ connection, namespace: 'default' });
  // The worker's own client, as the dialer worker has one for the results it routes.
  const workerConnection = await Connection.connect({ address: o.address });
  const workerClient = new Client({ connection: workerConnection, namespace: 'default' });
  let started = 0;
  let done = 0;
  let stopAt = 0;
  let errors = 0;
  const prefix = `${taskQueue}-${Date.now()}`;
  const start = () => {
    const id = `${prefix}-${started++}`;
    client.workflow.signalWithStart(attemptWorkflow, {
      workflowId: id, taskQueue, args: [id], signal: grant, signalArgs: [`lease-${id}`],
      typedSearchAttributes: [
        { key: SA.CampaignId, value: 'ceiling' }, { key: SA.DomainId, value: 'bench' },
        { key: SA.MemberId, value: id }, { key: SA.MemberState, value: 'waiting' },
      ],
      staticSummary: `member ${id}`,
    }).catch(() => { errors++; });
  };
  const nativeConnection = await NativeConnection.connect({ address: o.address });
  const worker = await Worker.create({
    connection: nativeConnection, namespace: 'default', taskQueue,
    workflowsPath: require.resolve('./workflow'),
    activities: ceilingActivities({
      signalResult: (id) => { workerClient.workflow.getHandle(id).signal(result, 'USER_BUSY').catch(() => { errors++; }); },
      ended: () => {
        done++;
        if (!stopAt || Date.now() < stopAt) start();
      },
    }),
    ...o.workerOptions,
  });
  const running = worker.run();
  try {
    log(`ceiling: ${o.window} workflows in flight, ${o.durationS} s (after 5 s of ramp-up); worker options ${JSON.stringify(o.workerOptions ?? {})}`);
    for (let i = 0; i < o.window; i++) start();
    await sleep(5000);
    const cpu0 = { bench: cpuSec(process.pid), temporal: cpuSec(o.temporalPid) };
    const n0 = done;
    const t0 = performance.now();
    stopAt = Date.now() + o.durationS * 1000;
    while (Date.now() < stopAt) {
      await sleep(5000);
      log(`  ceiling: ${done - n0} completed`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const completed = done - n0;
    return {
      rate: completed / seconds, completed, seconds, errors,
      cpu: { bench: cpuSec(process.pid) - cpu0.bench, temporal: cpuSec(o.temporalPid) - cpu0.temporal },
    };
  } finally {
    // Let the workflows in flight finish, so they load nothing after this phase.
    const until = Date.now() + 30_000;
    while (started - done - errors > 0 && Date.now() < until) await sleep(200);
    worker.shutdown();
    await running.catch(() => undefined);
    await nativeConnection.close();
    await connection.close();
    await workerConnection.close();
  }
}
