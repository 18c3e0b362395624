/**
 * The wire format of the sample protocol `/timemesh/sample/1.0.0`: codecs, signatures and receipts.
 * One request and one response per libp2p stream; the stream handling lives elsewhere (the libp2p
 * service), this module only turns values into bytes and back and signs and checks them.
 *
 * ## Request
 *
 * A msgpack map `{ v: 1, n: <bin, 16 bytes> }`: the protocol version and a random nonce chosen by the
 * requester. At most SAMPLE_REQUEST_MAX_BYTES (64) bytes; a valid one is 24.
 *
 * ## Response
 *
 * A msgpack map, at most SAMPLE_RESPONSE_MAX_BYTES (512) bytes (about 300 with an Ed25519 peer id):
 *
 * | key   | msgpack type       | meaning                                                               |
 * |-------|--------------------|-----------------------------------------------------------------------|
 * | `v`   | int                | protocol version, 1                                                   |
 * | `n`   | bin, 16 bytes      | the request's nonce, echoed                                           |
 * | `t2`  | bin, 8 bytes, i64  | responder's reading when the request arrived (T2), ns since the epoch |
 * | `t3`  | bin, 8 bytes, i64  | responder's reading when the response left (T3), ns since the epoch  |
 * | `e`   | bin, 8 bytes, i64  | earliest possible true time at T3, ns since the epoch                 |
 * | `l`   | bin, 8 bytes, i64  | latest possible true time at T3, ns since the epoch                   |
 * | `rd`  | bin, 8 bytes, u64  | root distance in ns                                                   |
 * | `ak`  | str                | anchor kind, one of ANCHOR_KINDS                                      |
 * | `st`  | int, 0..16         | stratum (16: unsynchronized)                                          |
 * | `ss`  | str                | sync status, one of SYNC_STATUSES                                     |
 * | `h`   | bin, 14..268 bytes | the responder's HLC in the hlc/hlcCodec.ts binary form                |
 * | `p`   | str, 1..128 bytes  | the responder's peer id (base58btc); must equal the HLC's node id     |
 * | `sig` | bin, 64 bytes      | Ed25519 signature by `p`'s key over the signed bytes below            |
 *
 * **Absolute times are signed 64-bit integers, big-endian, in an 8-byte bin** (Go's `UnixNano` range:
 * 1677-09-21 to 2262-04-11). Signed, not unsigned, because an unsynchronized node legitimately serves
 * an interval from before 1970: its earliest time is its reading minus UNBOUNDED_NS (2^62 ns), about
 * −2.8·10^18 ns in 2026. A fixed 8-byte bin rather than a msgpack integer because it has exactly one
 * encoding, needs no decoder option (msgpackr's `int64AsType`, other libraries' defaults) to stay exact
 * past 2^53, and is the same layout as the signed bytes and the HLC codec.
 *
 * **Root distance is an unsigned 64-bit integer in an 8-byte bin** for the same reason: an
 * unsynchronized node's root distance is about 2^62 ns, beyond Number.MAX_SAFE_INTEGER. In TypeScript
 * it is a `number`; the decoder accepts values up to 2^63 (the core's own bound on error) that a double
 * holds exactly, so every accepted value re-encodes to the same bytes.
 *
 * Small integers (`v`, `st`) may use any msgpack integer format. Strings are compared exactly.
 *
 * **Strictness.** Unknown keys are rejected (`unknown-field`), and so are duplicate keys, trailing
 * bytes and a top-level value that is not a map. Version 1 is a closed set of fields; anything new
 * needs a new `v`. Extra unsigned fields would otherwise ride along in receipts, unauthenticated. `v`
 * is checked before any other field, so a future version is reported as `unknown-version`.
 *
 * ## Signed bytes
 *
 * `sig` is the responder's Ed25519 signature over `domainSeparated('timemesh/sample/1', body)`, i.e.
 * the ASCII domain, a NUL byte, then `body`, a fixed-order binary encoding of every field but `sig`
 * (integers big-endian; the msgpack map order plays no part):
 *
 *     u8 v · 16 bytes n · i64 t2 · i64 t3 · i64 e · i64 l · u64 rd ·
 *     u8 len + ASCII ak · u8 st · u8 len + ASCII ss · u16 len + h · u8 len + UTF-8 p
 *
 * Every variable-length field carries its length, so no two different responses have the same body.
 * The request nonce is inside, so a response cannot be replayed to another request, and the domain
 * keeps the signature from being valid as any other kind of timemesh message.
 *
 * ## Receipts
 *
 * A signed response is a receipt: `verifyReceipt(bytes, verifier)` checks it with nothing but its bytes,
 * because an Ed25519 peer id carries its public key. A receipt proves what `p` claimed in answer to
 * nonce `n`; it does not prove when, or to whom.
 *
 * ## What is checked here and what is not
 *
 * The decoders check types, lengths, ranges and enums; the HLC through decodeHlc, and that its node id
 * is `p`. They never throw, whatever they are given: a peer controls these bytes. Bad input is a
 * SampleProtocolError value with a `reason` (stable, for metric labels) and a precise message.
 *
 * They do NOT check relations between times: T2 ≤ T3 and earliest ≤ T3 ≤ latest are the core's business
 * (node/core/exchange.ts rejects them and counts them as `responder-time-reversed` and `bad-interval`),
 * so a response that breaks them still decodes, and still verifies if it is signed.
 *
 * Signing our own response with values out of range is a bug in the caller and throws a TimemeshError
 * with code TM_ERR_SAMPLE_MISUSE.
 *
 * HAZARD (year 2262): i64 nanoseconds end at 2^63 − 1 (2262-04-11). Before that, from about 2116, an
 * unsynchronized node's latest time (reading + 2^62) passes 2^63 − 1 and signing throws; the core would
 * have to cap its "unbounded" interval by then.
 */
