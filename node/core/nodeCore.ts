/**
 * The node's decision logic as a sans-IO state machine. The real node (node/, mesh/, refclock/) and the
 * simulator (sim/) are its only drivers; both call the same `handle*` methods with explicit local times
 * and carry out the actions returned. Nothing here reads a clock, sets a timer or touches a socket.
 *
 * A poll round: measure k selected peers (startExchange actions); when every exchange has completed or
 * the round's deadline passes, combine. Combination, per round:
 *   M = BFT combination of the peers (Marzullo intersection over n − f, trimmed estimate, bft/combine.ts)
 *   R = combination of this node's own references (GPS, PPS, NTP, TSQ), if any, by majority: up to
 *       ⌊(n − 1)/2⌋ of them may be falsetickers (bft/faultTolerance.ts, majorityFaultToleranceFor),
 *       so one liar among three servers is outvoted and marked, as NTP and chrony do
 *   - R and M overlap, or M is not anchored  → use R (∩ M when they overlap): a local reference beats
 *     a free-running mesh, and the intersection of two intervals that both contain truth still does;
 *   - R and M disjoint and M anchored        → the references are falsetickers; use M
 *     (this is how a GPS that jumps by a second is caught when other anchors exist);
 *   - no R                                   → use M, or do not update when M has no quorum.
 * A node whose own reference lies by less than M's width cannot tell; it is then one of the f faulty
 * nodes the rest of the mesh tolerates.
 */
import { ClockFilter, combine, faultToleranceFor, majorityFaultToleranceFor } from '../../bft/index.ts';
import type { FilteredEstimate } from '../../bft/index.ts';
import type { CombineResult, SourceEstimate } from '../../bft/types.ts';
import { DisciplinedClock } from '../../hlc/disciplinedClock.ts';
import type { ClockReading } from '../../hlc/disciplinedClock.ts';
import { HybridLogicalClock } from '../../hlc/hlc.ts';
import { HlcExhaustedError } from '../../hlc/hlcErrors.ts';
import type { HlcTimestamp } from '../../hlc/hlc.ts';
import type { AnchorKind } from '../../hlc/timeTypes.ts';
import { UNBOUNDED_NS } from '../../hlc/timeTypes.ts';
import type { NodeCoreConfig } from './config.ts';
import { resolveCoreConfig } from './config.ts';
import { evaluateExchange } from './exchange.ts';
import { fillSelection } from './peerSelection.ts';
import type {
  Announcement,
  CompletedExchange,
  CoreCounters,
  ExchangeRejection,
  NodeAction,
  ReferenceSample,
  Rng,
  RoundOutcome,
  ServedSample,
  ServedTime,
  SourceSnapshot,
} from './types.ts';

const UNSYNCHRONIZED_STRATUM = 16;
/** How soon to retry an announcement that had to wait for a persisted HLC high-water mark. */
const HLC_RETRY_NS = 100_000_000n;

interface SourceState {
  id: string;
  kind: 'peer' | 'reference';
  filter: ClockFilter;
  anchored: boolean;
  anchorKind: AnchorKind;
  stratum: number;
  rootDistanceNs: number | null;
  lastSampleLocalNs: bigint | null;
  lastEstimate: SourceEstimate | null;
  lastJitterNs: number | null;
  lastDelayNs: number | null;
  reach: number;
  strikes: number;
  falseticker: boolean;
  excludedUntilLocalNs: bigint | null;
  excludedReason: string | null;
}

interface KnownPeer {
  id: string;
  rootDistanceNs: number;
  stratum: number;
  lastSeenLocalNs: bigint | null;
}

export interface NodeCoreOptions {
  rng: Rng;
  /** State read back after a restart: the HLC high-water mark and the last frequency estimate. */
  restored?: { hlcHighWaterNs?: bigint; frequencyPpm?: number };
}

export interface NodeSnapshot {
  nodeId: string;
  reading: ClockReading;
  hlc: HlcTimestamp;
  pollIntervalS: number;
  stratum: number;
  anchorKind: AnchorKind;
  frequencyPpm: number;
  lastRound: RoundOutcome | null;
  sources: SourceSnapshot[];
  counters: CoreCounters;
}

