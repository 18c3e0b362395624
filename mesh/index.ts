/**
 * mesh/ — the libp2p mesh: the signed sample protocol (`/timemesh/sample/1.0.0`), signed announcements
 * on the gossipsub topic `timemesh/<network>/v1`, and the libp2p service that drives node/core.
 * This file is the folder's whole public API.
 *
 * @example
 *   const request = encodeSampleRequest(nonce); // nonce: 16 random bytes
 *   const reply = signSampleResponse(core.serveSample(t2LocalNs, t3LocalNs)!, nonce, signer);
 *   const opened = openSampleResponse(reply, nonce, remotePeerId, verifier);
 *   if (opened.ok) feedTheCore(opened.response); else count(opened.error.reason);
 */

// --- sample protocol (mesh/sampleProtocol.ts): wire codecs, signatures, receipts -------------------
export {
  ANCHOR_KINDS,
  SAMPLE_MISUSE_ERROR_CODE,
  SAMPLE_NONCE_BYTES,
  SAMPLE_PEER_ID_MAX_BYTES,
  SAMPLE_PROTOCOL_ERROR_CODE,
  SAMPLE_PROTOCOL_ID,
  SAMPLE_PROTOCOL_VERSION,
  SAMPLE_REQUEST_MAX_BYTES,
  SAMPLE_RESPONSE_MAX_BYTES,
  SAMPLE_ROOT_DISTANCE_NS_MAX,
  SAMPLE_SIGNATURE_DOMAIN,
  SAMPLE_STRATUM_MAX,
  SAMPLE_TIME_NS_MAX,
  SAMPLE_TIME_NS_MIN,
  SYNC_STATUSES,
  SampleProtocolError,
  decodeSampleRequest,
  decodeSampleResponse,
  encodeSampleRequest,
  openSampleResponse,
  sampleSigningBytes,
  signSampleResponse,
  verifyReceipt,
  verifySampleResponse,
} from './sampleProtocol.ts';
export type {
  SampleProtocolReason,
  SampleRequestDecodeResult,
  SampleResponse,
  SampleResponseDecodeResult,
  SampleSignatureVerifier,
  SampleVerifyResult,
} from './sampleProtocol.ts';
// --- end sample protocol ---------------------------------------------------------------------------

// --- gossip announcements (mesh/announcementCodec.ts, mesh/gossipValidator.ts) ----------------------
// ANCHOR_KINDS and SYNC_STATUSES exist in announcementCodec.ts too; the sample protocol's are exported.
export {
  ANNOUNCEMENT_DECODE_ERROR_CODE,
  ANNOUNCEMENT_FIELD_COUNT,
  ANNOUNCEMENT_MAX_BYTES,
  ANNOUNCEMENT_MAX_RECEIPTS,
  ANNOUNCEMENT_MAX_RECEIPT_BYTES,
  ANNOUNCEMENT_MAX_STRATUM,
  ANNOUNCEMENT_MISUSE_ERROR_CODE,
  ANNOUNCEMENT_WIRE_VERSION,
  AnnouncementDecodeError,
  GOSSIP_CONFIG_ERROR_CODE,
  U64_MAX,
  announcementTopic,
  decodeAnnouncement,
  encodeAnnouncement,
} from './announcementCodec.ts';
export type {
  AnnouncementDecodeReason,
  AnnouncementDecodeResult,
  AnnouncementField,
  GossipAnnouncement,
} from './announcementCodec.ts';
export {
  AnnouncementValidator,
  DEFAULT_ANNOUNCEMENT_VALIDATOR,
  REJECT_REASONS,
  RESULT_FOR_REASON,
} from './gossipValidator.ts';
export type {
  AnnouncementValidation,
  AnnouncementValidationInput,
  AnnouncementValidatorCounters,
  AnnouncementValidatorOptions,
  PublisherSnapshot,
  ReceiptCheck,
  RejectReason,
  ValidatorTimeEstimate,
} from './gossipValidator.ts';
// --- end gossip announcements ----------------------------------------------------------------------

// --- the libp2p node and its drivers -----------------------------------------------------------------
export { createMeshNode } from './meshNode.ts';
export type { MeshLibp2p, MeshNodeOptions, MeshServices } from './meshNode.ts';
export { PeerDialer } from './peerDialer.ts';
export type { PeerDialerCounters, PeerDialerOptions } from './peerDialer.ts';
export { TimeService } from './timeService.ts';
export type { ServiceCounters, TimeServiceOptions } from './timeService.ts';
export { createSigner, SignatureVerifier } from './signing.ts';
export type { Signer } from './signing.ts';
export { RECEIPT_MAX_AGE_NS, ReceiptLedger, publishableReceipts } from './receiptLedger.ts';
export type { HeldReceipt, ReceiptLedgerOptions } from './receiptLedger.ts';
