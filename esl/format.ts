// Pure helpers: originate command building, job result and hangup event parsing.
// No I/O here; everything is unit-tested byte for byte in test/esl-client.test.ts.

/** An event as delivered by EslClient: headers of the JSON body (all strings), plus `_body` if any. */
export type EslEvent = Record<string, string> & { 'Event-Name': string };

export interface OriginateOptions {
  /** origination_uuid: generate it yourself (v4) and persist it before sending (spec §7). */
  uuid: string;
  /** e.g. `sofia/gateway/gw1/15551234567`; must not contain whitespace. */
  dialString: string;
  /** Extra channel variables (correlation ids etc.), emitted in insertion order. */
  vars: Record<string, string | number | boolean>;
  /** originate_timeout in seconds (ring time before NO_ANSWER). */
  timeoutSec: number;
  /** Application run on answer; default `&park()`. */
  app?: string;
  /** Endpoint prefixes the dial string may start with; default DEFAULT_DIAL_ENDPOINTS. */
  endpoints?: readonly string[];
}

const RESERVED_VARS = new Set(['origination_uuid', 'ignore_early_media', 'originate_timeout']);
const VAR_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * What a dial string must not contain, because switch_ivr_originate() would read it as more than
 * one endpoint: whitespace ends the argument; `{…}`, `[…]` and `<…>` are variable blocks (per
 * originate, per leg, per enterprise leg: `sofia/gateway/gw/1,[api_on_answer=…]sofia/…` would set
 * channel variables); `,`, `|` and `:_:` separate legs; `^` starts a custom separator; quotes and
 * backslashes are quoting and escapes of the command line (`\s` becomes a space); `{` also stops
 * `${…}` expansion, which can call an API.
 */
