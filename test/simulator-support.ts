// Test helpers for the FreeSWITCH simulator: a raw ESL client that records every frame, frame and
// event parsers (JSON with duplicate keys preserved, plain with URL decoding), golden file loading.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, beforeEach } from 'node:test';
import { startSimulator, type RulesConfig, type Simulator } from '../simulator/index';

export type Header = [string, string];

export interface Frame {
  headers: Header[];
  body: Buffer;
  /** The exact bytes of the frame as received. */
  raw: Buffer;
}

export function header(headers: Header[], name: string): string | undefined {
  return headers.find(([n]) => n === name)?.[1];
}

/** Splits an ESL byte stream into frames; throws if a Content-Length runs past the data. */
export function parseFrames(data: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let off = 0;
  for (;;) {
    const end = data.indexOf('\n\n', off);
    if (end < 0) break;
    const headText = data.subarray(off, end).toString('utf8');
    const headers = headText.split('\n').map((l) => {
      const i = l.indexOf(': ');
      return [l.slice(0, i), l.slice(i + 2)] as Header;
    });
    const len = parseInt(header(headers, 'Content-Length') ?? '0', 10);
    const bodyStart = end + 2;
    if (data.length < bodyStart + len) break;
    frames.push({ headers, body: data.subarray(bodyStart, bodyStart + len), raw: data.subarray(off, bodyStart + len) });
    off = bodyStart + len;
  }
  return { frames, rest: data.subarray(off) };
}

/** Parses FreeSWITCH's flat JSON keeping duplicate keys and their order. */
export function parseFlatJson(text: string): Header[] {
  const out: Header[] = [];
  let i = 0;
  const skipWs = () => { while (/\s/.test(text[i] ?? '')) i++; };
  const readString = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  skipWs();
  if (text[i] !== '{') throw new Error('not a JSON object');
  i++;
  for (;;) {
    skipWs();
    if (text[i] === '}') break;
    const key = readString();
    skipWs();
    if (text[i] !== ':') throw new Error(`expected : at ${i}`);
    i++;
    skipWs();
    let value: string;
    if (text[i] === '[') {
      const start = i;
      i = text.indexOf(']', i) + 1;
      value = `ARRAY::${(JSON.parse(text.slice(start, i)) as string[]).join('|:')}`;
    } else {
      value = readString();
    }
    out.push([key, value]);
    skipWs();
    if (text[i] === ',') i++;
  }
  return out;
}

export interface ParsedEvent {
  format: 'json' | 'plain';
  headers: Header[];
  /** Raw (still URL-encoded) plain header values, parallel to headers. */
  rawValues?: string[];
  body?: string;
}

export function parseEvent(frame: Frame): ParsedEvent | undefined {
  const ct = header(frame.headers, 'Content-Type');
  const text = frame.body.toString('utf8');
  if (ct === 'text/event-json') {
    const headers = parseFlatJson(text);
    const bodyIdx = headers.findIndex(([n]) => n === '_body');
    if (bodyIdx >= 0) {
      const body = (headers[bodyIdx] as Header)[1];
      return { format: 'json', headers: headers.filter(([n]) => n !== '_body'), body };
    }
    return { format: 'json', headers };
  }
  if (ct === 'text/event-plain') {
    const end = text.indexOf('\n\n');
    const lines = text.slice(0, end).split('\n');
    const headers: Header[] = [];
    const rawValues: string[] = [];
    for (const l of lines) {
      const i = l.indexOf(': ');
      headers.push([l.slice(0, i), decodeURIComponent(l.slice(i + 2))]);
      rawValues.push(l.slice(i + 2));
    }
    const clen = header(headers, 'Content-Length');
    const body = clen !== undefined ? Buffer.from(text, 'utf8').subarray(Buffer.byteLength(text.slice(0, end + 2))).toString('utf8') : undefined;
    return { format: 'plain', headers, rawValues, body };
  }
  return undefined;
}

export function eventName(frame: Frame): string | undefined {
  const ev = parseEvent(frame);
  return ev ? header(ev.headers, 'Event-Name') : undefined;
}

