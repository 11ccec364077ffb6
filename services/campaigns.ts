// What the API does to a campaign's run: start, stop, delete, reset. The configuration document is
// the API's (models/campaign-store.ts); members, lines and the ready queue are written only through
// their owning modules (docs/architecture.md, "Who writes what").
import type { Client } from '@temporalio/client';
import { calendarState, typeNotImplemented } from '../rules';
import { loadCampaignRules, Member, type CampaignDoc } from '../models';
import { CampaignStore } from '../models/campaign-store';
import { addHistory, History } from '../models/history';
import { LineLeases } from '../models/lines';
import { GatewayLines } from '../models/gateway-lines';
import { MemberStore } from '../models/member-store';
import { hasQueued } from '../models/ready-queue';
import { startPurgeWorkflow, stopCampaignWorkflow } from '../workflows/start';
import { HttpError } from '../lib/http-error';
import { hangUpCampaignCalls, membersInCall } from './campaign-calls';
import { terminateCampaignWorkflows } from './workflows';

export interface CampaignServiceDeps {
  client: Client;
  /** Task queue of the workflows started here (default config.temporal.taskQueue). */
  taskQueue?: string;
  updateTimeoutMs: number;
  waker: { wake(campaign: { _id: unknown; domain: string }): void };
}

/** 400 for a campaign type that cannot dial yet (creating, changing to, or starting one). */
export function assertTypeDialable(type: string): void {
  const why = typeNotImplemented(type);
  if (why) throw new HttpError(400, `type: ${why}`);
}

/** Start (state 1): §8.2 — calendar expired → End, outside working hours → Sleep, no members → End. */
export async function startDialer(deps: Pick<CampaignServiceDeps, 'waker'>, doc: CampaignDoc, user: string): Promise<{ state: number; _cause: string; active: boolean }> {
  assertTypeDialable(doc.type);
  const id = String(doc._id);
  const cal = calendarState((await loadCampaignRules(doc)).calendar, Date.now());
  let next: { state: number; _cause: string; active: boolean };
  if (cal === 'expired') next = { state: 4, _cause: 'QUEUE_EXPIRE', active: false };
  else if (!doc.parameters?.eternalQueue && !(await hasQueued(id)) && !(await Member.exists({ dialer: id, _endCause: null }))) {
    // The queue answers at once; the members collection (a scan up to the first match on
    // FerretDB v1) only when the queue is empty.
    next = { state: 4, _cause: 'NOT_FOUND_MEMBER', active: false };
  } else if (cal !== 'working') next = { state: 2, _cause: 'QUEUE_SLEEP', active: true };
  else next = { state: 1, _cause: 'QUEUE_HUNTING', active: true };
  await CampaignStore.setRunState(id, next);
  const label: Record<string, string> = { QUEUE_HUNTING: 'Start', QUEUE_SLEEP: 'Sleeping', NOT_FOUND_MEMBER: 'Not found members', QUEUE_EXPIRE: 'Expired' };
  await addHistory({ dialer: id, domain: doc.domain, action: next._cause, value: label[next._cause], user });
  if (next.active) deps.waker.wake(doc);
  return next;
}

/** Stop (state 3, §8.2): the running campaign stops granting lines; calls in progress finish. */
export async function stopDialer(deps: Pick<CampaignServiceDeps, 'client'>, doc: CampaignDoc, user: string): Promise<{ state: number; _cause: string; active: boolean }> {
  const next = { state: 3, _cause: 'QUEUE_STOP', active: false };
  await CampaignStore.setRunState(String(doc._id), next);
  await addHistory({ dialer: String(doc._id), domain: doc.domain, action: 'QUEUE_STOP', value: 'Stop', user });
  await stopCampaignWorkflow(deps.client, String(doc._id));
  return next;
}

/** DELETE of a dialer with its members, history, lines and queue. Calls up are owned by their
 *  member workflows: refused, or (force) hung up by their owners first. The members leave every
 *  read at once (queue and counts dropped, then the campaign document) and are deleted afterwards
 *  by the purge workflow, started before the campaign document goes so that none is left behind. */
export async function deleteDialer(deps: CampaignServiceDeps, doc: CampaignDoc, force: boolean): Promise<{ deleted: number; deletedMembers: number; membersEnded: number }> {
  const id = String(doc._id);
  // Also without force: a member granted a line after this check is ended by its owner too.
  if (!force) {
    const inCall = await membersInCall(deps.client, id);
    if (inCall.length) throw new HttpError(409, `${inCall.length} member(s) of this dialer are in a call; stop it and wait, or DELETE with ?force=true to hang the calls up (MANAGER_REQUEST)`);
  }
  const hungUp = await hangUpCampaignCalls(deps.client, id, deps.updateTimeoutMs);
  // Stop its member workflows first, so none dials a member that is being deleted.
  await terminateCampaignWorkflows(deps.client, id, 'dialer deleted through the API', async function* () {
    for await (const m of Member.find({ dialer: id, _endCause: null }, { _id: 1 }).lean().cursor()) yield String((m as { _id: unknown })._id);
  });
  await startPurgeWorkflow(deps.client, { campaignId: id, domain: doc.domain }, deps.taskQueue);
  const deletedMembers = await MemberStore.dropCampaign(id);
  await History.deleteMany({ dialer: id });
  await LineLeases.drop(id);
  await GatewayLines.dropCampaign(id);
  const deleted = await CampaignStore.remove(id, doc.domain);
  return { deleted, deletedMembers, membersEnded: hungUp };
}

/** §8.7 reset of a dialer: counters and/or line bookkeeping; without skipActive only when inactive. */
export async function resetDialer(doc: CampaignDoc, body: { skipActive?: boolean; resetStats?: boolean; resetProcess?: boolean }, user: string): Promise<{ matched: number; modified: number; info?: string }> {
  if (doc.active && !body.skipActive) return { matched: 0, modified: 0, info: 'dialer is active: stop it or pass skipActive' };
  if (body.resetProcess) {
    await LineLeases.reset(String(doc._id));
    await GatewayLines.dropCampaign(String(doc._id));
  }
  const res = await CampaignStore.reset(String(doc._id), { stats: body.resetStats, process: body.resetProcess });
  await addHistory({ dialer: String(doc._id), domain: doc.domain, action: 'RESET', value: body, user });
  return res;
}
