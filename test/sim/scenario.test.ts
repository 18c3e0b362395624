/**
 * Tests of scenario validation: defaults, overrides, every cross-field rule, the wording of errors
 * (they must name the source and the field), files in both formats, durations and check evaluation.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TimemeshError } from '../../hlc/errors.ts';
import { REPORT_SCHEMA, type SimReport } from '../../sim/reportTypes.ts';
import {
  evaluateChecks,
  getMetric,
  loadScenarioFile,
  mergeScenarioRaw,
  parseDuration,
  readScenarioFile,
  REPORT_METRICS,
  resolveScenario,
  SCENARIO_ERROR_CODE,
  ScenarioError,
} from '../../sim/scenario.ts';
import type { Scenario } from '../../sim/scenarioTypes.ts';

const SOURCE = 'sim/scenarios/x.yaml';

/** The ScenarioError that resolving `raw` throws (fails the test if it does not throw one). */
function errorOf(raw: unknown): ScenarioError {
  try {
    resolveScenario(raw, SOURCE);
  } catch (error) {
    assert.ok(error instanceof ScenarioError, `expected a ScenarioError, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(raw)} to be rejected`);
}

/** Asserts that resolving `raw` fails with exactly one issue, equal to `line` (without the source). */
function assertRejected(raw: unknown, line: string): void {
  const error = errorOf(raw);
  assert.deepEqual(error.issues, [line]);
  assert.equal(error.message, `${SOURCE}: ${line}`);
}

const DEFAULTS: Scenario = {
  name: 'adhoc',
  description: '',
  seed: '1',
  durationS: 3600,
  nodes: 100,
  byzantine: 0,
  anchors: 3,
  anchorModel: 'gps-pps',
  attack: { kind: 'none', lieNs: 3.6e12, driftNsPerS: 2000, holdNs: 5e6, hlcAheadNs: 3.6e12 },
  oscillator: { initialOffsetNs: 1e8, frequencyPpm: 50, wanderPpmPerSqrtS: 0.001 },
  network: {
    delayNsMin: 2e5,
    delayNsMax: 2e6,
    asymmetryNsMax: 1e5,
    jitterNsMean: 1e5,
    jitterParetoAlpha: 2.5,
    lossRate: 0.001,
  },
  core: {},
  partitions: [],
  crashes: [],
  anchorFaults: [],
  sampleIntervalS: 10,
  convergenceThresholdNs: 1e6,
  statsFromS: null,
  gossipFanout: 8,
  checks: { max: {}, min: {} },
};

describe('resolveScenario: defaults and values', () => {
  it('fills every default for an empty scenario', () => {
    assert.deepEqual(resolveScenario({}, SOURCE), DEFAULTS);
  });

  it('keeps the key order of the Scenario type, so embedded scenarios are byte-stable', () => {
    const a = resolveScenario({ checks: { min: { convergenceS: 1 } }, nodes: 5, name: 'x' }, SOURCE);
    assert.deepEqual(Object.keys(a), Object.keys(DEFAULTS));
    assert.equal(
      JSON.stringify(a),
      JSON.stringify(resolveScenario({ name: 'x', nodes: 5, checks: { min: { convergenceS: 1 } } }, SOURCE)),
    );
  });

  it('merges partial sections with their defaults', () => {
    const s = resolveScenario(
      {
        network: { lossRate: 0.05 },
        attack: { kind: 'constant' },
        checks: { max: { 'honest.errorNsP99': 1e6 } },
      },
      SOURCE,
    );
    assert.deepEqual(s.network, { ...DEFAULTS.network, lossRate: 0.05 });
    assert.deepEqual(s.attack, { ...DEFAULTS.attack, kind: 'constant' });
    assert.deepEqual(s.checks, { max: { 'honest.errorNsP99': 1e6 }, min: {} });
    assert.deepEqual(s.oscillator, DEFAULTS.oscillator);
  });

  it('treats an empty YAML section or list (null) as absent', () => {
    const s = resolveScenario({ core: null, network: null, partitions: null }, SOURCE);
    assert.deepEqual(s.core, {});
    assert.deepEqual(s.network, DEFAULTS.network);
    assert.deepEqual(s.partitions, []);
  });

  it('accepts a duration string or seconds under duration or durationS', () => {
    assert.equal(resolveScenario({ duration: '1h30m' }, SOURCE).durationS, 5400);
    assert.equal(resolveScenario({ duration: 90 }, SOURCE).durationS, 90);
    assert.equal(resolveScenario({ durationS: '2h' }, SOURCE).durationS, 7200);
    assert.equal(resolveScenario({ durationS: 120 }, SOURCE).durationS, 120);
    assert.equal('duration' in resolveScenario({ duration: '1h' }, SOURCE), false);
  });

  it('accepts duration strings for other times in seconds', () => {
    const s = resolveScenario(
      { sampleIntervalS: '500ms', statsFromS: '5m', crashes: [{ node: 4, atS: '10m', restartS: '15m' }] },
      SOURCE,
    );
    assert.equal(s.sampleIntervalS, 0.5);
    assert.equal(s.statsFromS, 300);
    assert.deepEqual(s.crashes, [{ node: 4, atS: 600, restartS: 900 }]);
  });

  it('stores the seed as a string, whether written as a number or a string', () => {
    assert.equal(resolveScenario({ seed: 42 }, SOURCE).seed, '42');
    assert.equal(resolveScenario({ seed: 'deadbeef' }, SOURCE).seed, 'deadbeef');
  });

  it('fills event defaults and copies only the core keys that were given', () => {
    const s = resolveScenario(
      {
        core: { pollPeers: 5, faultTolerance: null },
        partitions: [{ atS: 10, groups: [[0, 1]] }],
        anchorFaults: [{ anchor: 0, atS: 5, kind: 'outage' }],
      },
      SOURCE,
    );
    assert.deepEqual(s.core, { pollPeers: 5, faultTolerance: null });
    assert.deepEqual(s.partitions, [{ atS: 10, healS: null, groups: [[0, 1]] }]);
    assert.deepEqual(s.anchorFaults, [{ anchor: 0, atS: 5, untilS: null, kind: 'outage', stepNs: 0 }]);
  });

  it('does not share default objects between results', () => {
    const a = resolveScenario({}, SOURCE);
    a.partitions.push({ atS: 1, healS: null, groups: [] });
    a.checks.max['convergenceS'] = 1;
    const b = resolveScenario({}, SOURCE);
    assert.deepEqual(b.partitions, []);
    assert.deepEqual(b.checks.max, {});
  });
});

describe('resolveScenario: field errors', () => {
  it('names the source, the field, what was expected and what was found', () => {
    assertRejected(
      { network: { delayNsMin: 'abc' } },
      'network.delayNsMin: expected a number ≥ 0, got "abc"',
    );
    assertRejected({ nodes: 2.5 }, 'nodes: expected an integer from 1 to 100000, got 2.5');
  });

  it('is a TimemeshError with a stable code', () => {
    const error = errorOf({ nodes: 'many' });
    assert.ok(error instanceof TimemeshError);
    assert.equal(error.code, SCENARIO_ERROR_CODE);
    assert.equal(error.code, 'TM_ERR_SCENARIO');
    assert.equal(error.source, SOURCE);
  });

  it('rejects unknown keys at every level, with a suggestion', () => {
    assertRejected(
      { network: { delayMinNs: 5 } },
      'network.delayMinNs: unknown key (did you mean "delayNsMin"?); expected one of delayNsMin, delayNsMax, ' +
        'asymmetryNsMax, jitterNsMean, jitterParetoAlpha, lossRate',
    );
    assert.match(
      errorOf({ nodez: 5 }).message,
      /^sim\/scenarios\/x\.yaml: nodez: unknown key \(did you mean "nodes"\?\)/,
    );
    assert.match(
      errorOf({ crashes: [{ node: 1, atS: 2, restart: 3 }] }).message,
      /crashes\[0\]\.restart: unknown key/,
    );
  });

  it('lists the allowed values of an enum', () => {
    assertRejected(
      { anchorModel: 'gps' },
      'anchorModel: expected one of "perfect", "gps-pps", "gps-nmea", "ntp-server", got "gps"',
    );
    assert.match(
      errorOf({ attack: { kind: 'evil' } }).message,
      /attack\.kind: expected one of "none", "constant", .*"silent", got "evil"/,
    );
  });

  it('collects every issue, one per line', () => {
    const error = errorOf({ nodes: 0, network: { lossRate: 1 }, seed: 1.5, extra: true });
    assert.equal(error.issues.length, 4);
    const lines = error.message.split('\n');
    assert.equal(lines.length, 4);
    for (const line of lines) assert.ok(line.startsWith(`${SOURCE}: `), line);
    assert.ok(lines.some((l) => l.includes('network.lossRate: expected a number ≥ 0 and < 1, got 1')));
    assert.ok(lines.some((l) => l.includes('seed: expected an integer')));
    assert.ok(lines.some((l) => l.includes('extra: unknown key')));
  });

  it('reports a missing required field as "got nothing"', () => {
    assert.match(
      errorOf({ crashes: [{ atS: 5 }] }).message,
      /crashes\[0\]\.node: expected a node index \(an integer ≥ 0\), got nothing/,
    );
  });

  it('rejects a value that is not a scenario at all', () => {
    assertRejected(null, 'expected a scenario (a mapping of settings), got null');
    assertRejected([1, 2], 'expected a scenario (a mapping of settings), got [1,2]');
  });

  it('rejects seeds that cannot be stored exactly', () => {
    assert.match(
      errorOf({ seed: 2 ** 60 }).message,
      /seed: expected an integer \(at most 2\^53; quote longer seeds\)/,
    );
    assert.match(errorOf({ seed: '' }).message, /seed: expected/);
  });

  it('rejects bad durations', () => {
    assert.match(
      errorOf({ duration: 'soon' }).message,
      /duration: expected a duration > 0 and ≤ 30 days .*got "soon"/,
    );
    assert.match(errorOf({ durationS: 0 }).message, /durationS: expected a duration > 0/);
    assert.match(
      errorOf({ durationS: 30 * 86400 + 1 }).message,
      /durationS: expected a duration > 0 and ≤ 30 days/,
    );
    assert.equal(resolveScenario({ duration: '30d' }, SOURCE).durationS, 30 * 86400);
    assert.match(errorOf({ sampleIntervalS: 0 }).message, /sampleIntervalS: expected a time > 0/);
  });

  it('checks ranges of single fields', () => {
    assert.match(
      errorOf({ nodes: 100_001 }).message,
      /nodes: expected an integer from 1 to 100000, got 100001/,
    );
    assert.match(
      errorOf({ network: { jitterParetoAlpha: 1 } }).message,
      /network\.jitterParetoAlpha: expected a number > 1, got 1/,
    );
    assert.match(
      errorOf({ network: { lossRate: -0.1 } }).message,
      /network\.lossRate: expected a number ≥ 0 and < 1, got -0.1/,
    );
    assert.equal(resolveScenario({ network: { lossRate: 0 } }, SOURCE).network.lossRate, 0);
    assert.match(
      errorOf({ core: { pollPeers: 0 } }).message,
      /core\.pollPeers: expected an integer ≥ 1, got 0/,
    );
    assert.match(
      errorOf({ core: { faultTolerance: -1 } }).message,
      /core\.faultTolerance: expected an integer ≥ 0 or null, got -1/,
    );
    assert.match(errorOf({ core: { minPollS: 0 } }).message, /core\.minPollS: expected a time > 0/);
    assert.match(
      errorOf({ core: { maxDriftPpm: -1 } }).message,
      /core\.maxDriftPpm: expected a number ≥ 0, got -1/,
    );
    assert.match(errorOf({ byzantine: -1 }).message, /byzantine: expected an integer ≥ 0, got -1/);
  });
});

describe('resolveScenario: cross-field rules', () => {
  it('anchors + byzantine ≤ nodes', () => {
    assertRejected(
      { nodes: 10, anchors: 3, byzantine: 8, attack: { kind: 'constant' } },
      'byzantine: expected anchors + byzantine ≤ nodes (10), got 3 + 8 = 11',
    );
    assert.equal(
      resolveScenario({ nodes: 10, anchors: 3, byzantine: 7, attack: { kind: 'constant' } }, SOURCE)
        .byzantine,
      7,
    );
  });

  it('byzantine nodes need an attack', () => {
    const error = errorOf({ byzantine: 2 });
    assert.equal(error.issues.length, 1);
    assert.match(
      error.message,
      /attack\.kind: expected one of "constant", .* when byzantine > 0, got "none"/,
    );
    assert.doesNotMatch(error.issues[0] ?? '', /"none",/);
  });

  it('delayNsMin ≤ delayNsMax', () => {
    assertRejected(
      { network: { delayNsMin: 5e6, delayNsMax: 1e6 } },
      'network.delayNsMax: expected ≥ network.delayNsMin (5000000), got 1000000',
    );
    assert.equal(
      resolveScenario({ network: { delayNsMin: 1e6, delayNsMax: 1e6 } }, SOURCE).network.delayNsMax,
      1e6,
    );
  });

  it('sampleIntervalS ≤ durationS, naming the key the file used', () => {
    assertRejected(
      { duration: 60, sampleIntervalS: 61 },
      'sampleIntervalS: expected ≤ duration (60), got 61',
    );
    assertRejected(
      { durationS: 60, sampleIntervalS: 61 },
      'sampleIntervalS: expected ≤ durationS (60), got 61',
    );
    assert.equal(resolveScenario({ durationS: 60, sampleIntervalS: 60 }, SOURCE).sampleIntervalS, 60);
  });

  it('statsFromS before the end of the run', () => {
    assertRejected(
      { durationS: 60, statsFromS: 60 },
      'statsFromS: expected < durationS (60) or null, got 60',
    );
  });

  it('duration and durationS are not given together', () => {
    assert.match(
      errorOf({ duration: '1h', durationS: 60 }).message,
      /duration: expected either duration or durationS, not both/,
    );
  });

  it('maxPollS ≥ minPollS when both are given', () => {
    assertRejected(
      { core: { minPollS: 64, maxPollS: 16 } },
      'core.maxPollS: expected ≥ core.minPollS (64), got 16',
    );
    assert.deepEqual(resolveScenario({ core: { maxPollS: 16 } }, SOURCE).core, { maxPollS: 16 });
  });

  it('partition node indices are < nodes and in one group only', () => {
    assertRejected(
      { nodes: 10, partitions: [{ atS: 1, groups: [[0, 1], [10]] }] },
      'partitions[0].groups[1][0]: expected a node index < nodes (10), got 10',
    );
    assertRejected(
      { nodes: 10, partitions: [{ atS: 1, groups: [[0, 1], [1]] }] },
      'partitions[0].groups[1][0]: expected each node in at most one group, got node 1 again (first in group 0)',
    );
  });

  it('crash node indices are < nodes', () => {
    assertRejected(
      { nodes: 10, crashes: [{ node: 10, atS: 1 }] },
      'crashes[0].node: expected a node index < nodes (10), got 10',
    );
  });

  it('anchor fault indices are < anchors, and a step has a size', () => {
    assertRejected(
      { anchors: 2, anchorFaults: [{ anchor: 2, atS: 1, kind: 'outage' }] },
      'anchorFaults[0].anchor: expected an anchor index < anchors (2), got 2',
    );
    assertRejected(
      { anchorFaults: [{ anchor: 0, atS: 1, kind: 'step' }] },
      'anchorFaults[0].stepNs: expected a number (required when kind is "step"), got nothing',
    );
    assert.equal(
      resolveScenario({ anchorFaults: [{ anchor: 0, atS: 1, kind: 'step', stepNs: 1e9 }] }, SOURCE)
        .anchorFaults[0]?.stepNs,
      1e9,
    );
  });

  it('end times come after their start', () => {
    assertRejected(
      { partitions: [{ atS: 60, healS: 60, groups: [[0]] }] },
      'partitions[0].healS: expected a time after atS (60) or null, got 60',
    );
    assertRejected(
      { crashes: [{ node: 0, atS: 60, restartS: 30 }] },
      'crashes[0].restartS: expected a time after atS (60) or null, got 30',
    );
    assertRejected(
      { anchorFaults: [{ anchor: 0, atS: '10m', untilS: '5m', kind: 'outage' }] },
      'anchorFaults[0].untilS: expected a time after atS (600) or null, got 300',
    );
  });

  it('checks name known numeric report metrics', () => {
    const error = errorOf({ checks: { max: { 'honest.errorNsP999': 1 }, min: { 'counts.nodes': 1 } } });
    assert.equal(error.issues.length, 2);
    assert.match(
      error.issues[0] ?? '',
      /^checks\.max\["honest\.errorNsP999"\]: expected a numeric report metric \(did you mean "honest\.errorNsP99"\?\)/,
    );
    assert.match(error.issues[1] ?? '', /^checks\.min\["counts\.nodes"\]: expected a numeric report metric/);
    const ok = resolveScenario(
      { checks: { max: { 'baselines.average.errorNsP99': 1 }, min: { 'honest.containment': 0.99 } } },
      SOURCE,
    );
    assert.deepEqual(ok.checks.min, { 'honest.containment': 0.99 });
  });

  it('reports every cross-field problem at once', () => {
    const error = errorOf({
      nodes: 5,
      byzantine: 3,
      network: { delayNsMin: 9, delayNsMax: 1 },
      crashes: [{ node: 7, atS: 1 }],
    });
    assert.deepEqual(
      error.issues.map((issue) => issue.slice(0, issue.indexOf(':'))),
      ['byzantine', 'attack.kind', 'network.delayNsMax', 'crashes[0].node'],
    );
  });
});

describe('REPORT_METRICS', () => {
  it('lists the dotted numeric metrics of the report', () => {
    for (const metric of [
      'honest.containment',
      'honest.errorNsP50',
      'honest.messagesPerNodePerMinute',
      'convergenceS',
      'precisionNsMax',
      'baselines.average.errorNsP99',
      'baselines.seedMedianBlend.convergenceS',
      'events.processed',
      'events.noQuorumRounds',
      'events.referenceFalsetickerMarks',
    ]) {
      assert.ok(REPORT_METRICS.includes(metric), metric);
    }
    assert.equal(REPORT_METRICS.length, 12 + 2 + 2 * 5 + 9);
    assert.equal(new Set(REPORT_METRICS).size, REPORT_METRICS.length);
  });

  it('resolves every metric to a number in a report', () => {
    const report = makeReport();
    for (const metric of REPORT_METRICS) assert.equal(typeof getMetric(report, metric), 'number', metric);
  });
});

describe('parseDuration', () => {
  const cases: [string | number, number][] = [
    [90, 90],
    [0.25, 0.25],
    ['90', 90],
    ['500ms', 0.5],
    ['100ms', 0.1],
    ['90s', 90],
    ['10m', 600],
    ['2h', 7200],
    ['1h30m', 5400],
    ['1h 30m', 5400],
    ['1d', 86400],
    ['1d2h3m4s5ms', 86400 + 7200 + 180 + 4 + 0.005],
    ['1.5h', 5400],
    [' 2m ', 120],
  ];
  for (const [input, seconds] of cases) {
    it(`${JSON.stringify(input)} is ${seconds} s`, () => {
      assert.equal(parseDuration(input), seconds);
    });
  }

  for (const input of [
    '',
    'abc',
    '10x',
    '5 minutes',
    '-5s',
    '30m1h',
    '1h1h',
    '1H',
    'h',
    '1.s',
    '1e3s',
    -1,
    Number.NaN,
    Infinity,
  ]) {
    it(`rejects ${typeof input === 'string' ? JSON.stringify(input) : String(input)}`, () => {
      assert.throws(
        () => parseDuration(input),
        (error: unknown) =>
          error instanceof ScenarioError &&
          error.code === 'TM_ERR_SCENARIO' &&
          /invalid duration/.test(error.message),
      );
    });
  }
});

describe('mergeScenarioRaw', () => {
  it('deep-merges plain objects, overrides winning, lists replaced whole', () => {
    const base = {
      nodes: 10,
      network: { lossRate: 0.1, delayNsMin: 5 },
      partitions: [{ atS: 1, groups: [[0]] }],
    };
    const merged = mergeScenarioRaw(base, { network: { lossRate: 0.2 }, partitions: [], seed: 'x' });
    assert.deepEqual(merged, {
      nodes: 10,
      network: { lossRate: 0.2, delayNsMin: 5 },
      partitions: [],
      seed: 'x',
    });
    assert.deepEqual(base.network, { lossRate: 0.1, delayNsMin: 5 }, 'the base is not modified');
  });

  it('merges check limits key by key and keeps dotted metric names as keys', () => {
    const merged = mergeScenarioRaw(
      { checks: { max: { 'honest.errorNsP99': 1 } } },
      { checks: { max: { convergenceS: 2 } } },
    );
    assert.deepEqual(merged, { checks: { max: { 'honest.errorNsP99': 1, convergenceS: 2 } } });
  });

  it('ignores undefined overrides and treats duration and durationS as one setting', () => {
    assert.deepEqual(mergeScenarioRaw({ nodes: 10, duration: '1h' }, { nodes: undefined, durationS: 60 }), {
      nodes: 10,
      durationS: 60,
    });
    assert.equal(
      resolveScenario(mergeScenarioRaw({ durationS: 60 }, { duration: '2h' }), SOURCE).durationS,
      7200,
    );
  });

  it('starts from nothing for an empty file, and keeps a malformed one for validation to report', () => {
    assert.deepEqual(mergeScenarioRaw(null, { nodes: 5 }), { nodes: 5 });
    assert.deepEqual(mergeScenarioRaw(undefined, { nodes: 5 }), { nodes: 5 });
    assert.deepEqual(mergeScenarioRaw([1], { nodes: 5 }), [1]);
  });

  it('cannot pollute prototypes through a __proto__ key', () => {
    const merged = mergeScenarioRaw(
      {},
      JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>,
    );
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.equal(Object.getPrototypeOf(merged), Object.prototype);
    assert.match(errorOf(merged).message, /__proto__: unknown key/);
  });
});

describe('scenario files', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'timemesh-scenario-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  it('loads YAML', async () => {
    const path = await file(
      'liar.yaml',
      [
        'name: liar',
        'duration: 10m',
        'byzantine: 2',
        'attack:',
        '  kind: two-faced',
        'network:',
        '  lossRate: 0.01',
        '',
      ].join('\n'),
    );
    const s = await loadScenarioFile(path);
    assert.equal(s.name, 'liar');
    assert.equal(s.durationS, 600);
    assert.equal(s.attack.kind, 'two-faced');
    assert.equal(s.network.lossRate, 0.01);
    assert.equal(s.network.delayNsMin, DEFAULTS.network.delayNsMin);
  });

  it('loads .yml and JSON', async () => {
    assert.equal((await loadScenarioFile(await file('a.yml', 'nodes: 7\n'))).nodes, 7);
    assert.equal((await loadScenarioFile(await file('b.json', '{ "nodes": 8, "seed": 99 }'))).seed, '99');
  });

  it('applies overrides over the file', async () => {
    const path = await file('c.yaml', 'nodes: 7\nnetwork:\n  lossRate: 0.01\n');
    const s = await loadScenarioFile(path, { nodes: 9, network: { delayNsMax: 3e6 } });
    assert.equal(s.nodes, 9);
    assert.deepEqual([s.network.lossRate, s.network.delayNsMax], [0.01, 3e6]);
  });

  it('names the file in validation errors', async () => {
    const path = await file('bad.yaml', 'network:\n  delayNsMin: abc\n');
    await assert.rejects(loadScenarioFile(path), (error: unknown) => {
      assert.ok(error instanceof ScenarioError);
      assert.equal(error.message, `${path}: network.delayNsMin: expected a number ≥ 0, got "abc"`);
      return true;
    });
  });

  it('reports YAML syntax errors with the line', async () => {
    const path = await file('syntax.yaml', 'name: x\nnodes: 5\nnodes: 6\n');
    await assert.rejects(loadScenarioFile(path), (error: unknown) => {
      assert.ok(error instanceof ScenarioError);
      assert.match(
        error.message,
        new RegExp(
          `^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line 3, column 1: invalid YAML: Map keys must be unique`,
        ),
      );
      return true;
    });
  });

  it('reports JSON syntax errors with the line when the parser gives a position', async () => {
    const path = await file('syntax.json', '{\n  "nodes": 5\n}\n}');
    await assert.rejects(readScenarioFile(path), /syntax\.json: line 4, column 1: invalid JSON/);
    const noPosition = await file('empty.json', '');
    await assert.rejects(readScenarioFile(noPosition), /empty\.json: invalid JSON/);
  });

  it('rejects other extensions and missing files', async () => {
    await assert.rejects(
      loadScenarioFile(await file('s.toml', 'nodes = 5')),
      /s\.toml: unsupported file type "\.toml"; expected \.yaml, \.yml or \.json/,
    );
    await assert.rejects(loadScenarioFile(join(dir, 'missing.yaml')), (error: unknown) => {
      assert.ok(error instanceof ScenarioError);
      assert.match(error.message, /missing\.yaml: cannot read the file: ENOENT/);
      return true;
    });
  });

  it('treats an empty YAML file as the default scenario', async () => {
    assert.deepEqual(await loadScenarioFile(await file('empty.yaml', '# nothing yet\n')), DEFAULTS);
  });
});

