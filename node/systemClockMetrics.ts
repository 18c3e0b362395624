/**
 * Prometheus metrics of the system-clock discipline (node/systemClockDiscipline.ts), read from its
 * snapshot at scrape time like the refclock metrics.
 *
 *   timemesh_system_clock_actions_total{action,dry_run}   step, slew, refuse, hold (dry run: would-be)
 *   timemesh_system_clock_errors_total                    control calls or measurements that failed
 *   timemesh_system_clock_offset_seconds                  node time − CLOCK_REALTIME at the last tick
 */
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { SystemClockDiscipline } from './systemClockDiscipline.ts';

export function registerSystemClockMetrics(
  registry: Registry,
  discipline: SystemClockDiscipline | null,
): void {
  if (discipline === null) return;
  new Counter({
    name: 'timemesh_system_clock_actions_total',
    help: 'System-clock discipline decisions: step, slew, refuse, hold (dry_run="true": logged, not carried out).',
    labelNames: ['action', 'dry_run'],
    registers: [registry],
    collect(this: Counter) {
      this.reset();
      const s = discipline.snapshot();
      const dryRun = String(s.dryRun);
      this.inc({ action: 'step', dry_run: dryRun }, s.steps);
      this.inc({ action: 'slew', dry_run: dryRun }, s.slews);
      this.inc({ action: 'refuse', dry_run: dryRun }, s.refusals);
      this.inc({ action: 'hold', dry_run: dryRun }, s.holds);
    },
  });
  new Counter({
    name: 'timemesh_system_clock_errors_total',
    help: 'System-clock control calls (adjtimex, clock_settime) or measurements that failed.',
    registers: [registry],
    collect(this: Counter) {
      this.reset();
      this.inc(discipline.snapshot().errors);
    },
  });
  new Gauge({
    name: 'timemesh_system_clock_offset_seconds',
    help: "The node's time minus the system clock (CLOCK_REALTIME) at the last tick; positive: the system clock is behind.",
    registers: [registry],
    collect(this: Gauge) {
      this.reset();
      const offsetNs = discipline.snapshot().lastOffsetNs;
      if (offsetNs !== null && Number.isFinite(offsetNs)) this.set(offsetNs / 1e9);
    },
  });
}
