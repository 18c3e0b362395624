/**
 * Real node processes on 127.0.0.1 (`timemesh start`), each with its own data dir and a different
 * `--clock-offset-ms` / `--clock-drift-ppm` (the documented testing aid); one bootstrap node that is
 * also a local stratum-8 reference. Checks agreement, containment, and restart monotonicity after
 * kill -9. Only loopback addresses are used.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHlc, compareHlc } from '../../hlc/index.ts';
import { getJson, startDaemon } from './daemonProcess.ts';
import type { DaemonProcess } from './daemonProcess.ts';

const OFFSETS_MS = [0, 480, -350, 200, -500];
const DRIFTS_PPM = [0, 25, -40, 10, -15];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A node's /v1/time with its best estimate relative to this (test) process's clock, and how uncertain
 * that comparison is: half the request's round trip, as in NTP. Comparing raw bestNs values taken by
 * concurrent requests would charge the nodes for however long each process took to be scheduled.
 */
async function timeVsHost(
  api: string,
): Promise<{ t: Record<string, unknown>; offsetNs: bigint; halfRttNs: bigint }> {
  const sentNs = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  const t0 = process.hrtime.bigint();
  const t = await getJson(`${api}/v1/time`);
  const rttNs = process.hrtime.bigint() - t0;
  const midNs = sentNs + rttNs / 2n;
  return { t, offsetNs: BigInt(t.bestNs as string) - midNs, halfRttNs: rttNs / 2n };
}

describe('five timemesh processes on loopback', () => {
  const procs: DaemonProcess[] = [];
  const dirs: string[] = [];

  before(async () => {
    for (let i = 0; i < OFFSETS_MS.length; i++) {
      const dir = await mkdtemp(join(tmpdir(), 'timemesh-test-'));
      dirs.push(dir);
      const args = [
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--api',
        '127.0.0.1:0',
        '--network',
        'proctest',
        // The = form: node's argument parser reads "-350" after a separate flag as another flag.
        `--clock-offset-ms=${OFFSETS_MS[i]}`,
        `--clock-drift-ppm=${DRIFTS_PPM[i]}`,
        // f = 0 on the followers: with four sources the derived f is 1, and BFT then (rightly) never
        // lets one source — this lone reference — decide the estimate. A small trusted mesh that wants
        // to follow its one reference, as chrony follows its one server, says so (README).
        ...(i === 0
          ? ['--local-stratum', '8']
          : ['--bootstrap', procs[0]!.multiaddr, '--fault-tolerance', '0']),
      ];
      procs.push(await startDaemon(args, dir));
    }
  });

  after(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await sleep(200);
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('agree within 1 ms of each other within 60 s, and each interval contains the others’ best', async () => {
    const deadline = Date.now() + 60_000;
    let spreadMs = Infinity;
    let views: Awaited<ReturnType<typeof timeVsHost>>[] = [];
    while (Date.now() < deadline) {
      await sleep(2000);
      // One at a time, each with its own round-trip bound.
      views = [];
      for (const p of procs) views.push(await timeVsHost(p.api));
      spreadMs = 0;
      for (const a of views) {
        for (const b of views) {
          const diff = a.offsetNs > b.offsetNs ? a.offsetNs - b.offsetNs : b.offsetNs - a.offsetNs;
          const excess = diff - a.halfRttNs - b.halfRttNs;
          spreadMs = Math.max(spreadMs, Number(excess > 0n ? excess : 0n) / 1e6);
        }
      }
      if (spreadMs < 1 && views.every((v) => v.t.status !== 'unsynchronized')) break;
    }
    assert.ok(spreadMs < 1, `clocks still ${spreadMs} ms apart (beyond the request round trips) after 60 s`);
    for (const [i, a] of views.entries()) {
      const lowNs = a.offsetNs - (BigInt(a.t.bestNs as string) - BigInt(a.t.earliestNs as string));
      const highNs = a.offsetNs + (BigInt(a.t.latestNs as string) - BigInt(a.t.bestNs as string));
      for (const [j, b] of views.entries()) {
        const slackNs = a.halfRttNs + b.halfRttNs;
        assert.ok(
          lowNs - slackNs <= b.offsetNs && b.offsetNs <= highNs + slackNs,
          `node ${i}'s interval misses node ${j}'s best`,
        );
      }
    }
    assert.equal(views[0]!.t.status, 'anchored');
  });

  it('forms a mesh beyond the bootstrap node, and /metrics carries libp2p metrics beside timemesh’s', async () => {
    // Every follower was given only the bootstrap node; the peer dialer connects it to the others it
    // hears of, so it measures more than the one peer it was told about.
    // Pubsub peer discovery announces every 10 s, so allow a few rounds.
    const deadline = Date.now() + 40_000;
    for (const p of procs.slice(1)) {
      let peers: unknown[] = [];
      while (peers.length < 3 && Date.now() < deadline) {
        peers = (await getJson(`${p.api}/v1/peers`)).peers as unknown[];
        if (peers.length < 3) await sleep(1000);
      }
      assert.ok(peers.length >= 3, `${p.api} knows ${peers.length} peers`);
    }
    const res = await fetch(`${procs[1]!.api}/metrics`, { signal: AbortSignal.timeout(2000) });
    const text = await res.text();
    assert.match(text, /^libp2p_transport_manager_listeners 1$/m);
    assert.match(text, /^libp2p_connection_manager_connections\{[^}]*\} [1-9]/m);
    assert.match(text, /^timemesh_/m);
  });

  it('after kill -9 a node rejoins and its first HLC exceeds every HLC it issued before', async () => {
    const victim = procs[2]!;
    const issued = [];
    for (let k = 0; k < 5; k++) issued.push((await getJson(`${victim.api}/v1/hlc`)).hlc as string);
    const last = issued.map((s) => {
      const p = parseHlc(s);
      assert.ok(p.ok);
      return p.value;
    });
    victim.child.kill('SIGKILL');
    await sleep(300);
    const restarted = await startDaemon(victim.args, victim.dataDir);
    procs[2] = restarted;
    // Not ready until its HLC has a new high-water mark on disk; it says so on /readyz.
    const readyBy = Date.now() + 20_000;
    while ((await fetch(`${restarted.api}/readyz`)).status !== 200) {
      assert.ok(Date.now() < readyBy, 'restarted node never became ready');
      await sleep(200);
    }
    const first = parseHlc((await getJson(`${restarted.api}/v1/hlc`)).hlc as string);
    assert.ok(first.ok);
    for (const h of last) assert.equal(compareHlc(first.value, h), 1, 'HLC went back after restart');
    // It rejoins: it measures peers again and ends up synchronized.
    const deadline = Date.now() + 30_000;
    let status = 'unsynchronized';
    while (Date.now() < deadline && status === 'unsynchronized') {
      await sleep(1000);
      status = (await getJson(`${restarted.api}/v1/time`)).status as string;
    }
    assert.notEqual(status, 'unsynchronized');
  });
});
