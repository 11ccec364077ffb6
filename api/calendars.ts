// Working-hours calendars as documents of a domain (spec §3.2), as in v3: list, create, get, update,
// delete. A dialer refers to one with `calendar: {id, name}`; its campaign reads the calendar each
// time it looks at it, and an edit wakes the running campaigns that use it so they look at once.
import type { Context } from 'koa';
import type Router from '@koa/router';
import { Calendar, calendarCreateSchema, calendarUpdateSchema, Campaign, type CalendarDoc, type CampaignDoc } from '../models';
import { CampaignStore } from '../models/campaign-store';
import { domainFilter, domainOf } from './auth';
import type { RouteDeps } from './deps';
import { listQuery, scoped } from './dialers';
import { resyncTemplateSchedules } from './templates';
import { HttpError, notFound, objectBody, objectIdParam, sendData } from './http';

/** The calendar named by the path, in the caller's domain; 404 otherwise (also across domains). */
async function findCalendar(ctx: Context): Promise<CalendarDoc> {
  const id = objectIdParam(ctx, 'id');
  const doc = await Calendar.findById(id).lean<CalendarDoc>();
  const domain = domainFilter(ctx).domain;
  if (!doc || (domain !== undefined && doc.domain !== domain)) throw notFound('calendar not found');
  return doc;
}

/** The dialers of the calendar's domain that refer to it. */
function dialersUsing(cal: CalendarDoc) {
  return Campaign.find({ domain: cal.domain, 'calendar.id': String(cal._id) }, { name: 1, domain: 1, state: 1, active: 1 }).lean<CampaignDoc[]>();
}

export function calendarRoutes(router: Router, deps: RouteDeps): void {
  router.get('/api/v2/calendars', async (ctx) => {
    const q = listQuery(ctx);
    const C = deps.reads.model(Calendar);
    const docs = await deps.reads.run(ctx, () =>
      C.find(scoped(q.filter, domainFilter(ctx)), q.projection).sort(q.sort ?? { _id: 1 }).skip(q.skip).limit(q.limit).maxTimeMS(deps.queryTimeoutMs).lean(),
    );
    sendData(ctx, docs);
  });

  router.post('/api/v2/calendars', async (ctx) => {
    const domain = domainOf(ctx, { required: true })!;
    const body = calendarCreateSchema.parse(await objectBody(ctx));
    const plain = (await Calendar.create({ ...body, domain, lastModified: Date.now() })).toObject();
    sendData(ctx, { result: { ok: 1, n: 1 }, ops: [plain], insertedCount: 1, insertedIds: [String(plain._id)] });
  });

  router.get('/api/v2/calendars/:id', async (ctx) => {
    sendData(ctx, await findCalendar(ctx));
  });

  router.put('/api/v2/calendars/:id', async (ctx) => {
    const existing = await findCalendar(ctx);
    const patch = calendarUpdateSchema.parse(await objectBody(ctx));
    const { _id, domain, lastModified: _lastModified, ...stored } = existing;
    // Checked whole, so a partial update cannot leave endDate before startDate.
    const next = calendarCreateSchema.parse({ ...stored, ...patch });
    await Calendar.updateOne({ _id }, { $set: { ...next, lastModified: Date.now() } });
    const users = await dialersUsing(existing);
    if (next.name !== existing.name) await CampaignStore.renameCalendar(domain, String(_id), next.name);
    if (next.timeZone !== existing.timeZone) for (const d of users) await resyncTemplateSchedules(deps, String(d._id));
    // Running or sleeping campaigns look at the edited calendar now, not at their next timer.
    for (const d of users) if (d.active && d.state !== 3) deps.waker.wake(d);
    sendData(ctx, { result: { ok: 1, n: 1, nModified: 1 } });
  });

  router.delete('/api/v2/calendars/:id', async (ctx) => {
    const cal = await findCalendar(ctx);
    const users = await dialersUsing(cal);
    if (users.length) {
      const names = users.slice(0, 10).map((d) => `"${d.name}" (${String(d._id)})`).join(', ');
      throw new HttpError(409, `calendar is used by ${users.length} dialer(s): ${names}; give them another calendar first`);
    }
    const res = await Calendar.deleteOne({ _id: cal._id });
    sendData(ctx, { result: { ok: 1, n: res.deletedCount } });
  });
}
