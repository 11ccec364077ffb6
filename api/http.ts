// HTTP plumbing shared by every route: the Webitel v3 envelopes, one error type that carries an
// HTTP status, the error middleware that turns every failure into a 4xx/5xx envelope (never a
// stack trace), and a small JSON body reader with a size limit and a content-type check.
import type { Context, Next } from 'koa';
import mongoose from 'mongoose';
import { ZodError } from 'zod';
import type { Logger } from '../lib/logger';

export { HttpError } from '../lib/http-error';
import { HttpError } from '../lib/http-error';

export const badRequest = (info: string) => new HttpError(400, info);
export const notFound = (info: string) => new HttpError(404, info);

/** `{"status":"OK","data":…}` */
export function sendData(ctx: Context, data: unknown, status = 200): void {
  ctx.status = status;
  ctx.body = { status: 'OK', data };
}

/** `{"status":"OK","info":…}` (the v3 routes that answer with `info`, spec §9.2–§9.4). */
export function sendInfo(ctx: Context, info: unknown, status = 200): void {
  ctx.status = status;
  ctx.body = { status: 'OK', info };
}

function sendError(ctx: Context, status: number, info: string): void {
  ctx.status = status;
  ctx.body = { status: 'error', info };
}

/** "communications.0.number: Bad communication number; name: expected string" */
export function zodMessage(err: ZodError, prefix = ''): string {
  return err.issues
    .slice(0, 10)
    .map((i) => {
      const at = (more: string[]) => [prefix, ...i.path.map(String), ...more].filter((s) => s !== '').join('.');
      if (i.code === 'unrecognized_keys') return i.keys.map((k) => `${at([k])}: unknown field`).join('; ');
      const path = at([]);
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
}

function mongooseMessage(err: mongoose.Error.ValidationError): string {
  return Object.values(err.errors)
    .slice(0, 10)
    .map((e) => {
      if (e instanceof mongoose.Error.CastError) return `${e.path}: must be a ${e.kind.toLowerCase()}`;
      // Mongoose messages start with "Path `x` …"; keep the field name first.
      const msg = e.message.replace(/^Path `[^`]*` /, '').replace(/^Validator failed for path `[^`]*` /, '');
      return `${e.path}: ${msg}`;
    })
    .join('; ');
}

function isTemporalUnavailable(err: unknown): boolean {
  const e = err as { name?: string; code?: number; message?: string };
  // gRPC UNAVAILABLE (14) / DEADLINE_EXCEEDED (4) from the Temporal client's connection.
  return (
    (e?.name === 'ServiceError' || e?.name === 'TransportError' || e?.name === 'ConnectionError') &&
    /UNAVAILABLE|DEADLINE_EXCEEDED|connect|14 |4 /i.test(String(e.message))
  );
}

function isMongoUnavailable(err: unknown): boolean {
  const name = (err as { name?: string })?.name ?? '';
  return /MongoServerSelectionError|MongoNetworkError|MongoNotConnectedError|MongoTopologyClosedError/.test(name);
}

/** MongoDB error codes of a query the database refused to run (bad field path, projection, stage). */
const BAD_QUERY_CODES = new Set([2, 9, 14, 15998, 16410, 16411, 28667, 31249, 31250, 31254, 31324, 40156, 40160, 40352, 40353]);
const MAX_TIME_MS_EXPIRED = 50;

function mongoCode(err: unknown): number | undefined {
  const e = err as { name?: string; code?: unknown };
  return /^Mongo/.test(e?.name ?? '') && typeof e.code === 'number' ? e.code : undefined;
}

/** Outermost middleware: every error becomes a v3 error envelope; unexpected ones are logged. A
 *  query that ran past `queryTimeoutMs` (maxTimeMS) is a 422 telling the client to narrow it. */
export function errorMiddleware(log: Logger, queryTimeoutMs = 0) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      if (ctx.body === undefined && ctx.status === 404) sendError(ctx, 404, `no route ${ctx.method} ${ctx.path}`);
      else if (ctx.body === undefined && ctx.status === 405) sendError(ctx, 405, `method ${ctx.method} not allowed on ${ctx.path}`);
    } catch (err) {
      // A request answered before its body arrived (401, 413, 429 …): close the connection rather
      // than read and discard the rest of the body to keep it alive.
      if (!ctx.req.complete) ctx.set('Connection', 'close');
      if (err instanceof HttpError) return sendError(ctx, err.status, err.message);
      if (err instanceof ZodError) return sendError(ctx, 400, zodMessage(err));
      if (err instanceof mongoose.Error.ValidationError) return sendError(ctx, 400, mongooseMessage(err));
      if (err instanceof mongoose.Error.CastError) return sendError(ctx, 400, `${err.path}: must be a ${err.kind.toLowerCase()}`);
      const code = mongoCode(err);
      if (code === MAX_TIME_MS_EXPIRED) {
        return sendError(ctx, 422, `query exceeded its time budget${queryTimeoutMs ? ` of ${queryTimeoutMs} ms` : ''}: narrow the filter (members: an _endCause value — null for waiting — is served by an index; a sort is not), page with after=<last _id> instead of page, or ask for fewer columns`);
      }
      if (code !== undefined && BAD_QUERY_CODES.has(code)) return sendError(ctx, 400, `query: rejected by the database (${(err as Error).message})`);
      if (isMongoUnavailable(err)) {
        log.error({ err: String(err) }, 'database unavailable');
        return sendError(ctx, 503, 'database unavailable, retry later');
      }
      if (isTemporalUnavailable(err)) {
        log.error({ err: String(err) }, 'Temporal unavailable');
        return sendError(ctx, 503, 'workflow service unavailable, retry later');
      }
      const status = (err as { status?: number; expose?: boolean }).status;
      if (typeof status === 'number' && status >= 400 && status < 500) {
        return sendError(ctx, status, (err as Error).message || 'bad request');
      }
      log.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
      sendError(ctx, 500, 'internal error');
    }
  };
}

