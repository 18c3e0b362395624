/**
 * The TSQ client: measures one TSQ server (`tsq://host:port?mode=stream|datagram`) against the node's
 * raw local oscillator, one-shot (`measure`) or polling and feeding the node (`start`).
 *
 * - QUIC with ALPN `tsq` and `tsq/1` offered; a connection that negotiated anything else is closed and
 *   the exchange fails (`alpn-mismatch`).
 * - Server certificate: checked against a CA file (`caFile`, or `caPem`) — natively by quiche for a
 *   server name, by tlsCert.verifyServerCertificateForIp for an IP address — or against the system's
 *   CAs when neither is given. `insecure: true` skips the check: for tests only.
 * - Stream mode: one bidirectional stream per exchange; T1 just before the request is written, T4 when
 *   the first bytes of the response are read. Datagram mode: one QUIC datagram each way (through
 *   refclock/quicDatagram.ts); when no datagram answer with our nonce arrives within
 *   `datagramTimeoutMs`, or the server did not enable datagrams, the exchange is retried over a stream
 *   (`fellBack: true`), as the draft requires.
 * - Every exchange uses a fresh 16-byte nonce from the CSPRNG. The draft's checks discard an exchange
 *   (with a counted reason): nonce missing or different, δ ≤ 0, T3 < T2, T4 < T1, |θ| > `maxOffsetNs`;
 *   also an Error TLV, a malformed response, a Precision Mode echo whose length differs from the
 *   request's, and — with a `verifier` — a missing or bad signature.
 * - Signatures: with `verifier` (tsqKeys.ed25519Verifier with a pinned public key, or hmacVerifier)
 *   every request carries a Signature Request and every response must be signed by that key.
 * - Polling (`start(sink)`): every `pollIntervalMs` a burst of `burst` exchanges on one connection;
 *   the one with the smallest delay becomes a ReferenceSample (kind 'tsq', refId = the URL, errorNs =
 *   the server's estimated error, delayNs = δ, stratum from Time Source Info). As for NTP
 *   (ntpSource.ts), the core's clock filter adds δ/2 itself; the measurement's own `errorNs` (what
 *   `timemesh sync` shows) includes it. Samples without a usable
 *   error bound or from an unsynchronized server (no Clock Quality, error field saturated, no Time
 *   Source Info, stratum 0) are measured but not fed: the core needs honest error bounds.
 *
 * Failures from the network are values (`{ ok: false, reason }`), never exceptions; only a bad URL or
 * bad options throw (TsqClientConfigError).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { QUICClient } from '@matrixai/quic';
import type { QUICConnection, QUICStream } from '@matrixai/quic';
import { TimemeshError } from '../hlc/errors.ts';
import { ntp64ToUnixNs } from './ntpTimestamp.ts';
import {
  TSQ_ALPNS,
  TSQ_DEFAULT_PORT,
  clientCrypto,
  describeQuicErrorCode,
  quicErrorCodeOf,
  silentQuicLogger,
} from './quicCommon.ts';
import { negotiatedAlpn, openDatagramChannel, quicDatagramSupport } from './quicDatagram.ts';
import type { DatagramChannel } from './quicDatagram.ts';
import {
  TlsCertError,
  pemCertificatesToDer,
  splitPemCertificates,
  verifyServerCertificateForIp,
} from './tlsCert.ts';
import { NONCE_BYTES, decodeTsqResponse, encodeTsqRequest } from './tsqCodec.ts';
import type { ClockQuality, MetadataPair, TimeSourceInfo } from './tsqCodec.ts';
import { TSQ_MAX_OFFSET_NS_DEFAULT, checkNonce, evaluateTsqTimes, serverErrorNs } from './tsqExchange.ts';
import type { TsqRejection } from './tsqExchange.ts';
import type { TsqVerifier } from './tsqKeys.ts';
import type { ReferenceSampleSink, UpstreamMeasurement } from './types.ts';

export type TsqMode = 'stream' | 'datagram';

export interface TsqServerAddress {
  /** The URL as given (the refId of its samples). */
  url: string;
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  port: number;
  mode: TsqMode;
}

export class TsqClientConfigError extends TimemeshError {
  constructor(message: string) {
    super('TM_ERR_CONFIG', message);
  }
}

