/**
 * The kernel clock state, READ ONLY (issue #5, "System clock"): what the Linux kernel's NTP engine
 * believes about the system clock — offset, frequency, maxerror/esterror, the STA_* status bits and
 * the leap/sync state — read with `adjtimex(2)` through koffi, exactly as `adjtimex --print`,
 * `ntptime` and `chronyc tracking` do.
 *
 * Invariant: this module can only read. The `struct timex` it passes is a zero-filled buffer, so
 * `modes` is 0, and the call is made only after checking that the first four bytes still are 0.
 * There is no code path here that sets modes, and no binding of clock_settime/settimeofday. The
 * discipline half of #5 (slew, step) belongs to a separate, injectable adapter.
 *
 * Layout: `struct timex` per /usr/include/x86_64-linux-gnu/bits/timex.h (glibc, "# else" branch),
 * for LP64 Linux (x86-64 and aarch64, where `__syscall_slong_t` and `long` are 64 bits); other
 * architectures (32-bit, where the layout differs) get a typed error rather than a wrong read. The
 * derivation of every offset is in `TIMEX_LAYOUT_LP64` below; test/refclock/kernelClock.test.ts
 * checks it against koffi and, when a C compiler exists, against the C header itself.
 *
 * Units and signs (kernel conventions, see adjtimex(2) and kernel/time/ntp.c):
 * - `offset` is the remaining PLL offset to be slewed, in ns when STA_NANO is set and in µs
 *   otherwise. It is the kernel's correction still to apply: positive means the kernel will still
 *   move the clock forward (the clock is behind by that much, as the kernel's discipline sees it).
 * - `freq`, `ppsfreq`, `stabil` and `tolerance` are ppm scaled by 2^16. Positive `freq` makes the
 *   clock run faster.
 * - `maxerror`, `esterror`, `precision` and `tick` are µs whatever STA_NANO says.
 * - `time.tv_usec` and `jitter` are ns when STA_NANO is set, µs otherwise (the kernel reuses the field).
 *
 * Hazard: the pure decoder (`decodeTimex`) never throws; a return code or status bit it does not
 * know is kept as a raw number (`state: 'UNKNOWN'`, `statusUnknownBits`), never a guess.
 */
import { createRequire } from 'node:module';
import type * as KoffiModule from 'koffi';
import { TimemeshError } from '../hlc/errors.ts';

