// API commands (what `api X` / `bgapi X` run), with the exact output bodies of mod_commands.
import { causeName, str2cause, cause2str } from './causes';
import type { Core, OriginateContext } from './calls';
import { FS_VERSION } from './calls';
import { ORIGINATE_SYNTAX, parseOriginateArgs, separateBlank } from './dialstring';

/** Output of an API command: text now, or later (originate). null = the core went away (restart). */
export type ApiOutput = string | Promise<string | null>;

function csvTable(rows: Array<Array<[string, string]>>): string {
  if (rows.length === 0) return '\n0 total.\n';
  const head = (rows[0] as Array<[string, string]>).map(([k]) => k).join(',');
  return `${head}\n${rows.map((r) => r.map(([, v]) => v).join(',')).join('\n')}\n\n${rows.length} total.\n`;
}

function jsonTable(rows: Array<Array<[string, string]>>): string {
  // Empty result has its own odd spelling in FreeSWITCH: a space and a trailing newline.
  if (rows.length === 0) return '{"row_count": 0}\n';
  const objs = rows.map((r) => `{${r.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  return `{"row_count":${rows.length},"rows":[${objs.join(',')}]}`;
}

export class ApiCommands {
  constructor(private readonly core: () => Core) {}

  /** Returns undefined for an unknown command (the socket layer answers "Command not found!"). */
  run(cmd: string, arg: string | undefined, ctx: Omit<OriginateContext, 'rawArg'>): ApiOutput | undefined {
    const core = this.core();
    switch (cmd.toLowerCase()) {
      case 'originate': {
        const args = parseOriginateArgs(arg);
        if (!args) return `-USAGE: ${ORIGINATE_SYNTAX}\n`;
        return core.originate(args, { ...ctx, rawArg: arg ?? '' });
      }
      case 'uuid_kill': {
        if (!arg) return '-USAGE: <uuid> [cause]\n';
        const sp = arg.indexOf(' ');
        const uuid = sp < 0 ? arg : arg.slice(0, sp);
        const kcause = sp < 0 ? '' : arg.slice(sp + 1);
        const cause = kcause ? cause2str(str2cause(kcause)) : 'NORMAL_CLEARING';
        return core.kill(uuid, cause) ? '+OK\n' : '-ERR No such channel!\n';
      }
      case 'uuid_exists':
        return arg && core.channels.has(arg.trim()) ? 'true' : 'false';
      case 'uuid_bridge': {
        const argv = arg ? separateBlank(arg, 4) : [];
        if (argv.length < 2) return '-USAGE: <uuid> <other_uuid>\n';
        const [a, b, c] = argv as [string, string, string | undefined];
        if (core.bridge(a, b)) return `+OK ${b}\n`;
        if (c && core.bridge(a, c)) return `+OK ${c}\n`;
        return '-ERR Invalid uuid\n';
      }
      case 'uuid_getvar': {
        const argv = arg ? separateBlank(arg, 4) : [];
        if (argv.length < 2 || !argv[0]) return '-USAGE: <uuid> <var>\n';
        const ch = core.channels.get(argv[0]);
        if (!ch) return '-ERR No such channel!\n';
        return ch.getVar(argv[1] as string) ?? '_undef_';
      }
      case 'uuid_setvar': {
        const argv = arg ? separateBlank(arg, 3) : [];
        if (argv.length < 2 || !argv[0]) return '-USAGE: <uuid> <var> [value]\n';
        const ch = core.channels.get(argv[0]);
        if (!ch) return '-ERR No such channel!\n';
        ch.setVar(argv[1] as string, argv[2]);
        return '+OK\n';
      }
      case 'uuid_broadcast': {
        // mod_commands answers "+OK Message Sent" whether or not the channel exists.
        const argv = arg ? separateBlank(arg, 4) : [];
        if (argv.length < 2) return '-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n';
        core.flow(argv[0] as string)?.broadcast(argv[1] as string);
        return '+OK Message Sent\n';
      }
      case 'hupall':
        return this.hupall(core, arg);
      case 'show':
        return this.show(core, arg);
      case 'status':
        return core.statusText();
      case 'version':
        if (arg && /short/i.test(arg)) return '1.10.12\n';
        return `FreeSWITCH Version ${FS_VERSION} ( 64bit)\n`;
      case 'uptime': {
        const us = core.clock.nowUs() - core.startUs;
        const scale: Record<string, number> = { us: 1, microseconds: 1, ms: 1e3, milliseconds: 1e3, s: 1e6, seconds: 1e6,
          m: 6e7, minutes: 6e7, h: 3.6e9, hours: 3.6e9, d: 8.64e10, days: 8.64e10 };
        return `${Math.floor(us / (scale[(arg ?? 's').toLowerCase()] ?? 1e6))}\n`;
      }
      default:
        return undefined;
    }
  }

  private hupall(core: Core, arg: string | undefined): string {
    // hupall [cause] [var value ...]: an unknown cause name is NORMAL_CLEARING (str2cause).
    const argv = arg ? separateBlank(arg, 11) : [];
    let cause = 'MANAGER_REQUEST';
    if (argv[0]) {
      const code = str2cause(argv[0]);
      cause = code === 0 ? 'MANAGER_REQUEST' : causeName(code);
    }
    const pairs: Array<[string, string]> = [];
    for (let i = 1; i < argv.length - 1; i += 2) {
      const n = argv[i];
      const v = argv[i + 1];
      if (n && v) pairs.push([n, v]);
    }
    core.hupall(cause, pairs.length ? pairs : undefined);
    if (pairs.length === 0) return `+OK hangup all channels with cause ${cause}\n`;
    const first = pairs[0] as [string, string];
    const dots = pairs.length > 1 ? '...' : '';
    return `+OK hangup all channels matching [${first[0]}]=[${first[1]}]${dots} with cause: ${cause}\n`;
  }

  private show(core: Core, arg: string | undefined): string {
    const words = (arg ?? '').trim().toLowerCase().split(/\s+/).filter(Boolean);
    const what = words[0];
    const asJson = words.includes('as') && words[words.indexOf('as') + 1] === 'json';
    const count = words[1] === 'count';
    let rows: Array<Array<[string, string]>>;
    if (what === 'channels') rows = core.channelRows();
    else if (what === 'calls') rows = core.callRows();
    else return '-USAGE: channels|calls [count] [as json]\n';
    if (count) return `\n${rows.length} total.\n`;
    return asJson ? jsonTable(rows) : csvTable(rows);
  }
}
