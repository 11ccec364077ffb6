// Workflow code must bundle for Temporal's deterministic sandbox, and every committed history must
// replay against today's code (docs/versioning.md says when to re-record and when to patch). No server needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { historyFromFile, replayAll } from '../lib/histories';
import { workflowBundle } from './support/env';

const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never;

test('the workflows bundle for the sandbox', async () => {
  const { code } = await workflowBundle();
  assert.ok(code.includes('memberWorkflow'));
  assert.ok(!/require\("(mongoose|modesl|koa)"\)/.test(code), 'no server library is bundled into workflow code');
});

test('the rules are preloaded once per sandbox and hold nothing of a workflow', async () => {
  const { code } = await workflowBundle();
  const preload = /preloadModules = function preloadModules\(\) \{([^}]*)\}/.exec(code)?.[1] ?? '';
  assert.match(preload, /"\.\/rules\/index\.ts"/, 'rules/index.ts is evaluated once, not per workflow');
  // Preloaded modules are shared by every workflow of the thread: the workflow API (a workflow's
  // own state) must not be among what they import.
  const rules = path.join(__dirname, '..', 'rules');
  for (const f of fs.readdirSync(rules, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
    assert.doesNotMatch(fs.readFileSync(path.join(rules, f), 'utf8'), /from '@temporalio\//, `rules/${f} imports the Temporal SDK`);
  }
});

test('the bundler rejects a Node built-in imported into workflow code', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wf-'));
  const file = path.join(dir, 'bad-workflow.ts');
  fs.writeFileSync(file, "import fs from 'node:fs';\nexport async function bad() { return fs.existsSync('/'); }\n");
  const errors: string[] = [];
  const logger = { ...(silent as object), error: (m: string) => errors.push(m), warn: (m: string) => errors.push(m) } as never;
  await assert.rejects(bundleWorkflowCode({ workflowsPath: file, logger }), /Webpack finished with errors/);
  assert.match(errors.join('\n'), /fs/, 'the bundler names the forbidden module');
});

test('every committed workflow history replays against the current code', async () => {
  const root = path.join(__dirname, 'replay');
  const files = fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json') && !f.endsWith('.meta.json'));
  assert.ok(files.length >= 5, `expected recorded histories under test/replay, found ${files.length}`);
  function* histories() {
    for (const f of files) {
      const meta = JSON.parse(fs.readFileSync(path.join(root, f.replace(/\.json$/, '.meta.json')), 'utf8')) as { workflowId: string };
      yield { history: historyFromFile(fs.readFileSync(path.join(root, f), 'utf8')), workflowId: meta.workflowId };
    }
  }
  const failures: string[] = [];
  for await (const r of replayAll(await workflowBundle(), histories())) {
    if (r.error) failures.push(`${r.workflowId}: ${r.error}`);
  }
  assert.deepEqual(failures, []);
});
