// TSQ client ↔ server over real QUIC on 127.0.0.1 (and ::1 where the host has it): both modes,
// signatures with both algorithms, Precision Mode, metadata, malformed requests, malformed datagrams,
// a wrong ALPN, certificate checks, the datagram → stream fallback, and polling into a sink. The
// server's clock runs +250 ms off the host clock through its TimeView; no clock is ever set.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QUICServer, events } from '@matrixai/quic';
import type { QUICClient } from '@matrixai/quic';
import type { ReferenceSample } from '../../node/core/types.ts';
import { openDatagramChannel } from '../../refclock/quicDatagram.ts';
import { TlsCertError, generateSelfSignedCertificate } from '../../refclock/tlsCert.ts';
import { TsqClient, TsqClientConfigError, parseTsqUrl } from '../../refclock/tsqClient.ts';
import type { TsqClientOptions, TsqMeasurement, TsqResult } from '../../refclock/tsqClient.ts';
import { unixNsToNtp64 } from '../../refclock/ntpTimestamp.ts';
import { serverCrypto, silentQuicLogger } from '../../refclock/quicCommon.ts';
import {
  TLV,
  decodeTsqRequest,
  decodeTsqResponse,
  encodeTsqRequest,
  encodeTsqResponse,
} from '../../refclock/tsqCodec.ts';
import {
  ed25519RawPublicKey,
  ed25519Signer,
  ed25519Verifier,
  hmacSigner,
  hmacVerifier,
} from '../../refclock/tsqKeys.ts';
import { TsqServerConfigError, startTsqServer } from '../../refclock/tsqServer.ts';
import type { TsqServer } from '../../refclock/tsqServer.ts';
import { MS, fakeTimeView, hostClock, median, rawClient, rawStreamExchange } from './tsqHelpers.ts';

const OFFSET_NS = 250 * MS;
/**
 * Loopback on a shared 2-core machine: a few ms either way. The error of a 4-timestamp exchange is at
 * most δ/2 (the path asymmetry), so a busy machine may exceed 5 ms only with a δ that says so.
 */
const TOLERANCE_NS = 5 * MS;
function assertOffset(m: { offsetNs: number; delayNs: number }): void {
  const err = Math.abs(m.offsetNs - OFFSET_NS);
  assert.ok(
    err <= Math.max(TOLERANCE_NS, m.delayNs / 2),
    `offset ${m.offsetNs / MS} ms (expected 250 ms), delay ${m.delayNs / MS} ms`,
  );
}

function ok(r: TsqResult): TsqMeasurement {
  assert.ok(r.ok, r.ok ? '' : `${r.reason}: ${r.detail}`);
  return r.measurement;
}

/** The smallest-delay measurement of `n` (the clock filter's choice). */
async function best(client: TsqClient, n: number): Promise<TsqMeasurement> {
  let b: TsqMeasurement | null = null;
  for (let i = 0; i < n; i++) {
    const m = ok(await client.measure());
    if (b === null || m.delayNs < b.delayNs) b = m;
  }
  return b as TsqMeasurement;
}

