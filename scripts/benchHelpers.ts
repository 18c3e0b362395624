/**
 * What the benchmark scripts share: the machine facts printed beside every figure (a figure without
 * the machine and its load is not a figure), percentiles, and a small table printer.
 */
import { cpus, loadavg } from 'node:os';
import type { ChildProcess } from 'node:child_process';

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

/** SIGTERM, then SIGKILL after `graceMs`, for every child still running; resolves once all are gone. */
export async function stopProcesses(children: Iterable<ChildProcess>, graceMs = 5000): Promise<void> {
  const running = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  await Promise.all(
    running.map(
      (c) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            c.kill('SIGKILL');
            resolve();
          }, graceMs);
          c.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

/**
 * Runs a benchmark's main and exits with its code: on SIGINT/SIGTERM exit 130 (the 'exit' handler
 * `onExit` kills children synchronously), on error print it and exit 1; `cleanup` runs before exiting.
 */
export async function runBenchmark(
  name: string,
  main: () => Promise<number>,
  cleanup: () => Promise<void>,
  onExit: () => void,
): Promise<never> {
  process.on('exit', onExit);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`${name}: ${signal}, stopping`);
      process.exit(130);
    });
  }
  let code = 1;
  try {
    code = await main();
  } catch (err) {
    console.error(`${name} failed:`, err);
  }
  await cleanup();
  process.exit(code);
}

/** A child that answers over IPC: `next()` waits for its next message, or rejects once it has exited. */
export function messenger(child: ChildProcess, name: string): { next: () => Promise<unknown> } {
  const messages: unknown[] = [];
  let wake: (() => void) | null = null;
  let exited: string | null = null;
  child.on('message', (m) => {
    messages.push(m);
    wake?.();
  });
  child.once('exit', (code, signal) => {
    exited = `${name} exited (${signal ?? code})`;
    wake?.();
  });
  return {
    next: async () => {
      while (messages.length === 0) {
        if (exited !== null) throw new Error(exited);
        await new Promise<void>((resolve) => (wake = resolve));
      }
      return messages.shift();
    },
  };
}

/** A flag's value as an integer ≥ 1, or an error naming the flag. */
export function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected an integer ≥ 1, got '${text}'`);
  return n;
}
