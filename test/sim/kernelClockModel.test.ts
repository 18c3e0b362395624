/**
 * The kernel clock model (sim/kernelClockModel.ts) on its own, then the REAL system-clock discipline
 * (node/systemClockDiscipline.ts + node/core/systemClockPolicy.ts) driven against it in closed loop,
 * one tick per virtual second. Never the real clock: every control here is a KernelClockModel.
 *
 * Closed-loop limits come from measurement, with margin (seeds a–f, 5 ms start, 30 ppm hardware error,
 * frequency estimate bias 0.05 ppm and jitter 0.02 ppm): with σ = 1 µs the offset first drops below
 * 20 µs at 82.3 s (limit 120 s) and then stays below 1.5 µs; with σ = 50 µs the residual p99 after
 * 300 s measured 19–30 µs (limit 75 µs).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quantile } from '../../scripts/benchHelpers.ts';
import { SLEW_STATUS_CLEAR, SLEW_STATUS_SET } from '../../node/core/systemClockPolicy.ts';
import type { SystemClockPolicyConfig } from '../../node/core/systemClockPolicy.ts';
import { SystemClockDiscipline } from '../../node/systemClockDiscipline.ts';
import { STA_FLAGS } from '../../refclock/kernelClock.ts';
import { estimateView, KernelClockModel, runClosedLoop } from '../../sim/kernelClockModel.ts';
import type { ClosedLoopTrace } from '../../sim/kernelClockModel.ts';
import { SimRng } from '../../sim/rng.ts';

const US = 1_000;
const MS = 1_000_000;
const S = 1_000_000_000n;
const PLL_ON = { set: SLEW_STATUS_SET, clear: SLEW_STATUS_CLEAR };

/** realtime − true, ns (positive: the system clock is ahead). */
const err = (m: KernelClockModel): number => Number(m.realtimeNs() - m.trueNowNs);

