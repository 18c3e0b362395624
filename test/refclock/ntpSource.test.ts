/**
 * The per-server NTP association as a pure state machine (no sockets, no clock): the sample it
 * computes (θ, δ, error bound, midpoint), iburst and poll adaptation, the origin check (bogus, stale,
 * duplicate replies), Kiss-o'-Death (RATE backs off, DENY/RSTR stop, a spoofed kiss does nothing),
 * unsynchronized servers and the other sanity checks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  NTP_MODE,
  asciiReferenceId,
  decodeNtpPacket,
  encodeNtpPacket,
  toNtpTimestamp,
} from '../../refclock/ntpPacket.ts';
import type { NtpPacket } from '../../refclock/ntpPacket.ts';
import { NtpSource } from '../../refclock/ntpSource.ts';
import type { NtpSourceAction, NtpSourceConfig } from '../../refclock/ntpSource.ts';

const S = 1_000_000_000n;
const T0 = 1_750_000_000n * S;
const URL = 'ntp://192.0.2.1:123';

function source(over: Partial<NtpSourceConfig> = {}): NtpSource {
  return new NtpSource({
    url: URL,
    minPoll: 6,
    maxPoll: 10,
    iburst: true,
    burstCount: 4,
    burstIntervalNs: 2e9,
    maxRootDistanceNs: 3e9,
    ...over,
  });
}

let cookieCounter = 0x1000n;
const nextCookie = (): bigint => (++cookieCounter * 0x9e3779b97f4a7c15n) % (1n << 64n) || 1n;

function ofType<T extends NtpSourceAction['type']>(actions: NtpSourceAction[], type: T) {
  return actions.filter((a): a is Extract<NtpSourceAction, { type: T }> => a.type === type);
}

/** Polls at t1 and returns the request packet sent. */
function poll(src: NtpSource, t1: bigint): { request: NtpPacket; actions: NtpSourceAction[] } {
  const actions = src.handleTimer(t1, nextCookie());
  const [send] = ofType(actions, 'send');
  assert.ok(send !== undefined, 'a request is sent');
  const r = decodeNtpPacket(send.packet);
  assert.ok(r.ok);
  return { request: r.packet, actions };
}

/** A server reply to `request`, with T2/T3 given in Unix ns. */
function reply(request: NtpPacket, t2: bigint, t3: bigint, over: Partial<NtpPacket> = {}): Uint8Array {
  return encodeNtpPacket({
    leap: 0,
    version: 4,
    mode: NTP_MODE.server,
    stratum: 2,
    poll: request.poll,
    precision: -20,
    rootDelayNs: 0,
    rootDispersionNs: 0,
    referenceId: 0xc0000201,
    referenceTs: toNtpTimestamp(t2 - 10n * S),
    originTs: request.transmitTs,
    receiveTs: toNtpTimestamp(t2),
    transmitTs: toNtpTimestamp(t3),
    ...over,
  });
}

function kiss(request: NtpPacket, code: string, over: Partial<NtpPacket> = {}): Uint8Array {
  return reply(request, T0, T0, { stratum: 0, leap: 3, referenceId: asciiReferenceId(code), ...over });
}