/** Parses `tsq://host[:port][?mode=stream|datagram]` (port 443 and stream mode by default). */
export function parseTsqUrl(url: string): TsqServerAddress {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TsqClientConfigError(`not a TSQ URL: "${url}" (expected tsq://host:port?mode=stream|datagram)`);
  }
  if (u.protocol !== 'tsq:') throw new TsqClientConfigError(`a TSQ URL starts with tsq://, got "${url}"`);
  if (u.username !== '' || u.password !== '' || (u.pathname !== '' && u.pathname !== '/') || u.hash !== '') {
    throw new TsqClientConfigError(`a TSQ URL is tsq://host:port?mode=stream|datagram, got "${url}"`);
  }
  const rawHost = u.hostname;
  const host = rawHost.startsWith('[') && rawHost.endsWith(']') ? rawHost.slice(1, -1) : rawHost;
  if (host === '') throw new TsqClientConfigError(`TSQ URL "${url}" has no host`);
  const port = u.port === '' ? TSQ_DEFAULT_PORT : Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TsqClientConfigError(`TSQ URL "${url}": port must be 1..65535`);
  }
  let mode: TsqMode = 'stream';
  for (const [key, value] of u.searchParams) {
    if (key !== 'mode')
      throw new TsqClientConfigError(`TSQ URL "${url}": unknown parameter "${key}" (only mode)`);
    if (value !== 'stream' && value !== 'datagram') {
      throw new TsqClientConfigError(`TSQ URL "${url}": mode must be stream or datagram, got "${value}"`);
    }
    mode = value;
  }
  return { url, host, port, mode };
}

export interface TsqClientOptions {
  /** The node's raw local oscillator (TimeView.localNowNs): T1 and T4 are read from it. */
  clock: { localNowNs(): bigint };
  /** CA certificates (PEM file or text) the server's certificate must chain to. */
  caFile?: string;
  caPem?: string;
  /** Name to verify the certificate against (default: the URL's host). */
  serverName?: string;
  /** Skip certificate verification. For tests only. */
  insecure?: boolean;
  /** Require responses signed by this key (sends a Signature Request). */
  verifier?: TsqVerifier;
  /** Ask for Precision Mode, padding requests to `precisionBytes` (default 256). */
  precisionMode?: boolean;
  precisionBytes?: number;
  /** Ask for the server's metadata. */
  metadataQuery?: boolean;
  /** Sanity bound on |offset| (default 1000 s). */
  maxOffsetNs?: number;
  connectTimeoutMs?: number;
  /** Time allowed for one stream exchange (default 2000 ms). */
  exchangeTimeoutMs?: number;
  /** Wait for a datagram answer before retrying over a stream (default 500 ms). */
  datagramTimeoutMs?: number;
  /** QUIC idle timeout of the client's connection (default 10 s). */
  idleTimeoutMs?: number;
  /** Polling: interval and exchanges per poll (defaults 16 s, 3). */
  pollIntervalMs?: number;
  burst?: number;
}

export type TsqFailure =
  | 'connect-failed'
  | 'alpn-mismatch'
  | 'timeout'
  | 'stream-error'
  | 'malformed-response'
  | 'server-error'
  | 'precision-length-mismatch'
  | 'signature-missing'
  | 'signature-algorithm'
  | 'signature-key-id'
  | 'signature-invalid'
  | TsqRejection;

export interface TsqMeasurement extends UpstreamMeasurement {
  /** The transport that carried this exchange, and whether it was a stream retry of a datagram one. */
  mode: TsqMode;
  fellBack: boolean;
  alpn: string;
  /** The server's own error bound from Clock Quality, ns (null: none sent, or saturated). */
  serverErrorNs: number | null;
  /** True when the sample is fit for the core: error bound known, stratum ≥ 1. */
  usable: boolean;
  clockQuality: ClockQuality | null;
  timeSourceInfo: TimeSourceInfo | null;
  metadata: MetadataPair[] | null;
  signed: boolean;
  /** Request and response sizes; `precisionHonoured` when the server echoed Precision Mode. */
  requestBytes: number;
  responseBytes: number;
  precisionHonoured: boolean;
  t1LocalNs: bigint;
  t2ServerNs: bigint;
  t3ServerNs: bigint;
  t4LocalNs: bigint;
}

export type TsqResult =
  { ok: true; measurement: TsqMeasurement } | { ok: false; reason: TsqFailure; detail: string };

