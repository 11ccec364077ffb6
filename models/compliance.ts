// Compliance beyond v3 (issue 16): a do-not-call list per domain, the domain's compliance settings,
// and per-number contact counts for the contact-frequency cap. Every read on the call path is an
// exact `_id` lookup (the only equality FerretDB v1 pushes down), so a list of millions costs the
// same per call as an empty one.
//
// The worker reads a domain's `dialer_compliance` document (its contact cap, and whether its list
// ever held a number) at most once per COMPLIANCE_CACHE_MS (`Compliance.forCall`), and looks a number
// up in the list only when it did. So that a change still binds every originate after the API
// answered it, the API answers a changed cap, and the first number of a domain's list, only once
// that long has passed since the change was stored: every copy read before it has expired by then.
//
// Writers (docs/architecture.md, "Who writes what"):
// - `dialer_dnc` and `dialer_compliance`: the API only (no workflow owns them);
// - `dialer_contacts`: the member activities (placeCall), one update at a time per number in the
//   worker (models/serial.ts) and conditional on the version read, so two workers on MongoDB cannot
//   both take the last place either.
import { isDuplicateKeyError } from '../lib/db';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { Schema } from 'mongoose';
import { z } from 'zod';
import { model } from './model';
import { exclusively } from './serial';
import { config } from '../lib/config';
import { contactAllowed } from '../rules/pacing/compliance';

/** The number as the list keys it: digits only (v3 dials `number` with every non-digit removed). */
export function dncNumber(number: string): string {
  return number.replace(/\D/g, '');
}

/** A number a client may list: digits with optional `+`, spaces, `(`, `)`, `-`, `.`; 3-20 digits. */
export const dncNumberSchema = z
  .string({ error: 'required' })
  .max(40)
  .regex(/^\+?[0-9 ().-]+$/, 'must be a phone number (digits, optionally + ( ) - . and spaces)')
  .refine((n) => dncNumber(n).length >= 3 && dncNumber(n).length <= 20, 'must have 3-20 digits');

export const dncEntrySchema = z.strictObject({
  number: dncNumberSchema,
  note: z.string().max(500).optional(),
});

export const complianceSettingsSchema = z.strictObject({
  contactCap: z
    .strictObject({
      attempts: z.number({ error: 'must be an integer' }).int('must be an integer').min(1).max(1000),
      windowSec: z.number({ error: 'must be an integer' }).int('must be an integer').min(60).max(90 * 86400),
    })
    .nullable()
    .describe('at most `attempts` originates per number in any `windowSec` (e.g. 3 per 86400), across all campaigns of the domain; null = no cap'),
});
export type ComplianceSettings = z.infer<typeof complianceSettingsSchema>;

const Dnc = model('Dnc', new Schema(
  { _id: String, domain: String, number: String, note: String, addedOn: Number },
  { collection: 'dialer_dnc', versionKey: false },
));
const Settings = model('ComplianceSettings', new Schema(
  // dncListed: the domain's list has held a number (set before the first one is stored; never unset).
  { _id: String, contactCap: Schema.Types.Mixed, dncListed: Boolean, lastModified: Number },
  { collection: 'dialer_compliance', versionKey: false },
));
const Contacts = model('Contacts', new Schema(
  { _id: String, v: Number, calls: [{ _id: false, id: String, at: Number }] },
  { collection: 'dialer_contacts', versionKey: false },
));

export interface DncEntry { number: string; note?: string; addedOn: number }

const dncId = (domain: string, number: string) => `${domain}:${dncNumber(number)}`;
/** `_id`s of a domain's entries sort between these (`;` follows `:`). */
const domainRange = (domain: string) => ({ $gt: `${domain}:`, $lt: `${domain};` });
const entry = (d: { number: string; note?: string | null; addedOn: number }): DncEntry => ({
  number: d.number, ...(d.note ? { note: d.note } : {}), addedOn: d.addedOn,
});

export const DoNotCall = {
  /** Adds (or re-notes) a number; true when it was not listed. */
  async add(domain: string, number: string, note?: string): Promise<boolean> {
    await markListed(domain);
    const r = await Dnc.updateOne(
      { _id: dncId(domain, number) },
      { $set: { note: note ?? null }, $setOnInsert: { domain, number: dncNumber(number), addedOn: Date.now() } },
      { upsert: true },
    );
    return r.upsertedCount > 0;
  },

  async addMany(domain: string, rows: { number: string; note?: string }[]): Promise<void> {
    if (!rows.length) return;
    await markListed(domain);
    const now = Date.now();
    await Dnc.bulkWrite(rows.map((r) => ({
      updateOne: {
        filter: { _id: dncId(domain, r.number) },
        update: { $set: { note: r.note ?? null }, $setOnInsert: { domain, number: dncNumber(r.number), addedOn: now } },
        upsert: true,
      },
    })), { ordered: false });
  },

  async remove(domain: string, number: string): Promise<boolean> {
    return (await Dnc.deleteOne({ _id: dncId(domain, number) })).deletedCount > 0;
  },

  /** The entry of a number, or null: one `_id` lookup. */
  async find(domain: string, number: string): Promise<DncEntry | null> {
    const d = await Dnc.findById(dncId(domain, number)).lean<{ number: string; note?: string; addedOn: number }>();
    return d ? entry(d) : null;
  },

  /** A page of the domain's list in number order, after `after` (a number). */
  async page(domain: string, limit: number, after?: string): Promise<DncEntry[]> {
    const range = domainRange(domain);
    const docs = await Dnc.find({ _id: after ? { ...range, $gt: dncId(domain, after) } : range })
      .sort({ _id: 1 }).limit(limit).lean<{ number: string; note?: string; addedOn: number }[]>();
    return docs.map(entry);
  },
};


