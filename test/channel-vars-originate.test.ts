// Defence in depth on the worker (rules/channel-vars.ts, activities/member.ts placeCall): tenant
// variables FreeSWITCH acts on, stored straight into Mongo (no API check), never reach the
// originate; the dialer's own variables win over tenant values; the attempt log says what was
// dropped. Real stack: Temporal test server, FerretDB, the FreeSWITCH simulator over ESL.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import { Member } from '../models';
import { terminateUpdate } from '../workflows/messages';
import { createCampaign, createMember } from './support/env';
import { scenarioFile, steps } from './support/scenarios';
import { closed } from './support/stack';

const f = scenarioFile('channel_vars_originate_test', [{ prefix: '10', outcome: { type: 'busy', ringSec: 0 } }]);

describe('channel variables of the originate', () => {
  test('a tenant api_on_answer stored in Mongo never reaches FreeSWITCH; engine variables win', async () => {
    const camp = await createCampaign(
      { variables: { api_on_answer: 'system touch /tmp/pwned-campaign', cc_multiple_anonymous: '1', cc_anonymous_name: 'Anon', region: 'north' } },
      { maxTryCount: 5, intervalTryCount: 60 },
    );
    const m = await createMember(String(camp._id), ['1000001']);
    // Written around the API (as an old document or a direct database write would be).
    await Member.collection.updateOne({ _id: m._id }, {
      $set: {
        variables: {
          debt: '100',
          api_on_answer: 'system touch /tmp/pwned',
          EXECUTE_ON_ANSWER: 'system id',
          session_in_hangup_hook: 'true',
          'sip_h_X-Account': '42',
          dlr_queue: 'spoofed',
          DLR_MEMBER_ID: 'spoofed',
          webitel_direction: 'inbound',
          origination_caller_id_number: '666',
        },
      },
    });
    const h: WorkflowHandle = await f.sc.start(String(camp._id), String(m._id));
    await f.sc.afterCalls(h, String(m._id), 1, 'waiting', 'retry wait');
    const [call] = f.sc.callsTo(String(m._id));
    assert.doesNotMatch(call.command, /api_on_answer|execute_on|hangup_hook|sip_h_|pwned|spoofed|inbound|666/i, call.command);
    assert.equal(call.channelVars.debt, '100');
    assert.equal(call.channelVars.region, 'north');
    assert.equal(call.channelVars.dlr_queue, String(camp._id));
    assert.equal(call.channelVars.dlr_member_id, String(m._id));
    assert.equal(call.channelVars.webitel_direction, 'dialer');
    assert.equal(call.channelVars.origination_caller_id_number, '15550000000');
    assert.equal(call.channelVars.origination_caller_id_name, 'Anon', 'cc_multiple_anonymous / cc_anonymous_name still work');

    const [entry] = await f.sc.log(m._id);
    const dropped = steps(entry).filter((s) => s.startsWith('variable '));
    assert.deepEqual(
      dropped.map((s) => s.split(' ')[1]).sort(),
      ['DLR_MEMBER_ID', 'EXECUTE_ON_ANSWER', 'api_on_answer', 'session_in_hangup_hook', 'sip_h_X-Account'].sort(),
      dropped.join('\n'),
    );
    assert.deepEqual(await h.executeUpdate(terminateUpdate, { args: [] }), { _id: String(m._id) });
    await closed(h);
  });

  test('a stored name the ESL layer cannot send is dropped and the member is still called', async () => {
    const camp = await createCampaign({}, { maxTryCount: 5, intervalTryCount: 60 });
    const m = await createMember(String(camp._id), ['1000002']);
    await Member.collection.updateOne({ _id: m._id }, { $set: { variables: { debt: '7', 'bad name': 'x', 'a,b': 'y', 'k=v': 'z' } } });
    const h: WorkflowHandle = await f.sc.start(String(camp._id), String(m._id));
    await f.sc.afterCalls(h, String(m._id), 1, 'waiting', 'retry wait');
    const [call] = f.sc.callsTo(String(m._id));
    assert.equal(call.channelVars.debt, '7');
    // (Not a bare /bad/: a random uuid can contain those letters.)
    assert.doesNotMatch(call.command, /[{,](?:bad name|bad\\sname|a,b|a\\,b|k=v)=/);
    assert.deepEqual(Object.keys(call.channelVars).filter((k) => /bad|a,b|k=v/.test(k)), []);
    const [entry] = await f.sc.log(m._id);
    assert.equal(steps(entry).filter((s) => s.startsWith('variable ')).length, 3);
    assert.deepEqual(await h.executeUpdate(terminateUpdate, { args: [] }), { _id: String(m._id) });
    await closed(h);
  });
});
