/**
 * hlc/ — clocks: the hybrid logical clock, the disciplined clock and its uncertainty interval, and the
 * time vocabulary every other folder uses. Pure code: time flows in as arguments.
 *
 * @example
 *   const clock = new DisciplinedClock();
 *   clock.update({ localNs, offsetNs: 1200, lowNs: 900, highNs: 1500, anchored: true });
 *   const { bestNs, earliestNs, latestNs, status } = clock.read(localNs);
 */
export { TimemeshError } from './errors.ts';
export { UNBOUNDED_NS } from './timeTypes.ts';
export type { AnchorKind, SyncStatus, TimeReading } from './timeTypes.ts';
export { DEFAULT_DISCIPLINE, DisciplinedClock } from './disciplinedClock.ts';
export type { ClockCorrection, ClockReading, ClockUpdate, DisciplineConfig } from './disciplinedClock.ts';
export {
  HLC_DEFAULT_PERSIST_WINDOW_NS,
  HLC_MAX_LOGICAL,
  HLC_MAX_NODE_ID_BYTES,
  HLC_MAX_WALL_NS,
  HybridLogicalClock,
  compareHlc,
} from './hlc.ts';
export type { HlcObserveResult, HlcStats, HlcTimestamp, HybridLogicalClockOptions } from './hlc.ts';
export {
  HLC_ENCODED_HEADER_BYTES,
  HLC_ENCODED_MAX_BYTES,
  decodeHlc,
  encodeHlc,
  formatHlc,
  parseHlc,
} from './hlcCodec.ts';
export type { HlcDecodeResult } from './hlcCodec.ts';
export {
  HlcBeyondHighWaterError,
  HlcDecodeError,
  HlcExhaustedError,
  HlcMaxOffsetError,
} from './hlcErrors.ts';
export type { HlcDecodeReason } from './hlcErrors.ts';
