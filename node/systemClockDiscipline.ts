/**
 * The driver of the opt-in system-clock discipline (issue #5, "System clock"; root only). Every
 * `intervalMs` it measures how far CLOCK_REALTIME is from the node's best estimate, asks the pure
 * policy (node/core/systemClockPolicy.ts) what to do, and carries the action out through a
 * SystemClockControl (refclock/systemClock.ts) — or, in a dry run, only logs what it would do.
 *
 * Measurement: local, realtime, local (the realtime read lies between the two oscillator reads); the
 * node's estimate is taken at their midpoint, so the offset's own error is at most half their gap, which
 * is added to the node's root distance before the policy sees it.
 * Sign convention: systemOffsetNs = serveTime(midLocal).timeNs − realtime; positive: the system clock
 * is behind.
 *
 * Invariants: tick() never throws. A failing control (EPERM, a kernel refusal, a bug) is caught,
 * logged and counted; the timer keeps running. In a dry run no adjust/step call is made at all (only
 * the read-only realtimeNs/read); decisions are still counted and logged as "would step/slew".
 *
 * HAZARD: the view's oscillator should be CLOCK_MONOTONIC_RAW (hostOscillator({ source:
 * 'monotonic-raw' })); see the policy's header for why ADJ_FREQUENCY is then the core's frequency.
 */
import { SystemClockPolicy } from './core/systemClockPolicy.ts';
import type { SystemClockAction, SystemClockPolicyConfig } from './core/systemClockPolicy.ts';
import type { ServedTime } from './core/types.ts';
import { bracketRead } from '../refclock/posixClock.ts';
import type { SystemClockControl } from '../refclock/systemClock.ts';

export type SystemClockLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type SystemClockLog = (
  level: SystemClockLogLevel,
  msg: string,
  fields: Record<string, unknown>,
) => void;

export interface SystemClockView {
  localNowNs(): bigint;
  serveTime(localNs: bigint): ServedTime;
  /** The core's frequency error of the raw oscillator, ppm (positive: it runs slow). */
  oscillatorFrequencyPpm(): number;
}

export interface SystemClockDisciplineOptions {
  control: SystemClockControl;
  view: SystemClockView;
  policy?: Partial<SystemClockPolicyConfig>;
  /** Log what would be done, change nothing. */
  dryRun: boolean;
  /** Tick period, ms (default 1000). */
  intervalMs?: number;
  log?: SystemClockLog;
}

export interface SystemClockDisciplineSnapshot {
  dryRun: boolean;
  running: boolean;
  ticks: number;
  /** Decisions taken (in a dry run: decisions that would have been carried out). */
  steps: number;
  slews: number;
  refusals: number;
  holds: number;
  /** Control calls (or measurements) that failed. */
  errors: number;
  lastAction: SystemClockAction | null;
  lastOffsetNs: number | null;
  lastError: string | null;
}

export const SYSTEM_CLOCK_INTERVAL_MS_DEFAULT = 1000;

const ms = (ns: number): string => `${(ns / 1e6).toFixed(3)} ms`;

export class SystemClockDiscipline {
  private readonly control: SystemClockControl;
  private readonly view: SystemClockView;
  private readonly policy: SystemClockPolicy;
  private readonly dryRun: boolean;
  private readonly intervalMs: number;
  private readonly log: SystemClockLog;
  private timer: ReturnType<typeof setInterval> | null = null;
  private ticks = 0;
  private errors = 0;
  private lastAction: SystemClockAction | null = null;
  private lastOffsetNs: number | null = null;
  private lastError: string | null = null;

