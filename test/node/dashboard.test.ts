// The dashboard (issue #6): the history ring and its sampling with hand-made clock readings; the routes
// that serve the page, its assets and /v1/history through fastify's inject(); and the page itself in a
// real browser (Debian's chromium driven by playwright-core) against a three-process mesh on 127.0.0.1.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { buildApi } from '../../node/api.ts';
import type { ErrorResponse, HistoryResponse, PeersResponse, RefclocksStatus } from '../../node/api.ts';
import { NodeCore } from '../../node/core/nodeCore.ts';
import { History, sampleHistoryPoint, startHistorySampler } from '../../node/history.ts';
import type { HistoryPoint, HistoryView } from '../../node/history.ts';
import { FakeSource, meshNodeWithLiar } from './fakeSource.ts';
import { BASE_NS, LcgRng, S_NS } from './helpers.ts';
import { getJson, startDaemon } from './daemonProcess.ts';
import type { DaemonProcess } from './daemonProcess.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A node holding its own clock at stratum 3, anchored after one tick; the test moves `localNs`. */
class LocalSource extends FakeSource {
  constructor(anchor = true) {
    super(new NodeCore({ nodeId: 'me', localStratum: 3 }, { rng: new LcgRng(1) }), BASE_NS);
    if (anchor) this.core.handleTick(BASE_NS);
  }
}

function point(i: number, over: Partial<HistoryPoint> = {}): HistoryPoint {
  return {
    atNs: BASE_NS + BigInt(i) * S_NS,
    offsetNs: BigInt(i),
    uncertaintyNs: 1000n,
    status: 'anchored',
    stratum: 3,
    correctionNs: -5n,
    ...over,
  };
}

describe('History', () => {
  it('keeps the newest `capacity` points, oldest first', () => {
    const h = new History(3);
    assert.deepEqual(h.points(), []);
    for (let i = 0; i < 5; i++) h.add(point(i));
    assert.equal(h.size, 3);
    assert.deepEqual(
      h.points().map((p) => p.offsetNs),
      [2n, 3n, 4n],
    );
    assert.throws(() => new History(0), /positive integer/);
  });

  it('lastSeconds(n) returns the points within n s of the newest (node time)', () => {
    const h = new History();
    for (let i = 0; i < 100; i++) h.add(point(i));
    assert.equal(h.lastSeconds(10).length, 10);
    assert.equal(h.lastSeconds(10)[0]!.offsetNs, 90n);
    assert.equal(h.lastSeconds(1).length, 1);
    assert.equal(h.lastSeconds(3600).length, 100);
    assert.deepEqual(new History().lastSeconds(5), []);
  });

  it('samples best − host realtime at the same instant, with the uncertainty, status and stratum', () => {
    const src = new LocalSource();
    src.localNs = BASE_NS + 5n * S_NS;
    const best = src.read(src.localNs).bestNs;
    // The host clock read 250 µs behind the node, bracketing the node's reading by ±100 ns.
    const p = sampleHistoryPoint(src, src.localNs, best - 250_100n, best - 249_900n);
    assert.equal(p.atNs, best);
    assert.equal(p.offsetNs, 250_000n);
    assert.equal(p.status, 'anchored');
    assert.equal(p.stratum, 3);
    assert.equal(p.correctionNs, best - src.localNs);
    assert.ok(p.uncertaintyNs !== null && p.uncertaintyNs >= 0n, `uncertainty ${p.uncertaintyNs}`);

    const fresh = new LocalSource(false);
    const q = sampleHistoryPoint(fresh, BASE_NS, BASE_NS, BASE_NS);
    assert.equal(q.status, 'unsynchronized');
    assert.equal(q.uncertaintyNs, null, 'no bound while unsynchronized');
  });

  it('the sampler records at once and then on its timer, and a failing read only skips a second', async () => {
    const h = new History();
    const src = new LocalSource();
    let fail = false;
    const view: HistoryView = {
      localNowNs: () => {
        if (fail) throw new Error('stalled');
        src.localNs += 10_000_000n;
        return src.localNs;
      },
      read: (l) => src.read(l),
      serveTime: (l) => src.serveTime(l),
    };
    const stop = startHistorySampler(h, view, { intervalMs: 10, hostRealtimeNs: () => BASE_NS });
    assert.equal(h.size, 1, 'one point at start');
    await sleep(60);
    fail = true;
    await sleep(30);
    stop();
    const n = h.size;
    assert.ok(n >= 3, `only ${n} points after ~60 ms at 10 ms`);
    await sleep(30);
    assert.equal(h.size, n, 'no points after stop()');
  });
});

// ---- routes through inject() --------------------------------------------------------------------

const apps: FastifyInstance[] = [];
after(async () => {
  await Promise.all(apps.map((a) => a.close()));
});

