/**
 * `npm run bench:api`: requests per second and latency of `GET /v1/time`, beside a bare `node:http`
 * server that answers the same bytes, in the same run. Target (issue #3): the API serves at least
 * 0.7× the bare server's requests per second. The script prints whether the target is met; it fails
 * (exit 1) only on errors: a non-2xx answer, a socket error or timeout, or a crash.
 *
 * Setup: a real node started in this process with `startNode` (node/daemon.ts), exactly as
 * `timemesh start` runs it (libp2p on 127.0.0.1, a local stratum-8 reference so that /v1/time carries
 * a full interval, persistence in a temporary data dir). One /v1/time answer is captured and the bare
 * server serves it verbatim, with the same content-type and cache-control headers, so both bodies
 * have the same size and shape; the bare server does no work at all, which is what "bare" means.
 *
 * The load generator (autocannon, programmatic API) runs in a child process (this file, forked with
 * --autocannon-client), not in this process: in-process it would share the server's event loop and
 * the figures would measure the two together. On a 2-core machine the client and the server each get
 * about one core; both processes' CPU use is printed, so a client-bound run shows as such, and so is
 * the server process's CPU time per answered request (µs CPU/req), the figure that other load on
 * the machine disturbs least (requests/s falls with whatever else runs; the work per request does
 * not). Latency quantiles are computed from every response's time as a float in ms (autocannon's own
 * histogram rounds to whole ms); requests/s is the 2xx responses counted over the measured duration.
 *
 * Each round runs both targets (API, bare; the next round bare, API, so drift in the machine's load
 * does not favour one), after one warm-up of each. The summary pools all rounds.
 *
 * Usage: npm run bench:api [-- --duration S] [--connections N] [--rounds R] [--warmup S]
 *        defaults: 10 s per target and round, 10 connections, 2 rounds, 2 s warm-up.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { resolveNodeConfig } from '../node/config.ts';
import { startNode } from '../node/daemon.ts';
import type { RunningNode } from '../node/daemon.ts';
import { formatTable, machineFacts, quantile, sleep } from './benchHelpers.ts';

const CLIENT_FLAG = '--autocannon-client';
const AUTOCANNON_VERSION = (createRequire(import.meta.url)('autocannon/package.json') as { version: string })
  .version;
const TARGET_RATIO = 0.7;

/** What the parent asks the client for. */
interface ClientJob {
  url: string;
  connections: number;
  durationS: number;
}

/** What the client reports back (latencies in ms, every 2xx response). */
interface ClientResult {
  requests2xx: number;
  durationS: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  cpuPct: number;
  latenciesMs: Float64Array;
}

// ---- the client process -------------------------------------------------------------------------

async function runClient(): Promise<void> {
  const jobReceived = new Promise<ClientJob>((resolve) =>
    process.once('message', (m) => resolve(m as ClientJob)),
  );
  process.send!('ready');
  const job = await jobReceived;
  const latencies: number[] = [];
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const instance = autocannon({ url: job.url, connections: job.connections, duration: job.durationS });
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTimeMs);
  });
  const r = await instance;
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - wallBefore;
  const result: ClientResult = {
    requests2xx: latencies.length,
    durationS: r.duration,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    cpuPct: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    latenciesMs: Float64Array.from(latencies),
  };
  await new Promise<void>((resolve, reject) =>
    process.send!(result, (err) => (err ? reject(err) : resolve())),
  );
  process.disconnect();
}

// ---- the server process -------------------------------------------------------------------------

interface RunFigures {
  target: string;
  result: ClientResult;
  serverCpuPct: number;
}

/** The running client, killed if this process exits early (an error, SIGINT, SIGTERM). */
let currentClient: ChildProcess | null = null;
/** The node's data dir while it exists, removed on an early exit too. */
let tempDir: string | null = null;

