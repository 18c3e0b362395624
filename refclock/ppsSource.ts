/**
 * A PPS (pulse-per-second) signal as a reference clock, sans-IO: the driver (refclock/ppsDriver.ts)
 * hands every assert edge with the raw local instant it happened (`edgeLocalNs`, on the node's
 * oscillator) and a coarse UTC estimate for that instant (from GPS NMEA, NTP, …) to `handleEdge`, and
 * gets back either a ReferenceSample or a counted drop. Pure: no I/O, no timers, no clock reads.
 *
 * Why a coarse time. A pulse says "a UTC second starts now" very precisely (a good receiver's PPS is
 * within tens of ns of UTC), but not WHICH second. The coarse source names it: the edge's second is
 * the whole UTC second nearest to the coarse estimate (less the fudge). That choice is safe only when
 * the coarse estimate cannot belong to two seconds, so it must lie within `maxCoarseDistanceNs`
 * (default 400 ms) of a whole second even after its own error bound is added; otherwise the edge is
 * dropped as `ambiguous`. A coarse source whose error bound alone reaches that limit is useless for
 * naming seconds (`coarse-too-uncertain`). HAZARD: a coarse source that is wrong by more than its
 * error bound (a receiver reporting the wrong second) produces PPS samples wrong by whole seconds; the
 * mesh's fault-tolerant combination is what catches that (sim scenario with a +1 s GPS).
 *
 * Sign convention (timemesh's, as in gpsSource.ts): offset = reference − raw local, positive when the
 * local oscillator is behind. The edge marks UTC second S plus `fudgeNs` (the cable and receiver
 * delay between the top of the second and the kernel's timestamp; positive when the edge is stamped
 * late), so for an edge at raw local instant L:
 *   offsetNs = (S + fudgeNs) − L,
 * and S is the whole second nearest to (coarse.utcNs − fudgeNs).
 *
 * Error bound: `errorNs` (default 500 ns) is the claimed bound of a good PPS signal plus the kernel's
 * interrupt timestamp (pps-gpio latency, typically 1–20 µs on small boards and below a µs on a PC
 * serial DCD line; set it larger for a slow board). It does NOT cover the mapping of the kernel's
 * CLOCK_REALTIME timestamp onto the node's raw timeline: the driver measures that mapping and passes
 * its uncertainty as `extraErrorNs`, which is added to each sample's errorNs. `delayNs` is 0 (no round
 * trip), stratum 0, kind 'pps'.
 *
 * Pulse-train checks, independent of the coarse time: an edge not after the previous one on the local
 * timeline is `edge-reversed`; an edge whose distance from the last regular edge is not a whole number
 * n ≥ 1 of seconds within n × `intervalToleranceNs` (default 1 ms per second, which also covers a
 * local oscillator off by up to 1000 ppm) is a glitch pulse, `interval-off`. A glitch does not become
 * the reference for the next edge, so one spurious pulse costs one drop. After three consecutive
 * reversed or off-interval edges the source accepts the new pulse train (a restarted device, or a
 * first edge that was itself a glitch). One sample per UTC second: a second equal to or earlier than
 * the last sampled one is `duplicate-second`.
 */
import type { ReferenceSample } from '../node/core/types.ts';

const NS_PER_S = 1_000_000_000n;
/** Default claimed error of a PPS edge's kernel timestamp: 500 ns. */
export const PPS_ERROR_NS_DEFAULT = 500;
/** Default limit on the coarse estimate's distance (plus its error) from a whole second: 400 ms. */
export const PPS_MAX_COARSE_DISTANCE_NS_DEFAULT = 400_000_000;
/** Default tolerance on the pulse interval, per second of interval: 1 ms. */
export const PPS_INTERVAL_TOLERANCE_NS_DEFAULT = 1_000_000;
/** Consecutive reversed or off-interval edges after which the source accepts the new pulse train. */
export const PPS_TRAIN_RESET_COUNT = 3;

export const PPS_DROP_REASONS = [
  'no-coarse-time',
  'coarse-too-uncertain',
  'ambiguous',
  'duplicate-second',
  'edge-reversed',
  'interval-off',
] as const;
export type PpsDropReason = (typeof PPS_DROP_REASONS)[number];

