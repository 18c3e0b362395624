/**
 * The 64-bit NTP timestamp (RFC 5905 §6) and its conversion to and from the project's absolute time,
 * integer nanoseconds since the Unix epoch (`bigint`). Shared by the NTP and the TSQ codecs. Pure.
 *
 * Layout: the high 32 bits are seconds since 1900-01-01 00:00:00 UTC modulo 2³², the low 32 bits a
 * binary fraction of a second (1 unit ≈ 0.233 ns). Unix seconds = NTP seconds − 2 208 988 800.
 *
 * Eras. The seconds field wraps every 2³² s (≈ 136 years): era 0 ends 2036-02-07T06:28:16Z. A
 * timestamp alone cannot say which era it is in, so decoding takes a pivot, a time known to be within
 * ±68 years of the timestamp (the local clock), and picks the era that puts the result closest to it
 * (RFC 5905's and chrony's rule). Encoding simply drops the era.
 *
 * Rounding: both directions round to nearest. A fraction unit is smaller than half a nanosecond, so
 * `ntp64ToUnixNs(unixNsToNtp64(t), pivot) === t` for every t within ±68 years of the pivot.
 */

/** Seconds from 1900-01-01 (NTP prime epoch) to 1970-01-01 (Unix epoch). */
export const NTP_UNIX_EPOCH_DELTA_S = 2_208_988_800n;

const NS_PER_S = 1_000_000_000n;
const TWO_32 = 1n << 32n;
const ERA_NS = TWO_32 * NS_PER_S;
const EPOCH_DELTA_NS = NTP_UNIX_EPOCH_DELTA_S * NS_PER_S;

/** Euclidean modulo for bigint (the result is in [0, m)). */
function mod(x: bigint, m: bigint): bigint {
  const r = x % m;
  return r < 0n ? r + m : r;
}

/** Floor division for bigint. */
function floorDiv(x: bigint, m: bigint): bigint {
  return (x - mod(x, m)) / m;
}

/** Unix ns → 64-bit NTP timestamp (era dropped, fraction rounded to nearest). */
export function unixNsToNtp64(unixNs: bigint): bigint {
  const ntpNs = unixNs + EPOCH_DELTA_NS;
  const seconds = floorDiv(ntpNs, NS_PER_S);
  const remNs = ntpNs - seconds * NS_PER_S;
  // At most 999 999 999 ns → 4 294 967 292 units: rounding never carries into the seconds.
  const fraction = (remNs * TWO_32 + NS_PER_S / 2n) / NS_PER_S;
  return (mod(seconds, TWO_32) << 32n) | fraction;
}

/**
 * 64-bit NTP timestamp → Unix ns, in the era that puts the result closest to `pivotNs` (Unix ns,
 * usually the local clock now). `ts` must be in [0, 2⁶⁴).
 */
export function ntp64ToUnixNs(ts: bigint, pivotNs: bigint): bigint {
  if (ts < 0n || ts >= 1n << 64n) throw new RangeError(`NTP timestamp out of range: ${ts}`);
  const seconds = ts >> 32n;
  const fraction = ts & (TWO_32 - 1n);
  const withinEraNs = seconds * NS_PER_S + (fraction * NS_PER_S + TWO_32 / 2n) / TWO_32;
  const pivotNtpNs = pivotNs + EPOCH_DELTA_NS;
  const era = floorDiv(pivotNtpNs, ERA_NS);
  let best = 0n;
  let bestDistance = -1n;
  for (const e of [era - 1n, era, era + 1n]) {
    const candidate = e * ERA_NS + withinEraNs;
    const distance = candidate > pivotNtpNs ? candidate - pivotNtpNs : pivotNtpNs - candidate;
    if (bestDistance < 0n || distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best - EPOCH_DELTA_NS;
}
