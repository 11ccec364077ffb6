// mod_json_cdr as the simulator's second result channel: when a channel reaches CS_REPORTING (its
// CHANNEL_HANGUP_COMPLETE), its CDR is POSTed to `<url>?uuid=<channel uuid>`, independently of any
// event socket connection, with mod_json_cdr's retries and delay between tries.
//
// Body as mod_json_cdr 1.10 sends it (switch_ivr_generate_json_cdr + process_cdr):
//   encoding 'json'   (encode=false, the default here): application/json, the JSON itself
//   encoding 'form'   (encode=true):   application/x-www-form-urlencoded, `cdr=<url-encoded JSON>`
//   encoding 'base64' (encode=base64): application/x-www-form-base64-encoded, `cdr=<base64 JSON>`
// With 'form' AND encodeValues, FreeSWITCH's switch_url_encode does not re-encode the `%XX` of the
// values, so a value containing `"` cannot be told from JSON syntax after decoding — as in
// FreeSWITCH. Use 'json' or 'base64' with encode-values.
// `encodeValues` (mod_json_cdr `encode-values`, default true) URL-encodes every variable value.
// The JSON carries `core-uuid`, `switchname`, `channel_data`, `variables` and `callflow` (caller
// profile + times); `callStats` and `app_log` are left out (the simulator has no media).
import { getHeader, urlEncode, type SimEvent } from './protocol';

export type CdrEncoding = 'form' | 'base64' | 'json';

export interface CdrOptions {
  /** Where to POST; `?uuid=<uuid>` is appended (mod_json_cdr `url`). */
  url: string;
  encoding?: CdrEncoding;
  encodeValues?: boolean;
  /** Tries in all (mod_json_cdr `retries` counts tries); default 10. */
  retries?: number;
  /** Real ms between tries (mod_json_cdr `delay`, in seconds there); default 1000. */
  delayMs?: number;
  /** Per-request timeout in ms; default 5000. */
  timeoutMs?: number;
}

export interface CdrStats {
  /** CDRs generated (channels that reached reporting). */
  generated: number;
  /** Accepted by the server (2xx). */
  posted: number;
  /** Failed tries (network error or non-2xx). */
  failedTries: number;
  /** Given up after every try (mod_json_cdr would write them to err-log-dir). */
  givenUp: number;
  /** Still being tried. */
  pending: number;
}

export interface JsonCdr {
  'core-uuid': string;
  switchname: string;
  channel_data: Record<string, string>;
  variables: Record<string, string>;
  callflow: Array<{ dialplan: string; profile_index: string; caller_profile: Record<string, string>; times: Record<string, string> }>;
}

/** Caller-* time headers → callflow `times` keys (switch_ivr_generate_json_cdr). */
const TIMES: Array<[string, string]> = [
  ['Caller-Profile-Created-Time', 'profile_created_time'], ['Caller-Channel-Created-Time', 'created_time'],
  ['Caller-Channel-Progress-Time', 'progress_time'], ['Caller-Channel-Progress-Media-Time', 'progress_media_time'],
  ['Caller-Channel-Answered-Time', 'answered_time'], ['Caller-Channel-Bridged-Time', 'bridged_time'],
  ['Caller-Channel-Last-Hold', 'last_hold_time'], ['Caller-Channel-Hold-Accum', 'hold_accum_time'],
  ['Caller-Channel-Hangup-Time', 'hangup_time'], ['Caller-Channel-Resurrect-Time', 'resurrect_time'],
  ['Caller-Channel-Transfer-Time', 'transfer_time'],
];
const PROFILE: Array<[string, string]> = [
  ['Caller-Caller-ID-Name', 'caller_id_name'], ['Caller-Caller-ID-Number', 'caller_id_number'],
  ['Caller-Callee-ID-Name', 'callee_id_name'], ['Caller-Callee-ID-Number', 'callee_id_number'],
  ['Caller-ANI', 'ani'], ['Caller-Network-Addr', 'network_addr'], ['Caller-Destination-Number', 'destination_number'],
  ['Caller-Unique-ID', 'uuid'], ['Caller-Source', 'source'], ['Caller-Context', 'context'], ['Caller-Channel-Name', 'chan_name'],
];

