/**
 * Membership control over real libp2p on loopback: a private-network (swarm) key keeps out every
 * host without it, before Noise; a roster keeps out peer ids not on it, after Noise has proven them.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { createMeshNode } from '../../mesh/meshNode.ts';
import type { MeshLibp2p, MeshNodeOptions } from '../../mesh/meshNode.ts';
import { generateSwarmKeyFile, readSwarmKey } from '../../node/swarmKey.ts';

const started: MeshLibp2p[] = [];

async function node(extra: Partial<MeshNodeOptions> = {}): Promise<MeshLibp2p> {
  const n = await createMeshNode({
    privateKey: await generateKeyPair('Ed25519'),
    network: 'membership',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: [],
    ...extra,
  });
  started.push(n);
  return n;
}

/** Dials `to` from `from`; resolves to the error message, or null when the connection held. */
async function dialOutcome(from: MeshLibp2p, to: MeshLibp2p): Promise<string | null> {
  try {
    await from.dial(multiaddr(to.getMultiaddrs()[0]!.toString()), { signal: AbortSignal.timeout(5000) });
    // A gater refusal on the far side closes the connection right after the handshake.
    await new Promise((r) => setTimeout(r, 300));
    return from.getConnections(to.peerId).length > 0 ? null : 'closed by the far side';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('membership control over real libp2p', () => {
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(started.map((n) => n.stop()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  async function swarmKey(): Promise<Uint8Array> {
    const dir = await mkdtemp(join(tmpdir(), 'tm-swarm-'));
    dirs.push(dir);
    const path = join(dir, 'swarm.key');
    await generateSwarmKeyFile(path);
    assert.match(await readFile(path, 'utf8'), /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/);
    return readSwarmKey(path);
  }

  it('a swarm key admits holders of the same key and nobody else', async () => {
    const key = await swarmKey();
    const otherKey = await swarmKey();
    const a = await node({ swarmKey: key });
    const b = await node({ swarmKey: key });
    const open = await node();
    const stranger = await node({ swarmKey: otherKey });

    assert.equal(await dialOutcome(b, a), null, 'same key: connected');
    assert.notEqual(await dialOutcome(open, a), null, 'no key: refused');
    assert.notEqual(await dialOutcome(stranger, a), null, 'another key: refused');
    assert.notEqual(await dialOutcome(a, open), null, 'a keyed node cannot reach an open one either');
    assert.deepEqual(
      a.getPeers().map(String),
      [b.peerId.toString()],
      'only the key holder is a peer of the private node',
    );
  });

  it('a roster admits listed peer ids only, in both directions', async () => {
    const memberKey = await generateKeyPair('Ed25519');
    const member = peerIdFromPrivateKey(memberKey).toString();
    const gated = await node({ allowPeer: (id) => id === member });
    const admitted = await node({ privateKey: memberKey });
    const outsider = await node();

    assert.equal(await dialOutcome(admitted, gated), null, 'listed peer: connected');
    assert.notEqual(await dialOutcome(outsider, gated), null, 'unlisted peer dialling in: refused');
    assert.notEqual(await dialOutcome(gated, outsider), null, 'dialling out to an unlisted peer: refused');
    assert.deepEqual(gated.getPeers().map(String), [member]);
  });
});
