/**
 * Settings of the node's decision logic, with defaults an operator of chrony or ntpd-rs would expect.
 * Validated once at construction; a bad value is an operator mistake and throws with the field's name.
 */
import { CLOCK_FILTER_CAPACITY_MAX } from '../../bft/index.ts';
import { TimemeshError } from '../../hlc/errors.ts';
import { nodeIdProblem } from '../../hlc/hlc.ts';

export interface NodeCoreConfig {
  /** This node's id (its libp2p peer id in the real node). */
  nodeId: string;
  /** k: how many peers each poll round measures. */
  pollPeers: number;
  /** f: faults tolerated among the sources; null derives ⌊(n−1)/3⌋ from the n sources in use. */
  faultTolerance: number | null;
  /** Poll interval bounds; the interval adapts between them like NTP's poll exponent. */
  minPollS: number;
  maxPollS: number;
  /** iburst: this many rounds at burstIntervalS when (re)starting. */
  burstRounds: number;
  burstIntervalS: number;
  /** How often a node with its own reference clock updates from it between mesh rounds. */
  referencePollS: number;
  /** A round's exchanges that have not completed by then count as lost. */
  exchangeTimeoutS: number;
  /** Samples kept per source, and the age after which a sample is no longer used. */
  filterLength: number;
  sampleMaxAgeS: number;
  /** Disciplined clock (see hlc/disciplinedClock.ts). */
  maxDriftPpm: number;
  maxFrequencyErrorPpm: number;
  stepThresholdNs: number;
  maxSlewPpm: number;
  holdoverAfterS: number;
  /** Announcement period on the gossip topic. */
  announceIntervalS: number;
  /** A remote HLC more than this far beyond our `latest` is rejected. */
  hlcMaxOffsetNs: number;
  /** Persist the HLC high-water mark (the real node does; the simulator models it on restart). */
  hlcPersistence: boolean;
  /** Like chrony's `local stratum N`: serve our own clock as a reference when nothing better exists. */
  localStratum: number | null;
  /** Error bound claimed for the local reference (chrony's local reference claims a small dispersion). */
  localErrorNs: number;
  /** Replace the worst selected peer every this many rounds, to discover better and more diverse peers. */
  churnRounds: number;
  /** A source that is a falseticker this many rounds in a row is excluded for falsetickerHoldoffS. */
  falsetickerStrikes: number;
  falsetickerHoldoffS: number;
  /** Point estimator after trimming: see bft/combine.ts. */
  estimator: 'weighted-median' | 'weighted-mean' | 'median';
}

export const DEFAULT_CORE_CONFIG: Omit<NodeCoreConfig, 'nodeId'> = {
  pollPeers: 8,
  faultTolerance: null,
  minPollS: 4,
  maxPollS: 64,
  burstRounds: 4,
  burstIntervalS: 2,
  referencePollS: 4,
  exchangeTimeoutS: 2,
  filterLength: 8,
  sampleMaxAgeS: 600,
  maxDriftPpm: 15,
  maxFrequencyErrorPpm: 500,
  stepThresholdNs: 128e6,
  maxSlewPpm: 83_333,
  holdoverAfterS: 300,
  announceIntervalS: 30,
  hlcMaxOffsetNs: 1e9,
  hlcPersistence: false,
  localStratum: null,
  localErrorNs: 1000,
  churnRounds: 16,
  falsetickerStrikes: 3,
  falsetickerHoldoffS: 900,
  estimator: 'weighted-median',
};

export function resolveCoreConfig(input: Partial<NodeCoreConfig> & { nodeId: string }): NodeCoreConfig {
  const c: NodeCoreConfig = { ...DEFAULT_CORE_CONFIG, ...stripUndefined(input), nodeId: input.nodeId };
  const bad = (field: string, want: string, got: unknown): never => {
    throw new TimemeshError(
      'TM_ERR_CORE_CONFIG',
      `core config ${field}: expected ${want}, got ${String(got)}`,
    );
  };
  if (typeof c.nodeId !== 'string' || c.nodeId.length === 0) bad('nodeId', 'a non-empty string', c.nodeId);
  const ints: [keyof NodeCoreConfig, number][] = [
    ['pollPeers', 1],
    ['burstRounds', 0],
    ['filterLength', 1],
    ['churnRounds', 1],
    ['falsetickerStrikes', 1],
  ];
  for (const [k, min] of ints) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) bad(k, `an integer ≥ ${min}`, v);
  }
  const positives: (keyof NodeCoreConfig)[] = [
    'minPollS',
    'maxPollS',
    'burstIntervalS',
    'exchangeTimeoutS',
    'referencePollS',
    'sampleMaxAgeS',
    'maxFrequencyErrorPpm',
    'stepThresholdNs',
    'maxSlewPpm',
    'holdoverAfterS',
    'announceIntervalS',
    'hlcMaxOffsetNs',
    'localErrorNs',
    'falsetickerHoldoffS',
  ];
  for (const k of positives) {
    const v = c[k];
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) bad(k, 'a finite number > 0', v);
  }
  if (!(c.maxDriftPpm >= 0) || !Number.isFinite(c.maxDriftPpm))
    bad('maxDriftPpm', 'a finite number ≥ 0', c.maxDriftPpm);
  if (c.filterLength > CLOCK_FILTER_CAPACITY_MAX) {
    bad('filterLength', `an integer ≤ ${CLOCK_FILTER_CAPACITY_MAX}`, c.filterLength);
  }
  if (!(c.maxSlewPpm < 1e6))
    bad('maxSlewPpm', 'a number < 1000000 (the reading must stay monotonic)', c.maxSlewPpm);
  if (!(c.hlcMaxOffsetNs >= 1)) bad('hlcMaxOffsetNs', 'a number ≥ 1', c.hlcMaxOffsetNs);
  const idProblem = nodeIdProblem(c.nodeId);
  if (idProblem !== null) bad('nodeId', `a valid node id (${idProblem.message})`, c.nodeId);
  if (c.maxPollS < c.minPollS) bad('maxPollS', `a number ≥ minPollS (${c.minPollS})`, c.maxPollS);
  if (c.faultTolerance !== null && (!Number.isInteger(c.faultTolerance) || c.faultTolerance < 0)) {
    bad('faultTolerance', 'null or an integer ≥ 0', c.faultTolerance);
  }
  if (
    c.localStratum !== null &&
    (!Number.isInteger(c.localStratum) || c.localStratum < 1 || c.localStratum > 15)
  ) {
    bad('localStratum', 'null or an integer 1..15', c.localStratum);
  }
  if (c.estimator !== 'weighted-median' && c.estimator !== 'weighted-mean' && c.estimator !== 'median') {
    bad('estimator', "'weighted-median', 'weighted-mean' or 'median'", c.estimator);
  }
  return c;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
