// The PPS driver (refclock/ppsDriver.ts) against a FAKE PpsEdgeReader with scripted edges, timeouts
// and errors, and a fake realtime→local mapping: samples reach the sink with sub-µs error bounds,
// outages and errors are counted, the loop survives everything, and stop() resolves with a fetch
// still pending.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PpsDriver } from '../../refclock/ppsDriver.ts';
import type { PpsDriverEvent, RealtimeToLocal } from '../../refclock/ppsDriver.ts';
import type { PpsEdge, PpsEdgeReader } from '../../refclock/ppsDevice.ts';
import { PpsError } from '../../refclock/ppsDevice.ts';
import type { ReferenceSample } from '../../node/core/types.ts';

const S = 1_000_000_000n;
const MS = 1_000_000n;
const T0 = 1_700_000_000n * S;

type Step = { edge: PpsEdge } | { timeout: true } | { error: Error };

/** Plays a script, one step per fetch (each after a short real delay); then hangs until closed. */
class FakeReader implements PpsEdgeReader {
  readonly path = '/dev/pps-fake';
  readonly method = 'ioctl' as const;
  fetches = 0;
  closed = false;
  private hang: (() => void) | null = null;
  constructor(private readonly script: Step[]) {}

  async fetch(timeoutMs: number): Promise<PpsEdge | null> {
    assert.ok(!this.closed, 'fetch after close');
    assert.ok(timeoutMs > 0, `timeout ${timeoutMs}`);
    const step = this.script[this.fetches++];
    if (step === undefined) {
      // Like a real blocking fetch with no signal: resolves only when the reader is closed.
      await new Promise<void>((resolve) => (this.hang = resolve));
      return null;
    }
    await new Promise((r) => setTimeout(r, 2));
    if ('error' in step) throw step.error;
    if ('timeout' in step) return null;
    return step.edge;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.hang?.();
  }

  get waiting(): boolean {
    return this.hang !== null;
  }
}

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The node's raw oscillator runs 5.000000123 s behind realtime, which is exact in this test. */
const LOCAL_MINUS_REALTIME_NS = -5_000_000_123n;
const mapping = (): RealtimeToLocal => ({ offsetNs: LOCAL_MINUS_REALTIME_NS, uncertaintyNs: 80 });
/** A GPS-like coarse source: true time + 150 ms, ±50 ms. */
const coarseTime = (localNs: bigint): { utcNs: bigint; errorNs: number } => ({
  utcNs: localNs - LOCAL_MINUS_REALTIME_NS + 150n * MS,
  errorNs: 50_000_000,
});
const edgeAt = (k: number, jitterNs = 0n): { edge: PpsEdge } => ({
  edge: { sequence: 100 + k, edgeRealtimeNs: T0 + BigInt(k) * S + jitterNs },
});