describe('NtpSource: samples', () => {
  it('computes θ, δ and the error bound of RFC 5905, and refers the sample to the midpoint of T1 and T4', () => {
    const src = source();
    const t1 = T0;
    const { request } = poll(src, t1);
    // Server 5 ms ahead; 1 ms out, 3 ms back (asymmetric), 0.2 ms in the server.
    const t2 = t1 + 5_000_000n + 1_000_000n;
    const t3 = t2 + 200_000n;
    const t4 = t1 + 1_000_000n + 200_000n + 3_000_000n;
    const actions = src.handleReply(
      reply(request, t2, t3, { rootDelayNs: 0.5e9 + 0.5e9 / 65536, rootDispersionNs: 0.25e9 }),
      t4,
    );
    const [s] = ofType(actions, 'sample');
    assert.ok(s !== undefined);
    // θ = ((T2−T1)+(T3−T4))/2 = (6 ms + (6.2 − 4.2) ms)/2 = 4 ms: off by half the 2 ms asymmetry.
    assert.ok(Math.abs(s.sample.offsetNs - 4e6) <= 1, `${s.sample.offsetNs}`);
    assert.ok(Math.abs(s.sample.delayNs - 4e6) <= 1, `${s.sample.delayNs}`);
    // errorNs carries the server's root distance; the core adds δ/2 itself.
    const rootDistance = (0.5e9 + 0.5e9 / 65536) / 2 + 0.25e9;
    assert.ok(Math.abs(s.sample.errorNs - rootDistance) < 20_000, `${s.sample.errorNs}`);
    assert.ok(Math.abs(s.measurement.errorNs - (rootDistance + 2e6)) < 20_000);
    assert.equal(s.sample.localNs, t1 + (t4 - t1) / 2n);
    assert.deepEqual(
      { refId: s.sample.refId, kind: s.sample.kind, stratum: s.sample.stratum },
      { refId: URL, kind: 'ntp', stratum: 2 },
    );
    // The true offset (5 ms) lies within θ ± (λ + δ/2).
    assert.ok(Math.abs(5e6 - s.sample.offsetNs) <= s.sample.errorNs + s.sample.delayNs / 2);
    const snap = src.snapshot();
    assert.equal(snap.status, 'ok');
    assert.equal(snap.reach, 1);
    assert.equal(snap.stratum, 2);
    assert.equal(snap.referenceId, '192.0.2.1');
  });

  it('sends a random transmit timestamp, never the local time', () => {
    const src = source();
    const actions = src.handleTimer(T0, 0xabcdef0123456789n);
    const r = decodeNtpPacket(ofType(actions, 'send')[0]!.packet);
    assert.ok(r.ok);
    assert.equal(r.packet.transmitTs, 0xabcdef0123456789n);
    assert.equal(r.packet.mode, NTP_MODE.client);
    assert.throws(() => source().handleTimer(T0, 0n), RangeError);
  });

  it('handles a server in the next NTP era (after 2036-02-07)', () => {
    const src = source();
    const t1 = 2_085_978_496n * S - 1n * S; // one second before the rollover, on the local clock
    const { request } = poll(src, t1);
    const t2 = t1 + 2n * S; // the server is already past it
    const [s] = ofType(src.handleReply(reply(request, t2, t2 + 1000n), t1 + 2000n), 'sample');
    assert.ok(s !== undefined);
    assert.ok(Math.abs(s.sample.offsetNs - 2e9) < 10_000, `${s.sample.offsetNs}`);
  });

  it('refuses negative delay, T3 < T2, zero timestamps and too large a root distance, counting each', () => {
    const cases: [string, (r: NtpPacket) => Uint8Array, bigint][] = [
      ['negative-delay', (r) => reply(r, T0 + 1_000_000n, T0 + 9_000_000n), T0 + 2_000_000n],
      ['time-reversed', (r) => reply(r, T0 + 2_000_000n, T0 + 1_000_000n), T0 + 5_000_000n],
      ['zero-timestamp', (r) => reply(r, T0, T0, { receiveTs: 0n }), T0 + 1_000_000n],
      ['root-distance', (r) => reply(r, T0, T0, { rootDispersionNs: 3.5e9 }), T0 + 1_000_000n],
    ];
    for (const [reason, make, t4] of cases) {
      const src = source();
      const { request } = poll(src, T0);
      assert.deepEqual(ofType(src.handleReply(make(request), t4), 'sample'), [], reason);
      assert.equal(src.snapshot().counters.dropped[reason as 'stale'], 1, reason);
      assert.equal(src.snapshot().counters.samples, 0);
    }
  });

  it('does not use an unsynchronized server (leap indicator 3, stratum 16), but counts it as reachable', () => {
    for (const over of [{ leap: 3 as const }, { stratum: 16 }]) {
      const src = source();
      const { request } = poll(src, T0);
      const actions = src.handleReply(reply(request, T0, T0 + 1000n, over), T0 + 50_000n);
      assert.deepEqual(ofType(actions, 'sample'), []);
      assert.equal(ofType(actions, 'log').length, 1);
      const snap = src.snapshot();
      assert.equal(snap.status, 'unsynchronized');
      assert.equal(snap.reach, 1);
      assert.equal(snap.counters.dropped.unsynchronized, 1);
    }
  });
});