export class NodeCore {
  readonly config: NodeCoreConfig;
  readonly hlc: HybridLogicalClock;
  private readonly clock: DisciplinedClock;
  private readonly rng: Rng;
  private readonly sources = new Map<string, SourceState>();
  private readonly known = new Map<string, KnownPeer>();
  private readonly selected = new Set<string>();
  private readonly exchanges = new Map<number, string>();
  private nextExchangeId = 1;
  private roundDeadlineLocalNs: bigint | null = null;
  private roundNumber = 0;
  private pollS: number;
  private goodRounds = 0;
  private burstLeft: number;
  private nextPollLocalNs: bigint | null = null;
  private nextAnnounceLocalNs: bigint | null = null;
  private lastOutcome: RoundOutcome | null = null;
  private latestLocalNs = 0n;
  private anchorKind: AnchorKind = 'none';
  private stratum = UNSYNCHRONIZED_STRATUM;
  readonly counters: CoreCounters = {
    exchangesStarted: 0,
    exchangesCompleted: 0,
    exchangesFailed: 0,
    exchangesRejected: {
      'negative-delay': 0,
      'responder-time-reversed': 0,
      'bad-interval': 0,
      'offset-too-large': 0,
      'unknown-exchange': 0,
      'hlc-max-offset': 0,
    },
    rounds: 0,
    noQuorumRounds: 0,
    falsetickerMarks: 0,
    referenceFalsetickerMarks: 0,
    announcementsPublished: 0,
    announcementsReceived: 0,
    hlcRejections: 0,
    steps: 0,
    slews: 0,
  };

  constructor(config: Partial<NodeCoreConfig> & { nodeId: string }, options: NodeCoreOptions) {
    this.config = resolveCoreConfig(config);
    const c = this.config;
    this.rng = options.rng;
    this.clock = new DisciplinedClock(
      {
        maxDriftPpm: c.maxDriftPpm,
        maxFrequencyErrorPpm: c.maxFrequencyErrorPpm,
        stepThresholdNs: c.stepThresholdNs,
        maxSlewPpm: c.maxSlewPpm,
        holdoverAfterNs: c.holdoverAfterS * 1e9,
      },
      { frequencyPpm: options.restored?.frequencyPpm ?? 0 },
    );
    this.hlc = new HybridLogicalClock({
      nodeId: c.nodeId,
      maxOffsetNs: BigInt(Math.round(c.hlcMaxOffsetNs)),
      persistence: c.hlcPersistence,
      ...(options.restored?.hlcHighWaterNs !== undefined
        ? { restoredHighWaterNs: options.restored.hlcHighWaterNs }
        : {}),
    });
    this.pollS = c.minPollS;
    this.burstLeft = c.burstRounds;
  }

  // ---- inputs -------------------------------------------------------------------------------------

  /** Makes a peer known (bootstrap list, a new connection). */
  handlePeerDiscovered(peerId: string): void {
    if (peerId === this.config.nodeId || this.known.has(peerId)) return;
    this.known.set(peerId, {
      id: peerId,
      rootDistanceNs: Number.MAX_VALUE,
      stratum: 16,
      lastSeenLocalNs: null,
    });
  }

  /** Forgets a peer (left the roster, or the driver gave up on it). Its samples age out normally. */
  handlePeerLost(peerId: string): void {
    this.known.delete(peerId);
    this.selected.delete(peerId);
  }

  handleTick(tickLocalNs: bigint): NodeAction[] {
    const localNs = this.seen(tickLocalNs);
    const actions: NodeAction[] = [];
    if (this.roundDeadlineLocalNs !== null && localNs >= this.roundDeadlineLocalNs) {
      this.finishRound(localNs, actions);
    }
    if (
      this.roundDeadlineLocalNs === null &&
      (this.nextPollLocalNs === null || localNs >= this.nextPollLocalNs)
    ) {
      this.startRound(localNs, actions);
    }
    // Persist first: with a persisted high-water mark the HLC cannot issue a timestamp until the
    // driver has confirmed a bound, so a fresh node announces on a later tick, not this one.
    this.maybePersist(localNs, actions);
    if (this.nextAnnounceLocalNs === null || localNs >= this.nextAnnounceLocalNs) {
      const announcement = this.announce(localNs);
      if (announcement !== null) {
        actions.push({ type: 'publishAnnouncement', announcement });
        this.nextAnnounceLocalNs = localNs + secondsToNs(this.config.announceIntervalS);
      }
    }
    let wake = this.nextWakeLocalNs();
    const announcementPending = this.nextAnnounceLocalNs === null || this.nextAnnounceLocalNs <= localNs;
    if (wake <= localNs || (announcementPending && wake > localNs + HLC_RETRY_NS))
      wake = localNs + HLC_RETRY_NS;
    actions.push({ type: 'wakeAt', localNs: wake });
    return actions;
  }

