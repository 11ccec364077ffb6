// Scripted outcomes per destination number. A rules file picks, for each dialled number, what the
// far end does (ring, answer, talk, busy, ...); the call model turns that into FreeSWITCH events.
import { isCauseName, sipStatusToCause } from './causes';

export type Outcome =
  /** 200 OK after ringSec; remote BYE after talkSec (omit talkSec: stays up until killed). */
  | { type: 'answer'; ringSec?: number; talkSec?: number | null; hangupCause?: string; earlyMedia?: boolean;
    progressSec?: number | null;
    /** Digits the callee presses at a play_and_get_digits prompt (after the prompt; none: timeout). */
    dtmf?: string;
    /** After a `transfer`, the dialplan extension hangs the call up after this many seconds
     *  (omit: it stays up until the callee hangs up). */
    extensionSec?: number;
    /** What mod_amd decides on this answer, `sec` after the `amd` application started: `human`
     *  (HUMAN/SILENCEAFTERGREETING), `machine` (MACHINE/MAXWORDS), `notsure` (NOTSURE/TOOLONG, at
     *  total_analysis_time), `cancel` (the callee hangs up at `sec`, before any result). A `sec` past
     *  total_analysis_time gives NOTSURE/TOOLONG, as mod_amd. Omitted: human after 1 s. */
    amd?: AmdScript }
  /** Final SIP failure after ringSec: busy=486, reject=603, unallocated=404, temp_failure=503. */
  | { type: 'busy' | 'reject' | 'unallocated' | 'temp_failure'; ringSec?: number; progressSec?: number | null }
  /** Any final SIP status; the cause follows mod_sofia's mapping. */
  | { type: 'sip'; status: number; ringSec?: number; progressSec?: number | null }
  /** Rings (180 at progressSec, default 0; null = never) until originate_timeout -> NO_ANSWER. */
  | { type: 'no_answer'; progressSec?: number | null; earlyMedia?: boolean }
  /** The gateway is down: GATEWAY_DOWN before any INVITE (bare CHANNEL_DESTROY, as mod_sofia). */
  | { type: 'gateway_down' }
  /** Failure without a channel, like the error/<CAUSE> endpoint. */
  | { type: 'fail'; cause: string }
  /** Weighted random choice, drawn from the rules' seeded generator. */
  | { type: 'mix'; choices: Array<{ weight: number; outcome: Outcome }> };

export interface Rule {
  name?: string;
  /** Exact destination number. */
  match?: string;
  prefix?: string;
  /** JavaScript regular expression tested against the destination number. */
  regex?: string;
  /** Only for calls through this gateway name. */
  gateway?: string;
  outcome: Outcome;
}

export type GatewayStatus = 'up' | 'down';

export interface RulesConfig {
  /** Seed for `mix` outcomes; same seed + same call order = same outcomes. */
  seed?: number;
  /**
   * Known sofia gateways. Names not listed are unknown (INVALID_GATEWAY), except that a "*" entry
   * applies to every unlisted name. Omitted entirely: every gateway is up.
   */
  gateways?: Record<string, GatewayStatus>;
  /** Length of played files in seconds: per file (as in the playback argument), else `defaultSec` (1). */
  playback?: { defaultSec?: number; files?: Record<string, number> };
  /** Registered users (`user/<ext>`, e.g. agent phones) and what each phone does when called:
   *  answer after ringSec (talkSec: the agent hangs up; omitted: stays until the other side does),
   *  no_answer, busy (also DND: 486), reject (603), any SIP status. Not listed: not registered
   *  (USER_NOT_REGISTERED, as FreeSWITCH's user endpoint without a registration). */
  users?: Record<string, Outcome>;
  /** Outcome when no rule matches (default: answer after 1 s, talk 5 s). */
  default?: Outcome;
  rules?: Rule[];
}

/** The resolved timeline of one call, in simulated seconds from the INVITE. */
export interface AmdScript {
  result: 'human' | 'machine' | 'notsure' | 'cancel';
  sec?: number;
  /** amd_cause to report instead of the usual one (e.g. LONGGREETING, INITIALSILENCE). */
  cause?: string;
}

export interface CallScript {
  kind: string;
  rule?: string;
  progressSec: number | null;
  earlyMediaSec: number | null;
  answerSec: number | null;
  failSec: number | null;
  failStatus?: number;
  talkSec: number | null;
  byeCause: string;
  noChannelCause?: string;
  dtmf?: string;
  extensionSec?: number;
  amd?: AmdScript;
}

export const DEFAULT_OUTCOME: Outcome = { type: 'answer', ringSec: 1, talkSec: 5 };

const FAIL_STATUS = { busy: 486, reject: 603, unallocated: 404, temp_failure: 503 } as const;

/** mulberry32: small, fast, good enough for reproducible test mixes. */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function num(v: unknown, what: string, allowNull = false): void {
  if (v === undefined) return;
  if (v === null && allowNull) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`${what} must be a number >= 0`);
}

