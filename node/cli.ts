/**
 * The `timemesh` command line. Every subcommand validates its flags strictly: an unknown flag or a
 * bad value is an error that names the flag and says what was expected, and exits with status 2.
 */
import { constants } from 'node:fs';
import { access, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { TimemeshError } from '../hlc/errors.ts';
import { renderHtmlReport } from '../sim/htmlReport.ts';
import { createProgress } from '../sim/progress.ts';
import {
  loadScenarioFile,
  mergeScenarioRaw,
  parseDuration,
  readScenarioFile,
  resolveScenario,
} from '../sim/scenario.ts';
import { simulate } from '../sim/simulator.ts';
import { formatSummary } from '../sim/summary.ts';
import { NODE_FLAG_OPTIONS, configFilePath, loadConfigFile, resolveNodeConfig } from './config.ts';
import type { SimReport } from '../sim/reportTypes.ts';

const USAGE = `usage: timemesh <command> [options]

commands:
  start [options]       run a node (see 'start options' below)
  time | status | peers query a running node's API and print a table
  keygen [--out FILE] [--force]   create an Ed25519 identity key (default: in the data dir)
  keygen --swarm-key [--out FILE] create a private-network key (default: DATA_DIR/swarm.key)
  id [--data-dir DIR]   print the node's peer id
  sim [options]         run the mesh simulator: deterministic (default), or real libp2p nodes
  sim-suite [DIR]       run every scenario in DIR (default sim/scenarios) with --check
  sync URL… [--queries N] [--max-offset-ms MS] [--slew-threshold-ms MS] [--apply] [--json]
                        query ntp:// and tsq:// servers once, reject outliers, print the offset
                        and what would be done (slew/step/refuse); a dry run unless --apply (root)
  help                  show this text

start options (flags override TIMEMESH_* environment variables, which override the config file):
  --config FILE              YAML or TOML config file
  --bootstrap MULTIADDR      a peer to join the mesh through, /ip4/…/tcp/…/p2p/<id> (repeatable)
  --listen MULTIADDR         where to listen (repeatable; default /ip4/0.0.0.0/tcp/7071)
  --api HOST:PORT            HTTP API address (default 127.0.0.1:7070; port 0 = any free port)
  --data-dir DIR             identity key and persisted state (default $XDG_DATA_HOME/timemesh or ~/.timemesh)
  --network NAME             mesh name; meshes with other names never mix (default 'default')
  --local-stratum N          serve the own clock as a stratum-N reference when nothing is better
  --roster PEER_ID           allow only these peers (repeatable)
  --swarm-key FILE           private network: only nodes with this key can connect (keygen --swarm-key)
  --anchor URL               an upstream server to anchor to (repeatable): ntp://HOST[:PORT][?minpoll=N&maxpoll=N]
                             or tsq://HOST[:PORT][?mode=stream|datagram][&insecure=1][&ca=FILE]
  --serve-ntp HOST:PORT      answer NTP clients on this UDP address (default off; port 123 needs root)
  --serve-tsq HOST:PORT      answer TSQ clients on this QUIC address (default off; self-signed cert in DATA_DIR/tsq)
  --gps DEVICE[:BAUD]        read a GPS receiver's NMEA on this serial device (default off; baud 9600)
  --gps-fudge-ms MS          the receiver's sentence delay, added to GPS samples (default 0, within ±1000)
  --pps DEVICE               a PPS device (/dev/ppsN, else /sys/class/pps); each pulse is labelled with
                             the GPS second (or the node's time when within ±0.4 s) (default off)
  --pps-fudge-ns NS          cable and receiver delay, added to PPS samples (default 0)
  --discipline-system-clock  keep this host's system clock on the node's time: slew, step when off by
                             more than --step-threshold-ms (default 128), refuse beyond --max-offset-ms
                             (default 1000; "off" = no limit), never step back more than
                             --max-backward-step-ms (default 1000; 0 = slew back instead). Root only
  --discipline-dry-run       with the above: only log what would be done to the system clock
  --poll-peers K, --fault-tolerance F, --min-poll-s S, --max-poll-s S
  --inbound-requests-per-second N, --log-level LEVEL, --reset-state
  --clock-offset-ms MS, --clock-drift-ppm PPM
                             TESTING AID: run the node's oscillator off from the host clock, so
                             several nodes on one machine have different clocks (never sets the clock)

time | status | peers options:
  --api URL                  the node to ask (default http://127.0.0.1:7070, or TIMEMESH_API_URL)
  --json                     print the JSON instead of a table
  status --kernel            print this machine's kernel clock state instead (adjtimex, read-only;
                             Linux; needs no running node)

sim options:
  --engine E            sim (default): the deterministic simulator, in virtual time
                        libp2p: real libp2p nodes in this process on 127.0.0.1 (see below)
  --scenario FILE       YAML or JSON scenario (flags below override its values)
  --nodes N             nodes in the mesh, anchors and attackers included
  --byzantine F         how many of them are attackers
  --attack KIND         none | constant | two-faced | random | frog-boil | delay | hlc-push | silent
  --anchors A           how many nodes have a reference clock
  --anchor-model M      perfect | gps-pps | gps-nmea | ntp-server
  --fault-tolerance F   f used by every node (default: derived as ⌊(n−1)/3⌋ of its sources)
  --poll-peers K        peers each node measures per round
  --duration D          virtual duration, e.g. 90s, 10m, 2h
  --seed S              PRNG seed (same seed, same report byte for byte)
  --json FILE           write the JSON report
  --html FILE           write the HTML report
  --check               exit 1 when a scenario threshold fails
  --quiet               print no summary

sim --engine libp2p: N real libp2p stacks (TCP, Noise, Yamux, gossipsub) in one process, each with the
  daemon's TimeService and a simulated oscillator, measured against the host clock for D of REAL time.
  NOT deterministic: the seed draws the oscillators, nothing else. Takes --nodes N (default 20),
  --anchors A (default 3: local-stratum-1 references on the host clock), --duration D (default 60s),
  --seed S, --fault-tolerance F, --poll-peers K (default 4), --json FILE (timemesh.sim-libp2p.report/1)
  and --quiet; refuses --scenario, --byzantine, --attack, --anchor-model, --html and --check.
`;

class UsageError extends TimemeshError {
  constructor(message: string) {
    super('TM_ERR_USAGE', message);
  }
}

const simOptions = {
  engine: { type: 'string' },
  scenario: { type: 'string' },
  nodes: { type: 'string' },
  byzantine: { type: 'string' },
  attack: { type: 'string' },
  anchors: { type: 'string' },
  'anchor-model': { type: 'string' },
  'fault-tolerance': { type: 'string' },
  'poll-peers': { type: 'string' },
  duration: { type: 'string' },
  seed: { type: 'string' },
  json: { type: 'string' },
  html: { type: 'string' },
  check: { type: 'boolean' },
  quiet: { type: 'boolean' },
} as const;

function parse<T extends NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>>(
  args: string[],
  options: T,
  command: string,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(
      `timemesh ${command}: ${(err as Error).message}. Run 'timemesh help' for the options.`,
    );
  }
}

