import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DataplaneTokenService } from '../../src/dataplanes/token-service.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { expectError } from '../helpers/api-assert.js';

const mtlsMesh = {
  type: 'Mesh',
  name: 'default',
  mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] },
};
const dataplane = (service: string) => ({
  type: 'Dataplane',
  mesh: 'default',
  name: 'web-1',
  networking: {
    address: '127.0.0.1',
    inbound: [{ port: 20001, servicePort: 8080, tags: { 'kuma.io/service': service } }],
  },
});

async function put(t: TestApp, body: object, headers: Record<string, string> = {}) {
  return t.app.inject({ method: 'PUT', url: '/meshes/default/dataplanes/web-1', payload: body, headers });
}

async function token(t: TestApp, tags?: Record<string, string[]>): Promise<string> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/tokens/dataplane',
    payload: { name: 'web-1', mesh: 'default', ...(tags ? { tags } : {}) },
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.body;
}

/** Every request a dataplane token can authenticate. */
function ownRequests(auth: Record<string, string>, body: object) {
  return [
    { method: 'POST' as const, url: '/meshes/default/dataplanes/web-1/certificate', headers: auth, payload: {} },
    { method: 'GET' as const, url: '/meshes/default/dataplanes/web-1/trust-bundle', headers: auth },
    { method: 'GET' as const, url: '/meshes/default/dataplanes/web-1', headers: auth },
    { method: 'PUT' as const, url: '/meshes/default/dataplanes/web-1', headers: auth, payload: body },
  ];
}

describe('token tags are checked against the registered Dataplane on every request', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
    assert.equal((await t.app.inject({ method: 'PUT', url: '/meshes/default', payload: mtlsMesh })).statusCode, 200);
  });
  after(() => t.close());

  test('a token for service web gets nothing for a Dataplane an admin registered as backend', async () => {
    assert.equal((await put(t, dataplane('backend'))).statusCode, 201);
    const auth = { authorization: `Bearer ${await token(t, { 'kuma.io/service': ['web'] })}` };
    for (const request of ownRequests(auth, dataplane('web'))) {
      const res = await t.app.inject(request);
      expectError(res, {
        status: 403,
        title: 'Access Denied',
        detail:
          'dataplane contains tag "kuma.io/service" with value "backend" which is not allowed with this token. Allowed values in token are [web] (the Dataplane as registered)',
      });
    }
    const stored = await t.app.inject({ method: 'GET', url: '/meshes/default/dataplanes/web-1' });
    assert.equal(
      stored.json().networking.inbound[0].tags['kuma.io/service'],
      'backend',
      'the refused PUT wrote nothing',
    );
  });

  test('a token tag the Dataplane lacks is named', async () => {
    assert.equal((await put(t, dataplane('web'))).statusCode, 200);
    const auth = { authorization: `Bearer ${await token(t, { 'kuma.io/service': ['web'], version: ['v1'] })}` };
    const res = await t.app.inject(ownRequests(auth, {})[0]);
    expectError(res, {
      status: 403,
      title: 'Access Denied',
      detail: 'dataplane has no tag "version" required by the token (the Dataplane as registered)',
    });
  });

  test('once the Dataplane is web, the same token gets the web identity and nothing else', async () => {
    assert.equal((await put(t, dataplane('web'))).statusCode, 200);
    const auth = { authorization: `Bearer ${await token(t, { 'kuma.io/service': ['web'] })}` };
    const res = await t.app.inject(ownRequests(auth, dataplane('web'))[0]);
    assert.equal(res.statusCode, 200, res.body);
    const uris = new X509Certificate(res.json().certificate).subjectAltName ?? '';
    assert.match(uris, /URI:spiffe:\/\/default\/web\b/);
    assert.doesNotMatch(uris, /backend/);
    for (const request of ownRequests(auth, dataplane('web')).slice(1)) {
      assert.ok([200, 304].includes((await t.app.inject(request)).statusCode), request.url);
    }
    // Admins still change the Dataplane; the token follows it, not the other way round.
    assert.equal((await put(t, dataplane('backend'))).statusCode, 200);
    assert.equal((await t.app.inject(ownRequests(auth, {})[0])).statusCode, 403);
  });

  test('an untagged token keeps Kuma behaviour: it may register any service', async () => {
    const auth = { authorization: `Bearer ${await token(t)}` };
    assert.equal((await put(t, dataplane('anything'), auth)).statusCode, 200);
    assert.equal((await t.app.inject(ownRequests(auth, {})[0])).statusCode, 200);
  });
});

describe('MESHCP_DP_TOKEN_REQUIRE_SERVICE_TAG=true refuses untagged dataplane tokens', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0', MESHCP_DP_TOKEN_REQUIRE_SERVICE_TAG: 'true' });
    assert.equal((await t.app.inject({ method: 'PUT', url: '/meshes/default', payload: mtlsMesh })).statusCode, 200);
    assert.equal((await put(t, dataplane('web'))).statusCode, 201);
  });
  after(() => t.close());

  test('an untagged token is not issued', async () => {
    for (const tags of [undefined, {}, { version: ['v1'] }]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/tokens/dataplane',
        payload: { name: 'web-1', mesh: 'default', tags },
      });
      expectError(res, {
        status: 400,
        title: 'Invalid request',
        params: [
          {
            field: 'tags',
            reason:
              'must bind the token to at least one "kuma.io/service" value (MESHCP_DP_TOKEN_REQUIRE_SERVICE_TAG is true)',
          },
        ],
      });
    }
  });

  test('an untagged token issued earlier (before the setting) authenticates nothing', async () => {
    const lenient = new DataplaneTokenService(t.services.store.resources, t.services.events);
    const auth = { authorization: `Bearer ${await lenient.issue({ name: 'web-1', mesh: 'default' })}` };
    for (const request of ownRequests(auth, dataplane('web'))) {
      const res = await t.app.inject(request);
      assert.equal(res.statusCode, 403, `${request.method} ${request.url}`);
      assert.match(res.json().detail, /no "kuma.io\/service" tag.*MESHCP_DP_TOKEN_REQUIRE_SERVICE_TAG/);
    }
  });

  test('a token bound to the service works', async () => {
    const auth = { authorization: `Bearer ${await token(t, { 'kuma.io/service': ['web'] })}` };
    for (const request of ownRequests(auth, dataplane('web'))) {
      assert.ok([200, 304].includes((await t.app.inject(request)).statusCode), `${request.method} ${request.url}`);
    }
  });
});
