/**
 * Checks the sample receipts an announcement carries, beyond their signatures.
 *
 * A receipt proves what its responder claimed in answer to a nonce, but (protocol version 1) not to
 * whom: the signed bytes do not name the requester. So a peer could pass off receipts it never asked
 * for: another node's, copied from that node's announcements (third-party replay), or old ones of
 * its own. Two rules close most of that:
 *
 * - **First publisher owns it.** The nonce is 16 random bytes the requester chose, so a receipt
 *   legitimately appears in its requester's announcements only. The first publisher seen with a
 *   receipt (keyed by responder and nonce) owns it; the same receipt from anyone else is refused.
 *   A copier only ever sees a receipt after its owner published it, so at every node the owner is
 *   first, unless the copier also hears it from the responder's side, which it cannot.
 * - **Fresh.** A receipt whose responder time (T3) is older than `maxAgeNs` by our estimate is
 *   refused (when we are synchronized; before that nothing is judged stale).
 *
 * Remembers at most `capacity` receipts (least recently seen dropped first), so memory is bounded
 * whatever peers send. A stronger fix, binding the requester's peer id into the signed bytes, needs
 * a new protocol version; see the README's security model.
 */
import type { SampleSignatureVerifier } from './sampleProtocol.ts';
import { verifyReceipt } from './sampleProtocol.ts';

export interface ReceiptLedgerOptions {
  /** Oldest acceptable receipt, by its responder's T3 against our best estimate (default 10 min). */
  maxAgeNs?: bigint;
  /** Receipts remembered (default 16384, about 2 MB). */
  capacity?: number;
}

export class ReceiptLedger {
  private readonly owners = new Map<string, string>();
  private readonly maxAgeNs: bigint;
  private readonly capacity: number;

  constructor(
    private readonly verifier: SampleSignatureVerifier,
    options: ReceiptLedgerOptions = {},
  ) {
    this.maxAgeNs = options.maxAgeNs ?? 600_000_000_000n;
    this.capacity = options.capacity ?? 16_384;
  }

  /**
   * null when `publisherId` may carry this receipt, else what is wrong with it. `nowBestNs`: our
   * best estimate of true time, or null while unsynchronized. Never throws on peer input.
   */
  check(receipt: Uint8Array, publisherId: string, nowBestNs: bigint | null): string | null {
    const verified = verifyReceipt(receipt, this.verifier);
    if (!verified.ok) return `does not verify (${verified.error.reason}): ${verified.error.message}`;
    const r = verified.response;
    if (nowBestNs !== null && nowBestNs - r.t3PeerNs > this.maxAgeNs) {
      return `stale: issued ${(nowBestNs - r.t3PeerNs) / 1_000_000_000n} s ago by ${r.peerId} (max ${this.maxAgeNs / 1_000_000_000n} s)`;
    }
    const key = `${r.peerId}/${Buffer.from(r.nonce).toString('hex')}`;
    const owner = this.owners.get(key);
    if (owner !== undefined && owner !== publisherId) {
      return `replayed: this receipt from ${r.peerId} was first published by ${owner}`;
    }
    // Refresh the LRU position (a Map iterates in insertion order).
    this.owners.delete(key);
    this.owners.set(key, publisherId);
    if (this.owners.size > this.capacity) this.owners.delete(this.owners.keys().next().value!);
    return null;
  }

  get size(): number {
    return this.owners.size;
  }
}
