/**
 * `npm run bench:sim`: what the simulator costs as the mesh grows. Runs 100, 300 and 1000 nodes for
 * one hour of virtual time (LAN links, 3 anchors per 100 nodes), each in its own process so that the
 * peak memory printed is that run's alone, and prints wall time, events per second and peak RSS.
 * Targets (issue #2): 1000 nodes × 1 h in ≤ 60 s wall and ≤ 1 GiB on this 2-core machine.
 *
 * Usage: npm run bench:sim [-- SIZES [DURATION]], e.g. `npm run bench:sim -- 100,300 10m`.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sizes = (process.argv[2] ?? '100,300,1000').split(',').map(Number);
const duration = process.argv[3] ?? '1h';

console.log(`timemesh sim benchmark: ${duration} virtual per run, LAN links, seed "bench"`);
console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`);
console.log('nodes     events   wall s   events/s   peak RSS MiB');
for (const nodes of sizes) {
  const anchors = Math.max(3, Math.round((nodes * 3) / 100));
  const args = ['sim', '--nodes', String(nodes), '--anchors', String(anchors), '--duration', duration];
  const started = performance.now();
  const child = spawnSync(
    process.execPath,
    [join(root, 'bin/timemesh.js'), ...args, '--seed', 'bench', '--quiet'],
    {
      encoding: 'utf8',
    },
  );
  const wallS = (performance.now() - started) / 1000;
  if (child.status !== 0) {
    process.stderr.write(child.stderr);
    throw new Error(`simulation of ${nodes} nodes exited with status ${child.status}`);
  }
  const m = /(\d+) events in .* peak RSS (\d+) MiB/.exec(child.stderr);
  if (m === null) throw new Error(`unexpected simulator output: ${child.stderr}`);
  const events = Number(m[1]);
  console.log(
    `${String(nodes).padStart(5)} ${String(events).padStart(10)} ${wallS.toFixed(1).padStart(8)} ${String(Math.round(events / wallS)).padStart(10)} ${m[2]!.padStart(14)}`,
  );
}