/** The JSON CDR of a channel, from its CHANNEL_HANGUP_COMPLETE (same variables and times). */
export function cdrFromHangupEvent(ev: SimEvent, encodeValues = true): { uuid: string; cdr: JsonCdr } | null {
  if (ev.name !== 'CHANNEL_HANGUP_COMPLETE') return null;
  const h = (n: string) => getHeader(ev.headers, n);
  const uuid = h('Unique-ID');
  if (!uuid) return null;
  const variables: Record<string, string> = {};
  for (const [n, v] of ev.headers) {
    if (n.startsWith('variable_')) variables[n.slice('variable_'.length)] = encodeValues ? urlEncode(v) : v;
  }
  const pick = (pairs: Array<[string, string]>) => {
    const out: Record<string, string> = {};
    for (const [from, to] of pairs) {
      const v = h(from);
      if (v !== undefined) out[to] = v;
    }
    return out;
  };
  return {
    uuid,
    cdr: {
      'core-uuid': h('Core-UUID') ?? '',
      switchname: h('FreeSWITCH-Switchname') ?? '',
      channel_data: {
        state: h('Channel-State') ?? 'CS_REPORTING',
        direction: h('Call-Direction') ?? 'outbound',
        state_number: h('Channel-State-Number') ?? '11',
        flags: '',
        caps: '',
      },
      variables,
      callflow: [{ dialplan: 'XML', profile_index: '1', caller_profile: pick(PROFILE), times: pick(TIMES) }],
    },
  };
}

/** The HTTP request mod_json_cdr would make for this CDR. */
export function cdrRequest(url: string, uuid: string, cdr: JsonCdr, encoding: CdrEncoding): { url: string; contentType: string; body: string } {
  const json = JSON.stringify(cdr);
  const target = `${url}${url.includes('?') ? '&' : '?'}uuid=${uuid}`;
  if (encoding === 'json') return { url: target, contentType: 'application/json', body: json };
  if (encoding === 'base64') return { url: target, contentType: 'application/x-www-form-base64-encoded', body: `cdr=${Buffer.from(json).toString('base64')}` };
  return { url: target, contentType: 'application/x-www-form-urlencoded', body: `cdr=${urlEncode(json)}` };
}

export class CdrPoster {
  private readonly stats_: CdrStats = { generated: 0, posted: 0, failedTries: 0, givenUp: 0, pending: 0 };
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly aborts = new Set<AbortController>();
  private stopped = false;

  constructor(private opts: CdrOptions) {}

  setOptions(opts: CdrOptions): void {
    this.opts = opts;
  }

  stats(): CdrStats {
    return { ...this.stats_ };
  }

  /** Core event listener: every CHANNEL_HANGUP_COMPLETE becomes a CDR post. */
  onEvent(ev: SimEvent): void {
    if (this.stopped) return;
    const made = cdrFromHangupEvent(ev, this.opts.encodeValues ?? true);
    if (!made) return;
    this.stats_.generated++;
    this.stats_.pending++;
    const req = cdrRequest(this.opts.url, made.uuid, made.cdr, this.opts.encoding ?? 'json');
    // The post runs in the channel's reporting phase in FreeSWITCH; here it never delays events.
    setImmediate(() => void this.attempt(req, 1));
  }

  private async attempt(req: { url: string; contentType: string; body: string }, n: number): Promise<void> {
    if (this.stopped) return;
    const ac = new AbortController();
    this.aborts.add(ac);
    const timer = setTimeout(() => ac.abort(), this.opts.timeoutMs ?? 5000);
    let ok = false;
    try {
      const res = await fetch(req.url, {
        method: 'POST',
        headers: { 'content-type': req.contentType, 'user-agent': 'freeswitch-json/1.0' },
        body: req.body,
        signal: ac.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      ok = res.status >= 200 && res.status < 300;
    } catch {
      ok = false;
    } finally {
      clearTimeout(timer);
      this.aborts.delete(ac);
    }
    if (this.stopped) return;
    if (ok) {
      this.stats_.posted++;
      this.stats_.pending--;
      return;
    }
    this.stats_.failedTries++;
    if (n >= (this.opts.retries ?? 10)) {
      this.stats_.givenUp++;
      this.stats_.pending--;
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.attempt(req, n + 1);
    }, this.opts.delayMs ?? 1000);
    t.unref();
    this.timers.add(t);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const a of this.aborts) a.abort();
    this.aborts.clear();
  }
}
