import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NTP_UNIX_EPOCH_DELTA_S, ntp64ToUnixNs, unixNsToNtp64 } from '../../refclock/ntpTimestamp.ts';

const S = 1_000_000_000n;
/** 2036-02-07T06:28:16Z, where NTP era 0 ends. */
const ERA1_START_UNIX_S = 2n ** 32n - NTP_UNIX_EPOCH_DELTA_S;

describe('ntpTimestamp', () => {
  it('maps the Unix epoch and known instants', () => {
    assert.equal(unixNsToNtp64(0n), 0x83aa7e80n << 32n);
    // 2000-01-01T00:00:00.5Z: NTP seconds 3 155 673 600, fraction one half.
    const y2k = 946_684_800n * S + 500_000_000n;
    assert.equal(unixNsToNtp64(y2k), (3_155_673_600n << 32n) | 0x80000000n);
    assert.equal(ntp64ToUnixNs((3_155_673_600n << 32n) | 0x80000000n, y2k), y2k);
    assert.equal(ERA1_START_UNIX_S, 2_085_978_496n);
  });

  it('rounds the fraction to nearest and carries into the seconds', () => {
    // 999 999 999 ns = 4 294 967 291.7 fraction units, rounded up.
    assert.equal(unixNsToNtp64(S - 1n) & 0xffffffffn, 0xfffffffcn);
    // The largest fraction is 999 999 999.77 ns: decoding rounds it into the next second.
    const justBelow = unixNsToNtp64(0n) + 0xffffffffn;
    assert.equal(ntp64ToUnixNs(justBelow, 0n), S);
  });

  it('picks the era closest to the pivot around the 2036 rollover', () => {
    const rollNs = ERA1_START_UNIX_S * S;
    // Exactly at the rollover the seconds field is 0 again.
    assert.equal(unixNsToNtp64(rollNs), 0n);
    assert.equal(ntp64ToUnixNs(0n, rollNs + 10n * S), rollNs);
    assert.equal(ntp64ToUnixNs(0n, rollNs - 10n * S), rollNs);
    // A pivot in 1951 puts seconds 0 at 1900-01-01 instead (51 years away, against 85).
    assert.equal(ntp64ToUnixNs(0n, -600_000_000n * S), -NTP_UNIX_EPOCH_DELTA_S * S);
    // From 2000, 2036 (36 years away) is closer than 1900 (100 years).
    assert.equal(ntp64ToUnixNs(0n, 946_684_800n * S), rollNs);
    // Just before the rollover, decoded with a pivot just after it: still era 0.
    const before = rollNs - 1n * S;
    assert.equal(ntp64ToUnixNs(unixNsToNtp64(before), rollNs + 5n * S), before);
    const after = rollNs + 3n * S + 123n;
    assert.equal(ntp64ToUnixNs(unixNsToNtp64(after), rollNs - 5n * S), after);
  });

  it('round-trips every instant within ±60 years of the pivot (property)', () => {
    const sixtyYearsNs = 60n * 365n * 86_400n * S;
    fc.assert(
      fc.property(
        fc.bigInt({ min: -NTP_UNIX_EPOCH_DELTA_S * S, max: 4n * 2n ** 32n * S }),
        fc.bigInt({ min: -sixtyYearsNs, max: sixtyYearsNs }),
        (pivotNs, deltaNs) => {
          const t = pivotNs + deltaNs;
          const ts = unixNsToNtp64(t);
          assert.ok(ts >= 0n && ts < 2n ** 64n);
          assert.equal(ntp64ToUnixNs(ts, pivotNs), t);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses a value outside 64 bits', () => {
    assert.throws(() => ntp64ToUnixNs(-1n, 0n), RangeError);
    assert.throws(() => ntp64ToUnixNs(2n ** 64n, 0n), RangeError);
  });
});