import { Packr, Unpackr } from 'msgpackr';
import { TimemeshError } from '../hlc/errors.ts';
import { decodeHlc, encodeHlc } from '../hlc/hlcCodec.ts';
import type { HlcTimestamp } from '../hlc/hlc.ts';
import type { ServedSample } from '../node/core/types.ts';
import { SIGNATURE_BYTES, domainSeparated } from './signing.ts';
import type { SignatureVerifier, Signer } from './signing.ts';
import { ANCHOR_KINDS, SYNC_STATUSES } from '../hlc/timeTypes.ts';

export const SAMPLE_PROTOCOL_ID = '/timemesh/sample/1.0.0';
export const SAMPLE_PROTOCOL_VERSION = 1;
/** The domain string of the signed bytes (domainSeparated adds the NUL). */
export const SAMPLE_SIGNATURE_DOMAIN = 'timemesh/sample/1';
export const SAMPLE_NONCE_BYTES = 16;
export const SAMPLE_REQUEST_MAX_BYTES = 64;
export const SAMPLE_RESPONSE_MAX_BYTES = 512;
/** Longest peer id accepted, in UTF-8 bytes (an Ed25519 peer id in base58btc is 52). */
export const SAMPLE_PEER_ID_MAX_BYTES = 128;
export const SAMPLE_STRATUM_MAX = 16;
/** The range of absolute times on the wire: signed 64-bit nanoseconds since the Unix epoch. */
export const SAMPLE_TIME_NS_MIN = -(2n ** 63n);
export const SAMPLE_TIME_NS_MAX = 2n ** 63n - 1n;
/** Largest root distance accepted (the core rejects errors beyond 2^63 as garbage). */
export const SAMPLE_ROOT_DISTANCE_NS_MAX = 2 ** 63;
export const SAMPLE_MISUSE_ERROR_CODE = 'TM_ERR_SAMPLE_MISUSE';
export const SAMPLE_PROTOCOL_ERROR_CODE = 'TM_ERR_SAMPLE_PROTOCOL';

export { ANCHOR_KINDS, SYNC_STATUSES };

