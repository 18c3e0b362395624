/**
 * bft/: the pure, fault-tolerant core of timemesh's time estimation.
 *
 * From raw exchanges to one offset, in three steps:
 * 1. `correctnessInterval` turns one exchange (θ, δ and the source's own error) into the interval of
 *    offsets that must contain truth if the source is honest; `projectInterval` ages it.
 * 2. A `ClockFilter` per source keeps the last few samples and picks the least-delayed one, projected
 *    to now, with its jitter: that becomes the source's `SourceEstimate`.
 * 3. `combine` takes every source's estimate and, tolerating up to f Byzantine sources, returns an
 *    interval that contains truth (Marzullo with n − f agreeing), a point estimate inside the honest
 *    range (trimmed, distance-weighted median by default), the truechimers and falsetickers, or an explicit
 *    "no quorum" with a human-readable reason.
 *
 * Everything here is pure: time comes in as arguments (`nowLocalNs`), nothing reads a clock, sets a
 * timer or draws random numbers, so the daemon and the simulator drive identical code. Offsets are
 * `source − local` on the raw oscillator, in nanoseconds (hlc/timeTypes.ts). Programmer errors throw
 * `BftArgumentError` (code TM_ERR_BFT_ARGUMENT); bad peer data loses the vote instead.
 *
 * @example
 * ```ts
 * const filter = new ClockFilter();
 * const sample = { localNs: t4LocalNs, offsetNs: 1_200, delayNs: 80_000 };
 * filter.add({ ...sample, sourceErrorLowNs: 0, sourceErrorHighNs: 0 });
 * const est = filter.best(nowLocalNs, { frequency: 0, growthRate: 15e-6 });
 * // ...one SourceEstimate per source, e.g. distanceNs = (est.highNs − est.lowNs) / 2 + est.jitterNs...
 * const result = combine(estimates);
 * if (result.ok) steer(result.offsetNs);
 * else log(result.message); // "4 sources, need 2f+1 = 7 for f = 3"
 * ```
 */
export type {
  CombineResult,
  NoQuorumReason,
  OffsetInterval,
  Projection,
  SourceEstimate,
  SourceSample,
} from './types.ts';
export { correctnessInterval, projectInterval } from './correctnessInterval.ts';
export {
  CLOCK_FILTER_CAPACITY_DEFAULT,
  CLOCK_FILTER_CAPACITY_MAX,
  ClockFilter,
  type FilteredEstimate,
} from './clockFilter.ts';
export { marzullo, type MarzulloResult } from './marzullo.ts';
export { trimmedMedian, trimmedWeightedMean } from './trimmedMedian.ts';
export { faultToleranceFor, majorityFaultToleranceFor } from './faultTolerance.ts';
export { WEIGHT_FLOOR_NS_DEFAULT, combine, type CombineEstimator, type CombineOptions } from './combine.ts';
export { BFT_ARGUMENT_ERROR_CODE, BftArgumentError } from './errors.ts';
