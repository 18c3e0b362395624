import assert from 'node:assert/strict';
import { test } from 'node:test';
import { faultToleranceFor, majorityFaultToleranceFor } from '../../bft/index.ts';
import { assertArgumentError } from './helpers.ts';

test('faultToleranceFor: defaults to ⌊(n − 1)/3⌋, so that n ≥ 3f + 1', () => {
  const expected: [number, number][] = [
    [0, 0],
    [1, 0],
    [2, 0],
    [3, 0],
    [4, 1],
    [6, 1],
    [7, 2],
    [10, 3],
    [100, 33],
  ];
  for (const [n, f] of expected) {
    assert.equal(faultToleranceFor(n), f, `n = ${n}`);
    assert.equal(faultToleranceFor(n, null), f, `n = ${n}, null`);
    assert.ok(n <= 1 || n >= 3 * f + 1);
  }
});

test('faultToleranceFor: a configured value wins, even if n cannot support it', () => {
  assert.equal(faultToleranceFor(10, 0), 0);
  assert.equal(faultToleranceFor(4, 3), 3);
  assert.equal(faultToleranceFor(0, 2), 2);
});

test('faultToleranceFor: rejects non-integer or negative n and configured values', () => {
  assertArgumentError(() => faultToleranceFor(-1));
  assertArgumentError(() => faultToleranceFor(2.5));
  assertArgumentError(() => faultToleranceFor(NaN));
  assertArgumentError(() => faultToleranceFor(5, -1));
  assertArgumentError(() => faultToleranceFor(5, 1.5));
  assertArgumentError(() => faultToleranceFor(5, NaN));
});

test('majorityFaultToleranceFor: ⌊(n − 1)/2⌋, so that n ≥ 2f + 1 (NTP’s majority rule for references)', () => {
  const expected: [number, number][] = [
    [0, 0],
    [1, 0],
    [2, 0],
    [3, 1],
    [4, 1],
    [5, 2],
    [7, 3],
  ];
  for (const [n, f] of expected) {
    assert.equal(majorityFaultToleranceFor(n), f, `n = ${n}`);
    assert.ok(n <= 1 || (n >= 2 * f + 1 && n < 2 * f + 3));
  }
  assertArgumentError(() => majorityFaultToleranceFor(-1));
  assertArgumentError(() => majorityFaultToleranceFor(1.5));
});
