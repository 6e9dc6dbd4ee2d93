// Issue 23's proof on the shipped agent and real nginx + HAProxy: a mesh on Mesh.mtls (builtin ca-1) is cut over
// to a Bundled MeshIdentity and Mesh.mtls removed, then its CA is rotated inside the new model, while a client calls
// both proxies over mTLS several times a second and checks each proxy's SPIFFE ID (the legacy one or the
// identity's). Every premature step is tried while a proxy lags (HAProxy's reload failing) and refused naming it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startCpProcess, type CpProcess } from '../helpers/cp-process.js';
import { freePort, Proc } from '../helpers/processes.js';
import { startProxy, type RealProxy } from '../helpers/proxies.js';
import { AgentFleet } from '../helpers/agent-fleet.js';
import { waitFor } from '../helpers/wait.js';
import { systemClock } from '../../src/domain/clock.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MESHCP_DP = join(ROOT, 'bin/meshcp-dp.js');
const RELOAD_AND_WAIT = join(ROOT, 'examples/proxies/reload-and-wait.sh');
const TRUST_DOMAIN = 'default.default.mesh.local';

let work: string;
let cp: CpProcess;
let adminToken: string;
const agents = new Map<string, Proc>();
const proxies = new Map<string, RealProxy>();
let client: Client | undefined;
/** The shipped agent core in-process: three dataplanes calling each other, each checking the peer's SPIFFE ID. */
const fleet = new AgentFleet('default', (service) => `spiffe://${TRUST_DOMAIN}/workload/${service}`);

