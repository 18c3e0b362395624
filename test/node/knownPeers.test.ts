/**
 * Known peers, end to end through startNode (the daemon's own wiring, in-process): a node that
 * stops writes the peers it was connected to into its state file, and after a restart without any
 * bootstrap flag it rejoins the mesh through them even though its bootstrap peer is gone.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startNode } from '../../node/daemon.ts';
import type { RunningNode } from '../../node/daemon.ts';
import { resolveNodeConfig } from '../../node/config.ts';
import { bootstrapWithKnownPeers } from '../../node/knownPeers.ts';

const silent = pino({ level: 'silent' });

async function waitFor(what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('known peers', () => {
  const dirs: string[] = [];
  const running: RunningNode[] = [];
  after(async () => {
    await Promise.all(running.map((n) => n.stop()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  async function start(dataDir: string, bootstrap: string[]): Promise<RunningNode> {
    const config = resolveNodeConfig({
      flags: {
        'data-dir': dataDir,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        api: '127.0.0.1:0',
        network: 'known-peers',
        ...(bootstrap.length > 0 ? { bootstrap } : {}),
      },
    });
    const node = await startNode(config, silent);
    running.push(node);
    return node;
  }

  it('puts configured peers first, then known ones, without duplicates or itself', () => {
    assert.deepEqual(
      bootstrapWithKnownPeers(
        ['/ip4/10.0.0.1/tcp/1/p2p/A'],
        ['/ip4/10.0.0.2/tcp/1/p2p/B', '/ip4/10.0.0.1/tcp/1/p2p/A', '/ip4/10.0.0.3/tcp/1/p2p/SELF'],
        'SELF',
      ),
      ['/ip4/10.0.0.1/tcp/1/p2p/A', '/ip4/10.0.0.2/tcp/1/p2p/B'],
    );
  });

  it('are saved at shutdown and let a restarted node rejoin without its bootstrap peer', async () => {
    const [dirA, dirB, dirC] = await Promise.all(
      ['a', 'b', 'c'].map((n) => mkdtemp(join(tmpdir(), `tm-known-${n}-`))),
    );
    dirs.push(dirA!, dirB!, dirC!);
    const a = await start(dirA!, []);
    const b = await start(dirB!, [a.multiaddrs[0]!]);
    let c = await start(dirC!, [a.multiaddrs[0]!]);
    // C learns of B through A (pubsub peer discovery) and connects to it.
    await waitFor('C to connect to B', () => c.libp2p.getPeers().some((p) => p.toString() === b.peerId));
    await c.stop();

    const state = JSON.parse(await readFile(join(dirC!, 'state.json'), 'utf8')) as { knownPeers?: string[] };
    const known = state.knownPeers ?? [];
    assert.ok(
      known.some((addr) => addr.endsWith(`/p2p/${b.peerId}`)),
      `B in ${JSON.stringify(known)}`,
    );
    assert.ok(
      known.some((addr) => addr.endsWith(`/p2p/${a.peerId}`)),
      `A in ${JSON.stringify(known)}`,
    );
    // Dialable listen addresses from identify, not the ephemeral port of an inbound connection.
    const bAddr = known.find((addr) => addr.endsWith(`/p2p/${b.peerId}`))!;
    assert.equal(bAddr, `${b.multiaddrs[0]!.split('/p2p/')[0]}/p2p/${b.peerId}`);

    await a.stop(); // the bootstrap peer is gone
    c = await start(dirC!, []); // and C is given no bootstrap peer at all
    await waitFor('restarted C to reach B', () => c.libp2p.getPeers().some((p) => p.toString() === b.peerId));
  });
});
