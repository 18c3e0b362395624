/**
 * The simulator's second engine: real libp2p stacks in one process on 127.0.0.1, each driven by the
 * daemon's own `TimeService` (signed sample exchanges, gossipsub announcements, the real `NodeCore`),
 * with simulated oscillators, for integration runs (`timemesh sim --engine libp2p`).
 *
 * Truth and oscillators. One `hostOscillator()` (node/localClock.ts) is read by everybody: it is true
 * time for this run. Every node's raw oscillator is that same reading passed through the deterministic
 * simulator's oscillator model (sim/oscillator.ts: an initial offset, a frequency error and a random
 * walk of the frequency, drawn from the seed). Sharing one host reading makes every node's truth the
 * very same clock: separate `hostOscillator()`s would each take their own realtime start, and any
 * error in that (Date.now() alone is 1 ms coarse) would add to the figures being measured. Anchors
 * (nodes 0 .. anchors−1) read the host timebase itself and run with `localStratum: 1`, which is how a
 * daemon makes itself a reference, so they are exact by construction; the figures that say something
 * are the followers'.
 *
 * Measurement. Every `sampleIntervalS` each node's `service.read()` is taken, and the true time of that
 * very oscillator reading is what the error is measured against (the oscillator remembers the host
 * reading it was derived from), so the sampling loop adds no error of its own.
 *
 * Start-up, before t = 0 of the report: every node is created with createMeshNode (the daemon's libp2p
 * assembly) and joins through node 0; then every pair is connected (connectMesh: new connections are
 * the most expensive thing libp2p does, better paid before measuring); then the time services start,
 * 150 ms apart. Two libp2p defaults assume one host is one node and are worked around here, for
 * loopback only: the 5-per-second inbound connection limit per host (dials are retried) and
 * gossipsub's IP-colocation penalty (127.0.0.1 is whitelisted).
 *
 * HAZARD: this engine is NOT deterministic. It runs in real time on real sockets and timers, and every
 * node shares one event loop and the machine's cores, so a busy machine or a burst of work for all
 * nodes at once (20 announcements, each checked by every node) shows up as delay in the exchanges,
 * and so as offset error. The report carries the event-loop delay and the host's load for that
 * reason. The seed fixes the oscillators, nothing else. The deterministic engine (sim/simulator.ts)
 * must never import this module, nor mesh/, libp2p or node/ besides node/core/ (eslint.config.js).
 */
