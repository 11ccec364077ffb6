// Member routes, spec §9.3–§9.4 and §6.5. While a member workflow runs it owns the member's engine
// fields and numbers: updates go to it as a signal, status and terminate as Updates. Without a
// running workflow the API writes the document itself with single-document conditional updates.
import type { Context } from 'koa';
import type Router from '@koa/router';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { PipelineStage } from 'mongoose';
import { mergeClientPatch } from '../rules';
import { Campaign, Member, MemberEnd, memberState, memberStateSet, type CampaignDoc, type MemberDoc } from '../models';
import { addHistory } from '../models/history';
import {
  memberChangedSignal,
  memberWorkflowId,
  MEMBER_ALREADY_ENDED,
  NOT_WAITING_FOR_STATUS,
  statusUpdate,
  terminateUpdate,
  type MemberPatch,
} from '../workflows/messages';
import { authOf } from './auth';
import type { RouteDeps } from './deps';
import { assertTypeDialable, findDialer, listQuery, scoped, startDialer } from './dialers';
import { MAX_AGGREGATE_RESULTS, sanitizeFilter, sanitizePipeline } from './filters';
import { badRequest, HttpError, jsonBody, notFound, objectBody, objectIdParam, queryParam, sendData, sendInfo, zodMessage } from './http';
import { dropTimed } from '../models/ready-queue';
import { insertAllOrNothing, memberDocument, queueStored } from './member-docs';
import { memberCreateSchema, memberUpdateSchema, statusSchema } from './schemas';
import { afterParam, batchesById, findPage, pageStore } from './reads';
import { mapLimit } from './wake';
import { runningMemberWorkflows, runUpdate, terminateIfRunning, workflowRunning } from './workflows';

export const MAX_BULK_MEMBERS = 10_000;

function base(dialer: CampaignDoc): { dialer: string; domain: string } {
  return { dialer: String(dialer._id), domain: dialer.domain };
}

/**
 * The member named by the path, in the given dialer (and so in its domain); 404 otherwise, also for
 * a member of another dialer or domain. Looked up by `_id` alone and checked here: FerretDB 1.x
 * pushes only an `_id` filter down to SQLite, and `{_id, dialer, domain}` made it decode the whole
 * members collection on every member route (the status PUT among them).
 */
async function findMember(ctx: Context, dialer: CampaignDoc): Promise<MemberDoc> {
  const id = objectIdParam(ctx, 'id');
  const doc = await Member.findById(id).lean<MemberDoc>();
  const { dialer: dialerId, domain } = base(dialer);
  if (!doc || doc.dialer !== dialerId || doc.domain !== domain) throw notFound('member not found');
  return doc;
}

const stringVars = (v: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null && x !== undefined).map(([k, x]) => [k, String(x)]));

/** New members are picked up at once when the dialer runs (v3 hunting sees them), or with autoRun. */
export async function afterInsert(deps: RouteDeps, ctx: Context, dialer: CampaignDoc, ids: string[], autoRun: boolean): Promise<void> {
  if (!ids.length) return;
  const fresh = (await Campaign.findById(dialer._id).lean<CampaignDoc>()) ?? dialer;
  if (fresh.active && fresh.state !== 3) {
    // Running or sleeping: start just the new members' workflows.
    deps.waker.wakeMembers(fresh, ids);
  } else if (autoRun) {
    await startDialer(deps, fresh, authOf(ctx).key);
  }
}

/** After a CSV import: a running dialer picks the new members up; autoRun starts a stopped one. */
export async function afterImport(deps: RouteDeps, ctx: Context, dialer: CampaignDoc, autoRun: boolean): Promise<void> {
  const fresh = (await Campaign.findById(dialer._id).lean<CampaignDoc>()) ?? dialer;
  if (fresh.active && fresh.state !== 3) deps.waker.wake(fresh);
  else if (autoRun) await startDialer(deps, fresh, authOf(ctx).key);
}

