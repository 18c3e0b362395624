/**
 * The NTPv4 packet header (RFC 5905 §7.3): encode, decode and the checks every NTP packet needs
 * before anything trusts it. Pure: no I/O, no clock, no randomness (the callers pass them in).
 *
 *    0                   1                   2                   3
 *   |LI | VN  |Mode |    Stratum    |     Poll      |   Precision   |   bytes 0–3
 *   |                          Root Delay (16.16)                   |   4–7
 *   |                       Root Dispersion (16.16)                 |   8–11
 *   |                          Reference ID                         |   12–15
 *   |                 Reference Timestamp (64)                      |   16–23
 *   |                    Origin Timestamp (64)                      |   24–31
 *   |                    Receive Timestamp (64)                     |   32–39
 *   |                    Transmit Timestamp (64)                    |   40–47
 *
 * Timestamps stay raw 64-bit NTP values (`bigint`) in the packet: only the receiver knows which era
 * they belong to, so converting them to Unix ns takes a pivot (refclock/ntpTimestamp.ts,
 * `ntp64ToUnixNs(ts, pivotNs)`, which handles the 2036 rollover). The origin timestamp must be
 * compared bit for bit with what was sent, never through a conversion.
 *
 * Peer input is a value, never an exception: `decodeNtpPacket` returns `{ ok: false, error }` with a
 * reason code for every malformed packet (short, bad version, unexpected mode) and never throws on
 * any byte sequence. Bytes beyond the 48-byte header (NTPv4 extension fields, a MAC, NTS) are
 * reported as `extraBytes` and otherwise ignored: a client reads no extension, and a server answers
 * the header of a request that carries some (unauthenticated, as chrony answers a key it lacks).
 *
 * Kiss-o'-Death (RFC 5905 §7.4): a server-mode packet with stratum 0 carries a four-letter ASCII
 * code in its reference id instead of a reference; `kissCode` reads it. RATE asks the client to poll
 * less often; DENY and RSTR say the server will not serve this client at all.
 */
import { ntp64ToUnixNs, unixNsToNtp64 } from './ntpTimestamp.ts';

export const NTP_HEADER_BYTES = 48;
/** The version this codebase speaks; replies echo the request's version (3 or 4). */
export const NTP_VERSION = 4;
export const NTP_VERSIONS_ACCEPTED: readonly number[] = Object.freeze([3, 4]);
export const NTP_PORT = 123;

/** Association modes (RFC 5905 Figure 10). */
export const NTP_MODE = Object.freeze({
  reserved: 0,
  symmetricActive: 1,
  symmetricPassive: 2,
  client: 3,
  server: 4,
  broadcast: 5,
  control: 6,
  private: 7,
} as const);
export type NtpMode = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;

/** Leap indicator: 0 no warning, 1 last minute has 61 s, 2 last minute has 59 s, 3 unsynchronized. */
export type LeapIndicator = 0 | 1 | 2 | 3;
export const LEAP_UNSYNCHRONIZED: LeapIndicator = 3;

/** Stratum 16 means unsynchronized; 0 in a server packet is a Kiss-o'-Death. */
export const STRATUM_UNSYNCHRONIZED = 16;
export const STRATUM_KISS = 0;

/** Largest value of the 16.16 "NTP short" format (root delay, root dispersion), in ns: ~65536 s. */
export const NTP_SHORT_NS_MAX = (0xffffffff / 65536) * 1e9;

export interface NtpPacket {
  leap: LeapIndicator;
  version: number;
  mode: NtpMode;
  /** 0 (kiss or unspecified), 1 primary, 2–15 secondary, 16 unsynchronized; 17–255 reserved. */
  stratum: number;
  /** log2 of the poll interval in seconds (signed). */
  poll: number;
  /** log2 of the clock's precision in seconds (signed; −20 ≈ 1 µs). */
  precision: number;
  /** Round-trip delay to the primary reference, ns (decoded from 16.16 seconds). */
  rootDelayNs: number;
  /** Dispersion (error bound) relative to the primary reference, ns (decoded from 16.16 seconds). */
  rootDispersionNs: number;
  /** Reference id as an unsigned 32-bit number (ASCII tag, IPv4 address or hash). */
  referenceId: number;
  /** Raw 64-bit NTP timestamps; 0 means "not set". */
  referenceTs: bigint;
  originTs: bigint;
  receiveTs: bigint;
  transmitTs: bigint;
}

export type NtpDecodeErrorReason = 'short-packet' | 'bad-version' | 'bad-mode';

export interface NtpDecodeError {
  reason: NtpDecodeErrorReason;
  message: string;
}