  handleExchangeCompleted(x: CompletedExchange): NodeAction[] {
    const peerId = this.exchanges.get(x.exchangeId);
    if (peerId === undefined || peerId !== x.peerId) {
      this.counters.exchangesRejected['unknown-exchange']++;
      return [];
    }
    this.exchanges.delete(x.exchangeId);
    const actions: NodeAction[] = [];
    const rejection = this.acceptExchange(x);
    if (rejection !== null) {
      this.counters.exchangesRejected[rejection]++;
    } else {
      this.counters.exchangesCompleted++;
    }
    if (this.roundDeadlineLocalNs !== null && this.exchanges.size === 0) {
      this.finishRound(this.seen(x.t4LocalNs), actions);
      actions.push({ type: 'wakeAt', localNs: this.nextWakeLocalNs() });
    }
    return actions;
  }

  handleExchangeFailed(exchangeId: number, localNs: bigint): NodeAction[] {
    if (!this.exchanges.delete(exchangeId)) return [];
    this.counters.exchangesFailed++;
    const actions: NodeAction[] = [];
    if (this.roundDeadlineLocalNs !== null && this.exchanges.size === 0) {
      this.finishRound(this.seen(localNs), actions);
      actions.push({ type: 'wakeAt', localNs: this.nextWakeLocalNs() });
    }
    return actions;
  }

  /**
   * A local reference is cheap to read, so a node that has one updates its clock from it every
   * referencePollS instead of waiting for the next mesh round (the mesh sources join in, projected
   * from their last samples). This keeps an anchor's interval tight, and the anchors' intervals are
   * the narrow end that the whole mesh's intervals grow from.
   */
  handleReferenceSample(s: ReferenceSample): NodeAction[] {
    if (!Number.isFinite(s.offsetNs) || !(s.errorNs >= 0) || !(s.delayNs >= 0)) return [];
    const src = this.source(s.refId, 'reference');
    src.anchored = true;
    src.anchorKind = s.kind;
    src.stratum = s.stratum;
    src.rootDistanceNs = s.errorNs;
    src.lastSampleLocalNs = s.localNs;
    src.reach = ((src.reach << 1) | 1) & 0xff;
    src.filter.add({
      localNs: s.localNs,
      offsetNs: s.offsetNs,
      delayNs: s.delayNs,
      sourceErrorLowNs: s.errorNs,
      sourceErrorHighNs: s.errorNs,
    });
    const actions: NodeAction[] = [];
    const last = this.clock.lastUpdateLocalNs;
    if (
      this.roundDeadlineLocalNs === null &&
      (last === null || s.localNs - last >= secondsToNs(this.config.referencePollS))
    ) {
      // A refclock sample can be stamped before an exchange that completed after it; combining at
      // the newest local time seen keeps every stored sample in the past.
      this.combineAndUpdate(this.seen(s.localNs), actions);
    }
    return actions;
  }

  /** Returns whether the announcement was accepted; rejected ones are counted. */
  handleAnnouncement(a: Announcement, localNs: bigint): { accepted: boolean; reason?: ExchangeRejection } {
    this.counters.announcementsReceived++;
    if (a.nodeId === this.config.nodeId) return { accepted: false };
    if (!this.observeHlc(a.hlc, localNs)) return { accepted: false, reason: 'hlc-max-offset' };
    const peer = this.known.get(a.nodeId) ?? {
      id: a.nodeId,
      rootDistanceNs: 0,
      stratum: 16,
      lastSeenLocalNs: null,
    };
    peer.rootDistanceNs = a.status === 'unsynchronized' ? Number.MAX_VALUE : a.rootDistanceNs;
    peer.stratum = a.stratum;
    peer.lastSeenLocalNs = localNs;
    this.known.set(a.nodeId, peer);
    return { accepted: true };
  }

  /** Peers currently excluded as falsetickers (the simulator's baselines keep measuring them). */
  excludedPeers(localNs: bigint): string[] {
    const out: string[] = [];
    for (const s of this.sources.values()) {
      if (s.kind === 'peer' && s.excludedUntilLocalNs !== null && localNs < s.excludedUntilLocalNs)
        out.push(s.id);
    }
    return out;
  }

  /** Marks a persisted high-water mark as durable (after the driver's atomic write). */
  confirmPersisted(hlcHighWaterNs: bigint): void {
    this.hlc.confirmPersisted(hlcHighWaterNs);
  }

  // ---- outputs and views --------------------------------------------------------------------------

  read(localNs: bigint): ClockReading {
    return this.clock.read(localNs);
  }

