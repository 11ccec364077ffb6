// Dialer (campaign) routes, spec §9.2: list, create, get (with live line counters), update
// (partial; engine-owned fields ignored), delete (with its members and history), start/stop,
// reset, history.
import type { Context } from 'koa';
import type Router from '@koa/router';
import mongoose from 'mongoose';
import { calendarState, typeNotImplemented } from '../rules';
import { Campaign, calendarOfDomain, loadCampaignRules, Member, STATS_COUNTERS_ZERO, type CampaignDoc } from '../models';
import { LineLeases } from '../models/lines';
import { addHistory, History } from '../models/history';
import { dropQueues, hasQueued } from '../models/ready-queue';
import { stopCampaignWorkflow } from '../workflows/start';
import { authOf, domainFilter, domainOf } from './auth';
import type { RouteDeps } from './deps';
import { parseJsonParam, pageParams, sanitizeFilter, sanitizeProjection, sanitizeSort } from './filters';
import { badRequest, HttpError, notFound, objectBody, objectIdParam, queryParam, sendData, sendInfo } from './http';
import { dialerCreateSchema, dialerUpdateSchema, resetSchema } from './schemas';
import { terminateCampaignWorkflows } from './workflows';
import { hangUpCampaignCalls, membersInCall } from './campaign-calls';

/** The dialer named by a path parameter, in the caller's domain; 404 otherwise (also across domains). */
export async function findDialer(ctx: Context, param = 'id'): Promise<CampaignDoc> {
  const id = objectIdParam(ctx, param);
  const doc = await Campaign.findOne({ _id: id, ...domainFilter(ctx) }).lean<CampaignDoc>();
  if (!doc) throw notFound('dialer not found');
  return doc;
}

export function listQuery(ctx: Context) {
  const { limit, skip } = pageParams(queryParam(ctx, 'limit'), queryParam(ctx, 'page'));
  return {
    limit,
    skip,
    filter: sanitizeFilter(parseJsonParam('filter', queryParam(ctx, 'filter'))),
    sort: sanitizeSort(parseJsonParam('sort', queryParam(ctx, 'sort'))),
    projection: sanitizeProjection(queryParam(ctx, 'columns')),
  };
}

/** The server part's fields at the top, with the client's top-level fields beside them when they
 *  name other fields (so the store's indexes serve both; docs/setup.md, "sqlite-pushdown"), and
 *  whatever else the client sent under `$and`: the server part always holds. */
export function scoped(client: Record<string, unknown>, server: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...server };
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(client)) {
    if (k.startsWith('$') || k in server) rest[k] = v;
    else out[k] = v;
  }
  if (Object.keys(rest).length) out.$and = [rest];
  return out;
}


/** A dialer as the API shows it: the counters' exactly-once markers (`stats._counting`, see
 *  activities/member.ts countOnce) are internal. */
export function publicDialer<T extends { stats?: unknown }>(doc: T): T {
  if (!doc.stats || typeof doc.stats !== 'object') return doc;
  const { _counting: _internal, ...stats } = doc.stats as Record<string, unknown>;
  return { ...doc, stats };
}

/** 400 for a campaign type that cannot dial yet (creating, changing to, or starting one). */
export function assertTypeDialable(type: string): void {
  const why = typeNotImplemented(type);
  if (why) throw badRequest(`type: ${why}`);
}

/** A dialer's `calendar`: a reference must name a calendar of the dialer's own domain; it is stored
 *  as v3 stores it, `{id, name}`. Inline calendars pass unchanged. */
async function dialerCalendar<T extends { id?: string }>(cal: T | undefined, domain: string): Promise<T | { id: string; name: string } | undefined> {
  if (cal?.id === undefined) return cal;
  const doc = await calendarOfDomain(cal.id, domain);
  if (!doc) throw badRequest(`calendar.id: no calendar ${cal.id} in domain ${domain}`);
  return { id: String(doc._id), name: doc.name };
}

