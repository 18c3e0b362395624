// The system-clock adapter (refclock/systemClock.ts). THE MACHINE'S CLOCK IS NEVER CHANGED HERE: the
// encoder is pure and decoded back without a syscall; the only adjust/step calls made against the real
// adapter are on an allowChanges: false instance, which must throw before touching FFI.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import koffi from 'koffi';
import { STA_FLAGS, TIMEX_LAYOUT_LP64, decodeTimex, timexType } from '../../refclock/kernelClock.ts';
import type { KernelClockSnapshot, RawTimex } from '../../refclock/kernelClock.ts';
import {
  ADJ_MODES,
  STA_READ_ONLY_BITS,
  SystemClockError,
  createKernelSystemClock,
  encodeTimexAdjustment,
  hasCapSysTime,
  requireClockPrivileges,
} from '../../refclock/systemClock.ts';
import type { KernelAdjustment } from '../../refclock/systemClock.ts';
import { ccMissing, printFromC } from './cHeaders.ts';

const LP64_LINUX = process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64');
const NOT_LP64_LINUX = LP64_LINUX ? false : 'struct timex is bound for x64/arm64 Linux only';

function decode(buf: Buffer): { raw: RawTimex; snap: KernelClockSnapshot } {
  const raw = koffi.decode(buf, timexType()) as RawTimex;
  return { raw, snap: decodeTimex(raw, 0) };
}

const isCode = (code: string) => (err: unknown) => {
  assert.ok(err instanceof SystemClockError, `not a SystemClockError: ${String(err)}`);
  assert.equal(err.code, code);
  return true;
};

describe('encodeTimexAdjustment (pure)', () => {
  it('an empty adjustment is modes = 0 (a read), 208 zero bytes', () => {
    const buf = encodeTimexAdjustment({}, 0xffff);
    assert.equal(buf.length, TIMEX_LAYOUT_LP64.size);
    assert.ok(
      buf.every((b) => b === 0),
      'all zero',
    );
  });

  it('round-trips every field through koffi.decode and decodeTimex', { skip: NOT_LP64_LINUX }, () => {
    const a: KernelAdjustment = {
      offsetNs: -1_234_567,
      frequencyPpm: 12.5,
      maxErrorUs: 1500.2,
      estErrorUs: 20,
      timeConstant: 3,
      status: { set: STA_FLAGS.STA_PLL | STA_FLAGS.STA_FREQHOLD, clear: STA_FLAGS.STA_UNSYNC },
    };
    const current = STA_FLAGS.STA_UNSYNC | STA_FLAGS.STA_INS | STA_FLAGS.STA_PPSSIGNAL;
    const { raw, snap } = decode(encodeTimexAdjustment(a, current));
    assert.equal(
      raw.modes,
      ADJ_MODES.ADJ_OFFSET |
        ADJ_MODES.ADJ_NANO |
        ADJ_MODES.ADJ_FREQUENCY |
        ADJ_MODES.ADJ_MAXERROR |
        ADJ_MODES.ADJ_ESTERROR |
        ADJ_MODES.ADJ_TIMECONST |
        ADJ_MODES.ADJ_STATUS,
    );
    assert.equal(raw.offset, -1_234_567);
    assert.equal(raw.freq, 12.5 * 65536);
    assert.equal(snap.frequencyPpm, 12.5);
    assert.equal(snap.maxErrorUs, 1501, 'rounded up');
    assert.equal(snap.estErrorUs, 20);
    assert.equal(snap.constant, 3);
    // INS kept, UNSYNC cleared, PLL|FREQHOLD set, PPSSIGNAL (read-only) not written.
    assert.deepEqual(snap.statusFlags, ['STA_PLL', 'STA_INS', 'STA_FREQHOLD']);
  });

  it('sets only the mode bits of the fields given', { skip: NOT_LP64_LINUX }, () => {
    assert.equal(decode(encodeTimexAdjustment({ frequencyPpm: -3 }, 0)).raw.modes, ADJ_MODES.ADJ_FREQUENCY);
    assert.equal(
      decode(encodeTimexAdjustment({ offsetNs: 5 }, 0)).raw.modes,
      ADJ_MODES.ADJ_OFFSET | ADJ_MODES.ADJ_NANO,
    );
    assert.equal(decode(encodeTimexAdjustment({ maxErrorUs: 0 }, 0)).raw.modes, ADJ_MODES.ADJ_MAXERROR);
    const st = decode(encodeTimexAdjustment({ status: { set: 0, clear: STA_FLAGS.STA_UNSYNC } }, 0x0041));
    assert.equal(st.raw.modes, ADJ_MODES.ADJ_STATUS);
    assert.equal(st.raw.status, STA_FLAGS.STA_PLL);
  });

  it('clamps offset to ±0.5 s and frequency to ±500 ppm; errors to 16 s', { skip: NOT_LP64_LINUX }, () => {
    assert.equal(decode(encodeTimexAdjustment({ offsetNs: 2e9 }, 0)).raw.offset, 500_000_000);
    assert.equal(decode(encodeTimexAdjustment({ offsetNs: -2e9 }, 0)).raw.offset, -500_000_000);
    assert.equal(decode(encodeTimexAdjustment({ frequencyPpm: 900 }, 0)).snap.frequencyPpm, 500);
    assert.equal(decode(encodeTimexAdjustment({ frequencyPpm: -900 }, 0)).snap.frequencyPpm, -500);
    assert.equal(decode(encodeTimexAdjustment({ maxErrorUs: 1e12 }, 0)).raw.maxerror, 16_000_000);
    fc.assert(
      fc.property(
        fc.double({ min: -1e10, max: 1e10, noNaN: true }),
        fc.double({ min: -1e4, max: 1e4, noNaN: true }),
        (off, ppm) => {
          const { raw } = decode(encodeTimexAdjustment({ offsetNs: off, frequencyPpm: ppm }, 0));
          assert.ok(Math.abs(raw.offset) <= 500_000_000, `offset ${raw.offset}`);
          assert.ok(Math.abs(raw.freq) <= 500 * 65536, `freq ${raw.freq}`);
          assert.ok(Math.abs(raw.offset - Math.max(-5e8, Math.min(5e8, off))) <= 0.5, 'offset kept');
        },
      ),
    );
  });

  it('rejects NaN, negative errors, bad time constants and status masks with a typed error', () => {
    const bad: KernelAdjustment[] = [
      { offsetNs: Number.NaN },
      { frequencyPpm: Number.POSITIVE_INFINITY },
      { maxErrorUs: -1 },
      { estErrorUs: Number.NaN },
      { timeConstant: 11 },
      { timeConstant: 1.5 },
      { status: { set: 0x10000, clear: 0 } },
      { status: { set: 1, clear: 1 } },
    ];
    for (const a of bad) {
      assert.throws(
        () => encodeTimexAdjustment(a, 0),
        isCode('TM_ERR_SYSTEM_CLOCK_INVALID'),
        JSON.stringify(a),
      );
    }
  });

  it(
    'ADJ_*, STA_* and STA_RONLY match /usr/include/linux/timex.h (cc)',
    { skip: NOT_LP64_LINUX },
    async (t) => {
      const missing = ccMissing();
      if (missing !== null) return t.skip(missing);
      const names = [...Object.keys(ADJ_MODES), ...Object.keys(STA_FLAGS), 'STA_RONLY'];
      const c = await printFromC(
        ['linux/timex.h'],
        names.map((n) => `printf("${n} %d\\n", (int)(${n}));`),
      );
      for (const [n, v] of Object.entries(ADJ_MODES)) assert.equal(Number(c.get(n)), v, n);
      for (const [n, v] of Object.entries(STA_FLAGS)) assert.equal(Number(c.get(n)), v, n);
      assert.equal(Number(c.get('STA_RONLY')), STA_READ_ONLY_BITS, 'STA_RONLY');
    },
  );
});

