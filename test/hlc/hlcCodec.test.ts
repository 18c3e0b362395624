import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { TimemeshError } from '../../hlc/errors.ts';
import { HLC_MAX_LOGICAL, HLC_MAX_WALL_NS, compareHlc, type HlcTimestamp } from '../../hlc/hlc.ts';
import { decodeHlc, encodeHlc, formatHlc, parseHlc, type HlcDecodeResult } from '../../hlc/hlcCodec.ts';
import { HlcDecodeError, type HlcDecodeReason } from '../../hlc/hlcErrors.ts';

const ts = (wallNs: bigint, logical: number, nodeId: string): HlcTimestamp => ({ wallNs, logical, nodeId });

/** Well-formed node ids: any code points (so up to 4 UTF-8 bytes each), dots and a leading BOM included. */
const nodeIdArb = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 63 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }),
  fc.constantFrom('a', 'b', 'a.b', '\uFEFFnode', 'é'.repeat(127) + 'x', '😀', 'x'.repeat(255)),
);
const wallArb = fc.oneof(
  fc.bigInt({ min: 0n, max: HLC_MAX_WALL_NS }),
  fc.bigInt({ min: 0n, max: 3n }),
  fc.constant(HLC_MAX_WALL_NS),
);
const logicalArb = fc.oneof(
  fc.integer({ min: 0, max: HLC_MAX_LOGICAL }),
  fc.nat(3),
  fc.constant(HLC_MAX_LOGICAL),
);
const timestampArb = fc
  .tuple(wallArb, logicalArb, nodeIdArb)
  .map(([wallNs, logical, nodeId]) => ts(wallNs, logical, nodeId));

/** Small domains so that equal fields, the interesting case for a tie-break, come up often. */
const crowdedTimestampArb = fc
  .tuple(
    fc.bigInt({ min: 0n, max: 2n }),
    fc.nat(2),
    fc.constantFrom('a', 'b', 'ab', 'B', 'é', '😀', '\uFFFF', 'z'),
  )
  .map(([wallNs, logical, nodeId]) => ts(wallNs, logical, nodeId));

/** Arbitrary JS strings, lone surrogates included. */
const anyStringArb = fc.string({ unit: fc.nat(0xffff).map((c) => String.fromCharCode(c)), maxLength: 300 });

function expectError(r: HlcDecodeResult, reason: HlcDecodeReason): void {
  assert.ok(!r.ok, `expected a ${reason} error, got ${JSON.stringify(r, (_k, v: unknown) => String(v))}`);
  assert.ok(r.error instanceof HlcDecodeError);
  assert.ok(r.error instanceof TimemeshError);
  assert.equal(r.error.code, 'TM_ERR_HLC_DECODE');
  assert.equal(r.error.reason, reason);
}

function compareBytes(a: Uint8Array, b: Uint8Array): -1 | 0 | 1 {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** A valid header for a node id of `idLength` bytes, followed by `tail`. */
function withHeader(idLength: number, tail: number[]): Uint8Array {
  return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, idLength, ...tail]);
}

