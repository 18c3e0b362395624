/**
 * Keeps docs/PROTOCOL.md honest. Its byte-by-byte examples are fenced hex dumps, each after a marker
 * `<!-- example:NAME -->`. This test reads the hex back out of the document (not out of the script
 * that made it), decodes it with the real decoders, checks the field values the document states,
 * verifies the signatures, and finally checks that every block is still exactly what
 * scripts/protocolExamples.ts prints, so neither the bytes nor the annotations can drift from the code.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeHlc } from '../../hlc/hlcCodec.ts';
import { decodeAnnouncement } from '../../mesh/announcementCodec.ts';
import { AnnouncementValidator } from '../../mesh/gossipValidator.ts';
import { ReceiptLedger } from '../../mesh/receiptLedger.ts';
import {
  SAMPLE_SIGNATURE_DOMAIN,
  decodeSampleRequest,
  decodeSampleResponse,
  openSampleResponse,
  verifyReceipt,
} from '../../mesh/sampleProtocol.ts';
import { SignatureVerifier } from '../../mesh/signing.ts';
import { exampleBlocks, exampleIdentities, markdownFor } from '../../scripts/protocolExamples.ts';

const DOC_PATH = new URL('../../docs/PROTOCOL.md', import.meta.url);
const doc = readFileSync(DOC_PATH, 'utf8');

// The values the document states for the examples, typed in here rather than imported, so that the
// script, the document and this test have to agree.
const BASE_NS = 1_767_225_600_000_000_000n; // 2026-01-01T00:00:00Z
const NONCE_HEX = '00112233445566778899aabbccddeeff';
const REQUESTER_ID = '12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB';
const RESPONDER_ID = '12D3KooWCd3eX8r5ihRvzK7P1yPq5aakaBJhG5GNj18YTztPhoCa';

/** The fenced block after `<!-- example:NAME -->`, as lines. */
function block(name: string): string[] {
  const marker = `<!-- example:${name} -->`;
  const at = doc.indexOf(marker);
  assert.ok(at >= 0, `docs/PROTOCOL.md has no ${marker}`);
  assert.equal(doc.indexOf(marker, at + 1), -1, `${marker} appears more than once`);
  const match = /^\s*```text\n([\s\S]*?)\n```/.exec(doc.slice(at + marker.length));
  assert.ok(match !== null, `${marker} is not followed by a fenced text block`);
  return match[1]!.split('\n');
}

