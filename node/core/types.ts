/**
 * Inputs, actions and views of the node's sans-IO decision logic (ntpd-rs' ntp-proto shape): drivers
 * call `handle*` with explicit local times and carry out the `NodeAction`s returned. Local times are
 * raw oscillator readings (bigint ns); peer times are the peer's disciplined readings.
 */
import type { HlcTimestamp } from '../../hlc/hlc.ts';
import type { AnchorKind, SyncStatus } from '../../hlc/timeTypes.ts';

/** Randomness flows in: a seeded PRNG in the simulator, a CSPRNG-seeded one in the real node. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
}

/** What a node claims about its clock, in sample responses and in announcements alike. */
export interface ClockClaim {
  /** The node's interval (at T3 in a sample response, at publication in an announcement). */
  earliestNs: bigint;
  latestNs: bigint;
  rootDistanceNs: number;
  anchorKind: AnchorKind;
  stratum: number;
  status: SyncStatus;
  hlc: HlcTimestamp;
}

/**
 * What the node serves for one raw local instant to clients that are not mesh peers (NTP, TSQ): its
 * time and how good it is. No HLC: those protocols have no place for one.
 */
export interface ServedTime {
  /** The unslewed best estimate of true time, ns since the Unix epoch: what timestamps carry. */
  timeNs: bigint;
  earliestNs: bigint;
  latestNs: bigint;
  /** max(time − earliest, latest − time): what NTP's root delay/2 + root dispersion should cover. */
  rootDistanceNs: number;
  status: SyncStatus;
  /** The node's stratum (its best source's + 1); 16 while unsynchronized. */
  stratum: number;
  anchorKind: AnchorKind;
  /** The raw local instant of the clock's last update (NTP's reference timestamp), or null if none. */
  lastUpdateLocalNs: bigint | null;
}

/** What a responder puts in a sample response (the mesh layer signs it and adds the nonce). */
export interface ServedSample extends ClockClaim {
  /** The responder's readings when the request arrived (T2) and when the response left (T3). */
  t2PeerNs: bigint;
  t3PeerNs: bigint;
}

/** A completed 4-timestamp exchange as the driver measured it. */
export interface CompletedExchange {
  exchangeId: number;
  peerId: string;
  /** Our raw oscillator when the request left (T1) and the response arrived (T4). */
  t1LocalNs: bigint;
  t4LocalNs: bigint;
  response: ServedSample;
}

/** A reading from a local reference clock (GPS, PPS) or an upstream server (NTP, TSQ). */
export interface ReferenceSample {
  refId: string;
  kind: AnchorKind;
  /** Raw local oscillator reading the sample refers to. */
  localNs: bigint;
  /** Reference time minus raw local time, and the bound on its error (root distance for servers). */
  offsetNs: number;
  errorNs: number;
  /** Round-trip delay for server references (0 for local refclocks). */
  delayNs: number;
  /** Stratum of the reference itself (0 for GPS/PPS, the server's stratum for NTP). */
  stratum: number;
}

/** What every node publishes periodically on the gossip topic. */
export interface Announcement extends ClockClaim {
  nodeId: string;
  bestNs: bigint;
}

export type ExchangeRejection =
  | 'negative-delay'
  | 'responder-time-reversed'
  | 'bad-interval'
  | 'offset-too-large'
  | 'unknown-exchange'
  | 'hlc-max-offset';

export type NodeAction =
  | { type: 'startExchange'; exchangeId: number; peerId: string; timeoutNs: number }
  | { type: 'publishAnnouncement'; announcement: Announcement }
  | {
      type: 'clockCorrection';
      kind: 'step' | 'slew';
      correctionNs: number;
      frequencyPpm: number;
      earliestNs: bigint;
      latestNs: bigint;
    }
  | { type: 'persistState'; hlcHighWaterNs: bigint; frequencyPpm: number }
  | { type: 'wakeAt'; localNs: bigint };

/** Why the last round did or did not update the clock (shown in /v1/status). */
export interface RoundOutcome {
  localNs: bigint;
  updated: boolean;
  /** 'mesh', 'reference', 'reference+mesh', 'local', or the no-quorum reason. */
  basis: string;
  message: string;
  n: number;
  f: number;
  truechimers: string[];
  falsetickers: string[];
}

export interface SourceSnapshot {
  id: string;
  kind: 'peer' | 'reference';
  selected: boolean;
  offsetNs: number | null;
  delayNs: number | null;
  jitterNs: number | null;
  rootDistanceNs: number | null;
  anchorKind: AnchorKind;
  stratum: number;
  lastSampleLocalNs: bigint | null;
  /** NTP-style reachability register: the last 8 attempts, newest in the low bit. */
  reach: number;
  falseticker: boolean;
  excludedUntilLocalNs: bigint | null;
  excludedReason: string | null;
}

export interface CoreCounters {
  exchangesStarted: number;
  exchangesCompleted: number;
  exchangesFailed: number;
  exchangesRejected: Record<ExchangeRejection, number>;
  rounds: number;
  noQuorumRounds: number;
  falsetickerMarks: number;
  referenceFalsetickerMarks: number;
  announcementsPublished: number;
  announcementsReceived: number;
  hlcRejections: number;
  steps: number;
  slews: number;
}
