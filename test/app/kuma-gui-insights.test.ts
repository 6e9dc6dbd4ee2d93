// What Kuma's GUI reads to tell online from offline and to count meshes, written from Kuma 2.14's schemas
// (DiscoverySubscription, MeshInsight, GlobalInsightBase): a dataplane is online while it has a subscription without
// `disconnectTime`; mesh and global counts come from the fleet's indexed facts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/fake-clock.js';

const WINDOW_MS = 90_000;
const mtlsMesh = (name: string) => ({
  type: 'Mesh',
  name,
  mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
});
const sidecar = (mesh: string, name: string, service: string) => ({
  type: 'Dataplane',
  mesh,
  name,
  networking: { address: '127.0.0.1', inbound: [{ port: 20001, tags: { 'kuma.io/service': service } }] },
});
const gateway = (mesh: string, name: string, service: string, type: 'BUILTIN' | 'DELEGATED') => ({
  type: 'Dataplane',
  mesh,
  name,
  networking: { address: '127.0.0.1', gateway: { type, tags: { 'kuma.io/service': service } } },
});

async function put(t: TestApp, url: string, payload: object, status?: number) {
  const res = await t.app.inject({ method: 'PUT', url, payload });
  assert.ok(
    status === undefined ? res.statusCode < 300 : res.statusCode === status,
    `PUT ${url}: ${res.statusCode} ${res.body}`,
  );
}

async function get(t: TestApp, url: string) {
  const res = await t.app.inject({ method: 'GET', url });
  assert.equal(res.statusCode, 200, `GET ${url}: ${res.body}`);
  return res.json();
}

