/**
 * The daemon's configuration: command-line flags, TIMEMESH_* environment variables and a config file
 * (YAML or TOML), resolved into one validated `NodeConfig`.
 *
 * Precedence, per setting: flag > environment > config file > embedded default. Each source is
 * validated on its own, so an error names the source and the setting in the operator's own words:
 *
 *   config file timemesh.yaml: api: expected HOST:PORT, got "7070"
 *   flag --clock-offset-ms: expected a number of milliseconds within ±86400000 (1 day), got "abc"
 *   environment TIMEMESH_POLL_PEERS: expected an integer ≥ 1, got "0"
 *
 * Invariants:
 * - A NodeConfig that leaves this module is complete and valid: every default filled in, every
 *   multiaddr parsed, every peer id checked, `dataDir` absolute. The daemon need not re-validate.
 * - Validation is strict: an unknown file key, flag or TIMEMESH_* variable is an error (with a
 *   "did you mean" when one is close), never silently ignored, because a typo such as
 *   `TIMEMESH_BOOTSTRAPS` would otherwise start a node that quietly joins nothing.
 * - Every problem is reported at once, one line each, so a configuration can be fixed in one pass.
 *   Cross-setting rules (maxPollS ≥ minPollS) run only once every setting is individually valid.
 * - Resolution is a pure function of its inputs (flags, env, the parsed file, cwd, home directory);
 *   only `loadConfigFile` and `loadNodeConfig` read the disk.
 *
 * Strings from flags and the environment are converted before validation: numbers from their decimal
 * text; list settings (listen, bootstrap, roster) split on commas, and repeated flags accumulate. An
 * empty environment variable counts as unset (the docker-compose habit of `TIMEMESH_X=`). The keywords
 * "auto" (faultTolerance: derive f as ⌊(n−1)/3⌋) and "off" (localStratum: no local reference) are
 * accepted everywhere, since TOML has no null.
 *
 * Defaults, and why:
 * - listen /ip4/0.0.0.0/tcp/7071: every interface, so a second host can bootstrap from a fresh node;
 *   a fixed port, so its multiaddr survives restarts; 7071 beside the API's 7070 rather than libp2p's
 *   customary 4001, which a kubo (IPFS) daemon on the same host would already hold. Tests pass
 *   /ip4/127.0.0.1/tcp/0 (and --api 127.0.0.1:0) to run many nodes on one machine.
 * - api 127.0.0.1:7070: loopback only, because the API has no authentication.
 * - dataDir $XDG_DATA_HOME/timemesh when XDG_DATA_HOME is set to an absolute path (the XDG spec says
 *   to ignore a relative one), else ~/.timemesh. A relative dataDir in a config file is relative to
 *   that file's directory; from a flag or the environment, to the working directory. A leading ~ is
 *   expanded everywhere (YAML and environment values never pass through a shell).
 * - network "default", logLevel "info", no clock offset or drift, no local stratum, no roster (any
 *   peer may join: see the README on what f a mesh tolerates), the core's own poll settings, and
 *   10 inbound sample requests per peer per second (TimeService's default).
 * - anchors: none; serveNtp and serveTsq: off. Anchor URLs are parsed here into a typed list
 *   (`AnchorUrl`): `ntp://HOST[:PORT][?minpoll=N&maxpoll=N]` (port 123; poll exponents as in chrony,
 *   maxpoll at most 9 because the core uses no sample older than 600 s) and
 *   `tsq://HOST[:PORT][?mode=stream|datagram][&insecure=1][&ca=FILE]` (port 443, mode stream; a relative
 *   ca path is resolved like dataDir). The flag is `--anchor` (singular, repeatable); in
 *   TIMEMESH_ANCHORS, as in every list setting, commas separate entries, so a comma inside a URL must
 *   be written %2C.
 * - gps: off; `DEVICE[:BAUD]` turns on the NMEA driver (refclock/gpsSerial.ts) on that serial device,
 *   9600 baud unless given (one of the standard rates, GPS_BAUD_RATES). The device path must be
 *   absolute: a serial device has no sensible base directory. gpsFudgeMs: 0, the receiver's sentence
 *   delay added to every GPS sample, within ±1000 ms (a larger value is a mistake, not a delay).
 *
 * `--reset-state` is a flag only: it must be a one-off decision, and an environment variable or a
 * file setting would reset the persisted HLC high-water mark on every restart.
 */
import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { multiaddr } from '@multiformats/multiaddr';
import { peerIdFromString } from '@libp2p/peer-id';
import { parse as parseToml } from 'smol-toml';
import YAML from 'yaml';
import { z } from 'zod';
import { TimemeshError } from '../hlc/errors.ts';
import { DEFAULT_CORE_CONFIG } from './core/config.ts';
import type { NodeCoreConfig } from './core/config.ts';
import { camelTokens, describeValue, formatPath, suggest, valueAt } from './validationText.ts';

/** Stable code of every error thrown by this module. */
export const CONFIG_ERROR_CODE = 'TM_ERR_CONFIG';

/**
 * An invalid configuration: an operator's mistake, so an exception. `issues` holds one line per
 * problem, each starting with its source ("flag --api: …", "config file x.yaml: api: …").
 */
export class ConfigError extends TimemeshError {
  readonly issues: readonly string[];

  constructor(issues: readonly string[], options?: { cause?: unknown }) {
    super(CONFIG_ERROR_CODE, issues.join('\n'), options);
    this.issues = issues;
  }
}

// ---------------------------------------------------------------------------------------------------
// The resolved configuration

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The node-core settings an operator may override; absent keys keep the core's defaults. */
export type NodeCoreOverrides = Partial<
  Pick<NodeCoreConfig, 'pollPeers' | 'faultTolerance' | 'minPollS' | 'maxPollS'>
>;

export interface NodeConfig {
  /** Mesh name: the gossip topic is timemesh/<network>/v1, so meshes with other names never mix. */
  network: string;
  /** Multiaddrs to listen on (TCP). */
  listen: string[];
  /** Full multiaddrs, ending in /p2p/<peer id>, of peers to join the mesh through. */
  bootstrap: string[];
  /** Where the HTTP API listens (port 0: any free port). */
  api: { host: string; port: number };
  /** Absolute path of the directory holding identity.key and state.json. */
  dataDir: string;
  logLevel: LogLevel;
  /** Testing aid: the local oscillator runs this far from the host clock (see node/localClock.ts). */
  clockOffsetMs: number;
  /** Testing aid: the local oscillator runs this much fast (+) or slow (−) against the host clock. */
  clockDriftPpm: number;
  /** Like chrony's `local stratum N`; null: no local reference. Goes into the core's config. */
  localStratum: number | null;
  /** Peer ids allowed in the mesh; null: any peer. */
  roster: string[] | null;
  /** Absolute path of the libp2p private-network key (node/swarmKey.ts); null: an open mesh. */
  swarmKey: string | null;
  /** Node-core overrides; only the keys that some source set. */
  core: NodeCoreOverrides;
  /** Inbound sample requests allowed per peer per second (token bucket, burst twice that). */
  inboundRequestsPerSecond: number;
  /** Upstream servers the node anchors to (NTP and TSQ). */
  anchors: AnchorUrl[];
  /** Where the NTP server listens (UDP); null: off. */
  serveNtp: { host: string; port: number } | null;
  /** Where the TSQ server listens (QUIC over UDP); null: off. */
  serveTsq: { host: string; port: number } | null;
  /** GPS receiver (NMEA over a serial port, refclock/gpsSerial.ts); null: off. */
  gps: { path: string; baudRate: number } | null;
  /** Receiver sentence delay added to every GPS sample's offset, ms (see refclock/gpsSource.ts). */
  gpsFudgeMs: number;
  /** PPS device (Linux PPS API, refclock/ppsDevice.ts), paired with the GPS's seconds; null: off. */
  pps: string | null;
  /** Cable and receiver delay added to every PPS sample's offset, ns. */
  ppsFudgeNs: number;
  /** Discipline the host's system clock (root only; see node/systemClockDiscipline.ts). */
  disciplineSystemClock: boolean;
  /** With disciplineSystemClock: log what would be done and change nothing. */
  disciplineDryRun: boolean;
  /** Step the system clock when it is off by more than this, ms (slew below). */
  stepThresholdMs: number;
  /** Refuse to correct the system clock when it is off by more than this, ms; null: no limit. */
  maxOffsetMs: number | null;
  /** Never step the system clock backwards by more than this, ms (slew instead). */
  maxBackwardStepMs: number;
  /** From --reset-state only: start with empty persisted state (see node/stateStore.ts). */
  resetState: boolean;
  /** The config file read, as given, or null. */
  configFile: string | null;
  /**
   * Where each setting's value came from, by setting path ("api", "core.pollPeers"): "default",
   * "config file <path>", "environment TIMEMESH_…" or "flag --…". For the start-up log.
   */
  sources: Record<string, string>;
}

