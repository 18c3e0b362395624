import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { combine, type CombineResult, type SourceEstimate } from '../../bft/index.ts';
import { assertArgumentError } from './helpers.ts';

function src(
  id: string,
  offsetNs: number,
  lowNs: number,
  highNs: number,
  distanceNs = 10,
  anchored = false,
): SourceEstimate {
  return { id, offsetNs, lowNs, highNs, distanceNs, anchored };
}

function expectOk(result: CombineResult): Extract<CombineResult, { ok: true }> {
  assert.ok(result.ok, result.ok ? '' : result.message);
  return result;
}

// Three honest sources around 100 and one liar far away.
const HONEST_AND_LIAR = [
  src('a', 100, 90, 110),
  src('b', 105, 95, 115),
  src('c', 98, 80, 105),
  src('liar', 1_000, 990, 1_010, 0, true),
];

test('combine: three honest sources outvote one liar', () => {
  const result = expectOk(combine(HONEST_AND_LIAR, { estimator: 'weighted-mean' }));
  assert.equal(result.n, 4);
  assert.equal(result.f, 1);
  // Covered by ≥ 3 intervals: [95, 105].
  assert.equal(result.lowNs, 95);
  assert.equal(result.highNs, 105);
  assert.deepEqual(result.truechimers, ['a', 'b', 'c']);
  assert.deepEqual(result.falsetickers, ['liar']);
  // Truechimers 98, 100, 105 with equal weights → 101, inside the trimmed range [100, 105].
  assert.ok(Math.abs(result.offsetNs - 101) < 1e-9);
  assert.equal(result.anchored, false);
});

test('combine: median estimator', () => {
  const result = expectOk(combine(HONEST_AND_LIAR, { estimator: 'median' }));
  assert.equal(result.offsetNs, 102.5);
  const five = expectOk(
    combine([...HONEST_AND_LIAR, src('e', 101, 90, 110)], { estimator: 'median', faultTolerance: 1 }),
  );
  // Offsets 98, 100, 101, 105, 1000 trimmed to 100, 101, 105.
  assert.equal(five.offsetNs, 101);
});

test('combine: a low-distance source pulls the weighted mean', () => {
  const sources = [
    src('a', 100, 90, 110, 0, true), // weight (1000/1000)² = 1
    src('b', 105, 95, 115, 9_000), // weight (1000/10000)² = 0.01
    src('c', 98, 80, 105, 9_000),
    src('d', 110, 95, 120, 9_000),
  ];
  const result = expectOk(combine(sources, { estimator: 'weighted-mean', capWeights: false }));
  // All four are truechimers: a weighs 1, the others 0.01; the mean lies in the trimmed range [100, 105].
  assert.ok(Math.abs(result.offsetNs - (100 + 0.01 * (105 + 98 + 110)) / 1.03) < 1e-9);
  assert.equal(result.anchored, true);
  // A larger floor flattens the weights: 1/(0+1e6)² vs 1/(9e3+1e6)².
  const flat = expectOk(
    combine(sources, { estimator: 'weighted-mean', capWeights: false, weightFloorNs: 1e6 }),
  );
  const wB = (1e6 / 1.009e6) ** 2;
  assert.ok(Math.abs(flat.offsetNs - (100 + wB * (105 + 98 + 110)) / (1 + 3 * wB)) < 1e-9);
});

test('combine: a lying anchor with distance 0 cannot push the estimate out of the honest range', () => {
  // The liar sits just above the honest offsets, inside everyone's interval: it survives trimming,
  // is a truechimer, and has by far the largest weight, yet the result stays within [98, 105].
  const sources = [
    src('a', 100, 90, 110, 5_000),
    src('b', 105, 95, 115, 5_000),
    src('c', 98, 80, 110, 5_000),
    src('liar', 109, 90, 110, 0, true),
  ];
  const result = expectOk(combine(sources));
  assert.deepEqual(result.falsetickers, []);
  // The liar's weight drags the mean towards 109, but the clamp into the trimmed range [100, 105]
  // stops it at 105: still within the honest offsets [98, 105].
  assert.equal(result.offsetNs, 105);
  assert.equal(result.anchored, true); // it is a truechimer, so it may claim to anchor
});

test('combine: falsetickers that survive trimming are dropped from the estimate', () => {
  // The liar's offset is in the middle, but its interval is far away.
  const sources = [
    src('a', 100, 95, 110),
    src('b', 101, 95, 110),
    src('liar', 101.5, 500, 600),
    src('c', 102, 95, 110),
  ];
  const result = expectOk(combine(sources));
  assert.deepEqual(result.falsetickers, ['liar']);
  // Survivors of the trimming: 101 (b) and 101.5 (liar); without the liar only b is left.
  assert.equal(result.offsetNs, 101);
});

