/**
 * The NTP client over real UDP sockets on loopback: against the node's own NTP server (the sample's
 * correctness interval contains the true offset), and against a scripted fake server that answers
 * with a wrong origin (dropped), a Kiss-o'-Death RATE (the client backs off) or DENY (the client
 * stops), plus datagrams from a foreign address and a server named by host name.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ReferenceSample } from '../../node/core/types.ts';
import { NtpClient } from '../../refclock/ntpClient.ts';
import type { NtpClientOptions } from '../../refclock/ntpClient.ts';
import { NTP_MODE, asciiReferenceId, encodeNtpPacket } from '../../refclock/ntpPacket.ts';
import { NtpServer } from '../../refclock/ntpServer.ts';
import { closeSocket, fakeServer, fakeView, hostNowNs, udpSocket, waitFor } from './ntpHelpers.ts';

function client(port: number, samples: ReferenceSample[], over: Partial<NtpClientOptions> = {}): NtpClient {
  return new NtpClient({
    servers: [{ url: `ntp://127.0.0.1:${port}`, host: '127.0.0.1', port }],
    view: { localNowNs: hostNowNs },
    sink: (s) => samples.push(s),
    minPoll: -2,
    maxPoll: 2,
    burstCount: 4,
    burstIntervalMs: 50,
    ...over,
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('NtpClient', () => {
  it("measures the node's own NTP server: every sample's interval contains the true offset", async () => {
    const offsetNs = 250_000_000n;
    const server = new NtpServer({ host: '127.0.0.1', port: 0, view: fakeView({ offsetNs, stratum: 3 }) });
    const { port } = await server.start();
    const samples: ReferenceSample[] = [];
    const c = client(port, samples);
    try {
      await c.start();
      await waitFor('4 samples', () => (samples.length >= 4 ? true : undefined), 5000);
    } finally {
      await c.stop();
      await server.stop();
    }
    for (const s of samples) {
      assert.equal(s.refId, `ntp://127.0.0.1:${port}`);
      assert.equal(s.kind, 'ntp');
      assert.equal(s.stratum, 3);
      assert.ok(s.delayNs >= 0);
      // The server's root distance is 1 µs (its 16.16 encoding: one unit, 15.26 µs).
      assert.ok(s.errorNs > 0 && s.errorNs < 20_000, `${s.errorNs}`);
      const missNs = Math.abs(s.offsetNs - Number(offsetNs));
      assert.ok(missNs <= s.errorNs + s.delayNs / 2, `offset ${s.offsetNs} misses by ${missNs} > bound`);
    }
    const snap = c.snapshot()[0]!;
    assert.equal(snap.status, 'stopped');
    assert.equal(snap.counters.samples, samples.length);
    assert.equal(snap.localPort, null);
  });

  it('drops replies with a wrong origin (spoofed), and uses the next correct one', async () => {
    const fake = await fakeServer((req, n) => (n <= 2 ? { originTs: req.transmitTs ^ 0xffn } : {}));
    const samples: ReferenceSample[] = [];
    const c = client(fake.port, samples);
    try {
      await c.start();
      await waitFor('a sample', () => (samples.length >= 1 ? true : undefined), 5000);
      const snap = c.snapshot()[0]!;
      assert.equal(snap.counters.dropped['bogus-origin'], 2);
      assert.equal(snap.counters.samples, samples.length);
      // The random transmit timestamps are all different (no two requests share a cookie).
      const cookies = new Set(fake.requests.map((r) => r.packet.transmitTs));
      assert.equal(cookies.size, fake.requests.length);
    } finally {
      await c.stop();
      await closeSocket(fake.socket);
    }
  });

  it('counts and ignores datagrams from any address but the server', async () => {
    const fake = await fakeServer(() => null);
    const samples: ReferenceSample[] = [];
    const c = client(fake.port, samples);
    const intruder = await udpSocket();
    try {
      await c.start();
      const localPort = c.snapshot()[0]!.localPort!;
      await waitFor('a request', () => (fake.requests.length >= 1 ? true : undefined), 2000);
      const req = fake.requests[0]!.packet;
      const forged = encodeNtpPacket({ ...req, mode: NTP_MODE.server, stratum: 1, originTs: req.transmitTs });
      intruder.send(forged, localPort, '127.0.0.1');
      await waitFor(
        'the drop',
        () => (c.snapshot()[0]!.counters.dropped['wrong-source'] === 1 ? true : undefined),
        2000,
      );
      assert.equal(samples.length, 0);
    } finally {
      await c.stop();
      await closeSocket(intruder);
      await closeSocket(fake.socket);
    }
  });

  it("backs off on a Kiss-o'-Death RATE: the burst ends and the poll interval doubles", async () => {
    const fake = await fakeServer((_req, n) =>
      n === 1 ? { stratum: 0, leap: 3, referenceId: asciiReferenceId('RATE') } : {},
    );
    const samples: ReferenceSample[] = [];
    const c = client(fake.port, samples);
    try {
      await c.start();
      await waitFor('the kiss', () => (c.snapshot()[0]!.kiss !== null ? true : undefined), 2000);
      const snap = c.snapshot()[0]!;
      assert.equal(snap.kiss?.code, 'RATE');
      assert.equal(snap.pollIntervalS, 0.5); // 2^-2 s doubled; the burst (50 ms) is over
      await waitFor('the next request', () => (fake.requests.length >= 2 ? true : undefined), 3000);
      const gapMs = Number(fake.requests[1]!.atNs - fake.requests[0]!.atNs) / 1e6;
      assert.ok(gapMs >= 450, `second request ${gapMs} ms after the first, expected ≥ 0.5 s`);
      assert.equal(fake.requests[1]!.packet.poll, -1);
    } finally {
      await c.stop();
      await closeSocket(fake.socket);
    }
  });

  it("stops polling a server that sends Kiss-o'-Death DENY", async () => {
    const fake = await fakeServer(() => ({ stratum: 0, leap: 3, referenceId: asciiReferenceId('DENY') }));
    const logs: string[] = [];
    const samples: ReferenceSample[] = [];
    const c = client(fake.port, samples, { log: (_level, msg) => logs.push(msg) });
    try {
      await c.start();
      await waitFor('the denial', () => (c.snapshot()[0]!.status === 'denied' ? true : undefined), 2000);
      const snap = c.snapshot()[0]!;
      assert.equal(snap.localPort, null); // its socket is closed
      assert.ok(
        logs.some((l) => /DENY/.test(l)),
        logs.join('\n'),
      );
      // The burst would have sent three more requests within 150 ms; none comes.
      await sleep(300);
      assert.equal(fake.requests.length, 1);
      assert.equal(samples.length, 0);
    } finally {
      await c.stop();
      await closeSocket(fake.socket);
    }
  });

  it('resolves a host name before polling, and retries a failed lookup', async () => {
    const fake = await fakeServer(() => ({}));
    const samples: ReferenceSample[] = [];
    let lookups = 0;
    const c = new NtpClient({
      servers: [{ url: `ntp://ntp.example.test:${fake.port}`, host: 'ntp.example.test', port: fake.port }],
      view: { localNowNs: hostNowNs },
      sink: (s) => samples.push(s),
      minPoll: -3,
      maxPoll: -3,
      burstIntervalMs: 50,
      lookup: async (host) => {
        assert.equal(host, 'ntp.example.test');
        if (++lookups === 1) throw new Error('temporary failure');
        return { address: '127.0.0.1', family: 4 };
      },
    });
    try {
      await c.start();
      await waitFor('a sample', () => (samples.length >= 1 ? true : undefined), 3000);
      assert.equal(lookups, 2);
      assert.equal(c.snapshot()[0]!.address, '127.0.0.1');
      assert.equal(samples[0]!.refId, `ntp://ntp.example.test:${fake.port}`);
    } finally {
      await c.stop();
      await closeSocket(fake.socket);
    }
  });

  it('refuses a server listed twice', () => {
    const t = { url: 'ntp://127.0.0.1:123', host: '127.0.0.1', port: 123 };
    assert.throws(
      () => new NtpClient({ servers: [t, t], view: { localNowNs: hostNowNs }, sink: () => {} }),
      /listed twice/,
    );
  });
});
