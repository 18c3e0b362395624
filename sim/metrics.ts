/**
 * Collects what the report says: at every sample instant, each honest node's error against true time,
 * whether its interval contains true time, and its width; the same for the baseline clocks. Turns the
 * samples into percentiles, convergence time and precision at the end. Percentiles are nearest-rank
 * over all (node, instant) samples from statsFromS on.
 */
import type { AccuracyFigures, NodeTrace } from './reportTypes.ts';

class Samples {
  private buf = new Float64Array(64);
  private n = 0;
  add(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }
  values(): Float64Array {
    return this.buf.subarray(0, this.n);
  }
}

/** Nearest-rank percentiles of the union of several sample sets. */
function percentiles(sets: Float64Array[], qs: number[]): (number | null)[] {
  let total = 0;
  for (const s of sets) total += s.length;
  if (total === 0) return qs.map(() => null);
  const all = new Float64Array(total);
  let at = 0;
  for (const s of sets) {
    all.set(s, at);
    at += s.length;
  }
  all.sort();
  return qs.map((q) => all[Math.max(0, Math.ceil(q * total) - 1)]!);
}

/** Accuracy of one estimator (timemesh or a baseline) across instants. */
export class AccuracyTracker {
  /** Per instant: |error| of every honest node, max |error|, and max − min of the estimates. */
  private readonly perInstant: Float64Array[] = [];
  readonly maxAbsErrorNs: number[] = [];
  readonly spreadNs: number[] = [];
  private instant = new Samples();
  private lo = Infinity;
  private hi = -Infinity;

  beginInstant(): void {
    this.instant = new Samples();
    this.lo = Infinity;
    this.hi = -Infinity;
  }

  add(errorNs: number): void {
    this.instant.add(Math.abs(errorNs));
    if (errorNs < this.lo) this.lo = errorNs;
    if (errorNs > this.hi) this.hi = errorNs;
  }

  endInstant(): void {
    const v = this.instant.values().slice();
    this.perInstant.push(v);
    const none = this.hi === -Infinity;
    this.maxAbsErrorNs.push(none ? Infinity : Math.max(Math.abs(this.lo), Math.abs(this.hi)));
    this.spreadNs.push(none ? 0 : this.hi - this.lo);
  }

  /** p50, p99 and max of |error| at instant i (for plots). */
  instantPercentiles(i: number): (number | null)[] {
    return percentiles([this.perInstant[i]!], [0.5, 0.99, 1]);
  }

  figures(tS: number[], statsFromS: number, thresholdNs: number): AccuracyFigures {
    const sets: Float64Array[] = [];
    let precision: number | null = null;
    for (let i = 0; i < tS.length; i++) {
      if (tS[i]! < statsFromS) continue;
      sets.push(this.perInstant[i]!);
      precision = Math.max(precision ?? 0, this.spreadNs[i]!);
    }
    const [p50, p99, max] = percentiles(sets, [0.5, 0.99, 1]);
    return {
      errorNsP50: p50 ?? null,
      errorNsP99: p99 ?? null,
      errorNsMax: max ?? null,
      convergenceS: convergence(tS, this.maxAbsErrorNs, thresholdNs),
      precisionNsMax: precision,
    };
  }
}

/** First instant from which max |error| stays within the threshold to the end, or null. */
export function convergence(tS: number[], maxAbsErrorNs: number[], thresholdNs: number): number | null {
  let first: number | null = null;
  for (let i = 0; i < tS.length; i++) {
    if (maxAbsErrorNs[i]! <= thresholdNs) {
      if (first === null) first = tS[i]!;
    } else {
      first = null;
    }
  }
  return first;
}

export class IntervalTracker {
  samples = 0;
  misses = 0;
  unsynchronized = 0;
  private readonly perInstant: Float64Array[] = [];
  private instant = new Samples();

  beginInstant(): void {
    this.instant = new Samples();
  }

  add(contained: boolean, widthNs: number): void {
    this.samples++;
    if (!contained) this.misses++;
    this.instant.add(widthNs);
  }

  endInstant(): void {
    this.perInstant.push(this.instant.values().slice());
  }

  widthP50At(i: number): number | null {
    return percentiles([this.perInstant[i]!], [0.5])[0] ?? null;
  }

  widthPercentiles(tS: number[], statsFromS: number): (number | null)[] {
    const sets = this.perInstant.filter((_, i) => tS[i]! >= statsFromS);
    return percentiles(sets, [0.5, 0.99]);
  }
}

export function emptyTrace(id: string, role: NodeTrace['role']): NodeTrace {
  return { id, role, errorNs: [], lowNs: [], highNs: [] };
}
