// `npm run replay` (scripts/replay.ts) as an operator runs it before deploying a worker: it pulls the
// histories of a real campaign's workflows from the dev server `npm test` started, replays them
// against the working tree's workflow code (PASS), saves them in the corpus layout, and reports the
// first non-determinism (FAIL, exit 1) when the code no longer matches.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { historyFromFile } from '../lib/histories';
import { wakeCampaignWorkflow } from '../workflows/start';
import { startDevDialer, type DevDialer } from './support/dev-dialer';
import { connectTestDb, createCampaign, createMember, requireEnv, waitFor } from './support/env';

let dev: DevDialer;
const taskQueue = `replay-command-${process.pid}`;
const saveDir = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-save-'));

function replay(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/replay.ts', ...args], {
    cwd: path.join(__dirname, '..'), encoding: 'utf8', timeout: 120_000, env: { ...process.env, TEMPORAL_ADDRESS: requireEnv('TEMPORAL_ADDRESS') },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

before(async () => {
  await connectTestDb('replay_command');
  dev = await startDevDialer({ taskQueue, simulator: { rules: { default: { type: 'answer', ringSec: 0.2, talkSec: 0.5 } } }, worker: { cdr: false } });
});

after(async () => {
  await dev?.stop();
  await mongoose.disconnect();
  fs.rmSync(saveDir, { recursive: true, force: true });
});

test('replays a finished campaign from the server, saves it, and reports non-determinism', { timeout: 240_000 }, async () => {
  const campaign = await createCampaign({ domain: 'replay.local' });
  const id = String(campaign._id);
  await createMember(id, ['1005550001'], { domain: 'replay.local' });
  await wakeCampaignWorkflow(dev.dialer.client, { domain: 'replay.local', campaignId: id }, taskQueue);
  const query = `CampaignId = "${id}"`;
  await waitFor('the campaign and its member to close', async () => {
    let closed = 0;
    for await (const wf of dev.dialer.client.workflow.list({ query })) if (wf.status.name !== 'RUNNING') closed += 1;
    return closed >= 2;
  }, 90_000);

  const ok = replay('--query', query, '--save', saveDir);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, new RegExp(`^PASS campaign-${id}$`, 'm'));
  assert.match(ok.out, new RegExp(`^PASS member-${id}-\\w+$`, 'm'));
  assert.match(ok.out, /^2 passed, 0 failed$/m);
  const saved = fs.readdirSync(saveDir).filter((f) => f.endsWith('.json') && !f.endsWith('.meta.json'));
  assert.equal(saved.length, 2, 'one history file per workflow');
  for (const f of saved) {
    const meta = JSON.parse(fs.readFileSync(path.join(saveDir, f.replace(/\.json$/, '.meta.json')), 'utf8')) as { workflowId: string };
    assert.ok(meta.workflowId.includes(id));
    assert.ok(historyFromFile(fs.readFileSync(path.join(saveDir, f), 'utf8')).events.length > 3, 'a whole history was saved');
  }

  // Workflow code that no longer issues the same commands: every history fails with the reason.
  const changed = path.join(__dirname, 'fixtures', 'changed-workflows.ts');
  const bad = replay('--query', query, '--workflows', changed);
  assert.equal(bad.code, 1, bad.out);
  assert.match(bad.out, new RegExp(`^FAIL campaign-${id}: \\w*(Determinism|Nondeterminism)\\w*`, 'mi'));
  assert.match(bad.out, /^0 passed, 2 failed$/m);

  const none = replay('--query', 'CampaignId = "no-such-campaign"');
  assert.equal(none.code, 1, none.out);
  assert.match(none.out, /no workflow matched/);

  const usage = replay('--limit', '0');
  assert.equal(usage.code, 2, usage.out);
  assert.match(usage.out, /--query is required/);
});
