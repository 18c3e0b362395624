/**
 * The node's NTP server on a loopback socket, with a hand-made TimeView: what a reply says (origin,
 * T2 ≤ T3, stratum, leap, root dispersion, reference id and timestamp), versions 3 and 4, extension
 * fields tolerated, malformed and non-client packets dropped and counted, hundreds of random
 * datagrams survived, and per-client rate limiting answered with Kiss-o'-Death RATE.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:dgram';
import {
  NTP_MODE,
  asciiReferenceId,
  clientRequest,
  decodeNtpPacket,
  encodeNtpPacket,
  fromNtpTimestamp,
  kissCode,
  ntpShortToNs,
} from '../../refclock/ntpPacket.ts';
import type { NtpPacket } from '../../refclock/ntpPacket.ts';
import { NtpServer, buildNtpReply, hashReferenceId } from '../../refclock/ntpServer.ts';
import type { ServedTime } from '../../node/core/types.ts';
import type { TimeView } from '../../refclock/types.ts';
import { closeSocket, exchange, fakeView, hostNowNs, ntpQuery, udpSocket, waitFor } from './ntpHelpers.ts';

const S = 1_000_000_000n;

async function withServer(
  view: TimeView,
  options: Partial<ConstructorParameters<typeof NtpServer>[0]>,
  body: (server: NtpServer, port: number, client: Socket) => Promise<void>,
): Promise<void> {
  const server = new NtpServer({ host: '127.0.0.1', port: 0, view, ...options });
  const { port } = await server.start();
  const client = await udpSocket();
  try {
    await body(server, port, client);
  } finally {
    await closeSocket(client);
    await server.stop();
  }
}

describe('NtpServer: replies', () => {
  it('answers with origin = the request transmit, T1 ≤ T2 ≤ T3 ≤ T4 on the served clock, and the node claim', async () => {
    const offsetNs = 250_000_000n;
    const view = fakeView({ offsetNs, stratum: 4, rootDistanceNs: 1_500_000 });
    await withServer(view, { referenceId: 0x0a0b0c0d }, async (server, port, client) => {
      const t1 = hostNowNs();
      const reply = await ntpQuery(client, port, 0xfeedfacecafebeefn);
      const t4 = hostNowNs();
      assert.ok(reply !== null);
      assert.equal(reply.mode, NTP_MODE.server);
      assert.equal(reply.version, 4);
      assert.equal(reply.originTs, 0xfeedfacecafebeefn);
      assert.equal(reply.leap, 0);
      assert.equal(reply.stratum, 4);
      assert.equal(reply.referenceId, 0x0a0b0c0d);
      assert.equal(reply.precision, -20);
      assert.equal(reply.rootDelayNs, 0);
      // Root dispersion = the node's root distance, rounded up to the 16.16 unit (15.26 µs).
      assert.ok(reply.rootDispersionNs >= 1_500_000 && reply.rootDispersionNs < 1_500_000 + 15_259);
      const t2 = fromNtpTimestamp(reply.receiveTs, t1)!;
      const t3 = fromNtpTimestamp(reply.transmitTs, t1)!;
      assert.ok(t1 + offsetNs <= t2 + 1n && t2 <= t3 && t3 <= t4 + offsetNs + 1n, `${t1} ${t2} ${t3} ${t4}`);
      // The reference timestamp: the last update, 2 s before the request, on the served clock.
      const ref = fromNtpTimestamp(reply.referenceTs, t1)!;
      assert.ok(t2 - ref > 2n * S - 1000n && t2 - ref <= 2n * S + 1000n, `${t2 - ref}`);
      await waitFor(
        'the served count',
        () => (server.counters.outcomes.served === 1 ? true : undefined),
        1000,
      );
    });
  });

  it('answers an unsynchronized node with leap indicator 3 and stratum 16', async () => {
    const view = fakeView({
      status: 'unsynchronized',
      stratum: 16,
      rootDistanceNs: 2 ** 62,
      lastUpdateLocalNs: null,
    });
    await withServer(view, {}, async (_server, port, client) => {
      const reply = await ntpQuery(client, port);
      assert.ok(reply !== null);
      assert.equal(reply.leap, 3);
      assert.equal(reply.stratum, 16);
      assert.equal(reply.referenceId, 0);
      assert.equal(reply.referenceTs, 0n);
      assert.equal(kissCode(reply), null);
      assert.equal(reply.rootDispersionNs, ntpShortToNs(0xffffffff));
    });
  });

  it('answers version 3 with version 3, and a request with extension fields and a MAC with the plain header', async () => {
    await withServer(fakeView(), {}, async (_server, port, client) => {
      const v3 = await ntpQuery(client, port, 7n, 3);
      assert.equal(v3?.version, 3);
      const withExtras = new Uint8Array(48 + 16 + 20);
      withExtras.set(encodeNtpPacket(clientRequest(99n, 6)));
      withExtras.fill(0x5a, 48);
      const reply = await exchange(client, port, withExtras);
      assert.equal(reply?.length, 48);
    });
  });

  it('names its reference by anchor kind at stratum 1 and by its own id below', () => {
    const request = clientRequest(1n, 6);
    const served = (over: Partial<ServedTime>): ServedTime => ({
      timeNs: 1_700_000_000n * S,
      earliestNs: 0n,
      latestNs: 0n,
      rootDistanceNs: 1000,
      status: 'anchored',
      stratum: 1,
      anchorKind: 'gps',
      lastUpdateLocalNs: null,
      ...over,
    });
    const id = hashReferenceId('12D3KooWexample');
    const at = 1_700_000_000n * S;
    assert.equal(buildNtpReply(request, served({}), at, id).referenceId, asciiReferenceId('GPS'));
    assert.equal(
      buildNtpReply(request, served({ anchorKind: 'pps' }), at, id).referenceId,
      asciiReferenceId('PPS'),
    );
    assert.equal(
      buildNtpReply(request, served({ anchorKind: 'local' }), at, id).referenceId,
      asciiReferenceId('LOCL'),
    );
    assert.equal(buildNtpReply(request, served({ stratum: 2, anchorKind: 'ntp' }), at, id).referenceId, id);
    // A stratum-0 claim must never go out as stratum 0 (that would be a kiss).
    assert.equal(buildNtpReply(request, served({ stratum: 0 }), at, id).stratum, 1);
    assert.equal(buildNtpReply(request, served({ status: 'synchronized', stratum: 16 }), at, id).leap, 3);
  });
});

describe('NtpServer: hostile input', () => {
  let server: NtpServer;
  let port: number;
  let client: Socket;

  before(async () => {
    server = new NtpServer({ host: '127.0.0.1', port: 0, view: fakeView(), ratePerSecond: 1e6, burst: 1e6 });
    port = (await server.start()).port;
    client = await udpSocket();
  });
  after(async () => {
    await closeSocket(client);
    await server.stop();
  });

  it('drops short, wrong-version and non-client packets without answering, counting each reason', async () => {
    const before = { ...server.counters.outcomes };
    const serverMode = encodeNtpPacket({ ...clientRequest(5n, 6), mode: NTP_MODE.server });
    const version2 = encodeNtpPacket(clientRequest(5n, 6, 2));
    const control = encodeNtpPacket({ ...clientRequest(5n, 6), mode: NTP_MODE.control });
    for (const bytes of [new Uint8Array(0), new Uint8Array(47), serverMode, version2, control]) {
      assert.equal(await exchange(client, port, bytes, 150), null);
    }
    const o = server.counters.outcomes;
    assert.equal(o['short-packet'] - before['short-packet'], 2);
    assert.equal(o['bad-version'] - before['bad-version'], 1);
    assert.equal(o['not-client'] - before['not-client'], 2);
    assert.equal(o.served, before.served);
  });

  it('survives 500 random datagrams and still answers correctly', async () => {
    // In batches, so the socket's receive buffer never overflows and every datagram is handled.
    for (let batch = 0; batch < 10; batch++) {
      const received = server.counters.received;
      for (let i = 0; i < 50; i++) {
        const validLooking = i % 3 === 0;
        const bytes = randomBytes(validLooking ? 48 : Math.floor(Math.random() * 100));
        if (validLooking) bytes[0] = (bytes[0]! & 0b11_000_000) | (4 << 3) | NTP_MODE.client;
        client.send(bytes, port, '127.0.0.1');
      }
      await waitFor(
        'the batch to arrive',
        () => (server.counters.received - received >= 50 ? true : undefined),
        5000,
      );
    }
    // A fresh socket, so no late answer to a random request is taken for this one.
    const fresh = await udpSocket();
    try {
      const reply = await ntpQuery(fresh, port, 0x77n);
      assert.equal(reply?.originTs, 0x77n);
    } finally {
      await closeSocket(fresh);
    }
  });
});

describe('NtpServer: rate limiting', () => {
  it('answers a client over its budget with one Kiss-o-Death RATE per interval, then drops silently', async () => {
    await withServer(
      fakeView(),
      { ratePerSecond: 0.001, burst: 3, kissIntervalMs: 60_000 },
      async (server, port, client) => {
        const replies = [];
        for (let i = 1; i <= 6; i++)
          replies.push(await exchange(client, port, encodeNtpPacket(clientRequest(BigInt(i), 6)), 200));
        const decoded = replies.map((r) => (r === null ? null : (kissCode(decodePacket(r)) ?? 'time')));
        assert.deepEqual(decoded, ['time', 'time', 'time', 'RATE', null, null]);
        const kiss = decodePacket(replies[3]!);
        assert.equal(kiss.originTs, 4n); // the kiss passes the client's origin check
        assert.equal(kiss.stratum, 0);
        assert.equal(kiss.leap, 3);
        await waitFor(
          'the counts',
          () => (server.counters.outcomes['kiss-rate'] === 1 ? true : undefined),
          1000,
        );
        assert.equal(server.counters.outcomes.served, 3);
        assert.equal(server.counters.outcomes['rate-limited'], 2);
      },
    );
  });
});

function decodePacket(bytes: Uint8Array): NtpPacket {
  const r = decodeNtpPacket(bytes);
  if (!r.ok) throw new Error(r.error.message);
  return r.packet;
}
