/**
 * A MODEL of the Linux kernel clock discipline (kernel/time/ntp.c) in virtual time, as a
 * SystemClockControl: the system-clock discipline (node/systemClockDiscipline.ts + the pure policy in
 * node/core/systemClockPolicy.ts) can be run against it in closed loop, deterministically, without
 * ever touching the host's clock. It is a model, not an emulation: it keeps the parts of ntp.c that
 * decide whether the loop converges and drops the rest.
 *
 * Clocks and signs. Virtual true time `trueNowNs` moves only through `advance`. The host's hardware
 * counter (CLOCK_MONOTONIC_RAW, `rawNs()`) runs at (1 + hardwareErrorPpm·1e-6) × the true rate
 * (positive: it runs fast). CLOCK_REALTIME is driven by that counter, so it runs at
 * (1 + hardwareErrorPpm·1e-6)·(1 + freq·1e-6) — the product, not the sum: the kernel's frequency
 * scales the counter's ticks; the cross term is below 1 ns/s at 30 ppm but would otherwise leave a
 * phase ramp the real kernel does not have — plus the PLL phase chunk of the current second, spread
 * evenly over that second. `systemBehindNs` (the option) and the policy's offset are true − realtime.
 *
 * Modelled (ntp.c names in brackets):
 * - Once per virtual second [second_overflow]: chunk = time_offset / 2^(SHIFT_PLL + time_constant),
 *   SHIFT_PLL = 2, time_offset −= chunk; the chunk is slewed in over the next second (tick_length).
 *   The chunk is not limited (modern kernels have no slew limit on the PLL: at constant 2 a 0.5 s
 *   offset slews at 31 ms/s). maxerror grows by 500 µs (MAXFREQ) each second; past 16 s
 *   (NTP_PHASE_LIMIT) it stops there and STA_UNSYNC is set.
 * - adjtimex in the kernel's order [process_adjtimex_modes]: ADJ_STATUS (turning STA_PLL off resets
 *   the status to STA_UNSYNC, turning it on restarts time_reftime; read-only bits kept), ADJ_NANO
 *   (sets STA_NANO: the adapter sends it with every ADJ_OFFSET), ADJ_FREQUENCY (clamped to ±500 ppm,
 *   MAXFREQ, in 2^-16 ppm steps), ADJ_MAXERROR/ESTERROR, ADJ_TIMECONST (0..10; +4 when STA_NANO is
 *   clear), ADJ_OFFSET [ntp_update_offset]: ignored unless STA_PLL; clamped to ±0.5 s (MAXPHASE); it
 *   REPLACES time_offset; unless STA_FREQHOLD it also changes the frequency — the PLL term
 *   offset·secs / 2^(2·(SHIFT_PLL + 2 + constant)) with secs (since the last ADJ_OFFSET) capped at
 *   2^(SHIFT_PLL + 1 + constant), and the FLL term offset / (4·secs) when STA_FLL is set and
 *   secs ≥ 256 (MINSEC) or secs > 2048 (MAXSEC). With STA_FREQHOLD secs is 0: neither term.
 * - A step [clock_settime → ntp_clear]: realtime moves by exactly deltaNs (atomically, unlike the real
 *   adapter's read-then-set), time_offset and the current chunk are cleared, STA_UNSYNC is set,
 *   maxerror and esterror go to 16 s; the frequency is kept.
 * - read(): the struct timex the kernel would return, decoded by refclock/kernelClock.ts decodeTimex;
 *   offset in µs (truncated) unless STA_NANO; return code TIME_ERROR while STA_UNSYNC, else TIME_OK.
 *
 * NOT modelled: HZ ticks and the timekeeping core's clocksource `mult` quantization and ntp_error
 * feedback (the slew here is continuous); the second boundary (here: whole virtual seconds since the
 * model's start, not realtime second rollovers); leap seconds and TAI; PPS (hardpps, STA_PPS*);
 * ADJ_TICK, ADJ_SETOFFSET, ADJ_TAI, adjtime()'s single-shot offset; the FLL's STA_MODE details beyond
 * the two terms above; time spent inside the syscalls; wander of the hardware frequency (it changes
 * only through setHardwareErrorPpm).
 *
 * Invariant: exactly reproducible. No I/O, no wall clock, no randomness (the estimate view takes a
 * seeded Rng); all arithmetic is in doubles or bigints with a fixed order of operations.
 */