/** Deletes the members matching a (sanitized) filter, unlocked ones only, in batches; returns counts. */
export async function deleteMembers(deps: RouteDeps, dialer: CampaignDoc, filter: Record<string, unknown>): Promise<{ deleted: number; locked: number }> {
  const campaignId = String(dialer._id);
  const where = scoped(filter, base(dialer));
  let deleted = 0;
  const anyRunning = (await runningMemberWorkflows(deps.client, campaignId)) > 0;
  let batch: { _id: unknown; _endCause: string | null }[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const ids = batch.map((d) => d._id);
    if (anyRunning) {
      const active = batch.filter((d) => !d._endCause).map((d) => String(d._id));
      await mapLimit(active, 20, async (m) => {
        await terminateIfRunning(deps.client, memberWorkflowId(campaignId, m), 'member deleted through the API');
        await dropTimed(campaignId, m);
      });
    }
    const res = await Member.deleteMany({ _id: { $in: ids }, _lock: null });
    deleted += res.deletedCount;
    batch = [];
  };
  for await (const docs of batchesById<{ _id: unknown; _endCause: string | null }>(Member, scoped(where, { _lock: null }), { _id: 1, _endCause: 1 }, 1000)) {
    batch = docs;
    await flush();
  }
  const locked = await Member.countDocuments(scoped(where, { _lock: { $ne: null } }));
  return { deleted, locked };
}

