/**
 * The PPS driver: a loop that fetches assert edges from a `PpsEdgeReader` (ppsDevice.ts, or a fake in
 * tests), puts each edge on the node's raw local timeline, asks the coarse source which second it is,
 * runs it through the sans-IO PpsSource (ppsSource.ts) and hands the samples to the node's sink.
 *
 * Clocks. The kernel stamps edges with CLOCK_REALTIME; the node runs on its raw oscillator
 * (node/localClock.ts), which is not stepped when realtime is. `realtimeToLocal()` (injected: the
 * daemon passes a clock_gettime-based mapping) returns `offsetNs = local − realtime` now and the
 * uncertainty of that reading; it is read right after every fetch returns, and
 *   edgeLocalNs = edgeRealtimeNs + offsetNs.
 * Its uncertainty is added to the sample's errorNs. HAZARD: the mapping is read after the edge (up to a
 * scheduling latency later with the ioctl, up to a poll interval with sysfs); if realtime is stepped
 * in between (chronyd's makestep, an admin), the edge lands wrong by the step. So the mapping read
 * after each fetch is compared with the one read after the previous fetch (which precedes the edge);
 * if it moved by more than `mappingStepToleranceNs` (default 2 ms) plus both uncertainties, the edge is
 * dropped and counted as `mappingMovedTotal`. Realtime and the monotonic clock share the kernel's
 * frequency correction, so on a real host the mapping only moves by steps (and leap seconds); the
 * tolerance leaves room for the testing oscillator's `--clock-drift-ppm` (1000 ppm over ~1.5 s).
 * Steps smaller than the tolerance are not detected.
 *
 * `coarseTime(edgeLocalNs)` (injected: the daemon passes the last GPS sample extrapolated) names the
 * second; see ppsSource.ts.
 *
 * Robustness: nothing escapes the loop. A fetch that times out is counted as `noEdgeTotal` (an outage
 * counter: with a 1.5 s timeout and a working 1 Hz signal it stays at 0). A reader error is counted
 * and retried after a delay that doubles from `retryDelayMsMin` to `retryDelayMsMax` and resets after a
 * successful fetch. Callbacks (mapping, coarse time, sink, onEvent) that throw are counted, never fatal.
 * Each iteration yields to the event loop, so even a reader that returns at once cannot starve it.
 *
 * Lifetime: the driver owns the reader and closes it in stop(). stop() ends the loop at once (a pending
 * fetch is abandoned, its result discarded) and then awaits `reader.close()`, which for the real ioctl
 * reader waits for the blocking PPS_FETCH to return: stop() resolves within one `fetchTimeoutMs`.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { PpsSource } from './ppsSource.ts';
import type { PpsCoarseTime, PpsSourceConfig, PpsSourceOutcome, PpsSourceSnapshot } from './ppsSource.ts';
import type { PpsEdge, PpsEdgeReader } from './ppsDevice.ts';
import type { ReferenceSampleSink } from './types.ts';

export const PPS_FETCH_TIMEOUT_MS_DEFAULT = 1500;
export const PPS_MAPPING_STEP_TOLERANCE_NS_DEFAULT = 2_000_000;

/** local − realtime, now, and the uncertainty of that reading (ns). */
export interface RealtimeToLocal {
  offsetNs: bigint;
  uncertaintyNs: number;
}

export interface PpsDriverOptions {
  reader: PpsEdgeReader;
  /** A PpsSource, or its config (refId defaults to `pps:<reader.path>`). */
  source: PpsSource | (Omit<PpsSourceConfig, 'refId'> & { refId?: string });
  /** The coarse UTC estimate at a raw local instant, or null when there is none. */
  coarseTime: (localNs: bigint) => PpsCoarseTime | null;
  realtimeToLocal: () => RealtimeToLocal;
  sink: ReferenceSampleSink;
  onEvent?: (event: PpsDriverEvent) => void;
  /** How long one fetch waits for an edge. Default 1500 ms (a missing pulse shows within 1.5 s). */
  fetchTimeoutMs?: number;
  /** Backoff after a reader error: default 500 ms doubling to 30 s. */
  retryDelayMsMin?: number;
  retryDelayMsMax?: number;
  mappingStepToleranceNs?: number;
}

