/**
 * Keys for TSQ's Signature Block: Ed25519 (node:crypto) and HMAC-SHA256 (@noble/hashes), and the
 * 4-byte key ids that tell a client which key signed.
 *
 * Key ids (our choice; the draft leaves them to the implementation):
 * - Ed25519: the first 4 bytes of SHA-256 over the raw 32-byte public key.
 * - HMAC-SHA256: the first 4 bytes of SHA-256 over the UTF-8 of the key's *name* (an operator-chosen
 *   string such as "tsq-2025"), never over the secret, so the id reveals nothing about it.
 *
 * The signature covers the exact bytes of every TLV before the Signature Block, as sent. There is no
 * domain prefix (the draft defines none). Using the node's libp2p identity key is safe all the same:
 * every TSQ response starts with the Nonce TLV (byte 0x01), and every message the mesh signs starts
 * with a printable domain string ("timemesh/…"), so no signed TSQ response can be replayed as a mesh
 * message or the reverse. A separate key is still the cleaner choice.
 *
 * Verification never throws on input from the network: it returns a reason.
 */
import { createPrivateKey, createPublicKey, sign, timingSafeEqual, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { TimemeshError } from '../hlc/errors.ts';
import { KEY_ID_BYTES, SIGNATURE_ALGORITHM } from './tsqCodec.ts';
import type { SignatureAlgorithm, SignatureBlock, TsqSigner } from './tsqCodec.ts';

export const ED25519_SIGNATURE_BYTES = 64;
export const HMAC_SHA256_BYTES = 32;
/** Shorter HMAC secrets are refused: 128 bits is the least that is not guessable. */
export const HMAC_SECRET_BYTES_MIN = 16;

export class TsqKeyError extends TimemeshError {
  constructor(message: string) {
    super('TM_ERR_TSQ_KEY', message);
  }
}

export interface HmacKey {
  /** The key's name; its SHA-256 prefix is the key id. */
  name: string;
  secret: Uint8Array;
}

export type TsqSignatureCheck =
  | { ok: true }
  | {
      ok: false;
      reason: 'signature-missing' | 'signature-algorithm' | 'signature-key-id' | 'signature-invalid';
    };

export interface TsqVerifier {
  readonly algorithm: SignatureAlgorithm;
  readonly keyId: Uint8Array;
  verify(block: SignatureBlock | null): TsqSignatureCheck;
}

const utf8 = new TextEncoder();

export function ed25519KeyId(rawPublicKey: Uint8Array): Uint8Array {
  return sha256(rawPublicKey).slice(0, KEY_ID_BYTES);
}

export function hmacKeyId(name: string): Uint8Array {
  return sha256(utf8.encode(name)).slice(0, KEY_ID_BYTES);
}

/** The raw 32-byte public key of an Ed25519 KeyObject (private or public). */
export function ed25519RawPublicKey(key: KeyObject): Uint8Array {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  if (publicKey.asymmetricKeyType !== 'ed25519') {
    throw new TsqKeyError(
      `TSQ signatures need an Ed25519 key, got ${publicKey.asymmetricKeyType ?? key.type}`,
    );
  }
  const jwk = publicKey.export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x as string, 'base64url'));
}

/** An Ed25519 public key from its raw 32 bytes. */
export function ed25519PublicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new TsqKeyError(`an Ed25519 public key is 32 bytes, got ${raw.length}`);
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

/** An Ed25519 private key from a libp2p key's 64 raw bytes (seed, then public key). */
export function ed25519PrivateKeyFromLibp2pRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 64) throw new TsqKeyError(`a libp2p Ed25519 private key is 64 bytes, got ${raw.length}`);
  return createPrivateKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      d: Buffer.from(raw.subarray(0, 32)).toString('base64url'),
      x: Buffer.from(raw.subarray(32)).toString('base64url'),
    },
    format: 'jwk',
  });
}

export function ed25519Signer(privateKey: KeyObject): TsqSigner {
  if (privateKey.type !== 'private') throw new TsqKeyError('an Ed25519 signer needs a private key');
  const keyId = ed25519KeyId(ed25519RawPublicKey(privateKey));
  return {
    algorithm: SIGNATURE_ALGORITHM.ED25519,
    keyId,
    signatureLength: ED25519_SIGNATURE_BYTES,
    sign: (data) => new Uint8Array(sign(null, data, privateKey)),
  };
}

export function ed25519Verifier(publicKey: KeyObject | Uint8Array): TsqVerifier {
  const key = publicKey instanceof Uint8Array ? ed25519PublicKeyFromRaw(publicKey) : publicKey;
  const keyId = ed25519KeyId(ed25519RawPublicKey(key));
  return {
    algorithm: SIGNATURE_ALGORITHM.ED25519,
    keyId,
    verify(block) {
      const pre = precheck(block, SIGNATURE_ALGORITHM.ED25519, keyId);
      if (pre !== null) return pre;
      const b = block as SignatureBlock;
      if (b.signature.length !== ED25519_SIGNATURE_BYTES) return { ok: false, reason: 'signature-invalid' };
      try {
        return verify(null, b.signedBytes, key, b.signature)
          ? { ok: true }
          : { ok: false, reason: 'signature-invalid' };
      } catch {
        return { ok: false, reason: 'signature-invalid' };
      }
    },
  };
}

function checkHmacKey(key: HmacKey): void {
  if (key.name.length === 0) throw new TsqKeyError('an HMAC key needs a name (its key id derives from it)');
  if (key.secret.length < HMAC_SECRET_BYTES_MIN) {
    throw new TsqKeyError(
      `an HMAC secret must be at least ${HMAC_SECRET_BYTES_MIN} bytes, got ${key.secret.length}`,
    );
  }
}

export function hmacSigner(key: HmacKey): TsqSigner {
  checkHmacKey(key);
  const secret = key.secret.slice();
  return {
    algorithm: SIGNATURE_ALGORITHM.HMAC_SHA256,
    keyId: hmacKeyId(key.name),
    signatureLength: HMAC_SHA256_BYTES,
    sign: (data) => hmac(sha256, secret, data),
  };
}

export function hmacVerifier(key: HmacKey): TsqVerifier {
  checkHmacKey(key);
  const secret = key.secret.slice();
  const keyId = hmacKeyId(key.name);
  return {
    algorithm: SIGNATURE_ALGORITHM.HMAC_SHA256,
    keyId,
    verify(block) {
      const pre = precheck(block, SIGNATURE_ALGORITHM.HMAC_SHA256, keyId);
      if (pre !== null) return pre;
      const b = block as SignatureBlock;
      const expected = hmac(sha256, secret, b.signedBytes);
      if (b.signature.length !== expected.length) return { ok: false, reason: 'signature-invalid' };
      return timingSafeEqual(b.signature, expected)
        ? { ok: true }
        : { ok: false, reason: 'signature-invalid' };
    },
  };
}

function precheck(
  block: SignatureBlock | null,
  algorithm: SignatureAlgorithm,
  keyId: Uint8Array,
): TsqSignatureCheck | null {
  if (block === null) return { ok: false, reason: 'signature-missing' };
  if (block.algorithm !== algorithm) return { ok: false, reason: 'signature-algorithm' };
  if (!timingSafeEqual(block.keyId, keyId)) return { ok: false, reason: 'signature-key-id' };
  return null;
}