export interface TsqClientCounters {
  exchanges: number;
  ok: number;
  failed: Partial<Record<TsqFailure, number>>;
  datagramAttempts: number;
  fallbacks: number;
  connects: number;
  polls: number;
  samplesFed: number;
  samplesUnusable: number;
}

interface Connected {
  client: QUICClient;
  alpn: string;
  channel: DatagramChannel | null;
  /** Waiters for datagram answers, by nonce (hex). */
  waiting: Map<string, (bytes: Uint8Array, t4LocalNs: bigint) => void>;
}

const DEFAULT_PRECISION_BYTES = 256;
/** Far above any TSQ response (TLVs of ≤ 257 bytes, a few of each); more is not a TSQ server. */
const RESPONSE_BYTES_MAX = 64 * 1024;

export class TsqClient {
  readonly server: TsqServerAddress;
  private readonly o: TsqClientOptions;
  private connected: Connected | null = null;
  private connecting: Promise<Connected | { reason: TsqFailure; detail: string }> | null = null;
  private readonly caPem: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private stopped = false;
  /** An unexpected error from the last poll (a bug: network failures are counted, not thrown). */
  lastPollError: unknown = null;
  private readonly c: TsqClientCounters = {
    exchanges: 0,
    ok: 0,
    failed: {},
    datagramAttempts: 0,
    fallbacks: 0,
    connects: 0,
    polls: 0,
    samplesFed: 0,
    samplesUnusable: 0,
  };

  constructor(url: string, options: TsqClientOptions) {
    this.server = parseTsqUrl(url);
    this.o = options;
    if (options.insecure && (options.caFile !== undefined || options.caPem !== undefined)) {
      throw new TsqClientConfigError('TSQ client: insecure and a CA are mutually exclusive');
    }
    const precision = options.precisionBytes ?? DEFAULT_PRECISION_BYTES;
    if (!Number.isInteger(precision) || precision < 64 || precision > 1024) {
      throw new TsqClientConfigError(`TSQ client: precisionBytes must be 64..1024, got ${precision}`);
    }
    const burst = options.burst ?? 3;
    if (!Number.isInteger(burst) || burst < 1 || burst > 16) {
      throw new TsqClientConfigError(`TSQ client: burst must be 1..16, got ${burst}`);
    }
    const poll = options.pollIntervalMs ?? 16_000;
    if (!(poll >= 1000)) {
      throw new TsqClientConfigError(`TSQ client: pollIntervalMs must be ≥ 1000, got ${poll}`);
    }
    if (options.caFile !== undefined && options.caPem !== undefined) {
      throw new TsqClientConfigError('TSQ client: give caFile or caPem, not both');
    }
    // Read now: a missing or bad CA file is the operator's mistake, reported when the client is made.
    if (options.caFile !== undefined) {
      try {
        this.caPem = readFileSync(options.caFile, 'utf8');
      } catch (error) {
        throw new TlsCertError(
          `cannot read the CA file ${options.caFile}: ${(error as Error).message}`,
          error,
        );
      }
    } else if (options.caPem !== undefined) {
      this.caPem = options.caPem;
    }
    if (this.caPem !== null && pemCertificatesToDer(this.caPem).length === 0) {
      throw new TlsCertError(`the CA ${options.caFile ?? '(caPem)'} holds no PEM certificate`);
    }
  }

  counters(): TsqClientCounters {
    return structuredClone(this.c);
  }

  /** One exchange (connecting first when there is no open connection). */
  async measure(): Promise<TsqResult> {
    const result = await this.exchangeOnce();
    this.c.exchanges++;
    if (result.ok) this.c.ok++;
    else this.c.failed[result.reason] = (this.c.failed[result.reason] ?? 0) + 1;
    return result;
  }

  /** Polls the server, feeding the best sample of each burst to `sink`, until stop(). */
  start(sink: ReferenceSampleSink): void {
    if (this.timer !== null || this.polling !== null) return;
    this.stopped = false;
    const interval = this.o.pollIntervalMs ?? 16_000;
    const tick = (): void => {
      this.timer = null;
      this.polling = this.poll(sink)
        .catch((error: unknown) => {
          // Network trouble is a counted failure inside poll(); what lands here is a bug.
          this.lastPollError = error;
        })
        .finally(() => {
          this.polling = null;
          if (!this.stopped) {
            this.timer = setTimeout(tick, interval);
            this.timer.unref();
          }
        });
    };
    tick();
  }

