/**
 * A one-line progress bar for long simulator runs: percent of virtual time done, the virtual time,
 * events per wall-clock second and an estimate of the wall time left.
 *
 * Invariants:
 * - It writes only to its stream (stderr by default) and only when that stream is a terminal, so
 *   piping or redirecting a run never mixes control characters into a report; stdout stays the
 *   report's alone.
 * - It redraws at most every REDRAW_INTERVAL_MS of wall time however often update() is called, so the
 *   simulator can call it on every batch of events at no measurable cost.
 * - The wall clock is read here, at the edge, for display only: nothing it measures flows back into
 *   the simulation, which stays a pure function of its seed and options.
 */

/** Minimum wall time between two redraws. */
export const REDRAW_INTERVAL_MS = 200;

const BAR_WIDTH_CHARS = 24;
const DEFAULT_COLUMNS = 80;
/** Before this much wall time the rates are mostly start-up noise, so no ETA is shown. */
const ETA_WARMUP_MS = 500;

export interface ProgressOptions {
  /** Virtual seconds the run will simulate (100 %). */
  totalS: number;
  stream?: NodeJS.WriteStream;
  label?: string;
  /** Wall clock in ms; injectable for tests. Defaults to performance.now. */
  nowMs?: () => number;
}

export interface Progress {
  update(virtualS: number, eventsProcessed: number): void;
  /** Clears the line. Idempotent; update() after done() is ignored. */
  done(): void;
}

const NOOP_PROGRESS: Progress = { update() {}, done() {} };

export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  if (stream.isTTY !== true) return NOOP_PROGRESS;
  const nowMs = opts.nowMs ?? (() => performance.now());
  const label = opts.label ?? 'sim';
  const startMs = nowMs();
  let lastDrawMs = -Infinity;
  let drawn = false;
  let finished = false;

  return {
    update(virtualS, eventsProcessed) {
      if (finished) return;
      const now = nowMs();
      if (now - lastDrawMs < REDRAW_INTERVAL_MS) return;
      lastDrawMs = now;
      const columns = stream.columns > 0 ? stream.columns : DEFAULT_COLUMNS;
      const line = formatLine(label, opts.totalS, virtualS, eventsProcessed, now - startMs, columns);
      // Never wrap: a wrapped line cannot be overwritten by "\r" and would scroll the terminal.
      // "\x1b[K" erases what a longer previous line left to the right.
      stream.write(`\r${line.slice(0, columns - 1)}\x1b[K`);
      drawn = true;
    },
    done() {
      if (finished) return;
      finished = true;
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}

function formatLine(
  label: string,
  totalS: number,
  virtualS: number,
  events: number,
  elapsedMs: number,
  columns: number,
): string {
  const fraction = totalS > 0 ? Math.min(1, Math.max(0, virtualS / totalS)) : 1;
  const percent = `${(fraction * 100).toFixed(1).padStart(5)}%`;
  const elapsedS = elapsedMs / 1000;
  const rate = elapsedS > 0 ? `${formatCount(events / elapsedS)} ev/s` : '- ev/s';
  let eta = 'ETA --';
  if (elapsedMs >= ETA_WARMUP_MS && fraction > 0) {
    eta = `ETA ${formatClock((elapsedS * (1 - fraction)) / fraction)}`;
  }
  const virtual = `t=${formatClock(virtualS)}/${formatClock(totalS)}`;
  const figures = `${percent}  ${virtual}  ${rate}  ${eta}`;
  // The bar gives way first on a narrow terminal: the figures are what the operator reads.
  const barChars = Math.min(BAR_WIDTH_CHARS, columns - 1 - label.length - figures.length - 4);
  if (barChars < 5) return `${label} ${figures}`;
  const filled = Math.round(fraction * barChars);
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(barChars - filled)}] ${figures}`;
}

function formatCount(value: number): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(1)}G`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(0);
}

/** Seconds as H:MM:SS (or M:SS under an hour); days are shown as hours. */
function formatClock(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}
