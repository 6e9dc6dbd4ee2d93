import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { DerError, DerNode, encodeOid, encodeTime, parseDer, readTlv } from '../../src/ca/der.js';
import {
  caKeyTypeOf,
  createRootCaCertificate,
  createSelfSignedServerCertificate,
  issueLeafCertificate,
  loadCaSigner,
  pemDecodeAll,
  pemEncode,
} from '../../src/ca/x509.js';
import type { CaKeyType, CaSigner } from '../../src/ca/x509.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'meshcp-x509-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let fileCounter = 0;
function tmpFile(name: string, content: string): string {
  const path = join(dir, `${fileCounter++}-${name}`);
  writeFileSync(path, content);
  return path;
}

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function opensslText(pem: string): string {
  return openssl('x509', '-noout', '-text', '-in', tmpFile('cert.pem', pem));
}

function opensslVerify(rootPem: string, leafPem: string, untrustedPem?: string): { ok: boolean; output: string } {
  const args = ['verify', '-CAfile', tmpFile('root.pem', rootPem)];
  if (untrustedPem) args.push('-untrusted', tmpFile('untrusted.pem', untrustedPem));
  args.push(tmpFile('leaf.pem', leafPem));
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: r.status === 0 && /: OK\s*$/.test(r.stdout), output: r.stdout + r.stderr };
}

type KeyPair = { privateKey: KeyObject; publicKey: KeyObject };

function keyPair(type: CaKeyType): KeyPair {
  if (type === 'rsa') return generateKeyPairSync('rsa', { modulusLength: 2048 });
  return generateKeyPairSync('ec', { namedCurve: type === 'ec-p256' ? 'P-256' : 'P-384' });
}

const spkiOf = (key: KeyObject): Buffer => key.export({ type: 'spki', format: 'der' });
const pkcs8Pem = (key: KeyObject): string => key.export({ type: 'pkcs8', format: 'pem' }) as string;
const seconds = (d: Date): number => Math.floor(d.getTime() / 1000) * 1000;

const NOW = Date.now();
const ROOT_NOT_BEFORE = new Date(NOW - 10_000);
const ROOT_NOT_AFTER = new Date(NOW + 10 * 365 * 86_400_000);
const LEAF_NOT_BEFORE = new Date(NOW - 10_000);
const LEAF_NOT_AFTER = new Date(NOW + 86_400_000);
const URIS = ['spiffe://default/web', 'kuma://kuma.io/service/web', 'kuma://version/v1'];

function makeRoot(kp: KeyPair, mesh = 'default', notAfter = ROOT_NOT_AFTER): string {
  return createRootCaCertificate({
    ...kp,
    subject: { O: 'meshcp', OU: 'Mesh', CN: mesh },
    uriSan: `spiffe://${mesh}`,
    notBefore: ROOT_NOT_BEFORE,
    notAfter,
  });
}

const SIGNATURE_NAMES: Record<CaKeyType, string> = {
  rsa: 'sha256WithRSAEncryption',
  'ec-p256': 'ecdsa-with-SHA256',
  'ec-p384': 'ecdsa-with-SHA384',
};

const ecLeafKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaLeafKey = generateKeyPairSync('rsa', { modulusLength: 2048 });

