/**
 * The deterministic mesh simulator: discrete events in virtual time (nothing sleeps), every random
 * draw from a stream of the run's seed, and the real NodeCore as every honest node's brain — the same
 * code the daemon runs. Same seed and scenario → the same events in the same order → a byte-identical
 * report.
 *
 * What is modelled: oscillators (offset, frequency, wander), links (delay, asymmetry, heavy-tailed
 * jitter, loss), partitions, crashes and restarts (the HLC high-water mark and frequency survive a
 * restart, as the daemon persists them), anchors with reference clocks and their faults, gossip
 * (each announcement reaches `gossipFanout` random nodes), and Byzantine nodes (sim/attackers.ts).
 * Two baselines run beside timemesh on the very same exchanges (see `Baselines`).
 */
import { UNBOUNDED_NS } from '../hlc/timeTypes.ts';
import type { HlcTimestamp } from '../hlc/hlc.ts';
import { NodeCore } from '../node/core/nodeCore.ts';
import type { NodeAction, ServedSample } from '../node/core/types.ts';
import { ATTACKER_ERROR_NS, attackAnswer, attackClaimNs } from './attackers.ts';
import { EventQueue } from './eventQueue.ts';
import { AccuracyTracker, IntervalTracker, emptyTrace } from './metrics.ts';
import { Network } from './network.ts';
import { Oscillator } from './oscillator.ts';
import { referenceModel } from './references.ts';
import type { ReferenceModel } from './references.ts';
import { REPORT_SCHEMA } from './reportTypes.ts';
import type { NodeTrace, SimReport } from './reportTypes.ts';
import { SimRng, seedHash } from './rng.ts';
import type { Scenario } from './scenarioTypes.ts';
import { evaluateChecks } from './scenario.ts';

/** Virtual start of every run: 2027-01-15T08:00:00Z, an arbitrary but fixed epoch. */
export const SIM_EPOCH_NS = 1_800_000_000_000_000_000n;
/** Time a responder takes between receiving a request and sending the answer. */
const PROCESSING_NS = 20_000;
const MAX_TRACED = { anchors: 2, honest: 3, byzantine: 3 };

const enum Ev {
  Wake,
  RequestArrives,
  ResponseArrives,
  AnnouncementArrives,
  ReferenceSample,
  Sample,
  Crash,
  Restart,
  Partition,
  AttackerAnnounce,
}

type Role = 'honest' | 'anchor' | 'byzantine';

interface SimNode {
  index: number;
  id: string;
  role: Role;
  osc: Oscillator;
  core: NodeCore | null;
  up: boolean;
  /** Bumped on every crash so that answers to a previous incarnation are dropped. */
  incarnation: number;
  wakeAtNs: number;
  rng: SimRng;
  ref: ReferenceModel | null;
  /** What survives a restart (the daemon persists both). */
  lastHlc: HlcTimestamp | null;
  frequencyPpm: number;
  baseline: Baselines;
}

interface RequestData {
  requester: number;
  incarnation: number;
  exchangeId: number;
  t1LocalNs: bigint;
  /** A shadow exchange to a peer the core excluded: only the baselines see the answer. */
  baselineOnly: boolean;
}

interface ResponseData {
  responder: number;
  incarnation: number;
  exchangeId: number;
  t1LocalNs: bigint;
  served: ServedSample;
  baselineOnly: boolean;
}

/**
 * The two baselines, fed the same exchanges as the node's core. Each keeps a shadow clock
 * (raw local + phase) and updates it once per round, when every exchange of the round has answered
 * or been lost:
 *   (a) average: phase = mean of the peers' offsets;
 *   (b) seed design: phase = 0.8·phase + 0.2·median of the peers' offsets (no frequency tracking).
 * Both use the delay-compensated offsets θ (fairer to them than the seed's raw receive times).
 */
class Baselines {
  averagePhaseNs = 0;
  seedPhaseNs = 0;
  private offsets: number[] = [];
  private outstanding = 0;

  startRound(exchanges: number): void {
    this.flush();
    this.outstanding = exchanges;
  }

