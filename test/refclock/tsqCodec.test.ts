import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import {
  CLOCK_CLASS,
  SIGNATURE_ALGORITHM,
  SOURCE_TYPE,
  TLV,
  TSQ_ERROR,
  TsqEncodeError,
  TsqMalformedError,
  clockQualityFromServed,
  decodeTsqRequest,
  decodeTsqResponse,
  encodeTsqError,
  encodeTsqRequest,
  encodeTsqResponse,
  paddingTlvs,
  parseTlvs,
} from '../../refclock/tsqCodec.ts';
import type { TsqResponse, TsqTimeResponse } from '../../refclock/tsqCodec.ts';
import {
  ed25519KeyId,
  ed25519RawPublicKey,
  ed25519Signer,
  ed25519Verifier,
  hmacKeyId,
  hmacSigner,
  hmacVerifier,
  TsqKeyError,
} from '../../refclock/tsqKeys.ts';
import type { ServedTime } from '../../node/core/types.ts';

const nonce = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const served = (over: Partial<ServedTime> = {}): ServedTime => ({
  timeNs: 1_800_000_000_000_000_000n,
  earliestNs: 1_799_999_999_999_000_000n,
  latestNs: 1_800_000_000_001_000_000n,
  rootDistanceNs: 1_000_000,
  status: 'anchored',
  stratum: 2,
  anchorKind: 'gps',
  lastUpdateLocalNs: null,
  ...over,
});

function asTime(r: TsqResponse): TsqTimeResponse {
  assert.equal(r.kind, 'time');
  return r as TsqTimeResponse;
}

function malformed(result: { ok: boolean; error?: TsqMalformedError }): TsqMalformedError {
  assert.equal(result.ok, false, 'expected a malformed message');
  assert.ok(result.error instanceof TsqMalformedError);
  return result.error;
}

