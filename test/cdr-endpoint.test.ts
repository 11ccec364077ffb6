// The worker's mod_json_cdr endpoint (services/cdr.ts) and the err-log-dir importer (services/cdr-import.ts)
// against what real FreeSWITCH 1.10.12 sends: the golden requests of ../shared/golden/esl-dialer/
// (form-urlencoded content type, raw JSON body, ?uuid=), every `encode` setting with and without
// disable-100-continue, Basic credentials (mod_json_cdr `cred`), and error-directory files as
// mod_json_cdr names and writes them. Needs MongoDB and Temporal (`npm test -- cdr-endpoint`).
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import mongoose from 'mongoose';
import pino from 'pino';
import { startCdrServer, type CdrServer } from '../services/cdr';
import { createDialerWorker } from '../services/dialer-worker';
import { applyByPost, applyInProcess, importCdrDir } from '../services/cdr-import';
import { Attempt, settleResult, storedResultOf } from '../models';
import { connectTestDb, requireEnv, workflowBundle } from './support/env';

const GOLDEN = path.join(__dirname, '..', '..', 'shared', 'golden', 'esl-dialer');
const goldenDir = fs.existsSync(GOLDEN) ? GOLDEN : '/work/shared/golden/esl-dialer';

interface GoldenRequest { request_line: string; headers: Record<string, string>; body: Record<string, unknown> & { variables: Record<string, string> } }
const golden = (name: string): GoldenRequest => JSON.parse(fs.readFileSync(path.join(goldenDir, `cdr-${name}.json`), 'utf8')) as GoldenRequest;
const CASES = [
  { name: 'answered', cause: 'NORMAL_CLEARING', answered: true, billsec: 5 },
  { name: 'busy', cause: 'USER_BUSY', answered: false, billsec: 0 },
  { name: 'no-answer', cause: 'NO_ANSWER', answered: false, billsec: 0 },
];
const log = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

async function unsettledAttempt(uuid: string, workflowId = `member-x-${uuid}`): Promise<void> {
  await Attempt.deleteOne({ _id: uuid });
  await mongoose.connection.collection('attempt_results').deleteOne({ _id: uuid as never });
  await Attempt.create({
    _id: uuid, dialer: 'd1', domain: 'test.local', member: 'm1', workflowId, attempt: 1,
    number: '17770001', dialString: 'sofia/gateway/gw1/17770001', jobUuid: `job-${uuid}`,
  });
}
type Result = { cause: string; answered: boolean; billsec: number; source: string } | null;
const resultOf = async (uuid: string) => (await storedResultOf(uuid)) as Result;

/** A CDR of one of our attempts, shaped like the golden ones (variables URL-encoded as encode-values=true does). */
function cdrFor(uuid: string, cause = 'NORMAL_CLEARING', billsec = 3) {
  const g = golden('answered').body;
  return { ...g, variables: { ...g.variables, uuid, origination_uuid: uuid, dlr_session_id: uuid, hangup_cause: cause, billsec: String(billsec) } };
}

/** The body and content type mod_json_cdr 1.10.12 sends (process_cdr), per `encode` and `disable-100-continue`. */
function modJsonCdrRequest(json: string, encode: 'false' | 'true' | 'base64', disable100continue: boolean) {
  const body = encode === 'false' ? json : `cdr=${encode === 'true' ? encodeURIComponent(json) : Buffer.from(json).toString('base64')}`;
  const declared = encode === 'false' ? 'application/json' : encode === 'true' ? 'application/x-www-form-urlencoded' : 'application/x-www-form-base64-encoded';
  // With disable-100-continue its header list is replaced by `Expect:`: curl's default type goes out.
  return { body, contentType: disable100continue ? 'application/x-www-form-urlencoded' : declared };
}

