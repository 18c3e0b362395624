/**
 * Helpers for the NTP tests: a host-clock TimeView, fake served times, UDP plumbing on loopback, and
 * chronyd (always with -x: it never touches this machine's clock) as an NTP server or a one-shot
 * client (-Q). Only 127.0.0.1 is ever used.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServedTime } from '../../node/core/types.ts';
import { realtimeMinusMonotonicNs } from '../../node/localClock.ts';
import {
  NTP_MODE,
  clientRequest,
  decodeNtpPacket,
  encodeNtpPacket,
  toNtpTimestamp,
} from '../../refclock/ntpPacket.ts';
import type { NtpPacket } from '../../refclock/ntpPacket.ts';
import type { TimeView } from '../../refclock/types.ts';

const REALTIME_MINUS_MONOTONIC_NS = realtimeMinusMonotonicNs();

/**
 * The host's realtime clock to about a microsecond, calibrated as the node's oscillator is
 * (node/localClock.ts): Date.now() has only milliseconds, performance.timeOrigin is off by ms.
 */
export function hostNowNs(): bigint {
  return REALTIME_MINUS_MONOTONIC_NS + process.hrtime.bigint();
}

/** A TimeView on the host clock whose served time is `offsetNs` ahead, with the given claim. */
export function fakeView(over: Partial<ServedTime> & { offsetNs?: bigint } = {}): TimeView {
  const { offsetNs = 0n, ...claim } = over;
  return {
    localNowNs: hostNowNs,
    serveTime: (localNs: bigint): ServedTime => ({
      timeNs: localNs + offsetNs,
      earliestNs: localNs + offsetNs - 1000n,
      latestNs: localNs + offsetNs + 1000n,
      rootDistanceNs: 1000,
      status: 'synchronized',
      stratum: 3,
      anchorKind: 'mesh',
      lastUpdateLocalNs: localNs - 2n * 1_000_000_000n,
      ...claim,
    }),
  };
}

export async function udpSocket(host = '127.0.0.1', port = 0): Promise<Socket> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

export async function closeSocket(socket: Socket): Promise<void> {
  await new Promise<void>((resolve) => socket.close(() => resolve()));
}

/** A free UDP port on 127.0.0.1 (bound and released: another process could take it, rarely). */
export async function freeUdpPort(): Promise<number> {
  const s = await udpSocket();
  const { port } = s.address();
  await closeSocket(s);
  return port;
}

/** Sends `bytes` from `socket` to 127.0.0.1:port and waits for one datagram back (null on timeout). */
export async function exchange(
  socket: Socket,
  port: number,
  bytes: Uint8Array,
  timeoutMs = 1000,
): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const onMessage = (msg: Buffer): void => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(msg);
    };
    const timer = setTimeout(() => {
      socket.off('message', onMessage);
      resolve(null);
    }, timeoutMs);
    socket.on('message', onMessage);
    socket.send(bytes, port, '127.0.0.1');
  });
}

/** Sends an NTP client request and decodes the answer (null on timeout). */
export async function ntpQuery(
  socket: Socket,
  port: number,
  transmitTs = 0x0123456789abcdefn,
  version = 4,
): Promise<NtpPacket | null> {
  const msg = await exchange(socket, port, encodeNtpPacket(clientRequest(transmitTs, 6, version)));
  if (msg === null) return null;
  const r = decodeNtpPacket(msg);
  if (!r.ok) throw new Error(`undecodable reply: ${r.error.message}`);
  return r.packet;
}

/** One NTP client query to 127.0.0.1:`port` from a fresh socket, retried (every 300 ms) up to 5 s. */
export async function ntpReplyFrom(port: number): Promise<NtpPacket> {
  const probe = await udpSocket();
  try {
    return await waitFor('an NTP reply', async () => (await ntpQuery(probe, port)) ?? undefined, 5_000, 300);
  } finally {
    await closeSocket(probe);
  }
}

/** A scripted NTP server: `answer` decides each reply (null: stay silent). */
export async function fakeServer(
  answer: (request: NtpPacket, n: number) => Partial<NtpPacket> | null,
): Promise<{ port: number; requests: { packet: NtpPacket; atNs: bigint }[]; socket: Socket }> {
  const socket = await udpSocket();
  const requests: { packet: NtpPacket; atNs: bigint }[] = [];
  socket.on('message', (msg, rinfo) => {
    const atNs = hostNowNs();
    const r = decodeNtpPacket(msg);
    if (!r.ok) return;
    requests.push({ packet: r.packet, atNs });
    const over = answer(r.packet, requests.length);
    if (over === null) return;
    const nowTs = toNtpTimestamp(hostNowNs());
    const reply: NtpPacket = {
      leap: 0,
      version: 4,
      mode: NTP_MODE.server,
      stratum: 2,
      poll: r.packet.poll,
      precision: -20,
      rootDelayNs: 0,
      rootDispersionNs: 0,
      referenceId: 0x7f000001,
      referenceTs: nowTs,
      originTs: r.packet.transmitTs,
      receiveTs: nowTs,
      transmitTs: nowTs,
      ...over,
    };
    socket.send(encodeNtpPacket(reply), rinfo.port, rinfo.address);
  });
  return { port: socket.address().port, requests, socket };
}