describe('kernel clock model: the kernel on its own', () => {
  it('a 1 ms ADJ_OFFSET at constant 2 decays as (15/16)^n per second, slewed in evenly', () => {
    const m = new KernelClockModel({ hardwareErrorPpm: 0 });
    const k0 = m.adjust({ offsetNs: 1 * MS, timeConstant: 2, status: PLL_ON });
    assert.equal(k0.offsetNs, 1 * MS);
    assert.equal(k0.constant, 2);
    assert.ok(k0.statusFlags.includes('STA_NANO'), 'ADJ_NANO set STA_NANO');
    for (let n = 1; n <= 40; n++) {
      m.advance(S);
      const remaining = 1e6 * (15 / 16) ** n;
      assert.ok(
        Math.abs(m.read().offsetNs - remaining) <= 1,
        `after ${n} s: kernel offset ${m.read().offsetNs} ns, want ${remaining.toFixed(1)}`,
      );
      // The chunk computed at second n is slewed in over [n, n + 1): realtime has gained the others.
      const gained = 1e6 - 1e6 * (15 / 16) ** (n - 1);
      assert.ok(Math.abs(err(m) - gained) <= 1, `after ${n} s: realtime gained ${err(m)} ns, want ${gained}`);
    }
    const before = err(m);
    const chunk = m.read().offsetNs / 15; // the chunk in progress is 1/16 of the offset before it
    m.advance(S / 2n);
    assert.ok(
      Math.abs(err(m) - before - chunk / 2) <= 1,
      `half a second slews half a chunk (${err(m) - before} vs ${chunk / 2})`,
    );
  });

  it('ADJ_FREQUENCY 10 ppm: realtime gains 10 µs/s; the hardware error adds, the product form exactly', () => {
    const m = new KernelClockModel({ hardwareErrorPpm: 0 });
    m.adjust({ frequencyPpm: 10 });
    m.advance(100n * S);
    assert.equal(err(m), 1 * MS, '100 s × 10 ppm');
    assert.equal(m.read().frequencyPpm, 10);

    const h = new KernelClockModel({ hardwareErrorPpm: 30 });
    h.advance(10n * S);
    assert.equal(err(h), 300 * US, 'free running at +30 ppm: 30 µs/s fast');
    assert.equal(h.rawNs() - h.trueNowNs, 300_000n, 'the raw counter runs at the hardware rate');
    // Commanding −h/(1 + h) (the core's estimate, positive: slow) stops the drift, to 2^-16 ppm.
    h.adjust({ frequencyPpm: -30 / (1 + 30e-6) });
    const at = err(h);
    h.advance(1000n * S);
    assert.ok(Math.abs(err(h) - at) <= 10, `drift over 1000 s at the commanded rate: ${err(h) - at} ns`);
  });

  it('step: realtime moves by exactly delta; the PLL is cleared and STA_UNSYNC set; frequency kept', () => {
    const m = new KernelClockModel({ hardwareErrorPpm: 0, systemBehindNs: 300 * MS });
    m.adjust({ offsetNs: 100 * MS, frequencyPpm: 12, maxErrorUs: 10, status: PLL_ON });
    assert.equal(m.read().synchronized, true);
    const before = m.realtimeNs();
    m.step(250_000_000n);
    assert.equal(m.realtimeNs() - before, 250_000_000n);
    const k = m.read();
    assert.equal(k.offsetNs, 0, 'time_offset cleared');
    assert.equal(k.synchronized, false, 'STA_UNSYNC');
    assert.equal(k.maxErrorUs, 16_000_000);
    assert.equal(k.frequencyPpm, 12);
    m.advance(5n * S);
    assert.equal(m.realtimeNs() - m.trueNowNs, -50_000_000n + 60_000n, 'no leftover slew, 12 ppm × 5 s');
    assert.deepEqual(
      m.calls.map((c) => c.op),
      ['adjust', 'step'],
    );
  });

  it('clamps offset to ±0.5 s, frequency to ±500 ppm, errors to 16 s; rejects bad input unchanged', () => {
    const m = new KernelClockModel({ hardwareErrorPpm: 0 });
    let k = m.adjust({ offsetNs: 2e9, frequencyPpm: -900, maxErrorUs: 1e9, status: PLL_ON });
    assert.equal(k.offsetNs, 500 * MS);
    assert.equal(k.frequencyPpm, -500);
    assert.equal(k.maxErrorUs, 16_000_000);
    k = m.adjust({ offsetNs: -2e9 });
    assert.equal(k.offsetNs, -500 * MS);
    for (const bad of [
      { offsetNs: Number.NaN },
      { frequencyPpm: Infinity },
      { timeConstant: 11 },
      { maxErrorUs: -1 },
    ]) {
      assert.throws(
        () => m.adjust({ frequencyPpm: 1, ...bad }),
        (e: unknown) => (e as { code?: string }).code === 'TM_ERR_SYSTEM_CLOCK_INVALID',
        JSON.stringify(bad),
      );
    }
    assert.equal(m.read().frequencyPpm, -500, 'a rejected call changed nothing');
  });

  it('ADJ_OFFSET is ignored without STA_PLL', () => {
    const m = new KernelClockModel({ hardwareErrorPpm: 0 });
    const k = m.adjust({ offsetNs: 5 * MS });
    assert.equal(k.offsetNs, 0);
    m.advance(10n * S);
    assert.equal(err(m), 0, 'realtime untouched');
  });

  it('without STA_FREQHOLD an ADJ_OFFSET also moves the frequency (the PLL term); with it, never', () => {
    const pllOnly = { set: STA_FLAGS.STA_PLL, clear: STA_FLAGS.STA_UNSYNC };
    const m = new KernelClockModel({ hardwareErrorPpm: 0 });
    m.adjust({ offsetNs: 1 * MS, timeConstant: 2, status: pllOnly });
    assert.equal(m.read().frequencyPpm, 0, 'secs = 0 right after STA_PLL turned on');
    m.advance(4n * S);
    // 1 ms × 4 s / 2^(2·(2 + 2 + 2)) = 976.5625 ns/s.
    assert.equal(m.adjust({ offsetNs: 1 * MS }).frequencyPpm, 0.9765625);

    const held = new KernelClockModel({ hardwareErrorPpm: 0 });
    held.adjust({ offsetNs: 1 * MS, timeConstant: 2, status: PLL_ON });
    held.advance(4n * S);
    assert.equal(held.adjust({ offsetNs: 1 * MS }).frequencyPpm, 0, 'STA_FREQHOLD');
  });

  it('maxerror grows 500 µs/s; past 16 s the kernel sets STA_UNSYNC', () => {
    const m = new KernelClockModel({ hardwareErrorPpm: 0 });
    m.adjust({ maxErrorUs: 15_999_000, status: { set: 0, clear: STA_FLAGS.STA_UNSYNC } });
    m.advance(S);
    assert.equal(m.read().maxErrorUs, 15_999_500);
    m.advance(S);
    assert.equal(m.read().maxErrorUs, 16_000_000);
    assert.equal(m.read().synchronized, true);
    m.advance(S);
    assert.equal(m.read().synchronized, false, 'STA_UNSYNC after maxerror passed 16 s');
    assert.equal(m.read().state, 'TIME_ERROR');
  });

  it('read() reports the realtime clock and the status word through decodeTimex', () => {
    const m = new KernelClockModel({ hardwareErrorPpm: 0, systemBehindNs: 1234 });
    const k = m.read();
    assert.equal(k.timeUnixNs, m.realtimeNs() - (m.realtimeNs() % 1000n), 'µs resolution before STA_NANO');
    assert.equal(k.state, 'TIME_ERROR');
    assert.deepEqual(k.statusFlags, ['STA_UNSYNC']);
    m.adjust({ offsetNs: 0, status: PLL_ON });
    assert.equal(m.read().timeUnixNs, m.realtimeNs());
    assert.deepEqual(m.read().statusFlags, ['STA_PLL', 'STA_FREQHOLD', 'STA_NANO']);
    assert.equal(m.reads, 3);
  });
});

