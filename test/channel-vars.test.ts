// Which tenant variables may become channel variables (rules/channel-vars.ts): every entry of every
// list is refused, FreeSWITCH's own variables (test/fixtures/freeswitch-channel-variables.txt) are
// all refused, plain tenant names pass, the operator's allow list lifts only FreeSWITCH refusals.
// Run: npm test -- channel-vars
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ENGINE_PREFIXES,
  ENGINE_VARIABLES,
  FREESWITCH_NAMES,
  FREESWITCH_PREFIXES,
  FREESWITCH_TOKENS,
  MAX_VARIABLE_NAME,
  ORIGINATE_VARIABLES,
  TENANT_ENGINE_VARIABLES,
  TENANT_FREESWITCH_VARIABLES,
  attemptVariables,
  channelVariablesToSend,
  parseAllowList,
  variableNameFromHeader,
  variableNameProblem,
  type CampaignRules,
  type MemberState,
} from '../rules';

const refusal = (name: string, allow = parseAllowList('')) => variableNameProblem(name, allow)?.refusal ?? null;
/** The name as written, upper-cased, and mixed: FreeSWITCH looks variables up case-insensitively. */
const spellings = (n: string) => [n, n.toUpperCase(), n.replace(/(^|_)([a-z])/g, (_m, s: string, c: string) => s + c.toUpperCase())];

