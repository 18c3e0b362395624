/**
 * The node's HTTP API (fastify): what time it is and how sure the node is, the HLC for applications,
 * the node's view of its sources, Prometheus metrics and health probes.
 *
 *   GET  /v1/time          best estimate, uncertainty interval, status, anchor, stratum, a fresh HLC
 *   GET  /v1/hlc           a fresh HLC timestamp for an application event
 *   POST /v1/hlc/observe   merge an HLC an application received: 200, 400 (malformed), 422 (too far ahead)
 *   GET  /v1/status        sync state, last round (n, f, truechimers, falsetickers), counters, identity
 *                          and the host's kernel clock state (adjtimex, read-only; null off Linux)
 *   GET  /v1/peers         per source: offset, delay, jitter, root distance, reach, last seen, score
 *   GET  /v1/history       ?seconds=N (1..3600, default 600): the node's once-a-second samples (best,
 *                          best − host clock, uncertainty, status, stratum, correction; node/history.ts)
 *   GET  /metrics          Prometheus text format (a private prom-client Registry)
 *   GET  /healthz          200 while the process runs
 *   GET  /readyz           200 once the node runs and its clock has a bound, else 503 with the reason
 *   GET  /                 the dashboard (node/dashboard/index.html), a page that polls the routes above
 *   GET  /assets/…         its files: dashboard.js and dashboard.css from node/dashboard/, uplot.min.js
 *                          and uplot.min.css from the uplot package (served by the node: no CDN)
 *
 * Invariants:
 * - The API only reads through `ApiSource` (a narrow view of mesh/timeService.ts's TimeService); it
 *   never touches the core directly, so a test can drive it with a hand-made source.
 * - Absolute times are decimal strings of integer ns since the Unix epoch (JSON numbers lose precision
 *   above 2^53 ns, about 104 days), each with an ISO-8601 twin with 9 fractional digits for humans.
 *   Durations and offsets are JSON numbers in ns (exact far beyond any value the core accepts).
 * - Every error body is `{ error, code, message }` with a stable `TM_ERR_*` code; messages name the bad
 *   field. Internal errors are logged and answered with a generic message (no stack, no internals).
 * - Nothing is cached: every response carries `cache-control: no-store` (a cached time is a wrong time).
 * - The dashboard makes no request beyond this origin: its page carries a Content-Security-Policy that
 *   allows only 'self', and its files are read once when the app is built (a missing file fails the
 *   start, not a request).
 *
 * HAZARD (the HLC on GET): GET /v1/time and GET /v1/hlc issue an HLC timestamp, which advances the
 * node's HLC (a logical increment at most). That is the point of /v1/hlc; /v1/time does it so that its
 * `hlc` is comparable with `bestNs` and orders after everything the node issued before. Neither
 * changes the node's time.
 */
import Fastify, { LogController } from 'fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyServerOptions } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { formatHlc, parseHlc } from '../hlc/hlcCodec.ts';
import { HlcExhaustedError } from '../hlc/hlcErrors.ts';
import type { HlcTimestamp } from '../hlc/hlc.ts';
import type { AnchorKind, SyncStatus } from '../hlc/timeTypes.ts';
import { REJECT_REASONS } from '../mesh/gossipValidator.ts';
import type { ServiceCounters, TimeService } from '../mesh/timeService.ts';
import type { NodeSnapshot } from './core/nodeCore.ts';
import type { CoreCounters, SourceSnapshot } from './core/types.ts';
import { kernelClockJson, tryReadKernelClock } from '../refclock/kernelClock.ts';
import type { KernelClockJson } from '../refclock/kernelClock.ts';
import type { GpsStatusJson } from '../refclock/gpsMetrics.ts';
import type { PpsStatusJson } from '../refclock/ppsMetrics.ts';
import type { SystemClockDisciplineSnapshot } from './systemClockDiscipline.ts';
import type { HistoryPoint } from './history.ts';
import { HISTORY_CAPACITY_DEFAULT } from './history.ts';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** What the API needs from the running node: TimeService's read-side methods and its counters. */
export type ApiSource = Pick<
  TimeService,
  'read' | 'serveTime' | 'hlcNow' | 'hlcObserve' | 'snapshot' | 'localNowNs' | 'counters'
>;

export interface ApiOptions {
  /** This node's libp2p peer id. */
  peerId: string;
  /** The node's full listen multiaddrs (with /p2p/<peer id>), read on each request. */
  multiaddrs: () => string[];
  /** Whether the mesh service has started (libp2p listening, protocol handlers registered). */
  ready: () => boolean;
  /**
   * fastify logging: false (the default) for none, a pino logger instance to share the daemon's, or
   * fastify's logger options. Per-request logging is off either way (a time API is polled hard);
   * server errors are logged.
   */
  logger?: false | object;
  /** Registry to add the node's metrics to (the daemon's, which libp2p's metrics share); default a new one. */
  registry?: Registry;
  /** The local reference clocks' state for /v1/status, read per request; default none configured. */
  refclocks?: () => RefclocksStatus;
  /** The system-clock discipline's state for /v1/status; default none (not disciplining). */
  systemClock?: () => SystemClockDisciplineSnapshot | null;
  /**
   * The last `seconds` of the node's history (node/history.ts), oldest first, for /v1/history; default
   * none recorded (an empty list).
   */
  history?: (seconds: number) => HistoryPoint[];
}

