/**
 * The system-clock adapter (issue #5, "System clock"): the only door through which timemesh may change
 * the host's CLOCK_REALTIME, and only when the operator opted in (root only). ntpd-rs' `NtpClock` and
 * chrony's `local.c`/`sys_linux.c` are the models: the decision logic (node/core/systemClockPolicy.ts)
 * never touches the OS; it returns an action that a driver carries out through `SystemClockControl`.
 *
 * Two operations change the clock:
 * - `adjust(a)`: one `adjtimex(2)` call whose `modes` name exactly the fields in `a` — ADJ_OFFSET with
 *   ADJ_NANO (a phase correction the kernel PLL slews out, ns, clamped to ±0.5 s = the kernel's
 *   MAXPHASE), ADJ_FREQUENCY (ppm scaled by 2^16, clamped to ±500 ppm = MAXFREQ), ADJ_MAXERROR,
 *   ADJ_ESTERROR (µs), ADJ_TIMECONST and ADJ_STATUS (set/clear masks applied to the current status).
 * - `step(deltaNs)`: `clock_settime(CLOCK_REALTIME, realtime + delta)`. HAZARD: the time between the
 *   realtime read and the set (about a microsecond through koffi, more under preemption) is lost;
 *   adjtimex(ADJ_SETOFFSET) would add the offset atomically, and is the place to go if that matters.
 *
 * Invariants (the machine's clock must never change by accident):
 * - `createKernelSystemClock({ allowChanges: false })` throws TM_ERR_SYSTEM_CLOCK_READ_ONLY from
 *   adjust/step before any FFI is touched; its read()/realtimeNs() are the read-only calls of
 *   kernelClock.ts and posixClock.ts.
 * - The mutating libc functions (a second `adjtimex` binding and `clock_settime`) are bound lazily, on
 *   the first adjust/step of an `allowChanges: true` instance, and nowhere else in the code base.
 * - `encodeTimexAdjustment` is pure (Buffer writes only), so tests check every mode bit and field by
 *   decoding its output without a syscall.
 *
 * Signs (as in kernelClock.ts): a positive ADJ_OFFSET moves the clock forward (it is behind); a
 * positive frequency makes it run faster; a positive step moves it forward.
 *
 * Privileges: changing the clock needs CAP_SYS_TIME. `requireClockPrivileges` accepts root, or a
 * non-root process holding CAP_SYS_TIME in its effective set (packaging/timemesh.service grants it
 * with AmbientCapabilities=CAP_SYS_TIME). A kernel EPERM is reported the same way.
 */
import { readFileSync } from 'node:fs';
import type * as KoffiModule from 'koffi';
import { TimemeshError } from '../hlc/errors.ts';
import { STA_FLAGS, TIMEX_LAYOUT_LP64, decodeTimex, readKernelClock, timexType } from './kernelClock.ts';
import type { KernelClockSnapshot, RawTimex } from './kernelClock.ts';
import { assertLp64Linux, loadKoffi, nsToTimespec, realtimeNs, TIMESPEC_SIZE_LP64 } from './posixClock.ts';

/**
 * Typed failure of the system-clock adapter. Codes: TM_ERR_SYSTEM_CLOCK_READ_ONLY (a change on an
 * adapter made without allowChanges), _PERMISSION (not root, or EPERM from the kernel), _INVALID (a
 * bad argument, a bug in the caller), _FFI, _SYSCALL.
 */