export const DEFAULT_NETWORK = 'default';
export const DEFAULT_LISTEN: readonly string[] = Object.freeze(['/ip4/0.0.0.0/tcp/7071']);
export const DEFAULT_API = Object.freeze({ host: '127.0.0.1', port: 7070 });
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
export const DEFAULT_INBOUND_REQUESTS_PER_SECOND = 10;

/** An upstream server, parsed from its URL (see parseAnchorUrl). */
export type AnchorUrl = NtpAnchorUrl | TsqAnchorUrl;

export interface NtpAnchorUrl {
  scheme: 'ntp';
  /** Canonical `ntp://host:port` (host lower-cased, IPv6 in brackets): the anchor's refId. */
  url: string;
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  port: number;
  /** Poll exponents from ?minpoll= and ?maxpoll= (chrony's names); null: the daemon's defaults. */
  minPoll: number | null;
  maxPoll: number | null;
}

export interface TsqAnchorUrl {
  scheme: 'tsq';
  /** Canonical `tsq://host:port?mode=…[&insecure=1][&ca=…]`. */
  url: string;
  host: string;
  port: number;
  mode: 'stream' | 'datagram';
  /** Skip certificate verification (tests only). */
  insecure: boolean;
  /** CA file to verify the server against, absolute once resolved (relative to the source's base). */
  caFile: string | null;
}

export const NTP_DEFAULT_PORT = 123;
export const TSQ_DEFAULT_PORT = 443;

/** `$XDG_DATA_HOME/timemesh` when XDG_DATA_HOME is an absolute path, else `~/.timemesh`. */
export function defaultDataDir(
  env: Readonly<Record<string, string | undefined>> = process.env,
  homeDir: string = homedir(),
): string {
  const xdg = env['XDG_DATA_HOME'];
  return xdg !== undefined && isAbsolute(xdg) ? join(xdg, 'timemesh') : join(homeDir, '.timemesh');
}

// ---------------------------------------------------------------------------------------------------
// Limits. Each bounds what one configuration may ask of the node.

export const LISTEN_ADDRS_MAX = 16;
export const BOOTSTRAP_ADDRS_MAX = 64;
export const ROSTER_PEERS_MAX = 10_000;
export const CLOCK_OFFSET_MS_MAX = 86_400_000; // the host oscillator's own limit (±1 day)
export const CLOCK_DRIFT_PPM_MAX = 1000; // likewise
export const POLL_S_MAX = 86_400;
export const INBOUND_REQUESTS_PER_SECOND_MAX = 10_000;
export const ANCHORS_MAX = 32;
/** Serial rates a GPS receiver may be read at (the standard termios rates NMEA receivers use). */
export const GPS_BAUD_RATES: readonly number[] = Object.freeze([
  1200, 2400, 4800, 9600, 19_200, 38_400, 57_600, 115_200, 230_400, 460_800, 921_600,
]);
export const GPS_DEFAULT_BAUD_RATE = 9600;
export const GPS_FUDGE_MS_MAX = 1000;
/** PPS fudge limit: cable and receiver delays are ns to µs; 100 ms is a unit mistake. */
export const PPS_FUDGE_NS_MAX = 100_000_000;
export const STEP_THRESHOLD_MS_DEFAULT = 128;
export const MAX_OFFSET_MS_DEFAULT = 1000;
export const MAX_BACKWARD_STEP_MS_DEFAULT = 1000;
/** Poll exponents an ntp:// anchor may ask for: chrony's lowest, and the highest whose interval (512 s)
 * is shorter than the 600 s after which the core stops using a sample (node/core/config.ts). */
export const ANCHOR_MIN_POLL_MIN = -6;
export const ANCHOR_MAX_POLL_MAX = 9;
const CONFIG_FILE_BYTES_MAX = 1 << 20;

// ---------------------------------------------------------------------------------------------------
// Field schemas. Each field has one "expected …" phrase used for every way it can fail, so the
// message states the whole rule (as sim/scenario.ts does).

type NumberCheck = (n: number) => boolean;

function numberField(expected: string, ok: NumberCheck) {
  const error = `expected ${expected}`;
  return z.number({ error }).refine((n) => Number.isFinite(n) && ok(n), { error });
}

function intField(expected: string, ok: NumberCheck) {
  return numberField(expected, (n) => Number.isSafeInteger(n) && ok(n));
}

/** A field that also accepts `keyword` (any case) or null, both meaning null. */
function orKeyword<T extends z.ZodType>(keyword: string, inner: T) {
  return z.preprocess(
    (v) => (typeof v === 'string' && v.trim().toLowerCase() === keyword ? null : v),
    inner.nullable(),
  );
}

/** Multiaddr parse problem, or null. */
function multiaddrProblem(
  text: string,
): { problem: string } | { components: { name: string; value?: string }[] } {
  try {
    return { components: multiaddr(text).getComponents() };
  } catch (error) {
    return { problem: (error as Error).message };
  }
}

const LISTEN_EXPECTED = 'a TCP multiaddr to listen on, without /p2p/, such as /ip4/0.0.0.0/tcp/7071';
const listenAddr = z.string({ error: `expected ${LISTEN_EXPECTED}` }).superRefine((text, ctx) => {
  const parsed = multiaddrProblem(text);
  if ('problem' in parsed) {
    ctx.addIssue({ code: 'custom', message: `expected a multiaddr (${parsed.problem})` });
  } else if (
    !parsed.components.some((c) => c.name === 'tcp') ||
    parsed.components.some((c) => c.name === 'p2p')
  ) {
    ctx.addIssue({ code: 'custom', message: `expected ${LISTEN_EXPECTED}` });
  }
});

const BOOTSTRAP_EXPECTED =
  'a full multiaddr ending in /p2p/<peer id>, as a node prints on start (/ip4/192.0.2.10/tcp/7071/p2p/12D3KooW…)';