/** Local reference clocks in /v1/status; null for one the node does not run. */
export interface RefclocksStatus {
  gps: GpsStatusJson | null;
  pps: PpsStatusJson | null;
}

// ---- response shapes (the client and the dashboard read these) ----------------------------------

export interface TimeResponse {
  /** Monotonic best estimate (what applications should use), ns since the Unix epoch. */
  bestNs: string;
  /** The interval that contains true time; null while unsynchronized (no bound exists). */
  earliestNs: string | null;
  latestNs: string | null;
  /** max(best − earliest, latest − best) in ns; null while unsynchronized. */
  uncertaintyNs: string | null;
  status: SyncStatus;
  anchored: boolean;
  anchorKind: AnchorKind;
  stratum: number;
  /** A fresh HLC timestamp `<wallNs>.<logical>.<nodeId>`, or null while the HLC is stalled. */
  hlc: string | null;
  best: string;
  earliest: string | null;
  latest: string | null;
}

export interface HlcResponse {
  hlc: string;
}

export interface RoundResponse {
  updated: boolean;
  /** 'mesh', 'reference', 'reference+mesh', 'local', or the reason there was no update. */
  basis: string;
  message: string;
  /** Sources combined and the faults tolerated among them (f in force). */
  n: number;
  f: number;
  truechimers: string[];
  falsetickers: string[];
  agoS: number;
}

export interface StatusResponse {
  peerId: string;
  multiaddrs: string[];
  status: SyncStatus;
  anchored: boolean;
  stratum: number;
  anchorKind: AnchorKind;
  frequencyPpm: number;
  pollIntervalS: number;
  uncertaintyNs: string | null;
  /** The greatest HLC issued or observed so far (not a fresh one; GET /v1/hlc issues one). */
  hlc: string;
  /** Peers measured in each poll round. */
  selected: string[];
  lastRound: RoundResponse | null;
  counters: { core: CoreCounters; service: ServiceCounters };
  /** The host's kernel clock state (adjtimex, read-only) at this request; null off Linux or on error. */
  kernel: KernelClockJson | null;
  refclocks: RefclocksStatus;
  /** The system-clock discipline (--discipline-system-clock / --discipline-dry-run), or null when off. */
  systemClock: SystemClockDisciplineSnapshot | null;
}

export interface PeerResponse {
  id: string;
  kind: 'peer' | 'reference';
  selected: boolean;
  offsetNs: number | null;
  delayNs: number | null;
  jitterNs: number | null;
  rootDistanceNs: number | null;
  anchorKind: AnchorKind;
  stratum: number;
  /** Seconds since the last accepted sample; null if none yet. */
  lastSeenAgoS: number | null;
  /** NTP reachability register (last 8 attempts, newest in the low bit), as a number and in octal. */
  reach: number;
  reachOctal: string;
  falseticker: boolean;
  excluded: boolean;
  excludedReason: string | null;
  /** Seconds until the exclusion ends; null when not excluded. */
  excludedForS: number | null;
  score: number;
}

export interface PeersResponse {
  peers: PeerResponse[];
}

/** One sample of /v1/history; ns as decimal strings (see node/history.ts for the sign convention). */
export interface HistoryPointResponse {
  atNs: string;
  /** best − the host's CLOCK_REALTIME at the same instant (positive: the node is ahead of the host). */
  offsetNs: string;
  uncertaintyNs: string | null;
  status: SyncStatus;
  stratum: number;
  /**
   * best − the node's raw oscillator reading: the correction the node applies. Source offsets in
   * /v1/peers are against the raw oscillator, so `offsetNs − correctionNs` is a source's offset from
   * the node's served time (what the dashboard plots).
   */
  correctionNs: string;
}

export interface HistoryResponse {
  /** Oldest first, about one per second. */
  points: HistoryPointResponse[];
}

export interface ErrorResponse {
  error: string;
  code: string;
  message: string;
}

export interface ReadyResponse {
  ready: boolean;
  status: SyncStatus;
  reason: string | null;
}

// ---- conversions --------------------------------------------------------------------------------

const NS_PER_S = 1_000_000_000n;

/**
 * The date and time to the second of the last second isoFromNs formatted. /v1/time formats three
 * instants per request (best, earliest, latest), nearly always within one second, and building a Date
 * and calling toISOString was most of the handler's cost (about 2.2 µs of 2.4 µs per call on the
 * benchmark machine; with this cache 0.2 µs). One entry: a miss costs what every call used to.
 */
let isoSecond: { second: bigint; prefix: string } | null = null;

/**
 * ISO-8601 with nanoseconds, e.g. 2026-11-23T10:00:00.123456789Z. Floors towards −∞, so times before
 * 1970 print correctly too. Any bigint a ClockReading can hold (|ns| < 2^64, years 1385 to 2554) is
 * within Date's range.
 */
