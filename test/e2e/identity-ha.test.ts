// The cut-over from Mesh.mtls to MeshIdentity on two control-plane instances sharing one PostgreSQL database, one of
// them killed with kill -9 while the dataplanes re-issue from the new identity: the shipped agent cores fail over to
// the survivor, the cut-over completes there (its guard reading the facts the dead instance recorded), and no
// handshake fails; every peer is verified by its SPIFFE ID under both models.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AgentFleet } from '../helpers/agent-fleet.js';
import type { CpProcess } from '../helpers/cp-process.js';
import { FailoverClient, migrateUp, request, sharedEnv, startInstances } from '../helpers/pg-control-planes.js';
import { freshDatabase, type PgDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';
import { systemClock } from '../../src/domain/clock.js';

const TRUST_DOMAIN = 'default.default.mesh.local';
const DATAPLANES = [
  { name: 'web-1', service: 'web', csr: true },
  { name: 'api-1', service: 'api', csr: false },
  { name: 'db-1', service: 'db', csr: true },
  { name: 'web-2', service: 'web', csr: false },
];
const KRI = 'kri_mid_default_default__identity-1_';
const identity = (selector: object) => ({
  type: 'MeshIdentity',
  name: 'identity-1',
  spec: {
    selector,
    provider: { type: 'Bundled', bundled: { insecureAllowSelfSigned: true, autogenerate: { enabled: true } } },
  },
});

test('two instances on PostgreSQL: the cut-over walked while one is killed -9 mid-reissue; zero failed handshakes', {
  timeout: 120_000,
}, async () => {
  const work = mkdtempSync(join(tmpdir(), 'meshcp-identity-ha-'));
  const gate = join(work, 'reloads-held');
  const fleet = new AgentFleet('default', (service) => `spiffe://${TRUST_DOMAIN}/workload/${service}`);
  let db: PgDatabase | undefined;
  let cps: CpProcess[] = [];
  try {
    db = await freshDatabase('meshcp_identity_ha');
    const env = sharedEnv(db);
    await migrateUp(env);
    cps = await startInstances(2, env);
    const [a, b] = cps.map((cp) => cp.baseUrl);
    const operator = new FailoverClient([b!, a!]);
    assert.equal(
      (
        await request(a!, 'PUT', '/meshes/default', {
          type: 'Mesh',
          name: 'default',
          mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
        })
      ).status,
      200,
    );

    for (const [i, dp] of DATAPLANES.entries()) {
      const own = i % 2 === 0 ? a! : b!;
      const token = await request(own, 'POST', '/tokens/dataplane', { name: dp.name, mesh: 'default', validFor: '1h' });
      assert.equal(token.status, 200);
      const dataplane = {
        type: 'Dataplane' as const,
        mesh: 'default',
        name: dp.name,
        labels: { 'kuma.io/workload': dp.service },
        networking: { address: '127.0.0.1', inbound: [{ port: 1, tags: { 'kuma.io/service': dp.service } }] },
      };
      fleet.add(dp, {
        clock: systemClock,
        cpAddress: [own, own === a ? b! : a!].join(','),
        token: () => token.body,
        dataplane,
        outputDir: join(work, dp.name),
        pollWaitMs: 5_000,
        reissueDelayMs: 500,
        reloadCommand: `while [ -e '${gate}' ]; do sleep 0.01; done`,
        reloadTimeoutMs: 60_000,
      });
    }
    await fleet.start();
    fleet.startTraffic(250);
    await waitFor('traffic between every agent', () => [...fleet.handshakes().values()].every((ok) => ok >= 3));

    // The identity selecting nothing (on a), its trust acknowledged everywhere; selecting every dataplane (on b).
    assert.equal((await request(a!, 'PUT', '/meshes/default/meshidentities/identity-1', identity({}))).status, 201);
    const selected = await operator.send(
      'PUT',
      '/meshes/default/meshidentities/identity-1',
      identity({ dataplane: {} }),
      { retryConflicts: true, deadlineMs: 40_000 },
    );
    assert.equal(selected.status, 200, JSON.stringify(selected.body));

    // Kill a while the agents re-issue (their proxies cannot serve the new certificates yet); mTLS-off stays refused.
    writeFileSync(gate, '');
    cps[0]!.child.kill('SIGKILL');
    assert.equal((await cps[0]!.exited).signal, 'SIGKILL');
    await waitFor(
      'every agent to hold an identity-1 certificate',
      () => DATAPLANES.every((d) => fleet.material(d.name)?.issuedBackend === KRI),
      40_000,
    );
    const early = await request(b!, 'PUT', '/meshes/default', { type: 'Mesh', name: 'default' });
    assert.equal(early.status, 409, JSON.stringify(early.body));
    assert.match(JSON.stringify(early.body), /re-issued, but the proxy still serves the old one/);
    unlinkSync(gate);
    const off = await new FailoverClient([b!]).send(
      'PUT',
      '/meshes/default',
      { type: 'Mesh', name: 'default' },
      { retryConflicts: true, deadlineMs: 40_000 },
    );
    assert.equal(off.status, 200, JSON.stringify(off.body));

    const okBefore = fleet.totals().ok;
    await waitFor('traffic on the final bundle', () => fleet.totals().ok >= okBefore + 20);
    await fleet.stopTraffic();
    const { ok, failed, unreachable } = fleet.totals();
    console.log(`identity HA cut-over: ${ok} handshakes, ${failed + unreachable} failed`);
    assert.equal(failed + unreachable, 0, JSON.stringify(fleet.failures()));
    assert.equal(
      fleet.listenerRefusals().reduce((n, r) => n + r, 0),
      0,
    );
    assert.deepEqual(fleet.wrongPeers, []);
    const status = (await request(b!, 'GET', '/meshes/default/ca-rotation')).body;
    assert.deepEqual(status.cutOver, { legacyCertificates: 0, withoutReadyIdentity: 0, mtlsRemovable: true });
  } finally {
    await fleet.close();
    await Promise.allSettled(cps.map((cp) => cp.stop()));
    await db?.drop();
    rmSync(work, { recursive: true, force: true });
  }
});
