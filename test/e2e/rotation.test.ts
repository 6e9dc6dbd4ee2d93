// THE proof of issue 4, on the shipped agent: the real control plane process, six meshcp-dp agent cores
// (src/agent: DataplaneAgent with its EchoServer and PeerCaller) in three services calling each other over mutual TLS
// the whole time, and an operator walking the CA rotation guide with its exact manifests. Every step taken too soon
// is refused naming the dataplanes it waits for, every dry run answers as the real step, and no handshake fails.
//
// Nothing here waits for time to pass: the agents' proxy reload (--reload-command) is held on a gate file, so "not
// acknowledged yet" and "not reloaded yet" last exactly as long as the test says; the agents' re-issue delay runs on
// a fake clock, so "still holds a certificate issued by ca-1" lasts until the test advances it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { AgentMaterial } from '../../src/agent/agent.js';
import { callOnce, spiffeIdentityCheck, type CallOutcome } from '../../src/agent/tls.js';
import { AgentFleet, rootsOf } from '../helpers/agent-fleet.js';
import { startCpProcess, type CpProcess } from '../helpers/cp-process.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { waitFor } from '../helpers/wait.js';

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
const REISSUE_DELAY_MS = 1_000;

interface Answer {
  status: number;
  body: any;
  retryAfter: string | null;
}

/** The names a 409 reason lists after its last colon, without "(issued by ...)" or a trailing "and N more". */
const namesIn = (reason: string) =>
  reason
    .slice(reason.lastIndexOf(': ') + 2)
    .replace(/ and \d+ more$/, '')
    .split(', ')
    .map((n) => n.replace(/ \(issued by "[^"]+"\)$/, ''))
    .sort();

/** A client handshake that also checks the server is the given service (the agents' callers check the mesh only). */
function callService(
  port: number,
  material: Pick<AgentMaterial, 'certPem' | 'keyPem' | 'caPem'>,
  service: string,
): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      key: material.keyPem,
      cert: material.certPem,
      ca: material.caPem,
      checkServerIdentity: spiffeIdentityCheck('default', service),
    });
    socket.once('secureConnect', () => (socket.destroy(), resolve('ok')));
    socket.once('error', (err) => (socket.destroy(), resolve(err.message)));
  });
}

