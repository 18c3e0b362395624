/**
 * A GPS receiver's NMEA stream as a reference clock, sans-IO: the driver (refclock/gpsSerial.ts)
 * hands every line with the raw local instant it arrived (`TimeView.localNowNs`, the node's
 * oscillator) to `handleLine`, and gets back either a ReferenceSample or a counted drop.
 *
 * Sign convention (timemesh's): offset = reference − raw local, positive when the local oscillator
 * is behind. For a sentence naming UTC instant T that arrived at local instant L,
 *   offsetNs = (T + fudgeNs) − L.
 * A receiver sends the sentence for second S some time after S begins (tens to hundreds of ms,
 * depending on the model and baud rate); `fudgeNs` is that delay, so a correct fudge makes the
 * offset ≈ 0 on a correct clock (chrony's `offset` option on a refclock has the same sense).
 *
 * Error bound: NMEA alone is only as good as the receiver's output timing, typically steady to a few
 * ms but with a model-dependent delay of 0–500 ms. The default `errorNs` is 50 ms, which assumes the
 * fudge has been set to the receiver's delay to within a few tens of ms; with fudge 0 on an unknown
 * receiver the true error can be larger than the bound (set `errorNs` accordingly). `delayNs` is 0
 * (there is no round trip), stratum 0, kind 'gps'.
 *
 * One sample per UTC second: receivers send several time-labelled sentences per second (RMC, GGA,
 * ZDA); the first to arrive is used, since later ones carry more serial-line delay. A second equal
 * to or earlier than the last sampled one is dropped (`duplicate-second`, `time-reversed`); after
 * three consecutive reversed seconds the source accepts the new timeline (a receiver reset).
 * GGA has no date: it is placed on the day nearest the last dated sentence (RMC/ZDA) advanced by
 * the local time since; before any dated sentence it is dropped as `no-date`.
 */
import type { ReferenceSample } from '../node/core/types.ts';
import { NMEA_REJECT_REASONS, parseNmea, sentenceUtcNs } from './nmea.ts';
import type { NmeaParseResult, NmeaRejectReason, NmeaSentence } from './nmea.ts';

/** Default error bound for NMEA-only samples: 50 ms. */
export const GPS_NMEA_ERROR_NS_DEFAULT = 50_000_000;

/** Drops the source adds to the parser's reasons. */
export const GPS_SOURCE_DROP_REASONS = ['duplicate-second', 'time-reversed', 'no-date'] as const;
export type GpsDropReason = NmeaRejectReason | (typeof GPS_SOURCE_DROP_REASONS)[number];

/** Consecutive earlier seconds after which the source accepts a receiver that went back in time. */
const REVERSED_RESET_COUNT = 3;
const NS_PER_S = 1_000_000_000n;

export interface GpsSourceConfig {
  /** Reference id, e.g. `gps:/dev/ttyUSB0`. */
  refId: string;
  /** Added to the sentence's UTC: the receiver's output delay, ns. Default 0. */
  fudgeNs?: number;
  /** Error bound carried by each sample, ns. Default GPS_NMEA_ERROR_NS_DEFAULT (50 ms). */
  errorNs?: number;
}

export type GpsSourceOutcome =
  | { type: 'sample'; sample: ReferenceSample; sentence: NmeaSentence; utcNs: bigint }
  | { type: 'drop'; reason: GpsDropReason; message: string };

export interface GpsSourceSnapshot {
  refId: string;
  fudgeNs: number;
  errorNs: number;
  linesTotal: number;
  samplesTotal: number;
  /** Valid sentences by type (including those dropped as duplicates of their second). */
  sentencesByType: Record<NmeaSentence['type'], number>;
  drops: Record<GpsDropReason, number>;
  lastSample: ReferenceSample | undefined;
}

