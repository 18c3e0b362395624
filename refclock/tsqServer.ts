/**
 * The TSQ server: answers TSQ requests over QUIC with the node's time (TimeView.serveTime), in stream
 * and datagram mode.
 *
 * - ALPN `tsq` and `tsq/1`; a client offering anything else fails the handshake with TLS alert 120
 *   (no_application_protocol).
 * - Stream mode: one bidirectional stream per exchange. The server reads the request (at most 1024
 *   bytes), stamping T2 when its first bytes are read; it answers as soon as the bytes read parse as a
 *   complete TLV sequence with a Nonce, or at the stream's end. T3 is taken just before the response
 *   is encoded (and signed) and written; then the server closes its side. A malformed request gets
 *   one Error TLV alone (code 1 malformed, code 2 for a TLV that has no place in a request, code 3
 *   when a signature is requested and no key is configured); a request not complete within
 *   `requestTimeoutMs` gets code 1 too.
 * - Datagram mode (QUIC DATAGRAM frames, through refclock/quicDatagram.ts): one request datagram, one
 *   response datagram. Anything that is not a valid request — and a signature request without a key,
 *   and a response too large for one datagram — is dropped silently, as the draft requires; the
 *   client then retries over a stream, where it gets the Error TLV.
 * - Precision Mode is echoed and the response padded to the request's exact length when it fits in
 *   it; otherwise neither echo nor padding is sent (see tsqCodec.encodeTsqResponse).
 * - A Metadata Query is answered with the node's state (`server`, `status`, `anchor`, `stratum`,
 *   `root-distance-ns`) plus any configured pairs, sorted by key.
 * - Clock Quality and Time Source Info come from the served time at T3 (mapping in
 *   tsqCodec.clockQualityFromServed); the drift rate is `driftRatePpb` (the node's maxDriftPpm).
 * - Connections idle for `idleTimeoutMs` are closed (the prototype keeps them a few seconds); at most
 *   `maxConnections` at once, later ones are closed at once.
 */
import { QUICServer, events } from '@matrixai/quic';
import type { QUICConnection, QUICStream } from '@matrixai/quic';
import { TimemeshError } from '../hlc/errors.ts';
import type { ServedTime } from '../node/core/types.ts';
import { unixNsToNtp64 } from './ntpTimestamp.ts';
import { TSQ_ALPNS, serverCrypto, silentQuicLogger } from './quicCommon.ts';
import { openDatagramChannel, quicDatagramSupport } from './quicDatagram.ts';
import type { DatagramChannel } from './quicDatagram.ts';
import { generateSelfSignedCertificate, loadOrCreateSelfSigned, loadTlsFiles } from './tlsCert.ts';
import type { SelfSignedOptions, TlsMaterial } from './tlsCert.ts';
import {
  TSQ_ERROR,
  TSQ_REQUEST_BYTES_MAX,
  clockQualityFromServed,
  decodeTsqRequest,
  encodeTsqError,
  encodeTsqResponse,
  parseTlvs,
  TLV,
} from './tsqCodec.ts';
import type { MetadataPair, TsqErrorCode, TsqRequest, TsqSigner } from './tsqCodec.ts';
import type { TimeView } from './types.ts';

export interface TsqServerOptions {
  /** Address to listen on (127.0.0.1, ::1, 0.0.0.0, ::) and UDP port (0: any free port). */
  host: string;
  port: number;
  /** The node's clock: raw local readings and what to serve for them. */
  timeView: TimeView;
  /** A configured certificate (PEM, leaf first) and key; both or neither. */
  certFile?: string;
  keyFile?: string;
  /**
   * Without certFile/keyFile: where the self-signed certificate is kept (created on first start).
   * With neither, an in-memory self-signed certificate is made for this run (tests).
   */
  certDir?: string;
  /** Extra DNS names / IP addresses for a generated certificate. */
  certNames?: Pick<SelfSignedOptions, 'dnsNames' | 'ipAddresses'>;
  /** Signs responses that ask for it; without one, signature requests get Error code 3. */
  signer?: TsqSigner;
  /** Extra metadata pairs, answered to Metadata Queries (keys must not clash with the built-in ones). */
  metadata?: MetadataPair[];
  /** Clock Quality's drift rate, ppb (default 15 000: the core's default maxDriftPpm of 15 ppm). */
  driftRatePpb?: number;
  /** Clock Quality's source tag and Time Source Info's text (defaults: anchor kind, "timemesh <status>"). */
  sourceTag?: string;
  sourceInfo?: string;
  /** Offer QUIC datagrams (default true). */
  datagrams?: boolean;
  idleTimeoutMs?: number;
  requestTimeoutMs?: number;
  maxConnections?: number;
}

