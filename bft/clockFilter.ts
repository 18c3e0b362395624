/**
 * Per-source clock filter (the idea of NTP's clock filter, RFC 5905 §10): of the last few samples
 * from one source, the one with the least delay is the one least disturbed by queueing, so it gives
 * the tightest correctness interval, even after it has aged a little.
 *
 * Sign convention: offsets are `source − local` on the raw oscillator; ages are `now − sample.localNs`
 * in nanoseconds of local time, never negative (the raw oscillator is monotonic, so a sample from the
 * future is a bug and throws).
 *
 * Invariants: at most `capacity` samples are kept (1..64), the oldest-added is evicted first; samples
 * are validated once on `add` and held by reference, so callers must not mutate them afterwards.
 * `best` allocates only its result object: it runs for every source on every poll of every simulated
 * node, millions of times per simulation.
 */
import { assertValidProjection, assertValidSample } from './correctnessInterval.ts';
import { BftArgumentError } from './errors.ts';
import type { Projection, SourceSample } from './types.ts';

/** The filter's choice for one source, projected to the `now` it was asked about. */
export interface FilteredEstimate {
  /** The chosen sample (the one with the narrowest projected interval). */
  sample: SourceSample;
  /** θ + frequency · age: the chosen sample's offset carried forward to now. */
  offsetNs: number;
  /** The chosen sample's correctness interval, projected to now. */
  lowNs: number;
  highNs: number;
  /** RMS of the other usable samples' projected offsets around `offsetNs`; 0 when there is one sample. */
  jitterNs: number;
  /** How old the chosen sample is, in local nanoseconds. */
  ageNs: number;
}

export const CLOCK_FILTER_CAPACITY_DEFAULT = 8;
export const CLOCK_FILTER_CAPACITY_MAX = 64;

export class ClockFilter {
  readonly capacity: number;
  private readonly ring: (SourceSample | undefined)[];
  /** Scratch space for `best`: each slot's age, or -1 when the slot is not usable this call. */
  private readonly ageScratchNs: Float64Array;
  /** Index the next sample is written to. */
  private head = 0;
  private count = 0;

  constructor(capacity: number = CLOCK_FILTER_CAPACITY_DEFAULT) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > CLOCK_FILTER_CAPACITY_MAX) {
      throw new BftArgumentError(
        `clock filter capacity must be an integer in 1..${CLOCK_FILTER_CAPACITY_MAX}, got ${capacity}`,
      );
    }
    this.capacity = capacity;
    this.ring = new Array<SourceSample | undefined>(capacity).fill(undefined);
    this.ageScratchNs = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  add(sample: SourceSample): void {
    assertValidSample(sample);
    this.ring[this.head] = sample;
    this.head = (this.head + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  clear(): void {
    // Drop the references too, so a cleared filter does not keep old samples alive.
    this.ring.fill(undefined);
    this.head = 0;
    this.count = 0;
  }

  /**
   * The sample whose projected interval is narrowest now, ignoring samples older than `maxAgeNs`;
   * null when no sample is usable. Ties go to the younger sample (then to the one added last),
   * because a younger sample depends less on the frequency estimate.
   */
  best(nowLocalNs: bigint, p: Projection, maxAgeNs: number = Infinity): FilteredEstimate | null {
    assertValidProjection(p);
    if (!(maxAgeNs >= 0)) {
      throw new BftArgumentError(`maxAgeNs must be ≥ 0, got ${maxAgeNs}`);
    }
    const ring = this.ring;
    const ages = this.ageScratchNs;
    const capacity = this.capacity;
    let chosenSlot = -1;
    let chosenHalfWidthNs = Infinity;
    let chosenAgeNs = Infinity;
    // Newest first, so that on a complete tie the strict comparison keeps the most recently added.
    for (let k = 0; k < this.count; k++) {
      const slot = (this.head - 1 - k + capacity) % capacity;
      const s = ring[slot] as SourceSample;
      const ageNs = Number(nowLocalNs - s.localNs);
      if (ageNs < 0) {
        throw new BftArgumentError(
          `sample taken at local ${s.localNs} is newer than now = ${nowLocalNs}: raw clock went backwards`,
        );
      }
      if (ageNs > maxAgeNs) {
        ages[slot] = -1;
        continue;
      }
      ages[slot] = ageNs;
      const halfWidthNs =
        s.delayNs / 2 + (s.sourceErrorLowNs + s.sourceErrorHighNs) / 2 + p.growthRate * ageNs;
      if (halfWidthNs < chosenHalfWidthNs || (halfWidthNs === chosenHalfWidthNs && ageNs < chosenAgeNs)) {
        chosenSlot = slot;
        chosenHalfWidthNs = halfWidthNs;
        chosenAgeNs = ageNs;
      }
    }
    if (chosenSlot < 0) return null;

    const chosen = ring[chosenSlot] as SourceSample;
    const offsetNs = chosen.offsetNs + p.frequency * chosenAgeNs;
    let sumSquaresNs2 = 0;
    let others = 0;
    for (let k = 0; k < this.count; k++) {
      const slot = (this.head - 1 - k + capacity) % capacity;
      const ageNs = ages[slot] as number;
      if (slot === chosenSlot || ageNs < 0) continue;
      const s = ring[slot] as SourceSample;
      const deviationNs = s.offsetNs + p.frequency * ageNs - offsetNs;
      sumSquaresNs2 += deviationNs * deviationNs;
      others++;
    }

    const halfDelayNs = chosen.delayNs / 2;
    const wideningNs = p.growthRate * chosenAgeNs;
    return {
      sample: chosen,
      offsetNs,
      lowNs: offsetNs - halfDelayNs - chosen.sourceErrorLowNs - wideningNs,
      highNs: offsetNs + halfDelayNs + chosen.sourceErrorHighNs + wideningNs,
      jitterNs: others === 0 ? 0 : Math.sqrt(sumSquaresNs2 / others),
      ageNs: chosenAgeNs,
    };
  }
}
