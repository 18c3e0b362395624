/**
 * Wire format of the announcement every node publishes on the gossipsub topic `timemesh/<network>/v1`.
 *
 * No signature of its own. gossipsub runs with StrictSign, so every message already carries the
 * publisher's peer id (`from`), a sequence number and an Ed25519 signature over all of it, checked by
 * gossipsub before any topic validator runs. An announcement is therefore only as authentic as that
 * check, and only if `nodeId` equals the message's `from`: the topic validator (gossipValidator.ts)
 * refuses any announcement that names a node other than its signer. The sample receipts inside are
 * signed by the peers that served them (sampleProtocol.ts) and are checked there, not here.
 *
 * Encoding: one msgpack array of exactly 13 elements, in this order:
 *
 *   0  version         uint, ANNOUNCEMENT_WIRE_VERSION (1); checked first, so a later version may change
 *                      everything after it
 *   1  nodeId          str, the publisher's peer id (1..255 UTF-8 bytes, the HLC node-id limit)
 *   2  seq             uint ≤ 2^53 − 1, per publisher, strictly increasing (see HAZARD below)
 *   3  sentAtNs        u64, the publisher's clock reading when it built the message
 *   4  hlc             bin, encodeHlc bytes (hlcCodec.ts); its nodeId must equal element 1
 *   5  bestNs          u64 \
 *   6  earliestNs      u64  } the publisher's reading at publication; earliest ≤ best ≤ latest
 *   7  latestNs        u64 /
 *   8  rootDistanceNs  float64 or int, finite, in [0, 2^64]
 *   9  anchorKind      str, one of ANCHOR_KINDS
 *  10  stratum         uint, 0..16 (16 = unsynchronized, as in NTP)
 *  11  status          str, one of SYNC_STATUSES
 *  12  receipts        array of at most 8 bin, each 1..512 bytes, opaque here
 *
 * An array rather than a map: the shape is fixed per version, an exact length is a complete check for
 * missing and unknown fields, and it saves the key strings. Enums travel as their strings, so a plain
 * msgpack dump of a captured message is readable.
 *
 * u64 fields are exact. The encoder writes bigints (msgpackr uses int64 below 2^63 and uint64 above);
 * the decoder accepts any msgpack integer width whose value lies in [0, 2^64 − 1] and returns a bigint,
 * so another msgpack implementation that writes small values as fixints interoperates. A float is
 * refused unless it is an integer no larger than 2^53 − 1 (msgpack cannot tell 5 from 5.0 once decoded;
 * beyond 2^53 a float is not an exact integer). The encoding is deterministic but not checked to be
 * canonical: only the publisher can produce the signed bytes, so there is nothing to gain by malleating
 * them, and gossipsub's message id is `from` + its own seqno, not a hash of these bytes.
 *
 * Unbounded intervals. An unsynchronized node reports best ± 2^62 ns (UNBOUNDED_NS), whose lower end is
 * negative until the year 2116. The encoder widens earliestNs below 0 to 0 and latestNs above 2^64 − 1
 * to 2^64 − 1: a wider interval still contains true time, so the claim stays true, and such a node is
 * `unsynchronized` anyway. Every other out-of-range field is the caller's bug and throws
 * TM_ERR_ANNOUNCEMENT_MISUSE.
 *
 * Invariants (checked by test/mesh/announcementCodec.test.ts):
 * - decodeAnnouncement never throws, whatever it is given: peers control these bytes. Bad input is an
 *   AnnouncementDecodeError value with a `reason` code, the offending `field` when there is one, and a
 *   message that says what was expected and what came.
 * - decode(encode(a)) equals a for every valid a whose interval lies within [0, 2^64 − 1].
 * - Everything encodeAnnouncement returns decodes, and fits ANNOUNCEMENT_MAX_BYTES.
 *
 * HAZARD (seq): receivers ignore an announcement whose seq is not greater than the last one they
 * accepted from that publisher. A node that restarts must continue above its previous seq: persist it
 * (ahead, in blocks, like the HLC high-water mark), or start from a value that is larger by
 * construction (microseconds since the epoch fit below 2^53 until the year 2255).
 * HAZARD (decoded bytes): `receipts` and the hlc are copies, never views of the input buffer, so the
 * caller may reuse the buffer gossipsub hands to its validator.
 */
