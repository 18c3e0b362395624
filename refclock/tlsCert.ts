/**
 * TLS certificates for TSQ over QUIC: the server's certificate (configured files, or a self-signed
 * one generated on first start and kept), and the client's check of a server certificate against a
 * CA file when the server is addressed by IP.
 *
 * Self-signed certificate (when no cert/key files are configured): ECDSA P-256 / SHA-256 (the key
 * type every TLS 1.3 stack accepts), valid 10 years from one hour before creation, subject
 * `CN=timemesh tsq`, subject alternative names DNS `localhost`, the host name, IP 127.0.0.1 and ::1,
 * plus any names and addresses configured. It is written to `<dir>/tsq-cert.pem` (mode 0644) and
 * `<dir>/tsq-key.pem` (mode 0600, the directory 0700 if created here), atomically and never over an
 * existing file; later starts reuse them. A key file that group or others can read is refused (as for
 * the identity key), and so is a key that does not match the certificate. Clients pin it by using
 * `tsq-cert.pem` itself as their CA file (it is its own issuer).
 *
 * Client side: quiche (BoringSSL) verifies a server *name* natively (chain to the CA file, validity,
 * DNS name), but checks an IP literal as if it were a DNS name, so an IP SAN never matches. For a
 * server given by IP address the client instead verifies in `verifyServerCertificateForIp`: the leaf
 * must be valid now, carry that IP in its SAN, and chain (through the intermediates the server sent,
 * at most 4) to a certificate of the CA file, each signature checked. The TLS handshake itself has
 * already proved that the server holds the leaf's private key.
 */
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, createHash, webcrypto } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { TimemeshError } from '../hlc/errors.ts';
import { readPrivateFile } from '../node/identity.ts';
import { writeFileAtomic } from '../node/stateStore.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const TSQ_CERT_FILE_NAME = 'tsq-cert.pem';
export const TSQ_KEY_FILE_NAME = 'tsq-key.pem';
const VALIDITY_DAYS = 3650;
const PEM_BYTES_MAX = 64 * 1024;
const CHAIN_DEPTH_MAX = 4;

/** TLS crypto errors (TLS alert + 0x100), as @matrixai/quic's verify callback returns them. */
export const TLS_ALERT = {
  BAD_CERTIFICATE: 298,
  CERTIFICATE_EXPIRED: 301,
  UNKNOWN_CA: 304,
} as const;

export class TlsCertError extends TimemeshError {
  constructor(message: string, cause?: unknown) {
    super('TM_ERR_TSQ_TLS', message, cause === undefined ? undefined : { cause });
  }
}

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the leaf certificate's DER, hex: what an operator compares when pinning. */
  fingerprintSha256: string;
}

export interface SelfSignedOptions {
  /** Extra DNS names and IP addresses for the SAN (localhost, the host name, 127.0.0.1, ::1 always). */
  dnsNames?: string[];
  ipAddresses?: string[];
  /** The creation instant (tests); defaults to now. */
  now?: Date;
}

/** A fresh self-signed ECDSA P-256 certificate and its PKCS#8 key, both PEM. */
export async function generateSelfSignedCertificate(options: SelfSignedOptions = {}): Promise<TlsMaterial> {
  const now = options.now ?? new Date();
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const dns = unique(['localhost', hostname(), ...(options.dnsNames ?? [])].filter((n) => n.length > 0));
  const ips = unique(['127.0.0.1', '::1', ...(options.ipAddresses ?? [])].map(canonicalIp));
  const serial = webcrypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0] as number) & 0x7f;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(serial).toString('hex'),
    name: 'CN=timemesh tsq',
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: new Date(now.getTime() + VALIDITY_DAYS * 86_400_000),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      // No Key Usage extension: one without keyCertSign would stop BoringSSL from taking this
      // self-issued certificate as its own trust anchor (a pinned CA file).
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...dns.map((value) => ({ type: 'dns' as const, value })),
        ...ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const certPem = cert.toString('pem');
  return {
    certPem,
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    fingerprintSha256: fingerprint(certPem),
  };
}