/** Why bytes were refused, or a response failed verification. Stable: use them as metric labels. */
export type SampleProtocolReason =
  | 'not-bytes'
  | 'too-large'
  | 'not-msgpack'
  | 'not-a-map'
  | 'duplicate-field'
  | 'unknown-version'
  | 'unknown-field'
  | 'missing-field'
  | 'bad-field'
  | 'bad-hlc'
  | 'hlc-node-mismatch'
  | 'nonce-mismatch'
  | 'peer-mismatch'
  | 'bad-signature';

/** Sample protocol input that was refused. Returned by the decoders and verifiers, never thrown. */
export class SampleProtocolError extends TimemeshError {
  readonly reason: SampleProtocolReason;
  /** The wire key concerned (`t2`, `sig`, …), or null when the problem is not one field's. */
  readonly field: string | null;

  constructor(reason: SampleProtocolReason, detail: string, field: string | null = null, cause?: unknown) {
    super(
      SAMPLE_PROTOCOL_ERROR_CODE,
      `sample protocol: ${reason}${field === null ? '' : ` in field "${field}"`}: ${detail}`,
      cause === undefined ? undefined : { cause },
    );
    this.reason = reason;
    this.field = field;
  }
}

/** A decoded response: the ServedSample the core needs, plus what the signature covers. */
export interface SampleResponse extends ServedSample {
  /** The request nonce the responder signed. */
  nonce: Uint8Array;
  /** The responder (the `p` field, equal to hlc.nodeId). */
  peerId: string;
  signature: Uint8Array;
  /** Exactly the bytes the signature covers: the domain, a NUL and the canonical body. */
  signedBytes: Uint8Array;
}

export type SampleRequestDecodeResult =
  { ok: true; nonce: Uint8Array } | { ok: false; error: SampleProtocolError };
export type SampleResponseDecodeResult =
  { ok: true; response: SampleResponse } | { ok: false; error: SampleProtocolError };
/** Why a well-formed response is not the answer to our request, or not signed by its peer. */
export type SampleVerifyReason = 'nonce-mismatch' | 'peer-mismatch' | 'bad-signature';
export type SampleVerifyResult =
  { ok: true } | { ok: false; reason: SampleVerifyReason; error: SampleProtocolError };

/** What verification needs from a SignatureVerifier (mesh/signing.ts); a stub will do in tests. */
export type SampleSignatureVerifier = Pick<SignatureVerifier, 'verify'>;

// msgpack: plain maps (no msgpackr record extension), so any msgpack library can speak the protocol.
// Maps decode as Map, not as objects: no prototype keys, and duplicate keys can be detected.
const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, int64AsType: 'bigint' });

const REQUEST_FIELDS: ReadonlySet<string> = new Set(['v', 'n']);
const RESPONSE_FIELDS: readonly string[] = [
  'v',
  'n',
  't2',
  't3',
  'e',
  'l',
  'rd',
  'ak',
  'st',
  'ss',
  'h',
  'p',
  'sig',
];
const RESPONSE_FIELD_SET: ReadonlySet<string> = new Set(RESPONSE_FIELDS);

const utf8Encoder = new TextEncoder();

// ---------------------------------------------------------------------------------------------------
// Requests

/** The request for a sample. `nonce` must be 16 fresh random bytes (the caller supplies randomness). */
export function encodeSampleRequest(nonce: Uint8Array): Uint8Array {
  const problem = nonceProblem(nonce);
  if (problem !== null) throw misuse(`encodeSampleRequest: ${problem}`);
  return pack({ v: SAMPLE_PROTOCOL_VERSION, n: nonce });
}

export function decodeSampleRequest(bytes: Uint8Array): SampleRequestDecodeResult {
  const read = readMap(bytes, SAMPLE_REQUEST_MAX_BYTES, REQUEST_FIELDS, ['v', 'n']);
  if (!read.ok) return read;
  const nonce = binField(read.map, 'n', SAMPLE_NONCE_BYTES);
  if (nonce instanceof SampleProtocolError) return { ok: false, error: nonce };
  return { ok: true, nonce };
}

// ---------------------------------------------------------------------------------------------------
// Responses

