import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { marzullo, type OffsetInterval } from '../../bft/index.ts';
import { assertArgumentError } from './helpers.ts';

const iv = (lowNs: number, highNs: number): OffsetInterval => ({ lowNs, highNs });

function coverage(intervals: readonly OffsetInterval[], xNs: number): number {
  return intervals.filter((i) => i.lowNs <= xNs && xNs <= i.highNs).length;
}

/**
 * Brute-force reference. The covered set's extremes are endpoints, and an interval touches the
 * covered set iff its own low end or some endpoint inside it is covered.
 */
function reference(intervals: readonly OffsetInterval[], m: number) {
  const endpoints = intervals.flatMap((i) => [i.lowNs, i.highNs]);
  const covered = endpoints.filter((x) => coverage(intervals, x) >= m);
  const maxOverlap = Math.max(0, ...endpoints.map((x) => coverage(intervals, x)));
  if (covered.length === 0) return { ok: false as const, maxOverlap };
  const truechimers: number[] = [];
  const falsetickers: number[] = [];
  intervals.forEach((i, index) => {
    const candidates = [i.lowNs, ...endpoints.filter((x) => i.lowNs <= x && x <= i.highNs)];
    (candidates.some((x) => coverage(intervals, x) >= m) ? truechimers : falsetickers).push(index);
  });
  return {
    ok: true as const,
    lowNs: Math.min(...covered),
    highNs: Math.max(...covered),
    truechimers,
    falsetickers,
  };
}

test('marzullo: classic three sources, one falseticker', () => {
  const result = marzullo([iv(8, 12), iv(11, 13), iv(14, 15)], 2);
  assert.deepEqual(result, { ok: true, lowNs: 11, highNs: 12, truechimers: [0, 1], falsetickers: [2] });
});

test('marzullo: all agree gives the intersection', () => {
  assert.deepEqual(marzullo([iv(0, 10), iv(2, 8), iv(-5, 6)], 3), {
    ok: true,
    lowNs: 2,
    highNs: 6,
    truechimers: [0, 1, 2],
    falsetickers: [],
  });
});

test('marzullo: closed intervals meet at a shared endpoint (starts before ends)', () => {
  assert.deepEqual(marzullo([iv(0, 1), iv(1, 2)], 2), {
    ok: true,
    lowNs: 1,
    highNs: 1,
    truechimers: [0, 1],
    falsetickers: [],
  });
  // A degenerate interval sitting on an endpoint counts as well.
  assert.deepEqual(marzullo([iv(0, 5), iv(5, 5), iv(7, 9)], 2), {
    ok: true,
    lowNs: 5,
    highNs: 5,
    truechimers: [0, 1],
    falsetickers: [2],
  });
});

test('marzullo: no quorum reports the best overlap', () => {
  assert.deepEqual(marzullo([iv(0, 1), iv(2, 3), iv(2.5, 4)], 3), { ok: false, maxOverlap: 2 });
  assert.deepEqual(marzullo([], 1), { ok: false, maxOverlap: 0 });
  assert.deepEqual(marzullo([iv(0, 1)], 2), { ok: false, maxOverlap: 1 });
});

test('marzullo: disjoint covered segments, an interval in the gap is a falseticker', () => {
  // Covered set (m = 2) is [0, 1] ∪ [10, 11]; [4, 6] intersects the hull [0, 11] but not the set.
  const result = marzullo([iv(0, 2), iv(-1, 1), iv(4, 6), iv(9, 11), iv(10, 12)], 2);
  assert.deepEqual(result, { ok: true, lowNs: 0, highNs: 11, truechimers: [0, 1, 3, 4], falsetickers: [2] });
});

test('marzullo: an interval reaching a segment only at its endpoint is a truechimer', () => {
  // Covered set (m = 2) is [2, 3]; [3, 7] touches it exactly at 3, [3.5, 7] misses it.
  assert.deepEqual(marzullo([iv(0, 3), iv(2, 5), iv(3, 7)], 2), {
    ok: true,
    lowNs: 2,
    highNs: 5,
    truechimers: [0, 1, 2],
    falsetickers: [],
  });
  assert.deepEqual(marzullo([iv(0, 3), iv(2, 3), iv(3.5, 7)], 2), {
    ok: true,
    lowNs: 2,
    highNs: 3,
    truechimers: [0, 1],
    falsetickers: [2],
  });
});

test('marzullo: result does not depend on input order, indices are ascending', () => {
  const result = marzullo([iv(14, 15), iv(11, 13), iv(8, 12)], 2);
  assert.deepEqual(result, { ok: true, lowNs: 11, highNs: 12, truechimers: [1, 2], falsetickers: [0] });
});

