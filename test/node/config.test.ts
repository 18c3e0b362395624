/**
 * Tests of the daemon configuration: defaults, precedence (flag > environment > file > default) per
 * setting, conversion of flag and environment strings, every validation path (each error must name
 * its source and its setting), YAML and TOML files, and the parseArgs options matching the settings.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { TimemeshError } from '../../hlc/errors.ts';
import {
  CONFIG_ERROR_CODE,
  ConfigError,
  DEFAULT_API,
  DEFAULT_LISTEN,
  NODE_ENV_VARS,
  NODE_FLAG_OPTIONS,
  NODE_SETTINGS,
  configFilePath,
  defaultDataDir,
  loadConfigFile,
  loadNodeConfig,
  nodeConfigJsonSchema,
  resolveNodeConfig,
} from '../../node/config.ts';
import type { ResolveNodeConfigInput } from '../../node/config.ts';

const HOME = '/home/op';
const CWD = '/srv/run';
const FILE = 'timemesh.yaml';

// Top-level await: the table of cases below is built at load time and embeds these ids.
const ED_ID = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
const ED_ID_2 = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
const RSA_ID = 'QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC';

/** resolveNodeConfig with a fixed cwd and home, so results do not depend on the test machine. */
function resolveWith(input: ResolveNodeConfigInput) {
  return resolveNodeConfig({ cwd: CWD, homeDir: HOME, ...input });
}

