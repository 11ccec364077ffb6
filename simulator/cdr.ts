// mod_json_cdr as the simulator's second result channel. When a channel reaches CS_REPORTING its
// CDR is POSTed to `<url>?uuid=<channel uuid>`, independently of any event socket connection, and —
// as on FreeSWITCH 1.10.12 — CHANNEL_HANGUP_COMPLETE is fired only after that post and all its
// retries have finished (calls.ts waits for `report()`): with the endpoint down the event comes
// (retries + 1) × delay late. `retries=N` means N+1 tries; after the last failure FreeSWITCH writes
// the CDR to its err-log-dir, here counted as `givenUp`.
//
// Body and headers as captured from FreeSWITCH (golden/esl-dialer/cdr-*.json):
//   encoding 'json'   (encode=false): the JSON itself, yet `Content-Type: application/x-www-form-urlencoded`
//   encoding 'form'   (encode=true):  `cdr=<url-encoded JSON>`, same content type
//   encoding 'base64' (encode=base64): `cdr=<base64 JSON>`, application/x-www-form-base64-encoded
// With 'form' AND encodeValues, FreeSWITCH's switch_url_encode does not re-encode the `%XX` of the
// values, so a value containing `"` cannot be told from JSON syntax after decoding — as in
// FreeSWITCH. Use 'json' or 'base64' with encode-values.
// `encodeValues` (mod_json_cdr `encode-values`, default true) URL-encodes every variable value.
// The JSON has the key order of switch_ivr_generate_json_cdr: core-uuid, switchname, channel_data,
// callStats, variables, app_log (when an application ran), callflow.
import http from 'node:http';
import type { Channel } from './channel';
import { urlEncode } from './protocol';

export type CdrEncoding = 'form' | 'base64' | 'json';

export interface CdrOptions {
  /** Where to POST; `?uuid=<uuid>` is appended (mod_json_cdr `url`). */
  url: string;
  encoding?: CdrEncoding;
  encodeValues?: boolean;
  /** mod_json_cdr `retries`: tries after the first one (N → N+1 tries); default 10. */
  retries?: number;
  /** Real ms between tries (mod_json_cdr `delay`, in seconds there); default 1000. */
  delayMs?: number;
  /** Per-request timeout in ms; default 5000 (mod_json_cdr has none unless `timeout` is set). */
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
  callStats: Record<string, unknown>;
  variables: Record<string, string>;
  app_log?: { applications: Array<{ app_name: string; app_data: string; app_stamp: string }> };
  callflow: Array<{
    profile_index: string;
    extension?: { name: string; number: string; applications: Array<{ app_name: string; app_data: string }> };
    caller_profile: Record<string, string>;
    times: Record<string, string>;
  }>;
}

// switch_channel_flag / caps bitmaps as FreeSWITCH printed them for an answered and an unanswered leg.
const FLAGS_ANSWERED = '0=1;1=1;2=1;22=1;39=1;40=1;42=1;45=1;55=1;62=1;113=1;114=1;160=1;165=1;166=1';
const FLAGS_UNANSWERED = '0=1;2=1;22=1;40=1;42=1;45=1;113=1;114=1';
const CAPS = '1=1;2=1;3=1;4=1;5=1;6=1;8=1;9=1;10=1';

/** The JSON CDR of a channel in CS_REPORTING (switch_ivr_generate_json_cdr). */
export function cdrOfChannel(ch: Channel, core: { coreUuid: string; switchname: string }, encodeValues = true): JsonCdr {
  const t = ch.times;
  const p = ch.profile;
  const variables: Record<string, string> = {};
  for (const [n, v] of ch.vars) variables[n] = encodeValues ? urlEncode(v) : v;
  const media = ch.media && t.answered > 0;
  const inbound = ['raw_bytes', 'media_bytes', 'packet_count', 'media_packet_count', 'skip_packet_count', 'jitter_packet_count',
    'dtmf_packet_count', 'cng_packet_count', 'flush_packet_count', 'largest_jb_size', 'jitter_min_variance',
    'jitter_max_variance', 'jitter_loss_rate', 'jitter_burst_rate', 'mean_interval', 'flaw_total'];
  const outbound = ['raw_bytes', 'media_bytes', 'packet_count', 'media_packet_count', 'skip_packet_count', 'dtmf_packet_count',
    'cng_packet_count', 'rtcp_packet_count', 'rtcp_octet_count'];
  const stat = (prefix: string, n: string) => Number(ch.getVar(`rtp_audio_${prefix}_${n}`) ?? 0);
  const callStats = media ? {
    audio: {
      inbound: { ...Object.fromEntries(inbound.map((n) => [n, stat('in', n)])), quality_percentage: 100, mos: 4.5 },
      outbound: Object.fromEntries(outbound.map((n) => [n, n.startsWith('rtcp') ? Number(ch.getVar(`rtp_audio_${n}`) ?? 0) : stat('out', n)])),
    },
  } : {};
  const apps = ch.appLog.map((a) => ({ app_name: a.name, app_data: a.arg }));
  const first = ch.appLog[0];
  return {
    'core-uuid': core.coreUuid,
    switchname: core.switchname,
    channel_data: {
      state: ch.runningState, direction: 'outbound', state_number: String(ch.stateNumber),
      flags: t.answered ? FLAGS_ANSWERED : FLAGS_UNANSWERED, caps: CAPS,
    },
    callStats,
    variables,
    ...(apps.length ? { app_log: { applications: ch.appLog.map((a) => ({ app_name: a.name, app_data: a.arg, app_stamp: String(a.stampUs ?? t.answered) })) } } : {}),
    callflow: [{
      profile_index: '1',
      ...(first ? { extension: { name: first.name, number: '', applications: apps } } : {}),
      caller_profile: {
        username: '', dialplan: '', caller_id_name: p?.callerIdName ?? '', ani: p?.ani ?? '', aniii: '',
        caller_id_number: p?.callerIdNumber ?? '', network_addr: p?.networkAddr ?? '', rdnis: '',
        destination_number: p?.destination ?? '', uuid: ch.uuid, source: p?.source ?? '', context: p?.context ?? '',
        chan_name: p?.channelName ?? ch.name,
      },
      times: {
        created_time: String(t.created), profile_created_time: String(t.profileCreated), progress_time: String(t.progress),
        progress_media_time: String(t.progressMedia), answered_time: String(t.answered), bridged_time: String(t.bridged),
        last_hold_time: String(t.lastHold), hold_accum_time: String(t.holdAccum), hangup_time: String(t.hungup),
        resurrect_time: String(t.resurrect), transfer_time: String(t.transfer),
      },
    }],
  };
}

