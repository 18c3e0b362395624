/**
 * `npm run bench:tsq`: TSQ over QUIC on 127.0.0.1 (issue #4): the exchange round trip in stream and
 * datagram mode, and the cost of a new connection.
 *
 * The server runs in a child process (this file forked with `--tsq-server DIR`), so that client and
 * server do not share an event loop: `startTsqServer` (refclock/tsqServer.ts) with datagrams on, a
 * self-signed certificate generated into DIR as a node does on first start, and a TimeView on the host
 * clock with fixed claims (anchored, stratum 2, GPS, 1 ms root distance: the server's work does not
 * depend on them). The client is `TsqClient` (refclock/tsqClient.ts) in this process, checking the
 * certificate against the server's certificate as CA (pinned, as a node's `ca=` would), no signatures,
 * no Precision Mode, no metadata: the plain exchange.
 *
 * (a) Round trip: one TsqClient per mode, each on its own connection, N exchanges each after a
 *     warm-up, interleaved (stream, datagram, stream, …) so that both modes see the same load on the
 *     machine (`--sequential`: all stream exchanges, then all datagram ones). Per exchange three
 *     figures: `measure()` as the caller waits for it (stream mode also
 *     waits for the end of the stream), T1→T4 (the round trip the client's timestamps span) and δ =
 *     (T4 − T1) − (T3 − T2), the delay the NTP-style arithmetic sees. A datagram exchange that fell back
 *     to a stream (no datagram answer within 500 ms) is counted, and excluded from the datagram figures.
 * (b) Connection setup: M times a new TsqClient, first `measure()` (QUIC + TLS 1.3 handshake,
 *     certificate check, the datagram channel in datagram mode, the first exchange), then `stop()`;
 *     modes alternating. Printed: the whole first `measure()` and the same minus its T1→T4 (≈ the
 *     connection setup alone).
 *
 * Any failed exchange fails the script (exit 1). The server process is killed when the script exits,
 * fails or is interrupted; its directory is removed.
 *
 * Usage: npm run bench:tsq [-- --exchanges N] [--connects M] [--warmup N] [--sequential]
 *        defaults: 500 exchanges per mode, 30 connections per mode, 20 warm-up exchanges per mode.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { hostOscillator } from '../node/localClock.ts';
import { TsqClient } from '../refclock/tsqClient.ts';
import type { TsqMeasurement, TsqMode } from '../refclock/tsqClient.ts';
import { startTsqServer } from '../refclock/tsqServer.ts';
import type { TsqServer, TsqServerCounters } from '../refclock/tsqServer.ts';
import type { TimeView } from '../refclock/types.ts';
import {
  formatTable,
  machineFacts,
  messenger,
  positiveInt,
  quantile,
  runBenchmark,
  stopProcesses,
} from './benchHelpers.ts';

const SERVER_FLAG = '--tsq-server';
const QUIC_VERSION = (createRequire(import.meta.url)('@matrixai/quic/package.json') as { version: string })
  .version;

type ServerMessage =
  | { type: 'ready'; port: number; certPem: string; datagrams: boolean }
  | { type: 'counters'; counters: TsqServerCounters }
  | { type: 'error'; message: string };

// ---- the server process -------------------------------------------------------------------------

async function serverProcess(dir: string): Promise<void> {
  const oscillator = hostOscillator();
  const view: TimeView = {
    localNowNs: () => oscillator.nowNs(),
    serveTime: (localNs) => ({
      timeNs: localNs,
      earliestNs: localNs - 1_000_000n,
      latestNs: localNs + 1_000_000n,
      rootDistanceNs: 1_000_000,
      status: 'anchored',
      stratum: 2,
      anchorKind: 'gps',
      lastUpdateLocalNs: localNs,
    }),
  };
  let server: TsqServer | null = null;
  const shutdown = async (): Promise<void> => {
    await server?.stop().catch(() => undefined);
    process.exit(0);
  };
  process.on('disconnect', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  try {
    server = await startTsqServer({ host: '127.0.0.1', port: 0, timeView: view, certDir: dir });
    const s = server;
    process.on('message', (m) => {
      if (m === 'counters')
        process.send!({ type: 'counters', counters: s.counters() } satisfies ServerMessage);
    });
    process.send!({
      type: 'ready',
      port: s.port,
      certPem: s.certificate.certPem,
      datagrams: s.datagrams,
    } satisfies ServerMessage);
  } catch (err) {
    process.send!({ type: 'error', message: String(err) } satisfies ServerMessage);
    await shutdown();
  }
}

// ---- the client (parent) ------------------------------------------------------------------------

let serverChild: ChildProcess | null = null;
let serverDir: string | null = null;

interface ExchangeFigures {
  callUs: number[];
  t1t4Us: number[];
  deltaUs: number[];
  fellBack: number;
}

const newFigures = (): ExchangeFigures => ({ callUs: [], t1t4Us: [], deltaUs: [], fellBack: 0 });

/** One measure(), timed; throws on a failed exchange. */
async function timedMeasure(client: TsqClient): Promise<{ callUs: number; m: TsqMeasurement }> {
  const startMs = performance.now();
  const r = await client.measure();
  const callUs = (performance.now() - startMs) * 1000;
  if (!r.ok) throw new Error(`${client.server.url}: exchange failed: ${r.reason}: ${r.detail}`);
  return { callUs, m: r.measurement };
}

