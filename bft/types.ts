/**
 * Types shared by the fault-tolerant combination code.
 *
 * Every offset here is `source − local` in nanoseconds relative to this node's *raw* oscillator
 * (see hlc/timeTypes.ts for the sign convention). Keeping samples relative to the raw oscillator
 * means a correction of the disciplined clock never has to rewrite stored samples.
 */

/** One completed 4-timestamp exchange (or one reference-clock reading), already reduced to θ and δ. */
export interface SourceSample {
  /** Raw local oscillator reading when the sample completed (T4 for an exchange). */
  localNs: bigint;
  /** θ = ((T2 − T1) + (T3 − T4)) / 2. */
  offsetNs: number;
  /** δ = (T4 − T1) − (T3 − T2), never negative (a negative δ is rejected before it gets here). */
  delayNs: number;
  /** The source's own error below its best estimate when it answered (best − earliest), ≥ 0. */
  sourceErrorLowNs: number;
  /** The source's own error above its best estimate when it answered (latest − best), ≥ 0. */
  sourceErrorHighNs: number;
}

/** A closed interval of offsets, in nanoseconds: lowNs ≤ highNs. */
export interface OffsetInterval {
  lowNs: number;
  highNs: number;
}

/** How to age a sample from the time it was taken to now. */
export interface Projection {
  /** Estimated rate of change of the raw offset (dimensionless, e.g. 20e-6 = 20 ppm). */
  frequency: number;
  /** Bound on how wrong `frequency` may be, including oscillator wander (dimensionless, ≥ 0). */
  growthRate: number;
}

/** A source's current estimate, projected to "now": what the combination step works on. */
export interface SourceEstimate {
  id: string;
  /** Point estimate of the raw offset now. */
  offsetNs: number;
  /** The correctness interval now: contains the true raw offset if the source is honest. */
  lowNs: number;
  highNs: number;
  /** Total error this source contributes (half-width of its interval plus jitter); lower is better. */
  distanceNs: number;
  /** True when the source says it is tied to a reference (GPS, PPS, NTP, TSQ, local stratum). */
  anchored: boolean;
}

/** Why a combination did not produce a result. */
export type NoQuorumReason = 'no-sources' | 'too-few-sources' | 'no-majority';

export type CombineResult =
  | {
      ok: true;
      /** The combined point estimate of the raw offset, always inside [lowNs, highNs]. */
      offsetNs: number;
      /** Smallest interval consistent with at least n − f sources: contains truth if ≤ f are faulty. */
      lowNs: number;
      highNs: number;
      /** Number of sources considered and the fault tolerance used. */
      n: number;
      f: number;
      truechimers: string[];
      falsetickers: string[];
      /** At least one truechimer is anchored. */
      anchored: boolean;
    }
  | {
      ok: false;
      reason: NoQuorumReason;
      n: number;
      f: number;
      /** How many sources would have been needed. */
      needed: number;
      /** Human-readable explanation, e.g. "3 sources, need 2f+1 = 5 for f = 2". */
      message: string;
    };