/**
 * The bytes a responder signs for `served` in answer to `nonce`: the domain, a NUL and the canonical
 * body (see the header). Throws TM_ERR_SAMPLE_MISUSE if a value cannot go on the wire.
 */
export function sampleSigningBytes(served: ServedSample, nonce: Uint8Array, peerId: string): Uint8Array {
  const problem = servedProblem(served, nonce, peerId);
  if (problem !== null) throw misuse(`cannot sign this sample response: ${problem}`);
  return canonicalBytes(served, nonce, encodeHlc(served.hlc), utf8Encoder.encode(peerId));
}

/**
 * Signs `served` as the answer to the request with `nonce` and returns the response's wire bytes.
 * The HLC's node id must be the signer's peer id. Throws TM_ERR_SAMPLE_MISUSE on values that cannot
 * go on the wire (a bug in the caller, never peer input).
 */
export function signSampleResponse(served: ServedSample, nonce: Uint8Array, signer: Signer): Uint8Array {
  const problem = servedProblem(served, nonce, signer.peerId);
  if (problem !== null) throw misuse(`cannot sign this sample response: ${problem}`);
  const hlcBytes = encodeHlc(served.hlc);
  const signedBytes = canonicalBytes(served, nonce, hlcBytes, utf8Encoder.encode(signer.peerId));
  const signature = signer.sign(signedBytes);
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) {
    throw misuse(`the signer returned ${describe(signature)}, not a ${SIGNATURE_BYTES}-byte signature`);
  }
  const bytes = pack({
    v: SAMPLE_PROTOCOL_VERSION,
    n: nonce,
    t2: i64Bytes(served.t2PeerNs),
    t3: i64Bytes(served.t3PeerNs),
    e: i64Bytes(served.earliestNs),
    l: i64Bytes(served.latestNs),
    rd: u64Bytes(BigInt(served.rootDistanceNs)),
    ak: served.anchorKind,
    st: served.stratum,
    ss: served.status,
    h: hlcBytes,
    p: signer.peerId,
    sig: signature,
  });
  // Unreachable by the limits above (test/mesh/sampleProtocol.test.ts packs the largest response);
  // kept so that a change to them cannot silently produce responses every peer refuses.
  if (bytes.length > SAMPLE_RESPONSE_MAX_BYTES) {
    throw misuse(`the response is ${bytes.length} bytes, more than ${SAMPLE_RESPONSE_MAX_BYTES}`);
  }
  return bytes;
}

/** Decodes and validates a response's fields. Does not check the signature: see verifySampleResponse. */
export function decodeSampleResponse(bytes: Uint8Array): SampleResponseDecodeResult {
  const read = readMap(bytes, SAMPLE_RESPONSE_MAX_BYTES, RESPONSE_FIELD_SET, RESPONSE_FIELDS);
  if (!read.ok) return read;
  const map = read.map;
  const nonce = binField(map, 'n', SAMPLE_NONCE_BYTES);
  if (nonce instanceof SampleProtocolError) return { ok: false, error: nonce };
  const t2PeerNs = i64Field(map, 't2');
  if (t2PeerNs instanceof SampleProtocolError) return { ok: false, error: t2PeerNs };
  const t3PeerNs = i64Field(map, 't3');
  if (t3PeerNs instanceof SampleProtocolError) return { ok: false, error: t3PeerNs };
  const earliestNs = i64Field(map, 'e');
  if (earliestNs instanceof SampleProtocolError) return { ok: false, error: earliestNs };
  const latestNs = i64Field(map, 'l');
  if (latestNs instanceof SampleProtocolError) return { ok: false, error: latestNs };
  const rootDistanceNs = rootDistanceField(map);
  if (rootDistanceNs instanceof SampleProtocolError) return { ok: false, error: rootDistanceNs };
  const anchorKind = enumField(map, 'ak', ANCHOR_KINDS);
  if (anchorKind instanceof SampleProtocolError) return { ok: false, error: anchorKind };
  const stratum = smallIntField(map, 'st', 0, SAMPLE_STRATUM_MAX);
  if (stratum instanceof SampleProtocolError) return { ok: false, error: stratum };
  const status = enumField(map, 'ss', SYNC_STATUSES);
  if (status instanceof SampleProtocolError) return { ok: false, error: status };
  const peerId = peerIdField(map);
  if (peerId instanceof SampleProtocolError) return { ok: false, error: peerId };
  const hlcBytes = binField(map, 'h', null);
  if (hlcBytes instanceof SampleProtocolError) return { ok: false, error: hlcBytes };
  const hlc = decodeHlc(hlcBytes);
  if (!hlc.ok) {
    const e = hlc.error;
    return fail('bad-hlc', `the HLC does not decode (${e.reason}): ${e.message}`, 'h', e);
  }
  if (hlc.value.nodeId !== peerId) {
    return fail(
      'hlc-node-mismatch',
      `the HLC's node id ${quote(hlc.value.nodeId)} is not the responder ${quote(peerId)}`,
      'h',
    );
  }
  const signature = binField(map, 'sig', SIGNATURE_BYTES);
  if (signature instanceof SampleProtocolError) return { ok: false, error: signature };
  const served: ServedSample = {
    t2PeerNs,
    t3PeerNs,
    earliestNs,
    latestNs,
    rootDistanceNs,
    anchorKind,
    stratum,
    status,
    hlc: hlc.value,
  };
  const signedBytes = canonicalBytes(served, nonce, hlcBytes, utf8Encoder.encode(peerId));
  return { ok: true, response: { ...served, nonce, peerId, signature, signedBytes } };
}