/** Polls `check` every `everyMs` until it returns a value other than undefined, or fails at the deadline. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// ---- chronyd ----------------------------------------------------------------------------------------

/** Why chronyd cannot be used here, or null when it can (.ci/run installs it). */
export function chronydMissing(): string | null {
  const r = spawnSync('chronyd', ['-v'], { encoding: 'utf8' });
  if (r.error !== undefined) return `chronyd not installed (${r.error.message}); .ci/run installs it`;
  if (process.getuid?.() !== 0) return 'chronyd -u root needs root';
  return null;
}

/** A mode-0700 directory for chronyd's pid and log files. */
export async function privateDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o700);
  return dir;
}

export interface ChronydServer {
  port: number;
  dir: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * chronyd as a stratum-1 NTP server on 127.0.0.1:port (`local stratum 1`), with -x so it never
 * touches the clock, no command sockets, its files in a private directory. Resolves once it answers.
 */
export async function startChronydServer(): Promise<ChronydServer> {
  const dir = await privateDir('timemesh-chronyd-');
  const port = await freeUdpPort();
  const child = spawn(
    'chronyd',
    [
      '-x',
      '-d',
      '-u',
      'root',
      `port ${port}`,
      'bindaddress 127.0.0.1',
      'allow 127.0.0.1',
      'local stratum 1',
      'cmdport 0',
      'bindcmdaddress /',
      `pidfile ${join(dir, 'chronyd.pid')}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  const probe = await udpSocket();
  try {
    await waitFor(
      'chronyd to answer',
      async () => {
        if (child.exitCode !== null) throw new Error(`chronyd exited: ${stderr}`);
        return (await ntpQuery(probe, port)) ?? undefined;
      },
      10_000,
      0,
    );
  } catch (err) {
    await stop();
    throw err;
  } finally {
    await closeSocket(probe);
  }
  return { port, dir, child, stop };
}

/** One line of chrony's measurements.log (log measurements / rawmeasurements). */
export interface ChronyMeasurement {
  leap: string;
  stratum: number;
  /** θ: positive means chrony's (the host's) clock is slow of the server. */
  offsetS: number;
  delayS: number;
  rootDelayS: number;
  rootDispersionS: number;
  refId: string;
}

export interface ChronyQResult {
  code: number | null;
  stderr: string;
  /** From "System clock wrong by X seconds (ignored)": how far the host is behind the server. */
  wrongByS: number | null;
  measurements: ChronyMeasurement[];
}

/**
 * `chronyd -x -Q` against 127.0.0.1:port: measures the server, prints the offset and exits without
 * touching the clock. `log` selects measurements (valid samples only) or rawmeasurements (every one).
 */
export async function chronydQuery(
  port: number,
  log: 'measurements' | 'rawmeasurements',
  timeoutS = 20,
): Promise<ChronyQResult> {
  const dir = await privateDir('timemesh-chronyq-');
  try {
    const child = spawn(
      'chronyd',
      [
        '-x',
        '-Q',
        '-t',
        String(timeoutS),
        '-u',
        'root',
        `server 127.0.0.1 port ${port} iburst maxpoll 4`,
        `pidfile ${join(dir, 'chronyd.pid')}`,
        'cmdport 0',
        'bindcmdaddress /',
        'port 0',
        `logdir ${dir}`,
        `log ${log}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    const text = await readFile(join(dir, 'measurements.log'), 'utf8').catch(() => '');
    const measurements = text
      .split('\n')
      .filter((l) => /^\d{4}-\d\d-\d\d /.test(l))
      .map((l) => {
        const f = l.trim().split(/\s+/);
        return {
          leap: f[3]!,
          stratum: Number(f[4]),
          offsetS: Number(f[11]),
          delayS: Number(f[12]),
          rootDelayS: Number(f[14]),
          rootDispersionS: Number(f[15]),
          refId: f[16]!,
        };
      });
    const wrong = /System clock wrong by (-?[\d.]+) seconds/.exec(stderr);
    return { code, stderr, wrongByS: wrong === null ? null : Number(wrong[1]), measurements };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
