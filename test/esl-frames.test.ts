// esl/frames.ts (our ESL frame parser) pinned against real FreeSWITCH bytes and against what
// modesl 1.2.1's Parser made of the same bytes: every golden capture, whole and split into chunks
// of every kind, and a body with multi-byte UTF-8 characters cut at every byte.
// Run: node --import tsx --test test/esl-frames.test.ts
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { FrameParser, eventFromJson, type Frame } from '../esl/frames';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ModeslParser = require('modesl/lib/esl/Parser') as new (socket: EventEmitter) => EventEmitter;

const DIRS = ['/work/shared/golden/esl', '/work/shared/golden/esl-dialer'];
const captures = DIRS.filter((d) => existsSync(d)).flatMap((d) =>
  readdirSync(d).filter((f) => f.endsWith('.recv')).sort().map((f) => ({ name: f, bytes: readFileSync(`${d}/${f}`) })),
);
const skip = captures.length < 20 && 'golden captures not found';

function parse(chunks: Buffer[]): Frame[] {
  const frames: Frame[] = [];
  const p = new FrameParser((f) => frames.push(f));
  for (const c of chunks) p.push(c);
  return frames;
}

function split(bytes: Buffer, sizes: (i: number) => number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < bytes.length; k++) {
    const n = Math.max(1, sizes(k));
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** What modesl's Parser emitted for these bytes: outer headers (as strings) and the body. */
function modeslFrames(bytes: Buffer): { headers: Record<string, string>; body: string | undefined }[] {
  const socket = new EventEmitter();
  const parser = new ModeslParser(socket);
  const out: { headers: Record<string, string>; body: string | undefined }[] = [];
  parser.on('esl::event', (_ev: unknown, headers: Record<string, unknown>, body?: string) => {
    out.push({ headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])), body });
  });
  socket.emit('data', bytes);
  return out;
}

/** What esl/client.ts made of a JSON event with modesl (Event headers -> plain record), the behaviour to keep. */
function modeslEvent(body: string): Record<string, string> {
  const data = JSON.parse(body) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) {
    if (k !== '_body') out[k] = Array.isArray(v) ? `ARRAY::${v.map(String).join('|:')}` : v == null ? '' : String(v);
  }
  if (data._body) out._body = String(data._body);
  return out;
}

const plain = (frames: Frame[]) => frames.map((f) => ({ headers: { ...f.headers }, body: f.body }));

describe('FrameParser on real FreeSWITCH bytes', { skip }, () => {
  test('every golden capture, in one chunk: the same frames as modesl 1.2.1', () => {
    let total = 0;
    for (const { name, bytes } of captures) {
      const ours = plain(parse([bytes]));
      assert.deepEqual(ours, modeslFrames(bytes), name);
      assert.ok(ours.length > 0, name);
      total += ours.length;
    }
    assert.ok(total > 100, `only ${total} frames`);
  });

  test('frames split across chunks and several frames per chunk: same result for any cut', () => {
    const all = Buffer.concat(captures.map((c) => c.bytes));
    const expected = plain(parse([all]));
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const cuts: [string, (i: number) => number][] = [
      ['1 byte', () => 1],
      ['2 bytes', () => 2],
      ['7 bytes', () => 7],
      ['1460 (one TCP segment)', () => 1460],
      ['65536 (a socket read)', () => 65536],
      ['random 1..3000', () => 1 + Math.floor(random() * 3000)],
      ['alternating 1 and 40000', (i) => (i % 2 ? 40000 : 1)],
    ];
    for (const [label, size] of cuts) assert.deepEqual(plain(parse(split(all, size))), expected, label);
  });

  test('a header end "\\n\\n" cut between its two bytes, and a chunk ending right after a header block', () => {
    const { bytes } = captures.find((c) => c.name === 'busy-486-json-cdr.recv') ?? captures[0]!;
    const expected = plain(parse([bytes]));
    const end = bytes.indexOf('\n\n');
    assert.deepEqual(plain(parse([bytes.subarray(0, end + 1), bytes.subarray(end + 1)])), expected);
    assert.deepEqual(plain(parse([bytes.subarray(0, end + 2), bytes.subarray(end + 2)])), expected);
  });

  test('every JSON event becomes the same string record the modesl path gave', () => {
    let n = 0;
    for (const { name, bytes } of captures) {
      for (const f of parse([bytes])) {
        if (f.headers['Content-Type'] !== 'text/event-json') continue;
        const ev = eventFromJson(f.body!);
        assert.ok(ev, name);
        assert.deepEqual({ ...ev }, modeslEvent(f.body!), `${name} ${ev['Event-Name']}`);
        for (const v of Object.values(ev)) assert.equal(typeof v, 'string');
        n++;
      }
    }
    assert.ok(n > 50, `only ${n} JSON events`);
  });
});