/** The HTTP request mod_json_cdr makes for this CDR. */
export function cdrRequest(url: string, uuid: string, cdr: JsonCdr, encoding: CdrEncoding): { url: string; contentType: string; body: string } {
  const json = JSON.stringify(cdr);
  const target = `${url}${url.includes('?') ? '&' : '?'}uuid=${uuid}`;
  const form = 'application/x-www-form-urlencoded';
  if (encoding === 'json') return { url: target, contentType: form, body: json };
  if (encoding === 'base64') return { url: target, contentType: 'application/x-www-form-base64-encoded', body: `cdr=${Buffer.from(json).toString('base64')}` };
  return { url: target, contentType: form, body: `cdr=${urlEncode(json)}` };
}

export class CdrPoster {
  private readonly stats_: CdrStats = { generated: 0, posted: 0, failedTries: 0, givenUp: 0, pending: 0 };
  private readonly waits = new Set<{ timer: NodeJS.Timeout; done: () => void }>();
  private readonly aborts = new Set<AbortController>();
  private stopped = false;

  /** `onDone`: called once per CDR with whether it was accepted and after how many tries. */
  constructor(private opts: CdrOptions, private readonly onDone?: (uuid: string, accepted: boolean, tries: number) => void) {}

  stats(): CdrStats {
    return { ...this.stats_ };
  }

  /**
   * The reporting hook: posts the channel's CDR, retrying; resolves once it was accepted or given up
   * (or `alive()` turned false: the process that owned the channel is gone).
   */
  async report(ch: Channel, core: { coreUuid: string; switchname: string }, alive: () => boolean): Promise<void> {
    if (this.stopped) return;
    const req = cdrRequest(this.opts.url, ch.uuid, cdrOfChannel(ch, core, this.opts.encodeValues ?? true), this.opts.encoding ?? 'json');
    this.stats_.generated++;
    this.stats_.pending++;
    const tries = (this.opts.retries ?? 10) + 1;
    let accepted = false;
    let n = 0;
    while (n < tries && !this.stopped && alive()) {
      if (n > 0) await this.wait(this.opts.delayMs ?? 1000);
      if (this.stopped || !alive()) break;
      n++;
      accepted = await this.post(req);
      if (accepted) break;
      this.stats_.failedTries++;
    }
    this.stats_.pending--;
    if (accepted) this.stats_.posted++;
    else if (n === tries) this.stats_.givenUp++;
    if (!this.stopped) this.onDone?.(ch.uuid, accepted, n);
  }

  /** One try, with exactly the request headers libcurl sends for mod_json_cdr. */
  private post(req: { url: string; contentType: string; body: string }): Promise<boolean> {
    const ac = new AbortController();
    this.aborts.add(ac);
    const u = new URL(req.url);
    const body = Buffer.from(req.body);
    return new Promise<boolean>((resolve) => {
      const r = http.request({
        host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', signal: ac.signal,
        timeout: this.opts.timeoutMs ?? 5000,
        headers: { Host: u.host, 'User-Agent': 'freeswitch-json/1.0', Accept: '*/*', 'Content-Length': body.length, 'Content-Type': req.contentType },
      }, (res) => {
        res.resume();
        res.on('end', () => resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300));
        res.on('error', () => resolve(false));
      });
      r.on('timeout', () => r.destroy());
      r.on('error', () => resolve(false));
      r.end(body);
    }).finally(() => this.aborts.delete(ac));
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const w = { timer: setTimeout(() => { this.waits.delete(w); resolve(); }, ms), done: resolve };
      this.waits.add(w);
    });
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.waits) {
      clearTimeout(w.timer);
      w.done();
    }
    this.waits.clear();
    for (const a of this.aborts) a.abort();
    this.aborts.clear();
  }
}
