// The API client: fetchJson against real sockets (a running API, a closed port, a silent server, a
// server that is not timemesh), and the text formatters on sample answers.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { buildApi } from '../../node/api.ts';
import type { PeersResponse, StatusResponse, TimeResponse } from '../../node/api.ts';
import {
  ApiClientError,
  fetchJson,
  formatAgo,
  formatNs,
  formatPeers,
  formatStatus,
  formatTime,
  normalizeBaseUrl,
  shortId,
} from '../../node/apiClient.ts';
import { NodeCore } from '../../node/core/nodeCore.ts';
import { BASE_NS, LcgRng } from './helpers.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function isClientError(code: string, status: number | null, message: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof ApiClientError, `not an ApiClientError: ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.status, status);
    assert.match(e.message, message);
    return true;
  };
}

async function listenHttp(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

describe('fetchJson', () => {
  it('reads a route of a running node over a real socket', async () => {
    const core = new NodeCore({ nodeId: 'me', localStratum: 3 }, { rng: new LcgRng(1) });
    const source = {
      read: () => core.read(BASE_NS),
      hlcNow: () => core.hlcNow(BASE_NS),
      hlcObserve: (r: Parameters<NodeCore['hlcObserve']>[0]) => core.hlcObserve(r, BASE_NS),
      snapshot: () => core.snapshot(BASE_NS),
      serveTime: (localNs: bigint) => core.serveTime(localNs),
      localNowNs: () => BASE_NS,
      counters: {
        samplesByOutcome: {},
        inboundRequests: { served: 0, 'rate-limited': 0, malformed: 0, failed: 0 },
        gossipByOutcome: {},
      },
    };
    const app = buildApi(source, { peerId: 'me', multiaddrs: () => [], ready: () => true });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());

    const before = await fetchJson<TimeResponse>(base, '/v1/time');
    assert.equal(before.status, 'unsynchronized');
    assert.equal(before.bestNs, BASE_NS.toString());
    core.handleTick(BASE_NS);
    // Without the leading slash, and with a trailing slash on the base: same route.
    const t = await fetchJson<TimeResponse>(`${base}/`, 'v1/time');
    assert.equal(t.status, 'anchored');
    assert.equal(t.uncertaintyNs, '1000');
    // An error answer carries the API's code and message.
    await assert.rejects(
      fetchJson(base, '/v1/nope'),
      isClientError('TM_ERR_API_RESPONSE', 404, /HTTP 404 TM_ERR_NOT_FOUND: no route GET \/v1\/nope/),
    );
  });

  it('says how to start a node when nothing listens', async () => {
    const port = await closedPort();
    const base = `http://127.0.0.1:${port}`;
    await assert.rejects(fetchJson(base, '/v1/time'), (e: unknown) => {
      assert.ok(e instanceof ApiClientError);
      assert.equal(e.code, 'TM_ERR_API_UNREACHABLE');
      assert.ok(
        e.message.startsWith(
          `no timemesh node answers at ${base} — is it running? start one with \`timemesh start\``,
        ),
        e.message,
      );
      assert.match(e.message, /ECONNREFUSED/);
      return true;
    });
    // The --api form (host:port) works the same.
    await assert.rejects(
      fetchJson(`127.0.0.1:${port}`, '/v1/status'),
      isClientError('TM_ERR_API_UNREACHABLE', null, /no timemesh node answers at http:\/\/127\.0\.0\.1:/),
    );
  });

  it('gives up on a server that accepts and never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createTcpServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    const base = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    await assert.rejects(
      fetchJson(base, '/v1/time', { timeoutMs: 200 }),
      isClientError('TM_ERR_API_TIMEOUT', null, /did not answer GET \/v1\/time within 0\.2 s/),
    );
  });

  it('refuses an answer that is not JSON (not a timemesh API)', async () => {
    const base = await listenHttp(
      createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>hello</html>');
      }),
    );
    await assert.rejects(
      fetchJson(base, '/v1/time'),
      isClientError(
        'TM_ERR_API_RESPONSE',
        200,
        /not JSON \(content-type "text\/html"\): is this a timemesh API\?/,
      ),
    );
  });

  it('normalizes the base URL and refuses what is not http(s)', () => {
    assert.equal(normalizeBaseUrl('127.0.0.1:7070'), 'http://127.0.0.1:7070');
    assert.equal(normalizeBaseUrl('localhost:7070'), 'http://localhost:7070');
    assert.equal(normalizeBaseUrl('[::1]:7070'), 'http://[::1]:7070');
    assert.equal(normalizeBaseUrl('https://time.example:8443//'), 'https://time.example:8443');
    assert.throws(
      () => normalizeBaseUrl('ftp://x'),
      isClientError('TM_ERR_API_URL', null, /http:\/\/ or https:\/\//),
    );
    assert.throws(
      () => normalizeBaseUrl('http://'),
      isClientError('TM_ERR_API_URL', null, /not a valid API address/),
    );
  });
});

