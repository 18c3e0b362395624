import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { TimemeshError } from '../../hlc/errors.ts';
import { HLC_MAX_LOGICAL, nodeIdProblem } from '../../hlc/hlc.ts';
import { encodeHlc } from '../../hlc/hlcCodec.ts';
import { UNBOUNDED_NS } from '../../hlc/timeTypes.ts';
import {
  ANCHOR_KINDS,
  ANNOUNCEMENT_FIELD_COUNT,
  ANNOUNCEMENT_MAX_BYTES,
  ANNOUNCEMENT_MAX_RECEIPTS,
  ANNOUNCEMENT_MAX_RECEIPT_BYTES,
  ANNOUNCEMENT_WIRE_VERSION,
  AnnouncementDecodeError,
  SYNC_STATUSES,
  U64_MAX,
  announcementTopic,
  decodeAnnouncement,
  encodeAnnouncement,
} from '../../mesh/announcementCodec.ts';
import type {
  AnnouncementDecodeReason,
  AnnouncementDecodeResult,
  AnnouncementField,
  GossipAnnouncement,
} from '../../mesh/announcementCodec.ts';

const PEER = '12D3KooWGzBkvF7S3bYqjCk6Hq1G7tXq8cXjQm3aVh2rK9pZy5Tn';
const packr = new Packr({ useRecords: false });

function sample(overrides: Partial<GossipAnnouncement> = {}): GossipAnnouncement {
  const nodeId = overrides.nodeId ?? PEER;
  return {
    nodeId,
    seq: 42,
    sentAtNs: 1_763_000_000_123_456_789n,
    hlc: { wallNs: 1_763_000_000_123_456_000n, logical: 3, nodeId },
    bestNs: 1_763_000_000_123_400_000n,
    earliestNs: 1_763_000_000_123_000_000n,
    latestNs: 1_763_000_000_124_000_000n,
    rootDistanceNs: 500_000,
    anchorKind: 'gps',
    stratum: 2,
    status: 'anchored',
    receipts: [new Uint8Array([1, 2, 3]), new Uint8Array(ANNOUNCEMENT_MAX_RECEIPT_BYTES).fill(7)],
    ...overrides,
  };
}

/** The wire array of `sample()`, for building invalid messages element by element. */
function wire(): unknown[] {
  const a = sample();
  return [
    ANNOUNCEMENT_WIRE_VERSION,
    a.nodeId,
    a.seq,
    a.sentAtNs,
    encodeHlc(a.hlc),
    a.bestNs,
    a.earliestNs,
    a.latestNs,
    a.rootDistanceNs,
    a.anchorKind,
    a.stratum,
    a.status,
    a.receipts,
  ];
}

const INDEX: Record<Exclude<AnnouncementField, 'version'>, number> = {
  nodeId: 1,
  seq: 2,
  sentAtNs: 3,
  hlc: 4,
  bestNs: 5,
  earliestNs: 6,
  latestNs: 7,
  rootDistanceNs: 8,
  anchorKind: 9,
  stratum: 10,
  status: 11,
  receipts: 12,
};

function withField(field: Exclude<AnnouncementField, 'version'>, value: unknown): Uint8Array {
  const w = wire();
  w[INDEX[field]] = value;
  return packr.pack(w);
}

function expectFailure(
  r: AnnouncementDecodeResult,
  reason: AnnouncementDecodeReason,
  field?: AnnouncementField | null,
): AnnouncementDecodeError {
  assert.equal(r.ok, false, `expected ${reason}, got a decoded announcement`);
  if (r.ok) throw new Error('unreachable');
  assert.ok(r.error instanceof AnnouncementDecodeError);
  assert.equal(r.error.code, 'TM_ERR_ANNOUNCEMENT_DECODE');
  assert.equal(r.error.reason, reason, r.error.message);
  assert.match(r.error.message, new RegExp(`^invalid announcement \\(${reason}\\): `));
  if (field !== undefined) assert.equal(r.error.field, field);
  return r.error;
}

function expectMisuse(a: unknown, pattern: RegExp): void {
  assert.throws(
    () => encodeAnnouncement(a as GossipAnnouncement),
    (e: unknown) =>
      e instanceof TimemeshError && e.code === 'TM_ERR_ANNOUNCEMENT_MISUSE' && pattern.test(e.message),
  );
}