const bootstrapAddr = z.string({ error: `expected ${BOOTSTRAP_EXPECTED}` }).superRefine((text, ctx) => {
  const parsed = multiaddrProblem(text);
  if ('problem' in parsed) {
    ctx.addIssue({ code: 'custom', message: `expected a multiaddr (${parsed.problem})` });
    return;
  }
  const last = parsed.components.at(-1);
  if (last?.name !== 'p2p' || last.value === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected ${BOOTSTRAP_EXPECTED}` });
    return;
  }
  try {
    peerIdFromString(last.value);
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a valid peer id after /p2p/ (${(error as Error).message})`,
    });
  }
});

// Only Ed25519 ids inline their public key, which is what lets a receipt be checked with nothing but
// the id (mesh/signing.ts); a roster entry of another type could never be admitted.
const ROSTER_EXPECTED = 'an Ed25519 peer id (12D3KooW…, as `timemesh id` prints)';
const rosterPeer = z.string({ error: `expected ${ROSTER_EXPECTED}` }).transform((text, ctx) => {
  try {
    const id = peerIdFromString(text.trim());
    if (id.type === 'Ed25519') return id.toString();
    const article = id.type === 'RSA' ? 'an' : 'a';
    ctx.addIssue({ code: 'custom', message: `expected ${ROSTER_EXPECTED}, not ${article} ${id.type} one` });
  } catch {
    ctx.addIssue({ code: 'custom', message: `expected ${ROSTER_EXPECTED}` });
  }
  return z.NEVER;
});

const API_EXPECTED = 'HOST:PORT';
const API_PORT_EXPECTED = 'HOST:PORT with a port from 0 to 65535';
const API_PATTERN = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d+)$/;
const apiField = z.string({ error: `expected ${API_EXPECTED}` }).transform((text, ctx) => {
  const match = API_PATTERN.exec(text.trim());
  if (match === null) {
    ctx.addIssue({ code: 'custom', message: `expected ${API_EXPECTED}` });
    return z.NEVER;
  }
  const port = Number(match[3]);
  if (!Number.isSafeInteger(port) || port > 65_535) {
    ctx.addIssue({ code: 'custom', message: `expected ${API_PORT_EXPECTED}` });
    return z.NEVER;
  }
  return { host: match[1] ?? match[2] ?? '', port };
});

const ANCHOR_EXPECTED =
  'an anchor URL: ntp://HOST[:PORT] or tsq://HOST[:PORT][?mode=stream|datagram][&insecure=1][&ca=FILE]';
const ANCHOR_PATTERN =
  /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(\[[^\]]*\]|[^/?#:[\]]*)(?::([^/?#]*))?(\/[^?#]*)?(?:\?([^#]*))?(#.*)?$/;
const DNS_NAME =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?$/;
const NTP_PARAMS = ['minpoll', 'maxpoll'] as const;
const TSQ_PARAMS = ['mode', 'insecure', 'ca'] as const;

/**
 * Parses one anchor URL. Every problem is an "expected …" phrase (the caller appends what it got),
 * precise enough to fix the URL from the message alone. Pure.
 */
export function parseAnchorUrl(
  text: string,
): { ok: true; anchor: AnchorUrl } | { ok: false; problem: string } {
  const bad = (problem: string) => ({ ok: false as const, problem });
  const m = ANCHOR_PATTERN.exec(text.trim());
  if (m === null) return bad(`expected ${ANCHOR_EXPECTED}`);
  const scheme = (m[1] ?? '').toLowerCase();
  if (scheme !== 'ntp' && scheme !== 'tsq') {
    return bad(`expected an anchor URL starting with ntp:// or tsq://, not ${scheme}://`);
  }
  const inUrl = `in ${scheme === 'ntp' ? 'an' : 'a'} ${scheme}:// URL`;
  const rawHost = m[2] ?? '';
  if (rawHost.includes('@')) return bad(`expected no user name ${inUrl}`);
  let host: string;
  if (rawHost.startsWith('[')) {
    const inner = rawHost.slice(1, -1);
    if (isIP(inner) !== 6) return bad(`expected an IPv6 address inside the brackets of ${scheme}://[…]`);
    host = new URL(`http://[${inner}]`).hostname.slice(1, -1);
  } else {
    host = rawHost.toLowerCase();
    const lastLabel = host.replace(/\.$/, '').split('.').pop() ?? '';
    if (isIP(host) === 0 && (!DNS_NAME.test(host) || /^\d+$/.test(lastLabel))) {
      return bad(
        `expected a host name or IP address after ${scheme}:// (an IPv6 address in brackets, ${scheme}://[::1])`,
      );
    }
  }
  const defaultPort = scheme === 'ntp' ? NTP_DEFAULT_PORT : TSQ_DEFAULT_PORT;
  let port = defaultPort;
  if (m[3] !== undefined) {
    port = /^\d{1,5}$/.test(m[3]) ? Number(m[3]) : NaN;
    if (!(port >= 1 && port <= 65_535)) {
      return bad(`expected a port from 1 to 65535 after the host (default ${defaultPort})`);
    }
  }
  if (m[4] !== undefined && m[4] !== '/') return bad(`expected no path after the host ${inUrl}`);
  if (m[6] !== undefined) return bad(`expected no fragment (#…) ${inUrl}`);
  const params = new Map<string, string>();
  if (m[5] !== undefined && m[5] !== '') {
    const allowed: readonly string[] = scheme === 'ntp' ? NTP_PARAMS : TSQ_PARAMS;
    for (const part of m[5].split('&')) {
      const eq = part.indexOf('=');
      const key = (eq < 0 ? part : part.slice(0, eq)).toLowerCase();
      let value: string;
      try {
        value = decodeURIComponent(eq < 0 ? '' : part.slice(eq + 1));
      } catch {
        return bad(`expected a percent-encoded value for ${key}=`);
      }
      if (!allowed.includes(key)) {
        return bad(`expected only the parameters ${allowed.join(', ')} ${inUrl}, not ${JSON.stringify(key)}`);
      }
      if (params.has(key)) return bad(`expected each parameter once, but ${key} appears twice`);
      params.set(key, value);
    }
  }
  const bracketed = host.includes(':') ? `[${host}]` : host;
  if (scheme === 'ntp') {
    const exp = (key: string, max: number): number | null | string => {
      const v = params.get(key);
      if (v === undefined) return null;
      const n = /^[+-]?\d+$/.test(v) ? Number(v) : NaN;
      if (!(n >= ANCHOR_MIN_POLL_MIN && n <= max)) {
        return `expected ${key}=N with N an integer from ${ANCHOR_MIN_POLL_MIN} to ${max} (log2 seconds, as in chrony)`;
      }
      return n;
    };
    const minPoll = exp('minpoll', ANCHOR_MAX_POLL_MAX);
    if (typeof minPoll === 'string') return bad(minPoll);
    const maxPoll = exp('maxpoll', ANCHOR_MAX_POLL_MAX);
    if (typeof maxPoll === 'string') {
      return bad(
        `${maxPoll}; the node uses no sample older than 600 s, so at most ${ANCHOR_MAX_POLL_MAX} (512 s)`,
      );
    }
    if (minPoll !== null && maxPoll !== null && maxPoll < minPoll) {
      return bad(`expected maxpoll ≥ minpoll (${minPoll})`);
    }
    return { ok: true, anchor: { scheme, url: `ntp://${bracketed}:${port}`, host, port, minPoll, maxPoll } };
  }
  const mode = params.get('mode') ?? 'stream';
  if (mode !== 'stream' && mode !== 'datagram') return bad('expected mode=stream or mode=datagram');
  const insecureText = params.get('insecure') ?? '0';
  if (!['0', '1', 'true', 'false'].includes(insecureText.toLowerCase())) {
    return bad('expected insecure=1 or insecure=0');
  }
  const insecure = insecureText === '1' || insecureText.toLowerCase() === 'true';
  const caFile = params.get('ca') ?? null;
  if (caFile !== null && caFile.trim() === '') return bad('expected a file path after ca=');
  if (insecure && caFile !== null) return bad('expected either insecure=1 or ca=FILE, not both');
  const query = [`mode=${mode}`];
  if (insecure) query.push('insecure=1');
  if (caFile !== null) query.push(`ca=${encodeURIComponent(caFile)}`);
  return {
    ok: true,
    anchor: {
      scheme,
      url: `tsq://${bracketed}:${port}?${query.join('&')}`,
      host,
      port,
      mode,
      insecure,
      caFile,
    },
  };
}

const anchorField = z.string({ error: `expected ${ANCHOR_EXPECTED}` }).transform((text, ctx) => {
  const parsed = parseAnchorUrl(text);
  if (parsed.ok) return parsed.anchor;
  ctx.addIssue({ code: 'custom', message: parsed.problem });
  return z.NEVER;
});

const PPS_EXPECTED = 'an absolute PPS device path such as /dev/pps0';
const ppsField = z
  .string({ error: `expected ${PPS_EXPECTED}, or "off"` })
  .refine((text) => isAbsolute(text.trim()) && !/\s/.test(text.trim()), {
    error: `expected ${PPS_EXPECTED}, or "off"`,
  });

/** true/false in a file; in flags a bare switch; in the environment true/false/yes/no/on/off/1/0. */
function booleanField() {
  const error = 'expected true or false';
  return z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    const t = v.trim().toLowerCase();
    if (['true', 'yes', 'on', '1'].includes(t)) return true;
    if (['false', 'no', 'off', '0'].includes(t)) return false;
    return v;
  }, z.boolean({ error }));
}

