/**
 * The disciplined clock: a software clock over the node's raw local oscillator, corrected in phase and
 * frequency from combined samples, with an uncertainty interval that always contains true time when the
 * inputs' intervals did.
 *
 * Model. Every input is a *raw offset* y = true − raw local (see hlc/timeTypes.ts). Over a window of
 * recent updates we fit y ≈ a + b·x by weighted least squares (weights 1/e², e = the update's error
 * bound). This is chrony's approach (sourcestats.c fits a regression per source; Mills' PLL/FLL is the
 * alternative): a fit gives the frequency directly, converges in a few updates instead of hundreds of
 * loop time constants, and — the reason we chose it — yields a *worst-case* frequency error bound that
 * the interval can use honestly. For least squares with |error_k| ≤ e_k the slope error is at most
 * Σ w_k·|x_k − x̄|·e_k / Σ w_k·(x_k − x̄)², a deterministic bound, not a standard deviation.
 *
 * The reported interval at local time L, last update at Lu with interval [lo, hi]:
 *   [lo + b·Δ − g·Δ, hi + b·Δ + g·Δ],  Δ = L − Lu,  g = maxDrift + frequency error bound
 * so it grows while no samples arrive, the way TrueTime, ClockBound and fbclock expose time.
 *
 * Two readings come out. `best` is monotonic, for applications and the HLC: it follows the fitted
 * target by slewing at up to maxSlewPpm and steps only when the correction exceeds stepThresholdNs.
 * `estimate` is the target itself, the best knowledge of true time, and is what the node serves to
 * peers: serving a slewing reading would show peers a clock running up to maxSlewPpm fast, their
 * frequency fits would follow it, and a mesh of such clocks runs away together. The interval is
 * widened to include best while a slew is in progress, so both lie inside [earliest, latest].
 *
 * HAZARD: frequency wander between updates is assumed below maxDriftPpm. HAZARD: the raw oscillator's
 * frequency error is assumed below maxFrequencyErrorPpm (the bound used before a frequency is known).
 */
import { TimemeshError } from './errors.ts';
import type { SyncStatus } from './timeTypes.ts';
import { UNBOUNDED_NS } from './timeTypes.ts';

export interface DisciplineConfig {
  /** Bound on frequency wander of the oscillator after correction (NTP's PHI is 15 ppm). */
  maxDriftPpm: number;
  /** Bound on the raw oscillator's frequency error; used before the fit knows better. */
  maxFrequencyErrorPpm: number;
  /** Corrections larger than this step the reading; smaller ones slew. */
  stepThresholdNs: number;
  /** Largest slew rate (chrony's default maxslewrate is 83333 ppm). */
  maxSlewPpm: number;
  /** Most updates kept in the regression window. */
  fitWindow: number;
  /** Status becomes holdover when no update arrived for this long. */
  holdoverAfterNs: number;
  /** Take the phase from the regression line (smoother) instead of the latest update (no lag). */
  phaseFromFit: boolean;
}

export const DEFAULT_DISCIPLINE: DisciplineConfig = {
  maxDriftPpm: 15,
  maxFrequencyErrorPpm: 500,
  stepThresholdNs: 128e6,
  maxSlewPpm: 83_333,
  fitWindow: 32,
  holdoverAfterNs: 300e9,
  phaseFromFit: false,
};

/** One combined measurement fed to the clock. */
export interface ClockUpdate {
  /** Raw local oscillator reading the update refers to. */
  localNs: bigint;
  /** Point estimate of the raw offset (true − raw local). */
  offsetNs: number;
  /** Interval containing the true raw offset; lowNs ≤ offsetNs ≤ highNs. */
  lowNs: number;
  highNs: number;
  /** The update is traceable to a reference (GPS, PPS, NTP, TSQ, local stratum, or an anchored mesh). */
  anchored: boolean;
}

/** What an update did to the reading; drivers that discipline the system clock act on it. */
export interface ClockCorrection {
  kind: 'step' | 'slew' | 'none';
  /** Target minus the reading at the update instant (positive: the reading moves forward). */
  correctionNs: number;
  /** Estimated frequency error of the raw oscillator (positive: it runs slow), in ppm. */
  frequencyPpm: number;
  /** Bound on the frequency estimate's error, in ppm (wander excluded). */
  frequencyErrorPpm: number;
}

/** A reading: best estimate and interval of true time, plus raw-offset internals for the core. */
export interface ClockReading {
  /** Monotonic reading (slewed). */
  bestNs: bigint;
  /** The unslewed best estimate of true time, served to peers. */
  estimateNs: bigint;
  earliestNs: bigint;
  latestNs: bigint;
  status: SyncStatus;
  /** The reading's raw offset (bestNs − localNs). */
  appliedOffsetNs: number;
  /** The interval as raw offsets. */
  lowNs: number;
  highNs: number;
}

