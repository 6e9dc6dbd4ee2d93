// MeshIdentity and MeshTrust over REST: Kuma 2.14.3's validator vectors and its put_meshtrust CRUD case (as data, in
// test/fixtures/kuma-2.14), Kuma's envelope, computed labels, `status` ignored on writes, lists and `GET /_kri/{kri}`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.js';
import { expectError } from '../helpers/api-assert.js';

interface Vector {
  id: string;
  resource: 'MeshIdentity' | 'MeshTrust';
  yaml: string;
  expect: { accept: boolean; violations?: { field: string; message: string }[] };
}
interface CrudCase {
  name: string;
  mesh: Record<string, unknown>;
  requests: { method: 'GET' | 'PUT'; url: string; status: number; body?: unknown; response: Record<string, unknown> }[];
}
const fixture = (name: string) =>
  parseYaml(readFileSync(new URL(`../fixtures/kuma-2.14/${name}`, import.meta.url), 'utf8')) as unknown;
const vectors = fixture('meshidentity-meshtrust-validator.yaml') as Vector[];
const crud = fixture('api-server-meshtrust.yaml') as CrudCase[];
const PATHS = { MeshIdentity: 'meshidentities', MeshTrust: 'meshtrusts' } as const;

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const put = (t: TestApp, url: string, body: unknown, contentType = 'application/json') =>
  t.app.inject({
    method: 'PUT',
    url,
    headers: { ...auth, 'content-type': contentType },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
const get = (t: TestApp, url: string) => t.app.inject({ method: 'GET', url, headers: auth });

const CA_PEM = (crud[0]!.requests[0]!.body as { spec: { caBundles: { pem: { value: string } }[] } }).spec.caBundles[0]!
  .pem.value;
const trust = (name: string, spec: Record<string, unknown> = {}) => ({
  type: 'MeshTrust',
  mesh: 'default',
  name,
  spec: { trustDomain: 'default.default.mesh.local', caBundles: [{ type: 'Pem', pem: { value: CA_PEM } }], ...spec },
});

describe('MeshIdentity and MeshTrust over REST', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
  });
  after(async () => {
    await t.close();
  });

  describe("Kuma 2.14.3's validator vectors, PUT as the spec of a resource", () => {
    vectors.forEach((v, i) => {
      it(v.id, async () => {
        const name = `vector-${i}`;
        const url = `/meshes/default/${PATHS[v.resource]}/${name}`;
        const res = await put(t, url, { type: v.resource, mesh: 'default', name, spec: parseYaml(v.yaml) as unknown });
        if (v.expect.accept) {
          assert.equal(res.statusCode, 201, res.body);
          assert.equal((await get(t, url)).statusCode, 200);
          return;
        }
        expectError(res, {
          status: 400,
          title: 'Could not process a resource',
          detail: 'Resource is not valid',
          params: v.expect.violations!.map((x) => ({ field: x.field, reason: x.message })),
        });
        assert.equal((await get(t, url)).statusCode, 404, 'nothing stored');
      });
    });
  });

  describe("Kuma 2.14.3's put_meshtrust CRUD case", () => {
    for (const c of crud) {
      it(c.name, async () => {
        assert.equal((await put(t, `/meshes/${c.mesh.name as string}`, c.mesh)).statusCode, 201);
        for (const step of c.requests) {
          const res = step.method === 'PUT' ? await put(t, step.url, step.body) : await get(t, step.url);
          assert.equal(res.statusCode, step.status, `${step.method} ${step.url}: ${res.body}`);
          const body = res.json() as Record<string, unknown>;
          const expected = { ...step.response };
          for (const key of ['creationTime', 'modificationTime']) {
            if (!(key in expected)) continue;
            assert.match(String(body[key]), /^\d{4}-\d\d-\d\dT/, `${key} set by the server`);
            expected[key] = body[key];
          }
          // Same members, same values, in Kuma's order (JSON text equality).
          assert.equal(JSON.stringify(body), JSON.stringify(expected), `${step.method} ${step.url}`);
        }
        const second = (await get(t, '/meshes/meshtrust-test/meshtrusts/trust-2')).json() as Record<string, unknown>;
        assert.deepEqual(second.status, {}, 'status.origin sent in a PUT is ignored');
      });
    }
  });

  it("answers in Kuma's envelope: computed labels, kri, spec with Go durations, status", async () => {
    const body = {
      type: 'MeshIdentity',
      name: 'identity',
      labels: { team: 'a' },
      spec: {
        provider: {
          type: 'Bundled',
          bundled: {
            insecureAllowSelfSigned: true,
            autogenerate: { enabled: true },
            certificateParameters: { expiry: '90m' },
          },
        },
        selector: { dataplane: {} },
      },
      status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'set by a client' }] },
    };
    assert.equal(
      (await put(t, '/meshes/default/meshidentities/identity', body)).statusCode,
      201,
      'mesh defaults to "default", as Kuma',
    );
    const res = await get(t, '/meshes/default/meshidentities/identity');
    assert.equal(res.statusCode, 200, res.body);
    const got = res.json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(got), [
      'type',
      'mesh',
      'name',
      'creationTime',
      'modificationTime',
      'labels',
      'kri',
      'spec',
      'status',
    ]);
    assert.deepEqual(got.labels, {
      'kuma.io/env': 'universal',
      'kuma.io/mesh': 'default',
      'kuma.io/origin': 'zone',
      'kuma.io/zone': 'default',
      team: 'a',
    });
    assert.equal(got.kri, 'kri_mid_default_default__identity_');
    assert.equal(
      JSON.stringify(got.spec),
      JSON.stringify({
        selector: { dataplane: {} },
        provider: {
          type: 'Bundled',
          bundled: {
            insecureAllowSelfSigned: true,
            autogenerate: { enabled: true },
            certificateParameters: { expiry: '1h30m0s' },
          },
        },
      }),
      "Go's field order and duration form",
    );
    const conditions = (got.status as { conditions?: { message: string }[] }).conditions ?? [];
    assert.ok(!conditions.some((c) => c.message === 'set by a client'), 'a status in the body is never stored');

    const yaml =
      'type: MeshTrust\nname: yaml-trust\nmesh: default\nspec:\n  trustDomain: example.org\n  caBundles:\n  - type: Pem\n    pem:\n      value: |\n' +
      CA_PEM.split('\n')
        .map((l) => `        ${l}`)
        .join('\n') +
      '\n';
    const created = await put(t, '/meshes/default/meshtrusts/yaml-trust', yaml, 'application/yaml');
    assert.equal(created.statusCode, 201, created.body);
    assert.deepEqual(created.json(), {}, 'no warning without spec.origin');
    const updated = await put(
      t,
      '/meshes/default/meshtrusts/yaml-trust',
      trust('yaml-trust', { origin: { kri: 'x' } }),
    );
    assert.equal(updated.statusCode, 200);
    assert.deepEqual(updated.json(), { warnings: ['setting spec.origin field is deprecated'] });
  });

  it("answers schema violations in kube-openapi's words, then the rules, then Kuma's request checks", async () => {
    const cases: { body: unknown; params: { field: string; reason: string }[] }[] = [
      {
        body: { type: 'MeshTrust', name: 's1', mesh: 'default' },
        params: [{ field: '', reason: '.spec in body is required' }],
      },
      {
        body: { ...trust('s2'), type: 'MeshTrafficPermission' },
        params: [{ field: '', reason: 'type in body should be one of [MeshTrust]' }],
      },
      {
        body: trust('s3', { trustDomain: 5 }),
        params: [{ field: 'spec.trustDomain', reason: 'in body must be of type string: "integer"' }],
      },
      {
        body: trust('s4', { caBundles: [{ pem: { value: CA_PEM } }] }),
        params: [{ field: 'spec.caBundles[0].type', reason: 'in body is required' }],
      },
      { body: trust('s5', { caBundles: [] }), params: [{ field: 'spec.caBundles', reason: 'must not be empty' }] },
      {
        body: trust('s6', { caBundles: [{ type: 'Der' }] }),
        params: [{ field: 'spec.caBundles.type', reason: 'Der must be one of: Pem' }],
      },
      {
        body: { ...trust('s7'), spec: { caBundles: [{ type: 'Pem', pem: { value: CA_PEM } }] } },
        params: [{ field: 'spec.trustDomain', reason: 'trustDomain needs to be defined' }],
      },
      {
        body: { ...trust('other'), labels: { 'kuma.io/zone': 'elsewhere' } },
        params: [
          { field: 'name', reason: 'name from the URL has to be the same as in body' },
          { field: 'labels["kuma.io/zone"]', reason: 'kuma.io/zone label should have default value' },
        ],
      },
    ];
    // Not an object at all: the whole body is named, no 500.
    for (const body of [[1, 2], 'text', 5]) {
      const res = await put(t, '/meshes/default/meshtrusts/odd', body === 'text' ? '"text"' : body);
      assert.equal(res.statusCode, 400, res.body);
    }
    for (const [i, c] of cases.entries()) {
      const res = await put(t, `/meshes/default/meshtrusts/s${i + 1}`, c.body);
      expectError(res, {
        status: 400,
        title: 'Could not process a resource',
        detail: 'Resource is not valid',
        params: c.params,
      });
    }
    const identity = (spec: unknown) => ({ type: 'MeshIdentity', name: 'bad', spec });
    const more: { spec: unknown; params: { field: string; reason: string }[] }[] = [
      { spec: { provider: {} }, params: [{ field: 'spec.provider.type', reason: 'in body is required' }] },
      {
        spec: { provider: { type: 'Vault' } },
        params: [{ field: 'spec.provider.type', reason: 'in body should be one of [Bundled Spire Extension]' }],
      },
      {
        spec: { provider: { type: 'Bundled' } },
        params: [{ field: 'spec.provider.bundled', reason: 'configuration needs to be defined' }],
      },
      {
        spec: {
          provider: {
            type: 'Bundled',
            bundled: { autogenerate: { enabled: true }, certificateParameters: { expiry: '-1h' } },
          },
        },
        params: [
          { field: 'spec.provider.bundled.certificateParameters.expiry', reason: 'must not be negative when defined' },
        ],
      },
      {
        spec: {
          provider: {
            type: 'Bundled',
            bundled: { autogenerate: { enabled: true }, certificateParameters: { expiry: '1d' } },
          },
        },
        params: [
          {
            field: 'spec.provider.bundled.certificateParameters.expiry',
            reason: 'time: unknown unit "d" in duration "1d"',
          },
        ],
      },
      {
        spec: {
          provider: {
            type: 'Bundled',
            bundled: {
              ca: {
                certificate: { type: 'File', file: { path: '../etc/ca.pem' } },
                privateKey: { type: 'Secret', secretRef: { kind: 'Mesh', name: '' } },
              },
            },
          },
        },
        params: [
          {
            field: 'spec.provider.bundled.ca.certificate.file.path',
            reason: 'file path contains directory traversal sequence: ../etc/ca.pem',
          },
          { field: 'spec.provider.bundled.ca.privateKey.secretRef.kind', reason: 'Mesh must be one of: Secret' },
          { field: 'spec.provider.bundled.ca.privateKey.secretRef.name', reason: 'must be defined' },
        ],
      },
      {
        spec: { spiffeID: { path: '/workload/{{ .Workload' } },
        params: [{ field: 'spec.spiffeID.path', reason: "couldn't parse template: template: :1: unclosed action" }],
      },
      {
        spec: { provider: { type: 'Spire' } },
        params: [{ field: 'spec.provider.spire', reason: 'configuration needs to be defined' }],
      },
    ];
    for (const c of more) {
      const res = await put(t, '/meshes/default/meshidentities/bad', identity(c.spec));
      expectError(res, {
        status: 400,
        title: 'Could not process a resource',
        detail: 'Resource is not valid',
        params: c.params,
      });
    }
  });

  it('lists per mesh and across meshes, filters by label, and finds by KRI', async () => {
    assert.equal((await put(t, '/meshes/other', { type: 'Mesh', name: 'other' })).statusCode, 201);
    assert.equal(
      (await put(t, '/meshes/other/meshtrusts/t-other', { ...trust('t-other'), mesh: 'other' })).statusCode,
      201,
    );
    const all = (await get(t, '/meshtrusts?size=1000')).json() as {
      total: number;
      items: { mesh: string; name: string; kri: string }[];
    };
    assert.ok(all.items.some((i) => i.mesh === 'other' && i.name === 't-other'));
    assert.ok(all.items.some((i) => i.mesh === 'default'));
    assert.equal(all.items.find((i) => i.name === 't-other')!.kri, 'kri_mtrust_other_default__t-other_');
    const inOther = (await get(t, '/meshes/other/meshtrusts')).json() as { total: number; items: unknown[] };
    assert.equal(inOther.total, 1);
    const filtered = (await get(t, '/meshidentities?filter[labels.team]=a')).json() as { items: { name: string }[] };
    assert.deepEqual(
      filtered.items.map((i) => i.name),
      ['identity'],
    );

    const byKri = await get(t, '/_kri/kri_mtrust_other_default__t-other_');
    assert.equal(byKri.statusCode, 200, byKri.body);
    assert.equal((byKri.json() as { name: string }).name, 't-other');
    assert.equal((await get(t, '/_kri/kri_mid_default_default__identity_')).statusCode, 200);
    expectError(await get(t, '/_kri/kri_mtrust_other_zone-2__t-other_'), {
      status: 404,
      title: 'Could not retrieve a resource',
    });
    expectError(await get(t, '/_kri/kri_mtrust_other_default__missing_'), {
      status: 404,
      title: 'Could not retrieve a resource',
    });
    expectError(await get(t, '/_kri/kri_mtrust_nomesh_default__x_'), { status: 404, title: 'Failed to retrieve Mesh' });
    expectError(await get(t, '/_kri/nonsense'), {
      status: 400,
      title: 'Could not parse KRI',
      detail: 'invalid identifier string: "nonsense"',
    });
    expectError(await get(t, '/_kri/kri_zz_a_b_c_d_'), {
      status: 400,
      title: 'Could not parse KRI',
      detail: 'unknown short name of resource type: "zz"',
    });
    expectError(await get(t, '/_kri/kuma_mid_a_b_c_d_'), {
      status: 400,
      title: 'Could not parse KRI',
      detail: `identifier must start with 'kri': "kuma_mid_a_b_c_d_"`,
    });

    expectError(await put(t, '/meshes/nomesh/meshtrusts/x', { ...trust('x'), mesh: 'nomesh' }), {
      status: 404,
      title: 'Failed to retrieve Mesh',
    });
    const deleted = await t.app.inject({ method: 'DELETE', url: '/meshes/other/meshtrusts/t-other', headers: auth });
    assert.equal(deleted.statusCode, 200);
    assert.equal((await get(t, '/_kri/kri_mtrust_other_default__t-other_')).statusCode, 404);
  });
});
