// Agent phones in the simulator: `user/<ext>` endpoints with scripted behaviour (registered or not,
// answer, no answer, busy, reject) and the agent-first call of progressive dialing — the agent leg
// runs `bridge` to the member, CHANNEL_BRIDGE with the Bridge-A/B-Unique-ID headers of
// switch_ivr_multi_threaded_bridge, and the agent leg's end per audio_bridge_function (the member's
// failure cause only for causes that stop the extension; else NORMAL_CLEARING with
// originate_failed_cause).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { RulesConfig } from '../simulator/rules';
import { header, type ParsedEvent, simulatorWithRawClient } from './simulator-support';

const RULES: RulesConfig = {
  gateways: { gw1: 'up' },
  users: {
    1000: { type: 'answer', ringSec: 1 },
    1001: { type: 'no_answer' },
    1002: { type: 'busy', ringSec: 1 },
    1003: { type: 'reject', ringSec: 1 },
    1004: { type: 'answer', ringSec: 1, talkSec: 3 },
  },
  rules: [
    { match: '100', outcome: { type: 'answer', ringSec: 2, talkSec: 5 } },
    { match: '200', outcome: { type: 'busy', ringSec: 1 } },
    { match: '300', outcome: { type: 'no_answer' } },
    { match: '700', outcome: { type: 'answer', ringSec: 1 } },
  ],
};

describe('agent phones and bridge', () => {
  const t = simulatorWithRawClient(RULES);
  const v = (e: ParsedEvent | undefined, n: string) => (e ? header(e.headers, n) : undefined);

  /** Agent-first originate as progressive dialing sends it; events of the agent leg until it is destroyed. */
  async function call(agent: string, member: string) {
    const uuid = randomUUID();
    const job = randomUUID();
    const bridge = `&bridge({ignore_early_media=true,originate_timeout=4,cc_side=member}sofia/gateway/gw1/${member})`;
    await t.c.command(`bgapi originate {origination_uuid=${uuid},ignore_early_media=true,originate_timeout=3,cc_side=agent}${agent} ${bridge}`, `Job-UUID: ${job}\n`);
    const bg = await t.c.waitEvent((e) => header(e.headers, 'Job-UUID') === job);
    const mine = () => t.c.events().filter((e) => header(e.headers, 'Unique-ID') === uuid);
    if (t.sim.call(uuid)?.uuid) {
      await t.c.waitFor(() => mine().some((e) => v(e, 'Event-Name') === 'CHANNEL_STATE' && v(e, 'Channel-State') === 'CS_DESTROY'));
    }
    const events = mine();
    const named = (n: string) => events.find((e) => v(e, 'Event-Name') === n);
    const memberLeg = t.sim.calls().find((c) => c.via === 'bridge' && c.channelVars.cc_side === 'member' && c.destination === member);
    return { uuid, body: bg.body ?? '', events, named, memberLeg };
  }

  it('agent answers, member answers: bridged, member hangs up, agent leg ends NORMAL_CLEARING with the bridge time', async () => {
    const r = await call('user/1000', '100');
    assert.equal(r.body, `+OK ${r.uuid}\n`);
    const names = r.events.map((e) => v(e, 'Event-Name'));
    assert.ok(names.indexOf('CHANNEL_ANSWER') < names.indexOf('CHANNEL_BRIDGE'), names.join(','));
    const br = r.named('CHANNEL_BRIDGE');
    assert.equal(v(br, 'Bridge-A-Unique-ID'), r.uuid);
    assert.equal(v(br, 'Bridge-B-Unique-ID'), r.memberLeg?.uuid);
    assert.equal(v(br, 'Other-Type'), 'originatee');
    assert.equal(v(r.named('CHANNEL_EXECUTE'), 'Application'), 'bridge');
    assert.equal(v(r.named('CHANNEL_ANSWER'), 'Channel-Name'), 'sofia/internal/1000@127.0.0.1:5070');
    const hc = r.named('CHANNEL_HANGUP_COMPLETE');
    assert.equal(v(hc, 'Hangup-Cause'), 'NORMAL_CLEARING');
    assert.ok(Number(v(hc, 'variable_bridge_uepoch')) > 0);
    assert.equal(v(hc, 'variable_originate_failed_cause'), undefined);
    assert.equal(r.memberLeg?.hangupCause, 'NORMAL_CLEARING');
    // Talk time from the bridge: the member talked 5 s (simulated).
    assert.equal(Number(v(hc, 'variable_end_epoch')) - Number(v(hc, 'variable_bridge_epoch')), 5);
  });

  it('member busy: the agent leg is hung up USER_BUSY (a cause that stops the extension)', async () => {
    const r = await call('user/1000', '200');
    const hc = r.named('CHANNEL_HANGUP_COMPLETE');
    assert.equal(v(hc, 'Hangup-Cause'), 'USER_BUSY');
    assert.equal(v(hc, 'variable_originate_failed_cause'), 'USER_BUSY');
    assert.equal(v(hc, 'variable_bridge_uepoch'), '0');
    assert.equal(r.named('CHANNEL_BRIDGE'), undefined);
  });

  it('member does not answer: the agent leg ends NORMAL_CLEARING carrying originate_failed_cause=NO_ANSWER', async () => {
    const r = await call('user/1000', '300');
    const hc = r.named('CHANNEL_HANGUP_COMPLETE');
    assert.equal(v(hc, 'Hangup-Cause'), 'NORMAL_CLEARING');
    assert.equal(v(hc, 'variable_originate_failed_cause'), 'NO_ANSWER');
    assert.equal(v(hc, 'variable_bridge_uepoch'), '0');
  });

  it('agent hangs up while the member rings: the member leg is cancelled ORIGINATOR_CANCEL', async () => {
    const r = await call('user/1004', '300');
    assert.equal(v(r.named('CHANNEL_HANGUP_COMPLETE'), 'Hangup-Cause'), 'NORMAL_CLEARING');
    await t.c.waitFor(() => t.sim.calls().some((c) => c.via === 'bridge' && c.destination === '300' && c.hangupCause));
    const leg = t.sim.calls().find((c) => c.via === 'bridge' && c.destination === '300');
    assert.equal(leg?.hangupCause, 'ORIGINATOR_CANCEL');
  });

  it('agent phone fails: the originate fails with its cause and no member is called', async () => {
    const cases: [string, string][] = [['user/1001', 'NO_ANSWER'], ['user/1002', 'USER_BUSY'], ['user/1003', 'CALL_REJECTED'], ['user/1999', 'USER_NOT_REGISTERED']];
    for (const [agent, cause] of cases) {
      const r = await call(agent, '700');
      assert.equal(r.body, `-ERR ${cause}\n`, agent);
      assert.equal(r.memberLeg, undefined, `${agent}: no member leg`);
    }
  });
});
