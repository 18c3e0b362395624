/**
 * Combines the per-source estimates of one node into one offset and one interval, tolerating up to f
 * faulty (even malicious) sources. This is the selection step of chrony's sources.c and of NTP's
 * intersection and clustering algorithms, reduced to what Byzantine tolerance needs.
 *
 * Sign convention: offsets are `source − local` on the raw oscillator, as everywhere in bft/.
 *
 * Steps and why:
 * 1. f = faultToleranceFor(n, configured). Fewer than 2f + 1 sources: no result, because trimming f
 *    from each end would leave nothing.
 * 2. Interval: Marzullo with m = n − f. If at most f sources are faulty, the n − f honest intervals
 *    all contain truth, so truth lies in the result [lowNs, highNs]. No point with n − f agreeing
 *    sources proves more than f are faulty: the answer is "no majority", never a guess.
 * 3. Point estimate. Trim all n offsets (drop the f lowest and f highest): whatever the faulty
 *    sources claim, every survivor lies within the honest offsets' range (trimmedMedian.ts), so the
 *    survivors' [min, max] is a safe range. 'median' takes the survivors' median. 'weighted-median'
 *    (default) takes the median of all truechimers weighted as below, 'weighted-mean'
 *    takes the mean of all truechimers weighted by 1/(distanceNs + weightFloorNs)² and then
 *    clamps it into the survivors' range. Why not weight only the survivors: a precise anchor is
 *    often the extreme value when the rest of the mesh is biased — exactly when it is needed — and
 *    trimming would drop it, leaving no force that pulls the mesh back to true time. Weighting all
 *    truechimers and clamping lets the anchor pull the estimate as far as the edge of the safe range
 *    every round, while a lying "anchor" with distance 0 still cannot push it outside the honest
 *    range. Falsetickers never get weight (unless no truechimer has an offset, which cannot happen
 *    with a quorum).
 * 4. The estimate is clamped into [lowNs, highNs], so the point always lies inside the interval we
 *    publish. Clamping keeps it within the honest offsets' range as well, since each honest offset lies
 *    in its own interval: if truth is below the smallest honest offset, every honest interval
 *    contains [truth, that offset], so highNs ≥ it; otherwise highNs ≥ truth ≥ it. Symmetrically,
 *    lowNs ≤ the largest honest offset.
 *
 * Bad peer data never throws here: it loses the vote. Malformed arguments (NaN, inverted intervals,
 * negative distance, duplicate ids) are bugs upstream and throw TM_ERR_BFT_ARGUMENT.
 */
import { BftArgumentError } from './errors.ts';
import { faultToleranceFor } from './faultTolerance.ts';
import { marzullo } from './marzullo.ts';
import { sortedOrder, weightedMeanOf } from './trimmedMedian.ts';
import type { CombineResult, SourceEstimate } from './types.ts';

export type CombineEstimator = 'weighted-median' | 'weighted-mean' | 'median';

export interface CombineOptions {
  /** Faults to tolerate; null or absent means ⌊(n − 1)/3⌋. */
  faultTolerance?: number | null;
  /** How survivors of the trimming become one offset; default 'weighted-median'. */
  estimator?: CombineEstimator;
  /**
   * Added to every distance before weighting, so a source claiming distance 0 gets a finite weight
   * and sources well below the floor count about equally. Default 1000 ns; must be > 0.
   */
  weightFloorNs?: number;
  /** Cap weights so that no f sources hold half of the total (default true; see capWeights). */
  capWeights?: boolean;
}

export const WEIGHT_FLOOR_NS_DEFAULT = 1000;

export function combine(sources: readonly SourceEstimate[], options: CombineOptions = {}): CombineResult {
  const estimator = options.estimator ?? 'weighted-median';
  if (estimator !== 'weighted-median' && estimator !== 'weighted-mean' && estimator !== 'median') {
    throw new BftArgumentError(
      `estimator must be 'weighted-median', 'weighted-mean' or 'median', got ${String(estimator)}`,
    );
  }
  const weightFloorNs = options.weightFloorNs ?? WEIGHT_FLOOR_NS_DEFAULT;
  if (!(weightFloorNs > 0) || !Number.isFinite(weightFloorNs)) {
    throw new BftArgumentError(`weightFloorNs must be finite and > 0, got ${weightFloorNs}`);
  }
  assertValidSources(sources);

  const n = sources.length;
  const f = faultToleranceFor(n, options.faultTolerance);
  const neededForTrim = 2 * f + 1;
  if (n === 0) {
    return {
      ok: false,
      reason: 'no-sources',
      n,
      f,
      needed: neededForTrim,
      message: `no sources, need 2f+1 = ${neededForTrim} for f = ${f}`,
    };
  }
  if (n < neededForTrim) {
    return {
      ok: false,
      reason: 'too-few-sources',
      n,
      f,
      needed: neededForTrim,
      message: `${plural(n, 'source')}, need 2f+1 = ${neededForTrim} for f = ${f}`,
    };
  }

  const minAgreeing = n - f;
  const selection = marzullo(sources, minAgreeing);
  if (!selection.ok) {
    return {
      ok: false,
      reason: 'no-majority',
      n,
      f,
      needed: minAgreeing,
      message:
        `${plural(n, 'source')} but at most ${selection.maxOverlap} agree on any offset, ` +
        `need n−f = ${minAgreeing} for f = ${f}`,
    };
  }

  const offsetsNs = new Array<number>(n);
  const isFalseticker = new Uint8Array(n);
  for (let i = 0; i < n; i++) offsetsNs[i] = (sources[i] as SourceEstimate).offsetNs;
  for (const i of selection.falsetickers) isFalseticker[i] = 1;

  const survivors = sortedOrder(offsetsNs).slice(f, n - f);
  let safeLowNs = Infinity;
  let safeHighNs = -Infinity;
  for (const i of survivors) {
    const v = offsetsNs[i] as number;
    if (v < safeLowNs) safeLowNs = v;
    if (v > safeHighNs) safeHighNs = v;
  }

  let estimateNs: number;
  if (estimator === 'median') {
    const trusted = survivors.filter((i) => isFalseticker[i] === 0);
    estimateNs = medianOf(offsetsNs, trusted.length > 0 ? trusted : survivors);
  } else {
    const used = selection.truechimers.length > 0 ? selection.truechimers : survivors;
    // Weights relative to the closest source: the largest is exactly 1, so nothing underflows to 0.
    let distanceMinNs = Infinity;
    for (const i of used) distanceMinNs = Math.min(distanceMinNs, (sources[i] as SourceEstimate).distanceNs);
    const weights = new Array<number>(n).fill(0);
    for (const i of used) {
      const ratio =
        (distanceMinNs + weightFloorNs) / ((sources[i] as SourceEstimate).distanceNs + weightFloorNs);
      weights[i] = ratio * ratio;
    }
    if (options.capWeights !== false) capWeights(weights, used, f);
    estimateNs =
      estimator === 'weighted-mean'
        ? weightedMeanOf(offsetsNs, weights, used)
        : weightedMedianOf(offsetsNs, weights, used);
  }
  if (estimateNs < safeLowNs) estimateNs = safeLowNs;
  if (estimateNs > safeHighNs) estimateNs = safeHighNs;
  if (estimateNs < selection.lowNs) estimateNs = selection.lowNs;
  if (estimateNs > selection.highNs) estimateNs = selection.highNs;

  return {
    ok: true,
    offsetNs: estimateNs,
    lowNs: selection.lowNs,
    highNs: selection.highNs,
    n,
    f,
    truechimers: selection.truechimers.map((i) => (sources[i] as SourceEstimate).id),
    falsetickers: selection.falsetickers.map((i) => (sources[i] as SourceEstimate).id),
    anchored: selection.truechimers.some((i) => (sources[i] as SourceEstimate).anchored),
  };
}