describe('FrameParser, UTF-8 and edge cases', () => {
  test('a body with multi-byte UTF-8 characters, cut at every byte (real frame, caller name changed)', { skip }, () => {
    const bytes = captures.find((c) => c.name === 'answered-5s-json-cdr.recv')!.bytes;
    const [first] = parse([bytes]);
    const name = 'Пётр Ø 😀 ✓';
    const body = first!.body!.replace('"Caller-Caller-ID-Name":"FS e2e run3"', `"Caller-Caller-ID-Name":${JSON.stringify(name)}`);
    assert.notEqual(body, first!.body);
    const frame = Buffer.from(`Content-Length: ${Buffer.byteLength(body)}\nContent-Type: text/event-json\n\n${body}`);
    const start = frame.indexOf(Buffer.from('Пётр'));
    for (let cut = start; cut <= start + Buffer.byteLength(name); cut++) {
      const frames = parse([frame.subarray(0, cut), frame.subarray(cut)]);
      assert.equal(frames.length, 1, `cut at ${cut}`);
      assert.equal(frames[0]!.body, body, `cut at ${cut}`);
      assert.equal(eventFromJson(frames[0]!.body!)!['Caller-Caller-ID-Name'], name);
    }
    // Byte by byte too: the whole body waits until its last byte is there.
    assert.equal(parse(split(frame, () => 1))[0]!.body, body);
  });

  test('frames without a body, stray blank lines, a malformed %-escape, nothing emitted early', () => {
    const frames = parse([
      Buffer.from('\nContent-Type: auth/request\n\nContent-Type: command/reply\nReply-Text: +OK accepted\n\n'),
      Buffer.from('Content-Type: command/reply\nReply-Text: -ERR 100%% wrong\n\nContent-Type: api/response\nContent-Length: 5\n\nfal'),
    ]);
    assert.deepEqual(plain(frames), [
      { headers: { 'Content-Type': 'auth/request' }, body: undefined },
      { headers: { 'Content-Type': 'command/reply', 'Reply-Text': '+OK accepted' }, body: undefined },
      { headers: { 'Content-Type': 'command/reply', 'Reply-Text': '-ERR 100%% wrong' }, body: undefined },
    ]);
    const p = new FrameParser((f) => frames.push(f));
    p.push(Buffer.from('Content-Type: api/response\nContent-Length: 5\n\nfal'));
    assert.equal(frames.length, 3);
    p.push(Buffer.from('se'));
    assert.deepEqual(plain(frames.slice(3)), [{ headers: { 'Content-Type': 'api/response', 'Content-Length': '5' }, body: 'false' }]);
  });

  test('eventFromJson: strings kept, arrays rendered, empty _body dropped, no Event-Name -> undefined, bad JSON throws', () => {
    const ev = eventFromJson('{"Event-Name":"CUSTOM","Content-Length":"4","n":7,"x":null,"a":["1","2"],"_body":"ok\\n"}');
    assert.deepEqual({ ...ev }, { 'Event-Name': 'CUSTOM', 'Content-Length': '4', n: '7', x: '', a: 'ARRAY::1|:2', _body: 'ok\n' });
    assert.deepEqual({ ...eventFromJson('{"Event-Name":"HEARTBEAT","_body":""}') }, { 'Event-Name': 'HEARTBEAT' });
    assert.equal(eventFromJson('{"Job-UUID":"x"}'), undefined);
    assert.equal(eventFromJson('null'), undefined);
    assert.equal(eventFromJson('[1]'), undefined);
    assert.throws(() => eventFromJson('{"Event-Name":'), SyntaxError);
  });
});
