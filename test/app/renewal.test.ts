import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestApp } from '../helpers/app.js';

test('a waiting long-poll answers reissue: true when the certificate reaches renewAfter', async () => {
  const t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' });
  try {
    const mesh = {
      type: 'Mesh',
      name: 'default',
      mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', dpCert: { rotation: { expiration: '5s' } } }] },
    };
    assert.equal((await t.app.inject({ method: 'PUT', url: '/meshes/default', payload: mesh })).statusCode, 200);
    const dp = { type: 'Dataplane', mesh: 'default', name: 'web-1', networking: { address: '127.0.0.1', inbound: [{ port: 20001, tags: { 'kuma.io/service': 'web' } }] } };
    assert.equal((await t.app.inject({ method: 'PUT', url: '/meshes/default/dataplanes/web-1', payload: dp })).statusCode, 201);
    const token = (await t.app.inject({ method: 'POST', url: '/tokens/dataplane', payload: { name: 'web-1', mesh: 'default' } })).body;
    const auth = { authorization: `Bearer ${token}` };
    const cert = (await t.app.inject({ method: 'POST', url: '/meshes/default/dataplanes/web-1/certificate', headers: auth, payload: {} })).json();
    const renewAfter = Date.parse(cert.renewAfter);

    const started = Date.now();
    const poll = await t.app.inject({
      method: 'GET',
      url: '/meshes/default/dataplanes/web-1/trust-bundle?wait=30s',
      headers: { ...auth, 'if-none-match': `"${cert.bundleVersion}"` },
    });
    const answeredAt = Date.now();
    assert.equal(poll.statusCode, 200, 'the poll answers instead of waiting out its 30 s');
    assert.equal(poll.json().reissue, true);
    assert.ok(answeredAt >= renewAfter, 'not before renewAfter');
    assert.ok(answeredAt - started < 10_000, `answered at renewal (${answeredAt - started} ms), not at the end of the wait`);
  } finally {
    await t.close();
  }
});
