// One FreeSWITCH channel: its variables (ordered, re-setting moves a variable to the end exactly
// like switch_channel_set_variable), caller profile, states and timestamps, and the channel part
// of every channel event (switch_channel_event_set_basic_data + caller profile + variables).
import { addHeader, EventFactory, Origin } from './events';
import type { Header, SimEvent } from './protocol';

export type CallState = 'DOWN' | 'DIALING' | 'RINGING' | 'EARLY' | 'ACTIVE' | 'HELD' | 'RING_WAIT' | 'HANGUP' | 'UNHELD';
export type AnswerState = 'ringing' | 'early' | 'answered' | 'hangup';

export const CALLSTATE_NUMBER: Record<CallState, number> = {
  DOWN: 0, DIALING: 1, RINGING: 2, EARLY: 3, ACTIVE: 4, HELD: 5, RING_WAIT: 6, HANGUP: 7, UNHELD: 8,
};

export const STATE_NUMBER: Record<string, number> = {
  CS_NEW: 0, CS_INIT: 1, CS_ROUTING: 2, CS_SOFT_EXECUTE: 3, CS_EXECUTE: 4, CS_EXCHANGE_MEDIA: 5, CS_PARK: 6,
  CS_CONSUME_MEDIA: 7, CS_HIBERNATE: 8, CS_RESET: 9, CS_HANGUP: 10, CS_REPORTING: 11, CS_DESTROY: 12, CS_NONE: 13,
};

export interface CallerProfile {
  callerIdName: string;
  callerIdNumber: string;
  origCallerIdName: string;
  origCallerIdNumber: string;
  calleeIdName: string;
  calleeIdNumber: string;
  networkAddr: string;
  ani: string;
  destination: string;
  source: string;
  context: string;
  channelName: string;
}

/** Microsecond timestamps of the caller profile; 0 = not reached. */
export interface ChannelTimes {
  created: number;
  profileCreated: number;
  answered: number;
  progress: number;
  progressMedia: number;
  hungup: number;
  transfer: number;
  resurrect: number;
  bridged: number;
  lastHold: number;
  holdAccum: number;
}

export interface RunningApp {
  name: string;
  arg: string;
  uuid: string;
  /** When it started (app_log's app_stamp). */
  stampUs?: number;
}

export class Channel {
  readonly vars = new Map<string, string>();
  /** Channel-State shows the running state, Channel-State-Number the target state: they differ at times. */
  runningState = 'CS_NEW';
  stateNumber = 0;
  callState: CallState = 'DOWN';
  answerState: AnswerState = 'ringing';
  hangupCause?: string;
  hitDialplan = false;
  media = false;
  app?: RunningApp;
  appLog: RunningApp[] = [];
  bridgedTo?: string;
  profile?: CallerProfile;
  readonly times: ChannelTimes;
  /** Set once hangup has started; later hangup requests are ignored. */
  hangingUp = false;
  destroyed = false;

  constructor(readonly uuid: string, public name: string, createdUs: number) {
    this.times = {
      created: createdUs, profileCreated: createdUs, answered: 0, progress: 0, progressMedia: 0, hungup: 0,
      transfer: 0, resurrect: 0, bridged: 0, lastHold: 0, holdAccum: 0,
    };
  }

  /** Setting a variable removes the old entry and appends; an empty value just removes it. */
  setVar(name: string, value: string | number | undefined): void {
    this.vars.delete(name);
    if (value !== undefined && String(value) !== '') this.vars.set(name, String(value));
  }

  setVars(entries: Array<[string, string | number | undefined]>): void {
    for (const [n, v] of entries) this.setVar(n, v);
  }

  getVar(name: string): string | undefined {
    return this.vars.get(name);
  }

  setState(running: string, number = STATE_NUMBER[running] ?? 0): void {
    this.runningState = running;
    this.stateNumber = number;
  }

