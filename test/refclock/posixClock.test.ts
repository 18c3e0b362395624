// POSIX clocks through koffi (refclock/posixClock.ts): read-only clock_gettime calls only.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CLOCK_IDS,
  PosixClockError,
  clockGettimeNs,
  monotonicNs,
  monotonicRawNs,
  nsToTimespec,
  realtimeMinusRawNs,
  realtimeNs,
  timespecToNs,
} from '../../refclock/posixClock.ts';
import { ccMissing, printFromC } from './cHeaders.ts';

const LP64_LINUX = process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64');
const NOT_LP64_LINUX = LP64_LINUX ? false : `clock_gettime is bound for x64/arm64 Linux only`;

describe('posix clocks (pure parts)', () => {
  it('timespec <-> ns round-trips, normalized, negative times included', () => {
    assert.equal(timespecToNs(nsToTimespec(-1n)), -1n);
    const b = nsToTimespec(-1n);
    assert.equal(b.readBigInt64LE(0), -1n);
    assert.equal(b.readBigInt64LE(8), 999_999_999n);
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }), (ns) => {
        const buf = nsToTimespec(ns);
        const nsec = buf.readBigInt64LE(8);
        assert.ok(nsec >= 0n && nsec < 1_000_000_000n, `tv_nsec ${nsec}`);
        assert.equal(timespecToNs(buf), ns);
      }),
    );
  });
});

describe('posix clocks (real, read-only clock_gettime)', () => {
  it('clock ids match <time.h>, checked with cc when one exists', { skip: NOT_LP64_LINUX }, async (t) => {
    const missing = ccMissing();
    if (missing !== null) return t.skip(missing);
    const names = Object.keys(CLOCK_IDS) as (keyof typeof CLOCK_IDS)[];
    const c = await printFromC(
      ['time.h'],
      [
        'printf("timespec %zu\\n", sizeof(struct timespec));',
        ...names.map((n) => `printf("${n} %d\\n", (int)${n});`),
      ],
    );
    assert.equal(Number(c.get('timespec')), 16, 'sizeof(struct timespec)');
    for (const n of names) assert.equal(Number(c.get(n)), CLOCK_IDS[n], n);
  });

  it(
    'reads realtime near Date.now(), monotonic near process.hrtime, raw advancing',
    { skip: NOT_LP64_LINUX },
    () => {
      const before = BigInt(Date.now()) * 1_000_000n;
      const rt = realtimeNs();
      const after = BigInt(Date.now() + 1) * 1_000_000n;
      assert.ok(rt >= before && rt <= after, `realtime ${rt} not within [${before}, ${after}]`);
      const h1 = process.hrtime.bigint();
      const mono = monotonicNs();
      const h2 = process.hrtime.bigint();
      assert.ok(mono >= h1 && mono <= h2, 'CLOCK_MONOTONIC is process.hrtime’s clock');
      let prev = monotonicRawNs();
      for (let i = 0; i < 1000; i++) {
        const now = monotonicRawNs();
        assert.ok(now >= prev, 'raw never goes back');
        prev = now;
      }
      assert.equal(typeof clockGettimeNs(CLOCK_IDS.CLOCK_REALTIME), 'bigint');
    },
  );

  it('a bad clock id is a typed error', { skip: NOT_LP64_LINUX }, () => {
    assert.throws(
      () => clockGettimeNs(9999),
      (err: unknown) => err instanceof PosixClockError && err.code === 'TM_ERR_POSIX_CLOCK_SYSCALL',
    );
  });

  it('realtime − raw is bracketed tightly and is consistent across calls', { skip: NOT_LP64_LINUX }, (t) => {
    const a = realtimeMinusRawNs();
    const b = realtimeMinusRawNs(20);
    t.diagnostic(`realtime − raw ${a.offsetNs} ns ± ${a.uncertaintyNs} ns; again ± ${b.uncertaintyNs} ns`);
    // A bracket of three vDSO reads is ~1 µs; 1 ms allows for a very loaded machine.
    assert.ok(a.uncertaintyNs >= 0 && a.uncertaintyNs < 1_000_000, `uncertainty ${a.uncertaintyNs}`);
    // Between two calls microseconds apart the difference moves by the kernel's frequency only.
    const driftNs = Number(b.offsetNs - a.offsetNs);
    assert.ok(
      Math.abs(driftNs) <= a.uncertaintyNs + b.uncertaintyNs + 100_000,
      `moved ${driftNs} ns between calls`,
    );
    assert.throws(() => realtimeMinusRawNs(0), RangeError);
  });

  it('costs little per call (measured; printed as a diagnostic)', { skip: NOT_LP64_LINUX }, (t) => {
    const n = 20_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) monotonicRawNs();
    const perCallNs = Number(process.hrtime.bigint() - t0) / n;
    t.diagnostic(`clock_gettime via koffi: ${perCallNs.toFixed(0)} ns per call`);
    // Generous: a loaded CI machine; the header gives the measured 0.2–0.4 µs.
    assert.ok(perCallNs < 50_000, `${perCallNs} ns per call`);
  });
});
