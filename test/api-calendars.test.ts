// Calendars as documents (spec §3.2, v3's `/api/v2/calendars`) through HTTP against real FerretDB +
// Temporal: CRUD with v3 shapes, domain isolation, validation naming the field, dialers referring to
// a calendar with `calendar: {id, name}` (start reads it; a used calendar cannot be deleted), the
// documented default of a dialer without a calendar, and an edit waking the campaigns that use it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import { Calendar } from '../models';
import { campaignWorkflowId } from '../workflows/messages';
import { dialerBody, startApi, type ApiHarness, type Cred } from './api-support';

let h: ApiHarness;
let acme: Cred;
let other: Cred;
let root: Cred;

const DAY = 24 * 3600_000;
const ALL_WEEK = [1, 2, 3, 4, 5, 6, 7].map((weekDay) => ({ weekDay, startTime: 0, endTime: 1439 }));

async function newCalendar(cred: Cred, body: Record<string, unknown>): Promise<string> {
  const r = await h.req('POST', '/api/v2/calendars', { cred, body });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.insertedIds[0];
}

async function withMember(dialer: string): Promise<void> {
  const r = await h.req('POST', `/api/v2/dialer/${dialer}/members`, { cred: acme, body: { communications: [{ number: '380501112233' }] } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

/** Signals the campaign workflow received (signal-with-start counts as one). */
async function signalsOf(dialer: string): Promise<number> {
  const history = await h.client.workflow.getHandle(campaignWorkflowId(dialer)).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).length;
}

before(async () => {
  h = await startApi('api_calendars_test');
  acme = await h.credential('acme');
  other = await h.credential('other');
  root = await h.credential(null);
});
after(async () => {
  await h?.close();
});

describe('calendar documents', () => {
  test('create with v3 shapes, read, list, update, delete', async () => {
    const holiday = DateTime.fromISO('2025-08-24', { zone: 'Europe/Kyiv' }).toMillis();
    const id = await newCalendar(acme, {
      name: 'Kyiv office',
      timeZone: { id: 'Europe/Kyiv', name: 'Kyiv', offset: '+02:00' },
      accept: [{ weekDay: 1, startTime: 540, endTime: 1020 }],
      except: [{ name: 'Independence Day', date: holiday, repeat: 1 }, { name: 'Once', date: holiday + 7 * DAY, repeat: 0 }],
      startDate: 1_700_000_000_000,
      endDate: 1_900_000_000_000,
    });
    const got = await h.req('GET', `/api/v2/calendars/${id}`, { cred: acme });
    assert.equal(got.status, 200);
    assert.equal(got.body.status, 'OK');
    const cal = got.body.data;
    assert.deepEqual(
      [cal.name, cal.domain, cal.timeZone, cal.startDate, cal.endDate, cal.accept],
      ['Kyiv office', 'acme', 'Europe/Kyiv', 1_700_000_000_000, 1_900_000_000_000, [{ weekDay: 1, startTime: 540, endTime: 1020 }]],
    );
    assert.deepEqual(cal.except.map((e: { repeat: boolean }) => e.repeat), [true, false]);

    // A calendar with a name only: UTC, v3's UI default hours (Mon–Fri 09:00–17:00), no holidays.
    const bare = (await h.req('GET', `/api/v2/calendars/${await newCalendar(acme, { name: 'Defaults' })}`, { cred: acme })).body.data;
    assert.deepEqual([bare.timeZone, bare.accept, bare.except, bare.startDate, bare.endDate], [
      'UTC', [1, 2, 3, 4, 5].map((weekDay) => ({ weekDay, startTime: 540, endTime: 1020 })), [], null, null,
    ]);

    const list = await h.req('GET', `/api/v2/calendars?filter=${encodeURIComponent(JSON.stringify({ name: 'Kyiv office' }))}&columns=name`, { cred: acme });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.data.map((c: { name: string }) => c.name), ['Kyiv office']);
    assert.equal((await h.req('GET', '/api/v2/calendars?limit=1&page=2', { cred: acme })).body.data.length, 1);

    const put = await h.req('PUT', `/api/v2/calendars/${id}`, { cred: acme, body: { name: 'Kyiv HQ', accept: ALL_WEEK } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const edited = (await h.req('GET', `/api/v2/calendars/${id}`, { cred: acme })).body.data;
    assert.deepEqual([edited.name, edited.timeZone, edited.accept.length, edited.except.length], ['Kyiv HQ', 'Europe/Kyiv', 7, 2], 'fields not given are kept');
    assert.ok(edited.lastModified >= cal.lastModified);

    const del = await h.req('DELETE', `/api/v2/calendars/${id}`, { cred: acme });
    assert.equal(del.status, 200);
    assert.equal(del.body.data.result.n, 1);
    assert.equal((await h.req('GET', `/api/v2/calendars/${id}`, { cred: acme })).status, 404);
  });

  test("a domain never sees another domain's calendars (404) nor refers to them; root uses ?domain=", async () => {
    const id = await newCalendar(acme, { name: 'Acme hours' });
    const list = await h.req('GET', '/api/v2/calendars', { cred: other });
    assert.ok(!list.body.data.some((c: { name: string }) => c.name === 'Acme hours'));
    for (const [method, body] of [['GET'], ['PUT', { name: 'pwned' }], ['DELETE']] as const) {
      const r = await h.req(method, `/api/v2/calendars/${id}`, { cred: other, body });
      assert.equal(r.status, 404, `${method}: ${JSON.stringify(r.body)}`);
    }
    assert.equal((await h.req('GET', `/api/v2/calendars/${id}?domain=acme`, { cred: other })).status, 404);
    const refer = await h.req('POST', '/api/v2/dialer', { cred: other, body: dialerBody({ calendar: { id } }) });
    assert.equal(refer.status, 400);
    assert.match(refer.body.info, new RegExp(`^calendar\\.id: no calendar ${id} in domain other`));
    const mine = await h.req('GET', `/api/v2/calendars/${id}`, { cred: acme });
    assert.equal(mine.body.data.name, 'Acme hours', 'unchanged');
    assert.equal((await h.req('GET', `/api/v2/calendars/${id}`, { cred: root })).status, 200);
    assert.equal((await h.req('GET', `/api/v2/calendars/${id}?domain=other`, { cred: root })).status, 404);
    const rootCreate = await h.req('POST', '/api/v2/calendars', { cred: root, body: { name: 'x' } });
    assert.equal(rootCreate.status, 400);
    assert.match(rootCreate.body.info, /^domain: /);
    assert.equal((await h.req('POST', '/api/v2/calendars?domain=other', { cred: root, body: { name: 'by root' } })).body.data.ops[0].domain, 'other');
  });

  test('bad input gets a 400 naming the field and writes nothing', async () => {
    const before_ = await Calendar.countDocuments({ domain: 'acme' });
    const cases: [unknown, RegExp][] = [
      [{}, /^name: required/],
      [{ name: 'x', timeZone: 'Mars/Olympus' }, /^timeZone: is not an IANA time zone/],
      [{ name: 'x', timeZone: { id: 'Mars/Olympus' } }, /^timeZone: is not an IANA time zone/],
      [{ name: 'x', accept: [{ weekDay: 8, startTime: 0, endTime: 60 }] }, /^accept\.0\.weekDay: /],
      [{ name: 'x', accept: [{ weekDay: 1, startTime: 1320, endTime: 360 }] }, /^accept\.0\.endTime: must not be before startTime/],
      [{ name: 'x', accept: [{ weekDay: 1, startTime: 0, endTime: 1441 }] }, /^accept\.0\.endTime: /],
      [{ name: 'x', except: [{ name: 'no date' }] }, /^except\.0\.date: /],
      [{ name: 'x', except: [{ date: 0, repeat: 'yes' }] }, /^except\.0\.repeat: /],
      [{ name: 'x', startDate: 2000, endDate: 1000 }, /^endDate: must not be before startDate/],
      [{ name: 'x', startDate: -1 }, /^startDate: /],
    ];
    for (const [body, re] of cases) {
      const r = await h.req('POST', '/api/v2/calendars', { cred: acme, body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.info, re, JSON.stringify(body));
    }
    assert.equal(await Calendar.countDocuments({ domain: 'acme' }), before_);
    const id = await newCalendar(acme, { name: 'Ranged', startDate: 5000, endDate: 9000 });
    const r = await h.req('PUT', `/api/v2/calendars/${id}`, { cred: acme, body: { endDate: 1000 } });
    assert.equal(r.status, 400, 'checked against the stored startDate');
    assert.match(r.body.info, /^endDate: must not be before startDate/);
    assert.equal((await h.req('GET', `/api/v2/calendars/${id}`, { cred: acme })).body.data.endDate, 9000);
    assert.match((await h.req('GET', '/api/v2/calendars/nope', { cred: acme })).body.info, /^id: /);
  });
});

describe('dialers referring to a calendar', () => {
  test('calendar: {id} is stored as {id, name}; a malformed or mixed reference is a 400', async () => {
    const cal = await newCalendar(acme, { name: 'Shop hours' });
    const d = await h.createDialer(acme, { calendar: { id: cal, name: 'stale name' } });
    assert.deepEqual((await h.req('GET', `/api/v2/dialer/${d}`, { cred: acme })).body.data.calendar, { id: cal, name: 'Shop hours' });
    const bad: [unknown, RegExp][] = [
      [{ id: 'nope' }, /^calendar\.id: must be the id of a calendar/],
      [{ id: '6b05957ef641feb7744a43c3' }, /^calendar\.id: no calendar 6b05957ef641feb7744a43c3 in domain acme/],
      [{ id: cal, accept: ALL_WEEK }, /^calendar\.accept: not allowed with calendar\.id/],
    ];
    for (const [calendar, re] of bad) {
      const r = await h.req('POST', '/api/v2/dialer', { cred: acme, body: dialerBody({ calendar }) });
      assert.equal(r.status, 400, JSON.stringify(calendar));
      assert.match(r.body.info, re);
    }
    // Renaming the calendar renames the reference.
    await h.req('PUT', `/api/v2/calendars/${cal}`, { cred: acme, body: { name: 'Shop hours (summer)' } });
    assert.equal((await h.req('GET', `/api/v2/dialer/${d}`, { cred: acme })).body.data.calendar.name, 'Shop hours (summer)');
    // An inline calendar replaces the reference (and gets the inline defaults again).
    const put = await h.req('PUT', `/api/v2/dialer/${d}`, { cred: acme, body: { calendar: { timeZone: 'Europe/Kyiv' } } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const inline = (await h.req('GET', `/api/v2/dialer/${d}`, { cred: acme })).body.data.calendar;
    assert.deepEqual([inline.id, inline.timeZone, inline.accept.length], [undefined, 'Europe/Kyiv', 7]);
  });

  test('a dialer without a calendar gets the documented default: every day, all day, UTC', async () => {
    const d = await h.createDialer(acme);
    const cal = (await h.req('GET', `/api/v2/dialer/${d}`, { cred: acme })).body.data.calendar;
    assert.deepEqual([cal.timeZone, cal.accept, cal.except], ['UTC', ALL_WEEK, []]);
  });

  test('start reads the referenced calendar: past its endDate → QUEUE_EXPIRE, outside its hours → QUEUE_SLEEP', async () => {
    const expired = await newCalendar(acme, { name: 'Last season', accept: ALL_WEEK, endDate: Date.now() - DAY });
    const d1 = await h.createDialer(acme, { calendar: { id: expired } });
    await withMember(d1);
    const r1 = await h.req('PUT', `/api/v2/dialer/${d1}/state/1`, { cred: acme });
    assert.deepEqual(r1.body.data, { state: 4, _cause: 'QUEUE_EXPIRE', active: false });

    const closed = await newCalendar(acme, { name: 'Never', accept: [] });
    const d2 = await h.createDialer(acme, { calendar: { id: closed } });
    await withMember(d2);
    const r2 = await h.req('PUT', `/api/v2/dialer/${d2}/state/1`, { cred: acme });
    assert.deepEqual(r2.body.data, { state: 2, _cause: 'QUEUE_SLEEP', active: true });
    await h.app.drain();
    await h.client.workflow.getHandle(campaignWorkflowId(d2)).terminate('test done');
  });

  test('an edit of the calendar wakes the running campaigns that use it', async () => {
    const cal = await newCalendar(acme, { name: 'Night shift', accept: [] });
    const d = await h.createDialer(acme, { calendar: { id: cal } });
    await withMember(d);
    assert.equal((await h.req('PUT', `/api/v2/dialer/${d}/state/1`, { cred: acme })).body.data._cause, 'QUEUE_SLEEP');
    await h.app.drain();
    const before_ = await signalsOf(d);
    assert.equal((await h.req('PUT', `/api/v2/calendars/${cal}`, { cred: acme, body: { accept: ALL_WEEK } })).status, 200);
    await h.app.drain();
    assert.equal(await signalsOf(d), before_ + 1, 'woken to look at the edited calendar');
    await h.client.workflow.getHandle(campaignWorkflowId(d)).terminate('test done');
  });

  test('a calendar in use cannot be deleted (409 naming the dialers); once unused it can', async () => {
    const cal = await newCalendar(acme, { name: 'Shared' });
    const d = await h.createDialer(acme, { name: 'Uses shared', calendar: { id: cal } });
    const r = await h.req('DELETE', `/api/v2/calendars/${cal}`, { cred: acme });
    assert.equal(r.status, 409);
    assert.match(r.body.info, new RegExp(`^calendar is used by 1 dialer\\(s\\): "Uses shared" \\(${d}\\)`));
    assert.equal((await h.req('GET', `/api/v2/calendars/${cal}`, { cred: acme })).status, 200, 'still there');
    await h.req('PUT', `/api/v2/dialer/${d}`, { cred: acme, body: { calendar: { accept: ALL_WEEK } } });
    assert.equal((await h.req('DELETE', `/api/v2/calendars/${cal}`, { cred: acme })).status, 200);
  });
});