const GPS_EXPECTED =
  'DEVICE[:BAUD], an absolute serial device path such as /dev/ttyUSB0 or /dev/ttyACM0:4800';
const gpsField = z.string({ error: `expected ${GPS_EXPECTED}, or "off"` }).transform((text, ctx) => {
  const parsed = parseGpsDevice(text);
  if (parsed.ok) return parsed.gps;
  ctx.addIssue({ code: 'custom', message: parsed.problem });
  return z.NEVER;
});

/**
 * Parses `DEVICE[:BAUD]`. A colon after the last slash starts the baud rate (device names have none);
 * every problem is an "expected …" phrase, as in parseAnchorUrl. Pure.
 */
export function parseGpsDevice(
  text: string,
): { ok: true; gps: { path: string; baudRate: number } } | { ok: false; problem: string } {
  const trimmed = text.trim();
  // A colon after the last slash starts the baud rate.
  const colon = trimmed.lastIndexOf(':');
  const hasBaud = colon > trimmed.lastIndexOf('/');
  const path = hasBaud ? trimmed.slice(0, colon) : trimmed;
  if (path === '' || !isAbsolute(path) || /\s/.test(path))
    return { ok: false, problem: `expected ${GPS_EXPECTED}, or "off"` };
  let baudRate = GPS_DEFAULT_BAUD_RATE;
  if (hasBaud) {
    const baudText = trimmed.slice(colon + 1);
    baudRate = /^\d{1,7}$/.test(baudText) ? Number(baudText) : NaN;
    if (!GPS_BAUD_RATES.includes(baudRate)) {
      return {
        ok: false,
        problem: `expected a baud rate after the device, one of ${GPS_BAUD_RATES.join(', ')} (default ${GPS_DEFAULT_BAUD_RATE})`,
      };
    }
  }
  return { ok: true, gps: { path, baudRate } };
}

function listField<T extends z.ZodType>(item: T, what: string, min: number, max: number, minError?: string) {
  return z
    .array(item, { error: `expected a list of ${what}` })
    .min(min, { error: minError ?? `expected at least ${min} of ${what}` })
    .max(max, { error: `expected at most ${max} ${what}` });
}

const CORE_SHAPE = {
  pollPeers: intField('an integer ≥ 1', (n) => n >= 1)
    .describe('k: how many peers each poll round measures (default 8).')
    .optional(),
  faultTolerance: orKeyword(
    'auto',
    intField('an integer ≥ 0, or "auto"', (n) => n >= 0),
  )
    .describe(
      'f: faults tolerated among the sources; "auto" (or null) derives ⌊(n−1)/3⌋ from the n sources in use.',
    )
    .optional(),
  minPollS: numberField(`a number of seconds > 0 and ≤ ${POLL_S_MAX}`, (n) => n > 0 && n <= POLL_S_MAX)
    .describe('Shortest poll interval, in seconds (default 4).')
    .optional(),
  maxPollS: numberField(`a number of seconds > 0 and ≤ ${POLL_S_MAX}`, (n) => n > 0 && n <= POLL_S_MAX)
    .describe('Longest poll interval, in seconds (default 64); must be ≥ minPollS.')
    .optional(),
};