describe('CDR endpoint and error-directory import', () => {
  let connection: Connection;
  let client: Client;
  let server: CdrServer;
  let authed: CdrServer;
  let tmp: string;

  before(async () => {
    await connectTestDb('cdr_endpoint_test');
    connection = await Connection.connect({ address: requireEnv('TEMPORAL_ADDRESS') });
    client = new Client({ connection });
    server = await startCdrServer({ host: '127.0.0.1', port: 0, client, log });
    authed = await startCdrServer({ host: '127.0.0.1', port: 0, client, log, cred: 'fs:s3cret:x' });
  });
  after(async () => {
    await server?.close();
    await authed?.close();
    await connection?.close();
    await mongoose.disconnect();
  });
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cdr-errdir-'));
  });

  for (const c of CASES) {
    test(`golden ${c.name}: the request exactly as FreeSWITCH 1.10.12 sent it settles its attempt`, async () => {
      const g = golden(c.name);
      const [method, target] = g.request_line.split(' ');
      const uuid = new URL(target, 'http://x').searchParams.get('uuid')!;
      await unsettledAttempt(uuid, g.body.variables.dlr_workflow_id);
      const body = JSON.stringify(g.body);
      assert.equal(String(Buffer.byteLength(body)), g.headers['Content-Length'], 'the body is the raw JSON the capture measured');
      const { Host: _host, 'Content-Length': _len, ...headers } = g.headers;
      const res = await fetch(`http://127.0.0.1:${server.port}${target}`, { method, headers, body });
      assert.deepEqual([res.status, await res.json()], [200, { ok: true, outcome: 'settled' }]);
      const r = await resultOf(uuid);
      assert.deepEqual([r?.cause, r?.answered, r?.billsec, r?.source], [c.cause, c.answered, c.billsec, 'cdr']);
    });
  }

  for (const encode of ['false', 'true', 'base64'] as const) {
    for (const d100 of [false, true]) {
      test(`encode=${encode}, disable-100-continue=${d100}: parsed whatever the content type says`, async () => {
        const uuid = crypto.randomUUID();
        await unsettledAttempt(uuid);
        const req = modJsonCdrRequest(JSON.stringify(cdrFor(uuid, 'NORMAL_CLEARING', 4)), encode, d100);
        const res = await fetch(`${server.url}?uuid=${uuid}`, { method: 'POST', headers: { 'content-type': req.contentType }, body: req.body });
        assert.deepEqual([res.status, await res.json()], [200, { ok: true, outcome: 'settled' }]);
        assert.equal((await resultOf(uuid))?.billsec, 4);
      });
    }
  }

  test('a dialer CDR for an attempt not stored here is answered 200 "unknown" (not a duplicate, no retry)', async () => {
    const uuid = crypto.randomUUID();
    const res = await fetch(`${server.url}?uuid=${uuid}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: JSON.stringify(cdrFor(uuid)) });
    assert.deepEqual([res.status, await res.json()], [200, { ok: true, outcome: 'unknown' }]);
    assert.equal(await Attempt.exists({ _id: uuid }), null, 'nothing stored for it');
  });

  test('with CDR_CRED set, posts without the Basic credentials get 401 and change nothing', async () => {
    const uuid = crypto.randomUUID();
    await unsettledAttempt(uuid);
    const body = JSON.stringify(cdrFor(uuid));
    const post = (auth?: string) =>
      fetch(`${authed.url}?uuid=${uuid}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: auth } : {}) }, body });
    const none = await post();
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Basic /);
    assert.equal((await post(`Basic ${Buffer.from('fs:wrong').toString('base64')}`)).status, 401);
    assert.equal(await resultOf(uuid), null);
    const ok = await post(`Basic ${Buffer.from('fs:s3cret:x').toString('base64')}`);
    assert.deepEqual([ok.status, await ok.json()], [200, { ok: true, outcome: 'settled' }]);
  });

  test('a post not stored within answerWithinMs gets 503; the store goes on, so the retry is a 200 duplicate', async () => {
    const slow = await startCdrServer({ host: '127.0.0.1', port: 0, client, log, answerWithinMs: 1 });
    try {
      const uuid = crypto.randomUUID();
      await unsettledAttempt(uuid);
      const post = (to: CdrServer) => fetch(`${to.url}?uuid=${uuid}`, { method: 'POST', body: JSON.stringify(cdrFor(uuid)) });
      assert.equal((await post(slow)).status, 503);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await resultOf(uuid))?.source, 'cdr');
      const again = await post(server); // mod_json_cdr's next try, answered in time
      assert.deepEqual(again.status === 200 ? await again.json() : again.status, { ok: true, outcome: 'duplicate' });
    } finally {
      await slow.close();
    }
  });

  test('the worker imports CDR_ERROR_DIR at start, before it reconciles', async () => {
    const uuid = crypto.randomUUID();
    await unsettledAttempt(uuid);
    const file = path.join(tmp, `${uuid}.cdr.json`);
    fs.writeFileSync(file, `${JSON.stringify(cdrFor(uuid, 'NORMAL_CLEARING', 12))}\n`);
    const worker = await createDialerWorker({
      temporalAddress: requireEnv('TEMPORAL_ADDRESS'), taskQueue: `cdr-import-${process.pid}`,
      esl: { host: '127.0.0.1', port: 1, password: 'x', reconnectMinMs: 60_000 }, workflowBundle: await workflowBundle(),
      log, cdr: false, reconcile: false, cdrErrorDir: tmp,
    });
    const running = worker.worker.run();
    try {
      const r = await resultOf(uuid);
      assert.deepEqual([r?.source, r?.billsec], ['cdr', 12], 'settled from the file by the time the worker is built');
      assert.ok(fs.existsSync(`${file}.imported`));
    } finally {
      worker.worker.shutdown();
      await running;
      await worker.close();
    }
  });

  /** The files mod_json_cdr's backup_cdr writes: `[a_]<uuid>.cdr.json`, its posted text (without cdr=) + "\n". */
  function errorFiles() {
    const raw = crypto.randomUUID();
    const urlenc = crypto.randomUUID();
    const b64 = crypto.randomUUID();
    const settledBefore = crypto.randomUUID();
    const unknown = crypto.randomUUID();
    const notOurs = crypto.randomUUID();
    const write = (name: string, text: string, sub = '') => {
      fs.mkdirSync(path.join(tmp, sub), { recursive: true });
      fs.writeFileSync(path.join(tmp, sub, name), `${text}\n`);
      return path.join(tmp, sub, name);
    };
    const g = golden('busy').body;
    const { dlr_workflow_id: _w, ...plainVars } = g.variables;
    const files = {
      raw: write(`${raw}.cdr.json`, JSON.stringify(cdrFor(raw, 'NORMAL_CLEARING', 9))),
      urlenc: write(`a_${urlenc}.cdr.json`, encodeURIComponent(JSON.stringify(cdrFor(urlenc, 'USER_BUSY', 0)))),
      b64: write(`${b64}.cdr.json`, Buffer.from(JSON.stringify(cdrFor(b64, 'NO_ANSWER', 0))).toString('base64'), '2026-12-06-05-40-00'),
      settledBefore: write(`${settledBefore}.cdr.json`, JSON.stringify(cdrFor(settledBefore, 'NORMAL_CLEARING', 1))),
      unknown: write(`${unknown}.cdr.json`, JSON.stringify(cdrFor(unknown))),
      notOurs: write(`${notOurs}.cdr.json`, JSON.stringify({ ...g, variables: { ...plainVars, uuid: notOurs } })),
      partial: write(`${crypto.randomUUID()}.cdr.json`, JSON.stringify(cdrFor(raw)).slice(0, 100)),
      other: write('notes.txt', 'not a CDR'),
    };
    return { files, uuids: { raw, urlenc, b64, settledBefore } };
  }

  async function checkImport(apply: Parameters<typeof importCdrDir>[1]) {
    const { files, uuids } = errorFiles();
    for (const u of Object.values(uuids)) await unsettledAttempt(u);
    await settleResult(uuids.settledBefore, { cause: 'NORMAL_CLEARING', answered: true, billsec: 30, duration: 31, source: 'event', settledOn: 1 });

    const report = await importCdrDir(tmp, apply, log);
    assert.deepEqual(report.settled.sort(), [files.raw, files.urlenc, files.b64].sort());
    assert.deepEqual([report.duplicate, report.unknown, report.ignored], [[files.settledBefore], [files.unknown], [files.notOurs]]);
    assert.deepEqual(report.failed.map((f) => f.file), [files.partial], 'a file that does not parse stays for the next run');
    assert.deepEqual(
      [(await resultOf(uuids.raw))?.billsec, (await resultOf(uuids.urlenc))?.cause, (await resultOf(uuids.b64))?.cause],
      [9, 'USER_BUSY', 'NO_ANSWER'],
    );
    assert.equal((await resultOf(uuids.settledBefore))?.source, 'event', 'first source wins: the event result stays');
    for (const f of [files.raw, files.urlenc, files.b64, files.settledBefore]) assert.ok(fs.existsSync(`${f}.imported`) && !fs.existsSync(f), f);
    assert.ok(fs.existsSync(`${files.unknown}.unknown`) && fs.existsSync(`${files.notOurs}.ignored`));
    assert.ok(fs.existsSync(files.partial) && fs.existsSync(files.other));

    const again = await importCdrDir(tmp, apply, log);
    assert.deepEqual([again.settled, again.duplicate, again.unknown, again.ignored, again.failed.length], [[], [], [], [], 1], 'nothing is read twice');
  }

  test('error-directory import in the worker process: each file settled once, renamed, unknowns reported', async () => {
    await checkImport(applyInProcess(client, log));
  });

  test('error-directory import by the command (posts to the endpoint, with credentials)', async () => {
    await checkImport(applyByPost(authed.url, 'fs:s3cret:x'));
  });

  test('the command without the credentials applies nothing and leaves every file', async () => {
    const { files } = errorFiles();
    const report = await importCdrDir(tmp, applyByPost(authed.url, ''), log);
    assert.equal(report.failed.length, 7);
    assert.ok(report.failed.every((f) => f.error.startsWith('HTTP 401')));
    assert.ok(fs.existsSync(files.raw));
  });
});
