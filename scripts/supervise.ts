// Keeps one child process of `npm start` running: when it exits on its own it is started again after
// 1 s, 2 s, 4 s … (capped at 30 s), and the delay goes back to 1 s once a run has stayed up for a
// minute. Every restart is said on the console. stop() ends it for good (also during a wait).
import type { Proc } from './servers';

export const RESTART_MIN_DELAY_MS = 1000;
export const RESTART_MAX_DELAY_MS = 30_000;
export const STABLE_AFTER_MS = 60_000;

export interface SuperviseOptions {
  name: string;
  /** Starts one run of the process. */
  start: () => Proc | Promise<Proc>;
  /** Where restart notices go (console.log in scripts/run.ts). */
  say: (line: string) => void;
  minDelayMs?: number;
  maxDelayMs?: number;
  stableAfterMs?: number;
}

export interface Supervised {
  readonly name: string;
  /** The run going on now (undefined while waiting to restart). */
  current(): Proc | undefined;
  /** Restarts so far. */
  restarts(): number;
  /** Stops the process and ends supervision; resolves when it has exited. */
  stop(): Promise<void>;
}

/** The delay before restart number `failures` in a row (1, 2, 3 …): min × 2^(failures−1), capped. */
export function restartDelayMs(failures: number, minMs = RESTART_MIN_DELAY_MS, maxMs = RESTART_MAX_DELAY_MS): number {
  return Math.min(maxMs, minMs * 2 ** Math.max(0, failures - 1));
}

function howItEnded(how: number | string): string {
  return typeof how === 'number' ? `exited with code ${how}` : /^SIG/.test(how) ? `was killed by ${how}` : `ended (${how})`;
}

const seconds = (ms: number) => `${+(ms / 1000).toFixed(2)} s`;

/** Starts `o.start()` now (its first run is returned, for readiness checks) and keeps it running. */
export async function supervise(o: SuperviseOptions): Promise<{ supervised: Supervised; first: Proc }> {
  const minMs = o.minDelayMs ?? RESTART_MIN_DELAY_MS;
  const maxMs = o.maxDelayMs ?? RESTART_MAX_DELAY_MS;
  const stableMs = o.stableAfterMs ?? STABLE_AFTER_MS;
  let proc: Proc | undefined;
  let stopping = false;
  let failures = 0;
  let restarts = 0;
  let wait: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      wait = { timer: setTimeout(resolve, ms), resolve };
    }).finally(() => (wait = undefined));

  async function watch(run: Proc, startedAt: number): Promise<void> {
    const how = await run.exited;
    if (stopping) return;
    proc = undefined;
    failures = Date.now() - startedAt >= stableMs ? 1 : failures + 1;
    let why = howItEnded(how);
    for (;;) {
      const delay = restartDelayMs(failures, minMs, maxMs);
      o.say(`${o.name} ${why}; restarting in ${seconds(delay)} (log: ${run.logFile})`);
      await sleep(delay);
      if (stopping) return;
      try {
        proc = await o.start();
        restarts++;
        void watch(proc, Date.now());
        return;
      } catch (err) {
        failures++;
        why = `could not be restarted (${err instanceof Error ? err.message : String(err)})`;
      }
    }
  }

  const first = await o.start();
  proc = first;
  void watch(first, Date.now());
  return {
    first,
    supervised: {
      name: o.name,
      current: () => proc,
      restarts: () => restarts,
      async stop() {
        stopping = true;
        if (wait) {
          clearTimeout(wait.timer);
          wait.resolve();
        }
        await proc?.stop();
      },
    },
  };
}
