import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/fake-clock.js';

test('a waiting long-poll answers reissue: true when the certificate reaches renewAfter', async () => {
  const clock = new FakeClock();
  const t = await createTestApp({ MESHCP_SIGNING_WORKERS: '0' }, { clock });
  try {
    const mesh = {
      type: 'Mesh',
      name: 'default',
      mtls: {
        enabledBackend: 'ca-1',
        backends: [{ name: 'ca-1', type: 'builtin', dpCert: { rotation: { expiration: '5s' } } }],
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
    const cert = (
      await t.app.inject({
        method: 'POST',
        url: '/meshes/default/dataplanes/web-1/certificate',
        headers: auth,
        payload: {},
      })
    ).json();
    const renewAfter = Date.parse(cert.renewAfter);

    let answeredAt: number | undefined;
    const poll = t.app
      .inject({
        method: 'GET',
        url: '/meshes/default/dataplanes/web-1/trust-bundle?wait=30s',
        headers: { ...auth, 'if-none-match': `"${cert.bundleVersion}"` },
      })
      .finally(() => (answeredAt = clock.now()));
    await clock.waitForTimers();
    await clock.advance(renewAfter - clock.now() - 1);
    assert.equal(answeredAt, undefined, 'not before renewAfter');
    await clock.advance(1_000); // the poll wakes 1 ms past renewAfter
    assert.equal((await poll).statusCode, 200, 'the poll answers instead of waiting out its 30 s');
    assert.equal((await poll).json().reissue, true);
    assert.ok(
      answeredAt! >= renewAfter && answeredAt! <= renewAfter + 1_000,
      'answered at renewal, not at the end of the wait',
    );
  } finally {
    await t.close();
  }
});
