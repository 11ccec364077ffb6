// EslClient: the dialer's one way to talk to FreeSWITCH over the inbound event socket.
// Wraps modesl 1.2.1 and adds what it lacks (spec §5.3/§5.4): reconnection with capped
// backoff and re-subscription, liveness (silence => dead), timeouts on every command, prompt
// rejection of in-flight commands when the socket dies, Core-UUID change detection, and
// JSON-only events, parsed by our own frame parser (esl/frames.ts). See esl/README.md.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { Connection, Event as ModeslEvent, type FrameHeaders } from 'modesl';
import type { EslEvent } from './format';
import { FrameParser, eventFromJson, type Frame } from './frames';

export interface EslLogger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
}

export interface EslClientOptions {
  host: string;
  port: number;
  password: string;
  /** Default timeout of api/bgapi and of the whole connect+auth+subscribe handshake. Default 10000. */
  commandTimeoutMs?: number;
  /** Reconnect backoff: first delay (doubles per failed attempt). Default 250. */
  reconnectMinMs?: number;
  /** Reconnect backoff cap. Default 10000. */
  reconnectMaxMs?: number;
  /**
   * A connection that receives nothing at all for this long is treated as dead and replaced.
   * FreeSWITCH sends HEARTBEAT every 20 s by default, so the default 60000 is ~3 intervals;
   * set it to more than 2 × event-heartbeat-interval.
   */
  heartbeatTimeoutMs?: number;
  /**
   * Event names to subscribe (JSON format). HEARTBEAT and BACKGROUND_JOB are always added.
   * `CUSTOM sub::class …` may be included; it is moved to the end of the subscription line.
   */
  events?: string[];
  logger?: EslLogger;
}

export interface EslConnectedInfo {
  coreUuid: string;
  /** true when FreeSWITCH restarted since the previous connection: reconcile every in-flight call. */
  coreUuidChanged: boolean;
}

/** Base class of every error EslClient rejects with. */
export class EslError extends Error {
  override name = 'EslError';
}
/** The command was NOT sent (no usable connection). Safe to retry. */
export class EslNotConnectedError extends EslError {
  override name = 'EslNotConnectedError';
}
/** The command was sent but no reply arrived in time. It may or may not have run. */
export class EslTimeoutError extends EslError {
  override name = 'EslTimeoutError';
}
/** The command was sent, then the connection died before the reply. It may or may not have run. */
export class EslConnectionLostError extends EslError {
  override name = 'EslConnectionLostError';
}
/** FreeSWITCH answered with an error (command/reply `-ERR …`, or an unexpected api body). */
export class EslCommandError extends EslError {
  override name = 'EslCommandError';
}

export const DEFAULT_EVENTS = ['CHANNEL_HANGUP_COMPLETE', 'BACKGROUND_JOB', 'CHANNEL_ANSWER', 'CHANNEL_PARK', 'HEARTBEAT'];
const REQUIRED_EVENTS = ['BACKGROUND_JOB', 'HEARTBEAT'];

/**
 * Capped exponential backoff: nominal = min(max, min * 2^attempt), minus up to 20 % jitter
 * (never above the cap, so several dialer instances do not reconnect in lockstep).
 */
export function reconnectDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const nominal = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(nominal * (1 - 0.2 * random()));
}

/**
 * `event json …` line: plain names first, then `CUSTOM <subclasses>` last. Anything after
 * CUSTOM is read by FreeSWITCH as a subclass name (spec §1.5), so order matters.
 */
export function subscriptionCommand(events: string[]): string {
  const i = events.findIndex((e) => e.toUpperCase() === 'CUSTOM');
  const plain = i < 0 ? [...events] : events.slice(0, i);
  const custom = i < 0 ? [] : events.slice(i + 1);
  for (const r of REQUIRED_EVENTS) if (!plain.some((e) => e.toUpperCase() === r)) plain.push(r);
  return ['event json', ...plain, ...(custom.length ? ['CUSTOM', ...custom] : [])].join(' ');
}

const noopLogger: EslLogger = { info() {}, warn() {} };
const SAFE_TOKEN = /^[^\s]+$/;

interface Pending {
  fail(err: Error): void;
}

/** One TCP connection attempt and everything tied to it. Never reused after it dies. */
interface Link {
  id: number;
  conn: EventSocket;
  socket: Socket;
  ready: boolean;
  dead: boolean;
  pending: Set<Pending>;
  idleTimer: NodeJS.Timeout;
  handshakeTimer: NodeJS.Timeout;
  handshakeJob?: { jobUuid: string; resolve(coreUuid: string): void };
}

