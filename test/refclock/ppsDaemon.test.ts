/**
 * GPS + PPS in a real `timemesh start` process. No PPS hardware exists here, so the PPS device is a
 * sysfs-style directory (`<tmp>/pps0/assert`, the format of /sys/class/pps/ppsN/assert) that the
 * test writes as the kernel would: at the top of every host second, `<second>.000000000#<seq>`. The
 * GPS receiver is the fixture through a socat pty, as in gpsDaemon.test.ts.
 *
 * The node runs 300 ms behind the host (`--clock-offset-ms -300`) with `--pps-fudge-ns 1500`, so every
 * PPS sample's offset must be 300 ms + 1.5 µs, to within the oscillator's start-up calibration (µs);
 * its error bound must be a few µs at most; the node must report anchored, anchor kind pps, stratum
 * 1, NTP reference id "PPS", and its best estimate must match the host clock to within the API round
 * trip. A --pps path that does not exist stops the node with the PPS reader's message.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PeerResponse, StatusResponse, TimeResponse } from '../../node/api.ts';
import { getJson, startDaemon } from '../node/daemonProcess.ts';
import type { DaemonProcess } from '../node/daemonProcess.ts';
import { PtyPair, fixtureSeconds, writeSecond } from './gpsHelpers.ts';
import { freeUdpPort, ntpReplyFrom } from './ntpHelpers.ts';

const MS = 1e6;
const CLOCK_OFFSET_MS = -300;
const PPS_FUDGE_NS = 1500;
const EXPECTED_PPS_OFFSET_NS = -CLOCK_OFFSET_MS * MS + PPS_FUDGE_NS;
const SECONDS = 10;

/**
 * Writes `<dir>/assert` as the kernel presents it: all at once. (writeFileSync truncates first, and a
 * poll landing between the truncation and the write would read an empty file: a reader error.)
 */
function writeAssert(dir: string, content: string): void {
  writeFileSync(join(dir, 'assert.tmp'), content);
  renameSync(join(dir, 'assert.tmp'), join(dir, 'assert'));
}

