import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TimemeshError } from '../../hlc/errors.ts';
import { compareHlc } from '../../hlc/hlc.ts';
import type { HlcTimestamp } from '../../hlc/hlc.ts';
import { DEFAULT_CORE_CONFIG, resolveCoreConfig } from '../../node/core/config.ts';
import type { NodeCoreConfig } from '../../node/core/config.ts';
import { evaluateExchange } from '../../node/core/exchange.ts';
import { NodeCore } from '../../node/core/nodeCore.ts';
import type { Announcement, NodeAction, ReferenceSample } from '../../node/core/types.ts';
import {
  BASE_NS,
  LcgRng,
  MS_NS,
  S_NS,
  appliedNs,
  complete,
  ofType,
  peer,
  peerMap,
  runUntil,
  tickAndAnswer,
  wakeOf,
  type PeerSpec,
} from './helpers.ts';

type Overrides = Partial<NodeCoreConfig>;

function makeCore(peers: Iterable<PeerSpec> | ReadonlyMap<string, PeerSpec>, over: Overrides = {}, seed = 1) {
  const core = new NodeCore({ nodeId: 'me', ...over }, { rng: new LcgRng(seed) });
  const list = peers instanceof Map ? [...peers.values()] : [...(peers as Iterable<PeerSpec>)];
  for (const p of list) core.handlePeerDiscovered(p.id);
  return core;
}

