// Answering machine detection (spec §3.7, §2.2, §2.4): the `amd` application's parameters, the
// applications and channel variables around it, and what a result means. Pure: the attempt plan
// builds the originate with amdPlan, the result path reads the channel with amdFromVars, and the
// broadcast (and the predictive engine) ask amdRoute what a result means.
//
// FreeSWITCH (mod_amd, a port of Asterisk's app_amd): `amd` takes `name=value` pairs separated by
// spaces, starts a media bug and returns at once; when it decides it sets `amd_result` (HUMAN,
// MACHINE, NOTSURE), `amd_cause` and `amd_result_epoch` (seconds) and runs the channel variable
// `amd_on_human`, `amd_on_machine` or `amd_on_notsure` (switch_channel_execute_on: `app::arg` runs
// the application asynchronously). Total analysis time over: NOTSURE / TOOLONG.
import { playItemProblem } from './content';

/** The campaign's `amd` field (§3.7; times in ms). */
export interface AmdSettings {
  enabled?: boolean;
  allowNotSure?: boolean;
  silenceThreshold?: number;
  maximumWordLength?: number;
  maximumNumberOfWords?: number;
  betweenWordsSilence?: number;
  minWordLength?: number;
  totalAnalysisTime?: number;
  afterGreetingSilence?: number;
  greeting?: number;
  initialSilence?: number;
  silenceNotSure?: boolean;
  playbackFile?: { uri?: string } | null;
  beforePlaybackFileTime?: number;
}

/** v3's UI defaults (§3.7), used for a field the campaign leaves out. */
export const AMD_DEFAULTS = {
  silenceThreshold: 256, maximumWordLength: 5000, maximumNumberOfWords: 3, betweenWordsSilence: 50, minWordLength: 100,
  totalAnalysisTime: 5000, afterGreetingSilence: 800, greeting: 1500, initialSilence: 2500, beforePlaybackFileTime: 1000,
} as const;

export const AMD_RESULTS = ['HUMAN', 'MACHINE', 'NOTSURE', 'CANCEL'] as const;
export type AmdResult = (typeof AMD_RESULTS)[number];

/** What FreeSWITCH runs for a machine, and for a NOTSURE that is not allowed (v3: a Retry cause by default). */
export const AMD_HANGUP_CAUSE = 'NORMAL_UNSPECIFIED';
/** The cause of a call whose callee hung up during the analysis (v3 §2.4: AMD result CANCEL). */
export const AMD_CANCEL_CAUSE = 'ORIGINATOR_CANCEL';

/** The `amd` application's argument, in §3.7's order and names. */
export function amdParams(a: AmdSettings): string {
  const v = (k: keyof typeof AMD_DEFAULTS) => Math.round(a[k] ?? AMD_DEFAULTS[k]);
  return [
    `silence_threshold=${v('silenceThreshold')}`, `maximum_word_length=${v('maximumWordLength')}`,
    `maximum_number_of_words=${v('maximumNumberOfWords')}`, `between_words_silence=${v('betweenWordsSilence')}`,
    `min_word_length=${v('minWordLength')}`, `total_analysis_time=${v('totalAnalysisTime')}`,
    `after_greeting_silence=${v('afterGreetingSilence')}`, `greeting=${v('greeting')}`, `initial_silence=${v('initialSilence')}`,
    `silence_notsure=${a.silenceNotSure ? 1 : 0}`,
  ].join(' ');
}

/**
 * The applications that run first on the answered call, and the channel variables that route the
 * result. After `amd`, v3's waits: `sleep:<beforePlaybackFileTime>`, `playback:<file>`,
 * `sleep:<total − before + 100>` with a file, else `sleep:<total + 100>`. A machine (and a NOTSURE
 * unless allowed) is hung up `NORMAL_UNSPECIFIED`; a human (and an allowed NOTSURE) gets `break`,
 * which ends the wait at once, so the content that follows in the list starts right away. The
 * campaign loader has checked the file against SOUNDS_ALLOW; one that is not a plain sound file
 * name here is left out (the wait stays).
 */
export function amdPlan(a: AmdSettings): { apps: string[]; vars: Record<string, string> } {
  const total = Math.round(a.totalAnalysisTime ?? AMD_DEFAULTS.totalAnalysisTime);
  const before = Math.round(a.beforePlaybackFileTime ?? AMD_DEFAULTS.beforePlaybackFileTime);
  const file = a.playbackFile?.uri;
  const apps = [`amd:${amdParams(a)}`];
  if (file && !playItemProblem(file, ['/']) && !file.startsWith('say:')) {
    if (before > 0) apps.push(`sleep:${before}`);
    apps.push(`playback:${file.replace(/,/g, '\\,')}`);
    if (total - before > 0) apps.push(`sleep:${total - before + 100}`);
  } else {
    apps.push(`sleep:${total + 100}`);
  }
  const hangup = `hangup::${AMD_HANGUP_CAUSE}`;
  return {
    apps,
    vars: { amd_on_human: 'break', amd_on_machine: hangup, amd_on_notsure: a.allowNotSure ? 'break' : hangup },
  };
}

/** The longest an answered call waits for the AMD result (mod_amd gives up at total_analysis_time). */
export function amdMaxMs(a: AmdSettings | undefined): number {
  return a?.enabled ? Math.round(a.totalAnalysisTime ?? AMD_DEFAULTS.totalAnalysisTime) + 1000 : 0;
}

/** An attempt's AMD outcome as the hangup event (or CDR) reports it. */
export interface AmdOutcome {
  result: AmdResult;
  cause?: string;
  /** Analysis time in seconds (`amd_result_epoch − answer_epoch`; CANCEL: the whole answered time). */
  sec: number;
}

/** The AMD outcome of a call that ran `amd` (null: it did not, or was never answered). */
export function amdFromVars(vars: Record<string, string | undefined>, answered: boolean, billsec: number): AmdOutcome | null {
  if (!vars.amd_on_machine || !answered) return null;
  const result = (vars.amd_result ?? '').toUpperCase();
  if (result === 'HUMAN' || result === 'MACHINE' || result === 'NOTSURE') {
    const sec = Number(vars.amd_result_epoch) - Number(vars.answer_epoch);
    return { result, ...(vars.amd_cause ? { cause: vars.amd_cause } : {}), sec: Number.isFinite(sec) ? Math.max(0, Math.min(sec, billsec)) : 0 };
  }
  // Answered, hung up before AMD decided (v3: CANCEL).
  return { result: 'CANCEL', sec: billsec };
}

/**
 * What an AMD result means for the call (§2.2, §2.4): `connect` — a person: the broadcast content
 * plays, a predictive call looks for an agent; `drop` — a machine (or an unallowed NOTSURE):
 * FreeSWITCH hung up NORMAL_UNSPECIFIED, no agent is needed; `cancelled` — the callee hung up during
 * the analysis (the attempt's cause is ORIGINATOR_CANCEL).
 */
export function amdRoute(result: AmdResult, allowNotSure: boolean): 'connect' | 'drop' | 'cancelled' {
  if (result === 'HUMAN') return 'connect';
  if (result === 'NOTSURE') return allowNotSure ? 'connect' : 'drop';
  if (result === 'CANCEL') return 'cancelled';
  return 'drop';
}
