/**
 * Fault-tolerant averaging (the Lundelius–Lynch / Welch–Lynch fault-tolerant midpoint family).
 *
 * Why trimming works: sort the n values and drop the f lowest and the f highest. If at most f values
 * are faulty, every value that remains lies between the smallest and the largest honest value: a
 * survivor below every honest value would have the f dropped low values below it too, f + 1 values
 * below the honest range, and they cannot all be faulty (symmetrically above). Any convex combination
 * of the survivors (their median, their mean, a weighted mean with non-negative weights) therefore
 * lies in the honest range too, however the faulty values were chosen.
 *
 * How many sources: n ≥ 2f + 1 is enough for that per-round bound, since it leaves at least one value
 * after trimming. It is not enough for a mesh to converge: a faulty source can be two-faced and tell
 * different peers different things, and with n ≤ 3f it can steer two honest nodes to opposite ends
 * of the honest range, round after round, so they never come together. With n ≥ 3f + 1 the results of
 * any two honest nodes are provably closer together than the honest inputs were, so repeated rounds
 * converge (approximate agreement: Dolev, Lynch, Pinter, Stark and Weihl, 1986). That is why
 * faultToleranceFor defaults to ⌊(n − 1)/3⌋.
 *
 * Ties at the trimming boundary are broken by input position, so the weighted variant is
 * deterministic. Results are clamped to [min, max] of the survivors, so floating-point rounding can
 * never take them outside the range the guarantee talks about.
 */
import { BftArgumentError } from './errors.ts';
import { assertFaultCount } from './faultTolerance.ts';

/** Median of the values left after dropping the f lowest and f highest; null if fewer than 2f + 1. */
export function trimmedMedian(values: readonly number[], f: number): number | null {
  assertFaultCount(f);
  const n = values.length;
  for (let i = 0; i < n; i++) assertFiniteValue(values[i] as number, i);
  if (n < 2 * f + 1) return null;
  const sorted = Float64Array.from(values).sort();
  const kept = n - 2 * f;
  const middle = f + (kept >> 1);
  if (kept % 2 === 1) return sorted[middle] as number;
  // Halving each side first cannot overflow, unlike (a + b) / 2 near ±Number.MAX_VALUE.
  return (sorted[middle - 1] as number) / 2 + (sorted[middle] as number) / 2;
}

/** Weighted mean of the values left after dropping the f lowest and f highest; null if fewer than 2f + 1. */
export function trimmedWeightedMean(
  entries: readonly { value: number; weight: number }[],
  f: number,
): number | null {
  assertFaultCount(f);
  const n = entries.length;
  const values = new Array<number>(n);
  const weights = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const entry = entries[i] as { value: number; weight: number };
    assertFiniteValue(entry.value, i);
    assertWeight(entry.weight, i);
    values[i] = entry.value;
    weights[i] = entry.weight;
  }
  if (n < 2 * f + 1) return null;
  const order = sortedOrder(values);
  return weightedMeanOf(values, weights, order.slice(f, n - f));
}

/** Input indices sorted by value, ties by index. Shared with combine.ts, which trims the same way. */
export function sortedOrder(values: readonly number[]): number[] {
  const order = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) order[i] = i;
  return order.sort((a, b) => {
    const va = values[a] as number;
    const vb = values[b] as number;
    if (va !== vb) return va < vb ? -1 : 1;
    return a - b;
  });
}

/**
 * Σ wᵢvᵢ / Σ wᵢ over `indices` (non-empty), computed so it stays inside [min, max] of those values:
 * weights are scaled by the largest one before summing (no overflow or underflow to a zero total)
 * and the result is clamped against rounding. All-zero weights mean "no preference": plain mean.
 */
export function weightedMeanOf(
  values: readonly number[],
  weights: readonly number[],
  indices: readonly number[],
): number {
  if (indices.length === 0) throw new BftArgumentError('weighted mean of no values');
  let weightMax = 0;
  let minValue = Infinity;
  let maxValue = -Infinity;
  for (const i of indices) {
    const w = weights[i] as number;
    const v = values[i] as number;
    if (w > weightMax) weightMax = w;
    if (v < minValue) minValue = v;
    if (v > maxValue) maxValue = v;
  }
  let weightTotal = 0;
  for (const i of indices) weightTotal += weightMax > 0 ? (weights[i] as number) / weightMax : 1;
  let mean = 0;
  for (const i of indices) {
    const share = (weightMax > 0 ? (weights[i] as number) / weightMax : 1) / weightTotal;
    mean += share * (values[i] as number);
  }
  return mean < minValue ? minValue : mean > maxValue ? maxValue : mean;
}

function assertFiniteValue(value: number, index: number): void {
  if (!Number.isFinite(value)) {
    throw new BftArgumentError(`value ${index} must be finite, got ${value}`);
  }
}

function assertWeight(weight: number, index: number): void {
  if (!(weight >= 0) || !Number.isFinite(weight)) {
    throw new BftArgumentError(`weight ${index} must be finite and ≥ 0, got ${weight}`);
  }
}