describe('the real adapter (read-only instance only)', () => {
  it('reads, and refuses adjust/step without touching the clock', { skip: NOT_LP64_LINUX }, () => {
    const clock = createKernelSystemClock({ allowChanges: false });
    const before = BigInt(Date.now()) * 1_000_000n;
    const rt = clock.realtimeNs();
    assert.ok(rt >= before && rt <= before + 1_000_000_000n, `realtime ${rt}`);
    const k0 = clock.read();
    assert.ok(k0.tickUs > 0, 'a real adjtimex read');
    // The only "mutating" calls against the real adapter: both must throw READ_ONLY.
    assert.throws(
      () => clock.adjust({ offsetNs: 1, frequencyPpm: 1, status: { set: 1, clear: 0 } }),
      isCode('TM_ERR_SYSTEM_CLOCK_READ_ONLY'),
    );
    assert.throws(() => clock.step(1n), isCode('TM_ERR_SYSTEM_CLOCK_READ_ONLY'));
    assert.throws(() => clock.adjust({}), isCode('TM_ERR_SYSTEM_CLOCK_READ_ONLY'));
    const k1 = clock.read();
    assert.equal(k1.frequencyPpm, k0.frequencyPpm, 'frequency unchanged');
    assert.equal(k1.statusRaw, k0.statusRaw, 'status unchanged');
  });

  it('requireClockPrivileges: root or CAP_SYS_TIME passes, anyone else gets a typed error', () => {
    const noCaps = () => 'Name:\tnode\nCapEff:\t0000000000000000\n';
    const sysTime = () => 'Name:\tnode\nCapEff:\t0000000002000000\n'; // bit 25 only
    const allButSysTime = () => 'CapEff:\t000001fffdffffff\n';
    assert.doesNotThrow(() => requireClockPrivileges(() => 0, noCaps));
    assert.doesNotThrow(() => requireClockPrivileges(() => 1000, sysTime));
    assert.equal(hasCapSysTime(allButSysTime()), false);
    assert.equal(hasCapSysTime('CapEff: zz\n'), false);
    assert.equal(hasCapSysTime(''), false);
    assert.throws(
      () => requireClockPrivileges(() => 1000, allButSysTime),
      (err: unknown) => {
        isCode('TM_ERR_SYSTEM_CLOCK_PERMISSION')(err);
        assert.match(
          (err as Error).message,
          /needs root or CAP_SYS_TIME \(this process runs as uid 1000 without it\).*AmbientCapabilities=CAP_SYS_TIME/,
        );
        return true;
      },
    );
    assert.throws(
      () =>
        requireClockPrivileges(
          () => 1000,
          () => null,
        ),
      isCode('TM_ERR_SYSTEM_CLOCK_PERMISSION'),
    );
    assert.throws(() => requireClockPrivileges(null, noCaps), isCode('TM_ERR_SYSTEM_CLOCK_PERMISSION'));
  });
});
