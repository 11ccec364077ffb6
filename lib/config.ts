// One place for every setting. Each value comes from an environment variable with a default
// that matches the embedded stack started by `npm start` (scripts/run.ts).
import path from 'node:path';

const root = path.resolve(__dirname, '..');

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

export const config = {
  rootDir: root,
  dataDir: str('DIALER_DATA_DIR', path.join(root, '.data')),
  toolsDir: str('DIALER_TOOLS_DIR', path.join(root, '.tools')),
  temporal: {
    address: str('TEMPORAL_ADDRESS', '127.0.0.1:7233'),
    namespace: str('TEMPORAL_NAMESPACE', 'default'),
    taskQueue: str('TEMPORAL_TASK_QUEUE', 'dialer'),
    uiPort: int('TEMPORAL_UI_PORT', 8233),
  },
  mongodbUri: str('MONGODB_URI', 'mongodb://127.0.0.1:27017/dialer'),
  esl: {
    host: str('ESL_HOST', '127.0.0.1'),
    port: int('ESL_PORT', 8021),
    password: str('ESL_PASSWORD', 'ClueCon'),
  },
  simulator: {
    // The embedded FreeSWITCH simulator is started by `npm start` unless SIMULATOR=off.
    enabled: str('SIMULATOR', 'on') !== 'off',
    controlPort: int('SIMULATOR_CONTROL_PORT', 8022),
    rulesFile: str('SIMULATOR_RULES', path.join(root, 'simulator', 'demo-rules.json')),
  },
  api: {
    host: str('API_HOST', '127.0.0.1'),
    port: int('API_PORT', 10022),
  },
};
export type Config = typeof config;
