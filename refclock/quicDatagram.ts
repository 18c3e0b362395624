/**
 * The one place that reaches into @matrixai/quic's internals: QUIC DATAGRAM frames (RFC 9221) and the
 * negotiated ALPN. @matrixai/quic 2.x has no public API for either: its config has an `enableDgram`
 * flag that turns the transport parameter on, and each QUICConnection holds the native quiche
 * connection in an undocumented `conn` field, whose `dgramSend`, `dgramRecvVec`,
 * `dgramMaxWritableLen` and `applicationProto` are quiche's own calls.
 *
 * How datagrams flow through this adapter:
 * - Receiving: quiche queues incoming DATAGRAM frames while QUICConnection's internal `recv(data,
 *   remoteInfo)` processes packets; nothing in the library reads that queue. The adapter replaces
 *   `recv` on the one connection instance with a wrapper that calls the original and then drains the
 *   queue (`dgramRecvVec` until null) into the handler. Closing the channel restores the original.
 * - Sending: `dgramSend` queues the payload in quiche; the library's internal `send()` then flushes
 *   quiche's packets to the socket (the same call the library makes after a stream write).
 *
 * Everything here is checked at run time (`quicDatagramSupport()` once per process, `internalsOf`
 * per connection): a library upgrade that renames or removes one of these internals makes
 * `openDatagramChannel` throw a `QuicInternalsError` naming the missing piece instead of failing
 * silently; test/refclock/tsqDatagramAdapter.test.ts fails loudly on it too. TSQ clients fall back to
 * stream mode when datagrams are unsupported, as the draft requires for a missing datagram answer.
 */
import type { QUICConnection } from '@matrixai/quic';
import { QUICConnection as QUICConnectionClass, native } from '@matrixai/quic';
import { TimemeshError } from '../hlc/errors.ts';

export const QUIC_INTERNALS_ERROR_CODE = 'TM_ERR_QUIC_INTERNALS';

/** @matrixai/quic no longer has an internal this adapter relies on; `missing` names it. */
export class QuicInternalsError extends TimemeshError {
  readonly missing: string;
  constructor(missing: string, detail = '') {
    super(
      QUIC_INTERNALS_ERROR_CODE,
      `@matrixai/quic internals changed: ${missing} is missing${detail ? ` (${detail})` : ''}; ` +
        `QUIC datagrams (and the ALPN check) need refclock/quicDatagram.ts updated for this version`,
    );
    this.missing = missing;
  }
}

interface NativeConnection {
  dgramSend(data: Uint8Array): void | null;
  dgramRecvVec(): Uint8Array | null;
  dgramMaxWritableLen(): number | null;
  applicationProto(): Uint8Array;
}

interface ConnectionInternals {
  conn: NativeConnection;
  recv(data: Uint8Array, remoteInfo: unknown): Promise<void>;
  send(): Promise<void>;
}

const NATIVE_METHODS = ['dgramSend', 'dgramRecvVec', 'dgramMaxWritableLen', 'applicationProto'] as const;
const CONNECTION_METHODS = ['recv', 'send'] as const;

/**
 * Whether this @matrixai/quic still has the internals datagrams need, checked on the classes (no
 * connection needed). Cached.
 */
export function quicDatagramSupport():
  { supported: true } | { supported: false; reason: string; missing: string } {
  cachedSupport ??= checkSupport();
  return cachedSupport;
}
let cachedSupport: ReturnType<typeof quicDatagramSupport> | undefined;

function checkSupport(): ReturnType<typeof quicDatagramSupport> {
  const proto = (QUICConnectionClass as unknown as { prototype: Record<string, unknown> }).prototype;
  for (const m of CONNECTION_METHODS) {
    if (typeof proto[m] !== 'function') {
      const missing = `QUICConnection.prototype.${m}`;
      return { supported: false, missing, reason: new QuicInternalsError(missing).message };
    }
  }
  const nativeConnection = (
    native as unknown as { quiche?: { Connection?: { prototype?: Record<string, unknown> } } }
  ).quiche?.Connection?.prototype;
  if (nativeConnection === undefined) {
    const missing = 'native.quiche.Connection';
    return { supported: false, missing, reason: new QuicInternalsError(missing).message };
  }
  for (const m of NATIVE_METHODS) {
    if (typeof nativeConnection[m] !== 'function') {
      const missing = `native.quiche.Connection.prototype.${m}`;
      return { supported: false, missing, reason: new QuicInternalsError(missing).message };
    }
  }
  return { supported: true };
}

