// Dialer `priority` on shared lines (spec §3.1 "other top-level fields", §13 #5: v3 documented it and
// never read it). Campaigns whose calls go through one sofia gateway share that gateway's lines
// (GATEWAY_LINES); when they compete, the campaign with the higher priority is granted first.
// A campaign that found the gateway full says so by a waiter entry; while a waiter of another
// campaign with a higher priority is fresh, a lower one does not take a freed line.

export interface LineWaiter {
  campaign: string;
  priority: number;
  /** When it last found no line (epoch ms). */
  at: number;
}

/** A waiter not seen again within this time has stopped asking (its members retry every 1–3 s). */
export const WAITER_TTL_MS = 10_000;

/** v3's default priority (UI "Priority", 0–999, default 1). */
export const DEFAULT_CAMPAIGN_PRIORITY = 1;

/** Whether `me` may take a free line of the gateway now, given who else is waiting for one. */
export function mayTakeSharedLine(me: { campaign: string; priority: number }, waiters: readonly LineWaiter[], now: number): boolean {
  return !waiters.some((w) => w.campaign !== me.campaign && w.priority > me.priority && now - w.at < WAITER_TTL_MS);
}

/** The waiters after `me` found no line: its entry refreshed, stale entries dropped. */
export function withWaiter(waiters: readonly LineWaiter[], me: { campaign: string; priority: number }, now: number): LineWaiter[] {
  return [...waiters.filter((w) => w.campaign !== me.campaign && now - w.at < WAITER_TTL_MS), { campaign: me.campaign, priority: me.priority, at: now }];
}