function app(history?: (seconds: number) => HistoryPoint[]): FastifyInstance {
  const a = buildApi(new LocalSource(), {
    peerId: 'me',
    multiaddrs: () => [],
    ready: () => true,
    ...(history === undefined ? {} : { history }),
  });
  apps.push(a);
  return a;
}

describe('dashboard routes', () => {
  it('GET / is the dashboard page, with a CSP that allows only this origin', async () => {
    const res = await app().inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'no-store');
    const csp = String(res.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    assert.match(res.body, /<script src="\/assets\/uplot\.min\.js"/);
    assert.match(res.body, /<script src="\/assets\/dashboard\.js"/);
    assert.match(res.body, /data-testid="offset-chart"/);
    // Nothing from another origin: every src/href is a path on this node (or the blank data: icon).
    for (const m of res.body.matchAll(/\b(?:src|href)="([^"]*)"/g)) {
      assert.ok(m[1]!.startsWith('/') || m[1] === 'data:,', `external reference ${m[1]}`);
    }
  });

  it('serves uPlot from the installed package and the dashboard files, with their content types', async () => {
    const a = app();
    const require = createRequire(import.meta.url);
    const uplotJs = await readFile(require.resolve('uplot/dist/uPlot.iife.min.js'));
    const js = await a.inject({ method: 'GET', url: '/assets/uplot.min.js' });
    assert.equal(js.statusCode, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.headers['x-content-type-options'], 'nosniff');
    assert.ok(js.rawPayload.equals(uplotJs), 'uplot.min.js is the package’s IIFE build, byte for byte');
    assert.match(js.body, /uPlot/);
    const css = await a.inject({ method: 'GET', url: '/assets/uplot.min.css' });
    assert.equal(css.statusCode, 200);
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.match(css.body, /\.uplot/);
    const djs = await a.inject({ method: 'GET', url: '/assets/dashboard.js' });
    assert.equal(djs.statusCode, 200);
    assert.equal(djs.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(djs.body, /__timemeshDashboard/);
    const dcss = await a.inject({ method: 'GET', url: '/assets/dashboard.css' });
    assert.equal(dcss.statusCode, 200);
    assert.equal(dcss.headers['content-type'], 'text/css; charset=utf-8');
    const missing = await a.inject({ method: 'GET', url: '/assets/nope.js' });
    assert.equal(missing.statusCode, 404);
    assert.equal((missing.json() as ErrorResponse).code, 'TM_ERR_NOT_FOUND');
  });

  it('GET /v1/history returns the last N seconds as decimal ns strings (default 600)', async () => {
    const h = new History();
    for (let i = 0; i < 700; i++)
      h.add(point(i, i === 699 ? { uncertaintyNs: null, status: 'holdover' } : {}));
    const asked: number[] = [];
    const a = app((s) => {
      asked.push(s);
      return h.lastSeconds(s);
    });
    const res = await a.inject({ method: 'GET', url: '/v1/history' });
    assert.equal(res.statusCode, 200);
    const body = res.json() as HistoryResponse;
    assert.equal(body.points.length, 600);
    const last = body.points.at(-1)!;
    assert.deepEqual(last, {
      atNs: (BASE_NS + 699n * S_NS).toString(),
      offsetNs: '699',
      uncertaintyNs: null,
      status: 'holdover',
      stratum: 3,
      correctionNs: '-5',
    });
    assert.equal(body.points[0]!.uncertaintyNs, '1000');
    const ten = (await a.inject({ method: 'GET', url: '/v1/history?seconds=10' })).json() as HistoryResponse;
    assert.equal(ten.points.length, 10);
    assert.deepEqual(asked, [600, 10]);
    await a.inject({ method: 'GET', url: '/v1/history?seconds=3600' });
    await a.inject({ method: 'GET', url: '/v1/history?seconds=1' });
    assert.deepEqual(asked, [600, 10, 3600, 1]);
  });

  it('GET /v1/history refuses a bad seconds with a 400 that names the field and the range', async () => {
    const a = app(() => []);
    for (const bad of ['0', '3601', 'abc', '1.5', '-1', '', '1e3', '99999999', '10&seconds=20']) {
      const res = await a.inject({ method: 'GET', url: `/v1/history?seconds=${bad}` });
      assert.equal(res.statusCode, 400, `seconds=${bad} answered ${res.statusCode}`);
      const body = res.json() as ErrorResponse;
      assert.equal(body.code, 'TM_ERR_BAD_REQUEST');
      assert.equal(body.error, 'Bad Request');
      assert.match(body.message, /^querystring\.seconds: expected an integer from 1 to 3600, got /);
    }
  });

  it('GET /v1/history is an empty list when the node records none', async () => {
    const a = app();
    assert.deepEqual((await a.inject({ method: 'GET', url: '/v1/history' })).json(), { points: [] });
  });
});

