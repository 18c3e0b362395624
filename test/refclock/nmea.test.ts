/**
 * The NMEA 0183 parser (refclock/nmea.ts) and the GPS source (refclock/gpsSource.ts): each reject
 * reason, talkers, the century pivot, GGA placed on the nearest day, UTC conversion, one sample per
 * second with exact fudge arithmetic, and a fuzz (any string parses to a value, never an exception).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { nmeaChecksum, nmeaSentence, parseNmea, sentenceUtcNs } from '../../refclock/nmea.ts';
import type { NmeaRejectReason, NmeaSentence } from '../../refclock/nmea.ts';
import { GPS_NMEA_ERROR_NS_DEFAULT, GpsSource } from '../../refclock/gpsSource.ts';

const MS = 1_000_000n;
const FIXTURE = new URL('../fixtures/gps-nmea.txt', import.meta.url);

function ok(line: string): NmeaSentence {
  const r = parseNmea(line);
  assert.ok(r.ok, `expected ok for ${line}: ${r.ok ? '' : r.reason + ' ' + r.message}`);
  return r.sentence;
}
function reason(line: string): NmeaRejectReason {
  const r = parseNmea(line);
  assert.ok(!r.ok, `expected a reject for ${line}`);
  return r.reason;
}

describe('NMEA parser', () => {
  it('accepts the textbook RMC with its well-known checksum 6A', () => {
    const s = ok('$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n');
    assert.equal(s.type, 'RMC');
    assert.equal(s.talker, 'GP');
    assert.deepEqual(s.time, { hour: 12, minute: 35, second: 19, fractionNs: 0 });
    assert.equal(sentenceUtcNs(s), BigInt(Date.UTC(1994, 2, 23, 12, 35, 19)) * MS);
  });

  it('parses RMC, GGA and ZDA from any talker, with fractions and lowercase checksums', () => {
    for (const talker of ['GP', 'GN', 'GL', 'GA', 'GB', 'BD', 'QZ']) {
      const rmc = ok(nmeaSentence(`${talker}RMC,010203.456,A,4807.038,N,01131.000,E,0.1,,311224,,,A`));
      assert.equal(rmc.talker, talker);
      assert.equal(sentenceUtcNs(rmc), BigInt(Date.UTC(2024, 11, 31, 1, 2, 3, 456)) * MS);
      const zda = ok(nmeaSentence(`${talker}ZDA,235959.5,29,02,2024,,`));
      assert.equal(sentenceUtcNs(zda), BigInt(Date.UTC(2024, 1, 29, 23, 59, 59, 500)) * MS);
      const gga = ok(nmeaSentence(`${talker}GGA,120000,4807.038,N,01131.000,E,6,04,2.0,500,M,47,M,,`));
      assert.equal(gga.type === 'GGA' && gga.fixQuality, 6);
    }
    assert.equal(ok('$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6a').type, 'RMC');
  });

  it('pivots the RMC century at 80 (GPS began in 1980)', () => {
    const year = (yy: string) => {
      const s = ok(nmeaSentence(`GPRMC,000000,A,,,,,,,0101${yy},,`));
      return s.type === 'RMC' ? s.date.year : 0;
    };
    assert.equal(year('80'), 1980);
    assert.equal(year('99'), 1999);
    assert.equal(year('00'), 2000);
    assert.equal(year('79'), 2079);
  });

  it('gives every rejection its stable reason', () => {
    const cases: [string, NmeaRejectReason][] = [
      ['', 'empty'],
      ['\r\n', 'empty'],
      [nmeaSentence('GPRMC,' + 'x'.repeat(80)), 'too-long'],
      ['$GPZDA,120000,01,01,2024,,*\x01\x02', 'bad-character'],
      ['$GPZDA,120000,01,01,2024,,*é1', 'bad-character'],
      ['GPZDA,120000,01,01,2024,,*4B', 'no-start'],
      [nmeaSentence('GPZDA,120000,01,01,2024,,').slice(5), 'no-start'],
      ['$GPZDA,120000,01,01,2024,,', 'no-checksum'],
      ['$GPRMC,123519,A,4807.0', 'truncated'],
      [nmeaSentence('GPZDA,120000,01,01,2024,,').slice(0, -1), 'truncated'],
      ['$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6B', 'bad-checksum'],
      ['$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*ZZ', 'bad-checksum'],
      [nmeaSentence('gprmc,123519,A,,,,,,,230394,,'), 'bad-address'],
      [nmeaSentence(''), 'bad-address'],
      [nmeaSentence('GPGSV,3,1,11,02,47,294,38'), 'unknown-type'],
      [nmeaSentence('PUBX,04,123519.00'), 'unknown-type'],
      [nmeaSentence('GPRMC,123519,A,4807.038'), 'too-few-fields'],
      [nmeaSentence('GPRMC,123519,V,,,,,,,230394,,'), 'invalid-fix'],
      [nmeaSentence('GNRMC,123519,A,,,,,,,230394,,,N'), 'invalid-fix'],
      [nmeaSentence('GNGGA,123519,,,,,0,00,99.99,,,,,,'), 'invalid-fix'],
      [nmeaSentence('GPRMC,123519,X,,,,,,,230394,,'), 'bad-field'],
      [nmeaSentence('GPRMC,243519,A,,,,,,,230394,,'), 'bad-field'],
      [nmeaSentence('GPRMC,123519,A,,,,,,,300294,,'), 'bad-field'],
      [nmeaSentence('GPRMC,123519,A,9107.038,N,01131.000,E,,,230394,,'), 'bad-field'],
      [nmeaSentence('GPRMC,123519,A,4807.038,X,01131.000,E,,,230394,,'), 'bad-field'],
      [nmeaSentence('GPGGA,123519,,,,,9,00,,,,,,,'), 'bad-field'],
      [nmeaSentence('GPZDA,123519,29,02,2023,,'), 'bad-field'],
      [nmeaSentence('GPZDA,123519,01,01,24,,'), 'bad-field'],
    ];
    for (const [line, expected] of cases) assert.equal(reason(line), expected, JSON.stringify(line));
  });

  it('accepts exactly 80 characters without CR/LF (82 with them), not 81', () => {
    // The speed field (not validated) pads the sentence to the length wanted.
    const pad = (n: number) => nmeaSentence(`GPRMC,120000,A,,,,,${'0'.repeat(n)},,010124,,`);
    const base = pad(0).length;
    assert.equal(pad(80 - base).length, 80);
    assert.equal(parseNmea(pad(80 - base) + '\r\n').ok, true);
    assert.equal(reason(pad(81 - base)), 'too-long');
  });

  it('places a GGA on the day nearest the estimate, across midnight', () => {
    const gga = ok(nmeaSentence('GPGGA,000000.20,4807.038,N,01131.000,E,1,08,0.9,545,M,47,M,,'));
    const lateYesterday = BigInt(Date.UTC(2024, 2, 14, 23, 59, 59, 900)) * MS;
    assert.equal(sentenceUtcNs(gga, lateYesterday), BigInt(Date.UTC(2024, 2, 15, 0, 0, 0, 200)) * MS);
    const gga2 = ok(nmeaSentence('GPGGA,235959.90,4807.038,N,01131.000,E,1,08,0.9,545,M,47,M,,'));
    const justAfter = BigInt(Date.UTC(2024, 2, 15, 0, 0, 0, 100)) * MS;
    assert.equal(sentenceUtcNs(gga2, justAfter), BigInt(Date.UTC(2024, 2, 14, 23, 59, 59, 900)) * MS);
    assert.equal(sentenceUtcNs(gga), undefined);
  });

  it('every line of the fixture has a correct checksum except the two broken ones', () => {
    const lines = readFileSync(FIXTURE, 'latin1').split('\r\n').filter(Boolean);
    const reasons = lines.map((l) => {
      const r = parseNmea(l);
      return r.ok ? 'ok' : r.reason;
    });
    assert.deepEqual(
      reasons.filter((r) => r !== 'ok'),
      ['unknown-type', 'invalid-fix', 'invalid-fix', 'bad-checksum', 'truncated'],
    );
    for (const l of lines.filter((l) => l.includes('*') && !l.includes('123522.00,A'))) {
      const [body, hex] = l.slice(1).split('*') as [string, string];
      assert.equal(nmeaChecksum(body), parseInt(hex, 16), l);
    }
  });

  it('never throws on random input (fuzz)', () => {
    const nmeaish = fc.stringMatching(
      /^\$?[A-Z]{0,6}(,[-0-9A-Za-z.]{0,12}){0,14}(\*[0-9A-Fa-f]{0,3})?\r?\n?$/,
    );
    const withGoodChecksum = fc
      .array(fc.constantFrom(...'0123456789,.AVNSEW-'), { maxLength: 70 })
      .chain((cs) => fc.constantFrom('GPRMC,', 'GNGGA,', 'GLZDA,').map((h) => nmeaSentence(h + cs.join(''))));
    for (const arb of [fc.string({ maxLength: 120 }), nmeaish, withGoodChecksum]) {
      fc.assert(
        fc.property(arb, (line) => {
          const r = parseNmea(line);
          if (r.ok) assert.ok(sentenceUtcNs(r.sentence, 0n) !== undefined);
          else assert.equal(typeof r.message, 'string');
        }),
        { numRuns: 300, seed: 5 },
      );
    }
  });
});

describe('GPS source', () => {
  const lines = () => readFileSync(FIXTURE, 'latin1').split('\r\n').filter(Boolean);
  const t0 = BigInt(Date.UTC(2024, 2, 14, 12, 35, 19)) * MS;

  function replay(fudgeNs: number) {
    const src = new GpsSource({ refId: 'gps:test', fudgeNs });
    const samples = [];
    for (const line of lines()) {
      // Each line arrives 80 ms after the start of the second it names (or of the last second).
      const m = /^\$..(?:RMC|GGA|ZDA),\d{4}(\d{2})/.exec(line);
      const sec = m ? BigInt(Number(m[1]) - 19) : 0n;
      const out = src.handleLine(line, t0 + sec * 1_000_000_000n + 80n * MS);
      if (out.type === 'sample') samples.push(out);
    }
    return { src, samples };
  }

  it('makes one sample per valid second from the fixture, with counted drops', () => {
    const { src, samples } = replay(0);
    assert.deepEqual(
      samples.map((s) => `${s.sentence.talker}${s.sentence.type}`),
      ['GNRMC', 'GPRMC', 'GNGGA', 'GNGGA'],
    );
    for (const { sample } of samples) {
      assert.equal(sample.offsetNs, -80_000_000);
      assert.equal(sample.errorNs, GPS_NMEA_ERROR_NS_DEFAULT);
      assert.deepEqual(
        [sample.kind, sample.stratum, sample.delayNs, sample.refId],
        ['gps', 0, 0, 'gps:test'],
      );
    }
    const snap = src.snapshot();
    assert.equal(snap.linesTotal, 15);
    assert.equal(snap.samplesTotal, 4);
    assert.equal(snap.drops['bad-checksum'], 1);
    assert.equal(snap.drops['invalid-fix'], 2);
    assert.equal(snap.drops.truncated, 1);
    assert.equal(snap.drops['unknown-type'], 1);
    assert.equal(snap.drops['duplicate-second'], 6);
  });

  it('shifts every offset by exactly the fudge', () => {
    const a = replay(0).samples;
    const b = replay(123_456_789).samples;
    assert.equal(a.length, b.length);
    for (let i = 0; i < a.length; i++)
      assert.equal((b[i]?.sample.offsetNs ?? 0) - (a[i]?.sample.offsetNs ?? 0), 123_456_789);
  });

  it('drops GGA before any date, and reversed seconds until the receiver insists', () => {
    const src = new GpsSource({ refId: 'gps:x' });
    const gga = (t: string) => nmeaSentence(`GPGGA,${t},4807.038,N,01131.000,E,1,08,0.9,545,M,47,M,,`);
    const rmc = (t: string) => nmeaSentence(`GPRMC,${t},A,,,,,,,140324,,`);
    assert.equal(src.handleLine(gga('120000'), 0n).type, 'drop');
    assert.equal(src.handleLine(rmc('120010'), 0n).type, 'sample');
    const back = [rmc('120005'), rmc('120006'), rmc('120007')].map((l) => src.handleLine(l, 0n));
    assert.deepEqual(
      back.map((o) => (o.type === 'drop' ? o.reason : 'sample')),
      ['time-reversed', 'time-reversed', 'sample'],
    );
    assert.equal(src.snapshot().drops['no-date'], 1);
  });
});