/** Start (state 1): §8.2 — calendar expired → End, outside working hours → Sleep, no members → End. */
export async function startDialer(deps: RouteDeps, doc: CampaignDoc, user: string): Promise<{ state: number; _cause: string; active: boolean }> {
  assertTypeDialable(doc.type);
  const id = String(doc._id);
  const now = Date.now();
  const cal = calendarState((await loadCampaignRules(doc)).calendar, now);
  let next: { state: number; _cause: string; active: boolean };
  if (cal === 'expired') next = { state: 4, _cause: 'QUEUE_EXPIRE', active: false };
  else if (!doc.parameters?.eternalQueue && !(await hasQueued(id)) && !(await Member.exists({ dialer: id, _endCause: null }))) {
    // The queue answers at once; the members collection (a scan up to the first match on
    // FerretDB v1) only when the queue is empty.
    next = { state: 4, _cause: 'NOT_FOUND_MEMBER', active: false };
  } else if (cal !== 'working') next = { state: 2, _cause: 'QUEUE_SLEEP', active: true };
  else next = { state: 1, _cause: 'QUEUE_HUNTING', active: true };
  await Campaign.updateOne(
    { _id: id },
    { $set: { ...next, 'stats.readyOn': next.active ? now : null, 'stats.stopOn': next.active ? null : now } },
  );
  const label: Record<string, string> = { QUEUE_HUNTING: 'Start', QUEUE_SLEEP: 'Sleeping', NOT_FOUND_MEMBER: 'Not found members', QUEUE_EXPIRE: 'Expired' };
  await addHistory({ dialer: id, domain: doc.domain, action: next._cause, value: label[next._cause], user });
  if (next.active) deps.waker.wake(doc);
  return next;
}