import { availableParallelism, loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { TimemeshError } from '../hlc/errors.ts';
import { UNBOUNDED_NS } from '../hlc/timeTypes.ts';
import type { SyncStatus } from '../hlc/timeTypes.ts';
import { createMeshNode } from '../mesh/meshNode.ts';
import type { MeshLibp2p } from '../mesh/meshNode.ts';
import { createSigner } from '../mesh/signing.ts';
import { TimeService } from '../mesh/timeService.ts';
import { DEFAULT_CORE_CONFIG, resolveCoreConfig } from '../node/core/config.ts';
import type { NodeCoreConfig } from '../node/core/config.ts';
import { hostOscillator } from '../node/localClock.ts';
import type { LocalClock } from '../node/localClock.ts';
import { AccuracyTracker } from './metrics.ts';
import { Oscillator } from './oscillator.ts';
import { SimRng } from './rng.ts';
import type { AccuracyFigures } from './reportTypes.ts';
import { formatNs } from './summary.ts';

export const LIBP2P_REPORT_SCHEMA = 'timemesh.sim-libp2p.report/1';

/** Limits on what one process is asked to run: sockets, file descriptors and one event loop. */
export const LIBP2P_NODES_MAX = 100;
export const LIBP2P_DURATION_S_MAX = 86_400;
const LOOPBACK = '127.0.0.1';
/**
 * Pubsub peer discovery floods every node's record to every node, its signature checked on every copy
 * (gossipsub verifies before it drops duplicates): with 20 nodes in one event loop at the daemon's
 * 10 s that costs a fifth of a core and stalls the loop for up to a second. The engine connects every
 * pair itself (connectMesh), so discovery has nothing to find and runs rarely.
 */
const DISCOVERY_INTERVAL_MS = 60_000;
const START_SPACING_MS = 150;
const DIAL_ATTEMPTS_MAX = 60;
const DIAL_RETRY_MS = 250;
const DIAL_TIMEOUT_MS = 5000;

/**
 * Core settings for a run of a minute, over the daemon's defaults (node/core/config.ts), which poll
 * every 4–64 s after a 4 × 2 s burst: right for a host that runs for months, a handful of rounds in
 * 60 s. These poll every 1–4 s after a 4 × 1 s burst. k = 4 peers per round instead of 8: a round's
 * exchanges run at once and, here, every requester and responder shares one event loop, so each
 * exchange's measured delay (and with it the offset error it can carry) grows with the others in
 * flight; four at a time gave smaller errors than eight in the runs measured (README). Announcements
 * keep the daemon's 30 s: each one is flooded to every node and checked on every copy.
 */
export const LIBP2P_CORE_DEFAULTS: Partial<Omit<NodeCoreConfig, 'nodeId'>> = {
  pollPeers: 4,
  burstRounds: 4,
  burstIntervalS: 1,
  minPollS: 1,
  maxPollS: 4,
};

export interface Libp2pOscillatorModel {
  /** Initial offsets are uniform in ±initialOffsetNs. */
  initialOffsetNs: number;
  /** Frequency errors are uniform in ±frequencyPpm. */
  frequencyPpm: number;
  /** Random walk of the frequency, ppm per √s (see sim/oscillator.ts). */
  wanderPpmPerSqrtS: number;
}

/** The deterministic scenarios' defaults (sim/scenario.ts): ±100 ms, ±50 ppm, 0.001 ppm/√s. */
export const LIBP2P_OSCILLATOR_DEFAULTS: Libp2pOscillatorModel = {
  initialOffsetNs: 1e8,
  frequencyPpm: 50,
  wanderPpmPerSqrtS: 0.001,
};

export interface Libp2pSimOptions {
  /** 2 .. LIBP2P_NODES_MAX. */
  nodes: number;
  /** Nodes 0 .. anchors−1 are local-stratum-1 references on the host clock; 0 .. nodes − 1. */
  anchors: number;
  /** Real seconds to run after every node has started. */
  durationS: number;
  /** Draws the oscillators (and nothing else: the run itself is not reproducible). */
  seed: string;
  /** How often every node is read (default 1 s). */
  sampleIntervalS?: number;
  /** |error| every follower must stay within to count as converged (default 1 ms). */
  convergenceThresholdNs?: number;
  oscillator?: Partial<Libp2pOscillatorModel>;
  /** Core overrides on top of LIBP2P_CORE_DEFAULTS (pollPeers, faultTolerance, …). */
  core?: Partial<Omit<NodeCoreConfig, 'nodeId' | 'localStratum'>>;
  /** Mesh (topic) name. */
  network?: string;
  /** Ends the run early; the report covers what ran. */
  signal?: AbortSignal;
  /** Called after every sample with the real seconds since start-up and the verified exchanges so far. */
  onSample?: (elapsedS: number, exchangesOk: number) => void;
}

/**
 * Figures over a set of nodes. |error| = |best − true|; percentiles are nearest-rank over all (node,
 * sample) pairs from statsFromS on; precisionNsMax is the largest spread of best between the nodes.
 */
export interface Libp2pFigures extends AccuracyFigures {
  nodes: number;
  /** Fraction 0..1 of synchronized samples whose [earliest, latest] contained true time, whole run. */
  containment: number | null;
  containmentSamples: number;
  containmentMisses: number;
  /** The same from statsFromS on. */
  containmentFromStats: number | null;
  containmentSamplesFromStats: number;
  unsynchronizedSamples: number;
  /** latest − earliest of synchronized samples from statsFromS on. */
  widthNsP50: number | null;
  widthNsP99: number | null;
  /** Largest |error| of these nodes at the last sample. */
  finalErrorNsMax: number | null;
}

export interface Libp2pNodeSummary {
  index: number;
  peerId: string;
  role: 'anchor' | 'follower';
  initialOffsetNs: number;
  frequencyPpm: number;
  /** Open connections when the run ended (a full mesh has nodes − 1, more while two dialled each other). */
  connections: number;
  /** Peers this node held a sample of when the run ended. */
  peersMeasured: number;
  samplesByOutcome: Record<string, number>;
  /** The last sample; null when nothing was sampled. */
  final: { errorNs: number; widthNs: number | null; status: SyncStatus } | null;
  /** First sample from which this node stayed within the threshold, or null. */
  convergenceS: number | null;
}

export interface Libp2pSimReport {
  schema: typeof LIBP2P_REPORT_SCHEMA;
  deterministic: false;
  note: string;
  options: {
    nodes: number;
    anchors: number;
    durationS: number;
    seed: string;
    sampleIntervalS: number;
    convergenceThresholdNs: number;
    oscillator: Libp2pOscillatorModel;
    /** Every core setting the nodes ran with (localStratum is 1 on the anchors, null elsewhere). */
    core: Omit<NodeCoreConfig, 'nodeId'>;
    network: string;
  };
  startedAt: string;
  /** Real seconds from the first node's creation until every node had started and joined. */
  startupS: number;
  /** Real seconds run after start-up (less than options.durationS when aborted). */
  durationS: number;
  aborted: boolean;
  counts: { nodes: number; anchors: number; followers: number };
  /** First sample (seconds after start-up) from which every follower stayed within the threshold. */
  convergenceS: number | null;
  /** Error statistics start here: convergenceS, or 0 when the run never converged. */
  statsFromS: number;
  /** Non-anchor nodes: the figures that measure the mesh (anchors are exact by construction). */
  followers: Libp2pFigures;
  /** Every node, anchors included, as the deterministic report's "honest" (there are no attackers). */
  honest: Libp2pFigures;
  connections: { min: number; max: number };
  /** Sums over all nodes of TimeService.counters and of a few NodeCore counters. */
  counters: {
    samplesByOutcome: Record<string, number>;
    inboundRequests: Record<string, number>;
    gossipByOutcome: Record<string, number>;
    rounds: number;
    noQuorumRounds: number;
    falsetickerMarks: number;
    steps: number;
  };
  /** What the run had to work with: this is where an engine in one process is weak. */
  host: {
    /** os.availableParallelism(). */
    cpus: number;
    /** os.loadavg() 1-minute figure before and after: other work on the machine. */
    loadAverage1mStart: number;
    loadAverage1mEnd: number;
    /** Process CPU time (user + system) over real time after start-up, percent of one core. */
    cpuPercent: number;
    /** Fraction 0..1 of real time after start-up the event loop was busy. */
    eventLoopUtilization: number;
    /**
     * Lateness of the one event loop every node shares (perf_hooks.monitorEventLoopDelay, 10 ms
     * resolution, so p50 ≈ 10 ms means "on time"), after start-up. A stall delays the timestamps of
     * the exchanges in flight: their delay grows, and their offset error can grow by half of it.
     */
    eventLoopDelayMs: { p50: number; p99: number; max: number };
    peakRssMiB: number;
  };
  nodes: Libp2pNodeSummary[];
  series: {
    tS: number[];
    followersErrorNsMax: (number | null)[];
    followersWidthNsP50: (number | null)[];
    /** Largest event-loop delay since the previous sample, ms (0 at the first sample). */
    eventLoopDelayMsMax: number[];
  };
}

interface Sample {
  errorNs: number;
  /** null while unsynchronized (the interval is unbounded). */
  widthNs: number | null;
  contained: boolean;
  status: SyncStatus;
}

/** A node's raw oscillator: the shared host timebase through the simulator's oscillator model. */
class SimulatedOscillator implements LocalClock {
  /** The true time of the last reading handed out. */
  lastTrueNs = 0n;

  constructor(
    private readonly truth: LocalClock,
    private readonly epochNs: bigint,
    private readonly model: Oscillator | null,
  ) {}

  nowNs(): bigint {
    const t = this.truth.nowNs();
    this.lastTrueNs = t;
    return this.model === null ? t : this.model.local(Number(t - this.epochNs));
  }
}

interface RunningNode {
  index: number;
  role: 'anchor' | 'follower';
  peerId: string;
  libp2p: MeshLibp2p;
  /** null until created (a failed start-up stops what exists). */
  service: TimeService | null;
  clock: SimulatedOscillator;
  initialOffsetNs: number;
  frequencyPpm: number;
  samples: Sample[];
  /** Open connections just before the nodes were stopped. */
  connectionsAtEnd: number;
}

function bad(field: string, want: string, got: unknown): never {
  throw new TimemeshError('TM_ERR_CONFIG', `libp2p engine ${field}: expected ${want}, got ${String(got)}`);
}

function validate(o: Libp2pSimOptions): void {
  if (!Number.isInteger(o.nodes) || o.nodes < 2 || o.nodes > LIBP2P_NODES_MAX) {
    bad('nodes', `an integer 2..${LIBP2P_NODES_MAX}`, o.nodes);
  }
  if (!Number.isInteger(o.anchors) || o.anchors < 0 || o.anchors >= o.nodes) {
    bad('anchors', `an integer 0..nodes − 1 (${o.nodes - 1}): at least one follower`, o.anchors);
  }
  if (!(o.durationS >= 1 && o.durationS <= LIBP2P_DURATION_S_MAX)) {
    bad('durationS', `1..${LIBP2P_DURATION_S_MAX} seconds`, o.durationS);
  }
  const step = o.sampleIntervalS ?? 1;
  if (!(step >= 0.1 && step <= o.durationS)) bad('sampleIntervalS', `0.1 s..durationS`, step);
  const threshold = o.convergenceThresholdNs ?? 1e6;
  if (!(threshold > 0 && Number.isFinite(threshold)))
    bad('convergenceThresholdNs', 'a number > 0', threshold);
  for (const [k, v] of Object.entries(o.oscillator ?? {})) {
    if (!(typeof v === 'number' && v >= 0 && Number.isFinite(v))) bad(`oscillator.${k}`, 'a number ≥ 0', v);
  }
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, Math.max(0, ms));
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * Dials `target`, retrying: libp2p refuses more than 5 new inbound connections per second from one
 * host (the connection manager's inboundConnectionThreshold), and here every node is the same host,
 * 127.0.0.1. (The bootstrap module dials once, so without retries a 20-node start-up leaves most nodes
 * outside the mesh.)
 */
async function dialWithRetry(
  libp2p: MeshLibp2p,
  target: string,
  what: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await libp2p.dial(multiaddr(target), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) });
      return;
    } catch (err) {
      if (signal?.aborted === true) return;
      if (attempt >= DIAL_ATTEMPTS_MAX) {
        throw new TimemeshError(
          'TM_ERR_SIM_LIBP2P',
          `libp2p engine: ${what}: could not connect to ${target} in ${attempt} attempts: ${(err as Error).message}`,
        );
      }
      await sleep(DIAL_RETRY_MS, signal);
    }
  }
}

