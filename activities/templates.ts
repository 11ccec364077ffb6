// Activities of template jobs (workflows/template.ts, spec §9.2): the HTTP request of a WEB
// template, through the same outbound allow-list as webhooks (lib/outbound.ts: the URL as written
// and every address its name resolves to), and the job's record (collection dialer_template_jobs,
// written only here).
import http from 'node:http';
import https from 'node:https';
import { ApplicationFailure } from '@temporalio/activity';
import type { Logger } from 'pino';
import { config } from '../lib/config';
import { configuredAllowList, ForbiddenTargetError, forbiddenUrl, guardedLookup, type AllowList, type Resolver } from '../lib/outbound';
import { Template, TemplateJob, type TemplateDoc } from '../models/template';

export interface TemplateActivities {
  /** Records the job and sends the template's request; throws unless the receiver answered 2xx
   *  (a refused target is not retried). */
  sendTemplateRequest(i: { templateId: string; pid: string; successData?: unknown }): Promise<{ httpStatus: number }>;
  /** Stores how the job ended; on success names the template to run next and its pid. */
  finishTemplateJob(i: { templateId: string; pid: string; state: 'success' | 'error' | 'timeout'; message?: string; data?: unknown; nextSuffix: string }): Promise<{ nextTemplateId: string | null; nextPid: string | null }>;
}

export interface TemplateActivityDeps {
  log: Logger;
  timeoutMs?: number;
  resolve?: Resolver;
  allowList?: () => AllowList;
  /** Where receivers call back (X-Response-Host); default API_PUBLIC_URL or http://API_HOST:API_PORT. */
  publicUrl?: string;
}

const KEPT_JOBS = 100;

/** The path a receiver closes the job with (X-Response-Path). */
export function templateEndPath(dialer: string, templateId: string, pid: string): string {
  return `/api/v2/dialer/${dialer}/templates/${templateId}/end/${encodeURIComponent(pid)}`;
}

/** The request body: the template's, with the previous job's end body as `success_data` when the
 *  template body is an object (or absent); GET and DELETE send none. */
export function templateRequestBody(t: Pick<TemplateDoc, 'template'>, successData: unknown): string | null {
  const { method, body } = t.template;
  if (method === 'GET' || method === 'DELETE') return null;
  const isObject = body !== null && typeof body === 'object' && !Array.isArray(body);
  const withData = successData !== undefined && (body === undefined || isObject) ? { ...(isObject ? (body as object) : {}), success_data: successData } : body;
  if (withData === undefined) return null;
  return typeof withData === 'string' ? withData : JSON.stringify(withData);
}

function send(url: string, method: string, headers: Record<string, string>, body: string | null, o: { lookup: ReturnType<typeof guardedLookup>; timeoutMs: number }): Promise<number> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const h = body === null ? headers : { ...headers, 'Content-Length': String(Buffer.byteLength(body)) };
    const req = request(u, { method, headers: h, lookup: o.lookup, timeout: o.timeoutMs, signal: AbortSignal.timeout(o.timeoutMs) }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

export function createTemplateActivities(deps: TemplateActivityDeps): TemplateActivities {
  const { log } = deps;
  const publicUrl = deps.publicUrl ?? (config.api.publicUrl || `http://${config.api.host}:${config.api.port}`);
  const refuse = (why: string): never => {
    throw ApplicationFailure.nonRetryable(why, 'TemplateTargetRefused');
  };
  const record = (pid: string, set: Record<string, unknown>) => TemplateJob.updateOne({ _id: pid }, { $set: set });

  return {
    async sendTemplateRequest({ templateId, pid, successData }) {
      const t = await Template.findById(templateId).lean<TemplateDoc>();
      if (!t) throw ApplicationFailure.nonRetryable(`template ${templateId} was deleted`, 'TemplateGone');
      await TemplateJob.updateOne(
        { _id: pid },
        { $setOnInsert: { template: templateId, dialer: t.dialer, domain: t.domain, action: t.action, state: 'sending', startedOn: Date.now(), endedOn: null, httpStatus: null, message: null, next: null, ...(successData === undefined ? {} : { success_data: successData }) } },
        { upsert: true },
      );
      const allow = (deps.allowList ?? configuredAllowList)();
      const refused = forbiddenUrl(t.template.url, allow);
      if (refused) refuse(`template.url ${t.template.url}: ${refused}`);
      const body = templateRequestBody(t, successData);
      const headers: Record<string, string> = {
        ...(body !== null ? { 'Content-Type': 'application/json' } : {}),
        ...t.template.headers,
        'User-Agent': 'durable-dialer-templates',
        'X-Action': t.action,
        'X-Response-Host': publicUrl,
        'X-Response-Path': templateEndPath(t.dialer, templateId, pid),
        'X-Dialer-Id': t.dialer,
        'X-Template-Id': templateId,
      };
      let status: number;
      try {
        status = await send(t.template.url, t.template.method, headers, body, { lookup: guardedLookup(allow, deps.resolve), timeoutMs: deps.timeoutMs ?? 15_000 });
      } catch (err) {
        if (err instanceof ForbiddenTargetError) return refuse(err.message);
        await record(pid, { message: String((err as Error).message ?? err) });
        throw err;
      }
      await record(pid, { httpStatus: status, ...(status >= 200 && status < 300 ? { state: 'waiting', message: null } : { message: `HTTP ${status}` }) });
      if (status >= 200 && status < 300) return { httpStatus: status };
      log.warn({ templateId, pid, status }, 'template request failed');
      // A 4xx (redirects included: not followed) fails the same way again; a 5xx may not.
      if (status < 500) throw ApplicationFailure.nonRetryable(`HTTP ${status}`, 'TemplateRequestRefused');
      throw ApplicationFailure.retryable(`HTTP ${status}`, 'TemplateRequestFailed');
    },

    async finishTemplateJob({ templateId, pid, state, message, data, nextSuffix }) {
      const t = await Template.findById(templateId, { dialer: 1, next_process_id: 1 }).lean<TemplateDoc>();
      const nextId = state === 'success' && t?.next_process_id ? t.next_process_id : null;
      // Only a template of the same dialer is chained (the API checks it; a stale id is skipped).
      const next = nextId ? await Template.findOne({ _id: nextId, dialer: t!.dialer }, { _id: 1 }).lean() : null;
      const nextPid = next ? `${nextId}-${nextSuffix}` : null;
      await record(pid, { state, endedOn: Date.now(), message: message ?? null, ...(data === undefined ? {} : { end_data: data }), next: nextPid });
      // A cron template runs for years: keep its last KEPT_JOBS ended jobs.
      const old = await TemplateJob.find({ template: templateId, endedOn: { $ne: null } }, { _id: 1 }).sort({ startedOn: -1 }).skip(KEPT_JOBS).lean<{ _id: string }[]>();
      if (old.length) await TemplateJob.deleteMany({ _id: { $in: old.map((j) => j._id) } });
      return { nextTemplateId: next ? nextId : null, nextPid };
    },
  };
}
