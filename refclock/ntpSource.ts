/**
 * One upstream NTP server as a sans-IO state machine (ntpd-rs' `NtpSource` shape): the driver
 * (refclock/ntpClient.ts) calls `handleTimer` when the source's wake-up time comes and `handleReply`
 * with every datagram from the server, and carries out the `NtpSourceAction`s returned (send a
 * request, re-arm the timer, hand a sample to the node, log, stop). Pure: the raw local times, the
 * random transmit cookie and the packet bytes all flow in as arguments.
 *
 * Timestamps and signs. T1 (request sent) and T4 (reply received) are readings of the node's raw
 * oscillator (`TimeView.localNowNs`); T2 and T3 are the server's, converted from NTP format in the
 * era closest to T1 (refclock/ntpTimestamp.ts). Offset θ = ((T2 − T1) + (T3 − T4)) / 2 is
 * `server − local`, positive when the local oscillator is behind (timemesh's convention); delay
 * δ = (T4 − T1) − (T3 − T2), and a negative δ is rejected.
 *
 * Error bound (RFC 5905's root distance, as the issue asks): the server's own distance from its
 * primary reference, λ = rootDelay/2 + rootDispersion, plus δ/2 for the path. The ReferenceSample
 * carries λ as `errorNs` and δ as `delayNs`: the core's clock filter adds δ/2 itself
 * (bft/clockFilter.ts: half-width = δ/2 + error), so the interval it uses is exactly
 * θ ± (λ + δ/2). Putting δ/2 into `errorNs` as well would count the path twice.
 *
 * Every valid sample is delivered; there is no clock filter here. The core already keeps a
 * minimum-delay filter per source (8 samples) that also ages samples by the frequency error, and a
 * second filter in front of it would only delay and thin what it sees.
 *
 * Defences (each a counted drop, never an exception):
 * - Origin check: every request carries a fresh random 64-bit transmit timestamp (a cookie, as
 *   chrony does; it also hides the local clock from the network). A reply counts only if its origin
 *   equals the cookie of the request outstanding; one that matches an older request is `stale`, one
 *   that matches a request already answered is a `duplicate`, anything else is `bogus-origin`
 *   (spoofed or misdirected). This check comes first, so a spoofed Kiss-o'-Death cannot stop or slow
 *   the association.
 * - Kiss-o'-Death: RATE doubles the poll interval (and raises the floor it may adapt down to), ends
 *   the burst; DENY and RSTR stop the association for good (the server does not want us); other
 *   codes are ignored.
 * - An unsynchronized server (leap indicator 3, or stratum 16 or above) is reachable but unusable:
 *   no sample. So is a zero receive/transmit timestamp, T3 < T2, a negative delay, and a root
 *   distance above `maxRootDistanceNs` (chrony's `maxdistance`, 3 s).
 *
 * Polling: `iburst` sends the first `burstCount` requests `burstIntervalNs` apart, then the interval
 * is 2^pollExp s, between 2^minPoll and 2^maxPoll. The exponent adapts like NTP's (RFC 5905
 * poll_update): a sample whose offset agrees with the prediction from the last two samples (within
 * 4 × the larger of the running jitter and δ/2) adds pollExp to a counter, one that does not
 * subtracts twice that; at +30 the exponent goes up, at −30 down. A server that answered none of the
 * last 8 polls is backed off one step per poll, up to maxPoll.
 */
import type { ReferenceSample } from '../node/core/types.ts';
import type { UpstreamMeasurement } from './types.ts';
import {
  KISS_CODES,
  LEAP_UNSYNCHRONIZED,
  NTP_MODE,
  STRATUM_UNSYNCHRONIZED,
  clientRequest,
  decodeNtpPacket,
  encodeNtpPacket,
  formatReferenceId,
  kissCode,
} from './ntpPacket.ts';
import type { LeapIndicator } from './ntpPacket.ts';
import { ntp64ToUnixNs } from './ntpTimestamp.ts';

/** Poll exponents accepted (chrony allows −6 for 1/64 s; RFC 5905's MAXPOLL is 17, 36 h). */
export const NTP_POLL_EXP_MIN = -6;
export const NTP_POLL_EXP_MAX = 17;
/** RFC 5905's default range is 6..10 (64 s to 1024 s). */
export const NTP_MIN_POLL_DEFAULT = 6;
export const NTP_MAX_POLL_DEFAULT = 10;
export const NTP_BURST_COUNT_DEFAULT = 4;
export const NTP_BURST_INTERVAL_NS_DEFAULT = 2e9;
/** chrony's maxdistance default: a server further than 3 s from its primary reference is useless. */
export const NTP_MAX_ROOT_DISTANCE_NS_DEFAULT = 3e9;

