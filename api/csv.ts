// A streaming CSV record reader (RFC 4180 with the usual relaxations) that recovers from bad
// records line by line. csv-parse was the first choice, but with skip_records_with_error an
// unterminated or misplaced quote makes it swallow every following row (one bad row would silently
// drop the rest of the file), so the import reads records itself:
//  - a record is one line unless a quoted field spans lines (at most MAX_RECORD_LINES lines /
//    MAX_RECORD_CHARS characters); a quote never closed within that bound rejects only the line it
//    started on, and reading restarts at the next line;
//  - quotes inside an unquoted field are literal; text after a closing quote is an error for that
//    record only;
//  - a UTF-8 BOM is dropped; \r\n and \n both end lines;
//  - without a given separator, it is detected from the first non-empty line (detectSeparator).
// Input is decoded with TextDecoder (any WHATWG charset label, e.g. utf-8, windows-1251, latin1).
// Records are read synchronously from the decoded text of the chunks received so far (CsvReader),
// one at a time as the consumer asks: no async step and no object per line, and no more than one
// record's objects alive at a time.

import { TextDecoder } from 'node:util';

export const MAX_RECORD_LINES = 100;
export const MAX_RECORD_CHARS = 64 * 1024;

/** The separators detectSeparator chooses from, in the order that wins a tie. */
export const DETECTED_SEPARATORS = [',', ';', '\t'] as const;

/** The separator of a file from its first line: whichever of `,` `;` TAB occurs most often outside
 *  quotes (`,` when none does or on a tie). v3 G1 files use `;`, later ones `,`. */
export function detectSeparator(line: string): string {
  const counts = new Map<string, number>(DETECTED_SEPARATORS.map((s) => [s, 0]));
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  let best: string = DETECTED_SEPARATORS[0];
  for (const [s, n] of counts) if (n > counts.get(best)!) best = s;
  return best;
}

/** A cell a spreadsheet would run as a formula (OWASP "CSV injection"): `=` `+` `-` `@` TAB CR first. */
const FORMULA_START = /^[=+\-@\t\r]/;

/** Import side: drops the `'` escapeCell added (a `'` before a formula character or another `'`);
 *  any other leading `'` is part of the value. */
export function unescapeCell(v: string): string {
  return v[0] === "'" && (FORMULA_START.test(v.slice(1)) || v[1] === "'") ? v.slice(1) : v;
}

/**
 * Export side: a cell starting like a formula gets a `'` in front (spreadsheets then show it as
 * text); so does a value unescapeCell would change, so every value comes back exactly
 * (`+380501112233` → `'+380501112233` → `+380501112233`; `''x` → `'''x` → `''x`).
 */
export function escapeCell(v: string): string {
  return FORMULA_START.test(v) || unescapeCell(v) !== v ? `'${v}` : v;
}

