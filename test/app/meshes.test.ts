import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions } from 'fastify';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { slowPooledRsaKeys } from '../helpers/rsa-key-pool.js';
import {
  RFC3339,
  b64,
  dbSnapshot,
  example,
  expectError,
  expectUnchanged,
  json,
  opensslCa,
  secretVersions,
  yaml,
} from '../helpers/api-assert.js';

const PROCESS = 'Could not process a resource';
const builtinMesh = (name: string, backends = ['ca-1'], enabled = 'ca-1') => ({
  type: 'Mesh',
  name,
  mtls: { enabledBackend: enabled, backends: backends.map((b) => ({ name: b, type: 'builtin' })) },
});

describe('meshes', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  const inject = (opts: InjectOptions) => t.app.inject(opts);
  const getJson = async (url: string) => {
    const res = await inject({ method: 'GET', url });
    assert.equal(res.statusCode, 200, `GET ${url}: ${res.body}`);
    return res.json();
  };
  const secretData = async (mesh: string, name: string) =>
    (await getJson(`/meshes/${mesh}/secrets/${name}`)).data as string;
  const secretNames = async (mesh: string) =>
    ((await getJson(`/meshes/${mesh}/secrets?size=1000`)).items as { name: string }[]).map((s) => s.name);

  it('PUT creates (201 {}), GET returns the flat object, PUT replaces the whole resource (200 {})', async () => {
    const created = await inject(
      json('PUT', '/meshes/shape', {
        type: 'Mesh',
        name: 'shape',
        labels: { team: 'payments' },
        creationTime: '2001-01-01T00:00:00Z',
        modificationTime: '2001-01-01T00:00:00Z',
        mtls: { backends: [{ name: 'ca-1', type: 'provided', conf: { cert: { secret: 'c' }, key: { secret: 'k' } } }] },
      }),
    );
    // A provided backend whose secrets do not exist is refused; nothing was created.
    expectError(created, { status: 400, title: PROCESS, detail: 'Resource is not valid' });
    expectError(await inject(json('GET', '/meshes/shape')), {
      status: 404,
      title: 'Could not retrieve a resource',
      detail: 'Not found',
    });

    const res = await inject(
      json('PUT', '/meshes/shape', {
        type: 'Mesh',
        name: 'shape',
        labels: { team: 'payments' },
        creationTime: '2001-01-01T00:00:00Z',
        modificationTime: '2001-01-01T00:00:00Z',
        logging: { defaultBackend: 'file' },
      }),
    );
    assert.equal(res.statusCode, 201);
    assert.deepEqual(res.json(), {});

    const mesh = await getJson('/meshes/shape');
    assert.deepEqual(Object.keys(mesh), ['type', 'name', 'creationTime', 'modificationTime', 'labels', 'logging']);
    assert.equal(mesh.type, 'Mesh');
    assert.equal(mesh.name, 'shape');
    assert.deepEqual(mesh.labels, { team: 'payments' });
    assert.deepEqual(mesh.logging, { defaultBackend: 'file' });
    assert.match(mesh.creationTime, RFC3339);
    assert.match(mesh.modificationTime, RFC3339);
    assert.notEqual(mesh.creationTime.slice(0, 4), '2001', 'times in the body are ignored');
    assert.equal(mesh.creationTime, mesh.modificationTime);

    const replaced = await inject(
      json('PUT', '/meshes/shape', { type: 'Mesh', name: 'shape', metrics: { enabledBackend: '' } }),
    );
    assert.equal(replaced.statusCode, 200);
    assert.deepEqual(replaced.json(), {});
    const after = await getJson('/meshes/shape');
    // Not a merge: labels and logging are gone; no `labels` key when there are none.
    assert.deepEqual(Object.keys(after), ['type', 'name', 'creationTime', 'modificationTime', 'metrics']);
    assert.equal(after.creationTime, mesh.creationTime);
    assert.ok(Date.parse(after.modificationTime) >= Date.parse(mesh.modificationTime));

    const bare = await inject(json('PUT', '/meshes/shape', { type: 'Mesh', name: 'shape' }));
    assert.equal(bare.statusCode, 200);
    assert.deepEqual(Object.keys(await getJson('/meshes/shape')), ['type', 'name', 'creationTime', 'modificationTime']);
  });

  it('GET and DELETE of a missing mesh are 404 with Kuma titles; DELETE is 200 {} and the mesh is gone', async () => {
    expectError(await inject(json('GET', '/meshes/missing')), {
      status: 404,
      title: 'Could not retrieve a resource',
      detail: 'Not found',
      params: [],
    });
    expectError(await inject(json('DELETE', '/meshes/missing')), {
      status: 404,
      title: 'Could not delete a resource',
      detail: 'Not found',
      params: [],
    });

    assert.equal(
      (await inject(json('PUT', '/meshes/short-lived', { type: 'Mesh', name: 'short-lived' }))).statusCode,
      201,
    );
    const del = await inject(json('DELETE', '/meshes/short-lived'));
    assert.equal(del.statusCode, 200);
    assert.deepEqual(del.json(), {});
    expectError(await inject(json('GET', '/meshes/short-lived')), {
      status: 404,
      title: 'Could not retrieve a resource',
    });
    const names = ((await getJson('/meshes')).items as { name: string }[]).map((m) => m.name);
    assert.ok(!names.includes('short-lived'));
    expectError(await inject(json('DELETE', '/meshes/short-lived')), {
      status: 404,
      title: 'Could not delete a resource',
    });
  });

  it('accepts YAML as application/yaml, text/yaml and application/x-yaml (the example manifests)', async () => {
    // examples/0-mesh-ca-1.yaml: the default mesh with a builtin backend.
    const res = await inject(yaml('/meshes/default', example('0-mesh-ca-1.yaml'), 'application/yaml'));
    assert.equal(res.statusCode, 200, res.body);
    const mesh = await getJson('/meshes/default');
    assert.deepEqual(mesh.mtls, { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] });

    // The provided CA's secrets as kumactl-style manifests, then examples/1-add-ca-2.yaml.
    const ca = opensslCa('ca-2');
    const cert = await inject(
      yaml(
        '/meshes/default/secrets/ca-2-cert',
        example('secret-ca-2-cert.yaml', { '<base64 of ca-2.crt>': b64(ca.certPem) }),
        'text/yaml',
      ),
    );
    assert.equal(cert.statusCode, 201, cert.body);
    const key = await inject(
      yaml(
        '/meshes/default/secrets/ca-2-key',
        example('secret-ca-2-key.yaml', { '<base64 of ca-2.key>': b64(ca.keyPem) }),
        'application/x-yaml',
      ),
    );
    assert.equal(key.statusCode, 201, key.body);
    assert.equal(Buffer.from(await secretData('default', 'ca-2-cert'), 'base64').toString(), ca.certPem);

    const add = await inject(yaml('/meshes/default', example('1-add-ca-2.yaml'), 'text/yaml; charset=utf-8'));
    assert.equal(add.statusCode, 200, add.body);
    const withTwo = await getJson('/meshes/default');
    assert.deepEqual(withTwo.mtls, {
      enabledBackend: 'ca-1',
      backends: [
        { name: 'ca-1', type: 'builtin' },
        { name: 'ca-2', type: 'provided', conf: { cert: { secret: 'ca-2-cert' }, key: { secret: 'ca-2-key' } } },
      ],
    });
  });

  it('stores the same mesh from JSON and from YAML', async () => {
    const spec = {
      labels: { env: 'prod' },
      mtls: {
        enabledBackend: '',
        skipValidation: true,
        backends: [
          {
            name: 'p',
            type: 'provided',
            mode: 'PERMISSIVE',
            dpCert: { rotation: { expiration: '1h30m' }, requestTimeout: '10s' },
            conf: { cert: { file: '/nonexistent/c' }, key: { file: '/nonexistent/k' } },
          },
        ],
      },
    };
    assert.equal(
      (await inject(json('PUT', '/meshes/from-json', { type: 'Mesh', name: 'from-json', ...spec }))).statusCode,
      201,
    );
    const text = [
      'type: Mesh',
      'name: from-yaml',
      'labels:',
      '  env: prod',
      'mtls:',
      '  enabledBackend: ""',
      '  skipValidation: true',
      '  backends:',
      '  - name: p',
      '    type: provided',
      '    mode: PERMISSIVE',
      '    dpCert:',
      '      rotation:',
      '        expiration: 1h30m',
      '      requestTimeout: 10s',
      '    conf:',
      '      cert: {file: /nonexistent/c}',
      '      key: {file: /nonexistent/k}',
      '',
    ].join('\n');
    assert.equal((await inject(yaml('/meshes/from-yaml', text))).statusCode, 201);
    const a = await getJson('/meshes/from-json');
    const b = await getJson('/meshes/from-yaml');
    const strip = ({ name: _n, creationTime: _c, modificationTime: _m, ...rest }: Record<string, unknown>) => rest;
    assert.deepEqual(strip(b), strip(a));
    assert.deepEqual(a.mtls, spec.mtls);
  });

  it('a builtin backend creates its CA secrets and the dataplane token signing key', async () => {
    assert.equal((await inject(json('PUT', '/meshes/ca-mesh', builtinMesh('ca-mesh')))).statusCode, 201);
    assert.deepEqual((await secretNames('ca-mesh')).sort(), [
      'ca-mesh.ca-builtin-cert-ca-1',
      'ca-mesh.ca-builtin-key-ca-1',
      'dataplane-token-signing-key-ca-mesh-1',
    ]);
    const certPem = Buffer.from(await secretData('ca-mesh', 'ca-mesh.ca-builtin-cert-ca-1'), 'base64').toString();
    const keyPem = Buffer.from(await secretData('ca-mesh', 'ca-mesh.ca-builtin-key-ca-1'), 'base64').toString();
    const cert = new X509Certificate(certPem);
    assert.equal(cert.ca, true);
    assert.match(cert.subject, /CN=ca-mesh/);
    assert.match(cert.subjectAltName ?? '', /URI:spiffe:\/\/ca-mesh/);
    assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)), 'the key secret holds the CA key');
    const signing = Buffer.from(
      await secretData('ca-mesh', 'dataplane-token-signing-key-ca-mesh-1'),
      'base64',
    ).toString();
    assert.equal(createPrivateKey(signing).asymmetricKeyType, 'rsa');

    // A mesh without mTLS still gets its signing key (as Kuma), and only that.
    assert.equal((await inject(json('PUT', '/meshes/plain', { type: 'Mesh', name: 'plain' }))).statusCode, 201);
    assert.deepEqual(await secretNames('plain'), ['dataplane-token-signing-key-plain-1']);
  });

  it('a later PUT never regenerates the CA (nor the signing key)', async () => {
    assert.equal((await inject(json('PUT', '/meshes/keep-ca', builtinMesh('keep-ca')))).statusCode, 201);
    const certName = 'keep-ca.ca-builtin-cert-ca-1';
    const keyName = 'keep-ca.ca-builtin-key-ca-1';
    const signingName = 'dataplane-token-signing-key-keep-ca-1';
    const before = {
      cert: await getJson(`/meshes/keep-ca/secrets/${certName}`),
      key: await getJson(`/meshes/keep-ca/secrets/${keyName}`),
      signing: await getJson(`/meshes/keep-ca/secrets/${signingName}`),
    };

    // Same body again; then with labels; then with a second builtin backend; then mTLS off and the backend removed.
    assert.equal((await inject(json('PUT', '/meshes/keep-ca', builtinMesh('keep-ca')))).statusCode, 200);
    assert.equal(
      (await inject(json('PUT', '/meshes/keep-ca', { ...builtinMesh('keep-ca'), labels: { a: 'b' } }))).statusCode,
      200,
    );
    assert.equal(
      (await inject(json('PUT', '/meshes/keep-ca', builtinMesh('keep-ca', ['ca-1', 'ca-2'])))).statusCode,
      200,
    );
    assert.ok((await secretNames('keep-ca')).includes('keep-ca.ca-builtin-cert-ca-2'), 'the new backend got its CA');
    assert.notEqual(await secretData('keep-ca', 'keep-ca.ca-builtin-cert-ca-2'), before.cert.data);
    assert.equal((await inject(json('PUT', '/meshes/keep-ca', { type: 'Mesh', name: 'keep-ca' }))).statusCode, 200);
    // As Kuma, removing the backend leaves its secrets; re-adding it reuses the same CA.
    assert.equal((await inject(json('PUT', '/meshes/keep-ca', builtinMesh('keep-ca')))).statusCode, 200);

    assert.deepEqual(await getJson(`/meshes/keep-ca/secrets/${certName}`), before.cert);
    assert.deepEqual(await getJson(`/meshes/keep-ca/secrets/${keyName}`), before.key);
    assert.deepEqual(await getJson(`/meshes/keep-ca/secrets/${signingName}`), before.signing);
  });

  it('concurrent PUTs of a new builtin mesh: one create, the others replace, and exactly one CA', async () => {
    // Key generation that takes a while, as a real one does: all three PUTs make a CA before the first commits.
    const racing = await createTestApp({}, { rsaKeys: slowPooledRsaKeys(20) });
    try {
      const put = () => racing.app.inject(json('PUT', '/meshes/race', builtinMesh('race')));
      const results = await Promise.all([put(), put(), put()]);
      assert.deepEqual(results.map((r) => r.statusCode).sort(), [200, 200, 201]);
      for (const r of results) assert.deepEqual(r.json(), {});
      // Each secret was written once: nobody replaced the first CA with their own.
      assert.deepEqual(await secretVersions(racing.services, 'race'), [
        { name: 'dataplane-token-signing-key-race-1', version: 1 },
        { name: 'race.ca-builtin-cert-ca-1', version: 1 },
        { name: 'race.ca-builtin-key-ca-1', version: 1 },
      ]);
    } finally {
      await racing.close();
    }
  });

  it('a mesh with dataplanes cannot be deleted (400, field mesh); without them it can', async () => {
    assert.equal((await inject(json('PUT', '/meshes/busy', { type: 'Mesh', name: 'busy' }))).statusCode, 201);
    const dp = example('dataplane-web-1.yaml', { 'mesh: default': 'mesh: busy' });
    assert.equal((await inject(yaml('/meshes/busy/dataplanes/web-1', dp))).statusCode, 201);

    const expected = {
      status: 400,
      title: 'Could not delete a resource',
      detail: 'Resource is not valid',
      params: [{ field: 'mesh', reason: 'unable to delete mesh, there are still some dataplanes attached' }],
    };
    await expectUnchanged(t, async () => {
      expectError(await inject(json('DELETE', '/meshes/busy')), expected);
      expectError(await inject(json('DELETE', '/meshes/busy?dryRun=true')), expected);
    });

    assert.equal((await inject(json('DELETE', '/meshes/busy/dataplanes/web-1'))).statusCode, 200);
    assert.equal((await inject(json('DELETE', '/meshes/busy'))).statusCode, 200);
    expectError(await inject(json('GET', '/meshes/busy')), { status: 404, title: 'Could not retrieve a resource' });
  });

  it('deleting a mesh deletes its secrets and CA, and nothing of other meshes or global secrets', async () => {
    assert.equal((await inject(json('PUT', '/meshes/doomed', builtinMesh('doomed')))).statusCode, 201);
    assert.equal(
      (
        await inject(
          json('PUT', '/meshes/doomed/secrets/user-secret', {
            type: 'Secret',
            mesh: 'doomed',
            name: 'user-secret',
            data: b64('x'),
          }),
        )
      ).statusCode,
      201,
    );
    assert.equal(
      (
        await inject(
          json('PUT', '/global-secrets/survivor', { type: 'GlobalSecret', name: 'survivor', data: b64('y') }),
        )
      ).statusCode,
      201,
    );
    const oldCert = await secretData('doomed', 'doomed.ca-builtin-cert-ca-1');
    const othersBefore = (await dbSnapshot(t.services)).resources.filter(
      (r) => (r as { mesh: string }).mesh !== 'doomed',
    );
    assert.equal(await secretRows('doomed'), 4);

    assert.equal((await inject(json('DELETE', '/meshes/doomed'))).statusCode, 200);
    assert.equal(await secretRows('doomed'), 0, 'no row of the mesh is left in the store');
    const others = (await dbSnapshot(t.services)).resources.filter((r) => (r as { mesh: string }).mesh !== 'doomed');
    assert.deepEqual(
      others.filter((r) => (r as { name: string }).name !== 'doomed'),
      othersBefore.filter((r) => (r as { name: string }).name !== 'doomed'),
    );
    const all = (await getJson('/secrets?size=1000')).items as { mesh: string }[];
    assert.ok(!all.some((s) => s.mesh === 'doomed'));
    expectError(await inject(json('GET', '/meshes/doomed/secrets')), { status: 404, title: 'Failed to retrieve Mesh' });
    assert.equal((await getJson('/global-secrets/survivor')).data, b64('y'));

    // A new mesh of the same name starts from scratch: no user secret, a new CA.
    assert.equal((await inject(json('PUT', '/meshes/doomed', builtinMesh('doomed')))).statusCode, 201);
    assert.ok(!(await secretNames('doomed')).includes('user-secret'));
    assert.notEqual(await secretData('doomed', 'doomed.ca-builtin-cert-ca-1'), oldCert);
  });

  const secretRows = async (mesh: string) =>
    (await t.services.store.driver.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM resources WHERE mesh = ? AND type = 'Secret'",
      [mesh],
    ))!.n;

  describe('structural checks (400, Kuma fields and messages, nothing stored)', () => {
    const cases: { name: string; body: Record<string, unknown>; params: { field: string; reason: string }[] }[] = [
      {
        name: 'duplicate backend names',
        body: {
          mtls: {
            backends: [
              { name: 'ca-1', type: 'builtin' },
              { name: 'ca-1', type: 'builtin' },
            ],
          },
        },
        params: [{ field: 'mtls.backends[1].name', reason: '"ca-1" name is already used for another backend' }],
      },
      {
        name: 'enabledBackend naming nothing',
        body: { mtls: { enabledBackend: 'ca-9', backends: [{ name: 'ca-1', type: 'builtin' }] } },
        params: [{ field: 'mtls.enabledBackend', reason: 'has to be set to one of the backends in the mesh' }],
      },
      {
        name: 'enabledBackend without any backend',
        body: { mtls: { enabledBackend: 'ca-1' } },
        params: [{ field: 'mtls.enabledBackend', reason: 'has to be set to one of the backends in the mesh' }],
      },
      {
        name: 'unknown backend type (first one only, as Kuma)',
        body: {
          mtls: {
            backends: [
              { name: 'a', type: 'acmpca' },
              { name: 'b', type: 'acme' },
            ],
          },
        },
        params: [{ field: 'mtls.backends[0].type', reason: 'could not find installed plugin for this type' }],
      },
      {
        name: 'bad dpCert expiration',
        body: {
          mtls: { backends: [{ name: 'ca-1', type: 'builtin', dpCert: { rotation: { expiration: 'one day' } } }] },
        },
        params: [{ field: 'mtls.dpcert.rotation.expiration', reason: 'has to be a valid format' }],
      },
      {
        name: 'dpCert without rotation',
        body: { mtls: { backends: [{ name: 'ca-1', type: 'builtin', dpCert: {} }] } },
        params: [{ field: 'mtls.dpcert.rotation.expiration', reason: 'has to be a valid format' }],
      },
      {
        name: 'bad CA expiration in a builtin conf',
        body: { mtls: { backends: [{ name: 'ca-1', type: 'builtin', conf: { caCert: { expiration: '10 years' } } }] } },
        params: [{ field: 'mtls.backends[0].conf.caCert.expiration', reason: 'has to be a valid format' }],
      },
      {
        name: 'several problems at once',
        body: {
          mtls: {
            enabledBackend: 'nope',
            backends: [
              { name: 'ca-1', type: 'builtin', dpCert: { rotation: { expiration: '5 minutes' } } },
              { name: 'ca-1', type: 'builtin' },
            ],
          },
        },
        params: [
          { field: 'mtls.dpcert.rotation.expiration', reason: 'has to be a valid format' },
          { field: 'mtls.backends[1].name', reason: '"ca-1" name is already used for another backend' },
          { field: 'mtls.enabledBackend', reason: 'has to be set to one of the backends in the mesh' },
        ],
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        for (const mesh of ['structural', 'default']) {
          await expectUnchanged(t, async () => {
            const res = await inject(json('PUT', `/meshes/${mesh}`, { type: 'Mesh', name: mesh, ...c.body }));
            const body = expectError(res, { status: 400, title: PROCESS, detail: 'Resource is not valid' });
            assert.deepEqual(
              [...(body.invalid_parameters as object[])].sort((a, b) =>
                JSON.stringify(a).localeCompare(JSON.stringify(b)),
              ),
              [...c.params].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
            );
          }, ['/meshes/default', '/meshes/structural']);
        }
      });
    }

    it('a mesh name over 63 characters (63 is fine)', async () => {
      const long = 'm'.repeat(64);
      await expectUnchanged(t, async () => {
        expectError(await inject(json('PUT', `/meshes/${long}`, { type: 'Mesh', name: long })), {
          status: 400,
          title: 'Failed to create a resource',
          detail: 'Resource is not valid',
          params: [{ field: 'name', reason: 'cannot be longer than 63 characters' }],
        });
      });
      const max = 'm'.repeat(63);
      assert.equal((await inject(json('PUT', `/meshes/${max}`, { type: 'Mesh', name: max }))).statusCode, 201);
      assert.equal((await getJson(`/meshes/${max}`)).name, max);
      assert.equal((await inject(json('DELETE', `/meshes/${max}`))).statusCode, 200);
    });
  });

  describe('?dryRun=true gives the status and body of the real call and writes nothing', () => {
    it('PUT create, PUT replace and an invalid PUT', async () => {
      const body = builtinMesh('dry');
      const dryCreate = await expectUnchanged(t, () => inject(json('PUT', '/meshes/dry?dryRun=true', body)), [
        '/meshes/dry',
      ]);
      assert.equal(await secretRows('dry'), 0, 'no CA or signing key was stored');
      const realCreate = await inject(json('PUT', '/meshes/dry', body));
      assert.equal(dryCreate.statusCode, 201);
      assert.equal(dryCreate.statusCode, realCreate.statusCode);
      assert.equal(dryCreate.body, realCreate.body);

      const replacement = { ...builtinMesh('dry', ['ca-1', 'ca-2']), labels: { dry: 'run' } };
      const dryReplace = await expectUnchanged(t, () => inject(json('PUT', '/meshes/dry?dryRun=true', replacement)), [
        '/meshes/dry',
        '/meshes/dry/secrets',
      ]);
      const realReplace = await inject(json('PUT', '/meshes/dry', replacement));
      assert.equal(dryReplace.statusCode, 200);
      assert.equal(dryReplace.statusCode, realReplace.statusCode);
      assert.equal(dryReplace.body, realReplace.body);
      assert.deepEqual((await getJson('/meshes/dry')).labels, { dry: 'run' });

      const invalid = { ...builtinMesh('dry'), mtls: { enabledBackend: 'x', backends: [] } };
      const dryInvalid = await expectUnchanged(t, () => inject(json('PUT', '/meshes/dry?dryRun=true', invalid)));
      const realInvalid = await expectUnchanged(t, () => inject(json('PUT', '/meshes/dry', invalid)));
      expectError(dryInvalid, { status: 400, title: PROCESS });
      assert.equal(dryInvalid.body, realInvalid.body);
    });

    it('DELETE, and DELETE of a missing mesh', async () => {
      assert.equal((await inject(json('PUT', '/meshes/dry-del', builtinMesh('dry-del')))).statusCode, 201);
      const dry = await expectUnchanged(t, () => inject(json('DELETE', '/meshes/dry-del?dryRun=true')), [
        '/meshes/dry-del',
        '/meshes/dry-del/secrets',
      ]);
      assert.equal(dry.statusCode, 200);
      assert.equal(await secretRows('dry-del'), 3);
      const real = await inject(json('DELETE', '/meshes/dry-del'));
      assert.equal(dry.statusCode, real.statusCode);
      assert.equal(dry.body, real.body);

      const dryMissing = await expectUnchanged(t, () => inject(json('DELETE', '/meshes/dry-del?dryRun=true')));
      const realMissing = await inject(json('DELETE', '/meshes/dry-del'));
      expectError(dryMissing, { status: 404, title: 'Could not delete a resource', detail: 'Not found' });
      assert.equal(dryMissing.body, realMissing.body);
    });
  });
});
