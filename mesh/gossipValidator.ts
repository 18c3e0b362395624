/**
 * The decision behind gossipsub's topic validator for announcements, as a pure function of its inputs:
 * the message bytes, the signer gossipsub verified, and this node's clock reading, all passed in. No
 * clock, no I/O; the libp2p service maps the result onto TopicValidatorResult and exports the counters.
 *
 * gossipsub's three answers mean different things to the sender, so each rule picks one deliberately:
 * - reject: the *publisher* signed something no honest node signs (malformed, oversize, naming another
 *   node, from the far future, carrying a receipt that does not verify). gossipsub drops it and
 *   penalizes the peer that forwarded it (P4), which is only fair because an honest relay would have
 *   run this same check and not forwarded it.
 * - ignore: the message may be honest but is useless now (a replay of an older announcement, or one too
 *   old to describe the publisher's clock). Relays can forward these innocently (gossipsub's seen-cache
 *   expires after a few minutes), so they are dropped without a penalty.
 * - accept: deliver it to the node core and forward it.
 *
 * Rules, checked in this order (cheap and stateless first, the receipt signatures last):
 *   1. oversize: data longer than maxMessageBytes                                       → reject
 *   2. malformed: does not decode (announcementCodec.ts)                                → reject
 *   3. wrong-sender: nodeId differs from the gossipsub signer (`from`)                  → reject
 *   4. future: hlc.wallNs or sentAtNs beyond our latestNs + maxFutureNs                 → reject
 *   5. replay: seq ≤ the last seq accepted from that publisher                          → ignore
 *   6. stale: sentAtNs older than our bestNs − maxAgeNs, only while we are synchronized → ignore
 *   7. bad-receipt: a receipt fails the injected ReceiptCheck                           → reject
 * Only an accepted announcement moves the publisher's last seq, so nothing refused can block a later
 * honest message.
 *
 * Invariants (checked by test/mesh/gossipValidator.test.ts):
 * - validate() never throws on any input from the network, including a ReceiptCheck that throws.
 * - Every call is counted exactly once, under `accepted` or under its reason.
 * - Per-publisher state holds at most maxPublishers entries (least recently accepted out first).
 *
 * HAZARD (our own clock): `future` and `stale` judge the publisher by this node's interval. If this
 * node's interval is wrong, it rejects honest publishers and gossipsub penalizes its honest neighbours.
 * maxFutureNs should be the HLC's max offset (both guard the same thing), and while this node is
 * unsynchronized its latestNs is about 2^62 ns ahead, so nothing is "future" and nothing is "stale".
 * HAZARD (eviction): a publisher evicted from the LRU is forgotten; its old announcements then pass the
 * replay rule again. The stale rule still bounds how old they can be while this node is synchronized.
 * A Sybil flood of identities can evict honest publishers this way; a roster bounds that.
 */
import { TimemeshError } from '../hlc/errors.ts';
import type { GossipAnnouncement } from './announcementCodec.ts';
import { ANNOUNCEMENT_MAX_BYTES, GOSSIP_CONFIG_ERROR_CODE, decodeAnnouncement } from './announcementCodec.ts';

/**
 * Verifies one sample receipt carried in an announcement (sampleProtocol.ts's verifyReceipt, bound to
 * a SignatureVerifier, or a ReceiptLedger). Returns true to accept, false or a string saying what is wrong
 * to refuse; it must not throw for bytes that are not a valid receipt (a throw is caught and refuses).
 * `publisherId` is the announcing node, for checks that need it.
 */
/** `index`: the receipt's position in its announcement (0 starts a new announcement). */
export type ReceiptCheck = (receiptBytes: Uint8Array, publisherId: string, index: number) => boolean | string;

export type RejectReason =
  'oversize' | 'malformed' | 'wrong-sender' | 'future' | 'replay' | 'stale' | 'bad-receipt';

export const REJECT_REASONS: readonly RejectReason[] = [
  'oversize',
  'malformed',
  'wrong-sender',
  'future',
  'replay',
  'stale',
  'bad-receipt',
];

/** The gossipsub answer each reason gives. */
export const RESULT_FOR_REASON: Readonly<Record<RejectReason, 'reject' | 'ignore'>> = {
  oversize: 'reject',
  malformed: 'reject',
  'wrong-sender': 'reject',
  future: 'reject',
  replay: 'ignore',
  stale: 'ignore',
  'bad-receipt': 'reject',
};

