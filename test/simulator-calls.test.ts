// Call model: scripted outcomes, CDR values, early media, kill/hupall/bridge, show/status, limits.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startSimulator } from '../simulator/index';
import type { RulesConfig } from '../simulator/rules';
import { header, ParsedEvent, RawEslClient, sleep, simulatorWithRawClient } from './simulator-support';

const RULES: RulesConfig = {
  gateways: { gw1: 'up', gwdown: 'down' },
  rules: [
    { match: '100', outcome: { type: 'answer', ringSec: 2, talkSec: 7 } },
    { match: '101', outcome: { type: 'answer', ringSec: 1, talkSec: 2, hangupCause: 'NORMAL_UNSPECIFIED' } },
    { match: '200', outcome: { type: 'busy', ringSec: 1 } },
    { match: '300', outcome: { type: 'no_answer' } },
    { match: '400', outcome: { type: 'reject' } },
    { match: '500', outcome: { type: 'unallocated' } },
    { match: '600', outcome: { type: 'temp_failure' } },
    { match: '480', outcome: { type: 'sip', status: 480, ringSec: 1 } },
    { match: '700', outcome: { type: 'answer', ringSec: 1 } },
    { match: '800', outcome: { type: 'gateway_down' } },
    { match: '810', outcome: { type: 'fail', cause: 'NORMAL_CIRCUIT_CONGESTION' } },
    { match: '900', outcome: { type: 'answer', ringSec: 3, talkSec: 1, earlyMedia: true } },
  ],
};

interface Result {
  body: string;
  events: ParsedEvent[];
  hangupComplete?: ParsedEvent;
}

