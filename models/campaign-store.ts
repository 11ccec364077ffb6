// Every write of a campaign ("dialer") document, named by what it does. The configuration is the
// API's (create, edit, delete, calendar rename); the run state and the counters are the campaign's
// and its members' (docs/architecture.md, "Who writes what"). Writes of one campaign go one at a
// time across every process (models/serial.ts `exclusively`), so counters incremented by the
// members of several workers, and the API's edits, never overlap.
import type { Document } from 'mongoose';
import { Campaign, STATS_COUNTERS_ZERO, type CampaignDoc } from './campaign';
import { setAttempt, Attempt } from './attempt';
import { addHistory } from './history';
import { exclusively, turnKey } from './serial';
import { perTick } from './group-commit';

const one = <T>(campaignId: string, fn: () => Promise<T>) => exclusively(turnKey.campaign(campaignId), fn);

export const CampaignStore = {
  // ---- The API (configuration; start and stop) ----

  async create(fields: Record<string, unknown>): Promise<Record<string, unknown>> {
    const doc = await Campaign.create({ ...fields, lastModified: Date.now() });
    return (doc as Document).toObject();
  },

  /** A partial edit: top-level fields replaced, `parameters` merged field by field. */
  async edit(campaignId: string, rest: Record<string, unknown>, parameters?: Record<string, unknown>): Promise<boolean> {
    return one(campaignId, async () => {
      const doc = await Campaign.findById(campaignId);
      if (!doc) return false;
      doc.set(rest);
      if (parameters) for (const [k, v] of Object.entries(parameters)) doc.set(`parameters.${k}`, v);
      doc.set('lastModified', Date.now());
      await doc.save();
      return true;
    });
  },

  /** Start/stop pressed (§8.2): the run state and when it changed. */
  async setRunState(campaignId: string, next: { state: number; _cause: string; active: boolean }, now = Date.now()): Promise<void> {
    await one(campaignId, () => Campaign.updateOne(
      { _id: campaignId },
      { $set: { ...next, ...(next.active ? { 'stats.readyOn': now, 'stats.stopOn': null } : { 'stats.stopOn': now }) } },
    ));
  },

  /** §8.7 reset of an inactive dialer: counters and/or the live line counters shown. */
  async reset(campaignId: string, o: { stats?: boolean; process?: boolean }): Promise<{ matched: number; modified: number }> {
    const set: Record<string, unknown> = { lastModified: Date.now() };
    if (o.stats) Object.assign(set, STATS_COUNTERS_ZERO);
    if (o.process) Object.assign(set, { 'stats.active': 0, 'stats.resource': {} });
    const res = await one(campaignId, () => Campaign.updateOne({ _id: campaignId }, { $set: set }));
    return { matched: res.matchedCount, modified: res.modifiedCount };
  },

  /** A referenced calendar was renamed: the `{id, name}` references follow. */
  async renameCalendar(domain: string, calendarId: string, name: string): Promise<void> {
    await Campaign.updateMany({ domain, 'calendar.id': calendarId }, { $set: { 'calendar.name': name } });
  },

  async remove(campaignId: string, domain: string): Promise<number> {
    return (await Campaign.deleteOne({ _id: campaignId, domain })).deletedCount;
  },

  // ---- The campaign workflow's activities ----

  /** A state change of the running campaign (§8.1), recorded in its history; a no-op when nothing
   *  changed (the API already wrote the state it set itself). */
  async setState(campaignId: string, o: { state: number; cause: string; active: boolean; action: string }): Promise<void> {
    const doc = await one(campaignId, () => Campaign.findOneAndUpdate(
      { _id: campaignId, $or: [{ state: { $ne: o.state } }, { _cause: { $ne: o.cause } }] },
      { $set: { state: o.state, _cause: o.cause, active: o.active } },
    ).lean<Pick<CampaignDoc, 'domain'>>());
    if (doc) await addHistory({ dialer: campaignId, domain: doc.domain, action: o.cause, value: o.action });
  },

  /** Predictive: the pacing state the campaign resumes from and its public view (`pacing`). */
  async setPacing(campaignId: string, state: unknown, view: unknown): Promise<void> {
    await one(campaignId, () => Campaign.updateOne({ _id: campaignId }, { $set: { _pacingState: state, pacing: view } }));
  },

  /** Lines held now (shown as `stats.active`). */
  async setActive(campaignId: string, active: number): Promise<void> {
    await one(campaignId, () => Campaign.updateOne({ _id: campaignId }, { $set: { 'stats.active': active } }));
  },

  /** `autoResetStats` (§8.3): counters of an earlier day are zeroed; the first day is only noted. */
  async startStatsDay(campaignId: string, day: string): Promise<void> {
    await one(campaignId, async () => {
      await Campaign.updateOne({ _id: campaignId, 'stats.day': { $exists: false } }, { $set: { 'stats.day': day } });
      await Campaign.updateOne({ _id: campaignId, 'stats.day': { $ne: day } }, { $set: { ...STATS_COUNTERS_ZERO, 'stats.day': day } });
    });
  },

  /**
   * Adds `inc` to the counters exactly once per attempt and `flag`, even if the activity is retried
   * or dies half-way: the increment and its marker (`stats._counting.<marker>`) are ONE update of the
   * campaign document, the attempt's flag follows (with `set`, which includes `flag`), then the
   * marker goes. (Flagging the attempt first lost the increment when the activity died in between.)
   * The counts queued together go to the campaign as one update (`counting`); a marker's removal
   * waits up to MARKER_WINDOW_MS for the next count and rides on its update. `attempt`: what the
   * caller knows of the attempt's flags (null: not stored), which spares the read. The attempt has
   * one writer, its member's activities (no turn); the campaign's turn only for each of its writes
   * (kept between them: models/serial.ts).
   */
  async countOnce(...args: Parameters<typeof count>): Promise<void> {
    await (await count(...args)).unmarked;
  },

  /** `countOnce`, resolved once the attempt is counted and flagged: `unmarked` is the marker's
   *  removal, which the caller awaits before it returns (else the marker may stay: harmless, as its
   *  attempt is flagged, but never removed). */
  count,
};