describe('TSQ over QUIC', () => {
  const ed = generateKeyPairSync('ed25519');
  const hmacKey = { name: 'tsq-test', secret: new Uint8Array(32).fill(42) };
  let edServer: TsqServer;
  let hmacServer: TsqServer;
  let plainServer: TsqServer;
  let dir: string;
  const clients: TsqClient[] = [];
  const raws: QUICClient[] = [];

  const client = (url: string, options: Partial<TsqClientOptions> = {}): TsqClient => {
    const c = new TsqClient(url, { clock: hostClock(), insecure: true, ...options });
    clients.push(c);
    return c;
  };
  const url = (s: TsqServer, mode: 'stream' | 'datagram' = 'stream') =>
    `tsq://127.0.0.1:${s.port}?mode=${mode}`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'timemesh-tsq-'));
    edServer = await startTsqServer({
      host: '127.0.0.1',
      port: 0,
      timeView: fakeTimeView(OFFSET_NS),
      signer: ed25519Signer(ed.privateKey),
      metadata: [['site', 'test-lab']],
      certDir: join(dir, 'ed'),
    });
    hmacServer = await startTsqServer({
      host: '127.0.0.1',
      port: 0,
      timeView: fakeTimeView(OFFSET_NS),
      signer: hmacSigner(hmacKey),
    });
    plainServer = await startTsqServer({
      host: '127.0.0.1',
      port: 0,
      timeView: fakeTimeView(OFFSET_NS, { status: 'unsynchronized', stratum: 16, rootDistanceNs: 2 ** 62 }),
      datagrams: false,
      requestTimeoutMs: 500,
    });
  });

  after(async () => {
    for (const c of clients) await c.stop();
    for (const r of raws) await r.destroy({ force: true }).catch(() => undefined);
    await edServer.stop();
    await hmacServer.stop();
    await plainServer.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('measures a server 250 ms ahead over streams, with its stratum and error bound', async (t) => {
    const c = client(url(edServer));
    const m = await best(c, 8);
    assertOffset(m);
    t.diagnostic(
      `stream: best of 8 offset ${(m.offsetNs / MS).toFixed(3)} ms, delay ${(m.delayNs / MS).toFixed(3)} ms`,
    );
    assert.equal(m.mode, 'stream');
    assert.equal(m.fellBack, false);
    assert.ok(m.alpn === 'tsq' || m.alpn === 'tsq/1');
    assert.equal(m.stratum, 2);
    assert.equal(m.serverErrorNs, 1_000_000);
    assert.equal(m.errorNs, 1_000_000 + m.delayNs / 2);
    assert.equal(m.usable, true);
    assert.equal(m.clockQuality?.clockClass, 1);
    assert.ok(m.t4LocalNs > m.t1LocalNs && m.t3ServerNs >= m.t2ServerNs);
    // Stream round trip figures for the README.
    const delays: number[] = [];
    for (let i = 0; i < 30; i++) delays.push(ok(await c.measure()).delayNs);
    t.diagnostic(`stream delay median ${(median(delays) / MS).toFixed(3)} ms over 30 exchanges`);
  });

  it('measures over QUIC datagrams', async (t) => {
    const c = client(url(edServer, 'datagram'));
    const m = await best(c, 8);
    t.diagnostic(
      `datagram: best of 8 offset ${(m.offsetNs / MS).toFixed(3)} ms, delay ${(m.delayNs / MS).toFixed(3)} ms`,
    );
    assert.equal(m.mode, 'datagram');
    assert.equal(m.fellBack, false);
    assertOffset(m);
    assert.equal(c.counters().fallbacks, 0);
    const delays: number[] = [];
    for (let i = 0; i < 30; i++) delays.push(ok(await c.measure()).delayNs);
    t.diagnostic(`datagram delay median ${(median(delays) / MS).toFixed(3)} ms over 30 exchanges`);
    assert.ok(edServer.counters().datagramRequests >= 38);
  });

  it('verifies Ed25519 signatures with a pinned public key, in both modes', async () => {
    const verifier = ed25519Verifier(ed25519RawPublicKey(ed.publicKey));
    for (const mode of ['stream', 'datagram'] as const) {
      const m = ok(await client(url(edServer, mode), { verifier }).measure());
      assert.equal(m.signed, true);
      assert.equal(m.mode, mode);
    }
    const wrong = ed25519Verifier(generateKeyPairSync('ed25519').publicKey);
    const r = await client(url(edServer), { verifier: wrong }).measure();
    assert.deepEqual(r.ok ? null : r.reason, 'signature-key-id');
  });

  it('verifies HMAC-SHA256 signatures, and refuses a wrong secret', async () => {
    const m = ok(await client(url(hmacServer), { verifier: hmacVerifier(hmacKey) }).measure());
    assert.equal(m.signed, true);
    const r = await client(url(hmacServer), {
      verifier: hmacVerifier({ ...hmacKey, secret: new Uint8Array(32).fill(1) }),
    }).measure();
    assert.equal(r.ok ? null : r.reason, 'signature-invalid');
  });

  it('answers a signature request without a key with Error code 3 (over the stream retry in datagram mode)', async () => {
    const verifier = hmacVerifier(hmacKey);
    const r = await client(url(plainServer), { verifier }).measure();
    assert.equal(r.ok, false);
    assert.equal(r.ok ? null : r.reason, 'server-error');
    assert.match(r.ok ? '' : r.detail, /code 3/);
    const before = edServer.counters().datagramsDropped;
    // edServer signs with Ed25519, so an HMAC-requiring client gets a signature it cannot accept; a
    // keyless server drops the datagram and the client's stream retry gets the Error TLV.
    const keyless = await startTsqServer({ host: '127.0.0.1', port: 0, timeView: fakeTimeView(0) });
    try {
      const d = client(url(keyless, 'datagram'), { verifier, datagramTimeoutMs: 200 });
      const rd = await d.measure();
      assert.equal(rd.ok ? null : rd.reason, 'server-error');
      assert.equal(d.counters().fallbacks, 1);
      assert.equal(keyless.counters().datagramsDropped, 1);
      assert.equal(keyless.counters().errorResponses[3], 1);
    } finally {
      await keyless.stop();
    }
    assert.equal(edServer.counters().datagramsDropped, before);
  });

  it('pads Precision Mode exchanges to equal lengths, in both modes', async () => {
    for (const mode of ['stream', 'datagram'] as const) {
      for (const precisionBytes of [256, 300, 777]) {
        const m = ok(
          await client(url(edServer, mode), {
            precisionMode: true,
            precisionBytes,
            metadataQuery: true,
            verifier: ed25519Verifier(ed.publicKey),
          }).measure(),
        );
        assert.equal(m.precisionHonoured, true);
        assert.equal(m.requestBytes, precisionBytes);
        assert.equal(m.responseBytes, precisionBytes, `${mode} ${precisionBytes}`);
      }
    }
    // A request too short for the whole response: no echo, no padding, and the exchange still counts.
    const m = ok(
      await client(url(edServer), { precisionMode: true, precisionBytes: 64, metadataQuery: true }).measure(),
    );
    assert.equal(m.precisionHonoured, false);
    assert.ok(m.responseBytes > 64);
  });

  it('answers a Metadata Query with the node’s state, sorted by key', async () => {
    const m = ok(await client(url(edServer), { metadataQuery: true }).measure());
    assert.deepEqual(m.metadata, [
      ['anchor', 'gps'],
      ['root-distance-ns', '1000000'],
      ['server', 'timemesh'],
      ['site', 'test-lab'],
      ['status', 'anchored'],
      ['stratum', '2'],
    ]);
    const none = ok(await client(url(edServer)).measure());
    assert.equal(none.metadata, null);
  });

  it('answers malformed requests with one Error TLV', async () => {
    const raw = await rawClient(edServer.port);
    raws.push(raw);
    const nonce = new Uint8Array(16).fill(9);
    const cases: Array<[string, Uint8Array, number]> = [
      ['truncated TLV', Uint8Array.from([TLV.NONCE, 16, 1, 2, 3]), 1],
      ['no nonce', Uint8Array.from([TLV.PRECISION_MODE, 0]), 1],
      ['garbage', Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0x00]), 1],
      ['empty', new Uint8Array(0), 1],
      [
        'response TLV in a request',
        Uint8Array.from([TLV.NONCE, 16, ...nonce, TLV.SEND_TIMESTAMP, 8, 0, 0, 0, 0, 0, 0, 0, 0]),
        2,
      ],
      [
        'over 1024 bytes',
        Uint8Array.from([...encodeTsqRequest({ nonce }), ...new Uint8Array(1100).fill(0xfe)]),
        1,
      ],
    ];
    const before = edServer.counters().errorResponses;
    for (const [what, request, code] of cases) {
      const reply = decodeTsqResponse(await rawStreamExchange(raw, request));
      assert.ok(reply.ok, what);
      assert.equal(reply.message.kind, 'error', what);
      assert.equal(reply.message.kind === 'error' ? reply.message.code : -1, code, what);
    }
    const after = edServer.counters().errorResponses;
    assert.equal(after[1] - before[1], 5);
    assert.equal(after[2] - before[2], 1);
    // The connection still serves a good request.
    const good = decodeTsqResponse(await rawStreamExchange(raw, encodeTsqRequest({ nonce })));
    assert.ok(good.ok && good.message.kind === 'time');
  });

  it('answers an incomplete request (no end of stream) with Error code 1 after the timeout', async () => {
    const raw = await rawClient(plainServer.port);
    raws.push(raw);
    const stream = raw.connection.newStream('bidi');
    const writer = stream.writable.getWriter();
    await writer.write(Uint8Array.from([TLV.NONCE, 16, 1, 2])); // truncated, and the stream left open
    const reader = stream.readable.getReader();
    const chunks: Uint8Array[] = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (value) chunks.push(value);
      if (done) break;
    }
    const reply = decodeTsqResponse(new Uint8Array(Buffer.concat(chunks)));
    assert.ok(reply.ok && reply.message.kind === 'error' && reply.message.code === 1);
    assert.match(reply.ok && reply.message.kind === 'error' ? reply.message.reason : '', /timed out/);
  });

  it('drops malformed datagrams silently and keeps serving', async () => {
    const raw = await rawClient(edServer.port, { datagrams: true });
    raws.push(raw);
    const received: Uint8Array[] = [];
    let wake: () => void = () => undefined;
    const channel = openDatagramChannel(raw.connection, (p) => {
      received.push(p);
      wake();
    });
    const before = edServer.counters().datagramsDropped;
    const bad = [
      Uint8Array.from([TLV.NONCE, 16, 1]),
      Uint8Array.from([0xff]),
      Uint8Array.from([TLV.PRECISION_MODE, 0]),
      new Uint8Array(1000).fill(7),
    ];
    for (const b of bad) assert.equal(channel.send(b), true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(received.length, 0, 'no answer to a malformed datagram');
    assert.equal(edServer.counters().datagramsDropped - before, bad.length);
    const nonce = new Uint8Array(16).fill(5);
    const arrived = new Promise<void>((resolve) => (wake = resolve));
    assert.equal(channel.send(encodeTsqRequest({ nonce })), true);
    await Promise.race([
      arrived,
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer')), 2000)),
    ]);
    const reply = decodeTsqResponse(received[0] as Uint8Array);
    assert.ok(reply.ok && reply.message.kind === 'time');
    assert.deepEqual(reply.message.kind === 'time' ? reply.message.nonce : null, nonce);
    channel.close();
  });

  it('refuses a client offering another ALPN (TLS alert 120), and accepts either TSQ ALPN', async () => {
    await assert.rejects(rawClient(edServer.port, { alpns: ['h3'] }), (e: unknown) => {
      const data = (e as { data?: { errorCode?: number } }).data;
      return data?.errorCode === 0x100 + 120;
    });
    for (const alpn of ['tsq', 'tsq/1']) {
      const raw = await rawClient(edServer.port, { alpns: [alpn] });
      raws.push(raw);
      const reply = decodeTsqResponse(
        await rawStreamExchange(raw, encodeTsqRequest({ nonce: new Uint8Array(16) })),
      );
      assert.ok(reply.ok && reply.message.kind === 'time', alpn);
    }
  });

  it('falls back to a stream when the server has no datagrams', async () => {
    const c = client(url(plainServer, 'datagram'));
    const r = await c.measure();
    const m = ok(r);
    assert.equal(m.mode, 'stream');
    assert.equal(m.fellBack, true);
    assert.equal(c.counters().datagramAttempts, 0, 'the server announced no datagram support: no wait');
    assert.equal(c.counters().fallbacks, 1);
  });

  it('marks an unsynchronized server’s samples unusable and feeds the node none of them', async () => {
    const c = client(url(plainServer), { pollIntervalMs: 1000, burst: 2 });
    const m = ok(await c.measure());
    assert.equal(m.stratum, 0);
    assert.equal(m.serverErrorNs, null);
    assert.equal(m.usable, false);
    const fed: ReferenceSample[] = [];
    c.start((s) => fed.push(s));
    await waitFor(() => c.counters().polls >= 1 && c.counters().samplesUnusable >= 1);
    await c.stop();
    assert.equal(fed.length, 0);
  });

  it('polls and feeds the node kind-tsq samples with the server’s error + δ/2', async () => {
    const u = url(edServer, 'datagram');
    const c = client(u, { pollIntervalMs: 1000, burst: 3 });
    const fed: ReferenceSample[] = [];
    c.start((s) => fed.push(s));
    await waitFor(() => fed.length >= 2);
    await c.stop();
    for (const s of fed) {
      assert.equal(s.kind, 'tsq');
      assert.equal(s.refId, u);
      assert.equal(s.stratum, 2);
      assertOffset(s);
      // The server's error only: the core's clock filter adds δ/2 itself (as for NTP).
      assert.equal(s.errorNs, 1_000_000, 'errorNs is the server error, without δ/2');
      assert.ok(s.delayNs > 0, `delay ${s.delayNs} ns`);
    }
    assert.equal(c.counters().samplesFed, fed.length);
  });

  it('checks the server certificate against a CA (by IP, by name), and refuses another CA', async () => {
    const certFile = edServer.certificate.certFile as string;
    assert.equal((await stat(join(dir, 'ed', 'tsq-key.pem'))).mode & 0o777, 0o600);
    const byIp = ok(await client(url(edServer), { insecure: false, caFile: certFile }).measure());
    assert.equal(byIp.stratum, 2);
    const byName = ok(
      await client(url(edServer), { insecure: false, caFile: certFile, serverName: 'localhost' }).measure(),
    );
    assert.equal(byName.stratum, 2);
    const otherCa = (await generateSelfSignedCertificate()).certPem;
    for (const serverName of [undefined, 'localhost']) {
      const r = await client(url(edServer), {
        insecure: false,
        caPem: otherCa,
        ...(serverName ? { serverName } : {}),
      }).measure();
      assert.equal(r.ok ? null : r.reason, 'connect-failed', `serverName ${serverName}`);
    }
    const wrongName = await client(url(edServer), {
      insecure: false,
      caFile: certFile,
      serverName: 'wrong.example',
    }).measure();
    assert.equal(wrongName.ok ? null : wrongName.reason, 'connect-failed');
    // A restarted server reuses its certificate, so pinned clients keep working.
    const again = await startTsqServer({
      host: '127.0.0.1',
      port: 0,
      timeView: fakeTimeView(0),
      certDir: join(dir, 'ed'),
    });
    try {
      assert.equal(again.certificate.created, false);
      assert.equal(again.certificate.fingerprintSha256, edServer.certificate.fingerprintSha256);
    } finally {
      await again.stop();
    }
  });

  it('reconnects after the server closed an idle connection', async () => {
    const brief = await startTsqServer({
      host: '127.0.0.1',
      port: 0,
      timeView: fakeTimeView(0),
      idleTimeoutMs: 300,
    });
    try {
      const c = client(url(brief));
      ok(await c.measure());
      await new Promise((resolve) => setTimeout(resolve, 800));
      ok(await c.measure());
      assert.equal(c.counters().connects, 2);
    } finally {
      await brief.stop();
    }
  });

  it('takes a whole response from a server that keeps its side of the stream open', async () => {
    const tls = await generateSelfSignedCertificate();
    const view = fakeTimeView(OFFSET_NS);
    const lazy = new QUICServer({
      crypto: serverCrypto(),
      logger: silentQuicLogger('lazy'),
      config: { key: tls.keyPem, cert: tls.certPem, applicationProtos: ['tsq/1'], maxIdleTimeout: 3000 },
    });
    lazy.addEventListener(events.EventQUICServerConnection.name, (evt: Event) => {
      const connection = (evt as events.EventQUICServerConnection).detail;
      connection.addEventListener(events.EventQUICConnectionStream.name, (e: Event) => {
        const stream = (e as events.EventQUICConnectionStream).detail;
        void (async () => {
          const reader = stream.readable.getReader();
          const { value } = await reader.read();
          const t2 = view.localNowNs();
          const request = decodeTsqRequest(value as Uint8Array);
          assert.ok(request.ok);
          const response = encodeTsqResponse({
            nonce: request.message.nonce,
            receiveTimestamp: unixNsToNtp64(t2),
            sendTimestamp: unixNsToNtp64(view.localNowNs()),
            clockQuality: { clockClass: 1, estimatedErrorUs: 10, driftRatePpb: 0, sourceTag: '' },
            timeSourceInfo: { stratum: 1, sourceType: 1, info: '' },
          });
          await stream.writable.getWriter().write(response.bytes); // and never closes
        })();
      });
    });
    await lazy.start({ host: '127.0.0.1', port: 0 });
    try {
      const c = client(`tsq://127.0.0.1:${lazy.port}`, { exchangeTimeoutMs: 1500 });
      const started = Date.now();
      const m = ok(await c.measure());
      assert.ok(Date.now() - started < 1000, 'no wait for an end of stream that never comes');
      assert.equal(m.alpn, 'tsq/1');
      assert.equal(m.stratum, 1);
      assertOffset(m);
    } finally {
      await lazy.stop({ force: true });
    }
  });

  it('reports a server that is not there', async () => {
    const r = await client('tsq://127.0.0.1:9?mode=stream', { connectTimeoutMs: 500 }).measure();
    assert.equal(r.ok ? null : r.reason, 'connect-failed');
  });

  it('works over IPv6 loopback when the host has it', async (t) => {
    let v6: TsqServer;
    try {
      v6 = await startTsqServer({ host: '::1', port: 0, timeView: fakeTimeView(OFFSET_NS) });
    } catch {
      t.skip('no IPv6 loopback here');
      return;
    }
    try {
      for (const mode of ['stream', 'datagram'] as const) {
        const m = ok(
          await client(`tsq://[::1]:${v6.port}?mode=${mode}`, {
            caPem: v6.certificate.certPem,
            insecure: false,
          }).measure(),
        );
        assert.equal(m.mode, mode);
        assertOffset(m);
      }
    } finally {
      await v6.stop();
    }
  });

  it('refuses bad options when they are given, not at the first exchange', async () => {
    assert.throws(
      () => new TsqClient('tsq://127.0.0.1:1', { clock: hostClock(), caFile: join(dir, 'no-such-ca.pem') }),
      TlsCertError,
    );
    assert.throws(
      () => new TsqClient('tsq://127.0.0.1:1', { clock: hostClock(), caPem: 'not a PEM' }),
      TlsCertError,
    );
    assert.throws(
      () => new TsqClient('tsq://127.0.0.1:1', { clock: hostClock(), burst: 0 }),
      TsqClientConfigError,
    );
    assert.throws(
      () => new TsqClient('tsq://127.0.0.1:1', { clock: hostClock(), precisionBytes: 5000 }),
      TsqClientConfigError,
    );
    await assert.rejects(
      startTsqServer({ host: '127.0.0.1', port: 0, timeView: fakeTimeView(0), metadata: [['status', 'x']] }),
      TsqServerConfigError,
    );
    await assert.rejects(
      startTsqServer({
        host: '127.0.0.1',
        port: 0,
        timeView: fakeTimeView(0),
        metadata: [['big', 'x'.repeat(300)]],
      }),
      TsqServerConfigError,
    );
    await assert.rejects(
      startTsqServer({ host: '127.0.0.1', port: 0, timeView: fakeTimeView(0), certFile: join(dir, 'x.pem') }),
      TsqServerConfigError,
    );
  });

  it('parses TSQ URLs and refuses bad ones', () => {
    assert.deepEqual(parseTsqUrl('tsq://127.0.0.1:4433?mode=datagram'), {
      url: 'tsq://127.0.0.1:4433?mode=datagram',
      host: '127.0.0.1',
      port: 4433,
      mode: 'datagram',
    });
    assert.deepEqual(parseTsqUrl('tsq://[::1]'), {
      url: 'tsq://[::1]',
      host: '::1',
      port: 443,
      mode: 'stream',
    });
    assert.equal(parseTsqUrl('tsq://time.example:8443').host, 'time.example');
    for (const bad of [
      'ntp://a:1',
      'tsq://a:1?mode=udp',
      'tsq://a:1?insecure=1',
      'tsq://a:70000',
      'tsq:///x',
      'nope',
      'tsq://u@a:1',
    ]) {
      assert.throws(() => parseTsqUrl(bad), TsqClientConfigError, bad);
    }
    assert.throws(
      () => new TsqClient('tsq://a:1', { clock: hostClock(), insecure: true, caPem: 'x' }),
      TsqClientConfigError,
    );
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