function record(f: ExchangeFigures, callUs: number, m: TsqMeasurement, mode: TsqMode): void {
  if (mode === 'datagram' && (m.fellBack || m.mode !== 'datagram')) {
    f.fellBack++;
    return;
  }
  f.callUs.push(callUs);
  f.t1t4Us.push(Number(m.t4LocalNs - m.t1LocalNs) / 1000);
  f.deltaUs.push(m.delayNs / 1000);
}

function rows(label: string, f: ExchangeFigures): string[][] {
  const row = (what: string, xs: number[]): string[] => {
    const s = [...xs].sort((a, b) => a - b);
    return [
      `${label}, ${what}`,
      ...[0.5, 0.9, 0.99].map((q) => quantile(s, q).toFixed(0)),
      s[s.length - 1]!.toFixed(0),
    ];
  };
  return [row('measure()', f.callUs), row('T1→T4', f.t1t4Us), row('δ', f.deltaUs)];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      exchanges: { type: 'string', default: '500' },
      connects: { type: 'string', default: '30' },
      warmup: { type: 'string', default: '20' },
      sequential: { type: 'boolean', default: false },
    },
  });
  const exchanges = positiveInt('exchanges', values.exchanges);
  const connects = positiveInt('connects', values.connects);
  const warmup = positiveInt('warmup', values.warmup);
  const sequential = values.sequential;

  console.log(
    'timemesh TSQ benchmark: exchange round trip (stream vs datagram) and connection setup, 127.0.0.1',
  );
  console.log(machineFacts());

  serverDir = await mkdtemp(join(tmpdir(), 'timemesh-bench-tsq-'));
  const child = fork(fileURLToPath(import.meta.url), [SERVER_FLAG, serverDir], {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  serverChild = child;
  const ipc = messenger(child, 'the TSQ server process');
  const ready = (await ipc.next()) as ServerMessage;
  if (ready.type !== 'ready') throw new Error(`TSQ server process: ${JSON.stringify(ready)}`);
  if (!ready.datagrams)
    throw new Error('the TSQ server did not enable datagrams (see refclock/quicDatagram.ts)');
  console.log(
    `@matrixai/quic ${QUIC_VERSION}; server: startTsqServer in a child process (self-signed certificate, ` +
      `datagrams on); client: TsqClient in this process, certificate pinned as CA; no signature, ` +
      `no Precision Mode, no metadata`,
  );

  const oscillator = hostOscillator();
  const clock = { localNowNs: () => oscillator.nowNs() };
  const url = (mode: TsqMode): string => `tsq://127.0.0.1:${ready.port}?mode=${mode}`;
  const newClient = (mode: TsqMode): TsqClient => new TsqClient(url(mode), { clock, caPem: ready.certPem });

  // (a) round trip, interleaved on two long-lived connections.
  const clients = { stream: newClient('stream'), datagram: newClient('datagram') };
  const figures = { stream: newFigures(), datagram: newFigures() };
  try {
    if (sequential) {
      for (const mode of ['stream', 'datagram'] as const) {
        for (let i = 0; i < warmup + exchanges; i++) {
          const { callUs, m } = await timedMeasure(clients[mode]);
          if (i >= warmup) record(figures[mode], callUs, m, mode);
        }
      }
    } else {
      for (let i = 0; i < warmup + exchanges; i++) {
        for (const mode of ['stream', 'datagram'] as const) {
          const { callUs, m } = await timedMeasure(clients[mode]);
          if (i >= warmup) record(figures[mode], callUs, m, mode);
        }
      }
    }
  } finally {
    await clients.stream.stop();
    await clients.datagram.stop();
  }
  const connectsSeen = clients.stream.counters().connects + clients.datagram.counters().connects;
  const header = ['µs', 'median', 'p90', 'p99', 'max'];
  console.log(
    `\n(a) exchange round trip: ${exchanges} per mode after ${warmup} warm-up, ${sequential ? 'all stream then all datagram' : 'interleaved'}, one connection ` +
      `per mode (${connectsSeen} connects in all)`,
  );
  console.log(
    formatTable(header, [...rows('stream', figures.stream), ...rows('datagram', figures.datagram)]),
  );
  if (figures.datagram.fellBack > 0) {
    console.log(
      `  datagram exchanges that fell back to a stream (excluded above): ${figures.datagram.fellBack}`,
    );
  }

  // (b) connection setup: new client, first exchange, stop.
  const setup = {
    stream: { firstUs: [] as number[], setupUs: [] as number[] },
    datagram: { firstUs: [] as number[], setupUs: [] as number[] },
  };
  let setupFallbacks = 0;
  for (let i = 0; i < connects; i++) {
    for (const mode of ['stream', 'datagram'] as const) {
      const client = newClient(mode);
      try {
        const { callUs, m } = await timedMeasure(client);
        if (mode === 'datagram' && m.fellBack) setupFallbacks++;
        setup[mode].firstUs.push(callUs);
        setup[mode].setupUs.push(callUs - Number(m.t4LocalNs - m.t1LocalNs) / 1000);
      } finally {
        await client.stop();
      }
    }
  }
  console.log(
    `\n(b) connection setup: ${connects} new connections per mode, each: new TsqClient, first measure(), stop()`,
  );
  const setupRow = (label: string, xs: number[]): string[] => {
    const s = [...xs].sort((a, b) => a - b);
    return [
      label,
      ...[0.5, 0.9].map((q) => (quantile(s, q) / 1000).toFixed(1)),
      (s[s.length - 1]! / 1000).toFixed(1),
    ];
  };
  console.log(
    formatTable(
      ['ms', 'median', 'p90', 'max'],
      [
        setupRow('stream, first measure()', setup.stream.firstUs),
        setupRow('stream, minus its T1→T4', setup.stream.setupUs),
        setupRow('datagram, first measure()', setup.datagram.firstUs),
        setupRow('datagram, minus its T1→T4', setup.datagram.setupUs),
      ],
    ),
  );
  if (setupFallbacks > 0)
    console.log(`  first datagram exchanges that fell back to a stream: ${setupFallbacks}`);

  child.send('counters');
  const counters = (await ipc.next()) as ServerMessage;
  if (counters.type === 'counters') {
    const c = counters.counters;
    console.log(
      `\nserver counters: ${c.connections} connections (${c.connectionsRefused} refused), ` +
        `${c.streamRequests} stream and ${c.datagramRequests} datagram requests, ${c.responses} responses, ` +
        `${c.datagramsDropped} datagrams dropped, ${c.streamFailures} stream failures`,
    );
  }
  console.log(machineFacts());
  return 0;
}

async function stopServer(): Promise<void> {
  const child = serverChild;
  serverChild = null;
  if (child !== null) await stopProcesses([child]);
  if (serverDir !== null) await rm(serverDir, { recursive: true, force: true });
  serverDir = null;
}

if (process.argv.includes(SERVER_FLAG)) {
  await serverProcess(process.argv[process.argv.indexOf(SERVER_FLAG) + 1]!);
} else {
  await runBenchmark('bench:tsq', main, stopServer, () => {
    serverChild?.kill('SIGKILL');
    if (serverDir !== null) rmSync(serverDir, { recursive: true, force: true });
  });
}
