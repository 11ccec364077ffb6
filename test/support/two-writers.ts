// One of two processes writing the same campaign's shared documents at once (test/two-workers.test.ts):
//   tsx test/support/two-writers.ts <mongodb uri> <campaign id> <process tag> <start at (epoch ms)>
// It acquires 30 line leases at once (limit 10), counts 40 attempts, inserts 40 members one by one
// (their counts go to the shared `worker` document), releases its leases, and prints what it won.
import mongoose from 'mongoose';
import { CampaignStore } from '../../models/campaign-store';
import { LineLeases } from '../../models/lines';
import { MemberStore, setCountsWriter } from '../../models/member-store';
import { giveBackTurns } from '../../models/serial';

async function main(): Promise<void> {
  const [uri, campaignId, tag, startAt] = process.argv.slice(2);
  await mongoose.connect(uri, { maxPoolSize: 8 });
  setCountsWriter('worker');
  await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
  const dest = [{ uuid: 'd1', limit: 10 }];
  const won = await Promise.all(Array.from({ length: 30 }, (_, i) => LineLeases.acquire(campaignId, `${tag}-l${i}`, 10, dest)));
  await Promise.all(Array.from({ length: 40 }, (_, i) =>
    CampaignStore.countOnce(campaignId, `${tag}-u${i}`, 'counted', `${tag}-u${i}`, { 'stats.callCount': 1 }, { counted: true })));
  await Promise.all(Array.from({ length: 40 }, (_, i) =>
    MemberStore.insert([{ _id: new mongoose.Types.ObjectId(), dialer: campaignId, domain: 'two.local', name: `${tag}-${i}`, communications: [{ number: String(i) }], _endCause: null }])));
  const mine = won.map((w, i) => (w ? `${tag}-l${i}` : null)).filter((x): x is string => x !== null);
  // Hold the lines until both processes have counted how many they won.
  await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) + 8_000 - Date.now())));
  await Promise.all(mine.map((id) => LineLeases.release(campaignId, id)));
  process.stdout.write(`${JSON.stringify({ won: mine.length })}\n`);
  await giveBackTurns();
  await mongoose.disconnect();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
