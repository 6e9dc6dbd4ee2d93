// builtin -> vault, the rotation guide's own scenario, and on to a provided CA, end to end: the real control plane
// process, four shipped dataplane agents (two send CSRs, two let the CA make their keys) talking mutual TLS the whole time,
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
import { AgentFleet, rootsOf } from '../helpers/agent-fleet.js';
import { startCpProcess, type CpProcess } from '../helpers/cp-process.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { VaultPkiDouble } from '../helpers/vault-pki-double.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'hvs.e2e-rotation-token';
const REISSUE_DELAY_MS = 400;
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
    return {
      status: res.status,
      body: (res.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(text) : text,
    };
  };
}

test('builtin -> vault -> provided under live mTLS traffic, Vault down and back in the middle: zero failed handshakes', {
  timeout: 90_000,
}, async () => {
  const vault = await VaultPkiDouble.start({ tokens: [TOKEN], roles: { dataplanes: ROLE } });
  const work = mkdtempSync(join(tmpdir(), 'meshcp-vault-e2e-'));
  // The agents' renewals, re-issue delays and retry backoffs run on this clock: the test decides when they happen.
  const clock = new FakeClock();
  const fleet = new AgentFleet('default');
  let cp: CpProcess | undefined;
  try {
    cp = await startCpProcess();
    const base = cp.baseUrl;
    const call = clientFor(base);
    const rotation = async () => (await call('GET', '/meshes/default/ca-rotation')).body;
    const builtin = { name: 'ca-1', type: 'builtin' };
    const vaultBackend = vaultBackendFor(vault);
    const provided = {
      name: 'ca-2',
      type: 'provided',
      conf: { cert: { secret: 'ca-2-cert' }, key: { secret: 'ca-2-key' } },
    };
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
        join(work, 'ca-2.key'),
        '-out',
        join(work, 'ca-2.crt'),
      ],
      { stdio: 'ignore' },
    );
    const ca2Pem = readFileSync(join(work, 'ca-2.crt'), 'utf8');
    const putMesh = (enabledBackend: string, backends: object[]) =>
      call('PUT', '/meshes/default', { type: 'Mesh', name: 'default', mtls: { enabledBackend, backends } });
    const names = DATAPLANES.map((d) => d.name).sort();
    /** waitFor, saying what every agent held when it timed out. */
    const waitForFleet = <T>(
      what: string,
      probe: () => Promise<T | undefined | false> | T | undefined | false,
      timeoutMs?: number,
    ) =>
      waitFor(what, probe, timeoutMs).catch((err: Error) => {
        throw new Error(`${err.message}\n${fleet.describe()}`);
      });
    /** After a step that asks for new certificates: every agent scheduled its re-issue; its delay runs out now. */
    const reissueAll = async (since: number) => {
      await waitForFleet('every agent to schedule its re-issue', () =>
        names.every((n) => fleet.eventsOf(n, 'reissue-scheduled', since).length > 0),
      );
      await clock.advance(REISSUE_DELAY_MS);
    };

    for (const [name, data] of [
      ['vault-ca', vault.tlsCaPem],
      ['vault-token', TOKEN],
      ['ca-2-cert', ca2Pem],
      ['ca-2-key', readFileSync(join(work, 'ca-2.key'), 'utf8')],
    ]) {
      assert.equal(
        (
          await call('PUT', `/meshes/default/secrets/${name}`, {
            type: 'Secret',
            mesh: 'default',
            name,
            data: b64(data!),
          })
        ).status,
        201,
      );
    }
    assert.equal((await putMesh('ca-1', [builtin])).status, 200);
    for (const [i, dp] of DATAPLANES.entries()) {
      const dataplane = {
        type: 'Dataplane',
        mesh: 'default',
        name: dp.name,
        networking: {
          address: '127.0.0.1',
          inbound: [{ port: 20001 + i, servicePort: 8080, tags: { 'kuma.io/service': dp.service } }],
        },
      };
      const token = (await call('POST', '/tokens/dataplane', { name: dp.name, mesh: 'default', validFor: '1h' })).body;
      fleet.add(dp, {
        cpAddress: base,
        token: () => token,
        dataplane,
        pollWaitMs: 10_000,
        reissueDelayMs: REISSUE_DELAY_MS,
        clock,
      });
    }
    await fleet.start();
    fleet.startTraffic(250);
    const handshakes = () => fleet.totals().ok;
    await waitForFleet('traffic between every pair', () => [...fleet.handshakes().values()].every((ok) => ok >= 10));

    // Step 1: add the vault backend. Meshcp fetches Vault's CA chain now and puts its root in every bundle.
    assert.equal((await putMesh('ca-1', [builtin, vaultBackend])).status, 200);
    let status = await waitForFleet('every agent to trust vault-1', async () => {
      const s = await rotation();
      return s.nextStep.action === 'enable' && s.nextStep.ready && s;
    });
    assert.equal(status.backends[1].rootFingerprint, vault.caSha256);
    // Step 2: enable it; agents re-issue through Vault.
    let since = fleet.events.length;
    assert.equal((await putMesh('vault-1', [builtin, vaultBackend])).status, 200);
    await reissueAll(since);
    status = await waitForFleet('every agent to re-issue from vault-1', async () => {
      const s = await rotation();
      return s.nextStep.action === 'remove' && s.nextStep.ready && s;
    });
    await waitForFleet(
      'agents to install their Vault certificates',
      () => names.every((n) => fleet.material(n).issuedBackend === 'vault-1'),
      3_000,
    );

    // Vault goes down and every certificate comes due: renewals are refused with 503, bundles and traffic carry on.
    const okBeforeOutage = handshakes();
    await vault.down();
    since = fleet.events.length;
    const lastRenewAfter = Math.max(...names.map((n) => Date.parse(fleet.material(n).renewAfter)));
    await clock.advance(lastRenewAfter - clock.now() + 1);
    await waitForFleet(
      'every renewal to meet the outage',
      () => names.every((n) => fleet.eventsOf(n, 'error', since).length > 0),
      10_000,
    );
    status = await rotation();
    assert.equal(status.backends[1].vault.reachable, false);
    await waitForFleet('traffic during the outage', () => handshakes() >= okBeforeOutage + 40);
    const outageErrors = fleet.events.slice(since).filter((e) => e.event === 'error');
    for (const e of outageErrors)
      assert.match(String(e.message), /certificate: 503: .*the CA of backend "vault-1" is unavailable/);
    // Vault is back; the agents' retry (after the Retry-After the 503 carried) gets a certificate through it.
    await vault.up();
    since = fleet.events.length;
    await clock.advance(Math.max(...outageErrors.map((e) => Number(e.retryInMs))));
    await waitForFleet('a renewal through Vault for every agent', () =>
      names.every((n) => fleet.eventsOf(n, 'certificate', since).some((e) => e.issuedBackend === 'vault-1')),
    );
    assert.equal((await rotation()).backends[1].vault.reachable, true);

    // Step 3: remove the builtin.
    assert.equal((await putMesh('vault-1', [vaultBackend])).status, 200);
    const vaultOnly = (await rotation()).bundleVersion;
    await waitForFleet(
      'every agent to acknowledge the vault-only bundle',
      async () =>
        names.every((n) => fleet.agents.get(n)!.held?.bundleVersion === vaultOnly) &&
        (await rotation()).backends[0].dataplanesTrusting === names.length,
    );
    const okOnVault = handshakes();
    await waitForFleet('traffic on the vault-only bundle', () => handshakes() >= okOnVault + 40);
    const root = new X509Certificate(vault.caPem);
    for (const dp of DATAPLANES) {
      const cert = new X509Certificate(fleet.material(dp.name).certPem);
      assert.ok(
        cert.checkIssued(root) && cert.verify(root.publicKey),
        `${dp.name}'s certificate is signed by Vault's CA`,
      );
      assert.ok(cert.subjectAltName?.includes(`URI:spiffe://default/${dp.service}`));
      assert.deepEqual(
        rootsOf(fleet.material(dp.name).caPem).map((r) => r.fingerprint256),
        [root.fingerprint256],
      );
    }

    // vault -> provided: the same three steps, the rules waiting for the fleet each time.
    assert.equal((await putMesh('vault-1', [vaultBackend, provided])).status, 200);
    await waitForFleet('every agent to trust ca-2', async () => {
      const s = await rotation();
      return s.nextStep.action === 'enable' && s.nextStep.ready;
    });
    since = fleet.events.length;
    assert.equal((await putMesh('ca-2', [vaultBackend, provided])).status, 200);
    await reissueAll(since);
    await waitForFleet('every agent to re-issue from ca-2', async () => {
      const s = await rotation();
      return s.nextStep.action === 'remove' && s.nextStep.ready;
    });
    assert.equal((await putMesh('ca-2', [provided])).status, 200);
    const final = (await rotation()).bundleVersion;
    await waitForFleet('every agent to acknowledge the ca-2-only bundle', () =>
      names.every((n) => fleet.agents.get(n)!.held?.bundleVersion === final),
    );
    const okBeforeEnd = handshakes();
    await waitForFleet('traffic on the final bundle', () => handshakes() >= okBeforeEnd + 40);
    await fleet.stopTraffic();

    const ca2 = new X509Certificate(ca2Pem);
    for (const name of names) {
      assert.ok(new X509Certificate(fleet.material(name).certPem).verify(ca2.publicKey), `${name} ends on ca-2`);
      assert.deepEqual(
        rootsOf(fleet.material(name).caPem).map((r) => r.fingerprint256),
        [ca2.fingerprint256],
      );
      assert.deepEqual(
        [...new Set(fleet.eventsOf(name, 'certificate').map((e) => e.issuedBackend))],
        ['ca-1', 'vault-1', 'ca-2'],
      );
    }
    const { ok, failed, unreachable } = fleet.totals();
    const refused = fleet.listenerRefusals().reduce((n, r) => n + r, 0);
    const otherErrors = fleet.events.filter((e) => e.event === 'error' && !outageErrors.includes(e));
    const certificates = [...fleet.agents.values()].reduce((n, a) => n + a.certificates, 0);
    console.log(
      `builtin -> vault -> provided under traffic (shipped agent): ${ok} successful mTLS handshakes, ${failed + unreachable} failed, ${refused} refused by a listener; ` +
        `${certificates} certificates issued (${vault.requests.filter((r) => /\/(sign|issue)\//.test(r.path)).length} by Vault), ` +
        `${outageErrors.length} certificate requests (renewals and their retries) answered 503 while Vault was down`,
    );
    assert.equal(failed + unreachable, 0, JSON.stringify(fleet.failures()));
    assert.equal(refused, 0, JSON.stringify(fleet.failures()));
    assert.deepEqual(fleet.wrongPeers, []);
    assert.deepEqual(otherErrors, []);
    assert.ok(!cp.logs.some((l) => JSON.stringify(l).includes(TOKEN)), 'the token is never logged');
    assert.deepEqual(
      cp.logs.filter((l) => l.level >= 50),
      [],
      'the control plane logged no error',
    );
  } finally {
    await fleet.close();
    if (cp) await cp.stop();
    await vault.down();
    rmSync(work, { recursive: true, force: true });
  }
});

