/**
 * A hostile peer speaking the real protocols over real libp2p on loopback. It sends malformed sample
 * requests, answers samples with forged signatures, and publishes malformed, oversize, wrong-sender,
 * far-future and replayed announcements. Each must be rejected and counted — visible on /metrics —
 * while the honest node stays healthy and keeps the time of its reference.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { lpStream } from '@libp2p/utils';
import {
  announcementTopic as gossipTopic,
  decodeAnnouncement,
  encodeAnnouncement,
} from '../../mesh/announcementCodec.ts';
import type { GossipAnnouncement } from '../../mesh/announcementCodec.ts';
import { createMeshNode } from '../../mesh/meshNode.ts';
import type { MeshLibp2p } from '../../mesh/meshNode.ts';
import {
  SAMPLE_PROTOCOL_ID as SAMPLE_PROTOCOL,
  decodeSampleRequest,
  signSampleResponse,
} from '../../mesh/sampleProtocol.ts';
import { createSigner } from '../../mesh/signing.ts';
import { TimeService } from '../../mesh/timeService.ts';
import { buildApi } from '../../node/api.ts';
import { hostOscillator } from '../../node/localClock.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const NETWORK = 'hostile';

async function identity(): Promise<{ key: Awaited<ReturnType<typeof generateKeyPair>>; id: string }> {
  const key = await generateKeyPair('Ed25519');
  return { key, id: peerIdFromPrivateKey(key).toString() };
}

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`) || l === `${name} ${labels}`);
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('a hostile peer against a running node', () => {
  const stops: (() => Promise<void>)[] = [];
  let reference: TimeService;
  let honest: TimeService;
  let honestLibp2p: MeshLibp2p;
  let hostile: MeshLibp2p;
  let hostileId: string;
  let referenceId: string;

  before(async () => {
    const refId = await identity();
    referenceId = refId.id;
    const refLibp2p = await createMeshNode({
      privateKey: refId.key,
      network: NETWORK,
      discoveryIntervalMs: 1000,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: [],
    });
    const boot = refLibp2p.getMultiaddrs()[0]!.toString();
    reference = new TimeService({
      libp2p: refLibp2p,
      clock: hostOscillator(),
      signer: createSigner(refId.key, refId.id),
      network: NETWORK,
      core: { localStratum: 8, minPollS: 1, maxPollS: 2, announceIntervalS: 1 },
    });
    await reference.start();

    const honestId = await identity();
    honestLibp2p = await createMeshNode({
      privateKey: honestId.key,
      network: NETWORK,
      discoveryIntervalMs: 1000,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: [boot],
    });
    honest = new TimeService({
      libp2p: honestLibp2p,
      clock: hostOscillator({ offsetNs: 300e6 }),
      signer: createSigner(honestId.key, honestId.id),
      network: NETWORK,
      core: { faultTolerance: 0, minPollS: 1, maxPollS: 2, burstIntervalS: 1, announceIntervalS: 1 },
    });
    await honest.start();

    // The hostile peer: a plain libp2p node on the same topic, answering samples with forged
    // signatures (signed by a key that is not its peer id).
    const bad = await identity();
    hostileId = bad.id;
    hostile = await createMeshNode({
      privateKey: bad.key,
      network: NETWORK,
      discoveryIntervalMs: 1000,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: [boot],
    });
    const forger = await identity();
    const forgedSigner = { peerId: hostileId, sign: createSigner(forger.key, forger.id).sign };
    await hostile.handle(SAMPLE_PROTOCOL, async (stream) => {
      const lp = lpStream(stream);
      const req = decodeSampleRequest((await lp.read()).subarray());
      if (!req.ok) return stream.abort(new Error('bad request'));
      const nowNs = BigInt(Date.now()) * 1_000_000n;
      const served = {
        t2PeerNs: nowNs,
        t3PeerNs: nowNs,
        earliestNs: nowNs - 1000n,
        latestNs: nowNs + 1000n,
        rootDistanceNs: 1000,
        anchorKind: 'gps' as const,
        stratum: 1,
        status: 'anchored' as const,
        hlc: { wallNs: nowNs, logical: 0, nodeId: hostileId },
      };
      await lp.write(signSampleResponse(served, req.nonce, forgedSigner));
      await stream.close();
    });
    hostile.services.pubsub.subscribe(gossipTopic(NETWORK));
    stops.push(
      async () => hostile.stop(),
      async () => {
        await honest.stop();
        await honestLibp2p.stop();
      },
      async () => {
        await reference.stop();
        await refLibp2p.stop();
      },
    );
    // Make sure the honest node knows the hostile one (discovery would get there too, more slowly).
    await honestLibp2p.dial(hostile.getMultiaddrs()[0]!);
    await sleep(6000);
  });

  after(async () => {
    for (const stop of stops) await stop();
  });

  it('rejects forged sample signatures and counts them', () => {
    assert.ok((honest.counters.samplesByOutcome['bad-signature'] ?? 0) > 0, JSON.stringify(honest.counters));
    const snap = honest.snapshot();
    const src = snap.sources.find((s) => s.id === hostileId);
    assert.ok(src === undefined || src.lastSampleLocalNs === null, 'a forged sample reached the core');
  });

  it('drops malformed sample requests and counts them', async () => {
    for (let i = 0; i < 3; i++) {
      const stream = await hostile.dialProtocol(honestLibp2p.peerId, SAMPLE_PROTOCOL);
      const lp = lpStream(stream);
      await lp.write(new Uint8Array([0x82, 0xa1, 0x76, 0x07, 0xa1]));
      await assert.rejects(lp.read({ signal: AbortSignal.timeout(2000) }));
    }
    assert.ok(honest.counters.inboundRequests.malformed >= 3);
  });

  it('rejects malformed, oversize, wrong-sender and far-future gossip, ignores replays', async () => {
    const topic = gossipTopic(NETWORK);
    const pubsub = hostile.services.pubsub;
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const base: GossipAnnouncement = {
      nodeId: hostileId,
      hlc: { wallNs: nowNs, logical: 0, nodeId: hostileId },
      bestNs: nowNs,
      earliestNs: nowNs - 1000n,
      latestNs: nowNs + 1000n,
      rootDistanceNs: 1000,
      anchorKind: 'gps',
      stratum: 1,
      status: 'anchored',
      seq: 10,
      sentAtNs: nowNs,
      receipts: [],
    };
    const send = async (data: Uint8Array): Promise<void> => {
      await pubsub.publish(topic, data).catch(() => undefined);
      await sleep(300);
    };
    await send(new Uint8Array([0xc1, 0xc1, 0xc1]));
    await send(new Uint8Array(12_000).fill(0x90));
    const other = await identity();
    await send(encodeAnnouncement({ ...base, nodeId: other.id, hlc: { ...base.hlc, nodeId: other.id } }));
    const hourNs = 3_600_000_000_000n;
    await send(encodeAnnouncement({ ...base, seq: 11, hlc: { ...base.hlc, wallNs: nowNs + hourNs } }));
    await send(encodeAnnouncement({ ...base, seq: 20 }));
    await send(encodeAnnouncement({ ...base, seq: 20, sentAtNs: nowNs + 1n }));
    await sleep(500);
    const g = honest.counters.gossipByOutcome;
    assert.ok((g.malformed ?? 0) >= 1, JSON.stringify(g));
    assert.ok((g['wrong-sender'] ?? 0) >= 1, JSON.stringify(g));
    assert.ok((g.future ?? 0) >= 1, JSON.stringify(g));
    assert.ok((g.replay ?? 0) >= 1, JSON.stringify(g));
  });

  it('refuses receipts copied from another node’s announcement (third-party replay)', async () => {
    const topic = gossipTopic(NETWORK);
    const pubsub = hostile.services.pubsub;
    // Listen to the reference's announcements, as any mesh member can, and take one of its receipts.
    const stolen = await new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reference announcement with receipts')), 15_000);
      const onMessage = (e: CustomEvent<{ topic: string; data: Uint8Array }>): void => {
        if (e.detail.topic !== topic) return;
        const d = decodeAnnouncement(e.detail.data);
        if (!d.ok || d.announcement.nodeId !== referenceId || d.announcement.receipts.length === 0) return;
        clearTimeout(timer);
        pubsub.removeEventListener('message', onMessage as never);
        resolve(d.announcement.receipts[0]!);
      };
      pubsub.addEventListener('message', onMessage as never);
    });
    const before = honest.counters.gossipByOutcome['bad-receipt'] ?? 0;
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    await pubsub
      .publish(
        topic,
        encodeAnnouncement({
          nodeId: hostileId,
          hlc: { wallNs: nowNs, logical: 0, nodeId: hostileId },
          bestNs: nowNs,
          earliestNs: nowNs - 1_000_000n,
          latestNs: nowNs + 1_000_000n,
          rootDistanceNs: 1_000_000,
          anchorKind: 'none',
          stratum: 9,
          status: 'synchronized',
          seq: 1000,
          sentAtNs: nowNs,
          receipts: [stolen],
        }),
      )
      .catch(() => undefined);
    await sleep(800);
    assert.equal(
      (honest.counters.gossipByOutcome['bad-receipt'] ?? 0) - before,
      1,
      JSON.stringify(honest.counters.gossipByOutcome),
    );
  });

  it('shows the rejections on /metrics, stays healthy, and keeps its reference’s time', async () => {
    const api = buildApi(honest, {
      peerId: honestLibp2p.peerId.toString(),
      multiaddrs: () => honestLibp2p.getMultiaddrs().map(String),
      ready: () => true,
      logger: false,
    });
    const text = (await api.inject({ method: 'GET', url: '/metrics' })).body;
    assert.ok(metric(text, 'timemesh_samples_total', 'outcome="bad-signature"') > 0);
    assert.ok(
      metric(text, 'timemesh_rejected_messages_total', 'channel="sample-request",reason="malformed"') >= 3,
    );
    assert.ok(metric(text, 'timemesh_rejected_messages_total', 'channel="gossip",reason="malformed"') >= 1);
    assert.ok(metric(text, 'timemesh_rejected_messages_total', 'channel="gossip",reason="future"') >= 1);
    assert.ok(metric(text, 'timemesh_rejected_messages_total', 'channel="gossip",reason="bad-receipt"') >= 1);
    assert.equal((await api.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    await api.close();
    const offMs = Number(honest.read().estimateNs - reference.read().estimateNs) / 1e6;
    assert.ok(Math.abs(offMs) < 5, `honest node is ${offMs} ms from its reference`);
    assert.notEqual(honest.read().status, 'unsynchronized');
  });
});
