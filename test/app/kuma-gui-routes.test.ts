// The rest of what Kuma's GUI calls, from Kuma 2.14's schemas and kuma-cp's answers: empty collections of kinds meshcp
// does not model, /_resources, a dataplane's _layout, /config, the Envoy inspection endpoints, `gui` in the index,
// the CORS allow-list and serving a kuma-gui build at /gui (the rotation view stays at /meshcp-gui).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { createTestApp, type TestApp } from '../helpers/app.js';

const GUI_STAND_IN = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'fixtures', 'kuma-gui-dist');

async function inject(
  t: TestApp,
  url: string,
  headers: Record<string, string> = {},
  method: 'GET' | 'OPTIONS' = 'GET',
) {
  return t.app.inject({ method, url, headers });
}

function assertKumaError(res: { statusCode: number; json(): any }, status: number, title: string, detail?: string) {
  assert.equal(res.statusCode, status);
  const body = res.json();
  assert.equal(body.type, '/std-errors');
  assert.equal(body.status, status);
  assert.equal(body.title, title);
  if (detail !== undefined) assert.equal(body.detail, detail);
}

test('collections meshcp does not model answer as Kuma answers an empty list; their items are 404s', async () => {
  const t = await createTestApp();
  try {
    const empty = { total: 0, items: [], next: null };
    for (const path of [
      'meshidentities',
      'meshtrusts',
      'meshgateways',
      'service-insights',
      'workloads',
      'meshservices',
      'meshexternalservices',
      'meshmultizoneservices',
      'external-services',
    ]) {
      const res = await inject(t, `/meshes/default/${path}`);
      assert.equal(res.statusCode, 200, path);
      assert.deepEqual(res.json(), empty, path);
      assertKumaError(await inject(t, `/meshes/nope/${path}`), 404, 'Failed to retrieve Mesh');
      assertKumaError(await inject(t, `/meshes/default/${path}/x`), 404, 'Could not retrieve a resource', 'Not found');
      assertKumaError(
        await inject(t, `/meshes/default/${path}?size=0`),
        400,
        'Could not retrieve resources',
        'Invalid page size',
      );
    }
    for (const path of [
      '/zoneegresses',
      '/zoneegresses/_overview',
      '/zoneingresses',
      '/zoneingresses/_overview',
      '/hostnamegenerators',
    ]) {
      assert.deepEqual((await inject(t, path)).json(), empty, path);
    }
    assertKumaError(await inject(t, '/zoneegresses/ze-1/_overview'), 404, 'Could not retrieve a resource');
    assertKumaError(await inject(t, '/zoneegresses?offset=x'), 400, 'Could not retrieve resources');
  } finally {
    await t.close();
  }
});

test('/_resources describes every kind as Kuma does, sorted by name', async () => {
  const t = await createTestApp();
  try {
    const { resources } = (await inject(t, '/_resources')).json();
    const names = resources.map((r: { name: string }) => r.name);
    assert.deepEqual(names, [...names].sort());
    const byName = Object.fromEntries(resources.map((r: { name: string }) => [r.name, r]));
    assert.deepEqual(byName.Dataplane, {
      name: 'Dataplane',
      scope: 'Mesh',
      readOnly: false,
      path: 'dataplanes',
      singularDisplayName: 'Dataplane',
      pluralDisplayName: 'Dataplanes',
      shortName: 'dp',
      includeInFederation: false,
    });
    assert.equal(byName.MeshTrust.path, 'meshtrusts');
    assert.equal(byName.MeshTrust.readOnly, false, 'meshcp stores MeshTrusts');
    assert.equal(byName.MeshGateway.readOnly, true, 'meshcp does not take MeshGateways yet');
    assert.equal(byName.Mesh.scope, 'Global');
    // Every kind it lists answers its collection.
    for (const r of resources) {
      const url = r.scope === 'Mesh' ? `/meshes/default/${r.path}` : `/${r.path}`;
      assert.equal((await inject(t, url)).statusCode, 200, url);
    }
  } finally {
    await t.close();
  }
});

