import type { IssuedCertificate } from '../../src/dataplanes/certificate-service.js';
// End to end on the real listening server: dataplanes with their own tokens get certificates (CP-generated keys and
// an `openssl req` CSR), OpenSSL verifies every leaf against the returned bundle, and two dataplanes talk mutual TLS
// with Node's `tls` module using exactly the returned PEMs. Then trust bundles (ETag, acknowledgement, long-poll,
// reissue), insights, authentication and bad input, each bad request leaving the stored state as it was.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type PeerCertificate } from 'node:tls';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { OpensslWorkspace, pemBlocks, type PemPair } from '../helpers/openssl.js';

let t: TestApp;
/** The control plane's time: tests move it instead of waiting (it starts at the real time, for openssl and TLS). */
const clock = new FakeClock();
let base: string;
let pki: OpensslWorkspace;
let providedCa: PemPair; // ECDSA P-256, made by openssl: the `prov` mesh's CA
let secondCa: PemPair; // ECDSA P-384, made by openssl: added to `default` as ca-2 during the bundle tests
let strangerCa: PemPair; // not known to the CP at all

before(async () => {
  pki = new OpensslWorkspace();
  [providedCa, secondCa, strangerCa] = await Promise.all([
    pki.ca({ key: 'ec-p256', cn: 'provided-ca' }),
    pki.ca({ key: 'ec-p384', cn: 'second-ca' }),
    pki.ca({ key: 'ec-p256', cn: 'stranger-ca' }),
  ]);
  // openssl dates a CA from the current second: once making them crossed a second boundary, a clock still at the
  // time this file was loaded would find them "not valid before" (seen once). Bring the clock up to the real time.
  await clock.advance(Math.max(0, Date.now() - clock.now()));
  t = await createTestApp({}, { clock });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});

after(async () => {
  await t?.close();
  if (t) rmSync(t.dataDir, { recursive: true, force: true });
  pki?.remove();
});