/** The bytes of a dump: 4 hex digits of offset, two spaces, up to 16 hex bytes, then the note. */
function bytesOf(name: string): Uint8Array {
  const out: number[] = [];
  for (const line of block(name)) {
    const offset = Number.parseInt(line.slice(0, 4), 16);
    assert.ok(/^[0-9a-f]{4} {2}/.test(line), `${name}: line does not start with an offset: ${line}`);
    assert.equal(
      offset,
      out.length,
      `${name}: offset ${line.slice(0, 4)} does not follow the bytes before it`,
    );
    const hex = line.slice(6, 6 + 47).trim();
    assert.ok(/^[0-9a-f]{2}( [0-9a-f]{2}){0,15}$/.test(hex), `${name}: bad hex column in: ${line}`);
    for (const pair of hex.split(' ')) out.push(Number.parseInt(pair, 16));
  }
  return Uint8Array.from(out);
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('docs/PROTOCOL.md examples', () => {
  const verifier = new SignatureVerifier();

  it('the sample request decodes to version 1 and the documented nonce', () => {
    const bytes = bytesOf('sample-request');
    assert.equal(bytes.length, 24, 'a valid request is 24 bytes');
    const decoded = decodeSampleRequest(bytes);
    assert.ok(decoded.ok, `request does not decode: ${decoded.ok ? '' : decoded.error.message}`);
    assert.equal(hex(decoded.nonce), NONCE_HEX);
  });

  it('the sample response decodes to the documented fields and verifies as the answer to that request', () => {
    const bytes = bytesOf('sample-response');
    const decoded = decodeSampleResponse(bytes);
    assert.ok(decoded.ok, `response does not decode: ${decoded.ok ? '' : decoded.error.message}`);
    const r = decoded.response;
    assert.equal(hex(r.nonce), NONCE_HEX);
    assert.equal(r.t2PeerNs, BASE_NS + 250_000n);
    assert.equal(r.t3PeerNs, BASE_NS + 290_000n);
    assert.equal(r.earliestNs, BASE_NS + 290_000n - 1_500_000n);
    assert.equal(r.latestNs, BASE_NS + 290_000n + 2_000_000n);
    assert.equal(r.rootDistanceNs, 2_000_000);
    assert.equal(r.anchorKind, 'ntp');
    assert.equal(r.stratum, 3);
    assert.equal(r.status, 'anchored');
    assert.deepEqual(r.hlc, { wallNs: BASE_NS + 290_000n, logical: 7, nodeId: RESPONDER_ID });
    assert.equal(r.peerId, RESPONDER_ID);

    const nonce = decodeSampleRequest(bytesOf('sample-request'));
    assert.ok(nonce.ok, 'the request block decodes');
    const opened = openSampleResponse(bytes, nonce.nonce, RESPONDER_ID, verifier);
    assert.ok(opened.ok, `requester-side check fails: ${opened.ok ? '' : opened.error.message}`);
    assert.ok(verifyReceipt(bytes, verifier).ok, 'the response verifies as a receipt on its own');

    const wrongPeer = openSampleResponse(bytes, nonce.nonce, REQUESTER_ID, verifier);
    assert.ok(
      !wrongPeer.ok && wrongPeer.error.reason === 'peer-mismatch',
      'asked another peer: peer-mismatch',
    );
    const tampered = bytes.slice();
    tampered[0x1d + 7]! ^= 0x01; // the last byte of T2's payload
    const forged = openSampleResponse(tampered, nonce.nonce, RESPONDER_ID, verifier);
    assert.ok(!forged.ok && forged.error.reason === 'bad-signature', 'a changed T2 breaks the signature');
  });

  it('the signed bytes are the domain, a NUL and the canonical body the signature verifies over', () => {
    const signed = bytesOf('sample-signed-bytes');
    const prefix = new TextEncoder().encode(`${SAMPLE_SIGNATURE_DOMAIN}\u0000`);
    assert.equal(hex(signed.subarray(0, prefix.length)), hex(prefix), 'starts with "timemesh/sample/1\\0"');
    const decoded = decodeSampleResponse(bytesOf('sample-response'));
    assert.ok(decoded.ok, 'the response block decodes');
    assert.equal(hex(signed), hex(decoded.response.signedBytes), 'the document shows what the decoder signs');
    assert.ok(
      verifier.verify(RESPONDER_ID, signed, decoded.response.signature),
      'the responder key verifies the response signature over exactly these bytes',
    );
  });

  it('the HLC decodes to the documented timestamp and is the response\'s "h"', () => {
    const bytes = bytesOf('hlc');
    const decoded = decodeHlc(bytes);
    assert.ok(decoded.ok, `HLC does not decode: ${decoded.ok ? '' : decoded.error.message}`);
    assert.deepEqual(decoded.value, { wallNs: BASE_NS + 290_000n, logical: 7, nodeId: RESPONDER_ID });
    assert.ok(hex(bytesOf('sample-response')).includes(hex(bytes)), 'the response carries these bytes');
  });

  it('the announcement decodes to the documented fields, carries the response as a receipt, and is accepted', () => {
    const bytes = bytesOf('announcement');
    const decoded = decodeAnnouncement(bytes);
    assert.ok(decoded.ok, `announcement does not decode: ${decoded.ok ? '' : decoded.error.message}`);
    const a = decoded.announcement;
    const sentNs = BASE_NS + 5_000_000_000n;
    assert.equal(a.nodeId, REQUESTER_ID);
    assert.equal(a.seq, 42);
    assert.equal(a.sentAtNs, sentNs);
    assert.deepEqual(a.hlc, { wallNs: sentNs, logical: 0, nodeId: REQUESTER_ID });
    assert.equal(a.bestNs, sentNs);
    assert.equal(a.earliestNs, sentNs - 3_000_000n);
    assert.equal(a.latestNs, sentNs + 3_500_000n);
    assert.equal(a.rootDistanceNs, 3_500_000);
    assert.equal(a.anchorKind, 'mesh');
    assert.equal(a.stratum, 4);
    assert.equal(a.status, 'anchored');
    assert.equal(a.receipts.length, 1, 'one receipt');
    assert.equal(hex(a.receipts[0]!), hex(bytesOf('sample-response')), 'the receipt is the response example');

    // What a receiving node does: gossipsub has checked that REQUESTER_ID signed the message.
    const ledger = new ReceiptLedger(verifier);
    const validator = new AnnouncementValidator({
      receiptCheck: (receipt, publisherId) => ledger.check(receipt, publisherId, sentNs) ?? true,
    });
    const now = { bestNs: sentNs, latestNs: sentNs + 1_000_000n, synchronized: true };
    const accepted = validator.validate({
      data: bytes,
      fromPeerId: REQUESTER_ID,
      receivedLocalNs: 0n,
      nowEstimate: now,
    });
    assert.equal(accepted.result, 'accept', `not accepted: ${accepted.detail ?? ''}`);
    const replay = validator.validate({
      data: bytes,
      fromPeerId: REQUESTER_ID,
      receivedLocalNs: 1n,
      nowEstimate: now,
    });
    assert.equal(replay.reason, 'replay', 'the same seq again is a replay');
    const other = validator.validate({
      data: bytes,
      fromPeerId: RESPONDER_ID,
      receivedLocalNs: 2n,
      nowEstimate: now,
    });
    assert.equal(other.reason, 'wrong-sender', 'signed by another node: wrong-sender');
  });

  it('the example keys are the documented peer ids', async () => {
    const ids = await exampleIdentities();
    assert.equal(ids.requester.peerId, REQUESTER_ID);
    assert.equal(ids.responder.peerId, RESPONDER_ID);
  });

  it('every block is exactly what scripts/protocolExamples.ts prints (bytes and annotations)', async () => {
    for (const b of await exampleBlocks()) {
      assert.ok(
        doc.includes(markdownFor(b)),
        `docs/PROTOCOL.md's ${b.name} block differs from the script's output: ` +
          'run `node --import tsx scripts/protocolExamples.ts` and paste the block',
      );
    }
  });
});