const FILE_SHAPE = {
  network: z
    .string({ error: 'expected a network name: 1 to 32 of a-z, 0-9 and -' })
    .regex(/^[a-z0-9-]{1,32}$/, { error: 'expected a network name: 1 to 32 of a-z, 0-9 and -' })
    .describe('Mesh name; nodes only mesh with nodes of the same network (default "default").')
    .optional(),
  listen: listField(
    listenAddr,
    'listen multiaddrs',
    1,
    LISTEN_ADDRS_MAX,
    'expected at least one listen multiaddr',
  )
    .describe('Multiaddrs to listen on (default /ip4/0.0.0.0/tcp/7071).')
    .optional(),
  bootstrap: listField(bootstrapAddr, 'bootstrap multiaddrs', 0, BOOTSTRAP_ADDRS_MAX)
    .describe('Full multiaddrs (ending in /p2p/<peer id>) of peers to join the mesh through.')
    .optional(),
  api: apiField.describe('HOST:PORT of the HTTP API (default 127.0.0.1:7070; port 0: any).').optional(),
  dataDir: z
    .string({ error: 'expected a directory path' })
    .min(1, { error: 'expected a directory path' })
    .describe('Directory for identity.key and state.json (default $XDG_DATA_HOME/timemesh or ~/.timemesh).')
    .optional(),
  logLevel: z
    .enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.map((l) => JSON.stringify(l)).join(', ')}` })
    .describe('Log level (pino); default "info".')
    .optional(),
  clockOffsetMs: numberField(
    `a number of milliseconds within ±${CLOCK_OFFSET_MS_MAX} (1 day)`,
    (n) => Math.abs(n) <= CLOCK_OFFSET_MS_MAX,
  )
    .describe(
      'TESTING AID, not for production: run the local oscillator this many ms off the host clock, so several nodes on one machine have different clocks. Never touches the host clock.',
    )
    .optional(),
  clockDriftPpm: numberField(
    `a number of ppm within ±${CLOCK_DRIFT_PPM_MAX}`,
    (n) => Math.abs(n) <= CLOCK_DRIFT_PPM_MAX,
  )
    .describe(
      'TESTING AID, not for production: make the local oscillator run this many ppm fast (+) or slow (−) against the host clock.',
    )
    .optional(),
  localStratum: orKeyword(
    'off',
    intField('an integer from 1 to 15, or "off"', (n) => n >= 1 && n <= 15),
  )
    .describe(
      "Like chrony's `local stratum N`: serve this node's own clock as a reference when nothing better is available (isolated networks). Default off.",
    )
    .optional(),
  roster: listField(
    rosterPeer,
    'Ed25519 peer ids',
    1,
    ROSTER_PEERS_MAX,
    'expected at least one peer id (leave roster out to admit any peer)',
  )
    .nullable()
    .describe('Peer ids allowed in the mesh (membership control against Sybil identities); default: any.')
    .optional(),
  swarmKey: orKeyword(
    'off',
    z.string({ error: 'expected a file path, or "off"' }).min(1, { error: 'expected a file path, or "off"' }),
  )
    .describe(
      'libp2p private-network key file (swarm.key, from `timemesh keygen --swarm-key`): only nodes holding the same key can connect. Default off (an open mesh).',
    )
    .optional(),
  core: z
    .preprocess(
      (v) => (v === null ? {} : v),
      z.strictObject(CORE_SHAPE, { error: 'expected a core section (a mapping)' }),
    )
    .describe('Overrides of the node core (node/core/config.ts).')
    .optional(),
  inboundRequestsPerSecond: numberField(
    `a number > 0 and ≤ ${INBOUND_REQUESTS_PER_SECOND_MAX}`,
    (n) => n > 0 && n <= INBOUND_REQUESTS_PER_SECOND_MAX,
  )
    .describe('Inbound sample requests allowed per peer per second (burst twice that); default 10.')
    .optional(),
  anchors: listField(anchorField, 'anchor URLs', 0, ANCHORS_MAX)
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((a, i) => {
        const key = a.url.split('?')[0] ?? a.url; // one server is one host and port, whatever the options
        if (seen.has(key)) {
          ctx.addIssue({
            code: 'custom',
            path: [i],
            message: `expected each server once, ${key} is listed twice`,
          });
        }
        seen.add(key);
      });
    })
    .describe(
      'Upstream servers to anchor to: ntp://HOST[:PORT][?minpoll=N&maxpoll=N] (default port 123) and tsq://HOST[:PORT][?mode=stream|datagram][&insecure=1][&ca=FILE] (default port 443). Default none.',
    )
    .optional(),
  serveNtp: orKeyword('off', apiField)
    .describe(
      "HOST:PORT (UDP) to answer NTP clients on with the node's time (port 0: any free one); default off.",
    )
    .optional(),
  serveTsq: orKeyword('off', apiField)
    .describe(
      'HOST:PORT (QUIC) to answer TSQ clients on (self-signed certificate in the data dir); default off.',
    )
    .optional(),
  gps: orKeyword('off', gpsField)
    .describe(
      `GPS receiver: DEVICE[:BAUD], an absolute serial device path and a baud rate (${GPS_BAUD_RATES.join(', ')}; default ${GPS_DEFAULT_BAUD_RATE}); NMEA RMC/GGA/ZDA become reference samples. Default off.`,
    )
    .optional(),
  gpsFudgeMs: numberField(
    `a number of milliseconds within ±${GPS_FUDGE_MS_MAX}`,
    (n) => Math.abs(n) <= GPS_FUDGE_MS_MAX,
  )
    .describe("The receiver's sentence delay, added to every GPS sample's offset, in ms; default 0.")
    .optional(),
  pps: orKeyword('off', ppsField)
    .describe(
      "PPS device (Linux PPS API), e.g. /dev/pps0, or a sysfs-style directory with an assert file; each edge is labelled with the GPS receiver's second, or the node's own time when synchronized within ±0.4 s. Default off.",
    )
    .optional(),
  ppsFudgeNs: intField(
    `an integer number of nanoseconds within ±${PPS_FUDGE_NS_MAX}`,
    (n) => Math.abs(n) <= PPS_FUDGE_NS_MAX,
  )
    .describe('Cable and receiver delay added to every PPS sample, in ns; default 0.')
    .optional(),
  disciplineSystemClock: booleanField()
    .describe(
      "Discipline the host's system clock from the node's time: slew, step above stepThresholdMs. Needs root or CAP_SYS_TIME. Default false.",
    )
    .optional(),
  disciplineDryRun: booleanField()
    .describe(
      'Run the system-clock discipline but only log what it would do (needs no privileges). Default false.',
    )
    .optional(),
  stepThresholdMs: numberField(
    'a number of milliseconds from 0.001 to 1000000',
    (n) => n >= 0.001 && n <= 1e6,
  )
    .describe(
      `Step the system clock when it is off by more than this, in ms; default ${STEP_THRESHOLD_MS_DEFAULT}.`,
    )
    .optional(),
  maxOffsetMs: orKeyword(
    'off',
    numberField('a number of milliseconds from 1 to 86400000, or "off"', (n) => n >= 1 && n <= 86_400_000),
  )
    .describe(
      `Refuse to correct the system clock when it is off by more than this, in ms ("off": no limit); default ${MAX_OFFSET_MS_DEFAULT}.`,
    )
    .optional(),
  maxBackwardStepMs: numberField(
    'a number of milliseconds from 0 to 86400000',
    (n) => n >= 0 && n <= 86_400_000,
  )
    .describe(
      `Never step the system clock backwards by more than this, in ms (slew instead; 0: never step back); default ${MAX_BACKWARD_STEP_MS_DEFAULT}.`,
    )
    .optional(),
};

/** The config file's schema (also what flags and the environment are validated against). */
export const nodeConfigFileSchema = z.strictObject(FILE_SHAPE, {
  error: 'expected a mapping of settings',
});

/** The config file's JSON Schema (input side), with every setting's description: for docs and editors. */
export function nodeConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(nodeConfigFileSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
}

type FileShape = z.output<typeof nodeConfigFileSchema>;
type TopKey = keyof typeof FILE_SHAPE;
type CoreKey = keyof typeof CORE_SHAPE;

// ---------------------------------------------------------------------------------------------------
// Flags and environment variables

export interface SettingSpec {
  /** Path in the file: ['api'] or ['core', 'pollPeers']. */
  path: readonly [TopKey] | readonly ['core', CoreKey];
  flag: string;
  env: string;
  list: boolean;
  numeric: boolean;
  /** A switch: a bare flag (--x) means true; the environment and files say true or false. */
  boolean: boolean;
}

function spec(
  path: SettingSpec['path'],
  kind: 'text' | 'list' | 'number' | 'boolean' = 'text',
  flag?: string,
): SettingSpec {
  const name = path[path.length - 1] ?? '';
  const words = name.split(/(?=[A-Z])/).map((w) => w.toLowerCase());
  return {
    path,
    flag: flag ?? words.join('-'),
    env: `TIMEMESH_${words.join('_').toUpperCase()}`,
    list: kind === 'list',
    numeric: kind === 'number',
    boolean: kind === 'boolean',
  };
}

/** Every setting, with its flag (--kebab-case) and environment variable (TIMEMESH_SNAKE_CASE). */
export const NODE_SETTINGS: readonly SettingSpec[] = Object.freeze([
  spec(['network']),
  spec(['listen'], 'list'),
  spec(['bootstrap'], 'list'),
  spec(['api']),
  spec(['dataDir']),
  spec(['logLevel']),
  spec(['clockOffsetMs'], 'number'),
  spec(['clockDriftPpm'], 'number'),
  spec(['localStratum'], 'number'),
  spec(['roster'], 'list'),
  spec(['swarmKey']),
  spec(['core', 'pollPeers'], 'number'),
  spec(['core', 'faultTolerance'], 'number'),
  spec(['core', 'minPollS'], 'number'),
  spec(['core', 'maxPollS'], 'number'),
  spec(['inboundRequestsPerSecond'], 'number'),
  // One URL per flag (--anchor A --anchor B), as chrony has one `server` line per server.
  spec(['anchors'], 'list', 'anchor'),
  spec(['serveNtp']),
  spec(['serveTsq']),
  spec(['gps']),
  spec(['gpsFudgeMs'], 'number'),
  spec(['pps']),
  spec(['ppsFudgeNs'], 'number'),
  spec(['disciplineSystemClock'], 'boolean'),
  spec(['disciplineDryRun'], 'boolean'),
  spec(['stepThresholdMs'], 'number'),
  spec(['maxOffsetMs'], 'number'),
  spec(['maxBackwardStepMs'], 'number'),
]);

/** Names the environment is read for: the settings' variables and TIMEMESH_CONFIG. */
export const NODE_ENV_VARS: readonly string[] = Object.freeze([
  'TIMEMESH_CONFIG',
  ...NODE_SETTINGS.map((s) => s.env),
]);

// Variables an operator might reasonably try, with the reason they are not read.
const ENV_REFUSED: Readonly<Record<string, string>> = {
  TIMEMESH_RESET_STATE:
    'not read from the environment: resetting state must be a one-off decision (it would reset the HLC high-water mark on every restart); pass --reset-state once instead',
};

/**
 * `node:util` parseArgs options for `timemesh start`, matching NODE_SETTINGS, plus --config and
 * --reset-state. List settings are repeatable and also accept comma-separated values.
 */
export const NODE_FLAG_OPTIONS = {
  config: { type: 'string' },
  'reset-state': { type: 'boolean' },
  network: { type: 'string' },
  listen: { type: 'string', multiple: true },
  bootstrap: { type: 'string', multiple: true },
  api: { type: 'string' },
  'data-dir': { type: 'string' },
  'log-level': { type: 'string' },
  'clock-offset-ms': { type: 'string' },
  'clock-drift-ppm': { type: 'string' },
  'local-stratum': { type: 'string' },
  roster: { type: 'string', multiple: true },
  'swarm-key': { type: 'string' },
  'poll-peers': { type: 'string' },
  'fault-tolerance': { type: 'string' },
  'min-poll-s': { type: 'string' },
  'max-poll-s': { type: 'string' },
  'inbound-requests-per-second': { type: 'string' },
  anchor: { type: 'string', multiple: true },
  'serve-ntp': { type: 'string' },
  'serve-tsq': { type: 'string' },
  gps: { type: 'string' },
  'gps-fudge-ms': { type: 'string' },
  pps: { type: 'string' },
  'pps-fudge-ns': { type: 'string' },
  'discipline-system-clock': { type: 'boolean' },
  'discipline-dry-run': { type: 'boolean' },
  'step-threshold-ms': { type: 'string' },
  'max-offset-ms': { type: 'string' },
  'max-backward-step-ms': { type: 'string' },
} as const;

/** Flag values as parseArgs returns them, keyed by flag name without the dashes. */
export type NodeFlags = Readonly<Record<string, string | boolean | readonly string[] | undefined>>;
export type Env = Readonly<Record<string, string | undefined>>;

/** A parsed config file: its path as given and its raw content (not yet validated). */
export interface ConfigFile {
  path: string;
  raw: unknown;
}

// ---------------------------------------------------------------------------------------------------
// Resolution

export interface ResolveNodeConfigInput {
  /** parseArgs values (see NODE_FLAG_OPTIONS); default none. */
  flags?: NodeFlags;
  /** The environment; default none (resolveNodeConfig never reads process.env; loadNodeConfig does). */
  env?: Env;
  /** From loadConfigFile; default none. */
  file?: ConfigFile | null;
  /** Base of relative paths from flags and the environment (default process.cwd()). */
  cwd?: string;
  /** For ~ and the default data dir (default os.homedir()). */
  homeDir?: string;
}

interface Source {
  label: string;
  /** Relative paths from this source are resolved against it. */
  baseDir: string;
}

interface SourceValues {
  source: Source;
  data: FileShape;
  /** Per setting path ("core.pollPeers"): the source's label for that setting. */
  labels: Map<string, string>;
}

/**
 * Validates and merges flags > environment > config file > defaults. Throws a ConfigError listing
 * every problem, each naming its source and setting.
 */
export function resolveNodeConfig(input: ResolveNodeConfigInput = {}): NodeConfig {
  const flags = input.flags ?? {};
  const env = input.env ?? {};
  const cwd = input.cwd ?? process.cwd();
  const homeDir = input.homeDir ?? homedir();
  const issues: string[] = [];
  const layers: SourceValues[] = [];

  if (input.file !== undefined && input.file !== null) {
    const { path, raw } = input.file;
    const label = `config file ${path}`;
    const source: Source = { label, baseDir: dirname(resolve(cwd, path)) };
    const parsed = validateFile(raw, label);
    issues.push(...parsed.issues);
    if (parsed.data !== null)
      layers.push({ source, data: parsed.data, labels: labelsOf(parsed.data, label) });
  }
  for (const [kind, values] of [
    ['env', envValues(env, issues)],
    ['flag', flagValues(flags, issues)],
  ] as const) {
    const source: Source = { label: kind, baseDir: cwd };
    const parsed = validateStrings(values, kind);
    issues.push(...parsed.issues);
    if (parsed.data !== null) layers.push({ source, data: parsed.data, labels: values.labels });
  }
  if (issues.length > 0) throw new ConfigError(issues);

  // Highest precedence last, so later layers overwrite earlier ones setting by setting.
  const sources: Record<string, string> = {};
  const pick = <K extends TopKey>(key: K): { value: FileShape[K]; layer: SourceValues } | undefined => {
    let found: { value: FileShape[K]; layer: SourceValues } | undefined;
    for (const layer of layers) {
      if (layer.data[key] !== undefined) found = { value: layer.data[key], layer };
    }
    sources[key] = found?.layer.labels.get(key) ?? 'default';
    return found;
  };

  const dataDirPick = pick('dataDir');
  const swarmKeyPick = pick('swarmKey');
  const anchorsPick = pick('anchors');
  const maxOffsetPick = pick('maxOffsetMs');
  const core: NodeCoreOverrides = {};
  const coreSources: Record<string, string> = {};
  for (const key of Object.keys(CORE_SHAPE) as CoreKey[]) {
    for (const layer of layers) {
      const value = layer.data.core?.[key];
      if (value === undefined) continue;
      Object.assign(core, { [key]: value });
      coreSources[key] = layer.labels.get(`core.${key}`) ?? layer.source.label;
    }
  }
  const config: NodeConfig = {
    network: pick('network')?.value ?? DEFAULT_NETWORK,
    listen: [...(pick('listen')?.value ?? DEFAULT_LISTEN)],
    bootstrap: [...(pick('bootstrap')?.value ?? [])],
    api: { ...(pick('api')?.value ?? DEFAULT_API) },
    dataDir:
      dataDirPick === undefined
        ? defaultDataDir(env, homeDir)
        : resolve(dataDirPick.layer.source.baseDir, expandHome(dataDirPick.value ?? '', homeDir)),
    logLevel: pick('logLevel')?.value ?? DEFAULT_LOG_LEVEL,
    clockOffsetMs: pick('clockOffsetMs')?.value ?? 0,
    clockDriftPpm: pick('clockDriftPpm')?.value ?? 0,
    localStratum: pick('localStratum')?.value ?? null,
    roster: pick('roster')?.value ?? null,
    swarmKey:
      swarmKeyPick?.value === undefined || swarmKeyPick.value === null
        ? null
        : resolve(swarmKeyPick.layer.source.baseDir, expandHome(swarmKeyPick.value, homeDir)),
    core,
    inboundRequestsPerSecond: pick('inboundRequestsPerSecond')?.value ?? DEFAULT_INBOUND_REQUESTS_PER_SECOND,
    anchors: (anchorsPick?.value ?? []).map((a) =>
      a.scheme === 'tsq' && a.caFile !== null && anchorsPick !== undefined
        ? { ...a, caFile: resolve(anchorsPick.layer.source.baseDir, expandHome(a.caFile, homeDir)) }
        : { ...a },
    ),
    serveNtp: copyAddress(pick('serveNtp')?.value),
    serveTsq: copyAddress(pick('serveTsq')?.value),
    gps: copyGps(pick('gps')?.value),
    gpsFudgeMs: pick('gpsFudgeMs')?.value ?? 0,
    pps: pick('pps')?.value?.trim() ?? null,
    ppsFudgeNs: pick('ppsFudgeNs')?.value ?? 0,
    disciplineSystemClock: pick('disciplineSystemClock')?.value ?? false,
    disciplineDryRun: pick('disciplineDryRun')?.value ?? false,
    stepThresholdMs: pick('stepThresholdMs')?.value ?? STEP_THRESHOLD_MS_DEFAULT,
    maxOffsetMs: maxOffsetPick === undefined ? MAX_OFFSET_MS_DEFAULT : (maxOffsetPick.value ?? null),
    maxBackwardStepMs: pick('maxBackwardStepMs')?.value ?? MAX_BACKWARD_STEP_MS_DEFAULT,
    resetState: flags['reset-state'] === true,
    configFile: input.file?.path ?? null,
    sources,
  };
  for (const key of Object.keys(CORE_SHAPE)) sources[`core.${key}`] = coreSources[key] ?? 'default';

  const minPollS = core.minPollS ?? DEFAULT_CORE_CONFIG.minPollS;
  const maxPollS = core.maxPollS ?? DEFAULT_CORE_CONFIG.maxPollS;
  if (maxPollS < minPollS) {
    const from = (key: string): string => {
      const s = sources[key] ?? 'default';
      return s === 'default' ? 'the default' : `from ${s}`;
    };
    // Blame the setting the operator wrote with the higher precedence (a default is never to blame).
    const blameMax = sources['core.maxPollS'] !== 'default';
    const [key, other, rel, value, otherValue] = blameMax
      ? (['core.maxPollS', 'core.minPollS', '≥', maxPollS, minPollS] as const)
      : (['core.minPollS', 'core.maxPollS', '≤', minPollS, maxPollS] as const);
    issues.push(
      `${settingLabel(sources[key] ?? 'default', key)}: expected a number ${rel} ${other} (${otherValue}, ${from(other)}), got ${value}`,
    );
  }
  // The testing aids make the node's oscillator wrong on purpose; disciplining the host clock from it
  // would make the host clock wrong too (a dry run only logs, so it may combine them).
  if (config.disciplineSystemClock && !config.disciplineDryRun) {
    for (const key of ['clockOffsetMs', 'clockDriftPpm'] as const) {
      if (config[key] !== 0)
        issues.push(
          `${settingLabel(sources['disciplineSystemClock'] ?? 'default', 'disciplineSystemClock')}: cannot be combined with ${key} (${sources[key]}), a testing aid that runs the node's clock off on purpose; drop one, or add disciplineDryRun`,
        );
    }
  }
  if (config.stepThresholdMs > (config.maxOffsetMs ?? Infinity)) {
    issues.push(
      `${settingLabel(sources['stepThresholdMs'] ?? 'default', 'stepThresholdMs')}: expected at most maxOffsetMs (${config.maxOffsetMs}), got ${config.stepThresholdMs}`,
    );
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}

