// Import/export job templates of a dialer (spec §9.2): CRUD under the dialer, `execute` (one run
// now), `end/:pid` (the receiver closes the run; success chains `next_process_id`), and `cron`
// (a Temporal schedule in the dialer calendar's time zone). Only WEB templates; their URL passes the
// outbound allow-list (lib/outbound.ts) here and again, after name resolution, when sent.
import crypto from 'node:crypto';
import type { Context } from 'koa';
import type Router from '@koa/router';
import mongoose from 'mongoose';
import { Campaign, type CampaignDoc } from '../models';
import { Template, TemplateJob, templateCreateSchema, type TemplateDoc } from '../models/template';
import { configuredAllowList, forbiddenUrl } from '../lib/outbound';
import { HttpError } from '../lib/http-error';
import { deleteMembers } from '../services/members';
import { runUpdate } from '../services/workflows';
import { deleteTemplateSchedule, startTemplateJob, syncTemplateSchedule } from '../workflows/start';
import { TEMPLATE_JOB_ENDED, templateEndUpdate, templateJobWorkflowId } from '../workflows/messages';
import { campaignTimeZone } from './csv-export';
import { findDialer } from './dialers';
import type { RouteDeps } from './deps';
import { badRequest, boolParam, jsonBody, notFound, objectBody, objectIdParam, queryParam, sendData } from './http';

const BASE = '/api/v2/dialer/:dialer/templates';
/** What a client may send; the rest of a stored template is the server's. */
const CLIENT_FIELDS = ['name', 'type', 'action', 'template', 'description', 'before_delete', 'cron', 'next_process_id'] as const;

async function findTemplate(ctx: Context): Promise<{ dialer: CampaignDoc; t: TemplateDoc }> {
  const dialer = await findDialer(ctx, 'dialer');
  const id = objectIdParam(ctx, 'id');
  const t = await Template.findOne({ _id: id, dialer: String(dialer._id) }).lean<TemplateDoc>();
  if (!t) throw notFound('template not found');
  return { dialer, t };
}

/** The checks the schema cannot make: the URL's target, the chained template. */
async function checkTemplate(body: { template: { url: string }; next_process_id?: string | null }, dialerId: string, selfId: string): Promise<void> {
  const refused = forbiddenUrl(body.template.url, configuredAllowList());
  if (refused) throw badRequest(`template.url: ${refused} (the operator can allow it in WEBHOOK_ALLOW_HOSTS)`);
  const next = body.next_process_id;
  if (next && (next === selfId || !(await Template.exists({ _id: next, dialer: dialerId })))) {
    throw badRequest(`next_process_id: no other template ${next} in this dialer`);
  }
}

/** The template's cron as a schedule; a cron the server refuses is the client's 400. */
async function schedule(deps: RouteDeps, dialer: CampaignDoc, id: string, cron: string | null | undefined): Promise<void> {
  try {
    await syncTemplateSchedule(deps.client, { id, cron }, await campaignTimeZone(dialer), deps.taskQueue);
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw badRequest(`cron: ${(err as Error).message}`);
  }
}

/** A dialer's cron schedules follow its calendar's time zone (a calendar edit, another calendar). */
export async function resyncTemplateSchedules(deps: Pick<RouteDeps, 'client' | 'taskQueue'>, dialerId: string): Promise<void> {
  const dialer = await Campaign.findById(dialerId).lean<CampaignDoc>();
  if (!dialer) return;
  const zone = await campaignTimeZone(dialer);
  const crons = await Template.find({ dialer: dialerId, cron: { $nin: [null, ''] } }, { _id: 1, cron: 1 }).lean<{ _id: unknown; cron: string }[]>();
  for (const t of crons) await syncTemplateSchedule(deps.client, { id: String(t._id), cron: t.cron }, zone, deps.taskQueue);
}

/** A deleted dialer's templates and their schedules. */
export async function deleteDialerTemplates(deps: Pick<RouteDeps, 'client'>, dialerId: string): Promise<void> {
  for (const t of await Template.find({ dialer: dialerId }, { _id: 1 }).lean<{ _id: unknown }[]>()) await deleteTemplateSchedule(deps.client, String(t._id));
  await Template.deleteMany({ dialer: dialerId });
}

