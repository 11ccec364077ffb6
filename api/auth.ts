// Identity and access (spec §9.1): X-Access-Token + X-Key headers, or `access_token` / `x_key` in
// the query string or a JSON body; POST /login exchanges a key and secret for a session token.
// Every route but the health route needs a valid credential (401). A domain credential acts in its
// own domain only; root passes `?domain=`.
import type { Context, Next } from 'koa';
import { z } from 'zod';
import { createSession, DOMAIN_RE, endSession, verifyCredential, type CredentialDoc } from '../models/credential';
import { badRequest, HttpError, jsonBody, queryParam, sendData, setJsonBody } from './http';

export interface AuthState {
  key: string;
  /** The credential's own domain; null for root. */
  domain: string | null;
  root: boolean;
}

export function authOf(ctx: Context): AuthState {
  const a = (ctx.state as { auth?: AuthState }).auth;
  if (!a) throw new HttpError(401, 'credentials required: X-Access-Token and X-Key headers');
  return a;
}

function fromHeaders(ctx: Context): { key?: string; token?: string } {
  return { key: ctx.get('x-key') || undefined, token: ctx.get('x-access-token') || undefined };
}

/** A body read to look for credentials is at most this long: nothing larger is read before the
 *  credentials are known (send the headers with big bodies). */
export const MAX_UNAUTHENTICATED_BODY = 64 * 1024;

/** Where the body may carry credentials (v3): small JSON requests only, never the CSV stream. */
function bodyMayCarryCredentials(ctx: Context): boolean {
  const length = Number(ctx.get('content-length') || NaN);
  return ['POST', 'PUT', 'DELETE', 'PATCH'].includes(ctx.method) && !!ctx.is('application/json', 'json', '+json') && length <= MAX_UNAUTHENTICATED_BODY;
}

export function authMiddleware(opts: { public: (ctx: Context) => boolean }) {
  return async (ctx: Context, next: Next) => {
    if (opts.public(ctx)) return next();
    let { key, token } = fromHeaders(ctx);
    key ??= queryParam(ctx, 'x_key');
    token ??= queryParam(ctx, 'access_token');
    if ((!key || !token) && bodyMayCarryCredentials(ctx)) {
      const body = await jsonBody(ctx, MAX_UNAUTHENTICATED_BODY);
      if (body && typeof body === 'object' && !Array.isArray(body)) {
        const b = { ...(body as Record<string, unknown>) };
        if (typeof b.x_key === 'string') key ??= b.x_key;
        if (typeof b.access_token === 'string') token ??= b.access_token;
        delete b.x_key;
        delete b.access_token;
        setJsonBody(ctx, b);
      }
    }
    if (!key || !token) throw new HttpError(401, 'credentials required: X-Access-Token and X-Key headers');
    const cred = await verifyCredential(key, token);
    if (!cred) throw new HttpError(401, 'invalid or revoked credentials');
    ctx.state.auth = { key: cred._id, domain: cred.domain, root: cred.domain === null } satisfies AuthState;
    return next();
  };
}

/**
 * The domain a request acts in. A domain credential always acts in its own domain (a `?domain=`
 * naming another one is ignored, as in v3). Root acts in `?domain=` when given; with `required`
 * (creating things) root must give one; otherwise null means "any domain" for root.
 */
export function domainOf(ctx: Context, opts: { required?: boolean } = {}): string | null {
  const a = authOf(ctx);
  if (!a.root) return a.domain;
  const d = queryParam(ctx, 'domain');
  if (d !== undefined && d !== '') {
    if (!DOMAIN_RE.test(d)) throw badRequest('domain: not a valid domain name');
    return d;
  }
  if (opts.required) throw badRequest('domain: required with root credentials (?domain=<name>)');
  return null;
}

/** A Mongo condition restricting to the request's domain ({} for root without ?domain=). */
export function domainFilter(ctx: Context): { domain?: string } {
  const d = domainOf(ctx);
  return d === null ? {} : { domain: d };
}

const loginBody = z.object({
  username: z.string({ error: 'required (the credential key)' }).min(1, 'required (the credential key)').max(200),
  password: z.string({ error: 'required (the credential secret)' }).min(1, 'required (the credential secret)').max(500),
});

/** POST /login {username: <key>, password: <secret>} → {key, token, expires, username, domain, role}. */
export function loginHandler(sessionTtlMs: number) {
  return async (ctx: Context) => {
    const body = await jsonBody(ctx, 16 * 1024);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('body: a JSON object {username, password} is required');
    const { username, password } = loginBody.parse(body);
    const cred: CredentialDoc | null = await verifyCredential(username, password);
    if (!cred) throw new HttpError(401, 'invalid username or password');
    const { token, expires } = await createSession(cred._id, sessionTtlMs);
    const data = {
      key: cred._id,
      token,
      expires,
      username: cred.name || cred._id,
      domain: cred.domain,
      role: cred.domain === null ? 'root' : 'domain',
    };
    // v3 clients read the fields at the top level; the envelope's `data` carries the same.
    sendData(ctx, data);
    ctx.body = { ...data, status: 'OK', data };
  };
}

/** POST /logout: the session token the request was made with stops working (a secret is left alone:
 *  `npm run credentials -- revoke` ends a credential). */
export async function logoutHandler(ctx: Context): Promise<void> {
  const token = ctx.get('x-access-token') || queryParam(ctx, 'access_token') || '';
  sendData(ctx, { sessionEnded: await endSession(authOf(ctx).key, token) });
}
