/**
 * `npm run bench:ntp`: NTP server throughput and latency, our server (refclock/ntpServer.ts) against
 * chronyd, in the same run with the same load generator on 127.0.0.1. Target (issue #4): at least
 * 0.3× chronyd's requests per second with no wrong answer. The script prints whether the target is
 * met; it fails (exit 1) only when something breaks (a process dies, nothing is answered).
 *
 * Three processes, so that no two of them share an event loop:
 * - **Our server**: this file forked with `--ntp-server`. It starts a real node with `startNode`
 *   (node/daemon.ts, as `timemesh start` does: libp2p, API, TimeService) with `--local-stratum 8
 *   --clock-offset-ms 250`, and attaches an `NtpServer` to the node's TimeService exactly as the
 *   daemon does for `--serve-ntp`, with one difference: the per-client rate limit is raised to 10⁹/s.
 *   The daemon has no flag for it (4/s, burst 16 per IP are fixed there: a load generator on one
 *   address would get Kiss-o'-Death RATE after 16 requests), and adding one means a config field,
 *   flag, environment variable and docs, so the benchmark uses the constructor options
 *   `ratePerSecond`/`burst` that NtpServer already has. A short check against a real `timemesh start
 *   --serve-ntp` process with its default limit is printed too (`--daemon-check 0` skips it), to show
 *   what the limit does to a single-address load.
 * - **chronyd** 4.x: `chronyd -x -d -u root` (never touches the clock) with `local stratum 1`, `allow
 *   127.0.0.1`, `bindaddress 127.0.0.1`, `cmdport 0` and no `ratelimit` line, so it answers every
 *   request (test/refclock/ntpHelpers.ts startChronydServer).
 * - **The load generator**: this file forked with `--load`. It keeps a fixed number of requests in
 *   flight (default 32) spread over several UDP sockets (default 4), each request a 48-byte NTPv4
 *   mode-3 packet with a random 64-bit transmit timestamp (as chrony sends), and matches every reply
 *   to its request by the origin timestamp. A request unanswered after 1 s is counted as lost and
 *   replaced. Latency is the time from `send()` to the reply's 'message' event (the generator's own
 *   event loop included, the same for both servers).
 *
 * Wrong answers (each counted by reason; any one of them fails the target): an origin that matches no
 * request of that socket (`bad-origin`; a reply to a request already declared lost counts as `late`,
 * not wrong), a short packet, mode ≠ 4 or version ≠ 4, leap indicator ≠ 0 or stratum other than
 * expected (8 for ours, 1 for chronyd; a Kiss-o'-Death has stratum 0), transmit before receive
 * timestamp, and a time off: |θ − expected offset| above the tolerance, or T2 before T1 + expected
 * offset − tolerance, or T3 after T4 + expected offset + tolerance (θ the NTP offset from T1..T4, T1
 * and T4 read from the host clock; expected offset +250 ms for ours, 0 for chronyd; tolerance 300 ms
 * for ours, 50 ms for chronyd). Comparing T3 with T4 alone would count the generator's own stalls
 * under load (tens of ms on a busy machine) as the server's error. The largest |θ − expected| is printed,
 * so the reader sees how far inside the tolerance the answers were.
 *
 * Rounds run ours, chronyd; then chronyd, ours (load drift does not favour one), after one warm-up of
 * each. Also printed: each server process's CPU use (from /proc/<pid>/stat) and its CPU time per
 * answered request, the figure that other load on the machine disturbs least.
 *
 * Every child (node, chronyd, daemon, generator) is killed when the script exits, fails or is
 * interrupted; temporary directories are removed.
 *
 * Usage: npm run bench:ntp [-- --duration S] [--rounds R] [--warmup S] [--in-flight N] [--sockets N]
 *        [--daemon-check S]
 *        defaults: 10 s per server and round, 2 rounds, 2 s warm-up, 32 in flight over 4 sockets,
 *        3 s against the rate-limited daemon.
 */