export interface TsqServerCounters {
  connections: number;
  connectionsRefused: number;
  streamRequests: number;
  datagramRequests: number;
  responses: number;
  signedResponses: number;
  errorResponses: Record<TsqErrorCode, number>;
  datagramsDropped: number;
  precisionHonoured: number;
  precisionNotHonoured: number;
  streamFailures: number;
  /** Connections whose datagram channel could not be opened (see quicDatagram.ts). */
  datagramChannelFailures: number;
}

export interface TsqServer {
  readonly host: string;
  readonly port: number;
  /** The certificate in use (PEM) and its SHA-256 fingerprint; certFile when it lives in a file. */
  readonly certificate: {
    certPem: string;
    fingerprintSha256: string;
    certFile: string | null;
    created: boolean;
  };
  /** Whether datagram mode is on (requested and supported by this @matrixai/quic). */
  readonly datagrams: boolean;
  counters(): TsqServerCounters;
  stop(): Promise<void>;
}

export class TsqServerConfigError extends TimemeshError {
  constructor(message: string) {
    super('TM_ERR_CONFIG', message);
  }
}

const BUILT_IN_METADATA_KEYS = ['server', 'status', 'anchor', 'stratum', 'root-distance-ns'];
const DEFAULT_DRIFT_RATE_PPB = 15_000;

