/**
 * A simulation scenario, fully resolved (every default filled in). Scenario files (YAML or JSON in
 * sim/scenarios/) and CLI flags are validated into this shape by sim/scenario.ts.
 *
 * Node indices: nodes 0 .. anchors−1 are anchors (they have a reference clock), the last `byzantine`
 * nodes are attackers, the rest are plain honest nodes. Every time is in virtual seconds unless the
 * name says Ns (nanoseconds) or Ppm.
 */

export const ATTACK_KINDS = [
  'none',
  'constant', // a fixed lie, e.g. +1 h, with a tiny claimed interval
  'two-faced', // +lie to half of the peers, −lie to the other half
  'random', // a fresh uniform lie in ±lie on every answer
  'frog-boil', // a lie that grows slowly (driftNsPerS) so each step looks plausible
  'delay', // holds its responses (holdNs) after stamping T3, faking path asymmetry
  'hlc-push', // honest time, but far-future HLCs in every message
  'silent', // never answers (crashed or black-holing)
] as const;
export type AttackKind = (typeof ATTACK_KINDS)[number];

export const ANCHOR_KINDS = ['perfect', 'gps-pps', 'gps-nmea', 'ntp-server'] as const;
export type AnchorModel = (typeof ANCHOR_KINDS)[number];

export interface OscillatorModel {
  /** Initial offsets are uniform in ±initialOffsetNs. */
  initialOffsetNs: number;
  /** Frequency errors are uniform in ±frequencyPpm. */
  frequencyPpm: number;
  /** Random-walk wander of the frequency: standard deviation of the step per √second, in ppm. */
  wanderPpmPerSqrtS: number;
}

export interface NetworkModel {
  /** Each link's base one-way delay is uniform in [delayNsMin, delayNsMax]. */
  delayNsMin: number;
  delayNsMax: number;
  /** Each link's asymmetry (forward minus reverse base delay) is uniform in ±asymmetryNsMax. */
  asymmetryNsMax: number;
  /** Per-message queueing jitter: heavy-tailed (Pareto) with this mean. */
  jitterNsMean: number;
  /** Pareto shape α of the jitter (smaller = heavier tail; must be > 1). */
  jitterParetoAlpha: number;
  /** Probability that a message is lost. */
  lossRate: number;
}

export interface AttackModel {
  kind: AttackKind;
  /** Size of the lie for constant, two-faced and random. */
  lieNs: number;
  /** Growth of the lie per second for frog-boil. */
  driftNsPerS: number;
  /** Extra hold time for the delay attack. */
  holdNs: number;
  /** How far ahead of true time hlc-push HLCs are. */
  hlcAheadNs: number;
}

export interface AnchorFault {
  /** Index among anchors (0 .. anchors−1). */
  anchor: number;
  atS: number;
  /** End of the fault; null = until the end of the run. */
  untilS: number | null;
  /** outage: no reference samples. step: the reference reports time off by stepNs (e.g. a wrong second). */
  kind: 'outage' | 'step';
  stepNs: number;
}

export interface Partition {
  atS: number;
  healS: number | null;
  /** Groups of node indices that can talk among themselves; nodes in no group form one more group. */
  groups: number[][];
}

export interface Crash {
  node: number;
  atS: number;
  /** Restart time; null = stays down. */
  restartS: number | null;
}

/** Core settings a scenario may override (see node/core/config.ts for meanings and defaults). */
export interface CoreOverrides {
  pollPeers?: number;
  faultTolerance?: number | null;
  minPollS?: number;
  maxPollS?: number;
  maxDriftPpm?: number;
}

/** Thresholds checked by --check. Each key is a dotted report metric; `max` limits ≤, `min` limits ≥. */
export interface ScenarioChecks {
  max: Record<string, number>;
  min: Record<string, number>;
}

export interface Scenario {
  name: string;
  description: string;
  seed: string;
  durationS: number;
  nodes: number;
  byzantine: number;
  anchors: number;
  anchorModel: AnchorModel;
  attack: AttackModel;
  oscillator: OscillatorModel;
  network: NetworkModel;
  core: CoreOverrides;
  partitions: Partition[];
  crashes: Crash[];
  anchorFaults: AnchorFault[];
  /** How often every node is sampled for the report, and the series step. */
  sampleIntervalS: number;
  /** |error| a node must stay within to count as converged. */
  convergenceThresholdNs: number;
  /** Error statistics start at this virtual time; null = at convergence (or 0 if never converged). */
  statsFromS: number | null;
  /** How many gossip receivers each announcement reaches directly. */
  gossipFanout: number;
  checks: ScenarioChecks;
}