import { fork, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { resolveNodeConfig } from '../node/config.ts';
import { startNode } from '../node/daemon.ts';
import type { RunningNode } from '../node/daemon.ts';
import { realtimeMinusMonotonicNs } from '../node/localClock.ts';
import { NtpServer, hashReferenceId } from '../refclock/ntpServer.ts';
import type { NtpServerCounters } from '../refclock/ntpServer.ts';
import { startDaemon } from '../test/node/daemonProcess.ts';
import { freeUdpPort, startChronydServer } from '../test/refclock/ntpHelpers.ts';
import type { ChronydServer } from '../test/refclock/ntpHelpers.ts';
import {
  formatTable,
  machineFacts,
  messenger,
  quantile,
  runBenchmark,
  sleep,
  stopProcesses,
} from './benchHelpers.ts';

const SERVER_FLAG = '--ntp-server';
const LOAD_FLAG = '--load';
const TARGET_RATIO = 0.3;
const NODE_OFFSET_MS = 250;
const NODE_STRATUM = 8;
const TOLERANCE_OURS_MS = 300;
const TOLERANCE_CHRONY_MS = 50;
const LOST_AFTER_MS = 1000;
/** The raised limit of the benchmark's NtpServer: in effect none. */
const UNLIMITED_PER_SECOND = 1e9;
/** Seconds between 1900 (NTP era 0) and 1970. */
const NTP_UNIX_OFFSET_S = 2_208_988_800n;

// ---- messages between the processes -------------------------------------------------------------

interface LoadJob {
  port: number;
  durationS: number;
  sockets: number;
  inFlight: number;
  expectedStratum: number;
  expectedOffsetNs: number;
  toleranceNs: number;
}

interface LoadResult {
  sent: number;
  /** Good answers within the measured window, their latencies (ms) and the window's length. */
  answered: number;
  durationS: number;
  latenciesMs: Float64Array;
  /** Wrong answers by reason. */
  wrong: Record<string, number>;
  /** Kiss-o'-Death RATE answers (also counted as wrong: stratum 0). */
  kisses: number;
  lost: number;
  late: number;
  /** max |θ − expected offset| over the good answers, ns. */
  maxThetaErrNs: number;
  medianThetaErrNs: number;
  clientCpuPct: number;
}

type ServerMessage =
  | { type: 'ready'; port: number; pid: number }
  | { type: 'counters'; counters: NtpServerCounters }
  | { type: 'error'; message: string };

// ---- the load generator process -----------------------------------------------------------------

const REALTIME_MINUS_MONOTONIC_NS = realtimeMinusMonotonicNs();
const hostNowNs = (): bigint => REALTIME_MINUS_MONOTONIC_NS + process.hrtime.bigint();

/** A 64-bit NTP timestamp (era 0: until 2036-02-07) as Unix ns. */
function ntpToUnixNs(ts: bigint): bigint {
  return ((ts >> 32n) - NTP_UNIX_OFFSET_S) * 1_000_000_000n + (((ts & 0xffffffffn) * 1_000_000_000n) >> 32n);
}

async function bindSocket(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

/** Runs one load job: requests for `durationS`, then waits for the stragglers. */
async function runLoad(job: LoadJob): Promise<LoadResult> {
  const sockets = await Promise.all(Array.from({ length: job.sockets }, () => bindSocket()));
  const perSocket = Math.max(1, Math.round(job.inFlight / job.sockets));
  const wrong: Record<string, number> = {};
  const bad = (reason: string): void => void (wrong[reason] = (wrong[reason] ?? 0) + 1);
  const latencies: number[] = [];
  const thetaErrs: number[] = [];
  let sent = 0;
  let kisses = 0;
  let lost = 0;
  let late = 0;
  let sending = true;
  // A random 32-bit prefix and a counter: unique per request, unpredictable to a server.
  const prefix = BigInt(randomBytes(4).readUInt32BE(0)) << 32n;
  let counter = 0;
  const cpuBefore = process.cpuUsage();
  const startMs = performance.now();
  const endMs = startMs + job.durationS * 1000;

  interface Pending {
    sentMs: number;
    t1Ns: bigint;
  }
  const pendings = sockets.map(() => new Map<bigint, Pending>());
  const expired = sockets.map(() => new Set<bigint>());

  const send = (i: number): void => {
    const packet = Buffer.alloc(48);
    packet[0] = (0 << 6) | (4 << 3) | 3; // LI 0, version 4, mode 3 (client)
    packet[2] = 6; // poll 2^6 s, as a polling client would say
    const ts = prefix | BigInt(counter++ >>> 0);
    packet.writeBigUInt64BE(ts, 40);
    pendings[i]!.set(ts, { sentMs: performance.now(), t1Ns: hostNowNs() });
    sent++;
    sockets[i]!.send(packet, job.port, '127.0.0.1');
  };

  let finish: (() => void) | null = null;
  const outstanding = (): number => pendings.reduce((s, m) => s + m.size, 0);

  sockets.forEach((socket, i) => {
    socket.on('message', (msg: Buffer) => {
      const nowMs = performance.now();
      const t4Ns = hostNowNs();
      if (msg.length < 48) {
        bad('short-packet');
        return;
      }
      const origin = msg.readBigUInt64BE(24);
      const pending = pendings[i]!.get(origin);
      if (pending === undefined) {
        if (expired[i]!.delete(origin)) late++;
        else bad('bad-origin');
        return;
      }
      pendings[i]!.delete(origin);
      const inWindow = nowMs <= endMs;
      const li = msg[0]! >> 6;
      const version = (msg[0]! >> 3) & 7;
      const mode = msg[0]! & 7;
      const stratum = msg[1]!;
      let reason: string | null = null;
      if (mode !== 4 || version !== 4) reason = 'mode-or-version';
      else if (stratum === 0 && msg.toString('latin1', 12, 16) === 'RATE') {
        kisses++;
        reason = 'kiss-rate';
      } else if (li !== 0) reason = 'leap-indicator';
      else if (stratum !== job.expectedStratum) reason = 'stratum';
      else {
        const t2Ns = ntpToUnixNs(msg.readBigUInt64BE(32));
        const t3Ns = ntpToUnixNs(msg.readBigUInt64BE(40));
        const thetaNs = Number(t2Ns - pending.t1Ns + (t3Ns - t4Ns)) / 2;
        const thetaErrNs = Math.abs(thetaNs - job.expectedOffsetNs);
        // Both server timestamps must fall between T1 and T4 (shifted by the expected offset), give
        // or take the tolerance: a server cannot receive before we sent nor send after we received.
        const lowNs = pending.t1Ns + BigInt(job.expectedOffsetNs - job.toleranceNs);
        const highNs = t4Ns + BigInt(job.expectedOffsetNs + job.toleranceNs);
        if (t3Ns < t2Ns) reason = 'transmit-before-receive';
        else if (thetaErrNs > job.toleranceNs || t2Ns < lowNs || t3Ns > highNs) reason = 'time-off';
        else if (inWindow) thetaErrs.push(thetaErrNs);
      }
      if (reason !== null) bad(reason);
      else if (inWindow) latencies.push(nowMs - pending.sentMs);
      if (sending && performance.now() < endMs) send(i);
      else if (outstanding() === 0) finish?.();
    });
  });

  const sweeper = setInterval(() => {
    const nowMs = performance.now();
    pendings.forEach((m, i) => {
      for (const [ts, p] of m) {
        if (nowMs - p.sentMs < LOST_AFTER_MS) continue;
        m.delete(ts);
        lost++;
        // Remember a bounded number, so a very late answer counts as late, not as a bad origin.
        if (expired[i]!.size < 100_000) expired[i]!.add(ts);
        if (sending && nowMs < endMs) send(i);
      }
    });
    if (!sending && outstanding() === 0) finish?.();
  }, 100);

  const done = new Promise<void>((resolve) => (finish = resolve));
  for (let i = 0; i < sockets.length; i++) for (let k = 0; k < perSocket; k++) send(i);
  await sleep(job.durationS * 1000);
  sending = false;
  // Stragglers: everything still in flight is answered or declared lost within LOST_AFTER_MS.
  await Promise.race([done, sleep(LOST_AFTER_MS + 500)]);
  clearInterval(sweeper);
  lost += outstanding();
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - startMs;
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  thetaErrs.sort((a, b) => a - b);
  return {
    sent,
    answered: latencies.length,
    durationS: job.durationS,
    latenciesMs: Float64Array.from(latencies),
    wrong,
    kisses,
    lost,
    late,
    maxThetaErrNs: thetaErrs[thetaErrs.length - 1] ?? NaN,
    medianThetaErrNs: quantile(thetaErrs, 0.5),
    clientCpuPct: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
  };
}

async function loadProcess(): Promise<void> {
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m) => {
    void runLoad(m as LoadJob).then(
      (result) => process.send!(result),
      (err: unknown) => process.send!({ error: String(err) }),
    );
  });
  process.send!('ready');
}