/** Reads the raw request body up to `limit` bytes (413 beyond). */
export async function readRaw(ctx: Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) throw new HttpError(413, `body too large: at most ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `body too large: at most ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function hasBody(ctx: Context): boolean {
  return Number(ctx.get('content-length') || 0) > 0 || ctx.get('transfer-encoding') !== '';
}

const BODY_KEY = Symbol('jsonBody');

/**
 * The JSON body (parsed once per request, cached on ctx): undefined when there is none.
 * 415 for a body that is not declared as JSON, 400 for malformed JSON, 413 beyond `limit`.
 */
export async function jsonBody(ctx: Context, limit = 1024 * 1024): Promise<unknown> {
  const c = ctx as Context & { [BODY_KEY]?: { value: unknown } };
  if (c[BODY_KEY]) return c[BODY_KEY].value;
  let value: unknown = undefined;
  if (hasBody(ctx)) {
    if (!ctx.is('application/json', 'json', '+json')) {
      throw new HttpError(415, `content-type: must be application/json (got ${ctx.get('content-type') || 'none'})`);
    }
    const raw = (await readRaw(ctx, limit)).toString('utf8');
    if (raw.trim() !== '') {
      try {
        value = JSON.parse(raw);
      } catch (err) {
        throw badRequest(`body: malformed JSON (${(err as Error).message})`);
      }
    }
  }
  c[BODY_KEY] = { value };
  return value;
}

/** Replaces the cached body (the auth middleware strips `access_token`/`x_key` from it). */
export function setJsonBody(ctx: Context, value: unknown): void {
  (ctx as Context & { [BODY_KEY]?: { value: unknown } })[BODY_KEY] = { value };
}

/** The body must be a JSON object (not an array, not a scalar). */
export async function objectBody(ctx: Context, what = 'body', opts: { required?: boolean; limit?: number } = {}): Promise<Record<string, unknown>> {
  const body = await jsonBody(ctx, opts.limit);
  if (body === undefined) {
    if (opts.required === false) return {};
    throw badRequest(`${what}: a JSON object is required`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest(`${what}: must be a JSON object`);
  return body as Record<string, unknown>;
}

/** A single query parameter (the first if repeated). */
export function queryParam(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  return Array.isArray(v) ? v[0] : v;
}

export function isObjectId(s: string): boolean {
  return /^[0-9a-fA-F]{24}$/.test(s);
}

/** A path id that must be an ObjectId: 400 naming the parameter otherwise. */
export function objectIdParam(ctx: Context, name: string): string {
  const v = String((ctx.params as Record<string, string>)[name] ?? '');
  if (!isObjectId(v)) throw badRequest(`${name}: must be a 24-character hex ObjectId`);
  return v.toLowerCase();
}

export function boolParam(ctx: Context, name: string, def: boolean): boolean {
  const v = queryParam(ctx, name);
  if (v === undefined || v === '') return def;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw badRequest(`${name}: must be true or false`);
}

export function enumParam<T extends string>(ctx: Context, name: string, allowed: readonly T[], def: T): T {
  const v = queryParam(ctx, name);
  if (v === undefined || v === '') return def;
  if (!(allowed as readonly string[]).includes(v)) throw badRequest(`${name}: must be one of ${allowed.join(', ')}`);
  return v as T;
}