export class SystemClockError extends TimemeshError {
  constructor(code: SystemClockErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
export type SystemClockErrorCode =
  | 'TM_ERR_SYSTEM_CLOCK_READ_ONLY'
  | 'TM_ERR_SYSTEM_CLOCK_PERMISSION'
  | 'TM_ERR_SYSTEM_CLOCK_INVALID'
  | 'TM_ERR_SYSTEM_CLOCK_FFI'
  | 'TM_ERR_SYSTEM_CLOCK_SYSCALL';

/** adjtimex `modes` bits, /usr/include/linux/timex.h (the test checks them against the header with cc). */
export const ADJ_MODES = {
  ADJ_OFFSET: 0x0001,
  ADJ_FREQUENCY: 0x0002,
  ADJ_MAXERROR: 0x0004,
  ADJ_ESTERROR: 0x0008,
  ADJ_STATUS: 0x0010,
  ADJ_TIMECONST: 0x0020,
  ADJ_TAI: 0x0080,
  ADJ_SETOFFSET: 0x0100,
  ADJ_MICRO: 0x1000,
  ADJ_NANO: 0x2000,
  ADJ_TICK: 0x4000,
} as const;

/** The kernel's limits (kernel/time/ntp.c, include/linux/timex.h): MAXPHASE, MAXFREQ, MAXTC, NTP_PHASE_LIMIT. */
export const KERNEL_MAX_PHASE_NS = 500_000_000;
export const KERNEL_MAX_FREQUENCY_PPM = 500;
export const KERNEL_MAX_TIME_CONSTANT = 10;
export const KERNEL_MAX_ERROR_US = 16_000_000;

/** Read-only status bits (STA_RONLY): the kernel ignores writes to them; the encoder never sets them. */
export const STA_READ_ONLY_BITS =
  STA_FLAGS.STA_PPSSIGNAL |
  STA_FLAGS.STA_PPSJITTER |
  STA_FLAGS.STA_PPSWANDER |
  STA_FLAGS.STA_PPSERROR |
  STA_FLAGS.STA_CLOCKERR |
  STA_FLAGS.STA_NANO |
  STA_FLAGS.STA_MODE |
  STA_FLAGS.STA_CLK;

/** One adjtimex change. Absent fields are left alone (their mode bit stays clear). */
export interface KernelAdjustment {
  /** ADJ_OFFSET|ADJ_NANO: phase correction for the kernel PLL, ns, clamped to ±0.5 s. Positive: forward. */
  offsetNs?: number;
  /** ADJ_FREQUENCY: ppm, clamped to ±500, sent scaled by 2^16. Positive: the clock runs faster. */
  frequencyPpm?: number;
  /** ADJ_MAXERROR / ADJ_ESTERROR, µs, rounded up and clamped to 0..16 s (NTP_PHASE_LIMIT). */
  maxErrorUs?: number;
  estErrorUs?: number;
  /** ADJ_TIMECONST: the PLL time constant, an integer 0..10. */
  timeConstant?: number;
  /** ADJ_STATUS: new status = (current & ~clear) | set, read-only bits excluded. */
  status?: { set: number; clear: number };
}

/** The door to the OS clock (ntpd-rs' NtpClock). The real one is createKernelSystemClock. */
export interface SystemClockControl {
  /** CLOCK_REALTIME, ns since the Unix epoch. */
  realtimeNs(): bigint;
  /** The kernel clock state (adjtimex, modes = 0). */
  read(): KernelClockSnapshot;
  /** One adjtimex change; returns the kernel state after it. */
  adjust(a: KernelAdjustment): KernelClockSnapshot;
  /** Move CLOCK_REALTIME by deltaNs (positive: forward). */
  step(deltaNs: bigint): void;
}

const SCALED_PPM = 65536;
const clamp = (x: number, limit: number): number => Math.min(limit, Math.max(-limit, x));

function finite(name: string, x: number): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new SystemClockError('TM_ERR_SYSTEM_CLOCK_INVALID', `${name} must be a finite number (got ${x})`);
  }
  return x;
}

function errorUs(name: string, x: number): number {
  finite(name, x);
  if (x < 0) throw new SystemClockError('TM_ERR_SYSTEM_CLOCK_INVALID', `${name} must be ≥ 0 (got ${x})`);
  return Math.min(KERNEL_MAX_ERROR_US, Math.ceil(x));
}

function statusMask(name: string, x: number): number {
  if (!Number.isInteger(x) || x < 0 || x > 0xffff) {
    throw new SystemClockError('TM_ERR_SYSTEM_CLOCK_INVALID', `${name} must be a 16-bit mask (got ${x})`);
  }
  return x;
}

/**
 * Pure: the 208-byte LP64 `struct timex` for one adjustment, `modes` naming exactly the fields given.
 * `currentStatus` is the kernel's status now (needed only when `a.status` is given: ADJ_STATUS
 * replaces the whole word). Throws SystemClockError (TM_ERR_SYSTEM_CLOCK_INVALID) on NaN, infinities,
 * negative errors, a bad time constant or status mask; clamps offset and frequency to the kernel's limits.
 */
