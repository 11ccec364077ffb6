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
   * The counts and the marker removals of one event-loop turn go to the campaign as one update each
   * (`addCounts`, `unmark`). `attempt`: what the caller knows of the attempt's flags (null: not
   * stored), which spares the read. The attempt has one writer, its member's activities (no turn);
   * the campaign's turn only for each of its writes (kept between them: models/serial.ts).
   */
  async countOnce(
    campaignId: string, uuid: string, flag: 'counted' | 'outcome', marker: string, inc: Record<string, number>, set: Parameters<typeof setAttempt>[1],
    attempt?: Record<string, unknown> | null,
  ): Promise<void> {
    const done = attempt !== undefined ? attempt : await Attempt.findById(uuid, { [flag]: 1 }).lean<Record<string, unknown>>();
    if (!done?.[flag]) {
      await addCounts(campaignId, { marker, inc });
      await setAttempt(uuid, set);
    }
    await unmark(campaignId, marker);
  },
};

/** Where a counted attempt's marker is kept until its flag is stored (field names: the markers are
 *  attempt uuids, with `:outcome` for the outcome's count). */
const MARKERS = 'stats._counting';
type Count = { marker: string; inc: Record<string, number> };

/** The counts of one event-loop turn of a campaign, added by one update that also sets their markers,
 *  where none of the markers is stored yet; where one is (an earlier try of its attempt whose answer
 *  was lost), one update per count, each where its own marker is not stored. */
const addCounts = perTick<Count, void>(async (campaignId, counts) => {
  const unique = [...new Map(counts.map((c) => [c.marker, c])).values()];
  const add = (cs: Count[]) => {
    const inc: Record<string, number> = {};
    for (const c of cs) for (const [k, n] of Object.entries(c.inc)) inc[k] = (inc[k] ?? 0) + n;
    const filter = Object.fromEntries(cs.map((c) => [`${MARKERS}.${c.marker}`, { $exists: false }]));
    const marks = Object.fromEntries(cs.map((c) => [`${MARKERS}.${c.marker}`, 1]));
    return one(campaignId, () => Campaign.updateOne({ _id: campaignId, ...filter }, { $inc: inc, $set: marks }));
  };
  if ((await add(unique)).matchedCount === 0 && unique.length > 1) for (const c of unique) await add([c]);
  return counts.map(() => undefined);
});

/** The markers of one event-loop turn of a campaign, removed by one update. */
const unmark = perTick<string, void>(async (campaignId, markers) => {
  await one(campaignId, () => Campaign.updateOne({ _id: campaignId }, { $unset: Object.fromEntries(markers.map((m) => [`${MARKERS}.${m}`, ''])) }));
  return markers.map(() => undefined);
});
