/**
 * The simulator's JSON report: a documented, stable schema (`timemesh.sim.report/1`).
 *
 * Keys are stable: scripts and CI thresholds read them. All times in the report are in virtual
 * (simulated) time; nothing in it depends on the wall clock, so the same seed and options give a
 * byte-identical report. Errors are `best − true` in nanoseconds; percentiles are of |error|.
 * `null` means "not measured" (for example no honest node ever converged).
 */

export const REPORT_SCHEMA = 'timemesh.sim.report/1';

/** Accuracy figures of one estimator (timemesh's rule or a baseline) over honest nodes. */
export interface AccuracyFigures {
  /** |best − true| percentiles and maximum over honest nodes, after `statsFromS`. */
  errorNsP50: number | null;
  errorNsP99: number | null;
  errorNsMax: number | null;
  /** First time after which every honest node stayed within the convergence threshold, or null. */
  convergenceS: number | null;
  /** Largest disagreement (max − min of best estimates) between honest nodes at one instant, after `statsFromS`. */
  precisionNsMax: number | null;
}

export interface HonestFigures extends AccuracyFigures {
  /** Fraction 0..1 of synchronized samples whose [earliest, latest] contained true time (whole run). */
  containment: number | null;
  /** Synchronized samples taken, and how many of them missed true time. */
  containmentSamples: number;
  containmentMisses: number;
  /** Samples skipped because the node was unsynchronized (its interval is unbounded). */
  unsynchronizedSamples: number;
  /** Interval width (latest − earliest) percentiles over synchronized samples after `statsFromS`. */
  widthNsP50: number | null;
  widthNsP99: number | null;
  /** Exchanges started plus announcements published, per honest node per minute of virtual time. */
  messagesPerNodePerMinute: number;
}

export interface CheckResult {
  /** Dotted path of the metric, e.g. "honest.errorNsP99". */
  metric: string;
  /** "max" (value must be ≤ limit) or "min" (value must be ≥ limit). */
  kind: 'max' | 'min';
  limit: number;
  value: number | null;
  pass: boolean;
}

export interface NodeTrace {
  id: string;
  role: 'honest' | 'anchor' | 'byzantine';
  /** best − true at each series instant; null when the node was down. */
  errorNs: (number | null)[];
  /** earliest − true and latest − true (the interval band relative to truth); null when unsynchronized or down. */
  lowNs: (number | null)[];
  highNs: (number | null)[];
}

export interface SimReport {
  schema: typeof REPORT_SCHEMA;
  /** The fully resolved scenario the run used (defaults filled in), so any run is reproducible from it. */
  scenario: Record<string, unknown>;
  seed: string;
  durationS: number;
  /** Error statistics are taken from this virtual time on (the scenario's warm-up). */
  statsFromS: number;
  counts: { nodes: number; honest: number; byzantine: number; anchors: number };
  honest: HonestFigures;
  /** Copies of honest.convergenceS and honest.precisionNsMax at the top level (stable keys). */
  convergenceS: number | null;
  precisionNsMax: number | null;
  /** Baselines computed in the same run on identical measurements. */
  baselines: {
    /** (a) plain average of the peers' offsets each round. */
    average: AccuracyFigures;
    /** (b) the seed design's rule: median of the peers' offsets, blended 0.8/0.2 into the local clock. */
    seedMedianBlend: AccuracyFigures;
  };
  events: {
    processed: number;
    exchangesStarted: number;
    exchangesCompleted: number;
    exchangesLost: number;
    announcementsPublished: number;
    falsetickerMarks: number;
    /** Rounds in which a node's own reference clock disagreed with an anchored mesh and was overruled. */
    referenceFalsetickerMarks: number;
    hlcRejections: number;
    noQuorumRounds: number;
  };
  checks: CheckResult[];
  /** True when every check passed (vacuously true with no checks). */
  passed: boolean;
  /** Time series for plots, sampled every `series.stepS` seconds of virtual time. */
  series: {
    stepS: number;
    tS: number[];
    honestErrorNsP50: (number | null)[];
    honestErrorNsP99: (number | null)[];
    honestErrorNsMax: (number | null)[];
    honestWidthNsP50: (number | null)[];
    baselineAverageErrorNsP99: (number | null)[];
    baselineSeedErrorNsP99: (number | null)[];
    /** A few individual nodes (anchors, some honest nodes, attackers) for error and band plots. */
    nodes: NodeTrace[];
  };
}
