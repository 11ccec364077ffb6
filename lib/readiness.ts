// When is the stack that `npm start` runs ready to use? The worker writes its status to a small
// JSON file (DIALER_WORKER_STATUS_FILE, set by scripts/run.ts) once it is connected to Temporal and
// whenever its ESL connection comes or goes; the API answers /health (MongoDB and Temporal).
// scripts/run.ts prints "Durable Dialer is running" only when notReady() returns nothing.
import fs from 'node:fs';

export interface WorkerStatus {
  pid: number;
  /** Worker created (connected to Temporal, namespace checked) and polling its task queue. */
  temporal: boolean;
  /** ESL connected to FreeSWITCH (or the simulator). */
  esl: boolean;
  at: string;
}

export function writeWorkerStatus(file: string, s: Omit<WorkerStatus, 'pid' | 'at'>): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ pid: process.pid, ...s, at: new Date().toISOString() }));
  fs.renameSync(tmp, file); // readers never see half a file
}

export function readWorkerStatus(file: string): WorkerStatus | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as WorkerStatus;
  } catch {
    return undefined;
  }
}

export interface StackState {
  /** pid of the worker process now running (a status file from an earlier run does not count). */
  workerPid: number;
  worker?: WorkerStatus;
  eslAddress: string;
  apiUrl: string;
  /** The answer of GET /health, or why there was none. */
  apiHealth: { status: number; body?: { data?: { mongo?: boolean; temporal?: boolean } } } | { error: string };
}

/** What the stack is still waiting for, in words for the console; empty = ready. */
export function notReady(s: StackState): string[] {
  const waiting: string[] = [];
  const w = s.worker?.pid === s.workerPid ? s.worker : undefined;
  if (!w?.temporal) waiting.push('the worker to bundle its workflows and connect to Temporal');
  else if (!w.esl) waiting.push(`the worker to connect to FreeSWITCH ESL at ${s.eslAddress}`);
  const h = s.apiHealth;
  if ('error' in h) waiting.push(`the API to answer ${s.apiUrl}/health (${h.error})`);
  else if (h.status !== 200) {
    const down = Object.entries(h.body?.data ?? {}).filter(([, ok]) => !ok).map(([k]) => k);
    waiting.push(`the API's /health to be OK (HTTP ${h.status}${down.length ? `, not connected: ${down.join(', ')}` : ''})`);
  }
  return waiting;
}
