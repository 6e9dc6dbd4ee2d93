// The CA backends as an operator meets them through PUT /meshes: the builtin root the CP generates, and the
// provided CAs it accepts or refuses (with Kuma's messages under `mtls.backends[i].conf`). Each accepted CA also
// signs a dataplane leaf that OpenSSL verifies, so "accepted" means "usable".
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, MS_PER_YEAR } from '../../src/resources/duration.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { OpensslWorkspace, pemBlocks, type PemPair } from '../helpers/openssl.js';

let t: TestApp;
let pki: OpensslWorkspace;
const cas: Record<string, PemPair> = {};

before(async () => {
  t = await createTestApp({}, { defaultMesh: false });
  pki = new OpensslWorkspace();
  const made = await Promise.all([
    pki.ca({ key: 'ec-p256', cn: 'ca-p256' }),
    pki.ca({ key: 'ec-p384', cn: 'ca-p384' }),
    pki.ca({ key: 'rsa-2048', cn: 'ca-rsa' }),
    pki.ca({ key: 'ec-p256', cn: 'other-p256' }),
    pki.ca({ key: 'ec-p256', cn: 'not-a-ca', basicConstraints: 'critical,CA:FALSE' }),
    pki.ca({ key: 'ec-p256', cn: 'no-cert-sign', keyUsage: 'critical,digitalSignature,cRLSign' }),
    pki.ca({ key: 'ec-p256', cn: 'key-agreement', keyUsage: 'critical,keyCertSign,cRLSign,keyAgreement' }),
    pki.ca({ key: 'ec-p384', cn: 'chain-root' }),
  ]);
  [cas.p256, cas.p384, cas.rsa, cas.other, cas.notCa, cas.noCertSign, cas.keyAgreement, cas.chainRoot] = made;
  cas.chainIntermediate = await pki.ca({
    key: 'ec-p256',
    cn: 'chain-intermediate',
    issuer: cas.chainRoot,
    basicConstraints: 'critical,CA:TRUE,pathlen:0',
  });
});

after(async () => {
  await t?.close();
  if (t) rmSync(t.dataDir, { recursive: true, force: true });
  pki?.remove();
});

// ---------------------------------------------------------------------------------------------------------------
// helpers

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function call(method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, payload?: unknown) {
  const res = await t.app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: res.statusCode, body: res.body ? (JSON.parse(res.body) as Record<string, any>) : undefined };
}

function putMesh(name: string, mtls: unknown) {
  return call('PUT', `/meshes/${name}`, { type: 'Mesh', name, ...(mtls === undefined ? {} : { mtls }) });
}

function putSecret(mesh: string, name: string, content: string) {
  return call('PUT', `/meshes/${mesh}/secrets/${name}`, { type: 'Secret', mesh, name, data: b64(content) });
}

async function secretText(mesh: string, name: string): Promise<string | undefined> {
  const res = await call('GET', `/meshes/${mesh}/secrets/${name}`);
  return res.status === 200 ? Buffer.from(res.body!.data, 'base64').toString() : undefined;
}

function provided(name: string, cert: unknown, key: unknown) {
  return { name, type: 'provided', conf: { cert, key } };
}

function inlineCa(name: string, ca: PemPair) {
  return provided(name, { inlineString: ca.certPem }, { inlineString: ca.keyPem });
}

/** Registers a dataplane `web-1` (service web) in the mesh and has the CP issue it a certificate (admin call). */
async function issueLeaf(mesh: string, body: Record<string, unknown> = {}) {
  const dp = {
    type: 'Dataplane',
    mesh,
    name: 'web-1',
    networking: {
      address: '127.0.0.1',
      inbound: [{ port: 20001, servicePort: 8080, tags: { 'kuma.io/service': 'web' } }],
    },
  };
  const put = await call('PUT', `/meshes/${mesh}/dataplanes/web-1`, dp);
  assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put.body));
  const res = await call('POST', `/meshes/${mesh}/dataplanes/web-1/certificate`, body);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as { certificate: string; caBundle: string; privateKey?: string; issuedBackend: string };
}

