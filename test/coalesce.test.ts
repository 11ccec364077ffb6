// lib/coalesce.ts: campaign wake-ups are throttled per campaign, first at once, the last never lost.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { coalescer } from '../lib/coalesce';

test('first call runs at once; calls within the window collapse into one run at its end; keys are independent', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  try {
    const runs: [string, number][] = [];
    const wake = coalescer(5_000, (k) => runs.push([k, Date.now()]));
    wake('a');
    assert.deepEqual(runs, [['a', 1_000_000]]);
    mock.timers.tick(1_000);
    wake('a');
    wake('a');
    wake('b');
    assert.deepEqual(runs, [['a', 1_000_000], ['b', 1_001_000]], 'a is held, b runs');
    mock.timers.tick(3_999);
    assert.equal(runs.length, 2);
    mock.timers.tick(1);
    assert.deepEqual(runs.at(-1), ['a', 1_005_000], 'the held calls run once at the end of the window');
    assert.equal(runs.length, 3);
    mock.timers.tick(10_000);
    assert.equal(runs.length, 3, 'nothing more without calls');
    wake('a');
    assert.deepEqual(runs.at(-1), ['a', 1_015_000], 'after a quiet window a call runs at once again');
  } finally {
    mock.timers.reset();
  }
});