/** One CSV field: formula-escaped, quoted when it holds the separator, a quote or a line break. */
export function csvField(v: string, separator: string): string {
  const e = escapeCell(v);
  return e.includes(separator) || /["\r\n]/.test(e) ? `"${e.replace(/"/g, '""')}"` : e;
}

export type CsvItem =
  | { line: number; fields: string[] }
  | { line: number; error: string };

type Parsed = { fields: string[] } | { incomplete: true } | { error: string };

/** Splits one logical record into fields. */
export function parseRecord(text: string, delimiter: string): Parsed {
  if (!text.includes('"')) return { fields: text.split(delimiter) };
  const fields: string[] = [];
  const n = text.length;
  const dl = delimiter.length;
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      // Quoted field.
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) return { incomplete: true };
        value += text.slice(j, q);
        if (text[q + 1] === '"') {
          value += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i >= n) return { fields };
      if (text.startsWith(delimiter, i)) {
        i += dl;
        if (i >= n) {
          fields.push('');
          return { fields };
        }
        continue;
      }
      return { error: `invalid closing quote in field ${fields.length}` };
    }
    // Unquoted field (quotes inside are literal).
    const d = text.indexOf(delimiter, i);
    if (d < 0) {
      fields.push(text.slice(i));
      return { fields };
    }
    fields.push(text.slice(i, d));
    i = d + dl;
    if (i >= n) {
      fields.push('');
      return { fields };
    }
  }
}

const TOO_LONG = MAX_RECORD_CHARS * 4;

/** A line without its \r. */
function chomp(s: string): string {
  return s.charCodeAt(s.length - 1) === 13 ? s.slice(0, -1) : s;
}

/** Pull-based record reader: push() decoded chunks, read() records until it returns undefined, end() at EOF. */
export class CsvReader {
  private readonly decoder: TextDecoder;
  private text = ''; // unread text, from pos
  private pos = 0;
  private line = 1; // number of the line starting at pos
  private started = false;
  private skipping = false; // dropping the rest of a too-long line
  private ended = false;
  private sep: string | null;

  /** `delimiter` null: detected from the first non-empty line. */
  constructor(delimiter: string | null, charset: string) {
    this.sep = delimiter;
    this.decoder = new TextDecoder(charset, { fatal: false, ignoreBOM: false });
  }

  /** The separator in use (null until the first line has arrived when it is detected). */
  get delimiter(): string | null {
    return this.sep;
  }

  push(chunk: Buffer | string): void {
    this.add(typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true }));
  }

  end(): void {
    this.add(this.decoder.decode());
    this.ended = true;
  }

  private add(t: string): void {
    if (!this.started && t.length) {
      this.started = true;
      if (t.charCodeAt(0) === 0xfeff) t = t.slice(1);
    }
    if (this.skipping) {
      const nl = t.indexOf('\n');
      if (nl < 0) return;
      t = t.slice(nl + 1);
      this.skipping = false;
    }
    this.text = this.pos < this.text.length ? this.text.slice(this.pos) + t : t;
    this.pos = 0;
  }

  /** Rejects the line at pos and moves past it. */
  private rejectLine(error: string): CsvItem {
    const item = { line: this.line, error };
    const nl = this.text.indexOf('\n', this.pos);
    this.pos = nl < 0 ? this.text.length : nl + 1;
    this.line += 1;
    return item;
  }

  /** The next record or record error; undefined when more input is needed (or, after end(), at EOF). */
  read(): CsvItem | undefined {
    if (this.sep === null && !this.detect()) return undefined;
    const text = this.text;
    const delimiter = this.sep!;
    for (;;) {
      const start = this.pos;
      if (start >= text.length) return undefined;
      let e = text.indexOf('\n', start); // end of the record's last line so far
      if (e < 0) {
        if (!this.ended) {
          if (text.length - start <= TOO_LONG) return undefined;
          // A single line this long is not a CSV row: report it and drop it up to its end.
          const item = { line: this.line, error: `line longer than ${TOO_LONG} characters` };
          this.text = '';
          this.pos = 0;
          this.line += 1;
          this.skipping = true;
          return item;
        }
        e = text.length;
      }
      let rec = chomp(text.slice(start, e));
      if (rec.trim() === '') {
        this.pos = e + 1;
        this.line += 1;
        continue;
      }
      if (!rec.includes('"')) {
        this.pos = e + 1;
        this.line += 1;
        return { line: this.line - 1, fields: rec.split(delimiter) };
      }
      // A quoted field may span lines: add lines until the record parses or fails.
      let count = 1;
      for (;;) {
        const r = parseRecord(rec, delimiter);
        if ('fields' in r) {
          this.pos = e + 1;
          this.line += count;
          return { line: this.line - count, fields: r.fields };
        }
        // A quote opened on the first line closed lines later in a broken way: most likely the first
        // line's quote was never meant to close. Reject that line; the next ones are read again.
        if ('error' in r) return this.rejectLine(count > 1 ? 'quoted field not closed' : r.error);
        if (count >= MAX_RECORD_LINES || rec.length > MAX_RECORD_CHARS) return this.rejectLine('quoted field not closed');
        if (e + 1 >= text.length) {
          if (this.ended) return this.rejectLine('quoted field not closed');
          return undefined; // wait for the next line
        }
        let ne = text.indexOf('\n', e + 1);
        if (ne < 0) {
          if (!this.ended) {
            // The record waits for a line still being received; if that line is too long, so is the record.
            return text.length - (e + 1) > TOO_LONG ? this.rejectLine('quoted field not closed') : undefined;
          }
          ne = text.length;
        }
        rec += `\n${chomp(text.slice(e + 1, ne))}`;
        count += 1;
        e = ne;
      }
    }
  }

  /** Sets the separator from the first non-empty line once it is complete (or long enough); false while waiting. */
  private detect(): boolean {
    for (let p = this.pos; ; ) {
      const nl = this.text.indexOf('\n', p);
      if (nl < 0 && !this.ended && this.text.length - p <= TOO_LONG) return false;
      const line = this.text.slice(p, nl < 0 ? undefined : nl);
      if (line.trim() !== '' || nl < 0) {
        this.sep = detectSeparator(line);
        return true;
      }
      p = nl + 1;
    }
  }

  *[Symbol.iterator](): Generator<CsvItem> {
    for (let item = this.read(); item; item = this.read()) yield item;
  }
}

/**
 * Records (or per-record errors) of a CSV byte stream, numbered by their first line; empty lines are
 * skipped; no delimiter: detected (reader.delimiter tells which). One step per received chunk: each yields the reader, to iterate synchronously (the
 * records of the text received so far).
 */
export async function* readCsv(source: AsyncIterable<Buffer | string>, o: { delimiter?: string; charset: string }): AsyncGenerator<CsvReader> {
  const reader = new CsvReader(o.delimiter ?? null, o.charset);
  for await (const chunk of source) {
    reader.push(chunk);
    yield reader;
  }
  reader.end();
  yield reader;
}