describe('units', () => {
  it('formatNs picks a readable scale, signs offsets, and prints - for null', () => {
    assert.equal(formatNs(850), '850 ns');
    assert.equal(formatNs(12_340), '12.34 µs');
    assert.equal(formatNs(1_234_000), '1.234 ms');
    assert.equal(formatNs(1_000_000), '1 ms');
    assert.equal(formatNs(2.5e9), '2.5 s');
    assert.equal(formatNs(3_600e9), '1 h');
    assert.equal(formatNs(-250_000, true), '-250 µs');
    assert.equal(formatNs(250_000, true), '+250 µs');
    assert.equal(formatNs(0, true), '0 ns');
    assert.equal(formatNs(null), '-');
    assert.equal(formatNs(Number.NaN), '-');
  });

  it('formatAgo and shortId', () => {
    assert.equal(formatAgo(0.4), '0.4s');
    assert.equal(formatAgo(12), '12s');
    assert.equal(formatAgo(300), '5m');
    assert.equal(formatAgo(3 * 3600), '3h');
    assert.equal(formatAgo(null), '-');
    assert.equal(shortId('h0'), 'h0');
    assert.equal(shortId('12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'), '12D3KooW…CVe2Xo');
  });
});

// ---- formatters on sample answers ---------------------------------------------------------------

const PEER_A = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo';
const PEER_LIAR = '12D3KooWLiarLiarLiarLiarLiarLiarLiarLiarLiarLiar9999';

const TIME: TimeResponse = {
  bestNs: '1795435200123456789',
  earliestNs: '1795435200122222789',
  latestNs: '1795435200124690789',
  uncertaintyNs: '1234000',
  status: 'anchored',
  anchored: true,
  anchorKind: 'gps',
  stratum: 1,
  hlc: '1795435200123456789.0.me',
  best: '2026-11-23T10:00:00.123456789Z',
  earliest: '2026-11-23T10:00:00.122222789Z',
  latest: '2026-11-23T10:00:00.124690789Z',
};

const STATUS: StatusResponse = {
  peerId: PEER_A,
  multiaddrs: [`/ip4/127.0.0.1/tcp/4001/p2p/${PEER_A}`, `/ip4/10.0.0.2/tcp/4001/p2p/${PEER_A}`],
  status: 'anchored',
  anchored: true,
  stratum: 2,
  anchorKind: 'mesh',
  frequencyPpm: -3.2146,
  pollIntervalS: 16,
  uncertaintyNs: '250000',
  kernel: null,
  refclocks: { gps: null, pps: null },
  systemClock: null,
  hlc: '1795435200123456789.3.me',
  selected: ['h0', 'h1', 'h2'],
  lastRound: {
    updated: true,
    basis: 'mesh',
    message: '3 of 4 sources agree (f = 1)',
    n: 4,
    f: 1,
    truechimers: ['h0', 'h1', 'h2'],
    falsetickers: [PEER_LIAR],
    agoS: 3.2,
  },
  counters: {
    core: {
      exchangesStarted: 30,
      exchangesCompleted: 27,
      exchangesFailed: 2,
      exchangesRejected: {
        'negative-delay': 0,
        'responder-time-reversed': 0,
        'bad-interval': 0,
        'offset-too-large': 0,
        'unknown-exchange': 0,
        'hlc-max-offset': 1,
      },
      rounds: 12,
      noQuorumRounds: 1,
      falsetickerMarks: 3,
      referenceFalsetickerMarks: 0,
      announcementsPublished: 4,
      announcementsReceived: 9,
      hlcRejections: 1,
      steps: 1,
      slews: 10,
    },
    service: {
      samplesByOutcome: { ok: 28, timeout: 2 },
      inboundRequests: { served: 10, 'rate-limited': 0, malformed: 1, failed: 0 },
      gossipByOutcome: { published: 4, accept: 9, future: 1 },
    },
  },
};

