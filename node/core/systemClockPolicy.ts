/**
 * What to do with the host's system clock, one tick at a time (issue #5, "System clock"; opt-in,
 * root only). Pure: the driver (node/systemClockDiscipline.ts) measures, calls `decide`, and carries
 * out the returned `SystemClockAction` through a SystemClockControl (refclock/systemClock.ts).
 *
 * Sign convention: `systemOffsetNs` = the node's best estimate of true time − CLOCK_REALTIME at the
 * same instant. Positive: the system clock is behind and must move forward. A step moves CLOCK_REALTIME
 * by +systemOffsetNs; a slew hands +systemOffsetNs to the kernel PLL (ADJ_OFFSET, forward when positive).
 *
 * Rules, in order:
 * 1. `hold` unless the node is 'synchronized' or 'anchored' (and its root distance is finite): nothing
 *    is done, so the kernel grows maxerror by 500 µs/s on its own and sets STA_UNSYNC after 16 s of
 *    error — other programs learn that nobody vouches for the clock any more. Holdover holds too: the
 *    node's interval may still be fine, but nothing new has been learned to act on.
 * 2. `refuse` when |offset| > maxOffsetNs (null: no limit): the node and the system disagree by more
 *    than an operator would ever want corrected silently (a wrong anchor, a mesh gone mad, a typo'd
 *    date). Never act; the driver logs it loudly every tick.
 * 3. `step` when |offset| > stepThresholdNs AND |offset| > rootDistanceNs, i.e. the node's interval
 *    [time − rootDistance, time + rootDistance] excludes the system time: the system is provably wrong
 *    by more than a slew should fix. (The kernel PLL's phase slew is not limited to 500 ppm: at time
 *    constant 2 it removes 1/16 of the offset per second, so slewing 300 ms runs realtime ~2% fast for
 *    a while, which programs timing intervals with CLOCK_REALTIME would see; a step is one jump.)
 *    A backward step is allowed only up to maxBackwardStepNs (0: never, as ntpd -x); beyond it the
 *    offset is slewed instead, and the reason says so. Two steps in a row never happen: the tick after
 *    a step slews (if the step did not take, slewing is the safe fallback; a loop of steps is not).
 * 4. `slew` otherwise: ADJ_OFFSET = offset clamped to ±0.5 s (the kernel's MAXPHASE), ADJ_FREQUENCY =
 *    the core's oscillator frequency clamped to ±500 ppm, maxerror/esterror (below), the time constant,
 *    and the status bits (below) when the kernel's status does not already have them.
 *
 * WHY ADJ_FREQUENCY = the core's oscillator frequency (an open loop). The node's oscillator must be
 * CLOCK_MONOTONIC_RAW (node/localClock.ts, source 'monotonic-raw'): the raw hardware counter, which no
 * adjtimex setting changes. The core estimates that oscillator's frequency error against true time
 * (ClockCorrection.frequencyPpm, positive: it runs slow) from references and peers. CLOCK_REALTIME
 * runs at the raw counter's rate times (1 + kernel frequency), so commanding the kernel frequency
 * = +frequencyPpm makes the system clock run at the true rate; the PLL offset only mops up the phase.
 * The node's estimate never depends on what it commands, so the loop is open and cannot oscillate.
 * Were the oscillator CLOCK_MONOTONIC (process.hrtime), the kernel would slew the very clock the core
 * measures: every frequency the node commanded would change the frequency it then estimates, a second
 * loop wrapped around the kernel's, with gains nobody designed.
 *
 * Status bits. A slew sets STA_PLL (without it the kernel ignores ADJ_OFFSET) and STA_FREQHOLD, and
 * clears STA_UNSYNC (the node vouches for the clock, with maxerror saying how well) and STA_FLL.
 * STA_FREQHOLD (a deliberate departure from ntpd's use of the kernel PLL): with it clear, every
 * ADJ_OFFSET also adds a PLL frequency term, offset × (seconds since the last update, up to
 * 2^(SHIFT_PLL + 1 + constant)) / 2^(2·(SHIFT_PLL + 2 + constant)) — after a pause a 100 ms offset adds
 * hundreds of ppm — on top of the frequency just commanded. Holding the frequency keeps the loop open:
 * the kernel slews phase only, at the frequency the node commands. STA_NANO is listed in `set` for
 * intent, but it is read-only in the status word: ADJ_NANO (sent with every ADJ_OFFSET) sets it.
 *
 * maxerror = ceil((rootDistance + |offset|) / 1000) µs: the node's bound on its own error plus the
 * part of the offset the kernel has yet to slew out. esterror = ceil((rootDistance/√3 + |offset|) /
 * 1000) µs: the interval is all the node knows, and the standard deviation of a uniform distribution
 * over [−d, d] is d/√3 — a one-sigma figure, never above maxerror.
 */
