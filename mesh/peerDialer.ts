/**
 * Keeps a node connected to enough peers. libp2p 2.x and later no longer dial discovered peers on
 * their own (the auto-dialer was removed), so without this a mesh joined through one bootstrap
 * node stays a star around it: every node measures the same peer, and losing it splits the mesh.
 *
 * On every `peer:discovery` (bootstrap list, pubsub peer discovery) and every `peer:disconnect`,
 * and on a slow timer, it dials known-but-unconnected peers until `targetPeers` connections are
 * open. A peer whose dial failed waits before the next try, doubling up to `maxBackoffMs`, so a
 * dead address does not cost a dial on every discovery message.
 */
import type { PeerId } from '@libp2p/interface';
import type { MeshLibp2p } from './meshNode.ts';

export interface PeerDialerOptions {
  /** Open connections to aim for (default 12: well above the 2f+1 a node needs to tolerate f = 3). */
  targetPeers?: number;
  /** Re-check interval (default 15 s). */
  intervalMs?: number;
  /** First wait after a failed dial (default 5 s), doubled per failure up to maxBackoffMs (5 min). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Dial timeout (default 5 s). */
  dialTimeoutMs?: number;
}

export interface PeerDialerCounters {
  dials: number;
  failures: number;
}

interface Backoff {
  untilMs: number;
  waitMs: number;
}

export class PeerDialer {
  readonly counters: PeerDialerCounters = { dials: 0, failures: 0 };
  private readonly backoff = new Map<string, Backoff>();
  private readonly dialing = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private readonly target: number;
  private readonly onEvent = (): void => void this.fill();

  constructor(
    private readonly libp2p: MeshLibp2p,
    private readonly options: PeerDialerOptions = {},
  ) {
    this.target = options.targetPeers ?? 12;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.libp2p.addEventListener('peer:discovery', this.onEvent);
    this.libp2p.addEventListener('peer:disconnect', this.onEvent);
    this.timer = setInterval(this.onEvent, this.options.intervalMs ?? 15_000);
    this.timer.unref();
    void this.fill();
  }

  stop(): void {
    this.running = false;
    this.libp2p.removeEventListener('peer:discovery', this.onEvent);
    this.libp2p.removeEventListener('peer:disconnect', this.onEvent);
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private async fill(): Promise<void> {
    if (!this.running) return;
    const connected = new Set(this.libp2p.getPeers().map(String));
    let missing = this.target - connected.size - this.dialing.size;
    if (missing <= 0) return;
    const self = this.libp2p.peerId.toString();
    const nowMs = Date.now();
    for (const peer of await this.libp2p.peerStore.all()) {
      if (missing <= 0 || !this.running) break;
      const id = peer.id.toString();
      if (id === self || connected.has(id) || this.dialing.has(id) || peer.addresses.length === 0) continue;
      if ((this.backoff.get(id)?.untilMs ?? 0) > nowMs) continue;
      missing--;
      void this.dial(peer.id);
    }
  }

  private async dial(peerId: PeerId): Promise<void> {
    const id = peerId.toString();
    this.dialing.add(id);
    this.counters.dials++;
    try {
      await this.libp2p.dial(peerId, { signal: AbortSignal.timeout(this.options.dialTimeoutMs ?? 5000) });
      this.backoff.delete(id);
    } catch {
      this.counters.failures++;
      const previous = this.backoff.get(id)?.waitMs;
      const waitMs =
        previous === undefined
          ? (this.options.backoffMs ?? 5000)
          : Math.min(previous * 2, this.options.maxBackoffMs ?? 300_000);
      this.backoff.set(id, { untilMs: Date.now() + waitMs, waitMs });
    } finally {
      this.dialing.delete(id);
    }
  }
}