for (const caType of ['rsa', 'ec-p256', 'ec-p384'] as const) {
  describe(`${caType} CA`, () => {
    const caKeys = keyPair(caType);
    const rootPem = makeRoot(caKeys);
    const ca: CaSigner = loadCaSigner(rootPem, pkcs8Pem(caKeys.privateKey));

    test('root is a self-signed CA with the mesh identity', () => {
      const root = new X509Certificate(rootPem);
      assert.equal(root.ca, true);
      assert.equal(root.subject, 'O=meshcp\nOU=Mesh\nCN=default');
      assert.equal(root.issuer, root.subject);
      assert.equal(root.subjectAltName, 'URI:spiffe://default');
      assert.equal(root.verify(caKeys.publicKey), true);
      assert.equal(root.checkPrivateKey(caKeys.privateKey), true);
      assert.equal(new Date(root.validFrom).getTime(), seconds(ROOT_NOT_BEFORE));
      assert.equal(new Date(root.validTo).getTime(), seconds(ROOT_NOT_AFTER));

      const text = opensslText(rootPem);
      assert.match(text, /X509v3 Basic Constraints: critical\s+CA:TRUE\n/);
      assert.match(text, /X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
      assert.match(text, /X509v3 Subject Key Identifier:/);
      assert.match(text, new RegExp(`Signature Algorithm: ${SIGNATURE_NAMES[caType]}`));
      assert.equal(opensslVerify(rootPem, rootPem).ok, true);
    });

    test('loadCaSigner reads the CA once', () => {
      const root = new X509Certificate(rootPem);
      assert.equal(ca.keyType, caType);
      assert.equal(ca.notBefore.getTime(), new Date(root.validFrom).getTime());
      assert.equal(ca.notAfter.getTime(), new Date(root.validTo).getTime());
      assert.deepEqual(ca.certDer, root.raw);
      assert.equal(ca.chainPem, rootPem);
      assert.equal(ca.subjectKeyId.length, 20);
    });

    for (const leafKeyType of ['ec', 'rsa'] as const) {
      test(`issues a verifiable ${leafKeyType} leaf with an empty subject and a critical URI SAN`, () => {
        const leafKeys = leafKeyType === 'rsa' ? rsaLeafKey : ecLeafKey;
        const issued = issueLeafCertificate({
          ca,
          subjectPublicKeyDer: spkiOf(leafKeys.publicKey),
          publicKeyIsRsa: leafKeyType === 'rsa',
          uris: URIS,
          notBefore: LEAF_NOT_BEFORE,
          notAfter: LEAF_NOT_AFTER,
        });
        const leaf = new X509Certificate(issued.pem);
        const root = new X509Certificate(rootPem);
        assert.deepEqual(leaf.raw, issued.der);
        assert.equal(leaf.ca, false);
        assert.equal(leaf.subject, undefined);
        assert.equal(leaf.subjectAltName, URIS.map((u) => `URI:${u}`).join(', '));
        assert.equal(leaf.issuer, root.subject);
        assert.equal(leaf.verify(caKeys.publicKey), true);
        assert.equal(leaf.checkIssued(root), true);
        assert.equal(leaf.checkPrivateKey(leafKeys.privateKey), true);
        assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
        assert.equal(new Date(leaf.validFrom).getTime(), seconds(LEAF_NOT_BEFORE));
        assert.equal(new Date(leaf.validTo).getTime(), seconds(LEAF_NOT_AFTER));
        assert.equal(leaf.serialNumber, issued.serialHex);

        const text = opensslText(issued.pem);
        assert.match(text, /Version: 3 \(0x2\)/);
        assert.match(text, /\n\s+Subject: *\n/, 'subject must be empty');
        assert.match(text, /X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/default\/web, URI:kuma:/);
        assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE\n/);
        const keyUsage = leafKeyType === 'rsa' ? 'Digital Signature, Key Encipherment' : 'Digital Signature';
        assert.match(text, new RegExp(`X509v3 Key Usage: critical\\s+${keyUsage}\\n`));
        assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
        const aki = ca.subjectKeyId.toString('hex').toUpperCase().match(/../g)!.join(':');
        assert.match(text, new RegExp(`X509v3 Authority Key Identifier:\\s+(keyid:)?${aki}`));
        assert.match(text, new RegExp(`Signature Algorithm: ${SIGNATURE_NAMES[caType]}`));

        const serial = openssl('x509', '-noout', '-serial', '-in', tmpFile('leaf.pem', issued.pem)).trim();
        assert.match(serial, /^serial=[0-9A-F]{2,40}$/, 'serial must be positive and at most 20 octets');
        assert.ok(BigInt(`0x${serial.slice('serial='.length)}`) > 0n);

        const verified = opensslVerify(rootPem, issued.pem);
        assert.equal(verified.ok, true, verified.output);
      });
    }

    test('a leaf from another CA does not verify against this root', () => {
      const otherKeys = keyPair('ec-p256');
      const other = loadCaSigner(makeRoot(otherKeys), pkcs8Pem(otherKeys.privateKey));
      const issued = issueLeafCertificate({
        ca: other,
        subjectPublicKeyDer: spkiOf(ecLeafKey.publicKey),
        publicKeyIsRsa: false,
        uris: URIS,
        notBefore: LEAF_NOT_BEFORE,
        notAfter: LEAF_NOT_AFTER,
      });
      assert.equal(new X509Certificate(issued.pem).verify(caKeys.publicKey), false);
      assert.equal(opensslVerify(rootPem, issued.pem).ok, false);
    });
  });
}