/** Reads a configured certificate (chain) and key, and checks that they belong together. */
export async function loadTlsFiles(certFile: string, keyFile: string): Promise<TlsMaterial> {
  let certPem: string;
  try {
    certPem = await readFile(certFile, 'utf8');
  } catch (error) {
    throw new TlsCertError(`cannot read the TSQ certificate ${certFile}: ${(error as Error).message}`, error);
  }
  const keyBytes = await readPrivateFile(
    keyFile,
    'TSQ TLS key',
    PEM_BYTES_MAX,
    (size) => new TlsCertError(`TSQ TLS key ${keyFile}: ${size} bytes, too large for a PEM key`),
  );
  if (keyBytes === null) throw new TlsCertError(`TSQ TLS key ${keyFile} does not exist`);
  const keyPem = Buffer.from(keyBytes).toString('utf8');
  checkPair(certPem, keyPem, `${certFile} and ${keyFile}`);
  return { certPem, keyPem, fingerprintSha256: fingerprint(certPem) };
}

/**
 * The certificate in `dir` (tsq-cert.pem, tsq-key.pem), generated and written there on first use.
 * `created` tells whether this call made it.
 */
export async function loadOrCreateSelfSigned(
  dir: string,
  options: SelfSignedOptions = {},
): Promise<TlsMaterial & { created: boolean; certFile: string; keyFile: string }> {
  const certFile = join(dir, TSQ_CERT_FILE_NAME);
  const keyFile = join(dir, TSQ_KEY_FILE_NAME);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new TlsCertError(
      `cannot use directory ${dir} for the TSQ certificate: ${(error as Error).message}`,
      error,
    );
  }
  const existingKey = await readPrivateFile(
    keyFile,
    'TSQ TLS key',
    PEM_BYTES_MAX,
    (size) => new TlsCertError(`TSQ TLS key ${keyFile}: ${size} bytes, too large for a PEM key`),
  );
  if (existingKey !== null) {
    const material = await loadTlsFiles(certFile, keyFile);
    const notAfter = new x509.X509Certificate(material.certPem).notAfter;
    if (notAfter.getTime() < (options.now ?? new Date()).getTime()) {
      throw new TlsCertError(
        `the TSQ certificate ${certFile} expired on ${notAfter.toISOString()}; remove ${certFile} and ` +
          `${keyFile} to have a new one generated (clients that pin it need the new ${TSQ_CERT_FILE_NAME})`,
      );
    }
    return { ...material, created: false, certFile, keyFile };
  }
  const material = await generateSelfSignedCertificate(options);
  try {
    // Key first, never over an existing file: a second process racing us fails here and reads ours.
    await writeFileAtomic(keyFile, material.keyPem, { mode: 0o600, overwrite: false });
    await writeFileAtomic(certFile, material.certPem, { mode: 0o644, overwrite: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      return { ...(await loadTlsFiles(certFile, keyFile)), created: false, certFile, keyFile };
    }
    throw new TlsCertError(`cannot write the TSQ certificate to ${dir}: ${(error as Error).message}`, error);
  }
  return { ...material, created: true, certFile, keyFile };
}

/**
 * Checks a server certificate chain (DER, leaf first) for a server addressed by IP. Returns
 * undefined when it is good, else the TLS alert code to close the connection with.
 */
