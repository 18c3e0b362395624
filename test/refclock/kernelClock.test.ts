// The kernel clock reader (refclock/kernelClock.ts): struct timex layout, a real read-only adjtimex
// call, the pure decoder, and `timemesh status --kernel`. Nothing here changes the machine's clock:
// the only syscall made is adjtimex with modes = 0.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import koffi from 'koffi';
import {
  KernelClockError,
  STA_FLAGS,
  TIMEX_LAYOUT_LP64,
  TIME_STATES,
  decodeTimex,
  formatKernelClock,
  readKernelClock,
  timexType,
} from '../../refclock/kernelClock.ts';
import type { RawTimex } from '../../refclock/kernelClock.ts';
import { ccMissing, printFromC } from './cHeaders.ts';

const LP64_LINUX = process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64');
const NOT_LP64_LINUX = LP64_LINUX
  ? false
  : `struct timex is bound for x64/arm64 Linux only (this is ${process.platform}/${process.arch})`;
const FIELDS = Object.keys(TIMEX_LAYOUT_LP64.offsets) as (keyof typeof TIMEX_LAYOUT_LP64.offsets)[];

function raw(overrides: Partial<RawTimex> = {}): RawTimex {
  return {
    modes: 0,
    offset: 0,
    freq: 0,
    maxerror: 0,
    esterror: 0,
    status: 0,
    constant: 0,
    precision: 1,
    tolerance: 500 * 65536,
    time: { tv_sec: 1_700_000_000, tv_usec: 0 },
    tick: 10_000,
    ppsfreq: 0,
    jitter: 0,
    shift: 0,
    stabil: 0,
    jitcnt: 0,
    calcnt: 0,
    errcnt: 0,
    stbcnt: 0,
    tai: 0,
    ...overrides,
  };
}

describe('struct timex layout (LP64 Linux)', () => {
  it(
    'koffi matches the x86-64/aarch64 glibc ABI values derived from bits/timex.h',
    { skip: NOT_LP64_LINUX },
    () => {
      const t = timexType();
      // Hard-coded from the header (derivation in refclock/kernelClock.ts, TIMEX_LAYOUT_LP64): asserted
      // as literals here too, so a change to the constant cannot silently change the test.
      assert.equal(koffi.sizeof(t), 208);
      assert.equal(koffi.alignof(t), 8);
      assert.equal(koffi.offsetof(t, 'modes'), 0);
      assert.equal(koffi.offsetof(t, 'offset'), 8);
      assert.equal(koffi.offsetof(t, 'status'), 40);
      assert.equal(koffi.offsetof(t, 'constant'), 48);
      assert.equal(koffi.offsetof(t, 'time'), 72);
      assert.equal(koffi.offsetof(t, 'tick'), 88);
      assert.equal(koffi.offsetof(t, 'shift'), 112);
      assert.equal(koffi.offsetof(t, 'stabil'), 120);
      assert.equal(koffi.offsetof(t, 'tai'), 160);
      for (const f of FIELDS) assert.equal(koffi.offsetof(t, f), TIMEX_LAYOUT_LP64.offsets[f], f);
    },
  );

  it('…and the C compiler agrees, when one exists', { skip: NOT_LP64_LINUX }, async (t) => {
    const missing = ccMissing();
    if (missing !== null) {
      t.skip(`${missing}: sizeof/offsetof not cross-checked against <sys/timex.h>`);
      return;
    }
    const c = await printFromC(
      ['sys/timex.h'],
      [
        'printf("size %zu\\n", sizeof(struct timex));',
        ...FIELDS.map((f) => `printf("${f} %zu\\n", offsetof(struct timex, ${f}));`),
      ],
    );
    assert.equal(Number(c.get('size')), TIMEX_LAYOUT_LP64.size);
    for (const f of FIELDS) assert.equal(Number(c.get(f)), TIMEX_LAYOUT_LP64.offsets[f], f);
  });
});

describe('readKernelClock (a real, read-only adjtimex)', () => {
  it('returns sane values', { skip: NOT_LP64_LINUX }, () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const s = readKernelClock();
    const after = BigInt(Date.now()) * 1_000_000n;
    assert.ok((TIME_STATES as readonly string[]).includes(s.state), s.state);
    assert.ok(Math.abs(s.frequencyPpm) <= 500, `frequency ${s.frequencyPpm} ppm`);
    assert.ok(s.maxErrorUs >= 0 && s.estErrorUs >= 0);
    assert.equal(s.tolerancePpm, 500); // MAXFREQ in kernel/time/ntp.c
    assert.ok(s.tickUs > 0);
    assert.equal(s.synchronized, !s.statusFlags.includes('STA_UNSYNC'));
    assert.ok(s.timeUnixNs >= before - 1_000_000_000n && s.timeUnixNs <= after + 1_000_000_000n);
  });

  it('says why on a platform without adjtimex', { skip: process.platform === 'linux' }, () => {
    assert.throws(readKernelClock, (err: unknown) => {
      assert.ok(err instanceof KernelClockError);
      assert.equal(err.code, 'TM_ERR_KERNEL_CLOCK_PLATFORM');
      assert.match(err.message, /only Linux has/);
      return true;
    });
  });
});

