// scripts/supervise.ts with real child processes (`node -e`): a crashing child is restarted with
// doubling, capped delays, each restart said; a run that stayed up resets the delay; kill -9 of a
// running child brings it back; stop() ends it for good, also while a restart is pending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProcess } from '../scripts/servers';
import { restartDelayMs, supervise } from '../scripts/supervise';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'supervise-'));
const until = async (what: string, ok: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** A child that counts its runs in a file, exits 1 for the first `crashes` runs, then stays up. */
function child(name: string, crashes: number) {
  const counter = path.join(tmp, `${name}.count`);
  fs.writeFileSync(counter, '0');
  const script = `const fs=require('fs');const n=+fs.readFileSync(${JSON.stringify(counter)},'utf8')+1;fs.writeFileSync(${JSON.stringify(counter)},String(n));` +
    `if(n<=${crashes})process.exit(1);setInterval(()=>{},1000);`;
  return {
    runs: () => Number(fs.readFileSync(counter, 'utf8')),
    start: () => startProcess({ name, command: process.execPath, args: ['-e', script], logFile: path.join(tmp, `${name}.log`) }),
  };
}

test('restart delays double from 1 s and stop at 30 s', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((n) => restartDelayMs(n)), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
});

test('a crashing child is restarted with backoff, announced; after a stable run a kill -9 restarts it at the first delay', async () => {
  const c = child('worker', 4);
  const said: string[] = [];
  const { supervised } = await supervise({ name: 'worker', start: c.start, say: (l) => said.push(l), minDelayMs: 40, maxDelayMs: 200, stableAfterMs: 800 });
  await until('the fifth run to stay up', () => c.runs() === 5 && supervised.current()?.running() === true);
  assert.deepEqual(said.map((l) => l.replace(/ \(log: .*\)$/, '')), [
    'worker exited with code 1; restarting in 0.04 s',
    'worker exited with code 1; restarting in 0.08 s',
    'worker exited with code 1; restarting in 0.16 s',
    'worker exited with code 1; restarting in 0.2 s',
  ]);
  await new Promise((r) => setTimeout(r, 900)); // stays up longer than stableAfterMs
  process.kill(supervised.current()!.pid, 'SIGKILL');
  await until('the run after kill -9', () => c.runs() === 6 && supervised.current()?.running() === true);
  assert.equal(said.at(-1)!.replace(/ \(log: .*\)$/, ''), 'worker was killed by SIGKILL; restarting in 0.04 s');
  assert.equal(supervised.restarts(), 5);
  const pid = supervised.current()!.pid;
  await supervised.stop();
  assert.throws(() => process.kill(pid, 0), 'the child is gone');
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(c.runs(), 6, 'not restarted after stop');
});

test('stop() during a pending restart cancels it', async () => {
  const c = child('api', 100);
  const said: string[] = [];
  const { supervised } = await supervise({ name: 'api', start: c.start, say: (l) => said.push(l), minDelayMs: 5000 });
  await until('the first crash', () => said.length === 1);
  const t = Date.now();
  await supervised.stop();
  assert.ok(Date.now() - t < 1000, 'did not wait for the backoff');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(c.runs(), 1);
});
