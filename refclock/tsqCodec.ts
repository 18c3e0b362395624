/**
 * TSQ messages (Time Synchronization over QUIC, draft-mccollum-ntp-tsq-01; see shared/tsq-wire.md):
 * TLV encoding and decoding, request and response builders, Precision Mode padding, metadata, the
 * Signature Block framing, and the mapping from what the node serves (ServedTime) to the Clock Quality
 * and Time Source Info TLVs. Pure: no I/O, no clock, no randomness (nonces and keys come in).
 *
 * Wire rules this module enforces (each violation is a `TsqMalformedError` naming the TLV type and
 * the byte offset of the TLV that broke it, returned as a value — bad input from a peer is never
 * thrown):
 * - A message is a sequence of `Type (1 B) · Length (1 B) · Value`; values are ≤ 255 bytes; multi-byte
 *   fields are big-endian. TLVs are processed in order and unknown types are ignored (reported in
 *   `ignoredTypes`).
 * - Padding (254) comes after every other TLV; several Padding TLVs in a row are allowed (a message
 *   may need more than 257 bytes of padding). Only Padding or the Signature Block may follow Padding.
 * - The Signature Block (255), if present, is last; it signs the exact bytes before it.
 * - Known TLVs have fixed or minimum lengths (Nonce 16, timestamps 8, flags empty, …) and may appear
 *   once, except Metadata (253) and Padding (254), which may repeat.
 * - Metadata pairs are UTF-8 and whole within one TLV; this module always writes them sorted by key
 *   (UTF-8 byte order, no duplicates) and refuses a signed message whose pairs are not sorted.
 * - Request-only TLVs in a response, and response-only TLVs in a request, are refused (in a request
 *   with Error code 2, "unsupported TLV"; framing errors get code 1, "malformed request").
 *
 * Sizes: the server reads at most `TSQ_REQUEST_BYTES_MAX` (1024) bytes of a request, as the
 * prototype does. Timestamps are carried as raw 64-bit NTP values (`bigint`); the caller converts
 * with refclock/ntpTimestamp.ts, which needs a pivot (the local clock) for the era.
 */
import { TimemeshError } from '../hlc/errors.ts';
import type { ServedTime } from '../node/core/types.ts';

export const TLV = {
  NONCE: 1,
  RECEIVE_TIMESTAMP: 2,
  SEND_TIMESTAMP: 3,
  METADATA_QUERY: 247,
  CLOCK_QUALITY: 248,
  ERROR: 249,
  PRECISION_MODE: 250,
  TIME_SOURCE_INFO: 251,
  SIGNATURE_REQUEST: 252,
  METADATA: 253,
  PADDING: 254,
  SIGNATURE_BLOCK: 255,
} as const;

const TLV_NAMES: Record<number, string> = {
  1: 'Nonce',
  2: 'Receive Timestamp',
  3: 'Send Timestamp',
  247: 'Metadata Query',
  248: 'Clock Quality',
  249: 'Error',
  250: 'Precision Mode',
  251: 'Time Source Info',
  252: 'Signature Request',
  253: 'Metadata',
  254: 'Padding',
  255: 'Signature Block',
};

/** "Nonce (1)", "type 17" for unknown ones. */
export function tlvName(type: number): string {
  const name = TLV_NAMES[type];
  return name === undefined ? `type ${type}` : `${name} (${type})`;
}

export const NONCE_BYTES = 16;
export const TLV_VALUE_BYTES_MAX = 255;
const TLV_HEADER_BYTES = 2;
/** The most a server reads of one request (the prototype's limit). */
export const TSQ_REQUEST_BYTES_MAX = 1024;

/** Error TLV codes. */
export const TSQ_ERROR = {
  MALFORMED_REQUEST: 1,
  UNSUPPORTED_TLV: 2,
  AUTHENTICATION_REQUIRED: 3,
} as const;
export type TsqErrorCode = (typeof TSQ_ERROR)[keyof typeof TSQ_ERROR];

/** Clock Quality classes. */
export const CLOCK_CLASS = {
  UNKNOWN: 0,
  GNSS: 1,
  PTP_GRANDMASTER: 2,
  NTP_SYNCHRONIZED: 3,
  LOCAL_OCXO: 4,
  HOLDOVER: 5,
} as const;

/** Time Source Info source types. */
export const SOURCE_TYPE = { GPS: 1, PTP: 2, NTP: 3, MANUAL: 4, UNKNOWN: 5 } as const;

/** Signature Block algorithms. */
export const SIGNATURE_ALGORITHM = { ED25519: 1, HMAC_SHA256: 2 } as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHM)[keyof typeof SIGNATURE_ALGORITHM];
export const KEY_ID_BYTES = 4;