// ---- closed loop: the real discipline against the model ----------------------------------------------

interface LoopCase {
  systemBehindNs: number;
  hardwareErrorPpm?: number;
  timeSigmaNs?: number;
  policy?: Partial<SystemClockPolicyConfig>;
  durationS: number;
  seed?: string;
}

function closedLoop(c: LoopCase): {
  model: KernelClockModel;
  trace: ClosedLoopTrace;
  d: SystemClockDiscipline;
} {
  const sigma = c.timeSigmaNs ?? 1 * US;
  const model = new KernelClockModel({
    hardwareErrorPpm: c.hardwareErrorPpm ?? 30,
    systemBehindNs: c.systemBehindNs,
  });
  const view = estimateView(model, {
    rng: SimRng.fork(c.seed ?? 'kernel-model-test', 'estimate'),
    timeSigmaNs: sigma,
    rootDistanceNs: 3 * sigma,
    frequencyBiasPpm: 0.05,
    frequencySigmaPpm: 0.02,
  });
  const d = new SystemClockDiscipline({ control: model, view, dryRun: false, policy: c.policy ?? {} });
  const trace = runClosedLoop(model, () => d.tick(), { durationS: c.durationS });
  return { model, trace, d };
}

/** Index of the first tick with |offset| < limit, or −1. */
const firstBelow = (t: ClosedLoopTrace, limitNs: number): number =>
  t.offsetNs.findIndex((x) => Math.abs(x) < limitNs);

