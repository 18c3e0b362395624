/**
 * The Linux PPS device, the I/O edge of PPS support (issue #5): reads assert edges from a kernel PPS
 * source (/dev/ppsN, registered by pps-gpio, pps-ldisc, a PTP NIC…) as `PpsEdge`s, either with the
 * RFC 2783 `PPS_FETCH` ioctl through koffi or, as a fallback, by polling sysfs. Pairing the edges with
 * a second and with the node's raw timeline is not done here (ppsSource.ts, ppsDriver.ts).
 *
 * Clocks and units: the kernel stamps each edge with CLOCK_REALTIME at interrupt time; `edgeRealtimeNs`
 * is that timestamp in ns since the Unix epoch, unchanged. `sequence` is the kernel's assert_sequence
 * (u32, +1 per assert edge). A reader returns an edge only when the sequence differs from the last one
 * it returned (or saw when it opened), so an old edge is never returned twice and never at open.
 *
 * ioctl path. `PPS_FETCH` = `_IOWR('p', 0xa4, struct pps_fdata *)`: note the size field is the size
 * of a POINTER (8 on LP64), not of the struct, as the header writes it; the value is 0xc00870a4 on
 * x86-64 and aarch64 (the generic _IOC encoding). The layouts (`PPS_KTIME_LAYOUT` …) are those of
 * /usr/include/linux/pps.h for LP64 with natural alignment; other architectures get a typed error
 * (32-bit x86 aligns __s64 to 4, which is what the kernel's *_compat structs are for).
 * test/refclock/ppsDevice.test.ts checks the layouts and PPS_FETCH against koffi and against the C
 * header. `ioctl` is variadic in libc; koffi cannot make variadic calls asynchronously, so it is bound
 * with the fixed prototype `int ioctl(int, unsigned long, void *)`, which passes its arguments exactly
 * as the variadic call would on x86-64 and aarch64 Linux (integer/pointer arguments in the same
 * registers; the x86-64 %al vector count is only an upper bound).
 *
 * Blocking and errno. Each `fetch(timeoutMs)` first makes a SYNCHRONOUS PPS_FETCH with a zero timeout
 * (the kernel then returns the current state at once, without sleeping): it returns an edge that came
 * since the last fetch, and classifies errors with `koffi.errno()` read right after the call. Only if
 * nothing is new does it make the BLOCKING fetch with the timeout, through koffi's `.async()`, on a
 * worker thread, so the event loop never waits. koffi 3 saves the worker's errno after an async call
 * and restores it on the main thread while the callback runs, so `koffi.errno()` is read inside the
 * callback, first thing (the test checks this on /dev/null, which gives ENOTTY). ETIMEDOUT (no edge
 * within the timeout) and EINTR give null. The kernel converts the timeout to jiffies, rounding down:
 * a timeout below one tick (1–10 ms) does not wait at all.
 *
 * HAZARDS. (1) A blocking fetch cannot be cancelled: `close()` waits for a pending one (at most its
 * timeout) before closing the fd, because closing an fd another thread is using could let the number
 * be reused under it. (2) PPS_FETCH wakes on ANY captured event; a clear edge wakes it with an unchanged
 * assert sequence, which is returned as null. (3) The device must capture assert edges: open() refuses
 * one whose mode lacks PPS_CAPTUREASSERT (set by the driver or device tree; changing it needs
 * PPS_SETPARAMS and CAP_SYS_TIME, which this module never uses). (4) An edge that arrives between the
 * zero-timeout probe and the blocking call is not seen until the next edge supersedes it (PPS_FETCH
 * waits for an event after the call starts, then returns the latest); the pulse-train check handles the
 * resulting 2 s gap. (5) /dev/ppsN is root-only by default (crw------- root root).
 *
 * sysfs path. /sys/class/pps/ppsN/assert reads `<sec>.<nsec, 9 digits>#<sequence>\n`, or nothing when
 * the device does not capture assert edges. It is world-readable, so it serves when /dev/ppsN is absent
 * or not readable. The reader polls it every `pollIntervalMs` (default 50 ms); the timestamp is still
 * the kernel's, so polling delays the edge's delivery, not its time. Content that does not parse is
 * counted (`badContentTotal`) and thrown as a typed error, never a crash.
 */
