// What the API does to members beyond reading them: insert, edit, delete, reset, terminate and the
// result status. A member with a running workflow is that workflow's: the API asks it with an Update
// (edit, status, terminate). The API writes directly (through models/member-store.ts) only what no
// workflow owns, under the claim rule written there: members just created or imported, never-granted
// or ended members, conditional on `_dispatch: null, _lock: null`. The routes (api/members.ts) only
// parse, call these, and answer.
import type { Model } from 'mongoose';
import type { Client } from '@temporalio/client';
import { Campaign, memberState, Member, type CampaignDoc, type MemberDoc } from '../models';
import { addHistory } from '../models/history';
import { recordMemberEnd } from '../models/member-end';
import { MemberStore, type ResetProgress } from '../models/member-store';
import { batchesById } from '../models/pages';
import { memberEndEvent, terminateIdle, type ClientPatch } from '../rules';
import { HttpError } from '../lib/http-error';
import { mapLimit } from '../lib/map-limit';
import {
  editUpdate,
  memberWorkflowId,
  MEMBER_ALREADY_ENDED,
  NOT_WAITING_FOR_STATUS,
  statusUpdate,
  terminateUpdate,
  type StatusBody,
} from '../workflows/messages';
import { startDialer } from './campaigns';
import { runningMemberWorkflows, runUpdate, terminateIfRunning } from './workflows';

export interface MemberServiceDeps {
  client: Client;
  updateTimeoutMs: number;
  waker: { wake(campaign: { _id: unknown; domain: string }): void };
  /** A model on another connection for the reset's batch reads, so the next batch is read while the
   *  current one is written (the API writes on one connection). */
  reads?: { model<T>(model: Model<T>): Model<T> };
}

const LOCKED = 'member is locked (in a call); retry after the call';
/** How often an edit or terminate looks again when the member was claimed under it (its workflow
 *  is starting), and how long between looks. */
const CLAIMED_RETRIES = 10;
const CLAIMED_PAUSE_MS = 200;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

const stringVars = (v: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null && x !== undefined).map(([k, x]) => [k, String(x)]));

/** New members are picked up at once when the dialer runs (v3 hunting sees them), or with autoRun. */
export async function insertMembers(deps: MemberServiceDeps, dialer: CampaignDoc, docs: Record<string, unknown>[], o: { autoRun: boolean; user: string }): Promise<void> {
  await MemberStore.insert(docs);
  if (docs.length) await afterImport(deps, dialer, o);
}

/** After members were stored (POST, CSV import): a running dialer picks them up; autoRun starts a
 *  stopped one. */
export async function afterImport(deps: MemberServiceDeps, dialer: CampaignDoc, o: { autoRun: boolean; user: string }): Promise<void> {
  const fresh = (await Campaign.findById(dialer._id).lean<CampaignDoc>()) ?? dialer;
  if (fresh.active && fresh.state !== 3) deps.waker.wake(fresh);
  else if (o.autoRun) await startDialer(deps, fresh, o.user);
}

/** Deletes the members matching `where` (already scoped to the dialer), those not in a call, in
 *  batches: their workflows are stopped first. Returns counts. */
export async function deleteMembers(deps: MemberServiceDeps, dialer: CampaignDoc, where: Record<string, unknown>): Promise<{ deleted: number; locked: number }> {
  const campaignId = String(dialer._id);
  let deleted = 0;
  const anyRunning = (await runningMemberWorkflows(deps.client, campaignId)) > 0;
  let batch: { _id: unknown; _endCause: string | null }[] = [];
  const flush = async () => {
    if (!batch.length) return;
    if (anyRunning) {
      const active = batch.filter((d) => !d._endCause).map((d) => String(d._id));
      await mapLimit(active, 20, async (m) => {
        await terminateIfRunning(deps.client, memberWorkflowId(campaignId, m), 'member deleted through the API');
      });
    }
    deleted += await MemberStore.removeMany(campaignId, batch.map((d) => d._id));
    batch = [];
  };
  // Read a batch to its end before writing: an open cursor and writes to the same collection stalled FerretDB.
  for await (const docs of batchesById<{ _id: unknown; _endCause: string | null }>(Member, { $and: [where, { _lock: null }] }, { _id: 1, _endCause: 1 }, 1000)) {
    batch = docs;
    await flush();
  }
  const locked = await Member.countDocuments({ $and: [where, { _lock: { $ne: null } }] });
  return { deleted, locked };
}

/** DELETE of one member: not while it is in a call; its workflow is stopped first. */
export async function deleteMember(deps: MemberServiceDeps, dialer: CampaignDoc, doc: MemberDoc): Promise<number> {
  if (doc._lock) throw new HttpError(406, LOCKED);
  if (!doc._endCause) await terminateIfRunning(deps.client, memberWorkflowId(String(dialer._id), String(doc._id)), 'member deleted through the API');
  if (!(await MemberStore.remove(String(dialer._id), doc._id))) throw new HttpError(406, LOCKED);
  return 1;
}