test('combine: if every survivor is a falseticker they are kept rather than giving nothing', () => {
  const sources = [src('a', 0, 0, 10), src('b', 10, 0, 10), src('liar', 5, 100, 200)];
  const result = expectOk(combine(sources, { faultTolerance: 1 }));
  assert.deepEqual(result.falsetickers, ['liar']);
  assert.equal(result.offsetNs, 5);
});

test('combine: the estimate is clamped into [lowNs, highNs]', () => {
  const sources = [src('a', 0, 0, 10), src('b', 20, 5, 20), src('c', 30, 8, 30)];
  const result = expectOk(combine(sources));
  assert.equal(result.f, 0);
  assert.equal(result.lowNs, 8);
  assert.equal(result.highNs, 10);
  // The mean of 0, 20, 30 is 16.67, above the agreed interval.
  assert.equal(result.offsetNs, 10);
});

test('combine: a single source is its own result', () => {
  const result = expectOk(combine([src('gps', 42, 40, 45, 1, true)]));
  assert.deepEqual(
    { ...result },
    {
      ok: true,
      offsetNs: 42,
      lowNs: 40,
      highNs: 45,
      n: 1,
      f: 0,
      truechimers: ['gps'],
      falsetickers: [],
      anchored: true,
    },
  );
});

test('combine: no sources', () => {
  assert.deepEqual(combine([]), {
    ok: false,
    reason: 'no-sources',
    n: 0,
    f: 0,
    needed: 1,
    message: 'no sources, need 2f+1 = 1 for f = 0',
  });
});

test('combine: too few sources for the configured fault tolerance', () => {
  const sources = HONEST_AND_LIAR;
  assert.deepEqual(combine(sources, { faultTolerance: 3 }), {
    ok: false,
    reason: 'too-few-sources',
    n: 4,
    f: 3,
    needed: 7,
    message: '4 sources, need 2f+1 = 7 for f = 3',
  });
  const one = combine([src('a', 0, 0, 1)], { faultTolerance: 1 });
  assert.equal(one.ok, false);
  assert.equal(!one.ok && one.message, '1 source, need 2f+1 = 3 for f = 1');
});

test('combine: no majority when fewer than n − f sources agree', () => {
  const sources = [src('a', 0, 0, 1), src('b', 10, 10, 11), src('c', 20, 20, 21), src('d', 30, 10, 30)];
  const result = combine(sources);
  assert.deepEqual(result, {
    ok: false,
    reason: 'no-majority',
    n: 4,
    f: 1,
    needed: 3,
    message: '4 sources but at most 2 agree on any offset, need n−f = 3 for f = 1',
  });
  // Tolerating more faults is an explicit choice, and then the pair is enough.
  assert.equal(combine(sources, { faultTolerance: 2 }).ok, false); // 4 < 2f+1 = 5
  assert.equal(combine([...sources, src('e', 10, 10, 12)], { faultTolerance: 2 }).ok, true);
});

test('combine: an anchored falseticker does not make the result anchored', () => {
  assert.equal(expectOk(combine(HONEST_AND_LIAR)).anchored, false);
  const withAnchor = HONEST_AND_LIAR.map((s) => (s.id === 'b' ? { ...s, anchored: true } : s));
  assert.equal(expectOk(combine(withAnchor)).anchored, true);
});

test('combine: rejects malformed arguments', () => {
  const good = src('a', 0, -1, 1);
  assertArgumentError(() => combine([good, { ...good }]));
  assertArgumentError(() => combine([{ ...good, offsetNs: NaN }]));
  assertArgumentError(() => combine([{ ...good, lowNs: 2 }]));
  assertArgumentError(() => combine([{ ...good, highNs: NaN }]));
  assertArgumentError(() => combine([{ ...good, distanceNs: -1 }]));
  assertArgumentError(() => combine([good], { weightFloorNs: 0 }));
  assertArgumentError(() => combine([good], { faultTolerance: -1 }));
  assertArgumentError(() => combine([good], { estimator: 'mode' as never }));
});

// ---- Property: Byzantine sources cannot break the guarantees when n ≥ 3f + 1 ----

const TRUTH_RANGE_NS = 1e9;