function makeReport(): SimReport {
  const figures = { errorNsP50: 1, errorNsP99: 2, errorNsMax: 3, convergenceS: 4, precisionNsMax: 5 };
  return {
    schema: REPORT_SCHEMA,
    scenario: {},
    seed: '1',
    durationS: 60,
    statsFromS: 0,
    counts: { nodes: 4, honest: 4, byzantine: 0, anchors: 1 },
    honest: {
      errorNsP50: 1000,
      errorNsP99: 5000,
      errorNsMax: 9000,
      convergenceS: 30,
      precisionNsMax: 7000,
      containment: 0.999,
      containmentSamples: 100,
      containmentMisses: 0,
      unsynchronizedSamples: 3,
      widthNsP50: 100,
      widthNsP99: 200,
      messagesPerNodePerMinute: 6,
    },
    convergenceS: 30,
    precisionNsMax: 7000,
    baselines: { average: { ...figures }, seedMedianBlend: { ...figures } },
    events: {
      processed: 1,
      exchangesStarted: 2,
      exchangesCompleted: 3,
      exchangesLost: 4,
      announcementsPublished: 5,
      falsetickerMarks: 6,
      referenceFalsetickerMarks: 0,
      hlcRejections: 7,
      noQuorumRounds: 8,
    },
    checks: [],
    passed: true,
    series: {
      stepS: 10,
      tS: [],
      honestErrorNsP50: [],
      honestErrorNsP99: [],
      honestErrorNsMax: [],
      honestWidthNsP50: [],
      baselineAverageErrorNsP99: [],
      baselineSeedErrorNsP99: [],
      nodes: [],
    },
  };
}

