// The Koa application of the REST API (`/api/v2/dialer…`, spec §9). createApp(deps) builds it from
// an injected Temporal client and logger (Mongo is the default mongoose connection), so api/main.ts
// and the tests mount the same app.
import Koa from 'koa';
import Router from '@koa/router';
import mongoose from 'mongoose';
import type { Connection } from '@temporalio/client';
import { authMiddleware, loginHandler, logoutHandler } from './auth';
import type { ApiDeps, RouteDeps } from './deps';
import { agentRoutes } from './agents';
import { complianceRoutes } from './compliance';
import { calendarRoutes } from './calendars';
import { dialerRoutes } from './dialers';
import { errorMiddleware, sendData } from './http';
import { memberRoutes } from './members';
import { exportRoutes } from './csv-export';
import { Waker } from './wake';
import { csvImportRoute } from './csv-import-route';
import { consoleRoutes, consoleStatic } from './console';
import { forecastRoute } from './forecast';
import { webhookRoutes } from './hooks';
import { templateRoutes } from './templates';
import { docsRoutes } from './openapi';
import { rateLimitMiddleware } from './limits';
import { ClientReads } from './reads';
import { config } from '../lib/config';
import { httpRequests } from '../lib/metrics';

export type DialerApi = Koa & {
  /** Every route as [METHOD, path] (the OpenAPI test compares it with the document). */
  routes: [string, string][];
  /** Waits until background work started by requests (campaign wake-ups) has finished. */
  drain(): Promise<void>;
  /** drain(), then closes the client-shaped reads' connection pool. */
  close(): Promise<void>;
};

/** Paths that need no credentials. */
export const PUBLIC_PATHS = new Set(['/health', '/api/v2/openapi.json', '/api/v2/docs']);

export function createApp(deps: ApiDeps): DialerApi {
  const waker = new Waker(deps.client, deps.log, deps.taskQueue);
  const rd: RouteDeps = {
    client: deps.client,
    log: deps.log,
    taskQueue: deps.taskQueue,
    sessionTtlMs: deps.sessionTtlMs ?? 24 * 3600_000,
    updateTimeoutMs: deps.updateTimeoutMs ?? 10_000,
    maxJsonBytes: deps.maxJsonBytes ?? 16 * 1024 * 1024,
    maxCsvBytes: deps.maxCsvBytes ?? 2 * 1024 * 1024 * 1024,
    queryTimeoutMs: deps.queryTimeoutMs ?? config.api.queryTimeoutMs,
    reads: new ClientReads({ poolSize: config.api.readPoolSize, perDomain: config.api.readsPerDomain, ...deps.reads }),
    webhookDispatcher: deps.webhookDispatcher,
    waker,
  };
  const rateLimit = deps.rateLimit ?? { perSecond: config.api.rateLimit, burst: config.api.rateBurst };

  const app = new Koa() as DialerApi;
  app.proxy = false;
  app.silent = true;
  const router = new Router();

  router.get('/health', async (ctx) => {
    const mongo = mongoose.connection.readyState === 1;
    let temporal = false;
    try {
      await (deps.client.connection as Connection).healthService.check({});
      temporal = true;
    } catch {
      temporal = false;
    }
    ctx.status = mongo && temporal ? 200 : 503;
    ctx.body = { status: mongo && temporal ? 'OK' : 'error', data: { mongo, temporal } };
  });
  router.post('/login', loginHandler(rd.sessionTtlMs));
  router.post('/logout', logoutHandler);
  dialerRoutes(router, rd);
  calendarRoutes(router, rd);
  // Before the member routes: `members/export` is not a member id.
  exportRoutes(router, rd);
  memberRoutes(router, rd);
  docsRoutes(router);
  webhookRoutes(router, rd);
  templateRoutes(router, rd);
  agentRoutes(router, rd);
  complianceRoutes(router, rd);
  csvImportRoute(router, rd);
  consoleRoutes(router, rd);
  forecastRoute(router);

  // Latency by route pattern (`/api/v2/dialer/:id`), never the raw path (ids are tenant data).
  app.use(async (ctx, next) => {
    const end = httpRequests.startTimer({ method: ctx.method });
    try {
      await next();
    } finally {
      const routes = router.match(ctx.path, ctx.method).pathAndMethod.filter((l) => l.methods.length > 0);
      const route = routes[routes.length - 1]?.path;
      end({ route: route === undefined ? 'unmatched' : String(route), status: String(ctx.status) });
    }
  });
  app.use(errorMiddleware(deps.log, rd.queryTimeoutMs));
  app.use(async (ctx, next) => {
    // CORS as in v3: any origin may call with the credential headers.
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.set('Access-Control-Allow-Headers', 'Content-Type, X-Access-Token, X-Key');
    ctx.set('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, OPTIONS');
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    await next();
  });
  // The console's files carry no tenant data; its data comes from the routes below, with credentials.
  app.use(consoleStatic());
  // Credentials are checked before any body is read, then each credential spends one token.
  app.use(authMiddleware({ public: (ctx) => PUBLIC_PATHS.has(ctx.path) || (ctx.path === '/login' && ctx.method === 'POST') }));
  app.use(rateLimitMiddleware(rateLimit));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: false }));

  app.routes = router.stack
    .flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((m) => [m, String(layer.path)] as [string, string]));
  app.drain = () => waker.drain();
  app.close = async () => {
    await waker.drain();
    await rd.reads.close();
  };
  void sendData;
  return app;
}
