import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { expectError, json } from '../helpers/api-assert.js';

type Item = { name: string; labels?: Record<string, string> };
type Page = { total: number; items: Item[]; next: string | null };

const inbound = (port: number, tags: Record<string, string>) => ({ port, servicePort: port + 1000, tags });

/** Facts from Kuma 2.14.3's api-server (filters/filtering.go and its dataplanes+insights tag table). */
describe("Kuma's dataplane list filters and computed labels", () => {
  let t: TestApp;
  const dataplanes: Record<string, object> = {
    'backend-1': {
      networking: { address: '10.0.0.1', inbound: [inbound(8080, { 'kuma.io/service': 'backend', version: 'v1' })] },
    },
    'backend-2': {
      networking: { address: '10.0.0.2', inbound: [inbound(8080, { 'kuma.io/service': 'backend', version: 'v2' })] },
    },
    // The two tags sit on different inbounds: a selector must match one inbound as a whole.
    split: {
      networking: {
        address: '10.0.0.3',
        inbound: [
          inbound(8080, { 'kuma.io/service': 'backend' }),
          inbound(8081, { 'kuma.io/service': 'metrics', version: 'v2' }),
        ],
      },
    },
    colon: {
      networking: { address: '10.0.0.4', inbound: [inbound(8080, { 'kuma.io/service': 'web', tagcolumn: 'tag:v' })] },
    },
    'gateway-delegated': { networking: { address: '10.0.0.5', gateway: { tags: { 'kuma.io/service': 'edge' } } } },
    'gateway-builtin': {
      networking: { address: '10.0.0.6', gateway: { type: 'BUILTIN', tags: { 'kuma.io/service': 'edge-builtin' } } },
    },
    'outbound-only': {
      networking: {
        address: '10.0.0.7',
        transparentProxying: { redirectPortInbound: 15006, redirectPortOutbound: 15001 },
      },
    },
  };

  before(async () => {
    t = await createTestApp();
    for (const [name, spec] of Object.entries(dataplanes)) {
      const res = await t.app.inject(
        json('PUT', `/meshes/default/dataplanes/${name}`, { type: 'Dataplane', mesh: 'default', name, ...spec }),
      );
      assert.equal(res.statusCode, 201, `${name}: ${res.body}`);
    }
  });
  after(async () => {
    await t.close();
  });

  const names = async (query: string, base = '/meshes/default/dataplanes'): Promise<string[]> => {
    const res = await t.app.inject({ method: 'GET', url: `${base}?${query}` });
    assert.equal(res.statusCode, 200, `${query}: ${res.body}`);
    const page = res.json() as Page;
    assert.equal(page.total, page.items.length);
    return page.items.map((i) => i.name);
  };

  it('tag=<key>:<value> matches a substring of the value, on one inbound or the gateway; several tags are ANDed', async () => {
    assert.deepEqual(await names('tag=kuma.io/service:backend'), ['backend-1', 'backend-2', 'split']);
    // A substring, as Kuma's "should list with only subset tag" case.
    assert.deepEqual(await names('tag=kuma.io/service:ck'), ['backend-1', 'backend-2', 'split']);
    assert.deepEqual(await names('tag=kuma.io/service:backend&tag=version:v1'), ['backend-1']);
    // split has backend on one inbound and v2 on another: no single inbound matches both.
    assert.deepEqual(await names('tag=kuma.io/service:backend&tag=version:v2'), ['backend-2']);
    assert.deepEqual(await names('tag=kuma.io/service:backend&tag=version:v3'), []);
    assert.deepEqual(await names('tag=kuma.io/service:edge'), ['gateway-builtin', 'gateway-delegated']);
    // Only the first ':' separates key and value.
    assert.deepEqual(await names('tag=tagcolumn:tag:v'), ['colon']);
    // '*' matches any value of the key; an empty value any value too (substring of every string).
    assert.deepEqual(await names('tag=version:*'), ['backend-1', 'backend-2', 'split']);
    assert.deepEqual(await names('tag=version:'), ['backend-1', 'backend-2', 'split']);
    // A parameter without ':' is ignored, as Kuma.
    assert.equal((await names('tag=version')).length, Object.keys(dataplanes).length);
    // The last value of a repeated key wins.
    assert.deepEqual(await names('tag=version:v1&tag=version:v2'), ['backend-2', 'split']);
  });

  it('tag= also filters /dataplanes, the insight lists, and combines with name and paging', async () => {
    assert.deepEqual(await names('tag=kuma.io/service:backend', '/dataplanes'), ['backend-1', 'backend-2', 'split']);
    assert.deepEqual(await names('tag=kuma.io/service:backend', '/meshes/default/dataplanes+insights'), [
      'backend-1',
      'backend-2',
      'split',
    ]);
    assert.deepEqual(await names('tag=kuma.io/service:backend&name=-2', '/meshes/default/dataplanes/_overview'), [
      'backend-2',
    ]);
    const res = await t.app.inject({
      method: 'GET',
      url: '/meshes/default/dataplanes?tag=kuma.io/service:backend&size=2',
    });
    const page = res.json() as Page;
    assert.equal(page.total, 3);
    assert.deepEqual(
      page.items.map((i) => i.name),
      ['backend-1', 'backend-2'],
    );
    assert.equal(
      page.next,
      'http://localhost:80/meshes/default/dataplanes?offset=2&size=2&tag=kuma.io%2Fservice%3Abackend',
    );
  });

  it('gateway=true|false|builtin|delegated, any case; another value is a 400 at the route template', async () => {
    assert.deepEqual(await names('gateway=true'), ['gateway-builtin', 'gateway-delegated']);
    assert.deepEqual(await names('gateway=false'), ['backend-1', 'backend-2', 'colon', 'outbound-only', 'split']);
    assert.deepEqual(await names('gateway=BUILTIN'), ['gateway-builtin']);
    assert.deepEqual(await names('gateway=delegated'), ['gateway-delegated']);
    expectError(await t.app.inject({ method: 'GET', url: '/meshes/default/dataplanes?gateway=Maybe' }), {
      status: 400,
      title: 'Could not retrieve resources',
      params: [
        {
          field: '/meshes/{mesh}/dataplanes.gateway',
          reason: "shoud use `true`, `false`, 'builtin' or 'delegated' instead of maybe",
        },
      ],
    });
    expectError(await t.app.inject({ method: 'GET', url: '/meshes/default/dataplanes+insights?filter[name]=x' }), {
      status: 400,
      title: 'Could not retrieve resources',
      params: [
        { field: '/meshes/{mesh}/dataplanes+insights.filter[name]', reason: 'filters are only supported on labels' },
      ],
    });
  });

  it('a dataplane gets the labels Kuma computes on Universal; filter[labels...] matches them', async () => {
    const dp = (await t.app.inject({ method: 'GET', url: '/meshes/default/dataplanes/backend-1' })).json() as Item;
    assert.deepEqual(dp.labels, {
      'kuma.io/mesh': 'default',
      'kuma.io/origin': 'zone',
      'kuma.io/zone': 'default',
      'kuma.io/env': 'universal',
      'kuma.io/proxy-type': 'sidecar',
    });
    const builtin = (
      await t.app.inject({ method: 'GET', url: '/meshes/default/dataplanes/gateway-builtin' })
    ).json() as Item;
    assert.equal(builtin.labels?.['kuma.io/proxy-type'], 'gateway');
    assert.deepEqual(await names('filter[labels.kuma.io/proxy-type]=gateway'), ['gateway-builtin']);
    assert.equal((await names('filter[labels.kuma.io/origin]=zone')).length, Object.keys(dataplanes).length);
    // (No display-name above: Kuma sets it for Kubernetes resources only.) A Mesh gets no computed labels.
    const mesh = (await t.app.inject({ method: 'GET', url: '/meshes/default' })).json() as Item;
    assert.equal(mesh.labels, undefined);
  });

  it("the caller's own kuma.io labels win, but origin and zone may not change afterwards", async () => {
    const body = (labels: Record<string, string>) => ({
      type: 'Dataplane',
      mesh: 'default',
      name: 'labelled',
      labels,
      ...dataplanes['backend-1']!,
    });
    const put = (labels: Record<string, string>) =>
      t.app.inject(json('PUT', '/meshes/default/dataplanes/labelled', body(labels)));
    assert.equal((await put({ team: 'a', 'kuma.io/origin': 'zone' })).statusCode, 201);
    expectError(await put({ 'kuma.io/origin': 'global' }), {
      status: 400,
      title: 'Could not update a resource',
      params: [
        { field: 'labels["kuma.io/origin"]', reason: 'is immutable, cannot be changed from "zone" to "global"' },
        // A global origin computes no zone label: that would remove it.
        { field: 'labels["kuma.io/zone"]', reason: 'is immutable, cannot be removed (was "default")' },
      ],
    });
    expectError(await put({ 'kuma.io/zone': 'east' }), {
      status: 400,
      title: 'Could not process a resource',
      params: [{ field: 'labels["kuma.io/zone"]', reason: 'kuma.io/zone label should have default value' }],
    });
    expectError(await put({ 'kuma.io/mesh': 'other' }), {
      status: 400,
      title: 'Could not process a resource',
      params: [
        { field: 'labels["kuma.io/mesh"]', reason: 'kuma.io/mesh label must not differ from mesh set on resource' },
      ],
    });
    expectError(await put({ 'kuma.io/origin': 'elsewhere' }), {
      status: 400,
      title: 'Could not process a resource',
      params: [{ field: 'labels["kuma.io/origin"]', reason: 'unknown resource origin "elsewhere"' }],
    });
    // Leaving them out recomputes the same values: an ordinary update.
    assert.equal((await put({ team: 'b' })).statusCode, 200);
    const got = (await t.app.inject({ method: 'GET', url: '/meshes/default/dataplanes/labelled' })).json() as Item;
    assert.equal(got.labels?.team, 'b');
    assert.equal(got.labels?.['kuma.io/origin'], 'zone');
  });
});