/**
 * Checks a decoded response against the request this node sent: the nonce, the peer it asked (the
 * stream's authenticated remote peer) and the signature, cheapest first.
 */
export function verifySampleResponse(
  response: SampleResponse,
  expectedNonce: Uint8Array,
  expectedPeerId: string,
  verifier: SampleSignatureVerifier,
): SampleVerifyResult {
  if (!bytesEqual(response.nonce, expectedNonce)) {
    return verifyFail('nonce-mismatch', 'the response echoes a different nonce than the request sent', 'n');
  }
  if (response.peerId !== expectedPeerId) {
    return verifyFail(
      'peer-mismatch',
      `the response is signed as ${quote(response.peerId)}, but the request went to ${quote(expectedPeerId)}`,
      'p',
    );
  }
  return checkSignature(response, verifier);
}

/** decodeSampleResponse then verifySampleResponse: what a requester does with the bytes it receives. */
export function openSampleResponse(
  bytes: Uint8Array,
  expectedNonce: Uint8Array,
  expectedPeerId: string,
  verifier: SampleSignatureVerifier,
): SampleResponseDecodeResult {
  const decoded = decodeSampleResponse(bytes);
  if (!decoded.ok) return decoded;
  const verified = verifySampleResponse(decoded.response, expectedNonce, expectedPeerId, verifier);
  return verified.ok ? decoded : { ok: false, error: verified.error };
}

/**
 * Checks a receipt (a response's wire bytes) with nothing else: decodes it and checks the signature by
 * the peer id inside. Says nothing about which request the nonce belonged to.
 */
export function verifyReceipt(
  bytes: Uint8Array,
  verifier: SampleSignatureVerifier,
): SampleResponseDecodeResult {
  const decoded = decodeSampleResponse(bytes);
  if (!decoded.ok) return decoded;
  const verified = checkSignature(decoded.response, verifier);
  return verified.ok ? decoded : { ok: false, error: verified.error };
}

// ---------------------------------------------------------------------------------------------------
// Internals

function checkSignature(response: SampleResponse, verifier: SampleSignatureVerifier): SampleVerifyResult {
  let valid: boolean;
  try {
    valid = verifier.verify(response.peerId, response.signedBytes, response.signature);
  } catch (err) {
    // SignatureVerifier never throws; another implementation might, and this runs on peer input.
    return verifyFail('bad-signature', `the verifier failed: ${String(err)}`, 'sig', err);
  }
  if (!valid) {
    return verifyFail(
      'bad-signature',
      `the signature is not ${quote(response.peerId)}'s over this response (or that is not an Ed25519 peer id)`,
      'sig',
    );
  }
  return { ok: true };
}

