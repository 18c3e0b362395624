/**
 * The simulated network. Per-link parameters (base delay, asymmetry) come from a hash of the run's seed
 * and the link's endpoints, so a 1000-node mesh needs no per-link state. Each message adds Pareto
 * queueing jitter (heavy tail) and may be lost; partitions drop messages between groups.
 */
import type { NetworkModel } from './scenarioTypes.ts';
import { hashUnit } from './rng.ts';
import type { SimRng } from './rng.ts';

export class Network {
  private groupOf: Int32Array | null = null;

  constructor(
    private readonly model: NetworkModel,
    private readonly seedHash: number,
    private readonly rng: SimRng,
    private readonly nodes: number,
  ) {}

  /** One-way delay of a message from → to, or null when it is lost or partitioned away. */
  delayNs(from: number, to: number): number | null {
    if (this.groupOf !== null && this.groupOf[from] !== this.groupOf[to]) return null;
    const m = this.model;
    if (m.lossRate > 0 && this.rng.next() < m.lossRate) return null;
    return this.baseDelayNs(from, to) + this.rng.paretoWithMean(m.jitterNsMean, m.jitterParetoAlpha);
  }

  /** The fixed part of the delay: symmetric base ± half the link's asymmetry. */
  baseDelayNs(from: number, to: number): number {
    const lo = Math.min(from, to);
    const hi = Math.max(from, to);
    const m = this.model;
    const base = m.delayNsMin + (m.delayNsMax - m.delayNsMin) * hashUnit(this.seedHash, lo, hi, 1);
    const asym = m.asymmetryNsMax * (2 * hashUnit(this.seedHash, lo, hi, 2) - 1);
    // The asymmetry is the forward (lo → hi) minus the reverse delay.
    const half = asym / 2;
    const d = from === lo ? base + half : base - half;
    return d > 0 ? d : 0;
  }

  setPartition(groups: number[][] | null): void {
    if (groups === null) {
      this.groupOf = null;
      return;
    }
    const g = new Int32Array(this.nodes).fill(groups.length);
    groups.forEach((members, i) => {
      for (const n of members) g[n] = i;
    });
    this.groupOf = g;
  }
}
