import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TimemeshError } from '../../hlc/errors.ts';
import { ANNOUNCEMENT_MAX_BYTES, encodeAnnouncement } from '../../mesh/announcementCodec.ts';
import type { GossipAnnouncement } from '../../mesh/announcementCodec.ts';
import { AnnouncementValidator, REJECT_REASONS, RESULT_FOR_REASON } from '../../mesh/gossipValidator.ts';
import type {
  AnnouncementValidation,
  AnnouncementValidatorOptions,
  ReceiptCheck,
  RejectReason,
  ValidatorTimeEstimate,
} from '../../mesh/gossipValidator.ts';

const A = '12D3KooWAlicePublisherAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const B = '12D3KooWBobPublisherBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
const NOW_NS = 1_763_000_000_000_000_000n;
const SECOND_NS = 1_000_000_000n;
const SYNCED: ValidatorTimeEstimate = { bestNs: NOW_NS, latestNs: NOW_NS + 1_000_000n, synchronized: true };
const UNSYNCED: ValidatorTimeEstimate = {
  bestNs: NOW_NS,
  latestNs: NOW_NS + 2n ** 62n,
  synchronized: false,
};
const GOOD_RECEIPT = new Uint8Array([0x60, 1, 2, 3]);
const BAD_RECEIPT = new Uint8Array([0xba, 0xd0]);
/** Accepts receipts whose first byte is 0x60, as a stand-in for signature verification. */
const receiptCheck: ReceiptCheck = (bytes) => bytes[0] === 0x60;

function announcement(
  nodeId: string,
  seq: number,
  overrides: Partial<GossipAnnouncement> = {},
): GossipAnnouncement {
  return {
    nodeId,
    seq,
    sentAtNs: NOW_NS - SECOND_NS,
    hlc: { wallNs: NOW_NS - SECOND_NS, logical: 0, nodeId },
    bestNs: NOW_NS - SECOND_NS,
    earliestNs: NOW_NS - 2n * SECOND_NS,
    latestNs: NOW_NS,
    rootDistanceNs: 1e6,
    anchorKind: 'mesh',
    stratum: 3,
    status: 'synchronized',
    receipts: [GOOD_RECEIPT],
    ...overrides,
  };
}

function validator(opts: Partial<AnnouncementValidatorOptions> = {}): AnnouncementValidator {
  return new AnnouncementValidator({ receiptCheck, ...opts });
}

function run(
  v: AnnouncementValidator,
  a: GossipAnnouncement | Uint8Array,
  from: string = a instanceof Uint8Array ? A : a.nodeId,
  nowEstimate: ValidatorTimeEstimate = SYNCED,
  receivedLocalNs = 5n,
): AnnouncementValidation {
  const data = a instanceof Uint8Array ? a : encodeAnnouncement(a);
  return v.validate({ data, fromPeerId: from, receivedLocalNs, nowEstimate });
}

function expectRefused(r: AnnouncementValidation, reason: RejectReason): string {
  assert.equal(r.reason, reason, r.detail);
  assert.equal(r.result, RESULT_FOR_REASON[reason]);
  assert.equal(r.announcement, undefined, 'a refused message must not carry the announcement');
  assert.equal(typeof r.detail, 'string');
  return r.detail ?? '';
}

function expectAccepted(r: AnnouncementValidation): GossipAnnouncement {
  assert.equal(r.result, 'accept', r.detail);
  assert.equal(r.reason, undefined);
  assert.ok(r.announcement !== undefined);
  return r.announcement;
}