describe('NtpSource: origin check', () => {
  it('drops replies whose origin is not the outstanding cookie: bogus, stale, duplicate, unsolicited', () => {
    const src = source();
    const first = poll(src, T0).request;
    const good = reply(first, T0 + 10_000n, T0 + 20_000n);
    // A spoofed reply with another origin comes first: dropped, the real one still counts.
    const spoofed = reply({ ...first, transmitTs: first.transmitTs ^ 1n }, T0 + 10_000n, T0 + 20_000n);
    assert.deepEqual(src.handleReply(spoofed, T0 + 30_000n), []);
    assert.equal(ofType(src.handleReply(good, T0 + 40_000n), 'sample').length, 1);
    // The same reply again: a duplicate.
    assert.deepEqual(src.handleReply(good, T0 + 50_000n), []);
    // A second request; a late reply to an older, unanswered one is stale.
    const second = poll(src, T0 + 2n * S).request;
    poll(src, T0 + 4n * S);
    assert.deepEqual(src.handleReply(reply(second, T0 + 2n * S, T0 + 2n * S), T0 + 4n * S + 1000n), []);
    const c = src.snapshot().counters;
    assert.equal(c.dropped['bogus-origin'], 1);
    assert.equal(c.dropped.duplicate, 1);
    assert.equal(c.dropped.stale, 1);
    assert.equal(c.samples, 1);
    // Nothing outstanding and an unknown origin: unsolicited.
    const idle = source();
    assert.deepEqual(idle.handleReply(good, T0), []);
    assert.equal(idle.snapshot().counters.dropped['no-request'], 1);
  });

  it('ignores a spoofed Kiss-o-Death (wrong origin): the association goes on', () => {
    const src = source();
    const { request } = poll(src, T0);
    const forged = kiss({ ...request, transmitTs: 42n }, 'DENY');
    assert.deepEqual(src.handleReply(forged, T0 + 1000n), []);
    assert.equal(src.snapshot().state, 'running');
    assert.equal(ofType(src.handleReply(reply(request, T0, T0 + 1n), T0 + 2000n), 'sample').length, 1);
  });

  it('drops short packets, other versions and non-server modes by reason', () => {
    const src = source();
    const { request } = poll(src, T0);
    src.handleReply(new Uint8Array(12), T0);
    const v2 = reply(request, T0, T0);
    v2[0] = (v2[0]! & 0b11_000_111) | (2 << 3);
    src.handleReply(v2, T0);
    src.handleReply(reply(request, T0, T0, { mode: NTP_MODE.broadcast }), T0);
    const c = src.snapshot().counters;
    assert.deepEqual([c.dropped['short-packet'], c.dropped['bad-version'], c.dropped['bad-mode']], [1, 1, 1]);
    assert.equal(c.received, 3);
  });
});

describe('NtpSource: polling', () => {
  it('starts with an iburst of 4 requests 2 s apart, then polls every 2^minPoll s', () => {
    const src = source();
    const wakes: bigint[] = [];
    let t = T0;
    for (let i = 0; i < 6; i++) {
      const actions = src.handleTimer(t, nextCookie());
      assert.equal(ofType(actions, 'send').length, 1);
      t = ofType(actions, 'wakeAt')[0]!.localNs;
      wakes.push(t);
    }
    const gaps = wakes.map((w, i) => Number(w - (i === 0 ? T0 : wakes[i - 1]!)) / 1e9);
    assert.deepEqual(gaps, [2, 2, 2, 64, 64, 64]);
    // An early timer only re-arms.
    assert.deepEqual(src.handleTimer(t - 1n, nextCookie()), [{ type: 'wakeAt', localNs: t }]);
  });

  it('lengthens the poll interval while the offsets are predictable, up to maxPoll', () => {
    const src = source({ iburst: false, minPoll: 4, maxPoll: 6 });
    let t = T0;
    const intervals: number[] = [];
    for (let i = 0; i < 30; i++) {
      const { request, actions } = poll(src, t);
      // A server 1 ms ahead drifting by 10 ppm against the local oscillator: predictable.
      const offset = 1_000_000n + (t - T0) / 100_000n;
      src.handleReply(reply(request, t + offset + 100_000n, t + offset + 110_000n), t + 210_000n);
      const next = ofType(actions, 'wakeAt')[0]!.localNs;
      intervals.push(Number(next - t) / 1e9);
      t = next;
    }
    assert.equal(intervals[0], 16);
    assert.equal(intervals.at(-1), 64);
    assert.ok(
      intervals.every((x, i) => i === 0 || x >= intervals[i - 1]!),
      intervals.join(','),
    );
    assert.equal(src.snapshot().pollIntervalS, 64);
  });

  it('says once that a server never answered', () => {
    const src = source({ iburst: false, minPoll: 4, maxPoll: 4 });
    let logs = 0;
    for (let i = 0; i < 20; i++)
      logs += ofType(src.handleTimer(T0 + BigInt(i) * 16n * S, nextCookie()), 'log').length;
    assert.equal(logs, 1);
    assert.equal(src.snapshot().status, 'unreachable');
  });

  it('backs off a server that answered none of the last 8 polls, and says so once', () => {
    const src = source({ iburst: false, minPoll: 4, maxPoll: 7 });
    let t = T0;
    const { request } = poll(src, t);
    src.handleReply(reply(request, t, t + 1n), t + 1000n);
    let logs = 0;
    const intervals: number[] = [];
    for (let i = 0; i < 12; i++) {
      t += BigInt(src.snapshot().pollIntervalS) * S;
      const actions = src.handleTimer(t, nextCookie());
      logs += ofType(actions, 'log').length;
      intervals.push(src.snapshot().pollIntervalS);
    }
    assert.equal(src.snapshot().status, 'unreachable');
    assert.equal(src.snapshot().reach, 0);
    assert.equal(logs, 1);
    assert.deepEqual(intervals, [16, 16, 16, 16, 16, 16, 16, 32, 64, 128, 128, 128]);
  });
});