/** Typed failure of a kernel clock read. Codes: TM_ERR_KERNEL_CLOCK_{PLATFORM,FFI,SYSCALL}. */
export class KernelClockError extends TimemeshError {
  constructor(code: KernelClockErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
export type KernelClockErrorCode =
  'TM_ERR_KERNEL_CLOCK_PLATFORM' | 'TM_ERR_KERNEL_CLOCK_FFI' | 'TM_ERR_KERNEL_CLOCK_SYSCALL';

/** adjtimex return values (clock state, mostly about leap seconds), <sys/timex.h>. */
export const TIME_STATES = [
  'TIME_OK',
  'TIME_INS',
  'TIME_DEL',
  'TIME_OOP',
  'TIME_WAIT',
  'TIME_ERROR',
] as const;
export type KernelTimeState = (typeof TIME_STATES)[number] | 'UNKNOWN';

/** Status bits (timex.status), <bits/timex.h>, in bit order. */
export const STA_FLAGS = {
  STA_PLL: 0x0001,
  STA_PPSFREQ: 0x0002,
  STA_PPSTIME: 0x0004,
  STA_FLL: 0x0008,
  STA_INS: 0x0010,
  STA_DEL: 0x0020,
  STA_UNSYNC: 0x0040,
  STA_FREQHOLD: 0x0080,
  STA_PPSSIGNAL: 0x0100,
  STA_PPSJITTER: 0x0200,
  STA_PPSWANDER: 0x0400,
  STA_PPSERROR: 0x0800,
  STA_CLOCKERR: 0x1000,
  STA_NANO: 0x2000,
  STA_MODE: 0x4000,
  STA_CLK: 0x8000,
} as const;
export type StaFlag = keyof typeof STA_FLAGS;
const KNOWN_STA_BITS = Object.values(STA_FLAGS).reduce((a, b) => a | b, 0);

/**
 * Byte offsets of `struct timex` on LP64 Linux (glibc bits/timex.h, non-time64 branch). Derivation:
 * `unsigned int modes` at 0 (4 bytes), then 4 bytes of padding because the next member is an 8-byte
 * long; offset 8, freq 16, maxerror 24, esterror 32; `int status` at 40 + 4 padding; constant 48,
 * precision 56, tolerance 64; `struct timeval time` {long tv_sec; long tv_usec} at 72 (16 bytes);
 * tick 88, ppsfreq 96, jitter 104; `int shift` at 112 + 4 padding; stabil 120, jitcnt 128, calcnt 136,
 * errcnt 144, stbcnt 152; `int tai` at 160; then eleven anonymous `int :32` = 44 bytes, 164..207.
 * 208 is a multiple of the struct's 8-byte alignment, so there is no tail padding: sizeof = 208.
 */
export const TIMEX_LAYOUT_LP64 = {
  size: 208,
  offsets: {
    modes: 0,
    offset: 8,
    freq: 16,
    maxerror: 24,
    esterror: 32,
    status: 40,
    constant: 48,
    precision: 56,
    tolerance: 64,
    time: 72,
    tick: 88,
    ppsfreq: 96,
    jitter: 104,
    shift: 112,
    stabil: 120,
    jitcnt: 128,
    calcnt: 136,
    errcnt: 144,
    stbcnt: 152,
    tai: 160,
  },
} as const;

/** The struct as koffi decodes it (all integers fit a JS number; no BigInt). */
export interface RawTimex {
  modes: number;
  offset: number;
  freq: number;
  maxerror: number;
  esterror: number;
  status: number;
  constant: number;
  precision: number;
  tolerance: number;
  time: { tv_sec: number; tv_usec: number };
  tick: number;
  ppsfreq: number;
  jitter: number;
  shift: number;
  stabil: number;
  jitcnt: number;
  calcnt: number;
  errcnt: number;
  stbcnt: number;
  tai: number;
}

/** The kernel clock state, decoded. Units are in the names; see the module header for signs. */
export interface KernelClockSnapshot {
  /** adjtimex's return value by name; 'UNKNOWN' for a value this code does not know (see `returnCode`). */
  state: KernelTimeState;
  returnCode: number;
  /** The kernel's remaining PLL offset, ns (converted from µs unless STA_NANO). */
  offsetNs: number;
  frequencyPpm: number;
  maxErrorUs: number;
  estErrorUs: number;
  /** timex.status as a number, and its known bits by name (bit order). */
  statusRaw: number;
  statusFlags: StaFlag[];
  /** Bits set in status that no STA_* name covers (0 normally). */
  statusUnknownBits: number;
  /** !(status & STA_UNSYNC): what other programs (and ntp_gettime) take as "the clock is synced". */
  synchronized: boolean;
  /** Whether the kernel reports ns (STA_NANO) rather than µs in offset, time and jitter. */
  nanoResolution: boolean;
  /** PLL time constant (log2-ish poll interval; chronyd and ntpd set it). */
  constant: number;
  precisionUs: number;
  tolerancePpm: number;
  tickUs: number;
  /** TAI − UTC in seconds as the kernel knows it (0 if nobody told it). */
  taiOffsetS: number;
  /** The kernel's time at the read, ns since the Unix epoch. */
  timeUnixNs: bigint;
  pps: {
    frequencyPpm: number;
    jitterNs: number;
    shiftS: number;
    stabilityPpm: number;
    jitterCount: number;
    calibrationCount: number;
    errorCount: number;
    stabilityCount: number;
  };
}

const SCALED_PPM = 65536;

/** Pure: decode a raw struct timex and adjtimex's return value. Never throws. */
export function decodeTimex(raw: RawTimex, returnCode: number): KernelClockSnapshot {
  const status = raw.status >>> 0;
  const nano = (status & STA_FLAGS.STA_NANO) !== 0;
  const subsecondNs = nano ? raw.time.tv_usec : raw.time.tv_usec * 1000;
  const statusFlags = (Object.keys(STA_FLAGS) as StaFlag[]).filter(
    (name) => (status & STA_FLAGS[name]) !== 0,
  );
  return {
    state:
      Number.isInteger(returnCode) && returnCode >= 0 && returnCode < TIME_STATES.length
        ? TIME_STATES[returnCode]!
        : 'UNKNOWN',
    returnCode,
    offsetNs: nano ? raw.offset : raw.offset * 1000,
    frequencyPpm: raw.freq / SCALED_PPM,
    maxErrorUs: raw.maxerror,
    estErrorUs: raw.esterror,
    statusRaw: status,
    statusFlags,
    statusUnknownBits: (status & ~KNOWN_STA_BITS) >>> 0,
    synchronized: (status & STA_FLAGS.STA_UNSYNC) === 0,
    nanoResolution: nano,
    constant: raw.constant,
    precisionUs: raw.precision,
    tolerancePpm: raw.tolerance / SCALED_PPM,
    tickUs: raw.tick,
    taiOffsetS: raw.tai,
    timeUnixNs: BigInt(Math.trunc(raw.time.tv_sec)) * 1_000_000_000n + BigInt(Math.trunc(subsecondNs)),
    pps: {
      frequencyPpm: raw.ppsfreq / SCALED_PPM,
      jitterNs: nano ? raw.jitter : raw.jitter * 1000,
      shiftS: raw.shift,
      stabilityPpm: raw.stabil / SCALED_PPM,
      jitterCount: raw.jitcnt,
      calibrationCount: raw.calcnt,
      errorCount: raw.errcnt,
      stabilityCount: raw.stbcnt,
    },
  };
}

// ---- the FFI edge -------------------------------------------------------------------------------

type Koffi = typeof KoffiModule;
interface Binding {
  koffi: Koffi;
  timex: ReturnType<Koffi['struct']>;
  adjtimex: (buf: Buffer) => number;
}
let binding: Binding | null = null;

/** The koffi struct type for LP64 Linux; exported for the layout test. Throws KernelClockError. */
export function timexType(): Binding['timex'] {
  return bind().timex;
}

function bind(): Binding {
  if (binding !== null) return binding;
  if (process.platform !== 'linux') {
    throw new KernelClockError(
      'TM_ERR_KERNEL_CLOCK_PLATFORM',
      `the kernel clock state is read with adjtimex, which only Linux has (this is ${process.platform})`,
    );
  }
  if (process.arch !== 'x64' && process.arch !== 'arm64') {
    throw new KernelClockError(
      'TM_ERR_KERNEL_CLOCK_PLATFORM',
      `the kernel clock reader knows the struct timex layout of x64 and arm64 Linux only (this is ${process.arch})`,
    );
  }
  let koffi: Koffi;
  try {
    // Loaded lazily so that importing this module (the API does) costs nothing until a read.
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (err) {
    throw new KernelClockError(
      'TM_ERR_KERNEL_CLOCK_FFI',
      `cannot load koffi to call adjtimex: ${String(err)}`,
      {
        cause: err,
      },
    );
  }
  // Anonymous padding is spelled out (pad*) so koffi's offsets must equal the C ones; the test checks.
  const timex = koffi.struct('timemesh_timex_lp64', {
    modes: 'uint32_t',
    offset: 'int64_t',
    freq: 'int64_t',
    maxerror: 'int64_t',
    esterror: 'int64_t',
    status: 'int32_t',
    constant: 'int64_t',
    precision: 'int64_t',
    tolerance: 'int64_t',
    time: koffi.struct('timemesh_timeval_lp64', { tv_sec: 'int64_t', tv_usec: 'int64_t' }),
    tick: 'int64_t',
    ppsfreq: 'int64_t',
    jitter: 'int64_t',
    shift: 'int32_t',
    stabil: 'int64_t',
    jitcnt: 'int64_t',
    calcnt: 'int64_t',
    errcnt: 'int64_t',
    stbcnt: 'int64_t',
    tai: 'int32_t',
    reserved: koffi.array('int32_t', 11),
  });
  let adjtimex: Binding['adjtimex'];
  try {
    const libc = koffi.load('libc.so.6');
    // Declared with a void pointer: we pass our own zeroed Buffer, so nothing but zeros is ever encoded.
    adjtimex = libc.func('int adjtimex(void *buf)') as Binding['adjtimex'];
  } catch (err) {
    throw new KernelClockError(
      'TM_ERR_KERNEL_CLOCK_FFI',
      `cannot bind adjtimex from libc.so.6 (glibc is required): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  binding = { koffi, timex, adjtimex };
  return binding;
}

/**
 * Read the kernel clock state: one `adjtimex()` call with modes = 0 (read-only; any user may make
 * it). Throws KernelClockError when the platform has no adjtimex or the call fails.
 */
export function readKernelClock(): KernelClockSnapshot {
  const b = bind();
  const buf = Buffer.alloc(TIMEX_LAYOUT_LP64.size); // zero-filled: modes = 0
  if (b.koffi.sizeof(b.timex) !== buf.length || buf.readUInt32LE(0) !== 0) {
    // Unreachable unless the layout or Buffer.alloc changed; refuse rather than risk a non-zero mode.
    throw new KernelClockError('TM_ERR_KERNEL_CLOCK_FFI', 'struct timex buffer is not a zeroed 208 bytes');
  }
  const rc = b.adjtimex(buf);
  if (rc === -1) {
    const errno = b.koffi.errno();
    throw new KernelClockError('TM_ERR_KERNEL_CLOCK_SYSCALL', `adjtimex (read-only) failed: errno ${errno}`);
  }
  return decodeTimex(b.koffi.decode(buf, b.timex) as RawTimex, rc);
}

/** `readKernelClock` for places that must not fail (GET /v1/status): null on any error. */
export function tryReadKernelClock(): KernelClockSnapshot | null {
  try {
    return readKernelClock();
  } catch {
    return null;
  }
}

// ---- presentation -------------------------------------------------------------------------------

/** JSON form: as the API does, an absolute time is a decimal ns string plus an ISO-8601 twin. */
export type KernelClockJson = Omit<KernelClockSnapshot, 'timeUnixNs'> & {
  timeUnixNs: string;
  timeIso: string;
};

export function kernelClockJson(s: KernelClockSnapshot): KernelClockJson {
  return { ...s, timeUnixNs: s.timeUnixNs.toString(), timeIso: isoNs(s.timeUnixNs) };
}

function isoNs(ns: bigint): string {
  const s = ns / 1_000_000_000n - (ns < 0n && ns % 1_000_000_000n !== 0n ? 1n : 0n);
  const fraction = ns - s * 1_000_000_000n;
  const date = new Date(Number(s) * 1000);
  if (Number.isNaN(date.getTime())) return 'invalid';
  return `${date.toISOString().slice(0, 19)}.${fraction.toString().padStart(9, '0')}Z`;
}

/** A small human table, as `timemesh status --kernel` prints it. */
export function formatKernelClock(s: KernelClockSnapshot): string {
  const offsetUs = (s.offsetNs / 1000).toFixed(3);
  const rows: [string, string][] = [
    ['state', `${s.state} (${s.synchronized ? 'synchronized' : 'unsynchronized: STA_UNSYNC set'})`],
    ['offset', `${offsetUs} µs (remaining PLL correction)`],
    ['frequency', `${s.frequencyPpm.toFixed(3)} ppm`],
    ['max error', `${s.maxErrorUs} µs`],
    ['est error', `${s.estErrorUs} µs`],
    [
      'status',
      `0x${s.statusRaw.toString(16).padStart(4, '0')} ${s.statusFlags.join(' ') || '(none)'}` +
        (s.statusUnknownBits !== 0 ? ` +unknown 0x${s.statusUnknownBits.toString(16)}` : ''),
    ],
    ['time constant', String(s.constant)],
    ['precision', `${s.precisionUs} µs`],
    ['tolerance', `${s.tolerancePpm} ppm`],
    ['tick', `${s.tickUs} µs`],
    ['TAI offset', `${s.taiOffsetS} s`],
    ['kernel time', isoNs(s.timeUnixNs)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return ['kernel clock (adjtimex, read-only)', ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join(
    '\n',
  );
}