export function isoFromNs(ns: bigint): string {
  let second = ns / NS_PER_S;
  if (second * NS_PER_S > ns) second -= 1n;
  const fractionNs = ns - second * NS_PER_S; // 0 ≤ fractionNs < 1e9
  let cached = isoSecond;
  if (cached === null || cached.second !== second) {
    // …T10:00:00.000Z without ".000Z" (exact: |second| < 2^35, so second × 1000 < 2^53)
    cached = { second, prefix: new Date(Number(second) * 1000).toISOString().slice(0, -5) };
    isoSecond = cached;
  }
  return `${cached.prefix}.${fractionNs.toString().padStart(9, '0')}Z`;
}

/**
 * The interval as the API reports it. An unsynchronized clock reports ±2^62 ns around its reading:
 * that is a sentinel for "no bound", not a bound, and as dates it would look like a real (absurd) claim
 * 146 years away, so the API reports null for earliest, latest and the uncertainty instead.
 */
function interval(r: { bestNs: bigint; earliestNs: bigint; latestNs: bigint; status: SyncStatus }): {
  earliestNs: bigint | null;
  latestNs: bigint | null;
  uncertaintyNs: bigint | null;
} {
  if (r.status === 'unsynchronized') return { earliestNs: null, latestNs: null, uncertaintyNs: null };
  const below = r.bestNs - r.earliestNs;
  const above = r.latestNs - r.bestNs;
  return { earliestNs: r.earliestNs, latestNs: r.latestNs, uncertaintyNs: below > above ? below : above };
}

/** Stratum as peers see it: 16 while unsynchronized, as in NTP (and as NodeCore.serveSample reports). */
function effectiveStratum(snap: NodeSnapshot): number {
  return snap.reading.status === 'unsynchronized' ? 16 : snap.stratum;
}

function roundTo(x: number, digits: number): number {
  const k = 10 ** digits;
  return Math.round(x * k) / k;
}

function secondsBetween(laterNs: bigint, earlierNs: bigint): number {
  return roundTo(Number(laterNs - earlierNs) / 1e9, 3);
}

function popcount8(x: number): number {
  let n = 0;
  for (let v = x & 0xff; v !== 0; v &= v - 1) n++;
  return n;
}

/** The error scale of the score: a source that adds this much error scores half of a perfect one. */
const SCORE_SCALE_NS = 1e6;

/**
 * A simple 0..1 score for humans and the dashboard (not used by the core's selection):
 *   reachability × 1 / (1 + error / 1 ms),
 * where reachability is the fraction of the last 8 polls answered (the reach register) and error is
 * what the source adds to our interval, NTP-style: its root distance + half the path delay + jitter.
 * So a reachable LAN peer adding 100 µs scores about 0.9, an NTP server 10 ms away about 0.09. A
 * falseticker, an excluded source, or one with no sample yet scores 0.
 */
export function sourceScore(s: SourceSnapshot, excluded: boolean): number {
  if (excluded || s.falseticker || s.rootDistanceNs === null) return 0;
  const errorNs = s.rootDistanceNs + (s.delayNs ?? 0) / 2 + (s.jitterNs ?? 0);
  if (!Number.isFinite(errorNs) || errorNs < 0) return 0;
  return roundTo((popcount8(s.reach) / 8) * (1 / (1 + errorNs / SCORE_SCALE_NS)), 3);
}

function peerView(s: SourceSnapshot, localNowNs: bigint): PeerResponse {
  const excluded = s.excludedUntilLocalNs !== null && localNowNs < s.excludedUntilLocalNs;
  const lastSeen = s.lastSampleLocalNs;
  return {
    id: s.id,
    kind: s.kind,
    selected: s.selected,
    offsetNs: finiteOrNull(s.offsetNs),
    delayNs: finiteOrNull(s.delayNs),
    jitterNs: finiteOrNull(s.jitterNs),
    rootDistanceNs: finiteOrNull(s.rootDistanceNs),
    anchorKind: s.anchorKind,
    stratum: s.stratum,
    lastSeenAgoS: lastSeen === null ? null : Math.max(0, secondsBetween(localNowNs, lastSeen)),
    reach: s.reach,
    reachOctal: s.reach.toString(8),
    falseticker: s.falseticker,
    excluded,
    excludedReason: excluded ? s.excludedReason : null,
    excludedForS:
      excluded && s.excludedUntilLocalNs !== null ? secondsBetween(s.excludedUntilLocalNs, localNowNs) : null,
    score: sourceScore(s, excluded),
  };
}

function finiteOrNull(x: number | null): number | null {
  return x !== null && Number.isFinite(x) ? x : null;
}

// ---- errors -------------------------------------------------------------------------------------

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

const CODE_FOR_STATUS: Record<number, string> = {
  400: 'TM_ERR_BAD_REQUEST',
  404: 'TM_ERR_NOT_FOUND',
  413: 'TM_ERR_PAYLOAD_TOO_LARGE',
  415: 'TM_ERR_UNSUPPORTED_MEDIA_TYPE',
};

function sendError(reply: FastifyReply, statusCode: number, code: string, message: string): FastifyReply {
  const body: ErrorResponse = { error: STATUS_TEXT[statusCode] ?? 'Error', code, message };
  return reply.code(statusCode).type('application/json; charset=utf-8').send(body);
}

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/**
 * Validation messages that name the field as a path (`body.hlc`): ajv's default says "body must NOT
 * have additional properties" without saying which one, and "must have required property" without the
 * path. All errors are reported (allErrors is off, so usually one).
 */