/** The dataplane's own trust-bundle poll: its sign of life. */
async function poll(t: TestApp, mesh: string, name: string) {
  const token = (await t.app.inject({ method: 'POST', url: '/tokens/dataplane', payload: { name, mesh } })).body;
  const res = await t.app.inject({
    method: 'GET',
    url: `/meshes/${mesh}/dataplanes/${name}/trust-bundle`,
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(res.statusCode, 200, res.body);
}

const iso = (ms: number) => new Date(ms).toISOString();

test('subscriptions: connectTime is the start of the online stretch, disconnectTime only once it ended', async () => {
  const clock = new FakeClock();
  const t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' }, { clock });
  try {
    await put(t, '/meshes/default', mtlsMesh('default'));
    await put(t, '/meshes/default/dataplanes/web-1', sidecar('default', 'web-1', 'web'));
    await put(t, '/meshes/default/dataplanes/never', sidecar('default', 'never', 'web'));
    const overview = (name: string) => get(t, `/meshes/default/dataplanes/${name}/_overview`);
    const subscriptionOf = async (name: string) => {
      const subs = (await overview(name)).dataplaneInsight?.subscriptions;
      assert.equal(subs?.length, 1, `${name} has one subscription`);
      return subs[0];
    };

    // Never in contact: no subscription, so the GUI shows it Offline.
    assert.equal((await overview('never')).dataplaneInsight, undefined);

    const start = clock.now();
    await poll(t, 'default', 'web-1');
    let sub = await subscriptionOf('web-1');
    assert.equal(sub.connectTime, iso(start));
    assert.equal(sub.status.lastUpdateTime, iso(start));
    assert.equal(sub.disconnectTime, undefined, 'connected: no disconnectTime');
    assert.equal(sub.controlPlaneInstanceId, 'test-instance');

    await clock.advance(60_000);
    await poll(t, 'default', 'web-1');
    sub = await subscriptionOf('web-1');
    assert.deepEqual(
      [sub.connectTime, sub.status.lastUpdateTime, sub.disconnectTime],
      [iso(start), iso(start + 60_000), undefined],
      'the stretch goes on',
    );

    await clock.advance(WINDOW_MS + 1_000); // silent longer than the online window
    sub = await subscriptionOf('web-1');
    assert.equal(sub.connectTime, iso(start));
    assert.equal(sub.disconnectTime, iso(start + 60_000 + WINDOW_MS), 'ended when it fell out of the online window');

    const back = clock.now();
    await poll(t, 'default', 'web-1');
    sub = await subscriptionOf('web-1');
    assert.deepEqual(
      [sub.connectTime, sub.disconnectTime],
      [iso(back), undefined],
      'a new stretch starts at the contact after the gap',
    );

    // The list the GUI's dataplane table reads carries the same.
    const list = await get(t, '/meshes/default/dataplanes/_overview');
    const byName = Object.fromEntries(list.items.map((i: { name: string }) => [i.name, i]));
    assert.equal(byName['web-1'].dataplaneInsight.subscriptions[0].connectTime, iso(back));
    assert.equal(byName['web-1'].dataplaneInsight.subscriptions[0].disconnectTime, undefined);
    assert.equal(byName.never.dataplaneInsight, undefined);
    // The certificate facts stay where they were.
    assert.equal(byName['web-1'].dataplaneInsight.mTLS, undefined, 'no certificate was issued');
  } finally {
    await t.close();
  }
});

test('a certificate request is contact too: it starts the stretch and keeps the mTLS insight beside it', async () => {
  const clock = new FakeClock();
  const t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' }, { clock });
  try {
    await put(t, '/meshes/default', mtlsMesh('default'));
    await put(t, '/meshes/default/dataplanes/web-1', sidecar('default', 'web-1', 'web'));
    const token = (
      await t.app.inject({ method: 'POST', url: '/tokens/dataplane', payload: { name: 'web-1', mesh: 'default' } })
    ).body;
    const issued = await t.app.inject({
      method: 'POST',
      url: '/meshes/default/dataplanes/web-1/certificate',
      headers: { authorization: `Bearer ${token}` },
      payload: {},
    });
    assert.equal(issued.statusCode, 200);
    const insight = (await get(t, '/meshes/default/dataplanes/web-1/_overview')).dataplaneInsight;
    assert.equal(insight.mTLS.issuedBackend, 'ca-1');
    assert.equal(insight.subscriptions[0].connectTime, iso(clock.now()));
    assert.equal(insight.subscriptions[0].disconnectTime, undefined);
  } finally {
    await t.close();
  }
});

test('mesh insights count dataplanes by type, online and offline, and services, as every write changes them', async () => {
  const clock = new FakeClock();
  const t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' }, { clock });
  try {
    await put(t, '/meshes/default', mtlsMesh('default'));
    await put(t, '/meshes/other', mtlsMesh('other'));
    await put(t, '/meshes/default/dataplanes/web-1', sidecar('default', 'web-1', 'web'));
    await put(t, '/meshes/default/dataplanes/web-2', sidecar('default', 'web-2', 'web'));
    await put(t, '/meshes/default/dataplanes/api-1', sidecar('default', 'api-1', 'api'));
    await put(t, '/meshes/default/dataplanes/edge', gateway('default', 'edge', 'edge', 'BUILTIN'));
    await put(t, '/meshes/default/dataplanes/kong', gateway('default', 'kong', 'kong', 'DELEGATED'));
    await put(t, '/meshes/other/dataplanes/db-1', sidecar('other', 'db-1', 'db'));
    await poll(t, 'default', 'web-1');
    await poll(t, 'default', 'edge');
    await poll(t, 'other', 'db-1');

    const insight = await get(t, '/mesh-insights/default');
    const stat = (total: number, online: number) => ({ total, online, offline: total - online, partiallyDegraded: 0 });
    assert.deepEqual(insight.dataplanes, { total: 5, online: 2, offline: 3 });
    assert.deepEqual(insight.dataplanesByType, {
      standard: stat(3, 1),
      gateway: stat(2, 1),
      gatewayBuiltin: stat(1, 1),
      gatewayDelegated: stat(1, 0),
    });
    assert.deepEqual(insight.services, { total: 4, internal: 2, external: 0 });
    assert.deepEqual(insight.policies, {});
    assert.deepEqual(insight.dpVersions, { kumaDp: {}, envoy: {} });
    assert.equal(insight.resources.Dataplane.total, 5);
    assert.equal(insight.resources.Secret.total >= 2, true, 'the builtin CA secrets');

    // A replaced dataplane moves its counts; a deleted one takes them away.
    await put(t, '/meshes/default/dataplanes/web-2', sidecar('default', 'web-2', 'payments'));
    assert.deepEqual((await get(t, '/mesh-insights/default')).services, { total: 5, internal: 3, external: 0 });
    assert.equal((await t.app.inject({ method: 'DELETE', url: '/meshes/default/dataplanes/api-1' })).statusCode, 200);
    await put(t, '/meshes/default/dataplanes/kong?dryRun=true', sidecar('default', 'kong', 'dry'));
    const after = await get(t, '/mesh-insights/default');
    assert.deepEqual(after.services, { total: 4, internal: 2, external: 0 }, 'api gone, the dry run counted nothing');
    assert.deepEqual(after.dataplanesByType.standard, stat(2, 1));

    // Out of the online window, the connected ones count offline.
    await clock.advance(WINDOW_MS + 1_000);
    assert.deepEqual((await get(t, '/mesh-insights/default')).dataplanes, { total: 4, online: 0, offline: 4 });

    const list = await get(t, '/mesh-insights');
    assert.deepEqual(
      list.items.map((i: { name: string; dataplanes: { total: number } }) => [i.name, i.dataplanes.total]),
      [
        ['default', 4],
        ['other', 1],
      ],
    );
    assert.equal(list.next, null);
  } finally {
    await t.close();
  }
});

test('the global insight sums every mesh (Kuma GlobalInsightBase)', async () => {
  const t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
  try {
    await put(t, '/meshes/default', mtlsMesh('default'));
    await put(t, '/meshes/other', mtlsMesh('other'));
    await put(t, '/meshes/default/dataplanes/web-1', sidecar('default', 'web-1', 'web'));
    await put(t, '/meshes/default/dataplanes/edge', gateway('default', 'edge', 'edge', 'BUILTIN'));
    await put(t, '/meshes/other/dataplanes/web-1', sidecar('other', 'web-1', 'web')); // web again, in another mesh
    await poll(t, 'other', 'web-1');

    const global = await get(t, '/global-insight');
    assert.ok(!Number.isNaN(Date.parse(global.createdAt)));
    assert.deepEqual(global.meshes, { total: 2 });
    assert.deepEqual(global.dataplanes.standard, { total: 2, online: 1, offline: 1, partiallyDegraded: 0 });
    assert.deepEqual(global.dataplanes.gatewayBuiltin, { total: 1, online: 0, offline: 1, partiallyDegraded: 0 });
    assert.deepEqual(global.dataplanes.gatewayDelegated, { total: 0, online: 0, offline: 0, partiallyDegraded: 0 });
    assert.equal(global.services.total, 3, 'web in two meshes is two services, plus the gateway');
    assert.equal(global.services.internal.total, 2);
    assert.equal(global.services.gatewayBuiltin.total, 1);
    assert.deepEqual(global.services.external, { total: 0 });
    assert.deepEqual(global.zones.controlPlanes, { online: 1, total: 1 });
    assert.deepEqual(global.policies, { total: 0 });
    assert.deepEqual(global.resources.Dataplane, { total: 3 });

    // Deleting a mesh (after its dataplanes) takes its counts away.
    assert.equal((await t.app.inject({ method: 'DELETE', url: '/meshes/other/dataplanes/web-1' })).statusCode, 200);
    assert.equal((await t.app.inject({ method: 'DELETE', url: '/meshes/other' })).statusCode, 200);
    const after = await get(t, '/global-insight');
    assert.deepEqual([after.meshes.total, after.dataplanes.standard.total, after.services.total], [1, 1, 2]);
  } finally {
    await t.close();
  }
});