const fixture = readFileSync(path.join(__dirname, 'fixtures', 'freeswitch-channel-variables.txt'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

const SAFE = [
  'debt', 'language', 'productID', 'First_Name', 'last_name', 'city', 'crm_id', 'order-ref', 'customerName',
  'cc_multiple_anonymous', 'cc_anonymous_name', 'outbound_caller_id_number', 'amount2', '_private', '2nd_phone_owner',
  'x'.repeat(MAX_VARIABLE_NAME),
];

// The variables the issue names, and the families it lists: each must be refused.
const NAMED_IN_ISSUE = [
  'api_on_answer', 'execute_on_answer', 'api_hangup_hook', 'session_in_hangup_hook', 'exec_after_bridge_app',
  'exec_after_bridge_arg', 'transfer_after_bridge', 'origination_caller_id_number', 'origination_uuid',
  'effective_caller_id_number', 'sip_h_X-Account', 'sip_rh_X-Foo', 'sip_ph_X-Foo', 'sip_bye_h_X-Foo',
  'absolute_codec_string', 'codec_string', 'hangup_after_bridge', 'bypass_media', 'proxy_media',
  'record_stereo', 'RECORD_STEREO', 'recording_follow_transfer', 'record_post_process_exec_api', 'my_app',
  'some_hook', 'api_anything', 'execute_anything', 'exec_anything', 'continue_on_fail', 'execute_on_ring',
  'execute_on_answer_2', 'api_on_answer_1', 'transfer_ringback', 'bridge_early_media', 'park_after_bridge',
  'failure_causes', 'group_confirm_file', 'group_confirm_key', 'leg_timeout', 'leg_delay_start', 'originate_retries',
  'originate_timeout', 'ignore_early_media', 'call_timeout', 'instant_ringback', 'ringback', 'media_bug_answer_req',
  'fax_enable_t38', 'hold_music', 'export_vars', 'nolocal', 'process_cdr', 'context', 'dialplan',
  'force_transfer_context', 'sound_prefix', 'playback_terminators', 'tts_engine', 'presence_id', 'accountcode',
  'dlr_queue', 'dlr_anything', 'cc_queue', 'cc_export_vars', 'webitel_direction', 'domain_name', 'presence_data',
];

describe('channel variable names', () => {
  test('plain tenant names are accepted', () => {
    for (const name of SAFE) assert.equal(variableNameProblem(name), null, name);
  });

  test('the variables and families the issue names are refused, in any letter case', () => {
    for (const name of NAMED_IN_ISSUE) for (const n of spellings(name)) assert.notEqual(refusal(n), null, n);
  });

  test('every FreeSWITCH variable of the source-derived list is refused, in any letter case', () => {
    assert.ok(fixture.length > 800, `fixture has ${fixture.length} names`);
    const lang = new Set(TENANT_FREESWITCH_VARIABLES);
    for (const name of fixture) {
      if (lang.has(name)) continue;
      for (const n of spellings(name)) assert.notEqual(refusal(n), null, n);
    }
  });

  test('every exact FreeSWITCH name is refused', () => {
    for (const name of FREESWITCH_NAMES) {
      assert.equal(refusal(name), 'freeswitch', name);
      assert.equal(refusal(name.toUpperCase()), 'freeswitch', name);
    }
  });

  test('every FreeSWITCH namespace refuses the names in it', () => {
    for (const prefix of FREESWITCH_PREFIXES) {
      for (const n of [`${prefix}x`, `${prefix.toUpperCase()}Y_1`]) {
        const p = variableNameProblem(n);
        assert.equal(p?.refusal, 'freeswitch', n);
      }
    }
  });

  test('every marking token is refused at the start, in the middle and at the end of a name', () => {
    for (const token of FREESWITCH_TOKENS) {
      for (const n of [`${token}_x`, `my_${token}_x`, `my_${token}`, `My-${token.toUpperCase()}`]) {
        assert.equal(refusal(n), 'freeswitch', n);
      }
    }
    for (const n of ['execute_on_x', 'x_on_y', 'hangup_on_single_reject', 'X_ON_Y']) assert.equal(refusal(n), 'freeswitch', n);
    // Tokens are whole words between `_`/`-`: a name merely containing the letters passes.
    for (const n of ['happy', 'rapid', 'execution_date_ok', 'one', 'on', 'online_order', 'bonus', 'recordsCount']) {
      assert.equal(refusal(n), null, n);
    }
  });

  test('every engine variable and namespace is refused as the dialer\'s, and the allow list cannot lift it', () => {
    const allowAll = parseAllowList('dlr_*,cc_*,webitel_*,origination_*,originate_*,ignore_*,domain_*,presence_*');
    for (const name of [...ENGINE_VARIABLES, ...ORIGINATE_VARIABLES, ...ENGINE_PREFIXES.map((p) => `${p}x`)]) {
      for (const n of spellings(name)) {
        assert.equal(refusal(n), 'engine', n);
        assert.equal(refusal(n, allowAll), 'engine', n);
      }
    }
    for (const name of TENANT_ENGINE_VARIABLES) assert.equal(refusal(name), null, name);
  });

  test('names the ESL layer cannot send are refused as syntax', () => {
    const bad = [
      '', 'First Name', 'a=b', 'a,b', '{a}', 'a}', 'a[b]', 'a:b', 'nolocal:api_on_answer', 'a.b', '$a', '${a}', '-a',
      'имя', 'naïve', 'a\tb', 'a\nb', 'a\0b', "a'b", 'a"b', 'a\\b', 'a/b', 'x'.repeat(MAX_VARIABLE_NAME + 1),
    ];
    for (const n of bad) assert.equal(refusal(n), 'syntax', JSON.stringify(n));
    assert.equal(refusal('First Name', parseAllowList('First*')), 'syntax');
  });

  test('the operator allow list lifts FreeSWITCH refusals for exact names and prefixes, case-insensitively', () => {
    const allow = parseAllowList(' sip_h_X-Account , sip_h_X-Tag-*,tts_voice');
    assert.equal(refusal('sip_h_X-Account', allow), null);
    assert.equal(refusal('SIP_H_X-ACCOUNT', allow), null);
    assert.equal(refusal('sip_h_X-Tag-Campaign', allow), null);
    assert.equal(refusal('tts_voice', allow), null);
    assert.equal(refusal('sip_h_X-Other', allow), 'freeswitch');
    assert.equal(refusal('api_on_answer', allow), 'freeswitch');
    assert.equal(refusal('sip_h_X-Account'), 'freeswitch');
  });

  test('a malformed allow list entry is an error, not an empty or total allow list', () => {
    for (const spec of ['*', 'a b', 'sip_h_X=1', 'a*b', 'api_on_answer*x', '{x}']) {
      assert.throws(() => parseAllowList(spec), /CHANNEL_VARIABLES_ALLOW/, spec);
    }
    assert.deepEqual(parseAllowList(''), { names: new Set(), prefixes: [] });
  });

  test('messages give the reason; refusals name their variable', () => {
    const p = variableNameProblem('api_on_answer')!;
    assert.equal(p.name, 'api_on_answer');
    assert.match(p.reason, /FreeSWITCH/);
    assert.match(p.reason, /CHANNEL_VARIABLES_ALLOW/);
    assert.match(variableNameProblem('dlr_queue')!.reason, /set by the dialer/);
  });

  test('CSV headers: spaces become _, nothing else is rewritten', () => {
    assert.equal(variableNameFromHeader(' First Name '), 'First_Name');
    assert.equal(variableNameFromHeader('Date  of\tbirth'), 'Date_of_birth');
    assert.equal(variableNameFromHeader('Имя'), 'Имя');
    assert.equal(variableNameFromHeader('a=b'), 'a=b');
  });
});

describe('channel variables sent to FreeSWITCH', () => {
  const camp = {
    id: 'c1', name: 'Camp', domain: 'acme', variables: { cc_multiple_anonymous: '2', cc_anonymous_name: 'Anon', api_on_answer: 'system touch /tmp/pwned' },
  } as unknown as CampaignRules;
  const member = {
    name: 'Ivan', successfulCount: 0,
    variables: {
      debt: '100', EXECUTE_ON_ANSWER: 'system id', dlr_queue: 'spoofed', DLR_MEMBER_ID: 'spoofed', webitel_direction: 'inbound',
      origination_caller_id_name: 'spoof', 'sip_h_X-Account': '42',
    },
  } as unknown as MemberState;
  const vars = attemptVariables({
    camp, member, memberId: 'm1', workflowId: 'wf', attempt: 2, uuid: 'u1', comm: { number: '+1 555' } as never, callerId: '100',
  });

  test('tenant variables FreeSWITCH acts on are dropped, each with its reason; the engine\'s values win', () => {
    const { vars: sent, refused } = channelVariablesToSend(vars);
    assert.equal(sent.debt, '100');
    assert.equal(sent.cc_multiple_anonymous, '2');
    assert.equal(sent.origination_caller_id_name, 'Anon'); // attempt 2 of every 2nd: anonymous
    assert.equal(sent.dlr_queue, 'c1');
    assert.equal(sent.dlr_member_id, 'm1');
    assert.equal(sent.webitel_direction, 'dialer');
    for (const k of Object.keys(sent)) assert.ok(!/api_on|execute_on|sip_h|DLR_MEMBER_ID/i.test(k) || k === 'dlr_member_id', k);
    assert.deepEqual(refused.map((r) => r.name).sort(), ['DLR_MEMBER_ID', 'EXECUTE_ON_ANSWER', 'api_on_answer', 'sip_h_X-Account'].sort());
  });

  test('an operator-allowed name is sent', () => {
    const { vars: sent } = channelVariablesToSend(vars, parseAllowList('sip_h_X-Account'));
    assert.equal(sent['sip_h_X-Account'], '42');
    assert.equal(sent.api_on_answer, undefined);
  });

  test('attemptVariables sets every ENGINE_VARIABLES name, so none can carry a tenant value', () => {
    const bare = attemptVariables({
      camp: { ...camp, variables: {} }, member: { ...member, variables: {} }, memberId: 'm1', workflowId: 'wf', attempt: 1, uuid: 'u1',
      comm: { number: '1' } as never, callerId: '1',
    });
    assert.deepEqual(Object.keys(bare).sort(), [...ENGINE_VARIABLES].sort());
  });
});
