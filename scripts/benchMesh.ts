/**
 * `npm run bench:mesh`: what the mesh side costs (issue #3).
 *
 * (a) Sample-exchange round trip over libp2p (TCP, Noise, Yamux) on 127.0.0.1, N exchanges one after
 *     another, each as mesh/timeService.ts does it: open a stream on /timemesh/sample/1.0.0 over the
 *     existing connection, send a fresh 16-byte nonce (T1 just before), read the signed response (T4 on
 *     arrival), close the stream, then decode and verify nonce, peer and Ed25519 signature. Two figures
 *     per exchange: the whole exchange (stream open to verified response) and T1→T4, the round trip
 *     the core sees (it includes the responder's serving and signing). Against two responders:
 *       - a TimeService on a second libp2p node in this process (one event loop serves both sides);
 *       - a `timemesh start` daemon process, node 0 of the mesh of (c), while that mesh runs.
 *     The requester is a plain libp2p node (mesh/meshNode.ts) without a TimeService, so only the
 *     measured exchanges run on it. Responders allow 10 000 requests/s per peer (the default 10/s
 *     rate limit would refuse a benchmark).
 * (b) Signing and verification per sample: scripts/benchSampleCodec.ts's measurement, imported.
 * (c) Resident memory (VmRSS from /proc/<pid>/status, Linux only) of `timemesh start` processes on
 *     127.0.0.1: node 0 (a local stratum-8 reference) alone and idle after the idle wait; then 9 more
 *     bootstrapping from it, and after the mesh wait every node's VmRSS (min / median / max), with how
 *     many nodes were synchronized by then.
 *
 * Every child process is stopped at the end (SIGTERM, then SIGKILL after 5 s), also when the script
 * fails or is interrupted; their data dirs are removed.
 *
 * Usage: npm run bench:mesh [-- --exchanges N] [--nodes N] [--idle-wait S] [--mesh-wait S]
 *        [--codec-iterations N]
 *        defaults: 2000 exchanges, 10 nodes, 20 s idle, 30 s mesh, 5000 codec calls per row.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { lpStream } from '@libp2p/utils';
import { multiaddr } from '@multiformats/multiaddr';
import { createMeshNode } from '../mesh/meshNode.ts';
import type { MeshLibp2p } from '../mesh/meshNode.ts';
import {
  SAMPLE_NONCE_BYTES,
  SAMPLE_PROTOCOL_ID,
  SAMPLE_RESPONSE_MAX_BYTES,
  encodeSampleRequest,
  openSampleResponse,
} from '../mesh/sampleProtocol.ts';
import { SignatureVerifier, createSigner } from '../mesh/signing.ts';
import { TimeService } from '../mesh/timeService.ts';
import { hostOscillator } from '../node/localClock.ts';
import { startDaemon } from '../test/node/daemonProcess.ts';
import type { DaemonProcess } from '../test/node/daemonProcess.ts';
import { formatTable, machineFacts, positiveInt, quantile, sleep, stopProcesses } from './benchHelpers.ts';
import { formatSampleCodecRows, measureSampleCodec } from './benchSampleCodec.ts';

const BENCH_REQUESTS_PER_SECOND = 10_000;
const WARMUP_EXCHANGES = 50;
const EXCHANGE_TIMEOUT_MS = 5000;

// ---- child processes: never leave one behind -----------------------------------------------------

const children = new Set<ChildProcess>();
const dataDirs = new Set<string>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench:mesh: ${signal}, stopping the nodes`);
    process.exit(130);
  });
}

async function stopChildren(): Promise<void> {
  await stopProcesses(children);
  children.clear();
}

/** Starts daemons in parallel; every one that started is tracked even if another one failed. */
async function startDaemons(specs: { args: string[]; dataDir: string }[]): Promise<DaemonProcess[]> {
  const settled = await Promise.allSettled(specs.map((s) => startDaemon(s.args, s.dataDir)));
  const started: DaemonProcess[] = [];
  for (const s of settled) {
    if (s.status === 'fulfilled') {
      children.add(s.value.child);
      started.push(s.value);
    }
  }
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  return started;
}

async function vmRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kib) / 1024;
}

