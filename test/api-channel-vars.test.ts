// Campaign and member `variables` through the REST API (rules/channel-vars.ts): a name FreeSWITCH
// acts on, a name the dialer sets, or one the ESL layer cannot send is a 400 naming the variable,
// on create and on update, and nothing stored changes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Campaign, Member } from '../models';
import { dialerBody, startApi, type ApiHarness, type Cred } from './api-support';

let h: ApiHarness;
let acme: Cred;

before(async () => {
  h = await startApi('api_channel_vars_test');
  acme = await h.credential('acme');
});
after(async () => {
  await h?.close();
});

const BAD: [string, RegExp][] = [
  ['api_on_answer', /^variables\.api_on_answer: is in the FreeSWITCH namespace api_\*.*CHANNEL_VARIABLES_ALLOW/],
  ['execute_on_answer', /^variables\.execute_on_answer: is in the FreeSWITCH namespace execute_\*/],
  ['API_HANGUP_HOOK', /^variables\.API_HANGUP_HOOK: is in the FreeSWITCH namespace/],
  ['session_in_hangup_hook', /^variables\.session_in_hangup_hook: contains "hangup"/],
  ['exec_after_bridge_app', /^variables\.exec_after_bridge_app: /],
  ['transfer_after_bridge', /^variables\.transfer_after_bridge: /],
  ['sip_h_X-Account', /^variables\.sip_h_X-Account: /],
  ['continue_on_fail', /^variables\.continue_on_fail: /],
  ['dlr_queue', /^variables\.dlr_queue: is set by the dialer/],
  ['origination_caller_id_number', /^variables\.origination_caller_id_number: is set by the dialer/],
  ['First Name', /^variables\.First Name: is not a valid variable name/],
  ['a,b', /^variables\.a,b: is not a valid variable name/],
  ['имя', /^variables\.имя: is not a valid variable name/],
];

const SAFE = { debt: 20000, language: 'uk', productID: 'p-1', First_Name: 'Ivan', cc_anonymous_name: 'Anon', cc_multiple_anonymous: 3, outbound_caller_id_number: '100' };

