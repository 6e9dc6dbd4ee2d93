// The HA proof of issue 14: three control-plane processes on one PostgreSQL database, six shipped agent cores
// (src/agent, as meshcp-dp runs them) spread across them, each given all three addresses with its own first, calling
// each other over mutual TLS the whole time. An operator walks the CA rotation guide (a second builtin backend, enable
// it, remove the old one) while one instance is killed with kill -9 in the middle of step 2 and another in the middle
// of step 3. The agents fail over to the survivors, the rotation completes, no handshake fails, and every write a
// control plane acknowledged (2xx) is still there at the end, read from the last instance standing.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import { AgentFleet } from '../helpers/agent-fleet.js';
import type { CpProcess } from '../helpers/cp-process.js';
import { FailoverClient, migrateUp, request, sharedEnv, startInstances } from '../helpers/pg-control-planes.js';
import { freshDatabase, type PgDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

const DATAPLANES = [
  { name: 'web-1', service: 'web', csr: false },
  { name: 'api-1', service: 'api', csr: true },
  { name: 'db-1', service: 'db', csr: false },
  { name: 'web-2', service: 'web', csr: true },
  { name: 'api-2', service: 'api', csr: false },
  { name: 'db-2', service: 'db', csr: true },
];
const ALL_NAMES = DATAPLANES.map((d) => d.name).sort();
const builtin = (name: string) => ({ name, type: 'builtin' });
const mesh = (enabledBackend: string, backends: string[]) => ({
  type: 'Mesh',
  name: 'default',
  mtls: { enabledBackend, backends: backends.map(builtin) },
});
const STEP_1 = mesh('ca-1', ['ca-1', 'ca-2']);
const STEP_2 = mesh('ca-2', ['ca-1', 'ca-2']);
const STEP_3 = mesh('ca-2', ['ca-2']);

test('three instances on one PostgreSQL: the rotation guide walked while two of them are killed -9; agents fail over, zero failed handshakes, no acknowledged write lost', {
  timeout: 120_000,
}, async () => {
  const work = mkdtempSync(join(tmpdir(), 'meshcp-ha-e2e-'));
  // The agents' proxy reload waits while this file exists: "not served yet" lasts until the test says, so each kill
  // lands in the middle of its step for sure.
  const gate = join(work, 'reloads-held');
  const holdReloads = () => writeFileSync(gate, '');
  const releaseReloads = () => unlinkSync(gate);
  const fleet = new AgentFleet('default');
  let db: PgDatabase | undefined;
  let cps: CpProcess[] = [];
  let writer: Promise<void> | undefined;
  let writing = true;
  const timings: string[] = [];
  const started = Date.now();
  const mark = (label: string) => timings.push(`${label} ${((Date.now() - started) / 1000).toFixed(1)} s`);
  try {
    db = await freshDatabase('meshcp_ha');
    const env = sharedEnv(db);
    await migrateUp(env);
    cps = await startInstances(3, env);
    mark('3 instances up');
    const [a, b, c] = cps.map((cp) => cp.baseUrl);
    const kill9 = async (cp: CpProcess) => {
      cp.child.kill('SIGKILL');
      assert.equal((await cp.exited).signal, 'SIGKILL');
    };
    // The operator lists the survivor of both kills first, then the others, as a client behind no load balancer does.
    const operator = new FailoverClient([c, b, a]);
    const rotation = () => operator.get('/meshes/default/ca-rotation');

    // --- The default mesh was created exactly once although three instances started at the same moment.
    for (const address of [a, b, c]) {
      const meshes = (await request(address, 'GET', '/meshes')).body;
      assert.deepEqual(
        meshes.items.map((m: any) => m.name),
        ['default'],
        `${address} sees one default mesh`,
      );
    }

    // --- Acknowledged writes the whole time: a secret after another, each to the next instance in turn (moving on
    // when one does not answer). Each 2xx is remembered and read back at the end.
    const acknowledged = new Map<string, string>();
    const writerFailures: string[] = [];
    writer = (async () => {
      for (let n = 0; writing; n++) {
        const name = `ack-${n}`;
        const data = Buffer.from(`write ${n}`).toString('base64');
        const order = [a, b, c].slice(n % 3).concat([a, b, c].slice(0, n % 3));
        try {
          const answer = await new FailoverClient(order).send('PUT', `/meshes/default/secrets/${name}`, {
            type: 'Secret',
            mesh: 'default',
            name,
            data,
          });
          if (answer.status === 201 || answer.status === 200) acknowledged.set(name, data);
          else writerFailures.push(`${name}: ${answer.status} ${JSON.stringify(answer.body)}`);
        } catch (err) {
          writerFailures.push(`${name}: ${(err as Error).message}`);
        }
        await sleep(50);
      }
    })();

    // --- Step 0 on instance a: mTLS with the builtin ca-1 (one CA and one signing key, whichever instance reads them).
    assert.equal((await request(a, 'PUT', '/meshes/default', mesh('ca-1', ['ca-1']))).status, 200);

    // --- Six agents, two per instance, each with every address, its own instance first.
    const example = parseYaml(readFileSync(new URL('../../examples/dataplane-web-1.yaml', import.meta.url), 'utf8'));
    const homes = new Map<string, string>();
    for (const [i, dp] of DATAPLANES.entries()) {
      const resource = structuredClone(example);
      resource.name = dp.name;
      resource.networking.inbound[0].port = 20001 + i;
      resource.networking.inbound[0].tags['kuma.io/service'] = dp.service;
      const own = [a, b, c][i % 3];
      homes.set(dp.name, own);
      const token = await request(own, 'POST', '/tokens/dataplane', { name: dp.name, mesh: 'default', validFor: '1h' });
      assert.equal(token.status, 200, JSON.stringify(token.body));
      fleet.add(dp, {
        cpAddress: [own, ...[a, b, c].filter((x) => x !== own)].join(','),
        token: () => token.body,
        dataplane: resource,
        outputDir: join(work, dp.name),
        pollWaitMs: 5_000,
        reissueDelayMs: 1_000,
        reloadCommand: `while [ -e '${gate}' ]; do sleep 0.01; done`,
        reloadTimeoutMs: 60_000,
      });
    }
    await fleet.start();
    fleet.startTraffic(250);
    await waitFor('every agent to acknowledge the ca-1 bundle and call every peer', async () => {
      const s = await rotation();
      return s.backends[0].dataplanesTrusting === 6 && [...fleet.handshakes().values()].every((ok) => ok >= 5) && s;
    });
    mark('fleet up');

    // --- Step 1 on instance b: the agents waiting on a and c learn of it too (the change reaches every instance).
    assert.equal((await request(b, 'PUT', '/meshes/default', STEP_1)).status, 200);
    const v1 = (await rotation()).bundleVersion;
    await waitFor('every agent to acknowledge the ca-1+ca-2 bundle', async () => {
      const s = await rotation();
      return (
        ALL_NAMES.every((n) => fleet.agents.get(n)!.held?.bundleVersion === v1) &&
        s.nextStep.action === 'enable' &&
        s.nextStep.ready
      );
    });
    mark('step 1 done');

    // --- Step 2, acknowledged by instance a, which is then killed while the agents re-issue from ca-2 (their proxies
    // cannot serve the new certificate yet): the agents at home on a go on with b and c.
    holdReloads();
    const step2 = await new FailoverClient([a, b, c]).send('PUT', '/meshes/default', STEP_2, { retryConflicts: true });
    assert.deepEqual([step2.status, step2.address], [200, a], JSON.stringify(step2.body));
    const onA = [...homes].filter(([, home]) => home === a).map(([name]) => name);
    await kill9(cps[0]);
    mark('instance a killed');
    // In the middle of step 2: no proxy serves a ca-2 certificate yet.
    const notYetReissued = ALL_NAMES.filter((n) => fleet.material(n).issuedBackend === 'ca-1');
    assert.equal((await rotation()).nextStep.ready, false, 'a was killed before step 2 was complete');
    releaseReloads();
    const stepTwoStatus = await waitFor(
      'every agent to re-issue from ca-2 and serve it (step 2 complete)',
      async () => {
        const s = await rotation();
        return s.nextStep.action === 'remove' && s.nextStep.ready && s;
      },
      40_000,
    );
    assert.deepEqual(
      stepTwoStatus.backends.map((x: any) => [x.name, x.dataplanesIssued]),
      [
        ['ca-1', 0],
        ['ca-2', 6],
      ],
    );
    for (const name of onA)
      assert.equal(
        fleet.material(name).issuedBackend,
        'ca-2',
        `${name} (at home on the killed a) got its ca-2 certificate elsewhere`,
      );
    mark('step 2 done');

    // --- Step 3, acknowledged by instance b, which is then killed while the agents take the ca-2-only bundle (their
    // proxies cannot load it yet, so none has acknowledged it).
    holdReloads();
    const step3 = await new FailoverClient([b, c]).send('PUT', '/meshes/default', STEP_3, { retryConflicts: true });
    assert.deepEqual([step3.status, step3.address], [200, b], JSON.stringify(step3.body));
    const v3 = (await request(b, 'GET', '/meshes/default/ca-rotation')).body.bundleVersion;
    await kill9(cps[1]);
    mark('instance b killed');
    // In the middle of step 3: no agent had acknowledged the ca-2-only bundle yet.
    const notYetAcknowledged = ALL_NAMES.filter((n) => fleet.agents.get(n)!.held?.bundleVersion !== v3);
    assert.equal(notYetAcknowledged.length, 6, 'b was killed before any agent acknowledged the last bundle');
    releaseReloads();
    await waitFor(
      'every agent to acknowledge the ca-2-only bundle (step 3 complete)',
      async () => {
        const s = await rotation();
        return (
          ALL_NAMES.every((n) => fleet.agents.get(n)!.held?.bundleVersion === v3) &&
          s.backends[0].dataplanesTrusting === 6 &&
          s
        );
      },
      40_000,
    );
    mark('step 3 done');

    // --- A little more traffic on the final state, then stop and count.
    const okBefore = fleet.totals().ok;
    await waitFor('traffic on the final bundle', () => fleet.totals().ok >= okBefore + 30);
    await fleet.stopTraffic();
    writing = false;
    await writer;

    const { ok, failed, unreachable } = fleet.totals();
    console.log(
      `HA rotation: ${ok} mTLS handshakes between 6 agents, ${failed + unreachable} failed; ` +
        `${acknowledged.size} acknowledged writes while 2 of 3 instances were killed; not re-issued when a died: ` +
        `${notYetReissued.length}, not acknowledged when b died: ${notYetAcknowledged.length}; ${timings.join(', ')}`,
    );
    assert.equal(failed + unreachable, 0, JSON.stringify(fleet.failures()));
    assert.equal(
      fleet.listenerRefusals().reduce((n, r) => n + r, 0),
      0,
      JSON.stringify(fleet.failures()),
    );
    assert.deepEqual(fleet.wrongPeers, []);
    // Every agent at home on a killed instance moved to another one (meshcp-dp logs each move once, with why).
    for (const [name, home] of homes) {
      if (home === c) continue;
      const moves = fleet.eventsOf(name, 'cp-switch').filter((e) => e.from === home);
      assert.ok(
        moves.length > 0,
        `${name} moved away from its killed instance ${home}: ${JSON.stringify(fleet.eventsOf(name, 'cp-switch'))}`,
      );
    }
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

    // --- Nothing acknowledged was lost: read everything back from c, the last instance standing.
    assert.deepEqual(writerFailures, [], 'the writer always found an instance that accepted its write');
    assert.ok(acknowledged.size >= 10, `${acknowledged.size} writes were acknowledged`);
    const stored = new Map<string, string>();
    for (let offset: string | undefined; ; ) {
      const page = (await request(c, 'GET', `/meshes/default/secrets?size=1000${offset ? `&offset=${offset}` : ''}`))
        .body;
      for (const s of page.items) stored.set(s.name, s.data);
      offset = page.next ? (new URL(page.next).searchParams.get('offset') ?? undefined) : undefined;
      if (!offset) break;
    }
    for (const [name, data] of acknowledged)
      assert.equal(stored.get(name), data, `acknowledged secret ${name} is there`);
    const finalMesh = (await request(c, 'GET', '/meshes/default')).body;
    assert.deepEqual(finalMesh.mtls, STEP_3.mtls, 'step 3, acknowledged by the killed b, is the mesh');
    const dataplanes = (await request(c, 'GET', '/meshes/default/dataplanes')).body.items
      .map((d: any) => d.name)
      .sort();
    assert.deepEqual(dataplanes, ALL_NAMES);
    assert.deepEqual(
      cps[2].logs.filter((l) => l.level >= 50),
      [],
      'the survivor logged no error',
    );
  } finally {
    rmSync(gate, { force: true }); // a held reload would keep its agent from stopping
    writing = false;
    await writer?.catch(() => {});
    await fleet.close();
    await Promise.allSettled(cps.map((cp) => cp.stop()));
    await db?.drop();
    rmSync(work, { recursive: true, force: true });
  }
});
