// The one way every process connects to MongoDB (see config.mongodbPoolSize for why one connection).
import mongoose from 'mongoose';
import { config } from './config';
import { monitorMongo } from './metrics';

export async function connectMongo(uri = config.mongodbUri, o: { serverSelectionTimeoutMS?: number } = {}): Promise<typeof mongoose> {
  if (mongoose.connection.readyState === 1) return mongoose;
  const m = await mongoose.connect(uri, { maxPoolSize: config.mongodbPoolSize, serverSelectionTimeoutMS: o.serverSelectionTimeoutMS ?? 15_000, monitorCommands: true });
  monitorMongo(m.connection.getClient(), 'main');
  return m;
}

let mongo: Promise<boolean> | undefined;
/**
 * True on MongoDB; false on FerretDB (its buildInfo carries `ferretdbVersion`). Asked once.
 * FerretDB v1 (SQLite) pushes down to SQL only a filter that is exactly `{_id}`: `{_id, x: …}`
 * decodes the collection's documents until the match, so there conditional writes are a read and a
 * write by `_id` with the condition checked in the process (activities/claim.ts, models/attempt.ts),
 * and sorted reads are done by the process from a streamed cursor.
 */
export function isMongoDB(): Promise<boolean> {
  mongo ??= mongoose.connection.db!.admin().command({ buildInfo: 1 })
    .then((info) => !('ferretdbVersion' in info) && !('ferretdbFeatures' in info))
    .catch(() => true);
  return mongo;
}
