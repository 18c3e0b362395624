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

/** A stretch of virtual time when something was done to the mesh (a partition, a crash, a fault). */
interface Span {
  fromS: number;
  toS: number;
  /** A short tag (a letter) that the timeline table explains. */
  tag: string;
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
  spans?: Span[];
  emptyText: string;
  /** A title drawn inside the SVG above the plot (small multiples carry their node's name there). */
  title?: string;
  /** Extra class of the title, e.g. "attacker" to draw it in red. */
  titleClass?: string;
  plotHeightPx?: number;
  /** The legend's text for the bands (a shaded swatch), if any. */
  bandLegend?: string;
  /**
   * Values that fix the y axis instead of the chart's own, so that small multiples share one axis
   * and can be compared panel to panel.
   */
  sharedY?: { values: number[]; lineValues: number[] };
}

interface LegendItem {
  label: string;
  color: string;
  dash?: string | undefined;
  role?: string | undefined;
  kind: 'line' | 'band';
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
const LEGEND_COLUMN_PX = 290;
const TITLE_ROW_PX = 18;
const BAND_OPACITY = '0.22';
/** Rough width of one character of a span's tag, to keep tags from overlapping. */
const SPAN_TAG_CHAR_PX = 8;
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
  const legendItems: LegendItem[] = lines.map((l) => ({
    label: l.label,
    color: l.color,
    dash: l.dash,
    role: l.role,
    kind: 'line',
  }));
  if (spec.bandLegend !== undefined && bands.length > 0) {
    const first = bands[0]!;
    legendItems.push({ label: spec.bandLegend, color: first.color, role: first.role, kind: 'band' });
  }
  const legendColumns = Math.max(1, Math.floor((CHART_WIDTH_PX - MARGIN_LEFT_PX) / LEGEND_COLUMN_PX));
  const legendRows = Math.ceil(legendItems.length / legendColumns);
  const plotHeightPx = spec.plotHeightPx ?? PLOT_HEIGHT_PX;
  const plotTop = MARGIN_TOP_PX + (spec.title === undefined ? 0 : TITLE_ROW_PX);
  const plotBottom = plotTop + plotHeightPx;
  const plotLeft = MARGIN_LEFT_PX;
  const plotRight = CHART_WIDTH_PX - MARGIN_RIGHT_PX;
  const heightPx = plotBottom + AXIS_HEIGHT_PX + legendRows * LEGEND_ROW_PX + 8;

