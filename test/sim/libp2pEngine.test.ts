/**
 * The libp2p engine (`timemesh sim --engine libp2p`): five real libp2p nodes in this process on
 * 127.0.0.1, two of them local-stratum-1 anchors on the host clock, three followers whose simulated
 * oscillators start up to ±100 ms off and run up to ±50 ppm fast or slow, for 20 s of real time.
 *
 * The run is real time on a machine that other work shares, so the bounds here are about behaviour
 * (the nodes meet, exchange signed samples, gossip, and pull ±100 ms oscillators to within a few ms of
 * true time while their intervals keep containing it), not about the accuracy figures, which the
 * README reports from measured runs.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  LIBP2P_REPORT_SCHEMA,
  formatLibp2pSummary,
  runLibp2pSim,
  type Libp2pSimReport,
} from '../../sim/libp2pEngine.ts';

const NODES = 5;
const ANCHORS = 2;
const DURATION_S = 20;
/** Where every follower must be at the end, from oscillators up to ±100 ms off. */
const FINAL_ERROR_NS_MAX = 20e6;

describe('libp2p engine: 5 real nodes on loopback for 20 s', () => {
  let report: Libp2pSimReport;
  let samples = 0;

  before(async () => {
    report = await runLibp2pSim({
      nodes: NODES,
      anchors: ANCHORS,
      durationS: DURATION_S,
      seed: 'engine-test',
      // Announcements every 5 s instead of 30 s, so that a 20 s run exercises gossip.
      core: { announceIntervalS: 5 },
      onSample: () => samples++,
    });
    // Shown with --test-reporter=spec; the figures of a run, not asserted beyond the bounds below.
    console.log(formatLibp2pSummary(report));
  });

  it('writes a report of its own schema, marked as not deterministic', () => {
    const r = JSON.parse(JSON.stringify(report)) as Libp2pSimReport;
    assert.equal(r.schema, LIBP2P_REPORT_SCHEMA);
    assert.equal(r.deterministic, false);
    assert.match(r.note, /NOT deterministic/);
    assert.deepEqual(r.counts, { nodes: NODES, anchors: ANCHORS, followers: NODES - ANCHORS });
    assert.equal(r.options.seed, 'engine-test');
    assert.equal(r.options.core.announceIntervalS, 5);
    assert.equal(r.options.core.localStratum, null);
    assert.equal(r.aborted, false);
    assert.ok(r.durationS >= DURATION_S - 0.5 && r.durationS < DURATION_S + 5, `ran ${r.durationS} s`);
    // One sample at start-up and one per second after it.
    assert.equal(r.series.tS.length, DURATION_S + 1);
    assert.equal(samples, DURATION_S + 1);
    for (const key of ['followersErrorNsMax', 'followersWidthNsP50', 'eventLoopDelayMsMax'] as const) {
      assert.equal(r.series[key].length, r.series.tS.length, key);
    }
    assert.equal(r.nodes.length, NODES);
    assert.deepEqual(
      r.nodes.map((n) => n.role),
      ['anchor', 'anchor', 'follower', 'follower', 'follower'],
    );
    for (const n of r.nodes) assert.match(n.peerId, /^12D3KooW/);
    for (const f of [r.followers, r.honest]) {
      for (const key of ['errorNsP50', 'errorNsP99', 'errorNsMax', 'widthNsP50', 'containment'] as const) {
        assert.equal(typeof f[key], 'number', key);
      }
    }
    assert.ok(r.host.peakRssMiB > 0 && r.host.cpus >= 1);
    assert.ok(r.host.eventLoopDelayMs.max >= r.host.eventLoopDelayMs.p50);
  });

  it('keeps every node connected to every other and measures with signed, verified exchanges', () => {
    for (const n of report.nodes) {
      assert.ok(n.connections >= NODES - 1, `node ${n.index} has ${n.connections} connections at the end`);
      assert.ok((n.samplesByOutcome.ok ?? 0) >= 5, `node ${n.index}: ${JSON.stringify(n.samplesByOutcome)}`);
      assert.ok(n.peersMeasured >= 2, `node ${n.index} measured ${n.peersMeasured} peers`);
    }
    const c = report.counters;
    assert.equal(c.samplesByOutcome['bad-signature'] ?? 0, 0);
    assert.equal(c.samplesByOutcome['nonce-mismatch'] ?? 0, 0);
    assert.ok((c.inboundRequests.served ?? 0) >= (c.samplesByOutcome.ok ?? 0));
    assert.ok(c.rounds > 0);
  });

  it('gossips announcements and accepts them', () => {
    const g = report.counters.gossipByOutcome;
    assert.ok((g.published ?? 0) >= NODES, JSON.stringify(g));
    assert.ok((g.accept ?? 0) > 0, JSON.stringify(g));
    assert.equal(g['wrong-sender'] ?? 0, 0);
    assert.equal(g.malformed ?? 0, 0);
  });

  it('keeps true time inside the intervals (≥ 99 % of synchronized samples)', () => {
    const f = report.followers;
    assert.ok(
      f.containmentSamples >= (NODES - ANCHORS) * (DURATION_S - 5),
      `${f.containmentSamples} samples`,
    );
    assert.ok(f.containment! >= 0.99, `containment ${f.containment} over the whole run`);
    assert.ok(
      f.containmentFromStats! >= 0.99,
      `containment ${f.containmentFromStats} from t = ${report.statsFromS} s`,
    );
    assert.equal(report.honest.containmentMisses >= f.containmentMisses, true);
  });

  it('pulls every follower from up to ±100 ms to near true time, and its interval holds it', () => {
    const first = report.series.followersErrorNsMax[0]!;
    assert.ok(first > 10e6, `the oscillators started only ${first} ns apart from true time`);
    for (const n of report.nodes) {
      assert.notEqual(n.final, null);
      assert.notEqual(n.final!.status, 'unsynchronized', `node ${n.index}`);
      assert.ok(
        Math.abs(n.final!.errorNs) < FINAL_ERROR_NS_MAX,
        `node ${n.index} ends ${n.final!.errorNs} ns from true time`,
      );
      if (n.role === 'anchor') assert.equal(n.final!.errorNs, 0, 'an anchor reads the host clock');
    }
    assert.ok(report.followers.finalErrorNsMax! < FINAL_ERROR_NS_MAX);
  });
});

describe('libp2p engine: options', () => {
  it('refuses options it cannot run, naming them, before starting anything', async () => {
    const base = { nodes: 3, anchors: 1, durationS: 5, seed: '1' };
    await assert.rejects(
      runLibp2pSim({ ...base, nodes: 1 }),
      /libp2p engine nodes: expected an integer 2\.\./,
    );
    await assert.rejects(
      runLibp2pSim({ ...base, anchors: 3 }),
      /libp2p engine anchors: .*at least one follower/,
    );
    await assert.rejects(runLibp2pSim({ ...base, durationS: 0.2 }), /libp2p engine durationS/);
    await assert.rejects(runLibp2pSim({ ...base, core: { pollPeers: 0 } }), /core config pollPeers/);
  });

  it('stops early and reports what ran when aborted', async () => {
    const controller = new AbortController();
    const r = await runLibp2pSim({
      nodes: 2,
      anchors: 1,
      durationS: 60,
      seed: '1',
      signal: controller.signal,
      onSample: (elapsedS) => {
        if (elapsedS >= 2) controller.abort();
      },
    });
    assert.equal(r.aborted, true);
    assert.ok(r.durationS < 10, `ran ${r.durationS} s`);
    assert.ok(r.series.tS.length >= 3);
  });
});
