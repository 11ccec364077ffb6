// Imports the CDRs mod_json_cdr left in its err-log-dir (services/cdr-import.ts) by posting each file to
// the worker's CDR endpoint, the same path as a live post (first source wins; idempotent):
//   npm run import-cdrs -- <dir> [--url http://<CDR_HOST>:<CDR_PORT>/cdr] [--cred user:password]
// Run it on the machine that holds the directory (usually the FreeSWITCH host); the credentials
// default to CDR_CRED. A file applied is renamed (.imported / .unknown / .ignored); one that failed
// stays for the next run. Prints the report (JSON) on stdout; exit 1 when a file failed.
import { config } from '../lib/config';
import { applyByPost, importCdrDir } from '../services/cdr-import';
import { createLogger } from '../lib/logger';

function usage(msg: string): never {
  console.error(`import-cdrs: ${msg}`);
  console.error('usage: import-cdrs <err-log-dir> [--url http://host:port/cdr] [--cred user:password]');
  process.exit(2);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  let dir: string | undefined;
  let url = `http://${config.cdr.host}:${config.cdr.port}/cdr`;
  let cred = config.cdr.cred;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--url') url = args[++i] ?? usage('--url needs a value');
    else if (a === '--cred') cred = args[++i] ?? usage('--cred needs a value');
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else if (dir) usage('one directory only');
    else dir = a;
  }
  if (!dir) usage('the directory is missing');
  const report = await importCdrDir(dir, applyByPost(url, cred), createLogger('import-cdrs'));
  console.log(JSON.stringify(report, null, 2));
  return report.failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`import-cdrs: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