import { createRequire } from 'node:module';
import { open, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { basename, join } from 'node:path';
import type * as KoffiModule from 'koffi';
import { TimemeshError } from '../hlc/errors.ts';

/** Typed failure of a PPS device. See `PpsErrorCode` for what each code means. */
export class PpsError extends TimemeshError {
  constructor(code: PpsErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
/**
 * NOT_FOUND: no such device; NOT_PPS: the file is not a PPS device (ENOTTY); PERMISSION: cannot open
 * it; MODE: the device does not capture assert edges; FFI: koffi or libc unavailable; PLATFORM: not
 * LP64 Linux; IO: any other failure of a fetch (the device went away: ENODEV); SYSFS_FORMAT: sysfs
 * content that does not parse; USAGE: a fetch after close, or two fetches at once (a bug).
 */
export type PpsErrorCode =
  | 'TM_ERR_PPS_NOT_FOUND'
  | 'TM_ERR_PPS_NOT_PPS'
  | 'TM_ERR_PPS_PERMISSION'
  | 'TM_ERR_PPS_MODE'
  | 'TM_ERR_PPS_FFI'
  | 'TM_ERR_PPS_PLATFORM'
  | 'TM_ERR_PPS_IO'
  | 'TM_ERR_PPS_SYSFS_FORMAT'
  | 'TM_ERR_PPS_USAGE';

/** An assert edge: the kernel's CLOCK_REALTIME timestamp of the pulse, and its sequence number. */
export interface PpsEdge {
  sequence: number;
  edgeRealtimeNs: bigint;
}

export interface PpsEdgeReader {
  readonly path: string;
  readonly method: 'ioctl' | 'sysfs';
  /** The next new assert edge, or null when none came within `timeoutMs`. Throws PpsError. */
  fetch(timeoutMs: number): Promise<PpsEdge | null>;
  /** Releases the device; waits for a pending fetch (at most its timeout). Idempotent. */
  close(): Promise<void>;
}

// ---- layouts and constants (linux/pps.h, LP64) ---------------------------------------------------

/** `struct pps_ktime { __s64 sec; __s32 nsec; __u32 flags; }`: 8 + 4 + 4, 8-aligned, no padding. */
export const PPS_KTIME_LAYOUT = { size: 16, align: 8, offsets: { sec: 0, nsec: 8, flags: 12 } } as const;
/**
 * `struct pps_kinfo`: two __u32 sequences (0, 4), assert_tu at 8 and clear_tu at 24 (16 each),
 * `int current_mode` at 40; 44 bytes rounded up to the 8-byte alignment of pps_ktime: 48.
 */
export const PPS_KINFO_LAYOUT = {
  size: 48,
  align: 8,
  offsets: { assert_sequence: 0, clear_sequence: 4, assert_tu: 8, clear_tu: 24, current_mode: 40 },
} as const;
/** `struct pps_fdata { struct pps_kinfo info; struct pps_ktime timeout; }`: 48 + 16 = 64. */
export const PPS_FDATA_LAYOUT = { size: 64, align: 8, offsets: { info: 0, timeout: 48 } } as const;

/** Linux's generic _IOC encoding: dir in bits 30–31, size in 16–29, type in 8–15, number in 0–7. */
export function iocNumber(dir: number, type: string, nr: number, size: number): number {
  return ((dir << 30) >>> 0) + (size << 16) + (type.charCodeAt(0) << 8) + nr;
}
const IOC_WRITE = 1;
const IOC_READ = 2;
const POINTER_SIZE_LP64 = 8;
/** `_IOWR('p', 0xa4, struct pps_fdata *)` = 0xc00870a4 (size field = sizeof(a pointer) = 8). */
export const PPS_FETCH = iocNumber(IOC_READ | IOC_WRITE, 'p', 0xa4, POINTER_SIZE_LP64);
/** pps_kinfo.current_mode bit: the device captures assert edges. */
export const PPS_CAPTUREASSERT = 0x01;
/** pps_ktime.flags bit meaning "no timeout" (wait forever); never set by this module. */
export const PPS_TIME_INVALID = 0x01;

export const PPS_SYSFS_ROOT_DEFAULT = '/sys/class/pps';
export const PPS_SYSFS_POLL_INTERVAL_MS_DEFAULT = 50;

// ---- the pure sysfs parser -----------------------------------------------------------------------

export type PpsSysfsParseResult =
  | { ok: true; edge: PpsEdge }
  | {
      ok: false;
      reason: 'empty' | 'malformed' | 'negative' | 'nsec-out-of-range' | 'out-of-range';
      message: string;
    };

/** Upper bound on `sec` accepted from sysfs (year ~33658): beyond it the content is garbage. */
const SYSFS_SEC_MAX = 999_999_999_999n;
const U32_MAX = 0xffff_ffff;
const SYSFS_MAX_LENGTH = 64;

/**
 * Pure: parse the content of /sys/class/pps/ppsN/assert, `<sec>.<nsec>#<sequence>` with exactly nine
 * nsec digits and an optional trailing newline (the kernel's `%lld.%09d#%d\n`). Never throws.
 */
export function parsePpsSysfsAssert(text: string): PpsSysfsParseResult {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (body.length === 0)
    return { ok: false, reason: 'empty', message: 'empty: the device does not capture assert edges' };
  const shown = JSON.stringify(body.length > SYSFS_MAX_LENGTH ? `${body.slice(0, SYSFS_MAX_LENGTH)}…` : body);
  if (body.length > SYSFS_MAX_LENGTH)
    return { ok: false, reason: 'out-of-range', message: `too long to be a PPS timestamp: ${shown}` };
  const m = /^(-?)(\d+)\.(-?)(\d+)#(-?)(\d+)$/.exec(body);
  if (m === null)
    return { ok: false, reason: 'malformed', message: `expected <sec>.<nsec>#<sequence>, got ${shown}` };
  const [, secSign, secText, nsecSign, nsecText, seqSign, seqText] = m as unknown as string[];
  if (secSign !== '' || nsecSign !== '' || seqSign !== '')
    return { ok: false, reason: 'negative', message: `negative field in ${shown}` };
  const sec = BigInt(secText!);
  const nsec = BigInt(nsecText!);
  const sequence = BigInt(seqText!);
  if (nsec >= 1_000_000_000n)
    return { ok: false, reason: 'nsec-out-of-range', message: `nsec ≥ 10^9 in ${shown}` };
  if (nsecText!.length !== 9)
    return { ok: false, reason: 'malformed', message: `nsec must have exactly 9 digits in ${shown}` };
  if (sec > SYSFS_SEC_MAX || sequence > BigInt(U32_MAX))
    return { ok: false, reason: 'out-of-range', message: `sec or sequence out of range in ${shown}` };
  return { ok: true, edge: { sequence: Number(sequence), edgeRealtimeNs: sec * 1_000_000_000n + nsec } };
}

// ---- the FFI binding -----------------------------------------------------------------------------

type Koffi = typeof KoffiModule;
type KoffiType = ReturnType<Koffi['struct']>;
type IoctlFn = ((fd: number, request: number, arg: Buffer) => number) & {
  async: (fd: number, request: number, arg: Buffer, cb: (err: unknown, rc: number) => void) => void;
};
interface Binding {
  koffi: Koffi;
  ktime: KoffiType;
  kinfo: KoffiType;
  fdata: KoffiType;
  ioctl: IoctlFn;
}
let binding: Binding | null = null;

/** The koffi struct types, for the layout test. Throws PpsError (platform, FFI). */
export function ppsTypes(): { ktime: KoffiType; kinfo: KoffiType; fdata: KoffiType } {
  const b = bind();
  return { ktime: b.ktime, kinfo: b.kinfo, fdata: b.fdata };
}

function bind(): Binding {
  if (binding !== null) return binding;
  if (process.platform !== 'linux')
    throw new PpsError(
      'TM_ERR_PPS_PLATFORM',
      `PPS devices (/dev/ppsN, the PPS_FETCH ioctl) exist on Linux only (this is ${process.platform})`,
    );
  if (process.arch !== 'x64' && process.arch !== 'arm64')
    throw new PpsError(
      'TM_ERR_PPS_PLATFORM',
      `the PPS reader knows the struct pps_fdata layout of x64 and arm64 Linux only (this is ${process.arch}); ` +
        `use the sysfs method (/sys/class/pps) instead`,
    );
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (err) {
    throw new PpsError('TM_ERR_PPS_FFI', `cannot load koffi to call the PPS_FETCH ioctl: ${String(err)}`, {
      cause: err,
    });
  }
  const ktime = koffi.struct('timemesh_pps_ktime', { sec: 'int64_t', nsec: 'int32_t', flags: 'uint32_t' });
  const kinfo = koffi.struct('timemesh_pps_kinfo', {
    assert_sequence: 'uint32_t',
    clear_sequence: 'uint32_t',
    assert_tu: ktime,
    clear_tu: ktime,
    current_mode: 'int32_t',
  });
  const fdata = koffi.struct('timemesh_pps_fdata', { info: kinfo, timeout: ktime });
  let ioctl: IoctlFn;
  try {
    const libc = koffi.load('libc.so.6');
    // Fixed prototype instead of the variadic one: see the module header (koffi has no async variadic).
    ioctl = libc.func('int ioctl(int fd, unsigned long request, void *arg)') as unknown as IoctlFn;
  } catch (err) {
    throw new PpsError(
      'TM_ERR_PPS_FFI',
      `cannot bind ioctl from libc.so.6 (glibc is required): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  binding = { koffi, ktime, kinfo, fdata, ioctl };
  return binding;
}

const ERRNO = osConstants.errno;
function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(ERRNO)) if (value === errno) return name;
  return `errno ${errno}`;
}

function notFoundMessage(path: string): string {
  return `no PPS device at ${path}: is the pps-gpio/pps-ldisc module loaded and the device configured? (ls /dev/pps*)`;
}
function permissionMessage(path: string): string {
  return (
    `permission denied opening ${path}: PPS devices are root-only by default; run timemesh as root, or ` +
    `give its user read access with a udev rule (KERNEL=="pps[0-9]*", GROUP="timemesh", MODE="0640")`
  );
}

/** A PPS_FETCH buffer with the timeout set (flags 0: a real timeout, never "wait forever"). */
function fetchBuffer(b: Binding, timeoutMs: number): Buffer {
  const buf = Buffer.alloc(PPS_FDATA_LAYOUT.size);
  const totalNs = Math.round(timeoutMs * 1e6);
  const sec = Math.floor(totalNs / 1e9);
  b.koffi.encode(buf, PPS_FDATA_LAYOUT.offsets.timeout, b.ktime, {
    sec,
    nsec: totalNs - sec * 1e9,
    flags: 0,
  });
  return buf;
}

interface RawKtime {
  sec: number | bigint;
  nsec: number;
  flags: number;
}
interface RawFdata {
  info: {
    assert_sequence: number;
    clear_sequence: number;
    assert_tu: RawKtime;
    clear_tu: RawKtime;
    current_mode: number;
  };
  timeout: RawKtime;
}

/** One PPS_FETCH: the return code, errno (meaningful when rc is −1) and the decoded kinfo (when 0). */
export interface PpsFetchRaw {
  rc: number;
  errno: number;
  assertSequence: number;
  /** assert_tu as ns since the epoch; null when rc is −1 or nsec is outside [0, 10^9). */
  assertRealtimeNs: bigint | null;
  currentMode: number;
}

function decodeFetch(b: Binding, buf: Buffer, rc: number, errno: number): PpsFetchRaw {
  if (rc === -1) return { rc, errno, assertSequence: 0, assertRealtimeNs: null, currentMode: 0 };
  const raw = b.koffi.decode(buf, b.fdata) as RawFdata;
  const { sec, nsec } = raw.info.assert_tu;
  const valid = Number.isInteger(nsec) && nsec >= 0 && nsec < 1e9;
  return {
    rc,
    errno: 0,
    assertSequence: raw.info.assert_sequence >>> 0,
    assertRealtimeNs: valid ? BigInt(sec) * 1_000_000_000n + BigInt(nsec) : null,
    currentMode: raw.info.current_mode,
  };
}

/**
 * The low-level PPS_FETCH on an open fd, exported for the tests. 'sync' runs on the calling thread
 * (use it only with timeoutMs 0, which never sleeps); 'async' runs on a koffi worker thread and may
 * block up to timeoutMs there. errno is read with koffi.errno() right after the call (sync) or first
 * thing in koffi's callback, where koffi has restored the worker's errno (async). Throws PpsError only
 * when koffi itself fails (platform, FFI); a failing ioctl is a value (rc −1, errno).
 */
export function ppsFetchRaw(fd: number, timeoutMs: number, how: 'sync' | 'async'): Promise<PpsFetchRaw> {
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new RangeError('timeoutMs must be ≥ 0');
  const b = bind();
  const buf = fetchBuffer(b, timeoutMs);
  if (how === 'sync') {
    const rc = b.ioctl(fd, PPS_FETCH, buf);
    return Promise.resolve(decodeFetch(b, buf, rc, rc === -1 ? b.koffi.errno() : 0));
  }
  return new Promise<PpsFetchRaw>((resolve, reject) => {
    try {
      b.ioctl.async(fd, PPS_FETCH, buf, (err, rc) => {
        const errno = b.koffi.errno(); // first thing: koffi restores the worker's errno only here
        if (err !== null && err !== undefined)
          reject(
            new PpsError('TM_ERR_PPS_FFI', `PPS_FETCH could not be called: ${String(err)}`, { cause: err }),
          );
        else resolve(decodeFetch(b, buf, rc, errno));
      });
    } catch (err) {
      reject(new PpsError('TM_ERR_PPS_FFI', `PPS_FETCH could not be called: ${String(err)}`, { cause: err }));
    }
  });
}

class IoctlPpsReader implements PpsEdgeReader {
  readonly method = 'ioctl' as const;
  private closed = false;
  private pending: Promise<unknown> | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private lastSequence: number,
    /** pps_kinfo.current_mode as read at open. */
    readonly currentMode: number,
  ) {}

  static async open(path: string): Promise<IoctlPpsReader> {
    bind(); // platform and FFI errors first, before touching the file
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT')
        throw new PpsError('TM_ERR_PPS_NOT_FOUND', notFoundMessage(path), { cause: err });
      if (code === 'EACCES' || code === 'EPERM')
        throw new PpsError('TM_ERR_PPS_PERMISSION', permissionMessage(path), { cause: err });
      throw new PpsError('TM_ERR_PPS_IO', `cannot open ${path}: ${String(err)}`, { cause: err });
    }
    try {
      const probe = await ppsFetchRaw(handle.fd, 0, 'sync');
      if (probe.rc === -1) throw classify(path, probe.errno);
      if ((probe.currentMode & PPS_CAPTUREASSERT) === 0)
        throw new PpsError(
          'TM_ERR_PPS_MODE',
          `${path} does not capture assert edges (current_mode 0x${(probe.currentMode >>> 0).toString(16)}): ` +
            `configure the PPS source for assert capture (device tree, or ppsctl -a as root)`,
        );
      return new IoctlPpsReader(path, handle, probe.assertSequence, probe.currentMode);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async fetch(timeoutMs: number): Promise<PpsEdge | null> {
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new RangeError('timeoutMs must be ≥ 0');
    if (this.closed) throw new PpsError('TM_ERR_PPS_USAGE', `fetch on ${this.path} after close`);
    if (this.pending !== null) throw new PpsError('TM_ERR_PPS_USAGE', `two fetches at once on ${this.path}`);
    // The synchronous probe: never sleeps (zero timeout), and errno is reliable right after it.
    const probe = await ppsFetchRaw(this.handle.fd, 0, 'sync');
    if (probe.rc === -1) throw classify(this.path, probe.errno);
    const now = this.edgeIfNew(probe);
    if (now !== null || timeoutMs === 0 || this.closed) return now;

    const call = ppsFetchRaw(this.handle.fd, timeoutMs, 'async');
    this.pending = call;
    let result: PpsFetchRaw;
    try {
      result = await call;
    } finally {
      this.pending = null;
    }
    if (result.rc === -1) {
      if (result.errno === ERRNO.ETIMEDOUT || result.errno === ERRNO.EINTR) return null;
      throw classify(this.path, result.errno);
    }
    return this.edgeIfNew(result);
  }

  close(): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      // Never close the fd under a running ioctl: wait for it (at most its timeout).
      await this.pending?.catch(() => {});
      await this.handle.close();
    })();
    return this.closing;
  }

  private edgeIfNew(raw: PpsFetchRaw): PpsEdge | null {
    if (raw.assertSequence === this.lastSequence) return null;
    if (raw.assertRealtimeNs === null)
      throw new PpsError('TM_ERR_PPS_IO', `${this.path} returned an invalid assert timestamp`);
    this.lastSequence = raw.assertSequence;
    return { sequence: raw.assertSequence, edgeRealtimeNs: raw.assertRealtimeNs };
  }
}

function classify(path: string, errno: number): PpsError {
  if (errno === ERRNO.ENOTTY)
    return new PpsError(
      'TM_ERR_PPS_NOT_PPS',
      `${path} is not a PPS device (PPS_FETCH ioctl: ${errnoName(errno)})`,
    );
  if (errno === ERRNO.EACCES || errno === ERRNO.EPERM)
    return new PpsError('TM_ERR_PPS_PERMISSION', permissionMessage(path));
  if (errno === ERRNO.ENODEV || errno === ERRNO.ENXIO)
    return new PpsError(
      'TM_ERR_PPS_IO',
      `${path} went away (PPS_FETCH ioctl: ${errnoName(errno)}): the PPS source was unregistered; check the receiver and its module`,
    );
  return new PpsError('TM_ERR_PPS_IO', `PPS_FETCH on ${path} failed: ${errnoName(errno)}`);
}

// ---- the sysfs reader ----------------------------------------------------------------------------

export interface PpsSysfsOptions {
  /** Default /sys/class/pps; tests point it at a temp dir that imitates it. */
  sysfsRoot?: string;
  /** Default 50 ms. */
  pollIntervalMs?: number;
}

/** Polls /sys/class/pps/<name>/assert. `badContentTotal` counts reads that did not parse. */
export class SysfsPpsReader implements PpsEdgeReader {
  readonly method = 'sysfs' as const;
  readonly assertPath: string;
  readonly pollIntervalMs: number;
  badContentTotal = 0;
  private lastSequence: number | undefined;
  private closed = false;
  private wake: (() => void) | null = null;
  private busy = false;

  constructor(
    readonly path: string,
    options: PpsSysfsOptions = {},
  ) {
    this.assertPath = join(options.sysfsRoot ?? PPS_SYSFS_ROOT_DEFAULT, basename(path), 'assert');
    this.pollIntervalMs = options.pollIntervalMs ?? PPS_SYSFS_POLL_INTERVAL_MS_DEFAULT;
    if (!Number.isFinite(this.pollIntervalMs) || this.pollIntervalMs <= 0)
      throw new RangeError('pollIntervalMs must be > 0');
  }

  /** Reads the current edge as the baseline (never returned). Throws PpsError. */
  async open(): Promise<this> {
    this.lastSequence = (await this.read()).sequence;
    return this;
  }

  async fetch(timeoutMs: number): Promise<PpsEdge | null> {
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new RangeError('timeoutMs must be ≥ 0');
    if (this.closed) throw new PpsError('TM_ERR_PPS_USAGE', `fetch on ${this.path} after close`);
    if (this.busy) throw new PpsError('TM_ERR_PPS_USAGE', `two fetches at once on ${this.path}`);
    this.busy = true;
    try {
      const deadlineMs = performance.now() + timeoutMs;
      for (;;) {
        const edge = await this.read();
        if (edge.sequence !== this.lastSequence) {
          this.lastSequence = edge.sequence;
          return edge;
        }
        const leftMs = deadlineMs - performance.now();
        if (this.closed || leftMs <= 0) return null;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(this.pollIntervalMs, leftMs));
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
        if (this.closed) return null;
      }
    } finally {
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
  }

  private async read(): Promise<PpsEdge> {
    let text: string;
    try {
      text = await readFile(this.assertPath, 'latin1');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR')
        throw new PpsError('TM_ERR_PPS_NOT_FOUND', notFoundMessage(this.path) + ` (no ${this.assertPath})`, {
          cause: err,
        });
      if (code === 'EACCES' || code === 'EPERM')
        throw new PpsError('TM_ERR_PPS_PERMISSION', `permission denied reading ${this.assertPath}`, {
          cause: err,
        });
      throw new PpsError('TM_ERR_PPS_IO', `cannot read ${this.assertPath}: ${String(err)}`, { cause: err });
    }
    const parsed = parsePpsSysfsAssert(text);
    if (parsed.ok) return parsed.edge;
    if (parsed.reason === 'empty')
      throw new PpsError(
        'TM_ERR_PPS_MODE',
        `${this.path} does not capture assert edges (${this.assertPath} is empty): ` +
          `configure the PPS source for assert capture (device tree, or ppsctl -a as root)`,
      );
    this.badContentTotal++;
    throw new PpsError('TM_ERR_PPS_SYSFS_FORMAT', `${this.assertPath}: ${parsed.message}`);
  }
}

// ---- opening -------------------------------------------------------------------------------------

export interface OpenPpsOptions extends PpsSysfsOptions {
  /**
   * 'auto' (default): the ioctl, falling back to sysfs when the device node is missing or not readable
   * but /sys/class/pps/<name>/assert exists. 'ioctl' or 'sysfs': that method only.
   */
  method?: 'auto' | 'ioctl' | 'sysfs';
}

/**
 * Opens a PPS device (e.g. /dev/pps0) and reads its current edge as the baseline, so the first fetch
 * returns the first NEW edge. Throws PpsError with a message that says what to do.
 */
export async function openPpsDevice(path: string, options: OpenPpsOptions = {}): Promise<PpsEdgeReader> {
  const method = options.method ?? 'auto';
  if (method === 'sysfs') return new SysfsPpsReader(path, options).open();
  try {
    return await IoctlPpsReader.open(path);
  } catch (err) {
    const fallback =
      method === 'auto' &&
      err instanceof PpsError &&
      (err.code === 'TM_ERR_PPS_NOT_FOUND' || err.code === 'TM_ERR_PPS_PERMISSION');
    if (!fallback) throw err;
    const sysfs = new SysfsPpsReader(path, options);
    try {
      await readFile(sysfs.assertPath, 'latin1');
    } catch {
      throw err; // no sysfs twin either: the ioctl's error says it best
    }
    return sysfs.open();
  }
}
