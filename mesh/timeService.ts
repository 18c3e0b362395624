/**
 * The daemon's driver of the node core over libp2p: the only place where the sans-IO NodeCore meets
 * timers, streams and gossip. It carries out the core's actions and feeds it what happens:
 *
 *   startExchange        → dial /timemesh/sample/1.0.0, send a 16-byte nonce (T1 just before),
 *                          read the signed response (T4 on arrival), verify nonce, peer and signature,
 *                          then handleExchangeCompleted — or handleExchangeFailed on any failure
 *   publishAnnouncement  → encode, publish on timemesh/<network>/v1 (gossipsub signs it)
 *   wakeAt               → one timer, re-armed on every action list
 *   inbound request      → T2 on arrival, serveSample, T3 just before signing, reply; rate-limited per peer
 *   gossip message       → topic validator (reject/ignore/accept, counted), then handleAnnouncement
 *   peer:connect         → handlePeerDiscovered
 *
 * T3 is taken just before signing, so the signing time (tens of µs) travels as return-path delay:
 * it widens δ a little and biases θ by half of it; it never breaks the correctness interval.
 */
import { randomBytes } from 'node:crypto';
import type { Connection, Stream } from '@libp2p/interface';
import { TopicValidatorResult } from '@libp2p/gossipsub';
import { peerIdFromString } from '@libp2p/peer-id';
import { lpStream } from '@libp2p/utils';
import { NodeCore } from '../node/core/nodeCore.ts';
import type { NodeSnapshot } from '../node/core/nodeCore.ts';
import type { HlcTimestamp } from '../hlc/hlc.ts';
import type { NodeCoreConfig } from '../node/core/config.ts';
import type { Announcement, NodeAction, ReferenceSample, ServedTime } from '../node/core/types.ts';
import type { LocalClock } from '../node/localClock.ts';
import { AnnouncementValidator } from './gossipValidator.ts';
import { announcementTopic, encodeAnnouncement } from './announcementCodec.ts';
import type { MeshLibp2p } from './meshNode.ts';
import { PeerDialer } from './peerDialer.ts';
import { ReceiptLedger, publishableReceipts } from './receiptLedger.ts';
import {
  SAMPLE_PROTOCOL_ID,
  SAMPLE_REQUEST_MAX_BYTES,
  SAMPLE_RESPONSE_MAX_BYTES,
  decodeSampleRequest,
  decodeSampleResponse,
  encodeSampleRequest,
  signSampleResponse,
  verifySampleResponse,
} from './sampleProtocol.ts';
import { SignatureVerifier } from './signing.ts';
import type { Signer } from './signing.ts';

const RECEIPTS_PER_ANNOUNCEMENT = 4;