describe("NtpSource: Kiss-o'-Death", () => {
  it('RATE doubles the poll interval, ends the burst, and keeps the adaptation from coming back down', () => {
    const src = source({ minPoll: 4, maxPoll: 10 });
    const { request } = poll(src, T0); // burst: next poll in 2 s
    const actions = src.handleReply(kiss(request, 'RATE'), T0 + 1000n);
    assert.equal(ofType(actions, 'sample').length, 0);
    assert.equal(ofType(actions, 'wakeAt')[0]!.localNs, T0 + 32n * S);
    assert.match(ofType(actions, 'log')[0]!.message, /RATE.*32 s/);
    const snap = src.snapshot();
    assert.equal(snap.pollIntervalS, 32);
    assert.deepEqual(snap.kiss, { code: 'RATE', count: 1, lastLocalNs: T0 + 1000n });
    assert.equal(snap.counters.kisses.RATE, 1);
    // The next poll is not before then, and goes out with the longer interval; another RATE doubles again.
    assert.equal(ofType(src.handleTimer(T0 + 3n * S, nextCookie()), 'send').length, 0);
    const again = poll(src, T0 + 32n * S);
    assert.equal(again.request.poll, 5);
    src.handleReply(kiss(again.request, 'RATE'), T0 + 32n * S + 1000n);
    assert.equal(src.snapshot().pollIntervalS, 64);
  });

  it('honours a longer poll interval the server asks for in its RATE kiss', () => {
    const src = source({ minPoll: 4, maxPoll: 10 });
    const { request } = poll(src, T0);
    src.handleReply(kiss(request, 'RATE', { poll: 9 }), T0 + 1000n);
    assert.equal(src.snapshot().pollIntervalS, 512);
  });

  for (const code of ['DENY', 'RSTR']) {
    it(`${code} stops the association for good`, () => {
      const src = source();
      const { request } = poll(src, T0);
      const actions = src.handleReply(kiss(request, code), T0 + 1000n);
      assert.equal(ofType(actions, 'stop').length, 1);
      assert.match(ofType(actions, 'log')[0]!.message, new RegExp(`${code}.*not polling`));
      assert.deepEqual(src.handleTimer(T0 + 100n * S, nextCookie()), []);
      const snap = src.snapshot();
      assert.equal(snap.state, 'denied');
      assert.equal(snap.status, 'denied');
      assert.equal(snap.kiss?.code, code);
    });
  }

  it('ignores other kiss codes (no sample, association goes on), counting unknown ones as "other"', () => {
    const src = source();
    const { request } = poll(src, T0);
    const actions = src.handleReply(kiss(request, 'INIT'), T0 + 1000n);
    assert.deepEqual(ofType(actions, 'sample'), []);
    assert.equal(src.snapshot().state, 'running');
    const second = poll(src, T0 + 2n * S).request;
    src.handleReply(kiss(second, 'ZZZZ'), T0 + 2n * S + 1000n);
    const c = src.snapshot().counters;
    assert.equal(c.dropped.kiss, 2);
    assert.deepEqual(c.kisses, { INIT: 1, other: 1 });
  });
});

describe('NtpSource: configuration', () => {
  it('refuses poll exponents out of range or inverted', () => {
    assert.throws(() => source({ minPoll: -7 }), /minPoll/);
    assert.throws(() => source({ maxPoll: 18 }), /maxPoll/);
    assert.throws(() => source({ minPoll: 8, maxPoll: 6 }), /maxPoll/);
    assert.throws(() => source({ burstCount: 0 }), /burstCount/);
  });
});
