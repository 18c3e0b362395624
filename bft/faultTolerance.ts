/**
 * How many faulty sources (f) to tolerate among n.
 *
 * The default ⌊(n − 1)/3⌋ is the largest f with n ≥ 3f + 1, the bound below which two-faced
 * (Byzantine) sources can drive honest nodes apart (see trimmedMedian.ts). An operator may configure
 * f explicitly, for example to demand more sources than the mesh currently sees; combine() then
 * reports "too few sources" rather than silently tolerating less.
 */
import { BftArgumentError } from './errors.ts';

export function faultToleranceFor(n: number, configured?: number | null): number {
  if (!Number.isInteger(n) || n < 0) {
    throw new BftArgumentError(`source count n must be an integer ≥ 0, got ${n}`);
  }
  if (configured !== undefined && configured !== null) {
    assertFaultCount(configured);
    return configured;
  }
  return n <= 1 ? 0 : Math.floor((n - 1) / 3);
}

/**
 * How many of one node's own references (GPS, PPS, NTP and TSQ servers) may be falsetickers: the
 * largest f with n ≥ 2f + 1, the majority rule of NTP's and chrony's source selection.
 *
 * Why not ⌊(n − 1)/3⌋: the 3f + 1 bound guards against a two-faced source telling different honest
 * nodes different times. A node's references are heard by that node alone, and a node misled by
 * references that lie together is one of the f faulty nodes the mesh tolerates (nodeCore.ts). What is
 * left is NTP's question: which of my servers agree? A majority clique (n − f ≥ f + 1 sources sharing
 * a point) always holds an honest source, so its interval is vouched for by one. With the 3f + 1 rule,
 * three servers of which one lies give f = 0, Marzullo then needs all three to agree, and the node
 * stops updating altogether ("no majority") instead of outvoting the liar.
 */
export function majorityFaultToleranceFor(n: number): number {
  if (!Number.isInteger(n) || n < 0) {
    throw new BftArgumentError(`source count n must be an integer ≥ 0, got ${n}`);
  }
  return n <= 1 ? 0 : Math.floor((n - 1) / 2);
}

export function assertFaultCount(f: number): void {
  if (!Number.isInteger(f) || f < 0) {
    throw new BftArgumentError(`fault tolerance f must be an integer ≥ 0, got ${f}`);
  }
}
