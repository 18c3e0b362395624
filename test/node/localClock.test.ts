import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostOscillator } from '../../node/localClock.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('hostOscillator', () => {
  it('tracks the host realtime clock when not offset', () => {
    const osc = hostOscillator();
    const diffMs = Number(osc.nowNs() / 1_000_000n) - Date.now();
    assert.ok(Math.abs(diffMs) <= 5, `differs from Date.now() by ${diffMs} ms`);
  });

  it('applies the testing offset and drift, and never goes backwards', async () => {
    const plain = hostOscillator();
    const off = hostOscillator({ offsetNs: 250e6, driftPpm: 1000 });
    const d0 = Number(off.nowNs() - plain.nowNs());
    assert.ok(Math.abs(d0 - 250e6) < 5e6, `offset ${d0}`);
    let prev = off.nowNs();
    for (let i = 0; i < 1000; i++) {
      const now = off.nowNs();
      assert.ok(now >= prev);
      prev = now;
    }
    await sleep(500);
    // 1000 ppm over ~500 ms is ~500 µs more than the plain clock gained. Large against the tens of
    // µs a preemption between the two reads can add on a loaded machine (it failed in CI at 200 ppm).
    const gained = Number(off.nowNs() - plain.nowNs()) - d0;
    assert.ok(gained > 300_000 && gained < 900_000, `drift gained ${gained} ns`);
  });

  it('rejects absurd testing offsets and drifts', () => {
    assert.throws(() => hostOscillator({ offsetNs: 2 * 86_400e9 }), /within ±1 day/);
    assert.throws(() => hostOscillator({ driftPpm: Number.NaN }), /drift/);
  });
});
