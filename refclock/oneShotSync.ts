/**
 * One-shot sync (`timemesh sync`, like ntpdate or the TSQ prototype's adjtime tool): query a few NTP
 * and TSQ servers a few times each, throw out the servers that disagree with the majority, and say
 * what correction the local clock needs: slew, step, or refuse.
 *
 * Two layers:
 * - Pure (`bestSample`, `selectServers`, `decideCorrection`, `summarizeSync`, `formatSyncTable`,
 *   `syncResultJson`): measurements in, a verdict per server and a decision out. No clock, no timer.
 * - The driver (`measureServers`): runs the existing clients — refclock/ntpClient.ts (iburst of
 *   `queries` requests, so packets, origin checks and Kiss-o'-Death stay in one place) and
 *   refclock/tsqClient.ts (`measure()` `queries` times on one connection) — for every server at once.
 *
 * Sign convention (as everywhere): offset = server − local, on the host clock (hostOscillator with
 * offset 0); positive means the local clock is behind and would have to move forward.
 *
 * Selection. Per server the least-delayed sample wins (NTP's clock filter: the smallest δ has the
 * least room for path asymmetry). Its correctness interval is [θ − error, θ + error] with error =
 * root distance + δ/2 (NTP) or the server's own error + δ/2 (TSQ). Those intervals go to bft/combine
 * with f = 0, 1, … while n > 2f: the first f for which n − f intervals share a point wins (fewest
 * falsetickers, NTP's selection rule); the offset is the median of the truechimers that survive
 * trimming f from each end, and the error bound is the distance to the far edge of the agreed
 * interval. No majority (e.g. two servers that disagree) gives no offset at all, never a guess.
 *
 * HAZARD: nothing here changes the clock. `timemesh sync --apply` (node/syncCommand.ts, root only)
 * carries the decision out once through the system-clock adapter of issue #5 (refclock/systemClock.ts):
 * step above the slew threshold, kernel-PLL slew below it, nothing beyond the max offset.
 */
import { combine } from '../bft/index.ts';
import type { SourceEstimate } from '../bft/index.ts';
import { NtpClient } from './ntpClient.ts';
import { TsqClient } from './tsqClient.ts';
import type { UpstreamMeasurement } from './types.ts';

export const SYNC_QUERIES_DEFAULT = 5;
export const SYNC_QUERIES_MAX = 16;
export const SYNC_MAX_OFFSET_MS_DEFAULT = 1000;
export const SYNC_SLEW_THRESHOLD_MS_DEFAULT = 128;
/** Spacing of the NTP requests to one server; also how long each reply is waited for. */
export const SYNC_NTP_INTERVAL_MS_DEFAULT = 1000;

/** One server to query, already validated (node/config.ts parseAnchorUrl). */
export type SyncTarget =
  | { scheme: 'ntp'; url: string; host: string; port: number }
  | {
      scheme: 'tsq';
      url: string;
      host: string;
      port: number;
      mode: 'stream' | 'datagram';
      insecure: boolean;
      caFile: string | null;
    };

/** What one server gave: every sample that passed the client's checks, and why the others failed. */
export interface ServerReport {
  server: string;
  scheme: 'ntp' | 'tsq';
  queries: number;
  samples: UpstreamMeasurement[];
  /** Why queries failed, with counts ("timeout ×2"); empty when none did. */
  problems: string[];
}

export type SyncVerdict = 'truechimer' | 'falseticker' | 'failed' | 'no-majority';

export interface ServerSummary {
  server: string;
  scheme: 'ntp' | 'tsq';
  /** The least-delayed sample, or null when none came back. */
  best: UpstreamMeasurement | null;
  samplesOk: number;
  samplesTotal: number;
  verdict: SyncVerdict;
  problems: string[];
}

export type SyncAction = 'slew' | 'step' | 'refuse';

export interface SyncDecision {
  action: SyncAction;
  /** One sentence for the operator. */
  message: string;
}

