// CSV export of a campaign's members (spec §10): the columns the import reads (Name, Priority,
// Expire, Timezone, number_N/priority_N/description_N/type_N, one column per variable), then the
// read-only state columns the import skips, so an export imports again as it is. Streamed: a cursor
// (mongoose QueryCursor, a Readable) over the campaign's members is piped through CsvRows (a Transform) into the response, with
// backpressure, so memory does not grow with the campaign. Cells that start like a spreadsheet
// formula are escaped (csv.ts escapeCell; the import undoes it).
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import type Router from '@koa/router';
import { loadCampaignRules, Member, type CampaignDoc } from '../models';
import { csvField } from './csv';
import { columnFor, READ_ONLY_COLUMNS, type Column } from './csv-import';
import type { RouteDeps } from './deps';
import { findDialer, scoped } from './dialers';
import { parseJsonParam, sanitizeFilter } from './filters';
import { badRequest, HttpError, queryParam } from './http';

/** More distinct variable names than this in one campaign: the caller chooses with `columns`. */
export const MAX_EXPORT_VARIABLES = 1000;
const BATCH_SIZE = 1000;
/** Rows are pushed to the response in pieces of about this many characters. */
const CHUNK = 16 * 1024;

type Row = Record<string, any>;

export interface ExportColumn {
  header: string;
  value: (m: Row) => string;
}

const text = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
/** Times as ISO 8601 UTC (the import reads it whatever its Expire format); 0 / null → empty. */
const iso = (ms: unknown): string => (typeof ms === 'number' && ms > 0 ? new Date(ms).toISOString() : '');
const numberOf = (m: Row, n: number): Row | undefined => (m.communications as Row[] | undefined)?.[n - 1];

const READ_ONLY_VALUES: Record<(typeof READ_ONLY_COLUMNS)[number], (m: Row) => string> = {
  _id: (m) => String(m._id),
  _endCause: (m) => text(m._endCause),
  _probeCount: (m) => text(m._probeCount ?? 0),
  callSuccessful: (m) => text(m.callSuccessful ?? false),
  lastCall: (m) => iso(m.lastCall),
  _nextTryTime: (m) => iso(m._nextTryTime),
  createdOn: (m) => iso(m.createdOn),
};

/** A variable's header: its name, or `Variable:<name>` when the import would read the bare name as
 *  another column (`name`, `number_1`, `_endCause`, …) or rewrite it. */
function variableHeader(name: string): string {
  try {
    const c = columnFor(name, true);
    if (c.kind === 'variable' && c.name === name) return name;
  } catch {
    // not a name the import accepts bare
  }
  return `Variable:${name}`;
}

function exportColumn(c: Column): ExportColumn {
  switch (c.kind) {
    case 'name':
      return { header: 'Name', value: (m) => text(m.name) };
    case 'priority':
      return { header: 'Priority', value: (m) => text(m.priority ?? 0) };
    case 'expire':
      return { header: 'Expire', value: (m) => iso(m.expire) };
    case 'timezone':
      return { header: 'Timezone', value: (m) => text(m.timezone) };
    case 'number':
      return { header: `number_${c.n}`, value: (m) => text(numberOf(m, c.n)?.number) };
    case 'npriority':
      return { header: `priority_${c.n}`, value: (m) => text(numberOf(m, c.n)?.priority) };
    case 'description':
      return { header: `description_${c.n}`, value: (m) => text(numberOf(m, c.n)?.description) };
    case 'type':
      return { header: `type_${c.n}`, value: (m) => text(numberOf(m, c.n)?.type) };
    case 'variable':
      return { header: variableHeader(c.name), value: (m) => text(m.variables?.[c.name]) };
    case 'readonly': {
      const n = c.n;
      if (n === undefined) return { header: c.name, value: READ_ONLY_VALUES[c.name as keyof typeof READ_ONLY_VALUES] };
      if (c.name === 'state') return { header: `state_${n}`, value: (m) => text(numberOf(m, n)?.state) };
      return { header: `attempts_${n}`, value: (m) => text(numberOf(m, n)?._probe) };
    }
    default:
      throw badRequest('columns: an empty column name');
  }
}

/** The default columns: numbers 1…`numbers`, the variables in the order given, the state columns. */
export function defaultColumns(numbers: number, variables: string[]): ExportColumn[] {
  const cols: Column[] = [{ kind: 'name' }, { kind: 'priority' }, { kind: 'expire' }, { kind: 'timezone' }];
  for (let n = 1; n <= numbers; n++) cols.push({ kind: 'number', n }, { kind: 'npriority', n }, { kind: 'description', n }, { kind: 'type', n });
  for (const name of variables) cols.push({ kind: 'variable', name });
  for (const name of READ_ONLY_COLUMNS) cols.push({ kind: 'readonly', name });
  for (let n = 1; n <= numbers; n++) cols.push({ kind: 'readonly', name: 'state', n }, { kind: 'readonly', name: 'attempts', n });
  return cols.map(exportColumn);
}