import { Packr, Unpackr } from 'msgpackr';
import { TimemeshError } from '../hlc/errors.ts';
import type { HlcTimestamp } from '../hlc/hlc.ts';
import { nodeIdProblem } from '../hlc/hlc.ts';
import { decodeHlc, encodeHlc } from '../hlc/hlcCodec.ts';
import type { AnchorKind, SyncStatus } from '../hlc/timeTypes.ts';
import type { Announcement } from '../node/core/types.ts';
import { ANCHOR_KINDS, SYNC_STATUSES } from '../hlc/timeTypes.ts';

export const ANNOUNCEMENT_WIRE_VERSION = 1;
/** Largest message on the topic. The largest valid announcement is about 4.8 KiB (receipts dominate). */
export const ANNOUNCEMENT_MAX_BYTES = 8192;
export const ANNOUNCEMENT_MAX_RECEIPTS = 8;
export const ANNOUNCEMENT_MAX_RECEIPT_BYTES = 512;
/** Elements of the wire array (see the table above). */
export const ANNOUNCEMENT_FIELD_COUNT = 13;
/** NTP's "unsynchronized" stratum, the largest one on the wire. */
export const ANNOUNCEMENT_MAX_STRATUM = 16;
export const U64_MAX = 2n ** 64n - 1n;

export { ANCHOR_KINDS, SYNC_STATUSES };

export const ANNOUNCEMENT_DECODE_ERROR_CODE = 'TM_ERR_ANNOUNCEMENT_DECODE';
export const ANNOUNCEMENT_MISUSE_ERROR_CODE = 'TM_ERR_ANNOUNCEMENT_MISUSE';
export const GOSSIP_CONFIG_ERROR_CODE = 'TM_ERR_GOSSIP_CONFIG';

/** An announcement as it travels: the core's Announcement plus what the gossip layer adds. */
export interface GossipAnnouncement extends Announcement {
  /** Per publisher, strictly increasing across the publisher's lifetime (restarts included); ≤ 2^53 − 1. */
  seq: number;
  /** The publisher's best clock reading (ns since the Unix epoch) when it built the message. */
  sentAtNs: bigint;
  /** Recent signed sample responses the publisher received, as they came off the wire. */
  receipts: Uint8Array[];
}

/** Names of the wire fields, as `field` in an AnnouncementDecodeError. */
export type AnnouncementField =
  | 'version'
  | 'nodeId'
  | 'seq'
  | 'sentAtNs'
  | 'hlc'
  | 'bestNs'
  | 'earliestNs'
  | 'latestNs'
  | 'rootDistanceNs'
  | 'anchorKind'
  | 'stratum'
  | 'status'
  | 'receipts';

export type AnnouncementDecodeReason =
  /** The input is not a Uint8Array. */
  | 'not-bytes'
  /** Longer than ANNOUNCEMENT_MAX_BYTES. */
  | 'oversize'
  /** Not one complete msgpack value: truncated, trailing bytes, an unknown extension, … */
  | 'malformed-msgpack'
  /** Valid msgpack, but not an array. */
  | 'not-an-array'
  /** Element 0 is not ANNOUNCEMENT_WIRE_VERSION. */
  | 'unsupported-version'
  /** The array does not have exactly ANNOUNCEMENT_FIELD_COUNT elements. */
  | 'wrong-field-count'
  /** A field has the wrong type or is out of range; `field` names it. */
  | 'bad-field'
  /** anchorKind or status is not one of the known values. */
  | 'bad-enum'
  /** The hlc bytes do not decode (the message carries the HLC codec's reason). */
  | 'bad-hlc'
  /** The HLC was issued by another node than `nodeId`. */
  | 'hlc-node-mismatch'
  /** Not earliestNs ≤ bestNs ≤ latestNs. */
  | 'bad-interval'
  /** More than ANNOUNCEMENT_MAX_RECEIPTS receipts. */
  | 'too-many-receipts'
  /** A receipt that is not bytes, empty, or longer than ANNOUNCEMENT_MAX_RECEIPT_BYTES. */
  | 'bad-receipt';