/**
 * Connects every pair of nodes before any time service starts. A new connection is the most expensive
 * thing libp2p does here (Noise handshake, identify with signed peer records, gossipsub streams), and
 * the time services would otherwise open most of the ~n²/2 of them in their first rounds, all in the
 * one event loop: with 20 nodes that stalled the loop for up to 4 s in the middle of the first
 * exchanges, and a node stepped its clock 434 ms off on the samples it took then. Connected up front,
 * the start-up pays for it and the measured run begins on a quiet loop. Which peers a node measures
 * is still the core's choice; it hears of all of them as they connect, as a long-running daemon does.
 * Dials go one at a time, row by row, so no node takes more than the 5 new connections a second
 * libp2p accepts from one host.
 */
async function connectMesh(nodes: RunningNode[], signal: AbortSignal | undefined): Promise<void> {
  for (let j = 1; j < nodes.length; j++) {
    for (let i = 0; i < j; i++) {
      if (signal?.aborted === true) return;
      const [from, to] = [nodes[j]!.libp2p, nodes[i]!.libp2p];
      if (from.getConnections(to.peerId).length > 0) continue;
      await dialWithRetry(from, to.getMultiaddrs()[0]!.toString(), `node ${j} → node ${i}`, signal);
    }
  }
}

/**
 * Runs `nodes` real libp2p nodes on 127.0.0.1 for `durationS` real seconds and measures them against
 * the host clock. Always stops every node it started, also when it fails or is aborted.
 */
