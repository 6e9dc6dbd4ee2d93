// A long-lived control plane collects CAs (meshes, rotations): issuance keeps working however many there are, even
// with one signing worker whose signer cache holds 32. Through the API with 80 meshes (each mesh costs ~100 ms of
// RSA key generation for its token signing key, so 1,000 would take minutes); the pool itself is driven with 1,000
// distinct CAs in test/unit/signing-pool.test.ts.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ecdsaRootCa } from '../helpers/ecdsa-ca.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

const MESHES = 80;

describe(`${MESHES} meshes, each with its own provided CA, one signing worker`, () => {
  let t: TestApp;
  const roots = new Map<string, X509Certificate>();
  before(async () => {
    t = await createTestApp({ MESHCP_SIGNING_WORKERS: '1' }, { defaultMesh: false });
    for (let i = 0; i < MESHES; i++) {
      const mesh = `mesh-${i}`;
      const ca = ecdsaRootCa(mesh);
      roots.set(mesh, new X509Certificate(ca.certPem));
      const backend = {
        name: 'ca',
        type: 'provided',
        conf: { cert: { inlineString: ca.certPem }, key: { inlineString: ca.keyPem } },
      };
      const put = await t.app.inject({
        method: 'PUT',
        url: `/meshes/${mesh}`,
        payload: { type: 'Mesh', name: mesh, mtls: { enabledBackend: 'ca', backends: [backend] } },
      });
      assert.equal(put.statusCode, 201, put.body);
      const dp = {
        type: 'Dataplane',
        mesh,
        name: 'dp',
        networking: {
          address: '127.0.0.1',
          inbound: [{ port: 1, servicePort: 2, tags: { 'kuma.io/service': 'web' } }],
        },
      };
      assert.equal(
        (await t.app.inject({ method: 'PUT', url: `/meshes/${mesh}/dataplanes/dp`, payload: dp })).statusCode,
        201,
      );
    }
  });
  after(() => t.close());

  test('issued round-robin, twice over (every signer evicted and reloaded): no error, each by its own CA', async () => {
    const failures: string[] = [];
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < MESHES; i++) {
        const mesh = `mesh-${i}`;
        const res = await t.app.inject({
          method: 'POST',
          url: `/meshes/${mesh}/dataplanes/dp/certificate`,
          payload: {},
        });
        if (res.statusCode !== 200) {
          failures.push(`${mesh}: ${res.statusCode} ${res.body}`);
          continue;
        }
        const leaf = new X509Certificate(res.json().certificate);
        if (!leaf.verify(roots.get(mesh)!.publicKey)) failures.push(`${mesh}: not signed by its CA`);
      }
    }
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failures`);
  });
});