describe('kernel clock model: closed loop with the real SystemClockDiscipline', () => {
  it('5 ms behind, +30 ppm, σ 1 µs: below 20 µs within 120 s and there for the next 600 s', () => {
    const { trace, d } = closedLoop({ systemBehindNs: 5 * MS, durationS: 800 });
    const i = firstBelow(trace, 20 * US);
    assert.ok(i >= 0 && trace.tS[i]! <= 120, `first |offset| < 20 µs at ${trace.tS[i]} s`);
    const next = trace.offsetNs.slice(i, i + 601);
    assert.equal(next.length, 601, 'the run covers 600 s after convergence');
    const worst = Math.max(...next.map(Math.abs));
    assert.ok(worst < 20 * US, `max |offset| in the 600 s after convergence: ${worst} ns`);
    assert.deepEqual(new Set(trace.actions), new Set(['slew']));
    assert.equal(d.snapshot().errors, 0, 'no control errors');
    const f = trace.final.frequencyPpm;
    assert.ok(Math.abs(f - -30) < 0.2, `kernel frequency ${f} ppm ≈ −30 ppm (the hardware's +30)`);
  });

  it('300 ms behind: exactly one step, then only slews; converged within 120 s', () => {
    const { model, trace } = closedLoop({ systemBehindNs: 300 * MS, durationS: 300 });
    assert.equal(trace.actions[0], 'step');
    assert.deepEqual(new Set(trace.actions.slice(1)), new Set(['slew']));
    const steps = model.calls.filter((c) => c.op === 'step');
    assert.equal(steps.length, 1, 'one step call');
    const delta = Number(steps[0]!.op === 'step' ? steps[0]!.deltaNs : 0n);
    assert.ok(Math.abs(delta - 300 * MS) < 50 * US, `stepped by ${delta} ns`);
    const firstSlew = model.calls[1]!;
    assert.ok(
      firstSlew.op === 'adjust' && firstSlew.adjustment.status !== undefined,
      'the slew after the step restores the status bits the step (ntp_clear) removed',
    );
    const i = firstBelow(trace, 20 * US);
    assert.ok(i >= 0 && trace.tS[i]! <= 120, `first |offset| < 20 µs at ${trace.tS[i]} s`);
    const worst = Math.max(...trace.offsetNs.slice(i).map(Math.abs));
    assert.ok(worst < 20 * US, `and stays there (max ${worst} ns)`);
    assert.equal(model.read().synchronized, true, 'STA_UNSYNC cleared again');
  });

  it('2 s behind: refused every tick, no calls, realtime left to the hardware', () => {
    const { model, trace } = closedLoop({ systemBehindNs: 2000 * MS, durationS: 60 });
    assert.deepEqual(new Set(trace.actions), new Set(['refuse']));
    assert.deepEqual(model.calls, [], 'no adjust or step');
    // Free running: −2 s plus 30 ppm of the elapsed 60 s.
    assert.equal(err(model), -2000 * MS + 1_800_000, 'realtime untouched by the discipline');
    assert.equal(model.read().synchronized, false);
  });

  it('maxBackwardStepNs 0, 300 ms ahead: never a step; slews with realtime never going backwards', () => {
    const { model, trace } = closedLoop({
      systemBehindNs: -300 * MS,
      hardwareErrorPpm: -50,
      policy: { maxBackwardStepNs: 0 },
      durationS: 600,
    });
    assert.deepEqual(new Set(trace.actions), new Set(['slew']));
    assert.equal(model.calls.filter((c) => c.op === 'step').length, 0, 'no step call');
    assert.equal(
      trace.realtimeBackwards,
      0,
      `realtime went backwards by up to ${trace.realtimeBackwardMaxNs} ns`,
    );
    // |offset| shrinks monotonically while it is far above the noise.
    for (let k = 1; k < trace.offsetNs.length && Math.abs(trace.offsetNs[k]!) > 100 * US; k++) {
      assert.ok(
        Math.abs(trace.offsetNs[k]!) < Math.abs(trace.offsetNs[k - 1]!),
        `|offset| grew at ${trace.tS[k]} s: ${trace.offsetNs[k - 1]} → ${trace.offsetNs[k]}`,
      );
    }
    const i = firstBelow(trace, 100 * US);
    assert.ok(i >= 0 && trace.tS[i]! <= 150, `first |offset| < 100 µs at ${trace.tS[i]} s`);
  });

  it('estimate jitter σ 50 µs: residual p99 below 75 µs (measured 19–30 µs over six seeds)', () => {
    for (const seed of ['a', 'b', 'c']) {
      const { trace } = closedLoop({ systemBehindNs: 5 * MS, timeSigmaNs: 50 * US, durationS: 1200, seed });
      const residual = trace.offsetNs
        .slice(300)
        .map(Math.abs)
        .sort((a, b) => a - b);
      const p99 = quantile(residual, 0.99);
      assert.ok(p99 < 75 * US, `seed ${seed}: residual p99 ${(p99 / US).toFixed(1)} µs`);
    }
  });

  it('a frequency-estimate bias b leaves a static offset of b · 2^(2 + constant) µs (no integrator)', () => {
    // STA_FREQHOLD keeps the kernel's PLL proportional only, so nothing cancels a frequency bias: the
    // loop settles where the per-second chunk, offset / 2^(2 + tc), balances the b µs/s drift.
    for (const timeConstant of [2, 4]) {
      const model = new KernelClockModel({ hardwareErrorPpm: 30 });
      const view = estimateView(model, {
        rng: SimRng.fork('bias', String(timeConstant)),
        timeSigmaNs: 0,
        rootDistanceNs: 1 * US,
        frequencyBiasPpm: 1,
      });
      const d = new SystemClockDiscipline({ control: model, view, dryRun: false, policy: { timeConstant } });
      const trace = runClosedLoop(model, () => d.tick(), { durationS: 3000 });
      const last = trace.offsetNs.at(-1)!;
      const want = -(2 ** (2 + timeConstant)) * US;
      assert.ok(Math.abs(last - want) < 0.1 * US, `tc ${timeConstant}: settled at ${last} ns, want ${want}`);
    }
  });

  it('is exactly reproducible from its seed', () => {
    const a = closedLoop({ systemBehindNs: 5 * MS, timeSigmaNs: 50 * US, durationS: 200, seed: 'r' });
    const b = closedLoop({ systemBehindNs: 5 * MS, timeSigmaNs: 50 * US, durationS: 200, seed: 'r' });
    assert.deepEqual(a.trace, b.trace);
    assert.deepEqual(a.model.calls, b.model.calls);
    const c = closedLoop({ systemBehindNs: 5 * MS, timeSigmaNs: 50 * US, durationS: 200, seed: 's' });
    assert.notDeepEqual(a.trace.offsetNs, c.trace.offsetNs, 'another seed, another run');
  });
});