// ---- a real browser against real daemons --------------------------------------------------------

const CHROMIUM = '/usr/bin/chromium';

/** Debian's chromium, headless, as the issue prescribes (no sandbox: tests run as root in CI). */
async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
const ARTIFACTS = resolve(import.meta.dirname, '..', '..', 'test-artifacts');

describe('the dashboard in a real browser, against a three-process mesh on 127.0.0.1', () => {
  const procs: DaemonProcess[] = [];
  const dirs: string[] = [];

  after(async () => {
    for (const p of procs) p.child.kill('SIGTERM');
    await sleep(500);
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('draws the offset chart and the peer table, requests nothing off 127.0.0.1, logs no errors', async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: the browser test needs Debian's chromium package (.ci/run installs it; ` +
        'locally: apt-get install chromium)',
    );
    const t0 = Date.now();
    const base = ['--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--network', 'dashtest'];
    const roles = [
      ['--local-stratum', '8'],
      ['--clock-offset-ms=480', '--fault-tolerance', '0'],
      ['--clock-offset-ms=-350', '--fault-tolerance', '0'],
    ];
    for (const [i, role] of roles.entries()) {
      const dir = await mkdtemp(join(tmpdir(), 'timemesh-dash-'));
      dirs.push(dir);
      const bootstrap = i === 0 ? [] : ['--bootstrap', procs[0]!.multiaddr];
      procs.push(await startDaemon([...base, ...role, ...bootstrap], dir));
    }
    const follower = procs[1]!;

    // The follower synchronized with both other nodes as sources before the page opens, so the
    // screenshot shows a node in its normal state (pubsub peer discovery announces every 10 s).
    const meshBy = Date.now() + 40_000;
    let status = 'unsynchronized';
    let sources = 0;
    while (Date.now() < meshBy) {
      status = (await getJson<{ status: string }>(`${follower.api}/v1/time`)).status;
      sources = (await getJson<PeersResponse>(`${follower.api}/v1/peers`)).peers.length;
      if (status !== 'unsynchronized' && sources >= 2) break;
      await sleep(500);
    }
    assert.ok(status !== 'unsynchronized' && sources >= 2, `follower: ${status} with ${sources} sources`);

    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const offHost: string[] = [];
      const consoleErrors: string[] = [];
      const log: string[] = [];
      page.on('requestfinished', (req) => log.push(`done ${req.url()}`));
      page.on('requestfailed', (req) => log.push(`failed ${req.url()} ${req.failure()?.errorText}`));
      page.on('request', (req) => {
        log.push(`req ${req.url()}`);
        const url = new URL(req.url());
        if (url.protocol !== 'data:' && url.hostname !== '127.0.0.1') offHost.push(req.url());
      });
      page.on('console', (msg) => {
        if (msg.type() === 'error') consoleErrors.push(msg.text());
      });
      page.on('pageerror', (err) => consoleErrors.push(`uncaught: ${err.message}`));

      await page.goto(`${follower.api}/`, { waitUntil: 'load' });
      // At least 8 points: the node's history since its start plus the page's own polls.
      // The predicate runs in the page. A function, not a string: the page's CSP forbids eval, which
      // a string predicate needs. The casts stand in for the DOM types this project's TS config lacks.
      const drawn = (): boolean => {
        const g = globalThis as unknown as {
          __timemeshDashboard?: { points: number; peers: number; peerSamples: number };
          document: { querySelector(sel: string): { width: number; height: number } | null };
        };
        const d = g.__timemeshDashboard;
        const canvas = g.document.querySelector('[data-testid="offset-chart"] canvas');
        return (
          d !== undefined &&
          d.points >= 8 &&
          d.peers >= 2 &&
          d.peerSamples >= 4 &&
          canvas !== null &&
          canvas.width > 0 &&
          canvas.height > 0
        );
      };
      // At least 8 points (the node's history since its start plus the page's polls), 2 table rows, and
      // 4 polls for the per-source chart.
      try {
        await page.waitForFunction(drawn, undefined, { timeout: 20_000, polling: 250 });
      } catch (err) {
        const seen = await page.evaluate('JSON.stringify(window.__timemeshDashboard ?? null)');
        throw new Error(
          `the dashboard did not draw in 20 s: ${String(seen)}; console: ${consoleErrors.join(' | ')}; ${log.join('\n')}`,
          {
            cause: err,
          },
        );
      }

      const rows = await page.locator('[data-testid="peer-row"]').count();
      assert.ok(rows >= 2, `peer table has ${rows} rows`);
      const shownStatus = (await page.locator('[data-testid="status"]').textContent()) ?? '';
      assert.match(shownStatus, /^(synchronized|anchored|holdover)$/, `status shows "${shownStatus}"`);
      const peerId = (await page.locator('[data-testid="peer-id"]').textContent()) ?? '';
      assert.ok(follower.multiaddr.endsWith(`/p2p/${peerId}`), `header shows peer id "${peerId}"`);
      const box = await page.locator('[data-testid="offset-chart"] canvas').boundingBox();
      assert.ok(
        box !== null && box.width > 300 && box.height > 100,
        `offset chart canvas ${JSON.stringify(box)}`,
      );
      const peerCanvas = await page.locator('[data-testid="peer-chart"] canvas').count();
      assert.equal(peerCanvas, 1, 'the per-source chart is drawn');

      await mkdir(ARTIFACTS, { recursive: true });
      const shot = join(ARTIFACTS, 'dashboard.png');
      await page.screenshot({ path: shot, fullPage: true });
      process.stdout.write(`# dashboard screenshot: ${shot}\n`);

      assert.deepEqual(offHost, [], 'the page requested something not on 127.0.0.1');
      assert.deepEqual(consoleErrors, [], 'the page logged errors');
    } finally {
      await browser.close();
    }
    assert.ok(Date.now() - t0 < 90_000, `took ${Date.now() - t0} ms`);
  });
});

