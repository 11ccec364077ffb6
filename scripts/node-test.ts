// How scripts/test.ts runs node's test runner and judges the run: spec output on the terminal as
// usual plus a TAP copy in a file, whose summary says how many tests actually ran. A run in which no
// test executed (a file filter or --test-name-pattern that matches nothing, every test skipped)
// fails: it must not look like a green run.

/** Arguments for `node` running `files` with node --test (`nodeArgs`: the caller's runner options). */
export function nodeTestArgs(nodeArgs: string[], files: string[], tapFile: string): string[] {
  const ownReporter = nodeArgs.some((a) => a.startsWith('--test-reporter'));
  return [
    '--import', 'tsx', '--test', '--test-concurrency=1',
    ...(ownReporter ? [] : ['--test-reporter=spec', '--test-reporter-destination=stdout']),
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...nodeArgs, ...files,
  ];
}

/** Passed and failed tests according to a TAP summary; null when there is no summary. */
export function tapCounts(tap: string): { passed: number; failed: number } | null {
  const pass = /^# pass (\d+)$/m.exec(tap);
  const fail = /^# fail (\d+)$/m.exec(tap);
  return pass && fail ? { passed: Number(pass[1]), failed: Number(fail[1]) } : null;
}

/** Tests that ran (passed or failed) according to a TAP summary; null when there is no summary. */
export function executedTests(tap: string): number | null {
  const c = tapCounts(tap);
  return c ? c.passed + c.failed : null;
}

/** The run's exit code: node's, or 1 with a message when it exited 0 but no test ran. */
export function judgeRun(code: number, tap: string, nodeArgs: string[]): { code: number; message?: string } {
  if (code !== 0) return { code };
  const ran = executedTests(tap);
  if (ran === null) return { code: 1, message: 'no test summary (did node --test run?)' };
  if (ran === 0) {
    return { code: 1, message: `no test ran: every test was filtered out or skipped${nodeArgs.length ? ` (${nodeArgs.join(' ')})` : ''}` };
  }
  return { code };
}