describe('PpsDriver', () => {
  it('maps edges to the local timeline, names the second, and sends sub-µs samples to the sink', async () => {
    const reader = new FakeReader([edgeAt(0), edgeAt(1, 40n), edgeAt(2, -35n), edgeAt(3)]);
    const samples: ReferenceSample[] = [];
    const driver = new PpsDriver({
      reader,
      source: { fudgeNs: 0 },
      coarseTime,
      realtimeToLocal: mapping,
      sink: (s) => samples.push(s),
    });
    driver.start();
    await until(() => samples.length === 4, 'four samples');
    await driver.stop();
    assert.deepEqual(
      samples.map((s) => s.offsetNs),
      [5_000_000_123, 5_000_000_083, 5_000_000_158, 5_000_000_123],
    );
    for (const s of samples) {
      assert.equal(s.refId, 'pps:/dev/pps-fake');
      assert.equal(s.kind, 'pps');
      assert.equal(s.errorNs, 580, 'the source’s 500 ns plus the mapping’s 80 ns');
      assert.ok(s.errorNs < 1000, `sub-µs error bound: ${s.errorNs}`);
    }
    assert.equal(samples[0]!.localNs, T0 + LOCAL_MINUS_REALTIME_NS);
    const snap = driver.snapshot();
    assert.equal(snap.samplesTotal, 4);
    assert.equal(snap.running, false);
    assert.equal(reader.closed, true);
  });

  it('counts timeouts as an outage and reader errors, retries, and keeps going', async () => {
    const reader = new FakeReader([
      edgeAt(0),
      { timeout: true },
      { timeout: true },
      { error: new PpsError('TM_ERR_PPS_IO', '/dev/pps-fake went away (PPS_FETCH ioctl: ENODEV)') },
      { error: new Error('something unexpected') },
      edgeAt(4),
      edgeAt(5),
    ]);
    const samples: ReferenceSample[] = [];
    const events: PpsDriverEvent[] = [];
    const driver = new PpsDriver({
      reader,
      source: { refId: 'pps:test' },
      coarseTime,
      realtimeToLocal: mapping,
      sink: (s) => samples.push(s),
      onEvent: (e) => events.push(e),
      retryDelayMsMin: 5,
      retryDelayMsMax: 20,
    });
    driver.start();
    await until(() => samples.length === 3, 'three samples');
    await until(() => reader.waiting, 'the fetch after the script');
    const snap = driver.snapshot();
    assert.equal(snap.noEdgeTotal, 2);
    assert.equal(snap.readerErrorsTotal, 2);
    assert.equal(snap.samplesTotal, 3);
    assert.equal(snap.fetchesTotal, 8);
    assert.equal(snap.lastError, 'something unexpected');
    const errors = events.filter((e) => e.type === 'error');
    assert.deepEqual(
      errors.map((e) => [e.code, e.retryInMs]),
      [
        ['TM_ERR_PPS_IO', 5],
        [undefined, 10],
      ],
    );
    assert.equal(events.filter((e) => e.type === 'no-edge').length, 2);
    // stop() while a fetch is pending (the fake hangs like a blocking ioctl until closed).
    const t = Date.now();
    await driver.stop();
    assert.ok(Date.now() - t < 1000, `stop() took ${Date.now() - t} ms`);
    assert.equal(reader.closed, true);
  });

  it('stop() during a retry delay resolves at once', async () => {
    const reader = new FakeReader([{ error: new Error('boom') }]);
    const driver = new PpsDriver({
      reader,
      source: {},
      coarseTime,
      realtimeToLocal: mapping,
      sink: () => {},
      retryDelayMsMin: 60_000,
      retryDelayMsMax: 60_000,
    });
    driver.start();
    await until(() => driver.snapshot().readerErrorsTotal === 1, 'the error');
    const t = Date.now();
    await driver.stop();
    assert.ok(Date.now() - t < 1000, `stop() took ${Date.now() - t} ms`);
  });

  it('drops an edge when the realtime→local mapping moved (a realtime step), and counts throwing callbacks', async () => {
    let offsetNs = LOCAL_MINUS_REALTIME_NS;
    // Realtime is stepped back by 50 ms after the second edge: the kernel stamps later edges 50 ms
    // lower, and local − realtime grows by 50 ms (the raw oscillator does not step).
    const reader = new FakeReader([
      edgeAt(0),
      edgeAt(1),
      edgeAt(2, -50n * MS),
      edgeAt(3, -50n * MS),
      edgeAt(4, -50n * MS),
    ]);
    const samples: ReferenceSample[] = [];
    let sinkCalls = 0;
    const driver = new PpsDriver({
      reader,
      source: {},
      coarseTime,
      realtimeToLocal: () => ({ offsetNs, uncertaintyNs: 100 }),
      sink: (s) => {
        if (++sinkCalls === 1) throw new Error('sink is full');
        samples.push(s);
      },
      onEvent: (e) => {
        // The step happens here: the mapping read after the third fetch has moved, so the third edge
        // is dropped (it may have been stamped on either side of the step).
        if (e.type === 'edge' && e.edge.sequence === 101) offsetNs += 50n * MS;
      },
    });
    driver.start();
    await until(() => reader.waiting, 'the end of the script');
    await driver.stop();
    const snap = driver.snapshot();
    assert.equal(snap.mappingMovedTotal, 1);
    assert.equal(snap.sinkErrorsTotal, 1);
    assert.equal(snap.samplesTotal, 4, 'edges 0, 1, 3, 4');
    assert.equal(samples.length, 3, 'the first sample was thrown away by the sink');
    // After the step, the new mapping puts the edges where they were on the raw timeline.
    assert.deepEqual(
      samples.map((s) => s.offsetNs),
      [5_000_000_123, 5_000_000_123, 5_000_000_123],
    );
  });

  it('survives a mapping that throws or returns nonsense and a coarse source that throws', async () => {
    let call = 0;
    const reader = new FakeReader([edgeAt(0), edgeAt(1), edgeAt(2), edgeAt(3)]);
    const samples: ReferenceSample[] = [];
    const driver = new PpsDriver({
      reader,
      source: {},
      coarseTime: (localNs) => {
        if (localNs === T0 + 2n * S + LOCAL_MINUS_REALTIME_NS) throw new Error('no GPS');
        return coarseTime(localNs);
      },
      realtimeToLocal: () => {
        call++;
        if (call === 2) throw new Error('clock_gettime failed'); // read after edge 0
        if (call === 3) return { offsetNs: LOCAL_MINUS_REALTIME_NS, uncertaintyNs: Number.NaN }; // edge 1
        return mapping();
      },
      sink: (s) => samples.push(s),
    });
    driver.start();
    await until(() => reader.waiting, 'the end of the script');
    await driver.stop();
    const snap = driver.snapshot();
    assert.equal(snap.callbackErrorsTotal, 3);
    assert.equal(snap.drops['no-coarse-time'], 1);
    assert.equal(samples.length, 1, 'only edge 3 makes a sample');
    assert.equal(samples[0]!.offsetNs, 5_000_000_123);
  });

  it('rejects bad options', () => {
    const reader = new FakeReader([]);
    const base = { reader, source: {}, coarseTime, realtimeToLocal: mapping, sink: () => {} };
    assert.throws(() => new PpsDriver({ ...base, fetchTimeoutMs: 0 }), RangeError);
    assert.throws(() => new PpsDriver({ ...base, retryDelayMsMin: 10, retryDelayMsMax: 5 }), RangeError);
  });
});
