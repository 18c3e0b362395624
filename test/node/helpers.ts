// Shared fixtures for the node/core tests: a tiny deterministic Rng, served samples from peers whose
// clocks the test defines, and a hand-driven loop that plays the part of a driver (like sim/simulator.ts).
import assert from 'node:assert/strict';
import type { HlcTimestamp } from '../../hlc/hlc.ts';
import type { AnchorKind, SyncStatus } from '../../hlc/timeTypes.ts';
import type { NodeCore } from '../../node/core/nodeCore.ts';
import type { CompletedExchange, NodeAction, Rng, ServedSample } from '../../node/core/types.ts';

/** A base instant for local times (about 2027), so nothing is near zero or near 2^63. */
export const BASE_NS = 1_800_000_000_000_000_000n;
export const S_NS = 1_000_000_000n;
export const MS_NS = 1_000_000n;

/** Numerical Recipes LCG; deterministic, good enough to pick peers. */
export class LcgRng implements Rng {
  private state: number;
  draws = 0;

  constructor(seed = 1) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.draws++;
    this.state = (Math.imul(this.state, 1_664_525) + 1_013_904_223) >>> 0;
    return this.state / 4_294_967_296;
  }
}

/**
 * A peer as the test defines it. Our own raw oscillator is the reference of the test: true time equals
 * our local time, so a peer whose reading is `true + offsetNs` has a true raw offset of `offsetNs`
 * (as seen from us, offset = peer − local) when it is honest about it.
 */
export interface PeerSpec {
  id: string;
  /** The peer's reading minus true time (what its clock says minus what is true). */
  offsetNs: number;
  /** Half-width of the interval the peer claims around its reading. */
  errorNs: number;
  status: SyncStatus;
  anchorKind: AnchorKind;
  stratum: number;
  /** One-way delays of the request and the response, in ns. */
  upNs: number;
  downNs: number;
  /** How far its HLC wallNs is ahead of its reading (0 for an honest peer). */
  hlcAheadNs: number;
  /** Where its claimed interval is centred relative to its reading (a liar can claim it is right). */
  intervalShiftNs: number;
  /** Never answers (the driver reports nothing; the round's deadline catches it). */
  silent: boolean;
}

export function peer(id: string, over: Partial<Omit<PeerSpec, 'id'>> = {}): PeerSpec {
  return {
    id,
    offsetNs: 0,
    errorNs: 100_000,
    status: 'synchronized',
    anchorKind: 'none',
    stratum: 3,
    upNs: 500_000,
    downNs: 500_000,
    hlcAheadNs: 0,
    intervalShiftNs: 0,
    silent: false,
    ...over,
  };
}

const PROCESSING_NS = 50_000;

/** The response a peer sends to a request that left us at local time t1, and the local time it lands. */
export function serve(p: PeerSpec, t1LocalNs: bigint): { response: ServedSample; t4LocalNs: bigint } {
  const trueT2 = t1LocalNs + BigInt(p.upNs);
  const trueT3 = trueT2 + BigInt(PROCESSING_NS);
  const t2PeerNs = trueT2 + BigInt(p.offsetNs);
  const t3PeerNs = trueT3 + BigInt(p.offsetNs);
  const centre = t3PeerNs - BigInt(p.intervalShiftNs);
  const unbounded = p.status === 'unsynchronized';
  const halfNs = unbounded ? 2n ** 62n : BigInt(p.errorNs);
  const hlc: HlcTimestamp = { wallNs: t3PeerNs + BigInt(p.hlcAheadNs), logical: 0, nodeId: p.id };
  return {
    response: {
      t2PeerNs,
      t3PeerNs,
      earliestNs: centre - halfNs,
      latestNs: centre + halfNs,
      rootDistanceNs: Number(halfNs),
      anchorKind: p.anchorKind,
      stratum: unbounded ? 16 : p.stratum,
      status: p.status,
      hlc,
    },
    t4LocalNs: trueT3 + BigInt(p.downNs),
  };
}

export type StartExchange = Extract<NodeAction, { type: 'startExchange' }>;
export type ClockCorrectionAction = Extract<NodeAction, { type: 'clockCorrection' }>;

export function ofType<T extends NodeAction['type']>(
  actions: readonly NodeAction[],
  type: T,
): Extract<NodeAction, { type: T }>[] {
  return actions.filter((a): a is Extract<NodeAction, { type: T }> => a.type === type);
}

export function wakeOf(actions: readonly NodeAction[]): bigint {
  const wakes = ofType(actions, 'wakeAt');
  assert.ok(wakes.length > 0, 'expected a wakeAt action');
  return wakes[wakes.length - 1]!.localNs;
}

/** Builds the completed exchange for one startExchange action, as a driver would measure it. */
export function complete(a: StartExchange, p: PeerSpec, t1LocalNs: bigint): CompletedExchange {
  const { response, t4LocalNs } = serve(p, t1LocalNs);
  return { exchangeId: a.exchangeId, peerId: a.peerId, t1LocalNs, t4LocalNs, response };
}

/**
 * One tick and the round it starts: every startExchange is answered by its peer (requests leave at
 * the tick's local time), responses are delivered in order of arrival, and every action is returned.
 */
export function tickAndAnswer(
  core: NodeCore,
  localNs: bigint,
  peers: ReadonlyMap<string, PeerSpec>,
): { actions: NodeAction[]; started: StartExchange[]; wakeNs: bigint } {
  const actions = core.handleTick(localNs);
  const started = ofType(actions, 'startExchange');
  let wakeNs = wakeOf(actions);
  const completions = started
    .filter((a) => {
      const p = peers.get(a.peerId);
      assert.ok(p !== undefined, `core asked unknown peer ${a.peerId}`);
      return !p.silent;
    })
    .map((a) => complete(a, peers.get(a.peerId)!, localNs))
    .sort((x, y) => (x.t4LocalNs < y.t4LocalNs ? -1 : x.t4LocalNs > y.t4LocalNs ? 1 : 0));
  for (const x of completions) {
    const more = core.handleExchangeCompleted(x);
    actions.push(...more);
    if (ofType(more, 'wakeAt').length > 0) wakeNs = wakeOf(more);
  }
  return { actions, started, wakeNs };
}

/** Runs the core like a driver until local time `untilNs`; returns every action and the last wake. */
export function runUntil(
  core: NodeCore,
  fromNs: bigint,
  untilNs: bigint,
  peers: ReadonlyMap<string, PeerSpec>,
): { actions: NodeAction[]; nextWakeNs: bigint; ticks: bigint[] } {
  const all: NodeAction[] = [];
  const ticks: bigint[] = [];
  let t = fromNs;
  let guard = 0;
  while (t <= untilNs) {
    assert.ok(++guard < 100_000, 'runaway driver loop');
    ticks.push(t);
    const r = tickAndAnswer(core, t, peers);
    all.push(...r.actions);
    assert.ok(r.wakeNs > t, `wakeAt ${r.wakeNs} does not move past ${t}`);
    t = r.wakeNs;
  }
  return { actions: all, nextWakeNs: t, ticks };
}

export function peerMap(peers: readonly PeerSpec[]): Map<string, PeerSpec> {
  return new Map(peers.map((p) => [p.id, p]));
}

/** The reading's raw offset (best − local) in ns. */
export function appliedNs(core: NodeCore, localNs: bigint): number {
  return Number(core.read(localNs).bestNs - localNs);
}
