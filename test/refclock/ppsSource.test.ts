// The sans-IO PPS source (refclock/ppsSource.ts): naming the second of an edge from a coarse time,
// the offset maths with exact expected values, the fudge sign, and every drop reason.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PPS_DROP_REASONS, PpsSource } from '../../refclock/ppsSource.ts';
import type { PpsDropReason, PpsSourceOutcome } from '../../refclock/ppsSource.ts';

const S = 1_000_000_000n;
const MS = 1_000_000n;
/** A UTC second in 2023, in ns. */
const T0 = 1_700_000_000n * S;

function sample(outcome: PpsSourceOutcome): Extract<PpsSourceOutcome, { type: 'sample' }> {
  assert.equal(outcome.type, 'sample', outcome.type === 'drop' ? outcome.message : '');
  return outcome as Extract<PpsSourceOutcome, { type: 'sample' }>;
}
function drop(outcome: PpsSourceOutcome, reason: PpsDropReason): void {
  assert.equal(outcome.type, 'drop', `expected a ${reason} drop, got a sample`);
  assert.equal((outcome as { reason: string }).reason, reason);
}

describe('PpsSource: naming the second and the offset', () => {
  it('maps coarse times up to 0.4 s early or late to the right second, with the exact offset', () => {
    // The local oscillator is 3.456789 ms ahead of true time: offset = reference − local = −3456789 ns.
    const localAheadNs = 3_456_789n;
    for (const coarseShiftNs of [0n, 200n * MS, -200n * MS, 399n * MS, -399n * MS]) {
      const src = new PpsSource({ refId: 'pps:/dev/pps0' });
      const edgeLocalNs = T0 + localAheadNs;
      const out = sample(src.handleEdge(edgeLocalNs, { utcNs: T0 + coarseShiftNs, errorNs: 0 }));
      assert.equal(out.secondUtcNs, T0, `coarse shifted by ${coarseShiftNs} ns`);
      assert.equal(out.sample.offsetNs, -3_456_789);
      assert.deepEqual(out.sample, {
        refId: 'pps:/dev/pps0',
        kind: 'pps',
        localNs: edgeLocalNs,
        offsetNs: -3_456_789,
        errorNs: 500,
        delayNs: 0,
        stratum: 0,
      });
    }
  });

  it('gives positive offsets when the local clock is behind, also far from true time', () => {
    const src = new PpsSource({ refId: 'pps:x' });
    // Local is 12.25 s behind; the coarse source (GPS) knows the true time to 100 ms.
    const edgeLocalNs = T0 - 12_250_000_000n;
    const out = sample(src.handleEdge(edgeLocalNs, { utcNs: T0 + 150n * MS, errorNs: 100_000_000 }));
    assert.equal(out.secondUtcNs, T0);
    assert.equal(out.sample.offsetNs, 12_250_000_000);
  });

  it('handles instants before the epoch (floor, not truncation, for negative ns)', () => {
    const src = new PpsSource({ refId: 'pps:x' });
    const second = -2n * S;
    const out = sample(src.handleEdge(second + 777n, { utcNs: second - 300n * MS, errorNs: 0 }));
    assert.equal(out.secondUtcNs, second);
    assert.equal(out.sample.offsetNs, -777);
  });

  it('fudge: the edge is stamped at second + fudgeNs, so offset = second + fudge − local', () => {
    // A 1.5 µs cable/receiver delay: the kernel stamps the edge 1500 ns after the top of the second.
    const src = new PpsSource({ refId: 'pps:x', fudgeNs: 1500 });
    const localAheadNs = 40n;
    const edgeLocalNs = T0 + 1500n + localAheadNs;
    const out = sample(src.handleEdge(edgeLocalNs, { utcNs: T0 + 1500n + 100n * MS, errorNs: 0 }));
    assert.equal(out.secondUtcNs, T0);
    assert.equal(out.sample.offsetNs, -40);
    // A negative fudge (the edge is stamped early) works the same way.
    const early = new PpsSource({ refId: 'pps:x', fudgeNs: -2000 });
    const out2 = sample(early.handleEdge(T0 - 2000n, { utcNs: T0, errorNs: 0 }));
    assert.equal(out2.sample.offsetNs, 0);
  });

  it("adds the driver's mapping uncertainty (rounded up) to the configured error bound", () => {
    const src = new PpsSource({ refId: 'pps:x', errorNs: 300 });
    const out = sample(src.handleEdge(T0, { utcNs: T0, errorNs: 0 }, 79.2));
    assert.equal(out.sample.errorNs, 380);
    assert.equal(src.snapshot().lastSample?.errorNs, 380);
  });

  it('ten edges at 1 s ± 20 µs of local jitter give ten samples whose offsets are minus the local error, to the ns', () => {
    const src = new PpsSource({ refId: 'pps:x' });
    // local − true for each edge: a constant error plus a deterministic ±20 µs wander.
    const baseErrorNs = -7_654_321n;
    const jitterNs = [0n, 20_000n, -20_000n, 13_337n, -5n, 19_999n, -19_999n, 1n, -12_345n, 7_777n];
    const offsets: number[] = [];
    jitterNs.forEach((j, k) => {
      const trueEdgeNs = T0 + BigInt(k) * S;
      const localErrorNs = baseErrorNs + j;
      const coarse = { utcNs: trueEdgeNs + 120n * MS, errorNs: 50_000_000 };
      const out = sample(src.handleEdge(trueEdgeNs + localErrorNs, coarse));
      assert.equal(out.secondUtcNs, trueEdgeNs);
      offsets.push(out.sample.offsetNs);
    });
    assert.deepEqual(
      offsets,
      jitterNs.map((j) => -Number(baseErrorNs + j)),
    );
    const snap = src.snapshot();
    assert.equal(snap.samplesTotal, 10);
    assert.equal(snap.edgesTotal, 10);
    assert.ok(
      Object.values(snap.drops).every((n) => n === 0),
      `no drops: ${JSON.stringify(snap.drops)}`,
    );
  });
});

