// Benchmark 1 (issue 5): time from start (PUT /api/v2/dialer/:id/state/1 through the API) to the
// first originate the simulator sees, for a campaign of 1k members and one of 1M members generated
// straight into Mongo (insertMany in batches; generation is not timed). Goal: 1M within 1.5× of 1k.
//   npx tsx bench/start-latency.ts [--big 1000000] [--small 1000] [--trials 3] [--batch 10000] [--claim-queries 2]
//                                  [--no-beside] [--id-index] [--ferret-sync normal]
// --claim-queries N: how often the claim query is timed on each campaign (0: not at all; on FerretDB
//   each is a full decode of the collection, ~5 min at 1M members).
// --no-beside: skip phase 3 (a new small campaign beside the big one).
// --id-index: add an index on the `_id` expression FerretDB 1.24 queries (bench/lib/stack.ts
//   addIdIndexes). Only for an unpatched FerretDB build: the one scripts/setup.sh builds already
//   looks `_id` up through its own index (docs/setup.md, "FerretDB source patch").
// The FerretDB binary is the one in $DIALER_TOOLS_DIR/bin (default .tools/bin).
// Each trial: reset the simulator, start the campaign, wait for its first originate, stop the
// campaign and wait until it has ended (so the next trial starts a fresh campaign workflow run).
// Also times the claim query itself (the ready filter + sort of activities/campaign.ts) on each size.
import os from 'node:os';
import { Campaign, Member } from '../models';
import { arg, flag, log, median, sleep, startStack, waitFor, type Stack } from './lib/stack';

const SORT = { _nextTryTime: -1, priority: -1, _id: 1 } as const;

async function firstOriginate(s: Stack, campaignId: string, timeoutMs: number): Promise<number> {
  s.sim.reset();
  const t0 = performance.now();
  await s.start(campaignId);
  const tApi = performance.now() - t0;
  await waitFor('the first originate', () => s.sim.activeChannels() > 0 || s.sim.calls().some((c) => c.channelVars.dlr_queue === campaignId), timeoutMs, 2);
  const ms = performance.now() - t0;
  log(`  first originate after ${ms.toFixed(0)} ms (API answered in ${tApi.toFixed(0)} ms)`);
  await s.stop(campaignId);
  const t1 = Date.now();
  await waitFor('the campaign to end after stop', async () => {
    const d = await Campaign.findById(campaignId, { state: 1, _cause: 1 }).lean<{ state: number; _cause: string }>();
    return d?.state === 4;
  }, 15 * 60_000, 100);
  log(`  stopped and ended in ${((Date.now() - t1) / 1000).toFixed(1)} s; ${s.sim.calls().length} originates in this trial`);
  await sleep(500);
  return ms;
}

async function claimQueryMs(campaignId: string): Promise<number> {
  const now = Date.now();
  const t0 = performance.now();
  await Member.findOne({
    dialer: campaignId, _endCause: null, _lock: null, _dispatch: null, _waitingForResultStatusCb: null,
    $or: [{ _readyAt: null }, { _readyAt: { $lte: now } }],
  }, { _id: 1 }).sort(SORT).lean();
  return performance.now() - t0;
}

async function byIdMs(campaignId: string): Promise<number> {
  const one = await Member.findOne({ dialer: campaignId }, { _id: 1 }).lean<{ _id: unknown }>();
  const t0 = performance.now();
  await Member.findById(one!._id).lean();
  return performance.now() - t0;
}

async function trials(s: Stack, label: string, id: string, n: number, timeoutMs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    log(`${label}: trial ${i + 1}/${n}`);
    out.push(await firstOriginate(s, id, timeoutMs));
  }
  return out;
}