describe('AnnouncementValidator: rules', () => {
  it('accepts a good announcement, returns it decoded and remembers the publisher', () => {
    const v = validator();
    const a = announcement(A, 1);
    const got = expectAccepted(run(v, a, A, SYNCED, 77n));
    assert.deepStrictEqual(got, a);
    assert.deepStrictEqual(v.publisher(A), {
      lastSeq: 1,
      lastSentAtNs: a.sentAtNs,
      lastAcceptedLocalNs: 77n,
    });
    assert.equal(v.publisherCount, 1);
  });

  it('oversize: rejected before decoding; the limit itself is accepted', () => {
    const v = validator();
    expectRefused(run(v, new Uint8Array(ANNOUNCEMENT_MAX_BYTES + 1)), 'oversize');
    const bytes = encodeAnnouncement(announcement(A, 1));
    const tight = validator({ maxMessageBytes: bytes.length - 1 });
    const detail = expectRefused(run(tight, bytes), 'oversize');
    assert.match(detail, new RegExp(`${bytes.length} bytes, at most ${bytes.length - 1}`));
    expectAccepted(run(validator({ maxMessageBytes: bytes.length }), bytes));
  });

  it('malformed: undecodable bytes and non-bytes are rejected with the decoder’s reason', () => {
    const v = validator();
    const good = encodeAnnouncement(announcement(A, 1));
    let detail = expectRefused(run(v, good.subarray(0, good.length - 3)), 'malformed');
    assert.match(detail, /malformed-msgpack/);
    detail = expectRefused(run(v, new Uint8Array([0x91, 0x02])), 'malformed');
    assert.match(detail, /unsupported-version/);
    const r = v.validate({
      data: 'not bytes' as unknown as Uint8Array,
      fromPeerId: A,
      receivedLocalNs: 0n,
      nowEstimate: SYNCED,
    });
    expectRefused(r, 'malformed');
  });

  it('wrong-sender: an announcement naming another node than its signer is rejected, state untouched', () => {
    const v = validator();
    const detail = expectRefused(run(v, announcement(A, 1), B), 'wrong-sender');
    assert.match(detail, /signed by/);
    assert.equal(v.publisher(A), null);
    assert.equal(v.publisher(B), null);
    expectAccepted(run(v, announcement(A, 1), A));
  });

  it('future: HLC wall or sent time beyond our latest + maxFutureNs is rejected; the bound itself is not', () => {
    const v = validator({ maxFutureNs: 1e9 });
    const limit = SYNCED.latestNs + SECOND_NS;
    const hlcAhead = announcement(A, 1, { hlc: { wallNs: limit + 1n, logical: 0, nodeId: A } });
    assert.match(expectRefused(run(v, hlcAhead), 'future'), /HLC wall/);
    const sentAhead = announcement(A, 2, { sentAtNs: limit + 1n });
    assert.match(expectRefused(run(v, sentAhead), 'future'), /sent time/);
    expectAccepted(
      run(v, announcement(A, 3, { sentAtNs: limit, hlc: { wallNs: limit, logical: 9, nodeId: A } })),
    );
  });

  it('future: an unsynchronized node (unbounded latest) rejects nothing as future', () => {
    const v = validator();
    const farAhead = NOW_NS + 3600n * SECOND_NS;
    expectAccepted(
      run(
        v,
        announcement(A, 1, { sentAtNs: farAhead, hlc: { wallNs: farAhead, logical: 0, nodeId: A } }),
        A,
        UNSYNCED,
      ),
    );
  });

  it('replay: the same or a lower seq from a publisher is ignored; a higher one is accepted', () => {
    const v = validator();
    expectAccepted(run(v, announcement(A, 5)));
    assert.match(expectRefused(run(v, announcement(A, 5)), 'replay'), /seq 5 .*last accepted 5/);
    expectRefused(run(v, announcement(A, 4)), 'replay');
    expectRefused(run(v, announcement(A, 0)), 'replay');
    expectAccepted(run(v, announcement(A, 6)));
    assert.equal(v.publisher(A)?.lastSeq, 6);
    // Byte-identical replay of an accepted message (gossipsub's seen-cache has expired).
    const bytes = encodeAnnouncement(announcement(A, 7));
    expectAccepted(run(v, bytes, A));
    expectRefused(run(v, bytes, A), 'replay');
  });

  it('replay: sequences are tracked per publisher', () => {
    const v = validator();
    expectAccepted(run(v, announcement(A, 100)));
    expectAccepted(run(v, announcement(B, 1)));
    expectAccepted(run(v, announcement(B, 2)));
    expectRefused(run(v, announcement(A, 2)), 'replay');
    assert.equal(v.publisher(A)?.lastSeq, 100);
    assert.equal(v.publisher(B)?.lastSeq, 2);
  });

  it('replay: only accepted messages move the last seq', () => {
    const v = validator();
    expectAccepted(run(v, announcement(A, 1)));
    expectRefused(run(v, announcement(A, 10, { receipts: [BAD_RECEIPT] })), 'bad-receipt');
    expectRefused(run(v, announcement(A, 11, { sentAtNs: NOW_NS - 3600n * SECOND_NS })), 'stale');
    expectRefused(run(v, announcement(A, 12), B), 'wrong-sender');
    expectAccepted(run(v, announcement(A, 2)));
    assert.equal(v.publisher(A)?.lastSeq, 2);
  });

  it('stale: older than maxAgeNs while synchronized is ignored; the boundary is accepted', () => {
    const v = validator({ maxAgeNs: 90e9 });
    const maxAge = 90n * SECOND_NS;
    const detail = expectRefused(run(v, announcement(A, 1, { sentAtNs: NOW_NS - maxAge - 1n })), 'stale');
    assert.match(detail, /90000000001 ns before our best estimate/);
    expectAccepted(run(v, announcement(A, 2, { sentAtNs: NOW_NS - maxAge })));
  });

  it('stale: an unsynchronized node judges nothing stale (its best estimate means little)', () => {
    const v = validator();
    expectAccepted(run(v, announcement(A, 1, { sentAtNs: NOW_NS - 86_400n * SECOND_NS }), A, UNSYNCED));
  });

  it('bad-receipt: one failing receipt rejects the message; the check sees each receipt and the publisher', () => {
    const seen: [number[], string][] = [];
    const v = validator({
      receiptCheck: (bytes, publisher) => {
        seen.push([Array.from(bytes), publisher]);
        return bytes[0] === 0x60;
      },
    });
    const r = run(v, announcement(A, 1, { receipts: [GOOD_RECEIPT, BAD_RECEIPT, GOOD_RECEIPT] }));
    assert.match(expectRefused(r, 'bad-receipt'), /^receipt 1: /);
    assert.deepStrictEqual(seen, [
      [[0x60, 1, 2, 3], A],
      [[0xba, 0xd0], A],
    ]);
    expectAccepted(run(v, announcement(A, 2, { receipts: [] })));
  });

  it('receiptsAccepted: called with the receipts of accepted announcements only, indexes from 0', () => {
    const accepted: [number, string][] = [];
    const indexes: number[] = [];
    const v = validator({
      receiptCheck: (bytes, _publisher, index) => {
        indexes.push(index);
        return bytes[0] === 0x60;
      },
      receiptsAccepted: (receipts, publisher) => accepted.push([receipts.length, publisher]),
    });
    expectRefused(run(v, announcement(A, 1, { receipts: [GOOD_RECEIPT, BAD_RECEIPT] })), 'bad-receipt');
    assert.deepEqual(accepted, [], 'a refused announcement claims nothing');
    expectAccepted(run(v, announcement(A, 2, { receipts: [GOOD_RECEIPT, GOOD_RECEIPT] })));
    assert.deepEqual(accepted, [[2, A]]);
    assert.deepEqual(indexes, [0, 1, 0, 1]);
  });

  it('bad-receipt: a throwing receipt check rejects instead of throwing', () => {
    const v = validator({
      receiptCheck: () => {
        throw new Error('verifier bug');
      },
    });
    const detail = expectRefused(run(v, announcement(A, 1)), 'bad-receipt');
    assert.match(detail, /threw \(verifier bug\)/);
  });

  it('bad-receipt: only `true` passes (a truthy non-boolean does not)', () => {
    const v = validator({ receiptCheck: (() => 1) as unknown as ReceiptCheck });
    expectRefused(run(v, announcement(A, 1)), 'bad-receipt');
  });

  it('checks receipts last: no signature work for a message refused by a cheaper rule', () => {
    let calls = 0;
    const v = validator({
      receiptCheck: () => {
        calls++;
        return true;
      },
    });
    expectAccepted(run(v, announcement(A, 2)));
    assert.equal(calls, 1);
    expectRefused(run(v, announcement(A, 2)), 'replay');
    expectRefused(run(v, announcement(A, 3, { sentAtNs: NOW_NS - 3600n * SECOND_NS })), 'stale');
    expectRefused(run(v, announcement(A, 4, { sentAtNs: NOW_NS + 3600n * SECOND_NS })), 'future');
    expectRefused(run(v, announcement(A, 5), B), 'wrong-sender');
    assert.equal(calls, 1);
  });

  it('rejects a wrong sender before it looks at the (forged) publisher’s sequence', () => {
    const v = validator();
    expectAccepted(run(v, announcement(A, 5)));
    // B replays A's old message under its own signature: that is misbehaviour (reject), not a replay.
    expectRefused(run(v, announcement(A, 5), B), 'wrong-sender');
  });
});