/** Starts a TSQ server; resolves once it listens. */
export async function startTsqServer(options: TsqServerOptions): Promise<TsqServer> {
  const idleTimeoutMs = options.idleTimeoutMs ?? 5000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 2000;
  const maxConnections = options.maxConnections ?? 512;
  const driftRatePpb = options.driftRatePpb ?? DEFAULT_DRIFT_RATE_PPB;
  for (const [key] of options.metadata ?? []) {
    if (BUILT_IN_METADATA_KEYS.includes(key)) {
      throw new TsqServerConfigError(
        `TSQ metadata key "${key}" is built in (${BUILT_IN_METADATA_KEYS.join(', ')})`,
      );
    }
  }
  try {
    // Configured metadata must fit the format (each pair in one TLV, no duplicate keys).
    const probe = options.timeView.serveTime(options.timeView.localNowNs());
    encodeTsqResponse({
      nonce: new Uint8Array(16),
      receiveTimestamp: 0n,
      sendTimestamp: 0n,
      metadata: metadataFor(probe, options.metadata ?? []),
    });
  } catch (error) {
    throw new TsqServerConfigError(`TSQ server metadata: ${(error as Error).message}`);
  }
  if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
    throw new TsqServerConfigError('TSQ server: give both a certificate file and a key file, or neither');
  }
  let tls: TlsMaterial;
  let certFile: string | null = null;
  let created = false;
  if (options.certFile !== undefined && options.keyFile !== undefined) {
    tls = await loadTlsFiles(options.certFile, options.keyFile);
    certFile = options.certFile;
  } else if (options.certDir !== undefined) {
    const kept = await loadOrCreateSelfSigned(options.certDir, options.certNames);
    tls = kept;
    certFile = kept.certFile;
    created = kept.created;
  } else {
    tls = await generateSelfSignedCertificate(options.certNames);
    created = true;
  }
  const datagrams = (options.datagrams ?? true) && quicDatagramSupport().supported;

  const counters: TsqServerCounters = {
    connections: 0,
    connectionsRefused: 0,
    streamRequests: 0,
    datagramRequests: 0,
    responses: 0,
    signedResponses: 0,
    errorResponses: { 1: 0, 2: 0, 3: 0 },
    datagramsDropped: 0,
    precisionHonoured: 0,
    precisionNotHonoured: 0,
    streamFailures: 0,
    datagramChannelFailures: 0,
  };

  /** The response to one request, or a code and reason for an Error TLV. */
  const answer = (
    bytes: Uint8Array,
    t2LocalNs: bigint,
  ): { ok: true; bytes: Uint8Array } | { ok: false; code: TsqErrorCode; reason: string } => {
    const decoded = decodeTsqRequest(bytes);
    if (!decoded.ok) return { ok: false, code: decoded.error.tsqErrorCode, reason: decoded.error.message };
    const request = decoded.message;
    if (request.signatureRequest && options.signer === undefined) {
      return { ok: false, code: TSQ_ERROR.AUTHENTICATION_REQUIRED, reason: 'this server has no signing key' };
    }
    const served2 = options.timeView.serveTime(t2LocalNs);
    // T3: as late as possible, just before the response is encoded, signed and written.
    const t3LocalNs = options.timeView.localNowNs();
    const served3 = options.timeView.serveTime(t3LocalNs);
    const encoded = encodeTsqResponse({
      nonce: request.nonce,
      receiveTimestamp: unixNsToNtp64(served2.timeNs),
      sendTimestamp: unixNsToNtp64(served3.timeNs),
      ...clockQualityFromServed(served3, {
        driftRatePpb,
        ...(options.sourceTag === undefined ? {} : { sourceTag: options.sourceTag }),
        ...(options.sourceInfo === undefined ? {} : { sourceInfo: options.sourceInfo }),
      }),
      ...(request.metadataQuery ? { metadata: metadataFor(served3, options.metadata ?? []) } : {}),
      ...(request.precisionMode ? { precisionTargetBytes: request.byteLength } : {}),
      ...(options.signer === undefined || !request.signatureRequest ? {} : { signer: options.signer }),
    });
    count(request, encoded.precisionHonoured);
    return { ok: true, bytes: encoded.bytes };
  };

  const count = (request: TsqRequest, precisionHonoured: boolean): void => {
    counters.responses++;
    if (request.signatureRequest) counters.signedResponses++;
    if (request.precisionMode) {
      if (precisionHonoured) counters.precisionHonoured++;
      else counters.precisionNotHonoured++;
    }
  };

  const server = new QUICServer({
    crypto: serverCrypto(),
    logger: silentQuicLogger('tsq-server'),
    config: {
      key: tls.keyPem,
      cert: tls.certPem,
      applicationProtos: [...TSQ_ALPNS],
      verifyPeer: false,
      maxIdleTimeout: idleTimeoutMs,
      enableDgram: datagrams ? [true, 64, 64] : [false, 0, 0],
    },
  });

  const live = new Set<QUICConnection>();
  const channels = new Map<QUICConnection, DatagramChannel>();

  const onStream = (stream: QUICStream): void => {
    counters.streamRequests++;
    void serveStream(stream).catch(() => {
      counters.streamFailures++;
      void stream.destroy({ force: true }).catch(() => undefined);
    });
  };

  const serveStream = async (stream: QUICStream): Promise<void> => {
    const reader = stream.readable.getReader();
    const chunks: Uint8Array[] = [];
    let length = 0;
    let t2LocalNs: bigint | null = null;
    let reply: Uint8Array;
    let readDone = false;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), requestTimeoutMs);
    });
    try {
      for (;;) {
        const next = await Promise.race([reader.read(), timedOut]);
        if (next === 'timeout') {
          reply = errorReply(TSQ_ERROR.MALFORMED_REQUEST, 'incomplete request (timed out)');
          break;
        }
        readDone = next.done;
        if (next.value !== undefined && next.value.length > 0) {
          t2LocalNs ??= options.timeView.localNowNs();
          chunks.push(next.value);
          length += next.value.length;
        }
        if (length > TSQ_REQUEST_BYTES_MAX) {
          reply = errorReply(
            TSQ_ERROR.MALFORMED_REQUEST,
            `request longer than ${TSQ_REQUEST_BYTES_MAX} bytes`,
          );
          break;
        }
        const bytes = concat(chunks, length);
        if (next.done || looksComplete(bytes)) {
          if (t2LocalNs === null) {
            reply = errorReply(TSQ_ERROR.MALFORMED_REQUEST, 'empty request');
            break;
          }
          const a = answer(bytes, t2LocalNs);
          reply = a.ok ? a.bytes : errorReply(a.code, a.reason);
          break;
        }
      }
      const writer = stream.writable.getWriter();
      await writer.write(reply);
      await writer.close();
      // A client that finished its request closes its side right after: wait for that rather than
      // cancel (a STOP_SENDING frame costs both ends a packet). Cancel what is still open after the
      // request timeout or 1024 bytes.
      while (!readDone && length <= TSQ_REQUEST_BYTES_MAX) {
        const next = await Promise.race([reader.read(), timedOut]);
        if (next === 'timeout') break;
        readDone = next.done;
        length += next.value?.length ?? 0;
      }
    } finally {
      clearTimeout(timer);
    }
    reader.releaseLock();
    if (!readDone) await stream.readable.cancel().catch(() => undefined);
  };

  const errorReply = (code: TsqErrorCode, reason: string): Uint8Array => {
    counters.errorResponses[code]++;
    return encodeTsqError(code, reason);
  };

  const onConnection = (connection: QUICConnection): void => {
    if (live.size >= maxConnections) {
      counters.connectionsRefused++;
      void connection.stop({ isApp: true, errorCode: 1, force: true }).catch(() => undefined);
      return;
    }
    counters.connections++;
    live.add(connection);
    connection.addEventListener(events.EventQUICConnectionStream.name, (evt: Event) => {
      onStream((evt as events.EventQUICConnectionStream).detail);
    });
    connection.addEventListener(
      events.EventQUICConnectionStopped.name,
      () => {
        live.delete(connection);
        channels.get(connection)?.close();
        channels.delete(connection);
      },
      { once: true },
    );
    if (datagrams) {
      try {
        const channel = openDatagramChannel(
          connection,
          (payload) => {
            const t2LocalNs = options.timeView.localNowNs();
            counters.datagramRequests++;
            const a = answer(payload, t2LocalNs);
            if (!a.ok || !channel.send(a.bytes)) counters.datagramsDropped++;
          },
          () => {
            counters.datagramsDropped++;
          },
        );
        channels.set(connection, channel);
      } catch {
        // The library's internals changed under a running server (quicDatagramSupport passed):
        // this connection is served over streams only, and clients fall back to them.
        counters.datagramChannelFailures++;
      }
    }
  };

  server.addEventListener(events.EventQUICServerConnection.name, (evt: Event) => {
    onConnection((evt as events.EventQUICServerConnection).detail);
  });

  await server.start({ host: options.host, port: options.port });
  let stopped = false;
  return {
    host: server.host,
    port: server.port,
    certificate: { certPem: tls.certPem, fingerprintSha256: tls.fingerprintSha256, certFile, created },
    datagrams,
    counters: () => structuredClone(counters),
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      for (const channel of channels.values()) channel.close();
      channels.clear();
      await server.stop({ isApp: true, force: true });
    },
  };
}

/** Whole TLVs with a Nonce: a request a client finished writing, even if it did not close its side. */
function looksComplete(bytes: Uint8Array): boolean {
  if (bytes.length === 0) return false;
  const parsed = parseTlvs(bytes);
  return parsed.ok && parsed.tlvs.some((t) => t.type === TLV.NONCE);
}

function metadataFor(served: ServedTime, extra: MetadataPair[]): MetadataPair[] {
  return [
    ['server', 'timemesh'],
    ['status', served.status],
    ['anchor', served.anchorKind],
    ['stratum', String(served.stratum)],
    [
      'root-distance-ns',
      Number.isFinite(served.rootDistanceNs) ? String(Math.round(served.rootDistanceNs)) : 'unbounded',
    ],
    ...extra,
  ];
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
