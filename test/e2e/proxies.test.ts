// Issue 12's proof with the proxies people run: real nginx and HAProxy serve mutual TLS from meshcp-dp output
// directories (with --reload-command), and a client whose files a third agent manages calls both several times a
// second through the rotation guide (add ca-2, `meshctl rotate --to ca-2`) with zero failed handshakes. Then a
// second rotation with HAProxy's reload command failing: enabling the new backend is refused naming that
// dataplane, both proxies keep answering, and once the command is fixed the rotation completes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { stringify as stringifyYaml, parse as parseYaml } from 'yaml';
import Database from 'better-sqlite3';
import { spiffeIdentityCheck } from '../../src/agent/tls.js';
import { normalizeSerial } from '../../src/store/facts-store.js';
import { startCpProcess, type CpProcess } from '../helpers/cp-process.js';
import { freePort, Proc } from '../helpers/processes.js';
import { startProxy, type RealProxy } from '../helpers/proxies.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MESHCTL = join(ROOT, 'bin/meshctl.js');
const MESHCP_DP = join(ROOT, 'bin/meshcp-dp.js');
const RELOAD_AND_WAIT = join(ROOT, 'examples/proxies/reload-and-wait.sh');
const manifest = (file: string) => readFileSync(join(ROOT, 'examples', file), 'utf8');

let work: string;
let cp: CpProcess;
let env: NodeJS.ProcessEnv;
const agents = new Map<string, Proc>();
const proxies = new Map<string, RealProxy>();
let client: Client | undefined;