const PEERS: PeersResponse = {
  peers: [
    {
      id: 'h0',
      kind: 'peer',
      selected: true,
      offsetNs: -100_000,
      delayNs: 1_000_000,
      jitterNs: 12_340,
      rootDistanceNs: 300_000,
      anchorKind: 'gps',
      stratum: 1,
      lastSeenAgoS: 2,
      reach: 0o377,
      reachOctal: '377',
      falseticker: false,
      excluded: false,
      excludedReason: null,
      excludedForS: null,
      score: 0.5,
    },
    {
      id: 'gps0',
      kind: 'reference',
      selected: false,
      offsetNs: null,
      delayNs: null,
      jitterNs: null,
      rootDistanceNs: null,
      anchorKind: 'gps',
      stratum: 0,
      lastSeenAgoS: null,
      reach: 0,
      reachOctal: '0',
      falseticker: false,
      excluded: false,
      excludedReason: null,
      excludedForS: null,
      score: 0,
    },
    {
      id: PEER_LIAR,
      kind: 'peer',
      selected: false,
      offsetNs: 3_600e9,
      delayNs: 1_000_000,
      jitterNs: 0,
      rootDistanceNs: 1000,
      anchorKind: 'none',
      stratum: 3,
      lastSeenAgoS: 45,
      reach: 7,
      reachOctal: '7',
      falseticker: true,
      excluded: true,
      excludedReason: 'falseticker in 3 consecutive rounds',
      excludedForS: 840,
      score: 0,
    },
  ],
};

