// The campaign ("dialer") document, stored in the `dialer` collection with Webitel v3 field names
// (spec §3), and its conversion to the CampaignRules snapshot the member workflow works on.
import { model, plainVariables } from './model';
import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { contentProblems, DEFAULT_CAUSES, DIALER_TYPES, effectiveContent, tierList, type BroadcastContent, type CampaignRules, type TierEntry } from '../rules';
import { config } from '../lib/config';
import { ALWAYS_OPEN, calendarOfDomain, calendarRule, NEVER_OPEN } from './calendar';

const causeName = /^[A-Z0-9_]+$/;
const causeList = {
  type: [String],
  default: undefined,
  validate: { validator: (v: string[]) => v.every((c) => causeName.test(c)), message: 'must be FreeSWITCH cause names (A-Z, 0-9, _)' },
};

const minuteOfDay = { type: Number, min: 0, max: 1440, required: true };

const rangeSchema = new Schema(
  {
    startTime: minuteOfDay,
    endTime: minuteOfDay,
    attempts: { type: Number, min: 0, default: 1 },
    priority: { type: Number, default: 0 },
  },
  { _id: false },
);
rangeSchema.path('endTime').validate(function (this: { startTime: number }, v: number) {
  return v > this.startTime;
}, 'must be after startTime');

const destinationSchema = new Schema(
  {
    uuid: { type: String, default: () => new mongoose.Types.UUID().toString() },
    enabled: { type: Boolean, default: true },
    limit: { type: Number, min: 0, default: 10 },
    gwProto: { type: String, default: 'sip' },
    gwName: { type: String, default: '' },
    dialString: { type: String, required: true },
    callerIdNumber: { type: String, default: '' },
    callerIdNumbers: { type: [String], default: [] },
  },
  { _id: false },
);

const resourceSchema = new Schema(
  {
    dialedNumber: {
      type: String,
      required: true,
      validate: {
        validator: (v: string) => {
          try {
            new RegExp(v);
            return true;
          } catch {
            return false;
          }
        },
        message: 'is not a valid regular expression',
      },
    },
    disabled: { type: Boolean, default: false },
    strategy: { type: String, enum: ['top_down', 'random'], default: 'top_down' },
    destinations: { type: [destinationSchema], default: [] },
  },
  { _id: false },
);

/** Inline rules, or v3's reference `{id, name}` to a calendar document (then nothing else is stored
 *  here: the defaults below apply to inline calendars only). */
const inline = <T>(value: () => T) =>
  function (this: { id?: string }) {
    return this.id ? undefined : value();
  };

const calendarSchema = new Schema(
  {
    id: String,
    name: String,
    timeZone: {
      type: String,
      default: inline(() => 'UTC'),
      validate: {
        validator: (z: string) => {
          try {
            new Intl.DateTimeFormat('en', { timeZone: z });
            return true;
          } catch {
            return false;
          }
        },
        message: 'is not an IANA time zone',
      },
    },
    startDate: Number,
    endDate: Number,
    accept: {
      type: [
        new Schema(
          { weekDay: { type: Number, min: 1, max: 7, required: true }, startTime: minuteOfDay, endTime: minuteOfDay },
          { _id: false },
        ),
      ],
      // No calendar given: every day, all day (v3 required a calendar; we default to always open).
      default: inline(() => ALWAYS_OPEN),
    },
    except: {
      type: [new Schema({ name: String, date: { type: Number, required: true }, repeat: { type: Boolean, default: false } }, { _id: false })],
      default: inline(() => []),
    },
  },
  { _id: false },
);

const parametersSchema = new Schema(
  {
    limit: { type: Number, min: 0, max: 10000, default: 30 },
    intervalTryCount: { type: Number, min: 0, default: 60 },
    maxTryCount: { type: Number, min: 1, max: 999, default: 5 },
    minBillSec: { type: Number, min: 0, default: 0 },
    waitingForResultStatus: { type: Boolean, default: false },
    wrapUpTime: { type: Number, min: 1, default: 60 },
    originateTimeout: { type: Number, min: 1, max: 999, default: 60 },
    eternalQueue: { type: Boolean, default: false },
    oneDayTask: { type: Boolean, default: false },
    retriesByNumber: { type: Boolean, default: false },
    statusTimeoutMode: { type: String, enum: ['refund', 'keep'], default: 'refund' },
    // No default: unset means the worker's LOST_CALL_REDIALS.
    lostCallRedials: { type: Number, min: 0, max: 100 },
  },
  { _id: false },
);

