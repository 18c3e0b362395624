/**
 * Prints the byte-by-byte examples of docs/PROTOCOL.md: one sample request, the signed response to it,
 * the bytes that response's signature covers, its HLC, and one gossip announcement that carries the
 * response as a receipt. Every byte comes from the real codecs (mesh/sampleProtocol.ts,
 * mesh/announcementCodec.ts, hlc/hlcCodec.ts) with fixed Ed25519 test keys and fixed timestamps, so the
 * output is the same on every run (Ed25519 signatures are deterministic, RFC 8032).
 *
 * Usage: node --import tsx scripts/protocolExamples.ts
 * The output is Markdown: paste it into docs/PROTOCOL.md. test/mesh/protocolDoc.test.ts checks that the
 * document's blocks still equal this output and that each block decodes and verifies with the real code.
 *
 * The annotation beside the hex comes from a small msgpack walker in this file, which only labels
 * bytes; it decodes nothing that the test relies on.
 *
 * HAZARD: the keys below are public test keys. Never use them for a real node.
 */
import { pathToFileURL } from 'node:url';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { HlcTimestamp } from '../hlc/hlc.ts';
import { encodeHlc } from '../hlc/hlcCodec.ts';
import type { GossipAnnouncement } from '../mesh/announcementCodec.ts';
import { encodeAnnouncement } from '../mesh/announcementCodec.ts';
import { encodeSampleRequest, sampleSigningBytes, signSampleResponse } from '../mesh/sampleProtocol.ts';
import { createSigner } from '../mesh/signing.ts';
import type { Signer } from '../mesh/signing.ts';
import type { ServedSample } from '../node/core/types.ts';

/** 2026-01-01T00:00:00Z in ns since the Unix epoch. */
export const EXAMPLE_BASE_NS = 1_767_225_600_000_000_000n;

/** Ed25519 seeds of the two example nodes: bytes 0x00..0x1f (requester) and 0x20..0x3f (responder). */
export const REQUESTER_SEED = Uint8Array.from({ length: 32 }, (_, i) => i);
export const RESPONDER_SEED = Uint8Array.from({ length: 32 }, (_, i) => 0x20 + i);

/** The request nonce: 00 11 22 … ff. */
export const EXAMPLE_NONCE = Uint8Array.from({ length: 16 }, (_, i) => i * 0x11);

export interface ExampleIdentities {
  requester: Signer;
  responder: Signer;
}

export async function exampleIdentities(): Promise<ExampleIdentities> {
  const signerFor = async (seed: Uint8Array): Promise<Signer> => {
    const key = await generateKeyPairFromSeed('Ed25519', seed);
    return createSigner(key, peerIdFromPrivateKey(key).toString());
  };
  return { requester: await signerFor(REQUESTER_SEED), responder: await signerFor(RESPONDER_SEED) };
}

/** What the responder serves: T2 250 µs after the base, T3 40 µs later, interval −1.5 ms / +2 ms. */
export function exampleServedSample(responderId: string): ServedSample {
  const t2PeerNs = EXAMPLE_BASE_NS + 250_000n;
  const t3PeerNs = t2PeerNs + 40_000n;
  return {
    t2PeerNs,
    t3PeerNs,
    earliestNs: t3PeerNs - 1_500_000n,
    latestNs: t3PeerNs + 2_000_000n,
    rootDistanceNs: 2_000_000,
    anchorKind: 'ntp',
    stratum: 3,
    status: 'anchored',
    hlc: { wallNs: t3PeerNs, logical: 7, nodeId: responderId },
  };
}

/** What the requester announces 5 s after the base, carrying the response as its one receipt. */
export function exampleAnnouncement(requesterId: string, receipt: Uint8Array): GossipAnnouncement {
  const bestNs = EXAMPLE_BASE_NS + 5_000_000_000n;
  const hlc: HlcTimestamp = { wallNs: bestNs, logical: 0, nodeId: requesterId };
  return {
    nodeId: requesterId,
    seq: 42,
    sentAtNs: bestNs,
    hlc,
    bestNs,
    earliestNs: bestNs - 3_000_000n,
    latestNs: bestNs + 3_500_000n,
    rootDistanceNs: 3_500_000,
    anchorKind: 'mesh',
    stratum: 4,
    status: 'anchored',
    receipts: [receipt],
  };
}

