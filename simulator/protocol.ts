// ESL wire format: parsing client commands and encoding every frame type FreeSWITCH sends,
// byte for byte as mod_event_socket.c / switch_event.c write them (LF only, byte Content-Length).

/** An event as an ordered header list; duplicates are allowed (FreeSWITCH keeps them). */
export type Header = [name: string, value: string];
export interface SimEvent {
  name: string;
  subclass?: string;
  headers: Header[];
  body?: string;
}

export type EventFormat = 'plain' | 'json' | 'xml';

/** A command read from the client: first line, then `Name: value` headers, optional body. */
export interface ClientCommand {
  command: string;
  headers: Header[];
  body?: string;
}

export function getHeader(headers: Header[], name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [n, v] of headers) if (n.toLowerCase() === lower) return v;
  return undefined;
}

/**
 * Incremental command reader following read_packet(): leading CR/LF are skipped, a packet ends
 * at the second LF in a row (CR ignored, so CRLF works), a Content-Length header pulls that many
 * body bytes after the blank line. Input may arrive in any fragmentation.
 */
export class CommandReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
  }

  /** Returns the next complete command, or undefined if more bytes are needed. */
  next(): ClientCommand | undefined {
    let start = 0;
    while (start < this.buf.length && (this.buf[start] === 0x0d || this.buf[start] === 0x0a)) start++;
    if (start > 0) this.buf = this.buf.subarray(start);
    let lfCount = 0;
    let end = -1;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (c === 0x0a) {
        if (++lfCount === 2) { end = i + 1; break; }
      } else if (c !== 0x0d) {
        lfCount = 0;
      }
    }
    if (end < 0) return undefined;
    const text = this.buf.subarray(0, end).toString('utf8');
    const lines = text.split('\n').map((l) => l.replace(/\r+$/, '').replace(/\r/g, ''));
    const command = lines[0] ?? '';
    const headers: Header[] = [];
    for (const line of lines.slice(1)) {
      if (!line) continue;
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      headers.push([line.slice(0, colon), line.slice(colon + 1).replace(/^ +/, '')]);
    }
    const clen = parseInt(getHeader(headers, 'content-length') ?? '0', 10) || 0;
    if (clen > 0) {
      if (this.buf.length < end + clen) return undefined;
      const body = this.buf.subarray(end, end + clen).toString('utf8');
      this.buf = this.buf.subarray(end + clen);
      return { command, headers, body };
    }
    this.buf = this.buf.subarray(end);
    return { command, headers };
  }
}

// ---- frames FreeSWITCH sends ------------------------------------------------------------------

export const DISCONNECT_GOODBYE = 'Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n';
export const DISCONNECT_SHUTDOWN = 'The system is being shut down.\n';
export const DISCONNECT_LOST_EVENTS = 'killed listener because of lost events\n';

export function authRequestFrame(): Buffer {
  return Buffer.from('Content-Type: auth/request\n\n');
}

/** command/reply: Content-Type, Reply-Text, then any extra headers (bgapi adds Job-UUID). */
export function commandReplyFrame(replyText: string, extra: Header[] = []): Buffer {
  let s = `Content-Type: command/reply\nReply-Text: ${replyText}\n`;
  for (const [n, v] of extra) s += `${n}: ${v}\n`;
  return Buffer.from(s + '\n');
}

/** api/response: Content-Type before Content-Length, body verbatim. */
export function apiResponseFrame(body: string): Buffer {
  const b = Buffer.from(body, 'utf8');
  return Buffer.concat([Buffer.from(`Content-Type: api/response\nContent-Length: ${b.length}\n\n`), b]);
}

export function disconnectNoticeFrame(body = DISCONNECT_GOODBYE): Buffer {
  const b = Buffer.from(body, 'utf8');
  return Buffer.concat([Buffer.from(`Content-Type: text/disconnect-notice\nContent-Length: ${b.length}\n\n`), b]);
}

export function rudeRejectionFrame(): Buffer {
  const b = Buffer.from('Access Denied, go away.\n');
  return Buffer.concat([Buffer.from(`Content-Type: text/rude-rejection\nContent-Length: ${b.length}\n\n`), b]);
}

/** Event frame: note Content-Length comes BEFORE Content-Type here (golden observation 1). */
export function eventFrame(ev: SimEvent, format: EventFormat): Buffer {
  const body = Buffer.from(serializeEvent(ev, format), 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\nContent-Type: text/event-${format}\n\n`), body]);
}

// ---- event serialization ------------------------------------------------------------------------

const URL_UNSAFE = '\r\n #%&+:;<=>?@[\\]^`{|}"';
const HEX = '0123456789ABCDEF';

/**
 * switch_url_encode (no double encoding): bytes < 0x20, > 0x7E and SWITCH_URL_UNSAFE become %XX
 * upper-case; a '%' already followed by two upper-case hex digits is kept as is.
 */
export function urlEncode(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === 0x25 && i + 2 < bytes.length && isHexDigit(bytes[i + 1]) && isHexDigit(bytes[i + 2])) {
      out += '%';
      continue;
    }
    if (b < 0x20 || b > 0x7e || URL_UNSAFE.includes(String.fromCharCode(b))) {
      out += '%' + HEX[(b >> 4) & 0x0f] + HEX[b & 0x0f];
    } else {
      out += String.fromCharCode(b);
    }
  }
  return out;
}

function isHexDigit(b: number | undefined): boolean {
  return b !== undefined && HEX.includes(String.fromCharCode(b));
}

/** Headers in wire order; `Event-Subclass` is already part of `headers` when relevant. */
export function serializeEvent(ev: SimEvent, format: EventFormat): string {
  if (format === 'json') return serializeJson(ev);
  if (format === 'xml') return serializeXml(ev);
  return serializePlain(ev);
}

function serializePlain(ev: SimEvent): string {
  let s = '';
  for (const [n, v] of ev.headers) {
    const enc = urlEncode(v);
    s += `${n}: ${enc === '' ? '_undef_' : enc}\n`;
  }
  if (ev.body !== undefined && ev.body.length > 0) {
    s += `Content-Length: ${Buffer.byteLength(ev.body, 'utf8')}\n\n${ev.body}`;
  } else {
    s += '\n';
  }
  return s;
}

/** cJSON_PrintUnformatted of an object built with duplicate keys kept, all values strings. */
function serializeJson(ev: SimEvent): string {
  const parts = ev.headers.map(([n, v]) => `${JSON.stringify(n)}:${jsonValue(v)}`);
  if (ev.body !== undefined) {
    parts.push(`"Content-Length":"${Buffer.byteLength(ev.body, 'utf8')}"`);
    parts.push(`"_body":${JSON.stringify(ev.body)}`);
  }
  return `{${parts.join(',')}}`;
}

function jsonValue(v: string): string {
  // ARRAY::a|:b headers are JSON arrays in FreeSWITCH output.
  if (v.startsWith('ARRAY::')) return JSON.stringify(v.slice(7).split('|:'));
  return JSON.stringify(v);
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** switch_event_xmlize + switch_xml_toxml: url-encoded header values, 2-space indentation. */
function serializeXml(ev: SimEvent): string {
  let s = '<event>\n  <headers>\n';
  for (const [n, v] of ev.headers) s += `    <${n}>${xmlEscape(urlEncode(v))}</${n}>\n`;
  s += '  </headers>\n';
  if (ev.body) {
    s += `  <Content-Length>${Buffer.byteLength(ev.body, 'utf8')}</Content-Length>\n`;
    s += `  <body>${xmlEscape(ev.body)}</body>\n`;
  }
  return s + '</event>\n';
}
