/**
 * The node's recent past for the dashboard (issue #6): a bounded ring buffer of once-a-second samples of
 * its state, served by GET /v1/history. Nothing here is persisted; a restart starts an empty history.
 *
 * Each point holds, for one instant:
 * - `atNs`: the node's best estimate (the monotonic clock /v1/time serves), ns since the Unix epoch;
 * - `offsetNs` = best − the host's CLOCK_REALTIME at the same instant. Sign: positive means the node's
 *   time is ahead of this host's system clock. It is NOT an error against true time: on a host whose
 *   system clock is itself disciplined (by this node or by chrony) it shows how well the two agree; on
 *   an undisciplined host it shows how far the system clock has wandered from the mesh;
 * - `uncertaintyNs`: max(best − earliest, latest − best), null while unsynchronized (no bound exists);
 * - `status` and `stratum` as /v1/time reports them;
 * - `correctionNs` = best − the node's raw oscillator reading: the correction the node applies to its
 *   oscillator (a node started with --clock-offset-ms 480 shows about −480 ms once synchronized). Source
 *   offsets in /v1/peers are against the raw oscillator, so offsetNs − correctionNs is a source's offset
 *   from the node's served time.
 *
 * Invariants: at most `capacity` points (default 3600, one hour at 1 Hz; the oldest go first); points
 * are in sampling order, and since `best` is monotonic their `atNs` never decrease, so a chart can use
 * it as its x axis. The sampling itself (`sampleHistoryPoint`) takes its clock readings as arguments,
 * so tests drive it by hand; only `startHistorySampler` owns a timer, and that timer is unref'd.
 *
 * The host-clock reading: CLOCK_REALTIME through clock_gettime (refclock/posixClock.ts, ns resolution),
 * bracketing the node's own reading (realtime, node, realtime; the midpoint of the two realtime reads
 * is the instant of the node's reading to within half their gap, well under a µs). Off Linux, or if
 * koffi cannot bind, it falls back to Date.now() (1 ms resolution).
 */
import type { SyncStatus } from '../hlc/timeTypes.ts';
import { realtimeNs } from '../refclock/posixClock.ts';

export interface HistoryPoint {
  /** The node's best estimate, ns since the Unix epoch. */
  atNs: bigint;
  /** best − host CLOCK_REALTIME at the same instant, ns (positive: the node is ahead of the host). */
  offsetNs: bigint;
  /** Half-width of the node's interval, ns; null while unsynchronized. */
  uncertaintyNs: bigint | null;
  status: SyncStatus;
  stratum: number;
  /** best − the node's raw oscillator reading (the correction applied to the oscillator), ns. */
  correctionNs: bigint;
}

/** What sampling needs from the node: TimeService's (and NodeCore's) read side. */
export interface HistoryView {
  /** The node's raw oscillator reading, ns. */
  localNowNs(): bigint;
  read(localNs: bigint): { bestNs: bigint; earliestNs: bigint; latestNs: bigint; status: SyncStatus };
  serveTime(localNs: bigint): { stratum: number };
}

export const HISTORY_CAPACITY_DEFAULT = 3600;
export const HISTORY_INTERVAL_MS_DEFAULT = 1000;

/** A fixed-size ring of points, oldest first on read. */
export class History {
  readonly capacity: number;
  private readonly ring: (HistoryPoint | undefined)[];
  /** Index where the next point goes. */
  private next = 0;
  private count = 0;

  constructor(capacity: number = HISTORY_CAPACITY_DEFAULT) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`history capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.ring = new Array<HistoryPoint | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  add(point: HistoryPoint): void {
    this.ring[this.next] = point;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** Every point, oldest first. */
  points(): HistoryPoint[] {
    const out: HistoryPoint[] = [];
    const start = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) out.push(this.ring[(start + i) % this.capacity]!);
    return out;
  }

  /**
   * The points of the last `seconds` of node time: those whose atNs is within `seconds` before the
   * newest point's (newest included), oldest first.
   */
  lastSeconds(seconds: number): HistoryPoint[] {
    const all = this.points();
    const newest = all.at(-1);
    if (newest === undefined) return all;
    const fromNs = newest.atNs - BigInt(Math.round(seconds * 1e9));
    let i = all.length;
    while (i > 0 && all[i - 1]!.atNs > fromNs) i--;
    return all.slice(i);
  }
}

/**
 * One point from readings taken by the caller: the host's realtime just before and just after the
 * node's reading at raw instant `localNs`. Pure: no clock is read here.
 */
export function sampleHistoryPoint(
  view: Pick<HistoryView, 'read' | 'serveTime'>,
  localNs: bigint,
  hostBeforeNs: bigint,
  hostAfterNs: bigint,
): HistoryPoint {
  const r = view.read(localNs);
  const hostNs = (hostBeforeNs + hostAfterNs) / 2n;
  let uncertaintyNs: bigint | null = null;
  if (r.status !== 'unsynchronized') {
    const below = r.bestNs - r.earliestNs;
    const above = r.latestNs - r.bestNs;
    uncertaintyNs = below > above ? below : above;
  }
  return {
    atNs: r.bestNs,
    offsetNs: r.bestNs - hostNs,
    uncertaintyNs,
    status: r.status,
    stratum: view.serveTime(localNs).stratum,
    correctionNs: r.bestNs - localNs,
  };
}

/** The host's CLOCK_REALTIME in ns: clock_gettime when it binds, else Date.now() (1 ms resolution). */
export function hostRealtimeReader(): () => bigint {
  try {
    realtimeNs();
    return realtimeNs;
  } catch {
    return () => BigInt(Date.now()) * 1_000_000n;
  }
}

export interface HistorySamplerOptions {
  intervalMs?: number;
  /** The host's realtime clock, ns; default hostRealtimeReader(). */
  hostRealtimeNs?: () => bigint;
}

/**
 * Samples `view` into `history` now and then every `intervalMs` on an unref'd timer (it never keeps
 * the process alive). Returns the function that stops it. A read that throws skips that second.
 */
export function startHistorySampler(
  history: History,
  view: HistoryView,
  options: HistorySamplerOptions = {},
): () => void {
  const hostNs = options.hostRealtimeNs ?? hostRealtimeReader();
  const sample = (): void => {
    try {
      const before = hostNs();
      const localNs = view.localNowNs();
      const after = hostNs();
      history.add(sampleHistoryPoint(view, localNs, before, after));
    } catch {
      // A stalled or stopping node: no point this second (the chart shows a gap, not a guess).
    }
  };
  sample();
  const timer = setInterval(sample, options.intervalMs ?? HISTORY_INTERVAL_MS_DEFAULT);
  timer.unref();
  return () => clearInterval(timer);
}
