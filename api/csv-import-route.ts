// POST /api/v2/dialer/:dialer/members/import: the CSV import (spec §10) streamed into importCsv.
import type Router from '@koa/router';
import { authOf } from './auth';
import { importCsv, parseMapping, regionParam } from './csv-import';
import { campaignTimeZone, csvSeparator } from './csv-export';
import type { RouteDeps } from './deps';
import { assertTypeDialable, findDialer } from './dialers';
import { badRequest, boolParam, enumParam, HttpError, queryParam, sendData } from './http';
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
    const report = await importCsv(limited(ctx.req, deps.maxCsvBytes), {
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
    });
    deps.log.info({ dialer: String(dialer._id), user, ...report, errors: undefined }, 'CSV import');
    if (report.imported > 0) await afterImport(deps, dialer, { autoRun: queryParam(ctx, 'autoRun') === 'true', user });
    sendData(ctx, report);
  });
}
