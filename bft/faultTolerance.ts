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

export function assertFaultCount(f: number): void {
  if (!Number.isInteger(f) || f < 0) {
    throw new BftArgumentError(`fault tolerance f must be an integer ≥ 0, got ${f}`);
  }
}