describe('tsqCodec: requests', () => {
  it('round-trips a request with every request TLV', () => {
    const bytes = encodeTsqRequest({
      nonce,
      metadataQuery: true,
      precisionMode: true,
      signatureRequest: true,
      metadata: [
        ['zeta', '1'],
        ['alpha', 'ä'],
      ],
    });
    // Nonce first, then the flags in table order.
    assert.deepEqual([...bytes.subarray(0, 2)], [TLV.NONCE, 16]);
    const d = decodeTsqRequest(bytes);
    assert.ok(d.ok);
    assert.deepEqual(d.message.nonce, nonce);
    assert.equal(d.message.metadataQuery, true);
    assert.equal(d.message.precisionMode, true);
    assert.equal(d.message.signatureRequest, true);
    // Written sorted by key.
    assert.deepEqual(d.message.metadata, [
      ['alpha', 'ä'],
      ['zeta', '1'],
    ]);
    assert.equal(d.message.byteLength, bytes.length);
  });

  it('pads a request to the asked length, a 1-byte shortfall to one more', () => {
    const base = encodeTsqRequest({ nonce, precisionMode: true }).length; // 20
    assert.equal(encodeTsqRequest({ nonce, precisionMode: true, padToBytes: 256 }).length, 256);
    assert.equal(encodeTsqRequest({ nonce, precisionMode: true, padToBytes: 600 }).length, 600);
    assert.equal(encodeTsqRequest({ nonce, precisionMode: true, padToBytes: base + 1 }).length, base + 2);
    assert.equal(encodeTsqRequest({ nonce, precisionMode: true, padToBytes: base - 5 }).length, base);
    const d = decodeTsqRequest(encodeTsqRequest({ nonce, precisionMode: true, padToBytes: 600 }));
    assert.ok(d.ok);
  });

  it('ignores unknown TLVs, in order', () => {
    const bytes = Uint8Array.from([17, 3, 9, 9, 9, TLV.NONCE, 16, ...nonce, 200, 0]);
    const d = decodeTsqRequest(bytes);
    assert.ok(d.ok);
    assert.deepEqual(d.message.ignoredTypes, [17, 200]);
  });

  it('names the TLV and the offset of every malformed request', () => {
    const n = [TLV.NONCE, 16, ...nonce];
    const cases: Array<[number[], number | null, number, RegExp, number?]> = [
      [[], null, 0, /empty/],
      [[TLV.NONCE], TLV.NONCE, 0, /no Length/],
      [[TLV.NONCE, 16, 1, 2], TLV.NONCE, 0, /Length 16 but 2 bytes left/],
      [[TLV.NONCE, 15, ...nonce.subarray(1)], TLV.NONCE, 0, /Length must be 16/],
      [[...n, TLV.PRECISION_MODE, 1, 0], TLV.PRECISION_MODE, 18, /empty/],
      [[...n, ...n], TLV.NONCE, 18, /more than once/],
      [[TLV.PRECISION_MODE, 0], TLV.NONCE, 0, /missing/],
      [[...n, TLV.PADDING, 2, 0, 0, TLV.METADATA_QUERY, 0], TLV.METADATA_QUERY, 22, /follow Padding/],
      [[...n, TLV.PADDING, 2, 0, 1], TLV.PADDING, 18, /zero bytes/],
      [[...n, TLV.METADATA, 3, 5, 0x61, 0x62], TLV.METADATA, 18, /key runs past/],
      [[...n, TLV.METADATA, 4, 1, 0xff, 1, 0x61], TLV.METADATA, 18, /not UTF-8/],
      [[...n, TLV.RECEIVE_TIMESTAMP, 8, 0, 0, 0, 0, 0, 0, 0, 0], TLV.RECEIVE_TIMESTAMP, 18, /not allowed/, 2],
      [[...n, TLV.SIGNATURE_BLOCK, 7, 1, 0, 0, 0, 0, 0, 0], TLV.SIGNATURE_BLOCK, 18, /not allowed/, 2],
    ];
    for (const [bytes, type, offset, why, code] of cases) {
      const e = malformed(decodeTsqRequest(Uint8Array.from(bytes)));
      assert.equal(e.tlvType, type, `${bytes.join(',')}: type`);
      assert.equal(e.offset, offset, `${bytes.join(',')}: offset`);
      assert.match(e.message, why);
      assert.equal(e.tsqErrorCode, code ?? TSQ_ERROR.MALFORMED_REQUEST);
      assert.equal(e.code, 'TM_ERR_TSQ_MALFORMED');
    }
  });

  it('refuses a request over 1024 bytes', () => {
    const e = malformed(decodeTsqRequest(new Uint8Array(1025)));
    assert.match(e.message, /longer than 1024/);
  });

  it('refuses to encode what the format cannot carry', () => {
    assert.throws(() => encodeTsqRequest({ nonce: new Uint8Array(8) }), TsqEncodeError);
    assert.throws(() => encodeTsqRequest({ nonce, metadata: [['k', 'v'.repeat(300)]] }), TsqEncodeError);
    assert.throws(
      () =>
        encodeTsqRequest({
          nonce,
          metadata: [
            ['k', '1'],
            ['k', '2'],
          ],
        }),
      TsqEncodeError,
    );
    assert.throws(() => encodeTsqRequest({ nonce, padToBytes: 2000 }), TsqEncodeError);
    assert.throws(() => paddingTlvs(1), TsqEncodeError);
  });

  it('pads with Padding TLVs of exactly the asked total, never leaving 1 byte', () => {
    for (let k = 2; k < 800; k++) {
      const parts = paddingTlvs(k);
      assert.equal(
        parts.reduce((s, p) => s + p.length, 0),
        k,
      );
      for (const p of parts) assert.ok(p.length >= 2 && p.length <= 257);
    }
  });
});