describe('GPS + PPS in the daemon (socat pty, sysfs-style PPS)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'timemesh-ppsd-'));
  const ppsDir = join(dir, 'pps0');
  const pty = new PtyPair(dir);
  let proc: DaemonProcess | undefined;

  before(async () => {
    mkdirSync(ppsDir);
    writeAssert(ppsDir, `${Math.floor(Date.now() / 1000) - 1}.000000000#0\n`);
    await pty.start();
  });
  after(async () => {
    const child = proc?.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await pty.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('labels PPS edges with GPS seconds: offset 300 ms + fudge to µs, anchored pps, stratum 1', async () => {
    const ntpPort = await freeUdpPort();
    proc = await startDaemon(
      [
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--api',
        '127.0.0.1:0',
        '--gps',
        pty.gps,
        '--gps-fudge-ms',
        '0',
        '--pps',
        ppsDir,
        '--pps-fudge-ns',
        String(PPS_FUDGE_NS),
        `--clock-offset-ms=${CLOCK_OFFSET_MS}`,
        '--serve-ntp',
        `127.0.0.1:${ntpPort}`,
      ],
      join(dir, 'data'),
    );
    await sleep(300);
    const groups = fixtureSeconds();
    for (let i = 0; i < SECONDS; i++) {
      // The pulse marks the second; the receiver's sentences naming it follow.
      const s = await writeSecond(pty, groups[i % groups.length] ?? []);
      writeAssert(ppsDir, `${s}.000000000#${i + 1}\n`);
    }
    await sleep(300);

    const status = await getJson<StatusResponse>(`${proc.api}/v1/status`);
    const pps = status.refclocks.pps;
    console.log(`pps status: ${JSON.stringify(pps)}`);
    assert.ok(pps !== null, 'refclocks.pps is present');
    assert.equal(pps.method, 'sysfs');
    assert.ok(pps.samplesTotal >= SECONDS - 3, `PPS samples ${pps.samplesTotal} of ${SECONDS} edges`);
    assert.equal(pps.readerErrorsTotal, 0, `reader errors: ${pps.lastError}`);
    assert.ok(pps.lastSample !== null, 'a last PPS sample');
    const offsetErrUs = (pps.lastSample.offsetNs - EXPECTED_PPS_OFFSET_NS) / 1000;
    assert.ok(
      Math.abs(offsetErrUs) < 100,
      `PPS offset ${pps.lastSample.offsetNs} ns, expected ${EXPECTED_PPS_OFFSET_NS} (off by ${offsetErrUs.toFixed(1)} µs)`,
    );
    assert.ok(pps.lastSample.errorNs < 10_000, `PPS error bound ${pps.lastSample.errorNs} ns, expected µs`);

    const { peers } = await getJson<{ peers: PeerResponse[] }>(`${proc.api}/v1/peers`);
    const ppsSource = peers.find((p) => p.id === `pps:${ppsDir}`);
    assert.ok(ppsSource !== undefined, `no pps:${ppsDir} in /v1/peers: ${peers.map((p) => p.id).join(', ')}`);
    assert.equal(ppsSource.anchorKind, 'pps');

    // The node follows PPS: anchored, kind pps, stratum 1; its best estimate converges on the host
    // clock (its discipline slews away the NMEA-based first estimate), measured over the API.
    let time: TimeResponse | undefined;
    let errorMs = Number.NaN;
    let halfRttMs = Number.NaN;
    const deadline = Date.now() + 30_000;
    for (let i = 0; Date.now() < deadline; i++) {
      const s = await writeSecond(pty, groups[(SECONDS + i) % groups.length] ?? []);
      writeAssert(ppsDir, `${s}.000000000#${SECONDS + i + 1}\n`);
      await sleep(100);
      const t0 = process.hrtime.bigint();
      const hostBeforeNs = BigInt(Date.now()) * 1_000_000n;
      time = await getJson<TimeResponse>(`${proc.api}/v1/time`);
      const hostAfterNs = BigInt(Date.now()) * 1_000_000n;
      halfRttMs = Number(process.hrtime.bigint() - t0) / MS / 2;
      errorMs = Number(BigInt(time.bestNs) - (hostBeforeNs + hostAfterNs) / 2n) / MS;
      if (time.anchorKind === 'pps' && Math.abs(errorMs) < halfRttMs + 1.5) break;
    }
    console.log(
      `pps daemon: status ${time?.status}, kind ${time?.anchorKind}, stratum ${time?.stratum}, ` +
        `best − host ${errorMs.toFixed(3)} ms (half RTT ${halfRttMs.toFixed(3)} ms, Date.now ±0.5 ms), uncertainty ${time?.uncertaintyNs} ns`,
    );
    assert.ok(time !== undefined, 'a /v1/time answer');
    assert.equal(time.anchored, true);
    assert.equal(time.anchorKind, 'pps');
    assert.equal(time.stratum, 1);
    assert.ok(
      Math.abs(errorMs) < halfRttMs + 1.5,
      `|best − host| = ${errorMs.toFixed(3)} ms, expected within half the round trip + 1.5 ms (Date.now's ms)`,
    );

    const reply = await ntpReplyFrom(ntpPort);
    assert.equal(reply.stratum, 1);
    assert.equal(
      reply.referenceId,
      0x50505300,
      `reference id 0x${reply.referenceId.toString(16)}, expected "PPS"`,
    );
    const metrics = await (await fetch(`${proc.api}/metrics`)).text();
    assert.match(metrics, /^timemesh_pps_edges_total\{device="[^"]+",outcome="sample"\} [1-9]/m);
  });

  it('refuses to start when the --pps device does not exist, with the reader’s reason', async () => {
    await assert.rejects(
      startDaemon(
        ['--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--pps', '/dev/pps97'],
        join(dir, 'data2'),
      ),
      /node exited with 1: .*no PPS device at \/dev\/pps97/s,
    );
  });
});
