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
 *
 * Upstream anchors and time service (issue #4): an NTP client for the ntp:// anchors (every sample goes
 * to the core as a reference, kind 'ntp') and, with --serve-ntp, an NTP server answering with the
 * node's time; likewise a TSQ client per tsq:// anchor (kind 'tsq') and, with --serve-tsq, a TSQ
 * server over QUIC (self-signed certificate in <data dir>/tsq unless configured, responses signed
 * with the identity key on request). All start once the TimeService runs and stop before it.
 *
 * GPS (issue #5): with --gps DEVICE[:BAUD], a GpsSerial driver reads NMEA from the serial device and
 * every valid second goes to the core as a reference sample (kind 'gps', refId `gps:<device>`), with
 * the configured fudge. A device that is missing or goes away is not fatal: the driver retries in the
 * background (its open failures are logged at warn), so a receiver plugged in later is picked up.
 * With --pps DEVICE, PPS edges labelled with the GPS's seconds become the node's precise reference
 * (node/localRefclocks.ts); a PPS device that cannot be opened stops the start with its reason.
 *
 * System clock (issue #5): with --discipline-system-clock (root only, checked before anything
 * starts) a SystemClockDiscipline keeps CLOCK_REALTIME on the node's time once a second; with
 * --discipline-dry-run it only logs what it would do. Either way the node's own oscillator then runs
 * on CLOCK_MONOTONIC_RAW, which the kernel's slewing does not touch (see node/core/systemClockPolicy.ts).
 *
 * Dashboard (issue #6): the API serves a page at `/`; its charts read /v1/history, which a History
 * (node/history.ts) fills once a second from the moment the TimeService runs (an unref'd timer, stopped
 * first on stop()).
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { MeshLibp2p } from '../mesh/meshNode.ts';
import { createMeshNode } from '../mesh/meshNode.ts';
import { createSigner } from '../mesh/signing.ts';
import { TimeService } from '../mesh/timeService.ts';
import { TimemeshError } from '../hlc/errors.ts';
import { join } from 'node:path';
import type { GpsSerial } from '../refclock/gpsSerial.ts';
import type { PpsDriver } from '../refclock/ppsDriver.ts';
import { NtpClient } from '../refclock/ntpClient.ts';
import { registerNtpMetrics } from '../refclock/ntpMetrics.ts';
import { NtpServer, hashReferenceId } from '../refclock/ntpServer.ts';
import { TsqClient } from '../refclock/tsqClient.ts';
import { ed25519PrivateKeyFromLibp2pRaw, ed25519Signer } from '../refclock/tsqKeys.ts';
import { registerTsqMetrics } from '../refclock/tsqMetrics.ts';
import { startTsqServer } from '../refclock/tsqServer.ts';
import type { TsqServer } from '../refclock/tsqServer.ts';
import { DEFAULT_CORE_CONFIG } from './core/config.ts';
import { buildApi } from './api.ts';
import type { NodeConfig } from './config.ts';
import { loadOrCreateIdentity } from './identity.ts';
import { LocalRefclocks } from './localRefclocks.ts';
import { SystemClockDiscipline } from './systemClockDiscipline.ts';
import { registerSystemClockMetrics } from './systemClockMetrics.ts';
import { createKernelSystemClock, requireClockPrivileges } from '../refclock/systemClock.ts';
import { bootstrapWithKnownPeers, collectKnownPeers } from './knownPeers.ts';
import { hostOscillator } from './localClock.ts';
import { History, startHistorySampler } from './history.ts';
import { StateStore } from './stateStore.ts';
import { readSwarmKey } from './swarmKey.ts';

/** How often the connected peers are written to the state file (and at shutdown). */
const KNOWN_PEERS_SAVE_INTERVAL_MS = 60_000;

/**
 * Poll exponents of ntp:// anchors without ?minpoll/?maxpoll: chrony's minpoll 6 (64 s), and maxpoll 8
 * (256 s) rather than NTP's 10, because the core uses no sample older than sampleMaxAgeS (600 s): at
 * 1024 s the anchor would vanish from every other round. 256 s keeps two samples in that window.
 */
const NTP_ANCHOR_MIN_POLL = 6;
const NTP_ANCHOR_MAX_POLL = Math.min(8, Math.floor(Math.log2(DEFAULT_CORE_CONFIG.sampleMaxAgeS / 2)));

export interface RunningNode {
  peerId: string;
  multiaddrs: string[];
  apiUrl: string;
  service: TimeService;
  libp2p: MeshLibp2p;
  /** The NTP client of the ntp:// anchors (per-server state in snapshot()), or null when none. */
  ntpClient: NtpClient | null;
  /** Where the NTP server listens (the bound port when --serve-ntp asked for port 0), or null: off. */
  ntpServer: { host: string; port: number } | null;
  /** Where the TSQ server listens (QUIC, UDP), or null: off. */
  tsqServer: { host: string; port: number } | null;
  /** The GPS driver (counters in snapshot()), or null when --gps is off. */
  gps: GpsSerial | null;
  /** The PPS driver (counters in snapshot()), or null when --pps is off. */
  pps: PpsDriver | null;
  /** The system-clock discipline, or null when neither --discipline-system-clock nor --discipline-dry-run. */
  discipline: SystemClockDiscipline | null;
  stop(): Promise<void>;
}

export async function startNode(
  config: NodeConfig,
  log: Logger = createLogger(config.logLevel),
): Promise<RunningNode> {
  // Refuse first, before anything is created or listens: disciplining needs root (a dry run does not).
  const disciplining = config.disciplineSystemClock || config.disciplineDryRun;
  if (config.disciplineSystemClock && !config.disciplineDryRun) requireClockPrivileges();
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
    clock: hostOscillator({
      offsetNs: config.clockOffsetMs * 1e6,
      driftPpm: config.clockDriftPpm,
      // The discipline slews CLOCK_MONOTONIC along with realtime; the node must not run on what it steers.
      source: disciplining ? 'monotonic-raw' : 'monotonic',
    }),
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

  // Built before the API, which reads their state; started with the other anchors below.
  const refclocks = new LocalRefclocks(
    { gps: config.gps, gpsFudgeMs: config.gpsFudgeMs, pps: config.pps, ppsFudgeNs: config.ppsFudgeNs },
    service,
    (level, msg, fields) => log[level](fields ?? {}, msg),
  );
  const discipline = disciplining
    ? new SystemClockDiscipline({
        control: createKernelSystemClock({ allowChanges: !config.disciplineDryRun }),
        view: {
          localNowNs: () => service.localNowNs(),
          serveTime: (localNs) => service.serveTime(localNs),
          oscillatorFrequencyPpm: () => service.snapshot().frequencyPpm,
        },
        policy: {
          stepThresholdNs: Math.round(config.stepThresholdMs * 1e6),
          maxOffsetNs: config.maxOffsetMs === null ? null : Math.round(config.maxOffsetMs * 1e6),
          maxBackwardStepNs: Math.round(config.maxBackwardStepMs * 1e6),
        },
        dryRun: config.disciplineDryRun,
        log: (level, msg, fields) => log[level](fields, msg),
      })
    : null;
  const history = new History();
  let stopHistory = (): void => {};
  const api: FastifyInstance = buildApi(service, {
    peerId: identity.peerId,
    multiaddrs: () => libp2p.getMultiaddrs().map(String),
    ready: () => ready && service.hlcReady(),
    logger: false,
    registry: metricsRegistry,
    refclocks: () => refclocks.status(),
    systemClock: () => discipline?.snapshot() ?? null,
    history: (seconds) => history.lastSeconds(seconds),
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
  stopHistory = startHistorySampler(history, service);

  // Anchors and the NTP server (see the header). A server that cannot bind is the operator's mistake
  // (port in use, port 123 without privileges): stop what runs and say so.
  const ntpAnchors = config.anchors.filter((a) => a.scheme === 'ntp');
  const tsqAnchors = config.anchors.filter((a) => a.scheme === 'tsq');
  // One client per tsq:// anchor; its refId is the URL without the verification options.
  const tsqClients = tsqAnchors.map(
    (a) =>
      new TsqClient(`tsq://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}?mode=${a.mode}`, {
        clock: service,
        ...(a.insecure ? { insecure: true } : {}),
        ...(a.caFile !== null ? { caFile: a.caFile } : {}),
      }),
  );
  let tsqServer: TsqServer | null = null;
  const ntpClient =
    ntpAnchors.length === 0
      ? null
      : new NtpClient({
          servers: ntpAnchors.map((a) => ({
            url: a.url,
            host: a.host,
            port: a.port,
            minPoll: a.minPoll ?? Math.min(NTP_ANCHOR_MIN_POLL, a.maxPoll ?? NTP_ANCHOR_MIN_POLL),
            maxPoll: a.maxPoll ?? Math.max(NTP_ANCHOR_MAX_POLL, a.minPoll ?? NTP_ANCHOR_MAX_POLL),
          })),
          view: service,
          sink: (sample) => service.addReferenceSample(sample),
          log: (level, msg, fields) => log[level](fields ?? {}, msg),
        });
  let ntpServer: NtpServer | null = null;
  let ntpServerAddress: { host: string; port: number } | null = null;
  try {
    if (ntpClient !== null) {
      await ntpClient.start();
      log.info({ servers: ntpAnchors.map((a) => a.url) }, 'NTP anchors: polling');
    }
    await refclocks.start();
    discipline?.start();
    for (const client of tsqClients) client.start((sample) => service.addReferenceSample(sample));
    if (tsqClients.length > 0)
      log.info({ servers: tsqClients.map((c) => c.server.url) }, 'TSQ anchors: polling');
    if (config.serveTsq !== null) {
      const { host, port } = config.serveTsq;
      try {
        tsqServer = await startTsqServer({
          host,
          port,
          timeView: service,
          // A self-signed certificate is made on first start and kept here (see the README).
          certDir: join(config.dataDir, 'tsq'),
          // Signature Blocks with the node's identity key: a TSQ response starts with TLV type 1,
          // never with a mesh signature domain string, so the two uses cannot be confused.
          signer: ed25519Signer(ed25519PrivateKeyFromLibp2pRaw(identity.privateKey.raw)),
          sourceInfo: `timemesh ${identity.peerId}`,
        });
      } catch (err) {
        throw new TimemeshError(
          'TM_ERR_TSQ_SERVER',
          `serve-tsq ${host.includes(':') ? `[${host}]` : host}:${port}: cannot listen: ${(err as Error).message}`,
          { cause: err },
        );
      }
      log.info(
        { host: tsqServer.host, port: tsqServer.port, certSha256: tsqServer.certificate.fingerprintSha256 },
        'TSQ server: listening',
      );
    }
    if (config.serveNtp !== null) {
      ntpServer = new NtpServer({
        host: config.serveNtp.host,
        port: config.serveNtp.port,
        view: service,
        referenceId: hashReferenceId(identity.peerId),
        log: (level, msg, fields) => log[level](fields ?? {}, msg),
      });
      try {
        ntpServerAddress = await ntpServer.start();
      } catch (err) {
        ntpServer = null;
        const { host, port } = config.serveNtp;
        throw new TimemeshError(
          'TM_ERR_NTP_SERVER',
          `serve-ntp ${host.includes(':') ? `[${host}]` : host}:${port}: cannot listen: ${(err as Error).message}` +
            (port < 1024 && port !== 0 ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : ''),
          { cause: err },
        );
      }
      log.info(ntpServerAddress, 'NTP server: listening');
    }
  } catch (err) {
    stopHistory();
    discipline?.stop();
    await refclocks.stop();
    await tsqServer?.stop();
    await Promise.all(tsqClients.map((c) => c.stop()));
    await ntpClient?.stop();
    await service.stop();
    await api.close();
    await libp2p.stop();
    throw err;
  }
  registerNtpMetrics(metricsRegistry, { client: ntpClient, server: ntpServer });
  registerTsqMetrics(metricsRegistry, { clients: tsqClients, server: tsqServer });
  refclocks.registerMetrics(metricsRegistry);
  registerSystemClockMetrics(metricsRegistry, discipline);
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
    stopHistory();
    await saveKnownPeers();
    await ntpServer?.stop();
    await tsqServer?.stop();
    await ntpClient?.stop();
    await Promise.all(tsqClients.map((c) => c.stop()));
    discipline?.stop();
    await refclocks.stop();
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
    ntpClient,
    ntpServer: ntpServerAddress,
    tsqServer: tsqServer === null ? null : { host: tsqServer.host, port: tsqServer.port },
    gps: refclocks.gps,
    pps: refclocks.pps,
    discipline,
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
  if (node.ntpServer !== null) {
    const { host, port } = node.ntpServer;
    process.stdout.write(`ntp ${host.includes(':') ? `[${host}]` : host}:${port}\n`);
  }
  if (node.tsqServer !== null) {
    const { host, port } = node.tsqServer;
    process.stdout.write(`tsq ${host.includes(':') ? `[${host}]` : host}:${port}\n`);
  }

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
