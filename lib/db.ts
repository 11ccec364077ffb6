// The one way every process connects to MongoDB (pool size: config.mongodbPoolSize).
import fs from 'node:fs';
import mongoose from 'mongoose';
import { config } from './config';
import { monitorMongo } from './metrics';

export async function connectMongo(uri = config.mongodbUri, o: { serverSelectionTimeoutMS?: number; maxPoolSize?: number } = {}): Promise<typeof mongoose> {
  if (mongoose.connection.readyState === 1) return mongoose;
  // No buffering by mongoose while it thinks the server is gone: a command goes to the driver, whose
  // server selection finds the server again. Buffered, a process stalled for good in 1 of 4 FerretDB
  // restarts (every command waiting for a "reconnected" that never came; 0 of 6 unbuffered).
  const m = await mongoose.connect(uri, {
    maxPoolSize: o.maxPoolSize ?? config.mongodbPoolSize, serverSelectionTimeoutMS: o.serverSelectionTimeoutMS ?? 15_000, monitorCommands: true, bufferCommands: false,
  });
  monitorMongo(m.connection.getClient(), 'main');
  const countTo = process.env.DIALER_MONGO_COMMANDS_FILE;
  if (countTo) countCommands(m.connection.getClient(), countTo);
  return m;
}

/** Benchmarks (DIALER_MONGO_COMMANDS_FILE): this process's commands sent, per `command collection`,
 *  written to the file as JSON every second (the driver's command monitoring). */
function countCommands(client: ReturnType<typeof mongoose.connection.getClient>, file: string): void {
  const counts: Record<string, number> = {};
  client.on('commandStarted', (e) => {
    const coll = e.command[e.commandName];
    const key = `${e.commandName} ${typeof coll === 'string' ? coll.replace(/^dialer_queue\..*\./, 'dialer_queue.*.') : ''}`.trim();
    counts[key] = (counts[key] ?? 0) + 1;
  });
  setInterval(() => fs.writeFileSync(file, JSON.stringify(counts)), 1000).unref();
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
