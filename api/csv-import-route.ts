// POST /api/v2/dialer/:dialer/members/import: the CSV import (spec §10) streamed into importCsv.
import type Router from '@koa/router';
import { authOf } from './auth';
import { importCsv, parseMapping, regionParam, type ImportReport } from './csv-import';
import { findImport, IMPORT_ID, ImportProgress, PROGRESS_ERRORS, type ImportCounts } from '../models/import-progress';
import { campaignTimeZone, csvSeparator } from './csv-export';
import type { RouteDeps } from './deps';
import { assertTypeDialable, findDialer } from './dialers';
import { badRequest, boolParam, enumParam, HttpError, notFound, queryParam, sendData } from './http';
import { afterImport, deleteMatching } from './members';

/** Counts bytes through a stream and stops past the limit (413). */
export async function* limited(source: AsyncIterable<Buffer>, limit: number): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const chunk of source) {
    n += chunk.length;
    if (n > limit) throw new HttpError(413, `body too large: at most ${limit} bytes`);
    yield chunk;
  }
}

export function csvImportRoute(router: Router, deps: RouteDeps): void {
  router.post('/api/v2/dialer/:dialer/members/import', async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    if (queryParam(ctx, 'autoRun') === 'true') assertTypeDialable(dialer.type);
    if (!ctx.is('text/csv', 'application/csv', 'text/plain')) {
      throw new HttpError(415, `content-type: must be text/csv (got ${ctx.get('content-type') || 'none'})`);
    }
    if (Number(ctx.get('content-length') || 0) > deps.maxCsvBytes) throw new HttpError(413, `body too large: at most ${deps.maxCsvBytes} bytes`);
    const delimiter = csvSeparator(queryParam(ctx, 'separator'));
    const charset = queryParam(ctx, 'charset') || ctx.request.charset || 'utf-8';
    try {
      new TextDecoder(charset);
    } catch {
      throw badRequest(`charset: "${charset}" is not a known character set`);
    }
    const mappingRaw = queryParam(ctx, 'mapping');
    const mapping = mappingRaw ? parseMapping(mappingRaw) : undefined;
    const skipHeader = boolParam(ctx, 'skipHeader', !mapping);
    if (!mapping && !skipHeader) throw badRequest('mapping: required when skipHeader=false (without it the header row names the columns)');
    const expireZone = queryParam(ctx, 'timezone') || (await campaignTimeZone(dialer));
    try {
      new Intl.DateTimeFormat('en', { timeZone: expireZone });
    } catch {
      throw badRequest('timezone: not an IANA time zone');
    }
    const deleteExisting = boolParam(ctx, 'deleteExisting', false);
    const user = authOf(ctx).key;
    const importId = queryParam(ctx, 'importId');
    if (importId !== undefined && !IMPORT_ID.test(importId)) throw badRequest('importId: must be 8-64 characters of A-Z a-z 0-9 _ -');
    const progress = importId ? await ImportProgress.start({ domain: dialer.domain, importId, dialer: String(dialer._id), now: Date.now() }) : null;
    if (importId && !progress) throw new HttpError(409, `importId: ${importId} was already used in this domain`);
    const tracked = progressWriter(progress);
    const report = await tracked.run(() => importCsv(limited(ctx.req, deps.maxCsvBytes), {
      dialer: String(dialer._id),
      domain: dialer.domain,
      delimiter,
      charset,
      mapping,
      skipHeader,
      expireFormat: queryParam(ctx, 'expireFormat') || undefined,
      expireZone,
      region: regionParam(queryParam(ctx, 'region')),
      normalize: enumParam(ctx, 'normalize', ['e164', 'none'] as const, 'e164'),
      dedupe: enumParam(ctx, 'dedupe', ['campaign', 'file', 'none'] as const, 'campaign'),
      deleteExisting,
      deleteMembers: async () => (await deleteMatching(deps, dialer, {})).deleted,
      onBatch: tracked.onBatch,
    }));
    deps.log.info({ dialer: String(dialer._id), user, ...report, errors: undefined }, 'CSV import');
    if (report.imported > 0) await afterImport(deps, dialer, { autoRun: queryParam(ctx, 'autoRun') === 'true', user });
    sendData(ctx, report);
  });

  router.get('/api/v2/dialer/:dialer/members/import/:importId', async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const importId = ctx.params.importId;
    if (!IMPORT_ID.test(importId)) throw badRequest('importId: must be 8-64 characters of A-Z a-z 0-9 _ -');
    const doc = await findImport(dialer.domain, String(dialer._id), importId);
    if (!doc) throw notFound('import not found');
    const { _id: _key, domain: _domain, dialer: _dialer, ...shown } = doc;
    sendData(ctx, {
      ...shown,
      startedAt: new Date(doc.startedAt).toISOString(),
      ...(doc.finishedAt ? { finishedAt: new Date(doc.finishedAt).toISOString() } : {}),
    });
  });
}

const countsOf = (r: ImportReport): ImportCounts => ({
  rowsRead: r.rows, rowsStored: r.imported, rowsRejected: r.rejected, errors: r.errors.slice(0, PROGRESS_ERRORS).map((e) => ({ row: e.line, reason: e.reason })),
});

/** Writes an import's progress after stored batches (at most every 250 ms, one write at a time)
 *  and its end; without an importId it does nothing. */
function progressWriter(progress: ImportProgress | null) {
  let last: ImportReport | null = null;
  let written = 0;
  let later: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  const write = (fn: () => Promise<void>) => {
    writing = writing.then(fn).catch(() => undefined); // progress is advisory: the import goes on
  };
  const flush = () => {
    later = undefined;
    written = Date.now();
    const counts = countsOf(last!);
    write(() => progress!.update(counts));
  };
  return {
    onBatch(r: ImportReport) {
      last = r;
      if (!progress || later) return;
      // A batch within 250 ms of the last write is written when they are up (the upload may stall).
      const wait = written + 250 - Date.now();
      if (wait <= 0) flush();
      else later = setTimeout(flush, wait);
    },
    async run(fn: () => Promise<ImportReport>): Promise<ImportReport> {
      if (!progress) return fn();
      try {
        const report = await fn();
        clearTimeout(later);
        write(() => progress.finish('done', countsOf(report), report, Date.now()));
        await writing;
        return report;
      } catch (err) {
        clearTimeout(later);
        const counts = last ? countsOf(last) : { rowsRead: 0, rowsStored: 0, rowsRejected: 0, errors: [] };
        const status = err instanceof HttpError ? err.status : 500;
        write(() => progress.finish('failed', counts, { status, error: err instanceof HttpError ? err.message : 'the import stopped (see the server log)' }, Date.now()));
        await writing;
        throw err;
      }
    },
  };
}