  answered(offsetNs: number | null): void {
    if (offsetNs !== null) this.offsets.push(offsetNs);
    if (--this.outstanding <= 0) this.flush();
  }

  private flush(): void {
    const o = this.offsets;
    if (o.length > 0) {
      let sum = 0;
      for (const v of o) sum += v;
      this.averagePhaseNs = sum / o.length;
      o.sort((a, b) => a - b);
      const mid = o.length >> 1;
      const median = o.length % 2 === 1 ? o[mid]! : (o[mid - 1]! + o[mid]!) / 2;
      this.seedPhaseNs = 0.8 * this.seedPhaseNs + 0.2 * median;
    }
    this.offsets = [];
    this.outstanding = 0;
  }
}

export interface SimProgress {
  (virtualS: number, eventsProcessed: number): void;
}

export function simulate(scenario: Scenario, onProgress?: SimProgress): SimReport {
  return new Simulation(scenario).run(onProgress);
}

/** Runs a scenario and hands back the simulation too, for tests and debugging that inspect nodes. */
export function simulateForInspection(scenario: Scenario): {
  report: SimReport;
  cores: (NodeCore | null)[];
  readLocal: (i: number) => bigint;
} {
  const sim = new Simulation(scenario);
  const report = sim.run();
  return { report, cores: sim.cores(), readLocal: (i) => sim.localAtEnd(i) };
}

class Simulation {
  private readonly q = new EventQueue();
  private readonly nodes: SimNode[] = [];
  private readonly net: Network;
  private readonly gossipRng: SimRng;
  private readonly attackRng: SimRng;
  private readonly endNs: number;
  private readonly tS: number[] = [];
  private readonly timemesh = new AccuracyTracker();
  private readonly average = new AccuracyTracker();
  private readonly seed = new AccuracyTracker();
  private readonly intervals = new IntervalTracker();
  private readonly traces: { node: SimNode; trace: NodeTrace }[] = [];
  private processed = 0;
  private exchangesLost = 0;
  private readonly retired = {
    started: 0,
    completed: 0,
    announcements: 0,
    falsetickers: 0,
    refFalsetickers: 0,
    hlc: 0,
    noQuorum: 0,
  };

  constructor(private readonly s: Scenario) {
    this.endNs = s.durationS * 1e9;
    this.net = new Network(s.network, seedHash(s.seed), SimRng.fork(s.seed, 'network'), s.nodes);
    this.gossipRng = SimRng.fork(s.seed, 'gossip');
    this.attackRng = SimRng.fork(s.seed, 'attack');
    const setup = SimRng.fork(s.seed, 'setup');
    const firstByzantine = s.nodes - s.byzantine;
    for (let i = 0; i < s.nodes; i++) {
      const role: Role = i < s.anchors ? 'anchor' : i >= firstByzantine ? 'byzantine' : 'honest';
      const o = s.oscillator;
      const osc = new Oscillator(
        SIM_EPOCH_NS,
        setup.uniform(-o.initialOffsetNs, o.initialOffsetNs),
        setup.uniform(-o.frequencyPpm, o.frequencyPpm),
        o.wanderPpmPerSqrtS,
        SimRng.fork(s.seed, `osc/${i}`),
      );
      const node: SimNode = {
        index: i,
        id: nodeId(i),
        role,
        osc,
        core: null,
        up: true,
        incarnation: 0,
        wakeAtNs: Infinity,
        rng: SimRng.fork(s.seed, `node/${i}`),
        ref: role === 'anchor' ? referenceModel(s.anchorModel, SimRng.fork(s.seed, `ref/${i}`)) : null,
        lastHlc: null,
        frequencyPpm: 0,
        baseline: new Baselines(),
      };
      this.nodes.push(node);
    }
    this.chooseTraces();
  }

  cores(): (NodeCore | null)[] {
    return this.nodes.map((n) => n.core);
  }

  localAtEnd(i: number): bigint {
    return this.nodes[i]!.osc.peek(this.endNs);
  }

