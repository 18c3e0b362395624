/**
 * The libp2p private-network key (pnet, "swarm.key"): a 32-byte secret shared by every node of a
 * closed mesh. With it, every TCP connection is wrapped in XSalsa20 keyed by it before Noise even
 * starts, so a host without the key cannot complete a handshake, learn a peer id or join gossip.
 * It complements the roster (which admits peer ids one by one): the key keeps strangers out
 * wholesale, the roster keeps out holders of the key who were not meant to be members.
 *
 * The file format is the one IPFS/Kubo and @libp2p/pnet use, so a key can be shared with them:
 *
 *   /key/swarm/psk/1.0.0/
 *   /base16/
 *   <64 hex digits>
 *
 * Like the identity key it must be readable by its owner only, and keygen never replaces one.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TimemeshError } from '../hlc/errors.ts';
import { readPrivateFile } from './identity.ts';
import { writeFileAtomic } from './stateStore.ts';

export const SWARM_KEY_ERROR_CODE = 'TM_ERR_SWARM_KEY';

export class SwarmKeyError extends TimemeshError {
  constructor(message: string, cause?: unknown) {
    super(SWARM_KEY_ERROR_CODE, message, cause === undefined ? undefined : { cause });
  }
}

export const SWARM_KEY_FILE_NAME = 'swarm.key';
const HEADER = '/key/swarm/psk/1.0.0/';
const ENCODING = '/base16/';
const KEY_BYTES = 32;
const FILE_BYTES_MAX = 1024;

export function swarmKeyPath(dataDir: string): string {
  return join(dataDir, SWARM_KEY_FILE_NAME);
}

/** The file's text for a key: what @libp2p/pnet's `preSharedKey({ psk })` expects, as bytes. */
export function formatSwarmKey(key: Uint8Array): string {
  if (key.length !== KEY_BYTES)
    throw new SwarmKeyError(`a swarm key is ${KEY_BYTES} bytes, got ${key.length}`);
  return `${HEADER}\n${ENCODING}\n${Buffer.from(key).toString('hex')}\n`;
}

/**
 * Checks a swarm key file's text and returns it normalised (what pnet parses). Throws a
 * SwarmKeyError naming the line that is wrong; pnet's own parser would accept some malformed files
 * and fail later, during a handshake, with a message nobody connects to the key.
 */
export function parseSwarmKey(text: string, path: string): Uint8Array {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  while (lines.length > 0 && lines[lines.length - 1]?.trim() === '') lines.pop();
  const bad = (problem: string): SwarmKeyError =>
    new SwarmKeyError(
      `swarm key ${path} is not a libp2p private-network key (${problem}); expected three lines: ` +
        `"${HEADER}", "${ENCODING}" and 64 hex digits. Create one with \`timemesh keygen --swarm-key\`.`,
    );
  if (lines.length !== 3) throw bad(`${lines.length} lines`);
  const [header, encoding, hex] = lines.map((l) => l.trim()) as [string, string, string];
  if (header !== HEADER) throw bad(`line 1 is ${JSON.stringify(header.slice(0, 40))}`);
  if (encoding !== ENCODING) {
    throw bad(`line 2 is ${JSON.stringify(encoding.slice(0, 40))}; only the base16 encoding is supported`);
  }
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw bad(`line 3 must be exactly 64 hex digits, got ${hex.length} characters`);
  }
  return new TextEncoder().encode(formatSwarmKey(Buffer.from(hex, 'hex')));
}

/** Reads and checks a swarm key file; a missing, unsafe or malformed file is a SwarmKeyError. */
export async function readSwarmKey(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array | null;
  try {
    bytes = await readPrivateFile(
      path,
      'swarm key',
      FILE_BYTES_MAX,
      (size) => new SwarmKeyError(`swarm key ${path} is ${size} bytes, far too large for a key`),
    );
  } catch (error) {
    if (error instanceof SwarmKeyError) throw error;
    throw new SwarmKeyError((error as Error).message, error);
  }
  if (bytes === null) {
    throw new SwarmKeyError(
      `no swarm key at ${path}: create one with \`timemesh keygen --swarm-key --out ${path}\` and copy it ` +
        `(mode 0600) to every node of the mesh, or leave swarmKey unset for an open mesh`,
    );
  }
  return parseSwarmKey(new TextDecoder('utf-8', { fatal: false }).decode(bytes), path);
}

/** `timemesh keygen --swarm-key`: a new random key at `path` (mode 0600); never replaces a file unless `force`. */
export async function generateSwarmKeyFile(path: string, options: { force?: boolean } = {}): Promise<void> {
  const force = options.force === true;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const refusal = (): SwarmKeyError =>
    new SwarmKeyError(
      `${path} already exists; refusing to overwrite it: every node of a private mesh shares that key, ` +
        `and replacing it cuts this node off from them. Pass --force to replace it, or choose another path.`,
    );
  if (!force) {
    try {
      await stat(path);
      throw refusal();
    } catch (error) {
      if (error instanceof SwarmKeyError) throw error;
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new SwarmKeyError(`cannot check ${path}: ${(error as Error).message}`, error);
      }
    }
  }
  try {
    await writeFileAtomic(path, formatSwarmKey(randomBytes(KEY_BYTES)), { mode: 0o600, overwrite: force });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw refusal();
    throw new SwarmKeyError(`cannot write the swarm key ${path}: ${(error as Error).message}`, error);
  }
}
