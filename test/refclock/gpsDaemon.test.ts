/**
 * GPS in a real `timemesh start` process (issue #5's pty acceptance test): a node with no peers reads
 * the fixture through a socat pty pair, the test playing the receiver (one second of fixture
 * sentences right after each UTC second begins, times rewritten to that second: see gpsHelpers.ts).
 *
 * The node runs with `--clock-offset-ms -300` (its raw oscillator 300 ms behind the host) and
 * `--gps-fudge-ms 20`, so a sample's offset must be 300 + 20 ms minus the few ms between the start
 * of the second and the line's arrival (reference = sentence UTC + fudge; offset = reference − raw
 * local). Checked: /v1/time says anchored, anchorKind 'gps', stratum 1, with the best estimate
 * 20 ms minus that latency ahead of the host; /v1/peers and /v1/status (`refclocks.gps`) show the
 * expected offset; /metrics counts the lines; the node's NTP server answers stratum 1 with reference
 * id "GPS", and its TSQ server clock class GNSS; SIGTERM stops the node cleanly (the driver closes
 * the port, or the process would not exit).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PeerResponse, StatusResponse, TimeResponse } from '../../node/api.ts';
import { CLOCK_CLASS } from '../../refclock/tsqCodec.ts';
import { TsqClient } from '../../refclock/tsqClient.ts';
import { freeUdpPort, ntpReplyFrom } from './ntpHelpers.ts';
import { hostClock } from './tsqHelpers.ts';
import { getJson, startDaemon } from '../node/daemonProcess.ts';
import type { DaemonProcess } from '../node/daemonProcess.ts';
import { PtyPair, fixtureSeconds, writeSecond } from './gpsHelpers.ts';

const MS = 1_000_000;
const MS_BIG = 1_000_000n;
/** Seconds of fixture written before the node is asked. */
const SECONDS_WRITTEN = 8;
const CLOCK_OFFSET_MS = -300;
const FUDGE_MS = 20;
/** A sample's offset with zero line latency: fudge − clock offset. */
const EXPECTED_OFFSET_MS = FUDGE_MS - CLOCK_OFFSET_MS;
/** Latency allowed between the start of a second and its first line reaching the node. */
const LATENCY_MS_MAX = 60;

