// The Mongo commands a piece of code sends (the driver's command monitor, lib/db.ts turns it on):
// for tests that pin how many round trips an operation costs.
import mongoose from 'mongoose';

export interface SentCommand {
  name: string;
  collection: string;
  command: Record<string, unknown>;
}

/** Every command sent on the default connection while `fn` runs, in order. */
export async function commandsSent(fn: () => Promise<unknown>): Promise<SentCommand[]> {
  const seen: SentCommand[] = [];
  const client = mongoose.connection.getClient();
  const on = (e: { commandName: string; command: Record<string, unknown> }) => {
    seen.push({ name: e.commandName, collection: String(e.command[e.commandName]), command: e.command });
  };
  client.on('commandStarted', on);
  try {
    await fn();
  } finally {
    client.off('commandStarted', on);
  }
  return seen;
}
