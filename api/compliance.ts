// The domain's do-not-call list (REST and CSV import) and compliance settings (the contact-frequency
// cap). Beyond v3. The list is checked before every originate (activities/member.ts placeCall).
import type Router from '@koa/router';
import { ZodError } from 'zod';
import { Compliance, complianceSettingsSchema, DoNotCall, dncEntrySchema, dncNumberSchema } from '../models/compliance';
import { domainOf } from './auth';
import { readCsv } from './csv';
import { limited } from './csv-import-route';
import type { RouteDeps } from './deps';
import { badRequest, HttpError, notFound, objectBody, queryParam, sendData, zodMessage } from './http';

const IMPORT_BATCH = 1000;
const MAX_ERRORS = 100;

/** The `:number` of the path, checked like a listed number. */
function numberParam(raw: string): string {
  const r = dncNumberSchema.safeParse(raw);
  if (!r.success) throw badRequest(zodMessage(r.error, 'number'));
  return r.data;
}

export function complianceRoutes(router: Router, deps: RouteDeps): void {
  router.get('/api/v2/dnc', async (ctx) => {
    const domain = domainOf(ctx, { required: true })!;
    const limitRaw = queryParam(ctx, 'limit');
    const limit = limitRaw === undefined ? 100 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('limit: must be an integer 1-1000');
    const afterRaw = queryParam(ctx, 'after');
    const page = await DoNotCall.page(domain, limit, afterRaw ? numberParam(afterRaw) : undefined);
    if (page.length === limit) ctx.set('X-Next-After', page[page.length - 1].number);
    sendData(ctx, page);
  });

  router.post('/api/v2/dnc', async (ctx) => {
    const domain = domainOf(ctx, { required: true })!;
    const body = dncEntrySchema.parse(await objectBody(ctx));
    const added = await DoNotCall.add(domain, body.number, body.note);
    sendData(ctx, { ...(await DoNotCall.find(domain, body.number)), added }, added ? 201 : 200);
  });

  // Before `/dnc/:number`: `import` is not a number.
  router.post('/api/v2/dnc/import', async (ctx) => {
    const domain = domainOf(ctx, { required: true })!;
    if (!ctx.is('text/csv', 'application/csv', 'text/plain')) {
      throw new HttpError(415, `content-type: must be text/csv (got ${ctx.get('content-type') || 'none'})`);
    }
    if (Number(ctx.get('content-length') || 0) > deps.maxCsvBytes) throw new HttpError(413, `body too large: at most ${deps.maxCsvBytes} bytes`);
    const report = { rows: 0, imported: 0, rejected: 0, errors: [] as { line: number; error: string }[] };
    let batch: { number: string; note?: string }[] = [];
    const reject = (line: number, error: string) => {
      report.rejected += 1;
      if (report.errors.length < MAX_ERRORS) report.errors.push({ line, error });
    };
    for await (const reader of readCsv(limited(ctx.req, deps.maxCsvBytes), { charset: 'utf-8' })) {
      for (const item of reader) {
        if ('error' in item) {
          report.rows += 1;
          reject(item.line, item.error);
          continue;
        }
        const [number = '', note] = item.fields.map((f) => f.trim());
        // A header row (`number,note`) is not a row.
        if (item.line === 1 && !/\d/.test(number)) continue;
        report.rows += 1;
        try {
          batch.push(dncEntrySchema.parse({ number, ...(note ? { note } : {}) }));
        } catch (err) {
          if (!(err instanceof ZodError)) throw err;
          reject(item.line, zodMessage(err));
        }
      }
      if (batch.length >= IMPORT_BATCH) {
        await DoNotCall.addMany(domain, batch);
        report.imported += batch.length;
        batch = [];
      }
    }
    await DoNotCall.addMany(domain, batch);
    report.imported += batch.length;
    deps.log.info({ domain, ...report, errors: undefined }, 'do-not-call import');
    sendData(ctx, report);
  });

  router.get('/api/v2/dnc/:number', async (ctx) => {
    const domain = domainOf(ctx, { required: true })!;
    const found = await DoNotCall.find(domain, numberParam(ctx.params.number));
    if (!found) throw notFound('number not on the do-not-call list');
    sendData(ctx, found);
  });

  router.delete('/api/v2/dnc/:number', async (ctx) => {
    const domain = domainOf(ctx, { required: true })!;
    if (!(await DoNotCall.remove(domain, numberParam(ctx.params.number)))) throw notFound('number not on the do-not-call list');
    sendData(ctx, { removed: true });
  });

  router.get('/api/v2/compliance', async (ctx) => {
    sendData(ctx, await Compliance.settings(domainOf(ctx, { required: true })!));
  });

  router.put('/api/v2/compliance', async (ctx) => {
    const domain = domainOf(ctx, { required: true })!;
    const body = complianceSettingsSchema.parse(await objectBody(ctx));
    await Compliance.setSettings(domain, body);
    sendData(ctx, body);
  });
}