describe('binary codec', () => {
  test('matches the documented layout', () => {
    const bytes = encodeHlc(ts(0x0102030405060708n, 0x0a0b0c0d, 'é1'));
    assert.deepEqual([...bytes], [1, 2, 3, 4, 5, 6, 7, 8, 0x0a, 0x0b, 0x0c, 0x0d, 3, 0xc3, 0xa9, 0x31]);
    assert.deepEqual(decodeHlc(bytes), { ok: true, value: ts(0x0102030405060708n, 0x0a0b0c0d, 'é1') });
  });

  test('round-trips every valid timestamp (property)', () => {
    fc.assert(
      fc.property(timestampArb, (t) => {
        const bytes = encodeHlc(t);
        assert.deepEqual(decodeHlc(bytes), { ok: true, value: t });
      }),
    );
  });

  test('decodes a view into a larger buffer', () => {
    const inner = encodeHlc(ts(42n, 7, 'node'));
    const outer = new Uint8Array(inner.length + 10);
    outer.set(inner, 5);
    assert.deepEqual(decodeHlc(outer.subarray(5, 5 + inner.length)), { ok: true, value: ts(42n, 7, 'node') });
  });

  test('reports precise reasons', () => {
    expectError(decodeHlc(new Uint8Array(0)), 'too-short');
    expectError(decodeHlc(new Uint8Array(12)), 'too-short');
    expectError(decodeHlc(withHeader(0, [])), 'empty-node-id');
    expectError(decodeHlc(withHeader(3, [0x61, 0x62])), 'length-mismatch');
    expectError(decodeHlc(withHeader(1, [0x61, 0x62])), 'trailing-bytes');
    expectError(decodeHlc(withHeader(1, [0xff])), 'invalid-utf8');
    expectError(decodeHlc(withHeader(2, [0xc0, 0x80])), 'invalid-utf8'); // overlong NUL
    expectError(decodeHlc(withHeader(3, [0xed, 0xa0, 0x80])), 'invalid-utf8'); // encoded lone surrogate
    expectError(decodeHlc(withHeader(2, [0xc3, 0x61])), 'invalid-utf8'); // truncated sequence
    expectError(decodeHlc([1, 2, 3] as unknown as Uint8Array), 'not-bytes');
    expectError(decodeHlc(null as unknown as Uint8Array), 'not-bytes');
    // A leading BOM is part of the id, not stripped.
    assert.deepEqual(decodeHlc(withHeader(3, [0xef, 0xbb, 0xbf])), { ok: true, value: ts(1n, 2, '\uFEFF') });
  });

  test('never throws on arbitrary bytes, and what it accepts re-encodes identically (property)', () => {
    const plausible = fc
      .tuple(
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 20 }),
        fc.integer({ min: -2, max: 2 }),
      )
      .map(([head, id, skew]) =>
        Uint8Array.from([...head, Math.max(0, Math.min(255, id.length + skew)), ...id]),
      );
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), plausible), (bytes) => {
        const r = decodeHlc(bytes);
        if (r.ok) assert.deepEqual(encodeHlc(r.value), bytes);
        else assert.ok(r.error instanceof HlcDecodeError);
      }),
      { numRuns: 2_000 },
    );
  });

  test('encodeHlc throws TM_ERR_HLC_MISUSE on timestamps no clock could issue', () => {
    for (const bad of [
      ts(-1n, 0, 'a'),
      ts(HLC_MAX_WALL_NS + 1n, 0, 'a'),
      ts(0n, -1, 'a'),
      ts(0n, 1.5, 'a'),
      ts(0n, HLC_MAX_LOGICAL + 1, 'a'),
      ts(0n, 0, ''),
      ts(0n, 0, 'x'.repeat(256)),
      ts(0n, 0, '\uDC00'),
    ]) {
      for (const fn of [encodeHlc, formatHlc]) {
        assert.throws(
          () => fn(bad),
          (e: unknown) => e instanceof TimemeshError && e.code === 'TM_ERR_HLC_MISUSE',
        );
      }
    }
  });
});

