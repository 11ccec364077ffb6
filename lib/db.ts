// The one way every process connects to MongoDB (pool size: config.mongodbPoolSize).
import fs from 'node:fs';
import mongoose from 'mongoose';
import { config } from './config';
import { createLogger } from './logger';
import { mongoDeadSocketWrites, monitorMongo } from './metrics';
import { failWritesOnDeadSockets } from './mongo-sockets';

const log = createLogger('mongo');

export async function connectMongo(uri = config.mongodbUri, o: { serverSelectionTimeoutMS?: number; maxPoolSize?: number } = {}): Promise<typeof mongoose> {
  if (mongoose.connection.readyState === 1) return mongoose;
  const guarded = failWritesOnDeadSockets((connection) => {
    mongoDeadSocketWrites.inc();
    log.warn({ connection }, 'MongoDB command written on a closed socket: failed at once (lib/mongo-sockets.ts)');
  });
  if (!guarded) log.error('mongodb driver without Connection.prototype.writeCommand: writes on dead sockets may hang (lib/mongo-sockets.ts)');
  // No buffering by mongoose while it thinks the server is gone: a command goes to the driver, whose
  // server selection finds the server again. (Buffered, commands waited for a "reconnected" that
  // never came when the driver's monitor hung on a dead socket: see failWritesOnDeadSockets.)
  const m = await mongoose.connect(uri, {
    maxPoolSize: o.maxPoolSize ?? config.mongodbPoolSize, serverSelectionTimeoutMS: o.serverSelectionTimeoutMS ?? 15_000, monitorCommands: true, bufferCommands: false,
  });
  monitorMongo(m.connection.getClient(), 'main');
  logServerState(m.connection.getClient());
  const countTo = process.env.DIALER_MONGO_COMMANDS_FILE;
  if (countTo) countCommands(m.connection.getClient(), countTo, process.env.DIALER_MONGO_SITES_FILE);
  return m;
}

/** One line when the server becomes unreachable (with the error) and one when it is back (after how long). */
function logServerState(client: ReturnType<typeof mongoose.connection.getClient>): void {
  let downSince = 0;
  client.on('serverDescriptionChanged', (e) => {
    if (e.newDescription.type === 'Unknown' && !downSince) {
      downSince = Date.now();
      log.warn({ err: String(e.newDescription.error ?? '') }, 'MongoDB server unreachable');
    } else if (e.newDescription.type !== 'Unknown' && downSince) {
      log.info({ downMs: Date.now() - downSince }, 'MongoDB server reachable again');
      downSince = 0;
    }
  });
}

/** Benchmarks (DIALER_MONGO_COMMANDS_FILE): this process's commands sent, per `command collection`,
 *  written to the file as JSON every second (the driver's command monitoring). With a sites file
 *  (DIALER_MONGO_SITES_FILE), also per call site: the project's first source lines on the command's
 *  (async) stack, which costs a stack trace per command. */
function countCommands(client: ReturnType<typeof mongoose.connection.getClient>, file: string, sitesFile?: string): void {
  const counts: Record<string, number> = {};
  const sites: Record<string, number> = {};
  if (sitesFile) Error.stackTraceLimit = 60;
  client.on('commandStarted', (e) => {
    const coll = e.command[e.commandName];
    const key = `${e.commandName} ${typeof coll === 'string' ? coll.replace(/^dialer_queue\..*\./, 'dialer_queue.*.') : ''}`.trim();
    counts[key] = (counts[key] ?? 0) + 1;
    if (sitesFile) {
      const site = `${key} <= ${callSite(new Error().stack ?? '')}`;
      sites[site] = (sites[site] ?? 0) + 1;
    }
  });
  setInterval(() => {
    fs.writeFileSync(file, JSON.stringify(counts));
    if (sitesFile) fs.writeFileSync(sitesFile, JSON.stringify(sites));
  }, 1000).unref();
}

const SOURCE_ROOT = `${process.cwd()}/`;
/** The first four frames of a stack inside the project's own source (not node_modules, not this file). */
function callSite(stack: string): string {
  return stack.split('\n')
    .filter((l) => l.includes(SOURCE_ROOT) && !l.includes('node_modules') && !l.includes('lib/db.ts'))
    .slice(0, 4)
    .map((l) => l.trim().replace(/^at /, '').replace(SOURCE_ROOT, '').replace(/^.*\(/, '').replace(/\)$/, ''))
    .join(' < ');
}

type WriteError = { index: number; code?: number; err?: { code?: number } };

/** The per-item errors of a failed bulk write or insertMany, each with its code: the driver gives
 *  `{index, code}` (one as an object), Mongoose's insertMany `{index, err: {code}}`. */
export function writeErrorsOf(err: unknown): { index: number; code: number | undefined }[] {
  const errors = (err as { writeErrors?: WriteError | WriteError[] } | undefined)?.writeErrors;
  const list = errors === undefined ? [] : Array.isArray(errors) ? errors : [errors];
  return list.map((w) => ({ index: w.index, code: w.code ?? w.err?.code }));
}

/** A write that failed only because `_id`s (or a unique key) already exist: a single write's error,
 *  or a bulk write's whose every failed item was a duplicate. */
export function isDuplicateKeyError(err: unknown): boolean {
  const items = writeErrorsOf(err);
  return items.length > 0 ? items.every((w) => w.code === 11000) : (err as { code?: number } | undefined)?.code === 11000;
}

let mongo: Promise<boolean> | undefined;
/** True on MongoDB; false on FerretDB (its buildInfo carries `ferretdbVersion`). Asked once. Only
 *  benchmarks report it: the dialer's code runs one path on both servers. */
export function isMongoDB(): Promise<boolean> {
  mongo ??= mongoose.connection.db!.admin().command({ buildInfo: 1 })
    .then((info) => !('ferretdbVersion' in info) && !('ferretdbFeatures' in info))
    .catch(() => true);
  return mongo;
}

/** Server error codes of a server that is going away or not (yet) the primary: the retryable-writes
 *  spec's list (HostUnreachable … NotPrimaryOrSecondary). */
const TRANSIENT_CODES = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);

/** An error after which the same command may succeed: the connection or the server went away
 *  (FerretDB restarting: ECONNRESET, then server selection failing until it is back), the pool was
 *  cleared, a server not writable for now, or no answer in time (models/serial.ts `withTimeout`).
 *  A closed client is not: it will not come back. */
export function isTransientMongoError(err: unknown): boolean {
  const e = err as { name?: string; code?: unknown; message?: string; hasErrorLabel?: (l: string) => boolean };
  if (/^Mongo(Network|NetworkTimeout|ServerSelection|PoolCleared|NotConnected)Error$|^MongooseServerSelectionError$/.test(e?.name ?? '')) return true;
  if (typeof e?.hasErrorLabel === 'function' && (e.hasErrorLabel('RetryableWriteError') || e.hasErrorLabel('ResetPool') || e.hasErrorLabel('PoolRequstedRetry'))) return true;
  if (/^Mongo/.test(e?.name ?? '') && typeof e.code === 'number' && TRANSIENT_CODES.has(e.code)) return true;
  return /no answer from the database/.test(String(e?.message ?? ''));
}