// ---- our server's process -----------------------------------------------------------------------

/** `dataDir` is made (and removed, even if this process is killed) by the parent. */
async function serverProcess(dataDir: string): Promise<void> {
  let node: RunningNode | null = null;
  let server: NtpServer | null = null;
  const shutdown = async (): Promise<void> => {
    await server?.stop().catch(() => undefined);
    await node?.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('disconnect', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  try {
    node = await startNode(
      resolveNodeConfig({
        flags: {
          'data-dir': dataDir,
          listen: ['/ip4/127.0.0.1/tcp/0'],
          api: '127.0.0.1:0',
          network: 'bench-ntp',
          'local-stratum': String(NODE_STRATUM),
          'clock-offset-ms': String(NODE_OFFSET_MS),
          'log-level': 'warn',
        },
      }),
    );
    const service = node.service;
    const readyBy = Date.now() + 20_000;
    while (service.serveTime(service.localNowNs()).status === 'unsynchronized') {
      if (Date.now() > readyBy) throw new Error('the node did not synchronize within 20 s');
      await sleep(100);
    }
    // As node/daemon.ts builds it for --serve-ntp, but with the per-client limit raised (see the header).
    server = new NtpServer({
      host: '127.0.0.1',
      port: 0,
      view: service,
      referenceId: hashReferenceId(node.peerId),
      ratePerSecond: UNLIMITED_PER_SECOND,
      burst: UNLIMITED_PER_SECOND,
    });
    const { port } = await server.start();
    const s = server;
    process.on('message', (m) => {
      if (m === 'counters') process.send!({ type: 'counters', counters: s.counters } satisfies ServerMessage);
    });
    process.send!({ type: 'ready', port, pid: process.pid } satisfies ServerMessage);
  } catch (err) {
    process.send!({ type: 'error', message: String(err) } satisfies ServerMessage);
    await shutdown();
  }
}

// ---- the parent ---------------------------------------------------------------------------------

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let chronyd: ChronydServer | null = null;

function forkSelf(...args: string[]): ChildProcess {
  const child = fork(fileURLToPath(import.meta.url), args, {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  return child;
}

/** utime + stime of a process, in seconds (Linux /proc; 100 ticks per second). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Target {
  name: string;
  port: number;
  pid: number;
  expectedStratum: number;
  expectedOffsetNs: number;
  toleranceNs: number;
}

interface RunFigures {
  target: string;
  result: LoadResult;
  serverCpuPct: number;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      duration: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '2' },
      warmup: { type: 'string', default: '2' },
      'in-flight': { type: 'string', default: '32' },
      sockets: { type: 'string', default: '4' },
      'daemon-check': { type: 'string', default: '3' },
    },
  });
  const int = (name: string, text: string, min: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name}: expected an integer ≥ ${min}, got '${text}'`);
    return n;
  };
  const durationS = int('duration', values.duration, 1);
  const rounds = int('rounds', values.rounds, 1);
  const warmupS = int('warmup', values.warmup, 0);
  const inFlight = int('in-flight', values['in-flight'], 1);
  const socketCount = Math.min(inFlight, int('sockets', values.sockets, 1));
  const daemonCheckS = int('daemon-check', values['daemon-check'], 0);

  console.log('timemesh NTP server benchmark: our server against chronyd on 127.0.0.1, same load generator');
  console.log(machineFacts());

  // Our server, in its own process.
  const serverDir = await mkdtemp(join(tmpdir(), 'timemesh-bench-ntp-'));
  tempDirs.add(serverDir);
  const serverChild = forkSelf(SERVER_FLAG, serverDir);
  const serverIpc = messenger(serverChild, 'our NTP server process');
  const ready = (await serverIpc.next()) as ServerMessage;
  if (ready.type !== 'ready') throw new Error(`our NTP server process: ${JSON.stringify(ready)}`);
  // chronyd, never touching the clock (-x), no rate limit configured.
  chronyd = await startChronydServer();
  tempDirs.add(chronyd.dir);
  const chronyVersion = /version (\S+)/.exec(spawnSync('chronyd', ['-v'], { encoding: 'utf8' }).stdout)?.[1];

  const targets: Record<'ours' | 'chronyd', Target> = {
    ours: {
      name: 'ours',
      port: ready.port,
      pid: ready.pid,
      expectedStratum: NODE_STRATUM,
      expectedOffsetNs: NODE_OFFSET_MS * 1e6,
      toleranceNs: TOLERANCE_OURS_MS * 1e6,
    },
    chronyd: {
      name: 'chronyd',
      port: chronyd.port,
      pid: chronyd.child.pid!,
      expectedStratum: 1,
      expectedOffsetNs: 0,
      toleranceNs: TOLERANCE_CHRONY_MS * 1e6,
    },
  };

  const loadChild = forkSelf(LOAD_FLAG);
  const loadIpc = messenger(loadChild, 'load generator');
  if ((await loadIpc.next()) !== 'ready') throw new Error('load generator: unexpected first message');

  const load = async (t: Target, seconds: number): Promise<RunFigures> => {
    const job: LoadJob = {
      port: t.port,
      durationS: seconds,
      sockets: socketCount,
      inFlight,
      expectedStratum: t.expectedStratum,
      expectedOffsetNs: t.expectedOffsetNs,
      toleranceNs: t.toleranceNs,
    };
    const cpuBefore = await cpuSeconds(t.pid);
    const wallBefore = performance.now();
    loadChild.send(job);
    const result = (await loadIpc.next()) as LoadResult | { error: string };
    if ('error' in result) throw new Error(`load generator: ${result.error}`);
    const serverCpuPct =
      (((await cpuSeconds(t.pid)) - cpuBefore) / ((performance.now() - wallBefore) / 1000)) * 100;
    if (result.answered === 0) throw new Error(`${t.name}: no request answered`);
    return { target: t.name, result, serverCpuPct };
  };

  console.log(
    `${inFlight} requests in flight over ${socketCount} UDP sockets, ${durationS} s per server and round, ` +
      `${rounds} round(s), ${warmupS} s warm-up; generator in a child process; chronyd ${chronyVersion ?? '?'} ` +
      `(local stratum 1, no ratelimit); ours: a node (local stratum ${NODE_STRATUM}, clock offset +${NODE_OFFSET_MS} ms) ` +
      `in a child process, NtpServer per-client limit raised to ${UNLIMITED_PER_SECOND.toExponential(0)}/s`,
  );
  if (warmupS > 0) for (const t of [targets.ours, targets.chronyd]) await load(t, warmupS);
  const runs: RunFigures[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [targets.ours, targets.chronyd] : [targets.chronyd, targets.ours];
    for (const t of order) {
      const r = await load(t, durationS);
      runs.push(r);
      console.log(
        `  round ${round + 1} ${t.name.padEnd(7)} ${Math.round(r.result.answered / r.result.durationS)
          .toLocaleString('en-US')
          .padStart(
            7,
          )} req/s, server CPU ${r.serverCpuPct.toFixed(0)} %, generator CPU ${r.result.clientCpuPct.toFixed(0)} %`,
      );
    }
  }

  serverChild.send('counters');
  const counters = (await serverIpc.next()) as ServerMessage;

  const ours = runs.filter((r) => r.target === 'ours');
  const chrony = runs.filter((r) => r.target === 'chronyd');
  const sum = (rs: RunFigures[], f: (r: LoadResult) => number): number =>
    rs.reduce((s, r) => s + f(r.result), 0);
  const rps = (rs: RunFigures[]): number => sum(rs, (r) => r.answered) / sum(rs, (r) => r.durationS);
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  const wrongCount = (rs: RunFigures[]): number =>
    rs.reduce((s, r) => s + Object.values(r.result.wrong).reduce((a, b) => a + b, 0), 0);
  const row = (label: string, rs: RunFigures[]): string[] => {
    const sorted = Float64Array.from(rs.flatMap((r) => [...r.result.latenciesMs])).sort();
    const cpu = mean(rs.map((r) => r.serverCpuPct));
    return [
      label,
      Math.round(rps(rs)).toLocaleString('en-US'),
      (quantile(sorted, 0.5) * 1000).toFixed(0),
      (quantile(sorted, 0.99) * 1000).toFixed(0),
      (sorted[sorted.length - 1]! * 1000).toFixed(0),
      cpu.toFixed(0),
      ((cpu * 1e4) / rps(rs)).toFixed(1),
      mean(rs.map((r) => r.result.clientCpuPct)).toFixed(0),
      String(wrongCount(rs)),
      String(sum(rs, (r) => r.lost)),
      (Math.max(...rs.map((r) => r.result.maxThetaErrNs)) / 1000).toFixed(0),
    ];
  };
  console.log(
    formatTable(
      [
        'server',
        'req/s',
        'p50 µs',
        'p99 µs',
        'max µs',
        'server CPU %',
        'µs CPU/req',
        'gen CPU %',
        'wrong',
        'lost',
        'max |θ−exp| µs',
      ],
      [row(`timemesh NtpServer (node process)`, ours), row(`chronyd ${chronyVersion ?? ''}`.trim(), chrony)],
    ),
  );
  for (const rs of [ours, chrony]) {
    const reasons: Record<string, number> = {};
    for (const r of rs)
      for (const [k, v] of Object.entries(r.result.wrong)) reasons[k] = (reasons[k] ?? 0) + v;
    if (Object.keys(reasons).length > 0)
      console.log(`  wrong answers from ${rs[0]!.target}: ${JSON.stringify(reasons)}`);
    const late = sum(rs, (r) => r.late);
    if (late > 0) console.log(`  late answers (after ${LOST_AFTER_MS} ms) from ${rs[0]!.target}: ${late}`);
  }
  if (counters.type === 'counters') {
    console.log(`  our server's counters (warm-up included): ${JSON.stringify(counters.counters.outcomes)}`);
  }
  const ratio = rps(ours) / rps(chrony);
  const noWrong = wrongCount(ours) === 0;
  console.log(
    `ratio ours / chronyd: ${ratio.toFixed(2)}× (target ≥ ${TARGET_RATIO}× with no wrong answer): ` +
      `${ratio >= TARGET_RATIO && noWrong ? 'met' : 'NOT met'}` +
      (noWrong ? '' : ` (${wrongCount(ours)} wrong answers)`),
  );

  if (daemonCheckS > 0) {
    // The real daemon with its default limit (4/s, burst 16 per client address), for contrast.
    const dir = await mkdtemp(join(tmpdir(), 'timemesh-bench-ntp-daemon-'));
    tempDirs.add(dir);
    const port = await freeUdpPort();
    const daemon = await startDaemon(
      [
        '--network',
        'bench-ntp-daemon',
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--api',
        '127.0.0.1:0',
        '--local-stratum',
        String(NODE_STRATUM),
        '--clock-offset-ms',
        String(NODE_OFFSET_MS),
        '--serve-ntp',
        `127.0.0.1:${port}`,
      ],
      dir,
    );
    children.add(daemon.child);
    await sleep(1000);
    const r = await load({ ...targets.ours, port, pid: daemon.child.pid! }, daemonCheckS);
    console.log(
      `real daemon (timemesh start --serve-ntp, default limit 4/s, burst 16 per address), ${daemonCheckS} s, ` +
        `same generator: ${r.result.answered} answered, ${r.result.kisses} Kiss-o'-Death RATE, ` +
        `${r.result.lost} unanswered of ${r.result.sent} sent`,
    );
  }
  return 0;
}

async function cleanup(): Promise<void> {
  await stopProcesses(children);
  children.clear();
  await chronyd?.stop().catch(() => undefined);
  chronyd = null;
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
  tempDirs.clear();
}

if (process.argv.includes(LOAD_FLAG)) {
  await loadProcess();
} else if (process.argv.includes(SERVER_FLAG)) {
  await serverProcess(process.argv[process.argv.indexOf(SERVER_FLAG) + 1]!);
} else {
  await runBenchmark('bench:ntp', main, cleanup, () => {
    for (const c of children) c.kill('SIGKILL');
    chronyd?.child.kill('SIGKILL');
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  });
}