function intFlag(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${name}: expected an integer ≥ ${min}, got '${value}'`);
  }
  return n;
}

type SimValues = ReturnType<typeof parse<typeof simOptions>>['values'];

const SIM_ENGINES = ['sim', 'libp2p'] as const;

async function runSim(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, simOptions, 'sim');
  if (positionals.length > 0) throw new UsageError(`timemesh sim: unexpected argument '${positionals[0]}'`);
  const engine = values.engine ?? 'sim';
  if (!(SIM_ENGINES as readonly string[]).includes(engine)) {
    throw new UsageError(
      `--engine: expected one of ${SIM_ENGINES.map((e) => `'${e}'`).join(', ')}, got '${engine}'`,
    );
  }
  if (engine === 'libp2p') return runLibp2pEngine(values);
  const overrides: Record<string, unknown> = {};
  const set = (key: string, v: unknown): void => {
    if (v !== undefined) overrides[key] = v;
  };
  set('nodes', intFlag('nodes', values.nodes, 1));
  set('byzantine', intFlag('byzantine', values.byzantine, 0));
  set('anchors', intFlag('anchors', values.anchors, 0));
  set('anchorModel', values['anchor-model']);
  set('seed', values.seed);
  if (values.duration !== undefined) {
    try {
      set('durationS', parseDuration(values.duration));
    } catch (err) {
      throw new UsageError(`--duration: ${(err as Error).message}`);
    }
  }
  if (values.attack !== undefined) overrides.attack = { kind: values.attack };
  const core: Record<string, unknown> = {};
  const ft = intFlag('fault-tolerance', values['fault-tolerance'], 0);
  if (ft !== undefined) core.faultTolerance = ft;
  const k = intFlag('poll-peers', values['poll-peers'], 1);
  if (k !== undefined) core.pollPeers = k;
  if (Object.keys(core).length > 0) overrides.core = core;

  let raw: unknown = {};
  let source = 'command line';
  if (values.scenario !== undefined) {
    raw = await readScenarioFile(values.scenario);
    source = `${values.scenario} with command-line overrides`;
  }
  const scenario = resolveScenario(mergeScenarioRaw(raw, overrides), source);
  // Check the output paths before a long run, not after it.
  if (values.json !== undefined) await assertWritableDir('--json', values.json);
  if (values.html !== undefined) await assertWritableDir('--html', values.html);
  const report = runWithProgress(scenario);
  if (values.json !== undefined)
    await writeOutput('--json', values.json, JSON.stringify(report, null, 2) + '\n');
  if (values.html !== undefined) await writeOutput('--html', values.html, renderHtmlReport(report));
  if (values.quiet !== true) process.stdout.write(formatSummary(report) + '\n');
  return values.check === true && !report.passed ? 1 : 0;
}

function runWithProgress(scenario: Parameters<typeof simulate>[0]): SimReport {
  const progress = createProgress({ totalS: scenario.durationS, label: scenario.name });
  const startedMs = performance.now();
  process.stderr.write(
    `timemesh sim: scenario ${scenario.name}, seed ${scenario.seed}, ${scenario.nodes} nodes, ${scenario.durationS} s virtual\n`,
  );
  const report = simulate(scenario, (s, events) => progress.update(s, events));
  progress.done();
  const wallS = (performance.now() - startedMs) / 1000;
  process.stderr.write(
    `timemesh sim: ${report.events.processed} events in ${wallS.toFixed(1)} s wall (${Math.round(report.events.processed / wallS)} events/s), peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB\n`,
  );
  return report;
}

/** Flags of the deterministic engine that mean nothing to the libp2p engine, and why. */
const LIBP2P_REFUSED_FLAGS: [keyof SimValues, string][] = [
  ['scenario', 'scenario files describe virtual-time runs: network models, attacks, faults'],
  ['byzantine', "it runs honest nodes only; attacks are the deterministic engine's"],
  ['attack', "it runs honest nodes only; attacks are the deterministic engine's"],
  ['anchor-model', 'its anchors are local-stratum-1 references on the host clock'],
  ['html', 'it writes no HTML report; use --json'],
  ['check', 'it has no scenario thresholds'],
];

/** `timemesh sim --engine libp2p`: real libp2p nodes in this process (sim/libp2pEngine.ts). */
async function runLibp2pEngine(values: SimValues): Promise<number> {
  for (const [flag, why] of LIBP2P_REFUSED_FLAGS) {
    if (values[flag] !== undefined) {
      throw new UsageError(`--${flag}: not supported with --engine libp2p (${why})`);
    }
  }
  const engine = await import('../sim/libp2pEngine.ts');
  const nodes = intFlag('nodes', values.nodes, 2) ?? 20;
  if (nodes > engine.LIBP2P_NODES_MAX) {
    throw new UsageError(
      `--nodes: expected at most ${engine.LIBP2P_NODES_MAX} with --engine libp2p, got ${nodes}`,
    );
  }
  const anchors = intFlag('anchors', values.anchors, 0) ?? Math.min(3, nodes - 1);
  if (anchors >= nodes) {
    throw new UsageError(
      `--anchors: expected at most nodes − 1 = ${nodes - 1} with --engine libp2p (at least one follower), got ${anchors}`,
    );
  }
  let durationS = 60;
  if (values.duration !== undefined) {
    try {
      durationS = parseDuration(values.duration);
    } catch (err) {
      throw new UsageError(`--duration: ${(err as Error).message}`);
    }
    if (!(durationS >= 1 && durationS <= engine.LIBP2P_DURATION_S_MAX)) {
      throw new UsageError(
        `--duration: expected 1s to ${engine.LIBP2P_DURATION_S_MAX / 3600}h of real time with --engine libp2p, got '${values.duration}'`,
      );
    }
  }
  const core: { faultTolerance?: number; pollPeers?: number } = {};
  const ft = intFlag('fault-tolerance', values['fault-tolerance'], 0);
  if (ft !== undefined) core.faultTolerance = ft;
  const k = intFlag('poll-peers', values['poll-peers'], 1);
  if (k !== undefined) core.pollPeers = k;
  const seed = values.seed ?? '1';
  if (values.json !== undefined) await assertWritableDir('--json', values.json);

  process.stderr.write(
    `timemesh sim --engine libp2p: ${nodes} nodes (${anchors} anchors), ${durationS} s of real time, seed ${seed}; NOT deterministic (real sockets and time)\n`,
  );
  const progress = createProgress({ totalS: durationS, label: `libp2p ${nodes} nodes` });
  // Ctrl-C ends the run early and still reports; a second one kills the process.
  const controller = new AbortController();
  const onSignal = (): void => {
    progress.done();
    process.stderr.write('timemesh sim: interrupted, stopping the nodes\n');
    controller.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let report: Awaited<ReturnType<typeof engine.runLibp2pSim>>;
  try {
    report = await engine.runLibp2pSim({
      nodes,
      anchors,
      durationS,
      seed,
      core,
      signal: controller.signal,
      onSample: (elapsedS, exchangesOk) => progress.update(elapsedS, exchangesOk),
    });
  } finally {
    progress.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (values.json !== undefined)
    await writeOutput('--json', values.json, JSON.stringify(report, null, 2) + '\n');
  if (values.quiet !== true) process.stdout.write(engine.formatLibp2pSummary(report) + '\n');
  return report.aborted ? 130 : 0;
}

async function runSuite(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { out: { type: 'string' } } as const, 'sim-suite');
  const dir = positionals[0] ?? 'sim/scenarios';
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    throw new UsageError(
      `timemesh sim-suite: cannot read scenario directory ${dir}: ${(err as Error).message}`,
    );
  }
  const files = entries.filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
  if (values.out !== undefined) await assertWritableDir('--out', join(values.out, 'x'));
  if (files.length === 0) throw new UsageError(`timemesh sim-suite: no scenario files in ${dir}`);
  let failed = 0;
  for (const f of files) {
    const scenario = await loadScenarioFile(join(dir, f));
    const report = runWithProgress(scenario);
    process.stdout.write(`\n== ${f}\n${formatSummary(report)}\n`);
    if (values.out !== undefined) {
      const base = join(values.out, f.replace(/\.(ya?ml|json)$/, ''));
      await writeOutput('--out', `${base}.json`, JSON.stringify(report, null, 2) + '\n');
      await writeOutput('--out', `${base}.html`, renderHtmlReport(report));
    }
    if (!report.passed) failed++;
  }
  process.stdout.write(`\nsim-suite: ${files.length - failed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}

async function assertWritableDir(flag: string, file: string): Promise<void> {
  const dir = dirname(file);
  try {
    await access(dir, constants.W_OK);
  } catch {
    throw new UsageError(`${flag}: cannot write ${file}: directory ${dir} does not exist or is not writable`);
  }
}

async function writeOutput(flag: string, file: string, content: string): Promise<void> {
  try {
    await writeFile(file, content);
  } catch (err) {
    throw new UsageError(`${flag}: cannot write ${file}: ${(err as Error).message}`);
  }
}

async function runStart(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, NODE_FLAG_OPTIONS, 'start');
  if (positionals.length > 0) throw new UsageError(`timemesh start: unexpected argument '${positionals[0]}'`);
  const env = process.env;
  const path = configFilePath(values, env);
  const file = path === null ? null : await loadConfigFile(path);
  const config = resolveNodeConfig({ flags: values, env, file });
  const { runUntilSignalled } = await import('./daemon.ts');
  await runUntilSignalled(config);
  return 0;
}

