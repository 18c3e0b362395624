// The node's dashboard (issue #6): plain browser JavaScript (ES2020, a classic script, no build step).
// It polls this node's own API once a second and draws with uPlot (the global from /assets/uplot.min.js).
// It requests nothing from any other origin.
//
// Data flow:
// - on load: /v1/history?seconds=600 (the node samples itself once a second, so the chart starts with
//   up to ten minutes of past); then every second /v1/status, /v1/peers, /v1/time, and /v1/history for
//   the seconds since the last poll, appending points newer than the newest one held;
// - per-source offsets exist only as "now" in /v1/peers, so their chart is collected in the page.
//
// Units: the API gives ns (absolute times and the history as decimal strings, offsets in /v1/peers as
// numbers). Charts plot ms against seconds since the epoch (uPlot's time axis). Everything shown that
// came from the network is set with textContent, never parsed as HTML.
//
// For the browser test, window.__timemeshDashboard says how much has been drawn:
// { points, peers, peerSamples, updates, lastError }.
'use strict';

(function () {
  const POLL_MS = 1000;
  const HISTORY_INITIAL_S = 600;
  const HISTORY_MAX_S = 3600;
  /** Points kept per chart (10 min at 1 Hz). */
  const WINDOW_POINTS = 600;
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];

  const state = {
    points: 0,
    peers: 0,
    peerSamples: 0,
    updates: 0,
    lastError: null,
  };
  window.__timemeshDashboard = state;

  const $ = (id) => document.getElementById(id);

  // ---- formatting ----------------------------------------------------------------------------------

  /** A duration or offset in ns as text with a fitting unit, e.g. "-1.234 ms", "850 ns". */
  function fmtNs(ns, signed) {
    if (ns === null || ns === undefined || !Number.isFinite(ns)) return '—';
    const sign = ns < 0 ? '−' : signed && ns > 0 ? '+' : '';
    const a = Math.abs(ns);
    // Four significant digits, trailing zeros dropped: "1.235 ms", "1.5 ms", "850 ns".
    const digits = (x) => String(Number(x.toPrecision(4)));
    let text;
    if (a < 1e3) text = `${a.toFixed(0)} ns`;
    else if (a < 1e6) text = `${digits(a / 1e3)} µs`;
    else if (a < 1e9) text = `${digits(a / 1e6)} ms`;
    else text = `${digits(a / 1e9)} s`;
    return sign + text;
  }

  /** A y-axis tick (ms) with a fitting unit. */
  function fmtAxisMs(ms) {
    return ms === 0 ? '0' : fmtNs(ms * 1e6, true);
  }

  /** ns since the epoch (decimal string) → ISO-8601 with 9 fractional digits. */
  function isoFromNsString(s) {
    const ns = BigInt(s);
    const ms = ns / 1000000n;
    const frac = (ns % 1000000000n).toString().padStart(9, '0');
    return new Date(Number(ms)).toISOString().slice(0, 19) + '.' + frac + 'Z';
  }

  /** Seconds since the epoch as a float, from a decimal ns string (exact to well under a µs). */
  function secondsFromNsString(s) {
    return Number(BigInt(s) / 1000n) / 1e6;
  }

  /** libp2p peer ids are long: first 6 and last 6 characters. Reference ids (ntp://…) stay whole. */
  function shortId(id) {
    if (/^(12D3Koo|Qm)/.test(id) && id.length > 16) return `${id.slice(0, 6)}…${id.slice(-6)}`;
    return id;
  }

  const STATUS_NOTES = {
    unsynchronized: 'no source combined yet: no bound on the error',
    synchronized: 'follows the mesh, no anchored source',
    holdover: 'lost its sources: coasting on its last frequency, bound growing',
    anchored: 'traceable to a reference (GPS, PPS, NTP, TSQ or a local stratum)',
  };

  function setText(id, text, title) {
    const el = $(id);
    el.textContent = text;
    if (title !== undefined) el.title = title;
  }

  // ---- charts --------------------------------------------------------------------------------------

  function chartWidth(el) {
    return Math.max(320, el.clientWidth || 800);
  }

  const yAxis = (label) => ({
    label,
    size: 70,
    values: (_u, splits) => splits.map(fmtAxisMs),
  });

  /** The newest non-null value of a series (what the legend shows while the cursor is off the chart). */
  function newest(col) {
    for (let i = col.length - 1; i >= 0; i--) if (col[i] !== null && col[i] !== undefined) return col[i];
    return null;
  }

  const BAND_STROKE = 'rgba(31,95,191,0.35)';
  const NO_POINTS = { show: false };
  /** A chart's x axis spans at least this long (s), so a fresh page does not label sub-seconds. */
  const X_SPAN_MIN_S = 60;
  const xRange = (_u, min, max) =>
    min === null || max === null ? [min, max] : [Math.min(min, max - X_SPAN_MIN_S), max];
  /** The time series (x): the legend shows the hovered time, or the newest one. */
  const timeSeries = {
    label: 'time',
    value: (u, v, _sidx, idx) => {
      const shown = idx === null || idx === undefined ? newest(u.data[0]) : v;
      return shown === null || shown === undefined ? '—' : new Date(shown * 1000).toLocaleTimeString();
    },
  };

  const legendValue = (u, v, sidx, idx) => {
    const shown = idx === null || idx === undefined ? newest(u.data[sidx]) : v;
    return shown === null || shown === undefined ? '—' : fmtNs(shown * 1e6, true);
  };

  // x (s), offset while synchronized (ms), lower and upper edge of the band (ms), offset while
  // unsynchronized (ms, grey: the node's free-running clock, no bound).
  const offsetData = [[], [], [], [], []];
  /** Whether the y scale also fits the unsynchronized samples (a start far off hides the band). */
  let fitUnsynchronized = false;

  /** The y range: the synchronized samples and their band (unless asked otherwise), padded. */
  function offsetRange(_u, dataMin, dataMax) {
    let lo = Infinity;
    let hi = -Infinity;
    const cols = fitUnsynchronized ? [1, 2, 3, 4] : [1, 2, 3];
    for (const c of cols) {
      for (const v of offsetData[c]) {
        if (v === null) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (lo === Infinity) {
      lo = dataMin;
      hi = dataMax;
    }
    if (lo === null || hi === null || !Number.isFinite(lo) || !Number.isFinite(hi)) return [-1, 1];
    return window.uPlot.rangeNum(lo, hi, 0.1, true);
  }
  let lastHistoryAtNs = null;
  let lastHistoryPollMs = 0;
  let latestPoint = null;

  const offsetEl = $('offset-chart');
  const offsetChart = new window.uPlot(
    {
      width: chartWidth(offsetEl),
      height: 260,
      scales: { x: { time: true, range: xRange }, y: { range: offsetRange } },
      series: [
        timeSeries,
        { label: 'offset', stroke: '#1f5fbf', width: 2, value: legendValue, points: { show: false } },
        {
          label: 'offset − uncertainty',
          stroke: BAND_STROKE,
          width: 1,
          value: legendValue,
          points: NO_POINTS,
        },
        {
          label: 'offset + uncertainty',
          stroke: BAND_STROKE,
          width: 1,
          value: legendValue,
          points: NO_POINTS,
        },
        {
          label: 'offset (unsynchronized)',
          stroke: '#9aa3b2',
          width: 2,
          dash: [6, 4],
          value: legendValue,
          points: { show: false },
        },
      ],
      bands: [{ series: [3, 2], fill: 'rgba(31,95,191,0.15)' }],
      axes: [{}, yAxis('node − host clock')],
    },
    offsetData,
    offsetEl,
  );

  function appendHistory(points) {
    for (const p of points) {
      const atNs = BigInt(p.atNs);
      if (lastHistoryAtNs !== null && atNs <= lastHistoryAtNs) continue;
      lastHistoryAtNs = atNs;
      const offMs = Number(BigInt(p.offsetNs)) / 1e6;
      const uMs = p.uncertaintyNs === null ? null : Number(BigInt(p.uncertaintyNs)) / 1e6;
      const synced = p.status !== 'unsynchronized';
      offsetData[0].push(secondsFromNsString(p.atNs));
      offsetData[1].push(synced ? offMs : null);
      offsetData[2].push(uMs === null ? null : offMs - uMs);
      offsetData[3].push(uMs === null ? null : offMs + uMs);
      offsetData[4].push(synced ? null : offMs);
      latestPoint = p;
    }
    const excess = offsetData[0].length - WINDOW_POINTS;
    if (excess > 0) for (const col of offsetData) col.splice(0, excess);
    state.points = offsetData[0].length;
    offsetChart.setData(offsetData);
  }

  $('fit-unsync').addEventListener('change', (ev) => {
    fitUnsynchronized = ev.target.checked;
    offsetChart.setData(offsetData);
  });

  // The per-source chart: one series per source id, rebuilt when a new source appears.
  const peerEl = $('peer-chart');
  const peerIds = [];
  const peerData = [[]];
  let peerChart = null;

  function buildPeerChart() {
    if (peerChart !== null) peerChart.destroy();
    peerChart = new window.uPlot(
      {
        width: chartWidth(peerEl),
        height: 260,
        scales: { x: { time: true, range: xRange } },
        series: [
          timeSeries,
          ...peerIds.map((id, i) => ({
            label: shortId(id),
            stroke: PALETTE[i % PALETTE.length],
            width: 1.5,
            value: legendValue,
            spanGaps: false,
          })),
        ],
        axes: [{}, yAxis('source − node')],
      },
      peerData,
      peerEl,
    );
  }

  /**
   * best − raw oscillator from the newest history point: /v1/peers gives offsets against the raw
   * oscillator, and source − node time = offsetNs − correctionNs.
   */
  function correctionNs() {
    return latestPoint === null ? 0 : Number(BigInt(latestPoint.correctionNs));
  }

  function appendPeers(time, peers) {
    const correction = correctionNs();
    let added = false;
    for (const p of peers.peers) {
      if (!peerIds.includes(p.id)) {
        peerIds.push(p.id);
        peerData.push(peerData[0].map(() => null));
        added = true;
      }
    }
    peerData[0].push(secondsFromNsString(time.bestNs));
    peerIds.forEach((id, i) => {
      const p = peers.peers.find((q) => q.id === id);
      const v = p === undefined || p.offsetNs === null ? null : (p.offsetNs - correction) / 1e6;
      peerData[i + 1].push(v);
    });
    const excess = peerData[0].length - WINDOW_POINTS;
    if (excess > 0) for (const col of peerData) col.splice(0, excess);
    state.peerSamples = peerData[0].length;
    if (added || peerChart === null) buildPeerChart();
    else peerChart.setData(peerData);
  }

  window.addEventListener('resize', () => {
    offsetChart.setSize({ width: chartWidth(offsetEl), height: 260 });
    if (peerChart !== null) peerChart.setSize({ width: chartWidth(peerEl), height: 260 });
  });

  // ---- header, table, refclocks ------------------------------------------------------------------

  function renderTime(time, status) {
    const st = $('status');
    st.textContent = time.status;
    st.className = `status status-${time.status}`;
    setText('status-note', STATUS_NOTES[time.status] || '');
    setText('uncertainty', time.uncertaintyNs === null ? 'unbounded' : fmtNs(Number(time.uncertaintyNs)));
    setText('stratum', String(time.stratum), time.stratum === 16 ? '16: unsynchronized, as in NTP' : '');
    setText('anchor', `anchor: ${time.anchorKind}`);
    setText(
      'oscillator',
      `poll ${status.pollIntervalS} s · frequency ${status.frequencyPpm >= 0 ? '+' : '−'}${Math.abs(
        status.frequencyPpm,
      ).toFixed(3)} ppm`,
    );
    setText('best', time.best.replace('T', ' '), `${time.bestNs} ns since the Unix epoch`);
    setText('hlc', time.hlc === null ? 'stalled (waiting for persistence)' : time.hlc);
    setText('peer-id', status.peerId, (status.multiaddrs || []).join('\n'));
    document.title = `timemesh ${time.status} · ${shortId(status.peerId)}`;
    if (latestPoint !== null) {
      setText(
        'offset',
        fmtNs(Number(BigInt(latestPoint.offsetNs)), true),
        `at ${isoFromNsString(latestPoint.atNs)} (node time)`,
      );
    }
    const r = status.lastRound;
    if (r === null) {
      setText('round', 'none yet');
      setText('round-note', '');
    } else {
      setText(
        'round',
        `n=${r.n} f=${r.f} · ${r.truechimers.length} truechimers · ${r.falsetickers.length} falsetickers`,
      );
      const ftTitle = r.falsetickers.length > 0 ? `falsetickers: ${r.falsetickers.join(', ')}` : '';
      setText('round-note', `${r.basis}, ${r.agoS.toFixed(1)} s ago: ${r.message}`, ftTitle);
      $('round').classList.toggle('bad', r.falsetickers.length > 0);
    }
  }

  function cell(tr, text, opts) {
    const td = document.createElement('td');
    td.textContent = text;
    if (opts && opts.title) td.title = opts.title;
    if (opts && opts.cls) td.className = opts.cls;
    tr.appendChild(td);
    return td;
  }

  function renderPeers(peers) {
    const tbody = $('peer-rows');
    const correction = correctionNs();
    const rows = [];
    for (const p of peers.peers) {
      const tr = document.createElement('tr');
      tr.dataset.testid = 'peer-row';
      tr.dataset.peerId = p.id;
      let sym;
      const stateWords = [];
      if (p.selected) stateWords.push('selected');
      if (p.falseticker) stateWords.push('falseticker');
      if (p.excluded) stateWords.push(`excluded (${p.excludedReason}, ${p.excludedForS} s left)`);
      if (p.excluded) sym = 'x';
      else if (p.falseticker) sym = '!';
      else if (p.selected) sym = '*';
      else sym = '·';
      if (p.falseticker) tr.classList.add('falseticker');
      if (p.excluded) tr.classList.add('excluded');
      cell(tr, sym, { cls: 'sym', title: stateWords.join(', ') || 'known, not measured this round' });
      cell(tr, shortId(p.id), { title: p.id, cls: 'mono' });
      cell(tr, p.kind);
      const offset = p.offsetNs === null ? null : p.offsetNs - correction;
      cell(tr, fmtNs(offset, true), {
        cls: 'num',
        title: p.offsetNs === null ? '' : `against the raw oscillator: ${fmtNs(p.offsetNs, true)}`,
      });
      cell(tr, fmtNs(p.delayNs), { cls: 'num' });
      cell(tr, fmtNs(p.jitterNs), { cls: 'num' });
      cell(tr, fmtNs(p.rootDistanceNs), { cls: 'num' });
      cell(tr, String(p.stratum), { cls: 'num' });
      cell(tr, p.anchorKind);
      cell(tr, p.reachOctal.padStart(3, '0'), { cls: 'num mono', title: `reach register ${p.reach}` });
      cell(tr, p.lastSeenAgoS === null ? 'never' : `${p.lastSeenAgoS.toFixed(1)} s ago`, { cls: 'num' });
      cell(tr, p.score === undefined || p.score === null ? '—' : p.score.toFixed(2), { cls: 'num' });
      rows.push(tr);
    }
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      tr.className = 'empty';
      const td = cell(tr, 'no sources yet: the node has not measured any peer or reference');
      td.colSpan = 12;
      rows.push(tr);
    }
    tbody.replaceChildren(...rows);
    state.peers = peers.peers.length;
  }

  /** One card per local reference clock: its scalar fields, and lastSample / lastAction flattened. */
  function renderRefclocks(status) {
    const section = $('refclocks');
    const items = [];
    const rc = status.refclocks || {};
    if (rc.gps) items.push(['GPS (NMEA)', rc.gps]);
    if (rc.pps) items.push(['PPS', rc.pps]);
    if (status.systemClock) items.push(['System clock discipline', status.systemClock]);
    section.hidden = items.length === 0;
    if (items.length === 0) return;
    const cards = items.map(([title, obj]) => {
      const card = document.createElement('div');
      card.className = 'card refclock';
      const h = document.createElement('h3');
      h.textContent = title;
      const dl = document.createElement('dl');
      for (const [k, v] of Object.entries(obj)) {
        if (v !== null && typeof v === 'object') {
          for (const [k2, v2] of Object.entries(v)) addField(dl, `${k}.${k2}`, v2);
        } else addField(dl, k, v);
      }
      card.append(h, dl);
      return card;
    });
    $('refclock-cards').replaceChildren(...cards);
  }

  function addField(dl, key, value) {
    const dt = document.createElement('dt');
    dt.textContent = key;
    const dd = document.createElement('dd');
    if (typeof value === 'number' && /Ns$/.test(key)) dd.textContent = fmtNs(value, /offset/i.test(key));
    else
      dd.textContent =
        value === null ? '—' : typeof value === 'object' ? JSON.stringify(value) : String(value);
    dl.append(dt, dd);
  }

  // ---- polling -------------------------------------------------------------------------------------

  async function getJson(path) {
    const res = await fetch(path, { cache: 'no-store', headers: { accept: 'application/json' } });
    if (!res.ok) {
      let message = `${res.status}`;
      try {
        message = `${res.status}: ${(await res.json()).message}`;
      } catch {
        // not JSON: keep the status
      }
      throw new Error(`${path} answered ${message}`);
    }
    return res.json();
  }

  function setConnection(ok, text) {
    const el = $('conn');
    el.textContent = text;
    el.className = ok ? 'conn ok' : 'conn bad';
  }

  async function poll(first) {
    try {
      let seconds = HISTORY_INITIAL_S;
      if (!first) {
        // The seconds since the last successful poll, plus slack; a tab that slept catches up.
        seconds = Math.min(HISTORY_MAX_S, Math.ceil((performance.now() - lastHistoryPollMs) / 1000) + 3);
      }
      const [status, peers, time, history] = await Promise.all([
        getJson('/v1/status'),
        getJson('/v1/peers'),
        getJson('/v1/time'),
        getJson(`/v1/history?seconds=${seconds}`),
      ]);
      lastHistoryPollMs = performance.now();
      appendHistory(history.points);
      appendPeers(time, peers);
      renderTime(time, status);
      renderPeers(peers);
      renderRefclocks(status);
      state.updates++;
      state.lastError = null;
      setConnection(true, `live · updated ${new Date().toLocaleTimeString()}`);
    } catch (err) {
      state.lastError = String(err && err.message ? err.message : err);
      setConnection(false, `cannot reach the node: ${state.lastError} (retrying)`);
    } finally {
      setTimeout(() => void poll(false), POLL_MS);
    }
  }

  void poll(true);
})();
