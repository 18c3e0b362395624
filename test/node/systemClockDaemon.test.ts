/**
 * The system-clock discipline in a real `timemesh start` process, without ever changing this
 * machine's clock:
 * - `--discipline-dry-run`: a node at local stratum 8 whose oscillator runs 300 ms ahead of the host
 *   (`--clock-offset-ms=300`) finds the system clock 300 ms behind its time and logs that it would step.
 *   /v1/status and /metrics count the would-be step; the kernel's clock state (adjtimex, read-only)
 *   is unchanged and realtime kept pace with the monotonic clock throughout.
 * - `--discipline-system-clock` without root or CAP_SYS_TIME: the node refuses to start, saying what
 *   it needs. As root (CI) the process is started as `nobody`; otherwise it runs as the current user.
 * The real discipline (not a dry run) is never started here: as root it would change the clock.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StatusResponse } from '../../node/api.ts';
import { readKernelClock } from '../../refclock/kernelClock.ts';
import { hasCapSysTime } from '../../refclock/systemClock.ts';
import { TIMEMESH_BIN, getJson, startDaemon } from './daemonProcess.ts';

const MS = 1e6;

describe('system-clock discipline in the daemon', () => {
  it('--discipline-dry-run: would step the 300 ms, changes nothing', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'timemesh-discipline-'));
    const kernelBefore = readKernelClock();
    const monoBefore = process.hrtime.bigint();
    const realBefore = Date.now();
    const proc = await startDaemon(
      [
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--api',
        '127.0.0.1:0',
        '--local-stratum',
        '8',
        '--clock-offset-ms=300',
        '--discipline-dry-run',
      ],
      dataDir,
    );
    try {
      let status: StatusResponse | undefined;
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        status = await getJson<StatusResponse>(`${proc.api}/v1/status`);
        if ((status.systemClock?.steps ?? 0) >= 1) break;
        await sleep(250);
      }
      const sc = status?.systemClock ?? null;
      console.log(`dry run: ${JSON.stringify(sc)}`);
      assert.ok(sc !== null, 'systemClock is in /v1/status');
      assert.equal(sc.dryRun, true);
      assert.ok(sc.steps >= 1, `a would-be step is counted: ${JSON.stringify(sc)}`);
      assert.equal(sc.errors, 0, `no control errors: ${sc.lastError}`);
      assert.ok(
        sc.lastOffsetNs !== null && Math.abs(sc.lastOffsetNs / MS - 300) < 10,
        `the system clock is found 300 ms behind the node: ${sc.lastOffsetNs} ns`,
      );
      const metrics = await (await fetch(`${proc.api}/metrics`)).text();
      assert.match(metrics, /^timemesh_system_clock_actions_total\{action="step",dry_run="true"\} [1-9]/m);
      assert.match(metrics, /^timemesh_system_clock_offset_seconds 0\.[23]\d*/m);
    } finally {
      proc.child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
    // Nothing moved: the kernel's discipline state, and realtime against the monotonic clock.
    const kernelAfter = readKernelClock();
    assert.equal(kernelAfter.offsetNs, kernelBefore.offsetNs, 'kernel PLL offset unchanged');
    assert.equal(kernelAfter.frequencyPpm, kernelBefore.frequencyPpm, 'kernel frequency unchanged');
    assert.equal(kernelAfter.statusRaw, kernelBefore.statusRaw, 'kernel status unchanged');
    const monoElapsedMs = Number(process.hrtime.bigint() - monoBefore) / MS;
    const realElapsedMs = Date.now() - realBefore;
    assert.ok(
      Math.abs(realElapsedMs - monoElapsedMs) < 5,
      `realtime advanced ${realElapsedMs} ms while monotonic advanced ${monoElapsedMs.toFixed(1)} ms`,
    );
  });

  it('--discipline-system-clock without root or CAP_SYS_TIME: refuses to start, saying what it needs', async (t) => {
    const asRoot = process.getuid?.() === 0;
    if (!asRoot && hasCapSysTime(readFileSync('/proc/self/status', 'latin1'))) {
      // Not root, but allowed to set the clock: the node would start and discipline it. Never here.
      t.skip('this non-root process holds CAP_SYS_TIME: the node would really discipline the clock');
      return;
    }
    const dataDir = await mkdtemp(join(tmpdir(), 'timemesh-discipline-'));
    try {
      const child = spawn(
        process.execPath,
        [TIMEMESH_BIN, 'start', '--data-dir', dataDir, '--api', '127.0.0.1:0', '--discipline-system-clock'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          // `nobody` has no capabilities: setuid away from root drops them.
          ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
          env: { ...process.env, TIMEMESH_LOG_LEVEL: 'warn' },
        },
      );
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 1, `exit status 1, got ${code}: ${stderr}`);
      assert.match(
        stderr,
        /changing the system clock needs root or CAP_SYS_TIME \(this process runs as uid \d+/,
      );
      assert.match(stderr, /--discipline-dry-run needs neither/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