function copyAddress(
  a: { host: string; port: number } | null | undefined,
): { host: string; port: number } | null {
  return a === undefined || a === null ? null : { host: a.host, port: a.port };
}

function copyGps(
  g: { path: string; baudRate: number } | null | undefined,
): { path: string; baudRate: number } | null {
  return g === undefined || g === null ? null : { path: g.path, baudRate: g.baudRate };
}

/** "config file x.yaml" + "core.maxPollS" → "config file x.yaml: core.maxPollS"; flags/env name it already. */
function settingLabel(source: string, path: string): string {
  return source.startsWith('config file ') ? `${source}: ${path}` : source;
}

function labelsOf(data: FileShape, label: string): Map<string, string> {
  const labels = new Map<string, string>();
  for (const key of Object.keys(data)) labels.set(key, label);
  for (const key of Object.keys(data.core ?? {})) labels.set(`core.${key}`, label);
  return labels;
}

function expandHome(path: string, homeDir: string): string {
  if (path === '~') return homeDir;
  if (path.startsWith('~/')) return join(homeDir, path.slice(2));
  return path;
}

function validateFile(raw: unknown, label: string): { data: FileShape | null; issues: string[] } {
  // An empty YAML file parses as null: a file with no settings, not a type error.
  const value = raw === null || raw === undefined ? {} : raw;
  const parsed = nodeConfigFileSchema.safeParse(value);
  if (parsed.success) return { data: parsed.data, issues: [] };
  const issues = firstPerPath(parsed.error.issues).flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map(
        (key) => `${label}: ${formatPath([...issue.path, key])}: ${unknownKeyHint(key, issue.path)}`,
      );
    }
    const where = formatPath(issue.path);
    const text = `${issue.message}, got ${describeValue(valueAt(value, issue.path))}`;
    return [where === '' ? `${label}: ${text}` : `${label}: ${where}: ${text}`];
  });
  return { data: null, issues };
}

