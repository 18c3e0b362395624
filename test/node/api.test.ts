// Route tests for node/api.ts through fastify's inject() (no socket), against a real NodeCore driven by
// hand: a node holding its own clock as a local reference (anchored at once), a fresh one
// (unsynchronized), and a node in a small anchored mesh with one liar that gets excluded.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { compareHlc } from '../../hlc/hlc.ts';
import type { HlcTimestamp } from '../../hlc/hlc.ts';
import { formatHlc, parseHlc } from '../../hlc/hlcCodec.ts';
import { HlcExhaustedError } from '../../hlc/hlcErrors.ts';
import { buildApi, isoFromNs, sourceScore } from '../../node/api.ts';
import type {
  ApiSource,
  ErrorResponse,
  HlcResponse,
  PeersResponse,
  ReadyResponse,
  StatusResponse,
  TimeResponse,
} from '../../node/api.ts';
import { NodeCore } from '../../node/core/nodeCore.ts';
import type { NodeCoreConfig } from '../../node/core/config.ts';
import type { SourceSnapshot } from '../../node/core/types.ts';
import { FakeSource, meshNodeWithLiar } from './fakeSource.ts';
import { BASE_NS, LcgRng, S_NS, peer } from './helpers.ts';

const apps: FastifyInstance[] = [];
after(async () => {
  await Promise.all(apps.map((a) => a.close()));
});

function api(
  source: ApiSource,
  opts: { ready?: () => boolean; multiaddrs?: string[]; peerId?: string } = {},
): FastifyInstance {
  const app = buildApi(source, {
    peerId: opts.peerId ?? 'me',
    multiaddrs: () => opts.multiaddrs ?? ['/ip4/127.0.0.1/tcp/4001/p2p/me'],
    ready: opts.ready ?? (() => true),
  });
  apps.push(app);
  return app;
}

function core(over: Partial<Omit<NodeCoreConfig, 'nodeId'>> = {}): NodeCore {
  return new NodeCore({ nodeId: 'me', ...over }, { rng: new LcgRng(1) });
}

/** A node holding its own clock at stratum 3 (chrony's `local stratum 3`): anchored after one tick. */
function localNode(): FakeSource {
  const c = core({ localStratum: 3 });
  c.handleTick(BASE_NS);
  return new FakeSource(c, BASE_NS);
}

const HOUR_NS = 3_600e9;

const meshNode = meshNodeWithLiar;

/** Parses Prometheus text into `name{k="v",…}` → value (labels sorted by name). */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m !== null, `unparseable metrics line: ${line}`);
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)]
      .map((x) => `${x[1]}="${x[2]}"`)
      .sort();
    const key = labels.length === 0 ? m[1]! : `${m[1]}{${labels.join(',')}}`;
    const raw = m[3]!;
    out.set(key, raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw));
  }
  return out;
}

function metric(metrics: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  const parts = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort();
  const key = parts.length === 0 ? name : `${name}{${parts.join(',')}}`;
  const v = metrics.get(key);
  assert.ok(v !== undefined, `metric ${key} missing`);
  return v;
}

async function scrape(app: FastifyInstance): Promise<Map<string, number>> {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200);
  return parseMetrics(res.body);
}

function assertError(
  res: { statusCode: number; json: () => unknown },
  status: number,
  code: string,
): ErrorResponse {
  assert.equal(res.statusCode, status);
  const body = res.json() as ErrorResponse;
  assert.equal(body.code, code);
  assert.equal(typeof body.error, 'string');
  assert.ok(body.message.length > 0);
  return body;
}

const ISO_NS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;

// ---- helpers ------------------------------------------------------------------------------------

describe('isoFromNs', () => {
  it('prints nine fractional digits, and floors before 1970', () => {
    assert.equal(isoFromNs(0n), '1970-01-01T00:00:00.000000000Z');
    assert.equal(isoFromNs(1_000_000_000_123_456_789n), '2001-09-09T01:46:40.123456789Z');
    assert.equal(isoFromNs(1_000_000_000_000_000_001n), '2001-09-09T01:46:40.000000001Z');
    assert.equal(isoFromNs(-1n), '1969-12-31T23:59:59.999999999Z');
    assert.equal(isoFromNs(-1_000_001n), '1969-12-31T23:59:59.998999999Z');
    assert.equal(isoFromNs(BASE_NS), '2027-01-15T08:00:00.000000000Z');
  });
});

