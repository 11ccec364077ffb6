// Event construction: the common header block every FreeSWITCH event starts with
// (switch_event_prep_for_delivery_detailed) and the non-channel events the simulator fires.
import { formatGmt, formatLocal, SimClock } from './clock';
import type { Header, SimEvent } from './protocol';

/** EVENT_NAMES from switch_event.c, in enum order; used for subscription parsing. */
export const EVENT_NAMES: readonly string[] = [
  'CUSTOM', 'CLONE', 'CHANNEL_CREATE', 'CHANNEL_DESTROY', 'CHANNEL_STATE', 'CHANNEL_CALLSTATE',
  'CHANNEL_ANSWER', 'CHANNEL_HANGUP', 'CHANNEL_HANGUP_COMPLETE', 'CHANNEL_EXECUTE',
  'CHANNEL_EXECUTE_COMPLETE', 'CHANNEL_HOLD', 'CHANNEL_UNHOLD', 'CHANNEL_BRIDGE', 'CHANNEL_UNBRIDGE',
  'CHANNEL_PROGRESS', 'CHANNEL_PROGRESS_MEDIA', 'CHANNEL_OUTGOING', 'CHANNEL_PARK', 'CHANNEL_UNPARK',
  'CHANNEL_APPLICATION', 'CHANNEL_ORIGINATE', 'CHANNEL_UUID', 'API', 'LOG', 'INBOUND_CHAN',
  'OUTBOUND_CHAN', 'STARTUP', 'SHUTDOWN', 'PUBLISH', 'UNPUBLISH', 'TALK', 'NOTALK', 'SESSION_CRASH',
  'MODULE_LOAD', 'MODULE_UNLOAD', 'DTMF', 'MESSAGE', 'PRESENCE_IN', 'NOTIFY_IN', 'PRESENCE_OUT',
  'PRESENCE_PROBE', 'MESSAGE_WAITING', 'MESSAGE_QUERY', 'ROSTER', 'CODEC', 'BACKGROUND_JOB',
  'DETECTED_SPEECH', 'DETECTED_TONE', 'PRIVATE_COMMAND', 'HEARTBEAT', 'TRAP', 'ADD_SCHEDULE',
  'DEL_SCHEDULE', 'EXE_SCHEDULE', 'RE_SCHEDULE', 'RELOADXML', 'NOTIFY', 'PHONE_FEATURE',
  'PHONE_FEATURE_SUBSCRIBE', 'SEND_MESSAGE', 'RECV_MESSAGE', 'REQUEST_PARAMS', 'CHANNEL_DATA',
  'GENERAL', 'COMMAND', 'SESSION_HEARTBEAT', 'CLIENT_DISCONNECTED', 'SERVER_DISCONNECTED', 'SEND_INFO',
  'RECV_INFO', 'RECV_RTCP_MESSAGE', 'SEND_RTCP_MESSAGE', 'CALL_SECURE', 'NAT', 'RECORD_START',
  'RECORD_STOP', 'PLAYBACK_START', 'PLAYBACK_STOP', 'CALL_UPDATE', 'FAILURE', 'SOCKET_DATA',
  'MEDIA_BUG_START', 'MEDIA_BUG_STOP', 'CONFERENCE_DATA_QUERY', 'CONFERENCE_DATA', 'CALL_SETUP_REQ',
  'CALL_SETUP_RESULT', 'CALL_DETAIL', 'DEVICE_STATE', 'TEXT', 'SHUTDOWN_REQUESTED', 'CERT_RELOAD', 'ALL',
];

/** switch_name_event: case-insensitive, also accepts the SWITCH_EVENT_ prefix. */
export function eventNameFromToken(token: string): string | undefined {
  const t = token.length > 13 && token.slice(0, 13).toUpperCase() === 'SWITCH_EVENT_' ? token.slice(13) : token;
  const up = t.toUpperCase();
  return EVENT_NAMES.includes(up) ? up : undefined;
}