/** Median of values[indices]; indices is non-empty and already sorted by value. */
/**
 * Lowers the largest weights to a common cap c, the largest for which the f heaviest sources hold
 * less than half of the total. A weighted median can then never be decided by f sources alone — not
 * even by f liars claiming distance 0 — while a group of precise honest sources still dominates.
 * Found by bisection; weights are ≤ 1 (relative to the closest source).
 */
function capWeights(weights: number[], used: readonly number[], f: number): void {
  if (f === 0 || used.length <= 2 * f) return;
  const sorted = used.map((i) => weights[i] as number).sort((a, b) => b - a);
  const heavyShare = (cap: number): number => {
    let total = 0;
    let heavy = 0;
    for (let k = 0; k < sorted.length; k++) {
      const w = Math.min(sorted[k] as number, cap);
      total += w;
      if (k < f) heavy += w;
    }
    return heavy / total;
  };
  if (heavyShare(sorted[0] as number) < 0.5) return;
  let lo = 0;
  let hi = sorted[0] as number;
  for (let iter = 0; iter < 50; iter++) {
    const mid = (lo + hi) / 2;
    if (heavyShare(mid) < 0.5) lo = mid;
    else hi = mid;
  }
  if (lo <= 0) return;
  for (const i of used) if ((weights[i] as number) > lo) weights[i] = lo;
}

/**
 * The value at half the total weight, walking the values in ascending order; the mean of the two
 * neighbours when the half falls exactly between them. A group of sources can move it only by holding
 * more than half the weight, where a weighted mean lets them pull in proportion to theirs.
 */
function weightedMedianOf(
  values: readonly number[],
  weights: readonly number[],
  indices: readonly number[],
): number {
  const order = [...indices].sort((a, b) => (values[a] as number) - (values[b] as number) || a - b);
  let total = 0;
  for (const i of order) total += weights[i] as number;
  const half = total / 2;
  let cumulative = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k] as number;
    cumulative += weights[i] as number;
    if (cumulative > half) return values[i] as number;
    if (cumulative === half && k + 1 < order.length) {
      return (values[i] as number) / 2 + (values[order[k + 1] as number] as number) / 2;
    }
  }
  return values[order[order.length - 1] as number] as number;
}

function medianOf(values: readonly number[], sortedIndices: readonly number[]): number {
  const count = sortedIndices.length;
  const middle = count >> 1;
  const upper = values[sortedIndices[middle] as number] as number;
  if (count % 2 === 1) return upper;
  const lower = values[sortedIndices[middle - 1] as number] as number;
  return lower / 2 + upper / 2;
}

function assertValidSources(sources: readonly SourceEstimate[]): void {
  const ids = new Set<string>();
  for (const s of sources) {
    if (ids.has(s.id)) throw new BftArgumentError(`duplicate source id ${JSON.stringify(s.id)}`);
    ids.add(s.id);
    if (!Number.isFinite(s.offsetNs)) {
      throw new BftArgumentError(`source ${s.id}: offsetNs must be finite, got ${s.offsetNs}`);
    }
    if (!Number.isFinite(s.lowNs) || !Number.isFinite(s.highNs) || s.lowNs > s.highNs) {
      throw new BftArgumentError(
        `source ${s.id}: interval must be finite with lowNs ≤ highNs, got [${s.lowNs}, ${s.highNs}]`,
      );
    }
    if (!(s.distanceNs >= 0) || !Number.isFinite(s.distanceNs)) {
      throw new BftArgumentError(`source ${s.id}: distanceNs must be finite and ≥ 0, got ${s.distanceNs}`);
    }
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