  /** Stops polling and closes the connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.polling;
    await this.disconnect();
  }

  private async poll(sink: ReferenceSampleSink): Promise<void> {
    this.c.polls++;
    let best: TsqMeasurement | null = null;
    for (let i = 0; i < (this.o.burst ?? 3) && !this.stopped; i++) {
      const r = await this.measure();
      if (r.ok && (best === null || r.measurement.delayNs < best.delayNs)) best = r.measurement;
      if (!r.ok && (r.reason === 'connect-failed' || r.reason === 'alpn-mismatch')) break;
    }
    if (best === null || this.stopped) return;
    if (!best.usable) {
      this.c.samplesUnusable++;
      return;
    }
    this.c.samplesFed++;
    sink({
      refId: this.server.url,
      kind: 'tsq',
      localNs: best.localNs,
      offsetNs: best.offsetNs,
      // The server's error only: the clock filter adds δ/2 (counting it here too would double it).
      errorNs: best.serverErrorNs ?? best.errorNs,
      delayNs: best.delayNs,
      stratum: best.stratum,
    });
  }

  private async exchangeOnce(): Promise<TsqResult> {
    const c = await this.connect();
    if ('reason' in c) return { ok: false, reason: c.reason, detail: c.detail };
    if (this.server.mode === 'datagram') {
      const max = c.channel?.maxPayloadBytes() ?? null;
      if (c.channel !== null && max !== null) {
        this.c.datagramAttempts++;
        const r = await this.datagramExchange(c, c.channel);
        if (r !== null) return r;
      }
      this.c.fallbacks++;
      return this.streamExchange(c, true);
    }
    return this.streamExchange(c, false);
  }

  private newRequest(): { nonce: Uint8Array; bytes: Uint8Array } {
    const nonce = new Uint8Array(randomBytes(NONCE_BYTES));
    const bytes = encodeTsqRequest({
      nonce,
      metadataQuery: this.o.metadataQuery === true,
      precisionMode: this.o.precisionMode === true,
      signatureRequest: this.o.verifier !== undefined,
      ...(this.o.precisionMode ? { padToBytes: this.o.precisionBytes ?? DEFAULT_PRECISION_BYTES } : {}),
    });
    return { nonce, bytes };
  }

  /** A datagram exchange; null when no answer came in time (the caller falls back to a stream). */
  private async datagramExchange(c: Connected, channel: DatagramChannel): Promise<TsqResult | null> {
    const { nonce, bytes } = this.newRequest();
    const key = Buffer.from(nonce).toString('hex');
    const timeoutMs = this.o.datagramTimeoutMs ?? 500;
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<{ bytes: Uint8Array; t4LocalNs: bigint } | null>((resolve) => {
      c.waiting.set(key, (b, t4LocalNs) => resolve({ bytes: b, t4LocalNs }));
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    const t1LocalNs = this.o.clock.localNowNs();
    const sent = channel.send(bytes);
    const got = sent ? await answer : null;
    clearTimeout(timer);
    c.waiting.delete(key);
    if (got === null) return null;
    return this.judge(c, 'datagram', false, nonce, bytes.length, got.bytes, t1LocalNs, got.t4LocalNs);
  }

  private async streamExchange(c: Connected, fellBack: boolean): Promise<TsqResult> {
    const { nonce, bytes } = this.newRequest();
    const timeoutMs = this.o.exchangeTimeoutMs ?? 2000;
    let stream;
    try {
      stream = c.client.connection.newStream('bidi');
    } catch (error) {
      await this.disconnect();
      return {
        ok: false,
        reason: 'stream-error',
        detail: `cannot open a stream: ${(error as Error).message}`,
      };
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const reader = stream.readable.getReader();
    let readDone = false;
    let destroyed = false;
    try {
      const writer = stream.writable.getWriter();
      const t1LocalNs = this.o.clock.localNowNs();
      await writer.write(bytes);
      await writer.close();
      const chunks: Uint8Array[] = [];
      let t4LocalNs: bigint | null = null;
      let length = 0;
      for (;;) {
        const next = await Promise.race([reader.read(), timedOut]);
        if (next === 'timeout') {
          destroyed = true;
          void stream.destroy({ force: true }).catch(() => undefined);
          return { ok: false, reason: 'timeout', detail: `no complete response within ${timeoutMs} ms` };
        }
        if (next.value !== undefined && next.value.length > 0) {
          t4LocalNs ??= this.o.clock.localNowNs();
          chunks.push(next.value);
          length += next.value.length;
        }
        readDone = next.done;
        if (next.done || length > RESPONSE_BYTES_MAX) break;
        // A server that keeps its side open: a response that already parses whole is taken.
        if (this.responseComplete(Buffer.concat(chunks, length))) break;
      }
      if (t4LocalNs === null) return { ok: false, reason: 'malformed-response', detail: 'empty response' };
      const response = new Uint8Array(Buffer.concat(chunks, length));
      return this.judge(c, 'stream', fellBack, nonce, bytes.length, response, t1LocalNs, t4LocalNs);
    } catch (error) {
      destroyed = true;
      void stream.destroy({ force: true }).catch(() => undefined);
      return { ok: false, reason: 'stream-error', detail: (error as Error).message };
    } finally {
      clearTimeout(timer);
      if (readDone || destroyed) {
        try {
          reader.releaseLock();
        } catch {
          // A read still pending on a destroyed stream: nothing left to release.
        }
      } else {
        void finishReading(reader, stream);
      }
    }
  }

  /** Whether `bytes` is a whole response (with its Signature Block when one is required). */
  private responseComplete(bytes: Uint8Array): boolean {
    const d = decodeTsqResponse(bytes);
    if (!d.ok) return false;
    if (d.message.kind === 'error') return true;
    return d.message.nonce !== null && (this.o.verifier === undefined || d.message.signature !== null);
  }

  private judge(
    c: Connected,
    mode: TsqMode,
    fellBack: boolean,
    nonce: Uint8Array,
    requestBytes: number,
    responseBytes: Uint8Array,
    t1LocalNs: bigint,
    t4LocalNs: bigint,
  ): TsqResult {
    const decoded = decodeTsqResponse(responseBytes);
    if (!decoded.ok) return { ok: false, reason: 'malformed-response', detail: decoded.error.message };
    const r = decoded.message;
    if (r.kind === 'error') {
      return { ok: false, reason: 'server-error', detail: `Error TLV code ${r.code}: ${r.reason}` };
    }
    const nonceProblem = checkNonce(nonce, r);
    if (nonceProblem !== null) return { ok: false, reason: nonceProblem, detail: nonceProblem };
    if (this.o.verifier !== undefined) {
      const check = this.o.verifier.verify(r.signature);
      if (!check.ok) return { ok: false, reason: check.reason, detail: check.reason };
    }
    if (r.precisionMode && r.byteLength !== requestBytes) {
      return {
        ok: false,
        reason: 'precision-length-mismatch',
        detail: `Precision Mode echoed but the response is ${r.byteLength} bytes, the request ${requestBytes}`,
      };
    }
    const t2ServerNs = ntp64ToUnixNs(r.receiveTimestamp, t4LocalNs);
    const t3ServerNs = ntp64ToUnixNs(r.sendTimestamp, t4LocalNs);
    const judged = evaluateTsqTimes(
      { t1LocalNs, t2ServerNs, t3ServerNs, t4LocalNs },
      this.o.maxOffsetNs ?? TSQ_MAX_OFFSET_NS_DEFAULT,
    );
    if (!judged.ok)
      return {
        ok: false,
        reason: judged.reason,
        detail: describeTimes(t1LocalNs, t2ServerNs, t3ServerNs, t4LocalNs),
      };
    const f = judged.figures;
    const serverError = serverErrorNs(r);
    const stratum = r.timeSourceInfo?.stratum ?? 0;
    return {
      ok: true,
      measurement: {
        server: this.server.url,
        offsetNs: f.offsetNs,
        delayNs: f.delayNs,
        stratum,
        errorNs: (serverError ?? 65_535_000) + f.delayNs / 2,
        localNs: f.localNs,
        mode,
        fellBack,
        alpn: c.alpn,
        serverErrorNs: serverError,
        usable: serverError !== null && stratum >= 1,
        clockQuality: r.clockQuality,
        timeSourceInfo: r.timeSourceInfo,
        metadata: r.metadata,
        signed: r.signature !== null,
        requestBytes,
        responseBytes: r.byteLength,
        precisionHonoured: r.precisionMode,
        t1LocalNs,
        t2ServerNs,
        t3ServerNs,
        t4LocalNs,
      },
    };
  }

  private async connect(): Promise<Connected | { reason: TsqFailure; detail: string }> {
    const existing = this.connected;
    if (existing !== null && !existing.client.closed && !existing.client.connection.closed) return existing;
    if (existing !== null) await this.disconnect();
    this.connecting ??= this.openConnection().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async openConnection(): Promise<Connected | { reason: TsqFailure; detail: string }> {
    const { host, port } = this.server;
    const o = this.o;
    const ca = this.caPem === null ? undefined : splitPemCertificates(this.caPem);
    const caDers = this.caPem === null ? [] : pemCertificatesToDer(this.caPem);
    const byIp = isIP(host) !== 0 && o.serverName === undefined;
    const datagrams = this.server.mode === 'datagram' && quicDatagramSupport().supported;
    let client: QUICClient;
    try {
      client = await QUICClient.createQUICClient(
        {
          host,
          port,
          ...(o.serverName !== undefined ? { serverName: o.serverName } : {}),
          ...(isIP(host) === 4 ? { localHost: '0.0.0.0' } : {}),
          crypto: clientCrypto(),
          logger: silentQuicLogger('tsq-client'),
          config: {
            applicationProtos: [...TSQ_ALPNS],
            verifyPeer: o.insecure !== true,
            ...(ca !== undefined ? { ca } : {}),
            ...(o.insecure !== true && byIp
              ? {
                  verifyCallback: async (certs: Uint8Array[]) =>
                    (await verifyServerCertificateForIp(certs, caDers, host)) as never,
                }
              : {}),
            maxIdleTimeout: o.idleTimeoutMs ?? 10_000,
            enableDgram: datagrams ? [true, 64, 64] : [false, 0, 0],
          },
        },
        { timer: o.connectTimeoutMs ?? 3000 },
      );
    } catch (error) {
      const code = quicErrorCodeOf(error);
      const why = code === null ? (error as Error).message : describeQuicErrorCode(code);
      return { reason: 'connect-failed', detail: `${this.server.url}: ${why}` };
    }
    this.c.connects++;
    let alpn: string;
    try {
      alpn = negotiatedAlpn(client.connection);
    } catch (error) {
      await client.destroy({ force: true }).catch(() => undefined);
      return { reason: 'alpn-mismatch', detail: (error as Error).message };
    }
    if (!TSQ_ALPNS.includes(alpn)) {
      await client.destroy({ isApp: true, errorCode: 0, force: true }).catch(() => undefined);
      return {
        reason: 'alpn-mismatch',
        detail: `negotiated ALPN "${alpn}", expected one of ${TSQ_ALPNS.join(', ')}`,
      };
    }
    const connected: Connected = { client, alpn, channel: null, waiting: new Map() };
    if (datagrams) {
      connected.channel = openDatagramChannel(client.connection as QUICConnection, (payload) => {
        const t4LocalNs = this.o.clock.localNowNs();
        const decoded = decodeTsqResponse(payload);
        if (!decoded.ok || decoded.message.kind !== 'time' || decoded.message.nonce === null) return;
        const waiter = connected.waiting.get(Buffer.from(decoded.message.nonce).toString('hex'));
        waiter?.(payload, t4LocalNs);
      });
    }
    this.connected = connected;
    return connected;
  }

  private async disconnect(): Promise<void> {
    const c = this.connected;
    this.connected = null;
    if (c === null) return;
    c.channel?.close();
    await c.client.destroy({ isApp: true, errorCode: 0, force: true }).catch(() => undefined);
  }
}

/**
 * After a response was taken before the server's end of stream: read on (discarding) until it comes,
 * for at most a second, so the stream closes cleanly; then cancel what is left.
 */
async function finishReading(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  stream: QUICStream,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), 1000);
  });
  let done = false;
  try {
    let length = 0;
    while (!done && length <= RESPONSE_BYTES_MAX) {
      const next = await Promise.race([reader.read(), timedOut]);
      if (next === 'timeout') break;
      done = next.done;
      length += next.value?.length ?? 0;
    }
  } catch {
    done = true;
  } finally {
    clearTimeout(timer);
  }
  try {
    reader.releaseLock();
  } catch {
    // Nothing to release.
  }
  if (!done) await stream.readable.cancel().catch(() => undefined);
}

function describeTimes(t1: bigint, t2: bigint, t3: bigint, t4: bigint): string {
  return `T1 ${t1} T2 ${t2} T3 ${t3} T4 ${t4} (ns)`;
}
