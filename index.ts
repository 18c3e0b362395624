/**
 * timemesh — the package's public API: `import { startNode, simulate } from 'timemesh'`.
 *
 * - `startNode(options)` runs a node in this process: the libp2p mesh, the time service and the HTTP
 *   API, exactly as `timemesh start` does. The options are the config file's settings as a JavaScript
 *   object (same keys, same values, same validation, node/config.ts), so a bad option is the same
 *   `ConfigError` (code TM_ERR_CONFIG) the CLI prints, naming the option. The defaults are the CLI's:
 *   listen /ip4/0.0.0.0/tcp/7071, API 127.0.0.1:7070, data dir $XDG_DATA_HOME/timemesh or ~/.timemesh.
 *   Several nodes in one process (or beside a running daemon) each need their own `dataDir`, and
 *   `listen: ['/ip4/127.0.0.1/tcp/0']`, `api: '127.0.0.1:0'` to take free ports. Unlike the CLI, no
 *   TIMEMESH_* environment variable and no config file is read: the options are the whole
 *   configuration (use `loadNodeConfig` + `startNodeWithConfig` for the CLI's behaviour).
 * - `simulate(scenario)` runs the deterministic simulator and returns the `timemesh.sim.report/1`
 *   report that `timemesh sim --json` writes: the same seed and scenario give a byte-identical
 *   `JSON.stringify(report)`. A scenario may be partial (every key has a default, as in a scenario
 *   file), and times whose key ends in S, and `duration`, accept strings such as "90s" or "1h30m".
 * - The pure building blocks: the hybrid logical clock and its codecs (hlc/), the fault-tolerant
 *   combination (bft/), and every typed error (all are `TimemeshError`s with a stable `code`).
 *
 * Hazard: this module loads node/polyfills.ts first (Promise.withResolvers, which libp2p v3 needs and
 * Node 20 lacks); keep that import first. libp2p itself is loaded only when `startNode` is first
 * called, so `simulate` and the pure functions do not pay for it.
 *
 * @example
 *   import { startNode, simulate, formatHlc, ConfigError } from 'timemesh';
 *
 *   const node = await startNode({
 *     listen: ['/ip4/127.0.0.1/tcp/0'],
 *     api: '127.0.0.1:0',
 *     dataDir: './node-a',
 *     localStratum: 8,
 *     logLevel: 'warn',
 *   });
 *   console.log(node.peerId, node.multiaddrs, node.apiUrl);
 *   const t = node.time(); // { bestNs, earliestNs, latestNs, uncertaintyNs, status, stratum, hlc, … }
 *   console.log(t.status, t.bestNs, t.hlc && formatHlc(t.hlc));
 *   await node.stop();
 *
 *   const report = simulate({ nodes: 20, anchors: 2, duration: '5m', seed: 'demo' });
 *   console.log(report.honest.containment, report.honest.errorNsP99);
 */
import './node/polyfills.ts';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { TimemeshError } from './hlc/errors.ts';
import { HlcExhaustedError } from './hlc/hlcErrors.ts';
import type { HlcObserveResult, HlcTimestamp } from './hlc/hlc.ts';
import { parseHlc } from './hlc/hlcCodec.ts';
import type { AnchorKind, SyncStatus } from './hlc/timeTypes.ts';
import { ConfigError, resolveNodeConfig } from './node/config.ts';
import type { LogLevel, NodeConfig, nodeConfigFileSchema } from './node/config.ts';
import type { NodeSnapshot } from './node/core/nodeCore.ts';
import type { RunningNode } from './node/daemon.ts';
import type { SimReport } from './sim/reportTypes.ts';
import { resolveScenario } from './sim/scenario.ts';
import type { Scenario } from './sim/scenarioTypes.ts';
import { simulate as simulateResolved } from './sim/simulator.ts';
import type { SimProgress } from './sim/simulator.ts';
import type { z } from 'zod';

// ---------------------------------------------------------------------------------------------------
// startNode

/**
 * A node's settings: the config file's keys (see `timemesh help`, the README's tables and
 * `nodeConfigJsonSchema()`), validated exactly as a config file is. Absent keys take the CLI's
 * defaults. Keywords that TOML needs ("off", "auto") are accepted here too, as is null.
 */