/** One autocannon run in a fresh child process; also measures this (server) process's CPU use. */
async function load(target: string, job: ClientJob): Promise<RunFigures> {
  const child = fork(fileURLToPath(import.meta.url), [CLIENT_FLAG], {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  currentClient = child;
  try {
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(new Error(`autocannon client exited (${signal ?? code}) before reporting`)),
      ),
    );
    exited.catch(() => undefined); // raced below; after the report, exiting is expected
    const messages: unknown[] = [];
    let wake: (() => void) | null = null;
    child.on('message', (m) => {
      messages.push(m);
      wake?.();
    });
    const next = async (): Promise<unknown> => {
      while (messages.length === 0) {
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), exited]);
      }
      return messages.shift();
    };
    // The child's start-up (tsx, autocannon) is not measured: the clock starts when it has loaded
    // and says so.
    if ((await next()) !== 'ready') throw new Error('autocannon client: unexpected first message');
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    child.send(job);
    const result = (await next()) as ClientResult;
    const cpu = process.cpuUsage(cpuBefore);
    const serverCpuPct = ((cpu.user + cpu.system) / 1000 / (performance.now() - wallBefore)) * 100;
    return { target, result, serverCpuPct };
  } finally {
    currentClient = null;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

function fmtMs(ms: number): string {
  return ms.toFixed(3);
}

function row(label: string, runs: RunFigures[]): string[] {
  const requests = runs.reduce((s, r) => s + r.result.requests2xx, 0);
  const durationS = runs.reduce((s, r) => s + r.result.durationS, 0);
  const sorted = Float64Array.from(runs.flatMap((r) => [...r.result.latenciesMs])).sort();
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  return [
    label,
    Math.round(requests / durationS).toLocaleString('en-US'),
    fmtMs(quantile(sorted, 0.5)),
    fmtMs(quantile(sorted, 0.99)),
    fmtMs(sorted[sorted.length - 1] ?? NaN),
    mean(runs.map((r) => r.serverCpuPct)).toFixed(0),
    ((mean(runs.map((r) => r.serverCpuPct)) * 1e4) / (requests / durationS)).toFixed(0),
    mean(runs.map((r) => r.result.cpuPct)).toFixed(0),
  ];
}

function rps(runs: RunFigures[]): number {
  return (
    runs.reduce((s, r) => s + r.result.requests2xx, 0) / runs.reduce((s, r) => s + r.result.durationS, 0)
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '2' },
      warmup: { type: 'string', default: '2' },
    },
  });
  const durationS = Number(values.duration);
  const connections = Number(values.connections);
  const rounds = Number(values.rounds);
  const warmupS = Number(values.warmup);
  if (!Number.isInteger(durationS) || durationS < 1)
    throw new Error('--duration: expected whole seconds ≥ 1');
  if (!Number.isInteger(connections) || connections < 1)
    throw new Error('--connections: expected an integer ≥ 1');
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds: expected an integer ≥ 1');
  if (!Number.isInteger(warmupS) || warmupS < 0) throw new Error('--warmup: expected whole seconds ≥ 0');

  const dataDir = await mkdtemp(join(tmpdir(), 'timemesh-bench-api-'));
  tempDir = dataDir;
  let node: RunningNode | null = null;
  const bare = createServer();
  try {
    const config = resolveNodeConfig({
      flags: {
        'data-dir': dataDir,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        api: '127.0.0.1:0',
        network: 'bench-api',
        'local-stratum': '8',
        'log-level': 'warn',
      },
    });
    node = await startNode(config);
    const apiUrl = `${node.apiUrl}/v1/time`;

    // Wait for the node to be ready (its clock has a bound), so the captured body has every field.
    const readyBy = Date.now() + 20_000;
    while ((await fetch(`${node.apiUrl}/readyz`)).status !== 200) {
      if (Date.now() > readyBy) throw new Error('the node did not become ready within 20 s');
      await sleep(100);
    }
    const sample = await fetch(apiUrl);
    if (sample.status !== 200) throw new Error(`GET /v1/time answered ${sample.status}`);
    const contentType = sample.headers.get('content-type') ?? 'application/json; charset=utf-8';
    const body = Buffer.from(await sample.arrayBuffer());
    const parsed = JSON.parse(body.toString('utf8')) as { status?: unknown };

    bare.on('request', (_req, res) => {
      res.writeHead(200, {
        'content-type': contentType,
        'content-length': body.length,
        'cache-control': 'no-store',
      });
      res.end(body);
    });
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/v1/time`;

    const targets = { api: apiUrl, bare: bareUrl } as const;
    console.log(`timemesh API benchmark: GET /v1/time against a bare node:http server with the same body`);
    console.log(machineFacts());
    console.log(
      `${connections} connections, ${durationS} s per target and round, ${rounds} round(s), ${warmupS} s warm-up; ` +
        `autocannon ${AUTOCANNON_VERSION} in a child process; body ${body.length} bytes (status ${String(parsed.status)})`,
    );

    if (warmupS > 0) {
      for (const name of ['api', 'bare'] as const) {
        const w = await load(name, { url: targets[name], connections, durationS: warmupS });
        checkErrors(w);
      }
    }
    const runs: RunFigures[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? (['api', 'bare'] as const) : (['bare', 'api'] as const);
      for (const name of order) {
        const r = await load(name, { url: targets[name], connections, durationS });
        checkErrors(r);
        runs.push(r);
        console.log(
          `  round ${round + 1} ${name.padEnd(4)} ${Math.round(r.result.requests2xx / r.result.durationS)
            .toLocaleString('en-US')
            .padStart(7)} req/s`,
        );
      }
    }

    const apiRuns = runs.filter((r) => r.target === 'api');
    const bareRuns = runs.filter((r) => r.target === 'bare');
    console.log(
      formatTable(
        ['server', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'server CPU %', 'µs CPU/req', 'client CPU %'],
        [row('timemesh API (fastify)', apiRuns), row('bare node:http', bareRuns)],
      ),
    );
    const ratio = rps(apiRuns) / rps(bareRuns);
    console.log(
      `ratio API / bare: ${ratio.toFixed(2)}× (target ≥ ${TARGET_RATIO}×): ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'}`,
    );
    return 0;
  } finally {
    await node?.stop().catch((err: unknown) => console.error('stopping the node failed:', err));
    await new Promise<void>((resolve) => bare.close(() => resolve()));
    await rm(dataDir, { recursive: true, force: true });
    tempDir = null;
  }
}

function checkErrors(r: RunFigures): void {
  const { non2xx, errors, timeouts } = r.result;
  if (non2xx > 0 || errors > 0 || timeouts > 0) {
    throw new Error(`${r.target}: ${non2xx} non-2xx answers, ${errors} errors, ${timeouts} timeouts`);
  }
  if (r.result.requests2xx === 0) throw new Error(`${r.target}: no successful request`);
}

if (process.argv.includes(CLIENT_FLAG)) {
  await runClient();
} else {
  process.on('exit', () => {
    currentClient?.kill('SIGKILL');
    if (tempDir !== null) rmSync(tempDir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  let code = 1;
  try {
    code = await main();
  } catch (err) {
    console.error('bench:api failed:', err);
  }
  // libp2p may keep timers for a moment after stop(); the figures are printed, so leave now.
  process.exit(code);
}
