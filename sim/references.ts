/**
 * Reference clocks of anchor nodes. Each model gives, at virtual time t, the reference's reading error
 * (what it reports minus true time), the error bound it claims, and how often it delivers a sample:
 * - perfect: exact time, claims 50 ns;
 * - gps-pps: a PPS edge disciplined by GPS, Gaussian noise σ = 100 ns, claims 1 µs;
 * - gps-nmea: NMEA sentence timing without PPS, a fixed per-receiver bias within ±10 ms plus noise
 *   σ = 5 ms, claims 50 ms (NMEA alone is good to tens of ms);
 * - ntp-server: an upstream server with its own bias within ±200 µs and a 1 ms round trip,
 *   claims its root distance 1 ms plus half the delay.
 */
import type { AnchorKind } from '../hlc/timeTypes.ts';
import type { AnchorModel } from './scenarioTypes.ts';
import type { SimRng } from './rng.ts';

export interface ReferenceModel {
  kind: AnchorKind;
  intervalNs: number;
  /** Reported minus true, for one sample. */
  errorNs(rng: SimRng): number;
  claimedErrorNs: number;
  delayNs: number;
  stratum: number;
}

export function referenceModel(model: AnchorModel, rng: SimRng): ReferenceModel {
  switch (model) {
    case 'perfect':
      return {
        kind: 'reference',
        intervalNs: 1e9,
        errorNs: () => 0,
        claimedErrorNs: 50,
        delayNs: 0,
        stratum: 0,
      };
    case 'gps-pps':
      return {
        kind: 'pps',
        intervalNs: 1e9,
        errorNs: (r) => 100 * r.normal(),
        claimedErrorNs: 1_000,
        delayNs: 0,
        stratum: 0,
      };
    case 'gps-nmea': {
      const bias = rng.uniform(-10e6, 10e6);
      return {
        kind: 'gps',
        intervalNs: 1e9,
        errorNs: (r) => bias + clampAbs(5e6 * r.normal(), 35e6),
        claimedErrorNs: 50e6,
        delayNs: 0,
        stratum: 0,
      };
    }
    case 'ntp-server': {
      const bias = rng.uniform(-200e3, 200e3);
      return {
        kind: 'ntp',
        intervalNs: 16e9,
        errorNs: (r) => bias + clampAbs(20e3 * r.normal(), 200e3),
        claimedErrorNs: 1e6 + 0.5e6,
        delayNs: 1e6,
        stratum: 1,
      };
    }
  }
}

function clampAbs(v: number, limit: number): number {
  return v > limit ? limit : v < -limit ? -limit : v;
}