export interface NodeSettings {
  /** Mesh name (1 to 32 of a-z, 0-9, -); default "default". */
  network?: string;
  /** TCP multiaddrs to listen on, without /p2p/; default ['/ip4/0.0.0.0/tcp/7071']. */
  listen?: readonly string[];
  /** Full multiaddrs ending in /p2p/<peer id> of peers to join through; default none. */
  bootstrap?: readonly string[];
  /** HOST:PORT of the HTTP API (port 0: any free port); default "127.0.0.1:7070". */
  api?: string;
  /** Directory of identity.key and state.json; relative to the working directory; ~ expanded. */
  dataDir?: string;
  logLevel?: LogLevel;
  /** TESTING AID: run the node's oscillator this many ms off the host clock (never sets a clock). */
  clockOffsetMs?: number;
  /** TESTING AID: run the node's oscillator this many ppm fast (+) or slow (−). */
  clockDriftPpm?: number;
  /** Serve the own clock as a stratum-N reference when nothing is better (1..15); default off. */
  localStratum?: number | 'off' | null;
  /** Ed25519 peer ids allowed in the mesh; default any peer. */
  roster?: readonly string[] | null;
  /** libp2p private-network key file; default off. */
  swarmKey?: string | null;
  core?: {
    pollPeers?: number;
    faultTolerance?: number | 'auto' | null;
    minPollS?: number;
    maxPollS?: number;
  } | null;
  inboundRequestsPerSecond?: number;
  /** ntp://HOST[:PORT][?minpoll=N&maxpoll=N] and tsq://HOST[:PORT][?…] URLs; default none. */
  anchors?: readonly string[];
  /** HOST:PORT (UDP) of the NTP server; default off. */
  serveNtp?: string | null;
  /** HOST:PORT (QUIC) of the TSQ server; default off. */
  serveTsq?: string | null;
  /** GPS receiver DEVICE[:BAUD]; default off. */
  gps?: string | null;
  gpsFudgeMs?: number;
  /** PPS device such as /dev/pps0; default off. */
  pps?: string | null;
  ppsFudgeNs?: number;
  /** Discipline the host's system clock (root or CAP_SYS_TIME); default false. */
  disciplineSystemClock?: boolean;
  disciplineDryRun?: boolean;
  stepThresholdMs?: number;
  maxOffsetMs?: number | 'off' | null;
  maxBackwardStepMs?: number;
}

// Compile-time guard: NodeSettings has exactly the config file's keys, so a setting added to
// node/config.ts without a line here fails the type check (and so does a key invented here).
type SchemaKeys = keyof z.input<typeof nodeConfigFileSchema>;
type SameKeys<A, B> = [Exclude<A, B>, Exclude<B, A>] extends [never, never] ? true : never;
const settingsMatchConfigFile: SameKeys<keyof NodeSettings, SchemaKeys> = true;
void settingsMatchConfigFile;

/** `startNode`'s options: the node's settings, plus what only a library caller can give. */
export interface StartNodeOptions extends NodeSettings {
  /** Start with empty persisted state (`--reset-state`; a one-off decision). Default false. */
  resetState?: boolean;
  /** A pino logger for the node's logs; default pino JSON on stderr at `logLevel` (as the CLI). */
  logger?: Logger;
}

/** The node's time at one instant: what GET /v1/time answers, with bigints instead of strings. */
export interface NodeTime {
  /** Best estimate, ns since the Unix epoch (monotonic, slewed). */
  bestNs: bigint;
  /** The interval that contains true time; null while unsynchronized (no bound). */
  earliestNs: bigint | null;
  latestNs: bigint | null;
  /** max(best − earliest, latest − best); null while unsynchronized. */
  uncertaintyNs: bigint | null;
  status: SyncStatus;
  anchored: boolean;
  anchorKind: AnchorKind;
  /** 16 while unsynchronized, as in NTP. */
  stratum: number;
  /** A fresh HLC timestamp, ordered after everything this node issued; null while the HLC waits for
   * its high-water mark to be persisted (right after start). */
  hlc: HlcTimestamp | null;
}

