// models/serial.ts turns: re-entrant within the code holding them, so an activity writing several
// documents of its own takes their turns once (one insertMany, one deleteMany of `dialer_turns`);
// a callback that outlives the holder does not inherit its turns. placeCall takes no turn for its
// attempt and its member (one writer each): only its campaign's line has one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mongoose from 'mongoose';
import pino from 'pino';
import type { Client } from '@temporalio/client';
import { createMemberActivities } from '../activities/member';
import { Attempt, memberState } from '../models';
import { exclusively, exclusivelyAll, HOLD_MS, KEEP_MS, PROCESS_ID, turnHeld } from '../models/serial';
import type { PlaceCallInput } from '../rules';
import { connectTestDb, createCampaign, createMember } from './support/env';
import { commandsSent } from './support/commands';

before(() => connectTestDb('serial_test'));
after(() => mongoose.disconnect());

const turns = () => mongoose.connection.collection<{ _id: string; owner: string; until: number }>('dialer_turns');
const turnCommands = async (fn: () => Promise<unknown>) =>
  (await commandsSent(fn)).filter((c) => c.collection === 'dialer_turns').map((c) => c.name);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

test('a nested call on a held key runs in the held turn: one insert and one delete for all the writes', { timeout: 10_000 }, async () => {
  const order: string[] = [];
  const seen = await turnCommands(() => exclusivelyAll(['t1:a', 't1:b'], async () => {
    await exclusively('t1:a', async () => order.push('a'));
    await exclusively('t1:b', async () => order.push('b'));
    await exclusivelyAll(['t1:a', 't1:b'], async () => order.push('ab'));
    // A key not held is taken inside (and given back) as usual.
    await exclusively('t1:c', async () => order.push('c'));
    await exclusively('t1:a', () => exclusively('t1:c', async () => order.push('a,c')));
  }));
  assert.deepEqual(order, ['a', 'b', 'ab', 'c', 'a,c']);
  assert.deepEqual(seen, ['insert', 'insert', 'delete', 'insert', 'delete', 'delete'], 'a and b taken and given back once (c twice)');
  assert.equal(await turns().countDocuments({ _id: { $in: ['t1:a', 't1:b', 't1:c'] } }), 0, 'every turn given back');
});

test('while the outer code holds a turn, another caller of this process still waits for it', async () => {
  const order: string[] = [];
  let inside!: () => void;
  const entered = new Promise<void>((r) => (inside = r));
  const outer = exclusively('t2:a', async () => {
    inside();
    await sleep(30);
    await exclusively('t2:a', async () => order.push('outer nested'));
    order.push('outer done');
  });
  await entered;
  await exclusively('t2:a', async () => order.push('other'));
  await outer;
  assert.deepEqual(order, ['outer nested', 'outer done', 'other']);
});

test('a callback that runs after its creator gave the turn back takes the turn itself', async () => {
  let later!: Promise<string | undefined>;
  await exclusively('t3:a', async () => {
    later = sleep(20).then(() => exclusively('t3:a', async () => (await turns().findOne({ _id: 't3:a' }))?.owner));
  });
  assert.equal(await later, PROCESS_ID, 'the late write ran in a turn it took (stored while it ran)');
  assert.equal(await turns().countDocuments({ _id: 't3:a' }), 0);
});

test('work started inside a turn that outlives it does not keep the outer turn', async () => {
  let late!: Promise<string | undefined>;
  await exclusively('t5:a', async () => {
    let entered!: () => void;
    const inB = new Promise<void>((r) => (entered = r));
    // Not awaited: it holds its own turn on b past the end of the turn on a.
    late = exclusively('t5:b', async () => {
      entered();
      await sleep(30);
      return exclusively('t5:a', async () => (await turns().findOne({ _id: 't5:a' }))?.owner);
    });
    await inB;
  });
  assert.equal(await late, PROCESS_ID, 'a taken again for the late write');
});

test('a turn another process holds is waited for by a nested taker too', async () => {
  await turns().insertOne({ _id: 't4:b', owner: 'another-process', until: Date.now() + 60_000 });
  const order: string[] = [];
  const run = exclusively('t4:a', () => exclusively('t4:b', async () => order.push('wrote b')));
  await sleep(100);
  assert.deepEqual(order, [], 'not before the other process gives it back');
  await turns().deleteOne({ _id: 't4:b' });
  await run;
  assert.deepEqual(order, ['wrote b']);
});