interface FitPoint {
  /** Seconds since the window's base instant. */
  xS: number;
  offsetNs: number;
  errorNs: number;
}

interface Fit {
  /** Raw offset at xS = 0 of the current base, and slope in ns per s. */
  interceptNs: number;
  slopeNsPerS: number;
  /** Worst-case slope error in ns per s. */
  slopeErrorNsPerS: number;
}

const HALF_UNBOUNDED_NS = UNBOUNDED_NS / 2;
/** From this many fit points on, the frequency error bound is statistical (see refit). */
const STATISTICAL_FIT_POINTS = 16;
const SLOPE_ERROR_SIGMAS = 10;

export class DisciplinedClock {
  readonly config: DisciplineConfig;
  private points: FitPoint[] = [];
  private baseLocalNs = 0n;
  private fit: Fit | null = null;
  /** State at the last update; everything between updates is derived from it. */
  private updated = false;
  private lastLocalNs = 0n;
  private lastLowNs = -UNBOUNDED_NS;
  private lastHighNs = UNBOUNDED_NS;
  private lastAnchored = false;
  /** Frequency (dimensionless) and interval growth rate in force since the last update. */
  private frequency: number;
  private growthRate: number;
  /** Reading's raw offset at the last update, and the slew still to apply after it. */
  private appliedAtUpdateNs = 0;
  /** Target raw offset at the last update (the fitted estimate, clamped into the interval). */
  private targetAtUpdateNs = 0;
  private slewRemainingNs = 0;

  constructor(config: Partial<DisciplineConfig> = {}, initial?: { frequencyPpm?: number }) {
    this.config = { ...DEFAULT_DISCIPLINE, ...config };
    validateConfig(this.config);
    this.frequency = (initial?.frequencyPpm ?? 0) * 1e-6;
    this.growthRate = (this.config.maxDriftPpm + this.config.maxFrequencyErrorPpm) * 1e-6;
  }

  /** Frequency and growth rate for projecting samples taken earlier to now (see bft/ Projection). */
  projection(): { frequency: number; growthRate: number } {
    return { frequency: this.frequency, growthRate: this.growthRate };
  }

  get frequencyPpm(): number {
    return this.frequency * 1e6;
  }

  get synchronized(): boolean {
    return this.updated && this.lastHighNs - this.lastLowNs < UNBOUNDED_NS;
  }

  get lastUpdateLocalNs(): bigint | null {
    return this.updated ? this.lastLocalNs : null;
  }

  /** Forget the sync state (after a detected inconsistency); the reading continues without a jump. */
  reset(localNs: bigint): void {
    const applied = this.appliedOffset(localNs);
    this.points = [];
    this.fit = null;
    this.updated = false;
    this.appliedAtUpdateNs = applied;
    this.targetAtUpdateNs = applied;
    this.slewRemainingNs = 0;
    this.lastLocalNs = localNs;
    this.growthRate = (this.config.maxDriftPpm + this.config.maxFrequencyErrorPpm) * 1e-6;
  }

  read(localNs: bigint): ClockReading {
    const applied = this.appliedOffset(localNs);
    const target = this.updated
      ? this.targetAtUpdateNs + this.frequency * elapsedNs(this.lastLocalNs, localNs)
      : applied;
    let lowNs: number;
    let highNs: number;
    if (!this.updated) {
      lowNs = applied - UNBOUNDED_NS;
      highNs = applied + UNBOUNDED_NS;
    } else {
      const dtNs = elapsedNs(this.lastLocalNs, localNs);
      const shiftNs = this.frequency * dtNs;
      const growNs = this.growthRate * dtNs;
      lowNs = Math.min(this.lastLowNs + shiftNs - growNs, applied);
      highNs = Math.max(this.lastHighNs + shiftNs + growNs, applied);
    }
    return {
      bestNs: localNs + BigInt(Math.round(applied)),
      estimateNs: localNs + BigInt(Math.round(target)),
      earliestNs: localNs + BigInt(Math.floor(lowNs)),
      latestNs: localNs + BigInt(Math.ceil(highNs)),
      status: this.status(localNs, lowNs, highNs),
      appliedOffsetNs: applied,
      lowNs,
      highNs,
    };
  }