import { decodeTimex, STA_FLAGS } from '../refclock/kernelClock.ts';
import type { KernelClockSnapshot, RawTimex } from '../refclock/kernelClock.ts';
// The kernel's limits are the control's own (one definition, checked against <linux/timex.h>).
import {
  KERNEL_MAX_ERROR_US,
  KERNEL_MAX_FREQUENCY_PPM,
  KERNEL_MAX_PHASE_NS,
  KERNEL_MAX_TIME_CONSTANT,
  STA_READ_ONLY_BITS,
} from '../refclock/systemClock.ts';
import type { KernelAdjustment, SystemClockControl } from '../refclock/systemClock.ts';
import { TimemeshError } from '../hlc/errors.ts';
import type { SyncStatus } from '../hlc/timeTypes.ts';
import type { ServedTime } from '../node/core/types.ts';

/** ntp.c constants the control does not need (SHIFT_PLL, SHIFT_FLL, MAXERROR growth, MINSEC/MAXSEC). */
export const MODEL_SHIFT_PLL = 2;
export const MODEL_SHIFT_FLL = 2;
export const MODEL_MAXERROR_GROWTH_US_PER_S = 500;
const MINSEC_S = 256;
const MAXSEC_S = 2048;

const SECOND_NS = 1_000_000_000n;
const SCALED_PPM = 65536;
const TIME_OK = 0;
const TIME_ERROR = 5;

export interface KernelClockModelOptions {
  /** The hardware counter's frequency error, ppm (positive: it runs fast). */
  hardwareErrorPpm: number;
  /** true − CLOCK_REALTIME at the start, ns (positive: the system clock is behind). Default 0. */
  systemBehindNs?: number;
  /** Virtual true time at the start, ns since the Unix epoch. Default 1.8e18 (2027-01-15). */
  startTrueNs?: bigint;
  /** The kernel's frequency at the start, ppm. Default 0. */
  frequencyPpm?: number;
  /** timex.status at the start. Default STA_UNSYNC (a freshly booted kernel). */
  status?: number;
  /** time_constant at the start. Default 2 (the kernel's initial value). */
  timeConstant?: number;
}

export type KernelModelCall =
  | { op: 'adjust'; atTrueNs: bigint; adjustment: KernelAdjustment }
  | { op: 'step'; atTrueNs: bigint; deltaNs: bigint };

export const MODEL_START_TRUE_NS = 1_800_000_000_000_000_000n;

const clamp = (x: number, limit: number): number => Math.min(limit, Math.max(-limit, x));

function invalid(message: string): never {
  throw new TimemeshError('TM_ERR_SYSTEM_CLOCK_INVALID', `kernel clock model: ${message}`);
}

function finite(name: string, x: number): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) invalid(`${name} must be a finite number (got ${x})`);
  return x;
}

export class KernelClockModel implements SystemClockControl {
  /** Every adjust/step, in order, with the true time it happened at (deep copies). */
  readonly calls: KernelModelCall[] = [];
  /** read() calls (realtimeNs() is not counted). */
  reads = 0;
  private hardwarePpm: number;
  private readonly startTrueNs: bigint;
  private trueNs: bigint;
  /** Raw counter elapsed since the start, ns (a double: exact to well below 1 ns for days). */
  private rawElapsedNs = 0;
  /** CLOCK_REALTIME − true time, ns. */
  private systemMinusTrueNs: number;
  /** True time at which the current kernel second began, and the PLL chunk slewed in over it. */
  private secondStartNs: bigint;
  private chunkNs = 0;
  // The kernel's NTP state (ntp.c statics), in plain units.
  private timeOffsetNs = 0;
  private freqPpm: number;
  private maxErrorUs = KERNEL_MAX_ERROR_US;
  private estErrorUs = KERNEL_MAX_ERROR_US;
  private status: number;
  private timeConstant: number;
  /** time_reftime: realtime seconds at the last ADJ_OFFSET (or STA_PLL turning on). */
  private reftimeS = 0n;

