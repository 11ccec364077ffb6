// lib/mongo-sockets.ts and lib/db.ts against a FerretDB of this file's own that it kills with -9 and
// starts again on the same port (as the fault suite's ferret-restart does): the process's Mongo
// client must find the new server, also when its monitor's heartbeat went out on a socket Node had
// already destroyed (before the fix that heartbeat waited forever, the server stayed Unknown and
// every command failed "MongoServerSelectionError: read ECONNRESET" until the process restarted).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Socket } from 'node:net';
import mongoose from 'mongoose';
import { connectMongo } from '../lib/db';
import { freePort, startFerret, type FerretServer } from '../scripts/servers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialer-mongo-reconnect-'));
let port = 0;
let ferret: FerretServer;
const start = () => startFerret({ port, dataDir: path.join(dir, 'ferret'), logDir: path.join(dir, 'logs'), portSetting: 'a free port (test/mongo-reconnect.test.ts)' });
const docs = () => mongoose.connection.collection<{ _id: string; n: number }>('probe');

/** kill -9 with commands in flight (as in a worker: they fail, and the server is marked Unknown), then start it again. */
async function restartFerret(): Promise<void> {
  const inFlight = Array.from({ length: 20 }, (_, i) => docs().updateOne({ _id: `l${i}` }, { $inc: { n: 1 } }, { upsert: true }).catch(() => undefined));
  process.kill(-ferret.pid, 'SIGKILL');
  await ferret.exited;
  await Promise.all(inFlight);
  ferret = await start();
}

/** ms until a read and a write succeed again (each try fails within the 1 s server selection timeout). */
async function msUntilWorking(limitMs: number): Promise<number> {
  const t0 = Date.now();
  let last: unknown;
  while (Date.now() - t0 < limitMs) {
    try {
      await docs().updateOne({ _id: 'a' }, { $inc: { n: 1 } }, { upsert: true });
      await docs().findOne({ _id: 'a' });
      return Date.now() - t0;
    } catch (err) {
      last = err;
      await sleep(200);
    }
  }
  assert.fail(`no answer from the restarted FerretDB within ${limitMs} ms; last error: ${String(last)}`);
}

/** The driver's server monitor (internal: the SDAM monitor of the one server of this topology). */
function monitor(): { connection: { socket: Socket; closed: boolean } | null; requestCheck(): void } {
  const topology = (mongoose.connection.getClient() as unknown as { topology: { s: { servers: Map<string, { monitor: ReturnType<typeof monitor> }> } } }).topology;
  return [...topology.s.servers.values()][0].monitor;
}

before(async () => {
  port = await freePort();
  ferret = await start();
  await connectMongo(`${ferret.uri}reconnect`, { serverSelectionTimeoutMS: 1000 });
  await docs().insertOne({ _id: 'a', n: 0 });
});

after(async () => {
  await mongoose.disconnect();
  await ferret.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('after FerretDB is killed and started again on its port, reads and writes work again within seconds', async () => {
  for (let round = 0; round < 2; round++) {
    await restartFerret();
    const ms = await msUntilWorking(20_000);
    assert.ok(ms < 20_000, `round ${round}: working again after ${ms} ms`);
  }
});

test('a heartbeat written on a socket Node already destroyed fails at once, and the client still finds the restarted server', async () => {
  const beats: string[] = [];
  const client = mongoose.connection.getClient();
  const onFailed = () => beats.push('failed');
  const onOk = () => beats.push('ok');
  client.on('serverHeartbeatFailed', onFailed);
  client.on('serverHeartbeatSucceeded', onOk);
  try {
    // Wait for the monitor's connection, then put its socket where the server's FIN leaves it:
    // destroyed by Node, its 'close' (which marks the driver's connection closed) not yet emitted;
    // and ask for a check right then, as the driver does when a command fails on the same restart.
    for (let i = 0; i < 100 && !monitor().connection; i++) await sleep(100);
    const conn = monitor().connection;
    assert.ok(conn && !conn.closed, 'the monitor has an open connection');
    await sleep(600); // past minHeartbeatFrequencyMS, so the check runs now
    beats.length = 0;
    conn.socket.destroy();
    monitor().requestCheck();
    for (let i = 0; i < 30 && !beats.length; i++) await sleep(100);
    assert.deepEqual(beats.slice(0, 1), ['failed'], 'the heartbeat on the dead socket failed instead of waiting forever');

    // The stall's shape: commands fail on the restart, the server is Unknown; only a live monitor finds it again.
    await restartFerret();
    const ms = await msUntilWorking(20_000);
    assert.ok(ms < 20_000);
  } finally {
    client.off('serverHeartbeatFailed', onFailed);
    client.off('serverHeartbeatSucceeded', onOk);
  }
});
