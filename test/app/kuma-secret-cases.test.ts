// Kuma 2.14.3's secret validator cases (pkg/core/secrets/manager/validator_test.go, as data in
// test/fixtures/kuma-2.14/provided-ca-validator.yaml) replayed through the HTTP API: deleting a secret that a mesh's
// mTLS backend reads is a 400 in Kuma's words; any other secret goes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.js';
import { b64, expectError } from '../helpers/api-assert.js';
import { OpensslWorkspace } from '../helpers/openssl.js';

interface SecretCase {
  name: string;
  mtls?: { enabledBackend: string; backends: object[] };
  secret?: string;
  violations?: { field: string; message: string }[];
  skip?: string;
}
const cases = (
  parseYaml(readFileSync(new URL('../fixtures/kuma-2.14/provided-ca-validator.yaml', import.meta.url), 'utf8')) as {
    secretInUse: SecretCase[];
  }
).secretInUse;
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('Kuma 2.14.3 secret validator: a secret in use by an mTLS backend cannot be deleted', () => {
  const openssl = new OpensslWorkspace();
  let ca: { certPem: string; keyPem: string };
  before(async () => {
    ca = await openssl.ca({ cn: 'my-ca' });
  });
  after(() => openssl.remove());

  for (const c of cases) {
    it(c.name, { skip: c.skip }, async () => {
      const t: TestApp = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
      try {
        const put = (url: string, payload: object) => t.app.inject({ method: 'PUT', url, headers: admin, payload });
        for (const [name, pem] of [
          ['my-ca-cert', ca.certPem],
          ['my-ca-key', ca.keyPem],
          ['some-not-used-secret', 'x'],
        ]) {
          assert.equal(
            (await put(`/meshes/default/secrets/${name}`, { type: 'Secret', mesh: 'default', name, data: b64(pem!) }))
              .statusCode,
            201,
          );
        }
        const mesh = await put('/meshes/default', { type: 'Mesh', name: 'default', mtls: c.mtls });
        assert.equal(mesh.statusCode, 200, mesh.body);
        const res = await t.app.inject({
          method: 'DELETE',
          url: `/meshes/default/secrets/${c.secret}`,
          headers: admin,
        });
        if (c.violations!.length === 0) {
          assert.equal(res.statusCode, 200, res.body);
          return;
        }
        expectError(res, {
          status: 400,
          title: 'Could not delete a resource',
          detail: 'Resource is not valid',
          params: c.violations!.map((v) => ({ field: v.field, reason: v.message })),
        });
        assert.equal(
          (await t.app.inject({ method: 'GET', url: `/meshes/default/secrets/${c.secret}`, headers: admin }))
            .statusCode,
          200,
          'still there',
        );
      } finally {
        await t.close();
      }
    });
  }
});