describe('tsqCodec: responses', () => {
  const quality = clockQualityFromServed(served(), { driftRatePpb: 15_000 });

  it('round-trips a full response', () => {
    const { bytes, precisionHonoured } = encodeTsqResponse({
      nonce,
      receiveTimestamp: 0x0123456789abcdefn,
      sendTimestamp: 0x0123456789abcdffn,
      ...quality,
      metadata: [
        ['status', 'anchored'],
        ['anchor', 'gps'],
      ],
    });
    assert.equal(precisionHonoured, false);
    const d = decodeTsqResponse(bytes);
    assert.ok(d.ok);
    const r = asTime(d.message);
    assert.deepEqual(r.nonce, nonce);
    assert.equal(r.receiveTimestamp, 0x0123456789abcdefn);
    assert.equal(r.sendTimestamp, 0x0123456789abcdffn);
    assert.deepEqual(r.clockQuality, {
      clockClass: CLOCK_CLASS.GNSS,
      estimatedErrorUs: 1000,
      driftRatePpb: 15_000,
      sourceTag: 'gps',
    });
    assert.deepEqual(r.timeSourceInfo, {
      stratum: 2,
      sourceType: SOURCE_TYPE.GPS,
      info: 'timemesh anchored',
    });
    assert.deepEqual(r.metadata, [
      ['anchor', 'gps'],
      ['status', 'anchored'],
    ]);
    assert.equal(r.signature, null);
  });

  it('pads a Precision Mode response to exactly the request length, whatever the gap', () => {
    for (let target = 60; target <= 1024; target++) {
      const { bytes, precisionHonoured } = encodeTsqResponse({
        nonce,
        receiveTimestamp: 1n,
        sendTimestamp: 2n,
        ...quality,
        precisionTargetBytes: target,
      });
      const base = encodeTsqResponse({ nonce, receiveTimestamp: 1n, sendTimestamp: 2n, ...quality }).bytes
        .length;
      if (target >= base + 2) {
        assert.equal(precisionHonoured, true, `target ${target}`);
        assert.equal(bytes.length, target, `target ${target}`);
        const r = asTime((decodeTsqResponse(bytes) as { ok: true; message: TsqResponse }).message);
        assert.equal(r.precisionMode, true);
      } else {
        assert.equal(precisionHonoured, false, `target ${target}`);
        assert.equal(bytes.length, base);
      }
    }
  });

  it('pads a signed Precision Mode response, the signature included in the length', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const signer = ed25519Signer(privateKey);
    for (const target of [200, 201, 255, 256, 700]) {
      const { bytes, precisionHonoured } = encodeTsqResponse({
        nonce,
        receiveTimestamp: 1n,
        sendTimestamp: 2n,
        ...quality,
        precisionTargetBytes: target,
        signer,
      });
      assert.equal(precisionHonoured, true);
      assert.equal(bytes.length, target);
      const r = asTime((decodeTsqResponse(bytes) as { ok: true; message: TsqResponse }).message);
      assert.deepEqual(ed25519Verifier(publicKey).verify(r.signature), { ok: true });
    }
  });

  it('decodes an Error TLV, alone, and refuses one with company', () => {
    const bytes = encodeTsqError(TSQ_ERROR.AUTHENTICATION_REQUIRED, 'no key');
    const d = decodeTsqResponse(bytes);
    assert.ok(d.ok);
    assert.deepEqual(d.message, { kind: 'error', code: 3, reason: 'no key', byteLength: bytes.length });
    const withNonce = Uint8Array.from([TLV.NONCE, 16, ...nonce, ...bytes]);
    assert.match(malformed(decodeTsqResponse(withNonce)).message, /alone/);
    // A long reason is cut on a character boundary.
    const long = encodeTsqError(1, 'é'.repeat(300));
    assert.ok(long.length <= 257);
    assert.ok(decodeTsqResponse(long).ok);
  });

  it('reports a missing nonce as a value the client discards, but requires T2 and T3', () => {
    const full = encodeTsqResponse({ nonce, receiveTimestamp: 5n, sendTimestamp: 6n }).bytes;
    const noNonce = full.subarray(18);
    const d = decodeTsqResponse(noNonce);
    assert.ok(d.ok);
    assert.equal(asTime(d.message).nonce, null);
    const noT3 = full.subarray(0, 28);
    const e = malformed(decodeTsqResponse(noT3));
    assert.equal(e.tlvType, TLV.SEND_TIMESTAMP);
    assert.match(e.message, /missing/);
  });

  it('names the TLV and offset of malformed responses', () => {
    const head = [...encodeTsqResponse({ nonce, receiveTimestamp: 5n, sendTimestamp: 6n }).bytes];
    const cases: Array<[number[], number, number, RegExp]> = [
      [[...head, TLV.CLOCK_QUALITY, 5, 1, 0, 0, 1, 0], TLV.CLOCK_QUALITY, 38, /at least 6/],
      [[...head, TLV.TIME_SOURCE_INFO, 1, 1], TLV.TIME_SOURCE_INFO, 38, /at least 2/],
      [[...head, TLV.SIGNATURE_BLOCK, 8, 1, 0, 0, 0, 0, 0, 5, 9], TLV.SIGNATURE_BLOCK, 38, /does not match/],
      [
        [...head, TLV.SIGNATURE_BLOCK, 7, 1, 0, 0, 0, 0, 0, 0, TLV.PADDING, 0],
        TLV.PADDING,
        47,
        /after the Signature/,
      ],
      [[...head, TLV.SIGNATURE_REQUEST, 0], TLV.SIGNATURE_REQUEST, 38, /not allowed in a response/],
      [
        [...head, TLV.RECEIVE_TIMESTAMP, 8, 0, 0, 0, 0, 0, 0, 0, 0],
        TLV.RECEIVE_TIMESTAMP,
        38,
        /more than once/,
      ],
    ];
    for (const [bytes, type, offset, why] of cases) {
      const e = malformed(decodeTsqResponse(Uint8Array.from(bytes)));
      assert.equal(e.tlvType, type);
      assert.equal(e.offset, offset);
      assert.match(e.message, why);
    }
  });

  it('refuses unsorted metadata in a signed response', () => {
    const head = [...encodeTsqResponse({ nonce, receiveTimestamp: 5n, sendTimestamp: 6n }).bytes];
    // b=1, a=2 (well-formed, unsorted).
    const pairs = [1, 0x62, 1, 0x31, 1, 0x61, 1, 0x32];
    const body = [...head, TLV.METADATA, pairs.length, ...pairs];
    assert.ok(decodeTsqResponse(Uint8Array.from(body)).ok, 'unsigned: accepted as sent');
    const signed = [...body, TLV.SIGNATURE_BLOCK, 7, 2, 0, 0, 0, 0, 0, 0];
    assert.match(malformed(decodeTsqResponse(Uint8Array.from(signed))).message, /sorted by key/);
  });
});

