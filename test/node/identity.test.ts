/**
 * Tests of the node identity: created once (0600 key, 0700 data dir) and reused; key files that are
 * accessible to others, of the wrong type or corrupt are refused with a message that says what to do,
 * and left untouched; `keygen` never replaces a key without force.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromString } from '@libp2p/peer-id';
import { TimemeshError } from '../../hlc/errors.ts';
import { SignatureVerifier, createSigner } from '../../mesh/signing.ts';
import {
  IDENTITY_ERROR_CODE,
  IDENTITY_FILE_NAME,
  IdentityError,
  generateIdentityFile,
  identityPath,
  loadOrCreateIdentity,
  readIdentityFile,
} from '../../node/identity.ts';

let root = '';
let counter = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'timemesh-identity-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh path under the test root that does not exist yet. */
function freshDir(): string {
  counter++;
  return join(root, `d${counter}`);
}

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

/** Asserts `promise` rejects with an IdentityError whose message matches every pattern. */
async function refused(promise: Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof IdentityError, `expected an IdentityError, got ${String(error)}`);
    assert.ok(error instanceof TimemeshError);
    assert.equal(error.code, IDENTITY_ERROR_CODE);
    for (const p of patterns) assert.match(error.message, p);
    return true;
  });
}

/** A data dir holding `bytes` as its identity key, with `mode`. */
async function dirWithKey(bytes: Uint8Array | string, mode = 0o600): Promise<{ dir: string; path: string }> {
  const dir = freshDir();
  await mkdir(dir, { mode: 0o700 });
  const path = identityPath(dir);
  await writeFile(path, bytes);
  await chmod(path, mode);
  return { dir, path };
}

describe('loadOrCreateIdentity', () => {
  it('creates an Ed25519 key on first start: key 0600, data dir 0700, protobuf bytes', async () => {
    const dir = freshDir();
    const identity = await loadOrCreateIdentity(dir);
    assert.equal(identity.created, true);
    assert.equal(identity.path, join(dir, IDENTITY_FILE_NAME));
    assert.equal(identity.privateKey.type, 'Ed25519');
    assert.match(identity.peerId, /^12D3KooW/);
    assert.equal(peerIdFromString(identity.peerId).type, 'Ed25519');
    assert.equal(await modeOf(identity.path), 0o600);
    assert.equal(await modeOf(dir), 0o700);
    assert.deepEqual(
      new Uint8Array(await readFile(identity.path)),
      privateKeyToProtobuf(identity.privateKey),
    );
  });

  it('reuses the key on later starts', async () => {
    const dir = freshDir();
    const first = await loadOrCreateIdentity(dir);
    const bytes = await readFile(first.path);
    const second = await loadOrCreateIdentity(dir);
    assert.equal(second.created, false);
    assert.equal(second.peerId, first.peerId);
    assert.ok(second.privateKey.equals(first.privateKey));
    assert.deepEqual(await readFile(first.path), bytes);
  });

  it('gives every racing starter the same key, created once', async () => {
    const dir = freshDir();
    const all = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateIdentity(dir)));
    assert.equal(new Set(all.map((i) => i.peerId)).size, 1);
    assert.equal(all.filter((i) => i.created).length, 1);
  });

  it('signs with a key that peers can verify from the peer id alone', async () => {
    const identity = await loadOrCreateIdentity(freshDir());
    const signer = createSigner(identity.privateKey, identity.peerId);
    const message = new TextEncoder().encode('timemesh/test\u0000hello');
    const signature = signer.sign(message);
    assert.equal(new SignatureVerifier().verify(identity.peerId, message, signature), true);
  });

  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    it(`refuses a key file with mode 0${mode.toString(8)} and says how to fix it`, async () => {
      const { dir, path } = await dirWithKey(privateKeyToProtobuf(await generateKeyPair('Ed25519')), mode);
      const before = await readFile(path);
      await refused(
        loadOrCreateIdentity(dir),
        new RegExp(`identity key ${path} is accessible by group or others \\(mode 0${mode.toString(8)}\\)`),
        new RegExp(`chmod 600 ${path}`),
      );
      assert.deepEqual(await readFile(path), before, 'the key file is left untouched');
      assert.equal(await modeOf(path), mode, 'the mode is the operator’s to fix');
    });
  }

  it('accepts an owner-only key (0400 as well as 0600) once fixed', async () => {
    const key = await generateKeyPair('Ed25519');
    const { dir, path } = await dirWithKey(privateKeyToProtobuf(key), 0o644);
    await refused(loadOrCreateIdentity(dir), /chmod 600/);
    await chmod(path, 0o400);
    const identity = await loadOrCreateIdentity(dir);
    assert.equal(identity.created, false);
    assert.ok(identity.privateKey.equals(key));
  });

  it('refuses a key of another type and says how to get an Ed25519 one', async () => {
    const { dir, path } = await dirWithKey(privateKeyToProtobuf(await generateKeyPair('secp256k1')));
    await refused(
      loadOrCreateIdentity(dir),
      new RegExp(`identity key ${path} is a secp256k1 key; timemesh needs Ed25519`),
      /Move the file away and start again/,
      /timemesh keygen/,
    );
  });

  const corrupt: [string, () => Promise<Uint8Array | string>, RegExp][] = [
    ['an empty file', async () => new Uint8Array(0), /the file is empty/],
    ['text', async () => 'not a key at all, just some text\n', /not a valid libp2p private key/],
    [
      'a truncated key',
      async () => privateKeyToProtobuf(await generateKeyPair('Ed25519')).subarray(0, 40),
      /not a valid libp2p private key/,
    ],
    [
      'a key whose public half does not match its seed',
      async () => {
        const bytes = Uint8Array.from(privateKeyToProtobuf(await generateKeyPair('Ed25519')));
        bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
        return bytes;
      },
      /public key does not match its seed/,
    ],
    [
      'a key with a flipped seed bit',
      async () => {
        const bytes = Uint8Array.from(privateKeyToProtobuf(await generateKeyPair('Ed25519')));
        bytes[10] = (bytes[10] ?? 0) ^ 0x80;
        return bytes;
      },
      /public key does not match its seed/,
    ],
    [
      'a key with trailing bytes',
      async () => {
        const key = privateKeyToProtobuf(await generateKeyPair('Ed25519'));
        const out = new Uint8Array(key.length + 2);
        out.set(key);
        out.set([0x08, 0x01], key.length); // a well-formed extra protobuf field
        return out;
      },
      /unexpected extra bytes/,
    ],
    ['a file far too large for a key', async () => new Uint8Array(9000), /too large for a key/],
  ];
  for (const [name, bytes, problem] of corrupt) {
    it(`refuses ${name}, leaves it in place and says what to do`, async () => {
      const content = await bytes();
      const { dir, path } = await dirWithKey(content);
      await refused(
        loadOrCreateIdentity(dir),
        new RegExp(`^identity key ${path} `),
        problem,
        /Restore it from a backup/,
        /move the file away and start again/,
      );
      assert.deepEqual(new Uint8Array(await readFile(path)), new Uint8Array(Buffer.from(content)));
    });
  }

  it('removes a temp key file that a crash during creation left behind', async () => {
    const dir = freshDir();
    await mkdir(dir, { mode: 0o700 });
    const stray = join(dir, `.${IDENTITY_FILE_NAME}.1.0123456789ab.tmp`);
    await writeFile(stray, privateKeyToProtobuf(await generateKeyPair('Ed25519')), { mode: 0o600 });
    const other = join(dir, 'unrelated.tmp');
    await writeFile(other, 'keep');
    await loadOrCreateIdentity(dir);
    await assert.rejects(stat(stray), { code: 'ENOENT' });
    assert.equal(await readFile(other, 'utf8'), 'keep');
  });

  it('refuses a data dir that is a file', async () => {
    const path = join(root, 'a-file');
    await writeFile(path, 'x');
    await refused(loadOrCreateIdentity(path), /cannot use data directory .*a-file: it is not a directory/);
  });

  it('refuses an identity.key that is a directory', async () => {
    const dir = freshDir();
    await mkdir(join(dir, IDENTITY_FILE_NAME), { recursive: true, mode: 0o700 });
    await refused(loadOrCreateIdentity(dir), /is not a regular file/);
  });
});

