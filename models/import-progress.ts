// A CSV import's progress (collection `dialer_imports`), so a client can poll rows stored while
// its upload runs. One document per import, `_id` = `<domain>:<importId>`, written only by the
// request doing the import (docs/architecture.md, "Who writes what"); read by domain and dialer.
import { isDuplicateKeyError } from '../lib/db';
import mongoose from 'mongoose';

export const IMPORT_ID = /^[A-Za-z0-9_-]{8,64}$/;
/** Rejected rows kept on the progress document while the import runs. */
export const PROGRESS_ERRORS = 100;

export interface ImportProgressDoc {
  _id: string;
  importId: string;
  domain: string;
  dialer: string;
  state: 'running' | 'done' | 'failed';
  rowsRead: number;
  rowsStored: number;
  rowsRejected: number;
  errors: { row: number; reason: string }[];
  report?: unknown;
  startedAt: number;
  finishedAt?: number;
}

const coll = () => mongoose.connection.collection<ImportProgressDoc>('dialer_imports');
const key = (domain: string, importId: string) => `${domain}:${importId}`;

export interface ImportCounts {
  rowsRead: number;
  rowsStored: number;
  rowsRejected: number;
  errors: { row: number; reason: string }[];
}

/** The writer of one import's progress: created when the import starts; false when the domain
 *  already used this id. */
export class ImportProgress {
  private constructor(private readonly id: string) {}

  static async start(o: { domain: string; importId: string; dialer: string; now: number }): Promise<ImportProgress | null> {
    const id = key(o.domain, o.importId);
    try {
      await coll().insertOne({
        _id: id, importId: o.importId, domain: o.domain, dialer: o.dialer, state: 'running',
        rowsRead: 0, rowsStored: 0, rowsRejected: 0, errors: [], startedAt: o.now,
      });
    } catch (err) {
      if (isDuplicateKeyError(err)) return null;
      throw err;
    }
    return new ImportProgress(id);
  }

  async update(c: ImportCounts): Promise<void> {
    await coll().updateOne({ _id: this.id }, { $set: { ...c, errors: c.errors.slice(0, PROGRESS_ERRORS) } });
  }

  async finish(state: 'done' | 'failed', c: ImportCounts, report: unknown, now: number): Promise<void> {
    await coll().updateOne({ _id: this.id }, { $set: { ...c, errors: c.errors.slice(0, PROGRESS_ERRORS), state, report, finishedAt: now } });
  }
}

/** An import of the domain's dialer, or null (another domain's, another dialer's, or none). */
export async function findImport(domain: string, dialer: string, importId: string): Promise<ImportProgressDoc | null> {
  const doc = await coll().findOne({ _id: key(domain, importId) });
  return doc && doc.dialer === dialer ? doc : null;
}
