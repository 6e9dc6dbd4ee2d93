// The meshcp-dp agent core, in-process: its CSR, its inputs, atomic files, and two agents serving and calling each
// other over mTLS on a real listening control plane while meshctl rotates the mesh CA, with zero failed handshakes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { parseAndVerifyCsr } from '../../src/x509/csr.js';
import { DataplaneAgent, type AgentEvent } from '../../src/agent/agent.js';
import { newKeyAndCsr } from '../../src/agent/csr.js';
import {
  dataplaneFromFile,
  dataplaneFromFlags,
  DataplaneSpecError,
  parseInbound,
  servePort,
} from '../../src/agent/dataplane-spec.js';
import { EchoServer, parsePeers, PeerCaller, spiffeIdentityCheck } from '../../src/agent/tls.js';
import { runMeshctl } from '../../src/cli/program.js';
import { systemClock } from '../../src/domain/clock.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'meshcp-agent-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('CSR', () => {
  test('an ECDSA P-256 PKCS#10 request that the control plane and openssl accept', () => {
    const { csrPem, keyPem, privateKey } = newKeyAndCsr('web-1');
    assert.match(csrPem, /^-----BEGIN CERTIFICATE REQUEST-----\n/);
    const parsed = parseAndVerifyCsr(csrPem);
    assert.equal(parsed.keyType, 'ec');
    assert.deepEqual(parsed.spkiDer, createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));
    assert.equal(createPrivateKey(keyPem).asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const file = join(dir, 'req.csr');
    writeFileSync(file, csrPem);
    const out = execFileSync('openssl', ['req', '-in', file, '-noout', '-verify', '-subject'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    assert.match(out, /CN ?= ?web-1/);
  });

  test('a fresh key every time', () => {
    assert.notEqual(newKeyAndCsr('a').keyPem, newKeyAndCsr('a').keyPem);
  });
});

describe('agent inputs', () => {
  test('a Dataplane from flags', () => {
    assert.deepEqual(
      dataplaneFromFlags({ name: 'web-1', address: '10.0.0.1', inbound: ['20001:8080:web', '20002::admin'] }),
      {
        type: 'Dataplane',
        mesh: 'default',
        name: 'web-1',
        networking: {
          address: '10.0.0.1',
          inbound: [
            { port: 20001, servicePort: 8080, tags: { 'kuma.io/service': 'web' } },
            { port: 20002, tags: { 'kuma.io/service': 'admin' } },
          ],
        },
      },
    );
    assert.throws(() => dataplaneFromFlags({ address: 'a', inbound: ['1:2:x'] }), /--name is required/);
    assert.throws(() => parseInbound('web'), DataplaneSpecError);
    assert.throws(() => parseInbound('70000:1:web'), /1-65535/);
  });

  test('a Dataplane from a file; flags fill in but never contradict', () => {
    const text = readFileSync(new URL('../../examples/dataplane-web-1.yaml', import.meta.url), 'utf8');
    const dp = dataplaneFromFile(text, 'web-1.yaml');
    assert.deepEqual([dp.mesh, dp.name, servePort(dp)], ['default', 'web-1', 20001]);
    assert.throws(() => dataplaneFromFile(text, 'f', { name: 'web-2' }), /name is "web-1" but --name says "web-2"/);
    assert.equal(dataplaneFromFile('networking: {}', 'f', { name: 'x', mesh: 'm' }).mesh, 'm');
    assert.throws(() => dataplaneFromFile('type: Mesh\nname: x', 'f'), /expected Dataplane/);
  });

  test('peers', () => {
    assert.deepEqual(parsePeers(['a:1,b:2', '[::1]:3']), [
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
      { host: '::1', port: 3 },
    ]);
    assert.throws(() => parsePeers(['nohost']), /host:port/);
  });

  test('peer identity: a SPIFFE URI of the mesh, not a hostname', () => {
    const check = spiffeIdentityCheck('default');
    const cert = (san: string) => ({ subjectaltname: san }) as never;
    assert.equal(check('127.0.0.1', cert('URI:spiffe://default/web, URI:kuma://kuma.io/service/web')), undefined);
    assert.match(String(check('x', cert('URI:spiffe://other/web'))), /no spiffe:\/\/default\/\* URI SAN/);
    assert.match(
      String(spiffeIdentityCheck('default', 'api')('x', cert('URI:spiffe://default/web'))),
      /no spiffe:\/\/default\/api URI SAN/,
    );
    // A mesh of the new model: the control plane names the trust domains (legacy IDs' included during the cut-over).
    const cutOver = spiffeIdentityCheck('default', undefined, ['default', 'default.default.mesh.local']);
    assert.equal(cutOver('x', cert('URI:spiffe://default.default.mesh.local/workload/web')), undefined);
    assert.equal(cutOver('x', cert('URI:spiffe://default/web, URI:kuma://kuma.io/service/web')), undefined);
    assert.match(
      String(cutOver('x', cert('URI:spiffe://other.mesh.local/workload/web'))),
      /no SPIFFE ID of trust domain default or default.default.mesh.local/,
    );
  });
});

describe('agents on a live control plane', () => {
  let t: TestApp;
  let address: string;
  const agents: DataplaneAgent[] = [];
  const servers: EchoServer[] = [];
  const callers: PeerCaller[] = [];
  const events: AgentEvent[] = [];
  const log = (e: AgentEvent) => void events.push(e);

  before(async () => {
    t = await createTestApp();
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    address = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await Promise.all(callers.map((c) => c.stop()));
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all(agents.map((a) => a.stop()));
    await t?.close();
    if (t) rmSync(t.dataDir, { recursive: true, force: true });
  });

  async function token(mesh: string, name: string): Promise<string> {
    const res = await t.app.inject({ method: 'POST', url: '/tokens/dataplane', payload: { name, mesh } });
    assert.equal(res.statusCode, 200, res.body);
    return res.body;
  }

  async function putMesh(body: object): Promise<void> {
    const res = await t.app.inject({ method: 'PUT', url: `/meshes/${(body as { name: string }).name}`, payload: body });
    assert.ok(res.statusCode < 300, res.body);
  }

  async function startAgent(mesh: string, name: string, service: string, csr = true): Promise<DataplaneAgent> {
    const jwt = await token(mesh, name);
    const agent = new DataplaneAgent({
      clock: systemClock,
      cpAddress: address,
      token: () => jwt,
      dataplane: {
        type: 'Dataplane',
        mesh,
        name,
        networking: {
          address: '127.0.0.1',
          inbound: [{ port: 20001, servicePort: 8080, tags: { 'kuma.io/service': service } }],
        },
      },
      outputDir: join(dir, name),
      csr,
      pollWaitMs: 10_000,
      reissueDelayMs: 200,
      log,
    });
    agents.push(agent);
    await agent.start();
    return agent;
  }

  async function until(
    what: string,
    condition: () => boolean,
    timeoutMs = 15_000,
    meanwhile?: () => Promise<void>,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await meanwhile?.();
      await sleep(meanwhile ? 5 : 50);
    }
  }

  test('two agents call each other over mTLS through a whole CA rotation without a failed handshake', async () => {
    const ca1 = { name: 'ca-1', type: 'builtin' };
    const ca2 = { name: 'ca-2', type: 'builtin' };
    await putMesh({ type: 'Mesh', name: 'default', mtls: { enabledBackend: 'ca-1', backends: [ca1] } });
    const web = await startAgent('default', 'web-1', 'web');
    const api = await startAgent('default', 'api-1', 'api', false);
    assert.equal(web.material?.issuedBackend, 'ca-1');
    const ports: number[] = [];
    for (const agent of [web, api]) {
      const server = new EchoServer(agent, { host: '127.0.0.1', port: 0, log });
      servers.push(server);
      ports.push(await server.start());
    }
    callers.push(
      new PeerCaller(web, [{ host: '127.0.0.1', port: ports[1] }], {
        mesh: 'default',
        clock: systemClock,
        intervalMs: 100,
        log,
      }),
    );
    callers.push(
      new PeerCaller(api, [{ host: '127.0.0.1', port: ports[0] }], {
        mesh: 'default',
        clock: systemClock,
        intervalMs: 100,
        log,
      }),
    );
    callers.forEach((c) => c.start());
    await until('calls', () => callers.every((c) => c.totals().ok >= 3));

    await putMesh({ type: 'Mesh', name: 'default', mtls: { enabledBackend: 'ca-1', backends: [ca1, ca2] } });
    let stdout = '';
    let stderr = '';
    const code = await runMeshctl(
      ['rotate', '--mesh', 'default', '--to', 'ca-2', '--timeout', '30s', '--interval', '200ms'],
      {
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: (s: string) => (stderr += s) },
        env: { MESHCP_ADDRESS: address, XDG_CONFIG_HOME: '/nonexistent' },
        readStdin: async () => '',
        now: () => Date.now(),
        sleep: (ms) => sleep(ms),
      },
    );
    assert.equal(code, 0, stderr);
    assert.match(stdout, /✓ enabled ca-2\n[^]*✓ removed ca-1\n/);

    const callsBefore = callers.map((c) => c.totals().ok);
    await until('calls after the rotation', () => callers.every((c, i) => c.totals().ok >= callsBefore[i] + 3));
    for (const caller of callers)
      assert.deepEqual(
        { ...caller.totals(), ok: 0 },
        { ok: 0, failed: 0, unreachable: 0 },
        JSON.stringify(events.filter((e) => e.ok === false)),
      );
    for (const server of servers) assert.equal(server.handshakeFailures, 0);
    assert.equal(web.material?.issuedBackend, 'ca-2');
    assert.equal(api.material?.issuedBackend, 'ca-2');
    assert.ok(events.some((e) => e.event === 'call' && e.ok === true && String(e.peerId) === 'spiffe://default/api'));

    // The files a proxy would use: a key that matches the certificate, and a bundle with only ca-2 that verifies it.
    const files = (name: string, f: string) => readFileSync(join(dir, name, f), 'utf8');
    const rootsOf = (name: string) =>
      files(name, 'ca.pem').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    // Step 3's bundle (ca-2 only) reaches each agent by its long-poll, which may answer after the calls above.
    await until('bundles without ca-1', () => ['web-1', 'api-1'].every((name) => rootsOf(name).length === 1));
    for (const name of ['web-1', 'api-1']) {
      const leaf = new X509Certificate(files(name, 'cert.pem'));
      assert.ok(leaf.checkPrivateKey(createPrivateKey(files(name, 'key.pem'))));
      const roots = rootsOf(name);
      assert.equal(roots.length, 1);
      assert.ok(leaf.verify(new X509Certificate(roots[0]).publicKey));
    }
    const kinds = events
      .filter((e) => e.event === 'certificate' && e.dataplane === 'default/web-1')
      .map((e) => [e.reason, e.issuedBackend, e.keyGeneratedBy]);
    assert.deepEqual(kinds, [
      ['initial', 'ca-1', 'agent'],
      ['reissue', 'ca-2', 'agent'],
    ]);
    assert.ok(
      events.some(
        (e) => e.event === 'certificate' && e.dataplane === 'default/api-1' && e.keyGeneratedBy === 'control-plane',
      ),
    );
  });

  test('renews at renewAfter', async () => {
    // Its own control plane and agent on one fake clock: the renewal comes when the clock passes renewAfter, and
    // no earlier, without the test waiting for the certificate to age.
    const clock = new FakeClock();
    const cp = await createTestApp({}, { clock });
    try {
      await cp.app.listen({ host: '127.0.0.1', port: 0 });
      const mesh = {
        type: 'Mesh',
        name: 'short',
        mtls: {
          enabledBackend: 'ca-1',
          backends: [{ name: 'ca-1', type: 'builtin', dpCert: { rotation: { expiration: '4s' } } }],
        },
      };
      assert.ok((await cp.app.inject({ method: 'PUT', url: '/meshes/short', payload: mesh })).statusCode < 300);
      const jwt = (
        await cp.app.inject({ method: 'POST', url: '/tokens/dataplane', payload: { name: 'web-1', mesh: 'short' } })
      ).body;
      const agent = new DataplaneAgent({
        cpAddress: `http://127.0.0.1:${(cp.app.server.address() as AddressInfo).port}`,
        token: () => jwt,
        dataplane: {
          type: 'Dataplane',
          mesh: 'short',
          name: 'web-1',
          networking: {
            address: '127.0.0.1',
            inbound: [{ port: 20001, servicePort: 8080, tags: { 'kuma.io/service': 'web' } }],
          },
        },
        outputDir: join(dir, 'short-web-1'),
        csr: true,
        pollWaitMs: 10_000,
        reissueDelayMs: 200,
        log,
        clock,
      });
      agents.push(agent);
      await agent.start();
      const first = agent.material!;
      const renewAfter = Date.parse(first.renewAfter);
      assert.ok(renewAfter < Date.parse(first.notAfter));
      await clock.waitForTimers(2); // the agent's renewal and its long-poll on the control plane
      await clock.advance(renewAfter - clock.now() - 1);
      await sleep(50); // real time for any request the agent might wrongly make now
      assert.equal(agent.certificates, 1, 'no renewal before renewAfter');
      await clock.advance(1);
      // A reissue answer makes the agent wait up to reissueDelayMs on the clock: keep it moving a little.
      await until(
        'a renewal',
        () => agent.certificates >= 2,
        10_000,
        () => clock.advance(100),
      );
      assert.notEqual(agent.material!.certPem, first.certPem);
      assert.ok(
        events.some(
          (e) =>
            e.event === 'certificate' &&
            e.dataplane === 'short/web-1' &&
            (e.reason === 'renewal' || e.reason === 'reissue'),
        ),
      );
      await agent.stop();
    } finally {
      await cp.close();
      rmSync(cp.dataDir, { recursive: true, force: true });
    }
  });
});
