/**
 * What the benchmark scripts share: the machine facts printed beside every figure (a figure without
 * the machine and its load is not a figure), percentiles, and a small table printer.
 */
import { cpus, loadavg } from 'node:os';

/** Node version, CPU count and model, load average: printed with the figures. */
export function machineFacts(): string {
  const cpu = cpus();
  const load = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  return `node ${process.version}, ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, load average ${load}`;
}

/** The q-quantile (0 ≤ q ≤ 1) of values sorted ascending, nearest rank; NaN when empty. */
export function quantile(sortedAsc: ArrayLike<number>, q: number): number {
  if (sortedAsc.length === 0) return NaN;
  const rank = Math.min(sortedAsc.length - 1, Math.max(0, Math.ceil(q * sortedAsc.length) - 1));
  return sortedAsc[rank]!;
}

/** Rows of cells as a plain-text table: the first column left-aligned, the others right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    )
    .join('\n');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
