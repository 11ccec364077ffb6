// v3 clients send MongoDB filter / sort / projection JSON in the query string and aggregation
// pipelines in bodies (spec §9.1, §9.3). They are accepted only when they are made of field
// comparisons and logical operators from an allow-list; anything that runs code or reaches other
// collections ($where, $function, $expr, $accumulator, $lookup, $out, $merge, …) is a 400 naming
// where it was found. The campaign and domain conditions are added by the caller, outside the
// client's part, so they cannot be overridden. The same functions are used for every collection.
import { badRequest } from './http';

const COMPARISON = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$regex', '$options', '$not', '$elemMatch', '$size', '$all', '$type']);
const LOGICAL = new Set(['$and', '$or', '$nor']);
const MAX_DEPTH = 12;
const MAX_REGEX = 256;
const MAX_ARRAY = 1000;
const MAX_STAGES = 20;
export const MAX_AGGREGATE_RESULTS = 10_000;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** No `$` (operators, positional projection), whitespace or control characters: the database
 *  answers such paths with an internal error (FerretDB: "path element must not contain spaces"). */
const BAD_FIELD_CHAR = /[$\s\p{Cc}]/u;

/** A field path: dot-separated segments, none empty, without `$`, whitespace or control characters. */
export function checkField(name: string, where: string): string {
  if (name.length === 0 || name.length > 200) throw badRequest(`${where}: field name must be 1-200 characters`);
  for (const seg of name.split('.')) {
    if (seg === '' || BAD_FIELD_CHAR.test(seg)) throw badRequest(`${where}: "${name}" is not an allowed field name (no empty segments, "$", spaces or control characters)`);
  }
  return name;
}

/** JSON parsing of a query-string parameter: 400 naming it when malformed. */
export function parseJsonParam(name: string, raw: string | undefined): unknown {
  if (raw === undefined || raw === '') return undefined;
  if (raw.length > 16 * 1024) throw badRequest(`${name}: too long (at most 16384 characters)`);
  try {
    return JSON.parse(raw);
  } catch {
    throw badRequest(`${name}: not valid JSON`);
  }
}

/** A literal value compared with a field: JSON scalars, arrays and documents without `$` keys. */
function checkLiteral(v: unknown, where: string, depth: number): unknown {
  if (depth > MAX_DEPTH) throw badRequest(`${where}: nested too deeply`);
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) {
    if (v.length > MAX_ARRAY) throw badRequest(`${where}: at most ${MAX_ARRAY} values`);
    return v.map((x, i) => checkLiteral(x, `${where}[${i}]`, depth + 1));
  }
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k.startsWith('$')) throw badRequest(`${where}: operator ${k} is not allowed here`);
      out[checkField(k, where)] = checkLiteral(x, `${where}.${k}`, depth + 1);
    }
    return out;
  }
  throw badRequest(`${where}: unsupported value`);
}

function checkRegex(v: unknown, where: string): string {
  if (typeof v !== 'string') throw badRequest(`${where}: $regex must be a string`);
  if (v.length > MAX_REGEX) throw badRequest(`${where}: $regex at most ${MAX_REGEX} characters`);
  try {
    new RegExp(v);
  } catch {
    throw badRequest(`${where}: $regex is not a valid regular expression`);
  }
  return v;
}

/** The operator document of one field, e.g. {"$gte": 1, "$lt": 5}. */
function checkOperators(ops: Record<string, unknown>, where: string, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [op, v] of Object.entries(ops)) {
    const at = `${where}.${op}`;
    if (!COMPARISON.has(op)) throw badRequest(`${at}: operator ${op} is not allowed (allowed: ${[...COMPARISON, ...LOGICAL].join(', ')})`);
    switch (op) {
      case '$in':
      case '$nin':
      case '$all':
        if (!Array.isArray(v)) throw badRequest(`${at}: must be an array`);
        out[op] = checkLiteral(v, at, depth + 1);
        break;
      case '$exists':
        if (typeof v !== 'boolean' && v !== 0 && v !== 1) throw badRequest(`${at}: must be true or false`);
        out[op] = Boolean(v);
        break;
      case '$size':
        if (!Number.isInteger(v) || (v as number) < 0) throw badRequest(`${at}: must be a non-negative integer`);
        out[op] = v;
        break;
      case '$type':
        if (typeof v !== 'string' && typeof v !== 'number') throw badRequest(`${at}: must be a type name or number`);
        out[op] = v;
        break;
      case '$regex':
        out[op] = checkRegex(v, at);
        break;
      case '$options':
        if (typeof v !== 'string' || !/^[imsx]{0,4}$/.test(v)) throw badRequest(`${at}: only the flags i, m, s, x are allowed`);
        out[op] = v;
        break;
      case '$not':
        if (!isPlainObject(v)) throw badRequest(`${at}: must be an operator document`);
        out[op] = checkOperators(v, at, depth + 1);
        break;
      case '$elemMatch':
        if (!isPlainObject(v)) throw badRequest(`${at}: must be a document`);
        // Either a sub-document filter ({number: "1"}) or operators ({$gt: 3}).
        out[op] = Object.keys(v).some((k) => k.startsWith('$') && !LOGICAL.has(k))
          ? checkOperators(v, at, depth + 1)
          : sanitizeFilter(v, at, depth + 1);
        break;
      default:
        out[op] = checkLiteral(v, at, depth + 1);
    }
  }
  if ('$options' in out && !('$regex' in out)) throw badRequest(`${where}: $options needs $regex`);
  return out;
}