async function call(method: string, path: string, body?: object) {
  const res = await fetch(cp.baseUrl + path, {
    method,
    headers: {
      authorization: `Bearer ${adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text && (res.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(text) : text,
  };
}

/**
 * The SPIFFE ID a peer presents for `service` through the cut-over, if it is an expected one: the legacy certificate
 * carries `spiffe://default/<service>` (with Kuma's `kuma://` tag URIs), the identity's exactly one URI, its own.
 */
function expectedId(service: string, uris: string[]): string | undefined {
  const identity = `spiffe://${TRUST_DOMAIN}/workload/${service}`;
  if (uris.length === 1 && uris[0] === identity) return identity;
  const legacy = `spiffe://default/${service}`;
  return uris.includes(legacy) && uris.every((u) => u === legacy || u.startsWith('kuma://')) ? legacy : undefined;
}

class Client {
  ok = new Map<string, number>();
  seen = new Map<string, string>();
  failures: { proxy: string; at: string; error: string }[] = [];
  private running = true;
  private loops: Promise<void>[] = [];
  constructor(private readonly certDir: string) {}

  start(targets: { name: string; port: number }[], everyMs: number) {
    this.loops = targets.map(async (target) => {
      while (this.running) {
        const outcome = await this.callOnce(target).then(
          (id) => (this.seen.set(target.name, id), undefined),
          (err: Error) => err.message,
        );
        if (outcome === undefined) this.ok.set(target.name, (this.ok.get(target.name) ?? 0) + 1);
        else this.failures.push({ proxy: target.name, at: new Date().toISOString(), error: outcome });
        await sleep(everyMs);
      }
    });
  }

  async stop() {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** One mTLS call; resolves with the SPIFFE ID the proxy presented. */
  callOnce(target: { name: string; port: number }): Promise<string> {
    const version = realpathSync(join(this.certDir, '..data'));
    const read = (f: string) => readFileSync(join(version, f), 'utf8');
    return new Promise((resolve, reject) => {
      let id = '';
      const socket = tls.connect({
        host: '127.0.0.1',
        port: target.port,
        cert: read('cert.pem'),
        key: read('key.pem'),
        ca: read('ca.pem'),
        checkServerIdentity: (_host, cert) => {
          const uris = (cert.subjectaltname ?? '')
            .split(', ')
            .filter((s) => s.startsWith('URI:'))
            .map((s) => s.slice(4));
          const expected = expectedId(target.name, uris);
          if (expected) {
            id = expected;
            return undefined;
          }
          return new Error(`unexpected SPIFFE ID ${uris.join(', ')}`);
        },
      });
      let response = '';
      socket.setTimeout(5_000, () => socket.destroy(new Error('timeout')));
      socket.once('secureConnect', () => socket.write('GET / HTTP/1.0\r\nHost: mesh\r\n\r\n'));
      socket.on('data', (chunk) => (response += chunk));
      socket.once('error', reject);
      socket.once('end', () =>
        /^HTTP\/1\.[01] 200 /.test(response)
          ? resolve(id)
          : reject(new Error(`unexpected answer: ${JSON.stringify(response.slice(0, 200))}`)),
      );
    });
  }
}

async function startAgent(name: string, workload: string, port: number, reloadCommand?: string): Promise<Proc> {
  const token = await call('POST', '/tokens/dataplane', { name, mesh: 'default', validFor: '1h' });
  assert.equal(token.status, 200);
  const tokenFile = join(work, `${name}.token`);
  writeFileSync(tokenFile, token.body);
  const dpFile = join(work, `${name}.dataplane.json`);
  writeFileSync(
    dpFile,
    JSON.stringify({
      type: 'Dataplane',
      mesh: 'default',
      name,
      labels: { 'kuma.io/workload': workload },
      networking: {
        address: '127.0.0.1',
        inbound: [{ port, servicePort: 8080, tags: { 'kuma.io/service': workload } }],
      },
    }),
  );
  // prettier-ignore
  const args = [
    MESHCP_DP,
    '--cp-address',
    cp.baseUrl,
    '--dataplane-file',
    dpFile,
    '--token-file',
    tokenFile,
    '--output-dir',
    join(work, name, 'certs'),
    '--reissue-delay',
    '300ms',
    '--poll-wait',
    '20s',
    ...(reloadCommand ? ['--reload-command', reloadCommand, '--reload-timeout', '8s'] : []),
  ];
  const proc = new Proc(
    name,
    spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  agents.set(name, proc);
  return proc;
}

const identity = (name: string, selector: object) => ({
  type: 'MeshIdentity',
  name,
  spec: {
    selector,
    spiffeID: { trustDomain: TRUST_DOMAIN },
    provider: {
      type: 'Bundled',
      bundled: {
        insecureAllowSelfSigned: true,
        autogenerate: { enabled: true },
        certificateParameters: { expiry: '1h' },
      },
    },
  },
});
const causes = (body: { causes?: { message: string }[] }) => (body.causes ?? []).map((c) => c.message).join('\n');

/** Retries a step the guard refuses while the fleet catches up; returns the refusals seen on the way. */
async function stepWhenAllowed(what: string, step: () => Promise<{ status: number; body: any }>): Promise<string[]> {
  const refusals: string[] = [];
  await waitFor(
    what,
    async () => {
      const res = await step();
      if (res.status === 409) refusals.push(causes(res.body));
      else assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.status === 200;
    },
    45_000,
  );
  return refusals;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'meshcp-cutover-e2e-'));
  cp = await startCpProcess();
  adminToken = readFileSync(join(cp.dataDir, 'admin-token'), 'utf8').trim();
});

after(async () => {
  await client?.stop();
  await fleet.close();
  await Promise.all([...proxies.values()].map((p) => p.stop()));
  await Promise.all([...agents.values()].map((a) => a.stop()));
  await cp?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the cut-over from Mesh.mtls to MeshIdentity with nginx and HAProxy', { timeout: 180_000 }, () => {
  test('every premature step refused while HAProxy lags, then the whole cut-over and a rotation with zero failed handshakes', async () => {
    const mesh = {
      type: 'Mesh',
      name: 'default',
      mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
    };
    assert.equal((await call('PUT', '/meshes/default', mesh)).status, 200);
    const targets: { name: string; port: number }[] = [];
    const scripts = new Map<string, string>();
    for (const [kind, signal] of [
      ['nginx', 'HUP'],
      ['haproxy', 'USR2'],
    ] as const) {
      const port = await freePort();
      const dir = join(work, kind);
      mkdirSync(dir, { recursive: true });
      const script = join(work, `${kind}-reload.sh`);
      const good = `exec sh ${RELOAD_AND_WAIT} ${join(dir, `${kind}.pid`)} ${signal} 5\n`;
      writeFileSync(script, good);
      scripts.set(kind, good);
      const agent = await startAgent(`${kind}-1`, kind, port, `sh ${script}`);
      await agent.waitFor('the first file set', (l) => l.event === 'files-written');
      proxies.set(kind, await startProxy(kind, dir, port, join(work, `${kind}-1`, 'certs')));
      await agent.waitFor('a successful reload', (l) => l.event === 'reload' && l.ok === true);
      targets.push({ name: kind, port });
    }
    const clientAgent = await startAgent('client-1', 'client', await freePort());
    await clientAgent.waitFor('the client files', (l) => l.event === 'files-written');
    client = new Client(join(work, 'client-1', 'certs'));
    client.start(targets, 150);
    await waitFor('calls through both proxies', () => targets.every((t) => (client!.ok.get(t.name) ?? 0) >= 2)).catch(
      (err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(client!.failures.slice(-3))}`);
      },
    );
    assert.deepEqual(
      targets.map((t) => client!.seen.get(t.name)),
      ['spiffe://default/nginx', 'spiffe://default/haproxy'],
    );

    for (const service of ['web', 'api', 'db']) {
      const name = `${service}-1`;
      const token = (await call('POST', '/tokens/dataplane', { name, mesh: 'default', validFor: '1h' })).body as string;
      const dataplane = {
        type: 'Dataplane' as const,
        mesh: 'default',
        name,
        labels: { 'kuma.io/workload': service },
        networking: { address: '127.0.0.1', inbound: [{ port: 1, tags: { 'kuma.io/service': service } }] },
      };
      fleet.add(
        { name, service, csr: service !== 'db' },
        {
          clock: systemClock,
          cpAddress: cp.baseUrl,
          token: () => token,
          dataplane,
          outputDir: join(work, 'fleet', name),
          pollWaitMs: 20_000,
          reissueDelayMs: 300,
        },
      );
    }
    await fleet.start();
    fleet.startTraffic(200);
    await waitFor('traffic between the fleet', () => [...fleet.handshakes().values()].every((ok) => ok >= 3));

    // HAProxy's reload now fails: its agent cannot acknowledge the bundle that brings the new CA.
    const haproxyScript = join(work, 'haproxy-reload.sh');
    writeFileSync(haproxyScript, 'echo "haproxy: [ALERT] simulated reload failure" >&2\nexit 1\n');
    assert.equal(
      (await call('PUT', '/meshes/default/meshidentities/identity-1', identity('identity-1', {}))).status,
      201,
    );
    // Selecting every dataplane is refused until they trust the new CA; once nginx and the client have, it names HAProxy.
    await waitFor(
      'the refusal to name only haproxy-1',
      async () => {
        const early = await call(
          'PUT',
          '/meshes/default/meshidentities/identity-1',
          identity('identity-1', { dataplane: {} }),
        );
        assert.equal(early.status, 409, JSON.stringify(early.body));
        assert.match(causes(early.body), /cannot select 6 active dataplanes yet/);
        return /1 active dataplane does not trust its CA yet \(no acknowledged trust bundle with it\): haproxy-1\./.test(
          causes(early.body),
        );
      },
      30_000,
    );
    const earlyOff = await call('PUT', '/meshes/default', { type: 'Mesh', name: 'default' });
    assert.equal(earlyOff.status, 409);
    assert.match(causes(earlyOff.body), /haproxy-1/);

    // Fixed: selecting every dataplane passes once HAProxy has reloaded; mTLS goes off once all three re-issued.
    writeFileSync(haproxyScript, scripts.get('haproxy')!);
    await stepWhenAllowed('identity-1 to select every dataplane', () =>
      call('PUT', '/meshes/default/meshidentities/identity-1', identity('identity-1', { dataplane: {} })),
    );
    const offRefusals = await stepWhenAllowed('Mesh.mtls to go', () =>
      call('PUT', '/meshes/default', { type: 'Mesh', name: 'default' }),
    );
    for (const refusal of offRefusals)
      assert.match(
        refusal,
        /cannot disable mTLS yet: \d active dataplanes? still holds? a certificate from the Mesh.mtls backend "ca-1"/,
      );
    await waitFor(
      'both proxies to present their identity',
      () => targets.every((t) => client!.seen.get(t.name) === `spiffe://${TRUST_DOMAIN}/workload/${t.name}`),
      45_000,
    );
    const facts = (await call('GET', '/meshes/default/dataplanes/haproxy-1/_certificate-facts')).body;
    assert.equal(facts.issuedBackend, 'kri_mid_default_default__identity-1_');

    // A rotation inside the new model: a second identity (same trust domain) selecting nothing, then winning by name.
    assert.equal(
      (await call('PUT', '/meshes/default/meshidentities/a-identity-2', identity('a-identity-2', {}))).status,
      201,
    );
    await stepWhenAllowed('a-identity-2 to select every dataplane', () =>
      call('PUT', '/meshes/default/meshidentities/a-identity-2', identity('a-identity-2', { dataplane: {} })),
    );
    assert.equal((await call('DELETE', '/meshes/default/meshidentities/identity-1')).status, 200);
    await stepWhenAllowed('the old MeshTrust to go', () => call('DELETE', '/meshes/default/meshtrusts/identity-1'));
    // Both proxies serve a certificate from identity-2's CA (the only CA left in the mesh's trust), as their facts say.
    const trust = (await call('GET', '/meshes/default/meshtrusts/a-identity-2')).body;
    const ca = new X509Certificate(trust.spec.caBundles[0].pem.value);
    for (const t of targets) {
      const certs = join(work, `${t.name}-1`, 'certs');
      const served = new X509Certificate(readFileSync(join(realpathSync(join(certs, '..data')), 'cert.pem')));
      assert.ok(
        served.checkIssued(ca) && served.verify(ca.publicKey),
        `${t.name} holds a certificate from identity-2's CA`,
      );
      assert.equal(
        (await call('GET', `/meshes/default/dataplanes/${t.name}-1/_certificate-facts`)).body.issuedBackend,
        'kri_mid_default_default__a-identity-2_',
      );
    }
    const bundle = (await call('GET', '/meshes/default/dataplanes/nginx-1/trust-bundle')).body;
    assert.deepEqual(
      bundle.supportedBackends,
      ['meshtrust/a-identity-2'],
      'neither ca-1 nor identity-1 is trusted any more',
    );
    const okNow = new Map(client.ok);
    await waitFor('traffic on the final bundle', () =>
      targets.every((t) => client!.ok.get(t.name)! >= okNow.get(t.name)! + 3),
    );
    const counts = Object.fromEntries(client.ok);
    console.log(`cut-over and rotation: successful calls ${JSON.stringify(counts)}, failed ${client.failures.length}`);
    assert.deepEqual(client.failures, []);
    const fleetOk = fleet.handshakes();
    await waitFor('the fleet on the final bundle', () =>
      [...fleet.handshakes()].every(([n, ok]) => ok >= fleetOk.get(n)! + 3),
    );
    console.log(`agent fleet: ${JSON.stringify(fleet.totals())}`);
    assert.deepEqual(fleet.failures(), []);
    assert.equal(fleet.totals().failed, 0);
    assert.deepEqual(fleet.wrongPeers, []);
    const ids = fleet.events.filter((e) => e.event === 'call' && e.ok === true).map((e) => String(e.peerId));
    assert.ok(
      ids.some((id) => id.startsWith('spiffe://default/')) &&
        ids.some((id) => id.startsWith(`spiffe://${TRUST_DOMAIN}/`)),
      'peers verified under both models',
    );
  });
});
