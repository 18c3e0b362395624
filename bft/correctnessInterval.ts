/**
 * The correctness interval of one sample: the offsets that are consistent with the exchange if the
 * source is honest, and how that interval ages.
 *
 * Sign convention: offsets are `source − local` on this node's raw oscillator (hlc/timeTypes.ts).
 *
 * Derivation. Let x be the true offset, d↑ ≥ 0 the request's one-way delay and d↓ ≥ 0 the response's.
 * The source stamps T2 = T1 + d↑ + x and the reply lands at T4 = T3 + d↓ − x, so
 *   θ = ((T2 − T1) + (T3 − T4)) / 2 = x + (d↑ − d↓) / 2   and   δ = d↑ + d↓.
 * Because both one-way delays are non-negative, (d↑ − d↓) / 2 lies in [−δ/2, +δ/2]: truth lies
 * between "all the delay was on the request" and "all the delay was on the response", so
 * x ∈ [θ − δ/2, θ + δ/2] with no assumption about path symmetry. The source's own uncertainty adds
 * on top: its true time is somewhere in [best − errorLow, best + errorHigh], which widens the
 * interval by errorLow below and errorHigh above.
 *
 * Invariant: the result always has lowNs ≤ highNs; garbage in (NaN, negative delay or error) is a
 * bug upstream and throws TM_ERR_BFT_ARGUMENT.
 */
import { BftArgumentError } from './errors.ts';
import type { OffsetInterval, Projection, SourceSample } from './types.ts';

/** [θ − δ/2 − errorLow, θ + δ/2 + errorHigh]: contains the true offset if the source is honest. */
export function correctnessInterval(sample: SourceSample): OffsetInterval {
  assertValidSample(sample);
  const halfDelayNs = sample.delayNs / 2;
  return {
    lowNs: sample.offsetNs - halfDelayNs - sample.sourceErrorLowNs,
    highNs: sample.offsetNs + halfDelayNs + sample.sourceErrorHighNs,
  };
}

/**
 * Ages an interval by `ageNs` of local time: the offset drifts by `frequency · age` (our estimate of
 * the rate), and since that estimate may be wrong by up to `growthRate`, each side widens by
 * `growthRate · age` so the interval keeps containing truth.
 */
export function projectInterval(iv: OffsetInterval, ageNs: number, p: Projection): OffsetInterval {
  assertValidProjection(p);
  if (!(ageNs >= 0) || !Number.isFinite(ageNs)) {
    throw new BftArgumentError(`ageNs must be a finite number ≥ 0, got ${ageNs}`);
  }
  if (!Number.isFinite(iv.lowNs) || !Number.isFinite(iv.highNs) || iv.lowNs > iv.highNs) {
    throw new BftArgumentError(
      `interval must be finite with lowNs ≤ highNs, got [${iv.lowNs}, ${iv.highNs}]`,
    );
  }
  const driftNs = p.frequency * ageNs;
  const wideningNs = p.growthRate * ageNs;
  return { lowNs: iv.lowNs + driftNs - wideningNs, highNs: iv.highNs + driftNs + wideningNs };
}

/** Shared with clockFilter.ts so a sample is checked once, when it enters the filter. */
export function assertValidSample(sample: SourceSample): void {
  if (!Number.isFinite(sample.offsetNs)) {
    throw new BftArgumentError(`sample offsetNs must be finite, got ${sample.offsetNs}`);
  }
  // The negated comparisons reject NaN as well as negative values.
  if (!(sample.delayNs >= 0) || !Number.isFinite(sample.delayNs)) {
    throw new BftArgumentError(`sample delayNs must be finite and ≥ 0, got ${sample.delayNs}`);
  }
  if (!(sample.sourceErrorLowNs >= 0) || !Number.isFinite(sample.sourceErrorLowNs)) {
    throw new BftArgumentError(
      `sample sourceErrorLowNs must be finite and ≥ 0, got ${sample.sourceErrorLowNs}`,
    );
  }
  if (!(sample.sourceErrorHighNs >= 0) || !Number.isFinite(sample.sourceErrorHighNs)) {
    throw new BftArgumentError(
      `sample sourceErrorHighNs must be finite and ≥ 0, got ${sample.sourceErrorHighNs}`,
    );
  }
}

export function assertValidProjection(p: Projection): void {
  if (!Number.isFinite(p.frequency)) {
    throw new BftArgumentError(`projection frequency must be finite, got ${p.frequency}`);
  }
  if (!(p.growthRate >= 0) || !Number.isFinite(p.growthRate)) {
    throw new BftArgumentError(`projection growthRate must be finite and ≥ 0, got ${p.growthRate}`);
  }
}
