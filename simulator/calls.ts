// The call model: a miniature FreeSWITCH core. It owns the channels, enforces the session limits
// (sessions-per-second and max-sessions as switch_core_session_request_uuid does), runs scripted
// outcomes and fires the channel events in the order observed on a real FreeSWITCH 1.10.12.
import { randomInt, randomUUID } from 'node:crypto';
import type { CallLogInput } from './call-log';
import { cause2str, causeQ850, causeName, sipPhrase, sipStatusToCause, str2cause } from './causes';
import { Channel, CallState, CALLSTATE_NUMBER, channelEvent, ChannelEventOptions } from './channel';
import { formatLocal, formatUptime, SimClock } from './clock';
import { OriginateArgs, parseAppExten, parseDialString, parseInlineApps } from './dialstring';
import { EventFactory, heartbeatEvent, HeartbeatStats, ORIGIN, Origin, reScheduleEvent } from './events';
import type { Header, SimEvent } from './protocol';
import { CallScript, RuleBook } from './rules';

export interface CallRecord {
  /** Order in which the simulator handled the originate (1, 2, ...). */
  seq: number;
  /** `bridge`: the second leg a `bridge` application originated (it has no job of its own). */
  via: 'api' | 'bgapi' | 'bridge';
  jobUuid?: string;
  /** Full originate argument string as received. */
  command: string;
  dialString: string;
  /** First leg without variable prefixes, e.g. sofia/gateway/gw1/1001. */
  url: string;
  destination: string;
  gateway?: string;
  /** Variables from {} and [] of the dial string. */
  channelVars: Record<string, string>;
  /** Applications of an inline list that ran, as `app:data` (CHANNEL_EXECUTE order). */
  executed?: string[];
  originationUuid?: string;
  /** UUID of the channel, when one was created. */
  uuid?: string;
  rule?: string;
  /**
   * The scripted outcome type (answer, busy, no_answer, ...), or why the call never got that far:
   * sps_limit, session_limit, duplicate_uuid, invalid_gateway, error_endpoint, ...
   */
  outcome: string;
  startedAt: string;
  answeredAt?: string;
  endedAt?: string;
  state: 'dialing' | 'ringing' | 'early' | 'answered' | 'ended' | 'failed' | 'lost';
  /** Originate result without the trailing LF: "+OK <uuid>" or "-ERR <CAUSE>". */
  result?: string;
  hangupCause?: string;
  billsec?: number;
  duration?: number;
  answersec?: number;
  /**
   * After a crash took an answered call away: when the far end's BYE (at its scripted talk time)
   * gets `481 Call/Transaction Does Not Exist` — until then the callee sits in a dead call. Absent
   * when the script never hangs up (the far end stays until it gives up).
   */
  deadCallUntil?: string;
}

export interface OriginateContext {
  via: 'api' | 'bgapi' | 'bridge';
  jobUuid?: string;
  rawArg: string;
}

export interface CoreOptions {
  sessionsPerSecond: number;
  maxSessions: number;
  hostname: string;
  ipv4: string;
  ipv6: string;
  heartbeatSec: number;
  rules: RuleBook;
  clock: SimClock;
  /** Extra real-time delay before a result is reported (fault injection for BACKGROUND_JOB). */
  resultDelayMs?: () => number;
  /**
   * A reporting hook (mod_json_cdr): runs when the channel reaches CS_REPORTING, and
   * CHANNEL_HANGUP_COMPLETE is fired only once it has resolved. `alive()` turns false when the
   * simulated process that owns the channel crashes.
   */
  onReporting?: (ch: Channel, alive: () => boolean) => Promise<void>;
  /** The complete record of calls (call-log.ts); the core adds the time and its Core-UUID. */
  log?: (entry: CallLogInput) => void;
}

export const FS_VERSION = '1.10.12-release~64bit';
export const FS_VERSION_HUMAN = '1.10.12-release  64bit';
const MAX_RECORDS = 100000;
const SOFIA_PROFILES = ['external', 'internal'];
const LOCAL_IP = '127.0.0.1';
const GATEWAY_HOST = '127.0.0.1';
const GATEWAY_PORT = '5090';
/** Where registered users (agent phones, `user/<ext>`) are reached. */
const USER_HOST = '127.0.0.1:5070';
/** Causes after which `bridge` lets the application list go on (mod_dptools audio_bridge_function):
 *  the caller leg then ends NORMAL_CLEARING; any other cause hangs it up with that cause. */
const BRIDGE_CONTINUE_CAUSES = new Set(['NO_ANSWER', 'NO_USER_RESPONSE', 'ORIGINATOR_CANCEL']);
const PROFILE_PORT = '5080';

type Listener = (ev: SimEvent) => void;

function randomToken(n: number): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < n; i++) s += chars[randomInt(chars.length)];
  return s;
}

export class Core {
  coreUuid = randomUUID();
  startUs: number;
  readonly factory: EventFactory;
  readonly channels = new Map<string, Channel>();
  records: CallRecord[] = [];
  rules: RuleBook;
  maxSessions: number;
  spsTotal: number;

  private readonly flows = new Map<string, CallFlow>();
  private readonly pendingFlows = new Set<CallFlow>();
  private readonly listeners = new Set<Listener>();
  private recordSeq = 0;
  private nextSessionId = 1;
  private sessionCount = 0;
  private sessionsPeak = 0;
  private sessionsPeakFiveMin = 0;
  private peakSinceReset = 0;
  private sps: number;
  private spsLast = 0;
  private spsPeak = 0;
  private spsPeakFiveMin = 0;
  private spsTicks = 0;
  private spsTimer?: NodeJS.Timeout;
  private heartbeatTimer?: NodeJS.Timeout;

  constructor(readonly opts: CoreOptions) {
    this.rules = opts.rules;
    this.maxSessions = opts.maxSessions;
    this.spsTotal = opts.sessionsPerSecond;
    this.sps = this.spsTotal;
    this.startUs = opts.clock.nowUs();
    this.factory = new EventFactory(() => ({
      coreUuid: this.coreUuid, hostname: opts.hostname, switchname: opts.hostname, ipv4: opts.ipv4, ipv6: opts.ipv6,
    }), opts.clock);
  }

  get clock(): SimClock {
    return this.opts.clock;
  }

  /** Appends to the call log, if there is one. */
  record(entry: CallLogInput): void {
    this.opts.log?.(entry);
  }

  start(): void {
    this.record({ ev: 'start' });
    // runtime.sps is refilled once per (real) second by the timer thread (switch_time.c).
    this.spsTimer = setInterval(() => this.spsTick(), 1000);
    this.spsTimer.unref();
    if (this.opts.heartbeatSec > 0) {
      this.heartbeatTimer = setInterval(() => this.sendHeartbeat(), this.opts.heartbeatSec * 1000);
      this.heartbeatTimer.unref();
    }
  }

  stop(): void {
    clearInterval(this.spsTimer);
    clearInterval(this.heartbeatTimer);
    this.record({ ev: 'stop', vanished: this.channels.size });
    this.abandonAll();
  }

