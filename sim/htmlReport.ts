/**
 * Renders a SimReport as one self-contained HTML page for a person to read: a verdict, the figures
 * of timemesh against the two baselines, the checks, three charts and the scenario that produced it.
 *
 * Invariants:
 * - Self-contained: no scripts, fonts, stylesheets or images from anywhere else (the machines that
 *   run the simulator have no internet). The charts are inline SVG drawn here.
 * - Deterministic: the page is a pure function of the report (no dates, no randomness, no locale-
 *   dependent formatting), so the same seed gives a byte-identical page that can be diffed.
 * - Every string from the report is escaped, including ids and the scenario's name and description:
 *   a scenario file is operator input and the page may be opened from CI artefacts.
 * - null means "not measured" and is shown as a dash (or "never" for a convergence time); null
 *   samples in a series are gaps in the line, never zeros.
 *
 * Scales: |error| and interval widths span many decades (ns for a PPS anchor, an hour for a liar),
 * so the |error| and width charts use a log axis, and the signed per-node chart a symmetric log axis
 * (linear near zero, logarithmic beyond) so that honest nodes and attackers fit on one plot.
 */
import type { AccuracyFigures, CheckResult, NodeTrace, SimReport } from './reportTypes.ts';

// ---------------------------------------------------------------------------------------------------
// Escaping and number formatting

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch);
}

const MINUS = '\u2212';
const DASH = '—';

/** Three significant digits without trailing zeros: 12.3, 1.2, 0.000123. */
function sig3(value: number): string {
  return String(Number(value.toPrecision(3)));
}

/** Thousands separated by commas, written by hand because toLocaleString depends on the host's ICU. */
function formatInteger(value: number): string {
  const sign = value < 0 ? MINUS : '';
  const digits = String(Math.round(Math.abs(value)));
  if (!/^\d+$/.test(digits)) return sign + digits; // 1e21 and beyond: exponent notation
  return sign + digits.replace(/\B(?=(\d{3})+$)/g, ',');
}

const NS_UNITS: readonly (readonly [number, string])[] = [
  [86_400e9, 'd'],
  [3_600e9, 'h'],
  [60e9, 'min'],
  [1e9, 's'],
  [1e6, 'ms'],
  [1e3, 'µs'],
  [1, 'ns'],
];

/** A duration or error in ns, humanely: "850 ns", "12.3 µs", "1.2 ms", "1 h". */
export function formatNs(ns: number | null): string {
  if (ns === null || !Number.isFinite(ns)) return DASH;
  if (ns === 0) return '0';
  const sign = ns < 0 ? MINUS : '';
  // Round first, so 999.96 µs becomes "1 ms" rather than "1000 µs".
  const abs = Number(Math.abs(ns).toPrecision(3));
  const unit =
    abs >= 2 * 86_400e9
      ? NS_UNITS[0]
      : abs >= 3_600e9
        ? NS_UNITS[1]
        : abs >= 60e9
          ? NS_UNITS[2]
          : NS_UNITS.slice(3).find(([size]) => abs >= size);
  const [size, name] = unit ?? [1, 'ns'];
  return `${sign}${sig3(abs / size)} ${name}`;
}

/** A virtual time or duration in seconds, humanely: "500 ms", "90 s", "12.6 min", "3 h". */
export function formatSeconds(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return DASH;
  return formatNs(seconds * 1e9);
}

function formatPercent(fraction: number | null): string {
  if (fraction === null || !Number.isFinite(fraction)) return DASH;
  const percent = fraction * 100;
  // A containment of 99.9996 % must not print as "100 %": show enough digits to see the misses.
  if (percent < 100 && percent.toFixed(2) === '100.00') return `${percent.toFixed(4)} %`;
  return `${Number(percent.toFixed(2))} %`;
}

function formatPlain(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return DASH;
  return Number.isInteger(value) ? formatInteger(value) : sig3(value);
}

/** A metric's value in the unit its name promises (…Ns → ns, …S → seconds, containment → %). */
export function formatMetric(metric: string, value: number | null): string {
  const leaf = metric.slice(metric.lastIndexOf('.') + 1);
  if (leaf === 'containment') return formatPercent(value);
  if (/Ns(P\d+|Max|Min|Mean)?$/.test(leaf)) return formatNs(value);
  if (/[a-z]S$/.test(leaf) && !leaf.includes('Per')) return formatSeconds(value);
  return formatPlain(value);
}

// ---------------------------------------------------------------------------------------------------
// Charts

interface Point {
  x: number;
  y: number | null;
}

interface LineSeries {
  label: string;
  color: string;
  dash?: string;
  widthPx?: number;
  role?: string;
  points: Point[];
}

interface BandSeries {
  color: string;
  role?: string;
  /** Same x for both edges, null where there is no band. */
  x: number[];
  low: (number | null)[];
  high: (number | null)[];
}

