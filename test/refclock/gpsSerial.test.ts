/**
 * The GPS driver through a real pseudo-terminal pair (socat): the test plays the receiver, writing
 * the fixture (test/fixtures/gps-nmea.txt) one second of sentences at a time, right after each UTC
 * second begins, with the sentence times rewritten to that second (checksums recomputed; the broken
 * lines stay broken). GpsSerial reads the other end. Checked: samples arrive with
 * offset = (second + fudge) − arrival exactly, and within 50 ms of the fudge (the write-to-read
 * latency); bad lines are counted by reason and never stop the driver; stop() closes the port; the
 * driver reopens the port when the pty disappears and comes back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GpsSerial } from '../../refclock/gpsSerial.ts';
import type { GpsSerialEvent } from '../../refclock/gpsSerial.ts';
import type { ReferenceSample } from '../../node/core/types.ts';
import { PtyPair, fixtureSeconds, until, writeSecond } from './gpsHelpers.ts';

const MS = 1_000_000;
const NS_PER_S = 1_000_000_000n;

/** The host clock as the node's raw oscillator, with sub-ms resolution. */
const clock = {
  localNowNs: (): bigint => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)),
};

/** (second + fudge) − arrival must hold exactly; returns offset − fudge (≈ −latency) in ms. */
function checkOffset(sample: ReferenceSample, fudgeNs: number, seconds: bigint[]): number {
  const s = sample.localNs / NS_PER_S;
  const second = seconds.includes(s) ? s : seconds.find((x) => x === s - 1n);
  assert.ok(second !== undefined, `sample at ${sample.localNs} is not in a second written`);
  assert.equal(sample.offsetNs, Number(second * NS_PER_S + BigInt(fudgeNs) - sample.localNs));
  const latencyMs = (fudgeNs - sample.offsetNs) / MS;
  assert.ok(latencyMs >= 0 && latencyMs < 50, `offset − fudge = ${-latencyMs} ms, expected within (−50, 0]`);
  return -latencyMs;
}

describe('GPS over a real pty (socat)', () => {
  const pty = new PtyPair(mkdtempSync(join(tmpdir(), 'timemesh-gps-')));
  const drivers: GpsSerial[] = [];

  before(() => pty.start());
  after(async () => {
    for (const d of drivers) await d.stop();
    await pty.stop();
    rmSync(pty.dir, { recursive: true, force: true });
  });

  it('turns the fixture into one sample per valid second, counting the bad lines', async () => {
    const samples: ReferenceSample[] = [];
    const gps = new GpsSerial({ path: pty.gps, baudRate: 9600, clock, sink: (s) => samples.push(s) });
    drivers.push(gps);
    gps.start();
    await until(() => gps.snapshot().open, 3000);
    assert.ok(gps.snapshot().open, 'port did not open');

    const groups = fixtureSeconds();
    assert.equal(groups.length, 5);
    const seconds: bigint[] = [];
    for (const [i, group] of groups.entries()) {
      // Garbage before the first second, as when a receiver is plugged in mid-sentence.
      seconds.push(await writeSecond(pty, i === 0 ? ['\x00\xff\x13garbage', ...group] : group));
    }
    await until(() => gps.snapshot().linesTotal >= 16, 2000);

    const snap = gps.snapshot();
    assert.equal(snap.linesTotal, 16);
    assert.equal(snap.samplesTotal, 4);
    assert.equal(samples.length, 4);
    assert.equal(snap.drops['bad-character'], 1);
    assert.equal(snap.drops['bad-checksum'], 1);
    assert.equal(snap.drops['invalid-fix'], 2);
    assert.equal(snap.drops.truncated, 1);
    assert.equal(snap.drops['unknown-type'], 1);
    const offsetsMs = samples.map((s) => checkOffset(s, 0, seconds));
    for (const s of samples) assert.deepEqual([s.refId, s.kind, s.stratum], [`gps:${pty.gps}`, 'gps', 0]);
    console.log(`gps pty: fudge 0: offsets ${offsetsMs.map((o) => o.toFixed(2)).join(', ')} ms`);

    await gps.stop();
    assert.equal(gps.snapshot().open, false);
  });

  it('shifts offsets by exactly the fudge, and reopens the port when the pty comes back', async () => {
    const fudgeNs = 150 * MS;
    const samples: ReferenceSample[] = [];
    const events: GpsSerialEvent['type'][] = [];
    const gps = new GpsSerial({
      path: pty.gps,
      fudgeNs,
      clock,
      sink: (s) => samples.push(s),
      onEvent: (e) => {
        events.push(e.type);
        if (process.env.GPS_DEBUG) console.log(e);
      },
      reconnectDelayMsMin: 50,
      reconnectDelayMsMax: 200,
    });
    drivers.push(gps);
    gps.start();
    await until(() => gps.snapshot().open, 3000);
    const groups = fixtureSeconds();
    const seconds = [await writeSecond(pty, groups[0] ?? [])];
    await until(() => samples.length >= 1, 2000);
    assert.equal(samples.length, 1);

    await pty.stop();
    await until(() => gps.snapshot().closesTotal >= 1, 3000);
    assert.equal(gps.snapshot().closesTotal, 1, 'the driver did not notice the pty closing');
    await pty.start();
    await until(() => gps.snapshot().opensTotal >= 2, 3000);
    assert.equal(gps.snapshot().opensTotal, 2, 'the driver did not reopen the port');
    seconds.push(await writeSecond(pty, groups[1] ?? []));
    await until(() => samples.length >= 2, 2000);
    assert.equal(samples.length, 2);

    const offsetsMs = samples.map((s) => checkOffset(s, fudgeNs, seconds) + fudgeNs / MS);
    console.log(`gps pty: fudge 150 ms: offsets ${offsetsMs.map((o) => o.toFixed(2)).join(', ')} ms`);
    assert.ok(events.includes('close') && events.includes('reconnect-scheduled'));
  });
});