describe('sourceScore', () => {
  const base: SourceSnapshot = {
    id: 'p',
    kind: 'peer',
    selected: true,
    offsetNs: 0,
    delayNs: 0,
    jitterNs: 0,
    rootDistanceNs: 0,
    anchorKind: 'gps',
    stratum: 1,
    lastSampleLocalNs: BASE_NS,
    reach: 0o377,
    falseticker: false,
    excludedUntilLocalNs: null,
    excludedReason: null,
  };
  it('is reachability × 1/(1 + error / 1 ms), error = root distance + delay/2 + jitter', () => {
    assert.equal(sourceScore(base, false), 1);
    assert.equal(sourceScore({ ...base, rootDistanceNs: 1e6 }, false), 0.5);
    assert.equal(
      sourceScore({ ...base, rootDistanceNs: 200_000, delayNs: 1_000_000, jitterNs: 300_000 }, false),
      0.5,
    );
    assert.equal(sourceScore({ ...base, reach: 0o17 }, false), 0.5);
    assert.equal(sourceScore({ ...base, reach: 0 }, false), 0);
  });
  it('is 0 for a falseticker, an excluded source, or one never sampled', () => {
    assert.equal(sourceScore({ ...base, falseticker: true }, false), 0);
    assert.equal(sourceScore(base, true), 0);
    assert.equal(sourceScore({ ...base, rootDistanceNs: null }, false), 0);
  });
});

// ---- /v1/time -----------------------------------------------------------------------------------