export interface TimeServiceOptions {
  libp2p: MeshLibp2p;
  clock: LocalClock;
  signer: Signer;
  network: string;
  core?: Partial<Omit<NodeCoreConfig, 'nodeId'>>;
  restored?: { hlcHighWaterNs?: bigint; frequencyPpm?: number; announcementSeq?: number };
  /** Inbound sample requests allowed per peer per second (token bucket, burst twice that). */
  inboundRequestsPerSecond?: number;
  /** Connections the peer dialer keeps open (mesh/peerDialer.ts; default 12, 0: dial nobody). */
  targetPeers?: number;
  /** Called with what must be durable (HLC mark, frequency); resolve once written. */
  persist?: (state: {
    hlcHighWaterNs: bigint;
    frequencyPpm: number;
    announcementSeq: number;
  }) => Promise<void>;
  log?: (level: 'debug' | 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

/** Counts by outcome, for /metrics. */
export interface ServiceCounters {
  samplesByOutcome: Record<string, number>;
  inboundRequests: Record<'served' | 'rate-limited' | 'malformed' | 'failed', number>;
  gossipByOutcome: Record<string, number>;
}

interface Bucket {
  tokens: number;
  lastMs: number;
}

export class TimeService {
  readonly core: NodeCore;
  readonly counters: ServiceCounters = {
    samplesByOutcome: {},
    inboundRequests: { served: 0, 'rate-limited': 0, malformed: 0, failed: 0 },
    gossipByOutcome: {},
  };
  private readonly o: TimeServiceOptions;
  private readonly verifier = new SignatureVerifier();
  private readonly receiptLedger = new ReceiptLedger(this.verifier);
  private readonly validator: AnnouncementValidator;
  private readonly buckets = new Map<string, Bucket>();
  /** The last receipts, with the responder's T3 and our raw local time when they arrived. */
  private readonly receipts: { bytes: Uint8Array; t3PeerNs: bigint; localNs: bigint }[] = [];
  private readonly topic: string;
  private timer: NodeJS.Timeout | null = null;
  private dialer: PeerDialer | null = null;
  private hlcMarkConfirmed = false;
  private stopped = true;
  private seq: number;

  constructor(options: TimeServiceOptions) {
    this.o = options;
    this.topic = announcementTopic(options.network);
    this.seq = options.restored?.announcementSeq ?? 0;
    const rng = { next: (): number => randomBytes(4).readUInt32BE(0) / 4294967296 };
    this.core = new NodeCore(
      { ...options.core, nodeId: options.signer.peerId, hlcPersistence: options.persist !== undefined },
      { rng, ...(options.restored !== undefined ? { restored: options.restored } : {}) },
    );
    // Receipts are inspected one by one and claimed only when the whole announcement is accepted.
    const claims = new Map<Uint8Array, string>();
    this.validator = new AnnouncementValidator({
      receiptCheck: (bytes, publisherId, index) => {
        if (index === 0) claims.clear(); // a new announcement: forget a refused one's receipts
        const r = this.core.read(this.o.clock.nowNs());
        const verdict = this.receiptLedger.inspect(
          bytes,
          publisherId,
          r.status === 'unsynchronized' ? null : r.estimateNs,
        );
        if ('problem' in verdict) return verdict.problem;
        claims.set(bytes, verdict.key);
        return true;
      },
      receiptsAccepted: (receipts, publisherId) => {
        for (const bytes of receipts) {
          const key = claims.get(bytes);
          if (key !== undefined) this.receiptLedger.claim(key, publisherId);
        }
        claims.clear();
      },
    });
  }

  async start(): Promise<void> {
    const { libp2p } = this.o;
    this.stopped = false;
    if ((this.o.targetPeers ?? 12) > 0) {
      this.dialer = new PeerDialer(libp2p, { targetPeers: this.o.targetPeers ?? 12 });
      this.dialer.start();
    }
    await libp2p.handle(SAMPLE_PROTOCOL_ID, (stream, connection) => this.serve(stream, connection), {
      maxInboundStreams: 64,
    });
    libp2p.addEventListener('peer:connect', (e) => this.core.handlePeerDiscovered(e.detail.toString()));
    for (const peer of libp2p.getPeers()) this.core.handlePeerDiscovered(peer.toString());
    const pubsub = libp2p.services.pubsub;
    // The validator's first argument is the peer that forwarded the message; the publisher is the
    // signed message's `from` (StrictSign guarantees a signed message).
    pubsub.topicValidators.set(this.topic, (_forwarder, msg) =>
      msg.type === 'signed'
        ? this.validateGossip(msg.from.toString(), msg.data)
        : TopicValidatorResult.Reject,
    );
    pubsub.addEventListener('message', (e) => {
      if (e.detail.topic !== this.topic) return;
      const accepted = this.lastAccepted.get(e.detail.data);
      if (accepted !== undefined) this.core.handleAnnouncement(accepted, this.o.clock.nowNs());
    });
    pubsub.subscribe(this.topic);
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.dialer?.stop();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.o.libp2p.unhandle(SAMPLE_PROTOCOL_ID);
    this.o.libp2p.services.pubsub.unsubscribe(this.topic);
  }

  // ---- actions --------------------------------------------------------------------------------

  private tick(): void {
    if (this.stopped) return;
    this.act(this.core.handleTick(this.o.clock.nowNs()));
  }

  private act(actions: NodeAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'startExchange':
          void this.exchange(a.peerId, a.exchangeId, a.timeoutNs);
          break;
        case 'publishAnnouncement':
          void this.announce(a.announcement);
          break;
        case 'wakeAt':
          this.arm(a.localNs);
          break;
        case 'persistState':
          void this.persist(a.hlcHighWaterNs, a.frequencyPpm);
          break;
        case 'clockCorrection':
          this.o.log?.('debug', 'clock correction', {
            kind: a.kind,
            correctionNs: a.correctionNs,
            frequencyPpm: a.frequencyPpm,
          });
          break;
      }
    }
  }

