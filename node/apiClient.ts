/**
 * The client side of the node's API, for `timemesh time`, `timemesh status` and `timemesh peers`:
 * fetch a route's JSON with errors a person can act on, and render the answers as readable text.
 *
 * The formatters take the response shapes defined in node/api.ts (type-only imports: the CLI does not
 * load fastify). They never throw on a well-typed answer; nulls print as "-", and unbounded values
 * (an unsynchronized node) say so in words.
 */
import { TimemeshError } from '../hlc/errors.ts';
import type { PeerResponse, PeersResponse, StatusResponse, TimeResponse } from './api.ts';

/** Where `timemesh time|status|peers` look by default. */
export const DEFAULT_API_URL = 'http://127.0.0.1:7070';
const DEFAULT_TIMEOUT_MS = 5000;

export const API_UNREACHABLE_ERROR_CODE = 'TM_ERR_API_UNREACHABLE';
export const API_TIMEOUT_ERROR_CODE = 'TM_ERR_API_TIMEOUT';
export const API_RESPONSE_ERROR_CODE = 'TM_ERR_API_RESPONSE';
export const API_URL_ERROR_CODE = 'TM_ERR_API_URL';

/** A failed API call; `status` is the HTTP status when the node answered. */
export class ApiClientError extends TimemeshError {
  readonly status: number | null;

  constructor(code: string, message: string, status: number | null = null, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
    this.status = status;
  }
}

/**
 * `http://host:port` from what an operator types: a URL, or `host:port` (the `--api` flag's form).
 * Trailing slashes go. Throws TM_ERR_API_URL for anything that is not an http(s) URL.
 */
export function normalizeBaseUrl(input: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `http://${input}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ApiClientError(API_URL_ERROR_CODE, `not a valid API address: ${JSON.stringify(input)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ApiClientError(
      API_URL_ERROR_CODE,
      `the API address must be http:// or https:// (got ${JSON.stringify(input)})`,
    );
  }
  return withScheme.replace(/\/+$/, '');
}

/**
 * GETs `path` from the node at `baseUrl` and returns the parsed JSON, cast to T (the caller names the
 * route's response type from node/api.ts; the node is ours, so the shape is trusted).
 * Errors (ApiClientError):
 * - TM_ERR_API_UNREACHABLE: nothing listens there (the message says how to start a node);
 * - TM_ERR_API_TIMEOUT: it accepted the connection but did not answer in time;
 * - TM_ERR_API_RESPONSE: it answered with an error status (the API's message is included) or with
 *   something that is not JSON (probably not a timemesh node).
 */
export async function fetchJson<T = unknown>(
  baseUrl: string,
  path: string,
  options: { timeoutMs?: number } = {},
): Promise<T> {
  const base = normalizeBaseUrl(baseUrl);
  const url = `${base}${path.startsWith('/') ? path : `/${path}`}`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let res: Response;
  try {
    res = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/json' },
    });
  } catch (err) {
    const name = (err as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      throw new ApiClientError(
        API_TIMEOUT_ERROR_CODE,
        `the timemesh node at ${base} did not answer GET ${path} within ${timeoutMs / 1000} s`,
        null,
        err,
      );
    }
    const detail = causeCode(err);
    throw new ApiClientError(
      API_UNREACHABLE_ERROR_CODE,
      `no timemesh node answers at ${base} — is it running? start one with \`timemesh start\`` +
        (detail === null ? '' : ` (${detail})`),
      null,
      err,
    );
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiClientError(
      API_RESPONSE_ERROR_CODE,
      `GET ${url} answered ${res.status} with something that is not JSON ` +
        `(content-type ${JSON.stringify(res.headers.get('content-type') ?? '')}): is this a timemesh API?`,
      res.status,
    );
  }
  if (!res.ok) {
    const e = body as { code?: unknown; message?: unknown; reason?: unknown };
    const why = typeof e.message === 'string' ? e.message : typeof e.reason === 'string' ? e.reason : text;
    const code = typeof e.code === 'string' ? ` ${e.code}` : '';
    throw new ApiClientError(
      API_RESPONSE_ERROR_CODE,
      `GET ${url}: HTTP ${res.status}${code}: ${why}`,
      res.status,
    );
  }
  return body as T;
}

function causeCode(err: unknown): string | null {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (cause === undefined || cause === null) return null;
  if (typeof cause.code === 'string') return cause.code;
  return typeof cause.message === 'string' ? cause.message : null;
}

// ---- units --------------------------------------------------------------------------------------

/**
 * A duration in ns at a readable scale: "850 ns", "12.3 µs", "1.234 ms", "2.5 s", "3.1 h".
 * `signed` prefixes a + on positive values (offsets). Null and non-finite values print as "-".
 */