/** RFC 5905's poll-adjust limit and the gate multiplier (PGATE). */
const POLL_ADJUST_LIMIT = 30;
const POLL_GATE = 4;
/** How many sent cookies are remembered, to tell stale and duplicate replies from bogus ones. */
const COOKIE_HISTORY = 8;

export interface NtpSourceConfig {
  /** The server as configured, `ntp://host:port`: the sample's refId and the log's name for it. */
  url: string;
  minPoll: number;
  maxPoll: number;
  iburst: boolean;
  burstCount: number;
  burstIntervalNs: number;
  maxRootDistanceNs: number;
}

export type NtpSourceAction =
  | { type: 'send'; packet: Uint8Array }
  | { type: 'wakeAt'; localNs: bigint }
  | { type: 'sample'; sample: ReferenceSample; measurement: UpstreamMeasurement }
  | { type: 'log'; level: 'info' | 'warn'; message: string; fields: Record<string, unknown> }
  /** The association is over (DENY/RSTR): the driver closes the socket and clears the timer. */
  | { type: 'stop'; reason: string };

export const NTP_DROP_REASONS = [
  'short-packet',
  'bad-version',
  'bad-mode',
  'wrong-source',
  'no-request',
  'bogus-origin',
  'stale',
  'duplicate',
  'kiss',
  'unsynchronized',
  'zero-timestamp',
  'time-reversed',
  'negative-delay',
  'root-distance',
] as const;
export type NtpDropReason = (typeof NTP_DROP_REASONS)[number];

export interface NtpSourceCounters {
  sent: number;
  /** Datagrams from the server's address (valid or not). */
  received: number;
  samples: number;
  dropped: Record<NtpDropReason, number>;
  /** Kiss-o'-Death packets that passed the origin check, by code (unknown codes as 'other'). */
  kisses: Record<string, number>;
}

/**
 * running: polling. denied: the server sent DENY or RSTR; the association is stopped for good.
 * The status adds what the last replies said: starting (nothing heard yet), ok, unsynchronized (the
 * server says it is), unreachable (no answer to the last 8 polls).
 */
export type NtpSourceState = 'running' | 'denied' | 'stopped';
export type NtpSourceStatus = 'starting' | 'ok' | 'unsynchronized' | 'unreachable' | 'denied' | 'stopped';

/** Read-only view for /v1/status and the logs. Times are raw local readings. */
export interface NtpSourceSnapshot {
  url: string;
  state: NtpSourceState;
  status: NtpSourceStatus;
  /** The last 8 polls, newest in the low bit: 1 = the server answered (any valid reply). */
  reach: number;
  pollExp: number;
  pollIntervalS: number;
  /** From the last reply that passed the origin check; null before the first. */
  leap: LeapIndicator | null;
  stratum: number | null;
  referenceId: string | null;
  /** From the last sample; null before the first. */
  offsetNs: number | null;
  delayNs: number | null;
  /** The server's root distance λ = rootDelay/2 + rootDispersion, and the full bound λ + δ/2. */
  rootDistanceNs: number | null;
  errorNs: number | null;
  lastSampleLocalNs: bigint | null;
  kiss: { code: string; count: number; lastLocalNs: bigint } | null;
  counters: NtpSourceCounters;
}

interface SentCookie {
  cookie: bigint;
  t1LocalNs: bigint;
  answered: boolean;
}

export class NtpSource {
  readonly config: NtpSourceConfig;
  private state: NtpSourceState = 'running';
  private pollExp: number;
  /** Lowest exponent the adaptation may return to; raised by RATE kisses. */
  private pollFloorExp: number;
  private pollCounter = 0;
  private burstLeft: number;
  private nextPollLocalNs: bigint | null = null;
  private reach = 0;
  private polls = 0;
  private outstanding: SentCookie | null = null;
  private readonly history: SentCookie[] = [];
  private last: {
    leap: LeapIndicator;
    stratum: number;
    referenceId: number;
  } | null = null;
  private lastSample: { offsetNs: number; delayNs: number; rootDistanceNs: number; localNs: bigint } | null =
    null;
  /** The sample before lastSample, for the drift-compensated prediction. */
  private prevSample: { offsetNs: number; localNs: bigint } | null = null;
  private jitterNs = 0;
  private unsynchronized = false;
  private unreachableLogged = false;
  private kiss: { code: string; count: number; lastLocalNs: bigint } | null = null;
  private readonly counters: NtpSourceCounters = {
    sent: 0,
    received: 0,
    samples: 0,
    dropped: Object.fromEntries(NTP_DROP_REASONS.map((r) => [r, 0])) as Record<NtpDropReason, number>,
    kisses: {},
  };

