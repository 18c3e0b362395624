/**
 * NTP in a real `timemesh start` process, without chronyd: a node anchored to a scripted NTP server
 * on loopback (stratum 2, the host's time) serves stratum 3 over its own NTP server, shows both on
 * /metrics, and exits cleanly on SIGTERM (the client's timers and both sockets are closed, or the
 * process would not exit); a node whose --serve-ntp port is taken refuses to start, saying why.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../node/daemonProcess.ts';
import { closeSocket, fakeServer, ntpQuery, udpSocket, waitFor } from './ntpHelpers.ts';

async function getText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  assert.equal(res.status, 200);
  return res.text();
}

describe('NTP in the daemon', () => {
  it('anchors to an NTP server, serves stratum + 1, counts on /metrics, and stops cleanly', async () => {
    const upstream = await fakeServer(() => ({ stratum: 2 }));
    const ntpSocket = await udpSocket();
    const ntpPort = ntpSocket.address().port;
    await closeSocket(ntpSocket);
    const dataDir = await mkdtemp(join(tmpdir(), 'timemesh-ntpd-'));
    const probe = await udpSocket();
    const proc = await startDaemon(
      [
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--api',
        '127.0.0.1:0',
        '--anchor',
        `ntp://127.0.0.1:${upstream.port}`,
        '--serve-ntp',
        `127.0.0.1:${ntpPort}`,
      ],
      dataDir,
    );
    try {
      const reply = await waitFor(
        'the node to serve stratum 3',
        async () => {
          const r = await ntpQuery(probe, ntpPort);
          return r?.stratum === 3 ? r : undefined;
        },
        15_000,
        250, // the server's per-client budget is 4/s: stay within it, or the probe draws RATE kisses
      );
      assert.equal(reply.leap, 0);
      const metrics = await getText(`${proc.api}/metrics`);
      const url = `ntp://127.0.0.1:${upstream.port}`;
      assert.match(
        metrics,
        new RegExp(`timemesh_ntp_client_packets_total\\{server="${url}",outcome="sample"\\} [1-9]`),
      );
      assert.match(metrics, new RegExp(`timemesh_ntp_client_up\\{server="${url}",status="ok"\\} 1`));
      assert.match(metrics, /timemesh_ntp_server_requests_total\{outcome="served"\} [1-9]/);
      assert.ok(upstream.requests.length >= 1);
      // Every request carried a fresh random transmit timestamp, none the node's clock.
      assert.equal(new Set(upstream.requests.map((r) => r.packet.transmitTs)).size, upstream.requests.length);

      const exited = new Promise<number | null>((r) => proc.child.once('exit', (code) => r(code)));
      proc.child.kill('SIGTERM');
      const code = await Promise.race([
        exited,
        new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000)),
      ]);
      assert.equal(code, 0, 'the node exits by itself after SIGTERM (nothing left open)');
      // The NTP port is free again.
      const again = await udpSocket('127.0.0.1', ntpPort);
      await closeSocket(again);
    } finally {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
      await closeSocket(probe);
      await closeSocket(upstream.socket);
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses to start when the --serve-ntp port is taken, naming the setting', async () => {
    const taken = await udpSocket();
    const dataDir = await mkdtemp(join(tmpdir(), 'timemesh-ntpd-'));
    try {
      await assert.rejects(
        startDaemon(
          [
            '--listen',
            '/ip4/127.0.0.1/tcp/0',
            '--api',
            '127.0.0.1:0',
            '--serve-ntp',
            `127.0.0.1:${taken.address().port}`,
          ],
          dataDir,
        ),
        /node exited with 1: .*serve-ntp 127\.0\.0\.1:\d+: cannot listen: .*EADDRINUSE/s,
      );
    } finally {
      await closeSocket(taken);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