/** The client fields of an edit as stored (v3: `'` in a name becomes `_`, no name is `_undef_`). */
export interface MemberEditBody {
  name?: string;
  priority?: number;
  timezone?: string;
  expire?: number | null;
  variables?: Record<string, unknown>;
  communications?: ClientPatch['communications'];
}

/**
 * PUT of a member. Running workflow: the edit goes to it (Update `edit`), which stores it. Otherwise
 * the API stores it under the claim rule; a member claimed meanwhile gets it through its workflow.
 */
export async function editMember(deps: MemberServiceDeps, dialer: CampaignDoc, doc0: MemberDoc, body: MemberEditBody): Promise<{ matched: number; modified: number }> {
  if (doc0._lock) throw new HttpError(406, LOCKED);
  const fields: Record<string, unknown> = {};
  if (body.name !== undefined) fields.name = body.name === '' ? '_undef_' : body.name.replace(/'/g, '_');
  if (body.priority !== undefined) fields.priority = body.priority;
  if (body.timezone !== undefined) fields.timezone = body.timezone;
  if (body.expire !== undefined) fields.expire = body.expire;
  if (body.variables !== undefined) fields.variables = body.variables;
  const patch: ClientPatch = {
    ...(fields.name !== undefined ? { name: fields.name as string } : {}),
    ...(body.priority !== undefined ? { priority: body.priority } : {}),
    ...(body.timezone !== undefined ? { timezone: body.timezone || null } : {}),
    ...(body.expire !== undefined ? { expire: body.expire } : {}),
    ...(body.variables !== undefined ? { variables: stringVars(body.variables) } : {}),
    ...(body.communications !== undefined ? { communications: body.communications } : {}),
  };
  const handle = deps.client.workflow.getHandle(memberWorkflowId(String(dialer._id), String(doc0._id)));
  let doc = doc0;
  for (let i = 0; i < CLAIMED_RETRIES; i++) {
    if (!doc._endCause) {
      const out = await runUpdate(deps.client, deps.updateTimeoutMs, () => handle.executeUpdate(editUpdate, { args: [{ patch, fields }] }));
      if (out.ok) return { matched: 1, modified: 1 };
      if (out.kind === 'rejected' && !out.message.includes(MEMBER_ALREADY_ENDED)) throw new HttpError(406, out.message);
    }
    const res = await MemberStore.editUnclaimed(doc, patch, fields);
    if (res.matched) return res;
    // Claimed or locked since it was read: its workflow owns it now (or is starting).
    const now = await Member.findById(doc._id).lean<MemberDoc>();
    if (!now) throw new HttpError(404, 'member not found');
    if (now._lock) throw new HttpError(406, LOCKED);
    doc = now;
    await pause(CLAIMED_PAUSE_MS);
  }
  throw new HttpError(503, 'the member was granted a line and its workflow did not answer in time; retry later');
}

/** §6.5 result status: only the member's workflow takes one (Update `memberStatus`). */
export async function setMemberStatus(deps: MemberServiceDeps, dialer: CampaignDoc, doc: MemberDoc, body: StatusBody & { session_id?: string }, from: string): Promise<void> {
  const { session_id: sessionId, ...status } = body;
  if (sessionId !== undefined && doc._lastSession && sessionId !== doc._lastSession) throw new HttpError(400, 'session_id: bad session id');
  const handle = deps.client.workflow.getHandle(memberWorkflowId(String(dialer._id), String(doc._id)));
  const out = await runUpdate(deps.client, deps.updateTimeoutMs, () => handle.executeUpdate(statusUpdate, { args: [{ ...status, from }] }));
  if (!out.ok) {
    if (out.kind === 'not-found' || out.message.includes(NOT_WAITING_FOR_STATUS)) throw new HttpError(400, NOT_WAITING_FOR_STATUS);
    throw new HttpError(400, out.message);
  }
}

/**
 * §9.4 terminate. Running workflow: it ends the member (Update `terminate`; a live call is hung up
 * first). No workflow: the API ends the idle member itself, once, and stores the same end event the
 * workflow would (rules/member-end.ts).
 */
export async function terminateMember(deps: MemberServiceDeps, dialer: CampaignDoc, doc0: MemberDoc): Promise<{ _id: string; waitHangupCause?: string }> {
  if (doc0._endCause) throw new HttpError(405, MEMBER_ALREADY_ENDED);
  const campaignId = String(dialer._id);
  const memberId = String(doc0._id);
  const handle = deps.client.workflow.getHandle(memberWorkflowId(campaignId, memberId));
  for (let i = 0; i < CLAIMED_RETRIES; i++) {
    const out = await runUpdate(deps.client, deps.updateTimeoutMs, () => handle.executeUpdate(terminateUpdate, { args: [] }));
    if (out.ok) return out.value;
    if (out.kind === 'rejected') throw new HttpError(405, out.message.includes(MEMBER_ALREADY_ENDED) ? MEMBER_ALREADY_ENDED : out.message);
    // No running workflow. Read again: the workflow may have ended the member meanwhile.
    const now = await Member.findById(doc0._id).lean<MemberDoc>();
    if (!now || now._endCause) throw new HttpError(405, MEMBER_ALREADY_ENDED);
    if (now._lock || now._waitingForResultStatusCb) throw new HttpError(405, 'member is in a call or waiting for a status');
    const ended = terminateIdle(memberState(now)).member;
    if (await MemberStore.endUnclaimed(now, ended)) {
      const event = memberEndEvent({
        domain: dialer.domain, campaignId, campaignName: dialer.name, memberId, member: ended, cause: ended.endCause!,
        session: now._lastSession ?? '', reason: 'terminate',
      });
      await recordMemberEnd(`api-terminate:${campaignId}:${memberId}`, { domain: dialer.domain, dialer: campaignId, member: memberId, event });
      return { _id: memberId };
    }
    // Claimed under us: its workflow is starting and will take the Update.
    await pause(CLAIMED_PAUSE_MS);
  }
  throw new HttpError(503, 'the member was granted a line and its workflow did not answer in time; retry later');
}

export type ResetStatus = Omit<ResetProgress, '_id' | 'domain' | 'state'> & { state: ResetProgress['state'] | 'interrupted' };
/** Dialers whose members this process is resetting: a second reset of one is refused (409). */
const resetting = new Set<string>();
/** A reset whose progress has not moved for this long was cut off (its process stopped). */
export const RESET_STALE_MS = 2 * 60_000;

/** The newest members reset of a dialer as a console shows it: `interrupted` when its process
 *  stopped before the end (a new reset continues with the members still ended). */
export async function resetStatus(dialer: CampaignDoc): Promise<ResetStatus | null> {
  const p = await MemberStore.resetProgress(String(dialer._id));
  if (!p || p.domain !== dialer.domain) return null;
  const state = p.state === 'running' && !resetting.has(p._id) && Date.now() - p.updatedAt > RESET_STALE_MS ? 'interrupted' : p.state;
  return { state, reset: p.reset, ended: p.ended, startedAt: p.startedAt, updatedAt: p.updatedAt, ...(p.finishedAt ? { finishedAt: p.finishedAt } : {}), ...(p.error ? { error: p.error } : {}) };
}

/** §8.7 members reset: ended without success and still with a number not stopped by a callback
 *  become never dialled again (queued again); recorded in the dialer's history; a running dialer is
 *  woken. Progress is stored after each batch (`resetStatus`); one reset per dialer at a time (409).
 *  `started` is called once the reset is under way. Returns how many. */
export async function resetMembers(deps: MemberServiceDeps, dialer: CampaignDoc, o: { from: number; replaceLog: boolean; user: string; started?: () => void }): Promise<number> {
  const campaignId = String(dialer._id);
  const running = await resetStatus(dialer);
  if (resetting.has(campaignId) || running?.state === 'running') {
    throw new HttpError(409, `a reset of this dialer's members is running (${running?.reset ?? 0} reset so far); GET …/members/reset shows its progress`);
  }
  resetting.add(campaignId);
  try {
    return await resetAll(deps, dialer, o);
  } finally {
    resetting.delete(campaignId);
  }
}

async function resetAll(deps: MemberServiceDeps, dialer: CampaignDoc, o: { from: number; replaceLog: boolean; user: string; started?: () => void }): Promise<number> {
  const campaignId = String(dialer._id);
  const where = {
    dialer: campaignId,
    domain: dialer.domain,
    createdOn: { $gte: o.from },
    _endCause: { $ne: null },
    callSuccessful: { $ne: true },
    _lock: null,
    // "still has a number not stopped by a callback" is checked below: FerretDB 1.x does not match
    // $elemMatch with $ne.
  };
  const now = Date.now();
  const step = { state: 'reset', time: now, steps: [{ time: now, data: `Reset by ${o.user}` }] };
  type Row = { _id: unknown; dialer: string; _endCause: string | null; priority?: number; communications: Record<string, unknown>[]; _log?: unknown[]; lastModified?: number };
  await MemberStore.resetStarted(campaignId, dialer.domain, (await MemberStore.counts(campaignId)).ended, now);
  o.started?.();
  let n = 0;
  const batches = batchesById<Row>(deps.reads?.model(Member) ?? Member, where, { communications: 1, _log: 1, priority: 1, dialer: 1, _endCause: 1, lastModified: 1 }, 500)[Symbol.asyncIterator]();
  let next = batches.next();
  try {
    for (let read = await next; !read.done; read = await next) {
      next = batches.next();
      next.catch(() => undefined); // awaited next round; a write that fails first ends the loop
      const batch = read.value.filter((d) => (d.communications ?? []).some((c) => c.stopCommunication !== true));
      n += await MemberStore.resetEnded(batch, { step, replaceLog: o.replaceLog, now });
      await MemberStore.resetProgressed(campaignId, n);
    }
  } catch (err) {
    await MemberStore.resetFinished(campaignId, n, String((err as Error).message ?? err)).catch(() => undefined);
    throw err;
  }
  await MemberStore.resetFinished(campaignId, n);
  await addHistory({ dialer: campaignId, domain: dialer.domain, action: 'RESET_MEMBERS', value: n, user: o.user });
  if (n > 0 && dialer.active && dialer.state !== 3) deps.waker.wake(dialer);
  return n;
}
