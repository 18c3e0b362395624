import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fillSelection, type Candidate } from '../../node/core/peerSelection.ts';
import type { Rng } from '../../node/core/types.ts';
import { LcgRng } from './helpers.ts';

function cands(...spec: [string, number][]): Candidate[] {
  return spec.map(([id, rootDistanceNs]) => ({ id, rootDistanceNs }));
}

/** p0..p(n−1) with distances (i * 7919) mod 101 · 1000 + i, all distinct. */
function many(n: number): Candidate[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `p${i}`,
    rootDistanceNs: ((i * 7919) % 101) * 1000 + i,
  }));
}

function lowestIds(candidates: readonly Candidate[], count: number): string[] {
  return [...candidates]
    .sort((a, b) => a.rootDistanceNs - b.rootDistanceNs || (a.id < b.id ? -1 : 1))
    .slice(0, count)
    .map((c) => c.id);
}

/** An Rng that always returns the same value (0 picks the first remaining id, 0.999… the last). */
function constantRng(v: number): Rng {
  return { next: () => v };
}

describe('fillSelection', () => {
  it('gives ⌊k/3⌋ slots to the lowest root distances, first, in distance order', () => {
    const all = many(30);
    for (const k of [1, 2, 3, 5, 8, 9, 12]) {
      const chosen = fillSelection(new Set(), all, k, new LcgRng(k));
      assert.equal(chosen.length, k);
      const best = Math.floor(k / 3);
      assert.deepEqual(chosen.slice(0, best), lowestIds(all, best), `k = ${k}`);
    }
  });

  it('fills the other slots at random: different Rng streams choose different peers', () => {
    const all = many(40);
    const results = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      results.add(fillSelection(new Set(), all, 9, new LcgRng(seed)).slice(3).sort().join(','));
    }
    assert.ok(results.size >= 15, `only ${results.size} distinct random fills from 20 seeds`);
    // The random slots are not simply the next-best ones.
    const chosen = fillSelection(new Set(), all, 9, new LcgRng(7));
    assert.notDeepEqual([...chosen].sort(), [...lowestIds(all, 9)].sort());
  });

  it('is deterministic for a given Rng state', () => {
    const all = many(25);
    const a = fillSelection(new Set(['p3']), all, 8, new LcgRng(99));
    const b = fillSelection(new Set(['p3']), all, 8, new LcgRng(99));
    assert.deepEqual(a, b);
  });

  it('draws the random slots from the remaining ids in id order (Rng 0 → first, 0.999 → last)', () => {
    const all = cands(['d', 5], ['a', 1], ['c', 4], ['b', 3], ['e', 9]);
    // k = 3: one best slot (a), two random from [b, c, d, e] sorted by id.
    assert.deepEqual(fillSelection(new Set(), all, 3, constantRng(0)), ['a', 'b', 'e']);
    // First draw takes the last (e); the swap-remove leaves [b, c, d], the next draw takes d.
    assert.deepEqual(fillSelection(new Set(), all, 3, constantRng(0.999)), ['a', 'e', 'd']);
  });

  it('never re-selects an already-selected id and only fills the free slots', () => {
    const all = many(12);
    const selected = new Set(['p0', 'p1', 'p2', 'p5']);
    const chosen = fillSelection(selected, all, 8, new LcgRng(3));
    assert.equal(chosen.length, 4);
    for (const id of chosen) assert.ok(!selected.has(id), id);
    assert.equal(new Set(chosen).size, chosen.length);
  });

  it('does not fill a best slot again when a best peer is already selected', () => {
    const all = cands(['best', 1], ['x', 50], ['y', 60], ['z', 70], ['w', 80]);
    // k = 3 has one best slot; it is taken by 'best', so both new slots are random: from [w, x, y, z]
    // Rng 0 takes w, the swap-remove moves z to the front, and the next 0 takes z.
    const chosen = fillSelection(new Set(['best']), all, 3, constantRng(0));
    assert.deepEqual(chosen, ['w', 'z']);
  });

  it('fills a best slot when the selected peers are not among the best', () => {
    const all = cands(['best', 1], ['x', 50], ['y', 60], ['z', 70], ['w', 80]);
    const chosen = fillSelection(new Set(['z']), all, 3, constantRng(0.999));
    assert.equal(chosen[0], 'best');
    assert.equal(chosen.length, 2);
  });

  it('handles fewer candidates than k (takes them all) and none at all', () => {
    const all = cands(['a', 5], ['b', 1]);
    assert.deepEqual([...fillSelection(new Set(), all, 8, new LcgRng())].sort(), ['a', 'b']);
    assert.deepEqual(fillSelection(new Set(), [], 8, new LcgRng()), []);
    assert.deepEqual(fillSelection(new Set(['a', 'b']), all, 8, new LcgRng()), []);
  });

  it('returns nothing when the selection is already full (or over-full)', () => {
    const all = many(10);
    const rng = new LcgRng();
    assert.deepEqual(fillSelection(new Set(['p1', 'p2', 'p3']), all, 3, rng), []);
    assert.deepEqual(fillSelection(new Set(['p1', 'p2', 'p3', 'p4']), all, 3, rng), []);
    assert.equal(rng.draws, 0);
  });

  it('breaks distance ties by id, whatever the candidates’ order', () => {
    const all = cands(['c', 5], ['a', 5], ['b', 5], ['d', 9], ['e', 9], ['f', 9]);
    const chosen = fillSelection(new Set(), all, 6, constantRng(0));
    assert.deepEqual(chosen.slice(0, 2), ['a', 'b']);
  });

  it('handles peers of unknown distance (Number.MAX_VALUE) and Infinity without NaN ordering', () => {
    const all = cands(['u1', Number.MAX_VALUE], ['u2', Infinity], ['good', 10], ['u0', Number.MAX_VALUE]);
    const chosen = fillSelection(new Set(), all, 3, constantRng(0));
    assert.equal(chosen[0], 'good');
    assert.equal(chosen.length, 3);
  });

  it('property: chosen ids are free, distinct, from the candidates, and exactly as many as fit', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.record({ id: fc.string({ minLength: 1, maxLength: 4 }), rootDistanceNs: fc.nat(50) }),
          {
            selector: (c) => c.id,
            maxLength: 30,
          },
        ),
        fc.array(fc.nat(40), { maxLength: 12 }),
        fc.integer({ min: 1, max: 16 }),
        fc.nat(),
        (all, selIdx, k, seed) => {
          const selected = new Set(selIdx.filter((i) => i < all.length).map((i) => all[i]!.id));
          const chosen = fillSelection(selected, all, k, new LcgRng(seed));
          const ids = new Set(all.map((c) => c.id));
          assert.equal(new Set(chosen).size, chosen.length);
          for (const id of chosen) assert.ok(ids.has(id) && !selected.has(id));
          const free = all.length - selected.size;
          assert.equal(chosen.length, Math.max(0, Math.min(k - selected.size, free)));
          // With nothing selected yet the best slots are exactly the lowest distances.
          if (selected.size === 0) {
            const best = Math.min(Math.floor(k / 3), chosen.length);
            assert.deepEqual(chosen.slice(0, best), lowestIds(all, best));
          }
          // Deterministic for the same Rng state.
          assert.deepEqual(fillSelection(selected, all, k, new LcgRng(seed)), chosen);
        },
      ),
      { numRuns: 1000 },
    );
  });

  // The header of fillSelection says ties are broken by id "so the choice does not depend on map
  // iteration order". The candidates come from NodeCore's `known` Map, in insertion order.
  it('property: the choice does not depend on the order of the candidates', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.record({ id: fc.string({ minLength: 1, maxLength: 3 }), rootDistanceNs: fc.nat(3) }),
          {
            selector: (c) => c.id,
            minLength: 1,
            maxLength: 12,
          },
        ),
        fc.array(fc.nat(11), { maxLength: 4 }),
        fc.integer({ min: 1, max: 9 }),
        fc.nat(),
        fc.nat(),
        (all, selIdx, k, seed, shuffleSeed) => {
          const selected = new Set(selIdx.filter((i) => i < all.length).map((i) => all[i]!.id));
          const shuffled = shuffle(all, new LcgRng(shuffleSeed));
          assert.deepEqual(
            fillSelection(selected, shuffled, k, new LcgRng(seed)),
            fillSelection(selected, all, k, new LcgRng(seed)),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('a concrete case of order dependence: ties at the best-slot boundary with a selected peer', () => {
    // All peers just discovered have the same (unknown) distance. 'b' is selected; k = 3 has one best
    // slot. Whether 'b' counts as "already holding the best slot" depends on whether it comes before
    // 'a' in the candidate list, so two drivers with the same Rng choose different peers.
    const selected = new Set(['b']);
    const ab = cands(['a', 0], ['b', 0], ['c', 0], ['d', 0]);
    const ba = cands(['b', 0], ['a', 0], ['c', 0], ['d', 0]);
    assert.deepEqual(
      fillSelection(selected, ba, 3, constantRng(0.999)),
      fillSelection(selected, ab, 3, constantRng(0.999)),
    );
  });
});

function shuffle<T>(xs: readonly T[], rng: Rng): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
