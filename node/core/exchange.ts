/**
 * Turns a completed 4-timestamp exchange into a SourceSample, rejecting what cannot be a real
 * measurement. T1 and T4 are this node's raw oscillator; T2 and T3 are the responder's readings.
 *
 *   θ = ((T2 − T1) + (T3 − T4)) / 2      δ = (T4 − T1) − (T3 − T2)
 *
 * The responder's interval at T3 gives its own error below and above (T3 − earliest, latest − T3).
 * Rejections are values, counted by the caller, never exceptions: the input comes from a peer.
 */
import type { SourceSample } from '../../bft/types.ts';
import type { CompletedExchange, ExchangeRejection } from './types.ts';

/** Offsets beyond this (about 73 years) are nonsense from any clock and would lose precision. */
const MAX_SANE_OFFSET_NS = 2 ** 61;
/** Error bounds beyond this are not an unsynchronized peer's "unbounded" (2^62) but garbage. */
const MAX_ERROR_NS = 2n ** 63n;

export type ExchangeEvaluation =
  { ok: true; sample: SourceSample } | { ok: false; reason: ExchangeRejection };

export function evaluateExchange(x: CompletedExchange): ExchangeEvaluation {
  const r = x.response;
  const serverSpanNs = r.t3PeerNs - r.t2PeerNs;
  if (serverSpanNs < 0n) return { ok: false, reason: 'responder-time-reversed' };
  const delayNs = x.t4LocalNs - x.t1LocalNs - serverSpanNs;
  if (delayNs < 0n) return { ok: false, reason: 'negative-delay' };
  const errorLowNs = r.t3PeerNs - r.earliestNs;
  const errorHighNs = r.latestNs - r.t3PeerNs;
  if (errorLowNs < 0n || errorHighNs < 0n || errorLowNs > MAX_ERROR_NS || errorHighNs > MAX_ERROR_NS) {
    return { ok: false, reason: 'bad-interval' };
  }
  const offsetTwiceNs = r.t2PeerNs - x.t1LocalNs + (r.t3PeerNs - x.t4LocalNs);
  const offsetNs = Number(offsetTwiceNs) / 2;
  if (Math.abs(offsetNs) > MAX_SANE_OFFSET_NS) return { ok: false, reason: 'offset-too-large' };
  return {
    ok: true,
    sample: {
      localNs: x.t4LocalNs,
      offsetNs,
      delayNs: Number(delayNs),
      sourceErrorLowNs: Number(errorLowNs),
      sourceErrorHighNs: Number(errorHighNs),
    },
  };
}