function canonicalBytes(
  served: ServedSample,
  nonce: Uint8Array,
  hlcBytes: Uint8Array,
  peerIdBytes: Uint8Array,
): Uint8Array {
  // The enums are ASCII (checked against ANCHOR_KINDS / SYNC_STATUSES), so one byte per character.
  const ak = served.anchorKind;
  const ss = served.status;
  const size =
    1 +
    SAMPLE_NONCE_BYTES +
    5 * 8 +
    1 +
    ak.length +
    1 +
    1 +
    ss.length +
    2 +
    hlcBytes.length +
    1 +
    peerIdBytes.length;
  const body = new Uint8Array(size);
  const view = new DataView(body.buffer);
  let at = 0;
  view.setUint8(at, SAMPLE_PROTOCOL_VERSION);
  at += 1;
  body.set(nonce, at);
  at += SAMPLE_NONCE_BYTES;
  for (const t of [served.t2PeerNs, served.t3PeerNs, served.earliestNs, served.latestNs]) {
    view.setBigInt64(at, t, false);
    at += 8;
  }
  view.setBigUint64(at, BigInt(served.rootDistanceNs), false);
  at += 8;
  at = putAscii(body, at, ak);
  view.setUint8(at, served.stratum);
  at += 1;
  at = putAscii(body, at, ss);
  view.setUint16(at, hlcBytes.length, false);
  at += 2;
  body.set(hlcBytes, at);
  at += hlcBytes.length;
  view.setUint8(at, peerIdBytes.length);
  at += 1;
  body.set(peerIdBytes, at);
  return domainSeparated(SAMPLE_SIGNATURE_DOMAIN, body);
}

function putAscii(out: Uint8Array, at: number, text: string): number {
  out[at] = text.length;
  for (let i = 0; i < text.length; i++) out[at + 1 + i] = text.charCodeAt(i);
  return at + 1 + text.length;
}

function i64Bytes(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, value, false);
  return out;
}

function u64Bytes(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value, false);
  return out;
}

/** msgpackr packs into a shared, reused buffer: copy out, so the result neither changes nor pins it. */
function pack(value: Record<string, unknown>): Uint8Array {
  return new Uint8Array(packr.pack(value));
}

/** Why our own values cannot be signed, or null. */
function servedProblem(served: ServedSample, nonce: Uint8Array, peerId: string): string | null {
  const nonceIssue = nonceProblem(nonce);
  if (nonceIssue !== null) return nonceIssue;
  if (typeof served !== 'object' || served === null) return 'the served sample must be an object';
  for (const [name, value] of [
    ['t2PeerNs', served.t2PeerNs],
    ['t3PeerNs', served.t3PeerNs],
    ['earliestNs', served.earliestNs],
    ['latestNs', served.latestNs],
  ] as const) {
    if (typeof value !== 'bigint' || value < SAMPLE_TIME_NS_MIN || value > SAMPLE_TIME_NS_MAX) {
      return `${name} must be a bigint in [−2^63, 2^63 − 1] (got ${describe(value)})`;
    }
  }
  const rd = served.rootDistanceNs;
  if (!Number.isInteger(rd) || rd < 0 || rd > SAMPLE_ROOT_DISTANCE_NS_MAX) {
    return `rootDistanceNs must be an integer in [0, 2^63] (got ${describe(rd)})`;
  }
  if (!ANCHOR_KINDS.includes(served.anchorKind)) return `unknown anchorKind ${describe(served.anchorKind)}`;
  if (!Number.isInteger(served.stratum) || served.stratum < 0 || served.stratum > SAMPLE_STRATUM_MAX) {
    return `stratum must be an integer in [0, ${SAMPLE_STRATUM_MAX}] (got ${describe(served.stratum)})`;
  }
  if (!SYNC_STATUSES.includes(served.status)) return `unknown status ${describe(served.status)}`;
  if (typeof peerId !== 'string' || peerId.length === 0) return 'the peer id must be a non-empty string';
  if (utf8Encoder.encode(peerId).length > SAMPLE_PEER_ID_MAX_BYTES) {
    return `the peer id is longer than ${SAMPLE_PEER_ID_MAX_BYTES} UTF-8 bytes`;
  }
  const hlc: HlcTimestamp | undefined = served.hlc;
  if (typeof hlc !== 'object' || hlc === null) return 'hlc must be a timestamp';
  if (hlc.nodeId !== peerId) {
    return `the HLC's node id ${quote(String(hlc.nodeId))} is not the signer's peer id ${quote(peerId)}`;
  }
  // The rest of the HLC is checked by encodeHlc, which throws TM_ERR_HLC_MISUSE.
  return null;
}

