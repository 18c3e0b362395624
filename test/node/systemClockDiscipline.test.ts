// The system-clock discipline driver (node/systemClockDiscipline.ts) against a simulated kernel
// (RecordingSystemClock): never the real clock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SLEW_STATUS_CLEAR, SLEW_STATUS_SET } from '../../node/core/systemClockPolicy.ts';
import type { ServedTime } from '../../node/core/types.ts';
import { SystemClockDiscipline } from '../../node/systemClockDiscipline.ts';
import type { SystemClockLogLevel, SystemClockView } from '../../node/systemClockDiscipline.ts';
import { RecordingSystemClock } from './recordingSystemClock.ts';

const MS = 1_000_000;
const T0 = 1_800_000_000_000_000_000n;

interface Rig {
  kernel: RecordingSystemClock;
  view: SystemClockView;
  logs: { level: SystemClockLogLevel; msg: string }[];
  advance(ns: bigint): void;
}

/** True time advances only when told; the node's oscillator reads true time (offset 0, 1 ms bound). */
function rig(
  systemBehindNs: number,
  frequencyPpm = 23.5,
  status: ServedTime['status'] = 'synchronized',
): Rig {
  let trueNs = T0;
  const kernel = new RecordingSystemClock(() => trueNs, BigInt(systemBehindNs));
  const view: SystemClockView = {
    localNowNs: () => trueNs,
    serveTime: (localNs) => ({
      timeNs: localNs,
      earliestNs: localNs - 1_000_000n,
      latestNs: localNs + 1_000_000n,
      rootDistanceNs: 1 * MS,
      status,
      stratum: 2,
      anchorKind: 'ntp',
      lastUpdateLocalNs: localNs,
    }),
    oscillatorFrequencyPpm: () => frequencyPpm,
  };
  return { kernel, view, logs: [], advance: (ns) => void (trueNs += ns) };
}

function discipline(r: Rig, dryRun = false): SystemClockDiscipline {
  return new SystemClockDiscipline({
    control: r.kernel,
    view: r.view,
    dryRun,
    log: (level, msg) => void r.logs.push({ level, msg }),
  });
}