  constructor(config: NtpSourceConfig) {
    const { minPoll, maxPoll } = config;
    for (const [name, v] of [
      ['minPoll', minPoll],
      ['maxPoll', maxPoll],
    ] as const) {
      if (!Number.isInteger(v) || v < NTP_POLL_EXP_MIN || v > NTP_POLL_EXP_MAX) {
        throw new RangeError(
          `${name} must be an integer in ${NTP_POLL_EXP_MIN}..${NTP_POLL_EXP_MAX}, got ${v}`,
        );
      }
    }
    if (maxPoll < minPoll) throw new RangeError(`maxPoll (${maxPoll}) must be ≥ minPoll (${minPoll})`);
    if (!Number.isInteger(config.burstCount) || config.burstCount < 1) {
      throw new RangeError(`burstCount must be an integer ≥ 1, got ${config.burstCount}`);
    }
    if (!(config.burstIntervalNs > 0)) throw new RangeError(`burstIntervalNs must be > 0`);
    if (!(config.maxRootDistanceNs > 0)) throw new RangeError(`maxRootDistanceNs must be > 0`);
    this.config = config;
    this.pollExp = minPoll;
    this.pollFloorExp = minPoll;
    this.burstLeft = config.iburst ? config.burstCount : 0;
  }

  /**
   * The timer fired (or the source starts: call it once with the current time). When a poll is due,
   * returns the request to send now — `t1LocalNs` is T1, so read it just before — and the next
   * wake-up. `cookie` must be 64 fresh random bits, non-zero.
   */
  handleTimer(t1LocalNs: bigint, cookie: bigint): NtpSourceAction[] {
    if (this.state !== 'running') return [];
    if (this.nextPollLocalNs !== null && t1LocalNs < this.nextPollLocalNs) {
      return [{ type: 'wakeAt', localNs: this.nextPollLocalNs }];
    }
    if (cookie <= 0n || cookie >= 1n << 64n) throw new RangeError('cookie must be a non-zero 64-bit value');
    const actions: NtpSourceAction[] = [];
    this.reach = (this.reach << 1) & 0xff;
    this.polls++;
    if (this.reach === 0 && this.polls > 8) {
      if (!this.unreachableLogged) {
        this.unreachableLogged = true;
        actions.push(this.log('warn', 'NTP server unreachable: no answer to the last 8 polls'));
      }
      if (this.pollExp < this.config.maxPoll) {
        this.pollExp++;
        this.pollCounter = 0;
      }
    }
    const sent: SentCookie = { cookie, t1LocalNs, answered: false };
    this.outstanding = sent;
    this.history.push(sent);
    if (this.history.length > COOKIE_HISTORY) this.history.shift();
    this.counters.sent++;
    actions.push({ type: 'send', packet: encodeNtpPacket(clientRequest(cookie, this.pollExp)) });
    let intervalNs: bigint;
    if (this.burstLeft > 1) {
      this.burstLeft--;
      intervalNs = BigInt(Math.round(this.config.burstIntervalNs));
    } else {
      this.burstLeft = 0;
      intervalNs = pollIntervalNs(this.pollExp);
    }
    this.nextPollLocalNs = t1LocalNs + intervalNs;
    actions.push({ type: 'wakeAt', localNs: this.nextPollLocalNs });
    return actions;
  }

  /** A datagram from an address other than the server's (counted; the driver drops it). */
  handleForeignPacket(): void {
    this.counters.dropped['wrong-source']++;
  }

