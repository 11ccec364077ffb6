// Dialer `priority` on a gateway's lines shared by campaigns (GATEWAY_LINES): when two campaigns
// compete, the higher priority is granted the freed line first; a lower one takes lines only while
// no higher one is waiting; the gateway's limit holds across campaigns.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import pino from 'pino';
import type { Client } from '@temporalio/client';
import { createMemberActivities } from '../activities/member';
import { memberState } from '../models';
import { GatewayLines } from '../models/gateway-lines';
import { LineLeases } from '../models/lines';
import { mayTakeSharedLine, WAITER_TTL_MS, type PlaceCallInput } from '../rules';
import { connectTestDb, createCampaign, createMember } from './support/env';

before(() => connectTestDb('line_priority_test'));
after(() => mongoose.disconnect());

test('rule: a fresh waiter of another campaign with a higher priority goes first', () => {
  const now = 1_000_000;
  const high = { campaign: 'B', priority: 5, at: now - 1000 };
  assert.equal(mayTakeSharedLine({ campaign: 'A', priority: 1 }, [high], now), false);
  assert.equal(mayTakeSharedLine({ campaign: 'A', priority: 5 }, [high], now), true, 'equal priority: first come');
  assert.equal(mayTakeSharedLine({ campaign: 'B', priority: 5 }, [high], now), true, 'its own entry never blocks it');
  assert.equal(mayTakeSharedLine({ campaign: 'A', priority: 1 }, [{ ...high, at: now - WAITER_TTL_MS }], now), true, 'a waiter that stopped asking');
  assert.equal(mayTakeSharedLine({ campaign: 'C', priority: 9 }, [high], now), true, 'a lower waiter does not block a higher one');
});

test('two campaigns on one gateway: the freed line goes to the higher priority, the limit holds', async () => {
  const gw = 'carrier1';
  const A = { campaign: 'A', priority: 1 };
  const B = { campaign: 'B', priority: 5 };
  let t = 10_000_000;
  assert.equal(await GatewayLines.acquire(gw, 'a1', A, 2, t), true);
  assert.equal(await GatewayLines.acquire(gw, 'a2', A, 2, t), true);
  assert.equal(await GatewayLines.acquire(gw, 'a3', A, 2, t), false, 'gateway full');
  assert.equal(await GatewayLines.acquire(gw, 'b1', B, 2, t), false, 'gateway full: B waits');
  assert.equal(await GatewayLines.acquire(gw, 'a1', A, 2, t), true, 'a retried acquire of a held line');

  await GatewayLines.release('a1');
  await GatewayLines.release('a1'); // retried release frees nothing more
  t += 1500;
  // A's member asks first (it is retrying too), but B is waiting with a higher priority.
  assert.equal(await GatewayLines.acquire(gw, 'a3', A, 2, t), false, 'A must not take the line B waits for');
  assert.equal(await GatewayLines.acquire(gw, 'b1', B, 2, t), true, 'B granted first');
  assert.equal(await GatewayLines.acquire(gw, 'b2', B, 2, t), false, 'limit 2 across campaigns');
  let snap = (await GatewayLines.snapshot(gw))!;
  assert.equal(snap.active, 2);
  assert.deepEqual(snap.leases.map((l) => l.id).sort(), ['a2', 'b1']);

  // B stops asking (its campaign ended): after the waiter's TTL, A gets lines again.
  await GatewayLines.release('b1');
  assert.equal(await GatewayLines.acquire(gw, 'a3', A, 2, t + 100), false, 'B still counts as waiting');
  assert.equal(await GatewayLines.acquire(gw, 'a3', A, 2, t + WAITER_TTL_MS + 1), true);

  await GatewayLines.dropCampaign('A');
  snap = (await GatewayLines.snapshot(gw))!;
  assert.equal(snap.active, 0);
  assert.deepEqual(snap.leases, []);
});

test('placeCall: two campaigns on one capped gateway; the refused attempt gives its campaign line back', async () => {
  const sent: string[] = [];
  const esl = { bgapi: async (cmd: string) => { sent.push(cmd); return { uuid: 'job' }; }, uuidExists: async () => false, uuidKill: async () => undefined };
  const acts = createMemberActivities({ esl: esl as never, client: {} as Client, log: pino({ level: 'silent' }), taskQueue: 'unused', gatewayLines: { shared1: 1 } });
  const low = await createCampaign({ priority: 1 });
  const high = await createCampaign({ priority: 7 });
  const call = async (camp: { _id: unknown }, uuid: string): Promise<boolean> => {
    const m = await createMember(String(camp._id), ['380501112233']);
    const input: PlaceCallInput = {
      uuid, jobUuid: `job-${uuid}`, domain: 'test.local', campaignId: String(camp._id), memberId: String(m._id), workflowId: `wf-${uuid}`,
      attempt: 1, number: '380501112233', limit: 10, member: memberState(m.toObject()), log: { state: 'reserved', session: uuid },
      routes: [{ destinationId: 'd1', destinationLimit: 10, dialString: 'sofia/gateway/shared1/380501112233', callerId: '15550000000' }],
      vars: {}, timeoutSec: 30,
    };
    return (await acts.placeCall(input)).placed;
  };
  assert.equal(await call(low, 'p-low-1'), true);
  assert.equal(await call(high, 'p-high-1'), false, 'the gateway line is taken');
  assert.equal((await LineLeases.snapshot(String(high._id)))?.active ?? 0, 0, 'the refused attempt holds no campaign line');
  await GatewayLines.release('p-low-1'); // the call ended (endAttempt)
  assert.equal(await call(low, 'p-low-2'), false, 'the low-priority campaign must wait: a higher one is asking');
  assert.equal(await call(high, 'p-high-2'), true, 'the high-priority campaign is granted the freed line');
  assert.equal(sent.length, 2, 'two originates sent, one per granted line');
  assert.match(sent[1], /p-high-2/);
});