test('a control plane restarted while Vault is down serves the cached root and answers certificates 503', {
  timeout: 60_000,
}, async () => {
  const vault = await VaultPkiDouble.start({ tokens: [TOKEN], roles: { dataplanes: ROLE } });
  const dataDir = mkdtempSync(join(tmpdir(), 'meshcp-vault-restart-'));
  let cp: CpProcess | undefined;
  try {
    cp = await startCpProcess({}, 30_000, { dataDir });
    let call = clientFor(cp.baseUrl);
    for (const [name, data] of [
      ['vault-ca', vault.tlsCaPem],
      ['vault-token', TOKEN],
    ]) {
      assert.equal(
        (
          await call('PUT', `/meshes/default/secrets/${name}`, {
            type: 'Secret',
            mesh: 'default',
            name,
            data: b64(data!),
          })
        ).status,
        201,
      );
    }
    assert.equal(
      (
        await call('PUT', '/meshes/default', {
          type: 'Mesh',
          name: 'default',
          mtls: { enabledBackend: 'vault-1', backends: [vaultBackendFor(vault)] },
        })
      ).status,
      200,
    );
    const dataplane = {
      type: 'Dataplane',
      mesh: 'default',
      name: 'web-1',
      networking: { address: '127.0.0.1', inbound: [{ port: 20001, tags: { 'kuma.io/service': 'web' } }] },
    };
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
    const cert = await fetch(`${cp.baseUrl}/meshes/default/dataplanes/web-1/certificate`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.deepEqual([cert.status, cert.headers.get('retry-after')], [503, '10']);
    const status = (await call('GET', '/meshes/default/ca-rotation')).body;
    assert.deepEqual([status.backends[0].rootFingerprint, status.backends[0].vault.reachable], [vault.caSha256, false]);
    await vault.up();
    const again = await fetch(`${cp.baseUrl}/meshes/default/dataplanes/web-1/certificate`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(again.status, 200);
  } finally {
    if (cp) await cp.stop();
    await vault.down();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
