// Simulated time. With timeScale 1 it is the wall clock; with timeScale 0.01 one simulated second
// passes in 10 real milliseconds, so tests can script long calls and still get FreeSWITCH-consistent
// timestamps (billsec = hangup epoch - answer epoch, computed from the same simulated clock).

export class SimClock {
  private readonly baseWallUs: number;
  private readonly baseRealMs: number;

  constructor(readonly timeScale = 1) {
    if (!(timeScale > 0)) throw new Error(`timeScale must be > 0, got ${timeScale}`);
    this.baseWallUs = Date.now() * 1000;
    this.baseRealMs = performance.now();
  }

  /** Current simulated time in microseconds since the epoch (integer). */
  nowUs(): number {
    const elapsedRealMs = performance.now() - this.baseRealMs;
    return Math.floor(this.baseWallUs + (elapsedRealMs * 1000) / this.timeScale);
  }

  /** Real milliseconds to wait for a simulated duration in seconds. */
  realMs(simSec: number): number {
    return Math.max(0, simSec * 1000 * this.timeScale);
  }
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** strftime "%Y-%m-%d %T" in local time, as FreeSWITCH writes Event-Date-Local and *_stamp. */
export function formatLocal(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** switch_rfc822_date: "Tue, 24 Nov 2026 12:58:34 GMT". */
export function formatGmt(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  return `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} GMT`;
}

/** switch_core_measure_time text used by `status` and HEARTBEAT Up-Time (singular when 1). */
export function formatUptime(us: number): string {
  let rest = Math.max(0, Math.floor(us));
  const mms = rest % 1000; rest = Math.floor(rest / 1000);
  const ms = rest % 1000; rest = Math.floor(rest / 1000);
  const sec = rest % 60; rest = Math.floor(rest / 60);
  const min = rest % 60; rest = Math.floor(rest / 60);
  const hr = rest % 24; rest = Math.floor(rest / 24);
  const day = rest % 365;
  const yr = Math.floor(rest / 365);
  const u = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return [u(yr, 'year'), u(day, 'day'), u(hr, 'hour'), u(min, 'minute'), u(sec, 'second'),
    u(ms, 'millisecond'), u(mms, 'microsecond')].join(', ');
}
