import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { SignatureVerifier, SigningKeyError, createSigner, domainSeparated } from '../../mesh/signing.ts';

async function identity(): Promise<ReturnType<typeof createSigner>> {
  const key = await generateKeyPair('Ed25519');
  return createSigner(key, peerIdFromPrivateKey(key).toString());
}

describe('signing', () => {
  it('signs with the libp2p key and verifies by peer id alone', async () => {
    const signer = await identity();
    const msg = domainSeparated('timemesh/test/1', new Uint8Array([1, 2, 3]));
    const sig = signer.sign(msg);
    assert.equal(sig.length, 64);
    const v = new SignatureVerifier();
    assert.equal(v.verify(signer.peerId, msg, sig), true);
  });

  it('agrees with libp2p’s own Ed25519 verification', async () => {
    const key = await generateKeyPair('Ed25519');
    const signer = createSigner(key, peerIdFromPrivateKey(key).toString());
    const msg = new Uint8Array([9, 8, 7]);
    assert.equal(await key.publicKey.verify(msg, signer.sign(msg)), true);
  });

  it('rejects a changed message, a changed signature, another peer and another domain', async () => {
    const a = await identity();
    const b = await identity();
    const v = new SignatureVerifier();
    const msg = domainSeparated('timemesh/sample/1', new Uint8Array([1, 2, 3]));
    const sig = a.sign(msg);
    assert.equal(v.verify(a.peerId, new Uint8Array([...msg.slice(0, -1), 4]), sig), false);
    const bad = sig.slice();
    bad[0]! ^= 1;
    assert.equal(v.verify(a.peerId, msg, bad), false);
    assert.equal(v.verify(b.peerId, msg, sig), false);
    assert.equal(
      v.verify(a.peerId, domainSeparated('timemesh/announce/1', new Uint8Array([1, 2, 3])), sig),
      false,
    );
  });

  it('returns false, without throwing, for malformed peer ids and signatures', async () => {
    const a = await identity();
    const v = new SignatureVerifier();
    const msg = new Uint8Array([1]);
    assert.equal(v.verify('not a peer id', msg, a.sign(msg)), false);
    assert.equal(v.verify(a.peerId, msg, new Uint8Array(63)), false);
    assert.equal(v.verify('', msg, new Uint8Array(64)), false);
  });

  it('refuses non-Ed25519 identity keys with a clear error', async () => {
    const rsa = await generateKeyPair('secp256k1');
    assert.throws(
      () => createSigner(rsa, 'x'),
      (e: unknown) => e instanceof SigningKeyError && /Ed25519/.test(e.message),
    );
  });

  it('keeps its key cache bounded', async () => {
    const v = new SignatureVerifier(2);
    const ids = await Promise.all([identity(), identity(), identity()]);
    const msg = new Uint8Array([5]);
    for (const s of ids) assert.equal(v.verify(s.peerId, msg, s.sign(msg)), true);
    assert.ok((v as unknown as { keys: Map<string, unknown> }).keys.size <= 2);
  });
});