describe('text codec', () => {
  test('formats as wall.logical.nodeId', () => {
    assert.equal(formatHlc(ts(1_700_000_000_000_000_000n, 0, 'n1')), '1700000000000000000.0.n1');
    assert.equal(formatHlc(ts(0n, 12, 'a.b')), '0.12.a.b');
  });

  test('round-trips every valid timestamp (property)', () => {
    fc.assert(
      fc.property(timestampArb, (t) => {
        assert.deepEqual(parseHlc(formatHlc(t)), { ok: true, value: t });
      }),
    );
  });

  test('accepts the limits and rejects one past them', () => {
    assert.deepEqual(parseHlc('18446744073709551615.4294967295.a'), {
      ok: true,
      value: ts(HLC_MAX_WALL_NS, HLC_MAX_LOGICAL, 'a'),
    });
    expectError(parseHlc('18446744073709551616.0.a'), 'wall-out-of-range');
    expectError(parseHlc('99999999999999999999.0.a'), 'wall-out-of-range');
    expectError(parseHlc('1.4294967296.a'), 'logical-out-of-range');
    expectError(parseHlc(`1.2.${'x'.repeat(256)}`), 'node-id-too-long');
    assert.equal(parseHlc(`1.2.${'x'.repeat(255)}`).ok, true);
  });

  test('reports precise reasons', () => {
    expectError(parseHlc(''), 'missing-part');
    expectError(parseHlc('1'), 'missing-part');
    expectError(parseHlc('1.2'), 'missing-part');
    expectError(parseHlc('.2.a'), 'missing-part');
    expectError(parseHlc('1..a'), 'missing-part');
    expectError(parseHlc('1.2.'), 'empty-node-id');
    expectError(parseHlc('-1.2.a'), 'invalid-number');
    expectError(parseHlc('1.-2.a'), 'invalid-number');
    expectError(parseHlc('+1.2.a'), 'invalid-number');
    expectError(parseHlc('01.2.a'), 'invalid-number');
    expectError(parseHlc('1.02.a'), 'invalid-number');
    expectError(parseHlc(' 1.2.a'), 'invalid-number');
    expectError(parseHlc('1e3.2.a'), 'invalid-number');
    expectError(parseHlc('0x1.2.a'), 'invalid-number');
    expectError(parseHlc('123456789012345678901.0.a'), 'invalid-number'); // 21 digits, never parsed
    expectError(parseHlc('1.2.a\uD800'), 'invalid-node-id');
    expectError(parseHlc(42 as unknown as string), 'not-text');
    assert.deepEqual(parseHlc('0.0.a.b.c'), { ok: true, value: ts(0n, 0, 'a.b.c') });
  });

  test('never throws on arbitrary strings, and what it accepts formats identically (property)', () => {
    const digits = fc.string({ unit: fc.constantFrom('0', '1', '9', '-', '.', 'a'), maxLength: 30 });
    fc.assert(
      fc.property(fc.oneof(anyStringArb, digits), (text) => {
        const r = parseHlc(text);
        if (r.ok) assert.equal(formatHlc(r.value), text);
        else assert.ok(r.error instanceof HlcDecodeError);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('compareHlc', () => {
  test('orders by wall, then logical, then node id', () => {
    assert.equal(compareHlc(ts(1n, 9, 'z'), ts(2n, 0, 'a')), -1);
    assert.equal(compareHlc(ts(2n, 0, 'z'), ts(2n, 1, 'a')), -1);
    assert.equal(compareHlc(ts(2n, 1, 'a'), ts(2n, 1, 'b')), -1);
    assert.equal(compareHlc(ts(2n, 1, 'b'), ts(2n, 1, 'a')), 1);
    assert.equal(compareHlc(ts(2n, 1, 'a'), ts(2n, 1, 'a')), 0);
  });

  test('is a total order (property)', () => {
    fc.assert(
      fc.property(crowdedTimestampArb, crowdedTimestampArb, crowdedTimestampArb, (a, b, c) => {
        assert.equal(compareHlc(a, a), 0);
        assert.equal(compareHlc(a, b), -compareHlc(b, a) || 0);
        const sameFields = a.wallNs === b.wallNs && a.logical === b.logical && a.nodeId === b.nodeId;
        assert.equal(compareHlc(a, b) === 0, sameFields);
        if (compareHlc(a, b) <= 0 && compareHlc(b, c) <= 0) assert.ok(compareHlc(a, c) <= 0);
      }),
      { numRuns: 2_000 },
    );
  });

  test('is consistent with the encodings (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(crowdedTimestampArb, timestampArb),
        fc.oneof(crowdedTimestampArb, timestampArb),
        (a, b) => {
          const ea = encodeHlc(a);
          const eb = encodeHlc(b);
          const order = compareHlc(a, b);
          // Equal iff the bytes (and the text) are equal.
          assert.equal(order === 0, compareBytes(ea, eb) === 0);
          assert.equal(order === 0, formatHlc(a) === formatHlc(b));
          // The (wall, logical) prefix sorts like compareHlc whenever it decides.
          const prefixOrder = compareBytes(ea.subarray(0, 12), eb.subarray(0, 12));
          if (prefixOrder !== 0) assert.equal(prefixOrder, order);
          // Decoding preserves the order.
          const da = decodeHlc(ea);
          const db = decodeHlc(eb);
          assert.ok(da.ok && db.ok);
          assert.equal(compareHlc(da.value, db.value), order);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