const honestArb = (truthNs: number) =>
  fc
    .record({
      belowNs: fc.integer({ min: 0, max: 1e6 }),
      aboveNs: fc.integer({ min: 0, max: 1e6 }),
      position: fc.double({ min: 0, max: 1, noNaN: true }),
      distanceNs: fc.oneof(fc.integer({ min: 0, max: 1e7 }), fc.constant(0)),
      anchored: fc.boolean(),
    })
    .map(({ belowNs, aboveNs, position, distanceNs, anchored }) => {
      const lowNs = truthNs - belowNs;
      const highNs = truthNs + aboveNs;
      // An honest point estimate lies inside its own interval, not necessarily at truth.
      const offsetNs = Math.min(highNs, Math.max(lowNs, lowNs + position * (belowNs + aboveNs)));
      return { offsetNs, lowNs, highNs, distanceNs, anchored };
    });

const liarArb = (truthNs: number) =>
  fc
    .record({
      offsetNs: fc.oneof(
        fc.integer({ min: -1e12, max: 1e12 }),
        fc.integer({ min: truthNs - 2e6, max: truthNs + 2e6 }), // close enough to survive trimming
      ),
      shape: fc.constantFrom('narrow', 'wide', 'far', 'elsewhere'),
      widthNs: fc.integer({ min: 0, max: 1e12 }),
      farNs: fc.integer({ min: -1e12, max: 1e12 }),
      distanceNs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1e9 })),
    })
    .map(({ offsetNs, shape, widthNs, farNs, distanceNs }) => {
      let lowNs: number;
      let highNs: number;
      switch (shape) {
        case 'narrow':
          [lowNs, highNs] = [offsetNs, offsetNs];
          break;
        case 'wide':
          [lowNs, highNs] = [offsetNs - widthNs, offsetNs + widthNs];
          break;
        case 'far': {
          // Clear of every honest interval (they reach at most 1e6 from truth), on either side.
          const gapNs = 2e6 + Math.abs(farNs);
          [lowNs, highNs] =
            farNs >= 0
              ? [truthNs + gapNs, truthNs + gapNs + widthNs]
              : [truthNs - gapNs - widthNs, truthNs - gapNs];
          break;
        }
        default:
          // An interval unrelated to its own offset.
          [lowNs, highNs] = [Math.min(farNs, farNs + widthNs), farNs + widthNs];
      }
      return { offsetNs, lowNs, highNs, distanceNs, anchored: true };
    });

const byzantineArb = (minNForF: (f: number) => number) =>
  fc
    .record({
      f: fc.integer({ min: 0, max: 4 }),
      extra: fc.integer({ min: 0, max: 4 }),
      truthNs: fc.integer({ min: -TRUTH_RANGE_NS, max: TRUTH_RANGE_NS }),
      explicitF: fc.boolean(),
    })
    .chain(({ f, extra, truthNs, explicitF }) => {
      const n = minNForF(f) + extra;
      return fc.record({
        f: fc.constant(f),
        n: fc.constant(n),
        truthNs: fc.constant(truthNs),
        explicitF: fc.constant(explicitF),
        liars: fc.array(liarArb(truthNs), { maxLength: f }),
        honest: fc.array(honestArb(truthNs), { minLength: n, maxLength: n }),
        keys: fc.array(fc.nat(), { minLength: n, maxLength: n }),
        estimator: fc.constantFrom('weighted-mean' as const, 'median' as const),
      });
    })
    .map(({ f, n, truthNs, explicitF, liars, honest, keys, estimator }) => {
      // Replace some honest sources with liars, then shuffle: n stays fixed, at most f lie.
      const tagged = [
        ...liars.map((s) => ({ ...s, honest: false })),
        ...honest.slice(liars.length).map((s) => ({ ...s, honest: true })),
      ];
      const order = tagged
        .map((s, i) => ({ s, key: keys[i] ?? 0 }))
        .sort((a, b) => a.key - b.key)
        .map(({ s }, i) => ({ ...s, id: `s${i}` }));
      return { f, n, truthNs, estimator, faultTolerance: explicitF ? f : null, sources: order };
    });

function checkByzantine({
  f,
  truthNs,
  estimator,
  faultTolerance,
  sources,
}: {
  f: number;
  truthNs: number;
  estimator: 'weighted-mean' | 'median';
  faultTolerance: number | null;
  sources: (SourceEstimate & { honest: boolean })[];
}): void {
  const result = expectOk(combine(sources, { estimator, faultTolerance }));
  assert.ok(result.f >= f);
  assert.ok(
    result.lowNs <= truthNs && truthNs <= result.highNs,
    `truth ${truthNs} ∉ [${result.lowNs}, ${result.highNs}]`,
  );
  const honestOffsetsNs = sources.filter((s) => s.honest).map((s) => s.offsetNs);
  const minHonestNs = Math.min(...honestOffsetsNs);
  const maxHonestNs = Math.max(...honestOffsetsNs);
  assert.ok(
    minHonestNs <= result.offsetNs && result.offsetNs <= maxHonestNs,
    `offset ${result.offsetNs} ∉ honest [${minHonestNs}, ${maxHonestNs}]`,
  );
  assert.ok(result.lowNs <= result.offsetNs && result.offsetNs <= result.highNs);
  // Honest intervals contain truth, which is in the covered set, so none is a falseticker.
  for (const s of sources) if (s.honest) assert.ok(result.truechimers.includes(s.id));
  assert.equal(result.truechimers.length + result.falsetickers.length, sources.length);
}