export type NtpDecodeResult =
  { ok: true; packet: NtpPacket; extraBytes: number } | { ok: false; error: NtpDecodeError };

// ---------------------------------------------------------------------------------------------------
// The 16.16 short format

/**
 * ns → NTP short (16.16 seconds), rounded UP: root delay and dispersion are error bounds, and
 * rounding them down would promise more than the sender knows. Saturates at 0xffffffff (Infinity and
 * NaN too: an unknown bound is the widest one); zero and negative inputs encode as 0.
 */
export function nsToNtpShort(ns: number): number {
  if (Number.isNaN(ns)) return 0xffffffff;
  if (ns <= 0) return 0;
  // The 1e-6-unit (15 fs) slack absorbs float error, so ns decoded from a short value re-encodes to it.
  const units = Math.ceil((ns * 65536) / 1e9 - 1e-6);
  return units >= 0xffffffff ? 0xffffffff : units;
}

/** NTP short (16.16 seconds, unsigned) → ns. */
export function ntpShortToNs(short: number): number {
  return ((short >>> 0) / 65536) * 1e9;
}

/** Reference id from a tag of up to 4 ASCII characters, left-justified and zero-padded (RFC 5905). */
export function asciiReferenceId(tag: string): number {
  if (!/^[\x20-\x7e]{1,4}$/.test(tag))
    throw new RangeError(`reference id tag must be 1–4 ASCII chars: ${tag}`);
  let id = 0;
  for (let i = 0; i < 4; i++) id = id * 256 + (i < tag.length ? tag.charCodeAt(i) : 0);
  return id >>> 0;
}

/** The reference id as text when it is printable ASCII (trailing NULs dropped), else null. */
export function referenceIdAscii(referenceId: number): string | null {
  let text = '';
  let ended = false;
  for (let shift = 24; shift >= 0; shift -= 8) {
    const c = (referenceId >>> shift) & 0xff;
    if (c === 0) {
      ended = true;
      continue;
    }
    // NULs only pad the end: "A\0B\0" is not a tag.
    if (ended || c < 0x20 || c > 0x7e) return null;
    text += String.fromCharCode(c);
  }
  return text.length > 0 ? text : null;
}

/** How chrony and ntpq print a reference id: the ASCII tag if printable, else dotted quad. */
export function formatReferenceId(referenceId: number): string {
  const ascii = referenceIdAscii(referenceId);
  if (ascii !== null) return ascii;
  const r = referenceId >>> 0;
  return [r >>> 24, (r >>> 16) & 0xff, (r >>> 8) & 0xff, r & 0xff].join('.');
}

// ---------------------------------------------------------------------------------------------------
// Kiss-o'-Death

/** Kiss codes with a defined meaning for a client (RFC 5905 Figure 13, abridged). */
export const KISS_CODES = Object.freeze({
  RATE: 'rate exceeded: poll less often',
  DENY: 'access denied by the server',
  RSTR: 'access denied by the server (restriction)',
  AUTH: 'server authentication failed',
  AUTO: 'autokey sequence failed',
  CRYP: 'cryptographic authentication failed',
  INIT: 'association not yet synchronized',
  STEP: 'step change in system time',
  NKEY: 'no key found',
  RMOT: 'remote host altered the association',
  BCST: 'broadcast server',
  MCST: 'multicast server',
  ACST: 'unicast server',
  DROP: 'lost peer in symmetric mode',
} as const);
export type KnownKissCode = keyof typeof KISS_CODES;

/**
 * The kiss code of a Kiss-o'-Death packet (server or symmetric mode, stratum 0), as text; null when
 * the packet is not a kiss. A kiss whose reference id is not printable ASCII comes back as its dotted
 * form, so the caller can still log it and treat it as an unknown code.
 */
export function kissCode(p: NtpPacket): string | null {
  if (p.stratum !== STRATUM_KISS) return null;
  if (
    p.mode !== NTP_MODE.server &&
    p.mode !== NTP_MODE.symmetricPassive &&
    p.mode !== NTP_MODE.symmetricActive
  )
    return null;
  return referenceIdAscii(p.referenceId) ?? formatReferenceId(p.referenceId);
}

// ---------------------------------------------------------------------------------------------------
// Encode and decode

