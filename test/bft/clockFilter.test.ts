import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ClockFilter, type Projection, type SourceSample } from '../../bft/index.ts';
import { assertArgumentError } from './helpers.ts';

const STILL: Projection = { frequency: 0, growthRate: 0 };

function sample(localNs: bigint, offsetNs: number, delayNs: number, errNs = 0): SourceSample {
  return { localNs, offsetNs, delayNs, sourceErrorLowNs: errNs, sourceErrorHighNs: errNs };
}

test('ClockFilter: validates capacity', () => {
  assert.equal(new ClockFilter().capacity, 8);
  assert.equal(new ClockFilter(1).capacity, 1);
  assert.equal(new ClockFilter(64).capacity, 64);
  assertArgumentError(() => new ClockFilter(0));
  assertArgumentError(() => new ClockFilter(65));
  assertArgumentError(() => new ClockFilter(2.5));
  assertArgumentError(() => new ClockFilter(NaN));
});

test('ClockFilter: empty filter has no best; size and clear', () => {
  const filter = new ClockFilter(4);
  assert.equal(filter.best(0n, STILL), null);
  filter.add(sample(1n, 0, 10));
  filter.add(sample(2n, 0, 10));
  assert.equal(filter.size, 2);
  filter.clear();
  assert.equal(filter.size, 0);
  assert.equal(filter.best(10n, STILL), null);
  filter.add(sample(3n, 7, 10));
  assert.equal(filter.best(10n, STILL)?.offsetNs, 7);
});

test('ClockFilter: rejects malformed samples on add', () => {
  const filter = new ClockFilter();
  assertArgumentError(() => filter.add(sample(0n, NaN, 10)));
  assertArgumentError(() => filter.add(sample(0n, 0, -1)));
  assertArgumentError(() => filter.add(sample(0n, 0, 1, -1)));
  assert.equal(filter.size, 0);
});

test('ClockFilter: picks the minimum-delay sample', () => {
  const filter = new ClockFilter();
  filter.add(sample(100n, 50, 900));
  filter.add(sample(200n, 10, 100)); // least delay: least queueing
  filter.add(sample(300n, 80, 500));
  const best = filter.best(300n, STILL);
  assert.ok(best);
  assert.equal(best.sample.localNs, 200n);
  assert.equal(best.offsetNs, 10);
  assert.equal(best.ageNs, 100);
  assert.equal(best.lowNs, 10 - 50);
  assert.equal(best.highNs, 10 + 50);
});

test('ClockFilter: source error counts towards the half-width', () => {
  const filter = new ClockFilter();
  filter.add(sample(100n, 0, 100, 1_000)); // half-width 50 + 1000
  filter.add(sample(100n, 5, 1_000, 0)); // half-width 500
  assert.equal(filter.best(100n, STILL)?.offsetNs, 5);
});

test('ClockFilter: ageing makes an old low-delay sample lose to a fresh one', () => {
  const p: Projection = { frequency: 0, growthRate: 1e-3 };
  const filter = new ClockFilter();
  filter.add(sample(0n, 1, 100)); // half-width 50 + 1e-3·age
  filter.add(sample(1_000_000n, 2, 1_000)); // half-width 500 + 1e-3·age
  // At now = 1e6: old = 50 + 1000 = 1050, fresh = 500: the fresh sample wins.
  assert.equal(filter.best(1_000_000n, p)?.offsetNs, 2);
  // Without growth the old sample's smaller delay wins.
  assert.equal(filter.best(1_000_000n, STILL)?.offsetNs, 1);
});

test('ClockFilter: ties go to the newest sample', () => {
  const filter = new ClockFilter();
  filter.add(sample(10n, 1, 100));
  filter.add(sample(20n, 2, 100));
  filter.add(sample(30n, 3, 500));
  assert.equal(filter.best(30n, STILL)?.offsetNs, 2);
  // Same localNs too: the one added last wins.
  filter.add(sample(20n, 4, 100));
  assert.equal(filter.best(30n, STILL)?.offsetNs, 4);
  // Added last but taken earlier: the younger sample still wins the tie.
  filter.add(sample(15n, 5, 100));
  assert.equal(filter.best(30n, STILL)?.offsetNs, 4);
});

test('ClockFilter: maxAgeNs ignores older samples, inclusive at the limit', () => {
  const filter = new ClockFilter();
  filter.add(sample(0n, 1, 10));
  filter.add(sample(500n, 2, 1_000));
  assert.equal(filter.best(1_000n, STILL)?.offsetNs, 1);
  assert.equal(filter.best(1_000n, STILL, 999)?.offsetNs, 2);
  assert.equal(filter.best(1_000n, STILL, 1_000)?.offsetNs, 1);
  assert.equal(filter.best(2_000n, STILL, 999), null);
  assertArgumentError(() => filter.best(1_000n, STILL, -1));
  assertArgumentError(() => filter.best(1_000n, STILL, NaN));
});

test('ClockFilter: ignored old samples do not count towards jitter', () => {
  const filter = new ClockFilter();
  filter.add(sample(0n, 1_000_000, 10_000)); // old outlier
  filter.add(sample(900n, 10, 100));
  filter.add(sample(950n, 20, 200));
  const best = filter.best(1_000n, STILL, 500);
  assert.ok(best);
  assert.equal(best.offsetNs, 10);
  assert.equal(best.jitterNs, 10);
});