describe('getMetric and evaluateChecks', () => {
  it('reads dotted paths, and null for absent or non-numeric values', () => {
    const report = makeReport();
    assert.equal(getMetric(report, 'honest.errorNsP99'), 5000);
    assert.equal(getMetric(report, 'baselines.seedMedianBlend.precisionNsMax'), 5);
    assert.equal(getMetric(report, 'events.hlcRejections'), 7);
    assert.equal(getMetric(report, 'honest.nope'), null);
    assert.equal(getMetric(report, 'seed'), null);
    assert.equal(getMetric(report, 'honest'), null);
    assert.equal(getMetric(report, 'toString'), null);
    report.honest.convergenceS = null;
    assert.equal(getMetric(report, 'honest.convergenceS'), null);
  });

  it('max passes at or below the limit, min at or above, null fails', () => {
    const report = makeReport();
    report.convergenceS = null;
    const results = evaluateChecks(report, {
      max: { 'honest.errorNsP99': 5000, 'honest.errorNsMax': 8999, convergenceS: 100 },
      min: { 'honest.containment': 0.999, 'events.processed': 2 },
    });
    const byMetric = Object.fromEntries(results.map((r) => [`${r.kind}:${r.metric}`, r]));
    assert.deepEqual(byMetric['max:honest.errorNsP99'], {
      metric: 'honest.errorNsP99',
      kind: 'max',
      limit: 5000,
      value: 5000,
      pass: true,
    });
    assert.equal(byMetric['max:honest.errorNsMax']?.pass, false);
    assert.deepEqual(byMetric['max:convergenceS'], {
      metric: 'convergenceS',
      kind: 'max',
      limit: 100,
      value: null,
      pass: false,
    });
    assert.equal(byMetric['min:honest.containment']?.pass, true);
    assert.equal(byMetric['min:events.processed']?.pass, false);
  });

  it('sorts by metric, then kind, whatever the input order', () => {
    const report = makeReport();
    const results = evaluateChecks(report, {
      max: { 'honest.errorNsP99': 1, convergenceS: 1, 'baselines.average.errorNsP99': 1 },
      min: { 'honest.errorNsP99': 1, convergenceS: 1 },
    });
    assert.deepEqual(
      results.map((r) => `${r.metric}/${r.kind}`),
      [
        'baselines.average.errorNsP99/max',
        'convergenceS/max',
        'convergenceS/min',
        'honest.errorNsP99/max',
        'honest.errorNsP99/min',
      ],
    );
    assert.deepEqual(evaluateChecks(report, { max: {}, min: {} }), []);
  });
});
