// An RSA CSR whose SubjectPublicKeyInfo omits the NULL parameters of rsaEncryption (valid DER that some encoders
// emit) used to yield a certificate carrying the same non-canonical key bytes. The issued certificate must carry
// the canonical encoding (with NULL) and parse in openssl and in Node's X509Certificate.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.js';

const MESH = readFileSync(new URL('../../examples/0-mesh-ca-1.yaml', import.meta.url), 'utf8');
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

function tlv(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const RSA_ENCRYPTION = Buffer.from('06092a864886f70d010101', 'hex'); // OID 1.2.840.113549.1.1.1
const SHA256_WITH_RSA = Buffer.from('06092a864886f70d01010b', 'hex'); // OID 1.2.840.113549.1.1.11
const NULL = Buffer.from('0500', 'hex');

/** A PKCS#10 request for CN=web-1 whose key's AlgorithmIdentifier has no parameters at all. */
function csrWithoutNullParams(): string {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaPublicKey = publicKey.export({ type: 'pkcs1', format: 'der' });
  const spki = seq(seq(RSA_ENCRYPTION), tlv(0x03, Buffer.concat([Buffer.from([0]), rsaPublicKey])));
  const cn = seq(Buffer.from('0603550403', 'hex'), tlv(0x0c, Buffer.from('web-1')));
  const info = seq(Buffer.from('020100', 'hex'), seq(tlv(0x31, cn)), spki, Buffer.from('a000', 'hex'));
  const signature = sign('sha256', info, privateKey);
  const der = seq(info, seq(SHA256_WITH_RSA, NULL), tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}

describe('an RSA CSR without NULL key parameters', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
    const mesh = await t.app.inject({
      method: 'PUT',
      url: '/meshes/default',
      headers: { ...admin, 'content-type': 'application/yaml' },
      payload: MESH,
    });
    assert.equal(mesh.statusCode, 200, mesh.body);
    const dp = {
      type: 'Dataplane',
      mesh: 'default',
      name: 'web-1',
      networking: {
        address: '127.0.0.1',
        inbound: [{ port: 20001, servicePort: 8080, tags: { 'kuma.io/service': 'web' } }],
      },
    };
    assert.equal(
      (await t.app.inject({ method: 'PUT', url: '/meshes/default/dataplanes/web-1', headers: admin, payload: dp }))
        .statusCode,
      201,
    );
  });
  after(async () => {
    await t.close();
  });

  it('is signed with the canonical key encoding, which openssl and Node parse', async () => {
    const csr = csrWithoutNullParams();
    // The request itself really lacks the parameters: its AlgorithmIdentifier is just the OID.
    const csrDer = Buffer.from(csr.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    assert.ok(
      csrDer.includes(Buffer.concat([Buffer.from('300b', 'hex'), RSA_ENCRYPTION])),
      'CSR key AlgorithmIdentifier without NULL',
    );

    const res = await t.app.inject({
      method: 'POST',
      url: '/meshes/default/dataplanes/web-1/certificate',
      headers: admin,
      payload: { csr },
    });
    assert.equal(res.statusCode, 200, res.body);
    const { certificate, caBundle } = res.json() as { certificate: string; caBundle: string };
    const cert = new X509Certificate(certificate);
    assert.equal(cert.publicKey.asymmetricKeyType, 'rsa');
    const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
    assert.ok(
      spki.subarray(0, 20).includes(Buffer.concat([Buffer.from('300d', 'hex'), RSA_ENCRYPTION, NULL])),
      'canonical AlgorithmIdentifier',
    );
    assert.ok(cert.raw.includes(spki), 'the certificate carries exactly the canonical SubjectPublicKeyInfo');
    assert.ok(cert.verify(new X509Certificate(caBundle).publicKey));

    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: certificate }).toString();
    assert.match(text, /Public Key Algorithm: rsaEncryption/);
    assert.match(text, /Public-Key: \(2048 bit\)/);
  });
});
