/**
 * `timemesh sync URL… [--queries N] [--max-offset-ms MS] [--slew-threshold-ms MS] [--apply] [--json]`:
 * measure NTP and TSQ servers once and say how the host clock would be corrected (see
 * refclock/oneShotSync.ts). A dry run by default.
 *
 * `--apply` (root only) applies the combined offset once through a SystemClockControl
 * (refclock/systemClock.ts, issue #5): a step (clock_settime) when |offset| > --slew-threshold-ms, else
 * a kernel-PLL slew (adjtimex ADJ_OFFSET, with STA_PLL|STA_FREQHOLD so the kernel slews the phase and
 * leaves the frequency alone); either way maxerror/esterror are set from the error bound and
 * STA_UNSYNC is cleared. Beyond --max-offset-ms nothing is applied. The privilege check runs before
 * any server is queried. The control is injectable (`runSync(args, { control })`): the tests use a
 * recording adapter, never the real clock.
 *
 * Exit status: 0 a combined offset was found (dry run) or applied (--apply); 1 no usable server or no
 * majority; 2 usage error (a bad URL names the argument); 3 --apply failed: not root, or the kernel
 * refused (EPERM: no CAP_SYS_TIME) or the adapter is unavailable — nothing was changed, unless the
 * message says a step was made and the status update after it failed; 4 --apply refused: the offset
 * is beyond --max-offset-ms, nothing was changed.
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
import type { SyncResult } from '../refclock/oneShotSync.ts';
import {
  KERNEL_MAX_PHASE_NS,
  createKernelSystemClock,
  requireClockPrivileges,
} from '../refclock/systemClock.ts';
import type { KernelAdjustment, SystemClockControl } from '../refclock/systemClock.ts';
import { SLEW_STATUS_CLEAR, SLEW_STATUS_SET, STA_UNSYNC } from './core/systemClockPolicy.ts';
import { parseAnchorUrl } from './config.ts';
import { hostOscillator } from './localClock.ts';

export const SYNC_EXIT_APPLY_FAILED = 3;
export const SYNC_EXIT_APPLY_REFUSED = 4;
/** The kernel PLL time constant for a one-shot slew: offset/2^(2+2) per second, i.e. ~16 s. */
export const SYNC_SLEW_TIME_CONSTANT = 2;

/** What runSync needs from outside; everything defaults to the real thing. */
export interface SyncDeps {
  /** The clock --apply changes. Default: the real adapter, after requireClockPrivileges(). */
  control?: SystemClockControl;
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
}

/** What --apply did, for the table and --json. */
export interface SyncApplied {
  applied: boolean;
  action: 'step' | 'slew' | 'refuse' | null;
  /** The adjtimex/step arguments, for --json (ns as numbers). */
  stepNs?: number;
  adjustment?: KernelAdjustment;
  error?: string;
}

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