export interface AnnouncementValidatorOptions {
  /**
   * Verifies each receipt. Required: an announcement's receipts are never taken on trust. It must not
   * record anything: a later receipt, or a later rule, can still refuse the announcement.
   */
  receiptCheck: ReceiptCheck;
  /** Called once an announcement is accepted, with its receipts (to record who published them). */
  receiptsAccepted?: (receipts: readonly Uint8Array[], publisherId: string) => void;
  /** Sent times older than our bestNs by more than this are stale. Default 90 s (3 announce periods). */
  maxAgeNs?: number;
  /** HLC wall and sent times beyond our latestNs by more than this are refused. Default 1 s. */
  maxFutureNs?: number;
  /** Publishers whose last seq is remembered. Default 10 000. */
  maxPublishers?: number;
  /** Largest message accepted, at most ANNOUNCEMENT_MAX_BYTES (the default). */
  maxMessageBytes?: number;
}

export const DEFAULT_ANNOUNCEMENT_VALIDATOR = {
  maxAgeNs: 90e9,
  maxFutureNs: 1e9,
  maxPublishers: 10_000,
  maxMessageBytes: ANNOUNCEMENT_MAX_BYTES,
} as const;

/** This node's clock when the message is validated (from a DisciplinedClock reading at receipt). */
export interface ValidatorTimeEstimate {
  /** Our best estimate of true time, ns since the Unix epoch. */
  bestNs: bigint;
  /** The top of our uncertainty interval. */
  latestNs: bigint;
  /** False while our interval is unbounded (status 'unsynchronized'): then nothing is judged stale. */
  synchronized: boolean;
}

export interface AnnouncementValidationInput {
  /** The gossipsub message's data, exactly as received. */
  data: Uint8Array;
  /** The peer id (string form) whose signature gossipsub verified: the message's `from`. */
  fromPeerId: string;
  /** Our raw oscillator when the message arrived; kept per publisher for diagnostics. */
  receivedLocalNs: bigint;
  nowEstimate: ValidatorTimeEstimate;
}

/**
 * The verdict. Both shapes name every key, so `v.reason ?? v.result` and `v.announcement` read without
 * narrowing; only an accepted message carries the announcement, so nothing refused can reach the core.
 */
export type AnnouncementValidation =
  | { result: 'accept'; reason?: undefined; detail?: undefined; announcement: GossipAnnouncement }
  | { result: 'reject' | 'ignore'; reason: RejectReason; detail: string; announcement?: undefined };

export interface AnnouncementValidatorCounters {
  accepted: number;
  /** Refused messages by reason, both rejected and ignored (RESULT_FOR_REASON tells which). */
  refused: Record<RejectReason, number>;
}

/** What the validator remembers about one publisher. */
export interface PublisherSnapshot {
  lastSeq: number;
  lastSentAtNs: bigint;
  lastAcceptedLocalNs: bigint;
}

export class AnnouncementValidator {
  readonly maxAgeNs: number;
  readonly maxFutureNs: number;
  readonly maxPublishers: number;
  readonly maxMessageBytes: number;