  private arm(wakeLocalNs: bigint): void {
    if (this.stopped) return;
    if (this.timer !== null) clearTimeout(this.timer);
    const delayMs = Math.max(0, Math.min(60_000, Number(wakeLocalNs - this.o.clock.nowNs()) / 1e6));
    this.timer = setTimeout(() => this.tick(), Math.ceil(delayMs));
  }

  private count(map: Record<string, number>, key: string): void {
    map[key] = (map[key] ?? 0) + 1;
  }

  private async exchange(peerId: string, exchangeId: number, timeoutNs: number): Promise<void> {
    const { libp2p, clock } = this.o;
    const signal = AbortSignal.timeout(Math.max(1, Math.round(timeoutNs / 1e6)));
    let outcome = 'ok';
    try {
      const stream = await libp2p.dialProtocol(peerIdFromString(peerId), SAMPLE_PROTOCOL_ID, { signal });
      const lp = lpStream(stream, { maxDataLength: SAMPLE_RESPONSE_MAX_BYTES });
      const nonce = new Uint8Array(randomBytes(16));
      const request = encodeSampleRequest(nonce);
      const t1LocalNs = clock.nowNs();
      await lp.write(request, { signal });
      const reply = await lp.read({ signal });
      const t4LocalNs = clock.nowNs();
      await stream.close({ signal }).catch(() => undefined);
      const bytes = reply.subarray();
      const decoded = decodeSampleResponse(bytes);
      if (!decoded.ok) {
        outcome = `malformed:${decoded.error.reason}`;
      } else {
        const check = verifySampleResponse(decoded.response, nonce, peerId, this.verifier);
        if (!check.ok) {
          outcome = check.reason;
        } else {
          this.keepReceipt(bytes, decoded.response.t3PeerNs, t4LocalNs);
          this.count(this.counters.samplesByOutcome, outcome);
          if (!this.stopped) {
            this.act(
              this.core.handleExchangeCompleted({
                exchangeId,
                peerId,
                t1LocalNs,
                t4LocalNs,
                response: decoded.response,
              }),
            );
          }
          return;
        }
      }
    } catch (err) {
      outcome = signal.aborted ? 'timeout' : 'unreachable';
      this.o.log?.('debug', 'sample exchange failed', { peerId, error: (err as Error).message });
    }
    this.count(this.counters.samplesByOutcome, outcome);
    if (!this.stopped) this.act(this.core.handleExchangeFailed(exchangeId, clock.nowNs()));
  }

  private keepReceipt(bytes: Uint8Array, t3PeerNs: bigint, localNs: bigint): void {
    this.receipts.push({ bytes: bytes.slice(), t3PeerNs, localNs });
    if (this.receipts.length > RECEIPTS_PER_ANNOUNCEMENT) this.receipts.shift();
  }

  private async announce(a: Announcement): Promise<void> {
    this.seq++;
    const localNs = this.o.clock.nowNs();
    const reading = this.core.read(localNs);
    const data = encodeAnnouncement({
      ...a,
      seq: this.seq,
      sentAtNs: reading.estimateNs,
      receipts: publishableReceipts(
        this.receipts,
        localNs,
        reading.status === 'unsynchronized' ? null : reading.estimateNs,
      ),
    });
    try {
      await this.o.libp2p.services.pubsub.publish(this.topic, data);
      this.count(this.counters.gossipByOutcome, 'published');
    } catch (err) {
      this.count(this.counters.gossipByOutcome, 'publish-failed');
      this.o.log?.('debug', 'publish failed', { error: (err as Error).message });
    }
  }

  private async persist(hlcHighWaterNs: bigint, frequencyPpm: number): Promise<void> {
    if (this.o.persist === undefined) {
      this.core.confirmPersisted(hlcHighWaterNs);
      this.hlcMarkConfirmed = true;
      return;
    }
    try {
      await this.o.persist({ hlcHighWaterNs, frequencyPpm, announcementSeq: this.seq + 1000 });
      this.core.confirmPersisted(hlcHighWaterNs);
      this.hlcMarkConfirmed = true;
    } catch (err) {
      this.o.log?.('warn', 'could not persist the HLC high-water mark; HLC issue will stall', {
        error: (err as Error).message,
      });
    }
  }

  // ---- inbound --------------------------------------------------------------------------------