async function main(): Promise<void> {
  const big = Number(arg('--big', '1000000'));
  const small = Number(arg('--small', '1000'));
  const nTrials = Number(arg('--trials', '3'));
  const batch = Number(arg('--batch', '10000'));
  const timeoutMs = Number(arg('--timeout-s', '600')) * 1000;
  const nQueries = Number(arg('--claim-queries', '2'));
  const beside = !flag('--no-beside');
  const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');
  const load0 = load();
  log(`load average at start: ${load0} (${os.cpus().length} CPUs)`);
  const s = await startStack({
    idIndex: flag('--id-index'),
    ferretSync: (arg('--ferret-sync', '') || undefined) as 'normal' | 'off' | undefined,
    sim: { rules: { default: { type: 'busy', ringSec: 0 } }, sessionsPerSecond: 1000, maxSessions: 5000 },
  });
  try {
    // Warm-up: worker bundle loaded, Temporal task queues and Mongo collections exist.
    const warm = await s.createCampaign({ name: 'warm-up', limit: 5 });
    await s.insertMembers(warm, 20, { prefix: '38099' });
    await trials(s, 'warm-up (20 members)', warm, 1, timeoutMs);

    const smallId = await s.createCampaign({ name: `small ${small}`, limit: 10 });
    await s.insertMembers(smallId, small, { prefix: '38050', batch });
    const smallQ: number[] = [];
    for (let i = 0; i < nQueries; i++) smallQ.push(await claimQueryMs(smallId));
    log(`claim query on ${small} members (collection ${await Member.estimatedDocumentCount()}): ${smallQ.map((x) => x.toFixed(1)).join(', ')} ms`);
    const smallT = await trials(s, `${small} members`, smallId, nTrials, timeoutMs);

    const bigId = await s.createCampaign({ name: `big ${big}`, limit: 10 });
    log(`generating ${big} members (insertMany, batches of ${batch}; not timed in the result)`);
    const genS = await s.insertMembers(bigId, big, { prefix: '38067', batch, progress: true });
    log(`generated ${big} members in ${genS.toFixed(0)} s (${Math.round(big / genS)}/s)`);
    log(`load average after generation: ${load()}`);
    const bigQ: number[] = [];
    for (let i = 0; i < nQueries; i++) bigQ.push(await claimQueryMs(bigId));
    const idQ = await byIdMs(bigId);
    log(`claim query on ${big} members: ${bigQ.map((x) => x.toFixed(0)).join(', ')} ms; findById: ${idQ.toFixed(1)} ms`);
    const bigT = await trials(s, `${big} members`, bigId, nTrials, timeoutMs);

    // The small campaign again, now beside the big one: FerretDB's cost follows the collection size.
    let smallQ2 = NaN;
    let small2T: number[] = [];
    if (beside) {
      if (nQueries > 0) smallQ2 = await claimQueryMs(smallId);
      const small2 = await s.createCampaign({ name: `small ${small} beside big`, limit: 10 });
      await s.insertMembers(small2, small, { prefix: '38063', batch });
      small2T = await trials(s, `${small} members beside ${big}`, small2, nTrials, timeoutMs);
    }

    const ms = (xs: number[]) => xs.length ? `${median(xs).toFixed(0)} ms (trials ${xs.map((x) => x.toFixed(0)).join(', ')})` : 'not run';
    const q = (xs: number[], d: number) => xs.length ? `${median(xs).toFixed(d)} ms` : 'not timed';
    console.log('\n=== Benchmark 1: start → first originate ===');
    console.log(`${small} members (collection ${small + 20}):        ${ms(smallT)}; claim query ${q(smallQ, 1)}`);
    console.log(`${big} members (collection ${big + small + 20}): ${ms(bigT)}; claim query ${q(bigQ, 0)}; findById ${idQ.toFixed(1)} ms`);
    console.log(`${small} members beside the ${big}:        ${ms(small2T)}; claim query (first small campaign, now) ${Number.isNaN(smallQ2) ? 'not timed' : `${smallQ2.toFixed(0)} ms`}`);
    console.log(`ratio big/small: ${(median(bigT) / median(smallT)).toFixed(2)} (goal ≤ 1.5); generation ${genS.toFixed(0)} s = ${Math.round(big / genS)} members/s`);
    console.log(`load average (1/5/15 min): ${load0} at start, ${load()} at the end; ${os.cpus().length} CPUs`);
  } finally {
    await s.close();
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
