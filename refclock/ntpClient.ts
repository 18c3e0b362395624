/**
 * The NTP client: drives one `NtpSource` (refclock/ntpSource.ts, the per-server logic) per upstream
 * server over UDP (node:dgram) and hands every valid sample to the node as a `ReferenceSample`
 * (kind 'ntp', refId `ntp://host:port`).
 *
 * Each server gets its own unconnected socket on an ephemeral port (so a reply to one association can
 * never be mistaken for another's), and datagrams from any address other than the server's are
 * dropped and counted. Host names are resolved once with the system resolver; a failed lookup is
 * retried every 2^minPoll s (at most 64 s).
 *
 * Timestamps. T1 is read from the node's raw oscillator (`TimeView.localNowNs`) just before the
 * request is encoded and sent; T4 is read first thing in the socket's 'message' handler. node:dgram
 * gives no kernel timestamps (no SO_TIMESTAMPNS), so both include event-loop latency: it lands in the
 * measured delay δ, whose half is part of the error bound, so the bound stays honest while the offset
 * gets noisier under load.
 *
 * Lifetimes: `start()` opens the sockets and starts polling (iburst first); `stop()` clears every
 * timer and closes every socket. A server that sends DENY/RSTR is stopped on its own (its socket
 * closed) and stays visible in `snapshot()` with status 'denied'.
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ReferenceSampleSink, TimeView, UpstreamMeasurement } from './types.ts';
import {
  NTP_BURST_COUNT_DEFAULT,
  NTP_BURST_INTERVAL_NS_DEFAULT,
  NTP_MAX_POLL_DEFAULT,
  NTP_MAX_ROOT_DISTANCE_NS_DEFAULT,
  NTP_MIN_POLL_DEFAULT,
  NtpSource,
} from './ntpSource.ts';
import type { NtpSourceAction, NtpSourceSnapshot } from './ntpSource.ts';

export interface NtpServerTarget {
  /** Canonical `ntp://host:port` (IPv6 in brackets): the sample's refId. */
  url: string;
  host: string;
  port: number;
  /** Per-server poll exponents; default the client's. */
  minPoll?: number;
  maxPoll?: number;
}

export type NtpLog = (
  level: 'debug' | 'info' | 'warn' | 'error',
  msg: string,
  fields?: Record<string, unknown>,
) => void;

export interface NtpClientOptions {
  servers: readonly NtpServerTarget[];
  /** The node's raw oscillator (only localNowNs is used). */
  view: Pick<TimeView, 'localNowNs'>;
  /** Where samples go (TimeService.addReferenceSample in the node). */
  sink: ReferenceSampleSink;
  /** Also told about every sample, with the full error bound (for `timemesh sync` and logs). */
  onMeasurement?: (m: UpstreamMeasurement) => void;
  /** Poll exponents: the interval is 2^minPoll..2^maxPoll s (default 6..10: 64 s to 1024 s). */
  minPoll?: number;
  maxPoll?: number;
  /** Start with a burst (default true): burstCount requests burstIntervalMs apart. */
  iburst?: boolean;
  burstCount?: number;
  burstIntervalMs?: number;
  /** Replies from servers further than this from their primary reference are dropped (default 3 s). */
  maxRootDistanceNs?: number;
  log?: NtpLog;
  /** Injectable for tests. */
  randomBytes?: (n: number) => Uint8Array;
  lookup?: (host: string) => Promise<{ address: string; family: number }>;
}

export interface NtpServerSnapshot extends NtpSourceSnapshot {
  host: string;
  port: number;
  /** The resolved address polled, or null while unresolved. */
  address: string | null;
  /** The local UDP port of this association's socket, or null when none is open. */
  localPort: number | null;
}

interface Association {
  target: NtpServerTarget;
  source: NtpSource;
  address: string | null;
  socket: Socket | null;
  timer: NodeJS.Timeout | null;
}

const RESOLVE_RETRY_MS_MAX = 64_000;

export class NtpClient {
  private readonly o: NtpClientOptions;
  private readonly associations: Association[];
  private readonly log: NtpLog;
  private readonly random: (n: number) => Uint8Array;
  private running = false;

  constructor(options: NtpClientOptions) {
    this.o = options;
    this.log = options.log ?? (() => {});
    this.random = options.randomBytes ?? ((n) => cryptoRandomBytes(n));
    const seen = new Set<string>();
    this.associations = options.servers.map((target) => {
      if (seen.has(target.url)) throw new RangeError(`NTP server listed twice: ${target.url}`);
      seen.add(target.url);
      return {
        target,
        source: new NtpSource({
          url: target.url,
          minPoll: target.minPoll ?? options.minPoll ?? NTP_MIN_POLL_DEFAULT,
          maxPoll: target.maxPoll ?? options.maxPoll ?? NTP_MAX_POLL_DEFAULT,
          iburst: options.iburst ?? true,
          burstCount: options.burstCount ?? NTP_BURST_COUNT_DEFAULT,
          burstIntervalNs: (options.burstIntervalMs ?? NTP_BURST_INTERVAL_NS_DEFAULT / 1e6) * 1e6,
          maxRootDistanceNs: options.maxRootDistanceNs ?? NTP_MAX_ROOT_DISTANCE_NS_DEFAULT,
        }),
        address: null,
        socket: null,
        timer: null,
      };
    });
  }

