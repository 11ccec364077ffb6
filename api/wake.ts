// Starting and waking a campaign: everything the API does to "start/wake" a campaign goes through
// wakeCampaign, which signals-with-start the campaign workflow (workflows/campaign.ts).
import type { Client } from '@temporalio/client';
import { wakeCampaignWorkflow } from '../workflows/start';
import type { Logger } from '../lib/logger';

export interface WakeResult {
  started: number;
  failed: number;
}

/** Starts the campaign's workflow, or wakes it if it runs (members added, configuration edited). The
 *  campaign grants its members lines in order; members never dialled have no workflow of their own. */
export async function wakeCampaign(
  client: Client,
  campaign: { _id: unknown; domain: string },
  opts: { log?: Logger; taskQueue?: string } = {},
): Promise<WakeResult> {
  const campaignId = String(campaign._id);
  await wakeCampaignWorkflow(client, { domain: campaign.domain, campaignId }, opts.taskQueue);
  opts.log?.info({ campaignId }, 'campaign woken');
  return { started: 1, failed: 0 };
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

  /** New members of a running campaign: the campaign picks them up from Mongo once woken. */
  wakeMembers(campaign: { _id: unknown; domain: string }, _memberIds: string[]): void {
    this.wake(campaign);
  }

  async drain(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running.values()]);
  }
}