/** The internals of one connection, or a QuicInternalsError naming what is missing. */
function internalsOf(connection: QUICConnection): ConnectionInternals {
  const support = quicDatagramSupport();
  if (!support.supported) throw new QuicInternalsError(support.missing);
  const c = connection as unknown as Partial<ConnectionInternals> & Record<string, unknown>;
  const conn = c.conn as unknown as Record<string, unknown> | undefined;
  if (conn === undefined || conn === null || typeof conn !== 'object') {
    throw new QuicInternalsError('QUICConnection.conn', 'the native quiche connection field');
  }
  for (const m of NATIVE_METHODS) {
    if (typeof conn[m] !== 'function') throw new QuicInternalsError(`QUICConnection.conn.${m}`);
  }
  for (const m of CONNECTION_METHODS) {
    if (typeof c[m] !== 'function') throw new QuicInternalsError(`QUICConnection.${m}`);
  }
  return c as ConnectionInternals;
}

/** The ALPN protocol the handshake settled on ('' when none). */
export function negotiatedAlpn(connection: QUICConnection): string {
  const proto = internalsOf(connection).conn.applicationProto();
  return Buffer.from(proto).toString('utf8');
}

export interface DatagramChannel {
  /**
   * The largest datagram payload the peer accepts now, or null when the peer did not enable QUIC
   * datagrams (then nothing can be sent).
   */
  maxPayloadBytes(): number | null;
  /**
   * Queues one datagram and flushes it to the socket. False when it cannot be sent: the peer has no
   * datagram support, the payload is too large for one datagram (no fragmentation), the send queue is
   * full, or the connection is closing.
   */
  send(payload: Uint8Array): boolean;
  /** Stops delivering datagrams and restores the connection's own receive path. Idempotent. */
  close(): void;
}

const channels = new WeakSet<QUICConnection>();

/**
 * Delivers every QUIC datagram the connection receives to `onDatagram`, synchronously, right after
 * the packet that carried it was processed (so a receive timestamp taken in the handler is as close
 * to the socket as this library allows). One channel per connection. A handler that throws is a bug:
 * its error goes to `onHandlerError` (default: rethrown outside the library's receive path).
 */
export function openDatagramChannel(
  connection: QUICConnection,
  onDatagram: (payload: Uint8Array) => void,
  onHandlerError: (error: unknown) => void = (error) => {
    queueMicrotask(() => {
      throw error;
    });
  },
): DatagramChannel {
  const internals = internalsOf(connection);
  if (channels.has(connection))
    throw new QuicInternalsError('a second datagram channel', 'one per connection');
  channels.add(connection);
  const originalRecv = internals.recv;
  let open = true;
  const drain = (): void => {
    while (open) {
      let payload: Uint8Array | null;
      try {
        payload = internals.conn.dgramRecvVec();
      } catch {
        return;
      }
      if (payload === null) return;
      try {
        onDatagram(payload);
      } catch (error) {
        onHandlerError(error);
      }
    }
  };
  // An own property shadows the prototype's recv for this one instance.
  Object.defineProperty(connection, 'recv', {
    configurable: true,
    writable: true,
    value: async function recvWithDatagrams(data: Uint8Array, remoteInfo: unknown): Promise<void> {
      await originalRecv.call(connection, data, remoteInfo);
      drain();
    },
  });
  // Datagrams that arrived before the channel opened are already queued.
  drain();
  return {
    maxPayloadBytes(): number | null {
      if (!open || connection.closed) return null;
      try {
        return internals.conn.dgramMaxWritableLen();
      } catch {
        return null;
      }
    },
    send(payload: Uint8Array): boolean {
      if (!open || connection.closed) return false;
      try {
        const max = internals.conn.dgramMaxWritableLen();
        if (max === null || payload.length > max) return false;
        // quiche's Err(Done), a full send queue, comes back as null.
        if (internals.conn.dgramSend(payload) === null) return false;
      } catch {
        return false;
      }
      // Flush now; the library reports its own send failures as connection error events.
      internals.send.call(connection).catch(() => undefined);
      return true;
    },
    close(): void {
      if (!open) return;
      open = false;
      delete (connection as unknown as Record<string, unknown>).recv;
      channels.delete(connection);
    },
  };
}