  /** A datagram from the server's address; `t4LocalNs` read the moment it arrived. */
  handleReply(bytes: Uint8Array, t4LocalNs: bigint): NtpSourceAction[] {
    this.counters.received++;
    if (this.state !== 'running') return [];
    const decoded = decodeNtpPacket(bytes, { modes: [NTP_MODE.server] });
    if (!decoded.ok) return this.drop(decoded.error.reason);
    const p = decoded.packet;

    // The origin check comes before anything in the packet is believed (see the header).
    const req = this.outstanding;
    if (req === null || p.originTs !== req.cookie) {
      const known = this.history.find((h) => h.cookie === p.originTs);
      return this.drop(
        known === undefined
          ? req === null
            ? 'no-request'
            : 'bogus-origin'
          : known.answered
            ? 'duplicate'
            : 'stale',
      );
    }
    req.answered = true;
    this.outstanding = null;
    this.reach |= 1;
    this.unreachableLogged = false;
    this.last = { leap: p.leap, stratum: p.stratum, referenceId: p.referenceId };

    const code = kissCode(p);
    if (code !== null) return this.handleKiss(code, p.poll, t4LocalNs, req);

    if (p.leap === LEAP_UNSYNCHRONIZED || p.stratum >= STRATUM_UNSYNCHRONIZED) {
      const actions = this.drop('unsynchronized');
      if (!this.unsynchronized) {
        this.unsynchronized = true;
        actions.push(
          this.log('warn', 'NTP server is unsynchronized: not used', { leap: p.leap, stratum: p.stratum }),
        );
      }
      return actions;
    }
    if (p.receiveTs === 0n || p.transmitTs === 0n) return this.drop('zero-timestamp');

    const t1 = req.t1LocalNs;
    const t2 = ntp64ToUnixNs(p.receiveTs, t1);
    const t3 = ntp64ToUnixNs(p.transmitTs, t1);
    if (t3 < t2) return this.drop('time-reversed');
    const delayNs = Number(t4LocalNs - t1 - (t3 - t2));
    if (delayNs < 0) return this.drop('negative-delay');
    const offsetNs = Number(t2 - t1 + (t3 - t4LocalNs)) / 2;
    const rootDistanceNs = p.rootDelayNs / 2 + p.rootDispersionNs;
    if (rootDistanceNs > this.config.maxRootDistanceNs) return this.drop('root-distance');

    const actions: NtpSourceAction[] = [];
    if (this.unsynchronized) {
      this.unsynchronized = false;
      actions.push(this.log('info', 'NTP server is synchronized again', { stratum: p.stratum }));
    }
    const localNs = t1 + (t4LocalNs - t1) / 2n;
    if (this.burstLeft === 0) this.adaptPoll(offsetNs, delayNs, localNs);
    this.prevSample = this.lastSample;
    this.lastSample = { offsetNs, delayNs, rootDistanceNs, localNs };
    this.counters.samples++;
    const sample: ReferenceSample = {
      refId: this.config.url,
      kind: 'ntp',
      localNs,
      offsetNs,
      errorNs: rootDistanceNs,
      delayNs,
      stratum: p.stratum,
    };
    actions.push({
      type: 'sample',
      sample,
      measurement: {
        server: this.config.url,
        offsetNs,
        delayNs,
        stratum: p.stratum,
        errorNs: rootDistanceNs + delayNs / 2,
        localNs,
      },
    });
    return actions;
  }

  /** Stops the association (the driver is shutting down). */
  stop(): void {
    if (this.state === 'running') this.state = 'stopped';
  }

  snapshot(): NtpSourceSnapshot {
    const s = this.lastSample;
    let status: NtpSourceStatus;
    if (this.state === 'denied') status = 'denied';
    else if (this.state === 'stopped') status = 'stopped';
    else if (this.polls === 0 || (this.last === null && this.polls <= 8)) status = 'starting';
    else if (this.reach === 0) status = 'unreachable';
    else if (this.unsynchronized) status = 'unsynchronized';
    else status = 'ok';
    return {
      url: this.config.url,
      state: this.state,
      status,
      reach: this.reach,
      pollExp: this.pollExp,
      pollIntervalS: 2 ** this.pollExp,
      leap: this.last?.leap ?? null,
      stratum: this.last?.stratum ?? null,
      referenceId: this.last === null ? null : formatReferenceId(this.last.referenceId),
      offsetNs: s?.offsetNs ?? null,
      delayNs: s?.delayNs ?? null,
      rootDistanceNs: s?.rootDistanceNs ?? null,
      errorNs: s === null ? null : s.rootDistanceNs + s.delayNs / 2,
      lastSampleLocalNs: s?.localNs ?? null,
      kiss: this.kiss === null ? null : { ...this.kiss },
      counters: {
        ...this.counters,
        dropped: { ...this.counters.dropped },
        kisses: { ...this.counters.kisses },
      },
    };
  }