/**
 * The first issue of each path: zod runs an array's size checks even on a value that is not an
 * array (a string has a length), and the type error, which comes first, is the one that helps.
 */
function firstPerPath(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    if (issue.code === 'unrecognized_keys') return true;
    const key = JSON.stringify(issue.path.map(String));
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function unknownKeyHint(key: string, path: readonly PropertyKey[]): string {
  const inCore = path.length === 1 && path[0] === 'core';
  const top = Object.keys(FILE_SHAPE);
  const coreKeys = Object.keys(CORE_SHAPE);
  const own = inCore ? coreKeys : top;
  // A setting in the wrong section is the likeliest slip: say where it belongs.
  const elsewhere = inCore ? top.filter((k) => k !== 'core') : coreKeys;
  const moved = elsewhere.find((k) => camelTokens(k) === camelTokens(key));
  const hint =
    moved !== undefined
      ? ` (did you mean ${JSON.stringify(inCore ? moved : `core.${moved}`)}?${inCore ? ' it belongs at the top level' : ''})`
      : suggest(key, own, { matchContained: true });
  return `unknown key${hint}; expected one of ${own.join(', ')}`;
}

interface StringValues {
  raw: Record<string, unknown>;
  originals: Map<string, string | string[]>;
  labels: Map<string, string>;
}

function envValues(env: Env, issues: string[]): StringValues {
  const out: StringValues = { raw: {}, originals: new Map(), labels: new Map() };
  const known = new Set(NODE_ENV_VARS);
  for (const name of Object.keys(env)) {
    if (!name.startsWith('TIMEMESH_') || known.has(name)) continue;
    const refused = ENV_REFUSED[name];
    issues.push(
      refused !== undefined
        ? `environment ${name}: ${refused}`
        : `environment ${name}: unknown variable${suggest(name, NODE_ENV_VARS, { show: (v) => v, matchContained: true })}; expected one of ${NODE_ENV_VARS.join(', ')}`,
    );
  }
  for (const s of NODE_SETTINGS) {
    const text = env[s.env];
    if (text === undefined || text.trim() === '') continue;
    put(out, s, text, `environment ${s.env}`);
  }
  return out;
}

const NON_SETTING_FLAGS: ReadonlySet<string> = new Set(['config', 'reset-state']);

function flagValues(flags: NodeFlags, issues: string[]): StringValues {
  const out: StringValues = { raw: {}, originals: new Map(), labels: new Map() };
  const byFlag = new Map(NODE_SETTINGS.map((s) => [s.flag, s]));
  const allFlags = [...NON_SETTING_FLAGS, ...byFlag.keys()];
  for (const [name, value] of Object.entries(flags)) {
    if (value === undefined || NON_SETTING_FLAGS.has(name)) continue;
    const s = byFlag.get(name);
    if (s === undefined) {
      issues.push(
        `flag --${name}: unknown flag${suggest(name, allFlags, { show: (f) => `--${f}`, matchContained: true })}`,
      );
      continue;
    }
    if (typeof value === 'boolean') {
      if (s.boolean) put(out, s, String(value), `flag --${name}`);
      else issues.push(`flag --${name}: expected a value, got none`);
      continue;
    }
    put(out, s, typeof value === 'string' ? value : [...value], `flag --${name}`);
  }
  return out;
}

const NUMBER_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function put(out: StringValues, s: SettingSpec, text: string | string[], label: string): void {
  const key = s.path.join('.');
  let value: unknown;
  let original: string | string[];
  if (s.list) {
    // Multiaddrs and peer ids never contain commas, so "a,b" is two entries.
    original = (typeof text === 'string' ? [text] : text)
      .flatMap((t) => t.split(','))
      .map((t) => t.trim())
      .filter((t) => t !== '');
    value = original;
  } else {
    original = typeof text === 'string' ? text : (text.at(-1) ?? '');
    const trimmed = original.trim();
    value = s.numeric && NUMBER_TEXT.test(trimmed) ? Number(trimmed) : trimmed;
  }
  if (s.path[0] === 'core') {
    const core = (out.raw['core'] ??= {}) as Record<string, unknown>;
    core[s.path[1] as string] = value;
  } else {
    out.raw[s.path[0]] = value;
  }
  out.originals.set(key, original);
  out.labels.set(key, label);
}

function validateStrings(
  values: StringValues,
  kind: 'env' | 'flag',
): { data: FileShape | null; issues: string[] } {
  const parsed = nodeConfigFileSchema.safeParse(values.raw);
  if (parsed.success) return { data: parsed.data, issues: [] };
  const issues = firstPerPath(parsed.error.issues).map((issue) => {
    // The path is [setting] or ['core', setting], then perhaps a list index.
    const keyLength = issue.path[0] === 'core' ? 2 : 1;
    const key = issue.path.slice(0, keyLength).join('.');
    const label = values.labels.get(key) ?? kind;
    const original = values.originals.get(key);
    const index = issue.path[keyLength];
    const got =
      Array.isArray(original) && typeof index === 'number'
        ? original[index]
        : Array.isArray(original)
          ? original.join(',')
          : original;
    return `${label}: ${issue.message}, got ${describeValue(got)}`;
  });
  return { data: null, issues };
}

// ---------------------------------------------------------------------------------------------------
// Files

/** The config file named by --config, else TIMEMESH_CONFIG, else null (no file: defaults apply). */
export function configFilePath(flags: NodeFlags = {}, env: Env = {}): string | null {
  const flag = flags['config'];
  if (typeof flag === 'string' && flag !== '') return flag;
  const fromEnv = env['TIMEMESH_CONFIG'];
  return fromEnv !== undefined && fromEnv.trim() !== '' ? fromEnv.trim() : null;
}

/** Reads and parses a .yaml, .yml or .toml config file without validating its settings. */
export async function loadConfigFile(path: string): Promise<ConfigFile> {
  const label = `config file ${path}`;
  const extension = extname(path).toLowerCase();
  if (extension !== '.yaml' && extension !== '.yml' && extension !== '.toml') {
    throw new ConfigError([
      `${label}: unsupported file type ${JSON.stringify(extension || '(none)')}; expected .yaml, .yml or .toml`,
    ]);
  }
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
    if (info.size > CONFIG_FILE_BYTES_MAX) {
      throw new Error(`${info.size} bytes; a config file is at most ${CONFIG_FILE_BYTES_MAX} bytes`);
    }
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`${label}: cannot read the file: ${(error as Error).message}`], { cause: error });
  }
  return { path, raw: extension === '.toml' ? parseTomlText(text, label) : parseYamlText(text, label) };
}