/** Clock Quality's estimated error field saturates here: "65.535 ms or more, or unknown". */
export const ESTIMATED_ERROR_US_MAX = 0xffff;
export const DRIFT_RATE_PPB_MAX = 0xffff;

export const TSQ_MALFORMED_ERROR_CODE = 'TM_ERR_TSQ_MALFORMED';

/**
 * A malformed TSQ message: which TLV (null when the message as a whole is wrong), at which byte
 * offset, and why. Returned as a value by the decoders; `tsqErrorCode` is the Error TLV code a server
 * answers it with.
 */
export class TsqMalformedError extends TimemeshError {
  readonly tlvType: number | null;
  readonly offset: number;
  readonly reason: string;
  readonly tsqErrorCode: TsqErrorCode;

  constructor(offset: number, tlvType: number | null, reason: string, tsqErrorCode: TsqErrorCode = 1) {
    const where = tlvType === null ? `at byte ${offset}` : `in ${tlvName(tlvType)} at byte ${offset}`;
    super(TSQ_MALFORMED_ERROR_CODE, `malformed TSQ message ${where}: ${reason}`);
    this.tlvType = tlvType;
    this.offset = offset;
    this.reason = reason;
    this.tsqErrorCode = tsqErrorCode;
  }
}

/** The caller asked to encode something the format cannot carry (an operator's or a program's bug). */
export class TsqEncodeError extends TimemeshError {
  constructor(message: string) {
    super('TM_ERR_TSQ_ENCODE', message);
  }
}

export type Decoded<T> = { ok: true; message: T } | { ok: false; error: TsqMalformedError };

export interface Tlv {
  type: number;
  /** Offset of the TLV's Type byte in the message. */
  offset: number;
  value: Uint8Array;
}

export type MetadataPair = readonly [key: string, value: string];

export interface ClockQuality {
  clockClass: number;
  /** Estimated error, µs; 65 535 means 65.535 ms or more (or unknown). */
  estimatedErrorUs: number;
  /** Drift rate bound, ppb (0 when not reported). */
  driftRatePpb: number;
  sourceTag: string;
}

export interface TimeSourceInfo {
  /** 0 unsynchronized, 1 reference, 2+ as NTP. */
  stratum: number;
  sourceType: number;
  info: string;
}

export interface SignatureBlock {
  algorithm: number;
  keyId: Uint8Array;
  signature: Uint8Array;
  /** The exact bytes the signature covers: everything before the Signature Block. */
  signedBytes: Uint8Array;
}

export interface TsqRequest {
  nonce: Uint8Array;
  metadataQuery: boolean;
  precisionMode: boolean;
  signatureRequest: boolean;
  /** Metadata the client sent (null when none). */
  metadata: MetadataPair[] | null;
  byteLength: number;
  ignoredTypes: number[];
}

export interface TsqTimeResponse {
  kind: 'time';
  /** Null when the server left it out (the client then discards the exchange). */
  nonce: Uint8Array | null;
  /** Raw 64-bit NTP timestamps. */
  receiveTimestamp: bigint;
  sendTimestamp: bigint;
  clockQuality: ClockQuality | null;
  timeSourceInfo: TimeSourceInfo | null;
  metadata: MetadataPair[] | null;
  precisionMode: boolean;
  signature: SignatureBlock | null;
  byteLength: number;
  ignoredTypes: number[];
}

export interface TsqErrorResponse {
  kind: 'error';
  code: number;
  reason: string;
  byteLength: number;
}

export type TsqResponse = TsqTimeResponse | TsqErrorResponse;

/** Signs the bytes before the Signature Block (implementations in refclock/tsqKeys.ts). */
export interface TsqSigner {
  readonly algorithm: SignatureAlgorithm;
  readonly keyId: Uint8Array;
  readonly signatureLength: number;
  sign(data: Uint8Array): Uint8Array;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    return null;
  }
}

function readU16(b: Uint8Array, at: number): number {
  return ((b[at] as number) << 8) | (b[at + 1] as number);
}

function readU64(b: Uint8Array, at: number): bigint {
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(b[at + i] as number);
  return v;
}