describe('tenant variables through the API', () => {
  test('campaign create: safe names stored; a refused name is a 400 naming it and nothing is created', async () => {
    const ok = await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody({ variables: SAFE }) });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const stored = (await Campaign.findById(ok.body.data.insertedIds[0]).lean()) as any;
    assert.deepEqual(Object.keys(stored.variables).sort(), Object.keys(SAFE).sort());
    const count = await Campaign.countDocuments();
    for (const [name, re] of BAD) {
      const r = await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody({ variables: { debt: 1, [name]: 'system touch /tmp/x' } }) });
      assert.equal(r.status, 400, `${name}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.info, re, name);
    }
    assert.equal(await Campaign.countDocuments(), count);
  });

  test('campaign update: a refused name is a 400 and the stored campaign is unchanged', async () => {
    const created = await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody({ name: 'keep', variables: { debt: 1 } }) });
    const id = created.body.data.insertedIds[0];
    const before_ = await Campaign.findById(id).lean();
    for (const [name, re] of BAD) {
      const r = await h.req('PUT', `/api/v2/dialer/${id}`, { cred: acme, body: { name: 'changed', variables: { [name]: 'x' } } });
      assert.equal(r.status, 400, `${name}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.info, re, name);
    }
    assert.deepEqual(await Campaign.findById(id).lean(), before_);
    const ok = await h.req('PUT', `/api/v2/dialer/${id}`, { cred: acme, body: { variables: { debt: 2, First_Name: 'x' } } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(((await Campaign.findById(id).lean()) as any).variables, { debt: 2, First_Name: 'x' });
  });

  test('member create (single and bulk) and update: 400 naming the variable, nothing stored changes', async () => {
    const d = (await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody({ name: 'members' }) })).body.data.insertedIds[0];
    const add = (body: unknown) => h.req('POST', `/api/v2/dialer/${d}/members`, { cred: acme, body });
    const ok = await add({ name: 'a', variables: SAFE, communications: [{ number: '111' }] });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const id = ok.body.data.insertedIds[0];
    const before_ = await Member.findById(id).lean();
    for (const [name, re] of BAD) {
      const single = await add({ name: 'b', variables: { [name]: 'x' }, communications: [{ number: '222' }] });
      assert.equal(single.status, 400, `${name}: ${JSON.stringify(single.body)}`);
      assert.match(single.body.info, re, name);
      const bulk = await add([
        { name: 'c', communications: [{ number: '333' }] },
        { name: 'd', variables: { debt: 1, [name]: 'x' }, communications: [{ number: '444' }] },
      ]);
      assert.equal(bulk.status, 400, `${name}: ${JSON.stringify(bulk.body)}`);
      assert.match(bulk.body.info, new RegExp(`^\\[1\\]\\.${re.source.slice(1)}`), name);
      const put = await h.req('PUT', `/api/v2/dialer/${d}/members/${id}`, { cred: acme, body: { name: 'changed', variables: { [name]: 'x' } } });
      assert.equal(put.status, 400, `${name}: ${JSON.stringify(put.body)}`);
      assert.match(put.body.info, re, name);
    }
    assert.equal(await Member.countDocuments({ dialer: d }), 1);
    assert.deepEqual(await Member.findById(id).lean(), before_);
  });

  test('a destination dial string or gateway name with originate syntax is a 400 naming the field', async () => {
    const count = await Campaign.countDocuments();
    const dest = (o: Record<string, unknown>) => dialerBody({ resources: [{ dialedNumber: '.*', destinations: [{ dialString: '$1', limit: 1, ...o }] }] });
    for (const [o, re] of [
      [{ dialString: 'sofia/gateway/gw/$1,[api_on_answer=system\\sid]sofia/gateway/gw/$1' }, /^resources\.0\.destinations\.0\.dialString: must not contain ","/],
      [{ dialString: '{execute_on_answer=x}sofia/gateway/gw/$1' }, /^resources\.0\.destinations\.0\.dialString: must not contain "\{"/],
      [{ dialString: 'sofia/gateway/gw/$1|loopback/1' }, /dialString: must not contain "\|"/],
      [{ gwProto: 'sip', gwName: 'gw/1,[x=y]', dialString: '$1' }, /^resources\.0\.destinations\.0\.gwName: must not contain ","/],
    ] as const) {
      const r = await h.req('POST', '/api/v2/dialer', { cred: acme, body: dest(o) });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.info, re);
    }
    assert.equal(await Campaign.countDocuments(), count);
    assert.equal((await h.req('POST', '/api/v2/dialer', { cred: acme, body: dest({ dialString: 'sofia/gateway/gw/$1' }) })).status, 200);
    assert.equal((await h.req('POST', '/api/v2/dialer', { cred: acme, body: dest({ gwProto: 'sip', gwName: 'gw', dialString: '$1' }) })).status, 200);
  });

  test('a destination dialling another endpoint type than a gateway is a 400 naming the field', async () => {
    const count = await Campaign.countDocuments();
    const dest = (o: Record<string, unknown>) => dialerBody({ resources: [{ dialedNumber: '.*', destinations: [{ limit: 1, ...o }] }] });
    for (const o of [{ dialString: 'loopback/$1/default' }, { dialString: 'sofia/external/$1@127.0.0.1:5060' }, { dialString: 'user/$1' }, { dialString: '$1' }, { gwProto: 'sip', dialString: '$1' }]) {
      const r = await h.req('POST', '/api/v2/dialer', { cred: acme, body: dest(o) });
      assert.equal(r.status, 400, JSON.stringify(o));
      assert.match(r.body.info, /^resources\.0\.destinations\.0\.dialString: must dial an allowed endpoint: sofia\/gateway\/ \(the operator can allow more in DIAL_ENDPOINTS_ALLOW\)/);
    }
    assert.equal(await Campaign.countDocuments(), count);
  });
});