  const xMin = minOf(xs);
  let xMax = maxOf(xs);
  if (xMax <= xMin) xMax = xMin + 1; // a single sample still gets a visible x range
  const xPx = (x: number) => plotLeft + ((x - xMin) / (xMax - xMin)) * (plotRight - plotLeft);
  const markerYs = spec.yMarkers.map((m) => m.at);
  const lineYs = spec.sharedY?.lineValues ?? lines.flatMap((l) => finiteValues(l.points.map((p) => p.y)));
  const scaleYs = [...(spec.sharedY?.values ?? ys), ...markerYs];
  const yScale =
    spec.scale === 'log'
      ? logScale(scaleYs, plotTop, plotBottom)
      : symlogScale(scaleYs, lineYs, plotTop, plotBottom);
  const yPx = (y: number) => yScale.toPx(y);
  const time = timeTicks(xMin, xMax);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${escapeHtml(spec.id)}" role="img" ` +
      `viewBox="0 0 ${CHART_WIDTH_PX} ${heightPx}" width="${CHART_WIDTH_PX}" height="${heightPx}" ` +
      `aria-label="${escapeHtml(spec.description)}">`,
    `<title>${escapeHtml(spec.description)}</title>`,
    `<rect x="${plotLeft}" y="${plotTop}" width="${plotRight - plotLeft}" height="${plotHeightPx}" class="plot"/>`,
  );
  if (spec.title !== undefined) {
    const cls = spec.titleClass === undefined ? 'panel-title' : `panel-title ${escapeHtml(spec.titleClass)}`;
    out.push(
      `<text x="${plotLeft}" y="${MARGIN_TOP_PX + 4}" class="${cls}">${escapeHtml(spec.title)}</text>`,
    );
  }
  // Scenario events first, as pale stripes behind everything else. Events over the same stretch
  // share one stripe ("B C"); a tag whose place is taken moves up a row so that tags never overlap.
  const stripes: { x: number; w: number; tags: string[] }[] = [];
  for (const span of spec.spans ?? []) {
    const from = Math.max(span.fromS, xMin);
    const to = Math.min(span.toS, xMax);
    if (to < from) continue;
    const x = xPx(from);
    // A crash of one sample's length would be invisible: at least 3 px.
    const w = Math.max(3, xPx(to) - x);
    const same = stripes.find((s) => Math.abs(s.x - x) < 0.5 && Math.abs(s.w - w) < 0.5);
    if (same === undefined) stripes.push({ x, w, tags: [span.tag] });
    else same.tags.push(span.tag);
  }
  const tagRows: { from: number; to: number }[][] = [];
  for (const stripe of stripes) {
    const text = stripe.tags.join(' ');
    const centre = stripe.x + stripe.w / 2;
    const half = (text.length * SPAN_TAG_CHAR_PX) / 2 + 2;
    let row = tagRows.findIndex((taken) =>
      taken.every((t) => centre + half < t.from || centre - half > t.to),
    );
    if (row === -1) row = tagRows.push([]) - 1;
    tagRows[row]!.push({ from: centre - half, to: centre + half });
    out.push(
      `<rect x="${px(stripe.x)}" y="${plotTop}" width="${px(stripe.w)}" height="${plotHeightPx}" class="span"/>`,
      `<text x="${px(centre)}" y="${px(plotBottom - 4 - row * 12)}" class="span-label">${escapeHtml(text)}</text>`,
    );
  }
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
    `<text x="${px((plotLeft + plotRight) / 2)}" y="${plotBottom + 36}" class="axis-label">virtual time since the start of the run</text>`,
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
    out.push(
      `<path d="${d}" fill="${band.color}" fill-opacity="${BAND_OPACITY}" stroke="none" class="band"${role}/>`,
    );
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
    const swatch =
      item.kind === 'band'
        ? `<rect x="${x}" y="${y - 6}" width="26" height="12" fill="${item.color}" fill-opacity="${BAND_OPACITY}"/>`
        : `<line x1="${x}" x2="${x + 26}" y1="${y}" y2="${y}" stroke="${item.color}" stroke-width="2.5"${dash}/>`;
    const cls = item.role === 'byzantine' ? 'legend attacker' : 'legend';
    out.push(
      `<g class="legend-item"${role}>${swatch}<text x="${x + 32}" y="${y}" class="${cls}">${escapeHtml(item.label)}</text></g>`,
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
const PANEL_PLOT_HEIGHT_PX = 130;

function shortId(id: string): string {
  return id.length > TRACE_LABEL_CHARS_MAX ? `${id.slice(0, TRACE_LABEL_CHARS_MAX - 1)}…` : id;
}

function traceLabel(trace: NodeTrace): string {
  return `${shortId(trace.id)} (${trace.role})`;
}

// ---------------------------------------------------------------------------------------------------
// Scenario events (partitions, crashes, reference faults) on the time axis

interface TimelineEvent extends Span {
  what: string;
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function nodeName(index: unknown): string {
  return typeof index === 'number' && Number.isInteger(index) && index >= 0
    ? `n${String(index).padStart(4, '0')}`
    : `node ${String(index)}`;
}

/** A, B, …, Z, AA, AB, …: short tags that fit in a stripe a few pixels wide. */
function tagOf(i: number): string {
  const letter = String.fromCharCode(65 + (i % 26));
  return i < 26 ? letter : `${tagOf(Math.floor(i / 26) - 1)}${letter}`;
}

/**
 * The scenario's scheduled events, read defensively (the scenario is an open record in the report),
 * in the order partitions, crashes, reference faults, each sorted by start time. An event that never
 * ends lasts to the end of the run.
 */
export function timelineEvents(report: SimReport): TimelineEvent[] {
  const scenario = report.scenario;
  const endS = report.durationS;
  const list = (key: string): Record<string, unknown>[] => {
    const value = scenario[key];
    return Array.isArray(value) ? value.map(record).filter((r) => r !== null) : [];
  };
  const events: Omit<TimelineEvent, 'tag'>[] = [];
  for (const p of list('partitions')) {
    const groups = Array.isArray(p['groups']) ? p['groups'] : [];
    const sizes = groups.map((g) => (Array.isArray(g) ? g.length : 0));
    const inGroups = sizes.reduce((a, b) => a + b, 0);
    const rest = report.counts.nodes - inGroups;
    const parts = [...sizes, ...(rest > 0 ? [rest] : [])].map((n) => `${n}`).join(' | ');
    events.push({
      fromS: numberOr(p['atS'], 0),
      toS: numberOr(p['healS'], endS),
      what: `partition into groups of ${parts} nodes${p['healS'] === null ? ' (never healed)' : ''}`,
    });
  }
  for (const c of list('crashes')) {
    events.push({
      fromS: numberOr(c['atS'], 0),
      toS: numberOr(c['restartS'], endS),
      what: `${nodeName(c['node'])} crashed${c['restartS'] === null ? ' (no restart)' : ', then restarted'}`,
    });
  }
  for (const f of list('anchorFaults')) {
    const what =
      f['kind'] === 'step'
        ? `anchor ${nodeName(f['anchor'])}: its reference clock reads ${formatNs(numberOr(f['stepNs'], 0))} off`
        : `anchor ${nodeName(f['anchor'])}: reference clock outage`;
    events.push({ fromS: numberOr(f['atS'], 0), toS: numberOr(f['untilS'], endS), what });
  }
  return events.map((e, i) => ({ ...e, tag: tagOf(i) }));
}

function timelineTable(events: readonly TimelineEvent[]): string {
  if (events.length === 0) return '';
  const rows = events.map(
    (e) =>
      `<tr><td class="tag">${escapeHtml(e.tag)}</td><td>${escapeHtml(formatSeconds(e.fromS))}</td>` +
      `<td>${escapeHtml(formatSeconds(e.toS))}</td><td class="what">${escapeHtml(e.what)}</td></tr>`,
  );
  return [
    '<section id="timeline"><h2>What happened during the run</h2>',
    '<p class="how">The scenario’s scheduled faults. Every time chart below shades these stretches and tags them with the letter.</p>',
    '<table class="timeline">',
    '<thead><tr><th scope="col">tag</th><th scope="col">from</th><th scope="col">until</th><th scope="col">what</th></tr></thead>',
    '<tbody>',
    ...rows,
    '</tbody></table></section>',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// The charts of the page

function statsMarker(report: SimReport): Marker[] {
  return report.statsFromS > 0 ? [{ at: report.statsFromS, label: 'statistics from here' }] : [];
}

function errorChart(report: SimReport, spans: Span[]): string {
  const { series, scenario } = report;
  const threshold = scenario['convergenceThresholdNs'];
  return renderChart({
    id: 'honest-error',
    description: 'Honest nodes: |error| p50, p99 and max over time, with the baselines’ p99',
    scale: 'log',
    yLabel: '|best − true| (log scale)',
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
    xMarkers: statsMarker(report),
    yMarkers:
      typeof threshold === 'number' && threshold > 0
        ? [{ at: threshold, label: 'convergence threshold' }]
        : [],
    spans,
    emptyText: 'No honest |error| samples were recorded.',
  });
}

function traceBand(trace: NodeTrace, tS: readonly number[], color: string): BandSeries {
  return {
    color,
    role: trace.role,
    x: [...tS],
    low: tS.map((_, i) => trace.lowNs[i] ?? null),
    high: tS.map((_, i) => trace.highNs[i] ?? null),
  };
}

/**
 * One small panel per traced honest node and anchor, all on one shared symmetric-log axis, so that a
 * node whose band is wider or whose error is larger stands out when the panels are compared.
 */
function nodePanels(report: SimReport, spans: Span[]): string {
  const { series } = report;
  const traces = series.nodes.filter((t) => t.role !== 'byzantine');
  if (traces.length === 0) return '<p class="empty">No node traces were recorded.</p>';
  const values: number[] = [];
  const lineValues: number[] = [];
  for (const t of traces) {
    const errors = finiteValues(t.errorNs);
    lineValues.push(...errors);
    values.push(...errors, ...finiteValues(t.lowNs), ...finiteValues(t.highNs));
  }
  if (values.length === 0) return '<p class="empty">No node traces were recorded.</p>';
  const panels = traces.map((trace, i) => {
    const color = TRACE_COLORS[i % TRACE_COLORS.length] ?? '#1f77b4';
    return renderChart({
      id: `node-${trace.id}`,
      description: `${trace.id} (${trace.role}): best − true over time with its [earliest, latest] band`,
      scale: 'symlog',
      yLabel: 'minus true time',
      title: `${shortId(trace.id)}: ${trace.role === 'anchor' ? 'anchor (has a reference clock)' : 'honest node'}`,
      plotHeightPx: PANEL_PLOT_HEIGHT_PX,
      lines: [
        {
          label: 'best − true',
          color,
          role: trace.role,
          widthPx: 1.4,
          points: pointsOf(series.tS, trace.errorNs),
        },
      ],
      bands: [traceBand(trace, series.tS, color)],
      bandLegend: 'interval: [earliest − true, latest − true]',
      xMarkers: [],
      yMarkers: [],
      spans,
      sharedY: { values, lineValues },
      emptyText: `${trace.id}: no samples were recorded.`,
    });
  });
  return panels.join('\n');
}

/** A sentence on what the scenario's attack makes each attacker say. */
function attackText(report: SimReport): string {
  const attack = record(report.scenario['attack']);
  const kind = typeof attack?.['kind'] === 'string' ? attack['kind'] : 'unknown';
  const lie = formatNs(numberOr(attack?.['lieNs'], Number.NaN));
  switch (kind) {
    case 'constant':
      return `constant: every answer is ${lie} ahead of true time.`;
    case 'two-faced':
      return `two-faced: ${lie} ahead to even-numbered peers and ${lie} behind to odd-numbered ones (the line shows the first).`;
    case 'random':
      return `random: a fresh uniform lie within ±${lie} for every answer (the line shows the bound).`;
    case 'frog-boil':
      return `frog-boil: a lie that grows by ${formatNs(numberOr(attack?.['driftNsPerS'], Number.NaN))} every second.`;
    case 'delay':
      return `delay: honest timestamps, but each answer is held ${formatNs(numberOr(attack?.['holdNs'], Number.NaN))} after T3 (the line shows the offset this fakes, half the hold).`;
    case 'hlc-push':
      return `hlc-push: honest time, HLCs ${formatNs(numberOr(attack?.['hlcAheadNs'], Number.NaN))} ahead (the line is zero: the lie is not in the time).`;
    case 'silent':
      return 'silent: never answers (nothing to draw).';
    default:
      return `${kind}.`;
  }
}

function attackerChart(report: SimReport, spans: Span[]): string {
  const { series } = report;
  const traces = series.nodes.filter((t) => t.role === 'byzantine');
  if (traces.length === 0) return '';
  const lines: LineSeries[] = [];
  const bands: BandSeries[] = [];
  traces.forEach((trace, i) => {
    const color = BYZANTINE_COLORS[i % BYZANTINE_COLORS.length] ?? '#d62728';
    lines.push({
      label: `${traceLabel(trace)}: ATTACKER`,
      color,
      role: trace.role,
      widthPx: 1.8,
      dash: BYZANTINE_DASH,
      points: pointsOf(series.tS, trace.errorNs),
    });
    bands.push(traceBand(trace, series.tS, color));
  });
  const chart = renderChart({
    id: 'attackers',
    description: 'Attackers (byzantine nodes): the time they claim, minus true time',
    scale: 'symlog',
    yLabel: 'claim − true',
    title: `ATTACKERS: what ${traces.length === 1 ? 'the traced attacker claims' : `the ${traces.length} traced attackers claim`}`,
    titleClass: 'attacker',
    plotHeightPx: PANEL_PLOT_HEIGHT_PX,
    lines,
    bands,
    xMarkers: [],
    yMarkers: [],
    spans,
    emptyText: 'The attackers never answered (a silent attack), so there is nothing to draw.',
  });
  return [
    '<div class="attackers">',
    `<p class="how"><strong class="attacker">Attack</strong> ${escapeHtml(attackText(report))} ` +
      'Attackers know true time exactly and claim a 1 µs error bound, anchored status and stratum 1, so honest nodes find them attractive. ' +
      'Their axis is not the honest nodes’ axis: compare the tick labels.</p>',
    chart,
    '</div>',
  ].join('\n');
}

function widthChart(report: SimReport, spans: Span[]): string {
  const { series } = report;
  return renderChart({
    id: 'interval-width',
    description: 'Honest nodes: interval width (latest − earliest) p50 over time',
    scale: 'log',
    yLabel: 'latest − earliest (log scale)',
    lines: [
      {
        label: 'interval width p50 over honest nodes',
        color: '#2ca02c',
        widthPx: 2,
        points: pointsOf(series.tS, series.honestWidthNsP50),
      },
    ],
    bands: [],
    xMarkers: statsMarker(report),
    yMarkers: [],
    spans,
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

/** What each event counter means, for a reader who does not know the code. */
const EVENT_MEANINGS: Readonly<Record<string, string>> = {
  processed: 'simulator events handled (messages, timers, samples)',
  exchangesStarted: 'time exchanges (request/response) started by honest nodes',
  exchangesCompleted: 'exchanges that got an answer',
  exchangesLost: 'exchanges whose request or answer was lost or never came',
  announcementsPublished: 'status announcements gossiped by honest nodes',
  falsetickerMarks: 'times a node excluded a peer as a falseticker',
  referenceFalsetickerMarks: 'rounds in which an anchor overruled its own reference clock',
  hlcRejections: 'HLC timestamps rejected as too far ahead',
  noQuorumRounds: 'rounds without enough agreeing sources to set the interval',
};

function eventsTable(report: SimReport): string {
  const rows = Object.entries(report.events).map(
    ([key, value]) =>
      `<tr><th scope="row"><code>${escapeHtml(key)}</code></th><td>${escapeHtml(formatPlain(value))}</td>` +
      `<td class="what">${escapeHtml(EVENT_MEANINGS[key] ?? '')}</td></tr>`,
  );
  return ['<table class="events">', '<tbody>', ...rows, '</tbody></table>'].join('\n');
}

/** One sentence with the figure most readers look for first: p99 |error| against the baselines. */
function headline(report: SimReport): string {
  const t = report.honest;
  const a = report.baselines.average;
  const s = report.baselines.seedMedianBlend;
  const worse = (baseline: number | null): string => {
    const f = factor(t.errorNsP99, baseline);
    if (f === DASH || t.errorNsP99 === null || baseline === null) return '';
    return baseline >= t.errorNsP99 ? ` (${f} worse)` : ` (${f}: better than timemesh)`;
  };
  return (
    `Honest |error| p99 after the warm-up: <strong>${escapeHtml(formatNs(t.errorNsP99))}</strong> with timemesh, ` +
    `${escapeHtml(formatNs(a.errorNsP99))}${escapeHtml(worse(a.errorNsP99))} with the average baseline, ` +
    `${escapeHtml(formatNs(s.errorNsP99))}${escapeHtml(worse(s.errorNsP99))} with the seed median-blend. ` +
    `True time was inside the interval in ${escapeHtml(formatPercent(t.containment))} of the samples; ` +
    `convergence: ${escapeHtml(convergenceText(t.convergenceS))}.`
  );
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
h3 { font-size: 1.02em; margin: 18px 0 4px; }
.headline { font-size: 1.05em; background: #f4f8fc; border-left: 4px solid #08519c; padding: 8px 12px; }
.how { color: #444; font-size: 0.92em; margin: 4px 0 8px; }
.attacker { color: #b00; }
.attackers { margin-top: 16px; border-top: 2px solid #d62728; padding-top: 4px; }
table.checks td:first-child, table.timeline td.what, table.events td.what { text-align: left; }
table.events td.what { color: #555; }
table.timeline td.tag { text-align: center; font-weight: 700; background: #fff3d6; }
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
svg .legend.attacker { fill: #b00; font-weight: 700; }
svg .panel-title { font-weight: 600; fill: #222; font-size: 13px; }
svg .panel-title.attacker { fill: #b00; }
svg .span { fill: #ffd980; fill-opacity: 0.28; }
svg .span-label { text-anchor: middle; fill: #8a5a00; font-weight: 700; font-size: 11px; }
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
  const timeline = timelineEvents(report);
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
    '<section id="summary"><h2>Summary</h2>',
    `<p class="headline">${headline(report)}</p>`,
    '<h3>Checks (the verdict)</h3>',
    checksTable(report.checks),
    '<h3>timemesh against the baselines</h3>',
    '<p class="how">Both baselines ran in the same simulation on the very same exchanges, as shadow clocks of every honest node: ' +
      '<em>average</em> takes the plain mean of the peers’ offsets each round; <em>seed median-blend</em> moves the clock 20 % of the way to the median offset.</p>',
    summaryTable(report),
    '</section>',
    timelineTable(timeline),
    '<section id="error-chart"><h2>Honest |error| over time: timemesh and the baselines</h2>',
    '<p class="how">How to read: lower is better. Blue lines are timemesh over all honest nodes at each sample (p50, p99, max of |best − true|); ' +
      'the dashed orange and dotted brown lines are the two baselines’ p99 on the same exchanges. Log scale: each gridline is ×10. ' +
      'Zero errors sit on the bottom edge.</p>',
    errorChart(report, timeline),
    '</section>',
    '<section id="trace-chart"><h2>Traced nodes: error and interval, one panel per node</h2>',
    '<p class="how">How to read: the line is the node’s best estimate minus true time (0 = exact); the shaded band is its interval ' +
      '[earliest, latest] minus true time. The band must cover the 0 line (true time inside the interval); its height is the uncertainty. ' +
      'All panels share one y axis: symmetric log, linear near 0 and ×10 per gridline beyond. Gaps: the node was down or unsynchronized.</p>',
    nodePanels(report, timeline),
    attackerChart(report, timeline),
    '</section>',
    '<section id="width-chart"><h2>Interval width over time</h2>',
    '<p class="how">How to read: the median over honest nodes of latest − earliest, the uncertainty each node admits. Narrower is a tighter guarantee; ' +
      'it widens while nodes cannot reach good sources (partitions, outages) and the drift bound grows.</p>',
    widthChart(report, timeline),
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