  constructor(o: KernelClockModelOptions) {
    this.hardwarePpm = finite('hardwareErrorPpm', o.hardwareErrorPpm);
    this.startTrueNs = o.startTrueNs ?? MODEL_START_TRUE_NS;
    this.trueNs = this.startTrueNs;
    this.secondStartNs = this.startTrueNs;
    this.systemMinusTrueNs = -finite('systemBehindNs', o.systemBehindNs ?? 0);
    this.freqPpm = clamp(finite('frequencyPpm', o.frequencyPpm ?? 0), KERNEL_MAX_FREQUENCY_PPM);
    this.status = (o.status ?? STA_FLAGS.STA_UNSYNC) & 0xffff;
    this.timeConstant = o.timeConstant ?? 2;
    this.reftimeS = this.realtimeSeconds();
  }

  // ---- virtual time and ground truth ---------------------------------------------------------------

  get trueNowNs(): bigint {
    return this.trueNs;
  }

  get hardwareErrorPpm(): number {
    return this.hardwarePpm;
  }

  /** Change the hardware frequency from now on (a temperature step, say). */
  setHardwareErrorPpm(ppm: number): void {
    this.hardwarePpm = finite('hardwareErrorPpm', ppm);
  }

  /** CLOCK_MONOTONIC_RAW: the hardware counter, which no adjtimex setting changes. */
  rawNs(): bigint {
    return this.startTrueNs + BigInt(Math.round(this.rawElapsedNs));
  }

  /** Ground truth: the true time at which the raw counter read `rawNs` (within the past, ±1 ns). */
  trueAtRawNs(rawNs: bigint): bigint {
    // Exact while the hardware error is constant; afterwards a model-level approximation is fine for
    // readings at "now", which is how the estimate view uses it.
    const backNs = this.rawElapsedNs - Number(rawNs - this.startTrueNs);
    return this.trueNs - BigInt(Math.round(backNs / (1 + this.hardwarePpm * 1e-6)));
  }

  /** CLOCK_REALTIME − true time, ns, unrounded (positive: the system clock is ahead). */
  get systemErrorNs(): number {
    return this.systemMinusTrueNs;
  }

  /** Move virtual true time forward by `ns`, running the kernel's once-per-second work on the way. */
  advance(ns: bigint | number): void {
    let left = typeof ns === 'bigint' ? ns : BigInt(Math.round(ns));
    if (left < 0n) invalid(`advance: time does not run backwards (${left} ns)`);
    while (left > 0n) {
      const toBoundary = this.secondStartNs + SECOND_NS - this.trueNs;
      const seg = left < toBoundary ? left : toBoundary;
      this.integrate(seg);
      left -= seg;
      if (this.trueNs === this.secondStartNs + SECOND_NS) this.secondOverflow();
    }
  }

  // ---- SystemClockControl --------------------------------------------------------------------------

  realtimeNs(): bigint {
    return this.trueNs + BigInt(Math.round(this.systemMinusTrueNs));
  }

  read(): KernelClockSnapshot {
    this.reads++;
    return this.snapshot();
  }