describe('GPS in the daemon (socat pty)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'timemesh-gpsd-'));
  const pty = new PtyPair(dir);
  let proc: DaemonProcess | undefined;

  before(() => pty.start());
  after(async () => {
    const child = proc?.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await pty.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('anchors to the fixture with the expected offsets, and serves stratum 1 / GNSS', async () => {
    const ntpPort = await freeUdpPort();
    const tsqPort = await freeUdpPort();
    proc = await startDaemon(
      [
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--api',
        '127.0.0.1:0',
        '--gps',
        pty.gps,
        '--gps-fudge-ms',
        String(FUDGE_MS),
        `--clock-offset-ms=${CLOCK_OFFSET_MS}`,
        '--serve-ntp',
        `127.0.0.1:${ntpPort}`,
        '--serve-tsq',
        `127.0.0.1:${tsqPort}`,
      ],
      join(dir, 'data'),
    );
    // The driver opens the port right after the service starts; give it a moment before the first
    // second is written, or that second's lines would wait in the pty and arrive late.
    await sleep(300);

    const groups = fixtureSeconds();
    for (let i = 0; i < SECONDS_WRITTEN; i++) await writeSecond(pty, groups[i % groups.length] ?? []);
    await sleep(200);

    // A first request opens the connection, so that the timed one brackets the answer tightly.
    await getJson<TimeResponse>(`${proc.api}/v1/time`);
    const hostBeforeNs = BigInt(Date.now()) * MS_BIG;
    const time = await getJson<TimeResponse>(`${proc.api}/v1/time`);
    const hostAfterNs = BigInt(Date.now()) * MS_BIG;
    const hostNs = (hostBeforeNs + hostAfterNs) / 2n;
    const errorMs = Number(BigInt(time.bestNs) - hostNs) / MS;
    const uncertaintyMs = time.uncertaintyNs === null ? null : Number(time.uncertaintyNs) / MS;

    const { peers } = await getJson<{ peers: PeerResponse[] }>(`${proc.api}/v1/peers`);
    const gps = peers.find((p) => p.id === `gps:${pty.gps}`);
    console.log(
      `gps daemon: status ${time.status}, anchored ${time.anchored}, anchorKind ${time.anchorKind}, ` +
        `stratum ${time.stratum}, best − host ${errorMs.toFixed(2)} ms (fetch ${(Number(hostAfterNs - hostBeforeNs) / MS).toFixed(0)} ms), ` +
        `uncertainty ${uncertaintyMs?.toFixed(2) ?? 'none'} ms; source offset ${gps?.offsetNs === null || gps === undefined ? 'none' : (gps.offsetNs / MS).toFixed(2)} ms`,
    );

    assert.equal(time.anchored, true, `expected anchored, got ${JSON.stringify(time)}`);
    assert.equal(time.anchorKind, 'gps');
    assert.equal(time.stratum, 1, 'a GPS-anchored node is a primary server');
    assert.ok(
      errorMs <= FUDGE_MS + 1 && errorMs > FUDGE_MS - LATENCY_MS_MAX,
      `best − host = ${errorMs.toFixed(2)} ms, expected ${FUDGE_MS} ms minus a latency under ${LATENCY_MS_MAX} ms`,
    );

    assert.ok(gps !== undefined, `no gps:${pty.gps} in /v1/peers: ${peers.map((p) => p.id).join(', ')}`);
    assert.equal(gps.kind, 'reference');
    assert.equal(gps.anchorKind, 'gps');
    const offsetMs = gps.offsetNs === null ? Number.NaN : gps.offsetNs / MS;
    assert.ok(
      offsetMs <= EXPECTED_OFFSET_MS + 1 && offsetMs > EXPECTED_OFFSET_MS - LATENCY_MS_MAX,
      `source offset ${offsetMs} ms, expected ${EXPECTED_OFFSET_MS} ms minus a latency under ${LATENCY_MS_MAX} ms`,
    );

    // /v1/status: the GPS section counts what the fixture holds (valid seconds sampled, bad lines dropped).
    const status = await getJson<StatusResponse>(`${proc.api}/v1/status`);
    const g = status.refclocks.gps;
    assert.ok(g !== null, 'refclocks.gps is present');
    assert.equal(g.device, pty.gps);
    assert.equal(g.open, true);
    assert.equal(g.fudgeNs, FUDGE_MS * MS);
    assert.ok(
      g.samplesTotal >= SECONDS_WRITTEN - 2,
      `samples ${g.samplesTotal}, expected about ${SECONDS_WRITTEN}`,
    );
    assert.ok(
      g.drops['bad-checksum'] >= 1,
      `the fixture's bad-checksum lines are counted: ${JSON.stringify(g.drops)}`,
    );
    assert.ok(g.lastSample !== null, 'a last sample is shown');
    assert.ok(
      Math.abs(g.lastSample.offsetNs / MS - EXPECTED_OFFSET_MS) < LATENCY_MS_MAX,
      `last sample offset ${g.lastSample.offsetNs / MS} ms`,
    );
    assert.ok(status.kernel !== null, 'the kernel clock state is read (Linux)');

    const metrics = await (await fetch(`${proc.api}/metrics`)).text();
    const device = pty.gps.replace(/[\\/.^$*+?()[\]{}|-]/g, (c) => `\\${c}`);
    assert.match(
      metrics,
      new RegExp(`^timemesh_gps_lines_total\\{device="${device}",outcome="sample"\\} [1-9]`, 'm'),
    );
    assert.match(
      metrics,
      new RegExp(
        `^timemesh_gps_lines_total\\{device="${device}",outcome="dropped_bad-checksum"\\} [1-9]`,
        'm',
      ),
    );
    assert.match(metrics, new RegExp(`^timemesh_gps_port_open\\{device="${device}"\\} 1$`, 'm'));

    // The node's own servers advertise the GPS: NTP stratum 1 with reference id "GPS", TSQ clock class GNSS.
    const reply = await ntpReplyFrom(ntpPort);
    assert.equal(reply.stratum, 1);
    assert.equal(reply.leap, 0);
    assert.equal(
      reply.referenceId,
      0x47505300,
      `reference id 0x${reply.referenceId.toString(16)}, expected "GPS"`,
    );
    const tsq = new TsqClient(`tsq://127.0.0.1:${tsqPort}?mode=stream`, {
      clock: hostClock(),
      insecure: true,
    });
    try {
      const r = await tsq.measure();
      assert.ok(r.ok, `TSQ measure failed: ${r.ok ? '' : `${r.reason} ${r.detail}`}`);
      assert.equal(r.measurement.clockQuality?.clockClass, CLOCK_CLASS.GNSS);
      assert.equal(r.measurement.stratum, 1);
    } finally {
      await tsq.stop();
    }

    const child = proc.child;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(10_000).then(() => 'hung' as const)]);
    assert.equal(code, 0, 'the node exits by itself after SIGTERM (the GPS port is closed)');
  });
});
