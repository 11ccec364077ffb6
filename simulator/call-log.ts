// The switch's complete record of calls: every originate, answer, hangup, originate result, CDR
// post and CHANNEL_HANGUP_COMPLETE, appended to a JSON-lines file as it happens (one write per
// entry, so it survives a kill -9 of the simulator and a new process appends to the same file).
// The fault suite reads it instead of polling the call list, which misses what happened just
// before a crash. Entries of one simulated FreeSWITCH process carry its Core-UUID; a `start` with
// a new Core-UUID (or a `crash`) means the calls of the previous one vanished without events.
import fs from 'node:fs';

interface Base {
  /** Wall-clock ms (Date.now()) when it was written. */
  t: number;
  core: string;
}
export type CallLogEntry = Base & (
  | { ev: 'start' }
  /** This simulated process ends; `vanished` calls were still up and disappear without events or CDRs (a crash). */
  | { ev: 'stop'; vanished: number }
  /** An originate the switch handled; `uuid` is its origination_uuid (or the channel UUID).
   *  `bridgeOf`: the second leg a `bridge` application of that call (its seq) originated. */
  | { ev: 'originate'; seq: number; uuid?: string; job?: string; destination: string; vars: Record<string, string>; bridgeOf?: number }
  | { ev: 'answer'; seq: number; uuid: string }
  /** CHANNEL_HANGUP: the call is over for the far end. */
  | { ev: 'hangup'; seq: number; uuid: string; cause: string; answered: boolean }
  /** The originate's reply (BACKGROUND_JOB body / api reply) without the trailing LF. */
  | { ev: 'result'; seq: number; uuid?: string; result: string }
  /** mod_json_cdr finished with this CDR: accepted (2xx) or given up after `tries`. */
  | { ev: 'cdr'; uuid: string; accepted: boolean; tries: number }
  /** CHANNEL_HANGUP_COMPLETE fired. */
  | { ev: 'complete'; seq: number; uuid: string; cause: string }
);
/** An entry before the logger stamps it. */
export type CallLogInput = CallLogEntry extends infer E ? E extends Base ? Omit<E, 't' | 'core'> : never : never;

export class CallLogFile {
  private fd: number | undefined;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'a');
  }

  write(entry: CallLogEntry): void {
    if (this.fd !== undefined) fs.writeSync(this.fd, `${JSON.stringify(entry)}\n`);
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Reads a call log; a line cut short by a kill (the last one) is skipped. */
export function readCallLog(file: string): CallLogEntry[] {
  if (!fs.existsSync(file)) return [];
  const out: CallLogEntry[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as CallLogEntry);
    } catch {
      /* torn last line */
    }
  }
  return out;
}
