// builtin -> vault, the rotation guide's own scenario, and on to a provided CA, end to end: the real control plane
// process, four dataplane agents (two send CSRs, two let the CA make their keys) talking mutual TLS the whole time,
// and the Vault PKI API double serving HTTPS. Vault even goes down for a while after the switch: renewals get 503,
// traffic does not notice. Zero failed handshakes. And a control plane restarted while Vault is down serves the
// cached root.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent, opensslCsr, uriSans, type Peer } from '../helpers/agent.js';
import { startCpProcess, type CpProcess } from '../helpers/cp-process.js';
import { VaultPkiDouble } from '../helpers/vault-pki-double.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'hvs.e2e-rotation-token';
const DATAPLANES = [
  { name: 'web-1', service: 'web', csr: true },
  { name: 'web-2', service: 'web', csr: false },
  { name: 'api-1', service: 'api', csr: true },
  { name: 'api-2', service: 'api', csr: false },
];

const b64 = (s: string) => Buffer.from(s).toString('base64');

const vaultBackendFor = (vault: VaultPkiDouble) => ({
  name: 'vault-1',
  type: 'vault',
  conf: {
    fromCp: {
      address: vault.address,
      tls: { caCert: { secret: 'vault-ca' } },
      auth: { token: { secret: 'vault-token' } },
      pki: 'pki',
      role: 'dataplanes',
      commonName: '{{ tag "kuma.io/service" }}.mesh',
    },
  },
});
const ROLE = { allowedUriSans: ['spiffe://default/*', 'kuma://*'], maxTtlSeconds: 3600, allowedDomains: ['*.mesh'] };