export function templateRoutes(router: Router, deps: RouteDeps): void {
  router.get(BASE, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    sendData(ctx, await Template.find({ dialer: String(dialer._id) }).sort({ _id: 1 }).limit(1000).maxTimeMS(deps.queryTimeoutMs).lean());
  });

  router.post(BASE, async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const body = templateCreateSchema.parse(await objectBody(ctx));
    const id = new mongoose.Types.ObjectId();
    await checkTemplate(body, String(dialer._id), String(id));
    await schedule(deps, dialer, String(id), body.cron);
    const now = Date.now();
    const doc = (await Template.create({ ...body, _id: id, dialer: String(dialer._id), domain: dialer.domain, createdOn: now, lastModified: now })).toObject();
    sendData(ctx, { result: { ok: 1, n: 1 }, ops: [doc], insertedCount: 1, insertedIds: [String(id)] });
  });

  router.get(`${BASE}/:id`, async (ctx) => {
    const { t } = await findTemplate(ctx);
    const last = await TemplateJob.find({ template: String(t._id) }).sort({ startedOn: -1 }).limit(1).lean();
    sendData(ctx, { ...t, process: last[0] ?? null });
  });

  router.put(`${BASE}/:id`, async (ctx) => {
    const { dialer, t } = await findTemplate(ctx);
    const patch = await objectBody(ctx);
    const stored = Object.fromEntries(CLIENT_FIELDS.filter((k) => t[k] !== undefined).map((k) => [k, t[k]]));
    const given = Object.fromEntries(CLIENT_FIELDS.filter((k) => k in patch).map((k) => [k, patch[k]]));
    const next = templateCreateSchema.parse({ ...stored, ...given });
    await checkTemplate(next, String(dialer._id), String(t._id));
    if ((next.cron ?? null) !== (t.cron ?? null)) await schedule(deps, dialer, String(t._id), next.cron);
    const res = await Template.updateOne({ _id: t._id }, { $set: { ...next, lastModified: Date.now() } });
    sendData(ctx, { result: { ok: 1, n: res.matchedCount, nModified: res.modifiedCount } });
  });

  router.delete(`${BASE}/:id`, async (ctx) => {
    const { t } = await findTemplate(ctx);
    await deleteTemplateSchedule(deps.client, String(t._id));
    const res = await Template.deleteOne({ _id: t._id });
    sendData(ctx, { result: { ok: 1, n: res.deletedCount } });
  });

  router.put(`${BASE}/:id/execute`, async (ctx) => {
    const { dialer, t } = await findTemplate(ctx);
    // v3: an import with before_delete starts from an empty dialer (members in a call are kept).
    const deleted = t.action === 'import' && t.before_delete ? await deleteMembers(deps, dialer, { dialer: String(dialer._id) }) : undefined;
    const pid = await startTemplateJob(deps.client, String(t._id), `${String(t._id)}-${crypto.randomUUID()}`, deps.taskQueue);
    sendData(ctx, { pid, ...(deleted ? { deletedMembers: deleted.deleted, lockedMembers: deleted.locked } : {}) });
  });

  router.put(`${BASE}/:id/end/:pid`, async (ctx) => {
    const { t } = await findTemplate(ctx);
    const pid = String(ctx.params.pid ?? '');
    if (!pid.startsWith(`${String(t._id)}-`) || pid.length > 200) throw notFound('process not found');
    const success = boolParam(ctx, 'success', false);
    const message = queryParam(ctx, 'message');
    const data = await jsonBody(ctx);
    const handle = deps.client.workflow.getHandle(templateJobWorkflowId(pid));
    const out = await runUpdate(deps.client, deps.updateTimeoutMs, () => handle.executeUpdate(templateEndUpdate, { args: [{ success, ...(message ? { message } : {}), ...(data === undefined ? {} : { data }) }] }));
    if (out.ok) return sendData(ctx, out.value);
    if (out.kind === 'rejected' || (await TemplateJob.exists({ _id: pid, endedOn: { $ne: null } }))) throw new HttpError(409, TEMPLATE_JOB_ENDED);
    throw notFound('process not found');
  });
}
