/**
 * Prometheus metrics and the /v1/status section of the GPS driver (refclock/gpsSerial.ts), read from
 * its snapshot at scrape or request time like the NTP and TSQ metrics (refclock/ntpMetrics.ts).
 *
 *   timemesh_gps_lines_total{device,outcome}       sample, dropped_<reason> (every line read is one)
 *   timemesh_gps_sentences_total{device,type}      valid RMC/GGA/ZDA sentences (duplicates included)
 *   timemesh_gps_port_open{device}                 1 while the serial port is open
 *   timemesh_gps_port_opens_total{device}          successful opens (a reconnect adds one)
 *   timemesh_gps_last_offset_seconds{device}       the last sample's offset (reference − raw local)
 *
 * The lines counter always carries every reason (zeros included), so a dashboard's rate() has a
 * series before the first bad line arrives.
 */
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { GpsSerial, GpsSerialSnapshot } from './gpsSerial.ts';
import type { GpsDropReason } from './gpsSource.ts';

export function registerGpsMetrics(registry: Registry, gps: GpsSerial | null): void {
  if (gps === null) return;
  new Counter({
    name: 'timemesh_gps_lines_total',
    help: 'Lines read from the GPS receiver by outcome: sample (delivered to the node) or dropped_<reason>.',
    labelNames: ['device', 'outcome'],
    registers: [registry],
    collect(this: Counter) {
      this.reset();
      const s = gps.snapshot();
      this.inc({ device: s.path, outcome: 'sample' }, s.samplesTotal);
      for (const [reason, n] of Object.entries(s.drops))
        this.inc({ device: s.path, outcome: `dropped_${reason}` }, n);
    },
  });
  new Counter({
    name: 'timemesh_gps_sentences_total',
    help: 'Valid NMEA sentences from the GPS receiver by type (those dropped as a second already sampled included).',
    labelNames: ['device', 'type'],
    registers: [registry],
    collect(this: Counter) {
      this.reset();
      const s = gps.snapshot();
      for (const [type, n] of Object.entries(s.sentencesByType)) this.inc({ device: s.path, type }, n);
    },
  });
  new Gauge({
    name: 'timemesh_gps_port_open',
    help: 'Whether the GPS serial port is open (1) or being reopened (0).',
    labelNames: ['device'],
    registers: [registry],
    collect(this: Gauge) {
      const s = gps.snapshot();
      this.set({ device: s.path }, s.open ? 1 : 0);
    },
  });
  new Counter({
    name: 'timemesh_gps_port_opens_total',
    help: 'Successful opens of the GPS serial port; more than one means it was reopened.',
    labelNames: ['device'],
    registers: [registry],
    collect(this: Counter) {
      this.reset();
      const s = gps.snapshot();
      this.inc({ device: s.path }, s.opensTotal);
    },
  });
  new Gauge({
    name: 'timemesh_gps_last_offset_seconds',
    help: "The last GPS sample's offset: reference time minus the node's raw local oscillator.",
    labelNames: ['device'],
    registers: [registry],
    collect(this: Gauge) {
      this.reset();
      const s = gps.snapshot();
      if (s.lastSample !== undefined) this.set({ device: s.path }, s.lastSample.offsetNs / 1e9);
    },
  });
}

/** The GPS section of GET /v1/status. */
export interface GpsStatusJson {
  device: string;
  baudRate: number;
  open: boolean;
  opensTotal: number;
  closesTotal: number;
  fudgeNs: number;
  errorNs: number;
  linesTotal: number;
  samplesTotal: number;
  sentencesByType: GpsSerialSnapshot['sentencesByType'];
  drops: Record<GpsDropReason, number>;
  /** The last sample: offset (reference − raw local) and its bound, and how long ago, s. */
  lastSample: { offsetNs: number; errorNs: number; agoS: number } | null;
}

export function gpsStatusJson(s: GpsSerialSnapshot, localNowNs: bigint): GpsStatusJson {
  const last = s.lastSample;
  return {
    device: s.path,
    baudRate: s.baudRate,
    open: s.open,
    opensTotal: s.opensTotal,
    closesTotal: s.closesTotal,
    fudgeNs: s.fudgeNs,
    errorNs: s.errorNs,
    linesTotal: s.linesTotal,
    samplesTotal: s.samplesTotal,
    sentencesByType: { ...s.sentencesByType },
    drops: { ...s.drops },
    lastSample:
      last === undefined
        ? null
        : {
            offsetNs: last.offsetNs,
            errorNs: last.errorNs,
            agoS: Math.max(0, Number(localNowNs - last.localNs) / 1e9),
          },
  };
}
