// CSV member import (spec §10): v3 column mapping (Name, Priority, variables by name, number_N,
// priority_N, description_N, type_N for N = 1…100, Expire with a moment-style format), separator
// (given, or detected from the first line), charset, header row, optional "delete existing members
// first"; the export's read-only columns skipped and its formula escaping undone, so an export
// (api/csv-export.ts) imports as it is; numbers normalised to E.164 with a
// default region; invalid numbers and duplicates (within the file, or the file and the campaign)
// reported and not imported. Rows are atomic (a row is imported whole or reported), the import never
// stops on a bad row, and memory stays bounded: rows are inserted in small batches as they stream in
// (the stream is not read while a batch is written); the duplicate check keeps 12–24 bytes per
// distinct number (NumberIndex).
import { DateTime } from 'luxon';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { isSupportedCountry } from 'libphonenumber-js';
import { Member } from '../models';
import { readCsv, unescapeCell } from './csv';
import { badRequest, HttpError } from './http';
import { config } from '../lib/config';
import { variableNameFromHeader, variableNameProblem } from '../rules';
import { QueueWriter } from '../models/ready-queue';
import { flushQueue, insertAllOrNothing, memberDocument, type NewMember } from './member-docs';

/** v3's UI mapped 10 numbers; the REST API stores up to 100, and an export must import again. */
export const MAX_NUMBERS = 100;
/** Member-level columns the export writes that the import skips (engine-owned, not client input). */
export const READ_ONLY_COLUMNS = ['_id', '_endCause', '_probeCount', 'callSuccessful', 'lastCall', '_nextTryTime', 'createdOn'] as const;
/** Per-number read-only export columns: `state_N` (§5.2: 0 idle, 2 ended), `attempts_N`. */
const READ_ONLY_NUMBER_COLUMN = /^(state|attempts)_(\d+)$/;
/** Expire formats accepted when the request names none (v3 UI default first); ISO 8601 is always accepted. */
export const DEFAULT_EXPIRE_FORMATS = ['DD-MM-YYYY HH:mm', 'DD.MM.YYYY HH:mm'];
export const MAX_REPORTED_ERRORS = 1000;
/**
 * Rows per insertMany. Small on purpose: a batch's documents live until it is inserted, documents
 * that survive two young-generation GCs are promoted to V8's old space, and the old space then fills
 * with dead documents until a full GC (V8 lets it grow to several times the live heap first). With
 * 1000-row batches (~20 MB of parsing garbage each) ~1.8 KB per row was promoted; 250-row batches
 * mostly die young (~0.5 KB per row; ~1.5 KB in runs where V8 decides to allocate the member
 * document literal in old space directly, "pretenuring"). FerretDB inserts 250 documents per call
 * about as fast as 1000.
 */
const BATCH = 250;

export type Column =
  | { kind: 'name' }
  | { kind: 'priority' }
  | { kind: 'expire' }
  | { kind: 'timezone' }
  | { kind: 'number' | 'npriority' | 'description' | 'type'; n: number }
  /** `refused`: why a tenant may not set it (rules/channel-vars.ts): rows giving it a value are rejected. */
  | { kind: 'variable'; name: string; refused?: string }
  /** A read-only column of the export (READ_ONLY_COLUMNS, state_N, attempts_N): skipped on import. */
  | { kind: 'readonly'; name: string; n?: number }
  | { kind: 'skip' };

