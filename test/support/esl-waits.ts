// Waiting on an EslClient in tests: each wait bounded, so a missing event fails the test by name
// instead of hanging it.
import { once } from 'node:events';
import type { EslClient, EslConnectedInfo, EslEvent } from '../../esl';

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`timeout waiting for ${what}`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

/** The client's next `connected` (the server's greeting and auth done). */
export async function connected(c: EslClient, ms = 3000): Promise<EslConnectedInfo> {
  const [info] = (await withTimeout(once(c, 'connected'), ms, 'connected')) as [EslConnectedInfo];
  return info;
}

/** The next event `name` the client emits that `pred` accepts. */
export function nextEvent(c: EslClient, name: string, pred: (e: EslEvent) => boolean = () => true, ms = 3000): Promise<EslEvent> {
  return withTimeout(
    new Promise<EslEvent>((resolve) => {
      const f = (e: EslEvent) => {
        if (!pred(e)) return;
        c.off(name, f);
        resolve(e);
      };
      c.on(name, f);
    }),
    ms,
    `event ${name}`,
  );
}
