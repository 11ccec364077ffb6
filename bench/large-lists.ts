// Large lists on the embedded default (issue 13): the routes a user touches, with a big campaign
// (--big, default 1,000,000 members) plus 3 campaigns of --small (20,000) stored, each figure beside
// the same operation on an (almost) empty store in the same run. The whole stack (bench/lib/stack.ts):
// FerretDB as `npm run setup` builds it, Temporal dev server, worker, simulator, API.
//   npx tsx bench/large-lists.ts [--big 1000000] [--small 20000] [--k 20]
// Phases: (0) "empty": one campaign of 300 members alone, a reset and a delete of a --small campaign
// with nothing else stored; (1) "loaded": the big campaign and 3 × --small stored, the same operations
// on the big campaign and on a --small one. Two of the small lists are imported as CSV files through
// the API, as a user would; the big one and the one to reset (all ended) are generated straight into
// the store (as the CSV import stores them; the big one with a third ended) so the run measures reads.
import mongoose from 'mongoose';
import { memberDocument } from '../api/member-docs';
import { Member } from '../models';
import { MemberStore } from '../models/member-store';
import { purgeWorkflowId } from '../workflows/messages';
import { apiRequest } from '../scripts/api-request';
import { arg, log, startStack, waitFor, type Stack } from './lib/stack';

const BIG = Number(arg('--big', '1000000'));
const SMALL = Number(arg('--small', '20000'));
const K = Number(arg('--k', '20'));

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)];
}

async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    xs.push(performance.now() - t0);
  }
  return p95(xs);
}

/** Members stored as the import stores them, every third (or every one) ended. */
async function fill(s: Stack, campaign: string, n: number, o: { allEnded?: boolean; prefix: string }): Promise<number> {
  const t0 = Date.now();
  for (let i = 0; i < n; i += 5000) {
    const docs: Record<string, unknown>[] = [];
    for (let j = i; j < Math.min(n, i + 5000); j++) {
      const doc: Record<string, unknown> = memberDocument({
        name: `Member ${j}`, priority: j % 10, variables: { debt: String(j % 1000) },
        communications: [{ number: `${o.prefix}${String(j).padStart(7, '0')}`, priority: 1 }],
      }, campaign, s.domain);
      if (o.allEnded || j % 3 === 0) Object.assign(doc, { _endCause: 'MANAGER_REQUEST', communications: [{ ...(doc.communications as object[])[0], state: 2 }] });
      docs.push(doc);
    }
    // Through the member store, as the import stores them: counted, number lookups, queued.
    await MemberStore.insert(docs);
    if (n > 100_000 && (i / 5000) % 20 === 19) log(`  ${i + docs.length} / ${n} members stored (${Math.round((i + docs.length) / ((Date.now() - t0) / 1000))}/s)`);
  }
  return (Date.now() - t0) / 1000;
}

