// The inbound event socket (mod_event_socket): authentication, command replies, api/bgapi,
// subscriptions, filters and per-connection event queues, plus fault injection hooks.
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import type { Core } from './calls';
import { ApiCommands } from './commands';
import { apiEvent, backgroundJobEvent, EVENT_NAMES, eventNameFromToken, getEventHeader, ORIGIN } from './events';
import {
  apiResponseFrame, authRequestFrame, ClientCommand, CommandReader, commandReplyFrame, disconnectNoticeFrame,
  DISCONNECT_GOODBYE, DISCONNECT_LOST_EVENTS, EventFormat, eventFrame, getHeader, Header, SimEvent,
} from './protocol';

const MAX_QUEUE_LEN = 100000;
const MAX_MISSED = 500;
/** Above this many unsent bytes the socket counts as blocked and events wait in the queue. */
const SOCKET_HIGH_WATER = 1 << 20;

const MYEVENTS = ['CHANNEL_ANSWER', 'CHANNEL_APPLICATION', 'CHANNEL_BRIDGE', 'CHANNEL_CREATE', 'CHANNEL_DATA',
  'CHANNEL_DESTROY', 'CHANNEL_EXECUTE', 'CHANNEL_EXECUTE_COMPLETE', 'CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE',
  'CHANNEL_ORIGINATE', 'CHANNEL_UUID', 'CHANNEL_OUTGOING', 'CHANNEL_PARK', 'CHANNEL_PROGRESS',
  'CHANNEL_PROGRESS_MEDIA', 'CHANNEL_STATE', 'CHANNEL_UNBRIDGE', 'CHANNEL_UNPARK', 'DETECTED_SPEECH', 'DTMF',
  'NOTALK', 'TALK'];

const LOG_LEVELS: Record<string, number> = {
  console: 0, alert: 1, crit: 2, err: 3, error: 3, warning: 4, notice: 5, info: 6, debug: 7,
};

export interface ServerFaults {
  /** Half-open: nothing is sent (not even heartbeats) and nothing received is processed. */
  silence: boolean;
  /** Write every frame in chunks of this many bytes (0 = whole frames). */
  chunkSize: number;
}

export interface EslServerOptions {
  host: string;
  port: number;
  password: string;
  authTimeoutSec: number;
  core: Core;
}

export class EslServer {
  readonly faults: ServerFaults = { silence: false, chunkSize: 0 };
  private readonly server: net.Server;
  private readonly connections = new Set<EslConnection>();
  readonly commands: ApiCommands;
  private unsubscribe?: () => void;

  constructor(readonly opts: EslServerOptions) {
    this.commands = new ApiCommands(() => opts.core);
    this.server = net.createServer((socket) => this.accept(socket));
  }

  get core(): Core {
    return this.opts.core;
  }

  listen(): Promise<number> {
    this.unsubscribe = this.core.onEvent((ev) => {
      for (const c of this.connections) c.deliver(ev);
    });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Give connections that were just ended (disconnect notice + FIN) a moment to flush.
    const deadline = Date.now() + 200;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    await closing;
  }

  connectionCount(): number {
    return this.connections.size;
  }

  /** Drops every connection with a TCP RST (crash / network failure). */
  resetConnections(): void {
    for (const c of [...this.connections]) c.reset();
  }

  /** Closes every connection, with a disconnect notice (shutdown) or with a bare FIN. */
  closeConnections(notice?: string): void {
    for (const c of [...this.connections]) c.close(notice);
  }

  private accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    const conn = new EslConnection(socket, this);
    this.connections.add(conn);
    socket.on('close', () => this.connections.delete(conn));
  }
}

class EslConnection {
  private readonly reader = new CommandReader();
  private authed = false;
  private running = true;
  private format: EventFormat = 'plain';
  private eventsOn = false;
  private all = false;
  private readonly names = new Set<string>();
  private customMode = false;
  private customAll = false;
  private readonly customNames = new Set<string>();
  private filters: Header[] = [];
  private myEvents = false;
  private myUuid?: string;
  private logging = false;
  private queue: SimEvent[] = [];
  private lost = 0;
  private busy = false;
  private firstCommandTimer?: NodeJS.Timeout;