export async function verifyServerCertificateForIp(
  chain: Uint8Array[],
  caDers: Uint8Array[],
  ip: string,
  now: Date = new Date(),
): Promise<number | undefined> {
  try {
    const first = chain[0];
    if (first === undefined) return TLS_ALERT.BAD_CERTIFICATE;
    const leaf = new x509.X509Certificate(first);
    if (!validAt(leaf, now)) return TLS_ALERT.CERTIFICATE_EXPIRED;
    const san = leaf.getExtension(x509.SubjectAlternativeNameExtension);
    const want = canonicalIp(ip);
    const ipMatches =
      san?.names.items.some((n) => n.type === 'ip' && safeCanonicalIp(n.value) === want) ?? false;
    if (!ipMatches) return TLS_ALERT.BAD_CERTIFICATE;
    const cas = caDers.map((der) => new x509.X509Certificate(der));
    const intermediates = chain.slice(1).map((der) => new x509.X509Certificate(der));
    let current = leaf;
    for (let depth = 0; depth <= CHAIN_DEPTH_MAX; depth++) {
      // Pinned: the certificate itself is in the CA file.
      if (cas.some((ca) => equalDer(ca.rawData, current.rawData))) return undefined;
      for (const ca of cas) {
        if (await issuedBy(current, ca, now)) return undefined;
      }
      let next: x509.X509Certificate | undefined;
      for (const candidate of intermediates) {
        if (await issuedBy(current, candidate, now)) {
          next = candidate;
          break;
        }
      }
      if (next === undefined) return TLS_ALERT.UNKNOWN_CA;
      current = next;
    }
    return TLS_ALERT.UNKNOWN_CA;
  } catch {
    return TLS_ALERT.BAD_CERTIFICATE;
  }
}

/** The certificates of a PEM bundle, as DER (one entry per certificate). */
export function pemCertificatesToDer(pem: string): Uint8Array[] {
  return x509.PemConverter.decodeWithHeaders(pem)
    .filter((block) => block.type === 'CERTIFICATE')
    .map((block) => new Uint8Array(block.rawData));
}

/** A PEM bundle split into one PEM string per certificate (what @matrixai/quic's `ca` expects). */
export function splitPemCertificates(pem: string): string[] {
  return pemCertificatesToDer(pem).map((der) => x509.PemConverter.encode(der, 'CERTIFICATE'));
}

export function canonicalIp(ip: string): string {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const family = isIP(bare);
  if (family === 0) throw new TlsCertError(`not an IP address: ${ip}`);
  return family === 6
    ? new URL(`http://[${bare}]`).hostname.slice(1, -1)
    : new URL(`http://${bare}`).hostname;
}

function safeCanonicalIp(ip: string): string | null {
  try {
    return canonicalIp(ip);
  } catch {
    return null;
  }
}

async function issuedBy(
  cert: x509.X509Certificate,
  issuer: x509.X509Certificate,
  now: Date,
): Promise<boolean> {
  if (cert.issuer !== issuer.subject || !validAt(issuer, now)) return false;
  const bc = issuer.getExtension(x509.BasicConstraintsExtension);
  const selfSignedLeaf = equalDer(cert.rawData, issuer.rawData);
  if (!selfSignedLeaf && bc?.ca !== true) return false;
  return cert.verify({ publicKey: issuer, signatureOnly: true });
}

function validAt(cert: x509.X509Certificate, now: Date): boolean {
  return cert.notBefore.getTime() <= now.getTime() && now.getTime() <= cert.notAfter.getTime();
}

function equalDer(a: ArrayBuffer, b: ArrayBuffer): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

function checkPair(certPem: string, keyPem: string, what: string): void {
  try {
    const certSpki = Buffer.from(new x509.X509Certificate(certPem).publicKey.rawData);
    const keySpki = createPublicKey(createPrivateKey(keyPem)).export({ format: 'der', type: 'spki' });
    if (!certSpki.equals(keySpki)) throw new TlsCertError(`${what}: the key does not match the certificate`);
  } catch (error) {
    if (error instanceof TlsCertError) throw error;
    throw new TlsCertError(
      `${what}: not a PEM certificate and private key (${(error as Error).message})`,
      error,
    );
  }
}

function fingerprint(certPem: string): string {
  const der = Buffer.from(new x509.X509Certificate(certPem).rawData);
  return createHash('sha256').update(der).digest('hex');
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
