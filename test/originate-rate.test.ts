// Originations per second (models/rate.ts): places taken concurrently, as by several workers, are
// evenly spaced, so no sliding second holds more than `cps` originations; keys are independent.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { gatewayOf, reserveOrigination } from '../models/rate';
import { connectTestDb } from './support/env';

before(() => connectTestDb('originate_rate_test'));
after(() => mongoose.disconnect());

test('40 concurrent reservations at 5/s: every sliding second holds at most 5, none in the past', async () => {
  const now = Date.now();
  const times = (await Promise.all(Array.from({ length: 40 }, () => reserveOrigination('campaign:c1', 5, now)))) as number[];
  assert.ok(times.every((t) => t !== null && t >= now), 'a place for each, never in the past');
  times.sort((a, b) => a - b);
  for (let i = 5; i < times.length; i++) assert.ok(times[i]! - times[i - 5]! >= 1000, `6 originations within a second at ${i}: ${times.slice(i - 5, i + 1)}`);
  for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 200, 'evenly spaced, 200 ms apart');
  assert.ok(times[39]! - now < 9_000, 'and no slower than 5/s');
  // Another key is not slowed down by this one.
  const other = await reserveOrigination('gateway:gw1', 5, now);
  assert.ok(other !== null && other - now < 1000);
});

test('full for the next seconds: null (the caller fails and is retried)', async () => {
  const now = Date.now();
  const got = await Promise.all(Array.from({ length: 20 }, () => reserveOrigination('campaign:c2', 1, now)));
  assert.equal(got.filter((t) => t === null).length, 20 - got.filter((t) => t !== null).length);
  assert.ok(got.filter((t) => t !== null).length <= 15, 'at most 15 places in the next 15 s at 1/s');
  assert.ok(got.some((t) => t === null));
});

test('gatewayOf', () => {
  assert.equal(gatewayOf('sofia/gateway/gw1/380501112233'), 'gw1');
  assert.equal(gatewayOf('user/1000'), undefined);
});
