// The one way every process connects to MongoDB (pool size: config.mongodbPoolSize).
import mongoose from 'mongoose';
import { config } from './config';
import { monitorMongo } from './metrics';

export async function connectMongo(uri = config.mongodbUri, o: { serverSelectionTimeoutMS?: number; maxPoolSize?: number } = {}): Promise<typeof mongoose> {
  if (mongoose.connection.readyState === 1) return mongoose;
  const m = await mongoose.connect(uri, { maxPoolSize: o.maxPoolSize ?? config.mongodbPoolSize, serverSelectionTimeoutMS: o.serverSelectionTimeoutMS ?? 15_000, monitorCommands: true });
  monitorMongo(m.connection.getClient(), 'main');
  return m;
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
