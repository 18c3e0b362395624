// Guards refclock/quicDatagram.ts, the only code that reaches into @matrixai/quic internals. If a
// library upgrade renames or removes `QUICConnection.conn`, its `recv`/`send`, or quiche's dgram*
// calls, these tests fail with the name of what is missing: datagram mode (and the ALPN check) must
// then be ported before the upgrade lands.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { QUICServer, events } from '@matrixai/quic';
import type { QUICClient, QUICConnection } from '@matrixai/quic';
import { TSQ_ALPNS, serverCrypto, silentQuicLogger } from '../../refclock/quicCommon.ts';
import {
  QuicInternalsError,
  negotiatedAlpn,
  openDatagramChannel,
  quicDatagramSupport,
} from '../../refclock/quicDatagram.ts';
import type { DatagramChannel } from '../../refclock/quicDatagram.ts';
import { generateSelfSignedCertificate } from '../../refclock/tlsCert.ts';
import { rawClient } from './tsqHelpers.ts';

async function echoServer(
  datagrams: boolean,
): Promise<{ server: QUICServer; serverConnections: QUICConnection[] }> {
  const tls = await generateSelfSignedCertificate();
  const server = new QUICServer({
    crypto: serverCrypto(),
    logger: silentQuicLogger('adapter-test'),
    config: {
      key: tls.keyPem,
      cert: tls.certPem,
      applicationProtos: [...TSQ_ALPNS],
      maxIdleTimeout: 5000,
      enableDgram: datagrams ? [true, 64, 64] : [false, 0, 0],
    },
  });
  const serverConnections: QUICConnection[] = [];
  server.addEventListener(events.EventQUICServerConnection.name, (evt: Event) => {
    const connection = (evt as events.EventQUICServerConnection).detail;
    serverConnections.push(connection);
    if (datagrams) {
      const channel: DatagramChannel = openDatagramChannel(connection, (payload) => {
        channel.send(Uint8Array.from([...payload].reverse()));
      });
    }
  });
  await server.start({ host: '127.0.0.1', port: 0 });
  return { server, serverConnections };
}

describe('QUIC datagram adapter (@matrixai/quic internals)', () => {
  let withDgram: Awaited<ReturnType<typeof echoServer>>;
  let withoutDgram: Awaited<ReturnType<typeof echoServer>>;
  const clients: QUICClient[] = [];

  before(async () => {
    withDgram = await echoServer(true);
    withoutDgram = await echoServer(false);
  });

  after(async () => {
    for (const c of clients) await c.destroy({ force: true }).catch(() => undefined);
    await withDgram.server.stop({ force: true });
    await withoutDgram.server.stop({ force: true });
  });

  it('finds every internal it relies on in this @matrixai/quic', () => {
    const support = quicDatagramSupport();
    assert.deepEqual(
      support,
      { supported: true },
      `@matrixai/quic changed: ${support.supported ? '' : support.reason}`,
    );
  });

  it('sends and receives real QUIC datagrams both ways', async () => {
    const client = await rawClient(withDgram.server.port, { datagrams: true });
    clients.push(client);
    assert.ok(TSQ_ALPNS.includes(negotiatedAlpn(client.connection)));
    const received: Uint8Array[] = [];
    let wake: () => void = () => undefined;
    const channel = openDatagramChannel(client.connection, (payload) => {
      received.push(payload);
      wake();
    });
    const max = channel.maxPayloadBytes();
    assert.ok(max !== null && max >= 1000, `max datagram payload ${max}`);
    for (let i = 0; i < 5; i++) {
      const arrived = new Promise<void>((resolve) => (wake = resolve));
      assert.equal(channel.send(Uint8Array.from([i, 1, 2, 3])), true);
      await Promise.race([
        arrived,
        new Promise((_, reject) => setTimeout(() => reject(new Error('no echo')), 2000)),
      ]);
    }
    assert.deepEqual(
      received.map((r) => [...r]),
      [0, 1, 2, 3, 4].map((i) => [3, 2, 1, i]),
    );
    // Too large for one datagram: refused, not fragmented.
    assert.equal(channel.send(new Uint8Array((max as number) + 1)), false);
    channel.close();
    assert.equal(Object.hasOwn(client.connection, 'recv'), false, 'close restores the library’s own recv');
    assert.equal(channel.send(Uint8Array.from([1])), false);
  });

  it('reports a peer without datagram support (nothing can be sent)', async () => {
    const client = await rawClient(withoutDgram.server.port, { datagrams: true });
    clients.push(client);
    const channel = openDatagramChannel(client.connection, () => undefined);
    assert.equal(channel.maxPayloadBytes(), null);
    assert.equal(channel.send(Uint8Array.from([1, 2, 3])), false);
    channel.close();
  });

  it('names the missing internal when a connection lacks one', () => {
    const fake = { recv: async () => undefined, send: async () => undefined } as unknown as QUICConnection;
    assert.throws(
      () => openDatagramChannel(fake, () => undefined),
      (e: unknown) => e instanceof QuicInternalsError && e.missing === 'QUICConnection.conn',
    );
    const noRecvVec = {
      conn: { dgramSend() {}, dgramMaxWritableLen: () => 1200, applicationProto: () => new Uint8Array() },
      recv: async () => undefined,
      send: async () => undefined,
    } as unknown as QUICConnection;
    assert.throws(
      () => openDatagramChannel(noRecvVec, () => undefined),
      (e: unknown) =>
        e instanceof QuicInternalsError &&
        e.missing === 'QUICConnection.conn.dgramRecvVec' &&
        /refclock\/quicDatagram\.ts/.test(e.message),
    );
    assert.throws(() => negotiatedAlpn({} as QUICConnection), QuicInternalsError);
  });
});
