// The campaign finish forecast's inputs, read from what is stored without reading the list: the
// campaign's counters, the member counts by state (models/member-store.ts), the fresh part of the
// ready queue, and a bounded sample of the members in progress (their attempts made and next try).
// The forecast itself is rules/finish-forecast.ts.
import mongoose from 'mongoose';
import { maxResources } from '../rules';
import { finishForecast, type DialledGroup, type FinishForecast } from '../rules/finish-forecast';
import { loadCampaignRules, Member, type CampaignDoc } from '../models';
import { MemberStore } from '../models/member-store';
import { freshCount, someTimedEntries } from '../models/ready-queue';

/** Timed entries read for the members' next tries, and members read for their attempts made. */
const TIMED_READ = 1000;
const SAMPLE = 200;

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export async function campaignForecast(doc: CampaignDoc, now = Date.now()): Promise<FinishForecast> {
  const id = String(doc._id);
  const camp = await loadCampaignRules(doc);
  const stats = (doc.stats ?? {}) as Record<string, unknown>;
  const [counts, timed] = await Promise.all([MemberStore.counts(id), someTimedEntries(id, TIMED_READ)]);
  const waiting = Math.max(0, counts.notEnded);
  // All members in progress read: the others never were dialled (those in a call hold a line).
  // Otherwise the fresh chunks are counted (one read of 1,000 ids per thousand never dialled).
  const inCall = num(stats.active);
  const fresh = timed.length < TIMED_READ ? waiting - timed.length - inCall : await freshCount(id);
  const freshLeft = Math.max(0, Math.min(waiting, fresh));
  const dialled = waiting - freshLeft;
  // Members in progress, as a sample spread over the timed entries read, each standing for its share.
  const step = Math.max(1, Math.floor(timed.length / SAMPLE));
  const sample = timed.filter((_, k) => k % step === 0).slice(0, SAMPLE);
  const made = new Map<string, number>();
  if (sample.length) {
    const docs = await Member.find({ _id: { $in: sample.map((e) => e._id as mongoose.Types.ObjectId) } }, { _probeCount: 1 }).lean<{ _id: unknown; _probeCount?: number }[]>();
    for (const d of docs) made.set(String(d._id), d._probeCount ?? 0);
  }
  const known = sample.filter((e) => made.has(String(e._id)));
  const groups: DialledGroup[] = known.length
    ? known.map((e) => ({
      count: dialled / known.length,
      attemptsMade: made.get(String(e._id))!,
      dueAt: Math.max(num(e._readyAt), num(e._nextTryTime), now),
    }))
    : dialled > 0 ? [{ count: dialled, attemptsMade: 1, dueAt: now }] : [];
  const notContacts = counts.ended - num(stats.successCall) - (counts.byCause.MAX_TRY_COUNT ?? 0) - (counts.byCause.MANAGER_REQUEST ?? 0);
  return finishForecast({
    now,
    running: doc.active === true,
    maxTryCount: camp.maxTryCount,
    intervalTryCount: camp.intervalTryCount,
    calendar: camp.calendar,
    lines: Math.min(camp.limit, maxResources(camp.resources)),
    fresh: freshLeft,
    dialled: groups,
    stats: {
      attempts: num(stats.callCount),
      contacts: num(stats.successCall),
      answered: num(stats.connectedCall),
      failedEnds: Math.max(0, notContacts),
      lineSec: num(stats.lineSec),
    },
  });
}