// ---- (a) the round trip --------------------------------------------------------------------------

interface RttFigures {
  exchangeUs: number[];
  wireUs: number[];
}

/** N sequential exchanges from `requester` to `responder`, each as TimeService does it. */
async function measureExchanges(
  requester: MeshLibp2p,
  responder: string,
  count: number,
): Promise<RttFigures> {
  const verifier = new SignatureVerifier();
  const peer = peerIdFromString(responder);
  const figures: RttFigures = { exchangeUs: [], wireUs: [] };
  for (let i = 0; i < WARMUP_EXCHANGES + count; i++) {
    const signal = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS);
    const startedMs = performance.now();
    const stream = await requester.dialProtocol(peer, SAMPLE_PROTOCOL_ID, { signal });
    const lp = lpStream(stream, { maxDataLength: SAMPLE_RESPONSE_MAX_BYTES });
    const nonce = new Uint8Array(randomBytes(SAMPLE_NONCE_BYTES));
    const request = encodeSampleRequest(nonce);
    const t1Ms = performance.now();
    await lp.write(request, { signal });
    const reply = await lp.read({ signal });
    const t4Ms = performance.now();
    await stream.close({ signal }).catch(() => undefined);
    const opened = openSampleResponse(reply.subarray(), nonce, responder, verifier);
    const doneMs = performance.now();
    if (!opened.ok) throw new Error(`exchange ${i}: the response was refused: ${opened.error.message}`);
    if (i >= WARMUP_EXCHANGES) {
      figures.exchangeUs.push((doneMs - startedMs) * 1000);
      figures.wireUs.push((t4Ms - t1Ms) * 1000);
    }
  }
  return figures;
}

function rttRows(label: string, f: RttFigures): string[][] {
  const row = (what: string, xs: number[]): string[] => {
    const s = [...xs].sort((a, b) => a - b);
    return [
      `${label}, ${what}`,
      ...[0.5, 0.9, 0.99].map((q) => quantile(s, q).toFixed(0)),
      s[s.length - 1]!.toFixed(0),
    ];
  };
  return [row('exchange', f.exchangeUs), row('T1→T4', f.wireUs)];
}

async function newRequester(): Promise<MeshLibp2p> {
  return createMeshNode({
    privateKey: await generateKeyPair('Ed25519'),
    // Its own network name: its discovery topic reaches nobody, so the mesh never selects it.
    network: 'bench-requester',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: [],
  });
}

/** Two libp2p nodes in this process: a TimeService (local stratum 8) answering a plain requester. */
async function inProcessRtt(count: number): Promise<RttFigures> {
  const key = await generateKeyPair('Ed25519');
  const peerId = peerIdFromPrivateKey(key).toString();
  const responder = await createMeshNode({
    privateKey: key,
    network: 'bench-rtt',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: [],
  });
  const service = new TimeService({
    libp2p: responder,
    clock: hostOscillator(),
    signer: createSigner(key, peerId),
    network: 'bench-rtt',
    core: { localStratum: 8 },
    inboundRequestsPerSecond: BENCH_REQUESTS_PER_SECOND,
  });
  let requester: MeshLibp2p | null = null;
  try {
    await service.start();
    requester = await newRequester();
    await requester.dial(responder.getMultiaddrs()[0]!);
    await waitForServing(requester, peerId);
    return await measureExchanges(requester, peerId, count);
  } finally {
    await requester?.stop();
    await service.stop();
    await responder.stop();
  }
}

