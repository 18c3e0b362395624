/**
 * `timemesh sync`: the pure selection and decision logic on synthetic measurements, then the real
 * command against real servers on loopback — chronyd (-x: it never touches the clock) as an NTP
 * server, a TSQ server on the host clock and one TSQ server 2 s ahead (an offset added to readings;
 * no clock is set). `--apply` is tested in-process only, through `runSync(args, { control })` with the
 * recording adapter (test/node/recordingSystemClock.ts): never against the real clock.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  bestSample,
  decideCorrection,
  selectServers,
  summarizeSync,
  formatSyncTable,
} from '../../refclock/oneShotSync.ts';
import type { ServerReport } from '../../refclock/oneShotSync.ts';
import { startTsqServer } from '../../refclock/tsqServer.ts';
import type { TsqServer } from '../../refclock/tsqServer.ts';
import type { UpstreamMeasurement } from '../../refclock/types.ts';
import { chronydMissing, startChronydServer } from './ntpHelpers.ts';
import type { ChronydServer } from './ntpHelpers.ts';
import { MS, fakeTimeView } from './tsqHelpers.ts';
import { SYNC_EXIT_APPLY_FAILED, SYNC_EXIT_APPLY_REFUSED, runSync } from '../../node/syncCommand.ts';
import { SLEW_STATUS_CLEAR, SLEW_STATUS_SET, STA_UNSYNC } from '../../node/core/systemClockPolicy.ts';
import { RecordingSystemClock } from '../node/recordingSystemClock.ts';

const BIN = fileURLToPath(new URL('../../bin/timemesh.js', import.meta.url));

function m(server: string, offsetMs: number, errorMs: number, delayMs = 1): UpstreamMeasurement {
  return {
    server,
    offsetNs: offsetMs * MS,
    delayNs: delayMs * MS,
    stratum: 2,
    errorNs: errorMs * MS,
    localNs: 0n,
  };
}

const OPTIONS = { maxOffsetNs: 1000 * MS, slewThresholdNs: 128 * MS };

describe('one-shot sync: selection and decision (pure)', () => {
  it('keeps the least-delayed sample per server', () => {
    const best = bestSample([m('a', 5, 1, 9), m('a', 1, 1, 2), m('a', 7, 1, 4)]);
    assert.equal(best?.offsetNs, 1 * MS);
    assert.equal(bestSample([]), null);
  });

  it('excludes a falseticker and combines the majority', () => {
    const sel = selectServers([m('a', 0.2, 1), m('b', -0.3, 2), m('c', 2000, 1)]);
    assert.ok(sel.ok);
    assert.deepEqual(sel.falsetickers, ['c']);
    assert.deepEqual(sel.truechimers.sort(), ['a', 'b']);
    assert.equal(sel.f, 1);
    assert.ok(Math.abs(sel.offsetNs) <= 0.3 * MS, `offset ${sel.offsetNs}`);
    // The agreed interval is [a.low, b.high] ∩ … = [-0.8, 1.2] ms here; the bound covers all of it.
    assert.ok(sel.offsetNs - sel.errorNs <= sel.lowNs && sel.offsetNs + sel.errorNs >= sel.highNs);
  });

  it('uses every server when all agree (f = 0), and refuses to guess without a majority', () => {
    const all = selectServers([m('a', 10, 1), m('b', 10.5, 1), m('c', 9.8, 1)]);
    assert.ok(all.ok);
    assert.equal(all.f, 0);
    assert.equal(all.falsetickers.length, 0);
    const split = selectServers([m('a', 0, 1), m('b', 500, 1)]);
    assert.equal(split.ok, false);
    assert.equal(selectServers([]).ok, false);
  });

  it('slews below the threshold, steps above it, refuses beyond the max offset', () => {
    assert.equal(decideCorrection(100 * MS, OPTIONS).action, 'slew');
    assert.equal(decideCorrection(-128 * MS, OPTIONS).action, 'slew');
    assert.equal(decideCorrection(-129 * MS, OPTIONS).action, 'step');
    assert.equal(decideCorrection(999 * MS, OPTIONS).action, 'step');
    const refuse = decideCorrection(-1500 * MS, OPTIONS);
    assert.equal(refuse.action, 'refuse');
    assert.match(refuse.message, /beyond --max-offset-ms \(1000\); not applied/);
  });

  it('gives each server a verdict, failed ones included', () => {
    const report = (
      server: string,
      samples: UpstreamMeasurement[],
      problems: string[] = [],
    ): ServerReport => ({
      server,
      scheme: 'ntp',
      queries: 3,
      samples,
      problems,
    });
    const result = summarizeSync(
      [
        report('a', [m('a', 1, 1), m('a', 3, 1, 5)]),
        report('b', [m('b', 0.5, 1)]),
        report('c', [m('c', 2000, 1)]),
        report('d', [], ['no reply ×3']),
      ],
      OPTIONS,
    );
    assert.deepEqual(
      result.servers.map((s) => [s.server, s.verdict, s.samplesOk]),
      [
        ['a', 'truechimer', 2],
        ['b', 'truechimer', 1],
        ['c', 'falseticker', 1],
        ['d', 'failed', 0],
      ],
    );
    assert.equal(result.decision?.action, 'slew');
    const table = formatSyncTable(result);
    assert.match(table, /^server +offset ms +delay ms +stratum +error ms +samples +verdict/);
    assert.match(table, /failed \(no reply ×3\)/);
    assert.match(table, /combined offset /);
  });
});

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

interface JsonServer {
  server: string;
  offsetMs: number | null;
  verdict: string;
  samplesOk: number;
  samplesTotal: number;
  stratum: number | null;
  errorMs: number | null;
}
interface JsonResult {
  servers: JsonServer[];
  combined: { offsetMs: number; errorMs: number; falsetickers: string[] } | null;
  decision: { action: string; message: string } | null;
  dryRun: boolean;
  applied: boolean;
  applyError?: string;
}

describe('timemesh sync against real servers on loopback', () => {
  const missing = chronydMissing();
  let dir = '';
  let chrony: ChronydServer | null = null;
  let tsqTrue: TsqServer | null = null;
  let tsqAhead: TsqServer | null = null;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'timemesh-sync-'));
    if (missing === null) chrony = await startChronydServer();
    tsqTrue = await startTsqServer({
      host: '127.0.0.1',
      port: 0,
      timeView: fakeTimeView(0),
      certDir: join(dir, 'true'),
    });
    tsqAhead = await startTsqServer({
      host: '127.0.0.1',
      port: 0,
      timeView: fakeTimeView(2000 * MS),
      certDir: join(dir, 'ahead'),
    });
  });

  after(async () => {
    await tsqTrue?.stop();
    await tsqAhead?.stop();
    await chrony?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  // A missing chronyd is a broken test machine, not a reason to pass: .ci/run installs it.
  it('has chronyd to test against (Debian package chrony, run as root)', () => {
    assert.equal(missing, null, String(missing));
  });

  const urls = (): string[] => [
    `ntp://127.0.0.1:${chrony!.port}`,
    `tsq://127.0.0.1:${tsqTrue!.port}?insecure=1`,
    `tsq://127.0.0.1:${tsqAhead!.port}?insecure=1`,
  ];

  it('combines chronyd and the true TSQ server, marks the +2 s server a falseticker, changes nothing', async (t) => {
    if (missing !== null) return t.skip(missing);
    const run = await runCli(['sync', ...urls(), '--queries', '3', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const r = JSON.parse(run.stdout) as JsonResult;
    t.diagnostic(
      `servers: ${r.servers.map((s) => `${s.server} ${s.offsetMs?.toFixed(3)} ms ${s.verdict} ${s.samplesOk}/${s.samplesTotal}`).join('; ')}`,
    );
    t.diagnostic(`combined ${r.combined?.offsetMs.toFixed(3)} ms ± ${r.combined?.errorMs.toFixed(3)} ms`);
    assert.ok(r.combined !== null);
    assert.ok(Math.abs(r.combined.offsetMs) <= 5, `combined offset ${r.combined.offsetMs} ms`);
    assert.deepEqual(
      r.servers.map((s) => s.verdict),
      ['truechimer', 'truechimer', 'falseticker'],
    );
    assert.equal(r.servers[0]!.stratum, 1, 'chronyd is local stratum 1');
    // TSQ's loopback δ is 10–30 ms in this busy process: hold the offset to its own bound, not to 5 ms.
    const ahead = r.servers[2]!;
    assert.ok(
      Math.abs(ahead.offsetMs! - 2000) <= ahead.errorMs! + 1,
      `ahead server at ${ahead.offsetMs} ms ± ${ahead.errorMs} ms`,
    );
    for (const s of r.servers) assert.equal(s.samplesOk, 3, `${s.server}: ${s.samplesOk}/3`);
    assert.equal(r.decision?.action, 'slew');
    assert.equal(r.dryRun, true);
    assert.equal(r.applied, false);
  });

  it('prints the table and the dry-run note without --json', async (t) => {
    if (missing !== null) return t.skip(missing);
    const run = await runCli(['sync', ...urls(), '--queries', '2']);
    assert.equal(run.code, 0, run.stderr);
    for (const line of run.stdout.trimEnd().split('\n')) t.diagnostic(line);
    assert.match(run.stdout, /falseticker/);
    assert.match(run.stdout, /decision: slew: /);
    assert.match(run.stdout, /dry run: nothing was changed/);
  });

  it('steps, or refuses beyond --max-offset-ms, when the only server is 2 s ahead', async () => {
    const ahead = `tsq://127.0.0.1:${tsqAhead!.port}?insecure=1`;
    const refused = await runCli(['sync', ahead, '--queries', '2', '--json']);
    assert.equal(refused.code, 0, refused.stderr);
    const rr = JSON.parse(refused.stdout) as JsonResult;
    assert.equal(rr.decision?.action, 'refuse');
    assert.match(rr.decision!.message, /beyond --max-offset-ms \(1000\); not applied/);
    const stepped = await runCli(['sync', ahead, '--queries', '2', '--max-offset-ms', '5000', '--json']);
    assert.equal(stepped.code, 0, stepped.stderr);
    assert.equal((JSON.parse(stepped.stdout) as JsonResult).decision?.action, 'step');
  });

  /** runSync in-process with a recording adapter; the system clock starts `behindNs` behind true time. */
  async function applyRun(args: string[], behindNs = 0n): Promise<CliRun & { kernel: RecordingSystemClock }> {
    const kernel = new RecordingSystemClock(() => BigInt(Date.now()) * 1_000_000n, behindNs);
    let stdout = '';
    let stderr = '';
    const code = await runSync(args, {
      control: kernel,
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
    });
    return { code, stdout, stderr, kernel };
  }

  it('--apply slews a small offset once through the control (kernel PLL, status bits)', async () => {
    const run = await applyRun([
      `tsq://127.0.0.1:${tsqTrue!.port}?insecure=1`,
      '--queries',
      '2',
      '--apply',
      '--json',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const r = JSON.parse(run.stdout) as JsonResult & { apply: { action: string } };
    assert.equal(r.dryRun, false);
    assert.equal(r.applied, true);
    assert.equal(r.apply.action, 'slew');
    assert.equal(run.kernel.calls.length, 1, JSON.stringify(run.kernel.calls.map((c) => c.op)));
    const call = run.kernel.calls[0]!;
    assert.ok(call.op === 'adjust', `expected adjust, got ${call.op}`);
    const a = call.adjustment;
    assert.ok(Math.abs(a.offsetNs! - r.combined!.offsetMs * MS) <= 1, `offset ${a.offsetNs}`);
    assert.deepEqual(a.status, { set: SLEW_STATUS_SET, clear: SLEW_STATUS_CLEAR });
    assert.equal(a.timeConstant, 2);
    assert.equal(a.frequencyPpm, undefined, 'a one-shot sync leaves the frequency alone');
    assert.ok(a.maxErrorUs! >= Math.abs(a.offsetNs!) / 1000, `maxerror ${a.maxErrorUs} µs`);
  });

  it('--apply steps above the slew threshold, then sets maxerror and clears STA_UNSYNC', async () => {
    const ahead = `tsq://127.0.0.1:${tsqAhead!.port}?insecure=1`;
    const run = await applyRun([ahead, '--queries', '2', '--max-offset-ms', '5000', '--apply']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /applied: step the clock by -?\d+\.\d{3} ms/);
    assert.deepEqual(
      run.kernel.calls.map((c) => c.op),
      ['step', 'adjust'],
    );
    const step = run.kernel.calls[0]!;
    assert.ok(step.op === 'step', 'step first');
    const stepMs = Number(step.deltaNs) / MS;
    assert.ok(Math.abs(stepMs - 2000) <= 50, `stepped ${stepMs} ms`);
    const after = run.kernel.calls[1]!;
    assert.ok(after.op === 'adjust', 'then adjust');
    assert.deepEqual(after.adjustment.status, { set: 0, clear: STA_UNSYNC });
    assert.equal(after.adjustment.offsetNs, undefined, 'no slew after a step');
    assert.equal(run.kernel.read().synchronized, true);
  });

  it('--apply refuses beyond --max-offset-ms (exit 4) and fails on EPERM (exit 3), changing nothing', async () => {
    const ahead = `tsq://127.0.0.1:${tsqAhead!.port}?insecure=1`;
    const refused = await applyRun([ahead, '--queries', '1', '--apply']);
    assert.equal(refused.code, SYNC_EXIT_APPLY_REFUSED, refused.stderr);
    assert.equal(SYNC_EXIT_APPLY_REFUSED, 4);
    assert.match(refused.stderr, /beyond --max-offset-ms \(1000\); not applied; nothing was changed/);
    assert.deepEqual(refused.kernel.calls, []);

    const kernel = new RecordingSystemClock(() => BigInt(Date.now()) * 1_000_000n, 0n);
    kernel.failWith = RecordingSystemClock.eperm;
    let stderr = '';
    const code = await runSync([`tsq://127.0.0.1:${tsqTrue!.port}?insecure=1`, '--queries', '1', '--apply'], {
      control: kernel,
      stdout: () => {},
      stderr: (t) => void (stderr += t),
    });
    assert.equal(code, SYNC_EXIT_APPLY_FAILED, stderr);
    assert.equal(SYNC_EXIT_APPLY_FAILED, 3);
    assert.match(stderr, /slew failed: .*needs root or CAP_SYS_TIME; nothing was changed/);
    assert.equal(kernel.calls.length, 1, 'one attempt');
  });

  it('exits 1 when no server answers and 2 on a bad URL, naming the argument', async () => {
    const dead = await runCli(['sync', 'tsq://127.0.0.1:1?insecure=1', '--queries', '1']);
    assert.equal(dead.code, 1, dead.stderr);
    assert.match(dead.stdout, /no server answered/);
    const bad = await runCli(['sync', 'ntp://127.0.0.1:123', 'tsq://127.0.0.1:99999']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /argument 2 'tsq:\/\/127\.0\.0\.1:99999': expected a port/);
    const flag = await runCli(['sync', 'ntp://127.0.0.1:123', '--slew-threshold-ms', '5000']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /--slew-threshold-ms/);
  });
});
