/**
 * The NTPv4 header codec: bit layout, the 16.16 short format (rounded up, saturating), reference ids,
 * Kiss-o'-Death codes, timestamps across the 2036 era rollover, and malformed input (every byte
 * sequence decodes to a value or a typed error, never an exception).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  NTP_HEADER_BYTES,
  NTP_MODE,
  asciiReferenceId,
  clientRequest,
  decodeNtpPacket,
  encodeNtpPacket,
  formatReferenceId,
  fromNtpTimestamp,
  kissCode,
  nsToNtpShort,
  ntpShortToNs,
  referenceIdAscii,
  toNtpTimestamp,
} from '../../refclock/ntpPacket.ts';
import type { NtpPacket } from '../../refclock/ntpPacket.ts';
import { NTP_UNIX_EPOCH_DELTA_S } from '../../refclock/ntpTimestamp.ts';

const S = 1_000_000_000n;
/** 2036-02-07T06:28:16Z: NTP era 0 ends, the seconds field wraps to 0. */
const ROLLOVER_NS = (2n ** 32n - NTP_UNIX_EPOCH_DELTA_S) * S;

function packet(over: Partial<NtpPacket> = {}): NtpPacket {
  return {
    leap: 0,
    version: 4,
    mode: NTP_MODE.server,
    stratum: 2,
    poll: 6,
    precision: -20,
    rootDelayNs: 0,
    rootDispersionNs: 0,
    referenceId: 0xc0000201,
    referenceTs: 0n,
    originTs: 0x0123456789abcdefn,
    receiveTs: toNtpTimestamp(1_700_000_000n * S),
    transmitTs: toNtpTimestamp(1_700_000_000n * S + 1234n),
    ...over,
  };
}

function decodeOk(bytes: Uint8Array): NtpPacket {
  const r = decodeNtpPacket(bytes);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.packet;
}

describe('ntpPacket: layout', () => {
  it('packs LI, VN and mode into the first byte, then stratum, poll and precision (signed)', () => {
    const bytes = encodeNtpPacket(
      packet({ leap: 3, version: 4, mode: 4, stratum: 16, poll: -3, precision: -20 }),
    );
    assert.equal(bytes.length, NTP_HEADER_BYTES);
    assert.equal(bytes[0], 0b11_100_100);
    assert.equal(bytes[1], 16);
    assert.equal(bytes[2], 0xfd); // −3
    assert.equal(bytes[3], 0xec); // −20
  });

  it('round-trips every field, timestamps bit for bit', () => {
    const p = packet({
      leap: 1,
      version: 3,
      mode: 4,
      stratum: 3,
      poll: 10,
      precision: -24,
      rootDelayNs: ntpShortToNs(0x00012345),
      rootDispersionNs: ntpShortToNs(0x00000abc),
      referenceId: 0x7f000001,
      referenceTs: 0xe8f1a2b3c4d5e6f7n,
      originTs: 0xffffffffffffffffn,
      receiveTs: 1n,
      transmitTs: 0x8000000000000000n,
    });
    assert.deepEqual(decodeOk(encodeNtpPacket(p)), p);
  });

  it('reads a chrony client request as chrony sends it (mode 3, random transmit)', () => {
    const bytes = new Uint8Array(48);
    bytes[0] = 0x23; // LI 0, VN 4, mode 3
    bytes.set([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88], 40);
    const p = decodeOk(bytes);
    assert.equal(p.mode, NTP_MODE.client);
    assert.equal(p.version, 4);
    assert.equal(p.transmitTs, 0x1122334455667788n);
  });

  it('encodes the 16.16 short format rounded up (an error bound never shrinks) and saturating', () => {
    assert.equal(nsToNtpShort(0), 0);
    assert.equal(nsToNtpShort(-5), 0);
    assert.equal(nsToNtpShort(1), 1); // 1 ns → one unit (15.26 µs), not 0
    assert.equal(nsToNtpShort(1e9), 0x00010000);
    assert.equal(nsToNtpShort(1e9 + 1), 0x00010001);
    assert.equal(nsToNtpShort(Infinity), 0xffffffff);
    assert.equal(nsToNtpShort(Number.NaN), 0xffffffff);
    assert.equal(nsToNtpShort(1e15), 0xffffffff);
    for (const ns of [1, 999, 15_259, 15_260, 1e6, 123_456_789, 4.2e9]) {
      assert.ok(ntpShortToNs(nsToNtpShort(ns)) >= ns, `${ns} rounds up`);
      assert.ok(ntpShortToNs(nsToNtpShort(ns)) - ns < 15_259, `${ns} within one unit`);
    }
  });

  it('builds a client request with only version, mode, poll and transmit set', () => {
    const bytes = encodeNtpPacket(clientRequest(0xdeadbeefcafef00dn, 6));
    assert.equal(bytes[0], 0x23);
    assert.equal(bytes[2], 6);
    assert.deepEqual([...bytes.subarray(4, 40)], new Array(36).fill(0));
    assert.equal(decodeOk(bytes).transmitTs, 0xdeadbeefcafef00dn);
  });

  it('refuses to encode out-of-range fields (a programming error)', () => {
    assert.throws(() => encodeNtpPacket(packet({ stratum: 256 })), RangeError);
    assert.throws(() => encodeNtpPacket(packet({ poll: 128 })), RangeError);
    assert.throws(() => encodeNtpPacket(packet({ transmitTs: 1n << 64n })), RangeError);
    assert.throws(() => encodeNtpPacket(packet({ referenceId: -1 })), RangeError);
  });
});

