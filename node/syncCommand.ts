/**
 * `timemesh sync URL… [--queries N] [--max-offset-ms MS] [--slew-threshold-ms MS] [--apply] [--json]`:
 * measure NTP and TSQ servers once and say how the host clock would be corrected (see
 * refclock/oneShotSync.ts). A dry run by default; `--apply` needs the system-clock adapter of issue #5,
 * which does not exist yet, so it exits 3 and changes nothing.
 *
 * Exit status: 0 a combined offset was found (dry run), 1 no usable server or no majority, 2 usage
 * error (a bad URL names the argument), 3 `--apply` asked for.
 */
import { parseArgs } from 'node:util';
import { TimemeshError } from '../hlc/errors.ts';
import {
  SYNC_MAX_OFFSET_MS_DEFAULT,
  SYNC_QUERIES_DEFAULT,
  SYNC_QUERIES_MAX,
  SYNC_SLEW_THRESHOLD_MS_DEFAULT,
  formatSyncTable,
  measureServers,
  summarizeSync,
  syncResultJson,
} from '../refclock/oneShotSync.ts';
import type { SyncTarget } from '../refclock/oneShotSync.ts';
import { parseAnchorUrl } from './config.ts';
import { hostOscillator } from './localClock.ts';

export const SYNC_APPLY_UNAVAILABLE =
  '--apply needs the system-clock adapter (issue #5), not available in this version; nothing was changed';
export const SYNC_EXIT_APPLY_UNAVAILABLE = 3;

/** cli.ts maps TM_ERR_USAGE to exit status 2. */
class SyncUsageError extends TimemeshError {
  constructor(message: string) {
    super('TM_ERR_USAGE', message);
  }
}

const syncOptions = {
  queries: { type: 'string' },
  'max-offset-ms': { type: 'string' },
  'slew-threshold-ms': { type: 'string' },
  apply: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

function numberFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new SyncUsageError(`--${name}: expected a number from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

export async function runSync(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: syncOptions, strict: true, allowPositionals: true });
  } catch (err) {
    throw new SyncUsageError(
      `timemesh sync: ${(err as Error).message}. Run 'timemesh help' for the options.`,
    );
  }
  const { values, positionals } = parsed;
  const queries = numberFlag('queries', values.queries, SYNC_QUERIES_DEFAULT, 1, SYNC_QUERIES_MAX);
  if (!Number.isInteger(queries)) {
    throw new SyncUsageError(
      `--queries: expected an integer from 1 to ${SYNC_QUERIES_MAX}, got '${values.queries}'`,
    );
  }
  const maxOffsetMs = numberFlag(
    'max-offset-ms',
    values['max-offset-ms'],
    SYNC_MAX_OFFSET_MS_DEFAULT,
    0,
    86_400_000,
  );
  const slewThresholdMs = numberFlag(
    'slew-threshold-ms',
    values['slew-threshold-ms'],
    Math.min(SYNC_SLEW_THRESHOLD_MS_DEFAULT, maxOffsetMs),
    0,
    maxOffsetMs,
  );
  if (positionals.length === 0) {
    throw new SyncUsageError(
      'timemesh sync: expected at least one server URL (ntp://HOST[:PORT] or tsq://HOST[:PORT])',
    );
  }
  const targets: SyncTarget[] = [];
  const seen = new Set<string>();
  positionals.forEach((text, i) => {
    const r = parseAnchorUrl(text);
    if (!r.ok) throw new SyncUsageError(`timemesh sync: argument ${i + 1} '${text}': ${r.problem}`);
    if (seen.has(r.anchor.url)) {
      throw new SyncUsageError(`timemesh sync: argument ${i + 1} '${text}': server listed twice`);
    }
    seen.add(r.anchor.url);
    const a = r.anchor;
    targets.push(
      a.scheme === 'ntp'
        ? { scheme: 'ntp', url: a.url, host: a.host, port: a.port }
        : {
            scheme: 'tsq',
            url: a.url,
            host: a.host,
            port: a.port,
            mode: a.mode,
            insecure: a.insecure,
            caFile: a.caFile,
          },
    );
  });

  // Offset 0: the host clock itself is what would be corrected.
  const oscillator = hostOscillator();
  const reports = await measureServers(targets, { queries, clock: { localNowNs: () => oscillator.nowNs() } });
  const result = summarizeSync(reports, {
    maxOffsetNs: maxOffsetMs * 1e6,
    slewThresholdNs: slewThresholdMs * 1e6,
  });
  const apply = values.apply === true;
  if (values.json === true) {
    const json = {
      ...syncResultJson(result),
      dryRun: !apply,
      applied: false,
      ...(apply ? { applyError: SYNC_APPLY_UNAVAILABLE } : {}),
    };
    process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  } else {
    process.stdout.write(formatSyncTable(result) + '\n');
    if (!apply && result.selection.ok)
      process.stdout.write('dry run: nothing was changed (--apply to apply)\n');
  }
  if (!result.selection.ok) return 1;
  if (apply) {
    process.stderr.write(`timemesh sync: ${SYNC_APPLY_UNAVAILABLE}\n`);
    return SYNC_EXIT_APPLY_UNAVAILABLE;
  }
  return 0;
}
