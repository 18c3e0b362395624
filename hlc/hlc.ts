/**
 * The hybrid logical clock (HLC) of Kulkarni et al., "Logical Physical Clocks" (2014), shaped after
 * CockroachDB's pkg/util/hlc.
 *
 * Why an HLC. Physical clocks, even disciplined ones, disagree by up to the mesh's skew and can step
 * backwards; a Lamport clock orders events but says nothing about when they happened. An HLC timestamp
 * (wallNs, logical) stays within the skew bound of physical time while still capturing causality: if
 * event e happened before f (on one node, or through a message carrying e's timestamp that was
 * observed before f), then ts(e) < ts(f). The nodeId breaks the remaining ties, so compareHlc is a
 * total order across the mesh.
 *
 * Time flows in. The clock never reads a clock: `physicalNs` (the node's best estimate of true time)
 * and `latestNs` (the top of its uncertainty interval) are arguments. The daemon passes the disciplined
 * clock's reading; tests and the simulator pass whatever they want, including time running backwards.
 *
 * Invariants (checked by test/hlc/hlc.test.ts):
 * - Every timestamp returned by now() or observe() is strictly greater than every timestamp this clock
 *   returned or accepted before, whatever the physical input does.
 * - observe() returns a timestamp strictly greater than the accepted remote one.
 * - A rejected remote timestamp leaves the clock exactly as it was (only the rejection counter moves).
 * - With persistence on, no issued wallNs exceeds the confirmed high-water mark, so a clock restored
 *   from that mark issues only timestamps greater than everything issued before the crash.
 * - wallNs never exceeds HLC_MAX_WALL_NS, so every timestamp this clock issues encodes (hlcCodec.ts).
 *
 * HAZARD (bounded skew): the max-offset guard trusts `latestNs`. maxOffsetNs must exceed the real
 * disagreement between honest nodes' readings and the true time, or honest peers are rejected; and any
 * peer, honest or not, can push this clock up to latestNs + maxOffsetNs. While the node is
 * unsynchronized its interval is effectively unbounded (UNBOUNDED_NS in timeTypes.ts) and the guard
 * lets nearly anything through; the persisted high-water mark is then the only cap, and the daemon
 * should consider not observing peers at all until it is synchronized.
 *
 * HAZARD (persisted bound): restart monotonicity holds only if the node writes each value from
 * highWaterMarkToPersist() durably and atomically (write, fsync, rename) *before* calling
 * confirmPersisted(), serializes those writes so the disk never holds a smaller value than one already
 * confirmed, and restores with exactly the value it reads back. With `persistence: false` a restart
 * after the physical clock stepped backwards can reissue timestamps that were already handed out.
 *
 * HAZARD (physical input): a physicalNs far in the future is believed (only remote timestamps are
 * guarded), and it drags the high-water mark with it. Pass the disciplined clock's best estimate, never
 * an unchecked OS reading.
 */
import { TimemeshError } from './errors.ts';
import {
  HLC_CONFIG_ERROR_CODE,
  HLC_MISUSE_ERROR_CODE,
  HlcBeyondHighWaterError,
  HlcExhaustedError,
  HlcMaxOffsetError,
} from './hlcErrors.ts';

/** A point in hybrid logical time. Compare with compareHlc, never field by field. */
export interface HlcTimestamp {
  /** Nanoseconds since the Unix epoch, at or after this node's physical clock when it was issued. */
  wallNs: bigint;
  /** Counts events within one wallNs; an integer in [0, HLC_MAX_LOGICAL]. */
  logical: number;
  /** The issuing node, non-empty, at most HLC_MAX_NODE_ID_BYTES of UTF-8. Breaks ties only. */
  nodeId: string;
}

/** Largest logical counter: what fits the codec's u32. */
export const HLC_MAX_LOGICAL = 0xffff_ffff;
/** Largest wall time: what fits the codec's u64 (about the year 2554). */
export const HLC_MAX_WALL_NS = 2n ** 64n - 1n;
/** Largest node id in UTF-8 bytes: what fits the codec's one-byte length prefix. */
export const HLC_MAX_NODE_ID_BYTES = 255;
/** Default persistence window: a write every ~5 s keeps the clock ~5–10 s ahead of its needs. */
export const HLC_DEFAULT_PERSIST_WINDOW_NS = 10_000_000_000n;

export interface HybridLogicalClockOptions {
  nodeId: string;
  /** Largest amount a remote wallNs may exceed our latestNs by and still be accepted. Must be > 0. */
  maxOffsetNs: bigint;
  /** How far ahead of the clock a persisted high-water mark reaches. Default 10 s. */
  persistWindowNs?: bigint;
  /** Hold wallNs at or below a persisted high-water mark (restart monotonicity). Default false. */
  persistence?: boolean;
  /**
   * The high-water mark read back at start. Requires `persistence: true`; when omitted there, the
   * node is taken to be new and the mark is 0, so it must persist a mark before its first timestamp.
   */
  restoredHighWaterNs?: bigint;
}

