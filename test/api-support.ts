// Mounting the REST API for a test file: its own database (named after the file) on the MongoDB at
// MONGODB_URI, a Temporal client for TEMPORAL_ADDRESS, the app on an ephemeral port, and helpers to
// make credentials and requests. `npm test` (scripts/test.ts) sets both variables.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { apiRequest } from '../scripts/api-request';
import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import mongoose from 'mongoose';
import { connectMongo } from '../lib/db';
import pino from 'pino';
import { createApp, type DialerApi } from '../api/app';
import { createCredential } from '../models/credential';
import type { ApiDeps } from '../api/deps';
import { requireEnv } from './support/env';

export { requireEnv };

/** MONGODB_URI with its database replaced by `db`. */
export function databaseUri(db: string): string {
  const u = new URL(requireEnv('MONGODB_URI'));
  u.pathname = `/${db}`;
  return u.toString();
}

export interface Cred {
  key: string;
  secret: string;
  domain: string | null;
}

export interface Res<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface ApiHarness {
  base: string;
  app: DialerApi;
  client: Client;
  taskQueue: string;
  credential(domain: string | null): Promise<Cred>;
  /** Creates a dialer of `dialerBody(over)` (failing the test unless the answer is 200); its id. */
  createDialer(cred: Cred, over?: Record<string, unknown>): Promise<string>;
  /** JSON request; `body` is JSON-encoded unless it is a string (sent as is). */
  req<T = any>(method: string, path: string, o?: { cred?: Cred; body?: unknown; headers?: Record<string, string> }): Promise<Res<T>>;
  close(): Promise<void>;
}

export async function startApi(db: string, opts: Partial<Omit<ApiDeps, 'client' | 'log' | 'taskQueue'>> = {}): Promise<ApiHarness> {
  const uri = databaseUri(db);
  const address = requireEnv('TEMPORAL_ADDRESS');
  await connectMongo(uri);
  await mongoose.connection.db!.dropDatabase();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE || 'default' });
  const taskQueue = `${db}-${process.pid}`;
  const log = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
  // No rate limit unless a test asks for one (tests send requests back to back with one credential).
  const app = createApp({ client, log, taskQueue, rateLimit: { perSecond: 0, burst: 0 }, reads: { uri }, ...opts, updateTimeoutMs: opts.updateTimeoutMs ?? 3000 });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const req = <T>(method: string, path: string, o: { cred?: Cred; body?: unknown; headers?: Record<string, string> } = {}): Promise<Res<T>> =>
    apiRequest<T>(base, method, path, o);

  return {
    base,
    app,
    client,
    taskQueue,
    credential: (domain) => createCredential({ domain, name: `test ${domain ?? 'root'}` }),
    async createDialer(cred, over = {}) {
      const r = await req<{ data: { insertedIds: string[] } }>('POST', '/api/v2/dialer', { cred, body: dialerBody(over) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.data.insertedIds[0];
    },
    req,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
      await connection.close();
      await mongoose.disconnect();
    },
  };
}

/** A minimal valid dialer body (one resource routing every number). */
export function dialerBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Campaign',
    type: 'Voice Broadcasting',
    parameters: { limit: 2, maxTryCount: 3, intervalTryCount: 1 },
    resources: [{ dialedNumber: '.*', destinations: [{ dialString: 'sofia/gateway/test/$1', limit: 2 }] }],
    ...over,
  };
}
