// Rotations into and out of a vault backend, through the HTTP layer against the Vault PKI API double: builtin ->
// vault and vault -> provided walked step by step with the rotation rules, dry runs and the status page treating
// the vault backend like any other; and TLS certificate login to Vault instead of a token.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSelfSignedServerCertificate } from '../../src/ca/x509.js';
import { storedBytes } from '../helpers/api-assert.js';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.js';
import { fingerprintOf, VaultPkiDouble } from '../helpers/vault-pki-double.js';

const TOKEN = 'hvs.rotation-token';
const ROLE = { allowedUriSans: ['spiffe://default/*', 'kuma://*'], maxTtlSeconds: 24 * 3600, requireCn: false };
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const b64 = (s: string) => Buffer.from(s).toString('base64');

interface Answer {
  status: number;
  body: any;
  retryAfter?: string;
}

async function call(
  t: TestApp,
  method: string,
  url: string,
  payload?: object,
  headers: Record<string, string> = admin,
): Promise<Answer> {
  const res = await t.app.inject({ method: method as 'GET', url, headers, ...(payload ? { payload } : {}) });
  const json = String(res.headers['content-type'] ?? '').startsWith('application/json');
  const retryAfter = res.headers['retry-after'];
  return {
    status: res.statusCode,
    body: json ? JSON.parse(res.body) : res.body,
    ...(retryAfter ? { retryAfter: String(retryAfter) } : {}),
  };
}

const vaultBackend = (vault: VaultPkiDouble, auth: object = { token: { secret: 'vault-token' } }) => ({
  name: 'vault-1',
  type: 'vault',
  conf: { fromCp: { address: vault.address, tls: { caCert: { secret: 'vault-ca' } }, auth, pki: 'pki', role: 'dp' } },
});
const builtin = { name: 'ca-1', type: 'builtin' };
const provided = {
  name: 'ca-2',
  type: 'provided',
  conf: { cert: { secret: 'ca-2-cert' }, key: { secret: 'ca-2-key' } },
};

