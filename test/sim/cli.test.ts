/**
 * Tests of the `timemesh` command line, run as a real process (`node bin/timemesh.js …`) the way an
 * operator or CI runs it: exit codes (0 ok, 1 failed checks, 2 operator mistakes), error messages
 * that name the flag or key, the files written, and clean output when not on a terminal.
 *
 * Each process costs about a second of start-up (tsx compiles the sources), so the processes run
 * concurrently (async spawn rather than spawnSync) and every simulation is tiny.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { REPORT_SCHEMA, type SimReport } from '../../sim/reportTypes.ts';
import { mergeScenarioRaw, resolveScenario } from '../../sim/scenario.ts';
import { simulate } from '../../sim/simulator.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/timemesh.js …args` in the repository root, with pipes (not a terminal) for output. */
function timemesh(...args: string[]): Promise<Run> {
  const env = { ...process.env };
  // The test runner marks its children; a CLI run is not one of its test files.
  delete env['NODE_TEST_CONTEXT'];
  delete env['NODE_OPTIONS'];
  delete env['FORCE_COLOR'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/timemesh.js', ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill(), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

function show(r: Run): string {
  return `exit ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** No carriage returns or escape sequences: a progress bar must not draw into a pipe. */
function assertPlain(text: string, stream: string): void {
  assert.ok(
    !text.includes('\r') && !text.includes('\x1b'),
    `${stream} has control characters: ${JSON.stringify(text)}`,
  );
}

const TINY = `# A tiny scenario for CLI tests.
name: tiny
seed: 5
duration: 2m
nodes: 12
anchors: 2
checks:
  min:
    honest.containment: 1
`;

const FAILING = `name: failing
seed: 6
duration: 2m
nodes: 12
anchors: 2
checks:
  max:
    honest.errorNsP99: 1
`;

const UNKNOWN_KEY = `name: typo
nodes: 12
network:
  delayMinNs: 1000
`;

describe('timemesh CLI', { concurrency: true }, () => {
  let dir = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'timemesh-cli-'));
    await mkdir(join(dir, 'pass'));
    await mkdir(join(dir, 'fail'));
    await mkdir(join(dir, 'out'));
    await writeFile(join(dir, 'tiny.yaml'), TINY);
    await writeFile(join(dir, 'failing.yaml'), FAILING);
    await writeFile(join(dir, 'typo.yaml'), UNKNOWN_KEY);
    await writeFile(join(dir, 'pass', 'a.yaml'), TINY);
    await writeFile(join(dir, 'pass', 'b.yml'), TINY.replace('name: tiny', 'name: tiny-b'));
    await writeFile(join(dir, 'pass', 'notes.txt'), 'not a scenario');
    await writeFile(join(dir, 'fail', 'a.yaml'), TINY);
    await writeFile(join(dir, 'fail', 'b.yaml'), FAILING);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('sim: runs, writes the JSON and HTML reports, and prints a plain summary', async () => {
    const json = join(dir, 'run.json');
    const html = join(dir, 'run.html');
    const args = ['--nodes', '12', '--anchors', '2', '--duration', '3m', '--seed', '7'];
    const r = await timemesh('sim', ...args, '--json', json, '--html', html);
    assert.equal(r.status, 0, show(r));
    const text = await readFile(json, 'utf8');
    const report = JSON.parse(text) as SimReport;
    assert.equal(report.schema, REPORT_SCHEMA);
    assert.deepEqual(report.counts, { nodes: 12, honest: 12, byzantine: 0, anchors: 2 });
    assert.equal(report.durationS, 180);
    assert.equal(report.seed, '7');
    // The CLI adds nothing of its own: the file is the library's report for the same options.
    const scenario = resolveScenario(
      mergeScenarioRaw({}, { nodes: 12, anchors: 2, durationS: 180, seed: '7' }),
      'command line',
    );
    assert.equal(text, JSON.stringify(simulate(scenario), null, 2) + '\n');
    assert.match(await readFile(html, 'utf8'), /<svg/);
    assert.match(
      r.stdout,
      /^scenario adhoc: 12 nodes \(2 anchors, 0 byzantine, attack none\), 180 s, seed 7$/m,
    );
    assert.match(r.stdout, /containment 100\.0000%/);
    // Every run prints its seed and options, on stderr so that stdout stays the summary's.
    assert.match(r.stderr, /seed 7, 12 nodes, 180 s virtual/);
    assertPlain(r.stdout, 'stdout');
    assertPlain(r.stderr, 'stderr');
  });

  it('sim --nodes abc: exit 2 naming --nodes', async () => {
    const r = await timemesh('sim', '--nodes', 'abc');
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /--nodes/);
    assert.match(r.stderr, /abc/);
    assert.equal(r.stdout, '');
  });

  it('sim --bogus: exit 2 naming the flag', async () => {
    const r = await timemesh('sim', '--bogus');
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /--bogus/);
    assert.equal(r.stdout, '');
  });

  it('sim --attack nope: exit 2 naming attack.kind', async () => {
    const r = await timemesh('sim', '--attack', 'nope', '--byzantine', '2');
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /attack\.kind: expected one of .*got "nope"/);
    assert.equal(r.stdout, '');
  });

  it('sim --scenario --check: exit 1 when a check fails', async () => {
    const r = await timemesh('sim', '--scenario', join(dir, 'failing.yaml'), '--check');
    assert.equal(r.status, 1, show(r));
    assert.match(r.stdout, /FAIL honest\.errorNsP99 = \d+ \(≤ 1\)/);
    assert.match(r.stdout, /^CHECKS FAILED$/m);
  });

  it('sim --scenario without --check: exit 0 despite a failing check; --quiet prints nothing', async () => {
    const r = await timemesh('sim', '--scenario', join(dir, 'failing.yaml'), '--quiet');
    assert.equal(r.status, 0, show(r));
    assert.equal(r.stdout, '');
  });

  it('sim --scenario with an unknown key: exit 2 naming the file and the key', async () => {
    const file = join(dir, 'typo.yaml');
    const r = await timemesh('sim', '--scenario', file);
    assert.equal(r.status, 2, show(r));
    assert.ok(r.stderr.includes(file), r.stderr);
    assert.match(r.stderr, /network\.delayMinNs: unknown key \(did you mean "delayNsMin"\?\)/);
    assert.equal(r.stdout, '');
  });

  // BUG (reported): a report file that cannot be written ends in an uncaught exception with a stack
  // trace, after the whole simulation has run. It should be a one-line error naming --json.
  it('sim --json to a missing directory: a clean error naming --json', async () => {
    const file = join(dir, 'no-such-dir', 'r.json');
    const r = await timemesh('sim', '--nodes', '12', '--anchors', '2', '--duration', '1m', '--json', file);
    assert.notEqual(r.status, 0, show(r));
    assert.ok(r.stderr.includes(file), r.stderr);
    assert.match(r.stderr, /--json/);
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace for an operator mistake');
  });

  it('sim --engine bogus: exit 2 naming --engine', async () => {
    const r = await timemesh('sim', '--engine', 'bogus');
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /--engine: expected one of 'sim', 'libp2p', got 'bogus'/);
    assert.equal(r.stdout, '');
  });

  it('sim --engine libp2p with a flag of the deterministic engine: exit 2 naming the flag', async () => {
    const attack = await timemesh('sim', '--engine', 'libp2p', '--attack', 'constant');
    assert.equal(attack.status, 2, show(attack));
    assert.match(attack.stderr, /--attack: not supported with --engine libp2p/);
    const html = await timemesh('sim', '--engine', 'libp2p', '--html', join(dir, 'x.html'));
    assert.equal(html.status, 2, show(html));
    assert.match(html.stderr, /--html: not supported with --engine libp2p/);
    const anchors = await timemesh('sim', '--engine', 'libp2p', '--nodes', '3', '--anchors', '3');
    assert.equal(anchors.status, 2, show(anchors));
    assert.match(anchors.stderr, /--anchors: expected at most nodes − 1 = 2/);
  });

  it('sim --engine libp2p: runs real nodes, writes its own report, prints figures and exits', async () => {
    const json = join(dir, 'libp2p.json');
    const r = await timemesh(
      'sim',
      ...['--engine', 'libp2p', '--nodes', '3', '--anchors', '1', '--duration', '4s', '--seed', '9'],
      ...['--json', json],
    );
    assert.equal(r.status, 0, show(r));
    const report = JSON.parse(await readFile(json, 'utf8')) as {
      schema: string;
      deterministic: boolean;
      counts: unknown;
    };
    assert.equal(report.schema, 'timemesh.sim-libp2p.report/1');
    assert.equal(report.deterministic, false);
    assert.deepEqual(report.counts, { nodes: 3, anchors: 1, followers: 2 });
    assert.match(r.stdout, /^libp2p engine: 3 nodes on 127\.0\.0\.1 in one process/m);
    assert.match(r.stdout, /^containment /m);
    assert.match(r.stderr, /3 nodes \(1 anchors\), 4 s of real time, seed 9; NOT deterministic/);
    assertPlain(r.stdout, 'stdout');
    assertPlain(r.stderr, 'stderr');
  });

  it('help: prints the usage, exit 0', async () => {
    const r = await timemesh('help');
    assert.equal(r.status, 0, show(r));
    assert.match(r.stdout, /^usage: timemesh <command>/);
    assert.match(r.stdout, /sim-suite/);
    assert.match(r.stdout, /--scenario FILE/);
  });

  it('an unknown command: exit 2 naming it', async () => {
    const r = await timemesh('frobnicate');
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /unknown command 'frobnicate'/);
    assert.equal(r.stdout, '');
  });

  it('sim-suite: runs every scenario file, writes reports with --out, exit 0 when all pass', async () => {
    const out = join(dir, 'out');
    const r = await timemesh('sim-suite', join(dir, 'pass'), '--out', out);
    assert.equal(r.status, 0, show(r));
    assert.match(r.stdout, /^sim-suite: 2 passed, 0 failed$/m);
    assert.match(r.stdout, /^== a\.yaml$/m);
    assert.match(r.stdout, /^== b\.yml$/m);
    assertPlain(r.stdout, 'stdout');
    assert.deepEqual((await readdir(out)).sort(), ['a.html', 'a.json', 'b.html', 'b.json']);
    const report = JSON.parse(await readFile(join(out, 'b.json'), 'utf8')) as SimReport;
    assert.equal(report.schema, REPORT_SCHEMA);
    assert.equal((report.scenario as { name: string }).name, 'tiny-b');
    assert.equal(report.passed, true);
  });

  it('sim-suite: exit 1 when a scenario fails its checks', async () => {
    const r = await timemesh('sim-suite', join(dir, 'fail'));
    assert.equal(r.status, 1, show(r));
    assert.match(r.stdout, /^sim-suite: 1 passed, 1 failed$/m);
  });
});
