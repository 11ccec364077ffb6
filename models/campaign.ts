// The campaign ("dialer") document, stored in the `dialer` collection with Webitel v3 field names
// (spec §3), and its conversion to the CampaignRules snapshot the member workflow works on.
import { model, plainVariables } from './model';
import mongoose, { Schema } from 'mongoose';
import type { z } from 'zod';
import { DEFAULT_CAUSES, PREDICTIVE_DEFAULTS, type PredictiveRules, effectiveContent, playItemProblem, tierList, type AmdSettings, type BroadcastContent, type CampaignRules, type ResultCode, type TierEntry } from '../rules';
import { config } from '../lib/config';
import { defaultOf, mongooseSchema } from '../lib/zod-mongoose';
import { ALWAYS_OPEN, calendarOfDomain, calendarRule, NEVER_OPEN } from './calendar';
import { campaignClientFields, campaignDocumentSchema, contentSchema, parametersSchema } from './campaign-schema';

/** Inline rules, or v3's reference `{id, name}` to a calendar document (then nothing else is stored
 *  here: the defaults below apply to inline calendars only, which is why this one subdocument is
 *  not derived from the zod calendar — zod checks it, this only fills an inline calendar in). */
const inline = <T>(value: () => T) =>
  function (this: { id?: string }) {
    return this.id ? undefined : value();
  };
const day = { type: Number, required: true };
const calendarSchema = new Schema(
  {
    id: String,
    name: String,
    timeZone: { type: String, default: inline(() => 'UTC') },
    startDate: Number,
    endDate: Number,
    // No calendar given: every day, all day (v3 required a calendar; we default to always open).
    accept: { type: [new Schema({ weekDay: day, startTime: day, endTime: day }, { _id: false })], default: inline(() => ALWAYS_OPEN) },
    except: { type: [new Schema({ name: String, date: day, repeat: { type: Boolean, default: false } }, { _id: false })], default: inline(() => []) },
  },
  { _id: false },
);

/** Derived from models/campaign-schema.ts (lib/zod-mongoose.ts). */
export const campaignSchema = mongooseSchema(campaignDocumentSchema, { collection: 'dialer', minimize: false, versionKey: false }, {
  domain: { index: true },
  calendar: { type: calendarSchema, default: () => ({}) },
});

/** §8.7 `resetStats` and §8.3 `autoResetStats`: the counters, as a `$set` (the lifecycle fields,
 *  `active`, `resource` and the exactly-once markers `_counting` are not counters). */
export const STATS_COUNTERS_ZERO = {
  'stats.callCount': 0, 'stats.errorCall': 0, 'stats.successCall': 0, 'stats.predictAbandoned': 0, 'stats.queueLimit': 0,
  'stats.predictAdjust': 0, 'stats.bridgedCall': 0, 'stats.connectedCall': 0, 'stats.waitSec': 0, 'stats.amd': {}, 'stats.lineSec': 0,
};

export type CampaignDoc = z.output<typeof campaignDocumentSchema> & { _id: mongoose.Types.ObjectId };
export const Campaign = model('Campaign', campaignSchema);


/** The snapshot the rules work on, with defaults filled in. A referenced calendar (`calendar: {id}`)
 *  is read now, so an edit of the calendar applies at the campaign's next look (v3 reloaded on
 *  `lastModified`). */
export async function loadCampaignRules(doc: CampaignDoc): Promise<CampaignRules> {
  const ref = doc.calendar?.id;
  if (!ref) return campaignRules(doc, calendarRule(doc.calendar ?? {}));
  const cal = await calendarOfDomain(ref, doc.domain);
  return campaignRules(doc, cal ? calendarRule(cal) : NEVER_OPEN);
}

/** The zod defaults (models/campaign-schema.ts): what an absent field means, here as in Mongoose. */
const P = parametersSchema.parse({});
const D = {
  numberStrategy: defaultOf(campaignClientFields.numberStrategy) as CampaignRules['numberStrategy'],
  membersStrategy: defaultOf(campaignClientFields.membersStrategy) as CampaignRules['membersStrategy'],
};