interface Marker {
  at: number;
  label: string;
}

interface ChartSpec {
  id: string;
  description: string;
  scale: 'log' | 'symlog';
  yLabel: string;
  lines: LineSeries[];
  bands: BandSeries[];
  xMarkers: Marker[];
  yMarkers: Marker[];
  emptyText: string;
}

interface Scale {
  toPx(value: number): number;
  ticks: number[];
}

const CHART_WIDTH_PX = 960;
const PLOT_HEIGHT_PX = 300;
const MARGIN_LEFT_PX = 78;
const MARGIN_RIGHT_PX = 20;
const MARGIN_TOP_PX = 14;
const AXIS_HEIGHT_PX = 46;
const LEGEND_ROW_PX = 20;
const LEGEND_COLUMN_PX = 230;
/** Beyond this many samples a series is reduced to per-bucket min and max, which keeps the spikes. */
const POINTS_MAX = 2000;

function px(value: number): string {
  // One decimal: sub-pixel precision is invisible, and it keeps the page small and diff-friendly.
  return String(Math.round(value * 10) / 10);
}

function finiteValues(values: Iterable<number | null>): number[] {
  const out: number[] = [];
  for (const v of values) if (v !== null && Number.isFinite(v)) out.push(v);
  return out;
}

// Loops rather than Math.min(...values): spreading a long series can overflow the call stack.
function minOf(values: readonly number[]): number {
  let min = Infinity;
  for (const v of values) if (v < min) min = v;
  return min;
}

function maxOf(values: readonly number[]): number {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  return max;
}

/**
 * Tick magnitudes in ns: decades up to 10 s, then units a person reads at a glance (1 min, 10 min,
 * 1 h, 1 d) instead of "16.7 min" for 10^12 ns. A log axis does not need evenly spaced ticks.
 */
const TICK_MAGNITUDES_NS = [
  1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 60e9, 600e9, 3_600e9, 86_400e9,
  864_000e9, 8_640_000e9,
];
/** Closer ticks than this are dropped so that their labels never overlap. */
const TICK_SPACING_PX_MIN = 18;
/** Headroom above the largest value, so a line at the maximum does not vanish into the frame. */
const HEADROOM = 1.05;

function magnitudeAtOrBelow(value: number): number {
  let best: number | undefined;
  for (const m of TICK_MAGNITUDES_NS) if (m <= value) best = m;
  return best ?? 10 ** Math.floor(Math.log10(value));
}

function magnitudeAbove(value: number): number {
  return TICK_MAGNITUDES_NS.find((m) => m >= value) ?? 10 ** Math.ceil(Math.log10(value));
}

/** Keeps ticks (in the order given, most important first) at least TICK_SPACING_PX_MIN apart. */
function thinTicks(ticks: readonly number[], toPx: (v: number) => number): number[] {
  const keptPx: number[] = [];
  const kept: number[] = [];
  for (const tick of ticks) {
    const at = toPx(tick);
    if (keptPx.every((other) => Math.abs(other - at) >= TICK_SPACING_PX_MIN)) {
      kept.push(tick);
      keptPx.push(at);
    }
  }
  return kept.sort((a, b) => a - b);
}

function logScale(values: number[], top: number, bottom: number): Scale {
  const positive = values.filter((v) => v > 0);
  const lo = magnitudeAtOrBelow(positive.length > 0 ? minOf(positive) : 1);
  let hi = magnitudeAbove((positive.length > 0 ? maxOf(positive) : 10) * HEADROOM);
  if (hi <= lo) hi = magnitudeAbove(lo * 1.5);
  const logLo = Math.log10(lo);
  const logHi = Math.log10(hi);
  // Zeros (an exact anchor) and negatives have no log: they sit on the bottom edge.
  const toPx = (v: number) =>
    bottom - ((Math.log10(Math.max(v, lo)) - logLo) / (logHi - logLo)) * (bottom - top);
  const candidates = [lo, ...TICK_MAGNITUDES_NS.filter((m) => m > lo && m < hi), hi];
  return { toPx, ticks: thinTicks(candidates, toPx) };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 1;
}