const EVENT_TYPES = new Set(['text/event-json', 'text/event-plain', 'text/event-xml']);

/**
 * modesl's inbound Connection with esl/frames.ts in place of modesl's Parser. Event frames go
 * straight to onEventFrame (no modesl Event, no wildcard emit); every other frame (auth/request,
 * command/reply, api/response, notices) is dispatched by modesl as before, so its auth and FIFO
 * reply matching are untouched. Relies on modesl 1.2.1 internals (_onConnect, _onEvent).
 */
class EventSocket extends Connection {
  onEventFrame: (frame: Frame) => void = () => {};

  constructor(host: string, port: number, password: string) {
    super(host, port, password);
    // modesl adds CHANNEL_EXECUTE_COMPLETE after auth for its execute(), which we never use:
    // it would be one more large event per answered call to parse for nothing.
    this.reqEvents = ['BACKGROUND_JOB'];
  }

  /** modesl's _onConnect, with our parser on the socket. */
  override _onConnect(): void {
    const parser = new FrameParser((f) => this.dispatch(f));
    this.socket?.on('data', (chunk: Buffer) => parser.push(chunk));
    this.emit('esl::connect');
    this.connecting = false;
    this.on('esl::event::auth::request', () => this.auth());
  }

  private dispatch(f: Frame): void {
    const type = f.headers['Content-Type'];
    try {
      if (type !== undefined && EVENT_TYPES.has(type)) return this.onEventFrame(f);
      // What modesl's Parser does with a non-event frame.
      const headers: FrameHeaders = { ...f.headers };
      if (headers['Content-Length'] !== undefined) headers['Content-Length'] = parseInt(String(headers['Content-Length']), 10);
      const ev = new ModeslEvent(headers, f.body);
      const reply = ev.getHeader('Reply-Text');
      if (typeof reply === 'string' && reply.startsWith('-ERR')) ev.addHeader('Modesl-Reply-ERR', reply.substring(5));
      else if (typeof reply === 'string' && reply.startsWith('+OK')) ev.addHeader('Modesl-Reply-OK', reply.substring(4));
      this._onEvent(ev, headers, f.body);
    } catch (err) {
      // The parser must go on; a throw here means this connection's state is unknown: retire it.
      this.emit('error', err);
    }
  }
}
if (typeof (Connection.prototype as { _onEvent?: unknown })._onEvent !== 'function') {
  throw new Error('esl/client.ts: modesl without Connection.prototype._onEvent (written for modesl 1.2.1)');
}

const ANSWERED_CALLSTATES = new Set(['ACTIVE', 'HELD', 'UNHELD']);

export class EslClient extends EventEmitter {
  coreUuid: string | undefined;

  private readonly opts: Required<Omit<EslClientOptions, 'logger'>>;
  private readonly log: EslLogger;
  private link: Link | undefined;
  private linkSeq = 0;
  private failures = 0;
  private started = false;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(opts: EslClientOptions) {
    super();
    this.opts = {
      host: opts.host,
      port: opts.port,
      password: opts.password,
      commandTimeoutMs: opts.commandTimeoutMs ?? 10_000,
      reconnectMinMs: opts.reconnectMinMs ?? 250,
      reconnectMaxMs: opts.reconnectMaxMs ?? 10_000,
      heartbeatTimeoutMs: opts.heartbeatTimeoutMs ?? 60_000,
      events: opts.events ?? DEFAULT_EVENTS,
    };
    this.log = opts.logger ?? noopLogger;
    if (/[\r\n]/.test(this.opts.password)) throw new Error('EslClient: password must not contain CR/LF');
  }

