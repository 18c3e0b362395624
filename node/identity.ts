/**
 * The node's identity: an Ed25519 libp2p private key in `<dataDir>/identity.key`, stored as the
 * libp2p protobuf encoding (the same bytes `privateKeyToProtobuf` gives, so other libp2p tools can
 * read it). The peer id derives from it, and every sample response, receipt and announcement the
 * node signs is checked against that id, so the key is the node.
 *
 * Invariants:
 * - Created once, on first start, with mode 0600 (its directory 0700 if this creates it), written
 *   atomically and without ever replacing an existing file: two processes racing to create it end up
 *   with the same key. Reused on every later start.
 * - Only Ed25519: its public key is inlined in the peer id, which is what lets anyone verify a
 *   receipt with nothing but the id (mesh/signing.ts).
 * - A key file readable or writable by group or others is refused, as ssh refuses such a private
 *   key: it may already have leaked, and it is the operator who must decide what to do.
 * - A corrupt key file is refused, never replaced: replacing it would silently give the node a new
 *   peer id, dropping it from every roster and bootstrap list that names the old one. Corruption
 *   includes an Ed25519 key whose stored public half does not match its seed, which the protobuf
 *   decoder alone would accept.
 */
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { PrivateKey } from '@libp2p/interface';
import {
  generateKeyPair,
  generateKeyPairFromSeed,
  privateKeyFromProtobuf,
  privateKeyToProtobuf,
} from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { TimemeshError } from '../hlc/errors.ts';
import { removeStrayTempFiles, writeFileAtomic } from './stateStore.ts';

export const IDENTITY_ERROR_CODE = 'TM_ERR_IDENTITY';

/** A key file that is missing, unsafe, of the wrong type or corrupt, or that keygen will not replace. */
export class IdentityError extends TimemeshError {
  constructor(message: string, cause?: unknown) {
    super(IDENTITY_ERROR_CODE, message, cause === undefined ? undefined : { cause });
  }
}

export const IDENTITY_FILE_NAME = 'identity.key';
/** Far above any libp2p key encoding (an Ed25519 key is 68 bytes, RSA-4096 about 2.4 KiB). */
const KEY_FILE_BYTES_MAX = 8192;
const ED25519_SEED_BYTES = 32;

export interface Identity {
  privateKey: PrivateKey;
  /** The peer id, base58btc (12D3KooW…). */
  peerId: string;
  /** The key file. */
  path: string;
}

export interface LoadedIdentity extends Identity {
  /** True when this call created the key (first start). */
  created: boolean;
}

export function identityPath(dataDir: string): string {
  return join(dataDir, IDENTITY_FILE_NAME);
}

/**
 * The node's identity from `<dataDir>/identity.key`, created (with the data dir, mode 0700, if it is
 * missing) on first start. Throws an IdentityError saying what to do when the file is unsafe,
 * corrupt or not Ed25519.
 */
export async function loadOrCreateIdentity(dataDir: string): Promise<LoadedIdentity> {
  await ensureDataDir(dataDir);
  // A crash while creating the key can leave a temp copy of a private key behind: remove it.
  await removeStrayTempFiles(dataDir, IDENTITY_FILE_NAME);
  const path = identityPath(dataDir);
  const existing = await readIdentityIfExists(path);
  if (existing !== null) return { ...existing, created: false };
  try {
    const created = await writeNewIdentity(path, false);
    return { ...created, created: true };
  } catch (error) {
    // Another process created it between our read and our link: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      const theirs = await readIdentityIfExists(path);
      if (theirs !== null) return { ...theirs, created: false };
    }
    throw new IdentityError(`cannot create the identity key ${path}: ${(error as Error).message}`, error);
  }
}

/** Reads and checks an identity key file (for `timemesh id`); a missing file is an error. */
export async function readIdentityFile(path: string): Promise<Identity> {
  const identity = await readIdentityIfExists(path);
  if (identity === null) {
    throw new IdentityError(
      `no identity key at ${path}: a node creates one on first start, or run \`timemesh keygen\``,
    );
  }
  return identity;
}

/**
 * `timemesh keygen`: writes a new Ed25519 key to `path` (mode 0600, parent directory created 0700
 * if missing). Refuses to replace an existing file unless `force`: the old key is a node's identity.
 */