describe('AnnouncementValidator: bounded publisher state (LRU)', () => {
  it('keeps at most maxPublishers, evicting the least recently accepted', () => {
    const v = validator({ maxPublishers: 3 });
    for (const id of ['p1', 'p2', 'p3']) expectAccepted(run(v, announcement(id, 1)));
    expectAccepted(run(v, announcement('p1', 2))); // p1 is now the most recent
    expectRefused(run(v, announcement('p2', 1)), 'replay'); // a refusal is not a use
    expectAccepted(run(v, announcement('p4', 1)));
    assert.equal(v.publisherCount, 3);
    assert.equal(v.publisher('p2'), null, 'p2 was least recently accepted');
    assert.equal(v.publisher('p1')?.lastSeq, 2);
    assert.notEqual(v.publisher('p3'), null);
    assert.notEqual(v.publisher('p4'), null);
    // The documented hazard: an evicted publisher's old seq passes again.
    expectAccepted(run(v, announcement('p2', 1)));
    assert.equal(v.publisher('p3'), null);
  });

  it('never exceeds the bound under many publishers', () => {
    const v = validator({ maxPublishers: 50 });
    for (let i = 0; i < 500; i++) {
      expectAccepted(run(v, announcement(`peer-${i}`, 1)));
      assert.ok(v.publisherCount <= 50);
    }
    assert.equal(v.publisherCount, 50);
    assert.notEqual(v.publisher('peer-499'), null);
    assert.notEqual(v.publisher('peer-450'), null);
    assert.equal(v.publisher('peer-449'), null);
  });

  it('forget() drops a publisher', () => {
    const v = validator();
    expectAccepted(run(v, announcement(A, 3)));
    assert.equal(v.forget(A), true);
    assert.equal(v.forget(A), false);
    expectAccepted(run(v, announcement(A, 1)));
  });

  it('defaults to 10 000 publishers', () => {
    assert.equal(validator().maxPublishers, 10_000);
  });
});

