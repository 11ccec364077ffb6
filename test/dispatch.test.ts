// The dispatch order (rules/dispatch.ts) and what must agree with it: the members collection's
// indexes (models/member.ts) and the ready queue's per-priority chunks. No server needed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { memberSchema } from '../models/member';
import {
  byPriorityDescending,
  CLAIM_SORTS,
  claimIndexKey,
  compareBySort,
  isNeverDialled,
  isReady,
  MEMBERS_STRATEGIES,
  neverDialledKey,
  READY_EQUALITY_PREFIX,
  readyFilter,
} from '../rules/dispatch';

describe('the members indexes serve the dispatch order', () => {
  const indexKeys = memberSchema.indexes().map(([key]) => Object.entries(key));

  for (const strategy of MEMBERS_STRATEGIES) {
    test(`${strategy}: an index whose key is the equality prefix, then the whole sort, in order`, () => {
      const wanted = [...Object.entries(READY_EQUALITY_PREFIX), ...Object.entries(CLAIM_SORTS[strategy])];
      assert.deepEqual(Object.entries(claimIndexKey(strategy)), wanted);
      assert.ok(indexKeys.some((k) => JSON.stringify(k) === JSON.stringify(wanted)), `no index ${JSON.stringify(wanted)} in ${JSON.stringify(indexKeys)}`);
    });
  }

  test('the equality prefix is what the ready filter matches exactly', () => {
    const filter = readyFilter('c1', 1000);
    for (const field of Object.keys(READY_EQUALITY_PREFIX)) {
      assert.ok(field in filter && (filter[field] === null || typeof filter[field] !== 'object'), `${field} is an equality condition`);
    }
  });
});

describe('the order', () => {
  const retry = (id: string, nextTry: number, priority = 0) => ({ _id: id, _nextTryTime: nextTry, priority, lastCall: nextTry - 60 });
  const sorted = (strategy: (typeof MEMBERS_STRATEGIES)[number], docs: Record<string, unknown>[]) =>
    [...docs].sort(compareBySort(CLAIM_SORTS[strategy])).map((d) => d._id);

  test('next-tries-circuit: retries, latest due first, before never-dialled members, then priority', () => {
    const docs = [neverDialledKey('f-low', 0), retry('r-early', 100), neverDialledKey('f-high', 9), retry('r-late', 200)];
    assert.deepEqual(sorted('next-tries-circuit', docs), ['r-late', 'r-early', 'f-high', 'f-low']);
  });

  test('strict-circuit: never-dialled members (lastCall 0) before retries, then priority', () => {
    const docs = [retry('r-early', 100, 9), neverDialledKey('f-low', 0), neverDialledKey('f-high', 9), retry('r-late', 200)];
    assert.deepEqual(sorted('strict-circuit', docs), ['f-high', 'f-low', 'r-early', 'r-late']);
  });

  test('the per-priority chunks are read in the order the sort gives never-dialled members', () => {
    const priorities = [3, -1, 7, 0];
    const chunks = priorities.map((priority) => ({ priority })).sort(byPriorityDescending).map((c) => c.priority);
    for (const strategy of MEMBERS_STRATEGIES) {
      const keys = sorted(strategy, priorities.map((p) => neverDialledKey(`p${p}`, p)));
      assert.deepEqual(keys, chunks.map((p) => `p${p}`), strategy);
    }
  });

  test('a member is never dialled only with no attempt and nothing to wait for', () => {
    assert.equal(isNeverDialled({ _id: 1 }), true);
    assert.equal(isNeverDialled({ _id: 1, _probeCount: 1 }), false);
    assert.equal(isNeverDialled({ _id: 1, _readyAt: 5 }), false);
    assert.equal(isNeverDialled({ _id: 1, _nextTryTime: 5 }), false);
  });

  test('isReady checks a document read by _id as the ready filter would', () => {
    const base = { dialer: 'c1', _endCause: null, _lock: null, _dispatch: null, _waitingForResultStatusCb: null, _readyAt: null };
    assert.equal(isReady(base, 'c1', 1000), true);
    assert.equal(isReady({ ...base, _readyAt: 1000 }, 'c1', 1000), true);
    assert.equal(isReady({ ...base, _readyAt: 1001 }, 'c1', 1000), false);
    assert.equal(isReady({ ...base, _dispatch: 'lease' }, 'c1', 1000), false);
    assert.equal(isReady(base, 'c2', 1000), false);
  });
});