  /** Opens the sockets and starts polling. Returns once every socket is bound (lookups go on). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await Promise.all(this.associations.map((a) => this.open(a)));
  }

  /** Stops every association: clears the timers and closes the sockets. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(
      this.associations.map((a) => {
        a.source.stop();
        return this.close(a);
      }),
    );
  }

  snapshot(): NtpServerSnapshot[] {
    return this.associations.map((a) => {
      let localPort: number | null;
      try {
        localPort = a.socket?.address().port ?? null;
      } catch {
        localPort = null; // not bound yet, or closed
      }
      return {
        ...a.source.snapshot(),
        host: a.target.host,
        port: a.target.port,
        address: a.address,
        localPort,
      };
    });
  }

  // ---- per association ----------------------------------------------------------------------------

  private async open(a: Association): Promise<void> {
    const literal = isIP(a.target.host);
    if (literal !== 0) {
      a.address = a.target.host;
      await this.bind(a, literal === 6 ? 'udp6' : 'udp4');
      this.arm(a, this.o.view.localNowNs());
      return;
    }
    void this.resolve(a);
  }

  private async resolve(a: Association): Promise<void> {
    if (!this.running) return;
    const lookup = this.o.lookup ?? ((host: string) => dnsLookup(host));
    try {
      const { address, family } = await lookup(a.target.host);
      if (!this.running) return;
      a.address = address;
      await this.bind(a, family === 6 ? 'udp6' : 'udp4');
      this.arm(a, this.o.view.localNowNs());
    } catch (err) {
      if (!this.running) return;
      const retryMs = Math.min(
        2 ** (a.target.minPoll ?? this.o.minPoll ?? NTP_MIN_POLL_DEFAULT) * 1000,
        RESOLVE_RETRY_MS_MAX,
      );
      this.log('warn', 'cannot resolve NTP server; will retry', {
        server: a.target.url,
        retryS: retryMs / 1000,
        err: (err as Error).message,
      });
      a.timer = setTimeout(() => void this.resolve(a), retryMs);
      a.timer.unref();
    }
  }

  private bind(a: Association, type: 'udp4' | 'udp6'): Promise<void> {
    const socket = createSocket({ type });
    a.socket = socket;
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      // T4 first: everything else in this handler would otherwise count as network delay.
      const t4LocalNs = this.o.view.localNowNs();
      if (!sameAddress(rinfo.address, a.address) || rinfo.port !== a.target.port) {
        a.source.handleForeignPacket();
        return;
      }
      this.carryOut(a, a.source.handleReply(msg, t4LocalNs));
    });
    socket.on('error', (err) => {
      // Unconnected UDP sockets rarely error; whatever it is, the association goes on polling.
      this.log('warn', 'NTP client socket error', { server: a.target.url, err: err.message });
    });
    return new Promise((resolve, reject) => {
      const fail = (err: Error): void => {
        // Not bound: drop it, so a retry starts from a clean association.
        if (a.socket === socket) a.socket = null;
        try {
          socket.close();
        } catch {
          // already closed
        }
        reject(err);
      };
      socket.once('error', fail);
      socket.bind(0, () => {
        socket.off('error', fail);
        resolve();
      });
    });
  }

  private arm(a: Association, atLocalNs: bigint): void {
    if (a.timer !== null) clearTimeout(a.timer);
    if (!this.running || a.socket === null) return;
    const delayMs = Math.max(0, Number(atLocalNs - this.o.view.localNowNs()) / 1e6);
    a.timer = setTimeout(() => this.tick(a), Math.ceil(delayMs));
  }

  private tick(a: Association): void {
    a.timer = null;
    if (!this.running) return;
    const cookie = this.cookie();
    // T1: read just before the request is built and sent.
    const t1LocalNs = this.o.view.localNowNs();
    this.carryOut(a, a.source.handleTimer(t1LocalNs, cookie));
  }

  private cookie(): bigint {
    for (;;) {
      const b = this.random(8);
      const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
      if (v !== 0n) return v;
    }
  }

  private carryOut(a: Association, actions: NtpSourceAction[]): void {
    for (const action of actions) {
      switch (action.type) {
        case 'send':
          if (a.socket !== null && a.address !== null) {
            a.socket.send(action.packet, a.target.port, a.address, (err) => {
              if (err) this.log('debug', 'NTP request not sent', { server: a.target.url, err: err.message });
            });
          }
          break;
        case 'wakeAt':
          this.arm(a, action.localNs);
          break;
        case 'sample':
          try {
            this.o.sink(action.sample);
            this.o.onMeasurement?.(action.measurement);
          } catch (err) {
            // A bug in the consumer must not take the socket handler (and the process) down with it.
            this.log('error', 'NTP sample consumer failed', {
              server: a.target.url,
              err: (err as Error).message,
            });
          }
          break;
        case 'log':
          this.log(action.level, action.message, action.fields);
          break;
        case 'stop':
          void this.close(a);
          break;
      }
    }
  }

  private close(a: Association): Promise<void> {
    if (a.timer !== null) {
      clearTimeout(a.timer);
      a.timer = null;
    }
    const socket = a.socket;
    a.socket = null;
    if (socket === null) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
  }
}

/** Address equality that tolerates the spellings of one IPv6 address (::1 vs 0:0:0:0:0:0:0:1). */
function sameAddress(a: string, b: string | null): boolean {
  if (b === null) return false;
  if (a === b) return true;
  if (isIP(a) !== 6 || isIP(b) !== 6) return false;
  try {
    return new URL(`http://[${a}]`).hostname === new URL(`http://[${b}]`).hostname;
  } catch {
    return false;
  }
}
