import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { assertValidSample, correctnessInterval } from '../../bft/correctnessInterval.ts';
import { evaluateExchange } from '../../node/core/exchange.ts';
import type { CompletedExchange, ServedSample } from '../../node/core/types.ts';
import { BASE_NS } from './helpers.ts';

/** An exchange from raw T1..T4 and the responder's interval around T3 (errLow below, errHigh above). */
function exchange(
  t1: bigint,
  t2: bigint,
  t3: bigint,
  t4: bigint,
  errLowNs: bigint = 0n,
  errHighNs: bigint = 0n,
): CompletedExchange {
  const response: ServedSample = {
    t2PeerNs: t2,
    t3PeerNs: t3,
    earliestNs: t3 - errLowNs,
    latestNs: t3 + errHighNs,
    rootDistanceNs: Number(errLowNs > errHighNs ? errLowNs : errHighNs),
    anchorKind: 'none',
    stratum: 2,
    status: 'synchronized',
    hlc: { wallNs: t3, logical: 0, nodeId: 'peer' },
  };
  return { exchangeId: 1, peerId: 'peer', t1LocalNs: t1, t4LocalNs: t4, response };
}

function accepted(x: CompletedExchange) {
  const ev = evaluateExchange(x);
  assert.ok(ev.ok, ev.ok ? '' : `rejected: ${ev.reason}`);
  return ev.sample;
}

function rejection(x: CompletedExchange): string {
  const ev = evaluateExchange(x);
  assert.ok(!ev.ok, 'expected a rejection');
  return ev.reason;
}

describe('evaluateExchange: θ and δ', () => {
  it('computes θ and δ for a symmetric path with the peer 5 ms ahead', () => {
    // Request takes 1 ms, the peer holds it 0.2 ms, the response takes 1 ms; the peer reads true + 5 ms.
    const t1 = BASE_NS;
    const t2 = t1 + 1_000_000n + 5_000_000n;
    const t3 = t2 + 200_000n;
    const t4 = t1 + 1_000_000n + 200_000n + 1_000_000n;
    const s = accepted(exchange(t1, t2, t3, t4, 30n, 70n));
    assert.equal(s.offsetNs, 5_000_000);
    assert.equal(s.delayNs, 2_000_000);
    assert.equal(s.localNs, t4);
    assert.equal(s.sourceErrorLowNs, 30);
    assert.equal(s.sourceErrorHighNs, 70);
  });

  it('computes θ and δ for an asymmetric path: θ is off by half the asymmetry, truth stays inside', () => {
    // Up 3 ms, down 1 ms, true offset −2 ms: θ = −2 ms + (3 − 1)/2 ms = −1 ms, δ = 4 ms.
    const t1 = BASE_NS + 123n;
    const t2 = t1 + 3_000_000n - 2_000_000n;
    const t3 = t2 + 10n;
    const t4 = t1 + 3_000_000n + 10n + 1_000_000n;
    const s = accepted(exchange(t1, t2, t3, t4));
    assert.equal(s.offsetNs, -1_000_000);
    assert.equal(s.delayNs, 4_000_000);
    const iv = correctnessInterval(s);
    assert.deepEqual(iv, { lowNs: -3_000_000, highNs: 1_000_000 });
    assert.ok(iv.lowNs <= -2_000_000 && -2_000_000 <= iv.highNs);
  });

  it('all the delay on the response puts the true offset at the top edge of the interval', () => {
    // Up 0, down 8 ms, true offset 0: θ = −4 ms, δ = 8 ms, interval [−8, 0] ms.
    const t1 = BASE_NS;
    const t4 = t1 + 8_000_000n;
    const s = accepted(exchange(t1, t1, t1, t4));
    assert.equal(s.offsetNs, -4_000_000);
    assert.equal(s.delayNs, 8_000_000);
    assert.equal(correctnessInterval(s).highNs, 0);
  });

  it('keeps a half nanosecond when 2θ is odd', () => {
    const s = accepted(exchange(0n, 4n, 4n, 3n));
    // θ = ((4 − 0) + (4 − 3)) / 2 = 2.5, δ = 3 − 0 = 3.
    assert.equal(s.offsetNs, 2.5);
    assert.equal(s.delayNs, 3);
  });

  it('accepts a zero delay and a zero server span (T2 = T3, T1 = T4)', () => {
    const s = accepted(exchange(BASE_NS, BASE_NS + 7n, BASE_NS + 7n, BASE_NS));
    assert.equal(s.offsetNs, 7);
    assert.equal(s.delayNs, 0);
  });

  it('computes a large negative offset exactly (peer a year behind)', () => {
    const yearNs = 365n * 86_400n * 1_000_000_000n;
    const t1 = BASE_NS;
    const t4 = t1 + 2_000n;
    const t2 = t1 + 1_000n - yearNs;
    const s = accepted(exchange(t1, t2, t2, t4));
    assert.equal(s.offsetNs, -Number(yearNs));
    assert.equal(s.delayNs, 2_000);
  });
});