test("CA rotation walked with the guide's manifests by six shipped agents under live mTLS traffic: refused too soon, zero failed handshakes", {
  timeout: 90_000,
}, async () => {
  const work = mkdtempSync(join(tmpdir(), 'meshcp-rotation-e2e-'));
  const gate = join(work, 'reloads-held');
  const holdReloads = () => writeFileSync(gate, '');
  const releaseReloads = () => unlinkSync(gate);
  const clock = new FakeClock();
  let cp: CpProcess | undefined;
  const fleet = new AgentFleet('default');
  let rogue: tls.Server | undefined;
  try {
    cp = await startCpProcess();
    const base = cp.baseUrl;
    const call = async (method: string, path: string, body?: string | object): Promise<Answer> => {
      const isText = typeof body === 'string';
      const res = await fetch(base + path, {
        method,
        headers: body === undefined ? {} : { 'content-type': isText ? 'application/yaml' : 'application/json' },
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
    const durableState = async () => {
      const status = await rotation();
      return {
        mesh: (await call('GET', '/meshes/default')).body,
        bundleVersion: status.bundleVersion,
        backends: status.backends.map((b: any) => [b.name, b.rootFingerprint]),
        secrets: (await call('GET', '/meshes/default/secrets')).body.items.map((s: any) => [
          s.name,
          s.modificationTime,
        ]),
      };
    };
    /** A dry run first, then the real step: the same status, body and Retry-After; the dry run (and a refusal) write nothing. */
    const dryRunThenPut = async (yaml: string): Promise<Answer> => {
      const before = await durableState();
      const dry = await call('PUT', '/meshes/default?dryRun=true', yaml);
      assert.deepEqual(await durableState(), before, 'the dry run changed nothing');
      const real = await call('PUT', '/meshes/default', yaml);
      assert.deepEqual(dry, real, 'the dry run answered exactly as the real step');
      if (real.status !== 200) assert.deepEqual(await durableState(), before, 'the refused step changed nothing');
      return real;
    };
    const agent = (name: string) => fleet.agents.get(name)!;
    const material = (name: string) => fleet.material(name);
    const phases: [string, Map<string, number>][] = [];
    const phase = (label: string) => phases.push([label, fleet.handshakes()]);
    // Every agent keeps talking through every phase of the rotation: before a phase ends, each one has made at least
    // three successful handshakes since it began (a silent agent makes this wait time out, naming the phase).
    const keptTalking = () => {
      const [label, atStart] = phases[phases.length - 1];
      return waitFor(`every agent to make 3 successful handshakes during "${label}"`, () => {
        const now = fleet.handshakes();
        return ALL_NAMES.every((name) => now.get(name)! - atStart.get(name)! >= 3);
      });
    };

    // --- The provided CA, made by openssl as the example secrets describe, and its secrets PUT first.
    const ca2Key = join(work, 'ca-2.key');
    const ca2Crt = join(work, 'ca-2.crt');
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
        '3650',
        '-subj',
        '/CN=ca-2',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-keyout',
        ca2Key,
        '-out',
        ca2Crt,
      ],
      { stdio: 'ignore' },
    );
    const ca2Root = new X509Certificate(readFileSync(ca2Crt));
    for (const [file, pemFile] of [
      ['secret-ca-2-cert.yaml', ca2Crt],
      ['secret-ca-2-key.yaml', ca2Key],
    ]) {
      const filled = manifest(file).replace(/"<base64 of ca-2\.(crt|key)>"/, readFileSync(pemFile).toString('base64'));
      const res = await call('PUT', `/meshes/default/secrets/${parseYaml(filled).name}`, filled);
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }

    // --- Step 0: mTLS with the builtin ca-1.
    assert.deepEqual(await dryRunThenPut(STEP[0]), { status: 200, body: {}, retryAfter: null });

    // --- Six agents in three services, each with its own token; three send CSRs, three take a CP-made key. Each
    // registers the guide's Dataplane (renamed), writes its file set, and "reloads its proxy" through the gate.
    const example = parseYaml(manifest('dataplane-web-1.yaml'));
    for (const [i, dp] of DATAPLANES.entries()) {
      const resource = structuredClone(example);
      resource.name = dp.name;
      resource.networking.inbound[0].port = 20001 + i;
      resource.networking.inbound[0].tags['kuma.io/service'] = dp.service;
      const token = await call('POST', '/tokens/dataplane', { name: dp.name, mesh: 'default', validFor: '1h' });
      assert.equal(token.status, 200);
      fleet.add(dp, {
        cpAddress: base,
        token: () => token.body,
        dataplane: resource,
        outputDir: join(work, dp.name),
        pollWaitMs: 20_000,
        reissueDelayMs: REISSUE_DELAY_MS,
        reloadCommand: `while [ -e '${gate}' ]; do sleep 0.01; done`,
        reloadTimeoutMs: 60_000,
        clock,
      });
    }
    await fleet.start();

    let status = await waitFor('every agent to acknowledge the ca-1 bundle', async () => {
      const s = await rotation();
      return s.backends[0].dataplanesTrusting === 6 && s;
    });
    assert.equal(status.activeDataplanes, 6);
    assert.deepEqual(
      status.backends.map((b: any) => [b.name, b.dataplanesIssued, b.dataplanesTrusting]),
      [['ca-1', 6, 6]],
    );
    assert.deepEqual(status.nextStep, { action: 'none', ready: true, description: 'no CA rotation in progress' });
    const bundleV0 = material('web-1').caPem;

    // A ca-1 certificate kept from before the rotation; it works now (so the later refusal is not vacuous).
    const leftover = material('web-1');
    assert.equal(leftover.issuedBackend, 'ca-1');
    const probe = (to: string, m: AgentMaterial): Promise<CallOutcome> => callOnce(fleet.peer(to), m, 'default');
    assert.equal(
      (await probe('api-1', { ...material('web-2'), certPem: leftover.certPem, keyPem: leftover.keyPem })).ok,
      true,
    );
    // The SPIFFE check is real: a peer that is not the expected service is refused.
    const probeRejections = () => fleet.servers.get('api-1')!.handshakeFailures;
    assert.match(
      await callService(fleet.ports.get('api-1')!, material('web-1'), 'db'),
      /no spiffe:\/\/default\/db URI SAN/,
    );
    // The client hangs up on api-1 mid-handshake once it sees the wrong identity; api-1's listener counts that one.
    await waitFor('api-1 to see the wrong-service client hang up', () => probeRejections() === 1, 2_000);
    assert.deepEqual(fleet.listenerRefusals(), [0, 0, 1, 0, 0, 0]);

    // --- Traffic: every agent calls every other agent several times a second until the end.
    fleet.startTraffic(300);
    await waitFor('traffic between every pair', () => [...fleet.handshakes().values()].every((ok) => ok >= 15));

    // --- Step 1 while the proxies cannot reload: every agent installs the ca-1+ca-2 bundle but cannot acknowledge it.
    holdReloads();
    assert.deepEqual(await dryRunThenPut(STEP[1]), { status: 200, body: {}, retryAfter: null });
    phase('between step 1 and step 2');
    const v1 = (await rotation()).bundleVersion;
    await waitFor('every agent to install the ca-1+ca-2 bundle', () =>
      ALL_NAMES.every((n) => material(n).bundleVersion === v1),
    );

    // Step 2 now is refused, naming the six that have not acknowledged ca-2.
    const refused2 = await dryRunThenPut(STEP[2]);
    assert.equal(refused2.status, 409, JSON.stringify(refused2.body));
    assert.equal(refused2.retryAfter, '5');
    assert.deepEqual(
      refused2.body.invalid_parameters.map((p: any) => p.field),
      ['mtls.enabledBackend'],
    );
    const message2 = refused2.body.invalid_parameters[0].reason as string;
    assert.match(message2, /^cannot enable backend "ca-2" yet: 6 active dataplanes do not trust it yet/);
    assert.deepEqual(namesIn(message2), ALL_NAMES);
    for (const name of ALL_NAMES)
      assert.notEqual(agent(name).held?.bundleVersion, v1, `${name} had not acknowledged ca-2`);
    status = await rotation();
    assert.deepEqual(
      [status.nextStep.action, status.nextStep.backend, status.nextStep.ready],
      ['enable', 'ca-2', false],
    );
    assert.deepEqual([...status.nextStep.waitingFor.names].sort(), ALL_NAMES);

    // ... and passes once the proxies reloaded and acknowledged; the status never counts one before it installed ca-2.
    releaseReloads();
    status = await waitFor('every agent to acknowledge ca-2', async () => {
      const s = await rotation();
      const waiting = new Set<string>(s.nextStep.waitingFor?.names ?? []);
      for (const name of ALL_NAMES) {
        if (!waiting.has(name))
          assert.ok(
            fleet.installed.get(name)!.includes(v1),
            `${name} counted as trusting ca-2 only after installing it`,
          );
      }
      return s.nextStep.action === 'enable' && s.nextStep.ready && s;
    });
    assert.equal(status.backends.find((b: any) => b.name === 'ca-2').dataplanesTrusting, 6);
    for (const name of ALL_NAMES) {
      assert.ok(
        rootsOf(material(name).caPem).some((r) => r.fingerprint256 === ca2Root.fingerprint256),
        `${name} holds ca-2's root`,
      );
    }
    const eventsBeforeStep2 = fleet.events.length;
    await keptTalking();
    assert.deepEqual(await dryRunThenPut(STEP[2]), { status: 200, body: {}, retryAfter: null });
    phase('between step 2 and step 3');

    // --- Step 3 right after step 2: every agent was told to re-issue but waits out its random delay (on the fake
    // clock), so all six still hold a ca-1 certificate.
    await waitFor('every agent to schedule its re-issue', () =>
      ALL_NAMES.every((n) => fleet.eventsOf(n, 'reissue-scheduled', eventsBeforeStep2).length > 0),
    );
    const refused3 = await dryRunThenPut(STEP[3]);
    assert.equal(refused3.status, 409, JSON.stringify(refused3.body));
    assert.equal(refused3.retryAfter, '5');
    assert.deepEqual(
      refused3.body.invalid_parameters.map((p: any) => p.field),
      ['mtls.backends'],
    );
    const message3 = refused3.body.invalid_parameters[0].reason as string;
    assert.match(
      message3,
      /^cannot remove backend "ca-1" yet: 6 active dataplanes still hold a certificate issued by it: /,
    );
    assert.deepEqual(namesIn(message3), ALL_NAMES);
    for (const name of ALL_NAMES) assert.equal(material(name).issuedBackend, 'ca-1');
    status = await rotation();
    assert.deepEqual(
      [status.nextStep.action, status.nextStep.backend, status.nextStep.ready],
      ['remove', 'ca-1', false],
    );
    assert.deepEqual([...status.nextStep.waitingFor.names].sort(), ALL_NAMES);

    // The delay runs out with the proxies held: they get ca-2 certificates but do not serve them yet, so still refused.
    holdReloads();
    await clock.advance(REISSUE_DELAY_MS);
    status = await waitFor('every agent to re-issue from ca-2', async () => {
      const s = await rotation();
      return s.backends.find((b: any) => b.name === 'ca-2').dataplanesIssued === 6 && s;
    });
    const refused3b = await dryRunThenPut(STEP[3]);
    assert.equal(refused3b.status, 409, JSON.stringify(refused3b.body));
    assert.equal(refused3b.retryAfter, '5');
    const message3b = refused3b.body.invalid_parameters[0].reason as string;
    assert.match(
      message3b,
      /^cannot remove backend "ca-1" yet: 6 active dataplanes were issued a certificate by another backend but their proxies still serve the one from "ca-1" \(not reloaded yet\): /,
    );
    assert.deepEqual(namesIn(message3b), ALL_NAMES);
    assert.match(message3b, /web-1 \(issued by "ca-2"\)/);

    // ... and passes once they reloaded; the status agrees with what the agents hold.
    releaseReloads();
    status = await waitFor('every proxy to serve its ca-2 certificate', async () => {
      const s = await rotation();
      return s.nextStep.action === 'remove' && s.nextStep.ready && s;
    });
    assert.deepEqual(
      status.backends.map((b: any) => [b.name, b.dataplanesIssued]),
      [
        ['ca-1', 0],
        ['ca-2', 6],
      ],
    );
    for (const [name, dp] of DATAPLANES.map((d) => [d.name, d] as const)) {
      const cert = new X509Certificate(material(name).certPem);
      assert.ok(cert.checkIssued(ca2Root) && cert.verify(ca2Root.publicKey), `${name}'s certificate is signed by ca-2`);
      assert.ok(cert.subjectAltName?.includes(`URI:spiffe://default/${dp.service}`));
      assert.equal(
        readFileSync(join(work, name, 'cert.pem'), 'utf8'),
        material(name).certPem,
        `${name}'s cert.pem is the ca-2 certificate`,
      );
    }
    await keptTalking();
    assert.deepEqual(await dryRunThenPut(STEP[3]), { status: 200, body: {}, retryAfter: null });
    phase('after step 3');

    // --- After step 3 every agent's bundle (and ca.pem) holds only ca-2's root.
    status = await rotation();
    assert.deepEqual(
      status.backends.map((b: any) => b.name),
      ['ca-2'],
    );
    assert.deepEqual(status.nextStep, { action: 'none', ready: true, description: 'no CA rotation in progress' });
    const v3 = status.bundleVersion;
    await waitFor('every agent to install and acknowledge the ca-2-only bundle', async () => {
      const s = await rotation();
      return ALL_NAMES.every((n) => agent(n).held?.bundleVersion === v3) && s.backends[0].dataplanesTrusting === 6;
    });
    for (const name of ALL_NAMES) {
      assert.deepEqual(
        rootsOf(material(name).caPem).map((r) => r.fingerprint256),
        [ca2Root.fingerprint256],
        `${name}'s bundle`,
      );
      assert.deepEqual(
        rootsOf(readFileSync(join(work, name, 'ca.pem'), 'utf8')).map((r) => r.fingerprint256),
        [ca2Root.fingerprint256],
        `${name}'s ca.pem`,
      );
    }

    // --- A leftover ca-1 certificate is now rejected by a peer, in both directions.
    const rejectedBeforeLeftover = probeRejections();
    const asClient = await probe('api-1', { ...material('web-2'), certPem: leftover.certPem, keyPem: leftover.keyPem });
    assert.equal(asClient.ok, false, 'api-1 refuses a client presenting the ca-1 certificate');
    await waitFor('api-1 to report the refused client', () => probeRejections() > rejectedBeforeLeftover);
    // Node's listener drops a client whose certificate does not verify (no alert): the client sees the hang-up.
    assert.deepEqual(asClient, { ok: false, stage: 'handshake', error: 'connection closed before the echo' });
    // Control: the same client with its own ca-2 certificate is served, so the refusal is the ca-1 certificate's doing.
    assert.equal((await probe('api-1', material('web-2'))).ok, true);
    rogue = tls.createServer({ key: leftover.keyPem, cert: leftover.certPem }, (socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => rogue!.listen(0, '127.0.0.1', resolve));
    const roguePeer = { host: '127.0.0.1', port: (rogue.address() as { port: number }).port };
    const asServer = await callOnce(roguePeer, material('db-1'), 'default');
    assert.equal(asServer.ok, false, 'db-1 refuses a server presenting the ca-1 certificate');
    assert.match(asServer.ok ? '' : asServer.error, /issuer|certificate/i);
    // Control: with the old ca-1 bundle the same server is accepted, so the refusal is the bundle's doing.
    assert.equal((await callOnce(roguePeer, { ...material('db-1'), caPem: bundleV0 }, 'default')).ok, true);

    // --- A little more traffic on the final state, then stop and count.
    const okBefore = fleet.totals().ok;
    await waitFor('traffic on the final bundle', () => fleet.totals().ok >= okBefore + 60);
    await keptTalking();
    await fleet.stopTraffic();

    const { ok, failed: failedHandshakes, unreachable } = fleet.totals();
    const failed = failedHandshakes + unreachable;
    // Only the probes made a listener drop a handshake: the wrong-service client and the ca-1 client, both at api-1.
    const serverRejected = fleet.listenerRefusals().reduce((n, r) => n + r, 0) - 2;
    const agents = [...fleet.agents.values()];
    const certificates = agents.reduce((n, a) => n + a.certificates, 0);
    const reloads = agents.reduce((n, a) => n + a.reloads, 0);
    console.log(
      `CA rotation under traffic (shipped agent): ${ok} successful mTLS handshakes between ${agents.length} agents, ${failed} failed, ` +
        `${serverRejected} refused by a listener; ${certificates} certificates issued, ${reloads} proxy reloads; ` +
        `bundles installed per agent: ${ALL_NAMES.map((n) => new Set(fleet.installed.get(n)).size).join('/')}`,
    );
    const failures = fleet.failures();
    assert.equal(failed, 0, JSON.stringify(failures));
    assert.equal(serverRejected, 0, JSON.stringify(failures));
    assert.deepEqual(fleet.wrongPeers, [], 'every peer answered with its own service identity');
    assert.deepEqual(
      fleet.events.filter((e) => e.event === 'error'),
      [],
      'no agent request to the control plane failed',
    );
    for (const name of ALL_NAMES) {
      const kinds = fleet.eventsOf(name, 'certificate').map((e) => [e.reason, e.issuedBackend]);
      assert.deepEqual(
        kinds,
        [
          ['initial', 'ca-1'],
          ['reissue', 'ca-2'],
        ],
        `${name} went from a ca-1 to a ca-2 certificate`,
      );
    }
    assert.deepEqual(
      cp.logs.filter((l) => l.level >= 50),
      [],
      'the control plane logged no error',
    );
  } finally {
    rmSync(gate, { force: true }); // a held reload would keep its agent from stopping
    await fleet.close();
    if (rogue) await new Promise<void>((resolve) => rogue!.close(() => resolve()));
    if (cp) assert.equal(await cp.stop(), 0, 'the control plane shut down cleanly');
    rmSync(work, { recursive: true, force: true });
  }
});