import { TimemeshError } from '../../hlc/errors.ts';
import type { SyncStatus } from '../../hlc/timeTypes.ts';

/** Status bits used here (<linux/timex.h>; equal to refclock/kernelClock.ts STA_FLAGS, which a test checks). */
export const STA_PLL = 0x0001;
export const STA_FLL = 0x0008;
export const STA_UNSYNC = 0x0040;
export const STA_FREQHOLD = 0x0080;
export const STA_NANO = 0x2000;

export const SLEW_STATUS_SET = STA_PLL | STA_NANO | STA_FREQHOLD;
export const SLEW_STATUS_CLEAR = STA_UNSYNC | STA_FLL;

/** The kernel's limits: MAXPHASE (ns) and MAXFREQ (ppm). */
export const SLEW_OFFSET_MAX_NS = 500_000_000;
export const SLEW_FREQUENCY_MAX_PPM = 500;

export interface SystemClockPolicyConfig {
  /** Step only above this |offset| (ntpd's 128 ms). */
  stepThresholdNs: number;
  /** Refuse to act above this |offset|; null: no limit. */
  maxOffsetNs: number | null;
  /** Largest backward step; 0: never step backwards (slew instead, like ntpd -x). */
  maxBackwardStepNs: number;
  /** Kernel PLL time constant (ADJ_TIMECONST), 0..10: the PLL slews offset/2^(2+constant) per second. */
  timeConstant: number;
}

export const DEFAULT_SYSTEM_CLOCK_POLICY: SystemClockPolicyConfig = {
  stepThresholdNs: 128_000_000,
  maxOffsetNs: 1_000_000_000,
  maxBackwardStepNs: 1_000_000_000,
  timeConstant: 2,
};

/** Throws TimemeshError (TM_ERR_CONFIG) naming the bad field. */
export function validateSystemClockPolicyConfig(c: SystemClockPolicyConfig): void {
  const bad = (field: string, want: string, got: unknown): never => {
    throw new TimemeshError(
      'TM_ERR_CONFIG',
      `system clock policy: ${field} must be ${want} (got ${String(got)})`,
    );
  };
  const nonNegative = (field: string, x: number): void => {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) bad(field, 'a finite number ≥ 0', x);
  };
  nonNegative('stepThresholdNs', c.stepThresholdNs);
  nonNegative('maxBackwardStepNs', c.maxBackwardStepNs);
  if (c.maxOffsetNs !== null) {
    nonNegative('maxOffsetNs', c.maxOffsetNs);
    if (c.maxOffsetNs < c.stepThresholdNs)
      bad('maxOffsetNs', `≥ stepThresholdNs (${c.stepThresholdNs})`, c.maxOffsetNs);
  }
  if (!Number.isInteger(c.timeConstant) || c.timeConstant < 0 || c.timeConstant > 10) {
    bad('timeConstant', 'an integer 0..10', c.timeConstant);
  }
}

/** One tick's measurement (the driver brackets the reads; see node/systemClockDiscipline.ts). */
export interface SystemClockInput {
  /** Node's best estimate − CLOCK_REALTIME, ns. Positive: the system clock is behind. */
  systemOffsetNs: number;
  nodeStatus: SyncStatus;
  /** The node's uncertainty (half-width of its interval), ns, plus the measurement's own. */
  rootDistanceNs: number;
  /** The core's frequency error of the raw oscillator, ppm (positive: it runs slow). */
  oscillatorFrequencyPpm: number;
  /** The kernel's timex.status now, or null when it could not be read. */
  kernelStatus: number | null;
}

/** A slew, as refclock/systemClock.ts KernelAdjustment takes it (structurally the same fields). */
export interface SystemClockSlew {
  offsetNs: number;
  frequencyPpm: number;
  maxErrorUs: number;
  estErrorUs: number;
  timeConstant: number;
  /** Absent when the kernel's status already has the bits. */
  status?: { set: number; clear: number };
}

export type SystemClockAction =
  | { type: 'hold'; offsetNs: number; reason: string }
  | { type: 'refuse'; offsetNs: number; reason: string }
  | { type: 'step'; offsetNs: number; deltaNs: number; reason: string }
  | { type: 'slew'; offsetNs: number; adjustment: SystemClockSlew; reason: string };

export interface SystemClockPolicyCounters {
  holds: number;
  refusals: number;
  steps: number;
  slews: number;
}

const clamp = (x: number, limit: number): number => Math.min(limit, Math.max(-limit, x));
const ms = (ns: number): string => `${(ns / 1e6).toFixed(3)} ms`;

/** The per-tick decision, with the little state it needs (the last action, counters). */
export class SystemClockPolicy {
  readonly config: SystemClockPolicyConfig;
  private lastType: SystemClockAction['type'] | null = null;
  private readonly count: SystemClockPolicyCounters = { holds: 0, refusals: 0, steps: 0, slews: 0 };

