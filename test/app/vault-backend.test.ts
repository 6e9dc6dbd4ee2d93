// The vault CA backend through the HTTP layer, against the Vault PKI API double (test/helpers/vault-pki-double.ts):
// PUT validation naming Vault's own errors, issuance in CSR mode (sign) and control-plane-key mode (issue), role
// limits, Vault down and back (bundles from the cache, 503 + Retry-After, /ca-rotation saying so), credentials
// protected and never logged.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { newKeyAndCsr } from '../../src/agent/csr.js';
import { storedBytes } from '../helpers/api-assert.js';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.js';
import { VaultPkiDouble } from '../helpers/vault-pki-double.js';

const TOKEN = 'hvs.meshcp-test-token-0123456789';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const ROLE = {
  allowedUriSans: ['spiffe://default/*', 'kuma://*'],
  maxTtlSeconds: 24 * 3600,
  allowedDomains: ['*.mesh'],
};

interface Answer {
  status: number;
  body: any;
  headers: Record<string, unknown>;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

class Cp {
  private readonly tokens = new Map<string, string>();
  constructor(
    readonly t: TestApp,
    private readonly logLines: string[],
  ) {}

  static async start(): Promise<Cp> {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    return new Cp(await createTestApp({ MESHCP_SIGNING_WORKERS: '0' }, { logTo: sink }), lines);
  }

  allLogs(): string {
    return this.logLines.join('');
  }

  async call(method: string, url: string, payload?: object, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await this.t.app.inject({
      method: method as 'GET',
      url,
      headers: { ...admin, ...headers },
      ...(payload ? { payload } : {}),
    });
    const json = String(res.headers['content-type'] ?? '').startsWith('application/json');
    return { status: res.statusCode, body: json ? JSON.parse(res.body) : res.body, headers: res.headers };
  }

  putSecret(name: string, data: string) {
    return this.call('PUT', `/meshes/default/secrets/${name}`, {
      type: 'Secret',
      mesh: 'default',
      name,
      data: b64(data),
    });
  }

  putMesh(mtls: object, query = '') {
    return this.call('PUT', `/meshes/default${query}`, { type: 'Mesh', name: 'default', mtls });
  }

