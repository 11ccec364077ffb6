// Dialer (campaign) routes, spec §9.2: list, create, get (with live line counters), update
// (partial; engine-owned fields ignored), delete (with its members and history), start/stop,
// reset, history.
import type { Context } from 'koa';
import type Router from '@koa/router';
import { Campaign, calendarOfDomain, type CampaignDoc } from '../models';
import { CampaignStore } from '../models/campaign-store';
import { LineLeases } from '../models/lines';
import { History } from '../models/history';
import { assertTypeDialable, deleteDialer, resetDialer, startDialer, stopDialer } from '../services/campaigns';
import { authOf, domainFilter, domainOf } from './auth';
import type { RouteDeps } from './deps';
import { parseJsonParam, pageParams, sanitizeFilter, sanitizeProjection, sanitizeSort } from './filters';
import { badRequest, HttpError, notFound, objectBody, objectIdParam, queryParam, sendData, sendInfo } from './http';
import { deleteDialerTemplates, resyncTemplateSchedules } from './templates';
import { dialerCreateSchema, dialerUpdateSchema, resetSchema, withoutIgnoredFields } from './schemas';

export { assertTypeDialable, startDialer };

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
  const { _pacingState: _resumeFrom, ...shown } = doc as T & { _pacingState?: unknown };
  if (!shown.stats || typeof shown.stats !== 'object') return shown as T;
  const { _counting: _internal, ...stats } = shown.stats as Record<string, unknown>;
  return { ...shown, stats } as T;
}

/** A dialer's `calendar`: a reference must name a calendar of the dialer's own domain; it is stored
 *  as v3 stores it, `{id, name}`. Inline calendars pass unchanged. */
async function dialerCalendar<T extends { id?: string }>(cal: T | undefined, domain: string): Promise<T | { id: string; name: string } | undefined> {
  if (cal?.id === undefined) return cal;
  const doc = await calendarOfDomain(cal.id, domain);
  if (!doc) throw badRequest(`calendar.id: no calendar ${cal.id} in domain ${domain}`);
  return { id: String(doc._id), name: doc.name };
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
    const body = dialerCreateSchema.parse(withoutIgnoredFields(await objectBody(ctx)));
    assertTypeDialable(body.type);
    const calendar = await dialerCalendar(body.calendar, domain);
    const plain = await CampaignStore.create({ ...body, calendar, domain });
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
    const patch = dialerUpdateSchema.parse(withoutIgnoredFields(await objectBody(ctx)));
    if (patch.type !== undefined && patch.type !== existing.type) assertTypeDialable(patch.type);
    if (patch.type !== undefined && patch.type !== existing.type && existing.active) {
      throw new HttpError(406, 'type: cannot change while the dialer is active (stop it first)');
    }
    const { parameters, ...rest } = patch;
    if (rest.calendar) rest.calendar = await dialerCalendar(rest.calendar, existing.domain);
    // `parameters` is merged field by field so a partial update keeps the other settings.
    if (!(await CampaignStore.edit(String(existing._id), rest, parameters))) throw notFound('dialer not found');
    if (rest.calendar) await resyncTemplateSchedules(deps, String(existing._id));
    sendData(ctx, { result: { ok: 1, n: 1, nModified: 1 } });
  });

  router.delete('/api/v2/dialer/:id', async (ctx) => {
    const doc = await findDialer(ctx);
    const force = queryParam(ctx, 'force');
    if (force !== undefined && force !== 'true' && force !== 'false') throw badRequest('force: must be true or false');
    const out = await deleteDialer(deps, doc, force === 'true');
    await deleteDialerTemplates(deps, String(doc._id));
    sendData(ctx, { result: { ok: 1, n: out.deleted }, deletedMembers: out.deletedMembers, ...(force === 'true' ? { membersEnded: out.membersEnded } : {}) });
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
      ctx.body = { status: 'OK', data: await stopDialer(deps, doc, user) };
      return;
    }
    throw badRequest('state: must be 1 (start) or 3 (stop)');
  });

  router.put('/api/v2/dialer/:id/reset', async (ctx) => {
    const doc = await findDialer(ctx);
    const body = resetSchema.parse(await objectBody(ctx, 'body', { required: false }));
    // §8.7: without skipActive a reset only applies to an inactive dialer (n: 0 otherwise).
    const res = await resetDialer(doc, body, authOf(ctx).key);
    sendData(ctx, { result: { ok: 1, n: res.matched, nModified: res.modified }, ...(res.info ? { info: res.info } : {}) });
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
