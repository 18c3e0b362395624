// The system-clock policy (node/core/systemClockPolicy.ts): pure, every branch.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_SYSTEM_CLOCK_POLICY,
  SLEW_STATUS_CLEAR,
  SLEW_STATUS_SET,
  STA_FLL,
  STA_FREQHOLD,
  STA_NANO,
  STA_PLL,
  STA_UNSYNC,
  SystemClockPolicy,
  statusNeedsUpdate,
} from '../../node/core/systemClockPolicy.ts';
import type { SystemClockAction, SystemClockInput } from '../../node/core/systemClockPolicy.ts';
import { STA_FLAGS } from '../../refclock/kernelClock.ts';

const MS = 1_000_000;
const SYNCED_STATUS = STA_PLL | STA_NANO | STA_FREQHOLD;

function input(over: Partial<SystemClockInput> = {}): SystemClockInput {
  return {
    systemOffsetNs: 0,
    nodeStatus: 'synchronized',
    rootDistanceNs: 1 * MS,
    oscillatorFrequencyPpm: 12.5,
    kernelStatus: STA_UNSYNC,
    ...over,
  };
}

function slewOf(a: SystemClockAction): Extract<SystemClockAction, { type: 'slew' }> {
  assert.equal(a.type, 'slew', `expected a slew, got ${a.type}: ${a.reason}`);
  return a as Extract<SystemClockAction, { type: 'slew' }>;
}

