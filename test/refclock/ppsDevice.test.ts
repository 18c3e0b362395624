// The PPS device edge (refclock/ppsDevice.ts): struct layouts and PPS_FETCH against koffi and against
// <linux/pps.h> compiled with cc; real ENOENT and ENOTTY errors (there is no PPS device here, and
// PPS_FETCH on a non-PPS fd fails at once with ENOTTY, so nothing blocks); the async errno path; the
// sysfs reader against a temp dir that imitates /sys/class/pps; the pure sysfs parser.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import koffi from 'koffi';
import { ccMissing, printFromC } from './cHeaders.ts';
import {
  PPS_FDATA_LAYOUT,
  PPS_FETCH,
  PPS_KINFO_LAYOUT,
  PPS_KTIME_LAYOUT,
  PpsError,
  SysfsPpsReader,
  openPpsDevice,
  parsePpsSysfsAssert,
  ppsFetchRaw,
  ppsTypes,
} from '../../refclock/ppsDevice.ts';

const LP64_LINUX = process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64');
const NOT_LP64_LINUX = LP64_LINUX
  ? false
  : `struct pps_fdata is bound for x64/arm64 Linux only (this is ${process.platform}/${process.arch})`;

function isPpsError(code: string, message?: string): (err: unknown) => true {
  return (err: unknown) => {
    assert.ok(err instanceof PpsError, `expected a PpsError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  };
}

describe('struct pps_fdata layout and PPS_FETCH (LP64 Linux)', () => {
  it('koffi matches the values derived from linux/pps.h', { skip: NOT_LP64_LINUX }, () => {
    const { ktime, kinfo, fdata } = ppsTypes();
    // Literals as well as the constants, so a change to a constant cannot silently change the test.
    assert.equal(PPS_FETCH, 0xc00870a4);
    assert.equal(koffi.sizeof(ktime), 16);
    assert.equal(koffi.sizeof(kinfo), 48);
    assert.equal(koffi.sizeof(fdata), 64);
    assert.equal(koffi.offsetof(kinfo, 'current_mode'), 40);
    assert.equal(koffi.offsetof(fdata, 'timeout'), 48);
    for (const [type, layout] of [
      [ktime, PPS_KTIME_LAYOUT],
      [kinfo, PPS_KINFO_LAYOUT],
      [fdata, PPS_FDATA_LAYOUT],
    ] as const) {
      assert.equal(koffi.sizeof(type), layout.size);
      assert.equal(koffi.alignof(type), layout.align);
      for (const [field, offset] of Object.entries(layout.offsets))
        assert.equal(koffi.offsetof(type, field), offset, field);
    }
  });

  it('…and the C compiler agrees, when one exists', { skip: NOT_LP64_LINUX }, async (t) => {
    const missing = ccMissing();
    if (missing !== null) {
      t.skip(`${missing}: layouts and PPS_FETCH not cross-checked against <linux/pps.h>`);
      return;
    }
    const body: string[] = [
      'printf("PPS_FETCH %lu\\n", (unsigned long)PPS_FETCH);',
      'printf("PPS_CAPTUREASSERT %d\\n", PPS_CAPTUREASSERT);',
      'printf("PPS_TIME_INVALID %d\\n", PPS_TIME_INVALID);',
    ];
    const structs = {
      pps_ktime: PPS_KTIME_LAYOUT,
      pps_kinfo: PPS_KINFO_LAYOUT,
      pps_fdata: PPS_FDATA_LAYOUT,
    };
    for (const [name, layout] of Object.entries(structs)) {
      body.push(`printf("${name}.size %zu\\n", sizeof(struct ${name}));`);
      body.push(`printf("${name}.align %zu\\n", _Alignof(struct ${name}));`);
      for (const field of Object.keys(layout.offsets))
        body.push(`printf("${name}.${field} %zu\\n", offsetof(struct ${name}, ${field}));`);
    }
    const c = await printFromC(['sys/ioctl.h', 'linux/pps.h'], body);
    assert.equal(Number(c.get('PPS_FETCH')), PPS_FETCH, 'PPS_FETCH');
    assert.equal(Number(c.get('PPS_CAPTUREASSERT')), 1);
    assert.equal(Number(c.get('PPS_TIME_INVALID')), 1);
    for (const [name, layout] of Object.entries(structs)) {
      assert.equal(Number(c.get(`${name}.size`)), layout.size, `${name} size`);
      assert.equal(Number(c.get(`${name}.align`)), layout.align, `${name} align`);
      for (const [field, offset] of Object.entries(layout.offsets))
        assert.equal(Number(c.get(`${name}.${field}`)), offset, `${name}.${field}`);
    }
  });
});

describe('openPpsDevice: real errors (no PPS device on this machine)', () => {
  it(
    'ENOENT: a missing device gives TM_ERR_PPS_NOT_FOUND with a hint',
    { skip: NOT_LP64_LINUX },
    async () => {
      const emptySysfs = await mkdtemp(join(tmpdir(), 'timemesh-pps-sysfs-'));
      try {
        await assert.rejects(
          openPpsDevice('/dev/pps97', { sysfsRoot: emptySysfs }),
          isPpsError(
            'TM_ERR_PPS_NOT_FOUND',
            'no PPS device at /dev/pps97: is the pps-gpio/pps-ldisc module loaded and the device configured? (ls /dev/pps*)',
          ),
        );
        await assert.rejects(
          openPpsDevice('/dev/pps97', { method: 'ioctl' }),
          isPpsError('TM_ERR_PPS_NOT_FOUND'),
        );
      } finally {
        await rm(emptySysfs, { recursive: true, force: true });
      }
    },
  );

  it(
    'ENOTTY: /dev/null and a regular file are not PPS devices (and nothing blocks)',
    { skip: NOT_LP64_LINUX },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'timemesh-pps-'));
      try {
        const file = join(dir, 'not-a-pps');
        await writeFile(file, 'hello');
        const t = Date.now();
        for (const path of ['/dev/null', file]) {
          for (const method of ['auto', 'ioctl'] as const)
            await assert.rejects(
              openPpsDevice(path, { method, sysfsRoot: dir }),
              isPpsError('TM_ERR_PPS_NOT_PPS', `${path} is not a PPS device (PPS_FETCH ioctl: ENOTTY)`),
            );
        }
        assert.ok(Date.now() - t < 2000, `took ${Date.now() - t} ms`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  it('EACCES: an unreadable device gives TM_ERR_PPS_PERMISSION', { skip: NOT_LP64_LINUX }, async () => {
    // Root ignores file modes, so as root (CI) the open runs in a child process as `nobody`.
    const dir = await mkdtemp(join(tmpdir(), 'timemesh-pps-'));
    try {
      const file = join(dir, 'pps0');
      await writeFile(file, '', { mode: 0o600 });
      await chmod(dir, 0o755);
      if (process.getuid?.() !== 0) {
        await chmod(file, 0o000);
        await assert.rejects(openPpsDevice(file, { method: 'ioctl' }), isPpsError('TM_ERR_PPS_PERMISSION'));
        return;
      }
      const moduleUrl = new URL('../../refclock/ppsDevice.ts', import.meta.url).href;
      const script =
        `const { openPpsDevice } = await import(${JSON.stringify(moduleUrl)});` +
        `try { await openPpsDevice(process.argv[1], { method: 'ioctl' }); console.log('opened'); }` +
        `catch (e) { console.log(e.code + ' ' + e.message); }`;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, file], {
        uid: 65534,
        gid: 65534,
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 0, `child failed: ${r.stderr}`);
      assert.match(r.stdout, /^TM_ERR_PPS_PERMISSION /m, `child said: ${r.stdout}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it(
    'the async PPS_FETCH reports errno from the worker thread (ENOTTY on /dev/null) and does not block',
    { skip: NOT_LP64_LINUX },
    async () => {
      const fd = openSync('/dev/null', fsConstants.O_RDONLY);
      try {
        const t = Date.now();
        const asyncResult = await ppsFetchRaw(fd, 1500, 'async');
        assert.ok(Date.now() - t < 1000, `async fetch took ${Date.now() - t} ms`);
        assert.equal(asyncResult.rc, -1);
        assert.equal(asyncResult.errno, osConstants.errno.ENOTTY);
        const syncResult = await ppsFetchRaw(fd, 0, 'sync');
        assert.equal(syncResult.rc, -1);
        assert.equal(syncResult.errno, osConstants.errno.ENOTTY);
        assert.throws(() => ppsFetchRaw(fd, -1, 'sync'), RangeError);
      } finally {
        closeSync(fd);
      }
    },
  );
});

describe('the sysfs reader (temp dir imitating /sys/class/pps)', () => {
  /** Replaces the file atomically, as sysfs content always is (a plain rewrite could be read empty). */
  async function writeAssert(root: string, name: string, content: string): Promise<void> {
    await mkdir(join(root, name), { recursive: true });
    const tmp = join(root, name, `.assert.${process.pid}`);
    await writeFile(tmp, content);
    await rename(tmp, join(root, name, 'assert'));
  }

  it('returns a new edge once the sequence changes, and null after the timeout when it does not', async () => {
    const root = await mkdtemp(join(tmpdir(), 'timemesh-pps-sysfs-'));
    try {
      await writeAssert(root, 'pps0', '1700000000.000000123#42\n');
      const reader = await openPpsDevice('/dev/pps0', {
        method: 'sysfs',
        sysfsRoot: root,
        pollIntervalMs: 10,
      });
      assert.equal(reader.method, 'sysfs');
      assert.equal(reader.path, '/dev/pps0');
      const timer = setTimeout(() => void writeAssert(root, 'pps0', '1700000001.000000456#43\n'), 100);
      const edge = await reader.fetch(3000);
      clearTimeout(timer);
      assert.deepEqual(edge, { sequence: 43, edgeRealtimeNs: 1_700_000_001_000_000_456n });
      // Unchanged sequence: null after the timeout.
      const t = Date.now();
      assert.equal(await reader.fetch(150), null);
      assert.ok(Date.now() - t >= 140, `returned after ${Date.now() - t} ms`);
      // close() during a fetch ends it promptly with null.
      const pending = reader.fetch(60_000);
      await new Promise((r) => setTimeout(r, 30));
      const tc = Date.now();
      await reader.close();
      assert.equal(await pending, null);
      assert.ok(Date.now() - tc < 1000, `fetch ended ${Date.now() - tc} ms after close`);
      await assert.rejects(reader.fetch(10), isPpsError('TM_ERR_PPS_USAGE'));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it(
    'auto falls back to sysfs when /dev/ppsN is missing but sysfs has it',
    { skip: NOT_LP64_LINUX },
    async () => {
      const root = await mkdtemp(join(tmpdir(), 'timemesh-pps-sysfs-'));
      try {
        await writeAssert(root, 'pps96', '0.000000000#0\n');
        const reader = await openPpsDevice('/dev/pps96', { sysfsRoot: root, pollIntervalMs: 10 });
        assert.equal(reader.method, 'sysfs');
        await reader.close();
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    },
  );

  it('bad content is a counted, typed error; empty content means assert capture is off', async () => {
    const root = await mkdtemp(join(tmpdir(), 'timemesh-pps-sysfs-'));
    try {
      await writeAssert(root, 'pps1', '1700000000.000000123#42\n');
      const reader = new SysfsPpsReader('/dev/pps1', { sysfsRoot: root, pollIntervalMs: 10 });
      await reader.open();
      await writeAssert(root, 'pps1', 'garbage\n');
      await assert.rejects(reader.fetch(100), isPpsError('TM_ERR_PPS_SYSFS_FORMAT'));
      assert.equal(reader.badContentTotal, 1);
      await writeAssert(root, 'pps1', '');
      await assert.rejects(reader.fetch(100), isPpsError('TM_ERR_PPS_MODE'));
      await writeAssert(root, 'pps1', '1700000002.000000000#44\n');
      assert.deepEqual(await reader.fetch(100), { sequence: 44, edgeRealtimeNs: 1_700_000_002_000_000_000n });
      await rm(join(root, 'pps1'), { recursive: true });
      await assert.rejects(reader.fetch(100), isPpsError('TM_ERR_PPS_NOT_FOUND'));
      await reader.close();
      await assert.rejects(
        new SysfsPpsReader('/dev/pps5', { sysfsRoot: root }).open(),
        isPpsError('TM_ERR_PPS_NOT_FOUND'),
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('parsePpsSysfsAssert (pure)', () => {
  it('parses the kernel format, with or without the newline', () => {
    assert.deepEqual(parsePpsSysfsAssert('1700000000.000000123#42\n'), {
      ok: true,
      edge: { sequence: 42, edgeRealtimeNs: 1_700_000_000_000_000_123n },
    });
    assert.deepEqual(parsePpsSysfsAssert('0.000000000#0'), {
      ok: true,
      edge: { sequence: 0, edgeRealtimeNs: 0n },
    });
    assert.deepEqual(parsePpsSysfsAssert('1.999999999#4294967295'), {
      ok: true,
      edge: { sequence: 4294967295, edgeRealtimeNs: 1_999_999_999n },
    });
  });

  it('rejects bad inputs with a reason, never throwing', () => {
    const cases: [string, string][] = [
      ['', 'empty'],
      ['\n', 'empty'],
      ['1700000000.000000123', 'malformed'], // missing '#'
      ['1700000000.000000123#', 'malformed'],
      ['1700000000#42', 'malformed'],
      ['17000000x0.000000123#42', 'malformed'],
      ['1700000000.000000123#4a', 'malformed'],
      [' 1700000000.000000123#42', 'malformed'],
      ['1700000000.000000123#42\n\n', 'malformed'],
      ['1700000000.12345#42', 'malformed'], // nsec not 9 digits
      ['1700000000.1000000000#42', 'nsec-out-of-range'],
      ['1700000000.999999999999#42', 'nsec-out-of-range'],
      ['-1.000000000#42', 'negative'],
      ['1700000000.000000123#-1', 'negative'],
      ['1700000000.-00000123#1', 'negative'],
      ['99999999999999999999.000000000#1', 'out-of-range'],
      ['1700000000.000000123#4294967296', 'out-of-range'],
      ['1'.repeat(100), 'out-of-range'],
    ];
    for (const [input, reason] of cases) {
      const r = parsePpsSysfsAssert(input);
      assert.equal(r.ok, false, `${JSON.stringify(input)} should not parse`);
      assert.equal((r as { reason: string }).reason, reason, JSON.stringify(input));
    }
  });
});