  onEvent(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  fire(ev: SimEvent): void {
    for (const fn of this.listeners) fn(ev);
  }

  // ---- statistics ------------------------------------------------------------------------------

  activeChannels(): number {
    return this.sessionCount;
  }

  peakChannels(): number {
    return this.peakSinceReset;
  }

  sessionsSinceStartup(): number {
    return this.nextSessionId - 1;
  }

  stats(): Record<string, unknown> {
    return {
      coreUuid: this.coreUuid,
      uptimeMs: Math.floor((this.clock.nowUs() - this.startUs) / 1000),
      activeChannels: this.sessionCount,
      peakChannels: this.peakSinceReset,
      sessionsPeakSinceStartup: this.sessionsPeak,
      sessionsSinceStartup: this.sessionsSinceStartup(),
      sessionsPerSecondMax: this.spsTotal,
      sessionsPerSecondLast: this.spsLast,
      sessionsPerSecondPeak: this.spsPeak,
      maxSessions: this.maxSessions,
      callsRecorded: this.records.length,
      callsActive: this.records.filter((r) => ['dialing', 'ringing', 'early', 'answered'].includes(r.state)).length,
    };
  }

  private spsTick(): void {
    this.spsLast = this.spsTotal - this.sps;
    if (this.spsTicks >= 300) {
      this.spsPeakFiveMin = 0;
      this.spsTicks = 0;
      this.sessionsPeakFiveMin = this.sessionCount;
    }
    this.spsTicks++;
    if (this.spsLast > this.spsPeakFiveMin) this.spsPeakFiveMin = this.spsLast;
    if (this.spsLast > this.spsPeak) this.spsPeak = this.spsLast;
    this.sps = this.spsTotal;
  }

  heartbeatStats(): HeartbeatStats {
    const upUs = this.clock.nowUs() - this.startUs;
    return {
      upTime: formatUptime(upUs),
      version: FS_VERSION,
      uptimeMsec: Math.floor(upUs / 1000),
      sessionCount: this.sessionCount,
      maxSessions: this.maxSessions,
      sps: this.sps >>> 0,
      spsLast: this.spsLast,
      spsPeak: this.spsPeak,
      spsPeakFiveMin: this.spsPeakFiveMin,
      sessionsSinceStartup: this.sessionsSinceStartup(),
      sessionsPeak: this.sessionsPeak,
      sessionsPeakFiveMin: this.sessionsPeakFiveMin,
      idleCpu: '99.500000',
    };
  }

  sendHeartbeat(): void {
    this.fire(heartbeatEvent(this.factory, this.heartbeatStats()));
    const next = Math.floor(this.clock.nowUs() / 1e6) + Math.max(1, Math.round(this.opts.heartbeatSec));
    this.fire(reScheduleEvent(this.factory, next));
  }

  /** The `status` API body (mod_commands status_function, with its trailing spaces). */
  statusText(): string {
    const upUs = this.clock.nowUs() - this.startUs;
    return `UP ${formatUptime(upUs)}\n` +
      `FreeSWITCH (Version ${FS_VERSION_HUMAN}) is ready\n` +
      `${this.sessionsSinceStartup()} session(s) since startup\n` +
      `${this.sessionCount} session(s) - peak ${this.sessionsPeak}, last 5min ${this.sessionsPeakFiveMin} \n` +
      `${this.spsLast} session(s) per Sec out of max ${this.spsTotal}, peak ${this.spsPeak}, last 5min ${this.spsPeakFiveMin} \n` +
      `${this.maxSessions} session(s) max\n` +
      'min idle cpu 0.00/99.50\n' +
      'Current Stack Size/Max 240K/8192K\n';
  }

  // ---- sessions ----------------------------------------------------------------------------------

  /** switch_core_session_request_uuid: duplicate UUID, then throttle, then the session limit; returns why it refused. */
  requestSession(uuid: string | undefined): string | undefined {
    if (uuid && this.channels.has(uuid)) return 'duplicate_uuid';
    const sps = --this.sps;
    if (sps <= 0) return 'sps_limit';
    if (this.sessionCount + 1 > this.maxSessions) return 'session_limit';
    return undefined;
  }

  allocateChannel(uuid: string, name: string, timeUs: number): Channel {
    const ch = new Channel(uuid, name, timeUs);
    ch.setVars([['direction', 'outbound'], ['is_outbound', 'true'], ['uuid', uuid], ['call_uuid', uuid],
      ['session_id', this.nextSessionId++]]);
    this.channels.set(uuid, ch);
    this.sessionCount++;
    if (this.sessionCount > this.sessionsPeak) this.sessionsPeak = this.sessionCount;
    if (this.sessionCount > this.sessionsPeakFiveMin) this.sessionsPeakFiveMin = this.sessionCount;
    if (this.sessionCount > this.peakSinceReset) this.peakSinceReset = this.sessionCount;
    return ch;
  }

  releaseChannel(ch: Channel): void {
    if (ch.destroyed) return;
    ch.destroyed = true;
    if (this.channels.get(ch.uuid) === ch) this.channels.delete(ch.uuid);
    this.flows.delete(ch.uuid);
    this.sessionCount--;
  }

  registerFlow(uuid: string, flow: CallFlow): void {
    this.flows.set(uuid, flow);
  }

  // ---- commands used by the API layer -----------------------------------------------------------

  /** Fault injection: this many coming originates are run a second time once their call is over. */
  repeatOriginates = 0;

  /** Runs an originate; resolves with the reply body, or null if the simulator was restarted. */
  originate(args: OriginateArgs, ctx: OriginateContext): Promise<string | null> {
    const flow = new CallFlow(this, args, ctx);
    this.pendingFlows.add(flow);
    const p = flow.start();
    void p.finally(() => this.pendingFlows.delete(flow));
    if (this.repeatOriginates > 0) {
      this.repeatOriginates--;
      // A planted duplicate: the same originate again (same origination_uuid, a second call to the
      // same person) as a dialer that re-sent it would make; its result goes nowhere.
      const again = () => {
        if (flow.channel && !flow.channel.destroyed) setTimeout(again, 50);
        else void this.originate(args, { via: 'api', rawArg: ctx.rawArg });
      };
      void p.then((r) => { if (r !== null) again(); });
    }
    return p;
  }

  /** Runs a flow that is not an API originate (the second leg of a bridge). */
  startFlow(flow: CallFlow): Promise<string | null> {
    this.pendingFlows.add(flow);
    const p = flow.start();
    void p.finally(() => this.pendingFlows.delete(flow));
    return p;
  }

  addRecord(r: Omit<CallRecord, 'seq'>): CallRecord {
    const rec: CallRecord = { seq: ++this.recordSeq, ...r };
    this.records.push(rec);
    if (this.records.length > MAX_RECORDS) this.records.splice(0, this.records.length - MAX_RECORDS);
    return rec;
  }

  kill(uuid: string, cause: string): boolean {
    const flow = this.flows.get(uuid);
    if (!flow) return false;
    flow.hangupLocal(cause);
    return true;
  }

  hupall(cause: string, match?: Array<[string, string]>): void {
    for (const flow of [...this.flows.values()]) {
      const ch = flow.channel;
      if (!ch) continue;
      if (match && !match.every(([n, v]) => ch.getVar(n) === v)) continue;
      flow.hangupLocal(cause);
    }
  }

  bridge(a: string, b: string): boolean {
    const fa = this.flows.get(a);
    const fb = this.flows.get(b);
    if (!fa || !fb || a === b || !fa.channel || !fb.channel || fa.channel.hangingUp || fb.channel.hangingUp) return false;
    fa.bridgeWith(fb);
    return true;
  }

  /** Drops every channel without events, as a crash would; pending originates never answer. */
  abandonAll(): void {
    for (const flow of [...this.flows.values(), ...this.pendingFlows]) flow.abandon();
    this.flows.clear();
    this.channels.clear();
    this.pendingFlows.clear();
    this.sessionCount = 0;
  }

  /** A new FreeSWITCH process: new Core-UUID, counters and uptime start again. */
  restart(): void {
    this.record({ ev: 'stop', vanished: this.channels.size });
    this.abandonAll();
    this.coreUuid = randomUUID();
    this.startUs = this.clock.nowUs();
    this.factory.resetSequence();
    this.nextSessionId = 1;
    this.sessionsPeak = this.sessionsPeakFiveMin = this.peakSinceReset = 0;
    this.sps = this.spsTotal;
    this.spsLast = this.spsPeak = this.spsPeakFiveMin = 0;
    this.record({ ev: 'start' });
  }

  resetRecords(): void {
    this.records = [];
    // Channels already hanging up are about to go; they do not count towards the new peak.
    this.peakSinceReset = [...this.flows.values()].filter((f) => f.channel && !f.channel.hangingUp).length;
  }

  flow(uuid: string): CallFlow | undefined {
    return this.flows.get(uuid);
  }

  /** Rows of `show channels`, in creation order (only channels that reached CHANNEL_CREATE). */
  channelRows(): Array<Array<[string, string]>> {
    const rows: Array<Array<[string, string]>> = [];
    for (const flow of this.flows.values()) {
      const ch = flow.channel;
      if (!ch || !ch.profile) continue;
      rows.push(flow.showRow(this.opts.hostname));
    }
    return rows;
  }

  /** Rows of `show calls`: one per unbridged channel or bridged pair. */
  callRows(): Array<Array<[string, string]>> {
    const rows: Array<Array<[string, string]>> = [];
    const seen = new Set<string>();
    for (const flow of this.flows.values()) {
      const ch = flow.channel;
      if (!ch || !ch.profile || seen.has(ch.uuid)) continue;
      seen.add(ch.uuid);
      const other = ch.bridgedTo ? this.flows.get(ch.bridgedTo) : undefined;
      if (other?.channel) seen.add(other.channel.uuid);
      rows.push(flow.callRow(this.opts.hostname, other));
    }
    return rows;
  }
}


type Tech = 'sofia' | 'loopback';

interface Target {
  tech: Tech;
  destination: string;
  channelName: string;
  gateway?: string;
  /** A registered user (`user/<ext>`): its script comes from the rules' `users`. */
  user?: string;
  profile: string;
  host: string;
}

/** One originate attempt and, if it got that far, the life of its channel. */
export class CallFlow {
  channel?: Channel;
  private record!: CallRecord;
  private script!: CallScript;
  private target?: Target;
  private pending = true;
  private resolveFn!: (v: string | null) => void;
  private readonly timers = new Set<NodeJS.Timeout>();
  private t0 = 0;
  private lastUs = 0;
  private gotResponse = false;
  private remoteSdpSet = false;
  private abandoned = false;
  private readonly vars: Map<string, string>;
  private readonly url: string;
  private readonly app?: { app: string; arg: string };
  /** `'app:data,…' inline`: the application list run on answer, in order. */
  private readonly inline?: Array<{ app: string; arg: string }>;
  /** Simulated seconds from the INVITE at which the running inline application is (timer jitter
   *  never reaches the CDR: every step is stamped at its scripted time). */
  private contentSec = 0;
  /** Ends the inline application running now (sleep, playback) at the given content time. */
  private breakApp?: (atSec: number) => void;
  /** The member leg a running `bridge` application is calling, until it is bridged or fails. */
  private bLeg?: CallFlow;
  /** This flow is the second leg of a `bridge` run by this caller leg. */
  private bridgeCaller?: CallFlow;