export async function runSync(args: string[], deps: SyncDeps = {}): Promise<number> {
  const stdout = deps.stdout ?? ((t: string) => void process.stdout.write(t));
  const stderr = deps.stderr ?? ((t: string) => void process.stderr.write(t));
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

  const apply = values.apply === true;
  let control: SystemClockControl | null = null;
  if (apply) {
    // Before any server is queried: a user without the privilege learns it at once.
    try {
      if (deps.control !== undefined) control = deps.control;
      else {
        requireClockPrivileges();
        control = createKernelSystemClock({ allowChanges: true });
      }
    } catch (err) {
      stderr(`timemesh sync: --apply: ${(err as Error).message}; nothing was changed\n`);
      return SYNC_EXIT_APPLY_FAILED;
    }
  }

  // Offset 0: the host clock itself is what would be corrected.
  const oscillator = hostOscillator();
  const reports = await measureServers(targets, { queries, clock: { localNowNs: () => oscillator.nowNs() } });
  const result = summarizeSync(reports, {
    maxOffsetNs: maxOffsetMs * 1e6,
    slewThresholdNs: slewThresholdMs * 1e6,
  });
  const outcome: SyncApplied | null =
    control !== null && result.selection.ok ? applySync(result, control) : null;
  if (values.json === true) {
    const json = {
      ...syncResultJson(result),
      dryRun: !apply,
      applied: outcome?.applied ?? false,
      ...(outcome !== null ? { apply: outcome } : {}),
      ...(outcome?.error !== undefined ? { applyError: outcome.error } : {}),
    };
    stdout(JSON.stringify(json, null, 2) + '\n');
  } else {
    stdout(formatSyncTable(result) + '\n');
    if (!apply && result.selection.ok) stdout('dry run: nothing was changed (--apply to apply)\n');
    if (outcome?.applied === true) stdout(`applied: ${result.decision!.message}\n`);
  }
  if (!result.selection.ok) return 1;
  if (outcome === null) return 0;
  if (outcome.action === 'refuse') {
    stderr(`timemesh sync: --apply: ${result.decision!.message}; nothing was changed\n`);
    return SYNC_EXIT_APPLY_REFUSED;
  }
  if (!outcome.applied) {
    stderr(`timemesh sync: --apply: ${outcome.error}\n`);
    return SYNC_EXIT_APPLY_FAILED;
  }
  return 0;
}

/**
 * Carry out the decision once (the selection must be ok). Never throws: a failure is returned with
 * what, if anything, was changed.
 */
export function applySync(result: SyncResult, control: SystemClockControl): SyncApplied {
  const sel = result.selection;
  const decision = result.decision;
  if (!sel.ok || decision === null) return { applied: false, action: null, error: 'no combined offset' };
  if (decision.action === 'refuse') return { applied: false, action: 'refuse' };
  const errorUs = Math.ceil(sel.errorNs / 1000);
  const estErrorUs = Math.ceil(sel.errorNs / Math.sqrt(3) / 1000);
  if (decision.action === 'step') {
    const stepNs = Math.round(sel.offsetNs);
    try {
      control.step(BigInt(stepNs));
    } catch (err) {
      return {
        applied: false,
        action: 'step',
        stepNs,
        error: `step failed: ${(err as Error).message}; nothing was changed`,
      };
    }
    // The clock is now within the error bound: say so to the kernel (and to whoever reads it).
    const adjustment: KernelAdjustment = {
      maxErrorUs: errorUs,
      estErrorUs,
      status: { set: 0, clear: STA_UNSYNC },
    };
    try {
      control.adjust(adjustment);
    } catch (err) {
      return {
        applied: false,
        action: 'step',
        stepNs,
        adjustment,
        error: `the clock was stepped by ${(stepNs / 1e6).toFixed(3)} ms, but setting maxerror/status failed: ${(err as Error).message}`,
      };
    }
    return { applied: true, action: 'step', stepNs, adjustment };
  }
  const abs = Math.abs(sel.offsetNs);
  if (abs > KERNEL_MAX_PHASE_NS) {
    // The kernel would clamp the offset and the command would claim a correction it did not make.
    return {
      applied: false,
      action: 'slew',
      error: `a kernel slew corrects at most ${KERNEL_MAX_PHASE_NS / 1e6} ms (offset ${(sel.offsetNs / 1e6).toFixed(3)} ms); lower --slew-threshold-ms to step instead; nothing was changed`,
    };
  }
  const adjustment: KernelAdjustment = {
    offsetNs: Math.round(sel.offsetNs),
    maxErrorUs: Math.ceil((sel.errorNs + abs) / 1000),
    estErrorUs: Math.ceil((sel.errorNs / Math.sqrt(3) + abs) / 1000),
    timeConstant: SYNC_SLEW_TIME_CONSTANT,
    status: { set: SLEW_STATUS_SET, clear: SLEW_STATUS_CLEAR },
  };
  try {
    control.adjust(adjustment);
  } catch (err) {
    return {
      applied: false,
      action: 'slew',
      adjustment,
      error: `slew failed: ${(err as Error).message}; nothing was changed`,
    };
  }
  return { applied: true, action: 'slew', adjustment };
}