  constructor(o: SystemClockDisciplineOptions) {
    this.control = o.control;
    this.view = o.view;
    this.policy = new SystemClockPolicy(o.policy ?? {});
    this.dryRun = o.dryRun;
    this.intervalMs = o.intervalMs ?? SYSTEM_CLOCK_INTERVAL_MS_DEFAULT;
    if (!Number.isFinite(this.intervalMs) || this.intervalMs < 10 || this.intervalMs > 3_600_000) {
      throw new RangeError(`intervalMs must be 10..3600000 (got ${this.intervalMs})`);
    }
    this.log = o.log ?? (() => {});
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
    this.log(
      'info',
      this.dryRun ? 'system clock discipline started (dry run)' : 'system clock discipline started',
      {
        intervalMs: this.intervalMs,
        dryRun: this.dryRun,
        ...this.policy.config,
      },
    );
  }

  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  /** One measurement, decision and action. Never throws; exposed for tests. */
  tick(): SystemClockAction {
    this.ticks++;
    let action: SystemClockAction;
    try {
      action = this.measureAndDecide();
    } catch (err) {
      // A measurement failure (the view or a read threw): nothing to act on.
      this.fail('measure', err);
      action = { type: 'hold', offsetNs: Number.NaN, reason: `measurement failed: ${errText(err)}` };
      this.lastAction = action;
      return action;
    }
    this.lastAction = action;
    this.lastOffsetNs = action.offsetNs;
    this.carryOut(action);
    return action;
  }

  snapshot(): SystemClockDisciplineSnapshot {
    const c = this.policy.counters;
    return {
      dryRun: this.dryRun,
      running: this.timer !== null,
      ticks: this.ticks,
      steps: c.steps,
      slews: c.slews,
      refusals: c.refusals,
      holds: c.holds,
      errors: this.errors,
      lastAction: this.lastAction,
      lastOffsetNs: this.lastOffsetNs,
      lastError: this.lastError,
    };
  }

  private measureAndDecide(): SystemClockAction {
    const b = bracketRead(
      () => this.view.localNowNs(),
      () => this.control.realtimeNs(),
    );
    const served = this.view.serveTime(b.outerNs);
    const systemOffsetNs = Number(served.timeNs - b.innerNs);
    let kernelStatus: number | null = null;
    try {
      kernelStatus = this.control.read().statusRaw;
    } catch (err) {
      // Not fatal: the slew then carries the status bits anyway.
      this.fail('read', err);
    }
    return this.policy.decide({
      systemOffsetNs,
      nodeStatus: served.status,
      rootDistanceNs: served.rootDistanceNs + Math.abs(Number(b.gapNs)) / 2,
      oscillatorFrequencyPpm: this.view.oscillatorFrequencyPpm(),
      kernelStatus,
    });
  }

  private carryOut(action: SystemClockAction): void {
    const fields = { offsetNs: action.offsetNs, reason: action.reason, dryRun: this.dryRun };
    switch (action.type) {
      case 'hold':
        this.log('debug', `system clock: hold (${action.reason})`, fields);
        return;
      case 'refuse':
        this.log('error', `system clock: refusing to correct: ${action.reason}`, fields);
        return;
      case 'step':
        if (this.dryRun) {
          this.log(
            'info',
            `system clock: would step by ${ms(action.deltaNs)} (dry run): ${action.reason}`,
            fields,
          );
          return;
        }
        try {
          this.control.step(BigInt(action.deltaNs));
          this.log('warn', `system clock: stepped by ${ms(action.deltaNs)}: ${action.reason}`, fields);
        } catch (err) {
          this.fail('step', err);
        }
        return;
      case 'slew': {
        const f = { ...fields, adjustment: action.adjustment };
        if (this.dryRun) {
          this.log(
            'info',
            `system clock: would slew by ${ms(action.adjustment.offsetNs)} at ${action.adjustment.frequencyPpm.toFixed(3)} ppm (dry run): ${action.reason}`,
            f,
          );
          return;
        }
        try {
          this.control.adjust(action.adjustment);
          this.log('debug', `system clock: slew by ${ms(action.adjustment.offsetNs)}: ${action.reason}`, f);
        } catch (err) {
          this.fail('slew', err);
        }
        return;
      }
    }
  }

  private fail(op: string, err: unknown): void {
    this.errors++;
    this.lastError = `${op}: ${errText(err)}`;
    this.log('error', `system clock: ${op} failed: ${errText(err)}`, {
      op,
      code: (err as { code?: unknown } | null)?.code ?? null,
    });
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