/** The packet's 48-byte header. Throws (a programming error) on out-of-range fields. */
export function encodeNtpPacket(p: NtpPacket): Uint8Array {
  const intIn = (name: string, v: number, min: number, max: number): number => {
    if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`NTP ${name} out of range: ${v}`);
    return v;
  };
  const u64 = (name: string, v: bigint): bigint => {
    if (v < 0n || v >= 1n << 64n) throw new RangeError(`NTP ${name} timestamp out of range: ${v}`);
    return v;
  };
  const bytes = new Uint8Array(NTP_HEADER_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint8(
    0,
    (intIn('leap', p.leap, 0, 3) << 6) |
      (intIn('version', p.version, 0, 7) << 3) |
      intIn('mode', p.mode, 0, 7),
  );
  view.setUint8(1, intIn('stratum', p.stratum, 0, 255));
  view.setInt8(2, intIn('poll', p.poll, -128, 127));
  view.setInt8(3, intIn('precision', p.precision, -128, 127));
  view.setUint32(4, nsToNtpShort(p.rootDelayNs));
  view.setUint32(8, nsToNtpShort(p.rootDispersionNs));
  view.setUint32(12, intIn('reference id', p.referenceId, 0, 0xffffffff));
  view.setBigUint64(16, u64('reference', p.referenceTs));
  view.setBigUint64(24, u64('origin', p.originTs));
  view.setBigUint64(32, u64('receive', p.receiveTs));
  view.setBigUint64(40, u64('transmit', p.transmitTs));
  return bytes;
}

export interface DecodeOptions {
  /** Modes to accept; a packet in any other mode is a 'bad-mode' error. Default: every mode. */
  modes?: readonly NtpMode[];
}

/** Decodes the 48-byte header. Never throws: every problem is an error value with a reason. */
export function decodeNtpPacket(bytes: Uint8Array, options: DecodeOptions = {}): NtpDecodeResult {
  if (bytes.length < NTP_HEADER_BYTES) {
    return fail('short-packet', `${bytes.length} bytes, an NTP header has ${NTP_HEADER_BYTES}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const first = view.getUint8(0);
  const version = (first >> 3) & 7;
  if (!NTP_VERSIONS_ACCEPTED.includes(version)) {
    return fail('bad-version', `NTP version ${version}, expected ${NTP_VERSIONS_ACCEPTED.join(' or ')}`);
  }
  const mode = (first & 7) as NtpMode;
  if (options.modes !== undefined && !options.modes.includes(mode)) {
    return fail('bad-mode', `NTP mode ${mode}, expected ${options.modes.join(' or ')}`);
  }
  return {
    ok: true,
    packet: {
      leap: (first >> 6) as LeapIndicator,
      version,
      mode,
      stratum: view.getUint8(1),
      poll: view.getInt8(2),
      precision: view.getInt8(3),
      rootDelayNs: ntpShortToNs(view.getUint32(4)),
      rootDispersionNs: ntpShortToNs(view.getUint32(8)),
      referenceId: view.getUint32(12),
      referenceTs: view.getBigUint64(16),
      originTs: view.getBigUint64(24),
      receiveTs: view.getBigUint64(32),
      transmitTs: view.getBigUint64(40),
    },
    extraBytes: bytes.length - NTP_HEADER_BYTES,
  };
}

function fail(reason: NtpDecodeErrorReason, message: string): NtpDecodeResult {
  return { ok: false, error: { reason, message } };
}

// ---------------------------------------------------------------------------------------------------
// Convenience

/** Unix ns → NTP timestamp, with 0 kept for "not set" (an instant that encodes as 0 becomes 1 unit). */
export function toNtpTimestamp(unixNs: bigint | null): bigint {
  if (unixNs === null) return 0n;
  const ts = unixNsToNtp64(unixNs);
  // 2036-02-07T06:28:16Z exactly encodes as 0, which NTP reads as "not set"; move it 0.23 ns.
  return ts === 0n ? 1n : ts;
}

/** NTP timestamp → Unix ns in the era closest to `pivotNs`; null for 0 ("not set"). */
export function fromNtpTimestamp(ts: bigint, pivotNs: bigint): bigint | null {
  return ts === 0n ? null : ntp64ToUnixNs(ts, pivotNs);
}

/** A client-mode request (what a client sends): everything zero but the version, mode and transmit. */
export function clientRequest(transmitTs: bigint, poll: number, version: number = NTP_VERSION): NtpPacket {
  return {
    leap: 0,
    version,
    mode: NTP_MODE.client,
    stratum: 0,
    poll,
    // RFC 5905 lets a client fill in its own precision; chrony sends 0 with a random transmit
    // timestamp (data minimization: nothing about the client's clock leaks).
    precision: 0,
    rootDelayNs: 0,
    rootDispersionNs: 0,
    referenceId: 0,
    referenceTs: 0n,
    originTs: 0n,
    receiveTs: 0n,
    transmitTs,
  };
}
