/**
 * `timemesh start`: one node per host. Wires the parts together and owns their lifetimes:
 *
 *   config → identity (data dir) → restored state → libp2p mesh → TimeService (the NodeCore driver)
 *          → HTTP API → prints its multiaddrs and API URL → runs until SIGINT/SIGTERM
 *
 * Restart monotonicity: the HLC high-water mark is persisted ahead of the wall clock (10 s window,
 * atomic writes). After a restart the node waits until the host clock has passed the restored mark
 * before it serves anything, as CockroachDB does; otherwise its first HLCs would run ahead of true
 * time by up to the window and peers would reject them as too far in the future. /readyz says 503
 * meanwhile.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { MeshLibp2p } from '../mesh/meshNode.ts';
import { createMeshNode } from '../mesh/meshNode.ts';
import { createSigner } from '../mesh/signing.ts';
import { TimeService } from '../mesh/timeService.ts';
import { buildApi } from './api.ts';
import type { NodeConfig } from './config.ts';
import { loadOrCreateIdentity } from './identity.ts';
import { bootstrapWithKnownPeers, collectKnownPeers } from './knownPeers.ts';
import { hostOscillator } from './localClock.ts';
import { StateStore } from './stateStore.ts';
import { readSwarmKey } from './swarmKey.ts';

/** How often the connected peers are written to the state file (and at shutdown). */
const KNOWN_PEERS_SAVE_INTERVAL_MS = 60_000;

export interface RunningNode {
  peerId: string;
  multiaddrs: string[];
  apiUrl: string;
  service: TimeService;
  libp2p: MeshLibp2p;
  stop(): Promise<void>;
}

export async function startNode(
  config: NodeConfig,
  log: Logger = createLogger(config.logLevel),
): Promise<RunningNode> {
  const identity = await loadOrCreateIdentity(config.dataDir);
  log.info({ peerId: identity.peerId, created: identity.created, dataDir: config.dataDir }, 'identity');
  const store = new StateStore(config.dataDir, { reset: config.resetState });
  const restored = await store.load();

  const roster = config.roster === null ? null : new Set(config.roster);
  const swarmKey = config.swarmKey === null ? undefined : await readSwarmKey(config.swarmKey);
  if (swarmKey !== undefined) log.info({ swarmKey: config.swarmKey }, 'private network: swarm key in use');
  const metricsRegistry = new Registry();
  const libp2p = await createMeshNode({
    metricsRegistry,
    privateKey: identity.privateKey,
    network: config.network,
    listen: config.listen,
    // Peers from the last run come after the configured ones: a node whose bootstrap peers are gone
    // still finds its way back into the mesh.
    bootstrap: bootstrapWithKnownPeers(config.bootstrap, restored.knownPeers ?? [], identity.peerId),
    ...(swarmKey === undefined ? {} : { swarmKey }),
    ...(roster === null
      ? {}
      : { allowPeer: (peerId: string) => roster.has(peerId) || peerId === identity.peerId }),
  });

  let ready = false;
  const service = new TimeService({
    libp2p,
    clock: hostOscillator({ offsetNs: config.clockOffsetMs * 1e6, driftPpm: config.clockDriftPpm }),
    signer: createSigner(identity.privateKey, identity.peerId),
    network: config.network,
    core: { ...config.core, localStratum: config.localStratum },
    restored: {
      ...(restored.hlcHighWaterNs !== undefined ? { hlcHighWaterNs: restored.hlcHighWaterNs } : {}),
      ...(restored.frequencyPpm !== undefined ? { frequencyPpm: restored.frequencyPpm } : {}),
      ...(restored.announcementSeq !== undefined ? { announcementSeq: restored.announcementSeq } : {}),
    },
    inboundRequestsPerSecond: config.inboundRequestsPerSecond,
    persist: async (state) => {
      await store.save(state);
    },
    log: (level, msg, fields) => log[level](fields ?? {}, msg),
  });

  const api: FastifyInstance = buildApi(service, {
    peerId: identity.peerId,
    multiaddrs: () => libp2p.getMultiaddrs().map(String),
    ready: () => ready && service.hlcReady(),
    logger: false,
    registry: metricsRegistry,
  });
  await api.listen({ host: config.api.host, port: config.api.port });
  const address = api.server.address();
  const apiPort = typeof address === 'object' && address !== null ? address.port : config.api.port;
  const apiUrl = `http://${config.api.host.includes(':') ? `[${config.api.host}]` : config.api.host}:${apiPort}`;

  // Wait out the restored HLC mark before serving (see the header).
  if (restored.hlcHighWaterNs !== undefined) {
    const aheadMs = Number(restored.hlcHighWaterNs - BigInt(Date.now()) * 1_000_000n) / 1e6;
    if (aheadMs > 0) {
      log.info(
        { waitMs: Math.ceil(aheadMs) },
        'waiting for the clock to pass the restored HLC high-water mark',
      );
      await new Promise((r) => setTimeout(r, Math.ceil(aheadMs) + 1));
    }
  }
  await service.start();
  ready = true;

  let knownPeers = restored.knownPeers ?? [];
  const saveKnownPeers = async (): Promise<void> => {
    try {
      knownPeers = await collectKnownPeers(libp2p, knownPeers);
      await store.save({ knownPeers });
    } catch (err) {
      log.warn({ err }, 'could not save the known peers');
    }
  };
  const knownPeersTimer = setInterval(() => void saveKnownPeers(), KNOWN_PEERS_SAVE_INTERVAL_MS);
  knownPeersTimer.unref();

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    ready = false;
    clearInterval(knownPeersTimer);
    await saveKnownPeers();
    await service.stop();
    await api.close();
    await libp2p.stop();
    log.info('stopped');
  };
  return {
    peerId: identity.peerId,
    multiaddrs: libp2p.getMultiaddrs().map(String),
    apiUrl,
    service,
    libp2p,
    stop,
  };
}

/** pino JSON logs on stderr by default; pretty when stderr is a terminal. */
export function createLogger(level: string): Logger {
  if (process.stderr.isTTY) {
    return pino({ level, transport: { target: 'pino-pretty', options: { destination: 2 } } });
  }
  return pino({ level }, pino.destination(2));
}

/** Runs a node until SIGINT or SIGTERM, then stops it gracefully (persisting what must survive). */
export async function runUntilSignalled(config: NodeConfig): Promise<void> {
  const log = createLogger(config.logLevel);
  const node = await startNode(config, log);
  for (const addr of node.multiaddrs) process.stdout.write(`listening ${addr}\n`);
  process.stdout.write(`api ${node.apiUrl}\n`);
  process.stdout.write(`peer id ${node.peerId}\n`);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string): void => {
      log.info({ signal }, 'shutting down');
      node.stop().then(resolve, (err: unknown) => {
        log.error({ err }, 'error while stopping');
        resolve();
      });
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
  });
}
