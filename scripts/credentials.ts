// Operator command for API credentials (no default credential exists anywhere):
//   tsx scripts/credentials.ts create --domain <name> [--name <label>]   a domain credential
//   tsx scripts/credentials.ts create --root [--name <label>]            a root credential
//   tsx scripts/credentials.ts list [--domain <name>]
//   tsx scripts/credentials.ts revoke <key>
// The secret is printed once (use it as X-Access-Token with X-Key = key); only its hash is stored.
// Uses MONGODB_URI (lib/config.ts). Add --json for machine-readable output, or --env (create) for
// shell `export KEY=… SECRET=…`. --help prints the usage (exit 0); a wrong command line exits 2.
import mongoose from 'mongoose';
import { config } from '../lib/config';
import { connectMongo } from '../lib/db';
import { createCredential, Credential, revokeCredential } from '../models/credential';
import { isUnreachable, mongoUnreachable, redactUri } from './cli-hints';

const USAGE =
  'usage:\n  credentials create (--domain <name> | --root) [--name <label>] [--json | --env]\n' +
  '  credentials list [--domain <name>] [--json]\n  credentials revoke <key>\n' +
  `Connects to MONGODB_URI (now ${redactUri(config.mongodbUri)}); \`npm start\` must be running for the default.\n` +
  'Send a credential as the headers  X-Key: <key>  X-Access-Token: <secret>.';

function usage(msg?: string): never {
  if (msg) console.error(`credentials: ${msg}`);
  console.error(USAGE);
  process.exit(2);
}

/** Options each command accepts (true = takes a value). */
const OPTIONS: Record<string, Record<string, boolean>> = {
  create: { '--domain': true, '--root': false, '--name': true, '--json': false, '--env': false },
  list: { '--domain': true, '--json': false },
  revoke: {},
};

/** Refuses options the command does not know and stray arguments (revoke takes one key). */
function checkArgs(cmd: string, args: string[]): void {
  let positional = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('-')) {
      if (!Object.hasOwn(OPTIONS[cmd], a)) usage(`unknown option ${a} for ${cmd}`);
      if (OPTIONS[cmd][a]) i++;
    } else if (cmd !== 'revoke' || ++positional > 1) usage(`unexpected argument ${a}`);
  }
  if (cmd === 'create' && args.includes('--domain') === args.includes('--root')) usage('create needs exactly one of --domain <name> and --root');
  if (cmd === 'revoke' && !positional) usage('revoke needs the key');
}

function opt(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) {
    console.error(`${name} needs a value`);
    process.exit(2);
  }
  return v;
}

async function main(): Promise<void> {
  const [cmd, ...args] = process.argv.slice(2);
  if ([cmd, ...args].some((a) => a === '--help' || a === '-h') || cmd === 'help') {
    console.log(USAGE);
    return;
  }
  if (!cmd) usage('a command is required');
  if (!Object.hasOwn(OPTIONS, cmd)) usage(`unknown command ${cmd}`);
  checkArgs(cmd, args);
  const json = args.includes('--json');
  try {
    // Fails fast: a stack that is down should not keep the operator waiting for 15 s.
    await connectMongo(config.mongodbUri, { serverSelectionTimeoutMS: 5_000 });
  } catch (err) {
    if (isUnreachable(err)) throw new Error(`${mongoUnreachable(config.mongodbUri)} (${(err as Error).message})`);
    throw err;
  }
  try {
    if (cmd === 'create') {
      const domain = opt(args, '--domain');
      const root = args.includes('--root');
      const c = await createCredential({ domain: root ? null : domain!, name: opt(args, '--name') });
      if (json) console.log(JSON.stringify(c));
      // For `eval "$(… create --domain demo --env)"` in a shell (README quick start).
      else if (args.includes('--env')) console.log(`export KEY=${c.key} SECRET=${c.secret}`);
      else {
        console.log(`key:    ${c.key}`);
        console.log(`secret: ${c.secret}`);
        console.log(`domain: ${c.domain ?? '(root)'}`);
        console.log('Send them as the headers  X-Key: <key>  X-Access-Token: <secret>. The secret is not shown again.');
      }
    } else if (cmd === 'list') {
      const domain = opt(args, '--domain');
      const rows = await Credential.find(domain ? { domain } : {}, { secretHash: 0 }).sort({ createdOn: 1 }).lean();
      if (json) console.log(JSON.stringify(rows));
      else {
        for (const r of rows) {
          const state = r.revokedOn ? `revoked ${new Date(r.revokedOn).toISOString()}` : 'active';
          console.log(`${r._id}  ${(r.domain ?? '(root)').padEnd(20)}  ${state.padEnd(32)}  ${new Date(r.createdOn).toISOString()}  ${r.name}`);
        }
        if (!rows.length) console.log('(no credentials)');
      }
    } else {
      const key = args[0];
      const done = await revokeCredential(key);
      console.log(done ? `revoked ${key}` : `no active credential ${key}`);
      if (!done) process.exitCode = 1;
    }
  } finally {
    await mongoose.disconnect();
  }
}

main().catch((err) => {
  console.error(`credentials: ${(err as Error).message}`);
  process.exit(1);
});