  constructor(private readonly socket: net.Socket, private readonly server: EslServer) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.destroy());
    socket.on('close', () => { this.running = false; clearTimeout(this.firstCommandTimer); });
    socket.on('drain', () => this.flush());
    this.send(authRequestFrame());
    // Only the first command is timed (read_packet(listener, &event, 25) before the main loop).
    this.firstCommandTimer = setTimeout(() => this.close(DISCONNECT_GOODBYE), server.opts.authTimeoutSec * 1000);
    this.firstCommandTimer.unref();
  }

  private get core(): Core {
    return this.server.core;
  }

  // ---- I/O -------------------------------------------------------------------------------------------

  private send(buf: Buffer): void {
    if (!this.running || this.server.faults.silence || this.socket.destroyed) return;
    const size = this.server.faults.chunkSize;
    if (size > 0) {
      for (let i = 0; i < buf.length; i += size) this.socket.write(buf.subarray(i, i + size));
    } else {
      this.socket.write(buf);
    }
  }

  destroy(): void {
    this.running = false;
    clearTimeout(this.firstCommandTimer);
    this.socket.destroy();
  }

  reset(): void {
    this.running = false;
    clearTimeout(this.firstCommandTimer);
    this.socket.resetAndDestroy();
  }

  /** Ends the connection: optional disconnect notice, then FIN. */
  close(notice?: string): void {
    if (!this.running) return;
    if (notice !== undefined) this.send(disconnectNoticeFrame(notice));
    this.running = false;
    clearTimeout(this.firstCommandTimer);
    this.socket.end();
  }

  private onData(chunk: Buffer): void {
    if (this.server.faults.silence || !this.running) return;
    this.reader.push(chunk);
    this.pump();
  }

  /** Commands are handled strictly one at a time; queued events go out between commands. */
  private pump(): void {
    while (this.running && !this.busy) {
      const cmd = this.reader.next();
      if (!cmd) break;
      clearTimeout(this.firstCommandTimer);
      this.busy = true;
      const pending = this.handle(cmd);
      if (pending) {
        pending.then(() => {
          this.busy = false;
          this.pump();
        }, () => {
          this.busy = false;
          this.destroy();
        });
        return;
      }
      this.busy = false;
    }
    this.flush();
  }

  // ---- event delivery (event_handler in mod_event_socket.c) -------------------------------------------

  deliver(ev: SimEvent): void {
    if (!this.running || !this.eventsOn) return;
    if (!this.wants(ev) || !this.passesFilters(ev)) return;
    if (this.myEvents) {
      const uuid = getEventHeader(ev, 'Unique-ID');
      if (!uuid || (this.myUuid && uuid !== this.myUuid)) return;
    }
    if (this.queue.length >= MAX_QUEUE_LEN) {
      if (++this.lost > MAX_MISSED) this.close(DISCONNECT_LOST_EVENTS);
      return;
    }
    this.lost = 0;
    this.queue.push(ev);
    if (!this.busy) this.flush();
  }

  private wants(ev: SimEvent): boolean {
    if (this.all) return true;
    if (!this.names.has(ev.name)) return false;
    if (ev.name === 'CUSTOM' && ev.subclass) return this.customAll || this.customNames.has(ev.subclass);
    return true;
  }

  /** OR of positive filters, any matching "-" filter vetoes; no filters = everything passes. */
  private passesFilters(ev: SimEvent): boolean {
    if (this.filters.length === 0) return true;
    let send = false;
    for (const [name, value] of this.filters) {
      const hval = getEventHeader(ev, name);
      if (hval === undefined) continue;
      let pos = true;
      let i = 0;
      for (; i < value.length; i++) {
        const ch = value[i];
        if (ch === '+') pos = true;
        else if (ch === '-') pos = false;
        else if (ch !== ' ') break;
      }
      if (send && pos) continue;
      const compTo = value.slice(i);
      let cmp: boolean;
      if (value.startsWith('/')) {
        const m = /^\/(.*)\/([a-z]*)$/s.exec(compTo);
        try {
          cmp = new RegExp(m ? (m[1] as string) : compTo.replace(/^\//, ''), m?.[2]?.includes('i') ? 'i' : '').test(hval);
        } catch {
          cmp = false;
        }
      } else {
        cmp = hval.toLowerCase() === compTo.toLowerCase();
      }
      if (cmp) {
        if (pos) send = true;
        else return false;
      }
    }
    return send;
  }

  private flush(): void {
    if (!this.running || this.busy) return;
    // Events are serialized when sent, in the format in force at that moment.
    while (this.queue.length > 0 && this.socket.writableLength < SOCKET_HIGH_WATER) {
      const ev = this.queue.shift() as SimEvent;
      this.send(eventFrame(ev, this.format));
    }
  }

  // ---- commands (parse_command in mod_event_socket.c) ---------------------------------------------------

  private reply(text: string, extra: Header[] = []): void {
    this.send(commandReplyFrame(text, extra));
  }

  private handle(c: ClientCommand): Promise<void> | undefined {
    const cmd = c.command;
    const lower = cmd.toLowerCase();
    if (lower.startsWith('exit') || lower.startsWith('...')) {
      this.reply('+OK bye');
      this.close(DISCONNECT_GOODBYE);
      return undefined;
    }
    if (!this.authed) {
      if (lower.startsWith('auth ')) {
        if (cmd.slice(5) === this.server.opts.password) {
          this.authed = true;
          this.reply('+OK accepted');
        } else {
          this.reply('-ERR invalid');
          this.close(DISCONNECT_GOODBYE);
        }
      } else if (lower.startsWith('userauth ')) {
        // No directory users exist in the simulator.
        this.reply('-ERR invalid');
        this.close(DISCONNECT_GOODBYE);
      } else {
        this.reply('-ERR command not found');
      }
      return undefined;
    }
    if (lower.startsWith('filter ')) return void this.filterCommand(cmd.slice(7));
    if (lower.startsWith('myevents ')) return void this.myEventsCommand(cmd);
    if (lower.startsWith('divert_events')) return void this.reply('-ERR not controlling a session.');
    if (lower.startsWith('sendmsg')) return void this.sendMsg(c);
    if (lower.startsWith('sendevent')) return void this.sendEvent(c);
    if (lower.startsWith('api ')) return this.api(cmd.slice(4));
    if (lower.startsWith('bgapi ')) return void this.bgapi(cmd.slice(6), getHeader(c.headers, 'job-uuid'));
    if (lower.startsWith('log')) return void this.logCommand(cmd.slice(3));
    if (lower.startsWith('linger') || lower.startsWith('nolinger')) return void this.reply('-ERR not controlling a session');
    if (lower.startsWith('nolog')) {
      this.reply(this.logging ? '+OK no longer logging' : '-ERR not loging');
      this.logging = false;
      return undefined;
    }
    if (lower.startsWith('event')) return void this.eventCommand(cmd);
    if (lower.startsWith('nixevent')) return void this.nixEventCommand(cmd);
    if (lower.startsWith('noevents')) return void this.noEvents();
    this.reply('-ERR command not found');
    return undefined;
  }

  private eventCommand(cmd: string): void {
    const sp = cmd.indexOf(' ', 5);
    const tokens = sp < 0 ? [] : cmd.slice(sp + 1).split(' ');
    let keys = 0;
    tokens.forEach((tok, i) => {
      if (i === 0 && ['plain', 'json', 'xml'].includes(tok.toLowerCase())) {
        this.format = tok.toLowerCase() as EventFormat;
        return;
      }
      if (this.customMode) {
        if (tok) this.customNames.add(tok);
        return;
      }
      const name = eventNameFromToken(tok);
      if (!name) return;
      keys++;
      if (name === 'ALL') {
        this.all = true;
        this.customAll = true;
        for (const n of EVENT_NAMES) this.names.add(n);
      } else {
        this.names.add(name);
      }
      if (name === 'CUSTOM') this.customMode = true;
    });
    // CUSTOM only changes how the rest of *this* line is read.
    this.customMode = false;
    if (keys === 0) return this.reply('-ERR no keywords supplied');
    this.eventsOn = true;
    this.reply(`+OK event listener enabled ${this.format}`);
  }

  private nixEventCommand(cmd: string): void {
    const sp = cmd.indexOf(' ', 8);
    const tokens = sp < 0 ? [] : cmd.slice(sp + 1).split(' ');
    let keys = 0;
    let custom = false;
    for (const tok of tokens) {
      if (custom) {
        this.customNames.delete(tok);
        continue;
      }
      const name = eventNameFromToken(tok);
      if (!name) continue;
      keys++;
      if (name === 'CUSTOM') {
        custom = true;
      } else if (name === 'ALL') {
        this.all = false;
        this.names.clear();
      } else {
        if (this.all) {
          // "everything except": ALL becomes the explicit list of every other event.
          this.all = false;
          for (const n of EVENT_NAMES) if (n !== 'ALL') this.names.add(n);
        }
        this.names.delete(name);
      }
    }
    if (keys === 0) return this.reply('-ERR no keywords supplied');
    this.eventsOn = true;
    this.reply('+OK events nixed');
  }

  private noEvents(): void {
    this.queue = [];
    if (!this.eventsOn) return this.reply('-ERR not listening for events');
    this.eventsOn = false;
    this.all = false;
    this.names.clear();
    this.customNames.clear();
    this.customAll = false;
    this.reply('+OK no longer listening for events');
  }

  private filterCommand(rest: string): void {
    let name = rest.replace(/^ +/, '');
    let value: string | undefined;
    const sp = name.indexOf(' ');
    if (sp >= 0) {
      value = name.slice(sp + 1);
      name = name.slice(0, sp);
    }
    if (name.toLowerCase() === 'delete' && value !== undefined) {
      let delName = value;
      let delVal: string | undefined;
      const sp2 = delName.indexOf(' ');
      if (sp2 >= 0) {
        delVal = delName.slice(sp2 + 1);
        delName = delName.slice(0, sp2);
      }
      if (delName.toLowerCase() === 'all') {
        this.filters = [];
      } else {
        this.filters = this.filters.filter(([n, v]) =>
          !(n.toLowerCase() === delName.toLowerCase() && (delVal === undefined || v === delVal)));
      }
      return this.reply(`+OK filter deleted. [${delName}][${delVal ?? ''}]`);
    }
    if (value !== undefined) {
      if (name.toLowerCase() === 'add') {
        const sp3 = value.indexOf(' ');
        name = sp3 >= 0 ? value.slice(0, sp3) : value;
        value = sp3 >= 0 ? value.slice(sp3 + 1) : undefined;
      }
      if (value !== undefined && value !== '') this.filters.push([name, value]);
      return this.reply(`+OK filter added. [${name}]=[${value ?? '(null)'}]`);
    }
    this.reply('-ERR invalid syntax');
  }

  private myEventsCommand(cmd: string): void {
    if (this.myEvents) return this.reply('-ERR aready enabled.');
    const rest = cmd.slice(9);
    const sp = rest.indexOf(' ');
    const uuid = sp < 0 ? rest : rest.slice(0, sp);
    const fmt = sp < 0 ? undefined : rest.slice(sp + 1);
    const exists = this.core.channels.has(uuid);
    if (!exists && fmt) return this.reply('-ERR invalid uuid');
    if (exists) this.myUuid = uuid;
    for (const n of MYEVENTS) this.names.add(n);
    this.myEvents = true;
    this.eventsOn = true;
    if (/xml/i.test(cmd)) this.format = 'xml';
    if (/json/i.test(cmd)) this.format = 'json';
    this.reply('+OK Events Enabled');
  }

  private logCommand(rest: string): void {
    const level = rest.trim().split(' ')[0] ?? '';
    let n: number | undefined = 7;
    if (level) n = /^[0-9]+$/.test(level) ? parseInt(level, 10) : LOG_LEVELS[level.toLowerCase()];
    if (n === undefined || n > 7) return this.reply('-ERR invalid log level');
    this.logging = true;
    // The simulator produces no log/data frames; the reply matches FreeSWITCH.
    this.reply(`+OK log level ${level} [${n}]`);
  }

  private sendMsg(c: ClientCommand): void {
    const uuid = c.command.slice(7).trim() || getHeader(c.headers, 'session-id') || '';
    const flow = uuid ? this.core.flow(uuid) : undefined;
    if (!flow) return this.reply(`-ERR invalid session id [${uuid || '(null)'}]`);
    const callCommand = (getHeader(c.headers, 'call-command') ?? '').toLowerCase();
    if (callCommand === 'hangup') {
      flow.hangupLocal(getHeader(c.headers, 'hangup-cause') ?? 'NORMAL_CLEARING');
    } else if (callCommand === 'execute') {
      const app = getHeader(c.headers, 'execute-app-name') ?? '';
      const arg = getHeader(c.headers, 'execute-app-arg') ?? c.body ?? '';
      flow.execute(app, arg, getHeader(c.headers, 'event-uuid'));
    }
    this.reply('+OK');
  }

  private sendEvent(c: ClientCommand): void {
    const uuid = randomUUID();
    const ename = c.command.slice(9).trim();
    const name = eventNameFromToken(ename) ?? 'CLONE';
    const subclass = name === 'CUSTOM' ? getHeader(c.headers, 'Event-Subclass') : undefined;
    const base = this.core.factory.create(name, ORIGIN.sendevent, { subclass });
    // The received headers come first; prep_for_delivery appends the common block after them.
    const common = base.headers.filter(([n]) => n !== 'Event-Subclass');
    const ev: SimEvent = {
      name, subclass, headers: [['Command', c.command], ...c.headers, ['Event-UUID', uuid], ...common], body: c.body,
    };
    this.core.fire(ev);
    this.reply(`+OK ${uuid}`);
  }

  // ---- api / bgapi --------------------------------------------------------------------------------------

  private splitApi(text: string): { cmd: string; arg: string | undefined } {
    const sp = text.indexOf(' ');
    return sp < 0 ? { cmd: text, arg: undefined } : { cmd: text.slice(0, sp), arg: text.slice(sp + 1) };
  }

  /** Runs an API command and fires its API event when it has finished (created before it ran). */
  private async execApi(cmdRaw: string, argRaw: string | undefined, via: 'api' | 'bgapi',
    jobUuid?: string): Promise<string | null> {
    const cmd = cmdRaw.trim();
    const arg = argRaw?.trim();
    const core = this.core;
    const apiEv = apiEvent(core.factory, cmd, arg);
    const out = this.server.commands.run(cmd, arg || undefined, { via, jobUuid });
    let body: string | null;
    if (out === undefined) body = `-ERR ${cmd} Command not found!\n`;
    else body = typeof out === 'string' ? out : await out;
    if (body === null) return null;
    core.fire(apiEv);
    return body;
  }

  /** `api` blocks this connection (no replies, no events) until the command has finished. */
  private async api(text: string): Promise<void> {
    const { cmd, arg } = this.splitApi(text);
    const body = await this.execApi(cmd, arg, 'api');
    if (body === null) return;
    this.send(apiResponseFrame(body === '' ? '-ERR no reply\n' : body));
  }

  /** `bgapi` answers at once; the job runs on its own and reports through BACKGROUND_JOB. */
  private bgapi(text: string, clientJobUuid: string | undefined): void {
    const { cmd, arg } = this.splitApi(text);
    const jobUuid = clientJobUuid || randomUUID();
    this.reply(`+OK Job-UUID: ${jobUuid}`, [['Job-UUID', jobUuid]]);
    const core = this.core;
    setImmediate(() => {
      this.execApi(cmd, arg, 'bgapi', jobUuid).then((body) => {
        if (body === null) return;
        core.fire(backgroundJobEvent(core.factory, jobUuid, cmd, arg, body));
      }, (err: unknown) => console.error('simulator: bgapi job failed', err));
    });
  }
}
