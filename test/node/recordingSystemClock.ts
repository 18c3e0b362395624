/**
 * A simulated kernel clock for tests (never the real one): a SystemClockControl that records every
 * adjust/step call and keeps a fake CLOCK_REALTIME (a steps applies to it) and a fake timex state
 * (status, frequency, offset, maxerror, esterror, constant) that adjust() updates as the kernel would.
 * `failWith` makes adjust/step throw (e.g. an EPERM SystemClockError) to test error handling.
 */
import { decodeTimex } from '../../refclock/kernelClock.ts';
import type { KernelClockSnapshot, RawTimex } from '../../refclock/kernelClock.ts';
import {
  KERNEL_MAX_FREQUENCY_PPM,
  KERNEL_MAX_PHASE_NS,
  STA_READ_ONLY_BITS,
  SystemClockError,
} from '../../refclock/systemClock.ts';
import type { KernelAdjustment, SystemClockControl } from '../../refclock/systemClock.ts';

export type RecordedCall = { op: 'adjust'; adjustment: KernelAdjustment } | { op: 'step'; deltaNs: bigint };

const STA_UNSYNC = 0x0040;
const STA_NANO = 0x2000;

export class RecordingSystemClock implements SystemClockControl {
  readonly calls: RecordedCall[] = [];
  reads = 0;
  /** Fake CLOCK_REALTIME: `trueNs()` − errorNs; a step changes errorNs. */
  errorNs: bigint;
  failWith: (() => Error) | null = null;
  private readonly trueNs: () => bigint;
  private timex: RawTimex = {
    modes: 0,
    offset: 0,
    freq: 0,
    maxerror: 16_000_000,
    esterror: 16_000_000,
    status: STA_UNSYNC,
    constant: 2,
    precision: 1,
    tolerance: 500 * 65536,
    time: { tv_sec: 0, tv_usec: 0 },
    tick: 10_000,
    ppsfreq: 0,
    jitter: 0,
    shift: 0,
    stabil: 0,
    jitcnt: 0,
    calcnt: 0,
    errcnt: 0,
    stbcnt: 0,
    tai: 0,
  };

  /** `trueNs`: true time now; the system clock starts `systemBehindNs` behind it. */
  constructor(trueNs: () => bigint, systemBehindNs: bigint) {
    this.trueNs = trueNs;
    this.errorNs = systemBehindNs;
  }

  static eperm(): SystemClockError {
    return new SystemClockError(
      'TM_ERR_SYSTEM_CLOCK_PERMISSION',
      'adjtimex failed with EPERM: changing the system clock needs root or CAP_SYS_TIME',
    );
  }

  realtimeNs(): bigint {
    return this.trueNs() - this.errorNs;
  }

  read(): KernelClockSnapshot {
    this.reads++;
    return this.snapshot();
  }

  adjust(a: KernelAdjustment): KernelClockSnapshot {
    this.calls.push({ op: 'adjust', adjustment: structuredClone(a) });
    if (this.failWith !== null) throw this.failWith();
    const t = this.timex;
    if (a.status !== undefined) {
      t.status = ((t.status & ~a.status.clear) | a.status.set) & ~STA_READ_ONLY_BITS;
    }
    if (a.offsetNs !== undefined) {
      t.status |= STA_NANO;
      t.offset = Math.max(-KERNEL_MAX_PHASE_NS, Math.min(KERNEL_MAX_PHASE_NS, Math.round(a.offsetNs)));
    }
    if (a.frequencyPpm !== undefined) {
      const ppm = Math.max(-KERNEL_MAX_FREQUENCY_PPM, Math.min(KERNEL_MAX_FREQUENCY_PPM, a.frequencyPpm));
      t.freq = Math.round(ppm * 65536);
    }
    if (a.maxErrorUs !== undefined) t.maxerror = Math.ceil(a.maxErrorUs);
    if (a.estErrorUs !== undefined) t.esterror = Math.ceil(a.estErrorUs);
    if (a.timeConstant !== undefined) t.constant = a.timeConstant;
    return this.snapshot();
  }

  step(deltaNs: bigint): void {
    this.calls.push({ op: 'step', deltaNs });
    if (this.failWith !== null) throw this.failWith();
    this.errorNs -= deltaNs;
  }

  private snapshot(): KernelClockSnapshot {
    const now = this.realtimeNs();
    return decodeTimex(
      {
        ...this.timex,
        time: { tv_sec: Number(now / 1_000_000_000n), tv_usec: Number(now % 1_000_000_000n) },
        status: this.timex.status | STA_NANO,
      },
      (this.timex.status & STA_UNSYNC) !== 0 ? 5 : 0,
    );
  }
}