const DIAL_STRING_FORBIDDEN = /[\s{}[\]<>,|^'"\\]|:_:/;

/** Why this (tenant-configured) dial string cannot be sent, or null. */
export function dialStringProblem(dialString: string): string | null {
  if (dialString === '') return 'is empty';
  const bad = DIAL_STRING_FORBIDDEN.exec(dialString);
  return bad ? `must not contain ${JSON.stringify(bad[0])} (whitespace, {}, [], <>, ",", "|", ":_:", "^", quotes and backslashes are originate syntax)` : null;
}

/**
 * Endpoint types a tenant's destination may dial unless the operator allows more: a gateway the
 * operator configured. Others reach further than a carrier: `loopback/…` runs the dialplan in any
 * context, `sofia/<profile>/…@host` and `user/…@domain` call any SIP host or another domain's users,
 * `error/…`, `group/…` and the rest are not for customers.
 */
export const DEFAULT_DIAL_ENDPOINTS: readonly string[] = ['sofia/gateway/'];

/** Why this endpoint type may not be dialled, or null. Compared without case (FreeSWITCH reads
 *  `gateway/` without case; a prefix in another case is refused or not an endpoint at all). */
export function dialEndpointProblem(dialString: string, endpoints: readonly string[] = DEFAULT_DIAL_ENDPOINTS, setting = 'DIAL_ENDPOINTS_ALLOW'): string | null {
  const lower = dialString.toLowerCase();
  if (endpoints.some((e) => lower.startsWith(e.toLowerCase()))) return null;
  return `must dial an allowed endpoint: ${endpoints.join(', ')} (the operator can allow more in ${setting})`;
}

/**
 * Value sanitising and escaping for one `{}` channel variable.
 *
 * 1. Webitel v3 rule: strip `'`, `"`, CR, LF, TAB and backslash. Removing every backslash
 *    means the only backslashes in our output are the escapes we add below.
 * 2. Also strip `{` and `}`: switch_find_end_paren() counts braces without honouring
 *    escapes, so an unbalanced brace in a value would end (or extend) the variable block.
 *    This also defuses `${…}`, which FreeSWITCH would refuse to set ("contains a variable").
 * 3. Trim: FreeSWITCH trims leading/trailing spaces of every variable anyway.
 * 4. `,` -> `\,` and space -> `\s`.
 *
 * Why these escapes (FreeSWITCH source, switch_utils.c / switch_event.c / mod_commands.c):
 * the API command line is first split on spaces by switch_separate_string(' ')
 * (separate_string_blank_delim): a backslash protects the next character from splitting,
 * and cleanup_separated_string(…, 0) then turns `\s` into a space but leaves `\,` as is
 * (`,` is neither the delimiter nor an escape letter). switch_ivr_originate() then parses
 * `{…}` with switch_event_create_brackets(…, ','), whose separate_string_char_delim(',')
 * again skips escaped characters and whose cleanup turns `\,` into `,`. The `name=value`
 * split only splits at the first `=`, so `=` in values is fine. Net result: the channel
 * variable holds the sanitised value exactly. (The `{^^<c>…}` custom-separator syntax that
 * Webitel v3 used, with ESC as separator, works too, but puts an invisible control byte
 * in logs and in Job-Command-Arg; `\,` is the documented form and reads better.)
 */
export function sanitizeVarValue(value: string | number | boolean): string {
  return String(value)
    .replace(/['"\r\n\t\\{}]/g, '')
    .trim()
    .replace(/,/g, '\\,')
    .replace(/ /g, '\\s');
}

/**
 * `originate {origination_uuid=U,ignore_early_media=true,originate_timeout=N,k=v,…}<dial> &park()`
 *
 * ignore_early_media=true is mandatory for a dialer: with the FreeSWITCH default (false) a 183
 * with SDP counts as success and originate returns +OK before anybody answered (spec §2.1).
 * The order of the first three variables matches the golden captures.
 */
export function buildOriginate(o: OriginateOptions): string {
  if (!/^[0-9A-Za-z-]{1,64}$/.test(o.uuid)) throw new Error(`buildOriginate: invalid uuid ${JSON.stringify(o.uuid)}`);
  if (dialStringProblem(o.dialString) || dialEndpointProblem(o.dialString, o.endpoints)) {
    throw new Error(`buildOriginate: invalid dial string ${JSON.stringify(o.dialString)}`);
  }
  if (!Number.isInteger(o.timeoutSec) || o.timeoutSec <= 0) {
    throw new Error(`buildOriginate: timeoutSec must be a positive integer, got ${o.timeoutSec}`);
  }
  const app = o.app ?? '&park()';
  if (/[\r\n]/.test(app) || app.trim() === '') throw new Error(`buildOriginate: invalid app ${JSON.stringify(app)}`);

  const parts = [`origination_uuid=${o.uuid}`, 'ignore_early_media=true', `originate_timeout=${o.timeoutSec}`];
  for (const [name, value] of Object.entries(o.vars)) {
    if (!VAR_NAME.test(name)) throw new Error(`buildOriginate: invalid variable name ${JSON.stringify(name)}`);
    if (RESERVED_VARS.has(name)) throw new Error(`buildOriginate: ${name} is set by buildOriginate itself`);
    const v = sanitizeVarValue(value);
    // FreeSWITCH treats an empty value as "unset" (the header is never added), so omit it.
    if (v === '') continue;
    parts.push(`${name}=${v}`);
  }
  return `originate {${parts.join(',')}}${o.dialString} ${app}`;
}

/**
 * `&bridge({<vars>}<dial string>)`: the application of an agent-first originate (§2.3) that calls
 * the member from the answered agent leg. The single-application form, because an inline list is
 * split at every comma outside quotes, including those of the `{…}` block. mod_commands cuts the
 * application at its first `)`, so neither the dial string nor a value may contain one.
 */
export function bridgeApp(dialString: string, vars: Record<string, string | number | boolean>): string {
  if (dialStringProblem(dialString) || /[()]/.test(dialString)) throw new Error(`bridgeApp: invalid dial string ${JSON.stringify(dialString)}`);
  const parts: string[] = [];
  for (const [name, value] of Object.entries(vars)) {
    if (!VAR_NAME.test(name)) throw new Error(`bridgeApp: invalid variable name ${JSON.stringify(name)}`);
    const v = sanitizeVarValue(value).replace(/[()]/g, '');
    if (v !== '') parts.push(`${name}=${v}`);
  }
  return `&bridge({${parts.join(',')}}${dialString})`;
}

export type JobResult = { ok: true; uuid?: string } | { ok: false; cause: string };

/**
 * Body of a BACKGROUND_JOB (or of `api originate`):
 *   `+OK <uuid>\n` -> { ok: true, uuid }, `+OK\n` -> { ok: true },
 *   `-ERR USER_BUSY\n` -> { ok: false, cause: 'USER_BUSY' }, `-ERR no reply\n` -> cause 'no reply',
 *   `-USAGE: …` or anything else -> { ok: false, cause: <whole trimmed body> } ('EMPTY' if empty).
 */
export function parseJobResult(body: string): JobResult {
  const text = body.trim();
  if (text === '+OK' || text.startsWith('+OK ')) {
    const uuid = text.slice(3).trim();
    return uuid ? { ok: true, uuid } : { ok: true };
  }
  if (text === '-ERR' || text.startsWith('-ERR ')) {
    const cause = text.slice(4).trim();
    return { ok: false, cause: cause || 'ERR' };
  }
  return { ok: false, cause: text || 'EMPTY' };
}

export interface HangupInfo {
  uuid: string;
  cause: string;
  /** variable_hangup_cause_q850; 0 when FreeSWITCH did not report it (e.g. CHANNEL_HANGUP). */
  q850: number;
  billsec: number;
  answersec: number;
  duration: number;
  answered: boolean;
  /** every `variable_*` header, without the prefix */
  vars: Record<string, string>;
}

function int(v: string | undefined): number {
  const n = v === undefined ? NaN : parseInt(v, 10);
  return Number.isFinite(n) ? n : 0;
}

/**
 * Result of a call from its CHANNEL_HANGUP_COMPLETE (the authoritative record; spec §3).
 * `answered` never comes from the cause (NORMAL_CLEARING also ends calls killed while ringing):
 * it is true when the channel has an answer time (Caller-Channel-Answered-Time,
 * variable_answer_uepoch/answer_epoch) or a positive billsec.
 */
export function hangupFromEvent(ev: EslEvent): HangupInfo {
  const uuid = ev['Unique-ID'] ?? ev['Caller-Unique-ID'] ?? ev['variable_uuid'];
  if (!uuid) throw new Error(`hangupFromEvent: ${ev['Event-Name']} event has no Unique-ID`);
  const vars: Record<string, string> = {};
  // for…in, not Object.entries: no [key, value] array per header (~200 per hangup event).
  for (const k in ev) {
    if (k.startsWith('variable_')) vars[k.slice(9)] = ev[k];
  }
  const billsec = int(vars['billsec']);
  const answered =
    int(ev['Caller-Channel-Answered-Time']) > 0 ||
    int(vars['answer_uepoch']) > 0 ||
    int(vars['answer_epoch']) > 0 ||
    billsec > 0;
  return {
    uuid,
    cause: vars['hangup_cause'] || ev['Hangup-Cause'] || 'NONE',
    q850: int(vars['hangup_cause_q850']),
    billsec,
    answersec: int(vars['answersec']),
    duration: int(vars['duration']),
    answered,
    vars,
  };
}