export interface ImportOptions {
  dialer: string;
  domain: string;
  /** Absent → detected from the first line. */
  delimiter?: string;
  charset: string;
  /** Explicit mapping, one entry per column; absent → taken from the header row. */
  mapping?: Column[];
  skipHeader: boolean;
  /** moment.js-style format of Expire; absent → DEFAULT_EXPIRE_FORMATS. */
  expireFormat?: string;
  /** IANA zone the Expire column is read in (ISO 8601 values with an offset carry their own). */
  expireZone: string;
  /** Default region (ISO 3166-1 alpha-2) for numbers written without a country code. */
  region?: CountryCode;
  normalize: 'e164' | 'none';
  /** Which numbers count as duplicates: of earlier rows of the file, also of the campaign, or none. */
  dedupe: 'file' | 'campaign' | 'none';
  deleteExisting: boolean;
  /** Called before the first write when deleteExisting (so a file rejected up front deletes nothing). */
  deleteMembers?: () => Promise<number>;
  /** Progress callback after each inserted batch. */
  onBatch?: (report: ImportReport) => void;
}

export interface ImportReport {
  /** The separator used (given or detected). */
  separator?: string;
  rows: number;
  imported: number;
  rejected: number;
  duplicates: number;
  deletedBefore: number;
  errors: { line: number; reason: string }[];
  errorsTruncated: boolean;
  insertedIds?: string[];
  durationMs: number;
}

/** "Name", "number_3", "Variable:debt", "_endCause" (read-only), "-" (skip) → Column. In a header
 *  (and the export's `columns`) unknown names become variables. `field` names the parameter in errors. */
export function columnFor(raw: string, fromHeader: boolean, field = 'mapping'): Column {
  const s = raw.trim();
  const lower = s.toLowerCase();
  if (s === '' || s === '-') return { kind: 'skip' };
  const readOnly = READ_ONLY_COLUMNS.find((c) => c.toLowerCase() === lower);
  if (readOnly) return { kind: 'readonly', name: readOnly };
  const ro = READ_ONLY_NUMBER_COLUMN.exec(lower);
  if (ro) return { kind: 'readonly', name: ro[1], n: numberIndex(ro[2], s, field) };
  if (lower === 'name') return { kind: 'name' };
  if (lower === 'priority') return { kind: 'priority' };
  if (lower === 'expire') return { kind: 'expire' };
  if (lower === 'timezone') return { kind: 'timezone' };
  const m = /^(number|priority|description|type)_(\d+)$/.exec(lower);
  if (m) {
    const kind = m[1] === 'priority' ? 'npriority' : (m[1] as 'number' | 'description' | 'type');
    return { kind, n: numberIndex(m[2], s, field) };
  }
  const v = /^variable:(.+)$/i.exec(s);
  if (!fromHeader && !v) throw badRequest(`${field}: "${s}" is not a column (Name, Priority, Expire, Timezone, number_N, priority_N, description_N, type_N, Variable:<name>, -)`);
  // Variables become FreeSWITCH channel variables: `First Name` → `First_Name`; a name that still
  // cannot be sent rejects the file, one FreeSWITCH or the dialer acts on rejects the rows using it.
  const name = variableNameFromHeader(v ? v[1] : s);
  const problem = variableNameProblem(name, config.channelVariablesAllow);
  if (problem?.refusal === 'syntax') throw badRequest(`${field}: column "${s}": variable "${name}" ${problem.reason}`);
  return problem ? { kind: 'variable', name, refused: problem.reason } : { kind: 'variable', name };
}

function numberIndex(digits: string, col: string, field: string): number {
  const n = Number(digits);
  if (n < 1 || n > MAX_NUMBERS) throw badRequest(`${field}: "${col}": N must be 1…${MAX_NUMBERS}`);
  return n;
}

export function parseMapping(raw: string): Column[] {
  let list: unknown;
  if (raw.trim().startsWith('[')) {
    try {
      list = JSON.parse(raw);
    } catch {
      throw badRequest('mapping: not valid JSON');
    }
  } else list = raw.split(',');
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string') || list.length > 500) {
    throw badRequest('mapping: must be a comma-separated list or a JSON array of column names (at most 500)');
  }
  return checkMapping((list as string[]).map((c) => columnFor(c, false)));
}

