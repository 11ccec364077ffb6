// Hunting and reserving agents (§7.3–§7.4) on the real stack: each reservation is an Update to the
// agent's workflow, so many hunters at once (two campaigns sharing agents) never offer one agent
// two calls; the after-offer rules (wrap-up, delays, max no answer) hold the agent in its workflow.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { huntAgent } from '../activities/agents';
import { Agent, AgentEvent, type AgentDoc } from '../models/agent';
import type { OfferOutcome } from '../rules/agents';
import { agentWorkflowId, offerEventSignal, type OfferEvent, type Reservation } from '../workflows/messages';
import type { ApiHarness, Cred } from './api-support';
import { e2eFile } from './support/e2e-stack';
import { waitFor } from './support/env';
import pino from 'pino';

let api: ApiHarness;
let cred: Cred;
const DOMAIN = 'hunt.local';
const log = pino({ level: 'silent' });

e2eFile('agents_hunt', { domain: DOMAIN, simulator: { rules: { rules: [] } }, worker: { cdr: false, reconcile: false } }, (s) => ({ api, cred } = s));

async function agent(name: string, body: Record<string, unknown> = {}): Promise<void> {
  const res = await api.req('POST', '/api/v2/agents', { cred, body: { name, contact: `user/${name}`, status: 'Available', state: 'Waiting', ...body } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

let offers = 0;
function hunt(campaignId: string, names: (string | [string, number])[], strategy = 'with_fewest_calls', overrides = {}): Promise<Reservation | null> {
  offers += 1;
  const tiers = names.map((n) => (typeof n === 'string' ? { name: n, level: 1 } : { name: n[0], level: n[1] }));
  return huntAgent({ client: api.client, log }, { domain: DOMAIN, campaignId, memberId: `m${offers}`, offerId: `offer-${offers}`, tiers, strategy, overrides });
}

async function end(name: string, e: OfferEvent): Promise<void> {
  await api.client.workflow.getHandle(agentWorkflowId(DOMAIN, name)).signal(offerEventSignal, e);
}

const stored = (name: string) => Agent.findById(`${name}@${DOMAIN}`).lean<AgentDoc>();

describe('hunting', () => {
  test('40 hunters of two campaigns at once over 4 shared agents: 4 reservations, 4 different agents, no double offer', { timeout: 60_000 }, async () => {
    const names = ['c1', 'c2', 'c3', 'c4'];
    for (const n of names) await agent(n);
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => hunt(i % 2 ? 'campA' : 'campB', names, 'random')));
    const got = results.filter((r): r is Reservation => r !== null);
    assert.equal(got.length, 4, JSON.stringify(got));
    assert.deepEqual(got.map((r) => r.name).sort(), names);
    await waitFor('reservations stored', async () => (await Agent.countDocuments({ domain: DOMAIN, state: 'Reserved' })) === 4);
    for (const r of got) {
      const d = await stored(r.name);
      assert.equal(d!.offer!.offerId, r.offerId, 'the stored offer is the one the hunter got');
    }
    // Every offered event is for a distinct agent: one offer each.
    const offered = await AgentEvent.find({ domain: DOMAIN, type: 'offered' }).lean();
    assert.equal(offered.length, 4);
    assert.equal(new Set(offered.map((e) => e.agent)).size, 4);
    // A retried hunt (same offer id) answers with the same agent, not a second one.
    const first = got[0];
    const again = await huntAgent({ client: api.client, log }, {
      domain: DOMAIN, campaignId: 'x', memberId: 'x', offerId: first.offerId, tiers: names.map((name) => ({ name, level: 1 })), strategy: 'random',
    });
    assert.equal(again?.name, first.name);
    for (const r of got) await end(r.name, { offerId: r.offerId, kind: 'ended', outcome: { kind: 'released', cause: 'TEST' } });
    await waitFor('all free again', async () => (await Agent.countDocuments({ domain: DOMAIN, name: { $in: names }, state: 'Waiting', offer: null })) === 4);
    for (const n of names) await api.req('PUT', `/api/v2/agents/${n}/status`, { cred, body: { status: 'Logged Out' } });
  });

  test('tier levels: level 2 is offered only when level 1 is busy', async () => {
    await agent('t1');
    await agent('t2');
    const tiers: [string, number][] = [['t2', 2], ['t1', 1]];
    const a = await hunt('campT', tiers);
    assert.equal(a?.name, 't1');
    const b = await hunt('campT', tiers);
    assert.equal(b?.name, 't2');
    assert.equal(await hunt('campT', tiers), null);
    await end('t1', { offerId: a!.offerId, kind: 'ended', outcome: { kind: 'released', cause: 'TEST' } });
    await end('t2', { offerId: b!.offerId, kind: 'ended', outcome: { kind: 'released', cause: 'TEST' } });
  });
});

describe('after an offer (§7.4), held by the agent workflow', () => {
  test('bridged: wrap-up holds the agent (campaign override wins), then it is offered again; wrap-up events', { timeout: 30_000 }, async () => {
    await agent('w1', { wrapUpTime: 60 });
    const r = await hunt('campW', ['w1'], 'with_fewest_calls', { wrapUpTime: 2 });
    assert.equal(r?.params.wrapUpTime, 2, 'the campaign value wins');
    await end('w1', { offerId: r!.offerId, kind: 'connected' });
    await end('w1', { offerId: r!.offerId, kind: 'ended', outcome: { kind: 'bridged', talkSec: 5, statusPending: false, campaignWrapUpSec: 0 } });
    const held = await waitFor('wrap-up stored', async () => { const d = await stored('w1'); return d?.readyReason === 'wrap-up' ? d : null; });
    assert.equal(held.stats.campW.bridgedCount, 1);
    assert.equal(held.stats.campW.callTimeSec, 5);
    assert.equal(await hunt('campW', ['w1']), null, 'not offered during wrap-up');
    await waitFor('wrap-up ended', async () => AgentEvent.exists({ agent: `w1@${DOMAIN}`, type: 'wrap-up-ended' }), 10_000);
    const types = (await AgentEvent.find({ agent: `w1@${DOMAIN}`, type: { $ne: 'status' } }).sort({ seq: 1 }).lean()).map((e) => e.type);
    assert.deepEqual(types, ['offered', 'connected', 'ended', 'wrap-up-started', 'wrap-up-ended']);
    const again = await hunt('campW', ['w1']);
    assert.equal(again?.name, 'w1');
    await end('w1', { offerId: again!.offerId, kind: 'ended', outcome: { kind: 'released', cause: 'TEST' } });
  });

  test('max no answer: the second missed offer puts the agent On Break; it is not hunted until Available again', { timeout: 30_000 }, async () => {
    await agent('n1', { maxNoAnswer: 2, noAnswerDelayTime: 0 });
    for (let i = 0; i < 2; i++) {
      const r = await waitFor('agent offered', () => hunt('campN', ['n1']));
      await end('n1', { offerId: r.offerId, kind: 'ended', outcome: { kind: 'no-answer', cause: 'NO_ANSWER' } });
      await waitFor('offer ended', async () => (await stored('n1'))?.offer === null);
    }
    const d = await stored('n1');
    assert.deepEqual([d!.status, d!.state, d!.noAnswerCount, d!.stats.campN.missedCall], ['On Break', 'Waiting', 2, 2]);
    assert.equal(await hunt('campN', ['n1']), null);
    await api.req('PUT', '/api/v2/agents/n1/status', { cred, body: { status: 'Available' } });
    assert.equal((await hunt('campN', ['n1']))?.name, 'n1');
  });

  test('no-answer and busy delays hold the agent for their own time (busy uses busyDelayTime)', { timeout: 30_000 }, async () => {
    await agent('d1', { noAnswerDelayTime: 1, busyDelayTime: 300, rejectDelayTime: 0 });
    let r = await hunt('campD', ['d1']);
    await end('d1', { offerId: r!.offerId, kind: 'ended', outcome: { kind: 'busy', cause: 'USER_BUSY' } });
    const busy = await waitFor('busy delay stored', async () => { const d = await stored('d1'); return d?.offer === null ? d : null; });
    assert.equal(busy.readyReason, 'busy delay');
    assert.ok(busy.readyAt - Date.now() > 250_000, 'held for the busy delay');
    // Back to Available clears nothing of the delay; the status route cannot skip it either.
    assert.equal(await hunt('campD', ['d1']), null);
    // The reject delay of 0 does not apply to busy.
    await api.req('DELETE', '/api/v2/agents/d1', { cred });
    await agent('d1', { noAnswerDelayTime: 1 });
    r = await hunt('campD', ['d1']);
    await end('d1', { offerId: r!.offerId, kind: 'ended', outcome: { kind: 'no-answer', cause: 'NO_ANSWER' } });
    await waitFor('no-answer delay stored', async () => (await stored('d1'))?.readyReason === 'no-answer delay');
    assert.equal(await hunt('campD', ['d1']), null);
    const back = await waitFor('offered after the delay', () => hunt('campD', ['d1']), 10_000);
    assert.equal(back.name, 'd1');
  });

  test('reject delay holds the agent for rejectDelayTime, not the busy or no-answer delay', { timeout: 30_000 }, async () => {
    await agent('j1', { rejectDelayTime: 300, busyDelayTime: 0, noAnswerDelayTime: 0 });
    const r = await hunt('campJ', ['j1']);
    await end('j1', { offerId: r!.offerId, kind: 'ended', outcome: { kind: 'reject', cause: 'CALL_REJECTED' } });
    const held = await waitFor('reject delay stored', async () => { const d = await stored('j1'); return d?.offer === null ? d : null; });
    assert.equal(held.readyReason, 'reject delay');
    assert.ok(held.readyAt - Date.now() > 250_000, 'held for the reject delay');
    assert.deepEqual([held.noAnswerCount, held.stats.campJ.missedCall], [1, 1]);
    assert.equal(await hunt('campJ', ['j1']), null, 'not offered during the reject delay');
  });

  test('delete is refused while a call is offered', async () => {
    await agent('x1');
    const r = await hunt('campX', ['x1']);
    const del = await api.req('DELETE', '/api/v2/agents/x1', { cred });
    assert.equal(del.status, 409);
    await end('x1', { offerId: r!.offerId, kind: 'ended', outcome: { kind: 'released', cause: 'TEST' } });
  });
});

describe('strategies (§7.3) over the agents\' stored statistics', () => {
  // Gives `name` one offer in `campaign`, ended with `outcome`, and waits until it is free again.
  async function oneCall(campaign: string, name: string, outcome: OfferOutcome): Promise<void> {
    const r = await hunt(campaign, [name]);
    assert.equal(r?.name, name);
    await end(name, { offerId: r!.offerId, kind: 'ended', outcome });
    await waitFor('free again', async () => { const d = await stored(name); return d?.offer === null && d.state === 'Waiting'; });
  }
  const released = { kind: 'released', cause: 'TEST' } as const;
  // Hunts until every agent is reserved: the order the strategy offered them in.
  async function offerOrder(campaign: string, names: string[], strategy: string): Promise<string[]> {
    const order: string[] = [];
    for (let i = 0; i < names.length; i++) {
      const r = await hunt(campaign, names, strategy);
      order.push(r!.name);
    }
    for (const n of order) {
      const d = await stored(n);
      await end(n, { offerId: d!.offer!.offerId, kind: 'ended', outcome: released });
    }
    return order;
  }

  test('with_fewest_calls: the agent with fewest offers in the campaign first', { timeout: 30_000 }, async () => {
    for (const n of ['f1', 'f2', 'f3']) await agent(n);
    await oneCall('campF', 'f1', released);
    await oneCall('campF', 'f1', released);
    await oneCall('campF', 'f2', released);
    // f3 has no statistics in campF (none sort first, as v3's SQL), then f2 (1 call), then f1 (2).
    assert.deepEqual(await offerOrder('campF', ['f1', 'f2', 'f3'], 'with_fewest_calls'), ['f3', 'f2', 'f1']);
  });

  test('with_least_talk_time: the agent with least talk time in the campaign first', { timeout: 30_000 }, async () => {
    for (const n of ['k1', 'k2', 'k3']) await agent(n);
    await oneCall('campK', 'k1', { kind: 'bridged', talkSec: 30, statusPending: false, campaignWrapUpSec: 0 });
    await oneCall('campK', 'k2', { kind: 'bridged', talkSec: 10, statusPending: false, campaignWrapUpSec: 0 });
    await oneCall('campK', 'k3', { kind: 'bridged', talkSec: 20, statusPending: false, campaignWrapUpSec: 0 });
    assert.deepEqual(await offerOrder('campK', ['k1', 'k2', 'k3'], 'with_least_talk_time'), ['k2', 'k3', 'k1']);
  });

  test('longest_idle_agent: the agent idle longest in the campaign first', { timeout: 30_000 }, async () => {
    for (const n of ['l1', 'l2', 'l3']) await agent(n);
    for (const n of ['l1', 'l2', 'l3']) await oneCall('campL', n, released);
    // A break closes the idle stretch and stores its seconds: l2 ~0 s, l3 ~1.5 s, l1 ~3 s.
    const pause = async (n: string) => {
      await api.req('PUT', `/api/v2/agents/${n}/status`, { cred, body: { status: 'On Break' } });
      await api.req('PUT', `/api/v2/agents/${n}/status`, { cred, body: { status: 'Available' } });
    };
    await pause('l2');
    await new Promise((r) => setTimeout(r, 1500));
    await pause('l3');
    await new Promise((r) => setTimeout(r, 1500));
    await pause('l1');
    const idle = await Promise.all(['l1', 'l2', 'l3'].map(async (n) => (await stored(n))!.stats.campL.idleSec));
    assert.ok(idle[0] > idle[2] && idle[2] > idle[1], `idle seconds l1 > l3 > l2: ${idle}`);
    assert.deepEqual(await offerOrder('campL', ['l2', 'l3', 'l1'], 'longest_idle_agent'), ['l1', 'l3', 'l2']);
  });
});

test('stats route (§11.3): logged_in, logged_out and on_break_sec from the agent\'s status changes', { timeout: 30_000 }, async () => {
  const dialer = await api.req('POST', '/api/v2/dialer', {
    cred,
    body: {
      name: 'Stats', type: 'Progressive Dialer', agents: ['b1'], parameters: { limit: 1 },
      resources: [{ dialedNumber: '^(\\d+)$', destinations: [{ gwProto: 'sip', gwName: 'gw1', dialString: '$1', limit: 1 }] }],
    },
  });
  assert.equal(dialer.status, 200, JSON.stringify(dialer.body));
  const d: string = dialer.body.data.insertedIds[0];
  const t0 = Math.floor(Date.now() / 1000);
  await agent('b1');
  const r = await hunt(d, ['b1']);
  await end('b1', { offerId: r!.offerId, kind: 'ended', outcome: { kind: 'released', cause: 'TEST' } });
  await waitFor('free again', async () => (await stored('b1'))?.offer === null);
  await api.req('PUT', '/api/v2/agents/b1/status', { cred, body: { status: 'On Break' } });
  await new Promise((res) => setTimeout(res, 1600));
  await api.req('PUT', '/api/v2/agents/b1/status', { cred, body: { status: 'Available' } });
  await api.req('PUT', '/api/v2/agents/b1/status', { cred, body: { status: 'Logged Out' } });
  const st = await api.req('POST', `/api/v2/dialer/${d}/agents/stats`, { cred, body: { agents: [`b1@${DOMAIN}`], skills: [] } });
  assert.equal(st.status, 200, JSON.stringify(st.body));
  const row = st.body.data[0];
  assert.ok(row.on_break_sec >= 1 && row.on_break_sec <= 5, `on_break_sec ${row.on_break_sec}`);
  assert.ok(row.logged_in >= t0 && row.logged_in <= row.logged_out, `logged_in ${row.logged_in}, logged_out ${row.logged_out}`);
  assert.ok(row.logged_out - row.logged_in >= 1, 'logged out after the break');
  assert.equal(row.call_count, 1);
});
