/**
 * The node's NTP server: answers NTP client requests (mode 3, versions 3 and 4) with the node's time,
 * so chrony, ntpd or any SNTP client can use the mesh. Off unless the operator names an address
 * (`--serve-ntp HOST:PORT`); port 123 needs root or CAP_NET_BIND_SERVICE.
 *
 * What a reply says (RFC 5905 fields ← `TimeView.serveTime`, node/core/types.ts `ServedTime`):
 * - receive timestamp T2: serveTime(raw local reading taken first thing in the 'message' handler);
 *   transmit timestamp T3: serveTime(raw local reading taken just before the send), written into
 *   the encoded packet last. node:dgram has no kernel timestamps, so event-loop latency between the
 *   kernel and these readings is charged to the client's measured delay, not hidden.
 * - origin: the request's transmit timestamp, bit for bit (whatever it is: chrony sends a random one).
 * - stratum: ServedTime.stratum (the node's best source's + 1); while the node is unsynchronized,
 *   stratum 16 and leap indicator 3 ("alarm"), so no client selects it. Otherwise leap indicator 0
 *   (the core tracks no leap seconds).
 * - root delay 0 and root dispersion = ServedTime.rootDistanceNs, rounded up to the 16.16 format.
 *   The node's uncertainty interval already contains every delay and dispersion on the way to its
 *   anchors, and a client's root distance is rootDelay/2 + rootDispersion, so it sees exactly the
 *   node's bound. (Splitting it into a delay part would change nothing a client computes.)
 * - reference id: stratum 1 → an ASCII tag of the anchor kind (GPS, PPS, LOCL, TSQ, …); stratum 2–15
 *   → a 4-byte id of this node (the daemon passes a hash of its peer id; RFC 5905 uses an address or
 *   an address hash here, mostly for loop detection); unsynchronized → 0, as chrony sends.
 * - reference timestamp: when the node's clock was last updated (ServedTime.lastUpdateLocalNs, mapped
 *   to served time), 0 if never.
 * - precision: −20 (≈ 1 µs): the cost of reading the clock in JavaScript; the event loop adds more,
 *   which clients see as delay.
 *
 * Defences: a datagram that is not a well-formed NTPv3/v4 client request is dropped and counted by
 * reason (short packet, bad version, not a client request); nothing a peer sends can throw. Bytes
 * after the 48-byte header (extension fields, a MAC) are tolerated and ignored: the answer is the
 * plain header. Each client IP has a token bucket (`ratePerSecond`, `burst`); a request over the
 * limit gets a Kiss-o'-Death RATE, at most one per `kissIntervalMs` per client, and is otherwise
 * dropped silently (counted). Replies are never larger than requests, so the server is useless as an
 * amplifier. The bucket table is bounded (`maxClients`, least recently seen evicted).
 */
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { AnchorKind } from '../hlc/timeTypes.ts';
import type { ServedTime } from '../node/core/types.ts';
import type { TimeView } from './types.ts';
import {
  LEAP_UNSYNCHRONIZED,
  NTP_MODE,
  STRATUM_UNSYNCHRONIZED,
  asciiReferenceId,
  decodeNtpPacket,
  encodeNtpPacket,
  toNtpTimestamp,
} from './ntpPacket.ts';
import type { NtpPacket } from './ntpPacket.ts';

/** log2 seconds of the clock reading's precision that replies claim (see the header). */
export const NTP_SERVER_PRECISION = -20;
export const NTP_SERVER_RATE_PER_SECOND_DEFAULT = 4;
export const NTP_SERVER_BURST_DEFAULT = 16;
export const NTP_SERVER_KISS_INTERVAL_MS_DEFAULT = 1000;
export const NTP_SERVER_MAX_CLIENTS_DEFAULT = 10_000;

/** Reference id tags for a stratum-1 node, by what anchors it. */
const STRATUM1_TAGS: Record<AnchorKind, string> = {
  gps: 'GPS',
  pps: 'PPS',
  local: 'LOCL',
  tsq: 'TSQ',
  ntp: 'NTP',
  reference: 'REF',
  mesh: 'MESH',
  none: 'NONE',
};

export const NTP_SERVER_OUTCOMES = [
  'served',
  'kiss-rate',
  'rate-limited',
  'short-packet',
  'bad-version',
  'not-client',
  'send-failed',
] as const;
export type NtpServerOutcome = (typeof NTP_SERVER_OUTCOMES)[number];