test('the turn of a hot shared document is kept between writes, and given back KEEP_MS after the last', async () => {
  const takings = new Set<number | undefined>();
  const seen = await turnCommands(async () => {
    for (let i = 0; i < 5; i++) await exclusively('lines:k1', async () => void takings.add(turnHeld('lines:k1')));
  });
  assert.deepEqual(seen, ['insert'], 'five writes, one taking');
  assert.equal(takings.size, 1);
  assert.equal(turnHeld('lines:k1'), undefined, 'held only by the code inside the turn');
  assert.equal(await turns().countDocuments({ _id: 'lines:k1' }), 1, 'kept');
  await sleep(KEEP_MS + 150);
  assert.equal(await turns().countDocuments({ _id: 'lines:k1' }), 0, 'given back');
  await exclusively('lines:k1', async () => void takings.add(turnHeld('lines:k1')));
  assert.equal(takings.size, 2, 'a new taking after it was given back');
  // Other turns are given back at once.
  assert.deepEqual(await turnCommands(() => exclusively('member:k1', async () => undefined)), ['insert', 'delete']);
});

test('a kept turn is given back at its first write after HOLD_MS, so another process gets in', { timeout: 10_000 }, async () => {
  await sleep(KEEP_MS + 100); // the turns kept by the tests above given back
  const seen = await turnCommands(async () => {
    const end = Date.now() + HOLD_MS + 300;
    while (Date.now() < end) {
      await exclusively('counts:k2', async () => undefined);
      await sleep(20);
    }
  });
  assert.deepEqual(seen.slice(0, 3), ['insert', 'delete', 'insert'], seen.join());
  assert.ok(seen.length <= 4, seen.join());
});

test('placeCall: no turn for the attempt and its member; the record and its send claim are one insert, a retried call is not resent', async () => {
  const sent: string[] = [];
  const esl = { bgapi: async (cmd: string) => void sent.push(cmd), uuidExists: async () => false, uuidKill: async () => undefined };
  const acts = createMemberActivities({ esl: esl as never, client: {} as Client, log: pino({ level: 'silent' }), taskQueue: 'unused' });
  const camp = await createCampaign();
  const m = await createMember(String(camp._id), ['380501112233']);
  const uuid = crypto.randomUUID();
  const input: PlaceCallInput = {
    uuid, jobUuid: `job-${uuid}`, domain: 'test.local', campaignId: String(camp._id), memberId: String(m._id), workflowId: `wf-${uuid}`,
    attempt: 1, number: '380501112233', limit: 10, member: memberState(m.toObject()), log: { state: 'reserved', session: uuid },
    routes: [{ destinationId: 'd1', destinationLimit: 10, dialString: 'sofia/gateway/gw1/380501112233', callerId: '15550000000' }],
    vars: {}, timeoutSec: 30,
  };
  await sleep(KEEP_MS + 100); // the turns the tests above kept are given back
  const seen = await commandsSent(async () => assert.equal((await acts.placeCall(input)).placed, true));
  const turnDocs = seen.filter((c) => c.collection === 'dialer_turns').map((c) => c.name);
  // The campaign's line only (a turn of its own, kept for the next write of the lines): no turn for
  // the attempt or its member.
  assert.deepEqual(turnDocs, ['insert']);
  assert.deepEqual(seen.filter((c) => c.collection === 'attempts').map((c) => c.name), ['insert'], 'the record with its send claim, no read');
  assert.equal(sent.length, 1);
  assert.ok((await Attempt.findById(uuid).lean<{ sentOn: number | null }>())!.sentOn, 'marked sent');
  // Retried (the activity's answer was lost): the record's insert finds it stored: not resent.
  const again = await commandsSent(async () => assert.equal((await acts.placeCall(input)).placed, true));
  assert.deepEqual(again.filter((c) => c.collection === 'attempts').map((c) => c.name), ['insert']);
  assert.equal(sent.length, 1, 'never sent twice');
});
