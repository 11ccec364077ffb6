// The documents every attempt of a campaign shares are written once per tick for all the writers of
// that moment (docs/architecture.md, "The shared documents of a campaign"): end events as one
// insertMany, member counts as one update. (Lines: test/line-leases.test.ts; counters:
// test/campaign-counters.test.ts.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { MemberEnd, recordMemberEnd } from '../models/member-end';
import { MemberStore } from '../models/member-store';
import { connectTestDb, createCampaign } from './support/env';
import { commandsSent } from './support/commands';

before(() => connectTestDb('shared_batches_test'));
after(() => mongoose.disconnect());

const event = (member: string) => ({ domain: 'test.local', dialer: 'c1', member, event: { member } });

test('end events of one tick are one insertMany; one already stored (a retried activity) is kept once', async () => {
  assert.equal(await recordMemberEnd('wf-0:1', event('m0')), true);
  let stored: boolean[] = [];
  const seen = await commandsSent(async () => {
    stored = await Promise.all([
      recordMemberEnd('wf-1:1', event('m1')), recordMemberEnd('wf-0:1', event('m0')), recordMemberEnd('wf-2:1', event('m2')),
      recordMemberEnd('wf-2:1', event('m2')), recordMemberEnd('wf-3:1', event('m3')),
    ]);
  });
  assert.deepEqual(seen.filter((c) => c.collection === 'member_end_events').map((c) => c.name), ['insert']);
  assert.deepEqual(stored, [true, false, true, false, true], 'stored by this call, or already');
  assert.deepEqual((await MemberEnd.find({}, { _id: 1 }).sort({ _id: 1 }).lean()).map((d) => d._id), ['wf-0:1', 'wf-1:1', 'wf-2:1', 'wf-3:1']);
  const one = await MemberEnd.findById('wf-3:1').lean<{ domain: string; dialer: string; member: string; createdOn: number }>();
  assert.deepEqual([one!.domain, one!.dialer, one!.member, typeof one!.createdOn], ['test.local', 'c1', 'm3', 'number']);
});

test('member count changes made together are one update of the counter document, and exact', async () => {
  const camp = await createCampaign();
  const id = String(camp._id);
  const member = (i: number) => ({ _id: new mongoose.Types.ObjectId(), dialer: id, domain: 'test.local', name: `m${i}`, communications: [{ number: `10${i}` }], _endCause: null });
  const seen = await commandsSent(() => Promise.all(Array.from({ length: 12 }, (_, i) => MemberStore.insert([member(i)]))));
  const countWrites = seen.filter((c) => c.collection === 'dialer_member_counts');
  // One per tick, and one for those made while it was in flight: how many ticks depends on when the
  // inserts' own writes answer, but never one per insert.
  assert.ok(countWrites.length < 12, `${countWrites.length} count writes for 12 inserts`);
  assert.equal((await MemberStore.counts(id)).total, 12);
});