test("a dataplane's _layout names its inbounds and outbounds with Kuma's KRIs", async () => {
  const t = await createTestApp();
  try {
    const dp = {
      type: 'Dataplane',
      mesh: 'default',
      name: 'web-1',
      labels: { team: 'a' },
      networking: {
        address: '127.0.0.1',
        inbound: [
          { port: 20001, servicePort: 8080, tags: { 'kuma.io/service': 'web', 'kuma.io/protocol': 'http' } },
          { port: 20002, name: 'admin', tags: { 'kuma.io/service': 'web-admin' } },
        ],
        outbound: [
          { port: 33033, tags: { 'kuma.io/service': 'redis' } },
          { port: 10001, tags: { 'kuma.io/service': 'backend' } },
        ],
      },
    };
    assert.equal(
      (await t.app.inject({ method: 'PUT', url: '/meshes/default/dataplanes/web-1', payload: dp })).statusCode,
      201,
    );
    const layout = (await inject(t, '/meshes/default/dataplanes/web-1/_layout')).json();
    assert.equal(layout.labels['kuma.io/zone'], 'default', "meshcp's computed zone label, which Kuma's KRIs carry");
    assert.equal(layout.kri, 'kri_dp_default_default__web-1_');
    assert.equal(layout.labels.team, 'a');
    assert.deepEqual(layout.inbounds, [
      {
        kri: 'kri_dp_default_default__web-1_20001',
        port: 20001,
        protocol: 'http',
        proxyResourceName: 'self_inbound_dp_20001',
      },
      {
        kri: 'kri_dp_default_default__web-1_admin',
        port: 20002,
        protocol: 'tcp',
        proxyResourceName: 'self_inbound_dp_admin',
      },
    ]);
    assert.deepEqual(layout.outbounds, [
      {
        kri: 'kri_msvc_default_default__backend_10001',
        port: 10001,
        protocol: 'tcp',
        proxyResourceName: 'kri_msvc_default_default__backend_10001',
      },
      {
        kri: 'kri_msvc_default_default__redis_33033',
        port: 33033,
        protocol: 'tcp',
        proxyResourceName: 'kri_msvc_default_default__redis_33033',
      },
    ]);
    assert.deepEqual(layout.listeners, []);
    assertKumaError(await inject(t, '/meshes/default/dataplanes/nope/_layout'), 404, 'Could not retrieve a resource');
  } finally {
    await t.close();
  }
});

test('stats, clusters, xds and _config answer as kuma-cp does for a proxy whose admin API it cannot reach', async () => {
  const t = await createTestApp();
  try {
    const dp = {
      type: 'Dataplane',
      mesh: 'default',
      name: 'web-1',
      networking: { address: '127.0.0.1', inbound: [{ port: 20001, tags: { 'kuma.io/service': 'web' } }] },
    };
    assert.equal(
      (await t.app.inject({ method: 'PUT', url: '/meshes/default/dataplanes/web-1', payload: dp })).statusCode,
      201,
    );
    for (const path of ['stats', 'clusters', 'xds']) {
      assertKumaError(
        await inject(t, `/meshes/default/dataplanes/web-1/${path}`),
        500,
        'Could not execute admin operation',
        'Internal Server Error',
      );
      assertKumaError(await inject(t, `/meshes/default/dataplanes/nope/${path}`), 404, 'Could not retrieve a resource');
    }
    assertKumaError(
      await inject(t, '/meshes/default/dataplanes/web-1/_config'),
      500,
      'Failed to inspect proxy config',
      'Internal Server Error',
    );
    assertKumaError(await inject(t, '/meshes/nope/dataplanes/web-1/_config'), 404, 'Failed to retrieve Mesh');
  } finally {
    await t.close();
  }
});

test('/config is the effective configuration with secrets and tokens redacted; GET / names the GUI', async () => {
  const adminToken = 'an-admin-token-of-more-than-32-characters-0123456789';
  const secretsKey = Buffer.alloc(32, 7).toString('base64');
  const t = await createTestApp({
    MESHCP_ADMIN_TOKEN: adminToken,
    MESHCP_SECRETS_KEY: secretsKey,
    MESHCP_API_CORS_ALLOWED_DOMAINS: 'https://gui\\.example\\.com',
  });
  try {
    const res = await inject(t, '/config');
    assert.equal(res.statusCode, 200);
    assert.ok(!res.body.includes(adminToken) && !res.body.includes(secretsKey), 'no secret leaves the process');
    const config = res.json();
    assert.deepEqual(
      [config.environment, config.mode, config.adminToken, config.secretsKey],
      ['universal', 'zone', '*****', '*****'],
    );
    assert.equal(config.dpOnlineWindowMs, 90_000);
    assert.deepEqual(config.corsAllowedDomains, ['https://gui\\.example\\.com']);
    assert.equal(typeof config.store.type, 'string');

    const index = (await inject(t, '/')).json();
    assert.equal(index.gui, '/gui');
    assert.equal(index.product, 'meshcp');
  } finally {
    await t.close();
  }
});

