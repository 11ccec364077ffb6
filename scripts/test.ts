// npm test: start FerretDB and a Temporal dev server on test ports with a fresh temporary data
// dir, run every test/**/*.test.ts with node's test runner, stop the servers, exit with the
// runner's code.
//   npm test                      all test files
//   npm test -- infra member      only files whose path contains "infra" or "member"
//   npm test -- --test-name-pattern=ping   arguments starting with "-" go to node --test
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { config } from '../lib/config';
import { startFerret, startTemporalDev, temporalTestServerPath, toolPath, type Proc } from './servers';

function findTests(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => path.join('test', f))
    .sort();
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const nodeArgs = args.filter((a) => a.startsWith('-'));
  const filters = args.filter((a) => !a.startsWith('-'));
  const all = findTests(path.join(config.rootDir, 'test'));
  const files = filters.length ? all.filter((f) => filters.some((x) => f.includes(x))) : all;
  if (!files.length) {
    console.error(`test: no test files${filters.length ? ` match ${filters.join(', ')}` : ''} under test/ (*.test.ts)`);
    return 1;
  }
  const testServer = temporalTestServerPath(); // throws with "run npm run setup" if missing

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialer-test-'));
  const logDir = path.join(dataDir, 'logs');
  const servers: Proc[] = [];
  const stopAll = async () => {
    for (const s of servers.reverse()) await s.stop();
    servers.length = 0;
  };
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (interrupted) return; // a terminal Ctrl-C can arrive twice (directly and relayed by tsx)
      interrupted = true;
      console.error(`test: ${sig}, stopping servers`);
      void stopAll().then(() => process.exit(130));
    });
  }

  let code = 1;
  try {
    const ferret = await startFerret({
      port: config.test.ferretdbPort, dataDir: path.join(dataDir, 'ferret'), logDir, portSetting: 'TEST_FERRETDB_PORT',
    });
    servers.push(ferret);
    const temporal = await startTemporalDev({
      port: config.test.temporalPort, dbFile: path.join(dataDir, 'temporal.db'), namespace: config.temporal.namespace,
      logDir, portSetting: 'TEST_TEMPORAL_PORT',
    });
    servers.push(temporal);
    console.log(`test: FerretDB ${ferret.uri}, Temporal ${temporal.address}, data and logs in ${dataDir}`);

    const env = {
      ...process.env,
      MONGODB_URI: `${ferret.uri}dialer_test`,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: temporal.namespace,
      TEMPORAL_TEST_SERVER_PATH: testServer,
      TEMPORAL_CLI_PATH: toolPath('temporal'),
      DIALER_DATA_DIR: dataDir,
      DIALER_TEST: '1',
      // No worker CDR endpoint on the fixed port (npm start may run beside); tests ask for a free one.
      CDR_PORT: '0',
    };
    const runner = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-concurrency=1', ...nodeArgs, ...files],
      { cwd: config.rootDir, env, stdio: 'inherit' },
    );
    code = await new Promise<number>((resolve) => {
      runner.once('error', (err) => {
        console.error(`test: cannot start node --test: ${err.message}`);
        resolve(1);
      });
      runner.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    });
  } catch (err) {
    console.error(`test: FAILED to start the test servers: ${(err as Error).message}`);
    code = 1;
  } finally {
    if (!interrupted) await stopAll();
  }
  if (code === 0) fs.rmSync(dataDir, { recursive: true, force: true });
  else console.error(`test: kept ${dataDir} (server logs in ${logDir})`);
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`test: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
