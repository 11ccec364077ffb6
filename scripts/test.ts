// npm test: start FerretDB and a Temporal dev server on test ports with a fresh temporary data
// dir, run every test/**/*.test.ts with node's test runner, stop the servers; then, when no file
// filter is given and the tests passed, run the fault-injection suite in its CI configuration
// (scripts/fault-suite.ts --ci: its own servers on free ports, every fault kind at least once, exit
// 1 on any violated invariant). Exits non-zero when either fails.
//   npm test                      all test files, then the fault suite (CI configuration)
//   npm test -- infra member      only files whose path contains "infra" or "member" (no fault suite)
//   npm test -- fault-suite       only the fault suite (CI configuration); = npm run fault-suite -- --ci
//   npm test -- api fault-suite   files matching "api", then the fault suite
//   npm test -- --test-name-pattern=ping   arguments starting with "-" go to node --test
// A run in which no test executed (every test filtered out or skipped) fails (scripts/node-test.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { config } from '../lib/config';
import { judgeRun, nodeTestArgs, tapCounts } from './node-test';
import { startFerret, startTemporalDev, temporalTestServerPath, toolPath, type Proc } from './servers';

function findTests(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => path.join('test', f))
    .sort();
}

/** The fault suite's name as a filter: `npm test -- fault-suite` runs it (and no test file). */
const FAULT_SUITE = 'fault-suite';
let child: ChildProcess | undefined;

/** Runs a child process with this terminal; resolves with its exit code (1 for a signal or spawn error). */
function run(what: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const c = spawn(process.execPath, args, { cwd: config.rootDir, env, stdio: 'inherit' });
  child = c;
  return new Promise<number>((resolve) => {
    c.once('error', (err) => {
      console.error(`test: cannot start ${what}: ${err.message}`);
      resolve(1);
    });
    c.once('exit', (code, signal) => {
      child = undefined;
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/**
 * The fault-injection suite in its CI configuration (scripts/fault-suite.ts --ci). It starts its own
 * FerretDB, Temporal, simulator, worker and API on free ephemeral ports (never the test ports) and
 * exits 1 when an invariant is violated or a fault kind was not injected; a missing tool fails it.
 */
async function faultSuite(): Promise<number> {
  const t = Date.now();
  console.log('\ntest: fault-injection suite (CI configuration: npm run fault-suite -- --ci)');
  const code = await run('the fault suite', ['--import', 'tsx', 'scripts/fault-suite.ts', '--ci'], process.env);
  const s = ((Date.now() - t) / 1000).toFixed(0);
  console.log(code === 0 ? `test: fault suite passed in ${s} s` : `test: fault suite FAILED (exit ${code}) after ${s} s`);
  return code;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const nodeArgs = args.filter((a) => a.startsWith('-'));
  const named = args.filter((a) => !a.startsWith('-'));
  const filters = named.filter((a) => a !== FAULT_SUITE);
  // The fault suite runs after the whole suite (no filter, no runner option) or when named.
  const faultNamed = named.includes(FAULT_SUITE);
  const withFaultSuite = faultNamed || args.length === 0;
  const onlyFaultSuite = faultNamed && filters.length === 0;
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
      if (child?.exitCode === null) child.kill(sig);
      void stopAll().then(() => process.exit(130));
    });
  }
  if (onlyFaultSuite) {
    toolPath('ferretdb'); // throws with "run npm run setup" if missing
    toolPath('temporal');
    return faultSuite();
  }
  const all = findTests(path.join(config.rootDir, 'test'));
  const files = filters.length ? all.filter((f) => filters.some((x) => f.includes(x))) : all;
  if (!files.length) {
    console.error(`test: no test files${filters.length ? ` match ${filters.join(', ')}` : ''} under test/ (*.test.ts)`);
    return 1;
  }
  const testServer = temporalTestServerPath(); // throws with "run npm run setup" if missing

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialer-test-'));
  const logDir = path.join(dataDir, 'logs');
  /** What tests leave for people to look at (browser screenshots): kept when the run passes too. */
  const artefactsDir = path.join(dataDir, 'artefacts');

  let code = 1;
  try {
    const ferret = await startFerret({
      port: config.test.ferretdbPort, dataDir: path.join(dataDir, 'ferret'), logDir, portSetting: 'TEST_FERRETDB_PORT',
    });
    servers.push(ferret);
    // With its Web UI: browser tests open it (TEMPORAL_UI_URL).
    const temporal = await startTemporalDev({
      port: config.test.temporalPort, uiPort: config.test.temporalUiPort, dbFile: path.join(dataDir, 'temporal.db'),
      namespace: config.temporal.namespace, logDir, portSetting: 'TEST_TEMPORAL_PORT', uiPortSetting: 'TEST_TEMPORAL_UI_PORT',
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
      TEMPORAL_UI_URL: `http://127.0.0.1:${config.test.temporalUiPort}`,
      TEST_ARTEFACTS_DIR: artefactsDir,
      DIALER_DATA_DIR: dataDir,
      DIALER_TEST: '1',
      // No worker CDR endpoint on the fixed port (npm start may run beside); tests ask for a free one.
      CDR_PORT: '0',
    };
    const tapFile = path.join(dataDir, 'results.tap');
    code = await run('node --test', nodeTestArgs(nodeArgs, files, tapFile), env);
    const tap = fs.existsSync(tapFile) ? fs.readFileSync(tapFile, 'utf8') : '';
    tally = tapCounts(tap) ?? tally;
    const verdict = judgeRun(code, tap, nodeArgs);
    if (verdict.message) console.error(`test: FAILED: ${verdict.message}`);
    code = verdict.code;
  } catch (err) {
    console.error(`test: FAILED to start the test servers: ${(err as Error).message}`);
    code = 1;
  } finally {
    if (!interrupted) await stopAll();
  }
  const artefacts = fs.existsSync(artefactsDir) ? fs.readdirSync(artefactsDir).length : 0;
  if (code === 0) {
    for (const e of fs.readdirSync(dataDir)) if (!(artefacts && e === 'artefacts')) fs.rmSync(path.join(dataDir, e), { recursive: true, force: true });
    if (!artefacts) fs.rmSync(dataDir, { recursive: true, force: true });
  } else console.error(`test: kept ${dataDir} (server logs in ${logDir})`);
  if (artefacts) console.log(`test: ${artefacts} test artefact(s) (browser screenshots) in ${artefactsDir}`);
  if (!withFaultSuite || interrupted) return code;
  // The fault suite after the tests, with the test servers stopped (2 cores).
  if (code !== 0) {
    console.error(`test: fault suite not run: the tests failed (run it alone with \`npm test -- ${FAULT_SUITE}\`)`);
    return code;
  }
  const faultCode = await faultSuite();
  if (faultCode === 0) tally.passed += 1;
  else tally.failed += 1;
  return faultCode;
}

/** Test files' results, and the fault suite counted as one test: the run's closing line. */
let tally = { passed: 0, failed: 0 };

main().then(
  (code) => {
    console.log(`test: ${tally.passed} passed, ${tally.failed} failed`);
    process.exit(code);
  },
  (err: unknown) => {
    console.error(`test: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
