// What an answered broadcast call runs (rules/content.ts) as the simulator plays it: the originate's
// application part, the applications FreeSWITCH would execute (CHANNEL_EXECUTE events), the menu
// digit and "bridged" read back from the hangup event (services/call-results.ts).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { RulesConfig } from '../simulator/rules';
import { contentApp, type BroadcastContent } from '../rules/content';
import { resultFromHangup } from '../services/call-results';
import type { EslEvent } from '../esl';
import { header, ParsedEvent, simulatorWithRawClient } from './simulator-support';

const RULES: RulesConfig = {
  playback: { defaultSec: 1, files: { 'ivr/long.wav': 3 } },
  rules: [
    // No talkSec: the callee never hangs up; only the content can end the call.
    { match: '100', outcome: { type: 'answer', ringSec: 1, talkSec: null } },
    { match: '101', outcome: { type: 'answer', ringSec: 1, talkSec: null, dtmf: '1' } },
    { match: '102', outcome: { type: 'answer', ringSec: 1, talkSec: null, extensionSec: 4 } },
    { match: '103', outcome: { type: 'answer', ringSec: 1, talkSec: 2 } },
  ],
};

const CALLFLOW: BroadcastContent = {
  mode: 'callflow',
  play: ['ivr/long.wav', 'tone_stream://%(500,0,440)', 'say:en number pronounced 42'],
  menu: { prompt: 'ivr/press1.wav', digits: '12', timeoutSec: 2 },
};

describe('simulator: broadcast content', () => {
  const t = simulatorWithRawClient(RULES);

  async function dial(number: string, content: BroadcastContent, vars = '') {
    const uuid = randomUUID();
    const dialString = `{origination_uuid=${uuid},ignore_early_media=true,originate_timeout=5,dlr_workflow_id=wf-${uuid}${vars}}sofia/gateway/gw1/${number}`;
    await t.c.command(`bgapi originate ${dialString} ${contentApp(content, 'd1')}`, `Job-UUID: ${randomUUID()}\n`);
    const mine = () => t.c.events().filter((e) => header(e.headers, 'Unique-ID') === uuid);
    await t.c.waitFor(() => mine().some((e) => header(e.headers, 'Event-Name') === 'CHANNEL_HANGUP_COMPLETE'), 20_000);
    const events = mine();
    const named = (n: string) => events.filter((e) => header(e.headers, 'Event-Name') === n);
    const hangup = named('CHANNEL_HANGUP_COMPLETE')[0] as ParsedEvent;
    return {
      uuid,
      executed: named('CHANNEL_EXECUTE').map((e) => `${header(e.headers, 'Application')}:${header(e.headers, 'Application-Data') ?? ''}`),
      completed: named('CHANNEL_EXECUTE_COMPLETE').map((e) => header(e.headers, 'Application')),
      hangup,
      get: (n: string) => header(hangup.headers, n),
      result: resultFromHangup(Object.fromEntries(hangup.headers) as EslEvent)?.result,
    };
  }


  it('callflow: plays each item in turn, asks for a digit, stores it, hangs up by itself', async () => {
    const r = await dial('101', CALLFLOW, ',dlr_content=callflow');
    assert.deepEqual(r.executed, [
      'playback:ivr/long.wav',
      'playback:tone_stream://%(500,0,440)', // the escaped comma arrives as one argument
      'say:en number pronounced 42',
      'play_and_get_digits:1 1 1 2000 # ivr/press1.wav silence_stream://250 dlr_digit [12]',
    ]);
    assert.deepEqual(r.completed, ['playback', 'playback', 'say', 'play_and_get_digits']);
    assert.equal(r.get('variable_hangup_cause'), 'NORMAL_CLEARING');
    assert.equal(r.get('variable_dlr_digit'), '1');
    // 3 s + 1 s + 1 s (say) + 1 s prompt: the content's length, not a script's talk time.
    assert.equal(r.get('variable_billsec'), '6');
    assert.deepEqual({ bridged: r.result?.bridged, digit: r.result?.digit, billsec: r.result?.billsec }, { bridged: true, digit: '1', billsec: 6 });
  });

  it('callflow: no digit pressed: the prompt times out, no digit stored', async () => {
    const r = await dial('100', CALLFLOW, ',dlr_content=callflow');
    assert.equal(r.get('variable_dlr_digit'), undefined);
    assert.equal(r.result?.digit, undefined);
    assert.equal(r.get('variable_billsec'), '8'); // 5 s of content, 1 s prompt, 2 s timeout
  });

  it('callflow: the callee hanging up mid-playback ends the running application', async () => {
    const r = await dial('103', { mode: 'callflow', play: ['ivr/long.wav'] }, ',dlr_content=callflow');
    assert.deepEqual(r.executed, ['playback:ivr/long.wav']);
    assert.equal(r.get('variable_sip_hangup_disposition'), 'recv_bye');
    assert.equal(r.result?.bridged, true);
  });

  it("transfer: v3's `<dialerId> XML dialer`; the hangup carries Caller-Context=dialer (bridged)", async () => {
    const r = await dial('102', { mode: 'transfer' }, ',dlr_content=transfer,dlr_content_context=dialer');
    assert.deepEqual(r.executed, ['transfer:d1 XML dialer']);
    assert.equal(r.get('Caller-Context'), 'dialer');
    assert.equal(r.get('Caller-Destination-Number'), 'd1');
    assert.equal(r.get('variable_billsec'), '4'); // the extension hung up
    assert.equal(r.result?.bridged, true);
  });

  it('transfer to a configured context/extension', async () => {
    const r = await dial('102', { mode: 'transfer', extension: 'survey', context: 'broadcast' }, ',dlr_content=transfer,dlr_content_context=broadcast');
    assert.deepEqual(r.executed, ['transfer:survey XML broadcast']);
    assert.equal(r.get('Caller-Context'), 'broadcast');
    assert.equal(r.result?.bridged, true);
  });
});
