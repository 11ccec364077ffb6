// The worker's cached copy of a domain's compliance settings (models/compliance.ts `forCall`):
// read once per COMPLIANCE_CACHE_MS, yet a change the API answered binds every later originate —
// the API answers the first listed number and a changed cap only once every copy has expired.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import { config } from '../lib/config';
import { Compliance, DoNotCall } from '../models/compliance';
import { connectTestDb } from './support/env';
import { commandsSent } from './support/commands';

before(async () => {
  await connectTestDb('compliance_cache_test');
  config.complianceCacheMs = 1500;
});
after(() => mongoose.disconnect());

const commandsOf = async (fn: () => Promise<unknown>): Promise<number> => (await commandsSent(fn)).length;

test('a domain that never listed a number needs no list lookup; its first number binds as soon as the API answered', async () => {
  assert.deepEqual(await Compliance.forCall('d1'), { contactCap: null, dncListed: false });
  assert.equal(await commandsOf(() => Compliance.forCall('d1')), 0, 'a warm copy costs no command');
  await DoNotCall.add('d1', '380501110001');
  assert.equal((await Compliance.forCall('d1')).dncListed, true, 'the copy read before the add is not used after it');
  const t1 = performance.now();
  await DoNotCall.addMany('d1', [{ number: '380501110002' }]);
  assert.ok(performance.now() - t1 < 1500, 'later numbers are answered at once');
  assert.equal((await Compliance.forCall('d2')).dncListed, false, 'per domain');
  await DoNotCall.addMany('d2', [{ number: '380501110003' }]);
  assert.equal((await Compliance.forCall('d2')).dncListed, true, 'an import marks the list too');
});

test('a changed contact cap binds as soon as the API answered; an unchanged one is answered at once', async () => {
  assert.equal((await Compliance.forCall('d3')).contactCap, null);
  const cap = { attempts: 2, windowSec: 3600 };
  await Compliance.setSettings('d3', { contactCap: cap });
  assert.deepEqual((await Compliance.forCall('d3')).contactCap, cap);
  const t0 = performance.now();
  await Compliance.setSettings('d3', { contactCap: cap });
  assert.ok(performance.now() - t0 < 1500, 'nothing changed: no wait');
  await Compliance.setSettings('d3', { contactCap: null });
  assert.equal((await Compliance.forCall('d3')).contactCap, null);
  assert.deepEqual(await Compliance.settings('d3'), { contactCap: null }, 'the API reads the stored settings');
});