  run(onProgress?: SimProgress): SimReport {
    const s = this.s;
    const knowAll = s.nodes <= 64;
    const discover = SimRng.fork(s.seed, 'discover');
    for (const node of this.nodes) {
      if (node.role === 'byzantine') {
        this.q.push(discover.uniform(0, 30e9), Ev.AttackerAnnounce, node.index, null);
        continue;
      }
      this.boot(node, null);
      const core = node.core!;
      if (knowAll) {
        for (const other of this.nodes) if (other !== node) core.handlePeerDiscovered(other.id);
      } else {
        for (let k = 0; k < 16; k++) {
          const other = discover.int(s.nodes);
          if (other !== node.index) core.handlePeerDiscovered(nodeId(other));
        }
      }
      // Nodes boot at random instants in the first second, not in lockstep.
      this.scheduleWake(node, discover.uniform(0, 1e9));
      if (node.ref !== null)
        this.q.push(discover.uniform(0, node.ref.intervalNs), Ev.ReferenceSample, node.index, null);
    }
    for (const c of s.crashes) {
      this.q.push(c.atS * 1e9, Ev.Crash, c.node, null);
      if (c.restartS !== null) this.q.push(c.restartS * 1e9, Ev.Restart, c.node, null);
    }
    for (const p of s.partitions) {
      this.q.push(p.atS * 1e9, Ev.Partition, -1, p.groups);
      if (p.healS !== null) this.q.push(p.healS * 1e9, Ev.Partition, -1, null);
    }
    for (let t = s.sampleIntervalS; t <= s.durationS + 1e-9; t += s.sampleIntervalS) {
      this.q.push(t * 1e9, Ev.Sample, -1, null);
    }

    let nextProgressNs = 0;
    for (;;) {
      const e = this.q.pop();
      if (e === undefined || e.tNs > this.endNs) break;
      this.processed++;
      this.dispatch(e.tNs, e.kind as Ev, e.node, e.data);
      if (onProgress !== undefined && e.tNs >= nextProgressNs) {
        onProgress(e.tNs / 1e9, this.processed);
        nextProgressNs = e.tNs + 10e9;
      }
    }
    return this.report();
  }

  private dispatch(tNs: number, kind: Ev, index: number, data: unknown): void {
    switch (kind) {
      case Ev.Wake: {
        const node = this.nodes[index]!;
        node.wakeAtNs = Infinity;
        if (node.core !== null) this.act(node, tNs, node.core.handleTick(node.osc.local(tNs)));
        return;
      }
      case Ev.RequestArrives:
        return this.onRequest(tNs, this.nodes[index]!, data as RequestData);
      case Ev.ResponseArrives:
        return this.onResponse(tNs, this.nodes[index]!, data as ResponseData);
      case Ev.AnnouncementArrives: {
        const node = this.nodes[index]!;
        if (node.core !== null) {
          node.core.handleAnnouncement(
            data as Parameters<NodeCore['handleAnnouncement']>[0],
            node.osc.local(tNs),
          );
        }
        return;
      }
      case Ev.ReferenceSample:
        return this.onReferenceSample(tNs, this.nodes[index]!);
      case Ev.Sample:
        return this.sample(tNs);
      case Ev.Crash:
        return this.crash(this.nodes[index]!);
      case Ev.Restart:
        return this.restart(tNs, this.nodes[index]!);
      case Ev.Partition:
        this.net.setPartition(data as number[][] | null);
        return;
      case Ev.AttackerAnnounce:
        return this.attackerAnnounce(tNs, this.nodes[index]!);
    }
  }

  // ---- honest nodes ---------------------------------------------------------------------------