describe('tsqCodec: signatures and key ids', () => {
  const base = { nonce, receiveTimestamp: 10n, sendTimestamp: 11n };

  it('Ed25519 signs the exact bytes before the block; key id = SHA-256(raw public key)[0..4]', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const signer = ed25519Signer(privateKey);
    const raw = ed25519RawPublicKey(publicKey);
    assert.deepEqual(signer.keyId, ed25519KeyId(raw));
    const { bytes } = encodeTsqResponse({ ...base, signer });
    const r = asTime((decodeTsqResponse(bytes) as { ok: true; message: TsqResponse }).message);
    assert.ok(r.signature);
    assert.equal(r.signature.algorithm, SIGNATURE_ALGORITHM.ED25519);
    assert.deepEqual(r.signature.signedBytes, bytes.subarray(0, bytes.length - (2 + 7 + 64)));
    assert.deepEqual(ed25519Verifier(raw).verify(r.signature), { ok: true });
    // A flipped bit in the signed part, another key, no signature.
    const tampered = bytes.slice();
    tampered[20] = (tampered[20] as number) ^ 1;
    const t = asTime((decodeTsqResponse(tampered) as { ok: true; message: TsqResponse }).message);
    assert.deepEqual(ed25519Verifier(raw).verify(t.signature), { ok: false, reason: 'signature-invalid' });
    const other = generateKeyPairSync('ed25519').publicKey;
    assert.deepEqual(ed25519Verifier(other).verify(r.signature), { ok: false, reason: 'signature-key-id' });
    assert.deepEqual(ed25519Verifier(raw).verify(null), { ok: false, reason: 'signature-missing' });
  });

  it('HMAC-SHA256 with a named key; key id = SHA-256(name)[0..4]', () => {
    const key = { name: 'tsq-2025', secret: new Uint8Array(32).fill(7) };
    const signer = hmacSigner(key);
    assert.deepEqual(signer.keyId, hmacKeyId('tsq-2025'));
    const { bytes } = encodeTsqResponse({ ...base, signer });
    const r = asTime((decodeTsqResponse(bytes) as { ok: true; message: TsqResponse }).message);
    assert.equal(r.signature?.algorithm, SIGNATURE_ALGORITHM.HMAC_SHA256);
    assert.equal(r.signature?.signature.length, 32);
    assert.deepEqual(hmacVerifier(key).verify(r.signature), { ok: true });
    assert.deepEqual(hmacVerifier({ ...key, secret: new Uint8Array(32).fill(8) }).verify(r.signature), {
      ok: false,
      reason: 'signature-invalid',
    });
    const { publicKey } = generateKeyPairSync('ed25519');
    assert.deepEqual(ed25519Verifier(publicKey).verify(r.signature), {
      ok: false,
      reason: 'signature-algorithm',
    });
    assert.throws(() => hmacSigner({ name: 'short', secret: new Uint8Array(8) }), TsqKeyError);
    assert.throws(() => hmacSigner({ name: '', secret: new Uint8Array(32) }), TsqKeyError);
  });
});

