// The servers `npm test` started are there and set up as the app needs them; the time-skipping
// test server binary works; a busy port gives an error that says how to fix it.
// Run through `npm test` (scripts/test.ts), which sets the environment read here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { searchAttributes } from '../lib/search-attributes';
import { startFerret, startTemporalDev } from '../scripts/servers';

function env(name: string): string {
  const v = process.env[name];
  assert.ok(v, `${name} is not set: run the tests with \`npm test\` (scripts/test.ts starts the servers)`);
  return v;
}

test('MongoDB API at MONGODB_URI answers ping and does what the app relies on', { timeout: 60_000 }, async () => {
  const conn = await mongoose.createConnection(env('MONGODB_URI'), { serverSelectionTimeoutMS: 10_000 }).asPromise();
  try {
    assert.equal((await conn.db!.admin().ping()).ok, 1);
    const c = conn.db!.collection<{ _id: string; key: string; campaign: string; n: number }>(`infra_${process.pid}`);
    await c.createIndex({ campaign: 1, n: -1 });
    await c.createIndex({ key: 1 }, { unique: true });
    await c.insertMany([
      { _id: 'a', key: 'ka', campaign: 'c1', n: 1 },
      { _id: 'b', key: 'kb', campaign: 'c1', n: 2 },
      { _id: 'c', key: 'kc', campaign: 'c2', n: 5 },
    ]);
    // unique index
    await assert.rejects(c.insertOne({ _id: 'd', key: 'ka', campaign: 'c1', n: 0 }), (e: { code?: number }) => e.code === 11000);
    // single-document atomic update
    const updated = await c.findOneAndUpdate({ _id: 'a', n: 1 }, { $inc: { n: 10 } }, { returnDocument: 'after' });
    assert.equal(updated?.n, 11);
    const stale = await c.findOneAndUpdate({ _id: 'a', n: 1 }, { $inc: { n: 10 } });
    assert.equal(stale, null, 'a conditional update on a stale value must not match');
    // simple aggregation
    const totals = await c
      .aggregate([{ $match: { n: { $gt: 0 } } }, { $group: { _id: '$campaign', total: { $sum: '$n' } } }, { $sort: { _id: 1 } }])
      .toArray();
    assert.deepEqual(totals, [{ _id: 'c1', total: 13 }, { _id: 'c2', total: 5 }]);
    await c.drop();
  } finally {
    await conn.close();
  }
});

test('Temporal at TEMPORAL_ADDRESS answers and has the search attributes registered', { timeout: 60_000 }, async () => {
  const connection = await Connection.connect({ address: env('TEMPORAL_ADDRESS') });
  try {
    const info = await connection.workflowService.getSystemInfo({});
    assert.ok(info.serverVersion, 'getSystemInfo returned no server version');
    const { customAttributes } = await connection.operatorService.listSearchAttributes({
      namespace: process.env.TEMPORAL_NAMESPACE || 'default',
    });
    for (const key of Object.values(searchAttributes)) {
      assert.equal(customAttributes?.[key.name], encodeSearchAttributeIndexedValueType(key.type), `search attribute ${key.name} (${key.type})`);
    }
  } finally {
    await connection.close();
  }
});

function portAcceptsConnections(address: string): Promise<boolean> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

test('time-skipping test server binary starts, skips time and tears down', { timeout: 120_000 }, async () => {
  const bin = env('TEMPORAL_TEST_SERVER_PATH');
  assert.ok(fs.existsSync(bin), `TEMPORAL_TEST_SERVER_PATH=${bin} does not exist: run npm run setup`);
  const testEnv = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: bin } },
  });
  const address = testEnv.address;
  try {
    assert.equal(testEnv.supportsTimeSkipping, true);
    const before = await testEnv.currentTimeMs();
    await testEnv.sleep('1 day');
    assert.ok((await testEnv.currentTimeMs()) - before >= 24 * 3600_000, 'time did not skip a day');
  } finally {
    await testEnv.teardown();
  }
  assert.equal(await portAcceptsConnections(address), false, `test server still listening on ${address} after teardown`);
});

test('a busy port fails with a message naming the port and the setting to change', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialer-infra-'));
  try {
    await assert.rejects(startFerret({ port, dataDir: path.join(dir, 'ferret') }), (err: Error) => {
      assert.match(err.message, new RegExp(`\\b${port}\\b`));
      assert.match(err.message, /FERRETDB_PORT/);
      return true;
    });
    await assert.rejects(
      startTemporalDev({ port, dbFile: path.join(dir, 'temporal.db'), portSetting: 'TEST_TEMPORAL_PORT' }),
      (err: Error) => {
        assert.match(err.message, new RegExp(`\\b${port}\\b`));
        assert.match(err.message, /TEST_TEMPORAL_PORT/);
        return true;
      },
    );
  } finally {
    blocker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
