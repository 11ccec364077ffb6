// One writer per document (docs/architecture.md, "Who writes what"):
// - a static scan: only the owning module writes an owned collection (members and the ready queue:
//   models/member-store.ts; dialer_lines: models/lines.ts; attempts: models/attempt.ts; dialer_imports:
//   models/import-progress.ts; dialer:
//   models/campaign-store.ts), and the scan finds violations planted in its own fixture;
// - the documents still written from several places of one worker (a campaign's lines and counters,
//   its ready-queue chunks) stay exact on a pool of several connections;
// - on the real stack, the API's edit and terminate of a member whose workflow runs go through that
//   workflow (its history shows the Update), and an edit that races an attempt's end is not lost.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import mongoose from 'mongoose';
import { Attempt, Campaign, Member, type MemberDoc } from '../models';
import { CampaignStore } from '../models/campaign-store';
import { LineLeases } from '../models/lines';
import { MemberStore } from '../models/member-store';
import { freshHeads } from '../models/ready-queue';
import { claimReady } from '../activities/claim';
import { editUpdate, memberInfoQuery, memberWorkflowId } from '../workflows/messages';
import { startMemberWorkflowWithGrant } from '../workflows/start';
import type { ApiHarness, Cred } from './api-support';
import { e2eFile } from './support/e2e-stack';
import { waitFor } from './support/env';

const ROOT = path.join(__dirname, '..');
/** The product's code (tests, benchmarks and scripts seed or corrupt data on purpose). */
const SCANNED = ['activities', 'api', 'services', 'lib', 'models', 'workflows', 'rules', 'esl', 'simulator'];

