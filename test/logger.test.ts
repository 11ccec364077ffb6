// lib/logger.ts: the attempt's fields go on every line written in its context, and nothing else
// carries over from one line to the next.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, withAttemptContext } from '../lib/logger';

test("a line's own fields do not reappear on the next line of the same attempt", () => {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('t', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  withAttemptContext({ campaignId: 'c1', memberId: 'm1' }, () => {
    log.warn({ err: 'boom' }, 'first');
    log.info('second');
  });
  assert.equal(lines[0].err, 'boom');
  assert.equal(lines[1].campaignId, 'c1');
  assert.equal(lines[1].memberId, 'm1');
  assert.equal(lines[1].err, undefined, 'the first line\'s err is not on the second');
});
