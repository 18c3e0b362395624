import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { TimemeshError } from '../../hlc/errors.ts';
import {
  HLC_MAX_LOGICAL,
  HLC_MAX_WALL_NS,
  HybridLogicalClock,
  compareHlc,
  type HlcTimestamp,
} from '../../hlc/hlc.ts';
import { HlcBeyondHighWaterError, HlcExhaustedError, HlcMaxOffsetError } from '../../hlc/hlcErrors.ts';

const ts = (wallNs: bigint, logical: number, nodeId = 'peer'): HlcTimestamp => ({ wallNs, logical, nodeId });

function assertCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TimemeshError, `expected a TimemeshError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

function assertAfter(later: HlcTimestamp, earlier: HlcTimestamp, what: string): void {
  assert.equal(
    compareHlc(earlier, later),
    -1,
    `${what}: ${later.wallNs}.${later.logical} is not after ${earlier.wallNs}.${earlier.logical}`,
  );
}

/** A clock without persistence whose state is (wallNs, logical), reached through a legitimate observe. */
function clockAt(wallNs: bigint, logical: number, maxOffsetNs = 1_000n): HybridLogicalClock {
  const clock = new HybridLogicalClock({ nodeId: 'me', maxOffsetNs });
  const r = clock.observe(ts(wallNs, logical - 1), wallNs, wallNs);
  assert.ok(r.ok);
  assert.deepEqual(clock.last(), ts(wallNs, logical, 'me'));
  return clock;
}

describe('HybridLogicalClock construction', () => {
  test('rejects bad options with TM_ERR_HLC_CONFIG', () => {
    const base = { nodeId: 'n1', maxOffsetNs: 500n };
    assertCode(() => new HybridLogicalClock({ ...base, nodeId: '' }), 'TM_ERR_HLC_CONFIG');
    assertCode(() => new HybridLogicalClock({ ...base, nodeId: 'x'.repeat(256) }), 'TM_ERR_HLC_CONFIG');
    // 128 two-byte characters: short in UTF-16, 256 bytes in UTF-8.
    assertCode(() => new HybridLogicalClock({ ...base, nodeId: 'é'.repeat(128) }), 'TM_ERR_HLC_CONFIG');
    assertCode(() => new HybridLogicalClock({ ...base, nodeId: 'a\uD800' }), 'TM_ERR_HLC_CONFIG');
    assertCode(() => new HybridLogicalClock({ ...base, maxOffsetNs: 0n }), 'TM_ERR_HLC_CONFIG');
    assertCode(() => new HybridLogicalClock({ ...base, maxOffsetNs: -1n }), 'TM_ERR_HLC_CONFIG');
    assertCode(() => new HybridLogicalClock({ ...base, persistWindowNs: 0n }), 'TM_ERR_HLC_CONFIG');
    assertCode(() => new HybridLogicalClock({ ...base, restoredHighWaterNs: 5n }), 'TM_ERR_HLC_CONFIG');
    assertCode(
      () => new HybridLogicalClock({ ...base, persistence: true, restoredHighWaterNs: -1n }),
      'TM_ERR_HLC_CONFIG',
    );
  });

  test('accepts a 255-byte node id and starts at zero without persistence', () => {
    const clock = new HybridLogicalClock({ nodeId: 'é'.repeat(127) + 'x', maxOffsetNs: 1n });
    assert.deepEqual(clock.last(), ts(0n, 0, 'é'.repeat(127) + 'x'));
    assert.equal(clock.persistedHighWaterNs, null);
    assert.equal(clock.highWaterMarkToPersist(123n), null);
  });
});

describe('now()', () => {
  test('follows physical time and counts within one nanosecond', () => {
    const clock = new HybridLogicalClock({ nodeId: 'me', maxOffsetNs: 100n });
    assert.deepEqual(clock.now(1_000n), ts(1_000n, 0, 'me'));
    assert.deepEqual(clock.now(1_000n), ts(1_000n, 1, 'me'));
    assert.deepEqual(clock.now(900n), ts(1_000n, 2, 'me')); // physical stepped back
    assert.deepEqual(clock.now(1_001n), ts(1_001n, 0, 'me'));
    assert.equal(clock.stats.issued, 4);
  });

  test('is strictly increasing and never behind physical time, whatever physical time does', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 18n }),
        fc.array(
          fc.oneof(fc.bigInt({ min: -1_000n, max: 1_000n }), fc.bigInt({ min: -(10n ** 12n), max: 0n })),
          {
            maxLength: 200,
          },
        ),
        (startNs, stepsNs) => {
          const clock = new HybridLogicalClock({ nodeId: 'me', maxOffsetNs: 1n });
          let physicalNs = startNs;
          let prev = clock.now(physicalNs);
          for (const stepNs of stepsNs) {
            physicalNs += stepNs;
            const next = clock.now(physicalNs);
            assertAfter(next, prev, 'now()');
            assert.ok(next.wallNs >= physicalNs, 'HLC wall fell behind physical time');
            assert.deepEqual(clock.last(), next);
            prev = next;
          }
          assert.equal(clock.stats.issued, stepsNs.length + 1);
        },
      ),
    );
  });
});

describe('observe()', () => {
  test("applies Kulkarni's receive rule", () => {
    const clock = clockAt(100n, 3);
    // Same wall as ours: max(logicals) + 1.
    assert.deepEqual(clock.observe(ts(100n, 7), 90n, 95n), { ok: true, timestamp: ts(100n, 8, 'me') });
    // Same wall, remote counter behind ours: still after ours.
    assert.deepEqual(clock.observe(ts(100n, 1), 90n, 95n), { ok: true, timestamp: ts(100n, 9, 'me') });
    // Remote wall ahead of ours and of physical: remote logical + 1.
    assert.deepEqual(clock.observe(ts(150n, 4), 120n, 130n), { ok: true, timestamp: ts(150n, 5, 'me') });
    // Remote behind us: our logical + 1.
    assert.deepEqual(clock.observe(ts(10n, 99), 120n, 130n), { ok: true, timestamp: ts(150n, 6, 'me') });
    // Physical ahead of both: logical resets.
    assert.deepEqual(clock.observe(ts(160n, 9), 200n, 210n), { ok: true, timestamp: ts(200n, 0, 'me') });
    assert.equal(clock.stats.observed, 6); // including the one clockAt used
  });

  test('returns a timestamp after both the remote and everything before it (property)', () => {
    // Zero steps and remotes at our own wall make the equal-wall branches of the rule common.
    const stepArb = fc.oneof(fc.constant(0n), fc.bigInt({ min: -500n, max: 500n }));
    const op = fc.oneof(
      fc.record({ kind: fc.constant('now' as const), stepNs: stepArb }),
      fc.record({
        kind: fc.constant('observe' as const),
        stepNs: stepArb,
        atOurWall: fc.boolean(),
        remoteAheadNs: fc.bigInt({ min: -2_000n, max: 1_200n }),
        remoteLogical: fc.oneof(
          fc.integer({ min: 0, max: 5 }),
          fc.integer({ min: HLC_MAX_LOGICAL - 2, max: HLC_MAX_LOGICAL }),
        ),
        remoteId: fc.constantFrom('a', 'me', 'zz'),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 150 }), (ops) => {
        const maxOffsetNs = 1_000n;
        const uncertaintyNs = 100n;
        const clock = new HybridLogicalClock({ nodeId: 'me', maxOffsetNs });
        let physicalNs = 1_000_000n;
        let prev = clock.last();
        let rejected = 0;
        for (const o of ops) {
          physicalNs += o.stepNs;
          if (o.kind === 'now') {
            const next = clock.now(physicalNs);
            assertAfter(next, prev, 'now()');
            prev = next;
            continue;
          }
          const latestNs = physicalNs + uncertaintyNs;
          const remoteWallNs = o.atOurWall ? clock.last().wallNs : physicalNs + o.remoteAheadNs;
          const remote = ts(remoteWallNs, o.remoteLogical, o.remoteId);
          const r = clock.observe(remote, physicalNs, latestNs);
          if (remote.wallNs > latestNs + maxOffsetNs) {
            assert.ok(!r.ok && r.error instanceof HlcMaxOffsetError);
            assert.deepEqual(clock.last(), prev, 'a rejection changed the clock');
            rejected += 1;
            continue;
          }
          assert.ok(r.ok, 'a remote within the max offset was rejected');
          assertAfter(r.timestamp, remote, 'observe() vs remote');
          assertAfter(r.timestamp, prev, 'observe() vs previous');
          assert.ok(r.timestamp.wallNs >= physicalNs);
          assert.equal(r.timestamp.nodeId, 'me');
          prev = r.timestamp;
        }
        assert.equal(clock.stats.rejectedMaxOffset, rejected);
      }),
    );
  });

  test('rejects a remote beyond latest + maxOffset as a value and leaves the clock untouched', () => {
    const clock = clockAt(1_000n, 5, 500n);
    const before = clock.last();
    const statsBefore = clock.stats;
    const r = clock.observe(ts(1_000n + 50n + 500n + 1n, 0), 1_000n, 1_050n);
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.ok(r.error instanceof HlcMaxOffsetError);
    assert.ok(r.error instanceof TimemeshError);
    assert.equal(r.error.code, 'TM_ERR_HLC_MAX_OFFSET');
    assert.equal(r.error.remoteWallNs, 1_551n);
    assert.equal(r.error.latestNs, 1_050n);
    assert.equal(r.error.maxOffsetNs, 500n);
    assert.equal(r.error.aheadByNs, 501n);
    assert.match(r.error.message, /maximum offset/);
    assert.deepEqual(clock.last(), before);
    assert.deepEqual(clock.stats, { ...statsBefore, rejectedMaxOffset: 1 });
    // The next now() is exactly what it would have been without the rejected message.
    assert.deepEqual(clock.now(1_000n), ts(1_000n, 6, 'me'));
  });

  test('accepts a remote exactly at latest + maxOffset', () => {
    const clock = new HybridLogicalClock({ nodeId: 'me', maxOffsetNs: 500n });
    const r = clock.observe(ts(1_550n, 2), 1_000n, 1_050n);
    assert.deepEqual(r, { ok: true, timestamp: ts(1_550n, 3, 'me') });
    assert.equal(clock.stats.rejectedMaxOffset, 0);
  });

  test('throws TM_ERR_HLC_MISUSE on a malformed remote or an inverted interval', () => {
    const clock = new HybridLogicalClock({ nodeId: 'me', maxOffsetNs: 500n });
    assertCode(() => clock.observe(ts(1n, -1), 0n, 0n), 'TM_ERR_HLC_MISUSE');
    assertCode(() => clock.observe(ts(1n, 1.5), 0n, 0n), 'TM_ERR_HLC_MISUSE');
    assertCode(() => clock.observe(ts(1n, HLC_MAX_LOGICAL + 1), 0n, 0n), 'TM_ERR_HLC_MISUSE');
    assertCode(() => clock.observe(ts(1n, 0), 10n, 9n), 'TM_ERR_HLC_MISUSE');
    assert.deepEqual(clock.last(), ts(0n, 0, 'me'));
  });
});

describe('logical overflow', () => {
  test('now() advances the wall by 1 ns when the logical counter runs out', () => {
    const clock = clockAt(1_000n, HLC_MAX_LOGICAL - 1);
    assert.deepEqual(clock.now(900n), ts(1_000n, HLC_MAX_LOGICAL, 'me'));
    assert.equal(clock.stats.logicalOverflows, 0);
    assert.deepEqual(clock.now(900n), ts(1_001n, 0, 'me'));
    assert.equal(clock.stats.logicalOverflows, 1);
    assert.deepEqual(clock.now(900n), ts(1_001n, 1, 'me'));
  });

  test('observe() of a remote with an exhausted counter moves past it', () => {
    const clock = new HybridLogicalClock({ nodeId: 'me', maxOffsetNs: 1_000n });
    const remote = ts(2_000n, HLC_MAX_LOGICAL, 'zzz');
    const r = clock.observe(remote, 1_500n, 1_500n);
    assert.deepEqual(r, { ok: true, timestamp: ts(2_001n, 0, 'me') });
    assert.equal(clock.stats.logicalOverflows, 1);
  });

  test('the borrowed nanosecond is absorbed once physical time passes it', () => {
    const clock = clockAt(1_000n, HLC_MAX_LOGICAL);
    assert.deepEqual(clock.now(1_000n), ts(1_001n, 0, 'me'));
    assert.deepEqual(clock.now(1_002n), ts(1_002n, 0, 'me'));
  });

  test('without persistence the wall stops at 2^64 − 1 and then throws instead of overflowing', () => {
    const clock = new HybridLogicalClock({ nodeId: 'me', maxOffsetNs: 1n });
    assert.deepEqual(clock.now(HLC_MAX_WALL_NS + 5n), ts(HLC_MAX_WALL_NS, 0, 'me'));
    assert.equal(clock.stats.stalls, 1);
    assert.equal(clock.observe(ts(HLC_MAX_WALL_NS, HLC_MAX_LOGICAL - 1), 0n, HLC_MAX_WALL_NS).ok, true);
    assertCode(() => clock.now(HLC_MAX_WALL_NS), 'TM_ERR_HLC_EXHAUSTED');
  });
});

describe('persistence and stalls', () => {
  const opts = { nodeId: 'me', maxOffsetNs: 1_000n, persistence: true, persistWindowNs: 100n };

  test('a restored clock issues nothing until a new mark is persisted', () => {
    const clock = new HybridLogicalClock({ ...opts, restoredHighWaterNs: 1_000n });
    assert.deepEqual(clock.last(), ts(1_000n, HLC_MAX_LOGICAL, 'me'));
    assert.equal(clock.persistedHighWaterNs, 1_000n);
    assert.throws(
      () => clock.now(500n),
      (e: unknown) =>
        e instanceof HlcExhaustedError && e.code === 'TM_ERR_HLC_EXHAUSTED' && e.highWaterNs === 1_000n,
    );
    assert.throws(() => clock.now(5_000n), HlcExhaustedError);
    assert.throws(() => clock.observe(ts(900n, 0), 500n, 500n), HlcExhaustedError);
    assert.deepEqual(clock.last(), ts(1_000n, HLC_MAX_LOGICAL, 'me'));
    assert.equal(clock.stats.issued, 0);

    // max(physical 500, last wall 1000) + window.
    assert.equal(clock.highWaterMarkToPersist(500n), 1_100n);
    clock.confirmPersisted(1_100n);
    assert.deepEqual(clock.now(500n), ts(1_001n, 0, 'me'));
    assert.deepEqual(clock.now(1_050n), ts(1_050n, 0, 'me'));
  });

  test('a new node with persistence must persist before its first timestamp', () => {
    const clock = new HybridLogicalClock(opts);
    assert.equal(clock.persistedHighWaterNs, 0n);
    assert.throws(() => clock.now(10_000n), HlcExhaustedError);
    const markNs = clock.highWaterMarkToPersist(10_000n);
    assert.equal(markNs, 10_100n);
    clock.confirmPersisted(10_100n);
    assert.deepEqual(clock.now(10_000n), ts(10_000n, 0, 'me'));
  });

  test('highWaterMarkToPersist renews only below half a window of headroom', () => {
    const clock = new HybridLogicalClock(opts);
    clock.confirmPersisted(1_100n);
    clock.now(1_000n);
    // Headroom 100 ≥ 50: nothing to do.
    assert.equal(clock.highWaterMarkToPersist(1_000n), null);
    // Headroom exactly 50 is still enough.
    assert.equal(clock.highWaterMarkToPersist(1_050n), null);
    // Headroom 49: renew from the physical reading.
    assert.equal(clock.highWaterMarkToPersist(1_051n), 1_151n);
    // The clock's own wall counts when it is ahead of physical time.
    clock.observe(ts(1_090n, 0), 1_000n, 1_000n);
    assert.equal(clock.highWaterMarkToPersist(1_000n), 1_190n);
  });

  test('stalls at the mark with an incrementing logical counter, then throws when exhausted', () => {
    const clock = new HybridLogicalClock(opts);
    clock.confirmPersisted(1_100n);
    assert.deepEqual(clock.now(1_000n), ts(1_000n, 0, 'me'));
    assert.deepEqual(clock.now(2_000n), ts(1_100n, 0, 'me'));
    assert.deepEqual(clock.now(3_000n), ts(1_100n, 1, 'me'));
    assert.equal(clock.stats.stalls, 2);
    // Pending write: the mark is not confirmed yet, so the clock keeps stalling.
    const markNs = clock.highWaterMarkToPersist(3_000n);
    assert.equal(markNs, 3_100n);
    assert.deepEqual(clock.now(3_000n), ts(1_100n, 2, 'me'));
    assert.equal(clock.stats.stalls, 3);

    // Use up the counter at the mark through an accepted remote.
    const r = clock.observe(ts(1_100n, HLC_MAX_LOGICAL - 1), 3_000n, 3_000n);
    assert.deepEqual(r, { ok: true, timestamp: ts(1_100n, HLC_MAX_LOGICAL, 'me') });
    const before = clock.last();
    const statsBefore = clock.stats;
    assert.throws(() => clock.now(3_000n), /could not be persisted in time.*writable/s);
    assertCode(() => clock.now(1_000n), 'TM_ERR_HLC_EXHAUSTED');
    assert.deepEqual(clock.last(), before);
    assert.deepEqual(clock.stats, statsBefore);

    clock.confirmPersisted(3_100n);
    assert.deepEqual(clock.now(3_000n), ts(3_000n, 0, 'me'));
    assert.equal(clock.stats.stalls, 4);
  });

  test('refuses, as a value, a remote that leaves no room below the mark', () => {
    const clock = new HybridLogicalClock(opts);
    clock.confirmPersisted(1_100n);
    clock.now(1_000n);
    const before = clock.last();
    for (const remote of [ts(1_101n, 0), ts(1_100n, HLC_MAX_LOGICAL)]) {
      const r = clock.observe(remote, 1_000n, 1_000n);
      assert.ok(!r.ok);
      assert.ok(r.error instanceof HlcBeyondHighWaterError);
      assert.equal(r.error.code, 'TM_ERR_HLC_BEYOND_HIGH_WATER');
      assert.equal(r.error.highWaterNs, 1_100n);
      assert.equal(r.error.remoteWallNs, remote.wallNs);
    }
    assert.deepEqual(clock.last(), before);
    assert.equal(clock.stats.rejectedBeyondHighWater, 2);
    assert.equal(clock.stats.rejectedMaxOffset, 0);
    // Just inside the mark is fine.
    assert.deepEqual(clock.observe(ts(1_100n, HLC_MAX_LOGICAL - 1), 1_000n, 1_000n), {
      ok: true,
      timestamp: ts(1_100n, HLC_MAX_LOGICAL, 'me'),
    });
  });

  test('confirmPersisted refuses out-of-order confirmations and use without persistence', () => {
    const clock = new HybridLogicalClock(opts);
    clock.confirmPersisted(2_000n);
    clock.confirmPersisted(2_000n); // idempotent
    assertCode(() => clock.confirmPersisted(1_999n), 'TM_ERR_HLC_MISUSE');
    assert.equal(clock.persistedHighWaterNs, 2_000n);
    const plain = new HybridLogicalClock({ nodeId: 'me', maxOffsetNs: 1n });
    assertCode(() => plain.confirmPersisted(5n), 'TM_ERR_HLC_MISUSE');
  });

  test('restart monotonicity: after a crash at any point, restoring the persisted mark never goes back', () => {
    type Op =
      | { kind: 'now'; stepNs: bigint }
      | { kind: 'observe'; stepNs: bigint; remoteAheadNs: bigint; remoteLogical: number }
      | { kind: 'persistBegin' }
      | { kind: 'persistEnd' };
    const step = fc.oneof(fc.bigInt({ min: -300n, max: 300n }), fc.bigInt({ min: -100_000n, max: 100_000n }));
    const op: fc.Arbitrary<Op> = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant('now' as const), stepNs: step }), weight: 5 },
      {
        arbitrary: fc.record({
          kind: fc.constant('observe' as const),
          stepNs: step,
          remoteAheadNs: fc.bigInt({ min: -1_000n, max: 2_000n }),
          remoteLogical: fc.oneof(fc.nat(10), fc.constant(HLC_MAX_LOGICAL - 1), fc.constant(HLC_MAX_LOGICAL)),
        }),
        weight: 3,
      },
      { arbitrary: fc.constant({ kind: 'persistBegin' as const }), weight: 1 },
      { arbitrary: fc.constant({ kind: 'persistEnd' as const }), weight: 1 },
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 120 }),
        fc.boolean(), // did the pending write reach the disk before the crash?
        fc.bigInt({ min: -10_000_000n, max: 10_000_000n }), // physical clock jump across the restart
        fc.array(fc.bigInt({ min: -1_000n, max: 1_000n }), { minLength: 1, maxLength: 20 }),
        (ops, pendingReachedDisk, restartJumpNs, afterStepsNs) => {
          const persistWindowNs = 1_000n;
          const clockOpts = { nodeId: 'me', maxOffsetNs: 500n, persistence: true, persistWindowNs };
          const clock = new HybridLogicalClock(clockOpts);
          let physicalNs = 1_000_000_000n;
          let diskNs = 0n;
          let pendingNs: bigint | null = null;
          const seen: HlcTimestamp[] = [];
          const persistNow = (): void => {
            const markNs = clock.highWaterMarkToPersist(physicalNs);
            if (markNs !== null) {
              diskNs = markNs;
              clock.confirmPersisted(markNs);
            }
          };
          persistNow();

          for (const o of ops) {
            if (o.kind === 'persistBegin') {
              // One write in flight at a time, as the node must serialize them.
              pendingNs ??= clock.highWaterMarkToPersist(physicalNs);
              continue;
            }
            if (o.kind === 'persistEnd') {
              if (pendingNs !== null) {
                diskNs = pendingNs;
                clock.confirmPersisted(pendingNs);
                pendingNs = null;
              }
              continue;
            }
            physicalNs += o.stepNs;
            const confirmedNs = clock.persistedHighWaterNs ?? -1n;
            const before = clock.last();
            try {
              if (o.kind === 'now') {
                seen.push(clock.now(physicalNs));
              } else {
                const remote = ts(physicalNs + o.remoteAheadNs, o.remoteLogical);
                const r = clock.observe(remote, physicalNs, physicalNs);
                if (r.ok) seen.push(remote, r.timestamp);
              }
            } catch (e) {
              // Stalled at the mark with the counter used up: a refusal, which must change nothing.
              assert.ok(e instanceof HlcExhaustedError, String(e));
              assert.deepEqual(clock.last(), before);
            }
            assert.ok(clock.last().wallNs <= confirmedNs, 'issued a wall time above the confirmed mark');
          }

          // Crash. The disk holds the last confirmed mark, or a newer one whose confirmation was lost.
          const restoredNs = pendingReachedDisk && pendingNs !== null ? pendingNs : diskNs;
          const restarted = new HybridLogicalClock({ ...clockOpts, restoredHighWaterNs: restoredNs });
          physicalNs += restartJumpNs;
          const markNs = restarted.highWaterMarkToPersist(physicalNs);
          if (markNs === null) assert.fail('a restored clock must ask for a new mark');
          restarted.confirmPersisted(markNs);

          const maxBefore = seen.reduce<HlcTimestamp>((m, t) => (compareHlc(t, m) > 0 ? t : m), ts(0n, 0));
          let prev = restarted.now(physicalNs);
          assertAfter(prev, maxBefore, 'first timestamp after restart');
          for (const stepNs of afterStepsNs) {
            physicalNs += stepNs;
            const next = restarted.now(physicalNs);
            assertAfter(next, prev, 'after restart');
            prev = next;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('views', () => {
  test('last() and stats are copies that callers cannot use to change the clock', () => {
    const clock = new HybridLogicalClock({ nodeId: 'me', maxOffsetNs: 1n });
    const t = clock.now(10n);
    t.wallNs = 10_000n;
    clock.last().logical = 99;
    const s = clock.stats;
    s.issued = 42;
    assert.deepEqual(clock.last(), ts(10n, 0, 'me'));
    assert.equal(clock.stats.issued, 1);
    assert.deepEqual(clock.now(10n), ts(10n, 1, 'me'));
  });
});
