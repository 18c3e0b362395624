/**
 * Seeded pseudo-random numbers for the simulator (sfc32, seeded from a string through cyrb128). Every
 * random choice in a run comes from a stream forked from the run's seed with a label, so adding a draw
 * in one model does not shift the numbers another model sees, and the same seed replays the same run.
 */
import type { Rng } from '../node/core/types.ts';

export class SimRng implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: string) {
    [this.a, this.b, this.c, this.d] = cyrb128(seed);
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** A new independent stream derived from this seed and a label. */
  static fork(seed: string, label: string): SimRng {
    return new SimRng(`${seed}\u0000${label}`);
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  next(): number {
    return this.nextU32() / 4294967296;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal (Box–Muller; one value per call keeps the stream position simple). */
  normal(): number {
    let u = this.next();
    if (u < 1e-300) u = 1e-300;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Pareto (Lomax) with the given mean and shape α > 1: most values small, a heavy tail of large ones. */
  paretoWithMean(mean: number, alpha: number): number {
    const scale = mean * (alpha - 1);
    const u = 1 - this.next();
    return scale * (Math.pow(u, -1 / alpha) - 1);
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** A deterministic 32-bit hash of integers, for per-link parameters that need no stored state. */
export function hash32(seedHash: number, a: number, b: number, salt: number): number {
  let h = (seedHash ^ Math.imul(a + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = (h ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  h = (h ^ Math.imul(salt + 0x165667b1, 0x27d4eb2f)) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

export function hashUnit(seedHash: number, a: number, b: number, salt: number): number {
  return hash32(seedHash, a, b, salt) / 4294967296;
}

export function seedHash(seed: string): number {
  return cyrb128(seed)[0]!;
}

function cyrb128(str: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}
