// In-process API: start a FreeSWITCH simulator (ESL server + optional HTTP control) and drive it.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { CallLogFile } from './call-log';
import { CallRecord, Core } from './calls';
import { CdrPoster, type CdrOptions } from './cdr';
import { SimClock } from './clock';
import { ControlServer } from './control';
import { DISCONNECT_SHUTDOWN } from './protocol';
import { RuleBook, RulesConfig, validateRules } from './rules';
import { EslServer } from './server';

export type { CallRecord } from './calls';
export type { Outcome, Rule, RulesConfig } from './rules';
export type { CdrOptions, CdrStats, CdrEncoding, JsonCdr } from './cdr';
export type { CallLogEntry } from './call-log';
export { readCallLog } from './call-log';

export interface SimulatorOptions {
  /** Listen address of the event socket (default 127.0.0.1). */
  host?: string;
  /** Event socket port; 0 picks a free one (default 8021). */
  port?: number;
  password?: string;
  /** HTTP control port; 0 picks a free one; null/undefined = no HTTP control server. */
  controlPort?: number | null;
  /** Rules object or path of a JSON rules file. */
  rules?: RulesConfig | string;
  /** FreeSWITCH sessions-per-second (default 30; effectively 29 pass per second, as in FreeSWITCH). */
  sessionsPerSecond?: number;
  /** FreeSWITCH max-sessions (default 1000). */
  maxSessions?: number;
  /** HEARTBEAT interval in real seconds (default 20; 0 = none). */
  heartbeatSec?: number;
  /** Real time per simulated time: 0.01 makes one simulated second last 10 ms (default 1). */
  timeScale?: number;
  /** Seconds allowed before the first command (default 25). */
  authTimeoutSec?: number;
  /** FreeSWITCH-Hostname / -Switchname (default: this machine's host name). */
  hostname?: string;
  ipv4?: string;
  ipv6?: string;
  /**
   * mod_json_cdr: POST every channel's CDR to this URL (simulator/cdr.ts); omitted = no CDRs. As in
   * FreeSWITCH, CHANNEL_HANGUP_COMPLETE then waits for the post and its retries.
   */
  cdr?: CdrOptions | null;
  /** Append every originate, answer, hangup, result and CDR outcome to this JSON-lines file (call-log.ts). */
  callLog?: string | null;
}

export interface FaultRequest {
  /** Drop every ESL connection with a TCP RST. */
  resetConnections?: boolean;
  /** Close every ESL connection with a FIN and no disconnect notice. */
  closeConnections?: boolean;
  /** Half-open: send nothing (no replies, events, heartbeats) and ignore everything received. */
  silence?: boolean;
  /** Split every frame into writes of this many bytes (0 = off). */
  chunkSize?: number;
  /** Delay, in real ms, before each originate result is reported (BACKGROUND_JOB / api reply). */
  jobDelayMs?: number;
  /** New process: new Core-UUID, all calls dropped without events, connections closed. */
  restart?: boolean;
  /** Run the next n originates a second time once their call is over (a planted duplicate originate). */
  repeatOriginates?: number;
}

export interface FaultState {
  silence: boolean;
  chunkSize: number;
  jobDelayMs: number;
}

export interface Simulator {
  readonly host: string;
  readonly eslPort: number;
  readonly controlPort: number | null;
  readonly password: string;
  /** Core-UUID of the current simulated process (changes on restart). */
  readonly coreUuid: string;
  setRules(rules: RulesConfig): void;
  getRules(): RulesConfig;
  /** Every originate handled since start or the last reset, oldest first (copies). */
  calls(): CallRecord[];
  /** One call by channel UUID, origination_uuid or Job-UUID. */
  call(id: string): CallRecord | undefined;
  activeChannels(): number;
  /** Highest number of simultaneous channels since start or the last reset. */
  peakChannels(): number;
  stats(): Record<string, unknown>;
  faults(req: FaultRequest): FaultState;
  /** Hangs up live channels (MANAGER_REQUEST, unless hangup=false) and forgets recorded calls. */
  reset(opts?: { hangup?: boolean }): void;
  /** Simulated FreeSWITCH restart. graceful: SYSTEM_SHUTDOWN hangups and shutdown notices first. */
  restart(opts?: { graceful?: boolean }): Promise<void>;
  /** Fires a HEARTBEAT (and RE_SCHEDULE) now. */
  heartbeat(): void;
  stop(): Promise<void>;
}