function checkMapping(cols: Column[]): Column[] {
  if (!cols.some((c) => c.kind === 'number')) throw badRequest('mapping: at least one number_N column is required');
  const seen = new Set<string>();
  for (const c of cols) {
    if (c.kind === 'skip' || c.kind === 'readonly') continue;
    const key = 'n' in c ? `${c.kind}_${c.n}` : c.kind === 'variable' ? `var:${c.name}` : c.kind;
    if (seen.has(key)) throw badRequest(`mapping: column ${key} appears twice`);
    seen.add(key);
  }
  return cols;
}

/** moment.js format (v3 UI, default "DD-MM-YYYY HH:mm") → luxon format. */
export function momentToLuxon(fmt: string): string {
  return fmt.replace(/\[([^\]]*)\]|YYYY|YY|DD|D|MM|M|HH|H|hh|h|mm|m|ss|s|SSS|A|a|ZZ|Z/g, (t, lit: string | undefined) => {
    if (lit !== undefined) return `'${lit.replace(/'/g, "''")}'`;
    const map: Record<string, string> = {
      YYYY: 'yyyy', YY: 'yy', DD: 'dd', D: 'd', MM: 'MM', M: 'M', HH: 'HH', H: 'H', hh: 'hh', h: 'h',
      mm: 'mm', m: 'm', ss: 'ss', s: 's', SSS: 'SSS', A: 'a', a: 'a', ZZ: 'ZZZ', Z: 'ZZ',
    };
    return map[t];
  });
}

/** The Expire parser of an import: the given format (or DEFAULT_EXPIRE_FORMATS) in `zone`, or ISO
 *  8601 (what the export writes); returns ms, or null when nothing matches. */
export function expireParser(format: string | undefined, zone: string): { parse: (s: string) => number | null; formats: string } {
  const formats = format ? [format] : DEFAULT_EXPIRE_FORMATS;
  const luxon = formats.map(momentToLuxon);
  return {
    formats: `${formats.join(', ')} or ISO 8601`,
    parse(s) {
      for (const f of luxon) {
        const d = DateTime.fromFormat(s, f, { zone });
        if (d.isValid) return d.toMillis();
      }
      const iso = DateTime.fromISO(s, { zone });
      return iso.isValid ? iso.toMillis() : null;
    },
  };
}

/**
 * Distinct phone numbers → the line that brought them (0 = already in the campaign), for the
 * duplicate check, in typed arrays only (no per-number objects, nothing for the GC to promote). A
 * number is kept as a double: its digits with a leading 1, exact up to 15 digits (every E.164
 * number). Most numbers sit in a sorted Float64Array with their lines in an Int32Array beside it,
 * 12 bytes per number (up to 24 while the arrays have room to grow), found by binary search; the
 * last RECENT numbers wait in a small open-addressing table and are then merged in (one pass over
 * the sorted part per RECENT numbers: about a second in all for 2M numbers).
 */
export class NumberIndex {
  static readonly RECENT = 1 << 15;
  private keys = new Float64Array(NumberIndex.RECENT);
  private lines = new Int32Array(NumberIndex.RECENT);
  private n = 0;
  private recentKeys = new Float64Array(2 * NumberIndex.RECENT).fill(NaN); // at most half full; NaN = free
  private recentLines = new Int32Array(2 * NumberIndex.RECENT);
  private recent = 0;
  private long = new Map<string, number>();

  /** Digits only, with a leading 1 so "012" and "12" stay distinct; long ones fall back to a Map. */
  private static key(number: string): number | string {
    const digits = number.replace(/\D/g, '');
    return digits.length <= 15 ? Number(`1${digits}`) : digits;
  }