describe('generateIdentityFile (timemesh keygen)', () => {
  it('writes a new 0600 key, creating the parent directory 0700', async () => {
    const dir = freshDir();
    const path = join(dir, 'node.key');
    const identity = await generateIdentityFile(path);
    assert.equal(identity.path, path);
    assert.equal(await modeOf(path), 0o600);
    assert.equal(await modeOf(dir), 0o700);
    assert.equal((await readIdentityFile(path)).peerId, identity.peerId);
  });

  it('refuses to overwrite an existing file without force, and leaves it alone', async () => {
    const path = join(root, 'keep.key');
    const first = await generateIdentityFile(path);
    const bytes = await readFile(path);
    await refused(
      generateIdentityFile(path),
      /keep\.key already exists; refusing to overwrite it/,
      /--force/,
    );
    await refused(generateIdentityFile(path, { force: false }), /refusing to overwrite/);
    assert.deepEqual(await readFile(path), bytes);
    assert.equal((await readIdentityFile(path)).peerId, first.peerId);
  });

  it('refuses to overwrite any existing file, not only keys', async () => {
    const path = join(root, 'notes.txt');
    await writeFile(path, 'precious');
    await refused(generateIdentityFile(path), /refusing to overwrite/);
    assert.equal(await readFile(path, 'utf8'), 'precious');
  });

  it('replaces the key with force', async () => {
    const path = join(root, 'replace.key');
    const first = await generateIdentityFile(path);
    await chmod(path, 0o644);
    const second = await generateIdentityFile(path, { force: true });
    assert.notEqual(second.peerId, first.peerId);
    assert.equal((await readIdentityFile(path)).peerId, second.peerId);
    assert.equal(await modeOf(path), 0o600);
  });

  it('makes a key a node adopts when it is placed as identity.key', async () => {
    const dir = freshDir();
    const generated = await generateIdentityFile(identityPath(dir));
    const loaded = await loadOrCreateIdentity(dir);
    assert.equal(loaded.created, false);
    assert.equal(loaded.peerId, generated.peerId);
  });
});

describe('readIdentityFile (timemesh id)', () => {
  it('says how to get a key when there is none', async () => {
    await refused(
      readIdentityFile(join(root, 'none.key')),
      /no identity key at .*none\.key/,
      /timemesh keygen/,
    );
  });

  it('applies the same checks as loading', async () => {
    const { path } = await dirWithKey(privateKeyToProtobuf(await generateKeyPair('Ed25519')), 0o644);
    await refused(readIdentityFile(path), /accessible by group or others/);
  });
});