  private async serve(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString();
    if (!this.allow(peer)) {
      this.counters.inboundRequests['rate-limited']++;
      stream.abort(new Error('rate limited'));
      return;
    }
    try {
      const lp = lpStream(stream, { maxDataLength: SAMPLE_REQUEST_MAX_BYTES });
      const signal = AbortSignal.timeout(2000);
      const request = await lp.read({ signal });
      const t2LocalNs = this.o.clock.nowNs();
      const decoded = decodeSampleRequest(request.subarray());
      if (!decoded.ok) {
        this.counters.inboundRequests.malformed++;
        stream.abort(new Error(decoded.error.message));
        return;
      }
      const served = this.core.serveSample(t2LocalNs, this.o.clock.nowNs());
      if (served === null) {
        this.counters.inboundRequests.failed++;
        stream.abort(new Error('not ready'));
        return;
      }
      await lp.write(signSampleResponse(served, decoded.nonce, this.o.signer), { signal });
      await stream.close({ signal }).catch(() => undefined);
      this.counters.inboundRequests.served++;
    } catch {
      this.counters.inboundRequests.failed++;
      stream.abort(new Error('sample request failed'));
    }
  }

  /** Token bucket per peer: `inboundRequestsPerSecond`, burst of twice that. */
  private allow(peer: string): boolean {
    const rate = this.o.inboundRequestsPerSecond ?? 10;
    const nowMs = performance.now();
    // Least recently used first (a Map iterates in insertion order): a flood of new peer ids evicts
    // idle peers, whose buckets would have refilled anyway, never the busy ones being limited.
    let b = this.buckets.get(peer);
    if (b !== undefined) {
      this.buckets.delete(peer);
    } else {
      if (this.buckets.size >= 10_000) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: 2 * rate, lastMs: nowMs };
    }
    this.buckets.set(peer, b);
    b.tokens = Math.min(2 * rate, b.tokens + ((nowMs - b.lastMs) / 1000) * rate);
    b.lastMs = nowMs;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private readonly lastAccepted = new WeakMap<Uint8Array, Announcement>();

  private validateGossip(from: string, data: Uint8Array): TopicValidatorResult {
    const localNs = this.o.clock.nowNs();
    const r = this.core.read(localNs);
    const verdict = this.validator.validate({
      data,
      fromPeerId: from,
      receivedLocalNs: localNs,
      nowEstimate: {
        bestNs: r.estimateNs,
        latestNs: r.latestNs,
        synchronized: r.status !== 'unsynchronized',
      },
    });
    this.count(this.counters.gossipByOutcome, verdict.reason ?? verdict.result);
    if (verdict.result === 'accept' && verdict.announcement !== undefined) {
      this.lastAccepted.set(data, verdict.announcement);
      return TopicValidatorResult.Accept;
    }
    return verdict.result === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore;
  }

  /** What an NTP or TSQ server answers for the raw local instant `localNs` (see localNowNs). */
  serveTime(localNs: bigint): ServedTime {
    return this.core.serveTime(localNs);
  }

  /**
   * A sample from a reference clock or an upstream server (NTP, TSQ, GPS). `localNs` must come from
   * this service's clock (localNowNs), the same oscillator the core disciplines.
   */
  addReferenceSample(sample: ReferenceSample): void {
    if (this.stopped) return;
    this.act(this.core.handleReferenceSample(sample));
  }

  /** True once the HLC can issue timestamps (its first high-water mark is on disk, when persisting). */
  hlcReady(): boolean {
    return this.o.persist === undefined || this.hlcMarkConfirmed;
  }

  /** The node's clock reading (best, estimate, interval, status) at raw local `localNs` (default: now). */
  read(localNs: bigint = this.o.clock.nowNs()): ReturnType<NodeCore['read']> {
    return this.core.read(localNs);
  }

  /** A fresh HLC timestamp for an application event. */
  hlcNow(): HlcTimestamp {
    return this.core.hlcNow(this.o.clock.nowNs());
  }

  /** Merges an HLC an application received; far-future ones are rejected (and counted). */
  hlcObserve(remote: HlcTimestamp): ReturnType<NodeCore['hlcObserve']> {
    return this.core.hlcObserve(remote, this.o.clock.nowNs());
  }

  /** Everything /v1/status and /v1/peers show. */
  snapshot(): NodeSnapshot {
    return this.core.snapshot(this.o.clock.nowNs());
  }

  /** Raw local oscillator now (for converting the snapshot's local times to ages). */
  localNowNs(): bigint {
    return this.o.clock.nowNs();
  }
}
