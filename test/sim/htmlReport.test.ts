/**
 * Tests of the HTML report: built from a hand-made SimReport so they do not depend on the engine.
 * They check what a reader relies on (charts present, attackers marked, the tables' rows, escaping,
 * graceful nulls) and that the page is a pure function of the report.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatMetric, formatNs, formatSeconds, renderHtmlReport } from '../../sim/htmlReport.ts';
import { REPORT_SCHEMA, type AccuracyFigures, type SimReport } from '../../sim/reportTypes.ts';

function accuracy(scale: number): AccuracyFigures {
  return {
    errorNsP50: 12_300 * scale,
    errorNsP99: 85_000 * scale,
    errorNsMax: 1_200_000 * scale,
    convergenceS: 120 * scale,
    precisionNsMax: 150_000 * scale,
  };
}

function makeReport(): SimReport {
  const tS = [0, 10, 20, 30, 40, 50];
  return {
    schema: REPORT_SCHEMA,
    scenario: {
      name: 'constant-liar',
      description: 'Two liars claim +1 h',
      seed: '42',
      durationS: 60,
      nodes: 10,
      attack: { kind: 'constant', lieNs: 3.6e12 },
      network: { delayNsMin: 200_000, delayNsMax: 2_000_000 },
      partitions: [{ atS: 10, healS: 20, groups: [[0, 1]] }],
      convergenceThresholdNs: 1e6,
    },
    seed: '42',
    durationS: 60,
    statsFromS: 20,
    counts: { nodes: 10, honest: 8, byzantine: 2, anchors: 3 },
    honest: {
      ...accuracy(1),
      containment: 0.9995,
      containmentSamples: 2000,
      containmentMisses: 1,
      unsynchronizedSamples: 40,
      widthNsP50: 400_000,
      widthNsP99: 900_000,
      messagesPerNodePerMinute: 6.5,
    },
    convergenceS: 120,
    precisionNsMax: 150_000,
    baselines: { average: accuracy(1000), seedMedianBlend: accuracy(10) },
    events: {
      processed: 123_456,
      exchangesStarted: 1000,
      exchangesCompleted: 990,
      exchangesLost: 10,
      announcementsPublished: 50,
      falsetickerMarks: 7,
      referenceFalsetickerMarks: 0,
      hlcRejections: 3,
      noQuorumRounds: 0,
    },
    checks: [
      { metric: 'honest.errorNsP99', kind: 'max', limit: 1e6, value: 85_000, pass: true },
      { metric: 'honest.containment', kind: 'min', limit: 0.9999, value: 0.9995, pass: false },
    ],
    passed: false,
    series: {
      stepS: 10,
      tS,
      honestErrorNsP50: [5e7, 1e6, 2e4, 1.2e4, 1.1e4, 1.3e4],
      honestErrorNsP99: [9e7, 5e6, 9e4, 8e4, 8.5e4, 8.2e4],
      honestErrorNsMax: [1e8, 9e6, 2e5, 1e5, 1.2e6, 1e5],
      honestWidthNsP50: [null, 3e6, 5e5, 4e5, 4e5, 4e5],
      baselineAverageErrorNsP99: [9e7, 8e7, 7e7, 6e7, 5e7, 4e7],
      baselineSeedErrorNsP99: [9e7, 1e7, 1e6, 9e5, 8e5, 8e5],
      nodes: [
        {
          id: 'n0',
          role: 'anchor',
          errorNs: [0, 100, -50, 20, 0, 10],
          lowNs: [-1e3, -900, -1e3, -1e3, -1e3, -1e3],
          highNs: [1e3, 1e3, 1e3, 900, 1e3, 1e3],
        },
        {
          id: 'n5',
          role: 'honest',
          errorNs: [-5e7, 2e5, null, -1e4, 5e3, 2e3],
          lowNs: [null, -1e6, null, -4e5, -4e5, -4e5],
          highNs: [null, 1e6, null, 4e5, 4e5, 4e5],
        },
        {
          id: 'n9',
          role: 'byzantine',
          errorNs: [3.6e12, 3.6e12, 3.6e12, 3.6e12, 3.6e12, 3.6e12],
          lowNs: [3.6e12 - 1e3, 3.6e12 - 1e3, 3.6e12 - 1e3, 3.6e12 - 1e3, 3.6e12 - 1e3, 3.6e12 - 1e3],
          highNs: [3.6e12 + 1e3, 3.6e12 + 1e3, 3.6e12 + 1e3, 3.6e12 + 1e3, 3.6e12 + 1e3, 3.6e12 + 1e3],
        },
      ],
    },
  };
}

/** A report whose every optional figure is null and whose series are empty. */
function makeEmptyReport(): SimReport {
  const report = makeReport();
  const nulls: AccuracyFigures = {
    errorNsP50: null,
    errorNsP99: null,
    errorNsMax: null,
    convergenceS: null,
    precisionNsMax: null,
  };
  return {
    ...report,
    honest: {
      ...report.honest,
      ...nulls,
      containment: null,
      containmentSamples: 0,
      containmentMisses: 0,
      widthNsP50: null,
      widthNsP99: null,
    },
    convergenceS: null,
    precisionNsMax: null,
    baselines: { average: nulls, seedMedianBlend: nulls },
    checks: [],
    passed: true,
    series: {
      stepS: 10,
      tS: [],
      honestErrorNsP50: [],
      honestErrorNsP99: [],
      honestErrorNsMax: [],
      honestWidthNsP50: [],
      baselineAverageErrorNsP99: [],
      baselineSeedErrorNsP99: [],
      nodes: [],
    },
  };
}