function nonceProblem(nonce: unknown): string | null {
  if (!(nonce instanceof Uint8Array) || nonce.length !== SAMPLE_NONCE_BYTES) {
    return `the nonce must be ${SAMPLE_NONCE_BYTES} bytes (got ${describe(nonce)})`;
  }
  return null;
}

type MapRead = { ok: true; map: Map<unknown, unknown> } | { ok: false; error: SampleProtocolError };

/**
 * The common front of both decoders: bytes, size, msgpack, a map with no duplicate keys, version 1,
 * no unknown keys, every required key present.
 */
function readMap(
  bytes: unknown,
  maxBytes: number,
  allowed: ReadonlySet<string>,
  required: readonly string[],
): MapRead {
  if (!(bytes instanceof Uint8Array))
    return fail('not-bytes', `expected a Uint8Array, got ${describe(bytes)}`);
  if (bytes.length > maxBytes) return fail('too-large', `${bytes.length} bytes, the limit is ${maxBytes}`);
  if (bytes.length === 0) return fail('not-msgpack', 'the message is empty');
  const declared = declaredMapSize(bytes);
  let value: unknown;
  try {
    value = unpackr.unpack(bytes);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return fail('not-msgpack', `not one well-formed msgpack value (${why.slice(0, 120)})`, null, err);
  }
  // A Map can also come out of a msgpackr extension; only a plain msgpack map is accepted.
  if (declared === null || !(value instanceof Map)) {
    return fail('not-a-map', `the message is ${describe(value)}, not a msgpack map`);
  }
  if (value.size !== declared) {
    return fail(
      'duplicate-field',
      `the map declares ${declared} entries but has ${value.size} distinct keys`,
    );
  }
  if (!value.has('v')) return fail('missing-field', 'no version', 'v');
  const version = smallInt(value.get('v'));
  if (version !== SAMPLE_PROTOCOL_VERSION) {
    return fail(
      'unknown-version',
      `version ${describe(value.get('v'))}; this node speaks ${SAMPLE_PROTOCOL_VERSION}`,
      'v',
    );
  }
  for (const key of value.keys()) {
    if (typeof key !== 'string' || !allowed.has(key)) {
      return fail(
        'unknown-field',
        `key ${typeof key === 'string' ? quote(key) : describe(key)} is not part of version ${SAMPLE_PROTOCOL_VERSION}`,
        typeof key === 'string' ? key.slice(0, 32) : null,
      );
    }
  }
  for (const key of required) {
    if (!value.has(key)) return fail('missing-field', 'required and absent', key);
  }
  return { ok: true, map: value };
}

/** The entry count a top-level msgpack map header declares, or null if the bytes do not start one. */
function declaredMapSize(bytes: Uint8Array): number | null {
  const b0 = bytes[0]!;
  if (b0 >= 0x80 && b0 <= 0x8f) return b0 & 0x0f;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b0 === 0xde && bytes.length >= 3) return view.getUint16(1, false);
  if (b0 === 0xdf && bytes.length >= 5) return view.getUint32(1, false);
  return null;
}

