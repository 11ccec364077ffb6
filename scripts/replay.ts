// Replays the histories of live or closed workflows from a Temporal server against this working
// tree's workflow code — what to run before deploying a new worker (docs/versioning.md):
//   npm run replay -- --query '<visibility query>' [--limit N] [--save DIR] [--workflows FILE]
//                     [--address host:port] [--namespace NS]
// Prints one line per workflow (`PASS <id>` or `FAIL <id>: <first non-determinism>`), then
// `N passed, N failed`; exits 1 when any failed or nothing matched, 2 on a usage error.
// --save DIR writes each fetched history into DIR in the replay corpus layout (test/replay/…).
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { config } from '../lib/config';
import { WORKFLOWS_PATH } from '../services/dialer-worker';
import { bundleWorkflows, historyFileName, replayAll, saveHistory } from '../lib/histories';

const USAGE = `usage: npm run replay -- --query '<visibility query>' [--limit N] [--save DIR] [--workflows FILE] [--address host:port] [--namespace NS]
  e.g. --query 'WorkflowType="memberWorkflow" AND ExecutionStatus="Running"' --limit 500`;

function usage(problem: string): never {
  console.error(`replay: ${problem}\n${USAGE}`);
  process.exit(2);
}

const OPTIONS = {
  query: { type: 'string' }, limit: { type: 'string' }, save: { type: 'string' }, workflows: { type: 'string' },
  address: { type: 'string' }, namespace: { type: 'string' }, help: { type: 'boolean' },
} as const;

function args() {
  try {
    return parseArgs({ options: OPTIONS }).values;
  } catch (err) {
    return usage((err as Error).message);
  }
}

async function main(): Promise<number> {
  const values = args();
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.query) usage('--query is required (a Temporal visibility query; "" is not allowed, to avoid replaying everything by accident)');
  const query = values.query;
  const limit = values.limit === undefined ? 1000 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) usage('--limit must be a positive integer');
  const address = values.address ?? config.temporal.address;
  const namespace = values.namespace ?? config.temporal.namespace;

  const bundling = bundleWorkflows(values.workflows ?? WORKFLOWS_PATH);
  const connection = await Connection.connect({ address }).catch((err: Error) => {
    throw new Error(`cannot reach Temporal at ${address} (${err.message}); set --address or TEMPORAL_ADDRESS`);
  });
  const client = new Client({ connection, namespace });
  const save = values.save;
  let fetched = 0;
  async function* histories() {
    for await (const wf of client.workflow.list({ query })) {
      if (fetched >= limit) break;
      fetched += 1;
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      if (save) saveHistory(save, historyFileName(`${wf.workflowId}_${wf.runId.slice(0, 8)}`), wf.workflowId, history);
      yield { workflowId: wf.workflowId, history };
    }
  }
  let passed = 0;
  let failed = 0;
  try {
    for await (const r of replayAll(await bundling, histories())) {
      if (r.error === null) {
        passed += 1;
        console.log(`PASS ${r.workflowId}`);
      } else {
        failed += 1;
        console.log(`FAIL ${r.workflowId}: ${r.error.split('\n')[0]}`);
      }
    }
  } finally {
    await connection.close();
  }
  console.log(`${passed} passed, ${failed} failed`);
  if (passed + failed === 0) {
    console.error(`replay: no workflow matched ${JSON.stringify(query)} in namespace ${namespace} at ${address}`);
    return 1;
  }
  if (save) console.log(`replay: histories saved in ${save}`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`replay: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
