/**
 * One TSQ exchange, judged: offset and delay from the four timestamps (as NTP computes them) and the
 * draft's anomaly checks. Pure.
 *
 * Clocks: T1 and T4 are readings of this node's raw local oscillator (bigint ns since the Unix
 * epoch); T2 and T3 are the server's clock, decoded from its NTP timestamps. Offset is
 * `server − local` (positive: the local clock is behind), the project's sign convention.
 *
 *   delay  δ = (T4 − T1) − (T3 − T2)
 *   offset θ = ((T2 − T1) + (T3 − T4)) / 2
 *
 * Discarded (each with its reason, counted by the caller): the nonce missing or different, δ ≤ 0,
 * T3 < T2, T4 < T1, |θ| beyond the sanity bound. The error bound handed to the core is the server's
 * own estimated error (Clock Quality) + δ/2: the truth lies between the two one-way paths.
 */
import { ESTIMATED_ERROR_US_MAX } from './tsqCodec.ts';
import type { TsqTimeResponse } from './tsqCodec.ts';

export type TsqRejection =
  | 'nonce-missing'
  | 'nonce-mismatch'
  | 'non-positive-delay'
  | 'server-time-reversed'
  | 'local-time-reversed'
  | 'offset-too-large';

export interface TsqExchangeTimes {
  t1LocalNs: bigint;
  t2ServerNs: bigint;
  t3ServerNs: bigint;
  t4LocalNs: bigint;
}

export interface TsqExchangeFigures {
  offsetNs: number;
  delayNs: number;
  /** The midpoint of T1 and T4 (raw local), the instant the offset refers to. */
  localNs: bigint;
}

/** Default sanity bound on |offset|: NTP's panic threshold, 1000 s. */
export const TSQ_MAX_OFFSET_NS_DEFAULT = 1000e9;

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

export function checkNonce(sent: Uint8Array, response: Pick<TsqTimeResponse, 'nonce'>): TsqRejection | null {
  if (response.nonce === null) return 'nonce-missing';
  return equalBytes(sent, response.nonce) ? null : 'nonce-mismatch';
}

export function evaluateTsqTimes(
  t: TsqExchangeTimes,
  maxOffsetNs: number = TSQ_MAX_OFFSET_NS_DEFAULT,
): { ok: true; figures: TsqExchangeFigures } | { ok: false; reason: TsqRejection } {
  if (t.t4LocalNs < t.t1LocalNs) return { ok: false, reason: 'local-time-reversed' };
  if (t.t3ServerNs < t.t2ServerNs) return { ok: false, reason: 'server-time-reversed' };
  const delayNs = t.t4LocalNs - t.t1LocalNs - (t.t3ServerNs - t.t2ServerNs);
  if (delayNs <= 0n) return { ok: false, reason: 'non-positive-delay' };
  const twiceOffset = t.t2ServerNs - t.t1LocalNs + (t.t3ServerNs - t.t4LocalNs);
  const offsetNs = Number(twiceOffset) / 2;
  if (!(Math.abs(offsetNs) <= maxOffsetNs)) return { ok: false, reason: 'offset-too-large' };
  return {
    ok: true,
    figures: { offsetNs, delayNs: Number(delayNs), localNs: t.t1LocalNs + (t.t4LocalNs - t.t1LocalNs) / 2n },
  };
}

/**
 * The server's own error bound from its Clock Quality, ns; null when it sent none or saturated the
 * field (≥ 65.535 ms or unknown): then the exchange has no usable error bound.
 */
export function serverErrorNs(response: Pick<TsqTimeResponse, 'clockQuality'>): number | null {
  const q = response.clockQuality;
  if (q === null || q.estimatedErrorUs >= ESTIMATED_ERROR_US_MAX) return null;
  return q.estimatedErrorUs * 1000;
}
