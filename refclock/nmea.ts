/**
 * NMEA 0183 sentence parser for the three sentences a GPS receiver labels time with: RMC (time,
 * date, status), GGA (time, fix quality) and ZDA (time, day, month, 4-digit year). Pure: a line in,
 * a typed result out. It never throws; every malformed or unusable line is a value with a stable
 * `reason` (NMEA_REJECT_REASONS), so the driver can count it and move on.
 *
 * Format. `$` + address (two-letter talker: GP, GN, GL, GA, GB, BD, QZ… + three-letter type) +
 * `,`-separated fields + `*HH`, where HH is the XOR of every byte between `$` and `*` in hex (either
 * case accepted). The checksum is required: a time label we cannot check is not worth trusting. A
 * sentence is at most 82 characters counting `$` and the closing `<CR><LF>`, so at most 80 once the
 * line ending (CRLF or a bare LF) is stripped.
 *
 * Validity. RMC status `V` (or FAA mode `N`) and GGA quality 0 are `invalid-fix`: the receiver says
 * its time is not to be used. GGA quality 6 (dead reckoning) is accepted, since its time still
 * comes from a receiver that had a fix. Position fields are only checked for format.
 *
 * Time. `hhmmss[.f…]` with hh < 24, mm < 60, ss ≤ 60 (a leap second is accepted; its UTC ns equals
 * the following :00, so the GPS source sees it as a repeated second). RMC's 2-digit year pivots at
 * 80: 80–99 → 1980–1999 (GPS began in 1980), 00–79 → 2000–2079. GGA carries no date: `sentenceUtcNs`
 * needs an estimate of the current UTC and picks the day that puts the time of day nearest to it.
 */

/** Every reason a line is rejected, stable for counters and logs. */
export const NMEA_REJECT_REASONS = [
  'empty',
  'too-long',
  'bad-character',
  'no-start',
  'no-checksum',
  'truncated',
  'bad-checksum',
  'bad-address',
  'unknown-type',
  'too-few-fields',
  'bad-field',
  'invalid-fix',
] as const;
export type NmeaRejectReason = (typeof NMEA_REJECT_REASONS)[number];

/** `$` + 79 characters + `<CR><LF>` (NMEA 0183 §5.3). */
export const NMEA_MAX_SENTENCE_CHARS = 82;
/** The same limit on a line whose CR/LF has been stripped. */
const MAX_BODY_CHARS = NMEA_MAX_SENTENCE_CHARS - 2;

export interface NmeaTime {
  hour: number;
  minute: number;
  /** 0–60 (60 only in a leap second). */
  second: number;
  /** Fraction of the second from the sentence, ns (0 for `hhmmss`). */
  fractionNs: number;
}

export interface NmeaDate {
  year: number;
  /** 1–12. */
  month: number;
  /** 1–31, checked against the month. */
  day: number;
}

interface SentenceBase {
  /** Two-letter talker id (GP, GN, GL, GA, GB…). */
  talker: string;
  time: NmeaTime;
}
export interface RmcSentence extends SentenceBase {
  type: 'RMC';
  date: NmeaDate;
}
export interface GgaSentence extends SentenceBase {
  type: 'GGA';
  /** 1–8 (0 is rejected as `invalid-fix`). */
  fixQuality: number;
}
export interface ZdaSentence extends SentenceBase {
  type: 'ZDA';
  date: NmeaDate;
}
export type NmeaSentence = RmcSentence | GgaSentence | ZdaSentence;

export type NmeaParseResult =
  { ok: true; sentence: NmeaSentence } | { ok: false; reason: NmeaRejectReason; message: string };

/** Fields after the address each type needs at minimum (RMC to the date, GGA to quality, ZDA to year). */
const MIN_FIELDS: Record<NmeaSentence['type'], number> = { RMC: 9, GGA: 6, ZDA: 4 };

function reject(reason: NmeaRejectReason, message: string): NmeaParseResult {
  return { ok: false, reason, message };
}

/** XOR of the character codes of `body` (the text between `$` and `*`), as NMEA's checksum. */
export function nmeaChecksum(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  return sum;
}

/** Builds a full sentence from the text between `$` and `*` (for fixtures and tests). */
export function nmeaSentence(body: string): string {
  return `$${body}*${nmeaChecksum(body).toString(16).toUpperCase().padStart(2, '0')}`;
}