describe('call model', () => {
  const t = simulatorWithRawClient(RULES);

  /** bgapi originate and collect the channel's events until CHANNEL_DESTROY (or the job if none). */
  async function dial(number: string, vars = '', opts: { gateway?: string; app?: string; wait?: boolean } = {}): Promise<Result & { uuid: string }> {
    const uuid = randomUUID();
    const job = randomUUID();
    const dial = `{origination_uuid=${uuid},ignore_early_media=true,originate_timeout=5${vars}}sofia/gateway/${opts.gateway ?? 'gw1'}/${number}`;
    await t.c.command(`bgapi originate ${dial} ${opts.app ?? '&park()'}`, `Job-UUID: ${job}\n`);
    const bg = await t.c.waitEvent((e) => header(e.headers, 'Job-UUID') === job);
    const mine = () => t.c.events().filter((e) => header(e.headers, 'Unique-ID') === uuid);
    if (opts.wait !== false && t.sim.call(uuid)?.uuid) {
      await t.c.waitFor(() => mine().some((e) => header(e.headers, 'Event-Name') === 'CHANNEL_STATE' &&
        header(e.headers, 'Channel-State') === 'CS_DESTROY'));
    }
    const events = mine();
    return { uuid, body: bg.body ?? '', events, hangupComplete: events.find((e) => header(e.headers, 'Event-Name') === 'CHANNEL_HANGUP_COMPLETE') };
  }

  const v = (e: ParsedEvent | undefined, n: string) => (e ? header(e.headers, n) : undefined);


  it('answer after N s, talk M s, remote BYE: consistent CDR values', async () => {
    const r = await dial('100', ',campaign_id=42');
    assert.equal(r.body, `+OK ${r.uuid}\n`);
    const hc = r.hangupComplete;
    assert.equal(v(hc, 'variable_hangup_cause'), 'NORMAL_CLEARING');
    assert.equal(v(hc, 'variable_sip_hangup_disposition'), 'recv_bye');
    assert.equal(v(hc, 'variable_answersec'), '2');
    assert.equal(v(hc, 'variable_billsec'), '7');
    assert.equal(v(hc, 'variable_duration'), '9');
    assert.equal(v(hc, 'variable_campaign_id'), '42');
    const ans = Number(v(hc, 'variable_answer_uepoch'));
    const end = Number(v(hc, 'variable_end_uepoch'));
    assert.equal(end - ans, 7_000_000, 'billusec is exactly the scripted talk time');
    const rec = t.sim.call(r.uuid);
    assert.equal(rec?.state, 'ended');
    assert.equal(rec?.billsec, 7);
    assert.equal(rec?.hangupCause, 'NORMAL_CLEARING');
    assert.equal(rec?.channelVars.campaign_id, '42');
    assert.equal(rec?.destination, '100');
    assert.equal(rec?.gateway, 'gw1');
    assert.equal(rec?.result, `+OK ${r.uuid}`);
  });

  it('a scripted BYE cause other than NORMAL_CLEARING is reported', async () => {
    const r = await dial('101');
    assert.equal(v(r.hangupComplete, 'Hangup-Cause'), 'NORMAL_UNSPECIFIED');
    assert.equal(v(r.hangupComplete, 'variable_hangup_cause_q850'), '31');
  });

  const failures: Array<[string, string, string, string]> = [
    ['200', 'USER_BUSY', '17', '486'],
    ['400', 'CALL_REJECTED', '21', '603'],
    ['500', 'UNALLOCATED_NUMBER', '1', '404'],
    ['600', 'NORMAL_TEMPORARY_FAILURE', '41', '503'],
    ['480', 'NO_USER_RESPONSE', '18', '480'],
  ];
  for (const [num, cause, q850, sip] of failures) {
    it(`SIP ${sip} -> -ERR ${cause} with the channel's full teardown`, async () => {
      const r = await dial(num);
      assert.equal(r.body, `-ERR ${cause}\n`);
      const names = r.events.map((e) => header(e.headers, 'Event-Name'));
      assert.deepEqual(names.slice(-6), ['CHANNEL_STATE', 'CHANNEL_CALLSTATE', 'CHANNEL_STATE', 'CHANNEL_HANGUP_COMPLETE',
        'CHANNEL_DESTROY', 'CHANNEL_STATE']);
      assert.equal(v(r.hangupComplete, 'variable_hangup_cause_q850'), q850);
      assert.equal(v(r.hangupComplete, 'variable_sip_term_status'), sip);
      assert.equal(v(r.hangupComplete, 'variable_billsec'), '0');
      assert.equal(t.sim.call(r.uuid)?.state, 'failed');
    });
  }

  it('no answer until originate_timeout -> NO_ANSWER, duration = timeout', async () => {
    const r = await dial('300');
    assert.equal(r.body, '-ERR NO_ANSWER\n');
    assert.equal(v(r.hangupComplete, 'variable_duration'), '5');
    assert.equal(v(r.hangupComplete, 'variable_sip_hangup_disposition'), 'send_cancel');
    assert.ok(r.events.some((e) => header(e.headers, 'Event-Name') === 'CHANNEL_PROGRESS'));
  });

  it('gateway down / unknown gateway fail before any INVITE with a bare CHANNEL_DESTROY', async () => {
    for (const [num, gw, cause] of [['800', 'gw1', 'GATEWAY_DOWN'], ['100', 'gwdown', 'GATEWAY_DOWN'], ['100', 'nosuch', 'INVALID_GATEWAY']]) {
      const r = await dial(num as string, '', { gateway: gw });
      assert.equal(r.body, `-ERR ${cause}\n`);
      assert.deepEqual(r.events.map((e) => header(e.headers, 'Event-Name')), ['CHANNEL_DESTROY', 'CHANNEL_STATE']);
      assert.equal(v(r.events[0], 'Channel-Name'), 'N/A');
      assert.equal((await t.c.command(`api uuid_exists ${r.uuid}`)).body.toString(), 'false');
    }
  });

  it('error/<CAUSE> and "fail" outcomes produce no channel events at all', async () => {
    const job = randomUUID();
    await t.c.command('bgapi originate error/user_busy &park()', `Job-UUID: ${job}\n`);
    assert.equal((await t.c.waitEvent((e) => header(e.headers, 'Job-UUID') === job)).body, '-ERR USER_BUSY\n');
    const r = await dial('810');
    assert.equal(r.body, '-ERR NORMAL_CIRCUIT_CONGESTION\n');
    assert.equal(r.events.length, 0);
  });

  it('answer-and-stay: uuid_kill with a cause, hupall with a variable match', async () => {
    const a = await dial('700', ',campaign_id=1', { wait: false });
    const b = await dial('700', ',campaign_id=2', { wait: false });
    assert.equal(t.sim.activeChannels(), 2);
    assert.equal((await t.c.command(`api uuid_kill ${a.uuid} USER_BUSY`)).body.toString(), '+OK\n');
    const hcA = await t.c.waitEvent((e) => header(e.headers, 'Unique-ID') === a.uuid && header(e.headers, 'Event-Name') === 'CHANNEL_HANGUP_COMPLETE');
    assert.equal(v(hcA, 'variable_hangup_cause'), 'USER_BUSY');
    assert.equal(v(hcA, 'variable_sip_hangup_disposition'), 'send_bye');
    assert.equal((await t.c.command('api hupall NORMAL_CLEARING campaign_id 3')).body.toString(),
      '+OK hangup all channels matching [campaign_id]=[3] with cause: NORMAL_CLEARING\n');
    assert.equal((await t.c.command(`api uuid_exists ${b.uuid}`)).body.toString(), 'true');
    await t.c.command('api hupall');
    const hcB = await t.c.waitEvent((e) => header(e.headers, 'Unique-ID') === b.uuid && header(e.headers, 'Event-Name') === 'CHANNEL_HANGUP_COMPLETE');
    assert.equal(v(hcB, 'Hangup-Cause'), 'MANAGER_REQUEST');
    await t.c.waitFor(() => t.sim.activeChannels() === 0);
    assert.equal(t.sim.peakChannels(), 2);
  });

  it('uuid_kill while ringing fails the originate with that cause', async () => {
    const uuid = randomUUID();
    const job = randomUUID();
    await t.c.command(`bgapi originate {origination_uuid=${uuid}}sofia/gateway/gw1/300 &park()`, `Job-UUID: ${job}\n`);
    await t.c.waitEvent((e) => header(e.headers, 'Unique-ID') === uuid && header(e.headers, 'Event-Name') === 'CHANNEL_PROGRESS');
    await t.c.command(`api uuid_kill ${uuid}`);
    assert.equal((await t.c.waitEvent((e) => header(e.headers, 'Job-UUID') === job)).body, '-ERR NORMAL_CLEARING\n');
  });

  it('early media: +OK on 183 unless ignore_early_media=true', async () => {
    const uuid = randomUUID();
    const job = randomUUID();
    await t.c.command(`bgapi originate {origination_uuid=${uuid}}sofia/gateway/gw1/900 &park()`, `Job-UUID: ${job}\n`);
    const bg = await t.c.waitEvent((e) => header(e.headers, 'Job-UUID') === job);
    assert.equal(bg.body, `+OK ${uuid}\n`);
    const hc = await t.c.waitEvent((e) => header(e.headers, 'Unique-ID') === uuid && header(e.headers, 'Event-Name') === 'CHANNEL_HANGUP_COMPLETE');
    assert.equal(v(hc, 'variable_billsec'), '1');
    const names = t.c.events().filter((e) => header(e.headers, 'Unique-ID') === uuid || header(e.headers, 'Job-UUID') === job)
      .map((e) => header(e.headers, 'Event-Name'));
    assert.ok(names.indexOf('CHANNEL_PROGRESS_MEDIA') < names.indexOf('BACKGROUND_JOB'));
    assert.ok(names.indexOf('BACKGROUND_JOB') < names.indexOf('CHANNEL_ANSWER'), 'returned before the answer');
    const r = await dial('900');
    const all = r.events.map((e) => header(e.headers, 'Event-Name'));
    assert.ok(all.indexOf('CHANNEL_ANSWER') < all.indexOf('CALL_UPDATE'), 'with ignore_early_media=true it waits for 200');
  });

  it('uuid_bridge joins two channels; hanging up one ends the other', async () => {
    const a = await dial('700', '', { wait: false });
    const b = await dial('700', '', { wait: false });
    assert.equal((await t.c.command(`api uuid_bridge ${a.uuid} ${b.uuid}`)).body.toString(), `+OK ${b.uuid}\n`);
    const br = await t.c.waitEvent((e) => header(e.headers, 'Event-Name') === 'CHANNEL_BRIDGE');
    assert.equal(v(br, 'Bridge-B-Unique-ID'), b.uuid);
    const calls = JSON.parse((await t.c.command('api show calls as json')).body.toString()) as { row_count: number; rows: Array<Record<string, string>> };
    assert.equal(calls.row_count, 1);
    assert.equal(calls.rows[0]?.b_uuid, b.uuid);
    await t.c.command(`api uuid_kill ${a.uuid}`);
    await t.c.waitFor(() => t.sim.activeChannels() === 0);
    assert.equal((await t.c.command('api uuid_bridge nope other')).body.toString(), '-ERR Invalid uuid\n');
  });

  it('show channels / status reflect live channels', async () => {
    const a = await dial('700', '', { wait: false });
    const csv = (await t.c.command('api show channels')).body.toString();
    const lines = csv.split('\n');
    assert.match(lines[0] ?? '', /^uuid,direction,created,created_epoch,name,state,cid_name/);
    assert.ok(lines[1]?.startsWith(`${a.uuid},outbound,`));
    assert.ok(csv.endsWith('\n\n1 total.\n'));
    const json = JSON.parse((await t.c.command('api show channels as json')).body.toString()) as { row_count: number; rows: Array<Record<string, string>> };
    assert.equal(json.rows[0]?.callstate, 'ACTIVE');
    assert.equal(json.rows[0]?.application, 'park');
    assert.match((await t.c.command('api status')).body.toString(), /\n1 session\(s\) - peak \d+, last 5min \d+ \n/);
    await t.c.command('api hupall');
    await t.c.waitFor(() => t.sim.activeChannels() === 0);
  });

  it('originate usage errors and duplicate origination_uuid', async () => {
    assert.match((await t.c.command('api originate')).body.toString(), /^-USAGE: <call url> <exten>/);
    const a = await dial('700', '', { wait: false });
    const job = randomUUID();
    await t.c.command(`bgapi originate {origination_uuid=${a.uuid}}sofia/gateway/gw1/700 &park()`, `Job-UUID: ${job}\n`);
    assert.equal((await t.c.waitEvent((e) => header(e.headers, 'Job-UUID') === job)).body, '-ERR DESTINATION_OUT_OF_ORDER\n');
    await t.c.command('api hupall');
    await t.c.waitFor(() => t.sim.activeChannels() === 0);
  });
});