describe('GET /v1/time', () => {
  it('an anchored node: ns strings, the interval, ISO twins, anchor and a fresh HLC', async () => {
    const src = localNode();
    const app = api(src);
    const res = await app.inject({ method: 'GET', url: '/v1/time' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.equal(res.headers['cache-control'], 'no-store');
    const t = res.json() as TimeResponse;
    const r = src.read();
    assert.deepEqual(Object.keys(t).sort(), [
      'anchorKind',
      'anchored',
      'best',
      'bestNs',
      'earliest',
      'earliestNs',
      'hlc',
      'latest',
      'latestNs',
      'status',
      'stratum',
      'uncertaintyNs',
    ]);
    assert.equal(t.bestNs, r.bestNs.toString());
    assert.equal(t.earliestNs, r.earliestNs.toString());
    assert.equal(t.latestNs, r.latestNs.toString());
    const below = r.bestNs - r.earliestNs;
    const above = r.latestNs - r.bestNs;
    assert.equal(t.uncertaintyNs, (below > above ? below : above).toString());
    // Read at the instant of the update: exactly the error the local reference claims (localErrorNs).
    assert.equal(t.uncertaintyNs, '1000');
    assert.ok(BigInt(t.earliestNs!) <= BigInt(t.bestNs) && BigInt(t.bestNs) <= BigInt(t.latestNs!));
    assert.equal(t.status, 'anchored');
    assert.equal(t.anchored, true);
    assert.equal(t.anchorKind, 'local');
    assert.equal(t.stratum, 3);
    assert.equal(t.best, isoFromNs(r.bestNs));
    assert.equal(t.earliest, isoFromNs(r.earliestNs));
    assert.equal(t.latest, isoFromNs(r.latestNs));
    for (const iso of [t.best, t.earliest, t.latest]) assert.match(iso ?? '', ISO_NS);
    const hlc = parseHlc(t.hlc ?? '');
    assert.ok(hlc.ok);
    assert.equal(hlc.value.nodeId, 'me');
    assert.equal(hlc.value.wallNs, r.bestNs);
    // Fresh: a second reading's HLC orders after the first even though the clock did not move.
    const t2 = (await app.inject({ method: 'GET', url: '/v1/time' })).json() as TimeResponse;
    const hlc2 = parseHlc(t2.hlc ?? '');
    assert.ok(hlc2.ok);
    assert.equal(compareHlc(hlc.value, hlc2.value), -1);
  });

  it('an unsynchronized node: no interval (null, not ±2^62 ns), stratum 16, not anchored', async () => {
    const src = new FakeSource(core());
    const t = (await api(src).inject({ method: 'GET', url: '/v1/time' })).json() as TimeResponse;
    assert.equal(t.status, 'unsynchronized');
    assert.equal(t.anchored, false);
    assert.equal(t.anchorKind, 'none');
    assert.equal(t.stratum, 16);
    assert.equal(t.bestNs, BASE_NS.toString());
    assert.match(t.best, ISO_NS);
    assert.equal(t.earliestNs, null);
    assert.equal(t.latestNs, null);
    assert.equal(t.uncertaintyNs, null);
    assert.equal(t.earliest, null);
    assert.equal(t.latest, null);
    assert.ok(t.hlc !== null && parseHlc(t.hlc).ok);
  });

  it('holdover after 300 s without an update: not anchored, and the interval has grown', async () => {
    const c = core({ localStratum: 3 });
    c.handleTick(BASE_NS);
    const src = new FakeSource(c, BASE_NS + S_NS);
    const app = api(src);
    const before = (await app.inject({ method: 'GET', url: '/v1/time' })).json() as TimeResponse;
    src.localNs = BASE_NS + 400n * S_NS;
    const later = (await app.inject({ method: 'GET', url: '/v1/time' })).json() as TimeResponse;
    assert.equal(before.status, 'anchored');
    assert.equal(later.status, 'holdover');
    assert.equal(later.anchored, false);
    assert.ok(BigInt(later.uncertaintyNs!) > BigInt(before.uncertaintyNs!));
    assert.equal(BigInt(later.bestNs) - BigInt(before.bestNs), 399n * S_NS);
  });

  it('a stalled HLC does not stop the time: hlc is null', async () => {
    const src = localNode();
    src.hlcNow = () => {
      throw new HlcExhaustedError(BASE_NS);
    };
    const res = await api(src).inject({ method: 'GET', url: '/v1/time' });
    assert.equal(res.statusCode, 200);
    const t = res.json() as TimeResponse;
    assert.equal(t.hlc, null);
    assert.equal(t.status, 'anchored');
  });
});

// ---- HLC ----------------------------------------------------------------------------------------

describe('GET /v1/hlc and POST /v1/hlc/observe', () => {
  it('GET /v1/hlc issues strictly increasing timestamps of this node', async () => {
    const app = api(localNode());
    const a = (await app.inject({ method: 'GET', url: '/v1/hlc' })).json() as HlcResponse;
    const b = (await app.inject({ method: 'GET', url: '/v1/hlc' })).json() as HlcResponse;
    assert.deepEqual(Object.keys(a), ['hlc']);
    const pa = parseHlc(a.hlc);
    const pb = parseHlc(b.hlc);
    assert.ok(pa.ok && pb.ok);
    assert.equal(pa.value.nodeId, 'me');
    assert.equal(compareHlc(pa.value, pb.value), -1);
  });

  it('GET /v1/hlc answers 503 with the reason while the HLC is stalled', async () => {
    const src = localNode();
    src.hlcNow = () => {
      throw new HlcExhaustedError(BASE_NS);
    };
    const body = assertError(
      await api(src).inject({ method: 'GET', url: '/v1/hlc' }),
      503,
      'TM_ERR_HLC_EXHAUSTED',
    );
    assert.match(body.message, /high-water mark/);
  });

  it('observe merges a remote HLC: the result follows it, and so does every later timestamp', async () => {
    const src = localNode();
    const app = api(src);
    const remote: HlcTimestamp = { wallNs: src.read().bestNs + 1_000_000n, logical: 7, nodeId: 'app-1' };
    const res = await app.inject({
      method: 'POST',
      url: '/v1/hlc/observe',
      payload: { hlc: formatHlc(remote) },
    });
    assert.equal(res.statusCode, 200);
    const merged = parseHlc((res.json() as HlcResponse).hlc);
    assert.ok(merged.ok);
    assert.equal(merged.value.nodeId, 'me');
    assert.equal(compareHlc(merged.value, remote), 1);
    assert.equal(merged.value.wallNs, remote.wallNs);
    const next = parseHlc(((await app.inject({ method: 'GET', url: '/v1/hlc' })).json() as HlcResponse).hlc);
    assert.ok(next.ok);
    assert.equal(compareHlc(next.value, merged.value), 1);
  });

  it('observe refuses an HLC too far in the future with 422, the reason, and leaves the clock alone', async () => {
    const src = localNode();
    const app = api(src);
    const before = (await scrape(app)).get('timemesh_hlc_rejections_total');
    assert.equal(before, 0);
    const remote: HlcTimestamp = { wallNs: src.read().latestNs + 2n * S_NS, logical: 0, nodeId: 'liar' };
    const res = await app.inject({
      method: 'POST',
      url: '/v1/hlc/observe',
      payload: { hlc: formatHlc(remote) },
    });
    const body = assertError(res, 422, 'TM_ERR_HLC_MAX_OFFSET');
    assert.equal(body.error, 'Unprocessable Entity');
    assert.match(body.message, /maximum offset of 1000000000 ns/);
    assert.match(body.message, /rejected/);
    assert.match(body.message, /check its time sources/);
    const next = parseHlc(((await app.inject({ method: 'GET', url: '/v1/hlc' })).json() as HlcResponse).hlc);
    assert.ok(next.ok);
    assert.ok(next.value.wallNs < remote.wallNs);
    assert.equal(src.core.counters.hlcRejections, 1);
    assert.equal((await scrape(app)).get('timemesh_hlc_rejections_total'), 1);
  });

  const bad: [string, unknown, RegExp][] = [
    ['no hlc field', {}, /^body\.hlc: required$/],
    ['a number, not coerced', { hlc: 42 }, /^body\.hlc: must be string$/],
    ['an empty string', { hlc: '' }, /^body\.hlc: must NOT have fewer than 1 characters$/],
    ['an absurdly long string', { hlc: '1.0.' + 'x'.repeat(400) }, /^body\.hlc: must NOT have more than 300/],
    ['no dots', { hlc: 'abc' }, /^body\.hlc: invalid HLC timestamp \(missing-part\)/],
    [
      'a leading zero',
      { hlc: '01.0.node' },
      /^body\.hlc: invalid HLC timestamp \(invalid-number\): wallNs "01"/,
    ],
    ['a negative wall', { hlc: '-5.0.node' }, /invalid-number/],
    ['a logical over 2^32 − 1', { hlc: '5.4294967296.node' }, /logical-out-of-range/],
    ['an unknown field', { hlc: '5.0.node', extra: true }, /^body\.extra: unknown field$/],
    ['an array', [], /^body: must be object$/],
  ];
  for (const [what, payload, message] of bad) {
    it(`observe answers 400 naming the field for ${what}`, async () => {
      const app = api(localNode());
      const res = await app.inject({ method: 'POST', url: '/v1/hlc/observe', payload: payload as object });
      const body = assertError(res, 400, 'TM_ERR_BAD_REQUEST');
      assert.equal(body.error, 'Bad Request');
      assert.match(body.message, message);
    });
  }

  it('observe answers 400 for broken JSON, 415 for another content type, 413 for a huge body', async () => {
    const app = api(localNode());
    const broken = await app.inject({
      method: 'POST',
      url: '/v1/hlc/observe',
      headers: { 'content-type': 'application/json' },
      payload: '{"hlc": ',
    });
    assert.match(assertError(broken, 400, 'TM_ERR_BAD_REQUEST').message, /JSON/);
    const text = await app.inject({
      method: 'POST',
      url: '/v1/hlc/observe',
      headers: { 'content-type': 'text/plain' },
      payload: '5.0.node',
    });
    assert.match(
      assertError(text, 415, 'TM_ERR_UNSUPPORTED_MEDIA_TYPE').message,
      /text\/plain.*application\/json/,
    );
    const huge = await app.inject({
      method: 'POST',
      url: '/v1/hlc/observe',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ hlc: 'x'.repeat(10_000) }),
    });
    assertError(huge, 413, 'TM_ERR_PAYLOAD_TOO_LARGE');
  });
});