describe('system clock policy (pure)', () => {
  it('has the documented defaults, and the STA_* values of the kernel header', () => {
    assert.deepEqual(DEFAULT_SYSTEM_CLOCK_POLICY, {
      stepThresholdNs: 128 * MS,
      maxOffsetNs: 1000 * MS,
      maxBackwardStepNs: 1000 * MS,
      timeConstant: 2,
    });
    assert.equal(STA_PLL, STA_FLAGS.STA_PLL, 'STA_PLL');
    assert.equal(STA_FLL, STA_FLAGS.STA_FLL, 'STA_FLL');
    assert.equal(STA_UNSYNC, STA_FLAGS.STA_UNSYNC, 'STA_UNSYNC');
    assert.equal(STA_FREQHOLD, STA_FLAGS.STA_FREQHOLD, 'STA_FREQHOLD');
    assert.equal(STA_NANO, STA_FLAGS.STA_NANO, 'STA_NANO');
  });

  it('holds while the node is unsynchronized or in holdover, and on an unusable measurement', () => {
    const p = new SystemClockPolicy();
    for (const nodeStatus of ['unsynchronized', 'holdover'] as const) {
      const a = p.decide(input({ nodeStatus, systemOffsetNs: 5000 * MS }));
      assert.equal(a.type, 'hold', `${nodeStatus}: ${a.type}`);
      assert.match(a.reason, new RegExp(`node is ${nodeStatus}`));
    }
    assert.equal(p.decide(input({ rootDistanceNs: Number.POSITIVE_INFINITY })).type, 'hold', 'infinite rd');
    assert.equal(p.decide(input({ systemOffsetNs: Number.NaN })).type, 'hold', 'NaN offset');
    assert.equal(p.counters.holds, 4);
    // 'anchored' acts like 'synchronized'.
    assert.equal(
      p.decide(input({ nodeStatus: 'anchored', systemOffsetNs: 1 * MS })).type,
      'slew',
      'anchored',
    );
  });

  it('refuses beyond maxOffset (either sign), and never refuses with maxOffset null', () => {
    const p = new SystemClockPolicy();
    for (const off of [1001 * MS, -1001 * MS, 2000 * MS]) {
      const a = p.decide(input({ systemOffsetNs: off }));
      assert.equal(a.type, 'refuse', `${off}: ${a.type}`);
      assert.match(a.reason, /beyond the maximum offset 1000\.000 ms/);
    }
    assert.equal(p.counters.refusals, 3);
    // Exactly at the limit: acted on (a step here).
    assert.equal(p.decide(input({ systemOffsetNs: 1000 * MS })).type, 'step', 'at the limit');
    const free = new SystemClockPolicy({ maxOffsetNs: null });
    assert.equal(free.decide(input({ systemOffsetNs: 3_600_000 * MS })).type, 'step', 'no limit');
  });

  it('steps forward above the threshold when the interval excludes the system time', () => {
    const p = new SystemClockPolicy();
    const a = p.decide(input({ systemOffsetNs: 300 * MS + 0.4 }));
    assert.equal(a.type, 'step', a.reason);
    assert.ok(a.type === 'step' && a.deltaNs === 300 * MS, `deltaNs ${a.type === 'step' && a.deltaNs}`);
    assert.match(a.reason, /step forward by 300\.000 ms/);
    // Just at the threshold: slew.
    assert.equal(new SystemClockPolicy().decide(input({ systemOffsetNs: 128 * MS })).type, 'slew', '128 ms');
  });

  it('slews instead of stepping when the offset is within the node interval', () => {
    const p = new SystemClockPolicy();
    const a = slewOf(p.decide(input({ systemOffsetNs: 200 * MS, rootDistanceNs: 250 * MS })));
    assert.match(a.reason, /within the node's interval/);
    assert.equal(a.adjustment.offsetNs, 200 * MS);
    // And steps once the interval is narrower than the offset.
    assert.equal(
      new SystemClockPolicy().decide(input({ systemOffsetNs: 200 * MS, rootDistanceNs: 199 * MS })).type,
      'step',
      'interval excludes',
    );
  });

  it('steps backwards up to maxBackwardStep, and slews beyond it (0: never backwards)', () => {
    const within = new SystemClockPolicy({ maxBackwardStepNs: 500 * MS }).decide(
      input({ systemOffsetNs: -400 * MS }),
    );
    assert.equal(within.type, 'step', within.reason);
    assert.ok(within.type === 'step' && within.deltaNs === -400 * MS, 'delta −400 ms');
    assert.match(within.reason, /step backward/);
    const beyond = slewOf(
      new SystemClockPolicy({ maxBackwardStepNs: 300 * MS }).decide(input({ systemOffsetNs: -400 * MS })),
    );
    assert.match(beyond.reason, /exceeds the maximum backward step 300\.000 ms: slewing instead/);
    assert.equal(beyond.adjustment.offsetNs, -400 * MS);
    const never = slewOf(
      new SystemClockPolicy({ maxBackwardStepNs: 0 }).decide(input({ systemOffsetNs: -130 * MS })),
    );
    assert.match(never.reason, /maximum backward step 0\.000 ms/);
    // Forward steps are unaffected by the backward limit.
    assert.equal(
      new SystemClockPolicy({ maxBackwardStepNs: 0 }).decide(input({ systemOffsetNs: 130 * MS })).type,
      'step',
      'forward with maxBackwardStep 0',
    );
  });

  it('never steps twice in a row: the tick after a step slews', () => {
    const p = new SystemClockPolicy();
    assert.equal(p.decide(input({ systemOffsetNs: 300 * MS })).type, 'step', 'first');
    const second = slewOf(p.decide(input({ systemOffsetNs: 300 * MS })));
    assert.match(second.reason, /after a step on the previous tick/);
    assert.equal(p.decide(input({ systemOffsetNs: 300 * MS })).type, 'step', 'third may step again');
    assert.deepEqual(p.counters, { holds: 0, refusals: 0, steps: 2, slews: 1 });
    assert.equal(p.lastActionType, 'step');
  });

  it('slews with clamps: offset ±0.5 s, frequency ±500 ppm; errors from the root distance', () => {
    const p = new SystemClockPolicy({ maxBackwardStepNs: 0, stepThresholdNs: 900 * MS });
    const big = slewOf(p.decide(input({ systemOffsetNs: -800 * MS, oscillatorFrequencyPpm: -900 })));
    assert.equal(big.adjustment.offsetNs, -500 * MS);
    assert.equal(big.adjustment.frequencyPpm, -500);
    assert.equal(big.offsetNs, -800 * MS, 'the action keeps the measured offset');
    const a = slewOf(
      new SystemClockPolicy({ timeConstant: 4 }).decide(
        input({ systemOffsetNs: 5 * MS + 0.6, rootDistanceNs: 3 * MS + 1, oscillatorFrequencyPpm: 37.25 }),
      ),
    );
    assert.equal(a.adjustment.offsetNs, 5 * MS + 1);
    assert.equal(a.adjustment.frequencyPpm, 37.25);
    assert.equal(a.adjustment.timeConstant, 4);
    // ceil((3 ms + 1 ns + 5 ms + 0.6 ns) / 1000) µs = 8001 µs.
    assert.equal(a.adjustment.maxErrorUs, 8001);
    assert.equal(a.adjustment.estErrorUs, Math.ceil(((3 * MS + 1) / Math.sqrt(3) + 5 * MS + 0.6) / 1000));
    assert.ok(a.adjustment.estErrorUs <= a.adjustment.maxErrorUs, 'esterror ≤ maxerror');
    const nan = slewOf(new SystemClockPolicy().decide(input({ oscillatorFrequencyPpm: Number.NaN })));
    assert.equal(nan.adjustment.frequencyPpm, 0);
  });

  it('sets STA_PLL|STA_NANO|STA_FREQHOLD and clears STA_UNSYNC|STA_FLL only when the kernel lacks them', () => {
    assert.equal(SLEW_STATUS_SET, STA_PLL | STA_NANO | STA_FREQHOLD);
    assert.equal(SLEW_STATUS_CLEAR, STA_UNSYNC | STA_FLL);
    const p = new SystemClockPolicy();
    const first = slewOf(p.decide(input({ kernelStatus: STA_UNSYNC })));
    assert.deepEqual(first.adjustment.status, { set: SLEW_STATUS_SET, clear: SLEW_STATUS_CLEAR });
    const unknown = slewOf(p.decide(input({ kernelStatus: null })));
    assert.ok(unknown.adjustment.status !== undefined, 'status sent when the kernel state is unknown');
    const done = slewOf(p.decide(input({ kernelStatus: SYNCED_STATUS })));
    assert.equal(done.adjustment.status, undefined, 'nothing to change');
    // STA_NANO missing is not a reason (ADJ_NANO sets it); a FLL or UNSYNC bit, a missing FREQHOLD are.
    assert.equal(statusNeedsUpdate(STA_PLL | STA_FREQHOLD), false);
    assert.equal(statusNeedsUpdate(SYNCED_STATUS | STA_FLL), true);
    assert.equal(statusNeedsUpdate(SYNCED_STATUS | STA_UNSYNC), true);
    assert.equal(statusNeedsUpdate(STA_PLL | STA_NANO), true);
    // Unrelated bits (a pending leap second) do not matter.
    assert.equal(statusNeedsUpdate(SYNCED_STATUS | STA_FLAGS.STA_INS), false);
  });

  it('rejects a bad configuration', () => {
    assert.throws(() => new SystemClockPolicy({ stepThresholdNs: -1 }), /stepThresholdNs/);
    assert.throws(() => new SystemClockPolicy({ timeConstant: 11 }), /timeConstant/);
    assert.throws(
      () => new SystemClockPolicy({ maxOffsetNs: 100 * MS }),
      /maxOffsetNs must be ≥ stepThresholdNs/,
    );
    assert.throws(() => new SystemClockPolicy({ maxBackwardStepNs: Number.NaN }), /maxBackwardStepNs/);
  });
});
