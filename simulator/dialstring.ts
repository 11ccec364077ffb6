// Parsing of `originate` arguments and dial strings the way FreeSWITCH does it
// (switch_separate_string in switch_utils.c, switch_event_create_brackets in switch_event.c).

const ESC = '\\';
const UNESCAPE: Record<string, string> = { n: '\n', r: '\r', t: '\t', s: ' ' };

/** cleanup_separated_string: strip quotes, unescape, trim leading spaces and trailing unquoted spaces. */
function cleanup(str: string, delim: string | null): string {
  let i = 0;
  while (str[i] === ' ') i++;
  let out = '';
  let end = 0;
  let inside = false;
  for (; i < str.length; i++) {
    const ch = str[i] as string;
    if (ch === ESC && i + 1 < str.length) {
      const e = str[i + 1] as string;
      const un = UNESCAPE[e];
      if (e === "'" || e === '"' || (delim !== null && e === delim) || e === ESC || un !== undefined) {
        out += un ?? e;
        end = out.length;
        i++;
        continue;
      }
    }
    if (ch === "'" && (inside || str.indexOf("'", i + 1) >= 0)) {
      inside = !inside;
      if (inside) end = out.length;
      continue;
    }
    out += ch;
    if (ch !== ' ' || inside) end = out.length;
  }
  return out.slice(0, end);
}

/** switch_separate_string with a blank delimiter: quotes group words, runs of spaces separate. */
export function separateBlank(buf: string, max: number): string[] {
  const tokens: string[] = [];
  let i = 0;
  let inside = false;
  while (i < buf.length && tokens.length < max) {
    const start = i;
    while (i < buf.length && buf[i] === ' ') i++;
    let tokEnd = buf.length;
    for (; i < buf.length; i++) {
      const ch = buf[i];
      if (ch === ESC) { i++; continue; }
      if (ch === "'") { inside = !inside; continue; }
      if (ch === ' ' && !inside) { tokEnd = i; break; }
    }
    // The last allowed token keeps the rest of the string, as in C where no NUL is written.
    if (tokens.length === max - 1) tokEnd = buf.length;
    tokens.push(cleanup(buf.slice(start, tokEnd), null));
    if (tokEnd >= buf.length) break;
    i = tokEnd + 1;
    while (i < buf.length && buf[i] === ' ') i++;
  }
  return tokens;
}

/** switch_separate_string with a character delimiter (quote-aware, escapes honoured). */
export function separateChar(input: string, delim: string, max: number): string[] {
  let buf = input;
  let d = delim;
  if (buf.startsWith('^^') && buf.length >= 4) {
    d = buf[2] as string;
    buf = buf.slice(3);
  }
  const tokens: string[] = [];
  let start = 0;
  let inside = false;
  let i = 0;
  while (i < buf.length && tokens.length < max) {
    const ch = buf[i];
    if (ch === ESC) {
      i += 2;
      continue;
    }
    if (ch === "'" && (inside || buf.indexOf("'", i + 1) >= 0)) {
      inside = !inside;
    } else if (ch === d && !inside && tokens.length < max - 1) {
      tokens.push(buf.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  if (start < buf.length) tokens.push(buf.slice(start));
  return tokens.map((t) => cleanup(t, d));
}

export const ORIGINATE_SYNTAX =
  '<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]';

export interface OriginateArgs {
  aleg: string;
  exten: string;
  dialplan: string;
  context: string;
  cidName?: string;
  cidNum?: string;
  timeoutSec: number;
}

/** originate_function in mod_commands.c; undefined means "-USAGE". */
export function parseOriginateArgs(arg: string | undefined): OriginateArgs | undefined {
  if (!arg) return undefined;
  const argv: Array<string | undefined> = separateBlank(arg, 10);
  if (argv.length < 2 || argv.length > 7) return undefined;
  for (let i = 0; i < argv.length; i++) if (argv[i]?.toLowerCase() === 'undef') argv[i] = undefined;
  const [aleg, exten, dialplan, context, cidName, cidNum, timeout] = argv;
  if (!aleg || exten === undefined) return undefined;
  return {
    aleg,
    exten,
    dialplan: dialplan ?? 'XML',
    context: context ?? 'default',
    cidName,
    cidNum,
    timeoutSec: timeout !== undefined ? parseInt(timeout, 10) || 0 : 60,
  };
}

function findEndParen(s: string, open: string, close: string, from: number): number {
  let depth = 0;
  for (let i = from; i < s.length; i++) {
    if (s[i] === open) depth++;
    else if (s[i] === close && --depth === 0) return i;
  }
  return -1;
}

/** Parses a `{a=1,b=2}` / `[a=1]` prefix; later duplicates replace earlier ones (EF_UNIQ_HEADERS). */
function parseBrackets(s: string, open: string, close: string, vars: Map<string, string>): string {
  let rest = s;
  while (rest.startsWith(open)) {
    const end = findEndParen(rest, open, close, 0);
    if (end < 0) break;
    const body = rest.slice(1, end);
    for (const item of separateChar(body, ',', 1024)) {
      const eq = item.indexOf('=');
      if (eq <= 0) continue;
      const name = item.slice(0, eq);
      const value = item.slice(eq + 1);
      vars.delete(name);
      if (value !== '') vars.set(name, value);
    }
    rest = rest.slice(end + 1);
  }
  return rest;
}

export interface DialTarget {
  /** Channel variables from `{}` and the first leg's `[]`, in order. */
  vars: Map<string, string>;
  /** The first leg without its variable prefixes, e.g. `sofia/gateway/gw1/1001`. */
  url: string;
  /** How many legs the dial string lists (`,` or `|`); only the first one is dialled. */
  legCount: number;
}

export function parseDialString(aleg: string): DialTarget {
  const vars = new Map<string, string>();
  let rest = parseBrackets(aleg.trim(), '{', '}', vars);
  const legs = splitLegs(rest);
  rest = parseBrackets(legs[0] ?? '', '[', ']', vars);
  return { vars, url: rest.trim(), legCount: legs.length };
}

function splitLegs(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    if (ch === '[' || ch === '{' || ch === '<') depth++;
    else if (ch === ']' || ch === '}' || ch === '>') depth--;
    if ((ch === ',' || ch === '|') && depth === 0 && s[i - 1] !== ESC) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  out.push(cur);
  return out.filter((x) => x !== '');
}

/** `&park()` -> {app:'park', arg:''}; a plain extension -> undefined. */
/** mod_dptools inline_dialplan_hunt: `app:data,app:data` (switch_separate_string on `,`, so `\,`
 *  and quotes keep a comma in the data; `^^<c>` picks another separator), split at the first `:`. */
export function parseInlineApps(exten: string): Array<{ app: string; arg: string }> {
  return separateChar(exten, ',', 128).filter((s) => s !== '').map((s) => {
    const colon = s.indexOf(':');
    const app = (colon < 0 ? s : s.slice(0, colon)).replace(/^ +/, '');
    return { app, arg: colon < 0 ? '' : s.slice(colon + 1) };
  });
}

export function parseAppExten(exten: string): { app: string; arg: string } | undefined {
  if (!exten.startsWith('&') || exten.length < 2) return undefined;
  let body = exten.slice(1);
  const close = body.indexOf(')');
  if (close >= 0) body = body.slice(0, close);
  const open = body.indexOf('(');
  if (open < 0) return { app: body, arg: '' };
  return { app: body.slice(0, open), arg: body.slice(open + 1) };
}
