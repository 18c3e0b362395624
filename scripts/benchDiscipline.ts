/**
 * `npm run bench:discipline`: the system-clock discipline (node/systemClockDiscipline.ts and the pure
 * policy) in closed loop against the kernel clock model (sim/kernelClockModel.ts), one tick per
 * virtual second, one virtual hour per scenario, deterministic from the printed seed. Never the real
 * clock. Per scenario: steps, slews, the time to |true − realtime| < 100 µs, the residual |offset|
 * p50/p99/max over the second half of the run (settled: every scenario converges well before it),
 * and the kernel frequency at the end against the hardware error.
 *
 * The node's estimate is modelled as true time + white Gaussian noise of σ (independent per tick:
 * pessimistic, a real core's estimate is filtered and correlated) with root distance 3σ, and a
 * frequency estimate off by a constant bias plus per-tick jitter, per class of source (see CLASSES).
 *
 * Usage: npm run bench:discipline [-- SEED [DURATION_S]]
 */
import { SystemClockDiscipline } from '../node/systemClockDiscipline.ts';
import type { SystemClockPolicyConfig } from '../node/core/systemClockPolicy.ts';
import { estimateView, KernelClockModel, runClosedLoop } from '../sim/kernelClockModel.ts';
import { SimRng } from '../sim/rng.ts';
import { formatTable, machineFacts, positiveInt, quantile } from './benchHelpers.ts';

const seed = process.argv[2] ?? 'bench-discipline';
const durationS = process.argv[3] === undefined ? 3600 : positiveInt('duration', process.argv[3]);
const CONVERGED_NS = 100_000;

/** Sources by the quality of the node's estimate: time σ, frequency bias and jitter (ppm). */
const CLASSES = [
  { name: 'PPS', sigmaNs: 1_000, biasPpm: 0.001, jitterPpm: 0.001 },
  { name: 'mesh', sigmaNs: 50_000, biasPpm: 0.05, jitterPpm: 0.02 },
  { name: 'NTP WAN', sigmaNs: 1_000_000, biasPpm: 0.5, jitterPpm: 0.2 },
] as const;

const STARTS: { name: string; behindNs: number; policy: Partial<SystemClockPolicyConfig> }[] = [
  { name: '+5 ms', behindNs: 5e6, policy: {} },
  { name: '+100 ms', behindNs: 100e6, policy: {} },
  { name: '+300 ms', behindNs: 300e6, policy: {} },
  { name: '−300 ms nb', behindNs: -300e6, policy: { maxBackwardStepNs: 0 } },
];
const HARDWARE_PPM = [-50, 30];

const us = (ns: number): string => (Number.isFinite(ns) ? (ns / 1000).toFixed(1) : '—');

function run(
  start: (typeof STARTS)[number],
  hardwareErrorPpm: number,
  cls: (typeof CLASSES)[number],
  timeConstant: number,
): string[] {
  const model = new KernelClockModel({ hardwareErrorPpm, systemBehindNs: start.behindNs });
  const label = `${start.name}/${hardwareErrorPpm}/${cls.name}/${timeConstant}`;
  const view = estimateView(model, {
    rng: SimRng.fork(seed, label),
    timeSigmaNs: cls.sigmaNs,
    rootDistanceNs: 3 * cls.sigmaNs,
    frequencyBiasPpm: cls.biasPpm,
    frequencySigmaPpm: cls.jitterPpm,
  });
  const d = new SystemClockDiscipline({
    control: model,
    view,
    dryRun: false,
    policy: { ...start.policy, timeConstant },
  });
  const t = runClosedLoop(model, () => d.tick(), { durationS });
  const i = t.offsetNs.findIndex((x) => Math.abs(x) < CONVERGED_NS);
  // Residual once settled: the second half of the run, provided the loop converged before it began.
  const settledFromS = durationS / 2;
  const residual = (
    i < 0 || t.tS[i]! > settledFromS ? [] : t.offsetNs.filter((_, k) => t.tS[k]! >= settledFromS)
  )
    .map(Math.abs)
    .sort((a, b) => a - b);
  const s = d.snapshot();
  const f = t.final.frequencyPpm;
  const rateErrorPpm = hardwareErrorPpm + f + hardwareErrorPpm * f * 1e-6;
  return [
    start.name,
    `${hardwareErrorPpm > 0 ? '+' : ''}${hardwareErrorPpm}`,
    cls.name,
    String(timeConstant),
    String(s.steps),
    String(s.slews),
    String(s.errors + s.refusals + s.holds),
    i < 0 ? 'never' : t.tS[i]!.toFixed(1),
    us(quantile(residual, 0.5)),
    us(quantile(residual, 0.99)),
    us(residual.at(-1) ?? NaN),
    f.toFixed(3),
    rateErrorPpm.toFixed(3),
    String(t.realtimeBackwards),
  ];
}

const started = performance.now();
console.log(`timemesh discipline benchmark: seed "${seed}", ${durationS} s virtual per scenario, tick 1 s`);
console.log(machineFacts());
console.log(
  'estimate classes: ' +
    CLASSES.map(
      (c) => `${c.name} σ ${us(c.sigmaNs)} µs, freq bias ${c.biasPpm} ppm, jitter ${c.jitterPpm} ppm`,
    ).join('; '),
);
console.log(
  'root distance 3σ; policy defaults (step > 128 ms outside the interval, refuse > 1 s) unless "nb" ' +
    '(maxBackwardStepNs 0); converged = first |true − realtime| < 100 µs; residual |offset| over the second half of the run',
);
const rows: string[][] = [];
for (const start of STARTS) {
  for (const hw of HARDWARE_PPM) {
    for (const cls of CLASSES) rows.push(run(start, hw, cls, 2));
  }
}
// Backward steps allowed (the default 1 s limit), for contrast with "nb"; and the time constant
// trade-off for noisy estimates (the policy's default is 2).
rows.push(run({ name: '−300 ms', behindNs: -300e6, policy: {} }, 30, CLASSES[0], 2));
for (const tc of [4, 6]) rows.push(run(STARTS[0]!, 30, CLASSES[2], tc));
console.log(
  formatTable(
    [
      'start',
      'hw ppm',
      'estimate',
      'tc',
      'steps',
      'slews',
      'other',
      't<100µs s',
      'p50 µs',
      'p99 µs',
      'max µs',
      'kernel freq ppm',
      'rate err ppm',
      'rt back',
    ],
    rows,
  ),
);
console.log(
  `rate err = (1 + hw)(1 + freq) − 1: the clock's residual frequency error; rt back = times realtime ` +
    `went backwards; wall ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