/**
 * A client filter with only allowed operators, or a 400 naming the offending path.
 * Accepts `undefined` (→ {}); anything but a JSON object is a 400.
 */
export function sanitizeFilter(f: unknown, where = 'filter', depth = 0): Record<string, unknown> {
  if (f === undefined || f === null) return {};
  if (depth > MAX_DEPTH) throw badRequest(`${where}: nested too deeply`);
  if (!isPlainObject(f)) throw badRequest(`${where}: must be a JSON object`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) {
    const at = `${where}.${k}`;
    if (k.startsWith('$')) {
      if (!LOGICAL.has(k)) throw badRequest(`${at}: operator ${k} is not allowed (allowed: ${[...COMPARISON, ...LOGICAL].join(', ')})`);
      if (!Array.isArray(v) || v.length === 0 || v.length > 100) throw badRequest(`${at}: must be a non-empty array of filters`);
      out[k] = v.map((x, i) => sanitizeFilter(x, `${at}[${i}]`, depth + 1));
      continue;
    }
    checkField(k, where);
    if (isPlainObject(v) && Object.keys(v).some((x) => x.startsWith('$'))) {
      out[k] = checkOperators(v, at, depth + 1);
    } else {
      out[k] = checkLiteral(v, at, depth + 1);
    }
  }
  return out;
}

/** {field: 1|-1}; also accepts "asc"/"desc". */
export function sanitizeSort(s: unknown, where = 'sort'): Record<string, 1 | -1> | undefined {
  if (s === undefined || s === null) return undefined;
  if (!isPlainObject(s)) throw badRequest(`${where}: must be a JSON object like {"priority":-1}`);
  const out: Record<string, 1 | -1> = {};
  const entries = Object.entries(s);
  if (entries.length > 10) throw badRequest(`${where}: at most 10 fields`);
  for (const [k, v] of entries) {
    checkField(k, where);
    if (v === 1 || v === '1' || v === 'asc') out[k] = 1;
    else if (v === -1 || v === '-1' || v === 'desc') out[k] = -1;
    else throw badRequest(`${where}.${k}: must be 1 or -1`);
  }
  return out;
}

/**
 * A projection: JSON {field: 0|1} or the v3 list form "a,b,c". Mixed inclusion and exclusion is a
 * 400 (except `_id: 0`).
 */
export function sanitizeProjection(raw: string | undefined, where = 'columns'): Record<string, 0 | 1> | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  let p: unknown;
  if (raw.trim().startsWith('{')) p = parseJsonParam(where, raw);
  else p = Object.fromEntries(raw.split(',').map((f) => f.trim()).filter(Boolean).map((f) => [f, 1]));
  if (!isPlainObject(p)) throw badRequest(`${where}: must be a JSON object or a comma-separated field list`);
  const out: Record<string, 0 | 1> = {};
  for (const [k, v] of Object.entries(p)) {
    checkField(k, where);
    if (v === 1 || v === true || v === '1') out[k] = 1;
    else if (v === 0 || v === false || v === '0') out[k] = 0;
    else throw badRequest(`${where}.${k}: must be 0 or 1`);
  }
  const nonId = Object.entries(out).filter(([k]) => k !== '_id').map(([, v]) => v);
  if (nonId.includes(0) && nonId.includes(1)) throw badRequest(`${where}: cannot mix inclusion and exclusion`);
  return Object.keys(out).length ? out : undefined;
}

// ---------------------------------------------------------------------------------------------
// Aggregation pipelines: $match, $sort, $limit, $skip, $count, $project (fields only), $group
// (field references and the accumulators below), $unwind.

const ACCUMULATORS = new Set(['$sum', '$avg', '$min', '$max', '$first', '$last', '$count']);

function fieldRef(v: unknown, where: string): string {
  if (typeof v !== 'string' || !v.startsWith('$') || v.startsWith('$$')) throw badRequest(`${where}: must be a field reference like "$_endCause"`);
  checkField(v.slice(1), where);
  return v;
}

function outputName(k: string, where: string): string {
  if (k.includes('.') || k.length === 0 || k.length > 100 || BAD_FIELD_CHAR.test(k)) throw badRequest(`${where}: "${k}" is not an allowed output field name`);
  return k;
}

