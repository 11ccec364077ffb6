// The third call-result path (spec esl-protocol.md §7 point 4): FreeSWITCH's mod_json_cdr POSTs
// every CDR to `POST /cdr?uuid=<uuid>`, independently of the event socket. A CDR of one of our
// attempts (it carries dlr_workflow_id) is turned into a CallResult exactly as a
// CHANNEL_HANGUP_COMPLETE is (resultFromHangup) and applied with settleAndSignal: first source
// wins in Mongo, then the member workflow is signalled; later sources are ignored.
//
// It runs in the worker process (services/dialer-worker.ts), not the API: every write of
// `attempts.result` — BACKGROUND_JOB, hangup event, CDR, reconciliation — then goes through the
// worker's single Mongo connection, so "first wins" holds even on FerretDB v1, which applies
// concurrent updates of one document from different connections non-atomically
// (lib/config.ts mongodbPoolSize). The attempt record itself is the CDR store: a CDR that arrives
// for a settled attempt is a duplicate and is dropped.
//
// Answers: 200 when handled (settled, duplicate, unknown attempt or not a dialer call — FreeSWITCH
// must not retry those); 400 for a body that is not a CDR; 401 without the configured Basic
// credentials (CDR_CRED = mod_json_cdr `cred`); 503 when the result was not stored in time (Mongo
// down or slow) so that mod_json_cdr retries (`retries`, `delay`) and finally writes the CDR to its
// err-log-dir, which scripts/import-cdrs.ts reads back (importCdrDir below).
// What FreeSWITCH must be configured with: deploy/freeswitch/json_cdr.conf.xml.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { EslEvent } from '../esl';
import { Attempt, storedResultOf } from '../models';
import { resultFromHangup, settleAndSignal, type FoundResult } from './call-results';

export interface CdrStats {
  received: number;
  /** This CDR was the first result of its attempt. */
  settled: number;
  /** The attempt already had a result (event or job was first). */
  duplicate: number;
  /** A dialer CDR whose attempt is not stored (dropped, logged). */
  unknown: number;
  /** Not a dialer call (no dlr_workflow_id) or not a CDR. */
  ignored: number;
  rejected: number;
  /** Missing or wrong Basic credentials (CDR_CRED). */
  unauthorized: number;
  /** Could not be stored (answered 503; mod_json_cdr retries). */
  failed: number;
}

/** URL decoding that never throws (a stray `%` stays as it is). */
function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
}

/**
 * The JSON text of a CDR as mod_json_cdr sends it (POST body) or leaves it in err-log-dir (file),
 * whatever its `encode` setting: raw JSON (`encode=false`), `cdr=<url-encoded JSON>` (`true`),
 * `cdr=<base64 JSON>` (`base64`); the error files hold the same text without `cdr=`.
 * The Content-Type is not trusted: with `disable-100-continue=true` mod_json_cdr replaces its header
 * list by `Expect:`, so curl sends its default `application/x-www-form-urlencoded` for every
 * encoding (the golden captures: a raw JSON body under that type). The text itself tells them apart.
 */
export function cdrJsonText(raw: string): string {
  let text = raw.trim();
  if (text.startsWith('cdr=')) text = text.slice(4);
  if (text.startsWith('{')) return text;
  if (/^%7b/i.test(text)) return decode(text);
  const fromBase64 = Buffer.from(text, 'base64').toString('utf8').trim();
  if (fromBase64.startsWith('{')) return fromBase64;
  throw new Error('neither JSON, url-encoded JSON nor base64 JSON');
}

