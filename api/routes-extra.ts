// Routes added after the core dialer/member surface: the CSV import (spec §10).
import type Router from '@koa/router';
import type { Context } from 'koa';
import { authOf } from './auth';
import { importCsv, parseMapping, regionParam } from './csv-import';
import type { RouteDeps } from './deps';
import { findDialer } from './dialers';
import { badRequest, HttpError, queryParam, sendData } from './http';
import { afterImport, deleteMembers } from './members';

function boolParam(ctx: Context, name: string, def: boolean): boolean {
  const v = queryParam(ctx, name);
  if (v === undefined || v === '') return def;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw badRequest(`${name}: must be true or false`);
}

function enumParam<T extends string>(ctx: Context, name: string, allowed: readonly T[], def: T): T {
  const v = queryParam(ctx, name);
  if (v === undefined || v === '') return def;
  if (!(allowed as readonly string[]).includes(v)) throw badRequest(`${name}: must be one of ${allowed.join(', ')}`);
  return v as T;
}

/** Counts bytes through a stream and stops past the limit (413). */
async function* limited(source: AsyncIterable<Buffer>, limit: number): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const chunk of source) {
    n += chunk.length;
    if (n > limit) throw new HttpError(413, `body too large: at most ${limit} bytes`);
    yield chunk;
  }
}

export function extraRoutes(router: Router, deps: RouteDeps): void {
  router.post('/api/v2/dialer/:dialer/members/import', async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    if (!ctx.is('text/csv', 'application/csv', 'text/plain')) {
      throw new HttpError(415, `content-type: must be text/csv (got ${ctx.get('content-type') || 'none'})`);
    }
    if (Number(ctx.get('content-length') || 0) > deps.maxCsvBytes) throw new HttpError(413, `body too large: at most ${deps.maxCsvBytes} bytes`);
    let delimiter = queryParam(ctx, 'separator') ?? ',';
    if (delimiter === 'tab' || delimiter === '\\t') delimiter = '\t';
    if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
      throw badRequest('separator: must be one character (not a quote or newline), or "tab"');
    }
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
    const expireZone = queryParam(ctx, 'timezone') || 'UTC';
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
      expireFormat: queryParam(ctx, 'expireFormat') || 'DD-MM-YYYY HH:mm',
      expireZone,
      region: regionParam(queryParam(ctx, 'region')),
      normalize: enumParam(ctx, 'normalize', ['e164', 'none'] as const, 'e164'),
      dedupe: enumParam(ctx, 'dedupe', ['campaign', 'file', 'none'] as const, 'campaign'),
      deleteExisting,
      deleteMembers: async () => (await deleteMembers(deps, dialer, {})).deleted,
    });
    deps.log.info({ dialer: String(dialer._id), user, ...report, errors: undefined }, 'CSV import');
    if (report.imported > 0) await afterImport(deps, ctx, dialer, queryParam(ctx, 'autoRun') === 'true');
    sendData(ctx, report);
  });
}
