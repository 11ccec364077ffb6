// One place for every setting. Each value comes from an environment variable with a default
// that matches the embedded stack started by `npm start` (scripts/run.ts).
import path from 'node:path';
import { parseAllowList } from '../rules/channel-vars';
import { RECORDINGS_DIR_PATTERN } from '../rules/content';

const root = path.resolve(__dirname, '..');

/** The folder goes into the originate's inline application list: no character that would end it. */
function recordingsDir(v: string): string {
  if (!RECORDINGS_DIR_PATTERN.test(v)) throw new Error(`Setting RECORDINGS_DIR="${v}" must be an absolute path of A-Z a-z 0-9 _ . / -`);
  return v;
}

function int(name: string, def: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`Setting ${name}="${raw}" is not a non-negative integer`);
  return n;
}
function str(name: string, def: string): string {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? def : raw;
}

// Ports of the embedded servers that `npm start` runs (scripts/run.ts).
const temporalPort = int('TEMPORAL_PORT', 7233);
const ferretdbPort = int('FERRETDB_PORT', 27017);

/** `gw1=10,gw2=5` → {gw1: 10, gw2: 5} (positive integers per sofia gateway name). */
function perGateway(name: string): Record<string, number> {
  return Object.fromEntries(
    str(name, '').split(',').map((s) => s.trim()).filter(Boolean).map((kv) => {
      const [gw, n] = kv.split('=');
      if (!gw || !/^\d+$/.test(n ?? '') || Number(n) <= 0) throw new Error(`Setting ${name}: "${kv}" is not <gateway>=<positive integer>`);
      return [gw, Number(n)] as const;
    }),
  );
}