  /** Binary search in the sorted part: the position of k, or -1. */
  private find(k: number): number {
    let lo = 0;
    let hi = this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.keys[mid];
      if (v < k) lo = mid + 1;
      else if (v > k) hi = mid - 1;
      else return mid;
    }
    return -1;
  }

  /** The slot of k in the recent table: where it is, or the free slot where it goes. */
  private slot(k: number): number {
    const mask = this.recentKeys.length - 1;
    let h = (Math.imul((k % 4294967296) | 0, 0x9e3779b1) ^ Math.imul(Math.floor(k / 4294967296) | 0, 0x85ebca6b)) & mask;
    while (!Number.isNaN(this.recentKeys[h]) && this.recentKeys[h] !== k) h = (h + 1) & mask;
    return h;
  }

  get(number: string): number | undefined {
    const k = NumberIndex.key(number);
    if (typeof k === 'string') return this.long.get(k);
    const i = this.find(k);
    if (i >= 0) return this.lines[i];
    const s = this.slot(k);
    return Number.isNaN(this.recentKeys[s]) ? undefined : this.recentLines[s];
  }

  set(number: string, line: number): void {
    const k = NumberIndex.key(number);
    if (typeof k === 'string') {
      this.long.set(k, line);
      return;
    }
    const i = this.find(k);
    if (i >= 0) {
      this.lines[i] = line;
      return;
    }
    const s = this.slot(k);
    if (Number.isNaN(this.recentKeys[s])) this.recent += 1;
    this.recentKeys[s] = k;
    this.recentLines[s] = line;
    if (this.recent === NumberIndex.RECENT) this.merge();
  }

  get size(): number {
    return this.n + this.recent + this.long.size;
  }

  /** Moves the recent numbers into the sorted arrays, merging from the back (in place while they have room). */
  private merge(): void {
    const add = this.recentKeys.filter((k) => !Number.isNaN(k)).sort();
    const total = this.n + add.length;
    if (total > this.keys.length) {
      const keys = new Float64Array(Math.max(total, this.keys.length * 2));
      const lines = new Int32Array(keys.length);
      keys.set(this.keys.subarray(0, this.n));
      lines.set(this.lines.subarray(0, this.n));
      this.keys = keys;
      this.lines = lines;
    }
    let i = this.n - 1;
    for (let j = add.length - 1, w = total - 1; j >= 0; w--) {
      if (i >= 0 && this.keys[i] > add[j]) {
        this.keys[w] = this.keys[i];
        this.lines[w] = this.lines[i];
        i--;
      } else {
        this.keys[w] = add[j];
        this.lines[w] = this.recentLines[this.slot(add[j])];
        j--;
      }
    }
    this.n = total;
    this.recentKeys.fill(NaN);
    this.recent = 0;
  }
}

class RowError extends Error {}

/** One phone number to the stored form, or a RowError naming the column. */
function normalizeNumber(raw: string, col: string, o: ImportOptions): string {
  const s = raw.trim();
  if (o.normalize === 'none') {
    if (!/\d/.test(s) || s.length > 64) throw new RowError(`${col}: "${s}" is not a phone number`);
    return s;
  }
  let candidate = s.replace(/[\s().-]/g, '');
  if (candidate.startsWith('00')) candidate = `+${candidate.slice(2)}`;
  if (!o.region && !candidate.startsWith('+')) candidate = `+${candidate}`;
  const p = parsePhoneNumberFromString(candidate, o.region);
  if (!p || !p.isValid()) {
    // The simulator's demo numbers (100…, 200…) are not real numbers: say how to keep them.
    throw new RowError(`${col}: "${s}" is not a valid phone number (${o.region ? `default region ${o.region}` : 'no default region: give the country code or pass region='}; normalize=none keeps numbers as written)`);
  }
  return p.number; // E.164, e.g. +380501112233
}

function intField(raw: string, col: string): number {
  const s = raw.trim();
  if (!/^-?\d{1,10}$/.test(s)) throw new RowError(`${col}: "${s}" is not an integer`);
  return Number(s);
}