const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
const nodeIdArb = fc
  .oneof(
    fc.string({ minLength: 1, maxLength: 60 }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }),
    fc.constant('x'.repeat(255)),
  )
  .filter((s) => nodeIdProblem(s) === null);

const announcementArb: fc.Arbitrary<GossipAnnouncement> = fc
  .record({
    nodeId: nodeIdArb,
    seq: fc.oneof(fc.constantFrom(0, Number.MAX_SAFE_INTEGER), fc.nat(), fc.maxSafeNat()),
    sentAtNs: fc.oneof(fc.constantFrom(0n, U64_MAX), u64),
    wallNs: fc.oneof(fc.constantFrom(0n, U64_MAX), u64),
    logical: fc.integer({ min: 0, max: HLC_MAX_LOGICAL }),
    times: fc.tuple(u64, u64, u64).map((t) => t.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))),
    rootDistanceNs: fc.oneof(
      fc.constantFrom(0, 2 ** 64, 2 ** 62),
      fc.nat(),
      fc.double({ min: 0, max: 2 ** 64, noNaN: true }).filter((x) => !Object.is(x, -0)),
    ),
    anchorKind: fc.constantFrom(...ANCHOR_KINDS),
    stratum: fc.integer({ min: 0, max: 16 }),
    status: fc.constantFrom(...SYNC_STATUSES),
    receipts: fc.array(fc.uint8Array({ minLength: 1, maxLength: ANNOUNCEMENT_MAX_RECEIPT_BYTES }), {
      maxLength: ANNOUNCEMENT_MAX_RECEIPTS,
    }),
  })
  .map((r) => ({
    nodeId: r.nodeId,
    seq: r.seq,
    sentAtNs: r.sentAtNs,
    hlc: { wallNs: r.wallNs, logical: r.logical, nodeId: r.nodeId },
    earliestNs: r.times[0],
    bestNs: r.times[1],
    latestNs: r.times[2],
    rootDistanceNs: r.rootDistanceNs,
    anchorKind: r.anchorKind,
    stratum: r.stratum,
    status: r.status,
    receipts: r.receipts,
  }));

