/**
 * Scenario files and CLI overrides → the resolved `Scenario` (sim/scenarioTypes.ts), plus the
 * `--check` thresholds evaluated against a finished report.
 *
 * Pipeline: `readScenarioFile` (YAML or JSON, chosen by extension) → `mergeScenarioRaw` (CLI flags
 * over file values) → `resolveScenario` (zod validation, defaults, cross-field rules).
 *
 * Invariants:
 * - A Scenario that leaves this module is complete and internally consistent: every default is
 *   filled in, every node index is in range, every end time is after its start, every check names a
 *   real report metric. The engine may rely on that and need not re-validate.
 * - Validation is strict: an unknown key is an error, never silently ignored, because a typo such as
 *   `delayMinNs` would otherwise run a different experiment than the one the operator wrote down.
 * - Every problem is reported at once, one line each, as `<source>: <field path>: expected …, got …`,
 *   so a scenario can be fixed in one pass. Cross-field rules run only when every field is
 *   individually valid; before that their inputs may not even be numbers.
 * - Resolution is a pure function of its input: the same raw value always gives the same Scenario
 *   (same key order too, so a report's embedded scenario is byte-stable).
 *
 * Times in a scenario are virtual seconds. Fields whose name ends in `S` (and the `duration` alias)
 * also accept duration strings such as "90s", "10m" or "1h30m" (see parseDuration).
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { TimemeshError } from '../hlc/errors.ts';
import type { AccuracyFigures, CheckResult, HonestFigures, SimReport } from './reportTypes.ts';
import { ANCHOR_KINDS, ATTACK_KINDS, type Scenario, type ScenarioChecks } from './scenarioTypes.ts';
import { describeValue, formatPath, suggest, valueAt } from '../node/validationText.ts';

/** How much of an offending value a message quotes. */
const FOUND_CHARS_MAX = 60;

/** Stable code of every error thrown by this module. */
export const SCENARIO_ERROR_CODE = 'TM_ERR_SCENARIO';

/**
 * An invalid scenario or scenario file: an operator's mistake, so it is an exception. `issues` holds
 * the individual problems (without the source prefix) for callers that want to show them differently.
 */
export class ScenarioError extends TimemeshError {
  readonly source: string | null;
  readonly issues: readonly string[];

  constructor(
    message: string,
    details: { source?: string; issues?: readonly string[]; cause?: unknown } = {},
  ) {
    super(SCENARIO_ERROR_CODE, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.source = details.source ?? null;
    this.issues = details.issues ?? [message];
  }

  static fromIssues(source: string, issues: readonly string[], cause?: unknown): ScenarioError {
    // One line per issue, each prefixed with the source, so editors and grep can jump to it.
    const message = issues.map((issue) => `${source}: ${issue}`).join('\n');
    return new ScenarioError(message, { source, issues, cause });
  }
}

// ---------------------------------------------------------------------------------------------------
// Limits. Each bounds how much work (or memory) one scenario may ask of the simulator.

export const NODES_MAX = 100_000;
export const DURATION_S_MAX = 30 * 86_400;

// ---------------------------------------------------------------------------------------------------
// Durations

const DURATION_UNIT_S: Readonly<Record<string, number>> = { d: 86_400, h: 3_600, m: 60, s: 1 };
// Units must appear largest first and at most once ("1h30m", not "30m1h" or "1h1h"): anything else
// is more likely a typo than an intent.
const DURATION_UNIT_RANK: Readonly<Record<string, number>> = { d: 0, h: 1, m: 2, s: 3, ms: 4 };
// "ms" must be tried before "m", or "500ms" would read as 500 minutes followed by garbage.
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|d|h|m|s)\s*/y;
const PLAIN_SECONDS = /^\d+(?:\.\d+)?$/;
const DURATION_HINT = 'seconds, or a string like "500ms", "90s", "10m", "2h", "1h30m", "1d"';

