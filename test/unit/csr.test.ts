import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildCsr } from '../../src/agent/csr.js';
import { CsrError, parseAndVerifyCsr } from '../../src/ca/csr.js';
import { parseDer } from '../../src/ca/der.js';
import {
  createRootCaCertificate,
  issueLeafCertificate,
  loadCaSigner,
  pemDecodeAll,
  pemEncode,
} from '../../src/ca/x509.js';

const execFileAsync = promisify(execFile);

interface OpensslCsr {
  csrPem: string;
  keyPem: string;
}

let dir: string;
const csrs = new Map<string, OpensslCsr>();

// Each entry: the `openssl req` key and digest options.
const CSR_KINDS: Record<string, string[]> = {
  'ec-p256': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'ec-p384': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  'rsa-2048': ['-newkey', 'rsa:2048'],
  'rsa-2048-sha512': ['-newkey', 'rsa:2048', '-sha512'],
  'ec-p256-sha384': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-sha384'],
  'rsa-1024': ['-newkey', 'rsa:1024'],
  'rsa-pss': ['-newkey', 'rsa-pss', '-pkeyopt', 'rsa_keygen_bits:2048'],
  'ec-p521': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'],
  ed25519: ['-newkey', 'ed25519'],
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'meshcp-csr-'));
  await Promise.all(
    Object.entries(CSR_KINDS).map(async ([kind, args]) => {
      const keyFile = join(dir, `${kind}.key`);
      const csrFile = join(dir, `${kind}.csr`);
      await execFileAsync('openssl', [
        'req',
        '-new',
        ...args,
        '-nodes',
        '-subj',
        '/CN=x',
        '-keyout',
        keyFile,
        '-out',
        csrFile,
      ]);
      csrs.set(kind, { csrPem: readFileSync(csrFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') });
    }),
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

function csr(kind: string): OpensslCsr {
  const found = csrs.get(kind);
  assert.ok(found, `no CSR ${kind}`);
  return found;
}

function assertCsrError(pem: string, message: RegExp): void {
  assert.throws(
    () => parseAndVerifyCsr(pem),
    (err: unknown) => {
      assert.ok(err instanceof CsrError, `expected a CsrError, got ${String(err)}`);
      assert.match(err.message, message);
      return true;
    },
  );
}

describe('accepted CSRs', () => {
  for (const [kind, keyType] of [
    ['ec-p256', 'ec'],
    ['ec-p384', 'ec'],
    ['rsa-2048', 'rsa'],
    ['rsa-2048-sha512', 'rsa'],
    ['ec-p256-sha384', 'ec'],
  ] as const) {
    test(`${kind} from openssl req`, () => {
      const { csrPem, keyPem } = csr(kind);
      const result = parseAndVerifyCsr(csrPem);
      assert.equal(result.keyType, keyType);

      const expectedSpki = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
      assert.deepEqual(result.spkiDer, expectedSpki);
      assert.deepEqual(result.publicKey.export({ type: 'spki', format: 'der' }), expectedSpki);

      // The returned key really is the requester's: it verifies what the private key signs.
      const data = Buffer.from('proof');
      assert.equal(verify('sha256', data, result.publicKey, sign('sha256', data, createPrivateKey(keyPem))), true);
    });
  }

  test('CRLF line endings and surrounding whitespace are fine', () => {
    const { csrPem } = csr('ec-p256');
    assert.equal(parseAndVerifyCsr(`\n  ${csrPem.replace(/\n/g, '\r\n')}\n\n`).keyType, 'ec');
  });

  test('the key from a CSR ends up in an issued leaf that openssl accepts as matching', () => {
    const caKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const now = Date.now();
    const rootPem = createRootCaCertificate({
      ...caKeys,
      subject: { O: 'meshcp', OU: 'Mesh', CN: 'default' },
      uriSan: 'spiffe://default',
      notBefore: new Date(now - 10_000),
      notAfter: new Date(now + 86_400_000),
    });
    const ca = loadCaSigner(rootPem, caKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const { csrPem, keyPem } = csr('rsa-2048');
    const { spkiDer, keyType } = parseAndVerifyCsr(csrPem);
    const leaf = issueLeafCertificate({
      ca,
      subjectPublicKeyDer: spkiDer,
      publicKeyIsRsa: keyType === 'rsa',
      uris: ['spiffe://default/web'],
      notBefore: new Date(now - 10_000),
      notAfter: new Date(now + 3_600_000),
    });
    assert.equal(new X509Certificate(leaf.pem).checkPrivateKey(createPrivateKey(keyPem)), true);
  });
});

describe('rejected CSRs', () => {
  test('a flipped signature byte fails proof of possession', () => {
    for (const kind of ['ec-p256', 'ec-p384', 'rsa-2048']) {
      const der = pemDecodeAll(csr(kind).csrPem, 'CERTIFICATE REQUEST')[0];
      const bad = Buffer.from(der);
      bad[bad.length - 1] ^= 0x01;
      assertCsrError(
        pemEncode('CERTIFICATE REQUEST', bad),
        /csr signature does not verify \(proof of possession failed\)/,
      );
    }
  });

  test('a changed subject fails proof of possession', () => {
    const der = pemDecodeAll(csr('ec-p256').csrPem)[0];
    const info = parseDer(der).children()[0];
    const subject = info.children()[1];
    const cn = subject.end - 1; // the last byte of the subject is the "x" of CN=x
    assert.equal(der[cn], 'x'.charCodeAt(0));
    const bad = Buffer.from(der);
    bad[cn] = 'y'.charCodeAt(0);
    assertCsrError(pemEncode('CERTIFICATE REQUEST', bad), /does not verify/);
  });

  test('a signature made by another key fails proof of possession', () => {
    // Re-sign the ec-p256 request info with a different key: the signature is valid, but not by the CSR's key.
    const der = pemDecodeAll(csr('ec-p256').csrPem)[0];
    const [info, algorithm] = parseDer(der).children();
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signature = sign('sha256', info.raw(), other.privateKey);
    const bitString = Buffer.concat([Buffer.from([0x03, signature.length + 1, 0]), signature]);
    const body = Buffer.concat([info.raw(), algorithm.raw(), bitString]);
    const forged = Buffer.concat([Buffer.from([0x30, 0x81, body.length]), body]);
    assertCsrError(pemEncode('CERTIFICATE REQUEST', forged), /proof of possession failed/);
  });

  test('garbage, empty input, wrong labels and trailing junk are not CSRs', () => {
    const { csrPem } = csr('ec-p256');
    const invalid = /csr is not a valid PEM PKCS#10 certificate request/;
    assertCsrError('', invalid);
    assertCsrError('hello', invalid);
    assertCsrError(undefined as unknown as string, invalid);
    assertCsrError(pemEncode('CERTIFICATE REQUEST', Buffer.from('garbage garbage garbage')), invalid);
    assertCsrError(pemEncode('CERTIFICATE REQUEST', Buffer.alloc(0)), invalid);
    assertCsrError(csrPem.replace(/CERTIFICATE REQUEST/g, 'CERTIFICATE'), /label/);
    assertCsrError(csrPem.replace(/CERTIFICATE REQUEST/g, 'PRIVATE KEY'), /label/);
    assertCsrError(csrPem + 'trailing junk\n', invalid);
    assertCsrError('junk\n' + csrPem, invalid);
    assertCsrError(csrPem + csrPem, invalid);
    assertCsrError(csrPem.replace(/\n-----END/, '!!\n-----END'), invalid);
    const der = pemDecodeAll(csrPem)[0];
    assertCsrError(pemEncode('CERTIFICATE REQUEST', Buffer.concat([der, Buffer.from([0, 0])])), /trailing/);
    assertCsrError('x'.repeat(100_000), invalid);
  });

  test('every truncation of a CSR is a CsrError', () => {
    const der = pemDecodeAll(csr('ec-p256').csrPem)[0];
    for (let len = 0; len < der.length; len++) {
      assertCsrError(pemEncode('CERTIFICATE REQUEST', der.subarray(0, len)), /not a valid|does not verify/);
    }
  });

  test('RSA keys below 2048 bits are refused', () => {
    assertCsrError(
      csr('rsa-1024').csrPem,
      /unsupported key type: RSA keys must have 2048 to 8192 bits, this one has 1024/,
    );
  });

  test('unsupported curves, key types and signature algorithms are refused', () => {
    assertCsrError(csr('ec-p521').csrPem, /unsupported key type: EC keys must use curve P-256 or P-384/);
    assertCsrError(csr('ed25519').csrPem, /unsupported csr signature algorithm 1\.3\.101\.112/);
    assertCsrError(csr('rsa-pss').csrPem, /unsupported csr signature algorithm 1\.2\.840\.113549\.1\.1\.10/);
  });
});

describe('canonical subject keys', () => {
  test('a CSR with a compressed P-256 point yields the uncompressed SPKI (Go cannot parse a compressed one)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'csr-compressed-'));
    try {
      const run = promisify(execFile);
      await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'k.pem')]);
      await run('openssl', ['ec', '-in', join(dir, 'k.pem'), '-conv_form', 'compressed', '-out', join(dir, 'kc.pem')]);
      await run('openssl', [
        'req',
        '-new',
        '-key',
        join(dir, 'kc.pem'),
        '-subj',
        '/CN=web-1',
        '-out',
        join(dir, 'c.pem'),
      ]);
      const csr = readFileSync(join(dir, 'c.pem'), 'utf8');
      const { stdout } = await run('openssl', ['req', '-in', join(dir, 'c.pem'), '-noout', '-text']);
      assert.match(stdout, /pub:\s*\n\s*0[23]:/, 'the CSR itself carries a compressed point');
      const { spkiDer, keyType } = parseAndVerifyCsr(csr);
      assert.equal(keyType, 'ec');
      assert.equal(spkiDer.length, 91, 'uncompressed P-256 SubjectPublicKeyInfo');
      assert.equal(spkiDer[spkiDer.length - 65], 0x04);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an uncompressed P-256 key is carried over byte for byte as OpenSSL itself encodes it', () => {
    for (let i = 0; i < 50; i++) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const csr = buildCsr(privateKey, publicKey, `dp-${i}`);
      const expected = publicKey.export({ type: 'spki', format: 'der' });
      assert.deepEqual(parseAndVerifyCsr(csr).spkiDer, expected);
    }
  });
});