export type PpsDriverEvent =
  | { type: 'edge'; edge: PpsEdge; edgeLocalNs: bigint; outcome: PpsSourceOutcome }
  | { type: 'no-edge'; path: string }
  | { type: 'mapping-moved'; edge: PpsEdge; movedNs: bigint }
  | { type: 'error'; path: string; error: string; code?: string; retryInMs?: number };

export interface PpsDriverSnapshot extends PpsSourceSnapshot {
  path: string;
  method: 'ioctl' | 'sysfs';
  running: boolean;
  fetchesTotal: number;
  /** Fetches that timed out with no edge: the outage counter. */
  noEdgeTotal: number;
  readerErrorsTotal: number;
  /** Thrown by realtimeToLocal or coarseTime, or a mapping that is not a finite, non-negative bound. */
  callbackErrorsTotal: number;
  mappingMovedTotal: number;
  sinkErrorsTotal: number;
  lastError: string | undefined;
}

export class PpsDriver {
  readonly source: PpsSource;
  private readonly reader: PpsEdgeReader;
  private readonly fetchTimeoutMs: number;
  private readonly retryDelayMsMin: number;
  private readonly retryDelayMsMax: number;
  private readonly mappingStepToleranceNs: bigint;
  private retryDelayMs: number;
  private running = false;
  private loop: Promise<void> | null = null;
  private stopRequested = false;
  /** Resolves the current wait (a fetch race or a retry delay) early; set only while waiting. */
  private interruptWait: (() => void) | null = null;
  private lastMapping: RealtimeToLocal | null = null;
  private fetchesTotal = 0;
  private noEdgeTotal = 0;
  private readerErrorsTotal = 0;
  private callbackErrorsTotal = 0;
  private mappingMovedTotal = 0;
  private sinkErrorsTotal = 0;
  private lastError: string | undefined;

  constructor(private readonly options: PpsDriverOptions) {
    this.reader = options.reader;
    this.source =
      options.source instanceof PpsSource
        ? options.source
        : new PpsSource({ ...options.source, refId: options.source.refId ?? `pps:${options.reader.path}` });
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? PPS_FETCH_TIMEOUT_MS_DEFAULT;
    this.retryDelayMsMin = options.retryDelayMsMin ?? 500;
    this.retryDelayMsMax = options.retryDelayMsMax ?? 30_000;
    this.mappingStepToleranceNs = BigInt(
      options.mappingStepToleranceNs ?? PPS_MAPPING_STEP_TOLERANCE_NS_DEFAULT,
    );
    if (!Number.isFinite(this.fetchTimeoutMs) || this.fetchTimeoutMs <= 0)
      throw new RangeError('fetchTimeoutMs must be > 0');
    if (!(this.retryDelayMsMin > 0) || !(this.retryDelayMsMax >= this.retryDelayMsMin))
      throw new RangeError('retry delays must satisfy 0 < retryDelayMsMin ≤ retryDelayMsMax');
    this.retryDelayMs = this.retryDelayMsMin;
  }

  /** Starts the fetch loop. Idempotent; a stopped driver cannot be restarted (its reader is closed). */
  start(): void {
    if (this.running || this.stopRequested) return;
    this.running = true;
    this.loop = this.run().finally(() => (this.loop = null));
  }

  /** Ends the loop at once and closes the reader (waiting at most one fetch timeout for it). */
  async stop(): Promise<void> {
    this.stopRequested = true;
    this.running = false;
    this.interruptWait?.();
    await this.loop;
    await this.reader.close();
  }

  snapshot(): PpsDriverSnapshot {
    return {
      ...this.source.snapshot(),
      path: this.reader.path,
      method: this.reader.method,
      running: this.running,
      fetchesTotal: this.fetchesTotal,
      noEdgeTotal: this.noEdgeTotal,
      readerErrorsTotal: this.readerErrorsTotal,
      callbackErrorsTotal: this.callbackErrorsTotal,
      mappingMovedTotal: this.mappingMovedTotal,
      sinkErrorsTotal: this.sinkErrorsTotal,
      lastError: this.lastError,
    };
  }

