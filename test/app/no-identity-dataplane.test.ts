// Kuma 2.14 accepts Dataplanes without a kuma.io/service tag (outbound-only, transparent proxy) and its issuer would
// sign them a certificate with no SPIFFE ID. meshcp stores them too, serves them the trust bundle, and refuses the
// certificate with a 409 that says why.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.js';
import { expectError } from '../helpers/api-assert.js';

const MESH = readFileSync(new URL('../../examples/0-mesh-ca-1.yaml', import.meta.url), 'utf8');
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('a Dataplane without kuma.io/service', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
    const res = await t.app.inject({
      method: 'PUT',
      url: '/meshes/default',
      headers: { ...admin, 'content-type': 'application/yaml' },
      payload: MESH,
    });
    assert.equal(res.statusCode, 200, res.body);
  });
  after(async () => {
    await t.close();
  });

  const cases: Record<string, object> = {
    'outbound-only': { address: '10.0.0.1', outbound: [{ port: 10001, tags: { 'kuma.io/service': 'backend' } }] },
    'transparent-proxy': {
      address: '10.0.0.2',
      transparentProxying: { redirectPortInbound: 15006, redirectPortOutbound: 15001 },
    },
  };
  for (const [name, networking] of Object.entries(cases)) {
    it(`${name}: stored (201), trust bundle served, certificate refused with 409 naming the missing tag`, async () => {
      const put = await t.app.inject({
        method: 'PUT',
        url: `/meshes/default/dataplanes/${name}`,
        headers: admin,
        payload: { type: 'Dataplane', mesh: 'default', name, networking },
      });
      assert.equal(put.statusCode, 201, put.body);
      const bundle = await t.app.inject({
        method: 'GET',
        url: `/meshes/default/dataplanes/${name}/trust-bundle`,
        headers: admin,
      });
      assert.equal(bundle.statusCode, 200, bundle.body);
      assert.match((bundle.json() as { caBundle: string }).caBundle, /BEGIN CERTIFICATE/);
      const cert = await t.app.inject({
        method: 'POST',
        url: `/meshes/default/dataplanes/${name}/certificate`,
        headers: admin,
        payload: {},
      });
      const body = expectError(cert, { status: 409, title: 'Could not issue a certificate' });
      assert.match(String(body.detail), /has no "kuma\.io\/service" tag, so its certificate would carry no identity/);
      // Nothing was recorded as issued: the dataplane holds no certificate from any backend.
      const overview = (
        await t.app.inject({ method: 'GET', url: `/meshes/default/dataplanes/${name}/_overview`, headers: admin })
      ).json();
      assert.doesNotMatch(JSON.stringify(overview), /issuedBackend/);
    });
  }
});