  /**
   * The response to a sample request received at localRecvNs and sent at localSendNs; null while
   * no HLC can be issued (a persisted high-water mark is awaiting the driver's confirmation): the
   * driver drops the request, and the requester counts it as lost.
   */
  serveSample(localRecvNs: bigint, localSendNs: bigint): ServedSample | null {
    const r2 = this.clock.read(localRecvNs);
    const r3 = this.serveTime(localSendNs);
    const hlc = this.tryHlcNow(this.clock.read(localSendNs).bestNs);
    if (hlc === null) return null;
    return {
      t2PeerNs: r2.estimateNs,
      t3PeerNs: r3.timeNs,
      earliestNs: r3.earliestNs,
      latestNs: r3.latestNs,
      rootDistanceNs: r3.rootDistanceNs,
      anchorKind: r3.anchorKind,
      stratum: r3.stratum,
      status: r3.status,
      hlc,
    };
  }

  /** What an NTP or TSQ server of this node serves for the raw local instant `localNs`. */
  serveTime(localNs: bigint): ServedTime {
    const r = this.clock.read(localNs);
    return {
      timeNs: r.estimateNs,
      earliestNs: r.earliestNs,
      latestNs: r.latestNs,
      rootDistanceNs: rootDistance(r),
      status: r.status,
      stratum: r.status === 'unsynchronized' ? UNSYNCHRONIZED_STRATUM : this.stratum,
      anchorKind: this.anchorKind,
      lastUpdateLocalNs: this.clock.lastUpdateLocalNs,
    };
  }

  private tryHlcNow(physicalNs: bigint): HlcTimestamp | null {
    try {
      return this.hlc.now(physicalNs);
    } catch (err) {
      if (err instanceof HlcExhaustedError) return null;
      throw err;
    }
  }

  /** A fresh HLC timestamp for an application event. */
  hlcNow(localNs: bigint): HlcTimestamp {
    return this.hlc.now(this.clock.read(localNs).bestNs);
  }

  /**
   * Merges an HLC an application received; far-future ones are rejected and counted. While
   * unsynchronized the interval bounds nothing, so the bound is this node's own reading: an
   * application must not be able to push a fresh node's HLC years ahead.
   */
  hlcObserve(remote: HlcTimestamp, localNs: bigint): ReturnType<HybridLogicalClock['observe']> {
    const r = this.clock.read(localNs);
    const latestNs = r.status === 'unsynchronized' ? r.bestNs : r.latestNs;
    const result = this.hlc.observe(remote, r.bestNs, latestNs);
    if (!result.ok) this.counters.hlcRejections++;
    return result;
  }

  snapshot(localNs: bigint): NodeSnapshot {
    const sources: SourceSnapshot[] = [];
    for (const s of this.sources.values()) {
      sources.push({
        id: s.id,
        kind: s.kind,
        selected: this.selected.has(s.id),
        offsetNs: s.lastEstimate?.offsetNs ?? null,
        delayNs: s.lastDelayNs,
        jitterNs: s.lastJitterNs,
        rootDistanceNs: s.rootDistanceNs,
        anchorKind: s.anchorKind,
        stratum: s.stratum,
        lastSampleLocalNs: s.lastSampleLocalNs,
        reach: s.reach,
        falseticker: s.falseticker,
        excludedUntilLocalNs: s.excludedUntilLocalNs,
        excludedReason: s.excludedReason,
      });
    }
    sources.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return {
      nodeId: this.config.nodeId,
      reading: this.clock.read(localNs),
      hlc: this.hlc.last(),
      pollIntervalS: this.pollS,
      stratum: this.stratum,
      anchorKind: this.anchorKind,
      frequencyPpm: this.clock.frequencyPpm,
      lastRound: this.lastOutcome,
      sources,
      counters: this.counters,
    };
  }

  // ---- rounds -------------------------------------------------------------------------------------

  private startRound(localNs: bigint, actions: NodeAction[]): void {
    this.roundNumber++;
    this.refreshSelection(localNs);
    const timeoutNs = this.config.exchangeTimeoutS * 1e9;
    for (const peerId of this.selected) {
      const exchangeId = this.nextExchangeId++;
      this.exchanges.set(exchangeId, peerId);
      const src = this.source(peerId, 'peer');
      src.reach = (src.reach << 1) & 0xff;
      this.counters.exchangesStarted++;
      actions.push({ type: 'startExchange', exchangeId, peerId, timeoutNs });
    }
    const intervalS = this.burstLeft > 0 ? this.config.burstIntervalS : this.pollS;
    if (this.burstLeft > 0) this.burstLeft--;
    this.nextPollLocalNs = localNs + secondsToNs(intervalS);
    this.roundDeadlineLocalNs = localNs + BigInt(Math.round(timeoutNs));
    if (this.exchanges.size === 0) this.finishRound(localNs, actions);
  }

