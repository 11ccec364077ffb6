// A second process for test/member-counts.test.ts: the worker's side of the member counts. Connects
// to MONGODB_URI (argv[2]), counts as 'worker', and ends the members named in argv[4..] of campaign
// argv[3] through MemberStore.save, as the member workflow's activities do.
import mongoose from 'mongoose';
import { connectMongo } from '../../lib/db';
import { Member, memberState, type MemberDoc } from '../../models';
import { MemberStore, setCountsWriter } from '../../models/member-store';

async function main(): Promise<void> {
  const [uri, campaignId, ...ids] = process.argv.slice(2);
  await connectMongo(uri, { maxPoolSize: 4 });
  setCountsWriter('worker');
  await Promise.all(ids.map(async (id) => {
    const doc = await Member.findById(id).lean<MemberDoc>();
    if (doc) await MemberStore.save({ campaignId, memberId: id, member: { ...memberState(doc), endCause: 'MAX_TRY_COUNT' } });
  }));
  await mongoose.disconnect();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
