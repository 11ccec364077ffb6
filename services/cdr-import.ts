// CDRs that mod_json_cdr could not post (every try failed) are written to its err-log-dir, one file
// per channel named `<uuid>.cdr.json` (`a_<uuid>.cdr.json` with prefix-a-leg=true; in dated
// subdirectories with rotate=true), holding the JSON as it would have been posted (url-encoded or
// base64 with encode=true/base64). Nothing in FreeSWITCH reads them again; this does: each file goes
// through the endpoint's own path — applyCdr in the worker at start (directory on the worker's
// machine), or a POST to the worker's endpoint from scripts/import-cdrs.ts (anywhere) — where the
// first source wins, so importing twice or after the event changes nothing; then it is renamed so
// it is not read twice:
//   <name>.imported   settled by this CDR, or the attempt already had a result
//   <name>.unknown    a dialer CDR whose attempt is not stored here (reported)
//   <name>.ignored    not a dialer call (no dlr_workflow_id)
// A file that cannot be parsed (being written, damaged) or whose result cannot be stored (Mongo
// down) stays where it is and is reported; the next run tries it again.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { applyCdr, parseCdrBody, type CdrOutcome } from './cdr';

/** Applies one file's text (its uuid from the file name); throws when it was not applied. */
export type ApplyCdrText = (text: string, uuid: string) => Promise<CdrOutcome>;

/** In the worker process: the endpoint's own settle path. */
export function applyInProcess(client: Client, log: Logger): ApplyCdrText {
  return (text, uuid) => applyCdr(client, log, parseCdrBody(text), uuid);
}

/** From anywhere: POSTs a file's text to the worker's endpoint as mod_json_cdr would have. */
export function applyByPost(url: string, cred: string): ApplyCdrText {
  return async (text, uuid) => {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'dialer-import-cdrs' };
    if (cred) headers.authorization = `Basic ${Buffer.from(cred).toString('base64')}`;
    const res = await fetch(`${url}?uuid=${encodeURIComponent(uuid)}`, { method: 'POST', headers, body: text, signal: AbortSignal.timeout(30_000) });
    const body = (await res.json().catch(() => ({}))) as { outcome?: CdrOutcome; error?: string };
    if (res.status !== 200 || !body.outcome) throw new Error(`HTTP ${res.status}: ${body.error ?? 'no outcome'}`);
    return body.outcome;
  };
}

export interface CdrImportReport {
  dir: string;
  settled: string[];
  duplicate: string[];
  unknown: string[];
  ignored: string[];
  /** Left in place: not parseable or not stored ({ file, error }). */
  failed: { file: string; error: string }[];
}

const CDR_FILE = /^(?:a_)?([0-9a-fA-F-]{8,})\.cdr\.json$/;
const RENAME: Record<CdrOutcome, string> = { settled: 'imported', duplicate: 'imported', unknown: 'unknown', ignored: 'ignored' };

async function cdrFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && CDR_FILE.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

export async function importCdrDir(dir: string, apply: ApplyCdrText, log: Logger): Promise<CdrImportReport> {
  const report: CdrImportReport = { dir, settled: [], duplicate: [], unknown: [], ignored: [], failed: [] };
  for (const file of await cdrFiles(dir)) {
    const uuid = CDR_FILE.exec(path.basename(file))![1];
    let outcome: CdrOutcome;
    try {
      outcome = await apply(await fs.readFile(file, 'utf8'), uuid);
    } catch (err) {
      report.failed.push({ file, error: err instanceof Error ? err.message : String(err) });
      continue;
    }
    await fs.rename(file, `${file}.${RENAME[outcome]}`);
    report[outcome].push(file);
  }
  const counts = { settled: report.settled.length, duplicate: report.duplicate.length, unknown: report.unknown.length, ignored: report.ignored.length, failed: report.failed.length };
  if (report.unknown.length || report.failed.length) log.warn({ dir, ...counts, unknown: report.unknown, failed: report.failed }, 'CDR error directory imported with files not applied');
  else log.info({ dir, ...counts }, 'CDR error directory imported');
  return report;
}