describe('tsqCodec: what the node serves', () => {
  const q = (over: Partial<ServedTime>) => clockQualityFromServed(served(over), { driftRatePpb: 15_000 });

  it('maps anchor kinds and statuses onto class, source type and stratum', () => {
    const table: Array<[Partial<ServedTime>, number, number, number]> = [
      [{ anchorKind: 'gps' }, CLOCK_CLASS.GNSS, SOURCE_TYPE.GPS, 2],
      [{ anchorKind: 'pps', stratum: 1 }, CLOCK_CLASS.GNSS, SOURCE_TYPE.GPS, 1],
      [{ anchorKind: 'ntp', stratum: 3 }, CLOCK_CLASS.NTP_SYNCHRONIZED, SOURCE_TYPE.NTP, 3],
      [{ anchorKind: 'tsq' }, CLOCK_CLASS.NTP_SYNCHRONIZED, SOURCE_TYPE.NTP, 2],
      [{ anchorKind: 'mesh', stratum: 4 }, CLOCK_CLASS.NTP_SYNCHRONIZED, SOURCE_TYPE.NTP, 4],
      [{ anchorKind: 'reference' }, CLOCK_CLASS.NTP_SYNCHRONIZED, SOURCE_TYPE.UNKNOWN, 2],
      [{ anchorKind: 'local', stratum: 8 }, CLOCK_CLASS.LOCAL_OCXO, SOURCE_TYPE.MANUAL, 8],
      [
        { anchorKind: 'none', status: 'synchronized', stratum: 16 },
        CLOCK_CLASS.UNKNOWN,
        SOURCE_TYPE.UNKNOWN,
        0,
      ],
      [{ anchorKind: 'gps', status: 'holdover' }, CLOCK_CLASS.HOLDOVER, SOURCE_TYPE.GPS, 2],
      [
        { anchorKind: 'gps', status: 'unsynchronized', stratum: 16 },
        CLOCK_CLASS.UNKNOWN,
        SOURCE_TYPE.UNKNOWN,
        0,
      ],
    ];
    for (const [over, clockClass, sourceType, stratum] of table) {
      const r = q(over);
      assert.equal(r.clockQuality.clockClass, clockClass, JSON.stringify(over));
      assert.equal(r.timeSourceInfo.sourceType, sourceType, JSON.stringify(over));
      assert.equal(r.timeSourceInfo.stratum, stratum, JSON.stringify(over));
    }
  });

  it('rounds the error up to µs and saturates it', () => {
    assert.equal(q({ rootDistanceNs: 1 }).clockQuality.estimatedErrorUs, 1);
    assert.equal(q({ rootDistanceNs: 1_000_001 }).clockQuality.estimatedErrorUs, 1001);
    assert.equal(q({ rootDistanceNs: 70e6 }).clockQuality.estimatedErrorUs, 0xffff);
    assert.equal(q({ rootDistanceNs: 2 ** 62 }).clockQuality.estimatedErrorUs, 0xffff);
    assert.equal(q({ status: 'unsynchronized' }).clockQuality.estimatedErrorUs, 0xffff);
    assert.equal(q({}).clockQuality.driftRatePpb, 15_000);
  });
});

