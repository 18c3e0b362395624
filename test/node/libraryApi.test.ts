/**
 * The package's library API (index.ts) as a user gets it: built by the package's build step
 * (packaging/build.mjs, what `npm run build` and `npm pack` run) into a fresh directory laid out as an
 * installed package (<tmp>/node_modules/timemesh/{package.json,dist}), then imported by name from
 * child processes running plain `node`, with no tsx and no TypeScript loader, through package.json's
 * `exports`. A stale dist/ in the work tree plays no part.
 *
 * - simulate(): the same seed twice gives byte-identical JSON, and the very bytes `timemesh sim --json`
 *   writes for the same settings; bad input is a ScenarioError.
 * - startNode(): a real node on 127.0.0.1 answers GET /v1/time, time()/hlcNow()/hlcObserve() work, a
 *   bad option is the CLI's ConfigError naming the option, a second node joins through a /dns4
 *   bootstrap address (what packaging/docker-compose.yml relies on), stop() resolves and the process
 *   then exits by itself (nothing left open).
 * - TypeScript users: a consumer file type-checks against dist/index.d.ts (skipLibCheck off), and
 *   misuses are type errors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TIMEMESH_BIN } from './daemonProcess.ts';

const ROOT = join(import.meta.dirname, '..', '..');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after timeoutMs); never throws for a non-zero exit. */
function run(
  command: string,
  args: string[],
  options: { cwd?: string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${options.timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Plain node: no --import, no loader, no NODE_OPTIONS from the test runner's environment. */
function plainNode(script: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  return run(process.execPath, [script, ...args], { cwd, timeoutMs, env });
}

/** The last stdout line of a child as JSON (the children print one result line last). */
function lastJson<T>(r: Run): T {
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    assert.fail(`expected a JSON result line; exit ${r.code}, stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

describe('library API: the built package imported by plain node', () => {
  let tmp = '';
  let pkgDir = '';

  before(
    async () => {
      tmp = await mkdtemp(join(tmpdir(), 'timemesh-lib-'));
      pkgDir = join(tmp, 'node_modules', 'timemesh');
      await mkdir(pkgDir, { recursive: true });
      await cp(join(ROOT, 'package.json'), join(pkgDir, 'package.json'));
      // The package's own dependencies, as an install would put them beside it.
      await symlink(join(ROOT, 'node_modules'), join(pkgDir, 'node_modules'), 'dir');
      const build = await run(
        process.execPath,
        [join(ROOT, 'packaging', 'build.mjs'), '--out-dir', join(pkgDir, 'dist')],
        { timeoutMs: 120_000 },
      );
      assert.equal(build.code, 0, `the build failed:\n${build.stdout}\n${build.stderr}`);
      await writeFile(join(tmp, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    },
    { timeout: 150_000 },
  );

  after(async () => {
    if (tmp !== '') await rm(tmp, { recursive: true, force: true });
  });

  it('builds JavaScript that imports .js, loads the polyfill first and ships the dashboard', async () => {
    const pkg = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string; import: string }>;
    };
    const entry = pkg.exports['.'];
    assert.ok(entry !== undefined, 'package.json has an exports entry for "."');
    const js = await readFile(join(pkgDir, entry.import), 'utf8');
    await readFile(join(pkgDir, entry.types), 'utf8'); // exists
    const firstImport = /^import\s[^;]*;/m.exec(js)?.[0];
    assert.equal(
      firstImport,
      'import "./node/polyfills.js";',
      'the entry loads the polyfill before anything else',
    );
    const files = (await readdir(join(pkgDir, 'dist'), { recursive: true })).map(String);
    const tsSpecifiers: string[] = [];
    for (const file of files.filter((f) => f.endsWith('.js'))) {
      const text = await readFile(join(pkgDir, 'dist', file), 'utf8');
      for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']*\.ts)["']/g)) {
        tsSpecifiers.push(`${file}: ${m[1]}`);
      }
    }
    assert.deepEqual(tsSpecifiers, [], 'no relative .ts import is left in the built JavaScript');
    for (const asset of ['index.html', 'dashboard.js', 'dashboard.css']) {
      assert.ok(files.includes(join('node', 'dashboard', asset)), `dist has node/dashboard/${asset}`);
    }
  });

  it('simulate(): deterministic, and byte for byte what `timemesh sim --json` writes', async () => {
    const script = join(tmp, 'simulate.mjs');
    await writeFile(join(tmp, 'probe.ts'), 'export const x: number = 1;\n');
    await writeFile(
      script,
      `import { writeFileSync } from 'node:fs';
import { simulate, ScenarioError, TimemeshError } from 'timemesh';
const input = { nodes: 20, anchors: 2, duration: '5m', seed: 'lib-1' };
const first = JSON.stringify(simulate(input));
const second = JSON.stringify(simulate({ ...input }));
const report = simulate(input);
writeFileSync(process.argv[2], JSON.stringify(report, null, 2) + '\\n');
let bad = null;
try {
  simulate({ nodes: 0, sedd: 'x' });
} catch (e) {
  bad = { scenarioError: e instanceof ScenarioError, timemeshError: e instanceof TimemeshError, code: e.code, message: e.message };
}
let tsLoads = true;
try {
  await import('./probe.ts');
} catch {
  tsLoads = false;
}
console.log(JSON.stringify({ same: first === second, containment: report.honest.containment,
  schema: report.schema, bad, tsLoads, withResolvers: typeof Promise.withResolvers }));
`,
    );
    const libJson = join(tmp, 'lib-report.json');
    const cliJson = join(tmp, 'cli-report.json');
    const [lib, cli] = await Promise.all([
      plainNode(script, [libJson], tmp, 60_000),
      run(
        process.execPath,
        [
          TIMEMESH_BIN,
          'sim',
          '--nodes',
          '20',
          '--anchors',
          '2',
          '--duration',
          '5m',
          '--seed',
          'lib-1',
          '--json',
          cliJson,
          '--quiet',
        ],
        { timeoutMs: 60_000 },
      ),
    ]);
    assert.equal(lib.code, 0, `the simulate child failed:\n${lib.stdout}\n${lib.stderr}`);
    assert.equal(cli.code, 0, `timemesh sim failed:\n${cli.stderr}`);
    const result = lastJson<{
      same: boolean;
      containment: number | null;
      schema: string;
      bad: { scenarioError: boolean; timemeshError: boolean; code: string; message: string } | null;
      tsLoads: boolean;
      withResolvers: string;
    }>(lib);
    assert.equal(result.tsLoads, false, 'the child runs without any TypeScript loader (a .ts import fails)');
    assert.equal(result.withResolvers, 'function', 'the entry installed the Promise.withResolvers polyfill');
    assert.ok(result.same, 'the same seed gives byte-identical JSON.stringify output');
    assert.equal(result.containment, 1, 'every synchronized interval contained true time');
    assert.equal(result.schema, 'timemesh.sim.report/1', 'the report schema');
    const [libText, cliText] = await Promise.all([readFile(libJson, 'utf8'), readFile(cliJson, 'utf8')]);
    assert.ok(libText === cliText, 'the library report is byte-identical to the CLI --json file');
    assert.ok(result.bad !== null, 'a bad scenario throws');
    assert.ok(result.bad.scenarioError && result.bad.timemeshError, 'as a ScenarioError (a TimemeshError)');
    assert.equal(result.bad.code, 'TM_ERR_SCENARIO', 'with the stable code');
    assert.match(result.bad.message, /^simulate\(\): nodes: /m, 'naming the bad field');
    assert.match(result.bad.message, /sedd: unknown key.*seed/, 'and the unknown key, with a suggestion');
  });

  it('startNode(): serves /v1/time, reads time and HLC, joins by /dns4, stops and lets the process exit', async () => {
    const script = join(tmp, 'start-node.mjs');
    await writeFile(
      script,
      `import { startNode, ConfigError, TimemeshError, formatHlc, parseHlc, compareHlc } from 'timemesh';
const [dataA, dataB] = process.argv.slice(2);
const out = {};
const str = (t) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]));
try {
  await startNode({ api: 'nope', dataDir: dataA, logLevel: 'silent' });
} catch (e) {
  out.configError = { config: e instanceof ConfigError, timemesh: e instanceof TimemeshError, code: e.code, message: e.message };
}
const a = await startNode({ listen: ['/ip4/127.0.0.1/tcp/0'], api: '127.0.0.1:0', dataDir: dataA, localStratum: 8, logLevel: 'warn' });
out.peerId = a.peerId;
out.multiaddrs = a.multiaddrs;
out.apiUrl = a.apiUrl;
out.configApi = a.config.api;
const res = await fetch(a.apiUrl + '/v1/time');
out.httpStatus = res.status;
out.httpTime = await res.json();
// The HLC issues timestamps once its first high-water mark is on disk, a moment after start.
let t = a.time();
for (let i = 0; i < 100 && t.hlc === null; i++) {
  await new Promise((r) => setTimeout(r, 100));
  t = a.time();
}
out.time = { ...str(t), hlc: t.hlc === null ? null : formatHlc(t.hlc) };
const h1 = a.hlcNow();
const remote = { wallNs: h1.wallNs + 1000n, logical: 0, nodeId: 'elsewhere' };
const observed = a.hlcObserve(formatHlc(remote));
out.observeOk = observed.ok;
out.hlcAfterObserve = compareHlc(a.hlcNow(), remote);
out.hlcParses = parseHlc(formatHlc(h1)).ok;
const port = a.multiaddrs[0].split('/')[4];
const b = await startNode({
  listen: ['/ip4/127.0.0.1/tcp/0'], api: '127.0.0.1:0', dataDir: dataB, logLevel: 'warn',
  bootstrap: ['/dns4/localhost/tcp/' + port + '/p2p/' + a.peerId],
});
const started = Date.now();
while (Date.now() - started < 20000 && !b.running.libp2p.getPeers().some((p) => p.toString() === a.peerId)) {
  await new Promise((r) => setTimeout(r, 100));
}
out.bJoinedA = b.running.libp2p.getPeers().some((p) => p.toString() === a.peerId);
await b.stop();
await a.stop();
await a.stop(); // idempotent
out.stopped = true;
console.log(JSON.stringify(out));
`,
    );
    const startedMs = Date.now();
    const r = await plainNode(script, [join(tmp, 'node-a'), join(tmp, 'node-b')], tmp, 60_000);
    assert.equal(r.code, 0, `the startNode child failed or did not exit:\n${r.stdout}\n${r.stderr}`);
    const out = lastJson<{
      configError?: { config: boolean; timemesh: boolean; code: string; message: string };
      peerId: string;
      multiaddrs: string[];
      apiUrl: string;
      configApi: { host: string; port: number };
      httpStatus: number;
      httpTime: { status: string; stratum: number; bestNs: string };
      time: {
        status: string;
        stratum: number;
        anchorKind: string;
        earliestNs: string | null;
        hlc: string | null;
      };
      observeOk: boolean;
      hlcAfterObserve: number;
      hlcParses: boolean;
      bJoinedA: boolean;
      stopped: boolean;
    }>(r);
    assert.ok(out.configError !== undefined, 'a bad option is refused');
    assert.ok(out.configError.config && out.configError.timemesh, 'as a ConfigError (a TimemeshError)');
    assert.equal(out.configError.code, 'TM_ERR_CONFIG', 'with the CLI’s code');
    assert.equal(
      out.configError.message,
      'startNode options: api: expected HOST:PORT, got "nope"',
      'naming the option as the CLI names a flag',
    );
    assert.match(out.peerId, /^12D3KooW/, 'an Ed25519 peer id');
    assert.match(
      out.multiaddrs[0] ?? '',
      /^\/ip4\/127\.0\.0\.1\/tcp\/[1-9]\d*\/p2p\/12D3KooW/,
      'a bound multiaddr',
    );
    assert.match(out.apiUrl, /^http:\/\/127\.0\.0\.1:[1-9]\d*$/, 'the API URL with the bound port');
    assert.deepEqual(out.configApi, { host: '127.0.0.1', port: 0 }, 'the resolved configuration');
    assert.equal(out.httpStatus, 200, 'GET /v1/time answers');
    assert.equal(out.httpTime.stratum, 8, 'a local-stratum-8 node');
    assert.match(out.httpTime.bestNs, /^\d+$/, 'bestNs as a decimal string');
    assert.equal(out.time.status, 'anchored', 'time(): the local reference anchors it');
    assert.equal(out.time.anchorKind, 'local', 'time(): anchor kind');
    assert.ok(out.time.earliestNs !== null, 'time(): a bounded interval');
    assert.ok(out.time.hlc !== null, 'time(): a fresh HLC once the mark is persisted');
    assert.ok(out.observeOk, 'hlcObserve() accepts a near HLC in text form');
    assert.equal(out.hlcAfterObserve, 1, 'and later HLCs order after it');
    assert.ok(out.hlcParses, 'HLCs round-trip through the re-exported codec');
    assert.ok(out.bJoinedA, 'a node bootstraps through /dns4/localhost/tcp/PORT/p2p/ID');
    assert.ok(out.stopped, 'stop() resolved');
    assert.ok(Date.now() - startedMs < 60_000, 'and the process exited by itself');
  });

  it('type-checks a TypeScript consumer against dist/index.d.ts', async () => {
    await writeFile(
      join(tmp, 'consumer.ts'),
      `import {
  ConfigError,
  combine,
  formatHlc,
  simulate,
  startNode,
  type NodeTime,
  type SimReport,
  type StartNodeOptions,
  type TimemeshNode,
} from 'timemesh';

const report: SimReport = simulate({ nodes: 5, duration: '1m', network: { lossRate: 0.01 }, core: { maxPollS: '64s' } });
export const containment: number | null = report.honest.containment;
export const noQuorum = combine([]).ok;

export async function main(options: StartNodeOptions): Promise<bigint> {
  const node: TimemeshNode = await startNode({ ...options, localStratum: 8, anchors: ['ntp://127.0.0.1:123'] });
  const t: NodeTime = node.time();
  if (t.hlc !== null) formatHlc(t.hlc);
  await node.stop();
  return t.bestNs;
}

export function isConfigError(e: unknown): string[] {
  return e instanceof ConfigError ? [...e.issues] : [];
}

// @ts-expect-error api is "HOST:PORT" text, not a number
void startNode({ api: 7070 });
// @ts-expect-error an unknown setting
void startNode({ apii: '127.0.0.1:0' });
// @ts-expect-error nodes is a number
simulate({ nodes: 'many' });
// The .d.ts files re-export through './x.ts' specifiers (declaration emit keeps them); these two
// prove they resolve to typed declarations rather than to any.
// @ts-expect-error ConfigError's issues are strings
export const issues: ConfigError['issues'] = [1];
// @ts-expect-error formatHlc (re-exported from hlc/) takes an HlcTimestamp
formatHlc('x');
`,
    );
    await writeFile(
      join(tmp, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = await run(process.execPath, [tsc, '-p', join(tmp, 'tsconfig.json')], {
      cwd: tmp,
      timeoutMs: 90_000,
    });
    assert.equal(r.code, 0, `tsc found errors in the consumer:\n${r.stdout}\n${r.stderr}`);
  });
});