export function memberRoutes(router: Router, deps: RouteDeps): void {
  const P = '/api/v2/dialer/:dialer/members';

  // Reads select by dialer alone: the dialer was found in the caller's domain and its members carry
  // its id, and a second equality (domain) could lead the embedded store to an index without `_id` order.
  router.get(P, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const q = listQuery(ctx);
    const after = afterParam(queryParam(ctx, 'after'), q);
    const M = deps.reads.model(Member);
    const store = await pageStore(M);
    const { docs, next } = await deps.reads.run(ctx, () => findPage<MemberDoc>(M, scoped(q.filter, { dialer: String(dialer._id) }), { ...q, after }, store, deps.queryTimeoutMs));
    if (next) ctx.set('X-Next-After', next);
    sendData(ctx, docs);
  });

  router.get(`${P}/count`, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const { filter } = listQuery(ctx);
    const M = deps.reads.model(Member);
    sendData(ctx, await deps.reads.run(ctx, () => M.countDocuments(scoped(filter, { dialer: String(dialer._id) })).maxTimeMS(deps.queryTimeoutMs)));
  });

  router.post(`${P}/aggregate`, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const body = await jsonBody(ctx);
    if (body === undefined) throw badRequest('body: a JSON array of pipeline stages is required');
    const pipeline = sanitizePipeline(body, 'body');
    const M = deps.reads.model(Member);
    const rows = await deps.reads.run(ctx, () => M.aggregate([{ $match: base(dialer) }, ...pipeline, { $limit: MAX_AGGREGATE_RESULTS }] as unknown as PipelineStage[]).option({ maxTimeMS: deps.queryTimeoutMs }).exec());
    sendData(ctx, rows);
  });

  router.post(P, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    // Refused before anything is stored: autoRun would start a campaign that cannot dial yet.
    if (queryParam(ctx, 'autoRun') === 'true') assertTypeDialable(dialer.type);
    const body = await jsonBody(ctx, deps.maxJsonBytes);
    if (body === undefined) throw badRequest('body: a member object or an array of members is required');
    const list = Array.isArray(body) ? body : [body];
    if (list.length === 0) throw badRequest('body: the array of members is empty');
    if (list.length > MAX_BULK_MEMBERS) throw badRequest(`body: at most ${MAX_BULK_MEMBERS} members per request (use the CSV import for more)`);
    // Validate everything first: one bad member → 400 and nothing written.
    const errors: string[] = [];
    const valid = list.map((m, i) => {
      if (typeof m !== 'object' || m === null || Array.isArray(m)) {
        errors.push(`${Array.isArray(body) ? `[${i}]` : 'body'}: must be a member object`);
        return null;
      }
      const r = memberCreateSchema.safeParse(m);
      if (!r.success) errors.push(zodMessage(r.error, Array.isArray(body) ? `[${i}]` : ''));
      return r.success ? r.data : null;
    });
    if (errors.length) throw badRequest(errors.slice(0, 10).join('; ') + (errors.length > 10 ? `; … ${errors.length - 10} more` : ''));
    const now = Date.now();
    const docs = valid.map((m) => memberDocument(m!, String(dialer._id), dialer.domain, now));
    await insertAllOrNothing(docs);
    const ids = docs.map((d) => String(d._id));
    await afterInsert(deps, ctx, dialer, ids, queryParam(ctx, 'autoRun') === 'true');
    sendData(ctx, {
      result: { ok: 1, n: docs.length },
      ...(docs.length <= 100 ? { ops: docs } : {}),
      insertedCount: docs.length,
      insertedIds: ids,
    });
  });

  router.delete(P, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const body = await jsonBody(ctx);
    if (body === undefined) throw badRequest('body: a JSON filter object is required ({} deletes every member of the dialer)');
    const filter = sanitizeFilter(body, 'body');
    const { deleted, locked } = await deleteMembers(deps, dialer, filter);
    sendData(ctx, { result: { ok: 1, n: deleted }, deletedCount: deleted, skippedLocked: locked });
  });

  router.put(`${P}/reset`, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const fromRaw = queryParam(ctx, 'from');
    if (fromRaw === undefined || fromRaw === '') throw badRequest('from: required (epoch ms; members created at or after it are reset)');
    const from = Number(fromRaw);
    if (!Number.isInteger(from) || from < 0) throw badRequest('from: must be a non-negative integer (epoch ms)');
    const replaceLog = queryParam(ctx, '_log') === 'true';
    const auth = authOf(ctx);
    if (replaceLog && !auth.root) throw new HttpError(403, '_log: only root may replace the attempt log');
    const n = await resetMembers(dialer, from, replaceLog, auth.key);
    await addHistory({ dialer: String(dialer._id), domain: dialer.domain, action: 'RESET_MEMBERS', value: n, user: auth.key });
    if (n > 0 && dialer.active && dialer.state !== 3) deps.waker.wake(dialer);
    sendInfo(ctx, n);
  });

  router.get(`${P}/:id`, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    sendData(ctx, await findMember(ctx, dialer));
  });

  router.put(`${P}/:id`, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const doc = await findMember(ctx, dialer);
    const patch = memberUpdateSchema.parse(await objectBody(ctx));
    if (doc._lock) throw new HttpError(406, 'member is locked (in a call); retry after the call');
    const direct: Record<string, unknown> = { lastModified: Date.now() };
    if (patch.name !== undefined) direct.name = patch.name === '' ? '_undef_' : patch.name.replace(/'/g, '_');
    if (patch.priority !== undefined) direct.priority = patch.priority;
    if (patch.timezone !== undefined) direct.timezone = patch.timezone;
    if (patch.expire !== undefined) direct.expire = patch.expire;
    if (patch.variables !== undefined) direct.variables = patch.variables;
    const wfPatch: MemberPatch = {
      ...(direct.name !== undefined ? { name: direct.name as string } : {}),
      ...(patch.priority !== undefined ? { priority: patch.priority } : {}),
      ...(patch.expire !== undefined ? { expire: patch.expire } : {}),
      ...(patch.variables !== undefined ? { variables: stringVars(patch.variables) } : {}),
      ...(patch.communications !== undefined ? { communications: patch.communications } : {}),
    };
    const wfId = memberWorkflowId(String(dialer._id), String(doc._id));
    let signalled = false;
    if (!doc._endCause && (await workflowRunning(deps.client, wfId))) {
      try {
        await deps.client.workflow.getHandle(wfId).signal(memberChangedSignal, wfPatch);
        signalled = true;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    }
    let set = direct;
    if (!signalled && patch.communications !== undefined) {
      // No workflow owns the document: merge here, keeping engine-owned number fields (§5.2).
      const merged = mergeClientPatch(memberState(doc), { communications: patch.communications });
      set = { ...direct, communications: memberStateSet(merged).communications };
    }
    const res = await Member.updateOne({ _id: doc._id, ...(signalled ? {} : { _lock: null }) }, { $set: set });
    if (res.matchedCount === 0) throw new HttpError(406, 'member is locked (in a call); retry after the call');
    // A member no workflow owns is queued under its new priority (the old entry is dropped as stale).
    if (!signalled && patch.priority !== undefined && patch.priority !== doc.priority) await queueStored([{ ...doc, priority: patch.priority }]);
    sendData(ctx, { result: { ok: 1, n: res.matchedCount, nModified: res.modifiedCount } });
  });

  router.delete(`${P}/:id`, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const doc = await findMember(ctx, dialer);
    if (doc._lock) throw new HttpError(406, 'member is locked (in a call); retry after the call');
    if (!doc._endCause) await terminateIfRunning(deps.client, memberWorkflowId(String(dialer._id), String(doc._id)), 'member deleted through the API');
    const res = await Member.deleteOne({ _id: doc._id, _lock: null });
    if (res.deletedCount === 0) throw new HttpError(406, 'member is locked (in a call); retry after the call');
    await dropTimed(String(dialer._id), doc._id); // (a fresh id is dropped when the claim reaches it)
    sendData(ctx, { result: { ok: 1, n: res.deletedCount } });
  });

  router.put(`${P}/:id/status`, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const doc = await findMember(ctx, dialer);
    const body = statusSchema.parse(await objectBody(ctx));
    const { session_id: sessionId, ...status } = body;
    if (sessionId !== undefined && doc._lastSession && sessionId !== doc._lastSession) throw badRequest('session_id: bad session id');
    const handle = deps.client.workflow.getHandle(memberWorkflowId(String(dialer._id), String(doc._id)));
    const out = await runUpdate(deps.client, deps.updateTimeoutMs, () =>
      handle.executeUpdate(statusUpdate, { args: [{ ...status, from: authOf(ctx).key }] }),
    );
    if (!out.ok) {
      if (out.kind === 'not-found' || out.message.includes(NOT_WAITING_FOR_STATUS)) throw badRequest(NOT_WAITING_FOR_STATUS);
      throw badRequest(out.message);
    }
    ctx.body = { status: 'OK', info: 'success' };
  });

  router.put(`${P}/:id/terminate`, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const doc = await findMember(ctx, dialer);
    if (doc._endCause) throw new HttpError(405, MEMBER_ALREADY_ENDED);
    const campaignId = String(dialer._id);
    const handle = deps.client.workflow.getHandle(memberWorkflowId(campaignId, String(doc._id)));
    const out = await runUpdate(deps.client, deps.updateTimeoutMs, () => handle.executeUpdate(terminateUpdate, { args: [] }));
    if (out.ok) return sendInfo(ctx, out.value);
    if (out.kind === 'rejected') throw new HttpError(405, out.message.includes(MEMBER_ALREADY_ENDED) ? MEMBER_ALREADY_ENDED : out.message);
    // No running workflow: end the idle member here (§9.4), once. Read again: the workflow may have
    // ended the member while the Update was on its way.
    const now = (await Member.findById(doc._id).lean<MemberDoc>()) ?? doc;
    if (now._endCause) throw new HttpError(405, MEMBER_ALREADY_ENDED);
    if (now._lock || now._waitingForResultStatusCb) throw new HttpError(405, 'member is in a call or waiting for a status');
    const state = memberState(doc);
    for (const c of state.communications) c.state = 2;
    state.endCause = 'MANAGER_REQUEST';
    const set = { ...memberStateSet(state) };
    const res = await Member.updateOne({ _id: doc._id, _endCause: null, _lock: null }, { $set: set });
    if (res.matchedCount === 0) throw new HttpError(405, MEMBER_ALREADY_ENDED);
    await dropTimed(campaignId, doc._id);
    const comm = doc.communications?.[doc._lastNumberId ?? 0];
    const event: Record<string, unknown> = {
      'Event-Name': 'CUSTOM',
      'Event-Subclass': 'engine::dialer_member_end',
      variable_domain_name: dialer.domain,
      dialerId: campaignId,
      dialerName: dialer.name,
      id: String(doc._id),
      name: doc.name,
      currentNumber: comm?.number ?? '',
      dlr_member_number_description: comm?.description ?? '',
      currentProbe: doc._probeCount ?? 0,
      session: doc._lastSession ?? '',
      endCause: 'MANAGER_REQUEST',
      expire: doc.expire ?? null,
      agentId: null,
      reason: 'terminate',
    };
    for (const [k, v] of Object.entries(stringVars((doc.variables as Record<string, unknown>) ?? {}))) event[`variable_${k}`] = v;
    await MemberEnd.updateOne(
      { _id: `api-terminate:${campaignId}:${String(doc._id)}` },
      { $setOnInsert: { domain: dialer.domain, dialer: campaignId, member: String(doc._id), event, createdOn: Date.now() } },
      { upsert: true },
    );
    sendInfo(ctx, { _id: String(doc._id) });
  });
}