export function formatNs(ns: number | null, signed = false): string {
  if (ns === null || !Number.isFinite(ns)) return '-';
  const sign = ns < 0 ? '-' : signed && ns > 0 ? '+' : '';
  const a = Math.abs(ns);
  let text: string;
  if (a < 1e3) text = `${Math.round(a)} ns`;
  else if (a < 1e6) text = `${trim(a / 1e3)} µs`;
  else if (a < 1e9) text = `${trim(a / 1e6)} ms`;
  else if (a < 3600e9) text = `${trim(a / 1e9)} s`;
  else if (a < 86_400e9 * 2) text = `${trim(a / 3600e9)} h`;
  else text = `${trim(a / 86_400e9)} d`;
  return sign + text;
}

/** Four significant digits, no trailing zeros: 1.234, 12.35, 123.5, 999.9. */
function trim(x: number): string {
  return String(Number(x.toPrecision(4)));
}

/** Seconds ago, compactly: "0.4s", "12s", "5m", "3h". */
export function formatAgo(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '-';
  if (s < 10) return `${trim(s)}s`;
  if (s < 120) return `${Math.round(s)}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** Peer ids are 52 characters; tables show the head and the tail, as libp2p's own logs do. */
export function shortId(id: string): string {
  return id.length > 20 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id;
}

// ---- layout -------------------------------------------------------------------------------------

/** `key  value` lines with the values aligned; a multi-line value continues under its first line. */
function keyValues(rows: readonly [string, string][]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  const out: string[] = [];
  for (const [k, v] of rows) {
    const lines = v.split('\n');
    out.push(`${k.padEnd(width)}  ${lines[0]}`.trimEnd());
    for (const more of lines.slice(1)) out.push(`${' '.repeat(width)}  ${more}`.trimEnd());
  }
  return out.join('\n');
}

/** A plain text table; columns named in `right` are right-aligned (numbers). */
function table(headers: readonly string[], rows: readonly string[][], right: ReadonlySet<number>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function listOrNone(xs: readonly string[], none = 'none'): string {
  return xs.length === 0 ? none : xs.map(shortId).join(', ');
}

/** `a 1, b 2` for a counts record, zeros left out; "none" when nothing was counted. */
function counts(record: Readonly<Record<string, number>>): string {
  const entries = Object.entries(record).filter(([, v]) => v !== 0);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${v}`).join(', ');
}

// ---- formatters ---------------------------------------------------------------------------------

function uncertaintyText(uncertaintyNs: string | null): string {
  return uncertaintyNs === null ? 'unbounded (no time source yet)' : `±${formatNs(Number(uncertaintyNs))}`;
}

function syncLine(status: string, stratum: number, anchorKind: string): string {
  return `${status}, stratum ${stratum}, anchor ${anchorKind}`;
}

/** `timemesh time`. */
export function formatTime(t: TimeResponse): string {
  return keyValues([
    ['time', t.best],
    ['uncertainty', uncertaintyText(t.uncertaintyNs)],
    ['status', syncLine(t.status, t.stratum, t.anchorKind)],
    ['earliest', t.earliest ?? '-'],
    ['latest', t.latest ?? '-'],
    ['best (ns)', t.bestNs],
    ['hlc', t.hlc ?? '- (stalled: high-water mark not persisted)'],
  ]);
}