  constructor(private readonly core: Core, private readonly args: OriginateArgs, private readonly ctx: OriginateContext) {
    const parsed = parseDialString(args.aleg);
    this.vars = parsed.vars;
    this.url = parsed.url;
    this.app = parseAppExten(args.exten);
    if (!this.app && args.dialplan === 'inline') this.inline = parseInlineApps(args.exten);
  }

  start(): Promise<string | null> {
    const promise = new Promise<string | null>((resolve) => { this.resolveFn = resolve; });
    this.t0 = this.core.clock.nowUs();
    this.lastUs = this.t0;
    const target = this.parseTarget();
    this.record = this.core.addRecord({
      via: this.ctx.via, jobUuid: this.ctx.jobUuid, command: this.ctx.rawArg, dialString: this.args.aleg,
      url: this.url, destination: target.ok ? target.t.destination : '', gateway: target.ok ? target.t.gateway : undefined,
      channelVars: Object.fromEntries(this.vars), originationUuid: this.vars.get('origination_uuid'),
      outcome: 'none', startedAt: new Date(this.t0 / 1000).toISOString(), state: 'dialing',
    });
    this.core.record({ ev: 'originate', seq: this.record.seq, uuid: this.record.originationUuid, job: this.ctx.jobUuid,
      destination: this.record.destination, vars: this.record.channelVars, ...(this.bridgeCaller ? { bridgeOf: this.bridgeCaller.record.seq } : {}) });
    if (!target.ok) {
      // Endpoint refused before a session existed (error/..., unknown tech, user/...).
      this.record.outcome = target.kind;
      this.finish(`-ERR ${target.cause}\n`);
      return promise;
    }
    this.target = target.t;
    const script = target.t.user !== undefined ? this.core.rules.resolveUser(target.t.user) : this.core.rules.resolve(target.t.destination, target.t.gateway);
    this.script = script;
    this.record.outcome = script.kind;
    this.record.rule = script.rule;
    if (script.kind === 'fail' && script.noChannelCause) {
      this.finish(`-ERR ${script.noChannelCause}\n`);
      return promise;
    }
    const wanted = this.vars.get('origination_uuid');
    const refusal = this.core.requestSession(wanted);
    if (refusal) {
      // sofia_outgoing_channel: no session -> DESTINATION_OUT_OF_ORDER, no events at all.
      this.record.outcome = refusal;
      this.finish('-ERR DESTINATION_OUT_OF_ORDER\n');
      return promise;
    }
    const uuid = wanted ?? randomUUID();
    const ch = this.core.allocateChannel(uuid, 'N/A', this.t0);
    this.channel = ch;
    this.record.uuid = uuid;
    this.core.registerFlow(uuid, this);
    const refuseCause = this.gatewayRefusal(target.t);
    if (refuseCause) {
      this.bareDestroy(refuseCause);
      return promise;
    }
    this.setupChannel(ch, target.t);
    this.scheduleScript();
    return promise;
  }

  private parseTarget(): { ok: true; t: Target } | { ok: false; cause: string; kind: string } {
    const url = this.url;
    const slash = url.indexOf('/');
    const tech = (slash < 0 ? url : url.slice(0, slash)).toLowerCase();
    const rest = slash < 0 ? '' : url.slice(slash + 1);
    if (tech === 'error') {
      const code = str2cause(rest);
      return { ok: false, cause: code === 0 ? 'DESTINATION_OUT_OF_ORDER' : cause2str(code), kind: 'error_endpoint' };
    }
    if (tech === 'user') {
      // mod_dptools' user endpoint: the directory user's dial string, a sofia contact when registered.
      const ext = rest.split('@')[0] ?? '';
      if (!ext || !this.core.rules.userRegistered(ext)) return { ok: false, cause: 'USER_NOT_REGISTERED', kind: 'user_endpoint' };
      return { ok: true, t: { tech: 'sofia', destination: ext, user: ext, channelName: `sofia/internal/${ext}@${USER_HOST}`, profile: 'internal', host: USER_HOST } };
    }
    if (tech === 'loopback') {
      const dest = rest.split('/')[0] ?? '';
      return { ok: true, t: { tech: 'loopback', destination: dest, channelName: `loopback/${dest}-a`, profile: '', host: '' } };
    }
    if (tech !== 'sofia') return { ok: false, cause: 'CHAN_NOT_IMPLEMENTED', kind: 'unknown_endpoint' };
    const parts = rest.split('/');
    if (parts[0]?.toLowerCase() === 'gateway') {
      const gw = parts[1] ?? '';
      const dest = parts.slice(2).join('/');
      const number = (dest.split('@')[0] ?? '').split(';')[0] ?? '';
      return { ok: true, t: { tech: 'sofia', destination: number, channelName: `sofia/external/${number}`, gateway: gw,
        profile: 'external', host: `${GATEWAY_HOST}:${GATEWAY_PORT}` } };
    }
    const profile = parts[0] ?? '';
    const dest = parts.slice(1).join('/');
    const [user = '', host = ''] = dest.split('@');
    return { ok: true, t: { tech: 'sofia', destination: user, channelName: `sofia/${profile}/${dest}`, profile, host } };
  }

  /** Checks mod_sofia makes after the session exists; a refusal ends in a bare CHANNEL_DESTROY. */
  private gatewayRefusal(t: Target): string | undefined {
    if (t.tech !== 'sofia') return undefined;
    if (t.gateway !== undefined) {
      if (!t.gateway || !t.destination) return 'INVALID_URL';
      const status = this.core.rules.gatewayStatus(t.gateway);
      if (status === 'unknown') return 'INVALID_GATEWAY';
      if (status === 'down' || this.script.noChannelCause === 'GATEWAY_DOWN') return 'GATEWAY_DOWN';
      return undefined;
    }
    if (!SOFIA_PROFILES.includes(t.profile)) return t.profile && t.destination ? 'INVALID_PROFILE' : 'INVALID_URL';
    if (!t.host) return 'USER_NOT_REGISTERED';
    if (this.script.noChannelCause === 'GATEWAY_DOWN') return 'GATEWAY_DOWN';
    return undefined;
  }

  // ---- helpers -------------------------------------------------------------------------------------

  private at(simSec: number): number {
    const t = Math.max(this.lastUs, this.t0 + Math.round(simSec * 1e6));
    this.lastUs = t;
    return t;
  }

  private now(): number {
    const t = Math.max(this.lastUs, this.core.clock.nowUs());
    this.lastUs = t;
    return t;
  }

  private emit(name: string, origin: Origin, opts: ChannelEventOptions = {}): void {
    const ch = this.channel;
    if (!ch || this.abandoned) return;
    this.core.fire(channelEvent(this.core.factory, ch, name, origin, { timeUs: this.lastUs, ...opts }));
  }

  private emitState(running: string, number?: number): void {
    this.channel?.setState(running, number);
    this.emit('CHANNEL_STATE', ORIGIN.state);
  }

  private emitCallState(next: CallState): void {
    const ch = this.channel;
    if (!ch) return;
    const prev = ch.callState;
    ch.callState = next;
    this.emit('CHANNEL_CALLSTATE', ORIGIN.callstate, {
      pre: [['Original-Channel-Call-State', prev], ['Channel-Call-State-Number', String(CALLSTATE_NUMBER[next])]],
    });
  }