  constructor(config: Partial<SystemClockPolicyConfig> = {}) {
    this.config = { ...DEFAULT_SYSTEM_CLOCK_POLICY, ...config };
    validateSystemClockPolicyConfig(this.config);
  }

  get counters(): SystemClockPolicyCounters {
    return { ...this.count };
  }

  get lastActionType(): SystemClockAction['type'] | null {
    return this.lastType;
  }

  decide(input: SystemClockInput): SystemClockAction {
    const action = this.choose(input);
    this.lastType = action.type;
    if (action.type === 'hold') this.count.holds++;
    else if (action.type === 'refuse') this.count.refusals++;
    else if (action.type === 'step') this.count.steps++;
    else this.count.slews++;
    return action;
  }

  private choose(input: SystemClockInput): SystemClockAction {
    const c = this.config;
    const offsetNs = input.systemOffsetNs;
    const abs = Math.abs(offsetNs);
    if (input.nodeStatus !== 'synchronized' && input.nodeStatus !== 'anchored') {
      return {
        type: 'hold',
        offsetNs,
        reason: `node is ${input.nodeStatus}: leaving the system clock alone (the kernel grows maxerror)`,
      };
    }
    if (!Number.isFinite(offsetNs) || !Number.isFinite(input.rootDistanceNs) || input.rootDistanceNs < 0) {
      return {
        type: 'hold',
        offsetNs,
        reason: `no usable measurement (offset ${offsetNs} ns, root distance ${input.rootDistanceNs} ns)`,
      };
    }
    if (c.maxOffsetNs !== null && abs > c.maxOffsetNs) {
      return {
        type: 'refuse',
        offsetNs,
        reason:
          `system clock is ${ms(offsetNs)} ${offsetNs > 0 ? 'behind' : 'ahead of'} the node, beyond the ` +
          `maximum offset ${ms(c.maxOffsetNs)}: not corrected; fix it by hand or raise the limit`,
      };
    }
    const excluded = abs > input.rootDistanceNs;
    if (abs > c.stepThresholdNs && excluded) {
      const backward = offsetNs < 0;
      if (this.lastType === 'step') {
        return this.slew(
          input,
          `offset ${ms(offsetNs)} after a step on the previous tick: slewing rather than stepping twice in a row`,
        );
      }
      if (backward && abs > c.maxBackwardStepNs) {
        return this.slew(
          input,
          `backward offset ${ms(offsetNs)} exceeds the maximum backward step ${ms(c.maxBackwardStepNs)}: slewing instead`,
        );
      }
      return {
        type: 'step',
        offsetNs,
        deltaNs: Math.round(offsetNs),
        reason:
          `step ${backward ? 'backward' : 'forward'} by ${ms(offsetNs)}: beyond the step threshold ` +
          `${ms(c.stepThresholdNs)} and outside the node's interval (± ${ms(input.rootDistanceNs)})`,
      };
    }
    return this.slew(
      input,
      abs > c.stepThresholdNs
        ? `offset ${ms(offsetNs)} is within the node's interval (± ${ms(input.rootDistanceNs)}): slewing, not stepping`
        : `slew by ${ms(offsetNs)}`,
    );
  }

  private slew(input: SystemClockInput, reason: string): SystemClockAction {
    const abs = Math.abs(input.systemOffsetNs);
    const frequencyPpm = Number.isFinite(input.oscillatorFrequencyPpm)
      ? clamp(input.oscillatorFrequencyPpm, SLEW_FREQUENCY_MAX_PPM)
      : 0;
    const adjustment: SystemClockSlew = {
      offsetNs: Math.round(clamp(input.systemOffsetNs, SLEW_OFFSET_MAX_NS)),
      frequencyPpm,
      maxErrorUs: Math.ceil((input.rootDistanceNs + abs) / 1000),
      estErrorUs: Math.ceil((input.rootDistanceNs / Math.sqrt(3) + abs) / 1000),
      timeConstant: this.config.timeConstant,
    };
    if (statusNeedsUpdate(input.kernelStatus)) {
      adjustment.status = { set: SLEW_STATUS_SET, clear: SLEW_STATUS_CLEAR };
    }
    return { type: 'slew', offsetNs: input.systemOffsetNs, adjustment, reason };
  }
}

/** Whether the kernel's status lacks a bit a slew sets (STA_NANO aside: ADJ_NANO sets it) or has one it clears. */
export function statusNeedsUpdate(kernelStatus: number | null): boolean {
  if (kernelStatus === null) return true;
  const want = SLEW_STATUS_SET & ~STA_NANO;
  return (kernelStatus & want) !== want || (kernelStatus & SLEW_STATUS_CLEAR) !== 0;
}