describe('announcementCodec: round trips', () => {
  it('decodes what it encodes, as a plain Uint8Array within the size limit', () => {
    const a = sample();
    const bytes = encodeAnnouncement(a);
    assert.equal(Object.getPrototypeOf(bytes), Uint8Array.prototype);
    assert.ok(bytes.length <= ANNOUNCEMENT_MAX_BYTES);
    const r = decodeAnnouncement(bytes);
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.deepStrictEqual(r.announcement, a);
  });

  it('round-trips every valid announcement exactly, across the full u64 range (property)', () => {
    fc.assert(
      fc.property(announcementArb, (a) => {
        const r = decodeAnnouncement(encodeAnnouncement(a));
        assert.ok(r.ok, r.ok ? '' : r.error.message);
        assert.deepStrictEqual(r.announcement, a);
      }),
      { numRuns: 500 },
    );
  });

  it('carries the extremes exactly: 0 and 2^64 − 1 in every u64 field, seq at 2^53 − 1', () => {
    for (const t of [0n, 1n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, U64_MAX]) {
      const a = sample({
        seq: Number.MAX_SAFE_INTEGER,
        sentAtNs: t,
        bestNs: t,
        earliestNs: t,
        latestNs: t,
        hlc: { wallNs: t, logical: HLC_MAX_LOGICAL, nodeId: PEER },
      });
      const r = decodeAnnouncement(encodeAnnouncement(a));
      assert.ok(r.ok);
      assert.deepStrictEqual(r.announcement, a);
      assert.equal(typeof r.announcement.bestNs, 'bigint');
    }
  });

  it('fits the largest valid announcement in the size limit with room to spare', () => {
    const id = 'é'.repeat(127); // 254 UTF-8 bytes
    const a = sample({
      nodeId: id,
      hlc: { wallNs: U64_MAX, logical: HLC_MAX_LOGICAL, nodeId: id },
      seq: Number.MAX_SAFE_INTEGER,
      sentAtNs: U64_MAX,
      bestNs: U64_MAX,
      earliestNs: U64_MAX,
      latestNs: U64_MAX,
      rootDistanceNs: 0.1,
      anchorKind: 'reference',
      status: 'unsynchronized',
      receipts: Array.from({ length: ANNOUNCEMENT_MAX_RECEIPTS }, () =>
        new Uint8Array(ANNOUNCEMENT_MAX_RECEIPT_BYTES).fill(255),
      ),
    });
    const bytes = encodeAnnouncement(a);
    assert.ok(bytes.length < 5000, `${bytes.length} bytes`);
    assert.ok(decodeAnnouncement(bytes).ok);
  });

  it('widens an unsynchronized node’s unbounded interval to the u64 range, and nothing else', () => {
    const bestNs = 1_763_000_000_000_000_000n;
    const unbounded = BigInt(UNBOUNDED_NS);
    const a = sample({ bestNs, earliestNs: bestNs - unbounded, latestNs: bestNs + unbounded });
    assert.ok(a.earliestNs < 0n);
    const r = decodeAnnouncement(encodeAnnouncement(a));
    assert.ok(r.ok);
    assert.equal(r.announcement.earliestNs, 0n);
    assert.equal(r.announcement.latestNs, bestNs + unbounded);
    assert.equal(r.announcement.bestNs, bestNs);
    const over = decodeAnnouncement(encodeAnnouncement(sample({ latestNs: U64_MAX + 10n })));
    assert.ok(over.ok);
    assert.equal(over.announcement.latestNs, U64_MAX);
  });

  it('returns copies: neither the decoded receipts nor the encoded bytes alias a buffer', () => {
    const bytes = encodeAnnouncement(sample());
    const copy = bytes.slice();
    const second = encodeAnnouncement(sample({ seq: 43, receipts: [new Uint8Array([9])] }));
    assert.deepStrictEqual(bytes, copy, 'a second encode must not overwrite the first result');
    assert.notDeepStrictEqual(second, bytes);
    const r = decodeAnnouncement(bytes);
    assert.ok(r.ok);
    bytes.fill(0);
    assert.deepStrictEqual(r.announcement.receipts[0], new Uint8Array([1, 2, 3]));
    assert.equal(Object.getPrototypeOf(r.announcement.receipts[0]), Uint8Array.prototype);
  });

  it('decodes from a view into a larger buffer', () => {
    const bytes = encodeAnnouncement(sample());
    const big = new Uint8Array(bytes.length + 20);
    big.set(bytes, 7);
    const r = decodeAnnouncement(big.subarray(7, 7 + bytes.length));
    assert.ok(r.ok);
    assert.deepStrictEqual(r.announcement, sample());
  });

  it('interoperates with other integer widths: fixints, uint32, uint64 and integral doubles', () => {
    const w = wire();
    w[INDEX.seq] = 5; // fixint
    w[INDEX.sentAtNs] = 4_000_000_000; // uint32
    w[INDEX.earliestNs] = 2 ** 40; // msgpackr writes this double as float64: exact below 2^53
    w[INDEX.bestNs] = 2n ** 40n + 1n;
    w[INDEX.latestNs] = U64_MAX; // uint64
    w[INDEX.rootDistanceNs] = 2n ** 63n; // another implementation's uint64
    const r = decodeAnnouncement(packr.pack(w));
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.equal(r.announcement.seq, 5);
    assert.equal(r.announcement.sentAtNs, 4_000_000_000n);
    assert.equal(r.announcement.earliestNs, 2n ** 40n);
    assert.equal(r.announcement.latestNs, U64_MAX);
    assert.equal(r.announcement.rootDistanceNs, 2 ** 63);
  });
});