  update(u: ClockUpdate): ClockCorrection {
    if (!(u.lowNs <= u.offsetNs && u.offsetNs <= u.highNs) || !Number.isFinite(u.offsetNs)) {
      throw new TimemeshError(
        'TM_ERR_CLOCK_UPDATE',
        `clock update must satisfy lowNs ≤ offsetNs ≤ highNs (got ${u.lowNs} ≤ ${u.offsetNs} ≤ ${u.highNs})`,
      );
    }
    const appliedNow = this.appliedOffset(u.localNs);
    const unbounded = u.highNs - u.lowNs >= UNBOUNDED_NS;
    if (this.updated && !unbounded && !this.consistentWithProjection(u)) {
      // The new interval and the projection of the previous one cannot both contain true time:
      // something stepped or the frequency changed. Start the fit afresh rather than average across it.
      this.points = [];
    }
    this.addPoint(u, unbounded);
    const fit = this.fit;
    let targetNs = u.offsetNs;
    if (fit !== null) {
      const xS = Number(u.localNs - this.baseLocalNs) / 1e9;
      targetNs = this.config.phaseFromFit
        ? clamp(fit.interceptNs + fit.slopeNsPerS * xS, u.lowNs, u.highNs)
        : u.offsetNs;
      this.frequency = fit.slopeNsPerS / 1e9;
      this.growthRate = (this.config.maxDriftPpm * 1e3 + fit.slopeErrorNsPerS) / 1e9;
    }
    const correctionNs = targetNs - appliedNow;
    let kind: ClockCorrection['kind'];
    if (correctionNs === 0) {
      kind = 'none';
    } else if (Math.abs(correctionNs) > this.config.stepThresholdNs) {
      kind = 'step';
    } else {
      kind = 'slew';
    }
    this.appliedAtUpdateNs = kind === 'step' ? targetNs : appliedNow;
    this.targetAtUpdateNs = targetNs;
    this.slewRemainingNs = kind === 'slew' ? correctionNs : 0;
    this.updated = true;
    this.lastLocalNs = u.localNs;
    this.lastLowNs = u.lowNs;
    this.lastHighNs = u.highNs;
    this.lastAnchored = u.anchored;
    return {
      kind,
      correctionNs,
      frequencyPpm: this.frequency * 1e6,
      frequencyErrorPpm: fit === null ? this.config.maxFrequencyErrorPpm : fit.slopeErrorNsPerS / 1e3,
    };
  }

  /** The reading's raw offset at localNs: phase at the last update, frequency, and slew progress. */
  private appliedOffset(localNs: bigint): number {
    // Before the first update there is no reference instant to extrapolate a (restored) frequency from.
    if (!this.updated) return this.appliedAtUpdateNs;
    const dtNs = elapsedNs(this.lastLocalNs, localNs);
    const slewMaxNs = this.config.maxSlewPpm * 1e-6 * dtNs;
    const slewNs =
      this.slewRemainingNs >= 0
        ? Math.min(this.slewRemainingNs, slewMaxNs)
        : Math.max(this.slewRemainingNs, -slewMaxNs);
    return this.appliedAtUpdateNs + this.frequency * dtNs + slewNs;
  }

  private status(localNs: bigint, lowNs: number, highNs: number): SyncStatus {
    if (!this.updated || highNs - lowNs >= UNBOUNDED_NS || lowNs <= -HALF_UNBOUNDED_NS) {
      return 'unsynchronized';
    }
    if (elapsedNs(this.lastLocalNs, localNs) > this.config.holdoverAfterNs) return 'holdover';
    return this.lastAnchored ? 'anchored' : 'synchronized';
  }

  private consistentWithProjection(u: ClockUpdate): boolean {
    const dtNs = elapsedNs(this.lastLocalNs, u.localNs);
    const low = this.lastLowNs + (this.frequency - this.growthRate) * dtNs;
    const high = this.lastHighNs + (this.frequency + this.growthRate) * dtNs;
    return u.highNs >= low && u.lowNs <= high;
  }

  private addPoint(u: ClockUpdate, unbounded: boolean): void {
    if (unbounded) {
      // An unbounded update says nothing about frequency; keep following it without fitting.
      this.points = [];
      this.fit = null;
      return;
    }
    if (this.points.length === 0) this.baseLocalNs = u.localNs;
    const errorNs = Math.max(u.offsetNs - u.lowNs, u.highNs - u.offsetNs, 1);
    this.points.push({ xS: Number(u.localNs - this.baseLocalNs) / 1e9, offsetNs: u.offsetNs, errorNs });
    if (this.points.length > this.config.fitWindow) this.points.shift();
    this.fit = this.refit();
    // Drop the oldest points while the line does not explain them within twice their error bound:
    // a frequency change makes old points lie, and chrony shrinks its window for the same reason.
    while (this.points.length > 2 && this.fit !== null && this.worstResidualRatio(this.fit) > 2) {
      this.points.shift();
      this.fit = this.refit();
    }
  }

