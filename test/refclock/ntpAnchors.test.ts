/**
 * Real `timemesh start` processes anchored to real NTP servers on loopback (issue #4, "a node anchored
 * to chronyd"). chronyd always runs with -x (it never touches this machine's clock); every address is
 * 127.0.0.1.
 *
 * - One anchor, chronyd (`local stratum 1`), polled every 1–2 s (`?minpoll=0&maxpoll=1`): for two
 *   minutes after the node first reports `anchored`, every /v1/time reading's [earliestNs, latestNs]
 *   contains the host's true time.
 * - Three anchors: chronyd, an honest scripted server (host time, stratum 2) and a scripted liar
 *   (+2 s, stratum 1). For a minute after the node anchors, every reading contains the host's time and
 *   its best estimate stays within 5 ms of it; the liar is a falseticker in /v1/peers and in
 *   /v1/status's last round, the honest two are truechimers. (`excluded` stays false for all three:
 *   the hold-off after repeated falseticking is for mesh peers; references are re-judged at every
 *   combination.) This needs the majority rule for references (bft/faultTolerance.ts,
 *   majorityFaultToleranceFor): with ⌊(n − 1)/3⌋ = 0 for three servers the node saw "no majority" and
 *   stopped updating. Hazard, not tested: the node anchors on the first sample of all, so a liar that
 *   answered first would be followed for one referencePollS (4 s) until the three are combined.
 *
 * "True time" is the host's realtime clock (`hostNowNs`), read just before and just after each HTTP
 * request: the node read its clock somewhere in between, so the reading must satisfy
 * earliest ≤ after and latest ≥ before, which is "contains the midpoint, with half the round trip as
 * slack". Both tests run side by side to keep the file under ~2.5 minutes. Figures are printed with
 * console.log, one summary line per test.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeersResponse, StatusResponse, TimeResponse } from '../../node/api.ts';
import { toNtpTimestamp } from '../../refclock/ntpPacket.ts';
import { getJson, startDaemon } from '../node/daemonProcess.ts';
import type { DaemonProcess } from '../node/daemonProcess.ts';
import {
  chronydMissing,
  closeSocket,
  fakeServer,
  hostNowNs,
  startChronydServer,
  waitFor,
} from './ntpHelpers.ts';
import type { ChronydServer } from './ntpHelpers.ts';

const missing = chronydMissing();
const MS = 1e6;
const READ_EVERY_MS = 250;
const LIE_NS = 2_000_000_000n;

/** One /v1/time reading against the host clock read around it. */
interface Reading {
  t: TimeResponse;
  /** Host time at the request's midpoint, and half the round trip (the slack). */
  midNs: bigint;
  halfRttNs: bigint;
  /** How far inside the interval the midpoint lies (negative: outside), on the worse side. */
  marginNs: bigint;
  /** best − host midpoint. */
  bestErrNs: bigint;
}

async function readTime(api: string): Promise<Reading> {
  const beforeNs = hostNowNs();
  const t = await getJson<TimeResponse>(`${api}/v1/time`);
  const afterNs = hostNowNs();
  const halfRttNs = (afterNs - beforeNs) / 2n;
  const midNs = beforeNs + halfRttNs;
  let marginNs = -1n << 62n;
  if (t.earliestNs !== null && t.latestNs !== null) {
    const below = midNs - BigInt(t.earliestNs);
    const above = BigInt(t.latestNs) - midNs;
    marginNs = below < above ? below : above;
  }
  return { t, midNs, halfRttNs, marginNs, bestErrNs: BigInt(t.bestNs) - midNs };
}

/** The reading's interval contains the host's time: earliest ≤ after and latest ≥ before. */
function assertContainsHost(r: Reading, what: string): void {
  assert.ok(
    r.marginNs + r.halfRttNs >= 0n,
    `${what}: [${r.t.earliestNs}, ${r.t.latestNs}] misses host time ${r.midNs} ± ${r.halfRttNs} ns ` +
      `(best − host ${r.bestErrNs} ns, status ${r.t.status})`,
  );
}

async function nodeWithAnchors(urls: string[]): Promise<{ proc: DaemonProcess; stop(): Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'timemesh-anchors-'));
  const proc = await startDaemon(
    ['--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', ...urls.flatMap((u) => ['--anchor', u])],
    dataDir,
  );
  const stop = async (): Promise<void> => {
    const exited = new Promise((r) => proc.child.once('exit', r));
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGTERM');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  };
  return { proc, stop };
}