function symlogScale(values: number[], lineValues: number[], top: number, bottom: number): Scale {
  const nonZero = values.filter((v) => v !== 0).map(Math.abs);
  const lineNonZero = lineValues.filter((v) => v !== 0).map(Math.abs);
  // The linear zone around zero is one decade of the typical (median) error: honest noise then
  // reads as a band around zero instead of jumping across decades at every sign change, while an
  // attacker's lie, many decades larger, still lands on the log part of the axis.
  const linearNs = lineNonZero.length > 0 ? magnitudeAtOrBelow(median(lineNonZero)) : 1;
  const f = (v: number) => Math.sign(v) * Math.log10(1 + Math.abs(v) / linearNs);
  const topNs = Math.max(magnitudeAbove((nonZero.length > 0 ? maxOf(nonZero) : 1) * HEADROOM), linearNs * 10);
  const hasNegative = values.some((v) => v < 0);
  const hasPositive = values.some((v) => v > 0) || !hasNegative;
  // A side with no values keeps a sliver of axis so zero is not glued to the frame.
  const hiF = hasPositive ? f(topNs) : f(linearNs);
  const loF = hasNegative ? -f(topNs) : -f(linearNs);
  const toPx = (v: number) => bottom - ((f(v) - loF) / (hiF - loF)) * (bottom - top);
  const magnitudes = [linearNs, ...TICK_MAGNITUDES_NS.filter((m) => m > linearNs && m < topNs), topNs];
  // Zero first, then outwards, alternating sides, so thinning keeps the ticks nearest to truth.
  const ordered = [0];
  for (const m of magnitudes) {
    if (hasPositive) ordered.push(m);
    if (hasNegative) ordered.push(-m);
  }
  return { toPx, ticks: thinTicks(ordered, toPx) };
}

const NICE_TIME_STEPS_S = [
  0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800,
  3600, 7200, 10800, 21600, 43200, 86400, 172800, 432000, 864000,
];

function timeTicks(xMin: number, xMax: number): { ticks: number[]; label: (t: number) => string } {
  const span = xMax - xMin;
  const step = NICE_TIME_STEPS_S.find((s) => span / s <= 8) ?? 864000;
  const [unitS, unitName] =
    step >= 86_400 ? [86_400, 'd'] : step >= 3_600 ? [3_600, 'h'] : step >= 60 ? [60, 'min'] : [1, 's'];
  const ticks: number[] = [];
  // Integer tick counters, not repeated addition, so 0.1-second steps do not drift.
  for (let k = Math.ceil(xMin / step - 1e-9); k * step <= xMax + 1e-9; k++) ticks.push(k * step);
  return { ticks, label: (t) => (t === 0 ? '0' : `${sig3(t / unitS)} ${unitName}`) };
}

/** Reduces a long series to the min and max of each bucket (in index order), keeping gaps. */
function decimate(points: Point[]): Point[] {
  if (points.length <= POINTS_MAX) return points;
  const bucket = Math.ceil(points.length / (POINTS_MAX / 2));
  const out: Point[] = [];
  for (let start = 0; start < points.length; start += bucket) {
    let lowest: Point | undefined;
    let highest: Point | undefined;
    let firstX = Number.NaN;
    for (let i = start; i < Math.min(start + bucket, points.length); i++) {
      const p = points[i];
      if (p === undefined) continue;
      if (Number.isNaN(firstX)) firstX = p.x;
      if (p.y === null) continue;
      if (lowest === undefined || lowest.y === null || p.y < lowest.y) lowest = p;
      if (highest === undefined || highest.y === null || p.y > highest.y) highest = p;
    }
    if (lowest === undefined || highest === undefined) out.push({ x: firstX, y: null });
    else if (lowest === highest) out.push(lowest);
    else out.push(...(lowest.x <= highest.x ? [lowest, highest] : [highest, lowest]));
  }
  return out;
}

function decimateBand(band: BandSeries): BandSeries {
  const n = band.x.length;
  if (n <= POINTS_MAX) return band;
  const bucket = Math.ceil(n / POINTS_MAX);
  const out: BandSeries = { ...band, x: [], low: [], high: [] };
  for (let start = 0; start < n; start += bucket) {
    const end = Math.min(start + bucket, n);
    const lows = finiteValues(band.low.slice(start, end));
    const highs = finiteValues(band.high.slice(start, end));
    out.x.push(band.x[start] ?? 0);
    out.low.push(lows.length > 0 ? minOf(lows) : null);
    out.high.push(highs.length > 0 ? maxOf(highs) : null);
  }
  return out;
}

function linePath(points: Point[], xPx: (x: number) => number, yPx: (y: number) => number): string {
  const parts: string[] = [];
  let open = false;
  let segmentLength = 0;
  for (const p of points) {
    if (p.y === null || !Number.isFinite(p.y)) {
      // A lone sample between gaps would be an invisible zero-length move; "h0" with round caps
      // draws it as a dot.
      if (open && segmentLength === 1) parts.push('h0');
      open = false;
      continue;
    }
    parts.push(`${open ? 'L' : 'M'}${px(xPx(p.x))} ${px(yPx(p.y))}`);
    segmentLength = open ? segmentLength + 1 : 1;
    open = true;
  }
  if (open && segmentLength === 1) parts.push('h0');
  return parts.join('');
}

