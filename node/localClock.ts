/**
 * The real node's raw local oscillator: the host's realtime clock read once at start, advanced by the
 * monotonic clock (process.hrtime), so a step of the host clock (by chronyd, an admin) never makes
 * the raw oscillator jump — the core sees a smooth oscillator and measures its offset and frequency.
 *
 * Two sources (`source`): 'monotonic' (the default: process.hrtime, CLOCK_MONOTONIC, which the kernel
 * slews and frequency-corrects along with the system clock) and 'monotonic-raw' (CLOCK_MONOTONIC_RAW
 * through refclock/posixClock.ts: the undisturbed hardware counter, which no adjtimex setting changes).
 * A node that disciplines the system clock must use 'monotonic-raw' (see
 * node/core/systemClockPolicy.ts: otherwise the kernel slews the oscillator the core measures). The raw
 * source starts at realtime − raw measured by a bracketed read (about a microsecond; no spinning).
 *
 * Testing aid, documented as such: `offsetNs` and `driftPpm` make this oscillator run off from the
 * host clock, so several node processes on one machine can have different clocks
 * (`--clock-offset-ms`, `--clock-drift-ppm`). They never touch the host clock.
 */
import { TimemeshError } from '../hlc/errors.ts';
import { monotonicRawNs, realtimeMinusRawNs } from '../refclock/posixClock.ts';

export interface LocalClock {
  /** Raw oscillator reading, ns since the Unix epoch (as the oscillator believes). */
  nowNs(): bigint;
}

export type OscillatorSource = 'monotonic' | 'monotonic-raw';
export const OSCILLATOR_SOURCES: readonly OscillatorSource[] = ['monotonic', 'monotonic-raw'];

export interface HostOscillatorOptions {
  offsetNs?: number;
  driftPpm?: number;
  /** Which host clock advances the oscillator (default 'monotonic'; see the header). */
  source?: OscillatorSource;
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
  const source = options.source ?? 'monotonic';
  if (!OSCILLATOR_SOURCES.includes(source)) {
    throw new TimemeshError(
      'TM_ERR_CONFIG',
      `clock source must be one of ${OSCILLATOR_SOURCES.join(', ')} (got ${String(source)})`,
    );
  }
  // Both read functions return ns on their own clock; realtime − that clock is measured once, at start.
  const read: () => bigint = source === 'monotonic-raw' ? monotonicRawNs : () => process.hrtime.bigint();
  const realMinusSourceNs =
    source === 'monotonic-raw' ? realtimeMinusRawNs().offsetNs : realtimeMinusMonotonicNs();
  const startMonoNs = read();
  const startRealNs = startMonoNs + realMinusSourceNs + BigInt(Math.round(offsetNs));
  const scale = driftPpm * 1e-6;
  return {
    nowNs(): bigint {
      const elapsedNs = read() - startMonoNs;
      const driftNs = scale === 0 ? 0n : BigInt(Math.round(Number(elapsedNs) * scale));
      return startRealNs + elapsedNs + driftNs;
    },
  };
}

/**
 * The host's realtime clock minus the monotonic clock (process.hrtime), to about a microsecond: the
 * realtime reading of any monotonic instant. Date.now() truncates to the millisecond,
 * which would start every oscillator up to 1 ms behind the host (and every NTP client of the node
 * would see it); performance.timeOrigin is no better: under a module loader (tsx) it was measured
 * 1–4 ms off. So: spin until Date.now() ticks over to the next millisecond — at that instant the
 * realtime clock has just passed a whole millisecond — and read the monotonic clock right away.
 * Anything that delays the read (preemption) only makes realtime − monotonic look smaller, so the
 * largest of three readings is kept. Costs at most ~3 ms of spinning, once per oscillator.
 */
export function realtimeMinusMonotonicNs(): bigint {
  let bestNs: bigint | null = null;
  for (let i = 0; i < 3; i++) {
    const before = Date.now();
    let tickMs = before;
    while (tickMs === before) tickMs = Date.now();
    const monoNs = process.hrtime.bigint();
    const realMinusMonoNs = BigInt(tickMs) * 1_000_000n - monoNs;
    if (bestNs === null || realMinusMonoNs > bestNs) bestNs = realMinusMonoNs;
  }
  return bestNs as bigint;
}