/** The ConfigError that resolving `input` throws (fails the test if it does not throw one). */
function errorOf(input: ResolveNodeConfigInput): ConfigError {
  try {
    resolveWith(input);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(input)} to be rejected`);
}

/** Asserts that `input` is rejected with exactly one issue, equal to `line`. */
function assertRejected(input: ResolveNodeConfigInput, line: string): void {
  assert.deepEqual(errorOf(input).issues, [line]);
}

const file = (raw: unknown) => ({ file: { path: FILE, raw } });

describe('defaults', () => {
  it('resolves an empty input to the embedded defaults, every setting from "default"', () => {
    const c = resolveWith({});
    assert.equal(c.network, 'default');
    assert.deepEqual(c.listen, ['/ip4/0.0.0.0/tcp/7071']);
    assert.deepEqual(c.listen, [...DEFAULT_LISTEN]);
    assert.deepEqual(c.bootstrap, []);
    assert.deepEqual(c.api, { host: '127.0.0.1', port: 7070 });
    assert.equal(c.dataDir, '/home/op/.timemesh');
    assert.equal(c.logLevel, 'info');
    assert.equal(c.clockOffsetMs, 0);
    assert.equal(c.clockDriftPpm, 0);
    assert.equal(c.localStratum, null);
    assert.equal(c.roster, null);
    assert.equal(c.swarmKey, null);
    assert.deepEqual(c.core, {});
    assert.equal(c.inboundRequestsPerSecond, 10);
    assert.equal(c.gps, null);
    assert.equal(c.gpsFudgeMs, 0);
    assert.equal(c.pps, null);
    assert.equal(c.ppsFudgeNs, 0);
    assert.equal(c.disciplineSystemClock, false);
    assert.equal(c.disciplineDryRun, false);
    assert.equal(c.stepThresholdMs, 128);
    assert.equal(c.maxOffsetMs, 1000);
    assert.equal(c.maxBackwardStepMs, 1000);
    assert.equal(c.resetState, false);
    assert.equal(c.configFile, null);
    assert.ok(Object.values(c.sources).every((s) => s === 'default'));
    assert.equal(Object.keys(c.sources).length, NODE_SETTINGS.length);
  });

  it('returns fresh objects, so a caller cannot change the defaults for the next one', () => {
    const a = resolveWith({});
    a.listen.push('/ip4/127.0.0.1/tcp/1');
    a.api.port = 1;
    const b = resolveWith({});
    assert.deepEqual(b.listen, ['/ip4/0.0.0.0/tcp/7071']);
    assert.equal(b.api.port, DEFAULT_API.port);
  });

  it('puts the data dir under an absolute XDG_DATA_HOME, and ignores a relative one', () => {
    assert.equal(resolveWith({ env: { XDG_DATA_HOME: '/xdg' } }).dataDir, '/xdg/timemesh');
    assert.equal(resolveWith({ env: { XDG_DATA_HOME: 'rel/xdg' } }).dataDir, '/home/op/.timemesh');
    assert.equal(defaultDataDir({}, '/u'), '/u/.timemesh');
  });

  it('documents the clock offset and drift as testing aids in the schema', () => {
    const schema = nodeConfigJsonSchema() as { properties: Record<string, { description?: string }> };
    assert.match(schema.properties['clockOffsetMs']?.description ?? '', /TESTING AID/);
    assert.match(schema.properties['clockDriftPpm']?.description ?? '', /TESTING AID/);
    // Every setting is described, so the schema can serve as reference documentation.
    for (const [key, prop] of Object.entries(schema.properties)) {
      assert.ok((prop.description ?? '').length > 10, `${key} has no description`);
    }
  });
});

describe('precedence: flag > environment > config file > default', () => {
  const layers = {
    file: { api: '10.0.0.1:1001' },
    env: { TIMEMESH_API: '10.0.0.2:1002' },
    flags: { api: '10.0.0.3:1003' },
  };

  it('takes each setting from the highest source that sets it', () => {
    const all = resolveWith({ ...file(layers.file), env: layers.env, flags: layers.flags });
    assert.deepEqual(all.api, { host: '10.0.0.3', port: 1003 });
    assert.equal(all.sources['api'], 'flag --api');
    const noFlag = resolveWith({ ...file(layers.file), env: layers.env });
    assert.deepEqual(noFlag.api, { host: '10.0.0.2', port: 1002 });
    assert.equal(noFlag.sources['api'], 'environment TIMEMESH_API');
    const fileOnly = resolveWith(file(layers.file));
    assert.deepEqual(fileOnly.api, { host: '10.0.0.1', port: 1001 });
    assert.equal(fileOnly.sources['api'], `config file ${FILE}`);
    assert.equal(fileOnly.configFile, FILE);
  });

  it('merges setting by setting, core settings included', () => {
    const c = resolveWith({
      ...file({ network: 'lab', core: { minPollS: 8, pollPeers: 3 }, logLevel: 'debug' }),
      env: { TIMEMESH_POLL_PEERS: '5', TIMEMESH_LOG_LEVEL: 'warn' },
      flags: { 'max-poll-s': '128' },
    });
    assert.equal(c.network, 'lab');
    assert.equal(c.logLevel, 'warn');
    assert.deepEqual(c.core, { pollPeers: 5, minPollS: 8, maxPollS: 128 });
    assert.equal(c.sources['network'], `config file ${FILE}`);
    assert.equal(c.sources['core.pollPeers'], 'environment TIMEMESH_POLL_PEERS');
    assert.equal(c.sources['core.minPollS'], `config file ${FILE}`);
    assert.equal(c.sources['core.maxPollS'], 'flag --max-poll-s');
    assert.equal(c.sources['core.faultTolerance'], 'default');
  });

  it('lets "auto" and "off" in the environment override a file value with null', () => {
    const c = resolveWith({
      ...file({ core: { faultTolerance: 2 }, localStratum: 3 }),
      env: { TIMEMESH_FAULT_TOLERANCE: 'auto', TIMEMESH_LOCAL_STRATUM: 'OFF' },
    });
    assert.equal(c.core.faultTolerance, null);
    assert.ok(Object.hasOwn(c.core, 'faultTolerance'));
    assert.equal(c.localStratum, null);
    const fileOnly = resolveWith(file({ core: { faultTolerance: 2 }, localStratum: 3 }));
    assert.equal(fileOnly.core.faultTolerance, 2);
    assert.equal(fileOnly.localStratum, 3);
  });

  it('treats an empty environment variable as unset', () => {
    const c = resolveWith({ ...file({ network: 'lab' }), env: { TIMEMESH_NETWORK: '', TIMEMESH_API: '  ' } });
    assert.equal(c.network, 'lab');
    assert.deepEqual(c.api, DEFAULT_API);
  });

  it('ignores environment variables outside TIMEMESH_*', () => {
    const c = resolveWith({ env: { PATH: '/bin', TIMEMESHX: '1', HOME: '/elsewhere' } });
    assert.equal(c.network, 'default');
  });
});

describe('strings from flags and the environment', () => {
  it('splits list settings on commas and accumulates repeated flags', () => {
    const a = `/ip4/192.0.2.1/tcp/7071/p2p/${ED_ID}`;
    const b = `/dns4/peer.example/tcp/7071/p2p/${ED_ID_2}`;
    const fromEnv = resolveWith({ env: { TIMEMESH_BOOTSTRAP: ` ${a} ,${b},` } });
    assert.deepEqual(fromEnv.bootstrap, [a, b]);
    const fromFlags = resolveWith({
      flags: { listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/10.0.0.1/tcp/1,/ip6/::1/tcp/2'] },
    });
    assert.deepEqual(fromFlags.listen, ['/ip4/127.0.0.1/tcp/0', '/ip4/10.0.0.1/tcp/1', '/ip6/::1/tcp/2']);
  });

  it('converts numbers, including negative and fractional ones', () => {
    const c = resolveWith({
      flags: { 'clock-offset-ms': '-350.5', 'clock-drift-ppm': '+20', 'inbound-requests-per-second': '2.5' },
      env: { TIMEMESH_LOCAL_STRATUM: '8', TIMEMESH_MIN_POLL_S: '1e0' },
    });
    assert.equal(c.clockOffsetMs, -350.5);
    assert.equal(c.clockDriftPpm, 20);
    assert.equal(c.inboundRequestsPerSecond, 2.5);
    assert.equal(c.localStratum, 8);
    assert.equal(c.core.minPollS, 1);
  });

  it('parses HOST:PORT, with brackets for IPv6 and port 0 for any free port', () => {
    assert.deepEqual(resolveWith({ flags: { api: '[::1]:0' } }).api, { host: '::1', port: 0 });
    assert.deepEqual(resolveWith({ flags: { api: 'localhost:8080' } }).api, {
      host: 'localhost',
      port: 8080,
    });
  });

  it('takes --reset-state from the flags only, and never reads --config as a setting', () => {
    assert.equal(resolveWith({ flags: { 'reset-state': true, config: 'ignored.yaml' } }).resetState, true);
    assert.equal(resolveWith({ flags: { 'reset-state': false } }).resetState, false);
  });

  it('resolves a relative data dir against the working directory, and expands ~', () => {
    assert.equal(resolveWith({ flags: { 'data-dir': 'node1' } }).dataDir, '/srv/run/node1');
    assert.equal(resolveWith({ env: { TIMEMESH_DATA_DIR: '~/tm' } }).dataDir, '/home/op/tm');
    assert.equal(resolveWith({ flags: { 'data-dir': '/abs/dir' } }).dataDir, '/abs/dir');
  });

  it('resolves a swarm key path like the data dir, and "off" to none', () => {
    assert.equal(
      resolveWith({ flags: { 'swarm-key': 'keys/swarm.key' } }).swarmKey,
      '/srv/run/keys/swarm.key',
    );
    assert.equal(resolveWith({ env: { TIMEMESH_SWARM_KEY: '~/swarm.key' } }).swarmKey, '/home/op/swarm.key');
    assert.equal(
      resolveWith({ file: { path: '/etc/timemesh/node.yaml', raw: { swarmKey: 'swarm.key' } } }).swarmKey,
      '/etc/timemesh/swarm.key',
    );
    assert.equal(
      resolveWith({ flags: { 'swarm-key': 'off' }, file: file({ swarmKey: '/k' }).file }).swarmKey,
      null,
    );
    assertRejected(
      file({ swarmKey: '' }),
      'config file timemesh.yaml: swarmKey: expected a file path, or "off", got ""',
    );
  });

  it('parses --gps DEVICE[:BAUD] (9600 by default) and --gps-fudge-ms, from every source', () => {
    assert.deepEqual(resolveWith({ flags: { gps: '/dev/ttyUSB0' } }).gps, {
      path: '/dev/ttyUSB0',
      baudRate: 9600,
    });
    assert.deepEqual(resolveWith({ env: { TIMEMESH_GPS: '/dev/ttyACM0:115200' } }).gps, {
      path: '/dev/ttyACM0',
      baudRate: 115200,
    });
    assert.deepEqual(resolveWith(file({ gps: '/dev/serial/by-id/usb-u-blox:4800', gpsFudgeMs: 120 })).gps, {
      path: '/dev/serial/by-id/usb-u-blox',
      baudRate: 4800,
    });
    assert.equal(resolveWith({ flags: { 'gps-fudge-ms': '-35.5' } }).gpsFudgeMs, -35.5);
    assert.equal(resolveWith({ env: { TIMEMESH_GPS_FUDGE_MS: '120' } }).gpsFudgeMs, 120);
    assert.equal(resolveWith({ flags: { gps: 'off' }, ...file({ gps: '/dev/ttyS0' }) }).gps, null);
    const c = resolveWith({ flags: { gps: '/dev/ttyS0' } });
    assert.equal(c.sources['gps'], 'flag --gps');
  });

  it('parses --pps DEVICE and --pps-fudge-ns, and rejects a relative device or a fudge in the wrong unit', () => {
    assert.equal(resolveWith({ flags: { pps: '/dev/pps0' } }).pps, '/dev/pps0');
    assert.equal(resolveWith({ env: { TIMEMESH_PPS: '/dev/pps1' } }).pps, '/dev/pps1');
    assert.equal(resolveWith({ flags: { pps: 'off' }, ...file({ pps: '/dev/pps0' }) }).pps, null);
    assert.equal(resolveWith(file({ ppsFudgeNs: -350 })).ppsFudgeNs, -350);
    assertRejected(
      { flags: { pps: 'pps0' } },
      'flag --pps: expected an absolute PPS device path such as /dev/pps0, or "off", got "pps0"',
    );
    assertRejected(
      { flags: { 'pps-fudge-ns': '2e8' } },
      'flag --pps-fudge-ns: expected an integer number of nanoseconds within ±100000000, got "2e8"',
    );
  });

  it('takes --discipline-system-clock and --discipline-dry-run as switches, and true/false elsewhere', () => {
    const c = resolveWith({ flags: { 'discipline-system-clock': true, 'discipline-dry-run': true } });
    assert.equal(c.disciplineSystemClock, true);
    assert.equal(c.disciplineDryRun, true);
    assert.equal(c.sources['disciplineSystemClock'], 'flag --discipline-system-clock');
    assert.equal(
      resolveWith({ env: { TIMEMESH_DISCIPLINE_SYSTEM_CLOCK: 'yes' } }).disciplineSystemClock,
      true,
    );
    assert.equal(
      resolveWith({ env: { TIMEMESH_DISCIPLINE_SYSTEM_CLOCK: '0' } }).disciplineSystemClock,
      false,
    );
    assert.equal(resolveWith(file({ disciplineSystemClock: true })).disciplineSystemClock, true);
    assertRejected(
      { env: { TIMEMESH_DISCIPLINE_SYSTEM_CLOCK: 'sometimes' } },
      'environment TIMEMESH_DISCIPLINE_SYSTEM_CLOCK: expected true or false, got "sometimes"',
    );
    assertRejected(
      file({ disciplineDryRun: 'maybe' }),
      'config file timemesh.yaml: disciplineDryRun: expected true or false, got "maybe"',
    );
  });

  it('refuses to discipline the host clock from a testing-aid clock, and a step threshold above the max offset', () => {
    assertRejected(
      { flags: { 'discipline-system-clock': true, 'clock-offset-ms': '300' } },
      "flag --discipline-system-clock: cannot be combined with clockOffsetMs (flag --clock-offset-ms), a testing aid that runs the node's clock off on purpose; drop one, or add disciplineDryRun",
    );
    const dry = resolveWith({
      flags: { 'discipline-system-clock': true, 'discipline-dry-run': true, 'clock-drift-ppm': '20' },
    });
    assert.equal(dry.clockDriftPpm, 20);
    assertRejected(
      { flags: { 'step-threshold-ms': '2000' } },
      'flag --step-threshold-ms: expected at most maxOffsetMs (1000), got 2000',
    );
  });

  it('parses the step threshold, the max offset ("off": no limit) and the backward step limit', () => {
    const c = resolveWith({
      flags: { 'step-threshold-ms': '0.5', 'max-offset-ms': 'off', 'max-backward-step-ms': '0' },
    });
    assert.equal(c.stepThresholdMs, 0.5);
    assert.equal(c.maxOffsetMs, null);
    assert.equal(c.maxBackwardStepMs, 0);
    assert.equal(resolveWith({ env: { TIMEMESH_MAX_OFFSET_MS: '5000' } }).maxOffsetMs, 5000);
    assertRejected(
      { flags: { 'step-threshold-ms': '0' } },
      'flag --step-threshold-ms: expected a number of milliseconds from 0.001 to 1000000, got "0"',
    );
    assertRejected(
      { flags: { 'max-backward-step-ms': '-1' } },
      'flag --max-backward-step-ms: expected a number of milliseconds from 0 to 86400000, got "-1"',
    );
  });

  it('rejects a relative GPS device, an odd baud rate and a fudge beyond ±1000 ms, naming the flag', () => {
    const device =
      'expected DEVICE[:BAUD], an absolute serial device path such as /dev/ttyUSB0 or /dev/ttyACM0:4800, or "off"';
    assertRejected({ flags: { gps: 'ttyUSB0' } }, `flag --gps: ${device}, got "ttyUSB0"`);
    assertRejected({ flags: { gps: ':9600' } }, `flag --gps: ${device}, got ":9600"`);
    const baud =
      'expected a baud rate after the device, one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600 (default 9600)';
    assertRejected({ flags: { gps: '/dev/ttyUSB0:9601' } }, `flag --gps: ${baud}, got "/dev/ttyUSB0:9601"`);
    assertRejected(
      { env: { TIMEMESH_GPS: '/dev/ttyUSB0:fast' } },
      `environment TIMEMESH_GPS: ${baud}, got "/dev/ttyUSB0:fast"`,
    );
    assertRejected({ flags: { gps: '/dev/ttyUSB0:' } }, `flag --gps: ${baud}, got "/dev/ttyUSB0:"`);
    assertRejected(
      { flags: { 'gps-fudge-ms': '1500' } },
      'flag --gps-fudge-ms: expected a number of milliseconds within ±1000, got "1500"',
    );
    assertRejected(
      file({ gpsFudgeMs: 'abc' }),
      'config file timemesh.yaml: gpsFudgeMs: expected a number of milliseconds within ±1000, got "abc"',
    );
  });

  it('normalizes roster peer ids', () => {
    const c = resolveWith({ flags: { roster: [`${ED_ID},${ED_ID_2}`] } });
    assert.deepEqual(c.roster, [ED_ID, ED_ID_2]);
  });

  it('accepts the parseArgs result of NODE_FLAG_OPTIONS as it is', () => {
    const { values } = parseArgs({
      args: [
        '--api',
        '127.0.0.1:0',
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--poll-peers',
        '4',
        '--reset-state',
      ],
      options: NODE_FLAG_OPTIONS,
      strict: true,
    });
    const c = resolveWith({ flags: values });
    assert.deepEqual(c.api, { host: '127.0.0.1', port: 0 });
    assert.deepEqual(c.listen, ['/ip4/127.0.0.1/tcp/0']);
    assert.equal(c.core.pollPeers, 4);
    assert.equal(c.resetState, true);
  });

  it('has a flag for every setting, repeatable exactly for the list settings', () => {
    const options = NODE_FLAG_OPTIONS as Record<string, { type: string; multiple?: boolean }>;
    for (const s of NODE_SETTINGS) {
      const option = options[s.flag];
      assert.ok(option !== undefined, `no flag --${s.flag}`);
      assert.equal(option.multiple === true, s.list, `--${s.flag} multiple`);
      assert.ok(NODE_ENV_VARS.includes(s.env));
    }
    assert.equal(Object.keys(options).length, NODE_SETTINGS.length + 2); // + config, reset-state
  });
});

describe('validation names the source and the setting', () => {
  it('words the three examples of the brief exactly', () => {
    assertRejected(file({ api: '7070' }), 'config file timemesh.yaml: api: expected HOST:PORT, got "7070"');
    assertRejected(
      { flags: { 'clock-offset-ms': 'abc' } },
      'flag --clock-offset-ms: expected a number of milliseconds within ±86400000 (1 day), got "abc"',
    );
    assertRejected(
      { env: { TIMEMESH_POLL_PEERS: '0' } },
      'environment TIMEMESH_POLL_PEERS: expected an integer ≥ 1, got "0"',
    );
  });

  it('is a ConfigError, a TimemeshError with code TM_ERR_CONFIG, one line per issue', () => {
    const error = errorOf({ flags: { api: 'x' }, env: { TIMEMESH_NETWORK: 'Bad Name' } });
    assert.ok(error instanceof TimemeshError);
    assert.equal(error.code, CONFIG_ERROR_CODE);
    assert.equal(error.code, 'TM_ERR_CONFIG');
    assert.equal(error.message, error.issues.join('\n'));
    assert.equal(error.issues.length, 2);
  });

  // [input, the one expected issue]
  const cases: [string, () => ResolveNodeConfigInput, string][] = [
    [
      'network name',
      () => ({ env: { TIMEMESH_NETWORK: 'My_Mesh' } }),
      'environment TIMEMESH_NETWORK: expected a network name: 1 to 32 of a-z, 0-9 and -, got "My_Mesh"',
    ],
    [
      'network name too long',
      () => file({ network: 'a'.repeat(33) }),
      `config file timemesh.yaml: network: expected a network name: 1 to 32 of a-z, 0-9 and -, got "${'a'.repeat(33)}"`,
    ],
    [
      'api port out of range',
      () => ({ flags: { api: '127.0.0.1:65536' } }),
      'flag --api: expected HOST:PORT with a port from 0 to 65535, got "127.0.0.1:65536"',
    ],
    [
      'api given as a number in YAML',
      () => file({ api: 7070 }),
      'config file timemesh.yaml: api: expected HOST:PORT, got 7070',
    ],
    [
      'listen with /p2p/',
      () => file({ listen: ['/ip4/0.0.0.0/tcp/1', `/ip4/0.0.0.0/tcp/2/p2p/${ED_ID}`] }),
      `config file timemesh.yaml: listen[1]: expected a TCP multiaddr to listen on, without /p2p/, such as /ip4/0.0.0.0/tcp/7071, got "/ip4/0.0.0.0/tcp/2/p2p/${ED_ID}"`,
    ],
    [
      'listen over UDP',
      () => ({ flags: { listen: ['/ip4/0.0.0.0/udp/1'] } }),
      'flag --listen: expected a TCP multiaddr to listen on, without /p2p/, such as /ip4/0.0.0.0/tcp/7071, got "/ip4/0.0.0.0/udp/1"',
    ],
    [
      'listen empty',
      () => file({ listen: [] }),
      'config file timemesh.yaml: listen: expected at least one listen multiaddr, got []',
    ],
    [
      'listen not a list',
      () => file({ listen: '/ip4/0.0.0.0/tcp/1' }),
      'config file timemesh.yaml: listen: expected a list of listen multiaddrs, got "/ip4/0.0.0.0/tcp/1"',
    ],
    [
      'bootstrap without /p2p/',
      () => ({ flags: { bootstrap: ['/ip4/192.0.2.1/tcp/7071'] } }),
      'flag --bootstrap: expected a full multiaddr ending in /p2p/<peer id>, as a node prints on start (/ip4/192.0.2.10/tcp/7071/p2p/12D3KooW…), got "/ip4/192.0.2.1/tcp/7071"',
    ],
    [
      'bootstrap not a multiaddr',
      () => ({ env: { TIMEMESH_BOOTSTRAP: '192.0.2.1:7071' } }),
      'environment TIMEMESH_BOOTSTRAP: expected a multiaddr (String multiaddr must start with "/"), got "192.0.2.1:7071"',
    ],
    [
      'bootstrap with a bad address',
      () => file({ bootstrap: [`/ip4/999.0.0.1/tcp/1/p2p/${ED_ID}`] }),
      `config file timemesh.yaml: bootstrap[0]: expected a multiaddr (Invalid IPv4 address "999.0.0.1"), got "/ip4/999.0.0.1/tcp/1/p2p/${ED_ID}"`,
    ],
    [
      'data dir empty in a file',
      () => file({ dataDir: '' }),
      'config file timemesh.yaml: dataDir: expected a directory path, got ""',
    ],
    [
      'log level',
      () => ({ flags: { 'log-level': 'verbose' } }),
      'flag --log-level: expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "verbose"',
    ],
    [
      'clock offset beyond a day',
      () => file({ clockOffsetMs: 86_400_001 }),
      'config file timemesh.yaml: clockOffsetMs: expected a number of milliseconds within ±86400000 (1 day), got 86400001',
    ],
    [
      'clock drift beyond 1000 ppm',
      () => ({ env: { TIMEMESH_CLOCK_DRIFT_PPM: '-1001' } }),
      'environment TIMEMESH_CLOCK_DRIFT_PPM: expected a number of ppm within ±1000, got "-1001"',
    ],
    [
      'clock drift not a number in a file',
      () => file({ clockDriftPpm: '20' }),
      'config file timemesh.yaml: clockDriftPpm: expected a number of ppm within ±1000, got "20"',
    ],
    [
      'local stratum 16',
      () => ({ flags: { 'local-stratum': '16' } }),
      'flag --local-stratum: expected an integer from 1 to 15, or "off", got "16"',
    ],
    [
      'local stratum 0',
      () => file({ localStratum: 0 }),
      'config file timemesh.yaml: localStratum: expected an integer from 1 to 15, or "off", got 0',
    ],
    [
      'fault tolerance fractional',
      () => ({ env: { TIMEMESH_FAULT_TOLERANCE: '1.5' } }),
      'environment TIMEMESH_FAULT_TOLERANCE: expected an integer ≥ 0, or "auto", got "1.5"',
    ],
    [
      'fault tolerance negative in a file',
      () => file({ core: { faultTolerance: -1 } }),
      'config file timemesh.yaml: core.faultTolerance: expected an integer ≥ 0, or "auto", got -1',
    ],
    [
      'poll peers in a file',
      () => file({ core: { pollPeers: 2.5 } }),
      'config file timemesh.yaml: core.pollPeers: expected an integer ≥ 1, got 2.5',
    ],
    [
      'min poll 0',
      () => ({ flags: { 'min-poll-s': '0' } }),
      'flag --min-poll-s: expected a number of seconds > 0 and ≤ 86400, got "0"',
    ],
    [
      'inbound rate 0',
      () => ({ env: { TIMEMESH_INBOUND_REQUESTS_PER_SECOND: '0' } }),
      'environment TIMEMESH_INBOUND_REQUESTS_PER_SECOND: expected a number > 0 and ≤ 10000, got "0"',
    ],
    [
      'roster with an RSA id',
      () => file({ roster: [ED_ID, RSA_ID] }),
      `config file timemesh.yaml: roster[1]: expected an Ed25519 peer id (12D3KooW…, as \`timemesh id\` prints), not an RSA one, got "${RSA_ID}"`,
    ],
    [
      'roster with garbage',
      () => ({ flags: { roster: [ED_ID, 'alice'] } }),
      'flag --roster: expected an Ed25519 peer id (12D3KooW…, as `timemesh id` prints), got "alice"',
    ],
    [
      'roster empty',
      () => file({ roster: [] }),
      'config file timemesh.yaml: roster: expected at least one peer id (leave roster out to admit any peer), got []',
    ],
    [
      'a file that is not a mapping',
      () => file(['network', 'x']),
      'config file timemesh.yaml: expected a mapping of settings, got ["network","x"]',
    ],
    [
      'a core section that is not a mapping',
      () => file({ core: 8 }),
      'config file timemesh.yaml: core: expected a core section (a mapping), got 8',
    ],
    [
      'a flag given without a value',
      () => ({ flags: { api: true } }),
      'flag --api: expected a value, got none',
    ],
  ];
  for (const [name, input, line] of cases) {
    it(`rejects ${name}`, () => assertRejected(input(), line));
  }
});

