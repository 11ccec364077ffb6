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
import { Client, Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SA, searchAttributes } from '../lib/search-attributes';
import { freePort, startFerret, startProcess, startTemporalDev, toolPath } from '../scripts/servers';
import { waitFor } from './support/env';

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

test('a database made before our search attributes existed: they are registered and usable as soon as startTemporalDev resolves', { timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialer-sa-'));
  const dbFile = path.join(dir, 'temporal.db');
  try {
    // A server that knew none of them (as a database from before an attribute was added).
    const port = await freePort();
    const bare = startProcess({
      name: 'temporal-bare', command: toolPath('temporal'), logFile: path.join(dir, 'bare.log'),
      args: ['server', 'start-dev', '--db-filename', dbFile, '--ip', '127.0.0.1', '--port', String(port), '--headless', '--log-level', 'warn'],
    });
    await waitFor('the bare server', async () => {
      const c = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 1000 }).catch(() => null);
      await c?.close();
      return c ? true : null;
    }, 60_000);
    await bare.stop();
    const server = await startTemporalDev({ port: await freePort(), dbFile, logDir: dir });
    const connection = await Connection.connect({ address: server.address });
    try {
      // The server checks a start's search attributes against its cache, which it no longer refreshes
      // on every read: without the restart this fails ("no mapping defined for search attribute").
      await new Client({ connection }).workflow.start('anything', {
        taskQueue: 'nobody', workflowId: `sa-${process.pid}`,
        typedSearchAttributes: [{ key: SA.MemberState, value: 'idle' }],
      });
    } finally {
      await connection.close();
      await server.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