// ---- status and peers ---------------------------------------------------------------------------

describe('GET /v1/status', () => {
  it('shows the sync state, the last round (n, f, falsetickers), counters and identity', async () => {
    const src = meshNode();
    src.counters.samplesByOutcome.ok = 12;
    const addrs = ['/ip4/127.0.0.1/tcp/4001/p2p/me', '/ip4/10.0.0.2/tcp/4001/p2p/me'];
    const res = await api(src, { multiaddrs: addrs, peerId: 'me' }).inject({
      method: 'GET',
      url: '/v1/status',
    });
    assert.equal(res.statusCode, 200);
    const s = res.json() as StatusResponse;
    assert.equal(s.peerId, 'me');
    assert.deepEqual(s.multiaddrs, addrs);
    // The host's kernel clock state (adjtimex, read-only): present on Linux, null elsewhere.
    if (process.platform === 'linux') assert.equal(typeof s.kernel?.frequencyPpm, 'number');
    else assert.equal(s.kernel, null);
    assert.equal(s.status, 'anchored');
    assert.equal(s.anchored, true);
    assert.equal(s.stratum, 2);
    assert.equal(s.anchorKind, 'mesh');
    assert.equal(typeof s.frequencyPpm, 'number');
    assert.equal(s.pollIntervalS, 4);
    assert.ok(s.uncertaintyNs !== null && Number(s.uncertaintyNs) > 0);
    assert.ok(parseHlc(s.hlc).ok);
    assert.deepEqual(s.selected, ['h0', 'h1', 'h2']);
    const last = s.lastRound;
    assert.ok(last !== null);
    assert.equal(last.updated, true);
    assert.equal(last.basis, 'mesh');
    assert.equal(last.message, '3 of 4 sources agree (f = 1)');
    assert.equal(last.n, 4);
    assert.equal(last.f, 1);
    assert.deepEqual([...last.truechimers].sort(), ['h0', 'h1', 'h2']);
    assert.deepEqual(last.falsetickers, ['liar0']);
    // The round finished when its last response arrived, about 2 s before the snapshot.
    assert.ok(last.agoS > 1.9 && last.agoS < 2.1, `agoS ${last.agoS}`);
    assert.equal(s.counters.core.rounds, 3);
    assert.equal(s.counters.core.exchangesCompleted, 12);
    assert.equal(s.counters.core.falsetickerMarks, 3);
    assert.equal(s.counters.core.exchangesRejected['hlc-max-offset'], 0);
    assert.equal(s.counters.service.samplesByOutcome.ok, 12);
    assert.deepEqual(s.counters.service.inboundRequests, {
      served: 0,
      'rate-limited': 0,
      malformed: 0,
      failed: 0,
    });
  });

  it('a fresh node: no round yet, unsynchronized, stratum 16', async () => {
    const s = (
      await api(new FakeSource(core())).inject({ method: 'GET', url: '/v1/status' })
    ).json() as StatusResponse;
    assert.equal(s.lastRound, null);
    assert.equal(s.status, 'unsynchronized');
    assert.equal(s.stratum, 16);
    assert.equal(s.uncertaintyNs, null);
    assert.deepEqual(s.selected, []);
  });
});