/** Until the responder answers (a fresh node refuses while its HLC mark is not yet persisted). */
async function waitForServing(requester: MeshLibp2p, peerId: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await measureExchanges(requester, peerId, 0);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

// ---- main -----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      exchanges: { type: 'string', default: '2000' },
      nodes: { type: 'string', default: '10' },
      'idle-wait': { type: 'string', default: '20' },
      'mesh-wait': { type: 'string', default: '30' },
      'codec-iterations': { type: 'string', default: '5000' },
    },
  });
  const exchanges = positiveInt('exchanges', values.exchanges);
  const nodeCount = Math.max(2, positiveInt('nodes', values.nodes));
  const idleWaitS = positiveInt('idle-wait', values['idle-wait']);
  const meshWaitS = positiveInt('mesh-wait', values['mesh-wait']);
  const codecIterations = positiveInt('codec-iterations', values['codec-iterations']);

  console.log('timemesh mesh benchmark');
  console.log(machineFacts());

  // (b) first: it is pure CPU and wants a quiet machine.
  const codec = await measureSampleCodec(codecIterations);
  console.log(
    `\n(b) sample signing and verification: ${codec.iterations} calls per row, median of 5 batches; ` +
      `response ${codec.wireBytes} bytes on the wire, ${codec.signedBytes} signed`,
  );
  console.log(formatSampleCodecRows(codec.rows));

  const rttHeader = ['µs', 'median', 'p90', 'p99', 'max'];
  const inProcess = await inProcessRtt(exchanges);
  console.log(`\n(a) sample exchange round trip over libp2p on 127.0.0.1, ${exchanges} exchanges in a row`);
  console.log(formatTable(rttHeader, rttRows('in-process pair', inProcess)));

  let requester: MeshLibp2p | null = null;
  try {
    const common = ['--network', 'bench-mesh', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0'];
    const newDir = async (): Promise<string> => {
      const dir = await mkdtemp(join(tmpdir(), 'timemesh-bench-mesh-'));
      dataDirs.add(dir);
      return dir;
    };
    const [first] = await startDaemons([
      {
        args: [
          ...common,
          '--local-stratum',
          '8',
          '--inbound-requests-per-second',
          String(BENCH_REQUESTS_PER_SECOND),
        ],
        dataDir: await newDir(),
      },
    ]);
    const node0 = first!;
    await sleep(idleWaitS * 1000);
    const idleMiB = await vmRssMiB(node0.child.pid!);

    const followerSpecs = [];
    for (let i = 1; i < nodeCount; i++) {
      followerSpecs.push({ args: [...common, '--bootstrap', node0.multiaddr], dataDir: await newDir() });
    }
    const nodes = [node0, ...(await startDaemons(followerSpecs))];
    await sleep(meshWaitS * 1000);
    const meshMiB = await Promise.all(nodes.map((n) => vmRssMiB(n.child.pid!)));
    const statuses = await Promise.all(
      nodes.map(async (n) => {
        const res = await fetch(`${n.api}/v1/time`, { signal: AbortSignal.timeout(5000) });
        return ((await res.json()) as { status: string }).status;
      }),
    );

    // (a) again, against node 0 of the running mesh.
    requester = await newRequester();
    const node0PeerId = node0.multiaddr.split('/p2p/')[1]!;
    await requester.dial(multiaddr(node0.multiaddr));
    const toDaemon = await measureExchanges(requester, node0PeerId, exchanges);
    console.log(formatTable(rttHeader, rttRows(`daemon process in a ${nodeCount}-node mesh`, toDaemon)));

    const sortedMiB = [...meshMiB].sort((a, b) => a - b);
    const synced = statuses.filter((s) => s !== 'unsynchronized').length;
    console.log(`\n(c) resident memory (VmRSS) of timemesh start processes on 127.0.0.1`);
    console.log(
      formatTable(
        ['MiB', 'min', 'median', 'max'],
        [
          [`one node, alone, after ${idleWaitS} s`, ...[idleMiB, idleMiB, idleMiB].map((x) => x.toFixed(1))],
          [
            `${nodeCount}-node mesh, per node, after ${meshWaitS} s`,
            ...[sortedMiB[0]!, quantile(sortedMiB, 0.5), sortedMiB[sortedMiB.length - 1]!].map((x) =>
              x.toFixed(1),
            ),
          ],
        ],
      ),
    );
    console.log(
      `mesh after ${meshWaitS} s: ${synced} of ${nodeCount} nodes synchronized (${statuses.join(', ')})`,
    );
  } finally {
    await Promise.resolve(requester?.stop()).catch(() => undefined);
    await stopChildren();
    for (const d of dataDirs) await rm(d, { recursive: true, force: true });
    dataDirs.clear();
  }
}

try {
  await main();
  process.exit(0);
} catch (err) {
  console.error('bench:mesh failed:', err);
  await stopChildren();
  process.exit(1);
}
