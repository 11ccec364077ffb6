// What an answered broadcast call runs (spec §2.2, §3.6): the originate's application part. Tenant
// input: every piece is checked against a strict pattern here, so a campaign can only ever produce
// the applications below (transfer, playback, say, play_and_get_digits, hangup) with arguments of
// a safe alphabet. Pure: the API validates with contentProblems, the attempt plan builds with
// contentApp, and the result path reads the digit with MENU_DIGIT_VAR.

/** A menu choice's effect, as the §6.5 status body would have it. */
export interface MenuResult {
  success?: boolean;
  next_after_sec?: number;
}

export type BroadcastContent =
  /** Silence until somebody hangs up (no content configured and no `_cf`). */
  | { mode: 'park' }
  /** v3: into a dialplan extension, `<dialerId> XML dialer` by default. */
  | { mode: 'transfer'; extension?: string; context?: string }
  /** Built-in callflow: play each item in turn, optionally ask for one digit, hang up. */
  | {
    mode: 'callflow';
    play: string[];
    menu?: { prompt: string; digits: string; timeoutSec?: number; tries?: number; results?: Record<string, MenuResult> };
  };

/** Channel variable play_and_get_digits stores the pressed digit in (read from the hangup event). */
export const MENU_DIGIT_VAR = 'dlr_digit';
/** Engine channel variable naming the content mode, so the result path knows what "bridged" means. */
export const CONTENT_VAR = 'dlr_content';
/** Engine channel variable: the context a transfer goes to (its hangup event's Caller-Context). */
export const CONTENT_CONTEXT_VAR = 'dlr_content_context';

/** Dialplan names: letters, digits, `_`, `-`, `.`, `+` (no space, quote, comma or `$`). */
const DIALPLAN_NAME = /^[A-Za-z0-9_+.-]{1,64}$/;
/** A sound file: relative to FreeSWITCH's sound_prefix (no `..`), or absolute under an allowed prefix. */
const FILE = /^[A-Za-z0-9_./-]{1,255}$/;
/** tone_stream://…: TGML only (digits, `%(…)`, `,` `;` `=` `.` `L` `v` `>` `<` `+` `-`). */
const TONE = /^tone_stream:\/\/[0-9A-Za-z%(),;=.+<>-]{1,200}$/;
/** say:<lang> <type> <method> <text>: mod_say's fixed vocabulary and one plain word (the say
 *  application splits its data on spaces: a fifth word would be read as the gender). */
const SAY = /^say:([a-z]{2}) (number|items|persons|messages|currency|time_measurement|current_date|current_time|current_date_time|telephone_number|telephone_extension|url|ip_address|email_address|postal_address|account_number|name_spelled|name_phonetic|short_date_time) (pronounced|iterated|counted) ([A-Za-z0-9.@+-]{1,100})$/;
const SILENCE = /^silence_stream:\/\/[0-9]{1,6}$/;
const DIGITS = /^[0-9*]{1,12}$/;

/** Why this play item is refused, or null. `allow`: absolute path prefixes (SOUNDS_ALLOW). */
export function playItemProblem(item: string, allow: readonly string[]): string | null {
  if (item.startsWith('tone_stream://')) return TONE.test(item) ? null : 'tone_stream:// must be plain TGML (digits, %(), , ; = . + - < > letters)';
  if (item.startsWith('say:')) return SAY.test(item) ? null : 'say: must be "say:<lang> <type> <method> <text>" with mod_say names and one word of A-Z 0-9 . @ + -';
  if (item.startsWith('silence_stream://')) return SILENCE.test(item) ? null : 'silence_stream:// takes milliseconds';
  if (!FILE.test(item) || item.split('/').includes('..')) return 'must be a sound file name (A-Z, 0-9, _ . / -, no ..), tone_stream://, silence_stream:// or say:';
  if (item.startsWith('/') && !allow.some((p) => p !== '' && item.startsWith(p))) {
    return `absolute paths must start with an allowed prefix (SOUNDS_ALLOW: ${allow.length ? allow.join(', ') : 'none set'})`;
  }
  return null;
}