describe('GET /v1/peers', () => {
  it('per source: measurements, reach in octal, last seen, exclusion and a score', async () => {
    const src = meshNode();
    const res = await api(src).inject({ method: 'GET', url: '/v1/peers' });
    assert.equal(res.statusCode, 200);
    const { peers } = res.json() as PeersResponse;
    assert.deepEqual(
      peers.map((p) => p.id),
      ['h0', 'h1', 'h2', 'liar0'],
    );
    for (const p of peers.slice(0, 3)) {
      assert.equal(p.kind, 'peer');
      assert.equal(p.selected, true);
      assert.equal(p.anchorKind, 'gps');
      assert.equal(p.stratum, 1);
      assert.equal(p.delayNs, 1_000_000);
      assert.equal(p.jitterNs, 0);
      assert.equal(p.rootDistanceNs, 300_000);
      // Three polls, three answers: 0b111.
      assert.equal(p.reach, 7);
      assert.equal(p.reachOctal, '7');
      assert.ok(p.lastSeenAgoS !== null && p.lastSeenAgoS > 1.9 && p.lastSeenAgoS < 2.1);
      assert.equal(p.falseticker, false);
      assert.equal(p.excluded, false);
      assert.equal(p.excludedReason, null);
      assert.equal(p.excludedForS, null);
      // reach 3/8 × 1/(1 + (300 µs + 1 ms / 2) / 1 ms) = 0.375 / 1.8
      assert.equal(p.score, 0.208);
    }
    assert.deepEqual(
      peers.slice(0, 3).map((p) => p.offsetNs),
      [-100_000, 0, 200_000],
    );
    const liar = peers[3]!;
    assert.equal(liar.offsetNs, HOUR_NS);
    assert.equal(liar.selected, false);
    assert.equal(liar.falseticker, true);
    assert.equal(liar.excluded, true);
    assert.equal(liar.excludedReason, 'falseticker in 3 consecutive rounds');
    assert.ok(liar.excludedForS !== null && liar.excludedForS > 897 && liar.excludedForS <= 900);
    assert.equal(liar.score, 0);
    // Once the hold-off has passed it is no longer reported as excluded.
    src.localNs += 1000n * S_NS;
    const later = ((await api(src).inject({ method: 'GET', url: '/v1/peers' })).json() as PeersResponse)
      .peers[3]!;
    assert.equal(later.excluded, false);
    assert.equal(later.excludedReason, null);
    assert.ok(later.lastSeenAgoS !== null && later.lastSeenAgoS > 1000);
  });

  it('a node with no sources answers an empty list', async () => {
    const res = await api(new FakeSource(core())).inject({ method: 'GET', url: '/v1/peers' });
    assert.deepEqual(res.json(), { peers: [] });
  });
});