export const campaignSchema = new Schema(
  {
    domain: { type: String, required: true, index: true },
    name: { type: String, required: true, trim: true, minlength: 1 },
    description: String,
    type: { type: String, enum: DIALER_TYPES, required: true },
    parameters: { type: parametersSchema, default: () => ({}) },
    numberStrategy: { type: String, enum: ['by-priority', 'top-down'], default: 'by-priority' },
    membersStrategy: { type: String, enum: ['next-tries-circuit', 'strict-circuit'], default: 'next-tries-circuit' },
    causesError: causeList,
    causesRetry: causeList,
    causesOK: causeList,
    causesMinus: causeList,
    communications: {
      types: {
        type: [new Schema({ code: { type: String, required: true }, name: String, ranges: { type: [rangeSchema], default: [] } }, { _id: false })],
        default: [],
      },
    },
    calendar: { type: calendarSchema, default: () => ({}) },
    resources: { type: [resourceSchema], default: [] },
    variables: { type: Schema.Types.Mixed, default: () => ({}) },
    autoResetStats: { type: Boolean, default: false },
    // What an answered call runs (rules/content.ts; checked by the API) and v3's callflow document.
    content: { type: Schema.Types.Mixed, default: null },
    // §3.8; off unless asked for (v3's UI defaulted it on).
    recordSession: { type: Boolean, default: false },
    // Originations per second (v3.6); 0 = no limit of its own.
    cps: { type: Number, min: 0, max: 1000, default: 0 },
    _cf: { type: Schema.Types.Mixed, default: null },
    // Progressive (§3.3, §7): tiers (names, or {name, level}), hunting strategy, parameter overrides.
    agents: { type: [Schema.Types.Mixed], default: undefined },
    agentStrategy: { type: String, default: undefined },
    agentParams: { type: Schema.Types.Mixed, default: undefined },
    previewTimeoutSec: { type: Number, min: 0, max: 600, default: undefined },
    // Engine-owned run state (§8.1); not writable through the API.
    state: { type: Number, default: 0 },
    _cause: { type: String, default: 'INIT' },
    active: { type: Boolean, default: false },
    stats: { type: Schema.Types.Mixed, default: () => ({ active: 0, callCount: 0, successCall: 0, errorCall: 0, connectedCall: 0, bridgedCall: 0 }) },
    lastModified: { type: Number, default: () => Date.now() },
  },
  { collection: 'dialer', minimize: false, versionKey: false },
);

/** §8.7 `resetStats` and §8.3 `autoResetStats`: the counters, as a `$set` (the lifecycle fields,
 *  `active`, `resource` and the exactly-once markers `_counting` are not counters). */
export const STATS_COUNTERS_ZERO = {
  'stats.callCount': 0, 'stats.errorCall': 0, 'stats.successCall': 0, 'stats.predictAbandoned': 0, 'stats.queueLimit': 0,
  'stats.predictAdjust': 0, 'stats.bridgedCall': 0, 'stats.connectedCall': 0, 'stats.waitSec': 0, 'stats.amd': {},
};

export type CampaignDoc = InferSchemaType<typeof campaignSchema> & { _id: mongoose.Types.ObjectId };
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

function campaignRules(doc: CampaignDoc, calendar: CampaignRules['calendar']): CampaignRules {
  const p = doc.parameters ?? ({} as NonNullable<CampaignDoc['parameters']>);
  const list = (l: string[] | undefined | null, def: string[]) => (l && l.length ? [...l] : [...def]);
  return {
    id: String(doc._id),
    name: doc.name,
    domain: doc.domain,
    type: doc.type as CampaignRules['type'],
    limit: p.limit ?? 30,
    maxTryCount: p.maxTryCount ?? 5,
    intervalTryCount: p.intervalTryCount ?? 60,
    minBillSec: p.minBillSec ?? 0,
    waitingForResultStatus: p.waitingForResultStatus ?? false,
    wrapUpTime: p.wrapUpTime ?? 60,
    originateTimeout: p.originateTimeout ?? 60,
    eternalQueue: p.eternalQueue ?? false,
    oneDayTask: p.oneDayTask ?? false,
    retriesByNumber: p.retriesByNumber ?? false,
    statusTimeoutMode: (p.statusTimeoutMode as 'refund' | 'keep') ?? 'refund',
    lostCallRedials: p.lostCallRedials ?? config.lostCallRedials,
    numberStrategy: (doc.numberStrategy as CampaignRules['numberStrategy']) ?? 'by-priority',
    membersStrategy: (doc.membersStrategy as CampaignRules['membersStrategy']) ?? 'next-tries-circuit',
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
    ...(doc.cps ? { cps: doc.cps } : {}),
    ...(doc.agents ? { agents: tierList(doc.agents as TierEntry[]) } : {}),
    ...(doc.agentStrategy ? { agentStrategy: doc.agentStrategy } : {}),
    ...(doc.agentParams ? { agentParams: numericParams(doc.agentParams) } : {}),
    ...(doc.previewTimeoutSec ? { previewTimeoutSec: doc.previewTimeoutSec } : {}),
    ...(doc.recordSession
      ? { record: { ...config.recordings, stereo: String(plainVariables(doc.variables).RECORD_STEREO ?? 'false') === 'true' } }
      : {}),
  };
}

/** The `agentParams` overrides that are finite numbers (§7.2: only those win). */
function numericParams(p: unknown): CampaignRules['agentParams'] {
  const out: Record<string, number> = {};
  if (p && typeof p === 'object') for (const [k, v] of Object.entries(p)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}

/** The content an answered call runs. Re-checked here (defence in depth: documents may predate
 *  the API check or be written straight into Mongo): content that fails the check parks. */
function campaignContent(doc: CampaignDoc): BroadcastContent {
  const c = effectiveContent(doc.content as BroadcastContent | null, doc._cf != null);
  try {
    return contentSchemaOk(c) && contentProblems(c, config.soundsAllow).length === 0 ? c : { mode: 'park' };
  } catch {
    return { mode: 'park' }; // a shape the checks cannot even read
  }
}

function contentSchemaOk(c: BroadcastContent): boolean {
  if (c.mode === 'park' || c.mode === 'transfer') return true;
  if (c.mode !== 'callflow' || !Array.isArray(c.play) || !c.play.every((p) => typeof p === 'string')) return false;
  const m = c.menu;
  return m === undefined || m === null || (typeof m.prompt === 'string' && typeof m.digits === 'string');
}
