/**
 * packaging/: the systemd unit, the example config, the Docker image and the compose demo.
 *
 * No Docker daemon runs on the test machines, so no image is built here. What is checked instead:
 * - the example config loads with the real loader, as written and with every commented-out setting
 *   switched on, and mentions every setting a deployment would use;
 * - the unit grants exactly CAP_SYS_TIME (what --discipline-system-clock needs, nothing more), and with them the node's own
 *   privilege check (requireClockPrivileges) passes for a non-root user; `systemd-analyze verify`
 *   accepts it (when systemd-analyze exists);
 * - the Dockerfile and the compose file parse and say what they must (non-root, the ports, the health
 *   check, the four services and their commands);
 * - the compose topology itself, run as local processes on 127.0.0.1: chronyd with packaging/chrony.conf
 *   (its port moved to a free one, bound to loopback), node a with a's command, b and c with their
 *   exact shell commands (compose's `$$` unescaped, the service names a and ntp mapped to loopback
 *   addresses) and `timemesh` on PATH, as in the image. a must become anchored to chronyd (stratum 2)
 *   and b and c anchored through a (stratum 3); the image's HEALTHCHECK command must pass against a.
 */
import { after, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import YAML from 'yaml';
import { loadNodeConfig, nodeConfigFileSchema } from '../../node/config.ts';
import { requireClockPrivileges } from '../../refclock/systemClock.ts';
import { chronydMissing, freeUdpPort, ntpReplyFrom, privateDir, waitFor } from '../refclock/ntpHelpers.ts';
import { TIMEMESH_BIN, getJson } from './daemonProcess.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const PACKAGING = join(ROOT, 'packaging');

const read = (name: string): Promise<string> => readFile(join(PACKAGING, name), 'utf8');

const scratch: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}
after(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

// ---- the example config -------------------------------------------------------------------------------

/** Switches on every "#key: value" line (and the "#  - item" lines under one); prose stays a comment. */
function uncommentSettings(text: string): string {
  return text
    .split('\n')
    .map((line) => (/^#[^\s#]/.test(line) || /^# {2}/.test(line) ? line.slice(1) : line))
    .join('\n');
}

describe('packaging/timemesh.yaml.example', () => {
  it('loads with the real config loader, as written', async () => {
    const dir = await tempDir('timemesh-example-');
    const path = join(dir, 'timemesh.yaml');
    await writeFile(path, await read('timemesh.yaml.example'));
    const config = await loadNodeConfig({ flags: { config: path }, env: {}, cwd: dir, homeDir: dir });
    assert.equal(config.network, 'default', 'network');
    assert.deepEqual(config.listen, ['/ip4/0.0.0.0/tcp/7071'], 'listen');
    assert.deepEqual(config.api, { host: '127.0.0.1', port: 7070 }, 'the API stays on loopback');
    assert.equal(config.sources['api'], `config file ${path}`, 'the values come from the file');
    assert.deepEqual(config.anchors, [], 'no anchor unless the operator adds one');
    assert.equal(config.disciplineSystemClock, false, 'the host clock is left alone by default');
  });

  it('loads with every commented-out setting switched on', async () => {
    const dir = await tempDir('timemesh-example-');
    const path = join(dir, 'timemesh.yaml');
    const text = uncommentSettings(await read('timemesh.yaml.example'));
    await writeFile(path, text);
    const config = await loadNodeConfig({ flags: { config: path }, env: {}, cwd: dir, homeDir: dir });
    assert.equal(config.bootstrap.length, 2, 'bootstrap');
    assert.deepEqual(
      config.anchors.map((a) => a.url.split('?')[0]),
      ['ntp://time1.example.org:123', 'ntp://192.0.2.123:123', 'tsq://time.example.net:443'],
      'anchors',
    );
    assert.deepEqual(config.serveNtp, { host: '0.0.0.0', port: 123 }, 'serveNtp on port 123');
    assert.equal(config.localStratum, 10, 'localStratum');
    assert.equal(config.roster?.length, 2, 'roster');
    assert.equal(config.swarmKey, '/etc/timemesh/swarm.key', 'swarmKey');
    assert.deepEqual(config.gps, { path: '/dev/ttyUSB0', baudRate: 9600 }, 'gps');
    assert.equal(config.pps, '/dev/pps0', 'pps');
    assert.equal(config.disciplineSystemClock, true, 'disciplineSystemClock');
    assert.equal(config.core.faultTolerance, null, 'core.faultTolerance auto');
  });

  it('mentions every setting except the testing aids and the data dir (set by the unit)', async () => {
    const text = await read('timemesh.yaml.example');
    const exempt = new Set(['dataDir', 'clockOffsetMs', 'clockDriftPpm']);
    const missing = Object.keys(nodeConfigFileSchema.shape).filter(
      (key) => !exempt.has(key) && !new RegExp(`^#?${key}:`, 'm').test(text),
    );
    assert.deepEqual(missing, [], 'settings the example does not show');
  });
});

// ---- the systemd unit ---------------------------------------------------------------------------------

/** Directive lines of a unit file as [key, value] pairs, comments and blank lines dropped. */
function directives(unit: string): [string, string][] {
  return unit
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith(';') && !l.startsWith('['))
    .map((l) => {
      const eq = l.indexOf('=');
      return [l.slice(0, eq), l.slice(eq + 1)];
    });
}

const CAP_BITS: Readonly<Record<string, number>> = { CAP_NET_BIND_SERVICE: 10, CAP_SYS_TIME: 25 };

describe('packaging/timemesh.service', () => {
  it('grants exactly CAP_SYS_TIME (the discipline needs it; nothing more), to a sandboxed unprivileged user', async () => {
    const d = directives(await read('timemesh.service'));
    const all = (key: string): string[] => d.filter(([k]) => k === key).map(([, v]) => v);
    const one = (key: string): string | undefined => {
      const values = all(key);
      assert.ok(values.length <= 1, `${key} is set once, not ${values.length} times`);
      return values[0];
    };
    for (const key of ['AmbientCapabilities', 'CapabilityBoundingSet']) {
      const value = one(key);
      assert.ok(value !== undefined, `${key} is set`);
      assert.deepEqual(value.split(/\s+/).sort(), ['CAP_SYS_TIME'], `${key} holds exactly CAP_SYS_TIME`);
    }
    assert.match(
      one('ExecStart') ?? '',
      /\btimemesh start --config \/etc\/timemesh\/timemesh\.yaml\b/,
      'ExecStart',
    );
    assert.equal(one('DynamicUser'), 'yes', 'a dynamic unprivileged user');
    assert.equal(one('User'), undefined, 'no fixed (root) user');
    assert.equal(one('StateDirectory'), 'timemesh', 'the data dir is the state directory');
    assert.equal(one('NoNewPrivileges'), 'yes', 'NoNewPrivileges');
    assert.equal(one('ProtectSystem'), 'strict', 'ProtectSystem');
    assert.equal(one('ProtectHome'), 'yes', 'ProtectHome');
    assert.equal(one('PrivateTmp'), 'yes', 'PrivateTmp');
    assert.equal(one('Restart'), 'on-failure', 'Restart');
    assert.match(one('TimeoutStopSec') ?? '', /^\d+s$/, 'TimeoutStopSec');
    assert.deepEqual(
      (one('RestrictAddressFamilies') ?? '').split(/\s+/).sort(),
      ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX'],
      'RestrictAddressFamilies',
    );
    // Each of these would break a feature the unit grants a capability for (see the unit's comments).
    for (const [key, bad] of [
      ['ProtectClock', 'yes'],
      ['PrivateUsers', 'yes'],
      ['MemoryDenyWriteExecute', 'yes'],
      ['PrivateDevices', 'yes'],
    ] as const) {
      assert.notEqual(one(key), bad, `${key}=${bad} is not set`);
    }
    assert.equal(all('DeviceAllow').length, 0, 'device access is opt-in (commented out)');
  });

  it("is consistent with the node's privilege check (requireClockPrivileges)", async () => {
    const d = directives(await read('timemesh.service'));
    const ambient = (d.find(([k]) => k === 'AmbientCapabilities')?.[1] ?? '').split(/\s+/);
    // A non-root process with ambient capabilities has them in its effective set after exec.
    let capEff = 0n;
    for (const cap of ambient) {
      const bit = CAP_BITS[cap];
      assert.ok(bit !== undefined, `a known capability: ${cap}`);
      capEff |= 1n << BigInt(bit);
    }
    const status = `Name:\tnode\nCapEff:\t${capEff.toString(16).padStart(16, '0')}\n`;
    assert.doesNotThrow(
      () =>
        requireClockPrivileges(
          () => 61_234,
          () => status,
        ),
      'a dynamic user with the unit’s capabilities may discipline the clock',
    );
    const withoutSysTime = `CapEff:\t${(capEff & ~(1n << 25n)).toString(16).padStart(16, '0')}\n`;
    assert.throws(
      () =>
        requireClockPrivileges(
          () => 61_234,
          () => withoutSysTime,
        ),
      /CAP_SYS_TIME/,
      'and without CAP_SYS_TIME it may not (the check is real)',
    );
  });

  it('passes systemd-analyze verify, as shipped and with its optional lines switched on', async (t: TestContext) => {
    if (spawnSync('systemd-analyze', ['--version']).error !== undefined) {
      t.skip('systemd-analyze is not installed here');
      return;
    }
    const dir = await tempDir('timemesh-unit-');
    const unit = await read('timemesh.service');
    assert.ok(unit.includes('/usr/local/bin/timemesh '), 'ExecStart names /usr/local/bin/timemesh');
    // verify insists that ExecStart's program exists: point it at this checkout's command.
    const local = unit.replace('/usr/local/bin/timemesh ', `${TIMEMESH_BIN} `);
    const optional = local.replace(
      /^#((?:DeviceAllow|LoadCredential|Environment|SupplementaryGroups)=)/gm,
      '$1',
    );
    assert.notEqual(optional, local, 'the unit has optional lines to switch on');
    for (const [name, text] of [
      ['timemesh.service', local],
      ['timemesh-optional.service', optional],
    ] as const) {
      await writeFile(join(dir, name), text);
      const r = spawnSync('systemd-analyze', ['verify', join(dir, name)], { encoding: 'utf8', cwd: dir });
      assert.equal(r.status, 0, `systemd-analyze verify ${name}: ${r.stderr}`);
      // Unknown or misplaced keys are only warnings (exit 0): refuse those too.
      assert.doesNotMatch(
        r.stderr,
        /Unknown|ignoring|Failed|Invalid/i,
        `no warning for ${name}: ${r.stderr}`,
      );
    }
  });
});

// ---- Dockerfile and compose ---------------------------------------------------------------------------

/** Dockerfile instructions, continuation lines joined: [INSTRUCTION, rest]. */
function dockerInstructions(text: string): [string, string][] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\S+)\s+(.*)$/.exec(l);
      assert.ok(m !== null, `a Dockerfile instruction: ${l}`);
      return [m[1]!.toUpperCase(), m[2]!];
    });
}

