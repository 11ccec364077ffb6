// Small helpers every benchmark uses: command-line options and /proc readings. (No heavy imports:
// the pacing bench, which needs no servers, uses them too.)
import fs from 'node:fs';

/** `--name value` or `--name=value`, else `def`. */
export function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`${name}=`));
  return eq ? eq.slice(name.length + 1) : def;
}
export const flag = (name: string) => process.argv.includes(name);

/** A /proc/<pid>/status field in bytes (VmRSS = resident now, VmHWM = peak resident). */
export function vmBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;

/** The median wall time in ms of `n` sequential runs of `fn`. */
export async function medianMs(fn: () => Promise<unknown>, n: number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    xs.push(performance.now() - t0);
  }
  return xs.sort((a, b) => a - b)[Math.floor(n / 2)];
}