describe('PpsSource: drops', () => {
  it('no-coarse-time, coarse-too-uncertain and ambiguous', () => {
    const src = new PpsSource({ refId: 'pps:x' });
    drop(src.handleEdge(T0, null), 'no-coarse-time');
    drop(src.handleEdge(T0 + S, { utcNs: T0 + S, errorNs: 400_000_000 }), 'coarse-too-uncertain');
    drop(src.handleEdge(T0 + 2n * S, { utcNs: T0 + 2n * S, errorNs: Number.NaN }), 'coarse-too-uncertain');
    // 0.45 s from a whole second: it could belong to either neighbour.
    drop(src.handleEdge(T0 + 3n * S, { utcNs: T0 + 3n * S + 450n * MS, errorNs: 0 }), 'ambiguous');
    drop(src.handleEdge(T0 + 4n * S, { utcNs: T0 + 4n * S - 450n * MS, errorNs: 0 }), 'ambiguous');
    // 0.35 s off is fine alone but not with 0.1 s of error (0.45 > 0.4) …
    drop(src.handleEdge(T0 + 5n * S, { utcNs: T0 + 5n * S + 350n * MS, errorNs: 100_000_000 }), 'ambiguous');
    // … and fine with 0.04 s of error (0.39 ≤ 0.4).
    const ok = sample(src.handleEdge(T0 + 6n * S, { utcNs: T0 + 6n * S + 350n * MS, errorNs: 40_000_000 }));
    assert.equal(ok.secondUtcNs, T0 + 6n * S);
    const snap = src.snapshot();
    assert.equal(snap.drops['no-coarse-time'], 1);
    assert.equal(snap.drops['coarse-too-uncertain'], 2);
    assert.equal(snap.drops.ambiguous, 3);
    assert.equal(snap.samplesTotal, 1);
    assert.equal(snap.edgesTotal, 7);
  });

  it('a configurable coarse distance', () => {
    const src = new PpsSource({ refId: 'pps:x', maxCoarseDistanceNs: 100_000_000 });
    drop(src.handleEdge(T0, { utcNs: T0 + 150n * MS, errorNs: 0 }), 'ambiguous');
    drop(src.handleEdge(T0 + S, { utcNs: T0 + S, errorNs: 100_000_000 }), 'coarse-too-uncertain');
    sample(src.handleEdge(T0 + 2n * S, { utcNs: T0 + 2n * S + 60n * MS, errorNs: 30_000_000 }));
  });

  it('duplicate-second: the same second (or an earlier one) as the last sample', () => {
    const src = new PpsSource({ refId: 'pps:x' });
    sample(src.handleEdge(T0, { utcNs: T0, errorNs: 0 }));
    // The next edge, a second later, but the coarse source is stuck on the same second.
    drop(src.handleEdge(T0 + S, { utcNs: T0 + 10n * MS, errorNs: 0 }), 'duplicate-second');
    drop(src.handleEdge(T0 + 2n * S, { utcNs: T0 - S, errorNs: 0 }), 'duplicate-second');
    sample(src.handleEdge(T0 + 3n * S, { utcNs: T0 + 3n * S, errorNs: 0 }));
    assert.equal(src.snapshot().drops['duplicate-second'], 2);
  });

  it('edge-reversed, and a new pulse train accepted after three in a row', () => {
    const src = new PpsSource({ refId: 'pps:x' });
    const c = (ns: bigint): { utcNs: bigint; errorNs: number } => ({ utcNs: ns, errorNs: 0 });
    sample(src.handleEdge(T0 + 10n * S, c(T0 + 10n * S)));
    drop(src.handleEdge(T0 + 10n * S, c(T0 + 11n * S)), 'edge-reversed');
    drop(src.handleEdge(T0 + 9n * S, c(T0 + 11n * S)), 'edge-reversed');
    // The third in a row: the local timeline restarted; the edge starts a new train and is sampled.
    const out = sample(src.handleEdge(T0 + 5n * S, c(T0 + 11n * S)));
    assert.equal(out.sample.offsetNs, 6_000_000_000);
    sample(src.handleEdge(T0 + 6n * S, c(T0 + 12n * S)));
    assert.equal(src.snapshot().drops['edge-reversed'], 2);
  });

  it('interval-off: a glitch pulse is dropped and does not disturb the next edge', () => {
    const src = new PpsSource({ refId: 'pps:x' });
    const c = (ns: bigint): { utcNs: bigint; errorNs: number } => ({ utcNs: ns, errorNs: 0 });
    sample(src.handleEdge(T0, c(T0)));
    drop(src.handleEdge(T0 + 300n * MS, c(T0 + 300n * MS)), 'interval-off'); // 0.3 s: a glitch
    sample(src.handleEdge(T0 + S + 900_000n, c(T0 + S))); // 1 s + 0.9 ms: within 1 ms
    drop(src.handleEdge(T0 + 2n * S + 2_100_000n, c(T0 + 2n * S)), 'interval-off'); // 1 s + 1.2 ms
    // A missed pulse: 2 s later, within 2 × 1 ms, is a regular edge.
    sample(src.handleEdge(T0 + 3n * S + 2_800_000n, c(T0 + 3n * S)));
    assert.equal(src.snapshot().drops['interval-off'], 2);
    assert.equal(src.snapshot().samplesTotal, 3);
  });

  it('interval-off: a first edge that was a glitch is forgotten after three off-interval edges', () => {
    const src = new PpsSource({ refId: 'pps:x', intervalToleranceNs: 10_000 });
    const c = (ns: bigint): { utcNs: bigint; errorNs: number } => ({ utcNs: ns, errorNs: 0 });
    sample(src.handleEdge(T0 + 400n * MS, c(T0 + 400n * MS))); // a glitch at .4 taken as the first edge
    drop(src.handleEdge(T0 + S, c(T0 + S)), 'interval-off');
    drop(src.handleEdge(T0 + 2n * S, c(T0 + 2n * S)), 'interval-off');
    sample(src.handleEdge(T0 + 3n * S, c(T0 + 3n * S)));
    sample(src.handleEdge(T0 + 4n * S + 5_000n, c(T0 + 4n * S)));
  });

  it('every drop reason is reachable and counted', () => {
    const src = new PpsSource({ refId: 'pps:x' });
    const c = (ns: bigint, errorNs = 0): { utcNs: bigint; errorNs: number } => ({ utcNs: ns, errorNs });
    drop(src.handleEdge(T0, null), 'no-coarse-time');
    drop(src.handleEdge(T0 + S, c(T0 + S, 500_000_000)), 'coarse-too-uncertain');
    drop(src.handleEdge(T0 + 2n * S, c(T0 + 2n * S + 420n * MS)), 'ambiguous');
    sample(src.handleEdge(T0 + 3n * S, c(T0 + 3n * S)));
    drop(src.handleEdge(T0 + 4n * S, c(T0 + 3n * S)), 'duplicate-second');
    drop(src.handleEdge(T0 + 4n * S, c(T0 + 5n * S)), 'edge-reversed');
    drop(src.handleEdge(T0 + 4n * S + 500n * MS, c(T0 + 5n * S)), 'interval-off');
    const snap = src.snapshot();
    for (const reason of PPS_DROP_REASONS) assert.equal(snap.drops[reason], 1, reason);
    assert.equal(snap.edgesTotal, 7);
    assert.equal(snap.samplesTotal, 1);
    assert.equal(snap.lastSecondUtcNs, T0 + 3n * S);
  });

  it('rejects bad configuration', () => {
    assert.throws(() => new PpsSource({ refId: 'x', maxCoarseDistanceNs: 500_000_000 }), RangeError);
    assert.throws(() => new PpsSource({ refId: 'x', maxCoarseDistanceNs: 0 }), RangeError);
    assert.throws(() => new PpsSource({ refId: 'x', errorNs: -1 }), RangeError);
    assert.throws(() => new PpsSource({ refId: 'x', fudgeNs: 0.5 }), RangeError);
    assert.throws(() => new PpsSource({ refId: 'x', fudgeNs: 600_000_000 }), RangeError);
    assert.throws(() => new PpsSource({ refId: 'x', intervalToleranceNs: -1 }), RangeError);
  });
});
