// services/call-results.ts against real FreeSWITCH frames (../shared/golden/esl-dialer/): the answered
// call's CHANNEL_ANSWER (which arrives BEFORE the BACKGROUND_JOB +OK) names our attempt and its
// answer time; the +OK itself is no result; the hangup carries the result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { EslEvent } from '../esl';
import { answerFromEvent, resultFromHangup, resultFromJob } from '../services/call-results';

const GOLDEN = path.join(__dirname, '..', '..', 'shared', 'golden', 'esl-dialer');

/** The JSON events of a `.recv` capture, in the order they arrived. */
function frames(name: string): EslEvent[] {
  const raw = fs.readFileSync(path.join(GOLDEN, name));
  const out: EslEvent[] = [];
  let at = 0;
  while (at < raw.length) {
    const end = raw.indexOf('\n\n', at);
    if (end < 0) break;
    const headers = raw.subarray(at, end).toString('utf8');
    const len = Number(/Content-Length: (\d+)/i.exec(headers)?.[1] ?? 0);
    const body = raw.subarray(end + 2, end + 2 + len).toString('utf8');
    at = end + 2 + len;
    if (/text\/event-json/.test(headers)) out.push(JSON.parse(body) as EslEvent);
  }
  return out;
}

test('real FreeSWITCH: the answer comes first and is recorded for our attempt with the switch\'s answer time', () => {
  const evs = frames('answered-5s-json-cdr.recv');
  assert.deepEqual(evs.map((e) => e['Event-Name']).slice(0, 2), ['CHANNEL_ANSWER', 'BACKGROUND_JOB']);
  const [answer, job] = evs;
  const uuid = answer['Unique-ID'];
  assert.deepEqual(answerFromEvent(answer), { uuid, answeredOn: Math.floor(Number(answer['Caller-Channel-Answered-Time']) / 1000) });
  assert.equal(resultFromJob(job), null, '+OK is no result');
  const hangup = evs.find((e) => e['Event-Name'] === 'CHANNEL_HANGUP_COMPLETE')!;
  const found = resultFromHangup(hangup)!;
  assert.deepEqual([found.result.uuid, found.result.cause, found.result.answered], [uuid, 'NORMAL_CLEARING', true]);
  assert.equal(found.workflowId, answer.variable_dlr_workflow_id);
});

test('a CHANNEL_ANSWER without our dlr_workflow_id (a call that is not ours) is ignored', () => {
  const [answer] = frames('answered-5s-json-cdr.recv');
  const { variable_dlr_workflow_id: _, ...other } = answer;
  assert.equal(answerFromEvent(other as EslEvent), null);
});

test('predictive with AMD: the result carries the AMD outcome; a callee gone during the analysis is ORIGINATOR_CANCEL', () => {
  const leg = (vars: Record<string, string>): EslEvent => {
    const ev: EslEvent = { 'Event-Name': 'CHANNEL_HANGUP_COMPLETE', 'Unique-ID': 'u1' };
    const all = { dlr_workflow_id: 'member-1', dlr_predictive: 'true', answer_epoch: '100', end_epoch: '106', billsec: '6', amd_on_machine: 'hangup::NORMAL_UNSPECIFIED', ...vars };
    for (const [k, v] of Object.entries(all)) ev[`variable_${k}`] = v;
    return ev;
  };
  const machine = resultFromHangup(leg({ hangup_cause: 'NORMAL_UNSPECIFIED', amd_result: 'MACHINE', amd_cause: 'LONGGREETING', amd_result_epoch: '103' }))!.result;
  assert.deepEqual([machine.cause, machine.bridged, machine.billsec, machine.amd], ['NORMAL_UNSPECIFIED', false, 0, { result: 'MACHINE', cause: 'LONGGREETING', sec: 3 }]);
  const cancel = resultFromHangup(leg({ hangup_cause: 'NORMAL_CLEARING' }))!.result;
  assert.deepEqual([cancel.cause, cancel.amd?.result], ['ORIGINATOR_CANCEL', 'CANCEL']);
  const human = resultFromHangup(leg({ hangup_cause: 'NORMAL_CLEARING', amd_result: 'HUMAN', amd_result_epoch: '102', bridge_uepoch: '103000000', bridge_epoch: '103' }))!.result;
  assert.deepEqual([human.bridged, human.billsec, human.amd?.result], [true, 3, 'HUMAN'], 'talk time from the bridge, after the analysis');
});