export async function runLibp2pSim(options: Libp2pSimOptions): Promise<Libp2pSimReport> {
  validate(options);
  const sampleIntervalS = options.sampleIntervalS ?? 1;
  const thresholdNs = options.convergenceThresholdNs ?? 1e6;
  const osc: Libp2pOscillatorModel = { ...LIBP2P_OSCILLATOR_DEFAULTS, ...options.oscillator };
  const core: Omit<NodeCoreConfig, 'nodeId'> = {
    ...DEFAULT_CORE_CONFIG,
    ...LIBP2P_CORE_DEFAULTS,
    ...stripUndefined(options.core ?? {}),
    localStratum: null,
  };
  // A bad core override is refused here, before any node starts (it throws naming the field).
  resolveCoreConfig({ ...core, nodeId: 'libp2p-engine' });
  const network = options.network ?? 'sim-libp2p';
  const signal = options.signal;
  const aborted = (): boolean => signal?.aborted === true;
  const startedAt = new Date().toISOString();
  const loadAverageStart = round3(loadavg()[0]!);

  const truth = hostOscillator();
  const epochNs = truth.nowNs();
  const elapsedS = (): number => Number(truth.nowNs() - epochNs) / 1e9;
  // The same streams and order of draws as the deterministic engine (sim/simulator.ts).
  const setup = SimRng.fork(options.seed, 'setup');
  const nodes: RunningNode[] = [];
  const tS: number[] = [];
  let startupS = 0;
  let runS: number;
  // How late the one event loop runs: every node's timers and socket reads wait that long.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const loopDelayStep = monitorEventLoopDelay({ resolution: 10 });
  const loopDelaySeries: number[] = [];
  let load: Pick<Libp2pSimReport['host'], 'cpuPercent' | 'eventLoopUtilization'>;
  try {
    let bootstrap: string | null = null;
    for (let i = 0; i < options.nodes && !aborted(); i++) {
      const offsetNs = setup.uniform(-osc.initialOffsetNs, osc.initialOffsetNs);
      const frequencyPpm = setup.uniform(-osc.frequencyPpm, osc.frequencyPpm);
      const anchor = i < options.anchors;
      const model = anchor
        ? null
        : new Oscillator(
            epochNs,
            offsetNs,
            frequencyPpm,
            osc.wanderPpmPerSqrtS,
            SimRng.fork(options.seed, `osc/${i}`),
          );
      const clock = new SimulatedOscillator(truth, epochNs, model);
      const key = await generateKeyPair('Ed25519');
      const peerId = peerIdFromPrivateKey(key).toString();
      const libp2p = await createMeshNode({
        privateKey: key,
        network,
        listen: [`/ip4/${LOOPBACK}/tcp/0`],
        bootstrap: bootstrap === null ? [] : [bootstrap],
        discoveryIntervalMs: DISCOVERY_INTERVAL_MS,
      });
      const node: RunningNode = {
        index: i,
        role: anchor ? 'anchor' : 'follower',
        peerId,
        libp2p,
        service: null,
        clock,
        initialOffsetNs: anchor ? 0 : offsetNs,
        frequencyPpm: anchor ? 0 : frequencyPpm,
        samples: [],
        connectionsAtEnd: 0,
      };
      nodes.push(node);
      // Every node joins through node 0, as an operator's nodes join through a bootstrap address.
      if (bootstrap === null) bootstrap = libp2p.getMultiaddrs()[0]!.toString();
      else await dialWithRetry(libp2p, bootstrap, `node ${i} joining through node 0`, signal);
      node.service = new TimeService({
        libp2p,
        clock,
        signer: createSigner(key, peerId),
        network,
        // localStratum 1 is how a daemon makes itself a reference (`--local-stratum 1`).
        core: { ...core, ...(anchor ? { localStratum: 1 } : {}) },
      });
    }
    await connectMesh(nodes, signal);
    // START_SPACING_MS apart: started together, the nodes would announce together every
    // announceIntervalS, and a burst of 20 announcements, each checked by every node, stalls the loop.
    for (const n of nodes) {
      if (aborted()) break;
      await n.service!.start();
      await sleep(START_SPACING_MS, signal);
    }
    startupS = elapsedS();
    loopDelay.enable();
    loopDelayStep.enable();
    const cpuStart = process.cpuUsage();
    const eluStart = performance.eventLoopUtilization();

    const sampleAll = (): void => {
      tS.push(round3(elapsedS() - startupS));
      for (const n of nodes) {
        const r = n.service!.read();
        // The true time of the very oscillator reading read() was computed from.
        const trueNs = n.clock.lastTrueNs;
        const widthNs = Number(r.latestNs - r.earliestNs);
        const synchronized = r.status !== 'unsynchronized' && widthNs < UNBOUNDED_NS;
        n.samples.push({
          errorNs: Number(r.bestNs - trueNs),
          widthNs: synchronized ? widthNs : null,
          contained: r.earliestNs <= trueNs && trueNs <= r.latestNs,
          status: r.status,
        });
      }
      loopDelaySeries.push(tS.length === 1 ? 0 : round3(loopDelayStep.max / 1e6));
      loopDelayStep.reset();
      options.onSample?.(tS[tS.length - 1]!, sumOk(nodes));
    };
    if (!aborted()) {
      sampleAll();
      // Sample at startupS + k·step on the host clock, so the instants do not drift with timer lateness.
      for (let k = 1; k * sampleIntervalS <= options.durationS + 1e-9; k++) {
        await sleep((startupS + k * sampleIntervalS - elapsedS()) * 1000, signal);
        if (aborted()) break;
        sampleAll();
      }
    }
    runS = elapsedS() - startupS;
    const cpu = process.cpuUsage(cpuStart);
    load = {
      cpuPercent: runS > 0 ? Math.round(((cpu.user + cpu.system) / 1e6 / runS) * 100) : 0,
      eventLoopUtilization: round3(performance.eventLoopUtilization(eluStart).utilization),
    };
  } finally {
    loopDelay.disable();
    loopDelayStep.disable();
    // Services first, so that no node starts an exchange towards a peer that is going away.
    await Promise.allSettled(nodes.map((n) => n.service?.stop()));
    for (const n of nodes) n.connectionsAtEnd = n.libp2p.getConnections().length;
    await Promise.allSettled(nodes.map((n) => n.libp2p.stop()));
  }

  return buildReport({
    options,
    sampleIntervalS,
    thresholdNs,
    osc,
    core,
    network,
    startedAt,
    startupS,
    runS,
    tS,
    nodes,
    host: {
      cpus: availableParallelism(),
      loadAverage1mStart: loadAverageStart,
      loadAverage1mEnd: round3(loadavg()[0]!),
      ...load,
      eventLoopDelayMs: {
        p50: tS.length === 0 ? 0 : round3(loopDelay.percentile(50) / 1e6),
        p99: tS.length === 0 ? 0 : round3(loopDelay.percentile(99) / 1e6),
        max: round3(loopDelay.max / 1e6),
      },
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    },
    loopDelaySeries,
  });
}