/** Owned collections: the one module that writes each, and how a write of it is spelt elsewhere. */
const OWNERS: { what: string; owner: string; writes: RegExp }[] = [
  {
    what: 'members',
    owner: 'models/member-store.ts',
    writes: /\bMember\s*\.\s*(?:collection\s*\.\s*)?(?:updateOne|updateMany|replaceOne|deleteOne|deleteMany|findOneAndUpdate|findOneAndReplace|findOneAndDelete|findByIdAndUpdate|findByIdAndDelete|bulkWrite|create|insertMany|insertOne)\b|\.collection\(\s*['"`]members['"`]\s*\)/g,
  },
  {
    // The queue's collections are written by models/ready-queue.ts, called only by the member store.
    what: 'the ready queue',
    owner: 'models/member-store.ts',
    writes: /\b(?:enqueueMembers|putTimed|dropTimed|dropTimedMany|requeue|consumeFresh|dropQueues)\s*\(|\.collection\(\s*['"`]dialer_queue/g,
  },
  {
    // Member counts and number lookups, kept by the member store's transitions.
    what: 'dialer_member_counts/numbers/resets',
    owner: 'models/member-store.ts',
    writes: /\.collection\s*(?:<[^>]*>)?\(\s*['"`]dialer_member_(?:counts|numbers|resets)/g,
  },
  {
    what: 'dialer_lines',
    owner: 'models/lines.ts',
    writes: /\bLines\s*\.\s*(?:updateOne|updateMany|replaceOne|deleteOne|deleteMany|findOneAndUpdate|bulkWrite|create|insertMany)\b|\.collection\(\s*['"`]dialer_lines['"`]\s*\)/g,
  },
  {
    // Turns on documents several processes write (models/serial.ts `exclusively`).
    what: 'dialer_turns',
    owner: 'models/serial.ts',
    writes: /\.collection\s*(?:<[^>]*>)?\(\s*['"`]dialer_turns['"`]\s*\)/g,
  },
  {
    // The attempt record (its member's activities) and the first-wins results and answers.
    what: 'attempts',
    owner: 'models/attempt.ts',
    writes: /\bAttempt\s*\.\s*(?:collection\s*\.\s*)?(?:updateOne|updateMany|replaceOne|deleteOne|deleteMany|findOneAndUpdate|findByIdAndUpdate|bulkWrite|create|insertMany|insertOne)\b|\.collection\s*(?:<[^>]*>)?\(\s*['"`]attempt(?:s|_results|_answers)['"`]\s*\)/g,
  },
  {
    // Compliance (models/compliance.ts): the list and settings the API writes, the contact counts
    // the member activities write; its models are private to it.
    what: 'dialer_dnc/compliance/contacts',
    owner: 'models/compliance.ts',
    writes: /\.collection\s*(?:<[^>]*>)?\(\s*['"`]dialer_(?:dnc|compliance|contacts)['"`]/g,
  },
  {
    what: 'dialer_imports',
    owner: 'models/import-progress.ts',
    writes: /\.collection\s*(?:<[^>]*>)?\(\s*['"`]dialer_imports['"`]\s*\)/g,
  },
  {
    what: 'dialer (campaigns)',
    owner: 'models/campaign-store.ts',
    writes: /\bCampaign\s*\.\s*(?:collection\s*\.\s*)?(?:updateOne|updateMany|replaceOne|deleteOne|deleteMany|findOneAndUpdate|findByIdAndUpdate|bulkWrite|create|insertMany|insertOne)\b|\.collection\(\s*['"`]dialer['"`]\s*\)|\.save\(\s*\)/g,
  },
];

/** Writes of owned collections in `source` (a file at `file`, relative to the root) by a module
 *  that does not own them. */
function violations(file: string, source: string): string[] {
  const out: string[] = [];
  const code = source.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
  for (const o of OWNERS) {
    if (file === o.owner) continue;
    // The queue module holds the queue's writes; the member store is the only module calling them.
    if (o.what === 'the ready queue' && file === 'models/ready-queue.ts') continue;
    for (const m of code.matchAll(o.writes)) out.push(`${file}: writes ${o.what} (${m[0].trim()}); only ${o.owner} may`);
  }
  return out;
}

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

describe('the owners of the stored documents (static)', () => {
  test('the scan finds a write of each owned collection planted outside its owner', () => {
    const planted = [
      "await Member.updateOne({ _id: id }, { $set: { name: 'x' } });",
      'await Member.collection.insertMany(docs);',
      "await mongoose.connection.collection('dialer_lines').deleteOne({ _id: id });",
      "await mongoose.connection.collection('dialer_member_counts').updateOne({ _id: id }, { $inc: { total: 1 } });",
      "await mongoose.connection.collection('dialer_turns').deleteOne({ _id: key });",
      'await dropTimed(campaignId, id);',
      "await Attempt.updateOne({ _id: uuid }, { $set: { sentOn: null } });",
      "await mongoose.connection.collection('attempt_results').insertOne({ _id: uuid, cause: 'X' });",
      "await Campaign.updateOne({ _id: id }, { $inc: { 'stats.callCount': 1 } });",
      "await mongoose.connection.collection('dialer_contacts').deleteOne({ _id: key });",
      'await doc.save();',
      "await mongoose.connection.collection('dialer_imports').updateOne({ _id: id }, { $set: { rowsStored: 1 } });",
      "// Member.updateOne in a comment is not a write",
    ].join('\n');
    const found = violations('api/members.ts', planted);
    assert.equal(found.length, 12, found.join('\n'));
    for (const what of ['members', 'dialer_member_counts/numbers/resets', 'dialer_turns', 'dialer_lines', 'the ready queue', 'attempts', 'dialer (campaigns)', 'dialer_dnc/compliance/contacts', 'dialer_imports']) {
      assert.ok(found.some((f) => f.includes(`writes ${what} `)), `${what} planted and found`);
    }
    // The same writes in their owners are theirs.
    assert.deepEqual(violations('models/member-store.ts', "await Member.updateOne({ _id }, { $set: {} });\nawait dropTimed(c, id);"), []);
    assert.deepEqual(violations('models/lines.ts', 'await Lines.updateOne({ _id }, { $set: {} });'), []);
  });

  test('no module but the owner writes an owned collection', () => {
    const found: string[] = [];
    for (const folder of SCANNED) {
      for (const file of tsFiles(path.join(ROOT, folder))) {
        found.push(...violations(path.relative(ROOT, file).split(path.sep).join('/'), fs.readFileSync(file, 'utf8')));
      }
    }
    assert.deepEqual(found, [], found.join('\n'));
  });
});

// ---- On FerretDB, with a pool of several connections ---------------------------------------------

describe('documents written from several places of one process, on a pool of 8 connections', () => {
  before(async () => {
    const u = new URL(process.env.MONGODB_URI!);
    u.pathname = '/single_writer_pool';
    await mongoose.connect(u.toString(), { maxPoolSize: 8 });
    await mongoose.connection.db!.dropDatabase();
  });
  after(() => mongoose.disconnect());

  test('line leases: 60 members acquire at once, exactly the limit wins; all released, nothing held', async () => {
    const dest = [{ uuid: 'd1', limit: 10 }];
    const won = await Promise.all(Array.from({ length: 60 }, (_, i) => LineLeases.acquire('lines-c', `a${i}`, 10, dest)));
    assert.equal(won.filter(Boolean).length, 10, 'the limit holds');
    let snap = await LineLeases.snapshot('lines-c');
    assert.deepEqual([snap!.active, snap!.dest.d1, snap!.leases.length], [10, 10, 10]);
    await Promise.all(Array.from({ length: 60 }, (_, i) => LineLeases.release('lines-c', `a${i}`)));
    snap = await LineLeases.snapshot('lines-c');
    assert.deepEqual([snap!.active, snap!.dest.d1, snap!.leases.length], [0, 0, 0]);
  });

  test('campaign counters: 60 attempts counted at once are 60', async () => {
    const camp = await CampaignStore.create({ domain: 'pool.local', name: 'Counters', type: 'Voice Broadcasting' });
    const id = String(camp._id);
    await Attempt.insertMany(Array.from({ length: 60 }, (_, i) => ({
      _id: `u${i}`, dialer: id, domain: 'pool.local', member: 'm', workflowId: 'w', attempt: 1, number: '1', dialString: '1', jobUuid: `j${i}`,
    })));
    await Promise.all(Array.from({ length: 60 }, (_, i) =>
      CampaignStore.countOnce(id, `u${i}`, 'counted', `u${i}`, { 'stats.callCount': 1 }, { counted: true })));
    const doc = await Campaign.findById(id).lean<{ stats: { callCount: number; _counting: object } }>();
    assert.equal(doc!.stats.callCount, 60);
    assert.deepEqual(Object.keys(doc!.stats._counting), []);
  });

  test('ready-queue chunks: members inserted while the campaign claims are each claimed exactly once', async () => {
    const camp = await CampaignStore.create({ domain: 'pool.local', name: 'Queue', type: 'Voice Broadcasting' });
    const id = String(camp._id);
    const batches = Array.from({ length: 10 }, (_, b) => Array.from({ length: 30 }, (_, i) => ({
      _id: new mongoose.Types.ObjectId(), dialer: id, domain: 'pool.local', name: `m${b}-${i}`, priority: b % 3,
      communications: [{ number: '1' }], _endCause: null, _lock: null, _dispatch: null, _readyAt: null, _nextTryTime: null, _waitingForResultStatusCb: null,
    })));
    const claimed: string[] = [];
    let stop = false;
    const claims = (async () => {
      let n = 0;
      while (!stop || (await freshHeads(id, 1)).length) {
        n++;
        await claimReady({ campaignId: id, strategy: 'next-tries-circuit', now: Date.now(), leaseIds: Array.from({ length: 25 }, (_, i) => `l${n}-${i}`) }, (_lease, d: { _id: unknown }) => {
          claimed.push(String(d._id));
        });
      }
    })();
    await Promise.all(batches.map((docs) => MemberStore.insert(docs)));
    stop = true;
    await claims;
    assert.equal(claimed.length, 300, 'every member claimed');
    assert.equal(new Set(claimed).size, 300, 'none twice');
    assert.equal(await Member.countDocuments({ dialer: id, _dispatch: null }), 0);
  });
});

// ---- The real stack: API, worker, simulator ------------------------------------------------------

describe('the API asks the owner of a running member', () => {
  let api: ApiHarness;
  let cred: Cred;

  e2eFile('single_writer_stack', {
    domain: 'owners.local',
    api: { updateTimeoutMs: 15_000 },
    simulator: {
      rules: {
        default: { type: 'answer', ringSec: 0, talkSec: 1 },
        rules: [
          { name: 'busy', prefix: '200', outcome: { type: 'busy' } },
          { name: 'long', prefix: '300', outcome: { type: 'answer', ringSec: 0, talkSec: 3 } },
        ],
      },
    },
    worker: { cdr: false, reconcile: false },
  }, (s) => ({ api, cred } = s));

  async function campaignWith(number: string, name: string) {
    const campaign = await CampaignStore.create({
      domain: 'owners.local', name: `Owners ${Date.now()}`, type: 'Voice Broadcasting',
      parameters: { limit: 5, maxTryCount: 3, intervalTryCount: 600, originateTimeout: 10 },
      resources: [{ dialedNumber: '^(\\d+)$', destinations: [{ gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit: 5 }] }],
    });
    const id = String(campaign._id);
    const res = await api.req('POST', `/api/v2/dialer/${id}/members?autoRun=true`, { cred, body: { name, variables: { debt: 100 }, communications: [{ number }] } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return { id, memberId: String(res.body.data.insertedIds[0]) };
  }

  async function updatesIn(workflowId: string): Promise<string[]> {
    const hist = await api.client.workflow.getHandle(workflowId).fetchHistory();
    return (hist.events ?? []).flatMap((e) => {
      const name = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name;
      return name ? [name] : [];
    });
  }

  test('an edit of a member waiting for its retry is stored by its workflow, through an Update', { timeout: 60_000 }, async () => {
    const { id, memberId } = await campaignWith(`2001${Date.now() % 100000}`, 'Busy Bob');
    const wf = memberWorkflowId(id, memberId);
    const handle = api.client.workflow.getHandle(wf);
    await waitFor('the retry wait', async () => (await Member.findById(memberId).lean<MemberDoc>())?._probeCount === 1 && (await handle.query(memberInfoQuery)).phase === 'waiting');
    const r = await api.req('PUT', `/api/v2/dialer/${id}/members/${memberId}`, { cred, body: { name: "Bob O'Neil", variables: { debt: 200 }, communications: [{ number: '2009999' }, { number: '1009999' }] } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(await updatesIn(wf), ['edit'], 'the edit went to the workflow');
    const info = await handle.query(memberInfoQuery);
    assert.equal(info.member.name, 'Bob O_Neil');
    const doc = (await Member.findById(memberId).lean<MemberDoc>())!;
    assert.equal(doc.name, 'Bob O_Neil');
    assert.deepEqual(doc.variables, { debt: 200 }, 'variables stored as sent');
    assert.deepEqual(doc.communications.map((c) => c.number), ['2009999', '1009999']);
    assert.equal(doc._probeCount, 1, 'engine fields kept');
    assert.equal((doc._log as { steps?: { data: string }[] }[])[0].steps?.at(-1)?.data, 'Updated through the API');
  });

  test('terminate of a member whose workflow runs ends it through the workflow, with one end event', { timeout: 60_000 }, async () => {
    const { id, memberId } = await campaignWith(`2002${Date.now() % 100000}`, 'Busy Bea');
    const wf = memberWorkflowId(id, memberId);
    await waitFor('the retry wait', async () => (await Member.findById(memberId).lean<MemberDoc>())?._probeCount === 1 && (await api.client.workflow.getHandle(wf).query(memberInfoQuery)).phase === 'waiting');
    const r = await api.req('PUT', `/api/v2/dialer/${id}/members/${memberId}/terminate`, { cred });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(await updatesIn(wf), ['terminate']);
    assert.equal((await Member.findById(memberId).lean<MemberDoc>())!._endCause, 'MANAGER_REQUEST');
    const events = await mongoose.connection.collection('member_end_events').find({ member: memberId }).toArray();
    assert.equal(events.length, 1);
    assert.equal((events[0].event as { reason: string }).reason, 'terminate');
    assert.equal((await api.req('PUT', `/api/v2/dialer/${id}/members/${memberId}/terminate`, { cred })).status, 405);
  });

  test('an edit that arrives during the call is stored after the attempt, and the attempt is kept too', { timeout: 60_000 }, async () => {
    const { id, memberId } = await campaignWith(`3003${Date.now() % 100000}`, 'Talking Tom');
    const wf = memberWorkflowId(id, memberId);
    const handle = api.client.workflow.getHandle(wf);
    await waitFor('the call', async () => (await Member.findById(memberId).lean<MemberDoc>())?._lock);
    // What the API sends when it read the member just before the call locked it.
    const out = await handle.executeUpdate(editUpdate, { args: [{ patch: { name: 'Tom T', variables: { debt: '5' } }, fields: { name: 'Tom T', variables: { debt: 5 } } }] });
    assert.deepEqual(out, { stored: false }, 'accepted during the call, stored when it ends');
    const result = await handle.result();
    assert.equal(result.endCause, 'NORMAL_CLEARING');
    const doc = (await Member.findById(memberId).lean<MemberDoc>())!;
    assert.equal(doc.name, 'Tom T', 'the edit is not lost');
    assert.deepEqual(doc.variables, { debt: 5 });
    assert.equal(doc._endCause, 'NORMAL_CLEARING', 'nor is the attempt');
    assert.equal(doc._probeCount, 1);
    assert.equal((doc._log as { cause?: string }[])[0].cause, 'NORMAL_CLEARING');
  });

  test('the claim rule: an edit of a member claimed under the API is stored by its workflow once it starts', { timeout: 60_000 }, async () => {
    const campaign = await CampaignStore.create({
      domain: 'owners.local', name: `Claim rule ${Date.now()}`, type: 'Voice Broadcasting',
      parameters: { limit: 5, maxTryCount: 3, intervalTryCount: 600, originateTimeout: 10 },
      resources: [{ dialedNumber: '^(\\d+)$', destinations: [{ gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit: 5 }] }],
    });
    const id = String(campaign._id);
    const res = await api.req('POST', `/api/v2/dialer/${id}/members`, { cred, body: { name: 'Claimed Clara', communications: [{ number: `2004${Date.now() % 100000}` }] } });
    const memberId = String(res.body.data.insertedIds[0]);
    // The campaign claims the member (its workflow is not started yet) ...
    const doc = await Member.findById(memberId).lean<Record<string, unknown>>();
    assert.equal((await MemberStore.claimMany([{ doc: doc!, leaseId: 'lease-claim-rule', fresh: true }], { campaignId: id, now: Date.now() })).length, 1);
    // ... while the API edits it: the conditional write finds it claimed and nothing is written.
    const edit = api.req('PUT', `/api/v2/dialer/${id}/members/${memberId}`, { cred, body: { name: 'Clara B' } });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await Member.findById(memberId).lean<MemberDoc>())!.name, 'Claimed Clara', 'the API did not write a claimed member');
    // The grant starts its workflow, which takes the edit.
    await startMemberWorkflowWithGrant(api.client, { domain: 'owners.local', campaignId: id, memberId }, 'lease-claim-rule', api.taskQueue);
    const r = await edit;
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const wf = memberWorkflowId(id, memberId);
    assert.ok((await updatesIn(wf)).includes('edit'), 'the edit went to the workflow');
    await waitFor('the edit stored', async () => (await Member.findById(memberId).lean<MemberDoc>())!.name === 'Clara B');
    assert.equal((await api.client.workflow.getHandle(wf).query(memberInfoQuery)).member.name, 'Clara B');
  });
});
