/**
 * Prometheus metrics and the /v1/status section of the PPS driver (refclock/ppsDriver.ts), read from
 * its snapshot at scrape or request time like the GPS metrics (refclock/gpsMetrics.ts).
 *
 *   timemesh_pps_edges_total{device,outcome}    sample, dropped_<reason> (every edge fetched is one)
 *   timemesh_pps_fetch_timeouts_total{device}   fetches with no edge within the timeout: the outage counter
 *   timemesh_pps_errors_total{device,kind}      reader, callback, sink, mapping_moved
 *   timemesh_pps_last_offset_seconds{device}    the last sample's offset (reference − raw local)
 */
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { PpsDriver, PpsDriverSnapshot } from './ppsDriver.ts';
import type { PpsDropReason } from './ppsSource.ts';

export function registerPpsMetrics(registry: Registry, pps: PpsDriver | null): void {
  if (pps === null) return;
  new Counter({
    name: 'timemesh_pps_edges_total',
    help: 'PPS assert edges by outcome: sample (delivered to the node) or dropped_<reason>.',
    labelNames: ['device', 'outcome'],
    registers: [registry],
    collect(this: Counter) {
      this.reset();
      const s = pps.snapshot();
      this.inc({ device: s.path, outcome: 'sample' }, s.samplesTotal);
      for (const [reason, n] of Object.entries(s.drops))
        this.inc({ device: s.path, outcome: `dropped_${reason}` }, n);
    },
  });
  new Counter({
    name: 'timemesh_pps_fetch_timeouts_total',
    help: 'PPS fetches that saw no edge within their timeout (a missing pulse, or an outage).',
    labelNames: ['device'],
    registers: [registry],
    collect(this: Counter) {
      this.reset();
      const s = pps.snapshot();
      this.inc({ device: s.path }, s.noEdgeTotal);
    },
  });
  new Counter({
    name: 'timemesh_pps_errors_total',
    help: 'PPS driver errors by kind: reader (device), callback, sink, mapping_moved (realtime stepped under an edge).',
    labelNames: ['device', 'kind'],
    registers: [registry],
    collect(this: Counter) {
      this.reset();
      const s = pps.snapshot();
      this.inc({ device: s.path, kind: 'reader' }, s.readerErrorsTotal);
      this.inc({ device: s.path, kind: 'callback' }, s.callbackErrorsTotal);
      this.inc({ device: s.path, kind: 'sink' }, s.sinkErrorsTotal);
      this.inc({ device: s.path, kind: 'mapping_moved' }, s.mappingMovedTotal);
    },
  });
  new Gauge({
    name: 'timemesh_pps_last_offset_seconds',
    help: "The last PPS sample's offset: reference time minus the node's raw local oscillator.",
    labelNames: ['device'],
    registers: [registry],
    collect(this: Gauge) {
      this.reset();
      const s = pps.snapshot();
      if (s.lastSample !== undefined) this.set({ device: s.path }, s.lastSample.offsetNs / 1e9);
    },
  });
}

/** The PPS section of GET /v1/status. */
export interface PpsStatusJson {
  device: string;
  method: 'ioctl' | 'sysfs';
  running: boolean;
  fudgeNs: number;
  errorNs: number;
  edgesTotal: number;
  samplesTotal: number;
  drops: Record<PpsDropReason, number>;
  fetchTimeoutsTotal: number;
  readerErrorsTotal: number;
  mappingMovedTotal: number;
  lastError: string | null;
  /** The last sample: offset (reference − raw local), its bound, its UTC second (ISO), how long ago. */
  lastSample: { offsetNs: number; errorNs: number; second: string | null; agoS: number } | null;
}

export function ppsStatusJson(s: PpsDriverSnapshot, localNowNs: bigint): PpsStatusJson {
  const last = s.lastSample;
  const second =
    s.lastSecondUtcNs === undefined ? null : new Date(Number(s.lastSecondUtcNs / 1_000_000n)).toISOString();
  return {
    device: s.path,
    method: s.method,
    running: s.running,
    fudgeNs: s.fudgeNs,
    errorNs: s.errorNs,
    edgesTotal: s.edgesTotal,
    samplesTotal: s.samplesTotal,
    drops: { ...s.drops },
    fetchTimeoutsTotal: s.noEdgeTotal,
    readerErrorsTotal: s.readerErrorsTotal,
    mappingMovedTotal: s.mappingMovedTotal,
    lastError: s.lastError ?? null,
    lastSample:
      last === undefined
        ? null
        : {
            offsetNs: last.offsetNs,
            errorNs: last.errorNs,
            second,
            agoS: Math.max(0, Number(localNowNs - last.localNs) / 1e9),
          },
  };
}
