import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { TimemeshError } from '../../hlc/errors.ts';
import { HLC_MAX_LOGICAL, HLC_MAX_WALL_NS } from '../../hlc/hlc.ts';
import { encodeHlc } from '../../hlc/hlcCodec.ts';
import { UNBOUNDED_NS } from '../../hlc/timeTypes.ts';
import {
  ANCHOR_KINDS,
  SAMPLE_MISUSE_ERROR_CODE,
  SAMPLE_PEER_ID_MAX_BYTES,
  SAMPLE_PROTOCOL_ERROR_CODE,
  SAMPLE_REQUEST_MAX_BYTES,
  SAMPLE_RESPONSE_MAX_BYTES,
  SAMPLE_ROOT_DISTANCE_NS_MAX,
  SAMPLE_SIGNATURE_DOMAIN,
  SAMPLE_TIME_NS_MAX,
  SAMPLE_TIME_NS_MIN,
  SYNC_STATUSES,
  SampleProtocolError,
  decodeSampleRequest,
  decodeSampleResponse,
  encodeSampleRequest,
  openSampleResponse,
  sampleSigningBytes,
  signSampleResponse,
  verifyReceipt,
  verifySampleResponse,
  type SampleProtocolReason,
  type SampleResponse,
} from '../../mesh/sampleProtocol.ts';
import { SignatureVerifier, createSigner, domainSeparated, type Signer } from '../../mesh/signing.ts';
import { NodeCore } from '../../node/core/nodeCore.ts';
import type { ServedSample } from '../../node/core/types.ts';

// An independent msgpack codec: tests build and inspect wire messages with it, so the wire layout is
// checked against the spec, not against the module's own encoder.
const rawPackr = new Packr({ useRecords: false, variableMapSize: true });
const rawUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, int64AsType: 'bigint' });
const pack = (value: unknown): Uint8Array => new Uint8Array(rawPackr.pack(value));
const unpackMap = (bytes: Uint8Array): Map<string, unknown> =>
  rawUnpackr.unpack(bytes) as Map<string, unknown>;

const BASE_NS = 1_800_000_000_000_000_000n;
const WIRE_KEYS = ['v', 'n', 't2', 't3', 'e', 'l', 'rd', 'ak', 'st', 'ss', 'h', 'p', 'sig'];
/** Every key the signature covers (all but sig). */
const SIGNED_KEYS = WIRE_KEYS.filter((k) => k !== 'sig');

interface Identity {
  key: PrivateKey;
  signer: Signer;
}

async function identity(): Promise<Identity> {
  const key = await generateKeyPair('Ed25519');
  return { key, signer: createSigner(key, peerIdFromPrivateKey(key).toString()) };
}

function nonce(fill: number): Uint8Array {
  return new Uint8Array(16).fill(fill);
}

function served(peerId: string, over: Partial<ServedSample> = {}): ServedSample {
  return {
    t2PeerNs: BASE_NS,
    t3PeerNs: BASE_NS + 50_000n,
    earliestNs: BASE_NS + 50_000n - 120_000n,
    latestNs: BASE_NS + 50_000n + 130_000n,
    rootDistanceNs: 130_000,
    anchorKind: 'gps',
    stratum: 1,
    status: 'anchored',
    hlc: { wallNs: BASE_NS + 50_000n, logical: 3, nodeId: peerId },
    ...over,
  };
}

function i64(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, value, false);
  return out;
}

function u64(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value, false);
  return out;
}

/** A valid response's wire map with some keys replaced or removed, packed again. */
function craft(valid: Uint8Array, replace: Record<string, unknown> = {}, remove: string[] = []): Uint8Array {
  const map = unpackMap(valid);
  const out: Record<string, unknown> = {};
  for (const [k, v] of map) if (!remove.includes(k)) out[k] = k in replace ? replace[k] : v;
  for (const [k, v] of Object.entries(replace)) if (!map.has(k)) out[k] = v;
  return pack(out);
}

function expectError(
  result: { ok: true } | { ok: false; error: SampleProtocolError },
  reason: SampleProtocolReason,
  field: string | null = null,
): SampleProtocolError {
  assert.equal(result.ok, false, `expected ${reason}${field === null ? '' : ` (${field})`}, got ok`);
  const error = (result as { ok: false; error: SampleProtocolError }).error;
  assert.ok(error instanceof SampleProtocolError, 'a SampleProtocolError');
  assert.ok(error instanceof TimemeshError, 'a TimemeshError');
  assert.equal(error.code, SAMPLE_PROTOCOL_ERROR_CODE);
  assert.equal(error.reason, reason, error.message);
  assert.equal(error.field, field, error.message);
  assert.match(error.message, new RegExp(reason));
  if (field !== null) assert.ok(error.message.includes(`"${field}"`), error.message);
  return error;
}

