// What keeps one client from holding the API: a token bucket per credential (429 with
// Retry-After), and the HTTP server's own deadlines for slow clients (headers, whole request, idle
// keep-alive). The query budget (maxTimeMS) is applied by the routes and mapped in ./http.
import http from 'node:http';
import type { Context, Next } from 'koa';
import type Koa from 'koa';
import { authOf } from './auth';
import { HttpError } from './http';

export interface RateLimit {
  /** Tokens added per second (sustained requests/s); 0 turns limiting off. */
  perSecond: number;
  /** Bucket size (requests allowed at once after a quiet period). */
  burst: number;
}

/** Token buckets by key; `take` answers 0 (go) or the seconds until a token is available. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {}

  take(key: string): number {
    const { perSecond, burst } = this.limit;
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: burst, at: t };
    b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * perSecond);
    b.at = t;
    if (this.buckets.size > 10_000) this.prune(t);
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / perSecond);
  }

  /** Forgets full buckets (a full bucket is the same as none). */
  private prune(t: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + ((t - b.at) / 1000) * this.limit.perSecond >= this.limit.burst) this.buckets.delete(k);
  }
}

/** After authentication: one token per request of the credential, else 429 with Retry-After. */
export function rateLimitMiddleware(limit: RateLimit) {
  const buckets = new TokenBuckets(limit);
  return async (ctx: Context, next: Next) => {
    const auth = (ctx.state as { auth?: unknown }).auth ? authOf(ctx) : null;
    if (auth && limit.perSecond > 0) {
      const wait = buckets.take(auth.key);
      if (wait > 0) {
        ctx.set('Retry-After', String(wait));
        throw new HttpError(429, `rate limit: at most ${limit.perSecond} requests/s (burst ${limit.burst}) per credential; retry after ${wait} s`);
      }
    }
    return next();
  };
}

export interface ServerLimits {
  /** The whole request (headers and body) must arrive within this. */
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

/** The HTTP server of the API with deadlines for slow clients (slowloris: headers or body dripped). */
export function createApiServer(app: Koa, limits: ServerLimits): http.Server {
  const server = http.createServer(
    {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs || limits.headersTimeoutMs),
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often the deadlines above are checked (Node's default is 30 s).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headersTimeoutMs / 2)),
    },
    app.callback(),
  );
  return server;
}
