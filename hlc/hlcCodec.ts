/**
 * Wire and text forms of HLC timestamps.
 *
 * Binary (14 to 268 bytes; the node id is never empty): wallNs u64 big-endian · logical u32 big-endian · nodeId length u8 ·
 * nodeId UTF-8. Text: `${wallNs}.${logical}.${nodeId}` with canonical decimals (no sign, no leading
 * zeros); the node id is everything after the second dot, so it may itself contain dots.
 *
 * Invariants (checked by test/hlc/hlcCodec.test.ts):
 * - decodeHlc and parseHlc never throw, whatever they are given; bad input is an HlcDecodeError value
 *   with a precise reason. Peers control these bytes, so a throw would be a remote crash.
 * - Both forms are canonical: decode(encode(t)) and parse(format(t)) equal t, and every accepted input
 *   re-encodes to exactly the same bytes or text, so two encodings are equal iff compareHlc says 0.
 * - encodeHlc and formatHlc throw TM_ERR_HLC_MISUSE on a timestamp no clock could have issued; that is a
 *   bug in the caller, not peer input.
 *
 * HAZARD (ordering): the bytes are not an order-preserving key. The 12-byte (wallNs, logical) prefix
 * sorts like compareHlc, but the length prefix and UTF-8 make node ids sort differently from the
 * tie-break. Never sort encoded timestamps as bytes; decode and use compareHlc.
 */
import { TimemeshError } from './errors.ts';
import type { HlcTimestamp } from './hlc.ts';
import {
  HLC_MAX_LOGICAL,
  HLC_MAX_NODE_ID_BYTES,
  HLC_MAX_WALL_NS,
  nodeIdProblem,
  timestampProblem,
} from './hlc.ts';
import { HLC_MISUSE_ERROR_CODE, HlcDecodeError } from './hlcErrors.ts';

export type HlcDecodeResult = { ok: true; value: HlcTimestamp } | { ok: false; error: HlcDecodeError };

/** Bytes before the node id: wall (8) + logical (4) + length (1). */
export const HLC_ENCODED_HEADER_BYTES = 13;
/** Largest encoding: header plus a 255-byte node id. */
export const HLC_ENCODED_MAX_BYTES = HLC_ENCODED_HEADER_BYTES + HLC_MAX_NODE_ID_BYTES;

const utf8Encoder = new TextEncoder();
// ignoreBOM: a node id may start with U+FEFF; the default would strip it and break the round trip.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function assertEncodable(ts: HlcTimestamp, what: string): void {
  const problem = timestampProblem(ts);
  if (problem !== null) throw new TimemeshError(HLC_MISUSE_ERROR_CODE, `${what}: ${problem}`);
}

export function encodeHlc(ts: HlcTimestamp): Uint8Array {
  assertEncodable(ts, 'encodeHlc');
  const id = utf8Encoder.encode(ts.nodeId);
  const out = new Uint8Array(HLC_ENCODED_HEADER_BYTES + id.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, ts.wallNs, false);
  view.setUint32(8, ts.logical, false);
  view.setUint8(12, id.length);
  out.set(id, HLC_ENCODED_HEADER_BYTES);
  return out;
}

export function decodeHlc(bytes: Uint8Array): HlcDecodeResult {
  if (!(bytes instanceof Uint8Array)) return fail('not-bytes', 'input is not a Uint8Array');
  if (bytes.length < HLC_ENCODED_HEADER_BYTES) {
    return fail('too-short', `${bytes.length} bytes, need at least ${HLC_ENCODED_HEADER_BYTES}`);
  }
  // The view must respect byteOffset: the input is often a slice of a larger message buffer.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const wallNs = view.getBigUint64(0, false);
  const logical = view.getUint32(8, false);
  const idLength = view.getUint8(12);
  if (idLength === 0) return fail('empty-node-id', 'node id length is 0');
  const expected = HLC_ENCODED_HEADER_BYTES + idLength;
  if (bytes.length < expected) {
    return fail('length-mismatch', `node id length ${idLength} needs ${expected} bytes, got ${bytes.length}`);
  }
  if (bytes.length > expected) {
    return fail('trailing-bytes', `${bytes.length - expected} bytes after the node id`);
  }
  let nodeId: string;
  try {
    nodeId = utf8Decoder.decode(bytes.subarray(HLC_ENCODED_HEADER_BYTES, expected));
  } catch {
    return fail('invalid-utf8', 'node id is not valid UTF-8');
  }
  return { ok: true, value: { wallNs, logical, nodeId } };
}

export function formatHlc(ts: HlcTimestamp): string {
  assertEncodable(ts, 'formatHlc');
  return `${ts.wallNs}.${ts.logical}.${ts.nodeId}`;
}

/** Canonical unsigned decimal: "0" or no leading zero. Length-capped so BigInt never sees a huge string. */
const CANONICAL_DECIMAL = /^(?:0|[1-9][0-9]{0,19})$/;

export function parseHlc(text: string): HlcDecodeResult {
  if (typeof text !== 'string') return fail('not-text', 'input is not a string');
  const firstDot = text.indexOf('.');
  const secondDot = firstDot < 0 ? -1 : text.indexOf('.', firstDot + 1);
  if (secondDot < 0) return fail('missing-part', 'expected "<wallNs>.<logical>.<nodeId>"');
  const wallText = text.slice(0, firstDot);
  const logicalText = text.slice(firstDot + 1, secondDot);
  const nodeId = text.slice(secondDot + 1);
  if (wallText.length === 0 || logicalText.length === 0) {
    return fail('missing-part', 'wallNs and logical must not be empty');
  }
  // A leading '-' is not a digit, so negatives land here as well as "+1", " 1", "01" and "1e3".
  if (!CANONICAL_DECIMAL.test(wallText)) {
    return fail(
      'invalid-number',
      `wallNs ${JSON.stringify(wallText.slice(0, 32))} is not a canonical decimal`,
    );
  }
  if (!CANONICAL_DECIMAL.test(logicalText)) {
    return fail(
      'invalid-number',
      `logical ${JSON.stringify(logicalText.slice(0, 32))} is not a canonical decimal`,
    );
  }
  const wallNs = BigInt(wallText);
  if (wallNs > HLC_MAX_WALL_NS) return fail('wall-out-of-range', `wallNs ${wallText} exceeds 2^64 − 1`);
  const logical = Number(logicalText);
  if (logical > HLC_MAX_LOGICAL) {
    return fail('logical-out-of-range', `logical ${logicalText} exceeds ${HLC_MAX_LOGICAL}`);
  }
  const idProblem = nodeIdProblem(nodeId);
  if (idProblem !== null) return fail(idProblem.reason, idProblem.message);
  return { ok: true, value: { wallNs, logical, nodeId } };
}

function fail(reason: HlcDecodeError['reason'], detail: string): HlcDecodeResult {
  return { ok: false, error: new HlcDecodeError(reason, detail) };
}
