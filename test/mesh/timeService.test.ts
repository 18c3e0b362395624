/**
 * Real libp2p nodes over TCP on loopback, in one process, each with its own oscillator offset
 * (the documented testing aid), running the real TimeService and NodeCore. One node is a local
 * stratum-8 reference. Timing in one process is noisier than in separate daemons (one event loop
 * serves every node), so the tolerances here are about correctness, not accuracy.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { lpStream } from '@libp2p/utils';
import { createMeshNode } from '../../mesh/meshNode.ts';
import type { MeshLibp2p } from '../../mesh/meshNode.ts';
import { SAMPLE_PROTOCOL_ID as SAMPLE_PROTOCOL } from '../../mesh/sampleProtocol.ts';
import { TimeService } from '../../mesh/timeService.ts';
import { createSigner } from '../../mesh/signing.ts';
import { hostOscillator } from '../../node/localClock.ts';

const OFFSETS_MS = [0, 400, -350, 150, -500];
const DRIFTS_PPM = [0, 20, -30, 10, -5];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface TestNode {
  libp2p: MeshLibp2p;
  svc: TimeService;
}

describe('TimeService over real libp2p on loopback', () => {
  const nodes: TestNode[] = [];

  before(async () => {
    let boot: string | null = null;
    for (let i = 0; i < OFFSETS_MS.length; i++) {
      const key = await generateKeyPair('Ed25519');
      const libp2p = await createMeshNode({
        privateKey: key,
        network: 'test',
        discoveryIntervalMs: 1000,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: boot === null ? [] : [boot],
      });
      boot ??= libp2p.getMultiaddrs()[0]!.toString();
      const svc = new TimeService({
        libp2p,
        clock: hostOscillator({ offsetNs: OFFSETS_MS[i]! * 1e6, driftPpm: DRIFTS_PPM[i]! }),
        signer: createSigner(key, peerIdFromPrivateKey(key).toString()),
        network: 'test',
        core: {
          minPollS: 1,
          maxPollS: 2,
          burstIntervalS: 1,
          announceIntervalS: 2,
          // Followers trust their sources fully (f = 0): with derived f = 1 a lone reference can
          // only pull them to the edge of the trimmed range (see README, "What f a mesh tolerates").
          ...(i === 0 ? { localStratum: 8 } : { faultTolerance: 0 }),
        },
      });
      await svc.start();
      nodes.push({ libp2p, svc });
    }
    // Converged: every node within 5 ms of the reference (the test asserts 10 ms). Usually 10–15 s;
    // the deadline leaves room for a loaded machine (CI runs test files in parallel).
    const converged = (): boolean => {
      const ref = nodes[0]!.svc.read();
      return nodes.every((n) => {
        const r = n.svc.read();
        return r.status !== 'unsynchronized' && Math.abs(Number(r.estimateNs - ref.estimateNs)) < 5e6;
      });
    };
    await sleep(10_000);
    for (let waitedMs = 0; !converged() && waitedMs < 35_000; waitedMs += 500) await sleep(500);
  });

  after(async () => {
    for (const n of nodes) {
      await n.svc.stop();
      await n.libp2p.stop();
    }
  });

  it('measures every peer with signed, verified exchanges', () => {
    for (const { svc } of nodes) {
      const ok = svc.counters.samplesByOutcome.ok ?? 0;
      assert.ok(ok >= 5, `only ${ok} verified samples: ${JSON.stringify(svc.counters.samplesByOutcome)}`);
      assert.equal(svc.counters.samplesByOutcome['bad-signature'] ?? 0, 0);
      assert.equal(svc.counters.samplesByOutcome['nonce-mismatch'] ?? 0, 0);
    }
    // Peer discovery spreads addresses: every node ends up measuring more than the bootstrap node.
    for (const { svc } of nodes.slice(1)) {
      const sources = svc.core
        .snapshot(0n)
        .sources.filter((s) => s.kind === 'peer' && s.lastSampleLocalNs !== null);
      assert.ok(sources.length >= 3, `node measured ${sources.length} peers`);
    }
  });

  it('brings clocks that started up to ±500 ms apart into agreement with the reference', () => {
    const readings = nodes.map((n) => n.svc.read());
    const reference = readings[0]!;
    assert.equal(reference.status, 'anchored');
    for (const [i, r] of readings.entries()) {
      assert.notEqual(r.status, 'unsynchronized', `node ${i} is unsynchronized`);
      const offMs = Number(r.estimateNs - reference.estimateNs) / 1e6;
      assert.ok(Math.abs(offMs) < 10, `node ${i} is ${offMs} ms from the reference`);
      // Its interval contains the reference's time (read within microseconds of each other).
      assert.ok(
        r.earliestNs - 5_000_000n <= reference.estimateNs && reference.estimateNs <= r.latestNs + 5_000_000n,
        `node ${i}'s interval misses the reference`,
      );
    }
  });

  it('accepts announcements from every peer and rejects none', () => {
    for (const { svc } of nodes) {
      assert.ok((svc.counters.gossipByOutcome.accept ?? 0) > 0);
      assert.equal(svc.counters.gossipByOutcome['wrong-sender'] ?? 0, 0);
      assert.equal(svc.counters.gossipByOutcome.malformed ?? 0, 0);
    }
  });

  it('counts a malformed sample request, drops it, and keeps serving', async () => {
    const [target, hostile] = [nodes[0]!, nodes[1]!];
    const before = target.svc.counters.inboundRequests.malformed;
    const stream = await hostile.libp2p.dialProtocol(target.libp2p.peerId, SAMPLE_PROTOCOL);
    const lp = lpStream(stream);
    await lp.write(new Uint8Array([0xc1, 0xff, 0x00, 0x13]));
    await assert.rejects(lp.read({ signal: AbortSignal.timeout(2000) }));
    await sleep(100);
    assert.equal(target.svc.counters.inboundRequests.malformed, before + 1);
    const served = target.svc.counters.inboundRequests.served;
    await sleep(2500);
    assert.ok(target.svc.counters.inboundRequests.served > served, 'still serving honest peers');
  });
});
