// The one way every process connects to MongoDB (see config.mongodbPoolSize for why one connection).
import mongoose from 'mongoose';
import { config } from './config';

export async function connectMongo(uri = config.mongodbUri): Promise<typeof mongoose> {
  if (mongoose.connection.readyState === 1) return mongoose;
  return mongoose.connect(uri, { maxPoolSize: config.mongodbPoolSize, serverSelectionTimeoutMS: 15_000 });
}