/** Counters for metrics; a snapshot, not a live view. */
export interface HlcStats {
  /** Timestamps returned by now(). */
  issued: number;
  /** Remote timestamps accepted by observe(). */
  observed: number;
  /** Remote timestamps rejected by the max-offset guard. */
  rejectedMaxOffset: number;
  /** Remote timestamps rejected because following them would pass the persisted high-water mark. */
  rejectedBeyondHighWater: number;
  /** Times the logical counter ran out and wallNs was advanced by 1 ns instead. */
  logicalOverflows: number;
  /** Timestamps issued while physical time was beyond the high-water mark (the clock was held back). */
  stalls: number;
}

export type HlcObserveResult =
  { ok: true; timestamp: HlcTimestamp } | { ok: false; error: HlcMaxOffsetError | HlcBeyondHighWaterError };

/** Total order: wallNs, then logical, then nodeId in plain string (UTF-16 code unit) order. */
export function compareHlc(a: HlcTimestamp, b: HlcTimestamp): -1 | 0 | 1 {
  if (a.wallNs !== b.wallNs) return a.wallNs < b.wallNs ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  if (a.nodeId !== b.nodeId) return a.nodeId < b.nodeId ? -1 : 1;
  return 0;
}

const utf8 = new TextEncoder();

/** Why a string cannot be a node id; `reason` matches the codec's HlcDecodeReason names. */
export interface NodeIdProblem {
  reason: 'empty-node-id' | 'node-id-too-long' | 'invalid-node-id';
  message: string;
}

/**
 * Why `nodeId` cannot be a node id, or null when it can. Lone surrogates are refused because UTF-8
 * cannot carry them: two different ids would encode to the same bytes and the total order would break.
 */
// The last node id found valid: a node formats and signs its own id on every request, and checking it
// again (UTF-8 length, surrogate scan) was most of formatHlc's cost on /v1/time.
let lastValidNodeId: string | null = null;

export function nodeIdProblem(nodeId: unknown): NodeIdProblem | null {
  if (nodeId === lastValidNodeId) return null;
  if (typeof nodeId !== 'string') return { reason: 'invalid-node-id', message: 'node id must be a string' };
  if (nodeId.length === 0) return { reason: 'empty-node-id', message: 'node id must not be empty' };
  // Every UTF-16 code unit takes at least one UTF-8 byte, so a long string is refused before encoding it.
  const bytes = nodeId.length > HLC_MAX_NODE_ID_BYTES ? nodeId.length : utf8.encode(nodeId).length;
  if (bytes > HLC_MAX_NODE_ID_BYTES) {
    return {
      reason: 'node-id-too-long',
      message: `node id must be at most ${HLC_MAX_NODE_ID_BYTES} UTF-8 bytes (got at least ${bytes})`,
    };
  }
  if (/\p{Cs}/u.test(nodeId)) {
    return {
      reason: 'invalid-node-id',
      message: 'node id must be well-formed Unicode (it has a lone surrogate)',
    };
  }
  lastValidNodeId = nodeId;
  return null;
}

/** Why `ts` is not a valid timestamp, or null when it is. Shared with the codec's encoders. */
export function timestampProblem(ts: HlcTimestamp): string | null {
  if (typeof ts !== 'object' || ts === null) return 'timestamp must be an object';
  if (typeof ts.wallNs !== 'bigint' || ts.wallNs < 0n || ts.wallNs > HLC_MAX_WALL_NS) {
    return `wallNs must be a bigint in [0, 2^64 − 1] (got ${String(ts.wallNs)})`;
  }
  if (!Number.isInteger(ts.logical) || ts.logical < 0 || ts.logical > HLC_MAX_LOGICAL) {
    return `logical must be an integer in [0, ${HLC_MAX_LOGICAL}] (got ${String(ts.logical)})`;
  }
  return nodeIdProblem(ts.nodeId)?.message ?? null;
}

export class HybridLogicalClock {
  readonly nodeId: string;
  readonly maxOffsetNs: bigint;
  readonly persistWindowNs: bigint;
  readonly persistence: boolean;