/** §8.7 members reset: ended without success and still with a number not stopped by a callback. */
async function resetMembers(dialer: CampaignDoc, from: number, replaceLog: boolean, user: string): Promise<number> {
  const where = {
    ...base(dialer),
    createdOn: { $gte: from },
    _endCause: { $ne: null },
    callSuccessful: { $ne: true },
    _lock: null,
    // "still has a number not stopped by a callback" is checked below: FerretDB 1.x does not match
    // $elemMatch with $ne.
  };
  let n = 0;
  let ops: Parameters<typeof Member.bulkWrite>[0] = [];
  const reset: Record<string, unknown>[] = []; // queued again once stored
  const flush = async () => {
    if (!ops.length) return;
    // At most 50 updates per command: FerretDB 1.24 keeps each update's read open (one SQLite
    // connection of its 100) until the command ends, so a command of ~100 updates never finishes.
    for (let i = 0; i < ops.length; i += 50) n += (await Member.bulkWrite(ops.slice(i, i + 50), { ordered: false })).modifiedCount;
    ops = [];
    await queueStored(reset.splice(0));
  };
  const now = Date.now();
  type Stored = { _id: unknown; dialer: string; priority?: number; communications: Record<string, unknown>[]; _log?: unknown[] };
  const read = async function* () {
    for await (const docs of batchesById<Stored>(Member, where, { communications: 1, _log: 1, priority: 1, dialer: 1 }, 500)) yield* docs;
  };
  for await (const d of read()) {
    if (!(d.communications ?? []).some((c) => c.stopCommunication !== true)) continue;
    const communications = (d.communications ?? []).map((c) =>
      c.stopCommunication ? c : { ...c, state: 0, _probe: 0, lastCall: 0, rangeId: null, rangeAttempts: 0, checkResult: null },
    );
    const step = { state: 'reset', time: now, steps: [{ time: now, data: `Reset by ${user}` }] };
    ops.push({
      updateOne: {
        filter: { _id: d._id, _endCause: { $ne: null }, _lock: null },
        update: {
          $set: {
            communications, _endCause: null, _probeCount: 0, callSuccessful: false, _lastMinusProbe: false, _lostRedials: 0, _nextTryTime: null,
            lastCall: 0, _waitingForResultStatus: null, _waitingForResultStatusCb: null, _readyAt: null, lastModified: now,
            _log: replaceLog ? [step] : [step, ...(d._log ?? [])],
          },
        },
      },
    } as (typeof ops)[number]);
    reset.push({ _id: d._id, dialer: d.dialer, priority: d.priority ?? 0 });
    if (ops.length >= 500) await flush();
  }
  await flush();
  return n;
}