function tableRow(html: string, rowStart: string): string {
  const start = html.indexOf(rowStart);
  assert.notEqual(start, -1, `row starting ${rowStart} not found`);
  return html.slice(start, html.indexOf('</tr>', start));
}

describe('renderHtmlReport', () => {
  it('is a self-contained page with one inline SVG per chart', () => {
    const html = renderHtmlReport(makeReport());
    assert.match(html, /^<!DOCTYPE html>/);
    assert.equal((html.match(/<svg /g) ?? []).length, 3);
    for (const id of ['honest-error', 'node-traces', 'interval-width']) {
      assert.ok(
        html.includes(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${id}"`),
        id,
      );
    }
    // Nothing is fetched: no scripts, no external stylesheets, fonts or images.
    assert.doesNotMatch(html, /<script|<link|@import|url\(|src=/i);
    assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('draws the |error| chart with the baselines and labelled log ticks', () => {
    const html = renderHtmlReport(makeReport());
    const svg = html.slice(html.indexOf('data-chart="honest-error"'), html.indexOf('</svg>'));
    for (const label of [
      'timemesh p50',
      'timemesh p99',
      'timemesh max',
      'baseline average p99',
      'baseline seed median-blend p99',
    ]) {
      assert.ok(svg.includes(`>${label}</text>`), `legend entry ${label}`);
    }
    // Decade ticks from the smallest to the largest value: 10 µs … 100 ms.
    for (const tick of ['10 µs', '100 µs', '1 ms', '10 ms', '100 ms'])
      assert.ok(svg.includes(`>${tick}</text>`), tick);
    assert.ok(svg.includes('convergence threshold'));
    assert.ok(svg.includes('statistics from here'));
  });

  it('marks byzantine traces red and dashed, and draws interval bands', () => {
    const html = renderHtmlReport(makeReport());
    const svg = html.slice(html.indexOf('data-chart="node-traces"'));
    const byzantineLine =
      /<path [^>]*stroke="(#[0-9a-f]{6})"[^>]*stroke-dasharray="7 4"[^>]*data-role="byzantine"/.exec(svg);
    assert.ok(byzantineLine, 'a dashed byzantine line');
    assert.equal(byzantineLine[1], '#d62728');
    assert.ok(svg.includes('>n9 (byzantine)</text>'));
    assert.ok(svg.includes('>n0 (anchor)</text>'));
    assert.doesNotMatch(svg.slice(0, svg.indexOf('</svg>')), /data-role="honest"[^>]*stroke-dasharray/);
    assert.equal((svg.slice(0, svg.indexOf('</svg>')).match(/class="band"/g) ?? []).length, 3);
  });

  it('breaks lines at null samples instead of drawing them as zero', () => {
    const html = renderHtmlReport(makeReport());
    const svg = html.slice(html.indexOf('data-chart="node-traces"'));
    const honest = /<path d="([^"]*)"[^>]*class="line" data-role="honest"/.exec(svg);
    assert.ok(honest);
    // n5 has a null at index 2: two subpaths.
    assert.equal((honest[1]?.match(/M/g) ?? []).length, 2);
  });

  it('puts timemesh and both baselines side by side with the factor', () => {
    const html = renderHtmlReport(makeReport());
    const p99 = tableRow(html, '<tr data-metric="errorNsP99">');
    assert.ok(p99.includes('<td>85 µs</td>'), p99);
    assert.ok(p99.includes('<td>85 ms</td>'), p99); // average, 1000× worse
    assert.ok(p99.includes('>×1,000<'), p99);
    assert.ok(p99.includes('<td>850 µs</td>'), p99);
    assert.ok(p99.includes('>×10<'), p99);
    const convergence = tableRow(html, '<tr data-metric="convergenceS">');
    assert.ok(convergence.includes('<td>2 min</td>'), convergence);
    assert.ok(tableRow(html, '<tr data-metric="errorNsP50">').includes('<td>12.3 µs</td>'));
    assert.ok(tableRow(html, '<tr data-metric="errorNsMax">').includes('<td>1.2 ms</td>'));
    assert.ok(html.includes('99.95 % (1 misses in 2,000 samples)'));
    assert.ok(tableRow(html, '<tr><th scope="row">messages per node per minute').includes('<td>6.5</td>'));
    assert.ok(tableRow(html, '<tr><th scope="row">interval width p50').includes('<td>400 µs</td>'));
  });

  it('colours checks by result and shows the verdict', () => {
    const html = renderHtmlReport(makeReport());
    const failing = tableRow(html, '<tr class="fail"><td><code>honest.containment');
    assert.ok(failing.includes('≥ 99.99 %'), failing);
    assert.ok(failing.includes('>FAIL</td>'), failing);
    const passing = tableRow(html, '<tr class="pass"><td><code>honest.errorNsP99');
    assert.ok(passing.includes('≤ 1 ms'), passing);
    assert.ok(html.includes('FAILED (1 of 2 checks)'));
  });

  it('lists the scenario parameters with readable units', () => {
    const html = renderHtmlReport(makeReport());
    assert.ok(
      html.includes('<dt>network.delayNsMin</dt><dd><code>200000</code> <span class="hint">(200 µs)</span>'),
    );
    assert.ok(html.includes('<dt>attack.kind</dt><dd><code>constant</code>'));
    assert.ok(
      html.includes(
        '<dt>partitions[0]</dt><dd><code>{&quot;atS&quot;:10,&quot;healS&quot;:20,&quot;groups&quot;:[[0,1]]}</code>',
      ),
    );
  });

  it('escapes every string taken from the report', () => {
    const report = makeReport();
    report.scenario = { ...report.scenario, name: '<script>alert("x")</script>', description: 'a & b' };
    report.series.nodes[0] = { ...report.series.nodes[0]!, id: '"><img src=x onerror=alert(1)>' };
    report.checks[0] = { ...report.checks[0]!, metric: '<b>m</b>' };
    const html = renderHtmlReport(report);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<img/i);
    assert.doesNotMatch(html, /<b>m<\/b>/);
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));
    assert.ok(html.includes('a &amp; b'));
  });

  it('handles null figures and empty series', () => {
    const html = renderHtmlReport(makeEmptyReport());
    assert.equal((html.match(/<svg /g) ?? []).length, 0);
    assert.ok(html.includes('No honest |error| samples were recorded.'));
    assert.ok(html.includes('No node traces were recorded.'));
    assert.ok(html.includes('No checks were configured for this run.'));
    assert.ok(tableRow(html, '<tr data-metric="convergenceS">').includes('<td>never</td>'));
    assert.ok(tableRow(html, '<tr data-metric="errorNsP99">').includes('<td>—</td>'));
    assert.doesNotMatch(html, /NaN|Infinity|undefined/);
  });

  it('handles all-null series and a single sample', () => {
    const report = makeEmptyReport();
    report.series = {
      ...report.series,
      tS: [10],
      honestErrorNsP50: [null],
      honestErrorNsP99: [0],
      honestErrorNsMax: [null],
      honestWidthNsP50: [null],
      baselineAverageErrorNsP99: [null],
      baselineSeedErrorNsP99: [null],
      nodes: [{ id: 'n1', role: 'honest', errorNs: [null], lowNs: [null], highNs: [null] }],
    };
    const html = renderHtmlReport(report);
    // One zero sample still makes a chart (drawn as a dot at the bottom); all-null ones do not.
    assert.ok(html.includes('data-chart="honest-error" role="img"'));
    assert.ok(html.includes('h0"'));
    assert.ok(html.includes('No node traces were recorded.'));
    assert.ok(html.includes('No interval widths were recorded'));
    assert.doesNotMatch(html, /NaN|Infinity|undefined/);
  });

  it('reduces very long series but keeps their extremes', () => {
    const report = makeReport();
    const n = 50_000;
    const tS = Array.from({ length: n }, (_, i) => i);
    const spike = 31_337;
    report.series = {
      ...report.series,
      tS,
      honestErrorNsP50: tS.map((i) => (i === spike ? 5e9 : 1e4)),
      honestErrorNsP99: tS.map(() => 2e4),
      honestErrorNsMax: tS.map(() => 3e4),
      honestWidthNsP50: tS.map(() => 1e5),
      baselineAverageErrorNsP99: tS.map(() => 1e6),
      baselineSeedErrorNsP99: tS.map(() => 1e6),
      nodes: [],
    };
    const html = renderHtmlReport(report);
    assert.ok(html.length < 1_000_000, `page is ${html.length} bytes`);
    // The spike sets the top decade of the axis, so it survived the reduction.
    const svg = html.slice(html.indexOf('data-chart="honest-error"'), html.indexOf('</svg>'));
    assert.ok(svg.includes('>10 s</text>'));
  });

  it('is deterministic', () => {
    assert.equal(renderHtmlReport(makeReport()), renderHtmlReport(makeReport()));
    assert.equal(renderHtmlReport(makeEmptyReport()), renderHtmlReport(makeEmptyReport()));
  });
});

