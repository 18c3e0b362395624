/**
 * The node's local reference clocks: a GPS receiver (NMEA over a serial port, `--gps`) and a PPS
 * device (`--pps`), wired to the node's TimeService. The daemon builds them before its API (which
 * reads their state), starts them once the service runs and stops them before it.
 *
 * GPS + PPS, as chrony's `refclock SHM … noselect` + `refclock PPS … lock` do it: a PPS edge has no
 * second label, so each edge is labelled with the GPS receiver's time (its last NMEA sample,
 * extrapolated over at most 10 s) or, without a recent GPS sample, with the node's own time when it
 * is synchronized (any coarse source within ±0.4 s will do; see refclock/ppsSource.ts). While PPS
 * delivers samples, NMEA samples only label the pulses and are not handed to the core: their
 * tens-of-ms bound adds nothing next to a sub-µs one, and an NMEA fudge that is off by more than
 * its 50 ms bound would make the two references disagree, leaving the node no majority. If PPS falls
 * silent for `PPS_HOLDS_NMEA_NS` (10 s), NMEA samples anchor the node again.
 *
 * The PPS device: `/dev/ppsN` through the PPS_FETCH ioctl, falling back to `/sys/class/pps/ppsN/assert`
 * (refclock/ppsDevice.ts). `--pps` may also name a sysfs-style directory holding an `assert` file
 * (`/sys/class/pps/pps0`, or a copy of one a container can see). Kernel edges are CLOCK_REALTIME
 * stamps; they are put on the node's raw timeline by reading the raw oscillator on both sides of a
 * clock_gettime(CLOCK_REALTIME) right after the fetch (`realtimeToLocal`). HAZARD: between the edge
 * and that read (µs with the ioctl, up to the 50 ms poll with sysfs) realtime and the raw
 * oscillator can drift apart by the kernel's frequency correction (at most 500 ppm: 25 µs over
 * 50 ms, a few ns at the few ppm a disciplined host runs at); steps are caught by the driver.
 */
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Registry } from 'prom-client';
import type { ReferenceSample, ServedTime } from './core/types.ts';
import { GpsSerial } from '../refclock/gpsSerial.ts';
import { gpsStatusJson, registerGpsMetrics } from '../refclock/gpsMetrics.ts';
import type { GpsStatusJson } from '../refclock/gpsMetrics.ts';
import { openPpsDevice } from '../refclock/ppsDevice.ts';
import { PpsDriver } from '../refclock/ppsDriver.ts';
import type { RealtimeToLocal } from '../refclock/ppsDriver.ts';
import type { PpsCoarseTime } from '../refclock/ppsSource.ts';
import { ppsStatusJson, registerPpsMetrics } from '../refclock/ppsMetrics.ts';
import type { PpsStatusJson } from '../refclock/ppsMetrics.ts';
import { bracketRead, realtimeNs } from '../refclock/posixClock.ts';

/** How long PPS samples keep NMEA samples from the core after the last one. */
export const PPS_HOLDS_NMEA_NS = 10_000_000_000n;
/** The oldest GPS sample that may label a PPS edge. */
export const GPS_LABEL_AGE_NS_MAX = 10_000_000_000n;
/** Extra error per second of a GPS label's age: an uncorrected oscillator's worst drift. */
const LABEL_AGING_PPM = 500;

export interface LocalRefclocksConfig {
  gps: { path: string; baudRate: number } | null;
  gpsFudgeMs: number;
  pps: string | null;
  ppsFudgeNs: number;
}

/** The parts of the TimeService the refclocks use. */
export interface RefclockHost {
  localNowNs(): bigint;
  serveTime(localNs: bigint): ServedTime;
  addReferenceSample(sample: ReferenceSample): void;
}