  private boot(node: SimNode, restoredFrom: SimNode | null): void {
    const c = this.s.core;
    node.core = new NodeCore(
      {
        nodeId: node.id,
        ...(c.pollPeers !== undefined ? { pollPeers: c.pollPeers } : {}),
        ...(c.faultTolerance !== undefined ? { faultTolerance: c.faultTolerance } : {}),
        ...(c.minPollS !== undefined ? { minPollS: c.minPollS } : {}),
        ...(c.maxPollS !== undefined ? { maxPollS: c.maxPollS } : {}),
        ...(c.maxDriftPpm !== undefined ? { maxDriftPpm: c.maxDriftPpm } : {}),
      },
      {
        rng: node.rng,
        // The frequency survives a restart, as the daemon persists it. HLC restart monotonicity is
        // the daemon's job (persisted high-water mark) and is tested there and in test/hlc.
        ...(restoredFrom !== null ? { restored: { frequencyPpm: restoredFrom.frequencyPpm } } : {}),
      },
    );
    node.up = true;
  }

  private act(node: SimNode, tNs: number, actions: NodeAction[]): void {
    // The baselines' round opens before any request is sent, so a request lost at once counts in it.
    // A naive node would keep polling the peers timemesh excluded as falsetickers, so the baselines
    // get shadow exchanges with those too; the core never sees their answers.
    const exchanges = actions.filter((a) => a.type === 'startExchange').length;
    const shadows = exchanges > 0 ? node.core!.excludedPeers(node.osc.local(tNs)) : [];
    if (exchanges > 0) node.baseline.startRound(exchanges + shadows.length);
    for (const peerId of shadows) this.sendRequest(node, tNs, peerId, -1, true);
    for (const a of actions) {
      switch (a.type) {
        case 'startExchange':
          this.sendRequest(node, tNs, a.peerId, a.exchangeId, false);
          break;
        case 'publishAnnouncement':
          this.gossip(node, tNs, a.announcement);
          break;
        case 'wakeAt':
          this.scheduleWake(node, node.osc.trueTimeOf(a.localNs, tNs));
          break;
        case 'clockCorrection':
          node.frequencyPpm = a.frequencyPpm;
          break;
        case 'persistState':
          node.core!.confirmPersisted(a.hlcHighWaterNs);
          break;
      }
    }
  }

  private scheduleWake(node: SimNode, atNs: number): void {
    if (atNs >= node.wakeAtNs) return;
    node.wakeAtNs = atNs;
    this.q.push(atNs, Ev.Wake, node.index, null);
  }

  private sendRequest(
    node: SimNode,
    tNs: number,
    peerId: string,
    exchangeId: number,
    baselineOnly: boolean,
  ): void {
    const peer = parseNodeId(peerId);
    const t1LocalNs = node.osc.local(tNs);
    const d = this.net.delayNs(node.index, peer);
    if (d === null) {
      this.lost(node);
      return;
    }
    const data: RequestData = {
      requester: node.index,
      incarnation: node.incarnation,
      exchangeId,
      t1LocalNs,
      baselineOnly,
    };
    this.q.push(tNs + d, Ev.RequestArrives, peer, data);
  }

  private onRequest(tNs: number, responder: SimNode, req: RequestData): void {
    const requester = this.nodes[req.requester]!;
    let served: ServedSample | null;
    let holdNs = 0;
    if (responder.role === 'byzantine') {
      if (!responder.up) {
        this.lost(requester);
        return;
      }
      const answer = attackAnswer(this.s.attack, tNs, req.requester, this.attackRng);
      if (answer === null) {
        this.lost(requester);
        return;
      }
      served = this.attackerServe(responder, tNs, answer.lieNs, answer.hlcAheadNs);
      holdNs = answer.holdNs;
    } else if (responder.core !== null) {
      served = responder.core.serveSample(responder.osc.local(tNs), responder.osc.peek(tNs + PROCESSING_NS));
      if (served !== null) responder.lastHlc = served.hlc;
    } else {
      served = null;
    }
    const d = this.net.delayNs(responder.index, req.requester);
    if (served === null || d === null) {
      this.lost(requester);
      return;
    }
    const resp: ResponseData = {
      responder: responder.index,
      incarnation: req.incarnation,
      exchangeId: req.exchangeId,
      t1LocalNs: req.t1LocalNs,
      served,
      baselineOnly: req.baselineOnly,
    };
    this.q.push(tNs + PROCESSING_NS + holdNs + d, Ev.ResponseArrives, req.requester, resp);
  }