export type SyncSelection =
  | {
      ok: true;
      offsetNs: number;
      /** Half-width bound: truth lies within offsetNs ± errorNs if the majority is honest. */
      errorNs: number;
      lowNs: number;
      highNs: number;
      /** Falsetickers tolerated to reach the majority. */
      f: number;
      truechimers: string[];
      falsetickers: string[];
    }
  | { ok: false; message: string };

export interface SyncOptions {
  maxOffsetNs: number;
  slewThresholdNs: number;
}

export interface SyncResult {
  servers: ServerSummary[];
  selection: SyncSelection;
  decision: SyncDecision | null;
  options: SyncOptions;
}

// ---- pure ----------------------------------------------------------------------------------------

/** The least-delayed sample (NTP clock-filter style), or null for none. */
export function bestSample(samples: readonly UpstreamMeasurement[]): UpstreamMeasurement | null {
  let best: UpstreamMeasurement | null = null;
  for (const s of samples) if (best === null || s.delayNs < best.delayNs) best = s;
  return best;
}

/**
 * Majority selection over the servers' correctness intervals (see the header). `best` per server,
 * in any order; ids must be distinct.
 */
export function selectServers(best: readonly UpstreamMeasurement[]): SyncSelection {
  const n = best.length;
  if (n === 0) return { ok: false, message: 'no server answered' };
  const estimates: SourceEstimate[] = best.map((m) => ({
    id: m.server,
    offsetNs: m.offsetNs,
    lowNs: m.offsetNs - m.errorNs,
    highNs: m.offsetNs + m.errorNs,
    distanceNs: m.errorNs,
    anchored: true,
  }));
  let lastMessage = '';
  for (let f = 0; 2 * f < n; f++) {
    const r = combine(estimates, { faultTolerance: f, estimator: 'median' });
    if (r.ok) {
      return {
        ok: true,
        offsetNs: r.offsetNs,
        errorNs: Math.max(r.offsetNs - r.lowNs, r.highNs - r.offsetNs),
        lowNs: r.lowNs,
        highNs: r.highNs,
        f,
        truechimers: r.truechimers,
        falsetickers: r.falsetickers,
      };
    }
    lastMessage = r.message;
  }
  return {
    ok: false,
    message: `no majority of servers agrees on an offset (${n === 1 ? '1 server' : `${n} servers`}; ${lastMessage})`,
  };
}

/** Refuse beyond the max offset, step above the slew threshold, slew below (ntpdate's rule). */
export function decideCorrection(offsetNs: number, o: SyncOptions): SyncDecision {
  const ms = (ns: number): string => `${(ns / 1e6).toFixed(3)} ms`;
  const abs = Math.abs(offsetNs);
  if (abs > o.maxOffsetNs) {
    return {
      action: 'refuse',
      message: `offset ${ms(offsetNs)} is beyond --max-offset-ms (${o.maxOffsetNs / 1e6}); not applied`,
    };
  }
  if (abs > o.slewThresholdNs) {
    return {
      action: 'step',
      message: `step the clock by ${ms(offsetNs)} (|offset| > --slew-threshold-ms ${o.slewThresholdNs / 1e6})`,
    };
  }
  return {
    action: 'slew',
    message: `slew the clock by ${ms(offsetNs)} (|offset| ≤ --slew-threshold-ms ${o.slewThresholdNs / 1e6})`,
  };
}

export function summarizeSync(reports: readonly ServerReport[], options: SyncOptions): SyncResult {
  const seen = new Set<string>();
  for (const r of reports) {
    if (seen.has(r.server)) throw new RangeError(`server listed twice: ${r.server}`);
    seen.add(r.server);
  }
  const bests = reports.map((r) => bestSample(r.samples));
  const selection = selectServers(bests.filter((b): b is UpstreamMeasurement => b !== null));
  const servers = reports.map((r, i): ServerSummary => {
    const best = bests[i] ?? null;
    let verdict: SyncVerdict;
    if (best === null) verdict = 'failed';
    else if (!selection.ok) verdict = 'no-majority';
    else verdict = selection.truechimers.includes(r.server) ? 'truechimer' : 'falseticker';
    return {
      server: r.server,
      scheme: r.scheme,
      best,
      samplesOk: r.samples.length,
      samplesTotal: r.queries,
      verdict,
      problems: r.problems,
    };
  });
  const decision = selection.ok ? decideCorrection(selection.offsetNs, options) : null;
  return { servers, selection, decision, options };
}