/**
 * A duration in seconds from a number of seconds or a string such as "500ms", "90s", "10m", "2h",
 * "1h30m" or "1d" (a bare numeric string is seconds, as CLI flags arrive as strings). Negative,
 * non-finite and malformed values throw a ScenarioError.
 */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') {
    if (Number.isFinite(text) && text >= 0) return text;
    throw new ScenarioError(`invalid duration ${String(text)}: expected ${DURATION_HINT}`);
  }
  const trimmed = text.trim();
  if (PLAIN_SECONDS.test(trimmed)) return Number(trimmed);
  let totalS = 0;
  let lastRank = -1;
  let index = 0;
  while (index < trimmed.length) {
    DURATION_PART.lastIndex = index;
    const match = DURATION_PART.exec(trimmed);
    const unit = match?.[2];
    const rank = unit === undefined ? undefined : DURATION_UNIT_RANK[unit];
    if (match === null || unit === undefined || rank === undefined || rank <= lastRank) {
      throw new ScenarioError(`invalid duration ${JSON.stringify(text)}: expected ${DURATION_HINT}`);
    }
    const value = Number(match[1]);
    // Dividing (rather than multiplying by 0.001) keeps "100ms" exactly the double nearest 0.1.
    totalS += unit === 'ms' ? value / 1000 : value * (DURATION_UNIT_S[unit] ?? Number.NaN);
    lastRank = rank;
    index = DURATION_PART.lastIndex;
  }
  if (index === 0 || !Number.isFinite(totalS)) {
    throw new ScenarioError(`invalid duration ${JSON.stringify(text)}: expected ${DURATION_HINT}`);
  }
  return totalS;
}

