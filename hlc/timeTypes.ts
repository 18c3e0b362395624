/**
 * Time vocabulary shared by the core, the node and the simulator.
 *
 * Units and sign conventions (they hold everywhere in timemesh):
 * - Absolute times are integer nanoseconds since the Unix epoch as `bigint` (`...Ns: bigint`).
 * - Durations, offsets, delays and error bounds are nanoseconds as `number` (`...Ns: number`); a double
 *   holds them exactly up to ±104 days, far beyond any offset the core accepts.
 * - "Local" times are readings of this node's raw oscillator (the uncorrected clock the node runs on).
 * - An offset is `reference − local`: a positive offset means the local clock is behind the reference.
 */

/** Where a node's time ultimately comes from. The wire codecs validate against this list. */
export const ANCHOR_KINDS = ['none', 'local', 'reference', 'gps', 'pps', 'ntp', 'tsq', 'mesh'] as const;
export type AnchorKind = (typeof ANCHOR_KINDS)[number];

/** Sync state, as the API and the simulator report it. */
export const SYNC_STATUSES = ['unsynchronized', 'synchronized', 'holdover', 'anchored'] as const;
export type SyncStatus = (typeof SYNC_STATUSES)[number];

/** A reading of the disciplined clock: a best estimate and an interval that contains true time. */
export interface TimeReading {
  bestNs: bigint;
  earliestNs: bigint;
  latestNs: bigint;
  status: SyncStatus;
}

/** Half-width used for an interval that has no bound yet (an unsynchronized clock): about 146 years. */
export const UNBOUNDED_NS = 2 ** 62;