function clientFor(base: string) {
  return async (method: string, path: string, body?: object) => {
    const res = await fetch(base + path, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: (res.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(text) : text };
  };
}

test('builtin -> vault -> provided under live mTLS traffic, Vault down and back in the middle: zero failed handshakes', { timeout: 90_000 }, async () => {
  const vault = await VaultPkiDouble.start({ tokens: [TOKEN], roles: { dataplanes: ROLE } });
  const work = mkdtempSync(join(tmpdir(), 'meshcp-vault-e2e-'));
  let cp: CpProcess | undefined;
  const agents: Agent[] = [];
  try {
    cp = await startCpProcess();
    const base = cp.baseUrl;
    const call = clientFor(base);
    const rotation = async () => (await call('GET', '/meshes/default/ca-rotation')).body;
    const builtin = { name: 'ca-1', type: 'builtin' };
    const vaultBackend = vaultBackendFor(vault);
    const provided = { name: 'ca-2', type: 'provided', conf: { cert: { secret: 'ca-2-cert' }, key: { secret: 'ca-2-key' } } };
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '365', '-subj', '/CN=ca-2',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout', join(work, 'ca-2.key'), '-out', join(work, 'ca-2.crt')], { stdio: 'ignore' });
    const ca2Pem = readFileSync(join(work, 'ca-2.crt'), 'utf8');
    const putMesh = (enabledBackend: string, backends: object[]) => call('PUT', '/meshes/default', { type: 'Mesh', name: 'default', mtls: { enabledBackend, backends } });

    for (const [name, data] of [['vault-ca', vault.tlsCaPem], ['vault-token', TOKEN], ['ca-2-cert', ca2Pem], ['ca-2-key', readFileSync(join(work, 'ca-2.key'), 'utf8')]]) {
      assert.equal((await call('PUT', `/meshes/default/secrets/${name}`, { type: 'Secret', mesh: 'default', name, data: b64(data!) })).status, 201);
    }
    assert.equal((await putMesh('ca-1', [builtin])).status, 200);
    for (const [i, dp] of DATAPLANES.entries()) {
      const resource = {
        type: 'Dataplane', mesh: 'default', name: dp.name,
        networking: { address: '127.0.0.1', inbound: [{ port: 20001 + i, servicePort: 8080, tags: { 'kuma.io/service': dp.service } }] },
      };
      assert.equal((await call('PUT', `/meshes/default/dataplanes/${dp.name}`, resource)).status, 201);
      const token = await call('POST', '/tokens/dataplane', { name: dp.name, mesh: 'default', validFor: '1h' });
      agents.push(new Agent({
        cpUrl: base, mesh: 'default', name: dp.name, service: dp.service, token: token.body,
        csr: dp.csr ? await opensslCsr(dp.name) : undefined,
        ackDelayMs: [100, 400], reissueDelayMs: [100, 400],
        renewEveryMs: dp.name.endsWith('-1') ? 1_500 : undefined,
        pollWait: '10s',
      }));
    }
    await Promise.all(agents.map((a) => a.start()));
    const peersOf = (me: Agent): Peer[] => agents.filter((a) => a !== me).map((a) => ({ name: a.name, service: a.service, port: a.port }));
    for (const a of agents) a.startTraffic(peersOf(a), 30);
    await waitFor('traffic between every pair', () => agents.every((a) => a.stats.ok >= 10) || undefined);
    const handshakes = () => agents.reduce((n, a) => n + a.stats.ok, 0);

    // Step 1: add the vault backend. Meshcp fetches Vault's CA chain now and puts its root in every bundle.
    assert.equal((await putMesh('ca-1', [builtin, vaultBackend])).status, 200);
    let status = await waitFor('every agent to trust vault-1', async () => {
      const s = await rotation();
      return s.nextStep.action === 'enable' && s.nextStep.ready ? s : undefined;
    });
    assert.equal(status.backends[1].rootFingerprint, vault.caSha256);
    // Step 2: enable it; agents re-issue through Vault.
    assert.equal((await putMesh('vault-1', [builtin, vaultBackend])).status, 200);
    status = await waitFor('every agent to re-issue from vault-1', async () => {
      const s = await rotation();
      return s.nextStep.action === 'remove' && s.nextStep.ready ? s : undefined;
    });
    await waitFor('agents to install their Vault certificates', () => agents.every((a) => a.issuedBackend === 'vault-1') || undefined, 3_000);

    // Vault goes down: renewals are refused with 503, bundles and traffic carry on.
    const okBeforeOutage = handshakes();
    const errorsBeforeOutage = agents.flatMap((a) => a.stats.cpErrors).length;
    await vault.down();
    await waitFor('a renewal to meet the outage', () => agents.flatMap((a) => a.stats.cpErrors).length > errorsBeforeOutage || undefined, 5_000);
    status = await rotation();
    assert.equal(status.backends[1].vault.reachable, false);
    await waitFor('traffic during the outage', () => handshakes() >= okBeforeOutage + 40 || undefined);
    await vault.up();
    const outageErrors = agents.flatMap((a) => a.stats.cpErrors).slice(errorsBeforeOutage);
    for (const e of outageErrors) assert.match(e, /certificate: 503 .*the CA of backend \\?"vault-1\\?" is unavailable/);
    await waitFor('a renewal through Vault after it is back', async () => ((await rotation()).backends[1].vault.reachable === true) || undefined, 5_000);

    // Step 3: remove the builtin.
    assert.equal((await putMesh('vault-1', [vaultBackend])).status, 200);
    const vaultOnly = (await rotation()).bundleVersion;
    await waitFor('every agent to acknowledge the vault-only bundle', () => agents.every((a) => a.releasedVersion === vaultOnly) || undefined);
    const okOnVault = handshakes();
    await waitFor('traffic on the vault-only bundle', () => handshakes() >= okOnVault + 40 || undefined);
    const root = new X509Certificate(vault.caPem);
    for (const a of agents) {
      const cert = new X509Certificate(a.certPem);
      assert.ok(cert.checkIssued(root) && cert.verify(root.publicKey), `${a.name}'s certificate is signed by Vault's CA`);
      assert.ok(uriSans(cert).includes(`spiffe://default/${a.service}`));
      assert.deepEqual(a.bundleRoots().map((r) => r.fingerprint256), [root.fingerprint256]);
    }

    // vault -> provided: the same three steps, the rules waiting for the fleet each time.
    assert.equal((await putMesh('vault-1', [vaultBackend, provided])).status, 200);
    await waitFor('every agent to trust ca-2', async () => {
      const s = await rotation();
      return (s.nextStep.action === 'enable' && s.nextStep.ready) || undefined;
    });
    assert.equal((await putMesh('ca-2', [vaultBackend, provided])).status, 200);
    await waitFor('every agent to re-issue from ca-2', async () => {
      const s = await rotation();
      return (s.nextStep.action === 'remove' && s.nextStep.ready) || undefined;
    });
    assert.equal((await putMesh('ca-2', [provided])).status, 200);
    const final = (await rotation()).bundleVersion;
    await waitFor('every agent to acknowledge the ca-2-only bundle', () => agents.every((a) => a.releasedVersion === final) || undefined);
    const okBeforeEnd = handshakes();
    await waitFor('traffic on the final bundle', () => handshakes() >= okBeforeEnd + 40 || undefined);
    await Promise.all(agents.map((a) => a.stopActivity()));

    const ca2 = new X509Certificate(ca2Pem);
    for (const a of agents) {
      assert.ok(new X509Certificate(a.certPem).verify(ca2.publicKey), `${a.name} ends on ca-2`);
      assert.deepEqual(a.bundleRoots().map((r) => r.fingerprint256), [ca2.fingerprint256]);
      assert.deepEqual([...new Set(a.certificates.map((c) => c.backend))], ['ca-1', 'vault-1', 'ca-2']);
    }
    const failed = agents.reduce((n, a) => n + a.stats.failed, 0);
    const rejected = agents.flatMap((a) => a.serverRejections);
    const otherErrors = agents.flatMap((a) => a.stats.cpErrors).filter((e) => !outageErrors.includes(e));
    console.log(
      `builtin -> vault -> provided under traffic: ${handshakes()} successful mTLS handshakes, ${failed} failed, ${rejected.length} refused by a server; ` +
        `${agents.reduce((n, a) => n + a.certificates.length, 0)} certificates issued (${vault.requests.filter((r) => /\/(sign|issue)\//.test(r.path)).length} by Vault), ` +
        `${outageErrors.length} renewals answered 503 while Vault was down`,
    );
    assert.equal(failed, 0, agents.flatMap((a) => a.stats.failures).join('\n'));
    assert.deepEqual(rejected, []);
    assert.deepEqual(otherErrors, []);
    assert.ok(!cp.logs.some((l) => JSON.stringify(l).includes(TOKEN)), 'the token is never logged');
    assert.deepEqual(cp.logs.filter((l) => l.level >= 50), [], 'the control plane logged no error');
  } finally {
    await Promise.allSettled(agents.map((a) => a.close()));
    if (cp) await cp.stop();
    await vault.down();
    rmSync(work, { recursive: true, force: true });
  }
});

test('a control plane restarted while Vault is down serves the cached root and answers certificates 503', { timeout: 60_000 }, async () => {
  const vault = await VaultPkiDouble.start({ tokens: [TOKEN], roles: { dataplanes: ROLE } });
  const dataDir = mkdtempSync(join(tmpdir(), 'meshcp-vault-restart-'));
  let cp: CpProcess | undefined;
  try {
    cp = await startCpProcess({}, 30_000, { dataDir });
    let call = clientFor(cp.baseUrl);
    for (const [name, data] of [['vault-ca', vault.tlsCaPem], ['vault-token', TOKEN]]) {
      assert.equal((await call('PUT', `/meshes/default/secrets/${name}`, { type: 'Secret', mesh: 'default', name, data: b64(data!) })).status, 201);
    }
    assert.equal((await call('PUT', '/meshes/default', { type: 'Mesh', name: 'default', mtls: { enabledBackend: 'vault-1', backends: [vaultBackendFor(vault)] } })).status, 200);
    const dataplane = { type: 'Dataplane', mesh: 'default', name: 'web-1', networking: { address: '127.0.0.1', inbound: [{ port: 20001, tags: { 'kuma.io/service': 'web' } }] } };
    assert.equal((await call('PUT', '/meshes/default/dataplanes/web-1', dataplane)).status, 201);
    const token = (await call('POST', '/tokens/dataplane', { name: 'web-1', mesh: 'default', validFor: '1h' })).body;
    assert.equal(await cp.stop(), 0);
    await vault.down();

    cp = await startCpProcess({}, 30_000, { dataDir });
    call = clientFor(cp.baseUrl);
    const auth = { authorization: `Bearer ${token}` };
    const bundle = await fetch(`${cp.baseUrl}/meshes/default/dataplanes/web-1/trust-bundle`, { headers: auth });
    assert.equal(bundle.status, 200);
    assert.ok(((await bundle.json()) as { caBundle: string }).caBundle.includes(vault.caPem.trim()));
    const cert = await fetch(`${cp.baseUrl}/meshes/default/dataplanes/web-1/certificate`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
    assert.deepEqual([cert.status, cert.headers.get('retry-after')], [503, '10']);
    const status = (await call('GET', '/meshes/default/ca-rotation')).body;
    assert.deepEqual([status.backends[0].rootFingerprint, status.backends[0].vault.reachable], [vault.caSha256, false]);
    await vault.up();
    const again = await fetch(`${cp.baseUrl}/meshes/default/dataplanes/web-1/certificate`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(again.status, 200);
  } finally {
    if (cp) await cp.stop();
    await vault.down();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
