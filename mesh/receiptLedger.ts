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
 * - **Fresh.** A receipt whose responder time (T3) is more than `maxAgeNs` from our estimate, older
 *   or newer, is refused (when we are synchronized; before that nothing is judged). Without the
 *   upper bound a receipt dated in the future would stay fresh forever.
 *
 * Ownership is claimed only for an announcement that is accepted as a whole: `inspect` every
 * receipt first, then `claim` them all, so a rejected announcement cannot stake receipts it carried.
 *
 * Remembers at most `capacity` receipts (least recently seen dropped first), so memory is bounded
 * whatever peers send. A stronger fix, binding the requester's peer id into the signed bytes, needs
 * a new protocol version; see the README's "Security model" and docs/PROTOCOL.md.
 */
import type { SampleSignatureVerifier } from './sampleProtocol.ts';
import { verifyReceipt } from './sampleProtocol.ts';

/** Default freshness window: 10 min either side of our estimate. */
export const RECEIPT_MAX_AGE_NS = 600_000_000_000n;

export interface ReceiptLedgerOptions {
  /** Largest |T3 − our estimate| of an acceptable receipt (default RECEIPT_MAX_AGE_NS, 10 min). */
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
    this.maxAgeNs = options.maxAgeNs ?? RECEIPT_MAX_AGE_NS;
    this.capacity = options.capacity ?? 16_384;
  }

  /**
   * null when `publisherId` may carry this receipt, else what is wrong with it; claims it for
   * `publisherId` when it may (`inspect` + `claim`). `nowBestNs`: our best estimate of true time, or
   * null while unsynchronized. Never throws on peer input.
   */
  check(receipt: Uint8Array, publisherId: string, nowBestNs: bigint | null): string | null {
    const r = this.inspect(receipt, publisherId, nowBestNs);
    if ('problem' in r) return r.problem;
    this.claim(r.key, publisherId);
    return null;
  }

  /** Checks without claiming: the receipt's key when `publisherId` may carry it, else the problem. */
  inspect(
    receipt: Uint8Array,
    publisherId: string,
    nowBestNs: bigint | null,
  ): { key: string } | { problem: string } {
    const verified = verifyReceipt(receipt, this.verifier);
    if (!verified.ok)
      return { problem: `does not verify (${verified.error.reason}): ${verified.error.message}` };
    const r = verified.response;
    if (nowBestNs !== null && nowBestNs - r.t3PeerNs > this.maxAgeNs) {
      return {
        problem: `stale: issued ${(nowBestNs - r.t3PeerNs) / 1_000_000_000n} s ago by ${r.peerId} (max ${this.maxAgeNs / 1_000_000_000n} s)`,
      };
    }
    if (nowBestNs !== null && r.t3PeerNs - nowBestNs > this.maxAgeNs) {
      return {
        problem: `future: issued ${(r.t3PeerNs - nowBestNs) / 1_000_000_000n} s ahead of our estimate by ${r.peerId} (max ${this.maxAgeNs / 1_000_000_000n} s)`,
      };
    }
    const key = `${r.peerId}/${Buffer.from(r.nonce).toString('hex')}`;
    const owner = this.owners.get(key);
    if (owner !== undefined && owner !== publisherId) {
      return { problem: `replayed: this receipt from ${r.peerId} was first published by ${owner}` };
    }
    return { key };
  }

  /** Records `publisherId` as the owner of an inspected receipt (refreshing its LRU position). */
  claim(key: string, publisherId: string): void {
    this.owners.delete(key);
    this.owners.set(key, publisherId);
    if (this.owners.size > this.capacity) this.owners.delete(this.owners.keys().next().value!);
  }

  get size(): number {
    return this.owners.size;
  }
}

/** A receipt this node holds for its own announcements, with when it arrived (raw local). */
export interface HeldReceipt {
  bytes: Uint8Array;
  t3PeerNs: bigint;
  localNs: bigint;
}

/**
 * The held receipts worth publishing: those every honest validator will find fresh. Validators refuse
 * an announcement whose receipt's T3 is more than `maxAgeNs` from their estimate; a lying responder's
 * T3 (an hour off) or a receipt kept too long would otherwise get this node's own announcements
 * refused mesh-wide. So: held for at most half the max age, and (when `estimateNs` is known) T3
 * within half the max age of it; the other half is the margin for the validators' clocks.
 */
export function publishableReceipts(
  held: readonly HeldReceipt[],
  localNs: bigint,
  estimateNs: bigint | null,
  maxAgeNs: bigint = RECEIPT_MAX_AGE_NS,
): Uint8Array[] {
  const halfAgeNs = maxAgeNs / 2n;
  return held
    .filter(
      (r) =>
        localNs - r.localNs <= halfAgeNs &&
        (estimateNs === null ||
          (r.t3PeerNs - estimateNs <= halfAgeNs && estimateNs - r.t3PeerNs <= halfAgeNs)),
    )
    .map((r) => r.bytes);
}