/** Parses one line (with or without its CR/LF). Never throws. */
export function parseNmea(input: string): NmeaParseResult {
  const line = input.replace(/\r?\n$/, '').replace(/\r$/, '');
  if (line.length === 0) return reject('empty', 'empty line');
  if (line.length > MAX_BODY_CHARS)
    return reject('too-long', `${line.length} characters, NMEA allows ${MAX_BODY_CHARS} without CR/LF`);
  if (!/^[\x20-\x7e]*$/.test(line)) return reject('bad-character', 'non-printable or non-ASCII character');
  if (line[0] !== '$') return reject('no-start', 'line does not start with $ (partial or foreign data)');

  const star = line.lastIndexOf('*');
  let body: string;
  if (star < 0) {
    // Without '*' the line is either cut short or a sentence sent without a checksum. A known type
    // with fewer fields than it needs was cut short; anything else lacks the checksum.
    body = line.slice(1);
    const fields = body.split(',');
    const type = fields[0]?.slice(2) ?? '';
    if (type in MIN_FIELDS && fields.length - 1 < MIN_FIELDS[type as NmeaSentence['type']])
      return reject('truncated', 'sentence ends before its fields and checksum');
    return reject('no-checksum', 'no *HH checksum');
  }
  const hex = line.slice(star + 1);
  if (hex.length < 2) return reject('truncated', 'sentence ends inside its checksum');
  if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return reject('bad-checksum', `checksum "${hex}" is not two hex digits`);
  body = line.slice(1, star);
  const expected = nmeaChecksum(body);
  const got = parseInt(hex, 16);
  if (got !== expected)
    return reject(
      'bad-checksum',
      `checksum ${hex} does not match ${expected.toString(16).toUpperCase().padStart(2, '0')}`,
    );

  const fields = body.split(',');
  const address = fields[0] ?? '';
  if (!/^[A-Z][A-Z0-9]{1,5}$/.test(address)) return reject('bad-address', `bad address "${address}"`);
  const match = /^([A-Z]{2})(RMC|GGA|ZDA)$/.exec(address);
  if (!match) return reject('unknown-type', `sentence ${address} is not RMC, GGA or ZDA`);
  const talker = match[1] as string;
  const type = match[2] as NmeaSentence['type'];
  const f = fields.slice(1);
  if (f.length < MIN_FIELDS[type])
    return reject('too-few-fields', `${type} has ${f.length} fields, needs ${MIN_FIELDS[type]}`);

  switch (type) {
    case 'RMC':
      return parseRmc(talker, f);
    case 'GGA':
      return parseGga(talker, f);
    case 'ZDA':
      return parseZda(talker, f);
  }
}

function field(f: string[], i: number): string {
  return f[i] ?? '';
}

function parseRmc(talker: string, f: string[]): NmeaParseResult {
  // 0 time, 1 status, 2 lat, 3 N/S, 4 lon, 5 E/W, 6 speed, 7 course, 8 date, 9 magvar, 10 E/W,
  // 11 FAA mode (NMEA 2.3+), 12 nav status (4.1+).
  const status = field(f, 1);
  if (status === 'V') return reject('invalid-fix', 'RMC status V (receiver warning)');
  if (status !== 'A') return reject('bad-field', `RMC status "${status}" is neither A nor V`);
  const mode = field(f, 11);
  if (mode === 'N') return reject('invalid-fix', 'RMC mode N (data not valid)');
  const position = checkPosition(field(f, 2), field(f, 3), field(f, 4), field(f, 5));
  if (position) return reject('bad-field', `RMC ${position}`);
  const time = parseTime(field(f, 0));
  if (typeof time === 'string') return reject('bad-field', `RMC ${time}`);
  const date = parseDdmmyy(field(f, 8));
  if (typeof date === 'string') return reject('bad-field', `RMC ${date}`);
  return { ok: true, sentence: { type: 'RMC', talker, time, date } };
}

function parseGga(talker: string, f: string[]): NmeaParseResult {
  // 0 time, 1 lat, 2 N/S, 3 lon, 4 E/W, 5 quality, 6 satellites, 7 HDOP, 8 altitude, …
  const quality = field(f, 5);
  if (!/^[0-8]$/.test(quality)) return reject('bad-field', `GGA fix quality "${quality}"`);
  if (quality === '0') return reject('invalid-fix', 'GGA fix quality 0 (no fix)');
  const position = checkPosition(field(f, 1), field(f, 2), field(f, 3), field(f, 4));
  if (position) return reject('bad-field', `GGA ${position}`);
  const time = parseTime(field(f, 0));
  if (typeof time === 'string') return reject('bad-field', `GGA ${time}`);
  return { ok: true, sentence: { type: 'GGA', talker, time, fixQuality: Number(quality) } };
}