describe('decodeTimex (pure)', () => {
  it('decodes every status flag by name, in bit order', () => {
    const all = Object.values(STA_FLAGS).reduce((a, b) => a | b, 0);
    const s = decodeTimex(raw({ status: all }), 0);
    assert.deepEqual(s.statusFlags, Object.keys(STA_FLAGS));
    assert.equal(s.statusUnknownBits, 0);
    assert.equal(s.synchronized, false);
    const one = decodeTimex(raw({ status: STA_FLAGS.STA_PLL | STA_FLAGS.STA_PPSSIGNAL }), 0);
    assert.deepEqual(one.statusFlags, ['STA_PLL', 'STA_PPSSIGNAL']);
    assert.equal(one.synchronized, true);
  });

  it('reads offset, time and jitter as µs without STA_NANO and as ns with it', () => {
    const micro = decodeTimex(raw({ offset: -1234, jitter: 7, time: { tv_sec: 10, tv_usec: 250_000 } }), 0);
    assert.equal(micro.nanoResolution, false);
    assert.equal(micro.offsetNs, -1_234_000);
    assert.equal(micro.pps.jitterNs, 7000);
    assert.equal(micro.timeUnixNs, 10_250_000_000n);
    const nano = decodeTimex(
      raw({ status: STA_FLAGS.STA_NANO, offset: -1234, jitter: 7, time: { tv_sec: 10, tv_usec: 250_000 } }),
      0,
    );
    assert.equal(nano.nanoResolution, true);
    assert.equal(nano.offsetNs, -1234);
    assert.equal(nano.pps.jitterNs, 7);
    assert.equal(nano.timeUnixNs, 10_000_250_000n);
  });

  it('scales freq/tolerance from 2^-16 ppm and keeps maxerror/esterror in µs', () => {
    const s = decodeTimex(raw({ freq: -12.5 * 65536, ppsfreq: 65536, maxerror: 1500, esterror: 20 }), 0);
    assert.equal(s.frequencyPpm, -12.5);
    assert.equal(s.pps.frequencyPpm, 1);
    assert.equal(s.tolerancePpm, 500);
    assert.equal(s.maxErrorUs, 1500);
    assert.equal(s.estErrorUs, 20);
  });

  it('names each return code and keeps an unknown one as UNKNOWN', () => {
    TIME_STATES.forEach((name, code) => assert.equal(decodeTimex(raw(), code).state, name));
    for (const code of [-1, 6, 42, 1.5]) {
      const s = decodeTimex(raw(), code);
      assert.equal(s.state, 'UNKNOWN');
      assert.equal(s.returnCode, code);
    }
  });

  it('never throws on weird values (unknown status bits, negative status, extreme integers)', () => {
    const s = decodeTimex(raw({ status: -1 }), 5);
    assert.equal(s.statusRaw, 0xffffffff);
    assert.equal(s.statusUnknownBits, 0xffff0000);
    assert.equal(s.statusFlags.length, 16);
    const int = fc.integer({ min: -(2 ** 40), max: 2 ** 40 });
    fc.assert(
      fc.property(
        int,
        int,
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        int,
        int,
        (off, freq, st, sec, us) => {
          const d = decodeTimex(
            raw({ offset: off, freq, status: st, time: { tv_sec: sec, tv_usec: us } }),
            st,
          );
          assert.equal(typeof formatKernelClock(d), 'string');
        },
      ),
    );
  });
});

describe('timemesh status --kernel', () => {
  const BIN = join(import.meta.dirname, '..', '..', 'bin', 'timemesh.js');
  const run = (args: string[]): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      env: { ...process.env, TIMEMESH_API_URL: '' },
    });

  it('prints the kernel clock table without a running node', { skip: NOT_LP64_LINUX }, () => {
    const r = run(['status', '--kernel']);
    assert.equal(r.status, 0, String(r.stderr));
    assert.match(String(r.stdout), /frequency\s+-?\d+\.\d+ ppm/);
    assert.match(String(r.stdout), /TIME_(OK|INS|DEL|OOP|WAIT|ERROR) \((synchronized|unsynchronized)/);
  });

  it('--json prints parseable JSON', { skip: NOT_LP64_LINUX }, () => {
    const r = run(['status', '--kernel', '--json']);
    assert.equal(r.status, 0, String(r.stderr));
    const j = JSON.parse(String(r.stdout)) as Record<string, unknown>;
    assert.equal(typeof j.frequencyPpm, 'number');
    assert.equal(typeof j.synchronized, 'boolean');
    assert.match(String(j.timeUnixNs), /^\d+$/);
  });

  it('refuses --kernel with --api (the kernel read is local) and --kernel on other commands', () => {
    const both = run(['status', '--kernel', '--api', '127.0.0.1:9']);
    assert.equal(both.status, 2);
    assert.match(String(both.stderr), /--kernel reads this machine's kernel/);
    const time = run(['time', '--kernel']);
    assert.equal(time.status, 2);
    assert.match(String(time.stderr), /--kernel/);
  });
});