/** Turns one record into a member (or a RowError). Numbers are checked for duplicates by the caller. */
function rowToMember(fields: string[], cols: Column[], o: ImportOptions, expire: ReturnType<typeof expireParser>): NewMember {
  const numbers: { number?: string; priority?: number; description?: string; type?: string }[] = [];
  const slot = (n: number) => (numbers[n - 1] ??= {});
  const m: NewMember & { variables: Record<string, unknown> } = { communications: [], variables: {} };
  for (let i = 0; i < cols.length && i < fields.length; i++) {
    const c = cols[i];
    const v = unescapeCell(fields[i]);
    switch (c.kind) {
      case 'name':
        if (v.length > 500) throw new RowError('Name: longer than 500 characters');
        m.name = v.trim();
        break;
      case 'priority':
        if (v.trim() !== '') m.priority = intField(v, 'Priority');
        break;
      case 'timezone':
        m.timezone = v.trim().slice(0, 64);
        break;
      case 'expire': {
        const t = v.trim();
        if (t === '') break;
        const ms = expire.parse(t);
        if (ms === null) throw new RowError(`Expire: "${t}" does not match ${expire.formats}`);
        m.expire = ms;
        break;
      }
      case 'number':
        if (v.trim() !== '') slot(c.n).number = normalizeNumber(v, `number_${c.n}`, o);
        break;
      case 'npriority':
        if (v.trim() !== '') slot(c.n).priority = intField(v, `priority_${c.n}`);
        break;
      case 'description':
        if (v.length > 1000) throw new RowError(`description_${c.n}: longer than 1000 characters`);
        if (v.trim() !== '') slot(c.n).description = v.trim();
        break;
      case 'type':
        if (v.trim() !== '') slot(c.n).type = v.trim().slice(0, 64);
        break;
      case 'variable':
        if (c.refused) {
          if (v.trim() !== '') throw new RowError(`variable "${c.name}" ${c.refused}`);
          break;
        }
        if (v.length > 4096) throw new RowError(`${c.name}: longer than 4096 characters`);
        // An empty cell is no value (an export leaves the variables a member lacks empty).
        if (v !== '') m.variables[c.name] = v;
        break;
      default:
        break;
    }
  }
  if (cols.some((c) => c.kind === 'name') && !m.name) throw new RowError('Name: empty');
  const seen = new Map<string, number>();
  numbers.forEach((x, idx) => {
    if (!x?.number) return;
    const prev = seen.get(x.number);
    if (prev !== undefined) throw new RowError(`number_${idx + 1}: ${x.number} repeats number_${prev}`);
    seen.set(x.number, idx + 1);
    m.communications.push({ number: x.number, priority: x.priority ?? 0, description: x.description ?? null, type: x.type ?? null });
  });
  if (!m.communications.length) throw new RowError('no number: every number_N column is empty');
  return m;
}

/** Reads the campaign's existing numbers into the index (line 0). */
async function loadCampaignNumbers(index: NumberIndex, dialer: string): Promise<void> {
  const cursor = Member.collection.find({ dialer }, { projection: { 'communications.number': 1 }, batchSize: 5000 });
  for await (const d of cursor) {
    for (const c of (d.communications as { number?: string }[] | undefined) ?? []) if (c?.number) index.set(c.number, 0);
  }
}

/** Imports a CSV byte stream into a dialer. Throws an HttpError (400) only for a bad mapping/header. */
export async function importCsv(source: AsyncIterable<Buffer | string>, o: ImportOptions): Promise<ImportReport> {
  const queue = new QueueWriter(o.dialer);
  try {
    return await importRows(source, o, queue);
  } finally {
    // Members stored so far are queued even when the import stops on an error.
    await flushQueue(queue);
  }
}