export interface ExampleMessages {
  ids: { requester: string; responder: string };
  request: Uint8Array;
  response: Uint8Array;
  signedBytes: Uint8Array;
  hlc: Uint8Array;
  announcement: Uint8Array;
}

export async function exampleMessages(): Promise<ExampleMessages> {
  const { requester, responder } = await exampleIdentities();
  const served = exampleServedSample(responder.peerId);
  const request = encodeSampleRequest(EXAMPLE_NONCE);
  const response = signSampleResponse(served, EXAMPLE_NONCE, responder);
  return {
    ids: { requester: requester.peerId, responder: responder.peerId },
    request,
    response,
    signedBytes: sampleSigningBytes(served, EXAMPLE_NONCE, responder.peerId),
    hlc: encodeHlc(served.hlc),
    announcement: encodeAnnouncement(exampleAnnouncement(requester.peerId, response)),
  };
}

// ---------------------------------------------------------------------------------------------------
// Annotated hex dumps

/** Bytes per dump line; longer fields continue on the next lines with the same offset column. */
const BYTES_PER_LINE = 16;
const HEX_COLUMN_WIDTH = BYTES_PER_LINE * 3 - 1;

class Dump {
  readonly lines: string[] = [];

  constructor(private readonly bytes: Uint8Array) {}

  /** Adds bytes [at, at + length) with a note on the first line; returns the next offset. */
  add(at: number, length: number, note: string): number {
    if (length < 0 || at + length > this.bytes.length) {
      throw new Error(`dump: ${note}: bytes ${at}..${at + length} beyond ${this.bytes.length}`);
    }
    for (let p = at; p < at + length || (length === 0 && p === at); p += BYTES_PER_LINE) {
      const chunk = this.bytes.subarray(p, Math.min(p + BYTES_PER_LINE, at + length));
      const hex = Array.from(chunk, (b) => b.toString(16).padStart(2, '0')).join(' ');
      const text = p === at ? note : '';
      this.lines.push(
        `${p.toString(16).padStart(4, '0')}  ${hex.padEnd(HEX_COLUMN_WIDTH)}  ${text}`.trimEnd(),
      );
      if (length === 0) break;
    }
    return at + length;
  }

  done(at: number): string[] {
    if (at !== this.bytes.length) throw new Error(`dump: ${this.bytes.length - at} bytes left unlabelled`);
    return this.lines;
  }
}

/** One msgpack header: what it is, how long the header is, and the payload length or inline value. */
interface Header {
  kind: 'map' | 'array' | 'str' | 'bin' | 'uint' | 'int' | 'float64';
  headerBytes: number;
  /** Entries (map, array) or payload bytes (str, bin, uint, int, float64). */
  count: number;
  /** The msgpack format's name, as the dump shows it. */
  format: string;
}

