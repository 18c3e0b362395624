/**
 * Typed errors of the hybrid logical clock and its codec.
 *
 * Two kinds, following the project rule that peer input is a value and only mistakes are thrown:
 * - Returned, never thrown (a peer sent something we refuse): HlcMaxOffsetError,
 *   HlcBeyondHighWaterError, HlcDecodeError. Each carries the numbers that explain the refusal, so a
 *   log line or a metric label can be built without parsing the message.
 * - Thrown (the operator's or the caller's mistake): TM_ERR_HLC_CONFIG and TM_ERR_HLC_MISUSE as plain
 *   TimemeshErrors, and HlcExhaustedError, which means the node failed to persist its high-water mark.
 *
 * Codes are stable; messages are for humans and may change.
 */
import { TimemeshError } from './errors.ts';

export const HLC_CONFIG_ERROR_CODE = 'TM_ERR_HLC_CONFIG';
/** A caller broke the API's contract (a malformed timestamp, an out-of-order persistence confirmation). */
export const HLC_MISUSE_ERROR_CODE = 'TM_ERR_HLC_MISUSE';
export const HLC_MAX_OFFSET_ERROR_CODE = 'TM_ERR_HLC_MAX_OFFSET';
export const HLC_BEYOND_HIGH_WATER_ERROR_CODE = 'TM_ERR_HLC_BEYOND_HIGH_WATER';
export const HLC_EXHAUSTED_ERROR_CODE = 'TM_ERR_HLC_EXHAUSTED';
export const HLC_DECODE_ERROR_CODE = 'TM_ERR_HLC_DECODE';

/**
 * A remote timestamp was further ahead of this node's uncertainty interval than the promised maximum
 * offset allows. Accepting it would drag this clock, and through it every peer we talk to, into the
 * future; one Byzantine peer could do that to the whole mesh.
 */
export class HlcMaxOffsetError extends TimemeshError {
  readonly remoteWallNs: bigint;
  readonly latestNs: bigint;
  readonly maxOffsetNs: bigint;
  /** remoteWallNs − latestNs: how far the remote is past the top of our interval (> maxOffsetNs). */
  readonly aheadByNs: bigint;

  constructor(remoteWallNs: bigint, latestNs: bigint, maxOffsetNs: bigint) {
    const aheadByNs = remoteWallNs - latestNs;
    super(
      HLC_MAX_OFFSET_ERROR_CODE,
      `remote HLC wall time ${remoteWallNs} ns is ${aheadByNs} ns past this node's latest possible true time ` +
        `${latestNs} ns, more than the maximum offset of ${maxOffsetNs} ns; the timestamp was rejected and the ` +
        `clock left unchanged. If this peer is honest its clock is wrong (check its time sources), or this ` +
        `node's interval is too narrow, or maxOffsetNs is set below the mesh's real skew.`,
    );
    this.remoteWallNs = remoteWallNs;
    this.latestNs = latestNs;
    this.maxOffsetNs = maxOffsetNs;
    this.aheadByNs = aheadByNs;
  }
}

/**
 * A remote timestamp passed the max-offset guard but leaves no room below this node's persisted
 * high-water mark: a result greater than it would need a wall time above the mark, which would break
 * monotonicity across a restart. Refusing is the only safe answer; clamping would silently issue a
 * timestamp that is not after the remote one.
 */
export class HlcBeyondHighWaterError extends TimemeshError {
  readonly remoteWallNs: bigint;
  readonly remoteLogical: number;
  readonly highWaterNs: bigint;

  constructor(remoteWallNs: bigint, remoteLogical: number, highWaterNs: bigint) {
    super(
      HLC_BEYOND_HIGH_WATER_ERROR_CODE,
      `remote HLC timestamp ${remoteWallNs}.${remoteLogical} cannot be followed without passing this node's ` +
        `persisted high-water mark ${highWaterNs} ns; the timestamp was rejected and the clock left unchanged. ` +
        `Persist the value from highWaterMarkToPersist() promptly (or raise persistWindowNs above the mesh's ` +
        `skew), and check whether this peer's clock is far ahead.`,
    );
    this.remoteWallNs = remoteWallNs;
    this.remoteLogical = remoteLogical;
    this.highWaterNs = highWaterNs;
  }
}

/**
 * The clock is held at the persisted high-water mark and has used every logical value there. It cannot
 * issue another timestamp until a higher mark is persisted; issuing one anyway would risk repeating a
 * timestamp after a crash.
 */
export class HlcExhaustedError extends TimemeshError {
  readonly highWaterNs: bigint;

  constructor(highWaterNs: bigint) {
    super(
      HLC_EXHAUSTED_ERROR_CODE,
      `the HLC high-water mark could not be persisted in time: the clock is held at ${highWaterNs} ns and its ` +
        `logical counter is exhausted. Check that the data directory is writable and that the node persists ` +
        `the value from highWaterMarkToPersist() and calls confirmPersisted() (also before the first ` +
        `timestamp after a start).`,
    );
    this.highWaterNs = highWaterNs;
  }
}

/** Why bytes or text did not decode to a timestamp. */
export type HlcDecodeReason =
  | 'not-bytes'
  | 'not-text'
  | 'too-short'
  | 'length-mismatch'
  | 'trailing-bytes'
  | 'empty-node-id'
  | 'node-id-too-long'
  | 'invalid-utf8'
  | 'invalid-node-id'
  | 'missing-part'
  | 'invalid-number'
  | 'wall-out-of-range'
  | 'logical-out-of-range';

/** Bytes or text from outside did not hold a valid timestamp. Returned by the decoders, never thrown. */
export class HlcDecodeError extends TimemeshError {
  readonly reason: HlcDecodeReason;

  constructor(reason: HlcDecodeReason, detail: string) {
    super(HLC_DECODE_ERROR_CODE, `invalid HLC timestamp (${reason}): ${detail}`);
    this.reason = reason;
  }
}