/** CampaignStore.count (see countOnce). */
async function count(
  campaignId: string, uuid: string, flag: 'counted' | 'outcome', marker: string, inc: Record<string, number>, set: Parameters<typeof setAttempt>[1],
  attempt?: Record<string, unknown> | null,
): Promise<{ unmarked: Promise<void> }> {
  const done = attempt !== undefined ? attempt : await Attempt.findById(uuid, { [flag]: 1 }).lean<Record<string, unknown>>();
  if (!done?.[flag]) {
    await counting(campaignId, { count: { marker, inc } });
    await setAttempt(uuid, set);
  }
  const unmarked = counting(campaignId, { unmark: marker }, true);
  unmarked.catch(() => undefined); // the caller's await gets the error, later
  return { unmarked };
}

/** Where a counted attempt's marker is kept until its flag is stored (field names: the markers are
 *  attempt uuids, with `:outcome` for the outcome's count). */
const MARKERS = 'stats._counting';
type Count = { marker: string; inc: Record<string, number> };

/** How long a marker's removal waits for the next count of its campaign to ride on. At 10–30
 *  attempts a second in a worker, the counts of a campaign (those queued while one is written go
 *  together) are written every 50–150 ms: a removal sent at once cost one more update of the
 *  campaign per count. Only the end of its attempt's activity waits for it, after the rest. */
export const MARKER_WINDOW_MS = 150;

type CountOp = { count: Count } | { unmark: string };

/** The counts and marker removals of a campaign queued together, as one update: it `$inc`s the
 *  counts and `$set`s their markers where none of those markers is stored yet, and `$unset`s the
 *  removed markers. Where a count's marker is stored (an earlier try of its attempt whose answer was
 *  lost), one update per count, each where its own marker is not stored, and the removals alone. A
 *  marker both counted and removed in one batch (a retry meeting its own earlier try): one update
 *  per call, in call order. */
const counting = perTick<CountOp, void>(async (campaignId, ops) => {
  const counts = [...new Map(ops.flatMap((o) => ('count' in o ? [[o.count.marker, o.count] as const] : []))).values()];
  const unmarks = [...new Set(ops.flatMap((o) => ('unmark' in o ? [o.unmark] : [])))];
  if (unmarks.some((m) => counts.some((c) => c.marker === m))) {
    for (const o of ops) await write(campaignId, 'count' in o ? [o.count] : [], 'unmark' in o ? [o.unmark] : []);
  } else await write(campaignId, counts, unmarks);
  return ops.map(() => undefined);
}, MARKER_WINDOW_MS);

async function write(campaignId: string, counts: Count[], unmarks: string[]): Promise<void> {
  const unset = unmarks.length ? { $unset: Object.fromEntries(unmarks.map((m) => [`${MARKERS}.${m}`, ''])) } : {};
  if (!counts.length) {
    await one(campaignId, () => Campaign.updateOne({ _id: campaignId }, unset));
    return;
  }
  const add = (cs: Count[], also: object) => {
    const inc: Record<string, number> = {};
    for (const c of cs) for (const [k, n] of Object.entries(c.inc)) inc[k] = (inc[k] ?? 0) + n;
    const filter = Object.fromEntries(cs.map((c) => [`${MARKERS}.${c.marker}`, { $exists: false }]));
    const marks = Object.fromEntries(cs.map((c) => [`${MARKERS}.${c.marker}`, 1]));
    return one(campaignId, () => Campaign.updateOne({ _id: campaignId, ...filter }, { $inc: inc, $set: marks, ...also }));
  };
  if ((await add(counts, unset)).matchedCount > 0) return;
  if (counts.length > 1) for (const c of counts) await add([c], {});
  if (unmarks.length) await write(campaignId, [], unmarks);
}
