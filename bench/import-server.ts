// The API process the CSV benchmark imports through (bench/csv-import.ts starts it as a child so
// its peak RSS is measured alone): createApp on an ephemeral port, MONGODB_URI from the parent.
// Prints "PORT <n>" when listening. No Temporal is contacted for a stopped dialer's import.
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import mongoose from 'mongoose';
import pino from 'pino';
import { createApp } from '../api/app';

async function main(): Promise<void> {
  await mongoose.connect(process.env.MONGODB_URI!);
  const client = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  const app = createApp({ client, log: pino({ level: 'warn' }) });
  const server = app.listen(0, '127.0.0.1', () => {
    console.log(`PORT ${(server.address() as AddressInfo).port}`);
  });
  server.requestTimeout = 0;
  const every = Number(process.env.BENCH_MEM_MS || 0);
  if (every > 0) {
    // Profiling aid: the process's memory every BENCH_MEM_MS ms on stderr (MB).
    const mb = (n: number) => Math.round(n / 1048576);
    setInterval(() => {
      const m = process.memoryUsage();
      console.error(`mem rss ${mb(m.rss)} heapUsed ${mb(m.heapUsed)} heapTotal ${mb(m.heapTotal)} external ${mb(m.external)} arrayBuffers ${mb(m.arrayBuffers)}`);
    }, every).unref();
  }
  process.on('SIGTERM', () => {
    server.close();
    void mongoose.disconnect().then(() => process.exit(0));
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
