// Starting a campaign's members: one member workflow per member without an end cause, started
// idempotently (USE_EXISTING), a bounded number at a time. A later issue replaces this with a
// campaign dispatcher workflow; everything the API does to "start/wake" a campaign goes through
// wakeCampaign so that swap touches one function.
import type { Client } from '@temporalio/client';
import { startMemberWorkflow } from '../lib/members';
import type { Logger } from '../lib/logger';
import { Member } from '../models';

export interface WakeResult {
  started: number;
  failed: number;
}

/** Runs fn over items with at most `limit` in flight. */
export async function mapLimit<T>(items: AsyncIterable<T> | Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  let firstError: unknown = null;
  for await (const item of items as AsyncIterable<T>) {
    if (firstError) break;
    const p: Promise<void> = fn(item)
      .catch((err: unknown) => {
        firstError ??= err;
      })
      .finally(() => running.delete(p));
    running.add(p);
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
  if (firstError) throw firstError;
}

/** Starts (or leaves running) the workflow of every member of the campaign with `_endCause: null`. */
export async function wakeCampaign(
  client: Client,
  campaign: { _id: unknown; domain: string },
  opts: { log?: Logger; concurrency?: number; taskQueue?: string; memberIds?: string[] } = {},
): Promise<WakeResult> {
  const campaignId = String(campaign._id);
  const result: WakeResult = { started: 0, failed: 0 };
  const ids: AsyncIterable<string> | Iterable<string> = opts.memberIds ?? idsOf(campaignId);
  await mapLimit(ids, opts.concurrency ?? 20, async (memberId) => {
    try {
      await startMemberWorkflow(client, { domain: campaign.domain, campaignId, memberId }, opts.taskQueue);
      result.started += 1;
    } catch (err) {
      result.failed += 1;
      opts.log?.warn({ err: String(err), campaignId, memberId }, 'could not start member workflow');
    }
  });
  opts.log?.info({ campaignId, ...result }, 'campaign woken');
  return result;
}

async function* idsOf(campaignId: string): AsyncIterable<string> {
  const cursor = Member.find({ dialer: campaignId, _endCause: null }, { _id: 1 }).lean().cursor({ batchSize: 1000 });
  for await (const doc of cursor) yield String((doc as { _id: unknown })._id);
}

/**
 * Background wake-ups, at most one per campaign at a time (a request during a run queues exactly
 * one more run, which picks up members added meanwhile). `drain()` waits for all of them.
 */
export class Waker {
  private running = new Map<string, Promise<void>>();
  private again = new Set<string>();

  constructor(
    private client: Client,
    private log: Logger,
    private taskQueue?: string,
  ) {}

  wake(campaign: { _id: unknown; domain: string }): void {
    const id = String(campaign._id);
    if (this.running.has(id)) {
      this.again.add(id);
      return;
    }
    const run = (async () => {
      do {
        this.again.delete(id);
        try {
          await wakeCampaign(this.client, campaign, { log: this.log, taskQueue: this.taskQueue });
        } catch (err) {
          this.log.error({ err: String(err), campaignId: id }, 'campaign wake-up failed');
        }
      } while (this.again.has(id));
    })().finally(() => this.running.delete(id));
    this.running.set(id, run);
  }

  /** Starts the workflows of just these members (new members of a running campaign), in the background. */
  wakeMembers(campaign: { _id: unknown; domain: string }, memberIds: string[]): void {
    const key = `${String(campaign._id)}:${memberIds[0] ?? ''}:${memberIds.length}:${Math.random()}`;
    const run = wakeCampaign(this.client, campaign, { log: this.log, taskQueue: this.taskQueue, memberIds })
      .then(() => undefined)
      .catch((err: unknown) => this.log.error({ err: String(err), campaignId: String(campaign._id) }, 'member wake-up failed'))
      .finally(() => this.running.delete(key));
    this.running.set(key, run);
  }

  async drain(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running.values()]);
  }
}
