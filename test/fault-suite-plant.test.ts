// The fault suite can fail: a short real run (its own FerretDB, Temporal, simulator, worker and two
// APIs on free ports; 4 members, no faults) with a duplicate originate planted through the simulator's
// control switch, an answered attempt's result overwritten with LOST_CALL and a member edit (answered
// 200 by one of the two APIs) undone in the store must exit 1 and name each violation. About 30 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

test('the fault suite (two APIs) fails on a planted duplicate originate, lost answered call and lost member edit', { timeout: 240_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/fault-suite.ts', '--members', '4', '--faults', '0', '--apis', '2', '--plant', 'duplicate,lost-answer,lost-edit'], {
    cwd: path.join(__dirname, '..'), env: { ...process.env, NODE_TEST_CONTEXT: undefined }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGTERM'), 200_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  const kept = /logs kept in (\S+)\/logs/.exec(out)?.[1];
  if (kept?.includes('dialer-fault-')) fs.rmSync(kept, { recursive: true, force: true });
  assert.equal(code, 1, `exit code; output:\n${out.slice(-3000)}`);
  assert.match(out, /attempt\(s\) originated more than once/);
  assert.match(out, /redial\(s\) of a member whose call was answered/);
  assert.match(out, /stored LOST_CALL for a call the switch ended normally and reported/);
  assert.match(out, /duplicates=1, redials of answered calls=[1-9]/);
  assert.match(out, /API2 :\d+/, 'the second API process was started');
  assert.match(out, /APIs: 2, requests [1-9]\d* \+ [1-9]/, 'requests went to both APIs');
  assert.match(out, /1 member edit\(s\) answered 200 but not stored/);
});