test('combine: n ≥ 3f + 1, ≤ f Byzantine: truth is bracketed, the estimate is honest', () => {
  fc.assert(
    fc.property(
      byzantineArb((f) => 3 * f + 1),
      (c) => checkByzantine(c),
    ),
    { numRuns: 3000 },
  );
});

test('combine: the per-round bounds already hold with 2f + 1 ≤ n when f is configured', () => {
  fc.assert(
    fc.property(
      byzantineArb((f) => 2 * f + 1).map((c) => ({ ...c, faultTolerance: c.f })),
      (c) => checkByzantine(c),
    ),
    { numRuns: 3000 },
  );
});

test('combine: a precise anchor at the extreme pulls the estimate to the edge of the safe range', () => {
  // The mesh is biased high; the one anchor is the lowest value. Trimming alone would drop it and
  // answer 103; weighting all truechimers and clamping moves the estimate to the safe edge, 102.
  const sources = [
    src('anchor', 100, 99, 101, 0, true),
    src('m1', 101, 90, 112, 9_000),
    src('m2', 102, 90, 112, 9_000),
    src('m3', 103, 90, 112, 9_000),
    src('m4', 104, 90, 112, 9_000),
    src('m5', 105, 90, 112, 9_000),
    src('m6', 106, 90, 112, 9_000),
  ];
  const result = expectOk(combine(sources));
  assert.equal(result.f, 2);
  assert.equal(result.offsetNs, 102);
  assert.equal(expectOk(combine(sources, { estimator: 'median' })).offsetNs, 103);
});

test('combine: weighted median (the default) follows the source holding most of the weight', () => {
  const result = expectOk(combine(HONEST_AND_LIAR));
  // Truechimers 98, 100, 105 with equal weights: the weighted median is the middle one.
  assert.equal(result.offsetNs, 100);
  const sources = [
    src('a', 100, 90, 110, 0, true), // weight 1
    src('b', 105, 95, 115, 9_000), // weight 0.01 each
    src('c', 98, 80, 105, 9_000),
    src('d', 110, 95, 120, 9_000),
  ];
  assert.equal(expectOk(combine(sources)).offsetNs, 100);
});

test('combine: a group holding less than half the weight cannot move the weighted median', () => {
  // Four precise honest anchors at 100 and three equally precise liars at 104 (inside every interval,
  // so not falsetickers): a weighted mean would move to about 101.7, the weighted median stays at 100.
  const sources = [
    ...['h1', 'h2', 'h3', 'h4'].map((id) => src(id, 100, 90, 110, 0, true)),
    ...['l1', 'l2', 'l3'].map((id) => src(id, 104, 94, 114, 0, true)),
  ];
  const median = expectOk(combine(sources, { faultTolerance: 2 }));
  assert.equal(median.offsetNs, 100);
  const mean = expectOk(combine(sources, { faultTolerance: 2, estimator: 'weighted-mean' }));
  assert.ok(mean.offsetNs > 100.5, `weighted mean ${mean.offsetNs}`);
});

test('combine: capped weights stop f heavy sources from holding half the weight', () => {
  // f = 1 of 4: uncapped, the anchor (weight 1 against 0.01 each) would decide the weighted mean
  // almost alone; capped, the heaviest single source holds less than half of the total.
  const sources = [
    src('a', 100, 90, 110, 0, true),
    src('b', 105, 95, 115, 9_000),
    src('c', 98, 80, 105, 9_000),
    src('d', 110, 95, 120, 9_000),
  ];
  const capped = expectOk(combine(sources, { estimator: 'weighted-mean' })).offsetNs;
  const uncapped = expectOk(combine(sources, { estimator: 'weighted-mean', capWeights: false })).offsetNs;
  assert.ok(Math.abs(uncapped - 100.126) < 0.01, `uncapped ${uncapped}`);
  // Cap c with c < (c + 0.03) / 2 → c < 0.03: the three others then carry more than half.
  assert.ok(capped > 102, `capped ${capped}`);
});