/** The domain's list holds (or is about to hold) a number; the first time, waits until every
 *  worker's cached copy saying otherwise has expired. Stored before the entry, so a crash in between
 *  costs a lookup, never a listed number dialled. */
async function markListed(domain: string): Promise<void> {
  const before = await Settings.findOneAndUpdate({ _id: domain }, { $set: { dncListed: true } }, { upsert: true }).lean<{ dncListed?: boolean }>();
  if (!before?.dncListed) await sleep(config.complianceCacheMs);
}

/** What placeCall needs of a domain: its cap, and whether its list must be looked up. */
export interface DomainCompliance { contactCap: ComplianceSettings['contactCap']; dncListed: boolean }
const cached = new Map<string, { until: number; view: Promise<DomainCompliance> }>();

export const Compliance = {
  async settings(domain: string): Promise<ComplianceSettings> {
    const d = await Settings.findById(domain).lean<{ contactCap?: ComplianceSettings['contactCap'] }>();
    return { contactCap: d?.contactCap ?? null };
  },

  /** Stores the settings; a change of the cap is answered once no worker uses the old one. */
  async setSettings(domain: string, s: ComplianceSettings): Promise<void> {
    const before = await Settings.findOneAndUpdate({ _id: domain }, { $set: { contactCap: s.contactCap, lastModified: Date.now() } }, { upsert: true })
      .lean<{ contactCap?: ComplianceSettings['contactCap'] }>();
    if (!isDeepStrictEqual(before?.contactCap ?? null, s.contactCap)) await sleep(config.complianceCacheMs);
  },

  /** The worker's copy of the domain's compliance, read again once COMPLIANCE_CACHE_MS has passed
   *  since the read that made it was sent. */
  forCall(domain: string): Promise<DomainCompliance> {
    const now = performance.now();
    const hit = cached.get(domain);
    if (hit && hit.until > now) return hit.view;
    const entry = {
      until: now + config.complianceCacheMs,
      view: Settings.findById(domain).lean<{ contactCap?: ComplianceSettings['contactCap']; dncListed?: boolean }>()
        .then((d) => ({ contactCap: d?.contactCap ?? null, dncListed: !!d?.dncListed })),
    };
    if (cached.size >= 10_000) for (const [k, v] of cached) if (v.until <= now) cached.delete(k);
    cached.set(domain, entry);
    entry.view.catch(() => {
      if (cached.get(domain) === entry) cached.delete(domain);
    });
    return entry.view;
  },
};

interface ContactsDoc { _id: string; v: number; calls: { id: string; at: number }[] }

export const ContactCounts = {
  /**
   * Takes a place for call `id` to `number` at `now` under a cap of `attempts` per `windowSec`:
   * `{ok: true}` (the place is recorded; taking it again for the same id changes nothing), or
   * `{ok: false, notBefore}`, the time the oldest call in the window leaves it.
   */
  async take(domain: string, number: string, id: string, now: number, cap: { attempts: number; windowSec: number }): Promise<{ ok: true } | { ok: false; notBefore: number }> {
    const _id = dncId(domain, number);
    return exclusively(`contacts:${_id}`, async () => {
      for (;;) {
        const doc = await Contacts.findById(_id).lean<ContactsDoc>();
        const calls = (doc?.calls ?? []).filter((c) => c.at > now - cap.windowSec * 1000);
        if (calls.some((c) => c.id === id)) return { ok: true };
        // The rule is the pacing's (seconds): at most maxAttempts in any periodSec.
        const allowed = contactAllowed(calls.map((c) => c.at / 1000), null, now / 1000, { maxAttempts: cap.attempts, periodSec: cap.windowSec, abandonedHoldSec: 0 });
        if (!allowed.allowed) return { ok: false, notBefore: Math.ceil(allowed.nextAt! * 1000) };
        const next = { calls: [...calls, { id, at: now }], v: (doc?.v ?? 0) + 1 };
        try {
          const r = doc
            ? await Contacts.updateOne({ _id, v: doc.v }, { $set: next })
            : await Contacts.create({ _id, ...next }).then(() => ({ matchedCount: 1 }));
          if (r.matchedCount === 1) return { ok: true };
        } catch (err) {
          if (!isDuplicateKeyError(err)) throw err; // another worker created it first
        }
      }
    });
  },

  /** Gives back the place of a call that was not sent after all (capped number, line busy…). */
  async giveBack(domain: string, number: string, id: string): Promise<void> {
    const _id = dncId(domain, number);
    await exclusively(`contacts:${_id}`, async () => {
      const doc = await Contacts.findById(_id).lean<ContactsDoc>();
      if (!doc?.calls.some((c) => c.id === id)) return;
      await Contacts.updateOne({ _id, v: doc.v }, { $set: { calls: doc.calls.filter((c) => c.id !== id), v: doc.v + 1 } });
    });
  },
};
