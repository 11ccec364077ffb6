// The ceiling of this machine for the Temporal part of benchmark 2: the shape of one attempt
// (bench/ceiling/workflow.ts: signal-with-start with search attributes, two local activities, the
// grant, a third local activity, a search-attribute upsert, a result signal, a last local activity,
// completion) without Mongo or ESL, on the same Temporal dev server setup as the stack
// (scripts/servers.ts startTemporalDev: SQLite, WAL, synchronous=OFF). A starter keeps --window
// workflows in flight (each one ended starts the next, as a released line is granted again) for
// --duration-s seconds; reports completed workflows/s and CPU per process.
// bench/throughput.ts --ceiling-s N runs the same on the stack's server in the same run.
//   npx tsx bench/temporal-ceiling.ts [--window 200] [--duration-s 30] [--worker-options '{"maxCachedWorkflows":0}']
//   BENCH_TEMPORAL_PORT (7433): the dev server's port.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkerOptions } from '@temporalio/worker';
import { startTemporalDev } from '../scripts/servers';
import { runCeiling } from './ceiling/run';
import { arg } from './lib/stack';

async function main(): Promise<void> {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialer-bench-ceiling-'));
  const server = await startTemporalDev({ port: Number(process.env.BENCH_TEMPORAL_PORT ?? 7433), dbFile: path.join(dir, 'temporal.db'), logDir: dir, portSetting: 'BENCH_TEMPORAL_PORT' });
  try {
    const load0 = os.loadavg();
    const r = await runCeiling({
      address: server.address, temporalPid: server.pid, window: Number(arg('--window', '200')), durationS: Number(arg('--duration-s', '30')),
      workerOptions: JSON.parse(arg('--worker-options', '{}')) as Partial<WorkerOptions>,
    });
    const pct = (x: number) => `${x.toFixed(0)} s (${((x / r.seconds) * 100).toFixed(0)}%)`;
    console.log('\n=== Temporal ceiling: the attempt shape without Mongo or ESL ===');
    console.log(`${r.rate.toFixed(1)} workflows/s (${r.completed} in ${r.seconds.toFixed(0)} s, ${r.errors} errors)`);
    console.log(`CPU per workflow: worker+starter ${((r.cpu.bench / r.completed) * 1000).toFixed(1)} ms, Temporal server ${((r.cpu.temporal / r.completed) * 1000).toFixed(1)} ms`);
    console.log(`CPU (2 cores = 200%): worker+starter ${pct(r.cpu.bench)}, Temporal server ${pct(r.cpu.temporal)}; load average before ${load0.map((x) => x.toFixed(1)).join(' ')}, after ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