/** Members imported as a user imports a list: one CSV file uploaded to the API's import route. */
async function importCsv(s: Stack, campaign: string, n: number, prefix: string): Promise<number> {
  const t0 = Date.now();
  const rows = ['Name,Priority,number_1,debt'];
  for (let j = 0; j < n; j++) rows.push(`Member ${j},${j % 10},+${prefix}${String(j).padStart(7, '0')},${j % 1000}`);
  const r = await apiRequest<{ data?: { imported?: number } }>(s.base, 'POST', `/api/v2/dialer/${campaign}/members/import`, { cred: s.cred, body: rows.join('\n'), headers: { 'Content-Type': 'text/csv' }, timeoutMs: 600_000 });
  if (r.status !== 200 || r.body.data?.imported !== n) throw new Error(`import: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return (Date.now() - t0) / 1000;
}

interface Target { campaign: string; members: string[]; numbers: string[] }

async function target(campaign: string, prefix: string): Promise<Target> {
  const docs = await Member.find({ dialer: campaign, _id: { $gt: new mongoose.Types.ObjectId('000000000000000000000000') } }, { _id: 1, _endCause: 1, 'communications.number': 1 }).limit(400).lean();
  const open = docs.filter((d) => !d._endCause);
  return { campaign, members: open.map((d) => String(d._id)), numbers: open.map((d) => d.communications?.[0]?.number ?? `${prefix}0000001`) };
}

type Row = Record<string, number | string>;

const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
/** Each phase's figures as they come, so a run cut short still tells what it measured. */
function show(phase: string, row: Row): void {
  log(`${phase}: ${Object.entries(row).map(([k, v]) => `${k.trim()} ${typeof v === 'number' ? fmt(v) : v}`).join('; ')}`);
}

async function perRequest(s: Stack, t: Target): Promise<Row> {
  const M = `/api/v2/dialer/${t.campaign}/members`;
  const ok = async (method: string, p: string, body?: unknown, want = [200]) => {
    const r = await s.req(method, p, body);
    if (!want.includes(r.status)) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    return r;
  };
  const f = (x: unknown) => `filter=${encodeURIComponent(JSON.stringify(x))}`;
  const row: Row = {};
  row['GET member by id'] = await timed(K, (i) => ok('GET', `${M}/${t.members[i % t.members.length]}`));
  // An idle member: the route looks it up and asks its workflow (there is none: 400 "not waiting").
  row['status PUT (idle member → answer)'] = await timed(K, (i) => ok('PUT', `${M}/${t.members[i % t.members.length]}/status`, { success: true }, [200, 400]));
  row['terminate (idle member)'] = await timed(Math.min(K, 10), (i) => ok('PUT', `${M}/${t.members[t.members.length - 1 - i]}/terminate`));
  row['first page (50), default order'] = await timed(K, () => ok('GET', `${M}?limit=50`));
  let next = '';
  row['next pages by cursor (after=)'] = await timed(K, async () => {
    const r = await ok('GET', `${M}?limit=50${next ? `&after=${next}` : ''}`);
    next = String((r.body as { data: { _id: string }[] }).data.at(-1)?._id ?? '');
  });
  row['page 3 by limit/page (v3)'] = await timed(Math.min(K, 10), () => ok('GET', `${M}?limit=50&page=3`));
  row['first page: waiting'] = await timed(Math.min(K, 10), () => ok('GET', `${M}?limit=50&${f({ _endCause: null })}`));
  row['first page: end cause'] = await timed(Math.min(K, 10), () => ok('GET', `${M}?limit=50&${f({ _endCause: 'MANAGER_REQUEST' })}`));
  row['first page: ended ($ne null)'] = await timed(3, () => ok('GET', `${M}?limit=50&${f({ _endCause: { $ne: null } })}`, undefined, [200, 422]));
  row['first page: exact number'] = await timed(3, (i) => ok('GET', `${M}?limit=50&${f({ 'communications.number': t.numbers[i % t.numbers.length] })}`, undefined, [200, 422]));
  row['count: waiting'] = await timed(3, () => ok('GET', `${M}/count?${f({ _endCause: null })}`, undefined, [200, 422]));
  row['count: all'] = await timed(3, () => ok('GET', `${M}/count`, undefined, [200, 422]));
  row['count: one end cause'] = await timed(3, () => ok('GET', `${M}/count?${f({ _endCause: 'MANAGER_REQUEST' })}`, undefined, [200, 422]));
  return row;
}

async function newCampaignToFirstOriginate(s: Stack): Promise<number> {
  const id = await s.createCampaign({ name: `one-${Date.now()}`, limit: 1 });
  s.sim.reset();
  const t0 = performance.now();
  const r = await s.req('POST', `/api/v2/dialer/${id}/members?autoRun=true`, { name: 'one', communications: [{ number: '380509999999' }] });
  if (r.status !== 200) throw new Error(`POST member autoRun: ${r.status} ${JSON.stringify(r.body)}`);
  await waitFor('the first originate of the new campaign', () => s.sim.calls().some((c) => c.channelVars.dlr_queue === id), 120_000, 5);
  const ms = performance.now() - t0;
  await s.stop(id);
  return ms;
}

/** DELETE answers once the members are out of every read (the goal); the purge workflow deletes
 *  them afterwards: how long that took too. */
async function deleteCampaign(s: Stack, id: string): Promise<{ ms: number; purgedMs: number }> {
  const t0 = performance.now();
  const r = await s.req('DELETE', `/api/v2/dialer/${id}`);
  if (r.status !== 200) throw new Error(`DELETE dialer: ${r.status} ${JSON.stringify(r.body)}`);
  const ms = performance.now() - t0;
  await s.client.workflow.getHandle(purgeWorkflowId(id)).result();
  return { ms, purgedMs: performance.now() - t0 };
}

/** A reset with `wait=false`, its progress polled every second until done (as a console does). */
async function resetCampaign(s: Stack, id: string): Promise<{ ms: number; n: unknown; polls: string }> {
  const t0 = performance.now();
  const r = await s.req('PUT', `/api/v2/dialer/${id}/members/reset?from=0&wait=false`);
  if (r.status !== 202) throw new Error(`reset: ${r.status} ${JSON.stringify(r.body)}`);
  const seen: number[] = [];
  for (;;) {
    const p = await s.req('GET', `/api/v2/dialer/${id}/members/reset`);
    const d = (p.body as { data: { state: string; reset: number } }).data;
    seen.push(d.reset);
    if (d.state !== 'running') return { ms: performance.now() - t0, n: d.reset, polls: `${seen.length} polls, reset ${seen.filter((_, i) => i % Math.ceil(seen.length / 6) === 0).join(' → ')} → ${d.reset} (${d.state})` };
    await new Promise((res) => setTimeout(res, 1000));
  }
}

async function main(): Promise<void> {
  const s = await startStack();
  try {
    log(`phase 0: empty store (one campaign of 300 members; reset/delete of ${SMALL} with nothing else stored)`);
    const e = await s.createCampaign({ name: 'empty-store', limit: 1 });
    await fill(s, e, 300, { prefix: '38040' });
    const empty = await perRequest(s, await target(e, '38040'));
    show('empty store, per request', empty);
    empty['new 1-member campaign: POST autoRun → first originate'] = await newCampaignToFirstOriginate(s);
    const r0 = await s.createCampaign({ name: 'reset-alone', limit: 1 });
    await fill(s, r0, SMALL, { allEnded: true, prefix: '38041' });
    const reset0 = await resetCampaign(s, r0);
    empty[`reset a ${SMALL} campaign`] = reset0.ms;
    const del0 = await deleteCampaign(s, r0);
    empty[`delete a ${SMALL} campaign (answer)`] = del0.ms;
    empty[`  … its members purged (background)`] = del0.purgedMs;
    await deleteCampaign(s, e);
    show('empty store', empty);
    log(`  reset progress seen: ${reset0.polls}`);

    log(`phase 1: a campaign of ${BIG} and 3 × ${SMALL} stored`);
    const big = await s.createCampaign({ name: 'big', limit: 1 });
    const l = await s.createCampaign({ name: 'small-list', limit: 1 });
    const r = await s.createCampaign({ name: 'small-reset', limit: 1 });
    const d = await s.createCampaign({ name: 'small-delete', limit: 1 });
    // Two of the small lists imported as CSV files through the API (the issue's scenario); the one to
    // reset is stored with every member ended, which an import cannot do.
    for (const [id, prefix] of [[l, '38050'], [d, '38067']] as const) log(`  imported ${SMALL} members from a CSV file in ${(await importCsv(s, id, SMALL, prefix)).toFixed(0)} s`);
    for (const [id, n, o] of [[r, SMALL, { allEnded: true, prefix: '38052' }], [big, BIG, { prefix: '38060' }]] as const) {
      log(`  stored ${n} members in ${(await fill(s, id, n, o)).toFixed(0)} s`);
    }
    const onBig = await perRequest(s, await target(big, '38060'));
    show(`${BIG}-member campaign, per request`, onBig);
    const onSmall = await perRequest(s, await target(l, '38050'));
    show(`${SMALL}-member campaign in the loaded store, per request`, onSmall);
    onBig['new 1-member campaign: POST autoRun → first originate'] = await newCampaignToFirstOriginate(s);
    const reset1 = await resetCampaign(s, r);
    onBig[`reset a ${SMALL} campaign`] = reset1.ms;
    log(`  loaded store: reset a ${SMALL} campaign ${fmt(reset1.ms)}; progress seen: ${reset1.polls}`);
    const del1 = await deleteCampaign(s, d);
    onBig[`delete a ${SMALL} campaign (answer)`] = del1.ms;
    onBig[`  … its members purged (background)`] = del1.purgedMs;
    show('loaded store', onBig);

    console.log(`\n=== Large lists: p95 of ${K} (lists/counts: 3-10) requests; ${BIG} + 3 × ${SMALL} members stored vs an empty store ===`);
    console.log(`| operation | empty store | ${SMALL}-member campaign, loaded store | ${BIG}-member campaign | ratio (big / empty) |`);
    console.log('|---|---|---|---|---|');
    for (const op of Object.keys(empty)) {
      const a = Number(empty[op]);
      const b = Number(onBig[op]);
      const sm = onSmall[op] === undefined ? '—' : fmt(Number(onSmall[op]));
      console.log(`| ${op} | ${fmt(a)} | ${sm} | ${fmt(b)} | ${(b / a).toFixed(2)} |`);
    }
    console.log(`(reset: ${reset0.n} then ${reset1.n} members reset; progress seen: ${reset0.polls}; then ${reset1.polls})`);
  } finally {
    await s.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