export function loadRules(rules: RulesConfig | string | undefined): RulesConfig {
  if (rules === undefined) return {};
  if (typeof rules === 'string') return validateRules(JSON.parse(readFileSync(rules, 'utf8')));
  return validateRules(rules);
}

function guessIpv4(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const clock = new SimClock(opts.timeScale ?? 1);
  const faultState: FaultState = { silence: false, chunkSize: 0, jobDelayMs: 0 };
  const host = opts.host ?? '127.0.0.1';
  const password = opts.password ?? 'ClueCon';
  const heartbeatSec = opts.heartbeatSec ?? 20;
  const hostname = opts.hostname ?? os.hostname();
  const logFile = opts.callLog ? new CallLogFile(opts.callLog) : undefined;
  const cdr = opts.cdr
    ? new CdrPoster(opts.cdr, (uuid, accepted, tries) => core.record({ ev: 'cdr', uuid, accepted, tries }))
    : undefined;
  const core: Core = new Core({
    sessionsPerSecond: opts.sessionsPerSecond ?? 30,
    maxSessions: opts.maxSessions ?? 1000,
    hostname,
    ipv4: opts.ipv4 ?? guessIpv4(),
    ipv6: opts.ipv6 ?? '::1',
    heartbeatSec,
    rules: new RuleBook(loadRules(opts.rules)),
    clock,
    resultDelayMs: () => faultState.jobDelayMs,
    onReporting: cdr ? (ch, alive) => cdr.report(ch, { coreUuid: core.coreUuid, switchname: hostname }, alive) : undefined,
    log: logFile ? (e) => logFile.write({ t: Date.now(), core: core.coreUuid, ...e } as Parameters<CallLogFile['write']>[0]) : undefined,
  });
  const esl = new EslServer({ host, port: opts.port ?? 8021, password, authTimeoutSec: opts.authTimeoutSec ?? 25, core });
  const eslPort = await esl.listen();
  core.start();

  const findCall = (id: string) => [...core.records].reverse()
    .find((r) => r.uuid === id || r.originationUuid === id || r.jobUuid === id);

  const sim: Simulator = {
    host,
    eslPort,
    controlPort: null,
    password,
    get coreUuid() { return core.coreUuid; },
    setRules(rules) { core.rules = new RuleBook(validateRules(rules)); },
    getRules() { return core.rules.config; },
    calls() { return core.records.map((r) => ({ ...r, channelVars: { ...r.channelVars } })); },
    call(id) {
      const r = findCall(id);
      return r ? { ...r, channelVars: { ...r.channelVars } } : undefined;
    },
    activeChannels() { return core.activeChannels(); },
    peakChannels() { return core.peakChannels(); },
    stats() {
      return { ...core.stats(), eslConnections: esl.connectionCount(), faults: { ...faultState }, ...(cdr ? { cdr: cdr.stats() } : {}) };
    },
    faults(req) {
      if (req.silence !== undefined) faultState.silence = esl.faults.silence = req.silence;
      if (req.chunkSize !== undefined) faultState.chunkSize = esl.faults.chunkSize = Math.max(0, req.chunkSize);
      if (req.jobDelayMs !== undefined) faultState.jobDelayMs = Math.max(0, req.jobDelayMs);
      if (req.resetConnections) esl.resetConnections();
      if (req.closeConnections) esl.closeConnections();
      if (req.repeatOriginates !== undefined) core.repeatOriginates = Math.max(0, req.repeatOriginates);
      if (req.restart) void sim.restart();
      return { ...faultState };
    },
    reset(o = {}) {
      if (o.hangup !== false) core.hupall('MANAGER_REQUEST');
      core.resetRecords();
    },
    async restart(o = {}) {
      if (o.graceful) {
        core.hupall('SYSTEM_SHUTDOWN');
        // A shutdown waits for the sessions to end, CDR posts (and their retries) included.
        do await new Promise((r) => setTimeout(r, 20));
        while (core.activeChannels() > 0);
        esl.closeConnections(DISCONNECT_SHUTDOWN);
      } else {
        esl.closeConnections();
      }
      core.restart();
    },
    heartbeat() { core.sendHeartbeat(); },
    async stop() {
      cdr?.stop();
      core.stop();
      logFile?.close();
      esl.closeConnections(DISCONNECT_SHUTDOWN);
      await esl.close();
      await control?.close();
    },
  };

  let control: ControlServer | undefined;
  if (opts.controlPort !== undefined && opts.controlPort !== null) {
    control = new ControlServer(sim);
    (sim as { controlPort: number | null }).controlPort = await control.listen(opts.controlPort, host);
  }
  return sim;
}
