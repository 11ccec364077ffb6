// Stand-alone FreeSWITCH simulator: `npx tsx simulator/main.ts`.
import path from 'node:path';
import { startSimulator } from './index';

function envInt(name: string, def: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}="${raw}" is not a non-negative number`);
  return n;
}

async function main(): Promise<void> {
  const rules = process.env.SIMULATOR_RULES || path.join(__dirname, 'demo-rules.json');
  const sim = await startSimulator({
    host: process.env.ESL_HOST || '127.0.0.1',
    port: envInt('ESL_PORT', 8021),
    password: process.env.ESL_PASSWORD ?? 'ClueCon',
    controlPort: envInt('SIMULATOR_CONTROL_PORT', 8022),
    rules,
    sessionsPerSecond: envInt('SIMULATOR_SPS', 30),
    maxSessions: envInt('SIMULATOR_MAX_SESSIONS', 1000),
    heartbeatSec: envInt('SIMULATOR_HEARTBEAT_SEC', 20),
    timeScale: envInt('SIMULATOR_TIME_SCALE', 1),
    // mod_json_cdr: CDR posts to the dialer (e.g. http://127.0.0.1:10023/cdr); unset = none.
    callLog: process.env.SIMULATOR_CALL_LOG || null,
    cdr: process.env.SIMULATOR_CDR_URL
      ? {
        url: process.env.SIMULATOR_CDR_URL,
        encoding: (process.env.SIMULATOR_CDR_ENCODING as 'form' | 'base64' | 'json' | undefined) || 'json',
        retries: envInt('SIMULATOR_CDR_RETRIES', 10),
        delayMs: envInt('SIMULATOR_CDR_DELAY_MS', 1000),
      }
      : null,
  });
  console.log(`FreeSWITCH simulator: ESL ${sim.host}:${sim.eslPort}, control http://${sim.host}:${sim.controlPort}, ` +
    `Core-UUID ${sim.coreUuid}, rules ${rules}${process.env.SIMULATOR_CDR_URL ? `, CDRs to ${process.env.SIMULATOR_CDR_URL}` : ''}`);
  const shutdown = () => {
    void sim.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