describe('strictness: unknown keys, flags and variables', () => {
  it('rejects an unknown file key with the closest known one', () => {
    assertRejected(
      file({ bootstrapPeers: [] }),
      'config file timemesh.yaml: bootstrapPeers: unknown key (did you mean "bootstrap"?); expected one of network, listen, bootstrap, api, dataDir, logLevel, clockOffsetMs, clockDriftPpm, localStratum, roster, swarmKey, core, inboundRequestsPerSecond, anchors, serveNtp, serveTsq, gps, gpsFudgeMs, pps, ppsFudgeNs, disciplineSystemClock, disciplineDryRun, stepThresholdMs, maxOffsetMs, maxBackwardStepMs',
    );
  });

  it('matches snake_case and reordered words', () => {
    const issue = errorOf(file({ data_dir: '/x', driftPpmClock: 1 })).issues;
    assert.match(
      issue[0] ?? '',
      /^config file timemesh\.yaml: data_dir: unknown key \(did you mean "dataDir"\?\)/,
    );
    assert.match(issue[1] ?? '', /driftPpmClock: unknown key \(did you mean "clockDriftPpm"\?\)/);
  });

  it('says where a setting in the wrong section belongs', () => {
    const issues = errorOf(file({ pollPeers: 3, core: { logLevel: 'debug' } })).issues;
    assert.ok(
      issues.includes(
        'config file timemesh.yaml: pollPeers: unknown key (did you mean "core.pollPeers"?); expected one of network, listen, bootstrap, api, dataDir, logLevel, clockOffsetMs, clockDriftPpm, localStratum, roster, swarmKey, core, inboundRequestsPerSecond, anchors, serveNtp, serveTsq, gps, gpsFudgeMs, pps, ppsFudgeNs, disciplineSystemClock, disciplineDryRun, stepThresholdMs, maxOffsetMs, maxBackwardStepMs',
      ),
      issues.join('\n'),
    );
    assert.ok(
      issues.includes(
        'config file timemesh.yaml: core.logLevel: unknown key (did you mean "logLevel"? it belongs at the top level); expected one of pollPeers, faultTolerance, minPollS, maxPollS',
      ),
      issues.join('\n'),
    );
  });

  it('rejects an unknown TIMEMESH_ variable with the closest known one', () => {
    const [issue] = errorOf({ env: { TIMEMESH_BOOTSTRAPS: '/x' } }).issues;
    assert.match(
      issue ?? '',
      /^environment TIMEMESH_BOOTSTRAPS: unknown variable \(did you mean TIMEMESH_BOOTSTRAP\?\); expected one of TIMEMESH_CONFIG, /,
    );
  });

  it('refuses TIMEMESH_RESET_STATE and says to use the flag', () => {
    const [issue] = errorOf({ env: { TIMEMESH_RESET_STATE: '1' } }).issues;
    assert.match(
      issue ?? '',
      /^environment TIMEMESH_RESET_STATE: not read from the environment.*--reset-state/,
    );
  });

  it('rejects an unknown flag with the closest known one', () => {
    assertRejected(
      { flags: { 'poll-pears': '3' } },
      'flag --poll-pears: unknown flag (did you mean --poll-peers?)',
    );
  });
});

