/**
 * TimeService's read side over a hand-driven NodeCore, for API tests: the test moves `localNs` (the
 * raw oscillator) and drives the core itself.
 */
import type { HlcTimestamp } from '../../hlc/hlc.ts';
import type { ServiceCounters } from '../../mesh/timeService.ts';
import type { ApiSource } from '../../node/api.ts';
import { NodeCore } from '../../node/core/nodeCore.ts';
import { BASE_NS, LcgRng, peer, peerMap, tickAndAnswer } from './helpers.ts';

export class FakeSource implements ApiSource {
  localNs: bigint;
  readonly counters: ServiceCounters = {
    samplesByOutcome: {},
    inboundRequests: { served: 0, 'rate-limited': 0, malformed: 0, failed: 0 },
    gossipByOutcome: {},
  };

  constructor(
    readonly core: NodeCore,
    localNs: bigint = BASE_NS,
  ) {
    this.localNs = localNs;
  }

  read(localNs: bigint = this.localNs): ReturnType<ApiSource['read']> {
    return this.core.read(localNs);
  }

  serveTime(localNs: bigint): ReturnType<ApiSource['serveTime']> {
    return this.core.serveTime(localNs);
  }

  hlcNow(): HlcTimestamp {
    return this.core.hlcNow(this.localNs);
  }

  hlcObserve(remote: HlcTimestamp): ReturnType<ApiSource['hlcObserve']> {
    return this.core.hlcObserve(remote, this.localNs);
  }

  snapshot(): ReturnType<ApiSource['snapshot']> {
    return this.core.snapshot(this.localNs);
  }

  localNowNs(): bigint {
    return this.localNs;
  }
}

const HOUR_NS = 3_600e9;

/**
 * Three honest GPS-anchored peers and one liar at +1 h, `rounds` rounds (default 3): the liar is a
 * falseticker in each; after three in a row it is excluded for 900 s. The node is anchored through the
 * mesh at stratum 2.
 */
export function meshNodeWithLiar(rounds = 3): FakeSource {
  const honest = [-100_000, 0, 200_000].map((o, i) =>
    peer(`h${i}`, { offsetNs: o, errorNs: 300_000, status: 'anchored', anchorKind: 'gps', stratum: 1 }),
  );
  const liar = peer('liar0', { offsetNs: HOUR_NS, errorNs: 1000, hlcAheadNs: -HOUR_NS });
  const peers = peerMap([...honest, liar]);
  const c = new NodeCore({ nodeId: 'me' }, { rng: new LcgRng(1) });
  for (const id of peers.keys()) c.handlePeerDiscovered(id);
  let t = BASE_NS;
  for (let round = 0; round < rounds; round++) t = tickAndAnswer(c, t, peers).wakeNs;
  return new FakeSource(c, t);
}