  private onResponse(tNs: number, node: SimNode, resp: ResponseData): void {
    if (node.core === null || node.incarnation !== resp.incarnation) return;
    const t4LocalNs = node.osc.local(tNs);
    const r = resp.served;
    const offsetNs = Number(r.t2PeerNs - resp.t1LocalNs + (r.t3PeerNs - t4LocalNs)) / 2;
    node.baseline.answered(Number.isFinite(offsetNs) ? offsetNs : null);
    if (resp.baselineOnly) return;
    const actions = node.core.handleExchangeCompleted({
      exchangeId: resp.exchangeId,
      peerId: nodeId(resp.responder),
      t1LocalNs: resp.t1LocalNs,
      t4LocalNs,
      response: r,
    });
    this.act(node, tNs, actions);
  }

  private lost(requester: SimNode): void {
    this.exchangesLost++;
    requester.baseline.answered(null);
  }

  private onReferenceSample(tNs: number, node: SimNode): void {
    const ref = node.ref!;
    this.q.push(tNs + ref.intervalNs, Ev.ReferenceSample, node.index, null);
    if (node.core === null) return;
    const anchorIdx = node.index;
    let faultStepNs = 0;
    for (const f of this.s.anchorFaults) {
      if (f.anchor !== anchorIdx || tNs < f.atS * 1e9 || (f.untilS !== null && tNs >= f.untilS * 1e9))
        continue;
      if (f.kind === 'outage') return;
      faultStepNs += f.stepNs;
    }
    const localNs = node.osc.local(tNs);
    // offset = reference − local = (true + error) − (true + phase)
    const offsetNs = ref.errorNs(node.rng) + faultStepNs - node.osc.phaseNs(tNs);
    const actions = node.core.handleReferenceSample({
      refId: `${ref.kind}0`,
      kind: ref.kind,
      localNs,
      offsetNs,
      errorNs: ref.claimedErrorNs,
      delayNs: ref.delayNs,
      stratum: ref.stratum,
    });
    this.act(node, tNs, actions);
  }

  private gossip(node: SimNode, tNs: number, announcement: unknown): void {
    const n = this.s.nodes;
    const fanout = Math.min(this.s.gossipFanout, n - 1);
    for (let k = 0; k < fanout; k++) {
      let to = this.gossipRng.int(n - 1);
      if (to >= node.index) to++;
      const d = this.net.delayNs(node.index, to);
      if (d !== null) this.q.push(tNs + d, Ev.AnnouncementArrives, to, announcement);
    }
  }

  private crash(node: SimNode): void {
    if (node.core !== null) this.retire(node.core);
    node.core = null;
    node.up = false;
    node.incarnation++;
    node.wakeAtNs = Infinity;
  }

  private restart(tNs: number, node: SimNode): void {
    if (node.role === 'byzantine') {
      node.up = true;
      return;
    }
    if (node.core !== null) return;
    this.boot(node, node);
    for (const other of this.nodes) {
      if (other !== node && (this.s.nodes <= 64 || this.gossipRng.next() < 16 / this.s.nodes)) {
        node.core!.handlePeerDiscovered(other.id);
      }
    }
    this.scheduleWake(node, tNs);
  }

  /** Keeps a crashed core's counters in the totals. */
  private retire(core: NodeCore): void {
    const c = core.counters;
    this.retired.started += c.exchangesStarted;
    this.retired.completed += c.exchangesCompleted;
    this.retired.announcements += c.announcementsPublished;
    this.retired.falsetickers += c.falsetickerMarks;
    this.retired.refFalsetickers += c.referenceFalsetickerMarks;
    this.retired.hlc += c.hlcRejections;
    this.retired.noQuorum += c.noQuorumRounds;
  }

  // ---- attackers ------------------------------------------------------------------------------

