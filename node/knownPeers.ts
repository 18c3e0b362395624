/**
 * Known peers: the dialable addresses of peers this node has been connected to, persisted in the
 * state file, so a restarted node rejoins the mesh even when its bootstrap peers are gone (as a
 * Bitcoin or IPFS node keeps its address book).
 *
 * A peer's address is taken from what it told us over identify (its listen addresses, in the peer
 * store), not from the connection: an inbound connection's remote port is ephemeral and not
 * dialable. Of those, the ones on the IP we actually reached it at come first; a peer that listens
 * on 0.0.0.0 reports every interface, and its loopback address is useless to anyone else.
 */
import type { Libp2p } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { KNOWN_PEERS_MAX } from './stateStore.ts';

/** At most this many addresses per peer: enough for IPv4 and IPv6, not a whole interface list. */
const ADDRS_PER_PEER = 2;

function hostOf(addr: Multiaddr): string | undefined {
  return addr.getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6' || c.name.startsWith('dns'))
    ?.value;
}

function isTcp(addr: Multiaddr): boolean {
  const names = addr.getComponents().map((c) => c.name);
  return names.includes('tcp') && !names.includes('p2p-circuit');
}

const LOOPBACK = /^(127\.|::1$)/;

/**
 * Full multiaddrs (…/p2p/<id>) of the peers connected now, most useful first, then the `previous`
 * list's entries for peers not connected now (a peer that is down for a while is not forgotten at
 * once), capped at KNOWN_PEERS_MAX.
 */
export async function collectKnownPeers(libp2p: Libp2p, previous: readonly string[] = []): Promise<string[]> {
  const out: string[] = [];
  const connectedIds = new Set<string>();
  for (const connection of libp2p.getConnections()) {
    const id = connection.remotePeer.toString();
    if (connectedIds.has(id)) continue;
    connectedIds.add(id);
    const reachedAt = hostOf(connection.remoteAddr);
    let addrs: Multiaddr[];
    try {
      addrs = (await libp2p.peerStore.get(connection.remotePeer)).addresses.map((a) => a.multiaddr);
    } catch {
      continue; // not in the peer store (identify has not run yet): nothing dialable to keep
    }
    const dialable = addrs.filter((a) => {
      const host = hostOf(a);
      if (!isTcp(a) || host === undefined || host === '0.0.0.0' || host === '::') return false;
      // A loopback address only helps when we reached the peer over loopback (same host).
      return !LOOPBACK.test(host) || (reachedAt !== undefined && LOOPBACK.test(reachedAt));
    });
    dialable.sort((a, b) => Number(hostOf(b) === reachedAt) - Number(hostOf(a) === reachedAt));
    for (const a of dialable.slice(0, ADDRS_PER_PEER)) {
      const text = a.toString();
      out.push(text.includes('/p2p/') ? text : `${text}/p2p/${id}`);
    }
  }
  for (const addr of previous) {
    const id = addr.slice(addr.lastIndexOf('/p2p/') + 5);
    if (!connectedIds.has(id) && !out.includes(addr)) out.push(addr);
  }
  return out.slice(0, KNOWN_PEERS_MAX);
}

/** Bootstrap list for a start: the configured peers, then the known ones, without duplicates or self. */
export function bootstrapWithKnownPeers(
  configured: readonly string[],
  known: readonly string[],
  selfPeerId: string,
): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const addr of [...configured, ...known]) {
    if (seen.has(addr) || addr.endsWith(`/p2p/${selfPeerId}`)) continue;
    seen.add(addr);
    out.push(addr);
  }
  return out;
}