export function dialerRoutes(router: Router, deps: RouteDeps): void {
  router.get('/api/v2/dialer', async (ctx) => {
    const q = listQuery(ctx);
    const C = deps.reads.model(Campaign);
    const docs = await deps.reads.run(ctx, () =>
      C.find(scoped(q.filter, domainFilter(ctx)), q.projection).sort(q.sort ?? { _id: 1 }).skip(q.skip).limit(q.limit).maxTimeMS(deps.queryTimeoutMs).lean(),
    );
    sendData(ctx, (docs as { stats?: unknown }[]).map(publicDialer));
  });

  router.post('/api/v2/dialer', async (ctx) => {
    const domain = domainOf(ctx, { required: true })!;
    const body = dialerCreateSchema.parse(await objectBody(ctx));
    assertTypeDialable(body.type);
    const calendar = await dialerCalendar(body.calendar, domain);
    const doc = await Campaign.create({ ...body, calendar, domain, lastModified: Date.now() });
    const plain = doc.toObject();
    sendData(ctx, { result: { ok: 1, n: 1 }, ops: [plain], insertedCount: 1, insertedIds: [String(plain._id)] });
  });

  router.get('/api/v2/dialer/:id', async (ctx) => {
    const doc = await findDialer(ctx);
    const lines = await LineLeases.snapshot(String(doc._id));
    const stats = { ...((doc.stats as Record<string, unknown>) ?? {}), active: lines?.active ?? 0, resource: lines?.dest ?? {} };
    sendData(ctx, publicDialer({ ...doc, stats }));
  });

  router.put('/api/v2/dialer/:id', async (ctx) => {
    const existing = await findDialer(ctx);
    const patch = dialerUpdateSchema.parse(await objectBody(ctx));
    if (patch.type !== undefined && patch.type !== existing.type) assertTypeDialable(patch.type);
    if (patch.type !== undefined && patch.type !== existing.type && existing.active) {
      throw new HttpError(406, 'type: cannot change while the dialer is active (stop it first)');
    }
    const doc = await Campaign.findById(existing._id);
    if (!doc) throw notFound('dialer not found');
    const { parameters, ...rest } = patch;
    if (rest.calendar) rest.calendar = await dialerCalendar(rest.calendar, existing.domain);
    doc.set(rest);
    // `parameters` is merged field by field so a partial update keeps the other settings.
    if (parameters) for (const [k, v] of Object.entries(parameters)) doc.set(`parameters.${k}`, v);
    doc.set('lastModified', Date.now());
    await doc.save();
    sendData(ctx, { result: { ok: 1, n: 1, nModified: 1 } });
  });

  router.delete('/api/v2/dialer/:id', async (ctx) => {
    const doc = await findDialer(ctx);
    const id = String(doc._id);
    const force = queryParam(ctx, 'force');
    if (force !== undefined && force !== 'true' && force !== 'false') throw badRequest('force: must be true or false');
    // Calls up are owned by their member workflows: refuse, or have the owners hang them up first
    // (also without force: a member granted a line after this check is ended by its owner too).
    if (force !== 'true') {
      const inCall = await membersInCall(id);
      if (inCall.length) throw new HttpError(409, `${inCall.length} member(s) of this dialer are in a call; stop it and wait, or DELETE with ?force=true to hang the calls up (MANAGER_REQUEST)`);
    }
    const hungUp = await hangUpCampaignCalls(deps.client, id, deps.updateTimeoutMs);
    // Stop its member workflows first, so none dials a member that is being deleted.
    await terminateCampaignWorkflows(deps.client, id, 'dialer deleted through the API', async function* () {
      for await (const m of Member.find({ dialer: id, _endCause: null }, { _id: 1 }).lean().cursor()) yield String((m as { _id: unknown })._id);
    });
    const members = await Member.deleteMany({ dialer: id, domain: doc.domain });
    await History.deleteMany({ dialer: id });
    await mongoose.connection.collection('dialer_lines').deleteOne({ _id: id as unknown as mongoose.mongo.BSON.ObjectId });
    await dropQueues(id);
    const res = await Campaign.deleteOne({ _id: id, domain: doc.domain });
    sendData(ctx, { result: { ok: 1, n: res.deletedCount }, deletedMembers: members.deletedCount, ...(force === 'true' ? { membersEnded: hungUp } : {}) });
  });

  router.put('/api/v2/dialer/:id/state/:state', async (ctx) => {
    const doc = await findDialer(ctx);
    const state = ctx.params.state;
    const user = authOf(ctx).key;
    if (state === '1') {
      const next = await startDialer(deps, doc, user);
      ctx.body = { status: 'OK', data: next };
      return;
    }
    if (state === '3') {
      const next = { state: 3, _cause: 'QUEUE_STOP', active: false };
      await Campaign.updateOne({ _id: doc._id }, { $set: { ...next, 'stats.stopOn': Date.now() } });
      await addHistory({ dialer: String(doc._id), domain: doc.domain, action: 'QUEUE_STOP', value: 'Stop', user });
      // §8.2: the running campaign stops granting lines; calls in progress finish.
      await stopCampaignWorkflow(deps.client, String(doc._id));
      ctx.body = { status: 'OK', data: next };
      return;
    }
    throw badRequest('state: must be 1 (start) or 3 (stop)');
  });

  router.put('/api/v2/dialer/:id/reset', async (ctx) => {
    const doc = await findDialer(ctx);
    const body = resetSchema.parse(await objectBody(ctx, 'body', { required: false }));
    // §8.7: without skipActive a reset only applies to an inactive dialer (n: 0 otherwise).
    if (doc.active && !body.skipActive) {
      sendData(ctx, { result: { ok: 1, n: 0, nModified: 0 }, info: 'dialer is active: stop it or pass skipActive' });
      return;
    }
    const set: Record<string, unknown> = { lastModified: Date.now() };
    if (body.resetStats) Object.assign(set, STATS_COUNTERS_ZERO);
    if (body.resetProcess) {
      Object.assign(set, { 'stats.active': 0, 'stats.resource': {} });
      await mongoose.connection
        .collection('dialer_lines')
        .updateOne({ _id: String(doc._id) as unknown as mongoose.mongo.BSON.ObjectId }, { $set: { active: 0, dest: {}, leases: [] } });
    }
    const res = await Campaign.updateOne({ _id: doc._id }, { $set: set });
    await addHistory({ dialer: String(doc._id), domain: doc.domain, action: 'RESET', value: body, user: authOf(ctx).key });
    sendData(ctx, { result: { ok: 1, n: res.matchedCount, nModified: res.modifiedCount } });
  });

  router.get('/api/v2/dialer/:dialer/history', async (ctx) => {
    const doc = await findDialer(ctx, 'dialer');
    const q = listQuery(ctx);
    const H = deps.reads.model(History);
    const rows = await deps.reads.run(ctx, () =>
      H.find(scoped(q.filter, { dialer: String(doc._id) }), q.projection).sort(q.sort ?? { createdOn: -1 }).skip(q.skip).limit(q.limit).maxTimeMS(deps.queryTimeoutMs).lean(),
    );
    sendInfo(ctx, rows);
  });
}