describe('evaluateExchange: rejections', () => {
  it('responder-time-reversed when T3 < T2', () => {
    assert.equal(
      rejection(exchange(BASE_NS, BASE_NS + 10n, BASE_NS + 9n, BASE_NS + 100n)),
      'responder-time-reversed',
    );
  });

  it('negative-delay when the responder held the request longer than the round trip', () => {
    // Round trip 100 ns, responder claims 101 ns between T2 and T3.
    assert.equal(rejection(exchange(BASE_NS, BASE_NS, BASE_NS + 101n, BASE_NS + 100n)), 'negative-delay');
    // T4 before T1 (a driver bug or a replay) is a negative delay too.
    assert.equal(rejection(exchange(BASE_NS, BASE_NS, BASE_NS, BASE_NS - 1n)), 'negative-delay');
  });

  it('a span equal to the round trip is a zero delay, not a rejection', () => {
    assert.equal(accepted(exchange(BASE_NS, BASE_NS, BASE_NS + 100n, BASE_NS + 100n)).delayNs, 0);
  });

  it('bad-interval when the responder interval does not contain its own T3', () => {
    const x = exchange(BASE_NS, BASE_NS, BASE_NS, BASE_NS + 10n);
    assert.equal(rejection({ ...x, response: { ...x.response, earliestNs: BASE_NS + 1n } }), 'bad-interval');
    assert.equal(rejection({ ...x, response: { ...x.response, latestNs: BASE_NS - 1n } }), 'bad-interval');
    // Inverted interval.
    assert.equal(
      rejection({ ...x, response: { ...x.response, earliestNs: BASE_NS + 5n, latestNs: BASE_NS - 5n } }),
      'bad-interval',
    );
    // Degenerate [T3, T3] is fine.
    accepted({ ...x, response: { ...x.response, earliestNs: BASE_NS, latestNs: BASE_NS } });
  });

  it('offset-too-large beyond 2^61 ns in either direction, accepted at the bound', () => {
    const bound = 2n ** 61n;
    assert.equal(accepted(exchange(0n, bound, bound, 0n)).offsetNs, 2 ** 61);
    assert.equal(accepted(exchange(bound, 0n, 0n, bound)).offsetNs, -(2 ** 61));
    // 2^61 + 1024 is representable as a double, so this really is just past the bound.
    assert.equal(rejection(exchange(0n, bound + 1024n, bound + 1024n, 0n)), 'offset-too-large');
    assert.equal(rejection(exchange(bound + 1024n, 0n, 0n, bound + 1024n)), 'offset-too-large');
    assert.equal(rejection(exchange(0n, 2n ** 80n, 2n ** 80n, 10n)), 'offset-too-large');
  });

  it('checks in order: reversed, then delay, then interval, then offset', () => {
    // Everything wrong at once: reversed wins.
    const all = exchange(0n, 2n ** 70n, 2n ** 70n - 1n, 0n);
    assert.equal(
      rejection({ ...all, response: { ...all.response, earliestNs: 2n ** 71n } }),
      'responder-time-reversed',
    );
    // Negative delay and a bad interval: delay wins.
    const nd = exchange(0n, 0n, 10n, 5n);
    assert.equal(rejection({ ...nd, response: { ...nd.response, earliestNs: 11n } }), 'negative-delay');
    // Bad interval and a huge offset: interval wins.
    const bi = exchange(0n, 2n ** 70n, 2n ** 70n, 0n);
    assert.equal(rejection({ ...bi, response: { ...bi.response, latestNs: 0n } }), 'bad-interval');
  });
});