  adjust(a: KernelAdjustment): KernelClockSnapshot {
    this.calls.push({ op: 'adjust', atTrueNs: this.trueNs, adjustment: structuredClone(a) });
    // Validate everything first, as the adapter's encoder does: a bad call changes nothing.
    const offsetNs =
      a.offsetNs === undefined
        ? undefined
        : Math.round(clamp(finite('offsetNs', a.offsetNs), KERNEL_MAX_PHASE_NS));
    const freqPpm =
      a.frequencyPpm === undefined
        ? undefined
        : Math.round(clamp(finite('frequencyPpm', a.frequencyPpm), KERNEL_MAX_FREQUENCY_PPM) * SCALED_PPM) /
          SCALED_PPM;
    const errorUs = (name: string, x: number | undefined): number | undefined => {
      if (x === undefined) return undefined;
      if (finite(name, x) < 0) invalid(`${name} must be ≥ 0 (got ${x})`);
      return Math.min(KERNEL_MAX_ERROR_US, Math.ceil(x));
    };
    const maxErrorUs = errorUs('maxErrorUs', a.maxErrorUs);
    const estErrorUs = errorUs('estErrorUs', a.estErrorUs);
    const tc = a.timeConstant;
    if (tc !== undefined && (!Number.isInteger(tc) || tc < 0 || tc > KERNEL_MAX_TIME_CONSTANT)) {
      invalid(`timeConstant must be an integer 0..${KERNEL_MAX_TIME_CONSTANT} (got ${tc})`);
    }
    if (a.status !== undefined) {
      const { set, clear } = a.status;
      for (const [name, x] of [
        ['status.set', set],
        ['status.clear', clear],
      ] as const) {
        if (!Number.isInteger(x) || x < 0 || x > 0xffff) invalid(`${name} must be a 16-bit mask (got ${x})`);
      }
      if ((set & clear) !== 0) invalid(`status bits both set and cleared: 0x${(set & clear).toString(16)}`);
    }

    // process_adjtimex_modes, in the kernel's order.
    if (a.status !== undefined) {
      // The adapter sends the whole word: (current & ~clear) | set, read-only bits excluded.
      const txStatus = ((this.status & ~a.status.clear) | a.status.set) & ~STA_READ_ONLY_BITS & 0xffff;
      this.processStatus(txStatus);
    }
    if (offsetNs !== undefined) this.status |= STA_FLAGS.STA_NANO; // ADJ_NANO rides with ADJ_OFFSET
    if (freqPpm !== undefined) this.freqPpm = freqPpm;
    if (maxErrorUs !== undefined) this.maxErrorUs = maxErrorUs;
    if (estErrorUs !== undefined) this.estErrorUs = estErrorUs;
    if (tc !== undefined) {
      const nano = (this.status & STA_FLAGS.STA_NANO) !== 0;
      this.timeConstant = Math.min(KERNEL_MAX_TIME_CONSTANT, tc + (nano ? 0 : 4));
    }
    if (offsetNs !== undefined) this.updateOffset(offsetNs);
    return this.snapshot();
  }

  step(deltaNs: bigint): void {
    this.calls.push({ op: 'step', atTrueNs: this.trueNs, deltaNs });
    if (typeof deltaNs !== 'bigint') invalid('step: deltaNs must be a bigint');
    this.systemMinusTrueNs += Number(deltaNs);
    // ntp_clear(): the PLL forgets its offset; nobody vouches for the clock until told again.
    this.timeOffsetNs = 0;
    this.chunkNs = 0;
    this.status |= STA_FLAGS.STA_UNSYNC;
    this.maxErrorUs = KERNEL_MAX_ERROR_US;
    this.estErrorUs = KERNEL_MAX_ERROR_US;
  }

  // ---- the kernel's work ---------------------------------------------------------------------------

  private integrate(segNs: bigint): void {
    const dt = Number(segNs);
    const h = this.hardwarePpm * 1e-6;
    const rateError = h + this.freqPpm * 1e-6 + h * this.freqPpm * 1e-6;
    this.systemMinusTrueNs += dt * rateError + (this.chunkNs * dt) / 1e9;
    this.rawElapsedNs += dt + dt * h;
    this.trueNs += segNs;
  }

  private secondOverflow(): void {
    this.secondStartNs += SECOND_NS;
    this.maxErrorUs += MODEL_MAXERROR_GROWTH_US_PER_S;
    if (this.maxErrorUs > KERNEL_MAX_ERROR_US) {
      this.maxErrorUs = KERNEL_MAX_ERROR_US;
      this.status |= STA_FLAGS.STA_UNSYNC;
    }
    // ntp_offset_chunk: a shift of a fixed-point value; division by a power of two is exact in doubles.
    this.chunkNs = this.timeOffsetNs / 2 ** (MODEL_SHIFT_PLL + this.timeConstant);
    this.timeOffsetNs -= this.chunkNs;
  }

