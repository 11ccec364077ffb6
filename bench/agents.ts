// Agents benchmark (issue 15): how many offers per second one agent pool sustains, and how long an
// agent that becomes Waiting waits for its phone to ring (p50/p99), each with a baseline measured
// in the same run on the same stack (bench/lib/stack.ts: FerretDB, Temporal dev server, one worker
// process, the API and the simulator):
//   npx tsx bench/agents.ts [--agents 10] [--window-s 30] [--trials 30]
//   BENCH_FERRETDB_PORT / BENCH_TEMPORAL_PORT: server ports (defaults 27217 / 7433).
// 1. Offers/s: a progressive campaign whose tiers are a pool of --agents agents (phones answer in
//    0.1 s, no wrap-up), members answering in 0.1 s and talking 1 s; agent legs originated per
//    second over --window-s. Baseline: the same members and outcomes in a voice broadcast campaign
//    with limit = --agents (the dialer without agents); ratio = offers/s ÷ originates/s.
// 2. Waiting → ringing: one `Available (On Demand)` agent (after each call it stays Reserved until
//    it sets itself Waiting); each trial PUTs `{"state":"Waiting"}` and times until the simulator
//    sees the originate to its phone. Baseline: a broadcast campaign with limit 1, from the end of
//    one call (its line free) to the next originate; ratio = p50 ÷ baseline p50.
import { arg, log, sleep, startStack, waitFor, type Stack } from './lib/stack';

const AGENTS = Number(arg('--agents', '10'));
const WINDOW_S = Number(arg('--window-s', '30'));
const TRIALS = Number(arg('--trials', '30'));
const TALK = { type: 'answer', ringSec: 0.1, talkSec: 1 } as const;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}
const ms = (iso: string | undefined) => (iso ? Date.parse(iso) : NaN);

/** Originates of a campaign's first legs (agent legs in a progressive campaign), in order. */
function firstLegs(s: Stack, campaignId: string) {
  return s.sim.calls().filter((c) => c.via !== 'bridge' && c.channelVars.dlr_queue === campaignId);
}