describe('issueLeafCertificate', () => {
  const caKeys = keyPair('ec-p256');
  const ca = loadCaSigner(makeRoot(caKeys), pkcs8Pem(caKeys.privateKey));
  const issue = (overrides: Partial<Parameters<typeof issueLeafCertificate>[0]> = {}) =>
    issueLeafCertificate({
      ca,
      subjectPublicKeyDer: spkiOf(ecLeafKey.publicKey),
      publicKeyIsRsa: false,
      uris: URIS,
      notBefore: LEAF_NOT_BEFORE,
      notAfter: LEAF_NOT_AFTER,
      ...overrides,
    });

  test('serials are random, positive and distinct', () => {
    const serials = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const { der, serialHex } = issue();
      const serial = parseDer(der).children()[0].children()[1];
      const content = serial.integer();
      assert.ok(content.length <= 20 && (content[0] & 0x80) === 0, 'positive, at most 20 octets');
      assert.equal(content.toString('hex').toUpperCase(), serialHex);
      serials.add(serialHex);
    }
    assert.equal(serials.size, 300);
  });

  test('a validity beyond 2049 is encoded as GeneralizedTime and read back', () => {
    const notAfter = new Date(Date.UTC(2061, 5, 1, 12, 0, 0));
    const leaf = new X509Certificate(issue({ notAfter }).pem);
    assert.equal(new Date(leaf.validTo).getTime(), notAfter.getTime());
    assert.equal(encodeTime(notAfter)[0], 0x18);
    assert.equal(encodeTime(new Date(Date.UTC(2049, 11, 31, 23, 59, 59)))[0], 0x17);
  });

  test('refuses what would make an invalid certificate', () => {
    assert.throws(() => issue({ uris: [] }), /at least one URI/);
    assert.throws(() => issue({ uris: ['spiffe://default/a b'] }), /invalid URI SAN/);
    assert.throws(() => issue({ subjectPublicKeyDer: Buffer.from('not a key') }), /SubjectPublicKeyInfo|DER/);
    assert.throws(() => issue({ notAfter: LEAF_NOT_BEFORE }), /notAfter/);
  });
});

describe('intermediate CA chain', () => {
  test('root -> intermediate -> leaf verifies with the intermediate as untrusted', () => {
    const rootKeys = keyPair('ec-p256');
    const rootPem = makeRoot(rootKeys);
    const rootKeyFile = tmpFile('root.key', pkcs8Pem(rootKeys.privateKey));
    const rootFile = tmpFile('root.pem', rootPem);
    const interKeys = keyPair('rsa');
    const interKeyFile = tmpFile('inter.key', pkcs8Pem(interKeys.privateKey));
    const interCsr = tmpFile('inter.csr', '');
    openssl('req', '-new', '-key', interKeyFile, '-subj', '/O=meshcp/OU=Mesh/CN=intermediate', '-out', interCsr);
    const extFile = tmpFile(
      'ext.cnf',
      'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n',
    );
    const interPem = openssl(
      'x509',
      '-req',
      '-in',
      interCsr,
      '-CA',
      rootFile,
      '-CAkey',
      rootKeyFile,
      '-set_serial',
      '4242',
      '-days',
      '30',
      '-extfile',
      extFile,
      '-sha256',
    );

    const ca = loadCaSigner(interPem + rootPem, pkcs8Pem(interKeys.privateKey));
    assert.equal(ca.keyType, 'rsa');
    assert.equal(pemDecodeAll(ca.chainPem, 'CERTIFICATE').length, 2);
    assert.deepEqual(pemDecodeAll(ca.chainPem)[0], new X509Certificate(interPem).raw);

    const issued = issueLeafCertificate({
      ca,
      subjectPublicKeyDer: spkiOf(ecLeafKey.publicKey),
      publicKeyIsRsa: false,
      uris: URIS,
      notBefore: LEAF_NOT_BEFORE,
      notAfter: LEAF_NOT_AFTER,
    });
    const leaf = new X509Certificate(issued.pem);
    assert.equal(leaf.issuer, 'O=meshcp\nOU=Mesh\nCN=intermediate');
    assert.equal(leaf.verify(interKeys.publicKey), true);

    // The leaf's AKI must be the SKI openssl put into the intermediate.
    const interText = opensslText(interPem);
    const ski = /X509v3 Subject Key Identifier:\s+([0-9A-F:]+)/.exec(interText)?.[1];
    assert.ok(ski);
    assert.match(opensslText(issued.pem), new RegExp(`X509v3 Authority Key Identifier:\\s+(keyid:)?${ski}`));

    const withIntermediate = opensslVerify(rootPem, issued.pem, interPem);
    assert.equal(withIntermediate.ok, true, withIntermediate.output);
    assert.equal(opensslVerify(rootPem, issued.pem).ok, false, 'the intermediate is needed');
  });
});