function sumOk(nodes: RunningNode[]): number {
  let ok = 0;
  for (const n of nodes) ok += n.service?.counters.samplesByOutcome.ok ?? 0;
  return ok;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** Nearest-rank percentile of a sorted array. */
function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

/** The first instant from which `withinAt` holds to the end, or null (as sim/metrics.ts). */
function convergenceOf(tS: number[], withinAt: (i: number) => boolean): number | null {
  let first: number | null = null;
  for (let i = 0; i < tS.length; i++) {
    if (withinAt(i)) first ??= tS[i]!;
    else first = null;
  }
  return first;
}

function figures(group: RunningNode[], tS: number[], statsFromS: number, thresholdNs: number): Libp2pFigures {
  const accuracy = new AccuracyTracker();
  let samples = 0;
  let misses = 0;
  let samplesFrom = 0;
  let missesFrom = 0;
  let unsynchronized = 0;
  const widths: number[] = [];
  for (let i = 0; i < tS.length; i++) {
    accuracy.beginInstant();
    const fromStats = tS[i]! >= statsFromS;
    for (const n of group) {
      const s = n.samples[i]!;
      accuracy.add(s.errorNs);
      if (s.widthNs === null) {
        unsynchronized++;
        continue;
      }
      samples++;
      if (!s.contained) misses++;
      if (fromStats) {
        samplesFrom++;
        if (!s.contained) missesFrom++;
        widths.push(s.widthNs);
      }
    }
    accuracy.endInstant();
  }
  widths.sort((a, b) => a - b);
  const last = tS.length - 1;
  return {
    nodes: group.length,
    ...accuracy.figures(tS, statsFromS, thresholdNs),
    containment: samples === 0 ? null : (samples - misses) / samples,
    containmentSamples: samples,
    containmentMisses: misses,
    containmentFromStats: samplesFrom === 0 ? null : (samplesFrom - missesFrom) / samplesFrom,
    containmentSamplesFromStats: samplesFrom,
    unsynchronizedSamples: unsynchronized,
    widthNsP50: percentile(widths, 0.5),
    widthNsP99: percentile(widths, 0.99),
    finalErrorNsMax:
      last < 0 || group.length === 0
        ? null
        : Math.max(...group.map((n) => Math.abs(n.samples[last]!.errorNs))),
  };
}

function sumInto(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

function buildReport(x: {
  options: Libp2pSimOptions;
  sampleIntervalS: number;
  thresholdNs: number;
  osc: Libp2pOscillatorModel;
  core: Omit<NodeCoreConfig, 'nodeId'>;
  network: string;
  startedAt: string;
  startupS: number;
  runS: number;
  tS: number[];
  nodes: RunningNode[];
  host: Libp2pSimReport['host'];
  loopDelaySeries: number[];
}): Libp2pSimReport {
  const { tS, nodes, thresholdNs } = x;
  const followers = nodes.filter((n) => n.role === 'follower');
  const within = (n: RunningNode, i: number): boolean => {
    const s = n.samples[i]!;
    return s.status !== 'unsynchronized' && Math.abs(s.errorNs) <= thresholdNs;
  };
  const convergenceS =
    followers.length === 0 ? null : convergenceOf(tS, (i) => followers.every((n) => within(n, i)));
  const statsFromS = convergenceS ?? 0;
  const counters: Libp2pSimReport['counters'] = {
    samplesByOutcome: {},
    inboundRequests: {},
    gossipByOutcome: {},
    rounds: 0,
    noQuorumRounds: 0,
    falsetickerMarks: 0,
    steps: 0,
  };
  for (const { service } of nodes) {
    if (service === null) continue;
    sumInto(counters.samplesByOutcome, service.counters.samplesByOutcome);
    sumInto(counters.inboundRequests, service.counters.inboundRequests);
    sumInto(counters.gossipByOutcome, service.counters.gossipByOutcome);
    const c = service.core.counters;
    counters.rounds += c.rounds;
    counters.noQuorumRounds += c.noQuorumRounds;
    counters.falsetickerMarks += c.falsetickerMarks;
    counters.steps += c.steps;
  }
  const last = tS.length - 1;
  const followerSamples = tS.map((_, i) => followers.map((n) => n.samples[i]!));
  const connections = nodes.map((n) => n.connectionsAtEnd);
  return {
    schema: LIBP2P_REPORT_SCHEMA,
    deterministic: false,
    note:
      'NOT deterministic: real libp2p nodes on 127.0.0.1 sockets, real timers and real time, every ' +
      'node in one process and one event loop. The seed fixes the oscillators only; two runs differ.',
    options: {
      nodes: x.options.nodes,
      anchors: x.options.anchors,
      durationS: x.options.durationS,
      seed: x.options.seed,
      sampleIntervalS: x.sampleIntervalS,
      convergenceThresholdNs: thresholdNs,
      oscillator: x.osc,
      core: x.core,
      network: x.network,
    },
    startedAt: x.startedAt,
    startupS: round3(x.startupS),
    durationS: round3(x.runS),
    aborted: x.options.signal?.aborted === true,
    counts: { nodes: nodes.length, anchors: nodes.length - followers.length, followers: followers.length },
    convergenceS,
    statsFromS,
    followers: figures(followers, tS, statsFromS, thresholdNs),
    honest: figures(nodes, tS, statsFromS, thresholdNs),
    connections: {
      min: connections.length === 0 ? 0 : Math.min(...connections),
      max: connections.length === 0 ? 0 : Math.max(...connections),
    },
    counters,
    host: x.host,
    nodes: nodes.map((n) => {
      const s = last < 0 ? undefined : n.samples[last];
      return {
        index: n.index,
        peerId: n.peerId,
        role: n.role,
        initialOffsetNs: Math.round(n.initialOffsetNs),
        frequencyPpm: round3(n.frequencyPpm),
        connections: n.connectionsAtEnd,
        peersMeasured:
          n.service?.snapshot().sources.filter((src) => src.kind === 'peer' && src.lastSampleLocalNs !== null)
            .length ?? 0,
        samplesByOutcome: { ...n.service?.counters.samplesByOutcome },
        final: s === undefined ? null : { errorNs: s.errorNs, widthNs: s.widthNs, status: s.status },
        convergenceS: n.samples.length === 0 ? null : convergenceOf(tS, (i) => within(n, i)),
      };
    }),
    series: {
      tS,
      followersErrorNsMax: followerSamples.map((ss) =>
        ss.length === 0 ? null : Math.max(...ss.map((s) => Math.abs(s.errorNs))),
      ),
      followersWidthNsP50: followerSamples.map((ss) =>
        percentile(
          ss.flatMap((s) => (s.widthNs === null ? [] : [s.widthNs])).sort((a, b) => a - b),
          0.5,
        ),
      ),
      eventLoopDelayMsMax: x.loopDelaySeries,
    },
  };
}

function percent(v: number | null): string {
  return v === null ? '—' : `${(v * 100).toFixed(4)}%`;
}

function outcomes(m: Record<string, number>): string {
  const entries = Object.entries(m)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${v}`).join(', ');
}

/** The text a person reads after a run (stdout); the CLI prints the options and progress on stderr. */
export function formatLibp2pSummary(r: Libp2pSimReport): string {
  const o = r.options;
  const k = o.core;
  const f = r.followers;
  const c = r.counters;
  const h = r.host;
  const ok = c.samplesByOutcome.ok ?? 0;
  const exchanges = Object.values(c.samplesByOutcome).reduce((a, b) => a + b, 0);
  const { published = 0, 'publish-failed': publishFailed = 0, ...received } = c.gossipByOutcome;
  const receivedTotal = Object.values(received).reduce((a, b) => a + b, 0);
  const threshold = formatNs(o.convergenceThresholdNs);
  const settled = r.nodes
    .filter((n) => n.role === 'follower' && n.convergenceS !== null)
    .map((n) => n.convergenceS!)
    .sort((a, b) => a - b);
  return [
    `libp2p engine: ${r.counts.nodes} nodes on ${LOOPBACK} in one process (${r.counts.anchors} anchors at local stratum 1 on the host clock, ${r.counts.followers} followers), ${r.durationS} s real time${r.aborted ? ' (aborted)' : ''} after a ${r.startupS} s start-up, seed ${o.seed}`,
    `NOT deterministic: real sockets, timers and time; the seed fixes the oscillators only`,
    `oscillators ±${formatNs(o.oscillator.initialOffsetNs)}, ±${o.oscillator.frequencyPpm} ppm, wander ${o.oscillator.wanderPpmPerSqrtS} ppm/√s; core: ${k.pollPeers} peers per round, poll ${k.minPollS}–${k.maxPollS} s after ${k.burstRounds} × ${k.burstIntervalS} s, announce every ${k.announceIntervalS} s, f ${k.faultTolerance ?? 'derived'}`,
    `connections per node at the end: min ${r.connections.min}, max ${r.connections.max} (a full mesh is ${r.counts.nodes - 1})`,
    '',
    r.convergenceS === null
      ? `converged: never (not every follower stayed within ${threshold} of true time to the end)`
      : `converged: every follower within ${threshold} of true time from t = ${r.convergenceS} s on`,
    `followers that stayed within ${threshold} from some sample on: ${settled.length}/${r.counts.followers}${settled.length > 0 ? `, from t = ${percentile(settled, 0.5)} s (median), ${settled[settled.length - 1]} s (last)` : ''}`,
    `followers from t = ${r.statsFromS} s: |error| p50 ${formatNs(f.errorNsP50)}, p99 ${formatNs(f.errorNsP99)}, max ${formatNs(f.errorNsMax)}; largest spread between them ${formatNs(f.precisionNsMax)}; at the end max ${formatNs(f.finalErrorNsMax)}`,
    `containment ${percent(f.containment)} (${f.containmentSamples - f.containmentMisses}/${f.containmentSamples} synchronized samples, whole run; ${f.unsynchronizedSamples} unsynchronized); from t = ${r.statsFromS} s ${percent(f.containmentFromStats)}`,
    `interval width p50 ${formatNs(f.widthNsP50)}, p99 ${formatNs(f.widthNsP99)}`,
    `exchanges ${ok}/${exchanges} verified (${outcomes(c.samplesByOutcome)}); inbound ${outcomes(c.inboundRequests)}`,
    `gossip published ${published}${publishFailed > 0 ? ` (${publishFailed} failed)` : ''}, received ${receivedTotal} (${outcomes(received)}); rounds ${c.rounds}, without quorum ${c.noQuorumRounds}; falseticker marks ${c.falsetickerMarks}; steps ${c.steps}`,
    `host: ${h.cpus} CPUs, load average ${h.loadAverage1mStart} → ${h.loadAverage1mEnd}; this process ${h.cpuPercent}% of one core, event loop busy ${(h.eventLoopUtilization * 100).toFixed(0)}%, loop delay p50 ${h.eventLoopDelayMs.p50} ms, p99 ${h.eventLoopDelayMs.p99} ms, max ${h.eventLoopDelayMs.max} ms; peak RSS ${h.peakRssMiB} MiB`,
  ].join('\n');
}