  private attackerServe(node: SimNode, tNs: number, lieNs: number, hlcAheadNs: number): ServedSample {
    const t2 = SIM_EPOCH_NS + BigInt(Math.round(tNs + lieNs));
    const t3 = SIM_EPOCH_NS + BigInt(Math.round(tNs + PROCESSING_NS + lieNs));
    const hlc = { wallNs: SIM_EPOCH_NS + BigInt(Math.round(tNs + hlcAheadNs)), logical: 0, nodeId: node.id };
    const e = BigInt(ATTACKER_ERROR_NS);
    return {
      t2PeerNs: t2,
      t3PeerNs: t3,
      earliestNs: t3 - e,
      latestNs: t3 + e,
      rootDistanceNs: ATTACKER_ERROR_NS,
      anchorKind: 'gps',
      stratum: 1,
      status: 'anchored',
      hlc,
    };
  }

  /** Attackers announce on the honest schedule, claiming to be the best anchored peer around. */
  private attackerAnnounce(tNs: number, node: SimNode): void {
    this.q.push(tNs + 30e9, Ev.AttackerAnnounce, node.index, null);
    if (!node.up) return;
    const a = this.s.attack;
    const claim = this.attackerServe(
      node,
      tNs,
      attackClaimNs(a, tNs) ?? 0,
      a.kind === 'hlc-push' ? a.hlcAheadNs : 0,
    );
    this.gossip(node, tNs, {
      nodeId: node.id,
      hlc: claim.hlc,
      bestNs: claim.t3PeerNs,
      earliestNs: claim.earliestNs,
      latestNs: claim.latestNs,
      rootDistanceNs: claim.rootDistanceNs,
      anchorKind: claim.anchorKind,
      stratum: claim.stratum,
      status: claim.status,
    });
  }

  // ---- measurement ----------------------------------------------------------------------------

  private sample(tNs: number): void {
    const trueNs = SIM_EPOCH_NS + BigInt(Math.round(tNs));
    this.tS.push(Math.round(tNs / 1e6) / 1e3);
    this.timemesh.beginInstant();
    this.average.beginInstant();
    this.seed.beginInstant();
    this.intervals.beginInstant();
    for (const node of this.nodes) {
      if (node.role === 'byzantine' || node.core === null) continue;
      const localNs = node.osc.local(tNs);
      const r = node.core.read(localNs);
      this.timemesh.add(Number(r.bestNs - trueNs));
      const rawErrorNs = node.osc.phaseNs(tNs);
      this.average.add(rawErrorNs + node.baseline.averagePhaseNs);
      this.seed.add(rawErrorNs + node.baseline.seedPhaseNs);
      if (r.status === 'unsynchronized') {
        this.intervals.unsynchronized++;
      } else {
        this.intervals.add(r.earliestNs <= trueNs && trueNs <= r.latestNs, Number(r.latestNs - r.earliestNs));
      }
    }
    this.timemesh.endInstant();
    this.average.endInstant();
    this.seed.endInstant();
    this.intervals.endInstant();
    for (const { node, trace } of this.traces) this.traceSample(node, trace, tNs, trueNs);
  }

  private traceSample(node: SimNode, trace: NodeTrace, tNs: number, trueNs: bigint): void {
    if (node.role === 'byzantine') {
      const claim = node.up ? attackClaimNs(this.s.attack, tNs) : null;
      trace.errorNs.push(claim);
      trace.lowNs.push(claim === null ? null : claim - ATTACKER_ERROR_NS);
      trace.highNs.push(claim === null ? null : claim + ATTACKER_ERROR_NS);
      return;
    }
    if (node.core === null) {
      trace.errorNs.push(null);
      trace.lowNs.push(null);
      trace.highNs.push(null);
      return;
    }
    const r = node.core.read(node.osc.local(tNs));
    trace.errorNs.push(Number(r.bestNs - trueNs));
    const bounded = r.status !== 'unsynchronized' && Number(r.latestNs - r.earliestNs) < UNBOUNDED_NS;
    trace.lowNs.push(bounded ? Number(r.earliestNs - trueNs) : null);
    trace.highNs.push(bounded ? Number(r.latestNs - trueNs) : null);
  }