/** The HEALTHCHECK's CMD as an argv array. */
function healthcheckArgv(text: string): string[] {
  const hc = dockerInstructions(text).find(([i]) => i === 'HEALTHCHECK')?.[1] ?? '';
  const cmd = /\bCMD\s+(\[.*\])\s*$/.exec(hc)?.[1];
  assert.ok(cmd !== undefined, 'HEALTHCHECK ... CMD [exec form]');
  return JSON.parse(cmd) as string[];
}

interface ComposeService {
  build?: { context: string; dockerfile?: string };
  image?: string;
  command?: string[];
  entrypoint?: string[];
  volumes?: string[];
  ports?: string[];
  depends_on?: string[] | Record<string, { condition: string }>;
  cap_add?: string[];
  privileged?: boolean;
}

async function compose(): Promise<{ services: Record<string, ComposeService> }> {
  // merge: compose honours YAML merge keys (<<: *timemesh).
  return YAML.parse(await read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
}

describe('packaging/Dockerfile and docker-compose.yml', () => {
  it('the Dockerfile: node:20-slim, production install, non-root, ports, health check on /healthz', async () => {
    const text = await read('Dockerfile');
    const ins = dockerInstructions(text);
    const get = (i: string): string[] => ins.filter(([k]) => k === i).map(([, v]) => v);
    assert.deepEqual(get('FROM'), ['node:20-slim'], 'FROM');
    assert.ok(
      get('RUN').some((r) => r.includes('npm ci --omit=dev')),
      'dependencies without the dev ones',
    );
    const users = get('USER');
    assert.ok(users.length > 0 && !['root', '0'].includes(users.at(-1)!), 'runs as a non-root user');
    const exposed = get('EXPOSE').join(' ').split(/\s+/);
    for (const port of ['7070/tcp', '7071/tcp', '123/udp'])
      assert.ok(exposed.includes(port), `EXPOSE ${port}`);
    // Every folder the CLI runs from is copied in (those tsconfig.build.json compiles, and bin/).
    const build = JSON.parse(await readFile(join(ROOT, 'tsconfig.build.json'), 'utf8')) as {
      include: string[];
    };
    const copied = get('COPY').map((c) => c.split(/\s+/)[0]);
    for (const entry of [...build.include, 'bin']) assert.ok(copied.includes(entry), `COPY ${entry}`);
    const argv = healthcheckArgv(text);
    assert.equal(argv[0], 'node', 'the health check runs node (no curl in the slim image)');
    assert.equal(argv[1], '-e', 'with a script');
    assert.ok((argv[2] ?? '').includes('/healthz'), 'asking /healthz');
    assert.doesNotThrow(() => new Script(argv[2] ?? ''), 'the health-check script is valid JavaScript');
    assert.ok(
      ins.some(([k, v]) => k === 'ENTRYPOINT' && v.includes('timemesh')),
      'ENTRYPOINT timemesh',
    );
  });

  it('.dockerignore keeps node_modules, dist, .git and test output out of the build context', async () => {
    const lines = (await readFile(join(ROOT, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', '.git', 'test-artifacts']) {
      assert.ok(lines.includes(entry), `.dockerignore lists ${entry}`);
    }
  });

  it('the compose file: ntp (chronyd -x) and nodes a, b, c with their commands', async () => {
    const { services } = await compose();
    assert.deepEqual(Object.keys(services).sort(), ['a', 'b', 'c', 'ntp'], 'four services');
    for (const [name, s] of Object.entries(services)) {
      assert.equal(s.privileged, undefined, `${name} is not privileged`);
      assert.equal(s.cap_add, undefined, `${name} adds no capability (nothing may set the clock)`);
    }
    const ntp = services['ntp']!;
    assert.deepEqual(ntp.command?.slice(0, 3), ['chronyd', '-x', '-d'], 'chronyd -x (never the clock) -d');
    assert.ok(
      ntp.volumes?.some((v) => v.startsWith('./chrony.conf:') && v.endsWith(':ro')),
      'chrony.conf mounted read-only',
    );
    const chrony = await read('chrony.conf');
    assert.match(chrony, /^local stratum 1$/m, 'chrony serves its own clock at stratum 1');
    assert.match(chrony, /^allow\b/m, 'and answers clients');
    const a = services['a']!;
    assert.deepEqual(
      a.build,
      { context: '..', dockerfile: 'packaging/Dockerfile' },
      'a builds packaging/Dockerfile',
    );
    assert.deepEqual(a.command, ['start', '--anchor', 'ntp://ntp'], 'a anchors to the ntp service');
    assert.deepEqual(a.ports, ['127.0.0.1:7070:7070'], "a's API is published on the host's loopback only");
    for (const name of ['b', 'c']) {
      const s = services[name]!;
      assert.equal(s.image, a.image, `${name} runs the timemesh image`);
      assert.deepEqual(s.entrypoint, ['/bin/sh', '-c'], `${name} runs a shell`);
      assert.match(
        s.command?.[0] ?? '',
        /exec timemesh start --bootstrap "\/dns4\/a\/tcp\/7071\/p2p\/\$\$id"/,
        `${name} bootstraps through a with a's peer id`,
      );
      assert.deepEqual(
        s.depends_on,
        { a: { condition: 'service_healthy' } },
        `${name} waits for a to be healthy`,
      );
    }
    const dataVolumes = ['a', 'b', 'c'].map((n) =>
      services[n]!.volumes?.find((v) => v.endsWith(':/var/lib/timemesh')),
    );
    assert.equal(new Set(dataVolumes).size, 3, 'each node has its own data volume');
    assert.ok(!dataVolumes.includes(undefined), 'every node keeps its data dir in a volume');
  });
});

// ---- the compose topology, run as local processes --------------------------------------------------------

interface Proc {
  name: string;
  child: ChildProcess;
  out: string;
  err: string;
}

function startProc(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { name, child, out: '', err: '' };
  child.stdout!.on('data', (d: Buffer) => (p.out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (p.err += d.toString()));
  return p;
}

async function stopProc(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** The API URL and 127.0.0.1 TCP port a node printed on start. */
async function printed(p: Proc): Promise<{ api: string; port: number }> {
  return waitFor(
    `${p.name} to print its API and multiaddr`,
    () => {
      if (p.child.exitCode !== null)
        throw new Error(`${p.name} exited ${p.child.exitCode}:\n${p.out}\n${p.err}`);
      const api = /^api (\S+)$/m.exec(p.out)?.[1];
      const port = /^listening \/ip4\/127\.0\.0\.1\/tcp\/(\d+)\/p2p\//m.exec(p.out)?.[1];
      return api === undefined || port === undefined ? undefined : { api, port: Number(port) };
    },
    45_000,
  );
}

/** Replaces `from` with `to` in `text`, asserting it was there (so a changed compose file fails loudly). */
function swap(text: string, from: string, to: string): string {
  assert.ok(text.includes(from), `the compose command contains ${from}`);
  return text.split(from).join(to);
}

interface TimeJson {
  status: string;
  stratum: number;
  anchorKind: string;
}

describe('the compose topology as local processes (chronyd + a, b, c on 127.0.0.1)', () => {
  const missing = chronydMissing();
  it('a anchors to chronyd, b and c join through a and are anchored through it', async (t: TestContext) => {
    // A missing chronyd is a broken test machine, not a reason to pass: .ci/run installs it.
    assert.equal(missing, null, String(missing));
    const { services } = await compose();
    const tmp = await tempDir('timemesh-compose-');
    const procs: Proc[] = [];
    t.after(async () => {
      for (const p of procs.reverse()) await stopProc(p);
    });

    // ntp: chrony.conf's directives on the command line (which chronyd then uses instead of a file),
    // with the port moved to a free one on loopback and the pid file in a private directory.
    const chronyDir = await privateDir('timemesh-compose-chrony-');
    scratch.push(chronyDir);
    const ntpPort = await freeUdpPort();
    const chronyLines = (await read('chrony.conf'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => (l.startsWith('port ') ? `port ${ntpPort}` : l))
      .map((l) => (l.startsWith('pidfile ') ? `pidfile ${join(chronyDir, 'chronyd.pid')}` : l));
    assert.ok(chronyLines.includes(`port ${ntpPort}`), 'chrony.conf sets the port');
    const ntpCommand = services['ntp']!.command!;
    assert.deepEqual(ntpCommand.slice(0, 3), ['chronyd', '-x', '-d'], 'ntp runs chronyd -x -d');
    procs.push(
      startProc(
        'ntp',
        'chronyd',
        ['-x', '-d', '-u', 'root', ...chronyLines, 'bindaddress 127.0.0.1'],
        process.env,
      ),
    );
    const reply = await ntpReplyFrom(ntpPort);
    assert.equal(reply.stratum, 1, 'chronyd with packaging/chrony.conf serves stratum 1');

    // The image: `timemesh` on PATH, its data dir and API from the environment (here on loopback,
    // free ports, one data dir per service).
    const bin = join(tmp, 'bin');
    await mkdir(bin);
    await symlink(TIMEMESH_BIN, join(bin, 'timemesh'));
    const env = (service: string): NodeJS.ProcessEnv => {
      const e: NodeJS.ProcessEnv = {
        ...process.env,
        PATH: `${bin}:${process.env['PATH'] ?? ''}`,
        TIMEMESH_DATA_DIR: join(tmp, service),
        TIMEMESH_API: '127.0.0.1:0',
        TIMEMESH_LISTEN: '/ip4/127.0.0.1/tcp/0',
        TIMEMESH_LOG_LEVEL: 'warn',
      };
      delete e['NODE_OPTIONS'];
      return e;
    };

    // a: the image's entrypoint (timemesh) with a's command.
    const aCommand = services['a']!.command!;
    assert.ok(aCommand.includes('ntp://ntp'), "a's command anchors to ntp://ntp");
    const aArgs = aCommand.map((arg) => (arg === 'ntp://ntp' ? `ntp://127.0.0.1:${ntpPort}` : arg));
    const a = startProc('a', 'timemesh', aArgs, env('a'));
    procs.push(a);
    const aAt = await printed(a);

    // The image's health check, against a.
    const argv = healthcheckArgv(await read('Dockerfile'));
    const health = spawnSync(argv[0]!, argv.slice(1), {
      env: { ...process.env, TIMEMESH_API: `127.0.0.1:${new URL(aAt.api).port}` },
      timeout: 10_000,
    });
    assert.equal(health.status, 0, `the HEALTHCHECK command passes against a: ${String(health.stderr)}`);

    // b and c: their shell commands, as compose hands them to /bin/sh -c.
    for (const name of ['b', 'c']) {
      const s = services[name]!;
      let script = s.command![0]!.replaceAll('$$', '$'); // compose's escape for a literal $
      script = swap(script, 'http://a:7070', aAt.api);
      script = swap(script, '/dns4/a/tcp/7071/', `/dns4/localhost/tcp/${aAt.port}/`);
      const p = startProc(name, s.entrypoint![0]!, [...s.entrypoint!.slice(1), script], env(name));
      procs.push(p);
    }
    const [bAt, cAt] = await Promise.all([printed(procs[2]!), printed(procs[3]!)]);

    const anchored = async (name: string, api: string, stratum: number): Promise<TimeJson> =>
      waitFor(
        `${name} to be anchored at stratum ${stratum}`,
        async () => {
          const time = await getJson<TimeJson>(`${api}/v1/time`);
          return time.status === 'anchored' && time.stratum === stratum ? time : undefined;
        },
        90_000,
        500,
      );
    const aTime = await anchored('a', aAt.api, 2);
    assert.equal(aTime.anchorKind, 'ntp', 'a is anchored by NTP (chronyd)');
    await Promise.all([anchored('b', bAt.api, 3), anchored('c', cAt.api, 3)]);
    const aStatus = await getJson<{ peerId: string }>(`${aAt.api}/v1/status`);
    for (const [name, at] of [
      ['b', bAt],
      ['c', cAt],
    ] as const) {
      const peers = await getJson<{ peers?: { id: string }[] } | { id: string }[]>(`${at.api}/v1/peers`);
      assert.ok(JSON.stringify(peers).includes(aStatus.peerId), `${name} has a among its peers`);
    }
  });
});