function expectMisuse(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TimemeshError, `a TimemeshError, got ${String(e)}`);
    assert.equal(e.code, SAMPLE_MISUSE_ERROR_CODE);
    assert.match(e.message, pattern);
    return true;
  });
}

function decodeOk(bytes: Uint8Array): SampleResponse {
  const r = decodeSampleResponse(bytes);
  assertOk(r);
  return r.response;
}

/**
 * Fails with the error's message. (A bare assert.ok without a message makes Node re-read the source to
 * describe the expression, which under tsx's transpilation can point at the wrong code or spin.)
 */
function assertOk<T extends { ok: true } | { ok: false; error: { message: string } }>(
  r: T,
  what = 'expected success',
): asserts r is Extract<T, { ok: true }> {
  if (!r.ok) assert.fail(`${what}: ${(r as { error: { message: string } }).error.message}`);
}

/** The canonical body as the header specifies it, written out independently of the module. */
function expectedBody(s: ServedSample, n: Uint8Array, peerId: string): Uint8Array {
  const enc = new TextEncoder();
  const h = encodeHlc(s.hlc);
  const p = enc.encode(peerId);
  const parts: number[] = [1, ...n];
  for (const t of [s.t2PeerNs, s.t3PeerNs, s.earliestNs, s.latestNs]) parts.push(...i64(t));
  parts.push(...u64(BigInt(s.rootDistanceNs)));
  parts.push(s.anchorKind.length, ...enc.encode(s.anchorKind));
  parts.push(s.stratum);
  parts.push(s.status.length, ...enc.encode(s.status));
  parts.push(h.length >> 8, h.length & 0xff, ...h);
  parts.push(p.length, ...p);
  return Uint8Array.from(parts);
}

const i64Arb = fc.oneof(
  fc.bigInt({ min: SAMPLE_TIME_NS_MIN, max: SAMPLE_TIME_NS_MAX }),
  fc.constantFrom(SAMPLE_TIME_NS_MIN, SAMPLE_TIME_NS_MAX, -1n, 0n, 1n, BASE_NS),
);
const rdArb = fc.oneof(
  fc.nat(),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.double({ min: 2 ** 53, max: SAMPLE_ROOT_DISTANCE_NS_MAX, noNaN: true }).map(Math.floor),
  fc.constantFrom(0, UNBOUNDED_NS, SAMPLE_ROOT_DISTANCE_NS_MAX),
);