  private finishRound(localNs: bigint, actions: NodeAction[]): void {
    this.roundDeadlineLocalNs = null;
    this.counters.exchangesFailed += this.exchanges.size;
    this.exchanges.clear();
    this.counters.rounds++;
    this.combineAndUpdate(localNs, actions);
  }

  private combineAndUpdate(localNs: bigint, actions: NodeAction[]): void {
    const projection = this.clock.projection();
    const maxAgeNs = this.config.sampleMaxAgeS * 1e9;
    const mesh: SourceEstimate[] = [];
    const refs: SourceEstimate[] = [];
    let bestAnchoredMeshStratum = UNSYNCHRONIZED_STRATUM;
    for (const s of this.sources.values()) {
      s.lastEstimate = null;
      if (s.excludedUntilLocalNs !== null) {
        if (localNs < s.excludedUntilLocalNs) continue;
        s.excludedUntilLocalNs = null;
        s.excludedReason = null;
      }
      const fe = s.filter.best(localNs, projection, maxAgeNs);
      if (fe === null) continue;
      const est: SourceEstimate = {
        id: s.id,
        offsetNs: fe.offsetNs,
        lowNs: fe.lowNs,
        highNs: fe.highNs,
        distanceNs: weightingDistance(fe, projection.growthRate),
        anchored: s.anchored,
      };
      s.lastEstimate = est;
      s.lastJitterNs = fe.jitterNs;
      s.lastDelayNs = fe.sample.delayNs;
      if (s.kind === 'reference') {
        refs.push(est);
      } else {
        mesh.push(est);
        if (s.anchored && s.stratum < bestAnchoredMeshStratum) bestAnchoredMeshStratum = s.stratum;
      }
    }

    const ls = this.config.localStratum;
    if (refs.length === 0 && ls !== null && !(bestAnchoredMeshStratum < ls)) {
      // Our own clock is the best reference around: hold it, claiming the configured small error.
      const applied = this.clock.read(localNs).appliedOffsetNs;
      const e = this.config.localErrorNs;
      this.update(localNs, { offsetNs: applied, lowNs: applied - e, highNs: applied + e }, actions, {
        basis: 'local',
        message: `local reference at stratum ${ls}`,
        anchored: true,
        anchorKind: 'local',
        stratum: ls,
        result: null,
      });
      return;
    }

    // Like NTP, which never selects a stratum-16 source: unsynchronized peers (unbounded intervals)
    // only count when the synchronized peers alone cannot form a 2f+1 quorum — for example a
    // free-running mesh, where agreement among the peers is all there is. Otherwise their unbounded intervals would outvote the
    // bounded ones in the n − f intersection and keep the whole mesh unsynchronized.
    // With a configured f (a mesh of known size n = 3f + 1), this node is one of the n, as in
    // Welch–Lynch: its own projected interval contains truth if the last one did. Without it a
    // 31-node mesh with f = 10 stalls when all ten faulty peers are silent (20 < 2f + 1 sources).
    // With f derived from the sources it would only add inertia, so it is left out.
    if (mesh.length > 0 && this.config.faultTolerance !== null) mesh.push(this.selfEstimate(localNs));
    const bounded = mesh.filter((e) => e.highNs - e.lowNs < UNBOUNDED_NS);
    const faultTolerance = this.meshFaultTolerance(localNs);
    const boundedQuorum = 2 * faultToleranceFor(bounded.length, faultTolerance) + 1;
    const selectable = bounded.length > 0 && bounded.length >= boundedQuorum ? bounded : mesh;
    const m =
      selectable.length > 0
        ? combine(selectable, { faultTolerance, estimator: this.config.estimator })
        : null;
    if (m !== null) this.markFalsetickers(m, localNs);
    const r =
      refs.length > 0
        ? combine(refs, {
            faultTolerance: majorityFaultToleranceFor(refs.length),
            estimator: this.config.estimator,
          })
        : null;
    if (r !== null && r.ok) this.markReferenceFalsetickers(r.truechimers, r.falsetickers);
    const meshStratum = Math.min(bestAnchoredMeshStratum + 1, UNSYNCHRONIZED_STRATUM);

    if (r !== null && r.ok) {
      // The truechimers' stratum: a lying stratum-1 server must not lend the node its stratum.
      const refStratum = Math.min(
        Math.min(...r.truechimers.map((id) => this.sources.get(id)!.stratum)) + 1,
        UNSYNCHRONIZED_STRATUM,
      );
      const refKind = this.bestReferenceKind(r.truechimers);
      if (m !== null && m.ok) {
        const disjoint = r.highNs < m.lowNs || r.lowNs > m.highNs;
        if (disjoint && m.anchored) {
          this.counters.referenceFalsetickerMarks += r.truechimers.length;
          for (const id of r.truechimers) this.sources.get(id)!.falseticker = true;
          this.update(localNs, m, actions, {
            basis: 'mesh',
            message: `references ${r.truechimers.join(', ')} disagree with the anchored mesh: falsetickers`,
            anchored: true,
            anchorKind: 'mesh',
            stratum: meshStratum,
            result: m,
          });
          return;
        }
        if (!disjoint) {
          const lowNs = Math.max(r.lowNs, m.lowNs);
          const highNs = Math.min(r.highNs, m.highNs);
          this.update(localNs, { offsetNs: clamp(r.offsetNs, lowNs, highNs), lowNs, highNs }, actions, {
            basis: 'reference+mesh',
            message: 'references agree with the mesh',
            anchored: true,
            anchorKind: refKind,
            stratum: refStratum,
            result: m,
          });
          return;
        }
      }
      this.update(localNs, r, actions, {
        basis: 'reference',
        message:
          m !== null && m.ok
            ? 'references disagree with an unanchored mesh: following references'
            : 'references only',
        anchored: true,
        anchorKind: refKind,
        stratum: refStratum,
        result: r,
      });
      return;
    }
    if (m !== null && m.ok) {
      this.update(localNs, m, actions, {
        basis: 'mesh',
        message: `${m.truechimers.length} of ${m.n} sources agree (f = ${m.f})`,
        anchored: m.anchored,
        anchorKind: m.anchored ? 'mesh' : 'none',
        stratum: m.anchored ? meshStratum : UNSYNCHRONIZED_STRATUM,
        result: m,
      });
      return;
    }
    this.counters.noQuorumRounds++;
    const failed = m ?? r;
    this.lastOutcome = {
      localNs,
      updated: false,
      basis: failed === null || failed.ok ? 'no-sources' : failed.reason,
      message: failed === null || failed.ok ? 'no sources with usable samples' : failed.message,
      n: failed?.n ?? 0,
      f: failed?.f ?? 0,
      truechimers: [],
      falsetickers: [],
    };
  }

