// Minimal hand-written types for modesl 1.2.1 (the package ships none; @types/modesl
// is not published). Only the subset esl/client.ts uses, typed from the 1.2.1 source
// (lib/esl/Connection.js, Event.js). See /work/shared/spec/esl-protocol.md §5.2.
declare module 'modesl' {
  import type { Socket } from 'node:net';

  export interface EventHeader {
    name: string;
    // Strings for everything FreeSWITCH sends, except: JSON `Content-Length` is turned
    // into a number by modesl, and FreeSWITCH ARRAY:: headers arrive as string[] in JSON.
    value: unknown;
  }

  export class Event {
    constructor(type?: string | Record<string, unknown>, subclass?: string);
    headers: EventHeader[];
    type: string;
    body: string;
    getHeader(name: string): unknown;
    addHeader(name: string, value: unknown): unknown;
    getBody(): string;
    getType(): string;
    serialize(format?: 'plain' | 'json' | 'xml'): string;
  }

  /** Outer (framing) headers of the frame, `Content-Length` as a number. */
  export type FrameHeaders = Record<string, string | number | undefined>;

  export type ReplyCallback = (event: Event) => void;

  /**
   * EventEmitter2 (wildcard, delimiter `::`). Names used here: `error`, `esl::ready`,
   * `esl::end`, `esl::event::auth::fail`, `esl::event::disconnect::notice`,
   * `esl::event::raw::<content-type>`, `esl::event::**`.
   */
  export class Connection {
    /** Inbound: opens the TCP socket at once; the optional callback runs on `esl::ready`. */
    constructor(host: string, port: number, password: string, readyCb?: () => void);
    /** null after `esl::end` or disconnect(). */
    socket: Socket | null;
    connected(): boolean;
    /** Fire-and-forget write (write errors are emitted as `error`). */
    send(command: string, headers?: Record<string, string> | null): void;
    /** Write and queue `cb` for the next `command/reply` (FIFO). */
    sendRecv(command: string, headers?: Record<string, string> | null, cb?: ReplyCallback): void;
    sendRecv(command: string, cb?: ReplyCallback): void;
    /** `api <command>`; `cb` is queued for the next `api/response` (FIFO). */
    api(command: string, cb?: ReplyCallback): void;
    api(command: string, args: string | string[], cb?: ReplyCallback): void;
    disconnect(): void;
    /** Sends `auth <password>`; emits `esl::ready` or `esl::event::auth::fail`. */
    auth(cb?: (err: Error | null, ev: Event) => void): void;

    // Internals of 1.2.1 that esl/client.ts overrides or calls (its own frame parser).
    /** Events subscribed by modesl itself right after auth. */
    reqEvents: string[];
    connecting: boolean;
    /** Socket connected: creates the parser and waits for auth/request. */
    _onConnect(): void;
    /** Dispatches one parsed frame (command/api FIFO callbacks, `esl::event::…` emits). */
    _onEvent(event: Event, headers: FrameHeaders, body?: string): void;

    on(event: string, listener: (...args: unknown[]) => void): this;
    once(event: string, listener: (...args: unknown[]) => void): this;
    off(event: string, listener: (...args: unknown[]) => void): this;
    removeAllListeners(event?: string): this;
    emit(event: string, ...args: unknown[]): boolean;
  }

  export function setLogLevel(level: number): void;
}
