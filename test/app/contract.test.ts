import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import type { z } from 'zod';
import {
  DataplaneOverviewSchema,
  ErrorBodySchema,
  IssuedCertificateSchema,
  MeshInsightSchema,
  RotationStatusSchema,
  TrustBundleSchema,
} from '../../src/contract/index.js';
import { createTestApp } from '../helpers/app.js';

/** The answer parses with its contract schema, and every top-level field it has is one the contract names. */
function conforms(schema: z.ZodType, body: unknown, what: string): void {
  const parsed = schema.safeParse(body);
  assert.ok(parsed.success, `${what}: ${parsed.success ? '' : parsed.error.message}`);
  assert.deepEqual(
    Object.keys(body as object).sort(),
    Object.keys(parsed.data as object).sort(),
    `${what} has fields the contract does not name`,
  );
}

test('the server answers exactly what src/contract says, which is what meshctl and meshcp-dp read', async () => {
  const t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
  try {
    const mesh = {
      type: 'Mesh',
      name: 'default',
      mtls: {
        enabledBackend: 'ca-1',
        backends: [{ name: 'ca-1', type: 'builtin', conf: { caCert: { RSAbits: 2048 } } }],
      },
    };
    assert.equal((await t.app.inject({ method: 'PUT', url: '/meshes/default', payload: mesh })).statusCode, 200);
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
    const token = (
      await t.app.inject({ method: 'POST', url: '/tokens/dataplane', payload: { name: 'web-1', mesh: 'default' } })
    ).body;
    const auth = { authorization: `Bearer ${token}` };

    const certificate = await t.app.inject({
      method: 'POST',
      url: '/meshes/default/dataplanes/web-1/certificate',
      headers: auth,
      payload: {},
    });
    assert.equal(certificate.statusCode, 200);
    conforms(IssuedCertificateSchema, certificate.json(), 'certificate');

    const bundle = await t.app.inject({
      method: 'GET',
      url: '/meshes/default/dataplanes/web-1/trust-bundle',
      headers: auth,
    });
    assert.equal(bundle.statusCode, 200);
    conforms(TrustBundleSchema, bundle.json(), 'trust bundle');

    const rotation = await t.app.inject({ method: 'GET', url: '/meshes/default/ca-rotation' });
    conforms(RotationStatusSchema, rotation.json(), 'ca-rotation');
    conforms(
      MeshInsightSchema,
      (await t.app.inject({ method: 'GET', url: '/mesh-insights/default' })).json(),
      'mesh insight',
    );
    conforms(
      DataplaneOverviewSchema,
      (await t.app.inject({ method: 'GET', url: '/meshes/default/dataplanes/web-1/_overview' })).json(),
      'overview',
    );

    const refused = await t.app.inject({
      method: 'PUT',
      url: '/meshes/default/dataplanes/web-2',
      payload: { ...dp, name: 'web-3' },
    });
    assert.equal(refused.statusCode, 400);
    conforms(ErrorBodySchema, refused.json(), 'error');
  } finally {
    await t.close();
    rmSync(t.dataDir, { recursive: true, force: true });
  }
});

test('the OpenAPI document describes the certificate, trust-bundle, ca-rotation and insight answers', async () => {
  const t = await createTestApp({}, { defaultMesh: false });
  try {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const answer = (path: string, method: string) =>
      doc.paths[path][method].responses['200'].content?.['application/json']?.schema;
    assert.deepEqual(
      Object.keys(answer('/meshes/{mesh}/dataplanes/{name}/certificate', 'post').properties).sort(),
      Object.keys(IssuedCertificateSchema.shape).sort(),
    );
    assert.deepEqual(
      Object.keys(answer('/meshes/{mesh}/dataplanes/{name}/trust-bundle', 'get').properties).sort(),
      Object.keys(TrustBundleSchema.shape).sort(),
    );
    assert.deepEqual(
      Object.keys(answer('/meshes/{mesh}/ca-rotation', 'get').properties).sort(),
      Object.keys(RotationStatusSchema.shape).sort(),
    );
    assert.deepEqual(
      Object.keys(answer('/mesh-insights/{mesh}', 'get').properties).sort(),
      Object.keys(MeshInsightSchema.shape).sort(),
    );
  } finally {
    await t.close();
    rmSync(t.dataDir, { recursive: true, force: true });
  }
});
