// The dataplane agent across several control-plane addresses, in-process on real sockets. Two relays in front of one
// control plane (the real app on SQLite) are two instances sharing one database: an instance killed mid-run, a
// refused port and a black hole first, and every address down (the agent cycles with its backoff on a fake clock).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataplaneAgent, type AgentEvent, type AgentOptions } from '../../src/agent/agent.js';
import { normalizeSerial } from '../../src/store/facts-store.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { blackHole, Relay, refusedAddress } from '../helpers/failing-instances.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { listenOnLoopback } from '../helpers/listen.js';
import { freePort } from '../helpers/processes.js';

let t: TestApp;
let live: string;
let dir: string;
const closers: (() => Promise<void>)[] = [];
const ca1 = { name: 'ca-1', type: 'builtin' };
const ca2 = { name: 'ca-2', type: 'builtin' };

before(async () => {
  t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
  live = await listenOnLoopback(t.app);
  dir = mkdtempSync(join(tmpdir(), 'meshcp-agent-failover-'));
});

after(async () => {
  await Promise.all(closers.map((close) => close()));
  await t?.close();
  if (t) rmSync(t.dataDir, { recursive: true, force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function track<T extends { close(): Promise<void> }>(instance: Promise<T>): Promise<T> {
  const started = await instance;
  closers.push(() => started.close());
  return started;
}

async function putMesh(name: string, backends: object[], enabledBackend: string): Promise<void> {
  const res = await t.app.inject({
    method: 'PUT',
    url: `/meshes/${name}`,
    payload: { type: 'Mesh', name, mtls: { enabledBackend, backends } },
  });
  assert.ok(res.statusCode < 300, res.body);
}

/** An agent for `mesh`/`name` on `addresses`, stopped after the tests; its log lines are collected. */
async function agentOn(mesh: string, name: string, addresses: string[], extra: Partial<AgentOptions> = {}) {
  const res = await t.app.inject({ method: 'POST', url: '/tokens/dataplane', payload: { name, mesh } });
  assert.equal(res.statusCode, 200, res.body);
  const events: AgentEvent[] = [];
  const agent = new DataplaneAgent({
    cpAddress: addresses,
    token: () => res.body,
    dataplane: {
      type: 'Dataplane',
      mesh,
      name,
      networking: {
        address: '127.0.0.1',
        inbound: [{ port: 20001, servicePort: 8080, tags: { 'kuma.io/service': name } }],
      },
    },
    outputDir: join(dir, `${mesh}-${name}`),
    pollWaitMs: 10_000,
    reissueDelayMs: 0,
    log: (e) => events.push(e),
    ...extra,
  });
  closers.push(() => agent.stop());
  return {
    agent,
    events,
    token: res.body,
    switches: () => events.filter((e) => e.event === 'cp-switch').map(({ from, to, reason }) => ({ from, to, reason })),
  };
}

/** `log`: the agent's events, quoted when the wait times out (what the agent was doing meanwhile). */
async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  log?: AgentEvent[],
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${log ? `; the agent's events: ${JSON.stringify(log)}` : ''}`);
    await sleep(20);
  }
}

async function facts(
  mesh: string,
  name: string,
): Promise<{ acknowledgedBundleVersion: string | null; servedSerial: string | null }> {
  const res = await t.app.inject({ method: 'GET', url: `/meshes/${mesh}/dataplanes/${name}/_certificate-facts` });
  assert.equal(res.statusCode, 200, res.body);
  return JSON.parse(res.body);
}

describe('agent failover', () => {
  test('a refused address first: certificate and bundle from the next one, the switch logged once with its reason', async () => {
    await putMesh('refused', [ca1], 'ca-1');
    const relay = await track(new Relay(live).listen());
    const dead = await refusedAddress();
    const { agent, events, token, switches } = await agentOn('refused', 'web-1', [dead, relay.address]);
    await agent.start();
    assert.equal(agent.material?.issuedBackend, 'ca-1');
    assert.match(agent.material?.caPem ?? '', /BEGIN CERTIFICATE/);
    assert.deepEqual(switches(), [{ from: dead, to: relay.address, reason: 'ECONNREFUSED' }]);
    await until(
      'the bundle acknowledged',
      async () => (await facts('refused', 'web-1')).acknowledgedBundleVersion === agent.material?.bundleVersion,
    );
    assert.equal(agent.cpAddress, relay.address);
    assert.ok(!JSON.stringify(events).includes(token), 'no token in the log');
  });

  test('a black hole first: the agent moves on after its request bound', async () => {
    await putMesh('hole', [ca1], 'ca-1');
    const hole = await track(blackHole());
    const relay = await track(new Relay(live).listen());
    const { agent, switches } = await agentOn('hole', 'web-1', [hole.address, relay.address], {
      requestTimeoutMs: 300,
    });
    const started = Date.now();
    await agent.start();
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 5_000, `certificate after ${elapsed} ms`);
    assert.deepEqual(switches(), [{ from: hole.address, to: relay.address, reason: 'no answer within 300 ms' }]);
  });

  test('the instance in use is killed mid-run: the next one serves the long-poll, the acknowledgement and the re-issue; no flapping back', async () => {
    await putMesh('killed', [ca1], 'ca-1');
    const a = await track(new Relay(live).listen());
    const b = await track(new Relay(live).listen());
    const { agent, events, switches } = await agentOn('killed', 'web-1', [a.address, b.address]);
    await agent.start();
    assert.deepEqual(switches(), []);
    const first = agent.material!;
    await until(
      'the first bundle acknowledged',
      async () => (await facts('killed', 'web-1')).acknowledgedBundleVersion === first.bundleVersion,
    );

    await a.kill(); // its long-poll is reset; its port refuses
    await putMesh('killed', [ca1, ca2], 'ca-1'); // step 1 of a rotation, on the shared database
    await until('the bundle with ca-2', () => agent.material?.supportedBackends.includes('ca-2') === true);
    const second = agent.material!;
    await until(
      'the new bundle acknowledged',
      async () => (await facts('killed', 'web-1')).acknowledgedBundleVersion === second.bundleVersion,
    );
    assert.deepEqual(switches(), [{ from: a.address, to: b.address, reason: 'ECONNRESET' }]);

    // The first instance comes back; the agent stays where it is.
    await a.listen(a.port);
    const connectionsOfA = a.connections;
    await putMesh('killed', [ca1, ca2], 'ca-2'); // step 2: the bundle asks for a re-issue
    await until('a certificate from ca-2', () => agent.material?.issuedBackend === 'ca-2');
    // The control plane keeps serials as numbers (no leading zero digit); the agent prints the certificate's bytes.
    await until(
      'the new certificate served and reported',
      async () => (await facts('killed', 'web-1')).servedSerial === normalizeSerial(agent.held?.serial ?? ''),
      events,
    );
    assert.equal(a.connections, connectionsOfA, 'no request went back to the first instance');
    assert.equal(switches().length, 1);
  });

  test('every address down: the agent cycles through them with its backoff and takes the first that comes up', async () => {
    await putMesh('down', [ca1], 'ca-1');
    const clock = new FakeClock();
    const [portA, portB] = [await freePort(), await freePort()];
    const [a, b] = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];
    const { agent, events, switches } = await agentOn('down', 'web-1', [a, b], { clock });
    const starting = agent.start();
    await until('a failed registration', () => events.some((e) => e.event === 'error'));
    assert.deepEqual(
      events.filter((e) => e.event === 'error').map((e) => [e.during, e.retryInMs]),
      [['register', 500]],
    );
    assert.match(
      String(events.find((e) => e.event === 'error')?.message),
      new RegExp(`no control plane answered \\(${a}: ECONNREFUSED; ${b}: ECONNREFUSED\\)`),
    );

    const relay = await track(new Relay(live).listen(portB)); // the second instance comes up
    await clock.waitForTimers(1);
    await clock.advance(500); // the backoff passes: a is tried first again, then b answers
    await starting;
    assert.equal(agent.material?.issuedBackend, 'ca-1');
    assert.deepEqual(switches(), [
      { from: a, to: b, reason: 'ECONNREFUSED' },
      { from: b, to: a, reason: 'ECONNREFUSED' },
      { from: a, to: b, reason: 'ECONNREFUSED' },
    ]);
    assert.equal(agent.cpAddress, relay.address);
  });
});