/** Bytes from the network did not hold a valid announcement. Returned by the decoder, never thrown. */
export class AnnouncementDecodeError extends TimemeshError {
  readonly reason: AnnouncementDecodeReason;
  readonly field: AnnouncementField | null;

  constructor(reason: AnnouncementDecodeReason, detail: string, field: AnnouncementField | null = null) {
    super(ANNOUNCEMENT_DECODE_ERROR_CODE, `invalid announcement (${reason}): ${detail}`);
    this.reason = reason;
    this.field = field;
  }
}

export type AnnouncementDecodeResult =
  { ok: true; announcement: GossipAnnouncement } | { ok: false; error: AnnouncementDecodeError };

/** The gossipsub topic of a network. Throws TM_ERR_GOSSIP_CONFIG for a name that cannot be one. */
export function announcementTopic(network: string): string {
  if (typeof network !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(network)) {
    throw new TimemeshError(
      GOSSIP_CONFIG_ERROR_CODE,
      `network name must be 1..64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit ` +
        `(got ${JSON.stringify(String(network)).slice(0, 80)})`,
    );
  }
  return `timemesh/${network}/v${ANNOUNCEMENT_WIRE_VERSION}`;
}

// useRecords: false keeps the output plain msgpack (no msgpackr record extension) for other decoders.
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint' });

/**
 * Encodes an announcement. Throws TM_ERR_ANNOUNCEMENT_MISUSE (a bug in the caller, never peer input)
 * when a field is out of range; earliestNs and latestNs are widened to the u64 range instead.
 */
export function encodeAnnouncement(a: GossipAnnouncement): Uint8Array {
  if (typeof a !== 'object' || a === null) misuse('the announcement must be an object');
  if (!Number.isSafeInteger(a.seq) || a.seq < 0)
    misuse(`seq must be a safe integer ≥ 0 (got ${String(a.seq)})`);
  for (const name of ['sentAtNs', 'bestNs', 'earliestNs', 'latestNs'] as const) {
    if (typeof a[name] !== 'bigint') misuse(`${name} must be a bigint (got ${typeof a[name]})`);
  }
  if (typeof a.rootDistanceNs !== 'number') misuse('rootDistanceNs must be a number');
  if (!Array.isArray(a.receipts)) misuse('receipts must be an array');
  const earliestNs = a.earliestNs < 0n ? 0n : a.earliestNs;
  const latestNs = a.latestNs > U64_MAX ? U64_MAX : a.latestNs;
  const wire: unknown[] = [
    ANNOUNCEMENT_WIRE_VERSION,
    a.nodeId,
    a.seq,
    a.sentAtNs,
    encodeHlcOrMisuse(a.hlc),
    a.bestNs,
    earliestNs,
    latestNs,
    a.rootDistanceNs,
    a.anchorKind,
    a.stratum,
    a.status,
    a.receipts,
  ];
  // The decoder's own checks, so that everything encoded here decodes.
  const checked = fromWire(wire);
  if (!checked.ok) misuse(checked.error.message);
  const bytes = packr.pack(wire);
  // Unreachable with the limits above; checked so that a change to them cannot ship oversize messages.
  if (bytes.length > ANNOUNCEMENT_MAX_BYTES) {
    misuse(`encoded announcement is ${bytes.length} bytes, more than ${ANNOUNCEMENT_MAX_BYTES}`);
  }
  // A plain Uint8Array of exactly the message (msgpackr returns a Buffer over a shared, reused pool).
  return new Uint8Array(bytes);
}

/** Decodes and validates an announcement from the network. Never throws. */
export function decodeAnnouncement(bytes: unknown): AnnouncementDecodeResult {
  if (!(bytes instanceof Uint8Array)) return fail('not-bytes', 'input is not a Uint8Array');
  if (bytes.length > ANNOUNCEMENT_MAX_BYTES) {
    return fail('oversize', `${bytes.length} bytes, at most ${ANNOUNCEMENT_MAX_BYTES} allowed`);
  }
  let value: unknown;
  try {
    value = unpackr.unpack(bytes);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return fail('malformed-msgpack', `not a single msgpack value (${why.slice(0, 120)})`);
  }
  return fromWire(value);
}