export function encodeTimexAdjustment(a: KernelAdjustment, currentStatus: number): Buffer {
  const o = TIMEX_LAYOUT_LP64.offsets;
  const buf = Buffer.alloc(TIMEX_LAYOUT_LP64.size);
  let modes = 0;
  if (a.offsetNs !== undefined) {
    modes |= ADJ_MODES.ADJ_OFFSET | ADJ_MODES.ADJ_NANO;
    buf.writeBigInt64LE(
      BigInt(Math.round(clamp(finite('offsetNs', a.offsetNs), KERNEL_MAX_PHASE_NS))),
      o.offset,
    );
  }
  if (a.frequencyPpm !== undefined) {
    modes |= ADJ_MODES.ADJ_FREQUENCY;
    const scaled = Math.round(
      clamp(finite('frequencyPpm', a.frequencyPpm), KERNEL_MAX_FREQUENCY_PPM) * SCALED_PPM,
    );
    buf.writeBigInt64LE(BigInt(scaled), o.freq);
  }
  if (a.maxErrorUs !== undefined) {
    modes |= ADJ_MODES.ADJ_MAXERROR;
    buf.writeBigInt64LE(BigInt(errorUs('maxErrorUs', a.maxErrorUs)), o.maxerror);
  }
  if (a.estErrorUs !== undefined) {
    modes |= ADJ_MODES.ADJ_ESTERROR;
    buf.writeBigInt64LE(BigInt(errorUs('estErrorUs', a.estErrorUs)), o.esterror);
  }
  if (a.timeConstant !== undefined) {
    const tc = a.timeConstant;
    if (!Number.isInteger(tc) || tc < 0 || tc > KERNEL_MAX_TIME_CONSTANT) {
      throw new SystemClockError(
        'TM_ERR_SYSTEM_CLOCK_INVALID',
        `timeConstant must be an integer 0..${KERNEL_MAX_TIME_CONSTANT} (got ${tc})`,
      );
    }
    modes |= ADJ_MODES.ADJ_TIMECONST;
    buf.writeBigInt64LE(BigInt(tc), o.constant);
  }
  if (a.status !== undefined) {
    const set = statusMask('status.set', a.status.set);
    const clear = statusMask('status.clear', a.status.clear);
    if ((set & clear) !== 0) {
      throw new SystemClockError(
        'TM_ERR_SYSTEM_CLOCK_INVALID',
        `status bits both set and cleared: 0x${(set & clear).toString(16)}`,
      );
    }
    const current = statusMask('currentStatus', (currentStatus >>> 0) & 0xffff);
    modes |= ADJ_MODES.ADJ_STATUS;
    buf.writeInt32LE(((current & ~clear) | set) & ~STA_READ_ONLY_BITS & 0xffff, o.status);
  }
  buf.writeUInt32LE(modes, o.modes);
  return buf;
}

// ---- the real adapter ----------------------------------------------------------------------------

type Koffi = typeof KoffiModule;
interface MutatingBinding {
  koffi: Koffi;
  adjtimex: (buf: Buffer) => number;
  clockSettime: (clockId: number, ts: Buffer) => number;
}

const EPERM = 1;
const CLOCK_REALTIME = 0;

