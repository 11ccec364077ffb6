// A streaming CSV record reader (RFC 4180 with the usual relaxations) that recovers from bad
// records line by line. csv-parse was the first choice, but with skip_records_with_error an
// unterminated or misplaced quote makes it swallow every following row (one bad row would silently
// drop the rest of the file), so the import reads records itself:
//  - a record is one line unless a quoted field spans lines (at most MAX_RECORD_LINES lines /
//    MAX_RECORD_CHARS characters); a quote never closed within that bound rejects only the line it
//    started on, and reading restarts at the next line;
//  - quotes inside an unquoted field are literal; text after a closing quote is an error for that
//    record only;
//  - a UTF-8 BOM is dropped; \r\n and \n both end lines.
// Input is decoded with TextDecoder (any WHATWG charset label, e.g. utf-8, windows-1251, latin1).

export const MAX_RECORD_LINES = 100;
export const MAX_RECORD_CHARS = 64 * 1024;

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

/** Decoded lines of a byte stream, numbered from 1. */
async function* lines(source: AsyncIterable<Buffer | string>, charset: string): AsyncGenerator<[number, string]> {
  const decoder = new TextDecoder(charset, { fatal: false, ignoreBOM: false });
  let rest = '';
  let n = 0;
  for await (const chunk of source) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      yield [++n, text.slice(start, end)];
      start = nl + 1;
    }
    rest = text.slice(start);
    if (rest.length > MAX_RECORD_CHARS * 4) {
      // A single line this long is not a CSV row: report and drop it.
      yield [++n, '\u0000TOO_LONG'];
      rest = '';
      // Skip to the end of this line.
      for await (const more of source) {
        const t = typeof more === 'string' ? more : decoder.decode(more, { stream: true });
        const nl = t.indexOf('\n');
        if (nl >= 0) {
          rest = t.slice(nl + 1);
          break;
        }
      }
    }
  }
  const last = rest + decoder.decode();
  if (last.length) yield [++n, last.endsWith('\r') ? last.slice(0, -1) : last];
}

/** Records (or per-record errors) of a CSV byte stream. Empty lines are skipped. */
export async function* readCsv(source: AsyncIterable<Buffer | string>, o: { delimiter: string; charset: string }): AsyncGenerator<CsvItem> {
  const pending: [number, string][] = [];
  const queue: [number, string][] = [];
  const input = lines(source, o.charset);

  function* settle(final: boolean): Generator<CsvItem> {
    // Try to complete the pending record; on failure reject its first line and re-read the rest.
    while (pending.length) {
      const text = pending.map(([, l]) => l).join('\n');
      const r = parseRecord(text, o.delimiter);
      if ('fields' in r) {
        yield { line: pending[0][0], fields: r.fields };
        pending.length = 0;
        return;
      }
      if ('error' in r) {
        if (pending.length > 1) {
          // A quote opened on the first line closed lines later in a broken way: most likely the
          // first line's quote was never meant to close. Reject that line, re-read the others.
          yield { line: pending[0][0], error: 'quoted field not closed' };
          const again = pending.slice(1);
          pending.length = 0;
          queue.unshift(...again);
          return;
        }
        yield { line: pending[0][0], error: r.error };
        pending.length = 0;
        return;
      }
      const tooBig = pending.length >= MAX_RECORD_LINES || text.length > MAX_RECORD_CHARS;
      if (!final && !tooBig) return; // wait for more lines
      yield { line: pending[0][0], error: 'quoted field not closed' };
      const again = pending.slice(1);
      pending.length = 0;
      queue.unshift(...again);
      return;
    }
  }

  let first = true;
  for (;;) {
    let item: [number, string] | undefined = queue.shift();
    if (!item) {
      const next = await input.next();
      if (next.done) break;
      item = next.value;
    }
    let [ln, text] = item;
    if (first) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    if (text === '\u0000TOO_LONG') {
      yield { line: ln, error: `line longer than ${MAX_RECORD_CHARS * 4} characters` };
      continue;
    }
    if (!pending.length && text.trim() === '') continue;
    pending.push([ln, text]);
    yield* settle(false);
    // Lines re-queued after a rejected record are handled before new input.
    while (!pending.length && queue.length) {
      const [l2, t2] = queue.shift()!;
      if (t2.trim() === '') continue;
      pending.push([l2, t2]);
      yield* settle(false);
    }
  }
  while (pending.length || queue.length) {
    yield* settle(true);
    while (!pending.length && queue.length) {
      const [l2, t2] = queue.shift()!;
      if (t2.trim() === '') continue;
      pending.push([l2, t2]);
      yield* settle(queue.length === 0);
    }
  }
}
