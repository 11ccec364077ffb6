// ESL event path micro-benchmark (issue 12): socket bytes -> plain EslEvent records, ours
// (esl/frames.ts) against what the client did with modesl 1.2.1 (its Parser, an Event per frame,
// the Connection's wildcard EventEmitter2 dispatch, then a copy into a plain record), in one run.
//   npx tsx bench/esl-parse.ts [--frames 20000] [--chunk 65536] [--rounds 5]
// Input: the real FreeSWITCH frames of /work/shared/golden/esl-dialer (three calls' JSON events)
// and one `+OK Job-UUID` command/reply per call, repeated; cut into --chunk byte socket chunks.
import fs from 'node:fs';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { FrameParser, eventFromJson } from '../esl/frames';
import { arg } from './lib/util';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const Parser = require('modesl/lib/esl/Parser') as new (socket: EventEmitter) => EventEmitter;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Connection = require('modesl/lib/esl/Connection') as { prototype: object };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { EventEmitter2 } = require('eventemitter2') as { EventEmitter2: { call(self: object, opts: object): void } };

const GOLDEN = process.env.GOLDEN_ESL_DIALER ?? '/work/shared/golden/esl-dialer';
const nFrames = Number(arg('--frames', '20000'));
const chunkSize = Number(arg('--chunk', '65536'));
const rounds = Number(arg('--rounds', '5'));

const reply = (job: string) => `Content-Type: command/reply\nReply-Text: +OK Job-UUID: ${job}\nJob-UUID: ${job}\n\n`;
const calls = fs.readdirSync(GOLDEN).filter((f) => f.endsWith('.recv')).sort().map((f) => fs.readFileSync(path.join(GOLDEN, f)));
const unit = Buffer.concat(calls.flatMap((c) => [Buffer.from(reply('3b4565f2-138a-4af9-b44c-228270f3ba1e')), c]));
const unitFrames = (unit.toString('latin1').match(/Content-Type: /g) ?? []).length;
const copies = Math.max(1, Math.round(nFrames / unitFrames));
const stream = Buffer.concat(Array.from({ length: copies }, () => unit));
const chunks: Buffer[] = [];
for (let i = 0; i < stream.length; i += chunkSize) chunks.push(Buffer.from(stream.subarray(i, i + chunkSize)));
const frames = copies * unitFrames;

/** modesl's path as esl/client.ts used it: Parser -> Event -> Connection._onEvent -> `esl::event::**` -> plain record. */
function runModesl(): number {
  let events = 0;
  const socket = new EventEmitter();
  const conn = Object.create(Connection.prototype) as EventEmitter & { _onEvent(...a: unknown[]): void };
  EventEmitter2.call(conn, { wildcard: true, delimiter: '::', maxListeners: 25 });
  conn.on('esl::event::command::reply', () => {});
  conn.on('esl::event::api::response', () => {});
  conn.on('esl::event::**', (ev: { headers: { name: string; value: unknown }[]; getBody(): string }, headers: { 'Content-Type'?: string }) => {
    if (headers['Content-Type'] !== 'text/event-json') return;
    const out: Record<string, string> = {};
    for (const h of ev.headers) out[h.name] = Array.isArray(h.value) ? `ARRAY::${h.value.join('|:')}` : h.value == null ? '' : String(h.value);
    const body = ev.getBody();
    if (body) out._body = body;
    if (out['Event-Name']) events++;
  });
  const parser = new Parser(socket);
  parser.on('esl::event', (...a: unknown[]) => conn._onEvent(...a));
  for (const c of chunks) socket.emit('data', c);
  return events;
}

function runOurs(): number {
  let events = 0;
  const parser = new FrameParser((f) => {
    if (f.headers['Content-Type'] === 'text/event-json' && f.body !== undefined && eventFromJson(f.body)) events++;
  });
  for (const c of chunks) parser.push(c);
  return events;
}

function time(fn: () => number): { ms: number; events: number } {
  const t0 = process.cpuUsage();
  const events = fn();
  const d = process.cpuUsage(t0);
  return { ms: (d.user + d.system) / 1000, events };
}

const best = { modesl: Infinity, ours: Infinity };
let events = { modesl: 0, ours: 0 };
for (let r = 0; r < rounds; r++) {
  const a = time(runModesl);
  const b = time(runOurs);
  best.modesl = Math.min(best.modesl, a.ms);
  best.ours = Math.min(best.ours, b.ms);
  events = { modesl: a.events, ours: b.events };
}
if (events.modesl !== events.ours) throw new Error(`event counts differ: modesl ${events.modesl}, ours ${events.ours}`);
const perSec = (ms: number) => Math.round((frames / ms) * 1000);
console.log(`${frames} frames (${events.ours} JSON events, ${(stream.length / 1e6).toFixed(1)} MB) in ${chunks.length} chunks of ${chunkSize} B; best of ${rounds}, CPU time:`);
console.log(`  modesl 1.2.1 path: ${best.modesl.toFixed(0)} ms = ${perSec(best.modesl)} frames/s, ${((best.modesl * 1000) / frames).toFixed(1)} µs/frame`);
console.log(`  esl/frames.ts:     ${best.ours.toFixed(0)} ms = ${perSec(best.ours)} frames/s, ${((best.ours * 1000) / frames).toFixed(1)} µs/frame`);
console.log(`  ratio: ${(best.modesl / best.ours).toFixed(1)}x`);
