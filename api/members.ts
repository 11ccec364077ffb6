// Member routes, spec §9.3–§9.4 and §6.5: they parse, call services/members.ts, and answer. A
// member with a running workflow is changed only by that workflow (edit, status and terminate are
// Updates); the rest (services/members.ts) writes through models/member-store.ts.
import type { Context } from 'koa';
import type Router from '@koa/router';
import type { PipelineStage } from 'mongoose';
import { Member, type CampaignDoc, type MemberDoc } from '../models';
import { COUNTED_CAUSE, MemberStore, type MemberCounts } from '../models/member-store';
import { deleteMember, deleteMembers, editMember, insertMembers, resetMembers, resetStatus, setMemberStatus, terminateMember } from '../services/members';
import { authOf } from './auth';
import type { RouteDeps } from './deps';
import { assertTypeDialable, findDialer, listQuery, scoped } from './dialers';
import { MAX_AGGREGATE_RESULTS, sanitizeFilter, sanitizePipeline } from './filters';
import { badRequest, HttpError, jsonBody, notFound, objectBody, objectIdParam, queryParam, sendData, sendInfo, zodMessage } from './http';
import { memberDocument } from './member-docs';
import { memberCreateSchema, memberUpdateSchema, statusSchema } from './schemas';
import { afterParam, findPage, pageStore } from './reads';

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

/** After a CSV import: a running dialer picks the new members up; autoRun starts a stopped one. */
export { afterImport } from '../services/members';

/** Deletes the members matching a (sanitized) filter, those not in a call; returns counts. */
export async function deleteMatching(deps: RouteDeps, dialer: CampaignDoc, filter: Record<string, unknown>): Promise<{ deleted: number; locked: number }> {
  return deleteMembers(deps, dialer, scoped(filter, base(dialer)));
}

/** `{$ne: null}`: ended, as a filter value of `_endCause`. */
const isNotNull = (v: unknown) => !!v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && (v as { $ne?: unknown }).$ne === null;

/** The count of `filter` (the client's, sanitized) from the campaign's member counts, when they
 *  answer it exactly: no filter, not ended, ended, ended with one cause. Otherwise undefined. */
export function countFromCounters(filter: Record<string, unknown>, c: MemberCounts): number | undefined {
  const keys = Object.keys(filter);
  if (keys.length === 0) return c.total;
  if (keys.length !== 1 || keys[0] !== '_endCause') return undefined;
  const v = filter._endCause;
  if (v === null) return c.notEnded;
  if (typeof v === 'string' && COUNTED_CAUSE.test(v)) return c.byCause[v] ?? 0;
  if (isNotNull(v)) return c.ended;
  return undefined;
}

/** A search for one exact number: the members the number lookups name (models/member-store.ts), as
 *  an `_id` list the store reads by index; the filter itself still applies, so a stale lookup finds
 *  nothing wrong. None found: {} (the members are searched, which finds members stored around the
 *  store too). */
async function byNumber(campaignId: string, filter: Record<string, unknown>): Promise<{ _id?: { $in: unknown[] } }> {
  const keys = Object.keys(filter);
  const n = filter['communications.number'];
  if (keys.length !== 1 || typeof n !== 'string') return {};
  const ids = await MemberStore.membersWithNumber(campaignId, n);
  return ids.length ? { _id: { $in: ids } } : {};
}

/** "Ended" (`{_endCause: {$ne: null}}`) as the end causes the campaign's counts hold, when they name
 *  every ended member: an equality the embedded store serves from the `{_endCause, dialer, _id}`
 *  index, where `$ne` reads the campaign's members until a page is found (5.4 s for a 20k campaign
 *  with none ended). null: no member is ended (an empty page, no query). Any other filter as it is. */
async function endedAsCauses(campaignId: string, filter: Record<string, unknown>): Promise<Record<string, unknown> | null> {
  if (Object.keys(filter).length !== 1 || !isNotNull(filter._endCause)) return filter;
  const c = await MemberStore.counts(campaignId);
  const causes = Object.keys(c.byCause);
  if (!c.kept || causes.reduce((n, k) => n + c.byCause[k], 0) !== c.ended) return filter;
  return causes.length ? { _endCause: { $in: causes } } : null;
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
    const filter = await endedAsCauses(String(dialer._id), q.filter);
    if (!filter) return sendData(ctx, []);
    const where = scoped(filter, { dialer: String(dialer._id), ...(await byNumber(String(dialer._id), filter)) });
    const { docs, next } = await deps.reads.run(ctx, () => findPage<MemberDoc>(M, where, { ...q, after }, store, deps.queryTimeoutMs));
    if (next) ctx.set('X-Next-After', next);
    sendData(ctx, docs);
  });

  router.get(`${P}/count`, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const { filter } = listQuery(ctx);
    const counts = await MemberStore.counts(String(dialer._id));
    const kept = counts.kept ? countFromCounters(filter, counts) : undefined;
    if (kept !== undefined) return sendData(ctx, kept);
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
    await insertMembers(deps, dialer, docs, { autoRun: queryParam(ctx, 'autoRun') === 'true', user: authOf(ctx).key });
    const ids = docs.map((d) => String(d._id));
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
    const { deleted, locked } = await deleteMatching(deps, dialer, filter);
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
    const wait = queryParam(ctx, 'wait');
    if (wait !== undefined && wait !== 'true' && wait !== 'false') throw badRequest('wait: must be true or false');
    if (wait !== 'false') return sendInfo(ctx, await resetMembers(deps, dialer, { from, replaceLog, user: auth.key }));
    // Answered once the reset is under way (202, its progress); a refusal before that is the answer.
    let started!: () => void;
    const underWay = new Promise<void>((r) => (started = r));
    const run = resetMembers(deps, dialer, { from, replaceLog, user: auth.key, started });
    run.catch((err: unknown) => deps.log.warn({ dialer: String(dialer._id), err: String(err) }, 'members reset failed'));
    await Promise.race([underWay, run]);
    sendData(ctx, await resetStatus(dialer), 202);
  });

  router.get(`${P}/reset`, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const status = await resetStatus(dialer);
    if (!status) throw notFound("no reset of this dialer's members yet");
    sendData(ctx, status);
  });

  router.get(`${P}/:id`, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    sendData(ctx, await findMember(ctx, dialer));
  });

  router.put(`${P}/:id`, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const doc = await findMember(ctx, dialer);
    const patch = memberUpdateSchema.parse(await objectBody(ctx));
    const res = await editMember(deps, dialer, doc, patch);
    sendData(ctx, { result: { ok: 1, n: res.matched, nModified: res.modified } });
  });

  router.delete(`${P}/:id`, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const doc = await findMember(ctx, dialer);
    sendData(ctx, { result: { ok: 1, n: await deleteMember(deps, dialer, doc) } });
  });

  router.put(`${P}/:id/status`, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const doc = await findMember(ctx, dialer);
    const body = statusSchema.parse(await objectBody(ctx));
    await setMemberStatus(deps, dialer, doc, body, authOf(ctx).key);
    ctx.body = { status: 'OK', info: 'success' };
  });

  router.put(`${P}/:id/terminate`, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const doc = await findMember(ctx, dialer);
    sendInfo(ctx, await terminateMember(deps, dialer, doc));
  });
}
