/**
 * What the node's reference clocks and time servers share with it. Two directions:
 *
 * - **Anchors** (NTP and TSQ clients, GPS, PPS) measure an outside reference against the node's raw
 *   local oscillator and hand the node `ReferenceSample`s (node/core/types.ts): offset = reference −
 *   raw local, error bound, delay, stratum. The raw local readings must come from the node's own
 *   clock (`TimeView.localNowNs`), the oscillator the core disciplines; never from Date.now().
 * - **Servers** (NTP and TSQ) answer clients with the node's time: they take the raw local instant a
 *   request arrived and the instant the answer leaves, and ask `TimeView.serveTime` what to say.
 *
 * The real node passes its TimeService (mesh/timeService.ts), which has exactly these methods;
 * `timemesh sync` passes a plain host-clock view.
 */
import type { ReferenceSample, ServedTime } from '../node/core/types.ts';

export interface TimeView {
  /** The node's raw local oscillator now, ns since the Unix epoch (as the oscillator believes). */
  localNowNs(): bigint;
  /** What the node serves for the raw local instant `localNs`. */
  serveTime(localNs: bigint): ServedTime;
}

/** Where anchors deliver their samples (TimeService.addReferenceSample in the node). */
export type ReferenceSampleSink = (sample: ReferenceSample) => void;

/** One upstream measurement, as `timemesh sync` and the logs show it. */
export interface UpstreamMeasurement {
  /** The server, as configured (ntp://host:port, tsq://host:port?mode=…). */
  server: string;
  /** Server time minus our raw local time, ns (θ), and the round-trip delay, ns (δ). */
  offsetNs: number;
  delayNs: number;
  /** The server's stratum (1 for a primary reference). */
  stratum: number;
  /** The bound on the offset's error: the server's root distance plus δ/2 (NTP's rule). */
  errorNs: number;
  /** Raw local instant the measurement refers to (the midpoint of T1 and T4). */
  localNs: bigint;
}