describe('reporting', () => {
  it('reports every problem of every source at once, file first, flags last', () => {
    const error = errorOf({
      ...file({ api: 1, network: 'UPPER' }),
      env: { TIMEMESH_POLL_PEERS: 'x' },
      flags: { 'clock-drift-ppm': 'fast' },
    });
    assert.equal(error.issues.length, 4);
    assert.match(error.issues[0] ?? '', /^config file timemesh\.yaml: network: /);
    assert.match(error.issues[1] ?? '', /^config file timemesh\.yaml: api: /);
    assert.match(error.issues[2] ?? '', /^environment TIMEMESH_POLL_PEERS: /);
    assert.match(error.issues[3] ?? '', /^flag --clock-drift-ppm: /);
  });

  it('checks maxPollS ≥ minPollS across sources, naming where each came from', () => {
    assertRejected(
      { ...file({ core: { minPollS: 16 } }), flags: { 'max-poll-s': '8' } },
      'flag --max-poll-s: expected a number ≥ core.minPollS (16, from config file timemesh.yaml), got 8',
    );
    assertRejected(
      file({ core: { maxPollS: 2 } }),
      'config file timemesh.yaml: core.maxPollS: expected a number ≥ core.minPollS (4, the default), got 2',
    );
    // Against a default maximum, the minimum is to blame.
    assertRejected(
      { env: { TIMEMESH_MIN_POLL_S: '100' } },
      'environment TIMEMESH_MIN_POLL_S: expected a number ≤ core.maxPollS (64, the default), got 100',
    );
  });

  it('runs cross-setting rules only once every setting is valid', () => {
    const error = errorOf({ flags: { 'min-poll-s': '100', 'max-poll-s': 'x' } });
    assert.deepEqual(error.issues, [
      'flag --max-poll-s: expected a number of seconds > 0 and ≤ 86400, got "x"',
    ]);
  });
});

