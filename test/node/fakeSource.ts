/**
 * TimeService's read side over a hand-driven NodeCore, for API tests: the test moves `localNs` (the
 * raw oscillator) and drives the core itself.
 */
import type { HlcTimestamp } from '../../hlc/hlc.ts';
import type { ServiceCounters } from '../../mesh/timeService.ts';
import type { ApiSource } from '../../node/api.ts';
import type { NodeCore } from '../../node/core/nodeCore.ts';
import { BASE_NS } from './helpers.ts';

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
