import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkNonce, evaluateTsqTimes, serverErrorNs } from '../../refclock/tsqExchange.ts';

const BASE = 1_800_000_000_000_000_000n;
const MS = 1_000_000n;

describe('tsqExchange', () => {
  it('computes offset (server − local) and delay as NTP does', () => {
    // Server 250 ms ahead, 1 ms each way, 0.1 ms in the server.
    const t1 = BASE;
    const t2 = BASE + 250n * MS + 1n * MS;
    const t3 = t2 + 100_000n;
    const t4 = BASE + 2n * MS + 100_000n;
    const r = evaluateTsqTimes({ t1LocalNs: t1, t2ServerNs: t2, t3ServerNs: t3, t4LocalNs: t4 });
    assert.ok(r.ok);
    assert.equal(r.figures.offsetNs, 250e6);
    assert.equal(r.figures.delayNs, 2e6);
    assert.equal(r.figures.localNs, BASE + 1_050_000n);
  });

  it('discards the draft’s anomalies, each with its reason', () => {
    const ok = {
      t1LocalNs: BASE,
      t2ServerNs: BASE + MS,
      t3ServerNs: BASE + 2n * MS,
      t4LocalNs: BASE + 3n * MS,
    };
    assert.equal(evaluateTsqTimes(ok).ok, true);
    const reason = (t: typeof ok, max?: number): string | null => {
      const r = evaluateTsqTimes(t, max);
      return r.ok ? null : r.reason;
    };
    assert.equal(reason({ ...ok, t4LocalNs: BASE - 1n }), 'local-time-reversed');
    assert.equal(reason({ ...ok, t3ServerNs: BASE }), 'server-time-reversed');
    // The server claims to have held the request longer than the round trip took: δ < 0, and δ = 0.
    assert.equal(reason({ ...ok, t3ServerNs: BASE + 5n * MS }), 'non-positive-delay');
    assert.equal(reason({ ...ok, t3ServerNs: BASE + 4n * MS }), 'non-positive-delay');
    assert.equal(
      reason({ ...ok, t2ServerNs: BASE + 2000n * MS, t3ServerNs: BASE + 2001n * MS }, 1e9),
      'offset-too-large',
    );
    assert.equal(reason({ ...ok, t2ServerNs: BASE + 2000n * MS, t3ServerNs: BASE + 2001n * MS }), null);
  });

  it('checks the nonce', () => {
    const n = new Uint8Array(16).fill(3);
    assert.equal(checkNonce(n, { nonce: n.slice() }), null);
    assert.equal(checkNonce(n, { nonce: null }), 'nonce-missing');
    assert.equal(checkNonce(n, { nonce: new Uint8Array(16) }), 'nonce-mismatch');
    assert.equal(checkNonce(n, { nonce: new Uint8Array(15).fill(3) }), 'nonce-mismatch');
  });

  it('takes the server error from Clock Quality, none when absent or saturated', () => {
    const cq = (estimatedErrorUs: number) => ({
      clockQuality: { clockClass: 1, estimatedErrorUs, driftRatePpb: 0, sourceTag: '' },
    });
    assert.equal(serverErrorNs(cq(1500)), 1_500_000);
    assert.equal(serverErrorNs(cq(0xffff)), null);
    assert.equal(serverErrorNs({ clockQuality: null }), null);
  });

  it('recovers any offset within the bound from symmetric paths (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -999e6, max: 999e6 }),
        fc.integer({ min: 1, max: 50e6 }),
        fc.integer({ min: 0, max: 1e6 }),
        (offset, oneWay, hold) => {
          const t1 = BASE;
          const t2 = t1 + BigInt(oneWay) + BigInt(offset);
          const t3 = t2 + BigInt(hold);
          const t4 = t3 - BigInt(offset) + BigInt(oneWay);
          const r = evaluateTsqTimes({ t1LocalNs: t1, t2ServerNs: t2, t3ServerNs: t3, t4LocalNs: t4 });
          assert.ok(r.ok);
          assert.equal(r.figures.offsetNs, offset);
          assert.equal(r.figures.delayNs, 2 * oneWay);
        },
      ),
    );
  });
});