describe('system clock discipline (driver, simulated kernel)', () => {
  it('a 300 ms offset: one step, then slews', () => {
    const r = rig(300 * MS);
    const d = discipline(r);
    const types = [];
    for (let i = 0; i < 4; i++) {
      types.push(d.tick().type);
      r.advance(1_000_000_000n);
    }
    assert.deepEqual(types, ['step', 'slew', 'slew', 'slew']);
    assert.deepEqual(
      r.kernel.calls.map((c) => c.op),
      ['step', 'adjust', 'adjust', 'adjust'],
    );
    const step = r.kernel.calls[0]!;
    assert.ok(step.op === 'step' && step.deltaNs === 300_000_000n, `step ${JSON.stringify(String(step))}`);
    assert.equal(r.kernel.errorNs, 0n, 'the fake realtime was stepped onto true time');
    const slew = r.kernel.calls[1]!;
    assert.ok(slew.op === 'adjust' && slew.adjustment.offsetNs === 0, 'slew of the remaining 0 ns');
    const s = d.snapshot();
    assert.equal(s.steps, 1);
    assert.equal(s.slews, 3);
    assert.equal(s.errors, 0);
    assert.equal(s.dryRun, false);
    assert.equal(s.lastOffsetNs, 0);
    assert.ok(
      r.logs.some((l) => l.level === 'warn' && /stepped by 300\.000 ms/.test(l.msg)),
      'the step is logged',
    );
  });

  it("a 5 ms offset: slews with ADJ_FREQUENCY = the view's frequency; status bits once", () => {
    const r = rig(5 * MS, -41.25);
    const d = discipline(r);
    d.tick();
    d.tick();
    assert.equal(r.kernel.calls.length, 2);
    const [first, second] = r.kernel.calls.map((c) => {
      assert.equal(c.op, 'adjust');
      return c.op === 'adjust' ? c.adjustment : {};
    });
    assert.equal(first!.offsetNs, 5 * MS);
    assert.equal(first!.frequencyPpm, -41.25);
    assert.equal(first!.timeConstant, 2);
    assert.equal(first!.maxErrorUs, 6000);
    assert.deepEqual(first!.status, { set: SLEW_STATUS_SET, clear: SLEW_STATUS_CLEAR });
    assert.equal(second!.frequencyPpm, -41.25);
    assert.equal(second!.status, undefined, 'the simulated kernel already has the bits');
    const k = r.kernel.read();
    assert.equal(k.synchronized, true, 'STA_UNSYNC cleared');
    assert.equal(k.frequencyPpm, -41.25);
    assert.equal(d.snapshot().slews, 2);
  });

  it('a 2 s offset: refused, no calls, logged loudly', () => {
    const r = rig(-2000 * MS);
    const d = discipline(r);
    assert.equal(d.tick().type, 'refuse');
    assert.equal(d.tick().type, 'refuse');
    assert.deepEqual(r.kernel.calls, []);
    assert.equal(d.snapshot().refusals, 2);
    assert.equal(d.snapshot().lastOffsetNs, -2000 * MS, 'system 2 s ahead');
    assert.ok(
      r.logs.some((l) => l.level === 'error' && /refusing to correct/.test(l.msg)),
      'refusal logged as an error',
    );
  });

  it('holds while the node is not synchronized: no calls', () => {
    const r = rig(50 * MS, 0, 'holdover');
    const d = discipline(r);
    assert.equal(d.tick().type, 'hold');
    assert.deepEqual(r.kernel.calls, []);
    assert.equal(d.snapshot().holds, 1);
  });

  it('dry run: no adjust/step call at all, but counted and logged', () => {
    const r = rig(300 * MS);
    const d = discipline(r, true);
    assert.equal(d.tick().type, 'step');
    assert.equal(d.tick().type, 'slew');
    assert.deepEqual(r.kernel.calls, [], 'no calls in a dry run');
    assert.equal(r.kernel.errorNs, 300_000_000n, 'the fake clock is untouched');
    const s = d.snapshot();
    assert.equal(s.dryRun, true);
    assert.equal(s.steps, 1);
    assert.equal(s.slews, 1);
    assert.ok(
      r.logs.some((l) => /would step by 300\.000 ms \(dry run\)/.test(l.msg)),
      'would step logged',
    );
    assert.ok(
      r.logs.some((l) => /would slew by 300\.000 ms at 23\.500 ppm \(dry run\)/.test(l.msg)),
      'would slew logged',
    );
  });

  it('a control that throws EPERM: counted and logged, never thrown', () => {
    const r = rig(300 * MS);
    r.kernel.failWith = RecordingSystemClock.eperm;
    const d = discipline(r);
    assert.doesNotThrow(() => d.tick());
    assert.doesNotThrow(() => d.tick());
    assert.deepEqual(
      r.kernel.calls.map((c) => c.op),
      ['step', 'adjust'],
    );
    const s = d.snapshot();
    assert.equal(s.errors, 2);
    assert.match(String(s.lastError), /needs root or CAP_SYS_TIME/);
    assert.ok(
      r.logs.some((l) => l.level === 'error' && /step failed: .*EPERM/.test(l.msg)),
      'EPERM logged',
    );
    // A throwing view (a measurement failure) is also caught.
    const broken = new SystemClockDiscipline({
      control: r.kernel,
      view: {
        ...r.view,
        localNowNs: () => {
          throw new Error('oscillator gone');
        },
      },
      dryRun: false,
    });
    assert.equal(broken.tick().type, 'hold');
    assert.equal(broken.snapshot().errors, 1);
  });

  it('start() ticks on a timer and stop() ends it', async () => {
    const r = rig(1 * MS);
    const d = new SystemClockDiscipline({ control: r.kernel, view: r.view, dryRun: false, intervalMs: 10 });
    d.start();
    assert.equal(d.snapshot().running, true);
    await new Promise((resolve) => setTimeout(resolve, 80));
    d.stop();
    const ticks = d.snapshot().ticks;
    assert.ok(ticks >= 2, `ticks ${ticks}`);
    assert.equal(d.snapshot().running, false);
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(d.snapshot().ticks, ticks, 'no tick after stop()');
  });
});