describe('announcementCodec: every rejection', () => {
  it('not-bytes', () => {
    for (const v of ['text', null, undefined, [1, 2, 3], 42, new ArrayBuffer(4)]) {
      expectFailure(decodeAnnouncement(v), 'not-bytes', null);
    }
  });

  it('oversize, before any parsing', () => {
    const bytes = new Uint8Array(ANNOUNCEMENT_MAX_BYTES + 1);
    const e = expectFailure(decodeAnnouncement(bytes), 'oversize');
    assert.match(e.message, /8193 bytes, at most 8192/);
  });

  it('malformed-msgpack: empty, truncated, trailing bytes, unknown extensions', () => {
    const good = encodeAnnouncement(sample());
    const cases = [
      new Uint8Array(0),
      good.subarray(0, good.length - 1),
      good.subarray(0, 20),
      new Uint8Array([...good, 0]),
      new Uint8Array([0xd4, 0x72, 0x00]),
      new Uint8Array([0xd4, 0x01, 0x00]),
      new Uint8Array([0xc7, 0x00, 0x01]),
    ];
    for (const c of cases) expectFailure(decodeAnnouncement(c), 'malformed-msgpack');
    // msgpackr decodes the reserved byte 0xc1 to a marker object; it is then simply not an array.
    expectFailure(decodeAnnouncement(new Uint8Array([0xc1])), 'not-an-array');
  });

  it('not-an-array', () => {
    for (const v of [{ version: 1 }, 1, 'x', null, new Uint8Array(3)]) {
      expectFailure(decodeAnnouncement(packr.pack(v)), 'not-an-array');
    }
  });

  it('unsupported-version, checked before the field count', () => {
    for (const v of [0, 2, '1', 1.5, null, true]) {
      const w = wire();
      w[0] = v;
      expectFailure(decodeAnnouncement(packr.pack(w)), 'unsupported-version', 'version');
    }
    const e = expectFailure(decodeAnnouncement(packr.pack([2, 'a'])), 'unsupported-version');
    assert.match(e.message, /version is the integer 2, this node speaks 1/);
    expectFailure(decodeAnnouncement(packr.pack([])), 'unsupported-version');
  });

  it('wrong-field-count', () => {
    const short = wire().slice(0, ANNOUNCEMENT_FIELD_COUNT - 1);
    const long = [...wire(), 'extra'];
    expectFailure(decodeAnnouncement(packr.pack(short)), 'wrong-field-count');
    const e = expectFailure(decodeAnnouncement(packr.pack(long)), 'wrong-field-count');
    assert.match(e.message, /has 13 fields, got 14/);
  });

  it('bad-field, naming the field, for every type and range violation', () => {
    const cases: [Exclude<AnnouncementField, 'version'>, unknown][] = [
      ['nodeId', 7],
      ['nodeId', ''],
      ['nodeId', 'x'.repeat(256)],
      ['nodeId', new Uint8Array([65])],
      ['seq', -1],
      ['seq', 1.5],
      ['seq', 2n ** 53n],
      ['seq', '42'],
      ['seq', null],
      ['sentAtNs', -1],
      ['sentAtNs', -1n],
      ['sentAtNs', 2 ** 60], // a float64: not exact
      ['sentAtNs', 1.5],
      ['sentAtNs', 'now'],
      ['hlc', 'not bytes'],
      ['bestNs', -5n],
      ['earliestNs', true],
      ['latestNs', [1]],
      ['rootDistanceNs', -1],
      ['rootDistanceNs', Number.NaN],
      ['rootDistanceNs', Number.POSITIVE_INFINITY],
      ['rootDistanceNs', 2 ** 65],
      ['rootDistanceNs', -1n],
      ['rootDistanceNs', '1'],
      ['stratum', 17],
      ['stratum', -1],
      ['stratum', 1.5],
      ['stratum', 2n],
      ['receipts', new Uint8Array(4)],
      ['receipts', null],
    ];
    for (const [field, value] of cases) {
      const e = expectFailure(decodeAnnouncement(withField(field, value)), 'bad-field', field);
      if (field !== 'nodeId') assert.match(e.message, new RegExp(`${field}: expected `));
    }
  });

  it('bad-field for an invalid nodeId when the HLC carries the same invalid id', () => {
    // A nodeId that nodeIdProblem refuses, consistent with its HLC, is still refused.
    const w = wire();
    w[INDEX.nodeId] = 'x'.repeat(256);
    expectFailure(decodeAnnouncement(packr.pack(w)), 'bad-field', 'nodeId');
  });

  it('bad-enum for anchorKind and status', () => {
    let e = expectFailure(decodeAnnouncement(withField('anchorKind', 'atomic')), 'bad-enum', 'anchorKind');
    assert.match(e.message, /anchorKind: expected one of none, local, .*got the string "atomic"/);
    expectFailure(decodeAnnouncement(withField('anchorKind', 3)), 'bad-enum', 'anchorKind');
    e = expectFailure(decodeAnnouncement(withField('status', 'SYNCHRONIZED')), 'bad-enum', 'status');
    assert.match(e.message, /status: expected one of unsynchronized, /);
    expectFailure(decodeAnnouncement(withField('status', null)), 'bad-enum', 'status');
  });

  it('bad-hlc carries the HLC codec’s reason', () => {
    const hlc = encodeHlc(sample().hlc);
    let e = expectFailure(decodeAnnouncement(withField('hlc', hlc.subarray(0, 12))), 'bad-hlc', 'hlc');
    assert.match(e.message, /too-short/);
    e = expectFailure(decodeAnnouncement(withField('hlc', new Uint8Array([...hlc, 0]))), 'bad-hlc');
    assert.match(e.message, /trailing-bytes/);
  });

  it('hlc-node-mismatch', () => {
    const hlc = encodeHlc({ wallNs: 1n, logical: 0, nodeId: 'someone-else' });
    const e = expectFailure(decodeAnnouncement(withField('hlc', hlc)), 'hlc-node-mismatch', 'hlc');
    assert.match(e.message, /"someone-else" is not the announcing node/);
  });

  it('bad-interval when best lies outside [earliest, latest]', () => {
    const w = wire();
    w[INDEX.earliestNs] = (w[INDEX.bestNs] as bigint) + 1n;
    let e = expectFailure(decodeAnnouncement(packr.pack(w)), 'bad-interval', 'earliestNs');
    assert.match(e.message, /earliestNs ≤ bestNs ≤ latestNs/);
    const v = wire();
    v[INDEX.latestNs] = (v[INDEX.bestNs] as bigint) - 1n;
    e = expectFailure(decodeAnnouncement(packr.pack(v)), 'bad-interval', 'latestNs');
    assert.match(e.message, new RegExp(`got ${String(v[INDEX.earliestNs])} / `));
  });

  it('too-many-receipts', () => {
    const receipts = Array.from({ length: ANNOUNCEMENT_MAX_RECEIPTS + 1 }, () => new Uint8Array([1]));
    expectFailure(decodeAnnouncement(withField('receipts', receipts)), 'too-many-receipts', 'receipts');
  });

  it('bad-receipt: empty, too long, not bytes', () => {
    for (const r of [
      new Uint8Array(0),
      new Uint8Array(ANNOUNCEMENT_MAX_RECEIPT_BYTES + 1),
      'receipt',
      [1, 2],
    ]) {
      const e = expectFailure(
        decodeAnnouncement(withField('receipts', [new Uint8Array([1]), r])),
        'bad-receipt',
        'receipts',
      );
      assert.match(e.message, /receipt 1: expected 1\.\.512 bytes/);
    }
  });
});

