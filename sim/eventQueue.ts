/**
 * The simulator's only scheduler: a binary min-heap of events ordered by virtual time, ties broken by
 * insertion order, so the processing order — and with it the whole run — is deterministic.
 */

export interface SimEvent {
  /** Virtual true time in nanoseconds since the start of the run. */
  tNs: number;
  seq: number;
  kind: number;
  node: number;
  data: unknown;
}

export class EventQueue {
  private heap: SimEvent[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(tNs: number, kind: number, node: number, data: unknown): void {
    const e: SimEvent = { tNs, seq: this.seq++, kind, node, data };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  pop(): SimEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(h[r]!, h[l]!) ? r : l;
      if (!before(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.tNs < b.tNs || (a.tNs === b.tNs && a.seq < b.seq);
}