  private update(
    localNs: bigint,
    est: { offsetNs: number; lowNs: number; highNs: number },
    actions: NodeAction[],
    info: {
      basis: string;
      message: string;
      anchored: boolean;
      anchorKind: AnchorKind;
      stratum: number;
      result: CombineResult | null;
    },
  ): void {
    const correction = this.clock.update({ localNs, ...est, anchored: info.anchored });
    this.anchorKind = info.anchorKind;
    this.stratum = info.stratum;
    if (correction.kind === 'step') this.counters.steps++;
    if (correction.kind === 'slew') this.counters.slews++;
    if (correction.kind !== 'none') {
      const reading = this.clock.read(localNs);
      actions.push({
        type: 'clockCorrection',
        kind: correction.kind,
        correctionNs: correction.correctionNs,
        frequencyPpm: correction.frequencyPpm,
        earliestNs: reading.earliestNs,
        latestNs: reading.latestNs,
      });
    }
    this.adaptPoll(Math.abs(correction.correctionNs), (est.highNs - est.lowNs) / 2);
    const res = info.result;
    this.lastOutcome = {
      localNs,
      updated: true,
      basis: info.basis,
      message: info.message,
      n: res?.n ?? 1,
      f: res?.f ?? 0,
      truechimers: res !== null && res.ok ? res.truechimers : [],
      falsetickers: res !== null && res.ok ? res.falsetickers : [],
    };
  }

  /** NTP-like poll adaptation: lengthen while corrections stay small against the error bound. */
  private adaptPoll(correctionAbsNs: number, halfWidthNs: number): void {
    const scaleNs = Math.min(halfWidthNs, 1e6);
    if (correctionAbsNs <= Math.max(scaleNs / 4, 10_000)) {
      if (++this.goodRounds >= 4) {
        this.pollS = Math.min(this.pollS * 2, this.config.maxPollS);
        this.goodRounds = 0;
      }
    } else if (correctionAbsNs > scaleNs) {
      this.pollS = this.config.minPollS;
      this.goodRounds = 0;
    }
  }

  /** The newest raw local time any input carried; the raw oscillator never goes back. */
  private seen(localNs: bigint): bigint {
    if (localNs > this.latestLocalNs) this.latestLocalNs = localNs;
    return this.latestLocalNs;
  }