describe('announcementCodec: encoder misuse throws TM_ERR_ANNOUNCEMENT_MISUSE', () => {
  it('refuses every out-of-range field instead of writing it', () => {
    expectMisuse(null, /must be an object/);
    expectMisuse(sample({ seq: -1 }), /seq must be a safe integer/);
    expectMisuse(sample({ seq: 2 ** 53 }), /seq must be a safe integer/);
    expectMisuse(sample({ seq: 1.5 }), /seq must be a safe integer/);
    expectMisuse({ ...sample(), bestNs: 5 }, /bestNs must be a bigint/);
    expectMisuse(sample({ sentAtNs: -1n }), /sentAtNs: expected an unsigned 64-bit integer/);
    expectMisuse(sample({ sentAtNs: U64_MAX + 1n }), /sentAtNs/);
    expectMisuse(
      sample({ bestNs: U64_MAX + 1n, latestNs: U64_MAX + 1n }),
      /bestNs: expected an unsigned 64-bit/,
    );
    expectMisuse(sample({ bestNs: 1n }), /bad-interval/);
    expectMisuse(
      sample({ hlc: { wallNs: -1n, logical: 0, nodeId: PEER } }),
      /hlc: encodeHlc: wallNs must be/,
    );
    expectMisuse(sample({ hlc: { wallNs: 1n, logical: 0, nodeId: 'other' } }), /hlc-node-mismatch/);
    expectMisuse(sample({ nodeId: '', hlc: { wallNs: 1n, logical: 0, nodeId: 'x' } }), /nodeId|empty/);
    expectMisuse({ ...sample(), rootDistanceNs: 5n }, /rootDistanceNs must be a number/);
    expectMisuse(sample({ rootDistanceNs: Number.NaN }), /rootDistanceNs/);
    expectMisuse(sample({ stratum: 17 }), /stratum/);
    expectMisuse({ ...sample(), anchorKind: 'atomic' }, /anchorKind/);
    expectMisuse({ ...sample(), status: 'ok' }, /status/);
    expectMisuse({ ...sample(), receipts: 'r' }, /receipts must be an array/);
    expectMisuse(
      sample({ receipts: Array.from({ length: 9 }, () => new Uint8Array([1])) }),
      /too-many-receipts/,
    );
    expectMisuse(sample({ receipts: [new Uint8Array(513)] }), /bad-receipt/);
    expectMisuse(sample({ receipts: [new Uint8Array(0)] }), /bad-receipt/);
  });
});

