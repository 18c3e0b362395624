/**
 * Assembles the libp2p v3 node a timemesh daemon runs: TCP, Noise, Yamux, identify, ping, bootstrap,
 * and gossipsub from @libp2p/gossipsub 17.x (the continuation of @chainsafe/libp2p-gossipsub, whose
 * 14.x line does not run on libp2p v3) with strict signing, so every gossip message carries its
 * publisher's signature and gossipsub drops unsigned ones before our validator sees them.
 *
 * Node 20 needs the Promise.withResolvers polyfill (node/polyfills.ts) loaded before this module.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { bootstrap } from '@libp2p/bootstrap';
import { gossipsub } from '@libp2p/gossipsub';
import type { GossipSub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import type { Identify } from '@libp2p/identify';
import type { Libp2p, PrivateKey } from '@libp2p/interface';
import { preSharedKey } from '@libp2p/pnet';
import { prometheusMetrics } from '@libp2p/prometheus-metrics';
import type { Registry } from 'prom-client';
import { ping } from '@libp2p/ping';
import { pubsubPeerDiscovery } from '@libp2p/pubsub-peer-discovery';
import type { Ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';

export interface MeshServices {
  identify: Identify;
  ping: Ping;
  pubsub: GossipSub;
  [key: string]: unknown;
}

export type MeshLibp2p = Libp2p<MeshServices>;

export interface MeshNodeOptions {
  privateKey: PrivateKey;
  /** Multiaddrs to listen on, e.g. /ip4/127.0.0.1/tcp/0. */
  listen: string[];
  /** Full multiaddrs (with /p2p/<id>) of peers to join the mesh through. */
  bootstrap: string[];
  /** Mesh name: peers of other networks are not discovered (and their topic is another). */
  network: string;
  /** How often this node broadcasts its addresses for peer discovery. */
  discoveryIntervalMs?: number;
  /** Largest gossip message accepted, in bytes (announcements are far smaller). */
  maxGossipMessageBytes?: number;
  /**
   * Membership control: when given, connections to and from peers it refuses are denied, after the
   * Noise handshake has proven their peer id. Keeps Sybil identities out of a closed mesh.
   */
  allowPeer?: (peerId: string) => boolean;
  /**
   * Private network: the swarm key file's bytes (node/swarmKey.ts). Every connection is wrapped in
   * XSalsa20 under this key before Noise, so hosts without it cannot even handshake.
   */
  swarmKey?: Uint8Array;
  /**
   * Where libp2p's own metrics go (connections, streams, dials, bytes per protocol, gossipsub). One
   * node per process only: @libp2p/prometheus-metrics keeps its metric objects in a module-wide map,
   * so a second node in the same process would share (and fight over) them.
   */
  metricsRegistry?: Registry;
  /**
   * IP addresses whose peers gossipsub must not penalise for sharing an address. Its IP-colocation
   * score graylists every peer once more than about 13 share one IP, which silently stops gossip for
   * many nodes behind one NAT or on one test host. Loopback is always included.
   */
  colocatedIps?: readonly string[];
}

const LOOPBACK_IPS = ['127.0.0.1', '::1'];

export async function createMeshNode(options: MeshNodeOptions): Promise<MeshLibp2p> {
  return createLibp2p({
    privateKey: options.privateKey,
    addresses: { listen: options.listen },
    transports: [tcp()],
    ...(options.metricsRegistry === undefined
      ? {}
      : {
          metrics: prometheusMetrics({
            registry: options.metricsRegistry,
            collectDefaultMetrics: false, // the API's registry collects the process metrics itself
            preserveExistingMetrics: true,
          }),
        }),
    ...(options.swarmKey === undefined
      ? {}
      : { connectionProtector: preSharedKey({ psk: options.swarmKey }) }),
    ...(options.allowPeer === undefined
      ? {}
      : {
          connectionGater: {
            denyDialPeer: (peerId) => !options.allowPeer!(peerId.toString()),
            denyInboundEncryptedConnection: (peerId) => !options.allowPeer!(peerId.toString()),
            denyOutboundEncryptedConnection: (peerId) => !options.allowPeer!(peerId.toString()),
          },
        }),
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Bootstrap gets a node into the mesh; pubsub peer discovery then spreads every node's signed
    // peer record (its addresses) over gossipsub, so a node can dial peers it only heard of.
    peerDiscovery: [
      ...(options.bootstrap.length > 0 ? [bootstrap({ list: options.bootstrap })] : []),
      pubsubPeerDiscovery({
        interval: options.discoveryIntervalMs ?? 10_000,
        topics: [`timemesh/${options.network}/peer-discovery`],
        listenOnly: false,
      }),
    ],
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictSign',
        // A node alone in its mesh still publishes (nobody hears it yet); not an error.
        allowPublishToZeroTopicPeers: true,
        maxInboundDataLength: options.maxGossipMessageBytes ?? 16 * 1024,
        scoreParams: {
          IPColocationFactorWhitelist: new Set([...LOOPBACK_IPS, ...(options.colocatedIps ?? [])]),
        },
      }),
    },
  });
}
