/**
 * Tests of the HTML report: built from a hand-made SimReport so they do not depend on the engine.
 * They check what a reader relies on (charts present, attackers marked, the tables' rows, escaping,
 * graceful nulls) and that the page is a pure function of the report.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatMetric,
  formatNs,
  formatSeconds,
  renderHtmlReport,
  timelineEvents,
} from '../../sim/htmlReport.ts';
import { REPORT_SCHEMA, type AccuracyFigures, type SimReport } from '../../sim/reportTypes.ts';
import { resolveScenario } from '../../sim/scenario.ts';
import { simulate } from '../../sim/simulator.ts';

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
      crashes: [
        { node: 5, atS: 30, restartS: 40 },
        { node: 6, atS: 30, restartS: 40 },
      ],
      anchorFaults: [{ anchor: 1, atS: 20, untilS: null, kind: 'step', stepNs: 1e9 }],
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

/** The SVG of one chart, from its opening tag to its closing one. */
function chartSvg(html: string, id: string): string {
  const start = html.indexOf(`data-chart="${id}"`);
  assert.notEqual(start, -1, `chart ${id} not found`);
  return html.slice(start, html.indexOf('</svg>', start));
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
    // The |error| chart, one panel per traced honest node or anchor, the attackers' panel, the widths.
    const ids = ['honest-error', 'node-n0', 'node-n5', 'attackers', 'interval-width'];
    assert.equal((html.match(/<svg /g) ?? []).length, ids.length, 'one SVG per chart');
    for (const id of ids) {
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

  it('marks attackers red, dashed and labelled, in their own panel', () => {
    const html = renderHtmlReport(makeReport());
    const svg = chartSvg(html, 'attackers');
    const byzantineLine =
      /<path [^>]*stroke="(#[0-9a-f]{6})"[^>]*stroke-dasharray="7 4"[^>]*data-role="byzantine"/.exec(svg);
    assert.ok(byzantineLine, 'a dashed byzantine line');
    assert.equal(byzantineLine[1], '#d62728');
    assert.ok(svg.includes('class="legend attacker">n9 (byzantine): ATTACKER</text>'), 'legend labels n9');
    assert.ok(
      svg.includes('class="panel-title attacker">ATTACKERS: what the traced attacker claims</text>'),
      'title',
    );
    const section = html.slice(
      html.indexOf('<div class="attackers">'),
      html.indexOf('data-chart="attackers"'),
    );
    assert.ok(
      section.includes('constant: every answer is 1 h ahead of true time.'),
      `attack text: ${section}`,
    );
    // No honest panel carries an attacker's mark, and no honest line is dashed.
    for (const id of ['node-n0', 'node-n5']) {
      const panel = chartSvg(html, id);
      assert.ok(!panel.includes('ATTACKER') && !panel.includes('byzantine'), `${id} has no attacker`);
      assert.doesNotMatch(panel, /class="line"[^>]*stroke-dasharray|stroke-dasharray[^>]*class="line"/);
    }
  });

  it('draws one panel per traced honest node and anchor, with its interval band', () => {
    const html = renderHtmlReport(makeReport());
    const n0 = chartSvg(html, 'node-n0');
    const n5 = chartSvg(html, 'node-n5');
    assert.ok(n0.includes('class="panel-title">n0: anchor (has a reference clock)</text>'), 'n0 title');
    assert.ok(n5.includes('class="panel-title">n5: honest node</text>'), 'n5 title');
    for (const [id, panel, runs] of [
      ['n0', n0, 1],
      ['n5', n5, 2], // null band at indices 0 and 2: runs [1] and [3, 5]
    ] as const) {
      const band =
        /<path d="([^"]+)" fill="(#[0-9a-f]{6})" fill-opacity="[\d.]+" stroke="none" class="band" data-role="(\w+)"/.exec(
          panel,
        );
      assert.ok(band, `${id} has a band path`);
      assert.equal((band[1]!.match(/Z/g) ?? []).length, runs, `${id} band has ${runs} closed run(s)`);
      assert.equal(band[3], id === 'n0' ? 'anchor' : 'honest', `${id} band role`);
      // The band and the line are the node's colour, and the legend explains the band.
      assert.ok(panel.includes(`stroke="${band[2]}"`), `${id} line in the band's colour`);
      assert.ok(panel.includes('>interval: [earliest − true, latest − true]</text>'), `${id} band legend`);
      assert.ok(panel.includes('>0</text>'), `${id} has a zero tick (true time)`);
    }
    // One shared y axis: the panels' tick labels are identical, so panels can be compared.
    const ticks = (svg: string) => [...svg.matchAll(/class="ytick">([^<]*)</g)].map((m) => m[1]);
    assert.deepEqual(ticks(n0), ticks(n5), 'shared y axis');
    // The anchor's ±1 µs band alone would give a µs axis: the shared one reaches n5's −50 ms start.
    assert.ok(ticks(n0).includes('−10 ms'), `n0's axis is n5's: ${ticks(n0).join(', ')}`);
  });

  it('breaks lines at null samples instead of drawing them as zero', () => {
    const html = renderHtmlReport(makeReport());
    const svg = chartSvg(html, 'node-n5');
    const honest = /<path d="([^"]*)"[^>]*class="line" data-role="honest"/.exec(svg);
    assert.ok(honest, 'n5 line');
    // n5 has a null at index 2: two subpaths.
    assert.equal((honest[1]?.match(/M/g) ?? []).length, 2, 'two subpaths');
  });

  it('lists the scenario events and shades them, tagged, on every time chart', () => {
    const report = makeReport();
    const events = timelineEvents(report);
    assert.deepEqual(
      events.map((e) => [e.tag, e.fromS, e.toS, e.what]),
      [
        ['A', 10, 20, 'partition into groups of 2 | 8 nodes'],
        ['B', 30, 40, 'n0005 crashed, then restarted'],
        ['C', 30, 40, 'n0006 crashed, then restarted'],
        ['D', 20, 60, 'anchor n0001: its reference clock reads 1 s off'],
      ],
    );
    const html = renderHtmlReport(report);
    assert.ok(
      html.includes('<td class="what">anchor n0001: its reference clock reads 1 s off</td>'),
      'timeline',
    );
    for (const id of ['honest-error', 'node-n0', 'node-n5', 'attackers', 'interval-width']) {
      const svg = chartSvg(html, id);
      // Three stripes: B and C cover the same stretch and share one, tagged "B C".
      assert.equal((svg.match(/class="span"/g) ?? []).length, 3, `${id} stripes`);
      for (const tag of ['A', 'B C', 'D'])
        assert.ok(svg.includes(`class="span-label">${tag}</text>`), `${id} tag ${tag}`);
    }
  });

  it('opens with a headline, the checks, then the baselines table', () => {
    const html = renderHtmlReport(makeReport());
    const headline = html.slice(
      html.indexOf('<p class="headline">'),
      html.indexOf('</p>', html.indexOf('<p class="headline">')),
    );
    assert.ok(headline.includes('<strong>85 µs</strong> with timemesh'), headline);
    assert.ok(headline.includes('85 ms (×1,000 worse) with the average baseline'), headline);
    assert.ok(headline.includes('850 µs (×10 worse) with the seed median-blend'), headline);
    assert.ok(headline.includes('99.95 %'), headline);
    const order = [
      'class="verdict',
      '<p class="headline">',
      '<table class="checks">',
      '<table class="summary">',
      'data-chart="honest-error"',
    ];
    const at = order.map((marker) => html.indexOf(marker));
    assert.ok(
      at.every((i, k) => i !== -1 && (k === 0 || i > at[k - 1]!)),
      `summary order ${at.join(', ')}`,
    );
    // Both baselines' columns are named in the table header.
    const head = html.slice(
      html.indexOf('<table class="summary">'),
      html.indexOf('</thead>', html.indexOf('<table class="summary">')),
    );
    assert.ok(head.includes('>baseline: average<') && head.includes('>baseline: seed median-blend<'), head);
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
    report.series.nodes[2] = { ...report.series.nodes[2]!, id: '<i>liar</i>' };
    report.checks[0] = { ...report.checks[0]!, metric: '<b>m</b>' };
    report.scenario['attack'] = { kind: '<script>x</script>' };
    report.scenario['crashes'] = [{ node: '<img src=y>', atS: 1, restartS: 2 }];
    report.events = { ...report.events, ['<img src=z>' as 'processed']: 1 };
    const html = renderHtmlReport(report);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<img/i);
    assert.doesNotMatch(html, /<i>liar/);
    assert.ok(html.includes('&lt;img src=y&gt; crashed'), 'crash node escaped in the timeline');
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

  it('gives a byte-identical page for the same seed from two real simulator runs', () => {
    const run = (seed: string) =>
      renderHtmlReport(
        simulate(
          resolveScenario(
            {
              name: 'html-determinism',
              seed,
              nodes: 10,
              anchors: 2,
              byzantine: 2,
              attack: { kind: 'two-faced' },
              duration: '3m',
              crashes: [{ node: 3, atS: 60, restartS: 90 }],
            },
            'test',
          ),
        ),
      );
    const first = run('html-1');
    assert.equal(first, run('html-1'), 'same seed, same bytes');
    assert.notEqual(first, run('html-2'), 'another seed, another page');
    // And the page of a real run has what a reader needs: the panels, the attackers, the event.
    for (const id of ['node-n0000', 'node-n0001', 'node-n0002', 'attackers']) {
      assert.ok(first.includes(`data-chart="${id}"`), `real run has chart ${id}`);
    }
    assert.ok(first.includes('n0003 crashed, then restarted'), 'real run lists the crash');
    assert.ok(first.length < 400_000, `page is ${first.length} bytes`);
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