const msText = (ns: number | undefined, digits = 3): string =>
  ns === undefined ? '-' : (ns / 1e6).toFixed(digits);

/** The table `timemesh sync` prints, and the combined line. */
export function formatSyncTable(result: SyncResult): string {
  const header = ['server', 'offset ms', 'delay ms', 'stratum', 'error ms', 'samples', 'verdict'];
  const rows = result.servers.map((s) => [
    s.server,
    msText(s.best?.offsetNs),
    msText(s.best?.delayNs),
    s.best === null ? '-' : String(s.best.stratum),
    msText(s.best?.errorNs),
    `${s.samplesOk}/${s.samplesTotal}`,
    s.verdict + (s.problems.length > 0 ? ` (${s.problems.join(', ')})` : ''),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] as string).length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) =>
        c === 0 || c === cells.length - 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!),
      )
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map(line)];
  const sel = result.selection;
  if (sel.ok) {
    out.push(
      `combined offset ${msText(sel.offsetNs)} ms ± ${msText(sel.errorNs)} ms ` +
        `(${sel.truechimers.length} truechimer${sel.truechimers.length === 1 ? '' : 's'}, ` +
        `${sel.falsetickers.length} falseticker${sel.falsetickers.length === 1 ? '' : 's'})`,
    );
    out.push(`decision: ${result.decision!.action}: ${result.decision!.message}`);
  } else {
    out.push(`no combined offset: ${sel.message}`);
  }
  return out.join('\n');
}

/** The `--json` object: milliseconds as numbers, no bigints. */
export function syncResultJson(result: SyncResult): Record<string, unknown> {
  const ms = (ns: number): number => ns / 1e6;
  const sel = result.selection;
  return {
    servers: result.servers.map((s) => ({
      server: s.server,
      scheme: s.scheme,
      offsetMs: s.best === null ? null : ms(s.best.offsetNs),
      delayMs: s.best === null ? null : ms(s.best.delayNs),
      stratum: s.best?.stratum ?? null,
      errorMs: s.best === null ? null : ms(s.best.errorNs),
      samplesOk: s.samplesOk,
      samplesTotal: s.samplesTotal,
      verdict: s.verdict,
      problems: s.problems,
    })),
    combined: sel.ok
      ? {
          offsetMs: ms(sel.offsetNs),
          errorMs: ms(sel.errorNs),
          lowMs: ms(sel.lowNs),
          highMs: ms(sel.highNs),
          falsetickersTolerated: sel.f,
          truechimers: sel.truechimers,
          falsetickers: sel.falsetickers,
        }
      : null,
    problem: sel.ok ? null : sel.message,
    decision: result.decision,
    maxOffsetMs: ms(result.options.maxOffsetNs),
    slewThresholdMs: ms(result.options.slewThresholdNs),
  };
}

// ---- driver --------------------------------------------------------------------------------------

export interface MeasureOptions {
  queries: number;
  /** The local clock the offsets are measured against (raw readings, ns since the epoch). */
  clock: { localNowNs(): bigint };
  ntpIntervalMs?: number;
}

/** Queries every server `queries` times, all servers at once; never throws for network trouble. */
export async function measureServers(
  targets: readonly SyncTarget[],
  o: MeasureOptions,
): Promise<ServerReport[]> {
  if (!Number.isInteger(o.queries) || o.queries < 1 || o.queries > SYNC_QUERIES_MAX) {
    throw new RangeError(`queries must be an integer 1..${SYNC_QUERIES_MAX}, got ${o.queries}`);
  }
  const ntp = targets.filter((t) => t.scheme === 'ntp');
  const tsq = targets.filter((t) => t.scheme === 'tsq');
  const [ntpReports, tsqReports] = await Promise.all([
    queryNtpServers(ntp, o),
    Promise.all(tsq.map((t) => queryTsqServer(t, o))),
  ]);
  // Back in the order given.
  const byUrl = new Map([...ntpReports, ...tsqReports].map((r) => [r.server, r]));
  return targets.map((t) => byUrl.get(t.url)!);
}