function toSeconds(value: unknown): number | undefined {
  if (typeof value !== 'number' && typeof value !== 'string') return undefined;
  try {
    return parseDuration(value);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------
// Report metrics

type Flags<T> = Record<keyof T, true>;

// Written as typed trees rather than a string list so that tsc fails when reportTypes.ts gains or
// loses a figure: a stale list would make a valid check fail validation, or accept a dead metric.
const ACCURACY_TREE = {
  errorNsP50: true,
  errorNsP99: true,
  errorNsMax: true,
  convergenceS: true,
  precisionNsMax: true,
} as const satisfies Flags<AccuracyFigures>;

const METRIC_TREE = {
  honest: {
    ...ACCURACY_TREE,
    containment: true,
    containmentSamples: true,
    containmentMisses: true,
    unsynchronizedSamples: true,
    widthNsP50: true,
    widthNsP99: true,
    messagesPerNodePerMinute: true,
  } satisfies Flags<HonestFigures>,
  convergenceS: true,
  precisionNsMax: true,
  baselines: {
    average: ACCURACY_TREE,
    seedMedianBlend: ACCURACY_TREE,
  } satisfies Record<keyof SimReport['baselines'], Flags<AccuracyFigures>>,
  events: {
    processed: true,
    exchangesStarted: true,
    exchangesCompleted: true,
    exchangesLost: true,
    announcementsPublished: true,
    falsetickerMarks: true,
    referenceFalsetickerMarks: true,
    hlcRejections: true,
    noQuorumRounds: true,
  } satisfies Flags<SimReport['events']>,
};

function flattenTree(tree: object, prefix: string, out: string[]): string[] {
  for (const [key, value] of Object.entries(tree)) {
    if (value === true) out.push(prefix + key);
    else flattenTree(value as object, `${prefix}${key}.`, out);
  }
  return out;
}

/**
 * Dotted paths of every numeric result metric of a SimReport, in report order. Run metadata
 * (durationS, statsFromS, counts) is left out: it is an input, not a result worth a threshold.
 */
export const REPORT_METRICS: readonly string[] = Object.freeze(flattenTree(METRIC_TREE, '', []));
const REPORT_METRIC_SET: ReadonlySet<string> = new Set(REPORT_METRICS);

/** The number at a dotted path of the report, or null when it is absent, null or not a number. */
export function getMetric(report: SimReport, path: string): number | null {
  let node: unknown = report;
  for (const key of path.split('.')) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return null;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === 'number' && Number.isFinite(node) ? node : null;
}

/**
 * Evaluates `--check` thresholds. A max check passes when value ≤ limit, a min check when
 * value ≥ limit; a metric that was not measured (null) fails, since "no data" must not pass CI.
 * Sorted by metric, then kind, with a code-unit comparison so the order never depends on locale.
 */
export function evaluateChecks(report: SimReport, checks: ScenarioChecks): CheckResult[] {
  const results: CheckResult[] = [];
  for (const kind of ['max', 'min'] as const) {
    for (const [metric, limit] of Object.entries(checks[kind])) {
      const value = getMetric(report, metric);
      const pass = value !== null && (kind === 'max' ? value <= limit : value >= limit);
      results.push({ metric, kind, limit, value, pass });
    }
  }
  return results.sort((a, b) => compareStrings(a.metric, b.metric) || compareStrings(a.kind, b.kind));
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------------
// Field schemas. Each field carries one "expected …" phrase used for every way it can fail (wrong
// type, out of range), so the message tells the operator the whole rule, not just the first clause.

type NumberCheck = (n: number) => boolean;

function numberField(expected: string, ok: NumberCheck = () => true) {
  const error = `expected ${expected}`;
  return z.number({ error }).refine(ok, { error });
}

function intField(expected: string, ok: NumberCheck = () => true) {
  return numberField(expected, (n) => Number.isSafeInteger(n) && ok(n));
}

function secondsField(expected: string, ok: NumberCheck) {
  const error = `expected ${expected} (${DURATION_HINT})`;
  // A union (not z.unknown) so that a missing required time fails with this message too.
  return z.union([z.number(), z.string()], { error }).transform((value, ctx) => {
    const seconds = toSeconds(value);
    if (seconds === undefined || !ok(seconds)) {
      ctx.addIssue({ code: 'custom', message: error });
      return z.NEVER;
    }
    return seconds;
  });
}

function enumField<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.map((v) => JSON.stringify(v)).join(', ')}` });
}

function listOf<T extends z.ZodType>(item: T, expected: string) {
  // YAML turns an empty `partitions:` into null; that means "none", not a type error.
  return z.preprocess(
    (value) => (value === null ? undefined : value),
    z.array(item, { error: `expected ${expected}` }).default(() => []),
  );
}

function section<T extends z.ZodRawShape>(shape: T, expected: string) {
  // As for lists: an empty YAML section (`core:` with everything commented out) means "defaults".
  // `{} as never`: every field of every section is optional or defaulted, so {} is a valid input,
  // but the generic shape hides that from the type checker.
  return z.preprocess(
    (value) => (value === null ? undefined : value),
    z.strictObject(shape, { error: `expected ${expected}` }).prefault({} as never),
  );
}

const isNonNegative: NumberCheck = (n) => n >= 0;
const isPositive: NumberCheck = (n) => n > 0;

const SEED_EXPECTED = 'expected an integer (at most 2^53; quote longer seeds) or a non-empty string';

const seedField = z
  .union([z.number(), z.string()], { error: SEED_EXPECTED })
  .transform((value, ctx) => {
    if (typeof value === 'string' && value.length > 0) return value;
    // Past 2^53 a YAML/JSON number has already been rounded, so the seed the operator wrote is lost.
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
    ctx.addIssue({ code: 'custom', message: SEED_EXPECTED });
    return z.NEVER;
  })
  .default('1');

const ATTACK_SHAPE = {
  kind: enumField(ATTACK_KINDS).default('none'),
  lieNs: numberField('a number').default(3.6e12),
  driftNsPerS: numberField('a number').default(2000),
  holdNs: numberField('a number ≥ 0', isNonNegative).default(5e6),
  hlcAheadNs: numberField('a number ≥ 0', isNonNegative).default(3.6e12),
};

const OSCILLATOR_SHAPE = {
  initialOffsetNs: numberField('a number ≥ 0', isNonNegative).default(1e8),
  frequencyPpm: numberField('a number ≥ 0', isNonNegative).default(50),
  wanderPpmPerSqrtS: numberField('a number ≥ 0', isNonNegative).default(0.001),
};

const NETWORK_SHAPE = {
  delayNsMin: numberField('a number ≥ 0', isNonNegative).default(2e5),
  delayNsMax: numberField('a number ≥ 0', isNonNegative).default(2e6),
  asymmetryNsMax: numberField('a number ≥ 0', isNonNegative).default(1e5),
  jitterNsMean: numberField('a number ≥ 0', isNonNegative).default(1e5),
  // α ≤ 1 gives a Pareto distribution with an infinite mean: jitterNsMean could not be honoured.
  jitterParetoAlpha: numberField('a number > 1', (n) => n > 1).default(2.5),
  // A loss rate of 1 would silence the network entirely; use a partition for that.
  lossRate: numberField('a number ≥ 0 and < 1', (n) => n >= 0 && n < 1).default(0.001),
};

const CORE_SHAPE = {
  pollPeers: intField('an integer ≥ 1', (n) => n >= 1).optional(),
  faultTolerance: intField('an integer ≥ 0 or null', isNonNegative).nullable().optional(),
  minPollS: secondsField('a time > 0', isPositive).optional(),
  maxPollS: secondsField('a time > 0', isPositive).optional(),
  maxDriftPpm: numberField('a number ≥ 0', isNonNegative).optional(),
};

const nodeIndex = intField('a node index (an integer ≥ 0)', isNonNegative);

const PARTITION_SHAPE = {
  atS: secondsField('a time ≥ 0', isNonNegative),
  healS: secondsField('a time ≥ 0 or null', isNonNegative).nullable().default(null),
  groups: z
    .array(z.array(nodeIndex, { error: 'expected a list of node indices' }), {
      error: 'expected a list of groups (lists of node indices)',
    })
    .min(1, { error: 'expected at least one group' }),
};

const CRASH_SHAPE = {
  node: nodeIndex,
  atS: secondsField('a time ≥ 0', isNonNegative),
  restartS: secondsField('a time ≥ 0 or null', isNonNegative).nullable().default(null),
};

const ANCHOR_FAULT_SHAPE = {
  anchor: intField('an anchor index (an integer ≥ 0)', isNonNegative),
  atS: secondsField('a time ≥ 0', isNonNegative),
  untilS: secondsField('a time ≥ 0 or null', isNonNegative).nullable().default(null),
  kind: enumField(['outage', 'step']),
  // Required for kind "step" (checked across fields): there is no sensible default size of a wrong step.
  stepNs: numberField('a number').optional(),
};

const limitsField = z
  .record(z.string(), numberField('a number (the limit)'), {
    error: 'expected a mapping from report metric to limit',
  })
  .default(() => ({}));

const CHECKS_SHAPE = { max: limitsField, min: limitsField };

const durationField = secondsField('a duration > 0 and ≤ 30 days', (n) => n > 0 && n <= DURATION_S_MAX);

const SCENARIO_SHAPE = {
  name: z
    .string({ error: 'expected a string' })
    .min(1, { error: 'expected a non-empty string' })
    .default('adhoc'),
  description: z.string({ error: 'expected a string' }).default(''),
  seed: seedField,
  // `duration` is the friendlier spelling for files; both are accepted, but not together.
  duration: durationField.optional(),
  durationS: durationField.optional(),
  nodes: intField(`an integer from 1 to ${NODES_MAX}`, (n) => n >= 1 && n <= NODES_MAX).default(100),
  byzantine: intField('an integer ≥ 0', isNonNegative).default(0),
  anchors: intField('an integer ≥ 0', isNonNegative).default(3),
  anchorModel: enumField(ANCHOR_KINDS).default('gps-pps'),
  attack: section(ATTACK_SHAPE, 'an attack section (a mapping)'),
  oscillator: section(OSCILLATOR_SHAPE, 'an oscillator section (a mapping)'),
  network: section(NETWORK_SHAPE, 'a network section (a mapping)'),
  core: section(CORE_SHAPE, 'a core section (a mapping)'),
  partitions: listOf(
    z.strictObject(PARTITION_SHAPE, { error: 'expected a partition (a mapping)' }),
    'a list',
  ),
  crashes: listOf(z.strictObject(CRASH_SHAPE, { error: 'expected a crash (a mapping)' }), 'a list'),
  anchorFaults: listOf(
    z.strictObject(ANCHOR_FAULT_SHAPE, { error: 'expected an anchor fault (a mapping)' }),
    'a list',
  ),
  sampleIntervalS: secondsField('a time > 0', isPositive).default(10),
  convergenceThresholdNs: numberField('a number > 0', isPositive).default(1e6),
  statsFromS: secondsField('a time ≥ 0 or null', isNonNegative).nullable().default(null),
  gossipFanout: intField('an integer ≥ 1', (n) => n >= 1).default(8),
  checks: section(CHECKS_SHAPE, 'a checks section (a mapping with max and/or min)'),
};

const scenarioSchema = z.strictObject(SCENARIO_SHAPE, {
  error: 'expected a scenario (a mapping of settings)',
});

// Known keys per object, by path pattern (list indices written as []), for "unknown key" messages.
const KNOWN_KEYS: ReadonlyMap<string, readonly string[]> = new Map([
  ['', Object.keys(SCENARIO_SHAPE)],
  ['attack', Object.keys(ATTACK_SHAPE)],
  ['oscillator', Object.keys(OSCILLATOR_SHAPE)],
  ['network', Object.keys(NETWORK_SHAPE)],
  ['core', Object.keys(CORE_SHAPE)],
  ['partitions[]', Object.keys(PARTITION_SHAPE)],
  ['crashes[]', Object.keys(CRASH_SHAPE)],
  ['anchorFaults[]', Object.keys(ANCHOR_FAULT_SHAPE)],
  ['checks', Object.keys(CHECKS_SHAPE)],
]);

// ---------------------------------------------------------------------------------------------------
// Resolution

/**
 * Validates a raw scenario (parsed YAML/JSON, possibly merged with CLI overrides) and fills in the
 * defaults. Throws a ScenarioError listing every problem, each naming `source` and the field path.
 */
export function resolveScenario(raw: unknown, source: string): Scenario {
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) {
    throw ScenarioError.fromIssues(
      source,
      parsed.error.issues.flatMap((issue) => describeIssue(issue, raw)),
    );
  }
  const data = parsed.data;
  const issues: string[] = [];
  if (data.duration !== undefined && data.durationS !== undefined) {
    issues.push(
      `duration: expected either duration or durationS, not both, got duration ${data.duration} and durationS ${data.durationS}`,
    );
  }
  const anchorFaults = data.anchorFaults.map((fault, i) => {
    if (fault.kind === 'step' && fault.stepNs === undefined) {
      issues.push(`anchorFaults[${i}].stepNs: expected a number (required when kind is "step"), got nothing`);
    }
    return {
      anchor: fault.anchor,
      atS: fault.atS,
      untilS: fault.untilS,
      kind: fault.kind,
      stepNs: fault.stepNs ?? 0,
    };
  });
  const core: Scenario['core'] = {};
  // Copy only the keys that were given, so an absent override stays absent (the core's default).
  for (const key of Object.keys(CORE_SHAPE) as (keyof Scenario['core'])[]) {
    if (data.core[key] !== undefined) Object.assign(core, { [key]: data.core[key] });
  }
  // Built field by field, in the interface's order, so a report's embedded scenario is stable.
  const scenario: Scenario = {
    name: data.name,
    description: data.description,
    seed: data.seed,
    durationS: data.durationS ?? data.duration ?? 3600,
    nodes: data.nodes,
    byzantine: data.byzantine,
    anchors: data.anchors,
    anchorModel: data.anchorModel,
    attack: { ...data.attack },
    oscillator: { ...data.oscillator },
    network: { ...data.network },
    core,
    partitions: data.partitions.map((p) => ({
      atS: p.atS,
      healS: p.healS,
      groups: p.groups.map((g) => [...g]),
    })),
    crashes: data.crashes.map((c) => ({ node: c.node, atS: c.atS, restartS: c.restartS })),
    anchorFaults,
    sampleIntervalS: data.sampleIntervalS,
    convergenceThresholdNs: data.convergenceThresholdNs,
    statsFromS: data.statsFromS,
    gossipFanout: data.gossipFanout,
    checks: { max: { ...data.checks.max }, min: { ...data.checks.min } },
  };
  const durationKey = data.duration !== undefined && data.durationS === undefined ? 'duration' : 'durationS';
  issues.push(...crossFieldIssues(scenario, durationKey));
  if (issues.length > 0) throw ScenarioError.fromIssues(source, issues);
  return scenario;
}

function crossFieldIssues(s: Scenario, durationKey: string): string[] {
  const issues: string[] = [];
  if (s.anchors + s.byzantine > s.nodes) {
    issues.push(
      `byzantine: expected anchors + byzantine ≤ nodes (${s.nodes}), got ${s.anchors} + ${s.byzantine} = ${s.anchors + s.byzantine}`,
    );
  }
  if (s.byzantine > 0 && s.attack.kind === 'none') {
    const kinds = ATTACK_KINDS.filter((k) => k !== 'none').map((k) => JSON.stringify(k));
    issues.push(`attack.kind: expected one of ${kinds.join(', ')} when byzantine > 0, got "none"`);
  }
  if (s.network.delayNsMin > s.network.delayNsMax) {
    issues.push(
      `network.delayNsMax: expected ≥ network.delayNsMin (${s.network.delayNsMin}), got ${s.network.delayNsMax}`,
    );
  }
  if (s.sampleIntervalS > s.durationS) {
    issues.push(`sampleIntervalS: expected ≤ ${durationKey} (${s.durationS}), got ${s.sampleIntervalS}`);
  }
  if (s.statsFromS !== null && s.statsFromS >= s.durationS) {
    // Statistics from the end on would be taken over no samples at all.
    issues.push(`statsFromS: expected < ${durationKey} (${s.durationS}) or null, got ${s.statsFromS}`);
  }
  const { minPollS, maxPollS } = s.core;
  if (minPollS !== undefined && maxPollS !== undefined && maxPollS < minPollS) {
    issues.push(`core.maxPollS: expected ≥ core.minPollS (${minPollS}), got ${maxPollS}`);
  }
  const nodeRange = `a node index < nodes (${s.nodes})`;
  s.partitions.forEach((p, i) => {
    if (p.healS !== null && p.healS <= p.atS) {
      issues.push(`partitions[${i}].healS: expected a time after atS (${p.atS}) or null, got ${p.healS}`);
    }
    // A node in two groups would make "who can talk to whom" ambiguous.
    const groupOf = new Map<number, number>();
    p.groups.forEach((group, g) => {
      group.forEach((node, k) => {
        const path = `partitions[${i}].groups[${g}][${k}]`;
        if (node >= s.nodes) issues.push(`${path}: expected ${nodeRange}, got ${node}`);
        const earlier = groupOf.get(node);
        if (earlier !== undefined) {
          issues.push(
            `${path}: expected each node in at most one group, got node ${node} again (first in group ${earlier})`,
          );
        } else {
          groupOf.set(node, g);
        }
      });
    });
  });
  s.crashes.forEach((c, i) => {
    if (c.node >= s.nodes) issues.push(`crashes[${i}].node: expected ${nodeRange}, got ${c.node}`);
    if (c.restartS !== null && c.restartS <= c.atS) {
      issues.push(`crashes[${i}].restartS: expected a time after atS (${c.atS}) or null, got ${c.restartS}`);
    }
  });
  s.anchorFaults.forEach((f, i) => {
    if (f.anchor >= s.anchors) {
      issues.push(
        `anchorFaults[${i}].anchor: expected an anchor index < anchors (${s.anchors}), got ${f.anchor}`,
      );
    }
    if (f.untilS !== null && f.untilS <= f.atS) {
      issues.push(`anchorFaults[${i}].untilS: expected a time after atS (${f.atS}) or null, got ${f.untilS}`);
    }
  });
  for (const kind of ['max', 'min'] as const) {
    for (const metric of Object.keys(s.checks[kind])) {
      if (REPORT_METRIC_SET.has(metric)) continue;
      const hint = suggest(metric, REPORT_METRICS);
      issues.push(
        `checks.${kind}[${JSON.stringify(metric)}]: expected a numeric report metric${hint} (one of ${REPORT_METRICS.join(', ')}), got ${JSON.stringify(metric)}`,
      );
    }
  }
  return issues;
}

// ---------------------------------------------------------------------------------------------------
// Issue formatting

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string[] {
  if (issue.code === 'unrecognized_keys') {
    const known = KNOWN_KEYS.get(pathPattern(issue.path)) ?? [];
    return issue.keys.map((key) => {
      const where = formatPath([...issue.path, key]);
      const hint = suggest(key, known);
      return `${where}: unknown key${hint}; expected one of ${known.join(', ')}`;
    });
  }
  const where = formatPath(issue.path);
  const found = describeValue(valueAt(raw, issue.path), FOUND_CHARS_MAX);
  // Our schemas word every message as "expected …"; zod's own wording appears only if a schema
  // forgot its error parameter, and is still better than nothing.
  const text = `${issue.message}, got ${found}`;
  return [where === '' ? text : `${where}: ${text}`];
}

function pathPattern(path: readonly PropertyKey[]): string {
  return path.map((seg, i) => (typeof seg === 'number' ? '[]' : (i > 0 ? '.' : '') + String(seg))).join('');
}

// ---------------------------------------------------------------------------------------------------
// Files and overrides

/** Reads and parses a .yaml, .yml or .json scenario file without validating it. */
export async function readScenarioFile(path: string): Promise<unknown> {
  const extension = extname(path).toLowerCase();
  if (extension !== '.yaml' && extension !== '.yml' && extension !== '.json') {
    throw ScenarioError.fromIssues(path, [
      `unsupported file type ${JSON.stringify(extension || '(none)')}; expected .yaml, .yml or .json`,
    ]);
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw ScenarioError.fromIssues(path, [`cannot read the file: ${(error as Error).message}`], error);
  }
  return extension === '.json' ? parseJson(text, path) : parseYaml(text, path);
}

function parseYaml(text: string, path: string): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw ScenarioError.fromIssues(
      path,
      doc.errors.map((error) => {
        // prettyErrors appends " at line L, column C:" and a source excerpt; we put the position first.
        const message = error.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '');
        const position = error.linePos?.[0];
        return position === undefined
          ? `invalid YAML: ${message}`
          : `line ${position.line}, column ${position.col}: invalid YAML: ${message}`;
      }),
    );
  }
  try {
    return doc.toJS();
  } catch (error) {
    // toJS throws when aliases expand beyond yaml's maxAliasCount (a "billion laughs" document).
    throw ScenarioError.fromIssues(path, [`invalid YAML: ${(error as Error).message}`], error);
  }
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const message = (error as Error).message;
    const position = /at position (\d+)/.exec(message)?.[1];
    if (position === undefined) throw ScenarioError.fromIssues(path, [`invalid JSON: ${message}`], error);
    const before = text.slice(0, Number(position));
    const line = before.split('\n').length;
    const column = Number(position) - before.lastIndexOf('\n');
    throw ScenarioError.fromIssues(path, [`line ${line}, column ${column}: invalid JSON: ${message}`], error);
  }
}

/** Reads, merges `overrides` over the file's values, and resolves a scenario file. */
export async function loadScenarioFile(
  path: string,
  overrides: Record<string, unknown> = {},
): Promise<Scenario> {
  const raw = await readScenarioFile(path);
  return resolveScenario(mergeScenarioRaw(raw, overrides), path);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Deep-merges `overrides` over `base`: plain objects merge key by key, anything else (numbers,
 * strings, lists) is replaced whole. Keys are taken literally (no dotted-path expansion: check
 * metrics such as "honest.errorNsP99" are keys). An undefined override is ignored, so an absent CLI
 * flag never erases a file value. `duration` and `durationS` are aliases: overriding either drops
 * both from the base. A base that is not a mapping is returned unchanged so validation reports it
 * rather than the overrides silently replacing a broken file. Neither input is modified.
 */
export function mergeScenarioRaw(base: unknown, overrides: Record<string, unknown>): unknown {
  if (base !== undefined && base !== null && !isPlainObject(base)) return base;
  const start: Record<string, unknown> = isPlainObject(base) ? { ...base } : {};
  if (overrides['duration'] !== undefined || overrides['durationS'] !== undefined) {
    delete start['duration'];
    delete start['durationS'];
  }
  return mergeObjects(start, overrides);
}

function mergeObjects(
  base: Record<string, unknown>,
  overrides: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base)) defineKey(out, key, value);
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const previous = Object.hasOwn(out, key) ? out[key] : undefined;
    defineKey(
      out,
      key,
      isPlainObject(previous) && isPlainObject(value) ? mergeObjects(previous, value) : value,
    );
  }
  return out;
}

function defineKey(target: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty, not assignment: a "__proto__" key from JSON must stay a plain (rejected) key
  // instead of replacing the merged object's prototype.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