function formatSchemaErrors(errors: AjvError[], dataVar: string): Error {
  const parts = errors.map((e) => {
    const path = dataVar + e.instancePath.replace(/\//g, '.');
    if (e.keyword === 'required') return `${path}.${String(e.params.missingProperty)}: required`;
    if (e.keyword === 'additionalProperties') {
      return `${path}.${String(e.params.additionalProperty)}: unknown field`;
    }
    return `${path}: ${e.message ?? e.keyword}`;
  });
  return new Error(parts.join('; '));
}

// ---- schemas ------------------------------------------------------------------------------------

const nullableString = { type: ['string', 'null'] } as const;

/** Response schemas double as documentation and let fastify serialize the hot path without JSON.stringify. */
const TIME_RESPONSE_SCHEMA = {
  type: 'object',
  properties: {
    bestNs: { type: 'string' },
    earliestNs: nullableString,
    latestNs: nullableString,
    uncertaintyNs: nullableString,
    status: { type: 'string' },
    anchored: { type: 'boolean' },
    anchorKind: { type: 'string' },
    stratum: { type: 'integer' },
    hlc: nullableString,
    best: { type: 'string' },
    earliest: nullableString,
    latest: nullableString,
  },
  required: [
    'bestNs',
    'earliestNs',
    'latestNs',
    'uncertaintyNs',
    'status',
    'anchored',
    'anchorKind',
    'stratum',
    'hlc',
    'best',
    'earliest',
    'latest',
  ],
} as const;

const HLC_RESPONSE_SCHEMA = {
  type: 'object',
  properties: { hlc: { type: 'string' } },
  required: ['hlc'],
} as const;

const ERROR_RESPONSE_SCHEMA = {
  type: 'object',
  properties: { error: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'code', 'message'],
} as const;

/**
 * The text form is at most 20 + 1 + 10 + 1 + 255 UTF-8 bytes; 300 characters keeps absurd inputs away
 * from the parser and still lets parseHlc give the precise reason for anything plausible.
 */
const OBSERVE_BODY_SCHEMA = {
  type: 'object',
  properties: { hlc: { type: 'string', minLength: 1, maxLength: 300 } },
  required: ['hlc'],
  additionalProperties: false,
} as const;

/** Largest request body accepted (only POST /v1/hlc/observe has one; its body is under 400 bytes). */
const BODY_LIMIT_BYTES = 4096;

const ROUTES =
  'GET /v1/time, GET /v1/hlc, POST /v1/hlc/observe, GET /v1/status, GET /v1/peers, GET /v1/history, ' +
  'GET /metrics, GET /healthz, GET /readyz, GET / (dashboard)';

/** /v1/history?seconds=N: the bounds and the default. */
const HISTORY_SECONDS_MAX = HISTORY_CAPACITY_DEFAULT;
const HISTORY_SECONDS_DEFAULT = 600;

const HISTORY_RESPONSE_SCHEMA = {
  type: 'object',
  properties: {
    points: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          atNs: { type: 'string' },
          offsetNs: { type: 'string' },
          uncertaintyNs: nullableString,
          status: { type: 'string' },
          stratum: { type: 'integer' },
          correctionNs: { type: 'string' },
        },
        required: ['atNs', 'offsetNs', 'uncertaintyNs', 'status', 'stratum', 'correctionNs'],
      },
    },
  },
  required: ['points'],
} as const;

/** The seconds of /v1/history, or the message that says what is wrong with the value. */
function parseHistorySeconds(raw: unknown): { ok: true; seconds: number } | { ok: false; message: string } {
  if (raw === undefined) return { ok: true, seconds: HISTORY_SECONDS_DEFAULT };
  const bad = (got: string): { ok: false; message: string } => ({
    ok: false,
    message: `querystring.seconds: expected an integer from 1 to ${HISTORY_SECONDS_MAX}, got ${got}`,
  });
  if (typeof raw !== 'string') return bad(`${JSON.stringify(raw)} (give it once)`);
  if (!/^[0-9]{1,7}$/.test(raw)) return bad(JSON.stringify(raw));
  const seconds = Number(raw);
  if (seconds < 1 || seconds > HISTORY_SECONDS_MAX) return bad(JSON.stringify(raw));
  return { ok: true, seconds };
}

// ---- the dashboard's files ----------------------------------------------------------------------

interface StaticAsset {
  contentType: string;
  body: Buffer;
}

/**
 * The page and what it loads, by URL path. Read once per process, on the first buildApi (the daemon's
 * start): a missing file stops the start with its path rather than failing a request later.
 */
let dashboardAssets: Map<string, StaticAsset> | null = null;

/**
 * The dashboard's Content-Security-Policy: scripts, styles and fetches from this origin only (uPlot
 * sets element.style from script, which style-src does not govern); data: images for the blank
 * favicon. So a change that added a CDN link would fail in the browser, not silently phone out.
 */
