/**
 * The text summary a person reads after a run: the headline figures for timemesh and the baselines,
 * and the checks. Deterministic (no wall-clock figures; the CLI prints those separately).
 */
import type { AccuracyFigures, SimReport } from './reportTypes.ts';

export function formatNs(ns: number | null): string {
  if (ns === null) return '—';
  const a = Math.abs(ns);
  if (a >= 1e9) return `${(ns / 1e9).toFixed(3)} s`;
  if (a >= 1e6) return `${(ns / 1e6).toFixed(3)} ms`;
  if (a >= 1e3) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${ns.toFixed(0)} ns`;
}

function factor(baseline: number | null, ours: number | null): string {
  if (baseline === null || ours === null) return '—';
  if (ours === 0) return baseline === 0 ? '1×' : '∞';
  return `${(baseline / ours).toFixed(1)}×`;
}

function row(name: string, f: AccuracyFigures, ours: AccuracyFigures | null): string {
  const cells = [
    name.padEnd(22),
    formatNs(f.errorNsP50).padStart(12),
    formatNs(f.errorNsP99).padStart(12),
    formatNs(f.errorNsMax).padStart(12),
    (f.convergenceS === null ? 'never' : `${f.convergenceS} s`).padStart(11),
    formatNs(f.precisionNsMax).padStart(12),
  ];
  if (ours !== null) cells.push(factor(f.errorNsP99, ours.errorNsP99).padStart(10));
  return cells.join(' ');
}

export function formatSummary(r: SimReport): string {
  const sc = r.scenario as { name?: string; attack?: { kind?: string } };
  const h = r.honest;
  const lines = [
    `scenario ${sc.name ?? '?'}: ${r.counts.nodes} nodes (${r.counts.anchors} anchors, ${r.counts.byzantine} byzantine, attack ${sc.attack?.kind ?? 'none'}), ${r.durationS} s, seed ${r.seed}`,
    `statistics from t = ${r.statsFromS} s`,
    '',
    `${'estimator'.padEnd(22)} ${'|err| p50'.padStart(12)} ${'p99'.padStart(12)} ${'max'.padStart(12)} ${'converged'.padStart(11)} ${'precision'.padStart(12)} ${'p99 factor'.padStart(10)}`,
    row('timemesh (BFT)', h, null),
    row('baseline: average', r.baselines.average, h),
    row('baseline: seed median', r.baselines.seedMedianBlend, h),
    '',
    `containment ${h.containment === null ? '—' : `${(h.containment * 100).toFixed(4)}%`} (${h.containmentSamples - h.containmentMisses}/${h.containmentSamples} synchronized samples; ${h.unsynchronizedSamples} unsynchronized)`,
    `interval width p50 ${formatNs(h.widthNsP50)}, p99 ${formatNs(h.widthNsP99)}; ${h.messagesPerNodePerMinute} messages per node per minute`,
    `events ${r.events.processed}; exchanges ${r.events.exchangesCompleted}/${r.events.exchangesStarted} completed, ${r.events.exchangesLost} lost; falseticker marks ${r.events.falsetickerMarks} (own references overruled ${r.events.referenceFalsetickerMarks}); HLC rejections ${r.events.hlcRejections}; rounds without quorum ${r.events.noQuorumRounds}`,
  ];
  if (r.checks.length > 0) {
    lines.push('', 'checks:');
    for (const c of r.checks) {
      const v = c.value === null ? 'null' : String(c.value);
      lines.push(
        `  ${c.pass ? 'PASS' : 'FAIL'} ${c.metric} = ${v} (${c.kind === 'max' ? '≤' : '≥'} ${c.limit})`,
      );
    }
    lines.push(r.passed ? 'all checks passed' : 'CHECKS FAILED');
  }
  return lines.join('\n');
}