test('ClockFilter: projection carries offset and interval forward', () => {
  const p: Projection = { frequency: 20e-6, growthRate: 5e-6 };
  const filter = new ClockFilter();
  filter.add({
    localNs: 1_000_000_000n,
    offsetNs: 300,
    delayNs: 200,
    sourceErrorLowNs: 10,
    sourceErrorHighNs: 30,
  });
  const best = filter.best(3_000_000_000n, p);
  assert.ok(best);
  assert.equal(best.ageNs, 2e9);
  // Drift 20e-6 · 2e9 = 40 000; widening 5e-6 · 2e9 = 10 000.
  assert.equal(best.offsetNs, 300 + 40_000);
  assert.equal(best.lowNs, 300 + 40_000 - 100 - 10 - 10_000);
  assert.equal(best.highNs, 300 + 40_000 + 100 + 30 + 10_000);
});

test('ClockFilter: jitter is the RMS of the other samples around the chosen projected offset', () => {
  const filter = new ClockFilter();
  filter.add(sample(0n, 100, 10)); // chosen
  filter.add(sample(0n, 110, 50));
  filter.add(sample(0n, 90, 50));
  filter.add(sample(0n, 130, 50));
  // Deviations 10, −10, 30: sqrt((100 + 100 + 900) / 3).
  assert.equal(filter.best(0n, STILL)?.jitterNs, Math.sqrt(1100 / 3));
  const single = new ClockFilter();
  single.add(sample(0n, 100, 10));
  assert.equal(single.best(0n, STILL)?.jitterNs, 0);
});

test('ClockFilter: jitter compares projected offsets, so pure drift is not jitter', () => {
  const p: Projection = { frequency: 1e-3, growthRate: 0 };
  const filter = new ClockFilter();
  // Offsets that follow the frequency exactly: all project to the same offset now.
  filter.add(sample(0n, 0, 100));
  filter.add(sample(1_000n, 1, 50));
  filter.add(sample(2_000n, 2, 200));
  const best = filter.best(2_000n, p);
  assert.ok(best);
  assert.equal(best.offsetNs, 2);
  assert.equal(best.jitterNs, 0);
});

test('ClockFilter: keeps only the last capacity samples', () => {
  const filter = new ClockFilter(2);
  filter.add(sample(1n, 1, 10)); // evicted by the third add
  filter.add(sample(2n, 2, 100));
  filter.add(sample(3n, 3, 200));
  assert.equal(filter.size, 2);
  assert.equal(filter.best(3n, STILL)?.offsetNs, 2);
});

test('ClockFilter: a sample newer than now is a bug', () => {
  const filter = new ClockFilter();
  filter.add(sample(100n, 0, 10));
  assertArgumentError(() => filter.best(99n, STILL));
});

test('ClockFilter: best agrees with a brute-force reference', () => {
  const sampleArb = fc.record({
    localNs: fc.bigInt({ min: 0n, max: 10_000n }),
    offsetNs: fc.integer({ min: -1e6, max: 1e6 }),
    delayNs: fc.integer({ min: 0, max: 1e4 }),
    sourceErrorLowNs: fc.integer({ min: 0, max: 1e3 }),
    sourceErrorHighNs: fc.integer({ min: 0, max: 1e3 }),
  });
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.array(sampleArb, { minLength: 0, maxLength: 30 }),
      fc.record({
        frequency: fc.double({ min: -1e-3, max: 1e-3, noNaN: true }),
        growthRate: fc.constantFrom(0, 1e-3, 0.1),
      }),
      fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: undefined }),
      (capacity, samples, p, maxAgeNs) => {
        const filter = new ClockFilter(capacity);
        for (const s of samples) filter.add(s);
        const nowNs = 10_000n;
        const kept = samples.slice(-capacity);
        const usable = kept
          .map((s, order) => ({ s, order, ageNs: Number(nowNs - s.localNs) }))
          .filter((u) => maxAgeNs === undefined || u.ageNs <= maxAgeNs);
        const best = filter.best(nowNs, p, maxAgeNs);
        assert.equal(filter.size, kept.length);
        if (usable.length === 0) {
          assert.equal(best, null);
          return;
        }
        const halfWidth = (u: (typeof usable)[number]) =>
          u.s.delayNs / 2 + (u.s.sourceErrorLowNs + u.s.sourceErrorHighNs) / 2 + p.growthRate * u.ageNs;
        // Narrowest, then youngest, then last added.
        const expected = usable.reduce((a, b) => {
          const ha = halfWidth(a);
          const hb = halfWidth(b);
          if (hb !== ha) return hb < ha ? b : a;
          if (b.ageNs !== a.ageNs) return b.ageNs < a.ageNs ? b : a;
          return b.order > a.order ? b : a;
        });
        assert.ok(best);
        assert.equal(best.sample, expected.s);
        assert.equal(best.ageNs, expected.ageNs);
        const offsetNs = expected.s.offsetNs + p.frequency * expected.ageNs;
        assert.equal(best.offsetNs, offsetNs);
        assert.ok(best.lowNs <= best.offsetNs && best.offsetNs <= best.highNs);
        const others = usable.filter((u) => u !== expected);
        const rms =
          others.length === 0
            ? 0
            : Math.sqrt(
                others.reduce((acc, u) => acc + (u.s.offsetNs + p.frequency * u.ageNs - offsetNs) ** 2, 0) /
                  others.length,
              );
        assert.ok(Math.abs(best.jitterNs - rms) <= 1e-9 * (1 + rms), `${best.jitterNs} vs ${rms}`);
      },
    ),
    { numRuns: 500 },
  );
});