function groupStage(g: unknown, where: string): Record<string, unknown> {
  if (!isPlainObject(g)) throw badRequest(`${where}: must be a document`);
  if (!('_id' in g)) throw badRequest(`${where}._id: required`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(g)) {
    const at = `${where}.${k}`;
    if (k === '_id') {
      if (v === null || typeof v === 'number' || (typeof v === 'string' && !v.startsWith('$'))) out._id = v;
      else if (typeof v === 'string') out._id = fieldRef(v, at);
      else if (isPlainObject(v)) out._id = Object.fromEntries(Object.entries(v).map(([n, r]) => [outputName(n, at), fieldRef(r, `${at}.${n}`)]));
      else throw badRequest(`${at}: must be null, a field reference or a document of field references`);
      continue;
    }
    outputName(k, where);
    if (!isPlainObject(v) || Object.keys(v).length !== 1) throw badRequest(`${at}: must be one accumulator like {"$sum": 1}`);
    const [acc, arg] = Object.entries(v)[0];
    if (!ACCUMULATORS.has(acc)) throw badRequest(`${at}: accumulator ${acc} is not allowed (allowed: ${[...ACCUMULATORS].join(', ')})`);
    if (acc === '$count') {
      if (!isPlainObject(arg) || Object.keys(arg).length) throw badRequest(`${at}.$count: must be {}`);
      out[k] = { $count: {} };
    } else if (typeof arg === 'number') out[k] = { [acc]: arg };
    else out[k] = { [acc]: fieldRef(arg, `${at}.${acc}`) };
  }
  return out;
}

function projectStage(p: unknown, where: string): Record<string, unknown> {
  if (!isPlainObject(p) || Object.keys(p).length === 0) throw badRequest(`${where}: must be a non-empty document`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) {
    checkField(k, where);
    if (v === 0 || v === 1 || v === true || v === false) out[k] = v;
    else if (typeof v === 'string') out[k] = fieldRef(v, `${where}.${k}`);
    else throw badRequest(`${where}.${k}: must be 0, 1 or a field reference (expressions are not allowed)`);
  }
  return out;
}

/** A pipeline with only allowed stages, or a 400 naming the stage. */
export function sanitizePipeline(p: unknown, where = 'pipeline'): Record<string, unknown>[] {
  if (!Array.isArray(p)) throw badRequest(`${where}: must be a JSON array of stages`);
  if (p.length > MAX_STAGES) throw badRequest(`${where}: at most ${MAX_STAGES} stages`);
  return p.map((stage, i) => {
    const at = `${where}[${i}]`;
    if (!isPlainObject(stage) || Object.keys(stage).length !== 1) throw badRequest(`${at}: each stage must be a document with one operator`);
    const [op, v] = Object.entries(stage)[0];
    switch (op) {
      case '$match':
        return { $match: sanitizeFilter(v, `${at}.$match`) };
      case '$sort': {
        const s = sanitizeSort(v, `${at}.$sort`);
        if (!s || !Object.keys(s).length) throw badRequest(`${at}.$sort: must name at least one field`);
        return { $sort: s };
      }
      case '$limit':
      case '$skip':
        if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 1_000_000_000) throw badRequest(`${at}.${op}: must be a non-negative integer`);
        return { [op]: v };
      case '$count':
        if (typeof v !== 'string') throw badRequest(`${at}.$count: must be an output field name`);
        return { $count: outputName(v, `${at}.$count`) };
      case '$project':
        return { $project: projectStage(v, `${at}.$project`) };
      case '$group':
        return { $group: groupStage(v, `${at}.$group`) };
      case '$unwind':
        if (typeof v === 'string') return { $unwind: fieldRef(v, `${at}.$unwind`) };
        if (isPlainObject(v) && typeof v.path === 'string') {
          const out: Record<string, unknown> = { path: fieldRef(v.path, `${at}.$unwind.path`) };
          if ('preserveNullAndEmptyArrays' in v) {
            if (typeof v.preserveNullAndEmptyArrays !== 'boolean') throw badRequest(`${at}.$unwind.preserveNullAndEmptyArrays: must be a boolean`);
            out.preserveNullAndEmptyArrays = v.preserveNullAndEmptyArrays;
          }
          return { $unwind: out };
        }
        throw badRequest(`${at}.$unwind: must be a field reference or {path}`);
      default:
        throw badRequest(`${at}: stage ${op} is not allowed (allowed: $match, $sort, $limit, $skip, $count, $project, $group, $unwind)`);
    }
  });
}

/** limit (default 40, 1..1000) and 1-based page → skip/limit; 400 naming the parameter. */
export function pageParams(limitRaw: string | undefined, pageRaw: string | undefined, max = 1000): { limit: number; skip: number } {
  const limit = limitRaw === undefined || limitRaw === '' ? 40 : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw badRequest(`limit: must be an integer 1-${max}`);
  const page = pageRaw === undefined || pageRaw === '' ? 1 : Number(pageRaw);
  if (!Number.isInteger(page) || page < 1 || page > 1_000_000) throw badRequest('page: must be an integer ≥ 1');
  return { limit, skip: (page - 1) * limit };
}