/** A node running in this process (`startNode`). */
export interface TimemeshNode {
  readonly peerId: string;
  /** Listen multiaddrs with /p2p/<peer id>, as printed on start (a port 0 is the bound port). */
  readonly multiaddrs: readonly string[];
  /** The HTTP API's base URL, e.g. http://127.0.0.1:7070. */
  readonly apiUrl: string;
  /** Where the NTP / TSQ servers listen, or null when off. */
  readonly ntpServer: { host: string; port: number } | null;
  readonly tsqServer: { host: string; port: number } | null;
  /** The resolved configuration the node runs with. */
  readonly config: NodeConfig;
  /** The node's time now, with a fresh HLC (as GET /v1/time). */
  time(): NodeTime;
  /** A fresh HLC timestamp (as GET /v1/hlc); throws HlcExhaustedError while the HLC waits for its mark. */
  hlcNow(): HlcTimestamp;
  /**
   * Merges an HLC received from elsewhere (a timestamp or its text form "<wall>.<logical>.<node id>").
   * One too far ahead of this node's latest is rejected as a value ({ ok: false }), and counted; a
   * malformed text is the caller's mistake and throws HlcDecodeError.
   */
  hlcObserve(remote: HlcTimestamp | string): HlcObserveResult;
  /** Sync state, sources, last round and counters (what /v1/status and /v1/peers show). */
  snapshot(): NodeSnapshot;
  /** The daemon's handle: the TimeService, the libp2p node, the NTP client, GPS, PPS… */
  readonly running: RunningNode;
  /** Stops the node gracefully (persists state, closes the API and libp2p). Idempotent. */
  stop(): Promise<void>;
}

/** How validation problems in `startNode`'s options are labelled ("startNode options: api: …"). */
const OPTIONS_LABEL = 'startNode options';
/** Keys of StartNodeOptions that are not settings. */
const LIBRARY_ONLY_KEYS = ['resetState', 'logger'] as const;

/**
 * Resolves `startNode`'s options into a NodeConfig without starting anything: the CLI's validation
 * and defaults, the options in the place of a config file (and no environment). Throws ConfigError.
 */
export function resolveStartNodeOptions(
  options: StartNodeOptions = {},
  cwd: string = process.cwd(),
): NodeConfig {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError([`${OPTIONS_LABEL}: expected an object of settings, got ${typeof options}`]);
  }
  const settings: Record<string, unknown> = { ...options };
  for (const key of LIBRARY_ONLY_KEYS) delete settings[key];
  if (options.resetState !== undefined && typeof options.resetState !== 'boolean') {
    throw new ConfigError([`${OPTIONS_LABEL}: resetState: expected true or false`]);
  }
  // The options take a config file's place: a relative dataDir is then relative to the file's
  // directory, so the pseudo-path sits in the working directory.
  const path = resolve(cwd, `<${OPTIONS_LABEL}>`);
  try {
    const config = resolveNodeConfig({
      file: { path, raw: settings },
      flags: options.resetState === true ? { 'reset-state': true } : {},
      env: {},
      cwd,
    });
    return { ...config, configFile: null, sources: relabel(config.sources, path) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const fileLabel = `config file ${path}`;
    throw new ConfigError(
      err.issues.map((issue) =>
        issue.startsWith(fileLabel) ? OPTIONS_LABEL + issue.slice(fileLabel.length) : issue,
      ),
      { cause: err },
    );
  }
}

function relabel(sources: Record<string, string>, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, label] of Object.entries(sources)) {
    out[key] = label === `config file ${path}` ? OPTIONS_LABEL : label;
  }
  return out;
}

/**
 * Starts a node in this process (see the header). Resolves once it listens and serves its API;
 * rejects with ConfigError for a bad option, or with the start-up failure (port in use, bad key…).
 */
export async function startNode(options: StartNodeOptions = {}): Promise<TimemeshNode> {
  const config = resolveStartNodeOptions(options);
  return startNodeWithConfig(config, options.logger);
}

/**
 * Starts a node from a resolved NodeConfig, e.g. from `loadNodeConfig({ flags, env: process.env })`
 * as the CLI builds it. Loads libp2p on first use.
 */
