// Operator command for API credentials (no default credential exists anywhere):
//   tsx scripts/credentials.ts create --domain <name> [--name <label>]   a domain credential
//   tsx scripts/credentials.ts create --root [--name <label>]            a root credential
//   tsx scripts/credentials.ts list [--domain <name>]
//   tsx scripts/credentials.ts revoke <key>
// The secret is printed once (use it as X-Access-Token with X-Key = key); only its hash is stored.
// Uses MONGODB_URI (lib/config.ts). Add --json for machine-readable output, or --env (create) for
// shell `export KEY=… SECRET=…`.
import mongoose from 'mongoose';
import { connectMongo } from '../lib/db';
import { createCredential, Credential, revokeCredential } from '../models/credential';

function usage(): never {
  console.error(
    'usage:\n  credentials create (--domain <name> | --root) [--name <label>] [--json | --env]\n  credentials list [--domain <name>] [--json]\n  credentials revoke <key>',
  );
  process.exit(2);
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
  if (!cmd || !['create', 'list', 'revoke'].includes(cmd)) usage();
  const json = args.includes('--json');
  await connectMongo();
  try {
    if (cmd === 'create') {
      const domain = opt(args, '--domain');
      const root = args.includes('--root');
      if (!!domain === root) usage();
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
      if (!key) usage();
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