  readonly #receiptCheck: ReceiptCheck;
  readonly #receiptsAccepted: AnnouncementValidatorOptions['receiptsAccepted'] | null;
  readonly #maxAgeNs: bigint;
  readonly #maxFutureNs: bigint;
  /** Map iteration order is insertion order: re-inserting on accept makes the first key the LRU one. */
  readonly #publishers = new Map<string, PublisherSnapshot>();
  readonly #counters: AnnouncementValidatorCounters = {
    accepted: 0,
    refused: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>,
  };

  /** Throws TM_ERR_GOSSIP_CONFIG for options that cannot work (the operator's mistake). */
  constructor(opts: AnnouncementValidatorOptions) {
    if (typeof opts?.receiptCheck !== 'function') config('receiptCheck must be a function');
    const d = DEFAULT_ANNOUNCEMENT_VALIDATOR;
    this.maxAgeNs = opts.maxAgeNs ?? d.maxAgeNs;
    this.maxFutureNs = opts.maxFutureNs ?? d.maxFutureNs;
    this.maxPublishers = opts.maxPublishers ?? d.maxPublishers;
    this.maxMessageBytes = opts.maxMessageBytes ?? d.maxMessageBytes;
    for (const [name, v] of [
      ['maxAgeNs', this.maxAgeNs],
      ['maxFutureNs', this.maxFutureNs],
    ] as const) {
      if (!Number.isInteger(v) || v < 0) config(`${name} must be an integer ≥ 0 (got ${String(v)})`);
    }
    if (!Number.isSafeInteger(this.maxPublishers) || this.maxPublishers < 1) {
      config(`maxPublishers must be an integer ≥ 1 (got ${String(this.maxPublishers)})`);
    }
    if (
      !Number.isSafeInteger(this.maxMessageBytes) ||
      this.maxMessageBytes < 1 ||
      this.maxMessageBytes > ANNOUNCEMENT_MAX_BYTES
    ) {
      config(
        `maxMessageBytes must be an integer in [1, ${ANNOUNCEMENT_MAX_BYTES}] (got ${String(this.maxMessageBytes)})`,
      );
    }
    this.#receiptCheck = opts.receiptCheck;
    this.#receiptsAccepted = opts.receiptsAccepted ?? null;
    this.#maxAgeNs = BigInt(this.maxAgeNs);
    this.#maxFutureNs = BigInt(this.maxFutureNs);
  }

  validate(input: AnnouncementValidationInput): AnnouncementValidation {
    const { data, fromPeerId, receivedLocalNs, nowEstimate } = input;
    if (data instanceof Uint8Array && data.length > this.maxMessageBytes) {
      return this.#refuse('oversize', `${data.length} bytes, at most ${this.maxMessageBytes} allowed`);
    }
    const decoded = decodeAnnouncement(data);
    if (!decoded.ok) {
      const reason = decoded.error.reason === 'oversize' ? 'oversize' : 'malformed';
      return this.#refuse(reason, decoded.error.message);
    }
    const a = decoded.announcement;
    if (a.nodeId !== fromPeerId) {
      return this.#refuse(
        'wrong-sender',
        `announcement for ${JSON.stringify(a.nodeId)} signed by ${JSON.stringify(fromPeerId)}`,
      );
    }

    const futureLimitNs = nowEstimate.latestNs + this.#maxFutureNs;
    if (a.hlc.wallNs > futureLimitNs) {
      return this.#refuse(
        'future',
        `HLC wall ${a.hlc.wallNs} ns is ${a.hlc.wallNs - nowEstimate.latestNs} ns past our latest ` +
          `${nowEstimate.latestNs} ns (max ${this.maxFutureNs})`,
      );
    }
    if (a.sentAtNs > futureLimitNs) {
      return this.#refuse(
        'future',
        `sent time ${a.sentAtNs} ns is ${a.sentAtNs - nowEstimate.latestNs} ns past our latest ` +
          `${nowEstimate.latestNs} ns (max ${this.maxFutureNs})`,
      );
    }

    const known = this.#publishers.get(a.nodeId);
    if (known !== undefined && a.seq <= known.lastSeq) {
      return this.#refuse('replay', `seq ${a.seq} from ${a.nodeId}, last accepted ${known.lastSeq}`);
    }

    if (nowEstimate.synchronized && a.sentAtNs + this.#maxAgeNs < nowEstimate.bestNs) {
      return this.#refuse(
        'stale',
        `sent ${nowEstimate.bestNs - a.sentAtNs} ns before our best estimate (max age ${this.maxAgeNs})`,
      );
    }

    for (let i = 0; i < a.receipts.length; i++) {
      const problem = this.#receiptProblem(a.receipts[i]!, a.nodeId, i);
      if (problem !== null) return this.#refuse('bad-receipt', `receipt ${i}: ${problem}`);
    }

    this.#receiptsAccepted?.(a.receipts, a.nodeId);
    this.#remember(a, receivedLocalNs);
    this.#counters.accepted++;
    return { result: 'accept', announcement: a };
  }

  /** A snapshot of the counters (for `timemesh_rejected_messages_total{reason}`). */
  counters(): AnnouncementValidatorCounters {
    return { accepted: this.#counters.accepted, refused: { ...this.#counters.refused } };
  }

  get publisherCount(): number {
    return this.#publishers.size;
  }

  /** What is remembered about a publisher, or null. Does not count as a use for the LRU order. */
  publisher(peerId: string): PublisherSnapshot | null {
    const p = this.#publishers.get(peerId);
    return p === undefined ? null : { ...p };
  }

  /** Drops a publisher's state (for instance when it leaves the roster). */
  forget(peerId: string): boolean {
    return this.#publishers.delete(peerId);
  }

  #receiptProblem(receipt: Uint8Array, publisherId: string, index: number): string | null {
    try {
      const verdict = this.#receiptCheck(receipt, publisherId, index);
      if (verdict === true) return null;
      return typeof verdict === 'string' ? verdict : 'signature or content does not verify';
    } catch (err) {
      // The check should not throw on peer input; if it does, the message is still refused, not crashed on.
      return `the receipt check threw (${err instanceof Error ? err.message : String(err)})`;
    }
  }

  #remember(a: GossipAnnouncement, receivedLocalNs: bigint): void {
    this.#publishers.delete(a.nodeId);
    this.#publishers.set(a.nodeId, {
      lastSeq: a.seq,
      lastSentAtNs: a.sentAtNs,
      lastAcceptedLocalNs: receivedLocalNs,
    });
    while (this.#publishers.size > this.maxPublishers) {
      const oldest = this.#publishers.keys().next();
      if (oldest.done === true) break;
      this.#publishers.delete(oldest.value);
    }
  }

  #refuse(reason: RejectReason, detail: string): AnnouncementValidation {
    this.#counters.refused[reason]++;
    return { result: RESULT_FOR_REASON[reason], reason, detail };
  }
}

function config(message: string): never {
  throw new TimemeshError(GOSSIP_CONFIG_ERROR_CODE, `announcement validator: ${message}`);
}
