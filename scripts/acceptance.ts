/**
 * `npm run accept:sim`: measures issue #2's acceptance figures with the scenario files in
 * sim/scenarios/ and prints them (the README quotes this output). It asserts nothing itself; the
 * scenario files' `checks` are what CI enforces (`npm test` runs them with --check).
 *
 *   1. same seed → byte-identical report (two runs of 01-lan-100, SHA-256 of the JSON)
 *   2. 100 nodes, 3 anchors, LAN, 1 h: containment and honest p99 |error|
 *   3. n = 31, f = 10, each attack: containment, max error against the no-attack run, baseline factors
 *   4. ±10 s, ±100 ppm: convergence time
 */
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenarioFile } from '../sim/scenario.ts';
import { simulate } from '../sim/simulator.ts';
import type { SimReport } from '../sim/reportTypes.ts';
import { formatNs } from '../sim/summary.ts';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'sim', 'scenarios');
const run = async (file: string): Promise<SimReport> => simulate(await loadScenarioFile(join(dir, file)));
const pct = (v: number | null): string => (v === null ? '—' : `${(v * 100).toFixed(4)}%`);
const ratio = (a: number | null, b: number | null): string =>
  a === null || b === null || b === 0 ? '—' : `${(a / b).toFixed(1)}×`;

const started = performance.now();

console.log('1. determinism: 01-lan-100 twice');
const a = await run('01-lan-100.yaml');
const b = await run('01-lan-100.yaml');
const hash = (r: SimReport): string =>
  createHash('sha256').update(JSON.stringify(r)).digest('hex').slice(0, 16);
console.log(`   sha256 ${hash(a)} and ${hash(b)}: ${hash(a) === hash(b) ? 'identical' : 'DIFFERENT'}`);

console.log('\n2. 100 nodes, 3 GPS+PPS anchors, LAN links, 1 h (01-lan-100)');
console.log(
  `   containment ${pct(a.honest.containment)} of ${a.honest.containmentSamples} samples; |error| p50 ${formatNs(a.honest.errorNsP50)}, p99 ${formatNs(a.honest.errorNsP99)} (target ≤ 200 µs), max ${formatNs(a.honest.errorNsMax)} from t = ${a.statsFromS} s; width p50 ${formatNs(a.honest.widthNsP50)}, p99 ${formatNs(a.honest.widthNsP99)}`,
);
console.log(
  `   baselines p99: average ${formatNs(a.baselines.average.errorNsP99)} (${ratio(a.baselines.average.errorNsP99, a.honest.errorNsP99)}), seed median ${formatNs(a.baselines.seedMedianBlend.errorNsP99)} (${ratio(a.baselines.seedMedianBlend.errorNsP99, a.honest.errorNsP99)})`,
);

console.log('\n3. n = 31, f = 10 Byzantine, 11 anchors, statistics from t = 600 s (10-attack-*)');
const none = await run('10-attack-none.yaml');
const noneMax = none.honest.errorNsMax;
console.log(
  `   ${'attack'.padEnd(10)} ${'contain'.padStart(10)} ${'p99'.padStart(10)} ${'max'.padStart(10)} ${'max/none'.padStart(9)}  ${'avg p99'.padStart(12)} ${'factor'.padStart(12)}  ${'seed p99'.padStart(10)} ${'factor'.padStart(8)}`,
);
for (const kind of ['none', 'constant', 'two-faced', 'random', 'frog-boil', 'delay', 'hlc-push', 'silent']) {
  const r = kind === 'none' ? none : await run(`10-attack-${kind}.yaml`);
  const h = r.honest;
  const avg = r.baselines.average.errorNsP99;
  const seed = r.baselines.seedMedianBlend.errorNsP99;
  console.log(
    `   ${kind.padEnd(10)} ${pct(h.containment).padStart(10)} ${formatNs(h.errorNsP99).padStart(10)} ${formatNs(h.errorNsMax).padStart(10)} ${ratio(h.errorNsMax, noneMax).padStart(9)}  ${formatNs(avg).padStart(12)} ${ratio(avg, h.errorNsP99).padStart(12)}  ${formatNs(seed).padStart(10)} ${ratio(seed, h.errorNsP99).padStart(8)}`,
  );
}

console.log('\n   honest max |error| against the no-attack run, same scenarios with other seeds:');
const kinds = ['constant', 'two-faced', 'random', 'frog-boil', 'delay', 'hlc-push', 'silent'];
console.log(
  `   ${'seed'.padEnd(10)} ${'none max'.padStart(10)} ${kinds.map((k) => k.padStart(10)).join(' ')}`,
);
for (const seed of ['attack-2', 'attack-3']) {
  const withSeed = async (file: string): Promise<SimReport> => {
    const sc = await loadScenarioFile(join(dir, file));
    return simulate({ ...sc, seed });
  };
  const base = (await withSeed('10-attack-none.yaml')).honest.errorNsMax;
  const cells: string[] = [];
  for (const k of kinds)
    cells.push(ratio((await withSeed(`10-attack-${k}.yaml`)).honest.errorNsMax, base).padStart(10));
  console.log(`   ${seed.padEnd(10)} ${formatNs(base).padStart(10)} ${cells.join(' ')}`);
}

console.log('\n4. initial offsets ±10 s, frequency ±100 ppm, 100 nodes (02-convergence)');
const c = await run('02-convergence.yaml');
console.log(
  `   all honest nodes within ${formatNs(c.scenario.convergenceThresholdNs as number)} of true time from t = ${c.convergenceS ?? 'never'} s (target ≤ 600 s); containment ${pct(c.honest.containment)}`,
);
console.log(`\nacceptance runs took ${((performance.now() - started) / 1000).toFixed(1)} s wall`);
