/**
 * POSIX clocks read directly with `clock_gettime(2)` through koffi (issue #5, "System clock"), for the
 * three clocks the system-clock discipline has to tell apart:
 *
 * - CLOCK_REALTIME (0): the system clock, the one the discipline corrects (and every other program
 *   reads). It jumps on a step and is slewed by the kernel's NTP engine.
 * - CLOCK_MONOTONIC (1): never jumps, but the kernel's frequency correction and slewing apply to it
 *   (process.hrtime reads it). An oscillator built on it is disturbed by the discipline itself.
 * - CLOCK_MONOTONIC_RAW (4): the undisturbed hardware counter (TSC, arch timer) scaled by the
 *   clocksource's nominal multiplier only; no adjtimex setting changes its rate. This is what a node
 *   that disciplines the system clock must run on (see node/core/systemClockPolicy.ts).
 *
 * Invariant: this module only reads. `clock_gettime` writes into one preallocated 16-byte
 * `struct timespec` (LP64: `time_t tv_sec` at 0, `long tv_nsec` at 8); nothing here can set a clock.
 *
 * Cost: one read is one koffi call into the vDSO. Measured on the development machine (x86-64, 2 vCPU,
 * Node 20.20, koffi 3.3.4; 200 000 calls, 3 runs): 0.2–0.4 µs per `clockGettimeNs`, against
 * 0.05–0.07 µs for process.hrtime.bigint(). A bracket (raw, realtime, raw) costs ≈ 0.7 µs and
 * `realtimeMinusRawNs()` (5 brackets) ≈ 3.3 µs; the best bracket's uncertainty was ≈ 0.25 µs.
 *
 * Sign convention: `realtimeMinusRawNs().offsetNs` is CLOCK_REALTIME − CLOCK_MONOTONIC_RAW at the same
 * instant; adding it to a raw reading gives the realtime reading of that instant.
 *
 * Hazard: like kernelClock.ts, the binding knows the LP64 Linux ABI (x64, arm64) only; other platforms
 * get a typed error, never a wrong read.
 */
import { createRequire } from 'node:module';
import type * as KoffiModule from 'koffi';
import { TimemeshError } from '../hlc/errors.ts';