/**
 * Waits for the first anchored reading, then reads /v1/time every READ_EVERY_MS for `runMs`, checking
 * each reading as it comes (every one, including the first anchored one).
 */
async function watch(
  api: string,
  runMs: number,
  check: (r: Reading, i: number) => void | Promise<void>,
): Promise<{ syncMs: number; readings: Reading[] }> {
  const startedMs = Date.now();
  const first = await waitFor(
    'the node to anchor',
    async () => {
      const r = await readTime(api);
      return r.t.anchored ? r : undefined;
    },
    30_000,
    100,
  );
  const syncMs = Date.now() - startedMs;
  const readings = [first];
  await check(first, 0);
  const endMs = Date.now() + runMs;
  while (Date.now() < endMs) {
    await new Promise((r) => setTimeout(r, READ_EVERY_MS));
    const r = await readTime(api);
    await check(r, readings.length);
    readings.push(r);
  }
  return { syncMs, readings };
}

function summary(readings: Reading[]): string {
  let worstMarginNs = readings[0]!.marginNs;
  let worstBestNs = 0n;
  let maxHalfRttNs = 0n;
  for (const r of readings) {
    if (r.marginNs < worstMarginNs) worstMarginNs = r.marginNs;
    const abs = r.bestErrNs < 0n ? -r.bestErrNs : r.bestErrNs;
    if (abs > worstBestNs) worstBestNs = abs;
    if (r.halfRttNs > maxHalfRttNs) maxHalfRttNs = r.halfRttNs;
  }
  const widths = readings
    .map((r) => Number(BigInt(r.t.latestNs!) - BigInt(r.t.earliestNs!)) / 1e3)
    .sort((a, b) => a - b);
  const us = (ns: bigint): string => (Number(ns) / 1e3).toFixed(1);
  // The margin counts the slack as well: midpoint − earliest or latest − midpoint, plus half the RTT.
  let worstWithSlackNs = readings[0]!.marginNs + readings[0]!.halfRttNs;
  for (const r of readings)
    if (r.marginNs + r.halfRttNs < worstWithSlackNs) worstWithSlackNs = r.marginNs + r.halfRttNs;
  const slacks = readings.map((r) => r.halfRttNs).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return (
    `${readings.length} readings, worst margin ${us(worstMarginNs)} µs without the slack, ` +
    `${us(worstWithSlackNs)} µs with it (slack median ${us(slacks[slacks.length >> 1]!)} µs, max ${us(maxHalfRttNs)} µs), ` +
    `max |best − host| ${us(worstBestNs)} µs, interval width median ${widths[widths.length >> 1]!.toFixed(0)} µs ` +
    `(${widths[0]!.toFixed(0)}…${widths.at(-1)!.toFixed(0)})`
  );
}