/** `columns=Name,number_1,debt,_endCause`: the import's column names (and the state columns), in order. */
export function parseColumns(raw: string): ExportColumn[] {
  const names = raw.split(',').map((s) => s.trim());
  if (names.length > MAX_EXPORT_VARIABLES || names.some((s) => s === '' || s === '-')) {
    throw badRequest(`columns: a comma-separated list of at most ${MAX_EXPORT_VARIABLES} column names, none empty`);
  }
  const cols = names.map((s) => exportColumn(columnFor(s, true, 'columns')));
  const seen = new Set<string>();
  for (const c of cols) {
    if (seen.has(c.header)) throw badRequest(`columns: ${c.header} appears twice`);
    seen.add(c.header);
  }
  return cols;
}

/** The default columns of the members a first pass reads (numbers per member, variable names in
 *  first-seen order). `gone()`: the client has left, stop reading. */
export async function columnsOf(members: AsyncIterable<Row>, gone: () => boolean = () => false): Promise<ExportColumn[]> {
  let numbers = 1;
  const variables = new Set<string>();
  for await (const m of members) {
    if (gone()) throw new HttpError(499, 'the client closed the request');
    numbers = Math.max(numbers, (m.communications as unknown[] | undefined)?.length ?? 0);
    for (const name of Object.keys(m.variables ?? {})) {
      variables.add(name);
      if (variables.size > MAX_EXPORT_VARIABLES) {
        throw badRequest(`columns: the members have more than ${MAX_EXPORT_VARIABLES} different variables; name the columns to export`);
      }
    }
  }
  return defaultColumns(numbers, [...variables]);
}

/** Member documents in, CSV text out (header first, CRLF line ends), in pieces of about CHUNK characters. */
export class CsvRows extends Transform {
  private buf: string;

  constructor(
    private readonly columns: ExportColumn[],
    private readonly separator: string,
  ) {
    super({ writableObjectMode: true, writableHighWaterMark: 64 });
    this.buf = '';
    // The header goes out at once: the response starts before the first batch is read.
    this.push(this.line(columns.map((c) => c.header)));
  }

  private line(cells: string[]): string {
    return `${cells.map((v) => csvField(v, this.separator)).join(this.separator)}\r\n`;
  }

  override _transform(m: Row, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.buf += this.line(this.columns.map((c) => c.value(m)));
    } catch (err) {
      done(err as Error);
      return;
    }
    if (this.buf.length >= CHUNK) {
      this.push(this.buf);
      this.buf = '';
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.buf) this.push(this.buf);
    done();
  }
}

/** The `separator` parameter of the CSV routes: one character (not a quote or newline) or `tab`. */
export function csvSeparator(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const s = raw === 'tab' || raw === '\\t' ? '\t' : raw;
  if (s.length !== 1 || s === '"' || s === '\n' || s === '\r') throw badRequest('separator: must be one character (not a quote or newline), or "tab"');
  return s;
}

/** The zone a campaign's dates are written in: its calendar's (inline or referenced; UTC without one). */
export async function campaignTimeZone(dialer: CampaignDoc): Promise<string> {
  return (await loadCampaignRules(dialer)).calendar.timeZone;
}

export function exportRoutes(router: Router, deps: RouteDeps): void {
  router.get('/api/v2/dialer/:dialer/members/export', async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const separator = csvSeparator(queryParam(ctx, 'separator')) ?? ',';
    const filter = sanitizeFilter(parseJsonParam('filter', queryParam(ctx, 'filter')));
    const where = scoped(filter, { dialer: String(dialer._id), domain: dialer.domain });
    const M = deps.reads.model(Member);
    const raw = queryParam(ctx, 'columns');
    const columns = raw
      ? parseColumns(raw)
      : await deps.reads.run(ctx, () => columnsOf(M.find(where, { communications: 1, variables: 1 }).lean().cursor({ batchSize: BATCH_SIZE }), () => ctx.req.socket.destroyed));
    // No maxTimeMS: reading a million members takes as long as it takes; the export counts as one
    // of the domain's client-shaped reads until the stream ends (or the client goes away).
    const release = deps.reads.enter(ctx);
    const cursor = M.find(where, { _log: 0 }).lean().cursor({ batchSize: BATCH_SIZE });
    let first: Row | null;
    try {
      // The first batch is read before answering, so a query the database refuses is still an error envelope.
      first = await cursor.next();
    } catch (err) {
      release();
      void cursor.close().catch(() => undefined);
      throw err;
    }
    const rows = new CsvRows(columns, separator);
    if (first) rows.write(first);
    const body = pipeline(cursor, rows, (err) => {
      release();
      void cursor.close().catch(() => undefined);
      if (!err) return;
      // Koa leaves a response whose body stream failed open: end the connection without the last
      // chunk, so the client sees an incomplete body rather than waiting or taking a short file.
      ctx.res.destroy();
      if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
        deps.log.warn({ dialer: String(dialer._id), err: String(err) }, 'CSV export stopped');
      }
    });
    ctx.type = 'text/csv; charset=utf-8';
    ctx.attachment(`members-${String(dialer._id)}.csv`);
    ctx.body = body;
  });
}