describe('tsqCodec: fuzz', () => {
  it('never throws on arbitrary bytes; every failure names an offset inside the message', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1100 }), (bytes) => {
        for (const d of [decodeTsqRequest(bytes), decodeTsqResponse(bytes)]) {
          if (!d.ok) {
            assert.ok(d.error instanceof TsqMalformedError);
            assert.ok(d.error.offset >= 0 && d.error.offset <= Math.max(bytes.length, 1024));
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on mutated valid messages (bit flips, cuts, splices)', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const valid = [
      encodeTsqRequest({
        nonce,
        metadataQuery: true,
        signatureRequest: true,
        precisionMode: true,
        padToBytes: 300,
      }),
      encodeTsqResponse({
        nonce,
        receiveTimestamp: 1n,
        sendTimestamp: 2n,
        ...clockQualityFromServed(served(), { driftRatePpb: 1 }),
        metadata: [['a', 'b']],
        precisionTargetBytes: 300,
        signer: ed25519Signer(privateKey),
      }).bytes,
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }),
        fc.nat(),
        (message, flips, cut) => {
          const m = message.slice(0, (cut % message.length) + 1);
          for (const [at, v] of flips) m[at % m.length] = v;
          decodeTsqRequest(m);
          const d = decodeTsqResponse(m);
          if (d.ok && d.message.kind === 'time') assert.ok(d.message.byteLength === m.length);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('round-trips random well-formed requests (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.uniqueArray(fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 40 })), {
          maxLength: 8,
          selector: (p) => p[0],
        }),
        fc.option(fc.integer({ min: 0, max: 1024 }), { nil: undefined }),
        (n, metadataQuery, precisionMode, signatureRequest, metadata, padToBytes) => {
          let bytes: Uint8Array;
          try {
            bytes = encodeTsqRequest({
              nonce: n,
              metadataQuery,
              precisionMode,
              signatureRequest,
              metadata,
              padToBytes,
            });
          } catch (error) {
            assert.ok(error instanceof TsqEncodeError);
            return;
          }
          const d = decodeTsqRequest(bytes);
          assert.ok(d.ok, !d.ok ? d.error.message : '');
          assert.deepEqual(d.message.nonce, n);
          assert.equal(d.message.metadataQuery, metadataQuery);
          assert.equal(d.message.precisionMode, precisionMode);
          assert.equal(d.message.signatureRequest, signatureRequest);
          assert.equal(d.message.metadata?.length ?? 0, metadata.length);
          assert.ok(parseTlvs(bytes).ok);
        },
      ),
      { numRuns: 500 },
    );
  });
});