/**
 * Reads the config file (if --config or TIMEMESH_CONFIG names one) and resolves the configuration.
 * The one entry point that reads the process's environment when `env` is not given.
 */
export async function loadNodeConfig(input: Omit<ResolveNodeConfigInput, 'file'> = {}): Promise<NodeConfig> {
  const resolved = { ...input, env: input.env ?? process.env };
  const path = configFilePath(resolved.flags, resolved.env);
  if (path === null) return resolveNodeConfig({ ...resolved, file: null });
  const file = await loadConfigFile(input.cwd === undefined ? path : resolve(input.cwd, path));
  return resolveNodeConfig({ ...resolved, file: { path, raw: file.raw } });
}

function parseYamlText(text: string, label: string): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((error) => {
        const message = error.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '');
        const position = error.linePos?.[0];
        return position === undefined
          ? `${label}: invalid YAML: ${message}`
          : `${label}: line ${position.line}, column ${position.col}: invalid YAML: ${message}`;
      }),
    );
  }
  try {
    return doc.toJS();
  } catch (error) {
    // toJS throws when aliases expand beyond yaml's maxAliasCount (a "billion laughs" document).
    throw new ConfigError([`${label}: invalid YAML: ${(error as Error).message}`], { cause: error });
  }
}

function parseTomlText(text: string, label: string): unknown {
  try {
    return parseToml(text);
  } catch (error) {
    const e = error as Error & { line?: number; column?: number };
    // smol-toml's message is "Invalid TOML document: <reason>" followed by a code excerpt.
    const reason = (e.message.split('\n')[0] ?? e.message).replace(/^Invalid TOML document: /, '');
    const where =
      e.line !== undefined && e.column !== undefined ? `line ${e.line}, column ${e.column}: ` : '';
    throw new ConfigError([`${label}: ${where}invalid TOML: ${reason}`], { cause: error });
  }
}