describe('number formatting', () => {
  it('formats nanoseconds humanely', () => {
    assert.equal(formatNs(850), '850 ns');
    assert.equal(formatNs(12_345), '12.3 µs');
    assert.equal(formatNs(1_200_000), '1.2 ms');
    assert.equal(formatNs(999_960), '1 ms');
    assert.equal(formatNs(-2.5e9), '−2.5 s');
    assert.equal(formatNs(3.6e12), '1 h');
    assert.equal(formatNs(0), '0');
    assert.equal(formatNs(null), '—');
  });

  it('formats seconds and metrics by their unit', () => {
    assert.equal(formatSeconds(0.5), '500 ms');
    assert.equal(formatSeconds(45), '45 s');
    assert.equal(formatSeconds(90), '1.5 min');
    assert.equal(formatSeconds(754), '12.6 min');
    assert.equal(formatMetric('honest.errorNsP99', 85_000), '85 µs');
    assert.equal(formatMetric('baselines.average.convergenceS', 30), '30 s');
    assert.equal(formatMetric('honest.containment', 0.99999), '99.9990 %');
    assert.equal(formatMetric('honest.containment', 0.9999), '99.99 %');
    assert.equal(formatMetric('honest.containment', 1), '100 %');
    assert.equal(formatMetric('events.processed', 1_234_567), '1,234,567');
    assert.equal(formatMetric('honest.messagesPerNodePerMinute', 6.25), '6.25');
  });
});