  private schedule(simSec: number, fn: () => void): void {
    const realMs = this.core.clock.realMs(simSec);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.abandoned) fn();
    }, realMs);
    this.timers.add(timer);
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Reports the originate result once (optionally delayed by the jobDelay fault). */
  private finish(body: string): void {
    if (!this.pending) return;
    this.pending = false;
    const rec = this.record;
    rec.result = body.replace(/\n$/, '');
    this.core.record({ ev: 'result', seq: rec.seq, uuid: rec.uuid ?? rec.originationUuid, result: rec.result });
    if (body.startsWith('-ERR')) {
      rec.state = 'failed';
      rec.hangupCause = body.slice(5).trim();
      if (!this.channel || this.channel.destroyed || !this.channel.profile) rec.endedAt = new Date(this.lastUs / 1000).toISOString();
    }
    const delay = this.core.opts.resultDelayMs?.() ?? 0;
    if (delay > 0) setTimeout(() => this.resolveFn(body), delay);
    else this.resolveFn(body);
  }

  abandon(): void {
    this.abandoned = true;
    this.clearTimers();
    const ch = this.channel;
    if (ch?.times.answered && !ch.hangingUp && this.script?.talkSec !== null && this.script?.talkSec !== undefined) {
      // The far end never heard of the crash: it hangs up on its own schedule and its BYE gets 481.
      this.record.deadCallUntil = new Date((ch.times.answered + this.script.talkSec * 1e6) / 1000).toISOString();
    }
    if (this.record && !['ended', 'failed'].includes(this.record.state)) this.record.state = 'lost';
    if (this.pending) {
      this.pending = false;
      this.resolveFn(null);
    }
  }

  // ---- channel setup ---------------------------------------------------------------------------------

  private bareDestroy(cause: string): void {
    // mod_sofia destroys the session it just requested: CHANNEL_DESTROY with no caller profile.
    const ch = this.channel as Channel;
    ch.setState('CS_NONE', 0);
    this.emit('CHANNEL_DESTROY', ORIGIN.destroy, { vars: true });
    ch.runningState = 'CS_DESTROY';
    this.emit('CHANNEL_STATE', ORIGIN.state);
    this.core.releaseChannel(ch);
    if (this.script.kind !== 'gateway_down') this.record.outcome = cause.toLowerCase();
    this.finish(`-ERR ${cause}\n`);
  }

  private setupChannel(ch: Channel, t: Target): void {
    ch.name = t.channelName;
    const cidNum = this.vars.get('origination_caller_id_number') ?? this.args.cidNum ?? '0000000000';
    const cidName = this.vars.get('origination_caller_id_name') ?? this.args.cidName ?? '';
    ch.profile = {
      callerIdName: cidName, callerIdNumber: cidNum, origCallerIdName: '', origCallerIdNumber: cidNum,
      calleeIdName: 'Outbound Call', calleeIdNumber: t.destination, networkAddr: '', ani: cidNum,
      destination: t.destination, source: 'src/switch_ivr_originate.c', context: this.args.context,
      channelName: t.channelName,
    };
    const earlyOk = this.vars.get('ignore_early_media') === 'true' ? 'false' : 'true';
    if (t.tech === 'sofia') {
      const gw = t.gateway;
      const sipUri = `${t.destination}@${t.host}`;
      const port = 16384 + 2 * randomInt(8192);
      const sess = randomInt(1_000_000_000, 2_000_000_000);
      const sdp = `v=0\r\no=FreeSWITCH ${sess} ${sess + 1} IN IP4 ${LOCAL_IP}\r\ns=FreeSWITCH\r\n` +
        `c=IN IP4 ${LOCAL_IP}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n` +
        'a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n';
      ch.setVars([['sip_gateway_name', gw], ['sip_local_network_addr', LOCAL_IP],
        ['sip_profile_name', gw !== undefined ? 'gateway' : undefined], ['video_media_flow', 'disabled'],
        ['text_media_flow', 'disabled'], ['channel_name', t.channelName], ['sip_destination_url', `sip:${sipUri}`]]);
      for (const [n, v] of this.vars) ch.setVar(n, v);
      ch.setVars([['originate_early_media', earlyOk], ['originate_endpoint', 'sofia'],
        ['rtp_use_codec_string', 'PCMU,PCMA'], ['local_media_ip', LOCAL_IP], ['local_media_port', port],
        ['advertised_media_ip', LOCAL_IP], ['audio_media_flow', 'sendrecv'], ['rtp_local_sdp_str', sdp],
        ['sip_outgoing_contact_uri', gw !== undefined
          ? `<sip:gw+${gw}@${LOCAL_IP}:${PROFILE_PORT};transport=udp;gw=${gw}>` : undefined],
        ['sip_req_uri', sipUri], ['sip_to_host', t.host], ['sip_from_host', t.host],
        ['sofia_profile_name', t.profile], ['recovery_profile_name', t.profile],
        ['sofia_profile_url', `sip:mod_sofia@${LOCAL_IP}:${PROFILE_PORT}`]]);
    } else {
      ch.setVar('channel_name', t.channelName);
      for (const [n, v] of this.vars) ch.setVar(n, v);
      ch.setVars([['originate_early_media', earlyOk], ['originate_endpoint', 'loopback']]);
    }
    // The state sequence of an outgoing leg as captured from FreeSWITCH 1.10.12.
    ch.setState('CS_NONE', 1);
    this.emit('CHANNEL_OUTGOING', ORIGIN.outgoing);
    this.emitState('CS_INIT', 1);
    ch.setState('CS_INIT', 2);
    this.emit('CHANNEL_CREATE', ORIGIN.create, { vars: true });
    this.emit('CHANNEL_ORIGINATE', ORIGIN.originate, { vars: true });
    this.emitState('CS_ROUTING', 2);
    this.emitState('CS_CONSUME_MEDIA', 7);
  }

  private timeoutSec(): number {
    const pick = (v: string | undefined) => (v !== undefined && parseInt(v, 10) > 0 ? parseInt(v, 10) : undefined);
    return pick(this.vars.get('leg_timeout')) ?? pick(this.vars.get('originate_timeout')) ??
      (this.args.timeoutSec > 0 ? this.args.timeoutSec : 60);
  }

  private scheduleScript(): void {
    const s = this.script;
    const timeout = this.timeoutSec();
    const progressTimeout = parseInt(this.vars.get('progress_timeout') ?? '', 10);
    const steps: Array<[number, () => void]> = [];
    const terminal = Math.min(s.answerSec ?? Infinity, s.failSec ?? Infinity);
    if (s.progressSec !== null && s.progressSec <= terminal) steps.push([s.progressSec, () => this.onRinging(s.progressSec as number)]);
    if (s.earlyMediaSec !== null && s.earlyMediaSec <= terminal) {
      steps.push([s.earlyMediaSec, () => this.onEarlyMedia(s.earlyMediaSec as number)]);
    }
    if (s.answerSec !== null) steps.push([s.answerSec, () => this.onAnswer(s.answerSec as number)]);
    if (s.failSec !== null && s.failStatus !== undefined) {
      steps.push([s.failSec, () => this.onRemoteFailure(s.failSec as number, s.failStatus as number)]);
    }
    for (const [sec, fn] of steps) {
      // Steps after originate_timeout never happen while the originate is still waiting.
      this.schedule(sec, () => {
        if (this.pending && sec >= timeout) return;
        fn();
      });
    }
    this.schedule(timeout, () => {
      // Also ends a call that returned on early media and whose far end never answers nor refuses.
      const ch = this.channel;
      const neverEnds = s.answerSec === null && s.failSec === null && ch !== undefined && !ch.times.answered;
      if (this.pending || neverEnds) this.hangupLocal('NO_ANSWER', this.at(timeout));
    });
    if (progressTimeout > 0) {
      this.schedule(progressTimeout, () => {
        const ch = this.channel;
        if (this.pending && ch && !ch.times.progress && !ch.times.progressMedia) {
          this.hangupLocal('PROGRESS_TIMEOUT', this.at(progressTimeout));
        }
      });
    }
  }

  // ---- far-end signalling ------------------------------------------------------------------------------

  /** Variables mod_sofia sets when the first SIP response arrives. */
  private firstResponse(full: boolean): void {
    const ch = this.channel as Channel;
    const t = this.target as Target;
    if (ch.profile) ch.profile.networkAddr = t.tech === 'sofia' ? GATEWAY_HOST : '';
    if (this.gotResponse || t.tech !== 'sofia') {
      this.gotResponse = true;
      return;
    }
    this.gotResponse = true;
    const host = t.host.split(':')[0] ?? t.host;
    const port = t.host.split(':')[1] ?? '5060';
    const callId = `${randomUUID()}`;
    const branch = `z9hG4bK${randomToken(13)}`;
    const fromTag = randomToken(13);
    const toTag = `${randomInt(100, 999)}SIPpTag01${randomInt(1, 9)}`;
    const via = `SIP/2.0/UDP ${LOCAL_IP}:${PROFILE_PORT};rport;branch=${branch}`;
    if (!full) {
      ch.setVars([['sip_call_id', callId], ['sip_local_network_addr', LOCAL_IP], ['sip_reply_host', host],
        ['sip_reply_port', port], ['sip_network_ip', host], ['sip_network_port', port]]);
      return;
    }
    ch.setVars([['sip_local_network_addr', LOCAL_IP], ['sip_reply_host', host], ['sip_reply_port', port],
      ['sip_network_ip', host], ['sip_network_port', port], ['sip_recover_contact', `<sip:${host}:${port};transport=UDP>`],
      ['sip_full_via', via], ['sip_recover_via', via], ['sip_full_from', `<sip:FreeSWITCH@${t.host}>;tag=${fromTag}`],
      ['sip_full_to', `<sip:${t.destination}@${t.host}>;tag=${toTag}`], ['sip_from_user', 'FreeSWITCH'],
      ['sip_from_port', port], ['sip_from_uri', `FreeSWITCH@${t.host}`], ['sip_from_host', host],
      ['sip_to_user', t.destination], ['sip_to_port', port], ['sip_to_uri', `${t.destination}@${t.host}`],
      ['sip_to_host', host], ['sip_contact_params', 'transport=UDP'], ['sip_contact_user', 'nobody'],
      ['sip_contact_port', port], ['sip_contact_uri', `nobody@${t.host}`], ['sip_contact_host', host],
      ['sip_to_tag', toTag], ['sip_from_tag', fromTag], ['sip_cseq', randomInt(100000000, 200000000)],
      ['sip_call_id', callId]]);
  }

  private onRinging(sec: number): void {
    const ch = this.channel;
    if (!ch || ch.hangingUp || ch.times.progress) return;
    this.at(sec);
    this.firstResponse(true);
    ch.times.progress = this.lastUs;
    this.emit('CHANNEL_PROGRESS', ORIGIN.progress, { vars: true });
    this.emitCallState('RINGING');
    if (this.record.state === 'dialing') this.record.state = 'ringing';
    if (this.pending && this.vars.get('return_ring_ready') === 'true') this.originateSucceeded();
  }

  private mediaUp(): void {
    const ch = this.channel as Channel;
    if (ch.media) return;
    ch.media = true;
    this.emit('CODEC', ORIGIN.codecRead, { post: [['channel-read-codec-name', 'PCMU'],
      ['channel-read-codec-rate', '8000'], ['channel-read-codec-bit-rate', '64000']] });
    this.emit('CODEC', ORIGIN.codecWrite, { post: [['Channel-Write-Codec-Name', 'PCMU'],
      ['Channel-Write-Codec-Rate', '8000'], ['Channel-Write-codec-bit-rate', '64000']] });
  }

  /** Variables set once the remote SDP is known (200 OK or 183). */
  private remoteSdpVars(): void {
    const ch = this.channel as Channel;
    if (this.remoteSdpSet || this.target?.tech !== 'sofia') return;
    this.remoteSdpSet = true;
    const port = 6000 + 2 * randomInt(1000);
    const sdp = `v=0\r\no=remote ${randomInt(10000000, 99999999)} ${randomInt(1000000000, 2000000000)} IN IP4 ${GATEWAY_HOST}\r\n` +
      `s=-\r\nc=IN IP4 ${GATEWAY_HOST}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;
    const local = ['local_media_ip', 'local_media_port', 'advertised_media_ip'].map((n) => [n, ch.getVar(n)] as [string, string | undefined]);
    ch.setVars([['switch_r_sdp', sdp], ['ep_codec_string', 'CORE_PCM_MODULE.PCMU@8000h@20i@64000b'],
      ['rtp_use_codec_string', 'PCMU,PCMA'], ['remote_video_media_flow', 'inactive'],
      ['remote_text_media_flow', 'inactive'], ['remote_audio_media_flow', 'sendrecv'], ['rtp_audio_recv_pt', '0'],
      ['rtp_use_codec_name', 'PCMU'], ['rtp_use_codec_rate', '8000'], ['rtp_use_codec_ptime', '20'],
      ['rtp_use_codec_channels', '1'], ['rtp_last_audio_codec_string', 'PCMU@8000h@20i@1c'], ['read_codec', 'PCMU'],
      ['original_read_codec', 'PCMU'], ['read_rate', '8000'], ['original_read_rate', '8000'], ['write_codec', 'PCMU'],
      ['write_rate', '8000'], ['dtmf_type', 'rfc2833'], ...local, ['rtp_use_timer_name', 'soft'], ['rtp_use_pt', '0'],
      ['rtp_use_ssrc', randomInt(1, 2 ** 31)], ['rtp_2833_send_payload', '101'], ['rtp_2833_recv_payload', '101'],
      ['remote_media_ip', GATEWAY_HOST], ['remote_media_port', port]]);
  }

  private onEarlyMedia(sec: number): void {
    const ch = this.channel;
    if (!ch || ch.hangingUp || ch.times.progressMedia) return;
    this.at(sec);
    this.firstResponse(true);
    this.mediaUp();
    this.remoteSdpVars();
    ch.times.progressMedia = this.lastUs;
    ch.answerState = 'early';
    this.emit('CHANNEL_PROGRESS_MEDIA', ORIGIN.progressMedia, { vars: true });
    this.emitCallState('EARLY');
    if (this.record.state === 'dialing' || this.record.state === 'ringing') this.record.state = 'early';
    // Without ignore_early_media=true, early media counts as success (originate returns +OK).
    if (this.pending && this.vars.get('ignore_early_media') !== 'true') this.originateSucceeded();
  }

  private onAnswer(sec: number): void {
    const ch = this.channel;
    if (!ch || ch.hangingUp || ch.times.answered) return;
    this.at(sec);
    this.firstResponse(true);
    this.mediaUp();
    this.remoteSdpVars();
    ch.times.answered = this.lastUs;
    ch.answerState = 'answered';
    this.record.state = 'answered';
    this.record.answeredAt = new Date(this.lastUs / 1000).toISOString();
    this.core.record({ ev: 'answer', seq: this.record.seq, uuid: ch.uuid });
    this.emit('CHANNEL_ANSWER', ORIGIN.answer, { vars: true });
    this.emitCallState('ACTIVE');
    if (this.pending) this.originateSucceeded();
    // AMD `cancel`: the callee hangs up during the analysis, at its `sec` (default 1).
    const amd = this.script.amd;
    const talk = amd?.result === 'cancel' ? Math.min(amd.sec ?? 1, this.script.talkSec ?? Infinity) : this.script.talkSec;
    if (talk !== null) {
      this.schedule(talk, () => this.remoteHangup(this.at(sec + talk)));
    }
  }

  /** switch_ivr_originate success: CF_DIALPLAN, caller-id flip (CALL_UPDATE), then the app runs. */
  private originateSucceeded(): void {
    const ch = this.channel as Channel;
    const p = ch.profile;
    ch.hitDialplan = true;
    if (p) {
      const oldName = p.callerIdName;
      const oldNum = p.callerIdNumber;
      ch.setVars([['endpoint_disposition', ch.times.answered ? 'ANSWER' : 'EARLY MEDIA'],
        ['pre_transfer_caller_id_number', oldNum], ['channel_cid_flipped', 'yes']]);
      p.callerIdName = p.calleeIdName;
      p.callerIdNumber = p.calleeIdNumber;
      p.calleeIdName = oldName;
      p.calleeIdNumber = oldNum;
    }
    this.emit('CALL_UPDATE', ORIGIN.callUpdate, { vars: true, pre: [['Direction', 'RECV']] });
    this.finish(`+OK ${ch.uuid}\n`);
    const caller = this.bridgeCaller;
    if (caller) {
      // The second leg of a bridge runs no application: the two legs are bridged.
      caller.bLeg = undefined;
      if (caller.channel && !caller.channel.hangingUp) caller.bridgeWith(this, this.lastUs);
      else this.hangupLocal('NORMAL_CLEARING');
      return;
    }
    // The session thread runs the application after the API has returned (BACKGROUND_JOB first).
    setImmediate(() => this.runApp());
  }

  private runApp(): void {
    const ch = this.channel;
    if (!ch || ch.hangingUp || this.abandoned) return;
    if (this.inline) {
      this.emitState('CS_EXECUTE', 4);
      ch.setVar('call_uuid', ch.getVar('call_uuid') ?? ch.uuid);
      this.contentSec = (this.lastUs - this.t0) / 1e6;
      this.runInline(0);
      return;
    }
    const app = this.app ?? { app: 'park', arg: '' };
    this.emitState('CS_EXECUTE', 4);
    const running = { name: app.app, arg: app.arg, uuid: randomUUID(), stampUs: this.lastUs };
    ch.app = running;
    ch.appLog.push(running);
    ch.setVars([['call_uuid', ch.getVar('call_uuid') ?? ch.uuid], ['current_application', app.app],
      ['current_application_data', app.arg]]);
    const post: Header[] = [['Application', app.app]];
    if (app.arg) post.push(['Application-Data', app.arg]);
    post.push(['Application-UUID', running.uuid]);
    this.emit('CHANNEL_EXECUTE', ORIGIN.execute, { vars: true, post });
    if (app.app === 'park') {
      this.emit('CHANNEL_PARK', ORIGIN.park, { vars: true });
    } else if (app.app === 'hangup') {
      this.hangupLocal(app.arg || 'NORMAL_CLEARING');
    } else if (app.app === 'bridge') {
      this.startBridge(app.arg);
    }
  }

  /**
   * `bridge <dial string>` on this (answered) leg: originates the second leg; when it answers the
   * legs are bridged (CHANNEL_BRIDGE); when it fails this leg carries `originate_failed_cause` and
   * ends NORMAL_CLEARING after NO_ANSWER / NO_USER_RESPONSE / ORIGINATOR_CANCEL (the extension goes
   * on and runs out), or with the failure's cause otherwise (audio_bridge_function).
   */
  private startBridge(dialString: string): void {
    const p = this.channel?.profile;
    const leg = new CallFlow(this.core, {
      aleg: dialString, exten: '', dialplan: '', context: 'default', cidName: p?.callerIdName, cidNum: p?.callerIdNumber, timeoutSec: 60,
    }, { via: 'bridge', rawArg: dialString });
    leg.bridgeCaller = this;
    this.bLeg = leg;
    void this.core.startFlow(leg).then((body) => {
      if (body === null || body.startsWith('+OK')) return;
      const cause = body.replace(/^-ERR\s*/, '').trim() || 'DESTINATION_OUT_OF_ORDER';
      this.bLeg = undefined;
      const ch = this.channel;
      if (!ch || ch.hangingUp || this.abandoned) return;
      ch.setVar('originate_failed_cause', cause);
      this.hangupLocal(BRIDGE_CONTINUE_CAUSES.has(cause) ? 'NORMAL_CLEARING' : cause);
    });
  }

  /**
   * One application of an inline list, then the next; after the last one the channel hangs up
   * (NORMAL_CLEARING), as FreeSWITCH does when an extension runs out of applications. Modelled:
   * playback (lengths from the rules' `playback`), say (1 s), play_and_get_digits (the number's
   * scripted `dtmf`, stored in its variable when it matches the regexp), transfer (Caller-Context
   * and destination change; the extension hangs up after the script's `extensionSec`, else stays),
   * park (stays), hangup; anything else (record_session, set …) completes at once.
   */
  private runInline(i: number): void {
    const ch = this.channel;
    const list = this.inline ?? [];
    if (!ch || ch.hangingUp || this.abandoned) return;
    const stamp = this.at(this.contentSec);
    const next = list[i];
    if (!next) return this.hangupLocal('NORMAL_CLEARING', stamp);
    const { app, arg } = next;
    if (app === 'hangup') return this.hangupLocal(arg || 'NORMAL_CLEARING', stamp);
    const running = { name: app, arg, uuid: randomUUID(), stampUs: this.lastUs };
    ch.app = running;
    ch.appLog.push(running);
    (this.record.executed ??= []).push(`${app}:${arg}`);
    ch.setVars([['current_application', app], ['current_application_data', arg]]);
    const withArg: Header[] = arg ? [['Application-Data', arg]] : [];
    this.emit('CHANNEL_EXECUTE', ORIGIN.execute, { vars: true, post: [['Application', app], ...withArg, ['Application-UUID', running.uuid]] });
    const complete = (response: string) => {
      if (!this.channel || this.channel.hangingUp || ch.app !== running) return false;
      this.at(this.contentSec);
      ch.app = undefined;
      this.emit('CHANNEL_EXECUTE_COMPLETE', ORIGIN.executeComplete, { vars: true,
        post: [['Application', app], ...withArg, ['Application-Response', response], ['Application-UUID', running.uuid]] });
      return true;
    };
    const thenNext = (response = '_none_') => { if (complete(response)) this.runInline(i + 1); };
    const rules = this.core.rules;
    const wait = (sec: number, fn: () => void) => {
      this.contentSec += sec;
      this.schedule(sec, fn);
    };
    // `break` (an AMD result's amd_on_human) ends a sleep or a playback now (CF_BREAK).
    this.breakApp = (atSec: number) => {
      this.contentSec = atSec;
      thenNext();
    };
    if (app === 'playback') {
      wait(rules.playbackSec(arg), () => thenNext('FILE PLAYED'));
    } else if (app === 'sleep') {
      wait((Number(arg) || 0) / 1000, () => thenNext());
    } else if (app === 'amd') {
      // Non-blocking: a media bug decides later; the list goes on at once.
      this.startAmd(arg, this.contentSec);
      thenNext();
    } else if (app === 'say') {
      wait(1, () => thenNext());
    } else if (app === 'play_and_get_digits') {
      // <min> <max> <tries> <timeout ms> <terminators> <file> <invalid_file> <var_name> <regexp>
      const a = arg.split(' ');
      const max = Number(a[1]) || 1;
      const tries = Number(a[2]) || 1;
      const timeoutSec = (Number(a[3]) || 0) / 1000;
      const prompt = rules.playbackSec(a[5] ?? '');
      const dtmf = this.script.dtmf;
      if (dtmf) {
        wait(prompt, () => {
          const digits = dtmf.slice(0, max);
          let ok = false;
          try { ok = new RegExp(a[8] ?? '').test(digits); } catch { ok = false; }
          if (ok && a[7] && this.channel && !this.channel.hangingUp) ch.setVar(a[7], digits);
          thenNext();
        });
      } else {
        wait((prompt + timeoutSec) * tries, () => thenNext());
      }
    } else if (app === 'park') {
      this.emit('CHANNEL_PARK', ORIGIN.park, { vars: true }); // stays until hung up or moved
    } else if (app === 'transfer') {
      const [exten, , context] = arg.split(' ');
      if (ch.profile) {
        ch.profile.destination = exten ?? ch.profile.destination;
        ch.profile.context = context ?? 'default';
      }
      complete('_none_');
      const after = this.script.extensionSec;
      if (after !== undefined) wait(after, () => this.hangupLocal('NORMAL_CLEARING', this.at(this.contentSec)));
    } else {
      thenNext();
    }
  }

  /** uuid_broadcast: recorded in the call's `executed` as `broadcast:<path>` (the play itself is not modelled). */
  broadcast(path: string): void {
    if (this.channel && !this.channel.hangingUp) (this.record.executed ??= []).push(`broadcast:${path}`);
  }

  /**
   * mod_amd on this answered channel, started at `startSec`: after the script's analysis time it sets
   * amd_result, amd_cause and amd_result_epoch (seconds) and runs amd_on_<result>
   * (switch_channel_execute_on: `hangup::<cause>` hangs up, `break` ends the running sleep or
   * playback). `cancel`: no result; the callee hangs up first (its talkSec is the analysis time).
   */
  private startAmd(arg: string, startSec: number): void {
    const p = new Map(arg.split(' ').map((kv) => kv.split('=') as [string, string]));
    const ms = (k: string, d: number) => Number(p.get(k)) || d;
    const total = ms('total_analysis_time', 5000) / 1000;
    const a = this.script.amd ?? { result: 'human' };
    if (a.result === 'cancel') return;
    const byScript = a.result === 'notsure' ? total : (a.sec ?? (a.result === 'human' ? 1 : ms('greeting', 1500) / 1000));
    const tooLong = byScript > total;
    const result = tooLong || a.result === 'notsure' ? 'NOTSURE' : a.result === 'human' ? 'HUMAN' : 'MACHINE';
    const cause = tooLong ? 'TOOLONG' : a.cause ?? { HUMAN: 'SILENCEAFTERGREETING', MACHINE: 'MAXWORDS', NOTSURE: 'TOOLONG' }[result];
    const sec = Math.min(byScript, total);
    this.schedule(sec, () => {
      const ch = this.channel;
      if (!ch || ch.hangingUp || this.abandoned) return;
      const atSec = Math.max(startSec + sec, (this.lastUs - this.t0) / 1e6);
      const us = this.at(atSec);
      ch.setVars([['amd_result', result], ['amd_cause', cause], ['amd_result_epoch', String(Math.floor(us / 1e6))]]);
      const on = ch.getVar(`amd_on_${result.toLowerCase()}`) ?? '';
      const m = /^([A-Za-z_]+)(?:::|:| )?(.*)$/.exec(on);
      if (!m) return;
      if (m[1] === 'hangup') this.hangupLocal(m[2] || 'NORMAL_CLEARING', us);
      else if (m[1] === 'break') this.breakApp?.(atSec);
    });
  }

  /** sendmsg call-command: execute. park parks; hangup hangs up; anything else completes at once. */
  execute(app: string, arg: string, appUuid: string = randomUUID()): void {
    const ch = this.channel;
    if (!ch || ch.hangingUp || this.abandoned) return;
    if (app === 'hangup') return this.hangupLocal(arg || 'NORMAL_CLEARING');
    this.now();
    ch.setVars([['current_application', app], ['current_application_data', arg]]);
    const withArg: Header[] = arg ? [['Application-Data', arg]] : [];
    this.emit('CHANNEL_EXECUTE', ORIGIN.execute, { vars: true,
      post: [['Application', app], ...withArg, ['Application-UUID', appUuid]] });
    const running = { name: app, arg, uuid: appUuid, stampUs: this.lastUs };
    ch.appLog.push(running);
    if (app === 'park') {
      ch.app = running;
      this.emit('CHANNEL_PARK', ORIGIN.park, { vars: true });
      return;
    }
    this.emit('CHANNEL_EXECUTE_COMPLETE', ORIGIN.executeComplete, { vars: true,
      post: [['Application', app], ...withArg, ['Application-Response', '_none_'], ['Application-UUID', appUuid]] });
  }

  private onRemoteFailure(sec: number, status: number): void {
    const ch = this.channel;
    if (!ch || ch.hangingUp) return;
    this.at(sec);
    const cause = sipStatusToCause(status);
    const hadResponse = this.gotResponse;
    this.firstResponse(false);
    if (this.target?.tech === 'sofia') {
      if (hadResponse) ch.setVar('sip_local_network_addr', LOCAL_IP);
      ch.setVars([['sip_hangup_disposition', 'recv_refuse'], ['sip_invite_failure_status', status],
        ['sip_invite_failure_phrase', sipPhrase(status)], ['sip_term_status', status],
        ['proto_specific_hangup_cause', `sip:${status}`], ['sip_term_cause', causeQ850(cause)]]);
    }
    this.beginHangup(cause);
    // A refused INVITE: without a reporting hook the whole teardown runs before originate reports
    // the failure; with mod_json_cdr, originate has returned while the CDR is being posted.
    this.teardown(cause, [], () => {
      if (this.pending) {
        this.finish(`-ERR ${cause}\n`);
        setImmediate(() => this.destroy());
      } else {
        this.destroy();
      }
    });
    if (this.pending) this.finish(`-ERR ${cause}\n`);
  }

  /** The far end hangs up an established (or early) call: BYE with the scripted cause. */
  private remoteHangup(timeUs: number): void {
    const ch = this.channel;
    if (!ch || ch.hangingUp) return;
    this.lastUs = Math.max(this.lastUs, timeUs);
    const cause = causeName(this.script.byeCause);
    if (this.target?.tech === 'sofia') {
      ch.setVars([['sip_term_status', '200'], ['proto_specific_hangup_cause', 'sip:200'],
        ['sip_term_cause', causeQ850(cause)]]);
    }
    this.beginHangup(cause);
    if (this.target?.tech === 'sofia') ch.setVar('sip_hangup_disposition', 'recv_bye');
    this.teardown(cause, [], () => this.destroy());
  }

  /** Local hangup: uuid_kill, hupall, originate timeout, progress timeout, hangup app. */
  hangupLocal(causeIn: string, timeUs?: number): void {
    const ch = this.channel;
    if (!ch || ch.hangingUp || this.abandoned) return;
    if (timeUs !== undefined) this.lastUs = Math.max(this.lastUs, timeUs);
    else this.now();
    const cause = causeName(causeIn);
    const answered = ch.times.answered > 0;
    this.beginHangup(cause);
    const late: Array<[string, string]> = [];
    if (this.target?.tech === 'sofia') {
      if (answered) late.push(['sip_hangup_disposition', 'send_bye']);
      else late.push(['sip_hangup_disposition', 'send_cancel'], ['sip_invite_failure_status', '487'],
        ['sip_invite_failure_phrase', 'CANCEL']);
    }
    if (this.pending) this.finish(`-ERR ${cause}\n`);
    // CHANNEL_HANGUP is fired by the thread that hung up; the rest follows on the session thread.
    setImmediate(() => {
      if (this.abandoned) return;
      this.teardown(cause, late, () => this.destroy());
    });
  }

  private beginHangup(cause: string): void {
    const ch = this.channel as Channel;
    ch.hangingUp = true;
    this.clearTimers();
    ch.hangupCause = cause;
    ch.answerState = 'hangup';
    ch.stateNumber = 10;
    this.emit('CHANNEL_HANGUP', ORIGIN.hangup, { vars: true });
    this.record.hangupCause = cause;
    this.core.record({ ev: 'hangup', seq: this.record.seq, uuid: ch.uuid, cause, answered: ch.times.answered > 0 });
    const ringing = this.bLeg;
    this.bLeg = undefined;
    if (ringing) ringing.hangupLocal('ORIGINATOR_CANCEL');
    const partner = ch.bridgedTo ? this.core.flow(ch.bridgedTo) : undefined;
    if (partner) {
      ch.bridgedTo = undefined;
      if (partner.channel) partner.channel.bridgedTo = undefined;
      this.emit('CHANNEL_UNBRIDGE', ORIGIN.unbridge, { vars: true });
      partner.hangupLocal('NORMAL_CLEARING', this.lastUs);
    }
  }

  /**
   * From CHANNEL_HANGUP to CHANNEL_HANGUP_COMPLETE; `late` vars are set after the CDR timestamps.
   * The reporting hook (mod_json_cdr's post and retries) runs before CHANNEL_HANGUP_COMPLETE;
   * `then` follows the event.
   */
  private teardown(cause: string, late: Array<[string, string]>, then: () => void): void {
    const ch = this.channel as Channel;
    const hangupUs = this.lastUs;
    if (ch.app) {
      const app = ch.app;
      if (app.name === 'park') this.emit('CHANNEL_UNPARK', ORIGIN.unpark, { vars: true });
      const post: Header[] = [['Application', app.name]];
      if (app.arg) post.push(['Application-Data', app.arg]);
      post.push(['Application-Response', '_none_'], ['Application-UUID', app.uuid]);
      this.emit('CHANNEL_EXECUTE_COMPLETE', ORIGIN.executeComplete, { vars: true, post });
      ch.app = undefined;
    }
    this.emitState('CS_HANGUP', 10);
    ch.times.hungup = hangupUs;
    this.emitCallState('HANGUP');
    this.emitState('CS_REPORTING', 11);
    ch.setVars([['hangup_cause', cause], ['hangup_cause_q850', causeQ850(cause)], ['digits_dialed', 'none']]);
    const cdr = setTimestampVars(ch);
    for (const [n, v] of late) ch.setVar(n, v);
    if (ch.media) setRtpStats(ch);
    const rec = this.record;
    rec.billsec = cdr.billsec;
    rec.duration = cdr.duration;
    rec.answersec = cdr.answersec;
    rec.hangupCause = cause;
    rec.endedAt = new Date(ch.times.hungup / 1000).toISOString();
    if (rec.state !== 'failed') rec.state = 'ended';
    const hook = this.core.opts.onReporting;
    const complete = () => {
      if (this.abandoned) return;
      // Created after the hook: its Event-Date is the time it is sent, *_time stay the hangup's.
      if (hook) this.now();
      this.emit('CHANNEL_HANGUP_COMPLETE', ORIGIN.hangupComplete, { vars: true, pre: [['Hangup-Cause', cause]] });
      this.core.record({ ev: 'complete', seq: rec.seq, uuid: ch.uuid, cause });
      then();
    };
    if (!hook) return complete();
    hook(ch, () => !this.abandoned).then(complete, complete);
  }

  private destroy(): void {
    const ch = this.channel as Channel;
    if (ch.destroyed || this.abandoned) return;
    ch.stateNumber = 12;
    this.emit('CHANNEL_DESTROY', ORIGIN.destroy, { vars: true });
    ch.runningState = 'CS_DESTROY';
    this.emit('CHANNEL_STATE', ORIGIN.state);
    this.core.releaseChannel(ch);
  }

  /** Bridges this leg with `other` now, or at `timeUs` (the scripted time of the event that
   *  bridged them, e.g. the second leg's answer). */
  bridgeWith(other: CallFlow, timeUs?: number): void {
    const a = this.channel as Channel;
    const b = other.channel as Channel;
    const t = timeUs === undefined ? this.now() : Math.max(this.lastUs, timeUs);
    this.lastUs = t;
    for (const [flow, ch, peer] of [[this, a, b], [other, b, a]] as const) {
      ch.bridgedTo = peer.uuid;
      ch.times.bridged = t;
      ch.setVars([['bridge_to', peer.uuid], ['last_bridge_to', peer.uuid], ['bridge_channel', peer.name],
        ['bridge_uuid', peer.uuid], ['signal_bond', peer.uuid]]);
      if (ch.app?.name === 'park') {
        flow.lastUs = Math.max(flow.lastUs, t);
        flow.emit('CHANNEL_UNPARK', ORIGIN.unpark, { vars: true });
      }
    }
    this.emit('CHANNEL_BRIDGE', ORIGIN.bridge, {
      vars: true, pre: [['Bridge-A-Unique-ID', a.uuid], ['Bridge-B-Unique-ID', b.uuid]],
      post: [['Other-Type', 'originatee'], ...a.profileHeaders('Other-Leg', b.profile ?? a.profile!)],
    });
  }

  // ---- show channels / show calls ----------------------------------------------------------------

  showRow(hostname: string): Array<[string, string]> {
    const ch = this.channel as Channel;
    const p = ch.profile!;
    const flipped = ch.getVar('channel_cid_flipped') === 'yes';
    const media = ch.media;
    return [
      ['uuid', ch.uuid], ['direction', 'outbound'], ['created', formatLocal(ch.times.created)],
      ['created_epoch', String(Math.floor(ch.times.created / 1e6))], ['name', ch.name], ['state', ch.runningState],
      ['cid_name', p.callerIdName], ['cid_num', p.callerIdNumber], ['ip_addr', ''], ['dest', p.destination],
      ['application', ch.app?.name ?? ''], ['application_data', ch.app?.arg ?? ''], ['dialplan', ''],
      ['context', p.context], ['read_codec', media ? 'PCMU' : ''], ['read_rate', media ? '8000' : ''],
      ['read_bit_rate', media ? '64000' : ''], ['write_codec', media ? 'PCMU' : ''], ['write_rate', media ? '8000' : ''],
      ['write_bit_rate', media ? '64000' : ''], ['secure', ''], ['hostname', hostname], ['presence_id', ''],
      ['presence_data', ''], ['accountcode', ''], ['callstate', ch.callState], ['callee_name', p.calleeIdName],
      ['callee_num', p.calleeIdNumber], ['callee_direction', flipped ? 'RECV' : ''], ['call_uuid', ch.getVar('call_uuid') ?? ch.uuid],
      ['sent_callee_name', ''], ['sent_callee_num', ''], ['initial_cid_name', ''], ['initial_cid_num', p.origCallerIdNumber],
      ['initial_ip_addr', ''], ['initial_dest', p.destination], ['initial_dialplan', ''], ['initial_context', p.context],
    ];
  }

  callRow(hostname: string, other: CallFlow | undefined): Array<[string, string]> {
    const mine = new Map(this.showRow(hostname));
    const theirs = other?.channel?.profile ? new Map(other.showRow(hostname)) : undefined;
    const g = (m: Map<string, string> | undefined, k: string) => m?.get(k) ?? '';
    const cols = ['uuid', 'direction', 'created', 'created_epoch', 'name', 'state', 'cid_name', 'cid_num', 'ip_addr',
      'dest', 'presence_id', 'presence_data', 'accountcode', 'callstate', 'callee_name', 'callee_num',
      'callee_direction', 'call_uuid', 'hostname', 'sent_callee_name', 'sent_callee_num'];
    const row: Array<[string, string]> = cols.map((c) => [c, g(mine, c)]);
    const bcols = ['uuid', 'direction', 'created', 'created_epoch', 'name', 'state', 'cid_name', 'cid_num', 'ip_addr',
      'dest', 'presence_id', 'presence_data', 'accountcode', 'callstate', 'callee_name', 'callee_num',
      'callee_direction', 'sent_callee_name', 'sent_callee_num'];
    for (const c of bcols) row.push([`b_${c}`, g(theirs, c)]);
    row.push(['call_created_epoch', theirs ? g(mine, 'created_epoch') : '']);
    return row;
  }
}

/** switch_channel_set_timestamps: CDR variables, seconds computed from truncated epochs as in C. */
function setTimestampVars(ch: Channel): { billsec: number; duration: number; answersec: number } {
  const t = ch.times;
  const sec = (us: number) => Math.floor(us / 1e6);
  const ms = (us: number) => Math.floor(us / 1e3);
  ch.setVar('start_stamp', formatLocal(t.created));
  ch.setVar('profile_start_stamp', formatLocal(t.profileCreated));
  if (t.answered) ch.setVar('answer_stamp', formatLocal(t.answered));
  if (t.bridged) ch.setVar('bridge_stamp', formatLocal(t.bridged));
  // record_session (a media bug) stops with the channel and reports what it recorded.
  const rec = ch.appLog.find((a) => a.name === 'record_session');
  if (rec && t.hungup) {
    const recMs = Math.floor((t.hungup - (rec.stampUs ?? t.hungup)) / 1e3);
    ch.setVars([['record_ms', String(recMs)], ['record_seconds', String(Math.floor(recMs / 1000))], ['record_samples', String(recMs * 8)]]);
  }
  if (t.progress) ch.setVar('progress_stamp', formatLocal(t.progress));
  if (t.progressMedia) ch.setVar('progress_media_stamp', formatLocal(t.progressMedia));
  ch.setVar('end_stamp', formatLocal(t.hungup));
  ch.setVars([
    ['start_epoch', sec(t.created)], ['start_uepoch', t.created],
    ['profile_start_epoch', sec(t.profileCreated)], ['profile_start_uepoch', t.profileCreated],
    ['answer_epoch', sec(t.answered)], ['answer_uepoch', t.answered],
    ['bridge_epoch', sec(t.bridged)], ['bridge_uepoch', t.bridged],
    ['last_hold_epoch', sec(t.lastHold)], ['last_hold_uepoch', t.lastHold],
    ['hold_accum_seconds', sec(t.holdAccum)], ['hold_accum_usec', t.holdAccum], ['hold_accum_ms', ms(t.holdAccum)],
    ['resurrect_epoch', sec(t.resurrect)], ['resurrect_uepoch', t.resurrect],
    ['progress_epoch', sec(t.progress)], ['progress_uepoch', t.progress],
    ['progress_media_epoch', sec(t.progressMedia)], ['progress_media_uepoch', t.progressMedia],
    ['end_epoch', sec(t.hungup)], ['end_uepoch', t.hungup],
  ]);
  const last = ch.appLog[ch.appLog.length - 1];
  ch.setVar('last_app', last?.name);
  ch.setVar('last_arg', last?.arg);
  const p = ch.profile;
  ch.setVar('caller_id', p?.callerIdName ? `"${p.callerIdName}" <${p.callerIdNumber}>` : p?.callerIdNumber);
  const duration = sec(t.hungup) - sec(t.created);
  const mduration = ms(t.hungup) - ms(t.created);
  const uduration = t.hungup - t.created;
  const bridged = t.bridged > t.created;
  const waitsec = bridged ? sec(t.bridged) - sec(t.created) : 0;
  const waitmsec = bridged ? ms(t.bridged) - ms(t.created) : 0;
  const waitusec = bridged ? t.bridged - t.created : 0;
  const ans = t.answered > 0;
  const billsec = ans ? sec(t.hungup) - sec(t.answered) : 0;
  const billmsec = ans ? ms(t.hungup) - ms(t.answered) : 0;
  const billusec = ans ? t.hungup - t.answered : 0;
  const legbillsec = ans ? duration : 0;
  const legbillmsec = ans ? mduration : 0;
  const legbillusec = ans ? uduration : 0;
  const answersec = ans ? sec(t.answered) - sec(t.created) : 0;
  const answermsec = ans ? ms(t.answered) - ms(t.created) : 0;
  const answerusec = ans ? t.answered - t.created : 0;
  const pr = t.progress > 0;
  const pm = t.progressMedia > 0;
  ch.setVars([
    ['duration', duration], ['billsec', billsec], ['progresssec', pr ? sec(t.progress) - sec(t.created) : 0],
    ['answersec', answersec], ['waitsec', waitsec],
    ['progress_mediasec', pm ? sec(t.progressMedia) - sec(t.created) : 0], ['flow_billsec', legbillsec],
    ['mduration', mduration], ['billmsec', billmsec], ['progressmsec', pr ? ms(t.progress) - ms(t.created) : 0],
    ['answermsec', answermsec], ['waitmsec', waitmsec],
    ['progress_mediamsec', pm ? ms(t.progressMedia) - ms(t.created) : 0], ['flow_billmsec', legbillmsec],
    ['uduration', uduration], ['billusec', billusec], ['progressusec', pr ? t.progress - t.created : 0],
    ['answerusec', answerusec], ['waitusec', waitusec], ['progress_mediausec', pm ? t.progressMedia - t.created : 0],
    ['flow_billusec', legbillusec],
  ]);
  return { billsec, duration, answersec };
}

/** RTP statistics mod_sofia adds at hangup when media flowed (synthetic: 50 packets a second). */
function setRtpStats(ch: Channel): void {
  const talkMs = ch.times.answered ? Math.max(0, (ch.times.hungup - ch.times.answered) / 1000) : 0;
  const packets = Math.floor(talkMs / 20);
  ch.setVars([
    ['rtp_audio_in_raw_bytes', packets * 172], ['rtp_audio_in_media_bytes', packets * 160],
    ['rtp_audio_in_packet_count', packets], ['rtp_audio_in_media_packet_count', packets],
    ['rtp_audio_in_skip_packet_count', 0], ['rtp_audio_in_jitter_packet_count', 0],
    ['rtp_audio_in_dtmf_packet_count', 0], ['rtp_audio_in_cng_packet_count', 0],
    ['rtp_audio_in_flush_packet_count', 0], ['rtp_audio_in_largest_jb_size', 0],
    ['rtp_audio_in_jitter_min_variance', '0.00'], ['rtp_audio_in_jitter_max_variance', '0.00'],
    ['rtp_audio_in_jitter_loss_rate', '0.00'], ['rtp_audio_in_jitter_burst_rate', '0.00'],
    ['rtp_audio_in_mean_interval', '0.00'], ['rtp_audio_in_flaw_total', 0],
    ['rtp_audio_in_quality_percentage', '100.00'], ['rtp_audio_in_mos', '4.50'],
    ['rtp_audio_out_raw_bytes', packets * 172], ['rtp_audio_out_media_bytes', packets * 160],
    ['rtp_audio_out_packet_count', packets], ['rtp_audio_out_media_packet_count', packets],
    ['rtp_audio_out_skip_packet_count', 0], ['rtp_audio_out_dtmf_packet_count', 0],
    ['rtp_audio_out_cng_packet_count', 0], ['rtp_audio_rtcp_packet_count', 0], ['rtp_audio_rtcp_octet_count', 0],
  ]);
}
