// ESL wire framing (spec §1.2): `Name: value` header lines, a blank line, then Content-Length
// bytes of body. Replaces modesl's Parser on our connections: that one concatenates every chunk
// onto its buffer, scans for the blank line byte by byte in JS and recurses once per frame, and
// then builds a modesl Event (a linear header lookup per header, so quadratic in an event's ~160
// headers) and a wildcard EventEmitter2 emit for every frame.
import type { EslEvent } from './format';

export interface Frame {
  /** Outer headers (Content-Type, Content-Length, Reply-Text, Job-UUID, …), URI-decoded like modesl does. */
  headers: Record<string, string>;
  /** Content-Length bytes decoded as UTF-8; undefined when the frame has none. */
  body: string | undefined;
}

const EMPTY = Buffer.alloc(0);
const LF = 0x0a;

/**
 * Incremental frame parser: push() every socket chunk; onFrame gets each complete frame in order.
 * A frame may be split across any number of chunks (also inside a multi-byte UTF-8 character:
 * the body is decoded only once all its bytes are there) and a chunk may hold many frames.
 * Bytes wait in a list until the frame they belong to is complete, so a large body arriving in
 * many chunks is copied once, not once per chunk. onFrame must not throw.
 */
export class FrameParser {
  private rest: Buffer = EMPTY; // unparsed bytes that start at a frame or body boundary
  private waiting: Buffer[] = []; // chunks received since, not yet joined to rest
  private waitingBytes = 0;
  private need = 1; // parse again once rest + waiting hold this many bytes
  private headers: Record<string, string> | undefined; // of a frame whose body is still incomplete
  private bodyLen = 0;

  constructor(private readonly onFrame: (frame: Frame) => void) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.waiting.push(chunk);
    this.waitingBytes += chunk.length;
    if (this.rest.length + this.waitingBytes < this.need) return;
    const buf = this.rest.length === 0 && this.waiting.length === 1 ? chunk : Buffer.concat([this.rest, ...this.waiting]);
    this.waiting = [];
    this.waitingBytes = 0;

    const frames: Frame[] = [];
    let pos = 0;
    for (;;) {
      if (!this.headers) {
        while (pos < buf.length && buf[pos] === LF) pos++; // stray blank lines between frames
        const end = buf.indexOf('\n\n', pos);
        if (end < 0) {
          this.need = buf.length - pos + 1;
          break;
        }
        const headers = parseHeaderLines(buf.toString('utf8', pos, end));
        pos = end + 2;
        const len = parseInt(headers['Content-Length'] ?? '', 10);
        if (!(len > 0)) {
          frames.push({ headers, body: undefined });
          continue;
        }
        this.headers = headers;
        this.bodyLen = len;
      }
      if (buf.length - pos < this.bodyLen) {
        this.need = this.bodyLen;
        break;
      }
      frames.push({ headers: this.headers, body: buf.toString('utf8', pos, pos + this.bodyLen) });
      pos += this.bodyLen;
      this.headers = undefined;
      this.bodyLen = 0;
    }
    this.rest = pos >= buf.length ? EMPTY : buf.subarray(pos);
    for (const f of frames) this.onFrame(f);
  }
}

/** `Name: value` lines; values are URI-decoded when they contain `%` (kept raw if malformed). */
function parseHeaderLines(text: string): Record<string, string> {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const line of text.split('\n')) {
    const i = line.indexOf(': ');
    const name = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 2);
    if (value.includes('%')) {
      try {
        value = decodeURIComponent(value);
      } catch {
        /* not URI-encoded after all: keep it as sent */
      }
    }
    headers[name] = value;
  }
  return headers;
}

/**
 * The body of a `text/event-json` frame as an EslEvent: one JSON.parse, values kept as the
 * strings FreeSWITCH sent. Non-strings are rendered as strings: ARRAY:: headers (JSON arrays)
 * the way plain format prints them. An empty `_body` is dropped. Undefined when the JSON is not
 * an object with an Event-Name; throws SyntaxError when it is not JSON.
 */
export function eventFromJson(body: string): EslEvent | undefined {
  const data: unknown = JSON.parse(body);
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const ev = data as Record<string, unknown>;
  for (const k in ev) {
    const v = ev[k];
    if (typeof v !== 'string') ev[k] = Array.isArray(v) ? `ARRAY::${v.map(String).join('|:')}` : v == null ? '' : String(v);
  }
  if (ev._body === '') delete ev._body;
  if (!ev['Event-Name']) return undefined;
  return ev as EslEvent;
}