  private async run(): Promise<void> {
    this.lastMapping = this.readMapping();
    while (this.running) {
      await yieldToEventLoop();
      if (!this.running) break;
      let edge: PpsEdge | null;
      try {
        this.fetchesTotal++;
        const fetching = this.reader.fetch(this.fetchTimeoutMs);
        fetching.catch(() => {}); // if stop() wins the race, a late rejection is not unhandled
        const interrupted = new Promise<'stopped'>(
          (resolve) => (this.interruptWait = () => resolve('stopped')),
        );
        const result = await Promise.race([fetching, interrupted]).finally(() => (this.interruptWait = null));
        if (result === 'stopped' || !this.running) break;
        edge = result;
      } catch (err) {
        await this.readerFailed(err);
        continue;
      }
      this.retryDelayMs = this.retryDelayMsMin;
      const mapping = this.readMapping();
      const previous = this.lastMapping;
      this.lastMapping = mapping;
      if (edge === null) {
        this.noEdgeTotal++;
        this.emit({ type: 'no-edge', path: this.reader.path });
        continue;
      }
      if (mapping === null) continue; // counted in readMapping
      if (previous !== null) {
        const movedNs = mapping.offsetNs - previous.offsetNs;
        const slackNs =
          this.mappingStepToleranceNs + BigInt(Math.ceil(mapping.uncertaintyNs + previous.uncertaintyNs));
        if (movedNs > slackNs || -movedNs > slackNs) {
          this.mappingMovedTotal++;
          this.emit({ type: 'mapping-moved', edge, movedNs });
          continue;
        }
      }
      this.handleEdge(edge, mapping);
    }
  }

  private handleEdge(edge: PpsEdge, mapping: RealtimeToLocal): void {
    const edgeLocalNs = edge.edgeRealtimeNs + mapping.offsetNs;
    let coarse: PpsCoarseTime | null;
    try {
      coarse = this.options.coarseTime(edgeLocalNs);
    } catch (err) {
      this.callbackErrorsTotal++;
      this.lastError = `coarseTime threw: ${String(err)}`;
      coarse = null; // counted as no-coarse-time by the source, so the pulse train stays tracked
    }
    const outcome = this.source.handleEdge(edgeLocalNs, coarse, mapping.uncertaintyNs);
    this.emit({ type: 'edge', edge, edgeLocalNs, outcome });
    if (outcome.type !== 'sample') return;
    try {
      this.options.sink(outcome.sample);
    } catch (err) {
      this.sinkErrorsTotal++;
      this.lastError = `sink threw: ${String(err)}`;
    }
  }

  /** The mapping, or null (counted) if the callback throws or returns nonsense. */
  private readMapping(): RealtimeToLocal | null {
    try {
      const m = this.options.realtimeToLocal();
      if (typeof m.offsetNs !== 'bigint' || !Number.isFinite(m.uncertaintyNs) || m.uncertaintyNs < 0)
        throw new RangeError(`bad mapping: offsetNs ${String(m.offsetNs)}, uncertaintyNs ${m.uncertaintyNs}`);
      return m;
    } catch (err) {
      this.callbackErrorsTotal++;
      this.lastError = `realtimeToLocal: ${String(err)}`;
      return null;
    }
  }

  private async readerFailed(err: unknown): Promise<void> {
    this.readerErrorsTotal++;
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown } | null)?.code;
    this.lastError = message;
    const retryInMs = this.retryDelayMs;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, this.retryDelayMsMax);
    this.emit({
      type: 'error',
      path: this.reader.path,
      error: message,
      ...(typeof code === 'string' ? { code } : {}),
      retryInMs,
    });
    if (!this.running) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, retryInMs);
      this.interruptWait = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.interruptWait = null;
  }

  private emit(event: PpsDriverEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch (err) {
      this.callbackErrorsTotal++;
      this.lastError = `onEvent threw: ${String(err)}`;
    }
  }
}