  private worstResidualRatio(fit: Fit): number {
    let worst = 0;
    for (const p of this.points) {
      const r = Math.abs(p.offsetNs - (fit.interceptNs + fit.slopeNsPerS * p.xS)) / p.errorNs;
      if (r > worst) worst = r;
    }
    return worst;
  }

  private refit(): Fit | null {
    const pts = this.points;
    if (pts.length === 0) return null;
    const maxSlopeNsPerS = this.config.maxFrequencyErrorPpm * 1e3;
    if (pts.length === 1) {
      const p = pts[0]!;
      const slope = this.frequency * 1e9;
      return { interceptNs: p.offsetNs - slope * p.xS, slopeNsPerS: slope, slopeErrorNsPerS: maxSlopeNsPerS };
    }
    let sw = 0;
    let swx = 0;
    let swy = 0;
    for (const p of pts) {
      const w = 1 / (p.errorNs * p.errorNs);
      sw += w;
      swx += w * p.xS;
      swy += w * p.offsetNs;
    }
    const xMean = swx / sw;
    const yMean = swy / sw;
    let sxx = 0;
    let sxy = 0;
    let bound = 0;
    for (const p of pts) {
      const w = 1 / (p.errorNs * p.errorNs);
      const dx = p.xS - xMean;
      sxx += w * dx * dx;
      sxy += w * dx * (p.offsetNs - yMean);
      bound += w * Math.abs(dx) * p.errorNs;
    }
    if (sxx <= 0) {
      const slope = this.frequency * 1e9;
      return { interceptNs: yMean - slope * xMean, slopeNsPerS: slope, slopeErrorNsPerS: maxSlopeNsPerS };
    }
    // The hardware tolerance bounds the true slope, so clamping the estimate into it can only help.
    const slope = clamp(sxy / sxx, -maxSlopeNsPerS, maxSlopeNsPerS);
    let slopeError = Math.min(bound / sxx, maxSlopeNsPerS + Math.abs(slope));
    if (pts.length >= STATISTICAL_FIT_POINTS) {
      // With enough points, use the slope's standard error from the residuals (times a generous
      // factor) instead of the worst case. The worst case scales with the updates' error bounds,
      // and in a mesh those come from the peers' intervals: wide intervals → a large frequency
      // bound → faster growth → wider intervals, a loop that once inflated a LAN mesh to ±600 ms.
      // maxDriftPpm, added on top by the caller, is what actually covers wander.
      let swr2 = 0;
      for (const p of pts) {
        const r = p.offsetNs - (yMean + slope * (p.xS - xMean));
        swr2 += (r * r) / (p.errorNs * p.errorNs);
      }
      const standardError = Math.sqrt(swr2 / (pts.length - 2) / sxx);
      slopeError = Math.min(slopeError, SLOPE_ERROR_SIGMAS * standardError);
    }
    return { interceptNs: yMean - slope * xMean, slopeNsPerS: slope, slopeErrorNsPerS: slopeError };
  }
}

function elapsedNs(fromNs: bigint, toNs: bigint): number {
  const d = Number(toNs - fromNs);
  return d > 0 ? d : 0;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function validateConfig(c: DisciplineConfig): void {
  const positive = ['maxFrequencyErrorPpm', 'stepThresholdNs', 'maxSlewPpm'] as const;
  for (const key of positive) {
    if (!(c[key] > 0)) throw new TimemeshError('TM_ERR_CLOCK_CONFIG', `${key} must be > 0 (got ${c[key]})`);
  }
  if (!(c.maxDriftPpm >= 0)) {
    throw new TimemeshError('TM_ERR_CLOCK_CONFIG', `maxDriftPpm must be ≥ 0 (got ${c.maxDriftPpm})`);
  }
  if (!(c.maxSlewPpm < 1e6)) {
    throw new TimemeshError(
      'TM_ERR_CLOCK_CONFIG',
      `maxSlewPpm must be < 1000000 so the reading stays monotonic`,
    );
  }
  if (!Number.isInteger(c.fitWindow) || c.fitWindow < 2) {
    throw new TimemeshError('TM_ERR_CLOCK_CONFIG', `fitWindow must be an integer ≥ 2 (got ${c.fitWindow})`);
  }
  if (!(c.holdoverAfterNs > 0)) {
    throw new TimemeshError('TM_ERR_CLOCK_CONFIG', `holdoverAfterNs must be > 0 (got ${c.holdoverAfterNs})`);
  }
}
