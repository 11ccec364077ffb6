// Two worker processes on one FerretDB store (issue 12): the documents both write — a campaign's
// line leases, its counters, its member counts — stay exact. Each runs in its own process (the
// in-process order of models/serial.ts covers neither), against the same campaign at the same instant.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import mongoose from 'mongoose';
import { Attempt, Campaign } from '../models';
import { CampaignStore } from '../models/campaign-store';
import { LineLeases } from '../models/lines';
import { MemberStore } from '../models/member-store';
import { connectTestDb, requireEnv } from './support/env';

const DB = 'two_workers_test';

function writer(campaignId: string, tag: string, startAt: number): Promise<{ won: number }> {
  const uri = new URL(requireEnv('MONGODB_URI'));
  uri.pathname = `/${DB}`;
  const script = path.join(__dirname, 'support', 'two-writers.ts');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', script, uri.toString(), campaignId, tag, String(startAt)], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${tag}: ${String(err)}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as { won: number });
    });
  });
}

before(() => connectTestDb(DB));
after(() => mongoose.disconnect());

test('two processes acquiring lines, counting attempts and inserting members at once: limit and counts exact', async () => {
  const camp = await CampaignStore.create({ domain: 'two.local', name: 'Two workers', type: 'Voice Broadcasting' });
  const id = String(camp._id);
  await Attempt.insertMany(['a', 'b'].flatMap((tag) => Array.from({ length: 40 }, (_, i) => ({
    _id: `${tag}-u${i}`, dialer: id, domain: 'two.local', member: 'm', workflowId: 'w', attempt: 1, number: '1', dialString: '1', jobUuid: `${tag}-j${i}`,
  }))));
  const startAt = Date.now() + 4_000; // both children connected and waiting by then
  const [a, b] = await Promise.all([writer(id, 'a', startAt), writer(id, 'b', startAt)]);
  assert.equal(a.won + b.won, 10, `lines won: ${a.won} + ${b.won}; the limit is 10`);
  const lines = await LineLeases.snapshot(id);
  assert.deepEqual([lines!.active, lines!.dest.d1, lines!.leases.length], [0, 0, 0], 'every line released');
  const doc = await Campaign.findById(id).lean<{ stats: { callCount: number; _counting: object } }>();
  assert.equal(doc!.stats.callCount, 80, 'every attempt counted once');
  assert.deepEqual(Object.keys(doc!.stats._counting), [], 'no counter marker left');
  assert.equal((await MemberStore.counts(id)).total, 80, 'every member counted');
});