function ids(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

function source(core: NodeCore, id: string, localNs: bigint) {
  const s = core.snapshot(localNs).sources.find((x) => x.id === id);
  assert.ok(s !== undefined, `no source ${id}`);
  return s;
}

function isCoreConfigError(field: string) {
  return (e: unknown) =>
    e instanceof TimemeshError && e.code === 'TM_ERR_CORE_CONFIG' && e.message.includes(field);
}

function announcement(nodeId: string, atNs: bigint, over: Partial<Announcement> = {}): Announcement {
  return {
    nodeId,
    hlc: { wallNs: atNs, logical: 0, nodeId },
    bestNs: atNs,
    earliestNs: atNs - 100_000n,
    latestNs: atNs + 100_000n,
    rootDistanceNs: 100_000,
    anchorKind: 'none',
    stratum: 3,
    status: 'synchronized',
    ...over,
  };
}

function gps(localNs: bigint, offsetNs: number, over: Partial<ReferenceSample> = {}): ReferenceSample {
  return { refId: 'gps0', kind: 'gps', localNs, offsetNs, errorNs: 1000, delayNs: 0, stratum: 0, ...over };
}

const json = (x: unknown) => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

// ---- configuration -----------------------------------------------------------------------------

describe('resolveCoreConfig', () => {
  it('fills in the defaults and keeps overrides; undefined means "use the default"', () => {
    assert.deepEqual(resolveCoreConfig({ nodeId: 'n' }), { ...DEFAULT_CORE_CONFIG, nodeId: 'n' });
    const c = resolveCoreConfig({ nodeId: 'n', pollPeers: 3, localStratum: 5, estimator: 'median' });
    assert.equal(c.pollPeers, 3);
    assert.equal(c.localStratum, 5);
    assert.equal(c.estimator, 'median');
    assert.equal(
      resolveCoreConfig({ nodeId: 'n', pollPeers: undefined }).pollPeers,
      DEFAULT_CORE_CONFIG.pollPeers,
    );
    assert.equal(resolveCoreConfig({ nodeId: 'n', faultTolerance: 0 }).faultTolerance, 0);
  });

  const bad: [keyof NodeCoreConfig, unknown, Overrides?][] = [
    ['nodeId', ''],
    ['pollPeers', 0],
    ['pollPeers', 2.5],
    ['pollPeers', Number.NaN],
    ['pollPeers', '3'],
    ['burstRounds', -1],
    ['filterLength', 0],
    ['churnRounds', 0],
    ['falsetickerStrikes', 0],
    ['falsetickerStrikes', 1.5],
    ['minPollS', 0],
    ['minPollS', -4],
    ['minPollS', Number.NaN],
    ['minPollS', Infinity, { maxPollS: Infinity }],
    ['maxPollS', 2, { minPollS: 4 }],
    ['burstIntervalS', 0],
    ['referencePollS', 0],
    ['exchangeTimeoutS', -1],
    ['sampleMaxAgeS', Infinity],
    ['maxFrequencyErrorPpm', 0],
    ['stepThresholdNs', 0],
    ['maxSlewPpm', -1],
    ['holdoverAfterS', 0],
    ['announceIntervalS', Number.NaN],
    ['hlcMaxOffsetNs', 0],
    ['localErrorNs', 0],
    ['falsetickerHoldoffS', 0],
    ['maxDriftPpm', -1],
    ['maxDriftPpm', Number.NaN],
    ['faultTolerance', -1],
    ['faultTolerance', 0.5],
    ['localStratum', 0],
    ['localStratum', 16],
    ['localStratum', 2.5],
    ['estimator', 'mean'],
  ];
  for (const [field, value, extra] of bad) {
    it(`rejects ${field} = ${String(value)} with TM_ERR_CORE_CONFIG naming the field`, () => {
      const input = { nodeId: 'n', ...extra, [field]: value } as Overrides & { nodeId: string };
      assert.throws(() => resolveCoreConfig(input), isCoreConfigError(field));
      assert.throws(() => new NodeCore(input, { rng: new LcgRng() }), isCoreConfigError(field));
    });
  }

  // Values that resolveCoreConfig accepts but a component below rejects: the operator then gets
  // another component's error code (or, for filterLength and maxDriftPpm, an error in the middle of the
  // first round rather than at start).
  const acceptedButBroken: [keyof NodeCoreConfig, unknown][] = [
    ['filterLength', 65], // ClockFilter allows 1..64: TM_ERR_BFT_ARGUMENT on the first round
    ['maxDriftPpm', Infinity], // growthRate Infinity: TM_ERR_BFT_ARGUMENT when the first round combines
    ['maxSlewPpm', 1e6], // DisciplinedClock requires < 1e6: TM_ERR_CLOCK_CONFIG
    ['hlcMaxOffsetNs', 0.4], // rounds to 0n: TM_ERR_HLC_CONFIG
    ['nodeId', 'x'.repeat(256)], // the HLC allows at most 255 UTF-8 bytes: TM_ERR_HLC_CONFIG
  ];
  for (const [field, value] of acceptedButBroken) {
    it(`rejects ${field} = ${String(value).slice(0, 12)} up front (TM_ERR_CORE_CONFIG)`, () => {
      const input = { nodeId: 'n', [field]: value } as Overrides & { nodeId: string };
      assert.throws(() => resolveCoreConfig(input), isCoreConfigError(field));
    });
  }
});

// ---- rounds --------------------------------------------------------------------------------------

describe('NodeCore: poll rounds', () => {
  it('the first tick starts a burst round: startExchange for up to pollPeers peers, an announcement, a wake', () => {
    const known = ids('p', 10);
    const core = makeCore(
      known.map((id) => peer(id)),
      { pollPeers: 4 },
    );
    const actions = core.handleTick(BASE_NS);
    const started = ofType(actions, 'startExchange');
    assert.equal(started.length, 4);
    assert.equal(new Set(started.map((a) => a.peerId)).size, 4);
    assert.equal(new Set(started.map((a) => a.exchangeId)).size, 4);
    for (const a of started) {
      assert.ok(known.includes(a.peerId));
      assert.equal(a.timeoutNs, 2e9);
    }
    const ann = ofType(actions, 'publishAnnouncement');
    assert.equal(ann.length, 1);
    assert.equal(ann[0]!.announcement.nodeId, 'me');
    assert.equal(ann[0]!.announcement.status, 'unsynchronized');
    assert.equal(ann[0]!.announcement.stratum, 16);
    assert.equal(ann[0]!.announcement.anchorKind, 'none');
    assert.equal(ann[0]!.announcement.hlc.nodeId, 'me');
    // Burst interval (2 s) and the exchange timeout (2 s) coincide.
    assert.equal(actions.at(-1)!.type, 'wakeAt');
    assert.equal(wakeOf(actions), BASE_NS + 2n * S_NS);
    assert.equal(core.counters.exchangesStarted, 4);
    assert.equal(core.counters.announcementsPublished, 1);
    assert.equal(ofType(actions, 'clockCorrection').length, 0);
  });

  it('asks every known peer when there are fewer than pollPeers, and never itself', () => {
    const core = makeCore(['a', 'b', 'c'].map((id) => peer(id)));
    core.handlePeerDiscovered('me');
    core.handlePeerDiscovered('a'); // a duplicate discovery changes nothing
    const started = ofType(core.handleTick(BASE_NS), 'startExchange');
    assert.deepEqual(started.map((a) => a.peerId).sort(), ['a', 'b', 'c']);
  });

  it('a tick before the deadline neither starts a round nor announces again', () => {
    const core = makeCore(['a', 'b', 'c', 'd'].map((id) => peer(id)));
    core.handleTick(BASE_NS);
    const again = core.handleTick(BASE_NS + S_NS);
    assert.deepEqual(again, [{ type: 'wakeAt', localNs: BASE_NS + 2n * S_NS }]);
    assert.equal(core.counters.exchangesStarted, 4);
  });

  it('with no known peers the round ends at once without quorum', () => {
    const core = makeCore([]);
    const actions = core.handleTick(BASE_NS);
    assert.equal(ofType(actions, 'startExchange').length, 0);
    assert.equal(ofType(actions, 'clockCorrection').length, 0);
    const snap = core.snapshot(BASE_NS);
    assert.equal(snap.counters.rounds, 1);
    assert.equal(snap.counters.noQuorumRounds, 1);
    assert.equal(snap.lastRound?.updated, false);
    assert.equal(snap.lastRound?.basis, 'no-sources');
    assert.equal(snap.reading.status, 'unsynchronized');
    assert.equal(wakeOf(actions), BASE_NS + 2n * S_NS);
  });

  it('completing every exchange of a round combines and emits a clockCorrection', () => {
    const peers = peerMap(['a', 'b', 'c', 'd'].map((id) => peer(id, { offsetNs: 2_000_000 })));
    const core = makeCore(peers);
    const started = ofType(core.handleTick(BASE_NS), 'startExchange');
    const results = started.map((a) =>
      core.handleExchangeCompleted(complete(a, peers.get(a.peerId)!, BASE_NS)),
    );
    for (const r of results.slice(0, -1)) assert.deepEqual(r, []);
    const last = results.at(-1)!;
    const corr = ofType(last, 'clockCorrection');
    assert.equal(corr.length, 1);
    assert.equal(corr[0]!.kind, 'slew');
    assert.equal(corr[0]!.correctionNs, 2_000_000);
    assert.ok(corr[0]!.earliestNs <= corr[0]!.latestNs);
    assert.equal(wakeOf(last), BASE_NS + 2n * S_NS);
    const snap = core.snapshot(BASE_NS + S_NS);
    assert.equal(snap.counters.rounds, 1);
    assert.equal(snap.counters.exchangesCompleted, 4);
    assert.equal(snap.counters.slews, 1);
    assert.equal(snap.lastRound?.updated, true);
    assert.equal(snap.lastRound?.basis, 'mesh');
    assert.equal(snap.lastRound?.n, 4);
    assert.equal(snap.lastRound?.f, 1);
    assert.deepEqual([...snap.lastRound!.truechimers].sort(), ['a', 'b', 'c', 'd']);
    assert.deepEqual(snap.lastRound?.falsetickers, []);
    for (const s of snap.sources) {
      assert.equal(s.kind, 'peer');
      assert.equal(s.selected, true);
      assert.equal(s.reach, 1);
      assert.equal(s.offsetNs, 2_000_000);
      assert.equal(s.delayNs, 1_000_000);
    }
  });

  it('a round with missing answers combines at the deadline; late answers are unknown exchanges', () => {
    const peers = peerMap(['a', 'b', 'c', 'd'].map((id) => peer(id)));
    const core = makeCore(peers);
    const started = ofType(core.handleTick(BASE_NS), 'startExchange');
    for (const a of started.slice(0, 3)) {
      assert.deepEqual(core.handleExchangeCompleted(complete(a, peers.get(a.peerId)!, BASE_NS)), []);
    }
    assert.equal(core.counters.rounds, 0);
    const atDeadline = core.handleTick(BASE_NS + 2n * S_NS);
    assert.equal(core.counters.rounds, 1);
    assert.equal(core.counters.exchangesFailed, 1);
    assert.equal(core.snapshot(BASE_NS + 2n * S_NS).lastRound?.n, 3);
    assert.equal(core.snapshot(BASE_NS + 2n * S_NS).lastRound?.updated, true);
    // The same tick starts the next burst round.
    assert.equal(ofType(atDeadline, 'startExchange').length, 4);
    const late = complete(started[3]!, peers.get(started[3]!.peerId)!, BASE_NS);
    assert.deepEqual(core.handleExchangeCompleted(late), []);
    assert.equal(core.counters.exchangesRejected['unknown-exchange'], 1);
  });

  it('failed exchanges count, unknown failures are ignored, and a round of failures has no quorum', () => {
    const core = makeCore(['a', 'b', 'c', 'd'].map((id) => peer(id)));
    const started = ofType(core.handleTick(BASE_NS), 'startExchange');
    assert.deepEqual(core.handleExchangeFailed(12345, BASE_NS + 1n), []);
    assert.equal(core.counters.exchangesFailed, 0);
    const results = started.map((a, i) =>
      core.handleExchangeFailed(a.exchangeId, BASE_NS + BigInt(i + 1) * MS_NS),
    );
    for (const r of results.slice(0, -1)) assert.deepEqual(r, []);
    assert.equal(wakeOf(results.at(-1)!), BASE_NS + 2n * S_NS);
    assert.equal(core.counters.exchangesFailed, 4);
    assert.equal(core.counters.noQuorumRounds, 1);
    assert.equal(core.snapshot(BASE_NS + S_NS).lastRound?.basis, 'no-sources');
    for (const s of core.snapshot(BASE_NS + S_NS).sources) assert.equal(s.reach, 0);
    // Failing the same exchange again is a no-op.
    assert.deepEqual(core.handleExchangeFailed(started[0]!.exchangeId, BASE_NS + S_NS), []);
    assert.equal(core.counters.exchangesFailed, 4);
  });

  it('counts unknown exchange ids, wrong peer ids and duplicates as unknown-exchange', () => {
    const peers = peerMap(['a', 'b', 'c', 'd'].map((id) => peer(id)));
    const core = makeCore(peers);
    const started = ofType(core.handleTick(BASE_NS), 'startExchange');
    const first = started[0]!;
    const x = complete(first, peers.get(first.peerId)!, BASE_NS);
    assert.deepEqual(core.handleExchangeCompleted({ ...x, exchangeId: 999 }), []);
    assert.equal(core.counters.exchangesRejected['unknown-exchange'], 1);
    // Another peer answering for this exchange id: rejected, and the exchange stays open for the real one.
    const other = started[1]!.peerId;
    assert.deepEqual(core.handleExchangeCompleted({ ...x, peerId: other }), []);
    assert.equal(core.counters.exchangesRejected['unknown-exchange'], 2);
    core.handleExchangeCompleted(x);
    assert.equal(core.counters.exchangesCompleted, 1);
    core.handleExchangeCompleted(x);
    assert.equal(core.counters.exchangesRejected['unknown-exchange'], 3);
    assert.equal(core.counters.exchangesCompleted, 1);
  });

  it('counts exchange rejections by reason and still finishes the round', () => {
    const peers = peerMap(['a', 'b', 'c', 'd'].map((id) => peer(id)));
    const core = makeCore(peers);
    const started = ofType(core.handleTick(BASE_NS), 'startExchange');
    const xs = started.map((a) => complete(a, peers.get(a.peerId)!, BASE_NS));
    const [x0, x1, x2, x3] = xs as [(typeof xs)[0], (typeof xs)[0], (typeof xs)[0], (typeof xs)[0]];
    core.handleExchangeCompleted({
      ...x0,
      response: { ...x0.response, t3PeerNs: x0.response.t2PeerNs - 1n },
    });
    core.handleExchangeCompleted({ ...x1, t4LocalNs: x1.t1LocalNs });
    core.handleExchangeCompleted({
      ...x2,
      response: { ...x2.response, earliestNs: x2.response.t3PeerNs + 1n },
    });
    const last = core.handleExchangeCompleted({
      ...x3,
      response: {
        ...x3.response,
        t2PeerNs: 2n ** 62n,
        t3PeerNs: 2n ** 62n,
        earliestNs: 2n ** 62n,
        latestNs: 2n ** 62n,
      },
    });
    assert.deepEqual(core.counters.exchangesRejected, {
      'responder-time-reversed': 1,
      'negative-delay': 1,
      'bad-interval': 1,
      'offset-too-large': 1,
      'unknown-exchange': 0,
      'hlc-max-offset': 0,
    });
    assert.equal(core.counters.exchangesCompleted, 0);
    assert.equal(core.counters.rounds, 1);
    assert.equal(ofType(last, 'clockCorrection').length, 0);
    assert.equal(core.snapshot(BASE_NS + S_NS).reading.status, 'unsynchronized');
  });

  it('is deterministic: the same seed and inputs give the same actions', () => {
    const peers = peerMap(
      ids('p', 12).map((id, i) => peer(id, { offsetNs: i * 10_000, upNs: 300_000 + i * 1000 })),
    );
    const run = () => {
      const core = makeCore(peers, { pollPeers: 5 }, 77);
      return json(runUntil(core, BASE_NS, BASE_NS + 300n * S_NS, peers).actions);
    };
    assert.equal(run(), run());
  });
});

// ---- following the mesh --------------------------------------------------------------------------

describe('NodeCore: following peers', () => {
  it('peers all +5 ms: the reading slews to +5 ms and the node is synchronized (not anchored)', () => {
    const peers = peerMap(['a', 'b', 'c', 'd'].map((id) => peer(id, { offsetNs: 5_000_000 })));
    const core = makeCore(peers);
    const { actions } = tickAndAnswer(core, BASE_NS, peers);
    const corr = ofType(actions, 'clockCorrection');
    assert.equal(corr.length, 1);
    assert.equal(corr[0]!.kind, 'slew');
    assert.equal(corr[0]!.correctionNs, 5_000_000);
    // The served estimate jumps at once; the monotonic reading slews (83 333 ppm: 5 ms take 60 ms).
    const t = BASE_NS + 2n * MS_NS;
    assert.ok(appliedNs(core, t) < 5_000_000);
    assert.ok(Math.abs(Number(core.serveSample(t, t)!.t3PeerNs - t) - 5_000_000) <= 1);
    const later = BASE_NS + S_NS;
    assert.ok(Math.abs(appliedNs(core, later) - 5_000_000) <= 1, `${appliedNs(core, later)}`);
    const snap = core.snapshot(later);
    assert.equal(snap.reading.status, 'synchronized');
    assert.equal(snap.anchorKind, 'none');
    assert.equal(snap.stratum, 16);
    assert.ok(snap.reading.earliestNs <= snap.reading.bestNs && snap.reading.bestNs <= snap.reading.latestNs);
    // The peers say ±(0.5 ms delay + 0.1 ms error) around +5 ms; after 1 s without updates the node's
    // interval has grown by at most (maxDriftPpm + maxFrequencyErrorPpm) · 1 s = 515 µs on each side.
    assert.ok(snap.reading.earliestNs >= later + 5_000_000n - 600_000n - 515_000n, json(snap.reading));
    assert.ok(snap.reading.latestNs <= later + 5_000_000n + 600_000n + 515_000n, json(snap.reading));
  });

  it('peers all −500 ms: the reading steps', () => {
    const peers = peerMap(['a', 'b', 'c', 'd'].map((id) => peer(id, { offsetNs: -500_000_000 })));
    const core = makeCore(peers);
    const { actions } = tickAndAnswer(core, BASE_NS, peers);
    const corr = ofType(actions, 'clockCorrection');
    assert.equal(corr[0]?.kind, 'step');
    assert.equal(corr[0]?.correctionNs, -500_000_000);
    assert.equal(core.counters.steps, 1);
    const t = BASE_NS + 2n * MS_NS;
    assert.equal(appliedNs(core, t), -500_000_000);
  });

  it('peers that report anchored make the node anchored to the mesh at their stratum + 1', () => {
    const peers = peerMap(
      ['a', 'b', 'c', 'd'].map((id, i) =>
        peer(id, { status: 'anchored', anchorKind: 'gps', stratum: 1 + i }),
      ),
    );
    const core = makeCore(peers);
    tickAndAnswer(core, BASE_NS, peers);
    const t = BASE_NS + S_NS;
    const snap = core.snapshot(t);
    assert.equal(snap.reading.status, 'anchored');
    assert.equal(snap.anchorKind, 'mesh');
    assert.equal(snap.stratum, 2);
    const served = core.serveSample(t, t + 1000n)!;
    assert.equal(served.status, 'anchored');
    assert.equal(served.stratum, 2);
    assert.equal(served.anchorKind, 'mesh');
  });

  it('unsynchronized peers do not outvote synchronized ones', () => {
    const honest = ['a', 'b', 'c', 'd'].map((id) => peer(id));
    const unsync = ['u0', 'u1', 'u2', 'u3', 'u4'].map((id) =>
      peer(id, { status: 'unsynchronized', offsetNs: 50_000_000 }),
    );
    const peers = peerMap([...honest, ...unsync]);
    const core = makeCore(peers, { pollPeers: 9 });
    tickAndAnswer(core, BASE_NS, peers);
    const t = BASE_NS + S_NS;
    const snap = core.snapshot(t);
    assert.equal(snap.reading.status, 'synchronized');
    assert.equal(snap.lastRound?.n, 4);
    assert.ok(Math.abs(appliedNs(core, t)) <= 1);
  });

  it('a mesh of only unsynchronized peers is followed but leaves the node unsynchronized', () => {
    const peers = peerMap(
      ['a', 'b', 'c', 'd'].map((id) => peer(id, { status: 'unsynchronized', offsetNs: 3_000_000 })),
    );
    const core = makeCore(peers);
    tickAndAnswer(core, BASE_NS, peers);
    const t = BASE_NS + S_NS;
    assert.equal(core.snapshot(t).reading.status, 'unsynchronized');
    assert.equal(core.snapshot(t).stratum, 16);
    assert.ok(Math.abs(appliedNs(core, t) - 3_000_000) <= 1);
  });

  it('a peer whose announcement claims a low root distance gets the best slot', () => {
    const peers = peerMap(ids('p', 9).map((id) => peer(id)));
    const core = makeCore(peers, { pollPeers: 3 });
    // Before any answer every peer's distance is unknown; an announcement tells the core p7 is close.
    assert.deepEqual(core.handleAnnouncement(announcement('p7', BASE_NS, { rootDistanceNs: 5 }), BASE_NS), {
      accepted: true,
    });
    const started = ofType(core.handleTick(BASE_NS + 1n), 'startExchange');
    assert.equal(started.length, 3);
    assert.equal(started[0]!.peerId, 'p7');
  });

  it('a peer that announces itself is added to the peers asked in the next round; a lost peer is dropped', () => {
    const peers = peerMap([...['a', 'b', 'c', 'd'].map((id) => peer(id)), peer('z')]);
    const core = makeCore(['a', 'b', 'c', 'd'].map((id) => peer(id)));
    const r1 = tickAndAnswer(core, BASE_NS, peers);
    assert.ok(!r1.started.some((a) => a.peerId === 'z'));
    assert.equal(
      core.handleAnnouncement(announcement('z', BASE_NS + MS_NS * 5n), BASE_NS + 5n * MS_NS).accepted,
      true,
    );
    core.handlePeerLost('b');
    const r2 = tickAndAnswer(core, r1.wakeNs, peers);
    const asked = r2.started.map((a) => a.peerId).sort();
    assert.deepEqual(asked, ['a', 'c', 'd', 'z']);
    assert.equal(core.counters.announcementsReceived, 1);
  });

  it('replaces an unreachable peer at the churn round', () => {
    // Rng 0 always takes the first remaining id (peerSelection.test.ts), which makes the choice readable.
    const peers = peerMap([
      ...['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((id) => peer(id)),
      peer('zdead', { silent: true }),
    ]);
    const core = new NodeCore(
      { nodeId: 'me', pollPeers: 4, churnRounds: 5, burstRounds: 0 },
      { rng: { next: () => 0 } },
    );
    for (const id of peers.keys()) core.handlePeerDiscovered(id);
    const rounds: string[][] = [];
    let t = BASE_NS;
    while (rounds.length < 7) {
      const r = tickAndAnswer(core, t, peers);
      if (r.started.length > 0) rounds.push(r.started.map((a) => a.peerId).sort());
      t = r.wakeNs;
    }
    assert.ok(rounds[0]!.includes('zdead'), json(rounds));
    for (let i = 1; i < 4; i++) assert.deepEqual(rounds[i], rounds[0]);
    // Round 5 is a churn round: the silent peer (reach 0) goes, a free peer takes its slot.
    assert.ok(!rounds[4]!.includes('zdead'), json(rounds));
    assert.equal(rounds[4]!.length, 4);
    assert.equal(source(core, 'zdead', t).reach, 0);
    assert.equal(source(core, 'a', t).reach, 0x7f);
  });
});

// ---- HLC guard -----------------------------------------------------------------------------------

describe('NodeCore: HLC max-offset guard', () => {
  it('rejects and counts responses whose HLC is beyond latest + hlcMaxOffsetNs once synchronized', () => {
    const far = peer('a', { hlcAheadNs: 2e9 });
    const peers = peerMap([far, peer('b'), peer('c'), peer('d')]);
    const core = makeCore(peers);
    // Unsynchronized: nothing to check against, so the response is used but its HLC is not merged.
    const r1 = tickAndAnswer(core, BASE_NS, peers);
    assert.equal(core.counters.exchangesCompleted, 4);
    assert.equal(core.counters.exchangesRejected['hlc-max-offset'], 0);
    assert.equal(core.counters.hlcRejections, 0);
    assert.ok(core.hlc.last().wallNs < BASE_NS + S_NS, 'a far-future HLC was merged while unsynchronized');
    const firstSample = source(core, 'a', r1.wakeNs).lastSampleLocalNs;
    // Synchronized now: the far-future response is rejected, counted and not used.
    const r2 = tickAndAnswer(core, r1.wakeNs, peers);
    assert.equal(core.counters.exchangesRejected['hlc-max-offset'], 1);
    assert.equal(core.counters.hlcRejections, 1);
    assert.equal(core.counters.exchangesCompleted, 7);
    assert.equal(source(core, 'a', r2.wakeNs).lastSampleLocalNs, firstSample);
    assert.ok(core.hlc.last().wallNs < r1.wakeNs + S_NS);
    // The round still completed with the other three.
    assert.equal(core.counters.rounds, 2);
  });

  it('accepts and merges a response HLC within the bound', () => {
    const peers = peerMap([peer('a', { hlcAheadNs: 0.5e9 }), peer('b'), peer('c'), peer('d')]);
    const core = makeCore(peers);
    const r1 = tickAndAnswer(core, BASE_NS, peers);
    tickAndAnswer(core, r1.wakeNs, peers);
    assert.equal(core.counters.exchangesRejected['hlc-max-offset'], 0);
    assert.ok(core.hlc.last().wallNs >= r1.wakeNs + 500_000_000n);
  });

  it('rejects and counts far-future announcements once synchronized; ignores its own', () => {
    const peers = peerMap(['a', 'b', 'c', 'd'].map((id) => peer(id)));
    const core = makeCore(peers);
    // Unsynchronized: accepted (the announcer becomes a peer and is asked in the first round).
    assert.deepEqual(core.handleAnnouncement(announcement('x', BASE_NS + 10n * S_NS), BASE_NS), {
      accepted: true,
    });
    peers.set('x', peer('x'));
    const { wakeNs } = tickAndAnswer(core, BASE_NS, peers);
    const t = wakeNs - MS_NS;
    const far = core.handleAnnouncement(announcement('y', t + 2n * S_NS), t);
    assert.deepEqual(far, { accepted: false, reason: 'hlc-max-offset' });
    assert.equal(core.counters.hlcRejections, 1);
    assert.deepEqual(core.handleAnnouncement(announcement('w', t + 100n * MS_NS), t), { accepted: true });
    assert.deepEqual(core.handleAnnouncement(announcement('me', t), t), { accepted: false });
    assert.equal(core.counters.announcementsReceived, 4);
    assert.equal(core.counters.hlcRejections, 1);
    // The rejected announcer did not become a peer; the accepted ones did.
    const asked = tickAndAnswer(core, wakeNs, peerMap([...peers.values(), peer('w')])).started.map(
      (a) => a.peerId,
    );
    assert.ok(!asked.includes('y'));
    assert.ok(asked.includes('x') && asked.includes('w'));
  });

  it('hlcObserve counts rejections; hlcNow is monotonic', () => {
    const peers = peerMap(['a', 'b', 'c', 'd'].map((id) => peer(id)));
    const core = makeCore(peers);
    const { wakeNs } = tickAndAnswer(core, BASE_NS, peers);
    const remote: HlcTimestamp = { wallNs: wakeNs + 5n * S_NS, logical: 0, nodeId: 'r' };
    assert.equal(core.hlcObserve(remote, wakeNs).ok, false);
    assert.equal(core.counters.hlcRejections, 1);
    const a = core.hlcNow(wakeNs);
    const b = core.hlcNow(wakeNs - 5n * S_NS);
    assert.equal(compareHlc(a, b), -1);
  });
});

// ---- Byzantine peers -----------------------------------------------------------------------------

describe('NodeCore: falsetickers', () => {
  const HOUR_NS = 3_600e9;

  function liarScenario(f: number, liarHlcHonest: boolean) {
    const honestOffsets = [-100_000, 0, 200_000, 50_000, -60_000, 120_000, -20_000].slice(0, 2 * f + 1);
    const honest = honestOffsets.map((o, i) => peer(`h${i}`, { offsetNs: o, errorNs: 300_000 }));
    const liars = ids('liar', f).map((id) =>
      peer(id, { offsetNs: HOUR_NS, errorNs: 1000, hlcAheadNs: liarHlcHonest ? -HOUR_NS : 0 }),
    );
    const peers = peerMap([...honest, ...liars]);
    return { peers, core: makeCore(peers), lo: Math.min(...honestOffsets), hi: Math.max(...honestOffsets) };
  }

  for (const f of [1, 2]) {
    it(`${f} liar(s) at +1 h among ${3 * f + 1}: the reading stays in the honest spread, liars are falsetickers`, () => {
      const { peers, core, lo, hi } = liarScenario(f, true);
      const liarIds = ids('liar', f);
      let t = BASE_NS;
      for (let round = 1; round <= 3; round++) {
        const r = tickAndAnswer(core, t, peers);
        assert.equal(r.started.length, 3 * f + 1, `round ${round} asked ${r.started.length}`);
        const snap = core.snapshot(r.wakeNs);
        assert.deepEqual([...snap.lastRound!.falsetickers].sort(), liarIds, `round ${round}`);
        assert.equal(snap.lastRound!.truechimers.length, 2 * f + 1, `round ${round} truechimers`);
        const applied = appliedNs(core, r.wakeNs);
        assert.ok(
          applied >= lo - 1 && applied <= hi + 1,
          `round ${round}: ${applied} outside [${lo}, ${hi}]`,
        );
        // Truth (0 here: true time is our local time) stays inside the node's interval.
        assert.ok(snap.reading.earliestNs <= r.wakeNs && r.wakeNs <= snap.reading.latestNs);
        for (const id of liarIds) assert.equal(source(core, id, r.wakeNs).falseticker, true);
        for (const s of snap.sources.filter((x) => x.id.startsWith('h'))) assert.equal(s.falseticker, false);
        t = r.wakeNs;
      }
      assert.equal(core.counters.falsetickerMarks, 3 * f, 'falsetickerMarks');
      // After falsetickerStrikes (3) rounds the liars are excluded for falsetickerHoldoffS (900 s).
      const excludedAt = core.snapshot(t).lastRound!.localNs;
      for (const id of liarIds) {
        const s = source(core, id, t);
        assert.match(s.excludedReason ?? '', /falseticker in 3 consecutive rounds/);
        assert.equal(s.excludedUntilLocalNs, excludedAt + 900n * S_NS);
        assert.equal(s.selected, false);
      }
      const r4 = tickAndAnswer(core, t, peers);
      assert.equal(r4.started.length, 2 * f + 1, 'round 4 asked');
      assert.ok(!r4.started.some((a) => a.peerId.startsWith('liar')));
      // The whole time, the reading never left the honest spread.
      const run = runUntil(core, r4.wakeNs, excludedAt + 800n * S_NS, peers);
      assert.ok(!ofType(run.actions, 'startExchange').some((a) => a.peerId.startsWith('liar')));
      const applied = appliedNs(core, run.nextWakeNs);
      assert.ok(applied >= lo - 1 && applied <= hi + 1, `${applied}`);
      // After the hold-off they are asked again (and caught again).
      const back = runUntil(core, run.nextWakeNs, excludedAt + 1200n * S_NS, peers);
      assert.ok(ofType(back.actions, 'startExchange').some((a) => a.peerId.startsWith('liar')));
      for (const id of liarIds) {
        // Either still on probation or excluded again, with a new hold-off.
        const until = source(core, id, back.nextWakeNs).excludedUntilLocalNs;
        assert.ok(until === null || until > excludedAt + 900n * S_NS);
      }
      assert.ok(core.counters.falsetickerMarks > 3 * f);
      const end = appliedNs(core, back.nextWakeNs);
      assert.ok(end >= lo - 1 && end <= hi + 1, `${end}`);
    });
  }

  it('a liar whose HLC also lies cannot drag the node’s HLC', () => {
    const { peers, core } = liarScenario(1, false);
    const run = runUntil(core, BASE_NS, BASE_NS + 60n * S_NS, peers);
    assert.ok(core.hlc.last().wallNs < run.nextWakeNs + 2n * S_NS);
    assert.ok(core.counters.exchangesRejected['hlc-max-offset'] >= 1);
    const applied = appliedNs(core, run.nextWakeNs);
    assert.ok(applied >= -100_001 && applied <= 200_001, `${applied}`);
  });
});

// ---- references ----------------------------------------------------------------------------------

describe('NodeCore: references', () => {
  it('a GPS reference anchors the node at stratum 1 with anchorKind gps', () => {
    const core = makeCore([]);
    const actions = core.handleReferenceSample(gps(BASE_NS, 3_000_000));
    const corr = ofType(actions, 'clockCorrection');
    assert.equal(corr.length, 1);
    assert.equal(corr[0]!.correctionNs, 3_000_000);
    const t = BASE_NS + S_NS;
    const snap = core.snapshot(t);
    assert.equal(snap.reading.status, 'anchored');
    assert.equal(snap.anchorKind, 'gps');
    assert.equal(snap.stratum, 1);
    assert.equal(snap.lastRound?.basis, 'reference');
    assert.ok(Math.abs(appliedNs(core, t) - 3_000_000) <= 1);
    const ref = source(core, 'gps0', t);
    assert.equal(ref.kind, 'reference');
    assert.equal(ref.anchorKind, 'gps');
    assert.equal(ref.reach, 1);
  });

  it('an NTP server at stratum 2 makes the node stratum 3 with anchorKind ntp', () => {
    const core = makeCore([]);
    core.handleReferenceSample({
      refId: 'ntp0',
      kind: 'ntp',
      localNs: BASE_NS,
      offsetNs: -1e6,
      errorNs: 5e5,
      delayNs: 2e6,
      stratum: 2,
    });
    const snap = core.snapshot(BASE_NS + S_NS);
    assert.equal(snap.anchorKind, 'ntp');
    assert.equal(snap.stratum, 3);
    assert.equal(snap.reading.status, 'anchored');
  });

  it('ignores malformed reference samples', () => {
    const core = makeCore([]);
    for (const bad of [
      gps(BASE_NS, Number.NaN),
      gps(BASE_NS, Infinity),
      gps(BASE_NS, 0, { errorNs: -1 }),
      gps(BASE_NS, 0, { errorNs: Number.NaN }),
      gps(BASE_NS, 0, { delayNs: -1 }),
    ]) {
      assert.deepEqual(core.handleReferenceSample(bad), []);
    }
    assert.equal(core.snapshot(BASE_NS).sources.length, 0);
    assert.equal(core.snapshot(BASE_NS).reading.status, 'unsynchronized');
  });

  it('updates from the reference at most every referencePollS between rounds', () => {
    const core = makeCore([]);
    assert.equal(ofType(core.handleReferenceSample(gps(BASE_NS, 0)), 'clockCorrection').length, 0);
    assert.equal(core.snapshot(BASE_NS).lastRound?.basis, 'reference');
    assert.deepEqual(core.handleReferenceSample(gps(BASE_NS + 3n * S_NS, 1000)), []);
    const at4 = core.handleReferenceSample(gps(BASE_NS + 4n * S_NS, 1000));
    assert.equal(ofType(at4, 'clockCorrection').length, 1);
  });

  it('a reference sample during a round waits for the round, then joins the mesh', () => {
    const peers = peerMap(
      ['a', 'b', 'c', 'd'].map((id) => peer(id, { offsetNs: 200_000, errorNs: 400_000 })),
    );
    const core = makeCore(peers);
    const started = ofType(core.handleTick(BASE_NS), 'startExchange');
    assert.deepEqual(core.handleReferenceSample(gps(BASE_NS + 100n, 150_000)), []);
    for (const a of started) core.handleExchangeCompleted(complete(a, peers.get(a.peerId)!, BASE_NS));
    const t = BASE_NS + S_NS;
    const snap = core.snapshot(t);
    assert.equal(snap.lastRound?.basis, 'reference+mesh');
    assert.equal(snap.anchorKind, 'gps');
    assert.equal(snap.stratum, 1);
    assert.ok(Math.abs(appliedNs(core, t) - 150_000) <= 1);
  });

  it('a reference that disagrees with an anchored mesh is a falseticker; the node follows the mesh', () => {
    const peers = peerMap(
      ['a', 'b', 'c', 'd'].map((id) => peer(id, { status: 'anchored', anchorKind: 'pps', stratum: 1 })),
    );
    const core = makeCore(peers);
    const started = ofType(core.handleTick(BASE_NS), 'startExchange');
    assert.deepEqual(core.handleReferenceSample(gps(BASE_NS + 100n, 1e9)), []);
    for (const a of started) core.handleExchangeCompleted(complete(a, peers.get(a.peerId)!, BASE_NS));
    const t = BASE_NS + S_NS;
    const snap = core.snapshot(t);
    assert.equal(snap.counters.referenceFalsetickerMarks, 1);
    assert.equal(source(core, 'gps0', t).falseticker, true);
    assert.equal(snap.lastRound?.basis, 'mesh');
    assert.match(snap.lastRound?.message ?? '', /gps0 disagree/);
    assert.equal(snap.anchorKind, 'mesh');
    assert.equal(snap.stratum, 2);
    assert.equal(snap.reading.status, 'anchored');
    assert.ok(Math.abs(appliedNs(core, t)) <= 1);
  });

  it('a reference that disagrees with an unanchored mesh wins', () => {
    const peers = peerMap(['a', 'b', 'c', 'd'].map((id) => peer(id)));
    const core = makeCore(peers);
    const started = ofType(core.handleTick(BASE_NS), 'startExchange');
    core.handleReferenceSample(gps(BASE_NS + 100n, 1e9));
    for (const a of started) core.handleExchangeCompleted(complete(a, peers.get(a.peerId)!, BASE_NS));
    const t = BASE_NS + S_NS;
    const snap = core.snapshot(t);
    assert.equal(snap.lastRound?.basis, 'reference');
    assert.equal(snap.counters.referenceFalsetickerMarks, 0);
    assert.equal(snap.anchorKind, 'gps');
    assert.equal(appliedNs(core, t), 1e9);
  });

  it('a reference marked falseticker is cleared once it agrees with the mesh again', () => {
    const peers = peerMap(
      ['a', 'b', 'c', 'd'].map((id) => peer(id, { status: 'anchored', anchorKind: 'pps', stratum: 1 })),
    );
    const core = makeCore(peers);
    const started = ofType(core.handleTick(BASE_NS), 'startExchange');
    core.handleReferenceSample(gps(BASE_NS + 100n, 1e9));
    for (const a of started) core.handleExchangeCompleted(complete(a, peers.get(a.peerId)!, BASE_NS));
    assert.equal(source(core, 'gps0', BASE_NS + S_NS).falseticker, true);
    // The GPS recovers: every later sample agrees with the mesh.
    let t = BASE_NS + 2n * S_NS;
    for (let i = 0; i < 10; i++) {
      const r = tickAndAnswer(core, t, peers);
      core.handleReferenceSample(gps(t + 10n * MS_NS, 0));
      t = r.wakeNs;
    }
    const snap = core.snapshot(t);
    assert.equal(snap.lastRound?.basis, 'reference+mesh');
    assert.equal(snap.anchorKind, 'gps');
    assert.equal(
      source(core, 'gps0', t).falseticker,
      false,
      'stale falseticker flag on a reference that agrees',
    );
  });

  it('a reference sample time-stamped before the newest peer sample does not throw', () => {
    // A refclock driver stamps the PPS edge when it happens and delivers the sample a little later, so
    // its localNs can precede the T4 of an exchange that completed in between.
    const peers = peerMap([peer('a')]);
    const core = makeCore(peers, { faultTolerance: 1 }); // one peer: no quorum, so no clock update yet
    tickAndAnswer(core, BASE_NS, peers);
    assert.equal(core.snapshot(BASE_NS + S_NS).lastRound?.basis, 'too-few-sources');
    const lastT4 = source(core, 'a', BASE_NS + S_NS).lastSampleLocalNs!;
    assert.doesNotThrow(() =>
      core.handleReferenceSample(gps(lastT4 - 1000n, 0, { refId: 'pps0', kind: 'pps' })),
    );
    assert.equal(core.snapshot(lastT4 + S_NS).anchorKind, 'pps');
  });

  it('three NTP servers, one lying by +2 s: the majority outvotes it and marks it a falseticker', () => {
    const core = makeCore([]);
    const ntp = (refId: string, localNs: bigint, offsetNs: number, stratum: number): ReferenceSample => ({
      refId,
      kind: 'ntp',
      localNs,
      offsetNs,
      errorNs: 100_000,
      delayNs: 200_000,
      stratum,
    });
    // The honest pair first, so the lone first sample is an honest one (see nodeCore.ts: the first
    // sample of all is used at once).
    core.handleReferenceSample(ntp('chrony', BASE_NS, 50_000, 2));
    core.handleReferenceSample(ntp('honest', BASE_NS + 1000n, -50_000, 2));
    core.handleReferenceSample(ntp('liar', BASE_NS + 2000n, 2e9, 1));
    const t = BASE_NS + 4n * S_NS;
    core.handleReferenceSample(ntp('chrony', t, 30_000, 2));
    const snap = core.snapshot(t);
    const round = snap.lastRound!;
    assert.equal(round.updated, true, json(round));
    assert.equal(round.basis, 'reference');
    assert.equal(round.n, 3);
    assert.equal(round.f, 1);
    assert.deepEqual(round.falsetickers, ['liar']);
    assert.deepEqual([...round.truechimers].sort(), ['chrony', 'honest']);
    assert.equal(source(core, 'liar', t).falseticker, true);
    assert.equal(source(core, 'chrony', t).falseticker, false);
    assert.equal(source(core, 'honest', t).falseticker, false);
    assert.ok(snap.counters.referenceFalsetickerMarks >= 1);
    // The node stays with the honest pair and takes their stratum, not the liar's stratum 1.
    assert.ok(Math.abs(appliedNs(core, t)) < 200_000, `applied ${appliedNs(core, t)} ns`);
    assert.equal(snap.stratum, 3);
    assert.equal(snap.anchorKind, 'ntp');
  });
});

// ---- local stratum -------------------------------------------------------------------------------

describe('NodeCore: local stratum', () => {
  it('with no better source the node holds its own clock: anchored, anchorKind local, that stratum', () => {
    const core = makeCore([], { localStratum: 5 });
    const actions = core.handleTick(BASE_NS);
    assert.equal(ofType(actions, 'clockCorrection').length, 0); // nothing to correct
    const t = BASE_NS + MS_NS;
    const snap = core.snapshot(t);
    assert.equal(snap.reading.status, 'anchored');
    assert.equal(snap.anchorKind, 'local');
    assert.equal(snap.stratum, 5);
    assert.equal(snap.lastRound?.basis, 'local');
    assert.equal(appliedNs(core, t), 0);
    const served = core.serveSample(t, t)!;
    assert.equal(served.stratum, 5);
    assert.equal(served.anchorKind, 'local');
    assert.equal(served.status, 'anchored');
    // Error bound: localErrorNs plus growth since the update (515 ppm · 1 ms before a frequency is fitted).
    assert.ok(
      served.rootDistanceNs >= 1000 && served.rootDistanceNs <= 1000 + 516,
      `${served.rootDistanceNs}`,
    );
  });

  it('ignores an unanchored mesh that disagrees', () => {
    const peers = peerMap(['a', 'b', 'c', 'd'].map((id) => peer(id, { offsetNs: 50_000_000 })));
    const core = makeCore(peers, { localStratum: 5 });
    const run = runUntil(core, BASE_NS, BASE_NS + 30n * S_NS, peers);
    assert.equal(appliedNs(core, run.nextWakeNs), 0);
    assert.equal(core.snapshot(run.nextWakeNs).anchorKind, 'local');
    assert.equal(ofType(run.actions, 'clockCorrection').length, 0);
  });

  it('ignores anchored peers at the same stratum, follows anchored peers at a better one', () => {
    const same = peerMap(
      ['a', 'b', 'c', 'd'].map((id) => peer(id, { status: 'anchored', stratum: 5, offsetNs: 2e6 })),
    );
    const c1 = makeCore(same, { localStratum: 5 });
    tickAndAnswer(c1, BASE_NS, same);
    assert.equal(c1.snapshot(BASE_NS + S_NS).anchorKind, 'local');
    assert.equal(appliedNs(c1, BASE_NS + S_NS), 0);

    const better = peerMap(
      ['a', 'b', 'c', 'd'].map((id) => peer(id, { status: 'anchored', stratum: 1, offsetNs: 2e6 })),
    );
    const c2 = makeCore(better, { localStratum: 5 });
    tickAndAnswer(c2, BASE_NS, better);
    const snap = c2.snapshot(BASE_NS + S_NS);
    assert.equal(snap.anchorKind, 'mesh');
    assert.equal(snap.stratum, 2);
    assert.ok(Math.abs(appliedNs(c2, BASE_NS + S_NS) - 2e6) <= 1);
  });
});

// ---- serving -------------------------------------------------------------------------------------

describe('NodeCore: serveSample', () => {
  it('before synchronization: T2 ≤ T3, an (unbounded) interval around T3, stratum 16', () => {
    const core = makeCore([]);
    const s = core.serveSample(BASE_NS, BASE_NS + 30_000n)!;
    assert.equal(s.t2PeerNs, BASE_NS);
    assert.equal(s.t3PeerNs, BASE_NS + 30_000n);
    assert.ok(s.earliestNs <= s.t3PeerNs && s.t3PeerNs <= s.latestNs);
    assert.equal(s.status, 'unsynchronized');
    assert.equal(s.stratum, 16);
    assert.equal(s.hlc.nodeId, 'me');
    assert.ok(s.rootDistanceNs >= 2 ** 61);
  });

  it('property: while slewing and after, T2 ≤ T3, earliest ≤ T3 ≤ latest, HLC strictly increasing', () => {
    const peers = peerMap(['a', 'b', 'c', 'd'].map((id) => peer(id, { offsetNs: 50_000_000 })));
    const core = makeCore(peers);
    const { wakeNs } = tickAndAnswer(core, BASE_NS, peers);
    let lastHlc: HlcTimestamp | null = null;
    let recvNs = BASE_NS + 2n * MS_NS;
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 50n * MS_NS }),
        fc.bigInt({ min: 0n, max: MS_NS }),
        (gapNs, holdNs) => {
          recvNs += gapNs;
          const s = core.serveSample(recvNs, recvNs + holdNs)!;
          assert.ok(s.t2PeerNs <= s.t3PeerNs);
          assert.ok(s.earliestNs <= s.t3PeerNs && s.t3PeerNs <= s.latestNs);
          assert.ok(s.hlc.wallNs >= core.read(recvNs + holdNs).bestNs);
          if (lastHlc !== null) assert.equal(compareHlc(lastHlc, s.hlc), -1);
          lastHlc = s.hlc;
          assert.equal(s.status, 'synchronized');
          // The served estimate is the target, not the slewing reading.
          assert.ok(Math.abs(Number(s.t3PeerNs - (recvNs + holdNs)) - 50_000_000) <= 10);
        },
      ),
      { numRuns: 300 },
    );
    // 300 runs of at most 50 ms: still well inside holdoverAfterS, so 'synchronized' above was fair.
    assert.ok(recvNs < wakeNs + 20n * S_NS);
  });

  it('another node measuring this one sees its offset', () => {
    const peers = peerMap(['a', 'b', 'c', 'd'].map((id) => peer(id, { offsetNs: 5_000_000 })));
    const a = makeCore(peers);
    tickAndAnswer(a, BASE_NS, peers);
    // b shares true time (and the raw oscillator) with a, so it should measure a at +5 ms.
    const t1 = BASE_NS + S_NS;
    // 400 µs each way, 50 µs at the responder.
    const served = a.serveSample(t1 + 400_000n, t1 + 450_000n)!;
    const ev = evaluateExchange({
      exchangeId: 1,
      peerId: 'me',
      t1LocalNs: t1,
      t4LocalNs: t1 + 850_000n,
      response: served,
    });
    assert.ok(ev.ok);
    assert.ok(Math.abs(ev.sample.offsetNs - 5_000_000) <= 1, `${ev.sample.offsetNs}`);
    assert.equal(ev.sample.delayNs, 800_000);
  });
});