/** UTF-8 byte order, the order metadata keys are sorted in. */
function compareKeys(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = (x[i] as number) - (y[i] as number);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

// ---------------------------------------------------------------------------------------------
// Framing

/**
 * Splits a message into TLVs and checks the framing rules every TSQ message obeys: no truncated
 * header or value, Padding only at the end (before an optional Signature Block), nothing after the
 * Signature Block, and not empty.
 */
export function parseTlvs(
  bytes: Uint8Array,
): { ok: true; tlvs: Tlv[] } | { ok: false; error: TsqMalformedError } {
  const tlvs: Tlv[] = [];
  if (bytes.length === 0) return { ok: false, error: new TsqMalformedError(0, null, 'empty message') };
  let at = 0;
  let paddingSeen = false;
  while (at < bytes.length) {
    const type = bytes[at] as number;
    if (at + TLV_HEADER_BYTES > bytes.length) {
      return { ok: false, error: new TsqMalformedError(at, type, 'truncated: no Length byte') };
    }
    const length = bytes[at + 1] as number;
    if (at + TLV_HEADER_BYTES + length > bytes.length) {
      const left = bytes.length - at - TLV_HEADER_BYTES;
      return {
        ok: false,
        error: new TsqMalformedError(at, type, `truncated: Length ${length} but ${left} bytes left`),
      };
    }
    const previous = tlvs[tlvs.length - 1];
    if (previous?.type === TLV.SIGNATURE_BLOCK) {
      return { ok: false, error: new TsqMalformedError(at, type, 'a TLV after the Signature Block') };
    }
    if (paddingSeen && type !== TLV.PADDING && type !== TLV.SIGNATURE_BLOCK) {
      return {
        ok: false,
        error: new TsqMalformedError(at, type, 'only Padding or the Signature Block may follow Padding'),
      };
    }
    if (type === TLV.PADDING) paddingSeen = true;
    tlvs.push({
      type,
      offset: at,
      value: bytes.subarray(at + TLV_HEADER_BYTES, at + TLV_HEADER_BYTES + length),
    });
    at += TLV_HEADER_BYTES + length;
  }
  return { ok: true, tlvs };
}

type Fail = { ok: false; error: TsqMalformedError };
const fail = (t: Tlv, reason: string, code: TsqErrorCode = 1): Fail => ({
  ok: false,
  error: new TsqMalformedError(t.offset, t.type, reason, code),
});

function expectLength(t: Tlv, length: number): Fail | null {
  return t.value.length === length
    ? null
    : fail(t, `Length must be ${length}${length === 0 ? ' (empty)' : ''}, got ${t.value.length}`);
}

function decodeMetadataValue(t: Tlv, into: MetadataPair[]): Fail | null {
  const v = t.value;
  let at = 0;
  while (at < v.length) {
    const keyLength = v[at] as number;
    if (at + 1 + keyLength + 1 > v.length) return fail(t, `pair at value byte ${at}: key runs past the TLV`);
    const key = decodeUtf8(v.subarray(at + 1, at + 1 + keyLength));
    const valueAt = at + 1 + keyLength;
    const valueLength = v[valueAt] as number;
    if (valueAt + 1 + valueLength > v.length) {
      return fail(t, `pair at value byte ${at}: value runs past the TLV`);
    }
    const value = decodeUtf8(v.subarray(valueAt + 1, valueAt + 1 + valueLength));
    if (key === null || value === null) return fail(t, `pair at value byte ${at}: not UTF-8`);
    into.push([key, value]);
    at = valueAt + 1 + valueLength;
  }
  return null;
}

function metadataSorted(pairs: MetadataPair[]): boolean {
  for (let i = 1; i < pairs.length; i++) {
    if (compareKeys((pairs[i - 1] as MetadataPair)[0], (pairs[i] as MetadataPair)[0]) >= 0) return false;
  }
  return true;
}

function allZero(v: Uint8Array): boolean {
  for (const b of v) if (b !== 0) return false;
  return true;
}

const REPEATABLE = new Set<number>([TLV.METADATA, TLV.PADDING]);
const RESPONSE_ONLY = new Set<number>([
  TLV.RECEIVE_TIMESTAMP,
  TLV.SEND_TIMESTAMP,
  TLV.CLOCK_QUALITY,
  TLV.ERROR,
  TLV.TIME_SOURCE_INFO,
  TLV.SIGNATURE_BLOCK,
]);
const REQUEST_ONLY = new Set<number>([TLV.METADATA_QUERY, TLV.SIGNATURE_REQUEST]);

function duplicateCheck(tlvs: Tlv[]): Fail | null {
  const seen = new Set<number>();
  for (const t of tlvs) {
    if (!(t.type in TLV_NAMES) || REPEATABLE.has(t.type)) continue;
    if (seen.has(t.type)) return fail(t, 'appears more than once');
    seen.add(t.type);
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Requests

export function decodeTsqRequest(bytes: Uint8Array): Decoded<TsqRequest> {
  if (bytes.length > TSQ_REQUEST_BYTES_MAX) {
    return {
      ok: false,
      error: new TsqMalformedError(
        TSQ_REQUEST_BYTES_MAX,
        null,
        `request longer than ${TSQ_REQUEST_BYTES_MAX} bytes (${bytes.length})`,
      ),
    };
  }
  const parsed = parseTlvs(bytes);
  if (!parsed.ok) return parsed;
  const dup = duplicateCheck(parsed.tlvs);
  if (dup) return dup;
  const request: TsqRequest = {
    nonce: new Uint8Array(0),
    metadataQuery: false,
    precisionMode: false,
    signatureRequest: false,
    metadata: null,
    byteLength: bytes.length,
    ignoredTypes: [],
  };
  let nonce: Uint8Array | null = null;
  for (const t of parsed.tlvs) {
    if (RESPONSE_ONLY.has(t.type)) {
      return fail(t, 'not allowed in a request', TSQ_ERROR.UNSUPPORTED_TLV);
    }
    switch (t.type) {
      case TLV.NONCE: {
        const bad = expectLength(t, NONCE_BYTES);
        if (bad) return bad;
        nonce = t.value;
        break;
      }
      case TLV.METADATA_QUERY:
      case TLV.PRECISION_MODE:
      case TLV.SIGNATURE_REQUEST: {
        const bad = expectLength(t, 0);
        if (bad) return bad;
        if (t.type === TLV.METADATA_QUERY) request.metadataQuery = true;
        else if (t.type === TLV.PRECISION_MODE) request.precisionMode = true;
        else request.signatureRequest = true;
        break;
      }
      case TLV.METADATA: {
        request.metadata ??= [];
        const bad = decodeMetadataValue(t, request.metadata);
        if (bad) return bad;
        break;
      }
      case TLV.PADDING:
        if (!allZero(t.value)) return fail(t, 'Padding must be zero bytes');
        break;
      default:
        request.ignoredTypes.push(t.type);
    }
  }
  if (nonce === null) {
    return { ok: false, error: new TsqMalformedError(0, TLV.NONCE, 'required in a request, missing') };
  }
  request.nonce = nonce.slice();
  return { ok: true, message: request };
}

export interface TsqRequestInit {
  nonce: Uint8Array;
  metadataQuery?: boolean;
  precisionMode?: boolean;
  signatureRequest?: boolean;
  metadata?: MetadataPair[];
  /**
   * Pad the request to this total length (Precision Mode: the server pads its response to the
   * request's length, so the request must leave room for the whole response). Padding TLVs come in
   * steps of at least 2 bytes, so a 1-byte shortfall is padded to `padToBytes + 1`.
   */
  padToBytes?: number;
}

/** Encodes a request: Nonce, flags, Metadata, then Padding. */
export function encodeTsqRequest(init: TsqRequestInit): Uint8Array {
  if (init.nonce.length !== NONCE_BYTES) {
    throw new TsqEncodeError(`a TSQ nonce is ${NONCE_BYTES} bytes, got ${init.nonce.length}`);
  }
  const parts: Uint8Array[] = [tlv(TLV.NONCE, init.nonce)];
  if (init.metadataQuery) parts.push(tlv(TLV.METADATA_QUERY, new Uint8Array(0)));
  if (init.precisionMode) parts.push(tlv(TLV.PRECISION_MODE, new Uint8Array(0)));
  if (init.signatureRequest) parts.push(tlv(TLV.SIGNATURE_REQUEST, new Uint8Array(0)));
  if (init.metadata && init.metadata.length > 0) parts.push(...metadataTlvs(init.metadata));
  let length = totalLength(parts);
  if (init.padToBytes !== undefined && init.padToBytes > length) {
    const target = init.padToBytes - length === 1 ? init.padToBytes + 1 : init.padToBytes;
    parts.push(...paddingTlvs(target - length));
    length = target;
  }
  if (length > TSQ_REQUEST_BYTES_MAX) {
    throw new TsqEncodeError(`a TSQ request is at most ${TSQ_REQUEST_BYTES_MAX} bytes, this one ${length}`);
  }
  return concat(parts);
}

// ---------------------------------------------------------------------------------------------
// Responses

export function decodeTsqResponse(bytes: Uint8Array): Decoded<TsqResponse> {
  const parsed = parseTlvs(bytes);
  if (!parsed.ok) return parsed;
  const tlvs = parsed.tlvs;
  const errorTlv = tlvs.find((t) => t.type === TLV.ERROR);
  if (errorTlv !== undefined) {
    if (tlvs.length !== 1) return fail(errorTlv, 'an Error TLV must appear alone');
    if (errorTlv.value.length < 2)
      return fail(errorTlv, `Length must be at least 2, got ${errorTlv.value.length}`);
    const reason = decodeUtf8(errorTlv.value.subarray(2));
    if (reason === null) return fail(errorTlv, 'reason is not UTF-8');
    return {
      ok: true,
      message: { kind: 'error', code: errorTlv.value[0] as number, reason, byteLength: bytes.length },
    };
  }
  const dup = duplicateCheck(tlvs);
  if (dup) return dup;
  let nonce: Uint8Array | null = null;
  let t2: bigint | null = null;
  let t3: bigint | null = null;
  let clockQuality: ClockQuality | null = null;
  let timeSourceInfo: TimeSourceInfo | null = null;
  let metadata: MetadataPair[] | null = null;
  let metadataTlv: Tlv | null = null;
  let precisionMode = false;
  let signature: SignatureBlock | null = null;
  const ignoredTypes: number[] = [];
  for (const t of tlvs) {
    if (REQUEST_ONLY.has(t.type)) return fail(t, 'not allowed in a response');
    switch (t.type) {
      case TLV.NONCE: {
        const bad = expectLength(t, NONCE_BYTES);
        if (bad) return bad;
        nonce = t.value.slice();
        break;
      }
      case TLV.RECEIVE_TIMESTAMP:
      case TLV.SEND_TIMESTAMP: {
        const bad = expectLength(t, 8);
        if (bad) return bad;
        if (t.type === TLV.RECEIVE_TIMESTAMP) t2 = readU64(t.value, 0);
        else t3 = readU64(t.value, 0);
        break;
      }
      case TLV.CLOCK_QUALITY: {
        if (t.value.length < 6) return fail(t, `Length must be at least 6, got ${t.value.length}`);
        const sourceTag = decodeUtf8(t.value.subarray(6));
        if (sourceTag === null) return fail(t, 'source tag is not UTF-8');
        clockQuality = {
          clockClass: t.value[0] as number,
          estimatedErrorUs: readU16(t.value, 2),
          driftRatePpb: readU16(t.value, 4),
          sourceTag,
        };
        break;
      }
      case TLV.TIME_SOURCE_INFO: {
        if (t.value.length < 2) return fail(t, `Length must be at least 2, got ${t.value.length}`);
        const info = decodeUtf8(t.value.subarray(2));
        if (info === null) return fail(t, 'info is not UTF-8');
        timeSourceInfo = { stratum: t.value[0] as number, sourceType: t.value[1] as number, info };
        break;
      }
      case TLV.PRECISION_MODE: {
        const bad = expectLength(t, 0);
        if (bad) return bad;
        precisionMode = true;
        break;
      }
      case TLV.METADATA: {
        metadata ??= [];
        metadataTlv ??= t;
        const bad = decodeMetadataValue(t, metadata);
        if (bad) return bad;
        break;
      }
      case TLV.PADDING:
        if (!allZero(t.value)) return fail(t, 'Padding must be zero bytes');
        break;
      case TLV.SIGNATURE_BLOCK: {
        const v = t.value;
        if (v.length < 1 + KEY_ID_BYTES + 2) return fail(t, `Length must be at least 7, got ${v.length}`);
        const sigLength = readU16(v, 1 + KEY_ID_BYTES);
        if (1 + KEY_ID_BYTES + 2 + sigLength !== v.length) {
          return fail(t, `signature length ${sigLength} does not match the TLV Length ${v.length}`);
        }
        signature = {
          algorithm: v[0] as number,
          keyId: v.slice(1, 1 + KEY_ID_BYTES),
          signature: v.slice(1 + KEY_ID_BYTES + 2),
          signedBytes: bytes.slice(0, t.offset),
        };
        break;
      }
      default:
        ignoredTypes.push(t.type);
    }
  }
  if (t2 === null) {
    return {
      ok: false,
      error: new TsqMalformedError(0, TLV.RECEIVE_TIMESTAMP, 'required in a response, missing'),
    };
  }
  if (t3 === null) {
    return {
      ok: false,
      error: new TsqMalformedError(0, TLV.SEND_TIMESTAMP, 'required in a response, missing'),
    };
  }
  if (signature !== null && metadata !== null && metadataTlv !== null && !metadataSorted(metadata)) {
    return fail(metadataTlv, 'pairs of a signed message must be sorted by key');
  }
  return {
    ok: true,
    message: {
      kind: 'time',
      nonce,
      receiveTimestamp: t2,
      sendTimestamp: t3,
      clockQuality,
      timeSourceInfo,
      metadata,
      precisionMode,
      signature,
      byteLength: bytes.length,
      ignoredTypes,
    },
  };
}

export interface TsqResponseInit {
  nonce: Uint8Array;
  /** Raw 64-bit NTP timestamps (refclock/ntpTimestamp.ts). */
  receiveTimestamp: bigint;
  sendTimestamp: bigint;
  clockQuality?: ClockQuality;
  timeSourceInfo?: TimeSourceInfo;
  /** Written sorted by key. */
  metadata?: MetadataPair[];
  /** The request's total length when it asked for Precision Mode. */
  precisionTargetBytes?: number;
  signer?: TsqSigner;
}

export interface EncodedResponse {
  bytes: Uint8Array;
  /**
   * True when Precision Mode was echoed and the response padded to exactly the request's length;
   * false when the response does not fit in that length (then neither the echo nor padding is sent,
   * and the client sees that its request was not honoured).
   */
  precisionHonoured: boolean;
}

/**
 * Encodes a response in the order Nonce, T2, T3, Clock Quality, Time Source Info, Metadata,
 * Precision Mode, Padding, Signature Block. With `precisionTargetBytes` it echoes Precision Mode and
 * pads to exactly that length; since Padding TLVs come in steps of at least 2 bytes, a 1-byte
 * shortfall is made up by one trailing space in the Time Source Info text (or the Clock Quality tag).
 */
export function encodeTsqResponse(init: TsqResponseInit): EncodedResponse {
  if (init.nonce.length !== NONCE_BYTES) {
    throw new TsqEncodeError(`a TSQ nonce is ${NONCE_BYTES} bytes, got ${init.nonce.length}`);
  }
  const signatureBytes = init.signer
    ? TLV_HEADER_BYTES + 1 + KEY_ID_BYTES + 2 + init.signer.signatureLength
    : 0;
  let cq = init.clockQuality;
  let tsi = init.timeSourceInfo;
  const build = (precision: boolean): Uint8Array[] => {
    const parts: Uint8Array[] = [
      tlv(TLV.NONCE, init.nonce),
      tlv(TLV.RECEIVE_TIMESTAMP, u64(init.receiveTimestamp)),
      tlv(TLV.SEND_TIMESTAMP, u64(init.sendTimestamp)),
    ];
    if (cq) parts.push(clockQualityTlv(cq));
    if (tsi) parts.push(timeSourceInfoTlv(tsi));
    if (init.metadata && init.metadata.length > 0) parts.push(...metadataTlvs(init.metadata));
    if (precision) parts.push(tlv(TLV.PRECISION_MODE, new Uint8Array(0)));
    return parts;
  };
  let parts = build(false);
  let precisionHonoured = false;
  const target = init.precisionTargetBytes;
  if (target !== undefined) {
    let withEcho = build(true);
    let shortfall = target - totalLength(withEcho) - signatureBytes;
    if (shortfall === 1) {
      if (tsi && utf8.encode(tsi.info).length < TLV_VALUE_BYTES_MAX - 2)
        tsi = { ...tsi, info: `${tsi.info} ` };
      else if (cq && utf8.encode(cq.sourceTag).length < TLV_VALUE_BYTES_MAX - 6) {
        cq = { ...cq, sourceTag: `${cq.sourceTag} ` };
      }
      withEcho = build(true);
      shortfall = target - totalLength(withEcho) - signatureBytes;
    }
    if (shortfall === 0 || shortfall >= TLV_HEADER_BYTES) {
      parts = shortfall === 0 ? withEcho : [...withEcho, ...paddingTlvs(shortfall)];
      precisionHonoured = true;
    } else {
      cq = init.clockQuality;
      tsi = init.timeSourceInfo;
      parts = build(false);
    }
  }
  let body = concat(parts);
  if (init.signer) {
    const s = init.signer;
    const signature = s.sign(body);
    if (signature.length !== s.signatureLength || s.keyId.length !== KEY_ID_BYTES) {
      throw new TsqEncodeError(`signer returned ${signature.length} bytes, announced ${s.signatureLength}`);
    }
    const v = new Uint8Array(1 + KEY_ID_BYTES + 2 + signature.length);
    v[0] = s.algorithm;
    v.set(s.keyId, 1);
    v[1 + KEY_ID_BYTES] = signature.length >> 8;
    v[2 + KEY_ID_BYTES] = signature.length & 0xff;
    v.set(signature, 1 + KEY_ID_BYTES + 2);
    body = concat([body, tlv(TLV.SIGNATURE_BLOCK, v)]);
  }
  return { bytes: body, precisionHonoured };
}

/** An Error response: one Error TLV, alone. The reason is cut to fit in 253 bytes of UTF-8. */
export function encodeTsqError(code: TsqErrorCode, reason: string): Uint8Array {
  const reasonBytes = truncateUtf8(reason, TLV_VALUE_BYTES_MAX - 2);
  const v = new Uint8Array(2 + reasonBytes.length);
  v[0] = code;
  v.set(reasonBytes, 2);
  return tlv(TLV.ERROR, v);
}

// ---------------------------------------------------------------------------------------------
// What a node serves → Clock Quality and Time Source Info

/**
 * How the node's state maps onto the draft's fields. The class says how the time is disciplined,
 * the source type where it ultimately comes from:
 *
 * | served status / anchorKind      | class                  | source type | stratum                 |
 * |---------------------------------|------------------------|-------------|-------------------------|
 * | unsynchronized (any kind)       | 0 unknown              | 5 unknown   | 0 (unsynchronized)      |
 * | holdover (any kind)             | 5 holdover             | by kind ↓   | served                  |
 * | gps, pps                        | 1 GNSS-disciplined     | 1 GPS       | served                  |
 * | ntp, tsq                        | 3 NTP-synchronized     | 3 NTP       | served                  |
 * | mesh (anchored through peers)   | 3 NTP-synchronized     | 3 NTP       | served                  |
 * | reference (kind not known)      | 3 NTP-synchronized     | 5 unknown   | served                  |
 * | local (local stratum)           | 4 local OCXO           | 4 manual    | served                  |
 * | none (a free-running mesh)      | 0 unknown              | 5 unknown   | served                  |
 *
 * TSQ and the mesh are network protocols of NTP's kind (4-timestamp exchanges with an upstream), so
 * they count as NTP; the draft has no better class. Estimated error = the served root distance
 * (max(time − earliest, latest − time)) rounded up to µs, saturating at 65 535 (≥ 65.535 ms or
 * unbounded). Stratum 16 (NTP's "unsynchronized") becomes TSQ's 0; strata above 255 are clamped.
 */
export function clockQualityFromServed(
  served: ServedTime,
  options: { driftRatePpb: number; sourceTag?: string; sourceInfo?: string },
): { clockQuality: ClockQuality; timeSourceInfo: TimeSourceInfo } {
  const kind = served.anchorKind;
  const byKind: Record<typeof kind, [number, number]> = {
    gps: [CLOCK_CLASS.GNSS, SOURCE_TYPE.GPS],
    pps: [CLOCK_CLASS.GNSS, SOURCE_TYPE.GPS],
    ntp: [CLOCK_CLASS.NTP_SYNCHRONIZED, SOURCE_TYPE.NTP],
    tsq: [CLOCK_CLASS.NTP_SYNCHRONIZED, SOURCE_TYPE.NTP],
    mesh: [CLOCK_CLASS.NTP_SYNCHRONIZED, SOURCE_TYPE.NTP],
    reference: [CLOCK_CLASS.NTP_SYNCHRONIZED, SOURCE_TYPE.UNKNOWN],
    local: [CLOCK_CLASS.LOCAL_OCXO, SOURCE_TYPE.MANUAL],
    none: [CLOCK_CLASS.UNKNOWN, SOURCE_TYPE.UNKNOWN],
  };
  let [clockClass, sourceType] = byKind[kind];
  let stratum = served.stratum >= 16 ? 0 : Math.max(0, Math.min(255, Math.trunc(served.stratum)));
  if (served.status === 'unsynchronized') {
    clockClass = CLOCK_CLASS.UNKNOWN;
    sourceType = SOURCE_TYPE.UNKNOWN;
    stratum = 0;
  } else if (served.status === 'holdover') {
    clockClass = CLOCK_CLASS.HOLDOVER;
  }
  const errorUs =
    served.status === 'unsynchronized' || !Number.isFinite(served.rootDistanceNs)
      ? ESTIMATED_ERROR_US_MAX
      : Math.min(ESTIMATED_ERROR_US_MAX, Math.max(0, Math.ceil(served.rootDistanceNs / 1000)));
  const drift = Math.min(DRIFT_RATE_PPB_MAX, Math.max(0, Math.round(options.driftRatePpb)));
  return {
    clockQuality: {
      clockClass,
      estimatedErrorUs: errorUs,
      driftRatePpb: drift,
      sourceTag: options.sourceTag ?? kind,
    },
    timeSourceInfo: { stratum, sourceType, info: options.sourceInfo ?? `timemesh ${served.status}` },
  };
}

// ---------------------------------------------------------------------------------------------
// Encoding helpers

function tlv(type: number, value: Uint8Array): Uint8Array {
  if (value.length > TLV_VALUE_BYTES_MAX) {
    throw new TsqEncodeError(
      `${tlvName(type)}: value of ${value.length} bytes exceeds ${TLV_VALUE_BYTES_MAX}`,
    );
  }
  const out = new Uint8Array(TLV_HEADER_BYTES + value.length);
  out[0] = type;
  out[1] = value.length;
  out.set(value, TLV_HEADER_BYTES);
  return out;
}

function u64(v: bigint): Uint8Array {
  if (v < 0n || v >= 1n << 64n) throw new TsqEncodeError(`timestamp out of 64-bit range: ${v}`);
  const out = new Uint8Array(8);
  let x = v;
  for (let i = 7; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

function u16Field(name: string, v: number): [number, number] {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff)
    throw new TsqEncodeError(`${name} must be 0..65535, got ${v}`);
  return [v >> 8, v & 0xff];
}

function byteField(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 255) throw new TsqEncodeError(`${name} must be 0..255, got ${v}`);
  return v;
}

function clockQualityTlv(q: ClockQuality): Uint8Array {
  const tag = utf8.encode(q.sourceTag);
  const v = new Uint8Array(6 + tag.length);
  v[0] = byteField('clock class', q.clockClass);
  v[1] = 0;
  [v[2], v[3]] = u16Field('estimated error (µs)', q.estimatedErrorUs);
  [v[4], v[5]] = u16Field('drift rate (ppb)', q.driftRatePpb);
  v.set(tag, 6);
  return tlv(TLV.CLOCK_QUALITY, v);
}

function timeSourceInfoTlv(i: TimeSourceInfo): Uint8Array {
  const info = utf8.encode(i.info);
  const v = new Uint8Array(2 + info.length);
  v[0] = byteField('stratum', i.stratum);
  v[1] = byteField('source type', i.sourceType);
  v.set(info, 2);
  return tlv(TLV.TIME_SOURCE_INFO, v);
}

/** Metadata pairs sorted by key, packed greedily into as few TLVs as hold them whole. */
function metadataTlvs(pairs: MetadataPair[]): Uint8Array[] {
  const sorted = [...pairs].sort((a, b) => compareKeys(a[0], b[0]));
  const encoded: Uint8Array[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const [key, value] = sorted[i] as MetadataPair;
    if (i > 0 && compareKeys((sorted[i - 1] as MetadataPair)[0], key) === 0) {
      throw new TsqEncodeError(`metadata key "${key}" appears twice`);
    }
    const k = utf8.encode(key);
    const v = utf8.encode(value);
    if (k.length > 255 || v.length > 255 || 2 + k.length + v.length > TLV_VALUE_BYTES_MAX) {
      throw new TsqEncodeError(
        `metadata pair "${key}" does not fit in one TLV (${2 + k.length + v.length} bytes)`,
      );
    }
    const pair = new Uint8Array(2 + k.length + v.length);
    pair[0] = k.length;
    pair.set(k, 1);
    pair[1 + k.length] = v.length;
    pair.set(v, 2 + k.length);
    encoded.push(pair);
  }
  const out: Uint8Array[] = [];
  let current: Uint8Array[] = [];
  let currentLength = 0;
  for (const pair of encoded) {
    if (currentLength + pair.length > TLV_VALUE_BYTES_MAX) {
      out.push(tlv(TLV.METADATA, concat(current)));
      current = [];
      currentLength = 0;
    }
    current.push(pair);
    currentLength += pair.length;
  }
  if (current.length > 0) out.push(tlv(TLV.METADATA, concat(current)));
  return out;
}

/** Padding TLVs totalling exactly `bytes` (≥ 2) bytes, headers included. */
export function paddingTlvs(bytes: number): Uint8Array[] {
  if (!Number.isInteger(bytes) || bytes < TLV_HEADER_BYTES) {
    throw new TsqEncodeError(`cannot pad by ${bytes} bytes (a Padding TLV takes at least 2)`);
  }
  const out: Uint8Array[] = [];
  let left = bytes;
  const full = TLV_HEADER_BYTES + TLV_VALUE_BYTES_MAX;
  while (left > full) {
    // Never leave a single byte behind: it could not be padded.
    const take = left - full === 1 ? full - 1 : full;
    out.push(tlv(TLV.PADDING, new Uint8Array(take - TLV_HEADER_BYTES)));
    left -= take;
  }
  out.push(tlv(TLV.PADDING, new Uint8Array(left - TLV_HEADER_BYTES)));
  return out;
}

function truncateUtf8(text: string, maxBytes: number): Uint8Array {
  let bytes = utf8.encode(text);
  if (bytes.length <= maxBytes) return bytes;
  bytes = bytes.subarray(0, maxBytes);
  // Drop a cut multi-byte sequence at the end.
  while (bytes.length > 0 && decodeUtf8(bytes) === null) bytes = bytes.subarray(0, bytes.length - 1);
  return bytes;
}

function totalLength(parts: Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(totalLength(parts));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