  // ---- internals ----------------------------------------------------------------------------------

  private handleKiss(
    code: string,
    serverPoll: number,
    t4LocalNs: bigint,
    req: SentCookie,
  ): NtpSourceAction[] {
    // Known codes by name, anything else as 'other': a server must not grow this map (or the
    // metric's label set) by inventing codes.
    const key = Object.hasOwn(KISS_CODES, code) ? code : 'other';
    this.counters.kisses[key] = (this.counters.kisses[key] ?? 0) + 1;
    this.kiss = { code, count: (this.kiss?.code === code ? this.kiss.count : 0) + 1, lastLocalNs: t4LocalNs };
    const actions = this.drop('kiss');
    if (code === 'DENY' || code === 'RSTR') {
      this.state = 'denied';
      this.nextPollLocalNs = null;
      actions.push(
        this.log(
          'warn',
          `NTP server sent Kiss-o'-Death ${code}: it refuses to serve us, not polling it any more`,
          {
            kiss: code,
          },
        ),
      );
      actions.push({ type: 'stop', reason: `kiss-o'-death ${code}` });
      return actions;
    }
    if (code === 'RATE') {
      // Poll at least twice as slowly as the request that drew the kiss, and never faster than the
      // server's own poll field suggests; the floor keeps the adaptation from coming back down.
      const exp = Math.min(Math.max(this.pollExp + 1, serverPoll), NTP_POLL_EXP_MAX);
      this.pollExp = exp;
      this.pollFloorExp = Math.max(this.pollFloorExp, exp);
      this.pollCounter = 0;
      this.burstLeft = 0;
      this.nextPollLocalNs = req.t1LocalNs + pollIntervalNs(exp);
      actions.push(
        this.log('warn', `NTP server sent Kiss-o'-Death RATE: backing off to a ${2 ** exp} s poll interval`, {
          kiss: code,
          pollIntervalS: 2 ** exp,
        }),
      );
      actions.push({ type: 'wakeAt', localNs: this.nextPollLocalNs });
      return actions;
    }
    actions.push(this.log('info', `NTP server sent Kiss-o'-Death ${code}: reply ignored`, { kiss: code }));
    return actions;
  }

  private adaptPoll(offsetNs: number, delayNs: number, localNs: bigint): void {
    const last = this.lastSample;
    if (last === null) return;
    let predictedNs = last.offsetNs;
    const prev = this.prevSample;
    if (prev !== null && last.localNs > prev.localNs) {
      // Carry the last offset forward along the drift between the last two samples: the raw
      // oscillator is not disciplined, so a steady drift is expected and must not count as noise.
      const slope = (last.offsetNs - prev.offsetNs) / Number(last.localNs - prev.localNs);
      predictedNs += slope * Number(localNs - last.localNs);
    }
    const residualNs = Math.abs(offsetNs - predictedNs);
    const gateNs = POLL_GATE * Math.max(this.jitterNs, delayNs / 2);
    this.jitterNs = Math.sqrt(this.jitterNs ** 2 + (residualNs ** 2 - this.jitterNs ** 2) / 4);
    const step = Math.max(1, this.pollExp);
    if (residualNs <= gateNs) {
      this.pollCounter += step;
      if (this.pollCounter > POLL_ADJUST_LIMIT) {
        this.pollCounter = 0;
        if (this.pollExp < this.config.maxPoll) this.pollExp++;
      }
    } else {
      this.pollCounter -= 2 * step;
      if (this.pollCounter < -POLL_ADJUST_LIMIT) {
        this.pollCounter = 0;
        if (this.pollExp > this.pollFloorExp) this.pollExp--;
      }
    }
  }

  private drop(reason: NtpDropReason): NtpSourceAction[] {
    this.counters.dropped[reason]++;
    return [];
  }

  private log(
    level: 'info' | 'warn',
    message: string,
    fields: Record<string, unknown> = {},
  ): NtpSourceAction {
    return { type: 'log', level, message, fields: { server: this.config.url, ...fields } };
  }
}

function pollIntervalNs(exp: number): bigint {
  return BigInt(Math.round(2 ** exp * 1e9));
}
