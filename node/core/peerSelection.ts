/**
 * Which peers a node measures. Persistent associations (like NTP's) so each source's clock filter
 * fills up; a few slots go to the lowest root distance (pull towards anchors), the rest are random
 * (diversity: a Byzantine clique that advertises tiny distances cannot take every slot), and the
 * worst selected peer is churned out now and then to discover better ones.
 *
 * The number of "best" slots is ⌊k/3⌋, at most the f a round of k+1 values tolerates, so liars who
 * lie about their distance cannot fill more slots than the combination can survive.
 */
import type { Rng } from './types.ts';

export interface Candidate {
  id: string;
  rootDistanceNs: number;
}

/** Chooses `count` ids from candidates not already chosen: best-distance slots first, then random. */
export function fillSelection(
  selected: ReadonlySet<string>,
  candidates: readonly Candidate[],
  k: number,
  rng: Rng,
): string[] {
  const free = candidates.filter((c) => !selected.has(c.id));
  const wanted = Math.min(k - selected.size, free.length);
  if (wanted <= 0) return [];
  const chosen: string[] = [];
  const bestSlots = Math.min(Math.floor(k / 3), wanted);
  // Sort by distance, ties by id, so the choice does not depend on map iteration order.
  const byDistance = [...free].sort(byDistanceThenId);
  const bestAlready = countBestSelected(selected, candidates, bestSlots);
  for (let i = 0; i < byDistance.length && chosen.length < bestSlots - bestAlready; i++) {
    chosen.push(byDistance[i]!.id);
  }
  const rest = byDistance.filter((c) => !chosen.includes(c.id)).map((c) => c.id);
  rest.sort();
  while (chosen.length < wanted && rest.length > 0) {
    const i = Math.floor(rng.next() * rest.length);
    chosen.push(rest[i]!);
    rest[i] = rest[rest.length - 1]!;
    rest.pop();
  }
  return chosen;
}

/** How many of the selected peers are among the `slots` lowest-distance candidates. */
function countBestSelected(
  selected: ReadonlySet<string>,
  candidates: readonly Candidate[],
  slots: number,
): number {
  if (slots === 0 || selected.size === 0) return 0;
  const best = [...candidates].sort(byDistanceThenId).slice(0, slots);
  return best.filter((c) => selected.has(c.id)).length;
}

/** Distance, ties by id, so the choice never depends on the order candidates were listed in. */
function byDistanceThenId(a: Candidate, b: Candidate): number {
  return a.rootDistanceNs - b.rootDistanceNs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