const sameCert = (a: string, b: string) => new X509Certificate(a).raw.equals(new X509Certificate(b).raw);

function causesOf(res: { status: number; body?: Record<string, any> }): { field: string; message: string }[] {
  return (res.body?.causes ?? []) as { field: string; message: string }[];
}

/** Expects a 400 whose causes include every one of `expected`, and that the mesh was not stored. */
async function expectRefused(mesh: string, mtls: unknown, expected: { field: string; message: string | RegExp }[]) {
  const res = await putMesh(mesh, mtls);
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body!.title, 'Could not process a resource');
  const causes = causesOf(res);
  for (const want of expected) {
    const found = causes.some(
      (c) =>
        c.field === want.field &&
        (typeof want.message === 'string' ? c.message === want.message : want.message.test(c.message)),
    );
    assert.ok(found, `expected ${want.field}: ${want.message}\n got ${JSON.stringify(causes, null, 1)}`);
  }
  // invalid_parameters carries the same list as causes (the current and the legacy field names)
  assert.deepEqual(
    res.body!.invalid_parameters,
    causes.map((c) => ({ field: c.field, reason: c.message })),
  );
  assert.equal((await call('GET', `/meshes/${mesh}`)).status, 404, 'a refused mesh must not be stored');
  return causes;
}

// ---------------------------------------------------------------------------------------------------------------
// builtin