function campaignRules(doc: CampaignDoc, calendar: CampaignRules['calendar']): CampaignRules {
  const p: Partial<CampaignDoc['parameters']> = doc.parameters ?? {};
  const list = (l: string[] | undefined | null, def: string[]) => (l && l.length ? [...l] : [...def]);
  return {
    id: String(doc._id),
    name: doc.name,
    domain: doc.domain,
    type: doc.type,
    limit: p.limit ?? P.limit,
    maxTryCount: p.maxTryCount ?? P.maxTryCount,
    intervalTryCount: p.intervalTryCount ?? P.intervalTryCount,
    minBillSec: p.minBillSec ?? P.minBillSec,
    waitingForResultStatus: p.waitingForResultStatus ?? P.waitingForResultStatus,
    wrapUpTime: p.wrapUpTime ?? P.wrapUpTime,
    originateTimeout: p.originateTimeout ?? P.originateTimeout,
    eternalQueue: p.eternalQueue ?? P.eternalQueue,
    oneDayTask: p.oneDayTask ?? P.oneDayTask,
    retriesByNumber: p.retriesByNumber ?? P.retriesByNumber,
    statusTimeoutMode: p.statusTimeoutMode ?? P.statusTimeoutMode,
    lostCallRedials: p.lostCallRedials ?? config.lostCallRedials,
    numberStrategy: doc.numberStrategy ?? D.numberStrategy,
    membersStrategy: doc.membersStrategy ?? D.membersStrategy,
    causesError: list(doc.causesError, DEFAULT_CAUSES.causesError),
    causesRetry: list(doc.causesRetry, DEFAULT_CAUSES.causesRetry),
    causesOK: list(doc.causesOK, DEFAULT_CAUSES.causesOK),
    causesMinus: list(doc.causesMinus, DEFAULT_CAUSES.causesMinus),
    communicationTypes: (doc.communications?.types ?? []).map((t) => ({
      code: t.code,
      name: t.name ?? t.code,
      ranges: (t.ranges ?? []).map((r) => ({ startTime: r.startTime, endTime: r.endTime, attempts: r.attempts ?? 1, priority: r.priority ?? 0 })),
    })),
    calendar,
    resources: (doc.resources ?? []).map((r) => ({
      dialedNumber: r.dialedNumber,
      disabled: r.disabled ?? false,
      strategy: (r.strategy as 'top_down' | 'random') ?? 'top_down',
      destinations: (r.destinations ?? []).map((d) => ({
        uuid: d.uuid ?? '',
        enabled: d.enabled ?? true,
        limit: d.limit ?? 0,
        gwProto: d.gwProto ?? 'sip',
        gwName: d.gwName ?? '',
        dialString: d.dialString,
        callerIdNumber: d.callerIdNumber ?? '',
        callerIdNumbers: [...(d.callerIdNumbers ?? [])],
      })),
    })),
    variables: plainVariables(doc.variables),
    autoResetStats: doc.autoResetStats ?? false,
    content: campaignContent(doc),
    ...(p.cps ? { cps: p.cps } : {}),
    ...(doc.agents ? { agents: tierList(doc.agents as TierEntry[]) } : {}),
    ...(doc.agentStrategy ? { agentStrategy: doc.agentStrategy } : {}),
    ...(doc.agentParams ? { agentParams: numericParams(doc.agentParams) } : {}),
    ...(doc.previewTimeoutSec ? { previewTimeoutSec: doc.previewTimeoutSec } : {}),
    ...(doc.callResult?.length ? { callResult: doc.callResult.map((c) => ({ name: c.name, type: c.type as ResultCode['type'], ...(c.items?.length ? { items: [...c.items] } : {}) })) } : {}),
    ...(doc.type === 'Predictive Dialer' ? { predictive: predictiveRules(doc) } : {}),
    // AMD (§3.7) exists for broadcasts (before the content) and predictive (before the agent search) only.
    ...(doc.amd?.enabled && (doc.type === 'Voice Broadcasting' || doc.type === 'Predictive Dialer') ? { amd: campaignAmd(doc.amd as AmdSettings) } : {}),
    ...(p.recordSession
      ? { record: { ...config.recordings, stereo: String(plainVariables(doc.variables).RECORD_STEREO ?? 'false') === 'true' } }
      : {}),
  };
}

/** §2.4/§7.5 settings with their defaults (rules/predictive.ts). */
function predictiveRules(doc: CampaignDoc): PredictiveRules {
  const p: Partial<CampaignDoc['parameters']> = doc.parameters ?? {};
  const d = PREDICTIVE_DEFAULTS;
  return {
    maxLocateAgentSec: p.maxLocateAgentSec ?? d.maxLocateAgentSec,
    retryAbandoned: p.retryAbandoned ?? d.retryAbandoned,
    ...(doc.playbackFile?.uri ? { playbackFile: doc.playbackFile.uri } : {}),
    minAgents: p.predictMinAgents ?? d.minAgents,
    minLive: p.predictStartCallCount ?? d.minLive,
    minTalks: p.predictStartBridgedCount ?? d.minTalks,
    capRate: p.maxPredictiveSilentCalls !== undefined ? p.maxPredictiveSilentCalls / 100 : d.capRate,
    linesPerAgent: d.linesPerAgent,
  };
}

/** The `agentParams` overrides that are finite numbers (§7.2: only those win; null = the agent's own). */
function numericParams(p: unknown): CampaignRules['agentParams'] {
  const out: Record<string, number> = {};
  if (p && typeof p === 'object') for (const [k, v] of Object.entries(p)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}

/** The AMD settings (§3.7); a playback file that is not an allowed sound file is left out. */
function campaignAmd(a: AmdSettings): AmdSettings {
  const { playbackFile, ...rest } = a;
  const uri = playbackFile?.uri;
  return uri && !playItemProblem(uri, config.soundsAllow) ? { ...rest, playbackFile: { uri } } : rest;
}

/** The content an answered call runs. Re-checked here with the API's schema (defence in depth:
 *  documents may predate the check or be written straight into Mongo): content that fails parks. */
function campaignContent(doc: CampaignDoc): BroadcastContent {
  const c = effectiveContent(doc.content as BroadcastContent | null, doc._cf != null);
  return contentSchema.safeParse(c).success ? c : { mode: 'park' };
}
