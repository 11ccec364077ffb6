// scripts/test.ts: a run in which no test executed fails, although node --test itself exits 0
// (a --test-name-pattern or file filter that matches nothing, every test skipped).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { judgeRun, nodeTestArgs } from '../scripts/node-test';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runner-test-'));
const file = path.join(dir, 'sample.test.js');
after(() => fs.rmSync(dir, { recursive: true, force: true }));
fs.writeFileSync(file, "const { test } = require('node:test');\ntest('alpha', () => {});\ntest.skip('beta', () => {});\n");

function runNode(nodeArgs: string[]): { node: number; judged: number; message?: string } {
  const tapFile = path.join(dir, `${nodeArgs.join('_').replace(/\W/g, '')}.tap`);
  // Without NODE_TEST_CONTEXT the child is a top-level run (as in scripts/test.ts), not a subtest of this one.
  const env = { ...process.env, NODE_TEST_CONTEXT: undefined };
  const r = spawnSync(process.execPath, nodeTestArgs(nodeArgs, [file], tapFile), { cwd: path.join(__dirname, '..'), encoding: 'utf8', env });
  const node = r.status ?? 1;
  const judged = judgeRun(node, fs.existsSync(tapFile) ? fs.readFileSync(tapFile, 'utf8') : '', nodeArgs);
  return { node, judged: judged.code, message: judged.message };
}

test('a name pattern that matches no test: node exits 0, the run fails', () => {
  const r = runNode(['--test-name-pattern=no-such-test']);
  assert.equal(r.node, 0, 'node --test alone calls this a success');
  assert.equal(r.judged, 1);
  assert.match(r.message ?? '', /no test ran/);
});

test('a pattern that matches only a skipped test fails too; one that runs a test passes', () => {
  assert.equal(runNode(['--test-name-pattern=beta']).judged, 1);
  assert.deepEqual(runNode(['--test-name-pattern=alpha']), { node: 0, judged: 0, message: undefined });
});

test('a failing run keeps node\'s exit code', () => {
  assert.equal(judgeRun(1, '# pass 0\n# fail 2\n', []).code, 1);
  assert.equal(judgeRun(0, '', []).code, 1, 'no summary at all is not a pass');
});
