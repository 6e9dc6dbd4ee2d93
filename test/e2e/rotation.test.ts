// THE proof of issue 4: the real control plane process, six dataplane agents in three services talking mutual TLS
// to each other the whole time, and an operator walking the CA rotation guide with its exact manifests. Every step
// taken too soon is refused, every step passes once it is safe, and not one handshake between agents fails.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { Agent, opensslCsr, uriSans, type Peer } from '../helpers/agent.js';
import { startCpProcess, type CpProcess } from '../helpers/cp-process.js';

const EXAMPLES = new URL('../../examples/', import.meta.url);
const manifest = (file: string) => readFileSync(new URL(file, EXAMPLES), 'utf8');
const STEP = ['0-mesh-ca-1.yaml', '1-add-ca-2.yaml', '2-enable-ca-2.yaml', '3-remove-ca-1.yaml'].map(manifest);

const DATAPLANES = [
  { name: 'web-1', service: 'web', csr: false },
  { name: 'web-2', service: 'web', csr: true },
  { name: 'api-1', service: 'api', csr: false },
  { name: 'api-2', service: 'api', csr: true },
  { name: 'db-1', service: 'db', csr: false },
  { name: 'db-2', service: 'db', csr: true },
];
const ALL_NAMES = DATAPLANES.map((d) => d.name).sort();

interface Answer {
  status: number;
  body: any;
  retryAfter: string | null;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

const started = Date.now();
const trace = (what: string) => {
  if (process.env.MESHCP_E2E_TRACE) console.error(`[${((Date.now() - started) / 1000).toFixed(2)}s] ${what}`);
};

/** The names a rotation 409 lists, without a trailing "and N more". */
const namesIn = (message: string) => message.slice(message.lastIndexOf(': ') + 2).replace(/ and \d+ more$/, '').split(', ').sort();

test('CA rotation walked with the guide\'s manifests under live mTLS traffic: refused too soon, zero failed handshakes', { timeout: 120_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'meshcp-rotation-e2e-'));
  let cp: CpProcess | undefined;
  const agents: Agent[] = [];
  let rogue: tls.Server | undefined;
  try {
    cp = await startCpProcess();
    const base = cp.baseUrl;
    const call = async (method: string, path: string, body?: string | object, headers: Record<string, string> = {}): Promise<Answer> => {
      const isText = typeof body === 'string';
      const res = await fetch(base + path, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': isText ? 'application/yaml' : 'application/json' }), ...headers },
        body: body === undefined ? undefined : isText ? body : JSON.stringify(body),
      });
      const text = await res.text();
      const json = (res.headers.get('content-type') ?? '').startsWith('application/json');
      return { status: res.status, body: json ? JSON.parse(text) : text, retryAfter: res.headers.get('retry-after') };
    };
    const rotation = async () => {
      const res = await call('GET', '/meshes/default/ca-rotation');
      assert.equal(res.status, 200);
      return res.body;
    };
    /** What a dry run must leave alone (agents keep acknowledging and renewing, so fleet counts may move). */
    const durableState = async () => {
      const status = await rotation();
      return {
        mesh: (await call('GET', '/meshes/default')).body,
        bundleVersion: status.bundleVersion,
        backends: status.backends.map((b: any) => [b.name, b.rootFingerprint]),
        secrets: (await call('GET', '/meshes/default/secrets')).body.items.map((s: any) => [s.name, s.modificationTime]),
      };
    };
    /**
     * Each step is sent as a dry run first, then for real: same status, body and Retry-After, and the dry run writes
     * nothing. A refused step is sent back-to-back (agents keep acknowledging and re-issuing, which can change the
     * answer from one moment to the next); a passing one is checked for writes before the real step changes things.
     */
    const dryRunThenPut = async (yaml: string): Promise<Answer> => {
      const before = await durableState();
      const dry = await call('PUT', '/meshes/default?dryRun=true', yaml);
      if (dry.status === 200) assert.deepEqual(await durableState(), before, 'the dry run changed nothing');
      const real = await call('PUT', '/meshes/default', yaml);
      if (dry.status === 409 && real.status === 409 && JSON.stringify(dry) !== JSON.stringify(real)) {
        // The fleet moved between the two calls (an agent acknowledged or re-issued): the same refusal, and
        // the dataplanes still waited for are a subset of those the dry run named a moment before.
        const reasons = (a: Answer) => a.body.invalid_parameters.map((p: any) => [p.field, p.reason.slice(0, p.reason.indexOf(' yet: '))]);
        assert.deepEqual(reasons(real), reasons(dry), 'the same rule refused both');
        assert.equal(real.retryAfter, dry.retryAfter);
        const dryNames = new Set(namesIn(dry.body.invalid_parameters[0].reason));
        for (const name of namesIn(real.body.invalid_parameters[0].reason)) assert.ok(dryNames.has(name), `${name} was named by the dry run too`);
      } else {
        assert.deepEqual(dry, real, 'the dry run answered exactly as the real step');
      }
      if (real.status !== 200) assert.deepEqual(await durableState(), before, 'neither the dry run nor the refused step changed anything');
      return real;
    };
    /** Successful handshakes per agent so far, to show traffic flowed through every phase of the rotation. */
    const handshakesSoFar = () => new Map(agents.map((a) => [a.name, a.stats.ok]));
    const phases: [string, Map<string, number>][] = [];
    const phase = (label: string) => phases.push([label, handshakesSoFar()]);

