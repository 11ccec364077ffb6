// AMD rules (rules/amd.ts), pure: the `amd` argument of §3.7, v3's waits, the amd_on_* routing,
// reading a hangup's variables, and what a result means (the hook the predictive engine calls).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { amdFromVars, amdParams, amdPlan, amdRoute } from '../rules';
import { resultFromHangup } from '../services/call-results';
import type { EslEvent } from '../esl';

describe('amd parameters and applications (§3.7)', () => {
  test('v3 UI defaults, in §3.7 order and names', () => {
    assert.equal(amdParams({}), 'silence_threshold=256 maximum_word_length=5000 maximum_number_of_words=3 between_words_silence=50'
      + ' min_word_length=100 total_analysis_time=5000 after_greeting_silence=800 greeting=1500 initial_silence=2500 silence_notsure=0');
  });

  test('without a playback file: sleep total + 100; a person or an allowed NOTSURE breaks the wait', () => {
    assert.deepEqual(amdPlan({ enabled: true, totalAnalysisTime: 4000, allowNotSure: true }), {
      apps: [`amd:${amdParams({ totalAnalysisTime: 4000 })}`, 'sleep:4100'],
      vars: { amd_on_human: 'break', amd_on_machine: 'hangup::NORMAL_UNSPECIFIED', amd_on_notsure: 'break' },
    });
  });

  test('with a playback file: sleep before, the file, sleep the rest + 100; a file that is not a plain name is left out', () => {
    assert.deepEqual(amdPlan({ playbackFile: { uri: 'hold.wav' } }).apps.slice(1), ['sleep:1000', 'playback:hold.wav', 'sleep:4100']);
    assert.deepEqual(amdPlan({ playbackFile: { uri: "hold.wav' inline" } }).apps.slice(1), ['sleep:5100']);
    assert.equal(amdPlan({}).vars.amd_on_notsure, 'hangup::NORMAL_UNSPECIFIED');
  });
});

describe('amd results', () => {
  const vars = { amd_on_machine: 'hangup::NORMAL_UNSPECIFIED', answer_epoch: '1000' };
  test('read from the channel: result, cause, analysis seconds (bounded by the answered time)', () => {
    assert.deepEqual(amdFromVars({ ...vars, amd_result: 'MACHINE', amd_cause: 'MAXWORDS', amd_result_epoch: '1003' }, true, 10), { result: 'MACHINE', cause: 'MAXWORDS', sec: 3 });
    assert.deepEqual(amdFromVars({ ...vars, amd_result: 'HUMAN', amd_result_epoch: '1009' }, true, 4), { result: 'HUMAN', sec: 4 });
    assert.deepEqual(amdFromVars(vars, true, 2), { result: 'CANCEL', sec: 2 }, 'answered, no result: the callee hung up during the analysis');
    assert.equal(amdFromVars(vars, false, 0), null, 'not answered: no AMD');
    assert.equal(amdFromVars({ amd_result: 'HUMAN' }, true, 5), null, 'no amd in the originate: none');
  });

  test('what a result means (§2.2, §2.4)', () => {
    assert.equal(amdRoute('HUMAN', false), 'connect');
    assert.equal(amdRoute('MACHINE', true), 'drop');
    assert.equal(amdRoute('NOTSURE', false), 'drop');
    assert.equal(amdRoute('NOTSURE', true), 'connect');
    assert.equal(amdRoute('CANCEL', true), 'cancelled');
  });

  test('the hangup event: talk time without the analysis; a machine is not bridged; a cancel is ORIGINATOR_CANCEL', () => {
    const ev = (more: Record<string, string>) => ({
      'Event-Name': 'CHANNEL_HANGUP_COMPLETE', 'Unique-ID': 'u1', variable_dlr_workflow_id: 'member-a-b', variable_billsec: '10',
      variable_answer_epoch: '1000', variable_amd_on_machine: 'hangup::NORMAL_UNSPECIFIED', variable_amd_on_notsure: 'break',
      variable_hangup_cause: 'NORMAL_CLEARING', ...more,
    }) as EslEvent;
    const human = resultFromHangup(ev({ variable_amd_result: 'HUMAN', variable_amd_result_epoch: '1002' }))!.result;
    assert.deepEqual([human.billsec, human.bridged, human.cause], [8, true, 'NORMAL_CLEARING']);
    const notsure = resultFromHangup(ev({ variable_amd_result: 'NOTSURE', variable_amd_result_epoch: '1005' }))!.result;
    assert.equal(notsure.bridged, true, 'amd_on_notsure=break: allowed');
    const machine = resultFromHangup(ev({ variable_amd_result: 'MACHINE', variable_amd_result_epoch: '1002', variable_hangup_cause: 'NORMAL_UNSPECIFIED' }))!.result;
    assert.deepEqual([machine.bridged, machine.cause, machine.amd?.result], [false, 'NORMAL_UNSPECIFIED', 'MACHINE']);
    const cancel = resultFromHangup(ev({ variable_billsec: '2' }))!.result;
    assert.deepEqual([cancel.cause, cancel.billsec, cancel.bridged, cancel.amd?.result], ['ORIGINATOR_CANCEL', 0, false, 'CANCEL']);
  });
});