describe('limits and scripted mixes', () => {
  it('sessions-per-second: FreeSWITCH pre-decrements, so sps-1 originates pass each second', async () => {
    const sim = await startSimulator({ port: 0, timeScale: 0.01, heartbeatSec: 0, sessionsPerSecond: 5,
      rules: { default: { type: 'busy' } } });
    const c = await RawEslClient.authed(sim.eslPort);
    try {
      await c.command('event json BACKGROUND_JOB');
      // One write: the seven jobs start in the same event-loop turn, so no per-second refill can fall between them.
      c.write(Array.from({ length: 7 }, (_, i) => `bgapi originate sofia/gateway/gw/1${i} &park()\n\n`).join(''));
      await c.waitFor(() => c.eventNames().filter((n) => n === 'BACKGROUND_JOB').length === 7);
      const bodies = c.events().map((e) => e.body ?? '');
      assert.equal(bodies.filter((b) => b === '-ERR USER_BUSY\n').length, 4);
      assert.equal(bodies.filter((b) => b === '-ERR DESTINATION_OUT_OF_ORDER\n').length, 3);
      assert.equal(sim.calls().filter((r) => r.outcome === 'sps_limit' && r.uuid === undefined).length, 3);
      await sleep(1100);
      assert.equal((await c.command('api originate sofia/gateway/gw/19 &park()')).body.toString(), '-ERR USER_BUSY\n');
    } finally {
      c.close();
      await sim.stop();
    }
  });

  it('max-sessions: one more than the limit is refused, without any channel event', async () => {
    const sim = await startSimulator({ port: 0, timeScale: 0.01, heartbeatSec: 0, maxSessions: 2,
      rules: { default: { type: 'answer', ringSec: 0 } } });
    const c = await RawEslClient.authed(sim.eslPort);
    try {
      await c.command('event json CHANNEL_CREATE');
      const ok1 = (await c.command('api originate sofia/gateway/gw/1 &park()')).body.toString();
      const ok2 = (await c.command('api originate sofia/gateway/gw/2 &park()')).body.toString();
      assert.match(ok1, /^\+OK /);
      assert.match(ok2, /^\+OK /);
      assert.equal((await c.command('api originate sofia/gateway/gw/3 &park()')).body.toString(), '-ERR DESTINATION_OUT_OF_ORDER\n');
      assert.equal(sim.calls()[2]?.outcome, 'session_limit');
      await sleep(30);
      assert.equal(c.eventNames().filter((n) => n === 'CHANNEL_CREATE').length, 2);
      assert.equal(sim.peakChannels(), 2);
      await c.command(`api uuid_kill ${ok1.slice(4).trim()}`);
      await c.waitFor(() => sim.activeChannels() === 1);
      assert.match((await c.command('api originate sofia/gateway/gw/4 &park()')).body.toString(), /^\+OK /);
    } finally {
      c.close();
      await sim.stop();
    }
  });

  it('a seeded mix gives the same outcomes in the same order, and uses every choice', async () => {
    const rules: RulesConfig = { seed: 7, default: { type: 'mix', choices: [
      { weight: 1, outcome: { type: 'busy' } }, { weight: 1, outcome: { type: 'reject' } },
      { weight: 2, outcome: { type: 'unallocated' } }] } };
    const run = async () => {
      const sim = await startSimulator({ port: 0, timeScale: 0.01, heartbeatSec: 0, rules, sessionsPerSecond: 1000 });
      const c = await RawEslClient.authed(sim.eslPort);
      const out: string[] = [];
      for (let i = 0; i < 40; i++) out.push((await c.command(`api originate sofia/gateway/gw/${i} &park()`)).body.toString());
      c.close();
      await sim.stop();
      return out;
    };
    const first = await run();
    assert.deepEqual(await run(), first);
    assert.deepEqual(new Set(first), new Set(['-ERR USER_BUSY\n', '-ERR CALL_REJECTED\n', '-ERR UNALLOCATED_NUMBER\n']));
  });
});
