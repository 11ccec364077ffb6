// Structured JSON logs (pino): one line per event, easy to ship to any log store.
import pino from 'pino';

export function createLogger(name: string) {
  return pino({ name, level: process.env.LOG_LEVEL ?? 'info' });
}
export type { Logger } from 'pino';