/** Validates the decoded wire array and builds the announcement. Total: never throws on any value. */
function fromWire(value: unknown): AnnouncementDecodeResult {
  if (!Array.isArray(value)) return fail('not-an-array', `expected a msgpack array, got ${describe(value)}`);
  const version: unknown = value[0];
  if (version !== ANNOUNCEMENT_WIRE_VERSION) {
    return fail(
      'unsupported-version',
      `version is ${describe(version)}, this node speaks ${ANNOUNCEMENT_WIRE_VERSION}`,
      'version',
    );
  }
  if (value.length !== ANNOUNCEMENT_FIELD_COUNT) {
    return fail(
      'wrong-field-count',
      `version ${ANNOUNCEMENT_WIRE_VERSION} has ${ANNOUNCEMENT_FIELD_COUNT} fields, got ${value.length}`,
    );
  }
  const [, nodeId, seqRaw, sentRaw, hlcRaw, bestRaw, earliestRaw, latestRaw] = value as unknown[];
  const [rootDistanceNs, anchorKind, stratum, status, receiptsRaw] = value.slice(8) as unknown[];

  if (typeof nodeId !== 'string') return badField('nodeId', 'a string', nodeId);
  const idProblem = nodeIdProblem(nodeId);
  if (idProblem !== null) return fail('bad-field', idProblem.message, 'nodeId');

  const seq = safeUint(seqRaw);
  if (seq === null) return badField('seq', 'an unsigned integer ≤ 2^53 − 1', seqRaw);
  const sentAtNs = u64(sentRaw);
  if (sentAtNs === null) return badField('sentAtNs', 'an unsigned 64-bit integer', sentRaw);

  if (!(hlcRaw instanceof Uint8Array)) return badField('hlc', 'bytes (msgpack bin)', hlcRaw);
  const hlcResult = decodeHlc(hlcRaw);
  if (!hlcResult.ok) return fail('bad-hlc', hlcResult.error.message, 'hlc');
  const hlc: HlcTimestamp = hlcResult.value;
  if (hlc.nodeId !== nodeId) {
    return fail(
      'hlc-node-mismatch',
      `HLC node id ${JSON.stringify(hlc.nodeId)} is not the announcing node ${JSON.stringify(nodeId)}`,
      'hlc',
    );
  }

  const bestNs = u64(bestRaw);
  if (bestNs === null) return badField('bestNs', 'an unsigned 64-bit integer', bestRaw);
  const earliestNs = u64(earliestRaw);
  if (earliestNs === null) return badField('earliestNs', 'an unsigned 64-bit integer', earliestRaw);
  const latestNs = u64(latestRaw);
  if (latestNs === null) return badField('latestNs', 'an unsigned 64-bit integer', latestRaw);
  if (!(earliestNs <= bestNs && bestNs <= latestNs)) {
    return fail(
      'bad-interval',
      `need earliestNs ≤ bestNs ≤ latestNs, got ${earliestNs} / ${bestNs} / ${latestNs}`,
      bestNs < earliestNs ? 'earliestNs' : 'latestNs',
    );
  }

  const rootDistance = rootDistanceOf(rootDistanceNs);
  if (rootDistance === null) {
    return badField('rootDistanceNs', 'a finite number of ns in [0, 2^64]', rootDistanceNs);
  }
  if (typeof anchorKind !== 'string' || !(ANCHOR_KINDS as readonly string[]).includes(anchorKind)) {
    return fail(
      'bad-enum',
      `anchorKind: expected one of ${ANCHOR_KINDS.join(', ')}, got ${describe(anchorKind)}`,
      'anchorKind',
    );
  }
  if (
    typeof stratum !== 'number' ||
    !Number.isInteger(stratum) ||
    stratum < 0 ||
    stratum > ANNOUNCEMENT_MAX_STRATUM
  ) {
    return badField('stratum', `an integer 0..${ANNOUNCEMENT_MAX_STRATUM}`, stratum);
  }
  if (typeof status !== 'string' || !(SYNC_STATUSES as readonly string[]).includes(status)) {
    return fail(
      'bad-enum',
      `status: expected one of ${SYNC_STATUSES.join(', ')}, got ${describe(status)}`,
      'status',
    );
  }

  if (!Array.isArray(receiptsRaw)) return badField('receipts', 'an array of bytes', receiptsRaw);
  if (receiptsRaw.length > ANNOUNCEMENT_MAX_RECEIPTS) {
    return fail(
      'too-many-receipts',
      `${receiptsRaw.length} receipts, at most ${ANNOUNCEMENT_MAX_RECEIPTS} allowed`,
      'receipts',
    );
  }
  const receipts: Uint8Array[] = [];
  for (let i = 0; i < receiptsRaw.length; i++) {
    const r: unknown = receiptsRaw[i];
    if (!(r instanceof Uint8Array) || r.length === 0 || r.length > ANNOUNCEMENT_MAX_RECEIPT_BYTES) {
      return fail(
        'bad-receipt',
        `receipt ${i}: expected 1..${ANNOUNCEMENT_MAX_RECEIPT_BYTES} bytes, got ${describe(r)}`,
        'receipts',
      );
    }
    receipts.push(new Uint8Array(r));
  }

  return {
    ok: true,
    announcement: {
      nodeId,
      seq,
      sentAtNs,
      hlc: { wallNs: hlc.wallNs, logical: hlc.logical, nodeId: hlc.nodeId },
      bestNs,
      earliestNs,
      latestNs,
      rootDistanceNs: rootDistance,
      anchorKind: anchorKind as AnchorKind,
      stratum,
      status: status as SyncStatus,
      receipts,
    },
  };
}

