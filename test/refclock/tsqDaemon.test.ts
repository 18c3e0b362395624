/**
 * TSQ between two real `timemesh start` processes over QUIC on loopback: node A runs 250 ms ahead
 * of the host clock (the testing aid) as a local stratum-8 reference and serves TSQ; node B, in
 * another mesh (it has no peers), anchors to A over tsq:// in datagram mode. B must report itself
 * anchored with anchor kind 'tsq', its time must follow A's (≈ +250 ms against the host), and both
 * must count the exchanges on /metrics.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getJson, startDaemon } from '../node/daemonProcess.ts';
import type { DaemonProcess } from '../node/daemonProcess.ts';
import { closeSocket, udpSocket } from './ntpHelpers.ts';

async function freeUdpPort(): Promise<number> {
  const s = await udpSocket();
  const port = s.address().port;
  await closeSocket(s);
  return port;
}

describe('TSQ in the daemon', () => {
  it('a node anchors to another node’s TSQ server and follows its time', async () => {
    const dirs = await Promise.all(['a', 'b'].map((n) => mkdtemp(join(tmpdir(), `timemesh-tsqd-${n}-`))));
    const procs: DaemonProcess[] = [];
    try {
      const tsqPort = await freeUdpPort();
      procs.push(
        await startDaemon(
          [
            '--listen',
            '/ip4/127.0.0.1/tcp/0',
            '--api',
            '127.0.0.1:0',
            '--network',
            'tsq-a',
            '--local-stratum',
            '8',
            '--clock-offset-ms=250',
            '--serve-tsq',
            `127.0.0.1:${tsqPort}`,
          ],
          dirs[0]!,
        ),
      );
      procs.push(
        await startDaemon(
          [
            '--listen',
            '/ip4/127.0.0.1/tcp/0',
            '--api',
            '127.0.0.1:0',
            '--network',
            'tsq-b',
            '--anchor',
            `tsq://127.0.0.1:${tsqPort}?mode=datagram&insecure=1`,
          ],
          dirs[1]!,
        ),
      );
      const [a, b] = procs as [DaemonProcess, DaemonProcess];
      // B follows A, which runs 250 ms ahead of the host clock; B's monotonic best estimate gets there
      // over a few samples (its clock discipline slews rather than jumps), so wait for it.
      let t: Record<string, unknown> = {};
      let aheadMs = Number.NaN;
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        t = await getJson(`${b.api}/v1/time`);
        aheadMs = Number(BigInt(t.bestNs as string) - BigInt(Date.now()) * 1_000_000n) / 1e6;
        if (t.anchored === true && Math.abs(aheadMs - 250) < 5) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(t.anchored, true, `B never anchored: ${JSON.stringify(t)}`);
      assert.equal(t.anchorKind, 'tsq');
      assert.equal(t.stratum, 9, 'A serves its local stratum 8; B is one below');
      assert.ok(Math.abs(aheadMs - 250) < 5, `B is ${aheadMs} ms ahead of the host, expected 250 ± 5`);
      // Its interval contains A's time (±20 ms for the two API round trips and scheduling).
      const ta = await getJson(`${a.api}/v1/time`);
      const bestA = BigInt(ta.bestNs as string);
      assert.ok(
        BigInt(t.earliestNs as string) - 20_000_000n <= bestA &&
          bestA <= BigInt(t.latestNs as string) + 20_000_000n,
        'B’s interval contains A’s time',
      );
      const metricsA = await (await fetch(`${a.api}/metrics`)).text();
      const metricsB = await (await fetch(`${b.api}/metrics`)).text();
      assert.match(metricsA, /^timemesh_tsq_server_requests_total\{outcome="datagram"\} [1-9]/m);
      assert.match(
        metricsB,
        /^timemesh_tsq_client_exchanges_total\{server="[^"]+",outcome="sample"\} [1-9]/m,
      );
    } finally {
      for (const p of procs) p.child.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    }
  });
});