/**
 * `timemesh keygen [--out FILE] [--force]`, `timemesh keygen --swarm-key [--out FILE] [--force]` and
 * `timemesh id [--data-dir DIR]`.
 */
async function runIdentity(command: 'keygen' | 'id', args: string[]): Promise<number> {
  const options = {
    out: { type: 'string' },
    force: { type: 'boolean' },
    'swarm-key': { type: 'boolean' },
    'data-dir': { type: 'string' },
  } as const;
  const { values, positionals } = parse(args, options, command);
  if (positionals.length > 0)
    throw new UsageError(`timemesh ${command}: unexpected argument '${positionals[0]}'`);
  if (command === 'id' && values['swarm-key'] === true)
    throw new UsageError('timemesh id: --swarm-key belongs to keygen (a swarm key has no peer id)');
  const identity = await import('./identity.ts');
  const dataDir = resolveNodeConfig({
    flags: values['data-dir'] === undefined ? {} : { 'data-dir': values['data-dir'] },
    env: process.env,
  }).dataDir;
  if (command === 'keygen' && values['swarm-key'] === true) {
    const swarm = await import('./swarmKey.ts');
    const path = values.out ?? swarm.swarmKeyPath(dataDir);
    await swarm.generateSwarmKeyFile(path, { force: values.force === true });
    process.stdout.write(
      `wrote ${path} (mode 0600)\ncopy it to every node of the mesh and start them with --swarm-key ${path}\n`,
    );
  } else if (command === 'keygen') {
    const path = values.out ?? identity.identityPath(dataDir);
    const created = await identity.generateIdentityFile(path, { force: values.force === true });
    process.stdout.write(`${created.peerId}\nwrote ${path} (mode 0600)\n`);
  } else {
    const read = await identity.readIdentityFile(values.out ?? identity.identityPath(dataDir));
    process.stdout.write(`${read.peerId}\n`);
  }
  return 0;
}