test('marzullo: rejects bad arguments', () => {
  assertArgumentError(() => marzullo([iv(0, 1)], 0));
  assertArgumentError(() => marzullo([iv(0, 1)], 1.5));
  assertArgumentError(() => marzullo([iv(0, 1)], NaN));
  assertArgumentError(() => marzullo([iv(2, 1)], 1));
  assertArgumentError(() => marzullo([iv(NaN, 1)], 1));
  assertArgumentError(() => marzullo([iv(0, NaN)], 1));
  assertArgumentError(() => marzullo([iv(-Infinity, 1)], 1));
});

// Small integer coordinates force many shared endpoints, where closedness matters most.
const intervalArb = (coord: fc.Arbitrary<number>) =>
  fc.tuple(coord, coord).map(([a, b]) => iv(Math.min(a, b), Math.max(a, b)));
const smallCoord = fc.integer({ min: -20, max: 20 });
const wideCoord = fc.double({ min: -1e12, max: 1e12, noNaN: true, noDefaultInfinity: true });

test('marzullo: agrees with a brute-force reference', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.array(intervalArb(smallCoord), { maxLength: 12 }),
        fc.array(intervalArb(wideCoord), { maxLength: 12 }),
      ),
      fc.integer({ min: 1, max: 13 }),
      (intervals, m) => {
        assert.deepEqual(marzullo(intervals, m), reference(intervals, m));
      },
    ),
    { numRuns: 2000 },
  );
});

test('marzullo: if at least m intervals contain t, the result contains t (and they are truechimers)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -1000, max: 1000 }),
      fc.array(fc.tuple(fc.nat(500), fc.nat(500)), { minLength: 1, maxLength: 10 }),
      fc.array(intervalArb(fc.integer({ min: -3000, max: 3000 })), { maxLength: 10 }),
      fc.integer({ min: 1, max: 10 }),
      (truthNs, honestWidths, others, mRaw) => {
        const honest = honestWidths.map(([below, above]) => iv(truthNs - below, truthNs + above));
        const intervals = [...honest, ...others];
        const m = Math.min(mRaw, honest.length);
        const result = marzullo(intervals, m);
        assert.ok(result.ok);
        assert.ok(result.lowNs <= truthNs && truthNs <= result.highNs);
        for (let i = 0; i < honest.length; i++) assert.ok(result.truechimers.includes(i));
      },
    ),
    { numRuns: 1000 },
  );
});

test('marzullo: result within the hull; truechimers hit and falsetickers miss the covered set', () => {
  fc.assert(
    fc.property(
      fc.array(intervalArb(fc.integer({ min: -50, max: 50 })), { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 1, max: 6 }),
      (intervals, m) => {
        const result = marzullo(intervals, m);
        if (!result.ok) {
          assert.ok(result.maxOverlap < m);
          return;
        }
        const hullLowNs = Math.min(...intervals.map((i) => i.lowNs));
        const hullHighNs = Math.max(...intervals.map((i) => i.highNs));
        assert.ok(hullLowNs <= result.lowNs && result.lowNs <= result.highNs && result.highNs <= hullHighNs);
        assert.ok(coverage(intervals, result.lowNs) >= m && coverage(intervals, result.highNs) >= m);
        assert.deepEqual(
          [...result.truechimers, ...result.falsetickers].sort((a, b) => a - b),
          intervals.map((_, i) => i),
        );
        // Integer endpoints: the covered set's segments have integer ends, so checking every
        // half-integer point of an interval is exhaustive.
        const coveredPointIn = (i: OffsetInterval) => {
          for (let x = i.lowNs; x <= i.highNs; x += 0.5) if (coverage(intervals, x) >= m) return true;
          return false;
        };
        for (const t of result.truechimers) assert.ok(coveredPointIn(intervals[t] as OffsetInterval));
        for (const f of result.falsetickers) assert.ok(!coveredPointIn(intervals[f] as OffsetInterval));
        // Nothing outside [lowNs, highNs] is covered.
        assert.ok(
          coverage(intervals, result.lowNs - 0.5) < m && coverage(intervals, result.highNs + 0.5) < m,
        );
      },
    ),
    { numRuns: 1000 },
  );
});

test('marzullo: a large staircase of intervals', () => {
  // Intervals [i, i + n] all share exactly [n − 1, n]; a shifted copy of half of them misses it.
  const n = 20_000;
  const intervals = Array.from({ length: n }, (_, i) => iv(i, i + n));
  for (let i = 0; i < n / 2; i++) intervals.push(iv(3 * n + i, 3 * n + i + 1));
  const result = marzullo(intervals, n);
  assert.ok(result.ok);
  assert.equal(result.lowNs, n - 1);
  assert.equal(result.highNs, n);
  assert.equal(result.truechimers.length, n);
  assert.equal(result.falsetickers.length, n / 2);
  assert.equal(result.falsetickers[0], n);
});