export async function startNodeWithConfig(config: NodeConfig, logger?: Logger): Promise<TimemeshNode> {
  const daemon = await import('./node/daemon.ts');
  const running = await daemon.startNode(config, logger ?? daemon.createLogger(config.logLevel));
  const { service } = running;
  const freshHlc = (): HlcTimestamp | null => {
    try {
      return service.hlcNow();
    } catch (err) {
      if (err instanceof HlcExhaustedError) return null;
      throw err;
    }
  };
  return {
    peerId: running.peerId,
    multiaddrs: Object.freeze([...running.multiaddrs]),
    apiUrl: running.apiUrl,
    ntpServer: running.ntpServer,
    tsqServer: running.tsqServer,
    config,
    running,
    time(): NodeTime {
      // One local instant for the reading and the served stratum/anchor, as GET /v1/time does.
      const localNs = service.localNowNs();
      const r = service.read(localNs);
      const served = service.serveTime(localNs);
      const bounded = r.status !== 'unsynchronized';
      const below = r.bestNs - r.earliestNs;
      const above = r.latestNs - r.bestNs;
      return {
        bestNs: r.bestNs,
        earliestNs: bounded ? r.earliestNs : null,
        latestNs: bounded ? r.latestNs : null,
        uncertaintyNs: bounded ? (below > above ? below : above) : null,
        status: r.status,
        anchored: r.status === 'anchored',
        anchorKind: served.anchorKind,
        stratum: served.stratum,
        hlc: freshHlc(),
      };
    },
    hlcNow: () => service.hlcNow(),
    hlcObserve: (remote) => {
      if (typeof remote !== 'string') return service.hlcObserve(remote);
      const parsed = parseHlc(remote);
      if (!parsed.ok) throw parsed.error;
      return service.hlcObserve(parsed.value);
    },
    snapshot: () => service.snapshot(),
    stop: () => running.stop(),
  };
}

// ---------------------------------------------------------------------------------------------------
// simulate

type Loose<T> = T extends readonly (infer U)[]
  ? readonly Loose<U>[]
  : T extends object
    ? { [K in keyof T]?: K extends `${string}S` ? Loose<T[K]> | string : Loose<T[K]> }
    : T;

/**
 * A scenario as a scenario file would give it: any subset of `Scenario`'s keys (the rest take their
 * defaults), `duration` as an alias of `durationS`, and times whose key ends in S as numbers of
 * seconds or strings such as "500ms", "90s", "10m", "1h30m".
 */
export type ScenarioInput = Loose<Omit<Scenario, 'durationS'>> & {
  duration?: number | string;
  durationS?: number | string;
};

export interface SimulateOptions {
  /** Called as virtual time advances: (virtual seconds done, events processed). */
  onProgress?: SimProgress;
  /** Names the scenario in validation errors; default "simulate()". */
  source?: string;
}

/**
 * Runs the deterministic simulator on a scenario (partial or complete) and returns its report, the
 * one `timemesh sim --json` writes. Throws ScenarioError (code TM_ERR_SCENARIO) naming every bad key.
 */
export function simulate(scenario: ScenarioInput | Scenario = {}, options: SimulateOptions = {}): SimReport {
  const resolved = resolveScenario(scenario, options.source ?? 'simulate()');
  return simulateResolved(resolved, options.onProgress);
}

// ---------------------------------------------------------------------------------------------------
// Re-exports: errors, configuration, simulator helpers, and the pure time algorithms.

export { TimemeshError };
export {
  CONFIG_ERROR_CODE,
  ConfigError,
  DEFAULT_API,
  DEFAULT_LISTEN,
  DEFAULT_NETWORK,
  LOG_LEVELS,
  defaultDataDir,
  loadConfigFile,
  loadNodeConfig,
  nodeConfigJsonSchema,
  parseAnchorUrl,
  resolveNodeConfig,
} from './node/config.ts';
export type { AnchorUrl, LogLevel, NodeConfig, NtpAnchorUrl, TsqAnchorUrl } from './node/config.ts';
export type { RunningNode } from './node/daemon.ts';
export type { NodeSnapshot } from './node/core/nodeCore.ts';
export type { SourceSnapshot, ServedTime } from './node/core/types.ts';
export { IdentityError } from './node/identity.ts';
export { SystemClockError } from './refclock/systemClock.ts';

export {
  SCENARIO_ERROR_CODE,
  ScenarioError,
  evaluateChecks,
  loadScenarioFile,
  parseDuration,
  resolveScenario,
} from './sim/scenario.ts';
export { formatSummary } from './sim/summary.ts';
export { renderHtmlReport } from './sim/htmlReport.ts';
export { REPORT_SCHEMA } from './sim/reportTypes.ts';
export type { AccuracyFigures, CheckResult, HonestFigures, NodeTrace, SimReport } from './sim/reportTypes.ts';
export { ANCHOR_KINDS as SIM_ANCHOR_MODELS, ATTACK_KINDS } from './sim/scenarioTypes.ts';
export type { AnchorModel, AttackKind, Scenario } from './sim/scenarioTypes.ts';
export type { SimProgress } from './sim/simulator.ts';

// hlc/ and bft/ are pure and their index files are their whole public API.
export * from './hlc/index.ts';
export * from './bft/index.ts';
