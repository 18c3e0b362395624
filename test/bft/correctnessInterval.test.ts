import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { correctnessInterval, projectInterval, type SourceSample } from '../../bft/index.ts';
import { assertArgumentError } from './helpers.ts';

function sample(overrides: Partial<SourceSample> = {}): SourceSample {
  return { localNs: 0n, offsetNs: 0, delayNs: 0, sourceErrorLowNs: 0, sourceErrorHighNs: 0, ...overrides };
}

test('correctnessInterval: θ ± δ/2 widened by the source error on each side', () => {
  const iv = correctnessInterval(
    sample({ offsetNs: 1_000, delayNs: 400, sourceErrorLowNs: 30, sourceErrorHighNs: 70 }),
  );
  assert.deepEqual(iv, { lowNs: 1_000 - 200 - 30, highNs: 1_000 + 200 + 70 });
});

test('correctnessInterval: zero delay and zero error give a point', () => {
  assert.deepEqual(correctnessInterval(sample({ offsetNs: -5 })), { lowNs: -5, highNs: -5 });
});

test('correctnessInterval: rejects NaN, negative delay and negative errors', () => {
  assertArgumentError(() => correctnessInterval(sample({ offsetNs: NaN })));
  assertArgumentError(() => correctnessInterval(sample({ delayNs: -1 })));
  assertArgumentError(() => correctnessInterval(sample({ delayNs: NaN })));
  assertArgumentError(() => correctnessInterval(sample({ sourceErrorLowNs: -1 })));
  assertArgumentError(() => correctnessInterval(sample({ sourceErrorHighNs: Infinity })));
});

test('correctnessInterval: contains the true offset for any asymmetric path (simulated exchange)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -1e9, max: 1e9 }), // true offset x = source − local
      fc.integer({ min: 0, max: 1e8 }), // request one-way delay
      fc.integer({ min: 0, max: 1e8 }), // response one-way delay
      fc.integer({ min: 0, max: 1e6 }), // server processing time
      fc.integer({ min: 0, max: 1e6 }), // source error below its best
      fc.integer({ min: 0, max: 1e6 }), // source error above its best
      fc.integer({ min: -1e6, max: 1e6 }), // how wrong the source's best really is (clipped below)
      (trueOffsetNs, upNs, downNs, processingNs, errLowNs, errHighNs, sourceBiasRawNs) => {
        // The source's best estimate is off by a bias within its own stated error bounds.
        const sourceBiasNs = Math.max(-errHighNs, Math.min(errLowNs, sourceBiasRawNs));
        const reportedOffsetNs = trueOffsetNs + sourceBiasNs;
        const t1LocalNs = 1_000_000;
        const t2PeerNs = t1LocalNs + upNs + reportedOffsetNs;
        const t3PeerNs = t2PeerNs + processingNs;
        const t4LocalNs = t3PeerNs - reportedOffsetNs + downNs;
        const thetaNs = (t2PeerNs - t1LocalNs + (t3PeerNs - t4LocalNs)) / 2;
        const deltaNs = t4LocalNs - t1LocalNs - (t3PeerNs - t2PeerNs);
        const iv = correctnessInterval(
          sample({
            offsetNs: thetaNs,
            delayNs: deltaNs,
            sourceErrorLowNs: errLowNs,
            sourceErrorHighNs: errHighNs,
          }),
        );
        assert.ok(
          iv.lowNs <= trueOffsetNs && trueOffsetNs <= iv.highNs,
          `${trueOffsetNs} ∉ [${iv.lowNs}, ${iv.highNs}]`,
        );
      },
    ),
    { numRuns: 500 },
  );
});

test('projectInterval: shifts by frequency·age and widens each side by growthRate·age', () => {
  const iv = projectInterval({ lowNs: 100, highNs: 200 }, 1e9, { frequency: 20e-6, growthRate: 5e-6 });
  // Drift 20 µs, widening 5 µs each side.
  assert.deepEqual(iv, { lowNs: 100 + 20_000 - 5_000, highNs: 200 + 20_000 + 5_000 });
});

test('projectInterval: age 0 is the identity, negative frequency drifts down', () => {
  assert.deepEqual(projectInterval({ lowNs: -3, highNs: 4 }, 0, { frequency: 1e-3, growthRate: 1e-3 }), {
    lowNs: -3,
    highNs: 4,
  });
  assert.deepEqual(projectInterval({ lowNs: 0, highNs: 0 }, 1_000, { frequency: -0.5, growthRate: 0 }), {
    lowNs: -500,
    highNs: -500,
  });
});

test('projectInterval: rejects negative age, negative growth, inverted or NaN intervals', () => {
  const p = { frequency: 0, growthRate: 0 };
  assertArgumentError(() => projectInterval({ lowNs: 0, highNs: 1 }, -1, p));
  assertArgumentError(() => projectInterval({ lowNs: 0, highNs: 1 }, NaN, p));
  assertArgumentError(() => projectInterval({ lowNs: 0, highNs: 1 }, 1, { frequency: 0, growthRate: -1e-6 }));
  assertArgumentError(() => projectInterval({ lowNs: 0, highNs: 1 }, 1, { frequency: NaN, growthRate: 0 }));
  assertArgumentError(() => projectInterval({ lowNs: 2, highNs: 1 }, 1, p));
  assertArgumentError(() => projectInterval({ lowNs: NaN, highNs: 1 }, 1, p));
});

test('projectInterval: keeps containing an offset drifting at any rate within frequency ± growthRate', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -1e6, max: 1e6 }),
      fc.integer({ min: 0, max: 1e6 }),
      fc.integer({ min: 0, max: 1e6 }),
      fc.double({ min: -1e-4, max: 1e-4, noNaN: true }),
      fc.double({ min: 0, max: 1e-4, noNaN: true }),
      fc.double({ min: -1, max: 1, noNaN: true }),
      fc.integer({ min: 0, max: 1e12 }),
      (offsetNs, belowNs, aboveNs, frequency, growthRate, rateFraction, ageNs) => {
        const start = { lowNs: offsetNs - belowNs, highNs: offsetNs + aboveNs };
        const trueRate = frequency + rateFraction * growthRate;
        const trueNowNs = offsetNs + trueRate * ageNs;
        const iv = projectInterval(start, ageNs, { frequency, growthRate });
        // Tolerance for the rounding of the two different products.
        const slackNs = 1e-9 * Math.abs(ageNs) + 1e-6;
        assert.ok(iv.lowNs <= trueNowNs + slackNs && trueNowNs - slackNs <= iv.highNs);
      },
    ),
  );
});