  private chooseTraces(): void {
    const pick = (role: Role, max: number): void => {
      for (const n of this.nodes.filter((x) => x.role === role).slice(0, max)) {
        this.traces.push({ node: n, trace: emptyTrace(n.id, role) });
      }
    };
    pick('anchor', MAX_TRACED.anchors);
    pick('honest', MAX_TRACED.honest);
    pick('byzantine', MAX_TRACED.byzantine);
  }

  private report(): SimReport {
    const s = this.s;
    const tS = this.tS;
    const threshold = s.convergenceThresholdNs;
    const convergenceS = this.timemesh.figures(tS, 0, threshold).convergenceS;
    const statsFromS = s.statsFromS ?? convergenceS ?? 0;
    const tm = this.timemesh.figures(tS, statsFromS, threshold);
    const [widthP50, widthP99] = this.intervals.widthPercentiles(tS, statsFromS);
    const honestCount = this.nodes.filter((n) => n.role !== 'byzantine').length;
    const totals = { ...this.retired };
    for (const n of this.nodes) {
      if (n.core === null) continue;
      const c = n.core.counters;
      totals.started += c.exchangesStarted;
      totals.completed += c.exchangesCompleted;
      totals.announcements += c.announcementsPublished;
      totals.falsetickers += c.falsetickerMarks;
      totals.refFalsetickers += c.referenceFalsetickerMarks;
      totals.hlc += c.hlcRejections;
      totals.noQuorum += c.noQuorumRounds;
    }
    const minutes = s.durationS / 60;
    const iv = this.intervals;
    const report: SimReport = {
      schema: REPORT_SCHEMA,
      scenario: structuredClone(s) as unknown as Record<string, unknown>,
      seed: s.seed,
      durationS: s.durationS,
      statsFromS,
      counts: { nodes: s.nodes, honest: honestCount, byzantine: s.byzantine, anchors: s.anchors },
      honest: {
        ...tm,
        containment: iv.samples === 0 ? null : (iv.samples - iv.misses) / iv.samples,
        containmentSamples: iv.samples,
        containmentMisses: iv.misses,
        unsynchronizedSamples: iv.unsynchronized,
        widthNsP50: widthP50 ?? null,
        widthNsP99: widthP99 ?? null,
        messagesPerNodePerMinute: round3(
          (totals.started + totals.announcements) / Math.max(1, honestCount) / minutes,
        ),
      },
      convergenceS: tm.convergenceS,
      precisionNsMax: tm.precisionNsMax,
      baselines: {
        average: this.average.figures(tS, statsFromS, threshold),
        seedMedianBlend: this.seed.figures(tS, statsFromS, threshold),
      },
      events: {
        processed: this.processed,
        exchangesStarted: totals.started,
        exchangesCompleted: totals.completed,
        exchangesLost: this.exchangesLost,
        announcementsPublished: totals.announcements,
        falsetickerMarks: totals.falsetickers,
        referenceFalsetickerMarks: totals.refFalsetickers,
        hlcRejections: totals.hlc,
        noQuorumRounds: totals.noQuorum,
      },
      checks: [],
      passed: true,
      series: {
        stepS: s.sampleIntervalS,
        tS,
        honestErrorNsP50: tS.map((_, i) => this.timemesh.instantPercentiles(i)[0] ?? null),
        honestErrorNsP99: tS.map((_, i) => this.timemesh.instantPercentiles(i)[1] ?? null),
        honestErrorNsMax: tS.map((_, i) => this.timemesh.instantPercentiles(i)[2] ?? null),
        honestWidthNsP50: tS.map((_, i) => iv.widthP50At(i)),
        baselineAverageErrorNsP99: tS.map((_, i) => this.average.instantPercentiles(i)[1] ?? null),
        baselineSeedErrorNsP99: tS.map((_, i) => this.seed.instantPercentiles(i)[1] ?? null),
        nodes: this.traces.map((t) => t.trace),
      },
    };
    report.checks = evaluateChecks(report, s.checks);
    report.passed = report.checks.every((c) => c.pass);
    return report;
  }
}

function nodeId(i: number): string {
  return `n${String(i).padStart(4, '0')}`;
}

function parseNodeId(id: string): number {
  return Number.parseInt(id.slice(1), 10);
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