export type RefclockLog = (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;

export interface LocalRefclocksStatus {
  gps: GpsStatusJson | null;
  pps: PpsStatusJson | null;
}

export class LocalRefclocks {
  readonly gps: GpsSerial | null;
  private ppsDriver: PpsDriver | null = null;
  private lastPpsSampleLocalNs: bigint | null = null;

  constructor(
    private readonly config: LocalRefclocksConfig,
    private readonly host: RefclockHost,
    private readonly log: RefclockLog,
  ) {
    this.gps =
      config.gps === null
        ? null
        : new GpsSerial({
            path: config.gps.path,
            baudRate: config.gps.baudRate,
            fudgeNs: Math.round(config.gpsFudgeMs * 1e6),
            clock: host,
            sink: (sample) => this.gpsSample(sample),
            onEvent: (event) => {
              // Line outcomes are counted in snapshot(); port events are worth a log line.
              if (event.type === 'open') log('info', 'GPS: port open', { path: event.path });
              else if (event.type === 'open-failed')
                log('warn', 'GPS: cannot open the port, retrying', { path: event.path, error: event.error });
              else if (event.type === 'close')
                log('warn', 'GPS: port closed, reopening', { path: event.path, error: event.error });
            },
          });
  }

  get pps(): PpsDriver | null {
    return this.ppsDriver;
  }

  /**
   * Starts the GPS driver (which retries a missing port in the background) and opens the PPS device.
   * A PPS device that cannot be opened is the operator's mistake: throws its PpsError, which says
   * what to check.
   */
  async start(): Promise<void> {
    if (this.config.pps !== null) {
      const path = this.config.pps;
      const isDir = await stat(path).then(
        (s) => s.isDirectory(),
        () => false,
      );
      const reader = isDir
        ? await openPpsDevice(path, { method: 'sysfs', sysfsRoot: dirname(path) })
        : await openPpsDevice(path);
      this.ppsDriver = new PpsDriver({
        reader,
        source: { fudgeNs: this.config.ppsFudgeNs },
        coarseTime: (localNs) => this.coarseTime(localNs),
        realtimeToLocal: () => this.realtimeToLocal(),
        sink: (sample) => {
          this.lastPpsSampleLocalNs = sample.localNs;
          this.host.addReferenceSample(sample);
        },
        onEvent: (event) => {
          if (event.type === 'error')
            this.log('warn', 'PPS: read failed, retrying', {
              path: event.path,
              error: event.error,
              retryInMs: event.retryInMs,
            });
          else if (event.type === 'mapping-moved')
            this.log('warn', 'PPS: the realtime clock moved under an edge; edge dropped', {
              movedNs: event.movedNs.toString(),
            });
        },
      });
      this.ppsDriver.start();
      this.log('info', 'PPS: reading edges', {
        path,
        method: reader.method,
        fudgeNs: this.config.ppsFudgeNs,
      });
    }
    if (this.gps !== null) {
      this.gps.start();
      this.log('info', 'GPS: reading NMEA', {
        path: this.gps.path,
        baudRate: this.gps.baudRate,
        fudgeMs: this.config.gpsFudgeMs,
      });
    }
  }

  async stop(): Promise<void> {
    await this.gps?.stop();
    await this.ppsDriver?.stop();
  }

  status(): LocalRefclocksStatus {
    const localNs = this.host.localNowNs();
    return {
      gps: this.gps === null ? null : gpsStatusJson(this.gps.snapshot(), localNs),
      pps: this.ppsDriver === null ? null : ppsStatusJson(this.ppsDriver.snapshot(), localNs),
    };
  }

  registerMetrics(registry: Registry): void {
    registerGpsMetrics(registry, this.gps);
    registerPpsMetrics(registry, this.ppsDriver);
  }

  private gpsSample(sample: ReferenceSample): void {
    const lastPps = this.lastPpsSampleLocalNs;
    if (this.config.pps !== null && lastPps !== null && sample.localNs - lastPps < PPS_HOLDS_NMEA_NS) return;
    this.host.addReferenceSample(sample);
  }

  /** The second a PPS edge belongs to: the GPS's time, else the node's own (see the header). */
  private coarseTime(localNs: bigint): PpsCoarseTime | null {
    const last = this.gps?.snapshot().lastSample;
    if (last !== undefined) {
      const ageNs = localNs - last.localNs;
      if (ageNs > -1_000_000_000n && ageNs < GPS_LABEL_AGE_NS_MAX) {
        const agingNs = Math.ceil((Math.abs(Number(ageNs)) * LABEL_AGING_PPM) / 1e6);
        return { utcNs: localNs + BigInt(last.offsetNs), errorNs: last.errorNs + agingNs };
      }
    }
    const served = this.host.serveTime(localNs);
    if (served.status === 'unsynchronized') return null;
    return { utcNs: served.timeNs, errorNs: served.rootDistanceNs };
  }

  /** Three bracketed reads, the tightest kept: one read can be stretched by preemption or a GC pause. */
  private realtimeToLocal(): RealtimeToLocal {
    const b = bracketRead(() => this.host.localNowNs(), realtimeNs, 3);
    return { offsetNs: b.outerNs - b.innerNs, uncertaintyNs: Math.ceil(Number(b.gapNs) / 2) };
  }
}