export interface NtpServerCounters {
  /** Datagrams received. */
  received: number;
  /** What became of them (served, kiss-rate, rate-limited, …). */
  outcomes: Record<NtpServerOutcome, number>;
}

export type NtpServerLog = (
  level: 'debug' | 'info' | 'warn' | 'error',
  msg: string,
  fields?: Record<string, unknown>,
) => void;

export interface NtpServerOptions {
  host: string;
  /** 0: any free port (see `address()`). */
  port: number;
  view: TimeView;
  /** Reference id for strata 2–15; default `hashReferenceId('timemesh')`. */
  referenceId?: number;
  /** Per-client token bucket: sustained requests per second and burst size. */
  ratePerSecond?: number;
  burst?: number;
  kissIntervalMs?: number;
  maxClients?: number;
  log?: NtpServerLog;
}

/** A 4-byte reference id from text (the first four bytes of its SHA-256), for strata 2–15. */
export function hashReferenceId(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/**
 * The reply to a client request, all but the transmit timestamp (the driver writes that last, just
 * before sending). Pure, exported for the tests.
 */
export function buildNtpReply(
  request: NtpPacket,
  recv: ServedTime,
  recvLocalNs: bigint,
  upstreamReferenceId: number,
): NtpPacket {
  const unsynchronized = recv.status === 'unsynchronized' || recv.stratum >= STRATUM_UNSYNCHRONIZED;
  const stratum = unsynchronized ? STRATUM_UNSYNCHRONIZED : Math.max(1, recv.stratum);
  const referenceId = unsynchronized
    ? 0
    : stratum === 1
      ? asciiReferenceId(STRATUM1_TAGS[recv.anchorKind])
      : upstreamReferenceId >>> 0;
  const last = recv.lastUpdateLocalNs;
  const referenceNs = last === null || last > recvLocalNs ? null : recv.timeNs - (recvLocalNs - last);
  return {
    leap: unsynchronized ? LEAP_UNSYNCHRONIZED : 0,
    version: request.version,
    mode: NTP_MODE.server,
    stratum,
    poll: request.poll,
    precision: NTP_SERVER_PRECISION,
    rootDelayNs: 0,
    rootDispersionNs: unsynchronized ? Infinity : recv.rootDistanceNs,
    referenceId,
    referenceTs: unsynchronized ? 0n : toNtpTimestamp(referenceNs),
    originTs: request.transmitTs,
    receiveTs: toNtpTimestamp(recv.timeNs),
    transmitTs: 0n,
  };
}

/** A Kiss-o'-Death RATE for a client request. */
export function buildKissRate(request: NtpPacket, timeNs: bigint): NtpPacket {
  return {
    leap: LEAP_UNSYNCHRONIZED,
    version: request.version,
    mode: NTP_MODE.server,
    stratum: 0,
    poll: request.poll,
    precision: NTP_SERVER_PRECISION,
    rootDelayNs: 0,
    rootDispersionNs: 0,
    referenceId: asciiReferenceId('RATE'),
    referenceTs: 0n,
    originTs: request.transmitTs,
    receiveTs: toNtpTimestamp(timeNs),
    transmitTs: toNtpTimestamp(timeNs),
  };
}

interface Bucket {
  tokens: number;
  lastLocalNs: bigint;
  lastKissLocalNs: bigint | null;
}

export class NtpServer {
  private readonly o: NtpServerOptions;
  private readonly log: NtpServerLog;
  private readonly ratePerSecond: number;
  private readonly burst: number;
  private readonly kissIntervalNs: bigint;
  private readonly maxClients: number;
  private readonly upstreamReferenceId: number;
  private readonly buckets = new Map<string, Bucket>();
  private socket: Socket | null = null;
  readonly counters: NtpServerCounters = {
    received: 0,
    outcomes: Object.fromEntries(NTP_SERVER_OUTCOMES.map((o) => [o, 0])) as Record<NtpServerOutcome, number>,
  };

  constructor(options: NtpServerOptions) {
    this.o = options;
    this.log = options.log ?? (() => {});
    this.ratePerSecond = options.ratePerSecond ?? NTP_SERVER_RATE_PER_SECOND_DEFAULT;
    this.burst = options.burst ?? NTP_SERVER_BURST_DEFAULT;
    this.kissIntervalNs = BigInt(
      Math.round((options.kissIntervalMs ?? NTP_SERVER_KISS_INTERVAL_MS_DEFAULT) * 1e6),
    );
    this.maxClients = options.maxClients ?? NTP_SERVER_MAX_CLIENTS_DEFAULT;
    this.upstreamReferenceId = options.referenceId ?? hashReferenceId('timemesh');
    if (!(this.ratePerSecond > 0) || !(this.burst >= 1)) {
      throw new RangeError(`NTP server rate limit needs ratePerSecond > 0 and burst ≥ 1`);
    }
    if (!Number.isInteger(this.maxClients) || this.maxClients < 1) {
      throw new RangeError(`NTP server maxClients must be an integer ≥ 1`);
    }
  }

  /** Binds the socket; rejects (e.g. EADDRINUSE, EACCES for port 123 without privileges). */
  async start(): Promise<{ host: string; port: number }> {
    if (this.socket !== null) return this.address();
    const socket = createSocket({ type: isIP(this.o.host) === 6 ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.o.port, this.o.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err) => this.log('warn', 'NTP server socket error', { err: err.message }));
    this.socket = socket;
    return this.address();
  }

  address(): { host: string; port: number } {
    if (this.socket === null) throw new Error('NTP server not started');
    const a = this.socket.address();
    return { host: a.address, port: a.port };
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    this.buckets.clear();
    if (socket === null) return;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    // T2 first: everything before it would be hidden from the client's delay measurement.
    const recvLocalNs = this.o.view.localNowNs();
    this.counters.received++;
    const decoded = decodeNtpPacket(msg, { modes: [NTP_MODE.client] });
    if (!decoded.ok) {
      this.count(decoded.error.reason === 'bad-mode' ? 'not-client' : decoded.error.reason);
      return;
    }
    const request = decoded.packet;
    const socket = this.socket;
    if (socket === null) return;

    const bucket = this.admit(rinfo.address, recvLocalNs);
    if (bucket !== null) {
      if (bucket.lastKissLocalNs !== null && recvLocalNs - bucket.lastKissLocalNs < this.kissIntervalNs) {
        this.count('rate-limited');
        return;
      }
      bucket.lastKissLocalNs = recvLocalNs;
      const kiss = encodeNtpPacket(buildKissRate(request, this.o.view.serveTime(recvLocalNs).timeNs));
      this.send(socket, kiss, rinfo, 'kiss-rate');
      return;
    }

    const recv = this.o.view.serveTime(recvLocalNs);
    const bytes = encodeNtpPacket(buildNtpReply(request, recv, recvLocalNs, this.upstreamReferenceId));
    // T3 last, straight into the encoded bytes, so only the send itself lies between it and the wire.
    const sendNs = this.o.view.serveTime(this.o.view.localNowNs()).timeNs;
    new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(40, toNtpTimestamp(sendNs));
    this.send(socket, bytes, rinfo, 'served');
  }

  private send(socket: Socket, bytes: Uint8Array, to: RemoteInfo, outcome: NtpServerOutcome): void {
    socket.send(bytes, to.port, to.address, (err) => {
      if (err) {
        this.count('send-failed');
        this.log('debug', 'NTP reply not sent', { to: to.address, err: err.message });
      } else {
        this.count(outcome);
      }
    });
  }

  /** Takes a token from the client's bucket: null when admitted, else the (over-limit) bucket. */
  private admit(address: string, nowLocalNs: bigint): Bucket | null {
    let b = this.buckets.get(address);
    if (b === undefined) {
      if (this.buckets.size >= this.maxClients) {
        // Least recently seen first: the map is kept in order of last access.
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      b = { tokens: this.burst, lastLocalNs: nowLocalNs, lastKissLocalNs: null };
    } else {
      this.buckets.delete(address);
      const elapsedS = Math.max(0, Number(nowLocalNs - b.lastLocalNs) / 1e9);
      b.tokens = Math.min(this.burst, b.tokens + elapsedS * this.ratePerSecond);
      b.lastLocalNs = nowLocalNs;
    }
    this.buckets.set(address, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return null;
    }
    return b;
  }

  private count(outcome: NtpServerOutcome): void {
    this.counters.outcomes[outcome]++;
  }
}