/** Every problem of a content description, as [field path, message]. */
export function contentProblems(c: BroadcastContent, allow: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  if (c.mode === 'transfer') {
    if (c.extension !== undefined && !DIALPLAN_NAME.test(c.extension)) out.push(['extension', 'must be 1-64 of A-Z a-z 0-9 _ + . -']);
    if (c.context !== undefined && !DIALPLAN_NAME.test(c.context)) out.push(['context', 'must be 1-64 of A-Z a-z 0-9 _ + . -']);
  } else if (c.mode === 'callflow') {
    c.play.forEach((item, i) => {
      const p = playItemProblem(item, allow);
      if (p) out.push([`play.${i}`, p]);
    });
    if (c.menu) {
      const p = playItemProblem(c.menu.prompt, allow);
      if (p || c.menu.prompt.startsWith('say:')) out.push(['menu.prompt', p ?? 'must be a file, tone_stream:// or silence_stream:// (play_and_get_digits plays files)']);
      if (!DIGITS.test(c.menu.digits)) out.push(['menu.digits', 'must be 1-12 of 0-9 and *']);
      for (const d of Object.keys(c.menu.results ?? {})) {
        if (d.length !== 1 || !c.menu.digits.includes(d)) out.push([`menu.results.${d}`, 'must be one of menu.digits']);
      }
    }
  }
  return out;
}

/** The content a campaign runs: the configured one; v3's transfer when only `_cf` is stored;
 *  otherwise park (the project's historical default, kept for campaigns with no content). */
export function effectiveContent(content: BroadcastContent | null | undefined, hasCallflow: boolean): BroadcastContent {
  if (content) return content;
  return hasCallflow ? { mode: 'transfer' } : { mode: 'park' };
}

/** `,` separates inline applications; a TGML comma is escaped (switch_separate_string keeps `\,`
 *  as one argument and removes the backslash). Nothing else needs escaping: the patterns above
 *  admit no quote, backslash, `$`, `{` or `^`. */
const inlineArg = (s: string) => s.replace(/,/g, '\\,');

function playApp(item: string): string {
  if (item.startsWith('say:')) return item; // say:<lang> <type> <method> <text> is already app:data
  return `playback:${inlineArg(item)}`;
}

/**
 * The originate's application part for a checked content: `&park()`, or v3's form
 * `'app:data,app:data' inline` (mod_dptools inline dialplan; the quotes keep the spaces of the
 * arguments in one originate argument).
 */
export function contentApp(c: BroadcastContent, dialerId: string, first: string[] = []): string {
  const inline = (apps: string[]) => `'${[...first, ...apps].join(',')}' inline`;
  if (c.mode === 'park') return first.length ? inline(['park']) : '&park()';
  if (c.mode === 'transfer') return inline([`transfer:${c.extension ?? dialerId} XML ${c.context ?? 'dialer'}`]);
  const apps = c.play.map(playApp);
  if (c.menu) {
    const m = c.menu;
    const timeoutMs = (m.timeoutSec ?? 5) * 1000;
    // <min> <max> <tries> <timeout> <terminators> <file> <invalid_file> <var_name> <regexp>
    apps.push(`play_and_get_digits:1 1 ${m.tries ?? 1} ${timeoutMs} # ${inlineArg(m.prompt)} silence_stream://250 ${MENU_DIGIT_VAR} [${m.digits}]`);
  }
  apps.push('hangup:NORMAL_CLEARING');
  return inline(apps);
}

/** Where `recordSession` recordings go (operator configuration, RECORDINGS_DIR / RECORDINGS_FORMAT)
 *  and the dialer variable RECORD_STEREO (§3.8). */
export interface RecordingRule {
  dir: string;
  format: 'wav' | 'mp3';
  stereo: boolean;
}

/** A recordings folder FreeSWITCH can take as one inline argument. */
export const RECORDINGS_DIR_PATTERN = /^\/[A-Za-z0-9_./-]*$/;

/** §3.8: `record_session` on the member leg before the content, with v3's variables (voice:
 *  RECORD_BRIDGE_REQ=false). The file is `<dir>/<dialerId>/<attempt uuid>.<format>`. */
export function recording(rec: RecordingRule, dialerId: string, uuid: string): { app: string; vars: Record<string, string> } {
  return {
    app: `record_session:${rec.dir.replace(/\/+$/, '')}/${dialerId}/${uuid}.${rec.format}`,
    vars: { RECORD_MIN_SEC: '2', RECORD_STEREO: String(rec.stereo), RECORD_BRIDGE_REQ: 'false', recording_follow_transfer: 'true' },
  };
}

/** What a pressed digit decides (undefined: nothing configured for it). */
export function menuResult(c: BroadcastContent | null | undefined, digit: string | undefined): MenuResult | undefined {
  if (!digit || c?.mode !== 'callflow' || !c.menu?.results) return undefined;
  return Object.prototype.hasOwnProperty.call(c.menu.results, digit) ? c.menu.results[digit] : undefined;
}