export const config = {
  rootDir: root,
  dataDir: str('DIALER_DATA_DIR', path.join(root, '.data')),
  toolsDir: str('DIALER_TOOLS_DIR', path.join(root, '.tools')),
  temporal: {
    // Setting TEMPORAL_ADDRESS means "use that server": `npm start` then starts no dev server.
    address: str('TEMPORAL_ADDRESS', `127.0.0.1:${temporalPort}`),
    port: temporalPort,
    embedded: !process.env.TEMPORAL_ADDRESS,
    namespace: str('TEMPORAL_NAMESPACE', 'default'),
    taskQueue: str('TEMPORAL_TASK_QUEUE', 'dialer'),
    uiPort: int('TEMPORAL_UI_PORT', 8233),
  },
  // Setting MONGODB_URI means "use that MongoDB": `npm start` then starts no FerretDB.
  mongodbUri: str('MONGODB_URI', `mongodb://127.0.0.1:${ferretdbPort}/dialer`),
  /** Connections per process. Every document has one writer, and a document written from more than
   *  one place in a process is written one update at a time (models/serial.ts), so the pool need not
   *  order writes (FerretDB v1 applies overlapping updates of one document non-atomically; see
   *  docs/architecture.md, "FerretDB and atomicity"). */
  mongodbPoolSize: int('MONGODB_POOL_SIZE', 4) || 4,
  /** Group commit (models/group-commit.ts): how long a batch waits for more writes before it is
   *  sent; 0 = until the current event-loop turn ends. */
  groupCommitTickMs: int('GROUP_COMMIT_TICK_MS', 0),
  ferretdb: { port: ferretdbPort, embedded: !process.env.MONGODB_URI },
  esl: {
    host: str('ESL_HOST', '127.0.0.1'),
    port: int('ESL_PORT', 8021),
    password: str('ESL_PASSWORD', 'ClueCon'),
    /** Nothing received for this long = dead connection (> 2 × FreeSWITCH's 20 s HEARTBEAT). */
    heartbeatTimeoutMs: int('ESL_HEARTBEAT_TIMEOUT_MS', 60_000),
  },
  // mod_json_cdr posts (services/cdr.ts) are received by the worker on CDR_HOST:CDR_PORT, path /cdr;
  // CDR_PORT=0 turns the endpoint off. CDR_CRED (`user:password`) = mod_json_cdr's `cred`: posts
  // without it get 401. CDR_ERROR_DIR = mod_json_cdr's `err-log-dir` when it is on this machine:
  // the worker imports the CDRs left there at start (scripts/import-cdrs.ts does it on demand).
  cdr: {
    enabled: int('CDR_PORT', 10023) > 0,
    host: str('CDR_HOST', '127.0.0.1'),
    port: int('CDR_PORT', 10023),
    cred: str('CDR_CRED', ''),
    errorDir: str('CDR_ERROR_DIR', ''),
  },
  // Reconciliation of open attempts after every ESL (re)connect and periodically (services/reconcile.ts).
  reconcile: {
    graceMs: int('RECONCILE_GRACE_MS', 10_000),
    intervalMs: int('RECONCILE_INTERVAL_MS', 60_000),
  },
  /** Default of the campaign parameter `lostCallRedials`: calls that vanished without a result
   *  (LOST_CALL) a member may have redialled without counting them; later ones count. */
  lostCallRedials: int('LOST_CALL_REDIALS', 2),
  simulator: {
    // The embedded FreeSWITCH simulator is started by `npm start` unless SIMULATOR=off.
    enabled: str('SIMULATOR', 'on') !== 'off',
    controlPort: int('SIMULATOR_CONTROL_PORT', 8022),
    rulesFile: str('SIMULATOR_RULES', path.join(root, 'simulator', 'demo-rules.json')),
  },
  /** Tenant variables FreeSWITCH acts on that tenants may set anyway: exact names and `prefix*`,
   *  comma-separated (rules/channel-vars.ts; README "Security"). Operator-only: no API sets it. */
  channelVariablesAllow: parseAllowList(str('CHANNEL_VARIABLES_ALLOW', '')),
  /** Endpoint prefixes a destination may dial (esl/format.ts dialEndpointProblem; README "Security"). */
  dialEndpointsAllow: str('DIAL_ENDPOINTS_ALLOW', 'sofia/gateway/').split(',').map((s) => s.trim()).filter(Boolean),
  /** Endpoint prefixes an agent's contact may dial (registered users, WebRTC, a carrier gateway). */
  agentEndpointsAllow: str('AGENT_ENDPOINTS_ALLOW', 'user/,verto.rtc/,sofia/gateway/').split(',').map((s) => s.trim()).filter(Boolean),
  /** Absolute path prefixes a campaign's content may play files from (comma-separated, e.g.
   *  "/var/lib/dialer/sounds/"); relative names (under FreeSWITCH's sound_prefix) are always allowed. */
  soundsAllow: str('SOUNDS_ALLOW', '').split(',').map((s) => s.trim()).filter(Boolean),
  /** Originations per second per sofia gateway, whatever campaign sends them: `gw1=10,gw2=5`
   *  (a carrier's CPS; FreeSWITCH's own `sessions-per-second` is for the whole switch). */
  gatewayCps: perGateway('GATEWAY_CPS'),
  /** Simultaneous calls per sofia gateway, whatever campaign makes them: `gw1=30` (the carrier's
   *  channels). Campaigns sharing one compete by dialer `priority` (rules/line-priority.ts). */
  gatewayLines: perGateway('GATEWAY_LINES'),
  /** How long a worker uses its copy of a domain's compliance settings (models/compliance.ts); the
   *  API answers a change only once this long has passed, so it binds every originate after it. */
  complianceCacheMs: int('COMPLIANCE_CACHE_MS', 2000),
  /** `recordSession` recordings: a folder on the FreeSWITCH host (files `<dialerId>/<uuid>.<format>`). */
  recordings: {
    dir: recordingsDir(str('RECORDINGS_DIR', '/var/lib/freeswitch/recordings/dialer')),
    format: str('RECORDINGS_FORMAT', 'wav') === 'mp3' ? ('mp3' as const) : ('wav' as const),
  },
  api: {
    host: str('API_HOST', '127.0.0.1'),
    port: int('API_PORT', 10022),
    /** How other systems reach this API (template jobs' X-Response-Host); default http://API_HOST:API_PORT. */
    publicUrl: str('API_PUBLIC_URL', ''),
    /** maxTimeMS of every API query; a query over it is a 422 ("narrow it"). */
    queryTimeoutMs: int('API_QUERY_TIMEOUT_MS', 20_000),
    /** The client-shaped queries (lists, counts, pipelines) have their own pool of this many
     *  connections (they only read), and each domain at most API_READS_PER_DOMAIN of them at once. */
    readPoolSize: int('API_READ_POOL_SIZE', 4),
    readsPerDomain: int('API_READS_PER_DOMAIN', 2),
    /** Requests per second per credential (token bucket; 429 with Retry-After beyond); 0 = off. */
    rateLimit: int('API_RATE_LIMIT', 50),
    rateBurst: int('API_RATE_BURST', 100),
    /** Whole request (headers and body) must arrive within this; raise it for slow multi-GB CSV uploads. */
    requestTimeoutMs: int('API_REQUEST_TIMEOUT_MS', 300_000),
    headersTimeoutMs: int('API_HEADERS_TIMEOUT_MS', 10_000),
    keepAliveTimeoutMs: int('API_KEEPALIVE_TIMEOUT_MS', 5_000),
  },
  // Member-end webhooks (activities/webhooks.ts, lib/outbound.ts): URLs to loopback, private,
  // link-local, metadata … addresses are refused unless listed here (comma-separated host names,
  // IPs or CIDRs, e.g. "127.0.0.1/32,hooks.internal").
  webhooks: {
    allowHosts: str('WEBHOOK_ALLOW_HOSTS', ''),
    maxPerDomain: int('WEBHOOK_MAX_PER_DOMAIN', 20),
    /** POSTs in flight per domain in one worker process. */
    concurrencyPerDomain: int('WEBHOOK_CONCURRENCY_PER_DOMAIN', 4),
  },
  // Prometheus /metrics (lib/metrics.ts), unauthenticated: each process serves it on its own port,
  // on METRICS_HOST (loopback by default; a management address in production). Port 0 = off.
  // WORKER_TEMPORAL_METRICS=off leaves out the Temporal SDK's own metrics from the worker's page.
  metrics: {
    host: str('METRICS_HOST', '127.0.0.1'),
    apiPort: int('API_METRICS_PORT', 10024),
    workerPort: int('WORKER_METRICS_PORT', 10025),
    temporalSdk: str('WORKER_TEMPORAL_METRICS', 'on') !== 'off',
  },
  // `npm test` (scripts/test.ts) runs its own servers on these ports, so it can run beside `npm start`.
  test: {
    ferretdbPort: int('TEST_FERRETDB_PORT', 27117),
    temporalPort: int('TEST_TEMPORAL_PORT', 7333),
    /** The test Temporal server's Web UI (browser tests open it); by default its port + 1000, as
     *  Temporal does, so runs with different TEST_TEMPORAL_PORTs do not clash. */
    temporalUiPort: int('TEST_TEMPORAL_UI_PORT', int('TEST_TEMPORAL_PORT', 7333) + 1000),
  },
};
export type Config = typeof config;