/** The coarse source's UTC estimate AT the edge's local instant, and that estimate's error bound. */
export interface PpsCoarseTime {
  utcNs: bigint;
  errorNs: number;
}

export interface PpsSourceConfig {
  /** Reference id, e.g. `pps:/dev/pps0`. */
  refId: string;
  /** Cable and receiver delay: the edge is stamped at second + fudgeNs. Default 0. */
  fudgeNs?: number;
  /** Error bound of a good edge, ns, before the driver's mapping uncertainty. Default 500. */
  errorNs?: number;
  /** Default 400 ms; must be below 500 ms (half a second), or a coarse time could name two seconds. */
  maxCoarseDistanceNs?: number;
  /** Allowed deviation of the pulse interval per whole second, ns. Default 1 ms. */
  intervalToleranceNs?: number;
}

export type PpsSourceOutcome =
  | { type: 'sample'; sample: ReferenceSample; secondUtcNs: bigint }
  | { type: 'drop'; reason: PpsDropReason; message: string };

export interface PpsSourceSnapshot {
  refId: string;
  fudgeNs: number;
  errorNs: number;
  edgesTotal: number;
  samplesTotal: number;
  drops: Record<PpsDropReason, number>;
  lastSample: ReferenceSample | undefined;
  lastSecondUtcNs: bigint | undefined;
}

/** Floor division for bigints (BigInt `/` truncates toward zero). */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

export class PpsSource {
  readonly refId: string;
  readonly fudgeNs: number;
  readonly errorNs: number;
  readonly maxCoarseDistanceNs: number;
  readonly intervalToleranceNs: number;
  private edgesTotal = 0;
  private samplesTotal = 0;
  private readonly drops: Record<PpsDropReason, number>;
  private lastSample: ReferenceSample | undefined;
  private lastSecondUtcNs: bigint | undefined;
  /** The last edge seen that was not reversed (any outcome otherwise). */
  private lastEdgeLocalNs: bigint | undefined;
  /** The last edge that fitted the pulse train: the reference for the interval check. */
  private lastRegularEdgeLocalNs: bigint | undefined;
  /** Consecutive edges rejected as reversed or off-interval. */
  private irregularCount = 0;

  constructor(config: PpsSourceConfig) {
    this.refId = config.refId;
    this.fudgeNs = config.fudgeNs ?? 0;
    this.errorNs = config.errorNs ?? PPS_ERROR_NS_DEFAULT;
    this.maxCoarseDistanceNs = config.maxCoarseDistanceNs ?? PPS_MAX_COARSE_DISTANCE_NS_DEFAULT;
    this.intervalToleranceNs = config.intervalToleranceNs ?? PPS_INTERVAL_TOLERANCE_NS_DEFAULT;
    if (!Number.isSafeInteger(this.fudgeNs) || Math.abs(this.fudgeNs) >= 500_000_000)
      throw new RangeError('fudgeNs must be an integer within ±500 ms');
    if (!Number.isSafeInteger(this.errorNs) || this.errorNs < 0)
      throw new RangeError('errorNs must be a non-negative integer');
    if (
      !Number.isSafeInteger(this.maxCoarseDistanceNs) ||
      this.maxCoarseDistanceNs <= 0 ||
      this.maxCoarseDistanceNs >= 500_000_000
    )
      throw new RangeError('maxCoarseDistanceNs must be an integer in (0, 500 ms)');
    if (!Number.isSafeInteger(this.intervalToleranceNs) || this.intervalToleranceNs < 0)
      throw new RangeError('intervalToleranceNs must be a non-negative integer');
    this.drops = Object.fromEntries(PPS_DROP_REASONS.map((r) => [r, 0])) as Record<PpsDropReason, number>;
  }

