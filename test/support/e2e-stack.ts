// The stack of an end-to-end test file: the REST API on a database of the file's own, a dev dialer
// (the worker's real pieces) on the API's task queue dialling into a FreeSWITCH simulator of its
// own, and a credential of the file's domain. `npm test` provides FerretDB and the Temporal dev server.
import { after, before } from 'node:test';
import type { Outcome, Simulator, SimulatorOptions } from '../../simulator';
import { startApi, type ApiHarness, type Cred } from '../api-support';
import { startDevDialer, type DevDialer } from './dev-dialer';

export interface E2eStack {
  api: ApiHarness;
  dev: DevDialer;
  sim: Simulator;
  /** A credential of the file's domain (null: a root credential). */
  cred: Cred;
}

type DevDialerOptions = Parameters<typeof startDevDialer>[0];

export interface E2eOptions {
  domain: string | null;
  /** The simulator's rules (who answers, how long they talk), time scale, CDR target. */
  simulator: SimulatorOptions;
  api?: Parameters<typeof startApi>[1];
  esl?: DevDialerOptions['esl'];
  worker?: DevDialerOptions['worker'];
}

/**
 * The hooks of an end-to-end test file (or describe block): before its tests the API starts on
 * database `db`, then the dev dialer on the API's task queue, and `ready` gets the stack to keep
 * the parts the tests use; after them both stop (also when starting failed half way).
 */
export function e2eFile(db: string, o: E2eOptions, ready: (stack: E2eStack) => unknown): void {
  let api: ApiHarness | undefined;
  let dev: DevDialer | undefined;
  before(async () => {
    api = await startApi(db, o.api);
    dev = await startDevDialer({ taskQueue: api.taskQueue, simulator: o.simulator, esl: o.esl, worker: o.worker });
    await ready({ api, dev, sim: dev.sim, cred: await api.credential(o.domain) });
  });
  after(async () => {
    await dev?.stop();
    await api?.close();
  });
}

/** Agent phones for the simulator's `users`: each extension answers after `ringSec` and stays up
 *  until bridged away or hung up. */
export function answeringPhones(ringSec: number, extensions: number[]): Record<number, Outcome> {
  return Object.fromEntries(extensions.map((ext) => [ext, { type: 'answer', ringSec }]));
}
