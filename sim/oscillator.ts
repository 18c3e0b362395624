/**
 * A simulated local oscillator: an initial offset, a frequency error, and a random-walk wander of the
 * frequency applied in fixed segments. local(t) = t + phase(t), piecewise linear in true time t.
 * Wander draws come from the oscillator's own stream, so they do not depend on event order.
 */
import type { SimRng } from './rng.ts';

const SEGMENT_NS = 16e9;

export class Oscillator {
  private segStartNs = 0;
  private segPhaseNs: number;
  private freq: number;
  private readonly wanderPerSegment: number;

  constructor(
    private readonly epochNs: bigint,
    initialOffsetNs: number,
    frequencyPpm: number,
    wanderPpmPerSqrtS: number,
    private readonly rng: SimRng,
  ) {
    this.segPhaseNs = initialOffsetNs;
    this.freq = frequencyPpm * 1e-6;
    this.wanderPerSegment = wanderPpmPerSqrtS * 1e-6 * Math.sqrt(SEGMENT_NS / 1e9);
  }

  /** Local reading at event time tNs (never earlier than a previous call's tNs). */
  local(tNs: number): bigint {
    while (tNs >= this.segStartNs + SEGMENT_NS) {
      this.segPhaseNs += this.freq * SEGMENT_NS;
      this.segStartNs += SEGMENT_NS;
      if (this.wanderPerSegment > 0) this.freq += this.wanderPerSegment * this.rng.normal();
    }
    return this.peek(tNs);
  }

  /** Local reading at a time slightly ahead of the current event, extrapolating the current segment. */
  peek(tNs: number): bigint {
    return this.epochNs + BigInt(Math.round(tNs + this.phaseNs(tNs)));
  }

  /** local − true at tNs, in ns. */
  phaseNs(tNs: number): number {
    return this.segPhaseNs + this.freq * (tNs - this.segStartNs);
  }

  /** The true time at which the local clock will read `localNs`, seen from event time nowNs. */
  trueTimeOf(localNs: bigint, nowNs: number): number {
    const aheadNs = Number(localNs - this.peek(nowNs));
    return nowNs + aheadNs / (1 + this.freq);
  }
}