// ---- poll interval -------------------------------------------------------------------------------

describe('NodeCore: poll interval', () => {
  it('burst rounds come burstIntervalS apart, then the interval grows to maxPollS', () => {
    const peers = peerMap(['a', 'b', 'c', 'd', 'e'].map((id) => peer(id)));
    const core = makeCore(peers);
    assert.equal(core.snapshot(BASE_NS).pollIntervalS, 4);
    const roundStartsS = roundTicksS(core, peers, BASE_NS + 3000n * S_NS);
    // burstRounds (4) rounds burstIntervalS (2 s) apart, then the poll interval.
    assert.deepEqual(roundStartsS.slice(0, 5), [0, 2, 4, 6, 8]);
    assert.equal(core.snapshot(BASE_NS + 3000n * S_NS).pollIntervalS, 64);
    const gaps = roundStartsS.slice(1).map((x, i) => x - roundStartsS[i]!);
    assert.equal(Math.max(...gaps), 64);
    assert.deepEqual(gaps.slice(-5), [64, 64, 64, 64, 64]);
    // The interval only grows, doubling after every 4 good rounds (the burst rounds count too, so with
    // a quiet mesh it is already 8 s when the burst ends): 2 → 8 → 16 → 32 → 64.
    for (let i = 1; i < gaps.length; i++) assert.ok(gaps[i]! >= gaps[i - 1]!, json(gaps));
    assert.deepEqual([...new Set(gaps)], [2, 8, 16, 32, 64]);
  });

  it('never exceeds a smaller maxPollS, and falls back to minPollS after a large correction', () => {
    const peers = peerMap(['a', 'b', 'c', 'd'].map((id) => peer(id)));
    const core = makeCore(peers, { maxPollS: 16 });
    const run = runUntil(core, BASE_NS, BASE_NS + 600n * S_NS, peers);
    assert.equal(core.snapshot(run.nextWakeNs).pollIntervalS, 16);
    for (const p of peers.values()) p.offsetNs = 20_000_000;
    const again = runUntil(core, run.nextWakeNs, run.nextWakeNs + 16n * S_NS, peers);
    assert.equal(core.snapshot(again.nextWakeNs).pollIntervalS, 4);
    assert.ok(ofType(again.actions, 'clockCorrection').some((c) => c.correctionNs > 15_000_000));
  });
});