  private processStatus(txStatus: number): void {
    const pllWas = (this.status & STA_FLAGS.STA_PLL) !== 0;
    const pllWill = (txStatus & STA_FLAGS.STA_PLL) !== 0;
    if (pllWas && !pllWill) this.status = STA_FLAGS.STA_UNSYNC;
    if (!pllWas && pllWill) this.reftimeS = this.realtimeSeconds();
    this.status = (this.status & STA_READ_ONLY_BITS) | (txStatus & ~STA_READ_ONLY_BITS);
  }

  /** ntp_update_offset (offset already clamped to MAXPHASE and in ns). */
  private updateOffset(offsetNs: number): void {
    if ((this.status & STA_FLAGS.STA_PLL) === 0) return;
    const nowS = this.realtimeSeconds();
    let secs = Number(nowS - this.reftimeS);
    if ((this.status & STA_FLAGS.STA_FREQHOLD) !== 0) secs = 0;
    this.reftimeS = nowS;
    // ntp_update_offset_fll, ns/s.
    this.status &= ~STA_FLAGS.STA_MODE;
    let freqAdjNsPerS = 0;
    if (secs >= MINSEC_S && ((this.status & STA_FLAGS.STA_FLL) !== 0 || secs > MAXSEC_S)) {
      this.status |= STA_FLAGS.STA_MODE;
      freqAdjNsPerS = offsetNs / (secs * 2 ** MODEL_SHIFT_FLL);
    }
    secs = Math.min(secs, 2 ** (MODEL_SHIFT_PLL + 1 + this.timeConstant));
    freqAdjNsPerS += (offsetNs * secs) / 2 ** (2 * (MODEL_SHIFT_PLL + 2 + this.timeConstant));
    this.freqPpm = clamp(this.freqPpm + freqAdjNsPerS / 1000, KERNEL_MAX_FREQUENCY_PPM);
    this.timeOffsetNs = offsetNs;
  }

  private realtimeSeconds(): bigint {
    const rt = this.realtimeNs();
    return rt / SECOND_NS - (rt < 0n && rt % SECOND_NS !== 0n ? 1n : 0n);
  }

  private snapshot(): KernelClockSnapshot {
    const nano = (this.status & STA_FLAGS.STA_NANO) !== 0;
    const now = this.realtimeNs();
    const sec = now / SECOND_NS;
    const subNs = Number(now - sec * SECOND_NS);
    const offsetNs = Math.trunc(this.timeOffsetNs);
    const raw: RawTimex = {
      modes: 0,
      offset: nano ? offsetNs : Math.trunc(offsetNs / 1000),
      freq: Math.round(this.freqPpm * SCALED_PPM),
      maxerror: this.maxErrorUs,
      esterror: this.estErrorUs,
      status: this.status,
      constant: this.timeConstant,
      precision: 1,
      tolerance: KERNEL_MAX_FREQUENCY_PPM * SCALED_PPM,
      time: { tv_sec: Number(sec), tv_usec: nano ? subNs : Math.trunc(subNs / 1000) },
      tick: 10_000,
      ppsfreq: 0,
      jitter: 0,
      shift: 0,
      stabil: 0,
      jitcnt: 0,
      calcnt: 0,
      errcnt: 0,
      stbcnt: 0,
      tai: 0,
    };
    return decodeTimex(raw, (this.status & STA_FLAGS.STA_UNSYNC) !== 0 ? TIME_ERROR : TIME_OK);
  }
}

// ---- the node's view, and a closed-loop runner ------------------------------------------------------

/** A seeded source of standard normal numbers (sim/rng.ts SimRng has one). */
export interface NormalRng {
  normal(): number;
}

export interface EstimateViewOptions {
  rng: NormalRng;
  /** σ of the node's time estimate around true time, ns (white, independent per call). */
  timeSigmaNs: number;
  /** The node's root distance, ns (a few σ). */
  rootDistanceNs: number;
  /** Constant error of the node's frequency estimate, ppm, and per-call Gaussian jitter σ, ppm. */
  frequencyBiasPpm?: number;
  frequencySigmaPpm?: number;
  status?: SyncStatus;
}