test('CORS: an allowed origin is echoed and its preflight answered; others get nothing; auth is unchanged', async () => {
  const t = await createTestApp({
    MESHCP_API_CORS_ALLOWED_DOMAINS: 'https://gui\\.example\\.com, http://localhost:\\d+',
  });
  try {
    const allowed = { origin: 'https://gui.example.com' };
    const preflight = await inject(
      t,
      '/meshes',
      { ...allowed, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      'OPTIONS',
    );
    assert.equal(preflight.statusCode, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://gui.example.com');
    assert.match(String(preflight.headers['access-control-allow-methods']), /GET/);
    assert.equal(preflight.headers['access-control-allow-headers'], 'authorization');

    const refused = await inject(
      t,
      '/meshes',
      { origin: 'https://evil.example.com', 'access-control-request-method': 'GET' },
      'OPTIONS',
    );
    assertKumaError(refused, 403, 'Access Denied');
    assert.equal(refused.headers['access-control-allow-origin'], undefined);
    assert.equal(
      (await inject(t, '/meshes', { origin: 'https://gui.example.com.evil.net' })).headers[
        'access-control-allow-origin'
      ],
      undefined,
      'anchored',
    );
    assert.equal(
      (await inject(t, '/meshes', { origin: 'http://localhost:8080' })).headers['access-control-allow-origin'],
      'http://localhost:8080',
    );

    // A page on another origin is no localhost admin: without the token it reads nothing, with it everything.
    const crossSite = { ...allowed, 'sec-fetch-site': 'cross-site' };
    const denied = await inject(t, '/meshes', crossSite);
    assert.equal(denied.statusCode, 403);
    assert.equal(
      denied.headers['access-control-allow-origin'],
      'https://gui.example.com',
      'the browser may read the refusal',
    );
    assert.equal(
      (await inject(t, '/meshes', { ...crossSite, authorization: 'Bearer test-admin-token' })).statusCode,
      200,
    );
  } finally {
    await t.close();
  }
  const closed = await createTestApp();
  try {
    const res = await inject(
      closed,
      '/meshes',
      { origin: 'https://gui.example.com', 'access-control-request-method': 'GET' },
      'OPTIONS',
    );
    assert.ok(res.statusCode >= 400, 'no allow-list: no preflight is answered');
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  } finally {
    await closed.close();
  }
});

test('MESHCP_API_KUMA_GUI_DIR: the build is served at /gui with the config block filled as kuma-cp fills it', async () => {
  const t = await createTestApp({ MESHCP_API_KUMA_GUI_DIR: GUI_STAND_IN });
  try {
    for (const url of [
      '/gui',
      '/gui/',
      '/gui/meshes/default/data-planes',
      '/gui/..%2F..%2F..%2F..%2Fetc%2Fpasswd',
      '/gui/assets/missing.js',
    ]) {
      const page = await inject(t, url);
      assert.equal(page.statusCode, 200, url);
      assert.match(String(page.headers['content-type']), /text\/html/, url);
      assert.match(page.body, /<base href="\/gui\/" \/>/, url);
      assert.doesNotMatch(page.body, /root:/, url);
      const config = JSON.parse(/id="kuma-config">([^<]*)</.exec(page.body)![1]!);
      assert.deepEqual(config, {
        apiUrl: '/',
        baseGuiPath: '/gui',
        version: config.version,
        basedOnKuma: '2.14.3',
        product: 'meshcp',
        mode: 'zone',
        environment: 'universal',
        storeType: config.storeType,
        apiReadOnly: false,
      });
      assert.ok(['sqlite', 'postgres'].includes(config.storeType));
    }
    const asset = await inject(t, '/gui/assets/app.js');
    assert.equal(asset.statusCode, 200);
    assert.match(String(asset.headers['content-type']), /javascript/);
    assert.match(asset.body, /stand-in/);
    // meshcp's own rotation view moved aside, and still works.
    const view = await inject(t, '/meshcp-gui');
    assert.equal(view.statusCode, 200);
    assert.match(view.body, /\/meshcp-gui\/gui\.js/);
    assert.equal((await inject(t, '/meshcp-gui/api/state')).statusCode, 200);
  } finally {
    await t.close();
  }
  const plain = await createTestApp();
  try {
    assert.match(
      (await inject(plain, '/gui')).body,
      /\/meshcp-gui\/gui\.js/,
      'without a build, /gui is the rotation view',
    );
    assert.equal((await inject(plain, '/meshcp-gui')).statusCode, 200);
  } finally {
    await plain.close();
  }
});