describe('the dashboard marks falsetickers and shows the reference clocks (real browser, in-process API)', () => {
  it('marks the liar (x when excluded, ! before), shows GPS and the system-clock discipline', async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (.ci/run installs chromium)`);
    const src = meshNodeWithLiar();
    const refclocks: RefclocksStatus = {
      gps: {
        device: '/dev/ttyUSB0',
        baudRate: 9600,
        open: true,
        opensTotal: 1,
        closesTotal: 0,
        fudgeNs: 0,
        errorNs: 50_000_000,
        linesTotal: 30,
        samplesTotal: 10,
        sentencesByType: { RMC: 10, GGA: 10, ZDA: 10 },
        drops: { 'bad-checksum': 2 } as NonNullable<RefclocksStatus['gps']>['drops'],
        lastSample: { offsetNs: -3_500_000, errorNs: 50_000_000, agoS: 0.4 },
      },
      pps: null,
    };
    const app = buildApi(src, {
      peerId: 'me',
      multiaddrs: () => [],
      ready: () => true,
      refclocks: () => refclocks,
      systemClock: () => ({
        dryRun: true,
        running: true,
        ticks: 3,
        steps: 1,
        slews: 2,
        refusals: 0,
        holds: 0,
        errors: 0,
        lastAction: { type: 'hold', offsetNs: 250_000, reason: 'dry run' },
        lastOffsetNs: 250_000,
        lastError: null,
      }),
    });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      page.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(msg.text());
      });
      await page.goto(`${base}/`, { waitUntil: 'load' });
      await page.locator('[data-peer-id="liar0"]').waitFor({ timeout: 15_000 });
      const liar = page.locator('[data-peer-id="liar0"]');
      const cls = (await liar.getAttribute('class')) ?? '';
      assert.match(cls, /\b(falseticker|excluded)\b/, `the liar's row is marked: class "${cls}"`);
      const sym = ((await liar.locator('td').first().textContent()) ?? '').trim();
      assert.ok(sym === '!' || sym === 'x', `the liar's state symbol is ! or x, got "${sym}"`);
      const honest = (await page.locator('[data-peer-id="h0"]').getAttribute('class')) ?? '';
      assert.doesNotMatch(honest, /\b(falseticker|excluded)\b/, 'an honest row is not marked');
      const cards = page.locator('#refclocks .card h3');
      await cards.first().waitFor({ timeout: 5_000 });
      const titles = await cards.allTextContents();
      assert.deepEqual(titles, ['GPS (NMEA)', 'System clock discipline']);
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-falseticker.png'), fullPage: true });

      // After one round the liar is a falseticker but not yet excluded: marked "!".
      const fresh = buildApi(meshNodeWithLiar(1), { peerId: 'me', multiaddrs: () => [], ready: () => true });
      try {
        const freshBase = await fresh.listen({ host: '127.0.0.1', port: 0 });
        await page.goto(`${freshBase}/`, { waitUntil: 'load' });
        const row = page.locator('[data-peer-id="liar0"]');
        await row.waitFor({ timeout: 15_000 });
        const freshCls = (await row.getAttribute('class')) ?? '';
        assert.match(freshCls, /\bfalseticker\b/, `class "${freshCls}"`);
        assert.doesNotMatch(freshCls, /\bexcluded\b/, 'not excluded after one round');
        assert.equal(((await row.locator('td').first().textContent()) ?? '').trim(), '!');
        assert.equal(await page.locator('#refclocks').isHidden(), true, 'no reference clocks: no panel');
      } finally {
        await fresh.close();
      }
      assert.deepEqual(errors, [], 'the page logged errors');
    } finally {
      await browser.close();
      await app.close();
    }
  });
});