const TWO_POW_64 = 2 ** 64;

/**
 * A non-negative number of ns from a double, or from a msgpack (u)int64 another implementation may
 * write for an integral distance; else null.
 */
function rootDistanceOf(v: unknown): number | null {
  if (typeof v === 'bigint') return v >= 0n && v <= U64_MAX ? Number(v) : null;
  // `v + 0` turns −0 into 0, so the field compares equal to what was meant.
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= TWO_POW_64 ? v + 0 : null;
}

/** An unsigned integer that a double holds exactly (≤ 2^53 − 1), from any msgpack integer width, else null. */
function safeUint(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null;
  if (typeof v === 'bigint') return v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null;
  return null;
}

/** An exact unsigned 64-bit integer from any msgpack integer encoding, else null. */
function u64(v: unknown): bigint | null {
  if (typeof v === 'bigint') return v >= 0n && v <= U64_MAX ? v : null;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  return null;
}

function encodeHlcOrMisuse(ts: HlcTimestamp): Uint8Array {
  try {
    return encodeHlc(ts);
  } catch (err) {
    misuse(`hlc: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function misuse(message: string): never {
  throw new TimemeshError(ANNOUNCEMENT_MISUSE_ERROR_CODE, `encodeAnnouncement: ${message}`);
}

function fail(
  reason: AnnouncementDecodeReason,
  detail: string,
  field: AnnouncementField | null = null,
): AnnouncementDecodeResult {
  return { ok: false, error: new AnnouncementDecodeError(reason, detail, field) };
}

function badField(field: AnnouncementField, expected: string, got: unknown): AnnouncementDecodeResult {
  return fail('bad-field', `${field}: expected ${expected}, got ${describe(got)}`, field);
}

/** A short, safe description of a decoded value for error messages (never the whole value). */
function describe(v: unknown): string {
  if (v === null) return 'nil';
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  switch (typeof v) {
    case 'string':
      return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
    case 'number':
      return Number.isInteger(v) ? `the integer ${v}` : `the number ${v}`;
    case 'bigint':
      return `the integer ${v}`;
    case 'boolean':
      return String(v);
    case 'undefined':
      return 'nothing';
    default:
      return v instanceof Date ? 'a timestamp' : typeof v;
  }
}
