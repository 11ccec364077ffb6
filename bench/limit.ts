// Benchmark 3 (issue 5), part 2: the limit is held, and lowering it mid-run takes effect without
// killing calls. Calls are answered and last --talk-s seconds, so the campaign can fill its lines.
//   npx tsx bench/limit.ts [--limit 20] [--lowered 10] [--talk-s 20] [--members 400] [--id-index] [--ferret-sync normal]
// Phase 1: start through the API; the simulator's concurrent channel count must reach the limit and
// never pass it. Then PUT /api/v2/dialer/:id {parameters:{limit}} lowers it (the campaign workflow
// reloads its configuration on every loop). Calls in progress must end normally (no MANAGER_REQUEST,
// full talk time); once the count has fallen to the new limit, the simulator's peak is reset and
// phase 2 must again reach the new limit and never pass it. (Part 1 is in bench/throughput.ts.)
import { arg, flag, log, sleep, startStack, waitFor } from './lib/stack';

async function main(): Promise<void> {
  const limit = Number(arg('--limit', '20'));
  const lowered = Number(arg('--lowered', '10'));
  const talkS = Number(arg('--talk-s', '20'));
  const members = Number(arg('--members', '400'));
  const phaseS = Number(arg('--phase-s', String(talkS * 2)));
  const s = await startStack({
    idIndex: flag('--id-index'),
    ferretSync: (arg('--ferret-sync', '') || undefined) as 'normal' | 'off' | undefined,
    sim: { rules: { default: { type: 'answer', ringSec: 0.2, talkSec: talkS } }, sessionsPerSecond: 5000, maxSessions: 5000 },
  });
  let maxSeen = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      maxSeen = Math.max(maxSeen, s.sim.activeChannels());
      await sleep(20);
    }
  })();
  try {
    const id = await s.createCampaign({ name: 'limit', limit, maxTryCount: 1, originateTimeout: 30 });
    await s.insertMembers(id, members, { prefix: '38050' });
    s.sim.reset();
    const t0 = performance.now();
    await s.start(id);
    const filled = await waitFor(`${limit} concurrent calls`, () => s.sim.activeChannels() >= limit, 300_000, 20).then(() => true, () => false);
    log(`phase 1: ${filled ? `limit ${limit} reached after ${((performance.now() - t0) / 1000).toFixed(1)} s` : `limit ${limit} NOT reached`}; holding ${phaseS} s`);
    await sleep(phaseS * 1000);
    const peak1 = s.sim.peakChannels();
    const max1 = maxSeen;
    log(`phase 1: simulator peak ${peak1}, sampled max ${max1}, calls ${s.sim.calls().length}`);

    const tLower = performance.now();
    const r = await s.req('PUT', `/api/v2/dialer/${id}`, { parameters: { limit: lowered } });
    if (r.status !== 200) throw new Error(`PUT limit: ${r.status} ${JSON.stringify(r.body)}`);
    log(`limit lowered to ${lowered} through the API; ${s.sim.activeChannels()} calls up`);
    await waitFor(`at most ${lowered} calls`, () => s.sim.activeChannels() <= lowered, (talkS + 60) * 1000, 20);
    const drainS = (performance.now() - tLower) / 1000;
    // No call was cut: every call that ended since the start ended by the far end after its full talk time.
    const ended = s.sim.calls().filter((c) => c.state === 'ended');
    const cut = ended.filter((c) => c.hangupCause !== 'NORMAL_CLEARING' || (c.billsec ?? 0) < talkS - 1);
    log(`down to ${s.sim.activeChannels()} calls ${drainS.toFixed(1)} s after lowering; ${ended.length} calls ended so far, ${cut.length} cut short`);
    s.sim.reset({ hangup: false });
    maxSeen = s.sim.activeChannels();
    await sleep(phaseS * 1000);
    const peak2 = s.sim.peakChannels();
    const max2 = maxSeen;
    const ended2 = s.sim.calls().filter((c) => c.state === 'ended');
    const cut2 = ended2.filter((c) => c.hangupCause !== 'NORMAL_CLEARING' || (c.billsec ?? 0) < talkS - 1);
    await s.stop(id);
    console.log('\n=== Benchmark 3: limit held, lowered mid-run ===');
    console.log(`phase 1, limit ${limit}: simulator peak ${peak1} (sampled max ${max1}) — ${peak1 === limit ? 'equals the limit' : peak1 < limit ? 'below the limit' : 'ABOVE THE LIMIT'}`);
    console.log(`lowered to ${lowered}: calls fell to ${lowered} in ${drainS.toFixed(1)} s (calls last ${talkS} s); ${cut.length} of ${ended.length} ended calls cut short`);
    console.log(`phase 2, limit ${lowered}: simulator peak since then ${peak2} (sampled max ${max2}) — ${peak2 === lowered ? 'equals the limit' : peak2 < lowered ? 'below the limit' : 'ABOVE THE LIMIT'}; ${cut2.length} of ${ended2.length} ended calls cut short`);
  } finally {
    sampling = false;
    await sampler;
    await s.close();
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
