// The Temporal server's cost of a call-result signal by workflow id (the server reads the current
// run: GetCurrentExecution) against one naming the run (services/call-results.ts signalResult).
// No worker: each signal only appends to its workflow's history. Rounds of one signal to each of
// --workflows workflows alternate between the two; reports server CPU and persistence reads per signal.
//   npx tsx bench/result-signal.ts [--workflows 600] [--rounds 8]
//   BENCH_TEMPORAL_PORT (7433) and BENCH_TEMPORAL_METRICS_PORT (7434): the dev server's ports.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { toolPath } from '../scripts/servers';
import { arg, cpuSec, sleep } from './lib/stack';

const port = Number(process.env.BENCH_TEMPORAL_PORT ?? 7433);
const metricsPort = Number(process.env.BENCH_TEMPORAL_METRICS_PORT ?? 7434);

/** The server's persistence requests so far, by operation (its Prometheus page). */
async function persistence(): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^persistence_requests\{.*operation="(\w+)".*\} (\d+)$/gm)) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  return out;
}

async function main(): Promise<void> {
  const n = Number(arg('--workflows', '600'));
  const rounds = Number(arg('--rounds', '8'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialer-bench-signal-'));
  const server = spawn(toolPath('temporal'), [
    'server', 'start-dev', '--db-filename', path.join(dir, 'temporal.db'), '--ip', '127.0.0.1', '--port', String(port), '--headless',
    '--metrics-port', String(metricsPort), '--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF', '--log-level', 'warn',
  ], { stdio: 'ignore' });
  try {
    let connection: Connection | undefined;
    for (let i = 0; i < 60 && !connection; i++) {
      try {
        connection = await Connection.connect({ address: `127.0.0.1:${port}` });
        await connection.workflowService.getSystemInfo({});
      } catch {
        connection = undefined;
        await sleep(1000);
      }
    }
    if (!connection) throw new Error(`Temporal dev server on ${port} did not start`);
    const client = new Client({ connection });
    const runs: { id: string; runId: string }[] = [];
    for (let i = 0; i < n; i++) {
      const h = await client.workflow.start('noWorker', { workflowId: `signal-${i}`, taskQueue: 'none' });
      runs.push({ id: h.workflowId, runId: h.firstExecutionRunId });
    }
    const sum: Record<string, number[]> = { id: [], run: [] };
    for (let r = 0; r < rounds; r++) {
      for (const mode of r % 2 ? ['run', 'id'] : ['id', 'run']) {
        await sleep(3000); // the metrics page lags
        const ops0 = await persistence();
        const cpu0 = cpuSec(server.pid!);
        let next = 0;
        await Promise.all(Array.from({ length: 20 }, async () => {
          while (next < runs.length) {
            const x = runs[next++];
            await client.workflow.getHandle(x.id, mode === 'run' ? x.runId : undefined).signal('callResult', { round: r });
          }
        }));
        const ms = ((cpuSec(server.pid!) - cpu0) / n) * 1000;
        await sleep(3000);
        const ops1 = await persistence();
        const reads = ((ops1.GetCurrentExecution ?? 0) - (ops0.GetCurrentExecution ?? 0)) / n;
        sum[mode].push(ms);
        console.log(`signal by ${mode === 'run' ? 'run id     ' : 'workflow id'}: server ${ms.toFixed(2)} ms CPU, ${reads.toFixed(2)} GetCurrentExecution per signal`);
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(`mean server CPU per signal: by workflow id ${mean(sum.id).toFixed(2)} ms, by run id ${mean(sum.run).toFixed(2)} ms; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  } finally {
    server.kill('SIGTERM');
    await sleep(1000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