function parseZda(talker: string, f: string[]): NmeaParseResult {
  // 0 time, 1 day, 2 month, 3 year, 4 local zone hours, 5 local zone minutes.
  const time = parseTime(field(f, 0));
  if (typeof time === 'string') return reject('bad-field', `ZDA ${time}`);
  const [d, m, y] = [field(f, 1), field(f, 2), field(f, 3)];
  if (!/^\d{2}$/.test(d) || !/^\d{2}$/.test(m) || !/^\d{4}$/.test(y))
    return reject('bad-field', `ZDA date "${d},${m},${y}" is not dd,mm,yyyy`);
  const date = checkDate(Number(y), Number(m), Number(d));
  if (typeof date === 'string') return reject('bad-field', `ZDA ${date}`);
  const zh = field(f, 4);
  const zm = field(f, 5);
  if ((zh !== '' && !/^[-+]?\d{1,2}$/.test(zh)) || (zm !== '' && !/^\d{1,2}$/.test(zm)))
    return reject('bad-field', `ZDA local zone "${zh},${zm}"`);
  return { ok: true, sentence: { type: 'ZDA', talker, time, date } };
}

function parseTime(s: string): NmeaTime | string {
  const m = /^(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?$/.exec(s);
  if (!m) return `time "${s}" is not hhmmss[.f]`;
  const hour = Number(m[1]);
  const minute = Number(m[2]);
  const second = Number(m[3]);
  if (hour > 23 || minute > 59 || second > 60) return `time "${s}" out of range`;
  const fractionNs = m[4] === undefined ? 0 : Number(m[4].padEnd(9, '0'));
  return { hour, minute, second, fractionNs };
}

function parseDdmmyy(s: string): NmeaDate | string {
  if (!/^\d{6}$/.test(s)) return `date "${s}" is not ddmmyy`;
  const yy = Number(s.slice(4, 6));
  return checkDate(yy >= 80 ? 1900 + yy : 2000 + yy, Number(s.slice(2, 4)), Number(s.slice(0, 2)));
}

function checkDate(year: number, month: number, day: number): NmeaDate | string {
  const d = new Date(Date.UTC(year, month - 1, day));
  if (month < 1 || month > 12 || day < 1 || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day)
    return `date ${year}-${month}-${day} does not exist`;
  return { year, month, day };
}

/** Checks ddmm.mmmm / dddmm.mmmm and the hemispheres; all four empty is fine (no position). */
function checkPosition(lat: string, ns: string, lon: string, ew: string): string | undefined {
  if (lat === '' && ns === '' && lon === '' && ew === '') return undefined;
  const la = /^(\d{2})(\d{2})(\.\d+)?$/.exec(lat);
  const lo = /^(\d{3})(\d{2})(\.\d+)?$/.exec(lon);
  if (!la || Number(la[1]) > 90 || Number(la[2]) > 59 || (ns !== 'N' && ns !== 'S'))
    return `latitude "${lat},${ns}"`;
  if (!lo || Number(lo[1]) > 180 || Number(lo[2]) > 59 || (ew !== 'E' && ew !== 'W'))
    return `longitude "${lon},${ew}"`;
  return undefined;
}

const NS_PER_S = 1_000_000_000n;
const NS_PER_DAY = 86_400n * NS_PER_S;

function dateUtcNs(date: NmeaDate): bigint {
  return BigInt(Date.UTC(date.year, date.month - 1, date.day)) * 1_000_000n;
}

function timeOfDayNs(t: NmeaTime): bigint {
  return BigInt(t.hour * 3600 + t.minute * 60 + t.second) * NS_PER_S + BigInt(t.fractionNs);
}

/**
 * UTC (ns since the Unix epoch) of the instant a sentence names. RMC and ZDA carry their date. GGA
 * has only a time of day: `nearUtcNs` (the caller's estimate of UTC, e.g. the last dated sentence
 * advanced by the local time since) picks the day that puts it nearest, so a GGA just after
 * midnight following yesterday's RMC lands on today. Without `nearUtcNs` a GGA gives undefined.
 */
export function sentenceUtcNs(sentence: NmeaSentence, nearUtcNs?: bigint): bigint | undefined {
  if (sentence.type !== 'GGA') return dateUtcNs(sentence.date) + timeOfDayNs(sentence.time);
  if (nearUtcNs === undefined) return undefined;
  const dayStart = nearUtcNs - (((nearUtcNs % NS_PER_DAY) + NS_PER_DAY) % NS_PER_DAY);
  let best: bigint | undefined;
  for (const day of [dayStart - NS_PER_DAY, dayStart, dayStart + NS_PER_DAY]) {
    const t = day + timeOfDayNs(sentence.time);
    const dist = t > nearUtcNs ? t - nearUtcNs : nearUtcNs - t;
    const bestDist = best === undefined ? undefined : best > nearUtcNs ? best - nearUtcNs : nearUtcNs - best;
    if (bestDist === undefined || dist < bestDist) best = t;
  }
  return best;
}