export interface CoreIdentity {
  coreUuid: string;
  hostname: string;
  switchname: string;
  ipv4: string;
  ipv6: string;
}

/** Where FreeSWITCH creates an event: Event-Calling-File/-Function/-Line-Number (v1.10.12). */
export type Origin = readonly [file: string, func: string, line: number];

export const ORIGIN = {
  outgoing: ['switch_core_session.c', 'switch_core_session_outgoing_channel', 768],
  state: ['switch_channel.c', 'switch_channel_perform_set_running_state', 2408],
  create: ['switch_core_state_machine.c', 'switch_core_session_run', 626],
  originate: ['switch_core_state_machine.c', 'switch_core_session_run', 632],
  progress: ['switch_channel.c', 'switch_channel_perform_mark_ring_ready_value', 3505],
  progressMedia: ['switch_channel.c', 'switch_channel_perform_mark_pre_answered', 3634],
  callstate: ['switch_channel.c', 'switch_channel_perform_set_callstate', 301],
  codecRead: ['switch_core_codec.c', 'switch_core_session_set_real_read_codec', 168],
  codecWrite: ['switch_core_codec.c', 'switch_core_session_set_write_codec', 450],
  answer: ['switch_channel.c', 'switch_channel_perform_mark_answered', 3846],
  callUpdate: ['switch_channel.c', 'switch_channel_flip_cid', 3277],
  execute: ['switch_core_session.c', 'switch_core_session_exec', 2944],
  executeComplete: ['switch_core_session.c', 'switch_core_session_exec', 2967],
  park: ['switch_ivr.c', 'switch_ivr_park', 1002],
  unpark: ['switch_ivr.c', 'switch_ivr_park', 1213],
  hangup: ['switch_channel.c', 'switch_channel_perform_hangup', 3445],
  hangupComplete: ['switch_core_state_machine.c', 'switch_core_session_reporting_state', 943],
  destroy: ['switch_core_session.c', 'switch_core_session_perform_destroy', 1584],
  bridge: ['switch_ivr_bridge.c', 'switch_ivr_multi_threaded_bridge', 1644],
  unbridge: ['switch_ivr_bridge.c', 'switch_ivr_multi_threaded_bridge', 1789],
  api: ['switch_loadable_module.c', 'switch_api_execute', 2954],
  backgroundJob: ['mod_event_socket.c', 'api_exec', 1572],
  heartbeat: ['switch_core.c', 'send_heartbeat', 95],
  reSchedule: ['switch_scheduler.c', 'switch_scheduler_execute', 73],
  sendevent: ['mod_event_socket.c', 'parse_command', 2251],
} as const satisfies Record<string, Origin>;

/** Adds a header unless the value is empty (FreeSWITCH never adds empty headers). */
export function addHeader(headers: Header[], name: string, value: string | number | undefined): void {
  if (value === undefined) return;
  const v = String(value);
  if (v !== '') headers.push([name, v]);
}

/**
 * Creates events with the common block. Event-Sequence and the date headers are taken at
 * creation time, as in FreeSWITCH: an API event created when a command starts and fired when
 * it ends therefore carries a lower sequence number than events fired in between.
 */
export class EventFactory {
  private seq = 0;

  constructor(private readonly identity: () => CoreIdentity, private readonly clock: SimClock) {}

  resetSequence(): void {
    this.seq = 0;
  }

