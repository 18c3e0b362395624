/**
 * The real node's raw local oscillator: the host's realtime clock read once at start, advanced by the
 * monotonic clock (process.hrtime), so a step of the host clock (by chronyd, an admin) never makes
 * the raw oscillator jump — the core sees a smooth oscillator and measures its offset and frequency.
 *
 * Testing aid, documented as such: `offsetNs` and `driftPpm` make this oscillator run off from the
 * host clock, so several node processes on one machine can have different clocks
 * (`--clock-offset-ms`, `--clock-drift-ppm`). They never touch the host clock.
 */
import { TimemeshError } from '../hlc/errors.ts';

export interface LocalClock {
  /** Raw oscillator reading, ns since the Unix epoch (as the oscillator believes). */
  nowNs(): bigint;
}

export interface HostOscillatorOptions {
  offsetNs?: number;
  driftPpm?: number;
}

/** The clock every real node runs on. Reads only; it has no way to set anything. */
export function hostOscillator(options: HostOscillatorOptions = {}): LocalClock {
  const offsetNs = options.offsetNs ?? 0;
  const driftPpm = options.driftPpm ?? 0;
  if (!Number.isFinite(offsetNs) || Math.abs(offsetNs) > 86_400e9) {
    throw new TimemeshError('TM_ERR_CONFIG', `clock offset must be within ±1 day (got ${offsetNs} ns)`);
  }
  if (!Number.isFinite(driftPpm) || Math.abs(driftPpm) > 1000) {
    throw new TimemeshError('TM_ERR_CONFIG', `clock drift must be within ±1000 ppm (got ${driftPpm})`);
  }
  const startMonoNs = process.hrtime.bigint();
  const startRealNs = BigInt(Date.now()) * 1_000_000n + BigInt(Math.round(offsetNs));
  const scale = driftPpm * 1e-6;
  return {
    nowNs(): bigint {
      const elapsedNs = process.hrtime.bigint() - startMonoNs;
      const driftNs = scale === 0 ? 0n : BigInt(Math.round(Number(elapsedNs) * scale));
      return startRealNs + elapsedNs + driftNs;
    },
  };
}
