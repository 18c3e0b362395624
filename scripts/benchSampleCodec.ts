/**
 * `npm run bench:codec`: what one sample response costs in CPU, on each side of the exchange.
 * The responder encodes and signs (signSampleResponse); the requester decodes and verifies
 * (openSampleResponse). Also prints the parts: the Ed25519 signature and verification alone, and the
 * msgpack + validation work without them. Real Ed25519 keys, a warm SignatureVerifier key cache (the
 * steady state: a node talks to the same few peers).
 *
 * Usage: npm run bench:codec [-- ITERATIONS]   (default 20000)
 * scripts/benchMesh.ts imports measureSampleCodec for its per-sample cost.
 */
import { pathToFileURL } from 'node:url';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import {
  decodeSampleResponse,
  openSampleResponse,
  sampleSigningBytes,
  signSampleResponse,
} from '../mesh/sampleProtocol.ts';
import { SignatureVerifier, createSigner, type Signer } from '../mesh/signing.ts';
import type { ServedSample } from '../node/core/types.ts';
import { machineFacts } from './benchHelpers.ts';

export interface SampleCodecFigures {
  iterations: number;
  /** Bytes of one signed response on the wire, and of the part the signature covers. */
  wireBytes: number;
  signedBytes: number;
  /** µs per call, median of 5 batches. */
  signUs: number;
  verifyUs: number;
  rows: { name: string; us: number }[];
}

/** Median over 5 batches of the time per call, in µs. */
function measure(iterations: number, fn: () => unknown): number {
  for (let i = 0; i < Math.min(2000, iterations); i++) fn();
  const batch = Math.ceil(iterations / 5);
  const perCallUs: number[] = [];
  for (let b = 0; b < 5; b++) {
    const started = performance.now();
    for (let i = 0; i < batch; i++) fn();
    perCallUs.push(((performance.now() - started) * 1000) / batch);
  }
  perCallUs.sort((x, y) => x - y);
  return perCallUs[2]!;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`benchmark self-check failed: ${what}`);
}

/** Measures each side of the exchange and its parts (also used by scripts/benchMesh.ts). */
export async function measureSampleCodec(iterations: number): Promise<SampleCodecFigures> {
  if (!Number.isInteger(iterations) || iterations < 100)
    throw new Error('ITERATIONS must be an integer ≥ 100');
  const key = await generateKeyPair('Ed25519');
  const signer = createSigner(key, peerIdFromPrivateKey(key).toString());
  const verifier = new SignatureVerifier();
  const nonce = new Uint8Array(16).fill(7);
  const baseNs = 1_800_000_000_000_000_000n;
  const served: ServedSample = {
    t2PeerNs: baseNs,
    t3PeerNs: baseNs + 40_000n,
    earliestNs: baseNs - 80_000n,
    latestNs: baseNs + 160_000n,
    rootDistanceNs: 120_000,
    anchorKind: 'gps',
    stratum: 1,
    status: 'anchored',
    hlc: { wallNs: baseNs + 40_000n, logical: 0, nodeId: signer.peerId },
  };
  const wire = signSampleResponse(served, nonce, signer);
  const signedBytes = sampleSigningBytes(served, nonce, signer.peerId);
  const signature = signer.sign(signedBytes);
  const noSign: Signer = { peerId: signer.peerId, sign: () => signature };
  check(openSampleResponse(wire, nonce, signer.peerId, verifier).ok, 'the response does not verify');

  const m = (fn: () => unknown): number => measure(iterations, fn);
  const signUs = m(() => signSampleResponse(served, nonce, signer));
  const verifyUs = m(() => openSampleResponse(wire, nonce, signer.peerId, verifier));
  return {
    iterations,
    wireBytes: wire.length,
    signedBytes: signedBytes.length,
    signUs,
    verifyUs,
    rows: [
      { name: 'encode + sign (signSampleResponse)', us: signUs },
      { name: 'decode + verify (openSampleResponse)', us: verifyUs },
      { name: '  Ed25519 sign alone', us: m(() => signer.sign(signedBytes)) },
      { name: '  Ed25519 verify alone', us: m(() => verifier.verify(signer.peerId, signedBytes, signature)) },
      { name: '  encode without signing', us: m(() => signSampleResponse(served, nonce, noSign)) },
      { name: '  decode without verifying', us: m(() => decodeSampleResponse(wire)) },
    ],
  };
}

/** The table `npm run bench:codec` prints. */
export function formatSampleCodecRows(rows: readonly { name: string; us: number }[]): string {
  const lines = ['operation                                  µs/call     calls/s'];
  for (const { name, us } of rows) {
    lines.push(
      `${name.padEnd(40)} ${us.toFixed(2).padStart(9)} ${Math.round(1e6 / us)
        .toLocaleString('en-US')
        .padStart(11)}`,
    );
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const figures = await measureSampleCodec(Number(process.argv[2] ?? 20_000));
  console.log(`timemesh sample codec benchmark: ${figures.iterations} calls per row (median of 5 batches)`);
  console.log(machineFacts());
  console.log(`response: ${figures.wireBytes} bytes on the wire, ${figures.signedBytes} signed bytes`);
  console.log(formatSampleCodecRows(figures.rows));
}
