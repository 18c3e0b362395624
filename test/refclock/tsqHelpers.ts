// Fixtures for the TSQ tests: a TimeView over the host clock with a chosen offset (the server's clock
// runs `offsetNs` ahead of ours; no clock is ever set, the offset is added to readings), and a bare QUIC client for sending bytes the
// TsqClient never would.
import { QUICClient } from '@matrixai/quic';
import { hostOscillator } from '../../node/localClock.ts';
import type { ServedTime } from '../../node/core/types.ts';
import { TSQ_ALPNS, clientCrypto, silentQuicLogger } from '../../refclock/quicCommon.ts';
import type { TimeView } from '../../refclock/types.ts';

export const MS = 1e6;

/**
 * One oscillator for the whole test process, so the server's clock is exactly `offsetNs` ahead of the
 * client's (two hostOscillators each read the realtime clock once, at creation, and need not agree).
 */
const base = hostOscillator();

/** A server clock `offsetNs` ahead of ours, serving with fixed quality fields. */
export function fakeTimeView(offsetNs: number, over: Partial<ServedTime> = {}): TimeView {
  const offset = BigInt(Math.round(offsetNs));
  return {
    localNowNs: () => base.nowNs() + offset,
    serveTime: (localNs) => ({
      timeNs: localNs,
      earliestNs: localNs - 1_000_000n,
      latestNs: localNs + 1_000_000n,
      rootDistanceNs: 1_000_000,
      status: 'anchored',
      stratum: 2,
      anchorKind: 'gps',
      lastUpdateLocalNs: localNs,
      ...over,
    }),
  };
}

/** Our own clock. */
export function hostClock(): { localNowNs(): bigint } {
  return { localNowNs: () => base.nowNs() };
}

/** A plain QUIC connection to a TSQ server (no certificate check), for raw bytes. */
export async function rawClient(
  port: number,
  options: { alpns?: string[]; datagrams?: boolean; host?: string } = {},
): Promise<QUICClient> {
  return QUICClient.createQUICClient(
    {
      host: options.host ?? '127.0.0.1',
      port,
      localHost: options.host === '::1' ? '::' : '0.0.0.0',
      crypto: clientCrypto(),
      logger: silentQuicLogger('tsq-test'),
      config: {
        applicationProtos: options.alpns ?? [...TSQ_ALPNS],
        verifyPeer: false,
        maxIdleTimeout: 5000,
        enableDgram: options.datagrams ? [true, 64, 64] : [false, 0, 0],
      },
    },
    { timer: 3000 },
  );
}

/** Writes `request` on a new stream of `client`, closes its side, and returns everything read back. */
export async function rawStreamExchange(client: QUICClient, request: Uint8Array): Promise<Uint8Array> {
  const stream = client.connection.newStream('bidi');
  const writer = stream.writable.getWriter();
  if (request.length > 0) await writer.write(request);
  await writer.close();
  const chunks: Uint8Array[] = [];
  const reader = stream.readable.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (value) chunks.push(value);
    if (done) break;
  }
  return new Uint8Array(Buffer.concat(chunks));
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