  /** switch_channel_event_set_basic_data followed by the caller profile. */
  dataHeaders(): Header[] {
    const h: Header[] = [];
    addHeader(h, 'Channel-State', this.runningState);
    addHeader(h, 'Channel-Call-State', this.callState);
    h.push(['Channel-State-Number', String(this.stateNumber)]);
    addHeader(h, 'Channel-Name', this.name);
    addHeader(h, 'Unique-ID', this.uuid);
    addHeader(h, 'Call-Direction', 'outbound');
    addHeader(h, 'Presence-Call-Direction', 'outbound');
    addHeader(h, 'Channel-HIT-Dialplan', this.hitDialplan ? 'true' : 'false');
    addHeader(h, 'Channel-Call-UUID', this.getVar('call_uuid') ?? this.uuid);
    addHeader(h, 'Answer-State', this.answerState);
    addHeader(h, 'Hangup-Cause', this.hangupCause);
    if (this.media) {
      h.push(['Channel-Read-Codec-Name', 'PCMU'], ['Channel-Read-Codec-Rate', '8000'],
        ['Channel-Read-Codec-Bit-Rate', '64000'], ['Channel-Write-Codec-Name', 'PCMU'],
        ['Channel-Write-Codec-Rate', '8000'], ['Channel-Write-Codec-Bit-Rate', '64000']);
    }
    if (this.profile) h.push(...this.profileHeaders('Caller', this.profile));
    return h;
  }

  /** switch_caller_profile_event_set_data: empty fields are skipped, times always present. */
  profileHeaders(prefix: string, p: CallerProfile): Header[] {
    const h: Header[] = [];
    const t = this.times;
    addHeader(h, `${prefix}-Direction`, 'outbound');
    addHeader(h, `${prefix}-Logical-Direction`, 'outbound');
    addHeader(h, `${prefix}-Caller-ID-Name`, p.callerIdName);
    addHeader(h, `${prefix}-Caller-ID-Number`, p.callerIdNumber);
    addHeader(h, `${prefix}-Orig-Caller-ID-Name`, p.origCallerIdName);
    addHeader(h, `${prefix}-Orig-Caller-ID-Number`, p.origCallerIdNumber);
    addHeader(h, `${prefix}-Callee-ID-Name`, p.calleeIdName);
    addHeader(h, `${prefix}-Callee-ID-Number`, p.calleeIdNumber);
    addHeader(h, `${prefix}-Network-Addr`, p.networkAddr);
    addHeader(h, `${prefix}-ANI`, p.ani);
    addHeader(h, `${prefix}-Destination-Number`, p.destination);
    addHeader(h, `${prefix}-Unique-ID`, this.uuid);
    addHeader(h, `${prefix}-Source`, p.source);
    addHeader(h, `${prefix}-Context`, p.context);
    addHeader(h, `${prefix}-Channel-Name`, p.channelName);
    addHeader(h, `${prefix}-Profile-Index`, '1');
    const times: Array<[string, number]> = [
      ['Profile-Created-Time', t.profileCreated], ['Channel-Created-Time', t.created],
      ['Channel-Answered-Time', t.answered], ['Channel-Progress-Time', t.progress],
      ['Channel-Progress-Media-Time', t.progressMedia], ['Channel-Hangup-Time', t.hungup],
      ['Channel-Transfer-Time', t.transfer], ['Channel-Resurrect-Time', t.resurrect],
      ['Channel-Bridged-Time', t.bridged], ['Channel-Last-Hold', t.lastHold], ['Channel-Hold-Accum', t.holdAccum],
    ];
    for (const [n, v] of times) h.push([`${prefix}-${n}`, String(v)]);
    h.push([`${prefix}-Screen-Bit`, 'true'], [`${prefix}-Privacy-Hide-Name`, 'false'],
      [`${prefix}-Privacy-Hide-Number`, 'false']);
    return h;
  }

  varHeaders(): Header[] {
    return [...this.vars].map(([n, v]) => [`variable_${n}`, v] as Header);
  }
}

export interface ChannelEventOptions {
  /** Include variable_* headers (CREATE, ANSWER, HANGUP, ...; not STATE, CALLSTATE, CODEC, OUTGOING). */
  vars?: boolean;
  /** Event-specific headers placed before the channel data. */
  pre?: Header[];
  /** Event-specific headers placed after the channel data and variables. */
  post?: Header[];
  timeUs?: number;
}

export function channelEvent(f: EventFactory, ch: Channel, name: string, origin: Origin,
  opts: ChannelEventOptions = {}): SimEvent {
  const ev = f.create(name, origin, { timeUs: opts.timeUs });
  if (opts.pre) ev.headers.push(...opts.pre);
  ev.headers.push(...ch.dataHeaders());
  if (opts.vars) ev.headers.push(...ch.varHeaders());
  if (opts.post) ev.headers.push(...opts.post);
  return ev;
}