/** Typed failure of a POSIX clock read. Codes: TM_ERR_POSIX_CLOCK_{PLATFORM,FFI,SYSCALL}. */
export class PosixClockError extends TimemeshError {
  constructor(code: PosixClockErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
export type PosixClockErrorCode =
  'TM_ERR_POSIX_CLOCK_PLATFORM' | 'TM_ERR_POSIX_CLOCK_FFI' | 'TM_ERR_POSIX_CLOCK_SYSCALL';

/** Clock ids, <linux/time.h>. The test checks them against the C header. */
export const CLOCK_IDS = {
  CLOCK_REALTIME: 0,
  CLOCK_MONOTONIC: 1,
  CLOCK_MONOTONIC_RAW: 4,
} as const;
export type ClockName = keyof typeof CLOCK_IDS;

/** sizeof(struct timespec) on LP64 Linux: two 64-bit integers. */
export const TIMESPEC_SIZE_LP64 = 16;

type Koffi = typeof KoffiModule;
interface Binding {
  koffi: Koffi;
  clockGettime: (clockId: number, ts: Buffer) => number;
  timespec: Buffer;
}
let binding: Binding | null = null;

/** Throws PosixClockError unless this is x64/arm64 Linux; shared with refclock/systemClock.ts. */
export function assertLp64Linux(what: string): void {
  if (process.platform !== 'linux') {
    throw new PosixClockError(
      'TM_ERR_POSIX_CLOCK_PLATFORM',
      `${what} is bound for Linux only (this is ${process.platform})`,
    );
  }
  if (process.arch !== 'x64' && process.arch !== 'arm64') {
    throw new PosixClockError(
      'TM_ERR_POSIX_CLOCK_PLATFORM',
      `${what} knows the LP64 ABI of x64 and arm64 Linux only (this is ${process.arch})`,
    );
  }
}

/** koffi, loaded lazily (importing this module costs nothing until a read). Throws PosixClockError. */
export function loadKoffi(): Koffi {
  try {
    return createRequire(import.meta.url)('koffi') as Koffi;
  } catch (err) {
    throw new PosixClockError('TM_ERR_POSIX_CLOCK_FFI', `cannot load koffi: ${String(err)}`, { cause: err });
  }
}

function bind(): Binding {
  if (binding !== null) return binding;
  assertLp64Linux('clock_gettime');
  const koffi = loadKoffi();
  let clockGettime: Binding['clockGettime'];
  try {
    const libc = koffi.load('libc.so.6');
    clockGettime = libc.func('int clock_gettime(int clk_id, void *tp)') as Binding['clockGettime'];
  } catch (err) {
    throw new PosixClockError(
      'TM_ERR_POSIX_CLOCK_FFI',
      `cannot bind clock_gettime from libc.so.6 (glibc is required): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  binding = { koffi, clockGettime, timespec: Buffer.alloc(TIMESPEC_SIZE_LP64) };
  return binding;
}

/** Pure: a LP64 `struct timespec` buffer as ns. */
export function timespecToNs(buf: Buffer): bigint {
  return buf.readBigInt64LE(0) * 1_000_000_000n + buf.readBigInt64LE(8);
}

/** Pure: ns as a normalized LP64 `struct timespec` (0 ≤ tv_nsec < 1e9, also for negative times). */
export function nsToTimespec(ns: bigint, out: Buffer = Buffer.alloc(TIMESPEC_SIZE_LP64)): Buffer {
  let sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += 1_000_000_000n;
  }
  out.writeBigInt64LE(sec, 0);
  out.writeBigInt64LE(nsec, 8);
  return out;
}

/** One `clock_gettime(clockId)`, ns. Throws PosixClockError. */
export function clockGettimeNs(clockId: number): bigint {
  const b = bind();
  if (b.clockGettime(clockId, b.timespec) !== 0) {
    throw new PosixClockError(
      'TM_ERR_POSIX_CLOCK_SYSCALL',
      `clock_gettime(${clockId}) failed: errno ${b.koffi.errno()}`,
    );
  }
  return timespecToNs(b.timespec);
}

/** CLOCK_REALTIME, ns since the Unix epoch. */
export function realtimeNs(): bigint {
  return clockGettimeNs(CLOCK_IDS.CLOCK_REALTIME);
}

/** CLOCK_MONOTONIC, ns since an unspecified start (boot); the same clock as process.hrtime. */
export function monotonicNs(): bigint {
  return clockGettimeNs(CLOCK_IDS.CLOCK_MONOTONIC);
}

/** CLOCK_MONOTONIC_RAW, ns since an unspecified start; not affected by any adjtimex setting. */
export function monotonicRawNs(): bigint {
  return clockGettimeNs(CLOCK_IDS.CLOCK_MONOTONIC_RAW);
}

export interface ClockDifference {
  /** CLOCK_REALTIME − CLOCK_MONOTONIC_RAW at one instant, ns. */
  offsetNs: bigint;
  /** Half the gap between the two raw reads that bracket the realtime read: |error| ≤ this, ns. */
  uncertaintyNs: number;
}

/** One clock's reading placed on another's timeline: see `bracketRead`. */
export interface BracketedRead {
  /** The outer clock at the inner read: the midpoint of the two outer reads, ns. */
  outerNs: bigint;
  /** The inner clock's reading, ns. */
  innerNs: bigint;
  /** The gap between the two outer reads, ns: the inner read lies within it. */
  gapNs: bigint;
}

/**
 * Reads `outer`, `inner`, `outer`: the inner reading lies between the two outer ones, so on the outer
 * timeline it was taken at their midpoint ± half their gap. Of `tries` brackets the one with the
 * smallest gap wins: a preemption inside a bracket only widens it. Pure apart from the readers.
 */
export function bracketRead(outer: () => bigint, inner: () => bigint, tries = 1): BracketedRead {
  if (!Number.isInteger(tries) || tries < 1 || tries > 1000) {
    throw new RangeError(`tries must be an integer 1..1000, got ${tries}`);
  }
  let best: BracketedRead | null = null;
  for (let i = 0; i < tries; i++) {
    const before = outer();
    const innerNs = inner();
    const gapNs = outer() - before;
    if (best === null || gapNs < best.gapNs) best = { outerNs: before + gapNs / 2n, innerNs, gapNs };
  }
  return best!;
}

/**
 * CLOCK_REALTIME − CLOCK_MONOTONIC_RAW, measured as raw, realtime, raw (`bracketRead`, best of `tries`).
 */
export function realtimeMinusRawNs(tries = 5): ClockDifference {
  const b = bracketRead(monotonicRawNs, realtimeNs, tries);
  return { offsetNs: b.innerNs - b.outerNs, uncertaintyNs: Math.ceil(Number(b.gapNs) / 2) };
}