  private selfEstimate(localNs: bigint): SourceEstimate {
    const r = this.clock.read(localNs);
    const offsetNs = Number(r.estimateNs - localNs);
    return {
      id: this.config.nodeId,
      offsetNs,
      lowNs: Math.min(r.lowNs, offsetNs),
      highNs: Math.max(r.highNs, offsetNs),
      distanceNs: (r.highNs - r.lowNs) / 2,
      anchored: r.status === 'anchored',
    };
  }

  /**
   * A configured f counts every faulty source, including the falsetickers already excluded: those are
   * proven faulty, so at most f − excluded faults remain among the sources still in use. Without
   * this, excluding liars would shrink n below 2f + 1 and stop the node.
   */
  private meshFaultTolerance(localNs: bigint): number | null {
    const f = this.config.faultTolerance;
    if (f === null) return null;
    let excluded = 0;
    for (const s of this.sources.values()) {
      if (s.kind === 'peer' && s.excludedUntilLocalNs !== null && localNs < s.excludedUntilLocalNs)
        excluded++;
    }
    return Math.max(0, f - excluded);
  }

  private markFalsetickers(m: CombineResult, localNs: bigint): void {
    if (!m.ok) return;
    for (const id of m.truechimers) {
      const s = this.sources.get(id);
      if (s === undefined) continue; // this node itself
      s.strikes = 0;
      s.falseticker = false;
    }
    for (const id of m.falsetickers) {
      const s = this.sources.get(id);
      if (s === undefined) continue; // our own previous interval disagrees: the clock resets its fit
      this.counters.falsetickerMarks++;
      s.falseticker = true;
      if (++s.strikes >= this.config.falsetickerStrikes) {
        s.excludedUntilLocalNs = localNs + secondsToNs(this.config.falsetickerHoldoffS);
        s.excludedReason = `falseticker in ${s.strikes} consecutive rounds`;
        s.strikes = 0;
        s.filter.clear();
        this.selected.delete(id);
      }
    }
  }

  /**
   * The references' own vote: those outside the majority's interval are falsetickers (counted), the
   * rest are not (yet: the anchored mesh may still overrule them all). References are not held off
   * like peers: they are this node's own, cheap to read, and re-judged every combination.
   */
  private markReferenceFalsetickers(truechimers: string[], falsetickers: string[]): void {
    for (const id of truechimers) this.sources.get(id)!.falseticker = false;
    for (const id of falsetickers) this.sources.get(id)!.falseticker = true;
    this.counters.referenceFalsetickerMarks += falsetickers.length;
  }

  private bestReferenceKind(ids: string[]): AnchorKind {
    let best: SourceState | null = null;
    for (const id of ids) {
      const s = this.sources.get(id)!;
      if (best === null || (s.rootDistanceNs ?? Infinity) < (best.rootDistanceNs ?? Infinity)) best = s;
    }
    return best?.anchorKind ?? 'reference';
  }

  // ---- peers and exchanges ------------------------------------------------------------------------

  private refreshSelection(localNs: bigint): void {
    for (const id of this.selected) {
      const s = this.sources.get(id);
      if (
        !this.known.has(id) ||
        (s?.excludedUntilLocalNs !== null && s?.excludedUntilLocalNs !== undefined)
      ) {
        this.selected.delete(id);
      }
    }
    if (this.roundNumber % this.config.churnRounds === 0 && this.selected.size >= this.config.pollPeers) {
      const worst = this.worstSelected();
      if (worst !== null) this.selected.delete(worst);
    }
    const candidates = [];
    for (const p of this.known.values()) {
      const s = this.sources.get(p.id);
      if (s !== undefined && s.excludedUntilLocalNs !== null && localNs < s.excludedUntilLocalNs) continue;
      candidates.push({ id: p.id, rootDistanceNs: p.rootDistanceNs });
    }
    for (const id of fillSelection(this.selected, candidates, this.config.pollPeers, this.rng))
      this.selected.add(id);
  }

  /** The selected peer to churn out: an unreachable one first, else the one with the largest distance. */
  private worstSelected(): string | null {
    let worst: string | null = null;
    let worstScore = -Infinity;
    for (const id of this.selected) {
      const s = this.sources.get(id);
      const score = s === undefined || s.reach === 0 ? Infinity : (s.lastEstimate?.distanceNs ?? Infinity);
      if (score > worstScore || (score === worstScore && worst !== null && id < worst)) {
        worst = id;
        worstScore = score;
      }
    }
    return worst;
  }