  create(name: string, origin: Origin, opts: { subclass?: string; timeUs?: number } = {}): SimEvent {
    const id = this.identity();
    const ts = opts.timeUs ?? this.clock.nowUs();
    const headers: Header[] = [];
    addHeader(headers, 'Event-Name', name);
    addHeader(headers, 'Core-UUID', id.coreUuid);
    addHeader(headers, 'FreeSWITCH-Hostname', id.hostname);
    addHeader(headers, 'FreeSWITCH-Switchname', id.switchname);
    addHeader(headers, 'FreeSWITCH-IPv4', id.ipv4);
    addHeader(headers, 'FreeSWITCH-IPv6', id.ipv6);
    addHeader(headers, 'Event-Date-Local', formatLocal(ts));
    addHeader(headers, 'Event-Date-GMT', formatGmt(ts));
    addHeader(headers, 'Event-Date-Timestamp', ts);
    addHeader(headers, 'Event-Calling-File', origin[0]);
    addHeader(headers, 'Event-Calling-Function', origin[1]);
    addHeader(headers, 'Event-Calling-Line-Number', origin[2]);
    addHeader(headers, 'Event-Sequence', ++this.seq);
    if (name === 'CUSTOM' && opts.subclass) addHeader(headers, 'Event-Subclass', opts.subclass);
    return { name, subclass: opts.subclass, headers };
  }
}

export function apiEvent(f: EventFactory, command: string, arg: string | undefined): SimEvent {
  const ev = f.create('API', ORIGIN.api);
  addHeader(ev.headers, 'API-Command', command);
  addHeader(ev.headers, 'API-Command-Argument', arg);
  return ev;
}

export function backgroundJobEvent(f: EventFactory, jobUuid: string, command: string, arg: string | undefined,
  body: string): SimEvent {
  const ev = f.create('BACKGROUND_JOB', ORIGIN.backgroundJob);
  addHeader(ev.headers, 'Job-UUID', jobUuid);
  addHeader(ev.headers, 'Job-Command', command);
  addHeader(ev.headers, 'Job-Command-Arg', arg);
  ev.body = body;
  return ev;
}

export interface HeartbeatStats {
  upTime: string;
  version: string;
  uptimeMsec: number;
  sessionCount: number;
  maxSessions: number;
  sps: number;
  spsLast: number;
  spsPeak: number;
  spsPeakFiveMin: number;
  sessionsSinceStartup: number;
  sessionsPeak: number;
  sessionsPeakFiveMin: number;
  idleCpu: string;
}

export function heartbeatEvent(f: EventFactory, s: HeartbeatStats): SimEvent {
  const ev = f.create('HEARTBEAT', ORIGIN.heartbeat);
  const h = ev.headers;
  addHeader(h, 'Event-Info', 'System Ready');
  addHeader(h, 'Up-Time', s.upTime);
  addHeader(h, 'FreeSWITCH-Version', s.version);
  addHeader(h, 'Uptime-msec', s.uptimeMsec);
  addHeader(h, 'Session-Count', s.sessionCount);
  addHeader(h, 'Max-Sessions', s.maxSessions);
  addHeader(h, 'Session-Per-Sec', s.sps);
  addHeader(h, 'Session-Per-Sec-Last', s.spsLast);
  addHeader(h, 'Session-Per-Sec-Max', s.spsPeak);
  addHeader(h, 'Session-Per-Sec-FiveMin', s.spsPeakFiveMin);
  addHeader(h, 'Session-Since-Startup', s.sessionsSinceStartup);
  addHeader(h, 'Session-Peak-Max', s.sessionsPeak);
  addHeader(h, 'Session-Peak-FiveMin', s.sessionsPeakFiveMin);
  addHeader(h, 'Idle-CPU', s.idleCpu);
  return ev;
}

/** The scheduler re-arms the heartbeat task right after it ran (seen in the golden captures). */
export function reScheduleEvent(f: EventFactory, nextRunEpochSec: number): SimEvent {
  const ev = f.create('RE_SCHEDULE', ORIGIN.reSchedule);
  addHeader(ev.headers, 'Task-ID', 1);
  addHeader(ev.headers, 'Task-Desc', 'heartbeat');
  addHeader(ev.headers, 'Task-Group', 'core');
  addHeader(ev.headers, 'Task-Runtime', nextRunEpochSec);
  return ev;
}

export function getEventHeader(ev: SimEvent, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [n, v] of ev.headers) if (n.toLowerCase() === lower) return v;
  return undefined;
}