  /**
   * One assert edge at raw local instant `edgeLocalNs`, the coarse UTC estimate for that instant (null
   * when there is none) and the uncertainty the driver's realtime→local mapping adds (ns, ≥ 0).
   */
  handleEdge(edgeLocalNs: bigint, coarse: PpsCoarseTime | null, extraErrorNs = 0): PpsSourceOutcome {
    this.edgesTotal++;

    // The pulse train, on the local timeline alone.
    if (this.lastEdgeLocalNs !== undefined && edgeLocalNs <= this.lastEdgeLocalNs) {
      if (++this.irregularCount < PPS_TRAIN_RESET_COUNT)
        return this.drop('edge-reversed', `edge at ${edgeLocalNs} is not after ${this.lastEdgeLocalNs}`);
      this.resetTrain();
    }
    if (this.lastRegularEdgeLocalNs !== undefined) {
      const gapNs = edgeLocalNs - this.lastRegularEdgeLocalNs;
      const seconds = floorDiv(gapNs + NS_PER_S / 2n, NS_PER_S);
      const deviationNs = gapNs - seconds * NS_PER_S;
      const toleranceNs = seconds * BigInt(this.intervalToleranceNs);
      const abs = deviationNs < 0n ? -deviationNs : deviationNs;
      if (seconds < 1n || abs > toleranceNs) {
        this.lastEdgeLocalNs = edgeLocalNs;
        if (++this.irregularCount < PPS_TRAIN_RESET_COUNT)
          return this.drop(
            'interval-off',
            `edge ${gapNs} ns after the last regular one: not a whole number of seconds within ` +
              `${this.intervalToleranceNs} ns per second (a glitch pulse?)`,
          );
        this.resetTrain();
      }
    }
    this.irregularCount = 0;
    this.lastEdgeLocalNs = edgeLocalNs;
    this.lastRegularEdgeLocalNs = edgeLocalNs;

    // Naming the second.
    if (coarse === null) return this.drop('no-coarse-time', 'no coarse time to name the second of the edge');
    if (!Number.isFinite(coarse.errorNs) || coarse.errorNs < 0 || coarse.errorNs >= this.maxCoarseDistanceNs)
      return this.drop(
        'coarse-too-uncertain',
        `the coarse time's error bound (${coarse.errorNs} ns) is not below ${this.maxCoarseDistanceNs} ns`,
      );
    const nominalNs = coarse.utcNs - BigInt(this.fudgeNs);
    const secondUtcNs = floorDiv(nominalNs + NS_PER_S / 2n, NS_PER_S) * NS_PER_S;
    const distanceNs = Number(nominalNs - secondUtcNs);
    if (Math.abs(distanceNs) + coarse.errorNs > this.maxCoarseDistanceNs)
      return this.drop(
        'ambiguous',
        `the coarse time is ${distanceNs} ns from the nearest second with an error of ${coarse.errorNs} ns: ` +
          `more than ${this.maxCoarseDistanceNs} ns, it could name the wrong second`,
      );
    if (this.lastSecondUtcNs !== undefined && secondUtcNs <= this.lastSecondUtcNs)
      return this.drop(
        'duplicate-second',
        `second ${secondUtcNs / NS_PER_S} is not after the last sampled second ${this.lastSecondUtcNs / NS_PER_S}`,
      );
    this.lastSecondUtcNs = secondUtcNs;

    const extraNs = Number.isFinite(extraErrorNs) && extraErrorNs > 0 ? Math.ceil(extraErrorNs) : 0;
    const sample: ReferenceSample = {
      refId: this.refId,
      kind: 'pps',
      localNs: edgeLocalNs,
      offsetNs: Number(secondUtcNs + BigInt(this.fudgeNs) - edgeLocalNs),
      errorNs: this.errorNs + extraNs,
      delayNs: 0,
      stratum: 0,
    };
    this.samplesTotal++;
    this.lastSample = sample;
    return { type: 'sample', sample, secondUtcNs };
  }

  snapshot(): PpsSourceSnapshot {
    return {
      refId: this.refId,
      fudgeNs: this.fudgeNs,
      errorNs: this.errorNs,
      edgesTotal: this.edgesTotal,
      samplesTotal: this.samplesTotal,
      drops: { ...this.drops },
      lastSample: this.lastSample,
      lastSecondUtcNs: this.lastSecondUtcNs,
    };
  }

  private resetTrain(): void {
    this.irregularCount = 0;
    this.lastEdgeLocalNs = undefined;
    this.lastRegularEdgeLocalNs = undefined;
  }

  private drop(reason: PpsDropReason, message: string): PpsSourceOutcome {
    this.drops[reason]++;
    return { type: 'drop', reason, message };
  }
}