describe('ntpPacket: reference ids and Kiss-o-Death', () => {
  it('reads ASCII tags, left-justified and NUL-padded, and prints others as dotted quads', () => {
    assert.equal(asciiReferenceId('GPS'), 0x47505300);
    assert.equal(referenceIdAscii(0x47505300), 'GPS');
    assert.equal(referenceIdAscii(asciiReferenceId('LOCL')), 'LOCL');
    assert.equal(referenceIdAscii(0x41004200), null); // NUL in the middle
    assert.equal(referenceIdAscii(0), null);
    assert.equal(referenceIdAscii(0x7f000001), null);
    assert.equal(formatReferenceId(0x7f000001), '127.0.0.1');
    assert.equal(formatReferenceId(asciiReferenceId('PPS')), 'PPS');
    assert.throws(() => asciiReferenceId('TOOLONG'), RangeError);
  });

  it('decodes kiss codes from stratum-0 server packets only', () => {
    for (const code of ['RATE', 'DENY', 'RSTR', 'INIT']) {
      const p = decodeOk(
        encodeNtpPacket(packet({ stratum: 0, leap: 3, referenceId: asciiReferenceId(code) })),
      );
      assert.equal(kissCode(p), code);
    }
    assert.equal(kissCode(packet({ stratum: 1, referenceId: asciiReferenceId('RATE') })), null);
    assert.equal(
      kissCode(packet({ stratum: 0, mode: NTP_MODE.client, referenceId: asciiReferenceId('RATE') })),
      null,
    );
    // A kiss whose code is not ASCII is still a kiss (an unknown one).
    assert.equal(kissCode(packet({ stratum: 0, referenceId: 0x01020304 })), '1.2.3.4');
  });
});