export class GpsSource {
  readonly refId: string;
  readonly fudgeNs: number;
  readonly errorNs: number;
  private linesTotal = 0;
  private samplesTotal = 0;
  private readonly sentencesByType: Record<NmeaSentence['type'], number> = { RMC: 0, GGA: 0, ZDA: 0 };
  private readonly drops: Record<GpsDropReason, number>;
  private lastSample: ReferenceSample | undefined;
  /** The UTC second (s since the epoch) of the last sample. */
  private lastSecond: bigint | undefined;
  private reversedCount = 0;
  /** The last dated sentence's UTC and its local arrival, to place GGA on a day. */
  private lastDated: { utcNs: bigint; localNs: bigint } | undefined;

  constructor(config: GpsSourceConfig) {
    this.refId = config.refId;
    this.fudgeNs = config.fudgeNs ?? 0;
    this.errorNs = config.errorNs ?? GPS_NMEA_ERROR_NS_DEFAULT;
    if (!Number.isSafeInteger(this.fudgeNs)) throw new RangeError('fudgeNs must be an integer');
    if (!Number.isSafeInteger(this.errorNs) || this.errorNs < 0)
      throw new RangeError('errorNs must be a non-negative integer');
    this.drops = Object.fromEntries(
      [...NMEA_REJECT_REASONS, ...GPS_SOURCE_DROP_REASONS].map((r) => [r, 0]),
    ) as Record<GpsDropReason, number>;
  }

  /** One line from the receiver and the raw local instant it arrived. */
  handleLine(line: string, localArrivalNs: bigint): GpsSourceOutcome {
    return this.handleParsed(parseNmea(line), localArrivalNs);
  }

  /** A line already parsed by `parseNmea`, and the raw local instant it arrived. */
  handleParsed(result: NmeaParseResult, localArrivalNs: bigint): GpsSourceOutcome {
    this.linesTotal++;
    if (!result.ok) return this.drop(result.reason, result.message);
    const sentence = result.sentence;
    this.sentencesByType[sentence.type]++;

    let utcNs: bigint | undefined;
    if (sentence.type === 'GGA') {
      const near = this.lastDated && this.lastDated.utcNs + (localArrivalNs - this.lastDated.localNs);
      utcNs = sentenceUtcNs(sentence, near);
      if (utcNs === undefined) return this.drop('no-date', 'GGA before any RMC or ZDA gave the date');
    } else {
      utcNs = sentenceUtcNs(sentence) as bigint;
      this.lastDated = { utcNs, localNs: localArrivalNs };
    }

    const second = utcNs >= 0n ? utcNs / NS_PER_S : (utcNs - NS_PER_S + 1n) / NS_PER_S;
    if (this.lastSecond !== undefined) {
      if (second === this.lastSecond) {
        this.reversedCount = 0;
        return this.drop('duplicate-second', `second ${second} already sampled`);
      }
      if (second < this.lastSecond && ++this.reversedCount < REVERSED_RESET_COUNT)
        return this.drop('time-reversed', `second ${second} is before ${this.lastSecond}`);
    }
    this.reversedCount = 0;
    this.lastSecond = second;

    const sample: ReferenceSample = {
      refId: this.refId,
      kind: 'gps',
      localNs: localArrivalNs,
      offsetNs: Number(utcNs + BigInt(this.fudgeNs) - localArrivalNs),
      errorNs: this.errorNs,
      delayNs: 0,
      stratum: 0,
    };
    this.samplesTotal++;
    this.lastSample = sample;
    return { type: 'sample', sample, sentence, utcNs };
  }

  /** Counts a line the driver could not even hand over as text (e.g. an overlong run without LF). */
  countDrop(reason: GpsDropReason): void {
    this.linesTotal++;
    this.drops[reason]++;
  }

  snapshot(): GpsSourceSnapshot {
    return {
      refId: this.refId,
      fudgeNs: this.fudgeNs,
      errorNs: this.errorNs,
      linesTotal: this.linesTotal,
      samplesTotal: this.samplesTotal,
      sentencesByType: { ...this.sentencesByType },
      drops: { ...this.drops },
      lastSample: this.lastSample,
    };
  }

  private drop(reason: GpsDropReason, message: string): GpsSourceOutcome {
    this.drops[reason]++;
    return { type: 'drop', reason, message };
  }
}