describe('AnnouncementValidator: counters', () => {
  it('counts every outcome exactly once, by reason', () => {
    const v = validator();
    expectAccepted(run(v, announcement(A, 1)));
    expectAccepted(run(v, announcement(B, 1)));
    expectRefused(run(v, new Uint8Array(ANNOUNCEMENT_MAX_BYTES + 1)), 'oversize');
    expectRefused(run(v, new Uint8Array([1, 2, 3])), 'malformed');
    expectRefused(run(v, new Uint8Array([0xc1])), 'malformed');
    expectRefused(run(v, announcement(A, 2), B), 'wrong-sender');
    expectRefused(run(v, announcement(A, 2, { sentAtNs: NOW_NS + 3600n * SECOND_NS })), 'future');
    expectRefused(run(v, announcement(A, 1)), 'replay');
    expectRefused(run(v, announcement(A, 3, { sentAtNs: NOW_NS - 3600n * SECOND_NS })), 'stale');
    expectRefused(run(v, announcement(A, 4, { receipts: [BAD_RECEIPT] })), 'bad-receipt');
    assert.deepStrictEqual(v.counters(), {
      accepted: 2,
      refused: {
        oversize: 1,
        malformed: 2,
        'wrong-sender': 1,
        future: 1,
        replay: 1,
        stale: 1,
        'bad-receipt': 1,
      },
    });
  });

  it('returns a snapshot, not a live view', () => {
    const v = validator();
    const before = v.counters();
    before.refused.malformed = 99;
    expectRefused(run(v, new Uint8Array([1])), 'malformed');
    assert.equal(v.counters().refused.malformed, 1);
    assert.equal(before.accepted, 0);
  });

  it('maps each reason to the gossipsub answer it gives', () => {
    assert.deepStrictEqual([...REJECT_REASONS].sort(), Object.keys(RESULT_FOR_REASON).sort());
    const ignored = REJECT_REASONS.filter((r) => RESULT_FOR_REASON[r] === 'ignore');
    assert.deepStrictEqual(ignored, ['replay', 'stale']);
  });
});

describe('AnnouncementValidator: robustness', () => {
  it('never throws on arbitrary or mutated data, and counts every call once (fuzz)', () => {
    const v = validator({ maxPublishers: 20 });
    const valid = fc
      .tuple(fc.constantFrom(A, B, 'p3'), fc.nat({ max: 50 }))
      .map(([id, seq]) => encodeAnnouncement(announcement(id, seq)));
    const data = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      valid,
      fc.tuple(valid, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([b, at, x]) => {
        const c = b.slice();
        c[at % c.length] = x;
        return c;
      }),
    );
    let calls = 0;
    fc.assert(
      fc.property(data, fc.constantFrom(A, B, 'p3'), fc.boolean(), (bytes, from, synced) => {
        calls++;
        const r = run(v, bytes, from, synced ? SYNCED : UNSYNCED);
        if (r.result === 'accept') assert.equal(r.announcement.nodeId, from);
        else assert.equal(r.result, RESULT_FOR_REASON[r.reason]);
      }),
      { numRuns: 2000 },
    );
    const c = v.counters();
    const total = c.accepted + Object.values(c.refused).reduce((s, n) => s + n, 0);
    assert.equal(total, calls);
    assert.ok(c.accepted > 0 && c.refused.malformed > 0 && c.refused.replay > 0);
  });

  it('refuses options that cannot work with TM_ERR_GOSSIP_CONFIG', () => {
    const bad: Partial<AnnouncementValidatorOptions>[] = [
      { receiptCheck: undefined },
      { maxAgeNs: -1 },
      { maxAgeNs: 1.5 },
      { maxFutureNs: Number.NaN },
      { maxPublishers: 0 },
      { maxPublishers: 2.5 },
      { maxMessageBytes: ANNOUNCEMENT_MAX_BYTES + 1 },
      { maxMessageBytes: 0 },
    ];
    for (const opts of bad) {
      assert.throws(
        () => new AnnouncementValidator({ receiptCheck, ...opts } as AnnouncementValidatorOptions),
        (e: unknown) => e instanceof TimemeshError && e.code === 'TM_ERR_GOSSIP_CONFIG',
        JSON.stringify(opts),
      );
    }
  });
});
