/**
 * Marzullo's algorithm: given n closed offset intervals of which at most n − m may be wrong, find the
 * offsets that at least m of them agree on.
 *
 * Let the covered set S be the points contained in at least `minAgreeing` (m) intervals. The result
 * is [min S, max S]. The guarantee: if at least m intervals contain the true value t, then t ∈ S, so
 * min S ≤ t ≤ max S. S need not be one segment (two disjoint cliques can each reach m), which is why
 * a source is a truechimer only if its interval touches S itself, not merely S's hull; a source that
 * misses S cannot contain t whenever the guarantee's premise holds, so it is a falseticker.
 *
 * Intervals are closed: at equal coordinates starts are counted before ends, so [0, 1] and [1, 2]
 * agree on the point 1. The sweep is O(n log n) (one sort) plus O(log n) per interval for the
 * truechimer test.
 */
import { BftArgumentError } from './errors.ts';
import type { OffsetInterval } from './types.ts';

export type MarzulloResult =
  | {
      ok: true;
      /** Smallest and largest point covered by at least `minAgreeing` intervals. */
      lowNs: number;
      highNs: number;
      /** Indices (ascending) of intervals that contain a point of the covered set. */
      truechimers: number[];
      /** Indices (ascending) of the others. */
      falsetickers: number[];
    }
  | {
      ok: false;
      /** The largest number of intervals that share a point (< minAgreeing). */
      maxOverlap: number;
    };

export function marzullo(intervals: readonly OffsetInterval[], minAgreeing: number): MarzulloResult {
  if (!Number.isInteger(minAgreeing) || minAgreeing < 1) {
    throw new BftArgumentError(`minAgreeing must be an integer ≥ 1, got ${minAgreeing}`);
  }
  const n = intervals.length;
  // Event e < n is the start of interval e; event e ≥ n is the end of interval e − n.
  const coordsNs = new Float64Array(2 * n);
  const events = new Array<number>(2 * n);
  for (let i = 0; i < n; i++) {
    const iv = intervals[i] as OffsetInterval;
    if (!Number.isFinite(iv.lowNs) || !Number.isFinite(iv.highNs) || iv.lowNs > iv.highNs) {
      throw new BftArgumentError(
        `interval ${i} must be finite with lowNs ≤ highNs, got [${iv.lowNs}, ${iv.highNs}]`,
      );
    }
    coordsNs[i] = iv.lowNs;
    coordsNs[n + i] = iv.highNs;
    events[i] = i;
    events[n + i] = n + i;
  }
  events.sort((a, b) => {
    const ca = coordsNs[a] as number;
    const cb = coordsNs[b] as number;
    if (ca !== cb) return ca < cb ? -1 : 1;
    return (a < n ? 0 : 1) - (b < n ? 0 : 1);
  });

  // Depth moves by one per event, so it crosses the threshold exactly at depth === minAgreeing:
  // a start reaching it opens a segment of S, an end leaving it closes one.
  const segmentLowNs: number[] = [];
  const segmentHighNs: number[] = [];
  let depth = 0;
  let maxOverlap = 0;
  for (const e of events) {
    if (e < n) {
      depth++;
      if (depth > maxOverlap) maxOverlap = depth;
      if (depth === minAgreeing) segmentLowNs.push(coordsNs[e] as number);
    } else {
      if (depth === minAgreeing) segmentHighNs.push(coordsNs[e] as number);
      depth--;
    }
  }
  if (segmentLowNs.length === 0) return { ok: false, maxOverlap };

  // Segments are disjoint and in ascending order, so an interval [l, h] touches S iff the first
  // segment ending at or after l starts at or before h.
  const segments = segmentLowNs.length;
  const truechimers: number[] = [];
  const falsetickers: number[] = [];
  for (let i = 0; i < n; i++) {
    const iv = intervals[i] as OffsetInterval;
    let lo = 0;
    let hi = segments;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((segmentHighNs[mid] as number) < iv.lowNs) lo = mid + 1;
      else hi = mid;
    }
    if (lo < segments && (segmentLowNs[lo] as number) <= iv.highNs) truechimers.push(i);
    else falsetickers.push(i);
  }
  return {
    ok: true,
    lowNs: segmentLowNs[0] as number,
    highNs: segmentHighNs[segments - 1] as number,
    truechimers,
    falsetickers,
  };
}