describe('a node anchored to NTP servers (real processes)', { concurrency: true }, () => {
  it('has chronyd to test against (Debian package chrony, run as root)', () => {
    assert.equal(missing, null, String(missing));
  });

  it('anchored to chronyd, its interval contains the host time throughout 2 minutes', async () => {
    let chrony: ChronydServer | null = null;
    let node: Awaited<ReturnType<typeof nodeWithAnchors>> | null = null;
    try {
      chrony = await startChronydServer();
      node = await nodeWithAnchors([`ntp://127.0.0.1:${chrony.port}?minpoll=0&maxpoll=1`]);
      const { syncMs, readings } = await watch(node.proc.api, 120_000, (r, i) => {
        assert.equal(r.t.status, 'anchored', `reading ${i}`);
        assertContainsHost(r, `reading ${i}`);
      });
      const last = readings.at(-1)!.t;
      assert.equal(last.anchorKind, 'ntp');
      assert.equal(last.stratum, 2);
      console.log(`ntpAnchors chronyd: anchored after ${syncMs} ms; ${summary(readings)}`);
    } finally {
      await node?.stop();
      await chrony?.stop();
    }
  });

  it('with three anchors, one lying by +2 s: the liar is a falseticker and the node stays true', async () => {
    let chrony: ChronydServer | null = null;
    let node: Awaited<ReturnType<typeof nodeWithAnchors>> | null = null;
    const honest = await fakeServer(() => ({ stratum: 2 }));
    const liar = await fakeServer(() => {
      const ts = toNtpTimestamp(hostNowNs() + LIE_NS);
      return { stratum: 1, referenceTs: ts, receiveTs: ts, transmitTs: ts };
    });
    try {
      chrony = await startChronydServer();
      const poll = '?minpoll=0&maxpoll=1';
      const urls = {
        chrony: `ntp://127.0.0.1:${chrony.port}`,
        honest: `ntp://127.0.0.1:${honest.port}`,
        liar: `ntp://127.0.0.1:${liar.port}`,
      };
      node = await nodeWithAnchors([urls.chrony + poll, urls.honest + poll, urls.liar + poll]);
      const api = node.proc.api;
      // The node anchors on the first sample of all (taken while both processes are still warming up,
      // so with a wide δ); the liar is outvoted from the first combination of all three, which is
      // when the point estimate is held to 5 ms. The interval is checked on every reading.
      let steadyAtMs: number | null = null;
      const t0Ms = Date.now();
      const { syncMs, readings } = await watch(api, 60_000, async (r, i) => {
        assert.equal(r.t.status, 'anchored', `reading ${i}`);
        assertContainsHost(r, `reading ${i}`);
        if (steadyAtMs === null) {
          const round = (await getJson<StatusResponse>(`${api}/v1/status`)).lastRound;
          if (round?.n !== 3 || !round.falsetickers.includes(urls.liar)) return;
          steadyAtMs = Date.now() - t0Ms;
        }
        // Beyond the slack: the host time at the node's reading is only known to ± half the round trip.
        const abs = r.bestErrNs < 0n ? -r.bestErrNs : r.bestErrNs;
        assert.ok(
          abs - r.halfRttNs < 5n * BigInt(MS),
          `reading ${i}: best − host ${r.bestErrNs} ns, slack ${r.halfRttNs} ns`,
        );
      });

      const { peers } = await getJson<PeersResponse>(`${api}/v1/peers`);
      const status = await getJson<StatusResponse>(`${api}/v1/status`);
      const byId = new Map(peers.map((p) => [p.id, p]));
      for (const url of Object.values(urls)) {
        assert.equal(byId.get(url)?.kind, 'reference', `${url} in ${JSON.stringify(peers)}`);
      }
      assert.equal(byId.get(urls.liar)!.falseticker, true, JSON.stringify(byId.get(urls.liar)));
      assert.equal(byId.get(urls.chrony)!.falseticker, false);
      assert.equal(byId.get(urls.honest)!.falseticker, false);
      // The liar's measured offset is the lie (+2 s ± a few ms); it scores 0.
      assert.ok(
        Math.abs(byId.get(urls.liar)!.offsetNs! - 2e9) < 10 * MS,
        String(byId.get(urls.liar)!.offsetNs),
      );
      assert.equal(byId.get(urls.liar)!.score, 0);
      const round = status.lastRound!;
      assert.equal(round.updated, true, JSON.stringify(round));
      assert.deepEqual(round.falsetickers, [urls.liar], JSON.stringify(round));
      assert.deepEqual(
        [...round.truechimers].sort(),
        [urls.chrony, urls.honest].sort(),
        JSON.stringify(round),
      );
      assert.ok(status.counters.core.referenceFalsetickerMarks >= 1);
      assert.equal(status.anchorKind, 'ntp');
      console.log(
        `ntpAnchors 3 anchors (liar +2 s): anchored after ${syncMs} ms, liar outvoted after ${steadyAtMs} ms; ` +
          `${summary(readings)}; ` +
          `last round n ${round.n} f ${round.f} basis ${round.basis}; liar offset ` +
          `${(byId.get(urls.liar)!.offsetNs! / 1e6).toFixed(3)} ms, reference falseticker marks ` +
          `${status.counters.core.referenceFalsetickerMarks}; requests ` +
          `${honest.requests.length}/${liar.requests.length} to the scripted honest/liar servers`,
      );
    } finally {
      await node?.stop();
      await chrony?.stop();
      await closeSocket(honest.socket);
      await closeSocket(liar.socket);
    }
  });
});