  #wallNs: bigint;
  #logical: number;
  /**
   * The highest wallNs the clock may issue: the confirmed high-water mark with persistence, otherwise
   * the codec's limit. One ceiling for both keeps a single code path for stalls and exhaustion.
   */
  #ceilingNs: bigint;
  #stats: HlcStats = {
    issued: 0,
    observed: 0,
    rejectedMaxOffset: 0,
    rejectedBeyondHighWater: 0,
    logicalOverflows: 0,
    stalls: 0,
  };

  constructor(opts: HybridLogicalClockOptions) {
    const idProblem = nodeIdProblem(opts.nodeId);
    if (idProblem !== null) {
      throw new TimemeshError(HLC_CONFIG_ERROR_CODE, `HLC nodeId: ${idProblem.message}`);
    }
    if (typeof opts.maxOffsetNs !== 'bigint' || opts.maxOffsetNs <= 0n) {
      throw new TimemeshError(
        HLC_CONFIG_ERROR_CODE,
        `HLC maxOffsetNs must be a bigint > 0 (got ${String(opts.maxOffsetNs)})`,
      );
    }
    const persistWindowNs = opts.persistWindowNs ?? HLC_DEFAULT_PERSIST_WINDOW_NS;
    if (typeof persistWindowNs !== 'bigint' || persistWindowNs <= 0n) {
      throw new TimemeshError(
        HLC_CONFIG_ERROR_CODE,
        `HLC persistWindowNs must be a bigint > 0 (got ${String(persistWindowNs)})`,
      );
    }
    const persistence = opts.persistence ?? false;
    if (opts.restoredHighWaterNs !== undefined) {
      // A restored mark without persistence would be honoured once and then never renewed: almost
      // certainly a forgotten `persistence: true`, so refuse it rather than guess.
      if (!persistence) {
        throw new TimemeshError(HLC_CONFIG_ERROR_CODE, 'HLC restoredHighWaterNs requires persistence: true');
      }
      const h = opts.restoredHighWaterNs;
      if (typeof h !== 'bigint' || h < 0n || h > HLC_MAX_WALL_NS) {
        throw new TimemeshError(
          HLC_CONFIG_ERROR_CODE,
          `HLC restoredHighWaterNs must be a bigint in [0, 2^64 − 1] (got ${String(h)})`,
        );
      }
    }

    this.nodeId = opts.nodeId;
    this.maxOffsetNs = opts.maxOffsetNs;
    this.persistWindowNs = persistWindowNs;
    this.persistence = persistence;
    if (persistence) {
      // Before the crash the clock may have issued anything up to (H, HLC_MAX_LOGICAL) with any node
      // id; starting there makes the next timestamp need wallNs H + 1, which is past the restored
      // mark, so nothing is issued until a higher mark is persisted.
      const h = opts.restoredHighWaterNs ?? 0n;
      this.#wallNs = h;
      this.#logical = HLC_MAX_LOGICAL;
      this.#ceilingNs = h;
    } else {
      this.#wallNs = 0n;
      this.#logical = 0;
      this.#ceilingNs = HLC_MAX_WALL_NS;
    }
  }

  /** A fresh timestamp for a local or send event. Throws HlcExhaustedError when stalled too long. */
  now(physicalNs: bigint): HlcTimestamp {
    const ts = this.#advance(physicalNs, null);
    this.#stats.issued += 1;
    return ts;
  }

  /**
   * Merge a remote timestamp (a receive event). On success the result is greater than both the remote
   * timestamp and everything this clock issued before. Rejections are values and change nothing but
   * the counters. Throws HlcExhaustedError when stalled too long (a local persistence failure).
   */
  observe(remote: HlcTimestamp, physicalNs: bigint, latestNs: bigint): HlcObserveResult {
    if (
      typeof remote !== 'object' ||
      remote === null ||
      typeof remote.wallNs !== 'bigint' ||
      !Number.isInteger(remote.logical) ||
      remote.logical < 0 ||
      remote.logical > HLC_MAX_LOGICAL
    ) {
      // Decoded peer input is always well-formed (hlcCodec.ts), so a malformed one is our own bug.
      throw new TimemeshError(HLC_MISUSE_ERROR_CODE, 'HLC observe: remote is not a well-formed HlcTimestamp');
    }
    if (latestNs < physicalNs) {
      throw new TimemeshError(
        HLC_MISUSE_ERROR_CODE,
        `HLC observe: latestNs ${latestNs} is below physicalNs ${physicalNs}; pass the top of the interval`,
      );
    }
    if (remote.wallNs - latestNs > this.maxOffsetNs) {
      this.#stats.rejectedMaxOffset += 1;
      return { ok: false, error: new HlcMaxOffsetError(remote.wallNs, latestNs, this.maxOffsetNs) };
    }
    // A result must exceed the remote: at the ceiling that needs logical + 1, above it a higher wall.
    // Refusing here (not throwing) keeps a peer from crashing us with a timestamp at our mark.
    const ceil = this.#ceilingNs;
    if (remote.wallNs > ceil || (remote.wallNs === ceil && remote.logical === HLC_MAX_LOGICAL)) {
      this.#stats.rejectedBeyondHighWater += 1;
      return {
        ok: false,
        error: new HlcBeyondHighWaterError(remote.wallNs, remote.logical, ceil),
      };
    }
    const timestamp = this.#advance(physicalNs, remote);
    this.#stats.observed += 1;
    return { ok: true, timestamp };
  }

  /** The greatest timestamp issued or accepted so far (after a restore: the restored floor). */
  last(): HlcTimestamp {
    return { wallNs: this.#wallNs, logical: this.#logical, nodeId: this.nodeId };
  }

  get stats(): HlcStats {
    return { ...this.#stats };
  }

  /** The confirmed high-water mark, or null without persistence. */
  get persistedHighWaterNs(): bigint | null {
    return this.persistence ? this.#ceilingNs : null;
  }

  /**
   * A new high-water mark to persist, or null when the confirmed one still has at least half a window
   * of headroom. Renewing at half the window means a slow disk has half a window to finish before the
   * clock stalls. Calling again before confirming returns another (possibly larger) mark; that is fine
   * as long as the writes are serialized and confirmed in order.
   */
  highWaterMarkToPersist(physicalNs: bigint): bigint | null {
    if (!this.persistence || this.#ceilingNs >= HLC_MAX_WALL_NS) return null;
    const baseNs = physicalNs > this.#wallNs ? physicalNs : this.#wallNs;
    if (this.#ceilingNs >= baseNs + this.persistWindowNs / 2n) return null;
    const markNs = baseNs + this.persistWindowNs;
    return markNs > HLC_MAX_WALL_NS ? HLC_MAX_WALL_NS : markNs;
  }

  /** Record that `highWaterNs` is durably on disk; the clock may now issue wall times up to it. */
  confirmPersisted(highWaterNs: bigint): void {
    if (!this.persistence) {
      throw new TimemeshError(HLC_MISUSE_ERROR_CODE, 'HLC confirmPersisted called with persistence off');
    }
    if (typeof highWaterNs !== 'bigint' || highWaterNs > HLC_MAX_WALL_NS) {
      throw new TimemeshError(
        HLC_MISUSE_ERROR_CODE,
        `HLC confirmPersisted: mark must be a bigint ≤ 2^64 − 1 (got ${String(highWaterNs)})`,
      );
    }
    if (highWaterNs < this.#ceilingNs) {
      // The clock may already have issued wall times up to the older, higher mark; if the disk now holds
      // this lower one, a restart could repeat them. Surface it instead of quietly keeping the max.
      throw new TimemeshError(
        HLC_MISUSE_ERROR_CODE,
        `HLC confirmPersisted(${highWaterNs}) is below the already confirmed mark ${this.#ceilingNs}: ` +
          `high-water writes must be serialized and confirmed in order`,
      );
    }
    this.#ceilingNs = highWaterNs;
  }

  /**
   * Kulkarni's update rule with the physical input capped at the ceiling. Callers guarantee the remote
   * (if any) leaves room below the ceiling, and the state is always at or below it, so capping the
   * physical input is the whole stall logic: while capped, only the logical counter moves.
   */
  #advance(physicalNs: bigint, remote: HlcTimestamp | null): HlcTimestamp {
    const ceilNs = this.#ceilingNs;
    const stalled = physicalNs > ceilNs;
    const ptNs = stalled ? ceilNs : physicalNs;

    let wallNs = this.#wallNs;
    let logical = this.#logical + 1;
    if (remote !== null) {
      if (remote.wallNs > wallNs) {
        wallNs = remote.wallNs;
        logical = remote.logical + 1;
      } else if (remote.wallNs === wallNs) {
        logical = Math.max(this.#logical, remote.logical) + 1;
      }
    }
    if (ptNs > wallNs) {
      wallNs = ptNs;
      logical = 0;
    }

    let overflowed = false;
    if (logical > HLC_MAX_LOGICAL) {
      // Borrowing a nanosecond keeps monotonicity at the cost of running 1 ns ahead of physical time;
      // at the ceiling there is no nanosecond to borrow, and only a new mark can help.
      if (wallNs >= ceilNs) throw new HlcExhaustedError(ceilNs);
      wallNs += 1n;
      logical = 0;
      overflowed = true;
    }

    this.#wallNs = wallNs;
    this.#logical = logical;
    if (overflowed) this.#stats.logicalOverflows += 1;
    if (stalled) this.#stats.stalls += 1;
    return { wallNs, logical, nodeId: this.nodeId };
  }
}