describe('ntpPacket: timestamps across the 2036 rollover', () => {
  it('decodes timestamps just before and after 2036-02-07T06:28:16Z into the right era', () => {
    const before = ROLLOVER_NS - 2n * S - 250_000_000n;
    const after = ROLLOVER_NS + 3n * S + 500_000_000n;
    const p = decodeOk(
      encodeNtpPacket(packet({ receiveTs: toNtpTimestamp(before), transmitTs: toNtpTimestamp(after) })),
    );
    // After the rollover the seconds field has wrapped: era 1 begins at 0 again.
    assert.equal(p.transmitTs >> 32n, 3n);
    assert.equal(p.receiveTs >> 32n, 2n ** 32n - 3n);
    for (const pivot of [ROLLOVER_NS - 3_600n * S, ROLLOVER_NS, ROLLOVER_NS + 86_400n * S]) {
      assert.equal(fromNtpTimestamp(p.receiveTs, pivot), before);
      assert.equal(fromNtpTimestamp(p.transmitTs, pivot), after);
    }
  });

  it('keeps 0 for "not set", and moves an instant that would encode as 0 by one fraction unit', () => {
    assert.equal(toNtpTimestamp(null), 0n);
    assert.equal(fromNtpTimestamp(0n, 1_700_000_000n * S), null);
    assert.equal(toNtpTimestamp(ROLLOVER_NS), 1n);
    assert.equal(fromNtpTimestamp(1n, ROLLOVER_NS), ROLLOVER_NS);
  });

  it('round-trips instants within ±60 years of the pivot through a packet (property)', () => {
    const span = 60n * 365n * 86_400n * S;
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 3n * 2n ** 32n * S }),
        fc.bigInt({ min: -span, max: span }),
        (pivot, delta) => {
          const t = pivot + delta;
          const ts = toNtpTimestamp(t);
          fc.pre(ts !== 1n || t === ROLLOVER_NS);
          const p = decodeOk(encodeNtpPacket(packet({ transmitTs: ts })));
          assert.equal(fromNtpTimestamp(p.transmitTs, pivot), t);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('ntpPacket: malformed input', () => {
  it('names the problem: short packet, bad version, unexpected mode', () => {
    const short = decodeNtpPacket(new Uint8Array(47));
    assert.ok(!short.ok && short.error.reason === 'short-packet', JSON.stringify(short));
    assert.match(short.ok ? '' : short.error.message, /47 bytes/);

    for (const version of [0, 1, 2, 5, 7]) {
      const bytes = encodeNtpPacket(packet());
      bytes[0] = (bytes[0]! & 0b11_000_111) | (version << 3);
      const r = decodeNtpPacket(bytes);
      assert.ok(!r.ok && r.error.reason === 'bad-version', `version ${version}`);
    }
    for (const version of [3, 4]) {
      assert.ok(decodeNtpPacket(encodeNtpPacket(packet({ version }))).ok, `version ${version}`);
    }

    const r = decodeNtpPacket(encodeNtpPacket(packet({ mode: NTP_MODE.control })), {
      modes: [NTP_MODE.server],
    });
    assert.ok(!r.ok && r.error.reason === 'bad-mode');
    assert.match(r.ok ? '' : r.error.message, /mode 6, expected 4/);
  });

  it('ignores extension fields and a MAC after the header, and says how many bytes there were', () => {
    const bytes = new Uint8Array(48 + 20 + 16);
    bytes.set(encodeNtpPacket(packet()), 0);
    bytes.fill(0xaa, 48);
    const r = decodeNtpPacket(bytes);
    assert.ok(r.ok);
    assert.equal(r.extraBytes, 36);
    assert.deepEqual(r.packet, packet());
  });

  it('decodes from a view into a larger buffer (a Node Buffer slice)', () => {
    const big = new Uint8Array(200);
    big.set(encodeNtpPacket(packet()), 100);
    assert.deepEqual(decodeOk(big.subarray(100, 148)), packet());
  });

  it('never throws on arbitrary bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 120 }), (bytes) => {
        const r = decodeNtpPacket(bytes, { modes: [NTP_MODE.client] });
        if (r.ok) {
          assert.ok([3, 4].includes(r.packet.version));
          assert.equal(r.packet.mode, NTP_MODE.client);
          // A decoded packet re-encodes to its own header.
          assert.deepEqual(encodeNtpPacket(r.packet), bytes.subarray(0, 48));
        } else {
          assert.ok(['short-packet', 'bad-version', 'bad-mode'].includes(r.error.reason));
        }
      }),
      { numRuns: 2000 },
    );
  });
});