    // --- The provided CA, made by openssl as the example secrets describe, and its secrets PUT first.
    trace('provided CA and its secrets');
    const ca2Key = join(work, 'ca-2.key');
    const ca2Crt = join(work, 'ca-2.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '3650',
      '-subj', '/CN=ca-2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout', ca2Key, '-out', ca2Crt], { stdio: 'ignore' });
    const ca2Root = new X509Certificate(readFileSync(ca2Crt));
    for (const [file, pemFile] of [['secret-ca-2-cert.yaml', ca2Crt], ['secret-ca-2-key.yaml', ca2Key]]) {
      const filled = manifest(file).replace(/"<base64 of ca-2\.(crt|key)>"/, readFileSync(pemFile).toString('base64'));
      const secret = parseYaml(filled);
      const res = await call('PUT', `/meshes/default/secrets/${secret.name}`, filled);
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }

    // --- Step 0: mTLS with the builtin ca-1.
    trace('step 0');
    assert.deepEqual(await dryRunThenPut(STEP[0]), { status: 200, body: {}, retryAfter: null });

    // --- Six dataplanes in three services, each with its own token, each an agent (three of them with CSRs).
    trace('dataplanes and agents');
    const example = parseYaml(manifest('dataplane-web-1.yaml'));
    for (const [i, dp] of DATAPLANES.entries()) {
      const resource = structuredClone(example);
      resource.name = dp.name;
      resource.networking.inbound[0].port = 20001 + i;
      resource.networking.inbound[0].tags['kuma.io/service'] = dp.service;
      assert.equal((await call('PUT', `/meshes/default/dataplanes/${dp.name}`, resource)).status, 201);
      const token = await call('POST', '/tokens/dataplane', { name: dp.name, mesh: 'default', validFor: '1h' });
      assert.equal(token.status, 200);
      agents.push(
        new Agent({
          cpUrl: base,
          mesh: 'default',
          name: dp.name,
          service: dp.service,
          token: token.body,
          csr: dp.csr ? await opensslCsr(dp.name) : undefined,
          // Holding acknowledgements back a little makes "refused right after" deterministic; the CP is not faked.
          ackDelayMs: [1_000, 2_500],
          reissueDelayMs: [600, 1_500],
          // Two agents also renew on their own every few seconds, swapping certificates under traffic.
          renewEveryMs: dp.name.endsWith('-1') && dp.service !== 'db' ? 3_000 : undefined,
          pollWait: '20s',
        }),
      );
    }
    await Promise.all(agents.map((a) => a.start()));
    trace('agents started');
    const peersOf = (me: Agent): Peer[] => agents.filter((a) => a !== me).map((a) => ({ name: a.name, service: a.service, port: a.port }));
    const peer = (name: string): Peer => {
      const a = agents.find((x) => x.name === name)!;
      return { name: a.name, service: a.service, port: a.port };
    };
    const agent = (name: string) => agents.find((a) => a.name === name)!;

    let status = await waitFor('every agent to acknowledge the ca-1 bundle', async () => {
      const s = await rotation();
      return s.backends[0].dataplanesTrusting === 6 ? s : undefined;
    });
    assert.equal(status.activeDataplanes, 6);
    assert.deepEqual(status.backends.map((b: any) => [b.name, b.dataplanesIssued, b.dataplanesTrusting]), [['ca-1', 6, 6]]);
    assert.deepEqual(status.nextStep, { action: 'none', ready: true, description: 'no CA rotation in progress' });
    const bundleV0 = agent('web-1').bundlePem;

    // A ca-1 certificate kept from before the rotation; it works now (so the later refusal is not vacuous).
    const leftover = agent('web-1').certificates[0];
    assert.equal(leftover.backend, 'ca-1');
    const leftoverMaterial = { certPem: leftover.certPem, keyPem: leftover.keyPem };
    // Probes are not agent traffic: they do not count as handshakes, and the listener refusals they cause are expected.
    const rejections = () => agents.flatMap((a) => a.serverRejections.map((r) => ({ ...r, agent: a.name })));
    const probe = (from: string, to: Peer, material?: Parameters<Agent['tryConnect']>[1]) => agent(from).tryConnect(to, material);
    const before = await probe('web-2', peer('api-1'), leftoverMaterial);
    assert.deepEqual([before.ok, before.detail], [true, 'ok']);
    // The SPIFFE check is real: a peer that is not the expected service is refused.
    const wrongService = await probe('web-1', { ...peer('api-1'), service: 'db' });
    assert.equal(wrongService.ok, false);
    assert.match(wrongService.detail, /is not spiffe:\/\/default\/db/);
    // The client hangs up on api-1 at the end of the handshake; api-1's listener may report that, which is expected.
    await sleep(300);
    const expectedRejections = rejections().length + 1; // ... plus the ca-1 client refused after step 3
    assert.ok(expectedRejections <= 2, JSON.stringify(rejections()));

    // --- Traffic: every agent keeps connecting to every other agent until the end.
    trace('traffic');
    for (const a of agents) a.startTraffic(peersOf(a), 40);
    await waitFor('traffic between every pair', () => agents.every((a) => a.stats.ok >= 10) || undefined);

    // --- Step 1: add ca-2. Step 2 right after it is refused, naming the agents that have not acknowledged ca-2.
    trace('step 1, then step 2 too soon');
    assert.deepEqual(await dryRunThenPut(STEP[1]), { status: 200, body: {}, retryAfter: null });
    phase('between step 1 and step 2');
    const refused2 = await dryRunThenPut(STEP[2]);
    assert.equal(refused2.status, 409, JSON.stringify(refused2.body));
    assert.equal(refused2.retryAfter, '5');
    assert.deepEqual(refused2.body.invalid_parameters.map((p: any) => p.field), ['mtls.enabledBackend']);
    const message2 = refused2.body.invalid_parameters[0].reason as string;
    assert.match(message2, /^cannot enable backend "ca-2" yet: 6 active dataplanes do not trust it yet/);
    assert.deepEqual(namesIn(message2), ALL_NAMES);
    status = await rotation();
    const v1 = status.bundleVersion;
    for (const name of namesIn(message2)) assert.notEqual(agent(name).releasedVersion, v1, `${name} had not acknowledged ca-2`);
    assert.deepEqual([status.nextStep.action, status.nextStep.backend, status.nextStep.ready], ['enable', 'ca-2', false]);
    assert.deepEqual([...status.nextStep.waitingFor.names].sort(), ALL_NAMES);

    // ... and it passes once they have. Meanwhile the status never counts an agent as trusting before it installed ca-2.
    status = await waitFor('every agent to acknowledge ca-2', async () => {
      const s = await rotation();
      const waiting = new Set<string>(s.nextStep.waitingFor?.names ?? []);
      for (const a of agents) {
        if (!waiting.has(a.name)) assert.ok(a.bundles.includes(v1), `${a.name} counted as trusting ca-2 only after installing it`);
      }
      return s.nextStep.action === 'enable' && s.nextStep.ready ? s : undefined;
    });
    assert.equal(status.backends.find((b: any) => b.name === 'ca-2').dataplanesTrusting, 6);
    for (const a of agents) {
      assert.ok(a.bundleRoots().some((root) => root.fingerprint256 === ca2Root.fingerprint256), `${a.name} holds ca-2's root`);
    }
    assert.deepEqual(await dryRunThenPut(STEP[2]), { status: 200, body: {}, retryAfter: null });
    phase('between step 2 and step 3');

    // --- Step 3 right after step 2 is refused while agents still hold ca-1 certificates.
    trace('step 3 too soon');
    const holdingCa1 = new Set(agents.filter((a) => a.issuedBackend === 'ca-1').map((a) => a.name));
    const certCounts = new Map(agents.map((a) => [a.name, a.certificates.length]));
    const refused3 = await dryRunThenPut(STEP[3]);
    assert.equal(refused3.status, 409, JSON.stringify(refused3.body));
    assert.equal(refused3.retryAfter, '5');
    assert.deepEqual(refused3.body.invalid_parameters.map((p: any) => p.field), ['mtls.backends']);
    const message3 = refused3.body.invalid_parameters[0].reason as string;
    assert.match(message3, /^cannot remove backend "ca-1" yet: \d active dataplanes? still holds? a certificate issued by it: /);
    const named3 = namesIn(message3);
    await sleep(100); // let any renewal that was in flight land on the agent
    for (const name of named3) assert.ok(holdingCa1.has(name), `${name} held a ca-1 certificate`);
    for (const name of holdingCa1) {
      if (!named3.includes(name)) assert.ok(agent(name).certificates.length > certCounts.get(name)!, `${name} is not named only because it renewed`);
    }
    status = await rotation();
    assert.deepEqual([status.nextStep.action, status.nextStep.backend], ['remove', 'ca-1']);
    // Holders only ever go down: what the status waits for is within what the 409 named a moment before.
    for (const name of status.nextStep.waitingFor.names) assert.ok(named3.includes(name), `${name} waited for and named`);

    // ... and it passes once all have re-issued; the status agrees with what the agents hold.
    status = await waitFor('every agent to re-issue from ca-2', async () => {
      const s = await rotation();
      return s.nextStep.action === 'remove' && s.nextStep.ready ? s : undefined;
    });
    assert.deepEqual(status.backends.map((b: any) => [b.name, b.dataplanesIssued]), [['ca-1', 0], ['ca-2', 6]]);
    await waitFor('agents to install their ca-2 certificates', () => agents.every((a) => a.issuedBackend === 'ca-2') || undefined, 2_000);
    for (const a of agents) {
      const cert = new X509Certificate(a.certPem);
      assert.ok(cert.checkIssued(ca2Root) && cert.verify(ca2Root.publicKey), `${a.name}'s certificate is signed by ca-2`);
      assert.ok(uriSans(cert).includes(`spiffe://default/${a.service}`));
    }
    assert.deepEqual(await dryRunThenPut(STEP[3]), { status: 200, body: {}, retryAfter: null });
    phase('after step 3');

    // --- After step 3 every bundle holds only ca-2's root.
    trace('after step 3');
    status = await rotation();
    assert.deepEqual(status.backends.map((b: any) => b.name), ['ca-2']);
    assert.deepEqual(status.nextStep, { action: 'none', ready: true, description: 'no CA rotation in progress' });
    const v3 = status.bundleVersion;
    await waitFor('every agent to install and acknowledge the ca-2-only bundle', async () => {
      const s = await rotation();
      return (agents.every((a) => a.releasedVersion === v3) && s.backends[0].dataplanesTrusting === 6) || undefined;
    });
    for (const a of agents) {
      assert.deepEqual(a.bundleRoots().map((r) => r.fingerprint256), [ca2Root.fingerprint256], `${a.name}'s bundle`);
      const served = await fetch(`${base}/meshes/default/dataplanes/${a.name}/trust-bundle`, {
        headers: { authorization: `Bearer ${a.options.token}` },
      });
      const body = (await served.json()) as { supportedBackends: string[]; reissue: boolean };
      assert.deepEqual([body.supportedBackends, body.reissue], [['ca-2'], false]);
    }

    // --- A leftover ca-1 certificate is now rejected by a peer, in both directions.
    trace('leftover ca-1 certificate');
    const asClient = await probe('web-2', peer('api-1'), leftoverMaterial);
    assert.equal(asClient.ok, false, 'api-1 refuses a client presenting the ca-1 certificate');
    const refusal = await waitFor('api-1 to report the refused client', () => agent('api-1').serverRejections.find((r) => r.authorizationError), 2_000);
    assert.match(refusal.authorizationError!, /ISSUER|UNABLE_TO|CERT/);
    trace(`api-1 refused the leftover ca-1 client: ${refusal.authorizationError}`);
    rogue = tls.createServer({ key: leftover.keyPem, cert: leftover.certPem }, (socket) => socket.end('web-1 greets spiffe://default/db\n'));
    await new Promise<void>((resolve) => rogue!.listen(0, '127.0.0.1', resolve));
    const roguePeer = { name: 'web-1', service: 'web', port: (rogue.address() as { port: number }).port };
    const asServer = await probe('db-1', roguePeer);
    assert.equal(asServer.ok, false, 'db-1 refuses a server presenting the ca-1 certificate');
    assert.match(asServer.detail, /issuer|certificate/i);
    // Control: with the old ca-1 bundle the same server is accepted, so the refusal is the bundle's doing.
    const control = await agent('db-1').tryConnect(roguePeer, { certPem: agent('db-1').certPem, keyPem: agent('db-1').keyPem, bundlePem: bundleV0 });
    assert.deepEqual([control.ok, control.detail], [true, 'ok']);

    // --- A little more traffic on the final state, then stop everything and count.
    trace('final traffic and counts');
    const okBefore = agents.reduce((n, a) => n + a.stats.ok, 0);
    await waitFor('traffic on the final bundle', () => agents.reduce((n, a) => n + a.stats.ok, 0) >= okBefore + 60 || undefined);
    await Promise.all(agents.map((a) => a.stopActivity()));
    phase('end');

    const ok = agents.reduce((n, a) => n + a.stats.ok, 0);
    const failed = agents.reduce((n, a) => n + a.stats.failed, 0);
    // Only the probes above made a listener drop a handshake: the wrong-service client and the ca-1 client.
    const refused = rejections();
    const serverRejected = refused.length - expectedRejections;
    const failures = [...agents.flatMap((a) => a.stats.failures), ...refused.map((r) => `${r.agent} (listener): ${r.reason} ${r.authorizationError ?? ''}`)];
    const issued = agents.reduce((n, a) => n + a.certificates.length, 0);
    console.log(
      `CA rotation under traffic: ${ok} successful mTLS handshakes between ${agents.length} agents, ${failed} failed, ` +
        `${serverRejected} refused by a server; ${issued} certificates issued; bundles seen per agent: ${agents.map((a) => a.bundles.length).join('/')}`,
    );
    assert.equal(failed, 0, failures.join('\n'));
    assert.equal(serverRejected, 0, failures.join('\n'));
    // Every agent kept talking through every phase of the rotation.
    for (let i = 1; i < phases.length; i++) {
      const [label, counts] = phases[i - 1];
      for (const a of agents) {
        const during = phases[i][1].get(a.name)! - counts.get(a.name)!;
        assert.ok(during >= 3, `${a.name} made ${during} successful handshakes during "${label}"`);
      }
    }
    assert.deepEqual(agents.flatMap((a) => a.stats.cpErrors), [], 'no agent request to the control plane failed');
    for (const a of agents) {
      assert.deepEqual([...new Set(a.certificates.map((c) => c.backend))], ['ca-1', 'ca-2'], `${a.name} went from ca-1 to ca-2 certificates`);
    }
    const cpErrors = cp.logs.filter((l) => l.level >= 50);
    assert.deepEqual(cpErrors, [], 'the control plane logged no error');
  } finally {
    await Promise.allSettled(agents.map((a) => a.close()));
    if (rogue) await new Promise<void>((resolve) => rogue!.close(() => resolve()));
    if (cp) assert.equal(await cp.stop(), 0, 'the control plane shut down cleanly');
    trace('closed');
    rmSync(work, { recursive: true, force: true });
  }
});