const clientOptions = { api: { type: 'string' }, json: { type: 'boolean' } } as const;
const statusOptions = { ...clientOptions, kernel: { type: 'boolean' } } as const;

/**
 * `timemesh time|status|peers`: query a node's API and print a table (or the JSON with --json).
 * `status --kernel` instead reads this machine's kernel clock state (adjtimex, read-only) locally.
 */
async function runClient(command: 'time' | 'status' | 'peers', args: string[]): Promise<number> {
  const { values, positionals } = parse(args, command === 'status' ? statusOptions : clientOptions, command);
  if (positionals.length > 0)
    throw new UsageError(`timemesh ${command}: unexpected argument '${positionals[0]}'`);
  if ('kernel' in values && values.kernel === true) {
    if (values.api !== undefined)
      throw new UsageError(`timemesh status: --kernel reads this machine's kernel, not a node; drop --api`);
    const kc = await import('../refclock/kernelClock.ts');
    const snap = kc.readKernelClock();
    const text =
      values.json === true ? JSON.stringify(kc.kernelClockJson(snap), null, 2) : kc.formatKernelClock(snap);
    process.stdout.write(text + '\n');
    return 0;
  }
  const client = await import('./apiClient.ts');
  const base = client.normalizeBaseUrl(values.api ?? process.env.TIMEMESH_API_URL ?? client.DEFAULT_API_URL);
  const path = command === 'time' ? '/v1/time' : command === 'status' ? '/v1/status' : '/v1/peers';
  const json = await client.fetchJson(base, path);
  if (values.json === true) {
    process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  } else if (command === 'time') {
    process.stdout.write(client.formatTime(json as Parameters<typeof client.formatTime>[0]) + '\n');
  } else if (command === 'status') {
    process.stdout.write(client.formatStatus(json as Parameters<typeof client.formatStatus>[0]) + '\n');
  } else {
    process.stdout.write(client.formatPeers(json as Parameters<typeof client.formatPeers>[0]) + '\n');
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'sim':
      return runSim(rest);
    case 'sim-suite':
      return runSuite(rest);
    case 'sync':
      return (await import('./syncCommand.ts')).runSync(rest);
    case 'start':
      return runStart(rest);
    case 'time':
    case 'status':
    case 'peers':
      return runClient(command, rest);
    case 'keygen':
    case 'id':
      return runIdentity(command, rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      throw new UsageError(`timemesh: unknown command '${command}'. Run 'timemesh help' for the commands.`);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof TimemeshError) {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = ['TM_ERR_USAGE', 'TM_ERR_SCENARIO', 'TM_ERR_CONFIG'].includes(err.code) ? 2 : 1;
    if (err.code === 'TM_ERR_IDENTITY') process.exitCode = 2;
  } else {
    throw err;
  }
}