describe('rotations with a vault backend', () => {
  let vault: VaultPkiDouble;
  let t: TestApp;
  let work: string;
  let dpToken: string;
  const mesh = (enabledBackend: string, backends: object[]) => ({
    type: 'Mesh',
    name: 'default',
    mtls: { enabledBackend, backends },
  });
  /** Dry run first: it must answer exactly as the real PUT. */
  const step = async (body: object): Promise<Answer> => {
    const dry = await call(t, 'PUT', '/meshes/default?dryRun=true', body);
    const real = await call(t, 'PUT', '/meshes/default', body);
    assert.deepEqual(dry, real);
    return real;
  };
  const asDp = (method: string, url: string, payload?: object, headers: Record<string, string> = {}) =>
    call(t, method, url, payload, { authorization: `Bearer ${dpToken}`, ...headers });
  const acknowledge = async () => {
    const current = await asDp('GET', '/meshes/default/dataplanes/web-1/trust-bundle');
    await asDp('GET', '/meshes/default/dataplanes/web-1/trust-bundle', undefined, {
      'if-none-match': `"${current.body.bundleVersion}"`,
    });
    return current.body;
  };
  const issue = async () => {
    const res = await asDp('POST', '/meshes/default/dataplanes/web-1/certificate', {});
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const status = async () => (await call(t, 'GET', '/meshes/default/ca-rotation')).body;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'meshcp-vault-rotation-'));
    vault = await VaultPkiDouble.start({ tokens: [TOKEN], roles: { dp: ROLE } });
    t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
    const key = join(work, 'ca-2.key');
    const crt = join(work, 'ca-2.crt');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '365',
        '-subj',
        '/CN=ca-2',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-keyout',
        key,
        '-out',
        crt,
      ],
      { stdio: 'ignore' },
    );
    for (const [name, data] of [
      ['vault-ca', vault.tlsCaPem],
      ['vault-token', TOKEN],
      ['ca-2-cert', readFileSync(crt, 'utf8')],
      ['ca-2-key', readFileSync(key, 'utf8')],
    ]) {
      assert.equal(
        (
          await call(t, 'PUT', `/meshes/default/secrets/${name}`, {
            type: 'Secret',
            mesh: 'default',
            name,
            data: b64(data!),
          })
        ).status,
        201,
      );
    }
  });
  after(async () => {
    await t.close();
    await vault.down();
    rmSync(work, { recursive: true, force: true });
  });

  it('builtin -> vault: added, trusted, enabled, the builtin removed once no dataplane holds its certificate', async () => {
    assert.equal((await step(mesh('ca-1', [builtin]))).status, 200);
    await call(t, 'PUT', '/meshes/default/dataplanes/web-1', {
      type: 'Dataplane',
      mesh: 'default',
      name: 'web-1',
      networking: {
        address: '127.0.0.1',
        inbound: [{ port: 20001, servicePort: 8080, tags: { 'kuma.io/service': 'web' } }],
      },
    });
    dpToken = (await call(t, 'POST', '/tokens/dataplane', { name: 'web-1', mesh: 'default' })).body;
    assert.equal((await issue()).issuedBackend, 'ca-1');
    await acknowledge();

    assert.equal((await step(mesh('ca-1', [builtin, vaultBackend(vault)]))).status, 200);
    const tooSoon = await step(mesh('vault-1', [builtin, vaultBackend(vault)]));
    assert.deepEqual([tooSoon.status, tooSoon.retryAfter], [409, '5']);
    assert.match(
      tooSoon.body.invalid_parameters[0].reason,
      /^cannot enable backend "vault-1" yet: 1 active dataplane does not trust it yet/,
    );
    let s = await status();
    assert.deepEqual([s.nextStep.action, s.nextStep.backend, s.nextStep.ready], ['enable', 'vault-1', false]);
    assert.equal(s.backends[1].rootFingerprint, vault.caSha256);

    const bundle = await acknowledge();
    assert.ok(bundle.caBundle.includes(vault.caPem.trim()), 'the bundle carries the Vault root');
    assert.equal((await status()).nextStep.ready, true);
    assert.equal((await step(mesh('vault-1', [builtin, vaultBackend(vault)]))).status, 200);

    const holding = await step(mesh('vault-1', [vaultBackend(vault)]));
    assert.equal(holding.status, 409);
    assert.match(
      holding.body.invalid_parameters[0].reason,
      /^cannot remove backend "ca-1" yet: 1 active dataplane still holds a certificate issued by it: web-1/,
    );
    const fromVault = await issue();
    assert.equal(fromVault.issuedBackend, 'vault-1');
    assert.ok(new X509Certificate(fromVault.certificate).verify(new X509Certificate(vault.caPem).publicKey));
    s = await status();
    assert.deepEqual([s.nextStep.action, s.nextStep.ready], ['remove', true]);
    assert.equal((await step(mesh('vault-1', [vaultBackend(vault)]))).status, 200);
    await acknowledge();
  });

  it('a vault backend cannot change its conf while enabled (rule 3), like any other', async () => {
    const changed = { ...vaultBackend(vault), conf: { fromCp: { ...vaultBackend(vault).conf.fromCp, role: 'other' } } };
    const res = await step(mesh('vault-1', [changed]));
    assert.equal(res.status, 409);
    assert.match(
      res.body.invalid_parameters[0].reason,
      /backend "vault-1" cannot change its type or conf while mTLS is enabled/,
    );
  });

  it('vault -> provided: the vault backend goes once nothing holds its certificates; then its secrets are free', async () => {
    assert.equal((await step(mesh('vault-1', [vaultBackend(vault), provided]))).status, 200);
    await acknowledge();
    assert.equal((await step(mesh('ca-2', [vaultBackend(vault), provided]))).status, 200);
    assert.equal((await step(mesh('ca-2', [provided]))).status, 409, 'web-1 still holds a vault certificate');
    // Vault can be down for this: the provided CA issues, removing the vault backend needs no call to Vault.
    await vault.down();
    try {
      assert.equal((await issue()).issuedBackend, 'ca-2');
      assert.equal((await step(mesh('ca-2', [provided]))).status, 200);
    } finally {
      await vault.up();
    }
    for (const name of ['vault-token', 'default.ca-vault-chain-vault-1']) {
      assert.equal((await call(t, 'DELETE', `/meshes/default/secrets/${name}`)).status, 200, name);
    }
  });

  it('TLS certificate login: auth/cert/login gives the token the PKI calls use', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const clientCert = createSelfSignedServerCertificate({
      privateKey,
      publicKey,
      commonName: 'meshcp',
      dnsNames: [],
      ipAddresses: [],
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3600_000),
    });
    const clientKey = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const certAuth = { tls: { clientCert: { inlineString: clientCert }, clientKey: { inline: b64(clientKey) } } };
    const refused = await call(t, 'PUT', '/meshes/default', mesh('ca-2', [provided, vaultBackend(vault, certAuth)]));
    assert.equal(refused.status, 400);
    assert.deepEqual(
      refused.body.invalid_parameters.map((p: any) => [p.field, p.reason]),
      [
        [
          'mtls.backends[1].conf.fromCp.auth',
          'Vault answered 400 to POST /v1/auth/cert/login: invalid certificate or no client certificate supplied',
        ],
      ],
    );
    (vault as any).options.trustedClientCerts = [fingerprintOf(clientCert)];
    const calls = vault.requests.length;
    assert.equal(
      (await call(t, 'PUT', '/meshes/default', mesh('ca-2', [provided, vaultBackend(vault, certAuth)]))).status,
      200,
    );
    assert.deepEqual(
      vault.requests.slice(calls).map((r) => r.path),
      ['/v1/auth/cert/login', '/v1/pki/ca/pem', '/v1/pki/ca_chain'],
    );
    // The inline client key is sealed at rest, and the API still answers what was PUT.
    const stored = (await call(t, 'GET', '/meshes/default')).body.mtls.backends[1].conf.fromCp.auth;
    assert.deepEqual(stored, certAuth);
    const db = await storedBytes(t);
    assert.ok(
      !db.includes(b64(clientKey)) && !db.includes(clientKey.split('\n')[1]!),
      'the client key is not in the store in plaintext',
    );
    await acknowledge();
    assert.equal((await step(mesh('vault-1', [provided, vaultBackend(vault, certAuth)]))).status, 200);
    const before = vault.requests.length;
    assert.equal((await issue()).issuedBackend, 'vault-1');
    const made = vault.requests.slice(before);
    assert.deepEqual(
      made.map((r) => r.path),
      ['/v1/auth/cert/login', '/v1/pki/issue/dp'],
    );
    assert.match(made[1]!.token!, /^hvs\.login-/);
    assert.equal(made[1]!.body.common_name, undefined, 'no commonName template: no common_name sent');
    // The login token is kept: the next certificate is one call.
    const again = vault.requests.length;
    await issue();
    assert.deepEqual(
      vault.requests.slice(again).map((r) => r.path),
      ['/v1/pki/issue/dp'],
    );
  });
});