function bandPath(band: BandSeries, xPx: (x: number) => number, yPx: (y: number) => number): string {
  const parts: string[] = [];
  let run: number[] = [];
  const flush = () => {
    if (run.length > 0) {
      const upper = run.map(
        (i, k) => `${k === 0 ? 'M' : 'L'}${px(xPx(band.x[i] ?? 0))} ${px(yPx(band.high[i] ?? 0))}`,
      );
      const lower = [...run].reverse().map((i) => `L${px(xPx(band.x[i] ?? 0))} ${px(yPx(band.low[i] ?? 0))}`);
      parts.push(`${upper.join('')}${lower.join('')}Z`);
    }
    run = [];
  };
  for (let i = 0; i < band.x.length; i++) {
    const low = band.low[i];
    const high = band.high[i];
    if (low === null || low === undefined || high === null || high === undefined) flush();
    else run.push(i);
  }
  flush();
  return parts.join('');
}

function renderChart(spec: ChartSpec): string {
  const lines = spec.lines.map((line) => ({ ...line, points: decimate(line.points) }));
  const bands = spec.bands.map(decimateBand);
  const xs = [...lines.flatMap((l) => l.points.map((p) => p.x)), ...bands.flatMap((b) => b.x)].filter(
    Number.isFinite,
  );
  const ys = [
    ...lines.flatMap((l) => finiteValues(l.points.map((p) => p.y))),
    ...bands.flatMap((b) => [...finiteValues(b.low), ...finiteValues(b.high)]),
  ];
  if (xs.length === 0 || ys.length === 0) {
    return `<p class="empty" data-chart="${escapeHtml(spec.id)}">${escapeHtml(spec.emptyText)}</p>`;
  }
  const legendItems = [...lines.map((l) => ({ label: l.label, color: l.color, dash: l.dash, role: l.role }))];
  const legendColumns = Math.max(1, Math.floor((CHART_WIDTH_PX - MARGIN_LEFT_PX) / LEGEND_COLUMN_PX));
  const legendRows = Math.ceil(legendItems.length / legendColumns);
  const plotTop = MARGIN_TOP_PX;
  const plotBottom = plotTop + PLOT_HEIGHT_PX;
  const plotLeft = MARGIN_LEFT_PX;
  const plotRight = CHART_WIDTH_PX - MARGIN_RIGHT_PX;
  const heightPx = plotBottom + AXIS_HEIGHT_PX + legendRows * LEGEND_ROW_PX + 8;

  const xMin = minOf(xs);
  let xMax = maxOf(xs);
  if (xMax <= xMin) xMax = xMin + 1; // a single sample still gets a visible x range
  const xPx = (x: number) => plotLeft + ((x - xMin) / (xMax - xMin)) * (plotRight - plotLeft);
  const markerYs = spec.yMarkers.map((m) => m.at);
  const lineYs = lines.flatMap((l) => finiteValues(l.points.map((p) => p.y)));
  const yScale =
    spec.scale === 'log'
      ? logScale([...ys, ...markerYs], plotTop, plotBottom)
      : symlogScale([...ys, ...markerYs], lineYs, plotTop, plotBottom);
  const yPx = (y: number) => yScale.toPx(y);
  const time = timeTicks(xMin, xMax);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${escapeHtml(spec.id)}" role="img" ` +
      `viewBox="0 0 ${CHART_WIDTH_PX} ${heightPx}" width="${CHART_WIDTH_PX}" height="${heightPx}" ` +
      `aria-label="${escapeHtml(spec.description)}">`,
    `<title>${escapeHtml(spec.description)}</title>`,
    `<rect x="${plotLeft}" y="${plotTop}" width="${plotRight - plotLeft}" height="${PLOT_HEIGHT_PX}" class="plot"/>`,
  );
  for (const tick of yScale.ticks) {
    const y = px(yPx(tick));
    out.push(
      `<line x1="${plotLeft}" x2="${plotRight}" y1="${y}" y2="${y}" class="${tick === 0 ? 'zero' : 'grid'}"/>`,
      `<text x="${plotLeft - 6}" y="${y}" class="ytick">${escapeHtml(formatNs(tick))}</text>`,
    );
  }
  for (const tick of time.ticks) {
    if (tick < xMin || tick > xMax) continue;
    const x = px(xPx(tick));
    out.push(
      `<line x1="${x}" x2="${x}" y1="${plotTop}" y2="${plotBottom}" class="grid"/>`,
      `<text x="${x}" y="${plotBottom + 16}" class="xtick">${escapeHtml(time.label(tick))}</text>`,
    );
  }
  out.push(
    `<text x="${px((plotLeft + plotRight) / 2)}" y="${plotBottom + 36}" class="axis-label">virtual time</text>`,
    `<text x="14" y="${px((plotTop + plotBottom) / 2)}" class="axis-label" ` +
      `transform="rotate(-90 14 ${px((plotTop + plotBottom) / 2)})">${escapeHtml(spec.yLabel)}</text>`,
  );
  for (const marker of spec.xMarkers) {
    if (marker.at < xMin || marker.at > xMax) continue;
    const x = px(xPx(marker.at));
    out.push(
      `<line x1="${x}" x2="${x}" y1="${plotTop}" y2="${plotBottom}" class="marker"/>`,
      `<text x="${x}" y="${plotTop + 12}" class="marker-label" dx="4">${escapeHtml(marker.label)}</text>`,
    );
  }
  for (const marker of spec.yMarkers) {
    const y = px(yPx(marker.at));
    out.push(
      `<line x1="${plotLeft}" x2="${plotRight}" y1="${y}" y2="${y}" class="marker"/>`,
      `<text x="${plotRight - 4}" y="${y}" dy="-4" class="marker-label end">${escapeHtml(marker.label)}</text>`,
    );
  }
  // Bands first, so that every line stays visible on top of every band.
  for (const band of bands) {
    const d = bandPath(band, xPx, yPx);
    if (d === '') continue;
    const role = band.role === undefined ? '' : ` data-role="${escapeHtml(band.role)}"`;
    out.push(`<path d="${d}" fill="${band.color}" fill-opacity="0.15" stroke="none" class="band"${role}/>`);
  }
  for (const line of lines) {
    const d = linePath(line.points, xPx, yPx);
    if (d === '') continue;
    const dash = line.dash === undefined ? '' : ` stroke-dasharray="${line.dash}"`;
    const role = line.role === undefined ? '' : ` data-role="${escapeHtml(line.role)}"`;
    out.push(
      `<path d="${d}" fill="none" stroke="${line.color}" stroke-width="${line.widthPx ?? 1.5}"${dash}` +
        ` stroke-linejoin="round" stroke-linecap="round" class="line"${role}><title>${escapeHtml(line.label)}</title></path>`,
    );
  }
  const legendTop = plotBottom + AXIS_HEIGHT_PX;
  legendItems.forEach((item, i) => {
    const x = plotLeft + (i % legendColumns) * LEGEND_COLUMN_PX;
    const y = legendTop + Math.floor(i / legendColumns) * LEGEND_ROW_PX + 10;
    const dash = item.dash === undefined ? '' : ` stroke-dasharray="${item.dash}"`;
    const role = item.role === undefined ? '' : ` data-role="${escapeHtml(item.role)}"`;
    out.push(
      `<g class="legend-item"${role}><line x1="${x}" x2="${x + 26}" y1="${y}" y2="${y}" stroke="${item.color}" ` +
        `stroke-width="2.5"${dash}/><text x="${x + 32}" y="${y}" class="legend">${escapeHtml(item.label)}</text></g>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

function pointsOf(tS: readonly number[], values: readonly (number | null)[]): Point[] {
  return tS.map((x, i) => ({ x, y: values[i] ?? null }));
}

// Blues and greens for timemesh, warm colours for baselines, reds reserved for attackers.
const TRACE_COLORS = ['#1f77b4', '#2ca02c', '#9467bd', '#17becf', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];
const BYZANTINE_COLORS = ['#d62728', '#a50f15', '#ef3b2c', '#cb181d', '#fb6a4a'];
const BYZANTINE_DASH = '7 4';
const TRACE_LABEL_CHARS_MAX = 24;

function traceLabel(trace: NodeTrace): string {
  const id =
    trace.id.length > TRACE_LABEL_CHARS_MAX ? `${trace.id.slice(0, TRACE_LABEL_CHARS_MAX - 1)}…` : trace.id;
  return `${id} (${trace.role})`;
}

function errorChart(report: SimReport, scenario: Record<string, unknown>): string {
  const { series } = report;
  const threshold = scenario['convergenceThresholdNs'];
  return renderChart({
    id: 'honest-error',
    description: 'Honest nodes: |error| p50, p99 and max over time, with the baselines’ p99',
    scale: 'log',
    yLabel: '|error| (log scale)',
    lines: [
      {
        label: 'timemesh max',
        color: '#9ecae1',
        widthPx: 1,
        points: pointsOf(series.tS, series.honestErrorNsMax),
      },
      {
        label: 'timemesh p99',
        color: '#08519c',
        widthPx: 2,
        points: pointsOf(series.tS, series.honestErrorNsP99),
      },
      {
        label: 'timemesh p50',
        color: '#3182bd',
        widthPx: 1.5,
        points: pointsOf(series.tS, series.honestErrorNsP50),
      },
      {
        label: 'baseline average p99',
        color: '#ff7f0e',
        dash: '6 3',
        points: pointsOf(series.tS, series.baselineAverageErrorNsP99),
      },
      {
        label: 'baseline seed median-blend p99',
        color: '#8c564b',
        dash: '2 3',
        points: pointsOf(series.tS, series.baselineSeedErrorNsP99),
      },
    ],
    bands: [],
    xMarkers: report.statsFromS > 0 ? [{ at: report.statsFromS, label: 'statistics from here' }] : [],
    yMarkers:
      typeof threshold === 'number' && threshold > 0
        ? [{ at: threshold, label: 'convergence threshold' }]
        : [],
    emptyText: 'No honest |error| samples were recorded.',
  });
}

function traceChart(report: SimReport): string {
  const { series } = report;
  let honestIndex = 0;
  let byzantineIndex = 0;
  const lines: LineSeries[] = [];
  const bands: BandSeries[] = [];
  for (const trace of series.nodes) {
    const byzantine = trace.role === 'byzantine';
    const color = byzantine
      ? (BYZANTINE_COLORS[byzantineIndex++ % BYZANTINE_COLORS.length] ?? '#d62728')
      : (TRACE_COLORS[honestIndex++ % TRACE_COLORS.length] ?? '#1f77b4');
    lines.push({
      label: traceLabel(trace),
      color,
      role: trace.role,
      widthPx: byzantine ? 1.8 : 1.4,
      ...(byzantine ? { dash: BYZANTINE_DASH } : {}),
      points: pointsOf(series.tS, trace.errorNs),
    });
    bands.push({
      color,
      role: trace.role,
      x: [...series.tS],
      low: series.tS.map((_, i) => trace.lowNs[i] ?? null),
      high: series.tS.map((_, i) => trace.highNs[i] ?? null),
    });
  }
  return renderChart({
    id: 'node-traces',
    description: 'Traced nodes: error (best − true) over time with their [earliest, latest] band',
    scale: 'symlog',
    yLabel: 'best − true (symmetric log)',
    lines,
    bands,
    xMarkers: [],
    yMarkers: [],
    emptyText: 'No node traces were recorded.',
  });
}

function widthChart(report: SimReport): string {
  const { series } = report;
  return renderChart({
    id: 'interval-width',
    description: 'Honest nodes: interval width (latest − earliest) p50 over time',
    scale: 'log',
    yLabel: 'width p50 (log scale)',
    lines: [
      {
        label: 'interval width p50',
        color: '#2ca02c',
        widthPx: 2,
        points: pointsOf(series.tS, series.honestWidthNsP50),
      },
    ],
    bands: [],
    xMarkers: report.statsFromS > 0 ? [{ at: report.statsFromS, label: 'statistics from here' }] : [],
    yMarkers: [],
    emptyText: 'No interval widths were recorded (no honest node was synchronized).',
  });
}

// ---------------------------------------------------------------------------------------------------
// Tables

/** "×12.3": how many times larger the baseline's figure is than timemesh's (> 1: timemesh is better). */
function factor(timemesh: number | null, baseline: number | null): string {
  if (timemesh === null || baseline === null) return DASH;
  if (timemesh === 0) return baseline === 0 ? '×1' : '∞';
  const ratio = Number((baseline / timemesh).toPrecision(3));
  return `×${ratio >= 1000 ? formatInteger(ratio) : String(ratio)}`;
}

function convergenceText(seconds: number | null): string {
  return seconds === null ? 'never' : formatSeconds(seconds);
}

function summaryTable(report: SimReport): string {
  const t = report.honest;
  const a = report.baselines.average;
  const s = report.baselines.seedMedianBlend;
  type Row = [label: string, key: keyof AccuracyFigures, format: (v: number | null) => string];
  const rows: Row[] = [
    ['|error| p50', 'errorNsP50', formatNs],
    ['|error| p99', 'errorNsP99', formatNs],
    ['|error| max', 'errorNsMax', formatNs],
    ['convergence time', 'convergenceS', convergenceText],
    ['precision (max spread between honest nodes)', 'precisionNsMax', formatNs],
  ];
  const body = rows.map(([label, key, format]) =>
    [
      `<tr data-metric="${key}"><th scope="row">${escapeHtml(label)}</th>`,
      `<td>${escapeHtml(format(t[key]))}</td>`,
      `<td>${escapeHtml(format(a[key]))}</td><td class="factor">${escapeHtml(factor(t[key], a[key]))}</td>`,
      `<td>${escapeHtml(format(s[key]))}</td><td class="factor">${escapeHtml(factor(t[key], s[key]))}</td></tr>`,
    ].join(''),
  );
  const extra: [string, string][] = [
    [
      'containment (true time inside [earliest, latest])',
      `${formatPercent(t.containment)} (${formatInteger(t.containmentMisses)} misses in ${formatInteger(t.containmentSamples)} samples)`,
    ],
    ['interval width p50', formatNs(t.widthNsP50)],
    ['interval width p99', formatNs(t.widthNsP99)],
    ['unsynchronized samples', formatInteger(t.unsynchronizedSamples)],
    ['messages per node per minute', formatPlain(t.messagesPerNodePerMinute)],
  ];
  return [
    '<table class="summary">',
    '<caption>Honest nodes after the warm-up. A factor above ×1 means the baseline is worse than timemesh.</caption>',
    '<thead><tr><th scope="col">figure</th><th scope="col">timemesh</th>',
    '<th scope="col">baseline: average</th><th scope="col">baseline / timemesh</th>',
    '<th scope="col">baseline: seed median-blend</th><th scope="col">baseline / timemesh</th></tr></thead>',
    '<tbody>',
    ...body,
    ...extra.map(
      ([label, value]) =>
        `<tr><th scope="row">${escapeHtml(label)}</th><td>${escapeHtml(value)}</td><td colspan="4" class="na">timemesh only</td></tr>`,
    ),
    '</tbody></table>',
  ].join('\n');
}

function checksTable(checks: readonly CheckResult[]): string {
  if (checks.length === 0) return '<p class="empty">No checks were configured for this run.</p>';
  const rows = checks.map((check) => {
    const status = check.pass ? 'pass' : 'fail';
    return (
      `<tr class="${status}"><td><code>${escapeHtml(check.metric)}</code></td>` +
      `<td>${check.kind === 'max' ? '≤' : '≥'} ${escapeHtml(formatMetric(check.metric, check.limit))}</td>` +
      `<td title="${escapeHtml(String(check.value))}">${escapeHtml(formatMetric(check.metric, check.value))}</td>` +
      `<td class="status">${check.pass ? 'pass' : 'FAIL'}</td></tr>`
    );
  });
  return [
    '<table class="checks">',
    '<thead><tr><th scope="col">metric</th><th scope="col">limit</th><th scope="col">value</th><th scope="col">result</th></tr></thead>',
    '<tbody>',
    ...rows,
    '</tbody></table>',
  ].join('\n');
}

function eventsTable(report: SimReport): string {
  const rows = Object.entries(report.events).map(
    ([key, value]) =>
      `<tr><th scope="row">${escapeHtml(key)}</th><td>${escapeHtml(formatPlain(value))}</td></tr>`,
  );
  return ['<table class="events">', '<tbody>', ...rows, '</tbody></table>'].join('\n');
}

/** A short human reading of a numeric parameter whose name carries a unit, or ''. */
function parameterHint(key: string, value: number): string {
  if (/Ns(Min|Max|Mean)?$/.test(key)) return formatNs(value);
  if (/NsPerS$/.test(key)) return `${formatNs(value)} per s`;
  if (/[a-z]S$/.test(key) && !key.includes('Per')) return formatSeconds(value);
  return '';
}

function flattenParameters(value: unknown, path: string, rows: [string, string, string][]): void {
  const leaf = path.slice(path.lastIndexOf('.') + 1);
  if ((path === 'checks.max' || path === 'checks.min') && typeof value === 'object' && value !== null) {
    // Check keys are dotted metric names: flattening them further would garble the path.
    const entries = Object.entries(value);
    if (entries.length === 0) rows.push([path, 'none', '']);
    for (const [metric, limit] of entries) {
      const bound = `${leaf === 'max' ? '≤' : '≥'} ${typeof limit === 'number' ? formatMetric(metric, limit) : String(limit)}`;
      rows.push([`${path}[${JSON.stringify(metric)}]`, String(limit), bound]);
    }
    return;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) rows.push([path, '(defaults)', '']);
    for (const [key, inner] of entries) flattenParameters(inner, path === '' ? key : `${path}.${key}`, rows);
    return;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) rows.push([path, 'none', '']);
    // Lists of events read best one per line, each as compact JSON.
    else value.forEach((item, i) => rows.push([`${path}[${i}]`, JSON.stringify(item) ?? String(item), '']));
    return;
  }
  if (typeof value === 'number') {
    rows.push([path, String(value), parameterHint(leaf, value)]);
    return;
  }
  rows.push([path, typeof value === 'string' ? value : String(value), '']);
}

function parametersList(scenario: Record<string, unknown>): string {
  const rows: [string, string, string][] = [];
  flattenParameters(scenario, '', rows);
  if (rows.length === 0) return '<p class="empty">The report carries no scenario parameters.</p>';
  return [
    '<dl class="parameters">',
    ...rows.map(
      ([key, value, hint]) =>
        `<div><dt>${escapeHtml(key)}</dt><dd><code>${escapeHtml(value)}</code>` +
        `${hint === '' ? '' : ` <span class="hint">(${escapeHtml(hint)})</span>`}</dd></div>`,
    ),
    '</dl>',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Page

const STYLE = `
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  margin: 0 auto; padding: 24px; max-width: 1000px; color: #1a1a1a; background: #fff; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.2em; margin: 32px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.subtitle { color: #555; margin: 0 0 12px; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; font-weight: 600; }
.verdict.pass, tr.pass .status { background: #e6f4ea; color: #137333; }
.verdict.fail, tr.fail .status { background: #fce8e6; color: #a50e0e; }
.verdict.none { background: #eee; color: #444; }
.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 12px 0; }
.facts dt { color: #555; }
.facts dd { margin: 0; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: right; }
th[scope="row"], thead th { text-align: left; background: #f7f7f7; font-weight: 600; }
caption { caption-side: bottom; text-align: left; color: #555; font-size: 0.9em; padding-top: 4px; }
td.factor { color: #555; }
td.na { color: #999; text-align: center; font-style: italic; }
tr.fail td { background: #fff5f4; }
td.status { font-weight: 700; text-align: center; }
svg.chart { display: block; max-width: 100%; height: auto; font-size: 12px; }
svg .plot { fill: #fcfcfc; stroke: #bbb; }
svg .grid { stroke: #e4e4e4; }
svg .zero { stroke: #555; stroke-width: 1.2; }
svg .marker { stroke: #666; stroke-dasharray: 3 3; }
svg .marker-label { fill: #444; font-size: 11px; }
svg .marker-label.end { text-anchor: end; }
svg .ytick { text-anchor: end; dominant-baseline: middle; fill: #444; }
svg .xtick { text-anchor: middle; fill: #444; }
svg .axis-label { text-anchor: middle; fill: #222; }
svg .legend { dominant-baseline: middle; fill: #222; }
.chart-note { color: #555; font-size: 0.9em; margin: 4px 0 0; }
.empty { color: #777; font-style: italic; }
dl.parameters { display: grid; grid-template-columns: max-content auto; gap: 0 16px; font-size: 0.92em; }
dl.parameters div { display: contents; }
dl.parameters dt { color: #333; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
dl.parameters dd { margin: 0; overflow-wrap: anywhere; }
.hint { color: #666; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.95em; }
`;

/** The whole report as one self-contained, deterministic HTML page. */
export function renderHtmlReport(report: SimReport): string {
  const scenario = report.scenario;
  const name = typeof scenario['name'] === 'string' ? scenario['name'] : 'unnamed scenario';
  const description = typeof scenario['description'] === 'string' ? scenario['description'] : '';
  const attack = scenario['attack'];
  const attackKind =
    typeof attack === 'object' &&
    attack !== null &&
    typeof (attack as Record<string, unknown>)['kind'] === 'string'
      ? String((attack as Record<string, unknown>)['kind'])
      : DASH;
  const verdict =
    report.checks.length === 0
      ? '<span class="verdict none">no checks</span>'
      : report.passed
        ? `<span class="verdict pass">PASSED (${report.checks.length} checks)</span>`
        : `<span class="verdict fail">FAILED (${report.checks.filter((c) => !c.pass).length} of ${report.checks.length} checks)</span>`;
  const facts: [string, string][] = [
    ['seed', report.seed],
    ['virtual duration', formatSeconds(report.durationS)],
    [
      'nodes',
      `${formatInteger(report.counts.nodes)} (${formatInteger(report.counts.honest)} honest, of which ` +
        `${formatInteger(report.counts.anchors)} anchors; ${formatInteger(report.counts.byzantine)} byzantine)`,
    ],
    ['attack', attackKind],
    ['statistics from', formatSeconds(report.statsFromS)],
    ['events processed', formatInteger(report.events.processed)],
    ['schema', report.schema],
  ];

  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(`timemesh simulation: ${name} (seed ${report.seed})`)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<header>',
    `<h1>timemesh simulation: ${escapeHtml(name)}</h1>`,
    description === '' ? '' : `<p class="subtitle">${escapeHtml(description)}</p>`,
    `<p>${verdict}</p>`,
    '<dl class="facts">',
    ...facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`),
    '</dl>',
    '</header>',
    '<section id="summary"><h2>timemesh against the baselines</h2>',
    summaryTable(report),
    '</section>',
    '<section id="checks"><h2>Checks</h2>',
    checksTable(report.checks),
    '</section>',
    '<section id="error-chart"><h2>Honest |error| over time</h2>',
    errorChart(report, scenario),
    '<p class="chart-note">Zero errors are drawn on the bottom edge of the log axis.</p>',
    '</section>',
    '<section id="trace-chart"><h2>Traced nodes: error and uncertainty band</h2>',
    traceChart(report),
    '<p class="chart-note">Shaded: each node’s [earliest − true, latest − true] band; true time is the dark zero line. ' +
      'Red dashed lines are byzantine nodes.</p>',
    '</section>',
    '<section id="width-chart"><h2>Interval width over time</h2>',
    widthChart(report),
    '</section>',
    '<section id="events"><h2>Events</h2>',
    eventsTable(report),
    '</section>',
    '<section id="scenario"><h2>Scenario parameters</h2>',
    parametersList(scenario),
    '</section>',
    '</body>',
    '</html>',
  ]
    .filter((line) => line !== '')
    .join('\n')
    .concat('\n');
}