export async function generateIdentityFile(
  path: string,
  options: { force?: boolean } = {},
): Promise<Identity> {
  const force = options.force === true;
  await ensureDataDir(dirname(path));
  const refusal = (): IdentityError =>
    new IdentityError(
      `${path} already exists; refusing to overwrite it: it may be a node's identity, and replacing it ` +
        `gives that node a new peer id (bootstrap lists and rosters name the old one). ` +
        `Pass --force to replace it, or choose another path.`,
    );
  if (!force && (await exists(path))) throw refusal();
  try {
    return await writeNewIdentity(path, force);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw refusal();
    throw new IdentityError(`cannot write the identity key ${path}: ${(error as Error).message}`, error);
  }
}

async function writeNewIdentity(path: string, overwrite: boolean): Promise<Identity> {
  const privateKey = await generateKeyPair('Ed25519');
  await writeFileAtomic(path, privateKeyToProtobuf(privateKey), { mode: 0o600, overwrite });
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString(), path };
}

async function ensureDataDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'EEXIST' || code === 'ENOTDIR' ? 'it is not a directory' : (error as Error).message;
    throw new IdentityError(`cannot use data directory ${dir}: ${reason}`, error);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new IdentityError(`cannot check ${path}: ${(error as Error).message}`, error);
  }
}

/**
 * The bytes of a private file (a key), or null when there is no such file. Refuses, as ssh does, a
 * file that group or others can access: it may already have leaked, and the operator must decide.
 * `what` names the file in messages ("identity key", "swarm key").
 */
export async function readPrivateFile(
  path: string,
  what: string,
  maxBytes: number,
  tooLarge: (size: number) => Error,
): Promise<Uint8Array | null> {
  try {
    const handle = await open(path, 'r');
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new IdentityError(`${what} ${path} is not a regular file`);
      // Windows has no POSIX modes; there the file's ACL is what protects it.
      if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
        const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
        throw new IdentityError(
          `${what} ${path} is accessible by group or others (mode ${mode}); it is a secret ` +
            `and must be readable by its owner only. Run \`chmod 600 ${path}\` and start again ` +
            `(if others may have read it, create a new key instead).`,
        );
      }
      if (info.size > maxBytes) throw tooLarge(info.size);
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof TimemeshError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new IdentityError(`cannot read the ${what} ${path}: ${(error as Error).message}`, error);
  }
}

/** The checked identity in `path`, or null when there is no such file. */
async function readIdentityIfExists(path: string): Promise<Identity | null> {
  const bytes = await readPrivateFile(path, 'identity key', KEY_FILE_BYTES_MAX, (size) =>
    corrupt(path, `${size} bytes, too large for a key`),
  );
  if (bytes === null) return null;
  if (bytes.length === 0) throw corrupt(path, 'the file is empty');
  let privateKey: PrivateKey;
  try {
    privateKey = privateKeyFromProtobuf(bytes);
  } catch (error) {
    throw corrupt(path, (error as Error).message, error);
  }
  if (privateKey.type !== 'Ed25519') {
    throw new IdentityError(
      `identity key ${path} is a ${privateKey.type} key; timemesh needs Ed25519 (peers verify signatures ` +
        `with the public key inlined in an Ed25519 peer id). Move the file away and start again to create ` +
        `a new one, or create one with \`timemesh keygen\`.`,
    );
  }
  // The decoder accepts any 64 bytes as seed + public key; a flipped bit would give a key whose
  // signatures nobody can verify. Re-deriving the public half catches it, and re-encoding catches
  // trailing garbage.
  const rederived = await generateKeyPairFromSeed('Ed25519', privateKey.raw.subarray(0, ED25519_SEED_BYTES));
  if (!rederived.publicKey.equals(privateKey.publicKey)) {
    throw corrupt(path, 'its public key does not match its seed');
  }
  if (!bytesEqual(privateKeyToProtobuf(privateKey), bytes)) throw corrupt(path, 'unexpected extra bytes');
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString(), path };
}

function corrupt(path: string, problem: string, cause?: unknown): IdentityError {
  return new IdentityError(
    `identity key ${path} is not a valid libp2p private key (${problem}); it was left as it is. ` +
      `Restore it from a backup; or, to give this node a new identity (a new peer id: update ` +
      `bootstrap lists and rosters that name the old one), move the file away and start again.`,
    cause,
  );
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