describe('sample protocol', () => {
  let a: Identity;
  let b: Identity;
  const verifier = new SignatureVerifier();

  before(async () => {
    a = await identity();
    b = await identity();
  });

  describe('request', () => {
    it('round-trips the nonce in a 24-byte msgpack map { v: 1, n }', () => {
      const n = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
      const bytes = encodeSampleRequest(n);
      assert.equal(bytes.length, 24);
      const raw = unpackMap(bytes);
      assert.deepEqual([...raw.keys()], ['v', 'n']);
      assert.equal(raw.get('v'), 1);
      const r = decodeSampleRequest(bytes);
      assertOk(r);
      assert.deepEqual(r.nonce, n);
      assert.equal(Object.getPrototypeOf(r.nonce), Uint8Array.prototype);
    });

    it('refuses to encode a nonce that is not 16 bytes', () => {
      for (const bad of [new Uint8Array(15), new Uint8Array(17), new Uint8Array(0)]) {
        expectMisuse(() => encodeSampleRequest(bad), /16 bytes/);
      }
      expectMisuse(() => encodeSampleRequest('0123456789abcdef' as unknown as Uint8Array), /16 bytes/);
    });

    it('rejects every malformed request with its reason', () => {
      const valid = encodeSampleRequest(nonce(1));
      expectError(decodeSampleRequest(undefined as unknown as Uint8Array), 'not-bytes');
      expectError(decodeSampleRequest('abc' as unknown as Uint8Array), 'not-bytes');
      expectError(decodeSampleRequest(new Uint8Array(SAMPLE_REQUEST_MAX_BYTES + 1)), 'too-large');
      expectError(decodeSampleRequest(new Uint8Array(0)), 'not-msgpack');
      expectError(decodeSampleRequest(valid.subarray(0, valid.length - 1)), 'not-msgpack');
      expectError(decodeSampleRequest(Uint8Array.from([...valid, 0])), 'not-msgpack');
      expectError(decodeSampleRequest(pack([1, nonce(1)])), 'not-a-map');
      expectError(decodeSampleRequest(pack(7)), 'not-a-map');
      // A map header that declares three entries, two of them for "v".
      expectError(
        decodeSampleRequest(Uint8Array.from([0x83, ...valid.subarray(1), ...pack('v'), 1])),
        'duplicate-field',
      );
      expectError(decodeSampleRequest(pack({ v: 2, n: nonce(1) })), 'unknown-version', 'v');
      expectError(decodeSampleRequest(pack({ v: '1', n: nonce(1) })), 'unknown-version', 'v');
      expectError(decodeSampleRequest(pack({ n: nonce(1) })), 'missing-field', 'v');
      expectError(decodeSampleRequest(pack({ v: 1 })), 'missing-field', 'n');
      expectError(decodeSampleRequest(pack({ v: 1, n: nonce(1), x: 0 })), 'unknown-field', 'x');
      expectError(
        decodeSampleRequest(
          pack(
            new Map<unknown, unknown>([
              ['v', 1],
              [3, 0],
            ]),
          ),
        ),
        'unknown-field',
      );
      expectError(decodeSampleRequest(pack({ v: 1, n: new Uint8Array(15) })), 'bad-field', 'n');
      expectError(decodeSampleRequest(pack({ v: 1, n: new Uint8Array(17) })), 'bad-field', 'n');
      expectError(decodeSampleRequest(pack({ v: 1, n: 'x'.repeat(16) })), 'bad-field', 'n');
    });

    it('accepts v in any msgpack integer format', () => {
      const r = decodeSampleRequest(pack({ v: 1n, n: nonce(4) })); // msgpackr packs bigints as int64
      assertOk(r);
      assert.deepEqual(r.nonce, nonce(4));
    });
  });

  describe('response', () => {
    it('round-trips with a real Ed25519 key and verifies by nonce, peer id and signature', () => {
      const s = served(a.signer.peerId);
      const bytes = signSampleResponse(s, nonce(7), a.signer);
      const r = decodeOk(bytes);
      const { nonce: n, peerId, signature, signedBytes, ...fields } = r;
      assert.deepEqual(fields, s);
      assert.deepEqual(n, nonce(7));
      assert.equal(peerId, a.signer.peerId);
      assert.equal(signature.length, 64);
      assert.deepEqual(signedBytes, sampleSigningBytes(s, nonce(7), a.signer.peerId));
      assert.deepEqual(verifySampleResponse(r, nonce(7), a.signer.peerId, verifier), { ok: true });
      assertOk(openSampleResponse(bytes, nonce(7), a.signer.peerId, verifier));
      const receipt = verifyReceipt(bytes, verifier);
      assertOk(receipt);
      assert.deepEqual(receipt.response, r);
    });

    it('signs exactly domainSeparated("timemesh/sample/1", body) with the documented body layout', async () => {
      const s = served(a.signer.peerId, { earliestNs: -5n, rootDistanceNs: 2 ** 62 });
      const signed = sampleSigningBytes(s, nonce(9), a.signer.peerId);
      assert.deepEqual(
        signed,
        domainSeparated(SAMPLE_SIGNATURE_DOMAIN, expectedBody(s, nonce(9), a.signer.peerId)),
      );
      // libp2p's own Ed25519 implementation agrees that the signature covers those bytes.
      const r = decodeOk(signSampleResponse(s, nonce(9), a.signer));
      assert.equal(await a.key.publicKey.verify(signed, r.signature), true);
    });

    it('puts the documented keys and types on the wire', () => {
      const s = served(a.signer.peerId, { t2PeerNs: -1n });
      const raw = unpackMap(signSampleResponse(s, nonce(2), a.signer));
      assert.deepEqual([...raw.keys()], WIRE_KEYS);
      assert.equal(raw.get('v'), 1);
      for (const k of ['t2', 't3', 'e', 'l', 'rd']) {
        assert.ok(raw.get(k) instanceof Uint8Array && (raw.get(k) as Uint8Array).length === 8, k);
      }
      assert.deepEqual(new Uint8Array(raw.get('t2') as Uint8Array), i64(-1n));
      assert.deepEqual(new Uint8Array(raw.get('rd') as Uint8Array), u64(130_000n));
      assert.deepEqual(new Uint8Array(raw.get('h') as Uint8Array), encodeHlc(s.hlc));
      assert.equal(raw.get('ak'), 'gps');
      assert.equal(raw.get('st'), 1);
      assert.equal(raw.get('ss'), 'anchored');
      assert.equal(raw.get('p'), a.signer.peerId);
      assert.equal((raw.get('sig') as Uint8Array).length, 64);
    });

    it('carries the full i64 range of times, root distances up to 2^63, every enum and stratum exactly', () => {
      fc.assert(
        fc.property(
          i64Arb,
          i64Arb,
          i64Arb,
          i64Arb,
          rdArb,
          fc.constantFrom(...ANCHOR_KINDS),
          fc.integer({ min: 0, max: 16 }),
          fc.constantFrom(...SYNC_STATUSES),
          fc.bigInt({ min: 0n, max: HLC_MAX_WALL_NS }),
          fc.integer({ min: 0, max: HLC_MAX_LOGICAL }),
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
          (t2, t3, e, l, rd, ak, st, ss, wallNs, logical, n) => {
            const s: ServedSample = {
              t2PeerNs: t2,
              t3PeerNs: t3,
              earliestNs: e,
              latestNs: l,
              rootDistanceNs: rd,
              anchorKind: ak,
              stratum: st,
              status: ss,
              hlc: { wallNs, logical, nodeId: a.signer.peerId },
            };
            const bytes = signSampleResponse(s, n, a.signer);
            assert.ok(bytes.length <= SAMPLE_RESPONSE_MAX_BYTES, `${bytes.length} bytes`);
            const r = verifyReceipt(bytes, verifier);
            assertOk(r);
            const { nonce: got, peerId: _p, signature: _s, signedBytes: _b, ...fields } = r.response;
            assert.deepEqual(fields, s);
            assert.deepEqual(got, n);
          },
        ),
        { numRuns: 300 },
      );
    });

    it('carries what an unsynchronized NodeCore really serves (earliest before 1970, rd beyond 2^53)', () => {
      const core = new NodeCore({ nodeId: a.signer.peerId }, { rng: { next: () => 0.5 } });
      const s = core.serveSample(BASE_NS, BASE_NS + 1000n);
      assert.ok(s !== null, 'the core serves a sample');
      assert.equal(s.status, 'unsynchronized');
      assert.ok(s.earliestNs < 0n, 'the core serves a negative earliestNs while unsynchronized');
      assert.ok(s.rootDistanceNs > Number.MAX_SAFE_INTEGER, 'and a root distance beyond 2^53');
      const r = openSampleResponse(
        signSampleResponse(s, nonce(3), a.signer),
        nonce(3),
        a.signer.peerId,
        verifier,
      );
      assertOk(r);
      assert.equal(r.response.earliestNs, s.earliestNs);
      assert.equal(r.response.latestNs, s.latestNs);
      assert.equal(r.response.rootDistanceNs, s.rootDistanceNs);
    });

    it('does not judge relations between times (the core does): T3 < T2 and an inverted interval decode', () => {
      const s = served(a.signer.peerId, {
        t3PeerNs: BASE_NS - 1n,
        earliestNs: BASE_NS + 10n,
        latestNs: BASE_NS,
      });
      const r = verifyReceipt(signSampleResponse(s, nonce(1), a.signer), verifier);
      assertOk(r);
      assert.equal(r.response.t3PeerNs, BASE_NS - 1n);
    });

    it('returns fresh bytes: decoded fields do not alias the input, encodings do not alias each other', () => {
      const first = signSampleResponse(served(a.signer.peerId), nonce(1), a.signer);
      const copy = first.slice();
      signSampleResponse(served(a.signer.peerId, { stratum: 9 }), nonce(2), a.signer);
      assert.deepEqual(first, copy, 'a later encoding must not overwrite an earlier one');
      assert.equal(first.byteOffset, 0);
      assert.equal(first.buffer.byteLength, first.length, 'the result must not pin a shared buffer');
      const r = decodeOk(first);
      first.fill(0);
      assert.deepEqual(r.nonce, nonce(1));
      assert.equal(
        r.signature.some((x) => x !== 0),
        true,
      );
      assertOk(verifyReceipt(copy, verifier));
    });

    it('decodes a response that sits inside a larger buffer (byteOffset ≠ 0)', () => {
      const bytes = signSampleResponse(served(a.signer.peerId), nonce(5), a.signer);
      const big = new Uint8Array(bytes.length + 10);
      big.set(bytes, 7);
      const r = verifyReceipt(big.subarray(7, 7 + bytes.length), verifier);
      assertOk(r);
      assert.deepEqual(r.response.nonce, nonce(5));
    });

    it('accepts v and st in any msgpack integer format, with the same signature', () => {
      const valid = signSampleResponse(served(a.signer.peerId), nonce(1), a.signer);
      const r = verifyReceipt(craft(valid, { v: 1n, st: 1n }), verifier);
      assertOk(r);
      assert.equal(r.response.stratum, 1);
    });
  });

  describe('rejections', () => {
    let valid: Uint8Array;
    before(() => {
      valid = signSampleResponse(served(a.signer.peerId), nonce(1), a.signer);
    });

    it('refuses what is not one msgpack map within the size limit', () => {
      expectError(decodeSampleResponse(null as unknown as Uint8Array), 'not-bytes');
      expectError(decodeSampleResponse([1, 2] as unknown as Uint8Array), 'not-bytes');
      expectError(decodeSampleResponse(new Uint8Array(SAMPLE_RESPONSE_MAX_BYTES + 1)), 'too-large');
      expectError(decodeSampleResponse(Uint8Array.from([...valid, ...new Uint8Array(600)])), 'too-large');
      expectError(decodeSampleResponse(new Uint8Array(0)), 'not-msgpack');
      expectError(decodeSampleResponse(valid.subarray(0, valid.length - 1)), 'not-msgpack');
      expectError(decodeSampleResponse(Uint8Array.from([...valid, 0xc0])), 'not-msgpack');
      expectError(decodeSampleResponse(Uint8Array.from([0xc1])), 'not-a-map');
      expectError(decodeSampleResponse(pack([...unpackMap(valid).values()])), 'not-a-map');
      expectError(decodeSampleResponse(pack('hello')), 'not-a-map');
      // A msgpack timestamp extension decodes to a Date, not a map.
      expectError(decodeSampleResponse(Uint8Array.from([0xd6, 0xff, 0, 0, 0, 1])), 'not-a-map');
      const dup = Uint8Array.from([0x8e, ...valid.subarray(1), ...pack('st'), 2]);
      expectError(decodeSampleResponse(dup), 'duplicate-field');
    });

    it('checks the version first, then unknown and missing keys', () => {
      expectError(decodeSampleResponse(craft(valid, { v: 2 })), 'unknown-version', 'v');
      expectError(decodeSampleResponse(craft(valid, { v: 2, zz: 1 }, ['n'])), 'unknown-version', 'v');
      expectError(decodeSampleResponse(craft(valid, { v: null })), 'unknown-version', 'v');
      expectError(decodeSampleResponse(craft(valid, {}, ['v'])), 'missing-field', 'v');
      expectError(decodeSampleResponse(craft(valid, { extra: 1 })), 'unknown-field', 'extra');
      const withProto = new Map<unknown, unknown>([...unpackMap(valid), ['__proto__', 1]]);
      expectError(decodeSampleResponse(pack(withProto)), 'unknown-field', '__proto__');
      const withNumber = new Map<unknown, unknown>([...unpackMap(valid), [7, 1]]);
      expectError(decodeSampleResponse(pack(withNumber)), 'unknown-field');
      for (const k of WIRE_KEYS.filter((k) => k !== 'v')) {
        expectError(decodeSampleResponse(craft(valid, {}, [k])), 'missing-field', k);
      }
    });

    it('refuses each field with a wrong type, length or range, naming the field', () => {
      const cases: [string, unknown][] = [
        ['n', new Uint8Array(15)],
        ['n', new Uint8Array(17)],
        ['n', 'x'],
        ['t2', 5],
        ['t2', 5n],
        ['t3', new Uint8Array(7)],
        ['e', new Uint8Array(9)],
        ['l', null],
        ['rd', 100],
        ['rd', u64(2n ** 63n + 2048n)],
        ['rd', u64(2n ** 53n + 1n)],
        ['rd', new Uint8Array(4)],
        ['ak', 'atomic'],
        ['ak', 'GPS'],
        ['ak', 3],
        ['st', 17],
        ['st', -1],
        ['st', 1.5],
        ['st', '1'],
        ['ss', 'synced'],
        ['ss', null],
        ['h', 'not bytes'],
        ['p', ''],
        ['p', 7],
        ['p', 'x'.repeat(SAMPLE_PEER_ID_MAX_BYTES + 1)],
        ['p', 'é'.repeat(SAMPLE_PEER_ID_MAX_BYTES / 2 + 1)],
        ['sig', new Uint8Array(63)],
        ['sig', new Uint8Array(65)],
        ['sig', 'x'.repeat(64)],
      ];
      for (const [field, value] of cases) {
        expectError(decodeSampleResponse(craft(valid, { [field]: value })), 'bad-field', field);
      }
    });

    it('refuses an HLC that does not decode or is not the responder’s', () => {
      const e = expectError(decodeSampleResponse(craft(valid, { h: new Uint8Array(5) })), 'bad-hlc', 'h');
      assert.match(e.message, /too-short/);
      const trailing = Uint8Array.from([...encodeHlc(served(a.signer.peerId).hlc), 0]);
      expectError(decodeSampleResponse(craft(valid, { h: trailing })), 'bad-hlc', 'h');
      const other = encodeHlc({ wallNs: 1n, logical: 0, nodeId: b.signer.peerId });
      expectError(decodeSampleResponse(craft(valid, { h: other })), 'hlc-node-mismatch', 'h');
      expectError(decodeSampleResponse(craft(valid, { p: b.signer.peerId })), 'hlc-node-mismatch', 'h');
    });

    it('reports nonce-mismatch, peer-mismatch and bad-signature with a top-level reason', () => {
      const r = decodeOk(valid);
      const n = verifySampleResponse(r, nonce(2), a.signer.peerId, verifier);
      expectError(n, 'nonce-mismatch', 'n');
      assert.equal(n.ok ? null : n.reason, 'nonce-mismatch');
      const p = verifySampleResponse(r, nonce(1), b.signer.peerId, verifier);
      expectError(p, 'peer-mismatch', 'p');
      assert.equal(p.ok ? null : p.reason, 'peer-mismatch');
      const forged = decodeOk(craft(valid, { sig: new Uint8Array(64) }));
      const s = verifySampleResponse(forged, nonce(1), a.signer.peerId, verifier);
      expectError(s, 'bad-signature', 'sig');
      assert.equal(s.ok ? null : s.reason, 'bad-signature');
    });

    it('turns a throwing verifier into bad-signature, and a non-Ed25519 peer id fails verification', () => {
      const throwing = {
        verify: (): boolean => {
          throw new Error('boom');
        },
      };
      expectError(verifyReceipt(valid, throwing), 'bad-signature', 'sig');
      const s = served('not-a-peer-id');
      const signer: Signer = { peerId: 'not-a-peer-id', sign: (m) => a.signer.sign(m) };
      expectError(verifyReceipt(signSampleResponse(s, nonce(1), signer), verifier), 'bad-signature', 'sig');
    });
  });

  describe('signatures and receipts', () => {
    let valid: Uint8Array;
    before(() => {
      valid = signSampleResponse(served(a.signer.peerId), nonce(1), a.signer);
    });

    /** A different but well-formed value for each signed key. */
    function tamperings(key: string): fc.Arbitrary<unknown> {
      const r = decodeOk(valid);
      switch (key) {
        case 'v':
          return fc.constant(1); // the only valid version: tampering it is impossible, checked below
        case 'n':
          return fc
            .uint8Array({ minLength: 16, maxLength: 16 })
            .filter((n) => !n.every((x, i) => x === r.nonce[i]));
        case 't2':
        case 't3':
        case 'e':
        case 'l': {
          const current = { t2: r.t2PeerNs, t3: r.t3PeerNs, e: r.earliestNs, l: r.latestNs }[key];
          return fc
            .oneof(
              i64Arb,
              fc.integer({ min: -3, max: 3 }).map((d) => current + BigInt(d)),
            )
            .filter((t) => t !== current)
            .map(i64);
        }
        case 'rd':
          return rdArb.filter((x) => x !== r.rootDistanceNs).map((x) => u64(BigInt(x)));
        case 'ak':
          return fc.constantFrom(...ANCHOR_KINDS.filter((k) => k !== r.anchorKind));
        case 'st':
          return fc.integer({ min: 0, max: 16 }).filter((x) => x !== r.stratum);
        case 'ss':
          return fc.constantFrom(...SYNC_STATUSES.filter((k) => k !== r.status));
        case 'h':
          return fc
            .tuple(fc.bigInt({ min: 0n, max: HLC_MAX_WALL_NS }), fc.integer({ min: 0, max: HLC_MAX_LOGICAL }))
            .filter(([w, l]) => w !== r.hlc.wallNs || l !== r.hlc.logical)
            .map(([wallNs, logical]) => encodeHlc({ wallNs, logical, nodeId: r.peerId }));
        case 'p':
          return fc.constant(b.signer.peerId);
        default:
          throw new Error(`no tampering for ${key}`);
      }
    }

    it('fails verification when any single signed field is changed', () => {
      const original = decodeOk(valid);
      const keyArb = fc.constantFrom(...SIGNED_KEYS.filter((k) => k !== 'v'));
      fc.assert(
        fc.property(
          keyArb.chain((key) => fc.tuple(fc.constant(key), tamperings(key))),
          ([key, value]) => {
            const replace: Record<string, unknown> = { [key]: value };
            // Changing p alone is caught by the HLC check; change the HLC's node id with it, as a forger would.
            if (key === 'p') replace.h = encodeHlc({ ...original.hlc, nodeId: b.signer.peerId });
            const tampered = craft(valid, replace);
            const decoded = decodeSampleResponse(tampered);
            assertOk(decoded);
            assert.notDeepEqual(decoded.response.signedBytes, original.signedBytes);
            expectError(verifyReceipt(tampered, verifier), 'bad-signature', 'sig');
            const asRequested = verifySampleResponse(
              decoded.response,
              decoded.response.nonce,
              decoded.response.peerId,
              verifier,
            );
            expectError(asRequested, 'bad-signature', 'sig');
          },
        ),
        { numRuns: 300 },
      );
      // v cannot be tampered with and still decode.
      expectError(decodeSampleResponse(craft(valid, { v: 2 })), 'unknown-version', 'v');
    });

    it('a response signed for nonce A does not verify for nonce B, even relabelled', () => {
      const forA = decodeOk(signSampleResponse(served(a.signer.peerId), nonce(0xa), a.signer));
      expectError(verifySampleResponse(forA, nonce(0xb), a.signer.peerId, verifier), 'nonce-mismatch', 'n');
      const relabelled = craft(signSampleResponse(served(a.signer.peerId), nonce(0xa), a.signer), {
        n: nonce(0xb),
      });
      const r = openSampleResponse(relabelled, nonce(0xb), a.signer.peerId, verifier);
      expectError(r, 'bad-signature', 'sig');
    });

    it('a receipt from peer A does not verify as peer B', () => {
      const bytes = signSampleResponse(served(a.signer.peerId), nonce(1), a.signer);
      expectError(openSampleResponse(bytes, nonce(1), b.signer.peerId, verifier), 'peer-mismatch', 'p');
      const hlc = { ...served(a.signer.peerId).hlc, nodeId: b.signer.peerId };
      const asB = craft(bytes, { p: b.signer.peerId, h: encodeHlc(hlc) });
      expectError(openSampleResponse(asB, nonce(1), b.signer.peerId, verifier), 'bad-signature', 'sig');
      expectError(verifyReceipt(asB, verifier), 'bad-signature', 'sig');
      // And B's own signature over the same claim verifies only as B.
      const byB = signSampleResponse(served(b.signer.peerId), nonce(1), b.signer);
      assertOk(verifyReceipt(byB, verifier));
      expectError(openSampleResponse(byB, nonce(1), a.signer.peerId, verifier), 'peer-mismatch', 'p');
    });

    it('verifies receipts with a fresh verifier and nothing but the bytes', () => {
      const bytes = signSampleResponse(served(b.signer.peerId), nonce(8), b.signer);
      const r = verifyReceipt(bytes.slice(), new SignatureVerifier());
      assertOk(r);
      assert.equal(r.response.peerId, b.signer.peerId);
    });
  });

  describe('misuse when signing', () => {
    it('throws TM_ERR_SAMPLE_MISUSE for values that cannot go on the wire', () => {
      const id = a.signer.peerId;
      const sign =
        (over: Partial<ServedSample>, n = nonce(1), signer = a.signer) =>
        () =>
          signSampleResponse({ ...served(id), ...over }, n, signer);
      expectMisuse(sign({}, new Uint8Array(15)), /nonce must be 16 bytes/);
      expectMisuse(sign({ t2PeerNs: SAMPLE_TIME_NS_MAX + 1n }), /t2PeerNs/);
      expectMisuse(sign({ t3PeerNs: SAMPLE_TIME_NS_MIN - 1n }), /t3PeerNs/);
      expectMisuse(sign({ earliestNs: 5 as unknown as bigint }), /earliestNs/);
      expectMisuse(sign({ latestNs: 2n ** 64n }), /latestNs/);
      expectMisuse(sign({ rootDistanceNs: -1 }), /rootDistanceNs/);
      expectMisuse(sign({ rootDistanceNs: 0.5 }), /rootDistanceNs/);
      expectMisuse(sign({ rootDistanceNs: Number.NaN }), /rootDistanceNs/);
      expectMisuse(sign({ rootDistanceNs: 2 ** 64 }), /rootDistanceNs/);
      expectMisuse(sign({ anchorKind: 'atomic' as never }), /anchorKind/);
      expectMisuse(sign({ stratum: 17 }), /stratum/);
      expectMisuse(sign({ status: 'ok' as never }), /status/);
      expectMisuse(
        sign({ hlc: { wallNs: 1n, logical: 0, nodeId: b.signer.peerId } }),
        /not the signer's peer id/,
      );
      const long = 'x'.repeat(SAMPLE_PEER_ID_MAX_BYTES + 1);
      const longSigner: Signer = { peerId: long, sign: () => new Uint8Array(64) };
      expectMisuse(
        sign({ hlc: { wallNs: 1n, logical: 0, nodeId: long } }, nonce(1), longSigner),
        /longer than/,
      );
      const shortSig: Signer = { peerId: id, sign: () => new Uint8Array(63) };
      expectMisuse(sign({}, nonce(1), shortSig), /64-byte signature/);
      assert.throws(
        sign({ hlc: { wallNs: -1n, logical: 0, nodeId: id } }),
        (e: unknown) => e instanceof TimemeshError && e.code === 'TM_ERR_HLC_MISUSE',
      );
    });
  });

  describe('size limits', () => {
    it('the largest valid response fits in SAMPLE_RESPONSE_MAX_BYTES, and a real one in about 300 bytes', () => {
      const longId = 'é'.repeat(SAMPLE_PEER_ID_MAX_BYTES / 2); // 128 UTF-8 bytes in 64 characters
      const signer: Signer = { peerId: longId, sign: () => new Uint8Array(64).fill(0xff) };
      const longest = (xs: readonly string[]): string => xs.reduce((m, x) => (x.length > m.length ? x : m));
      const s: ServedSample = {
        t2PeerNs: SAMPLE_TIME_NS_MIN,
        t3PeerNs: SAMPLE_TIME_NS_MAX,
        earliestNs: SAMPLE_TIME_NS_MIN,
        latestNs: SAMPLE_TIME_NS_MAX,
        rootDistanceNs: SAMPLE_ROOT_DISTANCE_NS_MAX,
        anchorKind: longest(ANCHOR_KINDS) as ServedSample['anchorKind'],
        stratum: 16,
        status: longest(SYNC_STATUSES) as ServedSample['status'],
        hlc: { wallNs: HLC_MAX_WALL_NS, logical: HLC_MAX_LOGICAL, nodeId: longId },
      };
      const bytes = signSampleResponse(s, nonce(0xff), signer);
      assert.ok(bytes.length <= SAMPLE_RESPONSE_MAX_BYTES, `${bytes.length} bytes`);
      assertOk(decodeSampleResponse(bytes));
      const real = signSampleResponse(served(a.signer.peerId), nonce(1), a.signer);
      assert.ok(real.length >= 250 && real.length <= 320, `${real.length} bytes`);
      console.log(
        `# sample response: ${real.length} bytes with an Ed25519 peer id, largest valid ${bytes.length}`,
      );
    });

    it('a valid request fits in SAMPLE_REQUEST_MAX_BYTES, one byte more is refused unread', () => {
      assert.ok(encodeSampleRequest(nonce(0xff)).length <= SAMPLE_REQUEST_MAX_BYTES, 'request size');
      const padded = new Uint8Array(SAMPLE_REQUEST_MAX_BYTES + 1);
      padded.set(encodeSampleRequest(nonce(1)));
      expectError(decodeSampleRequest(padded), 'too-large');
      expectError(decodeSampleRequest(padded.subarray(0, SAMPLE_REQUEST_MAX_BYTES)), 'not-msgpack');
    });
  });

  describe('fuzz: the decoders never throw', () => {
    const isResult = (r: { ok: boolean; error?: unknown }): void => {
      assert.equal(typeof r.ok, 'boolean');
      if (!r.ok)
        assert.ok(r.error instanceof SampleProtocolError, `not a SampleProtocolError: ${String(r.error)}`);
    };

    it('on arbitrary bytes', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
          isResult(decodeSampleRequest(bytes));
          isResult(decodeSampleResponse(bytes));
          isResult(verifyReceipt(bytes, verifier));
        }),
        { numRuns: 3000 },
      );
    });

    it('on arbitrary msgpack values and maps with the protocol’s keys', () => {
      const value = fc.oneof(
        fc.anything({ withBigInt: true, withTypedArray: true, withMap: true, withSet: true, withDate: true }),
        fc.uint8Array({ maxLength: 20 }),
        fc.constantFrom(1, 16, 'gps', 'anchored', ''),
      );
      const wireMap = fc.dictionary(fc.constantFrom(...WIRE_KEYS, 'x'), value, { maxKeys: 14 });
      fc.assert(
        fc.property(fc.oneof(value, wireMap), (v) => {
          let bytes: Uint8Array;
          try {
            bytes = pack(v);
          } catch {
            return; // not every JS value packs
          }
          isResult(decodeSampleRequest(bytes));
          isResult(decodeSampleResponse(bytes));
        }),
        { numRuns: 2000 },
      );
    });

    it('on mutated valid messages, and no mutation yields a different verified claim', () => {
      const validResponse = signSampleResponse(served(a.signer.peerId), nonce(1), a.signer);
      const original = decodeOk(validResponse);
      const validRequest = encodeSampleRequest(nonce(1));
      const mutation = fc.oneof(
        fc.record({ kind: fc.constant('flip'), at: fc.nat(), bit: fc.nat(7) }),
        fc.record({ kind: fc.constant('set'), at: fc.nat(), byte: fc.nat(255) }),
        fc.record({ kind: fc.constant('cut'), at: fc.nat() }),
        fc.record({ kind: fc.constant('insert'), at: fc.nat(), byte: fc.nat(255) }),
        fc.record({ kind: fc.constant('delete'), at: fc.nat() }),
      );
      const apply = (bytes: Uint8Array, ms: { kind: string; at: number; bit?: number; byte?: number }[]) => {
        let out = Array.from(bytes);
        for (const m of ms) {
          const at = out.length === 0 ? 0 : m.at % out.length;
          if (m.kind === 'flip' && out.length > 0) out[at] = out[at]! ^ (1 << m.bit!);
          else if (m.kind === 'set' && out.length > 0) out[at] = m.byte!;
          else if (m.kind === 'cut') out = out.slice(0, at);
          else if (m.kind === 'insert') out.splice(at, 0, m.byte!);
          else if (m.kind === 'delete') out.splice(at, 1);
        }
        return Uint8Array.from(out);
      };
      fc.assert(
        fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
          isResult(decodeSampleRequest(apply(validRequest, ms)));
          const mutated = apply(validResponse, ms);
          isResult(decodeSampleResponse(mutated));
          const r = verifyReceipt(mutated, verifier);
          isResult(r);
          // The only mutations that can pass are those that give back the original bytes (a byte set to
          // its own value): anything else changes a signed field or breaks the framing.
          if (r.ok) assert.deepEqual(r.response, original);
        }),
        { numRuns: 3000 },
      );
    });
  });
});
