import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  MAX_DATAPLANE_INBOUNDS,
  MAX_DATAPLANE_URI_SAN_BYTES,
  MAX_DATAPLANE_URI_SANS,
} from '../../src/resources/dataplane-limits.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { expectError } from '../helpers/api-assert.js';

const mtlsMesh = {
  type: 'Mesh',
  name: 'default',
  mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
};
type Tags = Record<string, string>;
const dataplane = (inbounds: Tags[]) => ({
  type: 'Dataplane',
  mesh: 'default',
  name: 'big',
  networking: {
    address: '127.0.0.1',
    inbound: inbounds.map((tags, i) => ({ port: 1000 + i, servicePort: 30000 + i, tags })),
  },
});

describe('what one Dataplane can put into its certificate is capped', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
    assert.equal((await t.app.inject({ method: 'PUT', url: '/meshes/default', payload: mtlsMesh })).statusCode, 200);
  });
  after(() => t.close());

  const put = (body: object) => t.app.inject({ method: 'PUT', url: '/meshes/default/dataplanes/big', payload: body });
  const notStored = async () =>
    assert.equal((await t.app.inject({ method: 'GET', url: '/meshes/default/dataplanes/big' })).statusCode, 404);

  // 9,000 inbounds (an 890 KB certificate before the cap) no longer get past the body bounds; 1,000 do.
  test('1,000 inbounds are a 400 naming the limit', async () => {
    const inbounds = Array.from({ length: 1000 }, (_, i) => ({ 'kuma.io/service': `svc-${i}`, version: `v${i}` }));
    expectError(await put(dataplane(inbounds)), {
      status: 400,
      title: 'Could not process a resource',
      detail: 'Resource is not valid',
      params: [
        { field: 'networking.inbound', reason: `has 1000 inbounds; at most ${MAX_DATAPLANE_INBOUNDS} are allowed` },
      ],
    });
    await notStored();
  });

  test('inbounds within the count but too many distinct tag values: a 400 on the URI SAN count', async () => {
    const inbounds = Array.from({ length: MAX_DATAPLANE_INBOUNDS }, (_, i) => ({
      'kuma.io/service': `svc-${i}`,
      version: `v${i}`,
    }));
    expectError(await put(dataplane(inbounds)), {
      status: 400,
      title: 'Could not process a resource',
      params: [
        {
          field: 'networking',
          reason: `its services and tags give 192 URI SANs in the certificate; at most ${MAX_DATAPLANE_URI_SANS} are allowed`,
        },
      ],
    });
    await notStored();
  });

  test('one huge tag value: a 400 on the URI SAN bytes', async () => {
    const service = 's'.repeat(9000);
    const res = await put(dataplane([{ 'kuma.io/service': service }]));
    const bytes = `spiffe://default/${service}`.length + `kuma://kuma.io/service/${service}`.length;
    expectError(res, {
      status: 400,
      title: 'Could not process a resource',
      params: [
        {
          field: 'networking',
          reason: `its services and tags give ${bytes} bytes of URI SANs in the certificate; at most ${MAX_DATAPLANE_URI_SAN_BYTES} are allowed`,
        },
      ],
    });
    await notStored();
  });

  test('a Dataplane at the limits is stored and gets its certificate', async () => {
    // 64 inbounds, 63 services + the service tag values + one shared version tag = 127 SANs.
    const inbounds = Array.from({ length: MAX_DATAPLANE_INBOUNDS }, (_, i) => ({
      'kuma.io/service': `svc-${i % 63}`,
      version: 'v1',
    }));
    assert.equal((await put(dataplane(inbounds))).statusCode, 201);
    const res = await t.app.inject({ method: 'POST', url: '/meshes/default/dataplanes/big/certificate', payload: {} });
    assert.equal(res.statusCode, 200, res.body);
    const sans = (new X509Certificate(res.json().certificate).subjectAltName ?? '').split(', ');
    assert.equal(sans.length, 127);
  });

  test('a Dataplane stored before the caps gets a 409, not an oversized certificate', async () => {
    const inbounds = Array.from({ length: 200 }, (_, i) => ({ 'kuma.io/service': `svc-${i}` }));
    const big = dataplane(inbounds);
    await t.services.store.resources.upsert('Dataplane', 'default', 'big', big, {});
    const res = await t.app.inject({ method: 'POST', url: '/meshes/default/dataplanes/big/certificate', payload: {} });
    expectError(res, {
      status: 409,
      title: 'Could not issue a certificate',
      detail: `the Dataplane is too large for a certificate: its services and tags give 400 URI SANs in the certificate; at most ${MAX_DATAPLANE_URI_SANS} are allowed`,
    });
  });
});