/** A raw ESL client recording every frame, for byte-level assertions. */
export class RawEslClient {
  frames: Frame[] = [];
  closed = false;
  private buf: Buffer = Buffer.alloc(0);
  private readonly socket: net.Socket;
  private waiters: Array<() => void> = [];

  private constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      const { frames, rest } = parseFrames(this.buf);
      this.frames.push(...frames);
      this.buf = rest;
      this.wake();
    });
    this.socket.on('close', () => { this.closed = true; this.wake(); });
    this.socket.on('error', () => { this.closed = true; this.wake(); });
  }

  static async connect(port: number): Promise<RawEslClient> {
    const c = new RawEslClient(port);
    await c.waitFrames(1);
    return c;
  }

  static async authed(port: number, password = 'ClueCon'): Promise<RawEslClient> {
    const c = await RawEslClient.connect(port);
    await c.command(`auth ${password}`);
    return c;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends one command and resolves with the next non-event frame (its reply). */
  async command(text: string, extraHeaders = ''): Promise<Frame> {
    const before = this.frames.length;
    this.write(`${text}\n${extraHeaders}\n`);
    return this.waitFor(() => this.frames.slice(before).find((f) => !header(f.headers, 'Content-Type')?.startsWith('text/event')));
  }

  async waitFor<T>(check: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v) return v;
      if (this.closed) {
        const again = check();
        if (again) return again;
        throw new Error('connection closed while waiting');
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for frames');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  waitFrames(n: number, timeoutMs = 5000): Promise<boolean> {
    return this.waitFor(() => this.frames.length >= n, timeoutMs);
  }

  events(): ParsedEvent[] {
    return this.frames.map(parseEvent).filter((e): e is ParsedEvent => e !== undefined);
  }

  eventNames(): string[] {
    return this.events().map((e) => header(e.headers, 'Event-Name') ?? '?');
  }

  waitEvent(pred: (e: ParsedEvent) => boolean, timeoutMs = 5000): Promise<ParsedEvent> {
    return this.waitFor(() => this.events().find(pred), timeoutMs);
  }

  waitClosed(timeoutMs = 5000): Promise<boolean> {
    return this.waitFor(() => this.closed, timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }
}

// ---- golden captures -----------------------------------------------------------------------------

export const GOLDEN_DIR = path.resolve(__dirname, '..', '..', 'shared', 'golden', 'esl');

export interface TimelineEntry {
  t: number;
  dt: number;
  dir: 'connect' | 'recv' | 'sent' | 'close' | 'client-close';
  off: number;
  len: number;
}

export interface GoldenCase {
  name: string;
  sent: Buffer;
  recv: Buffer;
  timeline: TimelineEntry[];
}

export function loadGolden(name: string): GoldenCase {
  const f = (ext: string) => readFileSync(path.join(GOLDEN_DIR, `${name}.${ext}`));
  return {
    name,
    sent: f('sent'),
    recv: f('recv'),
    timeline: f('timeline.jsonl').toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as TimelineEntry),
  };
}

export function httpJson(port: number, method: string, p: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return fetch(`http://127.0.0.1:${port}${p}`, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? undefined : { 'content-type': 'application/json' },
  }).then(async (r) => ({ status: r.status, json: await r.json() as unknown }));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** For one describe block: a simulator on fast time and a raw client subscribed to every event,
 *  reset before each test. Read them through the returned object once the block runs. */
export function simulatorWithRawClient(rules: RulesConfig): { readonly sim: Simulator; readonly c: RawEslClient } {
  const t = {} as { sim: Simulator; c: RawEslClient };
  before(async () => {
    t.sim = await startSimulator({ port: 0, timeScale: 0.01, heartbeatSec: 0, rules });
    t.c = await RawEslClient.authed(t.sim.eslPort);
    await t.c.command('event json ALL');
  });
  after(async () => {
    t.c.close();
    await t.sim.stop();
  });
  beforeEach(() => t.sim.reset());
  return t;
}