/**
 * What a node's core would show the discipline (structurally node/systemClockDiscipline.ts
 * SystemClockView; sim/ may not import node/ outside node/core): its oscillator is the model's raw
 * counter; serveTime = true time + N(0, σ); oscillatorFrequencyPpm = the raw counter's true frequency
 * error in the core's sign (positive: it runs slow, i.e. −h/(1 + h)) + bias + jitter.
 */
export interface EstimateView {
  localNowNs(): bigint;
  serveTime(localNs: bigint): ServedTime;
  oscillatorFrequencyPpm(): number;
}

export function estimateView(model: KernelClockModel, o: EstimateViewOptions): EstimateView {
  const status = o.status ?? 'anchored';
  return {
    localNowNs: () => model.rawNs(),
    serveTime: (localNs) => {
      const timeNs = model.trueAtRawNs(localNs) + BigInt(Math.round(o.rng.normal() * o.timeSigmaNs));
      const rd = BigInt(Math.ceil(o.rootDistanceNs));
      return {
        timeNs,
        earliestNs: timeNs - rd,
        latestNs: timeNs + rd,
        rootDistanceNs: o.rootDistanceNs,
        status,
        stratum: 1,
        anchorKind: 'pps',
        lastUpdateLocalNs: localNs,
      };
    },
    oscillatorFrequencyPpm: () => {
      const h = model.hardwareErrorPpm;
      const jitter = (o.frequencySigmaPpm ?? 0) === 0 ? 0 : o.rng.normal() * (o.frequencySigmaPpm ?? 0);
      return -h / (1 + h * 1e-6) + (o.frequencyBiasPpm ?? 0) + jitter;
    },
  };
}

export interface ClosedLoopOptions {
  durationS: number;
  /** Tick period, ns (default 1 s) and the first tick's instant after the start (default 0.3 s). */
  intervalNs?: bigint;
  firstTickNs?: bigint;
}

export interface ClosedLoopTrace {
  /** Per tick, before it acts: true time since the start (s) and true − CLOCK_REALTIME (ns, policy sign). */
  tS: number[];
  offsetNs: number[];
  /** Per tick: the action type the tick returned. */
  actions: string[];
  /** CLOCK_REALTIME decreases seen between consecutive samples (before/after each tick, mid-interval). */
  realtimeBackwards: number;
  realtimeBackwardMaxNs: number;
  final: KernelClockSnapshot;
}

/**
 * Drive `tick` (e.g. `() => discipline.tick()`) once per interval for `durationS` of virtual time,
 * recording the true offset before each tick and watching CLOCK_REALTIME for backward moves.
 */
export function runClosedLoop(
  model: KernelClockModel,
  tick: () => { type: string },
  o: ClosedLoopOptions,
): ClosedLoopTrace {
  const intervalNs = o.intervalNs ?? SECOND_NS;
  const firstTickNs = o.firstTickNs ?? 300_000_000n;
  const halfNs = intervalNs / 2n;
  const t0 = model.trueNowNs;
  const endNs = t0 + BigInt(Math.round(o.durationS * 1e9));
  const trace: Omit<ClosedLoopTrace, 'final'> = {
    tS: [],
    offsetNs: [],
    actions: [],
    realtimeBackwards: 0,
    realtimeBackwardMaxNs: 0,
  };
  let lastRealtime = model.realtimeNs();
  const watch = (): void => {
    const rt = model.realtimeNs();
    if (rt < lastRealtime) {
      trace.realtimeBackwards++;
      trace.realtimeBackwardMaxNs = Math.max(trace.realtimeBackwardMaxNs, Number(lastRealtime - rt));
    }
    lastRealtime = rt;
  };
  let nextTickNs = t0 + firstTickNs;
  while (nextTickNs <= endNs) {
    const midNs = nextTickNs - halfNs;
    if (midNs > model.trueNowNs) {
      model.advance(midNs - model.trueNowNs);
      watch();
    }
    model.advance(nextTickNs - model.trueNowNs);
    watch();
    trace.tS.push(Number(nextTickNs - t0) / 1e9);
    trace.offsetNs.push(-model.systemErrorNs);
    trace.actions.push(tick().type);
    watch();
    nextTickNs += intervalNs;
  }
  model.advance(endNs - model.trueNowNs);
  watch();
  return { ...trace, final: model.read() };
}
