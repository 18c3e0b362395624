import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { trimmedMedian, trimmedWeightedMean } from '../../bft/index.ts';
import { weightedMeanOf } from '../../bft/trimmedMedian.ts';
import { assertArgumentError } from './helpers.ts';

test('trimmedMedian: drops f from each end, odd and even counts', () => {
  assert.equal(trimmedMedian([5, 1, 100, 3, -50], 1), 3); // keeps 1, 3, 5
  assert.equal(trimmedMedian([5, 1, 100, 3, -50, 4], 1), 3.5); // keeps 1, 3, 4, 5
  assert.equal(trimmedMedian([7], 0), 7);
  assert.equal(trimmedMedian([2, 4], 0), 3);
  assert.equal(trimmedMedian([1e9, -1e9, 0, 1, 2, 3, 4], 2), 2); // keeps 1, 2, 3
});

test('trimmedMedian: null below 2f + 1 values', () => {
  assert.equal(trimmedMedian([], 0), null);
  assert.equal(trimmedMedian([1, 2], 1), null);
  assert.equal(trimmedMedian([1, 2, 3, 4], 2), null);
  assert.equal(trimmedMedian([1, 2, 3, 4, 5], 2), 3);
});

test('trimmedMedian: the mean of two middles cannot overflow', () => {
  assert.equal(trimmedMedian([Number.MAX_VALUE, Number.MAX_VALUE], 0), Number.MAX_VALUE);
  assert.equal(trimmedMedian([-Number.MAX_VALUE, Number.MAX_VALUE], 0), 0);
});

test('trimmedMedian / trimmedWeightedMean: reject bad arguments', () => {
  assertArgumentError(() => trimmedMedian([1, 2, 3], -1));
  assertArgumentError(() => trimmedMedian([1, 2, 3], 0.5));
  assertArgumentError(() => trimmedMedian([1, NaN, 3], 0));
  assertArgumentError(() => trimmedMedian([1, Infinity, 3], 1));
  assertArgumentError(() => trimmedWeightedMean([{ value: 1, weight: -1 }], 0));
  assertArgumentError(() => trimmedWeightedMean([{ value: 1, weight: NaN }], 0));
  assertArgumentError(() => trimmedWeightedMean([{ value: NaN, weight: 1 }], 0));
  assertArgumentError(() => trimmedWeightedMean([{ value: 1, weight: 1 }], NaN));
});

test('trimmedWeightedMean: trims by value, then weights the rest', () => {
  const entries = [
    { value: -1000, weight: 1e9 }, // dropped (lowest) however heavy
    { value: 10, weight: 3 },
    { value: 20, weight: 1 },
    { value: 1000, weight: 1e9 }, // dropped (highest)
  ];
  assert.equal(trimmedWeightedMean(entries, 1), (10 * 3 + 20 * 1) / 4);
  assert.equal(trimmedWeightedMean(entries.slice(0, 2), 1), null);
  assert.equal(trimmedWeightedMean([], 0), null);
});

test('trimmedWeightedMean: all-zero weights fall back to the plain mean', () => {
  assert.equal(
    trimmedWeightedMean(
      [
        { value: 1, weight: 0 },
        { value: 3, weight: 0 },
      ],
      0,
    ),
    2,
  );
});

test('trimmedWeightedMean: ties at the trimming boundary are broken by position', () => {
  // Two entries with value 5: the first (weight 1) is dropped as "lowest", the second (weight 3) stays.
  const entries = [
    { value: 5, weight: 1 },
    { value: 5, weight: 3 },
    { value: 9, weight: 1 },
    { value: 100, weight: 1 },
  ];
  assert.equal(trimmedWeightedMean(entries, 1), (5 * 3 + 9 * 1) / 4);
});

test('weightedMeanOf: rounding never leaves [min, max] of the values', () => {
  // Unclamped, these sums come out as 0.30000000000000004 and 6.999999999999999.
  assert.equal(weightedMeanOf([0.3, 0.3, 0.3], [1, 1, 3], [0, 1, 2]), 0.3);
  assert.equal(weightedMeanOf([7, 7, 7], [1, 1, 1], [0, 1, 2]), 7);
  assert.equal(
    trimmedWeightedMean(
      [0.1, 0.1, 0.1].map((value, i) => ({ value, weight: [1, 1, 3][i]! })),
      0,
    ),
    0.1,
  );
});

test('weightedMeanOf: huge and tiny weights neither overflow nor underflow', () => {
  assert.equal(weightedMeanOf([10, 20], [1e308, 1e308], [0, 1]), 15);
  assert.equal(weightedMeanOf([10, 20], [5e-324, 5e-324], [0, 1]), 15);
  assert.equal(weightedMeanOf([10, 20, 999], [1, 0, 1e300], [0, 1]), 10);
  assertArgumentError(() => weightedMeanOf([1], [1], []));
});

/** n = honest + faulty values in a shuffled order, with at most f faulty and n ≥ 2f + 1. */
const adversarialArb = fc
  .integer({ min: 0, max: 5 })
  .chain((f) =>
    fc.record({
      f: fc.constant(f),
      honest: fc.array(fc.integer({ min: -1e9, max: 1e9 }), { minLength: f + 1, maxLength: 2 * f + 6 }),
      faulty: fc.array(
        fc.oneof(
          fc.double({ min: -Number.MAX_VALUE, max: Number.MAX_VALUE, noNaN: true, noDefaultInfinity: true }),
          fc.constantFrom(-1e300, 1e300, -1e12, 1e12, 0),
        ),
        { maxLength: f },
      ),
      honestWeights: fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), {
        minLength: 2 * f + 6,
        maxLength: 2 * f + 6,
      }),
      faultyWeight: fc.constantFrom(0, 1, 1e300, Number.MAX_VALUE),
      seed: fc.array(fc.nat(), { minLength: 3 * f + 6, maxLength: 3 * f + 6 }),
    }),
  )
  .filter(({ f, honest, faulty }) => honest.length + faulty.length >= 2 * f + 1);

function shuffled<T>(items: T[], keys: number[]): T[] {
  return items
    .map((item, i) => ({ item, key: keys[i] ?? i }))
    .sort((a, b) => a.key - b.key)
    .map(({ item }) => item);
}

test('trimmedMedian: with at most f adversarial values the result stays in the honest range', () => {
  fc.assert(
    fc.property(adversarialArb, ({ f, honest, faulty, seed }) => {
      const values = shuffled([...honest, ...faulty], seed);
      const result = trimmedMedian(values, f);
      assert.notEqual(result, null);
      assert.ok(Math.min(...honest) <= result! && result! <= Math.max(...honest), `${result}`);
    }),
    { numRuns: 2000 },
  );
});

test('trimmedWeightedMean: at most f adversarial values (any weight) stay in the honest range', () => {
  fc.assert(
    fc.property(adversarialArb, ({ f, honest, faulty, honestWeights, faultyWeight, seed }) => {
      const entries = shuffled(
        [
          ...honest.map((value, i) => ({ value, weight: honestWeights[i] ?? 1 })),
          ...faulty.map((value) => ({ value, weight: faultyWeight })),
        ],
        seed,
      );
      const result = trimmedWeightedMean(entries, f);
      assert.notEqual(result, null);
      assert.ok(Math.min(...honest) <= result! && result! <= Math.max(...honest), `${result}`);
    }),
    { numRuns: 2000 },
  );
});