  /** Connect and stay connected (reconnecting as needed) until stop(). Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopped = false;
    this.connect();
  }

  /** Graceful: sends `exit`, waits briefly for FreeSWITCH to close, and never reconnects. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.started = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const link = this.link;
    if (!link || link.dead) return;
    const closed = new Promise<void>((resolve) => {
      link.socket.once('close', () => resolve());
      setTimeout(resolve, 1000).unref();
    });
    try {
      // sendRecv (not send) so the `+OK bye` reply keeps modesl's FIFO reply queue aligned.
      this.write(link, () => link.conn.sendRecv('exit', null, () => {}));
    } catch {
      /* socket already unusable */
    }
    await closed;
    this.kill(link, 'stopped');
  }

  isConnected(): boolean {
    return !!this.link && this.link.ready && !this.link.dead;
  }

  waitConnected(timeoutMs: number): Promise<void> {
    if (this.isConnected()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onConnected = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('connected', onConnected);
        reject(new EslTimeoutError(`ESL not connected within ${timeoutMs} ms`));
      }, timeoutMs);
      this.once('connected', onConnected);
    });
  }

  /** `api <command>`; resolves with the api/response body verbatim (errors are in the body: `-ERR …`). */
  api(command: string, timeoutMs = this.opts.commandTimeoutMs): Promise<string> {
    return this.command(`api ${command}`, timeoutMs, (link, done) =>
      link.conn.api(command, (ev) => done(ev.getBody() ?? '')),
    );
  }

  /**
   * `bgapi <command>` with our own Job-UUID header. Resolves when the `+OK Job-UUID` reply
   * arrives; the result comes later as a BACKGROUND_JOB event carrying this Job-UUID (on every
   * connection subscribed at that moment, so also after a reconnect).
   * modesl's own bgapi() is not used: it swallows that reply and only reports the job result
   * through a per-job listener that leaks when the result never comes.
   */
  bgapi(command: string, jobUuid: string, timeoutMs = this.opts.commandTimeoutMs): Promise<void> {
    if (!SAFE_TOKEN.test(jobUuid)) return Promise.reject(new Error(`bgapi: invalid Job-UUID ${JSON.stringify(jobUuid)}`));
    return this.command(`bgapi ${command}`, timeoutMs, (link, done, fail) =>
      link.conn.sendRecv(`bgapi ${command}`, { 'Job-UUID': jobUuid }, (ev) => {
        const reply = String(ev.getHeader('Reply-Text') ?? '');
        if (reply.startsWith('+OK')) done(undefined);
        else fail(new EslCommandError(`bgapi ${command.split(' ')[0]}: ${reply || 'no Reply-Text'}`));
      }),
    );
  }

  async uuidExists(uuid: string): Promise<boolean> {
    checkToken('uuid', uuid);
    const body = (await this.api(`uuid_exists ${uuid}`)).trim();
    if (body === 'true') return true;
    if (body === 'false') return false;
    throw new EslCommandError(`uuid_exists: ${body}`);
  }

  /**
   * The uuids of the channels that have been answered, from one `show channels as json`: its
   * `callstate` is ACTIVE once a channel is answered (HELD/UNHELD after a hold), and DOWN, DIALING,
   * RINGING or EARLY before (switch_channel_callstate2str; golden/esl api-with-active-call).
   * An empty list is `{"row_count": 0}` with no `rows`.
   */
  async answeredChannels(): Promise<Set<string>> {
    const body = await this.api('show channels as json');
    let table: { rows?: { uuid?: string; callstate?: string }[] };
    try {
      table = JSON.parse(body) as typeof table;
    } catch {
      throw new EslCommandError(`show channels as json: ${body.trim().slice(0, 200)}`);
    }
    return new Set((table.rows ?? []).filter((r) => r.uuid && ANSWERED_CALLSTATES.has(r.callstate ?? '')).map((r) => r.uuid!));
  }

  /** false when the channel does not exist (`-ERR No such channel!`). */
  async uuidKill(uuid: string, cause?: string): Promise<boolean> {
    checkToken('uuid', uuid);
    if (cause !== undefined) checkToken('cause', cause);
    const body = (await this.api(cause ? `uuid_kill ${uuid} ${cause}` : `uuid_kill ${uuid}`)).trim();
    if (body.startsWith('+OK')) return true;
    if (/no such channel/i.test(body)) return false;
    throw new EslCommandError(`uuid_kill: ${body}`);
  }

  /** `hupall <cause> [<var> <value>]`: hang up all channels (optionally only those with var=value). */
  async hupall(cause: string, varName?: string, varValue?: string): Promise<void> {
    checkToken('cause', cause);
    let cmd = `hupall ${cause}`;
    if (varName !== undefined) {
      checkToken('varName', varName);
      checkToken('varValue', varValue ?? '');
      cmd += ` ${varName} ${varValue}`;
    }
    const body = (await this.api(cmd)).trim();
    if (!body.startsWith('+OK')) throw new EslCommandError(`hupall: ${body}`);
  }

  // ---------------------------------------------------------------- internals

  /**
   * Runs one request on the current ready link with a timeout. Rejects at once with
   * EslNotConnectedError when there is no ready link (nothing was sent), with EslTimeoutError
   * after timeoutMs, and with EslConnectionLostError as soon as the link dies (modesl itself
   * never calls the callbacks of a dead socket). A late reply after a timeout is consumed by
   * modesl's FIFO queue and ignored, so later replies stay matched to the right command.
   */
  private command<T>(
    label: string,
    timeoutMs: number,
    send: (link: Link, done: (v: T) => void, fail: (e: Error) => void) => void,
  ): Promise<T> {
    if (/[\r\n]/.test(label)) return Promise.reject(new Error('ESL command must not contain CR or LF'));
    const link = this.link;
    if (!link || !link.ready || link.dead) {
      return Promise.reject(new EslNotConnectedError(`ESL not connected; not sent: ${short(label)}`));
    }
    return this.request(link, label, timeoutMs, send);
  }

  private request<T>(
    link: Link,
    label: string,
    timeoutMs: number,
    send: (link: Link, done: (v: T) => void, fail: (e: Error) => void) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, value?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        link.pending.delete(entry);
        if (err) reject(err);
        else resolve(value as T);
      };
      const entry: Pending = { fail: (err) => finish(err) };
      const timer = setTimeout(
        () => finish(new EslTimeoutError(`ESL ${short(label)}: no reply within ${timeoutMs} ms`)),
        timeoutMs,
      );
      link.pending.add(entry);
      try {
        this.write(link, () => send(link, (v) => finish(undefined, v), (e) => finish(e)));
      } catch (e) {
        finish(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /** modesl writes a command in several write() calls; cork so it leaves as one segment. */
  private write(link: Link, fn: () => void): void {
    link.socket.cork();
    try {
      fn();
    } finally {
      link.socket.uncork();
    }
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    if (this.stopped) return;
    const id = ++this.linkSeq;
    const { host, port, password, heartbeatTimeoutMs, commandTimeoutMs } = this.opts;
    const conn = new EventSocket(host, port, password);
    conn.onEventFrame = (frame) => this.onEventFrame(link, frame);
    const socket = conn.socket;
    if (!socket) throw new Error('modesl did not create a socket'); // cannot happen for inbound
    const link: Link = {
      id,
      conn,
      socket,
      ready: false,
      dead: false,
      pending: new Set(),
      idleTimer: setTimeout(() => this.kill(link, `nothing received for ${heartbeatTimeoutMs} ms (heartbeat timeout)`), heartbeatTimeoutMs),
      handshakeTimer: setTimeout(() => this.kill(link, `handshake not finished within ${commandTimeoutMs} ms`), commandTimeoutMs),
    };
    this.link = link;

    // Must be attached synchronously: EventEmitter2 re-throws an unhandled `error` (e.g.
    // ECONNREFUSED arrives on a later tick) and would crash the process (node-esl #10, #68).
    conn.on('error', (err) => this.onError(link, err));
    socket.once('connect', () => {
      socket.setNoDelay(true); // FreeSWITCH sets TCP_NODELAY on its side too
      socket.setKeepAlive(true, 10_000);
    });
    // Any byte counts as a sign of life; HEARTBEAT (always subscribed) guarantees some traffic.
    socket.on('data', () => link.idleTimer.refresh());
    // modesl reports only FIN (`esl::end`), not RST or a plain close (node-esl #84/#86/#87).
    socket.on('close', () => this.kill(link, 'socket closed'));
    conn.on('esl::end', () => this.kill(link, 'connection closed by FreeSWITCH'));
    conn.on('esl::event::disconnect::notice', (ev) =>
      this.kill(link, `disconnect notice: ${bodyOf(ev).trim() || '(empty)'}`),
    );
    conn.on('esl::event::auth::fail', () => this.kill(link, 'authentication failed (wrong password?)'));
    conn.on('esl::event::raw::text/rude-rejection', () => this.kill(link, 'rejected by FreeSWITCH ACL'));
    conn.once('esl::ready', () => void this.handshake(link));
  }

  private async handshake(link: Link): Promise<void> {
    // modesl has just sent its own `event json BACKGROUND_JOB CHANNEL_EXECUTE_COMPLETE` with no
    // callback; its reply will consume that queue slot first, so our replies stay aligned.
    const ms = this.opts.commandTimeoutMs;
    try {
      const sub = subscriptionCommand(this.opts.events);
      const reply = await this.request<string>(link, sub, ms, (l, done) =>
        l.conn.sendRecv(sub, null, (ev) => done(String(ev.getHeader('Reply-Text') ?? ''))),
      );
      if (!reply.startsWith('+OK')) throw new EslCommandError(`${sub}: ${reply}`);

      // Learn the Core-UUID from a BACKGROUND_JOB of our own. This also proves, on every
      // (re)connect, that events really flow on the new subscription. Other connections see
      // this `status` job too and must ignore unknown Job-UUIDs (they must anyway).
      // The waiter is registered before sending: reply and event may arrive in one TCP chunk.
      const jobUuid = randomUUID();
      const core = this.request<string>(link, 'BACKGROUND_JOB of bgapi status', ms, (l, done) => {
        l.handshakeJob = { jobUuid, resolve: done };
      });
      core.catch(() => {}); // if the bgapi below fails first, its error is the one reported
      await this.request<void>(link, 'bgapi status', ms, (l, done) =>
        l.conn.sendRecv('bgapi status', { 'Job-UUID': jobUuid }, () => done(undefined)),
      );
      const coreUuid = await core;
      if (link.dead) return;
      if (!coreUuid) throw new EslCommandError('BACKGROUND_JOB without Core-UUID');

      clearTimeout(link.handshakeTimer);
      link.handshakeJob = undefined;
      link.ready = true;
      this.failures = 0;
      const coreUuidChanged = this.coreUuid !== undefined && this.coreUuid !== coreUuid;
      if (coreUuidChanged) this.log.warn({ previous: this.coreUuid, coreUuid }, 'ESL: FreeSWITCH Core-UUID changed (restart)');
      this.coreUuid = coreUuid;
      this.log.info({ link: link.id, coreUuid, coreUuidChanged }, 'ESL connected');
      this.safeEmit('connected', { coreUuid, coreUuidChanged } satisfies EslConnectedInfo);
    } catch (err) {
      this.kill(link, `handshake failed: ${(err as Error).message}`);
    }
  }

  private onEventFrame(link: Link, frame: Frame): void {
    if (link.dead) return;
    if (frame.headers['Content-Type'] !== 'text/event-json') {
      this.log.warn({ link: link.id, type: frame.headers['Content-Type'] }, 'ESL: ignoring non-JSON event');
      return;
    }
    let event: EslEvent | undefined;
    try {
      event = eventFromJson(frame.body ?? '');
    } catch (err) {
      // One unparsable body: framing is intact, so keep the connection. FreeSWITCH's cJSON
      // output should never trigger this.
      this.log.warn({ link: link.id, err: (err as Error).message }, 'ESL: unparsable JSON event dropped');
      return;
    }
    if (!event) return;
    const job = link.handshakeJob;
    if (job && event['Event-Name'] === 'BACKGROUND_JOB' && event['Job-UUID'] === job.jobUuid) {
      job.resolve(event['Core-UUID'] ?? '');
      return;
    }
    // A throwing listener must not propagate: we run inside the socket's `data` handler.
    this.safeEmit('event', event);
    this.safeEmit(event['Event-Name'], event);
  }

  private onError(link: Link, err: unknown): void {
    const e = err as NodeJS.ErrnoException;
    this.kill(link, `socket error: ${e?.code ?? ''} ${e?.message ?? String(err)}`.trim());
  }

  /** First of error / close / FIN / notice / silence / handshake failure wins; idempotent. */
  private kill(link: Link, reason: string): void {
    if (link.dead) return;
    link.dead = true;
    clearTimeout(link.idleTimer);
    clearTimeout(link.handshakeTimer);
    const wasReady = link.ready;
    link.ready = false;
    if (this.link === link) this.link = undefined;
    // Detach everything, but keep an `error` sink (EventEmitter2 throws on unhandled `error`).
    link.conn.removeAllListeners();
    link.conn.on('error', () => {});
    link.socket.destroy();
    for (const p of [...link.pending]) {
      p.fail(new EslConnectionLostError(`ESL connection lost (${reason}); the command may or may not have run`));
    }
    link.pending.clear();
    if (wasReady) {
      this.log.warn({ link: link.id, reason }, 'ESL disconnected');
      this.safeEmit('disconnected', reason);
    } else {
      this.log.warn({ link: link.id, reason, attempt: this.failures + 1 }, 'ESL connection attempt failed');
    }
    if (this.stopped) return;
    // failures is reset to 0 by a successful handshake, so the first retry after losing a good
    // connection waits reconnectMinMs, and each further failed attempt doubles it up to the cap.
    const delay = reconnectDelay(this.failures++, this.opts.reconnectMinMs, this.opts.reconnectMaxMs);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private safeEmit(name: string, ...args: unknown[]): void {
    try {
      this.emit(name, ...args);
    } catch (err) {
      this.log.warn({ event: name, err: (err as Error)?.message ?? String(err) }, 'ESL: listener threw');
    }
  }
}

function bodyOf(ev: unknown): string {
  return (ev as ModeslEvent | undefined)?.getBody?.() ?? '';
}

function checkToken(what: string, v: string): void {
  if (!SAFE_TOKEN.test(v)) throw new Error(`ESL: invalid ${what} ${JSON.stringify(v)}`);
}

function short(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