// ---------------------------------------------------------------------------------------------------------------
// HTTP helpers (no Authorization header: a loopback admin, as Kuma)

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function http(
  method: string,
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  // A hung request fails the test instead of stalling the run (the longest poll here waits 5 s).
  const res = await fetch(base + path, { method, headers, body, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

function expectStatus(answer: Answer, status: number, what = ''): void {
  assert.equal(answer.status, status, `${what} ${answer.text.slice(0, 400)}`);
}

async function putMesh(name: string, mtls?: unknown): Promise<void> {
  const res = await http('PUT', `/meshes/${name}`, { body: { type: 'Mesh', name, ...(mtls ? { mtls } : {}) } });
  assert.ok(res.status === 200 || res.status === 201, `PUT /meshes/${name}: ${res.status} ${res.text}`);
}

async function putDataplane(mesh: string, name: string, inbounds: Record<string, string>[]): Promise<void> {
  const inbound = inbounds.map((tags, i) => ({ port: 20001 + i, servicePort: 8080 + i, tags }));
  const res = await http('PUT', `/meshes/${mesh}/dataplanes/${name}`, {
    body: { type: 'Dataplane', mesh, name, networking: { address: '127.0.0.1', inbound } },
  });
  assert.ok(res.status === 200 || res.status === 201, `PUT dataplane ${mesh}/${name}: ${res.status} ${res.text}`);
}

async function dataplaneToken(mesh: string, name: string, validFor?: string): Promise<string> {
  const res = await http('POST', '/tokens/dataplane', { body: { name, mesh, ...(validFor ? { validFor } : {}) } });
  expectStatus(res, 200, 'token');
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return res.text;
}

type Issued = IssuedCertificate;

/** POST .../certificate; `window` is the interval of the CP's clock it issued in. */
async function requestCertificate(mesh: string, name: string, token: string, body: Record<string, unknown> = {}) {
  const start = clock.now();
  const res = await http('POST', `/meshes/${mesh}/dataplanes/${name}/certificate`, { token, body });
  const end = clock.now();
  expectStatus(res, 200, `certificate for ${mesh}/${name}`);
  return { issued: res.json as Issued, window: { start, end } };
}

const trustBundle = (mesh: string, name: string, token: string | undefined, held?: string, query = '') =>
  http('GET', `/meshes/${mesh}/dataplanes/${name}/trust-bundle${query}`, {
    ...(token === undefined ? {} : { token }),
    ...(held === undefined ? {} : { headers: { 'if-none-match': `"${held}"` } }),
  });

async function overview(mesh: string, name: string) {
  const res = await http('GET', `/meshes/${mesh}/dataplanes/${name}/_overview`);
  expectStatus(res, 200, 'overview');
  return res.json;
}

const sameCert = (a: string, b: string) => new X509Certificate(a).raw.equals(new X509Certificate(b).raw);

// ---------------------------------------------------------------------------------------------------------------
// certificate checks

/** Where renewAfter falls in the certificate's life (issued at notBefore + 10 s, known to the second). */
function renewShare(issued: Issued): number {
  const issuedAt = Date.parse(issued.notBefore) + 10_000;
  return (Date.parse(issued.renewAfter) - issuedAt) / (Date.parse(issued.notAfter) - issuedAt);
}

interface LeafExpectation {
  uris: string[];
  lifetimeMs: number;
  window: { start: number; end: number };
  /** The public key the leaf must carry (from the CSR's key); otherwise the returned privateKey's. */
  keyPem?: string;
  signature: string;
}

/** Every property api.md promises of a dataplane certificate, checked with node:crypto and with OpenSSL. */
function checkLeaf(issued: Issued, expect: LeafExpectation): X509Certificate {
  const blocks = pemBlocks(issued.certificate);
  assert.ok(blocks.length >= 1);
  const leaf = new X509Certificate(blocks[0]);

  // chain: OpenSSL accepts the leaf against the returned bundle, for both TLS roles
  for (const purpose of ['sslserver', 'sslclient']) {
    const verdict = pki.verify(issued.caBundle, issued.certificate, { purpose });
    assert.ok(verdict.ok, `openssl verify -purpose ${purpose}: ${verdict.output}`);
  }

  // identity: empty subject, the SAN extension critical, URI SANs only, in Kuma's order
  assert.ok(!leaf.subject, `empty subject, got ${JSON.stringify(leaf.subject)}`);
  assert.equal(leaf.subjectAltName, expect.uris.map((u) => `URI:${u}`).join(', '));
  const text = pki.text(blocks[0]);
  assert.match(text, /Subject: ?\n/);
  assert.match(
    text,
    new RegExp(`X509v3 Subject Alternative Name: critical\\n\\s+${expect.uris.map((u) => `URI:${u}`).join(', ')}\\n`),
  );
  assert.doesNotMatch(text, /DNS:|IP Address:/);

  // usages
  assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature\n/);
  assert.match(text, /X509v3 Extended Key Usage: ?\n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/);
  assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
  assert.equal(leaf.ca, false);
  assert.match(text, new RegExp(`Signature Algorithm: ${expect.signature}\\n`));

  // serial: random, positive, at most 20 octets
  assert.match(leaf.serialNumber, /^[0-9A-F]{1,40}$/);
  assert.ok(BigInt(`0x${leaf.serialNumber}`) > 0n);
  assert.doesNotMatch(text, /Serial Number:.*Negative/);

  // validity: notBefore = now - 10s, notAfter = now + dpCert expiration, and the response says exactly that
  const notBefore = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  const { start, end } = expect.window;
  assert.ok(notBefore >= start - 11_000 && notBefore <= end - 10_000, `notBefore ${leaf.validFrom} is about now - 10s`);
  assert.ok(
    notAfter >= start + expect.lifetimeMs - 1000 && notAfter <= end + expect.lifetimeMs,
    `notAfter ${leaf.validTo}`,
  );
  assert.equal(issued.notBefore, new Date(notBefore).toISOString(), 'response notBefore is the certificate notBefore');
  assert.equal(issued.notAfter, new Date(notAfter).toISOString(), 'response notAfter is the certificate notAfter');

  // renewAfter: about 80% of the lifetime, up to a little earlier (jitter)
  const share = renewShare(issued);
  assert.ok(share >= 0.745 && share <= 0.801, `renewAfter at ${share} of the lifetime`);

  // the key: the CSR's, or the returned PKCS#8 P-256 key
  if (expect.keyPem !== undefined) {
    assert.equal(issued.privateKey, undefined, 'no private key is returned for a CSR');
    assert.ok(leaf.checkPrivateKey(createPrivateKey(expect.keyPem)), 'the leaf carries the CSR key');
  } else {
    assert.match(issued.privateKey ?? '', /^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(issued.privateKey!);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(leaf.checkPrivateKey(key));
  }
  return leaf;
}

// ---------------------------------------------------------------------------------------------------------------
// mutual TLS between two dataplanes

interface TlsIdentity {
  certificate: string;
  key: string;
  bundle: string;
}

const uriSans = (cert: PeerCertificate | undefined) =>
  (cert?.subjectaltname ?? '')
    .split(', ')
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));

/**
 * `client` connects to `server` over TLS with client certificates required and verified on both sides. The client
 * checks the server's URI SAN instead of a hostname. Resolves with the URI SANs each side saw of the other.
 */
async function mutualTls(
  server: TlsIdentity,
  client: TlsIdentity,
  expectedServerUri: string,
): Promise<{ serverSaw: string[]; clientSaw: string[] }> {
  const tlsServer = createServer(
    { key: server.key, cert: server.certificate, ca: server.bundle, requestCert: true, rejectUnauthorized: true },
    (socket) => {
      socket.end(JSON.stringify({ authorized: socket.authorized, sans: uriSans(socket.getPeerCertificate()) }));
    },
  );
  tlsServer.on('tlsClientError', () => {}); // the client side reports the failure
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  const port = (tlsServer.address() as AddressInfo).port;
  try {
    return await new Promise((resolve, reject) => {
      let clientSaw: string[] = [];
      let data = '';
      const socket = connect({
        host: '127.0.0.1',
        port,
        key: client.key,
        cert: client.certificate,
        ca: client.bundle,
        rejectUnauthorized: true,
        checkServerIdentity: (_host, cert) =>
          uriSans(cert).includes(expectedServerUri)
            ? undefined
            : new Error(`server presented ${JSON.stringify(uriSans(cert))}, expected ${expectedServerUri}`),
      });
      const timer = setTimeout(() => socket.destroy(new Error('TLS exchange timed out')), 10_000);
      socket.on('secureConnect', () => {
        clientSaw = uriSans(socket.getPeerCertificate());
      });
      socket.on('data', (chunk) => (data += chunk));
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.on('close', () => {
        clearTimeout(timer);
        if (!data) return reject(new Error('the server closed the connection without an answer'));
        const answer = JSON.parse(data) as { authorized: boolean; sans: string[] };
        if (!answer.authorized) return reject(new Error('the server did not authorize the client'));
        resolve({ serverSaw: answer.sans, clientSaw });
      });
    });
  } finally {
    await new Promise((resolve) => tlsServer.close(resolve));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// the three-dataplane scenario, run on a builtin CA and on a provided ECDSA CA

interface Fleet {
  tokens: Record<string, string>;
  issued: Record<string, Issued>;
  csrKeyPem: string;
  renewShares: number[];
}

const fleets: Record<string, Fleet> = {};

const WEB: Record<string, string>[] = [{ 'kuma.io/service': 'web', version: 'v1', team: 'a' }];
const BACKEND: Record<string, string>[] = [
  { 'kuma.io/service': 'backend', version: 'v2' },
  { 'kuma.io/service': 'backend-admin', 'kuma.io/protocol': 'http' },
];
const DB: Record<string, string>[] = [{ 'kuma.io/service': 'db' }];

const urisOf = (mesh: string) => ({
  'web-1': [`spiffe://${mesh}/web`, 'kuma://kuma.io/service/web', 'kuma://team/a', 'kuma://version/v1'],
  'backend-1': [
    `spiffe://${mesh}/backend`,
    `spiffe://${mesh}/backend-admin`,
    'kuma://kuma.io/protocol/http',
    'kuma://kuma.io/service/backend',
    'kuma://kuma.io/service/backend-admin',
    'kuma://version/v2',
  ],
  'db-1': [`spiffe://${mesh}/db`, 'kuma://kuma.io/service/db'],
});

async function runScenario(mesh: string, lifetimeMs: number, signature: string): Promise<Fleet> {
  await putDataplane(mesh, 'web-1', WEB);
  await putDataplane(mesh, 'backend-1', BACKEND);
  await putDataplane(mesh, 'db-1', DB);
  const tokens: Record<string, string> = {};
  for (const name of ['web-1', 'backend-1', 'db-1']) tokens[name] = await dataplaneToken(mesh, name);

  const uris = urisOf(mesh);
  const issued: Record<string, Issued> = {};
  const leaves: X509Certificate[] = [];
  for (const name of ['web-1', 'backend-1'] as const) {
    const { issued: cert, window } = await requestCertificate(mesh, name, tokens[name]);
    leaves.push(checkLeaf(cert, { uris: uris[name], lifetimeMs, window, signature }));
    issued[name] = cert;
  }
  // db-1 brings its own key: a CSR whose subject and SANs must be ignored
  const csr = await pki.csr({ subj: '/CN=ignored', san: 'URI:spiffe://default/admin,DNS:evil.example,IP:10.0.0.1' });
  const { issued: dbCert, window } = await requestCertificate(mesh, 'db-1', tokens['db-1'], { csr: csr.csrPem });
  leaves.push(checkLeaf(dbCert, { uris: uris['db-1'], lifetimeMs, window, signature, keyPem: csr.keyPem }));
  assert.doesNotMatch(pki.text(dbCert.certificate), /evil\.example|ignored|spiffe:\/\/default\/admin|10\.0\.0\.1/);
  issued['db-1'] = dbCert;

  for (const name of Object.keys(issued)) {
    assert.equal(issued[name].mesh, mesh);
    assert.equal(issued[name].dataplane, name);
    assert.equal(issued[name].issuedBackend, 'ca-1');
    assert.deepEqual(issued[name].supportedBackends, ['ca-1']);
    assert.equal(issued[name].bundleVersion, issued['web-1'].bundleVersion);
    assert.equal(issued[name].caBundle, issued['web-1'].caBundle);
  }
  assert.equal(new Set(leaves.map((l) => l.serialNumber)).size, leaves.length, 'every serial is different');
  const renewShares = Object.values(issued).map(renewShare);
  return { tokens, issued, csrKeyPem: csr.keyPem, renewShares };
}

const identity = (fleet: Fleet, name: string): TlsIdentity => {
  const cert = fleet.issued[name];
  return { certificate: cert.certificate, key: cert.privateKey ?? fleet.csrKeyPem, bundle: cert.caBundle };
};

describe('certificates from a builtin CA', () => {
  test('three dataplanes, each with its own token: two CP-generated keys and one openssl CSR', async () => {
    await putMesh('default', {
      enabledBackend: 'ca-1',
      backends: [
        {
          name: 'ca-1',
          type: 'builtin',
          dpCert: { rotation: { expiration: '2h' } },
          conf: { caCert: { RSAbits: 2048 } },
        },
      ],
    });
    fleets.default = await runScenario('default', 2 * 3600_000, 'sha256WithRSAEncryption');
    const root = await http('GET', '/meshes/default/secrets/default.ca-builtin-cert-ca-1');
    expectStatus(root, 200);
    assert.ok(
      sameCert(fleets.default.issued['web-1'].caBundle, Buffer.from(root.json.data, 'base64').toString()),
      'the bundle is the builtin root',
    );
    assert.equal(pemBlocks(fleets.default.issued['web-1'].certificate).length, 1, 'a root CA adds no intermediates');
  });

  test('renewAfter has jitter: a fleet does not renew at once', async () => {
    const fleet = fleets.default;
    const shares = [...fleet.renewShares];
    for (let i = 0; i < 4; i++) {
      const { issued } = await requestCertificate('default', 'web-1', fleet.tokens['web-1']);
      shares.push(renewShare(issued));
      fleet.issued['web-1'] = issued;
    }
    // Without jitter every share would be 0.8 give or take the sub-second rounding (~0.0002 of 2 h).
    const spread = Math.max(...shares) - Math.min(...shares);
    assert.ok(spread > 0.002, `renewAfter shares ${shares.map((x) => x.toFixed(5))} have no jitter`);
  });

  test('web-1 and backend-1 talk mutual TLS with exactly the returned PEMs', async () => {
    const fleet = fleets.default;
    const { serverSaw, clientSaw } = await mutualTls(
      identity(fleet, 'backend-1'),
      identity(fleet, 'web-1'),
      'spiffe://default/backend',
    );
    assert.equal(serverSaw[0], 'spiffe://default/web', 'the server sees the client service identity');
    assert.deepEqual(serverSaw, urisOf('default')['web-1']);
    assert.equal(clientSaw[0], 'spiffe://default/backend');
  });

  test('the CSR dataplane talks mutual TLS with its own key', async () => {
    const fleet = fleets.default;
    const { serverSaw } = await mutualTls(identity(fleet, 'web-1'), identity(fleet, 'db-1'), 'spiffe://default/web');
    assert.deepEqual(serverSaw, ['spiffe://default/db', 'kuma://kuma.io/service/db']);
  });

  test('the handshake fails for the wrong service identity and for a client from another CA', async () => {
    const fleet = fleets.default;
    await assert.rejects(
      mutualTls(identity(fleet, 'backend-1'), identity(fleet, 'web-1'), 'spiffe://default/db'),
      /expected spiffe:\/\/default\/db/,
    );
    // a self-made client certificate from a CA the mesh does not trust
    const stranger = await pki.ca({
      key: 'ec-p256',
      cn: 'stranger-leaf',
      issuer: strangerCa,
      basicConstraints: 'critical,CA:FALSE',
      keyUsage: 'critical,digitalSignature',
    });
    await assert.rejects(
      mutualTls(
        identity(fleet, 'backend-1'),
        { certificate: stranger.certPem, key: stranger.keyPem, bundle: fleet.issued['web-1'].caBundle },
        'spiffe://default/backend',
      ),
    );
  });

  test('leaf validity is clamped to the CA notAfter', async () => {
    await putMesh('short', {
      enabledBackend: 'ca-1',
      backends: [
        {
          name: 'ca-1',
          type: 'builtin',
          dpCert: { rotation: { expiration: '24h' } },
          conf: { caCert: { expiration: '1h' } },
        },
      ],
    });
    await putDataplane('short', 'web-1', WEB);
    const res = await http('POST', '/meshes/short/dataplanes/web-1/certificate', { body: {} });
    expectStatus(res, 200);
    const leaf = new X509Certificate(res.json.certificate);
    const root = new X509Certificate(res.json.caBundle);
    assert.equal(leaf.validTo, root.validTo);
    assert.equal(res.json.notAfter, new Date(root.validTo).toISOString());
    assert.ok(pki.verify(res.json.caBundle, res.json.certificate).ok);
  });
});

describe('certificates from a provided ECDSA CA made by openssl', () => {
  test('secrets first, then the mesh; the same three dataplanes', async () => {
    await putMesh('prov');
    for (const [name, pem] of [
      ['prov-ca-cert', providedCa.certPem],
      ['prov-ca-key', providedCa.keyPem],
    ]) {
      const res = await http('PUT', `/meshes/prov/secrets/${name}`, {
        body: { type: 'Secret', mesh: 'prov', name, data: Buffer.from(pem).toString('base64') },
      });
      expectStatus(res, 201, name);
    }
    await putMesh('prov', {
      enabledBackend: 'ca-1',
      backends: [
        {
          name: 'ca-1',
          type: 'provided',
          dpCert: { rotation: { expiration: '90m' } },
          conf: { cert: { secret: 'prov-ca-cert' }, key: { secret: 'prov-ca-key' } },
        },
      ],
    });
    fleets.prov = await runScenario('prov', 90 * 60_000, 'ecdsa-with-SHA256');
    assert.ok(sameCert(fleets.prov.issued['web-1'].caBundle, providedCa.certPem));
    for (const cert of Object.values(fleets.prov.issued)) {
      assert.equal(new X509Certificate(pemBlocks(cert.certificate)[0]).issuer, 'CN=provided-ca');
      assert.ok(pki.verify(providedCa.certPem, cert.certificate).ok, 'verifies against the operator CA file itself');
    }
  });

  test('mutual TLS between prov dataplanes; default dataplanes do not trust them', async () => {
    const fleet = fleets.prov;
    const { serverSaw, clientSaw } = await mutualTls(
      identity(fleet, 'backend-1'),
      identity(fleet, 'web-1'),
      'spiffe://prov/backend',
    );
    assert.equal(serverSaw[0], 'spiffe://prov/web');
    assert.equal(clientSaw[0], 'spiffe://prov/backend');
    const db = await mutualTls(identity(fleet, 'web-1'), identity(fleet, 'db-1'), 'spiffe://prov/web');
    assert.equal(db.serverSaw[0], 'spiffe://prov/db');
    await assert.rejects(
      mutualTls(identity(fleets.default, 'backend-1'), identity(fleet, 'web-1'), 'spiffe://default/backend'),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// trust bundle

describe('trust bundle', () => {
  let version: string;

  test('ETag, acknowledgement by If-None-Match, 304 when current', async () => {
    const fleet = fleets.default;
    const token = fleet.tokens['backend-1'];
    assert.deepEqual(
      (await overview('default', 'backend-1')).dataplaneInsight.mTLS.supportedBackends,
      [],
      'nothing acknowledged yet',
    );

    const first = await trustBundle('default', 'backend-1', token);
    expectStatus(first, 200);
    version = first.json.bundleVersion;
    assert.equal(first.headers.get('etag'), `"${version}"`);
    assert.deepEqual(first.json, {
      caBundle: fleet.issued['backend-1'].caBundle,
      bundleVersion: fleet.issued['backend-1'].bundleVersion,
      supportedBackends: ['ca-1'],
      enabledBackend: 'ca-1',
      reissue: false,
    });
    // receiving a bundle is not trusting it
    assert.deepEqual((await overview('default', 'backend-1')).dataplaneInsight.mTLS.supportedBackends, []);

    const again = await trustBundle('default', 'backend-1', token, version);
    expectStatus(again, 304);
    assert.equal(again.text, '');
    assert.equal(again.headers.get('etag'), `"${version}"`);
    const insight = (await overview('default', 'backend-1')).dataplaneInsight.mTLS;
    assert.deepEqual(insight.supportedBackends, ['ca-1'], 'If-None-Match acknowledged the bundle');
    assert.equal(insight.issuedBackend, 'ca-1');
    assert.equal(insight.certificateRegenerations, 1);
    assert.equal(insight.certificateExpirationTime, fleet.issued['backend-1'].notAfter);

    // a weak or bare tag acknowledges too; an unknown version gets the bundle
    expectStatus(
      await http('GET', '/meshes/default/dataplanes/db-1/trust-bundle', {
        token: fleet.tokens['db-1'],
        headers: { 'if-none-match': `W/"${version}"` },
      }),
      304,
    );
    const unknown = await trustBundle('default', 'web-1', fleet.tokens['web-1'], 'not-a-version');
    expectStatus(unknown, 200);
    assert.equal(unknown.json.bundleVersion, version);
    assert.deepEqual((await overview('default', 'web-1')).dataplaneInsight.mTLS.supportedBackends, []);
  });

  test('bundleVersion in a certificate request acknowledges as well', async () => {
    const fleet = fleets.default;
    const { issued, window } = await requestCertificate('default', 'web-1', fleet.tokens['web-1'], {
      bundleVersion: version,
    });
    fleet.issued['web-1'] = issued;
    const insight = (await overview('default', 'web-1')).dataplaneInsight.mTLS;
    const regeneratedAt = Date.parse(insight.lastCertificateRegeneration);
    assert.ok(
      regeneratedAt >= window.start && regeneratedAt <= window.end,
      `lastCertificateRegeneration ${insight.lastCertificateRegeneration}`,
    );
    assert.deepEqual(insight.supportedBackends, ['ca-1']);
    assert.equal(insight.certificateRegenerations, 6, 'one scenario certificate + four jitter samples + this one');
    assert.equal(insight.certificateExpirationTime, issued.notAfter);
  });

  test('a poll that sees no change ends with 304 after the wait', async () => {
    const armed = clock.pending;
    let answered = false;
    const poll = trustBundle('default', 'web-1', fleets.default.tokens['web-1'], version, '?wait=1s').finally(
      () => (answered = true),
    );
    await clock.waitForTimers(armed + 1);
    await clock.advance(999);
    assert.equal(answered, false, 'answered before its second was over');
    await clock.advance(1);
    expectStatus(await poll, 304);
  });

  test('?wait=5s returns as soon as a second backend is added', async () => {
    const fleet = fleets.default;
    const start = clock.now();
    const armed = clock.pending;
    const poll = trustBundle('default', 'web-1', fleet.tokens['web-1'], version, '?wait=5s');
    await clock.waitForTimers(armed + 1); // the poll is waiting
    await putMesh('default', {
      enabledBackend: 'ca-1',
      backends: [
        {
          name: 'ca-1',
          type: 'builtin',
          dpCert: { rotation: { expiration: '2h' } },
          conf: { caCert: { RSAbits: 2048 } },
        },
        {
          name: 'ca-2',
          type: 'provided',
          conf: { cert: { inlineString: secondCa.certPem }, key: { inlineString: secondCa.keyPem } },
        },
      ],
    });
    const res = await poll;
    expectStatus(res, 200);
    assert.equal(clock.now(), start, 'the poll answered on the change, before any of its 5 s passed');
    assert.notEqual(res.json.bundleVersion, version);
    assert.equal(res.headers.get('etag'), `"${res.json.bundleVersion}"`);
    assert.deepEqual(res.json.supportedBackends, ['ca-1', 'ca-2']);
    assert.equal(res.json.enabledBackend, 'ca-1');
    assert.equal(res.json.reissue, false, 'the certificate is still from the enabled backend');
    const roots = pemBlocks(res.json.caBundle);
    assert.equal(roots.length, 2);
    assert.ok(sameCert(roots[0], fleet.issued['web-1'].caBundle), 'the enabled backend root comes first');
    assert.ok(sameCert(roots[1], secondCa.certPem));
    version = res.json.bundleVersion;
  });

  test('every dataplane acknowledges the new bundle; insights count it', async () => {
    const fleet = fleets.default;
    for (const name of ['web-1', 'backend-1', 'db-1']) {
      expectStatus(await trustBundle('default', name, fleet.tokens[name], version), 304, name);
      assert.deepEqual(
        (await overview('default', name)).dataplaneInsight.mTLS.supportedBackends,
        ['ca-1', 'ca-2'],
        name,
      );
    }
    const insight = await http('GET', '/mesh-insights/default');
    expectStatus(insight, 200);
    assert.equal(insight.json.type, 'MeshInsight');
    assert.equal(insight.json.name, 'default');
    assert.deepEqual(insight.json.dataplanes, { total: 3, online: 3, offline: 0 });
    assert.deepEqual(insight.json.mTLS.issuedBackends, { 'ca-1': { total: 3, online: 3 } });
    assert.deepEqual(insight.json.mTLS.supportedBackends, {
      'ca-1': { total: 3, online: 3 },
      'ca-2': { total: 3, online: 3 },
    });
  });

  test('after the switch to ca-2: reissue is true until the dataplane has a ca-2 certificate', async () => {
    const fleet = fleets.default;
    await putMesh('default', {
      enabledBackend: 'ca-2',
      backends: [
        {
          name: 'ca-1',
          type: 'builtin',
          dpCert: { rotation: { expiration: '2h' } },
          conf: { caCert: { RSAbits: 2048 } },
        },
        {
          name: 'ca-2',
          type: 'provided',
          conf: { cert: { inlineString: secondCa.certPem }, key: { inlineString: secondCa.keyPem } },
        },
      ],
    });
    const switched = await trustBundle('default', 'web-1', fleet.tokens['web-1'], version);
    expectStatus(switched, 200, 'the switch changes the bundle version');
    assert.notEqual(switched.json.bundleVersion, version);
    assert.equal(switched.json.enabledBackend, 'ca-2');
    assert.deepEqual(switched.json.supportedBackends, ['ca-2', 'ca-1']);
    assert.equal(switched.json.reissue, true, 'web-1 holds a ca-1 certificate');
    version = switched.json.bundleVersion;
    assert.ok(sameCert(pemBlocks(switched.json.caBundle)[0], secondCa.certPem), 'the enabled backend root comes first');

    // holding the current bundle does not hide a due re-issue: 200, not 304
    const current = await trustBundle('default', 'web-1', fleet.tokens['web-1'], version);
    expectStatus(current, 200);
    assert.equal(current.json.reissue, true);

    const { issued } = await requestCertificate('default', 'web-1', fleet.tokens['web-1'], { bundleVersion: version });
    assert.equal(issued.issuedBackend, 'ca-2');
    assert.match(pki.text(issued.certificate), /Signature Algorithm: ecdsa-with-SHA384\n/);
    assert.ok(pki.verify(issued.caBundle, issued.certificate).ok);
    fleet.issued['web-1'] = issued;
    expectStatus(await trustBundle('default', 'web-1', fleet.tokens['web-1'], version), 304, 'nothing left to do');
    assert.equal((await trustBundle('default', 'backend-1', fleet.tokens['backend-1'])).json.reissue, true);

    // mid-rotation, a ca-2 dataplane and a ca-1 dataplane still talk: each trusts both roots
    fleet.issued['backend-1'] = { ...fleet.issued['backend-1'], caBundle: issued.caBundle };
    const { serverSaw } = await mutualTls(
      identity(fleet, 'backend-1'),
      identity(fleet, 'web-1'),
      'spiffe://default/backend',
    );
    assert.equal(serverSaw[0], 'spiffe://default/web');

    const insight = (await http('GET', '/mesh-insights/default')).json;
    assert.deepEqual(insight.mTLS.issuedBackends, { 'ca-1': { total: 2, online: 2 }, 'ca-2': { total: 1, online: 1 } });
  });

  test('a dataplane without a certificate is told to get one', async () => {
    await putDataplane('default', 'fresh-1', [{ 'kuma.io/service': 'fresh' }]);
    const res = await trustBundle('default', 'fresh-1', undefined);
    expectStatus(res, 200);
    assert.equal(res.json.reissue, true);
    const listed = await http('GET', '/meshes/default/dataplanes/_overview');
    expectStatus(listed, 200);
    const fresh = listed.json.items.find((i: { name: string }) => i.name === 'fresh-1');
    assert.equal(fresh.type, 'DataplaneOverview');
    assert.equal(fresh.dataplaneInsight, undefined, 'no certificate, no mTLS insight');
    const web = listed.json.items.find((i: { name: string }) => i.name === 'web-1');
    assert.equal(web.dataplaneInsight.mTLS.issuedBackend, 'ca-2');
    assert.deepEqual(
      (await http('GET', '/meshes/default/dataplanes+insights')).json,
      listed.json,
      'Kuma alias, same answer',
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// authentication and authorization

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

describe('dataplane authentication', () => {
  test('a token for web-1 acts only as web-1 of its own mesh', async () => {
    await putDataplane('default', 'web-2', WEB);
    const token = fleets.default.tokens['web-1'];
    expectStatus(await http('GET', '/meshes/default/dataplanes/web-1', { token }), 200, 'its own dataplane');
    const denied = [
      http('POST', '/meshes/default/dataplanes/web-2/certificate', { token, body: {} }),
      http('GET', '/meshes/default/dataplanes/web-2/trust-bundle', { token }),
      http('GET', '/meshes/default/dataplanes/web-2', { token }),
      http('PUT', '/meshes/default/dataplanes/web-2', {
        token,
        body: { type: 'Dataplane', mesh: 'default', name: 'web-2' },
      }),
      http('POST', '/meshes/prov/dataplanes/web-1/certificate', { token, body: {} }),
      http('GET', '/meshes/prov/dataplanes/web-1/trust-bundle', { token }),
      http('POST', '/meshes/default/dataplanes/web-1/certificate', { token: fleets.prov.tokens['web-1'], body: {} }),
      http('GET', '/meshes', { token }),
      http('GET', '/meshes/default/secrets', { token }),
      http('GET', '/meshes/default/dataplanes/web-1/_overview', { token }),
      http('POST', '/tokens/dataplane', { token, body: { name: 'web-2', mesh: 'default' } }),
    ];
    const before = await snapshot('default');
    for (const res of await Promise.all(denied)) {
      expectStatus(res, 403);
      assert.equal(res.json.title, 'Access Denied');
    }
    assert.deepEqual(await snapshot('default'), before, 'a refused request changed stored state');
  });

  test('a revoked token is refused with 401; other tokens keep working', async () => {
    const revoked = await dataplaneToken('default', 'db-1');
    const kept = fleets.default.tokens['db-1'];
    expectStatus(await trustBundle('default', 'db-1', revoked), 200);
    const jti = claimsOf(revoked).jti as string;
    assert.match(jti, /^[0-9a-f-]{36}$/);
    const put = await http('PUT', '/meshes/default/secrets/dataplane-token-revocations-default', {
      body: {
        type: 'Secret',
        mesh: 'default',
        name: 'dataplane-token-revocations-default',
        data: Buffer.from(jti).toString('base64'),
      },
    });
    expectStatus(put, 201);
    const res = await trustBundle('default', 'db-1', revoked);
    expectStatus(res, 401);
    assert.equal(res.json.title, 'Invalid authentication data');
    expectStatus(await http('POST', '/meshes/default/dataplanes/db-1/certificate', { token: revoked, body: {} }), 401);
    expectStatus(await trustBundle('default', 'db-1', kept), 200);
  });

  test('garbage and forged tokens are refused with 401', async () => {
    const real = fleets.prov.tokens['web-1'];
    const [header, , signature] = real.split('.');
    const forgedClaims = Buffer.from(JSON.stringify({ ...claimsOf(real), Mesh: 'default' })).toString('base64url');
    const before = await snapshot('default');
    for (const token of ['garbage', 'a.b.c', `${header}.${forgedClaims}.${signature}`, real.slice(0, -4)]) {
      for (const res of [
        await trustBundle('default', 'web-1', token),
        await http('POST', '/meshes/default/dataplanes/web-1/certificate', { token, body: {} }),
      ]) {
        expectStatus(res, 401, token);
        assert.equal(res.json.title, 'Invalid authentication data');
      }
    }
    assert.deepEqual(await snapshot('default'), before, 'a refused request changed stored state');
  });
});

// Both tests move the control plane's clock instead of waiting for it.
describe('waiting on the clock', () => {
  test('an expired token is refused with 401', async () => {
    const shortLived = await dataplaneToken('default', 'web-1', '1s');
    const longLived = await dataplaneToken('default', 'web-1', '1h');
    await clock.advance(2100);
    const expired = await trustBundle('default', 'web-1', shortLived);
    expectStatus(expired, 401);
    assert.equal(expired.json.title, 'Invalid authentication data');
    expectStatus(await trustBundle('default', 'web-1', longLived), 200, 'a valid token for the same dataplane');
  });

  test('past renewAfter, the trust bundle says reissue even to a dataplane holding the current bundle', async () => {
    await putMesh('brief');
    await putMesh('brief', {
      enabledBackend: 'ca-1',
      backends: [
        {
          name: 'ca-1',
          type: 'provided',
          dpCert: { rotation: { expiration: '5s' } },
          conf: { cert: { inlineString: providedCa.certPem }, key: { inlineString: providedCa.keyPem } },
        },
      ],
    });
    await putDataplane('brief', 'web-1', WEB);
    const token = await dataplaneToken('brief', 'web-1');
    const { issued } = await requestCertificate('brief', 'web-1', token, {});
    const renewAfter = Date.parse(issued.renewAfter);
    assert.ok(
      renewAfter - Date.parse(issued.notBefore) - 10_000 <= 5_000,
      `renewAfter ${issued.renewAfter} is within the 5 s life`,
    );
    expectStatus(await trustBundle('brief', 'web-1', token, issued.bundleVersion), 304, 'not due yet');
    await clock.advance(renewAfter - clock.now() + 300);
    const due = await trustBundle('brief', 'web-1', token, issued.bundleVersion);
    expectStatus(due, 200, 'due');
    assert.equal(due.json.bundleVersion, issued.bundleVersion, 'the bundle did not change');
    assert.equal(due.json.reissue, true);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// bad input: a clear 4xx, and nothing stored changes

async function snapshot(mesh: string) {
  const paths = [
    `/meshes/${mesh}`,
    `/meshes/${mesh}/dataplanes/_overview`,
    `/meshes/${mesh}/secrets`,
    `/mesh-insights/${mesh}`,
    `/meshes/${mesh}/dataplanes/web-1/trust-bundle`,
  ];
  return Promise.all(paths.map(async (p) => [p, (await http('GET', p)).text]));
}

async function expectRefusedUnchanged(
  mesh: string,
  request: () => Promise<Answer>,
  status: number,
  check: (a: Answer) => void = () => {},
) {
  const before = await snapshot(mesh);
  const res = await request();
  expectStatus(res, status);
  assert.equal(res.json.status, status);
  check(res);
  assert.deepEqual(await snapshot(mesh), before, 'stored state changed');
}

/** The CSR with its public key swapped for another key's: its signature no longer proves possession. */
async function tamperedCsr(): Promise<string> {
  const [a, b] = await Promise.all([pki.csr(), pki.csr()]);
  const der = Buffer.from(a.csrPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  const spkiA = createPublicKey(a.keyPem).export({ type: 'spki', format: 'der' });
  const spkiB = createPublicKey(b.keyPem).export({ type: 'spki', format: 'der' });
  const at = der.indexOf(spkiA);
  assert.ok(at > 0 && spkiA.length === spkiB.length);
  spkiB.copy(der, at);
  const lines = der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${lines}\n-----END CERTIFICATE REQUEST-----\n`;
}

describe('bad input', () => {
  const cert = (name: string, body: unknown, token?: string) => () =>
    http('POST', `/meshes/default/dataplanes/${name}/certificate`, { body, ...(token ? { token } : {}) });
  const csrField = (pattern: RegExp) => (res: Answer) => {
    assert.equal(res.json.causes?.[0]?.field, 'csr', res.text);
    assert.match(res.json.causes[0].message, pattern);
  };

  test('CSR garbage, a certificate instead of a CSR, a CSR signed by another key: 400 on csr', async () => {
    const token = fleets.default.tokens['web-1'];
    await expectRefusedUnchanged(
      'default',
      cert('web-1', { csr: 'garbage' }, token),
      400,
      csrField(/not a valid PEM PKCS#10/),
    );
    await expectRefusedUnchanged(
      'default',
      cert('web-1', { csr: secondCa.certPem }, token),
      400,
      csrField(/PEM label is "CERTIFICATE"/),
    );
    await expectRefusedUnchanged(
      'default',
      cert('web-1', { csr: await tamperedCsr(), bundleVersion: 'x' }, token),
      400,
      csrField(/proof of possession failed/),
    );
    await expectRefusedUnchanged('default', cert('web-1', { csr: 42 }, token), 400);
  });

  test('unknown dataplane: 404; unknown mesh: 404 Failed to retrieve Mesh', async () => {
    const notFound = (title: string) => (res: Answer) => assert.equal(res.json.title, title);
    await expectRefusedUnchanged('default', cert('nobody', {}), 404, notFound('Could not retrieve a resource'));
    await expectRefusedUnchanged(
      'default',
      cert('nobody', {}, await dataplaneToken('default', 'nobody')),
      404,
      notFound('Could not retrieve a resource'),
    );
    await expectRefusedUnchanged('default', () => http('GET', '/meshes/default/dataplanes/nobody/trust-bundle'), 404);
    await expectRefusedUnchanged(
      'default',
      () => http('POST', '/meshes/nowhere/dataplanes/web-1/certificate', { body: {} }),
      404,
      notFound('Failed to retrieve Mesh'),
    );
    await expectRefusedUnchanged(
      'default',
      () => http('GET', '/meshes/nowhere/dataplanes/web-1/trust-bundle'),
      404,
      notFound('Failed to retrieve Mesh'),
    );
  });

  test('a mesh without mTLS: 409, and nothing is recorded', async () => {
    await putMesh('plain');
    await putDataplane('plain', 'web-1', WEB);
    const token = await dataplaneToken('plain', 'web-1');
    const disabled = (res: Answer) => assert.match(res.json.detail, /mTLS is disabled/);
    await expectRefusedUnchanged(
      'plain',
      () => http('POST', '/meshes/plain/dataplanes/web-1/certificate', { token, body: {} }),
      409,
      disabled,
    );
    await expectRefusedUnchanged(
      'plain',
      () => http('GET', '/meshes/plain/dataplanes/web-1/trust-bundle', { token }),
      409,
      disabled,
    );
    assert.equal((await overview('plain', 'web-1')).dataplaneInsight, undefined);
  });

  test('?wait that is not a duration: 400', async () => {
    await expectRefusedUnchanged(
      'default',
      () => trustBundle('default', 'web-1', fleets.default.tokens['web-1'], undefined, '?wait=soon'),
      400,
    );
  });

  test('a provided CA that is not a CA, expired or with a key that does not match: 400 on its conf', async () => {
    const current = (await http('GET', '/meshes/default')).json;
    const withCa3 = (conf: unknown) => () =>
      http('PUT', '/meshes/default', {
        body: {
          ...current,
          mtls: { ...current.mtls, backends: [...current.mtls.backends, { name: 'ca-3', type: 'provided', conf }] },
        },
      });
    const notCa = await pki.ca({ key: 'ec-p256', cn: 'leafy', basicConstraints: 'critical,CA:FALSE' });
    const expired = await pki.datedCa({ cn: 'old', startdate: '20200101000000Z', enddate: '20200102000000Z' });
    const fieldIs = (field: string, message: RegExp) => (res: Answer) =>
      assert.ok(
        res.json.causes.some((c: { field: string; message: string }) => c.field === field && message.test(c.message)),
        res.text,
      );
    await expectRefusedUnchanged(
      'default',
      withCa3({ cert: { inlineString: notCa.certPem }, key: { inlineString: notCa.keyPem } }),
      400,
      fieldIs('mtls.backends[2].conf.cert[0]', /basic constraint 'CA' must be set to 'true'/),
    );
    await expectRefusedUnchanged(
      'default',
      withCa3({ cert: { inlineString: providedCa.certPem }, key: { inlineString: strangerCa.keyPem } }),
      400,
      fieldIs('mtls.backends[2].conf.cert', /private key does not match public key/),
    );
    await expectRefusedUnchanged(
      'default',
      withCa3({ cert: { inlineString: expired.certPem }, key: { inlineString: expired.keyPem } }),
      400,
      fieldIs('mtls.backends[2].conf.cert[0]', /^certificate expired on 2020-01-02T00:00:00.000Z$/),
    );
  });
});