  private acceptExchange(x: CompletedExchange): ExchangeRejection | null {
    const ev = evaluateExchange(x);
    if (!ev.ok) return ev.reason;
    if (!this.observeHlc(x.response.hlc, x.t4LocalNs)) return 'hlc-max-offset';
    const src = this.source(x.peerId, 'peer');
    const anchored = x.response.status === 'anchored';
    src.anchored = anchored;
    src.anchorKind = x.response.anchorKind;
    src.stratum = x.response.stratum;
    src.rootDistanceNs = x.response.rootDistanceNs;
    src.lastSampleLocalNs = x.t4LocalNs;
    src.reach |= 1;
    src.filter.add(ev.sample);
    const known = this.known.get(x.peerId);
    if (known !== undefined) {
      known.rootDistanceNs =
        x.response.status === 'unsynchronized' ? Number.MAX_VALUE : x.response.rootDistanceNs;
      known.stratum = x.response.stratum;
    }
    return null;
  }

  private observeHlc(remote: HlcTimestamp, localNs: bigint): boolean {
    if (this.clock.read(localNs).status === 'unsynchronized') {
      // With no bound on our own time there is nothing to check a remote HLC against; do not merge it
      // either, or the first liar we hear from would set our HLC.
      return true;
    }
    return this.hlcObserve(remote, localNs).ok;
  }

  private source(id: string, kind: 'peer' | 'reference'): SourceState {
    let s = this.sources.get(id);
    if (s === undefined) {
      s = {
        id,
        kind,
        filter: new ClockFilter(this.config.filterLength),
        anchored: false,
        anchorKind: 'none',
        stratum: UNSYNCHRONIZED_STRATUM,
        rootDistanceNs: null,
        lastSampleLocalNs: null,
        lastEstimate: null,
        lastJitterNs: null,
        lastDelayNs: null,
        reach: 0,
        strikes: 0,
        falseticker: false,
        excludedUntilLocalNs: null,
        excludedReason: null,
      };
      this.sources.set(id, s);
    }
    return s;
  }

  private announce(localNs: bigint): Announcement | null {
    const r = this.clock.read(localNs);
    const hlc = this.tryHlcNow(r.bestNs);
    if (hlc === null) return null;
    this.counters.announcementsPublished++;
    return {
      nodeId: this.config.nodeId,
      hlc,
      bestNs: r.bestNs,
      earliestNs: r.earliestNs,
      latestNs: r.latestNs,
      rootDistanceNs: rootDistance(r),
      anchorKind: this.anchorKind,
      stratum: r.status === 'unsynchronized' ? UNSYNCHRONIZED_STRATUM : this.stratum,
      status: r.status,
    };
  }

  private maybePersist(localNs: bigint, actions: NodeAction[]): void {
    if (!this.config.hlcPersistence) return;
    const hw = this.hlc.highWaterMarkToPersist(this.clock.read(localNs).bestNs);
    if (hw !== null)
      actions.push({ type: 'persistState', hlcHighWaterNs: hw, frequencyPpm: this.clock.frequencyPpm });
  }

  private nextWakeLocalNs(): bigint {
    let t = this.nextPollLocalNs ?? 0n;
    if (this.roundDeadlineLocalNs !== null && this.roundDeadlineLocalNs < t) t = this.roundDeadlineLocalNs;
    if (this.nextAnnounceLocalNs !== null && this.nextAnnounceLocalNs < t) t = this.nextAnnounceLocalNs;
    return t;
  }
}

/**
 * How much error a source adds, for weighting (not for the interval): its own claimed error, its
 * jitter, aging, and a quarter of the path delay. δ/2 bounds the path asymmetry but real asymmetry is
 * usually far smaller; weighting by the full δ/2 let a few short links outvote many precise anchors
 * on longer ones, and that is how a slowly drifting liar on a short link pulled honest nodes along.
 * A quarter of δ still counts: a liar that holds its answers (the delay attack) pays for it.
 */
function weightingDistance(fe: FilteredEstimate, growthRate: number): number {
  const s = fe.sample;
  return (s.sourceErrorLowNs + s.sourceErrorHighNs) / 2 + fe.jitterNs + growthRate * fe.ageNs + s.delayNs / 4;
}

/** Half-width of the interval around the served estimate (NTP's root distance, in spirit). */
function rootDistance(r: ClockReading): number {
  return Math.max(Number(r.estimateNs - r.earliestNs), Number(r.latestNs - r.estimateNs));
}

function secondsToNs(s: number): bigint {
  return BigInt(Math.round(s * 1e9));
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
