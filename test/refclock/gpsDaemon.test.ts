/**
 * GPS in a real `timemesh start` process (issue #5's pty acceptance test): a node with no peers and
 * `--gps <tmp>/gps --gps-fudge-ms 0` reads the fixture through a socat pty pair, the test playing the
 * receiver (one second of fixture sentences right after each UTC second begins, times rewritten to
 * that second: see gpsHelpers.ts). Checked: /v1/time says anchored, anchorKind 'gps', with the best
 * estimate within 60 ms of the host clock (NMEA lines reach the node a few ms after the second they
 * name, and the fudge is 0, so the expected offset is minus that latency); /v1/peers lists the
 * reference source `gps:<device>` with an offset within 50 ms; SIGTERM stops the node cleanly (the
 * driver closes the port, or the process would not exit).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PeerResponse, TimeResponse } from '../../node/api.ts';
import { getJson, startDaemon } from '../node/daemonProcess.ts';
import type { DaemonProcess } from '../node/daemonProcess.ts';
import { PtyPair, fixtureSeconds, writeSecond } from './gpsHelpers.ts';

const MS = 1_000_000;
const MS_BIG = 1_000_000n;
/** Seconds of fixture written before the node is asked. */
const SECONDS_WRITTEN = 8;

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

  it('anchors to the fixture: anchored, anchorKind gps, best within 60 ms of the host', async () => {
    proc = await startDaemon(
      ['--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--gps', pty.gps, '--gps-fudge-ms', '0'],
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
    assert.ok(Math.abs(errorMs) < 60, `|best − host| = ${Math.abs(errorMs).toFixed(2)} ms, expected < 60 ms`);

    assert.ok(gps !== undefined, `no gps:${pty.gps} in /v1/peers: ${peers.map((p) => p.id).join(', ')}`);
    assert.equal(gps.kind, 'reference');
    assert.equal(gps.anchorKind, 'gps');
    assert.ok(gps.offsetNs !== null && Math.abs(gps.offsetNs) < 50 * MS, `source offset ${gps.offsetNs} ns`);

    const child = proc.child;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(10_000).then(() => 'hung' as const)]);
    assert.equal(code, 0, 'the node exits by itself after SIGTERM (the GPS port is closed)');
  });
});