/** `timemesh status`. */
export function formatStatus(s: StatusResponse): string {
  const core = s.counters.core;
  const svc = s.counters.service;
  const last = s.lastRound;
  const rows: [string, string][] = [
    ['node', s.peerId],
    ['listening', s.multiaddrs.length === 0 ? '-' : s.multiaddrs.join('\n')],
    ['status', syncLine(s.status, s.stratum, s.anchorKind)],
    ['uncertainty', uncertaintyText(s.uncertaintyNs)],
    ['frequency', `${s.frequencyPpm >= 0 ? '+' : ''}${s.frequencyPpm.toFixed(3)} ppm`],
    ['poll', `${s.pollIntervalS} s`],
    ['hlc', s.hlc],
    ['selected', `${s.selected.length}: ${listOrNone(s.selected)}`],
  ];
  if (last === null) {
    rows.push(['last round', 'none yet']);
  } else {
    rows.push(
      [
        'last round',
        `${formatAgo(last.agoS)} ago, ${last.updated ? 'updated' : 'no update'} (${last.basis}): ${last.message}`,
      ],
      ['  n, f', `${last.n} sources, f = ${last.f}`],
      ['  truechimers', listOrNone(last.truechimers)],
      ['  falsetickers', listOrNone(last.falsetickers)],
    );
  }
  rows.push(
    ['rounds', `${core.rounds} (no quorum: ${core.noQuorumRounds})`],
    [
      'exchanges',
      `${core.exchangesStarted} started, ${core.exchangesCompleted} completed, ${core.exchangesFailed} failed`,
    ],
    ['rejected', counts(core.exchangesRejected)],
    ['corrections', `${core.steps} steps, ${core.slews} slews`],
    [
      'marked',
      `${core.falsetickerMarks} peers and ${core.referenceFalsetickerMarks} references as falsetickers`,
    ],
    ['hlc rejected', String(core.hlcRejections)],
    ['samples', counts(svc.samplesByOutcome)],
    ['inbound', counts(svc.inboundRequests)],
    ['gossip', counts(svc.gossipByOutcome)],
  );
  const gps = s.refclocks?.gps ?? null;
  if (gps !== null) {
    const last = gps.lastSample;
    rows.push(
      ['gps', `${gps.device} at ${gps.baudRate} baud, ${gps.open ? 'open' : 'closed (reopening)'}`],
      [
        '  last sample',
        last === null
          ? 'none yet'
          : `${formatAgo(last.agoS)} ago, offset ${(last.offsetNs / 1e6).toFixed(3)} ms ± ${(last.errorNs / 1e6).toFixed(3)} ms`,
      ],
      ['  lines', `${gps.linesTotal} (${gps.samplesTotal} samples), dropped ${counts(gps.drops)}`],
    );
  }
  const pps = s.refclocks?.pps ?? null;
  if (pps !== null) {
    const last = pps.lastSample;
    rows.push(
      ['pps', `${pps.device} (${pps.method}), ${pps.running ? 'running' : 'stopped'}`],
      [
        '  last sample',
        last === null
          ? 'none yet'
          : `${formatAgo(last.agoS)} ago, offset ${(last.offsetNs / 1e6).toFixed(6)} ms ± ${last.errorNs} ns`,
      ],
      [
        '  edges',
        `${pps.edgesTotal} (${pps.samplesTotal} samples), dropped ${counts(pps.drops)}, timeouts ${pps.fetchTimeoutsTotal}, errors ${pps.readerErrorsTotal}`,
      ],
    );
  }
  const sc = s.systemClock ?? null;
  if (sc !== null) {
    const a = sc.lastAction;
    rows.push(
      [
        'system clock',
        `${sc.dryRun ? 'discipline DRY RUN (changes nothing)' : 'disciplined'}, ${sc.running ? 'running' : 'stopped'}`,
      ],
      [
        '  last tick',
        a === null
          ? 'none yet'
          : `${a.type}${Number.isFinite(a.offsetNs) ? `, system clock ${a.offsetNs >= 0 ? 'behind' : 'ahead'} by ${(Math.abs(a.offsetNs) / 1e6).toFixed(3)} ms` : ''}: ${a.reason}`,
      ],
      [
        '  actions',
        `${sc.steps} steps, ${sc.slews} slews, ${sc.refusals} refused, ${sc.holds} held, ${sc.errors} errors`,
      ],
    );
  }
  const k = s.kernel;
  rows.push([
    'kernel clock',
    k === null
      ? 'unavailable (adjtimex is Linux-only)'
      : `${k.synchronized ? 'synchronized' : 'unsynchronized (STA_UNSYNC)'}, offset ${(k.offsetNs / 1000).toFixed(3)} µs, ` +
        `frequency ${k.frequencyPpm.toFixed(3)} ppm, max error ${k.maxErrorUs} µs, est error ${k.estErrorUs} µs`,
  ]);
  return keyValues(rows);
}

/** chronyc-style state mark: * selected, ! falseticker, x excluded, blank otherwise. */
function mark(p: PeerResponse): string {
  if (p.excluded) return 'x';
  if (p.falseticker) return '!';
  return p.selected ? '*' : ' ';
}

/** `timemesh peers`. */
export function formatPeers(p: PeersResponse): string {
  if (p.peers.length === 0) return 'no sources yet: the node has not measured any peer or reference';
  const headers = [
    'S',
    'ID',
    'KIND',
    'ST',
    'ANCHOR',
    'REACH',
    'LAST',
    'OFFSET',
    'DELAY',
    'JITTER',
    'ROOT DIST',
    'SCORE',
  ];
  const rows = p.peers.map((x) => [
    mark(x),
    shortId(x.id),
    x.kind === 'reference' ? 'ref' : 'peer',
    String(x.stratum),
    x.anchorKind,
    x.reachOctal,
    formatAgo(x.lastSeenAgoS),
    formatNs(x.offsetNs, true),
    formatNs(x.delayNs),
    formatNs(x.jitterNs),
    formatNs(x.rootDistanceNs),
    x.score.toFixed(3),
  ]);
  const lines = [table(headers, rows, new Set([3, 5, 6, 7, 8, 9, 10, 11]))];
  const notes = p.peers.filter((x) => x.excluded);
  for (const x of notes) {
    lines.push(
      `x ${shortId(x.id)}: excluded for another ${formatAgo(x.excludedForS)}` +
        (x.excludedReason === null ? '' : ` (${x.excludedReason})`),
    );
  }
  lines.push('S: * selected, ! falseticker, x excluded; REACH: last 8 polls in octal (377 = all answered)');
  return lines.join('\n');
}