function validateOutcome(o: unknown, where: string): void {
  if (!o || typeof o !== 'object') throw new Error(`${where}: outcome must be an object`);
  const out = o as Record<string, unknown>;
  switch (out.type) {
    case 'answer':
      num(out.ringSec, `${where}.ringSec`);
      num(out.talkSec, `${where}.talkSec`, true);
      num(out.progressSec, `${where}.progressSec`, true);
      num(out.extensionSec, `${where}.extensionSec`);
      if (out.dtmf !== undefined && (typeof out.dtmf !== 'string' || !/^[0-9*#A-D]{0,20}$/.test(out.dtmf))) {
        throw new Error(`${where}.dtmf must be a string of DTMF digits`);
      }
      if (out.amd !== undefined) {
        const a = out.amd as Record<string, unknown>;
        if (!a || !['human', 'machine', 'notsure', 'cancel'].includes(String(a.result))) throw new Error(`${where}.amd.result must be human, machine, notsure or cancel`);
        num(a.sec, `${where}.amd.sec`);
        if (a.cause !== undefined && !/^[A-Z]{1,32}$/.test(String(a.cause))) throw new Error(`${where}.amd.cause must be an amd_cause name`);
      }
      if (out.hangupCause !== undefined && !isCauseName(String(out.hangupCause))) {
        throw new Error(`${where}.hangupCause: unknown cause ${String(out.hangupCause)}`);
      }
      return;
    case 'busy': case 'reject': case 'unallocated': case 'temp_failure':
      num(out.ringSec, `${where}.ringSec`);
      num(out.progressSec, `${where}.progressSec`, true);
      return;
    case 'sip':
      if (typeof out.status !== 'number' || out.status < 300 || out.status > 699) {
        throw new Error(`${where}.status must be a SIP final failure status (300-699)`);
      }
      num(out.ringSec, `${where}.ringSec`);
      num(out.progressSec, `${where}.progressSec`, true);
      return;
    case 'no_answer':
      num(out.progressSec, `${where}.progressSec`, true);
      return;
    case 'gateway_down':
      return;
    case 'fail':
      if (typeof out.cause !== 'string' || !isCauseName(out.cause)) throw new Error(`${where}.cause: unknown cause`);
      return;
    case 'mix': {
      if (!Array.isArray(out.choices) || out.choices.length === 0) throw new Error(`${where}.choices must be a non-empty array`);
      out.choices.forEach((c: unknown, i: number) => {
        const choice = c as { weight?: unknown; outcome?: unknown };
        num(choice.weight, `${where}.choices[${i}].weight`);
        if (choice.weight === undefined) throw new Error(`${where}.choices[${i}].weight is required`);
        validateOutcome(choice.outcome, `${where}.choices[${i}].outcome`);
      });
      return;
    }
    default:
      throw new Error(`${where}: unknown outcome type ${JSON.stringify(out.type)}`);
  }
}

/** Throws a readable error for anything malformed; returns the same object typed. */
export function validateRules(input: unknown): RulesConfig {
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new Error('rules must be a JSON object');
  const cfg = input as Record<string, unknown>;
  if (cfg.seed !== undefined && (typeof cfg.seed !== 'number' || !Number.isInteger(cfg.seed))) {
    throw new Error('seed must be an integer');
  }
  if (cfg.gateways !== undefined) {
    if (!cfg.gateways || typeof cfg.gateways !== 'object') throw new Error('gateways must be an object');
    for (const [k, v] of Object.entries(cfg.gateways)) {
      if (v !== 'up' && v !== 'down') throw new Error(`gateways.${k} must be "up" or "down"`);
    }
  }
  if (cfg.playback !== undefined) {
    const pb = cfg.playback as Record<string, unknown>;
    if (!pb || typeof pb !== 'object') throw new Error('playback must be an object');
    num(pb.defaultSec, 'playback.defaultSec');
    for (const [k, v] of Object.entries((pb.files ?? {}) as Record<string, unknown>)) num(v, `playback.files.${k}`);
  }
  if (cfg.default !== undefined) validateOutcome(cfg.default, 'default');
  if (cfg.users !== undefined) {
    if (!cfg.users || typeof cfg.users !== 'object' || Array.isArray(cfg.users)) throw new Error('users must be an object');
    for (const [ext, o] of Object.entries(cfg.users)) validateOutcome(o, `users.${ext}`);
  }
  if (cfg.rules !== undefined) {
    if (!Array.isArray(cfg.rules)) throw new Error('rules must be an array');
    cfg.rules.forEach((r: unknown, i: number) => {
      const rule = r as Record<string, unknown>;
      if (!rule || typeof rule !== 'object') throw new Error(`rules[${i}] must be an object`);
      if (rule.regex !== undefined) {
        try { new RegExp(String(rule.regex)); } catch (e) { throw new Error(`rules[${i}].regex: ${(e as Error).message}`); }
      }
      validateOutcome(rule.outcome, `rules[${i}].outcome`);
    });
  }
  return input as RulesConfig;
}

export class RuleBook {
  private rng: () => number;
  private readonly compiled: Array<{ rule: Rule; re?: RegExp }>;

  constructor(readonly config: RulesConfig) {
    validateRules(config);
    this.rng = makeRng(config.seed ?? Date.now());
    this.compiled = (config.rules ?? []).map((rule) => ({ rule, re: rule.regex ? new RegExp(rule.regex) : undefined }));
  }

  /** Simulated length of a played file (playback, play_and_get_digits prompts). */
  playbackSec(file: string): number {
    const pb = this.config.playback;
    const silence = /^silence_stream:\/\/(\d+)/.exec(file);
    if (silence) return Number(silence[1]) / 1000;
    return pb?.files?.[file] ?? pb?.defaultSec ?? 1;
  }

  gatewayStatus(name: string): GatewayStatus | 'unknown' {
    const gws = this.config.gateways;
    if (!gws) return 'up';
    return gws[name] ?? gws['*'] ?? 'unknown';
  }

  userRegistered(ext: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.config.users ?? {}, ext);
  }

  /** The script of a registered user's phone. */
  resolveUser(ext: string): CallScript {
    return this.toScript((this.config.users ?? {})[ext] as Outcome, `user/${ext}`);
  }

  /** Picks the first matching rule (or the default) and resolves mixes into one concrete script. */
  resolve(destination: string, gateway: string | undefined): CallScript {
    for (const { rule, re } of this.compiled) {
      if (rule.gateway !== undefined && rule.gateway !== gateway) continue;
      if (rule.match !== undefined && rule.match !== destination) continue;
      if (rule.prefix !== undefined && !destination.startsWith(rule.prefix)) continue;
      if (re && !re.test(destination)) continue;
      return this.toScript(rule.outcome, rule.name ?? rule.match ?? rule.prefix ?? rule.regex);
    }
    return this.toScript(this.config.default ?? DEFAULT_OUTCOME, 'default');
  }

  private pick(choices: Array<{ weight: number; outcome: Outcome }>): Outcome {
    const total = choices.reduce((s, c) => s + c.weight, 0);
    let r = this.rng() * total;
    for (const c of choices) {
      r -= c.weight;
      if (r < 0) return c.outcome;
    }
    return (choices[choices.length - 1] as { outcome: Outcome }).outcome;
  }

  private toScript(outcome: Outcome, rule: string | undefined): CallScript {
    const base = { rule, progressSec: null, earlyMediaSec: null, answerSec: null, failSec: null, talkSec: null,
      byeCause: 'NORMAL_CLEARING' };
    switch (outcome.type) {
      case 'mix':
        return this.toScript(this.pick(outcome.choices), rule);
      case 'answer': {
        const ring = outcome.ringSec ?? 1;
        // A 180 is sent at progressSec (default: at once) only if the phone rings at all.
        const progress = outcome.progressSec === undefined ? (ring > 0 ? 0 : null) : outcome.progressSec;
        return { ...base, kind: 'answer', progressSec: outcome.earlyMedia ? null : progress,
          earlyMediaSec: outcome.earlyMedia ? (progress ?? 0) : null, answerSec: ring,
          talkSec: outcome.talkSec ?? null, byeCause: outcome.hangupCause ?? 'NORMAL_CLEARING',
          ...(outcome.dtmf !== undefined ? { dtmf: outcome.dtmf } : {}),
          ...(outcome.extensionSec !== undefined ? { extensionSec: outcome.extensionSec } : {}),
          ...(outcome.amd ? { amd: outcome.amd } : {}) };
      }
      case 'busy': case 'reject': case 'unallocated': case 'temp_failure': case 'sip': {
        const ring = outcome.ringSec ?? 0;
        const progress = outcome.progressSec === undefined ? (ring > 0 ? 0 : null) : outcome.progressSec;
        const status = outcome.type === 'sip' ? outcome.status : FAIL_STATUS[outcome.type];
        return { ...base, kind: outcome.type, progressSec: progress, failSec: ring, failStatus: status };
      }
      case 'no_answer': {
        const progress = outcome.progressSec === undefined ? 0 : outcome.progressSec;
        return { ...base, kind: 'no_answer', progressSec: outcome.earlyMedia ? null : progress,
          earlyMediaSec: outcome.earlyMedia ? (progress ?? 0) : null };
      }
      case 'gateway_down':
        return { ...base, kind: 'gateway_down', noChannelCause: 'GATEWAY_DOWN' };
      case 'fail':
        return { ...base, kind: 'fail', noChannelCause: outcome.cause.toUpperCase() };
    }
  }
}

/** The cause a scripted SIP failure produces (used for records and tests). */
export function scriptFailureCause(script: CallScript): string | undefined {
  return script.failStatus !== undefined ? sipStatusToCause(script.failStatus) : undefined;
}
