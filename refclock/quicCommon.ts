/**
 * What the TSQ server and client share about QUIC (@matrixai/quic): the ALPN protocol ids, the
 * library's crypto callbacks, a logger that stays quiet, and readable names for the TLS alerts a
 * failed handshake reports.
 *
 * ALPN: the draft says `tsq`, the prototype's servers use `tsq/1`; both sides offer both, and a
 * client refuses a connection that negotiated anything else (refclock/quicDatagram.ts reads it).
 */
import { createHmac, randomBytes, timingSafeEqual, webcrypto } from 'node:crypto';
import Logger, { LogLevel } from '@matrixai/logger';
import type { QUICClientCrypto, QUICServerCrypto } from '@matrixai/quic';

export const TSQ_ALPNS: readonly string[] = ['tsq', 'tsq/1'];
/** The draft's default port (the prototype's stream server used 8443). */
export const TSQ_DEFAULT_PORT = 443;

/**
 * The server's crypto for stateless retry tokens and connection ids: HMAC-SHA256 under a random
 * per-process key (the library signs the client's address into the token with it).
 */
export function serverCrypto(): QUICServerCrypto {
  const key = randomBytes(32);
  const mac = (k: ArrayBuffer, data: ArrayBuffer): Buffer =>
    createHmac('sha256', Buffer.from(k)).update(Buffer.from(data)).digest();
  return {
    key: key.buffer.slice(key.byteOffset, key.byteOffset + key.byteLength),
    ops: {
      sign: async (k, data) => {
        const d = mac(k, data);
        return d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength) as ArrayBuffer;
      },
      verify: async (k, data, sig) => {
        const expected = mac(k, data);
        const given = Buffer.from(sig);
        return given.length === expected.length && timingSafeEqual(given, expected);
      },
    },
  };
}

export function clientCrypto(): QUICClientCrypto {
  return {
    ops: {
      randomBytes: async (data: ArrayBuffer) => {
        webcrypto.getRandomValues(new Uint8Array(data));
      },
    },
  };
}

/** @matrixai/quic logs every connection at INFO to the console by default; ours logs nothing. */
export function silentQuicLogger(name: string): Logger {
  return new Logger(name, LogLevel.SILENT);
}

const TLS_ALERT_NAMES: Record<number, string> = {
  40: 'handshake_failure',
  42: 'bad_certificate',
  43: 'unsupported_certificate',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  48: 'unknown_ca',
  80: 'internal_error',
  116: 'certificate_required',
  120: 'no_application_protocol',
};

/** "TLS alert 120 (no_application_protocol)" for QUIC crypto error codes 0x100–0x1ff. */
export function describeQuicErrorCode(code: number): string {
  if (code >= 0x100 && code <= 0x1ff) {
    const alert = code - 0x100;
    return `TLS alert ${alert} (${TLS_ALERT_NAMES[alert] ?? 'see RFC 8446'})`;
  }
  return `QUIC error ${code}`;
}

/** The QUIC error code carried by a @matrixai/quic connection error, if any. */
export function quicErrorCodeOf(error: unknown): number | null {
  let e: unknown = error;
  for (let depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++) {
    const data = (e as { data?: { errorCode?: unknown } }).data;
    if (data !== undefined && typeof data.errorCode === 'number') return data.errorCode;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}
