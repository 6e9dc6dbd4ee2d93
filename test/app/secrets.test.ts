import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions } from 'fastify';
import { createTestApp, type TestApp } from '../helpers/app.js';
import {
  RFC3339,
  b64,
  example,
  expectError,
  expectUnchanged,
  json,
  opensslCa,
  storedBytes,
  yaml,
} from '../helpers/api-assert.js';

const MESH_MISSING = { status: 404, title: 'Failed to retrieve Mesh' };
const secret = (mesh: string, name: string, data?: string, extra: Record<string, unknown> = {}) => ({
  type: 'Secret',
  mesh,
  name,
  ...(data === undefined ? {} : { data }),
  ...extra,
});
const globalSecret = (name: string, data?: string) => ({
  type: 'GlobalSecret',
  name,
  ...(data === undefined ? {} : { data }),
});

describe('secrets', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
    await t.app.inject(json('PUT', '/meshes/other', { type: 'Mesh', name: 'other' }));
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

  it('mesh secrets: create 201, flat object, replace 200, delete 200, then 404s', async () => {
    const created = await inject(
      json('PUT', '/meshes/default/secrets/s1', secret('default', 's1', b64('one'), { labels: { app: 'web' } })),
    );
    assert.equal(created.statusCode, 201);
    assert.deepEqual(created.json(), {});
    const got = await getJson('/meshes/default/secrets/s1');
    assert.deepEqual(Object.keys(got), ['type', 'mesh', 'name', 'creationTime', 'modificationTime', 'labels', 'data']);
    assert.equal(got.type, 'Secret');
    assert.equal(got.mesh, 'default');
    assert.equal(got.name, 's1');
    // As Kuma 2.14 on a Universal zone: the caller's labels plus the ones the CP computes.
    assert.deepEqual(got.labels, {
      app: 'web',
      'kuma.io/mesh': 'default',
      'kuma.io/origin': 'zone',
      'kuma.io/zone': 'default',
      'kuma.io/env': 'universal',
    });
    assert.equal(got.data, b64('one'));
    assert.match(got.creationTime, RFC3339);

    const replaced = await inject(json('PUT', '/meshes/default/secrets/s1', secret('default', 's1', b64('two'))));
    assert.equal(replaced.statusCode, 200);
    assert.deepEqual(replaced.json(), {});
    const after = await getJson('/meshes/default/secrets/s1');
    assert.deepEqual(Object.keys(after), [
      'type',
      'mesh',
      'name',
      'creationTime',
      'modificationTime',
      'labels',
      'data',
    ]);
    // A replace without labels drops the caller's labels but keeps the computed ones.
    assert.deepEqual(Object.keys(after.labels).sort(), [
      'kuma.io/env',
      'kuma.io/mesh',
      'kuma.io/origin',
      'kuma.io/zone',
    ]);
    assert.equal(after.data, b64('two'));
    assert.equal(after.creationTime, got.creationTime);

    // Data is optional (as Kuma): the object then has no `data`.
    assert.equal((await inject(json('PUT', '/meshes/default/secrets/s1', secret('default', 's1')))).statusCode, 200);
    assert.deepEqual(Object.keys(await getJson('/meshes/default/secrets/s1')), [
      'type',
      'mesh',
      'name',
      'creationTime',
      'modificationTime',
      'labels',
    ]);

    const deleted = await inject(json('DELETE', '/meshes/default/secrets/s1'));
    assert.equal(deleted.statusCode, 200);
    assert.deepEqual(deleted.json(), {});
    expectError(await inject(json('GET', '/meshes/default/secrets/s1')), {
      status: 404,
      title: 'Could not retrieve a resource',
      detail: 'Not found',
    });
    expectError(await inject(json('DELETE', '/meshes/default/secrets/s1')), {
      status: 404,
      title: 'Could not delete a resource',
      detail: 'Not found',
    });
  });

  it('?dryRun=true answers as the real PUT and DELETE would, and writes nothing', async () => {
    const body = secret('default', 'dry', b64('dry'));
    const dryCreate = await expectUnchanged(t, () =>
      inject(json('PUT', '/meshes/default/secrets/dry?dryRun=true', body)),
    );
    assert.equal(dryCreate.statusCode, 201);
    assert.deepEqual(dryCreate.json(), {});
    expectError(await inject(json('GET', '/meshes/default/secrets/dry')), {
      status: 404,
      title: 'Could not retrieve a resource',
    });
    assert.equal((await inject(json('PUT', '/meshes/default/secrets/dry', body))).statusCode, 201);
    const dryReplace = await expectUnchanged(t, () =>
      inject(json('PUT', '/meshes/default/secrets/dry?dryRun=true', secret('default', 'dry', b64('changed')))),
    );
    assert.equal(dryReplace.statusCode, 200);
    const dryDelete = await expectUnchanged(t, () => inject(json('DELETE', '/meshes/default/secrets/dry?dryRun=true')));
    assert.equal(dryDelete.statusCode, 200);
    assert.equal((await getJson('/meshes/default/secrets/dry')).data, b64('dry'));
    const dryGlobal = await expectUnchanged(t, () =>
      inject(json('PUT', '/global-secrets/dry?dryRun=true', globalSecret('dry', b64('g')))),
    );
    assert.equal(dryGlobal.statusCode, 201);
    assert.equal((await inject(json('DELETE', '/meshes/default/secrets/dry'))).statusCode, 200);
  });

  it('the same name in two meshes is two secrets', async () => {
    await inject(json('PUT', '/meshes/default/secrets/twin', secret('default', 'twin', b64('in default'))));
    await inject(json('PUT', '/meshes/other/secrets/twin', secret('other', 'twin', b64('in other'))));
    assert.equal((await getJson('/meshes/default/secrets/twin')).data, b64('in default'));
    assert.equal((await getJson('/meshes/other/secrets/twin')).data, b64('in other'));
    assert.equal((await inject(json('DELETE', '/meshes/other/secrets/twin'))).statusCode, 200);
    assert.equal((await getJson('/meshes/default/secrets/twin')).data, b64('in default'));
  });

  it('global secrets under /global-secrets and the /globalsecrets alias', async () => {
    const created = await inject(json('PUT', '/global-secrets/g1', globalSecret('g1', b64('global one'))));
    assert.equal(created.statusCode, 201);
    assert.deepEqual(created.json(), {});
    const viaAlias = await getJson('/globalsecrets/g1');
    assert.deepEqual(Object.keys(viaAlias), ['type', 'name', 'creationTime', 'modificationTime', 'labels', 'data']);
    assert.deepEqual(viaAlias.labels, {
      'kuma.io/origin': 'zone',
      'kuma.io/zone': 'default',
      'kuma.io/env': 'universal',
    });
    assert.equal(viaAlias.type, 'GlobalSecret');
    assert.deepEqual(await getJson('/global-secrets/g1'), viaAlias);

    assert.equal(
      (await inject(json('PUT', '/globalsecrets/g1', globalSecret('g1', b64('global two'))))).statusCode,
      200,
    );
    assert.equal((await getJson('/global-secrets/g1')).data, b64('global two'));
    const list = await getJson('/global-secrets');
    assert.deepEqual(await getJson('/globalsecrets'), list);
    assert.deepEqual(
      list.items.map((s: { name: string }) => s.name),
      ['g1'],
    );

    // A global secret is not a mesh secret, and the other way round.
    expectError(await inject(json('GET', '/meshes/default/secrets/g1')), {
      status: 404,
      title: 'Could not retrieve a resource',
    });
    expectError(await inject(json('PUT', '/global-secrets/g2', secret('default', 'g2', b64('x')))), {
      status: 400,
      title: 'Could not process a resource',
      params: [{ field: 'type', reason: 'type from the URL has to be the same as in body' }],
    });
    expectError(await inject(json('PUT', '/meshes/default/secrets/g2', globalSecret('g2', b64('x')))), {
      status: 400,
      title: 'Could not process a resource',
      params: [
        { field: 'type', reason: 'type from the URL has to be the same as in body' },
        { field: 'mesh', reason: 'mesh from the URL has to be the same as in body' },
        { field: 'mesh', reason: 'cannot be empty' },
      ],
    });

    assert.equal((await inject(json('DELETE', '/globalsecrets/g1'))).statusCode, 200);
    expectError(await inject(json('GET', '/global-secrets/g1')), {
      status: 404,
      title: 'Could not retrieve a resource',
    });
    expectError(await inject(json('DELETE', '/global-secrets/g1')), {
      status: 404,
      title: 'Could not delete a resource',
    });
  });

  it('/secrets lists the secrets of every mesh, sorted by mesh then name, without global secrets', async () => {
    await inject(json('PUT', '/meshes/other/secrets/zz', secret('other', 'zz', b64('z'))));
    await inject(json('PUT', '/meshes/other/secrets/aa', secret('other', 'aa', b64('a'))));
    await inject(json('PUT', '/meshes/default/secrets/mm', secret('default', 'mm', b64('m'))));
    await inject(json('PUT', '/global-secrets/not-listed', globalSecret('not-listed', b64('g'))));
    const list = await getJson('/secrets');
    const ids = list.items.map((s: { mesh: string; name: string }) => `${s.mesh}/${s.name}`);
    for (const id of ['default/mm', 'other/aa', 'other/zz', 'default/dataplane-token-signing-key-default-1'])
      assert.ok(ids.includes(id), id);
    assert.ok(!ids.some((id: string) => id.endsWith('/not-listed')));
    const sorted = [...list.items].sort((a, b) =>
      a.mesh === b.mesh ? (a.name < b.name ? -1 : 1) : a.mesh < b.mesh ? -1 : 1,
    );
    assert.deepEqual(list.items, sorted);
    assert.equal(list.total, list.items.length);
    assert.ok(list.items.every((s: { type: string }) => s.type === 'Secret'));
    assert.deepEqual(
      (await getJson('/meshes/other/secrets')).items.map((s: { name: string }) => s.name),
      ['aa', 'dataplane-token-signing-key-other-1', 'zz'],
    );
  });

  it('routes of a missing mesh answer 404 Failed to retrieve Mesh, before looking at the body', async () => {
    await expectUnchanged(t, async () => {
      expectError(await inject(json('GET', '/meshes/nope/secrets')), MESH_MISSING);
      expectError(await inject(json('GET', '/meshes/nope/secrets/s')), MESH_MISSING);
      expectError(await inject(json('PUT', '/meshes/nope/secrets/s', secret('nope', 's', b64('x')))), MESH_MISSING);
      expectError(
        await inject(json('PUT', '/meshes/nope/secrets/s', secret('elsewhere', 'BAD', 'not base64!'))),
        MESH_MISSING,
      );
      expectError(await inject(json('DELETE', '/meshes/nope/secrets/s')), MESH_MISSING);
    });
  });

  it('data that is not base64 is a 400 Bad Request and stores nothing', async () => {
    await inject(json('PUT', '/meshes/default/secrets/kept', secret('default', 'kept', b64('kept'))));
    await inject(json('PUT', '/global-secrets/gkept', globalSecret('gkept', b64('kept'))));
    for (const data of ['not base64!', 'a', 'aGVsbG8=x', '====', 'aGk=aGk=']) {
      await expectUnchanged(t, async () => {
        for (const [url, body] of [
          ['/meshes/default/secrets/kept', secret('default', 'kept', data)],
          ['/meshes/default/secrets/fresh', secret('default', 'fresh', data)],
          ['/global-secrets/gkept', globalSecret('gkept', data)],
        ] as const) {
          expectError(await inject(json('PUT', url, body)), {
            status: 400,
            title: 'Bad Request',
            params: [{ field: 'data', reason: 'has to be valid base64' }],
          });
        }
      }, ['/meshes/default/secrets/kept', '/global-secrets/gkept']);
    }
    await expectUnchanged(t, async () => {
      const res = await inject(
        json('PUT', '/meshes/default/secrets/kept', { ...secret('default', 'kept'), data: 12345 }),
      );
      expectError(res, { status: 400, title: 'Bad Request' });
    });
  });

  it('data round-trips byte for byte (binary, unpadded and wrapped base64 too)', async () => {
    const bytes = randomBytes(4096);
    bytes[0] = 0;
    bytes[1] = 0xff;
    await inject(json('PUT', '/meshes/default/secrets/binary', secret('default', 'binary', bytes.toString('base64'))));
    assert.deepEqual(Buffer.from((await getJson('/meshes/default/secrets/binary')).data, 'base64'), bytes);

    // `base64` wraps at 76 columns and protojson accepts unpadded input; the API returns the standard form.
    const odd = Buffer.from('meshcp!');
    const wrapped = b64(randomBytes(200)).replace(/(.{76})/g, '$1\n');
    for (const [data, expected] of [
      [b64(odd).replace(/=+$/, ''), b64(odd)],
      [wrapped, wrapped.replace(/\n/g, '')],
      ['', ''],
    ]) {
      assert.equal(
        (await inject(json('PUT', '/global-secrets/forms', globalSecret('forms', data)))).statusCode < 300,
        true,
      );
      assert.equal((await getJson('/global-secrets/forms')).data, expected);
    }
    // Also through a YAML body, the way kumactl-style manifests carry it.
    const pem = opensslCa('yaml-ca').certPem;
    const text = example('secret-ca-2-cert.yaml', {
      '<base64 of ca-2.crt>': b64(pem),
      'name: ca-2-cert': 'name: from-yaml',
    });
    assert.equal((await inject(yaml('/meshes/default/secrets/from-yaml', text))).statusCode, 201);
    assert.equal(Buffer.from((await getJson('/meshes/default/secrets/from-yaml')).data, 'base64').toString(), pem);
  });

  describe('secrets used by a CA backend', () => {
    const ca = opensslCa('ca-2');
    const provided = {
      type: 'Mesh',
      name: 'pmesh',
      mtls: {
        enabledBackend: 'ca-2',
        backends: [
          { name: 'ca-2', type: 'provided', conf: { cert: { secret: 'ca-2-cert' }, key: { secret: 'ca-2-key' } } },
        ],
      },
    };
    const inUse = (name: string, backend: string, mesh = 'pmesh') =>
      `The secret "${name}" that you are trying to remove is currently in use in Mesh "${mesh}" in mTLS backend "${backend}". Please remove the reference from the "${backend}" backend before removing the secret.`;

    before(async () => {
      assert.equal((await inject(json('PUT', '/meshes/pmesh', { type: 'Mesh', name: 'pmesh' }))).statusCode, 201);
      assert.equal(
        (await inject(json('PUT', '/meshes/pmesh/secrets/ca-2-cert', secret('pmesh', 'ca-2-cert', b64(ca.certPem)))))
          .statusCode,
        201,
      );
      assert.equal(
        (await inject(json('PUT', '/meshes/pmesh/secrets/ca-2-key', secret('pmesh', 'ca-2-key', b64(ca.keyPem)))))
          .statusCode,
        201,
      );
      const res = await inject(json('PUT', '/meshes/pmesh', provided));
      assert.equal(res.statusCode, 200, res.body);
    });

    it('cannot be deleted (400, Kuma message), also with dryRun', async () => {
      for (const name of ['ca-2-cert', 'ca-2-key']) {
        for (const url of [`/meshes/pmesh/secrets/${name}`, `/meshes/pmesh/secrets/${name}?dryRun=true`]) {
          await expectUnchanged(t, async () => {
            expectError(await inject(json('DELETE', url)), {
              status: 400,
              title: 'Could not delete a resource',
              detail: 'Resource is not valid',
              params: [{ field: 'name', reason: inUse(name, 'ca-2') }],
            });
          });
        }
      }
    });

    it('builtin CA secrets are in use too, even by a backend that is not enabled', async () => {
      const body = {
        ...provided,
        mtls: { ...provided.mtls, backends: [...provided.mtls.backends, { name: 'ca-3', type: 'builtin' }] },
      };
      assert.equal((await inject(json('PUT', '/meshes/pmesh', body))).statusCode, 200);
      await expectUnchanged(t, async () => {
        expectError(await inject(json('DELETE', '/meshes/pmesh/secrets/pmesh.ca-builtin-key-ca-3')), {
          status: 400,
          title: 'Could not delete a resource',
          params: [{ field: 'name', reason: inUse('pmesh.ca-builtin-key-ca-3', 'ca-3') }],
        });
      });
      assert.equal((await inject(json('PUT', '/meshes/pmesh', provided))).statusCode, 200);
    });

    it('replacing its data with different content is a 409; the same content is a 200', async () => {
      const other = opensslCa('ca-2-impostor');
      await expectUnchanged(t, async () => {
        const res = await inject(
          json('PUT', '/meshes/pmesh/secrets/ca-2-cert', secret('pmesh', 'ca-2-cert', b64(other.certPem))),
        );
        const body = expectError(res, { status: 409, title: 'Failed to update a resource' });
        assert.equal((body.invalid_parameters as { field: string }[])[0]!.field, 'data');
        const dry = await inject(
          json('PUT', '/meshes/pmesh/secrets/ca-2-cert?dryRun=true', secret('pmesh', 'ca-2-cert', b64(other.certPem))),
        );
        assert.equal(dry.statusCode, 409);
        assert.equal(dry.body, res.body);
      }, ['/meshes/pmesh/secrets/ca-2-cert']);
      const same = await inject(
        json(
          'PUT',
          '/meshes/pmesh/secrets/ca-2-cert',
          secret('pmesh', 'ca-2-cert', b64(ca.certPem), { labels: { ok: 'yes' } }),
        ),
      );
      assert.equal(same.statusCode, 200, same.body);
      assert.equal(
        Buffer.from((await getJson('/meshes/pmesh/secrets/ca-2-cert')).data, 'base64').toString(),
        ca.certPem,
      );
    });

    it('can be deleted once no backend refers to it', async () => {
      assert.equal((await inject(json('PUT', '/meshes/pmesh', { type: 'Mesh', name: 'pmesh' }))).statusCode, 200);
      assert.equal((await inject(json('DELETE', '/meshes/pmesh/secrets/ca-2-cert'))).statusCode, 200);
      assert.equal((await inject(json('DELETE', '/meshes/pmesh/secrets/ca-2-key'))).statusCode, 200);
    });
  });
});