/** A bin field of exactly `length` bytes (any length if null), copied out of the input buffer. */
function binField(
  map: Map<unknown, unknown>,
  key: string,
  length: number | null,
): Uint8Array | SampleProtocolError {
  const value = map.get(key);
  if (!(value instanceof Uint8Array)) return fieldError(key, `expected bytes, got ${describe(value)}`);
  if (length !== null && value.length !== length) {
    return fieldError(key, `expected ${length} bytes, got ${value.length}`);
  }
  return new Uint8Array(value);
}

function i64Field(map: Map<unknown, unknown>, key: string): bigint | SampleProtocolError {
  const bytes = binField(map, key, 8);
  if (bytes instanceof SampleProtocolError) return bytes;
  return new DataView(bytes.buffer).getBigInt64(0, false);
}

function rootDistanceField(map: Map<unknown, unknown>): number | SampleProtocolError {
  const bytes = binField(map, 'rd', 8);
  if (bytes instanceof SampleProtocolError) return bytes;
  const big = new DataView(bytes.buffer).getBigUint64(0, false);
  if (big > BigInt(SAMPLE_ROOT_DISTANCE_NS_MAX)) return fieldError('rd', `${big} ns exceeds 2^63`);
  const value = Number(big);
  if (BigInt(value) !== big) return fieldError('rd', `${big} ns is not exactly representable as a double`);
  return value;
}

function enumField<T extends string>(
  map: Map<unknown, unknown>,
  key: string,
  allowed: readonly T[],
): T | SampleProtocolError {
  const value = map.get(key);
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    return fieldError(key, `expected one of ${allowed.join(', ')}; got ${describe(value)}`);
  }
  return value as T;
}

function smallIntField(
  map: Map<unknown, unknown>,
  key: string,
  min: number,
  max: number,
): number | SampleProtocolError {
  const value = smallInt(map.get(key));
  if (value === null || value < min || value > max) {
    return fieldError(key, `expected an integer in [${min}, ${max}], got ${describe(map.get(key))}`);
  }
  return value;
}

function peerIdField(map: Map<unknown, unknown>): string | SampleProtocolError {
  const value = map.get('p');
  if (typeof value !== 'string' || value.length === 0) {
    return fieldError('p', `expected a non-empty string, got ${describe(value)}`);
  }
  if (
    value.length > SAMPLE_PEER_ID_MAX_BYTES ||
    utf8Encoder.encode(value).length > SAMPLE_PEER_ID_MAX_BYTES
  ) {
    return fieldError('p', `the peer id is longer than ${SAMPLE_PEER_ID_MAX_BYTES} UTF-8 bytes`);
  }
  return value;
}

/** An integer sent in any msgpack integer format (msgpackr gives 64-bit formats as bigint), or null. */
function smallInt(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  if (typeof value === 'bigint' && value >= -(2n ** 53n) && value <= 2n ** 53n) return Number(value);
  return null;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function fieldError(field: string, detail: string): SampleProtocolError {
  return new SampleProtocolError('bad-field', detail, field);
}

function fail(
  reason: SampleProtocolReason,
  detail: string,
  field: string | null = null,
  cause?: unknown,
): { ok: false; error: SampleProtocolError } {
  return { ok: false, error: new SampleProtocolError(reason, detail, field, cause) };
}

function verifyFail(
  reason: SampleVerifyReason,
  detail: string,
  field: string,
  cause?: unknown,
): SampleVerifyResult {
  return { ok: false, reason, error: new SampleProtocolError(reason, detail, field, cause) };
}

function misuse(message: string): TimemeshError {
  return new TimemeshError(SAMPLE_MISUSE_ERROR_CODE, message);
}

function quote(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

/** A short, safe description of a peer-supplied value for an error message. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  switch (typeof value) {
    case 'string':
      return `the string ${quote(value)}`;
    case 'number':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    case 'bigint':
      return `integer ${value}`;
    case 'undefined':
      return 'undefined';
    case 'object':
      return Array.isArray(value)
        ? 'an array'
        : value instanceof Map
          ? 'a map'
          : `an object (${value.constructor?.name ?? 'null prototype'})`;
    default:
      return typeof value;
  }
}