// ---- metrics ------------------------------------------------------------------------------------

describe('GET /metrics', () => {
  it('exports the node’s state in Prometheus text format with sane values', async () => {
    const src = meshNode();
    src.counters.samplesByOutcome.ok = 12;
    src.counters.samplesByOutcome['bad-signature'] = 1;
    src.counters.samplesByOutcome['malformed:too-short'] = 2;
    src.counters.gossipByOutcome.accept = 5;
    src.counters.gossipByOutcome.future = 2;
    src.counters.gossipByOutcome.published = 3;
    src.counters.inboundRequests.served = 9;
    src.counters.inboundRequests['rate-limited'] = 4;
    // A response to an exchange the core does not know (late, or forged): rejected and counted.
    const stray = peer('h0');
    src.core.handleExchangeCompleted({
      exchangeId: 999,
      peerId: 'h0',
      t1LocalNs: src.localNs,
      t4LocalNs: src.localNs + 1_000_000n,
      response: {
        t2PeerNs: src.localNs,
        t3PeerNs: src.localNs,
        earliestNs: src.localNs - 1000n,
        latestNs: src.localNs + 1000n,
        rootDistanceNs: stray.errorNs,
        anchorKind: 'gps',
        stratum: 1,
        status: 'anchored',
        hlc: { wallNs: src.localNs, logical: 0, nodeId: 'h0' },
      },
    });
    const app = api(src, { peerId: 'me' });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(res.body, /# TYPE timemesh_samples_total counter/);
    assert.match(res.body, /# TYPE timemesh_rejected_messages_total counter/);
    assert.match(res.body, /# TYPE timemesh_uncertainty_seconds gauge/);
    const m = parseMetrics(res.body);

    const r = src.read();
    const u = Math.max(Number(r.bestNs - r.earliestNs), Number(r.latestNs - r.bestNs)) / 1e9;
    assert.ok(Math.abs(metric(m, 'timemesh_uncertainty_seconds') - u) < 1e-12);
    assert.ok(u > 0 && u < 0.01, `uncertainty ${u} s`);
    assert.equal(metric(m, 'timemesh_offset_seconds'), Number(r.estimateNs - r.bestNs) / 1e9);
    assert.ok(Number.isFinite(metric(m, 'timemesh_frequency_ratio')));
    assert.equal(metric(m, 'timemesh_stratum'), 2);
    assert.equal(metric(m, 'timemesh_poll_interval_seconds'), 4);
    assert.equal(metric(m, 'timemesh_node_info', { peer_id: 'me' }), 1);
    assert.equal(metric(m, 'timemesh_synchronized', { status: 'anchored' }), 1);
    for (const st of ['unsynchronized', 'synchronized', 'holdover']) {
      assert.equal(metric(m, 'timemesh_synchronized', { status: st }), 0);
    }
    assert.equal(metric(m, 'timemesh_peers', { state: 'known' }), 4);
    assert.equal(metric(m, 'timemesh_peers', { state: 'selected' }), 3);
    assert.equal(metric(m, 'timemesh_peers', { state: 'falseticker' }), 1);
    assert.equal(metric(m, 'timemesh_peers', { state: 'excluded' }), 1);
    assert.equal(metric(m, 'timemesh_round_sources'), 4);
    assert.equal(metric(m, 'timemesh_round_fault_tolerance'), 1);

    assert.equal(metric(m, 'timemesh_samples_total', { outcome: 'ok' }), 12);
    assert.equal(metric(m, 'timemesh_samples_total', { outcome: 'timeout' }), 0);
    assert.equal(metric(m, 'timemesh_samples_total', { outcome: 'malformed:too-short' }), 2);
    assert.equal(metric(m, 'timemesh_inbound_requests_total', { outcome: 'served' }), 9);
    assert.equal(metric(m, 'timemesh_gossip_messages_total', { outcome: 'accept' }), 5);
    assert.equal(metric(m, 'timemesh_gossip_messages_total', { outcome: 'published' }), 3);
    const rejected = (channel: string, reason: string) =>
      metric(m, 'timemesh_rejected_messages_total', { channel, reason });
    assert.equal(rejected('gossip', 'future'), 2);
    assert.equal(rejected('gossip', 'bad-receipt'), 0);
    assert.equal(rejected('sample-response', 'bad-signature'), 1);
    assert.equal(rejected('sample-response', 'malformed:too-short'), 2);
    assert.equal(rejected('sample-response', 'unknown-exchange'), 1);
    assert.equal(rejected('sample-response', 'hlc-max-offset'), 0);
    assert.equal(rejected('sample-request', 'rate-limited'), 4);
    assert.equal(rejected('sample-request', 'malformed'), 0);
    // Successes are not rejections.
    assert.equal(m.get('timemesh_rejected_messages_total{channel="gossip",reason="accept"}'), undefined);
    assert.equal(m.get('timemesh_rejected_messages_total{channel="sample-response",reason="ok"}'), undefined);

    assert.equal(metric(m, 'timemesh_rounds_total'), 3);
    assert.equal(metric(m, 'timemesh_no_quorum_rounds_total'), 0);
    assert.equal(metric(m, 'timemesh_hlc_rejections_total'), 0);
    assert.equal(metric(m, 'timemesh_falseticker_marks_total', { kind: 'peer' }), 3);
    assert.equal(metric(m, 'timemesh_announcements_total', { direction: 'published' }), 1);
    // prom-client's default process metrics, unprefixed as Prometheus expects.
    assert.ok(metric(m, 'process_cpu_user_seconds_total') >= 0);
    assert.ok(metric(m, 'nodejs_heap_size_used_bytes') > 0);
  });

  it('totals are read at scrape time: they follow the node and never accumulate across scrapes', async () => {
    const src = meshNode();
    src.counters.samplesByOutcome.ok = 5;
    const app = api(src);
    const first = await scrape(app);
    const again = await scrape(app);
    assert.equal(metric(first, 'timemesh_samples_total', { outcome: 'ok' }), 5);
    assert.equal(metric(again, 'timemesh_samples_total', { outcome: 'ok' }), 5);
    assert.equal(metric(again, 'timemesh_rounds_total'), 3);
    src.counters.samplesByOutcome.ok = 8;
    src.counters.gossipByOutcome.replay = 1;
    src.localNs += 400n * S_NS;
    const later = await scrape(app);
    assert.equal(metric(later, 'timemesh_samples_total', { outcome: 'ok' }), 8);
    assert.equal(
      metric(later, 'timemesh_rejected_messages_total', { channel: 'gossip', reason: 'replay' }),
      1,
    );
    // Four hundred seconds without an update: holdover, and the interval has grown.
    assert.equal(metric(later, 'timemesh_synchronized', { status: 'holdover' }), 1);
    assert.equal(metric(later, 'timemesh_synchronized', { status: 'anchored' }), 0);
    assert.ok(metric(later, 'timemesh_uncertainty_seconds') > metric(first, 'timemesh_uncertainty_seconds'));
  });

  it('an unsynchronized node: uncertainty +Inf, stratum 16, no peers', async () => {
    const m = await scrape(api(new FakeSource(core())));
    assert.equal(metric(m, 'timemesh_uncertainty_seconds'), Infinity);
    assert.equal(metric(m, 'timemesh_stratum'), 16);
    assert.equal(metric(m, 'timemesh_synchronized', { status: 'unsynchronized' }), 1);
    assert.equal(metric(m, 'timemesh_peers', { state: 'known' }), 0);
    assert.equal(metric(m, 'timemesh_round_sources'), 0);
  });

  it('each API has its own registry: two in one process do not clash', async () => {
    const a = await scrape(api(localNode(), { peerId: 'node-a' }));
    const b = await scrape(api(new FakeSource(core()), { peerId: 'node-b' }));
    assert.equal(metric(a, 'timemesh_node_info', { peer_id: 'node-a' }), 1);
    assert.equal(a.get('timemesh_node_info{peer_id="node-b"}'), undefined);
    assert.equal(metric(b, 'timemesh_node_info', { peer_id: 'node-b' }), 1);
    assert.equal(metric(a, 'timemesh_stratum'), 3);
    assert.equal(metric(b, 'timemesh_stratum'), 16);
  });
});

// ---- probes and errors --------------------------------------------------------------------------

describe('health, readiness, unknown routes and internal errors', () => {
  it('GET /healthz is 200 whatever the clock says', async () => {
    const res = await api(new FakeSource(core()), { ready: () => false }).inject({
      method: 'GET',
      url: '/healthz',
    });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
  });

  it('GET /readyz flips with the service and the clock, saying why when it is not ready', async () => {
    let started = false;
    const c = core({ localStratum: 3 });
    const src = new FakeSource(c);
    const app = api(src, { ready: () => started });
    const probe = async () => {
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      return { status: res.statusCode, body: res.json() as ReadyResponse };
    };
    let p = await probe();
    assert.equal(p.status, 503);
    assert.equal(p.body.ready, false);
    assert.match(p.body.reason ?? '', /has not started/);
    started = true;
    p = await probe();
    assert.equal(p.status, 503);
    assert.equal(p.body.status, 'unsynchronized');
    assert.match(p.body.reason ?? '', /unsynchronized/);
    c.handleTick(BASE_NS);
    p = await probe();
    assert.equal(p.status, 200);
    assert.deepEqual(p.body, { ready: true, status: 'anchored', reason: null });
    // Holdover still has a bound: still ready.
    src.localNs = BASE_NS + 400n * S_NS;
    p = await probe();
    assert.equal(p.status, 200);
    assert.equal(p.body.status, 'holdover');
    started = false;
    p = await probe();
    assert.equal(p.status, 503);
  });

  it('unknown routes and methods answer a JSON 404 that lists the routes', async () => {
    const app = api(localNode());
    const body = assertError(
      await app.inject({ method: 'GET', url: '/v1/nope?x=1' }),
      404,
      'TM_ERR_NOT_FOUND',
    );
    assert.equal(body.error, 'Not Found');
    assert.match(body.message, /^no route GET \/v1\/nope; routes: GET \/v1\/time/);
    const del = assertError(await app.inject({ method: 'DELETE', url: '/v1/time' }), 404, 'TM_ERR_NOT_FOUND');
    assert.match(del.message, /DELETE \/v1\/time/);
  });

  it('an internal failure is a 500 with a generic message, not the exception', async () => {
    const src = localNode();
    src.snapshot = () => {
      throw new Error('secret internals at /home/op/.timemesh');
    };
    const body = assertError(
      await api(src).inject({ method: 'GET', url: '/v1/status' }),
      500,
      'TM_ERR_INTERNAL',
    );
    assert.doesNotMatch(body.message, /secret|home/);
    assert.match(body.message, /internal error/);
  });

  it('with a shared pino logger: server errors are logged, ordinary requests are not', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const src = localNode();
    const app = buildApi(src, { peerId: 'me', multiaddrs: () => [], ready: () => true, logger });
    apps.push(app);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/time' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/nope' })).statusCode, 404);
    assert.equal(lines.length, 0, JSON.stringify(lines));
    src.snapshot = () => {
      throw new Error('boom');
    };
    assert.equal((await app.inject({ method: 'GET', url: '/v1/peers' })).statusCode, 500);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.msg, 'API request failed');
    assert.equal(lines[0]!.level, 50);
    assert.match(JSON.stringify(lines[0]!.err), /boom/);
  });
});
