import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { ReceiptLedger, publishableReceipts } from '../../mesh/receiptLedger.ts';
import { signSampleResponse } from '../../mesh/sampleProtocol.ts';
import { SignatureVerifier, createSigner } from '../../mesh/signing.ts';
import type { Signer } from '../../mesh/signing.ts';

const T3_NS = 1_800_000_000_000_000_000n;
const S_NS = 1_000_000_000n;

function receipt(signer: Signer, nonceFill: number): Uint8Array {
  return signSampleResponse(
    {
      t2PeerNs: T3_NS - 10_000n,
      t3PeerNs: T3_NS,
      earliestNs: T3_NS - 100_000n,
      latestNs: T3_NS + 100_000n,
      rootDistanceNs: 100_000,
      anchorKind: 'mesh',
      stratum: 3,
      status: 'synchronized',
      hlc: { wallNs: T3_NS, logical: 0, nodeId: signer.peerId },
    },
    new Uint8Array(16).fill(nonceFill),
    signer,
  );
}

describe('ReceiptLedger', () => {
  let responder: Signer;
  before(async () => {
    const key = await generateKeyPair('Ed25519');
    responder = createSigner(key, peerIdFromPrivateKey(key).toString());
  });

  it('lets the first publisher of a receipt carry it again, and refuses it from anyone else', () => {
    const ledger = new ReceiptLedger(new SignatureVerifier());
    const r = receipt(responder, 1);
    assert.equal(ledger.check(r, 'owner', T3_NS), null);
    assert.equal(ledger.check(r, 'owner', T3_NS + S_NS), null, 'announcements repeat recent receipts');
    assert.match(ledger.check(r, 'copier', T3_NS) ?? '', /^replayed: .* first published by owner$/);
    // Another nonce is another receipt: the copier may publish its own.
    assert.equal(ledger.check(receipt(responder, 2), 'copier', T3_NS), null);
  });

  it('refuses stale receipts when synchronized, and judges none stale before', () => {
    const ledger = new ReceiptLedger(new SignatureVerifier(), { maxAgeNs: 600n * S_NS });
    const r = receipt(responder, 3);
    assert.equal(ledger.check(r, 'p', T3_NS + 600n * S_NS), null, 'exactly the max age is fine');
    assert.match(ledger.check(r, 'p', T3_NS + 601n * S_NS) ?? '', /^stale: issued 601 s ago/);
    assert.equal(ledger.check(r, 'p', null), null);
  });

  it('refuses receipts dated more than the max age ahead of our estimate (else fresh forever)', () => {
    const ledger = new ReceiptLedger(new SignatureVerifier(), { maxAgeNs: 600n * S_NS });
    const r = receipt(responder, 5);
    assert.equal(ledger.check(r, 'p', T3_NS - 600n * S_NS), null, 'exactly the max age ahead is fine');
    assert.match(
      ledger.check(r, 'p', T3_NS - 601n * S_NS) ?? '',
      /^future: issued 601 s ahead of our estimate/,
    );
  });

  it('inspect does not claim: a receipt of a refused announcement stays free for its owner', () => {
    const ledger = new ReceiptLedger(new SignatureVerifier());
    const r = receipt(responder, 6);
    const seen = ledger.inspect(r, 'copier', T3_NS);
    assert.ok('key' in seen, `inspect accepts it: ${JSON.stringify(seen)}`);
    assert.equal(ledger.size, 0, 'nothing recorded by inspect');
    assert.equal(ledger.check(r, 'owner', T3_NS), null, 'the owner can still publish it');
    const again = ledger.inspect(r, 'copier', T3_NS);
    assert.ok(
      'problem' in again && /first published by owner/.test(again.problem),
      'now the copier is refused',
    );
  });

  it('refuses tampered bytes with the reason, and never throws on garbage', () => {
    const ledger = new ReceiptLedger(new SignatureVerifier());
    const r = receipt(responder, 4);
    const tampered = r.slice();
    tampered[tampered.length - 1]! ^= 1;
    assert.match(ledger.check(tampered, 'p', T3_NS) ?? '', /^does not verify \(bad-signature\)/);
    assert.match(ledger.check(new Uint8Array([0xc1]), 'p', T3_NS) ?? '', /^does not verify/);
    assert.equal(ledger.size, 0, 'refused receipts are not remembered');
  });

  it('forgets the least recently seen receipts beyond its capacity', () => {
    const ledger = new ReceiptLedger(new SignatureVerifier(), { capacity: 2 });
    const [a, b, c] = [receipt(responder, 5), receipt(responder, 6), receipt(responder, 7)];
    ledger.check(a, 'x', null);
    ledger.check(b, 'x', null);
    ledger.check(a, 'x', null); // a is now the most recent
    ledger.check(c, 'x', null); // evicts b
    assert.equal(ledger.size, 2);
    assert.equal(ledger.check(b, 'y', null), null, 'b was forgotten, so its owner is whoever comes next');
    assert.match(ledger.check(c, 'y', null) ?? '', /^replayed/);
  });
});

describe('publishableReceipts (what a node puts in its own announcements)', () => {
  const MIN_NS = 60n * S_NS;
  const held = (name: number, t3PeerNs: bigint, localNs: bigint) => ({
    bytes: new Uint8Array([name]),
    t3PeerNs,
    localNs,
  });

  it("leaves out a lying responder's receipt (T3 an hour off) and ones held too long", () => {
    const now = 1_000_000n * S_NS;
    const estimate = T3_NS;
    const r = publishableReceipts(
      [
        held(1, estimate - 10n * S_NS, now - 10n * S_NS), // fresh
        held(2, estimate + 60n * MIN_NS, now - S_NS), // a liar 1 h ahead
        held(3, estimate - 60n * MIN_NS, now - S_NS), // a liar 1 h behind
        held(4, estimate - 6n * MIN_NS, now - S_NS), // T3 6 min old: beyond half the 10 min window
        held(5, estimate, now - 6n * MIN_NS), // held 6 min
        held(6, estimate + 5n * MIN_NS, now - 5n * MIN_NS), // exactly half the window, both ways
      ],
      now,
      estimate,
    );
    assert.deepEqual(
      r.map((b) => b[0]),
      [1, 6],
    );
  });

  it('while unsynchronized judges only how long a receipt was held', () => {
    const now = 1_000_000n * S_NS;
    const r = publishableReceipts(
      [held(1, T3_NS + 60n * MIN_NS, now - S_NS), held(2, T3_NS, now - 6n * MIN_NS)],
      now,
      null,
    );
    assert.deepEqual(
      r.map((b) => b[0]),
      [1],
    );
  });
});