describe('loadCaSigner errors', () => {
  const keys = keyPair('ec-p256');
  const rootPem = makeRoot(keys);

  test('rejects unparseable material with a descriptive error', () => {
    assert.throws(() => loadCaSigner('nothing here', pkcs8Pem(keys.privateKey)), /no PEM CERTIFICATE/);
    const garbage = pemEncode('CERTIFICATE', randomBytes(64));
    assert.throws(() => loadCaSigner(garbage, pkcs8Pem(keys.privateKey)), /could not be parsed/);
    assert.throws(() => loadCaSigner(rootPem, 'not a key'), /private key could not be loaded/);
  });

  test('rejects a key that does not match the certificate', () => {
    const other = keyPair('ec-p256');
    assert.throws(() => loadCaSigner(rootPem, pkcs8Pem(other.privateKey)), /does not match/);
  });

  test('rejects CA keys we cannot sign with', () => {
    const ed = generateKeyPairSync('ed25519');
    assert.throws(() => makeRoot(ed), /unsupported key type ed25519/);
    const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
    assert.throws(() => makeRoot(p521), /unsupported EC curve/);
  });

  test('a root valid past 2049 round-trips its dates', () => {
    const notAfter = new Date(Date.UTC(2060, 0, 2, 3, 4, 5));
    const ca = loadCaSigner(makeRoot(keys, 'long', notAfter), pkcs8Pem(keys.privateKey));
    assert.equal(ca.notAfter.getTime(), notAfter.getTime());
    assert.match(opensslText(ca.certPem), /Not After : Jan {2}2 03:04:05 2060 GMT/);
  });
});

describe('createSelfSignedServerCertificate', () => {
  test('serves TLS for its DNS name and IPs', async () => {
    const keys = keyPair('ec-p256');
    const pem = createSelfSignedServerCertificate({
      ...keys,
      commonName: 'meshcp',
      dnsNames: ['localhost', 'cp.example'],
      ipAddresses: ['127.0.0.1', '::1', 'fd00::10:1'],
      notBefore: new Date(NOW - 10_000),
      notAfter: new Date(NOW + 86_400_000),
    });
    const cert = new X509Certificate(pem);
    assert.equal(cert.subject, 'CN=meshcp');
    assert.equal(cert.ca, false);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(cert.checkHost('cp.example'), 'cp.example');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkIP('fd00:0:0:0:0:0:10:1'), 'fd00:0:0:0:0:0:10:1');
    assert.equal(cert.checkIP('10.0.0.1'), undefined);
    const text = opensslText(pem);
    assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /IP Address:0:0:0:0:0:0:0:1, IP Address:FD00:0:0:0:0:0:10:1/);

    const server = createServer({ key: pkcs8Pem(keys.privateKey), cert: pem }, (socket) => socket.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const handshake = (servername: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, servername, ca: pem }, () => {
          socket.once('data', (d) => resolve(String(d)));
        });
        socket.once('error', reject);
      });
    try {
      assert.equal(await handshake('localhost'), 'hello');
      await assert.rejects(handshake('elsewhere.example'), /does not match|altnames/i);
    } finally {
      server.close();
    }
  });
});

describe('PEM', () => {
  test('encodes 64-character lines and decodes every block, optionally by label', () => {
    const a = randomBytes(100);
    const b = randomBytes(3);
    const pem =
      pemEncode('CERTIFICATE', a) + 'junk between\n' + pemEncode('PRIVATE KEY', b) + pemEncode('CERTIFICATE', b);
    assert.ok(pem.split('\n').every((line) => line.length <= 64));
    assert.deepEqual(pemDecodeAll(pem), [a, b, b]);
    assert.deepEqual(pemDecodeAll(pem, 'CERTIFICATE'), [a, b]);
    assert.deepEqual(pemDecodeAll(pem, 'CERTIFICATE REQUEST'), []);
    assert.throws(() => pemDecodeAll('-----BEGIN CERTIFICATE-----\nab$d\n-----END CERTIFICATE-----\n'), /base64/);
  });
});