function bindMutating(): MutatingBinding {
  try {
    assertLp64Linux('the system-clock adapter');
  } catch (err) {
    throw new SystemClockError('TM_ERR_SYSTEM_CLOCK_FFI', (err as Error).message, { cause: err });
  }
  let koffi: Koffi;
  try {
    koffi = loadKoffi();
    const libc = koffi.load('libc.so.6');
    return {
      koffi,
      adjtimex: libc.func('int adjtimex(void *buf)') as MutatingBinding['adjtimex'],
      clockSettime: libc.func('int clock_settime(int clk_id, void *tp)') as MutatingBinding['clockSettime'],
    };
  } catch (err) {
    throw new SystemClockError(
      'TM_ERR_SYSTEM_CLOCK_FFI',
      `cannot bind adjtimex/clock_settime from libc.so.6: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

function syscallError(call: string, errno: number): SystemClockError {
  if (errno === EPERM) {
    return new SystemClockError(
      'TM_ERR_SYSTEM_CLOCK_PERMISSION',
      `${call} failed with EPERM: changing the system clock needs root or CAP_SYS_TIME`,
    );
  }
  return new SystemClockError('TM_ERR_SYSTEM_CLOCK_SYSCALL', `${call} failed: errno ${errno}`);
}

/**
 * The host's clock. `allowChanges: false` gives a read-only adapter (adjust/step throw
 * TM_ERR_SYSTEM_CLOCK_READ_ONLY without touching FFI); `true` is for the opt-in discipline and
 * `timemesh sync --apply`, run as root (call requireClockPrivileges first).
 */
export function createKernelSystemClock(o: { allowChanges: boolean }): SystemClockControl {
  const allowChanges = o.allowChanges === true;
  let mutating: MutatingBinding | null = null;
  const guard = (what: string): MutatingBinding => {
    if (!allowChanges) {
      throw new SystemClockError(
        'TM_ERR_SYSTEM_CLOCK_READ_ONLY',
        `${what}: this system-clock adapter is read-only (created with allowChanges: false); nothing was changed`,
      );
    }
    mutating ??= bindMutating();
    return mutating;
  };
  return {
    realtimeNs,
    read: readKernelClock,
    adjust(a: KernelAdjustment): KernelClockSnapshot {
      const b = guard('adjust');
      const currentStatus = a.status !== undefined ? readKernelClock().statusRaw : 0;
      const buf = encodeTimexAdjustment(a, currentStatus);
      const rc = b.adjtimex(buf);
      if (rc === -1) throw syscallError('adjtimex', b.koffi.errno());
      // The kernel writes its state back into the struct (modes included, as given).
      return decodeTimex(b.koffi.decode(buf, timexType()) as RawTimex, rc);
    },
    step(deltaNs: bigint): void {
      const b = guard('step');
      if (typeof deltaNs !== 'bigint') {
        throw new SystemClockError('TM_ERR_SYSTEM_CLOCK_INVALID', `step: deltaNs must be a bigint`);
      }
      const ts = nsToTimespec(realtimeNs() + deltaNs, Buffer.alloc(TIMESPEC_SIZE_LP64));
      if (b.clockSettime(CLOCK_REALTIME, ts) !== 0) throw syscallError('clock_settime', b.koffi.errno());
    },
  };
}

/** CAP_SYS_TIME's bit in the capability sets (linux/capability.h). */
export const CAP_SYS_TIME_BIT = 25;

/**
 * Whether a /proc/<pid>/status text grants CAP_SYS_TIME in the effective set (CapEff, hex). Pure;
 * false when the line is missing or malformed.
 */
export function hasCapSysTime(procStatus: string): boolean {
  const hex = /^CapEff:\s*([0-9a-fA-F]{1,16})\s*$/m.exec(procStatus)?.[1];
  return hex !== undefined && ((BigInt(`0x${hex}`) >> BigInt(CAP_SYS_TIME_BIT)) & 1n) === 1n;
}

function readOwnProcStatus(): string | null {
  try {
    return readFileSync('/proc/self/status', 'latin1');
  } catch {
    return null;
  }
}

/**
 * Throws SystemClockError (TM_ERR_SYSTEM_CLOCK_PERMISSION) unless the process may set the clock: it
 * runs as root, or holds CAP_SYS_TIME in its effective set (a systemd unit with
 * AmbientCapabilities=CAP_SYS_TIME, the narrower way). Both inputs are injectable for tests; a
 * platform without getuid (Windows) or /proc is refused.
 */
export function requireClockPrivileges(
  getuid: (() => number) | null = process.getuid?.bind(process) ?? null,
  procStatus: () => string | null = readOwnProcStatus,
): void {
  const uid = getuid === null ? null : getuid();
  if (uid === 0) return;
  const status = procStatus();
  if (status !== null && hasCapSysTime(status)) return;
  throw new SystemClockError(
    'TM_ERR_SYSTEM_CLOCK_PERMISSION',
    `changing the system clock needs root or CAP_SYS_TIME (this process runs as ${uid === null ? 'an unknown user' : `uid ${uid}`} without it): ` +
      'run as root, or under systemd give the unit AmbientCapabilities=CAP_SYS_TIME; --discipline-dry-run needs neither',
  );
}
