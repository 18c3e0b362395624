import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import {
  TLS_ALERT,
  TSQ_CERT_FILE_NAME,
  TSQ_KEY_FILE_NAME,
  TlsCertError,
  canonicalIp,
  generateSelfSignedCertificate,
  loadOrCreateSelfSigned,
  loadTlsFiles,
  pemCertificatesToDer,
  verifyServerCertificateForIp,
} from '../../refclock/tlsCert.ts';
import { TimemeshError } from '../../hlc/errors.ts';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

/** A CA and a leaf it issued (for 127.0.0.1), to check chains that are not self-signed. */
async function caAndLeaf(): Promise<{
  caPem: string;
  leafDer: Uint8Array;
  intermediateDer: Uint8Array;
  rootPem: string;
  chainLeafDer: Uint8Array;
}> {
  const gen = async () =>
    (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const caKeys = await gen();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=test ca',
    keys: caKeys,
    signingAlgorithm: ALG,
    extensions: [new x509.BasicConstraintsExtension(true, 2, true)],
  });
  const leafKeys = await gen();
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'CN=leaf',
    issuer: ca.subject,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: ALG,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
  });
  // root → intermediate → leaf2
  const interKeys = await gen();
  const inter = await x509.X509CertificateGenerator.create({
    serialNumber: '03',
    subject: 'CN=intermediate',
    issuer: ca.subject,
    publicKey: interKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: ALG,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
  });
  const leaf2Keys = await gen();
  const leaf2 = await x509.X509CertificateGenerator.create({
    serialNumber: '04',
    subject: 'CN=leaf2',
    issuer: inter.subject,
    publicKey: leaf2Keys.publicKey,
    signingKey: interKeys.privateKey,
    signingAlgorithm: ALG,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '::1' }])],
  });
  return {
    caPem: ca.toString('pem'),
    rootPem: ca.toString('pem'),
    leafDer: new Uint8Array(leaf.rawData),
    intermediateDer: new Uint8Array(inter.rawData),
    chainLeafDer: new Uint8Array(leaf2.rawData),
  };
}

describe('tlsCert', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'timemesh-tsq-cert-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('generates a self-signed P-256 certificate for localhost, the host name and loopback', async () => {
    const m = await generateSelfSignedCertificate({ ipAddresses: ['192.0.2.7'], dnsNames: ['tsq.example'] });
    const cert = new x509.X509Certificate(m.certPem);
    assert.equal(await cert.isSelfSigned(), true);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    const names = san?.names.items.map((n) => `${n.type}:${n.value}`) ?? [];
    for (const want of ['dns:localhost', 'dns:tsq.example', 'ip:127.0.0.1', 'ip:::1', 'ip:192.0.2.7']) {
      assert.ok(names.includes(want), `${want} in ${names.join(', ')}`);
    }
    assert.ok(cert.notAfter.getTime() - Date.now() > 9 * 365 * 86_400_000);
    assert.match(m.fingerprintSha256, /^[0-9a-f]{64}$/);
  });

  it('creates the certificate once (key 0600, dir 0700) and reuses it', async () => {
    const certDir = join(dir, 'made');
    const first = await loadOrCreateSelfSigned(certDir);
    assert.equal(first.created, true);
    assert.equal((await stat(first.keyFile)).mode & 0o777, 0o600);
    assert.equal((await stat(first.certFile)).mode & 0o777, 0o644);
    assert.equal((await stat(certDir)).mode & 0o777, 0o700);
    assert.equal(first.certFile, join(certDir, TSQ_CERT_FILE_NAME));
    assert.equal(first.keyFile, join(certDir, TSQ_KEY_FILE_NAME));
    const second = await loadOrCreateSelfSigned(certDir);
    assert.equal(second.created, false);
    assert.equal(second.fingerprintSha256, first.fingerprintSha256);
    // A key others can read is refused, as ssh refuses it.
    await chmod(first.keyFile, 0o644);
    await assert.rejects(
      loadOrCreateSelfSigned(certDir),
      (e: unknown) => e instanceof TimemeshError && /chmod 600/.test((e as Error).message),
    );
    await chmod(first.keyFile, 0o600);
  });

  it('loads configured files and refuses a key that does not match the certificate', async () => {
    const a = await generateSelfSignedCertificate();
    const b = await generateSelfSignedCertificate();
    const certFile = join(dir, 'a.pem');
    const keyFile = join(dir, 'b.key');
    await writeFile(certFile, a.certPem);
    await writeFile(keyFile, b.keyPem, { mode: 0o600 });
    await assert.rejects(
      loadTlsFiles(certFile, keyFile),
      (e: unknown) => e instanceof TlsCertError && /does not match/.test((e as Error).message),
    );
    await writeFile(keyFile, a.keyPem, { mode: 0o600 });
    assert.equal((await loadTlsFiles(certFile, keyFile)).fingerprintSha256, a.fingerprintSha256);
    await assert.rejects(loadTlsFiles(join(dir, 'missing.pem'), keyFile), TlsCertError);
  });

  it('verifies a server certificate for an IP: pinned, issued by the CA, through an intermediate', async () => {
    const self = await generateSelfSignedCertificate();
    const selfDer = pemCertificatesToDer(self.certPem);
    assert.equal(await verifyServerCertificateForIp(selfDer, selfDer, '127.0.0.1'), undefined);
    assert.equal(await verifyServerCertificateForIp(selfDer, selfDer, '::1'), undefined);
    assert.equal(await verifyServerCertificateForIp(selfDer, selfDer, '0:0:0:0:0:0:0:1'), undefined);
    // Not in the SAN.
    assert.equal(
      await verifyServerCertificateForIp(selfDer, selfDer, '127.0.0.2'),
      TLS_ALERT.BAD_CERTIFICATE,
    );
    // Another CA.
    const other = pemCertificatesToDer((await generateSelfSignedCertificate()).certPem);
    assert.equal(await verifyServerCertificateForIp(selfDer, other, '127.0.0.1'), TLS_ALERT.UNKNOWN_CA);
    // Expired (checked at a later date).
    assert.equal(
      await verifyServerCertificateForIp(
        selfDer,
        selfDer,
        '127.0.0.1',
        new Date(Date.now() + 20 * 365 * 86_400_000),
      ),
      TLS_ALERT.CERTIFICATE_EXPIRED,
    );
    const { caPem, leafDer, intermediateDer, chainLeafDer } = await caAndLeaf();
    const caDer = pemCertificatesToDer(caPem);
    assert.equal(await verifyServerCertificateForIp([leafDer], caDer, '127.0.0.1'), undefined);
    assert.equal(
      await verifyServerCertificateForIp([chainLeafDer, intermediateDer], caDer, '::1'),
      undefined,
    );
    assert.equal(await verifyServerCertificateForIp([chainLeafDer], caDer, '::1'), TLS_ALERT.UNKNOWN_CA);
    // No certificate, or garbage.
    assert.equal(await verifyServerCertificateForIp([], caDer, '::1'), TLS_ALERT.BAD_CERTIFICATE);
    assert.equal(
      await verifyServerCertificateForIp([new Uint8Array([1, 2, 3])], caDer, '::1'),
      TLS_ALERT.BAD_CERTIFICATE,
    );
  });

  it('canonicalises IP addresses', () => {
    assert.equal(canonicalIp('[::1]'), '::1');
    assert.equal(canonicalIp('0000:0000::0001'), '::1');
    assert.equal(canonicalIp('127.0.0.1'), '127.0.0.1');
    assert.throws(() => canonicalIp('localhost'), TlsCertError);
  });
});
