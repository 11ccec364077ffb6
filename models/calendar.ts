// Working-hours calendars (spec §3.2). The zod schemas here are the one source of a calendar's shape
// and bounds, for calendar documents (`/api/v2/calendars`, collection `calendar`) and for the
// calendars written inline in a dialer alike; the Mongoose model only stores what they accepted.
import mongoose, { Schema } from 'mongoose';
import { z } from 'zod';
import { isValidZone, type CalendarRule } from '../rules';
import { model } from './model';

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const minute = int(0, 1440);
const epochMs = z.number().int().min(0);
const bool01 = z.union([z.boolean(), z.literal(0), z.literal(1)]).transform((v) => Boolean(v));
const OBJECT_ID = /^[0-9a-fA-F]{24}$/;

/** An IANA zone name; v3's `{id: "Europe/Kyiv", …}` is accepted and stored as its id. */
const timeZone = z
  .union([z.string().max(64), z.object({ id: z.string().max(64) }).transform((t) => t.id)])
  .refine(isValidZone, 'is not an IANA time zone');

const acceptEntry = z
  .object({ weekDay: int(1, 7), startTime: minute, endTime: minute })
  .refine((a) => a.endTime >= a.startTime, { message: 'must not be before startTime (a night shift is two entries)', path: ['endTime'] });

const exceptEntry = z.object({ name: z.string().max(200).optional(), date: z.number().int(), repeat: bool01.optional() });

/** What decides when a calendar is working (§3.2). */
const ruleFields = {
  timeZone: timeZone.optional().describe('IANA zone, e.g. Europe/Kyiv (v3 {id: …} accepted, stored as the id); default UTC'),
  startDate: epochMs.nullable().optional().describe('epoch ms; before it the dialer sleeps'),
  endDate: epochMs.nullable().optional().describe('epoch ms; after it the dialer ends with QUEUE_EXPIRE'),
  accept: z
    .array(acceptEntry)
    .max(100)
    .optional()
    .describe('working hours: ISO weekDay 1=Mon…7=Sun, startTime/endTime in minutes of the day, both inclusive; a calendar document defaults to Mon–Fri 540–1020'),
  except: z.array(exceptEntry).max(1000).optional().describe('holidays: the day `date` (epoch ms) falls on in the calendar zone; repeat = that day every year'),
};
const RULE_KEYS = Object.keys(ruleFields) as (keyof typeof ruleFields)[];

function dateRange(c: { startDate?: number | null; endDate?: number | null }, ctx: z.RefinementCtx): void {
  if (c.startDate != null && c.endDate != null && c.endDate < c.startDate) {
    ctx.addIssue({ code: 'custom', path: ['endDate'], message: 'must not be before startDate' });
  }
}

const documentFields = {
  name: z.string({ error: 'required' }).trim().min(1, 'required').max(200),
  description: z.string().max(4000).optional(),
  ...ruleFields,
};

/** POST /api/v2/calendars. */
export const calendarCreateSchema = z.object(documentFields).superRefine(dateRange);
/** PUT /api/v2/calendars/:id: the fields given replace the stored ones. */
export const calendarUpdateSchema = z.object(documentFields).partial().superRefine(dateRange);

/** A dialer's `calendar`: v3's reference `{id, name}` to a calendar document, or the rules inline. */
export const dialerCalendarSchema = z
  .object({
    id: z
      .string()
      .regex(OBJECT_ID, 'must be the id of a calendar (24-character hex ObjectId)')
      .optional()
      .describe("a calendar document of the dialer's domain (v3 {id, name}); no other field then"),
    name: z.string().max(200).optional(),
    ...ruleFields,
  })
  .superRefine((c, ctx) => {
    dateRange(c, ctx);
    if (c.id === undefined) return;
    for (const k of RULE_KEYS) {
      if (c[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: 'not allowed with calendar.id (edit the calendar document instead)' });
    }
  });

/** v3's UI default for a new calendar: Monday to Friday, 09:00–17:00. */
export const DEFAULT_ACCEPT = [1, 2, 3, 4, 5].map((weekDay) => ({ weekDay, startTime: 540, endTime: 1020 }));
/** A dialer without a calendar: every day, all day, UTC (v3 required one; docs/rules.md). */
export const ALWAYS_OPEN = [1, 2, 3, 4, 5, 6, 7].map((weekDay) => ({ weekDay, startTime: 0, endTime: 1439 }));

const calendarSchema = new Schema(
  {
    domain: { type: String, required: true, index: true },
    name: { type: String, required: true },
    description: String,
    timeZone: { type: String, default: 'UTC' },
    startDate: { type: Number, default: null },
    endDate: { type: Number, default: null },
    accept: { type: [new Schema({ weekDay: Number, startTime: Number, endTime: Number }, { _id: false })], default: () => DEFAULT_ACCEPT },
    except: { type: [new Schema({ name: String, date: Number, repeat: Boolean }, { _id: false })], default: [] },
    lastModified: { type: Number, default: () => Date.now() },
  },
  { collection: 'calendar', versionKey: false, minimize: false },
);

export type CalendarDoc = z.output<typeof calendarCreateSchema> & { _id: mongoose.Types.ObjectId; domain: string; lastModified: number };
export const Calendar = model('Calendar', calendarSchema);

/** The stored calendar fields (a document or a dialer's inline calendar) as the rules take them. */
export function calendarRule(c: {
  timeZone?: string | null;
  startDate?: number | null;
  endDate?: number | null;
  accept?: { weekDay: number; startTime: number; endTime: number }[] | null;
  except?: { name?: string | null; date: number; repeat?: boolean | null }[] | null;
}): CalendarRule {
  return {
    timeZone: c.timeZone ?? 'UTC',
    startDate: c.startDate ?? null,
    endDate: c.endDate ?? null,
    accept: (c.accept ?? []).map((a) => ({ weekDay: a.weekDay, startTime: a.startTime, endTime: a.endTime })),
    except: (c.except ?? []).map((e) => ({ name: e.name ?? undefined, date: e.date, repeat: e.repeat ?? false })),
  };
}

/** A referenced calendar that no longer exists never opens: the campaign sleeps rather than dial. */
export const NEVER_OPEN: CalendarRule = { timeZone: 'UTC', startDate: null, endDate: null, accept: [], except: [] };

/** The calendar `id` of `domain`, or null (unknown, malformed, or another domain's). Read by `_id`
 *  alone: FerretDB pushes only an exact `_id` filter down to its storage. */
export async function calendarOfDomain(id: string, domain: string): Promise<CalendarDoc | null> {
  if (!OBJECT_ID.test(id)) return null;
  const doc = await Calendar.findById(id).lean<CalendarDoc>();
  return doc && doc.domain === domain ? doc : null;
}