/**
 * `queries` requests to each NTP server, `ntpIntervalMs` apart, through NtpClient's iburst; the
 * regular poll after the burst is 2^10 s away, so nothing more is sent before stop(). A reply later
 * than the spacing counts as lost (the client only accepts the answer to the outstanding request).
 */
export async function queryNtpServers(
  targets: readonly Extract<SyncTarget, { scheme: 'ntp' }>[],
  o: MeasureOptions,
): Promise<ServerReport[]> {
  if (targets.length === 0) return [];
  const intervalMs = o.ntpIntervalMs ?? SYNC_NTP_INTERVAL_MS_DEFAULT;
  const samples = new Map<string, UpstreamMeasurement[]>(targets.map((t) => [t.url, []]));
  const client = new NtpClient({
    servers: targets.map((t) => ({ url: t.url, host: t.host, port: t.port, minPoll: 10, maxPoll: 10 })),
    view: o.clock,
    sink: () => {},
    onMeasurement: (m) => samples.get(m.server)?.push(m),
    iburst: true,
    burstCount: o.queries,
    burstIntervalMs: intervalMs,
  });
  await client.start();
  // Done when every server answered every query, or the last reply window has closed.
  const deadlineMs = Date.now() + o.queries * intervalMs + 500;
  try {
    while (Date.now() < deadlineMs) {
      const snapshots = client.snapshot();
      if (snapshots.every((s) => s.counters.samples >= o.queries || s.state !== 'running')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await client.stop();
  }
  const snapshots = new Map(client.snapshot().map((s) => [s.url, s]));
  return targets.map((t) => {
    const got = samples.get(t.url)!.slice(0, o.queries);
    const s = snapshots.get(t.url)!;
    const problems: string[] = [];
    if (s.address === null) problems.push('not resolved');
    for (const [reason, count] of Object.entries(s.counters.dropped)) {
      if (count > 0) problems.push(count === 1 ? reason : `${reason} ×${count}`);
    }
    for (const [code, count] of Object.entries(s.counters.kisses)) problems.push(`kiss ${code} ×${count}`);
    const lost = Math.min(s.counters.sent, o.queries) - s.counters.received;
    if (lost > 0) problems.push(`no reply ×${lost}`);
    return { server: t.url, scheme: 'ntp', queries: o.queries, samples: got, problems };
  });
}

/** `queries` sequential exchanges on one QUIC connection; unusable samples (no error bound) count as failures. */
export async function queryTsqServer(
  target: Extract<SyncTarget, { scheme: 'tsq' }>,
  o: MeasureOptions,
): Promise<ServerReport> {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  const client = new TsqClient(`tsq://${host}:${target.port}?mode=${target.mode}`, {
    clock: o.clock,
    ...(target.insecure ? { insecure: true } : {}),
    ...(target.caFile !== null ? { caFile: target.caFile } : {}),
  });
  const samples: UpstreamMeasurement[] = [];
  const failures = new Map<string, number>();
  const fail = (reason: string): void => void failures.set(reason, (failures.get(reason) ?? 0) + 1);
  try {
    for (let i = 0; i < o.queries; i++) {
      const r = await client.measure();
      if (!r.ok) {
        fail(r.reason);
        // Nothing will connect on the next try either: count the rest as the same failure.
        if (r.reason === 'connect-failed' || r.reason === 'alpn-mismatch') {
          for (let k = i + 1; k < o.queries; k++) fail(r.reason);
          break;
        }
        continue;
      }
      if (!r.measurement.usable) {
        fail('unusable (no error bound or unsynchronized)');
        continue;
      }
      const { offsetNs, delayNs, stratum, errorNs, localNs } = r.measurement;
      samples.push({ server: target.url, offsetNs, delayNs, stratum, errorNs, localNs });
    }
  } finally {
    await client.stop();
  }
  const problems = [...failures].map(([reason, count]) => (count === 1 ? reason : `${reason} ×${count}`));
  return { server: target.url, scheme: 'tsq', queries: o.queries, samples, problems };
}