async function progressive(s: Stack, name: string, agents: string[], limit: number): Promise<string> {
  const r = await s.req<{ data: { insertedIds: string[] } }>('POST', '/api/v2/dialer', {
    name, type: 'Progressive Dialer', agents,
    parameters: { limit, maxTryCount: 1, intervalTryCount: 3600, originateTimeout: 30 },
    resources: [{ dialedNumber: '^(\\d+)$', destinations: [{ gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit, callerIdNumber: '15550000000' }] }],
  });
  if (r.status !== 200) throw new Error(`create campaign: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data.insertedIds[0]!;
}

async function agent(s: Stack, name: string, status: string): Promise<void> {
  const r = await s.req('POST', '/api/v2/agents', { name, contact: `user/${name}`, status, state: 'Waiting', wrapUpTime: 0, callTimeout: 10 });
  if (r.status !== 200) throw new Error(`agent ${name}: ${r.status} ${JSON.stringify(r.body)}`);
}

/** First legs per second over the window, counted from the first originate. */
async function rate(s: Stack, campaignId: string, members: number): Promise<number> {
  await s.insertMembers(campaignId, members, { prefix: '38051' });
  await s.start(campaignId);
  await waitFor('the first originate', () => firstLegs(s, campaignId).length > 0, 120_000);
  const from = ms(firstLegs(s, campaignId)[0]!.startedAt);
  await sleep(WINDOW_S * 1000);
  const n = firstLegs(s, campaignId).filter((c) => ms(c.startedAt) < from + WINDOW_S * 1000).length;
  await s.stop(campaignId);
  if (n >= members) log(`  !! all ${members} members dialled within the window: raise the member count`);
  return n / WINDOW_S;
}

async function main(): Promise<void> {
  const names = Array.from({ length: AGENTS }, (_, i) => String(8000 + i));
  const users = Object.fromEntries([...names, '9000'].map((n) => [n, { type: 'answer' as const, ringSec: 0.1 }]));
  const s = await startStack({ sim: { rules: { users, default: TALK } } });
  const members = Math.ceil(AGENTS * WINDOW_S * 1.5);
  try {
    log(`1. offers per second: ${AGENTS} agents, ${WINDOW_S} s window, ${members} members`);
    const base = await rate(s, await s.createCampaign({ name: 'broadcast baseline', limit: AGENTS, maxTryCount: 1 }), members);
    log(`  baseline, voice broadcast limit ${AGENTS}: ${base.toFixed(2)} originates/s`);
    for (const n of names) await agent(s, n, 'Available');
    const offers = await rate(s, await progressive(s, 'agent pool', names, AGENTS), members);
    log(`  progressive, ${AGENTS} agents: ${offers.toFixed(2)} offers/s (ratio ${(offers / base).toFixed(2)})`);
    await sleep(3000);

    log(`2. Waiting → ringing: ${TRIALS} trials`);
    const line = await s.createCampaign({ name: 'line baseline', limit: 1, maxTryCount: 1 });
    await s.insertMembers(line, TRIALS + 1, { prefix: '38052' });
    await s.start(line);
    const ended = await waitFor(`${TRIALS + 1} calls of the line baseline`, () => {
      const l = firstLegs(s, line);
      return l.length > TRIALS && l[TRIALS]!.startedAt ? l : null;
    }, 10 * 60_000, 200);
    await s.stop(line);
    const gaps = ended.slice(1, TRIALS + 1).map((c, i) => ms(c.startedAt) - ms(ended[i]!.endedAt));
    log(`  baseline, line free → next originate: p50 ${pct(gaps, 50).toFixed(0)} ms, p99 ${pct(gaps, 99).toFixed(0)} ms`);

    await agent(s, '9000', 'Available (On Demand)');
    const pd = await progressive(s, 'on demand', ['9000'], 1);
    await s.insertMembers(pd, TRIALS + 1, { prefix: '38053' });
    await s.start(pd);
    const rings: number[] = [];
    const api: number[] = [];
    const agentLegs = () => firstLegs(s, pd);
    for (let i = 0; i < TRIALS; i++) {
      // The previous call is over and the agent holds itself Reserved (On Demand).
      await waitFor('the call to end and the agent to be held', async () => {
        const a = await s.req<{ data: { state: string; offer: unknown } }>('GET', '/api/v2/agents/9000');
        const legs = agentLegs();
        return legs.length === i + 1 && legs[i]!.endedAt && a.body.data.state === 'Reserved' && a.body.data.offer === null;
      }, 60_000, 50);
      await sleep(300);
      const t0 = Date.now();
      const r = await s.req('PUT', '/api/v2/agents/9000/status', { state: 'Waiting' });
      if (r.status !== 200) throw new Error(`status PUT: ${r.status} ${JSON.stringify(r.body)}`);
      api.push(Date.now() - t0);
      const leg = await waitFor('the agent\'s phone to ring', () => agentLegs()[i + 1], 60_000, 5);
      rings.push(ms(leg.startedAt) - t0);
    }
    await s.stop(pd);
    log(`  On Demand agent Waiting → its phone rings: p50 ${pct(rings, 50).toFixed(0)} ms, p99 ${pct(rings, 99).toFixed(0)} ms (status PUT answered in p50 ${pct(api, 50).toFixed(0)} ms)`);
    console.log('\n==== agents benchmark ====');
    console.log(`offers/s (${AGENTS} agents): ${offers.toFixed(2)}; broadcast baseline ${base.toFixed(2)} originates/s; ratio ${(offers / base).toFixed(2)}`);
    console.log(`Waiting → ringing: p50 ${pct(rings, 50).toFixed(0)} ms, p99 ${pct(rings, 99).toFixed(0)} ms (${TRIALS} trials); ` +
      `baseline line free → next originate p50 ${pct(gaps, 50).toFixed(0)} ms, p99 ${pct(gaps, 99).toFixed(0)} ms; ratio of p50 ${(pct(rings, 50) / pct(gaps, 50)).toFixed(2)}`);
  } finally {
    await s.close();
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
