// Streams a CSV file into a dialer through the REST import route, with a progress bar on stderr
// counting the rows the API has stored (polled from the import's progress resource):
//   tsx scripts/import-csv.ts --dialer <id> [options] <file.csv>
// Options (passed through as query parameters, see docs/api.md "CSV import"):
//   --separator <c|tab>  --charset <label>  --mapping <cols>  --skip-header <true|false>
//   --expire-format <fmt>  --timezone <zone>  --region <CC>  --normalize <e164|none>
//   --dedupe <campaign|file|none>  --delete-existing  --auto-run  --domain <name> (root only)
// Connection: --url (default API_URL, else http://<API_HOST>:<API_PORT>, i.e. http://127.0.0.1:10022),
// credentials from --key/--secret or DIALER_KEY/DIALER_SECRET. Prints the import report (JSON) on
// stdout; exit code 0 when the upload was accepted (rejected rows are in the report), 1 otherwise,
// 2 for a wrong command line; --help prints the usage (exit 0).
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { config } from '../lib/config';
import { apiUnreachable, isUnreachable } from './cli-hints';

const FLAGS: Record<string, string> = {
  '--separator': 'separator', '--charset': 'charset', '--mapping': 'mapping', '--skip-header': 'skipHeader',
  '--expire-format': 'expireFormat', '--timezone': 'timezone', '--region': 'region', '--normalize': 'normalize',
  '--dedupe': 'dedupe', '--domain': 'domain',
};

const USAGE =
  'usage: import-csv --dialer <id> [--url URL] [--key K --secret S] [--separator C] [--charset CS] [--mapping COLS] [--skip-header B] [--expire-format F] [--timezone Z] [--region CC] [--normalize e164|none] [--dedupe campaign|file|none] [--delete-existing] [--auto-run] [--domain D] <file.csv>\n' +
  'Numbers are checked as real phone numbers (E.164): give --region for numbers without a country code, ' +
  '--normalize none for test numbers (the simulator\'s 100…, 200…). Options: docs/api.md "CSV import".';

function usage(msg?: string): never {
  if (msg) console.error(`import-csv: ${msg}`);
  console.error(USAGE);
  process.exit(2);
}

/** A hint under the report when rows were rejected as invalid phone numbers and nothing says how to keep them. */
function numbersHint(errors: { reason: string }[] | undefined, params: URLSearchParams): string | undefined {
  if (params.get('normalize') === 'none' || !errors?.some((e) => /is not a valid phone number/.test(e.reason))) return undefined;
  return 'hint: numbers are imported as real phone numbers (E.164). ' +
    (params.get('region') ? '' : 'Give --region CC for numbers written without a country code. ') +
    'Test numbers (e.g. the simulator\'s 100…, 200…) import with --normalize none, which keeps them as written.';
}

/** A hint when the file's first line looks separated by another character than the one used. */
function separatorHint(file: string, params: URLSearchParams): string | undefined {
  const used = params.get('separator') === 'tab' ? '\t' : (params.get('separator') ?? ',');
  const head = Buffer.alloc(4096);
  const fd = fs.openSync(file, 'r');
  const n = fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  const line = head.subarray(0, n).toString('utf8').split(/\r?\n/)[0];
  const count = (c: string) => line.split(c).length - 1;
  const likely = [';', '\t', '|', ','].find((c) => c !== used && count(c) > 0 && count(used) === 0);
  return likely && `hint: the first line has no "${used === '\t' ? 'tab' : used}" but has "${likely === '\t' ? 'tab' : likely}": try --separator ${likely === '\t' ? 'tab' : `'${likely}'`}`;
}

function fmtBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`;
}

/** Line breaks in the file (+1 when the last line has none). */
async function countLines(file: string): Promise<number> {
  let n = 0;
  let last = 10;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    const b = chunk as Buffer;
    for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
    if (b.length) last = b[b.length - 1];
  }
  return last === 10 ? n : n + 1;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const params = new URLSearchParams();
  let dialer: string | undefined;
  let file: string | undefined;
  let url = (process.env.API_URL || `http://${config.api.host}:${config.api.port}`).replace(/\/$/, '');
  let key = process.env.DIALER_KEY;
  let secret = process.env.DIALER_SECRET;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const val = () => {
      const v = args[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--dialer') dialer = val();
    else if (a === '--url') url = val().replace(/\/$/, '');
    else if (a === '--key') key = val();
    else if (a === '--secret') secret = val();
    else if (a === '--delete-existing') params.set('deleteExisting', 'true');
    else if (a === '--auto-run') params.set('autoRun', 'true');
    else if (FLAGS[a]) params.set(FLAGS[a], val());
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else if (!file) file = a;
    else usage(`unexpected argument ${a}`);
  }
  if (!dialer) usage('--dialer is required');
  if (!file) usage('a CSV file is required');
  if (!key || !secret) usage('credentials: --key and --secret (or DIALER_KEY / DIALER_SECRET)');
  if (!fs.existsSync(file)) usage(`no such file: ${file}`);
  const size = fs.statSync(file).size;

  // The rows to expect (lines, less the header row): the bar's 100 %. Quoted line breaks make it
  // an estimate, so the bar stays below 100 % until the API answers.
  const header = params.get('skipHeader') === 'true' || (params.get('skipHeader') !== 'false' && !params.has('mapping'));
  const rowsExpected = Math.max(1, (await countLines(file)) - (header ? 1 : 0));
  const importId = `cli-${randomBytes(12).toString('base64url')}`;
  params.set('importId', importId);
  const progressUrl = `${url}/api/v2/dialer/${encodeURIComponent(dialer)}/members/import/${importId}`;
  const headers = { 'X-Key': key, 'X-Access-Token': secret };

  let sent = 0;
  type Progress = { rowsRead: number; rowsStored: number; rowsRejected: number };
  let progress: Progress | null = null;
  const t0 = Date.now();
  const tty = process.stderr.isTTY;
  let lastDraw = 0;
  const draw = (final = false) => {
    const now = Date.now();
    if (!final && now - lastDraw < (tty ? 200 : 2000)) return;
    if (!final && now - t0 < 2000) return; // a quick upload gets only the final line
    lastDraw = now;
    const width = 30;
    const secs = Math.max(0.001, (now - t0) / 1000);
    let frac: number;
    let text: string;
    if (progress) {
      frac = final ? 1 : Math.min(0.99, progress.rowsStored / rowsExpected);
      text = `rows stored ${progress.rowsStored} of ~${rowsExpected}, rejected ${progress.rowsRejected}  ${Math.round(progress.rowsStored / secs)} rows/s`;
    } else {
      // No progress from the API yet (or an API without it): bytes uploaded.
      frac = size ? Math.min(1, sent / size) : 1;
      text = `${fmtBytes(sent)} / ${fmtBytes(size)} sent  ${fmtBytes(sent / secs)}/s`;
    }
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '-');
    const line = `[${bar}] ${(frac * 100).toFixed(0).padStart(3)}%  ${text}`;
    process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
  };
  let uploading = true;
  const poll = (async () => {
    while (uploading) {
      await new Promise((r) => setTimeout(r, tty ? 500 : 1000));
      if (!uploading) break;
      try {
        const r = await fetch(progressUrl, { headers });
        if (r.ok) {
          const got = ((await r.json()) as { data?: Progress }).data;
          if (typeof got?.rowsStored === 'number') progress = got;
          draw();
        }
      } catch {
        /* the upload's own request reports an API that is gone */
      }
    }
  })();
  const stream = fs.createReadStream(file, { highWaterMark: 256 * 1024 });
  // Counts bytes as fetch pulls them (an async iterable body keeps back-pressure).
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of stream) {
      sent += (chunk as Buffer).length;
      if (!progress) draw();
      yield chunk as Buffer;
    }
  }
  const res = await fetch(`${url}/api/v2/dialer/${encodeURIComponent(dialer)}/members/import?${params}`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/csv', ...headers },
    // A Node stream is an async iterable: fetch pulls from it (Readable.toWeb would buffer the whole file).
    body: counted() as unknown as RequestInit['body'],
    duplex: 'half',
  } as RequestInit & { duplex: 'half' }).catch((err: unknown) => {
    if (tty) process.stderr.write('\n');
    throw isUnreachable(err) ? new Error(`${apiUnreachable(url)} (${(err as Error).message}: ${String((err as { cause?: Error }).cause?.message ?? '')})`) : err;
  }).finally(() => {
    uploading = false;
  });
  const text = await res.text();
  await poll;
  let body: { status?: string; data?: { rows: number; imported: number; rejected: number; errors?: { reason: string }[] }; info?: string } = {};
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  if (!res.ok || body.status !== 'OK') {
    // The API's whole answer: its message names the field or column and what to change.
    console.error(`import-csv: HTTP ${res.status} from ${url}: ${body.info ?? text}`);
    const hint = separatorHint(file, params);
    if (hint) console.error(hint);
    if (res.status === 401) console.error('import-csv: check --key/--secret (DIALER_KEY/DIALER_SECRET): `npm run credentials -- create --domain <name>` makes them');
    process.exit(1);
  }
  const d = body.data!;
  if (progress || Date.now() - t0 >= 2000) {
    progress = { rowsRead: d.rows, rowsStored: d.imported, rowsRejected: d.rejected };
    draw(true);
    if (tty) process.stderr.write('\n');
  }
  process.stderr.write(`rows ${d.rows}, imported ${d.imported}, rejected ${d.rejected} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  console.log(JSON.stringify(d, null, 2));
  const hint = numbersHint(d.errors, params);
  if (hint) process.stderr.write(`${hint}\n`);
}

main().catch((err) => {
  console.error(`import-csv: ${(err as Error).message}`);
  process.exit(1);
});