function header(bytes: Uint8Array, at: number): Header {
  const b = bytes[at]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b <= 0x7f) return { kind: 'uint', headerBytes: 1, count: 0, format: 'positive fixint' };
  if (b >= 0x80 && b <= 0x8f) return { kind: 'map', headerBytes: 1, count: b & 0x0f, format: 'fixmap' };
  if (b >= 0x90 && b <= 0x9f) return { kind: 'array', headerBytes: 1, count: b & 0x0f, format: 'fixarray' };
  if (b >= 0xa0 && b <= 0xbf) return { kind: 'str', headerBytes: 1, count: b & 0x1f, format: 'fixstr' };
  switch (b) {
    case 0xc4:
      return { kind: 'bin', headerBytes: 2, count: bytes[at + 1]!, format: 'bin 8' };
    case 0xc5:
      return { kind: 'bin', headerBytes: 3, count: view.getUint16(at + 1), format: 'bin 16' };
    case 0xcb:
      return { kind: 'float64', headerBytes: 1, count: 8, format: 'float 64' };
    case 0xcc:
      return { kind: 'uint', headerBytes: 1, count: 1, format: 'uint 8' };
    case 0xcd:
      return { kind: 'uint', headerBytes: 1, count: 2, format: 'uint 16' };
    case 0xce:
      return { kind: 'uint', headerBytes: 1, count: 4, format: 'uint 32' };
    case 0xcf:
      return { kind: 'uint', headerBytes: 1, count: 8, format: 'uint 64' };
    case 0xd3:
      return { kind: 'int', headerBytes: 1, count: 8, format: 'int 64' };
    case 0xd9:
      return { kind: 'str', headerBytes: 2, count: bytes[at + 1]!, format: 'str 8' };
    case 0xdc:
      return { kind: 'array', headerBytes: 3, count: view.getUint16(at + 1), format: 'array 16' };
    case 0xde:
      return { kind: 'map', headerBytes: 3, count: view.getUint16(at + 1), format: 'map 16' };
    default:
      throw new Error(`dump: msgpack byte 0x${b.toString(16)} at ${at} is not used by these examples`);
  }
}

const utf8 = new TextDecoder();

function text(bytes: Uint8Array, at: number, length: number): string {
  return utf8.decode(bytes.subarray(at, at + length));
}

/** "1767225600000250000 ns (2026-01-01T00:00:00.000250000Z)". */
export function nsWithIso(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString();
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${ns} ns (${iso.slice(0, 19)}.${fraction}Z)`;
}

function readBig(bytes: Uint8Array, at: number, signed: boolean): bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return signed ? view.getBigInt64(at) : view.getBigUint64(at);
}

/** The HLC binary form (hlc/hlcCodec.ts), field by field, starting at `at`. */
function dumpHlc(d: Dump, bytes: Uint8Array, at: number, indent: string): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  at = d.add(at, 8, `${indent}wallNs   u64 BE = ${nsWithIso(view.getBigUint64(at))}`);
  at = d.add(at, 4, `${indent}logical  u32 BE = ${view.getUint32(at)}`);
  const idLength = bytes[at]!;
  at = d.add(at, 1, `${indent}nodeId length u8 = ${idLength}`);
  return d.add(at, idLength, `${indent}nodeId UTF-8 = "${text(bytes, at, idLength)}"`);
}

/** Notes for the request's and response's fields, by key, given the payload's position. */
function responseValueNote(key: string, bytes: Uint8Array, at: number, h: Header, what: string): string {
  switch (key) {
    case 'v':
      return `= ${bytes[at - h.headerBytes]!} (protocol version)`;
    case 'n':
      return what === 'sample request'
        ? 'nonce: 16 random bytes chosen by the requester'
        : 'nonce, echoed from the request';
    case 't2':
      return `T2 i64 BE = ${nsWithIso(readBig(bytes, at, true))}`;
    case 't3':
      return `T3 i64 BE = ${nsWithIso(readBig(bytes, at, true))}`;
    case 'e':
      return `earliest i64 BE = ${nsWithIso(readBig(bytes, at, true))}`;
    case 'l':
      return `latest i64 BE = ${nsWithIso(readBig(bytes, at, true))}`;
    case 'rd':
      return `root distance u64 BE = ${readBig(bytes, at, false)} ns`;
    case 'ak':
      return `anchor kind = "${text(bytes, at, h.count)}"`;
    case 'st':
      return `= ${bytes[at - h.headerBytes]!} (stratum)`;
    case 'ss':
      return `sync status = "${text(bytes, at, h.count)}"`;
    case 'p':
      return `responder peer id = "${text(bytes, at, h.count)}"`;
    case 'sig':
      return 'Ed25519 signature (64 bytes) over the signed bytes';
    default:
      return '';
  }
}

/** The sample request or response (a msgpack map), entry by entry. */
export function dumpSampleMap(bytes: Uint8Array, what: string): string[] {
  const d = new Dump(bytes);
  const top = header(bytes, 0);
  if (top.kind !== 'map') throw new Error('dump: not a map');
  let at = d.add(0, top.headerBytes, `${top.format}, ${top.count} entries (${what})`);
  for (let i = 0; i < top.count; i++) {
    const kh = header(bytes, at);
    const key = text(bytes, at + kh.headerBytes, kh.count);
    at = d.add(at, kh.headerBytes + kh.count, `key "${key}"`);
    const vh = header(bytes, at);
    if (vh.kind === 'uint' && vh.count === 0) {
      at = d.add(at, 1, `  ${vh.format} ${responseValueNote(key, bytes, at + 1, vh, what)}`);
      continue;
    }
    if (key === 'h') {
      at = d.add(at, vh.headerBytes, `  ${vh.format}, ${vh.count} bytes: the responder's HLC`);
      at = dumpHlc(d, bytes, at, '    ');
      continue;
    }
    const note = responseValueNote(key, bytes, at + vh.headerBytes, vh, what);
    at = d.add(at, vh.headerBytes, `  ${vh.format}, ${vh.count} bytes`);
    at = d.add(at, vh.count, `    ${note}`);
  }
  return d.done(at);
}