async function call(method: string, path: string, body?: string | object) {
  const isText = typeof body === 'string';
  const res = await fetch(cp.baseUrl + path, {
    method,
    headers: {
      authorization: `Bearer ${env.MESHCP_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': isText ? 'application/yaml' : 'application/json' }),
    },
    body: body === undefined ? undefined : isText ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text && (res.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(text) : text,
    retryAfter: res.headers.get('retry-after'),
  };
}

function meshctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MESHCTL, ...args], { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A reload command the test can break and fix: a script the agent runs afresh every time. */
function reloadScript(name: string, proxyDir: string, signal: string): string {
  const script = join(work, `${name}-reload.sh`);
  writeFileSync(script, `exec sh ${RELOAD_AND_WAIT} ${join(proxyDir, `${name}.pid`)} ${signal} 5\n`);
  return script;
}

async function startAgent(name: string, service: string, port: number, reloadCommand?: string): Promise<Proc> {
  const token = await call('POST', '/tokens/dataplane', { name, mesh: 'default', validFor: '1h' });
  assert.equal(token.status, 200);
  const tokenFile = join(work, `${name}.token`);
  writeFileSync(tokenFile, token.body);
  // prettier-ignore
  const args = [
    MESHCP_DP,
    '--cp-address',
    cp.baseUrl,
    '--name',
    name,
    '--mesh',
    'default',
    '--address',
    '127.0.0.1',
    '--inbound',
    `${port}:8080:${service}`,
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
  const proc = new Proc(name, spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  agents.set(name, proc);
  return proc;
}

/**
 * The mesh client: before every call it reads its certificate, key and bundle from the peer agent's output dir
 * (resolving `..data` once, so the pair is consistent), dials the proxy over mTLS, checks the proxy's SPIFFE ID and
 * makes an HTTP request. A refused client certificate (TLS 1.3 reports it after the handshake) counts as a failure.
 */
class Client {
  ok = new Map<string, number>();
  failures: { proxy: string; at: string; error: string }[] = [];
  private running = true;
  private loops: Promise<void>[] = [];

  constructor(private readonly certDir: string) {}

  start(targets: { name: string; service: string; port: number; body: string }[], everyMs: number) {
    this.loops = targets.map(async (target) => {
      while (this.running) {
        const outcome = await this.callOnce(target).then(
          () => undefined,
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

  callOnce(target: { service: string; port: number; body: string }): Promise<{ issuerCn: string; serial: string }> {
    const version = realpathSync(join(this.certDir, '..data'));
    const read = (f: string) => readFileSync(join(version, f), 'utf8');
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: target.port,
        cert: read('cert.pem'),
        key: read('key.pem'),
        ca: read('ca.pem'),
        checkServerIdentity: spiffeIdentityCheck('default', target.service),
      });
      let response = '';
      let issuerCn = '';
      let serial = '';
      socket.setTimeout(5_000, () => socket.destroy(new Error('timeout')));
      socket.once('secureConnect', () => {
        const peer = socket.getPeerCertificate();
        issuerCn = String((peer.issuer as unknown as Record<string, string>)?.CN ?? '');
        serial = peer.serialNumber;
        socket.write('GET / HTTP/1.0\r\nHost: mesh\r\n\r\n');
      });
      socket.on('data', (chunk) => (response += chunk));
      socket.once('error', reject);
      socket.once('end', () => {
        if (/^HTTP\/1\.[01] 200 /.test(response) && response.includes(target.body)) resolve({ issuerCn, serial });
        else reject(new Error(`unexpected answer: ${JSON.stringify(response.slice(0, 200))}`));
      });
    });
  }
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'meshcp-proxies-e2e-'));
  cp = await startCpProcess();
  env = {
    ...process.env,
    MESHCP_ADDRESS: cp.baseUrl,
    MESHCP_TOKEN: readFileSync(join(cp.dataDir, 'admin-token'), 'utf8').trim(),
    MESHCTL_CONFIG: '',
  };
  delete env.NODE_OPTIONS;
});

after(async () => {
  await client?.stop();
  await Promise.all([...proxies.values()].map((p) => p.stop()));
  await Promise.all([...agents.values()].map((a) => a.stop()));
  await cp?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('nginx and HAProxy serve mTLS from meshcp-dp files through CA rotations', { timeout: 120_000 }, () => {
  const targets: { name: string; service: string; port: number; body: string }[] = [];
  let haproxyReload: string;
  let haproxyDir: string;

  test('the guide (add ca-2, meshctl rotate --to ca-2) with zero failed handshakes', async () => {
    // Step 0 and ca-2's secrets, as in the guide.
    const ca2 = join(work, 'ca-2');
    await new Promise<void>((resolve, reject) =>
      // prettier-ignore
      execFile(
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
          '30',
          '-subj',
          '/CN=ca-2',
          '-addext',
          'basicConstraints=critical,CA:TRUE',
          '-addext',
          'keyUsage=critical,keyCertSign,cRLSign',
          '-keyout',
          `${ca2}.key`,
          '-out',
          `${ca2}.crt`,
        ],
        (err) => (err ? reject(err) : resolve()),
      ),
    );
    for (const [file, pem] of [
      ['secret-ca-2-cert.yaml', `${ca2}.crt`],
      ['secret-ca-2-key.yaml', `${ca2}.key`],
    ]) {
      const doc = parseYaml(manifest(file));
      doc.data = readFileSync(pem).toString('base64');
      assert.equal((await call('PUT', `/meshes/default/secrets/${doc.name}`, stringifyYaml(doc))).status, 201);
    }
    assert.equal((await call('PUT', '/meshes/default', manifest('0-mesh-ca-1.yaml'))).status, 200);

    // Two proxy dataplanes whose agents reload them, and the client's agent (no proxy: it reads its files per call).
    for (const [kind, signal] of [
      ['nginx', 'HUP'],
      ['haproxy', 'USR2'],
    ] as const) {
      const port = await freePort();
      const dir = join(work, kind);
      mkdirSync(dir, { recursive: true });
      const script = reloadScript(kind, dir, signal);
      if (kind === 'haproxy') [haproxyReload, haproxyDir] = [script, dir];
      const agent = await startAgent(`${kind}-1`, kind, port, `sh ${script}`);
      // The agent publishes the first file set, then its reload fails until the proxy runs: nothing is acknowledged.
      await agent.waitFor('the first file set', (l) => l.event === 'files-written');
      proxies.set(kind, await startProxy(kind, dir, port, join(work, `${kind}-1`, 'certs')));
      await agent.waitFor('a successful reload', (l) => l.event === 'reload' && l.ok === true);
      targets.push({ name: kind, service: kind, port, body: `${kind} ok` });
    }
    const clientAgent = await startAgent('client-1', 'client', await freePort());
    await clientAgent.waitFor('the client files', (l) => l.event === 'files-written');
    await waitFor(
      'every dataplane to acknowledge the ca-1 bundle',
      async () => (await call('GET', '/meshes/default/ca-rotation')).body.backends[0].dataplanesTrusting === 3,
    );

    client = new Client(join(work, 'client-1', 'certs'));
    const before = Date.now();
    client.start(targets, 150);
    await waitFor('calls through both proxies', () => targets.every((t) => (client!.ok.get(t.name) ?? 0) >= 2));

    assert.equal((await call('PUT', '/meshes/default', manifest('1-add-ca-2.yaml'))).status, 200);
    const rotate = await meshctl(
      'rotate',
      '--mesh',
      'default',
      '--to',
      'ca-2',
      '--timeout',
      '45s',
      '--interval',
      '300ms',
    );
    assert.equal(rotate.code, 0, rotate.stdout + rotate.stderr);
    assert.match(rotate.stdout, /✓ enabled ca-2[^]*✓ removed ca-1\n✓ rotation to ca-2 complete/);
    await sleep(500); // traffic on the final bundle (ca-2 only) too

    // Both proxies now serve ca-2 certificates, loaded by their reloads, and the control plane's record of what each
    // serves (reported by its agent after the reload) is exactly the certificate a peer sees.
    const db = new Database(join(cp.dataDir, 'meshcp.db'), { readonly: true });
    try {
      for (const target of targets) {
        const seen = await client.callOnce(target);
        assert.equal(seen.issuerCn, 'ca-2', target.name);
        const facts = db
          .prepare('SELECT served_serial AS serial, served_backend AS backend FROM dataplane_facts WHERE name = ?')
          .get(`${target.name}-1`);
        assert.deepEqual(facts, { serial: normalizeSerial(seen.serial), backend: 'ca-2' }, target.name);
      }
    } finally {
      db.close();
    }
    const seconds = (Date.now() - before) / 1000;
    const counts = Object.fromEntries(client.ok);
    console.log(
      `proxies, rotation to ca-2 in ${seconds.toFixed(1)} s: successful calls ${JSON.stringify(counts)}, failed ${client.failures.length}`,
    );
    assert.deepEqual(client.failures, []);
    for (const target of targets)
      assert.ok(client.ok.get(target.name)! >= seconds * 2, `${target.name}: several calls a second`);
    for (const kind of ['nginx', 'haproxy']) {
      const reloads = agents.get(`${kind}-1`)!.lines.filter((l) => l.event === 'reload' && l.ok === true).length;
      assert.ok(
        reloads >= 3,
        `${kind}: reloaded for the new bundle, the ca-2 certificate and the final bundle (${reloads})`,
      );
    }
  });

  test('a failing reload holds the next step back, naming that dataplane; fixed, the rotation completes', async () => {
    assert.ok(client, 'runs after the guide');
    const failuresBefore = client.failures.length;
    const okBefore = new Map(client.ok);
    writeFileSync(haproxyReload, 'echo "haproxy: [ALERT] simulated reload failure" >&2\nexit 1\n');

    // Step 1 of a second rotation: add a builtin ca-3.
    const mesh = (await call('GET', '/meshes/default')).body;
    const { creationTime: _c, modificationTime: _m, ...spec } = mesh;
    spec.mtls.backends.push({ name: 'ca-3', type: 'builtin' });
    assert.equal((await call('PUT', '/meshes/default', spec)).status, 200);
    const haproxyAgent = agents.get('haproxy-1')!;
    const failed = await haproxyAgent.waitFor(
      'the failed reload',
      (l) => l.event === 'reload' && l.ok === false && String(l.output).includes('simulated'),
    );
    assert.deepEqual(
      [failed.exitCode, failed.timedOut, failed.output],
      [1, false, 'haproxy: [ALERT] simulated reload failure'],
    );
    await waitFor('nginx and the client to trust ca-3', async () => {
      const ca3 = (await call('GET', '/meshes/default/ca-rotation')).body.backends.find((b: any) => b.name === 'ca-3');
      return ca3?.dataplanesTrusting === 2;
    });

    const enable = await call('PUT', '/meshes/default', { ...spec, mtls: { ...spec.mtls, enabledBackend: 'ca-3' } });
    assert.equal(enable.status, 409, JSON.stringify(enable.body));
    assert.match(
      enable.body.causes[0].message,
      /cannot enable backend "ca-3" yet: 1 active dataplane does not trust it yet[^]*: haproxy-1$/,
    );
    assert.ok(Number(enable.retryAfter) > 0);
    const waiting = await meshctl(
      'rotate',
      '--mesh',
      'default',
      '--to',
      'ca-3',
      '--timeout',
      '1s',
      '--interval',
      '300ms',
    );
    assert.notEqual(waiting.code, 0);
    assert.match(waiting.stdout + waiting.stderr, /haproxy-1/);
    await sleep(600);
    for (const t of targets) assert.ok(client.ok.get(t.name)! > okBefore.get(t.name)!, `${t.name} keeps answering`);
    const retries = haproxyAgent.lines.filter(
      (l) => l.event === 'error' && l.during === 'reload' && String(l.message).includes('simulated'),
    );
    assert.ok(retries.length >= 2, 'retried');
    assert.ok(Number(retries[1].retryInMs) > Number(retries[0].retryInMs), 'with backoff');

    // The operator fixes the command: the agent's next retry reloads, acknowledges, and the rotation completes.
    writeFileSync(haproxyReload, `exec sh ${RELOAD_AND_WAIT} ${join(haproxyDir, 'haproxy.pid')} USR2 5\n`);
    const rotate = await meshctl(
      'rotate',
      '--mesh',
      'default',
      '--to',
      'ca-3',
      '--timeout',
      '45s',
      '--interval',
      '300ms',
    );
    assert.equal(rotate.code, 0, rotate.stdout + rotate.stderr);
    assert.match(rotate.stdout, /✓ rotation to ca-3 complete/);
    await sleep(500);
    for (const target of targets) assert.match((await client.callOnce(target)).issuerCn, /ca-3|default/, target.name);
    const counts = Object.fromEntries([...client.ok].map(([k, v]) => [k, v - okBefore.get(k)!]));
    console.log(
      `proxies, rotation to ca-3 with a failing reload: successful calls ${JSON.stringify(counts)}, failed ${client.failures.length - failuresBefore}`,
    );
    assert.deepEqual(client.failures, []);
  });
});