const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function loadDashboardAssets(): Map<string, StaticAsset> {
  if (dashboardAssets !== null) return dashboardAssets;
  const require = createRequire(import.meta.url);
  const dir = join(import.meta.dirname, 'dashboard');
  const files: [string, string, string][] = [
    ['/', join(dir, 'index.html'), 'text/html; charset=utf-8'],
    ['/assets/dashboard.js', join(dir, 'dashboard.js'), 'text/javascript; charset=utf-8'],
    ['/assets/dashboard.css', join(dir, 'dashboard.css'), 'text/css; charset=utf-8'],
    // The IIFE build defines the global uPlot that dashboard.js (a classic script) uses.
    [
      '/assets/uplot.min.js',
      require.resolve('uplot/dist/uPlot.iife.min.js'),
      'text/javascript; charset=utf-8',
    ],
    ['/assets/uplot.min.css', require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8'],
  ];
  const out = new Map<string, StaticAsset>();
  for (const [path, file, contentType] of files) out.set(path, { contentType, body: readFileSync(file) });
  dashboardAssets = out;
  return out;
}

// ---- metrics ------------------------------------------------------------------------------------

interface ScrapeState {
  snap: NodeSnapshot;
  localNs: bigint;
  service: ServiceCounters;
}

const SYNC_STATUSES: readonly SyncStatus[] = ['unsynchronized', 'synchronized', 'holdover', 'anchored'];
const PEER_STATES = ['known', 'selected', 'falseticker', 'excluded'] as const;
/** Sample outcomes that always exist (others, like `malformed:<reason>`, appear when they happen). */
const SAMPLE_OUTCOMES = ['ok', 'timeout', 'unreachable', 'nonce-mismatch', 'peer-mismatch', 'bad-signature'];
const GOSSIP_REJECTIONS: ReadonlySet<string> = new Set(REJECT_REASONS);
const SAMPLE_RESPONSE_REJECTIONS = new Set(['nonce-mismatch', 'peer-mismatch', 'bad-signature']);

/**
 * The metrics registry. Every value is read from the node at scrape time (collect callbacks): nothing
 * is pushed from the hot paths, so the API cannot fall out of step with the node.
 *
 * Running totals (the core's and the service's counters) are exported as prom-client Counters whose
 * collect() resets them and adds the current total. Why not a Gauge named *_total: the TYPE line would
 * say gauge, promtool flags `_total` on a non-counter, and PromQL users rightly reach for rate() and
 * increase() on *_total, which must see a counter (a process restart resets the totals to 0, exactly
 * the counter reset rate() handles). Why not a hand-written collector: prom-client has no public
 * interface for one, and the Counter already prints the exact exposition format. The totals are
 * monotonic, so the exported series are too.
 */
function buildMetrics(
  source: ApiSource,
  peerId: string,
  registry: Registry = new Registry(),
): { registry: Registry; scrape: () => Promise<string> } {
  collectDefaultMetrics({ register: registry });
  // One consistent snapshot per scrape: scrape() takes it and every collect reads it. prom-client calls
  // all collect callbacks synchronously inside registry.metrics(), before its first await; the
  // fallback keeps a direct registry read correct, if less consistent.
  let current: ScrapeState | null = null;
  const take = (): ScrapeState => ({
    snap: source.snapshot(),
    localNs: source.localNowNs(),
    service: source.counters,
  });
  const state = (): ScrapeState => current ?? take();

  const gauge = (
    name: string,
    help: string,
    labelNames: readonly string[],
    read: (s: ScrapeState) => Iterable<[Record<string, string>, number]>,
  ): void => {
    new Gauge({
      name,
      help,
      labelNames: [...labelNames],
      registers: [registry],
      collect(this: Gauge) {
        this.reset();
        for (const [labels, value] of read(state())) this.set(labels, value);
      },
    });
  };
  const total = (
    name: string,
    help: string,
    labelNames: readonly string[],
    read: (s: ScrapeState) => Iterable<[Record<string, string>, number]>,
  ): void => {
    new Counter({
      name,
      help,
      labelNames: [...labelNames],
      registers: [registry],
      collect(this: Counter) {
        this.reset();
        for (const [labels, value] of read(state())) this.inc(labels, value);
      },
    });
  };
  const one = (value: number): [Record<string, string>, number][] => [[{}, value]];

  gauge('timemesh_node_info', "Constant 1, labelled with this node's peer id.", ['peer_id'], () => [
    [{ peer_id: peerId }, 1],
  ]);
  gauge(
    'timemesh_offset_seconds',
    "The node's best estimate of true time minus the monotonic clock it serves (estimate - best): the " +
      'correction still being slewed in. Positive means the served clock is behind.',
    [],
    (s) => one(Number(s.snap.reading.estimateNs - s.snap.reading.bestNs) / 1e9),
  );
  gauge(
    'timemesh_uncertainty_seconds',
    'Half-width of the interval that contains true time: max(best - earliest, latest - best). +Inf ' +
      'while unsynchronized (no bound).',
    [],
    (s) => {
      const u = interval(s.snap.reading).uncertaintyNs;
      return one(u === null ? Infinity : Number(u) / 1e9);
    },
  );
  gauge(
    'timemesh_frequency_ratio',
    'Frequency correction of the local oscillator as a ratio (1e-6 = 1 ppm; positive: it runs slow).',
    [],
    (s) => one(s.snap.frequencyPpm * 1e-6),
  );
  gauge('timemesh_stratum', 'Stratum as served to peers (16 while unsynchronized).', [], (s) =>
    one(effectiveStratum(s.snap)),
  );
  gauge(
    'timemesh_synchronized',
    'Sync status: 1 for the current status, 0 for the others.',
    ['status'],
    (s) => SYNC_STATUSES.map((st) => [{ status: st }, st === s.snap.reading.status ? 1 : 0]),
  );
  gauge('timemesh_poll_interval_seconds', 'Current poll interval of the mesh rounds.', [], (s) =>
    one(s.snap.pollIntervalS),
  );
  gauge(
    'timemesh_peers',
    'Peer sources by state: known (every peer source), selected (measured each round), falseticker ' +
      '(outside the agreed interval in the last round), excluded (held off after repeated falseticking).',
    ['state'],
    (s) => {
      const counts = { known: 0, selected: 0, falseticker: 0, excluded: 0 };
      for (const src of s.snap.sources) {
        if (src.kind !== 'peer') continue;
        counts.known++;
        if (src.selected) counts.selected++;
        if (src.falseticker) counts.falseticker++;
        if (src.excludedUntilLocalNs !== null && s.localNs < src.excludedUntilLocalNs) counts.excluded++;
      }
      return PEER_STATES.map((st) => [{ state: st }, counts[st]]);
    },
  );
  gauge(
    'timemesh_round_sources',
    'Sources combined in the last round (n), and the faults tolerated among them (see timemesh_round_fault_tolerance).',
    [],
    (s) => one(s.snap.lastRound?.n ?? 0),
  );
  gauge('timemesh_round_fault_tolerance', 'f in force in the last round.', [], (s) =>
    one(s.snap.lastRound?.f ?? 0),
  );

  total(
    'timemesh_samples_total',
    'Outbound sample exchanges by outcome (ok, timeout, unreachable, bad-signature, malformed:<reason>, ...).',
    ['outcome'],
    (s) => withZeros(s.service.samplesByOutcome, SAMPLE_OUTCOMES, 'outcome'),
  );
  total('timemesh_inbound_requests_total', 'Inbound sample requests by outcome.', ['outcome'], (s) =>
    Object.entries(s.service.inboundRequests).map(([k, v]) => [{ outcome: k }, v]),
  );
  total(
    'timemesh_gossip_messages_total',
    "Gossip messages by outcome: published, publish-failed, accept, or the validator's reason.",
    ['outcome'],
    (s) => withZeros(s.service.gossipByOutcome, ['published', 'accept'], 'outcome'),
  );
  total(
    'timemesh_rejected_messages_total',
    'Messages refused as invalid, by channel (gossip, sample-response, sample-request) and reason.',
    ['channel', 'reason'],
    (s) => rejectedMessages(s),
  );
  total(
    'timemesh_hlc_rejections_total',
    'Remote HLCs refused as too far ahead of this node (from peers and from POST /v1/hlc/observe).',
    [],
    (s) => one(s.snap.counters.hlcRejections),
  );
  total('timemesh_rounds_total', 'Poll rounds finished.', [], (s) => one(s.snap.counters.rounds));
  total(
    'timemesh_no_quorum_rounds_total',
    'Rounds that did not update the clock (too few sources, no quorum).',
    [],
    (s) => one(s.snap.counters.noQuorumRounds),
  );
  total('timemesh_clock_corrections_total', 'Clock corrections by kind (step, slew).', ['kind'], (s) => [
    [{ kind: 'step' }, s.snap.counters.steps],
    [{ kind: 'slew' }, s.snap.counters.slews],
  ]);
  total(
    'timemesh_falseticker_marks_total',
    'Times a source was marked a falseticker, by kind (peer, reference).',
    ['kind'],
    (s) => [
      [{ kind: 'peer' }, s.snap.counters.falsetickerMarks],
      [{ kind: 'reference' }, s.snap.counters.referenceFalsetickerMarks],
    ],
  );
  total(
    'timemesh_announcements_total',
    'Announcements published and received (before validation by the core).',
    ['direction'],
    (s) => [
      [{ direction: 'published' }, s.snap.counters.announcementsPublished],
      [{ direction: 'received' }, s.snap.counters.announcementsReceived],
    ],
  );

  const scrape = (): Promise<string> => {
    current = take();
    try {
      return registry.metrics();
    } finally {
      current = null;
    }
  };
  return { registry, scrape };
}

/** The recorded counts plus zeros for the outcomes that should always exist (so rate() has a series). */
function withZeros(
  counts: Record<string, number>,
  always: readonly string[],
  label: string,
): [Record<string, string>, number][] {
  const out = new Map<string, number>(always.map((k) => [k, 0]));
  for (const [k, v] of Object.entries(counts)) out.set(k, v);
  return [...out].map(([k, v]) => [{ [label]: k }, v]);
}

/**
 * Everything refused as invalid, labelled by where it came in:
 * - gossip: the validator's reasons (oversize, malformed, wrong-sender, future, replay, stale,
 *   bad-receipt), including the ignored ones (replay, stale): they were refused all the same;
 * - sample-response: responses that failed decoding or verification in the service
 *   (malformed:<reason>, nonce-mismatch, peer-mismatch, bad-signature) and those the core refused
 *   (negative-delay, responder-time-reversed, bad-interval, offset-too-large, unknown-exchange,
 *   hlc-max-offset);
 * - sample-request: inbound requests that were malformed or over the per-peer rate limit.
 * Timeouts and unreachable peers are not messages and stay in timemesh_samples_total.
 */
function rejectedMessages(s: ScrapeState): [Record<string, string>, number][] {
  const out: [Record<string, string>, number][] = [];
  const gossip = s.service.gossipByOutcome;
  for (const reason of REJECT_REASONS) out.push([{ channel: 'gossip', reason }, gossip[reason] ?? 0]);
  for (const [reason, v] of Object.entries(gossip)) {
    // Reasons the validator adds later still show up (anything that is not a success outcome).
    if (!GOSSIP_REJECTIONS.has(reason) && !['accept', 'published', 'publish-failed'].includes(reason)) {
      out.push([{ channel: 'gossip', reason }, v]);
    }
  }
  for (const [reason, v] of Object.entries(s.service.samplesByOutcome)) {
    if (SAMPLE_RESPONSE_REJECTIONS.has(reason) || reason.startsWith('malformed')) {
      out.push([{ channel: 'sample-response', reason }, v]);
    }
  }
  for (const [reason, v] of Object.entries(s.snap.counters.exchangesRejected)) {
    out.push([{ channel: 'sample-response', reason }, v]);
  }
  out.push([{ channel: 'sample-request', reason: 'malformed' }, s.service.inboundRequests.malformed]);
  out.push([
    { channel: 'sample-request', reason: 'rate-limited' },
    s.service.inboundRequests['rate-limited'],
  ]);
  return out;
}

// ---- the app ------------------------------------------------------------------------------------

function isLoggerInstance(x: object): boolean {
  const l = x as { child?: unknown; info?: unknown; error?: unknown };
  return typeof l.child === 'function' && typeof l.info === 'function' && typeof l.error === 'function';
}

export function buildApi(source: ApiSource, options: ApiOptions): FastifyInstance {
  const logger = options.logger ?? false;
  const serverOptions: FastifyServerOptions = {
    bodyLimit: BODY_LIMIT_BYTES,
    logController: new LogController({ disableRequestLogging: true }),
    // No type coercion (a number is not an HLC string) and no silent removal of unknown fields
    // (additionalProperties: false then rejects them by name).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    schemaErrorFormatter: (errors, dataVar) => formatSchemaErrors(errors as AjvError[], dataVar),
  };
  const app =
    logger !== false && isLoggerInstance(logger)
      ? Fastify({ ...serverOptions, loggerInstance: logger as FastifyServerOptions['loggerInstance'] })
      : Fastify({ ...serverOptions, logger: logger as FastifyServerOptions['logger'] });
  const metrics = buildMetrics(source, options.peerId, options.registry);
  const assets = loadDashboardAssets();
  // JSON only: without fastify's text/plain parser a raw "5.0.node" gets a 415 that says to send JSON,
  // rather than a 400 about the body's type.
  app.removeContentTypeParser('text/plain');

  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = CODE_FOR_STATUS[status] ?? 'TM_ERR_BAD_REQUEST';
      let message = err.message;
      if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        message = `unsupported content-type ${JSON.stringify(request.headers['content-type'] ?? '')}; send application/json`;
      }
      return sendError(reply, status, code, message);
    }
    request.log.error({ err, url: request.url }, 'API request failed');
    return sendError(
      reply,
      500,
      'TM_ERR_INTERNAL',
      'internal error while answering the request; see the node’s log',
    );
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      404,
      'TM_ERR_NOT_FOUND',
      `no route ${request.method} ${request.url.split('?')[0]}; routes: ${ROUTES}`,
    ),
  );

  /** A fresh HLC, or null when the HLC is stalled waiting for its high-water mark to be persisted. */
  const freshHlc = (): HlcTimestamp | null => {
    try {
      return source.hlcNow();
    } catch (err) {
      if (err instanceof HlcExhaustedError) return null;
      throw err;
    }
  };

  app.get(
    '/v1/time',
    { schema: { response: { 200: TIME_RESPONSE_SCHEMA } } },
    async (): Promise<TimeResponse> => {
      // The reading, stratum and anchor kind all for the same instant; not snapshot(), which copies
      // and sorts every source and was a third of this handler's cost.
      const localNs = source.localNowNs();
      const r = source.read(localNs);
      const served = source.serveTime(localNs);
      const iv = interval(r);
      const hlc = freshHlc();
      return {
        bestNs: r.bestNs.toString(),
        earliestNs: iv.earliestNs?.toString() ?? null,
        latestNs: iv.latestNs?.toString() ?? null,
        uncertaintyNs: iv.uncertaintyNs?.toString() ?? null,
        status: r.status,
        anchored: r.status === 'anchored',
        anchorKind: served.anchorKind,
        stratum: served.stratum,
        hlc: hlc === null ? null : formatHlc(hlc),
        best: isoFromNs(r.bestNs),
        earliest: iv.earliestNs === null ? null : isoFromNs(iv.earliestNs),
        latest: iv.latestNs === null ? null : isoFromNs(iv.latestNs),
      };
    },
  );

  app.get(
    '/v1/hlc',
    { schema: { response: { 200: HLC_RESPONSE_SCHEMA, 503: ERROR_RESPONSE_SCHEMA } } },
    async (_request, reply) => {
      const hlc = freshHlc();
      if (hlc === null) {
        return sendError(
          reply,
          503,
          'TM_ERR_HLC_EXHAUSTED',
          'the HLC cannot issue a timestamp until its high-water mark is persisted; check that the data ' +
            'directory is writable, then retry',
        );
      }
      const body: HlcResponse = { hlc: formatHlc(hlc) };
      return body;
    },
  );

  app.post<{ Body: { hlc: string } }>(
    '/v1/hlc/observe',
    {
      schema: {
        body: OBSERVE_BODY_SCHEMA,
        response: { 200: HLC_RESPONSE_SCHEMA, 422: ERROR_RESPONSE_SCHEMA, 503: ERROR_RESPONSE_SCHEMA },
      },
    },
    async (request, reply) => {
      const parsed = parseHlc(request.body.hlc);
      if (!parsed.ok) return sendError(reply, 400, 'TM_ERR_BAD_REQUEST', `body.hlc: ${parsed.error.message}`);
      let result: ReturnType<ApiSource['hlcObserve']>;
      try {
        result = source.hlcObserve(parsed.value);
      } catch (err) {
        if (!(err instanceof HlcExhaustedError)) throw err;
        return sendError(reply, 503, err.code, err.message);
      }
      // Both refusals are about this timestamp, not the request's form: 422. The messages carry the
      // numbers and what to do (check the sender's clock, this node's interval, or persistence).
      if (!result.ok) return sendError(reply, 422, result.error.code, result.error.message);
      const body: HlcResponse = { hlc: formatHlc(result.timestamp) };
      return body;
    },
  );

  app.get('/v1/status', async (): Promise<StatusResponse> => {
    const snap = source.snapshot();
    const localNs = source.localNowNs();
    const last = snap.lastRound;
    const svc = source.counters;
    const kernel = tryReadKernelClock();
    return {
      peerId: options.peerId,
      multiaddrs: options.multiaddrs(),
      status: snap.reading.status,
      anchored: snap.reading.status === 'anchored',
      stratum: effectiveStratum(snap),
      anchorKind: snap.anchorKind,
      frequencyPpm: snap.frequencyPpm,
      pollIntervalS: snap.pollIntervalS,
      uncertaintyNs: interval(snap.reading).uncertaintyNs?.toString() ?? null,
      hlc: formatHlc(snap.hlc),
      selected: snap.sources.filter((s) => s.selected).map((s) => s.id),
      lastRound:
        last === null
          ? null
          : {
              updated: last.updated,
              basis: last.basis,
              message: last.message,
              n: last.n,
              f: last.f,
              truechimers: [...last.truechimers],
              falsetickers: [...last.falsetickers],
              agoS: Math.max(0, secondsBetween(localNs, last.localNs)),
            },
      counters: {
        core: { ...snap.counters, exchangesRejected: { ...snap.counters.exchangesRejected } },
        service: {
          samplesByOutcome: { ...svc.samplesByOutcome },
          inboundRequests: { ...svc.inboundRequests },
          gossipByOutcome: { ...svc.gossipByOutcome },
        },
      },
      kernel: kernel === null ? null : kernelClockJson(kernel),
      refclocks: options.refclocks?.() ?? { gps: null, pps: null },
      systemClock: options.systemClock?.() ?? null,
    };
  });

  app.get('/v1/peers', async (): Promise<PeersResponse> => {
    const snap = source.snapshot();
    const localNs = source.localNowNs();
    return { peers: snap.sources.map((s) => peerView(s, localNs)) };
  });

  app.get<{ Querystring: Record<string, unknown> }>(
    '/v1/history',
    { schema: { response: { 200: HISTORY_RESPONSE_SCHEMA } } },
    async (request, reply) => {
      const parsed = parseHistorySeconds(request.query.seconds);
      if (!parsed.ok) return sendError(reply, 400, 'TM_ERR_BAD_REQUEST', parsed.message);
      const points = options.history?.(parsed.seconds) ?? [];
      const body: HistoryResponse = {
        points: points.map((p) => ({
          atNs: p.atNs.toString(),
          offsetNs: p.offsetNs.toString(),
          uncertaintyNs: p.uncertaintyNs?.toString() ?? null,
          status: p.status,
          stratum: p.stratum,
          correctionNs: p.correctionNs.toString(),
        })),
      };
      return body;
    },
  );

  for (const [path, asset] of assets) {
    app.get(path, async (_request, reply) => {
      reply.type(asset.contentType).header('x-content-type-options', 'nosniff');
      if (path === '/') reply.header('content-security-policy', DASHBOARD_CSP);
      return reply.send(asset.body);
    });
  }

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.scrape();
    return reply.type(metrics.registry.contentType).send(text);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const status = source.read().status;
    let reason: string | null = null;
    if (!options.ready()) reason = 'the mesh service has not started (or is shutting down)';
    else if (status === 'unsynchronized') {
      reason =
        'the clock is unsynchronized: no time source has been combined yet, so there is no bound on its error';
    }
    const body: ReadyResponse = { ready: reason === null, status, reason };
    return reply.code(reason === null ? 200 : 503).send(body);
  });

  return app;
}