/** The JSON CDR out of a mod_json_cdr POST body or err-log-dir file (see cdrJsonText). */
export function parseCdrBody(body: string): Record<string, unknown> {
  const text = cdrJsonText(body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    // `encode=true` with `encode-values=true`: FreeSWITCH's switch_url_encode does not re-encode the
    // values' %XX, so decoding the body also decoded the values; control characters can then only
    // be inside strings — escape them. (A `"` or `\` in a value stays ambiguous: use encode=false.)
    // eslint-disable-next-line no-control-regex
    const escaped = text.replace(/[\u0000-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    if (escaped === text) throw err;
    parsed = JSON.parse(escaped);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('the CDR is not a JSON object');
  return parsed as Record<string, unknown>;
}

/**
 * A JSON CDR as the CHANNEL_HANGUP_COMPLETE it mirrors: `variable_*` headers from `variables`
 * (values URL-decoded: mod_json_cdr's `encode-values` is on by default), Unique-ID from `?uuid=`
 * or the variables, and the answer time from the callflow.
 */
export function cdrAsEvent(cdr: Record<string, unknown>, uuid?: string): EslEvent | null {
  const vars = (cdr.variables ?? {}) as Record<string, unknown>;
  if (typeof vars !== 'object' || vars === null) return null;
  const ev: Record<string, string> = { 'Event-Name': 'CDR' };
  for (const [k, v] of Object.entries(vars)) {
    if (v === null || v === undefined || typeof v === 'object') continue;
    ev[`variable_${k}`] = decode(String(v));
  }
  const id = uuid || ev.variable_uuid || ev.variable_call_uuid;
  if (!id) return null;
  ev['Unique-ID'] = id;
  const flow = Array.isArray(cdr.callflow) ? (cdr.callflow[0] as { times?: Record<string, unknown> } | undefined) : undefined;
  const answered = flow?.times?.answered_time;
  if (answered !== undefined) ev['Caller-Channel-Answered-Time'] = String(answered);
  const context = (flow as { caller_profile?: { context?: unknown } } | undefined)?.caller_profile?.context;
  if (typeof context === 'string') ev['Caller-Context'] = context;
  if (!ev.variable_hangup_cause) return null; // not a finished channel's CDR
  return ev as EslEvent;
}

/** The call result a CDR carries, if it belongs to one of our attempts. */
export function resultFromCdr(cdr: Record<string, unknown>, uuid?: string): FoundResult | null {
  const ev = cdrAsEvent(cdr, uuid);
  if (!ev) return null;
  const found = resultFromHangup(ev);
  return found ? { ...found, result: { ...found.result, source: 'cdr' } } : null;
}

/** settled: this CDR was the attempt's first result; duplicate: it already had one; unknown: a
 *  dialer CDR for an attempt not stored here; ignored: not a dialer call's CDR. */
export type CdrOutcome = 'settled' | 'duplicate' | 'unknown' | 'ignored';

/**
 * Applies one CDR: settles its attempt first-wins and signals the workflow. Throws only when the
 * result is not stored (so the caller answers 5xx and FreeSWITCH retries): a failed signal after
 * a stored result is not an error — the workflow finds the stored result when it reconciles.
 */
export async function applyCdr(client: Client, log: Logger, cdr: Record<string, unknown>, uuid?: string): Promise<CdrOutcome> {
  const found = resultFromCdr(cdr, uuid);
  if (!found) return 'ignored';
  // A result is stored only for an attempt of ours (the record exists from its send on).
  if (!(await Attempt.exists({ _id: found.result.uuid }))) return 'unknown';
  let settled: boolean;
  try {
    settled = await settleAndSignal(client, found, log);
  } catch (err) {
    const stored = await storedResultOf(found.result.uuid);
    if (stored) {
      log.warn({ err: String(err), uuid: found.result.uuid }, 'CDR result stored, signal not delivered; the workflow will reconcile');
      return stored.source === 'cdr' ? 'settled' : 'duplicate';
    }
    throw err;
  }
  return settled ? 'settled' : 'duplicate';
}

/** `user:password` as mod_json_cdr's `cred` sends it with `auth-scheme=basic` (curl sends it on the first request). */
export function basicAuthOk(header: string | undefined, cred: string): boolean {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m) return false;
  const got = Buffer.from(m[1], 'base64');
  const want = Buffer.from(cred, 'utf8');
  return got.length === want.length && crypto.timingSafeEqual(got, want);
}

export interface CdrServer {
  /** e.g. http://127.0.0.1:10023/cdr — the URL to give mod_json_cdr (`url` param). */
  url: string;
  port: number;
  stats(): CdrStats;
  close(): Promise<void>;
}

const MAX_BODY = 4 * 1024 * 1024;

export interface CdrServerOptions {
  host: string;
  port: number;
  client: Client;
  log: Logger;
  /** `user:password`: posts without these Basic credentials get 401 (mod_json_cdr `cred`). */
  cred?: string;
  /** A post not stored within this time gets 503, so that mod_json_cdr's next try (its `timeout`
   *  is longer) is not lost in a hung request; the store may still complete (then the retry is a duplicate). */
  answerWithinMs?: number;
}

/** `POST /cdr?uuid=…` (any path ending in /cdr) on host:port (0 = a free port). */
export async function startCdrServer(o: CdrServerOptions): Promise<CdrServer> {
  const stats: CdrStats = { received: 0, settled: 0, duplicate: 0, unknown: 0, ignored: 0, rejected: 0, unauthorized: 0, failed: 0 };
  const answerWithinMs = o.answerWithinMs ?? 3000;
  const send = (res: http.ServerResponse, status: number, body: object, headers: Record<string, string> = {}) => {
    if (res.headersSent) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
    res.end(text);
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/health') return send(res, 200, { ok: true, ...stats });
    if (req.method !== 'POST' || !/\/cdr\/?$/.test(url.pathname)) return send(res, 404, { error: 'POST /cdr?uuid=<uuid>' });
    if (o.cred && !basicAuthOk(req.headers.authorization, o.cred)) {
      stats.unauthorized++;
      req.resume();
      return send(res, 401, { error: 'CDR posts need the credentials of CDR_CRED (mod_json_cdr cred)' }, { 'www-authenticate': 'Basic realm="dialer-cdr"' });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      stats.received++;
      const uuid = url.searchParams.get('uuid') ?? undefined;
      let cdr: Record<string, unknown>;
      try {
        cdr = parseCdrBody(Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        stats.rejected++;
        return send(res, 400, { error: `not a JSON CDR: ${(err as Error).message}` });
      }
      const late = setTimeout(() => {
        o.log.warn({ uuid }, `CDR not stored within ${answerWithinMs} ms; answering 503 so FreeSWITCH retries`);
        send(res, 503, { error: 'result not stored yet, retry later' });
      }, answerWithinMs);
      applyCdr(o.client, o.log, cdr, uuid).then(
        (outcome) => {
          clearTimeout(late);
          stats[outcome]++;
          if (outcome === 'unknown') o.log.warn({ uuid }, 'CDR of a dialer call with no stored attempt; dropped');
          send(res, 200, { ok: true, outcome });
        },
        (err: unknown) => {
          clearTimeout(late);
          stats.failed++;
          o.log.warn({ err: String(err), uuid }, 'CDR not stored; FreeSWITCH will retry');
          send(res, 503, { error: 'result not stored, retry later' });
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${o.host}:${port}/cdr`,
    port,
    stats: () => ({ ...stats }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