describe('DER reader', () => {
  const keys = keyPair('ec-p256');
  const der = pemDecodeAll(makeRoot(keys))[0];

  // Walks every element, as a certificate parser would, reading the primitives it understands.
  function walk(node: DerNode, depth = 0): number {
    assert.ok(depth < 64);
    let count = 1;
    if (node.constructed) for (const child of node.children()) count += walk(child, depth + 1);
    else if (node.tag === 0x06) node.oid();
    else if (node.tag === 0x02) node.integer();
    else if (node.tag === 0x17 || node.tag === 0x18) node.time();
    return count;
  }

  test('walks a certificate and reads its OIDs back', () => {
    assert.ok(walk(parseDer(der)) > 30);
    const [tbs] = parseDer(der).children();
    const sigAlg = tbs.children()[2].children()[0];
    assert.equal(sigAlg.oid(), '1.2.840.10045.4.3.2');
    assert.ok(sigAlg.isOid(encodeOid('1.2.840.10045.4.3.2')));
    assert.equal(
      parseDer(encodeOid('2.25.329800735698586629295641978511506172918')).oid(),
      '2.25.329800735698586629295641978511506172918',
    );
  });

  test('every truncation throws DerError', () => {
    for (let len = 0; len < der.length; len++) {
      assert.throws(() => walk(parseDer(der.subarray(0, len))), DerError, `truncated to ${len}`);
    }
    assert.throws(() => parseDer(Buffer.concat([der, Buffer.from([0])])), /trailing/);
  });

  test('random corruption throws DerError or parses, never anything else', () => {
    for (let i = 0; i < 2000; i++) {
      const bad = Buffer.from(der);
      for (let j = 0; j < 3; j++) bad[Math.floor(Math.random() * bad.length)] = Math.floor(Math.random() * 256);
      try {
        walk(parseDer(bad));
      } catch (err) {
        assert.ok(err instanceof DerError, `unexpected ${String(err)}`);
      }
    }
  });

  test('rejects non-DER lengths and impossible sizes', () => {
    assert.throws(() => parseDer(Buffer.from([0x30, 0x80, 0x00, 0x00])), /indefinite/);
    assert.throws(() => parseDer(Buffer.from([0x04, 0x81, 0x05, 1, 2, 3, 4, 5])), /non-minimal/);
    assert.throws(() => parseDer(Buffer.from([0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 0])), /truncated/);
    assert.throws(() => parseDer(Buffer.from([0x1f, 0x01, 0x00])), /multi-octet/);
    assert.throws(() => readTlv(Buffer.alloc(0), 0), DerError);
    assert.throws(() => parseDer(Buffer.from([0x02, 0x02, 0x00, 0x01])).integer(), /non-minimal INTEGER/);
  });
});

describe('caKeyTypeOf', () => {
  // On Node 20, reading asymmetricKeyDetails of a key made by generateKeyPairSync can deadlock the thread when a
  // garbage collection runs inside the read (a signing-pool test process hung forever in CI that way). The key type
  // must come from the key's DER instead: here any read of the details fails the test.
  test('tells RSA, P-256 and P-384 keys apart, for private and public keys, without reading asymmetricKeyDetails', () => {
    const keyObjectPrototype = Object.getPrototypeOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const owner = [keyObjectPrototype, Object.getPrototypeOf(keyObjectPrototype)].find((p) =>
      Object.hasOwn(p, 'asymmetricKeyDetails'),
    )!;
    const original = Object.getOwnPropertyDescriptor(owner, 'asymmetricKeyDetails')!;
    Object.defineProperty(owner, 'asymmetricKeyDetails', {
      ...original,
      get: () => assert.fail('asymmetricKeyDetails was read'),
    });
    try {
      const cases: [KeyObject, KeyObject, CaKeyType][] = [
        [...Object.values(generateKeyPairSync('ec', { namedCurve: 'P-256' })), 'ec-p256'] as [
          KeyObject,
          KeyObject,
          CaKeyType,
        ],
        [...Object.values(generateKeyPairSync('ec', { namedCurve: 'P-384' })), 'ec-p384'] as [
          KeyObject,
          KeyObject,
          CaKeyType,
        ],
        [...Object.values(generateKeyPairSync('rsa', { modulusLength: 2048 })), 'rsa'] as [
          KeyObject,
          KeyObject,
          CaKeyType,
        ],
      ];
      for (const [a, b, expected] of cases) {
        assert.equal(caKeyTypeOf(a), expected);
        assert.equal(caKeyTypeOf(b), expected);
      }
      assert.throws(
        () => caKeyTypeOf(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey),
        /unsupported EC curve/,
      );
      assert.throws(() => caKeyTypeOf(generateKeyPairSync('ed25519').privateKey), /unsupported key type ed25519/);
    } finally {
      Object.defineProperty(owner, 'asymmetricKeyDetails', original);
    }
  });
});