/** Drives the core from BASE_NS to untilNs; returns the local times (s after BASE) of round starts. */
function roundTicksS(core: NodeCore, peers: ReadonlyMap<string, PeerSpec>, untilNs: bigint): number[] {
  const out: number[] = [];
  let t = BASE_NS;
  while (t <= untilNs) {
    const r = tickAndAnswer(core, t, peers);
    if (r.started.length > 0) out.push(Number(t - BASE_NS) / 1e9);
    t = r.wakeNs;
  }
  return out;
}

// ---- persistence ---------------------------------------------------------------------------------

describe('NodeCore: HLC persistence', () => {
  it('a new node’s first tick emits persistState (and does not throw before the mark is confirmed)', () => {
    const core = makeCore(
      ['a', 'b', 'c', 'd'].map((id) => peer(id)),
      { hlcPersistence: true },
    );
    let actions: NodeAction[] = [];
    assert.doesNotThrow(() => {
      actions = core.handleTick(BASE_NS);
    });
    const persist = ofType(actions, 'persistState');
    assert.equal(persist.length, 1);
    assert.ok(persist[0]!.hlcHighWaterNs > BASE_NS);
    assert.equal(persist[0]!.frequencyPpm, 0);
  });

  it('drops sample requests and defers the announcement until the first mark is confirmed', () => {
    const core = makeCore(
      ['a', 'b', 'c', 'd'].map((id) => peer(id)),
      { hlcPersistence: true },
    );
    const first = core.handleTick(BASE_NS);
    assert.equal(ofType(first, 'publishAnnouncement').length, 0);
    assert.equal(core.serveSample(BASE_NS, BASE_NS), null);
    const wake = ofType(first, 'wakeAt')[0]!.localNs;
    assert.ok(wake > BASE_NS && wake <= BASE_NS + 100_000_000n, 'retries soon');
    core.confirmPersisted(ofType(first, 'persistState')[0]!.hlcHighWaterNs);
    const next = core.handleTick(wake);
    assert.equal(ofType(next, 'publishAnnouncement').length, 1);
    assert.notEqual(core.serveSample(wake, wake), null);
  });

  it('confirmPersisted allows HLC issue, up to the confirmed mark', () => {
    const core = makeCore(
      ['a', 'b', 'c', 'd'].map((id) => peer(id)),
      { hlcPersistence: true },
    );
    assert.throws(
      () => core.hlcNow(BASE_NS),
      (e: unknown) => e instanceof TimemeshError && e.code === 'TM_ERR_HLC_EXHAUSTED',
    );
    const mark = core.hlc.highWaterMarkToPersist(core.read(BASE_NS).bestNs);
    assert.ok(mark !== null && mark > BASE_NS);
    core.confirmPersisted(mark);
    const ts = core.hlcNow(BASE_NS);
    assert.equal(ts.wallNs, BASE_NS);
    // With headroom the tick asks for nothing; once under half a window it asks for a higher mark.
    assert.equal(ofType(core.handleTick(BASE_NS), 'persistState').length, 0);
    const t6 = BASE_NS + 6n * S_NS;
    const p6 = ofType(core.handleTick(t6), 'persistState');
    assert.equal(p6.length, 1);
    assert.ok(p6[0]!.hlcHighWaterNs > mark);
    // Until the new mark is confirmed, nothing beyond the old one is issued.
    const t12 = BASE_NS + 12n * S_NS;
    assert.ok(core.hlcNow(t12).wallNs <= mark);
    core.confirmPersisted(p6[0]!.hlcHighWaterNs);
    assert.equal(core.hlcNow(t12).wallNs, t12);
  });

  it('restores frequency and the HLC high-water mark', () => {
    const core = new NodeCore(
      { nodeId: 'me', hlcPersistence: true },
      { rng: new LcgRng(), restored: { hlcHighWaterNs: BASE_NS + 60n * S_NS, frequencyPpm: 12.5 } },
    );
    const snap = core.snapshot(BASE_NS);
    assert.ok(Math.abs(snap.frequencyPpm - 12.5) < 1e-9);
    assert.equal(snap.hlc.wallNs, BASE_NS + 60n * S_NS);
    // Nothing at or below the restored mark is ever issued again.
    core.confirmPersisted(BASE_NS + 120n * S_NS);
    assert.ok(core.hlcNow(BASE_NS).wallNs > BASE_NS + 60n * S_NS);
  });
});

describe('NodeCore: HLC observe while unsynchronized', () => {
  it('bounds a remote HLC by the node’s own reading plus the max offset', () => {
    const core = new NodeCore({ nodeId: 'fresh', hlcMaxOffsetNs: 1e9 }, { rng: { next: () => 0.5 } });
    const far = { wallNs: BASE_NS + 3_600_000_000_000n, logical: 0, nodeId: 'app' };
    const r = core.hlcObserve(far, BASE_NS);
    assert.equal(r.ok, false);
    assert.equal(core.counters.hlcRejections, 1);
    const near = { wallNs: BASE_NS + 500_000_000n, logical: 3, nodeId: 'app' };
    assert.equal(core.hlcObserve(near, BASE_NS).ok, true);
  });
});
