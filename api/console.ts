// The operator console: static files (api/console/) served without credentials — they hold no tenant
// data; every piece of data the page shows comes from the REST API with the signed-in credential —
// and the one read the console needs that the v3 routes lack: a campaign's activity (attempts per
// minute, answered, abandoned; member end causes; live lines; next wake-up) for its charts.
import fs from 'node:fs';
import path from 'node:path';
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import { answeredOf, Attempt } from '../models/attempt';
import { LineLeases } from '../models/lines';
import { MemberStore } from '../models/member-store';
import { loadCampaignRules } from '../models/campaign';
import { calendarOpensAt } from '../rules';
import { config } from '../lib/config';
import type { RouteDeps } from './deps';
import { findDialer } from './dialers';
import { badRequest, queryParam, sendData } from './http';

const DIR = path.join(__dirname, 'console');
const FILES: Record<string, { file: string; type: string }> = {
  '/console': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/console/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
};
/** Scripts only from our own files: tenant text that slipped into the page could not run. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Serves the console's files and its settings (`/console/config.json`: where the Temporal UI is). */
export function consoleStatic() {
  return async (ctx: Context, next: Next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (ctx.path === '/console/config.json') {
      ctx.set('Cache-Control', 'no-cache');
      ctx.body = { temporalUiUrl: process.env.TEMPORAL_UI_URL || null, temporalUiPort: config.temporal.uiPort, namespace: config.temporal.namespace };
      return;
    }
    const f = FILES[ctx.path];
    if (!f) return next();
    ctx.set('Content-Security-Policy', CSP);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = f.type;
    ctx.body = await fs.promises.readFile(path.join(DIR, f.file));
  };
}

/** At most this many attempts are read for the charts; beyond it the answer says `truncated`. */
const MAX_ATTEMPTS = 200_000;
const MINUTE = 60_000;

export function consoleRoutes(router: Router, deps: RouteDeps): void {
  router.get('/api/v2/dialer/:dialer/activity', async (ctx) => {
    const dialer = await findDialer(ctx, 'dialer');
    const raw = queryParam(ctx, 'hours') ?? '24';
    const hours = Number(raw);
    if (!Number.isInteger(hours) || hours < 0 || hours > 168) throw badRequest('hours: must be an integer 0-168 (0: no attempt history)');
    const id = String(dialer._id);
    const now = Date.now();
    const from = Math.floor((now - hours * 3600_000) / MINUTE) * MINUTE;
    const [lines, counts, rules] = await Promise.all([LineLeases.snapshot(id), MemberStore.counts(id), loadCampaignRules(dialer)]);
    const minutes = new Map<number, { t: number; calls: number; answered: number; abandoned: number }>();
    let truncated = false;
    if (hours > 0) {
      const A = deps.reads.model(Attempt);
      const rows = await deps.reads.run(ctx, () =>
        A.find({ dialer: id, createdOn: { $gte: from } }, { _id: 1, createdOn: 1, 'result.answered': 1, 'result.cause': 1, 'result.abandoned': 1 })
          .limit(MAX_ATTEMPTS + 1).maxTimeMS(deps.queryTimeoutMs).lean<{ _id: string; createdOn: number; result?: { answered?: boolean; cause?: string; abandoned?: boolean } | null }[]>(),
      );
      truncated = rows.length > MAX_ATTEMPTS;
      // Calls not ended yet: answered if their CHANNEL_ANSWER was recorded.
      const answeredNow = await answeredOf(rows.slice(0, MAX_ATTEMPTS).filter((a) => !a.result).map((a) => a._id));
      for (const a of rows.slice(0, MAX_ATTEMPTS)) {
        const t = Math.floor(a.createdOn / MINUTE) * MINUTE;
        const m = minutes.get(t) ?? { t, calls: 0, answered: 0, abandoned: 0 };
        m.calls++;
        if (a.result ? a.result.answered : answeredNow.has(a._id)) m.answered++;
        // Predictive: answered and never bridged to an agent (the member may still be retried).
        if (a.result?.abandoned) m.abandoned++;
        minutes.set(t, m);
      }
    }
    sendData(ctx, {
      from,
      to: now,
      bucketSec: 60,
      active: lines?.active ?? 0,
      limit: dialer.parameters?.limit ?? null,
      state: dialer.state ?? null,
      // A sleeping campaign looks at its calendar again then (workflows/campaign.ts does the same).
      nextWakeUp: dialer.state === 2 ? calendarOpensAt(rules, now) : null,
      members: { total: counts.total, notEnded: counts.notEnded, ended: counts.ended },
      endCauses: counts.byCause,
      minutes: [...minutes.values()].sort((a, b) => a.t - b.t),
      truncated,
    });
  });
}