describe('config files', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'timemesh-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function write(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  it('reads YAML and TOML into the same configuration', async () => {
    const yamlPath = await write(
      'a.yaml',
      [
        'network: lab',
        'listen: [/ip4/127.0.0.1/tcp/0]',
        'bootstrap:',
        `  - /ip4/127.0.0.1/tcp/4001/p2p/${ED_ID}`,
        'api: 127.0.0.1:0',
        'dataDir: data',
        'clockOffsetMs: -250',
        'localStratum: off',
        'core:',
        '  pollPeers: 4',
        '  faultTolerance: auto',
        'roster:',
        `  - ${ED_ID}`,
        '',
      ].join('\n'),
    );
    const tomlPath = await write(
      'a.toml',
      [
        'network = "lab"',
        'listen = ["/ip4/127.0.0.1/tcp/0"]',
        `bootstrap = ["/ip4/127.0.0.1/tcp/4001/p2p/${ED_ID}"]`,
        'api = "127.0.0.1:0"',
        'dataDir = "data"',
        'clockOffsetMs = -250',
        'localStratum = "off"',
        `roster = ["${ED_ID}"]`,
        '',
        '[core]',
        'pollPeers = 4',
        'faultTolerance = "auto"',
        '',
      ].join('\n'),
    );
    const fromYaml = resolveWith({ file: await loadConfigFile(yamlPath) });
    const fromToml = resolveWith({ file: await loadConfigFile(tomlPath) });
    assert.equal(fromYaml.network, 'lab');
    assert.deepEqual(fromYaml.api, { host: '127.0.0.1', port: 0 });
    assert.equal(fromYaml.clockOffsetMs, -250);
    assert.deepEqual(fromYaml.core, { pollPeers: 4, faultTolerance: null });
    assert.deepEqual(fromYaml.roster, [ED_ID]);
    // A relative dataDir in a file is relative to the file's directory.
    assert.equal(fromYaml.dataDir, join(dir, 'data'));
    const { configFile: _a, sources: _b, ...yamlRest } = fromYaml;
    const { configFile: _c, sources: _d, ...tomlRest } = fromToml;
    assert.deepEqual(tomlRest, yamlRest);
    assert.equal(fromToml.sources['network'], `config file ${tomlPath}`);
  });

  it('treats an empty YAML file as no settings', async () => {
    const path = await write('empty.yml', '# nothing yet\n');
    assert.deepEqual(resolveWith({ file: await loadConfigFile(path) }).listen, [...DEFAULT_LISTEN]);
  });

  it('reports YAML syntax errors with the position', async () => {
    const path = await write('bad.yaml', 'network: lab\napi: [unclosed\n');
    await assert.rejects(loadConfigFile(path), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(
        error.issues[0] ?? '',
        new RegExp(`^config file ${path}: line \\d+, column \\d+: invalid YAML: `),
      );
      return true;
    });
  });

  it('rejects duplicate YAML keys rather than keep the last one silently', async () => {
    const path = await write('dup.yaml', 'network: a\nnetwork: b\n');
    await assert.rejects(
      loadConfigFile(path),
      /config file .*dup\.yaml: line 2, column 1: invalid YAML: .*unique/i,
    );
  });

  it('reports TOML syntax errors with the position', async () => {
    const path = await write('bad.toml', 'network = "lab"\napi = \n');
    await assert.rejects(loadConfigFile(path), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.issues.length, 1);
      assert.match(
        error.issues[0] ?? '',
        new RegExp(`^config file ${path}: line 2, column \\d+: invalid TOML: \\S`),
      );
      assert.doesNotMatch(error.message, /\n/); // no code excerpt in the one-line message
      return true;
    });
  });

  it('names the file in validation errors of its content', async () => {
    const path = await write('c.toml', 'api = "7070"\n');
    assert.deepEqual(errorOf({ file: await loadConfigFile(path) }).issues, [
      `config file ${path}: api: expected HOST:PORT, got "7070"`,
    ]);
  });

  it('rejects other extensions and missing files', async () => {
    await assert.rejects(
      loadConfigFile(join(dir, 'x.json')),
      /config file .*x\.json: unsupported file type "\.json"; expected \.yaml, \.yml or \.toml/,
    );
    await assert.rejects(
      loadConfigFile(join(dir, 'missing.yaml')),
      /config file .*missing\.yaml: cannot read the file: /,
    );
  });

  it('finds the file from --config, else TIMEMESH_CONFIG, and loads it', async () => {
    await write('d.yaml', 'network: from-file\n');
    assert.equal(configFilePath({ config: 'a.yaml' }, { TIMEMESH_CONFIG: 'b.yaml' }), 'a.yaml');
    assert.equal(configFilePath({}, { TIMEMESH_CONFIG: 'b.yaml' }), 'b.yaml');
    assert.equal(configFilePath({}, {}), null);
    const c = await loadNodeConfig({ env: { TIMEMESH_CONFIG: 'd.yaml' }, cwd: dir, homeDir: HOME });
    assert.equal(c.network, 'from-file');
    assert.equal(c.configFile, 'd.yaml');
    const overridden = await loadNodeConfig({
      flags: { config: 'd.yaml', network: 'from-flag' },
      cwd: dir,
      homeDir: HOME,
    });
    assert.equal(overridden.network, 'from-flag');
  });
});