/** The bytes the response's signature covers (sampleProtocol.ts canonicalBytes), field by field. */
export function dumpSignedBytes(bytes: Uint8Array): string[] {
  const d = new Dump(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nul = bytes.indexOf(0);
  let at = d.add(0, nul, `domain, ASCII "${text(bytes, 0, nul)}"`);
  at = d.add(at, 1, 'NUL');
  at = d.add(at, 1, `v u8 = ${bytes[at]!}`);
  at = d.add(at, 16, 'n, the nonce (16 bytes)');
  for (const name of ['t2', 't3', 'e', 'l']) {
    at = d.add(at, 8, `${name} i64 BE = ${nsWithIso(view.getBigInt64(at))}`);
  }
  at = d.add(at, 8, `rd u64 BE = ${view.getBigUint64(at)} ns`);
  for (const [name, intField] of [
    ['ak', false],
    ['st', true],
    ['ss', false],
  ] as const) {
    if (intField) {
      at = d.add(at, 1, `${name} u8 = ${bytes[at]!}`);
      continue;
    }
    const length = bytes[at]!;
    at = d.add(at, 1, `${name} length u8 = ${length}`);
    at = d.add(at, length, `${name} ASCII = "${text(bytes, at, length)}"`);
  }
  const hlcLength = view.getUint16(at);
  at = d.add(at, 2, `h length u16 BE = ${hlcLength}`);
  at = dumpHlc(d, bytes, at, '  ');
  const idLength = bytes[at]!;
  at = d.add(at, 1, `p length u8 = ${idLength}`);
  at = d.add(at, idLength, `p UTF-8 = "${text(bytes, at, idLength)}"`);
  return d.done(at);
}

export function dumpHlcBytes(bytes: Uint8Array): string[] {
  const d = new Dump(bytes);
  return d.done(dumpHlc(d, bytes, 0, ''));
}

const ANNOUNCEMENT_FIELDS = [
  'version',
  'nodeId',
  'seq',
  'sentAtNs',
  'hlc',
  'bestNs',
  'earliestNs',
  'latestNs',
  'rootDistanceNs',
  'anchorKind',
  'stratum',
  'status',
  'receipts',
];

/** An integer in any msgpack integer format, as a bigint. */
function intValue(bytes: Uint8Array, at: number, h: Header): bigint {
  if (h.count === 0) return BigInt(bytes[at]!);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const p = at + h.headerBytes;
  if (h.kind === 'int') return view.getBigInt64(p);
  switch (h.count) {
    case 1:
      return BigInt(view.getUint8(p));
    case 2:
      return BigInt(view.getUint16(p));
    case 4:
      return BigInt(view.getUint32(p));
    default:
      return view.getBigUint64(p);
  }
}

/** The announcement (a msgpack array of 13 elements), element by element. */
export function dumpAnnouncement(bytes: Uint8Array, receiptNote: string): string[] {
  const d = new Dump(bytes);
  const top = header(bytes, 0);
  if (top.kind !== 'array') throw new Error('dump: not an array');
  let at = d.add(0, top.headerBytes, `${top.format}, ${top.count} elements (announcement)`);
  for (let i = 0; i < top.count; i++) {
    const name = `${i} ${ANNOUNCEMENT_FIELDS[i] ?? '?'}`;
    const h = header(bytes, at);
    if (h.kind === 'uint' || h.kind === 'int') {
      const value = intValue(bytes, at, h);
      const shown = name.endsWith('Ns') && value > 1_000_000_000_000n ? nsWithIso(value) : `${value}`;
      at = d.add(at, h.headerBytes + h.count, `${name}: ${h.format} = ${shown}`);
    } else if (h.kind === 'float64') {
      const value = new DataView(bytes.buffer, bytes.byteOffset).getFloat64(at + 1);
      at = d.add(at, 9, `${name}: ${h.format} = ${value}`);
    } else if (h.kind === 'str') {
      at = d.add(at, h.headerBytes, `${name}: ${h.format}, ${h.count} bytes`);
      at = d.add(at, h.count, `  "${text(bytes, at, h.count)}"`);
    } else if (h.kind === 'bin') {
      at = d.add(at, h.headerBytes, `${name}: ${h.format}, ${h.count} bytes (HLC binary form)`);
      at = dumpHlc(d, bytes, at, '  ');
    } else if (h.kind === 'array') {
      at = d.add(at, h.headerBytes, `${name}: ${h.format}, ${h.count} receipt(s)`);
      for (let r = 0; r < h.count; r++) {
        const rh = header(bytes, at);
        at = d.add(at, rh.headerBytes, `  receipt ${r}: ${rh.format}, ${rh.count} bytes`);
        at = d.add(at, rh.count, `    ${receiptNote}`);
      }
    } else {
      throw new Error(`dump: unexpected ${h.kind} at ${at}`);
    }
  }
  return d.done(at);
}

export interface ExampleBlock {
  /** The name in `<!-- example:NAME -->`. */
  name: string;
  lines: string[];
}

export async function exampleBlocks(): Promise<ExampleBlock[]> {
  const m = await exampleMessages();
  return [
    { name: 'sample-request', lines: dumpSampleMap(m.request, 'sample request') },
    { name: 'sample-response', lines: dumpSampleMap(m.response, 'sample response') },
    { name: 'sample-signed-bytes', lines: dumpSignedBytes(m.signedBytes) },
    { name: 'hlc', lines: dumpHlcBytes(m.hlc) },
    {
      name: 'announcement',
      lines: dumpAnnouncement(m.announcement, 'the sample-response example above, byte for byte'),
    },
  ];
}

/** The Markdown the document holds for one block: the marker comment and a fenced text block. */
export function markdownFor(block: ExampleBlock): string {
  return `<!-- example:${block.name} -->\n\n\`\`\`text\n${block.lines.join('\n')}\n\`\`\`\n`;
}

async function main(): Promise<void> {
  const m = await exampleMessages();
  const out: string[] = [
    `requester peer id ${m.ids.requester} (seed 00 01 … 1f)`,
    `responder peer id ${m.ids.responder} (seed 20 21 … 3f)`,
    `request ${m.request.length} bytes, response ${m.response.length} bytes, signed bytes ${m.signedBytes.length}, ` +
      `announcement ${m.announcement.length} bytes`,
    '',
  ];
  for (const block of await exampleBlocks()) out.push(markdownFor(block));
  process.stdout.write(`${out.join('\n')}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