describe('announcementCodec: the decoder never throws (fuzz)', () => {
  function decodesSafely(bytes: unknown): AnnouncementDecodeResult {
    const r = decodeAnnouncement(bytes); // a throw fails the property
    if (r.ok) {
      // Anything accepted is a valid announcement: it re-encodes and decodes to itself.
      const again = decodeAnnouncement(encodeAnnouncement(r.announcement));
      assert.ok(again.ok);
      assert.deepStrictEqual(again.announcement, r.announcement);
    } else {
      assert.ok(r.error instanceof AnnouncementDecodeError);
    }
    return r;
  }

  it('on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: ANNOUNCEMENT_MAX_BYTES + 16 }), (bytes) => {
        decodesSafely(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('on mutated valid messages (flips, insertions, deletions, truncations)', () => {
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant('flip' as const),
        at: fc.nat(),
        value: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({
        kind: fc.constant('insert' as const),
        at: fc.nat(),
        value: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), value: fc.constant(0) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), value: fc.constant(0) }),
    );
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(announcementArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), (a, muts) => {
        let bytes = Array.from(encodeAnnouncement(a));
        for (const m of muts) {
          const at = m.at % (bytes.length + 1);
          if (m.kind === 'flip' && bytes.length > 0) bytes[at % bytes.length] = m.value;
          else if (m.kind === 'insert') bytes.splice(at, 0, m.value);
          else if (m.kind === 'delete') bytes.splice(at, 1);
          else if (m.kind === 'truncate') bytes = bytes.slice(0, at);
        }
        if (decodesSafely(new Uint8Array(bytes)).ok) accepted++;
        else refused++;
      }),
      { numRuns: 2000 },
    );
    // The mutations reach both outcomes, so the property exercised the validation paths, not only msgpack.
    assert.ok(refused > 0 && accepted > 0, `accepted ${accepted}, refused ${refused}`);
  });

  it('on arbitrary msgpack values, and on valid messages with one element replaced by anything', () => {
    const packable = fc.anything({ withBigInt: true, withTypedArray: false }).filter((v) => {
      try {
        packr.pack(v);
        return true;
      } catch {
        return false;
      }
    });
    fc.assert(
      fc.property(packable, (v) => {
        decodesSafely(packr.pack(v));
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: ANNOUNCEMENT_FIELD_COUNT - 1 }), packable, (i, v) => {
        const w = wire();
        w[i] = v;
        decodesSafely(packr.pack(w));
      }),
      { numRuns: 1000 },
    );
  });

  it('still decodes valid messages after thousands of malformed ones (no stuck decoder state)', () => {
    const good = encodeAnnouncement(sample());
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (junk) => {
        decodeAnnouncement(junk);
        decodeAnnouncement(good.subarray(0, junk.length % good.length));
        const r = decodeAnnouncement(good);
        assert.ok(r.ok);
        assert.deepStrictEqual(r.announcement, sample());
      }),
      { numRuns: 500 },
    );
  });
});

describe('announcementTopic', () => {
  it('names the topic timemesh/<network>/v1', () => {
    assert.equal(announcementTopic('main'), 'timemesh/main/v1');
    assert.equal(announcementTopic('lab-2.test_net'), 'timemesh/lab-2.test_net/v1');
  });

  it('refuses a network name that would change the topic’s shape', () => {
    for (const bad of ['', 'a/b', '-x', 'x'.repeat(65), 'has space', 'ü']) {
      assert.throws(
        () => announcementTopic(bad),
        (e: unknown) => e instanceof TimemeshError && e.code === 'TM_ERR_GOSSIP_CONFIG',
        bad,
      );
    }
  });
});