async function importRows(source: AsyncIterable<Buffer | string>, o: ImportOptions, queue: QueueWriter): Promise<ImportReport> {
  const started = Date.now();
  const report: ImportReport = { rows: 0, imported: 0, rejected: 0, duplicates: 0, deletedBefore: 0, errors: [], errorsTruncated: false, durationMs: 0 };
  const reject = (line: number, reason: string) => {
    report.rejected += 1;
    if (report.errors.length < MAX_REPORTED_ERRORS) report.errors.push({ line, reason });
    else report.errorsTruncated = true;
  };
  const expire = expireParser(o.expireFormat, o.expireZone);
  const index = new NumberIndex();
  let cols = o.mapping;
  let headerPending = o.skipHeader || !o.mapping;
  let deleted = !o.deleteExisting;
  let batch: Record<string, unknown>[] = [];
  const now = Date.now();

  const flush = async () => {
    if (!deleted) {
      report.deletedBefore = o.deleteMembers ? await o.deleteMembers() : 0;
      deleted = true;
    }
    if (!batch.length) return;
    await insertAllOrNothing(batch, queue);
    report.imported += batch.length;
    batch = [];
    o.onBatch?.(report);
  };

  let campaignLoaded = false;
  // One async step per received chunk; its records are handled synchronously (apart from the batch writes).
  for await (const records of readCsv(source, { delimiter: o.delimiter, charset: o.charset })) {
    report.separator ??= records.delimiter ?? undefined;
    for (const item of records) {
      if (headerPending) {
        headerPending = false;
        if ('error' in item) throw badRequest(`line ${item.line}: the header row is not valid CSV (${item.error})`);
        if (!cols) cols = headerColumns(item.fields, records.delimiter!, o.delimiter === undefined);
        continue;
      }
      if (!campaignLoaded) {
        // After the header is accepted: existing numbers count as duplicates unless they are deleted first.
        campaignLoaded = true;
        if (o.dedupe === 'campaign' && !o.deleteExisting) await loadCampaignNumbers(index, o.dialer);
      }
      report.rows += 1;
      if ('error' in item) {
        reject(item.line, item.error);
        continue;
      }
      if (item.fields.length > cols!.length && item.fields.slice(cols!.length).some((f) => f.trim() !== '')) {
        reject(item.line, `${item.fields.length} columns, the mapping has ${cols!.length}`);
        continue;
      }
      let member: NewMember;
      try {
        member = rowToMember(item.fields, cols!, o, expire);
      } catch (err) {
        if (err instanceof RowError) {
          reject(item.line, err.message);
          continue;
        }
        throw err;
      }
      if (o.dedupe !== 'none') {
        const dup = member.communications.find((c) => index.get(c.number) !== undefined);
        if (dup) {
          const where = index.get(dup.number)!;
          report.duplicates += 1;
          reject(item.line, `duplicate number ${dup.number} (${where === 0 ? 'already in the campaign' : `line ${where}`})`);
          continue;
        }
        for (const c of member.communications) index.set(c.number, item.line);
      }
      batch.push(memberDocument(member, o.dialer, o.domain, now));
      if (batch.length >= BATCH) await flush();
    }
  }
  if (headerPending) throw badRequest('body: the file is empty (no header row)');
  await flush();
  report.durationMs = Date.now() - started;
  return report;
}

/** The columns a header row names (as a `mapping`); a header that cannot be read says which separator split it and what it found. */
function headerColumns(fields: string[], separator: string, detected: boolean): Column[] {
  try {
    return checkMapping(fields.map((f) => columnFor(f, true)));
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    const shown = fields.slice(0, 20).map((f) => JSON.stringify(f.length > 60 ? `${f.slice(0, 60)}…` : f)).join(', ');
    const sep = separator === '\t' ? 'TAB' : `"${separator}"`;
    throw badRequest(
      `${err.message} (header row read with separator ${sep} ${detected ? 'detected from the first line' : 'given'}; ` +
        `${fields.length} column${fields.length === 1 ? '' : 's'} found: ${shown}${fields.length > 20 ? ', …' : ''})`,
    );
  }
}

export function regionParam(raw: string | undefined): CountryCode | undefined {
  if (raw === undefined || raw === '') return undefined;
  const r = raw.toUpperCase();
  if (!isSupportedCountry(r)) throw badRequest(`region: "${raw}" is not an ISO 3166-1 alpha-2 region code known to libphonenumber`);
  return r as CountryCode;
}