describe('secret data is encrypted at rest', () => {
  it('the store (SQLite files, PostgreSQL rows) never holds a secret in plaintext or base64', async () => {
    const t = await createTestApp({}, { defaultMesh: false });
    const canary = `meshcp-plaintext-canary-${randomBytes(8).toString('hex')}`;
    const visible = `visible-${randomBytes(4).toString('hex')}`;
    let caKeyPem: string;
    let rows: Buffer | undefined;
    try {
      const put = (o: InjectOptions) => t.app.inject(o);
      assert.equal(
        (
          await put(
            json('PUT', '/meshes/vault', {
              type: 'Mesh',
              name: 'vault',
              labels: { marker: visible },
              mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
            }),
          )
        ).statusCode,
        201,
      );
      assert.equal(
        (await put(json('PUT', '/meshes/vault/secrets/mine', secret('vault', 'mine', b64(canary))))).statusCode,
        201,
      );
      assert.equal(
        (await put(json('PUT', '/global-secrets/gmine', globalSecret('gmine', b64(`${canary}-global`))))).statusCode,
        201,
      );
      // The API still returns the plaintext to an admin.
      assert.equal((await t.app.inject(json('GET', '/meshes/vault/secrets/mine'))).json().data, b64(canary));
      const keySecret = (await t.app.inject(json('GET', '/meshes/vault/secrets/vault.ca-builtin-key-ca-1'))).json();
      caKeyPem = Buffer.from(keySecret.data, 'base64').toString();
      assert.match(caKeyPem, /BEGIN PRIVATE KEY/);
      rows = t.services.store.kind === 'postgres' ? await storedBytes(t) : undefined;
    } finally {
      await t.close(); // closing the database checkpoints the WAL into the main file
    }

    const bytes = rows ?? (await storedBytes(t));
    if (!rows) {
      assert.ok(existsSync(join(t.dataDir, 'meshcp.db')));
      assert.ok(
        !existsSync(join(t.dataDir, 'meshcp.db-wal')) || readFileSync(join(t.dataDir, 'meshcp.db-wal')).length === 0,
        'WAL checkpointed',
      );
    }
    // Positive control: non-secret data is readable in the same bytes, so the check below means something.
    assert.ok(bytes.includes(visible), 'the mesh label is stored in clear');
    for (const needle of [
      canary,
      b64(canary),
      `${canary}-global`,
      b64(`${canary}-global`),
      'BEGIN PRIVATE KEY',
      b64(caKeyPem).slice(0, 40),
    ]) {
      assert.ok(!bytes.includes(needle), `found ${needle.slice(0, 40)} in the database file`);
    }
    const keyBody = caKeyPem.split('\n')[1]!;
    assert.ok(!bytes.includes(keyBody), 'a line of the CA key is in the database file');
  });
});