  async addDataplane(name: string, service: string) {
    const res = await this.call('PUT', `/meshes/default/dataplanes/${name}`, {
      type: 'Dataplane',
      mesh: 'default',
      name,
      networking: {
        address: '127.0.0.1',
        inbound: [{ port: 20001, servicePort: 8080, tags: { 'kuma.io/service': service } }],
      },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const token = await this.call('POST', '/tokens/dataplane', { name, mesh: 'default' });
    this.tokens.set(name, token.body);
  }

  asDataplane(name: string, method: string, url: string, payload?: object) {
    return this.call(method, url, payload, { authorization: `Bearer ${this.tokens.get(name)}` });
  }

  certificate(name: string, body: object = {}) {
    return this.asDataplane(name, 'POST', `/meshes/default/dataplanes/${name}/certificate`, body);
  }

  async rotation(): Promise<any> {
    return (await this.call('GET', '/meshes/default/ca-rotation')).body;
  }
}

const vaultBackend = (vault: VaultPkiDouble, overrides: Record<string, unknown> = {}) => ({
  name: 'vault-1',
  type: 'vault',
  conf: {
    fromCp: {
      address: vault.address,
      namespace: 'team-a',
      tls: { caCert: { secret: 'vault-ca' } },
      auth: { token: { secret: 'vault-token' } },
      pki: 'pki',
      role: 'dataplanes',
      commonName: '{{ tag "kuma.io/service" }}.mesh',
      ...overrides,
    },
  },
});

const paramsOf = (a: Answer) => (a.body.invalid_parameters ?? []).map((p: any) => [p.field, p.reason]);

describe('vault CA backend', () => {
  let vault: VaultPkiDouble;
  let cp: Cp;

  before(async () => {
    vault = await VaultPkiDouble.start({ namespace: 'team-a', tokens: [TOKEN], roles: { dataplanes: ROLE } });
    cp = await Cp.start();
    assert.equal((await cp.putSecret('vault-ca', vault.tlsCaPem)).status, 201);
    assert.equal((await cp.putSecret('vault-token', `${TOKEN}\n`)).status, 201);
  });
  after(async () => {
    await cp.t.close();
    await vault.down();
  });

  it('refuses an incomplete conf with every missing field named', async () => {
    const res = await cp.putMesh({
      enabledBackend: 'v',
      backends: [{ name: 'v', type: 'vault', conf: { fromCp: { tls: { skipVerify: 'yes' } } } }],
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.deepEqual(paramsOf(res), [
      ['mtls.backends[0].conf.fromCp.address', 'has to be defined'],
      ['mtls.backends[0].conf.fromCp.pki', 'has to be defined'],
      ['mtls.backends[0].conf.fromCp.role', 'has to be defined'],
      ['mtls.backends[0].conf.fromCp.tls.skipVerify', 'has to be a boolean'],
      ['mtls.backends[0].conf.fromCp.auth', 'has to be defined'],
    ]);
    const typo = await cp.putMesh({
      enabledBackend: 'vault-1',
      backends: [vaultBackend(vault, { rolee: 'x', commonName: '{{ .Mesh }}' })],
    });
    assert.deepEqual(paramsOf(typo), [
      ['mtls.backends[0].conf.fromCp.rolee', 'unknown field "rolee"'],
      ['mtls.backends[0].conf.fromCp.commonName', 'the only template action supported is {{ tag "<tag name>" }}'],
    ]);
  });

  it('names an unreadable secret, an unreachable Vault, a refused token, a wrong mount and an untrusted TLS certificate', async () => {
    const put = (overrides: Record<string, unknown>) =>
      cp.putMesh({ enabledBackend: 'vault-1', backends: [vaultBackend(vault, overrides)] });
    assert.deepEqual(paramsOf(await put({ auth: { token: { secret: 'nope' } } })), [
      [
        'mtls.backends[0].conf.fromCp.auth.token',
        'could not load data: resource not found: type="Secret" name="nope" mesh="default"',
      ],
    ]);
    const closedPort = await put({ address: 'https://127.0.0.1:1' });
    assert.equal(closedPort.status, 400);
    assert.deepEqual(
      paramsOf(closedPort).map((p: string[]) => p[0]),
      ['mtls.backends[0].conf.fromCp.address'],
    );
    assert.match(
      paramsOf(closedPort)[0][1],
      /^Vault at https:\/\/127\.0\.0\.1:1 cannot be reached .*connection refused$/,
    );
    assert.deepEqual(paramsOf(await put({ auth: { token: { inlineString: 'hvs.wrong' } } })), [
      ['mtls.backends[0].conf.fromCp.auth', 'Vault answered 403 to GET /v1/auth/token/lookup-self: permission denied'],
    ]);
    assert.deepEqual(paramsOf(await put({ pki: 'pki-missing' })), [
      [
        'mtls.backends[0].conf.fromCp.pki',
        'Vault answered 404 to GET /v1/pki-missing/ca/pem: no handler for route "pki-missing/ca/pem". route entry not found.',
      ],
    ]);
    assert.deepEqual(paramsOf(await put({ namespace: 'team-b' })), [
      [
        'mtls.backends[0].conf.fromCp.auth',
        'Vault answered 404 to GET /v1/auth/token/lookup-self: no handler for route "auth/token/lookup-self". route entry not found.',
      ],
    ]);
    const untrusted = await put({ tls: {} });
    assert.equal(untrusted.body.invalid_parameters[0].field, 'mtls.backends[0].conf.fromCp.address');
    assert.match(untrusted.body.invalid_parameters[0].reason, /TLS: self[- ]signed certificate/);
    assert.equal(
      (await cp.call('GET', '/meshes/default/secrets/default.ca-vault-chain-vault-1')).status,
      404,
      'nothing cached',
    );
    assert.equal((await cp.call('GET', '/meshes/default')).body.mtls, undefined, 'nothing stored');
  });

  it('a dry run contacts Vault and writes nothing; the real PUT caches the chain and serves it in bundles', async () => {
    const dry = await cp.putMesh({ enabledBackend: 'vault-1', backends: [vaultBackend(vault)] }, '?dryRun=true');
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.equal((await cp.call('GET', '/meshes/default/secrets/default.ca-vault-chain-vault-1')).status, 404);
    const calls = vault.requests.length;
    const res = await cp.putMesh({ enabledBackend: 'vault-1', backends: [vaultBackend(vault)] });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const made = vault.requests.slice(calls).map((r) => `${r.method} ${r.path} ${r.namespace}`);
    assert.deepEqual(made, [
      'GET /v1/auth/token/lookup-self team-a',
      'GET /v1/pki/ca/pem team-a',
      'GET /v1/pki/ca_chain team-a',
    ]);
    assert.equal(vault.requests.at(-3)!.token, TOKEN, 'the token (trimmed of its newline) is sent as X-Vault-Token');
    const status = await cp.rotation();
    assert.equal(status.backends[0].rootFingerprint, vault.caSha256);
    assert.equal(status.backends[0].vault.reachable, null);
    // Another PUT with the same conf does not contact Vault again.
    const again = vault.requests.length;
    assert.equal((await cp.putMesh({ enabledBackend: 'vault-1', backends: [vaultBackend(vault)] })).status, 200);
    assert.equal(vault.requests.length, again);
    // The token and the cached chain are in use: they cannot be deleted.
    for (const name of ['vault-token', 'vault-ca', 'default.ca-vault-chain-vault-1']) {
      const del = await cp.call('DELETE', `/meshes/default/secrets/${name}`);
      assert.equal(del.status, 400, name);
      assert.match(
        del.body.invalid_parameters[0].reason,
        /currently in use in Mesh "default" in mTLS backend "vault-1"/,
      );
    }
  });

  it('signs a CSR through Vault: the key never leaves the dataplane, the certificate chains to the cached root', async () => {
    await cp.addDataplane('web-1', 'web');
    const { csrPem, privateKey } = newKeyAndCsr('web-1');
    const calls = vault.requests.length;
    const res = await cp.certificate('web-1', { csr: csrPem });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const request = vault.requests[calls]!;
    assert.equal(request.path, '/v1/pki/sign/dataplanes');
    assert.deepEqual([request.token, request.namespace], [TOKEN, 'team-a']);
    assert.deepEqual(Object.keys(request.body).sort(), ['common_name', 'csr', 'format', 'ttl', 'uri_sans']);
    assert.equal(request.body.common_name, 'web.mesh');
    assert.equal(request.body.ttl, '86400s');
    const cert = new X509Certificate(res.body.certificate);
    const root = new X509Certificate(vault.caPem);
    assert.ok(cert.verify(root.publicKey));
    assert.ok(
      cert.publicKey
        .export({ type: 'spki', format: 'der' })
        .equals(createPublicKey(privateKey).export({ type: 'spki', format: 'der' })),
    );
    assert.equal(res.body.privateKey, undefined);
    assert.equal(
      request.body.uri_sans,
      cert
        .subjectAltName!.split(', ')
        .map((n) => n.slice(4))
        .join(','),
    );
    assert.ok(res.body.caBundle.includes(vault.caPem.trim()));
    assert.equal(res.body.issuedBackend, 'vault-1');
    // The answer says what the certificate says.
    assert.equal(res.body.notAfter, new Date(cert.validTo).toISOString());
    const dir = cp.t.dataDir;
    writeFileSync(join(dir, 'root.pem'), vault.caPem);
    writeFileSync(join(dir, 'leaf.pem'), res.body.certificate);
    assert.match(
      execFileSync('openssl', ['verify', '-CAfile', join(dir, 'root.pem'), join(dir, 'leaf.pem')]).toString(),
      /OK/,
    );
    assert.equal((await cp.rotation()).backends[0].vault.reachable, true);
  });

  it('without a CSR, Vault makes the key (issue); a bad CSR is refused before Vault is asked', async () => {
    const calls = vault.requests.length;
    const res = await cp.certificate('web-1');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(vault.requests[calls]!.path, '/v1/pki/issue/dataplanes');
    assert.ok(new X509Certificate(res.body.certificate).checkPrivateKey(createPrivateKey(res.body.privateKey)));
    const bad = await cp.certificate('web-1', {
      csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.invalid_parameters[0].field, 'csr');
    assert.equal(vault.requests.length, calls + 1, 'Vault was not asked to sign a bad CSR');
  });

  it('the role decides the lifetime (max_ttl) and which URI SANs and names are allowed: refusals are 502 naming Vault', async () => {
    vault.setRole('dataplanes', { ...ROLE, maxTtlSeconds: 3600 });
    const short = await cp.certificate('web-1');
    assert.equal(short.status, 200);
    const lifetime = new Date(short.body.notAfter).getTime() - Date.now();
    assert.ok(lifetime <= 3600_000 && lifetime > 3500_000, `clamped to max_ttl: ${lifetime}`);
    assert.ok(new Date(short.body.renewAfter).getTime() < new Date(short.body.notAfter).getTime());

    vault.setRole('dataplanes', { ...ROLE, allowedUriSans: ['spiffe://other/*'] });
    const uri = await cp.certificate('web-1');
    assert.equal(uri.status, 502, JSON.stringify(uri.body));
    assert.equal(
      uri.body.detail,
      'backend "vault-1": Vault answered 400 to POST /v1/pki/issue/dataplanes: URI Subject Alternative Name spiffe://default/web not allowed by this role',
    );
    vault.setRole('dataplanes', { ...ROLE, allowedDomains: ['*.example'] });
    const cn = await cp.certificate('web-1');
    assert.equal(cn.status, 502);
    assert.match(cn.body.detail, /common name web\.mesh not allowed by this role$/);
    vault.setRole('dataplanes', ROLE);
    vault.revokeToken(TOKEN);
    const denied = await cp.certificate('web-1');
    assert.equal(denied.status, 502);
    assert.match(denied.body.detail, /Vault answered 403 to POST \/v1\/pki\/issue\/dataplanes: permission denied$/);
    const status = await cp.rotation();
    assert.equal(status.backends[0].vault.reachable, true);
    assert.match(status.backends[0].vault.lastError, /permission denied/);
    (vault as any).tokens.add(TOKEN);
  });

  it('Vault down: bundles still served from the cache, certificates 503 with Retry-After, the status says so; back up: issuing again', async () => {
    const bundleBefore = await cp.asDataplane('web-1', 'GET', '/meshes/default/dataplanes/web-1/trust-bundle');
    await vault.down();
    try {
      const bundle = await cp.asDataplane('web-1', 'GET', '/meshes/default/dataplanes/web-1/trust-bundle');
      assert.equal(bundle.status, 200);
      assert.equal(bundle.body.caBundle, bundleBefore.body.caBundle);
      const res = await cp.certificate('web-1');
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.equal(res.headers['retry-after'], '10');
      assert.match(
        res.body.detail,
        /^the CA of backend "vault-1" is unavailable: Vault at https:\/\/127\.0\.0\.1:\d+ cannot be reached .*connection refused$/,
      );
      const status = await cp.rotation();
      assert.equal(status.backends[0].vault.reachable, false);
      assert.match(
        status.backends[0].vault.description,
        /unreachable: trust bundles are served from the cached CA chain/,
      );
      // A PUT that does not change the backend does not need Vault.
      assert.equal((await cp.putMesh({ enabledBackend: 'vault-1', backends: [vaultBackend(vault)] })).status, 200);
    } finally {
      await vault.up();
    }
    assert.equal((await cp.certificate('web-1')).status, 200);
    assert.equal((await cp.rotation()).backends[0].vault.reachable, true);
    vault.sealed = true;
    const sealed = await cp.certificate('web-1');
    vault.sealed = false;
    assert.deepEqual([sealed.status, sealed.headers['retry-after']], [503, '10']);
    assert.match(sealed.body.detail, /Vault answered 503 to POST \/v1\/pki\/issue\/dataplanes: Vault is sealed$/);
  });

  it("a Vault that never answers: 503 after the backend's dpCert.requestTimeout", async () => {
    const withTimeout = {
      ...vaultBackend(vault),
      dpCert: { rotation: { expiration: '24h' }, requestTimeout: '300ms' },
    };
    const put = await cp.putMesh({ enabledBackend: 'vault-1', backends: [withTimeout] });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    vault.hanging = true;
    const started = Date.now();
    const res = await cp.certificate('web-1');
    vault.hanging = false;
    assert.deepEqual([res.status, res.headers['retry-after']], [503, '10']);
    assert.match(res.body.detail, /cannot be reached \(POST \/v1\/pki\/issue\/dataplanes\): no answer within 0\.3s$/);
    assert.ok(Date.now() - started < 3_000);
    assert.equal((await cp.putMesh({ enabledBackend: 'vault-1', backends: [vaultBackend(vault)] })).status, 200);
  });

  it('an unusable answer from Vault is a 502, never a 500', async () => {
    vault.corrupt = 'certificate';
    const cert = await cp.certificate('web-1');
    vault.corrupt = 'private_key';
    const key = await cp.certificate('web-1');
    vault.corrupt = undefined;
    assert.deepEqual(
      [cert.status, cert.body.detail],
      [502, 'backend "vault-1": Vault\'s answer to POST /v1/pki/issue/dataplanes has no data.certificate in PEM'],
    );
    assert.deepEqual(
      [key.status, key.body.detail],
      [502, 'backend "vault-1": Vault returned a certificate meshcp will not hand out: its private key does not parse'],
    );
  });

  it('a certificate from a CA other than the cached one is never handed out', async () => {
    vault.replaceCa();
    const res = await cp.certificate('web-1');
    assert.equal(res.status, 502);
    assert.match(res.body.detail, /not signed by the CA cached when the backend was added/);
  });

  it('never logs or stores the token in plaintext', async () => {
    assert.ok(!cp.allLogs().includes(TOKEN));
    assert.ok(!(await storedBytes(cp.t)).includes(TOKEN), 'the store holds no plaintext token');
  });
});
