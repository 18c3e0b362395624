import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DisciplinedClock, TimemeshError, UNBOUNDED_NS } from '../../hlc/index.ts';

const BASE = 1_800_000_000_000_000_000n;
const S = 1_000_000_000n;

/** Feeds updates from a true raw-offset line y(L) = a + b·(L − BASE), each with a symmetric error e. */
function feed(
  clock: DisciplinedClock,
  opts: {
    aNs: number;
    bPpm: number;
    everyS: number;
    count: number;
    errorNs: number;
    noise?: (i: number) => number;
  },
): bigint {
  let localNs = BASE;
  for (let i = 0; i < opts.count; i++) {
    localNs = BASE + BigInt(i * opts.everyS) * S;
    const truth = opts.aNs + opts.bPpm * 1e-6 * Number(localNs - BASE);
    const measured = truth + (opts.noise?.(i) ?? 0);
    clock.update({
      localNs,
      offsetNs: measured,
      lowNs: measured - opts.errorNs,
      highNs: measured + opts.errorNs,
      anchored: true,
    });
  }
  return localNs;
}

describe('DisciplinedClock', () => {
  it('is unsynchronized with an unbounded interval before the first update', () => {
    const clock = new DisciplinedClock();
    const r = clock.read(BASE);
    assert.equal(r.status, 'unsynchronized');
    assert.equal(r.bestNs, BASE);
    assert.ok(Number(r.latestNs - r.earliestNs) >= UNBOUNDED_NS);
  });

  it('does not extrapolate a restored frequency before its first update', () => {
    // A restarted node restores its frequency estimate; with no update yet there is no instant to
    // extrapolate from, so the reading is the raw oscillator (this once read 8.8 h ahead).
    const clock = new DisciplinedClock({}, { frequencyPpm: 17 });
    assert.equal(clock.read(BASE).bestNs, BASE);
    assert.equal(clock.read(BASE).estimateNs, BASE);
    assert.equal(clock.projection().frequency, 17e-6);
  });

  it('learns phase and frequency from updates and reports anchored', () => {
    const clock = new DisciplinedClock();
    const last = feed(clock, { aNs: 5_000_000, bPpm: 42, everyS: 16, count: 20, errorNs: 20_000 });
    assert.ok(Math.abs(clock.frequencyPpm - 42) < 0.01, `frequency ${clock.frequencyPpm}`);
    const r = clock.read(last + 10n * S);
    const truth = 5_000_000 + 42e-6 * Number(last + 10n * S - BASE);
    assert.equal(r.status, 'anchored');
    assert.ok(Math.abs(r.appliedOffsetNs - truth) < 1_000, `applied ${r.appliedOffsetNs} vs ${truth}`);
    assert.ok(r.lowNs <= truth && truth <= r.highNs);
  });

  it('steps above the step threshold and slews below it', () => {
    const clock = new DisciplinedClock({ stepThresholdNs: 128e6 });
    const big = clock.update({
      localNs: BASE,
      offsetNs: 500e6,
      lowNs: 499e6,
      highNs: 501e6,
      anchored: false,
    });
    assert.equal(big.kind, 'step');
    assert.equal(clock.read(BASE).bestNs, BASE + 500_000_000n);

    const small = new DisciplinedClock({ stepThresholdNs: 128e6, maxSlewPpm: 1000 });
    const c = small.update({ localNs: BASE, offsetNs: 10e6, lowNs: 9e6, highNs: 11e6, anchored: false });
    assert.equal(c.kind, 'slew');
    // At 1000 ppm a 10 ms slew takes 10 s: after 1 s only 1 ms is applied.
    const after1s = small.read(BASE + S);
    assert.ok(Math.abs(after1s.appliedOffsetNs - 1e6) < 10, `applied ${after1s.appliedOffsetNs}`);
    assert.equal(small.read(BASE + 20n * S).appliedOffsetNs, 10e6);
    // The estimate served to peers is not slewed: it is the target from the start.
    assert.equal(after1s.estimateNs - (BASE + S), 10_000_000n);
    // While slewing, best still lies inside the interval.
    assert.ok(after1s.earliestNs <= after1s.bestNs && after1s.bestNs <= after1s.latestNs);
  });

  it('keeps the monotonic reading monotonic through slews in both directions', () => {
    const clock = new DisciplinedClock({ maxSlewPpm: 500_000 });
    let prev = -1n;
    for (let i = 0; i < 200; i++) {
      const localNs = BASE + BigInt(i) * 10_000_000n;
      if (i % 20 === 0) {
        const off = (i % 40 === 0 ? 1 : -1) * 50e6;
        clock.update({ localNs, offsetNs: off, lowNs: off - 1e6, highNs: off + 1e6, anchored: false });
      }
      const best = clock.read(localNs).bestNs;
      assert.ok(best >= prev, `reading went back at step ${i}`);
      prev = best;
    }
  });

  it('widens the interval while no update arrives and enters holdover', () => {
    const clock = new DisciplinedClock({ maxDriftPpm: 15, holdoverAfterNs: 300e9 });
    const last = feed(clock, { aNs: 0, bPpm: 0, everyS: 16, count: 10, errorNs: 10_000 });
    const w = (l: bigint): number => {
      const r = clock.read(l);
      return Number(r.latestNs - r.earliestNs);
    };
    const w0 = w(last);
    const w100 = w(last + 100n * S);
    // At least maxDrift × elapsed on each side.
    assert.ok(w100 - w0 >= 2 * 15e-6 * 100e9 - 2, `grew ${w100 - w0}`);
    assert.equal(clock.read(last + 100n * S).status, 'anchored');
    assert.equal(clock.read(last + 301n * S).status, 'holdover');
  });

  it('restarts the frequency fit after an inconsistent update instead of averaging across it', () => {
    const clock = new DisciplinedClock();
    const last = feed(clock, { aNs: 0, bPpm: 10, everyS: 16, count: 12, errorNs: 5_000 });
    // The reference jumps by 50 ms and stays there (same 10 ppm slope on the new line).
    for (let k = 1; k <= 4; k++) {
      const localNs = last + BigInt(16 * k) * S;
      const y = 10e-6 * Number(localNs - BASE) + 50e6;
      clock.update({ localNs, offsetNs: y, lowNs: y - 5e3, highNs: y + 5e3, anchored: true });
    }
    // A fit mixing both lines would see a slope of hundreds of ppm.
    assert.ok(Math.abs(clock.frequencyPpm - 10) < 0.5, `frequency ${clock.frequencyPpm}`);
  });

  it('keeps interval growth near maxDrift when precise points carry wide error bars', () => {
    // A mesh node's updates carry its peers' wide intervals (±100 ms here) although the points
    // scatter by only ~10 µs. The worst-case slope bound would be ~100 ms / 300 s ≈ 330 ppm and feed
    // back into ever wider intervals; with enough points the statistical bound takes over.
    const clock = new DisciplinedClock({ maxDriftPpm: 15 });
    feed(clock, {
      aNs: 0,
      bPpm: 3,
      everyS: 16,
      count: 20,
      errorNs: 100e6,
      noise: (i) => 10_000 * Math.sin(i * 1.7),
    });
    const growthPpm = clock.projection().growthRate * 1e6;
    assert.ok(growthPpm >= 15, `growth ${growthPpm} ppm includes maxDrift`);
    assert.ok(growthPpm < 20, `growth ${growthPpm} ppm`);
  });

  it('rejects updates whose point lies outside their interval, and bad config', () => {
    const clock = new DisciplinedClock();
    assert.throws(
      () => clock.update({ localNs: BASE, offsetNs: 5, lowNs: 10, highNs: 20, anchored: false }),
      (e: unknown) => e instanceof TimemeshError && e.code === 'TM_ERR_CLOCK_UPDATE',
    );
    assert.throws(() => new DisciplinedClock({ fitWindow: 1 }), /fitWindow/);
    assert.throws(() => new DisciplinedClock({ maxSlewPpm: 2e6 }), /monotonic/);
  });

  it('property: with inputs whose intervals contain truth, the interval contains truth in between', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1_000, max: 5_000_000 }),
        fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 3, maxLength: 30 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (aNs, bPpm, everyS, errorNs, noise, probe) => {
          const clock = new DisciplinedClock();
          const truthAt = (l: bigint): number => aNs + bPpm * 1e-6 * Number(l - BASE);
          for (let i = 0; i < noise.length; i++) {
            const localNs = BASE + BigInt(i * everyS) * S;
            const measured = truthAt(localNs) + noise[i]! * errorNs * 0.999;
            clock.update({
              localNs,
              offsetNs: measured,
              lowNs: measured - errorNs,
              highNs: measured + errorNs,
              anchored: true,
            });
            // Probe somewhere before the next update (and beyond it on the last round).
            const probeNs = localNs + BigInt(Math.floor(probe * everyS * 3 * 1e9));
            const r = clock.read(probeNs);
            const t = truthAt(probeNs);
            if (!(r.lowNs <= t + 1 && t - 1 <= r.highNs)) return false;
          }
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });
});