describe('builtin backend', () => {
  async function rootOf(mesh: string, backend: string) {
    const certPem = await secretText(mesh, `${mesh}.ca-builtin-cert-${backend}`);
    const keyPem = await secretText(mesh, `${mesh}.ca-builtin-key-${backend}`);
    assert.ok(certPem && keyPem, `the builtin CA secrets of ${mesh}/${backend} exist`);
    return { certPem, keyPem, x509: new X509Certificate(certPem) };
  }

  function assertRootShape(
    mesh: string,
    root: { certPem: string; keyPem: string; x509: X509Certificate },
    bits: number,
  ) {
    const { x509 } = root;
    assert.equal(x509.publicKey.asymmetricKeyType, 'rsa');
    assert.equal(x509.publicKey.asymmetricKeyDetails?.modulusLength, bits);
    assert.equal(x509.subject, `O=meshcp\nOU=Mesh\nCN=${mesh}`);
    assert.equal(x509.issuer, x509.subject, 'self-signed');
    assert.equal(x509.subjectAltName, `URI:spiffe://${mesh}`);
    assert.equal(x509.ca, true);
    assert.ok(x509.verify(x509.publicKey), 'signed by its own key');
    assert.ok(x509.checkPrivateKey(createPrivateKey(root.keyPem)), 'the key secret is the key of the cert secret');
    const text = pki.text(root.certPem);
    assert.match(text, new RegExp(`Subject: O ?= ?meshcp, OU ?= ?Mesh, CN ?= ?${mesh}\\n`));
    assert.match(text, new RegExp(`Public-Key: \\(${bits} bit\\)`));
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Certificate Sign, CRL Sign\n/);
    assert.match(text, new RegExp(`URI:spiffe://${mesh}\\n`));
    assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    assert.ok(pki.verify(root.certPem, root.certPem).ok, 'openssl accepts the root as its own trust anchor');
  }

  function assertValidity(x509: X509Certificate, start: number, end: number, lifetimeMs: number) {
    const notBefore = new Date(x509.validFrom).getTime();
    const notAfter = new Date(x509.validTo).getTime();
    // Certificates carry whole seconds: allow the truncation below `start`.
    assert.ok(
      notBefore >= start - 10_000 - 1000 && notBefore <= end - 10_000,
      `notBefore ${x509.validFrom} is now - 10s`,
    );
    assert.ok(
      notAfter >= start + lifetimeMs - 1000 && notAfter <= end + lifetimeMs,
      `notAfter ${x509.validTo} is now + ${lifetimeMs} ms`,
    );
  }

  test('RSAbits and expiration are honoured; the root is O=meshcp, OU=Mesh, CN=<mesh> with URI SAN spiffe://<mesh>', async () => {
    const start = Date.now();
    const [a, b, c] = await Promise.all([
      putMesh('bits', {
        enabledBackend: 'ca-1',
        backends: [{ name: 'ca-1', type: 'builtin', conf: { caCert: { RSAbits: 3072, expiration: '30d' } } }],
      }),
      putMesh('alias', {
        enabledBackend: 'ca-1',
        backends: [{ name: 'ca-1', type: 'builtin', conf: { caCert: { rsaBits: 3072, expiration: '1h30m' } } }],
      }),
      putMesh('defaults', { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] }),
    ]);
    const end = Date.now();
    assert.deepEqual([a.status, b.status, c.status], [201, 201, 201], JSON.stringify([a.body, b.body, c.body]));

    const bits = await rootOf('bits', 'ca-1');
    assertRootShape('bits', bits, 3072);
    assertValidity(bits.x509, start, end, 30 * MS_PER_DAY);

    const alias = await rootOf('alias', 'ca-1');
    assertRootShape('alias', alias, 3072);
    assertValidity(alias.x509, start, end, MS_PER_HOUR + 30 * MS_PER_MINUTE);

    const defaults = await rootOf('defaults', 'ca-1');
    assertRootShape('defaults', defaults, 2048);
    assertValidity(defaults.x509, start, end, 10 * MS_PER_YEAR);
  });

  test('the root is generated once: a repeated PUT keeps it, a second backend gets its own', async () => {
    const before = await rootOf('defaults', 'ca-1');
    const mtls = {
      enabledBackend: 'ca-1',
      backends: [
        { name: 'ca-1', type: 'builtin' },
        { name: 'ca-2', type: 'builtin' },
      ],
    };
    assert.equal((await putMesh('defaults', mtls)).status, 200);
    assert.equal((await putMesh('defaults', mtls)).status, 200);
    const after = await rootOf('defaults', 'ca-1');
    assert.equal(after.certPem, before.certPem);
    assert.equal(after.keyPem, before.keyPem);
    const second = await rootOf('defaults', 'ca-2');
    assert.ok(!sameCert(second.certPem, before.certPem), 'ca-2 has its own root');
    assertRootShape('defaults', second, 2048);
  });

  test('a refused mesh PUT writes no builtin material (same transaction)', async () => {
    const secretsBefore = await call('GET', '/meshes/bits/secrets');
    const meshBefore = await call('GET', '/meshes/bits');
    const res = await putMesh('bits', {
      enabledBackend: 'ca-1',
      backends: [
        { name: 'ca-1', type: 'builtin', conf: { caCert: { RSAbits: 3072, expiration: '30d' } } },
        { name: 'ca-new', type: 'builtin' },
        provided('ca-bad', { secret: 'does-not-exist' }, { secret: 'does-not-exist' }),
      ],
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(await secretText('bits', 'bits.ca-builtin-cert-ca-new'), undefined);
    assert.equal(await secretText('bits', 'bits.ca-builtin-key-ca-new'), undefined);
    assert.deepEqual(await call('GET', '/meshes/bits/secrets'), secretsBefore);
    assert.deepEqual(await call('GET', '/meshes/bits'), meshBefore);
  });

  test('the builtin root signs leaves that openssl verifies against the bundle', async () => {
    const leaf = await issueLeaf('bits');
    assert.equal(leaf.issuedBackend, 'ca-1');
    const root = await rootOf('bits', 'ca-1');
    assert.ok(sameCert(leaf.caBundle, root.certPem));
    const verdict = pki.verify(leaf.caBundle, leaf.certificate);
    assert.ok(verdict.ok, verdict.output);
    assert.match(pki.text(leaf.certificate), /Signature Algorithm: sha256WithRSAEncryption/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// provided: accepted material

describe('provided backend: data sources and key types', () => {
  test('from mesh secrets (the secrets are PUT first)', async () => {
    assert.equal((await putMesh('from-secret', undefined)).status, 201);
    assert.equal((await putSecret('from-secret', 'ca-cert', cas.p256.certPem)).status, 201);
    assert.equal((await putSecret('from-secret', 'ca-key', cas.p256.keyPem)).status, 201);
    const res = await putMesh('from-secret', {
      enabledBackend: 'ca-1',
      backends: [provided('ca-1', { secret: 'ca-cert' }, { secret: 'ca-key' })],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const leaf = await issueLeaf('from-secret');
    assert.ok(sameCert(leaf.caBundle, cas.p256.certPem));
    assert.ok(pki.verify(cas.p256.certPem, leaf.certificate).ok);
  });

  test('from inline (base64), inlineString and file', async () => {
    const file = { cert: pki.file('file-ca.crt', cas.p256.certPem), key: pki.file('file-ca.key', cas.p256.keyPem) };
    const sources = {
      'from-inline': provided('ca-1', { inline: b64(cas.p256.certPem) }, { inline: b64(cas.p256.keyPem) }),
      'from-inline-string': provided('ca-1', { inlineString: cas.p256.certPem }, { inlineString: cas.p256.keyPem }),
      'from-file': provided('ca-1', { file: file.cert }, { file: file.key }),
    };
    for (const [mesh, backend] of Object.entries(sources)) {
      const res = await putMesh(mesh, { enabledBackend: 'ca-1', backends: [backend] });
      assert.equal(res.status, 201, `${mesh}: ${JSON.stringify(res.body)}`);
      const leaf = await issueLeaf(mesh);
      assert.ok(sameCert(leaf.caBundle, cas.p256.certPem), mesh);
      const verdict = pki.verify(cas.p256.certPem, leaf.certificate);
      assert.ok(verdict.ok, `${mesh}: ${verdict.output}`);
    }
  });

  const KEY_TYPES = [
    { ca: 'rsa', signature: 'sha256WithRSAEncryption' },
    { ca: 'p256', signature: 'ecdsa-with-SHA256' },
    { ca: 'p384', signature: 'ecdsa-with-SHA384' },
  ] as const;
  for (const { ca, signature } of KEY_TYPES) {
    test(`a ${ca} CA signs leaves with ${signature}`, async () => {
      const mesh = `key-${ca}`;
      const res = await putMesh(mesh, { enabledBackend: 'ca-1', backends: [inlineCa('ca-1', cas[ca])] });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const leaf = await issueLeaf(mesh);
      const text = pki.text(leaf.certificate);
      assert.match(text, new RegExp(`Signature Algorithm: ${signature}\\n`));
      // CP-generated keys are ECDSA P-256: digitalSignature only.
      assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature\n/);
      assert.equal(new X509Certificate(leaf.certificate).issuer, `CN=ca-${ca}`);
      assert.ok(new X509Certificate(leaf.certificate).checkPrivateKey(createPrivateKey(leaf.privateKey!)));
      const verdict = pki.verify(cas[ca].certPem, leaf.certificate);
      assert.ok(verdict.ok, verdict.output);
    });
  }

  test('an RSA CSR gets digitalSignature + keyEncipherment', async () => {
    const csr = await pki.csr({ key: 'rsa-2048' });
    const leaf = await issueLeaf('key-p256', { csr: csr.csrPem });
    assert.equal(leaf.privateKey, undefined, 'no key is returned for a CSR');
    assert.match(pki.text(leaf.certificate), /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment\n/);
    assert.ok(new X509Certificate(leaf.certificate).checkPrivateKey(createPrivateKey(csr.keyPem)));
  });

  test('an intermediate + root chain: leaves carry the intermediate, the bundle holds both', async () => {
    const chainPem = cas.chainIntermediate.certPem + cas.chainRoot.certPem;
    const res = await putMesh('chain', {
      enabledBackend: 'ca-1',
      backends: [provided('ca-1', { inlineString: chainPem }, { inlineString: cas.chainIntermediate.keyPem })],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const leaf = await issueLeaf('chain');

    const delivered = pemBlocks(leaf.certificate);
    assert.equal(delivered.length, 2, 'leaf + intermediate');
    assert.ok(sameCert(delivered[1], cas.chainIntermediate.certPem), 'the second block is the intermediate');
    assert.equal(new X509Certificate(delivered[0]).issuer, 'CN=chain-intermediate');
    assert.ok(new X509Certificate(delivered[0]).verify(new X509Certificate(cas.chainIntermediate.certPem).publicKey));

    const bundle = pemBlocks(leaf.caBundle);
    assert.equal(bundle.length, 2);
    assert.ok(
      bundle.some((b) => sameCert(b, cas.chainRoot.certPem)),
      'the bundle holds the root',
    );
    assert.ok(
      bundle.some((b) => sameCert(b, cas.chainIntermediate.certPem)),
      'the bundle holds the intermediate',
    );

    const strict = pki.verify(cas.chainRoot.certPem, delivered[0], { untrusted: cas.chainIntermediate.certPem });
    assert.ok(strict.ok, strict.output);
    const fromBundle = pki.verify(leaf.caBundle, delivered[0]);
    assert.ok(fromBundle.ok, fromBundle.output);
    // Without the intermediate the root alone cannot vouch for the leaf: the chain really has two links.
    assert.equal(pki.verify(cas.chainRoot.certPem, delivered[0]).ok, false);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// provided: refused material

describe('provided backend: refused material, with Kuma messages under mtls.backends[i].conf', () => {
  // A valid backend first, so the refused one sits at index 1.
  const withBad = (bad: unknown) => ({ enabledBackend: 'ok', backends: [inlineCa('ok', cas.p256), bad] });
  const at = (suffix: string) => `mtls.backends[1].conf${suffix}`;

  test('cert and key must be defined', async () => {
    await expectRefused('missing-both', withBad({ name: 'bad', type: 'provided', conf: {} }), [
      { field: at('.cert'), message: 'has to be defined' },
      { field: at('.key'), message: 'has to be defined' },
    ]);
    const causes = await expectRefused(
      'missing-key',
      withBad({ name: 'bad', type: 'provided', conf: { cert: { inlineString: cas.p256.certPem } } }),
      [{ field: at('.key'), message: 'has to be defined' }],
    );
    assert.ok(!causes.some((c) => c.field === at('.cert')), JSON.stringify(causes));
  });

  test('a secret that does not exist: the same message on cert and key, as Kuma', async () => {
    const message = 'could not load data: resource not found: type="Secret" name="no-such-cert" mesh="missing-secret"';
    await expectRefused(
      'missing-secret',
      withBad(provided('bad', { secret: 'no-such-cert' }, { secret: 'no-such-key' })),
      [
        { field: at('.cert'), message },
        { field: at('.key'), message },
      ],
    );
  });

  test('a file that does not exist', async () => {
    const path = join(pki.dir, 'no-such-file.pem');
    const message = `could not load data: open ${path}: no such file or directory`;
    await expectRefused('missing-file', withBad(provided('bad', { file: path }, { inlineString: cas.p256.keyPem })), [
      { field: at('.cert'), message },
      { field: at('.key'), message },
    ]);
  });

  test('not a CA', async () => {
    await expectRefused('not-a-ca', withBad(inlineCa('bad', cas.notCa)), [
      {
        field: at('.cert[0]'),
        message: "basic constraint 'CA' must be set to 'true' (see X509-SVID: 4.1. Basic Constraints)",
      },
    ]);
  });

  test('keyCertSign missing', async () => {
    await expectRefused('no-cert-sign', withBad(inlineCa('bad', cas.noCertSign)), [
      {
        field: at('.cert[0]'),
        message: "key usage extension 'keyCertSign' must be set (see X509-SVID: 4.3. Key Usage)",
      },
    ]);
  });

  test('keyAgreement set', async () => {
    await expectRefused('key-agreement', withBad(inlineCa('bad', cas.keyAgreement)), [
      {
        field: at('.cert[0]'),
        message:
          "key usage extension 'keyAgreement' must NOT be set (see X509-SVID: Appendix A. X.509 Field Reference)",
      },
    ]);
  });

  test('a key that does not match the certificate', async () => {
    await expectRefused(
      'key-mismatch',
      withBad(provided('bad', { inlineString: cas.p256.certPem }, { inlineString: cas.other.keyPem })),
      [{ field: at('.cert'), message: 'not a valid TLS key pair: tls: private key does not match public key' }],
    );
  });

  test('garbage instead of PEM', async () => {
    await expectRefused(
      'garbage-cert',
      withBad(provided('bad', { inlineString: 'not a certificate' }, { inlineString: cas.p256.keyPem })),
      [
        {
          field: at('.cert'),
          message: 'not a valid TLS key pair: tls: failed to find any PEM data in certificate input',
        },
      ],
    );
  });

  test('an expired CA, and one not yet valid (beyond Kuma)', async () => {
    const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
    const now = Date.now();
    const [expired, future] = await Promise.all([
      pki.datedCa({ cn: 'expired', startdate: stamp(now - 2 * MS_PER_DAY), enddate: stamp(now - MS_PER_DAY) }),
      pki.datedCa({ cn: 'future', startdate: stamp(now + MS_PER_DAY), enddate: stamp(now + 2 * MS_PER_DAY) }),
    ]);
    const expiredOn = new Date(new X509Certificate(expired.certPem).validTo).toISOString();
    await expectRefused('expired', withBad(inlineCa('bad', expired)), [
      { field: at('.cert[0]'), message: `certificate expired on ${expiredOn}` },
    ]);
    const validFrom = new Date(new X509Certificate(future.certPem).validFrom).toISOString();
    await expectRefused('not-yet-valid', withBad(inlineCa('bad', future)), [
      { field: at('.cert[0]'), message: `certificate is not valid before ${validFrom}` },
    ]);
  });

  test('a refused backend added to a live mesh leaves the mesh, its secrets and its CA untouched', async () => {
    const meshBefore = await call('GET', '/meshes/key-p256');
    const secretsBefore = await call('GET', '/meshes/key-p256/secrets');
    const bundleBefore = await call('GET', '/meshes/key-p256/dataplanes/web-1/trust-bundle');
    for (const bad of [
      inlineCa('ca-2', cas.notCa),
      provided('ca-2', { inlineString: cas.p384.certPem }, { inlineString: cas.other.keyPem }),
    ]) {
      const res = await putMesh('key-p256', { enabledBackend: 'ca-1', backends: [inlineCa('ca-1', cas.p256), bad] });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.ok(
        causesOf(res).every((c) => c.field.startsWith('mtls.backends[1].conf')),
        JSON.stringify(causesOf(res)),
      );
    }
    assert.deepEqual(await call('GET', '/meshes/key-p256'), meshBefore);
    assert.deepEqual(await call('GET', '/meshes/key-p256/secrets'), secretsBefore);
    assert.deepEqual(await call('GET', '/meshes/key-p256/dataplanes/web-1/trust-bundle'), bundleBefore);
  });

  test('sanity: the refused fixtures really have the defects OpenSSL reports', () => {
    assert.match(pki.text(cas.notCa.certPem), /CA:FALSE/);
    assert.doesNotMatch(pki.text(cas.noCertSign.certPem), /Certificate Sign/);
    assert.match(pki.text(cas.keyAgreement.certPem), /Key Agreement/);
    const spki = (pem: string) => createPublicKey(pem).export({ type: 'spki', format: 'der' });
    assert.ok(!spki(cas.p256.certPem).equals(spki(cas.other.keyPem)));
  });
});