describe('evaluateExchange: properties', () => {
  it('the correctness interval contains the true offset for honest responders and non-negative delays', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 13n), max: 10n ** 13n }), // true raw offset (responder truth − our local)
        fc.bigInt({ min: 0n, max: 10n ** 9n }), // one-way delay up
        fc.bigInt({ min: 0n, max: 10n ** 9n }), // one-way delay down
        fc.bigInt({ min: 0n, max: 10n ** 8n }), // processing at the responder
        fc.bigInt({ min: 0n, max: 10n ** 9n }), // responder's error below
        fc.bigInt({ min: 0n, max: 10n ** 9n }), // responder's error above
        fc.double({ min: 0, max: 1, noNaN: true }), // where truth lies in the responder's interval
        fc.bigInt({ min: 0n, max: 10n ** 12n }), // our T1 past BASE
        (trueOffset, up, down, proc, errLow, errHigh, where, t1Past) => {
          const t1 = BASE_NS + t1Past;
          // The responder's reading error ε = reading − truth lies in [−errHigh, errLow] exactly when
          // its interval [reading − errLow, reading + errHigh] contains the truth.
          const span = Number(errLow + errHigh);
          const eps = -errHigh + BigInt(Math.floor(where * span));
          const trueT2 = t1 + trueOffset + up; // the responder's true time at arrival
          const t2 = trueT2 + eps;
          const t3 = t2 + proc; // its clock runs at the true rate while it processes
          const t4 = t1 + up + proc + down;
          const s = accepted(exchange(t1, t2, t3, t4, errLow, errHigh));
          assert.equal(s.delayNs, Number(up + down));
          assert.equal(s.offsetNs, Number(2n * (trueOffset + eps) + up - down) / 2);
          const iv = correctnessInterval(s);
          const truth = Number(trueOffset);
          assert.ok(iv.lowNs <= truth && truth <= iv.highNs, `${truth} outside [${iv.lowNs}, ${iv.highNs}]`);
          assert.equal(iv.lowNs, s.offsetNs - s.delayNs / 2 - Number(errLow));
          assert.equal(iv.highNs, s.offsetNs + s.delayNs / 2 + Number(errHigh));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never throws on arbitrary 64-bit inputs, and every accepted sample is valid for the clock filter', () => {
    const i64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n });
    fc.assert(
      fc.property(i64, i64, i64, i64, i64, i64, (t1, t2, t3, t4, earliest, latest) => {
        const x = exchange(t1, t2, t3, t4);
        const ev = evaluateExchange({
          ...x,
          response: { ...x.response, earliestNs: earliest, latestNs: latest },
        });
        if (!ev.ok) return;
        assert.ok(t3 >= t2 && t4 - t1 >= t3 - t2 && earliest <= t3 && t3 <= latest);
        assertValidSample(ev.sample);
        assert.ok(Math.abs(ev.sample.offsetNs) <= 2 ** 61);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on small perturbations around one instant (all rejection branches reached)', () => {
    const near = fc.bigInt({ min: -1000n, max: 1000n }).map((d) => BASE_NS + d);
    const seen = new Set<string>();
    fc.assert(
      fc.property(near, near, near, near, near, near, (t1, t2, t3, t4, earliest, latest) => {
        const x = exchange(t1, t2, t3, t4);
        const ev = evaluateExchange({
          ...x,
          response: { ...x.response, earliestNs: earliest, latestNs: latest },
        });
        seen.add(ev.ok ? 'ok' : ev.reason);
        if (ev.ok) assertValidSample(ev.sample);
      }),
      { numRuns: 3000, seed: 42 },
    );
    for (const r of ['ok', 'responder-time-reversed', 'negative-delay', 'bad-interval'])
      assert.ok(seen.has(r), r);
  });

  // BUG (exchange.ts): the responder's interval edges are taken as given, and T3 − earliest is turned
  // into a double without a bound. A responder whose earliest (or latest) is beyond the double range
  // yields sourceErrorLowNs = Infinity in an *accepted* sample; ClockFilter.add then throws
  // TM_ERR_BFT_ARGUMENT out of NodeCore.handleExchangeCompleted — an exception caused by peer input.
  it('rejects (does not accept as Infinity) a responder error beyond the double range', () => {
    const x = exchange(BASE_NS, BASE_NS, BASE_NS, BASE_NS + 10n);
    const ev = evaluateExchange({ ...x, response: { ...x.response, earliestNs: BASE_NS - 2n ** 1100n } });
    if (ev.ok) assertValidSample(ev.sample);
  });
});