describe('formatters', () => {
  it('formatTime: the time, its uncertainty, the sync state and the HLC', () => {
    const text = formatTime(TIME);
    assert.match(text, /^time {9}2026-11-23T10:00:00\.123456789Z$/m);
    assert.match(text, /^uncertainty {2}±1\.234 ms$/m);
    assert.match(text, /^status {7}anchored, stratum 1, anchor gps$/m);
    assert.match(text, /^earliest {5}2026-11-23T10:00:00\.122222789Z$/m);
    assert.match(text, /^latest {7}2026-11-23T10:00:00\.124690789Z$/m);
    assert.match(text, /^best \(ns\) {4}1795435200123456789$/m);
    assert.match(text, /^hlc {10}1795435200123456789\.0\.me$/m);
    // Values start in one column.
    for (const line of text.split('\n')) assert.ok(line[12] === ' ' && line[13] !== ' ', line);
  });

  it('formatTime: an unsynchronized node says the uncertainty is unbounded', () => {
    const text = formatTime({
      ...TIME,
      status: 'unsynchronized',
      anchored: false,
      anchorKind: 'none',
      stratum: 16,
      earliestNs: null,
      latestNs: null,
      uncertaintyNs: null,
      earliest: null,
      latest: null,
      hlc: null,
    });
    assert.match(text, /^uncertainty +unbounded \(no time source yet\)$/m);
    assert.match(text, /^earliest +-$/m);
    assert.match(text, /^hlc +- \(stalled/m);
    assert.doesNotMatch(text, /null|undefined|NaN/);
  });

  it('formatStatus: identity, every multiaddr on its own line, last round with f, nonzero counters', () => {
    const text = formatStatus(STATUS);
    const lines = text.split('\n');
    assert.match(text, new RegExp(`^node +${PEER_A}$`, 'm'));
    const first = lines.findIndex((l) => l.includes('/ip4/127.0.0.1/'));
    assert.ok(first >= 0 && lines[first]!.startsWith('listening'));
    assert.match(lines[first + 1]!, /^ +\/ip4\/10\.0\.0\.2\/tcp\/4001\/p2p\//);
    // The continuation line's address starts in the same column as the first one's.
    assert.equal(lines[first + 1]!.indexOf('/ip4'), lines[first]!.indexOf('/ip4'));
    assert.match(text, /^status +anchored, stratum 2, anchor mesh$/m);
    assert.match(text, /^uncertainty +±250 µs$/m);
    assert.match(text, /^frequency +-3\.215 ppm$/m);
    assert.match(text, /^poll +16 s$/m);
    assert.match(text, /^selected +3: h0, h1, h2$/m);
    assert.match(text, /^last round +3\.2s ago, updated \(mesh\): 3 of 4 sources agree \(f = 1\)$/m);
    assert.match(text, /^ {2}n, f +4 sources, f = 1$/m);
    assert.match(text, /^ {2}falsetickers +12D3KooW…ar9999$/m);
    assert.match(text, /^rounds +12 \(no quorum: 1\)$/m);
    assert.match(text, /^rejected +hlc-max-offset 1$/m);
    assert.match(text, /^samples +ok 28, timeout 2$/m);
    assert.match(text, /^inbound +served 10, malformed 1$/m);
    assert.match(text, /^gossip +published 4, accept 9, future 1$/m);
    assert.doesNotMatch(text, /undefined|NaN/);
  });

  it('formatStatus: a fresh node has no round yet and no rejections', () => {
    const text = formatStatus({ ...STATUS, lastRound: null, selected: [], multiaddrs: [] });
    assert.match(text, /^last round +none yet$/m);
    assert.match(text, /^selected +0: none$/m);
    assert.match(text, /^listening +-$/m);
    assert.doesNotMatch(text, /truechimers/);
  });

  it('formatPeers: an aligned table with state marks, octal reach, and why a peer is excluded', () => {
    const text = formatPeers(PEERS);
    const lines = text.split('\n');
    const header = lines[0]!;
    assert.match(header, /^S +ID +KIND +ST +ANCHOR +REACH +LAST +OFFSET +DELAY +JITTER +ROOT DIST +SCORE$/);
    const rows = lines.slice(1, 4);
    // Right-aligned numeric columns: every row ends where the SCORE header ends.
    for (const r of rows) assert.equal(r.length, header.length, r);
    assert.match(rows[0]!, /^\* +h0 +peer +1 +gps +377 +2s +-100 µs +1 ms +12\.34 µs +300 µs +0\.500$/);
    assert.match(rows[1]!, /^ +gps0 +ref +0 +gps +0 +- +- +- +- +- +0\.000$/);
    assert.match(rows[2]!, /^x +12D3KooW…ar9999 +peer +3 +none +7 +45s +\+1 h +1 ms +0 ns +1 µs +0\.000$/);
    assert.match(
      text,
      /^x 12D3KooW…ar9999: excluded for another 14m \(falseticker in 3 consecutive rounds\)$/m,
    );
    assert.match(lines.at(-1)!, /^S: \* selected, ! falseticker, x excluded/);
  });

  it('formatPeers: a falseticker not yet excluded gets !, and no sources says so', () => {
    const text = formatPeers({ peers: [{ ...PEERS.peers[2]!, excluded: false, excludedForS: null }] });
    assert.match(text.split('\n')[1]!, /^! /);
    assert.doesNotMatch(text, /excluded for/);
    assert.match(formatPeers({ peers: [] }), /^no sources yet/);
  });
});
